/* sign: Ed25519 keys, detached, minisign and signed-note signatures over libsodium. */
#include "sign.h"

#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <inttypes.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

G_DEFINE_QUARK(avma - sign - error - quark, avma_sign_error)

/* sodium_init is idempotent and thread-safe; it picks the fastest code and seeds randombytes. */
static void sodium_ready(void) {
  if (sodium_init() < 0)
    g_error("libsodium cannot initialise");
}

/* ---- hashes and encodings ---------------------------------------------------------------------*/

void avma_sha256(const void *data, gsize len, guint8 out[AVMA_SHA256_BYTES]) {
  crypto_hash_sha256(out, data, len);
}

char *avma_hex_encode(const guint8 *data, gsize len) {
  char *hex = g_malloc(len * 2 + 1);
  sodium_bin2hex(hex, len * 2 + 1, data, len);
  return hex;
}

char *avma_sha256_hex(const void *data, gsize len) {
  guint8 h[AVMA_SHA256_BYTES];
  avma_sha256(data, len, h);
  return avma_hex_encode(h, sizeof h);
}

gboolean avma_hex_decode(const char *hex, guint8 *out, gsize len) {
  size_t got = 0;
  const char *end = NULL;
  if (strlen(hex) != len * 2)
    return FALSE;
  return sodium_hex2bin(out, len, hex, len * 2, NULL, &got, &end) == 0 && got == len &&
         end == hex + len * 2;
}

char *avma_base64_encode(const guint8 *data, gsize len) {
  return g_base64_encode(data, len);
}

gboolean avma_base64_decode_exact(const char *b64, guint8 *out, gsize len) {
  size_t n = strlen(b64), got = 0;
  const char *end = NULL;
  /* One spare byte tells "too long" from "exact". */
  g_autofree guint8 *buf = g_malloc(len + 1);
  if (sodium_base642bin(buf, len + 1, b64, n, NULL, &got, &end, sodium_base64_VARIANT_ORIGINAL) !=
          0 ||
      end != b64 + n || got != len)
    return FALSE;
  memcpy(out, buf, len);
  return TRUE;
}

/* ---- key pairs
 * ---------------------------------------------------------------------------------*/

static void derive_id(const guint8 pk[AVMA_SIGN_PUBLIC_BYTES], guint8 id[AVMA_SIGN_KEY_ID_BYTES]) {
  guint8 h[AVMA_SHA256_BYTES];
  avma_sha256(pk, AVMA_SIGN_PUBLIC_BYTES, h);
  memcpy(id, h, AVMA_SIGN_KEY_ID_BYTES);
}

AvmaKeyPair *avma_key_pair_from_seed(const guint8 seed[AVMA_SIGN_SEED_BYTES], const guint8 *id) {
  sodium_ready();
  AvmaKeyPair *kp = g_new0(AvmaKeyPair, 1);
  crypto_sign_seed_keypair(kp->pub.pk, kp->sk, seed);
  if (id)
    memcpy(kp->pub.id, id, AVMA_SIGN_KEY_ID_BYTES);
  else
    derive_id(kp->pub.pk, kp->pub.id);
  return kp;
}

AvmaKeyPair *avma_key_pair_generate(void) {
  sodium_ready();
  guint8 seed[AVMA_SIGN_SEED_BYTES];
  randombytes_buf(seed, sizeof seed);
  AvmaKeyPair *kp = avma_key_pair_from_seed(seed, NULL);
  sodium_memzero(seed, sizeof seed);
  kp->created = g_get_real_time() / G_USEC_PER_SEC;
  return kp;
}

void avma_key_pair_free(AvmaKeyPair *kp) {
  if (!kp)
    return;
  sodium_memzero(kp, sizeof *kp);
  g_free(kp);
}

/* The secret key file is a GKeyFile: readable by an operator who wonders what it is, the seed
 * alone being secret. The public key and id are stored too so a damaged file is caught. */
#define SK_GROUP "avma-secret-key"
#define SK_MAX_BYTES 4096

