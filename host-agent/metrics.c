/* metrics: Prometheus textfile metrics of the host agent. */
#include "metrics.h"

#include "fsutil.h"
#include "state-files.h"
#include "timeutil.h"

#include <gio/gio.h>

#define NOTIFICATIONS 4
#define NOTIFICATION_LABEL "notification" /* event-field-ok: a Prometheus label's name */

struct AvmaMetrics {
  AvmaHost *host; /* a reference */
  guint observer, vm_observer;
  AvmaRecorder *recorder;
  char *path;
  guint debounce_ms;
  guint timer;
  guint64 events[NOTIFICATIONS];
  guint64 events_other; /* 12310 records without a known notification */
  gint64 last_decision;
  gint64 last_success;
  gint64 started;
  GFileMonitor *licence_monitor;
  guint64 write_errors;
  gboolean stopped;
};

static gboolean on_timer(gpointer data) {
  AvmaMetrics *m = data;
  m->timer = 0;
  g_autoptr(GError) err = NULL;
  if (!avma_metrics_write(m, &err)) {
    /* Warn once per run of failures: a read-only or missing directory would flood the log. */
    if (m->write_errors++ == 0)
      g_warning("metrics: %s", err->message);
  } else {
    m->write_errors = 0;
  }
  return G_SOURCE_REMOVE;
}

static void changed(AvmaMetrics *m) {
  if (!m->timer && m->path)
    m->timer = g_timeout_add(m->debounce_ms, on_timer, m);
}

static void on_event(AvmaHost *h, AvmaVm *vm, const AvmaHostEvent *ev, gpointer user) {
  (void)h;
  (void)vm;
  AvmaMetrics *m = user;
  if (ev->event_id != AVMA_EVENT_HOST)
    return; /* the host's own records (licence, runs, facts): not decisions */
  gboolean known = ev->notification >= 0 && ev->notification < NOTIFICATIONS;
  if (known)
    m->events[ev->notification]++;
  else
    m->events_other++;
  gint64 t = ev->time ? ev->time : avma_now();
  m->last_decision = MAX(m->last_decision, t);
  if (known && ev->notification == AVMA_NOTIFY_SUCCESS)
    m->last_success = MAX(m->last_success, t);
  changed(m);
}

static void on_vm(AvmaHost *h, AvmaVm *vm, gboolean running, const char *why, gpointer user) {
  (void)h;
  (void)vm;
  (void)running;
  (void)why;
  changed(user);
}

static void on_licence(GFileMonitor *mon, GFile *f, GFile *other, GFileMonitorEvent ev,
                       gpointer user) {
  (void)mon;
  (void)f;
  (void)other;
  (void)ev;
  changed(user);
}

AvmaMetrics *avma_metrics_new(AvmaHost *host, AvmaHistory *history, AvmaRecorder *recorder,
                              const char *path, guint debounce_ms) {
  AvmaMetrics *m = g_new0(AvmaMetrics, 1);
  m->host = avma_host_ref(host);
  m->recorder = recorder;
  m->path = path && *path ? g_strdup(path) : NULL;
  m->debounce_ms = debounce_ms;
  m->started = avma_now();
  if (history) {
    /* Counters start at zero with each process (Prometheus expects resets); the timestamp is a
     * fact about the history, so it carries over. */
    m->last_decision = avma_history_last_event_time(history);
  }
  m->observer = avma_host_add_observer(host, on_event, m);
  m->vm_observer = avma_host_add_vm_observer(host, on_vm, m);
  g_autofree char *lp = avma_host_state_path(avma_host_config(host), AVMA_LICENCE_FILE);
  g_autoptr(GFile) lf = g_file_new_for_path(lp);
  m->licence_monitor = g_file_monitor_file(lf, G_FILE_MONITOR_WATCH_MOVES, NULL, NULL);
  if (m->licence_monitor)
    g_signal_connect(m->licence_monitor, "changed", G_CALLBACK(on_licence), m);
  if (m->path) {
    g_autoptr(GError) err = NULL;
    if (!avma_metrics_write(m, &err))
      g_warning("metrics: %s", err->message);
  }
  return m;
}

void avma_metrics_free(AvmaMetrics *m) {
  if (!m)
    return;
  avma_host_remove_observer(m->host, m->observer);
  avma_host_remove_observer(m->host, m->vm_observer);
  /* The file is written on change only, so a stale one would look like a quiet agent: say that
   * this one stopped. */
  if (m->timer)
    g_source_remove(m->timer);
  m->stopped = TRUE;
  on_timer(m);
  avma_host_free(m->host);
  g_clear_object(&m->licence_monitor);
  g_free(m->path);
  g_free(m);
}

/* Label values escape backslash, double quote and newline (exposition format). */
static void label_value(GString *o, const char *s) {
  for (; *s; s++) {
    if (*s == '\\' || *s == '"')
      g_string_append_printf(o, "\\%c", *s);
    else if (*s == '\n')
      g_string_append(o, "\\n");
    else
      g_string_append_c(o, *s);
  }
}

