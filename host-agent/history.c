/* history: the compliance history store (SQLite, WAL, versioned schema). */
#include "history.h"

#include "history-db.h"
#include "host-event.h"
#include "host.h"
#include "jsonline.h"
#include "timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 5000
/* meta: the last 12311 line of events.jsonl (what the daemon last recorded of the licence). */
#define CHAIN_LICENCE_META "chain_licence"
#define READ_CHUNK (4 * 1024 * 1024)

/* Migration N brings user_version from N-1 to N. Never edit a released one: add another. */
static const char *const migrations[] = {
    /* 1: the first schema. Times are unix seconds (UTC). vm_key is the VM's UUID in lower case,
     * else its name (fixed channels have no UUID). record keeps each log line verbatim so
     * `events --json` prints exactly what was logged. */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE events("
    "  id INTEGER PRIMARY KEY, time INTEGER NOT NULL, event_id INTEGER NOT NULL,"
    "  notification TEXT NOT NULL, reason_code TEXT NOT NULL, vm_key TEXT NOT NULL,"
    "  vm TEXT NOT NULL, vm_uuid TEXT NOT NULL, guest_version TEXT NOT NULL,"
    "  guest_edition TEXT NOT NULL, granted_until INTEGER NOT NULL, record TEXT NOT NULL);"
    "CREATE INDEX events_by_time ON events(time);"
    "CREATE INDEX events_by_vm ON events(vm_key, time);"
    "CREATE INDEX events_grants ON events(granted_until) WHERE granted_until > 0;"
    "CREATE TABLE vm_states("
    "  id INTEGER PRIMARY KEY, time INTEGER NOT NULL, vm_key TEXT NOT NULL, vm TEXT NOT NULL,"
    "  vm_uuid TEXT NOT NULL, running INTEGER NOT NULL, reason TEXT NOT NULL);"
    "CREATE INDEX vm_states_by_vm ON vm_states(vm_key, id);"
    "CREATE TABLE licence_changes("
    "  id INTEGER PRIMARY KEY, time INTEGER NOT NULL, version TEXT NOT NULL,"
    "  edition TEXT NOT NULL, activated INTEGER NOT NULL, key_last5 TEXT NOT NULL,"
    "  set_by TEXT NOT NULL, record TEXT NOT NULL);"
    "CREATE TABLE host_facts("
    "  id INTEGER PRIMARY KEY, time INTEGER NOT NULL, hostname TEXT NOT NULL,"
    "  host_id TEXT NOT NULL, sockets INTEGER NOT NULL, cores_per_socket INTEGER NOT NULL,"
    "  threads_per_core INTEGER NOT NULL, cpus INTEGER NOT NULL, source TEXT NOT NULL);"
    "CREATE TABLE vm_facts("
    "  id INTEGER PRIMARY KEY, time INTEGER NOT NULL, vm_key TEXT NOT NULL, vm TEXT NOT NULL,"
    "  vm_uuid TEXT NOT NULL, vcpus INTEGER NOT NULL, source TEXT NOT NULL);"
    "CREATE INDEX vm_facts_by_vm ON vm_facts(vm_key, id);"
    "CREATE TABLE agent_log("
    "  id INTEGER PRIMARY KEY, time INTEGER NOT NULL, what TEXT NOT NULL, detail TEXT NOT NULL);",
};
G_STATIC_ASSERT(G_N_ELEMENTS(migrations) == AVMA_HISTORY_SCHEMA);

struct AvmaHistory {
  sqlite3 *db;
  gboolean readonly;
  int depth; /* nesting of avma_history_begin */
};

static gboolean db_fail(AvmaHistory *h, const char *what, GError **error) {
  g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "history store: %s: %s", what,
              h->db ? sqlite3_errmsg(h->db) : "out of memory");
  return FALSE;
}

static gboolean exec(AvmaHistory *h, const char *sql, GError **error) {
  char *msg = NULL;
  if (sqlite3_exec(h->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "history store: %s", msg ? msg : "?");
    sqlite3_free(msg);
    return FALSE;
  }
  return TRUE;
}

static sqlite3_stmt *prepare(AvmaHistory *h, const char *sql, GError **error) {
  sqlite3_stmt *st = NULL;
  /* Prepared per call: next to the fsync of each commit the cost does not show, and there is no
   * statement cache to keep in step with the schema. */
  if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK) {
    db_fail(h, "prepare", error);
    return NULL;
  }
  return st;
}

static int pragma_int(AvmaHistory *h, const char *sql) {
  sqlite3_stmt *st = NULL;
  int v = -1;
  if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return v;
}

static gboolean migrate(AvmaHistory *h, GError **error) {
  int v = pragma_int(h, "PRAGMA user_version");
  if (v > AVMA_HISTORY_SCHEMA) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                "history store has schema version %d, newer than this build's %d (downgrade?)", v,
                AVMA_HISTORY_SCHEMA);
    return FALSE;
  }
  for (; v < AVMA_HISTORY_SCHEMA; v++) {
    g_autofree char *set = g_strdup_printf("PRAGMA user_version = %d", v + 1);
    if (!exec(h, "BEGIN IMMEDIATE", error))
      return FALSE;
    if (!exec(h, migrations[v], error) || !exec(h, set, error)) {
      (void)exec(h, "ROLLBACK", NULL);
      return FALSE;
    }
    if (!exec(h, "COMMIT", error))
      return FALSE;
  }
  return TRUE;
}

