/* The guest's control-socket request parser: every malformed line is an error, never a crash
 * (json-glib's string getters return NULL for "verb": null, which the old handler passed to
 * strcmp). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <gio/gio.h>
#include <string.h>

#include "control-request.h"

static gboolean parse(const char *line, AvmaControlRequest *r, GError **err) {
  return avma_control_request_parse(line, strlen(line), r, err);
}

static void test_valid(void **state) {
  (void)state;
  AvmaControlRequest r;
  assert_true(parse("{\"verb\":\"ato\"}", &r, NULL));
  assert_int_equal(r.verb, AVMA_CONTROL_ATO);
  assert_null(r.key);
  assert_true(parse("{\"verb\":\"upk\",\"extra\":[1,2]}", &r, NULL));
  assert_int_equal(r.verb, AVMA_CONTROL_UPK);
  assert_true(parse("{\"verb\":\"port\"}", &r, NULL));
  assert_int_equal(r.verb, AVMA_CONTROL_PORT);
  assert_null(r.key);
  assert_true(parse("{\"verb\":\"ipk\",\"key\":\"ABCDE\"}", &r, NULL));
  assert_int_equal(r.verb, AVMA_CONTROL_IPK);
  assert_string_equal(r.key, "ABCDE");
  avma_control_request_clear(&r);
  assert_null(r.key);
}

static void expect_invalid(const char *line, GQuark domain, int code, const char *needle) {
  AvmaControlRequest r;
  g_autoptr(GError) err = NULL;
  assert_false(parse(line, &r, &err));
  assert_non_null(err);
  assert_true(g_error_matches(err, domain, code));
  if (!strstr(err->message, needle))
    fail_msg("'%s': message '%s' lacks '%s'", line, err->message, needle);
  assert_null(r.key);
}

static void test_malformed(void **state) {
  (void)state;
  expect_invalid("{\"verb\":null}", G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "\"verb\"");
  expect_invalid("{\"verb\":7}", G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "\"verb\"");
  expect_invalid("{\"verb\":{\"a\":1}}", G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "\"verb\"");
  expect_invalid("{\"verb\":[\"ato\"]}", G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "\"verb\"");
  expect_invalid("{}", G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "\"verb\"");
  expect_invalid("{\"verb\":\"ipk\"}", G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "\"key\"");
  expect_invalid("{\"verb\":\"ipk\",\"key\":null}", G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "\"key\"");
  expect_invalid("{\"verb\":\"ipk\",\"key\":{}}", G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "\"key\"");
  expect_invalid("[\"ato\"]", G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "not a JSON object");
  expect_invalid("\"ato\"", G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "not a JSON object");
  expect_invalid("", G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "");
  expect_invalid("{\"verb\":", G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "not JSON");
  expect_invalid("{\"verb\":\"rm -rf\\u001b[2J\"}", G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "unknown verb 'rm -rf?[2J'");
}

static void test_too_long(void **state) {
  (void)state;
  gsize n = AVMA_CONTROL_MAX_REQUEST + 1;
  g_autofree char *line = g_malloc(n + 1);
  memset(line, ' ', n);
  memcpy(line, "{\"verb\":\"ato\"}", 14);
  line[n] = '\0';
  AvmaControlRequest r;
  g_autoptr(GError) err = NULL;
  assert_false(avma_control_request_parse(line, n, &r, &err));
  assert_non_null(strstr(err->message, "longer than"));
  /* One byte less is a valid request with trailing blanks. */
  assert_true(avma_control_request_parse(line, n - 1, &r, NULL));
}

static void test_embedded_nul(void **state) {
  (void)state;
  static const char line[] = "{\"verb\":\"ato\"}\0garbage";
  AvmaControlRequest r;
  g_autoptr(GError) err = NULL;
  assert_false(avma_control_request_parse(line, sizeof line - 1, &r, &err));
  assert_non_null(err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_too_long),
      cmocka_unit_test(test_embedded_nul),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
