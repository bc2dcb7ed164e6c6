/* port: the guest end of the virtio-serial port: open it once, exclusively, in raw non-blocking
 * mode, and tell whether the host side is connected (brief section 9a). */
#pragma once
#include <glib.h>

#define AVMA_PORT_ERROR (avma_port_error_quark())
GQuark avma_port_error_quark(void);
typedef enum {
  AVMA_PORT_ERROR_BUSY,    /* another process holds the port (EBUSY) */
  AVMA_PORT_ERROR_MISSING, /* no such device */
  AVMA_PORT_ERROR_FAILED,
} AvmaPortError;

/* Returns an fd (O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY) or -1 with error. */
int avma_port_open(const char *path, GError **error);
/* FALSE while the port reports POLLHUP (no host side). A PTY stand-in never does. */
gboolean avma_port_host_present(int fd);
/* TRUE when path now names a different device than fd (a stand-in PTY was recreated), or is
 * gone. A real virtio port keeps its node, so this stays FALSE there. */
gboolean avma_port_replaced(int fd, const char *path);
