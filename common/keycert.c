/* keycert: host key certificates and rotation statements as signed notes. */
#include "keycert.h"

#include "timeutil.h"

#include <string.h>

#define CERT_MAGIC "avma-host-certificate v1"
#define ROT_MAGIC "avma-key-rotation v1"

char *avma_keycert_note_name(const char *prefix, const AvmaPublicKey *pub) {
  g_autofree char *id = avma_key_id_hex(pub->id);
  return g_strconcat(prefix, id, NULL);
}

void avma_host_cert_clear(AvmaHostCert *c) {
  g_clear_pointer(&c->host, g_free);
  g_clear_pointer(&c->root_id, g_free);
}

static gboolean malformed(GError **error, const char *what, const char *why) {
  g_set_error(error, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_MALFORMED, "not a valid %s: %s", what, why);
  return FALSE;
}

/* "key-id ID" + "public-key B64" lines as one key, the id kept as written. */
static char *key_lines(const char *prefix, const AvmaPublicKey *pub) {
  g_autofree char *id = avma_key_id_hex(pub->id);
  g_autofree char *pk = avma_public_key_base64(pub);
  return g_strdup_printf("%skey-id %s\n%spublic-key %s\n", prefix, id, prefix, pk);
}

/* The body's "field value" lines after the magic first line: each field once, all of want. */
static GHashTable *body_fields(const char *body, const char *magic, const char *const *want,
                               const char *what, GError **error) {
  g_auto(GStrv) lines = g_strsplit(body, "\n", 0);
  if (!lines[0] || strcmp(lines[0], magic) != 0) {
    g_autofree char *why = g_strdup_printf("its first line is not \"%s\"", magic);
    malformed(error, what, why);
    return NULL;
  }
  g_autoptr(GHashTable) f = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  for (guint i = 1; lines[i]; i++) {
    if (!*lines[i])
      continue;
    const char *sp = strchr(lines[i], ' ');
    g_autofree char *k = sp ? g_strndup(lines[i], (gsize)(sp - lines[i])) : NULL;
    if (!k || !g_strv_contains(want, k) || g_hash_table_contains(f, k)) {
      g_autofree char *why = g_strdup_printf("unexpected line \"%s\"", lines[i]);
      malformed(error, what, why);
      return NULL;
    }
    g_hash_table_insert(f, g_steal_pointer(&k), g_strdup(sp + 1));
  }
  for (const char *const *w = want; *w; w++)
    if (!g_hash_table_contains(f, *w)) {
      g_autofree char *why = g_strdup_printf("no \"%s\" line", *w);
      malformed(error, what, why);
      return NULL;
    }
  return g_steal_pointer(&f);
}

static gboolean field_key(GHashTable *f, const char *prefix, AvmaPublicKey *out, const char *what,
                          GError **error) {
  g_autofree char *idk = g_strconcat(prefix, "key-id", NULL);
  g_autofree char *pkk = g_strconcat(prefix, "public-key", NULL);
  guint8 id_le[AVMA_SIGN_KEY_ID_BYTES];
  if (!avma_hex_decode(g_hash_table_lookup(f, idk), id_le, sizeof id_le) ||
      !avma_base64_decode_exact(g_hash_table_lookup(f, pkk), out->pk, sizeof out->pk))
    return malformed(error, what, "a key id or public key is not well formed");
  for (int i = 0; i < AVMA_SIGN_KEY_ID_BYTES; i++)
    out->id[i] = id_le[AVMA_SIGN_KEY_ID_BYTES - 1 - i];
  return TRUE;
}

static gboolean field_time(GHashTable *f, const char *k, gint64 *out, const char *what,
                           GError **error) {
  if (!avma_time_parse(g_hash_table_lookup(f, k), out))
    return malformed(error, what, "a time is not RFC 3339");
  return TRUE;
}

/* The signature block's names, for display: the first line's name. */
static char *first_signer(const char *note) {
  const char *split = g_strrstr(note, "\n\n");
  const char *prefix = "\xe2\x80\x94 ";
  if (!split || !g_str_has_prefix(split + 2, prefix))
    return NULL;
  const char *name = split + 2 + strlen(prefix);
  const char *sp = strchr(name, ' ');
  return sp ? g_strndup(name, (gsize)(sp - name)) : NULL;
}

/* ---- certificates ----------------------------------------------------------------------------*/

char *avma_keycert_certify(const AvmaKeyPair *root, const AvmaPublicKey *host,
                           const char *host_name, gint64 valid_from, GError **error) {
  if (!host_name || !*host_name || strpbrk(host_name, " \t\r\n")) {
    g_set_error(error, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_MALFORMED,
                "a host name must be one word, not \"%s\"", host_name ? host_name : "");
    return NULL;
  }
  g_autofree char *keys = key_lines("", host);
  g_autofree char *from = avma_time_format(valid_from);
  g_autofree char *body =
      g_strdup_printf(CERT_MAGIC "\nhost %s\n%svalid-from %s\n", host_name, keys, from);
  g_autofree char *name = avma_keycert_note_name(AVMA_KEYCERT_ROOT, &root->pub);
  return avma_note_sign(body, name, root, error);
}

