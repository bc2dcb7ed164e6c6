/* test-kvp: pools, strict UTF-8, record limits and the record-list codec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kvp.h"

/* Copy into an exact-size heap buffer so ASan catches any read past len. */
static uint8_t *dup_exact(const void *p, size_t n) {
  uint8_t *q = malloc(n ? n : 1);
  assert_non_null(q);
  if (n)
    memcpy(q, p, n);
  return q;
}

static char *filled(size_t n, char c) {
  char *s = malloc(n + 1);
  assert_non_null(s);
  memset(s, c, n);
  s[n] = '\0';
  return s;
}

/* Encode recs into an exact-size buffer. */
static uint8_t *encode(const AvmaRecord *recs, size_t n, size_t *len) {
  size_t cap = 2;
  for (size_t i = 0; i < n; i++)
    cap += 5 + recs[i].key_len + recs[i].value_len;
  uint8_t *out = malloc(cap);
  assert_int_equal(avma_records_encode(recs, n, out, cap, len), AVMA_KVP_OK);
  assert_int_equal(*len, cap);
  return out;
}

/* Decode bytes given literally (exact-size copy). */
static AvmaKvpStatus decode_bytes(const void *p, size_t n) {
  uint8_t *buf = dup_exact(p, n);
  AvmaRecord recs[4];
  size_t count = 99;
  AvmaKvpStatus st = avma_records_decode(buf, n, recs, 4, &count);
  if (st != AVMA_KVP_OK)
    assert_int_equal(count, 0);
  free(buf);
  return st;
}

static void test_pools(void **state) {
  (void)state;
  static const char *names[] = {"external", "guest", "auto", "auto-external", "auto-internal"};
  for (int i = 0; i < AVMA_POOL__COUNT; i++) {
    assert_string_equal(avma_pool_name((AvmaPool)i), names[i]);
    AvmaPool p;
    assert_true(avma_pool_from_name(names[i], &p));
    assert_int_equal(p, i);
  }
  AvmaPool p;
  assert_false(avma_pool_from_name("Guest", &p));
  assert_false(avma_pool_from_name("", &p));
  assert_false(avma_pool_from_name("auto-", &p));
  assert_false(avma_pool_from_name(NULL, &p));
  assert_string_equal(avma_pool_name(AVMA_POOL__COUNT), "unknown");
}

