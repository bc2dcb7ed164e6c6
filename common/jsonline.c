#include "jsonline.h"

JsonObject *avma_json_object_parse(JsonParser *p, const char *text, gssize len) {
  if (!text || !json_parser_load_from_data(p, text, len, NULL))
    return NULL;
  JsonNode *root = json_parser_get_root(p);
  return root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
}
