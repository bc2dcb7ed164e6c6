/* host: the host agent's core: decisions and their side effects, per-VM KVP stores. */
#include "host.h"

#include "fsutil.h"
#include "receipt.h"
#include "state-files.h"
#include "timeutil.h"

#include <gio/gio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#define INVALID_DATA_LOG_INTERVAL_US (10 * G_USEC_PER_SEC)

/* One list for both kinds of observer, so ids are unique across them. */
typedef struct {
  guint id; /* 0: removed during a notification, dropped after it */
  AvmaHostObserver fn;
  AvmaHostVmObserver vm_fn;
  gpointer user;
} Observer;

struct AvmaVm {
  char *key; /* avma_vm_key */
  char *name;
  char *uuid;
  GHashTable *pools[AVMA_POOL__COUNT]; /* key -> value */
  AvmaHostEvent *last_event;
  gint64 invalid_logged_at; /* monotonic us */
  guint invalid_suppressed;
  gboolean running; /* runs on this host now (avma_host_vm_seen) */
};

struct AvmaHost {
  gint refs;
  const AvmaHostConfig *config;
  AvmaLicenceCache *licence;
  AvmaEventLog *log;   /* the journal's copy; its settings only */
  AvmaChainLog *chain; /* STATE/events.jsonl: the durable record */
  AvmaHostKey *signer; /* signs the receipts (borrowed); NULL: none */
  GHashTable *pending; /* ticket -> Pending: decisions waiting for their commit */
  guint next_ticket;
  char *host_id;
  char *hostname;
  char *arch;
  GHashTable *vms;      /* avma_vm_key -> AvmaVm */
  GHashTable *restored; /* avma_vm_key -> AvmaHostEvent*: last decisions of VMs not seen yet */
  GArray *observers;
  guint next_id;
  guint notifying; /* depth of notifications running: removal only marks then */
};

static void vm_free(gpointer p) {
  AvmaVm *vm = p;
  g_free(vm->key);
  g_free(vm->name);
  g_free(vm->uuid);
  for (int i = 0; i < AVMA_POOL__COUNT; i++)
    g_hash_table_unref(vm->pools[i]);
  avma_host_event_free(vm->last_event);
  g_free(vm);
}

char *avma_vm_key(const char *name, const char *uuid) {
  if (uuid && g_uuid_string_is_valid(uuid))
    return g_ascii_strdown(uuid, -1);
  return g_strdup(name ? name : "");
}

AvmaHost *avma_host_new(const AvmaHostConfig *config, GError **error) {
  g_autoptr(AvmaHost) h = g_new0(AvmaHost, 1);
  h->refs = 1;
  h->config = config;
  h->vms = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, vm_free);
  h->observers = g_array_new(FALSE, FALSE, sizeof(Observer));
  if (!avma_ensure_dir(config->state_dir, 0750, error))
    return NULL;
  h->host_id = avma_host_id(config->state_dir, error);
  if (!h->host_id)
    return NULL;
  h->licence = avma_licence_cache_new(config->state_dir);
  g_autofree char *path = avma_host_state_path(config, AVMA_HOST_EVENTS_FILE);
  h->log = avma_event_log_new(path, config->journal);
  h->chain = avma_chain_log_open(path, NULL, error);
  if (!h->chain)
    return NULL;
  if (config->commit_thread)
    avma_chain_log_use_thread(h->chain);
  h->pending = g_hash_table_new(g_direct_hash, g_direct_equal);
  h->hostname = g_strdup(g_get_host_name());
  struct utsname u;
  h->arch = g_strdup(uname(&u) == 0 ? u.machine : "unknown");
  return g_steal_pointer(&h);
}

AvmaHost *avma_host_ref(AvmaHost *h) {
  g_atomic_int_inc(&h->refs);
  return h;
}

