#!/usr/bin/env bash
# Inventory reconciliation and stale metadata, against the test driver inside a private libvirtd:
# a VM whose stop libvirt never reports (libvirtd restarted: the test driver forgets its domains)
# has its run closed by the next listing, recorded as "reconciled"; the periodic listing runs
# without changing runs that are right; a persistent metadata copy older than the live one is
# rewritten from the live one when the domain is found; an unreachable libvirt changes nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-libvirt.sh"

if ! command -v libvirtd >/dev/null || ! command -v virsh >/dev/null; then
  echo "# skip: libvirtd/virsh not installed (libvirt-daemon, libvirt-clients)"
  exit 0
fi
lv_setup || exit 1
lv_libvirtd_start || { not_ok "private libvirtd starts"; tail "$LV/libvirtd.log"; exit 1; }
lv_hold
V() { lv_virsh "$LV_TEST_URI" "$@"; }
DB=$LV/st/history.db
q() { sqlite3 -readonly "$DB" "$@"; }
# last_run NAME: "running reason" of NAME's latest run edge
last_run() { q "SELECT running || ' ' || reason FROM vm_states WHERE vm = '$1' ORDER BY id DESC LIMIT 1"; }
last_run_is() { [[ $(last_run "$1") == "$2" ]]; }

U_R=8e4f2a7c-2f2a-4daa-9c83-2c2c2c2c2c01
U_S=8e4f2a7c-2f2a-4daa-9c83-2c2c2c2c2c02
test_domain ra $U_R >"$LV/ra.xml"
test_domain rs $U_S >"$LV/rs.xml"
[[ -n $LV_USER ]] && chown "$LV_USER:" "$LV"/*.xml
V define "$LV/ra.xml" >/dev/null && V start ra >/dev/null
V define "$LV/rs.xml" >/dev/null && V start rs >/dev/null

# rs: the live copy is a newer decision than the persistent one (a write that reached only the
# live definition, e.g. during a move): the agent rewrites the persistent copy on arrival.
meta() { # meta NAME TIME NOTIFICATION FLAG
  V metadata "$1" "$NS" --key avma --set \
    "<activation event-id='12310'><notification>$3</notification><time>$2</time></activation>" "$4" >/dev/null
}
meta rs 2026-03-01T10:00:00Z "AVMA Success" --config
meta rs 2026-03-02T10:00:00Z "Invalid Host" --live
eq "set-up: rs's persistent copy is the older one" \
  "$(V metadata rs "$NS" --config | grep -o '<time>[^<]*' )" "<time>2026-03-01T10:00:00Z"

host_conf "connect=$LV_TEST_URI" "[libvirt]" "reconcile_interval=5"
uhostd
check "ra found running" lv_wait 10 vm_is ra state running
check "ra's run opened" lv_wait 5 last_run_is ra "1 domain-running"
check "stale persistent metadata: rewritten" \
  lv_wait 10 log_has "metadata: rs: the persistent copy was older than the live one: rewritten"
m=$(V metadata rs "$NS" --config 2>&1)
check "stale persistent metadata: the persistent copy is now the live one" \
  grep -q "<time>2026-03-02T10:00:00Z</time>" <<<"$m"
check "stale persistent metadata: its content too" grep -q "<notification>Invalid Host</notification>" <<<"$m"
check "stale persistent metadata: the live copy untouched" \
  grep -q "<time>2026-03-02T10:00:00Z</time>" <<<"$(V metadata rs "$NS" 2>&1)"

# The periodic listing runs and leaves right runs alone.
check "periodic listing runs" lv_wait 12 log_has "libvirt: reconciled: "
eq "periodic listing: ra's run not touched" "$(q "SELECT count(*) FROM vm_states WHERE vm = 'ra'")" 1
eq "periodic listing: no second rewrite of rs" \
  "$(log_count 'metadata: rs: the persistent copy was older')" 1

# libvirtd restarted: the test driver forgets ra and rs, and no event says they stopped.
lv_libvirtd_stop
check "connection loss noticed" lv_wait 10 log_has "libvirt: connection to .* lost"
eq "libvirt unreachable: runs unchanged" "$(last_run ra)" "1 domain-running"
lv_libvirtd_start || not_ok "libvirtd restarts"
lv_hold
check "missed stop: ra's run closed by the listing" lv_wait 15 last_run_is ra "0 reconciled"
check "missed stop: rs's run closed by the listing" lv_wait 5 last_run_is rs "0 reconciled"
check "missed stop: logged" log_has "ra: no longer known to libvirt"

# A domain started while the agent listens (events) keeps the events' reasons.
V define "$LV/ra.xml" >/dev/null && V start ra >/dev/null
check "after the repair: events flow again" lv_wait 10 last_run_is ra "1 domain-started"
# Wait out a periodic listing: it finds nothing to repair.
n=$(log_count "libvirt: reconciled: ")
check "periodic listing after reconnect" lv_wait 12 bash -c "(( \$(grep -c 'libvirt: reconciled: ' '$LV/hostd.log') > $n ))"
eq "periodic listing: ra still running, not re-opened" "$(last_run ra)" "1 domain-started"
uhostd_stop

# Bad settings: a clear error, nothing started.
host_conf "connect=$LV_TEST_URI" "[libvirt]" "reconcile_interval=1"
out=$(as_user "$B/avma-hostd" --config "$LV/host.conf" --state-dir "$LV/st" 2>&1); rc=$?
check "reconcile_interval below its range: refused" test "$rc" -ne 0
check "reconcile_interval below its range: says which setting" grep -q "reconcile_interval" <<<"$out"
exit $FAILED
