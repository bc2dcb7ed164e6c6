/* receipts-view: the kept receipts as avma-guest shows them (JSON objects for its output). */
#include "receipts.h"

#include "core/evline.h"

JsonArray *avma_guest_receipts_load(const char *path, GError **error) {
  g_autoptr(GPtrArray) stored = avma_guest_receipts_read(path, error);
  if (!stored)
    return NULL;
  JsonArray *out = json_array_new();
  for (guint i = 0; i < stored->len; i++) {
    const AvmaJsonFlat *s = stored->pdata[i];
    const char *note = avma_json_flat_str(s, AVMA_RECEIPTS_M_NOTE, NULL);
    const char *key = avma_json_flat_str(s, AVMA_RECEIPTS_M_KEY, NULL);
    const char *at = avma_json_flat_str(s, AVMA_RECEIPTS_M_AT, NULL);
    JsonObject *o = json_object_new();
    json_object_set_string_member(o, AVMA_RECEIPTS_M_AT, at ? at : "");
    json_object_set_string_member(o, AVMA_RECEIPTS_M_KEY, key ? key : "");
    json_object_set_string_member(o, AVMA_RECEIPTS_M_NOTE, note ? note : "");
    AvmaReceipt r;
    AvmaPublicKey pub;
    g_autofree char *why =
        note ? avma_guest_receipt_check(note, key, &r, &pub) : g_strdup("no receipt text");
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
