/* control-win32: what the service answers on its control pipe, the same JSON lines as Linux's
 * control.c ({"verb":"ipk","key":...} -> {"ok":true,"message":...}; ato -> notification and
 * reason), plus "state" (the service's guest.state text) for the read verbs. */
#pragma once
#include "pipe-win32.h"
#include "runtime-win32.h"

/* The AvmaPipeRequestFn of the service; user is the AvmaWinGuest. */
void avma_control_request(AvmaPipeServer *s, const char *line, size_t len, void *user);
