#!/usr/bin/env bash
# The host agent against a private libvirtd of an unprivileged user, through libvirt's test driver
# (test:///default inside libvirtd is shared by all its clients, so virsh's actions reach the
# agent as events): lifecycle events drive sessions, the decision lands in the domain's metadata
# (virsh metadata), channel add/remove change the definition, ensure_channel acts on start and on
# DEFINED events, a transient domain comes and goes, and the agent reconnects and re-synchronises
# when libvirtd is restarted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-libvirt.sh"

if ! command -v libvirtd >/dev/null || ! command -v virsh >/dev/null; then
  echo "# skip: libvirtd/virsh not installed (libvirt-daemon, libvirt-clients)"
  exit 0
fi
lv_setup || exit 1
lv_libvirtd_start || { not_ok "private libvirtd starts"; tail "$LV/libvirtd.log"; exit 1; }
lv_hold
V() { lv_virsh "$LV_TEST_URI" "$@"; }
dump() { V dumpxml "$@" 2>/dev/null; }
# def_has NAME: the channel is in NAME's persistent definition
def_has() { grep -q "name='$CH'" <<<"$(dump "$1" --inactive)"; }
metadata_count() { log_count "metadata: written to $1"; }

U_A=7d3e1f6b-1e1f-4c9f-8b72-1b1b1b1b1b01
U_B=7d3e1f6b-1e1f-4c9f-8b72-1b1b1b1b1b02
U_C=7d3e1f6b-1e1f-4c9f-8b72-1b1b1b1b1b03
U_T=7d3e1f6b-1e1f-4c9f-8b72-1b1b1b1b1b04
test_domain sa $U_A "$LV/sa.sock" >"$LV/sa.xml"
test_domain sb $U_B >"$LV/sb.xml"
test_domain sc $U_C >"$LV/sc.xml"
test_domain st $U_T "$LV/st.sock" >"$LV/st-dom.xml"
[[ -n $LV_USER ]] && chown "$LV_USER:" "$LV"/*.xml

host_conf "connect=$LV_TEST_URI"
uhost license set --version 2022 --edition Datacenter --activated yes >/dev/null
uport sa
uport st
uhostd
check "unprivileged agent connects to the private libvirtd" lv_wait 10 log_has "libvirt: connected to $LV_TEST_URI"
lv_wait 5 test -e "$LV/st/vms.json"
eq "agent runs as the unprivileged user" "$(stat -c %U "$LV/st/vms.json" 2>/dev/null || echo none)" "$(id -un "${LV_USER:-$(id -un)}")"

# --- lifecycle events drive sessions ---
V define "$LV/sa.xml" >/dev/null
check "defined: known, shut off, no session" lv_wait 5 vm_is sa state "shut off"
V start sa >/dev/null
check "started: session on the socket from the live XML" lv_wait 5 log_has "sa: serving channel $CH at $LV/sa.sock"
check "started: connected in the view" lv_wait 5 vm_is sa connected true
uguest sa ipk "$KEY_2022_STD" >/dev/null
uguest sa ato >/dev/null; rc=$?
eq "guest activates through the session" "$rc" 0

# --- the decision in the domain's metadata, live and persistent ---
check "metadata written" lv_wait 5 log_has "metadata: written to sa"
m=$(V metadata sa "$NS" 2>&1)
check "virsh metadata: notification" grep -q "<notification>AVMA Success</notification>" <<<"$m"
check "virsh metadata: guest version and edition" grep -q "<guest-version>2022</guest-version>" <<<"$m"
check "virsh metadata: partial key only" grep -q "<partial-key>78VHK</partial-key>" <<<"$m"
check "virsh metadata: granted-until" grep -qE "<granted-until>[0-9-]+T[0-9:]+Z</granted-until>" <<<"$m"
hid=$(cat "$LV/st/host-id" 2>/dev/null)
check "virsh metadata: host identity" grep -q "<host-id>$hid</host-id>" <<<"$m"
check "virsh metadata: time" grep -qE "<time>[0-9-]+T[0-9:]+Z</time>" <<<"$m"
m=$(V metadata sa "$NS" --config 2>&1)
check "virsh metadata --config: persistent too" grep -q "<notification>AVMA Success</notification>" <<<"$m"
check "metadata in the domain XML under our namespace" grep -q "xmlns:avma=\"$NS\"" <<<"$(dump sa)"

# --- stop and start again ---
V destroy sa >/dev/null
check "stopped: session ended" lv_wait 5 log_has "sa: channel session ended (shut off)"
check "stopped: not connected in the view" lv_wait 5 vm_is sa connected false
eq "stopped: last decision kept in the view" "$(vm sa notification)" "AVMA Success"
V start sa >/dev/null
check "restarted: session again" lv_wait 5 vm_is sa connected true
eq "restarted: a new session (new domain id)" "$(log_count "sa: serving channel")" 2
uguest sa ato >/dev/null; rc=$?
eq "restarted: guest activates again" "$rc" 0

# --- channel provisioning through the CLI (the test driver cannot hot-plug: definition only) ---
V define "$LV/sb.xml" >/dev/null
V start sb >/dev/null
check "sb: running without the channel" lv_wait 5 vm_is sb channel_present false
out=$(uhost channel add sb 2>&1); rc=$?
eq "channel add sb: exits 0" "$rc" 0
check "channel add sb: reported" grep -q "sb: channel $CH added to the persistent definition" <<<"$out"
check "channel add sb: in the persistent definition" def_has sb
out=$(uhost channel add sb 2>&1)
check "channel add sb again: nothing to do" grep -q "already in the persistent definition" <<<"$out"
out=$(uhost channel remove sb 2>&1); rc=$?
eq "channel remove sb: exits 0" "$rc" 0
check "channel remove sb: gone from the definition" bash -c "! grep -q '$CH' <<<\"\$1\"" _ "$(dump sb --inactive)"
check "channel remove sb: definition otherwise intact" grep -q "<uuid>$U_B</uuid>" <<<"$(dump sb --inactive)"
out=$(uhost channel remove sb 2>&1)
check "channel remove sb again: nothing to do" grep -q "no channel $CH, nothing to do" <<<"$out"
out=$(uhost channel add --all 2>&1); rc=$?
eq "channel add --all: exits 0" "$rc" 0
check "channel add --all: covers sb" grep -q "sb: channel $CH added" <<<"$out"
check "channel add --all: sa already had it" grep -q "sa: channel $CH already present" <<<"$out"
uhost channel remove sb >/dev/null 2>&1

# --- a transient domain comes and goes ---
V create "$LV/st-dom.xml" >/dev/null
check "transient: session" lv_wait 5 vm_is st connected true
V destroy st >/dev/null
check "transient: gone from the view when destroyed" lv_wait 5 bash -c "! jq -e '.vms[] | select(.name==\"st\")' '$LV/st/vms.json' >/dev/null"

# --- ensure_channel: at start for every persistent domain, then on DEFINED events ---
uhostd_stop
host_conf "connect=$LV_TEST_URI" "ensure_channel=true"
: >"$LV/hostd.log"
uhostd
check "ensure_channel at start: sb gets the channel" lv_wait 10 log_has "sb: channel $CH added to its persistent definition"
check "ensure_channel at start: sb's definition has it" lv_wait 5 def_has sb
check "ensure_channel at start: sa left alone" bash -c "! grep -q 'sa: channel $CH added' '$LV/hostd.log'"
V define "$LV/sc.xml" >/dev/null
check "ensure_channel on DEFINED: sc gets the channel" lv_wait 10 log_has "sc: channel $CH added to its persistent definition"
check "ensure_channel on DEFINED: in sc's definition" lv_wait 5 def_has sc
# a cloud layer regenerates sc's XML without the channel: it comes back
V define "$LV/sc.xml" >/dev/null
check "ensure_channel: a redefinition without it is repaired" lv_wait 10 bash -c "[[ \$(grep -c 'sc: channel $CH added' '$LV/hostd.log') == 2 ]]"

# --- libvirtd goes away and comes back: reconnect and re-synchronise ---
V destroy sb >/dev/null
check "before restart: sb stopped in the view" lv_wait 5 vm_is sb state "shut off"
check "before restart: sa connected" lv_wait 5 vm_is sa connected true
lv_libvirtd_stop
check "connection loss noticed" lv_wait 10 log_has "libvirt: connection to .* lost"
check "view says libvirt is disconnected" lv_wait 5 bash -c "[[ \$(jq -r .libvirt.connected '$LV/st/vms.json') == false ]]"
# QEMU would keep its sockets while libvirtd is away; the stand-in does too: the session stays
eq "session kept while libvirtd is away" "$(vm sa connected)" true
sleep 1.5 # a failed attempt or two: back-off
lv_libvirtd_start || not_ok "libvirtd restarts"
check "reconnected" lv_wait 15 log_has "libvirt: reconnected to"
lv_hold
# A restarted test driver holds only its default domain 'test' (running): sa, sb and sc are gone,
# 'test' appeared meanwhile.
check "re-sync: sa gone, its session ended" lv_wait 5 log_has "sa: channel session ended (gone while the agent was not connected)"
check "re-sync: view has the domain that appeared meanwhile" lv_wait 5 vm_is test state running
check "re-sync: view lost the domains that went away" lv_wait 5 bash -c "! jq -e '.vms[] | select(.name==\"sa\" or .name==\"sb\")' '$LV/st/vms.json' >/dev/null"
check "re-sync: libvirt connected in the view" lv_wait 5 bash -c "[[ \$(jq -r .libvirt.connected '$LV/st/vms.json') == true ]]"
V define "$LV/sa.xml" >/dev/null && V start sa >/dev/null
check "after reconnect: events flow again" lv_wait 5 vm_is sa connected true
n0=$(metadata_count sa)
uguest sa ato >/dev/null; rc=$?
eq "after reconnect: guest activates" "$rc" 0
check "after reconnect: metadata written again" lv_wait 5 bash -c "(( \$(grep -c 'metadata: written to sa' '$LV/hostd.log') > $n0 ))"
check "after reconnect: virsh metadata shows it" grep -q "AVMA Success" <<<"$(V metadata sa "$NS" 2>&1)"

# --- avma-host vms as the user, through the same libvirtd ---
j=$(uhost vms --json 2>/dev/null)
eq "vms --json: sa connected" "$(jq -r '.[] | select(.name=="sa") | .connected' <<<"$j")" true
eq "vms --json: test domain without channel" "$(jq -r '.[] | select(.name=="test") | .channel_present' <<<"$j")" false
uhostd_stop
exit $FAILED
