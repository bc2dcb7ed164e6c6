/* test-policy: the decision table over the full host x guest x edition matrix and every reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"

static const AvmaVersion versions[] = {AVMA_VERSION_2012R2, AVMA_VERSION_2016, AVMA_VERSION_2019,
                                       AVMA_VERSION_2022, AVMA_VERSION_2025};
#define N_VERSIONS 5

static const AvmaHostLicence dc2022 = {AVMA_VERSION_2022, AVMA_EDITION_DATACENTER, true};
static const char *const k2019std = "TNK62-RXVTB-4P47B-2D623-4GF74";

static AvmaDecision decide(const AvmaHostLicence *h, const char *key, const char *ver,
                           const char *ed) {
  AvmaRequest req = {key, ver, ed};
  AvmaDecision d;
  memset(&d, 0xA5, sizeof d); /* the function must set every field */
  avma_policy_decide(h, &req, &d);
  assert_non_null(memchr(d.text, '\0', sizeof d.text));
  assert_true(strlen(d.text) > 0);
  return d;
}

static void expect(const AvmaDecision *d, AvmaNotification n, AvmaReason r) {
  if (d->notification != n || d->reason != r)
    fail_msg("got %s/%s (%s), want %s/%s", avma_notification_name(d->notification),
             avma_reason_code(d->reason), d->text, avma_notification_name(n), avma_reason_code(r));
}

static void test_names(void **state) {
  (void)state;
  assert_string_equal(avma_notification_name(AVMA_NOTIFY_SUCCESS), "AVMA Success");
  assert_string_equal(avma_notification_name(AVMA_NOTIFY_INVALID_HOST), "Invalid Host");
  assert_string_equal(avma_notification_name(AVMA_NOTIFY_INVALID_DATA), "Invalid Data");
  assert_string_equal(avma_notification_name(AVMA_NOTIFY_DENIED), "Activation Denied");
  assert_int_equal(avma_notification_exit_code(AVMA_NOTIFY_SUCCESS), 0);
  assert_int_equal(avma_notification_exit_code(AVMA_NOTIFY_INVALID_HOST), 3);
  assert_int_equal(avma_notification_exit_code(AVMA_NOTIFY_INVALID_DATA), 4);
  assert_int_equal(avma_notification_exit_code(AVMA_NOTIFY_DENIED), 5);
  for (int n = AVMA_NOTIFY_SUCCESS; n <= AVMA_NOTIFY_DENIED; n++) {
    AvmaNotification back;
    assert_true(avma_notification_parse(avma_notification_name((AvmaNotification)n), &back));
    assert_int_equal(back, n);
  }
  assert_false(avma_notification_parse("avma success", NULL));
  assert_false(avma_notification_parse("", NULL));
  assert_false(avma_notification_parse(NULL, NULL));

  static const char *codes[] = {"ok",
                                "host-unlicensed",
                                "host-not-datacenter",
                                "host-not-activated",
                                "missing-key",
                                "key-syntax",
                                "not-avma-key",
                                "guest-newer-than-host",
                                "product-mismatch",
                                "bad-declared-product"};
  for (int r = AVMA_REASON_OK; r <= AVMA_REASON_BAD_DECLARED_PRODUCT; r++)
    assert_string_equal(avma_reason_code((AvmaReason)r), codes[r]);
}

/* 5 host versions x every catalogue key (5 guest versions, every edition they have). */
static void test_full_matrix(void **state) {
  (void)state;
  size_t n;
  const AvmaCatalogueEntry *all = avma_catalogue_entries(&n);
  assert_int_equal(n, 15);
  int successes = 0;
  for (int h = 0; h < N_VERSIONS; h++) {
    AvmaHostLicence host = {versions[h], AVMA_EDITION_DATACENTER, true};
    for (size_t k = 0; k < n; k++) {
      const AvmaCatalogueEntry *e = &all[k];
      bool allowed = e->version <= versions[h];
      /* Undeclared, and declared as the key's own product. */
      AvmaDecision d1 = decide(&host, e->key, NULL, NULL);
      AvmaDecision d2 =
          decide(&host, e->key, avma_version_name(e->version), avma_edition_name(e->edition));
      for (int j = 0; j < 2; j++) {
        const AvmaDecision *d = j ? &d2 : &d1;
        if (allowed)
          expect(d, AVMA_NOTIFY_SUCCESS, AVMA_REASON_OK);
        else
          expect(d, AVMA_NOTIFY_DENIED, AVMA_REASON_GUEST_NEWER_THAN_HOST);
        assert_ptr_equal(d->entry, e);
      }
      successes += allowed;
      if (!allowed) {
        char want[160];
        snprintf(want, sizeof want, "guest %s is newer than host %s",
                 avma_version_display(e->version), avma_version_display(versions[h]));
        assert_string_equal(d1.text, want);
      }
    }
  }
  /* 2012R2 host: 3 keys; 2016: 6; 2019: 9; 2022: 12; 2025: 15. */
  assert_int_equal(successes, 3 + 6 + 9 + 12 + 15);
  AvmaDecision d = decide(&dc2022, "YQB4H-NKHHJ-Q6K4R-4VMY6-VCH67", NULL, NULL);
  assert_string_equal(d.text, "guest Windows Server 2025 is newer than host Windows Server 2022");
}