static AvmaHistory *open_db(const char *path, int flags, GError **error) {
  g_autoptr(AvmaHistory) h = g_new0(AvmaHistory, 1);
  h->readonly = (flags & SQLITE_OPEN_READONLY) != 0;
  if (sqlite3_open_v2(path, &h->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "history store %s: %s", path,
                h->db ? sqlite3_errmsg(h->db) : "out of memory");
    return NULL;
  }
  sqlite3_busy_timeout(h->db, BUSY_TIMEOUT_MS);
  sqlite3_extended_result_codes(h->db, 1);
  /* The file lives in a directory the daemon's user owns and the root-run CLI reads it, so it
   * is opened as untrusted (SQLite's "defense against the dark arts"): no schema-planted
   * triggers or views, no functions with side effects from the schema, no writable_schema, cell
   * sizes checked so a corrupted page fails cleanly, and no memory-mapped reads of a file that
   * another user can truncate. Our schema has no triggers or views. */
  sqlite3_db_config(h->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
  sqlite3_db_config(h->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
  sqlite3_db_config(h->db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
  sqlite3_db_config(h->db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, NULL);
  sqlite3_db_config(h->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
  if (sqlite3_exec(h->db, "PRAGMA cell_size_check=ON; PRAGMA mmap_size=0;", NULL, NULL, NULL) !=
      SQLITE_OK) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "history store %s: %s", path,
                sqlite3_errmsg(h->db));
    return NULL;
  }
  return g_steal_pointer(&h);
}

AvmaHistory *avma_history_open_write(const char *path, GError **error) {
  gboolean existed = access(path, F_OK) == 0;
  g_autoptr(AvmaHistory) h = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, error);
  if (!h)
    return NULL;
  if (!existed)
    (void)chmod(path, 0640);
  /* A store from a newer build is left exactly as it is. */
  if (pragma_int(h, "PRAGMA user_version") > AVMA_HISTORY_SCHEMA && !migrate(h, error)) {
    g_prefix_error(error, "%s: ", path);
    return NULL;
  }
  /* WAL: readers (the CLI) never block the daemon's writes, and a commit is one sequential
   * append. synchronous=FULL: each commit fsyncs the WAL, so an event the guest was told about
   * survives a power cut too; NORMAL would only survive a crash of the process. */
  sqlite3_stmt *st = prepare(h, "PRAGMA journal_mode=WAL", error);
  if (!st)
    return NULL;
  gboolean wal = sqlite3_step(st) == SQLITE_ROW &&
                 !g_ascii_strcasecmp((const char *)sqlite3_column_text(st, 0), "wal");
  sqlite3_finalize(st);
  if (!wal) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "history store %s: cannot enable WAL: %s",
                path, sqlite3_errmsg(h->db));
    return NULL;
  }
  if (!exec(h, "PRAGMA synchronous=FULL", error) || !migrate(h, error)) {
    g_prefix_error(error, "%s: ", path);
    return NULL;
  }
  return g_steal_pointer(&h);
}

AvmaHistory *avma_history_open_read(const char *path, GError **error) {
  if (access(path, F_OK) != 0) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no history store at %s", path);
    return NULL;
  }
  g_autoptr(AvmaHistory) h = open_db(path, SQLITE_OPEN_READONLY, error);
  if (!h)
    return NULL;
  int v = pragma_int(h, "PRAGMA user_version");
  if (v < 0) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "history store %s cannot be read: %s", path,
                sqlite3_errmsg(h->db));
    return NULL;
  }
  if (v != AVMA_HISTORY_SCHEMA) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                "history store %s has schema version %d, this build reads %d (start avma-hostd "
                "of this version to migrate it)",
                path, v, AVMA_HISTORY_SCHEMA);
    return NULL;
  }
  return g_steal_pointer(&h);
}

AvmaHistory *avma_history_open_memory(GError **error) {
  g_autoptr(AvmaHistory) h =
      open_db(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_MEMORY, error);
  if (!h || !migrate(h, error))
    return NULL;
  return g_steal_pointer(&h);
}

void avma_history_close(AvmaHistory *h) {
  if (!h)
    return;
  if (h->db)
    sqlite3_close_v2(h->db);
  g_free(h);
}

sqlite3 *avma_history_db(AvmaHistory *h) {
  return h->db;
}

/* ---- transactions --------------------------------------------------------------------------- */

static gboolean set_meta_raw(AvmaHistory *h, const char *key, const char *value, GError **error) {
  sqlite3_stmt *st = prepare(h,
                             "INSERT INTO meta(key, value) VALUES(?1, ?2) "
                             "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                             error);
  if (!st)
    return FALSE;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE || db_fail(h, "meta", error);
}

gboolean avma_history_begin(AvmaHistory *h, GError **error) {
  if (h->depth++ > 0)
    return TRUE;
  if (!exec(h, "BEGIN IMMEDIATE", error)) {
    h->depth = 0;
    return FALSE;
  }
  return TRUE;
}

gboolean avma_history_commit(AvmaHistory *h, GError **error) {
  if (h->depth == 0 || --h->depth > 0)
    return TRUE;
  /* Every write also says when the agent was last alive: after a crash, runs of VMs that are
   * gone by the restart end there. */
  g_autofree char *now = g_strdup_printf("%" G_GINT64_FORMAT, avma_now());
  if (!set_meta_raw(h, "alive_at", now, error) || !exec(h, "COMMIT", error)) {
    (void)exec(h, "ROLLBACK", NULL);
    return FALSE;
  }
  return TRUE;
}

static void rollback(AvmaHistory *h) {
  if (h->depth == 0)
    return;
  h->depth = 0;
  (void)exec(h, "ROLLBACK", NULL);
}

/* Run one write statement inside its own transaction unless a group is open. */
static gboolean step_write(AvmaHistory *h, sqlite3_stmt *st, const char *what, GError **error) {
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE)
    return db_fail(h, what, error);
  return TRUE;
}

#define WRITE_TX(h, error, body)                                                                   \
  do {                                                                                             \
    if (!avma_history_begin((h), (error)))                                                         \
      return FALSE;                                                                                \
    if (!(body) || !avma_history_commit((h), (error))) {                                           \
      rollback(h);                                                                                 \
      return FALSE;                                                                                \
    }                                                                                              \
    return TRUE;                                                                                   \
  } while (0)

