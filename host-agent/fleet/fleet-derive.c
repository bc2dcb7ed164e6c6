/* fleet-derive: the report's summary tables, updated per stored bundle ($1 host id, $2 the seq
 * after which its records are new). */
#include "fleet-derive.h"

#include <string.h>

/* The statements in order; LOCK takes no parameter. Grants cross hosts (a grant ends at the VM's
 * next success anywhere), and another collector may be storing the same VM's records from
 * another host: one bundle at a time from here to its commit, each statement seeing what the
 * other committed (READ COMMITTED). */
#define LOCK "SELECT pg_advisory_xact_lock(1986201913)"
static const char *const steps[] = {
    LOCK,
    /* A host's records come in seq order, so only its last interval of a VM can be open
     * (hi = infinity): the VM's first new 12312 record there closes it. */
    "UPDATE run_intervals ri SET hi = greatest(ri.lo, f.time)"
    " FROM (SELECT DISTINCT ON (vm_key) vm_key, time FROM run_edges"
    "  WHERE host_id = $1 AND seq > $2 ORDER BY vm_key, seq) f"
    " WHERE ri.host_id = $1 AND ri.vm_key = f.vm_key AND ri.hi = 'infinity'",
    "INSERT INTO run_intervals (host_id, seq, vm_key, vm, lo, hi)"
    " SELECT host_id, seq, vm_key, vm, time, hi FROM ("
    "  SELECT host_id, seq, vm_key, vm, time, running, greatest(time, coalesce(lead(time) OVER"
    "   (PARTITION BY vm_key ORDER BY seq), 'infinity')) AS hi"
    "  FROM run_edges WHERE host_id = $1 AND seq > $2) x WHERE running",
    /* The new 12310 records read once: counted per day, first successes per month, grants.
     * Each grant holds from its success until the earlier of its granted_until and the VM's
     * next success, so a VM's grants are disjoint and only the one before the first new success
     * (at tp) can change: everything from tp on is cut and computed again from the successes
     * there, the new ones among them. */
    "WITH n AS MATERIALIZED (SELECT * FROM decisions WHERE host_id = $1 AND seq > $2),"
    " days AS (INSERT INTO decision_days (day, v, ed, notification, n)"
    "  SELECT (time AT TIME ZONE 'UTC')::date, product_version, product_edition, notification,"
    "   count(*) FROM n GROUP BY 1, 2, 3, 4"
    "  ON CONFLICT (day, v, ed, notification) DO UPDATE SET n = decision_days.n + excluded.n),"
    " months AS (INSERT INTO vm_month_success (month, vm_key, v, ed, first_at)"
    "  SELECT date_trunc('month', time AT TIME ZONE 'UTC')::date, vm_key, product_version,"
    "   product_edition, min(time) FROM n WHERE notification = 'AVMA Success'"
    "   GROUP BY 1, 2, 3, 4"
    "  ON CONFLICT (month, vm_key, v, ed) DO UPDATE"
    "   SET first_at = least(vm_month_success.first_at, excluded.first_at)),"
    " t AS (SELECT vm_key, min(time) AS t0 FROM n"
    "  WHERE notification = 'AVMA Success' AND granted_until IS NOT NULL GROUP BY vm_key),"
    " p AS (SELECT t.vm_key, coalesce((SELECT max(d.time) FROM decisions d"
    "  WHERE d.vm_key = t.vm_key AND d.notification = 'AVMA Success'"
    "  AND d.granted_until IS NOT NULL AND d.time < t.t0), t.t0) AS tp FROM t),"
    " g AS (SELECT vm_key, v, ed, range_agg(r) AS mr FROM ("
    "  SELECT d.vm_key, d.product_version AS v, d.product_edition AS ed,"
    "   tstzrange(d.time, greatest(d.time, least(d.granted_until, coalesce(lead(d.time) OVER"
    "    (PARTITION BY d.vm_key ORDER BY d.time, d.host_id, d.seq), 'infinity')))) AS r"
    "  FROM p JOIN decisions d ON d.vm_key = p.vm_key AND d.time >= p.tp"
    "   AND d.notification = 'AVMA Success' AND d.granted_until IS NOT NULL) x"
    "  GROUP BY 1, 2, 3),"
    " k AS (SELECT vm_key, v, ed FROM vm_grants WHERE vm_key IN (SELECT vm_key FROM p)"
    "  UNION SELECT vm_key, v, ed FROM g)"
    " INSERT INTO vm_grants (vm_key, v, ed, mr)"
    " SELECT k.vm_key, k.v, k.ed, (coalesce(o.mr, '{}'::tstzmultirange)"
    "  - tstzmultirange(tstzrange(p.tp, NULL))) + coalesce(g.mr, '{}'::tstzmultirange)"
    " FROM k JOIN p USING (vm_key) LEFT JOIN vm_grants o USING (vm_key, v, ed)"
    " LEFT JOIN g USING (vm_key, v, ed)"
    " ON CONFLICT (vm_key, v, ed) DO UPDATE SET mr = excluded.mr",
};

gboolean avma_fleet_derive(PGconn *c, const char *host_id, guint64 after, GError **error) {
  g_autofree char *seq = g_strdup_printf("%" G_GUINT64_FORMAT, after);
  const char *p[] = {host_id, seq};
  for (gsize i = 0; i < G_N_ELEMENTS(steps); i++) {
    gboolean lock = !strcmp(steps[i], LOCK);
    g_autoptr(PGresult) r = avma_fleet_db_query(c, steps[i], lock ? 0 : 2, lock ? NULL : p, error);
    if (!r)
      return FALSE;
  }
  return TRUE;
}
