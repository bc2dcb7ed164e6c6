/* channel: a non-blocking byte stream on a file descriptor in the GMainLoop. */
#include "channel.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct AvmaChannel {
  int fd;
  guint watch;       /* GLib source, only for a descriptor epoll refuses (regular file) */
  gboolean in_epoll; /* registered in the shared epoll set */
  gboolean epoll_refused;
  GIOCondition watching;
  gboolean stopped;
  gboolean reading;
  GByteArray *out;
  gsize max_queued;
  AvmaChannelReadFn on_read;
  AvmaChannelStopFn on_stop;
  gpointer user;
};

static gboolean on_fd(gint fd, GIOCondition cond, gpointer data);

/* Every channel's descriptor sits in one epoll set, which is a single descriptor in the main
 * loop. With one GLib source per channel, every main-loop iteration polled and checked every
 * channel: at 1000-5000 channels that scan, not the requests, was most of the host agent's CPU
 * (tests/bench/PROFILE.md). Level-triggered, same interest sets, so behaviour is unchanged. */
#define EPOLL_BATCH 64
typedef struct {
  GSource source;
  int epfd;
} EpollSource;
static EpollSource *epoll_src; /* on the default main context, for the process's lifetime */
/* The batch being dispatched: a channel freed by an earlier callback is cleared here. */
static AvmaChannel *batch[EPOLL_BATCH];
static int batch_len;

static guint32 to_epoll(GIOCondition c) {
  return (c & G_IO_IN ? EPOLLIN : 0u) | (c & G_IO_OUT ? EPOLLOUT : 0u);
}

static GIOCondition from_epoll(guint32 e) {
  return (e & EPOLLIN ? G_IO_IN : 0) | (e & EPOLLOUT ? G_IO_OUT : 0) |
         (e & EPOLLPRI ? G_IO_PRI : 0) | (e & EPOLLHUP ? G_IO_HUP : 0) |
         (e & EPOLLERR ? G_IO_ERR : 0);
}

static gboolean epoll_dispatch(GSource *src, GSourceFunc cb, gpointer user) {
  (void)cb;
  (void)user;
  struct epoll_event ev[EPOLL_BATCH];
  int n = epoll_wait(((EpollSource *)src)->epfd, ev, EPOLL_BATCH, 0);
  for (int i = 0; i < n; i++)
    batch[i] = ev[i].data.ptr;
  batch_len = MAX(n, 0);
  for (int i = 0; i < batch_len; i++) {
    AvmaChannel *ch = batch[i];
    if (!ch || !ch->in_epoll)
      continue;
    /* An earlier callback of this batch may have changed what ch watches. */
    GIOCondition c = from_epoll(ev[i].events) & (ch->watching | G_IO_HUP | G_IO_ERR);
    if (c)
      on_fd(ch->fd, c, ch);
  }
  batch_len = 0;
  return G_SOURCE_CONTINUE;
}

static EpollSource *epoll_source(void) {
  static GSourceFuncs funcs = {.dispatch = epoll_dispatch};
  if (!epoll_src) {
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
      return NULL;
    epoll_src = (EpollSource *)g_source_new(&funcs, sizeof(EpollSource));
    epoll_src->epfd = epfd;
    g_source_set_name(&epoll_src->source, "avma-channels");
    g_source_add_unix_fd(&epoll_src->source, epfd, G_IO_IN);
    g_source_attach(&epoll_src->source, NULL);
  }
  return epoll_src;
}

static void update_watch(AvmaChannel *ch) {
  GIOCondition want = 0;
  if (!ch->stopped) {
    if (ch->reading)
      want |= G_IO_IN;
    if (ch->out->len > 0)
      want |= G_IO_OUT;
  }
  gboolean registered = ch->in_epoll || ch->watch != 0;
  if (want == ch->watching && registered == (want != 0))
    return;
  ch->watching = want;
  /* HUP/ERR are always reported by poll; without IN or OUT we do not watch at all, so a port
   * stuck in POLLHUP cannot wake us. */
  if (!ch->epoll_refused) {
    EpollSource *es = epoll_source();
    struct epoll_event ev = {.events = to_epoll(want), .data.ptr = ch};
    int op = !ch->in_epoll ? EPOLL_CTL_ADD : want ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;
    if (!want && !ch->in_epoll)
      return;
    if (es && epoll_ctl(es->epfd, op, ch->fd, &ev) == 0) {
      ch->in_epoll = want != 0;
      return;
    }
    if (ch->in_epoll)
      epoll_ctl(es->epfd, EPOLL_CTL_DEL, ch->fd, NULL);
    ch->epoll_refused = TRUE; /* e.g. EPERM for a regular file: fall back to a GLib source */
    ch->in_epoll = FALSE;
  }
  if (ch->watch) {
    g_source_remove(ch->watch);
    ch->watch = 0;
  }
  if (want)
    ch->watch = g_unix_fd_add(ch->fd, want, on_fd, ch);
}

static void stop(AvmaChannel *ch, AvmaChannelEvent ev, const GError *error) {
  ch->stopped = TRUE;
  update_watch(ch);
  if (ch->on_stop)
    ch->on_stop(ch, ev, error, ch->user); /* may free ch */
}

