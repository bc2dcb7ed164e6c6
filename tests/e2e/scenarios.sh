# tests/e2e/scenarios.sh: the real scenarios (issue 12), against the product's CLIs. Sourced by
# run.sh in --real mode. Guests and the host agent are shared across scenarios, in this order:
#
#   setup        guests ga (2022 Standard), gb (2012 R2 Datacenter), gc (2025 Datacenter),
#                gd (2022 Standard, first started during the libvirtd restart); channel added
#                with `avma-host channel add` (fallback: e2e_add_channel_fallback); licence
#                2022 Datacenter activated; ga gb gc boot in parallel, avma-hostd NOT running
#   the minute without host agent: guestd CPU time, Invalid Host without an answer, a second
#                avma-guestd on the same port
#   avma-hostd starts: guests already running are served (Success, Success, Denied), 12310
#                records, metadata, ato exit codes, renewal over the port, licence not activated,
#                avma-hostd stopped and started, five stop/start cycles, save/restore, libvirtd
#                restart with a VM started meanwhile
# Guest side: the initramfs runs `avma-guest ipk KEY`, then avma-guestd with a short-timing
# guest.conf, then prints `avma-guest events --json` to the console whenever it changes
# ("E2E-EVENTS <json>"). The harness asks guests through the test control channel
# (e2e_guest_exec) and the host through `avma-host events --json`.

GUEST_STATE=/var/lib/avma-guest
GUEST_CONF=/etc/avma/guest.conf
NS=http://avma.invalid/xmlns/activation/1
KEY_2022_STD=YDFWN-MJ9JR-3DYRK-FXXRW-78VHK
KEY_2012R2_DC=Y4TGP-NPTV9-HTC2H-7MGQ3-DV4TW
KEY_2025_DC=YQB4H-NKHHJ-Q6K4R-4VMY6-VCH67
E2E_CPU_MAX_TICKS=${E2E_CPU_MAX_TICKS:-100} # guestd CPU over the absent minute (1 s at HZ=100)
E2E_ABSENT_S=${E2E_ABSENT_S:-60}
REQUEST_TIMEOUT=5 RENEW_INTERVAL=20 RETRY_INITIAL=2 RETRY_MAX=10
# "within seconds" once the host agent appears: the guest's retry backoff is at most retry_max
# (or presence_interval when it watches the port), plus one request.
SERVE_WITHIN=$((RETRY_MAX + REQUEST_TIMEOUT + 5))

# ---- host side ---------------------------------------------------------------------------------
BIN= HSTATE= HCONF= HOSTD_PID=
# The agents get libvirtd's socket explicitly: plain qemu:///session would autostart a private
# libvirtd (with --timeout) on every reconnect attempt, so the harness could never take libvirtd
# away (host-libvirt-notes.md). Set in real_main once the runtime directory exists.
HOST_URI=
host_cli() { e2e_as_user "$BIN/avma-host" --connect "$HOST_URI" --state-dir "$HSTATE" --config "$HCONF" "$@"; }
hostd_start() {
  local n=${HOSTD_STARTS:-0}
  HOSTD_STARTS=$((n + 1))
  local args=() d p
  # E2E_HOSTD_STATIC=1: hand avma-hostd the running domains' sockets with --channel (for trying
  # the guest side before libvirt discovery works; restarts then cannot be served)
  if [[ ${E2E_HOSTD_STATIC:-0} == 1 ]]; then
    for d in $(e2e_virsh list --name); do
      p=$(e2e_channel_path "$d") && args+=(--channel "$d=$p")
    done
  fi
  echo "=== avma-hostd start #$HOSTD_STARTS at $(date -u +%T.%N) ${args[*]}" >>"$E2E_WORK/log/hostd.log"
  local argv
  e2e_user_argv argv "$BIN/avma-hostd" --connect "$HOST_URI" --state-dir "$HSTATE" --config "$HCONF" -v "${args[@]}"
  "${argv[@]}" >>"$E2E_WORK/log/hostd.log" 2>&1 &
  HOSTD_PID=$!
  E2E_BG_PIDS+=("$HOSTD_PID")
  sleep 0.5
  kill -0 "$HOSTD_PID" 2>/dev/null
}
hostd_stop() {
  [[ -n $HOSTD_PID ]] || return 0
  kill -TERM "$HOSTD_PID" 2>/dev/null
  e2e_wait_for 10 0.1 e2e_pid_gone "$HOSTD_PID" || kill -KILL "$HOSTD_PID" 2>/dev/null
  wait "$HOSTD_PID" 2>/dev/null
  HOSTD_PID=
}
hostd_alive() { [[ -n $HOSTD_PID ]] && kill -0 "$HOSTD_PID" 2>/dev/null; }
# need_hostd: fail the scenario at once when the host agent is not running
need_hostd() {
  hostd_alive && return 0
  fail "avma-hostd is not running ($(grep -v '^===' "$E2E_WORK/log/hostd.log" 2>/dev/null | tail -1))"
  return 1
}
host_events() { host_cli events --json 2>>"$E2E_WORK/log/host-cli.err"; }
# host_count VM NOTIFICATION [SINCE_EPOCH]: 12310 records for VM with NOTIFICATION
host_count() {
  host_events | jq --arg vm "$1" --arg n "$2" --argjson since "${3:-0}" \
    '[.[] | select(.vm == $vm and .notification == $n and ((.time | sub("\\.[0-9]+";"") | fromdateiso8601? // 0) >= $since))] | length' 2>/dev/null || echo 0
}
host_last() { host_events | jq -c --arg vm "$1" '[.[] | select(.vm == $vm)] | last // empty' 2>/dev/null; }
licence() { host_cli license set --version 2022 --edition Datacenter --activated "$1" >>"$E2E_WORK/log/host-cli.log" 2>&1; }

