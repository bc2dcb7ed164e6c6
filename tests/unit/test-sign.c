/* Unit tests for common/sign: known answers from the formats' own tools (stock minisign 0.11, Go's
 * golang.org/x/mod/sumdb/note), the secret key file's modes and errors, and tampering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "sign.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A key made by `minisign -G -W` (unencrypted), its seed read from the secret key file, and a
 * signature made by `minisign -S -t "avma kat trusted" -c "avma kat untrusted"` of KAT_MSG. */
static const char KAT_SEED_HEX[] =
    "b8bc563119f847201adbf9657af0a250f276136bdf9027a92188ca0405f364ba";
static const char KAT_PUB[] = "untrusted comment: minisign public key 3A6D8FD43A95B58E\n"
                              "RWSOtZU61I9tOieVO/pXRy4tUP0CRBWkq6HZ35try5oW9tyIVxG0OBIH\n";
static const char KAT_MSG[] = "AVMA minisign known-answer message\n";
static const char KAT_SIG[] =
    "untrusted comment: avma kat untrusted\n"
    "RUSOtZU61I9tOh6hj8RkCq3SfaRiWE6lT1zlqSZRlLcE4g69rmemLU0Yhgw1rfMzrGbVurcPKtKwhDm7xjHYrxBgtKV24l"
    "Jx7"
    "gM=\n"
    "trusted comment: avma kat trusted\n"
    "0CoEb4XaRuhzXG6kI10g5YdUhgUXdXW4POtu0TJILqi2IX/ZH4y0TBeu9XeiOMvjuTkbYQiMjZRSeVqoO8HoAA==\n";

/* Go's note_test.go: the PeterNeumann key (its signer key's base64 is 0x01 || seed) and note. */
static const char GO_VKEY[] = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
static const char GO_SKEY_B64[] = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
static const char GO_TEXT[] = "If you think cryptography is the answer to your problem,\n"
                              "then you don't know what your problem is.\n";
static const char GO_SIG[] = "\xe2\x80\x94 PeterNeumann "
                             "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqf"
                             "qdngotpRZb6KE6RyyBwJnAM=\n";

static AvmaKeyPair *kat_minisign_key(void) {
  guint8 seed[32];
  AvmaPublicKey pub;
  assert_true(avma_hex_decode(KAT_SEED_HEX, seed, sizeof seed));
  assert_true(avma_public_key_parse(KAT_PUB, &pub, NULL));
  AvmaKeyPair *kp = avma_key_pair_from_seed(seed, pub.id);
  assert_true(avma_public_key_equal(&kp->pub, &pub));
  return kp;
}

static AvmaKeyPair *go_key(void) {
  guint8 b[33];
  assert_true(avma_base64_decode_exact(GO_SKEY_B64, b, sizeof b));
  assert_int_equal(b[0], 1);
  return avma_key_pair_from_seed(b + 1, NULL);
}

static char *tmpdir(void) {
  char *d = g_dir_make_tmp("test-sign-XXXXXX", NULL);
  assert_non_null(d);
  return d;
}