char *avma_history_meta_get(AvmaHistory *h, const char *key) {
  sqlite3_stmt *st = NULL;
  char *v = NULL;
  if (sqlite3_prepare_v2(h->db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL) ==
      SQLITE_OK) {
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
      v = g_strdup((const char *)sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  return v;
}

gboolean avma_history_meta_set(AvmaHistory *h, const char *key, const char *value, GError **error) {
  WRITE_TX(h, error, set_meta_raw(h, key, value, error));
}

char *avma_history_chain_licence(AvmaHistory *h) {
  return avma_history_meta_get(h, CHAIN_LICENCE_META);
}

/* ---- records -------------------------------------------------------------------------------- */

char *avma_history_vm_key(const char *name, const char *uuid) {
  return avma_vm_key(name, uuid);
}

static char *to_line(JsonObject *o) {
  g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
  json_node_set_object(node, o);
  return json_to_string(node, FALSE);
}

/* The events table's columns come from host-event's field table; vm_key and record are the
 * store's own. */
typedef struct {
  GString *cols, *params;
  guint n;
  sqlite3_stmt *st;
} EventRow;

static void add_column(guint i, const char *column, gboolean is_int, gint64 v, const char *text,
                       gpointer user) {
  (void)is_int, (void)v, (void)text;
  EventRow *r = user;
  g_string_append_printf(r->cols, "%s, ", column);
  g_string_append_printf(r->params, "?%u, ", i + 1);
  r->n = i + 1;
}

static void bind_column(guint i, const char *column, gboolean is_int, gint64 v, const char *text,
                        gpointer user) {
  (void)column;
  EventRow *r = user;
  if (is_int)
    sqlite3_bind_int64(r->st, (int)i + 1, v);
  else
    sqlite3_bind_text(r->st, (int)i + 1, text, -1, SQLITE_TRANSIENT);
}

static gboolean insert_event(AvmaHistory *h, const AvmaHostEvent *ev, const char *line,
                             GError **error) {
  EventRow r = {.cols = g_string_new(NULL), .params = g_string_new(NULL)};
  avma_host_event_foreach_column(ev, add_column, &r);
  guint n = r.n;
  g_autofree char *sql = g_strdup_printf("INSERT INTO events(%svm_key, record) VALUES(%s?%u, ?%u)",
                                         r.cols->str, r.params->str, n + 1, n + 2);
  g_string_free(r.cols, TRUE);
  g_string_free(r.params, TRUE);
  r.st = prepare(h, sql, error);
  if (!r.st)
    return FALSE;
  avma_host_event_foreach_column(ev, bind_column, &r);
  g_autofree char *key = avma_vm_key(ev->vm, ev->vm_uuid);
  sqlite3_bind_text(r.st, (int)n + 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_text(r.st, (int)n + 2, line, -1, SQLITE_STATIC);
  return step_write(h, r.st, "insert event", error);
}

gboolean avma_history_add_event(AvmaHistory *h, JsonObject *ev, const char *line, GError **error) {
  g_autofree char *own = line ? NULL : to_line(ev);
  g_auto(AvmaHostEvent) typed;
  avma_host_event_from_json(ev, &typed);
  WRITE_TX(h, error, insert_event(h, &typed, line ? line : own, error));
}

/* Whether the store already holds this licence change (the same licence set at the same time by
 * the same user): `license set` logs it in licence-history.jsonl and the daemon in events.jsonl,
 * and a report must count it once. */
static int licence_known(AvmaHistory *h, const AvmaHostEvent *rec, GError **error) {
  sqlite3_stmt *st = prepare(h,
                             "SELECT 1 FROM licence_changes WHERE version = ?1 AND edition = ?2 "
                             "AND activated = ?3 AND key_last5 = ?4 AND set_by = ?5 AND "
                             "CASE WHEN json_valid(record) THEN json_extract(record, '$.set_at') "
                             "END = ?6 LIMIT 1",
                             error);
  if (!st)
    return -1;
  g_autofree char *set_at = avma_host_event_time_text(rec->licence_set_at);
  sqlite3_bind_text(st, 1, rec->licence_version ? rec->licence_version : "", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, rec->licence_edition ? rec->licence_edition : "", -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 3, rec->licence_activated);
  sqlite3_bind_text(st, 4, rec->key_last5 ? rec->key_last5 : "", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, rec->licence_set_by ? rec->licence_set_by : "", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, set_at, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc == SQLITE_ROW)
    return 1;
  if (rc == SQLITE_DONE)
    return 0;
  db_fail(h, "query licence changes", error);
  return -1;
}

static gboolean insert_licence(AvmaHistory *h, const AvmaHostEvent *rec, const char *line,
                               GError **error) {
  int known = licence_known(h, rec, error);
  if (known != 0)
    return known > 0;
  sqlite3_stmt *st = prepare(h,
                             "INSERT INTO licence_changes(time, version, edition, activated, "
                             "key_last5, set_by, record) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                             error);
  if (!st)
    return FALSE;
  sqlite3_bind_int64(st, 1, rec->time ? rec->time : rec->licence_set_at);
  sqlite3_bind_text(st, 2, rec->licence_version ? rec->licence_version : "", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, rec->licence_edition ? rec->licence_edition : "", -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 4, rec->licence_activated);
  sqlite3_bind_text(st, 5, rec->key_last5 ? rec->key_last5 : "", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, rec->licence_set_by ? rec->licence_set_by : "", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 7, line, -1, SQLITE_STATIC);
  return step_write(h, st, "insert licence change", error);
}

gboolean avma_history_add_licence(AvmaHistory *h, JsonObject *rec, const char *line,
                                  GError **error) {
  g_autofree char *own = line ? NULL : to_line(rec);
  g_auto(AvmaHostEvent) typed;
  avma_host_event_from_json(rec, &typed);
  WRITE_TX(h, error, insert_licence(h, &typed, line ? line : own, error));
}

/* Binds the columns every per-VM row starts with: time, vm_key, vm, vm_uuid (?1-?4). KEY must
 * outlive the statement's step. */
static void bind_vm_row(sqlite3_stmt *st, gint64 at, const char *key, const char *name,
                        const char *uuid) {
  sqlite3_bind_int64(st, 1, at);
  sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, name ? name : "", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, uuid ? uuid : "", -1, SQLITE_STATIC);
}

static gboolean insert_vm_state(AvmaHistory *h, gint64 at, const char *name, const char *uuid,
                                gboolean running, const char *reason, GError **error) {
  g_autofree char *key = avma_history_vm_key(name, uuid);
  sqlite3_stmt *st = prepare(h,
                             "INSERT INTO vm_states(time, vm_key, vm, vm_uuid, running, reason) "
                             "VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                             error);
  if (!st)
    return FALSE;
  bind_vm_row(st, at, key, name, uuid);
  sqlite3_bind_int(st, 5, running ? 1 : 0);
  sqlite3_bind_text(st, 6, reason ? reason : "", -1, SQLITE_STATIC);
  return step_write(h, st, "insert vm state", error);
}

gboolean avma_history_add_vm_state(AvmaHistory *h, gint64 at, const char *name, const char *uuid,
                                   gboolean running, const char *reason, GError **error) {
  WRITE_TX(h, error, insert_vm_state(h, at, name, uuid, running, reason, error));
}

static gboolean insert_note(AvmaHistory *h, gint64 at, const char *what, const char *detail,
                            GError **error) {
  sqlite3_stmt *st =
      prepare(h, "INSERT INTO agent_log(time, what, detail) VALUES(?1, ?2, ?3)", error);
  if (!st)
    return FALSE;
  sqlite3_bind_int64(st, 1, at);
  sqlite3_bind_text(st, 2, what, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, detail ? detail : "", -1, SQLITE_STATIC);
  return step_write(h, st, "insert note", error);
}

gboolean avma_history_add_agent_note(AvmaHistory *h, gint64 at, const char *what,
                                     const char *detail, GError **error) {
  WRITE_TX(h, error, insert_note(h, at, what, detail, error));
}

static gboolean insert_host_facts(AvmaHistory *h, gint64 at, const AvmaHostFacts *f,
                                  GError **error) {
  sqlite3_stmt *st = prepare(h,
                             "SELECT hostname, host_id, sockets, cores_per_socket, "
                             "threads_per_core, cpus, source FROM host_facts "
                             "ORDER BY id DESC LIMIT 1",
                             error);
  if (!st)
    return FALSE;
  gboolean same = FALSE;
  if (sqlite3_step(st) == SQLITE_ROW)
    same = !g_strcmp0((const char *)sqlite3_column_text(st, 0), f->hostname ? f->hostname : "") &&
           !g_strcmp0((const char *)sqlite3_column_text(st, 1), f->host_id ? f->host_id : "") &&
           sqlite3_column_int(st, 2) == f->sockets &&
           sqlite3_column_int(st, 3) == f->cores_per_socket &&
           sqlite3_column_int(st, 4) == f->threads_per_core &&
           sqlite3_column_int(st, 5) == f->cpus &&
           !g_strcmp0((const char *)sqlite3_column_text(st, 6), f->source ? f->source : "");
  sqlite3_finalize(st);
  if (same)
    return TRUE;
  st = prepare(h,
               "INSERT INTO host_facts(time, hostname, host_id, sockets, cores_per_socket, "
               "threads_per_core, cpus, source) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
               error);
  if (!st)
    return FALSE;
  sqlite3_bind_int64(st, 1, at);
  sqlite3_bind_text(st, 2, f->hostname ? f->hostname : "", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, f->host_id ? f->host_id : "", -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 4, f->sockets);
  sqlite3_bind_int(st, 5, f->cores_per_socket);
  sqlite3_bind_int(st, 6, f->threads_per_core);
  sqlite3_bind_int(st, 7, f->cpus);
  sqlite3_bind_text(st, 8, f->source ? f->source : "", -1, SQLITE_STATIC);
  return step_write(h, st, "insert host facts", error);
}

gboolean avma_history_record_host_facts(AvmaHistory *h, gint64 at, const AvmaHostFacts *f,
                                        GError **error) {
  WRITE_TX(h, error, insert_host_facts(h, at, f, error));
}

static gboolean insert_vcpus(AvmaHistory *h, gint64 at, const char *name, const char *uuid,
                             int vcpus, const char *source, GError **error) {
  g_autofree char *key = avma_history_vm_key(name, uuid);
  sqlite3_stmt *st =
      prepare(h, "SELECT vcpus FROM vm_facts WHERE vm_key = ?1 ORDER BY id DESC LIMIT 1", error);
  if (!st)
    return FALSE;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  gboolean same = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == vcpus;
  sqlite3_finalize(st);
  if (same)
    return TRUE;
  st = prepare(h,
               "INSERT INTO vm_facts(time, vm_key, vm, vm_uuid, vcpus, source) "
               "VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
               error);
  if (!st)
    return FALSE;
  bind_vm_row(st, at, key, name, uuid);
  sqlite3_bind_int(st, 5, vcpus);
  sqlite3_bind_text(st, 6, source ? source : "", -1, SQLITE_STATIC);
  return step_write(h, st, "insert vm facts", error);
}

gboolean avma_history_record_vm_vcpus(AvmaHistory *h, gint64 at, const char *name, const char *uuid,
                                      int vcpus, const char *source, GError **error) {
  WRITE_TX(h, error, insert_vcpus(h, at, name, uuid, vcpus, source, error));
}

/* ---- JSON-lines logs -------------------------------------------------------------------------
 * The store remembers, per log, the file's identity (device:inode) and the offset just past the
 * last line it imported. A different identity (the file was replaced) or a shorter file
 * (truncated) means start again from the top. */

static const char *log_name(AvmaHistoryLog which) {
  return which == AVMA_HISTORY_LOG_EVENTS ? "events_log" : "licence_log";
}

typedef gboolean (*LineFn)(JsonObject *o, const char *line, gpointer user, GError **error);

/* Parse one line. A crash can leave a line cut short with the next record appended right after
 * it; every record starts with its time member, so the last such start is tried too. */
static JsonObject *parse_line(JsonParser *p, const char *line, const char **used) {
  const char *s = line, *start = avma_host_event_line_start();
  for (int attempt = 0; attempt < 2; attempt++) {
    JsonObject *o = avma_json_object_parse(p, s, -1);
    if (o) {
      *used = s;
      return json_object_ref(o);
    }
    const char *last = NULL;
    for (const char *q = strstr(line + 1, start); q; q = strstr(q + 1, start))
      last = q;
    if (!last || last == s)
      break;
    s = last;
  }
  return NULL;
}

/* Feed each complete line of path from `start` to fn; *end: offset past the last complete line. */
static gboolean read_lines(const char *path, goffset start, goffset size, LineFn fn, gpointer user,
                           goffset *end, guint *skipped, GError **error) {
  *end = start;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot open %s: %s", path,
                g_strerror(e));
    return FALSE;
  }
  g_autoptr(GByteArray) buf = g_byte_array_new();
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autofree guint8 *chunk = g_malloc(READ_CHUNK);
  goffset pos = start;
  gboolean ok = TRUE;
  while (ok && pos < size) {
    gsize want = (gsize)MIN((goffset)READ_CHUNK, size - pos);
    ssize_t n = pread(fd, chunk, want, pos);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break; /* shorter than stat said: stop at what is there */
    pos += n;
    g_byte_array_append(buf, chunk, (guint)n);
    gsize consumed = 0;
    for (;;) {
      guint8 *nl = memchr(buf->data + consumed, '\n', buf->len - consumed);
      if (!nl)
        break;
      *nl = '\0';
      const char *line = (const char *)buf->data + consumed;
      consumed = (gsize)(nl - buf->data) + 1;
      if (*line) {
        const char *used = NULL;
        g_autoptr(JsonObject) o = parse_line(parser, line, &used);
        if (!o) {
          if (skipped)
            (*skipped)++;
        } else if (!fn(o, used, user, error)) {
          ok = FALSE;
          break;
        }
      }
    }
    *end = pos - (goffset)(buf->len - consumed);
    g_byte_array_remove_range(buf, 0, (guint)consumed);
  }
  close(fd);
  return ok;
}

static char *file_identity(const struct stat *st) {
  return g_strdup_printf("%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT, (guint64)st->st_dev,
                         (guint64)st->st_ino);
}

/* Where to resume reading a log; -1 when the file does not exist. */
static goffset resume_offset(AvmaHistory *h, AvmaHistoryLog which, const char *path,
                             struct stat *st, char **identity) {
  if (stat(path, st) != 0)
    return -1;
  *identity = file_identity(st);
  g_autofree char *kid = g_strdup_printf("%s_id", log_name(which));
  g_autofree char *koff = g_strdup_printf("%s_offset", log_name(which));
  g_autofree char *id = avma_history_meta_get(h, kid);
  g_autofree char *off = avma_history_meta_get(h, koff);
  goffset o = off ? g_ascii_strtoll(off, NULL, 10) : 0;
  if (!id || strcmp(id, *identity) || o > st->st_size || o < 0)
    return 0;
  return o;
}

/* One record of events.jsonl into the table of its kind. The chain is the durable record; the
 * tables are its index, so kinds without a table (key rotations) and ids this build does not
 * know are left in the log only. */
static gboolean import_record(AvmaHistory *h, const AvmaHostEvent *ev, const char *line,
                              GError **error) {
  switch (ev->kind) {
  case AVMA_HOST_EVENT_DECISION:
  case AVMA_HOST_EVENT_INVALID_DATA:
    return insert_event(h, ev, line, error);
  case AVMA_HOST_EVENT_LICENCE:
    /* The daemon's record of the licence it read, for the log of the last one; the store keeps
     * one row per change whichever log told it first. */
    return set_meta_raw(h, CHAIN_LICENCE_META, line, error) && insert_licence(h, ev, line, error);
  case AVMA_HOST_EVENT_VM_RUN:
    return insert_vm_state(h, ev->time, ev->vm, ev->vm_uuid, ev->running, ev->reason_text, error);
  case AVMA_HOST_EVENT_FACTS: {
    AvmaHostFacts f = {.hostname = ev->hostname,
                       .host_id = ev->host_id,
                       .sockets = (int)ev->sockets,
                       .cores_per_socket = (int)ev->cores_per_socket,
                       .threads_per_core = (int)ev->threads_per_core,
                       .cpus = (int)ev->cpus,
                       .source = ev->facts_source};
    return insert_host_facts(h, ev->time, &f, error);
  }
  case AVMA_HOST_EVENT_NOTE:
    return insert_note(h, ev->time, ev->note_what ? ev->note_what : "", ev->note_detail, error);
  case AVMA_HOST_EVENT_ROTATION:
  case AVMA_HOST_EVENT_OTHER:
    break;
  }
  return TRUE;
}

static gboolean import_line(JsonObject *o, const char *line, gpointer user, GError **error) {
  gpointer *ctx = user;
  AvmaHistory *h = ctx[0];
  AvmaHistoryLog which = GPOINTER_TO_INT(ctx[1]);
  guint *count = ctx[2];
  g_auto(AvmaHostEvent) ev;
  avma_host_event_from_json(o, &ev);
  gboolean ok;
  if (which == AVMA_HISTORY_LOG_LICENCE)
    ok = insert_licence(h, &ev, line, error);
  else
    ok = import_record(h, &ev, line, error);
  if (ok)
    (*count)++;
  return ok;
}

gboolean avma_history_sync_log(AvmaHistory *h, AvmaHistoryLog which, const char *path,
                               guint *imported, GError **error) {
  guint count = 0;
  if (imported)
    *imported = 0;
  struct stat st;
  g_autofree char *identity = NULL;
  goffset start = resume_offset(h, which, path, &st, &identity);
  if (start < 0 || start == st.st_size)
    return TRUE;
  if (!avma_history_begin(h, error))
    return FALSE;
  gpointer ctx[3] = {h, GINT_TO_POINTER(which), &count};
  goffset end = start;
  guint skipped = 0;
  g_autofree char *kid = g_strdup_printf("%s_id", log_name(which));
  g_autofree char *koff = g_strdup_printf("%s_offset", log_name(which));
  if (!read_lines(path, start, st.st_size, import_line, ctx, &end, &skipped, error)) {
    rollback(h);
    return FALSE;
  }
  g_autofree char *end_s = g_strdup_printf("%" G_GINT64_FORMAT, (gint64)end);
  if (!set_meta_raw(h, kid, identity, error) || !set_meta_raw(h, koff, end_s, error) ||
      !avma_history_commit(h, error)) {
    rollback(h);
    return FALSE;
  }
  if (skipped)
    g_warning("%s: %u unreadable line(s) skipped", path, skipped);
  if (imported)
    *imported = count;
  return TRUE;
}

/* Readers of pending lines want 12310 records (events, report): the chain's other kinds go to
 * their own tables when imported. */
static gboolean collect_line(JsonObject *o, const char *line, gpointer user, GError **error) {
  (void)line;
  (void)error;
  gpointer *ctx = user;
  if (GPOINTER_TO_INT(ctx[1]) == AVMA_HISTORY_LOG_EVENTS) {
    g_auto(AvmaHostEvent) ev;
    avma_host_event_from_json(o, &ev);
    int want = GPOINTER_TO_INT(ctx[2]);
    gboolean is_12310 =
        ev.kind == AVMA_HOST_EVENT_DECISION || ev.kind == AVMA_HOST_EVENT_INVALID_DATA;
    if (want < 0 ? !is_12310 : (int)ev.kind != want)
      return TRUE;
  }
  g_ptr_array_add(ctx[0], json_object_ref(o));
  return TRUE;
}

/* The pending records of one kind (-1: the 12310 ones). */
static GPtrArray *log_pending(AvmaHistory *h, AvmaHistoryLog which, const char *path, int kind,
                              GError **error) {
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)json_object_unref);
  struct stat st;
  g_autofree char *identity = NULL;
  goffset start = resume_offset(h, which, path, &st, &identity);
  if (start < 0 || start == st.st_size)
    return out;
  goffset end;
  gpointer ctx[3] = {out, GINT_TO_POINTER(which), GINT_TO_POINTER(kind)};
  if (!read_lines(path, start, st.st_size, collect_line, ctx, &end, NULL, error)) {
    g_ptr_array_unref(out);
    return NULL;
  }
  return out;
}

