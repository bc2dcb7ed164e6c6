/* cli-report: `avma-host report`, the monthly compliance report from the history store. */
#include "cli.h"
#include "fsutil.h"
#include "history.h"
#include "hostkey.h"
#include "licence.h"
#include "report.h"
#include "state-files.h"
#include "timeutil.h"

#include <string.h>

/* The store, or, when the daemon has not created one yet, a scratch store in memory filled from
 * the event logs (events.jsonl holds the VM run intervals the daemon recorded too). */
static AvmaHistory *open_history(const AvmaHostConfig *c, const char *events_log,
                                 const char *licence_log, gboolean *scratch, GError **error) {
  g_autofree char *db = avma_host_state_path(c, AVMA_HISTORY_FILE);
  g_autoptr(GError) local = NULL;
  AvmaHistory *h = avma_history_open_read(db, &local);
  *scratch = FALSE;
  if (h || !g_error_matches(local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)) {
    if (!h)
      g_propagate_error(error, g_steal_pointer(&local));
    return h;
  }
  fprintf(stderr,
          "avma-host: warning: no history store yet (avma-hostd creates %s): reporting from the "
          "event logs\n",
          db);
  *scratch = TRUE;
  g_autoptr(AvmaHistory) mem = avma_history_open_memory(error);
  if (!mem || !avma_history_sync_log(mem, AVMA_HISTORY_LOG_EVENTS, events_log, NULL, error) ||
      !avma_history_sync_log(mem, AVMA_HISTORY_LOG_LICENCE, licence_log, NULL, error))
    return NULL;
  return g_steal_pointer(&mem);
}

/* Write the report to path and, with sign, path.minisig by the host key. The trusted comment
 * (signed too) says what the file is, so a signature cannot be passed off for another month. */
static int write_report(const AvmaHostConfig *c, const char *path, const char *text, gboolean sign,
                        const char *month, const char *format) {
  g_autoptr(GError) err = NULL;
  g_autoptr(AvmaKeyPair) kp = sign ? avma_hostkey_load(c->state_dir, &err) : NULL;
  if (sign && !kp)
    return avma_cli_fail("report: cannot sign: %s", err->message);
  if (!avma_write_atomic(path, text, -1, 0644, &err))
    return avma_cli_fail("report: %s", err->message);
  if (!sign)
    return 0;
  g_autofree char *id = avma_hostkey_id(&kp->pub);
  g_autofree char *now = avma_time_format(avma_now());
  g_autofree char *base = g_path_get_basename(path);
  g_autofree char *tc =
      g_strdup_printf("avma-host report month:%s format:%s host-key:%s signed:%s file:%s", month,
                      format ? format : "text", id, now, base);
  g_autofree char *sig_path = g_strconcat(path, ".minisig", NULL);
  g_autofree char *sig = avma_minisig_sign(kp, text, strlen(text), tc, NULL, &err);
  if (!sig || !avma_write_atomic(sig_path, sig, -1, 0644, &err))
    return avma_cli_fail("report: %s", err->message);
  fprintf(stderr, "avma-host: report %s signed by host key %s: %s\n", path, id, sig_path);
  return 0;
}

int avma_cli_report(const AvmaCliGlobals *g, int argc, char **argv) {
  g_autofree char *month_s = NULL, *format = NULL, *as_of_s = NULL, *output = NULL;
  gboolean sign = FALSE;
  GOptionEntry e[] = {
      {"month", 0, 0, G_OPTION_ARG_STRING, &month_s, "Calendar month, UTC (required)", "YYYY-MM"},
      {"format", 0, 0, G_OPTION_ARG_STRING, &format, "text (default), csv or json", "F"},
      {"as-of", 0, 0, G_OPTION_ARG_STRING, &as_of_s,
       "Consider history up to this time (default: now; matters for the current month)", "T"},
      {"output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
       "Write the report to FILE (atomically) instead of standard output", "FILE"},
      {"sign", 0, 0, G_OPTION_ARG_NONE, &sign,
       "Also write FILE.minisig, signed by the host key (needs --output)", NULL},
      {NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_cli_parse(e, &argc, &argv, &err))
    return avma_cli_fail("report: %s", err->message), 2;
  if (argc > 1)
    return avma_cli_fail("report: unexpected argument '%s'", argv[1]), 2;
  /* A detached signature covers a file's bytes; standard output may be re-encoded on its way. */
  if (sign && !output)
    return avma_cli_fail("report: --sign needs --output FILE (the signature goes to "
                         "FILE.minisig)"),
           2;
  int year, month;
  if (!month_s)
    return avma_cli_fail("report: --month YYYY-MM is required"), 2;
  if (!avma_report_parse_month(month_s, &year, &month, &err))
    return avma_cli_fail("report: %s", err->message), 2;
  if (!avma_report_format_known(format))
    return avma_cli_fail("report: --format must be text, csv or json, not '%s'", format), 2;
  /* History up to the end of the current second: a record made this second counts. */
  gint64 as_of = avma_now() + 1;
  if (as_of_s && !avma_time_parse_loose(as_of_s, &as_of))
    return avma_cli_fail("report: --as-of '%s' is not a time", as_of_s), 2;

  g_autoptr(AvmaHostConfig) c = avma_cli_config(g, &err);
  if (!c)
    return avma_cli_fail("%s", err->message);
  g_autofree char *events_log = avma_host_state_path(c, AVMA_HOST_EVENTS_FILE);
  g_autofree char *licence_log = avma_host_state_path(c, AVMA_LICENCE_HISTORY_FILE);
  gboolean scratch;
  g_autoptr(AvmaHistory) h = open_history(c, events_log, licence_log, &scratch, &err);
  if (!h)
    return avma_cli_fail("report: %s", err->message);
  gint64 start = avma_report_month_start(year, month);
  gint64 end = avma_report_month_start(year, month + 1);
  g_autoptr(AvmaReportData) d = avma_report_data_new();
  if (!avma_report_load(h, scratch ? NULL : events_log, scratch ? NULL : licence_log, start, end, d,
                        &err))
    return avma_cli_fail("report: %s", err->message);
  /* Shown only when the store has no host facts (the daemon records them at start). */
  g_autofree char *host_id_path = avma_host_state_path(c, AVMA_HOST_ID_FILE);
  g_autofree char *host_id = NULL;
  if (g_file_get_contents(host_id_path, &host_id, NULL, NULL))
    g_strstrip(host_id);
  avma_report_data_set_identity(d, g_get_host_name(), host_id ? host_id : "");
  g_autoptr(AvmaReport) r = avma_report_build(d, year, month, as_of, &err);
  if (!r)
    return avma_cli_fail("report: %s", err->message);
  g_autofree char *out = avma_report_render(r, format);
  if (output)
    return write_report(c, output, out, sign, month_s, format);
  fputs(out, stdout);
  return 0;
}
