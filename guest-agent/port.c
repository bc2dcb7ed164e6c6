/* port: the guest end of the virtio-serial port. */
#include "port.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

G_DEFINE_QUARK(avma - port - error - quark, avma_port_error)

int avma_port_open(const char *path, GError **error) {
  int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    int e = errno;
    if (e == EBUSY)
      g_set_error(error, AVMA_PORT_ERROR, AVMA_PORT_ERROR_BUSY,
                  "port %s is busy: another avma-guestd (or another program) has it open; only "
                  "one process may use a virtio port",
                  path);
    else if (e == ENOENT || e == ENODEV || e == ENXIO)
      g_set_error(error, AVMA_PORT_ERROR, AVMA_PORT_ERROR_MISSING,
                  "port %s does not exist: is the VM's AVMA channel configured on the host "
                  "(avma-host channel add)?",
                  path);
    else
      g_set_error(error, AVMA_PORT_ERROR, AVMA_PORT_ERROR_FAILED, "cannot open port %s: %s", path,
                  g_strerror(e));
    return -1;
  }
  /* A PTY stand-in must not echo or translate bytes; a virtio port is not a tty. */
  if (isatty(fd)) {
    struct termios t;
    if (tcgetattr(fd, &t) == 0) {
      cfmakeraw(&t);
      (void)tcsetattr(fd, TCSANOW, &t);
    }
  }
  return fd;
}

gboolean avma_port_host_present(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  if (poll(&p, 1, 0) < 0)
    return TRUE;
  return !(p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

gboolean avma_port_replaced(int fd, const char *path) {
  struct stat a, b;
  if (fstat(fd, &a) < 0 || stat(path, &b) < 0)
    return TRUE;
  return a.st_rdev != b.st_rdev || a.st_ino != b.st_ino || a.st_dev != b.st_dev;
}
