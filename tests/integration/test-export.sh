#!/usr/bin/env bash
# Export bundles (issue #18 item 2, the fleet collector's input, docs/audit.md "Export bundles"):
# a real avma-hostd with real guest agents records the licence (set, then changed), the VMs' runs,
# the host's facts, its own start and stop and a key rotation as chained records of events.jsonl;
# `avma-host export --since N` writes the records up to the newest checkpoint, and
# `avma-verify bundle` accepts them and names the first bad record of each kind of tampering.
. "$(dirname "$0")/lib.sh"

cat >"$T/host.conf" <<EOF2
[host]
journal=no
EOF2
export HOSTD_CONF=$T/host.conf
L=$T/host/events.jsonl
PUB=$T/host/host-key.pub
# kinds EVENT_ID: how many records of that kind the log holds
kinds() { grep -c "\"event_id\":$1," "$L"; }
verify() { "$B/avma-verify" bundle "$@"; }

licence 2022 Datacenter yes
port vm1
port vm2
for vm in vm1 vm2; do
  guest_conf "$vm"
  guest "$vm" ipk "$KEY_2022_STD" >/dev/null
done
hostd vm1 vm2
for vm in vm1 vm2; do guest "$vm" ato >/dev/null; done
# The licence changes while the daemon runs: it records the licence it now reads.
licence 2025 Datacenter yes
check "a licence change is recorded by the daemon" wait_for 5 '(($(kinds 12311) >= 2))'
kill "$PORT_PID_vm2"; wait "$PORT_PID_vm2" 2>/dev/null
check "a VM's run end is recorded" wait_for 5 'grep -q "\"event_id\":12312,.*\"running\":false" "$L"'
kill "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null

eq "12310: both decisions" "$(kinds 12310)" 2
eq "12311: the licence at start and its change" "$(kinds 12311)" 2
eq "12311: the change names the new licence" \
  "$(jq -r 'select(.event_id == 12311) | .version' "$L" | tail -1)" 2025
eq "12312: two runs started" "$(jq -s '[.[] | select(.event_id == 12312 and .running)] | length' "$L")" 2
eq "12312: vm2's run ended by its channel, not repaired" \
  "$(jq -r 'select(.event_id == 12312 and (.running | not)) | "\(.vm) \(.reason) \(.repaired)"' "$L")" \
  "vm2 channel-closed false"
check "12313: the host facts" test "$(kinds 12313)" -ge 1
eq "12314: agent start and stop" "$(jq -r 'select(.event_id == 12314) | .what' "$L" | paste -sd,)" \
  "agent-start,agent-stop"
host_id=$(cat "$T/host/host-id")
eq "every record carries the host id" "$(jq -r .host_id "$L" | sort -u)" "$host_id"
q() { sqlite3 "$T/host/history.db" "$1"; }
eq "store: a licence change counted once (both logs hold it)" \
  "$(q 'SELECT count(*) FROM licence_changes')" 2
eq "store: the run states imported from the log" "$(q 'SELECT count(*) FROM vm_states')" 3
out=$(host history verify); rc=$?
eq "history verify: the new kinds are intact ($out)" "$rc" 0

# The first export: everything up to the clean stop's checkpoint.
N=$(wc -l <"$L")
host export --since 0 --output "$T/b0.jsonl" 2>/dev/null
eq "export --since 0: exit 0" "$?" 0
eq "header: format, host, range" \
  "$(head -1 "$T/b0.jsonl" | jq -r '"\(.format) \(.host_id) \(.since) \(.last)"')" \
  "avma-export v1 $host_id 0 $N"
eq "the records byte for byte" "$(sed -n "2,$((N + 1))p" "$T/b0.jsonl")" "$(cat "$L")"
eq "the last line is the newest checkpoint" "$(tail -1 "$T/b0.jsonl" | jq -r .checkpoint)" \
  "$(tail -1 "$T/host/checkpoints.jsonl" | jq -r .note)"
out=$(verify "$T/b0.jsonl" --key "$PUB"); rc=$?
eq "avma-verify bundle: OK ($out)" "$rc" 0
host export --since 0 >"$T/b0-stdout.jsonl" 2>/dev/null
eq "export to standard output: the same records" "$(sed -n "2,$((N + 1))p" "$T/b0-stdout.jsonl")" \
  "$(cat "$L")"
