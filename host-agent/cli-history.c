/* cli-history: `avma-host history verify`: walks the record log (events.jsonl) and the history
 * store, and names the first bad record and what happened to it. */
#include "chainverify.h"
#include "checkpoint.h"
#include "cli.h"
#include "history.h"
#include "hostkey.h"
#include "state-files.h"

#include "jsonline.h"
#include "timeutil.h"

#include <string.h>

typedef struct {
  AvmaChainReport *report;
  JsonParser *parser;
  guint64 rows;
} StoreCheck;

static guint64 record_seq(JsonParser *p, const char *line) {
  JsonObject *o = avma_json_object_parse(p, line, -1);
  gint64 s = o ? json_object_get_int_member_with_default(o, AVMA_CHAIN_SEQ, 0) : 0;
  return s > 0 ? (guint64)s : 0;
}

/* Each store row against the log: the store is an index rebuilt from the log, so any row that is
 * not byte for byte a log record, or whose columns are not what its record says, was edited. */
static gboolean check_row(const char *record, gboolean columns_match, gpointer user) {
  StoreCheck *c = user;
  AvmaChainReport *r = c->report;
  c->rows++;
  guint64 seq = record_seq(c->parser, record);
  if (!columns_match) {
    avma_chain_report_set(r, AVMA_CHAIN_STORE_DIFFERS, seq, 0,
                          "history.db's row for record %" G_GUINT64_FORMAT
                          " was edited: its columns are not what its record says",
                          seq);
    return FALSE;
  }
  if (!seq)
    return TRUE; /* imported before the chain started */
  if (seq > r->head_seq) {
    avma_chain_report_set(r, AVMA_CHAIN_TRUNCATED, seq, 0,
                          "history.db holds record %" G_GUINT64_FORMAT
                          " but the log ends at record %" G_GUINT64_FORMAT
                          ": the log was truncated",
                          seq, r->head_seq);
    return FALSE;
  }
  if (!avma_chain_report_has(r, seq, record)) {
    avma_chain_report_set(r, AVMA_CHAIN_STORE_DIFFERS, seq, 0,
                          "record %" G_GUINT64_FORMAT
                          " differs between the log and history.db: one of them was edited",
                          seq);
    return FALSE;
  }
  return TRUE;
}

/* Each checkpoint's signature, then what it vouches for: its record still there with the hash
 * signed. *count gets how many were checked. FALSE: cannot read. */
static gboolean check_checkpoints(const char *state_dir, AvmaChainReport *r, guint *count,
                                  GError **error) {
  *count = 0;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GArray) keys = NULL;
  if (!avma_checkpoint_file_read(state_dir, &lines, &keys, error))
    return FALSE;
  if (!lines)
    return TRUE;
  g_autoptr(JsonParser) p = json_parser_new();
  guint lineno = 0;
  for (char **l = lines; *l; l++) {
    lineno++;
    if (!**l)
      continue;
    (*count)++;
    JsonObject *o = avma_json_object_parse(p, *l, -1);
    const char *note = o ? json_object_get_string_member_with_default(o, "note", NULL) : NULL;
    g_auto(AvmaCheckpoint) cp;
    memset(&cp, 0, sizeof cp);
    g_autoptr(GError) why = NULL;
    if (!note) {
      avma_chain_report_set(r, AVMA_CHAIN_BAD_CHECKPOINT, 0, 0, "%s line %u is not a checkpoint",
                            AVMA_CHECKPOINT_FILE, lineno);
      return TRUE;
    }
    if (!avma_checkpoint_open(note, (const AvmaNoteKey *)keys->data, keys->len, &cp, &why)) {
      avma_chain_report_set(r, AVMA_CHAIN_BAD_CHECKPOINT, 0, 0,
                            "checkpoint %u (%s line %u) does not verify: %s", *count,
                            AVMA_CHECKPOINT_FILE, lineno, why->message);
      return TRUE;
    }
    g_autofree char *at = avma_time_format(cp.signed_at);
    if (cp.seq > r->head_seq) {
      avma_chain_report_set(r, AVMA_CHAIN_TRUNCATED, r->head_seq + 1, 0,
                            "truncated after a checkpoint: the checkpoint signed at %s vouches "
                            "for records up to %" G_GUINT64_FORMAT
                            ", the log ends at record %" G_GUINT64_FORMAT,
                            at, cp.seq, r->head_seq);
      return TRUE;
    }
    char have[AVMA_CHAIN_HASH_HEX];
    if (avma_chain_report_hash(r, cp.seq, have) && strcmp(have, cp.head)) {
      avma_chain_report_set(r, AVMA_CHAIN_EDITED, cp.seq, 0,
                            "record %" G_GUINT64_FORMAT
                            " was edited: its hash is not the one the checkpoint signed at %s "
                            "holds",
                            cp.seq, at);
      return TRUE;
    }
  }
  return TRUE;
}

