/* avma-bench: the benchmark suite of issue #8. It plays QEMU's side of N channels (it LISTENS on N
 * unix sockets, avma-hostd connects to each as it does to QEMU's), simulates one guest per
 * channel with the project's own protocol code (avma_msg_build, avma_frame_encode, AvmaDecoder),
 * and measures: boot storm, steady renewals, renewals beside a hostile guest flooding garbage;
 * host agent CPU, RSS and idle wake-ups per N; guest agent idle RSS, wake-ups and
 * start-to-first-request; and anchors measured by the same harness in the same run: a trivial
 * echo server over the same kind of socket (the floor), Debian's qemu-guest-agent (guest-ping)
 * and append+fdatasync in the host state directory (the floor of a durable decision).
 * Single-threaded, epoll. Writes a markdown report (tests/bench/RESULTS.md). */
#include "crc32c.h"
#include "frame.h"
#include "kvp.h"
#include "msg.h"
#include "schema.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ---- options ---- */

typedef struct {
  char *build;         /* directory holding avma-hostd, avma-host, avma-guestd, avma-guest */
  char *ns;            /* "1 100 1000 5000" */
  double rate;         /* renewal exchanges per second (capped at PER_GUEST_RATE per guest) */
  double duration;     /* seconds of renewals, and of renewals beside the hostile guest */
  double idle;         /* seconds of host agent idle measurement per N */
  double guest_idle;   /* seconds of the guest agent / qemu-ga idle window */
  int echo_iters;      /* echo and qemu-ga round trips */
  char *qga;           /* qemu-ga binary */
  char *state_base;    /* parent of the host agent's state directories (a disk, not tmpfs) */
  char *out;           /* report path */
  char *perf;          /* perf.data path: profile avma-hostd during the largest N's modes */
  char *hostd_wrap;    /* command prefix for avma-hostd (e.g. valgrind --tool=callgrind) */
  gboolean perf_dwarf; /* perf --call-graph=dwarf */
  gboolean skip_guest; /* skip the guest agent and qemu-ga parts */
  gboolean skip_hostd; /* skip the per-N host agent parts */
  int tmpfs_n;         /* renewals at this N with the state on tmpfs: the agent's own cost */
  char *tmpfs_base;    /* a tmpfs (fdatasync costs nothing there) */
  gboolean keep;       /* keep temporary directories */
  int attack_n;        /* renewing guests beside the attacks; 0: no attack runs */
} Opts;

static Opts opt;

#define PER_GUEST_RATE 3.0 /* exchanges/s per guest: 9 requests/s, under the default 10/s limit */
/* The ACTIVATE limit (default 12/min per channel) is raised so that renewals at PER_GUEST_RATE
 * measure decisions, not refusals; the request limit stays at its default. */
#define HOSTD_CONF_BASE "[host]\njournal=no\n[limits]\nactivations_per_minute=600\n"
/* --commit-thread: avma-hostd's commits' fdatasync in its writer thread (issue #18). */
static gboolean opt_commit_thread;
#define HOSTD_CONF_HISTORY (opt_commit_thread ? "[history]\ncommit_thread=true\n" : "")
#define STORM_TIMEOUT_US (120 * 1e6)
#define CONNECT_TIMEOUT_US (60 * 1e6)

/* ---- small helpers ---- */

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static void die(const char *fmt, ...) G_GNUC_PRINTF(1, 2) G_GNUC_NORETURN;
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "avma-bench: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static void note(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void note(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "[bench] ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
}

static char *read_file(const char *path) {
  char *data = NULL;
  if (!g_file_get_contents(path, &data, NULL, NULL))
    return NULL;
  return data;
}

static double loadavg1(void) {
  g_autofree char *s = read_file("/proc/loadavg");
  return s ? g_ascii_strtod(s, NULL) : NAN;
}

static char *loadavg_str(void) {
  g_autofree char *s = read_file("/proc/loadavg");
  if (!s)
    return g_strdup("?");
  char *sp = s;
  for (int i = 0; i < 3 && sp; i++)
    sp = strchr(sp + 1, ' ');
  if (sp)
    *sp = '\0';
  return g_strdup(s);
}

/* ---- samples ---- */

typedef struct {
  double *v;
  size_t n, cap;
  gboolean sorted;
} Samples;

static void sa_add(Samples *s, double x) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 1024;
    s->v = g_realloc_n(s->v, s->cap, sizeof *s->v);
  }
  s->v[s->n++] = x;
  s->sorted = FALSE;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile. */
static double sa_pct(Samples *s, double p) {
  if (s->n == 0)
    return NAN;
  if (!s->sorted) {
    qsort(s->v, s->n, sizeof *s->v, cmp_double);
    s->sorted = TRUE;
  }
  size_t k = (size_t)ceil(p / 100.0 * (double)s->n);
  if (k < 1)
    k = 1;
  if (k > s->n)
    k = s->n;
  return s->v[k - 1];
}

static void sa_free(Samples *s) {
  g_free(s->v);
  memset(s, 0, sizeof *s);
}

/* ---- /proc ---- */

/* utime+stime of the whole process (all threads, live and exited), seconds. */
static double proc_cpu_stat(pid_t pid) {
  g_autofree char *path = g_strdup_printf("/proc/%d/stat", pid);
  g_autofree char *s = read_file(path);
  if (!s)
    return NAN;
  char *p = strrchr(s, ')');
  if (!p)
    return NAN;
  /* fields after ')' start at field 3 (state); utime is 14, stime 15 */
  unsigned long ut = 0, st = 0;
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
    return NAN;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

typedef struct {
  double cpu_ns; /* sum of /proc/PID/task/ * /schedstat run time: ns precision */
  long ctxt;     /* sum of voluntary + nonvoluntary context switches over all threads */
  int threads;
} Snap;

static Snap proc_snap(pid_t pid) {
  Snap sn = {0};
  g_autofree char *dir = g_strdup_printf("/proc/%d/task", pid);
  DIR *d = opendir(dir);
  if (!d)
    return sn;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    sn.threads++;
    g_autofree char *sp = g_strdup_printf("%s/%s/schedstat", dir, e->d_name);
    g_autofree char *ss = read_file(sp);
    if (ss)
      sn.cpu_ns += g_ascii_strtod(ss, NULL);
    g_autofree char *stp = g_strdup_printf("%s/%s/status", dir, e->d_name);
    g_autofree char *st = read_file(stp);
    for (char *l = st; l && *l;) {
      char *nl = strchr(l, '\n');
      if (g_str_has_prefix(l, "voluntary_ctxt_switches:") ||
          g_str_has_prefix(l, "nonvoluntary_ctxt_switches:"))
        sn.ctxt += strtol(strchr(l, ':') + 1, NULL, 10);
      l = nl ? nl + 1 : NULL;
    }
  }
  closedir(d);
  return sn;
}

/* A "Field:   123 kB" line of /proc/PID/status or smaps_rollup; -1 if absent. */
static long proc_kb(pid_t pid, const char *file, const char *field) {
  g_autofree char *path = g_strdup_printf("/proc/%d/%s", pid, file);
  g_autofree char *s = read_file(path);
  if (!s)
    return -1;
  size_t fl = strlen(field);
  for (char *l = s; l && *l;) {
    if (!strncmp(l, field, fl) && l[fl] == ':')
      return strtol(l + fl + 1, NULL, 10);
    char *nl = strchr(l, '\n');
    l = nl ? nl + 1 : NULL;
  }
  return -1;
}

static int cmp_kb_desc(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b; /* each entry: kb, then a name index */
  return x < y ? 1 : x > y ? -1 : 0;
}

/* "libgio-2.0 1.5 MB, libc 1.5 MB, ...": resident KB per mapped file (anonymous memory
 * together), largest first: what an agent's RSS is made of. */
static char *smaps_top(pid_t pid, int k) {
  g_autofree char *path = g_strdup_printf("/proc/%d/smaps", pid);
  g_autofree char *s = read_file(path);
  if (!s)
    return g_strdup("?");
  g_autoptr(GHashTable) t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  char *name = NULL;
  for (char *l = s; l && *l;) {
    char *nl = strchr(l, '\n');
    if (nl)
      *nl = '\0';
    unsigned long lo, hi;
    if (sscanf(l, "%lx-%lx ", &lo, &hi) == 2 && strchr(l, ' ')) {
      /* the sixth field is the path; none for anonymous memory */
      char *p = l;
      for (int f = 0; f < 5 && p; f++)
        p = strchr(p + 1, ' ');
      while (p && *p == ' ')
        p++;
      g_free(name);
      name = g_strdup(p && *p && *p != '[' ? p : "anonymous");
      char *slash = strrchr(name, '/');
      if (slash)
        memmove(name, slash + 1, strlen(slash));
      char *so = strstr(name, ".so");
      if (so)
        *so = '\0';
    } else if (name && g_str_has_prefix(l, "Rss:")) {
      long kb = strtol(l + 4, NULL, 10);
      gpointer old = g_hash_table_lookup(t, name);
      g_hash_table_replace(t, g_strdup(name), GSIZE_TO_POINTER(GPOINTER_TO_SIZE(old) + kb));
    }
    l = nl ? nl + 1 : NULL;
  }
  g_free(name);
  guint n = g_hash_table_size(t);
  g_autofree long *v = g_new0(long, 2 * n + 2);
  g_autofree char **names = g_new0(char *, n + 1);
  GHashTableIter it;
  gpointer key, val;
  guint i = 0;
  g_hash_table_iter_init(&it, t);
  while (g_hash_table_iter_next(&it, &key, &val)) {
    names[i] = key;
    v[2 * i] = (long)GPOINTER_TO_SIZE(val);
    v[2 * i + 1] = i;
    i++;
  }
  qsort(v, n, 2 * sizeof(long), cmp_kb_desc);
  GString *o = g_string_new(NULL);
  for (i = 0; i < n && (int)i < k; i++)
    g_string_append_printf(o, "%s%s %.1f", i ? ", " : "", names[v[2 * i + 1]], v[2 * i] / 1024.0);
  return g_string_free(o, FALSE);
}

/* ---- processes ---- */

/* Start argv with stdin from /dev/null and stdout+stderr appended to log (NULL: inherited). */
/* Every child leads its own process group, so that stopping it also stops what a wrapper
 * (strace, valgrind, perf) started; the groups still running are stopped when the bench exits,
 * is interrupted or dies. */
static pid_t kids[64];

static void kids_add(pid_t pid) {
  for (size_t i = 0; i < G_N_ELEMENTS(kids); i++)
    if (!kids[i]) {
      kids[i] = pid;
      return;
    }
}

static void kids_remove(pid_t pid) {
  for (size_t i = 0; i < G_N_ELEMENTS(kids); i++)
    if (kids[i] == pid)
      kids[i] = 0;
}

static void kids_kill(void) {
  for (size_t i = 0; i < G_N_ELEMENTS(kids); i++)
    if (kids[i] > 0)
      kill(-kids[i], SIGTERM);
}

static void on_fatal_signal(int sig) {
  kids_kill();
  signal(sig, SIG_DFL);
  raise(sig);
}

static pid_t spawn(char *const argv[], const char *log) {
  posix_spawnattr_t at;
  posix_spawnattr_init(&at);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&at, 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (log) {
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
  }
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  if (rc != 0)
    die("cannot start %s: %s", argv[0], strerror(rc));
  kids_add(pid);
  return pid;
}

static int run_wait(char *const argv[], const char *log) {
  pid_t pid = spawn(argv, log);
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  kids_remove(pid);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void stop_proc(pid_t pid) {
  if (pid <= 0)
    return;
  kill(-pid, SIGTERM);
  for (int i = 0; i < 250; i++) {
    if (waitpid(pid, NULL, WNOHANG) == pid)
      break;
    usleep(20000);
  }
  if (waitpid(pid, NULL, WNOHANG) == 0) {
    kill(-pid, SIGKILL);
    waitpid(pid, NULL, 0);
  }
  if (opt.hostd_wrap)
    kill(-pid, SIGKILL); /* whatever a wrapper left behind in its group */
  kids_remove(pid);
}

static void rm_rf(const char *path) {
  if (opt.keep || !path)
    return;
  char *argv[] = {"rm", "-rf", (char *)path, NULL};
  run_wait(argv, NULL);
}

/* ---- sockets ---- */

static int listen_unix(const char *path, int backlog) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof sa.sun_path)
    die("socket path too long: %s", path);
  strcpy(sa.sun_path, path);
  unlink(path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, backlog) < 0)
    die("listen %s: %s", path, strerror(errno));
  return fd;
}

