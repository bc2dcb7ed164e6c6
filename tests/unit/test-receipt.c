/* Activation receipts (issue #18 item 4): the text, its bound, its signature, and the host's
 * ACTIVATE_REPLY carrying one for the record it just wrote. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <glib/gstdio.h>
#include <string.h>

#include "chainlog.h"
#include "host-config.h"
#include "host.h"
#include "hostkey.h"
#include "licence.h"
#include "receipt.h"
#include "receipts.h"
#include "schema.h"

static AvmaKeyPair *key_of(guint8 b) {
  guint8 seed[AVMA_SIGN_SEED_BYTES];
  memset(seed, b, sizeof seed);
  return avma_key_pair_from_seed(seed, NULL);
}

/* A receipt with every field longer than its bound and full of what a hostile VM name may hold. */
static void fill_maximal(AvmaReceipt *r, GString *big) {
  g_string_truncate(big, 0);
  for (int i = 0; i < 400; i++)
    g_string_append(big, i % 7 ? "\xc3\xa9" : "\n\t\x1b[31m");
  memset(r, 0, sizeof *r);
  r->host_id = r->licence = r->vm_id = r->vm_name = r->product = r->key_last5 = big->str;
  r->notification = r->granted_until = r->decided_at = big->str;
  r->seq = G_MAXINT64;
  memset(r->head, 'f', AVMA_RECEIPT_HEAD_HEX - 1);
}

static void test_bound(void **state) {
  (void)state;
  g_autoptr(AvmaKeyPair) kp = key_of(1);
  g_autoptr(GString) big = g_string_new(NULL);
  AvmaReceipt r;
  fill_maximal(&r, big);
  g_autoptr(GError) err = NULL;
  g_autofree char *note = avma_receipt_sign(&r, kp, &err);
  assert_non_null(note);
  const AvmaKeyDef *d = &avma_schema_keys[AVMA_KEY_AvmaReceipt];
  assert_true(strlen(note) <= d->max_len);
  assert_true(d->max_len <= 2048);
  /* The largest receipt passes the schema as the host writes it, so a guest takes it. */
  AvmaRecord rec = avma_schema_record(AVMA_KEY_AvmaReceipt, note);
  assert_int_equal(avma_schema_validate(&rec, AVMA_WRITER_HOST), AVMA_SCHEMA_OK);
  AvmaReceipt back;
  assert_true(avma_receipt_open(note, &kp->pub, &back, &err));
  /* Cut to 255 bytes, never inside a character (the filler has 2-byte ones). */
  assert_in_range(strlen(back.vm_name), 254, 255);
  assert_true(g_utf8_validate(back.vm_name, -1, NULL));
  assert_int_equal(strlen(back.key_last5), 5);
  assert_null(strchr(back.vm_name, '\x1b'));
  assert_int_equal(back.seq, G_MAXINT64);
  avma_receipt_clear(&back);
}

static void test_round_trip_and_tampering(void **state) {
  (void)state;
  g_autoptr(AvmaKeyPair) kp = key_of(2);
  g_autoptr(AvmaKeyPair) other = key_of(3);
  AvmaReceipt r = {.host_id = "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
                   .licence = "2022 Datacenter",
                   .vm_id = "",
                   .vm_name = "web 01",
                   .product = "2022 Standard",
                   .key_last5 = "DV9BG",
                   .notification = "AVMA Success",
                   .granted_until = "2026-12-10T10:00:00Z",
                   .decided_at = "2026-12-03T10:00:00Z",
                   .seq = 42};
  memset(r.head, 'a', AVMA_RECEIPT_HEAD_HEX - 1);
  g_autofree char *note = avma_receipt_sign(&r, kp, NULL);
  assert_non_null(note);
  AvmaReceipt back;
  g_autoptr(GError) err = NULL;
  assert_true(avma_receipt_open(note, &kp->pub, &back, &err));
  assert_string_equal(back.vm_name, "web 01");
  assert_string_equal(back.vm_id, "");
  assert_string_equal(back.product, "2022 Standard");
  assert_string_equal(back.granted_until, "2026-12-10T10:00:00Z");
  assert_int_equal(back.seq, 42);
  assert_string_equal(back.head, r.head);
  avma_receipt_clear(&back);
  /* Altered: another record number. */
  g_autofree char *forged = g_strdup(note);
  char *seq = strstr(forged, "seq 42");
  seq[5] = '3';
  assert_false(avma_receipt_open(forged, &kp->pub, &back, &err));
  assert_true(g_error_matches(err, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_BAD_SIGNATURE));
  g_clear_error(&err);
  /* Another host's key. */
  assert_false(avma_receipt_open(note, &other->pub, &back, &err));
  assert_true(g_error_matches(err, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_UNKNOWN_KEY));
  g_clear_error(&err);
  /* Signed by the right key but not a receipt (a checkpoint, say). */
  g_autofree char *name = avma_keycert_note_name(AVMA_KEYCERT_HOST, &kp->pub);
  g_autofree char *cp = avma_note_sign("avma-checkpoint v1\nseq 1\n", name, kp, NULL);
  assert_false(avma_receipt_open(cp, &kp->pub, &back, &err));
  assert_true(g_error_matches(err, G_IO_ERROR, G_IO_ERROR_INVALID_DATA));
}

