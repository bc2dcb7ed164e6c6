/* verify: what the avma-verify subcommands share: the verdict lines and exit codes, and the
 * choice of trusted host key. Each subcommand lives in its own verify-*.c file and is listed in
 * verify.c's table. avma-verify needs no daemon, libvirt, SQLite or state directory. */
#pragma once
#include <glib.h>

#include "keycert.h"
#include "sign.h"

/* Exit codes: intact, verification failed, usage or input error. */
enum { AVMA_VERIFY_OK = 0, AVMA_VERIFY_FAILED = 1, AVMA_VERIFY_USAGE = 2 };

/* "OK: ..." on standard output; returns AVMA_VERIFY_OK. */
int avma_verify_ok(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* "FAILED: ..." on standard output; returns AVMA_VERIFY_FAILED. */
int avma_verify_failed(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* "avma-verify: ..." on standard error; returns AVMA_VERIFY_USAGE. */
int avma_verify_usage(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* Parse a subcommand's options (argv[0] is the subcommand). */
gboolean avma_verify_parse(const char *cmd, const char *params, GOptionEntry *entries, int *argc,
                           char ***argv, GError **error);

/* --key HOST.pub, or --root ROOT.pub with --cert CERT: the options every subcommand that checks
 * a host's signature takes. AVMA_VERIFY_KEY_OPTIONS(&opts) goes into its GOptionEntry list. */
typedef struct {
  char *key, *root, *cert;
} AvmaVerifyKeyOpts;
#define AVMA_VERIFY_KEY_OPTIONS(o)                                                                 \
  {"key", 0, 0, G_OPTION_ARG_FILENAME, &(o)->key, "The host's public key", "HOST.pub"},            \
      {"root", 0, 0, G_OPTION_ARG_FILENAME, &(o)->root, "A provider root public key", "ROOT.pub"}, \
  {                                                                                                \
    "cert", 0, 0, G_OPTION_ARG_FILENAME, &(o)->cert, "The host's certificate by that root", "CERT" \
  }
void avma_verify_key_opts_clear(AvmaVerifyKeyOpts *o);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(AvmaVerifyKeyOpts, avma_verify_key_opts_clear)
/* The host key to trust. Returns AVMA_VERIFY_OK, AVMA_VERIFY_USAGE (options or unreadable key
 * files, message printed) or AVMA_VERIFY_FAILED (a certificate that does not verify, verdict
 * printed). *cert (if not NULL) is filled when a certificate was used (else zeroed). */
int avma_verify_trusted_key(const AvmaVerifyKeyOpts *o, AvmaPublicKey *out, char **how,
                            AvmaHostCert *cert);

/* The subcommands. argv[0] is the subcommand's name. */
int avma_verify_report(int argc, char **argv);
int avma_verify_checkpoint(int argc, char **argv);
int avma_verify_cert(int argc, char **argv);
int avma_verify_rotation(int argc, char **argv);
int avma_verify_receipt(int argc, char **argv);
int avma_verify_bundle(int argc, char **argv);
