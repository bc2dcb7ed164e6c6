/* cli-export: `avma-host export --since SEQ [--output FILE]`: the records a collector lacks, as a
 * bundle it can check offline (docs/audit.md "Export bundles"): a header, the record log's lines
 * SEQ+1 .. M byte for byte, the host's rotation statements and certificate, and the newest signed
 * checkpoint, whose record M ends the bundle so that everything in it is signed. */
#include "chainlog.h"
#include "checkpoint.h"
#include "cli.h"
#include "fsutil.h"
#include "hostkey.h"
#include "state-files.h"

#include "jsonline.h"
#include "timeutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define FORMAT "avma-export v1"

static char *object_line(JsonObject *o) {
  g_autoptr(JsonNode) n = json_node_new(JSON_NODE_OBJECT);
  json_node_set_object(n, o);
  return json_to_string(n, FALSE);
}

/* {"NAME":text} (text NULL: null), one trailer line. */
static void add_trailer(GString *out, const char *name, const char *text) {
  g_autoptr(JsonObject) o = json_object_new();
  if (text)
    json_object_set_string_member(o, name, text);
  else
    json_object_set_null_member(o, name);
  g_autofree char *line = object_line(o);
  g_string_append_printf(out, "%s\n", line);
}

/* The newest checkpoint that verifies with the host's keys (the current one, or one it rotated
 * from): its note verbatim and what it says. FALSE with *note NULL when there is none; FALSE
 * with error set when the file cannot be read. */
static gboolean newest_checkpoint(const char *state_dir, char **note, AvmaCheckpoint *cp,
                                  GError **error) {
  *note = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GArray) keys = NULL;
  if (!avma_checkpoint_file_read(state_dir, &lines, &keys, error))
    return FALSE;
  if (!lines)
    return TRUE;
  g_autoptr(JsonParser) p = json_parser_new();
  for (guint i = g_strv_length(lines); i-- > 0;) {
    JsonObject *o = avma_json_object_parse(p, lines[i], -1);
    if (!o)
      continue;
    const char *n = json_object_get_string_member_with_default(o, "note", NULL);
    g_autoptr(GError) why = NULL;
    if (n && avma_checkpoint_open(n, (const AvmaNoteKey *)keys->data, keys->len, cp, &why)) {
      *note = g_strdup(n);
      return TRUE;
    }
    /* A later line that does not verify is left out: the bundle would fail its check. */
    fprintf(stderr, "avma-host: warning: %s line %u is not a checkpoint of this host: %s\n",
            AVMA_CHECKPOINT_FILE, i + 1, why ? why->message : "no note");
  }
  return TRUE;
}

/* The log's lines with since < seq <= last, verbatim, in file order. Only whole lines count (a
 * line being appended has no newline yet); records up to a checkpoint are durable. FALSE when
 * the log cannot be read or lacks record last. */
typedef struct {
  JsonParser *parser;
  guint64 since, last;
  GString *out;
  gboolean have_last;
} CopyRecords;

static gboolean copy_record(const char *line, gsize len, gboolean whole, guint64 lineno,
                            gpointer user) {
  (void)lineno;
  CopyRecords *c = user;
  if (!whole)
    return FALSE;
  JsonObject *o = avma_json_object_parse(c->parser, line, (gssize)len);
  if (!o)
    return TRUE; /* not a record: nothing a checkpoint vouches for */
  gint64 seq = json_object_get_int_member_with_default(o, AVMA_CHAIN_SEQ, 0);
  if (seq <= 0 || (guint64)seq <= c->since || (guint64)seq > c->last)
    return TRUE;
  g_string_append_len(c->out, line, (gssize)len);
  g_string_append_c(c->out, '\n');
  c->have_last = (guint64)seq == c->last;
  return !c->have_last;
}

static gboolean copy_records(const char *path, guint64 since, guint64 last, GString *out,
                             GError **error) {
  if (last <= since)
    return TRUE;
  g_autoptr(JsonParser) p = json_parser_new();
  CopyRecords c = {.parser = p, .since = since, .last = last, .out = out};
  if (!avma_chain_read_lines(path, FALSE, copy_record, &c, error))
    return FALSE;
  if (!c.have_last) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                "%s lacks record %" G_GUINT64_FORMAT
                " that the newest checkpoint signed (see `avma-host history verify`)",
                path, last);
    return FALSE;
  }
  return TRUE;
}

