/* recorder: the daemon's side of the history store. */
#include "recorder.h"
#include "state-files.h"

#include "chainlog.h"
#include "jsonline.h"
#include "timeutil.h"

#include <gio/gio.h>
#include <string.h>
#include <unistd.h>

#define PRUNE_BATCH 20000
#define PRUNE_EVERY_S (24 * 3600)

struct AvmaRecorder {
  AvmaHost *host; /* a reference */
  guint observer, vm_observer;
  AvmaHistory *history;
  char *events_path;
  char *licence_path;
  /* The store's side, not whether VMs run (AvmaVm owns that): runs the store holds open,
   * vm_key -> gint64* (time of that record), so a run is opened and closed once. */
  GHashTable *open;
  GHashTable *unconfirmed; /* vm_key set: open before this start, not reported running since */
  gint64 prev_alive;       /* the agent's last sign of life before this start */
  guint confirm_timer;
  guint prune_timer;
  guint prune_idle;
  guint sync_timer; /* batches imports of events.jsonl into the store */
  GFileMonitor *licence_monitor;
  GFileMonitor *licence_conf_monitor;
  AvmaHostEvent licence; /* the last 12311 in the log, when licence_known */
  gboolean licence_known;
  guint64 errors;
};

static void failed(AvmaRecorder *r, const char *what, GError *err) {
  r->errors++;
  /* The event logs stay complete; the store catches up from them at the next sync. */
  g_warning("history: %s: %s", what, err ? err->message : "?");
}

static void sync_logs(AvmaRecorder *r) {
  if (!r->history)
    return;
  g_autoptr(GError) err = NULL;
  /* The store mirrors durable records only: a record it held but a crash took from the log
   * would be a disagreement `history verify` reports. Usually the commit already ran. */
  if (!avma_host_flush_log(r->host, &err))
    failed(r, "events", err);
  g_clear_error(&err);
  if (!avma_history_sync_log(r->history, AVMA_HISTORY_LOG_EVENTS, r->events_path, NULL, &err))
    failed(r, "events", err);
  g_clear_error(&err);
  if (!avma_history_sync_log(r->history, AVMA_HISTORY_LOG_LICENCE, r->licence_path, NULL, &err))
    failed(r, "licence changes", err);
}

static gboolean on_sync_timer(gpointer data) {
  AvmaRecorder *r = data;
  r->sync_timer = 0;
  sync_logs(r);
  return G_SOURCE_REMOVE;
}

/* The event is already durable in events.jsonl before the guest is answered; that log is the
 * store's write-ahead log. Importing it right away cost a second fsync per decision and halved
 * boot-storm throughput (tests/bench/PROFILE.md), so new lines are imported in one transaction
 * per SYNC_BATCH_MS, after the replies. A crash in between loses nothing: the store imports
 * what it lacks at the next start, and `events`/`report` read unimported lines meanwhile. */
#define SYNC_BATCH_MS 100
static void on_event(AvmaHost *h, AvmaVm *vm, const AvmaHostEvent *ev, gpointer user) {
  (void)h;
  (void)vm;
  (void)ev;
  AvmaRecorder *r = user;
  if (r->history && !r->sync_timer)
    r->sync_timer = g_timeout_add(SYNC_BATCH_MS, on_sync_timer, r);
}

/* Host records go to the record log (events.jsonl); the store imports them from there like the
 * decisions, so the log alone holds the whole history and an export carries it signed. */
static gboolean append_record(AvmaRecorder *r, const char *what, const AvmaHostEvent *ev) {
  g_autoptr(GError) err = NULL;
  if (avma_host_append_record(r->host, ev, NULL, &err))
    return TRUE;
  r->errors++;
  g_warning("history: cannot record %s: %s", what, err->message);
  return FALSE;
}

static gboolean append_run(AvmaRecorder *r, gint64 at, const char *name, const char *uuid,
                           gboolean running, const char *why) {
  g_auto(AvmaHostEvent) ev;
  avma_host_event_init_vm_run(&ev, at, name, uuid, running, why);
  return append_record(r, "vm state", &ev);
}

static void append_note(AvmaRecorder *r, const char *what, const char *detail) {
  g_auto(AvmaHostEvent) ev;
  avma_host_event_init_note(&ev, avma_now(), what, detail);
  append_record(r, what, &ev);
}

/* The licence as the daemon reads it, recorded (12311) when it differs from the last one the
 * log holds: at start, and whenever licence.conf changes. */
