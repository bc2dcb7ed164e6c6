/* metadata: the VM's activation state in its libvirt domain metadata. */
#include "metadata.h"

#include "kvp-schema.h"
#include "virt.h"

#include <gio/gio.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <string.h>

#define RETRY_MIN_S 2
#define RETRY_MAX_S 60
/* Failures other than a busy domain: after this many the write is given up (logged). */
#define RETRY_ATTEMPTS 8

/* One domain's write waiting to go out (xml), or only a check of its persistent copy (NULL). */
typedef struct {
  char *xml;
  guint gen;        /* bumped by every newer decision: an older result does not finish it */
  gboolean parked;  /* the domain is elsewhere: waits for avma_metadata_domain(present) */
  guint attempts;   /* RETRY outcomes so far */
  gint64 retry_at;  /* monotonic us; 0: at once */
  gboolean warned;  /* the first failure is a warning, the rest are debug */
  gboolean retried; /* failed or parked once: the domain may have been elsewhere since */
  char *name;       /* the VM's, for messages when libvirt no longer knows it */
} Pending;

/* One call on the worker; owned by the GTask, told when its AvmaMetadata is gone (m NULL). */
typedef struct {
  AvmaMetadata *m;
  virConnectPtr conn; /* a reference for the thread */
  char *uuid;
  char *xml; /* NULL: check */
  guint gen;
  gboolean unless_newer; /* write only if the domain carries no newer decision */
  /* results */
  AvmaMetaOutcome outcome;
  char *name;
  char *detail;
  gboolean rewrote;    /* check: the persistent copy was rewritten from the live one */
  gboolean superseded; /* write: the domain carries a newer decision; ours was not written */
} Job;

struct AvmaMetadata {
  AvmaHost *host;      /* a reference */
  guint observer;      /* on host */
  virConnectPtr conn;  /* borrowed from the watcher */
  GHashTable *pending; /* avma_vm_key (a UUID) -> Pending: only the latest decision matters */
  GHashTable *checked; /* UUIDs whose persistent copy was checked since they arrived */
  Job *inflight;       /* at most one call on the worker */
  guint idle, timer;
  guint next_gen;
  char *host_name;
};

static void pending_free(gpointer p) {
  Pending *w = p;
  g_free(w->xml);
  g_free(w->name);
  g_free(w);
}

static void job_free(Job *j) {
  if (j->conn)
    virConnectClose(j->conn);
  g_free(j->uuid);
  g_free(j->xml);
  g_free(j->name);
  g_free(j->detail);
  g_free(j);
}

static void add_element(const char *element, const char *text, gpointer user) {
  /* xmlNewTextChild escapes: reasons and names are not trusted to be markup-free. */
  xmlNewTextChild(user, NULL, BAD_CAST element, BAD_CAST text);
}

static char *dump(xmlNode *root) {
  xmlBuffer *buf = xmlBufferCreate();
  xmlNodeDump(buf, root->doc, root, 0, 0);
  char *s = g_strdup((const char *)xmlBufferContent(buf));
  xmlBufferFree(buf);
  return s;
}

char *avma_metadata_xml(const AvmaHostEvent *ev, const char *host_name) {
  xmlDoc *doc = xmlNewDoc(BAD_CAST "1.0");
  xmlNode *root = xmlNewNode(NULL, BAD_CAST "activation");
  xmlDocSetRootElement(doc, root);
  g_autofree char *id = g_strdup_printf("%" G_GINT64_FORMAT, ev->event_id);
  xmlNewProp(root, BAD_CAST "event-id", BAD_CAST id);
  avma_host_event_foreach_element(ev, add_element, root);
  xmlNewTextChild(root, NULL, BAD_CAST "host-name", BAD_CAST(host_name ? host_name : ""));
  char *s = dump(root);
  xmlFreeDoc(doc);
  return s;
}

/* ---- pure helpers (unit-tested) ---------------------------------------------------------- */

