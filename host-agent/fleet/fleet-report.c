/* fleet-report: the monthly fleet report's queries (one snapshot) and its three renderings. */
#include "fleet-report.h"

#include "fleet-bundle.h"
#include "timeutil.h"

#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>

/* The sections, each one query result; columns as the SELECTs below name them. */
enum { S_HOSTS, S_PRODUCTS, S_VMS, S_VM_HOSTS, S_QUALITY, S_COUNT };

struct AvmaFleetReport {
  int year, month;
  gint64 start, end, as_of, period_end;
  PGresult *res[S_COUNT];
};

void avma_fleet_report_free(AvmaFleetReport *r) {
  if (!r)
    return;
  for (int i = 0; i < S_COUNT; i++)
    PQclear(r->res[i]);
  g_free(r);
}

#define TS(x) "to_char(" x ", 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* Working sets of the period [S, E), E = min(month end, as-of), built from the summary tables
 * (fleet-derive.c) or, with from_records, from the typed records themselves:
 *  runs: when each VM ran on each host (a running edge to the VM's next edge on that host);
 *  grants: per VM and product, the merged time its AVMA Successes held, from any host: each until
 *    the earlier of its granted_until and the VM's next Success anywhere (a migrated VM keeps the
 *    validity its old host granted);
 *  granted: the VMs with an AVMA Success in the period, per product;
 *  att: the period's 12310 records per product and notification.
 * Then, from those alone, lic: per VM and product, the instants it ran somewhere inside a grant.
 * Ranges are merged per VM (range_agg), so the overlap of a live migration counts once. */
static const char *const setup_summary[] = {
    "CREATE TEMP TABLE runs ON COMMIT DROP AS"
    " SELECT host_id, vm_key, vm, tstzrange(lo, hi) * tstzrange(@S@, @E@) AS r FROM run_intervals"
    " WHERE lo < @E@ AND hi > @S@ AND tstzrange(lo, hi) && tstzrange(@S@, @E@)",
    "CREATE TEMP TABLE grants ON COMMIT DROP AS"
    " SELECT vm_key, v, ed, mr * tstzmultirange(tstzrange(@S@, @E@)) AS mr FROM vm_grants"
    " WHERE mr && tstzrange(@S@, @E@)",
    "CREATE TEMP TABLE granted ON COMMIT DROP AS"
    " SELECT vm_key, v, ed FROM vm_month_success"
    " WHERE month = (@S@ AT TIME ZONE 'UTC')::date AND first_at < @E@",
    /* whole days from the counts, the part of a day before as-of from the records */
    "CREATE TEMP TABLE att ON COMMIT DROP AS"
    " SELECT v, ed, sum(n) FILTER (WHERE notification = 'AVMA Success')::bigint AS ok,"
    "  sum(n) FILTER (WHERE notification = 'Invalid Host')::bigint AS ih,"
    "  sum(n) FILTER (WHERE notification = 'Invalid Data')::bigint AS id,"
    "  sum(n) FILTER (WHERE notification = 'Activation Denied')::bigint AS ad FROM ("
    "  SELECT v, ed, notification, n FROM decision_days"
    "   WHERE day >= (@S@ AT TIME ZONE 'UTC')::date"
    "   AND day < (date_trunc('day', @E@ AT TIME ZONE 'UTC'))::date"
    "  @PARTIAL@) x GROUP BY 1, 2",
};