static int connect_unix(const char *path) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  g_strlcpy(sa.sun_path, path, sizeof sa.sun_path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static gboolean write_all(int fd, const void *buf, size_t len) {
  const uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN) {
      struct pollfd pf = {.fd = fd, .events = POLLOUT};
      poll(&pf, 1, 1000);
      continue;
    }
    if (n <= 0)
      return FALSE;
    p += n;
    len -= (size_t)n;
  }
  return TRUE;
}

/* Wait until fd is readable (epoll on one fd, as the load generator waits). */
static gboolean wait_readable(int ep, int timeout_ms) {
  struct epoll_event ev;
  int n;
  while ((n = epoll_wait(ep, &ev, 1, timeout_ms)) < 0 && errno == EINTR)
    ;
  return n == 1;
}

/* ---- protocol: precomputed payloads ---- */

typedef struct {
  uint8_t *p;
  size_t len;
} Payload;

static const struct {
  const char *key, *version, *edition;
} KEYS[] = {
    {"W3GNR-8DDXR-2TFRP-H8P33-DV9BG", "2022", "Datacenter"},
    {"YDFWN-MJ9JR-3DYRK-FXXRW-78VHK", "2022", "Standard"},
    {"H3RNG-8C32Q-Q8FRX-6TDXV-WMBMW", "2019", "Datacenter"},
    {"TNK62-RXVTB-4P47B-2D623-4GF74", "2019", "Standard"},
    {"C3RCX-M6NRP-6CXC9-TW2F2-4RHYD", "2016", "Standard"},
    {"Y4TGP-NPTV9-HTC2H-7MGQ3-DV4TW", "2012R2", "Datacenter"},
};
#define N_KEYS G_N_ELEMENTS(KEYS)

static Payload pl_hello, pl_set, pl_act[N_KEYS];

static Payload payload_of(AvmaMsgType type, AvmaRecordList *l) {
  g_autoptr(GError) err = NULL;
  g_autoptr(GBytes) b = avma_msg_build(type, 0, 1, 1, l, &err);
  if (!b)
    die("cannot build %s: %s", avma_msg_type_name(type), err->message);
  gsize n;
  const uint8_t *d = g_bytes_get_data(b, &n);
  size_t plen = n - AVMA_FRAME_HEADER_SIZE - AVMA_FRAME_TRAILER_SIZE;
  Payload p = {g_memdup2(d + AVMA_FRAME_HEADER_SIZE, plen), plen};
  return p;
}

static void protocol_init(void) {
  g_autoptr(AvmaRecordList) h = avma_record_list_new();
  avma_record_list_add(h, AVMA_KEY_IntegrationServicesVersion, "0.1.0");
  pl_hello = payload_of(AVMA_MSG_HELLO, h);
  /* Intrinsic items as avma-guestd publishes them (guest-agent/intrinsic.c). */
  g_autoptr(AvmaRecordList) s = avma_record_list_new();
  avma_record_list_add(s, AVMA_KEY_FullyQualifiedDomainName, "guest.bench.example");
  avma_record_list_add(s, AVMA_KEY_IntegrationServicesVersion, "0.1.0");
  avma_record_list_add(s, AVMA_KEY_OSName, "Debian GNU/Linux 12 (bookworm)");
  avma_record_list_add(s, AVMA_KEY_OSDistributionName, "Debian GNU/Linux");
  avma_record_list_add(s, AVMA_KEY_OSDistributionData, "12");
  avma_record_list_add(s, AVMA_KEY_OSVersion, "6.1.0-18-amd64");
  avma_record_list_add(s, AVMA_KEY_OSKernelVersion, "6.1.0-18-amd64");
  avma_record_list_add(s, AVMA_KEY_OSMajorVersion, "6");
  avma_record_list_add(s, AVMA_KEY_OSMinorVersion, "1");
  avma_record_list_add(s, AVMA_KEY_ProcessorArchitecture, "x86_64");
  avma_record_list_add(s, AVMA_KEY_OSPlatformId, "100");
  avma_record_list_add(s, AVMA_KEY_NetworkAddressIPv4, "192.0.2.10;198.51.100.7");
  avma_record_list_add(s, AVMA_KEY_NetworkAddressIPv6, "2001:db8::10;fe80::5054:ff:fe12:3456");
  pl_set = payload_of(AVMA_MSG_SET, s);
  for (size_t i = 0; i < N_KEYS; i++) {
    g_autoptr(AvmaRecordList) a = avma_record_list_new();
    avma_record_list_add(a, AVMA_KEY_AvmaKey, KEYS[i].key);
    avma_record_list_add(a, AVMA_KEY_AvmaProductVersion, KEYS[i].version);
    avma_record_list_add(a, AVMA_KEY_AvmaProductEdition, KEYS[i].edition);
    pl_act[i] = payload_of(AVMA_MSG_ACTIVATE, a);
  }
}

static guint32 rng_state = 0x9e3779b9u;
static guint32 rnd(void) {
  guint32 x = rng_state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return rng_state = x;
}

/* ---- the load generator ---- */

enum { K_GUEST, K_HOSTILE, K_ATTACK };
/* Attacks (issue #17), each from a chosen number of attacker channels beside renewing guests. */
typedef enum { ATK_NONE, ATK_CRC, ATK_GARBAGE, ATK_CHURN, ATK_LORIS } Attack;
static const char *const attack_names[] = {"none", "CRC amplification", "garbage flood",
                                           "reconnect churn", "slow loris"};
/* Each attack has its own channels (limits persist per VM, so an earlier attack's channels stay
 * throttled): 40 each for CRC, garbage and churn, 50 for slow loris. */
#define MAX_ATTACKERS 170

typedef struct {
  int idx, kind;
  int lfd, fd;
  int step; /* 0 idle, 1 HELLO out, 2 SET out, 3 ACTIVATE out */
  guint32 session, seq;
  double t_ex, t_req;
  AvmaDecoder *dec; /* only while bytes are pending */
  GByteArray *out;  /* bytes the socket did not take yet */
  gboolean pollout;
  guint connects;
  size_t loris_off; /* slow loris: bytes of its frame sent so far */
} Conn;

typedef struct {
  Samples act; /* HELLO sent -> ACTIVATE_REPLY: the whole activation */
  Samples dec; /* ACTIVATE sent -> ACTIVATE_REPLY: the decision */
  Samples req; /* every request -> its reply */
  long started, ok, not_ok, rate_limited, errors, broken, stale, skipped;
  double t0, t_last;
  double cpu_s;
  double offered_rate;
} Run;

typedef struct {
  int ep;
  Conn *c;
  int n_guests, n_conns; /* guests first, then the hostile channel */
  int connected;
  int inflight;
  Run *run;
  gboolean hostile_on;
  uint8_t garbage[65536];
  guint64 hostile_bytes;
  /* attackers: after the guests and the hostile channel */
  int first_attacker, n_attackers;
  Attack attack;
  int attack_off, attacking; /* attackers [first + off, first + off + attacking) are on */
  uint8_t planted[65520];    /* 24-byte headers claiming a maximum payload, session 0 */
  uint8_t loris_frame[AVMA_FRAME_MAX_SIZE];
  guint64 attack_bytes;
  long attack_decisions; /* ACTIVATE_REPLY frames the attackers got */
  double last_tick;
} Eng;

static gboolean attacking(const Eng *e, const Conn *c) {
  return c->kind == K_ATTACK && c->idx >= e->first_attacker + e->attack_off &&
         c->idx < e->first_attacker + e->attack_off + e->attacking;
}

static uint64_t tag(int idx, gboolean listen) {
  return ((uint64_t)idx << 1) | (listen ? 1u : 0u);
}

