/* facts: host topology (into the record log) and VM vCPUs (into the history store). */
#include "facts.h"

#include "timeutil.h"
#include "virt.h"

#include <string.h>
#include <unistd.h>

struct AvmaFacts {
  AvmaHost *host; /* a reference */
  guint observer;
  AvmaHistory *history;
  virConnectPtr conn;  /* borrowed */
  GHashTable *pending; /* VM UUID -> name: vCPUs to read at the next idle */
  guint idle;
  AvmaHostEvent *last; /* the host facts last recorded */
};

static char *read_trimmed(const char *path) {
  char *s = NULL;
  if (!g_file_get_contents(path, &s, NULL, NULL))
    return NULL;
  return g_strstrip(s);
}

void avma_host_facts_probe(AvmaHostFacts *f) {
  memset(f, 0, sizeof *f);
  g_autoptr(GHashTable) pkgs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) cores = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  int cpus = 0;
  g_autoptr(GDir) d = g_dir_open("/sys/devices/system/cpu", 0, NULL);
  const char *n;
  while (d && (n = g_dir_read_name(d))) {
    if (strncmp(n, "cpu", 3) || !g_ascii_isdigit(n[3]))
      continue;
    g_autofree char *p =
        g_strdup_printf("/sys/devices/system/cpu/%s/topology/physical_package_id", n);
    g_autofree char *c = g_strdup_printf("/sys/devices/system/cpu/%s/topology/core_id", n);
    g_autofree char *pkg = read_trimmed(p);
    g_autofree char *core = read_trimmed(c);
    if (!pkg || !core)
      continue; /* offline CPUs have no topology */
    cpus++;
    g_hash_table_add(cores, g_strdup_printf("%s/%s", pkg, core));
    g_hash_table_add(pkgs, g_steal_pointer(&pkg));
  }
  guint np = g_hash_table_size(pkgs), nc = g_hash_table_size(cores);
  if (cpus > 0 && np > 0 && nc >= np) {
    f->sockets = (int)np;
    f->cores_per_socket = (int)(nc / np);
    f->threads_per_core = MAX(1, cpus / (int)nc);
    f->cpus = cpus;
    f->source = "sysfs";
    return;
  }
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  f->sockets = 1;
  f->cores_per_socket = online > 0 ? (int)online : 1;
  f->threads_per_core = 1;
  f->cpus = f->cores_per_socket;
  f->source = "sysconf";
}

/* A 12313 record in the record log (the store imports it from there) when the facts differ from
 * the last this daemon recorded, so each start records them once and a change again. */
static void record_host(AvmaFacts *f, AvmaHostFacts *hf) {
  g_auto(AvmaHostEvent) ev;
  avma_host_event_init_facts(&ev, avma_now());
  ev.hostname = g_strdup(g_get_host_name());
  ev.sockets = hf->sockets;
  ev.cores_per_socket = hf->cores_per_socket;
  ev.threads_per_core = hf->threads_per_core;
  ev.cpus = hf->cpus;
  ev.facts_source = g_strdup(hf->source ? hf->source : "");
  if (f->last && avma_host_event_same_state(f->last, &ev))
    return;
  g_autoptr(GError) err = NULL;
  if (!avma_host_append_record(f->host, &ev, NULL, &err)) {
    g_warning("cannot record host facts: %s", err->message);
    return;
  }
  avma_host_event_free(f->last);
  f->last = avma_host_event_copy(&ev);
}

/* The report must be reproducible from history alone, so the vCPUs libvirt knows are recorded
 * when seen. */
static gboolean record_vcpus(gpointer data) {
  AvmaFacts *f = data;
  f->idle = 0;
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init(&it, f->pending);
  while (f->conn && g_hash_table_iter_next(&it, &k, &v)) {
    g_autoptr(virDomain) dom = virDomainLookupByUUIDString(f->conn, k);
    virDomainInfo info;
    if (dom && virDomainGetInfo(dom, &info) == 0) {
      g_autoptr(GError) err = NULL;
      if (!avma_history_record_vm_vcpus(f->history, avma_now(), v, k, info.nrVirtCpu, "libvirt",
                                        &err))
        g_warning("cannot record vCPUs of %s: %s", (char *)v, err->message);
    }
  }
  /* Without a connection the VMs' next decisions ask again. */
  g_hash_table_remove_all(f->pending);
  return G_SOURCE_REMOVE;
}

static void on_event(AvmaHost *h, AvmaVm *vm, const AvmaHostEvent *ev, gpointer user) {
  (void)h;
  (void)ev;
  AvmaFacts *f = user;
  if (!vm || !f->conn || !avma_vm_has_domain(vm))
    return;
  g_hash_table_replace(f->pending, g_strdup(avma_vm_uuid(vm)), g_strdup(avma_vm_name(vm)));
  if (!f->idle)
    f->idle = g_idle_add(record_vcpus, f);
}

AvmaFacts *avma_facts_new(AvmaHost *host, AvmaHistory *history) {
  AvmaFacts *f = g_new0(AvmaFacts, 1);
  f->host = avma_host_ref(host);
  f->history = history;
  f->pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  AvmaHostFacts hf;
  avma_host_facts_probe(&hf);
  record_host(f, &hf);
  if (history)
    f->observer = avma_host_add_observer(host, on_event, f);
  return f;
}

void avma_facts_free(AvmaFacts *f) {
  if (!f)
    return;
  avma_host_remove_observer(f->host, f->observer);
  if (f->idle)
    g_source_remove(f->idle);
  g_hash_table_unref(f->pending);
  avma_host_event_free(f->last);
  avma_host_free(f->host);
  g_free(f);
}

void avma_facts_set_connection(AvmaFacts *f, virConnectPtr conn) {
  f->conn = conn;
  virNodeInfo ni;
  if (!conn || virNodeGetInfo(conn, &ni) != 0)
    return;
  /* Sockets and cores for the licensable-core count, as libvirt sees them. */
  AvmaHostFacts hf = {.sockets = (int)(ni.nodes * ni.sockets),
                      .cores_per_socket = (int)ni.cores,
                      .threads_per_core = (int)ni.threads,
                      .cpus = (int)ni.cpus,
                      .source = "libvirt"};
  record_host(f, &hf);
}
