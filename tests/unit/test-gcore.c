/* Unit tests for the portable guest core (guest-agent/core): timestamps, the guest.state text
 * form, the JSON writer and flat reader, the exchange against a hostile host, the decoder loop
 * and the agent's key rules. Links only libavma-gcore.a, libavma-pure.a and cmocka. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "evline.h"
#include "gstate.h"
#include "recs.h"
#include "rfc3339.h"
#include "schedule.h"
#include "wire.h"
#include "xchg.h"

#define SESSION 0x1234abcdu
#define T0 1800000000 /* 2027-01-15T08:00:00Z */
#define DAY 86400
#define KEY_2022_STD "YDFWN-MJ9JR-3DYRK-FXXRW-78VHK"
#define KEY_OTHER "NBCDF-GHJKM-PQRTV-WXY23-46789" /* well-formed, not an AVMA key */

/* ---- rfc3339 ------------------------------------------------------------------------------ */

static void rfc3339_known_values(void **st) {
  (void)st;
  static const struct {
    int64_t t;
    const char *s;
  } cases[] = {
      {1, "1970-01-01T00:00:01Z"},          {951782400, "2000-02-29T00:00:00Z"},
      {1709164800, "2024-02-29T00:00:00Z"}, {1795553280, "2026-11-24T20:48:00Z"},
      {T0, "2027-01-15T08:00:00Z"},         {253402300799, "9999-12-31T23:59:59Z"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char out[AVMA_RFC3339_LEN];
    avma_rfc3339_format(cases[i].t, out);
    assert_string_equal(out, cases[i].s);
    int64_t back = 0;
    assert_true(avma_rfc3339_parse(cases[i].s, &back));
    assert_int_equal(back, cases[i].t);
  }
  /* Every hour over four years, through two leap days, round-trips. */
  for (int64_t t = 1704067200; t < 1704067200 + 4 * 366 * DAY; t += 3607) {
    char out[AVMA_RFC3339_LEN];
    int64_t back = 0;
    avma_rfc3339_format(t, out);
    assert_true(avma_rfc3339_parse(out, &back));
    assert_int_equal(back, t);
  }
}

static void rfc3339_empty_and_out_of_range(void **st) {
  (void)st;
  char out[AVMA_RFC3339_LEN] = "x";
  avma_rfc3339_format(0, out);
  assert_string_equal(out, "");
  avma_rfc3339_format(-5, out);
  assert_string_equal(out, "");
  avma_rfc3339_format(253402300800, out); /* year 10000 does not fit */
  assert_string_equal(out, "");
}

static void rfc3339_offsets_and_fractions(void **st) {
  (void)st;
  int64_t t = 0;
  assert_true(avma_rfc3339_parse("2027-01-15T10:00:00+02:00", &t));
  assert_int_equal(t, T0);
  assert_true(avma_rfc3339_parse("2027-01-15T03:30:00-0430", &t));
  assert_int_equal(t, T0);
  assert_true(avma_rfc3339_parse("2027-01-15T08:00:00.123456Z", &t));
  assert_int_equal(t, T0);
  assert_true(avma_rfc3339_parse("2027-01-15t08:00:00z", &t));
  assert_int_equal(t, T0);
}

static void rfc3339_bad_input(void **st) {
  (void)st;
  static const char *bad[] = {
      "",
      "2027",
      "2027-01-15",
      "2027-01-15T08:00:00",      /* no zone */
      "2027-01-15T08:00:00Zjunk", /* trailing bytes */
      "2027-13-01T00:00:00Z",
      "2027-00-01T00:00:00Z",
      "2027-02-29T00:00:00Z", /* not a leap year */
      "2027-04-31T00:00:00Z",
      "2027-01-15T24:00:00Z",
      "2027-01-15T08:60:00Z",
      "2027-01-15T08:00:60Z",
      "2027-1-15T08:00:00Z",
      "2027-01-15X08:00:00Z",
      "2027-01-15T08:00:00.Z",
      "2027-01-15T08:00:00+25:00",
      "2027-01-15T08:00:00+02:",
      "2027-01-15T08:00:00+2",
      "0000-01-01T00:00:00Z",
      "+027-01-15T08:00:00Z",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int64_t t = 42;
    assert_false(avma_rfc3339_parse(bad[i], &t));
    assert_int_equal(t, 42);
  }
  int64_t t;
  assert_false(avma_rfc3339_parse(NULL, &t));
}

/* ---- gstate ------------------------------------------------------------------------------- */

static void full_state(AvmaGState *s) {
  avma_gstate_init(s);
  strcpy(s->guest_id, "0b7e1e9c-4a3f-4d2e-9f6a-1c2b3d4e5f60");
  strcpy(s->key, KEY_2022_STD);
  s->key_is_avma = true;
  s->key_version = AVMA_VERSION_2022;
  s->key_edition = AVMA_EDITION_STANDARD;
  s->key_installed_at = T0 - DAY;
  s->licensed = true;
  s->granted_until = T0 + 7 * DAY;
  s->last_attempt = T0;
  strcpy(s->last_notification, "AVMA Success");
  strcpy(s->last_reason, "  leading spaces\tand a tab\nnewline \\ backslash\r end ");
  s->last_success = T0;
  s->failures = 3;
  strcpy(s->host_id, "9d1f7a52-6c0b-4e8e-a7c3-2f5b8e0d4c11");
  strcpy(s->host_name, "h\xc3\xa9te-1");
  strcpy(s->host_version, "2025");
  strcpy(s->vm_name, "\tvm [one] = #1");
  strcpy(s->vm_id, "6e4b0f0a-1111-4222-8333-944455556666");
  s->published = true;
  s->pending_clear = true;
}

static void gstate_round_trip(void **st) {
  (void)st;
  AvmaGState a, b;
  full_state(&a);
  char text[AVMA_GSTATE_TEXT_MAX];
  size_t n = avma_gstate_format(&a, text, sizeof text);
  assert_true(n > 0);
  assert_int_equal(strlen(text), n);
  avma_gstate_init(&b);
  char why[128] = "";
  assert_true(avma_gstate_parse(&b, text, n, why, sizeof why));
  assert_memory_equal(&a, &b, sizeof a);
  /* GKeyFile's escapes: leading blanks, newline, CR and backslash; later tabs stay literal. */
  assert_non_null(strstr(text, "last_reason=\\s\\sleading spaces\tand a tab\\nnewline \\\\ "
                               "backslash\\r end \n"));
  assert_non_null(strstr(text, "vm_name=\\tvm [one] = #1\n"));
  assert_non_null(strstr(text, "[guest]\nid=0b7e1e9c-4a3f-4d2e-9f6a-1c2b3d4e5f60\n\n[key]\n"));
  assert_non_null(strstr(text, "licensed=true\n"));
  assert_non_null(strstr(text, "granted_until=2027-01-22T08:00:00Z\n"));
  /* Too small a buffer: 0, never a cut file. */
  assert_int_equal(avma_gstate_format(&a, text, n), 0);
  assert_int_equal(avma_gstate_format(&a, text, n + 1), n);
}

/* Written by g_key_file_to_data of the Linux agent before the core existed. */
static const char gkeyfile_text[] =
    "[guest]\n"
    "id=0B7E1E9C-4A3F-4D2E-9F6A-1C2B3D4E5F60\n"
    "\n"
    "[key]\n"
    "key=YDFWN-MJ9JR-3DYRK-FXXRW-78VHK\n"
    "installed_at=2027-01-14T08:00:00Z\n"
    "\n"
    "[licence]\n"
    "licensed=true\n"
    "granted_until=2027-01-22T08:00:00Z\n"
    "last_attempt=2027-01-15T08:00:00Z\n"
    "last_success=\n"
    "last_notification=Invalid Host\n"
    "last_reason=\\s\\stwo leading\tand\\nnewline \\\\ back\\r end \n"
    "failures=2\n"
    "\n"
    "[host]\n"
    "id=\n"
    "name=h\xc3\xa9te\n"
    "version=\n"
    "vm_name=\n"
    "vm_id=\n"
    "\n"
    "[kvp]\n"
    "published=false\n"
    "pending_clear=false\n";

static void gstate_loads_gkeyfile_output(void **st) {
  (void)st;
  AvmaGState s;
  avma_gstate_init(&s);
  char why[128];
  assert_true(avma_gstate_parse(&s, gkeyfile_text, strlen(gkeyfile_text), why, sizeof why));
  assert_string_equal(s.guest_id, "0B7E1E9C-4A3F-4D2E-9F6A-1C2B3D4E5F60");
  assert_string_equal(s.key, KEY_2022_STD);
  assert_true(s.key_is_avma); /* derived from the key, not stored */
  assert_int_equal(s.key_version, AVMA_VERSION_2022);
  assert_int_equal(s.key_edition, AVMA_EDITION_STANDARD);
  assert_int_equal(s.key_installed_at, T0 - DAY);
  assert_true(s.licensed);
  assert_int_equal(s.granted_until, T0 + 7 * DAY);
  assert_int_equal(s.last_success, 0);
  assert_string_equal(s.last_notification, "Invalid Host");
  assert_string_equal(s.last_reason, "  two leading\tand\nnewline \\ back\r end ");
  assert_int_equal(s.failures, 2);
  assert_string_equal(s.host_name, "h\xc3\xa9te");
  assert_false(s.published);
  assert_string_equal(avma_gstate_status(&s, T0), "Licensed");
  assert_string_equal(avma_gstate_status(&s, T0 + 8 * DAY), "Unlicensed");
}

static void gstate_lenient_values(void **st) {
  (void)st;
  /* Values GKeyFile's getters read as defaults stay defaults; unknown keys, groups, comments,
   * CRLF line ends and blanks around '=' are fine. */
  const char *text = "# written by hand\r\n"
                     "[guest]\r\n"
                     "id = not-a-uuid\r\n"
                     "[licence]\n"
                     "licensed=yes\n"
                     "granted_until=tomorrow\n"
                     "failures=-1\n"
                     "future_key=1\n"
                     "[kvp]\n"
                     "published=1\n"
                     "pending_clear=0\n"
                     "[later]\n"
                     "x=\\q\n"
                     "[key]\n"
                     "key=" KEY_OTHER "\n";
  AvmaGState s;
  avma_gstate_init(&s);
  char why[128];
  assert_true(avma_gstate_parse(&s, text, strlen(text), why, sizeof why));
  assert_string_equal(s.guest_id, ""); /* the caller makes a new one */
  assert_false(s.licensed);
  assert_int_equal(s.granted_until, 0);
  assert_int_equal(s.failures, 0);
  assert_true(s.published);
  assert_false(s.pending_clear);
  assert_string_equal(s.key, KEY_OTHER);
  assert_false(s.key_is_avma);
  /* An empty file is a fresh state. */
  avma_gstate_init(&s);
  assert_true(avma_gstate_parse(&s, "", 0, why, sizeof why));
}

static void expect_corrupt(const char *text, const char *reason) {
  AvmaGState s;
  avma_gstate_init(&s);
  char why[160] = "";
  assert_false(avma_gstate_parse(&s, text, strlen(text), why, sizeof why));
  if (!strstr(why, reason))
    fail_msg("'%s': reason '%s' lacks '%s'", text, why, reason);
}

static void gstate_corrupt_files(void **st) {
  (void)st;
  expect_corrupt("garbage [[[\n", "line 1: neither a group");
  expect_corrupt("[guest]\nid\n", "line 2: neither a group");
  expect_corrupt("id=x\n[guest]\n", "before any group");
  expect_corrupt("[gu[est]\n", "bad group name");
  expect_corrupt("[]\n", "bad group name");
  expect_corrupt("[guest\n", "bad group name");
  expect_corrupt("[host]\n=x\n", "empty key name");
  expect_corrupt("[licence]\nlast_reason=a\\qb\n", "[licence] last_reason: unknown escape");
  expect_corrupt("[licence]\nlast_reason=ab\\\n", "escape character at end of line");
  expect_corrupt("[host]\nname=\xff\xfe\n", "not UTF-8");
  expect_corrupt("[key]\nkey=" KEY_2022_STD "X\n", "[key] key: value over 29 bytes");
  char big[600];
  memset(big, 'a', sizeof big);
  memcpy(big, "[host]\nname=", 12);
  big[sizeof big - 1] = '\0';
  expect_corrupt(big, "[host] name: value over 255 bytes");
  /* A NUL byte inside the text. */
  const char nul[] = "[host]\nname=a\0b\n";
  AvmaGState s;
  avma_gstate_init(&s);
  char why[64];
  assert_false(avma_gstate_parse(&s, nul, sizeof nul - 1, why, sizeof why));
  assert_non_null(strstr(why, "NUL"));
}

static void gstate_uuid_helpers(void **st) {
  (void)st;
  uint8_t rnd[16];
  for (int i = 0; i < 16; i++)
    rnd[i] = (uint8_t)(0xff - i);
  char id[37];
  avma_uuid_format_v4(rnd, id);
  assert_true(avma_uuid_valid(id));
  assert_int_equal(id[14], '4');
  assert_true(strchr("89ab", id[19]) != NULL);
  assert_false(avma_uuid_valid("0b7e1e9c-4a3f-4d2e-9f6a-1c2b3d4e5f6"));
  assert_false(avma_uuid_valid("0b7e1e9c-4a3f-4d2e-9f6a-1c2b3d4e5f600"));
  assert_false(avma_uuid_valid("0b7e1e9c+4a3f-4d2e-9f6a-1c2b3d4e5f60"));
  assert_false(avma_uuid_valid("0b7e1e9g-4a3f-4d2e-9f6a-1c2b3d4e5f60"));
  assert_false(avma_uuid_valid(""));
  assert_false(avma_uuid_valid(NULL));
}

/* ---- JSON writer and flat reader ------------------------------------------------------------ */

static void json_escaping(void **st) {
  (void)st;
  AvmaBuf b;
  avma_buf_init(&b);
  AvmaJsonObj o;
  avma_json_begin(&o, &b);
  avma_json_str(&o, "ctl", "a\x01\x1b[31m\n\t\x7f");
  avma_json_str(&o, "q", "say \"hi\" \\ /");
  avma_json_str(&o, "bad", "x\xff\xc3(y\xed\xa0\x80");
  avma_json_str(&o, "utf8", "h\xc3\xa9te \xf0\x9f\x98\x80");
  avma_json_int(&o, "n", -42);
  avma_json_bool(&o, "t", true);
  avma_json_str(&o, "null", NULL);
  avma_json_end(&o);
  assert_false(b.failed);
  assert_string_equal(b.data, "{\"ctl\":\"a\\u0001\\u001b[31m\\u000a\\u0009\\u007f\","
                              "\"q\":\"say \\\"hi\\\" \\\\ /\","
                              "\"bad\":\"x\xef\xbf\xbd\xef\xbf\xbd(y\xef\xbf\xbd\xef\xbf\xbd"
                              "\xef\xbf\xbd\","
                              "\"utf8\":\"h\xc3\xa9te \xf0\x9f\x98\x80\","
                              "\"n\":-42,\"t\":true,\"null\":\"\"}");
  /* What the writer produces, the reader reads back. */
  AvmaJsonFlat f;
  char why[96];
  assert_true(avma_json_flat_parse(&f, b.data, b.len, why, sizeof why));
  assert_int_equal(f.n, 7);
  assert_string_equal(avma_json_flat_str(&f, "ctl", NULL), "a\x01\x1b[31m\n\t\x7f");
  assert_string_equal(avma_json_flat_str(&f, "q", NULL), "say \"hi\" \\ /");
  assert_string_equal(avma_json_flat_str(&f, "utf8", NULL), "h\xc3\xa9te \xf0\x9f\x98\x80");
  assert_int_equal(avma_json_flat_get(&f, "n")->num, -42);
  assert_int_equal(avma_json_flat_get(&f, "n")->type, AVMA_JV_INT);
  assert_true(avma_json_flat_get(&f, "t")->boolean);
  assert_string_equal(avma_json_flat_str(&f, "n", "dflt"), "dflt"); /* not a string */
  assert_string_equal(avma_json_flat_str(&f, "absent", "dflt"), "dflt");
  avma_json_flat_free(&f);
  avma_buf_free(&b);
}

static void json_flat_good(void **st) {
  (void)st;
  const char *text = " {\n \"verb\" : \"ipk\" , \"key\":\"a\\u00e9\\ud83d\\ude00\\n\\/\","
                     "\"n\":0,\"big\":9223372036854775807,\"neg\":-9223372036854775808,"
                     "\"f\":false,\"z\":null} \n";
  AvmaJsonFlat f;
  char why[96];
  assert_true(avma_json_flat_parse(&f, text, strlen(text), why, sizeof why));
  assert_int_equal(f.n, 7);
  assert_string_equal(f.m[0].name, "verb");
  assert_string_equal(avma_json_flat_str(&f, "key", NULL), "a\xc3\xa9\xf0\x9f\x98\x80\n/");
  assert_int_equal(avma_json_flat_get(&f, "big")->num, INT64_MAX);
  assert_int_equal(avma_json_flat_get(&f, "neg")->num, INT64_MIN);
  assert_string_equal(avma_json_flat_get(&f, "neg")->text, "-9223372036854775808");
  assert_false(avma_json_flat_get(&f, "f")->boolean);
  assert_string_equal(avma_json_flat_get(&f, "f")->text, "false");
  assert_int_equal(avma_json_flat_get(&f, "z")->type, AVMA_JV_NULL);
  avma_json_flat_free(&f);
  assert_true(avma_json_flat_parse(&f, "{}", 2, why, sizeof why));
  assert_int_equal(f.n, 0);
  avma_json_flat_free(&f);
}

static void expect_json_bad(const char *text, size_t len, const char *reason) {
  AvmaJsonFlat f;
  char why[96] = "";
  assert_false(avma_json_flat_parse(&f, text, len, why, sizeof why));
  assert_int_equal(f.n, 0);
  assert_null(f.m);
  if (!strstr(why, reason))
    fail_msg("'%.*s': reason '%s' lacks '%s'", (int)len, text, why, reason);
}
#define BAD(lit, reason) expect_json_bad(lit, sizeof lit - 1, reason)

static void json_flat_bad(void **st) {
  (void)st;
  BAD("", "not an object");
  BAD("[]", "not an object");
  BAD("\"a\"", "not an object");
  BAD("{\"a\":{\"b\":1}}", "nested");
  BAD("{\"a\":[1]}", "nested");
  BAD("{\"a\":\"b\"", "truncated");
  BAD("{\"a\":", "truncated");
  BAD("{\"a\"", "truncated");
  BAD("{\"a\":\"b", "unterminated string");
  BAD("{\"a\":\"b\\", "unterminated escape");
  BAD("{\"a\":\"\\x\"}", "bad escape");
  BAD("{\"a\":\"\\u12\"}", "bad escape");
  BAD("{\"a\":\"\\u12g4\"}", "bad escape");
  BAD("{\"a\":\"\\ud800\"}", "lone surrogate");
  BAD("{\"a\":\"\\ud800\\u0041\"}", "lone surrogate");
  BAD("{\"a\":\"\\udc00\"}", "lone surrogate");
  BAD("{\"a\":\"\\u0000\"}", "NUL");
  BAD("{\"a\":\"x\ny\"}", "control character");
  BAD("{\"a\":\"\xff\"}", "invalid UTF-8");
  BAD("{\"a\":\"\xc0\xaf\"}", "invalid UTF-8"); /* overlong '/' */
  BAD("{\"a\":1.5}", "not an integer");
  BAD("{\"a\":1e3}", "not an integer");
  BAD("{\"a\":01}", "bad number");
  BAD("{\"a\":-}", "bad number");
  BAD("{\"a\":9223372036854775808}", "out of range");
  BAD("{\"a\":-9223372036854775809}", "out of range");
  BAD("{\"a\":99999999999999999999999}", "out of range");
  BAD("{\"a\":tru}", "bad value");
  BAD("{\"a\":1 \"b\":2}", "expected ','");
  BAD("{\"a\" 1}", "expected ':'");
  BAD("{a:1}", "expected a member name");
  BAD("{\"a\":1,}", "expected a member name");
  BAD("{\"a\":1} x", "trailing");
  BAD("{\"a\":1}{}", "trailing");
  /* Too many members: 65 fail, 64 pass. */
  char text[2048];
  for (int n = 64; n <= 65; n++) {
    size_t len = 0;
    text[len++] = '{';
    for (int i = 0; i < n; i++)
      len += (size_t)snprintf(text + len, sizeof text - len, "%s\"m%d\":%d", i ? "," : "", i, i);
    text[len++] = '}';
    AvmaJsonFlat f;
    char why[96] = "";
    bool ok = avma_json_flat_parse(&f, text, len, why, sizeof why);
    assert_int_equal(ok, n == 64);
    if (ok)
      avma_json_flat_free(&f);
    else
      assert_non_null(strstr(why, "too many members"));
  }
}

/* The lenient reader (the Linux daemon's control requests) leaves out what it does not keep,
 * after checking it; the prefix form reads one object of a list (receipts.json). */
static void json_flat_lenient(void **st) {
  (void)st;
  static const char text[] = "{\"verb\":\"upk\",\"x\":[1,{\"y\":[true,null,\"\\u00e9\"]}],"
                             "\"f\":-1.5e+3,\"big\":99999999999999999999,\"n\":-7,\"o\":{}}";
  AvmaJsonFlat f;
  char why[96];
  assert_false(avma_json_flat_parse(&f, text, sizeof text - 1, why, sizeof why));
  assert_true(avma_json_flat_parse_ex(&f, text, sizeof text - 1, true, NULL, why, sizeof why));
  assert_int_equal(f.n, 2);
  assert_string_equal(f.m[0].name, "verb");
  assert_string_equal(f.m[0].text, "upk");
  assert_string_equal(f.m[1].name, "n");
  assert_int_equal(f.m[1].num, -7);
  avma_json_flat_free(&f);
  /* What it skips must still be JSON. */
  static const char *const bad[] = {"{\"a\":[1,]}", "{\"a\":{\"b\"}}", "{\"a\":[\"\\x\"]}",
                                    "{\"a\":1.}",   "{\"a\":[1 2]}",   "{\"a\":{1:2}}",
                                    "{\"a\":[}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    bool ok = avma_json_flat_parse_ex(&f, bad[i], strlen(bad[i]), true, NULL, why, sizeof why);
    if (ok)
      fail_msg("'%s' accepted", bad[i]);
    assert_true(why[0] != '\0');
    assert_null(f.m);
  }
  /* Prefix: the bytes after the object are the caller's. */
  static const char list[] = "{\"a\":\"b\"} , {\"c\":1}]";
  size_t used = 0;
  assert_true(avma_json_flat_parse_ex(&f, list, sizeof list - 1, false, &used, why, sizeof why));
  assert_int_equal(used, 9);
  assert_string_equal(avma_json_flat_str(&f, "a", ""), "b");
  avma_json_flat_free(&f);
}

static void json_valid(void **st) {
  (void)st;
  char why[96];
  static const char *const good[] = {
      "{}", " [ ] ", "\"x\"", "-0.5E-7", "true", "null", "[{\"a\":[[],{}]},1,\"\\ud83d\\ude00\"]"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
    if (!avma_json_valid(good[i], strlen(good[i]), why, sizeof why))
      fail_msg("'%s' refused: %s", good[i], why);
  static const char *const bad[] = {"",   " ",   "{} {}",     "[1,]",
                                    "01", "tru", "{\"a\" 1}", "\"\\u0000\""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (avma_json_valid(bad[i], strlen(bad[i]), why, sizeof why))
      fail_msg("'%s' accepted", bad[i]);
    assert_true(why[0] != '\0');
  }
  /* Nesting is bounded: 64 levels pass, 65 fail (a hostile line cannot exhaust the stack). */
  char deep[200];
  for (int depth = 64; depth <= 65; depth++) {
    memset(deep, '[', (size_t)depth);
    memset(deep + depth, ']', (size_t)depth);
    bool ok = avma_json_valid(deep, (size_t)depth * 2, why, sizeof why);
    assert_int_equal(ok, depth == 64);
    if (!ok)
      assert_non_null(strstr(why, "nested too deeply"));
  }
}

static void evline_12309_members(void **st) {
  (void)st;
  AvmaGState s;
  full_state(&s);
  AvmaProduct image = {AVMA_VERSION_UNKNOWN, AVMA_EDITION_DATACENTER};
  AvmaBuf b;
  avma_buf_init(&b);
  avma_evline_12309(&b, T0, AVMA_NOTIFY_INVALID_DATA, "bad-reply", "a \"quoted\"\nreason", &s,
                    &image);
  assert_false(b.failed);
  assert_null(strchr(b.data, '\n'));
  AvmaJsonFlat f;
  char why[96];
  assert_true(avma_json_flat_parse(&f, b.data, b.len, why, sizeof why));
  /* The Linux agent's members, in its order (guest.c log_12309 after avma_event_new). */
  static const char *const names[] = {
      "time",      "event_id",     "notification", "reason",        "reason_code",
      "vm",        "vm_uuid",      "guest_id",     "guest_version", "guest_edition",
      "key_last5", "host_version", "host_id",      "host_name",     "granted_until",
  };
  assert_int_equal(f.n, sizeof names / sizeof names[0]);
  for (size_t i = 0; i < f.n; i++)
    assert_string_equal(f.m[i].name, names[i]);
  assert_string_equal(avma_json_flat_str(&f, "time", ""), "2027-01-15T08:00:00Z");
  assert_int_equal(avma_json_flat_get(&f, "event_id")->num, 12309);
  assert_string_equal(avma_json_flat_str(&f, "notification", ""), "Invalid Data");
  assert_string_equal(avma_json_flat_str(&f, "reason", ""), "a \"quoted\"\nreason");
  assert_string_equal(avma_json_flat_str(&f, "reason_code", ""), "bad-reply");
  assert_string_equal(avma_json_flat_str(&f, "vm", ""), s.vm_name);
  assert_string_equal(avma_json_flat_str(&f, "vm_uuid", ""), s.vm_id);
  assert_string_equal(avma_json_flat_str(&f, "guest_id", ""), s.guest_id);
  assert_string_equal(avma_json_flat_str(&f, "guest_version", ""), "2022");       /* from the key */
  assert_string_equal(avma_json_flat_str(&f, "guest_edition", ""), "Datacenter"); /* image */
  assert_string_equal(avma_json_flat_str(&f, "key_last5", ""), "78VHK");
  assert_string_equal(avma_json_flat_str(&f, "host_version", ""), "2025");
  assert_string_equal(avma_json_flat_str(&f, "host_id", ""), s.host_id);
  assert_string_equal(avma_json_flat_str(&f, "host_name", ""), s.host_name);
  assert_string_equal(avma_json_flat_str(&f, "granted_until", ""), "2027-01-22T08:00:00Z");
  avma_json_flat_free(&f);
  /* Unlicensed, no key: empty members, never absent ones. */
  avma_gstate_init(&s);
  avma_buf_free(&b);
  avma_evline_12309(&b, T0, AVMA_NOTIFY_INVALID_HOST, "expired", NULL, &s, NULL);
  assert_true(avma_json_flat_parse(&f, b.data, b.len, why, sizeof why));
  assert_string_equal(avma_json_flat_str(&f, "granted_until", "x"), "");
  assert_string_equal(avma_json_flat_str(&f, "key_last5", "x"), "");
  assert_string_equal(avma_json_flat_str(&f, "guest_version", "x"), "");
  assert_string_equal(avma_json_flat_str(&f, "reason", "x"), "");
  avma_json_flat_free(&f);
  avma_buf_free(&b);
}

/* ---- xchg against a hostile host --------------------------------------------------------- */

typedef struct {
  AvmaDecoder dec;
  AvmaFrame f;
} Decoded;

/* Decode the frame in buf (it must be one). */
static void decode_one(Decoded *d, const uint8_t *buf, size_t len) {
  avma_decoder_init(&d->dec);
  assert_int_equal(avma_decoder_feed(&d->dec, buf, len), len);
  AvmaDecError e;
  assert_int_equal(avma_decoder_next(&d->dec, &d->f, &e), AVMA_DEC_FRAME);
}

/* A host frame of type with n records (views), decoded, fed to x. */
static AvmaXchgStatus host_says(AvmaXchg *x, AvmaMsgType type, uint32_t session, uint32_t seq,
                                const AvmaRecord *recs, size_t n) {
  static uint8_t buf[AVMA_FRAME_MAX_SIZE];
  static Decoded d;
  size_t len = 0;
  char why[128];
  assert_int_equal(
      avma_wire_build(type, 0, session, seq, recs, n, buf, sizeof buf, &len, why, sizeof why),
      AVMA_WIRE_OK);
  decode_one(&d, buf, len);
  return avma_xchg_on_frame(x, &d.f);
}

/* A host frame whose payload is raw bytes (not necessarily a record list). */
static AvmaXchgStatus host_raw(AvmaXchg *x, AvmaMsgType type, uint32_t seq, const void *payload,
                               size_t plen) {
  static uint8_t buf[AVMA_FRAME_MAX_SIZE];
  static Decoded d;
  size_t len = avma_frame_encode(type, 0, SESSION, seq, payload, plen, buf, sizeof buf);
  assert_true(len > 0);
  decode_one(&d, buf, len);
  return avma_xchg_on_frame(x, &d.f);
}

/* An ERROR frame for seq 1 with records encoded as given (values the schema may refuse). */
static AvmaXchgStatus host_raw_recs(AvmaXchg *x, const AvmaRecord *recs, size_t n) {
  static uint8_t payload[AVMA_FRAME_MAX_PAYLOAD];
  size_t plen = 0;
  assert_int_equal(avma_records_encode(recs, n, payload, sizeof payload, &plen), AVMA_KVP_OK);
  return host_raw(x, AVMA_MSG_ERROR, 1, payload, plen);
}

static void activate_xchg(AvmaXchg *x) {
  avma_xchg_init(x, SESSION, "test");
  AvmaRecs r;
  avma_recs_init(&r);
  assert_true(avma_recs_add(&r, AVMA_KEY_AvmaKey, KEY_2022_STD));
  assert_true(avma_xchg_add(x, AVMA_MSG_ACTIVATE, &r));
  assert_int_equal(r.len, 0); /* taken */
}

static void sent_frame(AvmaXchg *x, Decoded *d) {
  static uint8_t buf[AVMA_FRAME_MAX_SIZE];
  char why[128];
  size_t len = avma_xchg_frame(x, buf, sizeof buf, why, sizeof why);
  assert_true(len > 0);
  decode_one(d, buf, len);
}

#define REC(id, v) avma_schema_record(id, v)

static void xchg_success(void **st) {
  (void)st;
  AvmaXchg x;
  activate_xchg(&x);
  static Decoded d;
  sent_frame(&x, &d);
  assert_int_equal(d.f.type, AVMA_MSG_HELLO);
  assert_int_equal(d.f.session, SESSION);
  assert_int_equal(d.f.seq, 1);
  AvmaRecord items[] = {REC(AVMA_KEY_HostName, "kvm1"), REC(AVMA_KEY_VirtualMachineName, "vm1")};
  assert_int_equal(host_says(&x, AVMA_MSG_HELLO_REPLY, SESSION, 1, items, 2), AVMA_XCHG_CONTINUE);
  sent_frame(&x, &d);
  assert_int_equal(d.f.type, AVMA_MSG_ACTIVATE);
  assert_int_equal(d.f.seq, 2);
  AvmaRecord reply[] = {REC(AVMA_KEY_AvmaNotification, "AVMA Success"),
                        REC(AVMA_KEY_AvmaReasonCode, "ok"), REC(AVMA_KEY_AvmaReason, "activated")};
  assert_int_equal(host_says(&x, AVMA_MSG_ACTIVATE_REPLY, SESSION, 2, reply, 3), AVMA_XCHG_DONE);
  const AvmaXchgResult *r = avma_xchg_result(&x);
  assert_non_null(r);
  assert_int_equal(r->notification, AVMA_NOTIFY_SUCCESS);
  assert_string_equal(r->reason_code, "ok");
  assert_string_equal(r->reason, "activated");
  assert_true(r->has_host_items);
  assert_string_equal(avma_recs_get(&r->host_items, AVMA_KEY_HostName), "kvm1");
  assert_true(r->has_reply);
  /* Done: nothing more to send, later frames ignored. */
  uint8_t buf[64];
  assert_int_equal(avma_xchg_frame(&x, buf, sizeof buf, NULL, 0), 0);
  assert_int_equal(host_says(&x, AVMA_MSG_ACTIVATE_REPLY, SESSION, 2, reply, 3), AVMA_XCHG_IGNORED);
  avma_xchg_clear(&x);
}

static void xchg_wrong_session_and_seq(void **st) {
  (void)st;
  AvmaXchg x;
  activate_xchg(&x);
  AvmaRecord reply[] = {REC(AVMA_KEY_AvmaNotification, "AVMA Success")};
  assert_int_equal(host_says(&x, AVMA_MSG_HELLO_REPLY, SESSION + 1, 1, NULL, 0), AVMA_XCHG_IGNORED);
  assert_int_equal(host_says(&x, AVMA_MSG_HELLO_REPLY, 0, 1, NULL, 0), AVMA_XCHG_IGNORED);
  assert_int_equal(host_says(&x, AVMA_MSG_ACTIVATE_REPLY, SESSION, 2, reply, 1), AVMA_XCHG_IGNORED);
  assert_int_equal(host_says(&x, AVMA_MSG_HELLO_REPLY, SESSION, 0, NULL, 0), AVMA_XCHG_IGNORED);
  assert_int_equal(host_says(&x, AVMA_MSG_HELLO_REPLY, SESSION, 0xffffffffu, NULL, 0),
                   AVMA_XCHG_IGNORED);
  assert_null(avma_xchg_result(&x));
  assert_true(x.heard); /* ignored frames still count as an answer */
  assert_int_equal(host_says(&x, AVMA_MSG_HELLO_REPLY, SESSION, 1, NULL, 0), AVMA_XCHG_CONTINUE);
  assert_int_equal(host_says(&x, AVMA_MSG_HELLO_REPLY, SESSION, 1, NULL, 0), AVMA_XCHG_IGNORED);
  /* After a restart the old session's late reply does not count. */
  avma_xchg_restart(&x, SESSION + 7);
  static Decoded d;
  sent_frame(&x, &d);
  assert_int_equal(d.f.type, AVMA_MSG_HELLO);
  assert_int_equal(d.f.session, SESSION + 7);
  assert_int_equal(host_says(&x, AVMA_MSG_ACTIVATE_REPLY, SESSION, 2, reply, 1), AVMA_XCHG_IGNORED);
  avma_xchg_clear(&x);
}

static void xchg_wrong_type(void **st) {
  (void)st;
  AvmaXchg x;
  activate_xchg(&x);
  assert_int_equal(host_says(&x, AVMA_MSG_ACK, SESSION, 1, NULL, 0), AVMA_XCHG_DONE);
  assert_int_equal(avma_xchg_result(&x)->notification, AVMA_NOTIFY_INVALID_DATA);
  assert_string_equal(avma_xchg_result(&x)->reason_code, "reply-mismatch");
  assert_string_equal(avma_xchg_result(&x)->reason, "expected HELLO_REPLY, got ACK");
  avma_xchg_clear(&x);
  /* A request type echoed back is no reply either. */
  activate_xchg(&x);
  assert_int_equal(host_says(&x, AVMA_MSG_HELLO, SESSION, 1, NULL, 0), AVMA_XCHG_DONE);
  assert_string_equal(avma_xchg_result(&x)->reason_code, "reply-mismatch");
  avma_xchg_clear(&x);
}

static void xchg_error_frames(void **st) {
  (void)st;
  AvmaXchg x;
  activate_xchg(&x);
  AvmaRecord err[] = {REC(AVMA_KEY_ErrorCode, "bad-frame"),
                      REC(AVMA_KEY_ErrorMessage, "frame rejected")};
  assert_int_equal(host_says(&x, AVMA_MSG_ERROR, SESSION, 1, err, 2), AVMA_XCHG_DONE);
  assert_int_equal(avma_xchg_result(&x)->notification, AVMA_NOTIFY_INVALID_DATA);
  assert_string_equal(avma_xchg_result(&x)->reason_code, "bad-frame");
  assert_string_equal(avma_xchg_result(&x)->reason, "host refused HELLO: frame rejected");
  avma_xchg_clear(&x);
  /* An ERROR that says nothing. */
  activate_xchg(&x);
  assert_int_equal(host_says(&x, AVMA_MSG_HELLO_REPLY, SESSION, 1, NULL, 0), AVMA_XCHG_CONTINUE);
  assert_int_equal(host_says(&x, AVMA_MSG_ERROR, SESSION, 2, NULL, 0), AVMA_XCHG_DONE);
  assert_string_equal(avma_xchg_result(&x)->reason_code, "host-error");
  assert_string_equal(avma_xchg_result(&x)->reason, "host refused ACTIVATE: no reason given");
  avma_xchg_clear(&x);
}

/* A throttle is back-pressure: the same request again after the retry-after, not Invalid Data;
 * still throttled at the timeout is Invalid Host rate-limited (brief section 6). */
static void xchg_rate_limited(void **st) {
  (void)st;
  AvmaXchg x;
  activate_xchg(&x);
  static Decoded d;
  AvmaRecord lim[] = {REC(AVMA_KEY_ErrorCode, "rate-limited"),
                      REC(AVMA_KEY_ErrorMessage, "too many requests"),
                      REC(AVMA_KEY_ErrorRetryAfterMs, "2500")};
  assert_int_equal(host_says(&x, AVMA_MSG_ERROR, SESSION, 1, lim, 3), AVMA_XCHG_RETRY);
  assert_null(avma_xchg_result(&x));
  assert_int_equal(avma_xchg_retry_after_ms(&x), 2500);
  sent_frame(&x, &d); /* the same HELLO, same seq */
  assert_int_equal(d.f.type, AVMA_MSG_HELLO);
  assert_int_equal(d.f.seq, 1);
  assert_int_equal(host_says(&x, AVMA_MSG_HELLO_REPLY, SESSION, 1, NULL, 0), AVMA_XCHG_CONTINUE);
  /* Throttled on ACTIVATE, then answered: the outcome is the answer. */
  assert_int_equal(host_says(&x, AVMA_MSG_ERROR, SESSION, 2, lim, 3), AVMA_XCHG_RETRY);
  sent_frame(&x, &d);
  assert_int_equal(d.f.type, AVMA_MSG_ACTIVATE);
  assert_int_equal(d.f.seq, 2);
  AvmaRecord reply[] = {REC(AVMA_KEY_AvmaNotification, "AVMA Success")};
  assert_int_equal(host_says(&x, AVMA_MSG_ACTIVATE_REPLY, SESSION, 2, reply, 1), AVMA_XCHG_DONE);
  assert_int_equal(avma_xchg_result(&x)->notification, AVMA_NOTIFY_SUCCESS);
  avma_xchg_clear(&x);

  /* Still throttled when the timeout ends. */
  activate_xchg(&x);
  assert_int_equal(host_says(&x, AVMA_MSG_ERROR, SESSION, 1, lim, 3), AVMA_XCHG_RETRY);
  avma_xchg_on_timeout(&x);
  assert_int_equal(avma_xchg_result(&x)->notification, AVMA_NOTIFY_INVALID_HOST);
  assert_string_equal(avma_xchg_result(&x)->reason_code, "rate-limited");
  avma_xchg_clear(&x);

  /* A hostile retry-after is clamped: never a tight loop, never a long silence. */
  const struct {
    const char *v;
    uint32_t want;
  } cases[] = {{"0", AVMA_XCHG_RETRY_MIN_MS},          {"5", AVMA_XCHG_RETRY_MIN_MS},
               {"4294967295", AVMA_XCHG_RETRY_MAX_MS}, {"9999999999", AVMA_XCHG_RETRY_MAX_MS},
               {"12x", AVMA_XCHG_RETRY_DEFAULT_MS},    {"", AVMA_XCHG_RETRY_DEFAULT_MS}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    activate_xchg(&x);
    AvmaRecord one[] = {REC(AVMA_KEY_ErrorCode, "rate-limited"),
                        REC(AVMA_KEY_ErrorRetryAfterMs, cases[i].v)};
    AvmaXchgStatus got = host_raw_recs(&x, one, 2);
    if (got == AVMA_XCHG_RETRY)
      assert_int_equal(avma_xchg_retry_after_ms(&x), cases[i].want);
    else /* a value the schema refuses makes the whole reply bad, which is fine too */
      assert_int_equal(avma_xchg_result(&x)->notification, AVMA_NOTIFY_INVALID_DATA);
    avma_xchg_clear(&x);
  }
  /* Without a retry-after: the default. */
  activate_xchg(&x);
  AvmaRecord bare[] = {REC(AVMA_KEY_ErrorCode, "rate-limited")};
  assert_int_equal(host_says(&x, AVMA_MSG_ERROR, SESSION, 1, bare, 1), AVMA_XCHG_RETRY);
  assert_int_equal(avma_xchg_retry_after_ms(&x), AVMA_XCHG_RETRY_DEFAULT_MS);
  /* Any other error after a throttle still ends the exchange as before. */
  AvmaRecord other[] = {REC(AVMA_KEY_ErrorCode, "bad-frame")};
  assert_int_equal(host_says(&x, AVMA_MSG_ERROR, SESSION, 1, other, 1), AVMA_XCHG_DONE);
  assert_int_equal(avma_xchg_result(&x)->notification, AVMA_NOTIFY_INVALID_DATA);
  avma_xchg_clear(&x);
}

static void xchg_bad_records(void **st) {
  (void)st;
  AvmaXchg x;
  /* A payload that is no record list. */
  activate_xchg(&x);
  assert_int_equal(host_raw(&x, AVMA_MSG_HELLO_REPLY, 1, "\x00", 1), AVMA_XCHG_DONE);
  assert_int_equal(avma_xchg_result(&x)->notification, AVMA_NOTIFY_INVALID_DATA);
  assert_string_equal(avma_xchg_result(&x)->reason_code, "bad-reply");
  assert_string_equal(avma_xchg_result(&x)->reason, "bad records: truncated");
  avma_xchg_clear(&x);
  /* An empty payload. */
  activate_xchg(&x);
  assert_int_equal(host_raw(&x, AVMA_MSG_HELLO_REPLY, 1, NULL, 0), AVMA_XCHG_DONE);
  assert_string_equal(avma_xchg_result(&x)->reason_code, "bad-reply");
  avma_xchg_clear(&x);
  /* A key the host may not write. */
  activate_xchg(&x);
  AvmaRecord guestkey[] = {REC(AVMA_KEY_AvmaKey, KEY_2022_STD)};
  assert_int_equal(host_says(&x, AVMA_MSG_HELLO_REPLY, SESSION, 1, guestkey, 1), AVMA_XCHG_DONE);
  assert_string_equal(avma_xchg_result(&x)->reason, "record AvmaKey (guest): wrong-writer");
  avma_xchg_clear(&x);
  /* An unknown key full of terminal escapes and bidi controls, 200 bytes long: the reason
   * quotes at most 64 bytes of it, cut at a character boundary, controls replaced. */
  activate_xchg(&x);
  char key[210];
  size_t k = 0;
  memcpy(key + k, "\x1b]0;pwn\x07", 8), k += 8;
  memcpy(key + k, "\xe2\x80\xae", 3), k += 3; /* U+202E */
  memcpy(key + k, "\xc2\x9b", 2), k += 2;     /* U+009B, a C1 CSI */
  while (k < 200)
    memcpy(key + k, "\xc3\xa9", 2), k += 2; /* 'é': a 64-byte cut would split one */
  key[k] = '\0';
  AvmaRecord evil = {AVMA_POOL_AUTO_EXTERNAL, key, k, "v", 1};
  assert_int_equal(host_says(&x, AVMA_MSG_HELLO_REPLY, SESSION, 1, &evil, 1), AVMA_XCHG_DONE);
  const char *why = avma_xchg_result(&x)->reason;
  assert_true(avma_text_safe(why, strlen(why)));
  assert_non_null(strstr(why, "record ?]0;pwn???"));
  assert_non_null(strstr(why, " (auto-external): unknown-key"));
  size_t quoted = (size_t)(strstr(why, " (auto-external)") - why) - strlen("record ");
  assert_true(quoted <= 64);
  avma_xchg_clear(&x);
  /* A bad value type. */
  activate_xchg(&x);
  AvmaRecord badval[] = {REC(AVMA_KEY_VirtualMachineId, "not-a-uuid")};
  assert_int_equal(host_says(&x, AVMA_MSG_HELLO_REPLY, SESSION, 1, badval, 1), AVMA_XCHG_DONE);
  assert_string_equal(avma_xchg_result(&x)->reason_code, "bad-reply");
  avma_xchg_clear(&x);
}

static void xchg_reply_without_notification(void **st) {
  (void)st;
  AvmaXchg x;
  activate_xchg(&x);
  assert_int_equal(host_says(&x, AVMA_MSG_HELLO_REPLY, SESSION, 1, NULL, 0), AVMA_XCHG_CONTINUE);
  AvmaRecord reply[] = {REC(AVMA_KEY_AvmaReasonCode, "ok")};
  assert_int_equal(host_says(&x, AVMA_MSG_ACTIVATE_REPLY, SESSION, 2, reply, 1), AVMA_XCHG_DONE);
  assert_int_equal(avma_xchg_result(&x)->notification, AVMA_NOTIFY_INVALID_DATA);
  assert_string_equal(avma_xchg_result(&x)->reason, "reply carries no notification");
  avma_xchg_clear(&x);
  activate_xchg(&x);
  host_says(&x, AVMA_MSG_HELLO_REPLY, SESSION, 1, NULL, 0);
  AvmaRecord denied[] = {REC(AVMA_KEY_AvmaNotification, "Activation Denied"),
                         REC(AVMA_KEY_AvmaReasonCode, "not-avma-key")};
  assert_int_equal(host_says(&x, AVMA_MSG_ACTIVATE_REPLY, SESSION, 2, denied, 2), AVMA_XCHG_DONE);
  assert_int_equal(avma_xchg_result(&x)->notification, AVMA_NOTIFY_DENIED);
  assert_string_equal(avma_xchg_result(&x)->reason_code, "not-avma-key");
  assert_string_equal(avma_xchg_result(&x)->reason, "");
  avma_xchg_clear(&x);
}

static void xchg_timeouts(void **st) {
  (void)st;
  AvmaXchg x;
  activate_xchg(&x);
  avma_xchg_on_timeout(&x);
  assert_int_equal(avma_xchg_result(&x)->notification, AVMA_NOTIFY_INVALID_HOST);
  assert_string_equal(avma_xchg_result(&x)->reason_code, "no-answer");
  avma_xchg_clear(&x);
  activate_xchg(&x);
  avma_xchg_on_noise(&x);
  avma_xchg_on_timeout(&x);
  assert_int_equal(avma_xchg_result(&x)->notification, AVMA_NOTIFY_INVALID_DATA);
  assert_string_equal(avma_xchg_result(&x)->reason_code, "no-valid-reply");
  /* The first outcome stands. */
  avma_xchg_on_timeout(&x);
  assert_string_equal(avma_xchg_result(&x)->reason_code, "no-valid-reply");
  avma_xchg_clear(&x);
}

static void xchg_acknowledged_requests(void **st) {
  (void)st;
  AvmaXchg x;
  avma_xchg_init(&x, SESSION, NULL);
  assert_true(avma_xchg_add(&x, AVMA_MSG_DELETE, NULL));
  assert_int_equal(host_says(&x, AVMA_MSG_HELLO_REPLY, SESSION, 1, NULL, 0), AVMA_XCHG_CONTINUE);
  assert_int_equal(host_says(&x, AVMA_MSG_RESULT, SESSION, 2, NULL, 0), AVMA_XCHG_DONE);
  assert_string_equal(avma_xchg_result(&x)->reason_code, "reply-mismatch");
  avma_xchg_clear(&x);
  avma_xchg_init(&x, SESSION, NULL);
  assert_true(avma_xchg_add(&x, AVMA_MSG_DELETE, NULL));
  host_says(&x, AVMA_MSG_HELLO_REPLY, SESSION, 1, NULL, 0);
  assert_int_equal(host_says(&x, AVMA_MSG_ACK, SESSION, 2, NULL, 0), AVMA_XCHG_DONE);
  assert_int_equal(avma_xchg_result(&x)->notification, AVMA_NOTIFY_SUCCESS);
  assert_string_equal(avma_xchg_result(&x)->reason, "request acknowledged");
  avma_xchg_clear(&x);
  /* The step table is bounded; a refused add leaves the records with the caller. */
  avma_xchg_init(&x, SESSION, NULL);
  for (int i = 1; i < AVMA_XCHG_MAX_STEPS; i++)
    assert_true(avma_xchg_add(&x, AVMA_MSG_SET, NULL));
  AvmaRecs r;
  avma_recs_init(&r);
  avma_recs_add(&r, AVMA_KEY_OSName, "Linux");
  assert_false(avma_xchg_add(&x, AVMA_MSG_SET, &r));
  assert_int_equal(r.len, 1);
  avma_recs_clear(&r);
  avma_xchg_clear(&x);
}

/* ---- decode stream ------------------------------------------------------------------------ */

typedef struct {
  int frames, noise, stop_after;
  uint32_t last_seq;
} Counts;

static bool count_frame(const AvmaFrame *f, void *user) {
  Counts *c = user;
  c->frames++;
  c->last_seq = f->seq;
  return !c->stop_after || c->frames < c->stop_after;
}

static bool count_noise(const AvmaDecError *e, void *user) {
  (void)e;
  ((Counts *)user)->noise++;
  return true;
}

/* frames of seq 1..n separated by garbage, into buf; returns the length. */
static size_t stream(uint8_t *buf, size_t cap, int n, size_t payload) {
  static uint8_t pl[AVMA_FRAME_MAX_PAYLOAD];
  memset(pl, 'x', sizeof pl);
  size_t len = 0;
  for (int i = 1; i <= n; i++) {
    memcpy(buf + len, "garbage!", 8), len += 8;
    size_t k =
        avma_frame_encode(AVMA_MSG_ACK, 0, SESSION, (uint32_t)i, pl, payload, buf + len, cap - len);
    assert_true(k > 0);
    len += k;
  }
  return len;
}

static void decode_stream_frames_and_noise(void **st) {
  (void)st;
  static uint8_t buf[8 * AVMA_FRAME_MAX_SIZE];
  static AvmaDecoder d;
  size_t len = stream(buf, sizeof buf, 3, 10);
  Counts c = {0};
  avma_decoder_init(&d);
  assert_int_equal(avma_decode_stream(&d, buf, len, count_frame, count_noise, &c), len);
  assert_int_equal(c.frames, 3);
  assert_int_equal(c.noise, 3);
  assert_int_equal(c.last_seq, 3);
  /* Byte by byte: the same frames. */
  Counts c1 = {0};
  avma_decoder_init(&d);
  for (size_t i = 0; i < len; i++)
    assert_int_equal(avma_decode_stream(&d, buf + i, 1, count_frame, count_noise, &c1), 1);
  assert_int_equal(c1.frames, 3);
  assert_true(c1.noise >= 1);
  /* More than the decoder holds at once (six maximum frames): all consumed, all found. */
  len = stream(buf, sizeof buf, 6, AVMA_FRAME_MAX_PAYLOAD);
  Counts c2 = {0};
  avma_decoder_init(&d);
  assert_int_equal(avma_decode_stream(&d, buf, len, count_frame, NULL, &c2), len);
  assert_int_equal(c2.frames, 6);
  /* A callback that drops the decoder stops the loop at once. */
  Counts c3 = {.stop_after = 2};
  avma_decoder_init(&d);
  size_t used = avma_decode_stream(&d, buf, len, count_frame, count_noise, &c3);
  assert_int_equal(c3.frames, 2);
  assert_true(used < len);
  /* Nothing in, nothing out. */
  Counts c4 = {0};
  avma_decoder_init(&d);
  assert_int_equal(avma_decode_stream(&d, buf, 0, count_frame, count_noise, &c4), 0);
  assert_int_equal(c4.frames + c4.noise, 0);
}

/* ---- wire --------------------------------------------------------------------------------- */

static void wire_build_limits(void **st) {
  (void)st;
  static uint8_t buf[AVMA_FRAME_MAX_SIZE];
  size_t len = 1;
  char why[128];
  AvmaRecord ok = REC(AVMA_KEY_OSName, "Linux");
  assert_int_equal(avma_wire_build(AVMA_MSG_SET, 0, 1, 1, &ok, 1, buf, 20, &len, why, sizeof why),
                   AVMA_WIRE_TOO_BIG);
  assert_int_equal(len, 0);
  assert_string_equal(why, "cannot encode 1 records: no-space");
  AvmaRecord bad = {AVMA_POOL_GUEST, "", 0, "", 0};
  assert_int_equal(
      avma_wire_build(AVMA_MSG_SET, 0, 1, 1, &bad, 1, buf, sizeof buf, &len, why, sizeof why),
      AVMA_WIRE_RECORDS);
  assert_int_equal(
      avma_wire_build((AvmaMsgType)0x77, 0, 1, 1, NULL, 0, buf, sizeof buf, &len, why, sizeof why),
      AVMA_WIRE_TOO_BIG);
  assert_string_equal(why, "cannot encode frame");
  assert_int_equal(avma_wire_build(AVMA_MSG_SET, 0, 1, 1, &ok, 1, buf, sizeof buf, &len, NULL, 0),
                   AVMA_WIRE_OK);
  static Decoded d;
  decode_one(&d, buf, len);
  AvmaRecord out[AVMA_KVP_MAX_RECORDS];
  size_t n = 0;
  assert_int_equal(avma_wire_parse(&d.f, AVMA_WIRE_FROM_GUEST, out, &n, why, sizeof why),
                   AVMA_WIRE_OK);
  assert_int_equal(n, 1);
  assert_int_equal(avma_wire_parse(&d.f, AVMA_WIRE_FROM_HOST, out, &n, why, sizeof why),
                   AVMA_WIRE_SCHEMA);
  assert_string_equal(why, "record OSName (auto): wrong-writer");
  assert_int_equal(avma_wire_parse(&d.f, AVMA_WIRE_KEYS, out, &n, why, sizeof why), AVMA_WIRE_OK);
}

/* ---- agent -------------------------------------------------------------------------------- */

static const AvmaTiming timing = {.request_timeout = 10,
                                  .renew_interval = DAY,
                                  .retry_initial = 60,
                                  .retry_max = 7200,
                                  .presence_interval = 2};

static void agent_install_avma_key(void **st) {
  (void)st;
  AvmaGState s;
  avma_gstate_init(&s);
  AvmaSchedule sched = {0};
  AvmaProduct image = {AVMA_VERSION_2022, AVMA_EDITION_STANDARD};
  bool act = false;
  char msg[256], why[256];
  assert_true(avma_agent_install_key(&s, &sched, &image, " ydfwn-mj9jr-3dyrk-fxxrw-78vhk ", T0,
                                     &act, msg, sizeof msg, why, sizeof why));
  assert_true(act);
  assert_string_equal(msg, "Installed AVMA key for Windows Server 2022 Standard (partial key "
                           "78VHK).");
  assert_string_equal(s.key, KEY_2022_STD);
  assert_true(s.key_is_avma);
  assert_int_equal(s.key_installed_at, T0);
  assert_null(avma_agent_cannot_activate(&s));
  /* The request carries the key and the declared product. */
  AvmaRecs req;
  avma_recs_init(&req);
  assert_true(avma_agent_activate_request(&s, &image, &req));
  assert_string_equal(avma_recs_get(&req, AVMA_KEY_AvmaKey), KEY_2022_STD);
  assert_string_equal(avma_recs_get(&req, AVMA_KEY_AvmaProductVersion), "2022");
  assert_string_equal(avma_recs_get(&req, AVMA_KEY_AvmaProductEdition), "Standard");
  avma_recs_clear(&req);
}

static void agent_install_binding_errors(void **st) {
  (void)st;
  AvmaGState s;
  avma_gstate_init(&s);
  AvmaSchedule sched = {0};
  bool act = true;
  char msg[256] = "", why[256];
  AvmaProduct dc2019 = {AVMA_VERSION_2019, AVMA_EDITION_DATACENTER};
  assert_false(avma_agent_install_key(&s, &sched, &dc2019, KEY_2022_STD, T0, &act, msg, sizeof msg,
                                      why, sizeof why));
  assert_false(act);
  assert_string_equal(why, "key " KEY_2022_STD " is for Windows Server 2022 Standard, but this "
                           "image is Windows Server 2019 Datacenter: its AVMA key is "
                           "H3RNG-8C32Q-Q8FRX-6TDXV-WMBMW");
  assert_string_equal(s.key, ""); /* nothing changed */
  AvmaProduct ess2022 = {AVMA_VERSION_2022, AVMA_EDITION_ESSENTIALS};
  assert_false(avma_agent_install_key(&s, &sched, &ess2022, KEY_2022_STD, T0, &act, msg, sizeof msg,
                                      why, sizeof why));
  assert_non_null(strstr(why, "(no AVMA key exists for it)"));
  /* Not a key at all; the user's text is quoted safely. */
  assert_false(avma_agent_install_key(&s, &sched, NULL, "\x1b[2Jnope", T0, &act, msg, sizeof msg,
                                      why, sizeof why));
  assert_string_equal(why, "'?[2Jnope' is not a product key: expected five groups of five "
                           "characters like XXXXX-XXXXX-XXXXX-XXXXX-XXXXX");
  assert_false(avma_agent_install_key(&s, &sched, NULL, "YDFWN-MJ9JR-3DYRK-FXXRW-78VHA", T0, &act,
                                      msg, sizeof msg, why, sizeof why));
  assert_string_equal(s.key, "");
}

static void agent_non_avma_key_clears(void **st) {
  (void)st;
  AvmaGState s;
  avma_gstate_init(&s);
  AvmaSchedule sched;
  avma_schedule_start(&sched, false, 0, T0);
  bool act = false;
  char msg[256], why[256];
  assert_true(avma_agent_install_key(&s, &sched, NULL, KEY_2022_STD, T0, &act, msg, sizeof msg, why,
                                     sizeof why));
  s.published = true;
  s.licensed = true;
  s.granted_until = T0 + DAY;
  assert_true(avma_agent_install_key(&s, &sched, NULL, KEY_OTHER, T0, &act, msg, sizeof msg, why,
                                     sizeof why));
  assert_false(act);
  assert_false(s.key_is_avma);
  assert_false(s.licensed);
  assert_true(s.pending_clear);
  assert_int_equal(sched.next_attempt, 0); /* AVMA stops */
  assert_string_equal(msg, "Installed product key 46789, which is not an AVMA key: AVMA "
                           "activation stops and its KVP data is removed from the host.");
  assert_string_equal(avma_agent_cannot_activate(&s), "the installed key is not an AVMA key");
  /* The clear went through: nothing published, nothing due. */
  avma_agent_clear_done(&s, &sched, &timing, true, T0);
  assert_false(s.pending_clear);
  assert_false(s.published);
  /* Nothing was published: nothing to clear. */
  avma_gstate_init(&s);
  assert_true(avma_agent_install_key(&s, &sched, NULL, KEY_OTHER, T0, &act, msg, sizeof msg, why,
                                     sizeof why));
  assert_false(s.pending_clear);
  assert_null(strstr(msg, "removed"));
}

static void agent_uninstall(void **st) {
  (void)st;
  AvmaGState s;
  avma_gstate_init(&s);
  AvmaSchedule sched = {0};
  char msg[256];
  avma_agent_uninstall_key(&s, &sched, msg, sizeof msg);
  assert_string_equal(msg, "No product key was installed.");
  assert_string_equal(avma_agent_cannot_activate(&s), "no key installed: run avma-guest ipk KEY");
  strcpy(s.key, KEY_2022_STD);
  s.key_is_avma = true;
  s.published = true;
  sched.next_attempt = T0;
  avma_agent_uninstall_key(&s, &sched, msg, sizeof msg);
  assert_string_equal(msg, "Product key uninstalled; its KVP data is removed from the host.");
  assert_string_equal(s.key, "");
  assert_false(s.key_is_avma);
  assert_true(s.pending_clear);
  assert_int_equal(sched.next_attempt, 0);
  /* A failed clear is retried with back-off. */
  avma_agent_clear_done(&s, &sched, &timing, false, T0);
  assert_true(s.pending_clear);
  assert_int_equal(sched.next_attempt, T0 + 60);
}

/* A finished exchange result with the given reply records. */
static void result_with(AvmaXchgResult *r, AvmaNotification n, const AvmaRecord *reply, size_t nr) {
  memset(r, 0, sizeof *r);
  r->notification = n;
  strcpy(r->reason, n == AVMA_NOTIFY_SUCCESS ? "activated" : "host unlicensed");
  avma_recs_init(&r->host_items);
  avma_recs_init(&r->reply);
  r->has_host_items = true;
  avma_recs_add(&r->host_items, AVMA_KEY_HostName, "kvm1");
  avma_recs_add(&r->host_items, AVMA_KEY_VirtualMachineName, "vm \"one\"");
  avma_recs_add(&r->host_items, AVMA_KEY_VirtualMachineId, "6e4b0f0a-1111-4222-8333-944455556666");
  r->has_reply = nr > 0;
  avma_recs_copy_from(&r->reply, reply, nr);
}

static void agent_apply_and_expire(void **st) {
  (void)st;
  AvmaGState s;
  avma_gstate_init(&s);
  strcpy(s.key, KEY_2022_STD);
  s.key_is_avma = true;
  AvmaSchedule sched;
  avma_schedule_start(&sched, false, 0, T0);
  /* The host's clock is a year ahead: the validity (7 days) still applies to ours. */
  AvmaRecord ok[] = {REC(AVMA_KEY_AvmaNotification, "AVMA Success"),
                     REC(AVMA_KEY_AvmaActivationTime, "2028-01-15T08:00:00Z"),
                     REC(AVMA_KEY_AvmaGrantedUntil, "2028-01-22T08:00:00Z"),
                     REC(AVMA_KEY_AvmaHostId, "9d1f7a52-6c0b-4e8e-a7c3-2f5b8e0d4c11"),
                     REC(AVMA_KEY_AvmaHostVersion, "2025")};
  AvmaXchgResult r;
  result_with(&r, AVMA_NOTIFY_SUCCESS, ok, 5);
  avma_agent_apply_result(&s, &sched, &timing, &r, T0);
  assert_true(s.licensed);
  assert_int_equal(s.granted_until, T0 + 7 * DAY);
  assert_int_equal(s.last_success, T0);
  assert_true(s.published);
  assert_string_equal(s.last_notification, "AVMA Success");
  assert_string_equal(s.host_name, "kvm1");
  assert_string_equal(s.vm_name, "vm \"one\"");
  assert_string_equal(s.host_version, "2025");
  assert_int_equal(sched.next_attempt, T0 + DAY);
  avma_recs_clear(&r.host_items);
  avma_recs_clear(&r.reply);
  /* Two failures: counted, backed off; the grant stays in force. */
  result_with(&r, AVMA_NOTIFY_INVALID_HOST, NULL, 0);
  avma_agent_apply_result(&s, &sched, &timing, &r, T0 + DAY);
  avma_agent_apply_result(&s, &sched, &timing, &r, T0 + DAY + 60);
  assert_int_equal(s.failures, 2);
  assert_int_equal(sched.next_attempt, T0 + DAY + 60 + 120);
  assert_true(s.licensed);
  assert_string_equal(s.last_reason, "host unlicensed");
  avma_recs_clear(&r.host_items);
  avma_recs_clear(&r.reply);
  /* Expiry: once, with the last attempt's failure. */
  AvmaNotification n = AVMA_NOTIFY_SUCCESS;
  char why[700];
  assert_false(avma_agent_expire(&s, &sched, T0 + 7 * DAY - 1, &n, why, sizeof why));
  assert_true(avma_agent_expire(&s, &sched, T0 + 7 * DAY, &n, why, sizeof why));
  assert_int_equal(n, AVMA_NOTIFY_INVALID_HOST);
  assert_string_equal(why, "licence validity ended at 2027-01-22T08:00:00Z without a renewal; "
                           "last attempt: Invalid Host (host unlicensed)");
  assert_false(s.licensed);
  assert_string_equal(avma_gstate_status(&s, T0 + 7 * DAY), "Notification");
  assert_false(avma_agent_expire(&s, &sched, T0 + 8 * DAY, &n, why, sizeof why));
  /* A success with no usable grant times is no licence. */
  AvmaRecord nogrant[] = {REC(AVMA_KEY_AvmaNotification, "AVMA Success")};
  result_with(&r, AVMA_NOTIFY_SUCCESS, nogrant, 1);
  avma_agent_apply_result(&s, &sched, &timing, &r, T0 + 8 * DAY);
  assert_false(s.licensed);
  avma_recs_clear(&r.host_items);
  avma_recs_clear(&r.reply);
}

static void agent_product(void **st) {
  (void)st;
  AvmaGState s;
  avma_gstate_init(&s);
  s.key_version = AVMA_VERSION_2016;
  s.key_edition = AVMA_EDITION_STANDARD;
  AvmaProduct none = {0}, ver = {AVMA_VERSION_2019, AVMA_EDITION_UNKNOWN};
  AvmaProduct p = avma_agent_product(&s, &none);
  assert_int_equal(p.version, AVMA_VERSION_2016);
  assert_int_equal(p.edition, AVMA_EDITION_STANDARD);
  p = avma_agent_product(&s, &ver);
  assert_int_equal(p.version, AVMA_VERSION_2019);
  assert_int_equal(p.edition, AVMA_EDITION_STANDARD);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(rfc3339_known_values),
      cmocka_unit_test(rfc3339_empty_and_out_of_range),
      cmocka_unit_test(rfc3339_offsets_and_fractions),
      cmocka_unit_test(rfc3339_bad_input),
      cmocka_unit_test(gstate_round_trip),
      cmocka_unit_test(gstate_loads_gkeyfile_output),
      cmocka_unit_test(gstate_lenient_values),
      cmocka_unit_test(gstate_corrupt_files),
      cmocka_unit_test(gstate_uuid_helpers),
      cmocka_unit_test(json_escaping),
      cmocka_unit_test(json_flat_good),
      cmocka_unit_test(json_flat_bad),
      cmocka_unit_test(json_flat_lenient),
      cmocka_unit_test(json_valid),
      cmocka_unit_test(evline_12309_members),
      cmocka_unit_test(xchg_success),
      cmocka_unit_test(xchg_wrong_session_and_seq),
      cmocka_unit_test(xchg_wrong_type),
      cmocka_unit_test(xchg_error_frames),
      cmocka_unit_test(xchg_rate_limited),
      cmocka_unit_test(xchg_bad_records),
      cmocka_unit_test(xchg_reply_without_notification),
      cmocka_unit_test(xchg_timeouts),
      cmocka_unit_test(xchg_acknowledged_requests),
      cmocka_unit_test(decode_stream_frames_and_noise),
      cmocka_unit_test(wire_build_limits),
      cmocka_unit_test(agent_install_avma_key),
      cmocka_unit_test(agent_install_binding_errors),
      cmocka_unit_test(agent_non_avma_key_clears),
      cmocka_unit_test(agent_uninstall),
      cmocka_unit_test(agent_apply_and_expire),
      cmocka_unit_test(agent_product),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