static void conn_events(Eng *e, Conn *c) {
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag(c->idx, FALSE)};
  gboolean want_out = (c->out && c->out->len) || (c->kind == K_HOSTILE && e->hostile_on) ||
                      (attacking(e, c) && (e->attack == ATK_CRC || e->attack == ATK_GARBAGE));
  if (want_out)
    ev.events |= EPOLLOUT;
  c->pollout = want_out;
  epoll_ctl(e->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void end_exchange(Eng *e, Conn *c) {
  if (c->step) {
    c->step = 0;
    e->inflight--;
  }
}

static void conn_close(Eng *e, Conn *c) {
  if (c->fd < 0)
    return;
  epoll_ctl(e->ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->fd = -1;
  e->connected--;
  if (c->step && e->run)
    e->run->broken++;
  end_exchange(e, c);
  g_clear_pointer(&c->dec, g_free);
  if (c->out)
    g_byte_array_set_size(c->out, 0);
}

static void conn_accept(Eng *e, Conn *c) {
  for (;;) {
    int fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
      return;
    if (c->fd >= 0)
      conn_close(e, c); /* the host reconnected before we saw its hang-up */
    c->fd = fd;
    c->connects++;
    e->connected++;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag(c->idx, FALSE)};
    epoll_ctl(e->ep, EPOLL_CTL_ADD, fd, &ev);
    conn_events(e, c);
  }
}

static void conn_flush(Eng *e, Conn *c) {
  while (c->out && c->out->len) {
    ssize_t n = write(c->fd, c->out->data, c->out->len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      break;
    if (n <= 0) {
      conn_close(e, c);
      return;
    }
    g_byte_array_remove_range(c->out, 0, (guint)n);
  }
  gboolean want = c->out && c->out->len;
  if (want != c->pollout)
    conn_events(e, c);
}

static void conn_send(Eng *e, Conn *c, AvmaMsgType type, const Payload *p) {
  uint8_t buf[4096];
  /* Guests of this version take receipts: the host signs one for every decision. */
  uint8_t flags = type == AVMA_MSG_HELLO ? AVMA_FLAG_RECEIPTS : 0;
  size_t n = avma_frame_encode(type, flags, c->session, c->seq, p->p, p->len, buf, sizeof buf);
  if (!n)
    die("cannot encode %s", avma_msg_type_name(type));
  c->t_req = now_us();
  if (c->fd < 0)
    return;
  if (!c->out)
    c->out = g_byte_array_new();
  g_byte_array_append(c->out, buf, (guint)n);
  conn_flush(e, c);
}

static void start_exchange(Eng *e, Conn *c) {
  do
    c->session = rnd();
  while (c->session == 0);
  c->seq = 1;
  c->step = 1;
  e->inflight++;
  e->run->started++;
  conn_send(e, c, AVMA_MSG_HELLO, &pl_hello);
  c->t_ex = c->t_req;
}

static void on_frame(Eng *e, Conn *c, const AvmaFrame *f) {
  Run *r = e->run;
  if (c->kind != K_GUEST)
    return;
  if (!c->step || f->session != c->session || f->seq != c->seq) {
    if (r)
      r->stale++;
    return;
  }
  double t = now_us();
  sa_add(&r->req, t - c->t_req);
  if (f->type == AVMA_MSG_ERROR) {
    AvmaRecord recs[AVMA_KVP_MAX_RECORDS];
    size_t n = 0;
    size_t len = 0;
    const char *code = NULL;
    if (avma_msg_parse(f, AVMA_PARSE_FROM_HOST, recs, &n, NULL))
      code = avma_records_find(recs, n, AVMA_KEY_ErrorCode, &len);
    if (code && len == 12 && !memcmp(code, "rate-limited", 12))
      r->rate_limited++;
    else
      r->errors++;
    end_exchange(e, c);
    return;
  }
  static const uint8_t expect[] = {0, AVMA_MSG_HELLO_REPLY, AVMA_MSG_ACK, AVMA_MSG_ACTIVATE_REPLY};
  if (f->type != expect[c->step]) {
    r->errors++;
    end_exchange(e, c);
    return;
  }
  c->seq++;
  switch (c->step) {
  case 1:
    c->step = 2;
    conn_send(e, c, AVMA_MSG_SET, &pl_set);
    break;
  case 2:
    c->step = 3;
    conn_send(e, c, AVMA_MSG_ACTIVATE, &pl_act[c->idx % N_KEYS]);
    break;
  case 3: {
    sa_add(&r->dec, t - c->t_req);
    sa_add(&r->act, t - c->t_ex);
    AvmaRecord recs[AVMA_KVP_MAX_RECORDS];
    size_t n = 0, len = 0;
    const char *v = NULL;
    if (avma_msg_parse(f, AVMA_PARSE_FROM_HOST, recs, &n, NULL))
      v = avma_records_find(recs, n, AVMA_KEY_AvmaNotification, &len);
    if (v && len == 12 && !memcmp(v, "AVMA Success", 12))
      r->ok++;
    else
      r->not_ok++;
    r->t_last = t;
    end_exchange(e, c);
    break;
  }
  }
}

static void conn_readable(Eng *e, Conn *c) {
  uint8_t buf[65536];
  for (;;) {
    if (c->fd < 0)
      return;
    ssize_t n = read(c->fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return;
    if (n <= 0) {
      conn_close(e, c);
      return;
    }
    if (c->kind == K_ATTACK) {
      /* Count the decisions an attacker obtains (reconnect churn); a frame boundary split across
       * reads may be missed, which only lowers the count by a frame now and then. */
      for (ssize_t i = 0; i + 6 <= n; i++)
        if (buf[i] == 0xFF && buf[i + 1] == 'A' && buf[i + 2] == 'V' && buf[i + 3] == 'K' &&
            buf[i + 5] == AVMA_MSG_ACTIVATE_REPLY)
          e->attack_decisions++;
      continue;
    }
    if (c->kind != K_GUEST)
      continue; /* the hostile guest does not listen */
    if (!c->dec) {
      c->dec = g_new(AvmaDecoder, 1);
      avma_decoder_init(c->dec);
    }
    const uint8_t *d = buf;
    size_t len = (size_t)n;
    while (c->dec) {
      size_t took = avma_decoder_feed(c->dec, d, len);
      d += took;
      len -= took;
      AvmaFrame f;
      AvmaDecStatus st;
      while ((st = avma_decoder_next(c->dec, &f, NULL)) != AVMA_DEC_NEED_MORE) {
        if (st == AVMA_DEC_FRAME)
          on_frame(e, c, &f);
        else if (e->run)
          e->run->errors++;
      }
      if (len == 0)
        break;
    }
    if (c->dec && avma_decoder_pending(c->dec) == 0)
      g_clear_pointer(&c->dec, g_free);
  }
}

static void attacker_writable(Eng *e, Conn *c) {
  const uint8_t *src = e->attack == ATK_CRC ? e->planted : e->garbage;
  size_t len = e->attack == ATK_CRC ? sizeof e->planted : sizeof e->garbage;
  for (int i = 0; i < 4 && c->fd >= 0; i++) {
    size_t off = e->attack == ATK_CRC ? 24 * (rnd() % 64) : rnd() % 4096;
    ssize_t n = write(c->fd, src + off, len - off);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      return;
    if (n <= 0) {
      conn_close(e, c);
      return;
    }
    e->attack_bytes += (guint64)n;
  }
}

static void conn_writable(Eng *e, Conn *c) {
  if (attacking(e, c) && (e->attack == ATK_CRC || e->attack == ATK_GARBAGE) &&
      !(c->out && c->out->len)) {
    attacker_writable(e, c);
    return;
  }
  if (c->kind != K_HOSTILE || !e->hostile_on) {
    conn_flush(e, c);
    return;
  }
  /* A few writes per wake-up: flood, but let the other guests' replies through. */
  for (int i = 0; i < 4 && c->fd >= 0; i++) {
    size_t off = rnd() % 4096;
    ssize_t n = write(c->fd, e->garbage + off, sizeof e->garbage - off);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      return;
    if (n <= 0) {
      conn_close(e, c);
      return;
    }
    e->hostile_bytes += (guint64)n;
  }
}

static void attack_tick(Eng *e);

/* One epoll round; waits at most timeout_us. */
static void eng_poll(Eng *e, double timeout_us) {
  struct epoll_event evs[512];
  if (e->attack == ATK_CHURN || e->attack == ATK_LORIS) {
    double t = now_us();
    if (t - e->last_tick >= 100e3) {
      e->last_tick = t;
      attack_tick(e);
    }
    timeout_us = MIN(timeout_us, 100e3);
  }
  if (timeout_us < 0)
    timeout_us = 0;
  struct timespec ts = {.tv_sec = (time_t)(timeout_us / 1e6),
                        .tv_nsec = (long)fmod(timeout_us * 1e3, 1e9)};
  int n = epoll_pwait2(e->ep, evs, G_N_ELEMENTS(evs), &ts, NULL);
  for (int i = 0; i < n; i++) {
    int idx = (int)(evs[i].data.u64 >> 1);
    Conn *c = &e->c[idx];
    if (evs[i].data.u64 & 1) {
      conn_accept(e, c);
      continue;
    }
    if (c->fd < 0)
      continue;
    if (evs[i].events & EPOLLOUT)
      conn_writable(e, c);
    if (c->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
      conn_readable(e, c);
  }
}

static void eng_init(Eng *e, const char *dir, int n_guests, gboolean hostile, int n_attackers) {
  memset(e, 0, sizeof *e);
  e->ep = epoll_create1(EPOLL_CLOEXEC);
  e->n_guests = n_guests;
  e->first_attacker = n_guests + (hostile ? 1 : 0);
  e->n_attackers = n_attackers;
  e->n_conns = e->first_attacker + n_attackers;
  e->c = g_new0(Conn, e->n_conns);
  for (int i = 0; i < e->n_conns; i++) {
    Conn *c = &e->c[i];
    c->idx = i;
    c->kind = i < n_guests ? K_GUEST : i < e->first_attacker ? K_HOSTILE : K_ATTACK;
    c->fd = -1;
    g_autofree char *path = c->kind == K_GUEST    ? g_strdup_printf("%s/g%d.sock", dir, i)
                            : c->kind == K_ATTACK ? g_strdup_printf("%s/a%d.sock", dir, i)
                                                  : g_strdup_printf("%s/h.sock", dir);
    c->lfd = listen_unix(path, 16);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag(i, TRUE)};
    epoll_ctl(e->ep, EPOLL_CTL_ADD, c->lfd, &ev);
  }
  /* Garbage: random bytes with frame magics sprinkled in, so that the resync path (header
   * check failures) is exercised too, not only the scan for 0xFF. */
  for (size_t i = 0; i < sizeof e->garbage; i++)
    e->garbage[i] = (uint8_t)rnd();
  for (size_t i = 0; i + 4 < sizeof e->garbage; i += 64 + rnd() % 192)
    memcpy(e->garbage + i,
           "\xff"
           "AVK",
           4);
  /* CRC amplification: headers whose own check passes, each claiming a maximum payload that
   * never comes (the next headers count as its payload). */
  for (size_t i = 0; i + 24 <= sizeof e->planted; i += 24) {
    uint8_t *h = e->planted + i;
    memset(h, 0, 24);
    h[0] = 0xFF, h[1] = 'A', h[2] = 'V', h[3] = 'K', h[4] = AVMA_FRAME_VERSION;
    h[5] = AVMA_MSG_HELLO;
    h[16] = (AVMA_FRAME_MAX_PAYLOAD >> 24) & 0xFF, h[17] = (AVMA_FRAME_MAX_PAYLOAD >> 16) & 0xFF;
    h[18] = (AVMA_FRAME_MAX_PAYLOAD >> 8) & 0xFF, h[19] = AVMA_FRAME_MAX_PAYLOAD & 0xFF;
    uint32_t crc = avma_crc32c(0, h, 20);
    h[20] = (uint8_t)(crc >> 24), h[21] = (uint8_t)(crc >> 16), h[22] = (uint8_t)(crc >> 8);
    h[23] = (uint8_t)crc;
  }
  /* Slow loris: a real maximum frame, sent a byte at a time. */
  g_autofree uint8_t *pl = g_malloc0(AVMA_FRAME_MAX_PAYLOAD);
  avma_frame_encode(AVMA_MSG_SET, 0, 1, 1, pl, AVMA_FRAME_MAX_PAYLOAD, e->loris_frame,
                    sizeof e->loris_frame);
}

/* Reconnect churn: every tick each churning attacker bursts a HELLO and 30 ACTIVATEs, then 60
 * junk frames to get itself hung up, and starts again when the host reconnects. Slow loris: each
 * sends one more byte of a maximum frame. */
static void attack_tick(Eng *e) {
  for (int i = e->first_attacker + e->attack_off;
       i < e->first_attacker + e->attack_off + e->attacking; i++) {
    Conn *c = &e->c[i];
    if (c->fd < 0)
      continue;
    if (e->attack == ATK_LORIS) {
      if (write(c->fd, e->loris_frame + c->loris_off, 1) == 1) {
        c->loris_off = (c->loris_off + 1) % sizeof e->loris_frame;
        e->attack_bytes++;
      }
      continue;
    }
    do
      c->session = rnd();
    while (c->session == 0);
    c->seq = 1;
    conn_send(e, c, AVMA_MSG_HELLO, &pl_hello);
    for (int k = 0; k < 30; k++) {
      c->seq++;
      conn_send(e, c, AVMA_MSG_ACTIVATE, &pl_act[0]);
    }
    for (int k = 0; k < 60 && c->fd >= 0; k++) {
      uint8_t junk[64];
      size_t n = avma_frame_encode(AVMA_MSG_GET, 0, c->session, 1000 + (uint32_t)k, NULL, 0, junk,
                                   sizeof junk);
      junk[n - 1] ^= 1; /* frame check fails */
      if (!c->out)
        c->out = g_byte_array_new();
      g_byte_array_append(c->out, junk, (guint)n);
      e->attack_bytes += n;
    }
    if (c->fd >= 0)
      conn_flush(e, c);
  }
}

static void eng_free(Eng *e) {
  for (int i = 0; i < e->n_conns; i++) {
    Conn *c = &e->c[i];
    if (c->fd >= 0)
      close(c->fd);
    close(c->lfd);
    g_free(c->dec);
    if (c->out)
      g_byte_array_unref(c->out);
  }
  g_free(e->c);
  close(e->ep);
}

static void eng_set_attack(Eng *e, Attack a, int count, int off) {
  e->attack = a;
  e->attack_off = off;
  e->attacking = a == ATK_NONE ? 0 : MIN(count, e->n_attackers - off);
  e->attack_bytes = 0;
  e->attack_decisions = 0;
  for (int i = e->first_attacker; i < e->n_conns; i++)
    if (e->c[i].fd >= 0)
      conn_events(e, &e->c[i]);
}

static void eng_set_hostile(Eng *e, gboolean on) {
  e->hostile_on = on;
  for (int i = e->n_guests; i < e->n_conns; i++)
    if (e->c[i].fd >= 0)
      conn_events(e, &e->c[i]);
}

/* ---- modes ---- */

static void mode_storm(Eng *e, Run *r) {
  e->run = r;
  r->t0 = now_us();
  for (int i = 0; i < e->n_guests; i++)
    if (e->c[i].fd >= 0)
      start_exchange(e, &e->c[i]);
  while (e->inflight > 0 && now_us() - r->t0 < STORM_TIMEOUT_US)
    eng_poll(e, 100000);
}

/* Open loop: start exchanges at `rate` per second, round-robin over idle guests, for `dur`
 * seconds; then let those in flight finish. */
static void mode_renew(Eng *e, Run *r, double rate, double dur) {
  e->run = r;
  r->offered_rate = rate;
  r->t0 = now_us();
  double interval = 1e6 / rate, next = r->t0, end = r->t0 + dur * 1e6;
  int rr = 0;
  for (;;) {
    double t = now_us();
    if (t >= end)
      break;
    while (next <= t) {
      int found = -1;
      for (int k = 0; k < e->n_guests; k++) {
        int i = (rr + k) % e->n_guests;
        if (e->c[i].step == 0 && e->c[i].fd >= 0) {
          found = i;
          break;
        }
      }
      if (found >= 0) {
        start_exchange(e, &e->c[found]);
        rr = (found + 1) % e->n_guests;
      } else {
        r->skipped++;
      }
      next += interval;
    }
    eng_poll(e, MIN(next, end) - now_us());
  }
  double drain = now_us();
  while (e->inflight > 0 && now_us() - drain < 10e6)
    eng_poll(e, 100000);
}

static void idle_for(Eng *e, double secs) {
  double end = now_us() + secs * 1e6;
  for (double t = now_us(); t < end; t = now_us())
    eng_poll(e, end - t);
}

/* Wait (serving the sockets) until pid has not been scheduled for quiet_s, at most max_s: work
 * the daemon defers after activity (debounced files) is not "idle". Returns seconds waited. */
static double settle(Eng *e, pid_t pid, double quiet_s, double max_s) {
  double t0 = now_us(), quiet_since = t0;
  long last = proc_snap(pid).ctxt;
  while (now_us() - t0 < max_s * 1e6) {
    idle_for(e, 0.25);
    long c = proc_snap(pid).ctxt;
    if (c != last) {
      last = c;
      quiet_since = now_us();
    } else if (now_us() - quiet_since >= quiet_s * 1e6) {
      break;
    }
  }
  return (now_us() - t0) / 1e6;
}

static char *state_dir_new(const char *base) {
  g_autofree char *tmpl = g_strdup_printf("%s/avma-bench-state.XXXXXX", base);
  char *d = g_mkdtemp(g_strdup(tmpl));
  if (!d)
    die("cannot create a state directory under %s: %s", base, strerror(errno));
  return d;
}

/* ---- anchors ---- */

typedef struct {
  Samples rtt;
  gboolean ok;
  char *why;
} Rtt;

/* The floor: a trivial echo server (poll, read, write back) in its own process. */
static void echo_server(int lfd) {
  int fd;
  struct pollfd p = {.fd = lfd, .events = POLLIN};
  poll(&p, 1, 10000);
  fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
  if (fd < 0)
    _exit(1);
  uint8_t buf[65536];
  p.fd = fd;
  for (;;) {
    if (poll(&p, 1, -1) < 0 && errno != EINTR)
      _exit(1);
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0)
      _exit(0);
    if (!write_all(fd, buf, (size_t)n))
      _exit(1);
  }
}

/* Round trips of msg (len bytes) to a server that answers with a reply ending in `end` (or
 * of the same length when end is 0). */
static void measure_rtt(int fd, const void *msg, size_t len, char end, int iters, Rtt *out) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  uint8_t buf[65536];
  for (int i = 0; i < iters; i++) {
    double t = now_us();
    if (!write_all(fd, msg, len)) {
      out->why = g_strdup("write failed");
      break;
    }
    size_t got = 0;
    gboolean done = FALSE;
    while (!done) {
      if (!wait_readable(ep, 5000)) {
        out->why = g_strdup("no reply within 5 s");
        goto out;
      }
      ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) {
        out->why = g_strdup("connection closed");
        goto out;
      }
      got += (size_t)n;
      done = end ? buf[n - 1] == (uint8_t)end : got >= len;
    }
    if (i >= iters / 20) /* warm-up */
      sa_add(&out->rtt, now_us() - t);
  }
  out->ok = TRUE;
out:
  close(ep);
}

