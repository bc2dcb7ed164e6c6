/* cli: what the avma-host verbs share: global options, config loading, option parsing, errors.
 * Each verb lives in its own cli-*.c file and is listed in host-cli.c's table. */
#pragma once
#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdio.h>

#include "cli-verbs.h"
#include "host-config.h"

/* The global options: avma-host's AvmaCliCtx, what every handler receives. */
struct AvmaCliCtx {
  const char *config_path;
  const char *state_dir;
  const char *connect_uri;
};
typedef struct AvmaCliCtx AvmaCliGlobals;

/* avma_cli_fail ("avma-host: ...", returns 1) and avma_cli_parse (the verb's own options, its
 * usage line from the table) come from cli-verbs.h. */
AvmaHostConfig *avma_cli_config(const AvmaCliGlobals *g, GError **error);
void avma_cli_print_json(JsonNode *node);
void avma_cli_print_object(JsonObject *o);
/* A copy of s fit for the operator's terminal (NULL reads as ""): invalid UTF-8, controls and
 * bidi overrides become '?'. Guest-derived text is made safe where it is stored, and again here,
 * for records written before that or files edited by hand. Caller frees. */
char *avma_cli_safe(const char *s);

/* The verbs (AvmaCliHandler): argv[0] is the last word; returns the exit status (2: usage). */

int avma_cli_license_set(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_license_show(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_events(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_report(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_vms(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_doctor(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_cluster_check(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_kvp(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_channel_add(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_history_verify(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_channel_remove(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_key_show(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_key_create(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_key_rotate(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_key_install_cert(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_key_root_new(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_key_certify(const AvmaCliGlobals *g, int argc, char **argv);