gboolean avma_key_pair_save(const AvmaKeyPair *kp, const char *path, GError **error) {
  g_autoptr(GKeyFile) kf = g_key_file_new();
  g_autofree char *id = avma_key_id_hex(kp->pub.id);
  g_autofree char *pk = avma_public_key_base64(&kp->pub);
  g_autofree char *seed = avma_base64_encode(kp->sk, AVMA_SIGN_SEED_BYTES);
  g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(kp->created);
  g_autofree char *created = t ? g_date_time_format(t, "%Y-%m-%dT%H:%M:%SZ") : NULL;
  g_key_file_set_string(kf, SK_GROUP, "algorithm", "Ed25519");
  g_key_file_set_string(kf, SK_GROUP, "key-id", id);
  g_key_file_set_string(kf, SK_GROUP, "created", created ? created : "");
  g_key_file_set_string(kf, SK_GROUP, "public-key", pk);
  g_key_file_set_string(kf, SK_GROUP, "secret-seed", seed);
  g_key_file_set_comment(kf, SK_GROUP, NULL,
                         " AVMA signing key: SECRET. Keep it mode 0600, owned by its user.", NULL);
  gsize len = 0;
  g_autofree char *data = g_key_file_to_data(kf, &len, NULL);
  gboolean ok = avma_write_atomic(path, data, (gssize)len, 0600, error);
  sodium_memzero(data, len);
  sodium_memzero(seed, strlen(seed));
  return ok;
}

static gboolean sk_error(GError **error, int code, const char *path, const char *why) {
  g_set_error(error, AVMA_SIGN_ERROR, code, "secret key %s: %s", path, why);
  return FALSE;
}

/* Read at most SK_MAX_BYTES of path after checking, on the open descriptor, that it is a regular
 * file that only its owner can read or write. */
static char *read_secret_file(const char *path, GError **error) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    int e = errno;
    g_autofree char *why = g_strdup_printf("cannot open: %s", g_strerror(e));
    sk_error(error, AVMA_SIGN_ERROR_IO, path, why);
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    sk_error(error, AVMA_SIGN_ERROR_IO, path, "not a regular file");
    return NULL;
  }
  if (st.st_mode & 077) {
    close(fd);
    g_autofree char *why =
        g_strdup_printf("mode %04o lets others read or change it; it must be 0600 (chmod 600 %s)",
                        (unsigned)(st.st_mode & 07777), path);
    sk_error(error, AVMA_SIGN_ERROR_PERMISSION, path, why);
    return NULL;
  }
  char *buf = g_malloc0(SK_MAX_BYTES + 1);
  ssize_t n;
  do
    n = read(fd, buf, SK_MAX_BYTES + 1);
  while (n < 0 && errno == EINTR);
  int e = errno;
  close(fd);
  if (n < 0 || n > SK_MAX_BYTES) {
    g_autofree char *why =
        n < 0 ? g_strdup_printf("cannot read: %s", g_strerror(e)) : g_strdup("too large");
    sodium_memzero(buf, SK_MAX_BYTES + 1);
    g_free(buf);
    sk_error(error, n < 0 ? AVMA_SIGN_ERROR_IO : AVMA_SIGN_ERROR_MALFORMED, path, why);
    return NULL;
  }
  buf[n] = '\0';
  return buf;
}

static void free_secret_text(char *text) {
  if (text) {
    sodium_memzero(text, strlen(text));
    g_free(text);
  }
}

