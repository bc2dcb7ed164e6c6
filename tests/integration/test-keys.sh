#!/usr/bin/env bash
# Host signing keys (issue #18): avma-hostd creates its key on first start; a signed monthly report
# after real guest activations verifies with stock minisign and avma-verify, and an altered one
# fails both; a provider root key certifies the host key; `key rotate` under a running daemon
# (picked up at once, old key archived, rotation statement signed by the old key); start-up errors
# for a missing key with history, a key readable by others, a garbage key.
. "$(dirname "$0")/lib.sh"

S=$T/host
V=$B/avma-verify
MONTH=$(date -u +%Y-%m)
not() { ! "$@"; }
id_of() { host key show --json | jq -r .key_id; }

# ---- first start: the key is created ------------------------------------------------------------
licence 2022 Datacenter yes
for vm in k1 k2; do port "$vm"; guest_conf "$vm"; done
hostd k1 k2
check "first start: host-key.sec is mode 0600" test "$(stat -c %a "$S/host-key.sec")" = 600
check "first start: host-key.pub is minisign's public key file" \
  grep -qE '^untrusted comment: minisign public key [0-9A-F]{16}$' "$S/host-key.pub"
ID1=$(id_of)
check "first start: the daemon logs the key id that key show prints" grep -q "host key $ID1" "$T/hostd.log"
eq "key show --json: the minisign line is host-key.pub's" \
  "$(host key show --json | jq -r .minisign_public_key)" "$(sed -n 2p "$S/host-key.pub")"
eq "key show --json: no certificate yet" "$(host key show --json | jq -r .certificate.state)" none

for vm in k1 k2; do guest "$vm" ipk "$KEY_2022_STD" >/dev/null; guest "$vm" ato >/dev/null; done
check "activations: both guests were answered" wait_for 5 \
  '[[ $(jq -s "map(select(.notification == \"AVMA Success\")) | length" "$S/events.jsonl") -ge 2 ]]'

# ---- signed report ---------------------------------------------------------------------------
R=$T/report.txt
check "report --sign: exit 0" host report --month "$MONTH" --output "$R" --sign
check "report --sign: the report lists the activated guests" grep -q k2 "$R"
check "stock minisign verifies the signed report" minisign -q -Vm "$R" -p "$S/host-key.pub"
out=$("$V" report "$R" --key "$S/host-key.pub")
eq "avma-verify report: exit 0" "$?" 0
check "avma-verify report: OK names the key and the month" grep -q "^OK: .*$ID1.*month:$MONTH" <<<"$out"
host report --month "$MONTH" --format json --output "$T/report.json" --sign
check "json report: stock minisign verifies it too" minisign -q -Vm "$T/report.json" -p "$S/host-key.pub"
cp "$R" "$T/altered.txt"; cp "$R.minisig" "$T/altered.txt.minisig"
sed -i 's/k2/k9/' "$T/altered.txt"
check "altered report: stock minisign fails" not minisign -q -Vm "$T/altered.txt" -p "$S/host-key.pub" 2>/dev/null
out=$("$V" report "$T/altered.txt" --key "$S/host-key.pub"); rc=$?
eq "altered report: avma-verify exit 1" "$rc" 1
check "altered report: FAILED says the data was altered" grep -q "^FAILED: .*altered" <<<"$out"
cp "$R" "$T/tc.txt"; sed "3s/month:$MONTH/month:1999-01/" "$R.minisig" >"$T/tc.txt.minisig"
check "altered trusted comment: stock minisign fails" not minisign -q -Vm "$T/tc.txt" -p "$S/host-key.pub" 2>/dev/null
eq "altered trusted comment: avma-verify exit 1" "$("$V" report "$T/tc.txt" --key "$S/host-key.pub" >/dev/null; echo $?)" 1
host report --month "$MONTH" --sign >/dev/null 2>"$T/err"; rc=$?
eq "report --sign without --output: usage error" "$rc" 2
check "report --sign without --output: says why" grep -q "needs --output" "$T/err"
eq "avma-verify without a key: usage error" "$("$V" report "$R" 2>/dev/null; echo $?)" 2
eq "avma-verify with a missing key file: input error" \
  "$("$V" report "$R" --key "$T/none.pub" 2>/dev/null; echo $?)" 2

# ---- provider root key and certificate ---------------------------------------------------------
A=$T/admin
check "key root-new: creates root.sec and root.pub" host key root-new --out "$A"
check "key root-new: root.sec is mode 0600" test "$(stat -c %a "$A/root.sec")" = 600
check "key root-new: refuses to overwrite" not host key root-new --out "$A" 2>/dev/null
host key root-new --out "$T/admin2" >/dev/null
check "key certify: writes a certificate" \
  host key certify --root "$A/root.sec" "$S/host-key.pub" --name kvm-07 --out "$T/kvm.cert" \
  --valid-from 2000-01-01