static void rm_dir(const char *dir) {
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  const char *n;
  while (d && (n = g_dir_read_name(d))) {
    g_autofree char *p = g_build_filename(dir, n, NULL);
    if (g_file_test(p, G_FILE_TEST_IS_DIR))
      rm_dir(p);
    else
      g_unlink(p);
  }
  g_rmdir(dir);
}

static char *reply_value(AvmaRecordList *r, AvmaKeyId id) {
  for (guint i = 0; i < avma_record_list_len(r); i++) {
    AvmaRecord rec = avma_record_list_get(r, i);
    if (rec.key_len == strlen(avma_schema_keys[id].name) &&
        !memcmp(rec.key, avma_schema_keys[id].name, rec.key_len))
      return g_strndup(rec.value, rec.value_len);
  }
  return NULL;
}

static char *last_line(const char *path) {
  g_autofree char *all = NULL;
  assert_true(g_file_get_contents(path, &all, NULL, NULL));
  g_auto(GStrv) lines = g_strsplit(g_strchomp(all), "\n", -1);
  return g_strdup(lines[g_strv_length(lines) - 1]);
}

/* The host signs each reply's receipt for the record just written: the receipt verifies with the
 * host key sent beside it and names that record's number and line hash. */
static void test_host_reply(void **state) {
  (void)state;
  g_autofree char *dir = g_dir_make_tmp("avma-test-receipt-XXXXXX", NULL);
  g_autofree char *conf = g_build_filename(dir, "host.conf", NULL);
  g_autofree char *text = g_strdup_printf("[host]\nstate_dir=%s\njournal=no\n", dir);
  assert_true(g_file_set_contents(conf, text, -1, NULL));
  AvmaHostConfig *config = avma_host_config_load(conf, NULL, NULL, NULL);
  assert_non_null(config);
  AvmaLicence l = {
      .version = AVMA_VERSION_2022, .edition = AVMA_EDITION_DATACENTER, .activated = TRUE};
  assert_true(avma_licence_save(dir, &l, AVMA_JOURNAL_NO, NULL));
  AvmaKeyPair *kp = avma_hostkey_open(dir, NULL);
  assert_non_null(kp);
  AvmaPublicKey pub = kp->pub;
  AvmaHostKey *hk = avma_hostkey_new(dir, kp);
  AvmaHost *host = avma_host_new(config, NULL);
  assert_non_null(host);
  avma_host_set_signer(host, hk);
  AvmaVm *vm = avma_host_vm(host, "web\n01", "3F2504E0-4F89-11D3-9A0C-0305E82C3301");
  AvmaRecord recs[] = {avma_schema_record(AVMA_KEY_AvmaKey, "W3GNR-8DDXR-2TFRP-H8P33-DV9BG")};
  g_autofree char *events = g_build_filename(dir, "events.jsonl", NULL);
  for (guint64 round = 0; round < 2; round++) {
    AvmaRecordList *reply = avma_host_activate(host, vm, recs, 1, NULL);
    assert_non_null(reply);
    g_autofree char *note = reply_value(reply, AVMA_KEY_AvmaReceipt);
    g_autofree char *key = reply_value(reply, AVMA_KEY_AvmaHostPublicKey);
    assert_non_null(note);
    assert_non_null(key);
    AvmaPublicKey sent;
    assert_true(avma_public_key_parse(key, &sent, NULL));
    assert_true(avma_public_key_equal(&sent, &pub));
    AvmaReceipt r;
    g_autoptr(GError) err = NULL;
    assert_true(avma_receipt_open(note, &pub, &r, &err));
    g_autofree char *line = last_line(events);
    char hash[AVMA_CHAIN_HASH_HEX];
    avma_chain_hash_hex(line, strlen(line), hash);
    assert_string_equal(r.head, hash);
    assert_int_equal(r.seq, avma_chain_log_head_seq(avma_host_chain_log(host)));
    g_autofree char *seq_member = g_strdup_printf("\"seq\":%" G_GUINT64_FORMAT ",", r.seq);
    assert_non_null(strstr(line, seq_member));
    assert_string_equal(r.vm_name, "web?01"); /* as VirtualMachineName has it */
    assert_string_equal(r.vm_id, avma_vm_uuid(vm));
    assert_string_equal(r.key_last5, "DV9BG");
    assert_string_equal(r.notification, "AVMA Success");
    assert_string_equal(r.licence, "2022 Datacenter");
    assert_string_equal(r.host_id, avma_host_identity(host));
    assert_true(*r.granted_until && *r.decided_at);
    avma_receipt_clear(&r);
    avma_record_list_free(reply);
  }
  avma_host_free(host);
  avma_hostkey_free(hk);
  avma_host_config_free(config);
  rm_dir(dir);
}