static void test_utf8(void **state) {
  (void)state;
  static const struct {
    const char *s;
    size_t n;
    bool ok;
  } cases[] = {
      {"", 0, true},
      {"plain ASCII", 11, true},
      {"\xC3\xA9", 2, true},          /* U+00E9 */
      {"\xC2\x80", 2, true},          /* U+0080, smallest 2-byte */
      {"\xE2\x82\xAC", 3, true},      /* U+20AC */
      {"\xE0\xA0\x80", 3, true},      /* U+0800, smallest 3-byte */
      {"\xED\x9F\xBF", 3, true},      /* U+D7FF, just below the surrogates */
      {"\xEE\x80\x80", 3, true},      /* U+E000, just above */
      {"\xEF\xBF\xBF", 3, true},      /* U+FFFF */
      {"\xF0\x90\x80\x80", 4, true},  /* U+10000 */
      {"\xF4\x8F\xBF\xBF", 4, true},  /* U+10FFFF */
      {"\xC0\x80", 2, false},         /* overlong NUL */
      {"\xC1\xBF", 2, false},         /* overlong */
      {"\xE0\x80\x80", 3, false},     /* overlong */
      {"\xE0\x9F\xBF", 3, false},     /* overlong */
      {"\xF0\x80\x80\x80", 4, false}, /* overlong */
      {"\xF0\x8F\xBF\xBF", 4, false}, /* overlong */
      {"\xED\xA0\x80", 3, false},     /* U+D800 surrogate */
      {"\xED\xBF\xBF", 3, false},     /* U+DFFF surrogate */
      {"\xF4\x90\x80\x80", 4, false}, /* U+110000 */
      {"\xF5\x80\x80\x80", 4, false}, /* lead byte above F4 */
      {"\xFF", 1, false},
      {"\xFE", 1, false},
      {"\x80", 1, false}, /* lone continuation */
      {"a\xBF"
       "b",
       3, false},
      {"\xE2\x82", 2, false},         /* truncated */
      {"\xF0\x90\x80", 3, false},     /* truncated */
      {"\xC3", 1, false},             /* truncated */
      {"\xE2\x28\xA1", 3, false},     /* bad continuation */
      {"\xF0\x90\x28\x80", 4, false}, /* bad continuation */
      {"a\0b", 3, false},             /* embedded NUL */
      {"\0", 1, false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t *buf = dup_exact(cases[i].s, cases[i].n);
    if (avma_utf8_valid((const char *)buf, cases[i].n) != cases[i].ok)
      fail_msg("case %zu", i);
    free(buf);
  }
  /* A truncated sequence at the very end of an exact buffer must not be read past. */
  uint8_t *tail = dup_exact("ok\xF0", 3);
  assert_false(avma_utf8_valid((const char *)tail, 3));
  free(tail);
}

static void test_roundtrip(void **state) {
  (void)state;
  AvmaRecord recs[] = {
      avma_record_str(AVMA_POOL_GUEST, "AvmaKey", "TNK62-RXVTB-4P47B-2D623-4GF74"),
      avma_record_str(AVMA_POOL_AUTO, "OSName", "Debian GNU/Linux \xE2\x82\xAC"),
      avma_record_str(AVMA_POOL_EXTERNAL, "Empty", ""),
      avma_record_str(AVMA_POOL_AUTO_EXTERNAL, "HostName", "kvm01"),
      avma_record_str(AVMA_POOL_AUTO_INTERNAL, "ErrorCode", "bad-frame"),
  };
  size_t n = sizeof recs / sizeof recs[0];
  size_t len;
  uint8_t *buf = encode(recs, n, &len);
  assert_int_equal(buf[0], 0);
  assert_int_equal(buf[1], n);
  AvmaRecord out[8];
  size_t count;
  assert_int_equal(avma_records_decode(buf, len, out, 8, &count), AVMA_KVP_OK);
  assert_int_equal(count, n);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(out[i].pool, recs[i].pool);
    assert_int_equal(out[i].key_len, recs[i].key_len);
    assert_memory_equal(out[i].key, recs[i].key, recs[i].key_len);
    assert_int_equal(out[i].value_len, recs[i].value_len);
    if (recs[i].value_len)
      assert_memory_equal(out[i].value, recs[i].value, recs[i].value_len);
    /* Views point into the payload, not into copies. */
    assert_true((const uint8_t *)out[i].key >= buf && (const uint8_t *)out[i].key < buf + len);
  }
  free(buf);

  /* An empty list is just its count. */
  uint8_t empty[2];
  size_t elen;
  assert_int_equal(avma_records_encode(NULL, 0, empty, 2, &elen), AVMA_KVP_OK);
  assert_int_equal(elen, 2);
  assert_int_equal(decode_bytes(empty, 2), AVMA_KVP_OK);
}

static void test_max_sizes(void **state) {
  (void)state;
  char *key = filled(AVMA_KVP_MAX_KEY, 'k');
  char *value = filled(AVMA_KVP_MAX_VALUE, 'v');
  AvmaRecord r = avma_record_str(AVMA_POOL_GUEST, key, value);
  assert_int_equal(avma_record_check(&r), AVMA_KVP_OK);
  size_t len;
  uint8_t *buf = encode(&r, 1, &len);
  AvmaRecord out;
  size_t count;
  assert_int_equal(avma_records_decode(buf, len, &out, 1, &count), AVMA_KVP_OK);
  assert_int_equal(out.key_len, AVMA_KVP_MAX_KEY);
  assert_int_equal(out.value_len, AVMA_KVP_MAX_VALUE);
  free(buf);
  free(key);
  free(value);

  /* 256 records is the limit, 257 is refused by both sides. */
  AvmaRecord *many = malloc(257 * sizeof *many);
  for (size_t i = 0; i < 257; i++)
    many[i] = avma_record_str(AVMA_POOL_GUEST, "k", "v");
  buf = encode(many, 256, &len);
  AvmaRecord *outs = malloc(257 * sizeof *outs);
  assert_int_equal(avma_records_decode(buf, len, outs, 257, &count), AVMA_KVP_OK);
  assert_int_equal(count, 256);
  uint8_t *big = malloc(len + 7);
  assert_int_equal(avma_records_encode(many, 257, big, len + 7, &len), AVMA_KVP_TOO_MANY);
  free(big);
  free(outs);
  free(buf);
  free(many);
}