check "key install-cert: checks and installs it" host key install-cert "$T/kvm.cert" --root "$A/root.pub"
eq "key show: certificate installed" "$(host key show --json | jq -r .certificate.host)" kvm-07
check "avma-verify cert: OK" "$V" cert "$T/kvm.cert" --root "$A/root.pub"
eq "avma-verify cert by another root: exit 1" "$("$V" cert "$T/kvm.cert" --root "$T/admin2/root.pub" >/dev/null; echo $?)" 1
out=$("$V" report "$R" --root "$A/root.pub" --cert "$T/kvm.cert")
check "avma-verify report by root + certificate: OK names host and root" grep -q "^OK: .*kvm-07.*certified by root" <<<"$out"
sed 's/^host kvm-07$/host kvm-99/' "$T/kvm.cert" >"$T/forged.cert"
out=$("$V" report "$R" --root "$A/root.pub" --cert "$T/forged.cert"); rc=$?
eq "altered certificate: exit 1" "$rc" 1
check "altered certificate: FAILED names the certificate" grep -q "^FAILED: .*forged.cert" <<<"$out"
"$B/avma-host" --state-dir "$T/other" key create >/dev/null
host key certify --root "$A/root.sec" "$T/other/host-key.pub" --out "$T/other.cert" >/dev/null
check "install-cert of another host's certificate: refused" not host key install-cert "$T/other.cert" 2>"$T/err"
check "install-cert of another host's certificate: says whose key it is" grep -q "not for this host's key" "$T/err"
out=$("$V" report "$R" --root "$A/root.pub" --cert "$T/other.cert"); rc=$?
eq "report checked against another host's certificate: exit 1" "$rc" 1

# ---- rotation under a running daemon -------------------------------------------------------------
[[ $(id -u) == 0 ]] && chown nobody:nogroup "$S/host-key.sec"
host key rotate >"$T/rotate.out"
ID2=$(id_of)
check "key rotate: a new key id" test "$ID2" != "$ID1"
check "key rotate: the running daemon loads the new key at once" \
  wait_for 5 'grep -q "host signing key rotated to $ID2" "$T/hostd.log"'
check "key rotate: host-key.sec still mode 0600" test "$(stat -c %a "$S/host-key.sec")" = 600
[[ $(id -u) == 0 ]] && eq "key rotate: host-key.sec keeps its owner" "$(stat -c %U "$S/host-key.sec")" nobody
check "key rotate: keys/$ID1.pub holds the old key" "$V" report "$R" --key "$S/keys/$ID1.pub"
check "key rotate: old certificate moved to keys/" test -e "$S/keys/$ID1.cert" -a ! -e "$S/host-key.cert"
eq "key rotate: key show says no certificate" "$(host key show --json | jq -r .certificate.state)" none
ROT=$S/keys/rotation-$ID2.note
out=$("$V" rotation "$ROT" --key "$S/keys/$ID1.pub")
check "rotation statement: verifies with the old key, names the new" grep -q "^OK: .*$ID1 was rotated to $ID2" <<<"$out"
eq "rotation statement: the new key alone cannot vouch for itself" \
  "$("$V" rotation "$ROT" --key "$S/host-key.pub" >/dev/null; echo $?)" 1
sed "s/^new-key-id $ID2\$/new-key-id 0000000000000000/" "$ROT" >"$T/rot-forged.note"
eq "rotation statement altered: exit 1" "$("$V" rotation "$T/rot-forged.note" --key "$S/keys/$ID1.pub" >/dev/null; echo $?)" 1
eq "key show --json: the rotation, verified" \
  "$(host key show --json | jq -r '.rotations | map("\(.old_key_id)>\(.new_key_id):\(.verified)") | join(",")')" \
  "$ID1>$ID2:true"
cp "$ROT" "$T/rot.saved"; sed -i 's/^rotated-at 2/rotated-at 1/' "$ROT"
eq "key show --json: an edited rotation statement is not verified" \
  "$(host key show --json | jq -r '.rotations[0].verified')" false
check "key show: says so" grep -q "NOT VERIFIED" <<<"$(host key show)"
cp "$T/rot.saved" "$ROT"
# Any note by the host key verifies as a checkpoint would, under whatever key name it carries.
out=$("$V" checkpoint "$ROT" --key "$S/keys/$ID1.pub")
check "avma-verify checkpoint: a note by the host key is OK" grep -q "^OK: .*as avma-host-$ID1: avma-key-rotation v1" <<<"$out"
sed 's/^rotated-at 2/rotated-at 1/' "$ROT" >"$T/note-altered.note"
out=$("$V" checkpoint "$ROT" "$T/note-altered.note" --key "$S/keys/$ID1.pub"); rc=$?
eq "avma-verify checkpoint: one altered note of two, exit 1" "$rc" 1
check "avma-verify checkpoint: each file has its verdict" \
  test "$(grep -c '^OK: ' <<<"$out")/$(grep -c '^FAILED: .*note-altered.note.*does not match' <<<"$out")" = 1/1