# ---- guest side --------------------------------------------------------------------------------
gcli() { # gcli DOM TIMEOUT ARGS...: avma-guest in the guest
  local d=$1 t=$2
  shift 2
  e2e_guest_exec "$d" "$t" "avma-guest --state-dir $GUEST_STATE --config $GUEST_CONF $*"
}
guest_events() { gcli "$1" 20 events --json 2>/dev/null; }
# guest_count DOM NOTIFICATION: 12309 records with NOTIFICATION in this boot's history
guest_count() { guest_events "$1" | jq --arg n "$2" '[.[] | select(.notification == $n)] | length' 2>/dev/null || echo 0; }
guest_last() { guest_events "$1" | jq -r 'last | .notification // empty' 2>/dev/null; }
guestd_pid() { e2e_guest_exec "$1" 10 'cat /run/e2e-guestd.pid'; }
guest_cpu_ticks() { # DOM: utime+stime of avma-guestd
  e2e_guest_exec "$1" 10 'guest-probe cpu $(cat /run/e2e-guestd.pid)' | sed -n 's/.*ticks=\([0-9]*\).*/\1/p'
}
guest_wait_count_gt() { guest_count_gt "$@"; }
guest_count_gt() { (($(guest_count "$1" "$2") > $3)); }
host_count_gt() { (($(host_count "$1" "$2" "${4:-0}") > $3)); }

write_guest_script() { # FILE
  cat >"$1" <<EOF
export PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME=/root
SD=$GUEST_STATE CF=$GUEST_CONF
up() { cut -d' ' -f1 /proc/uptime; }
mkdir -p \$SD
avma-guest --state-dir \$SD --config \$CF ipk "\$(cat /e2e/key)"; echo "E2E-IPK rc=\$? uptime=\$(up)"
avma-guestd --state-dir \$SD --config \$CF >/dev/console 2>&1 &
echo \$! >/run/e2e-guestd.pid
echo "E2E-GUESTD pid=\$! uptime=\$(up)"
# every decision changes guest.state: print it with the uptime (0.2 s resolution; the host
# takes "request to decision" from E2E-GUESTD to E2E-DECISION), then the events
last= sig= gpid=\$(cat /run/e2e-guestd.pid) n=0
while :; do
  s=\$(md5sum <\$SD/guest.state 2>/dev/null)
  if [ "\$s" != "\$sig" ]; then
    sig=\$s
    nt=\$(sed -n 's/^last_notification=//p' \$SD/guest.state 2>/dev/null)
    [ -n "\$nt" ] && echo "E2E-DECISION uptime=\$(up) \$nt"
    ev=\$(avma-guest --state-dir \$SD --config \$CF events --json 2>/dev/null | tr -d '\n')
    if [ "\$ev" != "\$last" ]; then echo "E2E-EVENTS uptime=\$(up) \$ev"; last=\$ev; fi
  fi
  n=\$((n + 1))
  if [ \$n -ge 15 ]; then
    n=0
    kill -0 \$gpid 2>/dev/null || { echo "E2E-GUESTD-DIED uptime=\$(up)"; sleep 3600; }
  fi
  sleep 0.2
done
EOF
}
write_guest_conf() { # FILE
  cat >"$1" <<EOF
[guest]
journal=no
[timing]
request_timeout=$REQUEST_TIMEOUT
renew_interval=$RENEW_INTERVAL
retry_initial=$RETRY_INITIAL
retry_max=$RETRY_MAX
EOF
}
# The periodic listing at its shortest: a domain that leaves without an event (offline migration)
# is noticed within seconds (migration.sh).
RECONCILE_S=5
write_host_conf() { # FILE
  cat >"$1" <<EOF
[host]
journal=no
${E2E_HOST_CONF_EXTRA:-}
[libvirt]
reconcile_interval=$RECONCILE_S
EOF
}

