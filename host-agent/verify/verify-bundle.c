/* verify-bundle: `avma-verify bundle FILE`: an export bundle of `avma-host export` (docs/audit.md
 * "Export bundles") against the host key the auditor trusts: the header, the records' sequence
 * and links, and the newest checkpoint that signs the last of them. Names the first bad record. */
#include "verify.h"

#include "checkpoint-note.h"

#include <json-glib/json-glib.h>
#include <sodium.h>
#include <string.h>

#define FORMAT "avma-export v1"

typedef struct {
  char *text; /* the line without its newline */
  guint64 seq;
  char prev[AVMA_CHECKPOINT_HEAD_HEX];
  char hash[AVMA_CHECKPOINT_HEAD_HEX];
} Record;

static void record_clear(gpointer p) {
  g_free(((Record *)p)->text);
}

static void sha256_hex(const char *data, gsize len, char *out) {
  guint8 h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, (const unsigned char *)data, len);
  sodium_bin2hex(out, AVMA_CHECKPOINT_HEAD_HEX, h, sizeof h);
}

static JsonObject *parse_object(JsonParser *p, const char *line) {
  JsonNode *root;
  if (!json_parser_load_from_data(p, line, -1, NULL) || !(root = json_parser_get_root(p)) ||
      !JSON_NODE_HOLDS_OBJECT(root))
    return NULL;
  return json_node_get_object(root);
}

/* A member of the given type, else NULL / -1. */
static const char *str_member(JsonObject *o, const char *name) {
  JsonNode *n = json_object_get_member(o, name);
  return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING
             ? json_node_get_string(n)
             : NULL;
}
static gint64 int_member(JsonObject *o, const char *name) {
  JsonNode *n = json_object_get_member(o, name);
  return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_INT64
             ? json_node_get_int(n)
             : -1;
}

/* The one member of a trailer line ("rotation", "cert", "checkpoint"), else NULL. */
static const char *trailer_name(JsonObject *o) {
  static const char *const names[] = {"rotation", "cert", "checkpoint"};
  if (json_object_get_size(o) != 1)
    return NULL;
  for (gsize i = 0; i < G_N_ELEMENTS(names); i++)
    if (json_object_has_member(o, names[i]))
      return names[i];
  return NULL;
}

/* The keys trusted for this host: the given one, and every key a rotation statement of the
 * bundle hands on from a trusted key (old key's signature and new key's cosignature). */
static GArray *reachable_keys(const AvmaPublicKey *trusted, GPtrArray *rotations) {
  GArray *keys = g_array_new(FALSE, TRUE, sizeof(AvmaNoteKey));
  AvmaNoteKey k = {.pub = *trusted};
  g_array_append_val(keys, k);
  gboolean grew = TRUE;
  while (grew) {
    grew = FALSE;
    for (guint r = 0; r < rotations->len; r++) {
      for (guint i = 0; i < keys->len; i++) {
        AvmaKeyRotation rot;
        if (!avma_keycert_verify_rotation(rotations->pdata[r],
                                          &g_array_index(keys, AvmaNoteKey, i).pub, &rot, NULL))
          continue;
        gboolean known = FALSE;
        for (guint j = 0; j < keys->len; j++)
          known = known ||
                  avma_public_key_equal(&g_array_index(keys, AvmaNoteKey, j).pub, &rot.new_key);
        if (!known) {
          AvmaNoteKey nk = {.pub = rot.new_key};
          g_array_append_val(keys, nk);
          grew = TRUE;
        }
        break;
      }
    }
  }
  return keys;
}

static gboolean key_in(GArray *keys, const AvmaPublicKey *pub) {
  for (guint i = 0; i < keys->len; i++)
    if (avma_public_key_equal(&g_array_index(keys, AvmaNoteKey, i).pub, pub))
      return TRUE;
  return FALSE;
}

/* The sequence of records N+1 .. M: the first that is missing, out of place or twice. */
static int check_sequence(const char *file, GArray *recs, guint64 since, guint64 last) {
  for (guint i = 0; i < recs->len; i++) {
    Record *r = &g_array_index(recs, Record, i);
    guint64 want = since + 1 + i;
    if (r->seq == want)
      continue;
    gboolean seen_want = FALSE, dup = FALSE;
    for (guint j = 0; j < recs->len; j++) {
      seen_want = seen_want || g_array_index(recs, Record, j).seq == want;
      dup = dup || (j != i && g_array_index(recs, Record, j).seq == r->seq);
    }
    if (dup)
      return avma_verify_failed("%s: record %" G_GUINT64_FORMAT
                                " appears twice: a record was inserted or replayed",
                                file, r->seq);
    if (seen_want)
      return avma_verify_failed(
          "%s: record %" G_GUINT64_FORMAT
          " is not at its place (bundle line %u holds record %" G_GUINT64_FORMAT
          "): records were reordered",
          file, want, i + 2, r->seq);
    return avma_verify_failed("%s: record %" G_GUINT64_FORMAT
                              " was deleted (the bundle goes on with record %" G_GUINT64_FORMAT ")",
                              file, want, r->seq);
  }
  if (recs->len == 0 && since >= last)
    return AVMA_VERIFY_OK; /* exported from at or beyond the newest checkpoint: nothing new */
  if (since + recs->len < last)
    return avma_verify_failed("%s: record %" G_GUINT64_FORMAT
                              " is missing: the bundle was truncated (its header and checkpoint "
                              "say it ends at record %" G_GUINT64_FORMAT ")",
                              file, since + recs->len + 1, last);
  if (since + recs->len > last)
    return avma_verify_failed("%s: record %" G_GUINT64_FORMAT
                              " is beyond the header's last record %" G_GUINT64_FORMAT
                              ": it was added",
                              file, last + 1, last);
  for (guint i = 1; i < recs->len; i++) {
    Record *r = &g_array_index(recs, Record, i), *before = &g_array_index(recs, Record, i - 1);
    if (strcmp(r->prev, before->hash))
      return avma_verify_failed("%s: record %" G_GUINT64_FORMAT
                                " was edited: its hash is not what record %" G_GUINT64_FORMAT
                                " links to",
                                file, before->seq, r->seq);
  }
  return AVMA_VERIFY_OK;
}

