# tests/e2e/plumbing.sh: the placeholder run (no product binaries). Sourced by run.sh.
# Three guests boot in parallel; each guest's /e2e/guest.sh talks on the product channel
# org.avma.kvp.0 with busybox only, the host side is socat as the test user.
#   pa: first probes the port while the host side is NOT connected (guest-probe hostabsent,
#       ebusy), then writes HELLO (blocks until the host connects) and waits for the reply
#   pb, pc: write HELLO as soon as the port exists (the host is already connected: this measures
#       domain start -> first byte on the host socket), then wait for the reply

PLUMB_DOMS=(pa pb pc)

write_hello_script() { # FILE PROBE(0|1)
  cat >"$1" <<EOF
P=/dev/virtio-ports/$E2E_CHANNEL
up() { cut -d' ' -f1 /proc/uptime; }
[ -e \$P ] || { echo "E2E-FAIL no port \$P"; exit 1; }
if [ $2 = 1 ]; then
  guest-probe hostabsent \$P 1000
  guest-probe ebusy \$P
  echo "E2E-PROBE-DONE uptime=\$(up)"
fi
exec 3<>\$P
echo "E2E-WRITING uptime=\$(up)"
echo "HELLO \$(hostname) \$(up)" >&3
echo "E2E-WROTE uptime=\$(up)"
n=0
while :; do
  if read -r -t 2 reply <&3; then echo "E2E-REPLY \$reply uptime=\$(up)"; break; fi
  n=\$((n + 1)); [ \$n -ge 150 ] && { echo "E2E-FAIL no reply"; break; }
  sleep 0.2
done
exec 3>&-
EOF
}

# host side of one guest: connect right after start, read the first line, reply.
# Prints "FIRSTBYTE <secs since start> <line>" and "REPLIED <nonce>" (runs in a subshell).
host_hello() { # NAME START_TIME WAIT_FOR_CONSOLE_REGEX
  local name=$1 t0=$2 waitre=${3:-} line nonce
  if [[ -n $waitre ]]; then
    e2e_wait_for 90 0.2 e2e_console_has "$name" "$waitre" || { echo "NOCONSOLE $waitre"; return 1; }
    echo "CONNECT $(e2e_since "$t0")"
  fi
  e2e_wait_for 30 0.1 e2e_channel_path "$name" >/dev/null || { echo "NOPATH"; return 1; }
  e2e_chan_open "$name" "$E2E_CHANNEL" || { echo "NOCONNECT"; return 1; }
  if IFS= read -r -t 90 line <&"$E2E_CHAN_IN"; then
    echo "FIRSTBYTE $(e2e_since "$t0") $line"
    nonce=n$RANDOM$RANDOM
    printf 'REPLY %s\n' "$nonce" >&"$E2E_CHAN_OUT"
    echo "REPLIED $nonce"
    sleep 1 # keep the connection until the guest has read the reply
  else
    echo "NOBYTE"
  fi
  e2e_chan_close
}

plumbing_main() {
  local t0=$EPOCHREALTIME d
  e2e_build_base_initramfs "$E2E_IMG/base.cpio"
  timing "base initramfs build" "$(e2e_since "$t0")s ($(($(stat -c %s "$E2E_IMG/base.cpio") / 1024)) KiB, kernel $E2E_KVER)"
  t0=$EPOCHREALTIME
  e2e_prepare_kernel "$E2E_IMG"
  timing "kernel for PVH boot" "$(e2e_since "$t0")s ($E2E_KERNEL)"
  write_hello_script "$E2E_IMG/hello-probe.sh" 1
  write_hello_script "$E2E_IMG/hello.sh" 0
  e2e_guest_initramfs "$E2E_IMG/pa.cpio" "$E2E_IMG/base.cpio" "$E2E_IMG/hello-probe.sh"
  e2e_guest_initramfs "$E2E_IMG/pb.cpio" "$E2E_IMG/base.cpio" "$E2E_IMG/hello.sh"
  e2e_guest_initramfs "$E2E_IMG/pc.cpio" "$E2E_IMG/base.cpio" "$E2E_IMG/hello.sh"
  for d in "${PLUMB_DOMS[@]}"; do
    e2e_define "$d" "$E2E_IMG/$d.cpio"
    e2e_add_channel_fallback "$d" || e2e_die "channel fallback $d"
  done
  # boot all three in parallel; host sides connect as soon as the socket exists
  t0=$EPOCHREALTIME
  for d in "${PLUMB_DOMS[@]}"; do
    (
      ts=$EPOCHREALTIME
      e2e_start "$d" || { echo "STARTFAIL" >"$E2E_WORK/$d.host"; exit 1; }
      echo "STARTED $(e2e_since "$ts")" >"$E2E_WORK/$d.host"
      if [[ $d == pa ]]; then
        host_hello "$d" "$ts" '^E2E-PROBE-DONE' >>"$E2E_WORK/$d.host" 2>&1
      else
        host_hello "$d" "$ts" >>"$E2E_WORK/$d.host" 2>&1
      fi
    ) &
    E2E_BG_PIDS+=($!)
  done
  # host-observed "ports ready" from the console logs
  local -A ready=()
  e2e_wait_for 120 0.1 all_ports_seen "$t0"
  wait "${E2E_BG_PIDS[@]}" 2>/dev/null
  E2E_BG_PIDS=()
  for d in "${PLUMB_DOMS[@]}"; do e2e_log "$d host side: $(tr '\n' '|' <"$E2E_WORK/$d.host")"; done
  timing "3 parallel boots: start -> all E2E-READY" "$(e2e_since "$t0")s"

  maybe_run boot_and_ports
  maybe_run hello_roundtrip
  maybe_run port_facts_host_absent
  maybe_run port_second_open_ebusy
  maybe_run write_blocks_until_host_connects
  maybe_run guest_exec
  maybe_run restart_new_socket_path
  maybe_run save_restore
  maybe_run libvirtd_restart
  maybe_run cleanup_state
}

