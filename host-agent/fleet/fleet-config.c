/* fleet-config: avma-fleet's settings table and the [host NAME] groups. */
#include "fleet-config.h"

#include <stddef.h>
#include <string.h>

#define F(member) offsetof(AvmaFleetConfig, member)
#define HOST_GROUP "host "

/* Every setting of fleet.conf but the [host NAME] groups; avma-fleet.conf(5) documents each with
 * its range and default (make check: settings-docs). */
static const AvmaSetting settings[] = {
    {"database", "conninfo", AVMA_SETTING_STRING, .def = "dbname=avma_fleet",
     .doc = "libpq connection string of the fleet database", .offset = F(conninfo)},
    {"trust", "root_key", AVMA_SETTING_STRING, .def = "",
     .doc = "Provider root public key that certifies host keys (empty: none)",
     .offset = F(root_key)},
    {"trust", "require_cert", AVMA_SETTING_BOOL, .def = "false",
     .doc = "A host seen for the first time must bring a certificate by the root key",
     .offset = F(require_cert)},
    {"ingest", "future_tolerance", AVMA_SETTING_INT, 0, 31 * 86400, "86400", .unit = "seconds",
     .doc = "How far a record's time may be ahead of the collector's clock",
     .offset = F(future_tolerance), .store = AVMA_STORE_I64},
    {"report", "min_cores_per_processor", AVMA_SETTING_INT, 0, 1024, "8",
     .doc = "Licensable cores counted at least per processor (socket)",
     .offset = F(min_cores_per_processor), .store = AVMA_STORE_UINT},
    {"report", "min_cores_per_server", AVMA_SETTING_INT, 0, 4096, "16",
     .doc = "Licensable cores counted at least per host", .offset = F(min_cores_per_server),
     .store = AVMA_STORE_UINT},
    {"report", "silent_after", AVMA_SETTING_INT, 3600, 365 * 86400, "172800", .unit = "seconds",
     .doc = "A host with no record for this long is reported silent", .offset = F(silent_after),
     .store = AVMA_STORE_I64},
    {"report", "signing_key", AVMA_SETTING_STRING, .def = AVMA_FLEET_DEFAULT_SIGNING_KEY,
     .doc = "Secret key that signs reports (report --sign; created by key create)",
     .offset = F(signing_key)},
    {"pull", "command", AVMA_SETTING_STRING, .def = AVMA_FLEET_DEFAULT_COMMAND,
     .doc = "Command whose standard output is a host's export bundle", .offset = F(pull_command)},
    {"pull", "timeout", AVMA_SETTING_INT, 1, 86400, "300", .unit = "seconds",
     .doc = "A pull command still running after this long is killed", .offset = F(pull_timeout),
     .store = AVMA_STORE_I64},
};

const AvmaSetting *avma_fleet_settings(size_t *n) {
  *n = G_N_ELEMENTS(settings);
  return settings;
}

static void host_free(gpointer p) {
  AvmaFleetHost *h = p;
  g_free(h->name);
  g_free(h->command);
  g_free(h);
}

void avma_fleet_config_free(AvmaFleetConfig *c) {
  if (!c)
    return;
  avma_settings_clear(settings, G_N_ELEMENTS(settings), c);
  g_ptr_array_unref(c->hosts);
  g_free(c);
}

static gboolean load_hosts(AvmaFleetConfig *c, GKeyFile *kf, const char *path, GError **error) {
  g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
  for (char **g = groups; *g; g++) {
    if (!g_str_has_prefix(*g, HOST_GROUP))
      continue;
    g_autofree char *name = g_strstrip(g_strdup(*g + strlen(HOST_GROUP)));
    /* The name ends up as one argument of a command: no room for surprises. */
    if (!*name || strpbrk(name, " \t'\"\\;|&$`")) {
      g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                  "%s: [%s]: a host name must be one word without quotes or shell characters", path,
                  *g);
      return FALSE;
    }
    AvmaFleetHost *h = g_new0(AvmaFleetHost, 1);
    h->name = g_steal_pointer(&name);
    h->command = g_key_file_get_string(kf, *g, "command", NULL);
    if (h->command && !*g_strstrip(h->command))
      g_clear_pointer(&h->command, g_free);
    g_ptr_array_add(c->hosts, h);
  }
  return TRUE;
}

AvmaFleetConfig *avma_fleet_config_load(const char *path, gboolean required, GError **error) {
  g_autoptr(AvmaFleetConfig) c = g_new0(AvmaFleetConfig, 1);
  c->hosts = g_ptr_array_new_with_free_func(host_free);
  g_autoptr(GKeyFile) kf =
      avma_settings_load(settings, G_N_ELEMENTS(settings), path, required, c, error);
  if (!kf || !load_hosts(c, kf, path, error))
    return NULL;
  if (c->root_key && !*c->root_key)
    g_clear_pointer(&c->root_key, g_free);
  return g_steal_pointer(&c);
}