void avma_host_free(AvmaHost *h) {
  if (!h || !g_atomic_int_dec_and_test(&h->refs))
    return;
  if (h->observers && h->observers->len)
    g_warning("host freed with %u observer(s) still attached", h->observers->len);
  /* Pending decisions are committed first (their sessions, gone, cancelled their replies). */
  avma_chain_log_free(h->chain);
  if (h->pending)
    g_hash_table_unref(h->pending);
  if (h->vms)
    g_hash_table_unref(h->vms);
  if (h->restored)
    g_hash_table_unref(h->restored);
  if (h->observers)
    g_array_unref(h->observers);
  avma_licence_cache_free(h->licence);
  avma_event_log_free(h->log);
  g_free(h->host_id);
  g_free(h->hostname);
  g_free(h->arch);
  g_free(h);
}

const AvmaHostConfig *avma_host_config(AvmaHost *h) {
  return h->config;
}
const char *avma_host_identity(AvmaHost *h) {
  return h->host_id;
}

const AvmaLicence *avma_host_licence(AvmaHost *h) {
  gboolean changed = FALSE;
  const AvmaLicence *l = avma_licence_cache_get(h->licence, &changed);
  if (changed)
    g_message("host licence: %s %s, %s", avma_version_name(l->version),
              avma_edition_name(l->edition), l->activated ? "activated" : "not activated");
  return l;
}

AvmaVm *avma_host_vm(AvmaHost *h, const char *name, const char *uuid) {
  g_autofree char *key = avma_vm_key(name, uuid);
  AvmaVm *vm = g_hash_table_lookup(h->vms, key);
  if (vm) {
    if (name && g_strcmp0(vm->name, name))
      avma_vm_set_name(vm, name);
    return vm;
  }
  vm = g_new0(AvmaVm, 1);
  vm->key = g_steal_pointer(&key);
  vm->name = g_strdup(name ? name : "");
  vm->uuid = g_strdup(uuid ? uuid : "");
  for (int i = 0; i < AVMA_POOL__COUNT; i++)
    vm->pools[i] = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  gpointer restored_key = NULL;
  if (h->restored &&
      g_hash_table_steal_extended(h->restored, vm->key, &restored_key, (gpointer *)&vm->last_event))
    g_free(restored_key);
  g_hash_table_insert(h->vms, vm->key, vm);
  return vm;
}

void avma_host_restore_decisions(AvmaHost *h, GHashTable *last) {
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init(&it, last);
  while (g_hash_table_iter_next(&it, &k, &v)) {
    AvmaVm *vm = g_hash_table_lookup(h->vms, k);
    if (vm && vm->last_event)
      continue; /* decided since the start: newer than the history */
    g_hash_table_iter_steal(&it);
    if (vm) {
      vm->last_event = v;
      g_free(k);
      continue;
    }
    if (!h->restored)
      h->restored = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify)avma_host_event_free);
    g_hash_table_replace(h->restored, k, v);
  }
}

AvmaVm *avma_host_find_vm(AvmaHost *h, const char *key) {
  return g_hash_table_lookup(h->vms, key);
}

GPtrArray *avma_host_vms(AvmaHost *h) {
  GPtrArray *out = g_ptr_array_new();
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init(&it, h->vms);
  while (g_hash_table_iter_next(&it, NULL, &v))
    g_ptr_array_add(out, v);
  return out;
}

const char *avma_vm_name(AvmaVm *vm) {
  return vm->name;
}
const char *avma_vm_uuid(AvmaVm *vm) {
  return vm->uuid;
}
const char *avma_vm_key_of(AvmaVm *vm) {
  return vm->key;
}
gboolean avma_vm_has_domain(AvmaVm *vm) {
  return g_uuid_string_is_valid(vm->uuid);
}
void avma_vm_set_name(AvmaVm *vm, const char *name) {
  g_free(vm->name);
  vm->name = g_strdup(name);
}
const AvmaHostEvent *avma_vm_last_event(AvmaVm *vm) {
  return vm->last_event;
}