out=$("$V" checkpoint "$ROT" --key "$T/other/host-key.pub"); rc=$?
eq "avma-verify checkpoint: another host's key, exit 1" "$rc" 1
check "avma-verify checkpoint: names the signers found" grep -q "^FAILED: .*signed by no known key (signed by avma-host-$ID1" <<<"$out"
guest k1 ato >/dev/null
check "after rotation: the daemon still answers" wait_for 5 \
  '[[ $(jq -s "map(select(.vm == \"k1\" and .notification == \"AVMA Success\")) | length" "$S/events.jsonl") -ge 2 ]]'
host report --month "$MONTH" --output "$T/r2.txt" --sign 2>/dev/null
check "after rotation: minisign verifies a new report with the new key" minisign -q -Vm "$T/r2.txt" -p "$S/host-key.pub"
out=$("$V" report "$T/r2.txt" --key "$S/keys/$ID1.pub"); rc=$?
eq "after rotation: the old key does not verify a new report" "$rc" 1
check "after rotation: FAILED names both key ids" grep -q "$ID2.*$ID1" <<<"$out"
host key certify --root "$A/root.sec" "$S/host-key.pub" --name kvm-07 --out "$T/kvm2.cert" --valid-from 2000-01-01 >/dev/null
check "after rotation: the new key is certified and installed" host key install-cert "$T/kvm2.cert" --root "$A/root.pub"
check "after rotation: root + new certificate verify the new report" \
  "$V" report "$T/r2.txt" --root "$A/root.pub" --cert "$T/kvm2.cert"
kill "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null

# ---- start-up errors: never a silent unsigned mode -----------------------------------------------
# start_fails DESC PATTERN: avma-hostd exits non-zero at once and says PATTERN
start_fails() {
  local out rc
  out=$(timeout 5 "$B/avma-hostd" --state-dir "$S" --channel "k1=$T/k1.sock" 2>&1); rc=$?
  check "$1: avma-hostd exits non-zero" test "$rc" -ne 0 -a "$rc" -ne 124
  check "$1: the message names the file and the fix" grep -q "$2" <<<"$out"
}
cp -p "$S/host-key.sec" "$T/saved.sec"
chmod 0644 "$S/host-key.sec"
start_fails "key mode 0644" "host-key.sec.*0644.*chmod 600"
printf 'garbage\n' >"$S/host-key.sec"; chmod 0600 "$S/host-key.sec"
start_fails "garbage key" "host-key.sec.*restore it from a backup"
rm -f "$S/host-key.sec"
start_fails "missing key with history" "host-key.sec is missing.*events.jsonl.*avma-host key create"
check "missing key: nothing was created in its place" test ! -e "$S/host-key.sec"
# A host upgraded from a version without signing: its log has only unchained records and no key
# ever signed anything, so the first start creates the key (no `key create` needed).
L=$T/legacy
mkdir -p "$L"
echo '{"time":"2026-01-01T00:00:00Z","event_id":12310,"notification":"AVMA Success","vm":"old"}' >"$L/events.jsonl"
out=$(timeout 3 "$B/avma-hostd" --state-dir "$L" --channel "k1=$T/k1.sock" 2>&1); rc=$?
eq "history from before signing: avma-hostd runs (stopped by the timeout)" "$rc" 124
check "history from before signing: a first key is created" test -s "$L/host-key.sec"
check "history from before signing: it says the chain starts after the old records" \
  grep -q "written before signing" <<<"$out"
check "history from before signing: the old record is kept" grep -q '"vm":"old"' "$L/events.jsonl"
# The same log with one chained record after it: signed history, the key must not be replaced.
rm -f "$L/host-key.sec" "$L/host-key.pub"
echo '{"time":"2026-01-02T00:00:00Z","event_id":12310,"vm":"new","seq":1,"prev":"00"}' >>"$L/events.jsonl"
out=$(timeout 5 "$B/avma-hostd" --state-dir "$L" --channel "k1=$T/k1.sock" 2>&1); rc=$?
check "chained history without its key: refused" test "$rc" -ne 0 -a "$rc" -ne 124
check "chained history without its key: names events.jsonl" grep -q "missing.*events.jsonl" <<<"$out"
check "chained history without its key: nothing created" test ! -e "$L/host-key.sec"
cp -p "$T/saved.sec" "$S/host-key.sec"
hostd k1
check "restored key: avma-hostd starts with it" grep -q "host key $ID2" "$T/hostd.log"
kill "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null
rm -f "$S/host-key.sec"
check "key create: an explicit new key after a loss" host key create
ID3=$(id_of)
hostd k1
check "key create: avma-hostd starts with the new key" grep -q "host key $ID3" "$T/hostd.log"
check "key create: refuses when a key exists" not host key create 2>/dev/null
exit $FAILED
