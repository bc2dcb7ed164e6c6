/* fleet-cli: what avma-fleet's verbs share: the global options and their loaded configuration,
 * and one verb handler per row of fleet-cli.c's table (each in the file that owns its job). */
#pragma once
#include "cli-verbs.h"
#include "fleet-config.h"
#include "fleet-db.h"

struct AvmaCliCtx {
  AvmaFleetConfig *config;
};

/* Connect with the configured conninfo and check the schema (check_schema). Prints the error. */
PGconn *avma_fleet_cli_connect(const AvmaCliCtx *ctx, gboolean check_schema);

int avma_fleet_cli_db_init(const AvmaCliCtx *ctx, int argc, char **argv);
int avma_fleet_cli_db_migrate(const AvmaCliCtx *ctx, int argc, char **argv);
int avma_fleet_cli_ingest(const AvmaCliCtx *ctx, int argc, char **argv);
int avma_fleet_cli_pull(const AvmaCliCtx *ctx, int argc, char **argv);
int avma_fleet_cli_hosts(const AvmaCliCtx *ctx, int argc, char **argv);
int avma_fleet_cli_report(const AvmaCliCtx *ctx, int argc, char **argv);
int avma_fleet_cli_key_create(const AvmaCliCtx *ctx, int argc, char **argv);
