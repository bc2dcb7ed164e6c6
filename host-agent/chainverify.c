/* chainverify: the whole-log check behind `avma-host history verify`. */
#include "chainverify.h"
#include "jsonline.h"

#include <errno.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  guint64 seq;
  guint64 line;
  guint8 prev[AVMA_CHAIN_HASH_LEN];
  guint8 hash[AVMA_CHAIN_HASH_LEN];
} Rec;

const char *avma_chain_finding_name(AvmaChainFinding f) {
  static const char *const names[] = {
      [AVMA_CHAIN_INTACT] = "intact",
      [AVMA_CHAIN_EDITED] = "edited",
      [AVMA_CHAIN_DELETED] = "deleted",
      [AVMA_CHAIN_REORDERED] = "reordered",
      [AVMA_CHAIN_DUPLICATED] = "duplicated",
      [AVMA_CHAIN_INSERTED] = "inserted",
      [AVMA_CHAIN_TRUNCATED] = "truncated",
      [AVMA_CHAIN_STORE_DIFFERS] = "store-differs",
      [AVMA_CHAIN_BAD_CHECKPOINT] = "bad-checkpoint",
  };
  return (guint)f < G_N_ELEMENTS(names) ? names[f] : "?";
}

void avma_chain_report_clear(AvmaChainReport *r) {
  if (!r)
    return;
  g_free(r->detail);
  if (r->hashes)
    g_array_unref(r->hashes);
  memset(r, 0, sizeof *r);
}

void avma_chain_report_set(AvmaChainReport *r, AvmaChainFinding f, guint64 record, guint64 line,
                           const char *fmt, ...) {
  if (r->finding != AVMA_CHAIN_INTACT)
    return;
  r->finding = f;
  r->record = record;
  r->line = line;
  va_list ap;
  va_start(ap, fmt);
  r->detail = g_strdup_vprintf(fmt, ap);
  va_end(ap);
}

/* 1: a chained record (seq, prev filled); 0: a JSON object without chain members; -1: not a
 * JSON object at all. */
static int parse(JsonParser *p, const char *line, gsize len, guint64 *seq, guint8 *prev) {
  JsonObject *o = avma_json_object_parse(p, line, (gssize)len);
  if (!o)
    return -1;
  JsonNode *s = json_object_get_member(o, AVMA_CHAIN_SEQ);
  JsonNode *h = json_object_get_member(o, AVMA_CHAIN_PREV);
  if (!s && !h)
    return 0;
  if (!s || !h || !JSON_NODE_HOLDS_VALUE(s) || json_node_get_value_type(s) != G_TYPE_INT64 ||
      json_node_get_int(s) <= 0 || !JSON_NODE_HOLDS_VALUE(h) ||
      json_node_get_value_type(h) != G_TYPE_STRING)
    return -1;
  const char *hex = json_node_get_string(h);
  size_t bin_len = 0;
  if (strlen(hex) != 2 * AVMA_CHAIN_HASH_LEN ||
      sodium_hex2bin(prev, AVMA_CHAIN_HASH_LEN, hex, strlen(hex), NULL, &bin_len, NULL) != 0 ||
      bin_len != AVMA_CHAIN_HASH_LEN)
    return -1;
  *seq = (guint64)json_node_get_int(s);
  return 1;
}

static void sha256(const char *data, gsize len, guint8 *out) {
  crypto_hash_sha256(out, (const unsigned char *)data, len);
}

/* The checks on the records read, in file order; the first finding wins. */
static void analyse(AvmaChainReport *r, GArray *recs, const guint8 *before_first) {
  guint64 max = 0;
  for (guint i = 0; i < recs->len; i++)
    max = MAX(max, g_array_index(recs, Rec, i).seq);
  r->head_seq = max;
  if (max > (guint64)recs->len + 1000000) {
    avma_chain_report_set(r, AVMA_CHAIN_INSERTED, max, 0,
                          "a record claims sequence number %" G_GUINT64_FORMAT
                          " among %u records: it was inserted or edited",
                          max, recs->len);
    return;
  }
  /* Index by sequence number: where each record is (file position + 1, 0: missing). */
  g_autofree guint *at = g_new0(guint, max + 1);
  for (guint i = 0; i < recs->len; i++) {
    Rec *x = &g_array_index(recs, Rec, i);
    if (at[x->seq]) {
      avma_chain_report_set(r, AVMA_CHAIN_DUPLICATED, x->seq, x->line,
                            "record %" G_GUINT64_FORMAT " appears twice (lines %" G_GUINT64_FORMAT
                            " and %" G_GUINT64_FORMAT "): a record was inserted or replayed",
                            x->seq, g_array_index(recs, Rec, at[x->seq] - 1).line, x->line);
      return;
    }
    at[x->seq] = i + 1;
  }
  for (guint64 s = 1; s <= max; s++)
    if (!at[s]) {
      guint64 next = s + 1;
      while (next <= max && !at[next])
        next++;
      Rec *after = &g_array_index(recs, Rec, at[next] - 1);
      avma_chain_report_set(r, AVMA_CHAIN_DELETED, s, after->line,
                            next - s == 1 ? "record %" G_GUINT64_FORMAT " was deleted (the log "
                                            "goes on with record %" G_GUINT64_FORMAT " at line "
                                            "%" G_GUINT64_FORMAT ")"
                                          : "records from %" G_GUINT64_FORMAT " were deleted "
                                            "(the log goes on with record %" G_GUINT64_FORMAT
                                            " at line %" G_GUINT64_FORMAT ")",
                            s, next, after->line);
      return;
    }
  for (guint i = 0; i < recs->len; i++) {
    Rec *x = &g_array_index(recs, Rec, i);
    if (x->seq != i + 1) {
      avma_chain_report_set(r, AVMA_CHAIN_REORDERED, i + 1, x->line,
                            "record %u is not at its place: line %" G_GUINT64_FORMAT
                            " holds record %" G_GUINT64_FORMAT " (records were reordered)",
                            i + 1, x->line, x->seq);
      return;
    }
  }
  r->hashes = g_array_sized_new(FALSE, TRUE, AVMA_CHAIN_HASH_LEN, (guint)max + 1);
  g_array_set_size(r->hashes, (guint)max + 1);
  for (guint i = 0; i < recs->len; i++) {
    Rec *x = &g_array_index(recs, Rec, i);
    const guint8 *want = i == 0 ? before_first : g_array_index(recs, Rec, i - 1).hash;
    if (sodium_memcmp(x->prev, want, AVMA_CHAIN_HASH_LEN) != 0) {
      if (i == 0)
        avma_chain_report_set(r, AVMA_CHAIN_EDITED, 0, x->line,
                              "the lines before record 1 were changed (record 1's link does not "
                              "match)");
      else
        avma_chain_report_set(
            r, AVMA_CHAIN_EDITED, x->seq - 1, g_array_index(recs, Rec, i - 1).line,
            "record %" G_GUINT64_FORMAT " (line %" G_GUINT64_FORMAT
            ") was edited: its hash is not what record %" G_GUINT64_FORMAT " links to",
            x->seq - 1, g_array_index(recs, Rec, i - 1).line, x->seq);
      return;
    }
    memcpy(r->hashes->data + x->seq * AVMA_CHAIN_HASH_LEN, x->hash, AVMA_CHAIN_HASH_LEN);
  }
}