# e2e_wait_guestd DOM MARK: wait until this boot (console after MARK) started avma-guestd
wait_guestd() { e2e_wait_for "${3:-60}" 0.2 guestd_started "$1" "$2"; }
guestd_started() { e2e_console_since "$1" "$2" | grep -aq '^E2E-GUESTD pid='; }

declare -A MARK=() START_T=()
start_guest() { MARK[$1]=$(e2e_console_mark "$1"); START_T[$1]=$EPOCHREALTIME; e2e_start "$1"; }
# decided DOM NOTIFICATION: this boot's console (after MARK) shows a decision NOTIFICATION
decided() { e2e_console_since "$1" "${MARK[$1]}" | grep -aq "^E2E-DECISION uptime=[0-9.]* $2"; }
# boot_timing DOM NOTIFICATION TIMEOUT_S: wait for this boot's first decision NOTIFICATION; sets
# BT ("VM boot -> first request Xs, request -> decision Ys, total Zs") and BT_TOTAL. Total is
# `virsh start` -> the decision line on the console (host clock, 0.1 s polling); request ->
# decision is guest uptime from avma-guestd's start (it sends its request at once when the host
# side is connected) to the state change; boot -> first request is the difference.
boot_timing() {
  local d=$1 n=$2 c gs dc
  BT= BT_TOTAL=
  e2e_wait_for "$3" 0.1 decided "$d" "$n" || return 1
  BT_TOTAL=$(e2e_since "${START_T[$d]}")
  c=$(e2e_console_since "$d" "${MARK[$d]}")
  gs=$(sed -n 's/^E2E-GUESTD pid=[0-9]* uptime=\([0-9.]*\).*/\1/p' <<<"$c" | head -1)
  dc=$(grep -a "^E2E-DECISION uptime=[0-9.]* $n" <<<"$c" | head -1 | sed 's/^E2E-DECISION uptime=\([0-9.]*\).*/\1/')
  BT=$(awk -v t="$BT_TOTAL" -v g="$gs" -v x="$dc" 'BEGIN{r=x-g; printf "boot->request %.1fs, request->decision %.1fs, total %.1fs", t-r, r, t}')
}

