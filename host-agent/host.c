/* host: the host agent's core: decisions and their side effects, per-VM KVP stores. */
#include "host.h"

#include "fsutil.h"
#include "timeutil.h"

#include <gio/gio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#define INVALID_DATA_LOG_INTERVAL_US (10 * G_USEC_PER_SEC)

typedef struct {
  AvmaHostObserver fn;
  gpointer user;
} Observer;

typedef struct {
  AvmaHostVmObserver fn;
  gpointer user;
} VmObserver;

struct AvmaVm {
  char *name;
  char *uuid;
  GHashTable *pools[AVMA_POOL__COUNT]; /* key -> value */
  JsonObject *last_event;
  gint64 invalid_logged_at; /* monotonic us */
  guint invalid_suppressed;
  gboolean running; /* runs on this host now (avma_host_vm_seen) */
};

struct AvmaHost {
  const AvmaHostConfig *config;
  AvmaLicenceCache *licence;
  AvmaEventLog *log;
  char *host_id;
  char *hostname;
  char *arch;
  GHashTable *vms; /* uuid-or-name -> AvmaVm */
  GArray *observers;
  GArray *vm_observers;
};

static void vm_free(gpointer p) {
  AvmaVm *vm = p;
  g_free(vm->name);
  g_free(vm->uuid);
  for (int i = 0; i < AVMA_POOL__COUNT; i++)
    g_hash_table_unref(vm->pools[i]);
  if (vm->last_event)
    json_object_unref(vm->last_event);
  g_free(vm);
}

AvmaHost *avma_host_new(const AvmaHostConfig *config, GError **error) {
  g_autoptr(AvmaHost) h = g_new0(AvmaHost, 1);
  h->config = config;
  h->vms = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, vm_free);
  h->observers = g_array_new(FALSE, FALSE, sizeof(Observer));
  h->vm_observers = g_array_new(FALSE, FALSE, sizeof(VmObserver));
  if (!avma_ensure_dir(config->state_dir, 0750, error))
    return NULL;
  h->host_id = avma_host_id(config->state_dir, error);
  if (!h->host_id)
    return NULL;
  h->licence = avma_licence_cache_new(config->state_dir);
  g_autofree char *path = avma_host_state_path(config, "events.jsonl");
  h->log = avma_event_log_new(path, config->journal);
  h->hostname = g_strdup(g_get_host_name());
  struct utsname u;
  h->arch = g_strdup(uname(&u) == 0 ? u.machine : "unknown");
  return g_steal_pointer(&h);
}

