/* history: the host's queryable compliance history in SQLite (STATE/history.db): 12310 events,
 * VM run-state changes, licence changes, host and VM facts. One writer (avma-hostd), readers in
 * the CLI. The JSON-lines logs stay the append-only trail; the store imports what they hold. */
#pragma once
#include <glib.h>
#include <json-glib/json-glib.h>

#include "state-files.h" /* AVMA_HISTORY_FILE */

/* PRAGMA user_version after all migrations this build knows. */
#define AVMA_HISTORY_SCHEMA 1

typedef struct AvmaHistory AvmaHistory;

/* Open for writing: creates the file (mode 0640) and brings its schema up to date. WAL mode,
 * synchronous=FULL: a write is on disk when the call returns. */
AvmaHistory *avma_history_open_write(const char *path, GError **error);
/* Open read-only. A missing file is G_IO_ERROR_NOT_FOUND; a schema this build does not know
 * (older or newer) is an error too. */
AvmaHistory *avma_history_open_read(const char *path, GError **error);
/* A private in-memory store (tests, and reports when STATE/history.db does not exist yet). */
AvmaHistory *avma_history_open_memory(GError **error);
void avma_history_close(AvmaHistory *h);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaHistory, avma_history_close)
/* The raw SQLite handle is in history-db.h, for tests and tools only: SQL stays in history.c. */

/* Group writes into one transaction (bulk import, generators). Nestable. Each write outside a
 * group commits on its own; a write that fails inside a group rolls the whole group back. */
gboolean avma_history_begin(AvmaHistory *h, GError **error);
gboolean avma_history_commit(AvmaHistory *h, GError **error);

/* Small key/value facts about the store itself (alive_at, boot_id, log offsets). */
char *avma_history_meta_get(AvmaHistory *h, const char *key);
gboolean avma_history_meta_set(AvmaHistory *h, const char *key, const char *value, GError **error);

/* The last 12311 line the store imported from events.jsonl (NULL when none): the licence the
 * daemon last recorded. Caller frees. */
char *avma_history_chain_licence(AvmaHistory *h);

/* A 12310 record as logged (line: its JSON text; NULL to serialise ev). */
gboolean avma_history_add_event(AvmaHistory *h, JsonObject *ev, const char *line, GError **error);
/* A 12311 licence record as logged in licence-history.jsonl. */
gboolean avma_history_add_licence(AvmaHistory *h, JsonObject *rec, const char *line,
                                  GError **error);
/* The VM (uuid, else name, identifies it) started or stopped running here at `at`. */
gboolean avma_history_add_vm_state(AvmaHistory *h, gint64 at, const char *name, const char *uuid,
                                   gboolean running, const char *reason, GError **error);
/* Something about the agent itself (start, stop, import), for auditors reading gaps. */
gboolean avma_history_add_agent_note(AvmaHistory *h, gint64 at, const char *what,
                                     const char *detail, GError **error);

/* The host's processor topology as seen at `at`, and where it came from ("libvirt" for
 * virNodeGetInfo, "sysfs" or "sysconf" for the fallbacks). Recorded only when it differs from
 * the latest record (a change of source alone counts as a change). */
typedef struct {
  const char *hostname;
  const char *host_id;
  int sockets;
  int cores_per_socket;
  int threads_per_core;
  int cpus;
  const char *source;
} AvmaHostFacts;
gboolean avma_history_record_host_facts(AvmaHistory *h, gint64 at, const AvmaHostFacts *f,
                                        GError **error);
/* A VM's vCPU count (libvirt: virDomainGetInfo nrVirtCpu), recorded when it changes. */
gboolean avma_history_record_vm_vcpus(AvmaHistory *h, gint64 at, const char *name, const char *uuid,
                                      int vcpus, const char *source, GError **error);
/* The stable key of a VM: avma_vm_key (host.h), kept for the store's readers. Caller frees. */
char *avma_history_vm_key(const char *name, const char *uuid);

/* The JSON-lines logs the store mirrors. */
typedef enum { AVMA_HISTORY_LOG_EVENTS, AVMA_HISTORY_LOG_LICENCE } AvmaHistoryLog;
/* Import the lines of the log appended since the last sync (the whole file the first time, or
 * when it was replaced or truncated) in one transaction: each record of events.jsonl into the
 * table of its kind (12310 events, 12311 licence changes, 12312 VM states, 12313 host facts,
 * 12314 agent notes; others stay in the log only), a licence change already held (from the
 * other log) not again, remembering how far it got. A line cut
 * by a crash and glued to the next is recovered. *imported (may be NULL) counts new records. */
gboolean avma_history_sync_log(AvmaHistory *h, AvmaHistoryLog which, const char *path,
                               guint *imported, GError **error);
/* For readers: the records of the log the store does not hold yet (daemon stopped or behind),
 * oldest first (JsonObject*); of events.jsonl only the 12310 records. */
GPtrArray *avma_history_log_pending(AvmaHistory *h, AvmaHistoryLog which, const char *path,
                                    GError **error);

/* Filtered 12310 records, oldest first (JsonObject*). Zero times and NULL strings do not filter;
 * vm matches the name exactly or the UUID in any case; notification in any case. */
typedef struct {
  gint64 since; /* inclusive */
  gint64 until; /* exclusive */
  const char *vm;
  const char *notification;
} AvmaEventFilter;
GPtrArray *avma_history_events(AvmaHistory *h, const AvmaEventFilter *f, GError **error);
/* The same filter on one record read back (avma_host_event_from_json). */
typedef struct AvmaHostEvent AvmaHostEvent;
gboolean avma_event_filter_match(const AvmaEventFilter *f, const AvmaHostEvent *ev);

