/* control: the local socket through which avma-guest asks a running avma-guestd to act, since
 * only one process may hold the port. One JSON object per line each way. */
#pragma once
#include <glib.h>
#include <json-glib/json-glib.h>

#include "guest.h"

/* Server side (daemon): listen on STATE/control.sock. */
typedef struct AvmaControl AvmaControl;
AvmaControl *avma_control_new(AvmaGuest *g, const char *socket_path, GError **error);
void avma_control_free(AvmaControl *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaControl, avma_control_free)

/* Client side (CLI): send request, wait up to timeout_s for the reply. Returns NULL with
 * G_IO_ERROR_NOT_FOUND / G_IO_ERROR_CONNECTION_REFUSED when no daemon listens. */
JsonObject *avma_control_call(const char *socket_path, JsonObject *request, guint timeout_s,
                              GError **error);
