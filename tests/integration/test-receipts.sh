#!/usr/bin/env bash
# Signed activation receipts (issue #18 item 4): the real avma-hostd signs a receipt into every
# ACTIVATE_REPLY, the guest keeps them and checks them (dlv, receipt --json), avma-verify checks
# them offline against the host key and, as a witness, against the host's history: an altered
# receipt, one under a foreign host key, a history truncated before record N or with record N
# edited are each caught with the reason. A receipt problem never stops an activation.
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
port c2
guest_conf c1
guest_conf c2
guest c1 ipk "$KEY_2022_STD" >/dev/null
guest c2 ipk "$KEY_2022_STD" >/dev/null
hostd c1 c2
for i in 1 2 3; do guest c1 ato >/dev/null; done
guest c2 ato >/dev/null
PUB=$T/host/host-key.pub
L=$T/host/events.jsonl
V() { "$B/avma-verify" receipt "$@"; }

guest c1 receipt --json >"$T/c1.json"; rc=$?
eq "receipt --json: exit 0" "$rc" 0
eq "the guest kept its 3 receipts" "$(jq '.receipts | length' "$T/c1.json")" 3
eq "each verifies against the key it came with" "$(jq '[.receipts[] | select(.verified)] | length' "$T/c1.json")" 3
KEYID=$(host key show --json | jq -r .key_id)
eq "... which is the host's key" "$(jq -r '.receipts[-1].host_key_id' "$T/c1.json")" "$KEYID"
N=$(jq '.receipts[-1].seq' "$T/c1.json")
eq "the last receipt names the guest's last decision in the host's log" \
  "$(jq -s --arg v "$(jq -r '.receipts[-1].vm_name' "$T/c1.json")" '[.[] | select(.vm == $v and .notification)] | last | .seq' "$L")" "$N"
out=$(guest c1 dlv)
check "dlv: the last receipt verifies" grep -q "Receipt signature: verifies with host key $KEYID" <<<"$out"
check "dlv: it names record $N" grep -q "Activation receipt: record $N of the host's log" <<<"$out"
eq "dlv --json: last_receipt" "$(guest c1 dlv --json | jq .last_receipt.seq)" "$N"

out=$(V "$T/c1.json" --key "$PUB"); rc=$?
eq "avma-verify receipt: the export verifies (exit 0)" "$rc" 0
eq "... 3 verdicts OK" "$(grep -c '^OK: ' <<<"$out")" 3
out=$(V "$T/c1.json" --key "$PUB" --history "$L"); rc=$?
eq "witness: the host's log holds each record (exit 0)" "$rc" 0
check "witness: says so" grep -q 'the same record in the history' <<<"$out"
jq -j '.receipts[-1].receipt' "$T/c1.json" >"$T/last.note"
V "$T/last.note" --key "$PUB" --history "$L" >/dev/null; rc=$?
eq "a bare receipt note verifies too" "$rc" 0

# Forged: the record number altered.
sed "s/^seq $N\$/seq $((N + 1))/" "$T/last.note" >"$T/forged.note"
out=$(V "$T/forged.note" --key "$PUB"); rc=$?
eq "altered receipt: exit 1" "$rc" 1
check "altered receipt: the reason ($out)" grep -q 'FAILED: .*does not match the note (text or signature altered)' <<<"$out"
# Foreign: another host's key.
mkdir -p "$T/other"
"$B/avma-host" --state-dir "$T/other" key create >/dev/null 2>&1
out=$(V "$T/last.note" --key "$T/other/host-key.pub"); rc=$?
eq "foreign host key: exit 1" "$rc" 1
check "foreign host key: the reason ($out)" grep -q 'FAILED: .*signed by no known key' <<<"$out"

kill "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null
# The witness: a host that truncated its history before record N ...
head -n $((N - 1)) "$L" >"$T/truncated.jsonl"
out=$(V "$T/c1.json" --key "$PUB" --history "$T/truncated.jsonl"); rc=$?
eq "history truncated before record $N: exit 1" "$rc" 1
check "truncated: the reason ($out)" grep -q "FAILED: .*the history has no record $N .*truncated or deleted" <<<"$out"
# ... or edited record N (its notification, as a host hiding a grant would).
sed "/\"seq\":$N,/s/\"key_last5\":\"[^\"]*\"/\"key_last5\":\"AAAAA\"/" "$L" >"$T/edited.jsonl"
out=$(V "$T/c1.json" --key "$PUB" --history "$T/edited.jsonl"); rc=$?
eq "history with record $N edited: exit 1" "$rc" 1
check "edited: the reason ($out)" grep -q "FAILED: .*record $N is not the one receipted" <<<"$out"
eq "edited: the other receipts still match" "$(grep -c '^OK: ' <<<"$out")" 2

# The guest's own copy altered: kept, flagged, no crash; the next activation is not refused.
R=$T/g-c1/receipts.json
jq '.[-1].receipt |= sub("seq [0-9]+"; "seq 1")' "$R" >"$R.t" && mv "$R.t" "$R"
out=$(guest c1 dlv); rc=$?
eq "altered kept receipt: dlv exit 0" "$rc" 0
check "dlv flags it" grep -q 'Receipt signature: DOES NOT VERIFY: .*altered' <<<"$out"
eq "receipt --json flags it" "$(guest c1 receipt --json | jq '.receipts[-1].verified')" false
: >"$R"
out=$(G_DEBUG=fatal-criticals guest c1 receipt 2>&1); rc=$?
check "an empty receipts file: a clean answer, no crash (exit $rc)" test "$rc" -le 1
: >"$T/empty.json"
out=$(G_DEBUG=fatal-criticals V "$T/empty.json" --key "$PUB" 2>&1); rc=$?
eq "avma-verify receipt of an empty file: input error, exit 2" "$rc" 2
check "avma-verify receipt of an empty file: says so" grep -q "neither a receipt nor" <<<"$out"
echo 'not json' >"$R"
hostd c1 c2
guest c1 ato >/dev/null; rc=$?
eq "an unreadable receipts file does not stop an activation (exit 0)" "$rc" 0
eq "... and the list starts again" "$(guest c1 receipt --json | jq '.receipts | length')" 1
guest c2 receipt >"$T/c2.txt"
check "receipt (text): the other guest's receipt verifies" grep -q "verifies (host key $KEYID)" "$T/c2.txt"
# The bound: 32 kept, the oldest dropped.
for i in $(seq 34); do guest c2 ato >/dev/null; done
eq "at most 32 receipts kept" "$(guest c2 receipt --json | jq '.receipts | length')" 32
exit $FAILED
