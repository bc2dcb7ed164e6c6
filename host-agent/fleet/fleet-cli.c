/* avma-fleet: the fleet collector. Global options, then a verb from the table; each verb's
 * handler lives with the job it does (fleet-cli-*.c). */
#include "fleet-cli.h"

#include <locale.h>

static const AvmaCliVerb verbs[] = {
    {"db init", "", "Create the fleet schema in an empty database",
     "Idempotent on a database already at this version. Exit status 0, 1 on a database error.",
     avma_fleet_cli_db_init},
    {"db migrate", "", "Bring the fleet schema up to this version",
     "Each migration runs in its own transaction; concurrent runs wait for each other.",
     avma_fleet_cli_db_migrate},
    {"ingest", "FILE... | -", "Verify export bundles and store their new records",
     "Each bundle (avma-host export's output; - reads standard input) is checked: its chain, its\n"
     "checkpoint's signature, the host's key, and that it continues the records held for that\n"
     "host. Its new records are stored in one transaction with the host's cursor; what is held\n"
     "already is skipped. A refused bundle is named with the reason and kept as a data-quality\n"
     "finding; the other bundles go on. Exit status 0 all stored, 1 some refused or the database\n"
     "failed (a database failure stops the run: ingest the same files again afterwards).",
     avma_fleet_cli_ingest},
    {"pull", "[HOST...]", "Fetch and ingest every configured host's new records",
     "Runs [pull] command (or the host's own command) for each [host NAME] of fleet.conf, or the\n"
     "ones named, with {since} the host's cursor, and ingests its output. A host that fails does\n"
     "not stop the others. Exit status 0 all pulled, 1 some failed.",
     avma_fleet_cli_pull},
    {"hosts", "[--json]", "List every known host: cursor, last record, licence, state", NULL,
     avma_fleet_cli_hosts},
    {"report",
     "--month YYYY-MM [--format {text|csv|json}] [--as-of T] [--output FILE [--sign]] "
     "[--from-records]",
     "The fleet's monthly licence report",
     "Per host: sockets, cores, licensable cores, licence and whether it was activated all month.\n"
     "Per guest product: distinct VMs (each counted once across hosts), peak concurrent, running\n"
     "at the month's end, VM-days, attempts. Per VM: every host it ran on with its intervals.\n"
     "Then the data-quality findings. T (default now) bounds a month not over yet and decides\n"
     "which hosts are silent. --sign writes FILE.minisig by [report] signing_key (minisign -V\n"
     "verifies it). --from-records computes from the typed records instead of the summary\n"
     "tables (the same figures, slower). docs/fleet.md defines every figure.",
     avma_fleet_cli_report},
    {"key create", "", "Create the key that signs reports ([report] signing_key)",
     "Writes the secret key (mode 0600) and its public key beside it (.pub, minisign's form).\n"
     "Refuses when the secret key exists.",
     avma_fleet_cli_key_create},
};

int main(int argc, char **argv) {
  setlocale(LC_ALL, "");
  g_autofree char *config_path = NULL, *conninfo = NULL;
  const GOptionEntry options[] = {{"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
                                   "Configuration file (default " AVMA_FLEET_DEFAULT_CONFIG ")",
                                   "FILE"},
                                  {"db", 'd', 0, G_OPTION_ARG_STRING, &conninfo,
                                   "Database conninfo, over [database] conninfo", "CONNINFO"},
                                  {NULL}};
  const AvmaCliProgram prog = {"avma-fleet",
                               "Collect the hosts' signed AVMA histories and report on the fleet.",
                               options,
                               verbs,
                               G_N_ELEMENTS(verbs),
                               NULL,
                               AVMA_VERSION};
  int rc = avma_cli_start(&prog, TRUE, &argc, &argv);
  if (rc >= 0)
    return rc;
  /* Completion and help need no configuration. */
  g_autoptr(GError) err = NULL;
  g_autoptr(AvmaFleetConfig) cfg = avma_fleet_config_load(
      config_path ? config_path : AVMA_FLEET_DEFAULT_CONFIG, config_path != NULL, &err);
  if (!cfg)
    return avma_cli_fail("%s", err->message), 2;
  avma_settings_override(&cfg->conninfo, conninfo);
  AvmaCliCtx ctx = {cfg};
  return avma_cli_run(&prog, &ctx, argc, argv);
}
