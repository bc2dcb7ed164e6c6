/* report-load: fills the report's data set from the history store's typed rows and from the
 * records of its logs the store does not hold yet. No SQL and no JSON here: history owns both. */
#include "report.h"

/* Each reads every row of one iterator into d (NULL: its query failed, error set). Rows from the
 * logs are not filtered by the store, so the period's bounds are applied here too: 12310 rows
 * before the period count only for a grant still valid at its start. */
static gboolean load_events(AvmaHistoryRows *rows, gint64 start, gint64 end, AvmaReportData *d,
                            GError **error) {
  AvmaHistoryEventRow e;
  while (avma_history_next_event(rows, &e))
    if (e.time < end && (e.time >= start || e.granted_until > start))
      avma_report_data_add_event(d, &e);
  return avma_history_rows_finish(rows, error);
}

static gboolean load_licences(AvmaHistoryRows *rows, gint64 end, AvmaReportData *d,
                              GError **error) {
  AvmaHistoryLicenceRow l;
  while (avma_history_next_licence(rows, &l))
    if (l.time < end)
      avma_report_data_add_licence(d, &l);
  return avma_history_rows_finish(rows, error);
}

/* States before `end` (the store's query applies it; rows from the log are filtered here). */
static gboolean load_states(AvmaHistoryRows *rows, gint64 end, AvmaReportData *d, GError **error) {
  AvmaHistoryStateRow s;
  while (avma_history_next_state(rows, &s))
    if (s.time < end)
      avma_report_data_add_state(d, &s);
  return avma_history_rows_finish(rows, error);
}

static gboolean load_facts(AvmaHistoryRows *rows, AvmaReportData *d, GError **error) {
  AvmaHistoryFactsRow f;
  while (avma_history_next_facts(rows, &f))
    avma_report_data_add_host_facts(d, &f);
  return avma_history_rows_finish(rows, error);
}

static gboolean load_vcpus(AvmaHistoryRows *rows, AvmaReportData *d, GError **error) {
  AvmaHistoryVcpusRow v;
  while (avma_history_next_vcpus(rows, &v))
    avma_report_data_add_vcpus(d, &v);
  return avma_history_rows_finish(rows, error);
}

gboolean avma_report_load(AvmaHistory *h, const char *events_log, const char *licence_log,
                          gint64 start, gint64 end, AvmaReportData *d, GError **error) {
  /* Rows are added in the order ties are broken in: the store's grants from before the period,
   * its events of the period, then what the logs hold beyond the store (the daemon is stopped,
   * or was never started on this store: the logs are complete even when the store lags). */
  return load_events(avma_history_grants_in_force(h, start, error), start, end, d, error) &&
         load_events(avma_history_events_between(h, start, end, error), start, end, d, error) &&
         load_states(avma_history_states_before(h, end, error), end, d, error) &&
         load_licences(avma_history_licences_before(h, end, error), end, d, error) &&
         load_facts(avma_history_host_facts_all(h, error), d, error) &&
         load_vcpus(avma_history_vcpus_all(h, error), d, error) &&
         (!events_log ||
          (load_events(avma_history_pending_rows(h, AVMA_HISTORY_LOG_EVENTS, events_log, error),
                       start, end, d, error) &&
           load_states(avma_history_pending_states(h, events_log, error), end, d, error) &&
           load_facts(avma_history_pending_facts(h, events_log, error), d, error))) &&
         (!licence_log ||
          load_licences(avma_history_pending_rows(h, AVMA_HISTORY_LOG_LICENCE, licence_log, error),
                        end, d, error));
}
