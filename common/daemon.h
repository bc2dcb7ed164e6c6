/* daemon: what both agents do as services. They run their main loop until SIGTERM or SIGINT,
 * and tell systemd (Type=notify units) when they are ready and when they stop, so that
 * `systemctl start` returns only once the agent serves, and units ordered after it wait for that.
 * Outside systemd (no NOTIFY_SOCKET) the notifications are no-ops. */
#pragma once

#include <glib.h>

/* Runs LOOP until SIGTERM/SIGINT. STATUS (may be NULL) is shown by `systemctl status`. */
void avma_daemon_run(GMainLoop *loop, const char *status);
