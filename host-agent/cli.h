/* cli: what the avma-host verbs share: global options, config loading, option parsing, errors.
 * Each verb lives in its own cli-*.c file and is listed in host-cli.c's table. */
#pragma once
#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdio.h>

#include "host-config.h"

typedef struct {
  const char *config_path;
  const char *state_dir;
  const char *connect_uri;
} AvmaCliGlobals;

/* Print "avma-host: ..." to stderr; returns 1. */
int avma_cli_fail(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
AvmaHostConfig *avma_cli_config(const AvmaCliGlobals *g, GError **error);
/* Parse a verb's own options; argv[0] is the verb. */
gboolean avma_cli_parse(const char *verb, const char *params, GOptionEntry *entries, int *argc,
                        char ***argv, GError **error);
void avma_cli_print_json(JsonNode *node);
void avma_cli_print_object(JsonObject *o);

/* A verb: argv[0] is its last word. Returns the exit code (2 for usage errors). */
typedef int (*AvmaCliVerb)(const AvmaCliGlobals *g, int argc, char **argv);

int avma_cli_license_set(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_license_show(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_events(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_report(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_vms(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_channel_add(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_history_verify(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_channel_remove(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_key_show(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_key_create(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_key_rotate(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_key_install_cert(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_key_root_new(const AvmaCliGlobals *g, int argc, char **argv);
int avma_cli_key_certify(const AvmaCliGlobals *g, int argc, char **argv);
