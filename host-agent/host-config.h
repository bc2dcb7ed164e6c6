/* host-config: avma-hostd / avma-host settings from host.conf (GKeyFile) and the command line. */
#pragma once
#include <glib.h>

#include "events.h"
#include "settings.h"

#define AVMA_HOST_DEFAULT_CONFIG "/etc/avma/host.conf"
#define AVMA_HOST_DEFAULT_STATE "/var/lib/avma-host"

typedef struct {
  char *name;
  char *path;
} AvmaChannelSpec;

typedef struct {
  char *state_dir;
  char *connect_uri; /* libvirt URI; NULL = default */
  gint64 validity;   /* seconds granted on success */
  AvmaJournalMode journal;
  gboolean ensure_channel; /* add the channel to every defined domain */
  GPtrArray *channels;     /* AvmaChannelSpec*: fixed channels (no libvirt) */
  /* per-guest limits (brief: guest input is hostile) */
  double rate_per_sec;     /* sustained requests per second per channel */
  double rate_burst;       /* bucket size */
  guint frame_deadline_ms; /* a started frame must complete within this */
  guint max_records;       /* records kept per VM and pool */
  gsize max_queued;        /* bytes queued towards one guest */
  /* ACTIVATE requests are also limited on their own: each one is an fsync'ed 12310 record, so a
   * guest must not be able to fill the disk or stall the loop with them. */
  double activations_per_min; /* sustained ACTIVATE requests per minute per channel */
  double activation_burst;    /* bucket size */
  guint reconnect_max_ms;     /* back-off cap when a channel socket is gone */
  guint reconcile_interval_s; /* [libvirt] reconcile_interval: full listing every N seconds */
  /* compliance history and metrics */
  guint history_retention_months; /* [history] retention_months: whole months kept */
  guint history_confirm_s;        /* [history] confirm_running_within: see recorder.h */
  guint checkpoint_records;       /* [history] checkpoint_records: sign the log's head every N */
  guint checkpoint_interval_s;    /* [history] checkpoint_interval: or after this many seconds */
  gboolean commit_thread;         /* [history] commit_thread: fdatasync off the main loop */
  char *metrics_textfile;         /* [metrics] textfile; "" = none */
} AvmaHostConfig;

void avma_host_config_free(AvmaHostConfig *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaHostConfig, avma_host_config_free)

/* Load config_path (NULL = default; a missing default file is fine, a missing explicit one is an
 * error) and apply overrides (each may be NULL). */
AvmaHostConfig *avma_host_config_load(const char *config_path, const char *state_dir,
                                      const char *connect_uri, GError **error);
/* Parse "NAME=PATH" into the channel list. */
gboolean avma_host_config_add_channel(AvmaHostConfig *c, const char *spec, GError **error);

char *avma_host_state_path(const AvmaHostConfig *c, const char *name);

/* host.conf's settings table (for the documentation check). */
const AvmaSetting *avma_host_settings(size_t *n);
