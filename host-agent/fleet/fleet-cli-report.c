/* fleet-cli-report: `avma-fleet report` (options, the report built, printed or written and
 * signed) and `avma-fleet key create`, the key that signs reports. */
#include "fleet-cli.h"
#include "fleet-report.h"

#include "fsutil.h"
#include "sign.h"
#include "timeutil.h"

#include <stdio.h>
#include <string.h>

/* The public key beside the secret one: fleet-report.key -> fleet-report.pub. */
static char *public_path(const char *secret) {
  if (g_str_has_suffix(secret, ".key"))
    return g_strdup_printf("%.*s.pub", (int)(strlen(secret) - 4), secret);
  return g_strconcat(secret, ".pub", NULL);
}

int avma_fleet_cli_key_create(const AvmaCliCtx *ctx, int argc, char **argv) {
  GOptionEntry e[] = {{NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_cli_parse(e, &argc, &argv, &err))
    return avma_cli_fail("%s", err->message), 2;
  if (argc != 1)
    return avma_cli_fail("key create: unexpected argument '%s'", argv[1]), 2;
  const char *path = ctx->config->signing_key;
  g_autofree char *pub_path = public_path(path);
  /* Never replaced: reports signed earlier are checked against the public key handed out. */
  if (g_file_test(path, G_FILE_TEST_EXISTS))
    return avma_cli_fail("key create: %s exists; remove it first to make a new key (reports "
                         "signed by it then no longer verify with %s)",
                         path, pub_path);
  g_autoptr(AvmaKeyPair) kp = avma_key_pair_generate();
  g_autofree char *pub = avma_public_key_minisign_file(&kp->pub);
  if (!avma_key_pair_save(kp, path, &err) || !avma_write_atomic(pub_path, pub, -1, 0644, &err))
    return avma_cli_fail("key create: %s", err->message);
  g_autofree char *id = avma_key_id_hex(kp->pub.id);
  printf("report signing key %s: secret %s, public %s (minisign -V -p %s -m REPORT)\n", id, path,
         pub_path, pub_path);
  return 0;
}

/* FILE and FILE.minisig; the trusted comment (signed too) says what the file is, so a signature
 * cannot be passed off for another month or format. */
static int write_signed(const AvmaCliCtx *ctx, const char *path, const char *text, gboolean sign,
                        const char *month, const char *format, gint64 as_of) {
  g_autoptr(GError) err = NULL;
  g_autoptr(AvmaKeyPair) kp = sign ? avma_key_pair_load(ctx->config->signing_key, &err) : NULL;
  if (sign && !kp)
    return avma_cli_fail("report: cannot sign: %s (avma-fleet key create makes one)", err->message);
  if (!avma_write_atomic(path, text, -1, 0644, &err))
    return avma_cli_fail("report: %s", err->message);
  if (!sign)
    return 0;
  g_autofree char *id = avma_key_id_hex(kp->pub.id);
  g_autofree char *now = avma_time_format(avma_now()), *asof = avma_time_format(as_of);
  g_autofree char *base = g_path_get_basename(path);
  g_autofree char *tc =
      g_strdup_printf("avma-fleet report month:%s format:%s as-of:%s key:%s signed:%s file:%s",
                      month, format ? format : "text", asof, id, now, base);
  g_autofree char *sig_path = g_strconcat(path, ".minisig", NULL);
  g_autofree char *sig = avma_minisig_sign(kp, text, strlen(text), tc, NULL, &err);
  if (!sig || !avma_write_atomic(sig_path, sig, -1, 0644, &err))
    return avma_cli_fail("report: %s", err->message);
  fprintf(stderr, "avma-fleet: report %s signed by key %s: %s\n", path, id, sig_path);
  return 0;
}

int avma_fleet_cli_report(const AvmaCliCtx *ctx, int argc, char **argv) {
  g_autofree char *month = NULL, *format = NULL, *as_of = NULL, *output = NULL;
  gboolean sign = FALSE, from_records = FALSE;
  GOptionEntry e[] = {
      {"month", 0, 0, G_OPTION_ARG_STRING, &month, "Calendar month (UTC)", "YYYY-MM"},
      {"format", 0, 0, G_OPTION_ARG_STRING, &format, "text, csv or json", "FORMAT"},
      {"as-of", 0, 0, G_OPTION_ARG_STRING, &as_of, "History up to T (default now)", "T"},
      {"output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
       "Write the report to FILE (atomically) instead of standard output", "FILE"},
      {"sign", 0, 0, G_OPTION_ARG_NONE, &sign,
       "Also write FILE.minisig, signed by [report] signing_key (needs --output)", NULL},
      {"from-records", 0, 0, G_OPTION_ARG_NONE, &from_records,
       "Compute from the typed records instead of the summary tables (slow; a check)", NULL},
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
  /* A detached signature covers a file's bytes; standard output may be re-encoded on its way. */
  if (sign && !output)
    return avma_cli_fail("report: --sign needs --output FILE (the signature goes to "
                         "FILE.minisig)"),
           2;
  gint64 t = avma_now();
  if (as_of && !avma_time_parse_loose(as_of, &t))
    return avma_cli_fail("report: --as-of: '%s' is not a date or RFC 3339 time", as_of), 2;
  g_autoptr(PGconn) c = avma_fleet_cli_connect(ctx, TRUE);
  if (!c)
    return 1;
  g_autoptr(AvmaFleetReport) r =
      avma_fleet_report_build(c, ctx->config, y, m, t, from_records, &err);
  if (!r)
    return avma_cli_fail("report: %s", err->message);
  g_autofree char *out = avma_fleet_report_render(r, format);
  if (output)
    return write_signed(ctx, output, out, sign, month, format, t);
  fputs(out, stdout);
  return 0;
}
