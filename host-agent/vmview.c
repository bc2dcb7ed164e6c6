/* vmview: STATE/vms.json, the daemon's per-VM view. */
#include "vmview.h"

#include "fsutil.h"
#include "kvp.h"
#include "timeutil.h"

#include <gio/gio.h>
#include <string.h>
#include <unistd.h>

#define VMVIEW_VERSION 1

struct AvmaVmViewWriter {
  AvmaHost *host; /* a reference while it observes one (avma_vmview_writer_observe) */
  guint observer, vm_observer;
  char *path;
  guint debounce_ms;
  guint cost_ms; /* how long the last write took */
  AvmaVmViewCollectFn collect;
  gpointer user;
  guint timer;
};

JsonObject *avma_vmview_entry_new(AvmaHost *h, AvmaVm *vm, const char *state,
                                  gboolean channel_present, const char *channel_detail,
                                  AvmaSession *session) {
  JsonObject *o = json_object_new();
  json_object_set_string_member(o, "name", avma_vm_name(vm));
  json_object_set_string_member(o, "uuid", avma_vm_uuid(vm));
  json_object_set_string_member(o, "state", state ? state : "");
  json_object_set_boolean_member(o, "channel_present", channel_present);
  json_object_set_string_member(o, "channel_detail", channel_detail ? channel_detail : "");
  json_object_set_boolean_member(o, "connected", session && avma_session_connected(session));
  json_object_set_string_member(o, "socket_path", session ? avma_session_path(session) : "");
  avma_host_event_to_view(avma_vm_last_event(vm), o);
  json_object_set_object_member(o, "intrinsic", avma_vm_pool_json(vm, AVMA_POOL_AUTO));
  json_object_set_object_member(o, "kvp", avma_vm_pools_json(h, vm));
  return o;
}

AvmaVmViewWriter *avma_vmview_writer_new(const char *path, guint debounce_ms,
                                         AvmaVmViewCollectFn collect, gpointer user) {
  AvmaVmViewWriter *w = g_new0(AvmaVmViewWriter, 1);
  w->path = g_strdup(path);
  w->debounce_ms = debounce_ms;
  w->collect = collect;
  w->user = user;
  return w;
}

void avma_vmview_writer_free(AvmaVmViewWriter *w) {
  if (!w)
    return;
  if (w->host) {
    avma_host_remove_observer(w->host, w->observer);
    avma_host_remove_observer(w->host, w->vm_observer);
    avma_host_free(w->host);
  }
  if (w->timer)
    g_source_remove(w->timer);
  g_free(w->path);
  g_free(w);
}

struct AvmaVmViewSink {
  JsonObject *doc;
  GString *out; /* the "vms" array's elements, comma-separated */
  guint n;
};

void avma_vmview_sink_add(AvmaVmViewSink *sink, JsonObject *entry) {
  if (!json_object_get_boolean_member_with_default(sink->doc, "running", TRUE))
    json_object_set_boolean_member(entry, "connected", FALSE);
  g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
  json_node_take_object(node, entry);
  g_autofree char *text = json_to_string(node, FALSE);
  if (sink->n++)
    g_string_append_c(sink->out, ',');
  g_string_append(sink->out, text);
}

