/* keycert: the statements that give a host key its standing, as C2SP signed notes: a provider root
 * key's certificate of a host key, a host key's rotation to its successor, and the names keys sign
 * notes under. Shared by the host CLI and avma-verify; nothing of either agent. */
#pragma once
#include <glib.h>

#include "sign.h"

/* Note key names: "avma-host-<KEY ID>" and "avma-root-<KEY ID>" (avma_key_id_hex). Checkpoints,
 * receipts and rotation statements are signed under the host name, certificates under the root
 * name. */
#define AVMA_KEYCERT_HOST "avma-host-"
#define AVMA_KEYCERT_ROOT "avma-root-"
char *avma_keycert_note_name(const char *prefix, const AvmaPublicKey *pub);

/* ---- certificates ---- */
/* What a root key certifies: this public key is the host named host, from valid_from on. */
typedef struct {
  char *host;
  AvmaPublicKey pub;
  gint64 valid_from;
  char *root_id; /* the signer's key id (hex), as its signature line names it */
} AvmaHostCert;
void avma_host_cert_clear(AvmaHostCert *c);

/* The certificate text: a signed note whose body is
 *   avma-host-certificate v1
 *   host <name>
 *   key-id <ID>
 *   public-key <base64>
 *   valid-from <RFC 3339>
 * signed by root under its root name. host: no white space (MALFORMED otherwise). */
char *avma_keycert_certify(const AvmaKeyPair *root, const AvmaPublicKey *host,
                           const char *host_name, gint64 valid_from, GError **error);
/* Read a certificate's body without checking any signature (for `key show`). MALFORMED. */
gboolean avma_keycert_parse(const char *cert, AvmaHostCert *out, GError **error);
/* Verify a certificate against a root public key (AVMA_SIGN_ERROR: MALFORMED, UNKNOWN_KEY when
 * signed by another root, BAD_SIGNATURE when altered), then fill out. */
gboolean avma_keycert_verify(const char *cert, const AvmaPublicKey *root, AvmaHostCert *out,
                             GError **error);

/* ---- rotation statements ---- */
typedef struct {
  AvmaPublicKey old_key, new_key;
  gint64 time;
} AvmaKeyRotation;

/* The rotation statement: a signed note whose body is
 *   avma-key-rotation v1
 *   old-key-id <ID>
 *   old-public-key <base64>
 *   new-key-id <ID>
 *   new-public-key <base64>
 *   rotated-at <RFC 3339>
 * signed by the old key (which vouches for its successor) and cosigned by the new one (which
 * proves the successor's holder made it), both under their host names. The chain's record log
 * keeps these texts as they are. */
char *avma_keycert_rotation(const AvmaKeyPair *old_key, const AvmaKeyPair *new_key, gint64 time);
/* Verify a statement against the old key: both signatures must hold. Errors as for
 * avma_keycert_verify. */
gboolean avma_keycert_verify_rotation(const char *statement, const AvmaPublicKey *old_key,
                                      AvmaKeyRotation *out, GError **error);
