/* host: the host agent's core, independent of how channels are found. It owns the licence view,
 * the event log, the per-VM KVP stores, and the one place where a decision is made and its side
 * effects (12310 event, observers such as history, metadata and metrics) fan out. */
#pragma once
#include <glib.h>

#include "hostkey.h"
#include <json-glib/json-glib.h>

#include "host-config.h"
#include "host-event.h"
#include "licence.h"
#include "msg.h"

typedef struct AvmaHost AvmaHost;
typedef struct AvmaVm AvmaVm;

/* config is borrowed and must outlive the host. */
AvmaHost *avma_host_new(const AvmaHostConfig *config, GError **error);
/* Modules that observe the host hold a reference, so it outlives them whatever order they are
 * freed in; avma_host_free drops the creator's. */
AvmaHost *avma_host_ref(AvmaHost *h);
void avma_host_free(AvmaHost *h);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaHost, avma_host_free)
const AvmaHostConfig *avma_host_config(AvmaHost *h);
const char *avma_host_identity(AvmaHost *h);
const AvmaLicence *avma_host_licence(AvmaHost *h);

/* A VM's identity everywhere (the host's map, history rows, metadata, the VM view and the CLI):
 * its UUID in lower case when uuid is a valid UUID, else its name (fixed channels have no UUID).
 * History rows written before this rule have the same keys. Caller frees. */
char *avma_vm_key(const char *name, const char *uuid);
/* The VM with this identity (avma_vm_key); created on first use. */
AvmaVm *avma_host_vm(AvmaHost *h, const char *name, const char *uuid);
/* The VM with this key, or NULL when the host has not seen it. */
AvmaVm *avma_host_find_vm(AvmaHost *h, const char *key);
/* All VMs seen, in no particular order (AvmaVm*, owned by the host). */
GPtrArray *avma_host_vms(AvmaHost *h);
const char *avma_vm_name(AvmaVm *vm);
const char *avma_vm_uuid(AvmaVm *vm);
/* avma_vm_key of the VM (fixed for its life). */
const char *avma_vm_key_of(AvmaVm *vm);
/* Whether the VM is a libvirt domain (its UUID is valid), which metadata can be written to. */
gboolean avma_vm_has_domain(AvmaVm *vm);
void avma_vm_set_name(AvmaVm *vm, const char *name);
/* Last ACTIVATE decision (NULL before the first; owned by the VM). */
const AvmaHostEvent *avma_vm_last_event(AvmaVm *vm);
/* After a restart: the last decisions the history holds (avma_vm_key -> AvmaHostEvent*, taken
 * over), shown for each VM until it gets a new one. A VM not in the map yet gets its own when it
 * appears. */
void avma_host_restore_decisions(AvmaHost *h, GHashTable *last);
/* Records of a pool, as a JSON object key -> value (caller unrefs). */
JsonObject *avma_vm_pool_json(AvmaVm *vm, AvmaPool pool);
/* Every pool as the guest sees it, auto-external included: pool name -> {key -> value}. */
JsonObject *avma_vm_pools_json(AvmaHost *h, AvmaVm *vm);

/* HELLO_REPLY: host items for the auto-external pool. */
AvmaRecordList *avma_host_hello_records(AvmaHost *h, AvmaVm *vm);
/* ACTIVATE: decide, log 12310 durably, notify observers, and return the reply records. NULL
 * (error set) when the decision could not be recorded; the guest then gets an ERROR. */
AvmaRecordList *avma_host_activate(AvmaHost *h, AvmaVm *vm, const AvmaRecord *recs, size_t n,
                                   GError **error);
/* The same without blocking (the request path): decide and write the 12310 record now; fn gets
 * the reply once the record is durable (a commit shares one fdatasync among the decisions
 * written before it), or reply NULL and the error when it could not be made durable. Observers
 * run after fn. Returns a ticket for avma_host_activate_cancel, or 0 (error set, fn never
 * called) when the record could not be written. */
typedef void (*AvmaHostActivateFn)(AvmaRecordList *reply, const GError *error, gpointer user);
guint avma_host_activate_async(AvmaHost *h, AvmaVm *vm, const AvmaRecord *recs, size_t n,
                               AvmaHostActivateFn fn, gpointer user, GError **error);
