/* events: 12309/12310 event records to the journal and an append-only JSON-lines file. */
#include "events.h"

#include "fsutil.h"
#include "timeutil.h"

#include <stdio.h>
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

/* The members every record starts with. The guest's 12309 records are written here; the host's
 * come from host-agent/host-event.c's field table, which has the same names. */
#define M_TIME "time"                 /* event-field-ok: the generic writer */
#define M_EVENT_ID "event_id"         /* event-field-ok: the generic writer */
#define M_NOTIFICATION "notification" /* event-field-ok: the generic writer */

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

JsonObject *avma_event_new(int event_id, int notification) {
  JsonObject *o = json_object_new();
  g_autofree char *now = avma_time_format(avma_now());
  json_object_set_string_member(o, M_TIME, now);
  json_object_set_int_member(o, M_EVENT_ID, event_id);
  if (notification >= 0)
    json_object_set_string_member(o, M_NOTIFICATION,
                                  avma_notification_name((AvmaNotification)notification));
  return o;
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

static void send_journal(JsonObject *ev, const char *message) {
  gint64 id = json_object_get_int_member_with_default(ev, M_EVENT_ID, 0);
  const char *n = json_object_get_string_member_with_default(ev, M_NOTIFICATION, NULL);
  g_autoptr(GPtrArray) fields = journal_head(id, n && strcmp(n, "AVMA Success"), message);
  /* Every JSON member becomes AVMA_<UPPER> so journal queries see the same facts. */
  g_autoptr(GList) members = json_object_get_members(ev);
  for (GList *l = members; l; l = l->next) {
    JsonNode *node = json_object_get_member(ev, l->data);
    if (!JSON_NODE_HOLDS_VALUE(node))
      continue;
    g_autofree char *up = g_ascii_strup(l->data, -1);
    GValue v = G_VALUE_INIT;
    json_node_get_value(node, &v);
    g_autofree char *s =
        G_VALUE_HOLDS_STRING(&v) ? g_value_dup_string(&v) : g_strdup_value_contents(&v);
    g_value_unset(&v);
    g_ptr_array_add(fields, g_strdup_printf("AVMA_%s=%s", up, s));
  }
  send_fields(fields);
}

gboolean avma_event_log_append(AvmaEventLog *log, JsonObject *event, const char *message,
                               GError **error) {
  g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
  json_node_set_object(node, event);
  g_autofree char *line = json_to_string(node, FALSE);
  if (!avma_append_line(log->path, line, 0640, error))
    return FALSE;
  if (log->journal)
    send_journal(event, message);
  return TRUE;
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

GPtrArray *avma_event_log_read(const char *path, guint *skipped, GError **error) {
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)json_object_unref);
  if (skipped)
    *skipped = 0;
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr(GError) local = NULL;
  if (!g_file_get_contents(path, &data, &len, &local)) {
    if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      return out;
    g_propagate_error(error, g_steal_pointer(&local));
    g_ptr_array_unref(out);
    return NULL;
  }
  g_auto(GStrv) lines = g_strsplit(data, "\n", -1);
  g_autoptr(JsonParser) parser = json_parser_new();
  for (char **l = lines; *l; l++) {
    if (!**l)
      continue;
    /* A blank line parses to no root at all (found by fuzz-eventlog). */
    JsonNode *root = NULL;
    if (!json_parser_load_from_data(parser, *l, -1, NULL) ||
        !(root = json_parser_get_root(parser)) || !JSON_NODE_HOLDS_OBJECT(root)) {
      if (skipped)
        (*skipped)++;
      continue;
    }
    g_ptr_array_add(out, json_object_ref(json_node_get_object(root)));
  }
  return out;
}

void avma_events_print_json(GPtrArray *events) {
  g_autoptr(JsonArray) arr = json_array_new();
  for (guint i = 0; i < events->len; i++)
    json_array_add_object_element(arr, json_object_ref(events->pdata[i]));
  g_autoptr(JsonNode) node = json_node_new(JSON_NODE_ARRAY);
  json_node_set_array(node, arr);
  g_autofree char *s = json_to_string(node, TRUE);
  printf("%s\n", s);
}
