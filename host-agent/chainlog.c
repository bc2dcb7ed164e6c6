/* chainlog: the hash-chained, group-committed record log. */
#include "chainlog.h"

#include "fsutil.h"
#include "jsonline.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How far back from the end the tail is searched for the last record with a sequence number:
 * records are a few hundred bytes, so this is thousands of them. */
#define TAIL_SCAN (1024 * 1024)

typedef struct {
  AvmaChainDurableFn fn;
  gpointer user;
} Waiter;

struct AvmaChainLog {
  char *path;
  int fd;
  gint64 size;        /* bytes written */
  gint64 synced_size; /* bytes durable */
  guint64 seq;        /* of the last record written */
  char head[AVMA_CHAIN_HASH_HEX];
  GArray *waiters; /* Waiter, told after the next sync */
  guint commit_source;
  guint64 syncs;
  /* The writer thread (avma_chain_log_use_thread): it runs fdatasync while the loop goes on. The
   * main thread owns everything above; these are shared under mu. */
  GThread *thread;
  GMutex mu;
  GCond cv;
  gboolean job, done, quit; /* a sync asked for / its result ready / stop */
  gint64 job_size;
  int job_errno;
  guint done_source;
  /* main thread only */
  gboolean busy;    /* a job is running or its result not yet handled */
  GArray *inflight; /* Waiter: told when the running job ends */
};

void avma_chain_hash_hex(const void *data, gsize len, char *out) {
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, data, len);
  sodium_bin2hex(out, AVMA_CHAIN_HASH_HEX, h, sizeof h);
}

static gboolean errno_error(GError **error, const char *what, const char *path) {
  int e = errno;
  g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot %s %s: %s", what, path,
              g_strerror(e));
  return FALSE;
}

static gboolean pread_all(int fd, void *buf, gsize len, gint64 at) {
  gsize off = 0;
  while (off < len) {
    ssize_t n = pread(fd, (char *)buf + off, len - off, at + (gint64)off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return FALSE;
    off += (gsize)n;
  }
  return TRUE;
}

gboolean avma_chain_read_lines(const char *path, gboolean missing_ok, AvmaChainLineFn fn,
                               gpointer user, GError **error) {
  FILE *f = fopen(path, "re");
  if (!f) {
    int e = errno;
    if (e == ENOENT && missing_ok)
      return TRUE;
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot open %s: %s", path,
                g_strerror(e));
    return FALSE;
  }
  char *buf = NULL;
  size_t cap = 0;
  ssize_t n;
  guint64 lineno = 0;
  while ((n = getline(&buf, &cap, f)) > 0) {
    gboolean whole = buf[n - 1] == '\n';
    if (!fn(buf, (gsize)n - (whole ? 1 : 0), whole, ++lineno, user))
      break;
  }
  gboolean failed = ferror(f);
  int e = errno;
  free(buf);
  fclose(f);
  if (failed) {
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot read %s: %s", path,
                g_strerror(e));
    return FALSE;
  }
  return TRUE;
}

/* The record's sequence number, or 0 when the line is no chained record. */
static guint64 line_seq(JsonParser *p, const char *line, gsize len) {
  JsonObject *o = avma_json_object_parse(p, line, (gssize)len);
  JsonNode *n = o ? json_object_get_member(o, AVMA_CHAIN_SEQ) : NULL;
  if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64)
    return 0;
  gint64 v = json_node_get_int(n);
  return v > 0 ? (guint64)v : 0;
}

/* Offset just past the last '\n' in [0, size), 0 when there is none. */
static gboolean last_newline_end(int fd, gint64 size, gint64 *out, GError **error,
                                 const char *path) {
  char buf[8192];
  gint64 pos = size;
  while (pos > 0) {
    gint64 from = MAX(0, pos - (gint64)sizeof buf);
    if (!pread_all(fd, buf, (gsize)(pos - from), from))
      return errno_error(error, "read", path);
    for (gint64 i = pos - from; i-- > 0;)
      if (buf[i] == '\n') {
        *out = from + i + 1;
        return TRUE;
      }
    pos = from;
  }
  *out = 0;
  return TRUE;
}

