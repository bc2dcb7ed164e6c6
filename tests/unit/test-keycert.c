/* Unit tests for common/keycert: certificates and rotation statements verify, and every altered,
 * foreign or swapped one is refused with its reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "keycert.h"

#include <string.h>

static void certificate_round_trip(void **st) {
  (void)st;
  g_autoptr(AvmaKeyPair) root = avma_key_pair_generate();
  g_autoptr(AvmaKeyPair) host = avma_key_pair_generate();
  g_autofree char *cert = avma_keycert_certify(root, &host->pub, "kvm-07", 1764720000, NULL);
  assert_non_null(cert);
  assert_true(g_str_has_prefix(cert, "avma-host-certificate v1\nhost kvm-07\nkey-id "));
  AvmaHostCert c = {0};
  g_autoptr(GError) err = NULL;
  assert_true(avma_keycert_verify(cert, &root->pub, &c, &err));
  assert_string_equal(c.host, "kvm-07");
  assert_true(avma_public_key_equal(&c.pub, &host->pub));
  assert_int_equal(c.valid_from, 1764720000);
  g_autofree char *rid = avma_key_id_hex(root->pub.id);
  assert_string_equal(c.root_id, rid);
  avma_host_cert_clear(&c);
  assert_true(avma_keycert_parse(cert, &c, NULL));
  assert_string_equal(c.host, "kvm-07");
  avma_host_cert_clear(&c);
  g_autoptr(GError) e2 = NULL;
  assert_null(avma_keycert_certify(root, &host->pub, "two words", 1, &e2));
}

static void certificate_tampering(void **st) {
  (void)st;
  g_autoptr(AvmaKeyPair) root = avma_key_pair_generate();
  g_autoptr(AvmaKeyPair) other_root = avma_key_pair_generate();
  g_autoptr(AvmaKeyPair) host = avma_key_pair_generate();
  g_autoptr(AvmaKeyPair) evil = avma_key_pair_generate();
  g_autofree char *cert = avma_keycert_certify(root, &host->pub, "kvm-07", 1764720000, NULL);
  AvmaHostCert c = {0};

  /* The host key swapped for another: the root's signature fails. */
  g_autofree char *hpk = avma_public_key_base64(&host->pub);
  g_autofree char *epk = avma_public_key_base64(&evil->pub);
  g_autofree char *swapped = g_strdup(cert);
  memcpy(strstr(swapped, hpk), epk, strlen(epk));
  g_autoptr(GError) e1 = NULL;
  assert_false(avma_keycert_verify(swapped, &root->pub, &c, &e1));
  assert_true(g_error_matches(e1, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_BAD_SIGNATURE));

  /* Another root: not this provider's certificate. */
  g_autoptr(GError) e2 = NULL;
  assert_false(avma_keycert_verify(cert, &other_root->pub, &c, &e2));
  assert_true(g_error_matches(e2, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_UNKNOWN_KEY));

  /* Self-signed by the host key under a root name: refused. */
  g_autofree char *self = avma_keycert_certify(host, &host->pub, "kvm-07", 1764720000, NULL);
  g_autoptr(GError) e3 = NULL;
  assert_false(avma_keycert_verify(self, &root->pub, &c, &e3));
  assert_true(g_error_matches(e3, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_UNKNOWN_KEY));

  /* A signed note that is not a certificate. */
  g_autofree char *name = avma_keycert_note_name(AVMA_KEYCERT_ROOT, &root->pub);
  g_autofree char *other = avma_note_sign("hello\n", name, root, NULL);
  g_autoptr(GError) e4 = NULL;
  assert_false(avma_keycert_verify(other, &root->pub, &c, &e4));
  assert_true(g_error_matches(e4, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_MALFORMED));
}

static void rotation_statement(void **st) {
  (void)st;
  g_autoptr(AvmaKeyPair) old_key = avma_key_pair_generate();
  g_autoptr(AvmaKeyPair) new_key = avma_key_pair_generate();
  g_autoptr(AvmaKeyPair) evil = avma_key_pair_generate();
  g_autofree char *s = avma_keycert_rotation(old_key, new_key, 1764720000);
  AvmaKeyRotation r;
  g_autoptr(GError) err = NULL;
  assert_true(avma_keycert_verify_rotation(s, &old_key->pub, &r, &err));
  assert_true(avma_public_key_equal(&r.new_key, &new_key->pub));
  assert_true(avma_public_key_equal(&r.old_key, &old_key->pub));
  assert_int_equal(r.time, 1764720000);

  /* Not signed by the key it claims to rotate from. */
  g_autoptr(GError) e1 = NULL;
  assert_false(avma_keycert_verify_rotation(s, &evil->pub, &r, &e1));
  assert_true(g_error_matches(e1, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_UNKNOWN_KEY));

  /* A successor swapped in the body: the old key's signature fails. */
  g_autofree char *npk = avma_public_key_base64(&new_key->pub);
  g_autofree char *epk = avma_public_key_base64(&evil->pub);
  g_autofree char *swapped = g_strdup(s);
  memcpy(strstr(swapped, npk), epk, strlen(epk));
  g_autoptr(GError) e2 = NULL;
  assert_false(avma_keycert_verify_rotation(swapped, &old_key->pub, &r, &e2));
  assert_true(g_error_matches(e2, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_BAD_SIGNATURE));

  /* Without the new key's cosignature (the old key alone could name anyone's key). */
  g_autofree char *cut = g_strdup(s);
  char *second = strstr(strstr(cut, "\n\n") + 3, "\n\xe2\x80\x94");
  second[1] = '\0';
  g_autoptr(GError) e3 = NULL;
  assert_false(avma_keycert_verify_rotation(cut, &old_key->pub, &r, &e3));
  assert_true(g_error_matches(e3, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_UNKNOWN_KEY));
  assert_non_null(strstr(e3->message, "cosignature"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(certificate_round_trip),
      cmocka_unit_test(certificate_tampering),
      cmocka_unit_test(rotation_statement),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
