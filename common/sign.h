/* sign: Ed25519 key pairs and their files, detached signatures, minisign signatures and C2SP signed
 * notes, SHA-256 and hex/base64 helpers; all over libsodium, nothing of either agent. */
#pragma once
#include <glib.h>

#define AVMA_SIGN_ERROR (avma_sign_error_quark())
GQuark avma_sign_error_quark(void);
typedef enum {
  AVMA_SIGN_ERROR_IO,            /* a file is missing or unreadable (message names it) */
  AVMA_SIGN_ERROR_PERMISSION,    /* a secret key file that others can read */
  AVMA_SIGN_ERROR_MALFORMED,     /* not a key, signature or note in the expected form */
  AVMA_SIGN_ERROR_UNKNOWN_KEY,   /* signed, but by none of the keys given (a foreign key) */
  AVMA_SIGN_ERROR_BAD_SIGNATURE, /* by the right key, but the data or the signature was altered */
} AvmaSignError;

#define AVMA_SIGN_PUBLIC_BYTES 32
#define AVMA_SIGN_SECRET_BYTES 64
#define AVMA_SIGN_SEED_BYTES 32
#define AVMA_SIGN_BYTES 64
#define AVMA_SIGN_KEY_ID_BYTES 8
#define AVMA_SHA256_BYTES 32

/* A public key and its 8-byte key id (minisign's "keynum"). A key generated here has the id
 * SHA-256(public key)[0..7], so a bare base64 public key gives the same id back; a key imported in
 * minisign's form keeps the id written there. */
typedef struct {
  guint8 id[AVMA_SIGN_KEY_ID_BYTES];
  guint8 pk[AVMA_SIGN_PUBLIC_BYTES];
} AvmaPublicKey;

/* A key pair. The secret part is wiped by avma_key_pair_free. */
typedef struct {
  AvmaPublicKey pub;
  guint8 sk[AVMA_SIGN_SECRET_BYTES]; /* libsodium's form: seed || public key */
  gint64 created;                    /* Unix seconds; 0 when unknown */
} AvmaKeyPair;

/* ---- key pairs ---- */
/* A new random key pair, created now. */
AvmaKeyPair *avma_key_pair_generate(void);
/* The key pair of a 32-byte seed (known-answer tests, imported keys); id NULL: the derived id. */
AvmaKeyPair *avma_key_pair_from_seed(const guint8 seed[AVMA_SIGN_SEED_BYTES],
                                     const guint8 *id /* AVMA_SIGN_KEY_ID_BYTES or NULL */);
void avma_key_pair_free(AvmaKeyPair *kp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaKeyPair, avma_key_pair_free)

/* Write the secret key file (a small key=value text, see sign.c) atomically and durably, mode
 * 0600 exactly, whatever the umask. */
gboolean avma_key_pair_save(const AvmaKeyPair *kp, const char *path, GError **error);
/* Read a secret key file. Errors (AVMA_SIGN_ERROR): IO when missing or unreadable, PERMISSION when
 * group or others may read or write it, MALFORMED when it is not a key file or its parts disagree.
 * The message names the file. */
AvmaKeyPair *avma_key_pair_load(const char *path, GError **error);

/* ---- public keys and their text forms ---- */
/* The key id as minisign prints it: 16 upper-case hex digits, the 8 bytes read little-endian. */
char *avma_key_id_hex(const guint8 id[AVMA_SIGN_KEY_ID_BYTES]);
/* base64 of the 32-byte public key alone. */
char *avma_public_key_base64(const AvmaPublicKey *pub);
/* minisign's one-line form: base64("Ed" || key id || public key), as `minisign -P` takes it. */
char *avma_public_key_minisign_line(const AvmaPublicKey *pub);
/* minisign's public key file: "untrusted comment: minisign public key <ID>\n<line>\n". */
char *avma_public_key_minisign_file(const AvmaPublicKey *pub);
/* Parse any of the forms above (a minisign file, its line, a bare base64 key) or a C2SP note
 * verifier key (name+hash+base64). Surrounding white space is ignored. MALFORMED otherwise. */
gboolean avma_public_key_parse(const char *text, AvmaPublicKey *out, GError **error);
/* Read a file holding one of those forms (IO, MALFORMED; the message names the file). */
gboolean avma_public_key_load(const char *path, AvmaPublicKey *out, GError **error);
gboolean avma_public_key_equal(const AvmaPublicKey *a, const AvmaPublicKey *b);

/* ---- detached Ed25519 ---- */
void avma_sign_detached(const AvmaKeyPair *kp, const void *data, gsize len,
                        guint8 sig[AVMA_SIGN_BYTES]);