static size_t echo_msg_len; /* an ACTIVATE frame */

static void anchor_echo(const char *dir, int iters, Rtt *out) {
  size_t msg_len = echo_msg_len;
  g_autofree char *path = g_build_filename(dir, "echo.sock", NULL);
  int lfd = listen_unix(path, 1);
  pid_t pid = fork();
  if (pid == 0) {
    /* Not this process's children: the handlers inherited from it must not stop them. */
    memset(kids, 0, sizeof kids);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    echo_server(lfd);
    _exit(0);
  }
  close(lfd);
  int fd = connect_unix(path);
  if (fd < 0) {
    out->why = g_strdup("cannot connect");
  } else {
    g_autofree uint8_t *msg = g_malloc0(msg_len);
    measure_rtt(fd, msg, msg_len, 0, iters, out);
    close(fd);
  }
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
}

/* The durable floor: append one ~400-byte line and fdatasync, as the 12310 log does. */
static void anchor_fsync(const char *base, Samples *out) {
  g_autofree char *state = state_dir_new(base);
  g_autofree char *path = g_build_filename(state, "floor.jsonl", NULL);
  char line[400];
  memset(line, 'x', sizeof line);
  line[sizeof line - 1] = '\n';
  for (int i = 0; i < 300; i++) {
    double t = now_us();
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0 || !write_all(fd, line, sizeof line) || fdatasync(fd) < 0)
      die("fsync floor: %s", strerror(errno));
    close(fd);
    if (i >= 20)
      sa_add(out, now_us() - t);
  }
  rm_rf(state);
}

typedef struct {
  pid_t pid;
  int fd;
  double start_ms; /* start until the socket accepts */
  Rtt rtt;
} Qga;

static void qga_start(const char *dir, Qga *q) {
  memset(q, 0, sizeof *q);
  q->fd = -1;
  if (access(opt.qga, X_OK) != 0) {
    q->rtt.why =
        g_strdup_printf("%s not installed (BENCH_PKGS installs qemu-guest-agent)", opt.qga);
    return;
  }
  g_autofree char *sock = g_build_filename(dir, "qga.sock", NULL);
  g_autofree char *pidf = g_build_filename(dir, "qga.pid", NULL);
  g_autofree char *log = g_build_filename(dir, "qga.log", NULL);
  char *argv[] = {opt.qga, "-m", "unix-listen", "-p", sock, "-t", (char *)dir, "-f", pidf, NULL};
  double t0 = now_us();
  q->pid = spawn(argv, log);
  while (now_us() - t0 < 10e6) {
    q->fd = connect_unix(sock);
    if (q->fd >= 0)
      break;
    usleep(500);
  }
  q->start_ms = (now_us() - t0) / 1e3;
  if (q->fd < 0) {
    q->rtt.why = g_strdup("qemu-ga did not listen");
    return;
  }
  static const char ping[] = "{\"execute\":\"guest-ping\"}\n";
  measure_rtt(q->fd, ping, sizeof ping - 1, '\n', MAX(opt.echo_iters / 4, 100), &q->rtt);
}

/* ---- host agent per N ---- */

typedef struct {
  int n;
  double load_start, load_end;
  double connect_s;
  long rss_connected_kb;
  Run storm, renew, hostile;
  double settle_s;           /* after the storm, until the daemon was quiet for 2 s */
  double echo50, fs50, fs99; /* the floors measured just before the renewals (same conditions) */
  double idle_s, idle_cpu_s;
  long idle_ctxt;
  long idle_rss_kb;
  long hwm_kb;
  double cpu_total_s; /* utime+stime at the end */
  guint64 hostile_bytes;
  guint hostile_connects;
  long events_lines;
  gboolean ok;
} NResult;

static void licence_set(const char *state) {
  g_autofree char *host = g_build_filename(opt.build, "avma-host", NULL);
  char *argv[] = {host,   "--state-dir", (char *)state, "license",     "set", "--version",
                  "2022", "--edition",   "Datacenter",  "--activated", "yes", NULL};
  if (run_wait(argv, "/dev/null") != 0)
    die("avma-host license set failed");
}

static pid_t hostd_start(const char *conf, const char *state, const char *log) {
  g_autofree char *bin = g_build_filename(opt.build, "avma-hostd", NULL);
  g_autoptr(GPtrArray) a = g_ptr_array_new_with_free_func(g_free);
  if (opt.hostd_wrap) {
    g_auto(GStrv) w = g_strsplit(opt.hostd_wrap, " ", -1);
    for (char **p = w; *p; p++)
      if (**p)
        g_ptr_array_add(a, g_strdup(*p));
  }
  g_ptr_array_add(a, g_strdup(bin));
  g_ptr_array_add(a, g_strdup("--config"));
  g_ptr_array_add(a, g_strdup(conf));
  g_ptr_array_add(a, g_strdup("--state-dir"));
  g_ptr_array_add(a, g_strdup(state));
  g_ptr_array_add(a, NULL);
  return spawn((char **)a->pdata, log);
}

static long count_lines(const char *path) {
  g_autofree char *s = read_file(path);
  long n = 0;
  for (char *p = s; p && *p; p++)
    n += *p == '\n';
  return n;
}

/* perf record avma-hostd during one mode into OPT.perf.MODE; waits until perf is attached. */
static pid_t perf_start(pid_t target, const char *mode) {
  if (!opt.perf)
    return 0;
  g_autofree char *p = g_strdup_printf("%d", target);
  g_autofree char *out = g_strdup_printf("%s.%s", opt.perf, mode);
  /* Without frame pointers, user-space stacks need dwarf unwinding (--perf-dwarf). */
  char *argv[] = {"perf",      "record", "-q",   "-e",
                  "cpu-clock", "-F",     "1999", opt.perf_dwarf ? "--call-graph=dwarf" : "-g",
                  "-p",        p,        "-o",   out,
                  NULL};
  pid_t pid = spawn(argv, "/dev/null");
  usleep(300000);
  return pid;
}

static void perf_stop(pid_t pid) {
  if (pid <= 0)
    return;
  kill(pid, SIGINT);
  waitpid(pid, NULL, 0);
  kids_remove(pid);
}

/* The floors again, now: the machine's load drifts during a run (other jobs), and a ratio is
 * only fair against a floor measured under the same conditions. */
static void local_floors(const char *dir, const char *state_base, NResult *res) {
  Rtt e = {0};
  Samples f = {0};
  anchor_echo(dir, MAX(opt.echo_iters / 4, 500), &e);
  anchor_fsync(state_base, &f);
  res->echo50 = sa_pct(&e.rtt, 50);
  res->fs50 = sa_pct(&f, 50);
  res->fs99 = sa_pct(&f, 99);
  sa_free(&e.rtt);
  g_free(e.why);
  sa_free(&f);
}

/* full: storm, idle, renew, hostile; else renewals only (the state-on-tmpfs variant). */
static void run_n(NResult *res, int n, gboolean profile, const char *state_base, gboolean full) {
  memset(res, 0, sizeof *res);
  res->n = n;
  res->load_start = loadavg1();
  g_autofree char *dir = g_mkdtemp(g_strdup("/tmp/avmabench.XXXXXX"));
  g_autofree char *state = state_dir_new(state_base);
  licence_set(state);
  Eng e;
  eng_init(&e, dir, n, TRUE, 0);

  g_autoptr(GString) conf = g_string_new(HOSTD_CONF_BASE);
  g_string_append_printf(conf, "%s[channels]\n", HOSTD_CONF_HISTORY);
  for (int i = 0; i < n; i++)
    g_string_append_printf(conf, "g%d=%s/g%d.sock\n", i, dir, i);
  g_string_append_printf(conf, "hostile=%s/h.sock\n", dir);
  g_autofree char *conf_path = g_build_filename(dir, "host.conf", NULL);
  if (!g_file_set_contents(conf_path, conf->str, (gssize)conf->len, NULL))
    die("cannot write %s", conf_path);
  g_autofree char *log = g_build_filename(dir, "hostd.log", NULL);

  note("N=%d: starting avma-hostd with %d channels (+1 hostile)", n, n);
  double t0 = now_us();
  pid_t pid = hostd_start(conf_path, state, log);
  while (e.connected < e.n_conns && now_us() - t0 < CONNECT_TIMEOUT_US)
    eng_poll(&e, 100000);
  res->connect_s = (now_us() - t0) / 1e6;
  if (e.connected < e.n_conns) {
    note("N=%d: only %d of %d channels connected", n, e.connected, e.n_conns);
    stop_proc(pid);
    eng_free(&e);
    rm_rf(dir);
    rm_rf(state);
    return;
  }
  idle_for(&e, 0.5);
  res->rss_connected_kb = proc_kb(pid, "status", "VmRSS");
  double rate = MIN(opt.rate, PER_GUEST_RATE * n);
  Snap a, b;
  pid_t perf;
  local_floors(dir, state_base, res);
  if (!full) {
    perf = profile ? perf_start(pid, "tmpfs") : 0;
    a = proc_snap(pid);
    mode_renew(&e, &res->renew, rate, opt.duration);
    b = proc_snap(pid);
    perf_stop(perf);
    res->renew.cpu_s = (b.cpu_ns - a.cpu_ns) / 1e9;
    note("N=%d, state in %s: renewals: %ld ok, decision p50 %.0f us", n, state_base, res->renew.ok,
         sa_pct(&res->renew.dec, 50));
    goto done;
  }

  perf = profile ? perf_start(pid, "storm") : 0;
  a = proc_snap(pid);
  mode_storm(&e, &res->storm);
  b = proc_snap(pid);
  perf_stop(perf);
  res->storm.cpu_s = (b.cpu_ns - a.cpu_ns) / 1e9;
  note("N=%d: storm: %ld ok of %d in %.3f s", n, res->storm.ok, n,
       (res->storm.t_last - res->storm.t0) / 1e6);

  res->settle_s = settle(&e, pid, 2.0, 30.0);
  a = proc_snap(pid);
  double ti = now_us();
  idle_for(&e, opt.idle);
  b = proc_snap(pid);
  res->idle_s = (now_us() - ti) / 1e6;
  res->idle_cpu_s = (b.cpu_ns - a.cpu_ns) / 1e9;
  res->idle_ctxt = b.ctxt - a.ctxt;
  res->idle_rss_kb = proc_kb(pid, "status", "VmRSS");

  perf = profile ? perf_start(pid, "renew") : 0;
  a = proc_snap(pid);
  mode_renew(&e, &res->renew, rate, opt.duration);
  b = proc_snap(pid);
  perf_stop(perf);
  res->renew.cpu_s = (b.cpu_ns - a.cpu_ns) / 1e9;
  note("N=%d: renewals: %ld ok, decision p50 %.0f us", n, res->renew.ok,
       sa_pct(&res->renew.dec, 50));

  perf = profile ? perf_start(pid, "hostile") : 0;
  eng_set_hostile(&e, TRUE);
  a = proc_snap(pid);
  mode_renew(&e, &res->hostile, rate, opt.duration);
  b = proc_snap(pid);
  eng_set_hostile(&e, FALSE);
  perf_stop(perf);
  res->hostile.cpu_s = (b.cpu_ns - a.cpu_ns) / 1e9;
  res->hostile_bytes = e.hostile_bytes;
  res->hostile_connects = e.c[n].connects;
  note("N=%d: beside a hostile guest: %ld ok, decision p50 %.0f us, %.1f MB garbage", n,
       res->hostile.ok, sa_pct(&res->hostile.dec, 50), (double)e.hostile_bytes / 1e6);

done:
  res->hwm_kb = proc_kb(pid, "status", "VmHWM");
  res->cpu_total_s = proc_cpu_stat(pid);
  res->load_end = loadavg1();
  stop_proc(pid);
  g_autofree char *events = g_build_filename(state, "events.jsonl", NULL);
  res->events_lines = count_lines(events);
  res->ok = TRUE;
  eng_free(&e);
  rm_rf(dir);
  rm_rf(state);
}