/* A line cut by a crash was never acknowledged (the guest is answered after fdatasync), but it
 * is kept for whoever investigates, and named. */
static gboolean set_aside_cut(AvmaChainLog *log, gint64 whole, char **cut_file, GError **error) {
  gsize n = (gsize)(log->size - whole);
  g_autofree char *bytes = g_malloc(n);
  if (!pread_all(log->fd, bytes, n, whole))
    return errno_error(error, "read", log->path);
  g_autofree char *side =
      g_strdup_printf("%s.cut-%" G_GUINT64_FORMAT "-%" G_GINT64_FORMAT, log->path, log->seq + 1,
                      g_get_real_time() / G_USEC_PER_SEC);
  if (!avma_write_atomic(side, bytes, (gssize)n, 0640, error))
    return FALSE;
  if (ftruncate(log->fd, whole) < 0 || fdatasync(log->fd) < 0)
    return errno_error(error, "truncate", log->path);
  g_warning("%s: record %" G_GUINT64_FORMAT " was cut by a crash mid-append (%" G_GSIZE_FORMAT
            " bytes, never acknowledged): set aside in %s",
            log->path, log->seq + 1, n, side);
  log->size = whole;
  if (cut_file)
    *cut_file = g_steal_pointer(&side);
  return TRUE;
}

/* The head: hash of the last whole line, and the last sequence number found in the tail. */
static gboolean read_tail(AvmaChainLog *log, char **cut_file, GError **error) {
  gint64 whole = 0;
  if (!last_newline_end(log->fd, log->size, &whole, error, log->path))
    return FALSE;
  gint64 from = MAX(0, whole - TAIL_SCAN);
  gsize n = (gsize)(whole - from);
  g_autofree char *buf = g_malloc(n + 1);
  if (n && !pread_all(log->fd, buf, n, from))
    return errno_error(error, "read", log->path);
  buf[n] = '\0';
  /* Lines from the end: the last one gives the head, the first with a seq the number. */
  g_autoptr(JsonParser) p = json_parser_new();
  gboolean have_head = FALSE;
  gsize end = n;
  while (end > 0) {
    gsize start = end - 1;
    while (start > 0 && buf[start - 1] != '\n')
      start--;
    if (start == 0 && from > 0)
      break; /* a partial line at the scan's start */
    gsize len = end - 1 - start;
    if (!have_head) {
      avma_chain_hash_hex(buf + start, len, log->head);
      have_head = TRUE;
    }
    guint64 s = line_seq(p, buf + start, len);
    if (s) {
      log->seq = s;
      break;
    }
    end = start;
  }
  if (log->size > whole && !set_aside_cut(log, whole, cut_file, error))
    return FALSE;
  return TRUE;
}

AvmaChainLog *avma_chain_log_open(const char *path, char **cut_file, GError **error) {
  if (cut_file)
    *cut_file = NULL;
  if (sodium_init() < 0) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "libsodium cannot start");
    return NULL;
  }
  g_autoptr(AvmaChainLog) log = g_new0(AvmaChainLog, 1);
  log->path = g_strdup(path);
  log->fd = -1;
  log->waiters = g_array_new(FALSE, FALSE, sizeof(Waiter));
  log->inflight = g_array_new(FALSE, FALSE, sizeof(Waiter));
  g_mutex_init(&log->mu);
  g_cond_init(&log->cv);
  memset(log->head, '0', AVMA_CHAIN_HASH_HEX - 1);
  /* O_NOFOLLOW: the state directory belongs to the daemon's user; root-run tools read here. */
  log->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0640);
  if (log->fd < 0) {
    errno_error(error, "open", path);
    return NULL;
  }
  struct stat st;
  if (fstat(log->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME, "%s is not a regular file", path);
    return NULL;
  }
  log->size = st.st_size;
  if (!read_tail(log, cut_file, error))
    return NULL;
  log->synced_size = log->size;
  return g_steal_pointer(&log);
}