gboolean avma_verify_detached(const AvmaPublicKey *pub, const void *data, gsize len,
                              const guint8 sig[AVMA_SIGN_BYTES]);

/* ---- hashes and encodings ---- */
void avma_sha256(const void *data, gsize len, guint8 out[AVMA_SHA256_BYTES]);
/* Lower-case hex of SHA-256(data): 64 characters. */
char *avma_sha256_hex(const void *data, gsize len);
/* Lower-case hex of len bytes. */
char *avma_hex_encode(const guint8 *data, gsize len);
/* Decode exactly len bytes of hex (either case); FALSE on any other length or character. */
gboolean avma_hex_decode(const char *hex, guint8 *out, gsize len);
/* Standard base64 (with padding) of len bytes. */
char *avma_base64_encode(const guint8 *data, gsize len);
/* Strict standard base64 decode of exactly len bytes; FALSE on a bad character, bad padding or
 * another length (g_base64_decode skips bad characters, which a verifier must not). */
gboolean avma_base64_decode_exact(const char *b64, guint8 *out, gsize len);

/* ---- minisign detached signatures (.minisig) ---- */
/* The text of a .minisig for data: prehashed ("ED": Ed25519 over BLAKE2b-512 of the data), the
 * trusted comment signed by the global signature, as stock `minisign -V` accepts. Comments are
 * one line each (MALFORMED if they hold a newline or exceed minisign's limits); untrusted NULL:
 * "signature from avma secret key <ID>". */
char *avma_minisig_sign(const AvmaKeyPair *kp, const void *data, gsize len,
                        const char *trusted_comment, const char *untrusted_comment, GError **error);
/* Verify a .minisig text for data against pub (prehashed "ED" or legacy "Ed"). Errors: MALFORMED,
 * UNKNOWN_KEY (the signature names another key id), BAD_SIGNATURE (data altered, or the trusted
 * comment altered). On success, *trusted_comment (if not NULL) is the verified comment. */
gboolean avma_minisig_verify(const AvmaPublicKey *pub, const void *data, gsize len,
                             const char *minisig, char **trusted_comment, GError **error);
/* Files: sign data_path into sig_path (written atomically, mode 0644); verify data_path against
 * sig_path. The messages name the files. */
gboolean avma_minisig_sign_file(const AvmaKeyPair *kp, const char *data_path, const char *sig_path,
                                const char *trusted_comment, GError **error);
gboolean avma_minisig_verify_file(const AvmaPublicKey *pub, const char *data_path,
                                  const char *sig_path, char **trusted_comment, GError **error);

/* ---- C2SP signed notes (https://c2sp.org/signed-note) ---- */
/* A key that may sign notes: its name (no white space, no '+') and public key. name NULL: the
 * key under whatever name a signature line gives (the key hash still binds name and key). */
typedef struct {
  const char *name;
  AvmaPublicKey pub;
} AvmaNoteKey;

/* The note key hash: the first 4 bytes, big-endian, of SHA-256(name || "\n" || 0x01 || pk). */
guint32 avma_note_key_hash(const char *name, const AvmaPublicKey *pub);
/* The verifier key string "name+hash+base64(0x01 || pk)" of Go's golang.org/x/mod/sumdb/note. */
char *avma_note_verifier_key(const char *name, const AvmaPublicKey *pub);
/* Parse a verifier key string; *name (g_free) gets the name. MALFORMED, also when the hash does
 * not match the key. */
gboolean avma_note_parse_verifier_key(const char *vkey, char **name, AvmaPublicKey *pub,
                                      GError **error);
/* A signed note: text (non-empty UTF-8 without control characters but '\n', ending in '\n'),
 * a blank line, then "— name base64(keyhash || signature)\n". MALFORMED on bad text or name. */
char *avma_note_sign(const char *text, const char *name, const AvmaKeyPair *kp, GError **error);
/* Add one more signature line to a signed note (a cosignature) after checking its form. */
char *avma_note_add_signature(const char *note, const char *name, const AvmaKeyPair *kp,
                              GError **error);
/* Open a signed note: at least one signature must be by one of keys[0..n_keys) and every
 * signature by a known key must verify. Errors: MALFORMED; BAD_SIGNATURE naming the key whose
 * signature fails (text or signature altered); UNKNOWN_KEY when no signature is by a known key,
 * naming the signers found (a foreign key, or a known name with another key). On success *text
 * (if not NULL) is the signed text and *signer (if not NULL) the first verified key's name. */
gboolean avma_note_open(const char *note, const AvmaNoteKey *keys, gsize n_keys, char **text,
                        char **signer, GError **error);
