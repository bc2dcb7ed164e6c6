/* watcher: libvirt connection, domain events and one channel session per domain. */
#include "watcher.h"

#include "domxml.h"
#include "kvp-schema.h"
#include "provision.h"
#include "session.h"
#include "timeutil.h"
#include "virt.h"
#include "vmview.h"

#include <libvirt-glib/libvirt-glib.h>
#include <libvirt/virterror.h>
#include <stdlib.h>

#define RETRY_MIN_MS 500
/* A libvirtd that stops answering is given up after about KEEPALIVE_INTERVAL * (COUNT + 1) s. */
#define KEEPALIVE_INTERVAL 5
#define KEEPALIVE_COUNT 3
/* A run-state change the periodic listing finds waits this long for libvirt's event: a read
 * during a migration's end blocks until the domain is gone, so the listing can see the change
 * before the event (queued meanwhile) says it was a migration. */
#define REPAIR_GRACE_S 3

enum { REPAIR_NONE, REPAIR_STATE, REPAIR_GONE };

enum { CB_LIFECYCLE, CB_DEVICE_ADDED, CB_DEVICE_REMOVED, CB__COUNT };

typedef struct {
  char *uuid;
  char *name;
  int state; /* virDomainState */
  AvmaDomChannel channel;
  char *channel_detail;
  AvmaVm *vm;
  AvmaSession *session;
  int session_domid; /* domain id the session was opened for: a new id is a new QEMU */
  gboolean seen;     /* re-synchronisation mark */
  int repair;        /* REPAIR_*: found by the periodic listing, waiting for an event */
  gboolean repair_running;
} Dom;

struct AvmaWatcher {
  AvmaHost *host;
  char *uri;
  gboolean ensure_channel;
  AvmaWatcherHooks hooks;
  gpointer user;
  virConnectPtr conn;
  int cb[CB__COUNT];
  gboolean close_cb;
  guint retry_timer;
  guint retry_ms;
  guint reconcile_timer; /* the periodic full listing, while connected */
  guint repair_timer;    /* applies the listing's findings no event explained */
  gboolean deferring;    /* inside the periodic listing: run-state changes wait (repair) */
  guint lost_idle;
  gboolean failing; /* connection attempts failing: log the first only */
  gint64 lost_at;   /* monotonic us; 0 when never lost */
  GHashTable *doms; /* uuid -> Dom */
};

static void changed(AvmaWatcher *w) {
  if (w->hooks.changed)
    w->hooks.changed(w->user);
}

static void end_session(Dom *d, const char *why) {
  if (!d->session)
    return;
  g_message("%s: channel session ended (%s)", d->name, why);
  g_clear_pointer(&d->session, avma_session_free);
}

static void dom_free(gpointer p) {
  Dom *d = p;
  g_clear_pointer(&d->session, avma_session_free);
  g_free(d->uuid);
  g_free(d->name);
  g_free(d->channel_detail);
  g_free(d);
}

/* Whether the domain has a process is the VM's to keep (avma_vm_running); saying the same again
 * changes nothing. why: a short code for the history ("domain-started", ...). */
static void set_running(AvmaWatcher *w, Dom *d, gboolean running, const char *why) {
  if (d->vm)
    avma_host_vm_seen(w->host, d->vm, running, why);
}

static gboolean on_repair(gpointer data);

static void defer_repair(AvmaWatcher *w, Dom *d, int repair, gboolean running) {
  d->repair = repair;
  d->repair_running = running;
  if (!w->repair_timer)
    w->repair_timer = g_timeout_add_seconds(REPAIR_GRACE_S, on_repair, w);
}

/* code: for the history (the source of a migration finds the domain gone at Stopped Migrated,
 * which is still a migration out). */
static void forget(AvmaWatcher *w, const char *uuid, const char *why, const char *code) {
  Dom *d = g_hash_table_lookup(w->doms, uuid);
  if (!d)
    return;
  end_session(d, why);
  if (w->deferring) {
    defer_repair(w, d, REPAIR_GONE, FALSE);
    return;
  }
  set_running(w, d, FALSE, code ? code : "domain-gone");
  if (w->hooks.domain)
    w->hooks.domain(uuid, FALSE, w->user);
  g_debug("%s: no longer known to libvirt (%s)", d->name, why);
  g_hash_table_remove(w->doms, uuid);
  changed(w);
}

