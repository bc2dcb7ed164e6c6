#!/usr/bin/env bash
# libvirt discovery at start, against libvirt's test driver with a custom node XML (in-process, no
# libvirtd): domains with and without the channel, a shut-off one, one whose channel is a pty;
# a guest activates through the channel found in the live XML, with its VM name and UUID from
# libvirt; the VM view (vms.json, `avma-host vms`); channel add/remove through the CLI.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-libvirt.sh"

mkdir -p "$LV"/st "$LV"/h "$LV"/r
command -v virsh >/dev/null || { echo "# virsh missing (libvirt-clients)"; }
U_A=6c2d0e5a-0d0e-4b8e-9a61-0a0a0a0a0a01
U_B=6c2d0e5a-0d0e-4b8e-9a61-0a0a0a0a0a02
U_C=6c2d0e5a-0d0e-4b8e-9a61-0a0a0a0a0a03
U_D=6c2d0e5a-0d0e-4b8e-9a61-0a0a0a0a0a04
cat >"$LV/node.xml" <<EOF
<node>
$(test_domain tda $U_A "$LV/tda.sock")
$(test_domain tdb $U_B)
<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
  <name>tdc</name><uuid>$U_C</uuid><memory>65536</memory><os><type>hvm</type></os>
  <devices><channel type='unix'><source mode='bind'/><target type='virtio' name='$CH'/></channel></devices>
  <test:runstate>5</test:runstate>
</domain>
<domain type='test'>
  <name>tdd</name><uuid>$U_D</uuid><memory>65536</memory><os><type>hvm</type></os>
  <devices><channel type='pty'><target type='virtio' name='$CH'/></channel></devices>
</domain>
</node>
EOF
URI="test://$LV/node.xml"
host_conf "connect=$URI"
uhost license set --version 2022 --edition Datacenter --activated yes >/dev/null
uport tda
uhostd
check "discovery: daemon serves the channel found in tda's live XML" \
  lv_wait 5 log_has "tda: serving channel $CH at $LV/tda.sock"
check "discovery: vms.json written (debounced)" lv_wait 5 vm_is tda connected true
eq "discovery: tda uuid from libvirt" "$(vm tda uuid)" "$U_A"
eq "discovery: tda running" "$(vm tda state)" running
eq "discovery: tda socket path from the live XML" "$(vm tda socket_path)" "$LV/tda.sock"
eq "discovery: tdb has no channel (listed, not an error)" "$(vm tdb channel_present)/$(vm tdb connected)" false/false
check "discovery: no warning about tdb" bash -c "! grep -q 'tdb.*WARN\|WARNING.*tdb' '$LV/hostd.log'"
eq "discovery: tdc shut off, channel in its definition" "$(vm tdc state)/$(vm tdc channel_present)/$(vm tdc connected)" "shut off/true/false"
eq "discovery: tdd's pty channel is present but unusable" "$(vm tdd channel_present)/$(vm tdd connected)" true/false
check "discovery: tdd's channel detail says why" grep -q pty <<<"$(vm tdd channel_detail)"
check "discovery: summary logged" log_has "libvirt: 4 domain(s), 3 running, 1 with channel"

# --- a guest activates through it; name and UUID come from libvirt ---
uguest tda ipk "$KEY_2022_STD" >/dev/null
uguest tda ato >/dev/null; rc=$?
eq "activation via libvirt channel: ato exits 0" "$rc" 0
h=$(uhost events --json | jq -c '.[-1]')
eq "12310 vm is the libvirt name" "$(jq -r .vm <<<"$h")" tda
eq "12310 vm_uuid is the libvirt UUID" "$(jq -r .vm_uuid <<<"$h")" "$U_A"
g=$(uguest tda --json dlv)
eq "guest got VirtualMachineName from libvirt" "$(jq -r .vm_name <<<"$g")" tda
eq "guest got VirtualMachineId from libvirt" "$(jq -r .vm_id <<<"$g")" "$U_A"
check "metadata written for the decision" lv_wait 5 log_has "metadata: written to tda"
check "vms.json: last notification" lv_wait 5 vm_is tda notification "AVMA Success"
eq "vms.json: guest version/edition" "$(vm tda guest_version) $(vm tda guest_edition)" "2022 Standard"
eq "vms.json: granted_until as the guest has it" "$(vm tda granted_until)" "$(jq -r .expires <<<"$g")"
check "vms.json: intrinsic items (auto pool)" test -n "$(vm tda intrinsic.OSName)"
check "vms.json: not world-readable" test "$(stat -c %a "$LV/st/vms.json")" = 640

