/* guest-probe: a tiny static helper for the e2e guest initramfs (test code, not product code).
 *
 * Verbs (all output lines start with "E2E-" so the host can grep them from the console log):
 *   guest-probe hostabsent PORT MS   while the host side is NOT connected: report what a
 *                                     nonblocking write, a blocking write (alarm after MS ms),
 *                                     a read and poll() over MS ms return (virtio port facts, §9a)
 *   guest-probe ebusy PORT           open PORT twice, report the second open's errno
 *   guest-probe waithost PORT SECS   poll until the host side connects (no POLLHUP); rc 1 on
 * timeout guest-probe cpu PID              print utime+stime clock ticks of PID (from
 * /proc/PID/stat) guest-probe ctl PORT             command executor on PORT: reads lines "ID
 * COMMAND", runs COMMAND with /bin/sh -c, answers "E2E-BEGIN ID", the output, "E2E-RC ID RC". Keeps
 * one descriptor open for its lifetime, sleeps while the host is absent (POLLHUP), never spins.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void on_alarm(int sig) {
  (void)sig;
}

static const char *errname(int e) {
  switch (e) {
  case 0:
    return "OK";
  case EAGAIN:
    return "EAGAIN";
  case EBUSY:
    return "EBUSY";
  case EINTR:
    return "EINTR";
  case ENXIO:
    return "ENXIO";
  case EPIPE:
    return "EPIPE";
  case ENODEV:
    return "ENODEV";
  default:
    return strerror(e);
  }
}

static int cmd_hostabsent(const char *port, int ms) {
  int fd = open(port, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    printf("E2E-PROBE open-fail %s\n", errname(errno));
    return 1;
  }
  /* nonblocking write */
  ssize_t n = write(fd, "x\n", 2);
  printf("E2E-PROBE nonblock-write rc=%zd err=%s\n", n, n < 0 ? errname(errno) : "OK");
  /* read with nothing buffered */
  char buf[64];
  n = read(fd, buf, sizeof buf);
  printf("E2E-PROBE nonblock-read rc=%zd err=%s\n", n, n < 0 ? errname(errno) : "OK");
  /* poll for MS ms: count wakeups and POLLHUP */
  int wakeups = 0, hups = 0;
  double t0 = now_ms();
  while (now_ms() - t0 < ms) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, ms);
    if (r > 0) {
      wakeups++;
      if (p.revents & POLLHUP)
        hups++;
      if (wakeups >= 100000)
        break;
    }
  }
  printf("E2E-PROBE poll-%dms wakeups=%d pollhup=%d\n", ms, wakeups, hups);
  /* blocking write, interrupted by an alarm */
  int fl = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  struct sigaction sa = {.sa_handler = on_alarm};
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {.it_value = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000}};
  setitimer(ITIMER_REAL, &it, NULL);
  t0 = now_ms();
  n = write(fd, "x\n", 2);
  int e = errno;
  printf("E2E-PROBE block-write rc=%zd err=%s after_ms=%.0f\n", n, n < 0 ? errname(e) : "OK",
         now_ms() - t0);
  /* blocking read with nothing buffered */
  setitimer(ITIMER_REAL, &it, NULL);
  t0 = now_ms();
  n = read(fd, buf, sizeof buf);
  e = errno;
  printf("E2E-PROBE block-read rc=%zd err=%s after_ms=%.0f\n", n, n < 0 ? errname(e) : "OK",
         now_ms() - t0);
  close(fd);
  return 0;
}