static void on_session_notify(AvmaSession *s, gpointer user) {
  (void)s;
  changed(user);
}

/* Bring one domain's entry and session in line with libvirt: its state and its XML, read anew
 * every time (the socket path changes at every start). why: words for the log; code: for the
 * history when the domain's run state changed. */
static void refresh(AvmaWatcher *w, virDomainPtr dom, const char *why, const char *code) {
  char uuid[VIR_UUID_STRING_BUFLEN];
  if (virDomainGetUUIDString(dom, uuid) < 0)
    return;
  const char *name = virDomainGetName(dom);
  int state = 0, reason = 0;
  if (virDomainGetState(dom, &state, &reason, 0) < 0) {
    if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN)
      forget(w, uuid, why, code);
    else
      g_warning("%s: cannot read its state: %s", name, virGetLastErrorMessage());
    return;
  }
  gboolean running = avma_virt_state_has_process(state);
  g_autofree char *xml =
      virDomainGetXMLDesc(dom, state == VIR_DOMAIN_SHUTOFF ? VIR_DOMAIN_XML_INACTIVE : 0);
  if (!xml) {
    if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN)
      forget(w, uuid, why, code);
    else
      g_warning("%s: cannot read its XML: %s", name, virGetLastErrorMessage());
    return;
  }
  AvmaDomInfo info;
  g_autoptr(GError) err = NULL;
  if (!avma_domxml_parse(xml, AVMA_CHANNEL_NAME, &info, &err)) {
    g_warning("%s: %s", name, err->message);
    return;
  }
  /* The XML must describe the domain we asked about, or a path could go to the wrong VM. */
  if (!info.uuid || g_ascii_strcasecmp(info.uuid, uuid)) {
    g_warning("%s: its XML names UUID %s, not %s: ignored", name, info.uuid ? info.uuid : "(none)",
              uuid);
    avma_dom_info_clear(&info);
    return;
  }
  Dom *d = g_hash_table_lookup(w->doms, uuid);
  if (!d) {
    d = g_new0(Dom, 1);
    d->uuid = g_strdup(uuid);
    d->session_domid = -1;
    g_hash_table_insert(w->doms, d->uuid, d);
  }
  d->seen = TRUE;
  if (g_strcmp0(d->name, name)) {
    g_free(d->name);
    d->name = g_strdup(name);
  }
  /* The VM's name and UUID (HELLO_REPLY's VirtualMachineName/Id) come from libvirt. */
  d->vm = avma_host_vm(w->host, name, uuid);
  d->state = state;
  if (d->channel != info.channel || g_strcmp0(d->channel_detail, info.channel_detail)) {
    if (info.channel == AVMA_DOM_CHANNEL_NONE)
      g_debug("%s: no %s channel", name, AVMA_CHANNEL_NAME);
    else if (info.channel == AVMA_DOM_CHANNEL_UNUSABLE)
      g_warning("%s: channel %s is a %s: not served", name, AVMA_CHANNEL_NAME, info.channel_detail);
    d->channel = info.channel;
    g_free(d->channel_detail);
    d->channel_detail = g_strdup(info.channel_detail);
  }
  const char *path = running && info.channel == AVMA_DOM_CHANNEL_UNIX ? info.socket_path : NULL;
  if (running && info.channel == AVMA_DOM_CHANNEL_UNIX && !path)
    /* Seen while a domain shuts down (libvirt drops the path before the stop event): not a
     * fault worth a warning; a running domain gets its path at the next lifecycle event. */
    g_message("%s: channel %s has no socket path in the live XML yet", name, AVMA_CHANNEL_NAME);
  if (path && d->session && d->session_domid == info.id) {
    if (g_strcmp0(avma_session_path(d->session), path)) {
      g_message("%s: channel socket is now %s", name, path);
      avma_session_set_path(d->session, path);
    }
  } else if (path) {
    end_session(d, "domain restarted");
    g_message("%s: serving channel %s at %s", name, AVMA_CHANNEL_NAME, path);
    d->session = avma_session_new(w->host, d->vm, path);
    d->session_domid = info.id;
    avma_session_set_notify(d->session, on_session_notify, w);
  } else {
    end_session(d, running ? "channel removed" : avma_virt_state_name(state));
  }
  if (w->deferring && d->vm && !avma_vm_running(d->vm) != !running)
    defer_repair(w, d, REPAIR_STATE, running);
  else
    set_running(w, d, running, code ? code : running ? "domain-running" : "domain-stopped");
  if (w->hooks.domain)
    w->hooks.domain(uuid, TRUE, w->user);
  avma_dom_info_clear(&info);
  changed(w);
}

