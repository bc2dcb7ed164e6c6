#!/usr/bin/env bash
# The hash-chained record log (issue #18): `avma-host history verify` says an untouched history
# is intact (exit 0) and names the first bad record of each kind of tampering (exit 1): a field
# of a record edited, a line deleted, two lines swapped, the log truncated behind the store's
# back, a history.db row edited; a last line cut by a crash mid-append is reported by the daemon
# with its record number, set aside, and the daemon keeps serving.
. "$(dirname "$0")/lib.sh"

cat >"$T/host.conf" <<EOF2
[host]
journal=no
[limits]
activations_per_minute=100000
activation_burst=100000
EOF2
export HOSTD_CONF=$T/host.conf
licence 2022 Datacenter yes
port c1
guest_conf c1
guest c1 ipk "$KEY_2022_STD" >/dev/null
hostd c1
for i in 1 2 3 4 5 6; do guest c1 ato >/dev/null; done
kill "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null
L=$T/host/events.jsonl
# The 6 decisions and the daemon's own records (agent start and stop, licence, facts, runs).
N=$(wc -l <"$L")
eq "the log holds the 6 decisions among its records" "$(grep -c '"event_id":12310' "$L")" 6

out=$(host history verify); rc=$?
eq "intact: exit 0" "$rc" 0
check "intact: says so ($out)" grep -q "^history intact: $N chained record(s), head record $N, 1 signed checkpoint(s) verify, history.db agrees" <<<"$out"
eq "a clean stop signed a checkpoint of the last record" "$(jq -r .seq "$T/host/checkpoints.jsonl")" "$N"
check "the checkpoint is a signed note by the host key" grep -q '— avma-host-' <<<"$(jq -r .note "$T/host/checkpoints.jsonl")"
eq "every record carries seq and prev" "$(jq -s '[.[] | select(.seq and (.prev | length) == 64)] | length' "$L")" "$N"
eq "events still reads the log" "$(hev | jq length)" 6
jq -j .note "$T/host/checkpoints.jsonl" >"$T/cp.note"
"$B/avma-verify" checkpoint "$T/cp.note" --key "$T/host/host-key.pub" >"$T/verify-cp.out" 2>&1
rc=$?
eq "the offline avma-verify accepts the checkpoint ($(head -1 "$T/verify-cp.out"))" "$rc" 0
cp -a "$T/host" "$T/pristine"
restore() { rm -rf "$T/host"; cp -a "$T/pristine" "$T/host"; }

# tamper DESC FINDING RECORD: verify exits 1 and names the finding and the record
tamper() {
  local out rc
  out=$(host history verify --json); rc=$?
  eq "$1: exit 1" "$rc" 1
  eq "$1: finding" "$(jq -r .finding <<<"$out")" "$2"
  eq "$1: first bad record" "$(jq -r .record <<<"$out")" "$3"
  restore
}

sed -i '3s/"time":"2/"time":"1/' "$L"
tamper "edited field" edited 3
sed -i 4d "$L"
tamper "deleted line" deleted 4
sed -i '$d' "$L"
tamper "last line deleted" truncated "$N"
{ sed -n 1p "$L"; sed -n 3p "$L"; sed -n 2p "$L"; sed -n '4,$p' "$L"; } >"$L.t" && mv "$L.t" "$L"
tamper "swapped lines" reordered 2
head -n 4 "$L" >"$L.t" && cat "$L.t" >"$L" && rm "$L.t"
tamper "truncated behind the store" truncated 5
# Behind a checkpoint, without the store: the signed head catches what links cannot.
rm "$T/host/history.db"; head -n 5 "$L" >"$L.t" && cat "$L.t" >"$L" && rm "$L.t"
tamper "truncated after a checkpoint" truncated 6
rm "$T/host/history.db"; sed -i "${N}s/\"time\":\"2/\"time\":\"1/" "$L"
tamper "last record edited (the checkpoint's)" edited "$N"
jq -c --arg a "seq $N" --arg b "seq $((N - 1))" '.note |= sub($a; $b)' "$T/host/checkpoints.jsonl" >"$T/cp" &&
  cp "$T/cp" "$T/host/checkpoints.jsonl"
tamper "checkpoint altered" bad-checkpoint 0
row2=$(sqlite3 "$T/host/history.db" "SELECT json_extract(record, '\$.seq') FROM events WHERE id = 2")
sqlite3 "$T/host/history.db" "UPDATE events SET notification = 'Activation Denied' WHERE id = 2"
tamper "history.db row edited" store-differs "$row2"
out=$(host history verify 2>/dev/null); rc=$?
eq "restored: intact again" "$rc" 0
mkdir "$T/host/events.jsonl.d" && rm "$L" && mv "$T/host/events.jsonl.d" "$L"
host history verify >/dev/null 2>&1; eq "unreadable log (a directory): exit 2" "$?" 2
restore

# A crash mid-append: the last line is cut. verify says it is no tampering; the daemon sets it
# aside with its record number and keeps serving.
printf '{"time":"2026-01-01T00:00:00Z","event_id":123' >>"$L"
out=$(host history verify 2>"$T/verify.err"); rc=$?
eq "cut last line: not tampering (exit 0)" "$rc" 0
check "cut last line: warned" grep -q 'cut by a crash' "$T/verify.err"
hostd c1
check "daemon names the cut record" grep -q "record $((N + 1)) was cut by a crash mid-append" "$T/hostd.log"
side=$(ls "$T"/host/events.jsonl.cut-$((N + 1))-* 2>/dev/null | head -1)
check "cut bytes kept in a side file" test -n "$side"
[[ $side ]] && eq "side file holds the cut bytes" "$(cat "$side")" '{"time":"2026-01-01T00:00:00Z","event_id":123'
guest c1 ato >/dev/null; eq "daemon keeps serving after the cut" "$?" 0
kill "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null
out=$(host history verify --json); rc=$?
eq "after the cut: intact" "$rc" 0
eq "after the cut: the chain goes on at record $((N + 1))" "$(jq -r .head <<<"$out")" "$(wc -l <"$L")"
eq "after the cut: record $((N + 1)) is the restart's first" "$(sed -n "$((N + 1))p" "$L" | jq -r .seq)" $((N + 1))

exit $FAILED
