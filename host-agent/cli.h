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

/* The verbs (AvmaCliHandler): argv[0] is the last word; returns the exit status (2: usage). */

int avma_cli_license_set(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_license_show(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_events(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_report(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_vms(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_kvp(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_channel_add(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_channel_remove(const AvmaCliGlobals *g, int argc, char **argv);