declare -A PLUMB_READY=()
all_ports_seen() { # record when each console shows E2E-READY (host clock)
  local d t0=$1 n=0
  for d in "${PLUMB_DOMS[@]}"; do
    if [[ -z ${PLUMB_READY[$d]:-} ]] && e2e_console_has "$d" '^E2E-READY'; then
      PLUMB_READY[$d]=$(e2e_since "$t0")
    fi
    [[ -n ${PLUMB_READY[$d]:-} ]] && n=$((n + 1))
  done
  ((n == ${#PLUMB_DOMS[@]}))
}

guest_uptime_of() { # NAME REGEX-PREFIX: the uptime= value on the first matching console line
  e2e_console "$1" | grep -a -m1 -E "$2" | sed -n 's/.*uptime=\([0-9.]*\).*/\1/p'
}

scenario_boot_and_ports() {
  local d bad=
  for d in "${PLUMB_DOMS[@]}"; do
    e2e_console_has "$d" "^E2E-PORTS .*$E2E_CHANNEL" && e2e_console_has "$d" "^E2E-PORTS .*$E2E_CTL_CHANNEL" ||
      bad+="$d "
    e2e_console_has "$d" '^E2E-ERROR' && bad+="$d(insmod) "
    timing "$d: start -> E2E-READY seen on host" "${PLUMB_READY[$d]:-never}s (guest uptime at ports: $(guest_uptime_of "$d" '^E2E-PORTS')s)"
  done
  [[ -z $bad ]] && pass "modules loaded, both ports named and linked in all guests" ||
    fail "ports missing in: $bad"
}

scenario_hello_roundtrip() {
  local d bad= fb nonce
  for d in pb pc pa; do
    fb=$(grep -m1 '^FIRSTBYTE' "$E2E_WORK/$d.host")
    nonce=$(sed -n 's/^REPLIED //p' "$E2E_WORK/$d.host")
    [[ $fb == *"HELLO e2e-guest"* ]] || { bad+="$d:no-hello "; continue; }
    [[ $d != pa ]] && timing "$d: domain start -> first byte on host socket" "$(awk '{print $2}' <<<"$fb")s"
    e2e_wait_for 10 0.2 e2e_console_has "$d" "^E2E-REPLY REPLY $nonce" || bad+="$d:no-reply "
  done
  [[ -z $bad ]] && pass "guest->host HELLO and host->guest REPLY over $E2E_CHANNEL in pa pb pc" ||
    fail "$bad"
}

scenario_port_facts_host_absent() {
  local c
  c=$(e2e_console pa | grep -a '^E2E-PROBE' | tr '\n' ';')
  e2e_log "pa probes: $c"
  local ok=1 why=
  [[ $c == *"nonblock-write rc=-1 err=EAGAIN"* ]] || { ok=0; why+="nonblocking write not EAGAIN; "; }
  [[ $c =~ block-write\ rc=-1\ err=EINTR\ after_ms=(9[0-9][0-9]|1[0-9][0-9][0-9]) ]] || { ok=0; why+="blocking write did not block ~1 s; "; }
  [[ $c == *"nonblock-read rc=0 "* ]] || { ok=0; why+="read with host absent did not return 0; "; }
  [[ $c =~ pollhup=([0-9]+) ]] && ((BASH_REMATCH[1] > 100)) || { ok=0; why+="POLLHUP not continuous; "; }
  ((ok)) && pass "host absent: nonblocking write EAGAIN, blocking write blocks, read()=0, POLLHUP continuous ($(grep -o 'poll-1000ms[^;]*' <<<"$c"))" ||
    fail "$why ($c)"
}

scenario_port_second_open_ebusy() {
  if e2e_console pa | grep -aq '^E2E-PROBE first-open OK second-open EBUSY'; then
    pass "second open of an open port: EBUSY"
  else
    fail "$(e2e_console pa | grep -a 'first-open')"
  fi
}

scenario_write_blocks_until_host_connects() {
  # pa wrote HELLO while the host was absent; it must arrive when the host connects, and
  # E2E-WROTE must come only after the host connected.
  local connect wrote_up writing_up
  connect=$(sed -n 's/^CONNECT //p' "$E2E_WORK/pa.host")
  writing_up=$(guest_uptime_of pa '^E2E-WRITING')
  wrote_up=$(guest_uptime_of pa '^E2E-WROTE')
  if grep -q '^FIRSTBYTE.*HELLO' "$E2E_WORK/pa.host" && [[ -n $writing_up && -n $wrote_up ]]; then
    pass "write issued at guest uptime ${writing_up}s returned at ${wrote_up}s, after the host connected (host connected ${connect}s after start), and was delivered"
  else
    fail "pa host side: $(tr '\n' '|' <"$E2E_WORK/pa.host")"
  fi
}

scenario_guest_exec() {
  local out rc t0=$EPOCHREALTIME
  out=$(e2e_guest_exec pa 20 'uname -r; echo out-ok; echo err-ok >&2')
  rc=$?
  timing "guest_exec round trip (pa)" "$(e2e_since "$t0")s"
  e2e_guest_exec pa 20 'exit 7' >/dev/null
  local rc7=$?
  # the exec keeps working when the command leaves a background process holding stdout
  e2e_guest_exec pa 20 'sleep 30 & echo bg' >/dev/null
  local rcbg=$?
  if ((rc == 0 && rc7 == 7 && rcbg == 0)) && [[ $out == *"$E2E_KVER"* && $out == *out-ok* && $out == *err-ok* ]]; then
    pass "ran commands in the guest over $E2E_CTL_CHANNEL (output, stderr, exit status, background)"
  else
    fail "rc=$rc rc7=$rc7 rcbg=$rcbg out=$out"
  fi
}

scenario_restart_new_socket_path() {
  local p1 p2 t0 mark
  p1=$(e2e_channel_path pc) || { fail "no path"; return; }
  e2e_destroy pc
  mark=$(e2e_console_mark pc)
  t0=$EPOCHREALTIME
  e2e_start pc || { fail "start"; return; }
  p2=$(e2e_channel_path pc)
  host_hello pc "$t0" >"$E2E_WORK/pc.host2" 2>&1
  local fb
  fb=$(sed -n 's/^FIRSTBYTE \([0-9.]*\).*/\1/p' "$E2E_WORK/pc.host2")
  timing "pc restart alone: start -> first byte" "${fb:-never}s"
  if [[ -n $fb && -n $p2 && $p1 != "$p2" ]]; then
    pass "socket path changed ($(basename "$(dirname "$p1")") -> $(basename "$(dirname "$p2")")), hello served again"
  else
    fail "p1=$p1 p2=$p2 host: $(tr '\n' '|' <"$E2E_WORK/pc.host2")"
  fi
}

scenario_save_restore() {
  local f=$E2E_WORK/pb.save t0 out
  t0=$EPOCHREALTIME
  e2e_virsh save pb "$f" >/dev/null || { fail "save"; return; }
  timing "virsh save (256 MiB, TCG)" "$(e2e_since "$t0")s ($(($(stat -c %s "$f") / 1048576)) MiB)"
  t0=$EPOCHREALTIME
  e2e_virsh restore "$f" >/dev/null || { fail "restore"; return; }
  timing "virsh restore" "$(e2e_since "$t0")s"
  out=$(e2e_guest_exec pb 20 'cat /proc/uptime')
  rm -f "$f"
  [[ -n $out ]] && pass "save/restore; guest answers on the control channel afterwards (uptime $out)" ||
    fail "no answer after restore"
}

scenario_libvirtd_restart() {
  local t0=$EPOCHREALTIME out old=$E2E_LIBVIRTD_PID
  [[ $(ps -o comm= -p "$old") == libvirtd ]] || { fail "E2E_LIBVIRTD_PID $old is not libvirtd"; return; }
  e2e_libvirtd_stop TERM
  e2e_pid_gone "$old" || { fail "libvirtd $old still running"; return; }
  e2e_libvirtd_start
  timing "libvirtd stop+start" "$(e2e_since "$t0")s"
  local running
  running=$(e2e_virsh list --name | sort | tr '\n' ' ')
  out=$(e2e_guest_exec pa 20 'echo alive')
  if [[ $running == "pa pb pc " && $out == alive && $(ps -o comm= -p "$E2E_LIBVIRTD_PID") == libvirtd ]]; then
    pass "guests survive a libvirtd restart; live XML and channels usable afterwards"
  else
    fail "running='$running' exec='$out'"
  fi
}

scenario_cleanup_state() {
  # the harness' own hygiene: only this user's processes, none of them spinning
  local n
  n=$(e2e_user_pids | wc -l)
  pass "$n processes of $E2E_USER (libvirtd, virtlogd, qemu x3); cleanup kills them by PID"
}