static const char *const setup_records[] = {
    "CREATE TEMP TABLE runs ON COMMIT DROP AS"
    " SELECT host_id, vm_key, vm, r * tstzrange(@S@, @E@) AS r FROM ("
    "  SELECT host_id, vm_key, vm, running,"
    "   tstzrange(time, greatest(time, coalesce(lead(time) OVER w, 'infinity'))) AS r"
    "  FROM run_edges WHERE time < @E@ WINDOW w AS (PARTITION BY host_id, vm_key ORDER BY seq)) x"
    " WHERE running AND r && tstzrange(@S@, @E@)",
    "CREATE TEMP TABLE grants ON COMMIT DROP AS"
    " SELECT vm_key, v, ed, range_agg(r * tstzrange(@S@, @E@)) AS mr FROM ("
    "  SELECT vm_key, product_version AS v, product_edition AS ed,"
    "   tstzrange(time, greatest(time, least(granted_until, coalesce(lead(time) OVER"
    "    (PARTITION BY vm_key ORDER BY time, host_id, seq), 'infinity')))) AS r"
    "  FROM decisions WHERE notification = 'AVMA Success' AND granted_until IS NOT NULL"
    "   AND time < @E@) x"
    " WHERE r && tstzrange(@S@, @E@) GROUP BY 1, 2, 3",
    "CREATE TEMP TABLE granted ON COMMIT DROP AS"
    " SELECT DISTINCT vm_key, product_version AS v, product_edition AS ed FROM decisions"
    " WHERE notification = 'AVMA Success' AND time >= @S@ AND time < @E@",
    "CREATE TEMP TABLE att ON COMMIT DROP AS"
    " SELECT product_version AS v, product_edition AS ed,"
    "  count(*) FILTER (WHERE notification = 'AVMA Success') AS ok,"
    "  count(*) FILTER (WHERE notification = 'Invalid Host') AS ih,"
    "  count(*) FILTER (WHERE notification = 'Invalid Data') AS id,"
    "  count(*) FILTER (WHERE notification = 'Activation Denied') AS ad"
    " FROM decisions WHERE time >= @S@ AND time < @E@ GROUP BY 1, 2",
};

static const char *const setup[] = {
    /* per VM: when it ran anywhere, merged, and on how many hosts */
    "CREATE TEMP TABLE ran ON COMMIT DROP AS"
    " SELECT vm_key, max(vm) AS vm, range_agg(r) AS mr, count(DISTINCT host_id) AS n"
    " FROM runs GROUP BY vm_key",
    "CREATE TEMP TABLE lic ON COMMIT DROP AS"
    " SELECT ga.vm_key, ga.v, ga.ed, ga.mr * ra.mr AS mr FROM grants ga JOIN ran ra USING (vm_key)",
    "DELETE FROM lic WHERE isempty(mr)",
    "ANALYZE runs; ANALYZE lic",
};

