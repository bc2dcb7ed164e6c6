/* avma-portsim: a virtio-serial port stand-in for tests. The guest side is a PTY (symlinked at
 * --pty), the host side a unix socket (--socket) that the host agent connects to, as it does to
 * QEMU's. Unlike a one-shot socat bridge it survives host reconnects, and like a real port it
 * drops guest bytes while no host is connected. --corrupt N flips a bit in byte N (1-based) of
 * the guest-to-host stream of every host connection, to show Invalid Data. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_term(int s) {
  (void)s;
  stop = 1;
}

static int write_all(int fd, const char *b, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, b, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return -1;
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *pty_link = NULL, *sock_path = NULL;
  long corrupt = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--pty"))
      pty_link = argv[i + 1];
    else if (!strcmp(argv[i], "--socket"))
      sock_path = argv[i + 1];
    else if (!strcmp(argv[i], "--corrupt"))
      corrupt = strtol(argv[i + 1], NULL, 10);
  }
  if (!pty_link || !sock_path) {
    fprintf(stderr, "usage: avma-portsim --pty LINK --socket PATH [--corrupt N]\n");
    return 2;
  }
  signal(SIGTERM, on_term);
  signal(SIGINT, on_term);
  signal(SIGPIPE, SIG_IGN);
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) {
    perror("pty");
    return 1;
  }
  struct termios t;
  if (tcgetattr(master, &t) == 0) {
    cfmakeraw(&t);
    tcsetattr(master, TCSANOW, &t);
  }
  /* Keep a slave descriptor open so the master never sees a hang-up between guest opens. */
  int keep = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  unlink(pty_link);
  if (symlink(ptsname(master), pty_link) < 0) {
    perror("symlink");
    return 1;
  }
  int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock_path);
  unlink(sock_path);
  if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 1) < 0) {
    perror("socket");
    return 1;
  }
  int host = -1;
  long sent = 0;
  char buf[65536];
  while (!stop) {
    struct pollfd p[3] = {{master, POLLIN, 0}, {ls, POLLIN, 0}, {host, POLLIN, 0}};
    if (poll(p, host >= 0 ? 3 : 2, 500) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (p[1].revents & POLLIN) {
      int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
      if (c >= 0) {
        if (host >= 0)
          close(c); /* one host at a time, as QEMU's chardev */
        else {
          host = c;
          sent = 0;
        }
      }
    }
    if (p[0].revents & POLLIN) {
      ssize_t n = read(master, buf, sizeof buf);
      if (n > 0 && host >= 0) {
        for (ssize_t i = 0; i < n; i++, sent++)
          if (corrupt > 0 && sent + 1 == corrupt)
            buf[i] ^= 0x01;
        if (write_all(host, buf, (size_t)n) < 0) {
          close(host);
          host = -1;
        }
      } /* no host: dropped, as a virtio port discards them */
    }
    if (host >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = read(host, buf, sizeof buf);
      if (n <= 0) {
        close(host);
        host = -1;
      } else {
        (void)write_all(master, buf, (size_t)n);
      }
    }
  }
  unlink(pty_link);
  unlink(sock_path);
  close(keep);
  return 0;
}
