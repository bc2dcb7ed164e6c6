/* fleet-report: the fleet's monthly licence report, computed in SQL from the summary tables and
 * the stored records (run intervals, grants, licences, host facts, findings) and rendered as text,
 * CSV or JSON. The figures' definitions are in docs/fleet.md ("Fleet report"). */
#pragma once
#include <glib.h>

#include "fleet-config.h"
#include "fleet-db.h"

typedef struct AvmaFleetReport AvmaFleetReport;
/* The report of calendar month year-month (UTC) with history up to as_of, in one snapshot of the
 * database (REPEATABLE READ), from the summary tables (fleet-derive.h) or, with from_records, from
 * the typed records alone (slower; the same figures, which the tests check). Error when the month
 * has not begun by as_of. */
AvmaFleetReport *avma_fleet_report_build(PGconn *c, const AvmaFleetConfig *cfg, int year, int month,
                                         gint64 as_of, gboolean from_records, GError **error);
void avma_fleet_report_free(AvmaFleetReport *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaFleetReport, avma_fleet_report_free)

/* format: "text", "csv" or "json"; NULL for another name. Caller frees. */
char *avma_fleet_report_render(const AvmaFleetReport *r, const char *format);