JsonObject *avma_vm_pool_json(AvmaVm *vm, AvmaPool pool) {
  JsonObject *o = json_object_new();
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init(&it, vm->pools[pool]);
  while (g_hash_table_iter_next(&it, &k, &v))
    json_object_set_string_member(o, k, v);
  return o;
}

JsonObject *avma_vm_pools_json(AvmaHost *h, AvmaVm *vm) {
  JsonObject *o = json_object_new();
  for (int p = 0; p < AVMA_POOL__COUNT; p++)
    if (p != AVMA_POOL_AUTO_EXTERNAL)
      json_object_set_object_member(o, avma_pool_name((AvmaPool)p),
                                    avma_vm_pool_json(vm, (AvmaPool)p));
  /* Computed for each HELLO, not stored: the same records the guest is given. */
  JsonObject *ext = json_object_new();
  g_autoptr(AvmaRecordList) hello = avma_host_hello_records(h, vm);
  for (guint i = 0; i < avma_record_list_len(hello); i++) {
    AvmaRecord r = avma_record_list_get(hello, i);
    g_autofree char *k = g_strndup(r.key, r.key_len);
    g_autofree char *v = g_strndup(r.value, r.value_len);
    json_object_set_string_member(ext, k, v);
  }
  json_object_set_object_member(o, avma_pool_name(AVMA_POOL_AUTO_EXTERNAL), ext);
  return o;
}

/* The host sends only schema-valid values: libvirt allows names of any length with tabs and
 * newlines, and the guest rejects a reply that breaks the schema (Invalid Data, every time). The
 * full name stays in the host's own records. */
static void add_schema_text(AvmaRecordList *r, AvmaKeyId id, const char *value) {
  gsize cap = (gsize)avma_schema_keys[id].max_len + 1;
  g_autofree char *safe = g_malloc(cap);
  avma_text_sanitize(value ? value : "", value ? strlen(value) : 0, safe, cap);
  avma_record_list_add(r, id, safe);
}

AvmaRecordList *avma_host_hello_records(AvmaHost *h, AvmaVm *vm) {
  const AvmaLicence *l = avma_host_licence(h);
  AvmaRecordList *r = avma_record_list_new();
  avma_record_list_add(r, AVMA_KEY_HostName, h->hostname);
  avma_record_list_add(r, AVMA_KEY_PhysicalHostName, h->hostname);
  avma_record_list_add(r, AVMA_KEY_PhysicalHostNameFullyQualified, h->hostname);
  add_schema_text(r, AVMA_KEY_VirtualMachineName, vm->name);
  avma_record_list_add(r, AVMA_KEY_VirtualMachineId, vm->uuid);
  gboolean set = l->version != AVMA_VERSION_UNKNOWN;
  avma_record_list_add(r, AVMA_KEY_HostingSystemEditionId,
                       set ? avma_edition_name(l->edition) : "");
  int major = 0, minor = 0;
  if (set) {
    major = l->version == AVMA_VERSION_2012R2 ? 2012 : atoi(avma_version_name(l->version));
    minor = l->version == AVMA_VERSION_2012R2 ? 2 : 0;
  }
  g_autofree char *maj = g_strdup_printf("%d", major);
  g_autofree char *min = g_strdup_printf("%d", minor);
  avma_record_list_add(r, AVMA_KEY_HostingSystemOsMajor, maj);
  avma_record_list_add(r, AVMA_KEY_HostingSystemOsMinor, min);
  avma_record_list_add(r, AVMA_KEY_HostingSystemProcessorArchitecture, h->arch);
  return r;
}

/* Observers removed while a notification runs are only marked (id 0); dropped once it ends. */
static void compact_observers(AvmaHost *h) {
  if (h->notifying)
    return;
  for (guint i = h->observers->len; i-- > 0;)
    if (!g_array_index(h->observers, Observer, i).id)
      g_array_remove_index(h->observers, i);
}