static void test_truncated(void **state) {
  (void)state;
  AvmaRecord recs[] = {avma_record_str(AVMA_POOL_GUEST, "A", "xyz"),
                       avma_record_str(AVMA_POOL_AUTO, "Bee", "")};
  size_t len;
  uint8_t *full = encode(recs, 2, &len);
  /* Every proper prefix is truncated. */
  for (size_t n = 0; n < len; n++)
    assert_int_equal(decode_bytes(full, n), AVMA_KVP_TRUNCATED);
  assert_int_equal(decode_bytes(full, len), AVMA_KVP_OK);
  /* A record whose lengths run past the end. */
  assert_int_equal(decode_bytes("\x00\x01\x01\x00\x01\xFF\xFF"
                                "k",
                                8),
                   AVMA_KVP_TRUNCATED);
  free(full);
}

static void test_trailing(void **state) {
  (void)state;
  AvmaRecord r = avma_record_str(AVMA_POOL_GUEST, "A", "b");
  size_t len;
  uint8_t *full = encode(&r, 1, &len);
  uint8_t *more = malloc(len + 1);
  memcpy(more, full, len);
  more[len] = 0;
  assert_int_equal(decode_bytes(more, len + 1), AVMA_KVP_TRAILING);
  assert_int_equal(decode_bytes("\x00\x00\x00", 3), AVMA_KVP_TRAILING);
  free(more);
  free(full);
}

static void test_too_many(void **state) {
  (void)state;
  assert_int_equal(decode_bytes("\x01\x01", 2), AVMA_KVP_TOO_MANY); /* 257 */
  assert_int_equal(decode_bytes("\xFF\xFF", 2), AVMA_KVP_TOO_MANY);
  /* More than the caller can hold (cap 4 in decode_bytes). */
  assert_int_equal(decode_bytes("\x00\x05", 2), AVMA_KVP_TOO_MANY);
}

static void test_bad_pool(void **state) {
  (void)state;
  assert_int_equal(decode_bytes("\x00\x01\x05\x00\x01\x00\x00"
                                "k",
                                8),
                   AVMA_KVP_BAD_POOL);
  assert_int_equal(decode_bytes("\x00\x01\xFF\x00\x01\x00\x00"
                                "k",
                                8),
                   AVMA_KVP_BAD_POOL);
  assert_int_equal(decode_bytes("\x00\x01\x04\x00\x01\x00\x00"
                                "k",
                                8),
                   AVMA_KVP_OK);
  AvmaRecord r = avma_record_str(AVMA_POOL__COUNT, "k", "v");
  assert_int_equal(avma_record_check(&r), AVMA_KVP_BAD_POOL);
}