/* Every rotation statement in STATE/keys/, oldest first, and the certificate when installed. */
static gboolean add_key_trail(const char *state_dir, GString *out, GError **error) {
  g_autoptr(GPtrArray) rots = avma_hostkey_rotations(state_dir);
  for (guint i = 0; i < rots->len; i++) {
    const AvmaHostKeyRotationInfo *r = rots->pdata[i];
    g_autofree char *text = NULL;
    if (!g_file_get_contents(r->path, &text, NULL, error))
      return FALSE;
    add_trailer(out, "rotation", text);
  }
  g_autofree char *cert = g_build_filename(state_dir, AVMA_HOSTKEY_CERT, NULL);
  g_autofree char *text = NULL;
  g_autoptr(GError) local = NULL;
  if (g_file_get_contents(cert, &text, NULL, &local)) {
    add_trailer(out, "cert", text);
  } else if (!g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  return TRUE;
}

static char *read_host_id(const char *state_dir, GError **error) {
  g_autofree char *path = g_build_filename(state_dir, AVMA_HOST_ID_FILE, NULL);
  char *id = NULL;
  if (!g_file_get_contents(path, &id, NULL, error))
    return NULL;
  return g_strstrip(id);
}

int avma_cli_export(const AvmaCliGlobals *g, int argc, char **argv) {
  g_autofree char *since_s = NULL, *output = NULL;
  GOptionEntry e[] = {
      {"since", 0, 0, G_OPTION_ARG_STRING, &since_s, "Records after this sequence number", "SEQ"},
      {"output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "Write the bundle here (atomically)",
       "FILE"},
      {NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_cli_parse(e, &argc, &argv, &err))
    return avma_cli_fail("export: %s", err->message), 2;
  guint64 since = 0;
  if (!since_s || !g_ascii_string_to_unsigned(since_s, 10, 0, G_MAXINT64, &since, &err)) {
    avma_cli_fail("export: --since SEQ expected (a record number, 0 for all)%s%s", err ? ": " : "",
                  err ? err->message : "");
    return 2;
  }
  if (argc > 1)
    return avma_cli_fail("export: unexpected argument '%s'", argv[1]), 2;
  g_autoptr(AvmaHostConfig) c = avma_cli_config(g, &err);
  if (!c)
    return avma_cli_fail("%s", err->message), 2;

  AvmaPublicKey pub;
  if (!avma_hostkey_load_public(c->state_dir, &pub, &err))
    return avma_cli_fail("export: no host key: %s", err->message);
  g_autofree char *host_id = read_host_id(c->state_dir, &err);
  if (!host_id)
    return avma_cli_fail("export: no host id (avma-hostd creates it): %s", err->message);
  g_autofree char *note = NULL;
  g_auto(AvmaCheckpoint) cp;
  memset(&cp, 0, sizeof cp);
  if (!newest_checkpoint(c->state_dir, &note, &cp, &err))
    return avma_cli_fail("export: %s", err->message);
  /* Everything after the newest checkpoint waits for the next export: it is not signed yet. */
  guint64 last = note ? cp.seq : since;

  g_autoptr(GString) out = g_string_new(NULL);
  g_autoptr(JsonObject) h = json_object_new();
  g_autofree char *key_id = avma_hostkey_id(&pub);
  g_autofree char *pub_b64 = avma_public_key_base64(&pub);
  g_autofree char *now = avma_time_format(avma_now());
  json_object_set_string_member(h, "format", FORMAT);
  json_object_set_string_member(h, "host_id", host_id); /* event-field-ok: the bundle's header */
  json_object_set_string_member(h, "hostname", g_get_host_name());
  json_object_set_string_member(h, "key_id", key_id);
  json_object_set_string_member(h, "public_key", pub_b64);
  json_object_set_int_member(h, "since", (gint64)since);
  json_object_set_int_member(h, "last", (gint64)last);
  json_object_set_string_member(h, "exported_at", now);
  g_autofree char *header = object_line(h);
  g_string_append_printf(out, "%s\n", header);

  g_autofree char *log = avma_host_state_path(c, AVMA_HOST_EVENTS_FILE);
  if (!copy_records(log, since, last, out, &err) || !add_key_trail(c->state_dir, out, &err))
    return avma_cli_fail("export: %s", err->message);
  add_trailer(out, "checkpoint", note);

  if (!output) {
    fwrite(out->str, 1, out->len, stdout);
    return fflush(stdout) == 0 ? 0 : avma_cli_fail("export: cannot write standard output");
  }
  if (!avma_write_atomic(output, out->str, (gssize)out->len, 0644, &err))
    return avma_cli_fail("export: %s", err->message);
  fprintf(stderr,
          "avma-host: exported records %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT " to %s\n",
          last > since ? since + 1 : last, last, output);
  return 0;
}
