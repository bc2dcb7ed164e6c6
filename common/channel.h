/* channel: a non-blocking byte stream on a file descriptor in the GMainLoop. It never blocks,
 * queues writes up to a cap, and stops watching the fd on EOF/HUP/error so a port whose peer is
 * absent cannot make the loop spin (brief section 9a). Knows nothing of frames. */
#pragma once
#include <glib.h>

typedef struct AvmaChannel AvmaChannel;

typedef enum {
  AVMA_CHANNEL_EOF,   /* read() returned 0: peer closed (socket) or host absent (virtio port) */
  AVMA_CHANNEL_HUP,   /* POLLHUP with nothing to read */
  AVMA_CHANNEL_ERROR, /* read/write failed; see the GError */
} AvmaChannelEvent;

typedef void (*AvmaChannelReadFn)(AvmaChannel *ch, const guint8 *data, gsize len, gpointer user);
/* Called once per stop; the channel no longer watches its fd until avma_channel_resume(). The
 * callback may free the channel. */
typedef void (*AvmaChannelStopFn)(AvmaChannel *ch, AvmaChannelEvent ev, const GError *error,
                                  gpointer user);

/* Takes ownership of fd (sets O_NONBLOCK). max_queued caps bytes waiting to be written. */
AvmaChannel *avma_channel_new(int fd, gsize max_queued, AvmaChannelReadFn on_read,
                              AvmaChannelStopFn on_stop, gpointer user);
void avma_channel_free(AvmaChannel *ch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaChannel, avma_channel_free)

int avma_channel_fd(AvmaChannel *ch);
/* Queue bytes; they go out as the fd accepts them. FALSE (and nothing queued) when the queue
 * would exceed its cap. */
gboolean avma_channel_write(AvmaChannel *ch, const guint8 *data, gsize len, GError **error);
/* Drop queued output (a new session must not send a stale half frame twice). */
void avma_channel_discard_output(AvmaChannel *ch);
gsize avma_channel_queued(AvmaChannel *ch);
/* Watch the fd again after a stop. */
void avma_channel_resume(AvmaChannel *ch);
gboolean avma_channel_stopped(AvmaChannel *ch);
/* Pause/unpause reading (back-pressure, rate limiting); writes continue. */
void avma_channel_set_reading(AvmaChannel *ch, gboolean reading);
