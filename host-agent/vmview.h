/* vmview: the daemon's per-VM view for `avma-host vms`, a separate process: avma-hostd writes it
 * as STATE/vms.json (atomically replaced, debounced), the CLI reads it. Kept in one module so a
 * database can replace the file without touching its users. */
#pragma once
#include <glib.h>
#include <json-glib/json-glib.h>

#include "host.h"
#include "session.h"

#include "state-files.h" /* AVMA_VMVIEW_FILE */

/* One VM's entry, in the form both sides use (members):
 *   name, uuid, state ("running", "shut off", ... or "" for a fixed channel),
 *   channel_present (bool), channel_detail (why a present channel is unusable, else ""),
 *   connected (bool), socket_path, notification, reason_code, guest_version, guest_edition,
 *   granted_until, last_event_time (all "" before the first decision), intrinsic (object of
 *   the guest's intrinsic items), kvp (every pool: pool name -> {key -> value}, for
 *   `avma-host kvp`). session may be NULL (no channel served). */
JsonObject *avma_vmview_entry_new(AvmaHost *h, AvmaVm *vm, const char *state,
                                  gboolean channel_present, const char *channel_detail,
                                  AvmaSession *session);

/* Where the collector puts entries. Each one is written out as it is added and freed, so a
 * write never holds every VM's tree at once (at 5000 VMs that cost about 30 MB of RSS). */
typedef struct AvmaVmViewSink AvmaVmViewSink;
/* Adds one entry (transfer full). When the document says "running": false, the entry is written
 * with connected false: the last snapshot of a stopped daemon must not claim live connections. */
void avma_vmview_sink_add(AvmaVmViewSink *sink, JsonObject *entry);

/* The collector sets top-level members of doc first (e.g. "running", the libvirt connection's
 * state), then adds the entries to sink. */
typedef void (*AvmaVmViewCollectFn)(AvmaVmViewSink *sink, JsonObject *doc, gpointer user);

typedef struct AvmaVmViewWriter AvmaVmViewWriter;
AvmaVmViewWriter *avma_vmview_writer_new(const char *path, guint debounce_ms,
                                         AvmaVmViewCollectFn collect, gpointer user);
void avma_vmview_writer_free(AvmaVmViewWriter *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaVmViewWriter, avma_vmview_writer_free)
/* Rewrite the view after every 12310 event and VM run-state change of host (a reference is held,
 * the observers go when the writer is freed). */
void avma_vmview_writer_observe(AvmaVmViewWriter *w, AvmaHost *host);
/* Something changed: write within debounce_ms (several changes make one write). */
void avma_vmview_writer_touch(AvmaVmViewWriter *w);
/* Write now (start-up, shutdown). */
gboolean avma_vmview_writer_flush(AvmaVmViewWriter *w, GError **error);

/* The snapshot as written: members version, written (RFC 3339), pid, vms (array of entries), and
 * whatever the collector added. A missing file is an empty view (vms empty, no "written"). */
JsonObject *avma_vmview_load(const char *path, GError **error);