static void notify_observers(AvmaHost *h, AvmaVm *vm, const AvmaHostEvent *ev) {
  /* A request came over the VM's channel, so it runs here, whatever else said so or not. */
  if (vm && !vm->running)
    avma_host_vm_seen(h, vm, TRUE, "request-received");
  h->notifying++;
  /* By index, re-reading the array: an observer may add or remove others. */
  for (guint i = 0; i < h->observers->len; i++) {
    Observer o = g_array_index(h->observers, Observer, i);
    if (o.id && o.fn)
      o.fn(h, vm, ev, o.user);
  }
  h->notifying--;
  compact_observers(h);
}

/* What every 12310 record says about the VM and the host. */
static void init_host_event(AvmaHost *h, AvmaVm *vm, AvmaHostEvent *ev, AvmaHostEventKind kind,
                            gint64 now, const AvmaLicence *l) {
  memset(ev, 0, sizeof *ev);
  ev->kind = kind;
  ev->event_id = AVMA_EVENT_HOST;
  ev->time = now;
  ev->reason = AVMA_HOST_EVENT_NONE;
  ev->vm = g_strdup(vm->name);
  ev->vm_uuid = g_strdup(vm->uuid);
  ev->host_version = g_strdup(l->version ? avma_version_name(l->version) : "");
  ev->host_id = g_strdup(h->host_id);
}

/* A decision written but not yet durable: its reply and observers wait for the commit. */
typedef struct {
  AvmaHost *host;
  guint ticket;
  AvmaVm *vm;
  AvmaHostEvent *ev;
  AvmaRecordList *reply;
  AvmaHostActivateFn fn; /* NULL: cancelled */
  gpointer user;
} Pending;

static void pending_free(Pending *p) {
  avma_host_event_free(p->ev);
  avma_record_list_free(p->reply);
  g_free(p);
}

/* The receipt of the decision just written: the chain's head is that record now (its number and
 * the hash of its line). Signed before the commit's fdatasync, sent after it with the rest. A
 * receipt that cannot be made is logged and left out: the decision stands. */
static void add_receipt(AvmaHost *h, const AvmaHostEvent *ev, const char *now_s,
                        const char *until_s, AvmaRecordList *r) {
  const AvmaKeyPair *kp = avma_hostkey_get(h->signer, NULL);
  g_autofree char *licence = *ev->host_version
                                 ? g_strdup_printf("%s %s", ev->host_version, ev->host_edition)
                                 : g_strdup("");
  g_autofree char *product = g_strdup_printf("%s %s", ev->guest_version, ev->guest_edition);
  AvmaReceipt rc = {.host_id = ev->host_id,
                    .licence = licence,
                    .vm_id = ev->vm_uuid ? ev->vm_uuid : "",
                    .vm_name = ev->vm ? ev->vm : "",
                    .product = g_strstrip(product),
                    .key_last5 = ev->key_last5,
                    .notification = (char *)avma_notification_name(ev->notification),
                    .granted_until = (char *)until_s,
                    .decided_at = (char *)now_s,
                    .seq = avma_chain_log_head_seq(h->chain)};
  g_strlcpy(rc.head, avma_chain_log_head_hash(h->chain), sizeof rc.head);
  g_autoptr(GError) err = NULL;
  g_autofree char *note = avma_receipt_sign(&rc, kp, &err);
  if (!note) {
    g_warning("receipt of record %" G_GUINT64_FORMAT " not signed: %s", rc.seq, err->message);
    return;
  }
  g_autofree char *pub = avma_public_key_base64(&kp->pub);
  avma_record_list_add(r, AVMA_KEY_AvmaReceipt, note);
  avma_record_list_add(r, AVMA_KEY_AvmaHostPublicKey, pub);
}

