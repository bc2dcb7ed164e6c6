#!/usr/bin/env bash
# CLI conventions (both CLIs share common/cli-verbs): --help lists the verbs, VERB --help and
# help VERB describe one, an incomplete verb names its sub-verbs, an unknown one says so; then
# `avma-host events --follow` and `avma-host kvp` against a real avma-hostd and guest.
. "$(dirname "$0")/lib.sh"

jqe() { jq -e "$@" >/dev/null; }

# --- help and verb resolution ---
out=$(host --help); rc=$?
eq "--help: exit 0" "$rc" 0
check "--help: lists the verbs with their summaries" grep -q '^  license set .*licensed version' <<<"$out"
check "--help: lists kvp" grep -q '^  kvp ' <<<"$out"
out=$(host events --help); rc=$?
eq "events --help: exit 0" "$rc" 0
check "events --help: its usage line" grep -q '^Usage: avma-host .*events .*--follow' <<<"$out"
eq "help events: the same text" "$(host help events)" "$out"
out=$(host license 2>&1); rc=$?
eq "license (no sub-verb): exit 2" "$rc" 2
check "license: names its sub-verbs" grep -q 'license needs a sub-verb: set, show' <<<"$out"
check "license: not 'unknown verb'" bash -c '! grep -q "unknown verb" <<<"$1"' _ "$out"
out=$(host channel 2>&1); rc=$?
eq "channel (no sub-verb): exit 2" "$rc" 2
check "channel: names its sub-verbs" grep -q 'channel needs a sub-verb: add, remove' <<<"$out"
out=$(host frobnicate 2>&1); rc=$?
eq "unknown verb: exit 2" "$rc" 2
check "unknown verb: says so and suggests --help" grep -q "avma-host: unknown verb 'frobnicate' (see avma-host --help)" <<<"$out"
out=$("$B/avma-guest" --help); rc=$?
eq "avma-guest --help: exit 0" "$rc" 0
check "avma-guest --help: lists ato with its summary" grep -q '^  ato .*Activate now' <<<"$out"
out=$("$B/avma-guest" ato --help); rc=$?
eq "avma-guest ato --help: exit 0" "$rc" 0
check "avma-guest ato --help: documents the exit status" grep -q '3 Invalid Host' <<<"$out"
out=$("$B/avma-guest" bogus 2>&1); rc=$?
eq "avma-guest unknown verb: exit 2" "$rc" 2
check "avma-guest unknown verb: prefix is the program" grep -q "^avma-guest: unknown verb 'bogus'" <<<"$out"

# --- events --follow: started before the log exists ---
"$B/avma-host" --state-dir "$T/host" events --follow --json >"$T/follow.json" 2>"$T/follow.err" &
FJ=$!; PIDS+=($FJ)
"$B/avma-host" --state-dir "$T/host" events --follow >"$T/follow.txt" 2>&1 &
FT=$!; PIDS+=($FT)
sleep 0.5
check "follow: waits for a log that is not there yet" kill -0 "$FJ"
licence 2022 Datacenter yes
port vm1
hostd vm1
guestd vm1
# The CLI goes through the daemon once it listens (otherwise both would write guest.state).
check "guestd: control socket up" wait_for 10 '[[ -S $T/g-vm1/control.sock ]]'
guest vm1 ipk "$KEY_2022_STD" >/dev/null
guest vm1 ato >/dev/null
check "follow --json: the first decision appears" wait_for 10 '[[ $(wc -l <"$T/follow.json") -ge 1 ]]'
n0=$(wc -l <"$T/follow.json")
guest vm1 ato >/dev/null
check "follow --json: a new decision appears" wait_for 10 '[[ $(wc -l <"$T/follow.json") -gt $n0 ]]'
check "follow --json: one object per line, all 12310" \
  bash -c 'jq -se "length >= 2 and all(.[]; .event_id == 12310)" "$1" >/dev/null' _ "$T/follow.json"
# Each followed line is one of the log's, verbatim (the log may already hold a later decision
# that follow has not printed yet: under valgrind it lags).
check "follow --json: the lines are the log's" \
  bash -c 'while IFS= read -r l; do grep -qxF -- "$l" "$2" || exit 1; done <"$1"' _ \
  "$T/follow.json" "$T/host/events.jsonl"
