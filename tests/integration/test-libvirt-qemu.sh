#!/usr/bin/env bash
# The host agent with real QEMU domains under a private session libvirtd (unprivileged user, TCG,
# domains started paused: no guest OS needed for the host side). Checks what the test driver
# cannot show: socket paths that libvirt chooses and changes at every start (read from the live
# XML), channel hot-plug and unplug (device events), and a libvirtd restart while QEMU keeps
# running: sessions survive, and a domain whose QEMU died meanwhile is noticed at re-sync.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-libvirt.sh"

QEMU=/usr/bin/qemu-system-x86_64
if ! command -v libvirtd >/dev/null || ! command -v virsh >/dev/null || [[ ! -x $QEMU ]] ||
  [[ ! -e /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so ]]; then
  echo "# skip: needs libvirt-daemon, libvirt-daemon-driver-qemu, libvirt-clients, qemu-system-x86"
  exit 0
fi
lv_setup || exit 1
lv_libvirtd_start || { not_ok "private libvirtd starts"; tail "$LV/libvirtd.log"; exit 1; }
V() { lv_virsh "$LV_QEMU_URI" "$@"; }
# live_path NAME: the channel's socket path in NAME's live XML
live_path() { V dumpxml "$1" | grep -o "path='[^']*/$CH'" | sed "s/^path='//; s/'$//"; }
# qemu_domain NAME UUID [CONTROLLER]: a minimal TCG domain, with a virtio-serial controller when
# asked
qemu_domain() {
  cat <<EOF
<domain type='qemu'>
  <name>$1</name>
  <uuid>$2</uuid>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>$QEMU</emulator>
    <controller type='usb' model='none'/>
    ${3:+<controller type='virtio-serial'/>}
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}
U_A=8e4f2a7c-2f2a-4da0-9c83-2c2c2c2c2c01
U_B=8e4f2a7c-2f2a-4da0-9c83-2c2c2c2c2c02
U_C=8e4f2a7c-2f2a-4da0-9c83-2c2c2c2c2c03
qemu_domain qa $U_A >"$LV/qa.xml"
qemu_domain qb $U_B controller >"$LV/qb.xml"
qemu_domain qc $U_C controller >"$LV/qc.xml"
[[ -n $LV_USER ]] && chown "$LV_USER:" "$LV"/*.xml

host_conf "connect=$LV_QEMU_URI"
uhostd
check "agent connected to qemu:///session" lv_wait 10 log_has "libvirt: connected to $LV_QEMU_URI"

# --- channel added to a stopped domain's definition; libvirt chooses the path at start ---
V define "$LV/qa.xml" >/dev/null
out=$(uhost channel add qa 2>&1); rc=$?
eq "channel add qa (stopped): exits 0" "$rc" 0
check "channel add qa: persistent definition" grep -q "qa: channel $CH added to the persistent definition; domain not running" <<<"$out"
V start --paused qa >/dev/null || not_ok "qa starts"
p1=$(live_path qa)
check "qa: libvirt chose a socket path under the domain's id" grep -q "/domain-[0-9]*-qa/$CH$" <<<"$p1"
check "qa: agent serves the path from the live XML" lv_wait 10 log_has "qa: serving channel $CH at $p1"
check "qa: connected to QEMU's socket" lv_wait 5 vm_is qa connected true
eq "qa: view has the live path" "$(vm qa socket_path)" "$p1"
V destroy qa >/dev/null
check "qa stopped: session ended" lv_wait 5 log_has "qa: channel session ended"
V start --paused qa >/dev/null
p2=$(live_path qa)
check "qa restarted: a new path (new domain id)" test -n "$p2" -a "$p2" != "$p1"
check "qa restarted: agent follows the new path" lv_wait 10 log_has "qa: serving channel $CH at $p2"
check "qa restarted: connected" lv_wait 5 vm_is qa socket_path "$p2"
check "qa restarted: connected again" lv_wait 5 vm_is qa connected true

# --- hot-plug into a running domain, and unplug ---
V define "$LV/qb.xml" >/dev/null
V start --paused qb >/dev/null
check "qb: running, no channel" lv_wait 5 vm_is qb channel_present false
out=$(uhost channel add qb 2>&1); rc=$?
eq "channel add qb (running): exits 0" "$rc" 0
check "channel add qb: hot-plugged and persistent" grep -q "added to the persistent definition; hot-plugged into the running domain" <<<"$out"
check "qb: device event makes the agent connect" lv_wait 10 vm_is qb connected true
eq "qb: view has the live path" "$(vm qb socket_path)" "$(live_path qb)"
out=$(uhost channel remove qb 2>&1); rc=$?
eq "channel remove qb (running): exits 0" "$rc" 0
check "channel remove qb: unplugged and removed" grep -q "removed from the persistent definition; unplugged from the running domain" <<<"$out"
check "qb: session ended on unplug" lv_wait 10 log_has "qb: channel session ended (channel removed)"
check "qb: view shows no channel" lv_wait 5 vm_is qb channel_present false
out=$(uhost channel add qa 2>&1)
check "channel add qa again: nothing to do" grep -q "qa: channel $CH already present, nothing to do" <<<"$out"
V define "$LV/qa.xml" >/dev/null # a regenerated definition drops the channel...
check "qa redefined without the channel: gone from the definition" bash -c "! grep -q '$CH' <<<\"\$1\"" _ "$(V dumpxml qa --inactive)"
check "qa redefined without the channel: live session kept" lv_wait 5 vm_is qa connected true
# ...and a domain without a virtio-serial controller cannot take it live
V destroy qb >/dev/null
V undefine qb >/dev/null
qemu_domain qb $U_B >"$LV/qb.xml"
[[ -n $LV_USER ]] && chown "$LV_USER:" "$LV/qb.xml"
V define "$LV/qb.xml" >/dev/null
V start --paused qb >/dev/null
out=$(uhost channel add qb 2>&1); rc=$?
eq "channel add qb (no controller): exits 0" "$rc" 0
check "channel add qb (no controller): explains" grep -q "not hot-plugged into the running domain: the running domain has no virtio-serial controller (takes effect at the next start)" <<<"$out"

# --- libvirtd restarts while QEMU runs: sessions survive; a QEMU that died meanwhile is seen ---
V define "$LV/qc.xml" >/dev/null
uhost channel add qc >/dev/null 2>&1
V start --paused qc >/dev/null
check "qc: connected" lv_wait 10 vm_is qc connected true
served_qa=$(log_count "qa: serving channel")
lv_libvirtd_stop
check "libvirtd gone: agent notices" lv_wait 10 log_has "libvirt: connection to .* lost"
eq "libvirtd gone: QEMU's channel session stays" "$(vm qa connected)" true
qc_pid=$(cat "$LV/r/libvirt/qemu/run/qc.pid" 2>/dev/null)
[[ -n $qc_pid ]] && kill "$qc_pid" 2>/dev/null # qc's QEMU dies while libvirtd is away
lv_libvirtd_start || not_ok "libvirtd restarts"
check "reconnected" lv_wait 15 log_has "libvirt: reconnected to"
check "re-sync: qc seen stopped" lv_wait 10 vm_is qc state "shut off"
check "re-sync: qc's session ended" lv_wait 5 log_has "qc: channel session ended"
eq "re-sync: qa's session kept (not restarted)" "$(log_count "qa: serving channel")" "$served_qa"
check "re-sync: qa still connected" lv_wait 5 vm_is qa connected true
check "re-sync: qa still at its live path" vm_is qa socket_path "$(live_path qa)"

# --- avma-host vms lists them all ---
j=$(uhost vms --json 2>/dev/null)
eq "vms --json: every domain" "$(jq -r '[.[].name] | join(",")' <<<"$j")" qa,qb,qc
eq "vms --json: qa connected" "$(jq -r '.[] | select(.name=="qa") | .connected' <<<"$j")" true
eq "vms --json: qc shut off, channel in its definition" "$(jq -r '.[] | select(.name=="qc") | "\(.state)/\(.channel_present)"' <<<"$j")" "shut off/true"
uhostd_stop
exit $FAILED
