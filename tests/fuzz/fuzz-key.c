/* fuzz-key: key normalisation, syntax, catalogue lookup, version/edition parsing and the policy on
 * fuzzed strings. Input: 2 bytes of host licence, then key '\n' version '\n' edition. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok) {
  if (!ok)
    abort();
}

static void check_key(const char *s) {
  size_t n = strlen(s);
  char *exact = malloc(n + 1);
  check(avma_key_normalise(s, exact, n + 1)); /* normalising never grows a string */
  size_t m = strlen(exact);
  for (size_t i = 0; i < m; i++)
    check(exact[i] != ' ' && exact[i] != '\t' && exact[i] != '\n' &&
          !(exact[i] >= 'a' && exact[i] <= 'z'));
  if (m > 0) /* one byte short of the room it needs fails cleanly */
    check(!avma_key_normalise(s, exact, m));
  check(avma_key_normalise(s, exact, m + 1));
  char *again = malloc(m + 1);
  check(avma_key_normalise(exact, again, m + 1) && strcmp(again, exact) == 0); /* idempotent */
  bool syntax = avma_key_syntax_valid(exact);
  check(!syntax || m == AVMA_PRODUCT_KEY_LEN);
  const AvmaCatalogueEntry *e = avma_catalogue_lookup(exact);
  if (e) {
    check(syntax && strcmp(e->key, exact) == 0);
    check(avma_catalogue_find(e->version, e->edition) == e);
  }
  char last5[6];
  avma_key_last5(exact, last5);
  check(strlen(last5) == (m >= 5 ? 5u : 0u));
  free(again);
  free(exact);
}

static void check_names(const char *s) {
  AvmaVersion v;
  if (avma_version_parse(s, &v)) {
    AvmaVersion back;
    check(v > AVMA_VERSION_UNKNOWN && v <= AVMA_VERSION_2025);
    check(avma_version_parse(avma_version_name(v), &back) && back == v);
  }
  AvmaEdition e;
  if (avma_edition_parse(s, &e)) {
    AvmaEdition back;
    check(e > AVMA_EDITION_UNKNOWN && e <= AVMA_EDITION_ESSENTIALS);
    check(avma_edition_parse(avma_edition_name(e), &back) && back == e);
  }
  AvmaNotification nt;
  if (avma_notification_parse(s, &nt))
    check(strcmp(avma_notification_name(nt), s) == 0);
}

static AvmaNotification expected_notification(AvmaReason r) {
  switch (r) {
  case AVMA_REASON_OK:
    return AVMA_NOTIFY_SUCCESS;
  case AVMA_REASON_HOST_UNLICENSED:
  case AVMA_REASON_HOST_NOT_DATACENTER:
  case AVMA_REASON_HOST_NOT_ACTIVATED:
    return AVMA_NOTIFY_INVALID_HOST;
  case AVMA_REASON_MISSING_KEY:
  case AVMA_REASON_BAD_DECLARED_PRODUCT:
    return AVMA_NOTIFY_INVALID_DATA;
  case AVMA_REASON_KEY_SYNTAX:
  case AVMA_REASON_NOT_AVMA_KEY:
  case AVMA_REASON_GUEST_NEWER_THAN_HOST:
  case AVMA_REASON_PRODUCT_MISMATCH:
    break;
  }
  return AVMA_NOTIFY_DENIED;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  /* Low 3 bits version, next 3 edition: both also reach values outside their enums. */
  AvmaHostLicence host = {(AvmaVersion)(data[0] & 7), (AvmaEdition)((data[0] >> 3) & 7),
                          data[1] & 1};
  uint8_t present = data[1] >> 1;
  data += 2, size -= 2;

  /* Split into up to three NUL-terminated strings, each in an exact-size buffer. */
  char *part[3] = {NULL, NULL, NULL};
  size_t start = 0;
  for (int i = 0; i < 3; i++) {
    size_t end = start;
    while (end < size && data[end] != '\n')
      end++;
    if (start <= size) {
      part[i] = malloc(end - start + 1);
      memcpy(part[i], data + start, end - start);
      part[i][end - start] = '\0'; /* an embedded NUL just ends the string early */
    }
    start = end + 1;
  }
  for (int i = 0; i < 3; i++) {
    if (part[i]) {
      check_key(part[i]);
      check_names(part[i]);
    }
  }

  AvmaRequest req = {(present & 1) ? NULL : part[0], (present & 2) ? part[1] : NULL,
                     (present & 4) ? part[2] : NULL};
  AvmaDecision d, d2;
  avma_policy_decide(&host, &req, &d);
  avma_policy_decide(&host, &req, &d2);
  check(memchr(d.text, '\0', sizeof d.text) != NULL && d.text[0] != '\0');
  check(d.notification == d2.notification && d.reason == d2.reason && d.entry == d2.entry &&
        strcmp(d.text, d2.text) == 0);
  check(d.notification == expected_notification(d.reason));
  bool has_entry = d.reason == AVMA_REASON_OK || d.reason == AVMA_REASON_GUEST_NEWER_THAN_HOST ||
                   d.reason == AVMA_REASON_PRODUCT_MISMATCH;
  check(has_entry == (d.entry != NULL));
  if (d.reason == AVMA_REASON_OK) {
    check(host.edition == AVMA_EDITION_DATACENTER && host.activated);
    check(avma_matrix_allows(host.version, d.entry->version));
  }
  if (d.reason == AVMA_REASON_GUEST_NEWER_THAN_HOST)
    check(!avma_matrix_allows(host.version, d.entry->version));
  check(avma_notification_exit_code(d.notification) >= 0);
  for (int i = 0; i < 3; i++)
    free(part[i]);
  return 0;
}
