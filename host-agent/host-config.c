/* host-config: avma-hostd / avma-host settings. */
#include "host-config.h"
#include "settings.h"
#include "state-files.h"

#include <gio/gio.h>
#include <stddef.h>
#include <string.h>

static void channel_spec_free(gpointer p) {
  AvmaChannelSpec *s = p;
  g_free(s->name);
  g_free(s->path);
  g_free(s);
}

void avma_host_config_free(AvmaHostConfig *c) {
  if (!c)
    return;
  size_t n;
  const AvmaSetting *table = avma_host_settings(&n);
  avma_settings_clear(table, n, c);
  g_ptr_array_unref(c->channels);
  g_free(c);
}

/* VMNAME=SOCKETPATH, split at the last "=/": the path must be absolute (a relative one would
 * depend on the daemon's working directory), so a name may contain '=' itself. */
gboolean avma_host_config_add_channel(AvmaHostConfig *c, const char *spec, GError **error) {
  const char *eq = g_strrstr(spec, "=/");
  if (!eq) {
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                strchr(spec, '=') ? "channel '%s': the socket path must be absolute"
                                  : "channel '%s' must be VMNAME=/ABSOLUTE/SOCKET/PATH",
                spec);
    return FALSE;
  }
  if (eq == spec) {
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "channel '%s' has no VM name before '='", spec);
    return FALSE;
  }
  AvmaChannelSpec *s = g_new0(AvmaChannelSpec, 1);
  s->name = g_strndup(spec, (gsize)(eq - spec));
  s->path = g_strdup(eq + 1);
  g_ptr_array_add(c->channels, s);
  return TRUE;
}

static gboolean parse_journal(const char *text, void *field) {
  return avma_journal_mode_parse(text, field);
}

#define F(member) offsetof(AvmaHostConfig, member)
#define TEN_YEARS (10LL * 365 * 24 * 3600)
/* Every setting of host.conf but [channels] (free-form VM names); avma-host.conf(5) documents
 * each with its range and default (make check: state-files' neighbour, settings-docs). */