static const char *const queries[S_COUNT] = {
    /* hosts that have recorded anything before the period's end */
    [S_HOSTS] =
        "SELECT h.hostname, h.host_id, f.sockets, f.cores_per_socket,"
        " CASE WHEN f.sockets IS NULL THEN NULL ELSE"
        "  greatest(@MINSRV@, f.sockets * greatest(@MINPROC@, f.cores_per_socket)) END,"
        " l.licence_set, l.version, l.edition, l.activated,"
        " coalesce((SELECT bool_and(ok) AND min(time) <= @S@ FROM ("
        "   SELECT time, licence_set AND activated AS ok, lead(time) OVER (ORDER BY seq) AS nxt"
        "   FROM licences WHERE host_id = h.host_id) x WHERE time < @E@ AND (nxt IS NULL OR nxt > "
        "@S@)),"
        "  false),"
        " coalesce(n.vms, 0)"
        " FROM hosts h"
        " LEFT JOIN (SELECT host_id, count(DISTINCT vm_key) AS vms FROM runs GROUP BY 1) n"
        "  ON n.host_id = h.host_id"
        " LEFT JOIN LATERAL (SELECT * FROM host_facts WHERE host_id = h.host_id AND time < @E@"
        "  ORDER BY seq DESC LIMIT 1) f ON true"
        " LEFT JOIN LATERAL (SELECT * FROM licences WHERE host_id = h.host_id AND time < @E@"
        "  ORDER BY seq DESC LIMIT 1) l ON true"
        " WHERE EXISTS (SELECT 1 FROM records WHERE host_id = h.host_id AND time < @E@)"
        " ORDER BY h.hostname, h.host_id",
    /* per product, then the total row (version NULL) */
    [S_PRODUCTS] =
        "WITH p AS (SELECT v, ed, vm_key FROM lic UNION SELECT v, ed, vm_key FROM granted),"
        " lr AS MATERIALIZED (SELECT vm_key, v, ed, r FROM lic, unnest(mr) r),"
        " tot AS (SELECT vm_key, range_agg(r) AS mr FROM lr GROUP BY vm_key),"
        " tr AS MATERIALIZED (SELECT vm_key, r FROM tot, unnest(mr) r),"
        " ev AS (SELECT v, ed, lower(r) AS t, 1 AS d FROM lr"
        "   UNION ALL SELECT v, ed, upper(r), -1 FROM lr"
        "   UNION ALL SELECT NULL, NULL, lower(r), 1 FROM tr"
        "   UNION ALL SELECT NULL, NULL, upper(r), -1 FROM tr),"
        /* Ends count before starts at the same instant (touching intervals do not overlap), so
         * the most at once is reached after all of an instant's changes: a running sum of each
         * instant's net change, over far fewer rows than one per change. */
        " peak AS (SELECT v, ed, max(c) AS peak FROM (SELECT v, ed, sum(sum(d)) OVER"
        "   (PARTITION BY v, ed ORDER BY t ROWS UNBOUNDED PRECEDING) AS c FROM ev"
        "   GROUP BY v, ed, t) x GROUP BY v, ed),"
        " secs AS (SELECT v, ed, sum(extract(epoch FROM upper(r) - lower(r)))::bigint AS s,"
        "   count(*) FILTER (WHERE r && tstzrange(@E@ - interval '1 second', @E@))"
        "    AS at_end FROM lr GROUP BY v, ed),"
        " tsecs AS (SELECT sum(extract(epoch FROM upper(r) - lower(r)))::bigint AS s,"
        "   count(*) FILTER (WHERE r && tstzrange(@E@ - interval '1 second', @E@))"
        "    AS at_end FROM tr),"
        " keys AS (SELECT v, ed FROM p UNION SELECT v, ed FROM att),"
        " pc AS (SELECT v, ed, count(*) AS n FROM p GROUP BY v, ed)"
        " SELECT k.v, k.ed, coalesce(pc.n, 0),"
        "  coalesce(pk.peak, 0), coalesce(s.at_end, 0), coalesce(s.s, 0),"
        "  coalesce(a.ok, 0), coalesce(a.ih, 0), coalesce(a.id, 0), coalesce(a.ad, 0)"
        " FROM keys k LEFT JOIN pc ON pc.v = k.v AND pc.ed = k.ed"
        " LEFT JOIN peak pk ON pk.v = k.v AND pk.ed = k.ed"
        " LEFT JOIN secs s ON s.v = k.v AND s.ed = k.ed"
        " LEFT JOIN att a ON a.v = k.v AND a.ed = k.ed"
        " UNION ALL SELECT NULL, NULL, (SELECT count(DISTINCT vm_key) FROM p),"
        "  coalesce((SELECT peak FROM peak WHERE v IS NULL), 0),"
        "  coalesce((SELECT at_end FROM tsecs), 0), coalesce((SELECT s FROM tsecs), 0),"
        "  coalesce(sum(ok), 0), coalesce(sum(ih), 0), coalesce(sum(id), 0), coalesce(sum(ad), 0)"
        "  FROM att"
        " ORDER BY 1 DESC NULLS LAST, 2",
    /* per VM: merged time it ran anywhere, licensed time, products, hosts, attempts that failed */
    [S_VMS] =
        /* lic has one row per VM and product */
    "WITH l AS (SELECT vm_key, sum((SELECT sum(extract(epoch FROM upper(r) - lower(r)))"
    "   FROM unnest(mr) r))::bigint AS s,"
    "   string_agg(concat_ws(' ', v, ed), ', ' ORDER BY concat_ws(' ', v, ed)) AS products"
    "   FROM lic GROUP BY vm_key)"
    " SELECT ran.vm_key, ran.vm, ran.n,"
    "  (SELECT sum(extract(epoch FROM upper(r) - lower(r)))::bigint FROM unnest(ran.mr) r),"
    "  coalesce(l.s, 0), coalesce(l.products, '')"
    " FROM ran LEFT JOIN l USING (vm_key) ORDER BY ran.vm, ran.vm_key",
    [S_VM_HOSTS] = "SELECT r.vm_key, h.hostname, r.host_id,"
                   " string_agg(" TS("lower(r.r)") " || '/' || " TS(
                       "upper(r.r)") ", ' ' ORDER BY lower(r.r))"
                                     " FROM runs r JOIN hosts h USING (host_id)"
                                     " GROUP BY r.vm_key, h.hostname, r.host_id ORDER BY r.vm_key, "
                                     "min(lower(r.r))",
    /* findings recorded since the month began, and what the hosts' state says now */
    [S_QUALITY] =
        "SELECT * FROM ("
        " SELECT f.at, coalesce(h.hostname, ''), coalesce(f.host_id, ''), f.kind,"
        "  f.origin || ': ' || f.detail"
        "  FROM findings f LEFT JOIN hosts h USING (host_id) WHERE f.at >= @S@ AND f.at < @ASOF@"
        " UNION ALL SELECT NULL, hostname, host_id, 'refused', 'last bundle refused: ' || "
        "state_detail"
        "  FROM hosts WHERE state <> 'ok'"
        " UNION ALL SELECT NULL, hostname, host_id, 'silent', 'no record since ' ||"
        "  coalesce(" TS(
            "last_record_time") ", 'ever')"
                                "  FROM hosts WHERE coalesce(last_record_time, '-infinity') < "
                                "@ASOF@ - @SILENT@ * interval '1 second'"
                                " UNION ALL SELECT NULL, hostname, host_id, 'incomplete', 'no "
                                "record after the month''s end'"
                                "  || ' received yet (last ' || coalesce(" TS(
                                    "last_record_time") ", 'none') || ')'"
                                                        "  FROM hosts WHERE @ASOF@ >= @END@ AND "
                                                        "coalesce(last_record_time, '-infinity') < "
                                                        "@END@"
                                                        ") q ORDER BY 1 NULLS LAST, 2, 4",
};