typedef struct {
  AvmaChainReport *out;
  GArray *recs;
  JsonParser *parser;
  guint8 last_hash[AVMA_CHAIN_HASH_LEN]; /* zeros: the file's first line has none before */
  guint8 before_first[AVMA_CHAIN_HASH_LEN];
  guint64 lines, last_seq;
  gboolean started;
} Walk;

static gboolean walk_line(const char *line, gsize len, gboolean whole, guint64 lineno,
                          gpointer user) {
  Walk *w = user;
  w->lines = lineno;
  Rec x = {.line = lineno};
  int kind = parse(w->parser, line, len, &x.seq, x.prev);
  if (!whole && kind != 1) {
    w->out->cut_tail = TRUE; /* a crash mid-append: never acknowledged, set aside at start */
    return FALSE;
  }
  sha256(line, len, x.hash);
  if (kind == 1) {
    if (!w->started)
      memcpy(w->before_first, w->last_hash, sizeof w->last_hash);
    w->started = TRUE;
    g_array_append_val(w->recs, x);
    w->last_seq = x.seq;
  } else if (!w->started && kind == 0) {
    w->out->legacy++;
  } else if (kind == 0) {
    avma_chain_report_set(w->out, AVMA_CHAIN_INSERTED, w->last_seq + 1, lineno,
                          "line %" G_GUINT64_FORMAT " (after record %" G_GUINT64_FORMAT
                          ") is not a chained record: it was inserted or its chain members "
                          "removed",
                          lineno, w->last_seq);
  } else {
    avma_chain_report_set(w->out, AVMA_CHAIN_EDITED, w->last_seq + 1, lineno,
                          "line %" G_GUINT64_FORMAT " (after record %" G_GUINT64_FORMAT
                          ") is no longer a readable record: it was edited",
                          lineno, w->last_seq);
  }
  memcpy(w->last_hash, x.hash, sizeof w->last_hash);
  return TRUE;
}

gboolean avma_chain_verify_log(const char *path, AvmaChainReport *out, GError **error) {
  memset(out, 0, sizeof *out);
  if (sodium_init() < 0) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "libsodium cannot start");
    return FALSE;
  }
  g_autoptr(GArray) recs = g_array_new(FALSE, FALSE, sizeof(Rec));
  g_autoptr(JsonParser) p = json_parser_new();
  Walk w = {.out = out, .recs = recs, .parser = p};
  if (!avma_chain_read_lines(path, TRUE, walk_line, &w, error))
    return FALSE;
  if (w.lines == 0)
    return TRUE; /* no records yet (or no file) */
  out->records = recs->len;
  analyse(out, recs, w.before_first);
  return TRUE;
}

gboolean avma_chain_report_has(const AvmaChainReport *r, guint64 seq, const char *line) {
  if (!r->hashes || seq == 0 || seq >= r->hashes->len)
    return FALSE;
  guint8 h[AVMA_CHAIN_HASH_LEN];
  sha256(line, strlen(line), h);
  return sodium_memcmp(h, r->hashes->data + seq * AVMA_CHAIN_HASH_LEN, AVMA_CHAIN_HASH_LEN) == 0;
}

gboolean avma_chain_report_hash(const AvmaChainReport *r, guint64 seq, char *out) {
  if (!r->hashes || seq == 0 || seq >= r->hashes->len)
    return FALSE;
  sodium_bin2hex(out, AVMA_CHAIN_HASH_HEX,
                 (const guint8 *)r->hashes->data + seq * AVMA_CHAIN_HASH_LEN, AVMA_CHAIN_HASH_LEN);
  return TRUE;
}
