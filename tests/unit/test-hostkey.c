/* Unit tests for host-agent/hostkey: first start creates the key, history without a key is an
 * error, a running daemon's view follows a rotation and keeps its key when the file is broken,
 * certificates are installed only for this host's key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "hostkey.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

static char *tmpdir(void) {
  char *d = g_dir_make_tmp("test-hostkey-XXXXXX", NULL);
  assert_non_null(d);
  return d;
}

static void rm_rf(const char *dir) {
  g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

static char *path_in(const char *d, const char *name) {
  return g_build_filename(d, name, NULL);
}

static void first_start_creates_then_loads(void **st) {
  (void)st;
  g_autofree char *d = tmpdir();
  g_autoptr(GError) err = NULL;
  g_autoptr(AvmaKeyPair) kp = avma_hostkey_open(d, &err);
  assert_non_null(kp);
  g_autofree char *sec = path_in(d, AVMA_HOSTKEY_SECRET);
  struct stat sb;
  assert_int_equal(stat(sec, &sb), 0);
  assert_int_equal(sb.st_mode & 07777, 0600);
  AvmaPublicKey pub;
  assert_true(avma_hostkey_load_public(d, &pub, NULL));
  assert_true(avma_public_key_equal(&pub, &kp->pub));
  /* Second start: the same key; a damaged public file is rewritten from the secret one. */
  g_autofree char *pubp = path_in(d, AVMA_HOSTKEY_PUBLIC);
  assert_true(g_file_set_contents(pubp, "junk\n", -1, NULL));
  g_autoptr(AvmaKeyPair) again = avma_hostkey_open(d, NULL);
  assert_non_null(again);
  assert_true(avma_public_key_equal(&again->pub, &kp->pub));
  assert_true(avma_hostkey_load_public(d, &pub, NULL));
  assert_true(avma_public_key_equal(&pub, &kp->pub));
  rm_rf(d);
}

static void missing_key_with_history_is_an_error(void **st) {
  (void)st;
  g_autofree char *d = tmpdir();
  g_autofree char *events = path_in(d, "events.jsonl");
  /* An empty log is no history. */
  assert_true(g_file_set_contents(events, "", 0, NULL));
  g_autoptr(AvmaKeyPair) kp = avma_hostkey_open(d, NULL);
  assert_non_null(kp);
  g_autofree char *sec = path_in(d, AVMA_HOSTKEY_SECRET);
  assert_int_equal(g_unlink(sec), 0);
  /* host-key.pub remains: the key was lost. */
  g_autoptr(GError) e1 = NULL;
  assert_null(avma_hostkey_open(d, &e1));
  assert_true(g_error_matches(e1, AVMA_HOSTKEY_ERROR, AVMA_HOSTKEY_ERROR_MISSING));
  assert_false(g_file_test(sec, G_FILE_TEST_EXISTS));
  g_autofree char *pubp = path_in(d, AVMA_HOSTKEY_PUBLIC);
  assert_int_equal(g_unlink(pubp), 0);
  /* Records from before signing (unchained): nothing was ever signed, a first key is made. */
  assert_true(g_file_set_contents(events, "{\"event_id\":12310}\n", -1, NULL));
  g_autoptr(AvmaKeyPair) first = avma_hostkey_open(d, NULL);
  assert_non_null(first);
  assert_int_equal(g_unlink(sec), 0);
  assert_int_equal(g_unlink(pubp), 0);
  /* A chained record: signed history, whose key is missing. */
  assert_true(g_file_set_contents(
      events, "{\"event_id\":12310}\n{\"event_id\":12310,\"seq\":1,\"prev\":\"x\"}\n", -1, NULL));
  g_autoptr(GError) e2 = NULL;
  assert_null(avma_hostkey_open(d, &e2));
  assert_true(g_error_matches(e2, AVMA_HOSTKEY_ERROR, AVMA_HOSTKEY_ERROR_MISSING));
  assert_non_null(strstr(e2->message, "events.jsonl"));
  assert_non_null(strstr(e2->message, "avma-host key create"));
  /* The operator's explicit choice. */
  g_autoptr(AvmaKeyPair) made = avma_hostkey_create(d, NULL);
  assert_non_null(made);
  g_autoptr(GError) e3 = NULL;
  assert_null(avma_hostkey_create(d, &e3));
  g_autoptr(AvmaKeyPair) opened = avma_hostkey_open(d, NULL);
  assert_true(avma_public_key_equal(&opened->pub, &made->pub));
  rm_rf(d);
}