static void test_invalid_host(void **state) {
  (void)state;
  size_t n;
  const AvmaCatalogueEntry *all = avma_catalogue_entries(&n);
  static const AvmaEdition not_dc[] = {AVMA_EDITION_STANDARD, AVMA_EDITION_ESSENTIALS,
                                       AVMA_EDITION_DATACENTER_AZURE, AVMA_EDITION_UNKNOWN};
  for (int h = 0; h < N_VERSIONS; h++) {
    for (size_t k = 0; k < n; k++) {
      const char *key = all[k].key;
      for (size_t e = 0; e < sizeof not_dc / sizeof not_dc[0]; e++) {
        AvmaHostLicence host = {versions[h], not_dc[e], true};
        AvmaDecision d = decide(&host, key, NULL, NULL);
        expect(&d, AVMA_NOTIFY_INVALID_HOST, AVMA_REASON_HOST_NOT_DATACENTER);
        assert_null(d.entry);
      }
      AvmaHostLicence inactive = {versions[h], AVMA_EDITION_DATACENTER, false};
      AvmaDecision d = decide(&inactive, key, NULL, NULL);
      expect(&d, AVMA_NOTIFY_INVALID_HOST, AVMA_REASON_HOST_NOT_ACTIVATED);
      AvmaHostLicence unknown = {AVMA_VERSION_UNKNOWN, AVMA_EDITION_DATACENTER, true};
      d = decide(&unknown, key, NULL, NULL);
      expect(&d, AVMA_NOTIFY_INVALID_HOST, AVMA_REASON_HOST_UNLICENSED);
    }
  }
  AvmaDecision d = decide(NULL, k2019std, NULL, NULL);
  expect(&d, AVMA_NOTIFY_INVALID_HOST, AVMA_REASON_HOST_UNLICENSED);
  AvmaHostLicence never = {0};
  d = decide(&never, k2019std, NULL, NULL);
  expect(&d, AVMA_NOTIFY_INVALID_HOST, AVMA_REASON_HOST_UNLICENSED);
  /* Host state comes first, even for a request that is itself broken. */
  AvmaHostLicence std = {AVMA_VERSION_2025, AVMA_EDITION_STANDARD, true};
  d = decide(&std, NULL, "bogus", NULL);
  expect(&d, AVMA_NOTIFY_INVALID_HOST, AVMA_REASON_HOST_NOT_DATACENTER);
}

static void test_missing_key(void **state) {
  (void)state;
  const char *empty[] = {NULL, "", "   ", "\t\r\n"};
  for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
    AvmaDecision d = decide(&dc2022, empty[i], NULL, NULL);
    expect(&d, AVMA_NOTIFY_INVALID_DATA, AVMA_REASON_MISSING_KEY);
    assert_null(d.entry);
  }
  AvmaDecision d;
  avma_policy_decide(&dc2022, NULL, &d);
  expect(&d, AVMA_NOTIFY_INVALID_DATA, AVMA_REASON_MISSING_KEY);
}

static void test_bad_declared_product(void **state) {
  (void)state;
  AvmaDecision d = decide(&dc2022, k2019std, "2020", NULL);
  expect(&d, AVMA_NOTIFY_INVALID_DATA, AVMA_REASON_BAD_DECLARED_PRODUCT);
  d = decide(&dc2022, k2019std, NULL, "Enterprise");
  expect(&d, AVMA_NOTIFY_INVALID_DATA, AVMA_REASON_BAD_DECLARED_PRODUCT);
  /* Request well-formedness is judged before the key. */
  d = decide(&dc2022, "not a key", "Vista", NULL);
  expect(&d, AVMA_NOTIFY_INVALID_DATA, AVMA_REASON_BAD_DECLARED_PRODUCT);
  /* Empty declarations count as absent. */
  d = decide(&dc2022, k2019std, "", "");
  expect(&d, AVMA_NOTIFY_SUCCESS, AVMA_REASON_OK);
}