/* ---- attacks (issue #17) ---- */

typedef struct {
  Attack attack;
  int count;
  Run r;
  double wall_s, cpu_s;
  guint64 bytes;
  long decisions; /* ACTIVATE_REPLY frames the attackers read */
  long logged,
      logged_max; /* 12310 records of attacking VMs in the host's log: all, one VM's most */
  guint connects;
} AttackResult;

/* The host's own count of the decisions it made for attacker channels [from, to) (named a<i>)
 * since offset: a churning attacker hangs up before most replies reach it, yet each decision
 * was made and logged, so the limit is checked against the log. */
static void count_logged(const char *events, goffset since, int from, int to, long *all,
                         long *most) {
  *all = *most = 0;
  g_autofree char *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents(events, &data, &len, NULL) || (gsize)since > len)
    return;
  g_autofree long *per = g_new0(long, to - from);
  for (char *l = data + since, *end; *l; l = end + 1) {
    end = strchr(l, '\n');
    if (!end)
      break;
    *end = '\0';
    const char *vm;
    int i;
    if (strstr(l, "\"event_id\":12310") && (vm = strstr(l, "\"vm\":\"a")) &&
        sscanf(vm + 7, "%d", &i) == 1 && i >= from && i < to) {
      (*all)++;
      long seen = ++per[i - from];
      *most = MAX(*most, seen);
    }
  }
}

static goffset file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? st.st_size : 0;
}

#define N_ATTACK_RUNS 8
static const struct {
  Attack a;
  int count, off;
} attack_plan[N_ATTACK_RUNS] = {
    {ATK_NONE, 0, 0},      {ATK_CRC, 1, 0},    {ATK_CRC, 40, 0},    {ATK_GARBAGE, 1, 40},
    {ATK_GARBAGE, 40, 40}, {ATK_CHURN, 1, 80}, {ATK_CHURN, 40, 80}, {ATK_LORIS, 50, 120},
};

/* n renewing guests and MAX_ATTACKERS attacker channels on one avma-hostd: the renewals alone,
 * then beside each attack. */
static gboolean run_attacks(int n, AttackResult *out) {
  memset(out, 0, sizeof(AttackResult) * N_ATTACK_RUNS);
  g_autofree char *dir = g_mkdtemp(g_strdup("/tmp/avmabench.XXXXXX"));
  g_autofree char *state = state_dir_new(opt.state_base);
  licence_set(state);
  Eng e;
  eng_init(&e, dir, n, FALSE, MAX_ATTACKERS);
  g_autoptr(GString) conf = g_string_new(HOSTD_CONF_BASE);
  g_string_append_printf(conf, "%s[channels]\n", HOSTD_CONF_HISTORY);
  for (int i = 0; i < e.n_conns; i++)
    g_string_append_printf(conf, "%s%d=%s/%s%d.sock\n", i < n ? "g" : "a", i, dir,
                           i < n ? "g" : "a", i);
  g_autofree char *conf_path = g_build_filename(dir, "host.conf", NULL);
  if (!g_file_set_contents(conf_path, conf->str, (gssize)conf->len, NULL))
    die("cannot write %s", conf_path);
  g_autofree char *log = g_build_filename(dir, "hostd.log", NULL);
  note("attacks: avma-hostd with %d guests and %d attacker channels", n, MAX_ATTACKERS);
  double t0 = now_us();
  pid_t pid = hostd_start(conf_path, state, log);
  while (e.connected < e.n_conns && now_us() - t0 < CONNECT_TIMEOUT_US)
    eng_poll(&e, 100000);
  gboolean ok = e.connected == e.n_conns;
  if (ok) {
    Run warm = {0};
    mode_storm(&e, &warm);
    settle(&e, pid, 1.0, 20.0);
    double rate = MIN(opt.rate, PER_GUEST_RATE * n);
    for (int k = 0; k < N_ATTACK_RUNS; k++) {
      AttackResult *a = &out[k];
      a->attack = attack_plan[k].a;
      a->count = attack_plan[k].count;
      int from = e.first_attacker + attack_plan[k].off, to = from + a->count;
      guint c0 = 0;
      for (int i = from; i < to; i++)
        c0 += e.c[i].connects;
      eng_set_attack(&e, a->attack, a->count, attack_plan[k].off);
      g_autofree char *events = g_build_filename(state, "events.jsonl", NULL);
      goffset log0 = file_size(events);
      Snap s0 = proc_snap(pid);
      double w0 = now_us();
      mode_renew(&e, &a->r, rate, opt.duration);
      a->wall_s = (now_us() - w0) / 1e6;
      a->cpu_s = (proc_snap(pid).cpu_ns - s0.cpu_ns) / 1e9;
      a->bytes = e.attack_bytes;
      a->decisions = e.attack_decisions;
      for (int i = from; i < to; i++)
        a->connects += e.c[i].connects;
      a->connects -= c0;
      eng_set_attack(&e, ATK_NONE, 0, 0);
      note("attacks: %s x%d: hostd CPU %.1f%%, decision p99 %.0f us, %ld attacker decisions",
           attack_names[a->attack], a->count, 100.0 * a->cpu_s / a->wall_s, sa_pct(&a->r.dec, 99),
           a->decisions);
      settle(&e, pid, 1.0, 10.0);
      count_logged(events, log0, from, to, &a->logged, &a->logged_max);
    }
  } else {
    note("attacks: only %d of %d channels connected", e.connected, e.n_conns);
  }
  stop_proc(pid);
  eng_free(&e);
  if (!opt.keep) {
    rm_rf(dir);
    rm_rf(state);
  }
  return ok;
}

static AttackResult attack_res[N_ATTACK_RUNS];
static gboolean attack_ran, attack_ok;

