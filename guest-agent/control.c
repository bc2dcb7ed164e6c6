/* control: the daemon's local control socket. A unix socket watched on the main loop, one
 * request line per connection, answered with the core's JSON writer: avma-guestd links neither
 * gio nor json-glib (issue #20: with gobject and what they load, 2 MB of its 6.8 MB idle RSS). */
#include "control.h"

#include "control-request.h"

#include "core/agent.h"
#include "core/evline.h"
#include "policy.h"

#include <errno.h>
#include <gio/gio.h> /* G_IO_ERROR only (guestd-gioerror.c) */
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct AvmaControl {
  AvmaGuest *guest;
  int fd;
  guint watch;
  char *path;
};

typedef struct {
  AvmaGuest *guest;
  int fd;
  guint watch;
  GString *in;  /* the request line so far */
  AvmaBuf out;  /* the reply */
  gsize out_at; /* of it already sent */
} Client;

static void client_free(Client *c) {
  if (c->watch)
    g_source_remove(c->watch);
  close(c->fd);
  g_string_free(c->in, TRUE);
  avma_buf_free(&c->out);
  g_free(c);
}

/* Send what the socket takes now; TRUE when the whole reply is out or the client has gone. */
static gboolean flush_reply(Client *c) {
  while (c->out_at < c->out.len) {
    ssize_t n =
        send(c->fd, c->out.data + c->out_at, c->out.len - c->out_at, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return FALSE;
    if (n < 0)
      return TRUE; /* the client went away: nothing to tell it */
    c->out_at += (gsize)n;
  }
  return TRUE;
}

static gboolean on_writable(gint fd, GIOCondition cond, gpointer data) {
  Client *c = data;
  (void)fd;
  (void)cond;
  if (!flush_reply(c))
    return G_SOURCE_CONTINUE;
  c->watch = 0;
  client_free(c);
  return G_SOURCE_REMOVE;
}

/* o is the reply object, still open: close it, send it, then the connection is done. A reply is
 * a few hundred bytes, so it normally goes out at once; a client that does not read gets it as
 * its socket drains, without blocking the loop. */
static void reply(Client *c, AvmaJsonObj *o) {
  avma_json_end(o);
  avma_buf_append(&c->out, "\n", 1);
  if (c->out.failed)
    g_error("out of memory");
  if (flush_reply(c)) {
    client_free(c);
    return;
  }
  c->watch = g_unix_fd_add(c->fd, G_IO_OUT, on_writable, c);
}

static void begin(Client *c, AvmaJsonObj *o, gboolean ok) {
  avma_json_begin(o, &c->out);
  avma_json_bool(o, "ok", ok);
}

static void on_attempt(AvmaGuest *g, AvmaNotification n, const char *reason, gpointer user) {
  (void)g;
  Client *c = user;
  AvmaJsonObj o;
  begin(c, &o, TRUE);
  avma_json_str(&o, "notification", avma_notification_name(n));
  avma_json_str(&o, "reason", reason ? reason : "");
  reply(c, &o);
}

static void reply_error(Client *c, const char *message) {
  AvmaJsonObj o;
  begin(c, &o, FALSE);
  avma_json_str(&o, "error", message);
  reply(c, &o);
}

static void handle(Client *c, const AvmaControlRequest *req) {
  AvmaGuest *g = c->guest;
  g_autoptr(GError) err = NULL;
  g_autofree char *msg = NULL;
  gboolean ok = FALSE;
  AvmaJsonObj o;
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
    begin(c, &o, TRUE);
    avma_json_bool(&o, "port_open", open);
    avma_json_bool(&o, "host_connected", host);
    reply(c, &o);
    return;
  }
  }
  if (!ok) {
    reply_error(c, err ? err->message : "failed");
    return;
  }
  begin(c, &o, TRUE);
  avma_json_str(&o, "message", msg ? msg : "");
  reply(c, &o);
}

static void on_line(Client *c, const char *line, gsize len) {
  AvmaControlRequest req;
  g_autoptr(GError) err = NULL;
  if (!avma_control_request_parse(line, len, &req, &err)) {
    reply_error(c, err->message);
    return;
  }
  handle(c, &req);
  avma_control_request_clear(&req);
}

/* One request line per connection (without its '\n'; at EOF, what came). A line longer than
 * the parser takes is answered as soon as that is known, without reading the rest. */
static gboolean on_readable(gint fd, GIOCondition cond, gpointer data) {
  Client *c = data;
  (void)cond;
  char buf[AVMA_CONTROL_MAX_REQUEST + 2];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return G_SOURCE_CONTINUE;
  gsize len = c->in->len;
  if (n > 0) {
    g_string_append_len(c->in, buf, n);
    const char *nl = memchr(c->in->str + len, '\n', (gsize)n);
    if (!nl && c->in->len <= AVMA_CONTROL_MAX_REQUEST)
      return G_SOURCE_CONTINUE; /* more to come */
    len = nl ? (gsize)(nl - c->in->str) : c->in->len;
  } else if (n < 0 || len == 0) {
    c->watch = 0;
    client_free(c); /* gone without asking */
    return G_SOURCE_REMOVE;
  }
  c->watch = 0; /* this source ends here; the reply may add one of its own */
  on_line(c, c->in->str, len);
  return G_SOURCE_REMOVE;
}

static gboolean on_incoming(gint fd, GIOCondition cond, gpointer data) {
  AvmaControl *ctl = data;
  (void)cond;
  for (;;) {
    int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
        g_warning("control socket: accept: %s", g_strerror(errno));
      return G_SOURCE_CONTINUE;
    }
    Client *c = g_new0(Client, 1);
    c->guest = ctl->guest;
    c->fd = cfd;
    c->in = g_string_new(NULL);
    avma_buf_init(&c->out);
    c->watch = g_unix_fd_add(cfd, G_IO_IN, on_readable, c);
  }
}

static AvmaControl *fail(GError **error, int fd, const char *what, const char *path) {
  int e = errno;
  g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot %s %s: %s", what, path,
              g_strerror(e));
  if (fd >= 0)
    close(fd);
  return NULL;
}

AvmaControl *avma_control_new(AvmaGuest *g, const char *socket_path, GError **error) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(socket_path) >= sizeof sa.sun_path) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                "socket path %s is longer than %zu bytes", socket_path, sizeof sa.sun_path - 1);
    return NULL;
  }
  strcpy(sa.sun_path, socket_path);
  /* We hold the port (EBUSY keeps a second daemon out), so a socket file left here is stale. */
  (void)g_unlink(socket_path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return fail(error, -1, "create a socket for", socket_path);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
    return fail(error, fd, "bind", socket_path);
  (void)g_chmod(socket_path, 0600);
  if (listen(fd, 16) < 0)
    return fail(error, fd, "listen on", socket_path);
  AvmaControl *c = g_new0(AvmaControl, 1);
  c->guest = g;
  c->fd = fd;
  c->path = g_strdup(socket_path);
  c->watch = g_unix_fd_add(fd, G_IO_IN, on_incoming, c);
  return c;
}

void avma_control_free(AvmaControl *c) {
  if (!c)
    return;
  g_source_remove(c->watch);
  close(c->fd);
  (void)g_unlink(c->path);
  g_free(c->path);
  g_free(c);
}
