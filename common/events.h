/* events: 12309/12310 event records. One writer for the journal (structured fields) and the
 * append-only JSON-lines file; one reader for that file. */
#pragma once
#include <glib.h>
#include <json-glib/json-glib.h>

#include "policy.h"

#define AVMA_EVENT_GUEST 12309    /* guest: one per activation attempt */
#define AVMA_EVENT_HOST 12310     /* host: one per AVMA request */
#define AVMA_EVENT_LICENCE 12311  /* host: licence state changed (ours) */
#define AVMA_EVENT_VM_RUN 12312   /* host: a VM started or stopped running (ours) */
#define AVMA_EVENT_FACTS 12313    /* host: processor topology (ours) */
#define AVMA_EVENT_NOTE 12314     /* host: agent start/stop (ours) */
#define AVMA_EVENT_ROTATION 12315 /* host: host key rotated (ours) */

typedef enum { AVMA_JOURNAL_AUTO, AVMA_JOURNAL_YES, AVMA_JOURNAL_NO } AvmaJournalMode;
gboolean avma_journal_mode_parse(const char *s, AvmaJournalMode *out);

/* A new record: time (RFC 3339 UTC, now), event_id, and notification when n >= 0. Callers add
 * fields with json_object_set_string_member and friends. */
JsonObject *avma_event_new(int event_id, int notification);

typedef struct AvmaEventLog AvmaEventLog;
AvmaEventLog *avma_event_log_new(const char *path, AvmaJournalMode journal);
void avma_event_log_free(AvmaEventLog *log);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaEventLog, avma_event_log_free)
const char *avma_event_log_path(AvmaEventLog *log);

/* Durably append (the line is on disk when this returns TRUE) and send to the journal. `message`
 * is the journal's MESSAGE, for people reading journalctl. */
gboolean avma_event_log_append(AvmaEventLog *log, JsonObject *event, const char *message,
                               GError **error);

/* The same for a record its writer serialized itself (one JSON object, no newline), with its
 * journal fields ("AVMA_NAME=value" strings; may be NULL) beside MESSAGE, MESSAGE_ID (from
 * event_id) and PRIORITY (warning when `warning`, else info). For writers with their own field
 * table (the host's host-event.c). */
gboolean avma_event_log_append_line(AvmaEventLog *log, const char *line, int event_id,
                                    gboolean warning, const char *message, GPtrArray *fields,
                                    GError **error);

/* Only the journal's copy (the writer keeps the file itself, as host-agent/chainlog.c does). */
void avma_event_log_journal(AvmaEventLog *log, int event_id, gboolean warning, const char *message,
                            GPtrArray *fields);

/* Read every record of a JSON-lines file, oldest first. A missing file is an empty log. Lines
 * that are not JSON objects (a line cut by a crash) are skipped, counted in *skipped. */
GPtrArray *avma_event_log_read(const char *path, guint *skipped, GError **error);

/* Print records as one JSON array on stdout. */
void avma_events_print_json(GPtrArray *events);
