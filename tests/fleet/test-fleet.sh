#!/usr/bin/env bash
# test-fleet: avma-fleet against a real, throwaway PostgreSQL 15 server (tests/fleet/pg.sh) with
# bundles written by bundle-gen (real chains, checkpoints and signatures). Idempotence, cursors,
# every refusal and its finding, key rotation and certificates, the database stopped in the
# middle of an ingest, pulls, and the report's figures.
set -u
here=$(cd "$(dirname "$0")" && pwd)
B=$(cd "${BUILD:-build}" && pwd)
[[ -x $B/avma-fleet && -x $B/tests/fleet/bundle-gen ]] ||
  { echo "not ok - no $B/avma-fleet or bundle-gen (make BUILD=... fleet-test builds them)"; exit 1; }
T=$(mktemp -d /tmp/avma-fleet-test.XXXXXX)
chmod 755 "$T"
PG_TMP=$T
source "$here/pg.sh"
cleanup() { pg_cleanup; [[ ${KEEP_TMP:-} ]] || rm -rf "$T"; }
trap cleanup EXIT

FAILED=0 PASSED=0
ok() { echo "ok - $*"; PASSED=$((PASSED + 1)); }
not_ok() { echo "not ok - $*"; FAILED=$((FAILED + 1)); }
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
eq() { if [[ "$2" == "$3" ]]; then ok "$1"; else not_ok "$1 (got '$2', want '$3')"; fi; }
has() { grep -q -- "$2" <<<"$1"; }

pg_start || { echo "not ok - PostgreSQL did not start"; exit 1; }
conf() { # conf FILE [EXTRA...]: a fleet.conf for this server
  local f=$1; shift
  { printf '[database]\nconninfo=%s\n' "$PG_CONNINFO"; printf '%s\n' "$@"; } >"$f"
}
conf "$T/fleet.conf"
CONF=$T/fleet.conf
fleet() { "$B/avma-fleet" -c "$CONF" "$@"; }
gen() { "$B/tests/fleet/bundle-gen" "$@"; }
sql() { pg_psql -c "$1"; }
# A fresh database for a scenario.
reset_db() { sql "SET client_min_messages=warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public" >/dev/null && fleet db init >/dev/null; }

# ---- schema --------------------------------------------------------------------------------
out=$(fleet ingest /dev/null 2>&1); rc=$?
check "ingest before db init: refused with the fix" has "$out" "db init"
eq "... exit status 1" "$rc" 1
eq "db init" "$(fleet db init)" "schema version 0 -> 2"
eq "db init again: nothing to do" "$(fleet db init)" "schema at version 2 already; nothing to do"
eq "db migrate at the latest version" "$(fleet db migrate)" "schema at version 2 already; nothing to do"
eq "schema version recorded" "$(sql 'SELECT max(version) FROM fleet_schema')" 2

# ---- ingest: idempotence, overlap, cursors ------------------------------------------------
G=$T/g3 G2=$T/g2
n=$(gen --out "$G" --hosts 3 --vms 4 --bundles 3)
gen --out "$G2" --hosts 3 --vms 4 --bundles 2 >/dev/null
out=$(fleet ingest "$G"/h000{0,1,2}/bundle-1.jsonl "$G"/h000{0,1,2}/bundle-2.jsonl); rc=$?
eq "six bundles stored" "$rc" 0
check "... each says how many records are new" has "$out" "new records, seq 1\.\."
before=$(sql 'SELECT count(*) FROM records')
fleet ingest "$G"/h0000/bundle-1.jsonl "$G"/h0000/bundle-2.jsonl >"$T/out" 2>&1; rc=$?
eq "the same bundles again: exit 0" "$rc" 0
eq "... nothing new said twice" "$(grep -c 'nothing new' "$T/out")" 2
eq "... no record added" "$(sql 'SELECT count(*) FROM records')" "$before"
out=$(fleet ingest "$G2"/h0000/bundle-2.jsonl)
check "an overlapping bundle adds only the records after the cursor" has "$out" "the rest held already"
fleet ingest "$G"/h000{0,1,2}/bundle-3.jsonl "$G2"/h000{0,1,2}/bundle-{1,2}.jsonl >/dev/null
eq "every record once after overlapping bundles" "$(sql 'SELECT count(*) FROM records')" "$n"
eq "typed rows once per record" \
  "$(sql 'SELECT (SELECT count(*) FROM decisions)+(SELECT count(*) FROM run_edges)+(SELECT count(*) FROM licences)+(SELECT count(*) FROM host_facts)+(SELECT count(*) FROM records WHERE event_id=12314)')" "$n"
