/* cli-license: `avma-host license set|show`. */
#include "cli.h"
#include "licence.h"
#include "timeutil.h"

#include <pwd.h>
#include <string.h>
#include <unistd.h>

int avma_cli_license_set(const AvmaCliGlobals *g, int argc, char **argv) {
  g_autofree char *ver = NULL, *ed = NULL, *key = NULL, *act = NULL;
  GOptionEntry e[] = {
      {"version", 0, 0, G_OPTION_ARG_STRING, &ver, "2012R2, 2016, 2019, 2022 or 2025", "V"},
      {"edition", 0, 0, G_OPTION_ARG_STRING, &ed, "Datacenter or Standard", "E"},
      {"key", 0, 0, G_OPTION_ARG_STRING, &key,
       "The host's product key (only its last five "
       "characters are kept)",
       "KEY"},
      {"activated", 0, 0, G_OPTION_ARG_STRING, &act, "yes or no", "yes|no"},
      {NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_cli_parse(e, &argc, &argv, &err))
    return avma_cli_fail("license set: %s", err->message), 2;
  if (argc > 1)
    return avma_cli_fail("license set: unexpected argument '%s'", argv[1]), 2;
  if (!ver || !ed || !act)
    return avma_cli_fail("license set: --version, --edition and --activated are required"), 2;
  AvmaLicence l = {0};
  if (!avma_version_parse(ver, &l.version) || !strcmp(ver, "1709") || !strcmp(ver, "1803") ||
      !strcmp(ver, "1809") || !strcmp(ver, "1903") || !strcmp(ver, "1909"))
    return avma_cli_fail(
               "license set: --version must be 2012R2, 2016, 2019, 2022 or 2025, not '%s'", ver),
           2;
  if (!avma_edition_parse(ed, &l.edition) ||
      (l.edition != AVMA_EDITION_DATACENTER && l.edition != AVMA_EDITION_STANDARD))
    return avma_cli_fail("license set: --edition must be Datacenter or Standard, not '%s'", ed), 2;
  if (!strcmp(act, "yes"))
    l.activated = TRUE;
  else if (strcmp(act, "no"))
    return avma_cli_fail("license set: --activated must be yes or no, not '%s'", act), 2;
  if (key) {
    char norm[64];
    if (!avma_key_normalise(key, norm, sizeof norm) || !avma_key_syntax_valid(norm))
      return avma_cli_fail(
                 "license set: '%s' is not a product key (five groups of five characters)", key),
             2;
    avma_key_last5(norm, l.key_last5);
  }
  l.set_at = avma_now();
  struct passwd *pw = getpwuid(getuid());
  l.set_by = g_strdup(pw ? pw->pw_name : "unknown");
  g_autoptr(AvmaHostConfig) c = avma_cli_config(g, &err);
  if (!c)
    return avma_cli_fail("%s", err->message);
  gboolean ok = avma_licence_save(c->state_dir, &l, c->journal, &err);
  avma_licence_clear(&l);
  if (!ok)
    return avma_cli_fail("license set: %s", err->message);
  printf("Host licence set: Windows Server %s %s, %s.\n", ver, ed,
         !strcmp(act, "yes") ? "activated" : "not activated");
  return 0;
}

int avma_cli_license_show(const AvmaCliGlobals *g, int argc, char **argv) {
  gboolean json = FALSE;
  GOptionEntry e[] = {{"json", 0, 0, G_OPTION_ARG_NONE, &json, "JSON output", NULL}, {NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_cli_parse(e, &argc, &argv, &err))
    return avma_cli_fail("license show: %s", err->message), 2;
  g_autoptr(AvmaHostConfig) c = avma_cli_config(g, &err);
  if (!c)
    return avma_cli_fail("%s", err->message);
  AvmaLicence l;
  if (!avma_licence_load(c->state_dir, &l, &err))
    return avma_cli_fail("license show: %s", err->message);
  g_autoptr(JsonObject) o = avma_licence_to_json(&l);
  if (json) {
    avma_cli_print_object(o);
  } else if (l.version == AVMA_VERSION_UNKNOWN) {
    printf("Host licence: not set (guests get Invalid Host).\n"
           "Set it with: avma-host license set --version V --edition E --activated yes\n");
  } else {
    g_autofree char *at = avma_time_format(l.set_at);
    printf("Host licence:    %s %s\n", avma_version_display(l.version),
           avma_edition_display(l.edition));
    printf("Activated:       %s\n", l.activated ? "yes" : "no");
    printf("Host key:        %s%s\n", *l.key_last5 ? "*****-*****-*****-*****-" : "(none)",
           l.key_last5);
    printf("Set:             %s by %s\n", at, l.set_by ? l.set_by : "?");
    printf("Activates guests: %s\n",
           json_object_get_boolean_member(o, "activates_guests")
               ? "yes, versions up to this one"
               : "no (only an activated Datacenter host activates guests)");
  }
  avma_licence_clear(&l);
  return 0;
}
