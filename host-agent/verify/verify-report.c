/* verify-report: `avma-verify report`: a report file and its detached minisign signature. */
#include "verify.h"

#include "timeutil.h"

#include <string.h>

/* The "signed:" time of avma-host's trusted comment; FALSE when it has none. */
static gboolean signed_time(const char *tc, gint64 *out) {
  const char *at = strstr(tc, " signed:");
  if (!at)
    return FALSE;
  g_autofree char *t = g_strndup(at + 8, strcspn(at + 8, " "));
  return avma_time_parse(t, out);
}

int avma_verify_report(int argc, char **argv) {
  g_autofree char *sig = NULL;
  AvmaVerifyKeyOpts ko = {0};
  GOptionEntry e[] = {{"sig", 0, 0, G_OPTION_ARG_FILENAME, &sig,
                       "The signature (default: FILE.minisig)", "FILE.minisig"},
                      AVMA_VERIFY_KEY_OPTIONS(&ko),
                      {NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_verify_parse("report",
                         "FILE [--sig FILE.minisig] (--key HOST.pub | --root ROOT.pub --cert CERT)",
                         e, &argc, &argv, &err))
    return avma_verify_key_opts_clear(&ko), avma_verify_usage("report: %s", err->message);
  if (argc != 2)
    return avma_verify_key_opts_clear(&ko), avma_verify_usage("report: one report FILE expected");
  const char *file = argv[1];
  if (!sig)
    sig = g_strconcat(file, ".minisig", NULL);
  AvmaPublicKey pub;
  g_autofree char *how = NULL;
  AvmaHostCert cert = {0};
  int rc = avma_verify_trusted_key(&ko, &pub, &how, &cert);
  avma_verify_key_opts_clear(&ko);
  if (rc != AVMA_VERIFY_OK)
    return rc;
  g_autofree char *data = NULL, *sigtext = NULL;
  gsize len = 0;
  if (!g_file_get_contents(file, &data, &len, &err) ||
      !g_file_get_contents(sig, &sigtext, NULL, &err)) {
    avma_host_cert_clear(&cert);
    return avma_verify_usage("report: %s", err->message);
  }
  g_autofree char *tc = NULL;
  if (!avma_minisig_verify(&pub, data, len, sigtext, &tc, &err)) {
    avma_host_cert_clear(&cert);
    return avma_verify_failed("%s: %s", file, err->message);
  }
  /* A certificate vouches for the key from valid-from on: a report signed before is not its. */
  gint64 t;
  if (cert.host && signed_time(tc, &t) && t < cert.valid_from) {
    g_autofree char *from = avma_time_format(cert.valid_from);
    avma_host_cert_clear(&cert);
    return avma_verify_failed("%s: signed before the certificate's validity (%s)", file, from);
  }
  avma_host_cert_clear(&cert);
  return avma_verify_ok("%s signed by %s; trusted comment: %s", file, how, tc);
}
