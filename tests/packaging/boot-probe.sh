#!/bin/bash
# tests/packaging/boot-probe.sh: runs INSIDE the Debian 12 machine that systemd-boot.sh boots
# (as avma-boot-probe.service, after multi-user.target), with both .debs installed and nothing
# started by hand: systemd started avma-hostd (enabled by the package) and udev started
# avma-guestd (the org.avma.kvp.0 port appeared). It checks how the units really run, then
# drives one activation through both of them and powers the machine off.
#
# Each check prints one line to /dev/ttyS1, which QEMU writes to a file the host reads:
#   PROBE ok NAME detail      PROBE FAIL NAME detail      PROBE info NAME detail
# and the last line is "PROBE end fails=N". The host side also checks that every expected NAME
# was reported, so a probe that dies half-way cannot pass.
#
# Two channels reach avma-hostd:
#  - a real one: the system libvirtd starts a domain (paused: QEMU under TCG inside TCG has
#    nothing to run) whose org.avma.kvp.0 socket libvirt and QEMU create with their real
#    ownership and mode; avma-hostd must find it through libvirt and connect with only its
#    unit's credentials. Nothing answers on the far side, so no activation goes over it.
#  - one that carries an activation: a socket made by socat at libvirt's path with the same
#    ownership and mode (directory libvirt-qemu 0750, socket libvirt-qemu 0775, as the real one
#    shows), whose other end is a second virtio port (org.e2e.relay) that the outer host wires
#    to this machine's own org.avma.kvp.0 port. So a request leaves avma-guestd through a real
#    virtio port, comes back in through another and reaches avma-hostd.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
out=/dev/ttyS1
[[ -w $out ]] || out=/dev/console
fails=0
say() { printf 'PROBE %s\n' "$*" >"$out"; printf 'PROBE %s\n' "$*"; }
ok() { say "ok $*"; }
bad() {
  say "FAIL $*"
  fails=$((fails + 1))
}
info() { say "info $*"; }
# check NAME CMD...: ok when CMD succeeds; its output (first 3 lines) goes with a failure
check() {
  local name=$1 o
  shift
  if o=$("$@" 2>&1); then ok "$name"; else bad "$name $(printf '%s' "$o" | head -3 | tr '\n' ' ')"; fi
}
wait_for() { # wait_for SECONDS CMD...
  local n=$(($1 * 5))
  shift
  while ((n-- > 0)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}
finish() {
  say "end fails=$fails"
  journalctl -b --no-pager -o short-monotonic >/var/log/boot-probe-journal.txt 2>&1
  sync
  systemctl poweroff --no-block
  exit 0
}

HOSTD=avma-hostd.service GUESTD=avma-guestd.service
PORT_UNIT='dev-virtio\x2dports-org.avma.kvp.0.device'
CHAN_DIR=/var/lib/libvirt/qemu/channel/target/domain-1-boot
CHAN_SOCK=$CHAN_DIR/org.avma.kvp.0
KEY=W3GNR-8DDXR-2TFRP-H8P33-DV9BG # 2022 Datacenter AVMA key (brief, key table)

# ---- 1. the boot itself --------------------------------------------------------------------------
state=$(timeout 180 systemctl is-system-running --wait 2>/dev/null)
case $state in
  running) ok "system-running $state" ;;
  *) bad "system-running $state: failed units: $(systemctl --failed --plain --no-legend | awk '{print $1}' | tr '\n' ' ')" ;;
esac
info "uptime $(cut -d' ' -f1 /proc/uptime)"

# ---- 2. avma-hostd: enabled by the package, started by systemd, its credentials ---------------
check hostd-enabled test "$(systemctl is-enabled $HOSTD)" = enabled
check hostd-active systemctl is-active --quiet $HOSTD
# Type=notify: active means the daemon said READY=1; its STATUS= line shows in systemctl status.
for u in hostd:$HOSTD guestd:$GUESTD; do
  st=$(systemctl show -p StatusText --value "${u#*:}")
  [[ $(systemctl show -p Type --value "${u#*:}") == notify && -n $st ]] &&
    ok "${u%%:*}-notify StatusText=$st" || bad "${u%%:*}-notify Type=$(systemctl show -p Type --value "${u#*:}") StatusText=$st"
done
check hostd-wanted-by-libvirtd sh -c "systemctl show -p WantedBy --value $HOSTD | grep -qw libvirtd.service"
# ---- 3. avma-guestd: static, started by udev through the port's device unit -------------------
check guestd-static test "$(systemctl is-enabled $GUESTD)" = static
# udev's SYSTEMD_WANTS: the unit is wanted by the port's device unit (sys-devices-...-vportNpM)
wanted_by=$(systemctl show -p WantedBy --value $GUESTD)
info "guestd-wanted-by $wanted_by; port unit $(systemctl show -p Id,ActiveState --value "$PORT_UNIT" | tr '\n' ' ')"
case " $wanted_by " in
  *vport*.device*) ok "guestd-wanted-by-port" ;;
  *) bad "guestd-wanted-by-port WantedBy=$wanted_by" ;;
