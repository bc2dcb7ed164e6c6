/* verify-receipt: `avma-verify receipt`: activation receipts (a signed note, or the JSON export
 * of `avma-guest receipt --json`) against the host key, and with --history the witness check:
 * does the host's events.jsonl still hold the receipt's record, with the same line hash? */
#include "verify.h"

#include "receipt.h"

#include <json-glib/json-glib.h>
#include <string.h>

/* The receipts in a file: the note itself, or a JSON export (an array of objects with a
 * "receipt" member, or an object holding such an array as "receipts"). */
static GPtrArray *load_receipts(const char *path, GError **error) {
  g_autofree char *text = NULL;
  if (!g_file_get_contents(path, &text, NULL, error))
    return NULL;
  GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
  if (g_str_has_prefix(text, AVMA_RECEIPT_MAGIC "\n")) {
    g_ptr_array_add(out, g_steal_pointer(&text));
    return out;
  }
  g_autoptr(JsonParser) p = json_parser_new();
  if (!json_parser_load_from_data(p, text, -1, error)) {
    g_ptr_array_unref(out);
    return NULL;
  }
  JsonNode *root = json_parser_get_root(p);
  JsonArray *a = NULL;
  if (root && JSON_NODE_HOLDS_ARRAY(root)) /* an empty file has no root */
    a = json_node_get_array(root);
  else if (root && JSON_NODE_HOLDS_OBJECT(root) &&
           json_object_has_member(json_node_get_object(root), "receipts"))
    a = json_object_get_array_member(json_node_get_object(root), "receipts");
  for (guint i = 0; a && i < json_array_get_length(a); i++) {
    JsonNode *n = json_array_get_element(a, i);
    JsonObject *o = JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
    JsonNode *r = o ? json_object_get_member(o, "receipt") : NULL;
    if (r && JSON_NODE_HOLDS_VALUE(r) && json_node_get_value_type(r) == G_TYPE_STRING)
      g_ptr_array_add(out, g_strdup(json_node_get_string(r)));
  }
  if (out->len == 0) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                "%s: neither a receipt nor an export of receipts", path);
    g_ptr_array_unref(out);
    return NULL;
  }
  return out;
}

/* The record numbers of a history's lines ("seq" of each JSON line) -> the line's hash. Lines
 * that are not records are skipped: that the chain is sound is `history verify`'s question; a
 * witness asks only whether record N is there and unchanged. */
static GHashTable *load_history(const char *path, guint64 *last, GError **error) {
  g_autofree char *text = NULL;
  if (!g_file_get_contents(path, &text, NULL, error))
    return NULL;
  GHashTable *h = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
  *last = 0;
  g_autoptr(JsonParser) p = json_parser_new();
  for (char *line = text, *nl; *line; line = nl ? nl + 1 : line + strlen(line)) {
    nl = strchr(line, '\n');
    gsize len = nl ? (gsize)(nl - line) : strlen(line);
    if (!json_parser_load_from_data(p, line, (gssize)len, NULL))
      continue;
    JsonNode *root = json_parser_get_root(p);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root))
      continue;
    JsonNode *s = json_object_get_member(json_node_get_object(root), "seq");
    if (!s || !JSON_NODE_HOLDS_VALUE(s) || json_node_get_value_type(s) != G_TYPE_INT64)
      continue;
    gint64 *seq = g_new(gint64, 1);
    *seq = json_node_get_int(s);
    *last = MAX(*last, (guint64)MAX(*seq, 0));
    g_hash_table_replace(h, seq, avma_sha256_hex(line, len));
  }
  return h;
}

static int witness(const AvmaReceipt *r, GHashTable *history, guint64 last, const char *what) {
  gint64 seq = (gint64)r->seq;
  const char *hash = g_hash_table_lookup(history, &seq);
  if (!hash)
    return avma_verify_failed("%s: the history has no record %" G_GUINT64_FORMAT
                              " (its last record is %" G_GUINT64_FORMAT "): truncated or deleted",
                              what, r->seq, last);
  if (strcmp(hash, r->head))
    return avma_verify_failed("%s: the history's record %" G_GUINT64_FORMAT
                              " is not the one receipted (line hash %s, the receipt has %s): "
                              "edited or replaced",
                              what, r->seq, hash, r->head);
  return AVMA_VERIFY_OK;
}

int avma_verify_receipt(int argc, char **argv) {
  AvmaVerifyKeyOpts ko = {0};
  g_autofree char *history_path = NULL;
  GOptionEntry e[] = {AVMA_VERIFY_KEY_OPTIONS(&ko),
                      {"history", 0, 0, G_OPTION_ARG_FILENAME, &history_path,
                       "The host's events.jsonl: check that it holds each receipt's record",
                       "EVENTS.jsonl"},
                      {NULL}};
  g_autoptr(GError) err = NULL;
  const char *params = "FILE (--key HOST.pub | --root ROOT.pub --cert CERT) [--history FILE]";
  if (!avma_verify_parse("receipt", params, e, &argc, &argv, &err))
    return avma_verify_key_opts_clear(&ko), avma_verify_usage("receipt: %s", err->message);
  if (argc != 2)
    return avma_verify_key_opts_clear(&ko), avma_verify_usage("receipt: one FILE expected");
  AvmaPublicKey pub;
  g_autofree char *how = NULL;
  int rc = avma_verify_trusted_key(&ko, &pub, &how, NULL);
  avma_verify_key_opts_clear(&ko);
  if (rc != AVMA_VERIFY_OK)
    return rc;
  g_autoptr(GPtrArray) notes = load_receipts(argv[1], &err);
  if (!notes)
    return avma_verify_usage("receipt: %s", err->message);
  g_autoptr(GHashTable) history = NULL;
  guint64 last = 0;
  if (history_path && !(history = load_history(history_path, &last, &err)))
    return avma_verify_usage("receipt: %s", err->message);
  /* Every receipt has its verdict; the worst status is the exit status. */
  for (guint i = 0; i < notes->len; i++) {
    g_autofree char *what =
        notes->len == 1 ? g_strdup(argv[1]) : g_strdup_printf("%s receipt %u", argv[1], i + 1);
    AvmaReceipt r;
    g_clear_error(&err);
    if (!avma_receipt_open(notes->pdata[i], &pub, &r, &err)) {
      rc = MAX(rc, avma_verify_failed("%s: %s", what, err->message));
      continue;
    }
    int w = history ? witness(&r, history, last, what) : AVMA_VERIFY_OK;
    if (w == AVMA_VERIFY_OK)
      avma_verify_ok("%s signed by %s: record %" G_GUINT64_FORMAT ", VM %s (%s), %s at %s%s", what,
                     how, r.seq, r.vm_name, *r.vm_id ? r.vm_id : "no UUID", r.notification,
                     r.decided_at, history ? ", the same record in the history" : "");
    rc = MAX(rc, w);
    avma_receipt_clear(&r);
  }
  return rc;
}