/* Decide and write the 12310 record; the reply's records, kept until the record is durable. */
static Pending *decide(AvmaHost *h, AvmaVm *vm, const AvmaRecord *recs, size_t n, GError **error) {
  g_autofree char *key = avma_records_dup(recs, n, AVMA_KEY_AvmaKey);
  g_autofree char *dver = avma_records_dup(recs, n, AVMA_KEY_AvmaProductVersion);
  g_autofree char *ded = avma_records_dup(recs, n, AVMA_KEY_AvmaProductEdition);
  const AvmaLicence *l = avma_host_licence(h);
  AvmaHostLicence hl = avma_licence_policy_view(l);
  AvmaRequest req = {.key = key,
                     .declared_version = dver && *dver ? dver : NULL,
                     .declared_edition = ded && *ded ? ded : NULL};
  AvmaDecision d;
  avma_policy_decide(&hl, &req, &d);

  gint64 now = avma_now();
  char last5[6] = "";
  if (key) {
    char norm[64];
    if (avma_key_normalise(key, norm, sizeof norm))
      avma_key_last5(norm, last5);
  }
  g_autoptr(AvmaHostEvent) ev = g_new0(AvmaHostEvent, 1);
  init_host_event(h, vm, ev, AVMA_HOST_EVENT_DECISION, now, l);
  ev->notification = d.notification;
  ev->reason = d.reason;
  ev->reason_text = g_strdup(d.text);
  /* The guest's product as the key says it, else as it declared it. */
  ev->guest_version = g_strdup(d.entry ? avma_version_name(d.entry->version) : (dver ? dver : ""));
  ev->guest_edition = g_strdup(d.entry ? avma_edition_name(d.entry->edition) : (ded ? ded : ""));
  ev->declared_version = g_strdup(dver ? dver : "");
  ev->declared_edition = g_strdup(ded ? ded : "");
  ev->key_last5 = g_strdup(last5);
  ev->host_edition = g_strdup(l->version ? avma_edition_name(l->edition) : "");
  ev->host_activated = l->activated;
  ev->granted_until = d.notification == AVMA_NOTIFY_SUCCESS ? now + h->config->validity : 0;

  if (!avma_host_event_append_chained(h->chain, h->log, ev, NULL, error))
    return NULL;

  g_autofree char *now_s = avma_host_event_time_text(now);
  g_autofree char *until_s = avma_host_event_time_text(ev->granted_until);
  AvmaRecordList *r = avma_record_list_new();
  avma_record_list_add(r, AVMA_KEY_AvmaNotification, avma_notification_name(d.notification));
  avma_record_list_add(r, AVMA_KEY_AvmaReasonCode, avma_reason_code(d.reason));
  avma_record_list_add(r, AVMA_KEY_AvmaReason, d.text);
  avma_record_list_add(r, AVMA_KEY_AvmaGrantedUntil, until_s);
  avma_record_list_add(r, AVMA_KEY_AvmaActivationTime, now_s);
  avma_record_list_add(r, AVMA_KEY_AvmaHostId, h->host_id);
  avma_record_list_add(r, AVMA_KEY_AvmaHostVersion, ev->host_version);
  if (h->signer)
    add_receipt(h, ev, now_s, until_s, r);
  Pending *p = g_new0(Pending, 1);
  p->host = h;
  p->vm = vm;
  p->ev = g_steal_pointer(&ev);
  p->reply = r;
  return p;
}

/* The record is durable: the VM's last decision, its external pool, then observers. */
static void apply(Pending *p) {
  AvmaVm *vm = p->vm;
  avma_host_event_free(vm->last_event);
  vm->last_event = avma_host_event_copy(p->ev);
  /* The answer is also kept in the VM's external pool, where GET/ENUMERATE find it. */
  for (guint i = 0; i < avma_record_list_len(p->reply); i++) {
    AvmaRecord rec = avma_record_list_get(p->reply, i);
    g_hash_table_replace(vm->pools[AVMA_POOL_EXTERNAL], g_strndup(rec.key, rec.key_len),
                         g_strndup(rec.value, rec.value_len));
  }
}

AvmaRecordList *avma_host_activate(AvmaHost *h, AvmaVm *vm, const AvmaRecord *recs, size_t n,
                                   GError **error) {
  Pending *p = decide(h, vm, recs, n, error);
  if (!p)
    return NULL;
  /* Durable before the guest hears the answer: an acknowledged decision is never lost. */
  if (!avma_chain_log_sync(h->chain, error)) {
    pending_free(p);
    return NULL;
  }
  apply(p);
  notify_observers(h, vm, p->ev);
  AvmaRecordList *r = g_steal_pointer(&p->reply);
  pending_free(p);
  return r;
}