static void tell_waiters(AvmaChainLog *log, const GError *err) {
  /* Swapped out first: a waiter may append and wait again. */
  GArray *w = log->waiters;
  log->waiters = g_array_new(FALSE, FALSE, sizeof(Waiter));
  for (guint i = 0; i < w->len; i++)
    g_array_index(w, Waiter, i).fn(err, g_array_index(w, Waiter, i).user);
  g_array_unref(w);
}

static void finish_job(AvmaChainLog *log, gboolean restart);

void avma_chain_log_free(AvmaChainLog *log) {
  if (!log)
    return;
  if (log->commit_source)
    g_source_remove(log->commit_source);
  if (log->thread) {
    g_mutex_lock(&log->mu);
    while (log->job)
      g_cond_wait(&log->cv, &log->mu);
    log->quit = TRUE;
    g_cond_broadcast(&log->cv);
    g_mutex_unlock(&log->mu);
    g_thread_join(log->thread);
    finish_job(log, FALSE);
  }
  if (log->inflight)
    g_array_unref(log->inflight);
  g_mutex_clear(&log->mu);
  g_cond_clear(&log->cv);
  if (log->fd >= 0) {
    g_autoptr(GError) err = NULL;
    if (!avma_chain_log_sync(log, &err))
      g_warning("%s", err->message);
    close(log->fd);
  }
  if (log->waiters)
    g_array_unref(log->waiters);
  g_free(log->path);
  g_free(log);
}

const char *avma_chain_log_path(AvmaChainLog *log) {
  return log->path;
}

static gboolean on_job_done(gpointer data);

static gpointer writer(gpointer data) {
  AvmaChainLog *log = data;
  g_mutex_lock(&log->mu);
  for (;;) {
    while (!log->job && !log->quit)
      g_cond_wait(&log->cv, &log->mu);
    if (!log->job)
      break;
    g_mutex_unlock(&log->mu);
    int e = fdatasync(log->fd) < 0 ? errno : 0;
    g_mutex_lock(&log->mu);
    log->job = FALSE;
    log->done = TRUE;
    log->job_errno = e;
    g_cond_broadcast(&log->cv);
    if (!log->quit)
      log->done_source = g_idle_add_full(G_PRIORITY_DEFAULT, on_job_done, log, NULL);
  }
  g_mutex_unlock(&log->mu);
  return NULL;
}

/* Hand the writer everything written so far, and the waiters for it. */
static void start_job(AvmaChainLog *log) {
  g_array_append_vals(log->inflight, log->waiters->data, log->waiters->len);
  g_array_set_size(log->waiters, 0);
  log->busy = TRUE;
  g_mutex_lock(&log->mu);
  log->job = TRUE;
  log->job_size = log->size;
  g_cond_broadcast(&log->cv);
  g_mutex_unlock(&log->mu);
}

static void finish_job(AvmaChainLog *log, gboolean restart) {
  g_mutex_lock(&log->mu);
  gboolean done = log->done;
  int e = log->job_errno;
  gint64 size = log->job_size;
  guint src = log->done_source;
  log->done = FALSE;
  log->done_source = 0;
  g_mutex_unlock(&log->mu);
  if (src)
    g_source_remove(src);
  if (!done)
    return;
  log->busy = FALSE;
  log->syncs++;
  g_autoptr(GError) err = NULL;
  if (e)
    g_set_error(&err, G_IO_ERROR, g_io_error_from_errno(e), "cannot sync %s: %s", log->path,
                g_strerror(e));
  else
    log->synced_size = MAX(log->synced_size, size);
  if (err)
    g_warning("%s", err->message);
  GArray *w = log->inflight;
  log->inflight = g_array_new(FALSE, FALSE, sizeof(Waiter));
  for (guint i = 0; i < w->len; i++)
    g_array_index(w, Waiter, i).fn(err, g_array_index(w, Waiter, i).user);
  g_array_unref(w);
  /* What was written while the disk was busy goes in the next one: the group grows with load. */
  if (restart && (log->waiters->len || log->size > log->synced_size))
    start_job(log);
}

