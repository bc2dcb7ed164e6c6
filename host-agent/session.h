/* session: one VM's channel on the host: connect to its unix socket (and reconnect with back-off),
 * decode frames, enforce per-guest limits, answer requests through AvmaHost. */
#pragma once
#include <glib.h>

#include "host.h"

typedef struct AvmaSession AvmaSession;

/* Starts connecting at once. The path may change (domain restarted): avma_session_set_path. */
AvmaSession *avma_session_new(AvmaHost *host, AvmaVm *vm, const char *socket_path);
/* Serve an already connected fd (tests, fuzzers, benchmarks): the same limits and answers, but
 * once closed it stays closed (there is no path to reconnect to). Takes ownership of fd. */
AvmaSession *avma_session_new_fd(AvmaHost *host, AvmaVm *vm, int fd);
/* Handle bytes as if they had been read from the channel; replies are queued on the fd. Lets a
 * fuzzer drive the byte path deterministically. No-op once the channel is closed. */
void avma_session_feed(AvmaSession *s, const guint8 *data, gsize len);
void avma_session_free(AvmaSession *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaSession, avma_session_free)

/* A new socket path: drop the current connection and connect there now. */
void avma_session_set_path(AvmaSession *s, const char *socket_path);
const char *avma_session_path(AvmaSession *s);
gboolean avma_session_connected(AvmaSession *s);
AvmaVm *avma_session_vm(AvmaSession *s);
/* Told when the connection opens or closes and when the guest changed its KVP items, so that a
 * view of the VM (vms.json) can be refreshed. Must not free the session. */
typedef void (*AvmaSessionNotifyFn)(AvmaSession *s, gpointer user);
void avma_session_set_notify(AvmaSession *s, AvmaSessionNotifyFn fn, gpointer user);
/* For a fixed channel, where nothing else knows: the socket connecting means the VM runs here, the
 * peer closing it means it stopped (avma_host_vm_seen). Says "running" at once when connected. */
void avma_session_track_lifecycle(AvmaSession *s);

typedef struct {
  guint64 frames;       /* valid frames received */
  guint64 bad_frames;   /* frame errors */
  guint64 garbage;      /* bytes skipped as garbage */
  guint64 rate_limited; /* requests refused by the rate limit */
  guint64 connects;     /* successful connects */
} AvmaSessionStats;
const AvmaSessionStats *avma_session_stats(AvmaSession *s);