static void print_json(const AvmaChainReport *r, const char *path, gboolean store,
                       guint checkpoints) {
  g_autoptr(JsonObject) o = json_object_new();
  json_object_set_string_member(o, "log", path);
  json_object_set_boolean_member(o, "intact", r->finding == AVMA_CHAIN_INTACT);
  json_object_set_string_member(o, "finding", avma_chain_finding_name(r->finding));
  json_object_set_int_member(o, "record", (gint64)r->record);
  json_object_set_int_member(o, "line", (gint64)r->line);
  json_object_set_string_member(o, "detail", r->detail ? r->detail : "");
  json_object_set_int_member(o, "records", (gint64)r->records);
  json_object_set_int_member(o, "unchained_lines", (gint64)r->legacy);
  json_object_set_int_member(o, "head", (gint64)r->head_seq);
  json_object_set_boolean_member(o, "cut_last_line", r->cut_tail);
  json_object_set_boolean_member(o, "store_checked", store);
  json_object_set_int_member(o, "checkpoints", checkpoints);
  avma_cli_print_object(o);
}

int avma_cli_history_verify(const AvmaCliGlobals *g, int argc, char **argv) {
  gboolean json = FALSE;
  GOptionEntry e[] = {{"json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON object", NULL}, {NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_cli_parse(e, &argc, &argv, &err))
    return avma_cli_fail("history verify: %s", err->message), 2;
  g_autoptr(AvmaHostConfig) c = avma_cli_config(g, &err);
  if (!c)
    return avma_cli_fail("%s", err->message), 2;
  g_autofree char *path = avma_host_state_path(c, AVMA_HOST_EVENTS_FILE);
  g_auto(AvmaChainReport) r;
  if (!avma_chain_verify_log(path, &r, &err))
    return avma_cli_fail("history verify: %s", err->message), 2;

  guint checkpoints = 0;
  if (r.finding == AVMA_CHAIN_INTACT && !check_checkpoints(c->state_dir, &r, &checkpoints, &err))
    return avma_cli_fail("history verify: %s", err->message), 2;

  g_autofree char *db = avma_host_state_path(c, AVMA_HISTORY_FILE);
  g_autoptr(AvmaHistory) h = avma_history_open_read(db, &err);
  gboolean store = h != NULL;
  if (!h && !g_error_matches(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    return avma_cli_fail("history verify: %s", err->message), 2;
  g_clear_error(&err);
  if (h && r.finding == AVMA_CHAIN_INTACT) {
    g_autoptr(JsonParser) p = json_parser_new();
    StoreCheck sc = {.report = &r, .parser = p};
    if (!avma_history_check_events(h, check_row, &sc, &err))
      return avma_cli_fail("history verify: %s", err->message), 2;
  }

  if (json) {
    print_json(&r, path, store, checkpoints);
  } else if (r.finding == AVMA_CHAIN_INTACT) {
    printf("history intact: %" G_GUINT64_FORMAT " chained record(s), head record %" G_GUINT64_FORMAT
           ", %u signed checkpoint(s) verify%s\n",
           r.records, r.head_seq, checkpoints,
           store ? ", history.db agrees" : ", no history.db yet");
    if (r.legacy)
      printf("note: the first %" G_GUINT64_FORMAT
             " line(s) were written before the chain started and are not covered by it\n",
             r.legacy);
  } else {
    printf("history tampered: %s: %s\n", avma_chain_finding_name(r.finding), r.detail);
  }
  if (r.cut_tail)
    fprintf(stderr,
            "avma-host: warning: the last line of %s was cut by a crash mid-append (never "
            "acknowledged); avma-hostd sets it aside at its next start\n",
            path);
  return r.finding == AVMA_CHAIN_INTACT ? 0 : 1;
}
