/* avma-verify: an auditor's offline verifier of what an AVMA host signed. A subcommand from the
 * table, then its own options; verdicts are "OK: ..." or "FAILED: reason". */
#include "verify.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *usage;
} Command;

static const Command commands[] = {
    {"report", avma_verify_report,
     "report FILE [--sig FILE.minisig] (--key HOST.pub | --root ROOT.pub --cert CERT)"},
    {"checkpoint", avma_verify_checkpoint,
     "checkpoint FILE... (--key HOST.pub | --root ROOT.pub --cert CERT)"},
    {"receipt", avma_verify_receipt,
     "receipt FILE (--key HOST.pub | --root ROOT.pub --cert CERT) [--history EVENTS.jsonl]"},
    {"bundle", avma_verify_bundle, "bundle FILE (--key HOST.pub | --root ROOT.pub [--cert CERT])"},
    {"cert", avma_verify_cert, "cert CERT --root ROOT.pub"},
    {"rotation", avma_verify_rotation, "rotation STATEMENT --key OLD.pub"},
};

static void usage(FILE *f) {
  fprintf(f, "Usage: avma-verify COMMAND ...\nCommands:\n");
  for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
    fprintf(f, "  %s\n", commands[i].usage);
  fprintf(f, "Exit status: 0 intact, 1 verification failed, 2 usage or input error.\n");
}

int main(int argc, char **argv) {
  setlocale(LC_ALL, "");
  if (argc < 2) {
    usage(stderr);
    return AVMA_VERIFY_USAGE;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return AVMA_VERIFY_OK;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("avma-verify %s\n", AVMA_VERSION);
    return AVMA_VERIFY_OK;
  }
  for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
    if (!strcmp(commands[i].name, argv[1]))
      return commands[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "avma-verify: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return AVMA_VERIFY_USAGE;
}