/* The guest's list: bounded, oldest dropped, a bad receipt kept and flagged, a broken file
 * replaced by a new list rather than stopping the guest. */
static void test_guest_list(void **state) {
  (void)state;
  g_autofree char *dir = g_dir_make_tmp("avma-test-receipts-XXXXXX", NULL);
  g_autofree char *path = g_build_filename(dir, "receipts.json", NULL);
  g_autoptr(AvmaKeyPair) kp = key_of(4);
  g_autoptr(AvmaKeyPair) other = key_of(5);
  g_autofree char *key = avma_public_key_base64(&kp->pub);
  g_autofree char *other_key = avma_public_key_base64(&other->pub);
  g_autoptr(JsonArray) empty = avma_guest_receipts_load(path, NULL);
  assert_non_null(empty);
  assert_int_equal(json_array_get_length(empty), 0);
  AvmaReceipt r = {.host_id = "",
                   .licence = "",
                   .vm_id = "",
                   .vm_name = "v",
                   .product = "",
                   .key_last5 = "",
                   .notification = "AVMA Success",
                   .granted_until = "",
                   .decided_at = ""};
  memset(r.head, '0', AVMA_RECEIPT_HEAD_HEX - 1);
  for (guint64 i = 1; i <= AVMA_GUEST_RECEIPTS_KEPT + 3; i++) {
    r.seq = i;
    g_autofree char *note = avma_receipt_sign(&r, kp, NULL);
    g_autofree char *verdict = NULL;
    /* Receipt 34 comes with another key than the one that signed it. */
    const char *with = i == AVMA_GUEST_RECEIPTS_KEPT + 2 ? other_key : key;
    assert_true(avma_guest_receipts_add(path, note, with, 1000 + (gint64)i, &verdict, NULL));
    if (with == key)
      assert_null(verdict);
    else
      assert_non_null(verdict);
  }
  g_autoptr(JsonArray) a = avma_guest_receipts_load(path, NULL);
  assert_int_equal(json_array_get_length(a), AVMA_GUEST_RECEIPTS_KEPT);
  assert_int_equal(json_object_get_int_member(json_array_get_object_element(a, 0), "seq"), 4);
  JsonObject *bad = json_array_get_object_element(a, AVMA_GUEST_RECEIPTS_KEPT - 2);
  assert_false(json_object_get_boolean_member(bad, "verified"));
  assert_non_null(strstr(json_object_get_string_member(bad, "error"), "no known key"));
  JsonObject *last = json_array_get_object_element(a, AVMA_GUEST_RECEIPTS_KEPT - 1);
  assert_true(json_object_get_boolean_member(last, "verified"));
  assert_int_equal(json_object_get_int_member(last, "seq"), AVMA_GUEST_RECEIPTS_KEPT + 3);
  /* Not a list: an error for readers; the next receipt starts a new list. */
  assert_true(g_file_set_contents(path, "{\"x\":1}", -1, NULL));
  g_autoptr(GError) err = NULL;
  assert_null(avma_guest_receipts_load(path, &err));
  assert_non_null(err);
  g_autofree char *note = avma_receipt_sign(&r, kp, NULL);
  assert_true(avma_guest_receipts_add(path, note, "not a key", 2000, NULL, NULL));
  g_autoptr(JsonArray) b = avma_guest_receipts_load(path, NULL);
  assert_int_equal(json_array_get_length(b), 1);
  assert_false(json_object_get_boolean_member(json_array_get_object_element(b, 0), "verified"));
  rm_dir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bound),
      cmocka_unit_test(test_round_trip_and_tampering),
      cmocka_unit_test(test_host_reply),
      cmocka_unit_test(test_guest_list),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