static int cmd_ebusy(const char *port) {
  int a = open(port, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  int ea = errno;
  int b = open(port, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  int eb = errno;
  printf("E2E-PROBE first-open %s second-open %s\n", a < 0 ? errname(ea) : "OK",
         b < 0 ? errname(eb) : "OK");
  if (b >= 0)
    close(b);
  if (a >= 0)
    close(a);
  return (a >= 0 && b < 0 && eb == EBUSY) ? 0 : 1;
}

static int cmd_waithost(const char *port, int secs) {
  int fd = open(port, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    printf("E2E-PROBE open-fail %s\n", errname(errno));
    return 2;
  }
  double t0 = now_ms();
  while (now_ms() - t0 < secs * 1000.0) {
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int r = poll(&p, 1, 100);
    if (r > 0 && !(p.revents & POLLHUP) && (p.revents & POLLOUT)) {
      close(fd);
      return 0;
    }
    usleep(100000);
  }
  close(fd);
  return 1;
}

static int cmd_cpu(const char *pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%s/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f || !fgets(buf, sizeof buf, f)) {
    printf("E2E-CPU %s gone\n", pid);
    return 1;
  }
  fclose(f);
  char *p = strrchr(buf, ')'); /* comm may contain spaces */
  if (!p)
    return 1;
  unsigned long long ut = 0, st = 0;
  /* after ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14)
   * stime(15) */
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
    return 1;
  printf("E2E-CPU %s ticks=%llu hz=%ld\n", pid, ut + st, sysconf(_SC_CLK_TCK));
  return 0;
}

/* ---- ctl: command executor ---- */
static int port_fd = -1;

/* Write all of buf; give up after 10 s without progress (host went away). */
static void port_write(const char *buf, size_t len) {
  double last = now_ms();
  while (len) {
    ssize_t n = write(port_fd, buf, len);
    if (n > 0) {
      buf += n;
      len -= (size_t)n;
      last = now_ms();
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR)
      return;
    if (now_ms() - last > 10000)
      return;
    struct pollfd p = {.fd = port_fd, .events = POLLOUT};
    if (poll(&p, 1, 100) > 0 && (p.revents & POLLHUP))
      usleep(100000);
  }
}

static void run_command(const char *id, const char *cmd) {
  char hdr[128], last = '\n';
  int n = snprintf(hdr, sizeof hdr, "E2E-BEGIN %s\n", id);
  port_write(hdr, (size_t)n);
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) < 0)
    return;
  pid_t pid = fork();
  if (pid == 0) {
    int nul = open("/dev/null", O_RDONLY);
    dup2(nul, 0);
    dup2(pfd[1], 1);
    dup2(pfd[1], 2);
    setsid();
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  close(pfd[1]);
  fcntl(pfd[0], F_SETFL, O_NONBLOCK);
  int status = 0, exited = 0;
  /* Read until EOF, or until the shell exited and the pipe stayed idle for 300 ms
   * (a command that leaves a daemon holding the pipe must not hang the executor). */
  double idle_since = 0;
  for (;;) {
    struct pollfd p = {.fd = pfd[0], .events = POLLIN};
    int r = poll(&p, 1, 100);
    if (r > 0) {
      char buf[4096];
      ssize_t k = read(pfd[0], buf, sizeof buf);
      if (k > 0) {
        port_write(buf, (size_t)k);
        last = buf[k - 1];
        idle_since = 0;
        continue;
      }
      if (k == 0)
        break;
    }
    if (!exited && waitpid(pid, &status, WNOHANG) == pid)
      exited = 1;
    if (exited) {
      if (!idle_since)
        idle_since = now_ms();
      else if (now_ms() - idle_since > 300)
        break;
    }
  }
  close(pfd[0]);
  if (!exited)
    waitpid(pid, &status, 0);
  int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  n = snprintf(hdr, sizeof hdr, "%sE2E-RC %s %d\n", last == '\n' ? "" : "\n", id, rc);
  port_write(hdr, (size_t)n);
}

static int cmd_ctl(const char *port) {
  signal(SIGPIPE, SIG_IGN);
  signal(SIGCHLD, SIG_DFL);
  port_fd = open(port, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (port_fd < 0) {
    printf("E2E-CTL open-fail %s %s\n", port, errname(errno));
    return 1;
  }
  printf("E2E-CTL ready %s\n", port);
  fflush(stdout);
  char line[65536];
  size_t used = 0;
  for (;;) {
    struct pollfd p = {.fd = port_fd, .events = POLLIN};
    int r = poll(&p, 1, 1000);
    if (r <= 0)
      continue;
    if (!(p.revents & POLLIN)) { /* POLLHUP: host absent; don't spin */
      usleep(200000);
      continue;
    }
    ssize_t k = read(port_fd, line + used, sizeof line - 1 - used);
    if (k <= 0) {
      usleep(200000);
      continue;
    }
    used += (size_t)k;
    line[used] = 0;
    char *nl;
    while ((nl = memchr(line, '\n', used))) {
      *nl = 0;
      char *sp = strchr(line, ' ');
      if (sp) {
        *sp = 0;
        run_command(line, sp + 1);
      }
      size_t rest = used - (size_t)(nl + 1 - line);
      memmove(line, nl + 1, rest);
      used = rest;
      line[used] = 0;
    }
    if (used == sizeof line - 1)
      used = 0; /* overlong garbage: drop */
  }
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 4 && !strcmp(argv[1], "hostabsent"))
    return cmd_hostabsent(argv[2], atoi(argv[3]));
  if (argc >= 3 && !strcmp(argv[1], "ebusy"))
    return cmd_ebusy(argv[2]);
  if (argc >= 4 && !strcmp(argv[1], "waithost"))
    return cmd_waithost(argv[2], atoi(argv[3]));
  if (argc >= 3 && !strcmp(argv[1], "cpu"))
    return cmd_cpu(argv[2]);
  if (argc >= 3 && !strcmp(argv[1], "ctl"))
    return cmd_ctl(argv[2]);
  fprintf(stderr, "usage: guest-probe hostabsent PORT MS | ebusy PORT | waithost PORT SECS | "
                  "cpu PID | ctl PORT\n");
  return 2;
}
