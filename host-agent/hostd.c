/* avma-hostd: the host agent daemon. Wiring only: options, config, host core, channel sessions
 * (fixed, or found through libvirt), history, facts, metadata, metrics, the VM view, signals. */
#include "checkpoint.h"
#include "daemon.h"
#include "facts.h"
#include "host-config.h"
#include "host.h"
#include "hostkey.h"
#include "metadata.h"
#include "metrics.h"
#include "recorder.h"
#include "session.h"
#include "timeutil.h"
#include "virt.h"
#include "vmview.h"
#include "watcher.h"

#include <gio/gio.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VIEW_DEBOUNCE_MS 1000
#define METRICS_DEBOUNCE_MS 1000

/* What STATE/vms.json is made of: libvirt's domains and the fixed channels. */
typedef struct {
  AvmaHost *host;
  AvmaWatcher *watcher;
  GPtrArray *sessions; /* fixed channels */
  AvmaMetadata *metadata;
  AvmaFacts *facts;
  AvmaVmViewWriter *view;
  gboolean stopping;
} Daemon;

static void collect_view(AvmaVmViewSink *sink, JsonObject *doc, gpointer user) {
  Daemon *d = user;
  /* Set first: the sink writes a stopped daemon's entries as not connected. */
  json_object_set_boolean_member(doc, "running", !d->stopping);
  if (d->watcher)
    avma_watcher_collect(d->watcher, sink, doc);
  for (guint i = 0; i < d->sessions->len; i++) {
    AvmaSession *s = d->sessions->pdata[i];
    avma_vmview_sink_add(sink,
                         avma_vmview_entry_new(d->host, avma_session_vm(s), "", TRUE, NULL, s));
  }
}

static void view_changed(gpointer user) {
  Daemon *d = user;
  if (d->view)
    avma_vmview_writer_touch(d->view);
}
static void on_session_notify(AvmaSession *s, gpointer user) {
  (void)s;
  view_changed(user);
}

static void on_libvirt_connection(virConnectPtr conn, gpointer user) {
  Daemon *d = user;
  if (d->metadata)
    avma_metadata_set_connection(d->metadata, conn);
  avma_facts_set_connection(d->facts, conn);
}

static void on_libvirt_domain(const char *uuid, gboolean present, gpointer user) {
  Daemon *d = user;
  if (d->metadata)
    avma_metadata_domain(d->metadata, uuid, present);
}

/* The key the daemon signs with, so a rotation's record names the key it replaced. */
typedef struct {
  AvmaHost *host;
  char *key_id;
} KeyWatch;

static void record_rotation(AvmaHost *host, const char *old_id, const char *new_id,
                            const char *statement) {
  g_auto(AvmaHostEvent) ev;
  avma_host_event_init_rotation(&ev, avma_now(), old_id, new_id, statement);
  g_autoptr(GError) err = NULL;
  if (!avma_host_append_record(host, &ev, NULL, &err))
    g_warning("cannot record the key rotation: %s", err->message);
}

static void on_key_rotated(AvmaHostKey *hk, const char *statement, gpointer user) {
  KeyWatch *kw = user;
  g_autofree char *id = avma_hostkey_id(&avma_hostkey_get(hk, NULL)->pub);
  record_rotation(kw->host, kw->key_id, id, statement);
  g_free(kw->key_id);
  kw->key_id = g_steal_pointer(&id);
}

/* A key rotated while the daemon was stopped: the newest checkpoint is another key's. */
static void record_offline_rotation(const AvmaHostConfig *config, KeyWatch *kw) {
  g_autofree char *signer = avma_checkpoint_last_signer(config->state_dir);
  if (!signer || !strcmp(signer, kw->key_id))
    return;
  g_autofree char *path = avma_hostkey_rotation_path(config->state_dir, kw->key_id);
  g_autofree char *statement = NULL;
  if (!g_file_get_contents(path, &statement, NULL, NULL))
    g_warning("host signing key changed from %s to %s without a rotation statement (%s)", signer,
              kw->key_id, path);
  record_rotation(kw->host, signer, kw->key_id, statement);
}

