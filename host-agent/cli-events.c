/* cli-events: `avma-host events`, the 12310 history. */
#include "cli.h"
#include "events.h"
#include "timeutil.h"

#include <string.h>

static gboolean event_matches(JsonObject *ev, gint64 since, gint64 until, const char *vm,
                              const char *notification) {
  const char *t = json_object_get_string_member_with_default(ev, "time", "");
  gint64 ts = 0;
  if ((since || until) && !avma_time_parse(t, &ts))
    return FALSE;
  if (since && ts < since)
    return FALSE;
  if (until && ts >= until)
    return FALSE;
  if (vm && g_strcmp0(json_object_get_string_member_with_default(ev, "vm", ""), vm) &&
      g_ascii_strcasecmp(json_object_get_string_member_with_default(ev, "vm_uuid", ""), vm))
    return FALSE;
  if (notification &&
      g_ascii_strcasecmp(json_object_get_string_member_with_default(ev, "notification", ""),
                         notification))
    return FALSE;
  return TRUE;
}

int avma_cli_events(const AvmaCliGlobals *g, int argc, char **argv) {
  gboolean json = FALSE;
  g_autofree char *since_s = NULL, *until_s = NULL, *vm = NULL, *notif = NULL;
  GOptionEntry e[] = {
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON array, oldest first", NULL},
      {"since", 0, 0, G_OPTION_ARG_STRING, &since_s, "From this time (RFC 3339 or YYYY-MM-DD)",
       "T"},
      {"until", 0, 0, G_OPTION_ARG_STRING, &until_s, "Before this time", "T"},
      {"vm", 0, 0, G_OPTION_ARG_STRING, &vm, "Only this VM (name or UUID)", "VM"},
      {"notification", 0, 0, G_OPTION_ARG_STRING, &notif, "Only this notification", "N"},
      {NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_cli_parse("events", "[--since T] [--until T] [--vm VM] [--notification N] [--json]", e,
                      &argc, &argv, &err))
    return avma_cli_fail("events: %s", err->message), 2;
  gint64 since = 0, until = 0;
  if (since_s && !avma_time_parse_loose(since_s, &since))
    return avma_cli_fail(
               "events: --since '%s' is not a time (use 2026-03-01 or 2026-03-01T00:00:00Z)",
               since_s),
           2;
  if (until_s && !avma_time_parse_loose(until_s, &until))
    return avma_cli_fail("events: --until '%s' is not a time", until_s), 2;
  AvmaNotification n;
  if (notif && !avma_notification_parse(notif, &n))
    return avma_cli_fail("events: --notification must be one of 'AVMA Success', 'Invalid Host', "
                         "'Invalid Data', 'Activation Denied'"),
           2;
  g_autoptr(AvmaHostConfig) c = avma_cli_config(g, &err);
  if (!c)
    return avma_cli_fail("%s", err->message);
  g_autofree char *path = avma_host_state_path(c, "events.jsonl");
  guint skipped = 0;
  g_autoptr(GPtrArray) all = avma_event_log_read(path, &skipped, &err);
  if (!all)
    return avma_cli_fail("events: %s", err->message);
  if (skipped)
    fprintf(stderr, "avma-host: warning: %u unreadable line(s) in %s skipped\n", skipped, path);
  g_autoptr(GPtrArray) sel = g_ptr_array_new();
  for (guint i = 0; i < all->len; i++)
    if (event_matches(all->pdata[i], since, until, vm, notif))
      g_ptr_array_add(sel, all->pdata[i]);
  if (json) {
    avma_events_print_json(sel);
    return 0;
  }
  if (sel->len == 0) {
    printf("No events.\n");
    return 0;
  }
  printf("%-20s  %-5s  %-17s  %-16s  %-14s  %-5s  %s\n", "TIME", "ID", "NOTIFICATION", "VM",
         "GUEST", "KEY", "REASON");
  for (guint i = 0; i < sel->len; i++) {
    JsonObject *ev = sel->pdata[i];
    g_autofree char *guest = g_strdup_printf(
        "%s %s", json_object_get_string_member_with_default(ev, "guest_version", ""),
        json_object_get_string_member_with_default(ev, "guest_edition", ""));
    printf("%-20s  %-5" G_GINT64_FORMAT "  %-17s  %-16s  %-14s  %-5s  %s\n",
           json_object_get_string_member_with_default(ev, "time", ""),
           json_object_get_int_member_with_default(ev, "event_id", 0),
           json_object_get_string_member_with_default(ev, "notification", ""),
           json_object_get_string_member_with_default(ev, "vm", ""), g_strstrip(guest),
           json_object_get_string_member_with_default(ev, "key_last5", ""),
           json_object_get_string_member_with_default(ev, "reason", ""));
  }
  return 0;
}