static void on_durable(const GError *error, gpointer user) {
  Pending *p = user;
  AvmaHost *h = p->host;
  g_hash_table_remove(h->pending, GUINT_TO_POINTER(p->ticket));
  if (!error)
    apply(p);
  /* The guest first: observers (history, metadata, the views) do their work after the reply. */
  if (p->fn)
    p->fn(error ? NULL : p->reply, error, p->user);
  if (!error)
    notify_observers(h, p->vm, p->ev);
  pending_free(p);
}

guint avma_host_activate_async(AvmaHost *h, AvmaVm *vm, const AvmaRecord *recs, size_t n,
                               AvmaHostActivateFn fn, gpointer user, GError **error) {
  Pending *p = decide(h, vm, recs, n, error);
  if (!p)
    return 0;
  p->fn = fn;
  p->user = user;
  if (!++h->next_ticket)
    h->next_ticket = 1;
  p->ticket = h->next_ticket;
  g_hash_table_insert(h->pending, GUINT_TO_POINTER(p->ticket), p);
  /* Group commit: one fdatasync for every record written before the commit runs. */
  avma_chain_log_when_durable(h->chain, on_durable, p);
  return p->ticket;
}

void avma_host_activate_cancel(AvmaHost *h, guint ticket) {
  Pending *p = g_hash_table_lookup(h->pending, GUINT_TO_POINTER(ticket));
  if (p)
    p->fn = NULL; /* the record stays: it is written and will be durable */
}

/* A host record written but not yet durable: its observers wait for the commit. */
typedef struct {
  AvmaHost *host; /* borrowed: the host's chain tells its waiters before the host goes */
  AvmaHostEvent *ev;
} PendingRecord;

static void on_record_durable(const GError *error, gpointer user) {
  PendingRecord *p = user;
  if (!error)
    notify_observers(p->host, NULL, p->ev);
  avma_host_event_free(p->ev);
  g_free(p);
}

gboolean avma_host_append_record(AvmaHost *h, const AvmaHostEvent *ev, guint64 *seq,
                                 GError **error) {
  g_autoptr(AvmaHostEvent) own = avma_host_event_copy(ev);
  g_free(own->host_id);
  own->host_id = g_strdup(h->host_id);
  if (!avma_host_event_append_chained(h->chain, h->log, own, seq, error))
    return FALSE;
  PendingRecord *p = g_new0(PendingRecord, 1);
  p->host = h;
  p->ev = g_steal_pointer(&own);
  avma_chain_log_when_durable(h->chain, on_record_durable, p);
  return TRUE;
}

gboolean avma_host_flush_log(AvmaHost *h, GError **error) {
  return avma_chain_log_sync(h->chain, error);
}

void avma_host_set_signer(AvmaHost *h, AvmaHostKey *key) {
  h->signer = key;
}

AvmaChainLog *avma_host_chain_log(AvmaHost *h) {
  return h->chain;
}

void avma_host_log_invalid_data(AvmaHost *h, AvmaVm *vm, const char *reason_code,
                                const char *reason) {
  gint64 mono = g_get_monotonic_time();
  if (vm->invalid_logged_at && mono - vm->invalid_logged_at < INVALID_DATA_LOG_INTERVAL_US) {
    vm->invalid_suppressed++;
    return;
  }
  vm->invalid_logged_at = mono;
  g_auto(AvmaHostEvent) ev;
  init_host_event(h, vm, &ev, AVMA_HOST_EVENT_INVALID_DATA, avma_now(), avma_host_licence(h));
  ev.notification = AVMA_NOTIFY_INVALID_DATA;
  ev.error_code = g_strdup(reason_code);
  ev.reason_text = g_strdup(reason);
  ev.suppressed = vm->invalid_suppressed;
  vm->invalid_suppressed = 0;
  g_autoptr(GError) err = NULL;
  /* Not waited for: nothing is acknowledged on it. The next commit makes it durable. */
  if (!avma_host_event_append_chained(h->chain, h->log, &ev, NULL, &err))
    g_warning("cannot log event: %s", err->message);
  else
    notify_observers(h, vm, &ev);
}

