/* state: the guest's durable state file. */
#include "state.h"

#include "fsutil.h"
#include "timeutil.h"

#include <gio/gio.h>

#define STATE_FILE "guest.state"

void avma_guest_state_free(AvmaGuestState *s) {
  if (!s)
    return;
  g_free(s->key);
  g_free(s->last_notification);
  g_free(s->last_reason);
  g_free(s->host_id);
  g_free(s->host_name);
  g_free(s->host_version);
  g_free(s->vm_name);
  g_free(s->vm_id);
  g_free(s->guest_id);
  g_free(s);
}

static gint64 get_time(GKeyFile *kf, const char *g, const char *k) {
  g_autofree char *s = g_key_file_get_string(kf, g, k, NULL);
  gint64 t = 0;
  if (s && *s && !avma_time_parse(s, &t))
    t = 0;
  return t;
}

static void set_time(GKeyFile *kf, const char *g, const char *k, gint64 t) {
  g_autofree char *s = avma_time_format(t);
  g_key_file_set_string(kf, g, k, s);
}

static char *get_str(GKeyFile *kf, const char *g, const char *k) {
  char *s = g_key_file_get_string(kf, g, k, NULL);
  return s ? s : g_strdup("");
}

AvmaGuestState *avma_guest_state_load(const char *state_dir, GError **error) {
  g_autoptr(AvmaGuestState) s = g_new0(AvmaGuestState, 1);
  g_autofree char *path = g_build_filename(state_dir, STATE_FILE, NULL);
  g_autoptr(GKeyFile) kf = g_key_file_new();
  g_autoptr(GError) local = NULL;
  if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &local)) {
    if (!g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                  "state file %s is unreadable (%s); move it aside and reinstall the key with "
                  "avma-guest ipk",
                  path, local->message);
      return NULL;
    }
  }
  char *key = g_key_file_get_string(kf, "key", "key", NULL);
  if (key && *key) {
    s->key = key;
    const AvmaCatalogueEntry *e = avma_catalogue_lookup(key);
    s->key_is_avma = e != NULL;
    s->key_version = e ? e->version : AVMA_VERSION_UNKNOWN;
    s->key_edition = e ? e->edition : AVMA_EDITION_UNKNOWN;
  } else {
    g_free(key);
  }
  s->key_installed_at = get_time(kf, "key", "installed_at");
  s->licensed = g_key_file_get_boolean(kf, "licence", "licensed", NULL);
  s->granted_until = get_time(kf, "licence", "granted_until");
  s->last_attempt = get_time(kf, "licence", "last_attempt");
  s->last_success = get_time(kf, "licence", "last_success");
  s->last_notification = get_str(kf, "licence", "last_notification");
  s->last_reason = get_str(kf, "licence", "last_reason");
  s->failures = (guint)g_key_file_get_integer(kf, "licence", "failures", NULL);
  s->host_id = get_str(kf, "host", "id");
  s->host_name = get_str(kf, "host", "name");
  s->host_version = get_str(kf, "host", "version");
  s->vm_name = get_str(kf, "host", "vm_name");
  s->vm_id = get_str(kf, "host", "vm_id");
  s->published = g_key_file_get_boolean(kf, "kvp", "published", NULL);
  s->pending_clear = g_key_file_get_boolean(kf, "kvp", "pending_clear", NULL);
  s->guest_id = g_key_file_get_string(kf, "guest", "id", NULL);
  if (!s->guest_id || !g_uuid_string_is_valid(s->guest_id)) {
    g_free(s->guest_id);
    s->guest_id = g_uuid_string_random();
  }
  return g_steal_pointer(&s);
}

gboolean avma_guest_state_save(const AvmaGuestState *s, const char *state_dir, GError **error) {
  if (!avma_ensure_dir(state_dir, 0700, error))
    return FALSE;
  g_autoptr(GKeyFile) kf = g_key_file_new();
  g_key_file_set_string(kf, "guest", "id", s->guest_id);
  g_key_file_set_string(kf, "key", "key", s->key ? s->key : "");
  set_time(kf, "key", "installed_at", s->key_installed_at);
  g_key_file_set_boolean(kf, "licence", "licensed", s->licensed);
  set_time(kf, "licence", "granted_until", s->granted_until);
  set_time(kf, "licence", "last_attempt", s->last_attempt);
  set_time(kf, "licence", "last_success", s->last_success);
  g_key_file_set_string(kf, "licence", "last_notification",
                        s->last_notification ? s->last_notification : "");
  g_key_file_set_string(kf, "licence", "last_reason", s->last_reason ? s->last_reason : "");
  g_key_file_set_integer(kf, "licence", "failures", (gint)s->failures);
  g_key_file_set_string(kf, "host", "id", s->host_id ? s->host_id : "");
  g_key_file_set_string(kf, "host", "name", s->host_name ? s->host_name : "");
  g_key_file_set_string(kf, "host", "version", s->host_version ? s->host_version : "");
  g_key_file_set_string(kf, "host", "vm_name", s->vm_name ? s->vm_name : "");
  g_key_file_set_string(kf, "host", "vm_id", s->vm_id ? s->vm_id : "");
  g_key_file_set_boolean(kf, "kvp", "published", s->published);
  g_key_file_set_boolean(kf, "kvp", "pending_clear", s->pending_clear);
  gsize len = 0;
  g_autofree char *data = g_key_file_to_data(kf, &len, NULL);
  g_autofree char *path = g_build_filename(state_dir, STATE_FILE, NULL);
  return avma_write_atomic(path, data, (gssize)len, 0600, error);
}

const char *avma_guest_state_status(const AvmaGuestState *s, gint64 now) {
  if (s->licensed && s->granted_until > now && s->key_is_avma)
    return "Licensed";
  if (s->last_success && s->key_is_avma)
    return "Notification";
  return "Unlicensed";
}