static AvmaKeyPair *key_pair_parse(const char *path, const char *text, GError **error) {
  g_autoptr(GKeyFile) kf = g_key_file_new();
  if (!g_key_file_load_from_data(kf, text, (gsize)-1, G_KEY_FILE_NONE, NULL) ||
      !g_key_file_has_group(kf, SK_GROUP)) {
    sk_error(error, AVMA_SIGN_ERROR_MALFORMED, path, "not an AVMA secret key file");
    return NULL;
  }
  g_autofree char *alg = g_key_file_get_string(kf, SK_GROUP, "algorithm", NULL);
  g_autofree char *id = g_key_file_get_string(kf, SK_GROUP, "key-id", NULL);
  g_autofree char *pk = g_key_file_get_string(kf, SK_GROUP, "public-key", NULL);
  g_autofree char *seed_b64 = g_key_file_get_string(kf, SK_GROUP, "secret-seed", NULL);
  g_autofree char *created = g_key_file_get_string(kf, SK_GROUP, "created", NULL);
  guint8 seed[AVMA_SIGN_SEED_BYTES], id_le[AVMA_SIGN_KEY_ID_BYTES], want_pk[AVMA_SIGN_PUBLIC_BYTES];
  if (g_strcmp0(alg, "Ed25519") != 0 || !id || !avma_hex_decode(id, id_le, sizeof id_le) || !pk ||
      !avma_base64_decode_exact(pk, want_pk, sizeof want_pk) || !seed_b64 ||
      !avma_base64_decode_exact(seed_b64, seed, sizeof seed)) {
    if (seed_b64)
      sodium_memzero(seed_b64, strlen(seed_b64));
    sk_error(error, AVMA_SIGN_ERROR_MALFORMED, path,
             "algorithm, key-id, public-key or secret-seed missing or malformed");
    return NULL;
  }
  sodium_memzero(seed_b64, strlen(seed_b64));
  /* key-id is written as minisign prints it: little-endian. */
  guint8 key_id[AVMA_SIGN_KEY_ID_BYTES];
  for (int i = 0; i < AVMA_SIGN_KEY_ID_BYTES; i++)
    key_id[i] = id_le[AVMA_SIGN_KEY_ID_BYTES - 1 - i];
  AvmaKeyPair *kp = avma_key_pair_from_seed(seed, key_id);
  sodium_memzero(seed, sizeof seed);
  if (sodium_memcmp(kp->pub.pk, want_pk, sizeof want_pk) != 0) {
    avma_key_pair_free(kp);
    sk_error(error, AVMA_SIGN_ERROR_MALFORMED, path,
             "its public-key is not the public half of its secret-seed (damaged file)");
    return NULL;
  }
  g_autoptr(GDateTime) t = created && *created ? g_date_time_new_from_iso8601(created, NULL) : NULL;
  kp->created = t ? g_date_time_to_unix(t) : 0;
  return kp;
}

AvmaKeyPair *avma_key_pair_load(const char *path, GError **error) {
  char *text = read_secret_file(path, error);
  if (!text)
    return NULL;
  AvmaKeyPair *kp = key_pair_parse(path, text, error);
  free_secret_text(text);
  return kp;
}

/* ---- public keys
 * -------------------------------------------------------------------------------*/

#define MINISIGN_KEY_ALG "Ed"
#define MINISIGN_PK_BYTES (2 + AVMA_SIGN_KEY_ID_BYTES + AVMA_SIGN_PUBLIC_BYTES)
#define UNTRUSTED_PREFIX "untrusted comment: "
#define TRUSTED_PREFIX "trusted comment: "

char *avma_key_id_hex(const guint8 id[AVMA_SIGN_KEY_ID_BYTES]) {
  guint64 v = 0;
  for (int i = AVMA_SIGN_KEY_ID_BYTES - 1; i >= 0; i--)
    v = (v << 8) | id[i];
  return g_strdup_printf("%016" PRIX64, (uint64_t)v);
}

char *avma_public_key_base64(const AvmaPublicKey *pub) {
  return avma_base64_encode(pub->pk, sizeof pub->pk);
}

char *avma_public_key_minisign_line(const AvmaPublicKey *pub) {
  guint8 b[MINISIGN_PK_BYTES];
  memcpy(b, MINISIGN_KEY_ALG, 2);
  memcpy(b + 2, pub->id, AVMA_SIGN_KEY_ID_BYTES);
  memcpy(b + 2 + AVMA_SIGN_KEY_ID_BYTES, pub->pk, AVMA_SIGN_PUBLIC_BYTES);
  return avma_base64_encode(b, sizeof b);
}

char *avma_public_key_minisign_file(const AvmaPublicKey *pub) {
  g_autofree char *id = avma_key_id_hex(pub->id);
  g_autofree char *line = avma_public_key_minisign_line(pub);
  return g_strdup_printf(UNTRUSTED_PREFIX "minisign public key %s\n%s\n", id, line);
}