static void record_licence(AvmaRecorder *r) {
  g_auto(AvmaHostEvent) now;
  avma_host_event_init_licence(&now, avma_host_licence(r->host), avma_now());
  if (r->licence_known ? avma_host_event_same_state(&now, &r->licence) : !now.licence_set)
    return;
  if (!append_record(r, "licence", &now))
    return;
  avma_host_event_clear(&r->licence);
  avma_host_event_init_licence(&r->licence, avma_host_licence(r->host), now.time);
  r->licence_known = TRUE;
}

static void on_licence_conf(GFileMonitor *m, GFile *f, GFile *other, GFileMonitorEvent ev,
                            gpointer user) {
  (void)m, (void)f, (void)other, (void)ev;
  record_licence(user);
}

static void close_run(AvmaRecorder *r, const char *key, gint64 at, const char *why) {
  gint64 *since = g_hash_table_lookup(r->open, key);
  if (!since)
    return;
  /* The VM's name and UUID: from the host when it knows the VM, else from the key. */
  const char *name = key, *uuid = "";
  AvmaVm *vm = avma_host_find_vm(r->host, key);
  if (vm) {
    name = avma_vm_name(vm);
    uuid = avma_vm_uuid(vm);
  }
  if (!*uuid && g_uuid_string_is_valid(key)) {
    uuid = key;
    name = "";
  }
  if (!append_run(r, MAX(at, *since), name, uuid, FALSE, why))
    return;
  g_hash_table_remove(r->unconfirmed, key);
  g_hash_table_remove(r->open, key);
}

static void on_vm(AvmaHost *h, AvmaVm *vm, gboolean running, const char *why, gpointer user) {
  (void)h;
  AvmaRecorder *r = user;
  g_autofree char *key = g_strdup(avma_vm_key_of(vm));
  gint64 now = avma_now();
  if (!running) {
    close_run(r, key, now, why);
    return;
  }
  /* Running again after the agent restarted: the run recorded before goes on. */
  if (g_hash_table_remove(r->unconfirmed, key) || g_hash_table_contains(r->open, key))
    return;
  if (!append_run(r, now, avma_vm_name(vm), avma_vm_uuid(vm), TRUE, why))
    return;
  gint64 *t = g_new(gint64, 1);
  *t = now;
  g_hash_table_replace(r->open, g_steal_pointer(&key), t);
}

static void close_unconfirmed(AvmaRecorder *r, const char *why) {
  g_autoptr(GList) keys = g_hash_table_get_keys(r->unconfirmed);
  for (GList *k = keys; k; k = k->next) {
    g_autofree char *key = g_strdup(k->data);
    close_run(r, key, r->prev_alive, why);
  }
}

static gboolean on_confirm_timeout(gpointer data) {
  AvmaRecorder *r = data;
  r->confirm_timer = 0;
  if (g_hash_table_size(r->unconfirmed))
    g_message("history: %u VM(s) not seen running since the agent restarted: their runs end at "
              "the agent's last sign of life",
              g_hash_table_size(r->unconfirmed));
  close_unconfirmed(r, "not-running-after-agent-restart");
  return G_SOURCE_REMOVE;
}