void avma_host_free(AvmaHost *h) {
  if (!h)
    return;
  if (h->vms)
    g_hash_table_unref(h->vms);
  if (h->observers)
    g_array_unref(h->observers);
  if (h->vm_observers)
    g_array_unref(h->vm_observers);
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
  const char *id = uuid && *uuid ? uuid : name;
  AvmaVm *vm = g_hash_table_lookup(h->vms, id);
  if (vm) {
    if (name && g_strcmp0(vm->name, name))
      avma_vm_set_name(vm, name);
    return vm;
  }
  vm = g_new0(AvmaVm, 1);
  vm->name = g_strdup(name ? name : "");
  vm->uuid = g_strdup(uuid ? uuid : "");
  for (int i = 0; i < AVMA_POOL__COUNT; i++)
    vm->pools[i] = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_insert(h->vms, g_strdup(id), vm);
  return vm;
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
void avma_vm_set_name(AvmaVm *vm, const char *name) {
  g_free(vm->name);
  vm->name = g_strdup(name);
}
JsonObject *avma_vm_last_event(AvmaVm *vm) {
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

static void notify_observers(AvmaHost *h, AvmaVm *vm, JsonObject *ev) {
  /* A request came over the VM's channel, so it runs here, whatever else said so or not. */
  if (!vm->running)
    avma_host_vm_seen(h, vm, TRUE, "request-received");
  for (guint i = 0; i < h->observers->len; i++) {
    Observer *o = &g_array_index(h->observers, Observer, i);
    o->fn(h, vm, ev, o->user);
  }
}

static void set_vm_fields(JsonObject *ev, AvmaVm *vm) {
  json_object_set_string_member(ev, "vm", vm->name);
  json_object_set_string_member(ev, "vm_uuid", vm->uuid);
}

AvmaRecordList *avma_host_activate(AvmaHost *h, AvmaVm *vm, const AvmaRecord *recs, size_t n,
                                   GError **error) {
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
  gint64 until = d.notification == AVMA_NOTIFY_SUCCESS ? now + h->config->validity : 0;
  g_autofree char *now_s = avma_time_format(now);
  g_autofree char *until_s = avma_time_format(until);
  char last5[6] = "";
  if (key) {
    char norm[64];
    if (avma_key_normalise(key, norm, sizeof norm))
      avma_key_last5(norm, last5);
  }
  /* The guest's product as the key says it, else as it declared it. */
  const char *gver = d.entry ? avma_version_name(d.entry->version) : (dver ? dver : "");
  const char *ged = d.entry ? avma_edition_name(d.entry->edition) : (ded ? ded : "");

  g_autoptr(JsonObject) ev = avma_event_new(AVMA_EVENT_HOST, d.notification);
  json_object_set_string_member(ev, "time", now_s);
  json_object_set_string_member(ev, "reason", d.text);
  json_object_set_string_member(ev, "reason_code", avma_reason_code(d.reason));
  set_vm_fields(ev, vm);
  json_object_set_string_member(ev, "guest_version", gver);
  json_object_set_string_member(ev, "guest_edition", ged);
  json_object_set_string_member(ev, "declared_version", dver ? dver : "");
  json_object_set_string_member(ev, "declared_edition", ded ? ded : "");
  json_object_set_string_member(ev, "key_last5", last5);
  json_object_set_string_member(ev, "host_version",
                                l->version ? avma_version_name(l->version) : "");
  json_object_set_string_member(ev, "host_edition",
                                l->version ? avma_edition_name(l->edition) : "");
  json_object_set_boolean_member(ev, "host_activated", l->activated);
  json_object_set_string_member(ev, "host_id", h->host_id);
  json_object_set_string_member(ev, "granted_until", until_s);

  g_autofree char *msg = g_strdup_printf("AVMA request from %s: %s (%s)", vm->name,
                                         avma_notification_name(d.notification), d.text);
  /* Durable before the guest hears the answer: an acknowledged decision is never lost. */
  if (!avma_event_log_append(h->log, ev, msg, error))
    return NULL;
  if (vm->last_event)
    json_object_unref(vm->last_event);
  vm->last_event = json_object_ref(ev);

  AvmaRecordList *r = avma_record_list_new();
  avma_record_list_add(r, AVMA_KEY_AvmaNotification, avma_notification_name(d.notification));
  avma_record_list_add(r, AVMA_KEY_AvmaReasonCode, avma_reason_code(d.reason));
  avma_record_list_add(r, AVMA_KEY_AvmaReason, d.text);
  avma_record_list_add(r, AVMA_KEY_AvmaGrantedUntil, until_s);
  avma_record_list_add(r, AVMA_KEY_AvmaActivationTime, now_s);
  avma_record_list_add(r, AVMA_KEY_AvmaHostId, h->host_id);
  avma_record_list_add(r, AVMA_KEY_AvmaHostVersion,
                       l->version ? avma_version_name(l->version) : "");
  /* The answer is also kept in the VM's external pool, where GET/ENUMERATE find it. */
  for (guint i = 0; i < avma_record_list_len(r); i++) {
    AvmaRecord rec = avma_record_list_get(r, i);
    g_hash_table_replace(vm->pools[AVMA_POOL_EXTERNAL], g_strndup(rec.key, rec.key_len),
                         g_strndup(rec.value, rec.value_len));
  }
  notify_observers(h, vm, ev);
  return r;
}

void avma_host_log_invalid_data(AvmaHost *h, AvmaVm *vm, const char *reason_code,
                                const char *reason) {
  gint64 mono = g_get_monotonic_time();
  if (vm->invalid_logged_at && mono - vm->invalid_logged_at < INVALID_DATA_LOG_INTERVAL_US) {
    vm->invalid_suppressed++;
    return;
  }
  vm->invalid_logged_at = mono;
  g_autoptr(JsonObject) ev = avma_event_new(AVMA_EVENT_HOST, AVMA_NOTIFY_INVALID_DATA);
  json_object_set_string_member(ev, "reason", reason);
  json_object_set_string_member(ev, "reason_code", reason_code);
  set_vm_fields(ev, vm);
  json_object_set_int_member(ev, "suppressed", vm->invalid_suppressed);
  const AvmaLicence *l = avma_host_licence(h);
  json_object_set_string_member(ev, "host_version",
                                l->version ? avma_version_name(l->version) : "");
  json_object_set_string_member(ev, "host_id", h->host_id);
  vm->invalid_suppressed = 0;
  g_autofree char *msg =
      g_strdup_printf("AVMA request from %s: Invalid Data (%s)", vm->name, reason);
  g_autoptr(GError) err = NULL;
  if (!avma_event_log_append(h->log, ev, msg, &err))
    g_warning("cannot log event: %s", err->message);
  else
    notify_observers(h, vm, ev);
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

void avma_host_add_observer(AvmaHost *h, AvmaHostObserver fn, gpointer user) {
  Observer o = {fn, user};
  g_array_append_val(h->observers, o);
}

void avma_host_vm_seen(AvmaHost *h, AvmaVm *vm, gboolean running, const char *why) {
  if (!vm->running == !running)
    return;
  vm->running = running;
  g_debug("%s: %s (%s)", vm->name, running ? "running" : "stopped", why ? why : "");
  for (guint i = 0; i < h->vm_observers->len; i++) {
    VmObserver *o = &g_array_index(h->vm_observers, VmObserver, i);
    o->fn(h, vm, running, why, o->user);
  }
}

gboolean avma_vm_running(AvmaVm *vm) {
  return vm->running;
}

void avma_host_add_vm_observer(AvmaHost *h, AvmaHostVmObserver fn, gpointer user) {
  VmObserver o = {fn, user};
  g_array_append_val(h->vm_observers, o);
}