static void report_attacks(GString *o, int n, const AttackResult *a, gboolean ok) {
  g_string_append_printf(
      o,
      "## Attacks beside %d renewing guests\n\n"
      "One avma-hostd serves %d guests renewing at the offered rate and %d attacker channels; "
      "each row runs the renewals for the mode duration with the given attack on (the first row: "
      "none). CRC amplification: 24-byte headers with valid header checks claiming 16 KiB "
      "payloads, session 0, as fast as the socket takes them. Garbage flood: random bytes with "
      "frame magics. Reconnect churn: every 100 ms a HELLO, 30 ACTIVATEs and 60 bad frames to get "
      "hung up, again after each reconnect (each attack has channels of its own, since limits "
      "persist per VM). Slow loris: 50 channels each sending a maximum frame "
      "one byte per 100 ms. Targets: the attack's cost, hostd CPU above the row without "
      "attackers (the renewals themselves are the same work in every row, offered far faster than "
      "a real fleet's daily renewals), at most 10%% of one core; the "
      "guests' decision p99 within 2x of the row without attackers; decisions per attacking VM "
      "never above the configured limit (bench config: 600 a minute, bursts of 30: at most %.0f "
      "in a %.0f s row).\n\n",
      n, n, MAX_ATTACKERS, 30 + 10.0 * opt.duration, opt.duration);
  if (!ok) {
    g_string_append(o, "The run failed: the channels did not all connect.\n\n");
    return;
  }
  g_string_append(o,
                  "| attack | attackers | guests ok/started | decision p50 | p99 | p99 vs "
                  "none | hostd CPU | above none | attack bytes | host reconnects | max decisions "
                  "per attacking VM |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
  double base99 = sa_pct((Samples *)&a[0].r.dec, 99);
  double base_cpu = 100.0 * a[0].cpu_s / MAX(a[0].wall_s, 1e-9);
  for (int k = 0; k < N_ATTACK_RUNS; k++) {
    const AttackResult *x = &a[k];
    double p99 = sa_pct((Samples *)&x->r.dec, 99);
    double cpu = 100.0 * x->cpu_s / MAX(x->wall_s, 1e-9);
    g_autofree char *dec = x->attack == ATK_CHURN
                               ? g_strdup_printf("%ld (%ld logged in all; %ld replies read)",
                                                 x->logged_max, x->logged, x->decisions)
                               : g_strdup("–");
    g_string_append_printf(o,
                           "| %s | %d | %ld/%ld | %.0f µs | %.0f µs | %.2fx | %.1f%% | %+.1f%% | "
                           "%.1f MB | %u | %s |\n",
                           attack_names[x->attack], x->count, x->r.ok, x->r.started,
                           sa_pct((Samples *)&x->r.dec, 50), p99, base99 > 0 ? p99 / base99 : NAN,
                           cpu, k ? cpu - base_cpu : 0.0, (double)x->bytes / 1e6, x->connects, dec);
  }
  g_string_append(o, "\n");
}

/* ---- guest agent ---- */

typedef struct {
  const char *name;
  gboolean ok;
  char *why;
  double first_ms;     /* start until its first byte reaches the host side */
  double activated_ms; /* start until ACTIVATE_REPLY went back to it */
  long rss_kb, pss_kb, hwm_kb, anon_kb;
  long ctxt;
  double cpu_s, window_s;
  int threads;
  char *top; /* the largest resident mappings */
} AgentIdle;

static void agent_idle_begin(pid_t pid, Snap *s) {
  *s = proc_snap(pid);
}

static void agent_idle_end(pid_t pid, const Snap *a, double window_s, AgentIdle *out) {
  Snap b = proc_snap(pid);
  out->ctxt = b.ctxt - a->ctxt;
  out->cpu_s = (b.cpu_ns - a->cpu_ns) / 1e9;
  out->window_s = window_s;
  out->threads = b.threads;
  out->rss_kb = proc_kb(pid, "status", "VmRSS");
  out->hwm_kb = proc_kb(pid, "status", "VmHWM");
  out->pss_kb = proc_kb(pid, "smaps_rollup", "Pss");
  out->anon_kb = proc_kb(pid, "status", "RssAnon");
  out->top = smaps_top(pid, 8);
}

typedef struct {
  AgentIdle guestd, qga, hostd;
  Qga q;
  double load;
} GuestResult;

/* avma-guestd on a PTY (its port stand-in) that this process relays to a unix socket which
 * avma-hostd connects to: the relay sees the first byte the guest sends and the reply that
 * activates it. Then an idle window, side by side with qemu-ga (connected, pinged, idle). */
static void run_guest(const char *dir, GuestResult *gr) {
  gr->guestd.name = "avma-guestd";
  gr->qga.name = "qemu-ga";
  gr->hostd.name = "avma-hostd (1 channel)";
  g_autofree char *state = state_dir_new(opt.state_base);
  licence_set(state);
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
  if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
    die("pty: %s", strerror(errno));
  struct termios t;
  if (tcgetattr(master, &t) == 0) {
    cfmakeraw(&t);
    tcsetattr(master, TCSANOW, &t);
  }
  int keep = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  g_autofree char *port = g_build_filename(dir, "port", NULL);
  unlink(port);
  if (symlink(ptsname(master), port) < 0)
    die("symlink: %s", strerror(errno));
  g_autofree char *sock = g_build_filename(dir, "gd.sock", NULL);
  int lfd = listen_unix(sock, 4);
  g_autofree char *hconf = g_build_filename(dir, "hostd-guest.conf", NULL);
  g_autofree char *hc =
      g_strdup_printf(HOSTD_CONF_BASE "%s[channels]\nvm1=%s\n", HOSTD_CONF_HISTORY, sock);
  g_file_set_contents(hconf, hc, -1, NULL);
  g_autofree char *hlog = g_build_filename(dir, "hostd-guest.log", NULL);
  pid_t hpid = hostd_start(hconf, state, hlog);
  struct pollfd lp = {.fd = lfd, .events = POLLIN};
  poll(&lp, 1, 10000);
  int hfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (hfd < 0)
    die("avma-hostd did not connect to %s", sock);

  g_autofree char *gconf = g_build_filename(dir, "guest.conf", NULL);
  g_file_set_contents(gconf, "[guest]\njournal=no\n", -1, NULL);
  g_autofree char *gstate = g_build_filename(dir, "guest-state", NULL);
  g_autofree char *gcli = g_build_filename(opt.build, "avma-guest", NULL);
  g_autofree char *gbin = g_build_filename(opt.build, "avma-guestd", NULL);
  g_autofree char *glog = g_build_filename(dir, "guestd.log", NULL);
  char *ipk[] = {gcli,          "--config", gconf,
                 "--state-dir", gstate,     "--port",
                 port,          "ipk",      "W3GNR-8DDXR-2TFRP-H8P33-DV9BG",
                 NULL};
  if (run_wait(ipk, glog) != 0)
    die("avma-guest ipk failed (see %s)", glog);

  char *gargv[] = {gbin, "--config", gconf, "--state-dir", gstate, "--port", port, NULL};
  double t0 = now_us();
  pid_t gpid = spawn(gargv, glog);
  AvmaDecoder *dec = g_new(AvmaDecoder, 1);
  avma_decoder_init(dec);
  double t_first = 0, t_act = 0, idle_end = 0, idle_start = 0;
  Snap sg = {0}, sq = {0}, sh = {0};
  gboolean activated_ok = FALSE;
  uint8_t buf[65536];
  for (;;) {
    double now = now_us();
    if (!t_act && now - t0 > 30e6) {
      gr->guestd.why = g_strdup("no activation within 30 s");
      break;
    }
    if (t_act && !idle_start && now - t_act > 1e6) {
      idle_start = now;
      idle_end = now + opt.guest_idle * 1e6;
      agent_idle_begin(gpid, &sg);
      agent_idle_begin(hpid, &sh);
      if (gr->q.pid > 0)
        agent_idle_begin(gr->q.pid, &sq);
      note("guest agent activated; idle window of %.0f s (avma-guestd beside qemu-ga)",
           opt.guest_idle);
    }
    if (idle_start && now >= idle_end)
      break;
    struct pollfd p[2] = {{.fd = master, .events = POLLIN}, {.fd = hfd, .events = POLLIN}};
    double wait = idle_start ? idle_end - now : 50000;
    poll(p, 2, (int)MAX(1, wait / 1000));
    if (p[0].revents & POLLIN) {
      ssize_t n = read(master, buf, sizeof buf);
      if (n > 0) {
        if (!t_first)
          t_first = now_us();
        write_all(hfd, buf, (size_t)n);
      }
    }
    if (p[1].revents & (POLLIN | POLLHUP)) {
      ssize_t n = read(hfd, buf, sizeof buf);
      if (n == 0)
        die("avma-hostd closed the guest channel");
      if (n > 0) {
        write_all(master, buf, (size_t)n);
        const uint8_t *d = buf;
        size_t len = (size_t)n;
        while (len > 0) {
          size_t took = avma_decoder_feed(dec, d, len);
          d += took;
          len -= took;
          AvmaFrame f;
          AvmaDecStatus st;
          while ((st = avma_decoder_next(dec, &f, NULL)) != AVMA_DEC_NEED_MORE) {
            if (st != AVMA_DEC_FRAME || f.type != AVMA_MSG_ACTIVATE_REPLY)
              continue;
            AvmaRecord recs[AVMA_KVP_MAX_RECORDS];
            size_t nr = 0, vl = 0;
            const char *v = NULL;
            if (avma_msg_parse(&f, AVMA_PARSE_FROM_HOST, recs, &nr, NULL))
              v = avma_records_find(recs, nr, AVMA_KEY_AvmaNotification, &vl);
            activated_ok = v && vl == 12 && !memcmp(v, "AVMA Success", 12);
            if (!t_act)
              t_act = now_us();
          }
        }
      }
    }
  }
  if (idle_start) {
    double w = (now_us() - idle_start) / 1e6;
    agent_idle_end(gpid, &sg, w, &gr->guestd);
    agent_idle_end(hpid, &sh, w, &gr->hostd);
    gr->hostd.ok = TRUE;
    if (gr->q.pid > 0 && gr->q.rtt.ok) {
      agent_idle_end(gr->q.pid, &sq, w, &gr->qga);
      gr->qga.ok = TRUE;
      gr->qga.first_ms = gr->q.start_ms;
    }
    gr->guestd.ok = activated_ok;
    if (!activated_ok)
      gr->guestd.why = g_strdup("activation did not succeed");
  }
  gr->guestd.first_ms = t_first ? (t_first - t0) / 1e3 : NAN;
  gr->guestd.activated_ms = t_act ? (t_act - t0) / 1e3 : NAN;
  stop_proc(gpid);
  stop_proc(hpid);
  g_free(dec);
  close(hfd);
  close(lfd);
  close(keep);
  close(master);
  rm_rf(state);
}

/* ---- report ---- */

/* "HEAD 1234abc, 3 files modified or untracked" for the tree the agents were built from. */
static char *tree_state(void) {
  g_autofree char *head = NULL, *st = NULL;
  if (!g_spawn_command_line_sync("git rev-parse --short HEAD", &head, NULL, NULL, NULL) || !head ||
      !*head)
    return g_strdup("not a git checkout");
  g_strstrip(head);
  long n = 0;
  if (g_spawn_command_line_sync("git status --porcelain --untracked-files=normal", &st, NULL, NULL,
                                NULL))
    for (char *p = st; p && *p; p++)
      n += *p == '\n';
  return n ? g_strdup_printf("HEAD %s with %ld files modified or untracked (working tree)", head, n)
           : g_strdup_printf("HEAD %s, clean", head);
}

static char *cpu_model(void) {
  g_autofree char *s = read_file("/proc/cpuinfo");
  for (char *l = s; l && *l;) {
    char *nl = strchr(l, '\n');
    if (nl)
      *nl = '\0';
    if (g_str_has_prefix(l, "model name")) {
      char *c = strchr(l, ':');
      return g_strstrip(g_strdup(c ? c + 1 : l));
    }
    l = nl ? nl + 1 : NULL;
  }
  return g_strdup("unknown");
}

static void fmt_us(GString *o, double us) {
  if (isnan(us))
    g_string_append(o, " – |");
  else if (us >= 100000)
    g_string_append_printf(o, " %.0f ms |", us / 1e3);
  else if (us >= 1000)
    g_string_append_printf(o, " %.2f ms |", us / 1e3);
  else
    g_string_append_printf(o, " %.0f µs |", us);
}

static const char *mark(gboolean met) {
  return met ? "**met**" : "**NOT met**";
}

static void report_row(GString *o, const char *mode, int n, Run *r, gboolean storm) {
  g_string_append_printf(o, "| %s | %d | %ld/%ld |", mode, n, r->ok, r->started);
  fmt_us(o, sa_pct(&r->act, 50));
  fmt_us(o, sa_pct(&r->act, 99));
  fmt_us(o, sa_pct(&r->act, 100));
  fmt_us(o, sa_pct(&r->dec, 50));
  fmt_us(o, sa_pct(&r->dec, 99));
  fmt_us(o, sa_pct(&r->dec, 100));
  double wall = (r->t_last - r->t0) / 1e6;
  double aps = r->ok && wall > 0 ? (double)r->ok / wall : 0;
  if (storm)
    g_string_append_printf(o, " %.0f/s (all in %.3f s) |", aps, wall);
  else
    g_string_append_printf(o, " %.0f/s (offered %.0f/s) |", aps, r->offered_rate);
  g_string_append_printf(o, " %.3f s (%.2f ms/activation) |", r->cpu_s,
                         r->ok ? r->cpu_s * 1e3 / (double)r->ok : NAN);
  g_string_append_printf(o, " %ld/%ld/%ld |\n", r->rate_limited, r->errors + r->not_ok, r->broken);
}

static void write_report(const Rtt *echo, const Samples *fsync_floor, const GuestResult *gr,
                         NResult *res, int nres, NResult *tm, double load_begin,
                         const char *load_begin_s) {
  g_autoptr(GString) o = g_string_new(NULL);
  struct utsname u;
  uname(&u);
  g_autofree char *cpu = cpu_model();
  g_autoptr(GDateTime) dt = g_date_time_new_now_utc();
  g_autofree char *date = g_date_time_format(dt, "%Y-%m-%d %H:%M UTC");
  g_autofree char *load_end = loadavg_str();
  g_autofree char *tree = tree_state();
  g_string_append_printf(o,
                         "# AVMA benchmark results\n\n"
                         "Generated by `make bench` (tests/bench/avma-bench.c) on %s. Re-run "
                         "on a quiet machine for final figures: the load average is printed "
                         "beside each part.\n\n",
                         date);
  g_string_append_printf(
      o,
      "## Machine\n\n- CPUs: %ld (`nproc`), %s\n- Kernel: %s %s (%s)\n- Load average (1/5/15 "
      "min): %s at start, %s at end\n- Agents built from: %s (`%s`)\n- Host agent state directory "
      "(12310 log, fdatasync per "
      "decision): under `%s`\n- Settings: renewals offered at min(%.0f/s, %.0f/s per guest) for "
      "%.0f s; host idle window %.0f s per N; guest idle window %.0f s; echo/qemu-ga round "
      "trips %d/%d; avma-hostd with `journal=no` (the JSON-lines log is the durable record; the "
      "journal copy is best effort), default request limit (10/s, burst 20 per channel) and the "
      "ACTIVATE limit raised to 600/min so that renewals are decided, not refused.\n\n",
      sysconf(_SC_NPROCESSORS_ONLN), cpu, u.sysname, u.release, u.machine, load_begin_s, load_end,
      tree, opt.build, opt.state_base, opt.rate, PER_GUEST_RATE, opt.duration, opt.idle,
      opt.guest_idle, opt.echo_iters, MAX(opt.echo_iters / 4, 100));
  (void)load_begin;

  /* anchors */
  Samples *er = (Samples *)&echo->rtt;
  Samples *qr = (Samples *)&gr->q.rtt.rtt;
  Samples *fs = (Samples *)fsync_floor;
  g_string_append(o, "## Anchors (same harness, same run)\n\n"
                     "| anchor | p50 | p99 | max | samples |\n|---|---|---|---|---|\n");
  g_string_append(o, "| echo server, unix socket round trip (the floor) |");
  fmt_us(o, sa_pct(er, 50));
  fmt_us(o, sa_pct(er, 99));
  fmt_us(o, sa_pct(er, 100));
  g_string_append_printf(o, " %zu |\n", er->n);
  if (gr->q.rtt.ok) {
    g_string_append(o, "| qemu-ga `guest-ping` round trip (unix-listen) |");
    fmt_us(o, sa_pct(qr, 50));
    fmt_us(o, sa_pct(qr, 99));
    fmt_us(o, sa_pct(qr, 100));
    g_string_append_printf(o, " %zu |\n", qr->n);
  } else {
    g_string_append_printf(o, "| qemu-ga `guest-ping` | not measured: %s | | | |\n",
                           gr->q.rtt.why ? gr->q.rtt.why : "skipped");
  }
  g_string_append(o, "| append 400 B + fdatasync in the state directory (durable floor) |");
  fmt_us(o, sa_pct(fs, 50));
  fmt_us(o, sa_pct(fs, 99));
  fmt_us(o, sa_pct(fs, 100));
  g_string_append_printf(o, " %zu |\n\n", fs->n);

  /* host agent */
  if (nres) {
    g_string_append(
        o, "## Host agent (avma-hostd) under load\n\n"
           "Each simulated guest sends HELLO, SET (13 intrinsic records) and ACTIVATE (a valid "
           "AVMA key; all succeed on the 2022 Datacenter host) and waits for each reply. "
           "*Activation* = HELLO sent to ACTIVATE_REPLY received (three round trips); "
           "*decision* = ACTIVATE sent to ACTIVATE_REPLY received (includes the durable 12310 "
           "append). Storm: all N start at once. Renew: open-loop renewals (a full exchange, as "
           "avma-guestd renews) at the offered rate, round-robin. Hostile: the same renewals while "
           "one more channel floods garbage (random bytes with frame magics) as fast as the "
           "socket takes it. CPU = avma-hostd's on-CPU time during the mode (schedstat).\n\n"
           "| mode | N | ok/started | activation p50 | p99 | max | decision p50 | p99 | max | "
           "activations/s | hostd CPU | rate-limited/errors/broken |\n"
           "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < nres; i++) {
      if (!res[i].ok) {
        g_string_append_printf(
            o, "| – | %d | failed: channels did not connect | | | | | | | | | |\n", res[i].n);
        continue;
      }
      report_row(o, "storm", res[i].n, &res[i].storm, TRUE);
      report_row(o, "renew", res[i].n, &res[i].renew, FALSE);
      report_row(o, "hostile", res[i].n, &res[i].hostile, FALSE);
    }
    if (tm->ok)
      report_row(o, "renew, state on tmpfs", tm->n, &tm->renew, FALSE);
    g_string_append(
        o, "\n| N | load avg at start/end | all connected after | RSS connected | RSS idle | "
           "peak RSS (VmHWM) | RSS per channel: connected / activated | idle CPU | idle "
           "wake-ups/min | quiet after storm | CPU total (utime+stime) | garbage absorbed | 12310 "
           "lines |\n"
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < nres; i++) {
      NResult *r = &res[i];
      if (!r->ok)
        continue;
      g_autofree char *per = NULL;
      if (i > 0 && res[0].ok && r->n > res[0].n)
        per = g_strdup_printf(
            "%.1f KB / %.1f KB",
            (double)(r->rss_connected_kb - res[0].rss_connected_kb) / (double)(r->n - res[0].n),
            (double)(r->idle_rss_kb - res[0].idle_rss_kb) / (double)(r->n - res[0].n));
      else
        per = g_strdup("–");
      double idle_pct = r->idle_s > 0 ? 100.0 * r->idle_cpu_s / r->idle_s : NAN;
      g_string_append_printf(
          o,
          "| %d | %.2f/%.2f | %.3f s | %.1f MB | %.1f MB | %.1f MB | %s | %.3f%% (%.4f s in "
          "%.0f s) | %.1f | %.1f s | %.2f s | %.0f MB/s (%.1f MB; %u connects) | %ld |\n",
          r->n, r->load_start, r->load_end, r->connect_s, r->rss_connected_kb / 1024.0,
          r->idle_rss_kb / 1024.0, r->hwm_kb / 1024.0, per, idle_pct, r->idle_cpu_s, r->idle_s,
          r->idle_s > 0 ? (double)r->idle_ctxt * 60.0 / r->idle_s : NAN, r->settle_s,
          r->cpu_total_s, (double)r->hostile_bytes / 1e6 / opt.duration,
          (double)r->hostile_bytes / 1e6, r->hostile_connects, r->events_lines);
    }
    g_string_append(o, "\n");
  }

  if (attack_ran)
    report_attacks(o, opt.attack_n, attack_res, attack_ok);

  /* guest agent */
  if (!opt.skip_guest) {
    g_string_append_printf(
        o,
        "## Guest agent beside qemu-ga (load average %.2f)\n\n"
        "avma-guestd runs on a PTY (its port stand-in) that the harness relays to a unix socket "
        "served by avma-hostd; it activates, then idles for the window. qemu-ga runs side by "
        "side in the same window (`-m unix-listen`, the harness connected and pinged it). "
        "Wake-ups = voluntary + involuntary context switches of all threads.\n\n"
        "| agent | idle RSS | of it private (RssAnon) | idle PSS | peak RSS | threads | "
        "wake-ups in window | wake-ups/min | CPU in window | start to first request |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n",
        gr->load);
    const AgentIdle *ag[] = {&gr->guestd, &gr->qga, &gr->hostd};
    for (size_t i = 0; i < G_N_ELEMENTS(ag); i++) {
      const AgentIdle *a = ag[i];
      if (!a->ok && a->rss_kb <= 0) {
        g_string_append_printf(o, "| %s | not measured: %s | | | | | | | | |\n", a->name,
                               a->why ? a->why : "skipped");
        continue;
      }
      g_autofree char *first = NULL;
      if (i == 0)
        first = g_strdup_printf("%.1f ms (activated after %.1f ms)", a->first_ms, a->activated_ms);
      else if (i == 1)
        first = g_strdup_printf("(socket accepting after %.1f ms)", a->first_ms);
      else
        first = g_strdup("–");
      g_string_append_printf(o,
                             "| %s | %.1f MB | %.1f MB | %.1f MB | %.1f MB | %d | %ld in %.0f s | "
                             "%.2f | %.4f s | %s |\n",
                             a->name, a->rss_kb / 1024.0, a->anon_kb / 1024.0, a->pss_kb / 1024.0,
                             a->hwm_kb / 1024.0, a->threads, a->ctxt, a->window_s,
                             a->window_s > 0 ? (double)a->ctxt * 60.0 / a->window_s : NAN, a->cpu_s,
                             first);
    }
    g_string_append(o, "\nWhere the resident memory is (MB per mapped file, largest first):\n\n");
    for (size_t i = 0; i < G_N_ELEMENTS(ag); i++)
      if (ag[i]->top)
        g_string_append_printf(o, "- %s: %s\n", ag[i]->name, ag[i]->top);
    g_string_append(o, "\n");
  }

  /* ratios and targets */
  double qga50 = gr->q.rtt.ok ? sa_pct(qr, 50) : NAN;
  NResult *r1000 = NULL, *r5000 = NULL;
  for (int i = 0; i < nres; i++) {
    if (res[i].ok && res[i].n == 1000)
      r1000 = &res[i];
    if (res[i].ok && res[i].n == 5000)
      r5000 = &res[i];
  }
  if (nres) {
    g_string_append(
        o, "## Ratios to the anchors (decision latency p50, renew mode)\n\n"
           "The echo and durable floors are measured again just before each N's renewals, so "
           "that each ratio compares figures taken under the same machine load; qemu-ga's is from "
           "the start of the run.\n\n"
           "| N | decision p50 | echo floor then | ÷ echo | ÷ qemu-ga guest-ping | durable floor "
           "then | ÷ durable |\n|---|---|---|---|---|---|---|\n");
    for (int i = 0; i <= nres; i++) {
      NResult *r = i < nres ? &res[i] : tm;
      if (!r->ok)
        continue;
      double d = sa_pct(&r->renew.dec, 50);
      if (i < nres)
        g_string_append_printf(o, "| %d |", r->n);
      else
        g_string_append_printf(o, "| %d, state on tmpfs (no disk wait) |", r->n);
      fmt_us(o, d);
      fmt_us(o, r->echo50);
      g_string_append_printf(o, " %.1f× | %.2f× |", d / r->echo50, d / qga50);
      if (i == nres) {
        g_string_append(o, " – (tmpfs) | – |\n");
        continue;
      }
      fmt_us(o, r->fs50);
      g_string_append_printf(o, " %.2f× |\n", d / r->fs50);
    }
    g_string_append(o, "\n");
  }
  g_string_append(o, "## Targets\n\n");
  if (r1000) {
    /* Issue #18: a durable decision is measured against the durable floor taken just before it
     * (append + fdatasync in the same directory); the echo floor and a fixed 1 ms, the targets
     * of issue #8, are below what any durable decision can reach and are shown for reference. */
    double d50 = sa_pct(&r1000->renew.dec, 50), d99 = sa_pct(&r1000->renew.dec, 99);
    g_string_append_printf(o,
                           "- %s: decision p50 within 150 µs of the durable floor's p50 at N = "
                           "1000: %.0f µs against %.0f µs (%+.0f µs)\n",
                           mark(d50 - r1000->fs50 <= 150), d50, r1000->fs50, d50 - r1000->fs50);
    g_string_append_printf(o,
                           "- %s: decision p99 within 500 µs of the durable floor's p99 at N = "
                           "1000: %.0f µs against %.0f µs (%+.0f µs)\n",
                           mark(d99 - r1000->fs99 <= 500), d99, r1000->fs99, d99 - r1000->fs99);
    g_string_append_printf(o,
                           "  - for reference (issue #8's targets): p50 = %.1f× the echo floor "
                           "(%.1f µs, measured just before); p99 %.0f µs against a fixed 1 ms\n",
                           d50 / r1000->echo50, r1000->echo50, d99);
    if (tm->ok)
      g_string_append_printf(o,
                             "  - the agent's own part, state on tmpfs (no disk wait), N = %d: "
                             "decision p50 %.0f µs = %.1f× its echo floor (%.1f µs)\n",
                             tm->n, sa_pct(&tm->renew.dec, 50),
                             sa_pct(&tm->renew.dec, 50) / tm->echo50, tm->echo50);
    double wall = (r1000->storm.t_last - r1000->storm.t0) / 1e6;
    gboolean all = r1000->storm.ok == 1000;
    g_string_append_printf(o,
                           "- %s: boot storm of 1000 guests all activated within 2 s wall on a "
                           "%ld-core machine: %ld/1000 in %.3f s\n",
                           mark(all && wall <= 2.0), sysconf(_SC_NPROCESSORS_ONLN), r1000->storm.ok,
                           wall);
  } else {
    g_string_append(o, "- not measured: N = 1000 targets (N = 1000 not in BENCH_N)\n");
  }
  if (r5000) {
    double pct = 100.0 * r5000->idle_cpu_s / r5000->idle_s;
    gboolean zero = r5000->idle_ctxt == 0 && r5000->idle_cpu_s < 0.001;
    g_string_append_printf(
        o,
        "- %s: 5000 connected idle channels, host agent RSS under 64 MB: %.1f MB idle (peak "
        "%.1f MB over the whole run)\n",
        mark(r5000->idle_rss_kb < 64 * 1024), r5000->idle_rss_kb / 1024.0, r5000->hwm_kb / 1024.0);
    g_string_append_printf(o,
                           "- %s: 5000 connected idle channels, 0%% CPU while idle: %.4f%% "
                           "(%.4f s CPU, %ld wake-ups in %.0f s)\n",
                           mark(zero), pct, r5000->idle_cpu_s, r5000->idle_ctxt, r5000->idle_s);
  } else {
    g_string_append(o, "- not measured: N = 5000 targets (N = 5000 not in BENCH_N)\n");
  }
  if (attack_ran && attack_ok) {
    /* Issue #17: the worst attack row against the row without attackers. */
    const AttackResult *a = attack_res;
    double base_cpu = 100.0 * a[0].cpu_s / MAX(a[0].wall_s, 1e-9);
    double base99 = sa_pct((Samples *)&a[0].r.dec, 99);
    double worst_cpu = 0, worst99 = 0;
    long worst_dec = 0, worst_cap = 0;
    gboolean over = FALSE;
    int wc = 0, wp = 0;
    for (int k = 1; k < N_ATTACK_RUNS; k++) {
      double above = 100.0 * a[k].cpu_s / MAX(a[k].wall_s, 1e-9) - base_cpu;
      double r99 = sa_pct((Samples *)&a[k].r.dec, 99) / MAX(base99, 1e-9);
      if (k == 1 || above > worst_cpu)
        worst_cpu = above, wc = k;
      if (k == 1 || r99 > worst99)
        worst99 = r99, wp = k;
      /* The bench's limit: bursts of 30, then 600 a minute, over the row's wall time. */
      long cap = 30 + (long)ceil(10.0 * a[k].wall_s);
      over = over || a[k].logged_max > cap;
      if (a[k].logged_max >= worst_dec)
        worst_dec = a[k].logged_max, worst_cap = cap;
    }
    g_string_append_printf(o,
                           "- %s: avma-hostd CPU under any attack at most 10%% of one core above "
                           "the run without attackers: worst %+.1f%% (%s x%d)\n",
                           mark(worst_cpu <= 10.0), worst_cpu, attack_names[a[wc].attack],
                           a[wc].count);
    g_string_append_printf(o,
                           "- %s: the guests' decision p99 under any attack within 2× of the run "
                           "without attackers: worst %.2f× (%s x%d)\n",
                           mark(worst99 <= 2.0), worst99, attack_names[a[wp].attack], a[wp].count);
    g_string_append_printf(o,
                           "- %s: decisions per attacking VM never above the configured limit "
                           "(bursts of 30, then 600 a minute): at most %ld in a row whose limit "
                           "was %ld, counted in the host's log\n",
                           mark(!over), worst_dec, worst_cap);
  } else {
    g_string_append(o, "- not measured: attack targets (issue #17)\n");
  }
  if (!opt.skip_guest && gr->guestd.rss_kb > 0 && gr->qga.ok) {
    /* Issue #20 compares PSS (shared pages counted once among their users); RSS is shown too,
     * and what of it is libsystemd's dependencies (the journal, kept by policy) is in the
     * per-library table above. */
    g_string_append_printf(o,
                           "- %s: guest agent idle PSS at most qemu-ga's, side by side: "
                           "avma-guestd %.1f MB vs qemu-ga %.1f MB (RSS %.1f vs %.1f MB: %s)\n",
                           mark(gr->guestd.pss_kb <= gr->qga.pss_kb), gr->guestd.pss_kb / 1024.0,
                           gr->qga.pss_kb / 1024.0, gr->guestd.rss_kb / 1024.0,
                           gr->qga.rss_kb / 1024.0,
                           gr->guestd.rss_kb <= gr->qga.rss_kb ? "at most qemu-ga's" : "above");
  } else {
    g_string_append(o, "- not measured: guest agent RSS beside qemu-ga\n");
  }
  if (!opt.skip_guest && gr->guestd.rss_kb > 0)
    g_string_append_printf(o,
                           "- %s: guest agent makes no wake-ups while idle (its renewal timer "
                           "is due in ~24 h, outside the window): %ld in %.0f s (qemu-ga: %ld)\n",
                           mark(gr->guestd.ctxt == 0), gr->guestd.ctxt, gr->guestd.window_s,
                           gr->qga.ctxt);

  g_string_append(o, "\nProfile findings and the changes they led to: tests/bench/PROFILE.md.\n");

  fputs(o->str, stdout);
  if (opt.out && !g_file_set_contents(opt.out, o->str, (gssize)o->len, NULL))
    die("cannot write %s", opt.out);
  if (opt.out)
    note("wrote %s", opt.out);
}

/* ---- main ---- */

int main(int argc, char **argv) {
  opt.build = g_strdup("build");
  opt.ns = g_strdup("1 100 1000 5000");
  opt.rate = 300;
  opt.duration = 10;
  opt.idle = 10;
  opt.guest_idle = 60;
  opt.echo_iters = 20000;
  opt.qga = g_strdup("/usr/sbin/qemu-ga");
  opt.state_base = g_strdup("/var/tmp");
  opt.out = NULL;
  opt.tmpfs_n = 1000;
  opt.attack_n = 1000;
  opt.tmpfs_base = g_strdup("/dev/shm");
  GOptionEntry entries[] = {
      {"build", 0, 0, G_OPTION_ARG_FILENAME, &opt.build, "Directory with the agents", "DIR"},
      {"n", 0, 0, G_OPTION_ARG_STRING, &opt.ns, "Channel counts (\"1 100 1000 5000\")", "LIST"},
      {"rate", 0, 0, G_OPTION_ARG_DOUBLE, &opt.rate, "Renewals offered per second", "R"},
      {"duration", 0, 0, G_OPTION_ARG_DOUBLE, &opt.duration, "Seconds per renewal mode", "S"},
      {"idle", 0, 0, G_OPTION_ARG_DOUBLE, &opt.idle, "Host idle window per N", "S"},
      {"guest-idle", 0, 0, G_OPTION_ARG_DOUBLE, &opt.guest_idle, "Guest idle window", "S"},
      {"echo-iters", 0, 0, G_OPTION_ARG_INT, &opt.echo_iters, "Echo round trips", "K"},
      {"qga", 0, 0, G_OPTION_ARG_FILENAME, &opt.qga, "qemu-ga binary", "PATH"},
      {"state-base", 0, 0, G_OPTION_ARG_FILENAME, &opt.state_base,
       "Parent of the host state directories", "DIR"},
      {"out", 'o', 0, G_OPTION_ARG_FILENAME, &opt.out, "Write the report here", "FILE"},
      {"perf", 0, 0, G_OPTION_ARG_FILENAME, &opt.perf,
       "perf record avma-hostd during the largest N", "FILE"},
      {"perf-dwarf", 0, 0, G_OPTION_ARG_NONE, &opt.perf_dwarf, "perf: unwind with dwarf", NULL},
      {"hostd-wrap", 0, 0, G_OPTION_ARG_STRING, &opt.hostd_wrap, "Command prefix for avma-hostd",
       "CMD"},
      {"skip-guest", 0, 0, G_OPTION_ARG_NONE, &opt.skip_guest, "Skip guest agent and qemu-ga",
       NULL},
      {"skip-hostd", 0, 0, G_OPTION_ARG_NONE, &opt.skip_hostd, "Skip the per-N host runs", NULL},
      {"tmpfs-n", 0, 0, G_OPTION_ARG_INT, &opt.tmpfs_n,
       "Also renew at this N with the state on tmpfs (0: no)", "N"},
      {"tmpfs-base", 0, 0, G_OPTION_ARG_FILENAME, &opt.tmpfs_base, "The tmpfs for --tmpfs-n",
       "DIR"},
      {"keep", 0, 0, G_OPTION_ARG_NONE, &opt.keep, "Keep temporary directories", NULL},
      {"commit-thread", 0, 0, G_OPTION_ARG_NONE, &opt_commit_thread,
       "avma-hostd: fdatasync in its writer thread ([history] commit_thread)", NULL},
      {"attack-n", 0, 0, G_OPTION_ARG_INT, &opt.attack_n,
       "Renewing guests beside the attack runs (0: none)", "N"},
      {NULL}};
  g_autoptr(GOptionContext) ctx = g_option_context_new("- AVMA benchmark suite (issue #8)");
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_autoptr(GError) err = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &err))
    die("%s", err->message);
  if (opt.rate <= 0 || opt.duration <= 0)
    die("--rate and --duration must be positive");

  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, on_fatal_signal);
  signal(SIGTERM, on_fatal_signal);
  signal(SIGHUP, on_fatal_signal);
  atexit(kids_kill);
  /* Both processes need a descriptor per channel (and this one two: listening and accepted);
   * avma-hostd inherits the raised limit. */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  g_autoptr(GArray) ns = g_array_new(FALSE, FALSE, sizeof(int));
  g_auto(GStrv) parts = g_strsplit_set(opt.ns, " ,", -1);
  for (char **p = parts; *p; p++) {
    if (!**p)
      continue;
    int n = atoi(*p);
    if (n < 1)
      die("bad N '%s'", *p);
    if ((rlim_t)(2 * n + 64) > rl.rlim_cur)
      die("N=%d needs %d descriptors; RLIMIT_NOFILE is %lu", n, 2 * n + 64,
          (unsigned long)rl.rlim_cur);
    g_array_append_val(ns, n);
  }
  g_autofree char *hostd = g_build_filename(opt.build, "avma-hostd", NULL);
  if (access(hostd, X_OK) != 0)
    die("%s not found: build first (make BUILD=%s build)", hostd, opt.build);
  rng_state ^= (guint32)getpid();
  protocol_init();

  double load_begin = loadavg1();
  g_autofree char *load_begin_s = loadavg_str();
  note("load average %s; %ld CPUs", load_begin_s, sysconf(_SC_NPROCESSORS_ONLN));
  g_autofree char *dir = g_mkdtemp(g_strdup("/tmp/avmabench.XXXXXX"));

  /* Anchors: same harness, same run. */
  uint8_t sample[4096];
  guint32 keep_seq = 1;
  echo_msg_len = avma_frame_encode(AVMA_MSG_ACTIVATE, 0, 1, keep_seq, pl_act[0].p, pl_act[0].len,
                                   sample, sizeof sample);
  Rtt echo = {0};
  anchor_echo(dir, opt.echo_iters, &echo);
  note("echo floor: p50 %.1f us (message of %zu bytes, an ACTIVATE frame)", sa_pct(&echo.rtt, 50),
       echo_msg_len);
  Samples fsync_floor = {0};
  anchor_fsync(opt.state_base, &fsync_floor);
  note("durable floor (append+fdatasync in %s): p50 %.0f us", opt.state_base,
       sa_pct(&fsync_floor, 50));

  GuestResult gr = {0};
  if (!opt.skip_guest) {
    qga_start(dir, &gr.q);
    if (gr.q.rtt.ok)
      note("qemu-ga guest-ping: p50 %.1f us", sa_pct(&gr.q.rtt.rtt, 50));
    else
      note("qemu-ga: %s", gr.q.rtt.why);
    gr.load = loadavg1();
    run_guest(dir, &gr);
    if (!gr.q.rtt.ok)
      gr.qga.why = g_strdup(gr.q.rtt.why ? gr.q.rtt.why : "not run");
    if (gr.q.fd >= 0)
      close(gr.q.fd);
    stop_proc(gr.q.pid);
  }

  NResult *res = g_new0(NResult, ns->len);
  int maxn = 0;
  for (guint i = 0; i < ns->len; i++)
    maxn = MAX(maxn, g_array_index(ns, int, i));
  if (!opt.skip_hostd)
    for (guint i = 0; i < ns->len; i++) {
      int n = g_array_index(ns, int, i);
      run_n(&res[i], n, n == maxn, opt.state_base, TRUE);
    }
  NResult tm = {0};
  if (!opt.skip_hostd && opt.tmpfs_n > 0)
    run_n(&tm, opt.tmpfs_n, TRUE, opt.tmpfs_base, FALSE);
  if (!opt.skip_hostd && opt.attack_n > 0) {
    attack_ran = TRUE;
    attack_ok = run_attacks(opt.attack_n, attack_res);
  }
  write_report(&echo, &fsync_floor, &gr, res, opt.skip_hostd ? 0 : (int)ns->len, &tm, load_begin,
               load_begin_s);
  sa_free(&tm.renew.act);
  sa_free(&tm.renew.dec);
  sa_free(&tm.renew.req);
  for (guint i = 0; i < ns->len; i++) {
    sa_free(&res[i].storm.act);
    sa_free(&res[i].storm.dec);
    sa_free(&res[i].storm.req);
    sa_free(&res[i].renew.act);
    sa_free(&res[i].renew.dec);
    sa_free(&res[i].renew.req);
    sa_free(&res[i].hostile.act);
    sa_free(&res[i].hostile.dec);
    sa_free(&res[i].hostile.req);
  }
  g_free(res);
  rm_rf(dir);
  return 0;
}