esac
check guestd-active systemctl is-active --quiet $GUESTD

# creds NAME UNIT UID STATEDIR: what the kernel says about the unit's main process; sets CRED_PID
creds() {
  local name=$1 unit=$2 want_uid=$3 pid st
  CRED_PID=
  pid=$(systemctl show -p MainPID --value "$unit")
  if [[ -z $pid || $pid == 0 ]]; then
    bad "$name-creds no main process"
    return
  fi
  st=/proc/$pid/status
  local uid nnp seccomp capeff capbnd groups
  uid=$(awk '/^Uid:/{print $2}' "$st")
  nnp=$(awk '/^NoNewPrivs:/{print $2}' "$st")
  seccomp=$(awk '/^Seccomp:/{print $2}' "$st")
  capeff=$(awk '/^CapEff:/{print $2}' "$st")
  capbnd=$(awk '/^CapBnd:/{print $2}' "$st")
  groups=$(awk '/^Groups:/{$1=""; print}' "$st")
  info "$name-status uid=$uid groups=[${groups# }] NoNewPrivs=$nnp Seccomp=$seccomp CapEff=$capeff CapBnd=$capbnd"
  [[ $uid == "$want_uid" ]] || bad "$name-uid $uid, expected $want_uid"
  if [[ $nnp == 1 && $seccomp == 2 && $capeff == 0000000000000000 && $capbnd == 0000000000000000 ]]; then
    ok "$name-confined NoNewPrivs, seccomp filter, no capabilities"
  else
    bad "$name-confined NoNewPrivs=$nnp Seccomp=$seccomp CapEff=$capeff CapBnd=$capbnd"
  fi
  # ProtectSystem=strict: the whole tree is read-only in its mount namespace, but for its
  # state directory (StateDirectory=), which systemd bind-mounts read-write.
  local m=/proc/$pid/mounts sd=$4
  if grep -Eq '^[^ ]+ / [^ ]+ ro[, ]' "$m" && grep -Eq "^[^ ]+ $sd [^ ]+ rw[, ]" "$m"; then
    ok "$name-readonly-system / ro, $sd rw"
  else
    bad "$name-readonly-system $(grep -E " (/|$sd) " "$m" | tr '\n' ';')"
  fi
  # PrivateUsers=yes: its own user namespace, in which only root and its own user are mapped
  if [[ $(systemctl show -p PrivateUsers --value "$unit") == yes ]]; then
    if [[ $(readlink "/proc/$pid/ns/user") != "$(readlink /proc/1/ns/user)" ]]; then
      ok "$name-userns uid_map: $(awk '{printf "%s->%s ", $1, $2}' "/proc/$pid/uid_map")"
    else
      bad "$name-userns PrivateUsers=yes but the process is in the initial user namespace"
    fi
  fi
  CRED_PID=$pid
}
avma_uid=$(id -u avma 2>/dev/null)
[[ -n $avma_uid ]] && ok "avma-user uid=$avma_uid $(id avma)" || bad "avma-user missing"
creds hostd $HOSTD "$avma_uid" /var/lib/avma-host
hpid=$CRED_PID
creds guestd $GUESTD 0 /var/lib/avma-guest
for g in libvirt libvirt-qemu; do
  gid=$(getent group $g | cut -d: -f3)
  if [[ -n $hpid ]] && awk '/^Groups:/' "/proc/$hpid/status" | grep -qw "$gid"; then
    ok "hostd-group-$g"
  else
    bad "hostd-group-$g gid=$gid not among the process' groups"
  fi
done
# The state directories, as the units (and tmpfiles.d) leave them.
check hostd-statedir sh -c 'test "$(stat -c "%U:%G %a" /var/lib/avma-host)" = "avma:avma 2750"'
check guestd-statedir sh -c 'test "$(stat -c "%U:%G %a" /var/lib/avma-guest)" = "root:root 700"'

# Exposure as systemd computes it for the running units (the offline figure is in packaging/README.md).
for u in $HOSTD $GUESTD; do
  info "exposure $u $(systemd-analyze security "$u" 2>/dev/null | tail -1)"
done

# ---- 4. avma-hostd reaches the system libvirtd as user avma ------------------------------------
if wait_for 60 sh -c "journalctl -b -u $HOSTD -o cat | grep -q 'libvirt: connected to qemu:///system'"; then
  ok "hostd-libvirt $(journalctl -b -u $HOSTD -o cat | grep -m1 'libvirt: ' )"
