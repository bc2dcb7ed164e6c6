/* session: one VM's channel on the host: connect to its unix socket (and reconnect with back-off),
 * decode frames, enforce per-guest limits, answer requests through AvmaHost. */
#pragma once
#include <glib.h>

#include "host.h"

typedef struct AvmaSession AvmaSession;

/* Starts connecting at once. The path may change (domain restarted): avma_session_set_path. */
AvmaSession *avma_session_new(AvmaHost *host, AvmaVm *vm, const char *socket_path);
void avma_session_free(AvmaSession *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaSession, avma_session_free)

/* A new socket path: drop the current connection and connect there now. */
void avma_session_set_path(AvmaSession *s, const char *socket_path);
const char *avma_session_path(AvmaSession *s);
gboolean avma_session_connected(AvmaSession *s);
AvmaVm *avma_session_vm(AvmaSession *s);

typedef struct {
  guint64 frames;       /* valid frames received */
  guint64 bad_frames;   /* frame errors */
  guint64 garbage;      /* bytes skipped as garbage */
  guint64 rate_limited; /* requests refused by the rate limit */
  guint64 connects;     /* successful connects */
} AvmaSessionStats;
const AvmaSessionStats *avma_session_stats(AvmaSession *s);