last0=$(wc -l <"$G/h0000/events.jsonl")
eq "cursor = the host's last seq" "$(sql "SELECT cursor_seq FROM hosts WHERE hostname='fleet-host-0000'")" "$last0"
want_hash=$(tail -1 "$G/h0000/events.jsonl" | tr -d '\n' | sha256sum | cut -d' ' -f1)
eq "cursor hash = SHA-256 of its last line" "$(sql "SELECT cursor_hash FROM hosts WHERE hostname='fleet-host-0000'")" "$want_hash"
eq "the stored lines are the log's, byte for byte" \
  "$(sql "SELECT line FROM records r JOIN hosts h USING (host_id) WHERE h.hostname='fleet-host-0000' ORDER BY seq" | sha256sum)" \
  "$(sha256sum <"$G/h0000/events.jsonl")"
eq "no finding from good bundles" "$(sql 'SELECT count(*) FROM findings')" 0
out=$(cat "$G/h0001/bundle-1.jsonl" | fleet ingest -)
check "ingest - reads standard input" has "$out" "stdin: host fleet-host-0001"
hj=$(fleet hosts --json)
eq "hosts --json: three hosts" "$(jq length <<<"$hj")" 3
eq "hosts --json: cursor" "$(jq -r '.[0].cursor_seq' <<<"$hj")" "$last0"
eq "hosts --json: licence" "$(jq -r '.[0].licence' <<<"$hj")" "2022 Datacenter activated"
check "hosts (text) lists state ok" has "$(fleet hosts)" "fleet-host-0002 .* ok"

# ---- refusals: each a clear message, a finding, nothing kept; other hosts go on -----------
reset_db
B1=$G/h0000/bundle-1.jsonl B2=$G/h0000/bundle-2.jsonl
refused() { # refused DESC KIND FILE...: ingest fails, says KIND, leaves a KIND finding
  local desc=$1 kind=$2; shift 2
  local f0 out rc
  f0=$(sql "SELECT count(*) FROM findings WHERE kind='$kind'")
  out=$(fleet ingest "$@" 2>&1); rc=$?
  if [[ $rc == 1 ]] && has "$out" "refused ($kind)"; then ok "$desc: refused ($kind)"; else
    not_ok "$desc: refused ($kind) (rc $rc: $out)"; fi
  eq "$desc: a '$kind' finding" "$(sql "SELECT count(*) FROM findings WHERE kind='$kind'")" $((f0 + 1))
  LAST_OUT=$out
}
refused "gap (bundle 2 before bundle 1)" gap "$B2"
check "... the message names the missing records and the fix" has "$LAST_OUT" "are missing (export with --since 0)"
eq "... nothing kept" "$(sql 'SELECT count(*) FROM records')" 0
fleet ingest "$B1" >/dev/null
head -c -40 "$B2" >"$T/cut.jsonl"
refused "truncated (cut mid-line)" truncated "$T/cut.jsonl"
head -n -1 "$B2" >"$T/nock.jsonl"
refused "truncated (no checkpoint line)" truncated "$T/nock.jsonl"
awk 'NR==5{l=$0; next} NR==6{print; print l; next} {print}' "$B2" >"$T/reorder.jsonl"
refused "reordered records" malformed "$T/reorder.jsonl"
check "... names the seq out of place" has "$LAST_OUT" "out of order"
sed '4s/"Standard"/"Datacenter"/; 4s/"Activation Denied"/"AVMA Success"/; 4s/"2016"/"2025"/' "$B2" >"$T/forged.jsonl"
cmp -s "$B2" "$T/forged.jsonl" && sed -i '4s/"running":true/"running":false/; 4s/"running":false/"running":true/' "$T/forged.jsonl"
refused "forged record mid-bundle" chain "$T/forged.jsonl"
lastrec=$(($(wc -l <"$B2") - 1))
sed "${lastrec}s/tenant-vm-/tenant-xx-/" "$B2" >"$T/forged-last.jsonl"
refused "forged last record" signature "$T/forged-last.jsonl"
gen --out "$T/foreign" --hosts 3 --vms 4 --bundles 3 --key-seed other >/dev/null
refused "foreign key for a known host id" key "$T/foreign/h0000/bundle-2.jsonl"
check "... names both keys" has "$LAST_OUT" "is not the key known for it"
fleet ingest "$G"/h0001/bundle-1.jsonl "$T/foreign/h0000/bundle-2.jsonl" "$G"/h0002/bundle-1.jsonl >"$T/out" 2>&1
eq "other hosts go on past a refused bundle" "$(grep -c 'new records' "$T/out")" 2
eq "refused host's state is 'refused'" "$(sql "SELECT state FROM hosts WHERE hostname='fleet-host-0000'")" refused
check "hosts shows the refusal" has "$(fleet hosts)" "fleet-host-0000 .*refused: "
fleet ingest "$B2" >/dev/null
eq "the next good bundle clears the state" "$(sql "SELECT state FROM hosts WHERE hostname='fleet-host-0000'")" ok
reset_db
fleet ingest "$G/h0000/bundle-1.jsonl" "$G/h0000/bundle-2.jsonl" >/dev/null
# A fork needs the host's own key: its log rewritten (times shifted) and signed again.
gen --out "$T/rewritten" --hosts 3 --vms 4 --bundles 3 --start 2026-11-01T00:00:05Z >/dev/null
refused "fork: the host's log rewritten behind the cursor" fork "$T/rewritten/h0000/bundle-3.jsonl"
refused "replayed old bundle that disagrees (rewritten)" fork "$T/rewritten/h0000/bundle-1.jsonl"
out=$(fleet ingest "$G/h0000/bundle-1.jsonl"); rc=$?
eq "replayed old bundle that agrees: accepted, nothing new" "$rc/$(has "$out" 'nothing new' && echo y)" "0/y"
gen --out "$T/future" --hosts 1 --vms 2 --seed future --clock-offset $((400 * 86400)) >/dev/null
refused "host clock far in the future" future "$T/future/h0000/bundle-1.jsonl"
check "... says how far ahead" has "$LAST_OUT" "ahead of this collector's clock"
printf '{"format":"something else"}\n' >"$T/notabundle"
refused "not a bundle" malformed "$T/notabundle"

