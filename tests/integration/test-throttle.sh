#!/usr/bin/env bash
# Throttling is back-pressure (brief section 6): a host over its limits answers rate-limited with
# a retry-after, and the guest waits and sends the same request again within its timeout. Dozens
# of back-to-back `ato` runs from one VM all succeed (CLI on the port, then through the daemon);
# only a guest still refused when its timeout ends logs Invalid Host, reason code rate-limited.
. "$(dirname "$0")/lib.sh"

# Tight limits so that throttling happens within a few runs: 3 activations at once, then one per
# half second; requests 10/s, burst 20 (each ato is HELLO, SET, ACTIVATE).
cat >"$T/host.conf" <<EOF2
[host]
journal=no
[limits]
activation_burst=3
activations_per_minute=120
EOF2
export HOSTD_CONF=$T/host.conf
licence 2022 Datacenter yes
port thr1; port thr2; port slow1
hostd thr1 thr2 slow1

N=24
guest thr1 ipk "$KEY_2022_STD" >/dev/null
fails=0
for ((i = 0; i < N; i++)); do guest thr1 ato >/dev/null || fails=$((fails + 1)); done
eq "back-to-back: $N ato runs on the port, none fails" "$fails" 0
eq "back-to-back: $N AVMA Success 12309 events" "$(gcount thr1 "AVMA Success")" "$N"
eq "back-to-back: no Invalid Data in the guest's log" "$(gcount thr1 "Invalid Data")" 0
eq "back-to-back: $N decisions on the host" \
  "$(hev | jq '[.[] | select(.vm == "thr1" and .notification == "AVMA Success")] | length')" "$N"
check "back-to-back: the host did throttle (rate-limited refusals logged)" \
  test "$(hev | jq '[.[] | select(.vm == "thr1" and .reason_code == "rate-limited")] | length')" -ge 1

# The same through the daemon (the CLI asks avma-guestd over its control socket).
guest thr2 ipk "$KEY_2022_STD" >/dev/null
guestd thr2
wait_for 10 '[ "$(gcount thr2 "AVMA Success")" -ge 1 ]'
fails=0
for ((i = 0; i < N; i++)); do guest thr2 ato >/dev/null || fails=$((fails + 1)); done
eq "back-to-back via the daemon: $N ato runs, none fails" "$fails" 0
check "back-to-back via the daemon: every run is an AVMA Success" \
  test "$(gcount thr2 "AVMA Success")" -ge "$N"
eq "back-to-back via the daemon: no Invalid Data" "$(gcount thr2 "Invalid Data")" 0

# A guest whose timeout is shorter than the host's retry-after: Invalid Host, rate-limited.
cat >"$T/host2.conf" <<EOF2
[host]
journal=no
[limits]
activation_burst=1
activations_per_minute=1
EOF2
kill "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null
HOSTD_CONF=$T/host2.conf hostd slow1
REQ_TIMEOUT=2 guest_conf slow1
guest slow1 ipk "$KEY_2022_STD" >/dev/null
guest slow1 ato >/dev/null; rc=$?
eq "still throttled: the first run succeeds" "$rc" 0
guest slow1 ato >"$T/slow1.out" 2>&1; rc=$?
eq "still throttled at the timeout: ato exits 3 (Invalid Host)" "$rc" 3
eq "still throttled: 12309 Invalid Host" "$(gev slow1 | jq -r '.[-1].notification')" "Invalid Host"
eq "still throttled: reason code rate-limited" "$(gev slow1 | jq -r '.[-1].reason_code')" rate-limited
check "still throttled: the CLI says so" grep -qi "rate-limit" "$T/slow1.out"
exit $FAILED
