#!/usr/bin/env bash
# test-fleet-hosts: the fleet collector fed by real host agents. Three avma-hostd with different
# licences serve real avma-guest activations over the integration tests' port stand-ins
# (avma-portsim); avma-fleet pulls their bundles with `avma-host export --since CURSOR` into a
# throwaway PostgreSQL 15 server. With no migrations, the fleet report's totals must equal the
# sums of each host's own `avma-host report` for the same month and as-of time; a later pull after
# more activity adds only the new records and changes nothing already counted.
. "$(dirname "$0")/../integration/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
[[ -x $B/avma-fleet && -x $B/avma-portsim ]] ||
  { echo "not ok - no $B/avma-fleet or avma-portsim (make BUILD=... fleet-test builds them)"; exit 1; }
chmod 755 "$T"
PG_TMP=$T
source "$here/pg.sh"
trap 'pg_cleanup; cleanup' EXIT
pg_start || { echo "not ok - PostgreSQL did not start"; exit 1; }

printf '[host]\njournal=no\n' >"$T/host.conf"
# Hosts: their licences and their VMs' product keys (a 2022 guest is denied on a 2019 host; a
# host not activated answers Invalid Host).
hA_lic="2022 Datacenter yes" hA_vms="a1:$KEY_2022_STD a2:$KEY_2019_STD"
hB_lic="2019 Datacenter yes" hB_vms="b1:$KEY_2019_STD b2:$KEY_2022_STD"
hC_lic="2022 Datacenter no" hC_vms="c1:$KEY_2022_STD"
ha() { "$B/avma-host" --state-dir "$T/$1" "${@:2}"; }
# run_host H: start H's daemon on its VMs' channels, activate each guest once, stop it cleanly
run_host() {
  local h=$1 vms args=() vm
  vms=${h}_vms
  for vm in ${!vms}; do args+=(--channel "${vm%%:*}=$T/${vm%%:*}.sock"); done
  "$B/avma-hostd" --state-dir "$T/$h" --config "$T/host.conf" "${args[@]}" >"$T/$h.log" 2>&1 &
  local pid=$!
  wait_for 5 "(( \$(cat '$T/$h.log' 2>/dev/null | grep -c ': connected to ') >= ${#args[@]} / 2 ))"
  for vm in ${!vms}; do guest "${vm%%:*}" ato >/dev/null 2>&1; done
  kill "$pid"; wait "$pid" 2>/dev/null
}
for h in hA hB hC; do
  mkdir -p "$T/$h"
  lic=${h}_lic
  set -- ${!lic}
  ha "$h" license set --version "$1" --edition "$2" --activated "$3" >/dev/null
  vms=${h}_vms
  for vm in ${!vms}; do
    port "${vm%%:*}"
    guest_conf "${vm%%:*}"
    guest "${vm%%:*}" ipk "${vm#*:}" >/dev/null
  done
  run_host "$h"
done
n12310() { cat "$T"/h?/events.jsonl | grep -c '"event_id":12310,'; }
eq "five decisions recorded by three daemons" "$(n12310)" 5

printf '[database]\nconninfo=%s\n[report]\nmin_cores_per_server=0\n[pull]\ncommand=%s\n[host hA]\n[host hB]\n[host hC]\n' \
  "$PG_CONNINFO" "$B/avma-host --state-dir $T/{host} export --since {since}" >"$T/fleet.conf"
fleet() { "$B/avma-fleet" -c "$T/fleet.conf" "$@"; }
fleet db init >/dev/null
out=$(fleet pull 2>&1); rc=$?
eq "pull from three real hosts: exit 0" "$rc" 0
eq "... each from seq 1" "$(grep -c 'new records, seq 1\.\.' <<<"$out")" 3
eq "every record of the three logs stored once" "$(pg_psql -c 'SELECT count(*) FROM records')" \
  "$(cat "$T"/h?/events.jsonl | wc -l)"
eq "no finding" "$(pg_psql -c 'SELECT count(*) FROM findings')" 0
hj=$(fleet hosts --json)
eq "hosts: each one's licence as it recorded it" \
  "$(jq -r 'sort_by(.licence) | map(.licence) | join(", ")' <<<"$hj")" \
  "2019 Datacenter activated, 2022 Datacenter activated, 2022 Datacenter not activated"