AvmaMetaOutcome avma_metadata_classify(int vir_error, gboolean conn_alive) {
  switch (vir_error) {
  case VIR_ERR_OK:
    return AVMA_META_DONE;
  case VIR_ERR_NO_DOMAIN:
    return AVMA_META_ELSEWHERE;
  /* "cannot acquire state change lock (held by ...Migrate...)" after 30 s */
  case VIR_ERR_OPERATION_TIMEOUT:
    return AVMA_META_BUSY;
  default:
    return conn_alive ? AVMA_META_RETRY : AVMA_META_NO_CONNECTION;
  }
}

static xmlDoc *parse(const char *xml) {
  if (!xml)
    return NULL;
  return xmlReadMemory(xml, (int)strlen(xml), "metadata.xml", NULL,
                       XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR |
                           XML_PARSE_NOWARNING);
}

/* Text of root's child element name (caller frees), or NULL. */
static char *child_text(xmlDoc *doc, const char *name) {
  xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
  if (!root || xmlStrcmp(root->name, BAD_CAST "activation"))
    return NULL;
  for (xmlNode *n = root->children; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE && !xmlStrcmp(n->name, BAD_CAST name)) {
      xmlChar *c = xmlNodeGetContent(n);
      char *s = g_strdup((const char *)c);
      xmlFree(c);
      return s;
    }
  return NULL;
}

gboolean avma_metadata_config_stale(const char *live, const char *config) {
  xmlDoc *l = parse(live), *c = parse(config);
  /* The metadata's time element (host-event.c writes it): event-field-ok */
  g_autofree char *lt = child_text(l, "time"), *ct = child_text(c, "time");
  xmlFreeDoc(l);
  xmlFreeDoc(c);
  if (!lt || !*lt)
    return FALSE;
  /* Both are the same UTC form (YYYY-MM-DDTHH:MM:SSZ): text order is time order. */
  return !ct || strcmp(ct, lt) < 0;
}

gboolean avma_metadata_newer(const char *xml, const char *than) {
  xmlDoc *a = parse(xml), *b = parse(than);
  /* event-field-ok: the metadata's time element */
  g_autofree char *at = child_text(a, "time"), *bt = child_text(b, "time");
  xmlFreeDoc(a);
  xmlFreeDoc(b);
  return at && *at && bt && *bt && strcmp(at, bt) > 0;
}

static void strip_ns(xmlNode *n) {
  for (; n; n = n->next) {
    if (n->type != XML_ELEMENT_NODE)
      continue;
    xmlSetNs(n, NULL);
    if (n->nsDef) {
      xmlFreeNsList(n->nsDef);
      n->nsDef = NULL;
    }
    strip_ns(n->children);
  }
}

char *avma_metadata_plain(const char *xml) {
  xmlDoc *doc = parse(xml);
  xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
  if (!root) {
    xmlFreeDoc(doc);
    return NULL;
  }
  strip_ns(root);
  char *s = dump(root);
  xmlFreeDoc(doc);
  return s;
}

/* ---- the worker: blocking libvirt calls ------------------------------------------------- */

static void fail(Job *j, const char *what) {
  /* The error first: every libvirt call, virConnectIsAlive too, resets it (read after, a domain
   * gone came out as "done"). */
  int code = virGetLastErrorCode();
  j->detail = g_strdup_printf("%s: %s", what, virGetLastErrorMessage());
  j->outcome = avma_metadata_classify(code, virConnectIsAlive(j->conn) == 1);
}

/* A job (an outgoing or incoming migration, a save) would make a write block until it ends and
 * then fail: leave the domain alone while one runs. Reading the job needs no job of its own. */
