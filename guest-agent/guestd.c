/* avma-guestd: the guest agent daemon. Wiring only: options, config, port, control socket,
 * signals. */
#include "control.h"
#include "daemon.h"
#include "guest-config.h"
#include "guest.h"
#include "port.h"
#include "state-files.h"

#include <glib.h>
#include <locale.h>
#include <stdio.h>

int main(int argc, char **argv) {
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
  avma_daemon_run(loop, status);
  return 0;
}