# ---- host keys: rotation, certificates ------------------------------------------------------
gen --out "$T/rot" --hosts 1 --vms 2 --seed rot --bundles 2 --rotate-after 1 >/dev/null
fleet ingest "$T/rot/h0000/bundle-1.jsonl" >/dev/null
out=$(fleet ingest "$T/rot/h0000/bundle-2.jsonl"); rc=$?
eq "a rotated key introduced by a statement signed with the known key: accepted" "$rc" 0
check "... said so" has "$out" "key rotation"
eq "... both keys kept" "$(sql "SELECT count(*) FROM host_keys k JOIN hosts h USING (host_id) WHERE h.hostname='fleet-host-0000' AND h.host_id IN (SELECT host_id FROM host_keys GROUP BY 1 HAVING count(*) = 2)")" 2
# Same host ids, another key, no statement: refused; with the provider root's certificate: accepted.
gen --out "$T/rot-nostmt" --hosts 1 --vms 2 --seed rot --key-seed stolen --bundles 2 >/dev/null
refused "a second key with no rotation statement" key "$T/rot-nostmt/h0000/bundle-2.jsonl"
gen --out "$T/rot-cert" --hosts 1 --vms 2 --seed rot --key-seed reinstalled --bundles 2 --root-seed provider >/dev/null
conf "$T/root.conf" "[trust]" "root_key=$T/rot-cert/root.pub"
out=$(CONF=$T/root.conf fleet ingest "$T/rot-cert/h0000/bundle-2.jsonl"); rc=$?
eq "a new key certified by the configured root: accepted" "$rc/$(has "$out" 'key certificate' && echo y)" "0/y"
gen --out "$T/cert-bad" --hosts 1 --vms 2 --seed certless --root-seed someone-else >/dev/null
conf "$T/req.conf" "[trust]" "root_key=$T/rot-cert/root.pub" "require_cert=true"
CONF=$T/req.conf refused "require_cert: a new host certified by another root" key "$T/cert-bad/h0000/bundle-1.jsonl"
gen --out "$T/cert-ok" --hosts 1 --vms 2 --seed certified --root-seed provider >/dev/null
eq "require_cert: a new host certified by the root" \
  "$(CONF=$T/req.conf fleet ingest "$T/cert-ok/h0000/bundle-1.jsonl" >/dev/null; echo $?)" 0