check "follow text: header and rows" wait_for 5 'grep -q "^TIME" "$T/follow.txt" && grep -q "AVMA Success" "$T/follow.txt"'
kill -TERM "$FJ"; wait "$FJ"; rc=$?
eq "follow: SIGTERM ends it cleanly" "$rc" 0
kill -INT "$FT"; wait "$FT"; rc=$?
eq "follow: SIGINT ends it cleanly" "$rc" 0
start=$SECONDS
timeout 10 bash -c '"$1" --state-dir "$2" events --follow --json | head -n 1 >/dev/null' _ "$B/avma-host" "$T/host"
rc=$?
eq "follow: ends when standard output closes" "$rc" 0
check "follow: ...at once (< 5 s)" test $((SECONDS - start)) -lt 5
out=$(host events --follow --since nonsense 2>&1); rc=$?
eq "follow: a bad --since is still a usage error" "$rc" 2

# --- kvp ---
check "kvp: the view has the host's answer and the guest's intrinsic items" wait_for 10 \
  '[[ $(host kvp vm1 --json | jq "[.[] | select(.Source == 2 or .Name == \"AvmaNotification\")] | length") -gt 1 ]]'
j=$(host kvp vm1 --json); rc=$?
eq "kvp --json: exit 0" "$rc" 0
check "kvp --json: Hyper-V's item shape (Name, Data, Source) only" \
  jqe 'type == "array" and length > 0 and all(.[]; (keys == ["Data", "Name", "Source"]) and (.Data | type) == "string")' <<<"$j"
eq "kvp --json: the host's answer (Source 0)" "$(jq -r '.[] | select(.Source == 0 and .Name == "AvmaNotification") | .Data' <<<"$j")" "AVMA Success"
eq "kvp --json: host-provided items (Source 0)" "$(jq -r '.[] | select(.Source == 0 and .Name == "VirtualMachineName") | .Data' <<<"$j")" vm1
eq "kvp --json: intrinsic items (Source 2)" "$(jq -r '.[] | select(.Source == 2 and .Name == "OSPlatformId") | .Data' <<<"$j")" 100
eq "kvp --pool auto: only Source 2" "$(host kvp vm1 --pool auto --json | jq -c '[.[].Source] | unique')" "[2]"
out=$(host kvp vm1); rc=$?
eq "kvp text: exit 0" "$rc" 0
check "kvp text: a row per item with its pool" grep -qE '^auto-external +VirtualMachineName +vm1$' <<<"$out"
out=$(host kvp nosuchvm 2>&1); rc=$?
eq "kvp: unknown VM exits 3" "$rc" 3
check "kvp: unknown VM says so" grep -q "no VM 'nosuchvm'" <<<"$out"
out=$(host kvp vm1 --pool bogus 2>&1); rc=$?
eq "kvp: a bad --pool is a usage error" "$rc" 2
out=$(host kvp 2>&1); rc=$?
eq "kvp: no VM is a usage error" "$rc" 2
# What the guest wrote is made terminal-safe in the text form, and kept as is in --json: a view
# as a stopped daemon left it, with an escape sequence in an intrinsic item.
mkdir -p "$T/view"
printf '%s\n' '{"version":1,"written":"2026-01-01T00:00:00Z","pid":1,"running":false,"vms":[{"name":"evil","uuid":"","kvp":{"auto":{"OSName":"x\u001b[2Jy"}}}]}' >"$T/view/vms.json"
out=$("$B/avma-host" --state-dir "$T/view" kvp evil --pool auto); rc=$?
eq "kvp text: exit 0 on a stopped daemon's view" "$rc" 0
check "kvp text: no escape character reaches the terminal" bash -c '! grep -q $'"'"'\x1b'"'"' <<<"$1"' _ "$out"
check "kvp text: the control character shown as ?" grep -q 'OSName .*x?\[2Jy' <<<"$out"
eq "kvp --json: the value as the guest sent it" "$("$B/avma-host" --state-dir "$T/view" kvp evil --json | jq -r '.[0].Data')" $'x\e[2Jy'
exit $FAILED