static gboolean malformed(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static gboolean malformed(GError **error, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error_literal(error, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_MALFORMED, msg);
  return FALSE;
}

gboolean avma_public_key_parse(const char *text, AvmaPublicKey *out, GError **error) {
  g_autofree char *t = g_strstrip(g_strdup(text));
  const char *line = t;
  if (g_str_has_prefix(t, UNTRUSTED_PREFIX)) {
    const char *nl = strchr(t, '\n');
    if (!nl)
      return malformed(error, "a minisign public key has a second line with the key");
    line = g_strstrip((char *)nl + 1);
  }
  guint8 b[MINISIGN_PK_BYTES];
  if (avma_base64_decode_exact(line, b, sizeof b)) {
    if (memcmp(b, MINISIGN_KEY_ALG, 2) != 0)
      return malformed(error, "not an Ed25519 minisign public key");
    memcpy(out->id, b + 2, AVMA_SIGN_KEY_ID_BYTES);
    memcpy(out->pk, b + 2 + AVMA_SIGN_KEY_ID_BYTES, AVMA_SIGN_PUBLIC_BYTES);
    return TRUE;
  }
  if (avma_base64_decode_exact(line, out->pk, sizeof out->pk)) {
    derive_id(out->pk, out->id);
    return TRUE;
  }
  g_autofree char *name = NULL;
  if (line == t && strchr(line, '+') && avma_note_parse_verifier_key(line, &name, out, NULL))
    return TRUE;
  return malformed(error, "not a public key (expected a minisign public key, its base64 line, a "
                          "base64 Ed25519 key or a note verifier key)");
}

gboolean avma_public_key_load(const char *path, AvmaPublicKey *out, GError **error) {
  g_autofree char *text = NULL;
  g_autoptr(GError) e = NULL;
  if (!g_file_get_contents(path, &text, NULL, &e)) {
    g_set_error(error, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_IO, "public key %s: %s", path, e->message);
    return FALSE;
  }
  if (!avma_public_key_parse(text, out, &e)) {
    g_set_error(error, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_MALFORMED, "public key %s: %s", path,
                e->message);
    return FALSE;
  }
  return TRUE;
}

gboolean avma_public_key_equal(const AvmaPublicKey *a, const AvmaPublicKey *b) {
  return memcmp(a->pk, b->pk, sizeof a->pk) == 0 && memcmp(a->id, b->id, sizeof a->id) == 0;
}

/* ---- detached Ed25519
 * --------------------------------------------------------------------------*/

void avma_sign_detached(const AvmaKeyPair *kp, const void *data, gsize len,
                        guint8 sig[AVMA_SIGN_BYTES]) {
  crypto_sign_detached(sig, NULL, data, len, kp->sk);
}

gboolean avma_verify_detached(const AvmaPublicKey *pub, const void *data, gsize len,
                              const guint8 sig[AVMA_SIGN_BYTES]) {
  return crypto_sign_verify_detached(sig, data, len, pub->pk) == 0;
}

/* ---- minisign
 * ----------------------------------------------------------------------------------*/

/* minisign's buffers: a comment line (prefix included) fits in 1024 bytes, a trusted one in 8192.
 */
#define MINISIGN_COMMENT_MAX (1024 - sizeof UNTRUSTED_PREFIX - 1)
#define MINISIGN_TRUSTED_MAX (8192 - sizeof TRUSTED_PREFIX - 1)
#define MINISIG_BYTES (2 + AVMA_SIGN_KEY_ID_BYTES + AVMA_SIGN_BYTES)

static gboolean comment_ok(const char *c, gsize max, const char *what, GError **error) {
  if (strchr(c, '\n') || strchr(c, '\r'))
    return malformed(error, "the %s must be one line", what);
  if (strlen(c) > max)
    return malformed(error, "the %s is longer than minisign accepts (%zu bytes)", what, max);
  return TRUE;
}

static void prehash(const void *data, gsize len, guint8 out[crypto_generichash_BYTES_MAX]) {
  crypto_generichash(out, crypto_generichash_BYTES_MAX, data, len, NULL, 0);
}

char *avma_minisig_sign(const AvmaKeyPair *kp, const void *data, gsize len,
                        const char *trusted_comment, const char *untrusted_comment,
                        GError **error) {
  g_autofree char *id = avma_key_id_hex(kp->pub.id);
  g_autofree char *dflt = g_strdup_printf("signature from avma secret key %s", id);
  const char *untrusted = untrusted_comment ? untrusted_comment : dflt;
  if (!comment_ok(untrusted, MINISIGN_COMMENT_MAX, "untrusted comment", error) ||
      !comment_ok(trusted_comment, MINISIGN_TRUSTED_MAX, "trusted comment", error))
    return NULL;
  guint8 h[crypto_generichash_BYTES_MAX];
  prehash(data, len, h);
  guint8 s[MINISIG_BYTES];
  memcpy(s, "ED", 2);
  memcpy(s + 2, kp->pub.id, AVMA_SIGN_KEY_ID_BYTES);
  guint8 *sig = s + 2 + AVMA_SIGN_KEY_ID_BYTES;
  avma_sign_detached(kp, h, sizeof h, sig);
  /* The global signature covers the signature and the trusted comment, so neither can be swapped.
   */
  gsize tlen = strlen(trusted_comment);
  g_autofree guint8 *g_in = g_malloc(AVMA_SIGN_BYTES + tlen);
  memcpy(g_in, sig, AVMA_SIGN_BYTES);
  memcpy(g_in + AVMA_SIGN_BYTES, trusted_comment, tlen);
  guint8 global[AVMA_SIGN_BYTES];
  avma_sign_detached(kp, g_in, AVMA_SIGN_BYTES + tlen, global);
  g_autofree char *s64 = avma_base64_encode(s, sizeof s);
  g_autofree char *g64 = avma_base64_encode(global, sizeof global);
  return g_strdup_printf(UNTRUSTED_PREFIX "%s\n%s\n" TRUSTED_PREFIX "%s\n%s\n", untrusted, s64,
                         trusted_comment, g64);
}

static gboolean bad_signature(GError **error, const char *why) {
  g_set_error_literal(error, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_BAD_SIGNATURE, why);
  return FALSE;
}

gboolean avma_minisig_verify(const AvmaPublicKey *pub, const void *data, gsize len,
                             const char *minisig, char **trusted_comment, GError **error) {
  g_auto(GStrv) lines = g_strsplit(minisig, "\n", 0);
  guint n = g_strv_length(lines);
  for (guint i = 0; i < n; i++)
    g_strchomp(lines[i]); /* minisign accepts CR LF too */
  if (n < 4 || !g_str_has_prefix(lines[0], UNTRUSTED_PREFIX) ||
      !g_str_has_prefix(lines[2], TRUSTED_PREFIX))
    return malformed(error, "not a minisign signature (four lines: untrusted comment, signature, "
                            "trusted comment, global signature)");
  for (guint i = 4; i < n; i++)
    if (*lines[i])
      return malformed(error, "text after the global signature");
  guint8 s[MINISIG_BYTES], global[AVMA_SIGN_BYTES];
  if (!avma_base64_decode_exact(lines[1], s, sizeof s) ||
      !avma_base64_decode_exact(lines[3], global, sizeof global))
    return malformed(error, "the signature or global signature line is not base64 of the right "
                            "length");
  gboolean hashed = memcmp(s, "ED", 2) == 0;
  if (!hashed && memcmp(s, "Ed", 2) != 0)
    return malformed(error, "unknown minisign signature algorithm");
  if (memcmp(s + 2, pub->id, AVMA_SIGN_KEY_ID_BYTES) != 0) {
    g_autofree char *got = avma_key_id_hex(s + 2);
    g_autofree char *want = avma_key_id_hex(pub->id);
    g_set_error(error, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_UNKNOWN_KEY,
                "signed by key %s, not by the given key %s", got, want);
    return FALSE;
  }
  const guint8 *sig = s + 2 + AVMA_SIGN_KEY_ID_BYTES;
  guint8 h[crypto_generichash_BYTES_MAX];
  if (hashed)
    prehash(data, len, h);
  if (!avma_verify_detached(pub, hashed ? (const void *)h : data, hashed ? sizeof h : len, sig))
    return bad_signature(error, "the signature does not match the data (data or signature "
                                "altered)");
  const char *tc = lines[2] + strlen(TRUSTED_PREFIX);
  gsize tlen = strlen(tc);
  g_autofree guint8 *g_in = g_malloc(AVMA_SIGN_BYTES + tlen);
  memcpy(g_in, sig, AVMA_SIGN_BYTES);
  memcpy(g_in + AVMA_SIGN_BYTES, tc, tlen);
  if (!avma_verify_detached(pub, g_in, AVMA_SIGN_BYTES + tlen, global))
    return bad_signature(error, "the trusted comment does not match its signature (altered)");
  if (trusted_comment)
    *trusted_comment = g_strdup(tc);
  return TRUE;
}

static gboolean read_named(const char *what, const char *path, char **data, gsize *len,
                           GError **error) {
  g_autoptr(GError) e = NULL;
  if (g_file_get_contents(path, data, len, &e))
    return TRUE;
  g_set_error(error, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_IO, "%s %s: %s", what, path, e->message);
  return FALSE;
}

gboolean avma_minisig_sign_file(const AvmaKeyPair *kp, const char *data_path, const char *sig_path,
                                const char *trusted_comment, GError **error) {
  g_autofree char *data = NULL;
  gsize len = 0;
  if (!read_named("file", data_path, &data, &len, error))
    return FALSE;
  g_autofree char *sig = avma_minisig_sign(kp, data, len, trusted_comment, NULL, error);
  return sig && avma_write_atomic(sig_path, sig, -1, 0644, error);
}

gboolean avma_minisig_verify_file(const AvmaPublicKey *pub, const char *data_path,
                                  const char *sig_path, char **trusted_comment, GError **error) {
  g_autofree char *data = NULL, *sig = NULL;
  gsize len = 0;
  if (!read_named("file", data_path, &data, &len, error) ||
      !read_named("signature", sig_path, &sig, NULL, error))
    return FALSE;
  g_autoptr(GError) e = NULL;
  if (avma_minisig_verify(pub, data, len, sig, trusted_comment, &e))
    return TRUE;
  g_set_error(error, AVMA_SIGN_ERROR, e->code, "%s: %s", sig_path, e->message);
  return FALSE;
}

/* ---- C2SP signed notes
 * -------------------------------------------------------------------------*/

#define NOTE_ALG_ED25519 0x01
#define NOTE_SIG_PREFIX "\xe2\x80\x94 " /* U+2014 EM DASH, space */
#define NOTE_MAX_SIGS 100

guint32 avma_note_key_hash(const char *name, const AvmaPublicKey *pub) {
  crypto_hash_sha256_state st;
  guint8 h[AVMA_SHA256_BYTES];
  const guint8 tail[2] = {'\n', NOTE_ALG_ED25519};
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, (const guint8 *)name, strlen(name));
  crypto_hash_sha256_update(&st, tail, sizeof tail);
  crypto_hash_sha256_update(&st, pub->pk, sizeof pub->pk);
  crypto_hash_sha256_final(&st, h);
  return (guint32)h[0] << 24 | (guint32)h[1] << 16 | (guint32)h[2] << 8 | h[3];
}