# --- avma-host vms merges the view with its own libvirt listing ---
j=$(uhost vms --json)
eq "vms --json: every domain" "$(jq -r '[.[].name] | join(",")' <<<"$j")" tda,tdb,tdc,tdd
eq "vms --json: tda connected, from the daemon" "$(jq -r '.[] | select(.name=="tda") | .connected' <<<"$j")" true
eq "vms --json: tda notification" "$(jq -r '.[] | select(.name=="tda") | .notification' <<<"$j")" "AVMA Success"
eq "vms --json: tdb channel absent" "$(jq -r '.[] | select(.name=="tdb") | .channel_present' <<<"$j")" false
check "vms --json: intrinsic items" test -n "$(jq -r '.[] | select(.name=="tda") | .intrinsic.ProcessorArchitecture' <<<"$j")"
t=$(uhost vms)
check "vms: table lists tda as connected" grep -qE '^tda +running +connected +AVMA Success +2022 Standard' <<<"$t"
check "vms: table lists tdb without channel" grep -qE '^tdb +running +no ' <<<"$t"
check "vms: table shows intrinsic items" grep -q 'OSName=' <<<"$t"

# --- channel add/remove (the test driver cannot attach devices: the definition is redefined) ---
out=$(uhost channel add tdb 2>&1); rc=$?
eq "channel add: exits 0" "$rc" 0
check "channel add: says what it did" grep -q "tdb: channel $CH added to the persistent definition" <<<"$out"
check "channel add: explains why not hot-plugged" grep -q "no virtio-serial controller" <<<"$out"
out=$(uhost channel add tda 2>&1)
check "channel add: idempotent" grep -q "already present, nothing to do" <<<"$out"
out=$(uhost channel remove tdb 2>&1)
check "channel remove: nothing to remove" grep -q "no channel $CH, nothing to do" <<<"$out"
out=$(uhost channel add "$U_A" 2>&1)
check "channel add: a domain by UUID" grep -q "^tda: channel $CH already present" <<<"$out"
out=$(uhost channel add 2 2>&1)
check "channel add: a domain by id" grep -q "^tdb: channel $CH added" <<<"$out"
out=$(uhost channel add nosuch 2>&1); rc=$?
eq "channel add: unknown domain exits 1" "$rc" 1
check "channel add: unknown domain named" grep -q "no domain 'nosuch'" <<<"$out"
uhost channel add >/dev/null 2>&1; rc=$?
eq "channel add: no domain given is a usage error" "$rc" 2

# --- the last view of a stopped daemon claims no connection ---
uhostd_stop
eq "stopped daemon: view says not running" "$(view | jq -r .running)" false
eq "stopped daemon: tda not connected" "$(vm tda connected)" false
eq "stopped daemon: last decision kept" "$(vm tda notification)" "AVMA Success"
out=$(uhost vms 2>&1 >/dev/null)
check "vms: notes that the daemon is not running" grep -q "not running" <<<"$out"

# --- migration: another host with its own identity and licence sees the same domain ---
# hostd_at DIR: a host agent on state DIR (another host), log DIR.log
hostd_at() {
  as_user_exec "$B/avma-hostd" --config "$LV/host.conf" --state-dir "$LV/$1" -v >>"$LV/$1.log" 2>&1 &
  HOSTD_AT_PID=$!
  PIDS+=($HOSTD_AT_PID)
  lv_wait 5 grep -q "tda: connected to" "$LV/$1.log"
}
hostd_at_stop() { kill "$HOSTD_AT_PID"; lv_wait 5 lv_gone "$HOSTD_AT_PID"; }
granted=$(uguest tda --json dlv | jq -r .expires)
as_user "$B/avma-host" --state-dir "$LV/stB" license set --version 2025 --edition Datacenter --activated yes >/dev/null
hostd_at stB
uguest tda ato >/dev/null; rc=$?
eq "migrated to a licensed host: stays activated" "$rc" 0
g=$(uguest tda --json dlv)
eq "migrated to a licensed host: granted by the new host" "$(jq -r .host_id <<<"$g")" "$(cat "$LV/stB/host-id")"
check "migrated to a licensed host: a new grant" test "$(jq -r .expires <<<"$g")" != "$granted"
hostd_at_stop
granted=$(jq -r .expires <<<"$g")
hostd_at stC # never licensed
uguest tda ato >/dev/null; rc=$?
eq "migrated to an unlicensed host: Invalid Host at renewal (exit 3)" "$rc" 3
g=$(uguest tda --json dlv)
eq "migrated to an unlicensed host: still licensed until the grant runs out" "$(jq -r .license_status <<<"$g")" Licensed
eq "migrated to an unlicensed host: the grant is unchanged" "$(jq -r .expires <<<"$g")" "$granted"
eq "unlicensed host logged it" "$(as_user "$B/avma-host" --state-dir "$LV/stC" events --json | jq -r '.[-1] | "\(.vm)/\(.notification)"')" "tda/Invalid Host"
hostd_at_stop

# --- fixed channels alone do not use libvirt; --connect adds it ---
: >"$LV/hostd.log"
host_conf
uport fix1
uhostd --channel "fix1=$LV/fix1.sock"
check "fixed channel served" lv_wait 5 log_has "fix1: connected to"
check "no libvirt with fixed channels alone" log_has "libvirt not used"
uhostd_stop
: >"$LV/hostd.log"
uhostd --channel "fix1=$LV/fix1.sock" --connect "$URI"
check "fixed channel and libvirt together (--connect)" lv_wait 5 log_has "tda: serving channel"
check "fixed channel in the view" lv_wait 5 vm_is fix1 connected true
uhostd_stop
exit $FAILED