/* Whoever waits is going away: fn will not be called (the record stays in the log). */
void avma_host_activate_cancel(AvmaHost *h, guint ticket);
/* The key that signs each ACTIVATE_REPLY's receipt (AvmaReceipt, with AvmaHostPublicKey beside
 * it), borrowed for the host's life. avma-hostd always sets one (there is no unsigned mode, see
 * hostkey.h); a host without one (tests of other parts) replies without a receipt. */
void avma_host_set_signer(AvmaHost *h, AvmaHostKey *key);
/* Append one of the host's own records (licence, VM run edge, facts, agent note, key rotation)
 * to the record log, with this host's id; not yet durable (the next commit makes it so, or
 * avma_host_flush_log). The event observers see it once it is durable, with vm NULL. */
gboolean avma_host_append_record(AvmaHost *h, const AvmaHostEvent *ev, guint64 *seq,
                                 GError **error);
/* Make every record written so far durable now (readers of the log stop at durable records). */
gboolean avma_host_flush_log(AvmaHost *h, GError **error);
/* The record log (borrowed). */
AvmaChainLog *avma_host_chain_log(AvmaHost *h);
/* Log a 12310 Invalid Data event for something the host saw on a VM's channel. Rate-limited per
 * VM (one per 10 s, the suppressed count goes into the next). */
void avma_host_log_invalid_data(AvmaHost *h, AvmaVm *vm, const char *reason_code,
                                const char *reason);

/* The VM's KVP store. SET checks the schema writer (guest) and the per-pool cap. */
gboolean avma_vm_kvp_set(AvmaHost *h, AvmaVm *vm, const AvmaRecord *r, GError **error);
/* SET of a whole request: all records or none (a request that would pass the cap changes
 * nothing). */
gboolean avma_vm_kvp_set_all(AvmaHost *h, AvmaVm *vm, const AvmaRecord *recs, size_t n,
                             GError **error);
/* GET: append found records of (pool,key) to out. */
void avma_vm_kvp_get(AvmaHost *h, AvmaVm *vm, const AvmaRecord *r, AvmaRecordList *out);
/* DELETE one key of a guest-written pool; with r NULL, drop all the guest published. */
void avma_vm_kvp_delete(AvmaHost *h, AvmaVm *vm, const AvmaRecord *r);
/* ENUMERATE: records of pool from index start that fit in one frame; *more when some remain. */
AvmaRecordList *avma_vm_kvp_enumerate(AvmaHost *h, AvmaVm *vm, AvmaPool pool, guint32 start,
                                      gboolean *more);

/* Observers see every record after it is durable (history store, metadata, metrics, the VM
 * view, checkpoints), in the order they were added: 12310 events with their VM, the host's own
 * records (avma_host_append_record) with vm NULL. The event is borrowed for the call. */
typedef void (*AvmaHostObserver)(AvmaHost *h, AvmaVm *vm, const AvmaHostEvent *ev, gpointer user);
/* Returns an id (never 0) for avma_host_remove_observer. */
guint avma_host_add_observer(AvmaHost *h, AvmaHostObserver fn, gpointer user);
/* Remove an event or VM observer by id (0 or an unknown id: nothing). Safe from inside an
 * observer: one removed during a notification is not called again. */
void avma_host_remove_observer(AvmaHost *h, guint id);

/* VM lifecycle: whether the VM runs on this host now. The VM is the one owner of that fact;
 * everyone else asks avma_vm_running. Whoever knows says so: libvirt discovery
 * when a domain starts or stops, a fixed channel's session when its socket connects or the peer
 * goes away, and the host itself when a request arrives from a VM not known to run (a request
 * proves it does). Saying the same twice does nothing; a change goes to the VM observers (the
 * history's "ran here" intervals, metrics). why: a short reason kept in the history, such as
 * "domain-started" or "channel-connected"; AVMA_VM_REASON_RECONCILED (a periodic comparison with
 * libvirt's domain list found the change) and the recorder's restart reasons make the 12312
 * record say repaired (avma_host_event_reason_repaired). */
#define AVMA_VM_REASON_RECONCILED "reconciled"
void avma_host_vm_seen(AvmaHost *h, AvmaVm *vm, gboolean running, const char *why);
gboolean avma_vm_running(AvmaVm *vm);
typedef void (*AvmaHostVmObserver)(AvmaHost *h, AvmaVm *vm, gboolean running, const char *why,
                                   gpointer user);
/* Returns an id for avma_host_remove_observer. */
guint avma_host_add_vm_observer(AvmaHost *h, AvmaHostVmObserver fn, gpointer user);