host export --output "$T/x" >/dev/null 2>&1
eq "export without --since: usage (exit 2)" "$?" 2

# A second run with a key rotation: the next export takes records N+1 .. M, and a bundle signed by
# the new key verifies with the old one through the rotation statement it carries.
OLD_PUB=$T/old.pub
cp "$PUB" "$OLD_PUB"
hostd vm1
guest vm1 ato >/dev/null
host key rotate >/dev/null 2>&1
check "12315: the rotation is recorded" wait_for 5 '(($(kinds 12315) == 1))'
kill "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null
M=$(wc -l <"$L")
eq "12315: it holds the statement verbatim" \
  "$(jq -r 'select(.event_id == 12315) | .statement' "$L")" "$(cat "$T"/host/keys/rotation-*.note)"
host export --since "$N" --output "$T/bn.jsonl" 2>/dev/null
eq "export --since N: exit 0" "$?" 0
eq "export --since N: records N+1 .. M" \
  "$(head -1 "$T/bn.jsonl" | jq -r '"\(.since) \(.last)"') $(sed -n 2p "$T/bn.jsonl" | jq -r .seq)" \
  "$N $M $((N + 1))"
eq "export --since N: the rotation statement" "$(grep -c '^{"rotation":' "$T/bn.jsonl")" 1
out=$(verify "$T/bn.jsonl" --key "$OLD_PUB"); rc=$?
eq "bundle signed by the new key verifies with the old one ($out)" "$rc" 0
out=$(verify "$T/bn.jsonl" --key "$PUB"); rc=$?
eq "...and with the new one" "$rc" 0
host export --since "$M" --output "$T/bm.jsonl" 2>/dev/null
eq "export --since M: no records" "$(grep -c '"seq":' "$T/bm.jsonl")" 0
out=$(verify "$T/bm.jsonl" --key "$PUB"); rc=$?
eq "export --since M: verifies ($out)" "$rc" 0
host export --since 100000 --output "$T/bbeyond.jsonl" 2>/dev/null
out=$(verify "$T/bbeyond.jsonl" --key "$PUB"); rc=$?
eq "export --since beyond M: no records, verifies ($out)" \
  "$rc $(grep -c '"seq":' "$T/bbeyond.jsonl")" "0 0"

# Another host: its key and its checkpoint.
mkdir -p "$T/other"
"$B/avma-hostd" --state-dir "$T/other" --config "$T/host.conf" --channel "x=$T/x.sock" \
  >"$T/other.log" 2>&1 &
OPID=$!
PIDS+=($OPID)
wait_for 5 '[[ -s $T/other/events.jsonl ]]'
kill "$OPID"; wait "$OPID" 2>/dev/null
OTHER_CP=$(tail -1 "$T/other/checkpoints.jsonl" | jq -r .note)

# tampered DESC [KEY] PATTERN: the tampered copy of the first bundle (signed before the rotation,
# so checked with the old key by default) fails (exit 1) with a verdict matching PATTERN
B0=$T/b0.jsonl
tampered() {
  local out rc
  out=$(verify "$T/t.jsonl" --key "${2:-$OLD_PUB}"); rc=$?
  eq "$1: exit 1" "$rc" 1
  check "$1: verdict ($out)" grep -qE "^FAILED: .*$3" <<<"$out"
}
rec_line() { echo $(($1 + 1)); } # bundle line of record N (after the header)
sed "$(rec_line 3)s/\"time\":\"2/\"time\":\"1/" "$B0" >"$T/t.jsonl"
tampered "record 3 edited" "" "record 3 was edited"
sed "$(rec_line 4)d" "$B0" >"$T/t.jsonl"
tampered "record 4 deleted" "" "record 4 was deleted"
{ sed -n 1,2p "$B0"; sed -n 4p "$B0"; sed -n 3p "$B0"; sed -n '5,$p' "$B0"; } >"$T/t.jsonl"
tampered "records 2 and 3 swapped" "" "record 2 is not at its place.*reordered"
sed "$(rec_line "$N")d" "$B0" >"$T/t.jsonl"
tampered "last record removed" "" "record $N is missing: the bundle was truncated"
head -n -1 "$B0" >"$T/t.jsonl"
tampered "checkpoint line cut off" "" "no checkpoint line.*truncated"
head -c -20 "$B0" >"$T/t.jsonl"
tampered "file cut mid-line" "" "cut: the bundle was truncated"
sed "$(rec_line "$N")s/\"time\":\"2/\"time\":\"1/" "$B0" >"$T/t.jsonl"
tampered "the checkpoint's record edited" "" "record $N was edited: its hash is not the one the checkpoint"
{ head -n -1 "$B0"; jq -cn --arg n "$(tail -1 "$B0" | jq -r .checkpoint | sed "s/^seq $N\$/seq $((N - 1))/")" \
  '{checkpoint: $n}'; } >"$T/t.jsonl"
