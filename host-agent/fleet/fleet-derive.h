/* fleet-derive: the report's summary tables, kept up to date by every ingest in the bundle's own
 * transaction, so that a month's report reads one row per run interval and per VM and product
 * instead of one per renewal (schema version 2, docs/fleet.md "Summary tables"):
 *   run_intervals     each VM's runs on each host (a running 12312 record to the next one there)
 *   vm_grants         per VM and product, the merged time its AVMA Successes held (all hosts)
 *   vm_month_success  per month, VM and product, the first AVMA Success
 *   decision_days     per UTC day, product and notification, the number of 12310 records
 * The report can still compute the same figures from the typed records themselves
 * (`report --from-records`); the tests check that both agree. */
#pragma once
#include <glib.h>

#include "fleet-db.h"

/* Fold host_id's records after seq `after` (just stored, same transaction) into the tables. */
gboolean avma_fleet_derive(PGconn *c, const char *host_id, guint64 after, GError **error);
