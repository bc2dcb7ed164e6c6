/* policy: the decision table of brief section 6 as one pure function. Pure C11. */
#pragma once
#include "catalogue.h"
#include <stdbool.h>

typedef enum {
  AVMA_NOTIFY_SUCCESS = 0,  /* "AVMA Success" */
  AVMA_NOTIFY_INVALID_HOST, /* "Invalid Host" */
  AVMA_NOTIFY_INVALID_DATA, /* "Invalid Data" */
  AVMA_NOTIFY_DENIED,       /* "Activation Denied" */
} AvmaNotification;

const char *avma_notification_name(AvmaNotification n);
bool avma_notification_parse(const char *s, AvmaNotification *out);
/* ato exit codes: 0 Success, 3 Invalid Host, 4 Invalid Data, 5 Activation Denied. */
int avma_notification_exit_code(AvmaNotification n);

typedef struct {
  AvmaVersion version; /* UNKNOWN when never set */
  AvmaEdition edition;
  bool activated;
} AvmaHostLicence;

typedef struct {
  const char *key;              /* as received (normalised again here); NULL if absent */
  const char *declared_version; /* guest's declared product version; NULL if absent */
  const char *declared_edition; /* NULL if absent */
} AvmaRequest;

typedef enum {
  AVMA_REASON_OK = 0,
  AVMA_REASON_HOST_UNLICENSED, /* host licence never set / unknown version */
  AVMA_REASON_HOST_NOT_DATACENTER,
  AVMA_REASON_HOST_NOT_ACTIVATED,
  AVMA_REASON_MISSING_KEY,  /* request has no key: malformed -> Invalid Data */
  AVMA_REASON_KEY_SYNTAX,   /* not a product key at all */
  AVMA_REASON_NOT_AVMA_KEY, /* well-formed but not in the catalogue */
  AVMA_REASON_GUEST_NEWER_THAN_HOST,
  AVMA_REASON_PRODUCT_MISMATCH,     /* declared version/edition differ from the key's */
  AVMA_REASON_BAD_DECLARED_PRODUCT, /* declared version/edition unparsable -> Invalid Data */
} AvmaReason;

const char *avma_reason_code(AvmaReason r); /* "ok", "host-unlicensed", ... (schema reason-code) */

typedef struct {
  AvmaNotification notification;
  AvmaReason reason;
  const AvmaCatalogueEntry *entry; /* the key's catalogue entry when known, else NULL */
  char text[160]; /* human-readable reason, e.g. "guest 2025 is newer than host 2022" */
} AvmaDecision;

/* Order: host state (Invalid Host) first, then request well-formedness (Invalid Data), then the
 * key (Activation Denied), then success. */
void avma_policy_decide(const AvmaHostLicence *host, const AvmaRequest *req, AvmaDecision *out);
