#!/usr/bin/env bash
# avma-host doctor: each finding it reports, its exit status (0 nothing stands in the way, 1 a
# problem does, 2 usage or an unknown VM) and its --json form. libvirt is the test driver with a
# custom node XML (in-process, no libvirtd) holding one domain without the channel.
. "$(dirname "$0")/lib.sh"

CH=org.avma.kvp.0 # kvp-schema @channel
cat >"$T/node.xml" <<XML
<node>
<domain type='test'>
  <name>nochan</name><uuid>6c2d0e5a-0d0e-4b8e-9a61-0a0a0a0a0a11</uuid><memory>65536</memory>
  <os><type>hvm</type></os><devices/>
</domain>
<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
  <name>off</name><uuid>6c2d0e5a-0d0e-4b8e-9a61-0a0a0a0a0a12</uuid><memory>65536</memory>
  <os><type>hvm</type></os>
  <devices><channel type='unix'><source mode='bind'/><target type='virtio' name='$CH'/></channel></devices>
  <test:runstate>5</test:runstate>
</domain>
</node>
XML
URI="test://$T/node.xml"
doc() { "$B/avma-host" --state-dir "$T/host" --connect "$URI" doctor "$@"; }
# status CHECK [VM]: the status doctor --json gives that check (of that VM)
status() {
  doc --json "${@:2}" 2>/dev/null |
    jq -r --arg c "$1" --arg v "${2:-}" \
      '[.[] | select(.check == $c and ((.vm // "") == $v))][0].status // "absent"'
}
rc() { doc "$@" >/dev/null 2>&1; echo $?; }

mkdir -p "$T/host"
eq "licence unset: a problem" "$(status 'licence set')" problem
eq "licence unset: exit 1" "$(rc)" 1
doc >"$T/out" 2>&1
check "licence unset: the fix is named" grep -q 'fix: avma-host license set' "$T/out"
licence 2022 Datacenter no
eq "not activated: a problem" "$(status 'licence activated')" problem
licence 2022 Standard yes
eq "Standard edition: a problem" "$(status 'licence Datacenter')" problem
eq "Standard edition: activated is ok" "$(status 'licence activated')" ok
licence 2022 Datacenter yes
eq "Datacenter: ok" "$(status 'licence Datacenter')" ok
eq "daemon never run: a problem" "$(status 'daemon running')" problem
eq "libvirt test driver: reachable" "$(status 'libvirt reachable')" ok
eq "domain without the channel: a problem in its definition" \
  "$(status 'channel defined' nochan)" problem
eq "domain without the channel: a problem in its live XML" \
  "$(status 'channel live' nochan)" problem
eq "shut-off domain with the channel: defined ok" "$(status 'channel defined' off)" ok
eq "shut-off domain: not running is a warning" "$(status 'socket connected' off)" warning
eq "shut-off domain: none of its findings is a problem" \
  "$(doc --json off | jq '[.[] | select(.vm == "off" and .status == "problem")] | length')" 0
doc nochan >"$T/out" 2>&1
check "domain without the channel: the fix names it" \
  grep -q 'fix: avma-host channel add nochan' "$T/out"

