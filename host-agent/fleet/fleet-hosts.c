/* fleet-hosts: `avma-fleet hosts`: every known host with its cursor, last record, licence and
 * verification state, from the database alone. */
#include "fleet-cli.h"

#include <json-glib/json-glib.h>
#include <stdio.h>

static const char *const columns[] = {
    "hostname",    "host_id", "key_id", "cursor_seq", "last_record_time",
    "last_ingest", "licence", "state",  "detail"};

int avma_fleet_cli_hosts(const AvmaCliCtx *ctx, int argc, char **argv) {
  gboolean json = FALSE;
  GOptionEntry e[] = {{"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print a JSON array", NULL}, {NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_cli_parse(e, &argc, &argv, &err))
    return avma_cli_fail("%s", err->message), 2;
  if (argc != 1)
    return avma_cli_fail("hosts: unexpected argument '%s'", argv[1]), 2;
  g_autoptr(PGconn) c = avma_fleet_cli_connect(ctx, TRUE);
  if (!c)
    return 1;
  /* The licence is the host's latest 12311 record, as the host itself would show it. */
  g_autoptr(PGresult) r = avma_fleet_db_query(
      c,
      "SELECT h.hostname, h.host_id, h.key_id, h.cursor_seq,"
      " coalesce(to_char(h.last_record_time, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''),"
      " coalesce(to_char(h.last_ingest, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''),"
      " coalesce((SELECT CASE WHEN NOT l.licence_set THEN 'not set' ELSE"
      "   concat_ws(' ', l.version, l.edition, CASE WHEN l.activated THEN 'activated'"
      "   ELSE 'not activated' END) END"
      "   FROM licences l WHERE l.host_id = h.host_id ORDER BY l.seq DESC LIMIT 1), 'unknown'),"
      " h.state, h.state_detail"
      " FROM hosts h ORDER BY h.hostname, h.host_id",
      0, NULL, &err);
  if (!r)
    return avma_cli_fail("%s", err->message);
  int n = PQntuples(r);
  if (json) {
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_array(b);
    for (int i = 0; i < n; i++) {
      json_builder_begin_object(b);
      for (int k = 0; k < (int)G_N_ELEMENTS(columns); k++) {
        json_builder_set_member_name(b, columns[k]);
        if (k == 3)
          json_builder_add_int_value(b, g_ascii_strtoll(PQgetvalue(r, i, k), NULL, 10));
        else
          json_builder_add_string_value(b, PQgetvalue(r, i, k));
      }
      json_builder_end_object(b);
    }
    json_builder_end_array(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    g_autofree char *s = json_to_string(root, TRUE);
    printf("%s\n", s);
    return 0;
  }
  printf("%-20s %-36s %-16s %8s %-20s %-36s %s\n", "HOST", "HOST ID", "KEY", "CURSOR",
         "LAST RECORD", "LICENCE", "STATE");
  for (int i = 0; i < n; i++) {
    const char *state = PQgetvalue(r, i, 7), *detail = PQgetvalue(r, i, 8);
    printf("%-20s %-36s %-16s %8s %-20s %-36s %s%s%s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
           PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 6),
           state, *detail ? ": " : "", detail);
  }
  if (n == 0)
    printf("(no host yet: avma-fleet ingest or pull)\n");
  return 0;
}
