/* fleet-pull: fetch a host's export bundle by running the configured command for it ({host} and
 * {since} replaced in its words; no shell), so the collector holds the database credentials and
 * the hypervisors hold none. */
#pragma once
#include <glib.h>

#include "fleet-config.h"

/* The command's standard output (its standard error passes through). Errors: it cannot start,
 * exits non-zero, or runs longer than [pull] timeout (then it is killed). */
GBytes *avma_fleet_pull(const AvmaFleetConfig *cfg, const AvmaFleetHost *host, guint64 since,
                        GError **error);