static const char *const cert_fields[] = {"host", "key-id", "public-key", "valid-from", NULL};

static gboolean cert_body(const char *body, const char *note, AvmaHostCert *out, GError **error) {
  g_autoptr(GHashTable) f = body_fields(body, CERT_MAGIC, cert_fields, "certificate", error);
  AvmaHostCert c = {0};
  if (!f || !field_key(f, "", &c.pub, "certificate", error) ||
      !field_time(f, "valid-from", &c.valid_from, "certificate", error))
    return FALSE;
  c.host = g_strdup(g_hash_table_lookup(f, "host"));
  g_autofree char *signer = first_signer(note);
  c.root_id = g_strdup(signer && g_str_has_prefix(signer, AVMA_KEYCERT_ROOT)
                           ? signer + strlen(AVMA_KEYCERT_ROOT)
                           : "");
  *out = c;
  return TRUE;
}

gboolean avma_keycert_parse(const char *cert, AvmaHostCert *out, GError **error) {
  const char *split = g_strrstr(cert, "\n\n");
  if (!split)
    return malformed(error, "certificate", "not a signed note");
  g_autofree char *body = g_strndup(cert, (gsize)(split - cert) + 1);
  return cert_body(body, cert, out, error);
}

gboolean avma_keycert_verify(const char *cert, const AvmaPublicKey *root, AvmaHostCert *out,
                             GError **error) {
  g_autofree char *name = avma_keycert_note_name(AVMA_KEYCERT_ROOT, root);
  AvmaNoteKey k = {.name = name, .pub = *root};
  g_autofree char *body = NULL;
  g_autoptr(GError) e = NULL;
  if (!avma_note_open(cert, &k, 1, &body, NULL, &e)) {
    g_set_error(error, AVMA_SIGN_ERROR, e->code, "certificate: %s", e->message);
    return FALSE;
  }
  return cert_body(body, cert, out, error);
}

/* ---- rotation statements ---------------------------------------------------------------------*/

char *avma_keycert_rotation(const AvmaKeyPair *old_key, const AvmaKeyPair *new_key, gint64 time) {
  g_autofree char *o = key_lines("old-", &old_key->pub);
  g_autofree char *n = key_lines("new-", &new_key->pub);
  g_autofree char *t = avma_time_format(time);
  g_autofree char *body = g_strdup_printf(ROT_MAGIC "\n%s%srotated-at %s\n", o, n, t);
  g_autofree char *on = avma_keycert_note_name(AVMA_KEYCERT_HOST, &old_key->pub);
  g_autofree char *nn = avma_keycert_note_name(AVMA_KEYCERT_HOST, &new_key->pub);
  /* The body and names are ours and valid, so signing cannot fail. */
  g_autofree char *once = avma_note_sign(body, on, old_key, NULL);
  return avma_note_add_signature(once, nn, new_key, NULL);
}

static const char *const rot_fields[] = {"old-key-id",     "old-public-key", "new-key-id",
                                         "new-public-key", "rotated-at",     NULL};

gboolean avma_keycert_verify_rotation(const char *statement, const AvmaPublicKey *old_key,
                                      AvmaKeyRotation *out, GError **error) {
  g_autofree char *on = avma_keycert_note_name(AVMA_KEYCERT_HOST, old_key);
  AvmaNoteKey ko = {.name = on, .pub = *old_key};
  g_autofree char *body = NULL;
  g_autoptr(GError) e = NULL;
  if (!avma_note_open(statement, &ko, 1, &body, NULL, &e)) {
    g_set_error(error, AVMA_SIGN_ERROR, e->code, "rotation statement: %s", e->message);
    return FALSE;
  }
  g_autoptr(GHashTable) f = body_fields(body, ROT_MAGIC, rot_fields, "rotation statement", error);
  AvmaKeyRotation r;
  if (!f || !field_key(f, "old-", &r.old_key, "rotation statement", error) ||
      !field_key(f, "new-", &r.new_key, "rotation statement", error) ||
      !field_time(f, "rotated-at", &r.time, "rotation statement", error))
    return FALSE;
  if (memcmp(r.old_key.pk, old_key->pk, sizeof r.old_key.pk) != 0) {
    g_set_error_literal(error, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_BAD_SIGNATURE,
                        "rotation statement: it names another old key than the one that signed");
    return FALSE;
  }
  g_autofree char *nn = avma_keycert_note_name(AVMA_KEYCERT_HOST, &r.new_key);
  AvmaNoteKey kn = {.name = nn, .pub = r.new_key};
  g_clear_error(&e);
  if (!avma_note_open(statement, &kn, 1, NULL, NULL, &e)) {
    g_set_error(error, AVMA_SIGN_ERROR, e->code,
                "rotation statement: the new key's cosignature: %s", e->message);
    return FALSE;
  }
  *out = r;
  return TRUE;
}
