/* channel: a non-blocking byte stream on a file descriptor in the GMainLoop. */
#include "channel.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <unistd.h>

struct AvmaChannel {
  int fd;
  guint watch;
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

static void update_watch(AvmaChannel *ch) {
  GIOCondition want = 0;
  if (!ch->stopped) {
    if (ch->reading)
      want |= G_IO_IN;
    if (ch->out->len > 0)
      want |= G_IO_OUT;
  }
  if (want == ch->watching && (ch->watch != 0) == (want != 0))
    return;
  if (ch->watch) {
    g_source_remove(ch->watch);
    ch->watch = 0;
  }
  ch->watching = want;
  /* HUP/ERR are always reported by poll; without IN or OUT we do not watch at all, so a port
   * stuck in POLLHUP cannot wake us. */
  if (want)
    ch->watch = g_unix_fd_add(ch->fd, want, on_fd, ch);
}

static void stop(AvmaChannel *ch, AvmaChannelEvent ev, const GError *error) {
  ch->stopped = TRUE;
  update_watch(ch);
  if (ch->on_stop)
    ch->on_stop(ch, ev, error, ch->user); /* may free ch */
}

static gboolean flush_out(AvmaChannel *ch) {
  while (ch->out->len > 0) {
    ssize_t n = write(ch->fd, ch->out->data, ch->out->len);
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