else
  bad "hostd-libvirt $(journalctl -b -u $HOSTD -o cat | tail -5 | tr '\n' ' ')"
fi

# ---- 5. the licence, set by root with the CLI while the daemon runs ----------------------------
check license-set avma-host license set --version 2022 --edition Datacenter --activated yes
check license-file sh -c 'test "$(stat -c "%G %a" /var/lib/avma-host/licence.conf)" = "avma 640"'
check license-show sh -c 'avma-host license show | grep -q Datacenter'

# ---- 6. the channel socket, as libvirt and QEMU would leave it ---------------------------------
install -d -m 0750 -o libvirt-qemu -g libvirt-qemu "$CHAN_DIR"
(
  while :; do
    socat UNIX-LISTEN:"$CHAN_SOCK",unlink-early,user=libvirt-qemu,group=libvirt-qemu,mode=0775 \
      OPEN:/dev/virtio-ports/org.e2e.relay 2>>/var/log/boot-probe-socat.log
    sleep 0.2
  done
) &
relay=$!
if wait_for 60 sh -c "journalctl -b -u $HOSTD -o cat | grep -q 'boot: connected to $CHAN_SOCK'"; then
  ok "hostd-channel-open $(stat -c '%U:%G %a' "$CHAN_SOCK")"
else
  bad "hostd-channel-open $(journalctl -b -u $HOSTD -o cat | tail -4 | tr '\n' ' ')"
fi

# ---- 7. one activation through both units ------------------------------------------------------
check guest-ipk avma-guest ipk "$KEY"
ato_rc=0
ato_out=$(timeout 120 avma-guest ato 2>&1) || ato_rc=$?
if ((ato_rc == 0)); then
  ok "guest-ato $(printf '%s' "$ato_out" | head -1)"
else
  # one retry: the first request may meet the relay still starting (stale bytes on the port)
  sleep 2
  ato_rc=0
  ato_out=$(timeout 120 avma-guest ato 2>&1) || ato_rc=$?
  ((ato_rc == 0)) && ok "guest-ato (second try) $(printf '%s' "$ato_out" | head -1)" ||
    bad "guest-ato rc=$ato_rc $(printf '%s' "$ato_out" | head -2 | tr '\n' ' ')"
fi
check guest-xpr sh -c 'avma-guest xpr --json | grep -Eq "\"licensed\" *: *true"'
info "guest-dli $(avma-guest dli 2>&1 | tr '\n' ' ')"

# ---- 8. the events, in the journal with their fields, and in the history -----------------------
j12309=$(journalctl -b -o verbose MESSAGE_ID=7a1c3d0e5b9f4c21a8e6f40b2d9c1e09 2>/dev/null)
if grep -q 'AVMA_EVENT_ID=12309' <<<"$j12309" && grep -q 'AVMA_NOTIFICATION=AVMA Success' <<<"$j12309"; then
  ok "journal-12309 $(grep -c 'AVMA_EVENT_ID=12309' <<<"$j12309") record(s), _SYSTEMD_UNIT=$(grep -m1 -o '_SYSTEMD_UNIT=[^ ]*' <<<"$j12309")"
else
  bad "journal-12309 no AVMA Success record"
fi
j12310=$(journalctl -b -o verbose MESSAGE_ID=7a1c3d0e5b9f4c21a8e6f40b2d9c1e10 2>/dev/null)
if grep -q 'AVMA_EVENT_ID=12310' <<<"$j12310" && grep -q 'AVMA_NOTIFICATION=AVMA Success' <<<"$j12310"; then
  ok "journal-12310 $(grep -c 'AVMA_EVENT_ID=12310' <<<"$j12310") record(s), _UID=$(grep -m1 -o '_UID=[0-9]*' <<<"$j12310")"
else
  bad "journal-12310 no AVMA Success record"
fi
check host-events sh -c 'avma-host events | grep -q "AVMA Success"'
check host-vms sh -c 'avma-host vms | grep -q boot'
check host-report sh -c 'avma-host report --month "$(date +%Y-%m)" >/dev/null'

# ---- 8b. a real domain of the system libvirtd --------------------------------------------------
# Started paused: QEMU (TCG inside TCG) creates the channel socket where and as libvirt and QEMU
# really do, without spending CPU on a guest that has nothing to run. avma-hostd must find it
# through libvirt and connect as avma, with only its unit's groups.
cat >/run/avma-probe.xml <<'XML'
<domain type='qemu'>
  <name>avma-probe</name>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
    <channel type='unix'><source mode='bind'/><target type='virtio' name='org.avma.kvp.0'/></channel>
  </devices>
