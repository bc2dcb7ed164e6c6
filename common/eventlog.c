/* eventlog: the event log's writer, for records serialized by their writer: the append-only
 * JSON-lines file and the systemd journal. Apart from events.c's JSON objects, so that a program
 * that serializes its records itself (avma-guestd, through the portable core) links no
 * json-glib. */
#include "events.h"

#include "fsutil.h"

#include <string.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

/* Stable MESSAGE_IDs per event kind, so journalctl MESSAGE_ID= queries work across a fleet. */
#define MSGID_12309 "7a1c3d0e5b9f4c21a8e6f40b2d9c1e09"
#define MSGID_12310 "7a1c3d0e5b9f4c21a8e6f40b2d9c1e10"
#define MSGID_12311 "7a1c3d0e5b9f4c21a8e6f40b2d9c1e11"
#define MSGID_12312 "7a1c3d0e5b9f4c21a8e6f40b2d9c1e12"
#define MSGID_12313 "7a1c3d0e5b9f4c21a8e6f40b2d9c1e13"
#define MSGID_12314 "7a1c3d0e5b9f4c21a8e6f40b2d9c1e14"
#define MSGID_12315 "7a1c3d0e5b9f4c21a8e6f40b2d9c1e15"

struct AvmaEventLog {
  char *path;
  gboolean journal;
};

gboolean avma_journal_mode_parse(const char *s, AvmaJournalMode *out) {
  if (!g_strcmp0(s, "auto"))
    *out = AVMA_JOURNAL_AUTO;
  else if (!g_strcmp0(s, "yes") || !g_strcmp0(s, "true"))
    *out = AVMA_JOURNAL_YES;
  else if (!g_strcmp0(s, "no") || !g_strcmp0(s, "false"))
    *out = AVMA_JOURNAL_NO;
  else
    return FALSE;
  return TRUE;
}

AvmaEventLog *avma_event_log_new(const char *path, AvmaJournalMode journal) {
  AvmaEventLog *log = g_new0(AvmaEventLog, 1);
  log->path = g_strdup(path);
  log->journal = journal == AVMA_JOURNAL_YES ||
                 (journal == AVMA_JOURNAL_AUTO && access("/run/systemd/journal/socket", W_OK) == 0);
  return log;
}

void avma_event_log_free(AvmaEventLog *log) {
  if (!log)
    return;
  g_free(log->path);
  g_free(log);
}

const char *avma_event_log_path(AvmaEventLog *log) {
  return log->path;
}

/* The fields every record starts with in the journal; the caller adds its own AVMA_* ones. */
static GPtrArray *journal_head(gint64 id, gboolean warning, const char *message) {
  const char *msgid = id == AVMA_EVENT_GUEST      ? MSGID_12309
                      : id == AVMA_EVENT_HOST     ? MSGID_12310
                      : id == AVMA_EVENT_VM_RUN   ? MSGID_12312
                      : id == AVMA_EVENT_FACTS    ? MSGID_12313
                      : id == AVMA_EVENT_NOTE     ? MSGID_12314
                      : id == AVMA_EVENT_ROTATION ? MSGID_12315
                                                  : MSGID_12311;
  GPtrArray *fields = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(fields, g_strdup_printf("MESSAGE=%s", message));
  g_ptr_array_add(fields, g_strdup_printf("MESSAGE_ID=%s", msgid));
  g_ptr_array_add(fields, g_strdup_printf("PRIORITY=%d", warning ? 4 : 6));
  g_ptr_array_add(fields, g_strdup("SYSLOG_IDENTIFIER=avma"));
  return fields;
}

static void send_fields(GPtrArray *fields) {
  struct iovec *iov = g_new0(struct iovec, fields->len);
  for (guint i = 0; i < fields->len; i++) {
    iov[i].iov_base = fields->pdata[i];
    iov[i].iov_len = strlen(fields->pdata[i]);
  }
  /* Best effort: the JSON-lines file is the durable record, the journal a copy for shipping. */
  (void)sd_journal_sendv(iov, (int)fields->len);
  g_free(iov);
}

void avma_event_log_journal(AvmaEventLog *log, int event_id, gboolean warning, const char *message,
                            GPtrArray *fields) {
  if (!log->journal)
    return;
  g_autoptr(GPtrArray) all = journal_head(event_id, warning, message);
  for (guint i = 0; fields && i < fields->len; i++)
    g_ptr_array_add(all, g_strdup(fields->pdata[i]));
  send_fields(all);
}

gboolean avma_event_log_append_line(AvmaEventLog *log, const char *line, int event_id,
                                    gboolean warning, const char *message, GPtrArray *fields,
                                    GError **error) {
  if (!avma_append_line(log->path, line, 0640, error))
    return FALSE;
  avma_event_log_journal(log, event_id, warning, message, fields);
  return TRUE;
}