M=$(date -u +%Y-%m)
AS=$(date -u -d '+2 min' +%Y-%m-%dT%H:%M:%SZ)
# compare DESC: the fleet's totals against the sums of the hosts' own reports
compare() {
  local d=$1 f per=() h
  f=$(fleet report --month "$M" --as-of "$AS" --format json)
  for h in hA hB hC; do per+=("$(ha "$h" report --month "$M" --as-of "$AS" --format json)"); done
  local sums
  sums=$(printf '%s\n' "${per[@]}" | jq -s '{vms: map(.total.vms_activated) | add,
    secs: map(.total.vm_seconds_licensed) | add, at_end: map(.total.running_at_end) | add,
    att: map(.total.attempts | add) | add, denied: map(.total.attempts.activation_denied) | add,
    invhost: map(.total.attempts.invalid_host) | add}')
  eq "$d: VMs = sum of the hosts' reports" "$(jq .total.vms <<<"$f")" "$(jq .vms <<<"$sums")"
  eq "$d: licensed VM-seconds = sum" "$(jq .total.licensed_seconds <<<"$f")" "$(jq .secs <<<"$sums")"
  eq "$d: at end = sum" "$(jq .total.at_end <<<"$f")" "$(jq .at_end <<<"$sums")"
  eq "$d: attempts = sum" "$(jq '.total.attempts | add' <<<"$f")" "$(jq .att <<<"$sums")"
  eq "$d: denied = sum" "$(jq '.total.attempts["Activation Denied"]' <<<"$f")" "$(jq .denied <<<"$sums")"
  eq "$d: invalid host = sum" "$(jq '.total.attempts["Invalid Host"]' <<<"$f")" "$(jq .invhost <<<"$sums")"
  eq "$d: per VM, the licensed seconds each host reports" \
    "$(jq -c '[.vms[] | {vm, s: .licensed_seconds}] | sort_by(.vm)' <<<"$f")" \
    "$(printf '%s\n' "${per[@]}" | jq -sc '[.[].vms[] | {vm, s: .vm_seconds_licensed}] | sort_by(.vm)')"
  eq "$d: per host, the licensable cores each host reports" \
    "$(jq -c '[.hosts[] | {id: .host_id, c: .licensable_cores}] | sort_by(.id)' <<<"$f")" \
    "$(printf '%s\n' "${per[@]}" | jq -sc '[.[] | {id: .host.host_id, c: .host.licensable_cores}] | sort_by(.id)')"
  local a b
  a=$(fleet report --month "$M" --as-of "$AS" --format json)
  b=$(fleet report --month "$M" --as-of "$AS" --format json --from-records)
  eq "$d: the summary tables give what the records give" "$a" "$b"
  LAST_FLEET=$f
}
compare "three real hosts"
first=$LAST_FLEET
eq "the VMs counted: a1 a2 b1 (licensed), none of the refused" \
  "$(jq -r '[.vms[] | select(.licensed_seconds > 0) | .vm] | sort | join(" ")' <<<"$first")" "a1 a2 b1"

# More activity on hA; the next pull asks for --since its cursor and adds only that.
before=$(pg_psql -c "SELECT cursor_seq FROM hosts WHERE pulled_as = 'hA'")
run_host hA
out=$(fleet pull hA 2>&1); rc=$?
eq "second pull of hA: exit 0" "$rc" 0
check "... from the cursor on, nothing held twice ($out)" \
  grep -q "new records, seq $((before + 1))\.\.[0-9]*\$" <<<"$out"
eq "every record still stored once" "$(pg_psql -c 'SELECT count(*) FROM records')" \
  "$(cat "$T"/h?/events.jsonl | wc -l)"
out=$(fleet pull 2>&1)
eq "a pull with nothing new: nothing added" "$(grep -c 'nothing new' <<<"$out")" 3
compare "after the second pull"
eq "the new decisions counted, the old ones once" \
  "$(jq '.total.attempts | add' <<<"$LAST_FLEET")" "$(n12310)"
eq "hB and hC unchanged" \
  "$(jq -c '[.vms[] | select(.vm | test("^[bc]"))]' <<<"$LAST_FLEET")" \
  "$(jq -c '[.vms[] | select(.vm | test("^[bc]"))]' <<<"$first")"

echo "# test-fleet-hosts: $( ((FAILED)) && echo 'some checks failed' || echo 'all checks passed')"
exit $FAILED