static void ensure_channel(AvmaWatcher *w, virDomainPtr dom) {
  (void)w;
  AvmaProvResult r;
  avma_provision_channel(dom, TRUE, FALSE, &r);
  if (r.config == AVMA_PROV_DONE)
    g_message("%s: channel %s added to its persistent definition (ensure_channel; it takes effect "
              "at the next start)",
              virDomainGetName(dom), AVMA_CHANNEL_NAME);
  else if (r.config == AVMA_PROV_FAILED || r.config == AVMA_PROV_IMPOSSIBLE)
    g_warning("%s: cannot ensure channel %s: %s", virDomainGetName(dom), AVMA_CHANNEL_NAME,
              r.config_detail);
  avma_prov_result_clear(&r);
}

static const char *event_words(int event, int detail) {
  switch (event) {
  case VIR_DOMAIN_EVENT_DEFINED:
    return detail == VIR_DOMAIN_EVENT_DEFINED_ADDED ? "defined" : "definition updated";
  case VIR_DOMAIN_EVENT_UNDEFINED:
    return "undefined";
  case VIR_DOMAIN_EVENT_STARTED:
    return detail == VIR_DOMAIN_EVENT_STARTED_MIGRATED   ? "arrived by migration"
           : detail == VIR_DOMAIN_EVENT_STARTED_RESTORED ? "started (restored)"
                                                         : "started";
  case VIR_DOMAIN_EVENT_SUSPENDED:
    return "paused";
  case VIR_DOMAIN_EVENT_RESUMED:
    return "resumed";
  case VIR_DOMAIN_EVENT_STOPPED:
    switch (detail) {
    case VIR_DOMAIN_EVENT_STOPPED_MIGRATED:
      return "migrated away";
    case VIR_DOMAIN_EVENT_STOPPED_CRASHED:
      return "stopped (crashed)";
    case VIR_DOMAIN_EVENT_STOPPED_DESTROYED:
      return "stopped (destroyed)";
    case VIR_DOMAIN_EVENT_STOPPED_FAILED:
      return "stopped (failed)";
    case VIR_DOMAIN_EVENT_STOPPED_SAVED:
      return "stopped (saved)";
    default:
      return "stopped";
    }
  case VIR_DOMAIN_EVENT_SHUTDOWN:
    return "shutting down";
  case VIR_DOMAIN_EVENT_PMSUSPENDED:
    return "suspended by the guest";
  case VIR_DOMAIN_EVENT_CRASHED:
    return "crashed";
  default:
    return "changed";
  }
}

/* The history's code for a run-state change an event reports (NULL: the state decides). */
static const char *event_code(int event, int detail) {
  switch (event) {
  case VIR_DOMAIN_EVENT_STARTED:
    return detail == VIR_DOMAIN_EVENT_STARTED_MIGRATED ? "domain-migrated-in" : "domain-started";
  case VIR_DOMAIN_EVENT_STOPPED:
    return detail == VIR_DOMAIN_EVENT_STOPPED_MIGRATED  ? "domain-migrated-out"
           : detail == VIR_DOMAIN_EVENT_STOPPED_CRASHED ? "domain-crashed"
                                                        : "domain-stopped";
  case VIR_DOMAIN_EVENT_CRASHED:
    return "domain-crashed";
  /* QEMU domains report Resumed before Started at boot: a run that a resume opens is a start. */
  case VIR_DOMAIN_EVENT_RESUMED:
    return detail == VIR_DOMAIN_EVENT_RESUMED_MIGRATED ? "domain-migrated-in" : "domain-started";
  default:
    return NULL;
  }
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque) {
  AvmaWatcher *w = opaque;
  (void)conn;
  const char *words = event_words(event, detail);
  g_message("%s: %s", virDomainGetName(dom), words);
  char uuid[VIR_UUID_STRING_BUFLEN];
  Dom *d = virDomainGetUUIDString(dom, uuid) == 0 ? g_hash_table_lookup(w->doms, uuid) : NULL;
  if (d)
    d->repair = REPAIR_NONE; /* the event says what happened */
  if (event == VIR_DOMAIN_EVENT_DEFINED && w->ensure_channel)
    ensure_channel(w, dom);
  refresh(w, dom, words, event_code(event, detail));
  return 0;
}

