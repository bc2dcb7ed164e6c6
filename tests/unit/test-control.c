/* The guest's control-socket request parser: every malformed line is an error, never a crash
 * (json-glib's string getters return NULL for "verb": null, which the old handler passed to
 * strcmp). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <gio/gio.h>
#include <stdlib.h>
#include <string.h>

#include "control-request.h"
#include "control.h"
#include "guest.h"

#include <glib/gstdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

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

/* The daemon's socket (control.c): plain sockets on the main loop, one request per connection. */
typedef struct {
  char *dir, *sock;
  AvmaGuestConfig *config;
  AvmaGuest *guest;
  AvmaControl *control;
} Server;

static void server_up(Server *s) {
  s->dir = g_dir_make_tmp("avma-test-control-XXXXXX", NULL);
  assert_non_null(s->dir);
  g_autofree char *port = g_build_filename(s->dir, "no-port", NULL);
  g_autofree char *conf = g_build_filename(s->dir, "guest.conf", NULL);
  assert_true(g_file_set_contents(conf, "[guest]\njournal=no\n", -1, NULL));
  g_autoptr(GError) err = NULL;
  s->config = avma_guest_config_load(conf, s->dir, port, &err);
  assert_non_null(s->config);
  s->guest = avma_guest_new(s->config, &err);
  assert_non_null(s->guest);
  s->sock = g_build_filename(s->dir, "control.sock", NULL);
  s->control = avma_control_new(s->guest, s->sock, &err);
  assert_non_null(s->control);
}

static void server_down(Server *s) {
  avma_control_free(s->control);
  assert_false(g_file_test(s->sock, G_FILE_TEST_EXISTS)); /* the socket file goes with it */
  avma_guest_free(s->guest);
  avma_guest_config_free(s->config);
  g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", s->dir);
  assert_int_equal(system(cmd), 0);
  g_free(s->sock);
  g_free(s->dir);
}

static int connect_to(const Server *s) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  g_strlcpy(sa.sun_path, s->sock, sizeof sa.sun_path);
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  return fd;
}

/* Send data (then half-close when eof), run the loop until the daemon closes the connection or
 * wait_ms pass; returns what it answered. */
static char *ask_within(const Server *s, const char *data, gsize len, gboolean eof, int wait_ms) {
  int fd = connect_to(s);
  for (gsize off = 0; off < len;) {
    ssize_t n = send(fd, data + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0)
      off += (gsize)n;
    else
      g_main_context_iteration(NULL, FALSE); /* let the daemon read */
    if (n < 0 && errno != EAGAIN)
      break; /* it answered and closed before taking it all */
  }
  if (eof)
    shutdown(fd, SHUT_WR);
  GString *got = g_string_new(NULL);
  gint64 deadline = g_get_monotonic_time() + wait_ms * (gint64)1000;
  for (;;) {
    char buf[512];
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      g_string_append_len(got, buf, n);
      continue;
    }
    if (n == 0 || (n < 0 && errno != EAGAIN) || g_get_monotonic_time() > deadline)
      break;
    g_main_context_iteration(NULL, FALSE);
    g_usleep(1000);
  }
  close(fd);
  return g_string_free(got, FALSE);
}

static char *ask(const Server *s, const char *data, gsize len, gboolean eof) {
  return ask_within(s, data, len, eof, 5000);
}

static void test_socket(void **state) {
  (void)state;
  Server s;
  server_up(&s);
  g_autofree char *a = ask(&s, "{\"verb\":\"port\"}\n", 16, FALSE);
  assert_string_equal(a, "{\"ok\":true,\"port_open\":false,\"host_connected\":false}\n");
  /* The line may come in pieces, and end at EOF without its newline. */
  g_autofree char *b = ask_within(&s, "{\"verb\":\"po", 11, FALSE, 200);
  assert_string_equal(b, ""); /* no answer to half a line: the test gave up waiting */
  g_autofree char *c = ask(&s, "{\"verb\":\"port\"}", 15, TRUE);
  assert_string_equal(c, "{\"ok\":true,\"port_open\":false,\"host_connected\":false}\n");
  /* Only the first line counts; errors are replies. */
  g_autofree char *d = ask(&s, "{\"verb\":\"bogus\"}\n{\"verb\":\"port\"}\n", 32, FALSE);
  assert_string_equal(d, "{\"ok\":false,\"error\":\"unknown verb 'bogus'\"}\n");
  g_autofree char *e = ask(&s, "{\"verb\":\"ato\"}\n", 15, FALSE);
  assert_non_null(strstr(e, "\"ok\":false,\"error\":\"no key installed"));
  /* An endless line is answered once it is too long, without waiting for its end. */
  gsize n = 3 * AVMA_CONTROL_MAX_REQUEST;
  g_autofree char *big = g_malloc(n);
  memset(big, ' ', n);
  g_autofree char *f = ask(&s, big, n, FALSE);
  assert_non_null(strstr(f, "request longer than 4096 bytes"));
  /* A client that asks nothing costs nothing. */
  close(connect_to(&s));
  for (int i = 0; i < 10; i++)
    g_main_context_iteration(NULL, FALSE);
  server_down(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid),    cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_too_long), cmocka_unit_test(test_embedded_nul),
      cmocka_unit_test(test_socket),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