GPtrArray *avma_history_log_pending(AvmaHistory *h, AvmaHistoryLog which, const char *path,
                                    GError **error) {
  return log_pending(h, which, path, -1, error);
}

/* ---- queries -------------------------------------------------------------------------------- */

gboolean avma_event_filter_match(const AvmaEventFilter *f, const AvmaHostEvent *ev) {
  /* A time that did not parse (0) matches no time filter. */
  if ((f->since || f->until) && !ev->time)
    return FALSE;
  if (f->since && ev->time < f->since)
    return FALSE;
  if (f->until && ev->time >= f->until)
    return FALSE;
  if (f->vm && g_strcmp0(ev->vm ? ev->vm : "", f->vm) &&
      g_ascii_strcasecmp(ev->vm_uuid ? ev->vm_uuid : "", f->vm))
    return FALSE;
  if (f->notification && g_ascii_strcasecmp(avma_host_event_notification_text(ev), f->notification))
    return FALSE;
  return TRUE;
}

GPtrArray *avma_history_events(AvmaHistory *h, const AvmaEventFilter *f, GError **error) {
  g_autoptr(GString) sql = g_string_new("SELECT record FROM events WHERE 1");
  if (f->since || f->until)
    g_string_append(sql, " AND time > 0");
  if (f->since)
    g_string_append(sql, " AND time >= ?1");
  if (f->until)
    g_string_append(sql, " AND time < ?2");
  if (f->vm)
    g_string_append(sql, " AND (vm = ?3 OR (vm_uuid <> '' AND vm_key = lower(?3)))");
  if (f->notification)
    g_string_append(sql, " AND notification = ?4 COLLATE NOCASE");
  g_string_append(sql, " ORDER BY id");
  sqlite3_stmt *st = prepare(h, sql->str, error);
  if (!st)
    return NULL;
  if (f->since)
    sqlite3_bind_int64(st, 1, f->since);
  if (f->until)
    sqlite3_bind_int64(st, 2, f->until);
  if (f->vm)
    sqlite3_bind_text(st, 3, f->vm, -1, SQLITE_STATIC);
  if (f->notification)
    sqlite3_bind_text(st, 4, f->notification, -1, SQLITE_STATIC);
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)json_object_unref);
  g_autoptr(JsonParser) p = json_parser_new();
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *rec = (const char *)sqlite3_column_text(st, 0);
    JsonObject *o = avma_json_object_parse(p, rec, -1);
    if (o)
      g_ptr_array_add(out, json_object_ref(o));
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    g_ptr_array_unref(out);
    db_fail(h, "query events", error);
    return NULL;
  }
  return out;
}

