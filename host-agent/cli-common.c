/* cli-common: helpers shared by the avma-host verbs. */
#include "cli.h"

#include "fsutil.h"
#include "kvp.h"

#include <string.h>

/* Every verb creates a missing state directory (brief section 6), as avma-host(1) says. */
AvmaHostConfig *avma_cli_config(const AvmaCliGlobals *g, GError **error) {
  g_autoptr(AvmaHostConfig) c =
      avma_host_config_load(g->config_path, g->state_dir, g->connect_uri, error);
  if (!c || !avma_ensure_dir(c->state_dir, 0750, error))
    return NULL;
  return g_steal_pointer(&c);
}

void avma_cli_print_json(JsonNode *node) {
  g_autofree char *s = json_to_string(node, TRUE);
  printf("%s\n", s);
}

void avma_cli_print_object(JsonObject *o) {
  g_autoptr(JsonNode) n = json_node_new(JSON_NODE_OBJECT);
  json_node_set_object(n, o);
  avma_cli_print_json(n);
}

char *avma_cli_safe(const char *s) {
  if (!s)
    return g_strdup("");
  size_t len = strlen(s), cap = len + 1;
  char *out = g_malloc(cap);
  avma_text_sanitize(s, len, out, cap);
  return out;
}
