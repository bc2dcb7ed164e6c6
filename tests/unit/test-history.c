/* test-history: the SQLite history store: schema migrations and versions, importing the
 * JSON-lines logs (resuming, glued lines after a crash, replaced files), readers beside the
 * writer, event filters, running VMs and retention. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <gio/gio.h>
#include <sqlite3.h>

#include "history-db.h"
#include "history.h"
#include "host-event.h"
#include "host.h"
#include "timeutil.h"

typedef struct {
  char *dir;
  char *db;
  char *log;
} Fixture;

static int setup(void **state) {
  Fixture *f = g_new0(Fixture, 1);
  f->dir = g_dir_make_tmp("avma-history-XXXXXX", NULL);
  f->db = g_build_filename(f->dir, "history.db", NULL);
  f->log = g_build_filename(f->dir, "events.jsonl", NULL);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  Fixture *f = *state;
  g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);
  assert_int_equal(system(cmd), 0);
  g_free(f->dir);
  g_free(f->db);
  g_free(f->log);
  g_free(f);
  return 0;
}

static char *line(int sec, const char *vm, const char *notification) {
  g_autofree char *t = avma_time_format(1772323200 + sec); /* 2026-03-01 */
  return g_strdup_printf("{\"time\":\"%s\",\"event_id\":12310,\"notification\":\"%s\","
                         "\"vm\":\"%s\",\"vm_uuid\":\"\",\"granted_until\":\"\"}",
                         t, notification, vm);
}

static void append(const char *path, const char *text) {
  FILE *fp = fopen(path, "a");
  assert_non_null(fp);
  fputs(text, fp);
  fclose(fp);
}

static void append_line(const char *path, int sec, const char *vm, const char *n) {
  g_autofree char *l = line(sec, vm, n);
  g_autofree char *nl = g_strconcat(l, "\n", NULL);
  append(path, nl);
}