gboolean avma_vm_kvp_set(AvmaHost *h, AvmaVm *vm, const AvmaRecord *r, GError **error) {
  if (r->pool != AVMA_POOL_GUEST && r->pool != AVMA_POOL_AUTO) {
    g_set_error(error, AVMA_MSG_ERROR_DOMAIN, AVMA_MSG_ERROR_SCHEMA,
                "pool %s is not written by the guest", avma_pool_name(r->pool));
    return FALSE;
  }
  GHashTable *t = vm->pools[r->pool];
  g_autofree char *key = g_strndup(r->key, r->key_len);
  if (!g_hash_table_contains(t, key) && g_hash_table_size(t) >= h->config->max_records) {
    g_set_error(error, AVMA_MSG_ERROR_DOMAIN, AVMA_MSG_ERROR_TOO_BIG,
                "pool %s already holds %u records", avma_pool_name(r->pool),
                h->config->max_records);
    return FALSE;
  }
  g_hash_table_replace(t, g_steal_pointer(&key), g_strndup(r->value, r->value_len));
  return TRUE;
}

gboolean avma_vm_kvp_set_all(AvmaHost *h, AvmaVm *vm, const AvmaRecord *recs, size_t n,
                             GError **error) {
  /* Count the keys each pool would gain (a key repeated within the request counts once), so the
   * cap is checked before anything changes. n is at most AVMA_KVP_MAX_RECORDS. */
  guint added[AVMA_POOL__COUNT] = {0};
  for (size_t i = 0; i < n; i++) {
    const AvmaRecord *r = &recs[i];
    if (r->pool != AVMA_POOL_GUEST && r->pool != AVMA_POOL_AUTO) {
      g_set_error(error, AVMA_MSG_ERROR_DOMAIN, AVMA_MSG_ERROR_SCHEMA,
                  "pool %s is not written by the guest", avma_pool_name(r->pool));
      return FALSE;
    }
    gboolean repeat = FALSE;
    for (size_t j = 0; j < i && !repeat; j++)
      repeat = recs[j].pool == r->pool && recs[j].key_len == r->key_len &&
               memcmp(recs[j].key, r->key, r->key_len) == 0;
    g_autofree char *key = g_strndup(r->key, r->key_len);
    if (!repeat && !g_hash_table_contains(vm->pools[r->pool], key))
      added[r->pool]++;
  }
  for (int p = 0; p < AVMA_POOL__COUNT; p++) {
    if (added[p] && g_hash_table_size(vm->pools[p]) + added[p] > h->config->max_records) {
      g_set_error(error, AVMA_MSG_ERROR_DOMAIN, AVMA_MSG_ERROR_TOO_BIG,
                  "pool %s would hold more than %u records", avma_pool_name((AvmaPool)p),
                  h->config->max_records);
      return FALSE;
    }
  }
  for (size_t i = 0; i < n; i++)
    if (!avma_vm_kvp_set(h, vm, &recs[i], error))
      return FALSE; /* cannot happen after the checks above */
  return TRUE;
}

void avma_vm_kvp_get(AvmaHost *h, AvmaVm *vm, const AvmaRecord *r, AvmaRecordList *out) {
  g_autofree char *key = g_strndup(r->key, r->key_len);
  if (r->pool == AVMA_POOL_AUTO_EXTERNAL) {
    g_autoptr(AvmaRecordList) hello = avma_host_hello_records(h, vm);
    for (guint i = 0; i < avma_record_list_len(hello); i++) {
      AvmaRecord hr = avma_record_list_get(hello, i);
      if (avma_record_key_is(&hr, key))
        avma_record_list_add_raw(out, hr.pool, key, hr.value);
    }
    return;
  }
  const char *v = g_hash_table_lookup(vm->pools[r->pool], key);
  if (v)
    avma_record_list_add_raw(out, r->pool, key, v);
}