real_main() {
  local t0 d
  for d in avma-hostd avma-host avma-guestd avma-guest; do
    [[ -x $BUILD/$d ]] || e2e_die "missing $BUILD/$d (make build)"
  done
  # binaries readable by the test user, whatever the checkout's permissions
  BIN=$E2E_IMG/bin
  install -d -m 0755 "$BIN"
  install -m 0755 "$BUILD"/avma-{hostd,host,guestd,guest} "$BIN/"
  HSTATE=$E2E_WORK/hstate HCONF=$E2E_WORK/host.conf
  HOST_URI="qemu+unix:///session?socket=$E2E_XDG_RUNTIME/libvirt/libvirt-sock"
  write_host_conf "$HCONF"
  chown "$E2E_UID:$E2E_GID" "$HCONF"

  t0=$EPOCHREALTIME
  e2e_build_base_initramfs "$E2E_IMG/base.cpio" "$BIN/avma-guestd" "$BIN/avma-guest"
  e2e_prepare_kernel "$E2E_IMG"
  write_guest_script "$E2E_IMG/guest.sh"
  write_guest_conf "$E2E_IMG/guest.conf"
  local -A keys=([ga]=$KEY_2022_STD [gb]=$KEY_2012R2_DC [gc]=$KEY_2025_DC [gd]=$KEY_2022_STD)
  for d in ga gb gc gd; do
    printf '%s\n' "${keys[$d]}" >"$E2E_IMG/$d.key"
    e2e_guest_initramfs "$E2E_IMG/$d.cpio" "$E2E_IMG/base.cpio" "$E2E_IMG/guest.sh" \
      "e2e/key=$E2E_IMG/$d.key" "etc/avma/guest.conf=$E2E_IMG/guest.conf"
    e2e_define "$d" "$E2E_IMG/$d.cpio"
  done
  timing "images ($(($(stat -c %s "$E2E_IMG/base.cpio") / 1024)) KiB initramfs) + 4 domains defined" "$(e2e_since "$t0")s"

  run_scenario channel_add
  run_scenario license_set
  # boot ga gb gc in parallel, host agent not running
  t0=$EPOCHREALTIME
  for d in ga gb gc; do start_guest "$d" || e2e_die "start $d"; done
  for d in ga gb gc; do
    wait_guestd "$d" "${MARK[$d]}" || e2e_die "$d: avma-guestd did not start: $(e2e_console_since "$d" "${MARK[$d]}" | tail -5)"
  done
  timing "3 parallel boots: start -> avma-guestd running" "$(e2e_since "$t0")s"
  ABSENT_T0=$EPOCHREALTIME

  maybe_run no_host_agent_invalid_host
  maybe_run second_guestd_same_port
  maybe_run guestd_idle_cpu_without_host # waits out the rest of the minute
  maybe_run served_when_host_agent_starts
  maybe_run host_records_12310
  maybe_run metadata
  maybe_run ato_exit_codes
  maybe_run renewal_over_port
  maybe_run licence_not_activated
  maybe_run hostd_stopped_then_started
  maybe_run stop_start_five_times
  maybe_run save_restore
  maybe_run libvirtd_restart
  migration_main # migration.sh: a second libvirtd and agent, only when its scenarios run
  hostd_alive || e2e_log "note: avma-hostd is not running at the end"
  hostd_stop
  echo "==== logs kept in $E2E_WORK/log (E2E_KEEP=1 keeps them)"
}

scenario_channel_add() {
  local d bad= fb= out
  for d in ga gb gc gd; do
    out=$(host_cli channel add "$d" 2>&1 | head -1)
    if e2e_has_channel "$d" "$E2E_CHANNEL" --inactive; then
      continue
    fi
    bad+="$d: '${out//$'\n'/ }' "
    e2e_add_channel_fallback "$d" && fb+="$d "
  done
  [[ -z $bad ]] && pass "avma-host channel add put $E2E_CHANNEL into the persistent XML of ga gb gc gd" ||
    fail "channel add did not work ($bad); used the fallback for: $fb"
}

scenario_license_set() {
  if licence yes; then
    pass "license set --version 2022 --edition Datacenter --activated yes (no daemon running)"
  else
    fail "license set failed: $(tail -3 "$E2E_WORK/log/host-cli.log")"
  fi
}

scenario_no_host_agent_invalid_host() {
  # nothing is connected to the host side: after request_timeout, Invalid Host
  if e2e_wait_for $((REQUEST_TIMEOUT + 15)) 1 guest_count_gt ga "Invalid Host" 0; then
    pass "ga logged Invalid Host with no host agent ($(guest_count ga "Invalid Host") so far)"
  else
    fail "no Invalid Host in ga's events: $(guest_events ga | jq -c '[.[]|.notification]' 2>/dev/null)"
  fi
}

scenario_second_guestd_same_port() {
  local pid1 out rc alive
  pid1=$(guestd_pid gb)
  # other state dir, so that it gets as far as the port
  out=$(e2e_guest_exec gb 40 "timeout 20 avma-guestd --state-dir /var/lib/avma-guest2 --config $GUEST_CONF 2>&1; echo rc=\$?")
  rc=$(sed -n 's/^rc=//p' <<<"$out" | tail -1)
  alive=$(e2e_guest_exec gb 10 "kill -0 $pid1 && awk '{print \$3}' /proc/$pid1/stat")
  local out2 rc2
  # same state dir as the running daemon
  out2=$(e2e_guest_exec gb 40 "timeout 20 avma-guestd --state-dir $GUEST_STATE --config $GUEST_CONF 2>&1; echo rc=\$?")
  rc2=$(sed -n 's/^rc=//p' <<<"$out2" | tail -1)
  e2e_log "second guestd: rc=$rc out=$(head -3 <<<"$out" | tr '\n' ' ') | same state dir: rc=$rc2 $(head -3 <<<"$out2" | tr '\n' ' ')"
  if [[ -n $rc && $rc != 0 && $rc != 124 ]] && grep -qiE 'busy|in use|already|another' <<<"$out" &&
    [[ $alive == [SR] ]]; then
    pass "second avma-guestd exits $rc: $(grep -iE -m1 'busy|in use|already|another' <<<"$out" | cut -c1-120); first (pid $pid1) unaffected"
  else
    fail "rc=$rc first-alive=$alive out=$(tr '\n' ' ' <<<"$out" | cut -c1-300)"
  fi
}