# ---- the database goes down in the middle of an ingest ------------------------------------
reset_db
D=$T/down
dn=$(gen --out "$D" --hosts 6 --vms 20 --seed down)
mkfifo "$T/fifo"
files=("$D"/h000{0,1}/bundle-1.jsonl "$T/fifo" "$D"/h000{3,4,5}/bundle-1.jsonl)
fleet ingest "${files[@]}" >"$T/down.out" 2>&1 &
ipid=$!
# Two bundles are committed and the collector waits on the third when the server stops.
for _ in $(seq 100); do [[ $(grep -c 'new records' "$T/down.out") == 2 ]] && break; sleep 0.1; done
pg_stop immediate
# (timeout: a collector that died early must not leave the test waiting on the FIFO)
timeout 30 cp "$D/h0002/bundle-1.jsonl" "$T/fifo"
wait $ipid; rc=$?
eq "database stopped mid-ingest: exit 1" "$rc" 1
check "... says the database failed and which bundles were left" has "$(cat "$T/down.out")" "not ingested"
pg_restart_server
eq "... the two committed bundles are there" "$(sql 'SELECT count(DISTINCT host_id) FROM records')" 2
eq "... no finding blames a host for the database" "$(sql 'SELECT count(*) FROM findings')" 0
fleet ingest "$D"/h000*/bundle-1.jsonl >"$T/again.out" 2>&1
eq "ingest again: the committed ones are not doubled" "$(grep -c 'nothing new' "$T/again.out")" 2
eq "... every record exactly once" "$(sql 'SELECT count(*) FROM records')" "$dn"
# Killed in the middle of a bundle's transaction: that bundle is all or nothing.
reset_db
big=$(gen --out "$T/big" --hosts 1 --vms 300 --seed big)
fleet ingest "$T/big/h0000/bundle-1.jsonl" >/dev/null 2>&1 &
ipid=$!
for _ in $(seq 200); do
  [[ $(sql "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%'") != 0 ]] && break; sleep 0.02
done
pg_stop immediate
wait $ipid; rc=$?
pg_restart_server
got=$(sql 'SELECT count(*) FROM records')
check "server stopped during a bundle's COPY: all or nothing ($got of $big)" test "$got" = 0 -o "$got" = "$big"
fleet ingest "$T/big/h0000/bundle-1.jsonl" >/dev/null
eq "... ingest again: every record once" "$(sql 'SELECT count(*) FROM records')" "$big"

# ---- pull -----------------------------------------------------------------------------------
reset_db
P=$T/pull
gen --out "$P" --hosts 2 --vms 3 --seed pull --bundles 2 >/dev/null
for h in h0000 h0001; do
  ln -s bundle-1.jsonl "$P/$h/since-0.jsonl"
  s=$(($(head -1 "$P/$h/bundle-2.jsonl" | jq .since)))
  ln -s bundle-2.jsonl "$P/$h/since-$s.jsonl"
done
conf "$T/pull.conf" "[pull]" "command=cat $P/{host}/since-{since}.jsonl" "[host h0000]" "[host h0001]" \
  "[host gone]" "command=false"
out=$(CONF=$T/pull.conf fleet pull 2>&1); rc=$?
eq "pull: one host failing gives exit 1" "$rc" 1
eq "... the others pulled" "$(grep -c 'new records, seq 1\.\.' <<<"$out")" 2
check "... the failing host named" has "$out" "pull gone: .*failed"
out=$(CONF=$T/pull.conf fleet pull h0000 h0001 2>&1)
eq "second pull asks for --since the cursor" "$(grep -c 'new records' <<<"$out")" 2
eq "... and now holds every record" "$(sql 'SELECT count(*) FROM records')" \
  "$(cat "$P"/h000*/events.jsonl | wc -l)"
check "pull of an unknown host: usage error" test "$(CONF=$T/pull.conf fleet pull nosuch >/dev/null 2>&1; echo $?)" = 2

# ---- report ---------------------------------------------------------------------------------
reset_db
fleet ingest "$G2"/h000*/bundle-*.jsonl >/dev/null
j=$(fleet report --month 2026-11 --as-of 2026-12-02 --format json)
eq "report: three hosts" "$(jq '.hosts | length' <<<"$j")" 3
eq "report: distinct VMs counted once across hosts" "$(jq '.total.vms' <<<"$j")" 12
migrated=$(jq '[.vms[] | select(.hosts | length > 1)] | length' <<<"$j")
check "report: some VMs ran on two hosts ($migrated)" test "$migrated" -gt 0
eq "report: a migrated VM's run time counted once (30 days, overlap merged)" \
  "$(jq '[.vms[] | select(.hosts | length > 1) | .ran_seconds <= 30*86400] | all' <<<"$j")" true