tampered "forged checkpoint (its text altered)" "" "not signed by the trusted key"
{ head -n -1 "$B0"; jq -cn --arg n "$OTHER_CP" '{checkpoint: $n}'; } >"$T/t.jsonl"
tampered "another host's checkpoint" "" "not signed by the trusted key"
sed "1s/\"host_id\":\"[^\"]*\"/\"host_id\":\"$(cat "$T/other/host-id")\"/" "$B0" >"$T/t.jsonl"
tampered "header names another host" "" "header mismatch: the checkpoint is of host"
cp "$B0" "$T/t.jsonl"
tampered "the bundle checked with another host's key" "$T/other/host-key.pub" \
  "header mismatch: the bundle's host key"
verify "$T/missing.jsonl" --key "$PUB" >/dev/null 2>&1
eq "a missing bundle: exit 2" "$?" 2

# A rotation while the daemon is stopped is recorded at its next start; a bundle carries the
# installed certificate, which --root alone checks.
MID_ID=$(host key show --json | jq -r .key_id)
host key rotate >/dev/null 2>&1
NEW_ID=$(host key show --json | jq -r .key_id)
host key root-new --out "$T/admin" >/dev/null
host key certify --root "$T/admin/root.sec" "$PUB" --name kvm-07 --out "$T/kvm.cert" >/dev/null
host key install-cert "$T/kvm.cert" --root "$T/admin/root.pub" >/dev/null
hostd vm1
kill "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null
eq "12315: a rotation while stopped is recorded at start" \
  "$(jq -r 'select(.event_id == 12315) | "\(.old_key_id) \(.new_key_id)"' "$L" | tail -1)" \
  "$MID_ID $NEW_ID"
host export --since "$M" --output "$T/bc.jsonl" 2>/dev/null
eq "the bundle carries both rotations and the certificate" \
  "$(grep -c '^{"rotation":' "$T/bc.jsonl") $(grep -c '^{"cert":' "$T/bc.jsonl")" "2 1"
out=$(verify "$T/bc.jsonl" --key "$OLD_PUB"); rc=$?
eq "two rotations: verifies with the first key ($out)" "$rc" 0
out=$(verify "$T/bc.jsonl" --root "$T/admin/root.pub"); rc=$?
eq "--root alone: the bundle's certificate ($out)" "$rc" 0
host key root-new --out "$T/admin2" >/dev/null
out=$(verify "$T/bc.jsonl" --root "$T/admin2/root.pub"); rc=$?
eq "--root of another provider: exit 1 ($out)" "$rc" 1

# A store that cannot be opened stops neither activations nor the daemon's records: they go to
# the log, the durable record, whatever becomes of the index.
mv "$T/host/history.db" "$T/history.db.away"
rm -f "$T/host/history.db-wal" "$T/host/history.db-shm"
mkdir "$T/host/history.db"
# What the store would tell at start (the licence already recorded, vm1's run left open by the
# last stop) is read from the log instead, so neither is recorded again.
starts() { grep '"event_id":12312' "$L" | grep '"vm":"vm1"' | grep -c '"running":true'; }
n0=$(kinds 12314) n11=$(kinds 12311) s0=$(starts)
hostd vm1
guest vm1 ato >/dev/null
eq "no store: activation still works" "$?" 0
kill "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null
eq "no store: agent start and stop still recorded" "$(($(kinds 12314) - n0))" 2
eq "no store: the licence is not recorded again" "$(kinds 12311)" "$n11"
eq "no store: vm1's open run goes on, no second start" "$(starts)" "$s0"
rmdir "$T/host/history.db"
out=$(host history verify); rc=$?
eq "no store: the log is intact ($out)" "$rc" 0

exit $FAILED