/* The parameters are numbers and times this file formats itself: substituted as literals. */
static char *bind(const char *sql, const AvmaFleetReport *r, const AvmaFleetConfig *cfg) {
  g_autofree char *s = avma_time_format(r->start), *e = avma_time_format(r->period_end);
  g_autofree char *a = avma_time_format(r->as_of), *end = avma_time_format(r->end);
  struct {
    const char *name;
    char *value;
  } v[] = {
      /* The part of a day before as-of (first: it holds @E@), unless the period ends at
       * midnight, the usual case: then decisions are not read at all. */
      {"@PARTIAL@",
       g_strdup(r->period_end % 86400
                    ? "UNION ALL SELECT product_version, product_edition, notification, 1 FROM"
                      " decisions WHERE time >= date_trunc('day', @E@ AT TIME ZONE 'UTC') AT TIME"
                      " ZONE 'UTC' AND time < @E@"
                    : "")},
      {"@SILENT@", g_strdup_printf("%" G_GINT64_FORMAT, cfg->silent_after)},
      {"@MINPROC@", g_strdup_printf("%u", cfg->min_cores_per_processor)},
      {"@MINSRV@", g_strdup_printf("%u", cfg->min_cores_per_server)},
      {"@ASOF@", g_strdup_printf("'%s'::timestamptz", a)},
      {"@END@", g_strdup_printf("'%s'::timestamptz", end)},
      {"@S@", g_strdup_printf("'%s'::timestamptz", s)},
      {"@E@", g_strdup_printf("'%s'::timestamptz", e)},
  };
  g_autoptr(GString) q = g_string_new(sql);
  for (gsize i = 0; i < G_N_ELEMENTS(v); i++) {
    g_string_replace(q, v[i].name, v[i].value, 0);
    g_free(v[i].value);
  }
  return g_string_free(g_steal_pointer(&q), FALSE);
}

static gint64 month_start(int y, int m) {
  g_autoptr(GDateTime) d = g_date_time_new_utc(y, m, 1, 0, 0, 0);
  return g_date_time_to_unix(d);
}

