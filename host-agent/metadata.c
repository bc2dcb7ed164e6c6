/* metadata: the VM's activation state in its libvirt domain metadata. */
#include "metadata.h"

#include "kvp-schema.h"
#include "virt.h"

#include <libvirt/virterror.h>
#include <libxml/tree.h>

struct AvmaMetadata {
  AvmaHost *host;      /* a reference */
  guint observer;      /* on host */
  virConnectPtr conn;  /* borrowed from the watcher */
  GHashTable *pending; /* avma_vm_key (a UUID) -> metadata XML: only the latest decision matters */
  guint idle;
  char *host_name;
};

static void add_element(const char *element, const char *text, gpointer user) {
  /* xmlNewTextChild escapes: reasons and names are not trusted to be markup-free. */
  xmlNewTextChild(user, NULL, BAD_CAST element, BAD_CAST text);
}

char *avma_metadata_xml(const AvmaHostEvent *ev, const char *host_name) {
  xmlDoc *doc = xmlNewDoc(BAD_CAST "1.0");
  xmlNode *root = xmlNewNode(NULL, BAD_CAST "activation");
  xmlDocSetRootElement(doc, root);
  g_autofree char *id = g_strdup_printf("%" G_GINT64_FORMAT, ev->event_id);
  xmlNewProp(root, BAD_CAST "event-id", BAD_CAST id);
  avma_host_event_foreach_element(ev, add_element, root);
  xmlNewTextChild(root, NULL, BAD_CAST "host-name", BAD_CAST(host_name ? host_name : ""));
  xmlBuffer *buf = xmlBufferCreate();
  xmlNodeDump(buf, doc, root, 0, 0);
  char *s = g_strdup((const char *)xmlBufferContent(buf));
  xmlBufferFree(buf);
  xmlFreeDoc(doc);
  return s;
}

/* TRUE when the write is finished with (done, or hopeless); FALSE to keep it for a reconnect. */
static gboolean write_one(AvmaMetadata *m, const char *uuid, const char *xml) {
  g_autoptr(virDomain) dom = virDomainLookupByUUIDString(m->conn, uuid);
  if (!dom) {
    if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN) {
      g_debug("metadata: domain %s is gone", uuid);
      return TRUE;
    }
    g_warning("metadata: cannot look up domain %s: %s", uuid, virGetLastErrorMessage());
    return virConnectIsAlive(m->conn) == 1;
  }
  int active = virDomainIsActive(dom), persistent = virDomainIsPersistent(dom);
  /* Persistent config is refused for transient domains, live for stopped ones. */
  unsigned int flags =
      (active == 1 ? VIR_DOMAIN_AFFECT_LIVE : 0) | (persistent == 1 ? VIR_DOMAIN_AFFECT_CONFIG : 0);
  if (!flags)
    return TRUE;
  if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml, AVMA_METADATA_KEY,
                           AVMA_METADATA_NS, flags) < 0) {
    g_warning("metadata: cannot write to %s: %s", virDomainGetName(dom), virGetLastErrorMessage());
    return virConnectIsAlive(m->conn) == 1;
  }
  g_debug("metadata: written to %s", virDomainGetName(dom));
  return TRUE;
}

static gboolean flush(gpointer data) {
  AvmaMetadata *m = data;
  m->idle = 0;
  if (!m->conn)
    return G_SOURCE_REMOVE;
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init(&it, m->pending);
  while (g_hash_table_iter_next(&it, &k, &v))
    if (write_one(m, k, v))
      g_hash_table_iter_remove(&it);
  return G_SOURCE_REMOVE;
}

static void schedule(AvmaMetadata *m) {
  /* Idle priority: the guest's reply, already queued, goes out before the libvirt call. */
  if (!m->idle && m->conn && g_hash_table_size(m->pending))
    m->idle = g_idle_add(flush, m);
}

static void on_event(AvmaHost *h, AvmaVm *vm, const AvmaHostEvent *ev, gpointer user) {
  AvmaMetadata *m = user;
  (void)h;
  /* Protocol-level Invalid Data reports leave the VM's activation state as it was. Fixed
   * channels (no UUID) have no domain to write to. */
  if (ev->kind != AVMA_HOST_EVENT_DECISION || !avma_vm_has_domain(vm))
    return;
  g_hash_table_replace(m->pending, g_strdup(avma_vm_key_of(vm)),
                       avma_metadata_xml(ev, m->host_name));
  schedule(m);
}

AvmaMetadata *avma_metadata_new(AvmaHost *host) {
  AvmaMetadata *m = g_new0(AvmaMetadata, 1);
  m->host = avma_host_ref(host);
  m->pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  m->host_name = g_strdup(g_get_host_name());
  m->observer = avma_host_add_observer(host, on_event, m);
  return m;
}

void avma_metadata_free(AvmaMetadata *m) {
  if (!m)
    return;
  avma_host_remove_observer(m->host, m->observer);
  avma_host_free(m->host);
  if (m->idle)
    g_source_remove(m->idle);
  g_hash_table_unref(m->pending);
  g_free(m->host_name);
  g_free(m);
}

void avma_metadata_set_connection(AvmaMetadata *m, virConnectPtr conn) {
  m->conn = conn;
  if (!conn && m->idle) {
    g_source_remove(m->idle);
    m->idle = 0;
  }
  schedule(m);
}