static void test_key_value_limits(void **state) {
  (void)state;
  assert_int_equal(decode_bytes("\x00\x01\x01\x00\x00\x00\x00", 7), AVMA_KVP_KEY_EMPTY);
  AvmaRecord r = avma_record_str(AVMA_POOL_GUEST, "", "v");
  assert_int_equal(avma_record_check(&r), AVMA_KVP_KEY_EMPTY);

  /* Key of 513 bytes, value of 2049 bytes: refused by the encoder and the decoder. */
  char *key = filled(AVMA_KVP_MAX_KEY + 1, 'k');
  char *value = filled(AVMA_KVP_MAX_VALUE + 1, 'v');
  r = avma_record_str(AVMA_POOL_GUEST, key, "v");
  assert_int_equal(avma_record_check(&r), AVMA_KVP_KEY_TOO_LONG);
  uint8_t buf[4000];
  size_t len;
  assert_int_equal(avma_records_encode(&r, 1, buf, sizeof buf, &len), AVMA_KVP_KEY_TOO_LONG);
  size_t n = 0;
  buf[n++] = 0, buf[n++] = 1, buf[n++] = 1, buf[n++] = 0x02, buf[n++] = 0x01, buf[n++] = 0,
  buf[n++] = 1;
  memcpy(buf + n, key, 513), n += 513;
  buf[n++] = 'v';
  assert_int_equal(decode_bytes(buf, n), AVMA_KVP_KEY_TOO_LONG);

  r = avma_record_str(AVMA_POOL_GUEST, "k", value);
  assert_int_equal(avma_record_check(&r), AVMA_KVP_VALUE_TOO_LONG);
  assert_int_equal(avma_records_encode(&r, 1, buf, sizeof buf, &len), AVMA_KVP_VALUE_TOO_LONG);
  n = 0;
  buf[n++] = 0, buf[n++] = 1, buf[n++] = 1, buf[n++] = 0, buf[n++] = 1, buf[n++] = 0x08,
  buf[n++] = 0x01;
  buf[n++] = 'k';
  memcpy(buf + n, value, 2049), n += 2049;
  assert_int_equal(decode_bytes(buf, n), AVMA_KVP_VALUE_TOO_LONG);
  free(key);
  free(value);
}

static void test_bad_utf8(void **state) {
  (void)state;
  static const struct {
    const char *bytes;
    size_t len;
  } bad[] = {
      {"\xC0\x80", 2}, {"\xED\xA0\x80", 3}, {"\xF5\x80\x80\x80", 4}, {"\xE2\x82", 2}, {"a\0b", 3},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint8_t buf[32];
    size_t vl = bad[i].len;
    /* In the value... */
    size_t n = 0;
    buf[n++] = 0, buf[n++] = 1, buf[n++] = 1, buf[n++] = 0, buf[n++] = 1, buf[n++] = 0,
    buf[n++] = (uint8_t)vl, buf[n++] = 'k';
    memcpy(buf + n, bad[i].bytes, vl), n += vl;
    assert_int_equal(decode_bytes(buf, n), AVMA_KVP_BAD_UTF8);
    /* ...and in the key. */
    n = 0;
    buf[n++] = 0, buf[n++] = 1, buf[n++] = 1, buf[n++] = 0, buf[n++] = (uint8_t)vl, buf[n++] = 0,
    buf[n++] = 0;
    memcpy(buf + n, bad[i].bytes, vl), n += vl;
    assert_int_equal(decode_bytes(buf, n), AVMA_KVP_BAD_UTF8);
    /* The encoder refuses it too. */
    AvmaRecord r = {AVMA_POOL_GUEST, "k", 1, bad[i].bytes, vl};
    size_t len;
    assert_int_equal(avma_records_encode(&r, 1, buf, sizeof buf, &len), AVMA_KVP_BAD_UTF8);
  }
}

static void test_no_space(void **state) {
  (void)state;
  AvmaRecord r = avma_record_str(AVMA_POOL_GUEST, "key", "value");
  uint8_t buf[16];
  size_t len = 99;
  assert_int_equal(avma_records_encode(&r, 1, buf, 14, &len), AVMA_KVP_NO_SPACE);
  assert_int_equal(len, 0);
  assert_int_equal(avma_records_encode(&r, 1, buf, 15, &len), AVMA_KVP_OK);
  assert_int_equal(len, 15);
  assert_int_equal(avma_records_encode(&r, 0, buf, 1, &len), AVMA_KVP_NO_SPACE);
}

static void test_enumerate(void **state) {
  (void)state;
  uint8_t buf[5];
  assert_int_equal(avma_enumerate_encode(AVMA_POOL_AUTO, 0x01020304u, buf, 5), 5);
  assert_memory_equal(buf, "\x02\x01\x02\x03\x04", 5);
  AvmaPool p;
  uint32_t start;
  assert_true(avma_enumerate_decode(buf, 5, &p, &start));
  assert_int_equal(p, AVMA_POOL_AUTO);
  assert_int_equal(start, 0x01020304u);
  assert_false(avma_enumerate_decode(buf, 4, &p, &start));
  uint8_t six[6] = {1, 0, 0, 0, 0, 0};
  assert_false(avma_enumerate_decode(six, 6, &p, &start));
  buf[0] = 5;
  assert_false(avma_enumerate_decode(buf, 5, &p, &start));
  assert_int_equal(avma_enumerate_encode(AVMA_POOL_AUTO, 1, buf, 4), 0);
  assert_int_equal(avma_enumerate_encode(AVMA_POOL__COUNT, 1, buf, 5), 0);
}