static void unusable_key_is_an_error(void **st) {
  (void)st;
  g_autofree char *d = tmpdir();
  g_autoptr(AvmaKeyPair) kp = avma_hostkey_open(d, NULL);
  g_autofree char *sec = path_in(d, AVMA_HOSTKEY_SECRET);
  assert_int_equal(chmod(sec, 0640), 0);
  g_autoptr(GError) e1 = NULL;
  assert_null(avma_hostkey_open(d, &e1));
  assert_true(g_error_matches(e1, AVMA_HOSTKEY_ERROR, AVMA_HOSTKEY_ERROR_UNUSABLE));
  assert_non_null(strstr(e1->message, sec));
  assert_true(g_file_set_contents(sec, "[avma-secret-key]\nalgorithm=RSA\n", -1, NULL));
  assert_int_equal(chmod(sec, 0600), 0);
  g_autoptr(GError) e2 = NULL;
  assert_null(avma_hostkey_open(d, &e2));
  assert_true(g_error_matches(e2, AVMA_HOSTKEY_ERROR, AVMA_HOSTKEY_ERROR_UNUSABLE));
  assert_non_null(strstr(e2->message, "restore it from a backup"));
  rm_rf(d);
}

static void daemon_view_follows_rotation(void **st) {
  (void)st;
  g_autofree char *d = tmpdir();
  AvmaKeyPair *kp = avma_hostkey_open(d, NULL);
  AvmaPublicKey first = kp->pub;
  g_autoptr(AvmaHostKey) hk = avma_hostkey_new(d, kp);
  gboolean rotated = TRUE;
  assert_true(avma_public_key_equal(&avma_hostkey_get(hk, &rotated)->pub, &first));
  assert_false(rotated);
  assert_null(avma_hostkey_last_rotation(hk));

  g_autofree char *statement = NULL;
  g_autoptr(AvmaKeyPair) fresh = avma_hostkey_rotate(d, &statement, NULL);
  assert_non_null(fresh);
  const AvmaKeyPair *now = avma_hostkey_get(hk, &rotated);
  assert_true(rotated);
  assert_true(avma_public_key_equal(&now->pub, &fresh->pub));
  assert_string_equal(avma_hostkey_last_rotation(hk), statement);
  AvmaKeyRotation r;
  assert_true(avma_keycert_verify_rotation(statement, &first, &r, NULL));
  assert_true(avma_public_key_equal(&r.new_key, &fresh->pub));
  g_autofree char *old_id = avma_hostkey_id(&first);
  g_autofree char *old_name = g_strdup_printf("%s.pub", old_id);
  g_autofree char *archived = g_build_filename(d, AVMA_HOSTKEY_DIR, old_name, NULL);
  AvmaPublicKey back;
  assert_true(avma_public_key_load(archived, &back, NULL));
  assert_true(avma_public_key_equal(&back, &first));
  avma_hostkey_get(hk, &rotated);
  assert_false(rotated);

  /* A broken replacement: the daemon keeps signing with the key it has. */
  g_autofree char *sec = path_in(d, AVMA_HOSTKEY_SECRET);
  g_autofree char *tmp = path_in(d, "broken");
  assert_true(g_file_set_contents(tmp, "garbage\n", -1, NULL));
  assert_int_equal(chmod(tmp, 0600), 0);
  assert_int_equal(g_rename(tmp, sec), 0);
  now = avma_hostkey_get(hk, &rotated);
  assert_false(rotated);
  assert_true(avma_public_key_equal(&now->pub, &fresh->pub));
  rm_rf(d);
}

static void certificate_only_for_this_key(void **st) {
  (void)st;
  g_autofree char *d = tmpdir();
  g_autoptr(AvmaKeyPair) kp = avma_hostkey_open(d, NULL);
  g_autoptr(AvmaKeyPair) root = avma_key_pair_generate();
  g_autoptr(AvmaKeyPair) other = avma_key_pair_generate();
  AvmaHostCert c = {0};
  assert_false(avma_hostkey_cert(d, &c, NULL));
  g_autofree char *foreign = avma_keycert_certify(root, &other->pub, "kvm-08", 1, NULL);
  g_autoptr(GError) e1 = NULL;
  assert_false(avma_hostkey_install_cert(d, foreign, &root->pub, NULL, &e1));
  assert_true(g_error_matches(e1, AVMA_HOSTKEY_ERROR, AVMA_HOSTKEY_ERROR_CERT));
  g_autofree char *mine = avma_keycert_certify(root, &kp->pub, "kvm-07", 1, NULL);
  g_autoptr(GError) e2 = NULL;
  assert_false(avma_hostkey_install_cert(d, mine, &other->pub, NULL, &e2));
  assert_true(g_error_matches(e2, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_UNKNOWN_KEY));
  assert_true(avma_hostkey_install_cert(d, mine, &root->pub, NULL, NULL));
  assert_true(avma_hostkey_cert(d, &c, NULL));
  assert_string_equal(c.host, "kvm-07");
  avma_host_cert_clear(&c);
  /* Rotation retires it. */
  g_autoptr(AvmaKeyPair) fresh = avma_hostkey_rotate(d, NULL, NULL);
  assert_non_null(fresh);
  assert_false(avma_hostkey_cert(d, &c, NULL));
  rm_rf(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(first_start_creates_then_loads),
      cmocka_unit_test(missing_key_with_history_is_an_error),
      cmocka_unit_test(unusable_key_is_an_error),
      cmocka_unit_test(daemon_view_follows_rotation),
      cmocka_unit_test(certificate_only_for_this_key),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