static void on_device(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque) {
  (void)conn;
  g_debug("%s: device %s added or removed", virDomainGetName(dom), alias);
  refresh(opaque, dom, "device changed", NULL);
}

/* Look at every domain again: after a (re)connect, and every [libvirt] reconcile_interval, as
 * events may have been missed. code: the history's reason for run-state changes found this way
 * (NULL: the state's own, at the first connection). ensure: give domains the channel (at a
 * connect; later, DEFINED events do it). Returns FALSE when the listing failed (nothing was
 * changed then). */
static gboolean resync(AvmaWatcher *w, const char *why, const char *code, gboolean ensure) {
  virDomainPtr *list = NULL;
  int n = virConnectListAllDomains(w->conn, &list, 0);
  if (n < 0) {
    g_warning("libvirt: cannot list domains (%s): %s; nothing changed", why,
              virGetLastErrorMessage());
    return FALSE;
  }
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init(&it, w->doms);
  while (g_hash_table_iter_next(&it, NULL, &v))
    ((Dom *)v)->seen = FALSE;
  for (int i = 0; i < n; i++) {
    char uuid[VIR_UUID_STRING_BUFLEN];
    Dom *d = virDomainGetUUIDString(list[i], uuid) == 0 ? g_hash_table_lookup(w->doms, uuid) : NULL;
    if (d)
      d->seen = TRUE; /* known, even if reading it fails this time */
    if (ensure && w->ensure_channel)
      ensure_channel(w, list[i]);
    refresh(w, list[i], why, code);
    virDomainFree(list[i]);
  }
  free(list);
  g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func(g_free);
  g_hash_table_iter_init(&it, w->doms);
  while (g_hash_table_iter_next(&it, NULL, &v))
    if (!((Dom *)v)->seen)
      g_ptr_array_add(gone, g_strdup(((Dom *)v)->uuid));
  for (guint i = 0; i < gone->len; i++)
    forget(w, gone->pdata[i], ensure ? "gone while the agent was not connected" : "gone unreported",
           code);
  guint running = 0, served = 0;
  g_hash_table_iter_init(&it, w->doms);
  while (g_hash_table_iter_next(&it, NULL, &v)) {
    running += ((Dom *)v)->vm && avma_vm_running(((Dom *)v)->vm);
    served += ((Dom *)v)->session != NULL;
  }
  if (ensure || gone->len)
    g_message("libvirt: %d domain(s), %u running, %u with channel %s", n, running, served,
              AVMA_CHANNEL_NAME);
  else
    g_debug("libvirt: reconciled: %d domain(s), %u running, %u with channel %s", n, running, served,
            AVMA_CHANNEL_NAME);
  return TRUE;
}

/* Reads only (listing, state, XML), which libvirt answers during a migration job too (25-80 ms
 * measured, /work/shared/migration-notes.md section 4), except at a migration's very end, when
 * one waits for the source domain to go (0.6 s seen in the e2e test). Run-state changes it finds
 * wait for the events (REPAIR_GRACE_S). */
static gboolean on_reconcile(gpointer data) {
  AvmaWatcher *w = data;
  if (w->conn) {
    w->deferring = TRUE;
    resync(w, "reconciled by the periodic listing", "reconciled", FALSE);
    w->deferring = FALSE;
  }
  return G_SOURCE_CONTINUE;
}

