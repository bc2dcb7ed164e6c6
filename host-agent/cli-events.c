/* cli-events: `avma-host events`, the 12310 history: from the history store (plus what the
 * daemon has not imported yet), or from events.jsonl when there is no store. */
#include "cli.h"
#include "events.h"
#include "history.h"
#include "host-event.h"
#include "jsonline.h"
#include "state-files.h"
#include "timeutil.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FOLLOW_POLL_MS 200

/* Only 12310 records: the log's other kinds (licence, runs, facts, notes, rotations) are not
 * events of this listing. */
static gboolean match(const AvmaEventFilter *f, JsonObject *o) {
  g_auto(AvmaHostEvent) ev;
  avma_host_event_from_json(o, &ev);
  if (ev.kind != AVMA_HOST_EVENT_DECISION && ev.kind != AVMA_HOST_EVENT_INVALID_DATA)
    return FALSE;
  return avma_event_filter_match(f, &ev);
}

/* Every matching record, oldest first, as logged (`--json` prints them so). */
static GPtrArray *load_events(const AvmaHostConfig *c, const char *path, const AvmaEventFilter *f,
                              GError **error) {
  g_autofree char *db = avma_host_state_path(c, AVMA_HISTORY_FILE);
  g_autoptr(GError) local = NULL;
  g_autoptr(AvmaHistory) h = avma_history_open_read(db, &local);
  if (h) {
    GPtrArray *sel = avma_history_events(h, f, error);
    if (!sel)
      return NULL;
    /* Lines the daemon has not imported (it is stopped, or behind): the log is complete. */
    g_autoptr(GPtrArray) pending =
        avma_history_log_pending(h, AVMA_HISTORY_LOG_EVENTS, path, error);
    if (!pending) {
      g_ptr_array_unref(sel);
      return NULL;
    }
    for (guint i = 0; i < pending->len; i++)
      if (match(f, pending->pdata[i]))
        g_ptr_array_add(sel, json_object_ref(pending->pdata[i]));
    return sel;
  }
  if (!g_error_matches(local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    fprintf(stderr, "avma-host: warning: %s; reading %s instead\n", local->message, path);
  guint skipped = 0;
  g_autoptr(GPtrArray) all = avma_event_log_read(path, &skipped, error);
  if (!all)
    return NULL;
  if (skipped)
    fprintf(stderr, "avma-host: warning: %u unreadable line(s) in %s skipped\n", skipped, path);
  GPtrArray *sel = g_ptr_array_new_with_free_func((GDestroyNotify)json_object_unref);
  for (guint i = 0; i < all->len; i++)
    if (match(f, all->pdata[i]))
      g_ptr_array_add(sel, json_object_ref(all->pdata[i]));
  return sel;
}

static void print_header(void) {
  printf("%-20s  %-5s  %-17s  %-16s  %-17s  %-5s  %s\n", "TIME", "ID", "NOTIFICATION", "VM",
         "GUEST", "KEY", "REASON");
}

static void print_row(JsonObject *o) {
  g_auto(AvmaHostEvent) ev;
  avma_host_event_from_json(o, &ev);
  g_autofree char *time = avma_host_event_time_text(ev.time);
  g_autofree char *guest_raw = g_strdup_printf("%s %s", ev.guest_version ? ev.guest_version : "",
                                               ev.guest_edition ? ev.guest_edition : "");
  /* Guest-derived text, shown again safe: older records predate the checks where it is stored. */
  g_autofree char *guest = avma_cli_safe(g_strstrip(guest_raw));
  g_autofree char *vm = avma_cli_safe(ev.vm);
  g_autofree char *key = avma_cli_safe(ev.key_last5);
  g_autofree char *reason = avma_cli_safe(ev.reason_text);
  printf("%-20s  %-5" G_GINT64_FORMAT "  %-17s  %-16s  %-17s  %-5s  %s\n", time, ev.event_id,
         avma_host_event_notification_text(&ev), vm, guest, key, reason);
}

/* ---- --follow -------------------------------------------------------------------------------- */

static volatile sig_atomic_t follow_stop;
static void on_stop_signal(int sig) {
  (void)sig;
  follow_stop = 1;
}

typedef struct {
  const AvmaEventFilter *filter;
  gboolean json;
  int fd; /* the log as last opened, -1 before it exists */
  dev_t dev;
  ino_t ino;
  GString *partial;  /* a line not yet complete (the daemon is writing it) */
  gboolean out_gone; /* standard output is closed */
} Follow;

/* One complete line: printed when it is a record the filter takes (--json: as logged). */
static void follow_line(Follow *fl, const char *line) {
  g_autoptr(JsonParser) p = json_parser_new();
  JsonObject *o = avma_json_object_parse(p, line, -1);
  if (!o)
    return; /* a line cut by a crash: the normal reader skips it too */
  if (!match(fl->filter, o))
    return;
  if (fl->json)
    printf("%s\n", line);
  else
    print_row(o);
}

/* Everything the open log holds past what was read. */
static void follow_drain(Follow *fl) {
  char buf[65536];
  ssize_t n;
  while (fl->fd >= 0 && (n = read(fl->fd, buf, sizeof buf)) > 0) {
    g_string_append_len(fl->partial, buf, n);
    char *start = fl->partial->str, *nl;
    while ((nl = memchr(start, '\n', fl->partial->len - (gsize)(start - fl->partial->str)))) {
      *nl = '\0';
      follow_line(fl, start);
      start = nl + 1;
    }
    g_string_erase(fl->partial, 0, start - fl->partial->str);
  }
  if (fflush(stdout) == EOF || ferror(stdout))
    fl->out_gone = TRUE;
}

/* (Re)open the log when it appears, is replaced or shrinks: read it from its top then. */
static void follow_reopen(Follow *fl, const char *path) {
  struct stat st;
  if (stat(path, &st) != 0)
    return;
  if (fl->fd >= 0 && st.st_dev == fl->dev && st.st_ino == fl->ino &&
      lseek(fl->fd, 0, SEEK_CUR) <= st.st_size)
    return;
  follow_drain(fl); /* what the old file still had */
  if (fl->fd >= 0)
    close(fl->fd);
  fl->fd = open(path, O_RDONLY | O_CLOEXEC);
  g_string_truncate(fl->partial, 0);
  struct stat cur;
  if (fl->fd >= 0 && fstat(fl->fd, &cur) == 0) {
    fl->dev = cur.st_dev;
    fl->ino = cur.st_ino;
  }
}

/* The log is complete (every record is in it before the guest is answered), so --follow tails
 * it from its top: the events so far, then each one as avma-hostd appends it. Ends on SIGINT or
 * SIGTERM, or when standard output is closed (a pipe's reader gone). */
static int follow(const char *path, const AvmaEventFilter *f, gboolean json) {
  struct sigaction sa = {.sa_handler = on_stop_signal};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN); /* a closed pipe is a write error, seen below */
  Follow fl = {.filter = f, .json = json, .fd = -1, .partial = g_string_new(NULL)};
  if (!json)
    print_header();
  while (!follow_stop && !fl.out_gone) {
    follow_reopen(&fl, path);
    follow_drain(&fl);
    /* POLLERR on standard output: the pipe's reader went away though nothing was written. */
    struct pollfd pfd = {.fd = STDOUT_FILENO, .events = 0};
    if (poll(&pfd, 1, FOLLOW_POLL_MS) > 0 && (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)))
      break;
  }
  if (fl.fd >= 0)
    close(fl.fd);
  g_string_free(fl.partial, TRUE);
  return 0;
}

