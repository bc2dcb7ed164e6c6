#!/usr/bin/env bash
# demo-fleet: three hosts whose VMs migrate between them, collected by avma-fleet into a
# throwaway PostgreSQL 15 server, then the month's fleet report and the hosts' list. The bundles
# come from bundle-gen (real chains and signatures); `make demo-fleet`. Ends with the report signed
# by the collector's key and checked with minisign.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
B=$(cd "${BUILD:-build}" && pwd)
W=$(mktemp -d /tmp/avma-fleet-demo.XXXXXX)
chmod 755 "$W"
PG_TMP=$W
source "$here/pg.sh"
trap 'pg_cleanup; rm -rf "$W"' EXIT
pg_start
printf '[database]\nconninfo=%s\n[report]\nsigning_key=%s\n' "$PG_CONNINFO" "$W/report.key" >"$W/fleet.conf"
fleet() { echo "\$ avma-fleet $*" >&2; "$B/avma-fleet" -c "$W/fleet.conf" "$@"; }
"$B/tests/fleet/bundle-gen" --out "$W/g" --hosts 3 --vms 2 --bundles 2 --migrate-pct 30 >/dev/null
fleet db init
fleet ingest "$W"/g/h000*/bundle-1.jsonl
fleet ingest "$W"/g/h000*/bundle-*.jsonl
echo "== a bundle altered on its way is refused, and the others go on" >&2
sed '3s/tenant-vm-/tenant-xx-/' "$W/g/h0001/bundle-2.jsonl" >"$W/altered.jsonl"
fleet ingest "$W/altered.jsonl" || true
fleet hosts
fleet report --month 2026-11 --as-of 2026-12-02
echo "== the same report, signed by the collector's key, checked with stock minisign" >&2
fleet key create
fleet report --month 2026-11 --as-of 2026-12-02 --format csv --output "$W/fleet-2026-11.csv" --sign
if command -v minisign >/dev/null; then
  echo "\$ minisign -V -p report.pub -m fleet-2026-11.csv" >&2
  minisign -V -p "$W/report.pub" -m "$W/fleet-2026-11.csv"
fi
