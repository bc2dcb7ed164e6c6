/* cli-events: `avma-host events`, the 12310 history: from the history store (plus what the
 * daemon has not imported yet), or from events.jsonl when there is no store. */
#include "cli.h"
#include "events.h"
#include "history.h"
#include "host-event.h"
#include "timeutil.h"

#include <string.h>

static gboolean match(const AvmaEventFilter *f, JsonObject *o) {
  g_auto(AvmaHostEvent) ev;
  avma_host_event_from_json(o, &ev);
  return avma_event_filter_match(f, &ev);
}

/* Every matching record, oldest first, as logged (`--json` prints them so). */
static GPtrArray *load_events(const AvmaHostConfig *c, const char *path, const AvmaEventFilter *f,
                              GError **error) {
  g_autofree char *db = avma_host_state_path(c, AVMA_HISTORY_FILE);
  g_autoptr(GError) local = NULL;
  g_autoptr(AvmaHistory) h = avma_history_open_read(db, &local);
  if (h) {
    GPtrArray *sel = avma_history_events(h, f, error);
    if (!sel)
      return NULL;
    /* Lines the daemon has not imported (it is stopped, or behind): the log is complete. */
    g_autoptr(GPtrArray) pending =
        avma_history_log_pending(h, AVMA_HISTORY_LOG_EVENTS, path, error);
    if (!pending) {
      g_ptr_array_unref(sel);
      return NULL;
    }
    for (guint i = 0; i < pending->len; i++)
      if (match(f, pending->pdata[i]))
        g_ptr_array_add(sel, json_object_ref(pending->pdata[i]));
    return sel;
  }
  if (!g_error_matches(local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    fprintf(stderr, "avma-host: warning: %s; reading %s instead\n", local->message, path);
  guint skipped = 0;
  g_autoptr(GPtrArray) all = avma_event_log_read(path, &skipped, error);
  if (!all)
    return NULL;
  if (skipped)
    fprintf(stderr, "avma-host: warning: %u unreadable line(s) in %s skipped\n", skipped, path);
  GPtrArray *sel = g_ptr_array_new_with_free_func((GDestroyNotify)json_object_unref);
  for (guint i = 0; i < all->len; i++)
    if (match(f, all->pdata[i]))
      g_ptr_array_add(sel, json_object_ref(all->pdata[i]));
  return sel;
}

int avma_cli_events(const AvmaCliGlobals *g, int argc, char **argv) {
  gboolean json = FALSE;
  g_autofree char *since_s = NULL, *until_s = NULL, *vm = NULL, *notif = NULL;
  GOptionEntry e[] = {
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON array, oldest first", NULL},
      {"since", 0, 0, G_OPTION_ARG_STRING, &since_s, "From this time (RFC 3339 or YYYY-MM-DD)",
       "T"},
      {"until", 0, 0, G_OPTION_ARG_STRING, &until_s, "Before this time", "T"},
      /* event-field-ok: the options are named after the members they filter on */
      {"vm", 0, 0, G_OPTION_ARG_STRING, &vm, "Only this VM (name or UUID)", "VM"},
      /* event-field-ok: as above */
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
  AvmaEventFilter f = {since, until, vm, notif};
  g_autoptr(GPtrArray) sel = load_events(c, path, &f, &err);
  if (!sel)
    return avma_cli_fail("events: %s", err->message);
  if (json) {
    avma_events_print_json(sel);
    return 0;
  }
  if (sel->len == 0) {
    printf("No events.\n");
    return 0;
  }
  printf("%-20s  %-5s  %-17s  %-16s  %-17s  %-5s  %s\n", "TIME", "ID", "NOTIFICATION", "VM",
         "GUEST", "KEY", "REASON");
  for (guint i = 0; i < sel->len; i++) {
    g_auto(AvmaHostEvent) ev;
    avma_host_event_from_json(sel->pdata[i], &ev);
    g_autofree char *time = avma_host_event_time_text(ev.time);
    g_autofree char *guest_raw = g_strdup_printf("%s %s", ev.guest_version ? ev.guest_version : "",
                                                 ev.guest_edition ? ev.guest_edition : "");
    g_autofree char *guest = avma_cli_safe(g_strstrip(guest_raw));
    g_autofree char *vm_name = avma_cli_safe(ev.vm);
    g_autofree char *key = avma_cli_safe(ev.key_last5);
    g_autofree char *reason = avma_cli_safe(ev.reason_text);
    printf("%-20s  %-5" G_GINT64_FORMAT "  %-17s  %-16s  %-17s  %-5s  %s\n", time, ev.event_id,
           avma_host_event_notification_text(&ev), vm_name, guest, key, reason);
  }
  return 0;
}
