/* licence: the host's licensed state, durable and atomic. */
#include "licence.h"

#include "fsutil.h"
#include "host-event.h"
#include "state-files.h"
#include "timeutil.h"

#include <gio/gio.h>
#include <string.h>
#include <sys/stat.h>

#define GROUP "licence"
#define KEY_LAST5 "key_last5" /* event-field-ok: licence.conf's key */

void avma_licence_clear(AvmaLicence *l) {
  g_free(l->set_by);
  memset(l, 0, sizeof *l);
}

AvmaHostLicence avma_licence_policy_view(const AvmaLicence *l) {
  AvmaHostLicence h = {.version = l->version, .edition = l->edition, .activated = l->activated};
  return h;
}

gboolean avma_licence_load(const char *state_dir, AvmaLicence *out, GError **error) {
  memset(out, 0, sizeof *out);
  g_autofree char *path = g_build_filename(state_dir, AVMA_LICENCE_FILE, NULL);
  g_autoptr(GKeyFile) kf = g_key_file_new();
  g_autoptr(GError) local = NULL;
  if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &local)) {
    if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      return TRUE;
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: %s", path, local->message);
    return FALSE;
  }
  g_autofree char *ver = g_key_file_get_string(kf, GROUP, "version", NULL);
  g_autofree char *ed = g_key_file_get_string(kf, GROUP, "edition", NULL);
  g_autofree char *key5 = g_key_file_get_string(kf, GROUP, KEY_LAST5, NULL);
  g_autofree char *at = g_key_file_get_string(kf, GROUP, "set_at", NULL);
  gboolean act = g_key_file_get_boolean(kf, GROUP, "activated", &local);
  AvmaVersion v;
  AvmaEdition e;
  if (!ver || !avma_version_parse(ver, &v) || !ed || !avma_edition_parse(ed, &e) || local) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                "%s: version, edition or activated missing or invalid", path);
    return FALSE;
  }
  out->version = v;
  out->edition = e;
  out->activated = act;
  if (key5)
    g_strlcpy(out->key_last5, key5, sizeof out->key_last5);
  if (at)
    (void)avma_time_parse(at, &out->set_at);
  out->set_by = g_key_file_get_string(kf, GROUP, "set_by", NULL);
  return TRUE;
}

JsonObject *avma_licence_to_json(const AvmaLicence *l) {
  return avma_host_event_licence_state(l);
}

gboolean avma_licence_save(const char *state_dir, const AvmaLicence *l, AvmaJournalMode journal,
                           GError **error) {
  if (!avma_ensure_dir(state_dir, 0750, error))
    return FALSE;
  g_autoptr(GKeyFile) kf = g_key_file_new();
  g_key_file_set_string(kf, GROUP, "version", avma_version_name(l->version));
  g_key_file_set_string(kf, GROUP, "edition", avma_edition_name(l->edition));
  g_key_file_set_boolean(kf, GROUP, "activated", l->activated);
  g_key_file_set_string(kf, GROUP, KEY_LAST5, l->key_last5);
  g_autofree char *at = avma_time_format(l->set_at);
  g_key_file_set_string(kf, GROUP, "set_at", at);
  g_key_file_set_string(kf, GROUP, "set_by", l->set_by ? l->set_by : "");
  gsize len = 0;
  g_autofree char *data = g_key_file_to_data(kf, &len, NULL);
  g_autofree char *path = g_build_filename(state_dir, AVMA_LICENCE_FILE, NULL);
  if (!avma_write_atomic(path, data, (gssize)len, 0640, error))
    return FALSE;

  g_autofree char *hist = g_build_filename(state_dir, AVMA_LICENCE_HISTORY_FILE, NULL);
  g_autoptr(AvmaEventLog) log = avma_event_log_new(hist, journal);
  g_auto(AvmaHostEvent) ev;
  avma_host_event_init_licence(&ev, l, avma_now());
  /* The host id if the daemon made one (read only: the CLI may run as another user). */
  g_autofree char *id_path = g_build_filename(state_dir, AVMA_HOST_ID_FILE, NULL);
  if (g_file_get_contents(id_path, &ev.host_id, NULL, NULL))
    g_strstrip(ev.host_id);
  return avma_host_event_append(log, &ev, error);
}

struct AvmaLicenceCache {
  char *state_dir;
  char *path;
  AvmaLicence current;
  struct stat st;
  gboolean have_st;
  gboolean loaded;
  gboolean warned;
};

AvmaLicenceCache *avma_licence_cache_new(const char *state_dir) {
  AvmaLicenceCache *c = g_new0(AvmaLicenceCache, 1);
  c->state_dir = g_strdup(state_dir);
  c->path = g_build_filename(state_dir, AVMA_LICENCE_FILE, NULL);
  return c;
}

void avma_licence_cache_free(AvmaLicenceCache *c) {
  if (!c)
    return;
  avma_licence_clear(&c->current);
  g_free(c->state_dir);
  g_free(c->path);
  g_free(c);
}

static gboolean same_file(const struct stat *a, const struct stat *b) {
  return a->st_ino == b->st_ino && a->st_size == b->st_size &&
         a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

const AvmaLicence *avma_licence_cache_get(AvmaLicenceCache *c, gboolean *changed) {
  struct stat st;
  gboolean have = stat(c->path, &st) == 0;
  if (changed)
    *changed = FALSE;
  /* A stat per decision is cheap and needs no inotify; the file is replaced by rename, so a new
   * inode always means new content. */
  if (c->loaded && have == c->have_st && (!have || same_file(&st, &c->st)))
    return &c->current;
  AvmaLicence fresh;
  g_autoptr(GError) err = NULL;
  if (!avma_licence_load(c->state_dir, &fresh, &err)) {
    if (!c->warned)
      g_warning("licence state unreadable, answering Invalid Host: %s", err->message);
    c->warned = TRUE;
    memset(&fresh, 0, sizeof fresh);
  } else {
    c->warned = FALSE;
  }
  if (changed)
    *changed = !c->loaded || fresh.version != c->current.version ||
               fresh.edition != c->current.edition || fresh.activated != c->current.activated;
  avma_licence_clear(&c->current);
  c->current = fresh;
  c->st = st;
  c->have_st = have;
  c->loaded = TRUE;
  return &c->current;
}

char *avma_host_id(const char *state_dir, GError **error) {
  g_autofree char *path = g_build_filename(state_dir, AVMA_HOST_ID_FILE, NULL);
  g_autofree char *data = NULL;
  if (g_file_get_contents(path, &data, NULL, NULL)) {
    g_strstrip(data);
    if (g_uuid_string_is_valid(data))
      return g_steal_pointer(&data);
  }
  if (!avma_ensure_dir(state_dir, 0750, error))
    return NULL;
  g_autofree char *id = g_uuid_string_random();
  g_autofree char *line = g_strconcat(id, "\n", NULL);
  if (!avma_write_atomic(path, line, -1, 0644, error))
    return NULL;
  return g_steal_pointer(&id);
}
