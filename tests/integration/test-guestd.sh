#!/usr/bin/env bash
# Guest daemon: boot-time activation, renewal, host absent then present, host killed
# mid-exchange, ato through the daemon, key replacement clearing KVP data, product binding,
# expiry to unlicensed, and the slmgr read verbs.
. "$(dirname "$0")/lib.sh"

printf '[host]\nvalidity=4\njournal=no\n' >"$T/host.conf"
export HOSTD_CONF=$T/host.conf
licence 2022 Datacenter yes
successes() { gcount "$1" "AVMA Success"; }
expired() { gev "$1" | jq '[.[] | select(.reason_code == "expired")] | length'; }
host_successes() { hev | jq --arg vm "$1" '[.[] | select(.vm == $vm and .notification == "AVMA Success")] | length'; }

# --- boot-time activation and renewal, nobody typing a command ---
port boot1
hostd boot1
RENEW=1 guest_conf boot1
guest boot1 ipk "$KEY_2022_STD" >/dev/null
guestd boot1
check "boot: activates at start without a command" wait_for 10 '[ "$(successes boot1)" -ge 1 ]'
check "boot: renews (intervals shrunk by config)" wait_for 10 '[ "$(successes boot1)" -ge 3 ]'
check "renewal: every guest success has its 12310 on the host" \
  test "$(host_successes boot1)" -ge "$(successes boot1)"
eq "dli says Licensed" "$(guest boot1 --json dli | jq -r .license_status)" Licensed
eq "xpr --json licensed" "$(guest boot1 --json xpr | jq -r .licensed)" true
check "xpr in words" grep -q "activated by its host until" <<<"$(guest boot1 xpr)"
check "dlv shows the AVMA client block" grep -q "Host Digital PID2" <<<"$(guest boot1 dlv)"

# --- ato while the daemon holds the port goes through the daemon ---
guest boot1 ato >/dev/null; rc=$?
eq "ato via the running daemon exits 0" "$rc" 0

# --- malformed control requests get an error reply; the daemon stays up ---
ctl() { printf '%s\n' "$1" | socat -t 5 - "UNIX-CONNECT:$T/g-boot1/control.sock"; }
for req in '{"verb":null}' '{"verb":7}' '{"verb":{"a":1}}' '{"verb":"ipk"}' '{"verb":"ipk","key":[]}' \
           '[1]' 'not json'; do
  eq "control $req: error reply" "$(ctl "$req" | jq -r '.ok, (.error | length > 0)' | tr '\n' ' ')" "false true "
done
check "control: the daemon survived the malformed requests" kill -0 "$GUESTD_PID_boot1"
guest boot1 ato >/dev/null; rc=$?
eq "control: ato still works afterwards" "$rc" 0

# --- expiry: the host stops renewing, the grant lapses, the guest says so ---
licence 2022 Datacenter no
check "expiry: 12309 with reason_code expired" \
  wait_for 15 '[ "$(expired boot1)" -ge 1 ]'
eq "expiry: notification of the lapse is the renewal failure" \
  "$(gev boot1 | jq -r '[.[] | select(.reason_code == "expired")][0].notification')" "Invalid Host"
check "expiry: no longer Licensed" test "$(guest boot1 --json dlv | jq -r .license_status)" != Licensed
licence 2022 Datacenter yes
n0=$(successes boot1)
check "recovery: renews again once the host is licensed" wait_for 10 '[ "$(successes boot1)" -gt "$n0" ]'
kill "$GUESTD_PID_boot1"

# --- host absent, then present ---
port late1
REQ_TIMEOUT=1 guest_conf late1
guest late1 ipk "$KEY_2019_STD" >/dev/null
guestd late1
check "host absent: Invalid Host logged" wait_for 10 '[ "$(gcount late1 "Invalid Host")" -ge 1 ]'
kill "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null
hostd boot1 late1
check "host present: the retry succeeds" wait_for 10 '[ "$(successes late1)" -ge 1 ]'

# --- host killed mid-exchange, then back ---
kill -STOP "$HOSTD_PID"
guest late1 ato >"$T/mid.out" 2>&1 &
ATO=$!
sleep 0.3
kill -9 "$HOSTD_PID"; kill -CONT "$HOSTD_PID" 2>/dev/null; wait "$HOSTD_PID" 2>/dev/null
hostd boot1 late1
wait "$ATO"; rc=$?
check "mid-exchange: the attempt ends with a failure, not a hang (exit 3 or 4)" test "$rc" = 3 -o "$rc" = 4
check "mid-exchange: the next attempt succeeds" wait_for 15 'guest late1 ato >/dev/null'

# --- key replacement removes the published KVP data ---
guest late1 ipk WC2BQ-8NRM3-FDDYY-2BFGV-KHKQY >"$T/ipk.out"; rc=$?
eq "ipk non-AVMA key: accepted" "$rc" 0
check "ipk non-AVMA key: says AVMA stops" grep -q "not an AVMA key" "$T/ipk.out"
check "key replacement: the host dropped the guest's KVP data" \
  wait_for 10 'grep -q "late1: guest removed all the KVP data" "$T/hostd.log"'
check "key replacement: nothing left to clear" \
  wait_for 5 '[ "$(guest late1 --json dlv | jq -r .kvp_clear_pending)" = false ]'
eq "key replacement: dlv shows the other key type" "$(guest late1 --json dlv | jq -r .avma_key)" false
kill "$GUESTD_PID_late1"; wait "$GUESTD_PID_late1" 2>/dev/null

# upk without a daemon: the CLI tells the host itself
guest boot1 upk >"$T/upk.out"; rc=$?
eq "upk: exit 0" "$rc" 0
check "upk: the host dropped the guest's KVP data" \
  wait_for 5 'grep -q "boot1: guest removed all the KVP data" "$T/hostd.log"'
out=$(guest boot1 ato 2>&1); rc=$?
eq "ato with no key: exit 1" "$rc" 1
check "ato with no key: says what to do" grep -q "ipk" <<<"$out"

# --- product binding from the image's configuration ---
guest_conf bound1 product_version=2022 product_edition=Standard
out=$(guest bound1 ipk "$KEY_2025_DC" 2>&1); rc=$?
eq "product binding: ipk of another product's key fails" "$rc" 1
check "product binding: names this image's AVMA key" grep -q "$KEY_2022_STD" <<<"$out"
guest bound1 ipk "$KEY_2022_STD" >/dev/null; rc=$?
eq "product binding: the matching key installs" "$rc" 0

# --- a broken state file is reported, not silently replaced ---
echo "garbage [[[" >"$T/g-bound1/guest.state"
out=$(guest bound1 dlv 2>&1); rc=$?
eq "corrupt state: dlv fails" "$rc" 1
check "corrupt state: names the file" grep -q "guest.state" <<<"$out"
exit $FAILED
