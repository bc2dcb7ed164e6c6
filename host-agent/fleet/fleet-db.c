/* fleet-db: libpq connection, schema migrations, query helpers. */
#include "fleet-db.h"

#include "fleet-bundle.h"
#include "timeutil.h"

#include <stdlib.h>
#include <string.h>

/* Migration N brings the schema from version N-1 to N; never edit one that was released, add the
 * next. Times are timestamptz; a record is keyed by (host_id, seq) everywhere, so inserting what
 * is already there is refused by the database itself, never silently doubled. */
static const char *const migrations[] = {
    /* 1: hosts and their cursors, the records verbatim, their typed views, findings */
    "CREATE TABLE hosts ("
    "  host_id text PRIMARY KEY,"
    "  hostname text NOT NULL,"
    "  key_id text NOT NULL,"
    "  public_key text NOT NULL,"
    "  cursor_seq bigint NOT NULL DEFAULT 0,"
    "  cursor_hash text NOT NULL DEFAULT '',"
    "  last_record_time timestamptz,"
    "  last_checkpoint_at timestamptz,"
    "  last_ingest timestamptz,"
    "  pulled_as text,"
    "  state text NOT NULL DEFAULT 'ok',"
    "  state_detail text NOT NULL DEFAULT '',"
    "  first_seen timestamptz NOT NULL DEFAULT now());"
    "CREATE TABLE host_keys ("
    "  host_id text NOT NULL REFERENCES hosts,"
    "  key_id text NOT NULL,"
    "  public_key text NOT NULL,"
    "  trusted_since timestamptz NOT NULL DEFAULT now(),"
    "  how text NOT NULL,"
    "  PRIMARY KEY (host_id, key_id));"
    "CREATE TABLE records ("
    "  host_id text NOT NULL REFERENCES hosts,"
    "  seq bigint NOT NULL,"
    "  time timestamptz NOT NULL,"
    "  event_id integer NOT NULL,"
    "  line text NOT NULL,"
    "  PRIMARY KEY (host_id, seq));"
    "CREATE TABLE checkpoints ("
    "  host_id text NOT NULL REFERENCES hosts,"
    "  seq bigint NOT NULL,"
    "  signed_at timestamptz NOT NULL,"
    "  note text NOT NULL,"
    "  PRIMARY KEY (host_id, seq));"
    "CREATE TABLE decisions ("
    "  host_id text NOT NULL, seq bigint NOT NULL, time timestamptz NOT NULL,"
    "  vm_key text NOT NULL, vm text, vm_uuid text, notification text NOT NULL,"
    "  reason_code text, product_version text NOT NULL, product_edition text NOT NULL,"
    "  granted_until timestamptz,"
    "  PRIMARY KEY (host_id, seq));"
    "CREATE INDEX decisions_time ON decisions (time);"
    "CREATE TABLE licences ("
    "  host_id text NOT NULL, seq bigint NOT NULL, time timestamptz NOT NULL,"
    "  licence_set boolean NOT NULL, activated boolean NOT NULL, version text, edition text,"
    "  PRIMARY KEY (host_id, seq));"
    "CREATE TABLE run_edges ("
    "  host_id text NOT NULL, seq bigint NOT NULL, time timestamptz NOT NULL,"
    "  vm_key text NOT NULL, vm text, vm_uuid text, running boolean NOT NULL,"
    "  reason text, repaired boolean NOT NULL,"
    "  PRIMARY KEY (host_id, seq));"
    "CREATE TABLE host_facts ("
    "  host_id text NOT NULL, seq bigint NOT NULL, time timestamptz NOT NULL,"
    "  hostname text, sockets integer NOT NULL, cores_per_socket integer NOT NULL,"
    "  threads_per_core integer NOT NULL, cpus integer NOT NULL, source text,"
    "  PRIMARY KEY (host_id, seq));"
    "CREATE TABLE findings ("
    "  id bigserial PRIMARY KEY,"
    "  at timestamptz NOT NULL DEFAULT now(),"
    "  host_id text,"
    "  origin text NOT NULL,"
    "  kind text NOT NULL,"
    "  detail text NOT NULL);"
    "CREATE INDEX findings_host ON findings (host_id, at);",
    /* 2: the report's summary tables (fleet-derive.c keeps them at ingest), filled from the
     * records already held */
    "CREATE TABLE run_intervals ("
    "  host_id text NOT NULL, seq bigint NOT NULL, vm_key text NOT NULL, vm text,"
    "  lo timestamptz NOT NULL, hi timestamptz NOT NULL,"
    "  PRIMARY KEY (host_id, seq));"
    "CREATE INDEX run_intervals_open ON run_intervals (host_id, vm_key) WHERE hi = 'infinity';"
    "CREATE TABLE vm_grants ("
    "  vm_key text NOT NULL, v text NOT NULL, ed text NOT NULL, mr tstzmultirange NOT NULL,"
    "  PRIMARY KEY (vm_key, v, ed));"
    "CREATE TABLE vm_month_success ("
    "  month date NOT NULL, vm_key text NOT NULL, v text NOT NULL, ed text NOT NULL,"
    "  first_at timestamptz NOT NULL,"
    "  PRIMARY KEY (month, vm_key, v, ed));"
    "CREATE TABLE decision_days ("
    "  day date NOT NULL, v text NOT NULL, ed text NOT NULL, notification text NOT NULL,"
    "  n bigint NOT NULL,"
    "  PRIMARY KEY (day, v, ed, notification));"
    "CREATE INDEX decisions_vm_success ON decisions (vm_key, time)"
    "  WHERE notification = 'AVMA Success' AND granted_until IS NOT NULL;"
    /* The report counts whole days from decision_days now, and only the part of a day before
     * as-of from decisions: a B-tree on time, whose inserts land all over the month when a
     * host's month comes in one bundle, cost more at ingest than it saves there. */
    "DROP INDEX decisions_time;"
    "CREATE INDEX decisions_time ON decisions USING brin (time);"
    "INSERT INTO run_intervals SELECT host_id, seq, vm_key, vm, time, hi FROM ("
    "  SELECT *, greatest(time, coalesce(lead(time) OVER (PARTITION BY host_id, vm_key"
    "   ORDER BY seq), 'infinity')) AS hi FROM run_edges) x WHERE running;"
    "INSERT INTO vm_grants SELECT vm_key, v, ed, range_agg(r) FROM ("
    "  SELECT vm_key, product_version AS v, product_edition AS ed,"
    "   tstzrange(time, greatest(time, least(granted_until, coalesce(lead(time) OVER"
    "    (PARTITION BY vm_key ORDER BY time, host_id, seq), 'infinity')))) AS r"
    "  FROM decisions WHERE notification = 'AVMA Success' AND granted_until IS NOT NULL) x"
    "  GROUP BY 1, 2, 3;"
    "INSERT INTO vm_month_success SELECT date_trunc('month', time AT TIME ZONE 'UTC')::date,"
    "  vm_key, product_version, product_edition, min(time) FROM decisions"
    "  WHERE notification = 'AVMA Success' GROUP BY 1, 2, 3, 4;"
    "INSERT INTO decision_days SELECT (time AT TIME ZONE 'UTC')::date, product_version,"
    "  product_edition, notification, count(*) FROM decisions GROUP BY 1, 2, 3, 4;",
};

