#!/usr/bin/env bash
# Crash safety: kill -9 the host agent and the guest agents at random points of a busy run (four
# guests renewing every second), restarting each at once, CRASH_KILLS times (default 200) every
# 20-100 ms. Afterwards every state file opens, nothing acknowledged is lost (each guest 12309
# AVMA Success has its host 12310 record), and service resumes.
. "$(dirname "$0")/lib.sh"

if [[ ${AVMA_WRAP:-} ]]; then
  echo "# skipped under AVMA_WRAP: kill -9 leaves a wrapper nothing to report"
  exit 0
fi
jq_true() { jq -e "$@" >/dev/null; }
KILLS=${CRASH_KILLS:-200}
SEED=${CRASH_SEED:-$$}
RANDOM=$SEED
echo "# seed $SEED (CRASH_SEED=$SEED reproduces the kill schedule)"

VMS="c1 c2 c3 c4"
# Every request must reach the decision (no activation rate limit), and a restarted host must
# find its channels again quickly.
cat >"$T/host.conf" <<EOF
[host]
journal=no
[limits]
activations_per_minute=100000
activation_burst=100000
reconnect_max_ms=500
EOF
export HOSTD_CONF=$T/host.conf
licence 2022 Datacenter yes
for vm in $VMS; do
  port "$vm"
  RENEW=1 REQ_TIMEOUT=2 guest_conf "$vm"
  guest "$vm" ipk "$KEY_2022_STD" >/dev/null
done
hostd $VMS
for vm in $VMS; do guestd "$vm"; done
sleep 1

victims=(host host $VMS) # the host a third of the time, each guest a sixth
start=$SECONDS
hkills=0 gkills=0
for ((i = 0; i < KILLS; i++)); do
  ms=$((20 + RANDOM % 81))
  sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
  v=${victims[RANDOM % ${#victims[@]}]}
  if [[ $v == host ]]; then
    kill -9 "$HOSTD_PID" 2>/dev/null; wait "$HOSTD_PID" 2>/dev/null
    "$B/avma-hostd" --state-dir "$T/host" --config "$HOSTD_CONF" \
      $(for vm in $VMS; do echo --channel "$vm=$T/$vm.sock"; done) >>"$T/hostd.log" 2>&1 &
    HOSTD_PID=$!; PIDS+=($HOSTD_PID)
    hkills=$((hkills + 1))
  else
    eval "p=\$GUESTD_PID_$v"
    kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null
    guestd "$v"
    gkills=$((gkills + 1))
  fi
done
echo "# $KILLS kills ($hkills host, $gkills guest) in $((SECONDS - start)) s"
# Let the last ones finish what they were doing, then the final crash of everything.
sleep 2
kill -9 "$HOSTD_PID"
for vm in $VMS; do eval "kill -9 \$GUESTD_PID_$vm"; done
wait "$HOSTD_PID" 2>/dev/null
for vm in $VMS; do eval "wait \$GUESTD_PID_$vm" 2>/dev/null; done

# --- state opens cleanly ---
for vm in $VMS; do
  guest "$vm" dlv >/dev/null; rc=$?
  eq "$vm: avma-guest dlv works after the crashes" "$rc" 0
  check "$vm: state file parses (dlv --json)" jq_true '.partial_key == "78VHK"' \
    <<<"$(guest "$vm" --json dlv)"
  check "$vm: guest events --json parses" jq_true 'type == "array"' <<<"$(gev "$vm")"
done
host license show >/dev/null; rc=$?
eq "host: license show works after the crashes" "$rc" 0
eq "host: licence intact" "$(host license show --json | jq -r '.version + " " + .edition')" \
  "2022 Datacenter"
hev >"$T/host-events.json"; rc=$?
eq "host: events --json works" "$rc" 0
check "host: events --json is one JSON array" jq_true 'type == "array"' "$T/host-events.json"

# --- nothing acknowledged is lost ---
# Each guest success (in time order) is matched with a distinct host success of the same VM that
# was decided at most 5 s before it (1 s after, for rounding to whole seconds). A host record
# without a guest one is fine: the guest was killed before it heard the answer.
total=0
for vm in $VMS; do
  gev "$vm" >"$T/$vm-events.json"
  read -r n missing < <(jq -rn --slurpfile g "$T/$vm-events.json" \
    --slurpfile h "$T/host-events.json" --arg vm "$vm" '
    def t: .time | fromdateiso8601;
    ($g[0] | map(select(.notification == "AVMA Success") | t) | sort) as $gt
    | ($h[0] | map(select(.vm == $vm and .event_id == 12310 and .notification == "AVMA Success")
                   | t) | sort) as $ht
    | reduce $gt[] as $x ({i: 0, missing: 0};
        .i as $i0
        | (first(range($i0; $ht | length) | select($ht[.] >= $x - 5)) // ($ht | length)) as $j
        | if $j < ($ht | length) and $ht[$j] <= $x + 1 then .i = $j + 1
          else .missing += 1 end)
    | "\($gt | length) \(.missing)"')
  echo "# $vm: $n guest successes, $missing without a host record"
  eq "$vm: every guest AVMA Success has its host 12310" "$missing" 0
  total=$((total + n))
done
check "the run was busy: at least 20 successes acknowledged across the kills ($total)" \
  test "$total" -ge 20

# --- service resumes ---
hostd $VMS
guest c1 ato >/dev/null; rc=$?
eq "service resumes: a final ato succeeds" "$rc" 0
# The record log's chain survived every kill: lines cut mid-append were set aside at restart.
host history verify >"$T/verify.out" 2>&1; rc=$?
eq "record log: history verify says intact after the kills ($(head -1 "$T/verify.out"))" "$rc" 0
guestd c2
check "service resumes: a restarted guest agent activates" \
  wait_for 10 '[ "$(gcount c2 "AVMA Success")" -gt "$(jq "[.[] | select(.notification == \"AVMA Success\")] | length" "$T/c2-events.json")" ]'
exit $FAILED
