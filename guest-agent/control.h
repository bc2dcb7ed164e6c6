/* control: the local socket through which avma-guest asks a running avma-guestd to act, since
 * only one process may hold the port. One JSON object per line each way. This is the daemon's
 * side (plain sockets on the main loop, the core's JSON: no gio or json-glib); the CLI's is
 * control-client.h. */
#pragma once
#include <glib.h>

#include "guest.h"

/* Listen on STATE/control.sock. */
typedef struct AvmaControl AvmaControl;
AvmaControl *avma_control_new(AvmaGuest *g, const char *socket_path, GError **error);
void avma_control_free(AvmaControl *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaControl, avma_control_free)