int avma_fleet_db_schema_latest(void) {
  return (int)G_N_ELEMENTS(migrations);
}

static gboolean db_fail(GError **error, PGconn *c, const char *what) {
  g_autofree char *msg = g_strstrip(g_strdup(PQerrorMessage(c)));
  g_set_error(error, AVMA_FLEET_ERROR, AVMA_FLEET_ERROR_DATABASE, "database: %s: %s", what,
              *msg ? msg : "failed");
  return FALSE;
}

PGconn *avma_fleet_db_connect(const char *conninfo, GError **error) {
  g_autoptr(PGconn) c = PQconnectdb(conninfo);
  if (!c || PQstatus(c) != CONNECTION_OK) {
    db_fail(error, c, "cannot connect");
    return NULL;
  }
  /* Notices (CREATE ... IF NOT EXISTS) are not for the operator. JIT off: the report's range
   * queries have wild row estimates, and compiling them cost more than running them (1.5 s of a
   * 2 s report in tests/fleet/bench-fleet.sh). */
  PGresult *r = PQexec(c, "SET client_min_messages = warning; SET TIME ZONE 'UTC'; SET jit = off");
  gboolean ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  if (!ok) {
    db_fail(error, c, "session settings");
    return NULL;
  }
  return g_steal_pointer(&c);
}

