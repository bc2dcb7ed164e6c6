/* watcher: avma-hostd's libvirt side. One connection (keepalive, close callback, reconnect with
 * back-off and re-synchronisation), libvirt's events in the GMainLoop (libvirt-glib), and one
 * channel session per domain whose live XML has the project's channel. */
#pragma once
#include <glib.h>
#include <json-glib/json-glib.h>
#include <libvirt/libvirt.h>

#include "host.h"
#include "vmview.h"

typedef struct AvmaWatcher AvmaWatcher;

/* Every hook may be NULL. */
typedef struct {
  /* The view changed (domains, sessions, connection): a snapshot may want rewriting. */
  void (*changed)(gpointer user);
  /* Connected (conn, borrowed until the next call) or lost (NULL). */
  void (*connection)(virConnectPtr conn, gpointer user);
  /* The domain (UUID, borrowed for the call) was found on this host (present), or is gone from
   * it: a write that failed may be retried where the domain is now. */
  void (*domain)(const char *uuid, gboolean present, gpointer user);
} AvmaWatcherHooks;

/* Nothing happens until avma_watcher_start. With ensure_channel, every persistent domain gets the
 * channel in its definition (at start and whenever one is defined). Domains starting and stopping
 * are reported to the host (avma_host_vm_seen). Besides the events, every domain is listed again
 * after a reconnect and every [libvirt] reconcile_interval; a run-state change found only that way
 * is reported with why "reconciled". */
AvmaWatcher *avma_watcher_new(AvmaHost *host, const char *uri, gboolean ensure_channel,
                              const AvmaWatcherHooks *hooks, gpointer user);
/* Connect now; a failure is retried with back-off (up to the config's reconnect_max_ms). */
void avma_watcher_start(AvmaWatcher *w);
void avma_watcher_free(AvmaWatcher *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaWatcher, avma_watcher_free)

const char *avma_watcher_uri(AvmaWatcher *w);
virConnectPtr avma_watcher_connection(AvmaWatcher *w);
/* vmview entries for every domain known, and the connection's state as doc member "libvirt". */
void avma_watcher_collect(AvmaWatcher *w, AvmaVmViewSink *sink, JsonObject *doc);
