#!/usr/bin/env bash
# History store (issue #11): avma-hostd is SIGKILLed at random points during bursts of
# activations; every decision a guest was told about (its 12309 records, ato's exit codes) is in
# STATE/history.db right after the kill, before any restart could repair it, and the store opens
# cleanly. Also: VM run intervals from channel connects and closes, runs closed when a VM is not
# seen after a restart, licence changes (daemon running or not), `events` from the store and
# without it, the report's three formats agreeing, and the metrics textfile's syntax.
. "$(dirname "$0")/lib.sh"

DB=$T/host/history.db
PROM=$T/host/avma.prom
q() { sqlite3 -readonly "$DB" "$@"; }
cat >"$T/host.conf" <<'EOF'
[host]
journal=no
[limits]
requests_per_second=1000
request_burst=1000
activations_per_minute=100000
activation_burst=100000
[history]
confirm_running_within=2
EOF
# hostd_c VM...: like hostd (which waits until every channel is connected), with the test's
# config. The store already exists after the first run, so waiting for it is not enough.
hostd_c() {
  HOSTD_CONF=$T/host.conf hostd "$@"
  wait_for 5 '[[ -e $DB ]]'
}

VMS=(ok1 ok2 ok3 den1)
licence 2022 Datacenter yes
for vm in "${VMS[@]}"; do port "$vm"; REQ_TIMEOUT=1 guest_conf "$vm"; done
for vm in ok1 ok2 ok3; do guest "$vm" ipk "$KEY_2022_STD" >/dev/null; done
guest den1 ipk "$KEY_2025_DC" >/dev/null

# burst VM: activate back to back until $T/stop exists, recording ato's exit codes
burst() {
  local vm=$1
  while [[ ! -e $T/stop ]]; do
    guest "$vm" ato >/dev/null 2>&1
    echo $? >>"$T/rc-$vm"
  done
}

# Where decisions are looked up: the store, or the JSON-lines log it imports.
store_grants() { q "SELECT granted_until FROM events WHERE vm = '$1' AND notification = 'AVMA Success'"; }
store_count() { q "SELECT count(*) FROM events WHERE vm = '$1' AND notification = '$2'"; }
log_grants() {
  jq -r --arg vm "$1" 'select(.vm == $vm and .notification == "AVMA Success") |
    .granted_until | fromdateiso8601' "$T/host/events.jsonl"
}
log_count() {
  jq -s --arg vm "$1" --arg n "$2" '[.[] | select(.vm == $vm and .notification == $n)] | length' \
    "$T/host/events.jsonl"
}
acked_in_store() { acked_in store; }
acked_in_log() { acked_in log; }

# acked_in store|log: every decision a guest heard of is there
acked_in() {
  local src=$1 vm good=1
  for vm in "${VMS[@]}"; do
    # AVMA Success records, matched on the grant: the guest's granted_until is the host's, moved
    # by the second that may tick between the host's decision and the guest reading the reply.
    # Each guest record takes the oldest unmatched stored one within [g - 2 s, g].
    "${src}_grants" "$vm" | sort -n >"$T/have"
    gev "$vm" | jq '.[] | select(.notification == "AVMA Success") | .granted_until | fromdateiso8601' |
      sort -n >"$T/want"
    if ! awk 'BEGIN { n = 0; i = 0 } NR == FNR { h[n++] = $1; next }
              { while (i < n && h[i] < $1 - 2) i++
                if (i < n && h[i] <= $1) i++; else { print "# missing grant", $1; bad = 1 } }
              END { exit bad }' "$T/have" "$T/want"; then
      echo "# $vm: guest-acknowledged successes missing from the $src"; good=0
    fi
    local g_denied s_denied zeros s_ok
    g_denied=$(gcount "$vm" "Activation Denied")
    s_denied=$("${src}_count" "$vm" "Activation Denied")
    ((g_denied <= s_denied)) || { echo "# $vm: $g_denied denials acknowledged, $s_denied stored"; good=0; }
    zeros=$(grep -c '^0$' "$T/rc-$vm" 2>/dev/null)
    s_ok=$("${src}_count" "$vm" "AVMA Success")
    ((${zeros:-0} <= s_ok)) || { echo "# $vm: ato succeeded $zeros times, $s_ok stored"; good=0; }
  done
  ((good))
}

