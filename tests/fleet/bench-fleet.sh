#!/usr/bin/env bash
# bench-fleet: the fleet collector at scale (issue #19 item 7): HOSTS x VMS for DAYS days (daily
# renewals, 1 % of the VMs migrating each week) written by bundle-gen, ingested by avma-fleet
# into a throwaway PostgreSQL 15 server, then the month's report. Prints the ingest rate
# (records/s), the report's time and both peak RSS figures (/usr/bin/time -v). Targets:
# >= 20 000 records/s, report < 10 s, < 512 MB. Not part of `make check`. AGAIN=0 skips timing a
# second ingest of the same bundles.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
B=$(cd "${BUILD:-build}" && pwd)
HOSTS=${HOSTS:-2000} VMS=${VMS:-100} DAYS=${DAYS:-30}
W=$(mktemp -d "${BENCH_DIR:-/var/tmp}/avma-fleet-bench.XXXXXX")
chmod 755 "$W"
PG_TMP=$W PG_SHARED_BUFFERS=256MB
source "$here/pg.sh"
trap 'pg_cleanup; rm -rf "$W"' EXIT
pg_start
printf '[database]\nconninfo=%s\n' "$PG_CONNINFO" >"$W/fleet.conf"
fleet() { "$B/avma-fleet" -c "$W/fleet.conf" "$@"; }
fleet db init >/dev/null
peak() { awk -F': ' '/Maximum resident/ {printf "%.1f MB", $2 / 1024}' "$1"; }
secs() { awk -F': ' '/Elapsed \(wall/ {n = split($2, a, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s}' "$1"; }

echo "bench-fleet: generating $HOSTS hosts x $VMS VMs x $DAYS days"
t0=$(date +%s.%N)
n=$("$B/tests/fleet/bundle-gen" --out "$W/g" --hosts "$HOSTS" --vms "$VMS" --days "$DAYS" \
  --start 2026-11-01T00:00:00Z)
t1=$(date +%s.%N)
printf 'bench-fleet: %d records in %d bundles (%.0f MB) generated in %.1f s\n' "$n" "$HOSTS" \
  "$(du -sm "$W/g" | cut -f1)" "$(bc -l <<<"$t1 - $t0")"
find "$W/g" -name events.jsonl -delete
find "$W/g" -name 'bundle-*.jsonl' | sort >"$W/list"
/usr/bin/time -v -o "$W/ingest.time" xargs -a "$W/list" "$B/avma-fleet" -c "$W/fleet.conf" ingest >/dev/null
it=$(secs "$W/ingest.time")
printf 'bench-fleet: ingest: %.1f s, %.0f records/s (target >= 20000), peak RSS %s\n' "$it" \
  "$(bc -l <<<"$n / $it")" "$(peak "$W/ingest.time")"
if [[ ${AGAIN:-1} == 1 ]]; then
  /usr/bin/time -v -o "$W/again.time" xargs -a "$W/list" "$B/avma-fleet" -c "$W/fleet.conf" ingest >/dev/null
  printf 'bench-fleet: the same bundles again (nothing new): %.1f s\n' "$(secs "$W/again.time")"
fi
for f in text json; do
  /usr/bin/time -v -o "$W/report.time" "$B/avma-fleet" -c "$W/fleet.conf" report --month 2026-11 \
    --as-of 2026-12-02 --format $f >"$W/report.$f"
  printf 'bench-fleet: report --format %s: %.1f s (target < 10), peak RSS %s (target < 512 MB), %d lines\n' \
    $f "$(secs "$W/report.time")" "$(peak "$W/report.time")" "$(wc -l <"$W/report.$f")"
done
grep -A12 '^Guests' "$W/report.text"
echo "bench-fleet: database size $(pg_psql -c "SELECT pg_size_pretty(pg_database_size('avma_fleet'))")"