/* The periodic listing's findings that no event explained within REPAIR_GRACE_S. */
static gboolean on_repair(gpointer data) {
  AvmaWatcher *w = data;
  w->repair_timer = 0;
  g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func(g_free);
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init(&it, w->doms);
  while (g_hash_table_iter_next(&it, NULL, &v)) {
    Dom *d = v;
    if (d->repair == REPAIR_GONE)
      g_ptr_array_add(gone, g_strdup(d->uuid));
    else if (d->repair == REPAIR_STATE)
      set_running(w, d, d->repair_running, "reconciled");
    d->repair = REPAIR_NONE;
  }
  for (guint i = 0; i < gone->len; i++)
    forget(w, gone->pdata[i], "gone unreported", "reconciled");
  changed(w);
  return G_SOURCE_REMOVE;
}

static void clear_repairs(AvmaWatcher *w) {
  if (w->repair_timer)
    g_source_remove(w->repair_timer);
  w->repair_timer = 0;
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init(&it, w->doms);
  while (g_hash_table_iter_next(&it, NULL, &v))
    ((Dom *)v)->repair = REPAIR_NONE;
}

static void schedule_retry(AvmaWatcher *w);
static void on_close(virConnectPtr conn, int reason, void *opaque);

static void drop_connection(AvmaWatcher *w) {
  if (!w->conn)
    return;
  if (w->reconcile_timer)
    g_source_remove(w->reconcile_timer);
  w->reconcile_timer = 0;
  /* The reconnect's listing repairs what is still wrong then. */
  clear_repairs(w);
  for (int i = 0; i < CB__COUNT; i++) {
    if (w->cb[i] >= 0)
      virConnectDomainEventDeregisterAny(w->conn, w->cb[i]);
    w->cb[i] = -1;
  }
  if (w->close_cb)
    virConnectUnregisterCloseCallback(w->conn, on_close);
  w->close_cb = FALSE;
  virConnectClose(w->conn);
  w->conn = NULL;
  if (w->hooks.connection)
    w->hooks.connection(NULL, w->user);
}

static gboolean on_lost(gpointer data) {
  AvmaWatcher *w = data;
  w->lost_idle = 0;
  /* Sessions stay: QEMU keeps the channel sockets open while libvirtd is away. */
  drop_connection(w);
  w->lost_at = g_get_monotonic_time();
  changed(w);
  schedule_retry(w);
  return G_SOURCE_REMOVE;
}

static void on_close(virConnectPtr conn, int reason, void *opaque) {
  AvmaWatcher *w = opaque;
  (void)conn;
  g_warning("libvirt: connection to %s lost (%s); reconnecting", w->uri,
            reason == VIR_CONNECT_CLOSE_REASON_EOF         ? "libvirtd closed it"
            : reason == VIR_CONNECT_CLOSE_REASON_KEEPALIVE ? "keepalive timed out"
            : reason == VIR_CONNECT_CLOSE_REASON_CLIENT    ? "closed by us"
                                                           : "error");
  /* Closing a connection from inside its own close callback is not allowed: do it next. */
  if (!w->lost_idle)
    w->lost_idle = g_idle_add(on_lost, w);
}

static gboolean open_connection(AvmaWatcher *w) {
  virConnectPtr c = virConnectOpen(w->uri);
  if (!c) {
    if (!w->failing)
      g_warning("libvirt: cannot connect to %s: %s (retrying)", w->uri, virGetLastErrorMessage());
    else
      g_debug("libvirt: cannot connect to %s: %s", w->uri, virGetLastErrorMessage());
    w->failing = TRUE;
    return FALSE;
  }
  w->conn = c;
  w->failing = FALSE;
  /* Keepalive notices a libvirtd that hangs; in-process drivers (test:///) have none. */
  if (virConnectSetKeepAlive(c, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT) < 0)
    g_debug("libvirt: no keepalive: %s", virGetLastErrorMessage());
  w->close_cb = virConnectRegisterCloseCallback(c, on_close, w, NULL) == 0;
  if (!w->close_cb)
    g_debug("libvirt: no close callback: %s", virGetLastErrorMessage());
  w->cb[CB_LIFECYCLE] = virConnectDomainEventRegisterAny(
      c, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), w, NULL);
  if (w->cb[CB_LIFECYCLE] < 0)
    g_warning("libvirt: no lifecycle events from %s: %s", w->uri, virGetLastErrorMessage());
  w->cb[CB_DEVICE_ADDED] = virConnectDomainEventRegisterAny(
      c, NULL, VIR_DOMAIN_EVENT_ID_DEVICE_ADDED, VIR_DOMAIN_EVENT_CALLBACK(on_device), w, NULL);
  w->cb[CB_DEVICE_REMOVED] = virConnectDomainEventRegisterAny(
      c, NULL, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, VIR_DOMAIN_EVENT_CALLBACK(on_device), w, NULL);
  if (w->lost_at) {
    g_autofree char *gap =
        avma_duration_words((g_get_monotonic_time() - w->lost_at) / G_USEC_PER_SEC);
    g_message("libvirt: reconnected to %s after %s", w->uri, gap);
  } else {
    g_message("libvirt: connected to %s", w->uri);
  }
  if (w->hooks.connection)
    w->hooks.connection(c, w->user);
  /* Events are registered first, so nothing falls between the listing and the events. After a
   * reconnect, what changed meanwhile was not reported by an event: a repair. */
  resync(w, "found at (re)connect", w->lost_at ? "reconciled" : NULL, TRUE);
  w->reconcile_timer =
      g_timeout_add_seconds(avma_host_config(w->host)->reconcile_interval_s, on_reconcile, w);
  changed(w);
  return TRUE;
}