# ---- SIGKILL during bursts ---------------------------------------------------------------------
rounds=5
all_ok=1 integrity_ok=1 log_ok=1
for round in $(seq $rounds); do
  hostd_c "${VMS[@]}"
  rm -f "$T/stop"
  BURSTS=()
  for vm in "${VMS[@]}"; do burst "$vm" & BURSTS+=($!); done
  # a random point between 0.5 s and 2 s into the burst
  sleep "$((RANDOM % 2)).$((RANDOM % 10))"; sleep 0.3
  kill -9 "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null
  touch "$T/stop"; wait "${BURSTS[@]}"
  [[ $(q 'PRAGMA integrity_check') == ok ]] || integrity_ok=0
  # events.jsonl is the store's write-ahead log: every acknowledged decision must be there at
  # once, and in the store once the restarted daemon has imported it. (The log's other records,
  # 12311-12315, go to other tables: counting every line, this wait ran to its timeout.)
  acked_in_log || log_ok=0
  hostd_c "${VMS[@]}"
  wait_for 10 '[ "$(q "SELECT count(*) FROM events")" -ge "$(grep -c "\"event_id\":12310" "$T/host/events.jsonl")" ]'
  kill "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null
  acked_in_store || all_ok=0
done
echo "# $rounds kills: $(q "SELECT count(*) FROM events") decisions stored," \
  "$(cat "$T"/rc-ok1 "$T"/rc-ok2 "$T"/rc-ok3 | grep -c '^0$') successful ato runs"
check "crash: the store opens cleanly after every SIGKILL" test "$integrity_ok" = 1
check "crash: every acknowledged decision was in events.jsonl at once" test "$log_ok" = 1
check "crash: every acknowledged decision is in the store after the restart" test "$all_ok" = 1
check "crash: bursts actually activated" test "$(cat "$T"/rc-ok1 | grep -c '^0$')" -ge 3
check "crash: denials were acknowledged too" test "$(gcount den1 "Activation Denied")" -ge 1

# After a restart the store holds exactly what events.jsonl holds, and `events` agrees.
hostd_c "${VMS[@]}"
# (12310 records: the log also holds the daemon's own records, which go to other tables.)
lines=$(grep -c '"event_id":12310' "$T/host/events.jsonl")
eq "restart: store and events.jsonl hold the same records" "$(q 'SELECT count(*) FROM events')" "$lines"
eq "events --json reads the same records" "$(hev | jq length)" "$lines"
eq "events --json keeps its fields" \
  "$(hev | jq -r '[.[] | select(.vm == "ok1" and .notification == "AVMA Success")][-1] | [has("time"), has("event_id"), has("guest_version"), has("key_last5"), has("granted_until"), has("host_id")] | all')" true
eq "events --vm filter" "$(host events --json --vm den1 | jq '[.[] | select(.vm != "den1")] | length')" 0
# The operator's view after the restart shows each VM's last decision from the history at once
# (no guest has asked since; a renewal can be a day away).
view_of() { jq -r --arg n "$1" '.vms[] | select(.name == $n) | "\(.notification) \(.granted_until)"' \
  "$T/host/vms.json" 2>/dev/null; }
for vm in ok1 den1; do
  last=$(hev | jq -r --arg n "$vm" '[.[] | select(.vm == $n and .granted_until != null)][-1] | "\(.notification) \(.granted_until)"')
  check "restart: vms.json shows $vm's last decision ($last)" wait_for 5 '[[ "$(view_of '"$vm"')" == "$last" ]]'
done
check "restart: avma-host vms shows the grant" grep -q "AVMA Success" <<<"$(host vms 2>&1 | grep ok1)"

# ---- VM run intervals -----------------------------------------------------------------------------
# A VM's channel closing (QEMU gone) ends its run; runs never open twice in a row.
kill "$PORT_PID_ok3"; wait "$PORT_PID_ok3" 2>/dev/null
wait_for 5 '[[ $(q "SELECT running FROM vm_states WHERE vm = '"'ok3'"' ORDER BY id DESC LIMIT 1") == 0 ]]'
eq "runs: the channel closing ends ok3's run" \
  "$(q "SELECT running || ' ' || reason FROM vm_states WHERE vm = 'ok3' ORDER BY id DESC LIMIT 1")" \
  "0 channel-closed"
eq "runs: no VM starts twice without stopping" \
  "$(q "SELECT count(*) FROM vm_states a JOIN vm_states b ON a.vm_key = b.vm_key AND b.id = (SELECT min(id) FROM vm_states WHERE vm_key = a.vm_key AND id > a.id) WHERE a.running = b.running")" 0
eq "runs: the kills did not end runs of VMs still there" \
  "$(q "SELECT count(*) FROM vm_states WHERE vm = 'ok1'")" 1
# A VM that is gone when the agent comes back: its run ends at the agent's last sign of life.
kill -9 "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null
alive=$(q "SELECT value FROM meta WHERE key = 'alive_at'")
kill "$PORT_PID_ok2"; wait "$PORT_PID_ok2" 2>/dev/null
sleep 1.2
hostd_c "${VMS[@]}"
wait_for 6 '[[ $(q "SELECT running FROM vm_states WHERE vm = '"'ok2'"' ORDER BY id DESC LIMIT 1") == 0 ]]'
eq "runs: a VM not seen after a restart is closed" \
  "$(q "SELECT reason FROM vm_states WHERE vm = 'ok2' ORDER BY id DESC LIMIT 1")" \
  not-running-after-agent-restart
