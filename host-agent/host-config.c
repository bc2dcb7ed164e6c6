/* host-config: avma-hostd / avma-host settings. */
#include "host-config.h"

#include <gio/gio.h>
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
  g_free(c->state_dir);
  g_free(c->connect_uri);
  g_free(c->metrics_textfile);
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

static gboolean get_int(GKeyFile *kf, const char *group, const char *key, gint64 min, gint64 max,
                        gint64 *out, GError **error) {
  if (!g_key_file_has_key(kf, group, key, NULL))
    return TRUE;
  g_autoptr(GError) local = NULL;
  gint64 v = g_key_file_get_int64(kf, group, key, &local);
  if (local || v < min || v > max) {
    g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                "[%s] %s must be an integer from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT, group,
                key, min, max);
    return FALSE;
  }
  *out = v;
  return TRUE;
}

AvmaHostConfig *avma_host_config_load(const char *config_path, const char *state_dir,
                                      const char *connect_uri, GError **error) {
  g_autoptr(AvmaHostConfig) c = g_new0(AvmaHostConfig, 1);
  c->channels = g_ptr_array_new_with_free_func(channel_spec_free);
  c->validity = 7 * 24 * 3600;
  c->journal = AVMA_JOURNAL_AUTO;
  c->rate_per_sec = 10;
  c->rate_burst = 20;
  c->frame_deadline_ms = 5000;
  c->max_records = 64;
  c->max_queued = 256 * 1024;
  c->reconnect_max_ms = 10000;
  c->history_retention_months = 25;
  c->history_confirm_s = 60;
  c->checkpoint_records = 1000;
  c->checkpoint_interval_s = 3600;
  c->activations_per_min = 12;
  c->activation_burst = 30;

  g_autoptr(GKeyFile) kf = g_key_file_new();
  const char *path = config_path ? config_path : AVMA_HOST_DEFAULT_CONFIG;
  g_autoptr(GError) local = NULL;
  if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &local)) {
    if (config_path || !g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "config %s: %s", path, local->message);
      return NULL;
    }
  }
  g_autofree char *sd = g_key_file_get_string(kf, "host", "state_dir", NULL);
  c->state_dir = g_strdup(state_dir ? state_dir : sd ? sd : AVMA_HOST_DEFAULT_STATE);
  g_autofree char *uri = g_key_file_get_string(kf, "host", "connect", NULL);
  c->connect_uri = g_strdup(connect_uri ? connect_uri : uri);
  gint64 v = c->validity;
  if (!get_int(kf, "host", "validity", 1, 10LL * 365 * 24 * 3600, &v, error))
    return NULL;
  c->validity = v;
  g_autofree char *journal = g_key_file_get_string(kf, "host", "journal", NULL);
  if (journal && !avma_journal_mode_parse(journal, &c->journal)) {
    g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                "[host] journal must be auto, yes or no");
    return NULL;
  }
  if (g_key_file_has_key(kf, "host", "ensure_channel", NULL)) {
    c->ensure_channel = g_key_file_get_boolean(kf, "host", "ensure_channel", &local);
    if (local) {
      g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                  "[host] ensure_channel must be true or false");
      return NULL;
    }
  }
  v = (gint64)c->rate_per_sec;
  if (!get_int(kf, "limits", "requests_per_second", 1, 100000, &v, error))
    return NULL;
  c->rate_per_sec = (double)v;
  v = (gint64)c->rate_burst;
  if (!get_int(kf, "limits", "request_burst", 1, 100000, &v, error))
    return NULL;
  c->rate_burst = (double)v;
  v = c->frame_deadline_ms;
  if (!get_int(kf, "limits", "frame_deadline_ms", 100, 600000, &v, error))
    return NULL;
  c->frame_deadline_ms = (guint)v;
  v = c->max_records;
  if (!get_int(kf, "limits", "max_records", 1, 1024, &v, error))
    return NULL;
  c->max_records = (guint)v;
  v = c->reconnect_max_ms;
  if (!get_int(kf, "limits", "reconnect_max_ms", 100, 3600000, &v, error))
    return NULL;
  c->reconnect_max_ms = (guint)v;
  v = c->history_retention_months;
  if (!get_int(kf, "history", "retention_months", 1, 1200, &v, error))
    return NULL;
  c->history_retention_months = (guint)v;
  v = c->history_confirm_s;
  if (!get_int(kf, "history", "confirm_running_within", 1, 86400, &v, error))
    return NULL;
  c->history_confirm_s = (guint)v;
  if (g_key_file_has_key(kf, "history", "commit_thread", NULL)) {
    c->commit_thread = g_key_file_get_boolean(kf, "history", "commit_thread", &local);
    if (local) {
      g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                  "[history] commit_thread must be true or false");
      return NULL;
    }
  }
  v = c->checkpoint_records;
  if (!get_int(kf, "history", "checkpoint_records", 1, 10000000, &v, error))
    return NULL;
  c->checkpoint_records = (guint)v;
  v = c->checkpoint_interval_s;
  if (!get_int(kf, "history", "checkpoint_interval", 1, 7 * 86400, &v, error))
    return NULL;
  c->checkpoint_interval_s = (guint)v;
  /* Beside the rest of the state by default: the unit lets the daemon write nowhere else. */
  g_autofree char *prom = g_key_file_get_string(kf, "metrics", "textfile", NULL);
  c->metrics_textfile =
      prom ? g_strstrip(g_steal_pointer(&prom)) : g_build_filename(c->state_dir, "avma.prom", NULL);
  /* At least one maximum frame, so any single reply can always be queued. */
  v = (gint64)c->max_queued;
  if (!get_int(kf, "limits", "max_queued_bytes", 65536, 64 * 1024 * 1024, &v, error))
    return NULL;
  c->max_queued = (gsize)v;
  v = (gint64)c->activations_per_min;
  if (!get_int(kf, "limits", "activations_per_minute", 1, 100000, &v, error))
    return NULL;
  c->activations_per_min = (double)v;
  v = (gint64)c->activation_burst;
  if (!get_int(kf, "limits", "activation_burst", 1, 100000, &v, error))
    return NULL;
  c->activation_burst = (double)v;

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
