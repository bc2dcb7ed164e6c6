/* control-request: the control socket's request line, parsed. */
#include "control-request.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <string.h>

/* A member that must be a JSON string: json-glib's getters return NULL (verb: null) or raise a
 * critical (an object) for anything else, which the daemon must not meet. */
static const char *string_member(JsonObject *o, const char *name) {
  JsonNode *n = json_object_get_member(o, name);
  if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string(n);
}

static const struct {
  const char *name;
  AvmaControlVerb verb;
} verbs[] = {{"ato", AVMA_CONTROL_ATO},
             {"ipk", AVMA_CONTROL_IPK},
             {"upk", AVMA_CONTROL_UPK},
             {"port", AVMA_CONTROL_PORT}};

gboolean avma_control_request_parse(const char *line, gsize len, AvmaControlRequest *out,
                                    GError **error) {
  memset(out, 0, sizeof *out);
  if (len > AVMA_CONTROL_MAX_REQUEST) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "request longer than %d bytes",
                AVMA_CONTROL_MAX_REQUEST);
    return FALSE;
  }
  g_autoptr(JsonParser) p = json_parser_new();
  g_autoptr(GError) jerr = NULL;
  if (!json_parser_load_from_data(p, line, (gssize)len, &jerr)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "request is not JSON: %s",
                jerr->message);
    return FALSE;
  }
  JsonNode *root = json_parser_get_root(p);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "request is not a JSON object");
    return FALSE;
  }
  JsonObject *o = json_node_get_object(root);
  const char *verb = string_member(o, "verb");
  if (!verb) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                        "request has no string member \"verb\"");
    return FALSE;
  }
  for (gsize i = 0; i < G_N_ELEMENTS(verbs); i++) {
    if (strcmp(verb, verbs[i].name))
      continue;
    if (verbs[i].verb == AVMA_CONTROL_IPK) {
      const char *key = string_member(o, "key");
      if (!key) {
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                            "ipk request has no string member \"key\"");
        return FALSE;
      }
      out->key = g_strdup(key);
    }
    out->verb = verbs[i].verb;
    return TRUE;
  }
  /* The verb is echoed to root's terminal by the CLI: keep it short and printable. */
  g_autofree char *shown = g_strndup(verb, 32);
  for (char *c = shown; *c; c++)
    if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
      *c = '?';
  g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "unknown verb '%s'", shown);
  return FALSE;
}

void avma_control_request_clear(AvmaControlRequest *r) {
  g_clear_pointer(&r->key, g_free);
}