scenario_guestd_idle_cpu_without_host() {
  local d c0 c1 t0 line= bad= left
  declare -A c0s=()
  for d in ga gb gc; do c0s[$d]=$(guest_cpu_ticks "$d"); done
  t0=$EPOCHREALTIME
  left=$(awk -v a="$ABSENT_T0" -v b="$EPOCHREALTIME" -v t="$E2E_ABSENT_S" 'BEGIN{l=t-(b-a); print (l>20?int(l):20)}')
  e2e_log "waiting ${left}s with no host agent"
  e2e_sleep "$left"
  for d in ga gb gc; do
    c0=${c0s[$d]} c1=$(guest_cpu_ticks "$d")
    [[ -n $c0 && -n $c1 ]] || { bad+="$d:no-sample "; continue; }
    line+="$d $((c1 - c0)) ticks; "
    ((c1 - c0 <= E2E_CPU_MAX_TICKS)) || bad+="$d:$((c1 - c0)) "
  done
  timing "guestd CPU over $(e2e_since "$t0")s without host agent" "$line(max $E2E_CPU_MAX_TICKS)"
  [[ -z $bad ]] && pass "avma-guestd CPU stays near zero without a host agent: $line" ||
    fail "too much CPU or no sample: $bad ($line)"
}

scenario_served_when_host_agent_starts() {
  local t0 d line= bad=
  hostd_start || { fail "avma-hostd exited at once: $(tail -5 "$E2E_WORK/log/hostd.log")"; return; }
  t0=$EPOCHREALTIME
  declare -A done_at=()
  e2e_wait_for $((SERVE_WITHIN + 15)) 0.5 served_all "$t0" done_at
  for d in ga gb gc; do
    line+="$d ${done_at[$d]:-never}s; "
    [[ -n ${done_at[$d]:-} ]] || bad+="$d "
  done
  timing "avma-hostd start -> guests served (booted earlier)" "$line"
  local slow
  slow=$(for d in ga gb gc; do [[ -n ${done_at[$d]:-} ]] && awk -v x="${done_at[$d]}" -v m="$SERVE_WITHIN" 'BEGIN{exit !(x>m)}' && echo "$d"; done)
  if [[ -n $bad ]]; then
    fail "not served: $bad ($line) last: ga=$(guest_last ga) gb=$(guest_last gb) gc=$(guest_last gc)"
  elif [[ -n $slow ]]; then
    fail "served, but later than ${SERVE_WITHIN}s: $line"
  else
    pass "guests booted before avma-hostd: ga Success, gb Success, gc Activation Denied ($line)"
  fi
}
served_all() { # T0 ASSOC-NAME
  local -n at=$2
  local d want
  for d in ga gb gc; do
    [[ -n ${at[$d]:-} ]] && continue
    want="AVMA Success"
    [[ $d == gc ]] && want="Activation Denied"
    (($(guest_count "$d" "$want") > 0)) && at[$d]=$(e2e_since "$1")
  done
  [[ -n ${at[ga]:-} && -n ${at[gb]:-} && -n ${at[gc]:-} ]]
}

scenario_host_records_12310() {
  need_hostd || return 0
  local ev bad= d uuid
  ev=$(host_events)
  jq -e 'type == "array"' <<<"$ev" >/dev/null 2>&1 || { fail "events --json is not a JSON array: $(head -c 200 <<<"$ev")"; return; }
  # oldest first
  jq -e '[.[].time] as $t | $t == ($t | sort)' <<<"$ev" >/dev/null || bad+="not oldest-first; "
  check_record() { # VM NOTIFICATION VERSION-REGEX EDITION LAST5
    local r
    r=$(jq -c --arg vm "$1" --arg n "$2" '[.[] | select(.vm == $vm and .notification == $n)] | last // empty' <<<"$ev")
    [[ -n $r ]] || { bad+="$1: no '$2' record; "; return; }
    uuid=$(e2e_virsh domuuid "$1")
    jq -e --arg u "$uuid" --arg v "$3" --arg e "$4" --arg k "$5" \
      '.event_id == 12310 and .vm_uuid == $u and (.guest_version | tostring | test($v)) and .guest_edition == $e and .key_last5 == $k and (.host_version | tostring | test("2022")) and (.time | length > 0)' \
      <<<"$r" >/dev/null || bad+="$1: unexpected record $r; "
  }
  check_record ga "AVMA Success" '^2022$' Standard 78VHK
  check_record gb "AVMA Success" '^2012 ?R2$' Datacenter DV4TW
  check_record gc "Activation Denied" '^2025$' Datacenter VCH67
  jq -e '[.[] | select(.vm == "gc" and .notification == "Activation Denied")] | last | (.reason | length) > 0' <<<"$ev" >/dev/null ||
    bad+="gc: denial without a reason; "
  [[ -z $bad ]] && pass "12310 records: vm, vm_uuid, versions, editions, key_last5, host_version as expected; oldest first" ||
    fail "$bad"
}