/* One record line: its seq, prev and line hash; FALSE when it is not a chained record. */
static gboolean read_record(JsonParser *p, const char *line, Record *out) {
  JsonObject *o = parse_object(p, line);
  if (!o)
    return FALSE;
  gint64 seq = int_member(o, "seq");
  const char *prev = str_member(o, "prev");
  if (seq <= 0 || !prev || strlen(prev) != AVMA_CHECKPOINT_HEAD_HEX - 1)
    return FALSE;
  out->seq = (guint64)seq;
  memcpy(out->prev, prev, AVMA_CHECKPOINT_HEAD_HEX);
  sha256_hex(line, strlen(line), out->hash);
  return TRUE;
}

int avma_verify_bundle(int argc, char **argv) {
  g_auto(AvmaVerifyKeyOpts) ko = {0};
  GOptionEntry e[] = {AVMA_VERIFY_KEY_OPTIONS(&ko), {NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_verify_parse("bundle", "FILE (--key HOST.pub | --root ROOT.pub [--cert CERT])", e,
                         &argc, &argv, &err))
    return avma_verify_usage("bundle: %s", err->message);
  if (argc != 2)
    return avma_verify_usage("bundle: one FILE expected");
  if (sodium_init() < 0)
    return avma_verify_usage("libsodium cannot start");
  const char *file = argv[1];
  g_autofree char *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents(file, &data, &len, &err))
    return avma_verify_usage("bundle: %s", err->message);
  if (len == 0)
    return avma_verify_failed("%s: empty: not an export bundle", file);
  if (strlen(data) != len)
    return avma_verify_failed("%s: holds a NUL byte: not an export bundle", file);
  if (data[len - 1] != '\n')
    return avma_verify_failed("%s: its last line is cut: the bundle was truncated", file);
  data[len - 1] = '\0';
  g_auto(GStrv) lines = g_strsplit(data, "\n", -1);

  /* The header. */
  g_autoptr(JsonParser) p = json_parser_new();
  JsonObject *h = parse_object(p, lines[0]);
  const char *format = h ? str_member(h, "format") : NULL;
  if (!format || strcmp(format, FORMAT))
    return avma_verify_failed("%s: the first line is not an \"" FORMAT "\" header", file);
  g_autofree char *host_id = g_strdup(str_member(h, "host_id")); /* event-field-ok: header */
  g_autofree char *key_b64 = g_strdup(str_member(h, "public_key"));
  g_autofree char *key_id = g_strdup(str_member(h, "key_id"));
  gint64 since = int_member(h, "since"), last = int_member(h, "last");
  if (!host_id || !key_b64 || !key_id || since < 0 || last < 0)
    return avma_verify_failed("%s: the header lacks host_id, key_id, public_key, since or last",
                              file);
  AvmaPublicKey header_key;
  if (!avma_public_key_parse(key_b64, &header_key, NULL))
    return avma_verify_failed("%s: the header's public key is not a key", file);
  g_autofree char *header_id = avma_key_id_hex(header_key.id);
  if (strcmp(header_id, key_id))
    return avma_verify_failed("%s: header mismatch: key_id %s is not the id of its public key (%s)",
                              file, key_id, header_id);

  /* Records, then the trailer: rotations, a certificate, the checkpoint last. */
  g_autoptr(GArray) recs = g_array_new(FALSE, TRUE, sizeof(Record));
  g_array_set_clear_func(recs, record_clear);
  g_autoptr(GPtrArray) rotations = g_ptr_array_new_with_free_func(g_free);
  g_autofree char *cert_text = NULL, *checkpoint = NULL;
  gboolean have_checkpoint = FALSE, in_trailer = FALSE;
  for (guint i = 1; lines[i]; i++) {
    if (have_checkpoint)
      return avma_verify_failed("%s: line %u follows the checkpoint: lines were added", file,
                                i + 1);
    JsonObject *o = parse_object(p, lines[i]);
    const char *name = o ? trailer_name(o) : NULL;
    if (name) {
      in_trailer = TRUE;
      JsonNode *v = json_object_get_member(o, name);
      gboolean is_str = JSON_NODE_HOLDS_VALUE(v) && json_node_get_value_type(v) == G_TYPE_STRING;
      if (!strcmp(name, "checkpoint")) {
        if (!is_str && !JSON_NODE_HOLDS_NULL(v))
          return avma_verify_failed("%s: line %u: the checkpoint is neither a note nor null", file,
                                    i + 1);
        checkpoint = is_str ? g_strdup(json_node_get_string(v)) : NULL;
        have_checkpoint = TRUE;
      } else if (!is_str) {
        return avma_verify_failed("%s: line %u: the %s is not a note", file, i + 1, name);
      } else if (!strcmp(name, "rotation")) {
        g_ptr_array_add(rotations, g_strdup(json_node_get_string(v)));
      } else if (cert_text) {
        return avma_verify_failed("%s: line %u: a second certificate", file, i + 1);
      } else {
        cert_text = g_strdup(json_node_get_string(v));
      }
      continue;
    }
    guint64 after = since + recs->len;
    if (in_trailer)
      return avma_verify_failed("%s: line %u is a record among the signatures: it was inserted",
                                file, i + 1);
    Record r = {0};
    if (!read_record(p, lines[i], &r))
      return avma_verify_failed("%s: line %u (after record %" G_GUINT64_FORMAT
                                ") is no longer a readable record: it was edited",
                                file, i + 1, after);
    r.text = g_strdup(lines[i]);
    g_array_append_val(recs, r);
  }
  if (!have_checkpoint)
    return avma_verify_failed("%s: no checkpoint line at its end: the bundle was truncated", file);

  int rc = check_sequence(file, recs, (guint64)since, (guint64)last);
  if (rc != AVMA_VERIFY_OK)
    return rc;

  /* The trusted key: given, or certified by a root (the bundle's certificate when no --cert). */
  AvmaPublicKey trusted;
  g_autofree char *how = NULL;
  if (ko.root && !ko.cert && !ko.key) {
    if (!cert_text)
      return avma_verify_usage("bundle: --root needs --cert CERT: the bundle carries none");
    AvmaPublicKey root;
    if (!avma_public_key_load(ko.root, &root, &err))
      return avma_verify_usage("%s", err->message);
    AvmaHostCert c = {0};
    if (!avma_keycert_verify(cert_text, &root, &c, &err))
      return avma_verify_failed("%s: the bundle's certificate: %s", file, err->message);
    trusted = c.pub;
    g_autofree char *id = avma_key_id_hex(c.pub.id);
    g_autofree char *rid = avma_key_id_hex(root.id);
    how = g_strdup_printf("host key %s (host %s, certified by root key %s)", id, c.host, rid);
    avma_host_cert_clear(&c);
  } else {
    rc = avma_verify_trusted_key(&ko, &trusted, &how, NULL);
    if (rc != AVMA_VERIFY_OK)
      return rc;
  }
  g_autoptr(GArray) keys = reachable_keys(&trusted, rotations);
  if (!key_in(keys, &header_key))
    return avma_verify_failed("%s: header mismatch: the bundle's host key %s is not the trusted %s "
                              "nor one it rotated to",
                              file, key_id, how);

  if (!checkpoint) {
    if (last != since)
      return avma_verify_failed("%s: no checkpoint, yet the header says records %" G_GINT64_FORMAT
                                "..%" G_GINT64_FORMAT,
                                file, since + 1, last);
    return avma_verify_ok("%s: host %s has no signed checkpoint yet: no records to take (%s)", file,
                          host_id, how);
  }
  g_auto(AvmaCheckpoint) cp;
  memset(&cp, 0, sizeof cp);
  if (!avma_checkpoint_open(checkpoint, (const AvmaNoteKey *)keys->data, keys->len, &cp, &err))
    return avma_verify_failed("%s: the checkpoint is not signed by the trusted key (forged or "
                              "another host's): %s",
                              file, err->message);
  if (strcmp(cp.host_id, host_id))
    return avma_verify_failed("%s: header mismatch: the checkpoint is of host %s, the header "
                              "says %s",
                              file, cp.host_id, host_id);
  if (cp.seq != (guint64)last)
    return avma_verify_failed("%s: the checkpoint signs record %" G_GUINT64_FORMAT
                              ", the header says the bundle ends at %" G_GINT64_FORMAT,
                              file, cp.seq, last);
  if (recs->len) {
    Record *m = &g_array_index(recs, Record, recs->len - 1);
    if (strcmp(m->hash, cp.head))
      return avma_verify_failed("%s: record %" G_GUINT64_FORMAT
                                " was edited: its hash is not the one the checkpoint signed",
                                file, m->seq);
    return avma_verify_ok("%s: records %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT
                          " of host %s, chained and signed by checkpoint %" G_GUINT64_FORMAT
                          " (%s)",
                          file, since + 1, last, host_id, cp.seq, how);
  }
  return avma_verify_ok("%s: no records after %" G_GINT64_FORMAT
                        " (host %s, checkpoint %" G_GUINT64_FORMAT " verifies with %s)",
                        file, since, host_id, cp.seq, how);
}