/* Each row's columns against what its own record says (the field table decides both). */
typedef struct {
  sqlite3_stmt *st;
  gboolean same;
} RowCheck;

static void compare_column(guint i, const char *column, gboolean is_int, gint64 v, const char *text,
                           gpointer user) {
  (void)column;
  RowCheck *c = user;
  if (is_int)
    c->same = c->same && sqlite3_column_int64(c->st, (int)i) == v;
  else
    c->same = c->same && !g_strcmp0((const char *)sqlite3_column_text(c->st, (int)i), text);
}

gboolean avma_history_check_events(AvmaHistory *h, AvmaHistoryRecordFn fn, gpointer user,
                                   GError **error) {
  EventRow r = {.cols = g_string_new(NULL), .params = g_string_new(NULL)};
  g_auto(AvmaHostEvent) none;
  memset(&none, 0, sizeof none);
  avma_host_event_foreach_column(&none, add_column, &r);
  g_autofree char *sql =
      g_strdup_printf("SELECT %svm_key, record FROM events ORDER BY id", r.cols->str);
  guint n = r.n;
  g_string_free(r.cols, TRUE);
  g_string_free(r.params, TRUE);
  sqlite3_stmt *st = prepare(h, sql, error);
  if (!st)
    return FALSE;
  g_autoptr(JsonParser) p = json_parser_new();
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *rec = (const char *)sqlite3_column_text(st, (int)n + 1);
    RowCheck c = {.st = st, .same = FALSE};
    JsonObject *o = avma_json_object_parse(p, rec, -1);
    if (o) {
      g_auto(AvmaHostEvent) ev;
      avma_host_event_from_json(o, &ev);
      c.same = TRUE;
      avma_host_event_foreach_column(&ev, compare_column, &c);
      g_autofree char *key = avma_vm_key(ev.vm, ev.vm_uuid);
      c.same = c.same && !g_strcmp0((const char *)sqlite3_column_text(st, (int)n), key);
    }
    if (!fn(rec ? rec : "", c.same, user))
      break;
  }
  gboolean ok = rc == SQLITE_ROW || rc == SQLITE_DONE;
  sqlite3_finalize(st);
  return ok || db_fail(h, "query events", error);
}