static gboolean on_job_done(gpointer data) {
  AvmaChainLog *log = data;
  g_mutex_lock(&log->mu);
  log->done_source = 0; /* this one is running */
  g_mutex_unlock(&log->mu);
  finish_job(log, TRUE);
  return G_SOURCE_REMOVE;
}

void avma_chain_log_use_thread(AvmaChainLog *log) {
  if (!log->thread)
    log->thread = g_thread_new("avma-commit", writer, log);
}

static gboolean on_commit(gpointer data) {
  AvmaChainLog *log = data;
  log->commit_source = 0;
  if (log->thread) {
    if (!log->busy)
      start_job(log);
    return G_SOURCE_REMOVE;
  }
  g_autoptr(GError) err = NULL;
  if (!avma_chain_log_sync(log, &err))
    g_warning("%s", err->message);
  return G_SOURCE_REMOVE;
}

/* Default priority, not higher: requests that became readable meanwhile are decided in the same
 * iteration and share this commit's fdatasync. */
static void schedule_commit(AvmaChainLog *log) {
  if (!log->commit_source)
    log->commit_source = g_idle_add_full(G_PRIORITY_DEFAULT, on_commit, log, NULL);
}

gboolean avma_chain_log_append(AvmaChainLog *log, const char *record, guint64 *seq,
                               GError **error) {
  gsize len = strlen(record);
  if (len < 2 || record[0] != '{' || record[len - 1] != '}' || memchr(record, '\n', len)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "not a one-line JSON object");
    return FALSE;
  }
  guint64 s = log->seq + 1;
  GString *line = g_string_sized_new(len + 100);
  g_string_append_len(line, record, (gssize)len - 1);
  g_string_append_printf(line, "%s\"%s\":%" G_GUINT64_FORMAT ",\"%s\":\"%s\"}\n",
                         len > 2 ? "," : "", AVMA_CHAIN_SEQ, s, AVMA_CHAIN_PREV, log->head);
  gsize off = 0;
  while (off < line->len) {
    ssize_t n = write(log->fd, line->str + off, line->len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      errno_error(error, "write", log->path);
      /* Nothing half-written stays behind to break the next record's line. */
      if (off && ftruncate(log->fd, log->size) < 0)
        g_warning("%s: cannot remove a partial record: %s", log->path, g_strerror(errno));
      g_string_free(line, TRUE);
      return FALSE;
    }
    off += (gsize)n;
  }
  avma_chain_hash_hex(line->str, line->len - 1, log->head);
  log->size += (gint64)line->len;
  log->seq = s;
  g_string_free(line, TRUE);
  if (seq)
    *seq = s;
  schedule_commit(log);
  return TRUE;
}

gboolean avma_chain_log_sync(AvmaChainLog *log, GError **error) {
  g_autoptr(GError) err = NULL;
  if (log->busy) {
    /* The writer's job first (its waiters hear from it), then the rest here. */
    g_mutex_lock(&log->mu);
    while (log->job)
      g_cond_wait(&log->cv, &log->mu);
    g_mutex_unlock(&log->mu);
    finish_job(log, FALSE);
  }
  if (log->synced_size < log->size) {
    gint64 size = log->size;
    log->syncs++;
    if (fdatasync(log->fd) < 0)
      errno_error(&err, "sync", log->path);
    else
      log->synced_size = size;
  }
  tell_waiters(log, err);
  if (err) {
    g_propagate_error(error, g_steal_pointer(&err));
    return FALSE;
  }
  return TRUE;
}

void avma_chain_log_when_durable(AvmaChainLog *log, AvmaChainDurableFn fn, gpointer user) {
  Waiter w = {.fn = fn, .user = user};
  g_array_append_val(log->waiters, w);
  schedule_commit(log);
}

guint64 avma_chain_log_head_seq(AvmaChainLog *log) {
  return log->seq;
}
const char *avma_chain_log_head_hash(AvmaChainLog *log) {
  return log->head;
}
gint64 avma_chain_log_durable_size(AvmaChainLog *log) {
  return log->synced_size;
}
guint64 avma_chain_log_syncs(AvmaChainLog *log) {
  return log->syncs;
}
