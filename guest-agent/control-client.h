/* control-client: avma-guest's side of the daemon's control socket (control.h). */
#pragma once
#include <glib.h>
#include <json-glib/json-glib.h>

/* Send request, wait up to timeout_s for the reply. Returns NULL with G_IO_ERROR_NOT_FOUND /
 * G_IO_ERROR_CONNECTION_REFUSED when no daemon listens. */
JsonObject *avma_control_call(const char *socket_path, JsonObject *request, guint timeout_s,
                              GError **error);
