/* avma-host: the host administrator's tool. Global options, then a verb from the table. */
#include "cli.h"

#include <locale.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *words; /* "license set" */
  AvmaCliVerb fn;
  const char *usage;
} VerbEntry;

static const VerbEntry verbs[] = {
    {"license set", avma_cli_license_set,
     "license set --version {2012R2|2016|2019|2022|2025} --edition {Datacenter|Standard}\n"
     "              --activated {yes|no} [--key KEY]"},
    {"license show", avma_cli_license_show, "license show [--json]"},
    {"events", avma_cli_events,
     "events [--since T] [--until T] [--vm NAME|UUID] [--notification N] [--json]"},
    {"report", avma_cli_report,
     "report --month YYYY-MM [--format text|csv|json] [--as-of T] [--output FILE [--sign]]"},
    {"vms", avma_cli_vms, "vms [--json]"},
    {"history verify", avma_cli_history_verify, "history verify [--json]"},
    {"channel add", avma_cli_channel_add, "channel add DOMAIN... | --all"},
    {"channel remove", avma_cli_channel_remove, "channel remove DOMAIN... | --all"},
    {"key show", avma_cli_key_show, "key show [--json]"},
    {"key create", avma_cli_key_create, "key create"},
    {"key rotate", avma_cli_key_rotate, "key rotate"},
    {"key install-cert", avma_cli_key_install_cert, "key install-cert CERT [--root ROOT.pub]"},
    {"key root-new", avma_cli_key_root_new, "key root-new --out DIR"},
    {"key certify", avma_cli_key_certify,
     "key certify --root ROOT.sec HOSTKEY.pub [--name HOST] [--out FILE] [--valid-from T]"},
};

static void usage(FILE *f) {
  fprintf(f,
          "Usage: avma-host [--config FILE] [--state-dir DIR] [--connect URI] VERB ...\nVerbs:\n");
  for (size_t i = 0; i < G_N_ELEMENTS(verbs); i++)
    fprintf(f, "  %s\n", verbs[i].usage);
}

int main(int argc, char **argv) {
  setlocale(LC_ALL, "");
  g_autofree char *config_path = NULL, *state_dir = NULL, *connect_uri = NULL;
  gboolean version = FALSE;
  GOptionEntry entries[] = {
      {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Configuration file", "FILE"},
      {"state-dir", 's', 0, G_OPTION_ARG_FILENAME, &state_dir, "State directory", "DIR"},
      {"connect", 0, 0, G_OPTION_ARG_STRING, &connect_uri, "libvirt URI", "URI"},
      {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL},
      {NULL}};
  g_autoptr(GOptionContext) ctx = g_option_context_new("VERB ...");
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_option_context_set_strict_posix(ctx, TRUE); /* options after the verb are the verb's */
  g_autoptr(GError) err = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
    fprintf(stderr, "avma-host: %s\n", err->message);
    usage(stderr);
    return 2;
  }
  if (version) {
    printf("avma-host %s\n", AVMA_VERSION);
    return 0;
  }
  AvmaCliGlobals g = {config_path, state_dir, connect_uri};
  if (argc < 2 || !strcmp(argv[1], "help")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  /* Longest match on one or two words: "license set", then "events". */
  for (size_t i = 0; i < G_N_ELEMENTS(verbs); i++) {
    g_auto(GStrv) w = g_strsplit(verbs[i].words, " ", 2);
    if (strcmp(w[0], argv[1]))
      continue;
    if (!w[1])
      return verbs[i].fn(&g, argc - 1, argv + 1);
    if (argc >= 3 && !strcmp(w[1], argv[2]))
      return verbs[i].fn(&g, argc - 2, argv + 2);
  }
  fprintf(stderr, "avma-host: unknown verb '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