eq "report: peak concurrent <= distinct VMs" "$(jq '.total.peak <= .total.vms' <<<"$j")" true
eq "report: one VM stopped before the end" "$(jq '.total.at_end' <<<"$j")" 11
eq "report: the denied attempt" "$(jq '.total.attempts["Activation Denied"]' <<<"$j")" 1
eq "report: licensable cores (16 per server minimum)" "$(jq '[.hosts[].licensable_cores] | add' <<<"$j")" 48
CONF2=$T/proc.conf; conf "$CONF2" "[report]" "min_cores_per_server=0"
eq "report: 8 per processor only" \
  "$(CONF=$CONF2 fleet report --month 2026-11 --as-of 2026-12-02 --format json | jq '[.hosts[].licensable_cores] | add')" 34
eq "report: reproducible" "$(fleet report --month 2026-11 --as-of 2026-12-02 --format json)" "$j"
csv=$(fleet report --month 2026-11 --as-of 2026-12-02 --format csv)
check "report csv: sections" has "$csv" "^total,,,12,"
txt=$(fleet report --month 2026-11 --as-of 2026-12-02)
check "report text: the month is complete" has "$txt" "complete month"
check "report: hosts without a record after the month's end" has "$txt" "incomplete"
check "report: silent hosts" has "$(fleet report --month 2026-11 --as-of 2026-12-20)" "silent .*no record since"
out=$(fleet report --month 2026-13 2>&1); rc=$?
eq "report: a bad month is a usage error" "$rc" 2
# The summary tables give the report the typed records give (--from-records), whatever the
# order the hosts' bundles came in, for a complete month and for a month to date ending mid-day.
both() { # both DESC ARGS...: the report from the summary tables = the one from the records
  local d=$1 a b; shift
  a=$(fleet report "$@" 2>&1) b=$(fleet report --from-records "$@" 2>&1)
  if [[ "$a" == "$b" && -n "$a" ]]; then ok "$d"; else not_ok "$d: summary and records differ"; diff <(echo "$a") <(echo "$b") | head -10; fi
}
both_months() {
  both "$1: complete month (json)" --month 2026-11 --as-of 2026-12-02 --format json
  both "$1: complete month (text)" --month 2026-11 --as-of 2026-12-02
  both "$1: month to date, mid-day" --month 2026-11 --as-of 2026-11-15T13:30:07Z --format json
  both "$1: the next month" --month 2026-12 --as-of 2026-12-20 --format json
}
both_months "bundles in order"
# A VM migrates from host h to h+1: ingesting h+1 first stores its later grants before the earlier.
MG=$T/mig
# --product-per-host: a migrated VM's grants on its new host are for another product, so a grant
# stored later in the middle of the VM's history must take that time from the product before.
gen --out "$MG" --hosts 4 --vms 6 --bundles 3 --seed mig --migrate-pct 30 --days 33 --product-per-host >/dev/null
reset_db
for h in h0003 h0002 h0001 h0000; do fleet ingest "$MG/$h"/bundle-{1,2,3}.jsonl >/dev/null; done
both_months "later hosts first"
check "... some VMs of it migrated" test "$(fleet report --month 2026-11 --as-of 2026-12-02 --format json | jq '[.vms[] | select(.hosts | length > 1)] | length')" -gt 2
reset_db
fleet ingest "$MG"/h000{0,1,2,3}/bundle-1.jsonl >/dev/null
fleet ingest "$MG"/h000{3,2,1,0}/bundle-2.jsonl >/dev/null
fleet ingest "$MG"/h000{1,3,0,2}/bundle-3.jsonl >/dev/null
both_months "bundles interleaved across hosts"
want=$(fleet report --month 2026-11 --as-of 2026-12-02 --format json)
# A database of schema version 1 (no summary tables) gets them filled by db migrate.
sql "SET client_min_messages=warning; DROP TABLE run_intervals, vm_grants, vm_month_success, decision_days; DROP INDEX decisions_vm_success; DROP INDEX decisions_time; CREATE INDEX decisions_time ON decisions (time); DELETE FROM fleet_schema WHERE version = 2" >/dev/null
eq "db migrate from version 1" "$(fleet db migrate)" "schema version 1 -> 2"
eq "... the summary tables filled from the records: the same report" \
  "$(fleet report --month 2026-11 --as-of 2026-12-02 --format json)" "$want"
both_months "after db migrate"

