/* events: 12309/12310 event records as JSON objects: built, written through the event log
 * (eventlog.c: the JSON-lines file and the journal), read back. */
#include "events.h"

#include "timeutil.h"

#include <stdio.h>
#include <string.h>

/* The members every record starts with. The guest's 12309 records are written here; the host's
 * come from host-agent/host-event.c's field table, which has the same names. */
#define M_TIME "time"                 /* event-field-ok: the generic writer */
#define M_EVENT_ID "event_id"         /* event-field-ok: the generic writer */
#define M_NOTIFICATION "notification" /* event-field-ok: the generic writer */

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

/* Every JSON member becomes AVMA_<UPPER> in the journal, so journal queries see the same facts. */
static GPtrArray *journal_fields(JsonObject *ev) {
  GPtrArray *fields = g_ptr_array_new_with_free_func(g_free);
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
  return fields;
}

gboolean avma_event_log_append(AvmaEventLog *log, JsonObject *event, const char *message,
                               GError **error) {
  g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
  json_node_set_object(node, event);
  g_autofree char *line = json_to_string(node, FALSE);
  gint64 id = json_object_get_int_member_with_default(event, M_EVENT_ID, 0);
  const char *n = json_object_get_string_member_with_default(event, M_NOTIFICATION, NULL);
  g_autoptr(GPtrArray) fields = journal_fields(event);
  return avma_event_log_append_line(log, line, (int)id, n && strcmp(n, "AVMA Success"), message,
                                    fields, error);
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
