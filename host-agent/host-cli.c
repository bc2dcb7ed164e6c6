/* avma-host: the host administrator's tool. Global options, then a verb from the table: adding a
 * verb is one row here plus its handler in a cli-*.c file (declared in cli.h). */
#include "cli.h"

#include <locale.h>
#include <stdlib.h>
#include <string.h>

static const AvmaCliVerb verbs[] = {
    {"license set",
     "--version {2012R2|2016|2019|2022|2025} --edition {Datacenter|Standard} --activated {yes|no} "
     "[--key KEY]",
     "Record the host's licensed version, edition and activation",
     "Only an activated Datacenter host activates guests, and only guest versions up to its own.\n"
     "Of KEY only the last five characters are kept. Every change is logged (event 12311).",
     avma_cli_license_set},
    {"license show", "[--json]", "Print the host's licensed state", NULL, avma_cli_license_show},
    {"events", "[--since T] [--until T] [--vm NAME|UUID] [--notification N] [--follow] [--json]",
     "Print the 12310 event history, oldest first",
     "T is a date (2026-03-01) or an RFC 3339 time (2026-03-01T00:00:00Z). N is one of\n"
     "'AVMA Success', 'Invalid Host', 'Invalid Data', 'Activation Denied'. --json prints one JSON\n"
     "array. --follow keeps printing events as avma-hostd appends them (with --json one object a\n"
     "line) until interrupted or standard output closes.",
     avma_cli_events},
    {"report", "--month YYYY-MM [--format {text|csv|json}] [--as-of T]",
     "Build the monthly compliance report",
     "Months are calendar months in UTC; a month not over yet is reported up to now, or up to T.",
     avma_cli_report},
    {"vms", "[--json]", "List the VMs with their channel and last decision",
     "Every domain libvirt knows merged with avma-hostd's view of it (STATE/vms.json).",
     avma_cli_vms},
    {"kvp", "VM [--pool {external|guest|auto|auto-external|auto-internal}] [--json]",
     "Print a VM's KVP data exchange items, every pool",
     "VM is a name or UUID from avma-hostd's view. --json prints an array of {Name, Data, Source}\n"
     "as Hyper-V's Msvm_KvpExchangeDataItem (Source 0 host, 1 guest, 2 intrinsic, 4 host-only).\n"
     "Values may be up to 2048 bytes; tools written for Hyper-V expect at most 1024.\n"
     "Exit status: 0, 1 when the view cannot be read, 3 when no VM matches.",
     avma_cli_kvp},
    {"doctor", "[VM...] [--json]", "Check what stands in the way of guest activation",
     "In order: host licence set, activated, Datacenter; avma-hostd running; libvirt reachable;\n"
     "then for each VM (all, or the ones named by name or UUID): the channel in the domain's\n"
     "definition and live XML, the socket connected, the guest agent heard from, the last\n"
     "decision and when renewal is due. Each finding is ok, warning or problem, with its fix.\n"
     "--json prints an array of {check, vm, status, finding, fix}. Exit status: 0 when nothing\n"
     "stands in the way of activation, 1 when a problem does, 2 for usage or an unknown VM.",
     avma_cli_doctor},
    {"cluster check", "[URI...] [--hosts FILE] [--licence-command COMMAND] [--json]",
     "Check that every host a VM can run on would activate it",
     "For each libvirt URI (and each line 'URI [COMMAND]' of FILE): the host's agent licence and\n"
     "its domains; then every VM's product (from its activation metadata) against every host's\n"
     "licence, by the same decision table avma-hostd uses. A local URI's licence is this host's;\n"
     "a remote one's is read by COMMAND ({host} and {uri} are replaced; default 'ssh -o\n"
     "BatchMode=yes -o ConnectTimeout=10 {host} avma-host license show --json'). A URI listed\n"
     "twice, or two URIs of one host (same host UUID), are checked once. --json prints\n"
     "{hosts, vms, problems}. Exit status: 0 when every VM activates on every host, 1 when a host\n"
     "is unreachable, its licence unknown or activating nothing, or a VM would lose activation\n"
     "on a host; 2 for usage.",
     avma_cli_cluster_check},
    {"history verify", "[--json]", "Check the record log's chain, checkpoints and the store",
     "Walks events.jsonl (every record's seq and the hash of the one before), checks each signed\n"
     "checkpoint in checkpoints.jsonl and compares history.db with the log; names the first bad\n"
     "record and what happened to it. Exit status 0 intact, 1 tampered, 2 cannot read.",
     avma_cli_history_verify},
    {"key show", "[--json]", "Print the host signing key: id, public key forms, certificate",
     "The key (STATE/host-key.sec, created by avma-hostd on its first start) signs reports and "
     "the\n"
     "record log's checkpoints. Rotations are listed, each checked against the retired key.",
     avma_cli_key_show},
    {"key create", "", "Create the host signing key when it is missing",
     "For a host whose history predates signing, or after a lost key (avma-hostd refuses to start\n"
     "without one once history exists).",
     avma_cli_key_create},
    {"key rotate", "", "Replace the host signing key; the old key signs the statement",
     "The retired key, its certificate and the rotation statement are kept in STATE/keys/. A\n"
     "running avma-hostd picks the new key up at once.",
     avma_cli_key_rotate},
    {"key install-cert", "CERT [--root ROOT.pub]", "Install the provider's certificate of this key",
     "CERT must name this host's key; with --root its signature is checked too.",
     avma_cli_key_install_cert},
    {"key root-new", "--out DIR", "Create a provider root key (on an admin machine)",
     "Writes DIR/root.sec and DIR/root.pub; never overwrites.", avma_cli_key_root_new},
    {"key certify", "--root ROOT.sec HOSTKEY.pub [--name HOST] [--out FILE] [--valid-from T]",
     "Certify a host key with the root key", NULL, avma_cli_key_certify},
    {"channel add", "DOMAIN... | --all", "Add the AVMA channel to libvirt domains",
     "Persistent definition, and hot-plugged into a running domain. Idempotent.",
     avma_cli_channel_add},
    {"channel remove", "DOMAIN... | --all", "Remove the AVMA channel from libvirt domains", NULL,
     avma_cli_channel_remove},
};

int main(int argc, char **argv) {
  setlocale(LC_ALL, "");
  g_autofree char *config_path = NULL, *state_dir = NULL, *connect_uri = NULL;
  const GOptionEntry options[] = {
      {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Configuration file", "FILE"},
      {"state-dir", 's', 0, G_OPTION_ARG_FILENAME, &state_dir, "State directory", "DIR"},
      {"connect", 0, 0, G_OPTION_ARG_STRING, &connect_uri, "libvirt URI", "URI"},
      {NULL}};
  const AvmaCliProgram prog = {"avma-host",
                               "Manage the AVMA host licence, channels and history.",
                               options,
                               verbs,
                               G_N_ELEMENTS(verbs),
                               NULL,
                               AVMA_VERSION};
  /* Strict POSIX: options after the verb are the verb's. */
  int rc = avma_cli_start(&prog, TRUE, &argc, &argv);
  if (rc >= 0)
    return rc;
  AvmaCliGlobals g = {config_path, state_dir, connect_uri};
  return avma_cli_run(&prog, &g, argc, argv);
}
