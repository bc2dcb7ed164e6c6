/* fleet-cli-ingest: the verbs that write the database: db init, db migrate, ingest, pull. */
#include "fleet-bundle.h"
#include "fleet-cli.h"
#include "fleet-ingest.h"
#include "fleet-pull.h"

#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

PGconn *avma_fleet_cli_connect(const AvmaCliCtx *ctx, gboolean check_schema) {
  g_autoptr(GError) err = NULL;
  g_autoptr(PGconn) c = avma_fleet_db_connect(ctx->config->conninfo, &err);
  if (c && check_schema && !avma_fleet_db_check_schema(c, &err))
    g_clear_pointer(&c, PQfinish);
  if (!c)
    avma_cli_fail("%s", err->message);
  return g_steal_pointer(&c);
}

static int no_args(int *argc, char ***argv) {
  GOptionEntry e[] = {{NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_cli_parse(e, argc, argv, &err))
    return avma_cli_fail("%s", err->message), 2;
  if (*argc != 1)
    return avma_cli_fail("unexpected argument '%s'", (*argv)[1]), 2;
  return -1;
}

static int schema(const AvmaCliCtx *ctx, int argc, char **argv, gboolean init) {
  int rc = no_args(&argc, &argv);
  if (rc >= 0)
    return rc;
  g_autoptr(PGconn) c = avma_fleet_cli_connect(ctx, FALSE);
  if (!c)
    return 1;
  g_autoptr(GError) err = NULL;
  int from = 0, to = 0;
  if (!(init ? avma_fleet_db_init : avma_fleet_db_migrate)(c, &from, &to, &err))
    return avma_cli_fail("%s", err->message);
  if (from == to)
    printf("schema at version %d already; nothing to do\n", to);
  else
    printf("schema version %d -> %d\n", from, to);
  return 0;
}

int avma_fleet_cli_db_init(const AvmaCliCtx *ctx, int argc, char **argv) {
  return schema(ctx, argc, argv, TRUE);
}

int avma_fleet_cli_db_migrate(const AvmaCliCtx *ctx, int argc, char **argv) {
  return schema(ctx, argc, argv, FALSE);
}

static gboolean load_root(const AvmaCliCtx *ctx, AvmaPublicKey *root, gboolean *have) {
  *have = FALSE;
  if (!ctx->config->root_key)
    return TRUE;
  g_autoptr(GError) err = NULL;
  if (!avma_public_key_load(ctx->config->root_key, root, &err)) {
    avma_cli_fail("[trust] root_key: %s", err->message);
    return FALSE;
  }
  *have = TRUE;
  return TRUE;
}

/* One bundle: its verdict on stdout (stored) or stderr (refused). FALSE with *db_down when the
 * database failed, so the caller stops instead of refusing every bundle after it. */
typedef struct {
  char *path;   /* "-": standard input */
  GBytes *data; /* or read from path by parse_job */
  AvmaFleetBundle *bundle;
  GError *error; /* reading or parsing */
  char *host_id;
  gboolean read_failed;
} Job;

static GBytes *read_input(const char *path, GError **error);

/* Read and parse, in a worker thread: the next bundle is parsed while this one is stored. */
static gpointer parse_job(gpointer data) {
  Job *j = data;
  if (!j->data && !(j->data = read_input(j->path, &j->error))) {
    j->read_failed = TRUE;
    return j;
  }
  gsize len = 0;
  const char *bytes = g_bytes_get_data(j->data, &len);
  j->bundle = avma_fleet_bundle_parse(bytes ? bytes : "", len, &j->host_id, &j->error);
  g_clear_pointer(&j->data, g_bytes_unref);
  return j;
}

static void job_free(Job *j) {
  if (!j)
    return;
  if (j->data)
    g_bytes_unref(j->data);
  avma_fleet_bundle_free(j->bundle);
  g_clear_error(&j->error);
  g_free(j->host_id);
  g_free(j->path);
  g_free(j);
}

static gboolean one(PGconn *c, const AvmaCliCtx *ctx, const AvmaPublicKey *root, Job *j,
                    const char *origin, const char *pulled_as, gboolean *db_down) {
  AvmaFleetIngestResult res;
  g_autoptr(GError) err = NULL;
  gboolean ok = avma_fleet_ingest_parsed(c, ctx->config, root, g_steal_pointer(&j->bundle),
                                         g_steal_pointer(&j->error), j->host_id, origin, pulled_as,
                                         &res, &err);
  if (ok) {
    g_autofree char *key =
        g_strcmp0(res.key_how, "known") ? g_strconcat("; key ", res.key_how, NULL) : g_strdup("");
    if (res.added)
      printf("%s: host %s (%s): %" G_GUINT64_FORMAT " new records, seq %" G_GUINT64_FORMAT
             "..%" G_GUINT64_FORMAT "%s%s\n",
             origin, res.hostname, res.host_id, res.added, res.last - res.added + 1, res.last,
             res.known ? ", the rest held already" : "", key);
    else
      printf("%s: host %s (%s): nothing new (records up to %" G_GUINT64_FORMAT " held)%s\n", origin,
             res.hostname, res.host_id, res.last, key);
  } else {
    *db_down = g_error_matches(err, AVMA_FLEET_ERROR, AVMA_FLEET_ERROR_DATABASE);
    fprintf(stderr, "avma-fleet: %s: refused (%s): %s\n", origin, avma_fleet_error_kind(err->code),
            err->message);
  }
  avma_fleet_ingest_result_clear(&res);
  return ok;
}

static GBytes *read_input(const char *path, GError **error) {
  if (strcmp(path, "-")) {
    char *data = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &data, &len, error))
      return NULL;
    return g_bytes_new_take(data, len);
  }
  g_autoptr(GInputStream) in = g_unix_input_stream_new(0, FALSE);
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable();
  if (g_output_stream_splice(out, in, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL, error) < 0)
    return NULL;
  return g_memory_output_stream_steal_as_bytes(G_MEMORY_OUTPUT_STREAM(out));
}

