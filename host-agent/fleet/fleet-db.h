/* fleet-db: the fleet database (PostgreSQL through libpq): connecting, the versioned schema and
 * its migrations, and the few helpers every query uses. Errors are AVMA_FLEET_ERROR_DATABASE with
 * the server's message. */
#pragma once
#include <glib.h>
#include <libpq-fe.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PGconn, PQfinish)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PGresult, PQclear)

/* The schema version this build reads and writes. */
int avma_fleet_db_schema_latest(void);

PGconn *avma_fleet_db_connect(const char *conninfo, GError **error);
/* The schema's version (0: not initialised). */
gboolean avma_fleet_db_schema_version(PGconn *c, int *version, GError **error);
/* Create the schema on an empty database (init) or apply the migrations it lacks (migrate), each
 * migration in its own transaction under an advisory lock. *from and *to get the versions. init
 * refuses a database that has another schema version; migrate one that has none. */
gboolean avma_fleet_db_init(PGconn *c, int *from, int *to, GError **error);
gboolean avma_fleet_db_migrate(PGconn *c, int *from, int *to, GError **error);
/* Error unless the schema is at the latest version (with the command that fixes it). */
gboolean avma_fleet_db_check_schema(PGconn *c, GError **error);

/* A statement without rows. */
gboolean avma_fleet_db_exec(PGconn *c, const char *sql, GError **error);
/* A statement with text parameters (NULL: SQL NULL); the result (rows or not), or NULL. */
PGresult *avma_fleet_db_query(PGconn *c, const char *sql, int n, const char *const *params,
                              GError **error);
/* COPY ... FROM STDIN with rows already in COPY's text format. */
gboolean avma_fleet_db_copy(PGconn *c, const char *copy_sql, const GString *rows, GError **error);
/* Append one field of COPY text format (tab-separated, backslash escapes; NULL: \N). last: the
 * row's last field (newline instead of tab). */
void avma_fleet_copy_field(GString *row, const char *value, gboolean last);
/* The same for an integer, and a unix time as timestamptz (0 with null_zero: NULL). */
void avma_fleet_copy_int(GString *row, gint64 value, gboolean last);
void avma_fleet_copy_time(GString *row, gint64 unix_seconds, gboolean null_zero, gboolean last);
