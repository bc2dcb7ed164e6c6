/* guest-config: avma-guestd / avma-guest settings. */
#include "guest-config.h"

#include <gio/gio.h>

void avma_guest_config_free(AvmaGuestConfig *c) {
  if (!c)
    return;
  g_free(c->state_dir);
  g_free(c->port);
  g_free(c);
}

static gboolean get_secs(GKeyFile *kf, const char *key, gint64 min, int64_t *out, GError **error) {
  if (!g_key_file_has_key(kf, "timing", key, NULL))
    return TRUE;
  g_autoptr(GError) local = NULL;
  gint64 v = g_key_file_get_int64(kf, "timing", key, &local);
  if (local || v < min || v > 10LL * 365 * 86400) {
    g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                "[timing] %s must be a number of seconds, at least %" G_GINT64_FORMAT, key, min);
    return FALSE;
  }
  *out = v;
  return TRUE;
}

AvmaGuestConfig *avma_guest_config_load(const char *config_path, const char *state_dir,
                                        const char *port, GError **error) {
  g_autoptr(AvmaGuestConfig) c = g_new0(AvmaGuestConfig, 1);
  c->journal = AVMA_JOURNAL_AUTO;
  avma_timing_defaults(&c->timing);

  g_autoptr(GKeyFile) kf = g_key_file_new();
  const char *path = config_path ? config_path : AVMA_GUEST_DEFAULT_CONFIG;
  g_autoptr(GError) local = NULL;
  if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &local)) {
    if (config_path || !g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "config %s: %s", path, local->message);
      return NULL;
    }
  }
  g_autofree char *sd = g_key_file_get_string(kf, "guest", "state_dir", NULL);
  c->state_dir = g_strdup(state_dir ? state_dir : sd ? sd : AVMA_GUEST_DEFAULT_STATE);
  g_autofree char *p = g_key_file_get_string(kf, "guest", "port", NULL);
  c->port = g_strdup(port ? port : p ? p : AVMA_GUEST_DEFAULT_PORT);
  g_autofree char *pv = g_key_file_get_string(kf, "guest", "product_version", NULL);
  if (pv && *pv && !avma_version_parse(pv, &c->product_version)) {
    g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                "%s: [guest] product_version '%s' is not 2012R2, 2016, 2019, 2022 or 2025", path,
                pv);
    return NULL;
  }
  g_autofree char *pe = g_key_file_get_string(kf, "guest", "product_edition", NULL);
  if (pe && *pe && !avma_edition_parse(pe, &c->product_edition)) {
    g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                "%s: [guest] product_edition '%s' is not Datacenter, DatacenterAzure, Standard or "
                "Essentials",
                path, pe);
    return NULL;
  }
  g_autofree char *journal = g_key_file_get_string(kf, "guest", "journal", NULL);
  if (journal && !avma_journal_mode_parse(journal, &c->journal)) {
    g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                "%s: [guest] journal must be auto, yes or no", path);
    return NULL;
  }
  AvmaTiming *t = &c->timing;
  if (!get_secs(kf, "request_timeout", 1, &t->request_timeout, error) ||
      !get_secs(kf, "renew_interval", 1, &t->renew_interval, error) ||
      !get_secs(kf, "retry_initial", 1, &t->retry_initial, error) ||
      !get_secs(kf, "retry_max", 1, &t->retry_max, error) ||
      !get_secs(kf, "presence_interval", 1, &t->presence_interval, error))
    return NULL;
  if (t->retry_max < t->retry_initial)
    t->retry_max = t->retry_initial;
  return g_steal_pointer(&c);
}

char *avma_guest_state_path(const AvmaGuestConfig *c, const char *name) {
  return g_build_filename(c->state_dir, name, NULL);
}