port vm1
port quiet
hostd vm1 quiet
guest vm1 ipk "$KEY_2022_STD" >/dev/null
guestd vm1
check "vm1 decided" wait_for 10 '[ "$(jq -r ".vms[] | select(.name == \"vm1\") | .notification" "$T/host/vms.json" 2>/dev/null)" = "AVMA Success" ]'
eq "daemon running: ok" "$(status 'daemon running')" ok
eq "connected VM: socket ok" "$(status 'socket connected' vm1)" ok
eq "connected VM: guest heard from" "$(status 'guest agent heard from' vm1)" ok
eq "connected VM: last decision ok" "$(status 'last decision' vm1)" ok
eq "connected VM with a decision: exit 0" "$(rc vm1)" 0
doc vm1 >"$T/out" 2>&1
check "connected VM: the renewal date is shown" grep -q 'granted until .*renewal due' "$T/out"
eq "VM never heard from: a problem" "$(status 'guest agent heard from' quiet)" problem
eq "VM never heard from: no decision is a warning" "$(status 'last decision' quiet)" warning
eq "VM never heard from: exit 1" "$(rc quiet)" 1
eq "every VM: nochan's problem counts, exit 1" "$(rc)" 1
eq "unknown VM: exit 2" "$(rc nosuch)" 2
doc nosuch >"$T/out" 2>&1
check "unknown VM: named in the error" grep -q "no VM named 'nosuch'" "$T/out"
eq "unknown VM: nothing printed on stdout" "$(doc nosuch 2>/dev/null)" ""
doc --json vm1 >"$T/j"
eq "--json: every finding has check, vm, status, finding, fix" \
  "$(jq '[.[] | has("check") and has("vm") and has("status") and has("finding") and has("fix")] | all' "$T/j")" true
URI_GOOD=$URI
URI="test://$T/missing.xml"
eq "libvirt unreachable: a warning, not a crash" "$(status 'libvirt reachable')" warning
eq "libvirt unreachable: a fixed-channel VM is still checked, exit 0" "$(rc vm1)" 0
URI=$URI_GOOD
eq "bad option: exit 2" "$(rc --bogus)" 2

# avma-guest doctor: gstatus NAME CHECK, the status of that check in NAME's guest doctor
gstatus() {
  guest "$1" doctor --json 2>/dev/null |
    jq -r --arg c "$2" '[.[] | select(.check == $c)][0].status // "absent"'
}
grc() { guest "$1" doctor >/dev/null 2>&1; echo $?; }
eq "guest vm1: port present" "$(gstatus vm1 'port present')" ok
eq "guest vm1: held by avma-guestd" "$(gstatus vm1 'port owned by the agent')" ok
eq "guest vm1: host side connected" "$(gstatus vm1 'host side connected')" ok
eq "guest vm1: AVMA key installed" "$(gstatus vm1 'key installed')" ok
eq "guest vm1: last outcome ok" "$(gstatus vm1 'last outcome')" ok
eq "guest vm1: nothing in the way, exit 0" "$(grc vm1)" 0
eq "guest without port, daemon or key: port missing" "$(gstatus nope 'port present')" problem
eq "guest without a daemon: not owned" "$(gstatus nope 'port owned by the agent')" problem
eq "guest without a daemon: host side not reported" "$(gstatus nope 'host side connected')" absent
eq "guest without a key: a problem" "$(gstatus nope 'key installed')" problem
eq "guest never tried: a warning" "$(gstatus nope 'last outcome')" warning
eq "guest with problems: exit 1" "$(grc nope)" 1
check "guest doctor changes nothing: no state directory created" test ! -e "$T/g-nope"
eq "guest doctor: bad argument, exit 2" "$(guest vm1 doctor extra >/dev/null 2>&1; echo $?)" 2
# The key of vm1 (2022 Standard) against a guest configured as another product.
guest_conf other product_version=2019
cp -r "$T/g-vm1" "$T/g-other"
rm -f "$T/g-other/control.sock"
eq "key for another product: a problem" "$(gstatus other 'key installed')" problem

kill "$HOSTD_PID"
wait_for 5 '! kill -0 $HOSTD_PID 2>/dev/null'
eq "daemon stopped: a problem" "$(status 'daemon running')" problem
eq "daemon stopped: the socket is not connected" "$(status 'socket connected' vm1)" problem
# The stand-in's PTY never reports a hang-up (port.h): removing the port itself is what shows.
kill "$PORT_PID_vm1"
check "port removed: the guest's host side is not connected" \
  wait_for 5 '[ "$(gstatus vm1 "host side connected")" = problem ]'
eq "port removed: port present is a problem" "$(gstatus vm1 'port present')" problem
exit $FAILED