static int count(AvmaHistory *h, const char *table) {
  g_autofree char *sql = g_strdup_printf("SELECT count(*) FROM %s", table);
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(avma_history_db(h), sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  int n = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return n;
}

static void test_schema(void **state) {
  Fixture *f = *state;
  g_autoptr(GError) err = NULL;
  assert_null(avma_history_open_read(f->db, &err));
  assert_true(g_error_matches(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
  g_clear_error(&err);
  /* An empty database (user_version 0) is migrated to the current schema. */
  sqlite3 *raw = NULL;
  assert_int_equal(sqlite3_open(f->db, &raw), SQLITE_OK);
  assert_int_equal(sqlite3_exec(raw, "PRAGMA user_version=0", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(raw);
  AvmaHistory *h = avma_history_open_write(f->db, &err);
  assert_non_null(h);
  sqlite3_stmt *st = NULL;
  sqlite3_prepare_v2(avma_history_db(h), "PRAGMA user_version", -1, &st, NULL);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), AVMA_HISTORY_SCHEMA);
  sqlite3_finalize(st);
  sqlite3_prepare_v2(avma_history_db(h), "PRAGMA journal_mode", -1, &st, NULL);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
  sqlite3_finalize(st);
  sqlite3_prepare_v2(avma_history_db(h), "PRAGMA synchronous", -1, &st, NULL);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 2); /* FULL */
  sqlite3_finalize(st);
  avma_history_close(h);
  /* Opening again changes nothing; a reader opens it too. */
  h = avma_history_open_write(f->db, &err);
  assert_non_null(h);
  avma_history_close(h);
  h = avma_history_open_read(f->db, &err);
  assert_non_null(h);
  avma_history_close(h);
  /* A store from a newer build is refused, not damaged. */
  assert_int_equal(sqlite3_open(f->db, &raw), SQLITE_OK);
  assert_int_equal(sqlite3_exec(raw, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(raw);
  assert_null(avma_history_open_write(f->db, &err));
  assert_true(g_error_matches(err, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED));
  g_clear_error(&err);
  assert_null(avma_history_open_read(f->db, &err));
  assert_true(g_error_matches(err, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED));
}

static void test_sync_log(void **state) {
  Fixture *f = *state;
  g_autoptr(AvmaHistory) h = avma_history_open_write(f->db, NULL);
  assert_non_null(h);
  guint n = 99;
  /* No log yet: nothing to do. */
  assert_true(avma_history_sync_log(h, AVMA_HISTORY_LOG_EVENTS, f->log, &n, NULL));
  assert_int_equal(n, 0);
  for (int i = 0; i < 3; i++)
    append_line(f->log, i, "vm1", "AVMA Success");
  assert_true(avma_history_sync_log(h, AVMA_HISTORY_LOG_EVENTS, f->log, &n, NULL));
  assert_int_equal(n, 3);
  assert_true(avma_history_sync_log(h, AVMA_HISTORY_LOG_EVENTS, f->log, &n, NULL));
  assert_int_equal(n, 0);
  /* A line cut short by a crash is not imported until it ends... */
  g_autofree char *torn = line(10, "vm2", "Invalid Host");
  torn[strlen(torn) / 2] = '\0';
  append(f->log, torn);
  assert_true(avma_history_sync_log(h, AVMA_HISTORY_LOG_EVENTS, f->log, &n, NULL));
  assert_int_equal(n, 0);
  /* ...and the next record, appended right after it, is recovered from the glued line. */
  append_line(f->log, 11, "vm2", "Activation Denied");
  g_autoptr(AvmaHistory) reader = avma_history_open_read(f->db, NULL);
  assert_non_null(reader);
  g_autoptr(GPtrArray) pending =
      avma_history_log_pending(reader, AVMA_HISTORY_LOG_EVENTS, f->log, NULL);
  assert_int_equal(pending->len, 1);
  assert_string_equal(json_object_get_string_member(pending->pdata[0], "notification"),
                      "Activation Denied");
  assert_true(avma_history_sync_log(h, AVMA_HISTORY_LOG_EVENTS, f->log, &n, NULL));
  assert_int_equal(n, 1);
  assert_int_equal(count(h, "events"), 4);
  /* The reader beside the writer sees the new rows (WAL) and nothing pending. */
  AvmaEventFilter all = {0};
  g_autoptr(GPtrArray) rows = avma_history_events(reader, &all, NULL);
  assert_int_equal(rows->len, 4);
  g_autoptr(GPtrArray) none =
      avma_history_log_pending(reader, AVMA_HISTORY_LOG_EVENTS, f->log, NULL);
  assert_int_equal(none->len, 0);
  /* A replaced log (rotated) is read from its start. */
  g_autofree char *fresh = g_strconcat(f->log, ".new", NULL);
  append_line(fresh, 20, "vm3", "AVMA Success");
  assert_int_equal(rename(fresh, f->log), 0);
  assert_true(avma_history_sync_log(h, AVMA_HISTORY_LOG_EVENTS, f->log, &n, NULL));
  assert_int_equal(n, 1);
  assert_int_equal(count(h, "events"), 5);
}

/* The host's own records of events.jsonl go to their tables; a licence change that
 * licence-history.jsonl holds too is one row; ids this build does not know are skipped, and
 * readers of pending lines see only the 12310 records. */
static void test_host_records(void **state) {
  Fixture *f = *state;
  g_autoptr(AvmaHistory) h = avma_history_open_write(f->db, NULL);
  assert_non_null(h);
  const char *lic =
      "\"set\":true,\"version\":\"2022\",\"edition\":\"Datacenter\",\"activated\":true,"
      "\"key_last5\":\"DV9BG\",\"set_at\":\"2026-03-01T09:00:00Z\",\"set_by\":\"root\","
      "\"activates_guests\":true";
  g_autofree char *hist = g_build_filename(f->dir, "licence-history.jsonl", NULL);
  g_autofree char *l1 =
      g_strdup_printf("{\"time\":\"2026-03-01T09:00:00Z\",\"event_id\":12311,%s}\n", lic);
  append(hist, l1);
  g_autofree char *l2 = g_strdup_printf(
      "{\"time\":\"2026-03-01T10:00:00Z\",\"event_id\":12311,%s,\"host_id\":\"h\"}\n", lic);
  append(f->log, l2);
  append(f->log, "{\"time\":\"2026-03-01T10:00:01Z\",\"event_id\":12312,\"reason\":"
                 "\"channel-connected\",\"vm\":\"vm1\",\"vm_uuid\":\"\",\"running\":true,"
                 "\"repaired\":false,\"host_id\":\"h\"}\n");
  append_line(f->log, 36002, "vm1", "AVMA Success");
  append(f->log, "{\"time\":\"2026-03-01T10:00:03Z\",\"event_id\":12313,\"hostname\":\"k\","
                 "\"sockets\":2,\"cores_per_socket\":8,\"threads_per_core\":2,\"cpus\":32,"
                 "\"source\":\"sysfs\",\"host_id\":\"h\"}\n");
  append(f->log, "{\"time\":\"2026-03-01T10:00:04Z\",\"event_id\":12314,\"what\":"
                 "\"agent-stop\",\"detail\":\"\",\"host_id\":\"h\"}\n");
  append(f->log, "{\"time\":\"2026-03-01T10:00:05Z\",\"event_id\":12399,\"granted_until\":\"\"}\n");
  guint n = 0;
  assert_true(avma_history_sync_log(h, AVMA_HISTORY_LOG_LICENCE, hist, &n, NULL));
  g_autoptr(GPtrArray) pending = avma_history_log_pending(h, AVMA_HISTORY_LOG_EVENTS, f->log, NULL);
  assert_int_equal(pending->len, 1);
  assert_true(avma_history_sync_log(h, AVMA_HISTORY_LOG_EVENTS, f->log, &n, NULL));
  assert_int_equal(count(h, "events"), 1);
  assert_int_equal(count(h, "licence_changes"), 1);
  assert_int_equal(count(h, "vm_states"), 1);
  assert_int_equal(count(h, "host_facts"), 1);
  assert_int_equal(count(h, "agent_log"), 1);
  g_autoptr(GHashTable) running = avma_history_running_vms(h, NULL);
  assert_true(g_hash_table_contains(running, "vm1"));
  g_autofree char *last = avma_history_chain_licence(h);
  assert_non_null(last);
  assert_non_null(strstr(last, "\"host_id\":\"h\""));
  /* Run edges and facts the store lacks yet come to the report from the log. */
  append(f->log, "{\"time\":\"2026-03-01T10:00:06Z\",\"event_id\":12312,\"reason\":"
                 "\"channel-closed\",\"vm\":\"vm1\",\"vm_uuid\":\"\",\"running\":false,"
                 "\"repaired\":false,\"host_id\":\"h\"}\n");
  AvmaHistoryRows *st = avma_history_pending_states(h, f->log, NULL);
  AvmaHistoryStateRow sr;
  assert_true(avma_history_next_state(st, &sr));
  assert_string_equal(sr.vm, "vm1");
  assert_false(sr.running);
  assert_false(avma_history_next_state(st, &sr));
  assert_true(avma_history_rows_finish(st, NULL));
  AvmaHistoryRows *fr = avma_history_pending_facts(h, f->log, NULL);
  AvmaHistoryFactsRow frow;
  assert_false(avma_history_next_facts(fr, &frow));
  assert_true(avma_history_rows_finish(fr, NULL));
  /* licence-history.jsonl's pending line of a change the store has from events.jsonl is not a
   * second change for the report. */
  g_autoptr(AvmaHistory) mem2 = avma_history_open_memory(NULL);
  assert_true(avma_history_sync_log(mem2, AVMA_HISTORY_LOG_EVENTS, f->log, &n, NULL));
  AvmaHistoryRows *lr = avma_history_pending_rows(mem2, AVMA_HISTORY_LOG_LICENCE, hist, NULL);
  AvmaHistoryLicenceRow lrow;
  assert_false(avma_history_next_licence(lr, &lrow));
  assert_true(avma_history_rows_finish(lr, NULL));
  /* The same change again from licence-history.jsonl (a store rebuilt in the other order). */
  g_autoptr(AvmaHistory) mem = avma_history_open_memory(NULL);
  assert_true(avma_history_sync_log(mem, AVMA_HISTORY_LOG_EVENTS, f->log, &n, NULL));
  assert_true(avma_history_sync_log(mem, AVMA_HISTORY_LOG_LICENCE, hist, &n, NULL));
  assert_int_equal(count(mem, "licence_changes"), 1);
}

static void test_filters(void **state) {
  Fixture *f = *state;
  g_autoptr(AvmaHistory) h = avma_history_open_write(f->db, NULL);
  const char *recs[] = {
      "{\"time\":\"2026-03-01T00:00:00Z\",\"notification\":\"AVMA Success\",\"vm\":\"web\","
      "\"vm_uuid\":\"ABCDEF01-0000-4000-8000-000000000001\"}",
      "{\"time\":\"2026-03-02T00:00:00Z\",\"notification\":\"Invalid Host\",\"vm\":\"db\","
      "\"vm_uuid\":\"\"}",
      "{\"time\":\"2026-03-03T00:00:00Z\",\"notification\":\"AVMA Success\",\"vm\":\"db\","
      "\"vm_uuid\":\"\"}",
  };
  for (size_t i = 0; i < G_N_ELEMENTS(recs); i++) {
    g_autoptr(JsonParser) p = json_parser_new();
    assert_true(json_parser_load_from_data(p, recs[i], -1, NULL));
    assert_true(
        avma_history_add_event(h, json_node_get_object(json_parser_get_root(p)), recs[i], NULL));
  }
  gint64 d2 = 0;
  assert_true(avma_time_parse("2026-03-02T00:00:00Z", &d2));
  struct {
    AvmaEventFilter f;
    guint want;
  } cases[] = {
      {{0, 0, NULL, NULL}, 3},
      {{d2, 0, NULL, NULL}, 2},
      {{0, d2, NULL, NULL}, 1},
      {{0, 0, "db", NULL}, 2},
      {{0, 0, "abcdef01-0000-4000-8000-000000000001", NULL}, 1},
      {{0, 0, NULL, "avma success"}, 2},
      {{0, 0, "db", "AVMA Success"}, 1},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GPtrArray) rows = avma_history_events(h, &cases[i].f, NULL);
    if (rows->len != cases[i].want)
      fail_msg("case %zu: %u rows, want %u", i, rows->len, cases[i].want);
    /* The same filter on the records themselves (used for lines not in the store yet). */
    g_autoptr(GPtrArray) all = avma_history_events(h, &cases[0].f, NULL);
    guint m = 0;
    for (guint k = 0; k < all->len; k++) {
      g_auto(AvmaHostEvent) ev;
      avma_host_event_from_json(all->pdata[k], &ev);
      m += avma_event_filter_match(&cases[i].f, &ev);
    }
    assert_int_equal(m, cases[i].want);
  }
  /* Records come back exactly as logged. */
  g_autoptr(GPtrArray) rows = avma_history_events(h, &cases[0].f, NULL);
  assert_string_equal(json_object_get_string_member(rows->pdata[0], "vm_uuid"),
                      "ABCDEF01-0000-4000-8000-000000000001");
}

static void test_running_and_retention(void **state) {
  Fixture *f = *state;
  g_autoptr(AvmaHistory) h = avma_history_open_write(f->db, NULL);
  gint64 jan2024 = 0, mar2026 = 0;
  assert_true(avma_time_parse("2024-01-10T00:00:00Z", &jan2024));
  assert_true(avma_time_parse("2026-03-15T12:00:00Z", &mar2026));
  assert_true(avma_history_add_vm_state(h, jan2024, "old", "", TRUE, "t", NULL));
  assert_true(avma_history_add_vm_state(h, jan2024 + 10, "gone", "", TRUE, "t", NULL));
  assert_true(avma_history_add_vm_state(h, jan2024 + 20, "gone", "", FALSE, "t", NULL));
  assert_true(avma_history_add_vm_state(h, mar2026, "new", "", TRUE, "t", NULL));
  g_autoptr(GHashTable) running = avma_history_running_vms(h, NULL);
  assert_int_equal(g_hash_table_size(running), 2);
  assert_non_null(g_hash_table_lookup(running, "old"));
  assert_non_null(g_hash_table_lookup(running, "new"));
  /* 25 months back from March 2026: February 2024 is the oldest month kept. */
  gint64 cutoff = avma_history_retention_cutoff(mar2026, 25);
  g_autofree char *cs = avma_time_format(cutoff);
  assert_string_equal(cs, "2024-02-01T00:00:00Z");
  for (int i = 0; i < 5; i++) {
    g_autoptr(JsonObject) o = json_object_new();
    g_autofree char *t = avma_time_format(i < 3 ? jan2024 + i : mar2026 + i);
    json_object_set_string_member(o, "time", t);
    json_object_set_string_member(o, "vm", "old");
    assert_true(avma_history_add_event(h, o, NULL, NULL));
  }
  g_autoptr(JsonObject) l1 = json_object_new();
  json_object_set_string_member(l1, "time", "2023-12-01T00:00:00Z");
  json_object_set_string_member(l1, "version", "2019");
  assert_true(avma_history_add_licence(h, l1, NULL, NULL));
  g_autoptr(JsonObject) l2 = json_object_new();
  json_object_set_string_member(l2, "time", "2024-01-05T00:00:00Z");
  json_object_set_string_member(l2, "version", "2022");
  assert_true(avma_history_add_licence(h, l2, NULL, NULL));
  gboolean done = FALSE;
  int steps = 0;
  while (!done) {
    assert_true(avma_history_prune_step(h, cutoff, 2, &done, NULL));
    assert_true(++steps < 10);
  }
  assert_true(steps >= 2); /* batches of 2 */
  assert_int_equal(count(h, "events"), 2);
  /* "old" still runs: its start is kept; "gone" stopped long ago: forgotten. */
  assert_int_equal(count(h, "vm_states"), 2);
  g_autoptr(GHashTable) still = avma_history_running_vms(h, NULL);
  assert_int_equal(g_hash_table_size(still), 2);
  /* The licence in force at the cutoff (set 2024-01-05) is kept, the one before it goes. */
  assert_int_equal(count(h, "licence_changes"), 1);
}

static void test_meta_and_facts(void **state) {
  Fixture *f = *state;
  g_autoptr(AvmaHistory) h = avma_history_open_write(f->db, NULL);
  assert_null(avma_history_meta_get(h, "nothing"));
  assert_true(avma_history_meta_set(h, "k", "v1", NULL));
  assert_true(avma_history_meta_set(h, "k", "v2", NULL));
  g_autofree char *v = avma_history_meta_get(h, "k");
  assert_string_equal(v, "v2");
  g_autofree char *alive = avma_history_meta_get(h, "alive_at");
  assert_non_null(alive); /* every write says when the agent was last alive */
  AvmaHostFacts a = {"h", "id", 1, 4, 2, 8, "sysfs"};
  assert_true(avma_history_record_host_facts(h, 1, &a, NULL));
  assert_true(avma_history_record_host_facts(h, 2, &a, NULL));
  a.source = "libvirt";
  assert_true(avma_history_record_host_facts(h, 3, &a, NULL));
  assert_int_equal(count(h, "host_facts"), 2);
  assert_true(avma_history_record_vm_vcpus(h, 1, "vm", "", 2, "libvirt", NULL));
  assert_true(avma_history_record_vm_vcpus(h, 2, "vm", "", 2, "libvirt", NULL));
  assert_true(avma_history_record_vm_vcpus(h, 3, "vm", "", 4, "libvirt", NULL));
  assert_int_equal(count(h, "vm_facts"), 2);
  /* One identity rule (avma_vm_key): a valid UUID in lower case, else the name. */
  g_autofree char *k1 = avma_history_vm_key("n", "ABCDEF01-0000-4000-8000-000000000001");
  g_autofree char *k2 = avma_history_vm_key("n", "");
  g_autofree char *k3 = avma_vm_key("n", "ABC");
  assert_string_equal(k1, "abcdef01-0000-4000-8000-000000000001");
  assert_string_equal(k2, "n");
  assert_string_equal(k3, "n");
  /* A group of writes is one transaction. */
  assert_true(avma_history_begin(h, NULL));
  assert_true(avma_history_add_agent_note(h, 5, "x", "", NULL));
  assert_true(avma_history_add_agent_note(h, 6, "y", "", NULL));
  assert_true(avma_history_commit(h, NULL));
  assert_int_equal(count(h, "agent_log"), 2);
}

/* The report's typed rows: each query's selection and order, log records read back as rows
 * whatever their shape, and a query that cannot run. */
static void ev_at(AvmaHistory *h, gint64 t, const char *vm, const char *n, gint64 until) {
  g_autoptr(JsonObject) o = json_object_new();
  g_autofree char *ts = avma_time_format(t), *us = until ? avma_time_format(until) : g_strdup("");
  json_object_set_string_member(o, "time", ts);
  json_object_set_int_member(o, "event_id", 12310);
  json_object_set_string_member(o, "notification", n);
  json_object_set_string_member(o, "vm", vm);
  json_object_set_string_member(o, "vm_uuid", "");
  json_object_set_string_member(o, "guest_version", "2022");
  json_object_set_string_member(o, "guest_edition", "Standard");
  json_object_set_string_member(o, "granted_until", us);
  assert_true(avma_history_add_event(h, o, NULL, NULL));
}

static void test_typed_rows(void **state) {
  Fixture *f = *state;
  g_autoptr(AvmaHistory) h = avma_history_open_write(f->db, NULL);
  assert_non_null(h);
  const gint64 m = 1772323200;                                 /* 2026-03-01 */
  ev_at(h, m - 10 * 86400, "a", "AVMA Success", m + 86400);    /* superseded by the next */
  ev_at(h, m - 5 * 86400, "a", "AVMA Success", m + 2 * 86400); /* in force at m */
  ev_at(h, m - 4 * 86400, "b", "AVMA Success", m - 86400);     /* expired before m */
  ev_at(h, m - 3 * 86400, "c", "Activation Denied", 0);        /* not a grant */
  ev_at(h, m + 50, "b", "Invalid Host", 0);
  ev_at(h, m + 10, "b", "AVMA Success", m + 7 * 86400);          /* logged later, earlier time */
  ev_at(h, m + 40 * 86400, "b", "AVMA Success", m + 47 * 86400); /* after the period */

  g_autoptr(GError) err = NULL;
  AvmaHistoryEventRow e;
  AvmaHistoryRows *rows = avma_history_grants_in_force(h, m, &err);
  assert_true(avma_history_next_event(rows, &e));
  assert_string_equal(e.vm, "a");
  assert_int_equal(e.time, m - 5 * 86400);
  assert_int_equal(e.granted_until, m + 2 * 86400);
  assert_int_equal(e.notification, AVMA_NOTIFY_SUCCESS);
  assert_string_equal(e.guest_version, "2022");
  assert_false(avma_history_next_event(rows, &e));
  assert_true(avma_history_rows_finish(rows, &err));

  rows = avma_history_events_between(h, m, m + 31 * 86400, &err);
  assert_true(avma_history_next_event(rows, &e));
  assert_int_equal(e.time, m + 10); /* by time, not by record order */
  assert_true(avma_history_next_event(rows, &e));
  assert_int_equal(e.notification, AVMA_NOTIFY_INVALID_HOST);
  assert_int_equal(e.granted_until, 0);
  assert_string_equal(e.vm_uuid, "");
  assert_false(avma_history_next_event(rows, &e));
  assert_true(avma_history_rows_finish(rows, &err));

  assert_true(avma_history_add_vm_state(h, m - 1, "a", "", TRUE, "t", NULL));
  assert_true(avma_history_add_vm_state(h, m + 5, "a", "", FALSE, "t", NULL));
  AvmaHistoryStateRow s;
  rows = avma_history_states_before(h, m + 5, &err);
  assert_true(avma_history_next_state(rows, &s));
  assert_true(s.running);
  assert_false(avma_history_next_state(rows, &s));
  assert_true(avma_history_rows_finish(rows, &err));

  AvmaHostFacts hf = {"hv", "id", 2, 8, 2, 32, "sysfs"};
  assert_true(avma_history_record_host_facts(h, m, &hf, NULL));
  AvmaHistoryFactsRow fr;
  rows = avma_history_host_facts_all(h, &err);
  assert_true(avma_history_next_facts(rows, &fr));
  assert_string_equal(fr.facts.source, "sysfs");
  assert_int_equal(fr.facts.cpus, 32);
  assert_false(avma_history_next_facts(rows, &fr));
  assert_true(avma_history_rows_finish(rows, &err));

  /* Pending log records as rows: a mangled line is skipped, wrong types read as empty, an
   * unknown notification as -1, a time that does not parse as 0. */
  g_autofree char *lic = g_build_filename(f->dir, "licence-history.jsonl", NULL);
  append(f->log, "{\"time\":\"2026-03-02T00:00:00Z\",\"notification\":\"avma success\","
                 "\"vm\":7,\"vm_uuid\":null,\"guest_version\":2022,\"granted_until\":\"soon\"}\n"
                 "not json\n[1]\n"
                 "{\"time\":\"yesterday\",\"notification\":\"Invalid Data\",\"vm\":\"x\"}\n");
  append(lic, "{\"time\":\"2026-03-03T00:00:00Z\",\"event_id\":12311,\"version\":\"2022\","
              "\"edition\":\"Datacenter\",\"activated\":\"yes\",\"set_by\":{}}\n");
  rows = avma_history_pending_rows(h, AVMA_HISTORY_LOG_EVENTS, f->log, &err);
  assert_true(avma_history_next_event(rows, &e));
  assert_int_equal(e.time, m + 86400);
  assert_string_equal(e.vm, "");
  assert_string_equal(e.vm_uuid, "");
  assert_string_equal(e.guest_version, "");
  assert_int_equal(e.notification, -1);
  assert_int_equal(e.granted_until, 0);
  assert_true(avma_history_next_event(rows, &e));
  assert_int_equal(e.time, 0);
  assert_int_equal(e.notification, AVMA_NOTIFY_INVALID_DATA);
  assert_false(avma_history_next_event(rows, &e));
  assert_true(avma_history_rows_finish(rows, &err));
  AvmaHistoryLicenceRow l;
  rows = avma_history_pending_rows(h, AVMA_HISTORY_LOG_LICENCE, lic, &err);
  assert_true(avma_history_next_licence(rows, &l));
  assert_int_equal(l.time, m + 2 * 86400);
  assert_string_equal(l.version, "2022");
  assert_false(l.activated);
  assert_string_equal(l.set_by, "");
  assert_false(avma_history_next_licence(rows, &l));
  assert_true(avma_history_rows_finish(rows, &err));

  /* A query that cannot run: NULL with its error; finish then fails without touching it. */
  assert_int_equal(sqlite3_exec(avma_history_db(h), "DROP TABLE vm_facts", NULL, NULL, NULL),
                   SQLITE_OK);
  rows = avma_history_vcpus_all(h, &err);
  assert_null(rows);
  assert_non_null(err);
  AvmaHistoryVcpusRow v;
  assert_false(avma_history_next_vcpus(rows, &v));
  g_autoptr(GError) again = NULL;
  assert_false(avma_history_rows_finish(rows, &again));
  assert_null(again);
  g_clear_error(&err);
  /* A missing log has no pending rows. */
  g_autofree char *none = g_build_filename(f->dir, "missing.jsonl", NULL);
  rows = avma_history_pending_rows(h, AVMA_HISTORY_LOG_EVENTS, none, &err);
  assert_non_null(rows);
  assert_false(avma_history_next_event(rows, &e));
  assert_true(avma_history_rows_finish(rows, &err));
}

/* The store is in a directory the daemon's user owns and root's CLI opens it: a trigger or view
 * planted there must not run, and writable_schema is refused (SQLite's defensive mode). */
static int count_rows(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return -1;
  int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
  sqlite3_finalize(st);
  return n;
}

static void test_untrusted_store(void **state) {
  Fixture *f = *state;
  avma_history_close(avma_history_open_write(f->db, NULL));
  sqlite3 *raw = NULL;
  assert_int_equal(sqlite3_open(f->db, &raw), SQLITE_OK);
  assert_int_equal(sqlite3_exec(raw,
                                "CREATE TABLE loot(x);"
                                "CREATE TRIGGER planted AFTER INSERT ON events "
                                "BEGIN INSERT INTO loot VALUES (1); END;"
                                "CREATE VIEW peek AS SELECT count(*) FROM loot;",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(raw);

  g_autoptr(AvmaHistory) h = avma_history_open_write(f->db, NULL);
  assert_non_null(h);
  append_line(f->log, 1, "vm1", "AVMA Success");
  guint n = 0;
  assert_true(avma_history_sync_log(h, AVMA_HISTORY_LOG_EVENTS, f->log, &n, NULL));
  assert_int_equal(n, 1);
  sqlite3 *db = avma_history_db(h);
  assert_int_equal(count_rows(db, "SELECT count(*) FROM events"), 1);
  assert_int_equal(count_rows(db, "SELECT count(*) FROM loot"), 0); /* the trigger did not run */
  assert_int_equal(count_rows(db, "SELECT * FROM peek"), -1);       /* views are off */
  assert_int_not_equal(sqlite3_exec(db,
                                    "PRAGMA writable_schema=ON;"
                                    "UPDATE sqlite_schema SET sql = 'x' WHERE name = 'loot';",
                                    NULL, NULL, NULL),
                       SQLITE_OK);

  g_autoptr(AvmaHistory) r = avma_history_open_read(f->db, NULL);
  assert_non_null(r);
  assert_int_equal(count_rows(avma_history_db(r), "SELECT * FROM peek"), -1);
  assert_int_equal(count_rows(avma_history_db(r), "SELECT count(*) FROM events"), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sync_log, setup, teardown),
      cmocka_unit_test_setup_teardown(test_host_records, setup, teardown),
      cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
      cmocka_unit_test_setup_teardown(test_running_and_retention, setup, teardown),
      cmocka_unit_test_setup_teardown(test_meta_and_facts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_typed_rows, setup, teardown),
      cmocka_unit_test_setup_teardown(test_untrusted_store, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