# meta_field DOM FIELD [--config]: a field of the domain's activation metadata
meta_field() {
  e2e_virsh metadata "$1" "$NS" ${3:-} 2>/dev/null | xmllint --xpath "string(/*/$2)" - 2>/dev/null
}
test_meta() { [[ $(meta_field "$1" notification) == "$2" ]]; }
scenario_metadata() {
  need_hostd || return 0
  local d want got gotc uuid bad= line=
  for d in ga gb gc; do
    want="AVMA Success"
    [[ $d == gc ]] && want="Activation Denied"
    got=$(meta_field "$d" notification) gotc=$(meta_field "$d" notification --config)
    line+="$d: $got (config: $gotc, $(meta_field "$d" guest-version) $(meta_field "$d" guest-edition) $(meta_field "$d" partial-key)); "
    [[ $got == "$want" && $gotc == "$want" ]] || bad+="$d: live '$got' config '$gotc', want '$want'; "
  done
  META_GA=$(e2e_virsh metadata ga "$NS" 2>&1)
  [[ -z $bad ]] && pass "virsh metadata DOM $NS (live and --config): $line" || fail "$bad ($line)"
}

scenario_ato_exit_codes() {
  need_hostd || return 0
  local a c
  gcli ga 30 ato >/dev/null; a=$?
  gcli gc 30 ato >/dev/null; c=$?
  ((a == 0 && c == 5)) && pass "avma-guest ato: ga exit 0 (AVMA Success), gc exit 5 (Activation Denied)" ||
    fail "ga ato exit $a (want 0), gc ato exit $c (want 5)"
}

scenario_renewal_over_port() {
  need_hostd || return 0
  # the timer renews every renew_interval (no ato): a new success in the guest and on the host
  local g0 h0 t0=$EPOCHREALTIME
  g0=$(guest_count ga "AVMA Success")
  h0=$(host_count ga "AVMA Success")
  if e2e_wait_for $((RENEW_INTERVAL + REQUEST_TIMEOUT + 10)) 1 guest_count_gt ga "AVMA Success" "$g0" &&
    e2e_wait_for 10 0.5 host_count_gt ga "AVMA Success" "$h0"; then
    timing "renewal seen after" "$(e2e_since "$t0")s (renew_interval $RENEW_INTERVAL)"
    pass "ga renewed over the port: guest successes $g0 -> $(guest_count ga "AVMA Success"), host records $h0 -> $(host_count ga "AVMA Success")"
  else
    fail "no renewal within $((RENEW_INTERVAL + REQUEST_TIMEOUT + 10))s (guest $g0 -> $(guest_count ga "AVMA Success"), host $h0 -> $(host_count ga "AVMA Success"))"
  fi
}

scenario_licence_not_activated() {
  need_hostd || return 0
  local rc h0 g0 r
  licence no || { fail "license set --activated no failed"; return; }
  h0=$(host_count ga "Invalid Host")
  g0=$(guest_count ga "Invalid Host")
  gcli ga 30 ato >/dev/null; rc=$?
  e2e_wait_for 10 0.5 host_count_gt ga "Invalid Host" "$h0"
  r=$(host_last ga)
  local mn
  e2e_wait_for 5 0.5 test_meta ga "Invalid Host"
  mn=$(meta_field ga notification)
  licence yes
  local rc2
  gcli ga 30 ato >/dev/null; rc2=$?
  if ((rc == 3)) && guest_count_gt ga "Invalid Host" "$g0" && [[ $(jq -r .notification <<<"$r") == "Invalid Host" && -n $(jq -r '.reason // empty' <<<"$r") && $mn == "Invalid Host" ]]; then
    pass "licence not activated: guest Invalid Host (ato exit 3), host record reason '$(jq -r .reason <<<"$r")', metadata Invalid Host; activated again: ato exit $rc2"
  else
    fail "ato exit $rc (want 3); last host record $r; metadata '$mn'; after re-activation ato exit $rc2"
  fi
  ((rc2 == 0)) || fail "$E2E_SCEN_REASON; re-activated licence but ato exit $rc2"
}