static void rm_rf(const char *dir) {
  g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

/* ---- hashes and encodings ---- */

static void sha256_known_answer(void **st) {
  (void)st;
  g_autofree char *abc = avma_sha256_hex("abc", 3);
  assert_string_equal(abc, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  g_autofree char *empty = avma_sha256_hex("", 0);
  assert_string_equal(empty, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void hex_and_base64_are_strict(void **st) {
  (void)st;
  guint8 b[3];
  assert_true(avma_hex_decode("00fFa0", b, 3));
  assert_int_equal(b[1], 0xff);
  assert_false(avma_hex_decode("00ffa", b, 3));
  assert_false(avma_hex_decode("00ffa0aa", b, 3));
  assert_false(avma_hex_decode("00ffzz", b, 3));
  g_autofree char *e = avma_base64_encode((const guint8 *)"foo", 3);
  assert_string_equal(e, "Zm9v");
  assert_true(avma_base64_decode_exact("Zm9v", b, 3));
  assert_memory_equal(b, "foo", 3);
  assert_false(avma_base64_decode_exact("Zm9", b, 3));
  assert_false(avma_base64_decode_exact("Zm9vYg==", b, 3));
  assert_false(avma_base64_decode_exact("Zm*v", b, 3));
  assert_false(avma_base64_decode_exact("Zm9v ", b, 3));
}

/* ---- detached ---- */

static void detached_sign_verify_tamper(void **st) {
  (void)st;
  g_autoptr(AvmaKeyPair) kp = avma_key_pair_generate();
  g_autoptr(AvmaKeyPair) other = avma_key_pair_generate();
  char msg[] = "record 42";
  guint8 sig[AVMA_SIGN_BYTES];
  avma_sign_detached(kp, msg, strlen(msg), sig);
  assert_true(avma_verify_detached(&kp->pub, msg, strlen(msg), sig));
  assert_false(avma_verify_detached(&other->pub, msg, strlen(msg), sig));
  msg[0] ^= 1;
  assert_false(avma_verify_detached(&kp->pub, msg, strlen(msg), sig));
  msg[0] ^= 1;
  sig[10] ^= 1;
  assert_false(avma_verify_detached(&kp->pub, msg, strlen(msg), sig));
}

/* ---- key files ---- */

static void key_file_round_trip_mode_0600(void **st) {
  (void)st;
  g_autofree char *d = tmpdir();
  g_autofree char *p = g_build_filename(d, "host-key.sec", NULL);
  g_autoptr(AvmaKeyPair) kp = avma_key_pair_generate();
  mode_t old = umask(0);
  assert_true(avma_key_pair_save(kp, p, NULL));
  umask(old);
  struct stat sb;
  assert_int_equal(stat(p, &sb), 0);
  assert_int_equal(sb.st_mode & 07777, 0600);
  g_autoptr(GError) err = NULL;
  g_autoptr(AvmaKeyPair) back = avma_key_pair_load(p, &err);
  assert_null(err);
  assert_non_null(back);
  assert_true(avma_public_key_equal(&kp->pub, &back->pub));
  assert_memory_equal(kp->sk, back->sk, AVMA_SIGN_SECRET_BYTES);
  assert_int_equal(back->created, kp->created);
  assert_true(kp->created > 1700000000);
  rm_rf(d);
}

static void key_file_errors(void **st) {
  (void)st;
  g_autofree char *d = tmpdir();
  g_autofree char *p = g_build_filename(d, "host-key.sec", NULL);
  g_autoptr(GError) e1 = NULL;
  assert_null(avma_key_pair_load(p, &e1));
  assert_true(g_error_matches(e1, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_IO));
  assert_non_null(strstr(e1->message, p));

  g_autoptr(AvmaKeyPair) kp = avma_key_pair_generate();
  assert_true(avma_key_pair_save(kp, p, NULL));
  assert_int_equal(chmod(p, 0644), 0);
  g_autoptr(GError) e2 = NULL;
  assert_null(avma_key_pair_load(p, &e2));
  assert_true(g_error_matches(e2, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_PERMISSION));
  assert_non_null(strstr(e2->message, "0644"));
  assert_non_null(strstr(e2->message, "chmod 600"));

  assert_int_equal(chmod(p, 0600), 0);
  g_autofree char *text = NULL;
  assert_true(g_file_get_contents(p, &text, NULL, NULL));
  /* Another key's public half: the file disagrees with itself. */
  g_autoptr(AvmaKeyPair) other = avma_key_pair_generate();
  g_autofree char *pk = avma_public_key_base64(&kp->pub);
  g_autofree char *opk = avma_public_key_base64(&other->pub);
  char *at = strstr(text, pk);
  assert_non_null(at);
  memcpy(at, opk, strlen(opk));
  assert_true(g_file_set_contents(p, text, -1, NULL));
  assert_int_equal(chmod(p, 0600), 0);
  g_autoptr(GError) e3 = NULL;
  assert_null(avma_key_pair_load(p, &e3));
  assert_true(g_error_matches(e3, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_MALFORMED));

  assert_true(g_file_set_contents(p, "garbage\x01\x02 not a key\n", -1, NULL));
  assert_int_equal(chmod(p, 0600), 0);
  g_autoptr(GError) e4 = NULL;
  assert_null(avma_key_pair_load(p, &e4));
  assert_true(g_error_matches(e4, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_MALFORMED));
  assert_non_null(strstr(e4->message, p));

  /* A symlink is not followed to a key elsewhere. */
  g_autofree char *l = g_build_filename(d, "link.sec", NULL);
  assert_int_equal(symlink(p, l), 0);
  g_autoptr(GError) e5 = NULL;
  assert_null(avma_key_pair_load(l, &e5));
  assert_true(g_error_matches(e5, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_IO));
  rm_rf(d);
}

/* ---- public key forms ---- */

static void public_key_forms(void **st) {
  (void)st;
  g_autoptr(AvmaKeyPair) kp = kat_minisign_key();
  g_autofree char *file = avma_public_key_minisign_file(&kp->pub);
  assert_string_equal(file, KAT_PUB);
  g_autofree char *id = avma_key_id_hex(kp->pub.id);
  assert_string_equal(id, "3A6D8FD43A95B58E");
  g_autofree char *line = avma_public_key_minisign_line(&kp->pub);
  AvmaPublicKey p;
  assert_true(avma_public_key_parse(line, &p, NULL));
  assert_true(avma_public_key_equal(&p, &kp->pub));
  /* A bare key carries no id: it gets the derived one. */
  g_autofree char *bare = avma_public_key_base64(&kp->pub);
  g_autofree char *spaced = g_strdup_printf("  %s\n", bare);
  assert_true(avma_public_key_parse(spaced, &p, NULL));
  assert_memory_equal(p.pk, kp->pub.pk, 32);
  g_autoptr(AvmaKeyPair) gen = avma_key_pair_generate();
  g_autofree char *gbare = avma_public_key_base64(&gen->pub);
  assert_true(avma_public_key_parse(gbare, &p, NULL));
  assert_true(avma_public_key_equal(&p, &gen->pub));
  assert_true(avma_public_key_parse(GO_VKEY, &p, NULL));
  g_autoptr(GError) err = NULL;
  assert_false(avma_public_key_parse("untrusted comment: x\nnot base64!\n", &p, &err));
  assert_true(g_error_matches(err, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_MALFORMED));
}

/* ---- minisign ---- */

static void minisign_known_answer(void **st) {
  (void)st;
  g_autoptr(AvmaKeyPair) kp = kat_minisign_key();
  g_autofree char *sig = avma_minisig_sign(kp, KAT_MSG, strlen(KAT_MSG), "avma kat trusted",
                                           "avma kat untrusted", NULL);
  /* Ed25519 is deterministic: byte for byte what stock minisign wrote. */
  assert_string_equal(sig, KAT_SIG);
  g_autofree char *tc = NULL;
  g_autoptr(GError) err = NULL;
  assert_true(avma_minisig_verify(&kp->pub, KAT_MSG, strlen(KAT_MSG), KAT_SIG, &tc, &err));
  assert_string_equal(tc, "avma kat trusted");
}

static void minisign_tamper(void **st) {
  (void)st;
  g_autoptr(AvmaKeyPair) kp = avma_key_pair_generate();
  g_autoptr(AvmaKeyPair) other = avma_key_pair_generate();
  const char *data = "report: 3 VMs, 2 activated\n";
  g_autofree char *sig = avma_minisig_sign(kp, data, strlen(data), "report 2026-11", NULL, NULL);
  assert_non_null(sig);
  assert_true(avma_minisig_verify(&kp->pub, data, strlen(data), sig, NULL, NULL));

  g_autoptr(GError) e1 = NULL;
  assert_false(
      avma_minisig_verify(&kp->pub, "report: 3 VMs, 3 activated\n", strlen(data), sig, NULL, &e1));
  assert_true(g_error_matches(e1, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_BAD_SIGNATURE));

  g_autoptr(GError) e2 = NULL;
  assert_false(avma_minisig_verify(&other->pub, data, strlen(data), sig, NULL, &e2));
  assert_true(g_error_matches(e2, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_UNKNOWN_KEY));

  /* Same id, other key: the signature itself fails. */
  AvmaPublicKey forged = other->pub;
  memcpy(forged.id, kp->pub.id, sizeof forged.id);
  g_autoptr(GError) e3 = NULL;
  assert_false(avma_minisig_verify(&forged, data, strlen(data), sig, NULL, &e3));
  assert_true(g_error_matches(e3, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_BAD_SIGNATURE));

  /* An altered trusted comment fails the global signature. */
  g_autofree char *tc = g_strdup(sig);
  char *at = strstr(tc, "2026-11");
  at[6] = '2';
  g_autoptr(GError) e4 = NULL;
  assert_false(avma_minisig_verify(&kp->pub, data, strlen(data), tc, NULL, &e4));
  assert_true(g_error_matches(e4, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_BAD_SIGNATURE));
  assert_non_null(strstr(e4->message, "trusted comment"));

  /* A flipped byte of the signature line. */
  g_autofree char *fl = g_strdup(sig);
  char *l2 = strchr(fl, '\n') + 1;
  l2[20] = l2[20] == 'A' ? 'B' : 'A';
  g_autoptr(GError) e5 = NULL;
  assert_false(avma_minisig_verify(&kp->pub, data, strlen(data), fl, NULL, &e5));
  assert_true(e5->domain == AVMA_SIGN_ERROR);

  g_autoptr(GError) e6 = NULL;
  assert_false(avma_minisig_verify(&kp->pub, data, strlen(data), "garbage", NULL, &e6));
  assert_true(g_error_matches(e6, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_MALFORMED));

  g_autoptr(GError) e7 = NULL;
  assert_null(avma_minisig_sign(kp, data, strlen(data), "two\nlines", NULL, &e7));
  assert_true(g_error_matches(e7, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_MALFORMED));
}

/* Our .minisig passes the stock tool (Debian's minisign, in DEPS_PKGS), and an altered file fails
 * it. */
static void minisign_stock_tool_accepts(void **st) {
  (void)st;
  g_autofree char *tool = g_find_program_in_path("minisign");
  assert_non_null(tool);
  g_autofree char *d = tmpdir();
  g_autofree char *data = g_build_filename(d, "report.txt", NULL);
  g_autofree char *sig = g_build_filename(d, "report.txt.minisig", NULL);
  g_autofree char *pub = g_build_filename(d, "host-key.pub", NULL);
  g_autoptr(AvmaKeyPair) kp = avma_key_pair_generate();
  g_autofree char *pubtext = avma_public_key_minisign_file(&kp->pub);
  assert_true(g_file_set_contents(pub, pubtext, -1, NULL));
  assert_true(g_file_set_contents(data, "month,vm,hours\n2026-11,web1,720\n", -1, NULL));
  assert_true(avma_minisig_sign_file(kp, data, sig, "avma report 2026-11", NULL));
  g_autofree char *ok = g_strdup_printf("minisign -q -Vm '%s' -p '%s'", data, pub);
  assert_int_equal(system(ok), 0);
  assert_true(avma_minisig_verify_file(&kp->pub, data, sig, NULL, NULL));
  assert_true(g_file_set_contents(data, "month,vm,hours\n2026-11,web1,721\n", -1, NULL));
  assert_int_not_equal(system(ok), 0);
  g_autoptr(GError) err = NULL;
  assert_false(avma_minisig_verify_file(&kp->pub, data, sig, NULL, &err));
  assert_non_null(strstr(err->message, sig));
  rm_rf(d);
}

/* ---- signed notes ---- */

static void note_known_answer(void **st) {
  (void)st;
  g_autoptr(AvmaKeyPair) kp = go_key();
  g_autofree char *vkey = avma_note_verifier_key("PeterNeumann", &kp->pub);
  assert_string_equal(vkey, GO_VKEY);
  assert_int_equal(avma_note_key_hash("PeterNeumann", &kp->pub), 0xc74f20a3);
  g_autofree char *note = avma_note_sign(GO_TEXT, "PeterNeumann", kp, NULL);
  g_autofree char *want = g_strconcat(GO_TEXT, "\n", GO_SIG, NULL);
  assert_string_equal(note, want);

  g_autofree char *name = NULL;
  AvmaNoteKey k = {.name = "PeterNeumann"};
  assert_true(avma_note_parse_verifier_key(GO_VKEY, &name, &k.pub, NULL));
  assert_string_equal(name, "PeterNeumann");
  g_autofree char *text = NULL, *signer = NULL;
  g_autoptr(GError) err = NULL;
  assert_true(avma_note_open(want, &k, 1, &text, &signer, &err));
  assert_string_equal(text, GO_TEXT);
  assert_string_equal(signer, "PeterNeumann");
  /* A verifier key with a wrong hash is refused. */
  g_autofree char *n2 = NULL;
  AvmaPublicKey p;
  assert_false(avma_note_parse_verifier_key(
      "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", &n2, &p, NULL));
}

static void note_tamper_and_foreign_keys(void **st) {
  (void)st;
  g_autoptr(AvmaKeyPair) host = avma_key_pair_generate();
  g_autoptr(AvmaKeyPair) other = avma_key_pair_generate();
  g_autoptr(AvmaKeyPair) root = avma_key_pair_generate();
  const char *text = "avma checkpoint\n42\nhead 0011\n";
  g_autofree char *note = avma_note_sign(text, "host-a", host, NULL);
  AvmaNoteKey keys[] = {{.name = "host-a", .pub = host->pub}};

  /* A flipped byte of the body. */
  g_autofree char *body = g_strdup(note);
  body[16] = '3';
  g_autoptr(GError) e1 = NULL;
  assert_false(avma_note_open(body, keys, 1, NULL, NULL, &e1));
  assert_true(g_error_matches(e1, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_BAD_SIGNATURE));
  assert_non_null(strstr(e1->message, "host-a+"));

  /* A flipped character of the signature (kept valid base64, same key hash). */
  g_autofree char *sg = g_strdup(note);
  char *last = sg + strlen(sg) - 10;
  *last = *last == 'A' ? 'B' : 'A';
  g_autoptr(GError) e2 = NULL;
  assert_false(avma_note_open(sg, keys, 1, NULL, NULL, &e2));
  assert_true(g_error_matches(e2, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_BAD_SIGNATURE));

  /* Signed by a foreign key under the same name: named, refused. */
  g_autofree char *foreign = avma_note_sign(text, "host-a", other, NULL);
  g_autoptr(GError) e3 = NULL;
  assert_false(avma_note_open(foreign, keys, 1, NULL, NULL, &e3));
  assert_true(g_error_matches(e3, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_UNKNOWN_KEY));
  assert_non_null(strstr(e3->message, "signed by host-a+"));

  /* A cosigned note opens with either key; the verified signer is named. */
  g_autofree char *co = avma_note_add_signature(note, "root", root, NULL);
  AvmaNoteKey rk[] = {{.name = "root", .pub = root->pub}};
  g_autofree char *signer = NULL, *got = NULL;
  assert_true(avma_note_open(co, rk, 1, &got, &signer, NULL));
  assert_string_equal(signer, "root");
  assert_string_equal(got, text);
  assert_true(avma_note_open(co, keys, 1, NULL, NULL, NULL));

  /* A key given without a name matches its signature under any name, and only its own. */
  AvmaNoteKey any[] = {{.name = NULL, .pub = root->pub}};
  g_autofree char *anyname = NULL;
  assert_true(avma_note_open(co, any, 1, NULL, &anyname, NULL));
  assert_string_equal(anyname, "root");
  g_autoptr(GError) e7 = NULL;
  assert_false(avma_note_open(note, any, 1, NULL, NULL, &e7));
  assert_true(g_error_matches(e7, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_UNKNOWN_KEY));

  /* Malformed notes and texts. */
  const char *bad[] = {"no signature block\n", "text\n\nnot a signature line\n",
                       "text\n\n\xe2\x80\x94 host-a !!!!\n", "text\n\n"};
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) e = NULL;
    assert_false(avma_note_open(bad[i], keys, 1, NULL, NULL, &e));
    assert_true(g_error_matches(e, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_MALFORMED));
  }
  g_autoptr(GError) e4 = NULL;
  assert_null(avma_note_sign("no newline", "host-a", host, &e4));
  assert_true(g_error_matches(e4, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_MALFORMED));
  g_autoptr(GError) e5 = NULL;
  assert_null(avma_note_sign("ok\n", "bad name", host, &e5));
  assert_true(g_error_matches(e5, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_MALFORMED));
  g_autoptr(GError) e6 = NULL;
  assert_null(avma_note_sign("tab\there\n", "host-a", host, &e6));
  assert_true(g_error_matches(e6, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_MALFORMED));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sha256_known_answer),
      cmocka_unit_test(hex_and_base64_are_strict),
      cmocka_unit_test(detached_sign_verify_tamper),
      cmocka_unit_test(key_file_round_trip_mode_0600),
      cmocka_unit_test(key_file_errors),
      cmocka_unit_test(public_key_forms),
      cmocka_unit_test(minisign_known_answer),
      cmocka_unit_test(minisign_tamper),
      cmocka_unit_test(minisign_stock_tool_accepts),
      cmocka_unit_test(note_known_answer),
      cmocka_unit_test(note_tamper_and_foreign_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