static gboolean note_name_ok(const char *name) {
  if (!name || !*name || !g_utf8_validate(name, -1, NULL) || strchr(name, '+'))
    return FALSE;
  for (const char *p = name; *p; p = g_utf8_next_char(p))
    if (g_unichar_isspace(g_utf8_get_char(p)))
      return FALSE;
  return TRUE;
}

/* UTF-8 without control characters other than '\n'. */
static gboolean note_chars_ok(const char *s, gsize len) {
  if (!g_utf8_validate_len(s, len, NULL))
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if ((guchar)s[i] < 0x20 && s[i] != '\n')
      return FALSE;
  return TRUE;
}

char *avma_note_verifier_key(const char *name, const AvmaPublicKey *pub) {
  guint8 b[1 + AVMA_SIGN_PUBLIC_BYTES] = {NOTE_ALG_ED25519};
  memcpy(b + 1, pub->pk, AVMA_SIGN_PUBLIC_BYTES);
  g_autofree char *b64 = avma_base64_encode(b, sizeof b);
  return g_strdup_printf("%s+%08x+%s", name, avma_note_key_hash(name, pub), b64);
}

gboolean avma_note_parse_verifier_key(const char *vkey, char **name, AvmaPublicKey *pub,
                                      GError **error) {
  g_auto(GStrv) parts = g_strsplit(vkey, "+", 3);
  if (g_strv_length(parts) != 3 || !note_name_ok(parts[0]) || strlen(parts[1]) != 8)
    return malformed(error, "not a note verifier key (name+hash+key)");
  guint8 hb[4], b[1 + AVMA_SIGN_PUBLIC_BYTES];
  if (!avma_hex_decode(parts[1], hb, sizeof hb) ||
      !avma_base64_decode_exact(parts[2], b, sizeof b) || b[0] != NOTE_ALG_ED25519)
    return malformed(error, "not an Ed25519 note verifier key");
  AvmaPublicKey k;
  memcpy(k.pk, b + 1, AVMA_SIGN_PUBLIC_BYTES);
  derive_id(k.pk, k.id);
  guint32 want = (guint32)hb[0] << 24 | (guint32)hb[1] << 16 | (guint32)hb[2] << 8 | hb[3];
  if (avma_note_key_hash(parts[0], &k) != want)
    return malformed(error, "the verifier key's hash does not match its name and key");
  *pub = k;
  *name = g_strdup(parts[0]);
  return TRUE;
}

