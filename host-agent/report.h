/* report: the monthly compliance report, computed from recorded history alone (12310 grants, VM
 * run intervals, licence changes, host facts) and rendered as text, CSV or JSON. Three jobs, one
 * file each: report-load.c fills the data set from the store's typed rows (or tests fill it
 * directly), report.c builds the report from it (pure), report-format.c renders it. The
 * definitions of every figure are in docs/operators.md ("Compliance report"). */
#pragma once
#include <glib.h>

#include "history.h"
#include "policy.h"

#define AVMA_REPORT_NOTIFICATIONS 4 /* indexed by AvmaNotification */

/* ---- input ---------------------------------------------------------------------------------- */

typedef struct AvmaReportData AvmaReportData;
AvmaReportData *avma_report_data_new(void);
void avma_report_data_free(AvmaReportData *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaReportData, avma_report_data_free)

/* Rows in the order they were recorded (ties in time keep this order). A VM is identified by its
 * UUID (any case), else its name. Empty version/edition: unknown product. Strings are copied. */
void avma_report_data_add_event(AvmaReportData *d, const AvmaHistoryEventRow *e);
void avma_report_data_add_state(AvmaReportData *d, const AvmaHistoryStateRow *s);
void avma_report_data_add_licence(AvmaReportData *d, const AvmaHistoryLicenceRow *l);
void avma_report_data_add_host_facts(AvmaReportData *d, const AvmaHistoryFactsRow *f);
void avma_report_data_add_vcpus(AvmaReportData *d, const AvmaHistoryVcpusRow *v);
/* Name and ID to show when no host facts were recorded. */
void avma_report_data_set_identity(AvmaReportData *d, const char *hostname, const char *host_id);

/* Everything the report for [start, end) needs from the store, plus the records of the logs the
 * store does not hold yet (daemon stopped); either log path may be NULL. */
gboolean avma_report_load(AvmaHistory *h, const char *events_log, const char *licence_log,
                          gint64 start, gint64 end, AvmaReportData *d, GError **error);

/* ---- result --------------------------------------------------------------------------------- */

typedef struct {
  gint64 start, end;  /* within the period */
  gboolean before;    /* it began before the period */
  gboolean after;     /* it goes on after the period */
  const char *reason; /* for licence gaps */
} AvmaReportInterval;

typedef struct {
  char *version; /* "" when unknown */
  char *edition;
  guint vms;                                 /* distinct VMs activated */
  guint peak;                                /* most VMs licensed at one instant */
  guint at_end;                              /* VMs licensed in the last second of the period */
  gint64 licensed_seconds;                   /* VM-seconds licensed; VM-days = this / 86400 */
  guint vcpus;                               /* sum of the known vCPU counts of those VMs */
  guint vcpus_unknown;                       /* VMs among them with no recorded vCPU count */
  guint attempts[AVMA_REPORT_NOTIFICATIONS]; /* 12310 events in the period */
} AvmaReportGroup;

typedef struct {
  char *key, *name, *uuid;
  char *products; /* "2022 Datacenter, 2019 Standard" or "" */
  int vcpus;      /* -1 unknown */
  GArray *ran;    /* AvmaReportInterval: when it ran here, within the period */
  gint64 ran_seconds;
  gint64 licensed_seconds;
  gboolean licensed_at_end;
  guint attempts[AVMA_REPORT_NOTIFICATIONS];
} AvmaReportVm;

typedef struct {
  gint64 time;
  char *version, *edition, *set_by;
  gboolean activated;
} AvmaReportLicenceChange;

typedef struct {
  int year, month;
  gint64 start, end; /* the calendar month, UTC */
  gint64 as_of;      /* history considered up to here */
  gint64 period_end; /* MIN(end, as_of) */
  gboolean complete; /* the month is over */
  /* host */
  char *hostname, *host_id;
  int sockets, cores_per_socket, threads_per_core; /* 0: unknown */
  char *facts_source;
  gint64 facts_time;
  int licensable_cores; /* sockets * MAX(8, cores_per_socket) */
  gboolean licence_set;
  char *licence_version, *licence_edition; /* at the end of the period */
  gboolean licence_activated;
  gboolean activated_whole_period;
  GArray *not_activated;      /* AvmaReportInterval with reason */
  GPtrArray *licence_changes; /* AvmaReportLicenceChange*, within the period */
  guint vms_ran, peak_running, running_at_end;
  gint64 ran_seconds;
  /* guests */
  GPtrArray *groups;     /* AvmaReportGroup*, newest version first */
  AvmaReportGroup total; /* distinct VMs, overall peak, sums */
  GPtrArray *vms;        /* AvmaReportVm*, by name */
} AvmaReport;

/* The report for calendar month year-month (UTC) from d, considering history up to as_of (a
 * month not over yet is reported up to as_of). Error when the month has not begun by as_of. */
AvmaReport *avma_report_build(const AvmaReportData *d, int year, int month, gint64 as_of,
                              GError **error);
void avma_report_free(AvmaReport *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaReport, avma_report_free)

/* [start, end) of a "YYYY-MM" month in UTC. */
gboolean avma_report_parse_month(const char *s, int *year, int *month, GError **error);
gint64 avma_report_month_start(int year, int month);

char *avma_report_to_text(const AvmaReport *r);
char *avma_report_to_csv(const AvmaReport *r);
char *avma_report_to_json(const AvmaReport *r);
/* By name: "text" (also NULL), "csv" or "json"; NULL for any other name. Caller frees. */
gboolean avma_report_format_known(const char *format);
char *avma_report_render(const AvmaReport *r, const char *format);
/* "12.34": VM-days as every format prints them. Caller frees. */
char *avma_report_days(gint64 seconds);