void avma_vm_kvp_delete(AvmaHost *h, AvmaVm *vm, const AvmaRecord *r) {
  (void)h;
  if (!r) {
    g_hash_table_remove_all(vm->pools[AVMA_POOL_GUEST]);
    g_hash_table_remove_all(vm->pools[AVMA_POOL_AUTO]);
    return;
  }
  if (r->pool != AVMA_POOL_GUEST && r->pool != AVMA_POOL_AUTO)
    return;
  g_autofree char *key = g_strndup(r->key, r->key_len);
  g_hash_table_remove(vm->pools[r->pool], key);
}

AvmaRecordList *avma_vm_kvp_enumerate(AvmaHost *h, AvmaVm *vm, AvmaPool pool, guint32 start,
                                      gboolean *more) {
  AvmaRecordList *out = avma_record_list_new();
  *more = FALSE;
  g_autoptr(GList) keys = NULL;
  g_autoptr(AvmaRecordList) hello = NULL;
  if (pool == AVMA_POOL_AUTO_EXTERNAL) {
    hello = avma_host_hello_records(h, vm);
    for (guint i = start; i < avma_record_list_len(hello); i++) {
      AvmaRecord r = avma_record_list_get(hello, i);
      avma_record_list_add_raw(out, r.pool, r.key, r.value);
    }
    return out;
  }
  keys = g_list_sort(g_hash_table_get_keys(vm->pools[pool]), (GCompareFunc)strcmp);
  gsize size = 2;
  guint idx = 0;
  for (GList *k = keys; k; k = k->next, idx++) {
    if (idx < start)
      continue;
    const char *v = g_hash_table_lookup(vm->pools[pool], k->data);
    gsize rec = 5 + strlen(k->data) + strlen(v);
    if (size + rec > AVMA_FRAME_MAX_PAYLOAD || avma_record_list_len(out) >= AVMA_KVP_MAX_RECORDS) {
      *more = TRUE;
      break;
    }
    size += rec;
    avma_record_list_add_raw(out, pool, k->data, v);
  }
  return out;
}

static guint add_observer(AvmaHost *h, AvmaHostObserver fn, AvmaHostVmObserver vm_fn,
                          gpointer user) {
  Observer o = {.id = ++h->next_id, .fn = fn, .vm_fn = vm_fn, .user = user};
  g_array_append_val(h->observers, o);
  return o.id;
}

guint avma_host_add_observer(AvmaHost *h, AvmaHostObserver fn, gpointer user) {
  return add_observer(h, fn, NULL, user);
}

guint avma_host_add_vm_observer(AvmaHost *h, AvmaHostVmObserver fn, gpointer user) {
  return add_observer(h, NULL, fn, user);
}

void avma_host_remove_observer(AvmaHost *h, guint id) {
  if (!id)
    return;
  for (guint i = 0; i < h->observers->len; i++)
    if (g_array_index(h->observers, Observer, i).id == id)
      g_array_index(h->observers, Observer, i).id = 0;
  compact_observers(h);
}

void avma_host_vm_seen(AvmaHost *h, AvmaVm *vm, gboolean running, const char *why) {
  if (!vm->running == !running)
    return;
  vm->running = running;
  g_debug("%s: %s (%s)", vm->name, running ? "running" : "stopped", why ? why : "");
  h->notifying++;
  for (guint i = 0; i < h->observers->len; i++) {
    Observer o = g_array_index(h->observers, Observer, i);
    if (o.id && o.vm_fn)
      o.vm_fn(h, vm, running, why, o.user);
  }
  h->notifying--;
  compact_observers(h);
}

gboolean avma_vm_running(AvmaVm *vm) {
  return vm->running;
}
