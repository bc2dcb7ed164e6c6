/* fleet-cli-report: `avma-fleet report`: options, then the report built and printed. */
#include "fleet-cli.h"
#include "fleet-report.h"

#include "timeutil.h"

#include <stdio.h>
#include <string.h>

int avma_fleet_cli_report(const AvmaCliCtx *ctx, int argc, char **argv) {
  g_autofree char *month = NULL, *format = NULL, *as_of = NULL;
  GOptionEntry e[] = {
      {"month", 0, 0, G_OPTION_ARG_STRING, &month, "Calendar month (UTC)", "YYYY-MM"},
      {"format", 0, 0, G_OPTION_ARG_STRING, &format, "text, csv or json", "FORMAT"},
      {"as-of", 0, 0, G_OPTION_ARG_STRING, &as_of, "History up to T (default now)", "T"},
      {NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_cli_parse(e, &argc, &argv, &err))
    return avma_cli_fail("%s", err->message), 2;
  if (argc != 1)
    return avma_cli_fail("report: unexpected argument '%s'", argv[1]), 2;
  int y = 0, m = 0;
  char tail = 0;
  if (!month || sscanf(month, "%4d-%2d%c", &y, &m, &tail) != 2 || y < 1970 || y > 9999 || m < 1 ||
      m > 12 || strlen(month) != 7)
    return avma_cli_fail("report: --month YYYY-MM expected (e.g. 2026-11)"), 2;
  if (format && strcmp(format, "text") && strcmp(format, "csv") && strcmp(format, "json"))
    return avma_cli_fail("report: --format must be text, csv or json, not '%s'", format), 2;
  gint64 t = avma_now();
  if (as_of && !avma_time_parse_loose(as_of, &t))
    return avma_cli_fail("report: --as-of: '%s' is not a date or RFC 3339 time", as_of), 2;
  g_autoptr(PGconn) c = avma_fleet_cli_connect(ctx, TRUE);
  if (!c)
    return 1;
  g_autoptr(AvmaFleetReport) r = avma_fleet_report_build(c, ctx->config, y, m, t, &err);
  if (!r)
    return avma_cli_fail("report: %s", err->message);
  g_autofree char *out = avma_fleet_report_render(r, format);
  fputs(out, stdout);
  return 0;
}