gboolean avma_fleet_db_exec(PGconn *c, const char *sql, GError **error) {
  g_autoptr(PGresult) r = PQexec(c, sql);
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
    return db_fail(error, c, "statement failed");
  return TRUE;
}

PGresult *avma_fleet_db_query(PGconn *c, const char *sql, int n, const char *const *params,
                              GError **error) {
  PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    PQclear(r);
    db_fail(error, c, "query failed");
    return NULL;
  }
  return r;
}

gboolean avma_fleet_db_copy(PGconn *c, const char *copy_sql, const GString *rows, GError **error) {
  {
    g_autoptr(PGresult) r = PQexec(c, copy_sql);
    if (PQresultStatus(r) != PGRES_COPY_IN)
      return db_fail(error, c, "COPY");
  }
  /* Sent in pieces so a large bundle does not need one huge libpq buffer. */
  const gsize chunk = 1 << 20;
  for (gsize off = 0; off < rows->len; off += chunk)
    if (PQputCopyData(c, rows->str + off, (int)MIN(chunk, rows->len - off)) != 1)
      return db_fail(error, c, "COPY data");
  if (PQputCopyEnd(c, NULL) != 1)
    return db_fail(error, c, "COPY end");
  gboolean ok = TRUE;
  PGresult *r;
  while ((r = PQgetResult(c))) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
      ok = FALSE;
    PQclear(r);
  }
  return ok ? TRUE : db_fail(error, c, "COPY");
}

void avma_fleet_copy_field(GString *row, const char *value, gboolean last) {
  if (!value) {
    g_string_append(row, "\\N");
  } else {
    for (const char *p = value; *p; p++) {
      switch (*p) {
      case '\\':
        g_string_append(row, "\\\\");
        break;
      case '\t':
        g_string_append(row, "\\t");
        break;
      case '\n':
        g_string_append(row, "\\n");
        break;
      case '\r':
        g_string_append(row, "\\r");
        break;
      default:
        g_string_append_c(row, *p);
      }
    }
  }
  g_string_append_c(row, last ? '\n' : '\t');
}

void avma_fleet_copy_int(GString *row, gint64 value, gboolean last) {
  g_string_append_printf(row, "%" G_GINT64_FORMAT "%c", value, last ? '\n' : '\t');
}

void avma_fleet_copy_time(GString *row, gint64 t, gboolean null_zero, gboolean last) {
  if (null_zero && t == 0) {
    avma_fleet_copy_field(row, NULL, last);
    return;
  }
  g_autofree char *s = avma_time_format(t);
  /* avma_time_format gives "" for 0: the epoch itself is a time too. */
  avma_fleet_copy_field(row, *s ? s : "1970-01-01T00:00:00Z", last);
}

/* ---- schema ---- */