AvmaFleetReport *avma_fleet_report_build(PGconn *c, const AvmaFleetConfig *cfg, int year, int month,
                                         gint64 as_of, gboolean from_records, GError **error) {
  g_autoptr(AvmaFleetReport) r = g_new0(AvmaFleetReport, 1);
  r->year = year;
  r->month = month;
  r->start = month_start(year, month);
  r->end = month == 12 ? month_start(year + 1, 1) : month_start(year, month + 1);
  r->as_of = as_of;
  r->period_end = MIN(r->end, as_of);
  if (as_of <= r->start) {
    g_set_error(error, AVMA_FLEET_ERROR, AVMA_FLEET_ERROR_MALFORMED,
                "%04d-%02d has not begun by the as-of time", year, month);
    return NULL;
  }
  /* One snapshot: an ingest committing meanwhile changes no figure half-way. */
  if (!avma_fleet_db_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ", error))
    return NULL;
  /* The month's sorts fit in memory instead of spilling. */
  gboolean ok = avma_fleet_db_exec(c, "SET LOCAL work_mem = '256MB'", error);
  const char *const *first = from_records ? setup_records : setup_summary;
  gsize n_first = from_records ? G_N_ELEMENTS(setup_records) : G_N_ELEMENTS(setup_summary);
  for (gsize i = 0; ok && i < n_first + G_N_ELEMENTS(setup); i++) {
    g_autofree char *sql = bind(i < n_first ? first[i] : setup[i - n_first], r, cfg);
    ok = avma_fleet_db_exec(c, sql, error);
  }
  for (int i = 0; ok && i < S_COUNT; i++) {
    g_autofree char *sql = bind(queries[i], r, cfg);
    ok = (r->res[i] = avma_fleet_db_query(c, sql, 0, NULL, error)) != NULL;
  }
  avma_fleet_db_exec(c, ok ? "COMMIT" : "ROLLBACK", NULL);
  return ok ? g_steal_pointer(&r) : NULL;
}

/* ---- rendering ---- */

static const char *val(const PGresult *p, int row, int col) {
  return PQgetisnull(p, row, col) ? "" : PQgetvalue(p, row, col);
}
static gint64 ival(const PGresult *p, int row, int col) {
  return g_ascii_strtoll(val(p, row, col), NULL, 10);
}
static gboolean bval(const PGresult *p, int row, int col) {
  return !strcmp(val(p, row, col), "t");
}
/* VM-days with two decimals, rounded half up from whole seconds, as the host's report does. */
static char *days(gint64 seconds) {
  gint64 cents = (seconds * 100 + 43200) / 86400;
  return g_strdup_printf("%" G_GINT64_FORMAT ".%02" G_GINT64_FORMAT, cents / 100, cents % 100);
}
static const char *product(const PGresult *p, int row, char **buf) {
  g_free(*buf);
  if (PQgetisnull(p, row, 0))
    return *buf = g_strdup("TOTAL");
  const char *v = val(p, row, 0), *e = val(p, row, 1);
  return *buf = *v || *e ? g_strdup_printf("%s %s", v, e) : g_strdup("unknown");
}
static char *licence(const PGresult *p, int row) {
  if (PQgetisnull(p, row, 5))
    return g_strdup("no licence record");
  if (!bval(p, row, 5))
    return g_strdup("not set");
  return g_strdup_printf("%s %s, %s", val(p, row, 6), val(p, row, 7),
                         bval(p, row, 8) ? "activated" : "not activated");
}

static char *to_text(const AvmaFleetReport *r) {
  GString *o = g_string_new(NULL);
  g_autofree char *asof = avma_time_format(r->as_of);
  g_string_append_printf(o, "AVMA fleet report %04d-%02d (%s, as of %s)\n\n", r->year, r->month,
                         r->as_of >= r->end ? "complete month" : "month to date", asof);
  const PGresult *h = r->res[S_HOSTS];
  g_string_append_printf(o, "Hosts\n  %-20s %-36s %7s %5s %11s  %-34s %s\n", "NAME", "ID",
                         "SOCKETS", "CORES", "LICENSABLE", "LICENCE (AT END)",
                         "ACTIVATED ALL MONTH");
  gint64 lic_total = 0;
  for (int i = 0; i < PQntuples(h); i++) {
    g_autofree char *l = licence(h, i);
    lic_total += ival(h, i, 4);
    g_string_append_printf(o, "  %-20s %-36s %7s %5s %11s  %-34s %s\n", val(h, i, 0), val(h, i, 1),
                           *val(h, i, 2) ? val(h, i, 2) : "?", *val(h, i, 3) ? val(h, i, 3) : "?",
                           *val(h, i, 4) ? val(h, i, 4) : "?", l, bval(h, i, 9) ? "yes" : "NO");
  }
  g_string_append_printf(o, "  %d hosts, %" G_GINT64_FORMAT " licensable cores\n\n", PQntuples(h),
                         lic_total);
  const PGresult *p = r->res[S_PRODUCTS];
  g_string_append_printf(o,
                         "Guests (VMs counted once across hosts)\n  %-24s %6s %6s %7s %10s %8s "
                         "%8s %8s %8s\n",
                         "PRODUCT", "VMS", "PEAK", "AT END", "VM-DAYS", "SUCCESS", "INV.HOST",
                         "INV.DATA", "DENIED");
  g_autofree char *name = NULL;
  for (int i = 0; i < PQntuples(p); i++) {
    g_autofree char *d = days(ival(p, i, 5));
    g_string_append_printf(o, "  %-24s %6s %6s %7s %10s %8s %8s %8s %8s\n", product(p, i, &name),
                           val(p, i, 2), val(p, i, 3), val(p, i, 4), d, val(p, i, 6), val(p, i, 7),
                           val(p, i, 8), val(p, i, 9));
  }
  const PGresult *v = r->res[S_VMS], *vh = r->res[S_VM_HOSTS];
  g_string_append_printf(o, "\nVMs\n  %-24s %-36s %5s %10s %10s  %s\n", "NAME", "UUID", "HOSTS",
                         "RAN DAYS", "LIC. DAYS", "PRODUCTS");
  int k = 0;
  for (int i = 0; i < PQntuples(v); i++) {
    g_autofree char *ran = days(ival(v, i, 3)), *lic = days(ival(v, i, 4));
    g_string_append_printf(o, "  %-24s %-36s %5s %10s %10s  %s\n", val(v, i, 1), val(v, i, 0),
                           val(v, i, 2), ran, lic, val(v, i, 5));
    for (; k < PQntuples(vh) && !strcmp(val(vh, k, 0), val(v, i, 0)); k++)
      g_string_append_printf(o, "      on %s: %s\n", val(vh, k, 1), val(vh, k, 3));
  }
  const PGresult *q = r->res[S_QUALITY];
  g_string_append_printf(o, "\nData quality (%d findings)\n", PQntuples(q));
  for (int i = 0; i < PQntuples(q); i++)
    g_string_append_printf(o, "  %-10s %-20s %s%s%s\n", val(q, i, 3),
                           *val(q, i, 1) ? val(q, i, 1) : val(q, i, 2), val(q, i, 4),
                           *val(q, i, 0) ? " at " : "", val(q, i, 0));
  if (!PQntuples(q))
    g_string_append(o, "  none\n");
  return g_string_free(o, FALSE);
}

/* RFC 4180: quoted when needed, CRLF. */
static void csv_field(GString *o, const char *s, gboolean last) {
  if (strpbrk(s, ",\"\r\n")) {
    g_string_append_c(o, '"');
    for (const char *c = s; *c; c++) {
      if (*c == '"')
        g_string_append_c(o, '"');
      g_string_append_c(o, *c);
    }
    g_string_append_c(o, '"');
  } else {
    g_string_append(o, s);
  }
  g_string_append(o, last ? "\r\n" : ",");
}

static void csv_row(GString *o, const char *const *fields, int n) {
  for (int i = 0; i < n; i++)
    csv_field(o, fields[i] ? fields[i] : "", i == n - 1);
}

static char *to_csv(const AvmaFleetReport *r) {
  GString *o = g_string_new(NULL);
  const PGresult *h = r->res[S_HOSTS], *p = r->res[S_PRODUCTS], *v = r->res[S_VMS];
  const PGresult *vh = r->res[S_VM_HOSTS], *q = r->res[S_QUALITY];
  csv_row(o,
          (const char *[]){"section", "hostname", "host_id", "sockets", "cores_per_socket",
                           "licensable_cores", "licence", "activated_whole_month", "vms_ran"},
          9);
  for (int i = 0; i < PQntuples(h); i++) {
    g_autofree char *l = licence(h, i);
    csv_row(o,
            (const char *[]){"host", val(h, i, 0), val(h, i, 1), val(h, i, 2), val(h, i, 3),
                             val(h, i, 4), l, bval(h, i, 9) ? "yes" : "no", val(h, i, 10)},
            9);
  }
  csv_row(o,
          (const char *[]){"section", "version", "edition", "vms", "peak", "at_end", "vm_days",
                           "success", "invalid_host", "invalid_data", "denied"},
          11);
  for (int i = 0; i < PQntuples(p); i++) {
    g_autofree char *d = days(ival(p, i, 5));
    gboolean total = PQgetisnull(p, i, 0);
    csv_row(o,
            (const char *[]){total ? "total" : "product", val(p, i, 0), val(p, i, 1), val(p, i, 2),
                             val(p, i, 3), val(p, i, 4), d, val(p, i, 6), val(p, i, 7),
                             val(p, i, 8), val(p, i, 9)},
            11);
  }
  csv_row(
      o,
      (const char *[]){"section", "vm", "vm_key", "hosts", "ran_days", "licensed_days", "products"},
      7);
  for (int i = 0; i < PQntuples(v); i++) {
    g_autofree char *ran = days(ival(v, i, 3)), *lic = days(ival(v, i, 4));
    csv_row(
        o, (const char *[]){"vm", val(v, i, 1), val(v, i, 0), val(v, i, 2), ran, lic, val(v, i, 5)},
        7);
  }
  csv_row(o, (const char *[]){"section", "vm_key", "hostname", "host_id", "intervals"}, 5);
  for (int i = 0; i < PQntuples(vh); i++)
    csv_row(o,
            (const char *[]){"vm_host", val(vh, i, 0), val(vh, i, 1), val(vh, i, 2), val(vh, i, 3)},
            5);
  csv_row(o, (const char *[]){"section", "at", "hostname", "host_id", "kind", "detail"}, 6);
  for (int i = 0; i < PQntuples(q); i++)
    csv_row(o,
            (const char *[]){"quality", val(q, i, 0), val(q, i, 1), val(q, i, 2), val(q, i, 3),
                             val(q, i, 4)},
            6);
  return g_string_free(o, FALSE);
}

static void jstr(JsonBuilder *b, const char *m, const char *v) {
  json_builder_set_member_name(b, m);
  json_builder_add_string_value(b, v);
}
static void jint(JsonBuilder *b, const char *m, const PGresult *p, int row, int col) {
  json_builder_set_member_name(b, m);
  if (PQgetisnull(p, row, col))
    json_builder_add_null_value(b);
  else
    json_builder_add_int_value(b, ival(p, row, col));
}

static void json_products(JsonBuilder *b, const PGresult *p) {
  json_builder_set_member_name(b, "products");
  json_builder_begin_array(b);
  int n = PQntuples(p);
  for (int i = 0; i < n; i++) {
    if (PQgetisnull(p, i, 0)) {
      json_builder_end_array(b);
      json_builder_set_member_name(b, "total");
    }
    json_builder_begin_object(b);
    if (!PQgetisnull(p, i, 0)) {
      jstr(b, "version", val(p, i, 0));
      jstr(b, "edition", val(p, i, 1));
    }
    jint(b, "vms", p, i, 2);
    jint(b, "peak", p, i, 3);
    jint(b, "at_end", p, i, 4);
    jint(b, "licensed_seconds", p, i, 5);
    g_autofree char *d = days(ival(p, i, 5));
    jstr(b, "vm_days", d);
    json_builder_set_member_name(b, "attempts");
    json_builder_begin_object(b);
    jint(b, "AVMA Success", p, i, 6);
    jint(b, "Invalid Host", p, i, 7);
    jint(b, "Invalid Data", p, i, 8);
    jint(b, "Activation Denied", p, i, 9);
    json_builder_end_object(b);
    json_builder_end_object(b);
  }
}

static char *to_json(const AvmaFleetReport *r) {
  g_autoptr(JsonBuilder) b = json_builder_new();
  g_autofree char *month = g_strdup_printf("%04d-%02d", r->year, r->month);
  g_autofree char *asof = avma_time_format(r->as_of);
  json_builder_begin_object(b);
  jstr(b, "month", month);
  jstr(b, "as_of", asof);
  json_builder_set_member_name(b, "complete");
  json_builder_add_boolean_value(b, r->as_of >= r->end);
  const PGresult *h = r->res[S_HOSTS];
  json_builder_set_member_name(b, "hosts");
  json_builder_begin_array(b);
  for (int i = 0; i < PQntuples(h); i++) {
    json_builder_begin_object(b);
    jstr(b, "hostname", val(h, i, 0));
    jstr(b, "host_id", val(h, i, 1));
    jint(b, "sockets", h, i, 2);
    jint(b, "cores_per_socket", h, i, 3);
    jint(b, "licensable_cores", h, i, 4);
    g_autofree char *l = licence(h, i);
    jstr(b, "licence", l);
    json_builder_set_member_name(b, "activated_whole_month");
    json_builder_add_boolean_value(b, bval(h, i, 9));
    jint(b, "vms_ran", h, i, 10);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_products(b, r->res[S_PRODUCTS]);
  const PGresult *v = r->res[S_VMS], *vh = r->res[S_VM_HOSTS];
  json_builder_set_member_name(b, "vms");
  json_builder_begin_array(b);
  int k = 0;
  for (int i = 0; i < PQntuples(v); i++) {
    json_builder_begin_object(b);
    jstr(b, "vm", val(v, i, 1));
    jstr(b, "vm_key", val(v, i, 0));
    jint(b, "ran_seconds", v, i, 3);
    jint(b, "licensed_seconds", v, i, 4);
    jstr(b, "products", val(v, i, 5));
    json_builder_set_member_name(b, "hosts");
    json_builder_begin_array(b);
    for (; k < PQntuples(vh) && !strcmp(val(vh, k, 0), val(v, i, 0)); k++) {
      json_builder_begin_object(b);
      jstr(b, "hostname", val(vh, k, 1));
      jstr(b, "host_id", val(vh, k, 2));
      json_builder_set_member_name(b, "intervals");
      json_builder_begin_array(b);
      g_auto(GStrv) iv = g_strsplit(val(vh, k, 3), " ", -1);
      for (char **s = iv; *s; s++)
        json_builder_add_string_value(b, *s);
      json_builder_end_array(b);
      json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  const PGresult *q = r->res[S_QUALITY];
  json_builder_set_member_name(b, "data_quality");
  json_builder_begin_array(b);
  for (int i = 0; i < PQntuples(q); i++) {
    json_builder_begin_object(b);
    jstr(b, "at", val(q, i, 0));
    jstr(b, "hostname", val(q, i, 1));
    jstr(b, "host_id", val(q, i, 2));
    jstr(b, "kind", val(q, i, 3));
    jstr(b, "detail", val(q, i, 4));
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autofree char *s = json_to_string(root, TRUE);
  return g_strconcat(s, "\n", NULL);
}

char *avma_fleet_report_render(const AvmaFleetReport *r, const char *format) {
  if (!format || !strcmp(format, "text"))
    return to_text(r);
  if (!strcmp(format, "csv"))
    return to_csv(r);
  if (!strcmp(format, "json"))
    return to_json(r);
  return NULL;
}