static gboolean busy(Job *j, virDomainPtr dom) {
  virDomainJobInfo info;
  int state = 0, reason = 0;
  if (virDomainGetJobInfo(dom, &info) == 0 && info.type != VIR_DOMAIN_JOB_NONE) {
    j->detail = g_strdup("a job (migration) is running on it");
    return TRUE;
  }
  if (virDomainGetState(dom, &state, &reason, 0) == 0 && state == VIR_DOMAIN_PAUSED &&
      reason == VIR_DOMAIN_PAUSED_MIGRATION) {
    j->detail = g_strdup("it is paused for a migration");
    return TRUE;
  }
  return FALSE;
}

static void run_write(Job *j, virDomainPtr dom) {
  int active = virDomainIsActive(dom), persistent = virDomainIsPersistent(dom);
  /* A write that waited may find the domain back from another host, carrying that host's later
   * decision: the later one stands (reads need no job). */
  if (j->unless_newer && (active == 1 || persistent == 1)) {
    g_autofree char *cur =
        virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, AVMA_METADATA_NS,
                             active == 1 ? VIR_DOMAIN_AFFECT_LIVE : VIR_DOMAIN_AFFECT_CONFIG);
    if (cur && avma_metadata_newer(cur, j->xml)) {
      j->superseded = TRUE;
      j->outcome = AVMA_META_DONE;
      return;
    }
  }
  /* Persistent config is refused for transient domains, live for stopped ones. */
  unsigned int flags =
      (active == 1 ? VIR_DOMAIN_AFFECT_LIVE : 0) | (persistent == 1 ? VIR_DOMAIN_AFFECT_CONFIG : 0);
  if (flags && virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, j->xml, AVMA_METADATA_KEY,
                                    AVMA_METADATA_NS, flags) < 0) {
    fail(j, "cannot write");
    return;
  }
  /* A write that waited for a migration's end can succeed on the source's domain just before it
   * goes (seen in the e2e test): then it reached no host. */
  int state = 0, reason = 0;
  if (virDomainGetState(dom, &state, &reason, 0) < 0
          ? virGetLastErrorCode() == VIR_ERR_NO_DOMAIN
          : (active == 1 || j->unless_newer) && state == VIR_DOMAIN_SHUTOFF &&
                reason == VIR_DOMAIN_SHUTOFF_MIGRATED) {
    j->outcome = AVMA_META_ELSEWHERE;
    return;
  }
  j->outcome = AVMA_META_DONE;
}

static void run_check(Job *j, virDomainPtr dom) {
  j->outcome = AVMA_META_DONE;
  if (virDomainIsActive(dom) != 1 || virDomainIsPersistent(dom) != 1)
    return;
  g_autofree char *live = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, AVMA_METADATA_NS,
                                               VIR_DOMAIN_AFFECT_LIVE);
  if (!live)
    return; /* none, or not readable: nothing to compare */
  g_autofree char *config = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, AVMA_METADATA_NS,
                                                 VIR_DOMAIN_AFFECT_CONFIG);
  if (!avma_metadata_config_stale(live, config))
    return;
  g_autofree char *plain = avma_metadata_plain(live);
  if (!plain)
    return;
  if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, plain, AVMA_METADATA_KEY,
                           AVMA_METADATA_NS, VIR_DOMAIN_AFFECT_CONFIG) < 0) {
    fail(j, "cannot rewrite the stale persistent copy");
    return;
  }
  j->rewrote = TRUE;
}

static void worker(GTask *task, gpointer src, gpointer data, GCancellable *cancel) {
  Job *j = data;
  (void)src;
  (void)cancel;
  g_autoptr(virDomain) dom = virDomainLookupByUUIDString(j->conn, j->uuid);
  if (!dom) {
    fail(j, "cannot look it up");
    g_task_return_boolean(task, TRUE);
    return;
  }
  g_free(j->name);
  j->name = g_strdup(virDomainGetName(dom));
  if (busy(j, dom))
    j->outcome = AVMA_META_BUSY;
  else if (j->xml)
    run_write(j, dom);
  else
    run_check(j, dom);
  g_task_return_boolean(task, TRUE);
}

