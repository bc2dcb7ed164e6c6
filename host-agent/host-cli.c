/* avma-host: the host administrator's tool. One function per verb. */
#include "events.h"
#include "host-config.h"
#include "licence.h"
#include "timeutil.h"

#include <gio/gio.h>
#include <locale.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  const char *config_path;
  const char *state_dir;
  const char *connect_uri;
} Globals;

static int fail(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static int fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("avma-host: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return 1;
}

static AvmaHostConfig *load_config(const Globals *g, GError **error) {
  return avma_host_config_load(g->config_path, g->state_dir, g->connect_uri, error);
}

static void print_json(JsonNode *node) {
  g_autofree char *s = json_to_string(node, TRUE);
  printf("%s\n", s);
}

/* Parse a verb's own options; argv[0] is the verb. */
static gboolean parse_verb(const char *verb, const char *params, GOptionEntry *entries, int *argc,
                           char ***argv, GError **error) {
  g_autofree char *title = g_strdup_printf("%s", params);
  g_autoptr(GOptionContext) ctx = g_option_context_new(title);
  g_autofree char *summary = g_strdup_printf("avma-host %s", verb);
  g_option_context_set_summary(ctx, summary);
  g_option_context_add_main_entries(ctx, entries, NULL);
  return g_option_context_parse(ctx, argc, argv, error);
}

static int verb_license_set(const Globals *g, int argc, char **argv) {
  g_autofree char *ver = NULL, *ed = NULL, *key = NULL, *act = NULL;
  GOptionEntry e[] = {
      {"version", 0, 0, G_OPTION_ARG_STRING, &ver, "2012R2, 2016, 2019, 2022 or 2025", "V"},
      {"edition", 0, 0, G_OPTION_ARG_STRING, &ed, "Datacenter or Standard", "E"},
      {"key", 0, 0, G_OPTION_ARG_STRING, &key, "The host's product key (only its last five "
                                               "characters are kept)", "KEY"},
      {"activated", 0, 0, G_OPTION_ARG_STRING, &act, "yes or no", "yes|no"},
      {NULL}};
  g_autoptr(GError) err = NULL;
  if (!parse_verb("license set", "--version V --edition E --activated yes|no [--key KEY]", e,
                  &argc, &argv, &err))
    return fail("license set: %s", err->message), 2;
  if (argc > 1)
    return fail("license set: unexpected argument '%s'", argv[1]), 2;
  if (!ver || !ed || !act)
    return fail("license set: --version, --edition and --activated are required"), 2;
  AvmaLicence l = {0};
  if (!avma_version_parse(ver, &l.version) || !strcmp(ver, "1709") || !strcmp(ver, "1803") ||
      !strcmp(ver, "1809") || !strcmp(ver, "1903") || !strcmp(ver, "1909"))
    return fail("license set: --version must be 2012R2, 2016, 2019, 2022 or 2025, not '%s'", ver),
           2;
  if (!avma_edition_parse(ed, &l.edition) ||
      (l.edition != AVMA_EDITION_DATACENTER && l.edition != AVMA_EDITION_STANDARD))
    return fail("license set: --edition must be Datacenter or Standard, not '%s'", ed), 2;
  if (!strcmp(act, "yes"))
    l.activated = TRUE;
  else if (strcmp(act, "no"))
    return fail("license set: --activated must be yes or no, not '%s'", act), 2;
  if (key) {
    char norm[64];
    if (!avma_key_normalise(key, norm, sizeof norm) || !avma_key_syntax_valid(norm))
      return fail("license set: '%s' is not a product key (five groups of five characters)", key),
             2;
    avma_key_last5(norm, l.key_last5);
  }
  l.set_at = avma_now();
  struct passwd *pw = getpwuid(getuid());
  l.set_by = g_strdup(pw ? pw->pw_name : "unknown");
  g_autoptr(AvmaHostConfig) c = load_config(g, &err);
  if (!c)
    return fail("%s", err->message);
  gboolean ok = avma_licence_save(c->state_dir, &l, c->journal, &err);
  avma_licence_clear(&l);
  if (!ok)
    return fail("license set: %s", err->message);
  printf("Host licence set: Windows Server %s %s, %s.\n", ver, ed,
         !strcmp(act, "yes") ? "activated" : "not activated");
  return 0;
}

static int verb_license_show(const Globals *g, int argc, char **argv) {
  gboolean json = FALSE;
  GOptionEntry e[] = {{"json", 0, 0, G_OPTION_ARG_NONE, &json, "JSON output", NULL}, {NULL}};
  g_autoptr(GError) err = NULL;
  if (!parse_verb("license show", "[--json]", e, &argc, &argv, &err))
    return fail("license show: %s", err->message), 2;
  g_autoptr(AvmaHostConfig) c = load_config(g, &err);
  if (!c)
    return fail("%s", err->message);
  AvmaLicence l;
  if (!avma_licence_load(c->state_dir, &l, &err))
    return fail("license show: %s", err->message);
  g_autoptr(JsonObject) o = avma_licence_to_json(&l);
  if (json) {
    g_autoptr(JsonNode) n = json_node_new(JSON_NODE_OBJECT);
    json_node_set_object(n, o);
    print_json(n);
  } else if (l.version == AVMA_VERSION_UNKNOWN) {
    printf("Host licence: not set (guests get Invalid Host).\n"
           "Set it with: avma-host license set --version V --edition E --activated yes\n");
  } else {
    g_autofree char *at = avma_time_format(l.set_at);
    printf("Host licence:    %s %s\n", avma_version_display(l.version),
           avma_edition_display(l.edition));
    printf("Activated:       %s\n", l.activated ? "yes" : "no");
    printf("Host key:        %s\n",
           *l.key_last5 ? g_strdup_printf("*****-*****-*****-*****-%s", l.key_last5) : "(none)");
    printf("Set:             %s by %s\n", at, l.set_by ? l.set_by : "?");
    printf("Activates guests: %s\n",
           json_object_get_boolean_member(o, "activates_guests")
               ? "yes, versions up to this one"
               : "no (only an activated Datacenter host activates guests)");
  }
  avma_licence_clear(&l);
  return 0;
}

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

static int verb_events(const Globals *g, int argc, char **argv) {
  gboolean json = FALSE;
  g_autofree char *since_s = NULL, *until_s = NULL, *vm = NULL, *notif = NULL;
  GOptionEntry e[] = {
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON array, oldest first", NULL},
      {"since", 0, 0, G_OPTION_ARG_STRING, &since_s, "From this time (RFC 3339 or YYYY-MM-DD)", "T"},
      {"until", 0, 0, G_OPTION_ARG_STRING, &until_s, "Before this time", "T"},
      {"vm", 0, 0, G_OPTION_ARG_STRING, &vm, "Only this VM (name or UUID)", "VM"},
      {"notification", 0, 0, G_OPTION_ARG_STRING, &notif, "Only this notification", "N"},
      {NULL}};
  g_autoptr(GError) err = NULL;
  if (!parse_verb("events", "[--since T] [--until T] [--vm VM] [--notification N] [--json]", e,
                  &argc, &argv, &err))
    return fail("events: %s", err->message), 2;
  gint64 since = 0, until = 0;
  if (since_s && !avma_time_parse_loose(since_s, &since))
    return fail("events: --since '%s' is not a time (use 2026-03-01 or 2026-03-01T00:00:00Z)",
                since_s), 2;
  if (until_s && !avma_time_parse_loose(until_s, &until))
    return fail("events: --until '%s' is not a time", until_s), 2;
  AvmaNotification n;
  if (notif && !avma_notification_parse(notif, &n))
    return fail("events: --notification must be one of 'AVMA Success', 'Invalid Host', "
                "'Invalid Data', 'Activation Denied'"), 2;
  g_autoptr(AvmaHostConfig) c = load_config(g, &err);
  if (!c)
    return fail("%s", err->message);
  g_autofree char *path = avma_host_state_path(c, "events.jsonl");
  guint skipped = 0;
  g_autoptr(GPtrArray) all = avma_event_log_read(path, &skipped, &err);
  if (!all)
    return fail("events: %s", err->message);
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

static void usage(FILE *f) {
  fprintf(f, "Usage: avma-host [--config FILE] [--state-dir DIR] [--connect URI] VERB ...\n"
             "Verbs:\n"
             "  license set --version {2012R2|2016|2019|2022|2025} --edition {Datacenter|Standard}\n"
             "              --activated {yes|no} [--key KEY]\n"
             "  license show [--json]\n"
             "  events [--since T] [--until T] [--vm NAME|UUID] [--notification N] [--json]\n");
}

int main(int argc, char **argv) {
  setlocale(LC_ALL, "");
  g_autofree char *config_path = NULL, *state_dir = NULL, *connect_uri = NULL;
  gboolean version = FALSE;
  GOptionEntry entries[] = {
      {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Configuration file", "FILE"},
      {"state-dir", 's', 0, G_OPTION_ARG_FILENAME, &state_dir, "State directory", "DIR"},
      {"connect", 0, 0, G_OPTION_ARG_STRING, &connect_uri, "libvirt URI", "URI"},
      {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL},
      {NULL}};
  g_autoptr(GOptionContext) ctx = g_option_context_new("VERB ...");
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_option_context_set_strict_posix(ctx, TRUE); /* options after the verb are the verb's */
  g_option_context_set_help_enabled(ctx, TRUE);
  g_autoptr(GError) err = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
    fprintf(stderr, "avma-host: %s\n", err->message);
    usage(stderr);
    return 2;
  }
  if (version) {
    printf("avma-host %s\n", AVMA_VERSION);
    return 0;
  }
  Globals g = {config_path, state_dir, connect_uri};
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *verb = argv[1];
  if (!strcmp(verb, "license") && argc >= 3 && !strcmp(argv[2], "set"))
    return verb_license_set(&g, argc - 2, argv + 2);
  if (!strcmp(verb, "license") && argc >= 3 && !strcmp(argv[2], "show"))
    return verb_license_show(&g, argc - 2, argv + 2);
  if (!strcmp(verb, "events"))
    return verb_events(&g, argc - 1, argv + 1);
  if (!strcmp(verb, "help")) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "avma-host: unknown verb '%s'\n", verb);
  usage(stderr);
  return 2;
}