eq "runs: ...at the agent's last sign of life" \
  "$(q "SELECT time FROM vm_states WHERE vm = 'ok2' ORDER BY id DESC LIMIT 1")" "$alive"
eq "runs: VMs seen again keep their run open" \
  "$(q "SELECT running FROM vm_states WHERE vm = 'ok1' ORDER BY id DESC LIMIT 1")" 1

# ---- licence changes --------------------------------------------------------------------------------
licence 2022 Datacenter no
wait_for 5 '(( $(q "SELECT count(*) FROM licence_changes WHERE activated = 0") >= 1 ))'
check "licence: a change is recorded while the daemon runs" \
  test "$(q 'SELECT count(*) FROM licence_changes WHERE activated = 0')" = 1
kill "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null
eq "metrics: a clean stop says the agent is not running" \
  "$(grep '^avma_host_agent_running ' "$PROM")" "avma_host_agent_running 0"
licence 2022 Datacenter yes
month=$(date -u +%Y-%m)
eq "licence: a change made while the daemon is stopped is in the report" \
  "$(host report --month "$month" --format json | jq '.host.licence_changes | length')" \
  "$(grep -c . "$T/host/licence-history.jsonl")"
hostd_c ok1 den1
eq "licence: ...and imported when it starts" "$(q 'SELECT count(*) FROM licence_changes')" \
  "$(grep -c . "$T/host/licence-history.jsonl")"

# ---- report: the three formats carry the same numbers ---------------------------------------------
guest ok1 ato >/dev/null
# The store imports events.jsonl in batches after the replies: let it catch up.
wait_for 10 '[ "$(q "SELECT count(*) FROM events")" -ge "$(grep -c "\"event_id\":12310" "$T/host/events.jsonl")" ]'
host report --month "$month" --format json >"$T/r.json"
host report --month "$month" --format csv >"$T/r.csv"
host report --month "$month" >"$T/r.txt"
stored_ok=$(q "SELECT count(*) FROM events WHERE notification = 'AVMA Success'")
eq "report: successes are those stored" "$(jq .total.attempts.success "$T/r.json")" "$stored_ok"
csv_total=$(tr -d '\r' <"$T/r.csv" | awk -F, '$1 == "total" { print $5, $6, $7, $8, $10, $11, $12, $13 }')
json_total=$(jq -r '.total | "\(.vms_activated) \(.peak_concurrent) \(.running_at_end) \(.vm_days_licensed | tostring) \(.attempts.success) \(.attempts.activation_denied) \(.attempts.invalid_host) \(.attempts.invalid_data)"' "$T/r.json")
txt_total=$(awk '$1 == "TOTAL" && NF == 10 { print $2, $3, $4, $5, $7, $8, $9, $10 }' "$T/r.txt")
# jq prints 0.00 as 0 and 1.50 as 1.5: compare days as numbers
norm() { awk '{ $4 = sprintf("%.2f", $4); print }'; }
eq "report: CSV and JSON totals agree" "$(norm <<<"$csv_total")" "$(norm <<<"$json_total")"
eq "report: text and JSON totals agree" "$(norm <<<"$txt_total")" "$(norm <<<"$json_total")"
check "report: every VM has a row" test "$(jq '.vms | length' "$T/r.json")" -ge 4
eq "report: the host's activation gap is shown" "$(jq '.host.activated_whole_month' "$T/r.json")" false
out=$(host report --month 2026-13 2>&1); rc=$?
eq "report: a bad month is a usage error" "$rc" 2

# ---- metrics -----------------------------------------------------------------------------------------
wait_for 3 'grep -q "avma_host_events_total{notification=\"AVMA Success\"} [1-9]" "$PROM"'
check "metrics: the textfile counts this run's successes" \
  grep -q 'avma_host_events_total{notification="AVMA Success"} [1-9]' "$PROM"
check "metrics: the textfile is valid exposition format" awk -f "$(dirname "$0")/../tools/prom-check.awk" "$PROM"
if command -v promtool >/dev/null; then
  check "metrics: promtool check metrics" promtool check metrics <"$PROM"
fi
check "metrics: no temporary files left" test -z "$(ls "$T/host" | grep '\.tmp\.')"

# ---- without a store, events falls back to events.jsonl ----------------------------------------------
kill "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null
mv "$DB" "$DB.away"; rm -f "$DB-wal" "$DB-shm"
eq "no store: events --json reads events.jsonl" "$(hev | jq length)" "$(grep -c '"event_id":12310' "$T/host/events.jsonl")"
check "no store: report still runs from the logs" \
  test "$(host report --month "$month" --format json 2>/dev/null | jq .total.attempts.success)" = "$stored_ok"
exit $FAILED