/* ---- the main loop side ------------------------------------------------------------------ */

static void schedule(AvmaMetadata *m);

static void on_timer_or_idle(AvmaMetadata *m);

static gboolean on_idle(gpointer data) {
  AvmaMetadata *m = data;
  m->idle = 0;
  on_timer_or_idle(m);
  return G_SOURCE_REMOVE;
}

static gboolean on_timer(gpointer data) {
  AvmaMetadata *m = data;
  m->timer = 0;
  on_timer_or_idle(m);
  return G_SOURCE_REMOVE;
}

static guint retry_delay_s(const Pending *p) {
  guint d = RETRY_MIN_S << MIN(p->attempts, 5u);
  return MIN(d, RETRY_MAX_S);
}

static void finished(GObject *src, GAsyncResult *res, gpointer data) {
  Job *j = data;
  (void)src;
  (void)res;
  AvmaMetadata *m = j->m;
  if (!m) { /* freed meanwhile */
    job_free(j);
    return;
  }
  m->inflight = NULL;
  const char *name = j->name ? j->name : j->uuid;
  const char *what = j->xml ? "metadata" : "metadata check";
  Pending *p = g_hash_table_lookup(m->pending, j->uuid);
  gboolean current = p && p->gen == j->gen;
  switch (j->outcome) {
  case AVMA_META_DONE:
    if (j->superseded)
      g_message("metadata: %s carries a newer decision than this host's (made where it ran "
                "meanwhile): this host's is not written",
                name);
    else if (j->xml)
      g_debug("metadata: written to %s", name);
    if (j->rewrote)
      g_message("metadata: %s: the persistent copy was older than the live one: rewritten", name);
    if (current)
      g_hash_table_remove(m->pending, j->uuid);
    break;
  case AVMA_META_ELSEWHERE:
    if (current) {
      p->retried = TRUE;
      g_message("%s: %s is not on this host now; written when it is here again", what, name);
      p->parked = TRUE;
    }
    break;
  case AVMA_META_NO_CONNECTION:
    if (current) {
      p->retried = TRUE;
      g_message("%s: %s: %s; kept for the next connection", what, name, j->detail);
    }
    break;
  case AVMA_META_BUSY:
  case AVMA_META_RETRY:
    if (!current)
      break;
    p->retried = TRUE;
    if (j->outcome == AVMA_META_RETRY && ++p->attempts >= RETRY_ATTEMPTS) {
      g_warning("%s: %s: %s; given up after %u attempts", what, name, j->detail, p->attempts);
      g_hash_table_remove(m->pending, j->uuid);
      break;
    }
    guint delay = retry_delay_s(p);
    p->retry_at = g_get_monotonic_time() + (gint64)delay * G_USEC_PER_SEC;
    if (!p->warned)
      g_message("%s: %s: %s; retrying in %u s (the decision stands)", what, name, j->detail, delay);
    else
      g_debug("%s: %s: %s; retrying in %u s", what, name, j->detail, delay);
    p->warned = TRUE;
    break;
  }
  job_free(j);
  schedule(m);
}

static void launch(AvmaMetadata *m, const char *uuid, Pending *p) {
  Job *j = g_new0(Job, 1);
  j->m = m;
  j->conn = m->conn;
  virConnectRef(j->conn);
  j->uuid = g_strdup(uuid);
  j->xml = g_strdup(p->xml);
  j->gen = p->gen;
  j->unless_newer = p->retried;
  j->name = g_strdup(p->name);
  m->inflight = j;
  GTask *task = g_task_new(NULL, NULL, finished, j);
  g_task_set_task_data(task, j, NULL);
  g_task_run_in_thread(task, worker);
  g_object_unref(task);
}

