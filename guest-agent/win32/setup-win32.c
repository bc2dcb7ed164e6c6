/* setup-win32: configuration and data folder for avma-guestd.exe and avma-guest.exe. */
#include "setup-win32.h"

#include "fileio-win32.h"
#include "winutil.h"

#include <stdio.h>
#include <stdlib.h>

static bool load_config(AvmaWinConfig *c, const char *path, char *why, size_t why_len) {
  char def[AVMA_WIN_PATH_MAX], dir[AVMA_WIN_PATH_MAX];
  if (!path && (!avma_data_dir_default(dir, sizeof dir, why, why_len) ||
                !avma_path_join(def, sizeof def, dir, "guest.conf")))
    return false;
  const char *p = path ? path : def;
  char *data = NULL;
  size_t len = 0;
  DWORD err = 0;
  if (!avma_read_file(p, 64 * 1024, &data, &len, &err)) {
    if (!path && (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND))
      return true; /* no configuration file: the defaults */
    char msg[160];
    snprintf(why, why_len, "config %s: %s", p, avma_win_error(err, msg, sizeof msg));
    return false;
  }
  bool ok = avma_win_config_parse(c, p, data, len, why, why_len);
  free(data);
  return ok;
}

bool avma_win_setup(AvmaWinConfig *c, const char *config_path, const char *state_dir,
                    const char *port, char *dir, size_t dir_cap, bool *dir_is_default, char *why,
                    size_t why_len) {
  avma_win_config_defaults(c);
  if (!load_config(c, config_path, why, why_len))
    return false;
  if (state_dir)
    snprintf(c->state_dir, sizeof c->state_dir, "%s", state_dir);
  if (port)
    snprintf(c->port, sizeof c->port, "%s", port);
  *dir_is_default = !*c->state_dir;
  if (*dir_is_default)
    return avma_data_dir_default(dir, dir_cap, why, why_len);
  if ((size_t)snprintf(dir, dir_cap, "%s", c->state_dir) >= dir_cap) {
    snprintf(why, why_len, "state folder name too long");
    return false;
  }
  return true;
}