</domain>
XML
sed -e 's/avma-probe/avma-probe2/' -e '/<channel/d' /run/avma-probe.xml >/run/avma-probe2.xml
check libvirt-define sh -c 'virsh -q define /run/avma-probe.xml && virsh -q define /run/avma-probe2.xml'
t_start=$(cut -d' ' -f1 /proc/uptime)
check libvirt-start-paused timeout 300 virsh -q start --paused avma-probe
info "libvirt-start took $(awk -v a="$t_start" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN{printf "%.1f", b-a}') s"
real_sock=$(virsh dumpxml avma-probe | sed -n "s/.*<source mode='bind' path='\([^']*org.avma.kvp.0\)'.*/\1/p" | head -1)
info "real-socket $real_sock $(stat -c '%U:%G %a' "$real_sock" 2>&1) dir $(stat -c '%U:%G %a' "$(dirname "$real_sock")" 2>&1)"
if [[ -n $real_sock ]] && wait_for 60 sh -c "journalctl -b -u $HOSTD -o cat | grep -q 'avma-probe: connected to $real_sock'"; then
  ok "hostd-real-channel connected to $real_sock"
else
  bad "hostd-real-channel $(journalctl -b -u $HOSTD -o cat | grep -i 'avma-probe\|libvirt' | tail -4 | tr '\n' ' ')"
fi
check host-vms-real sh -c "avma-host vms | grep -q avma-probe"
# Provisioning as the operator would: the channel added to a domain that lacks it.
check host-channel-add avma-host channel add avma-probe2
check host-channel-add-persistent sh -c "virsh dumpxml --inactive avma-probe2 | grep -q org.avma.kvp.0"
check libvirt-destroy virsh -q destroy avma-probe
check libvirt-undefine sh -c 'virsh -q undefine avma-probe && virsh -q undefine avma-probe2'

# ---- 9. restarts -------------------------------------------------------------------------------
check hostd-restart systemctl restart $HOSTD
check hostd-active-after-restart systemctl is-active --quiet $HOSTD
check guestd-restart systemctl restart $GUESTD
check guestd-active-after-restart systemctl is-active --quiet $GUESTD

# ---- 10. the maintainer scripts under a running systemd ----------------------------------------
# The debs the image was built from are in /var/cache/avma-boot.
mainpid() { systemctl show -p MainPID --value "$1"; }
active_new() { # active_new UNIT OLDPID: active with another main process
  systemctl is-active --quiet "$1" && [[ $(mainpid "$1") != "$2" && $(mainpid "$1") != 0 ]]
}
inactive() { ! systemctl is-active --quiet "$1"; }
debs=(/var/cache/avma-boot/avma-host_*.deb /var/cache/avma-boot/avma-guest_*.deb)
h0=$(mainpid $HOSTD) g0=$(mainpid $GUESTD)
check pkg-upgrade dpkg -i "${debs[@]}"
wait_for 30 active_new $HOSTD "$h0" && ok "pkg-upgrade-restarts-hostd" || bad "pkg-upgrade-restarts-hostd $(systemctl is-active $HOSTD) pid $(mainpid $HOSTD) (was $h0)"
wait_for 30 active_new $GUESTD "$g0" && ok "pkg-upgrade-restarts-guestd" || bad "pkg-upgrade-restarts-guestd $(systemctl is-active $GUESTD) pid $(mainpid $GUESTD) (was $g0)"
check pkg-remove dpkg -r avma-guest avma-host
check pkg-remove-stops sh -c "! systemctl is-active --quiet $HOSTD && ! systemctl is-active --quiet $GUESTD"
check pkg-remove-keeps-state test -s /var/lib/avma-host/events.jsonl -a -s /var/lib/avma-host/licence.conf -a -s /var/lib/avma-guest/guest.state
# A first installation on a running guest whose port is already there starts avma-guestd
# (udev's add event is long past), and avma-hostd is enabled and started.
h0=$(mainpid $HOSTD) g0=$(mainpid $GUESTD)
check pkg-install dpkg -i "${debs[@]}"
wait_for 30 active_new $HOSTD "$h0" && ok "pkg-install-starts-hostd" || bad "pkg-install-starts-hostd $(systemctl is-active $HOSTD)"
wait_for 30 active_new $GUESTD "$g0" && ok "pkg-install-starts-guestd" || bad "pkg-install-starts-guestd $(systemctl is-active $GUESTD)"
check pkg-reinstall-still-licensed sh -c 'avma-guest xpr --json | grep -Eq "\"licensed\" *: *true"'
kill "$relay" 2>/dev/null
check pkg-purge dpkg -P avma-guest avma-host
check pkg-purge-deletes-state sh -c '! test -e /var/lib/avma-host && ! test -e /var/lib/avma-guest'
check pkg-purge-stops sh -c "! systemctl is-active --quiet $HOSTD && ! systemctl is-active --quiet $GUESTD"
finish
