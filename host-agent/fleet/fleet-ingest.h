/* fleet-ingest: one export bundle into the fleet database, in one transaction: checked against
 * what the database knows of its host (key, cursor), then its new records appended and the
 * cursor moved. A bundle already held, or overlapping what is held, adds only what is new; a
 * refused bundle changes nothing but leaves a data-quality finding and marks its host refused. */
#pragma once
#include <glib.h>

#include "fleet-bundle.h"
#include "fleet-config.h"
#include "fleet-db.h"
#include "sign.h"

typedef struct {
  char *host_id, *hostname;
  guint64 since, last;
  guint64 added; /* new records stored */
  guint64 known; /* records of the bundle the database already held */
  char *key_how; /* how the key is trusted: known, first-seen, rotation, certificate */
} AvmaFleetIngestResult;
void avma_fleet_ingest_result_clear(AvmaFleetIngestResult *r);

/* origin: where the bundle came from (a file name, "stdin", "pull HOST"), for findings.
 * pulled_as: the configured host name it was pulled as, or NULL. root: the provider root key, or
 * NULL. Errors: AVMA_FLEET_ERROR (its code is the finding's kind); DATABASE when the database
 * failed, in which case no finding could be written either. */
gboolean avma_fleet_ingest(PGconn *c, const AvmaFleetConfig *cfg, const AvmaPublicKey *root,
                           const char *data, gsize len, const char *origin, const char *pulled_as,
                           AvmaFleetIngestResult *res, GError **error);

/* The same for a bundle parsed beforehand (so the next file can be parsed while this one is
 * stored): bundle, or NULL with parse_error and host_id as avma_fleet_bundle_parse left them.
 * Takes bundle and parse_error. */
gboolean avma_fleet_ingest_parsed(PGconn *c, const AvmaFleetConfig *cfg, const AvmaPublicKey *root,
                                  AvmaFleetBundle *bundle, GError *parse_error, const char *host_id,
                                  const char *origin, const char *pulled_as,
                                  AvmaFleetIngestResult *res, GError **error);

/* Record a data-quality finding (its own transaction). host_id may be NULL. */
gboolean avma_fleet_add_finding(PGconn *c, const char *host_id, const char *origin,
                                const char *kind, const char *detail, GError **error);