/* A socket whose peer has gone would raise SIGPIPE on write() and kill the whole agent (a guest
 * that connects, asks and hangs up could do it at will): send() with MSG_NOSIGNAL turns that into
 * EPIPE. Ports and ttys are not sockets and never raise it. */
static ssize_t write_nosignal(int fd, const void *buf, size_t len) {
  ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
  if (n < 0 && errno == ENOTSOCK)
    n = write(fd, buf, len);
  return n;
}

static gboolean flush_out(AvmaChannel *ch) {
  while (ch->out->len > 0) {
    ssize_t n = write_nosignal(ch->fd, ch->out->data, ch->out->len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break;
    if (n < 0) {
      int e = errno;
      g_autoptr(GError) err =
          g_error_new(G_IO_ERROR, g_io_error_from_errno(e), "write: %s", g_strerror(e));
      stop(ch, AVMA_CHANNEL_ERROR, err);
      return FALSE;
    }
    g_byte_array_remove_range(ch->out, 0, (guint)n);
  }
  update_watch(ch);
  return TRUE;
}

/* Sources are only ever added and removed by update_watch(); this callback always returns
 * CONTINUE, so a source that update_watch() already replaced is simply dropped by GLib. */
static gboolean on_fd(gint fd, GIOCondition cond, gpointer data) {
  AvmaChannel *ch = data;
  if (cond & G_IO_OUT) {
    if (!flush_out(ch))
      return G_SOURCE_CONTINUE; /* stopped, maybe freed */
  }
  if (ch->reading && (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR))) {
    guint8 buf[16384];
    /* One read per wake-up keeps one busy peer from starving the others. */
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      if (ch->on_read)
        ch->on_read(ch, buf, (gsize)n, ch->user);
      return G_SOURCE_CONTINUE;
    }
    if (n == 0) {
      stop(ch, AVMA_CHANNEL_EOF, NULL);
      return G_SOURCE_CONTINUE;
    }
    if (errno == EAGAIN || errno == EINTR) {
      if (cond & (G_IO_HUP | G_IO_ERR))
        stop(ch, AVMA_CHANNEL_HUP, NULL);
      return G_SOURCE_CONTINUE;
    }
    int e = errno;
    g_autoptr(GError) err =
        g_error_new(G_IO_ERROR, g_io_error_from_errno(e), "read: %s", g_strerror(e));
    stop(ch, e == EIO ? AVMA_CHANNEL_HUP : AVMA_CHANNEL_ERROR, err);
    return G_SOURCE_CONTINUE;
  }
  if (cond & (G_IO_HUP | G_IO_ERR))
    stop(ch, (cond & G_IO_ERR) ? AVMA_CHANNEL_ERROR : AVMA_CHANNEL_HUP, NULL);
  return G_SOURCE_CONTINUE;
}

AvmaChannel *avma_channel_new(int fd, gsize max_queued, AvmaChannelReadFn on_read,
                              AvmaChannelStopFn on_stop, gpointer user) {
  AvmaChannel *ch = g_new0(AvmaChannel, 1);
  ch->fd = fd;
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0)
    (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
  ch->out = g_byte_array_new();
  ch->max_queued = max_queued;
  ch->on_read = on_read;
  ch->on_stop = on_stop;
  ch->user = user;
  ch->reading = TRUE;
  update_watch(ch);
  return ch;
}

void avma_channel_free(AvmaChannel *ch) {
  if (!ch)
    return;
  if (ch->watch)
    g_source_remove(ch->watch);
  if (ch->in_epoll)
    epoll_ctl(epoll_src->epfd, EPOLL_CTL_DEL, ch->fd, NULL);
  for (int i = 0; i < batch_len; i++)
    if (batch[i] == ch)
      batch[i] = NULL;
  if (ch->fd >= 0)
    close(ch->fd);
  g_byte_array_unref(ch->out);
  g_free(ch);
}

int avma_channel_fd(AvmaChannel *ch) {
  return ch->fd;
}

gboolean avma_channel_write(AvmaChannel *ch, const guint8 *data, gsize len, GError **error) {
  if (ch->out->len + len > ch->max_queued) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                "peer is not reading: %u bytes already queued", ch->out->len);
    return FALSE;
  }
  g_byte_array_append(ch->out, data, (guint)len);
  /* Written from the loop (G_IO_OUT), never here: a write error must not free the channel under
   * its caller. */
  update_watch(ch);
  return TRUE;
}

void avma_channel_discard_output(AvmaChannel *ch) {
  g_byte_array_set_size(ch->out, 0);
  update_watch(ch);
}

gsize avma_channel_queued(AvmaChannel *ch) {
  return ch->out->len;
}

void avma_channel_resume(AvmaChannel *ch) {
  ch->stopped = FALSE;
  ch->watching = 0;
  update_watch(ch);
}

gboolean avma_channel_stopped(AvmaChannel *ch) {
  return ch->stopped;
}

void avma_channel_set_reading(AvmaChannel *ch, gboolean reading) {
  ch->reading = reading;
  update_watch(ch);
}
