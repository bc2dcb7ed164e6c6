/* test-schema: the generated key table, lookup, and validation of every value type. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "schema.h"

/* Validate value for key id as writer, with key and value in exact-size heap buffers. */
static AvmaSchemaStatus check_as(AvmaKeyId id, const char *value, AvmaWriter w) {
  const AvmaKeyDef *d = &avma_schema_keys[id];
  size_t kn = strlen(d->name), vn = strlen(value);
  char *k = malloc(kn), *v = malloc(vn ? vn : 1);
  memcpy(k, d->name, kn);
  memcpy(v, value, vn);
  AvmaRecord r = {d->pool, k, kn, v, vn};
  if (vn <= AVMA_KVP_MAX_VALUE) /* validate's precondition; only test_too_long goes beyond */
    assert_int_equal(avma_record_check(&r), AVMA_KVP_OK);
  AvmaSchemaStatus st = avma_schema_validate(&r, w);
  free(k);
  free(v);
  return st;
}

static AvmaSchemaStatus check(AvmaKeyId id, const char *value) {
  return check_as(id, value, avma_schema_keys[id].writer);
}

#define GOOD(id, v)                                                                                \
  do {                                                                                             \
    if (check(AVMA_KEY_##id, v) != AVMA_SCHEMA_OK)                                                 \
      fail_msg("%s: \"%s\" refused", #id, v);                                                      \
  } while (0)
#define BAD(id, v)                                                                                 \
  do {                                                                                             \
    if (check(AVMA_KEY_##id, v) != AVMA_SCHEMA_BAD_VALUE)                                          \
      fail_msg("%s: \"%s\" not refused as bad-value", #id, v);                                     \
  } while (0)

static void test_table_sane(void **state) {
  (void)state;
  assert_true(AVMA_KEY__COUNT > 30);
  for (int i = 0; i < AVMA_KEY__COUNT; i++) {
    const AvmaKeyDef *d = &avma_schema_keys[i];
    assert_int_equal(d->id, i);
    assert_non_null(d->name);
    assert_string_equal(avma_key_name((AvmaKeyId)i), d->name);
    assert_int_equal(avma_key_pool((AvmaKeyId)i), d->pool);
    assert_true(strlen(d->name) > 0 && strlen(d->name) <= AVMA_KVP_MAX_KEY);
    assert_true(d->max_len >= 1 && d->max_len <= AVMA_KVP_MAX_VALUE);
    assert_true((unsigned)d->pool < AVMA_POOL__COUNT);
    assert_true(d->writer == AVMA_WRITER_HOST || d->writer == AVMA_WRITER_GUEST);
    assert_true(d->type >= AVMA_TYPE_TEXT && d->type <= AVMA_TYPE_SIGNED_NOTE);
    assert_non_null(d->description);
    assert_true(strlen(d->description) > 0);
    assert_ptr_equal(avma_schema_lookup(d->pool, d->name, strlen(d->name)), d);
    /* Names are unique, so no other pool has it. */
    for (int p = 0; p < AVMA_POOL__COUNT; p++)
      if (p != (int)d->pool)
        assert_null(avma_schema_lookup((AvmaPool)p, d->name, strlen(d->name)));
  }
  assert_string_equal(AVMA_CHANNEL_NAME, "org.avma.kvp.0");
  /* Spot checks against the schema file. */
  const AvmaKeyDef *k = &avma_schema_keys[AVMA_KEY_AvmaKey];
  assert_int_equal(k->pool, AVMA_POOL_GUEST);
  assert_int_equal(k->writer, AVMA_WRITER_GUEST);
  assert_int_equal(k->type, AVMA_TYPE_AVMA_KEY);
  k = &avma_schema_keys[AVMA_KEY_AvmaNotification];
  assert_int_equal(k->pool, AVMA_POOL_EXTERNAL);
  assert_int_equal(k->writer, AVMA_WRITER_HOST);
}

static void test_lookup(void **state) {
  (void)state;
  assert_non_null(avma_schema_lookup(AVMA_POOL_AUTO_EXTERNAL, "HostName", 8));
  assert_null(avma_schema_lookup(AVMA_POOL_AUTO, "HostName", 8));
  assert_null(avma_schema_lookup(AVMA_POOL_GUEST, "HostName", 8));
  /* Length-aware: a longer buffer, a prefix, a case change. */
  assert_non_null(avma_schema_lookup(AVMA_POOL_AUTO_EXTERNAL, "HostNameXYZ", 8));
  assert_null(avma_schema_lookup(AVMA_POOL_AUTO_EXTERNAL, "HostName", 7));
  assert_null(avma_schema_lookup(AVMA_POOL_AUTO_EXTERNAL, "hostname", 8));
  assert_null(avma_schema_lookup(AVMA_POOL_AUTO_EXTERNAL, "", 0));
  assert_null(avma_schema_lookup(AVMA_POOL_AUTO_EXTERNAL, NULL, 0));
  /* No terminator: an exact-size buffer. */
  char *k = malloc(7);
  memcpy(k, "AvmaKey", 7);
  const AvmaKeyDef *d = avma_schema_lookup(AVMA_POOL_GUEST, k, 7);
  assert_non_null(d);
  assert_int_equal(d->id, AVMA_KEY_AvmaKey);
  free(k);
}

static void test_unknown_and_writer(void **state) {
  (void)state;
  AvmaRecord r = avma_record_str(AVMA_POOL_GUEST, "NoSuchKey", "x");
  assert_int_equal(avma_schema_validate(&r, AVMA_WRITER_GUEST), AVMA_SCHEMA_UNKNOWN_KEY);
  assert_int_equal(avma_schema_validate(&r, AVMA_WRITER_HOST), AVMA_SCHEMA_UNKNOWN_KEY);
  r = avma_record_str(AVMA_POOL_AUTO, "AvmaKey", "x"); /* right name, wrong pool */
  assert_int_equal(avma_schema_validate(&r, AVMA_WRITER_GUEST), AVMA_SCHEMA_UNKNOWN_KEY);
  /* A guest may not write what the host writes, and the other way round. */
  for (int i = 0; i < AVMA_KEY__COUNT; i++) {
    AvmaWriter other =
        avma_schema_keys[i].writer == AVMA_WRITER_HOST ? AVMA_WRITER_GUEST : AVMA_WRITER_HOST;
    assert_int_equal(check_as((AvmaKeyId)i, "", other), AVMA_SCHEMA_WRONG_WRITER);
  }
  assert_int_equal(check_as(AVMA_KEY_AvmaNotification, "AVMA Success", AVMA_WRITER_GUEST),
                   AVMA_SCHEMA_WRONG_WRITER);
  assert_int_equal(check_as(AVMA_KEY_AvmaKey, "X", AVMA_WRITER_HOST), AVMA_SCHEMA_WRONG_WRITER);
}

static void test_too_long(void **state) {
  (void)state;
  for (int i = 0; i < AVMA_KEY__COUNT; i++) {
    unsigned max = avma_schema_keys[i].max_len;
    char *v = malloc(max + 2);
    memset(v, '1', max + 1);
    v[max + 1] = '\0';
    assert_int_equal(check((AvmaKeyId)i, v), AVMA_SCHEMA_TOO_LONG);
    free(v);
  }
}

static void test_type_text(void **state) {
  (void)state;
  GOOD(OSName, "Debian GNU/Linux 12 (bookworm)");
  GOOD(OSName, "");
  GOOD(OSName, "Caf\xC3\xA9 \xE2\x82\xAC");
  BAD(OSName, "two\nlines");
  BAD(OSName, "tab\there");
  BAD(OSName, "del\x7F");
  GOOD(ErrorMessage, "request refused: rate limited");
}

/* Issue #17: C1 controls and bidirectional overrides drive terminals and reorder what an operator
 * reads; text refuses them, ordinary non-ASCII text stays valid. */
static void test_type_text_terminal_safe(void **state) {
  (void)state;
  BAD(OSName, "esc\x1b[2Jcleared");
  BAD(OSName, "csi \xC2\x9B"
              "2J");                /* U+009B, the one-byte CSI */
  BAD(OSName, "nel \xC2\x85 here"); /* U+0085 */
  BAD(OSName, "rlo \xE2\x80\xAE"
              "gpj.exe");            /* U+202E */
  BAD(OSName, "lri \xE2\x81\xA6 x"); /* U+2066 */
  BAD(OSName, "rlm \xE2\x80\x8F");   /* U+200F */
  BAD(OSName, "alm \xD8\x9C");       /* U+061C */
  GOOD(OSName, "\xC2\xA0nbsp \xC3\xBC \xE2\x80\x94 dash \xF0\x9F\x98\x80");
  GOOD(VirtualMachineName, "\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D"); /* Hebrew letters */
}

static void test_type_avma_key(void **state) {
  (void)state;
  GOOD(AvmaKey, "TNK62-RXVTB-4P47B-2D623-4GF74");
  GOOD(AvmaKey, "tnk62-rxvtb-4p47b - 2d623-4gf74"); /* the policy normalises and judges it */
  GOOD(AvmaKey, "not a key");
  GOOD(AvmaKey, "");
  BAD(AvmaKey, "TNK62\t");
  BAD(AvmaKey, "\xC3\xA9");
}

static void test_type_product_version(void **state) {
  (void)state;
  const char *good[] = {"2012R2", "2012 R2", "2016", "2019", "2022", "2025",
                        "1709",   "1803",    "1809", "1903", "1909", ""};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    GOOD(AvmaProductVersion, good[i]);
    GOOD(AvmaHostVersion, good[i]);
  }
  BAD(AvmaProductVersion, "2012");
  BAD(AvmaProductVersion, "2020");
  BAD(AvmaProductVersion, "Vista");
  BAD(AvmaProductVersion, " 2019");
  BAD(AvmaHostVersion, "unknown");
}

static void test_type_edition(void **state) {
  (void)state;
  GOOD(AvmaProductEdition, "Datacenter");
  GOOD(AvmaProductEdition, "DatacenterAzure");
  GOOD(AvmaProductEdition, "Datacenter: Azure Edition");
  GOOD(AvmaProductEdition, "standard");
  GOOD(AvmaProductEdition, "Essentials");
  GOOD(AvmaProductEdition, "");
  BAD(AvmaProductEdition, "Enterprise");
  BAD(AvmaProductEdition, "Datacenter ");
}

static void test_type_notification(void **state) {
  (void)state;
  GOOD(AvmaNotification, "AVMA Success");
  GOOD(AvmaNotification, "Invalid Host");
  GOOD(AvmaNotification, "Invalid Data");
  GOOD(AvmaNotification, "Activation Denied");
  BAD(AvmaNotification, "");
  BAD(AvmaNotification, "avma success");
  BAD(AvmaNotification, "Success");
}

static void test_type_reason_code(void **state) {
  (void)state;
  GOOD(AvmaReasonCode, "ok");
  GOOD(AvmaReasonCode, "guest-newer-than-host");
  GOOD(ErrorCode, "bad-frame");
  GOOD(ErrorCode, "e2");
  BAD(AvmaReasonCode, "");
  BAD(AvmaReasonCode, "Bad");
  BAD(AvmaReasonCode, "a_b");
  BAD(AvmaReasonCode, "a b");
}

static void test_type_rfc3339(void **state) {
  (void)state;
  GOOD(AvmaGrantedUntil, "");
  GOOD(AvmaGrantedUntil, "2025-01-31T23:59:59Z");
  GOOD(AvmaActivationTime, "2024-02-29T00:00:00.123456Z");
  GOOD(AvmaActivationTime, "2016-12-31T23:59:60Z");
  BAD(AvmaGrantedUntil, "2025-01-31 23:59:59Z");
  BAD(AvmaGrantedUntil, "2025-01-31T23:59:59");
  BAD(AvmaGrantedUntil, "2025-01-31T23:59:59+01:00");
  BAD(AvmaGrantedUntil, "2025-13-01T00:00:00Z");
  BAD(AvmaGrantedUntil, "2025-00-01T00:00:00Z");
  BAD(AvmaGrantedUntil, "2025-01-32T00:00:00Z");
  BAD(AvmaGrantedUntil, "2025-01-01T24:00:00Z");
  BAD(AvmaGrantedUntil, "2025-01-01T00:60:00Z");
  BAD(AvmaGrantedUntil, "2025-01-01T00:00:00.Z");
  BAD(AvmaGrantedUntil, "2025-01-01T00:00:00ZZ");
  BAD(AvmaGrantedUntil, "25-01-01T00:00:00Z");
  BAD(AvmaGrantedUntil, "2025-1-01T00:00:00Z");
  BAD(AvmaGrantedUntil, "2025-01-01t00:00:00z");
}

static void test_type_uuid(void **state) {
  (void)state;
  GOOD(VirtualMachineId, "");
  GOOD(VirtualMachineId, "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
  GOOD(AvmaHostId, "3F2504E0-4F89-11D3-9A0C-0305E82C3301");
  BAD(VirtualMachineId, "3f2504e0-4f89-11d3-9a0c-0305e82c330");
  BAD(VirtualMachineId, "3f2504e04f8911d39a0c0305e82c3301");
  BAD(VirtualMachineId, "3f2504e0-4f89-11d3-9a0c_0305e82c3301");
  BAD(VirtualMachineId, "3f2504g0-4f89-11d3-9a0c-0305e82c3301");
  BAD(VirtualMachineId, "{3f2504e0-4f89-11d3-9a0c-0305e82c33}");
}

static void test_type_uint(void **state) {
  (void)state;
  GOOD(OSMajorVersion, "0");
  GOOD(OSMajorVersion, "6");
  GOOD(OSPlatformId, "4294967295");
  GOOD(HostingSystemOsMajor, "2012");
  BAD(OSMajorVersion, "");
  BAD(OSMajorVersion, "-1");
  BAD(OSMajorVersion, "+1");
  BAD(OSMajorVersion, "1.0");
  BAD(OSMajorVersion, " 1");
  BAD(OSMajorVersion, "0x10");
}

static void test_type_ipv4_list(void **state) {
  (void)state;
  GOOD(NetworkAddressIPv4, "");
  GOOD(NetworkAddressIPv4, "192.168.1.10");
  GOOD(NetworkAddressIPv4, "10.0.0.1;172.16.5.4;255.255.255.255;0.0.0.0");
  BAD(NetworkAddressIPv4, "256.1.1.1");
  BAD(NetworkAddressIPv4, "1.2.3");
  BAD(NetworkAddressIPv4, "1.2.3.4.5");
  BAD(NetworkAddressIPv4, "1.2.3.4;");
  BAD(NetworkAddressIPv4, ";1.2.3.4");
  BAD(NetworkAddressIPv4, "1.2.3.4;;5.6.7.8");
  BAD(NetworkAddressIPv4, "1.2.3.4,5.6.7.8");
  BAD(NetworkAddressIPv4, "1..3.4");
  BAD(NetworkAddressIPv4, "1.2.3.1000");
  BAD(NetworkAddressIPv4, "a.b.c.d");
  BAD(NetworkAddressIPv4, "1.2.3.4 ");
}

static void test_type_ipv6_list(void **state) {
  (void)state;
  GOOD(NetworkAddressIPv6, "");
  GOOD(NetworkAddressIPv6, "fe80::1");
  GOOD(NetworkAddressIPv6, "2001:db8::8a2e:370:7334;::1;::ffff:192.0.2.1");
  BAD(NetworkAddressIPv6, "1.2.3.4");
  BAD(NetworkAddressIPv6, "fe80::1;");
  BAD(NetworkAddressIPv6, "fe80::1%eth0");
  BAD(NetworkAddressIPv6, "fe80::g");
  BAD(NetworkAddressIPv6, "[::1]");
}

static void test_type_hostname_arch(void **state) {
  (void)state;
  GOOD(FullyQualifiedDomainName, "");
  GOOD(FullyQualifiedDomainName, "vm-01.example.org");
  GOOD(HostName, "KVM_HOST.local");
  BAD(HostName, "kvm host");
  BAD(HostName, "kvm/host");
  BAD(HostName, "h\xC3\xA9");
  GOOD(ProcessorArchitecture, "x86_64");
  GOOD(ProcessorArchitecture, "AMD64");
  GOOD(HostingSystemProcessorArchitecture, "aarch64");
  BAD(ProcessorArchitecture, "");
  BAD(ProcessorArchitecture, "x86 64");
  BAD(ProcessorArchitecture, "arm.v7");
}

static void test_record_and_find(void **state) {
  (void)state;
  AvmaRecord recs[] = {
      avma_schema_record(AVMA_KEY_AvmaKey, "TNK62-RXVTB-4P47B-2D623-4GF74"),
      avma_schema_record(AVMA_KEY_AvmaProductVersion, "2019"),
      avma_record_str(AVMA_POOL_AUTO, "AvmaProductEdition", "Standard"), /* wrong pool */
  };
  assert_int_equal(recs[0].pool, AVMA_POOL_GUEST);
  assert_true(avma_record_key_is(&recs[0], "AvmaKey"));
  assert_int_equal(recs[0].value_len, 29);
  size_t len = 99;
  const char *v = avma_records_find(recs, 3, AVMA_KEY_AvmaProductVersion, &len);
  assert_non_null(v);
  assert_int_equal(len, 4);
  assert_memory_equal(v, "2019", 4);
  assert_null(avma_records_find(recs, 3, AVMA_KEY_AvmaProductEdition, &len));
  assert_int_equal(len, 0);
  assert_null(avma_records_find(recs, 3, AVMA_KEY_HostName, &len));
  assert_null(avma_records_find(recs, 0, AVMA_KEY_AvmaKey, &len));
  AvmaRecord e = avma_schema_record(AVMA_KEY_AvmaReason, NULL);
  assert_int_equal(e.value_len, 0);
  assert_int_equal(avma_record_check(&e), AVMA_KVP_OK);
  assert_string_equal(avma_schema_status_name(AVMA_SCHEMA_WRONG_WRITER), "wrong-writer");
  for (int s = AVMA_SCHEMA_OK; s <= AVMA_SCHEMA_BAD_VALUE; s++)
    assert_string_not_equal(avma_schema_status_name((AvmaSchemaStatus)s), "unknown");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table_sane),         cmocka_unit_test(test_lookup),
      cmocka_unit_test(test_unknown_and_writer), cmocka_unit_test(test_too_long),
      cmocka_unit_test(test_type_text),          cmocka_unit_test(test_type_text_terminal_safe),
      cmocka_unit_test(test_type_avma_key),      cmocka_unit_test(test_type_product_version),
      cmocka_unit_test(test_type_edition),       cmocka_unit_test(test_type_notification),
      cmocka_unit_test(test_type_reason_code),   cmocka_unit_test(test_type_rfc3339),
      cmocka_unit_test(test_type_uuid),          cmocka_unit_test(test_type_uint),
      cmocka_unit_test(test_type_ipv4_list),     cmocka_unit_test(test_type_ipv6_list),
      cmocka_unit_test(test_type_hostname_arch), cmocka_unit_test(test_record_and_find),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