gboolean avma_fleet_db_schema_version(PGconn *c, int *version, GError **error) {
  g_autoptr(PGresult) r =
      avma_fleet_db_query(c, "SELECT to_regclass('fleet_schema') IS NOT NULL", 0, NULL, error);
  if (!r)
    return FALSE;
  *version = 0;
  if (strcmp(PQgetvalue(r, 0, 0), "t"))
    return TRUE;
  g_autoptr(PGresult) v =
      avma_fleet_db_query(c, "SELECT coalesce(max(version), 0) FROM fleet_schema", 0, NULL, error);
  if (!v)
    return FALSE;
  *version = atoi(PQgetvalue(v, 0, 0));
  return TRUE;
}

/* One migration: its DDL and its version row commit together, so a crash leaves the schema at
 * one version or the next, never between. */
static gboolean apply(PGconn *c, int version, GError **error) {
  g_autofree char *mark =
      g_strdup_printf("INSERT INTO fleet_schema (version) VALUES (%d)", version);
  if (!avma_fleet_db_exec(c, "BEGIN", error))
    return FALSE;
  if (!avma_fleet_db_exec(c, migrations[version - 1], error) ||
      !avma_fleet_db_exec(c, mark, error) || !avma_fleet_db_exec(c, "COMMIT", error)) {
    avma_fleet_db_exec(c, "ROLLBACK", NULL);
    return FALSE;
  }
  return TRUE;
}

static gboolean upgrade(PGconn *c, gboolean init, int *from, int *to, GError **error) {
  /* Two collectors migrating at once: the second waits, then finds nothing to do. */
  if (!avma_fleet_db_exec(c,
                          "SELECT pg_advisory_lock(1986201912); CREATE TABLE IF NOT EXISTS "
                          "fleet_schema (version integer PRIMARY KEY, applied_at timestamptz NOT "
                          "NULL DEFAULT now())",
                          error))
    return FALSE;
  int v = 0;
  gboolean ok = avma_fleet_db_schema_version(c, &v, error);
  *from = v;
  if (ok && init && v != 0 && v != avma_fleet_db_schema_latest()) {
    g_set_error(error, AVMA_FLEET_ERROR, AVMA_FLEET_ERROR_DATABASE,
                "the database has schema version %d: run `avma-fleet db migrate`", v);
    ok = FALSE;
  } else if (ok && !init && v == 0) {
    g_set_error(error, AVMA_FLEET_ERROR, AVMA_FLEET_ERROR_DATABASE,
                "the database has no fleet schema: run `avma-fleet db init`");
    ok = FALSE;
  } else if (ok && v > avma_fleet_db_schema_latest()) {
    g_set_error(error, AVMA_FLEET_ERROR, AVMA_FLEET_ERROR_DATABASE,
                "the database has schema version %d, newer than this avma-fleet's %d", v,
                avma_fleet_db_schema_latest());
    ok = FALSE;
  }
  while (ok && v < avma_fleet_db_schema_latest())
    ok = apply(c, ++v, error);
  *to = v;
  avma_fleet_db_exec(c, "SELECT pg_advisory_unlock(1986201912)", NULL);
  return ok;
}

gboolean avma_fleet_db_init(PGconn *c, int *from, int *to, GError **error) {
  return upgrade(c, TRUE, from, to, error);
}

gboolean avma_fleet_db_migrate(PGconn *c, int *from, int *to, GError **error) {
  return upgrade(c, FALSE, from, to, error);
}

gboolean avma_fleet_db_check_schema(PGconn *c, GError **error) {
  int v = 0;
  if (!avma_fleet_db_schema_version(c, &v, error))
    return FALSE;
  if (v == avma_fleet_db_schema_latest())
    return TRUE;
  if (v == 0)
    g_set_error(error, AVMA_FLEET_ERROR, AVMA_FLEET_ERROR_DATABASE,
                "the database has no fleet schema: run `avma-fleet db init`");
  else
    g_set_error(error, AVMA_FLEET_ERROR, AVMA_FLEET_ERROR_DATABASE,
                "the database has schema version %d, this avma-fleet needs %d: run "
                "`avma-fleet db migrate`",
                v, avma_fleet_db_schema_latest());
  return FALSE;
}
