/* control-client: avma-guest's side of the control socket (gio and json-glib: the CLI is
 * short-lived, and only the daemon's footprint counts). */
#include "control-client.h"

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <string.h>

JsonObject *avma_control_call(const char *socket_path, JsonObject *request, guint timeout_s,
                              GError **error) {
  g_autoptr(GSocketClient) client = g_socket_client_new();
  g_socket_client_set_timeout(client, timeout_s);
  g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(socket_path);
  g_autoptr(GSocketConnection) conn =
      g_socket_client_connect(client, G_SOCKET_CONNECTABLE(addr), NULL, error);
  if (!conn)
    return NULL;
  g_autoptr(JsonNode) n = json_node_new(JSON_NODE_OBJECT);
  json_node_set_object(n, request);
  g_autofree char *s = json_to_string(n, FALSE);
  g_autofree char *line = g_strconcat(s, "\n", NULL);
  if (!g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(conn)), line,
                                 strlen(line), NULL, NULL, error))
    return NULL;
  g_autoptr(GDataInputStream) in =
      g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(conn)));
  gsize len = 0;
  g_autofree char *resp = g_data_input_stream_read_line(in, &len, NULL, error);
  if (!resp) {
    if (error && !*error)
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED, "avma-guestd closed the connection");
    return NULL;
  }
  g_autoptr(JsonParser) p = json_parser_new();
  if (!json_parser_load_from_data(p, resp, (gssize)len, error))
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p))) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "bad reply from avma-guestd");
    return NULL;
  }
  return json_object_ref(json_node_get_object(json_parser_get_root(p)));
}
