/* daemon: main-loop life cycle shared by avma-hostd and avma-guestd (see daemon.h). */
#include "daemon.h"

#include <glib-unix.h>
#include <signal.h>
#include <systemd/sd-daemon.h>

static gboolean on_signal(gpointer loop) {
  g_main_loop_quit(loop);
  return G_SOURCE_CONTINUE;
}

void avma_daemon_run(GMainLoop *loop, const char *status) {
  guint term = g_unix_signal_add(SIGTERM, on_signal, loop);
  guint intr = g_unix_signal_add(SIGINT, on_signal, loop);
  /* Everything the agent needs is set up by now; what follows happens on the loop. */
  (void)sd_notifyf(0, "READY=1\nSTATUS=%s", status ? status : "running");
  g_main_loop_run(loop);
  (void)sd_notify(0, "STOPPING=1\nSTATUS=stopping");
  g_source_remove(term);
  g_source_remove(intr);
}
