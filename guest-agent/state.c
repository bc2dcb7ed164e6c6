/* state: the guest's durable state file, parsed and written by core/gstate.c. */
#include "state.h"

#include "fsutil.h"
#include "state-files.h"

#include <gio/gio.h>
#include <string.h>

void avma_guest_state_free(AvmaGuestState *s) {
  g_free(s);
}

AvmaGuestState *avma_guest_state_load(const char *state_dir, GError **error) {
  g_autoptr(AvmaGuestState) s = g_new0(AvmaGuestState, 1);
  avma_gstate_init(s);
  g_autofree char *path = g_build_filename(state_dir, AVMA_GUEST_STATE_FILE, NULL);
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr(GError) local = NULL;
  char why[256] = "";
  if (!g_file_get_contents(path, &data, &len, &local)) {
    if (!g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                  "state file %s is unreadable (%s); move it aside and reinstall the key with "
                  "avma-guest ipk",
                  path, local->message);
      return NULL;
    }
  } else if (!avma_gstate_parse(s, data, len, why, sizeof why)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                "state file %s is unreadable (%s); move it aside and reinstall the key with "
                "avma-guest ipk",
                path, why);
    return NULL;
  }
  if (!*s->guest_id) {
    g_autofree char *id = g_uuid_string_random();
    g_strlcpy(s->guest_id, id, sizeof s->guest_id);
  }
  return g_steal_pointer(&s);
}

gboolean avma_guest_state_save(const AvmaGuestState *s, const char *state_dir, GError **error) {
  if (!avma_ensure_dir(state_dir, 0700, error))
    return FALSE;
  g_autofree char *data = g_malloc(AVMA_GSTATE_TEXT_MAX);
  size_t len = avma_gstate_format(s, data, AVMA_GSTATE_TEXT_MAX);
  if (!len) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot format the guest state");
    return FALSE;
  }
  g_autofree char *path = g_build_filename(state_dir, AVMA_GUEST_STATE_FILE, NULL);
  return avma_write_atomic(path, data, (gssize)len, 0600, error);
}

const char *avma_guest_state_status(const AvmaGuestState *s, gint64 now) {
  return avma_gstate_status(s, now);
}
