/* Unit tests for the daemon life cycle: with NOTIFY_SOCKET set, as systemd sets it for a
 * Type=notify unit, the loop announces READY=1 with its status before it runs, SIGTERM ends it,
 * and STOPPING=1 follows; without NOTIFY_SOCKET nothing is sent and the loop still ends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"

typedef struct {
  int fd;
  char first[256]; /* what had arrived when the loop first ran */
} Probe;

static gboolean send_term(gpointer user) {
  Probe *p = user;
  if (p->fd >= 0) {
    ssize_t n = recv(p->fd, p->first, sizeof p->first - 1, MSG_DONTWAIT);
    p->first[n > 0 ? n : 0] = '\0';
  }
  kill(getpid(), SIGTERM);
  return G_SOURCE_REMOVE;
}

static void notifies_ready_then_stopping(void **state) {
  (void)state;
  g_autofree char *dir = g_dir_make_tmp("avma-daemon-XXXXXX", NULL);
  assert_non_null(dir);
  g_autofree char *path = g_build_filename(dir, "notify", NULL);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  g_strlcpy(sa.sun_path, path, sizeof sa.sun_path);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  g_setenv("NOTIFY_SOCKET", path, TRUE);

  Probe p = {.fd = fd};
  g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
  g_idle_add(send_term, &p);
  avma_daemon_run(loop, "port /dev/x");
  assert_string_equal(p.first, "READY=1\nSTATUS=port /dev/x");

  char buf[256];
  ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
  assert_true(n > 0);
  buf[n] = '\0';
  assert_string_equal(buf, "STOPPING=1\nSTATUS=stopping");
  close(fd);
  g_unsetenv("NOTIFY_SOCKET");
  unlink(path);
  rmdir(dir);
}

static void runs_without_systemd(void **state) {
  (void)state;
  g_unsetenv("NOTIFY_SOCKET");
  Probe p = {.fd = -1};
  g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
  g_idle_add(send_term, &p);
  avma_daemon_run(loop, NULL); /* returns: SIGTERM was handled, not fatal */
  /* A second run installs its handlers afresh (the first removed its own). */
  g_idle_add(send_term, &p);
  avma_daemon_run(loop, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(notifies_ready_then_stopping),
      cmocka_unit_test(runs_without_systemd),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