static char *sig_line(const char *text, gsize text_len, const char *name, const AvmaKeyPair *kp) {
  guint8 b[4 + AVMA_SIGN_BYTES];
  guint32 h = avma_note_key_hash(name, &kp->pub);
  b[0] = (guint8)(h >> 24), b[1] = (guint8)(h >> 16), b[2] = (guint8)(h >> 8), b[3] = (guint8)h;
  avma_sign_detached(kp, text, text_len, b + 4);
  g_autofree char *b64 = avma_base64_encode(b, sizeof b);
  return g_strdup_printf(NOTE_SIG_PREFIX "%s %s\n", name, b64);
}

char *avma_note_sign(const char *text, const char *name, const AvmaKeyPair *kp, GError **error) {
  gsize len = strlen(text);
  if (len == 0 || text[len - 1] != '\n' || !note_chars_ok(text, len)) {
    malformed(error, "a note's text must be non-empty UTF-8 without control characters, ending "
                     "in a newline");
    return NULL;
  }
  if (!note_name_ok(name)) {
    malformed(error, "a note key name must be non-empty, without white space or '+'");
    return NULL;
  }
  g_autofree char *line = sig_line(text, len, name, kp);
  return g_strconcat(text, "\n", line, NULL);
}

/* Split a note into its text (up to and including the newline before the blank line) and its
 * signature block; FALSE when it has no such form. */
