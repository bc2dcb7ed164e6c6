/* avma-guestd: the guest agent daemon. Wiring only: options, config, port, control socket,
 * signals. */
#include "control.h"
#include "guest-config.h"
#include "guest.h"
#include "port.h"
#include "state-files.h"

#include <glib-unix.h>
#include <glib.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

/* SIGTERM and SIGINT come through a signalfd on the main loop rather than avma_daemon_run's
 * g_unix_signal_add (common/daemon.c), which starts GLib's worker thread to dispatch them: a
 * second thread, with its stack and malloc arena, in an agent that otherwise idles in one
 * (issue #20). Blocked first thing in main, before any thread exists, so no thread takes them. */
static int block_signals(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
    return -1;
  return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static gboolean on_signal(gint fd, GIOCondition cond, gpointer loop) {
  (void)cond;
  struct signalfd_siginfo si;
  while (read(fd, &si, sizeof si) == (ssize_t)sizeof si)
    ;
  g_main_loop_quit(loop);
  return G_SOURCE_CONTINUE;
}

/* avma_daemon_run's life cycle (systemd notified when ready and when stopping), on the
 * signalfd. */
static void run(GMainLoop *loop, int sigfd, const char *status) {
  guint watch = g_unix_fd_add(sigfd, G_IO_IN, on_signal, loop);
  (void)sd_notifyf(0, "READY=1\nSTATUS=%s", status);
  g_main_loop_run(loop);
  (void)sd_notify(0, "STOPPING=1\nSTATUS=stopping");
  g_source_remove(watch);
  close(sigfd);
}

int main(int argc, char **argv) {
  int sigfd = block_signals();
  if (sigfd < 0) {
    perror("avma-guestd: signalfd");
    return 1;
  }
  setlocale(LC_ALL, "");
  g_autofree char *config_path = NULL, *state_dir = NULL, *port = NULL;
  gboolean verbose = FALSE, version = FALSE;
  GOptionEntry entries[] = {
      {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Configuration file", "FILE"},
      {"state-dir", 's', 0, G_OPTION_ARG_FILENAME, &state_dir, "State directory", "DIR"},
      {"port", 'p', 0, G_OPTION_ARG_FILENAME, &port, "virtio-serial port device", "PATH"},
      {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Debug messages", NULL},
      {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL},
      {NULL}};
  g_autoptr(GOptionContext) ctx = g_option_context_new("- AVMA guest agent");
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_autoptr(GError) err = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
    fprintf(stderr, "avma-guestd: %s (try --help)\n", err->message);
    return 2;
  }
  if (version) {
    printf("avma-guestd %s\n", AVMA_VERSION);
    return 0;
  }
  if (verbose)
    g_setenv("G_MESSAGES_DEBUG", "all", TRUE);
  g_autoptr(AvmaGuestConfig) config = avma_guest_config_load(config_path, state_dir, port, &err);
  if (!config) {
    fprintf(stderr, "avma-guestd: %s\n", err->message);
    return 1;
  }
  g_autoptr(AvmaGuest) guest = avma_guest_new(config, &err);
  if (!guest) {
    fprintf(stderr, "avma-guestd: %s\n", err->message);
    return 1;
  }
  /* Only one process may hold a virtio port: a second agent must leave the first alone. */
  if (!avma_guest_open_port(guest, &err)) {
    if (g_error_matches(err, AVMA_PORT_ERROR, AVMA_PORT_ERROR_BUSY)) {
      fprintf(stderr, "avma-guestd: %s\n", err->message);
      return 1;
    }
    g_message("%s; will keep looking while an activation is due", err->message);
    g_clear_error(&err);
  }
  g_autofree char *sock = avma_guest_state_path(config, AVMA_GUEST_CONTROL_SOCKET);
  g_autoptr(AvmaControl) control = avma_control_new(guest, sock, &err);
  if (!control) {
    fprintf(stderr, "avma-guestd: control socket %s: %s\n", sock, err->message);
    return 1;
  }
  g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
  avma_guest_start_daemon(guest);
  g_autofree char *status = g_strdup_printf("port %s", config->port);
  run(loop, sigfd, status);
  return 0;
}