int avma_cli_events(const AvmaCliGlobals *g, int argc, char **argv) {
  gboolean json = FALSE, follow_on = FALSE;
  g_autofree char *since_s = NULL, *until_s = NULL, *vm = NULL, *notif = NULL;
  GOptionEntry e[] = {
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON array, oldest first", NULL},
      {"since", 0, 0, G_OPTION_ARG_STRING, &since_s, "From this time (RFC 3339 or YYYY-MM-DD)",
       "T"},
      {"until", 0, 0, G_OPTION_ARG_STRING, &until_s, "Before this time", "T"},
      /* event-field-ok: the options are named after the members they filter on */
      {"vm", 0, 0, G_OPTION_ARG_STRING, &vm, "Only this VM (name or UUID)", "VM"},
      /* event-field-ok: as above */
      {"notification", 0, 0, G_OPTION_ARG_STRING, &notif, "Only this notification", "N"},
      {"follow", 'f', 0, G_OPTION_ARG_NONE, &follow_on, "Print new events as they come", NULL},
      {NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_cli_parse(e, &argc, &argv, &err))
    return avma_cli_fail("events: %s", err->message), 2;
  gint64 since = 0, until = 0;
  if (since_s && !avma_time_parse_loose(since_s, &since))
    return avma_cli_fail(
               "events: --since '%s' is not a time (use 2026-03-01 or 2026-03-01T00:00:00Z)",
               since_s),
           2;
  if (until_s && !avma_time_parse_loose(until_s, &until))
    return avma_cli_fail("events: --until '%s' is not a time", until_s), 2;
  AvmaNotification n;
  if (notif && !avma_notification_parse(notif, &n))
    return avma_cli_fail("events: --notification must be one of 'AVMA Success', 'Invalid Host', "
                         "'Invalid Data', 'Activation Denied'"),
           2;
  g_autoptr(AvmaHostConfig) c = avma_cli_config(g, &err);
  if (!c)
    return avma_cli_fail("%s", err->message);
  g_autofree char *path = avma_host_state_path(c, AVMA_HOST_EVENTS_FILE);
  AvmaEventFilter f = {since, until, vm, notif};
  if (follow_on)
    return follow(path, &f, json);
  g_autoptr(GPtrArray) sel = load_events(c, path, &f, &err);
  if (!sel)
    return avma_cli_fail("events: %s", err->message);
  if (json) {
    avma_events_print_json(sel);
    return 0;
  }
  if (sel->len == 0) {
    printf("No events.\n");
    return 0;
  }
  print_header();
  for (guint i = 0; i < sel->len; i++)
    print_row(sel->pdata[i]);
  return 0;
}
