/* fleet-config: avma-fleet's settings (fleet.conf, a GKeyFile): the database, the trust in host
 * keys, the report's rules and the hosts to pull from. No libpq here: the settings lint links it.
 */
#pragma once
#include <glib.h>

#include "settings.h"

#define AVMA_FLEET_DEFAULT_CONFIG "/etc/avma/fleet.conf"
#define AVMA_FLEET_DEFAULT_SIGNING_KEY "/var/lib/avma-fleet/report.key"
#define AVMA_FLEET_DEFAULT_COMMAND "ssh {host} avma-host export --since {since}"

typedef struct {
  char *name;    /* as the command's {host} gets it */
  char *command; /* NULL: [pull] command */
} AvmaFleetHost;

typedef struct {
  char *conninfo;          /* libpq connection string */
  char *root_key;          /* provider root public key file, or NULL */
  gboolean require_cert;   /* a host seen for the first time needs a root certificate */
  gint64 future_tolerance; /* seconds a record may be ahead of the collector's clock */
  guint min_cores_per_processor;
  guint min_cores_per_server;
  gint64 silent_after; /* seconds without a record before a host is reported silent */
  char *signing_key;   /* the report signing key's secret file; its public key is FILE.pub */
  char *pull_command;
  gint64 pull_timeout;
  GPtrArray *hosts; /* AvmaFleetHost*, from the [host NAME] groups, in file order */
} AvmaFleetConfig;

const AvmaSetting *avma_fleet_settings(size_t *n);
/* Defaults, then path (missing is fine unless required). Errors name the file and key. */
AvmaFleetConfig *avma_fleet_config_load(const char *path, gboolean required, GError **error);
void avma_fleet_config_free(AvmaFleetConfig *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaFleetConfig, avma_fleet_config_free)