GHashTable *avma_history_running_vms(AvmaHistory *h, GError **error) {
  sqlite3_stmt *st = prepare(h,
                             "SELECT s.vm_key, s.time FROM vm_states s JOIN "
                             "(SELECT max(id) AS id FROM vm_states GROUP BY vm_key) l "
                             "ON s.id = l.id WHERE s.running = 1",
                             error);
  if (!st)
    return NULL;
  GHashTable *out = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  while (sqlite3_step(st) == SQLITE_ROW) {
    gint64 *t = g_new(gint64, 1);
    *t = sqlite3_column_int64(st, 1);
    g_hash_table_insert(out, g_strdup((const char *)sqlite3_column_text(st, 0)), t);
  }
  sqlite3_finalize(st);
  return out;
}

gint64 avma_history_last_event_time(AvmaHistory *h) {
  sqlite3_stmt *st = NULL;
  gint64 t = 0;
  if (sqlite3_prepare_v2(h->db, "SELECT max(time) FROM events", -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    t = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return t;
}

/* ---- typed rows ------------------------------------------------------------------------------
 * An iterator holds either a statement over the store or records read from a log. */

typedef enum { ROWS_EVENT, ROWS_STATE, ROWS_LICENCE, ROWS_FACTS, ROWS_VCPUS } RowsKind;

struct AvmaHistoryRows {
  AvmaHistory *h;
  RowsKind kind;
  sqlite3_stmt *st;
  GPtrArray *records; /* AvmaHostEvent*, from a log */
  guint next;
  GError *failure; /* why the statement stopped early */
};

void avma_history_rows_free(AvmaHistoryRows *rows) {
  if (!rows)
    return;
  sqlite3_finalize(rows->st);
  if (rows->records)
    g_ptr_array_unref(rows->records);
  g_clear_error(&rows->failure);
  g_free(rows);
}

gboolean avma_history_rows_finish(AvmaHistoryRows *rows, GError **error) {
  if (!rows)
    return FALSE;
  gboolean ok = !rows->failure;
  if (!ok)
    g_propagate_error(error, g_steal_pointer(&rows->failure));
  avma_history_rows_free(rows);
  return ok;
}

/* ?1 and ?2, where the statement has them, are a and b. */
static AvmaHistoryRows *rows_query(AvmaHistory *h, RowsKind kind, const char *sql, gint64 a,
                                   gint64 b, GError **error) {
  sqlite3_stmt *st = prepare(h, sql, error);
  if (!st)
    return NULL;
  if (sqlite3_bind_parameter_count(st) >= 1)
    sqlite3_bind_int64(st, 1, a);
  if (sqlite3_bind_parameter_count(st) >= 2)
    sqlite3_bind_int64(st, 2, b);
  AvmaHistoryRows *rows = g_new0(AvmaHistoryRows, 1);
  rows->h = h;
  rows->kind = kind;
  rows->st = st;
  return rows;
}

/* The next row of the statement: TRUE with one, FALSE at the end or on a failure (kept for
 * avma_history_rows_finish). */
static gboolean rows_step(AvmaHistoryRows *rows, RowsKind kind) {
  if (!rows)
    return FALSE; /* the query did not start: its error is set */
  g_return_val_if_fail(rows->kind == kind && rows->st, FALSE);
  if (rows->failure)
    return FALSE;
  int rc = sqlite3_step(rows->st);
  if (rc == SQLITE_ROW)
    return TRUE;
  if (rc != SQLITE_DONE)
    db_fail(rows->h, "query", &rows->failure);
  return FALSE;
}

/* The next record of a log, or NULL at its end. */
static const AvmaHostEvent *rows_record(AvmaHistoryRows *rows, RowsKind kind) {
  g_return_val_if_fail(rows->kind == kind, NULL);
  return rows->next < rows->records->len ? rows->records->pdata[rows->next++] : NULL;
}

static const char *col_text(sqlite3_stmt *st, int i) {
  const char *s = (const char *)sqlite3_column_text(st, i);
  return s ? s : "";
}

static const char *or_empty(const char *s) {
  return s ? s : "";
}

#define EVENT_COLS "time, vm, vm_uuid, notification, guest_version, guest_edition, granted_until"

AvmaHistoryRows *avma_history_grants_in_force(AvmaHistory *h, gint64 at, GError **error) {
  /* The partial index on granted_until finds the grants still valid at `at`; of those, only
   * each VM's latest success before `at` counts (a later one replaced it). */
  return rows_query(h, ROWS_EVENT,
                    "SELECT " EVENT_COLS " FROM events e WHERE granted_until > ?1 AND "
                    "granted_until > 0 AND time < ?1 AND notification = 'AVMA Success' AND NOT "
                    "EXISTS (SELECT 1 FROM events l WHERE l.vm_key = e.vm_key AND l.time >= e.time "
                    "AND l.time < ?1 AND l.id > e.id AND l.notification = 'AVMA Success') "
                    "ORDER BY id",
                    at, 0, error);
}

AvmaHistoryRows *avma_history_events_between(AvmaHistory *h, gint64 start, gint64 end,
                                             GError **error) {
  return rows_query(h, ROWS_EVENT,
                    "SELECT " EVENT_COLS " FROM events WHERE time >= ?1 AND time < ?2 "
                    "ORDER BY time, id",
                    start, end, error);
}

AvmaHistoryRows *avma_history_states_before(AvmaHistory *h, gint64 end, GError **error) {
  return rows_query(h, ROWS_STATE,
                    "SELECT time, vm, vm_uuid, running FROM vm_states WHERE time < ?1 ORDER BY id",
                    end, 0, error);
}

AvmaHistoryRows *avma_history_licences_before(AvmaHistory *h, gint64 end, GError **error) {
  return rows_query(h, ROWS_LICENCE,
                    "SELECT time, version, edition, activated, set_by FROM licence_changes "
                    "WHERE time < ?1 ORDER BY time, id",
                    end, 0, error);
}

AvmaHistoryRows *avma_history_host_facts_all(AvmaHistory *h, GError **error) {
  return rows_query(h, ROWS_FACTS,
                    "SELECT time, hostname, host_id, sockets, cores_per_socket, threads_per_core, "
                    "cpus, source FROM host_facts ORDER BY id",
                    0, 0, error);
}

AvmaHistoryRows *avma_history_vcpus_all(AvmaHistory *h, GError **error) {
  return rows_query(h, ROWS_VCPUS, "SELECT time, vm, vm_uuid, vcpus FROM vm_facts ORDER BY id", 0,
                    0, error);
}

static AvmaHistoryRows *pending_rows(AvmaHistory *h, AvmaHistoryLog which, const char *path,
                                     int kind, RowsKind rows_kind, GError **error) {
  g_autoptr(GPtrArray) lines = log_pending(h, which, path, kind, error);
  if (!lines)
    return NULL;
  AvmaHistoryRows *rows = g_new0(AvmaHistoryRows, 1);
  rows->h = h;
  rows->kind = rows_kind;
  rows->records = g_ptr_array_new_full(lines->len, (GDestroyNotify)avma_host_event_free);
  for (guint i = 0; i < lines->len; i++) {
    AvmaHostEvent *ev = g_new0(AvmaHostEvent, 1);
    avma_host_event_from_json(lines->pdata[i], ev);
    /* A licence change the store holds already (from the other log) counts once. */
    if (rows_kind == ROWS_LICENCE && licence_known(h, ev, NULL) == 1) {
      avma_host_event_free(ev);
      continue;
    }
    g_ptr_array_add(rows->records, ev);
  }
  return rows;
}

AvmaHistoryRows *avma_history_pending_rows(AvmaHistory *h, AvmaHistoryLog which, const char *path,
                                           GError **error) {
  return pending_rows(h, which, path, -1,
                      which == AVMA_HISTORY_LOG_EVENTS ? ROWS_EVENT : ROWS_LICENCE, error);
}

AvmaHistoryRows *avma_history_pending_states(AvmaHistory *h, const char *events_log,
                                             GError **error) {
  return pending_rows(h, AVMA_HISTORY_LOG_EVENTS, events_log, AVMA_HOST_EVENT_VM_RUN, ROWS_STATE,
                      error);
}

AvmaHistoryRows *avma_history_pending_facts(AvmaHistory *h, const char *events_log,
                                            GError **error) {
  return pending_rows(h, AVMA_HISTORY_LOG_EVENTS, events_log, AVMA_HOST_EVENT_FACTS, ROWS_FACTS,
                      error);
}

gboolean avma_history_next_event(AvmaHistoryRows *rows, AvmaHistoryEventRow *row) {
  if (rows && rows->records) {
    const AvmaHostEvent *ev = rows_record(rows, ROWS_EVENT);
    if (!ev)
      return FALSE;
    *row = (AvmaHistoryEventRow){.time = ev->time,
                                 .vm = or_empty(ev->vm),
                                 .vm_uuid = or_empty(ev->vm_uuid),
                                 .notification = ev->notification,
                                 .guest_version = or_empty(ev->guest_version),
                                 .guest_edition = or_empty(ev->guest_edition),
                                 .granted_until = ev->granted_until};
    return TRUE;
  }
  if (!rows_step(rows, ROWS_EVENT))
    return FALSE;
  sqlite3_stmt *st = rows->st;
  AvmaNotification n;
  gboolean known = avma_notification_parse(col_text(st, 3), &n);
  *row = (AvmaHistoryEventRow){.time = sqlite3_column_int64(st, 0),
                               .vm = col_text(st, 1),
                               .vm_uuid = col_text(st, 2),
                               .notification = known ? (int)n : -1,
                               .guest_version = col_text(st, 4),
                               .guest_edition = col_text(st, 5),
                               .granted_until = sqlite3_column_int64(st, 6)};
  return TRUE;
}

gboolean avma_history_next_state(AvmaHistoryRows *rows, AvmaHistoryStateRow *row) {
  if (rows && rows->records) {
    const AvmaHostEvent *ev = rows_record(rows, ROWS_STATE);
    if (!ev)
      return FALSE;
    *row = (AvmaHistoryStateRow){.time = ev->time,
                                 .vm = or_empty(ev->vm),
                                 .vm_uuid = or_empty(ev->vm_uuid),
                                 .running = ev->running};
    return TRUE;
  }
  if (!rows_step(rows, ROWS_STATE))
    return FALSE;
  *row = (AvmaHistoryStateRow){.time = sqlite3_column_int64(rows->st, 0),
                               .vm = col_text(rows->st, 1),
                               .vm_uuid = col_text(rows->st, 2),
                               .running = sqlite3_column_int(rows->st, 3)};
  return TRUE;
}

gboolean avma_history_next_licence(AvmaHistoryRows *rows, AvmaHistoryLicenceRow *row) {
  if (rows && rows->records) {
    const AvmaHostEvent *ev = rows_record(rows, ROWS_LICENCE);
    if (!ev)
      return FALSE;
    *row = (AvmaHistoryLicenceRow){.time = ev->time,
                                   .version = or_empty(ev->licence_version),
                                   .edition = or_empty(ev->licence_edition),
                                   .set_by = or_empty(ev->licence_set_by),
                                   .activated = ev->licence_activated};
    return TRUE;
  }
  if (!rows_step(rows, ROWS_LICENCE))
    return FALSE;
  *row = (AvmaHistoryLicenceRow){.time = sqlite3_column_int64(rows->st, 0),
                                 .version = col_text(rows->st, 1),
                                 .edition = col_text(rows->st, 2),
                                 .activated = sqlite3_column_int(rows->st, 3),
                                 .set_by = col_text(rows->st, 4)};
  return TRUE;
}

gboolean avma_history_next_facts(AvmaHistoryRows *rows, AvmaHistoryFactsRow *row) {
  if (rows && rows->records) {
    const AvmaHostEvent *ev = rows_record(rows, ROWS_FACTS);
    if (!ev)
      return FALSE;
    *row = (AvmaHistoryFactsRow){.time = ev->time,
                                 .facts = {.hostname = or_empty(ev->hostname),
                                           .host_id = or_empty(ev->host_id),
                                           .sockets = (int)ev->sockets,
                                           .cores_per_socket = (int)ev->cores_per_socket,
                                           .threads_per_core = (int)ev->threads_per_core,
                                           .cpus = (int)ev->cpus,
                                           .source = or_empty(ev->facts_source)}};
    return TRUE;
  }
  if (!rows_step(rows, ROWS_FACTS))
    return FALSE;
  sqlite3_stmt *st = rows->st;
  *row = (AvmaHistoryFactsRow){.time = sqlite3_column_int64(st, 0),
                               .facts = {.hostname = col_text(st, 1),
                                         .host_id = col_text(st, 2),
                                         .sockets = sqlite3_column_int(st, 3),
                                         .cores_per_socket = sqlite3_column_int(st, 4),
                                         .threads_per_core = sqlite3_column_int(st, 5),
                                         .cpus = sqlite3_column_int(st, 6),
                                         .source = col_text(st, 7)}};
  return TRUE;
}

gboolean avma_history_next_vcpus(AvmaHistoryRows *rows, AvmaHistoryVcpusRow *row) {
  if (!rows_step(rows, ROWS_VCPUS))
    return FALSE;
  *row = (AvmaHistoryVcpusRow){.time = sqlite3_column_int64(rows->st, 0),
                               .vm = col_text(rows->st, 1),
                               .vm_uuid = col_text(rows->st, 2),
                               .vcpus = sqlite3_column_int(rows->st, 3)};
  return TRUE;
}

/* ---- retention ------------------------------------------------------------------------------ */

gint64 avma_history_retention_cutoff(gint64 now, guint months) {
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(now);
  int y = g_date_time_get_year(dt), m = g_date_time_get_month(dt) - 1 - (int)months;
  while (m < 0) {
    m += 12;
    y--;
  }
  g_autoptr(GDateTime) start = g_date_time_new_utc(y, m + 1, 1, 0, 0, 0);
  return g_date_time_to_unix(start);
}

gboolean avma_history_prune_step(AvmaHistory *h, gint64 cutoff, guint max_rows, gboolean *done,
                                 GError **error) {
  /* Events go in batches (the table is large); the others are small and go in one step. Keep:
   * the latest state of a VM still running, the latest licence (it is in force after cutoff),
   * the latest host facts and each VM's latest vCPU count. */
  static const char *const small[] = {
      "DELETE FROM vm_states WHERE time < ?1 AND id NOT IN (SELECT s.id FROM vm_states s JOIN "
      "(SELECT max(id) AS id FROM vm_states GROUP BY vm_key) l ON s.id = l.id "
      "WHERE s.running = 1)",
      "DELETE FROM licence_changes WHERE time < ?1 AND id <> "
      "(SELECT max(id) FROM licence_changes WHERE time < ?1)",
      "DELETE FROM host_facts WHERE time < ?1 AND id <> "
      "(SELECT max(id) FROM host_facts WHERE time < ?1)",
      "DELETE FROM vm_facts WHERE time < ?1 AND id NOT IN "
      "(SELECT max(id) FROM vm_facts GROUP BY vm_key)",
      "DELETE FROM agent_log WHERE time < ?1",
  };
  *done = FALSE;
  if (!avma_history_begin(h, error))
    return FALSE;
  sqlite3_stmt *st = prepare(h,
                             "DELETE FROM events WHERE id IN (SELECT id FROM events "
                             "WHERE time < ?1 ORDER BY time LIMIT ?2)",
                             error);
  if (!st) {
    rollback(h);
    return FALSE;
  }
  sqlite3_bind_int64(st, 1, cutoff);
  sqlite3_bind_int64(st, 2, max_rows);
  if (!step_write(h, st, "prune events", error)) {
    rollback(h);
    return FALSE;
  }
  if ((guint)sqlite3_changes(h->db) < max_rows) {
    for (size_t i = 0; i < G_N_ELEMENTS(small); i++) {
      st = prepare(h, small[i], error);
      if (!st) {
        rollback(h);
        return FALSE;
      }
      sqlite3_bind_int64(st, 1, cutoff);
      if (!step_write(h, st, "prune", error)) {
        rollback(h);
        return FALSE;
      }
    }
    *done = TRUE;
  }
  if (!avma_history_commit(h, error)) {
    rollback(h);
    return FALSE;
  }
  return TRUE;
}

/* The latest decision of every VM, for the daemon's view after a restart. A VM's last decision
 * that is not Invalid Data bounds the scan; the rows after it (Invalid Data decisions or protocol
 * noise, told apart by avma_host_event_from_json) are few, and events_by_vm serves both. */
GHashTable *avma_history_last_decisions(AvmaHistory *h, GError **error) {
  sqlite3_stmt *st =
      prepare(h,
              "SELECT e.record FROM events e WHERE e.event_id = 12310 AND e.id >= "
              "(SELECT coalesce(max(f.id), 0) FROM events f WHERE f.vm_key = e.vm_key AND "
              "f.event_id = 12310 AND f.notification <> 'Invalid Data') ORDER BY e.id",
              error);
  if (!st)
    return NULL;
  GHashTable *out =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)avma_host_event_free);
  g_autoptr(JsonParser) p = json_parser_new();
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *rec = (const char *)sqlite3_column_text(st, 0);
    JsonObject *o = avma_json_object_parse(p, rec, -1);
    if (!o)
      continue;
    AvmaHostEvent ev;
    avma_host_event_from_json(o, &ev);
    if (ev.kind == AVMA_HOST_EVENT_DECISION)
      g_hash_table_insert(out, avma_vm_key(ev.vm, ev.vm_uuid), avma_host_event_copy(&ev));
    avma_host_event_clear(&ev);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    g_hash_table_unref(out);
    db_fail(h, "query last decisions", error);
    return NULL;
  }
  return out;
}
