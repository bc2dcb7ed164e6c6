/* fleet-bundle: a host's export bundle (/work/spec/export-bundle.md, docs/fleet.md): parsed into
 * typed records and checked on its own (structure, the hash chain inside it, the checkpoint's
 * signature), without the database. What the collector already knows of the host (its key, its
 * cursor) is checked by fleet-ingest. */
#pragma once
#include <glib.h>

#include "sign.h"

#define AVMA_FLEET_ERROR (avma_fleet_error_quark())
GQuark avma_fleet_error_quark(void);
/* Each code is also the kind of the data-quality finding a refused bundle leaves. */
typedef enum {
  AVMA_FLEET_ERROR_MALFORMED, /* not a bundle: header, a line, the order of records */
  AVMA_FLEET_ERROR_TRUNCATED, /* cut short: no checkpoint line, a last line without newline */
  AVMA_FLEET_ERROR_CHAIN,     /* a record's prev does not match the line before it (altered) */
  AVMA_FLEET_ERROR_SIGNATURE, /* the checkpoint does not verify or names another head */
  AVMA_FLEET_ERROR_KEY,       /* a key the collector does not trust for this host */
  AVMA_FLEET_ERROR_GAP,       /* starts after the collector's cursor: records missing */
  AVMA_FLEET_ERROR_FORK,      /* disagrees with records the collector already holds */
  AVMA_FLEET_ERROR_FUTURE,    /* a time too far ahead of the collector's clock */
  AVMA_FLEET_ERROR_DATABASE,  /* the database failed (nothing of the bundle was kept) */
} AvmaFleetError;
/* "malformed", "truncated", ...: the finding's kind. */
const char *avma_fleet_error_kind(int code);

#define AVMA_FLEET_EVENT_DECISION 12310
#define AVMA_FLEET_EVENT_LICENCE 12311
#define AVMA_FLEET_EVENT_RUN 12312
#define AVMA_FLEET_EVENT_FACTS 12313
#define AVMA_FLEET_EVENT_NOTE 12314
#define AVMA_FLEET_EVENT_ROTATION 12315

/* One record line, typed. Strings are owned; members the kind does not carry are NULL/0. */
typedef struct {
  guint64 seq;
  gint64 time;
  int event_id;
  char *line; /* the exact bytes, without the newline */
  char *prev;
  /* 12310 */
  char *notification, *vm, *vm_uuid, *guest_version, *guest_edition;
  char *declared_version, *declared_edition, *reason_code;
  gint64 granted_until; /* 0: no grant */
  /* 12311 */
  gboolean licence_set, activated;
  char *version, *edition;
  /* 12312 (vm, vm_uuid above) */
  gboolean running, repaired;
  char *reason;
  /* 12313 */
  char *hostname, *source;
  int sockets, cores_per_socket, threads_per_core, cpus;
} AvmaFleetRecord;

typedef struct {
  /* header */
  char *host_id, *hostname, *key_id;
  AvmaPublicKey pub;
  guint64 since, last;
  gint64 exported_at;
  /* body */
  GArray *records;      /* AvmaFleetRecord, seq since+1 .. last */
  GPtrArray *rotations; /* char *: rotation statements, oldest first */
  char *cert;           /* or NULL */
  char *checkpoint;     /* the note, or NULL ({"checkpoint":null}) */
  /* the checkpoint's text, once avma_fleet_bundle_check_checkpoint passed */
  gint64 signed_at;
} AvmaFleetBundle;

void avma_fleet_bundle_free(AvmaFleetBundle *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaFleetBundle, avma_fleet_bundle_free)

/* Parse and check the structure: header, records since+1..last consecutive, each one's prev the
 * hash of the line before it in the bundle, then rotations, certificate, checkpoint last.
 * *host_id (may be NULL) gets the header's host id as soon as it is read, also on failure. */
AvmaFleetBundle *avma_fleet_bundle_parse(const char *data, gsize len, char **host_id,
                                         GError **error);

/* The keys from trusted to the header's key, through the bundle's rotation statements (each
 * signed by the key before it). trusted NULL: first sight of the host, the header's key alone.
 * Returns the chain (AvmaPublicKey, trusted first, header's last) or NULL with KEY. */
GArray *avma_fleet_bundle_key_chain(const AvmaFleetBundle *b, const AvmaPublicKey *trusted,
                                    GError **error);
/* Whether the bundle's certificate (if any) is root's certificate of the header's key for this
 * host (by host id or name). FALSE with *error set when there is one and it does not hold. */
gboolean avma_fleet_bundle_certified(const AvmaFleetBundle *b, const AvmaPublicKey *root,
                                     GError **error);
/* The checkpoint verifies with one of keys, names the header's host, seq last and the hash of
 * record last's line. No checkpoint: there must be no records. Sets b->signed_at. */
gboolean avma_fleet_bundle_check_checkpoint(AvmaFleetBundle *b, const AvmaPublicKey *keys,
                                            gsize n_keys, GError **error);