/* Start the next due write if none runs, else arm the timer for the earliest retry. */
static void on_timer_or_idle(AvmaMetadata *m) {
  if (!m->conn || m->inflight)
    return;
  gint64 now = g_get_monotonic_time(), next = 0;
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init(&it, m->pending);
  while (g_hash_table_iter_next(&it, &k, &v)) {
    Pending *p = v;
    if (p->parked)
      continue;
    if (p->retry_at <= now) {
      launch(m, k, p);
      return;
    }
    next = next ? MIN(next, p->retry_at) : p->retry_at;
  }
  if (next && !m->timer)
    m->timer = g_timeout_add((guint)MAX((next - now) / 1000, 1), on_timer, m);
}

static void schedule(AvmaMetadata *m) {
  /* Idle priority: the guest's reply, already queued, goes out before the libvirt call. */
  if (!m->idle && m->conn && !m->inflight && g_hash_table_size(m->pending))
    m->idle = g_idle_add(on_idle, m);
}

static Pending *pending_for(AvmaMetadata *m, const char *uuid) {
  Pending *p = g_hash_table_lookup(m->pending, uuid);
  if (!p) {
    p = g_new0(Pending, 1);
    g_hash_table_insert(m->pending, g_strdup(uuid), p);
  }
  return p;
}

static void on_event(AvmaHost *h, AvmaVm *vm, const AvmaHostEvent *ev, gpointer user) {
  AvmaMetadata *m = user;
  (void)h;
  /* Protocol-level Invalid Data reports leave the VM's activation state as it was. Fixed
   * channels (no UUID) have no domain to write to. */
  if (ev->kind != AVMA_HOST_EVENT_DECISION || !avma_vm_has_domain(vm))
    return;
  Pending *p = pending_for(m, avma_vm_key_of(vm));
  g_free(p->xml);
  p->xml = avma_metadata_xml(ev, m->host_name);
  g_free(p->name);
  p->name = g_strdup(avma_vm_name(vm));
  p->gen = ++m->next_gen;
  p->parked = FALSE;
  p->attempts = 0;
  p->retry_at = 0;
  p->warned = FALSE;
  p->retried = FALSE;
  schedule(m);
}

void avma_metadata_domain(AvmaMetadata *m, const char *uuid, gboolean present) {
  g_autofree char *key = g_ascii_strdown(uuid, -1);
  if (!present) {
    g_hash_table_remove(m->checked, key);
    return;
  }
  Pending *p = g_hash_table_lookup(m->pending, key);
  if (p && p->parked) {
    p->parked = FALSE;
    p->retry_at = 0;
    p->gen = ++m->next_gen;
  }
  if (!g_hash_table_contains(m->checked, key)) {
    g_hash_table_add(m->checked, g_strdup(key));
    if (!p) /* a pending write sets both copies: no check needed */
      pending_for(m, key)->gen = ++m->next_gen;
  }
  schedule(m);
}

AvmaMetadata *avma_metadata_new(AvmaHost *host) {
  AvmaMetadata *m = g_new0(AvmaMetadata, 1);
  m->host = avma_host_ref(host);
  m->pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, pending_free);
  m->checked = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  m->host_name = g_strdup(g_get_host_name());
  m->observer = avma_host_add_observer(host, on_event, m);
  return m;
}

void avma_metadata_free(AvmaMetadata *m) {
  if (!m)
    return;
  avma_host_remove_observer(m->host, m->observer);
  avma_host_free(m->host);
  if (m->inflight)
    m->inflight->m = NULL;
  if (m->idle)
    g_source_remove(m->idle);
  if (m->timer)
    g_source_remove(m->timer);
  g_hash_table_unref(m->pending);
  g_hash_table_unref(m->checked);
  g_free(m->host_name);
  g_free(m);
}

void avma_metadata_set_connection(AvmaMetadata *m, virConnectPtr conn) {
  m->conn = conn;
  if (!conn) {
    if (m->idle)
      g_source_remove(m->idle);
    if (m->timer)
      g_source_remove(m->timer);
    m->idle = m->timer = 0;
  }
  schedule(m);
}
