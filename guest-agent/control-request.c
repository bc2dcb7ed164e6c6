/* control-request: the control socket's request line, parsed with the portable core's JSON
 * reader (avma-guestd links no json-glib: issue #20, its footprint). */
#include "control-request.h"

#include "core/evline.h"

#include <gio/gio.h>
#include <string.h>

/* A member that must be a JSON string, NULL for any other value. A repeated member counts by
 * its last value, as json-glib (which read these lines before) had it. */
static const char *string_member(const AvmaJsonFlat *o, const char *name) {
  const AvmaJsonMember *found = NULL;
  for (size_t i = 0; i < o->n; i++)
    if (!strcmp(o->m[i].name, name))
      found = &o->m[i];
  return found && found->type == AVMA_JV_STRING ? found->text : NULL;
}

static const struct {
  const char *name;
  AvmaControlVerb verb;
} verbs[] = {{"ato", AVMA_CONTROL_ATO},
             {"ipk", AVMA_CONTROL_IPK},
             {"upk", AVMA_CONTROL_UPK},
             {"port", AVMA_CONTROL_PORT}};

static gboolean parse_object(const AvmaJsonFlat *o, AvmaControlRequest *out, GError **error) {
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

gboolean avma_control_request_parse(const char *line, gsize len, AvmaControlRequest *out,
                                    GError **error) {
  memset(out, 0, sizeof *out);
  if (len > AVMA_CONTROL_MAX_REQUEST) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "request longer than %d bytes",
                AVMA_CONTROL_MAX_REQUEST);
    return FALSE;
  }
  char why[96];
  if (!avma_json_valid(line, len, why, sizeof why)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "request is not JSON: %s", why);
    return FALSE;
  }
  /* Members the request does not use may hold any JSON: the lenient reader skips them. */
  AvmaJsonFlat o;
  gsize start = 0;
  while (start < len &&
         (line[start] == ' ' || line[start] == '\t' || line[start] == '\r' || line[start] == '\n'))
    start++;
  gboolean object = start < len && line[start] == '{';
  if (!object || !avma_json_flat_parse_ex(&o, line, len, TRUE, NULL, why, sizeof why)) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                        !object ? "request is not a JSON object"
                                : "request is not a JSON object of at most 64 members");
    return FALSE;
  }
  gboolean ok = parse_object(&o, out, error);
  avma_json_flat_free(&o);
  return ok;
}

void avma_control_request_clear(AvmaControlRequest *r) {
  g_clear_pointer(&r->key, g_free);
}
