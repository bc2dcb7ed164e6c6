/* cli-kvp: `avma-host kvp VM`, every KVP pool of a VM as avma-hostd last published it in
 * STATE/vms.json; --json in the shape of Hyper-V's Msvm_KvpExchangeDataItem, so scripts written
 * for Hyper-V's KVP read ours. */
#include "cli.h"
#include "host.h"
#include "kvp.h"
#include "vmview.h"

#include <string.h>

#define KVP_NO_SUCH_VM 3 /* the exit status avma-host(1) documents */

/* Hyper-V's item Source: 0 host exchange items (host -> guest), 1 guest exchange items, 2 guest
 * intrinsic items, 4 host-only items. The host-provided items the guest reads (auto-external)
 * are sent by the host: 0. */
static int source_of(AvmaPool p) {
  switch (p) {
  case AVMA_POOL_GUEST:
    return 1;
  case AVMA_POOL_AUTO:
    return 2;
  case AVMA_POOL_AUTO_INTERNAL:
    return 4;
  default:
    return 0;
  }
}

static JsonObject *find_vm(JsonObject *doc, const char *vm) {
  JsonArray *arr = json_object_get_array_member(doc, "vms");
  for (guint i = 0; i < json_array_get_length(arr); i++) {
    JsonObject *o = json_array_get_object_element(arr, i);
    const char *uuid = json_object_get_string_member_with_default(o, "uuid", "");
    if (!g_strcmp0(json_object_get_string_member_with_default(o, "name", ""), vm) ||
        (*uuid && !g_ascii_strcasecmp(uuid, vm)))
      return o;
  }
  return NULL;
}

/* The entry's pool p ({key -> value}), or NULL. A view written before pools were published has
 * only the intrinsic items. */
static JsonObject *pool_of(JsonObject *entry, AvmaPool p) {
  JsonNode *kvp = json_object_get_member(entry, "kvp");
  const char *member = NULL;
  JsonObject *in = NULL;
  if (kvp && JSON_NODE_HOLDS_OBJECT(kvp)) {
    in = json_node_get_object(kvp);
    member = avma_pool_name(p);
  } else if (p == AVMA_POOL_AUTO) {
    in = entry;
    member = "intrinsic";
  }
  JsonNode *n = in ? json_object_get_member(in, member) : NULL;
  return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

static char *safe(const char *s) {
  gsize cap = strlen(s) + 1;
  char *out = g_malloc(cap);
  avma_text_sanitize(s, cap - 1, out, cap);
  return out;
}

int avma_cli_kvp(const AvmaCliGlobals *g, int argc, char **argv) {
  gboolean json = FALSE;
  g_autofree char *pool_s = NULL;
  GOptionEntry e[] = {{"pool", 0, 0, G_OPTION_ARG_STRING, &pool_s, "Only this pool", "P"},
                      {"json", 0, 0, G_OPTION_ARG_NONE, &json,
                       "Hyper-V's exchange items: Name, Data, Source", NULL},
                      {NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_cli_parse(e, &argc, &argv, &err))
    return avma_cli_fail("kvp: %s", err->message), 2;
  if (argc != 2)
    return avma_cli_fail(argc < 2 ? "kvp: give one VM (name or UUID)"
                                  : "kvp: unexpected argument '%s'",
                         argc < 2 ? "" : argv[2]),
           2;
  AvmaPool only = AVMA_POOL__COUNT;
  if (pool_s && !avma_pool_from_name(pool_s, &only))
    return avma_cli_fail("kvp: --pool must be external, guest, auto, auto-external or "
                         "auto-internal, not '%s'",
                         pool_s),
           2;
  g_autoptr(AvmaHostConfig) c = avma_cli_config(g, &err);
  if (!c)
    return avma_cli_fail("%s", err->message);
  g_autofree char *path = avma_host_state_path(c, AVMA_VMVIEW_FILE);
  g_autoptr(JsonObject) doc = avma_vmview_load(path, &err);
  if (!doc)
    return avma_cli_fail("kvp: %s", err->message);
  JsonObject *entry = find_vm(doc, argv[1]);
  if (!entry) {
    g_autofree char *name = safe(argv[1]);
    avma_cli_fail("kvp: no VM '%s' in avma-hostd's view (%s); 'avma-host vms' lists them", name,
                  path);
    return KVP_NO_SUCH_VM;
  }
  if (!json_object_get_member(entry, "kvp"))
    fprintf(stderr, "avma-host: note: %s comes from an older avma-hostd: intrinsic items only\n",
            path);

  JsonArray *items = json_array_new();
  g_autoptr(JsonNode) root = json_node_new(JSON_NODE_ARRAY);
  json_node_take_array(root, items);
  if (!json)
    printf("%-13s  %-34s  %s\n", "POOL", "NAME", "DATA");
  for (int p = 0; p < AVMA_POOL__COUNT; p++) {
    if (only != AVMA_POOL__COUNT && p != (int)only)
      continue;
    JsonObject *pool = pool_of(entry, (AvmaPool)p);
    if (!pool)
      continue;
    g_autoptr(GList) keys = g_list_sort(json_object_get_members(pool), (GCompareFunc)strcmp);
    for (GList *k = keys; k; k = k->next) {
      const char *v = json_object_get_string_member_with_default(pool, k->data, "");
      if (json) {
        JsonObject *it = json_object_new();
        json_object_set_string_member(it, "Name", k->data);
        json_object_set_string_member(it, "Data", v);
        json_object_set_int_member(it, "Source", source_of((AvmaPool)p));
        json_array_add_object_element(items, it);
      } else {
        g_autofree char *sk = safe(k->data), *sv = safe(v);
        printf("%-13s  %-34s  %s\n", avma_pool_name((AvmaPool)p), sk, sv);
      }
    }
  }
  if (json)
    avma_cli_print_json(root);
  return 0;
}