gboolean avma_vmview_writer_flush(AvmaVmViewWriter *w, GError **error) {
  if (w->timer) {
    g_source_remove(w->timer);
    w->timer = 0;
  }
  gint64 started = g_get_monotonic_time();
  g_autoptr(JsonObject) doc = json_object_new();
  json_object_set_int_member(doc, "version", VMVIEW_VERSION);
  g_autofree char *now = avma_time_format(avma_now());
  json_object_set_string_member(doc, "written", now);
  json_object_set_int_member(doc, "pid", getpid());
  AvmaVmViewSink sink = {.doc = doc, .out = g_string_new(NULL)};
  w->collect(&sink, doc, w->user);
  /* The document's own members, then the array spliced in before its closing brace (the
   * document always has members, so it ends in "}" after at least one). */
  g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
  json_node_set_object(root, doc);
  g_autofree char *head = json_to_string(root, FALSE);
  gsize hl = strlen(head);
  g_assert(hl >= 2 && head[hl - 1] == '}');
  /* One buffer: the entries, wrapped in place (a second copy of a 5000-VM view is ~5 MB). */
  g_autoptr(GString) text = sink.out;
  g_string_prepend(text, ",\"vms\":[");
  g_string_prepend_len(text, head, (gssize)hl - 1);
  g_string_append(text, "]}");
  /* Intrinsic items (addresses, host names) are the tenant's: not world-readable. The view is
   * rebuilt from the daemon's state, so it needs to be atomic, not durable: no fsync, which
   * blocked the loop for 0.1-0.3 s at 5000 VMs (tests/bench/PROFILE.md). */
  gboolean ok = avma_write_replace(w->path, text->str, (gssize)text->len, 0640, error);

  /* Keep the view's share of the loop small however many VMs there are. */
  w->cost_ms = (guint)((g_get_monotonic_time() - started) / 1000);
  return ok;
}

static gboolean on_timer(gpointer data) {
  AvmaVmViewWriter *w = data;
  w->timer = 0;
  g_autoptr(GError) err = NULL;
  if (!avma_vmview_writer_flush(w, &err))
    g_warning("cannot write %s: %s", w->path, err->message);
  return G_SOURCE_REMOVE;
}

void avma_vmview_writer_touch(AvmaVmViewWriter *w) {
  /* The first change arms the timer; later ones ride along with that write. */
  if (!w->timer)
    w->timer = g_timeout_add(MAX(w->debounce_ms, 20 * w->cost_ms), on_timer, w);
}

static void on_event(AvmaHost *h, AvmaVm *vm, const AvmaHostEvent *ev, gpointer user) {
  (void)h, (void)vm, (void)ev;
  avma_vmview_writer_touch(user);
}

static void on_vm(AvmaHost *h, AvmaVm *vm, gboolean running, const char *why, gpointer user) {
  (void)h, (void)vm, (void)running, (void)why;
  avma_vmview_writer_touch(user);
}

void avma_vmview_writer_observe(AvmaVmViewWriter *w, AvmaHost *host) {
  g_return_if_fail(!w->host);
  w->host = avma_host_ref(host);
  w->observer = avma_host_add_observer(host, on_event, w);
  w->vm_observer = avma_host_add_vm_observer(host, on_vm, w);
}

JsonObject *avma_vmview_load(const char *path, GError **error) {
  g_autofree char *text = NULL;
  gsize len;
  g_autoptr(GError) local = NULL;
  if (!g_file_get_contents(path, &text, &len, &local)) {
    if (!g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
      g_propagate_error(error, g_steal_pointer(&local));
      return NULL;
    }
    JsonObject *empty = json_object_new();
    json_object_set_array_member(empty, "vms", json_array_new());
    return empty;
  }
  g_autoptr(JsonParser) p = json_parser_new();
  if (!json_parser_load_from_data(p, text, (gssize)len, &local)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: %s", path, local->message);
    return NULL;
  }
  JsonNode *root = json_parser_get_root(p);
  /* An empty file parses to no root (found by fuzz-vmsjson). */
  if (!root || !JSON_NODE_HOLDS_OBJECT(root) ||
      !json_object_has_member(json_node_get_object(root), "vms") ||
      !JSON_NODE_HOLDS_ARRAY(json_object_get_member(json_node_get_object(root), "vms"))) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: not a VM view", path);
    return NULL;
  }
  /* Keep only object entries so readers need not check each element's type. */
  JsonObject *doc = json_object_ref(json_node_get_object(root));
  JsonArray *in = json_object_get_array_member(doc, "vms");
  JsonArray *out = json_array_new();
  for (guint i = 0; i < json_array_get_length(in); i++) {
    JsonNode *n = json_array_get_element(in, i);
    if (JSON_NODE_HOLDS_OBJECT(n))
      json_array_add_object_element(out, json_object_ref(json_node_get_object(n)));
  }
  json_object_set_array_member(doc, "vms", out);
  return doc;
}