# No migrations: the fleet's figures are the sum of each host's alone.
NM=$T/nomig
gen --out "$NM" --hosts 3 --vms 5 --seed nomig --migrate-pct 0 >/dev/null
sum_vms=0 sum_secs=0 sum_end=0 sum_att=0
for h in h0000 h0001 h0002; do
  reset_db; fleet ingest "$NM/$h/bundle-1.jsonl" >/dev/null
  one=$(fleet report --month 2026-11 --as-of 2026-12-02 --format json)
  sum_vms=$((sum_vms + $(jq .total.vms <<<"$one")))
  sum_secs=$((sum_secs + $(jq .total.licensed_seconds <<<"$one")))
  sum_end=$((sum_end + $(jq .total.at_end <<<"$one")))
  sum_att=$((sum_att + $(jq '.total.attempts | add' <<<"$one")))
done
reset_db; fleet ingest "$NM"/h000*/bundle-1.jsonl >/dev/null
all=$(fleet report --month 2026-11 --as-of 2026-12-02 --format json)
eq "no migrations: VMs = sum over hosts" "$(jq .total.vms <<<"$all")" "$sum_vms"
eq "no migrations: VM-seconds = sum over hosts" "$(jq .total.licensed_seconds <<<"$all")" "$sum_secs"
eq "no migrations: at end = sum over hosts" "$(jq .total.at_end <<<"$all")" "$sum_end"
eq "no migrations: attempts = sum over hosts" "$(jq '.total.attempts | add' <<<"$all")" "$sum_att"
# Licence: every tenth host was activated on the third day only.
reset_db
gen --out "$T/lic" --hosts 10 --vms 1 --seed lic --migrate-pct 0 >/dev/null
fleet ingest "$T/lic"/h*/bundle-1.jsonl >/dev/null
lj=$(fleet report --month 2026-11 --as-of 2026-12-02 --format json)
eq "report: the host activated late is not activated all month" \
  "$(jq -r '[.hosts[] | select(.activated_whole_month | not) | .hostname] | join(",")' <<<"$lj")" fleet-host-0009

# ---- signed reports ---------------------------------------------------------------------------
conf "$T/sign.conf" "[report]" "signing_key=$T/keys/report.key"
mkdir -p "$T/keys"
sfleet() { CONF=$T/sign.conf fleet "$@"; }
out=$(sfleet report --month 2026-11 --as-of 2026-12-02 --output "$T/r.txt" --sign 2>&1); rc=$?
eq "report --sign without a key: exit 1, says how to make one" "$rc/$(has "$out" 'key create' && echo y)" "1/y"
out=$(sfleet key create); rc=$?
eq "key create" "$rc/$(stat -c %a "$T/keys/report.key")" "0/600"
check "... the public key in minisign's form" has "$(cat "$T/keys/report.pub")" "minisign public key"
out=$(sfleet key create 2>&1); rc=$?
eq "key create again: refused, the key kept" "$rc/$(has "$out" exists && echo y)" "1/y"
sfleet report --month 2026-11 --as-of 2026-12-02 --output "$T/r.txt" --sign 2>/dev/null
eq "report --sign: exit 0" "$?" 0
eq "... the file is the report" "$(cat "$T/r.txt")" "$(sfleet report --month 2026-11 --as-of 2026-12-02)"
out=$(minisign -V -p "$T/keys/report.pub" -m "$T/r.txt" 2>&1); rc=$?
eq "minisign -V accepts the signature" "$rc" 0
check "... its trusted comment names the month and format" has "$out" "avma-fleet report month:2026-11 format:text"
sed -i '1s/fleet report/fleet rep0rt/' "$T/r.txt"
minisign -V -p "$T/keys/report.pub" -m "$T/r.txt" >/dev/null 2>&1
eq "minisign -V rejects a tampered report" "$?" 1
sfleet report --month 2026-11 --as-of 2026-12-02 --format json --output "$T/r.json" --sign 2>/dev/null
minisign -V -p "$T/keys/report.pub" -m "$T/r.json" -q
eq "a signed JSON report verifies" "$?" 0
minisign -V -p "$T/rot-cert/root.pub" -m "$T/r.json" >/dev/null 2>&1
eq "... not with another key" "$?" 1
sfleet report --month 2026-11 --sign >/dev/null 2>&1
eq "--sign without --output: usage (exit 2)" "$?" 2

echo "# test-fleet: $PASSED passed, $FAILED failed"
((FAILED == 0))
