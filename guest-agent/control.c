/* control: the daemon's local control socket and its client. */
#include "control.h"

#include "control-request.h"

#include "core/agent.h"
#include "policy.h"

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <string.h>

struct AvmaControl {
  AvmaGuest *guest;
  GSocketService *service;
  char *path;
};

typedef struct {
  AvmaControl *ctl;
  GSocketConnection *conn;
  GDataInputStream *in;
} Client;

static void client_free(Client *c) {
  g_clear_object(&c->in);
  g_clear_object(&c->conn);
  g_free(c);
}

static void reply(Client *c, JsonObject *o) {
  g_autoptr(JsonNode) n = json_node_new(JSON_NODE_OBJECT);
  json_node_set_object(n, o);
  g_autofree char *s = json_to_string(n, FALSE);
  g_autofree char *line = g_strconcat(s, "\n", NULL);
  GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(c->conn));
  /* Replies are a few hundred bytes to a local socket the client is reading. */
  (void)g_output_stream_write_all(out, line, strlen(line), NULL, NULL, NULL);
  client_free(c);
}

static void on_attempt(AvmaGuest *g, AvmaNotification n, const char *reason, gpointer user) {
  (void)g;
  Client *c = user;
  g_autoptr(JsonObject) o = json_object_new();
  json_object_set_boolean_member(o, "ok", TRUE);
  json_object_set_string_member(o, "notification", avma_notification_name(n));
  json_object_set_string_member(o, "reason", reason ? reason : "");
  reply(c, o);
}

static void reply_error(Client *c, const char *message) {
  g_autoptr(JsonObject) o = json_object_new();
  json_object_set_boolean_member(o, "ok", FALSE);
  json_object_set_string_member(o, "error", message);
  reply(c, o);
}

static void handle(Client *c, const AvmaControlRequest *req) {
  AvmaGuest *g = c->ctl->guest;
  g_autoptr(GError) err = NULL;
  g_autofree char *msg = NULL;
  gboolean ok = FALSE;
  switch (req->verb) {
  case AVMA_CONTROL_ATO: {
    const char *why = avma_agent_cannot_activate(avma_guest_state(g));
    if (why)
      reply_error(c, why);
    else
      avma_guest_activate_now(g, on_attempt, c);
    return;
  }
  case AVMA_CONTROL_IPK:
    ok = avma_guest_install_key(g, req->key, &msg, &err);
    break;
  case AVMA_CONTROL_UPK:
    ok = avma_guest_uninstall_key(g, &msg, &err);
    break;
  case AVMA_CONTROL_PORT: {
    gboolean open, host;
    avma_guest_port_status(g, &open, &host);
    g_autoptr(JsonObject) o = json_object_new();
    json_object_set_boolean_member(o, "ok", TRUE);
    json_object_set_boolean_member(o, "port_open", open);
    json_object_set_boolean_member(o, "host_connected", host);
    reply(c, o);
    return;
  }
  }
  if (!ok) {
    reply_error(c, err ? err->message : "failed");
    return;
  }
  g_autoptr(JsonObject) o = json_object_new();
  json_object_set_boolean_member(o, "ok", TRUE);
  json_object_set_string_member(o, "message", msg ? msg : "");
  reply(c, o);
}

static void on_line(GObject *src, GAsyncResult *res, gpointer user) {
  Client *c = user;
  gsize len = 0;
  g_autofree char *line =
      g_data_input_stream_read_line_finish(G_DATA_INPUT_STREAM(src), res, &len, NULL);
  if (!line) {
    client_free(c);
    return;
  }
  AvmaControlRequest req;
  g_autoptr(GError) err = NULL;
  if (!avma_control_request_parse(line, len, &req, &err)) {
    reply_error(c, err->message);
    return;
  }
  handle(c, &req);
  avma_control_request_clear(&req);
}

static gboolean on_incoming(GSocketService *svc, GSocketConnection *conn, GObject *src,
                            gpointer user) {
  (void)svc;
  (void)src;
  Client *c = g_new0(Client, 1);
  c->ctl = user;
  c->conn = g_object_ref(conn);
  c->in = g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(conn)));
  g_buffered_input_stream_set_buffer_size(G_BUFFERED_INPUT_STREAM(c->in),
                                          AVMA_CONTROL_MAX_REQUEST + 2);
  g_data_input_stream_read_line_async(c->in, G_PRIORITY_DEFAULT, NULL, on_line, c);
  return TRUE;
}

AvmaControl *avma_control_new(AvmaGuest *g, const char *socket_path, GError **error) {
  /* We hold the port (EBUSY keeps a second daemon out), so a socket file left here is stale. */
  (void)g_unlink(socket_path);
  g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(socket_path);
  GSocketService *svc = g_socket_service_new();
  if (!g_socket_listener_add_address(G_SOCKET_LISTENER(svc), addr, G_SOCKET_TYPE_STREAM,
                                     G_SOCKET_PROTOCOL_DEFAULT, NULL, NULL, error)) {
    g_object_unref(svc);
    return NULL;
  }
  (void)g_chmod(socket_path, 0600);
  AvmaControl *c = g_new0(AvmaControl, 1);
  c->guest = g;
  c->service = svc;
  c->path = g_strdup(socket_path);
  g_signal_connect(svc, "incoming", G_CALLBACK(on_incoming), c);
  g_socket_service_start(svc);
  return c;
}

void avma_control_free(AvmaControl *c) {
  if (!c)
    return;
  g_socket_service_stop(c->service);
  g_socket_listener_close(G_SOCKET_LISTENER(c->service));
  g_object_unref(c->service);
  (void)g_unlink(c->path);
  g_free(c->path);
  g_free(c);
}

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