/* Options and configuration; NULL (with *exit_code) when the process ends here. */
static AvmaHostConfig *load_config(int argc, char **argv, gboolean *discover, int *exit_code) {
  g_autofree char *config_path = NULL, *state_dir = NULL, *connect_uri = NULL;
  g_auto(GStrv) channels = NULL;
  gboolean verbose = FALSE, version = FALSE;
  GOptionEntry entries[] = {
      {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Configuration file", "FILE"},
      {"state-dir", 's', 0, G_OPTION_ARG_FILENAME, &state_dir, "State directory", "DIR"},
      {"channel", 0, 0, G_OPTION_ARG_STRING_ARRAY, &channels,
       "Serve a channel socket (repeatable; disables libvirt discovery unless --connect is given)",
       "VMNAME=SOCKETPATH"},
      {"connect", 0, 0, G_OPTION_ARG_STRING, &connect_uri, "libvirt URI", "URI"},
      {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log every connection", NULL},
      {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL},
      {NULL}};
  g_autoptr(GOptionContext) ctx = g_option_context_new("- AVMA host agent");
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_option_context_set_summary(ctx, "Answers AVMA activation requests from guests over the "
                                    "virtio-serial channel " AVMA_CHANNEL_NAME ".");
  g_autoptr(GError) err = NULL;
  *exit_code = 0;
  if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
    fprintf(stderr, "avma-hostd: %s (try --help)\n", err->message);
    *exit_code = 2;
    return NULL;
  }
  if (version) {
    printf("avma-hostd %s\n", AVMA_VERSION);
    return NULL;
  }
  if (verbose)
    g_setenv("G_MESSAGES_DEBUG", "all", TRUE);
  g_autoptr(AvmaHostConfig) config =
      avma_host_config_load(config_path, state_dir, connect_uri, &err);
  if (!config) {
    fprintf(stderr, "avma-hostd: %s\n", err->message);
    *exit_code = 1;
    return NULL;
  }
  for (char **c = channels; c && *c; c++) {
    if (!avma_host_config_add_channel(config, *c, &err)) {
      fprintf(stderr, "avma-hostd: %s\n", err->message);
      *exit_code = 2;
      return NULL;
    }
  }
  /* libvirt discovery, unless fixed channels were given without an explicit --connect. */
  *discover = config->channels->len == 0 || connect_uri;
  return g_steal_pointer(&config);
}

int main(int argc, char **argv) {
  setlocale(LC_ALL, "");
  int rc;
  gboolean discover;
  g_autoptr(AvmaHostConfig) config = load_config(argc, argv, &discover, &rc);
  if (!config)
    return rc;
  g_autoptr(GError) err = NULL;
  /* The signing key before anything is recorded: no unsigned mode (see hostkey.h). */
  AvmaKeyPair *kp = avma_hostkey_open(config->state_dir, &err);
  if (!kp) {
    fprintf(stderr, "avma-hostd: %s\n", err->message);
    return 1;
  }
  g_autoptr(AvmaHostKey) hostkey = avma_hostkey_new(config->state_dir, kp);
  /* Every module below holds its own reference to the host and removes its own observers when
   * freed, so the order they go in at exit does not matter. */
  g_autoptr(AvmaHost) host = avma_host_new(config, &err);
  if (!host) {
    fprintf(stderr, "avma-hostd: %s\n", err->message);
    return 1;
  }
  avma_host_set_signer(host, hostkey);
  KeyWatch kw = {.host = host, .key_id = avma_hostkey_id(&kp->pub)};
  avma_hostkey_watch(hostkey, on_key_rotated, &kw);
  const AvmaLicence *l = avma_host_licence(host);
  if (l->version == AVMA_VERSION_UNKNOWN)
    g_warning("host licence not set: every guest gets Invalid Host (see `avma-host license set`)");

  /* The compliance history. Before any session connects, so no VM start is missed. A store that
   * cannot be opened does not stop activations: events.jsonl stays complete, and the store
   * imports it when it works again. history is borrowed by the recorder, facts and metrics:
   * declared before them, it goes after them. */
  g_autofree char *history_path = avma_host_state_path(config, AVMA_HISTORY_FILE);
  g_autoptr(AvmaHistory) history = avma_history_open_write(history_path, &err);
  if (!history) {
    g_warning("history store unusable, reports will lack what happens meanwhile: %s", err->message);
    g_clear_error(&err);
  }
  /* hostkey is declared before it, so it goes after it; the recorder after it, so it goes before:
   * the last checkpoint, signed at exit, covers the agent's stop record. */
  record_offline_rotation(config, &kw);
  g_autoptr(AvmaCheckpointer) checkpoints = avma_checkpointer_new(host, hostkey);
  g_autoptr(AvmaRecorder) recorder = avma_recorder_new(host, history);
  g_autoptr(AvmaFacts) facts = avma_facts_new(host, history);
  g_autoptr(AvmaMetrics) metrics =
      avma_metrics_new(host, history, recorder, config->metrics_textfile, METRICS_DEBOUNCE_MS);

  Daemon d = {.host = host, .facts = facts};
  g_autofree char *view_path = avma_host_state_path(config, AVMA_VMVIEW_FILE);
  g_autoptr(AvmaVmViewWriter) view =
      avma_vmview_writer_new(view_path, VIEW_DEBOUNCE_MS, collect_view, &d);
  avma_vmview_writer_observe(view, host);
  d.view = view;
  g_autoptr(GPtrArray) sessions = g_ptr_array_new_with_free_func((GDestroyNotify)avma_session_free);
  d.sessions = sessions;
  for (guint i = 0; i < config->channels->len; i++) {
    AvmaChannelSpec *spec = config->channels->pdata[i];
    AvmaVm *vm = avma_host_vm(host, spec->name, NULL);
    AvmaSession *s = avma_session_new(host, vm, spec->path);
    avma_session_track_lifecycle(s);
    avma_session_set_notify(s, on_session_notify, &d);
    g_ptr_array_add(sessions, s);
  }
  g_autoptr(AvmaMetadata) metadata = discover ? avma_metadata_new(host) : NULL;
  d.metadata = metadata;
  g_autoptr(AvmaWatcher) watcher = NULL;
  if (discover) {
    AvmaWatcherHooks hooks = {
        .changed = view_changed, .connection = on_libvirt_connection, .domain = on_libvirt_domain};
    watcher = avma_watcher_new(host, avma_virt_uri(config), config->ensure_channel, &hooks, &d);
    d.watcher = watcher;
  }

  g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
  g_autofree char *status =
      g_strdup_printf("%u fixed channel(s), libvirt %s", config->channels->len,
                      watcher ? avma_watcher_uri(watcher) : "not used");
  g_autofree char *key_id = avma_hostkey_id(&avma_hostkey_get(hostkey, NULL)->pub);
  g_message("avma-hostd %s: %s, state in %s, host key %s", AVMA_VERSION, status, config->state_dir,
            key_id);
  if (watcher)
    avma_watcher_start(watcher);
  view_changed(&d);
  avma_daemon_run(loop, status);
  g_message("avma-hostd stopping");
  d.stopping = TRUE;
  if (!avma_vmview_writer_flush(view, &err))
    g_warning("cannot write %s: %s", view_path, err->message);
  g_free(kw.key_id);
  return 0;
}