int avma_fleet_cli_ingest(const AvmaCliCtx *ctx, int argc, char **argv) {
  GOptionEntry e[] = {{NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_cli_parse(e, &argc, &argv, &err))
    return avma_cli_fail("%s", err->message), 2;
  if (argc < 2)
    return avma_cli_fail("ingest: at least one FILE (or -) expected"), 2;
  AvmaPublicKey root;
  gboolean have_root;
  if (!load_root(ctx, &root, &have_root))
    return 2;
  g_autoptr(PGconn) c = avma_fleet_cli_connect(ctx, TRUE);
  if (!c)
    return 1;
  int rc = 0;
  GThread *next = NULL;
  for (int i = 1; i < argc; i++) {
    Job *j = NULL;
    if (next) {
      j = g_thread_join(next);
    } else {
      j = g_new0(Job, 1);
      j->path = g_strdup(argv[i]);
      parse_job(j);
    }
    next = NULL;
    if (i + 1 < argc) {
      Job *n = g_new0(Job, 1);
      n->path = g_strdup(argv[i + 1]);
      next = g_thread_new("parse", parse_job, n);
    }
    const char *origin = strcmp(argv[i], "-") ? argv[i] : "stdin";
    gboolean down = FALSE;
    if (j->read_failed) {
      fprintf(stderr, "avma-fleet: %s: %s\n", origin, j->error->message);
      rc = 1;
    } else if (!one(c, ctx, have_root ? &root : NULL, j, origin, NULL, &down)) {
      rc = 1;
    }
    job_free(j);
    if (down) {
      if (next)
        job_free(g_thread_join(next));
      if (i + 1 < argc)
        fprintf(stderr, "avma-fleet: stopped: %d bundle(s) from %s on not ingested\n", argc - i - 1,
                argv[i + 1]);
      break;
    }
  }
  return rc;
}

static guint64 cursor_of(PGconn *c, const char *name, GError **error) {
  const char *p[] = {name};
  g_autoptr(PGresult) r = avma_fleet_db_query(
      c,
      "SELECT cursor_seq FROM hosts WHERE pulled_as = $1 ORDER BY last_ingest DESC NULLS LAST "
      "LIMIT 1",
      1, p, error);
  if (!r)
    return G_MAXUINT64;
  return PQntuples(r) ? g_ascii_strtoull(PQgetvalue(r, 0, 0), NULL, 10) : 0;
}

int avma_fleet_cli_pull(const AvmaCliCtx *ctx, int argc, char **argv) {
  GOptionEntry e[] = {{NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_cli_parse(e, &argc, &argv, &err))
    return avma_cli_fail("%s", err->message), 2;
  const GPtrArray *hosts = ctx->config->hosts;
  for (int i = 1; i < argc; i++) {
    gboolean found = FALSE;
    for (guint k = 0; k < hosts->len && !found; k++)
      found = !strcmp(((AvmaFleetHost *)hosts->pdata[k])->name, argv[i]);
    if (!found)
      return avma_cli_fail("pull: no [host %s] in the configuration", argv[i]), 2;
  }
  if (!hosts->len)
    return avma_cli_fail("pull: the configuration names no host ([host NAME] groups)"), 2;
  AvmaPublicKey root;
  gboolean have_root;
  if (!load_root(ctx, &root, &have_root))
    return 2;
  g_autoptr(PGconn) c = avma_fleet_cli_connect(ctx, TRUE);
  if (!c)
    return 1;
  int rc = 0;
  for (guint k = 0; k < hosts->len; k++) {
    const AvmaFleetHost *h = hosts->pdata[k];
    gboolean wanted = argc < 2;
    for (int i = 1; i < argc && !wanted; i++)
      wanted = !strcmp(h->name, argv[i]);
    if (!wanted)
      continue;
    g_autofree char *origin = g_strdup_printf("pull %s", h->name);
    g_autoptr(GError) perr = NULL;
    guint64 since = cursor_of(c, h->name, &perr);
    if (since == G_MAXUINT64)
      return avma_cli_fail("%s", perr->message);
    GBytes *data = avma_fleet_pull(ctx->config, h, since, &perr);
    gboolean down = FALSE;
    if (!data) {
      fprintf(stderr, "avma-fleet: %s: %s\n", origin, perr->message);
      rc = 1;
    } else {
      Job *j = g_new0(Job, 1);
      j->data = data;
      parse_job(j);
      if (!one(c, ctx, have_root ? &root : NULL, j, origin, h->name, &down))
        rc = 1;
      job_free(j);
    }
    if (down)
      return 1;
  }
  return rc;
}