static void test_product_mismatch(void **state) {
  (void)state;
  AvmaDecision d = decide(&dc2022, k2019std, "2016", NULL);
  expect(&d, AVMA_NOTIFY_DENIED, AVMA_REASON_PRODUCT_MISMATCH);
  assert_non_null(d.entry);
  d = decide(&dc2022, k2019std, NULL, "Datacenter");
  expect(&d, AVMA_NOTIFY_DENIED, AVMA_REASON_PRODUCT_MISMATCH);
  d = decide(&dc2022, k2019std, "2019", "Essentials");
  expect(&d, AVMA_NOTIFY_DENIED, AVMA_REASON_PRODUCT_MISMATCH);
  d = decide(&dc2022, k2019std, "1709", NULL); /* a 2016 release */
  expect(&d, AVMA_NOTIFY_DENIED, AVMA_REASON_PRODUCT_MISMATCH);
  /* Semi-annual releases share the 2019 keys. */
  const char *same[] = {"1809", "1903", "1909", "2019", "Windows Server 2019"};
  for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
    d = decide(&dc2022, k2019std, same[i], "standard");
    expect(&d, AVMA_NOTIFY_SUCCESS, AVMA_REASON_OK);
  }
  /* Newer than the host is reported before a mismatch. */
  d = decide(&dc2022, "YQB4H-NKHHJ-Q6K4R-4VMY6-VCH67", "2016", NULL);
  expect(&d, AVMA_NOTIFY_DENIED, AVMA_REASON_GUEST_NEWER_THAN_HOST);
  /* Azure Edition keys are their own edition. */
  d = decide(&dc2022, "F7TB6-YKN8Y-FCC6R-KQ484-VMK3J", "2022", "Datacenter");
  expect(&d, AVMA_NOTIFY_DENIED, AVMA_REASON_PRODUCT_MISMATCH);
  d = decide(&dc2022, "F7TB6-YKN8Y-FCC6R-KQ484-VMK3J", "2022", "Datacenter: Azure Edition");
  expect(&d, AVMA_NOTIFY_SUCCESS, AVMA_REASON_OK);
}

static void test_not_avma_key(void **state) {
  (void)state;
  /* The public KMS client key (GVLK) of Windows Server 2019 Datacenter: well formed, one N, but
   * not an AVMA key. */
  const char *gvlk = "WC2BQ-8NRM3-FDDYY-2BFGV-KHKQY";
  assert_true(avma_key_syntax_valid(gvlk));
  AvmaDecision d = decide(&dc2022, gvlk, NULL, NULL);
  expect(&d, AVMA_NOTIFY_DENIED, AVMA_REASON_NOT_AVMA_KEY);
  assert_null(d.entry);
  assert_non_null(strstr(d.text, "KHKQY"));
  d = decide(&dc2022, "bbbbb-bbbbb-bbbbb-bbbbb-bbbbn", NULL, NULL);
  expect(&d, AVMA_NOTIFY_DENIED, AVMA_REASON_NOT_AVMA_KEY);
}

static void test_key_syntax(void **state) {
  (void)state;
  const char *bad[] = {"hello", "TNK62-RXVTB-4P47B-2D623", "TNK62-RXVTB-4P47B-2D623-4GF7A",
                       "TBK62-RXVTB-4P47B-2D623-4GF74", "\xC3\xA9"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    AvmaDecision d = decide(&dc2022, bad[i], NULL, NULL);
    expect(&d, AVMA_NOTIFY_DENIED, AVMA_REASON_KEY_SYNTAX);
  }
  /* A key far too long to normalise is present, so it is a syntax error, not a missing key. */
  char *huge = malloc(5001);
  memset(huge, 'B', 5000);
  huge[5000] = '\0';
  AvmaDecision d = decide(&dc2022, huge, NULL, NULL);
  expect(&d, AVMA_NOTIFY_DENIED, AVMA_REASON_KEY_SYNTAX);
  free(huge);
}

static void test_success_details(void **state) {
  (void)state;
  AvmaDecision d = decide(&dc2022, "tnk62-rxvtb-4p47b - 2d 623-4gf74", "2019", "Standard");
  expect(&d, AVMA_NOTIFY_SUCCESS, AVMA_REASON_OK);
  assert_non_null(d.entry);
  assert_int_equal(d.entry->version, AVMA_VERSION_2019);
  assert_int_equal(d.entry->edition, AVMA_EDITION_STANDARD);
  assert_string_equal(d.text,
                      "guest Windows Server 2019 Standard activated by host Windows Server 2022 "
                      "Datacenter");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_full_matrix),
      cmocka_unit_test(test_invalid_host),
      cmocka_unit_test(test_missing_key),
      cmocka_unit_test(test_bad_declared_product),
      cmocka_unit_test(test_product_mismatch),
      cmocka_unit_test(test_not_avma_key),
      cmocka_unit_test(test_key_syntax),
      cmocka_unit_test(test_success_details),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