static const AvmaSetting settings[] = {
    {"host", "state_dir", AVMA_SETTING_STRING, .def = AVMA_HOST_DEFAULT_STATE,
     .doc = "State directory: licence, host identity, event history", .offset = F(state_dir)},
    {"host", "connect", AVMA_SETTING_STRING, .def = "qemu:///system", .def_computed = TRUE,
     .doc = "libvirt connection URI (default: libvirt's own)", .offset = F(connect_uri)},
    {"host", "validity", AVMA_SETTING_INT, 1, TEN_YEARS, "604800", .unit = "seconds",
     .doc = "Validity granted to a guest on AVMA Success", .offset = F(validity),
     .store = AVMA_STORE_I64},
    {"host", "ensure_channel", AVMA_SETTING_BOOL, .def = "false",
     .doc = "Add the AVMA channel to every defined domain that lacks it",
     .offset = F(ensure_channel)},
    {"host", "journal", AVMA_SETTING_CHOICE, .def = "auto", .choices = "auto|yes|no",
     .doc = "Send events to the systemd journal too", .offset = F(journal), .parse = parse_journal},
    /* Events can be missed (a libvirtd restart while a VM stopped, a lost event): a full listing
     * repairs the view and the run intervals. Each one costs one call per domain. */
    {"libvirt", "reconcile_interval", AVMA_SETTING_INT, 5, 86400, "180", .unit = "seconds",
     .doc = "Full listing of the domains every this often, repairing missed events",
     .offset = F(reconcile_interval_s), .store = AVMA_STORE_UINT},
    {"limits", "requests_per_second", AVMA_SETTING_INT, 1, 100000, "10",
     .doc = "Sustained requests per second per channel", .offset = F(rate_per_sec),
     .store = AVMA_STORE_DOUBLE},
    {"limits", "request_burst", AVMA_SETTING_INT, 1, 100000, "20",
     .doc = "Burst size of that rate limit", .offset = F(rate_burst), .store = AVMA_STORE_DOUBLE},
    {"limits", "frame_deadline_ms", AVMA_SETTING_INT, 100, 600000, "5000", .unit = "ms",
     .doc = "A started frame must be complete within this", .offset = F(frame_deadline_ms),
     .store = AVMA_STORE_UINT},
    {"limits", "max_records", AVMA_SETTING_INT, 1, 1024, "64",
     .doc = "Records kept per VM and pool", .offset = F(max_records), .store = AVMA_STORE_UINT},
    {"limits", "reconnect_max_ms", AVMA_SETTING_INT, 100, 3600000, "10000", .unit = "ms",
     .doc = "Back-off cap when a channel socket or libvirt is gone", .offset = F(reconnect_max_ms),
     .store = AVMA_STORE_UINT},
    /* At least one maximum frame, so any single reply can always be queued. */
    {"limits", "max_queued_bytes", AVMA_SETTING_INT, 65536, 64 * 1024 * 1024, "262144",
     .unit = "bytes", .doc = "Bytes of answers queued for a guest that does not read them",
     .offset = F(max_queued), .store = AVMA_STORE_SIZE},
    {"limits", "activations_per_minute", AVMA_SETTING_INT, 1, 100000, "12",
     .doc = "Sustained ACTIVATE requests per minute per channel", .offset = F(activations_per_min),
     .store = AVMA_STORE_DOUBLE},
    {"limits", "activation_burst", AVMA_SETTING_INT, 1, 100000, "30",
     .doc = "Burst size of that rate limit", .offset = F(activation_burst),
     .store = AVMA_STORE_DOUBLE},
    {"history", "retention_months", AVMA_SETTING_INT, 1, 1200, "25",
     .doc = "Whole months of history kept before the current one",
     .offset = F(history_retention_months), .store = AVMA_STORE_UINT},
    {"history", "confirm_running_within", AVMA_SETTING_INT, 1, 86400, "60", .unit = "seconds",
     .doc = "A VM running again this soon after a restart ran throughout",
     .offset = F(history_confirm_s), .store = AVMA_STORE_UINT},
    {"history", "checkpoint_records", AVMA_SETTING_INT, 1, 10000000, "1000",
     .doc = "Sign the record log's head every this many records", .offset = F(checkpoint_records),
     .store = AVMA_STORE_UINT},
    {"history", "checkpoint_interval", AVMA_SETTING_INT, 1, 7 * 86400, "3600", .unit = "seconds",
     .doc = "...or after this long, whichever comes first", .offset = F(checkpoint_interval_s),
     .store = AVMA_STORE_UINT},
    {"history", "commit_thread", AVMA_SETTING_BOOL, .def = "false",
     .doc = "Run the record log's fdatasync on a writer thread (measured: no gain here)",
     .offset = F(commit_thread)},
    /* Beside the rest of the state by default: the unit lets the daemon write nowhere else. */
    {"metrics", "textfile", AVMA_SETTING_STRING, .def = "STATE/" AVMA_METRICS_FILE,
     .def_computed = TRUE, .doc = "Prometheus textfile; empty: none",
     .offset = F(metrics_textfile)},
};

const AvmaSetting *avma_host_settings(size_t *n) {
  *n = G_N_ELEMENTS(settings);
  return settings;
}

AvmaHostConfig *avma_host_config_load(const char *config_path, const char *state_dir,
                                      const char *connect_uri, GError **error) {
  g_autoptr(AvmaHostConfig) c = g_new0(AvmaHostConfig, 1);
  c->channels = g_ptr_array_new_with_free_func(channel_spec_free);
  const char *path = config_path ? config_path : AVMA_HOST_DEFAULT_CONFIG;
  g_autoptr(GKeyFile) kf =
      avma_settings_load(settings, G_N_ELEMENTS(settings), path, config_path != NULL, c, error);
  if (!kf)
    return NULL;
  /* The command line wins over the file. */
  avma_settings_override(&c->state_dir, state_dir);
  avma_settings_override(&c->connect_uri, connect_uri);
  if (!c->metrics_textfile)
    c->metrics_textfile = g_build_filename(c->state_dir, AVMA_METRICS_FILE, NULL);

  g_auto(GStrv) names = g_key_file_get_keys(kf, "channels", NULL, NULL);
  for (char **n = names; n && *n; n++) {
    g_autofree char *p = g_key_file_get_string(kf, "channels", *n, NULL);
    g_autofree char *spec = g_strdup_printf("%s=%s", *n, p ? p : "");
    if (!avma_host_config_add_channel(c, spec, error))
      return NULL;
  }
  return g_steal_pointer(&c);
}

char *avma_host_state_path(const AvmaHostConfig *c, const char *name) {
  return g_build_filename(c->state_dir, name, NULL);
}