/* For `history verify`: every 12310 row, in store order, with its verbatim record and whether
 * its columns (those the report reads) are what that record says. fn returns FALSE to stop. */
typedef gboolean (*AvmaHistoryRecordFn)(const char *record, gboolean columns_match, gpointer user);
gboolean avma_history_check_events(AvmaHistory *h, AvmaHistoryRecordFn fn, gpointer user,
                                   GError **error);

/* VMs whose last recorded state is running: vm_key -> time of that record (gint64 in a
 * pointer-sized GINT_TO_POINTER is too small, so values are g_new'd gint64). */
GHashTable *avma_history_running_vms(AvmaHistory *h, GError **error);
/* Time of the latest 12310 record, 0 when none. */
gint64 avma_history_last_event_time(AvmaHistory *h);
/* The latest decision of every VM (not protocol-level records): avma_vm_key ->
 * AvmaHostEvent*. Caller unrefs. */
GHashTable *avma_history_last_decisions(AvmaHistory *h, GError **error);

/* ---- typed rows (the compliance report) ------------------------------------------------------
 * Each query below returns an iterator (NULL with error set when the query cannot start).
 * avma_history_next_* fills *row and returns TRUE, or FALSE at the end or on a failure;
 * avma_history_rows_finish then frees the iterator and says which (FALSE with error set on a
 * failure, or for a NULL iterator, whose error its query already set). A row's strings are
 * borrowed until the next call on the iterator, never NULL. */
typedef struct AvmaHistoryRows AvmaHistoryRows;
gboolean avma_history_rows_finish(AvmaHistoryRows *rows, GError **error);
void avma_history_rows_free(AvmaHistoryRows *rows);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaHistoryRows, avma_history_rows_free)

/* A 12310 record. */
typedef struct {
  gint64 time;
  const char *vm, *vm_uuid;
  int notification; /* AvmaNotification, -1 when this build does not know it */
  const char *guest_version, *guest_edition; /* "" when unknown */
  gint64 granted_until;                      /* 0: none */
} AvmaHistoryEventRow;
/* The VM started (running) or stopped running here. */
typedef struct {
  gint64 time;
  const char *vm, *vm_uuid;
  gboolean running;
} AvmaHistoryStateRow;
/* A 12311 licence change. */
typedef struct {
  gint64 time;
  const char *version, *edition, *set_by;
  gboolean activated;
} AvmaHistoryLicenceRow;
typedef struct {
  gint64 time;
  AvmaHostFacts facts;
} AvmaHistoryFactsRow;
typedef struct {
  gint64 time;
  const char *vm, *vm_uuid;
  int vcpus;
} AvmaHistoryVcpusRow;

/* 12310 rows: each VM's latest AVMA Success before `at` whose grant still holds at `at` (a
 * grant from before a period that matters to it), by record order. */
AvmaHistoryRows *avma_history_grants_in_force(AvmaHistory *h, gint64 at, GError **error);
/* 12310 rows with start <= time < end, oldest first (ties in record order). */
AvmaHistoryRows *avma_history_events_between(AvmaHistory *h, gint64 start, gint64 end,
                                             GError **error);
/* VM state rows before `end`, in record order. */
AvmaHistoryRows *avma_history_states_before(AvmaHistory *h, gint64 end, GError **error);
/* Licence rows before `end`, oldest first (ties in record order). */
AvmaHistoryRows *avma_history_licences_before(AvmaHistory *h, gint64 end, GError **error);
/* Every host facts row, and every vCPU row, in record order. */
AvmaHistoryRows *avma_history_host_facts_all(AvmaHistory *h, GError **error);
AvmaHistoryRows *avma_history_vcpus_all(AvmaHistory *h, GError **error);
/* The records of a log the store does not hold yet (avma_history_log_pending) as rows: 12310
 * rows for AVMA_HISTORY_LOG_EVENTS, licence rows for AVMA_HISTORY_LOG_LICENCE. */
AvmaHistoryRows *avma_history_pending_rows(AvmaHistory *h, AvmaHistoryLog which, const char *path,
                                           GError **error);

/* The VM run edges (12312) and host facts (12313) of events.jsonl the store does not hold yet,
 * as state and facts rows. (Its 12311 records are left out: licence-history.jsonl's pending rows
 * hold the same changes, and a report counts each once.) */
AvmaHistoryRows *avma_history_pending_states(AvmaHistory *h, const char *events_log,
                                             GError **error);
AvmaHistoryRows *avma_history_pending_facts(AvmaHistory *h, const char *events_log, GError **error);

/* Each reads the rows of its own kind (a mismatch is a programming error: FALSE). */
gboolean avma_history_next_event(AvmaHistoryRows *rows, AvmaHistoryEventRow *row);
gboolean avma_history_next_state(AvmaHistoryRows *rows, AvmaHistoryStateRow *row);
gboolean avma_history_next_licence(AvmaHistoryRows *rows, AvmaHistoryLicenceRow *row);
gboolean avma_history_next_facts(AvmaHistoryRows *rows, AvmaHistoryFactsRow *row);
gboolean avma_history_next_vcpus(AvmaHistoryRows *rows, AvmaHistoryVcpusRow *row);

/* Retention: delete at most max_rows rows older than cutoff per call; *done when nothing is
 * left to delete. The last state of each VM still running, and the latest licence and facts,
 * are kept whatever their age: later months need them. */
gboolean avma_history_prune_step(AvmaHistory *h, gint64 cutoff, guint max_rows, gboolean *done,
                                 GError **error);
/* Start of the UTC month `months` months before the one holding now. */
gint64 avma_history_retention_cutoff(gint64 now, guint months);