static void test_helpers(void **state) {
  (void)state;
  AvmaRecord r = avma_record_str(AVMA_POOL_GUEST, "AvmaKey", "x");
  assert_true(avma_record_key_is(&r, "AvmaKey"));
  assert_false(avma_record_key_is(&r, "AvmaKe"));
  assert_false(avma_record_key_is(&r, "AvmaKeyX"));
  assert_false(avma_record_key_is(&r, "avmakey"));
  /* Views need no terminator. */
  char *exact = (char *)dup_exact("AvmaKey!", 7);
  AvmaRecord v = {AVMA_POOL_GUEST, exact, 7, "", 0};
  assert_true(avma_record_key_is(&v, "AvmaKey"));
  free(exact);
  AvmaRecord z = avma_record_str(AVMA_POOL_GUEST, "k", NULL);
  assert_int_equal(z.value_len, 0);
  assert_string_equal(avma_kvp_status_name(AVMA_KVP_OK), "ok");
  assert_string_equal(avma_kvp_status_name(AVMA_KVP_BAD_UTF8), "bad-utf8");
  for (int s = AVMA_KVP_OK; s <= AVMA_KVP_NO_SPACE; s++)
    assert_string_not_equal(avma_kvp_status_name((AvmaKvpStatus)s), "unknown");
}

/* Issue #17: sanitizing cuts at a character boundary (a 64-byte cut of 200 'ü' once produced
 * invalid UTF-8 and made the event unreadable) and replaces what a terminal would obey. */
static void test_text_sanitize(void **state) {
  (void)state;
  char out[65];
  char in[401];
  for (int i = 0; i < 200; i++)
    in[2 * i] = (char)0xC3, in[2 * i + 1] = (char)0xBC;
  in[400] = 0;
  size_t n = avma_text_sanitize(in, 400, out, sizeof out);
  assert_int_equal(n, 64);
  assert_true(avma_utf8_valid(out, n));
  n = avma_text_sanitize(in, 400, out, 64); /* odd room: the half character is dropped */
  assert_int_equal(n, 62);
  assert_true(avma_utf8_valid(out, n));
  const char evil[] = "a\x1b[2J\a\rb\xC2\x9B"
                      "c\xE2\x80\xAE"
                      "d\xFF\xC3";
  n = avma_text_sanitize(evil, sizeof evil - 1, out, sizeof out);
  assert_string_equal(out, "a?[2J??b?c?d??");
  assert_true(avma_text_safe(out, n));
  assert_int_equal(avma_text_sanitize(NULL, 0, out, sizeof out), 0);
  assert_string_equal(out, "");
  assert_int_equal(avma_text_sanitize("abc", 3, out, 1), 0);
  assert_string_equal(out, "");
  assert_false(avma_text_safe("x\xC2\x85", 3));
  assert_true(avma_text_safe("\xE2\x82\xAC", 3));
  assert_false(avma_text_safe("\xE2\x82", 2));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pools),
      cmocka_unit_test(test_utf8),
      cmocka_unit_test(test_roundtrip),
      cmocka_unit_test(test_max_sizes),
      cmocka_unit_test(test_truncated),
      cmocka_unit_test(test_trailing),
      cmocka_unit_test(test_too_many),
      cmocka_unit_test(test_bad_pool),
      cmocka_unit_test(test_key_value_limits),
      cmocka_unit_test(test_bad_utf8),
      cmocka_unit_test(test_no_space),
      cmocka_unit_test(test_enumerate),
      cmocka_unit_test(test_helpers),
      cmocka_unit_test(test_text_sanitize),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