static gboolean on_retry(gpointer data) {
  AvmaWatcher *w = data;
  w->retry_timer = 0;
  if (open_connection(w))
    w->retry_ms = 0;
  else
    schedule_retry(w);
  return G_SOURCE_REMOVE;
}

static void schedule_retry(AvmaWatcher *w) {
  if (w->retry_timer)
    return;
  guint cap = MAX(avma_host_config(w->host)->reconnect_max_ms, RETRY_MIN_MS);
  w->retry_ms = w->retry_ms ? MIN(w->retry_ms * 2, cap) : RETRY_MIN_MS;
  w->retry_timer = g_timeout_add(w->retry_ms, on_retry, w);
}

AvmaWatcher *avma_watcher_new(AvmaHost *host, const char *uri, gboolean ensure_channel,
                              const AvmaWatcherHooks *hooks, gpointer user) {
  static gsize registered = 0;
  avma_virt_init();
  /* libvirt's event loop must be known before the first connection opens. */
  if (g_once_init_enter(&registered)) {
    gvir_event_register();
    g_once_init_leave(&registered, 1);
  }
  AvmaWatcher *w = g_new0(AvmaWatcher, 1);
  w->host = avma_host_ref(host);
  w->uri = g_strdup(uri);
  w->ensure_channel = ensure_channel;
  if (hooks)
    w->hooks = *hooks;
  w->user = user;
  for (int i = 0; i < CB__COUNT; i++)
    w->cb[i] = -1;
  w->doms = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, dom_free);
  return w;
}

void avma_watcher_start(AvmaWatcher *w) {
  if (!w->conn && !w->retry_timer && !open_connection(w))
    schedule_retry(w);
}

void avma_watcher_free(AvmaWatcher *w) {
  if (!w)
    return;
  if (w->retry_timer)
    g_source_remove(w->retry_timer);
  if (w->lost_idle)
    g_source_remove(w->lost_idle);
  drop_connection(w);
  g_hash_table_unref(w->doms);
  g_free(w->uri);
  avma_host_free(w->host);
  g_free(w);
}

const char *avma_watcher_uri(AvmaWatcher *w) {
  return w->uri;
}

virConnectPtr avma_watcher_connection(AvmaWatcher *w) {
  return w->conn;
}

void avma_watcher_collect(AvmaWatcher *w, AvmaVmViewSink *sink, JsonObject *doc) {
  JsonObject *lv = json_object_new();
  json_object_set_string_member(lv, "uri", w->uri);
  json_object_set_boolean_member(lv, "connected", w->conn != NULL);
  json_object_set_object_member(doc, "libvirt", lv);
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init(&it, w->doms);
  while (g_hash_table_iter_next(&it, NULL, &v)) {
    Dom *d = v;
    avma_vmview_sink_add(sink, avma_vmview_entry_new(w->host, d->vm, avma_virt_state_name(d->state),
                                                     d->channel != AVMA_DOM_CHANNEL_NONE,
                                                     d->channel_detail, d->session));
  }
}