scenario_hostd_stopped_then_started() {
  need_hostd || return 0
  local rc t0 g0 took
  hostd_stop
  t0=$EPOCHREALTIME
  gcli ga 40 ato >/dev/null; rc=$?
  took=$(e2e_since "$t0")
  timing "ato with avma-hostd stopped" "${took}s, exit $rc (request_timeout $REQUEST_TIMEOUT)"
  [[ $(guest_last ga) == "Invalid Host" ]] || { fail "after stopping avma-hostd, ato exit $rc, last guest event $(guest_last ga)"; hostd_start; return; }
  g0=$(guest_count ga "AVMA Success")
  hostd_start || { fail "avma-hostd did not start again"; return; }
  t0=$EPOCHREALTIME
  if e2e_wait_for $((SERVE_WITHIN + 10)) 0.5 guest_count_gt ga "AVMA Success" "$g0"; then
    timing "avma-hostd restarted -> guest retry succeeded" "$(e2e_since "$t0")s"
    pass "avma-hostd stopped: Invalid Host after ${took}s (ato exit $rc); started again: the retry succeeded after $(e2e_since "$t0")s"
  else
    fail "no AVMA Success within $((SERVE_WITHIN + 10))s of restarting avma-hostd (last: $(guest_last ga))"
  fi
}

scenario_stop_start_five_times() {
  need_hostd || return 0
  local i uuid bad= times= p gu h0
  local -a paths=()
  uuid=$(e2e_virsh domuuid gb)
  h0=$(host_count gb "AVMA Success")
  for i in 1 2 3 4 5; do
    e2e_destroy gb
    start_guest gb || { bad+="start$i "; continue; }
    if boot_timing gb "AVMA Success" 40; then
      timing "gb cycle $i" "$BT"
      times+="$BT_TOTAL "
      p=$(e2e_channel_path gb) && paths+=("$p")
      grep -aqF "gb: serving channel $E2E_CHANNEL at $p" "$E2E_WORK/log/hostd.log" || bad+="cycle$i: hostd did not log serving $p; "
      gu=$(guest_events gb | jq -r '[.[] | select(.notification == "AVMA Success")] | last | .vm_uuid // empty' 2>/dev/null)
      [[ $gu == "$uuid" ]] || bad+="cycle$i: guest's 12309 names vm_uuid '$gu'; "
    else
      bad+="cycle$i: not served ($(e2e_console_since gb "${MARK[gb]}" | grep -a '^E2E-DECISION' | tail -1)); "
      break # not served once: the other cycles would only wait as long again
    fi
  done
  local h1 wrong ndist
  e2e_wait_for 10 0.5 host_count_gt gb "AVMA Success" $((h0 + 4))
  h1=$(host_count gb "AVMA Success")
  ndist=$(printf '%s\n' "${paths[@]}" | sort -u | grep -c .)
  ((ndist == 5)) || bad+="socket paths not 5 distinct: ${paths[*]}; "
  wrong=$(wrong_uuid_records)
  timing "gb start -> AVMA Success, 5 cycles" "${times}s"
  if [[ -z $bad ]] && ((h1 - h0 >= 5)) && [[ -z $wrong ]]; then
    pass "5 stop/start cycles served (start -> Success: ${times}s) on 5 different socket paths (domain-N changes), $((h1 - h0)) new 12310 records; every 12310 record names its domain's UUID"
  else
    fail "problems: ${bad:-none}; new host records $((h1 - h0)); records with a wrong uuid: ${wrong:-none}"
  fi
}
# wrong_uuid_records: 12310 records whose vm_uuid is not the UUID of the domain they name
wrong_uuid_records() {
  local ev d u
  ev=$(host_events)
  for d in ga gb gc gd; do
    u=$(e2e_virsh domuuid "$d")
    jq -r --arg vm "$d" --arg u "$u" '.[] | select(.vm == $vm and .vm_uuid != $u) | "\(.vm)@\(.time)=\(.vm_uuid)"' <<<"$ev"
  done | tr '\n' ' '
  jq -r '.[] | select(.vm == "" or .vm_uuid == "") | "unnamed@\(.time)"' <<<"$ev" | tr '\n' ' '
}

