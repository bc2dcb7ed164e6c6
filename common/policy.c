/* policy: the activation decision table (brief section 6) as one pure function. */
#include "policy.h"

#include <stdio.h>
#include <string.h>

static const char *const notification_names[] = {"AVMA Success", "Invalid Host", "Invalid Data",
                                                 "Activation Denied"};
#define N_NOTIFICATIONS (sizeof notification_names / sizeof notification_names[0])

const char *avma_notification_name(AvmaNotification n) {
  if ((unsigned)n >= N_NOTIFICATIONS)
    return "unknown";
  return notification_names[n];
}

bool avma_notification_parse(const char *s, AvmaNotification *out) {
  if (!s)
    return false;
  /* Exact match: these are the 12309 notification texts, not user input. */
  for (unsigned i = 0; i < N_NOTIFICATIONS; i++) {
    if (strcmp(s, notification_names[i]) == 0) {
      if (out)
        *out = (AvmaNotification)i;
      return true;
    }
  }
  return false;
}

int avma_notification_exit_code(AvmaNotification n) {
  switch (n) {
  case AVMA_NOTIFY_SUCCESS:
    return 0;
  case AVMA_NOTIFY_INVALID_HOST:
    return 3;
  case AVMA_NOTIFY_INVALID_DATA:
    return 4;
  case AVMA_NOTIFY_DENIED:
    return 5;
  }
  return 1; /* not a notification: a generic failure, distinct from the four */
}

const char *avma_reason_code(AvmaReason r) {
  switch (r) {
  case AVMA_REASON_OK:
    return "ok";
  case AVMA_REASON_HOST_UNLICENSED:
    return "host-unlicensed";
  case AVMA_REASON_HOST_NOT_DATACENTER:
    return "host-not-datacenter";
  case AVMA_REASON_HOST_NOT_ACTIVATED:
    return "host-not-activated";
  case AVMA_REASON_MISSING_KEY:
    return "missing-key";
  case AVMA_REASON_KEY_SYNTAX:
    return "key-syntax";
  case AVMA_REASON_NOT_AVMA_KEY:
    return "not-avma-key";
  case AVMA_REASON_GUEST_NEWER_THAN_HOST:
    return "guest-newer-than-host";
  case AVMA_REASON_PRODUCT_MISMATCH:
    return "product-mismatch";
  case AVMA_REASON_BAD_DECLARED_PRODUCT:
    return "bad-declared-product";
  }
  return "unknown";
}

static void set(AvmaDecision *out, AvmaNotification n, AvmaReason r) {
  out->notification = n;
  out->reason = r;
}

/* A declared field counts as given only when non-empty: an agent that does not know its product
 * sends nothing or an empty value, and neither should fail the request. */
static bool given(const char *s) {
  return s && *s;
}

void avma_policy_decide(const AvmaHostLicence *host, const AvmaRequest *req, AvmaDecision *out) {
  memset(out, 0, sizeof *out);

  /* 1. Host state. Only AVMA_EDITION_DATACENTER licenses the host: brief section 2 names the
   * Datacenter edition, and Datacenter: Azure Edition is licensed for Azure platforms, not as a
   * KVM host, so it does not count. */
  if (!host || host->version <= AVMA_VERSION_UNKNOWN || host->version > AVMA_VERSION_2025) {
    set(out, AVMA_NOTIFY_INVALID_HOST, AVMA_REASON_HOST_UNLICENSED);
    snprintf(out->text, sizeof out->text, "host licence is not set");
    return;
  }
  if (host->edition != AVMA_EDITION_DATACENTER) {
    set(out, AVMA_NOTIFY_INVALID_HOST, AVMA_REASON_HOST_NOT_DATACENTER);
    snprintf(out->text, sizeof out->text, "host %s %s is not a Datacenter edition",
             avma_version_display(host->version), avma_edition_display(host->edition));
    return;
  }
  if (!host->activated) {
    set(out, AVMA_NOTIFY_INVALID_HOST, AVMA_REASON_HOST_NOT_ACTIVATED);
    snprintf(out->text, sizeof out->text, "host %s Datacenter is not activated",
             avma_version_display(host->version));
    return;
  }

  /* 2. Request well-formedness. A key too long to normalise into the buffer is present, so it is
   * judged as a key (syntax) below rather than as missing. */
  char key[64];
  bool fits = req && req->key && avma_key_normalise(req->key, key, sizeof key);
  bool empty = !req || !req->key || (fits && key[0] == '\0');
  if (empty) {
    set(out, AVMA_NOTIFY_INVALID_DATA, AVMA_REASON_MISSING_KEY);
    snprintf(out->text, sizeof out->text, "request carries no AVMA key");
    return;
  }
  AvmaVersion dver = AVMA_VERSION_UNKNOWN;
  AvmaEdition ded = AVMA_EDITION_UNKNOWN;
  if (given(req->declared_version) && !avma_version_parse(req->declared_version, &dver)) {
    set(out, AVMA_NOTIFY_INVALID_DATA, AVMA_REASON_BAD_DECLARED_PRODUCT);
    snprintf(out->text, sizeof out->text, "declared product version is not a known version");
    return;
  }
  if (given(req->declared_edition) && !avma_edition_parse(req->declared_edition, &ded)) {
    set(out, AVMA_NOTIFY_INVALID_DATA, AVMA_REASON_BAD_DECLARED_PRODUCT);
    snprintf(out->text, sizeof out->text, "declared product edition is not a known edition");
    return;
  }

  /* 3. The key. */
  if (!fits || !avma_key_syntax_valid(key)) {
    set(out, AVMA_NOTIFY_DENIED, AVMA_REASON_KEY_SYNTAX);
    snprintf(out->text, sizeof out->text, "key is not a product key (five groups of five)");
    return;
  }
  const AvmaCatalogueEntry *e = avma_catalogue_lookup(key);
  if (!e) {
    char last5[6];
    avma_key_last5(key, last5);
    set(out, AVMA_NOTIFY_DENIED, AVMA_REASON_NOT_AVMA_KEY);
    snprintf(out->text, sizeof out->text, "key ending %s is not an AVMA key", last5);
    return;
  }
  out->entry = e;
  if (!avma_matrix_allows(host->version, e->version)) {
    set(out, AVMA_NOTIFY_DENIED, AVMA_REASON_GUEST_NEWER_THAN_HOST);
    snprintf(out->text, sizeof out->text, "guest %s is newer than host %s",
             avma_version_display(e->version), avma_version_display(host->version));
    return;
  }
  /* The declared version is compared after parsing, so a release name ("1809") equals the version
   * whose key it uses (2019). */
  if ((dver != AVMA_VERSION_UNKNOWN && dver != e->version) ||
      (ded != AVMA_EDITION_UNKNOWN && ded != e->edition)) {
    set(out, AVMA_NOTIFY_DENIED, AVMA_REASON_PRODUCT_MISMATCH);
    snprintf(out->text, sizeof out->text, "key is for %s %s but the guest declares %s %s",
             avma_version_display(e->version), avma_edition_display(e->edition),
             dver != AVMA_VERSION_UNKNOWN ? avma_version_display(dver) : "(any version)",
             ded != AVMA_EDITION_UNKNOWN ? avma_edition_display(ded) : "(any edition)");
    return;
  }

  /* 4. Success. */
  set(out, AVMA_NOTIFY_SUCCESS, AVMA_REASON_OK);
  snprintf(out->text, sizeof out->text, "guest %s %s activated by host %s Datacenter",
           avma_version_display(e->version), avma_edition_display(e->edition),
           avma_version_display(host->version));
}