static gboolean prune_step(gpointer data) {
  AvmaRecorder *r = data;
  const AvmaHostConfig *c = avma_host_config(r->host);
  gint64 cutoff = avma_history_retention_cutoff(avma_now(), c->history_retention_months);
  gboolean done = TRUE;
  g_autoptr(GError) err = NULL;
  /* Batches keep each write short; the main loop serves guests between them. */
  if (!avma_history_prune_step(r->history, cutoff, PRUNE_BATCH, &done, &err))
    failed(r, "retention", err);
  if (done || err) {
    r->prune_idle = 0;
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean on_prune_timer(gpointer data) {
  AvmaRecorder *r = data;
  if (!r->prune_idle)
    r->prune_idle = g_idle_add_full(G_PRIORITY_LOW, prune_step, r, NULL);
  return G_SOURCE_CONTINUE;
}

static void on_licence_file(GFileMonitor *m, GFile *f, GFile *other, GFileMonitorEvent ev,
                            gpointer user) {
  (void)m;
  (void)f;
  (void)other;
  AvmaRecorder *r = user;
  if (ev != G_FILE_MONITOR_EVENT_CHANGES_DONE_HINT && ev != G_FILE_MONITOR_EVENT_CREATED &&
      ev != G_FILE_MONITOR_EVENT_CHANGED)
    return;
  g_autoptr(GError) err = NULL;
  guint n = 0;
  if (!avma_history_sync_log(r->history, AVMA_HISTORY_LOG_LICENCE, r->licence_path, &n, &err))
    failed(r, "licence changes", err);
  else if (n)
    g_message("history: %u licence change(s) recorded", n);
}

static char *read_trimmed(const char *path) {
  char *s = NULL;
  if (!g_file_get_contents(path, &s, NULL, NULL))
    return NULL;
  return g_strstrip(s);
}

/* What the store knows at start: the log's records it lacks imported first (the runs it holds
 * open are the ones the log recorded), the last 12311, the last decisions, the boot id. */
static void start_from_store(AvmaRecorder *r, gint64 now) {
  AvmaHistory *history = r->history;
  const AvmaHostConfig *c = avma_host_config(r->host);
  /* Read before anything is written: every write moves alive_at. */
  g_autofree char *alive = avma_history_meta_get(history, "alive_at");
  g_autofree char *boot_prev = avma_history_meta_get(history, "boot_id");
  g_autofree char *boot = read_trimmed("/proc/sys/kernel/random/boot_id");
  r->prev_alive = alive ? g_ascii_strtoll(alive, NULL, 10) : now;
  g_autoptr(GError) err = NULL;
  guint imported = 0;
  if (!avma_history_sync_log(history, AVMA_HISTORY_LOG_EVENTS, r->events_path, &imported, &err))
    failed(r, "importing events.jsonl", err);
  else if (imported)
    g_message("history: imported %u record(s) from %s", imported, r->events_path);
  g_clear_error(&err);
  if (!avma_history_sync_log(history, AVMA_HISTORY_LOG_LICENCE, r->licence_path, &imported, &err))
    failed(r, "importing licence-history.jsonl", err);
  else if (imported)
    g_message("history: imported %u licence change(s)", imported);
  g_clear_error(&err);
  GHashTable *open = avma_history_running_vms(history, &err);
  if (open) {
    g_hash_table_unref(r->open);
    r->open = open;
  } else {
    failed(r, "reading VM states", err);
    g_clear_error(&err);
  }
  g_autofree char *last_licence = avma_history_chain_licence(history);
  if (last_licence) {
    g_autoptr(JsonParser) p = json_parser_new();
    JsonObject *o = avma_json_object_parse(p, last_licence, -1);
    if (o) {
      avma_host_event_from_json(o, &r->licence);
      r->licence_known = TRUE;
    }
  }

  /* The operator's view (vms, vms.json, metrics) shows each VM's last grant from the start, not
   * only after the guest's next renewal (up to a day later). */
  g_autoptr(GHashTable) last = avma_history_last_decisions(history, &err);
  if (last)
    avma_host_restore_decisions(r->host, last);
  else
    failed(r, "reading last decisions", err);
  g_clear_error(&err);

  GHashTableIter it;
  gpointer k;
  g_hash_table_iter_init(&it, r->open);
  while (g_hash_table_iter_next(&it, &k, NULL))
    g_hash_table_add(r->unconfirmed, g_strdup(k));
  if (boot && boot_prev && strcmp(boot, boot_prev)) {
    /* The host rebooted: nothing that ran before is running still. */
    close_unconfirmed(r, "host-rebooted");
  } else if (g_hash_table_size(r->unconfirmed)) {
    r->confirm_timer = g_timeout_add_seconds(c->history_confirm_s, on_confirm_timeout, r);
  }
  if (boot && !avma_history_meta_set(history, "boot_id", boot, &err))
    failed(r, "boot id", err);
}

/* Without a store, what it would tell at start is read from the record log itself, the durable
 * record: the last 12311 and the runs left open, so that a restart repeats neither. One pass
 * over the log (the store exists so that this pass is not needed at every start). */
typedef struct {
  AvmaRecorder *r;
  JsonParser *parser;
} LogScan;

static gboolean scan_record(const char *line, gsize len, gboolean whole, guint64 lineno,
                            gpointer user) {
  (void)lineno;
  LogScan *s = user;
  JsonObject *o = whole ? avma_json_object_parse(s->parser, line, (gssize)len) : NULL;
  if (!o)
    return whole; /* a cut last line was never acknowledged */
  g_auto(AvmaHostEvent) ev;
  avma_host_event_from_json(o, &ev);
  if (ev.time)
    s->r->prev_alive = ev.time; /* the last sign of life, where runs not seen again end */
  if (ev.kind == AVMA_HOST_EVENT_LICENCE) {
    avma_host_event_clear(&s->r->licence);
    avma_host_event_from_json(o, &s->r->licence);
    s->r->licence_known = TRUE;
  } else if (ev.kind == AVMA_HOST_EVENT_VM_RUN && ev.running) {
    gint64 *since = g_new(gint64, 1);
    *since = ev.time;
    g_hash_table_replace(s->r->open, avma_vm_key(ev.vm, ev.vm_uuid), since);
  } else if (ev.kind == AVMA_HOST_EVENT_VM_RUN) {
    g_autofree char *key = avma_vm_key(ev.vm, ev.vm_uuid);
    g_hash_table_remove(s->r->open, key);
  }
  return TRUE;
}

static void start_from_log(AvmaRecorder *r) {
  g_autoptr(JsonParser) p = json_parser_new();
  LogScan s = {.r = r, .parser = p};
  r->prev_alive = avma_now();
  g_autoptr(GError) err = NULL;
  if (!avma_chain_read_lines(r->events_path, TRUE, scan_record, &s, &err))
    failed(r, "reading events.jsonl", err);
  GHashTableIter it;
  gpointer k;
  g_hash_table_iter_init(&it, r->open);
  while (g_hash_table_iter_next(&it, &k, NULL))
    g_hash_table_add(r->unconfirmed, g_strdup(k));
  if (g_hash_table_size(r->unconfirmed))
    r->confirm_timer =
        g_timeout_add_seconds(avma_host_config(r->host)->history_confirm_s, on_confirm_timeout, r);
}

AvmaRecorder *avma_recorder_new(AvmaHost *host, AvmaHistory *history) {
  AvmaRecorder *r = g_new0(AvmaRecorder, 1);
  r->host = avma_host_ref(host);
  r->history = history;
  const AvmaHostConfig *c = avma_host_config(host);
  r->events_path = avma_host_state_path(c, AVMA_HOST_EVENTS_FILE);
  r->licence_path = avma_host_state_path(c, AVMA_LICENCE_HISTORY_FILE);
  r->unconfirmed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  r->open = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  /* Without a store the records still go to the log (it is the durable record), and what the
   * store would tell (runs left open by the last run, the last licence) is read from it. */
  if (history)
    start_from_store(r, avma_now());
  else
    start_from_log(r);
  g_autofree char *note = g_strdup_printf("avma-hostd %s", AVMA_VERSION);
  append_note(r, "agent-start", note);
  record_licence(r);

  r->observer = avma_host_add_observer(host, on_event, r);
  r->vm_observer = avma_host_add_vm_observer(host, on_vm, r);
  g_autofree char *conf = avma_host_state_path(c, AVMA_LICENCE_FILE);
  g_autoptr(GFile) cf = g_file_new_for_path(conf);
  /* WATCH_MOVES: `license set` replaces the file by rename. */
  r->licence_conf_monitor = g_file_monitor_file(cf, G_FILE_MONITOR_WATCH_MOVES, NULL, NULL);
  if (r->licence_conf_monitor)
    g_signal_connect(r->licence_conf_monitor, "changed", G_CALLBACK(on_licence_conf), r);
  if (!history)
    return r;
  g_autoptr(GFile) lf = g_file_new_for_path(r->licence_path);
  r->licence_monitor = g_file_monitor_file(lf, G_FILE_MONITOR_NONE, NULL, NULL);
  if (r->licence_monitor)
    g_signal_connect(r->licence_monitor, "changed", G_CALLBACK(on_licence_file), r);
  r->prune_idle = g_idle_add_full(G_PRIORITY_LOW, prune_step, r, NULL);
  r->prune_timer = g_timeout_add_seconds(PRUNE_EVERY_S, on_prune_timer, r);
  return r;
}

void avma_recorder_free(AvmaRecorder *r) {
  if (!r)
    return;
  avma_host_remove_observer(r->host, r->observer);
  avma_host_remove_observer(r->host, r->vm_observer);
  if (r->sync_timer)
    g_source_remove(r->sync_timer);
  append_note(r, "agent-stop", "");
  sync_logs(r);
  if (r->confirm_timer)
    g_source_remove(r->confirm_timer);
  if (r->prune_timer)
    g_source_remove(r->prune_timer);
  if (r->prune_idle)
    g_source_remove(r->prune_idle);
  g_clear_object(&r->licence_monitor);
  g_clear_object(&r->licence_conf_monitor);
  avma_host_event_clear(&r->licence);
  g_hash_table_unref(r->open);
  g_hash_table_unref(r->unconfirmed);
  g_free(r->events_path);
  g_free(r->licence_path);
  avma_host_free(r->host);
  g_free(r);
}

guint64 avma_recorder_errors(AvmaRecorder *r) {
  return r->errors;
}