scenario_save_restore() {
  need_hostd || return 0
  local f=$E2E_WORK/ga.save m0 m1 t0 g0 tr
  m0=$(e2e_virsh metadata ga "$NS" 2>/dev/null)
  t0=$EPOCHREALTIME
  e2e_virsh save ga "$f" >/dev/null || { fail "virsh save failed"; return; }
  sleep 2
  e2e_virsh restore "$f" >/dev/null || { fail "virsh restore failed"; return; }
  rm -f "$f"
  timing "virsh save + restore ga" "$(e2e_since "$t0")s"
  tr=$(date +%s)
  m1=$(e2e_virsh metadata ga "$NS" 2>/dev/null)
  g0=$(guest_count ga "AVMA Success")
  local why=
  [[ -n $m0 && $m0 == "$m1" ]] || why+="metadata changed or empty across save/restore: before '$m0' after '$m1'; "
  # (no decision while saved: every record since tr is after the restore; a count taken now
  # could already hold the renewal the guest's count does not show yet)
  if e2e_wait_for $((RENEW_INTERVAL + REQUEST_TIMEOUT + RETRY_MAX + 10)) 1 guest_count_gt ga "AVMA Success" "$g0" &&
    e2e_wait_for 10 0.5 host_count_gt ga "AVMA Success" 0 "$tr"; then
    timing "save -> renewal after restore" "$(e2e_since "$t0")s"
  else
    why+="no renewal after restore (guest successes $g0 -> $(guest_count ga "AVMA Success"); last $(guest_last ga); host records since restore: $(host_count ga "AVMA Success" "$tr")); "
  fi
  [[ -z $why ]] && pass "metadata kept across save/restore; ga renewed afterwards and the host recorded it ($(e2e_since "$t0")s after save)" ||
    fail "$why"
}

hostd_log_since_has() { tail -c +"$(($1 + 1))" "$E2E_WORK/log/hostd.log" | grep -aqE "$2"; }
scenario_libvirtd_restart() {
  local t0 ok=1 why= hl=$E2E_WORK/log/hostd.log off tail order
  hostd_alive || hostd_start
  need_hostd || return 0
  off=$(stat -c %s "$hl")
  t0=$EPOCHREALTIME
  e2e_libvirtd_stop TERM
  # avma-hostd notices, then retries with back-off (0.5, 1, 2, 4 s): libvirtd stays away ~4 s, so
  # gd is started before the agent's next attempt (a VM started during the agent's outage)
  e2e_wait_for 5 0.1 hostd_log_since_has "$off" 'libvirt: connection to .* lost' ||
    why+="no 'connection lost' in hostd.log; "
  e2e_sleep 4
  e2e_libvirtd_start
  start_guest gd || { fail "start gd"; return; }
  timing "libvirtd down ~4 s, up again, gd started" "$(e2e_since "$t0")s"
  hostd_alive || { ok=0; why+="avma-hostd exited when libvirtd went away; "; }
  if boot_timing gd "AVMA Success" $((SERVE_WITHIN + 40)); then
    timing "gd (started during the outage)" "$BT"
  else
    ok=0 why+="gd not served (last: $(guest_last gd)); "
  fi
  e2e_wait_for 10 0.5 host_count_gt gd "AVMA Success" 0 || { ok=0; why+="no 12310 record for gd; "; }
  tail=$(tail -c +"$((off + 1))" "$hl" | grep -av DEBUG)
  grep -aq 'libvirt: reconnected to' <<<"$tail" || { ok=0; why+="no 'reconnected' in hostd.log; "; }
  # which came first in the agent's log: the reconnect or gd's start event?
  order=$(grep -aoE 'libvirt: reconnected to|gd: serving channel' <<<"$tail" | head -1)
  [[ $order == "libvirt: reconnected to" ]] && order="gd found by the re-list after reconnecting" ||
    order="agent had reconnected before gd started"
  [[ $(meta_field gd notification) == "AVMA Success" ]] || { ok=0; why+="gd metadata '$(meta_field gd notification)'; "; }
  local wrong
  wrong=$(wrong_uuid_records)
  [[ -z $wrong ]] || { ok=0; why+="12310 records with a wrong uuid: $wrong; "; }
  ((ok)) && pass "avma-hostd survived libvirtd going away, reconnected ($order) and served gd (guest, 12310, metadata)${why:+; note: $why}" ||
    fail "$why (hostd log: $(grep -av DEBUG "$hl" | tail -3 | tr '\n' ' '))"
}
