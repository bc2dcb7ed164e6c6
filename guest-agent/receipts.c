/* receipts: the guest's kept activation receipts. */
#include "receipts.h"

#include "fsutil.h"
#include "receipt.h"
#include "timeutil.h"

#include <gio/gio.h>
#include <string.h>

/* The stored members; the others are derived on reading. */
#define M_AT "received_at"
#define M_KEY "host_key"
#define M_NOTE "receipt"

static JsonArray *read_stored(const char *path, GError **error) {
  g_autofree char *text = NULL;
  g_autoptr(GError) local = NULL;
  if (!g_file_get_contents(path, &text, NULL, &local)) {
    if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      return json_array_new();
    g_propagate_error(error, g_steal_pointer(&local));
    return NULL;
  }
  g_autoptr(JsonParser) p = json_parser_new();
  if (!json_parser_load_from_data(p, text, -1, error))
    return NULL;
  JsonNode *root = json_parser_get_root(p);
  if (!root || !JSON_NODE_HOLDS_ARRAY(root)) { /* an empty file has no root */
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: not a list of receipts", path);
    return NULL;
  }
  return json_array_ref(json_node_get_array(root));
}

/* Check one receipt against the key it came with; NULL when it verifies. */
static char *check(const char *note, const char *host_key, AvmaReceipt *r, AvmaPublicKey *pub) {
  g_autoptr(GError) err = NULL;
  memset(r, 0, sizeof *r);
  if (!host_key || !*host_key)
    return g_strdup("no host public key came with it");
  if (!avma_public_key_parse(host_key, pub, &err))
    return g_strdup_printf("the host public key it came with: %s", err->message);
  if (!avma_receipt_open(note, pub, r, &err))
    return g_strdup(err->message);
  return NULL;
}

gboolean avma_guest_receipts_add(const char *path, const char *note, const char *host_key,
                                 gint64 now, char **verdict, GError **error) {
  g_autoptr(GError) rerr = NULL;
  g_autoptr(JsonArray) old = read_stored(path, &rerr);
  if (!old) {
    /* An unreadable list must not stop the guest keeping receipts: it starts again. */
    g_warning("receipts: %s; starting a new list", rerr->message);
    old = json_array_new();
  }
  AvmaReceipt r;
  AvmaPublicKey pub;
  g_autofree char *why = check(note, host_key, &r, &pub);
  avma_receipt_clear(&r);
  g_autoptr(JsonArray) keep = json_array_new();
  guint n = json_array_get_length(old);
  for (guint i = n >= AVMA_GUEST_RECEIPTS_KEPT ? n - AVMA_GUEST_RECEIPTS_KEPT + 1 : 0; i < n; i++)
    json_array_add_element(keep, json_node_copy(json_array_get_element(old, i)));
  JsonObject *o = json_object_new();
  g_autofree char *at = avma_time_format(now);
  json_object_set_string_member(o, M_AT, at);
  json_object_set_string_member(o, M_KEY, host_key ? host_key : "");
  json_object_set_string_member(o, M_NOTE, note);
  json_array_add_object_element(keep, o);
  g_autoptr(JsonNode) node = json_node_new(JSON_NODE_ARRAY);
  json_node_set_array(node, keep);
  g_autofree char *text = json_to_string(node, TRUE);
  if (!avma_write_atomic(path, text, -1, 0644, error))
    return FALSE;
  if (verdict)
    *verdict = g_steal_pointer(&why);
  return TRUE;
}

static const char *member(JsonObject *o, const char *name) {
  JsonNode *n = json_object_get_member(o, name);
  return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING
             ? json_node_get_string(n)
             : NULL;
}

JsonArray *avma_guest_receipts_load(const char *path, GError **error) {
  g_autoptr(JsonArray) stored = read_stored(path, error);
  if (!stored)
    return NULL;
  JsonArray *out = json_array_new();
  for (guint i = 0; i < json_array_get_length(stored); i++) {
    JsonNode *n = json_array_get_element(stored, i);
    if (!JSON_NODE_HOLDS_OBJECT(n))
      continue;
    JsonObject *s = json_node_get_object(n);
    const char *note = member(s, M_NOTE), *key = member(s, M_KEY), *at = member(s, M_AT);
    JsonObject *o = json_object_new();
    json_object_set_string_member(o, M_AT, at ? at : "");
    json_object_set_string_member(o, M_KEY, key ? key : "");
    json_object_set_string_member(o, M_NOTE, note ? note : "");
    AvmaReceipt r;
    AvmaPublicKey pub;
    g_autofree char *why = note ? check(note, key, &r, &pub) : g_strdup("no receipt text");
    json_object_set_boolean_member(o, "verified", why == NULL);
    if (why) {
      json_object_set_string_member(o, "error", why);
    } else {
      g_autofree char *id = avma_key_id_hex(pub.id);
      json_object_set_string_member(o, "host_key_id", id);
      json_object_set_int_member(o, "seq", (gint64)r.seq);
      json_object_set_string_member(o, "head", r.head);
      json_object_set_string_member(o, "vm_name", r.vm_name);
      json_object_set_string_member(o, "vm_id", r.vm_id);
      json_object_set_string_member(o, "notification", r.notification);
      json_object_set_string_member(o, "decided_at", r.decided_at);
      json_object_set_string_member(o, "granted_until", r.granted_until);
      avma_receipt_clear(&r);
    }
    json_array_add_object_element(out, o);
  }
  return out;
}
