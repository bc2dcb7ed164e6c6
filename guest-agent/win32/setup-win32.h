/* setup-win32: what both Windows programs do first: load guest.conf (--config, else
 * %ProgramData%\AVMA\guest.conf when present), apply the command line's overrides and resolve
 * the data folder. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "config.h"

bool avma_win_setup(AvmaWinConfig *c, const char *config_path, const char *state_dir,
                    const char *port, char *dir, size_t dir_cap, bool *dir_is_default, char *why,
                    size_t why_len);