static gboolean note_split(const char *note, gsize *text_len, const char **sigs) {
  gsize len = strlen(note);
  if (!note_chars_ok(note, len) || len < 2 || note[len - 1] != '\n')
    return FALSE;
  const char *split = g_strrstr(note, "\n\n");
  if (!split || split[2] == '\0')
    return FALSE;
  *text_len = (gsize)(split - note) + 1;
  *sigs = split + 2;
  return TRUE;
}

char *avma_note_add_signature(const char *note, const char *name, const AvmaKeyPair *kp,
                              GError **error) {
  gsize text_len;
  const char *sigs;
  if (!note_split(note, &text_len, &sigs)) {
    malformed(error, "not a signed note");
    return NULL;
  }
  if (!note_name_ok(name)) {
    malformed(error, "a note key name must be non-empty, without white space or '+'");
    return NULL;
  }
  g_autofree char *line = sig_line(note, text_len, name, kp);
  return g_strconcat(note, line, NULL);
}

typedef struct {
  char *name;
  guint32 hash;
  guint8 sig[AVMA_SIGN_BYTES];
} NoteSig;

/* One "— name base64" line into s; FALSE when malformed. A signature of another algorithm (a
 * length other than 4 + 64) is kept with hash only, so it can be named as unknown. */
static gboolean parse_sig_line(const char *line, NoteSig *s, gboolean *ed25519) {
  if (!g_str_has_prefix(line, NOTE_SIG_PREFIX))
    return FALSE;
  const char *rest = line + strlen(NOTE_SIG_PREFIX);
  const char *sp = strchr(rest, ' ');
  if (!sp || sp == rest || sp[1] == '\0')
    return FALSE;
  g_autofree char *name = g_strndup(rest, (gsize)(sp - rest));
  const char *b64 = sp + 1;
  gsize blen = 0;
  /* Decode once leniently for the length, then strictly. */
  g_autofree guint8 *raw = g_base64_decode(b64, &blen);
  if (!note_name_ok(name) || blen < 5 || !avma_base64_decode_exact(b64, raw, blen))
    return FALSE;
  s->hash = (guint32)raw[0] << 24 | (guint32)raw[1] << 16 | (guint32)raw[2] << 8 | raw[3];
  *ed25519 = blen == 4 + AVMA_SIGN_BYTES;
  if (*ed25519)
    memcpy(s->sig, raw + 4, AVMA_SIGN_BYTES);
  s->name = g_steal_pointer(&name);
  return TRUE;
}

