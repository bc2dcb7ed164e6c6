/* hostkey: the host's signing key in the state directory: created by avma-hostd on first start,
 * never silently replaced, rotated by `avma-host key rotate` (which a running daemon notices on its
 * next use), certified by a provider root key. */
#pragma once
#include "state-files.h"
#include <glib.h>

#include "keycert.h"
#include "sign.h"

#define AVMA_HOSTKEY_ERROR (avma_hostkey_error_quark())
GQuark avma_hostkey_error_quark(void);
typedef enum {
  AVMA_HOSTKEY_ERROR_MISSING,  /* no key, and history exists that an earlier key signed */
  AVMA_HOSTKEY_ERROR_UNUSABLE, /* unreadable, wrong mode, malformed (the cause in the message) */
  AVMA_HOSTKEY_ERROR_CERT,     /* a certificate that is not for this host's key */
} AvmaHostKeyError;

/* Daemon start: load STATE/host-key.sec, or create it (and host-key.pub) when the state directory
 * holds no history yet (events.jsonl empty or absent, no keys/). Anything else is an error whose
 * message names the file and the fix; there is no unsigned mode. Rewrites host-key.pub when it
 * does not match the secret key. */
AvmaKeyPair *avma_hostkey_open(const char *state_dir, GError **error);
/* `avma-host key create`: a new key where none is, also when history exists (the operator's
 * explicit choice after losing the key; verifiers of older records need the old public key).
 * Refuses when host-key.sec exists. Files get the state directory's owner. */
AvmaKeyPair *avma_hostkey_create(const char *state_dir, GError **error);
/* Load the key pair without creating anything (the root-run CLI). */
AvmaKeyPair *avma_hostkey_load(const char *state_dir, GError **error);
/* The host's public key from host-key.pub (readable without the secret). */
gboolean avma_hostkey_load_public(const char *state_dir, AvmaPublicKey *out, GError **error);
/* The keys the host's notes may be signed by: the current public key (first) and the retired
 * ones in STATE/keys/ (AvmaNoteKey each). NULL when host-key.pub cannot be read. */
GArray *avma_hostkey_known_keys(const char *state_dir, GError **error);
/* The host id in signed statements: the key id, as avma_key_id_hex prints it. */
char *avma_hostkey_id(const AvmaPublicKey *pub);

/* A running daemon's view of its key. The file is replaced by rename, so a stat per use tells a
 * rotation; a replacement that cannot be loaded keeps the previous key (logged once). */
typedef struct AvmaHostKey AvmaHostKey;
/* Takes kp (from avma_hostkey_open). */
AvmaHostKey *avma_hostkey_new(const char *state_dir, AvmaKeyPair *kp);
void avma_hostkey_free(AvmaHostKey *hk);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaHostKey, avma_hostkey_free)
/* The current key pair (borrowed until the next call). *rotated (if not NULL) is TRUE when this
 * call loaded a new key: avma_hostkey_last_rotation then gives its rotation statement. */
const AvmaKeyPair *avma_hostkey_get(AvmaHostKey *hk, gboolean *rotated);
/* The statement text of the latest rotation this daemon loaded (NULL before any). The chain's
 * record log is where it belongs: the caller that sees *rotated appends it there. */
const char *avma_hostkey_last_rotation(AvmaHostKey *hk);

/* Called from the main loop when a rotated key has been loaded; statement may be NULL (a key
 * replaced without one, which is logged as a warning). */
typedef void (*AvmaHostKeyRotated)(AvmaHostKey *hk, const char *statement, gpointer user);
/* Watch host-key.sec (inotify through GFileMonitor) so a rotation is loaded and logged at once,
 * not only on the next signature; either way it is reported to fn (may be NULL) once, from the
 * main loop at its next idle. One watch per AvmaHostKey. */
void avma_hostkey_watch(AvmaHostKey *hk, AvmaHostKeyRotated fn, gpointer user);

/* Rotation (root-run CLI): a new key pair replaces host-key.sec (same owner and mode) and
 * host-key.pub; STATE/keys/ gets the old public key (<OLD ID>.pub), its certificate if any
 * (<OLD ID>.cert) and the rotation statement (rotation-<NEW ID>.note, avma_keycert_rotation),
 * written before the key is replaced. Returns the new key pair. */
AvmaKeyPair *avma_hostkey_rotate(const char *state_dir, char **statement, GError **error);
/* Path of the rotation statement that introduced key id (hex). */
char *avma_hostkey_rotation_path(const char *state_dir, const char *new_id);

/* One rotation statement of STATE/keys/, checked against the retired key it names (its
 * <OLD ID>.pub there). */
typedef struct {
  char *path;
  AvmaKeyRotation rotation; /* valid when error is NULL */
  char *error;              /* why it does not verify, or NULL */
} AvmaHostKeyRotationInfo;
/* The host's rotations, oldest first (AvmaHostKeyRotationInfo*, freed with the array). */
GPtrArray *avma_hostkey_rotations(const char *state_dir);

/* Install a root's certificate as STATE/host-key.cert after checking that it certifies this
 * host's key (and, with root not NULL, that root signed it). */
gboolean avma_hostkey_install_cert(const char *state_dir, const char *cert_text,
                                   const AvmaPublicKey *root, AvmaHostCert *out, GError **error);
/* The installed certificate, parsed (its root signature is not checked: the CLI has no root
 * key). FALSE with *error NULL when none is installed. */
gboolean avma_hostkey_cert(const char *state_dir, AvmaHostCert *out, GError **error);
