/* metrics: Prometheus text-format metrics of the host agent, written atomically to a file for
 * node_exporter's textfile collector ([metrics] textfile), on change and debounced, never
 * periodically. */
#pragma once
#include <glib.h>

#include "history.h"
#include "host.h"
#include "recorder.h"

typedef struct AvmaMetrics AvmaMetrics;

/* Observes host (events, VM run states; holds a reference, its observers go when it is freed)
 * and the licence file. history (may be NULL) gives the last decision time across restarts;
 * recorder (may be NULL) its write errors; both are borrowed and must outlive it. path NULL or
 * "": nothing is written, the metrics are still kept. A change is written debounce_ms after it,
 * so a burst of decisions costs one write. Writes once at start. */
AvmaMetrics *avma_metrics_new(AvmaHost *host, AvmaHistory *history, AvmaRecorder *recorder,
                              const char *path, guint debounce_ms);
/* Writes a pending change before going. */
void avma_metrics_free(AvmaMetrics *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaMetrics, avma_metrics_free)

/* The current metrics in the text exposition format (version 0.0.4). */
char *avma_metrics_render(AvmaMetrics *m);
/* Write now: to a temporary file beside path, then rename over it. */
gboolean avma_metrics_write(AvmaMetrics *m, GError **error);
