/* config: avma-guestd.exe / avma-guest.exe settings, from guest.conf text in the Linux agent's
 * format ("[guest]" port, state_dir, product_version, product_edition, event_sink, pipe;
 * "[timing]" in seconds) and the command line. Plain C11 without windows.h (unit-testable). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "agent.h"
#include "schedule.h"

#define AVMA_WIN_DEFAULT_PORT "\\\\.\\Global\\org.avma.kvp.0"
#define AVMA_WIN_DEFAULT_PIPE "\\\\.\\pipe\\avma-guest"
#define AVMA_WIN_PATH_MAX 1024

typedef struct {
  char port[AVMA_WIN_PATH_MAX];
  char state_dir[AVMA_WIN_PATH_MAX];  /* "" = %ProgramData%\AVMA */
  char event_sink[AVMA_WIN_PATH_MAX]; /* "" = none; test seam: a copy of every reported event */
  char pipe[AVMA_WIN_PATH_MAX];
  AvmaProduct product; /* configured override; UNKNOWN fields come from the registry */
  AvmaTiming timing;
} AvmaWinConfig;

void avma_win_config_defaults(AvmaWinConfig *c);
/* Apply guest.conf text (name is for messages). false with why on a bad value or line. */
bool avma_win_config_parse(AvmaWinConfig *c, const char *name, const char *text, size_t len,
                           char *why, size_t why_len);