static const AvmaNoteKey *find_key(const AvmaNoteKey *keys, gsize n, const char *name,
                                   guint32 hash) {
  for (gsize i = 0; i < n; i++)
    if ((!keys[i].name || strcmp(keys[i].name, name) == 0) &&
        avma_note_key_hash(name, &keys[i].pub) == hash)
      return &keys[i];
  return NULL;
}

gboolean avma_note_open(const char *note, const AvmaNoteKey *keys, gsize n_keys, char **text,
                        char **signer, GError **error) {
  gsize text_len;
  const char *sigs;
  if (!note_split(note, &text_len, &sigs))
    return malformed(error, "not a signed note (text, a blank line, then signature lines)");
  g_auto(GStrv) lines = g_strsplit(sigs, "\n", 0);
  guint n = g_strv_length(lines);
  g_autoptr(GString) unknown = g_string_new(NULL);
  g_autofree char *first = NULL;
  for (guint i = 0; i + 1 < n; i++) { /* the last element is the empty rest after '\n' */
    NoteSig s = {0};
    gboolean ed = FALSE;
    if (i >= NOTE_MAX_SIGS || !parse_sig_line(lines[i], &s, &ed))
      return malformed(error, "signature line %u of the note is malformed", i + 1);
    g_autofree char *name = s.name;
    const AvmaNoteKey *k = find_key(keys, n_keys, name, s.hash);
    if (!k) {
      g_string_append_printf(unknown, "%s%s+%08x", unknown->len ? ", " : "", name, s.hash);
      continue;
    }
    if (!ed || !avma_verify_detached(&k->pub, note, text_len, s.sig)) {
      g_set_error(error, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_BAD_SIGNATURE,
                  "the signature by %s+%08x does not match the note (text or signature altered)",
                  name, s.hash);
      return FALSE;
    }
    if (!first)
      first = g_strdup(name);
  }
  if (!first) {
    g_autoptr(GString) known = g_string_new(NULL);
    for (gsize i = 0; i < n_keys; i++) {
      g_autofree char *id = avma_key_id_hex(keys[i].pub.id);
      if (keys[i].name)
        g_string_append_printf(known, "%s%s+%08x", i ? ", " : "", keys[i].name,
                               avma_note_key_hash(keys[i].name, &keys[i].pub));
      else
        g_string_append_printf(known, "%skey %s under any name", i ? ", " : "", id);
    }
    g_set_error(error, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_UNKNOWN_KEY,
                "the note is signed by no known key (signed by %s; known: %s)",
                unknown->len ? unknown->str : "nobody", known->len ? known->str : "none");
    return FALSE;
  }
  if (text)
    *text = g_strndup(note, text_len);
  if (signer)
    *signer = g_steal_pointer(&first);
  return TRUE;
}