static void family(GString *o, const char *name, const char *type, const char *help) {
  g_string_append_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(GString *o, const char *name, const char *label, const char *value, guint64 v) {
  g_string_append(o, name);
  if (label) {
    g_string_append_printf(o, "{%s=\"", label);
    label_value(o, value);
    g_string_append(o, "\"}");
  }
  g_string_append_printf(o, " %" G_GUINT64_FORMAT "\n", v);
}

char *avma_metrics_render(AvmaMetrics *m) {
  static const AvmaNotification order[NOTIFICATIONS] = {
      AVMA_NOTIFY_SUCCESS, AVMA_NOTIFY_DENIED, AVMA_NOTIFY_INVALID_HOST, AVMA_NOTIFY_INVALID_DATA};
  GString *o = g_string_new("");
  family(o, "avma_host_events_total", "counter",
         "12310 events logged since the agent started, by notification.");
  for (int i = 0; i < NOTIFICATIONS; i++)
    sample(o, "avma_host_events_total", NOTIFICATION_LABEL, avma_notification_name(order[i]),
           m->events[order[i]]);

  guint running = 0, stopped = 0, by_last[NOTIFICATIONS] = {0};
  g_autoptr(GPtrArray) vms = avma_host_vms(m->host);
  for (guint i = 0; i < vms->len; i++) {
    AvmaVm *vm = vms->pdata[i];
    if (avma_vm_running(vm))
      running++;
    else
      stopped++;
    const AvmaHostEvent *last = avma_vm_last_event(vm);
    if (last && last->notification >= 0 && last->notification < NOTIFICATIONS)
      by_last[last->notification]++;
  }
  family(o, "avma_host_vms", "gauge", "VMs the agent knows, by whether they run on this host now.");
  sample(o, "avma_host_vms", "state", "running", running);
  sample(o, "avma_host_vms", "state", "stopped", stopped);
  family(o, "avma_host_vms_by_last_notification", "gauge",
         "VMs by the notification of their last activation decision (the history's, until they get "
         "one here).");
  for (int i = 0; i < NOTIFICATIONS; i++)
    sample(o, "avma_host_vms_by_last_notification", NOTIFICATION_LABEL,
           avma_notification_name(order[i]), by_last[order[i]]);

  family(o, "avma_host_last_decision_timestamp_seconds", "gauge",
         "Time of the latest 12310 event in unix seconds (0: none recorded).");
  sample(o, "avma_host_last_decision_timestamp_seconds", NULL, NULL, (guint64)m->last_decision);
  family(o, "avma_host_last_success_timestamp_seconds", "gauge",
         "Time of the latest AVMA Success since the agent started, unix seconds (0: none).");
  sample(o, "avma_host_last_success_timestamp_seconds", NULL, NULL, (guint64)m->last_success);

  const AvmaLicence *l = avma_host_licence(m->host);
  gboolean set = l->version != AVMA_VERSION_UNKNOWN;
  family(o, "avma_host_licence_activated", "gauge",
         "1 when the host licence is set and activated.");
  sample(o, "avma_host_licence_activated", NULL, NULL, set && l->activated);
  family(o, "avma_host_licence_activates_guests", "gauge",
         "1 when the host is an activated Datacenter host, which activates guests.");
  sample(o, "avma_host_licence_activates_guests", NULL, NULL,
         set && l->activated && l->edition == AVMA_EDITION_DATACENTER);
  family(o, "avma_host_licence_info", "gauge",
         "The host licence's version and edition (always 1).");
  g_string_append(o, "avma_host_licence_info{version=\"");
  label_value(o, set ? avma_version_name(l->version) : "");
  g_string_append(o, "\",edition=\"");
  label_value(o, set ? avma_edition_name(l->edition) : "");
  g_string_append(o, "\"} 1\n");

  family(o, "avma_host_history_write_errors_total", "counter",
         "Writes to the history store that failed since the agent started.");
  sample(o, "avma_host_history_write_errors_total", NULL, NULL,
         m->recorder ? avma_recorder_errors(m->recorder) : 0);
  family(o, "avma_host_agent_running", "gauge",
         "1 while avma-hostd runs; 0 written when it stops cleanly.");
  sample(o, "avma_host_agent_running", NULL, NULL, !m->stopped);
  family(o, "avma_host_start_time_seconds", "gauge", "When this avma-hostd process started.");
  sample(o, "avma_host_start_time_seconds", NULL, NULL, (guint64)m->started);
  family(o, "avma_host_info", "gauge", "The agent's version and host ID (always 1).");
  g_string_append_printf(o, "avma_host_info{version=\"%s\",host_id=\"", AVMA_VERSION);
  label_value(o, avma_host_identity(m->host));
  g_string_append(o, "\"} 1\n");
  return g_string_free(o, FALSE);
}

gboolean avma_metrics_write(AvmaMetrics *m, GError **error) {
  if (!m->path)
    return TRUE;
  g_autofree char *text = avma_metrics_render(m);
  /* node_exporter reads *.prom files only, and the temporary name ends in random characters, so
   * it never reads a half-written file; the rename replaces the old one in one step. Not
   * durable: after a power cut the agent rewrites the file at start anyway. */
  return avma_write_replace(m->path, text, -1, 0644, error);
}
