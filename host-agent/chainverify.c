/* chainverify: the whole-log check behind `avma-host history verify`. */
#include "chainverify.h"

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
  if (!json_parser_load_from_data(p, line, (gssize)len, NULL))
    return -1;
  JsonNode *root = json_parser_get_root(p);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root))
    return -1;
  JsonObject *o = json_node_get_object(root);
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

gboolean avma_chain_verify_log(const char *path, AvmaChainReport *out, GError **error) {
  memset(out, 0, sizeof *out);
  if (sodium_init() < 0) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "libsodium cannot start");
    return FALSE;
  }
  FILE *f = fopen(path, "re");
  if (!f) {
    int e = errno;
    if (e == ENOENT)
      return TRUE; /* no records yet */
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot open %s: %s", path,
                g_strerror(e));
    return FALSE;
  }
  g_autoptr(GArray) recs = g_array_new(FALSE, FALSE, sizeof(Rec));
  g_autoptr(JsonParser) p = json_parser_new();
  guint8 last_hash[AVMA_CHAIN_HASH_LEN] = {0}; /* zeros: the file's first line has none before */
  guint8 before_first[AVMA_CHAIN_HASH_LEN] = {0};
  char *buf = NULL;
  size_t cap = 0;
  ssize_t n;
  guint64 lineno = 0, last_seq = 0;
  gboolean started = FALSE;
  while ((n = getline(&buf, &cap, f)) > 0) {
    lineno++;
    gboolean whole = buf[n - 1] == '\n';
    gsize len = (gsize)n - (whole ? 1 : 0);
    Rec x = {.line = lineno};
    int kind = parse(p, buf, len, &x.seq, x.prev);
    if (!whole && kind != 1) {
      out->cut_tail = TRUE; /* a crash mid-append: never acknowledged, set aside at start */
      break;
    }
    sha256(buf, len, x.hash);
    if (kind == 1) {
      if (!started)
        memcpy(before_first, last_hash, sizeof last_hash);
      started = TRUE;
      g_array_append_val(recs, x);
      last_seq = x.seq;
    } else if (!started && kind == 0) {
      out->legacy++;
    } else if (kind == 0) {
      avma_chain_report_set(out, AVMA_CHAIN_INSERTED, last_seq + 1, lineno,
                            "line %" G_GUINT64_FORMAT " (after record %" G_GUINT64_FORMAT
                            ") is not a chained record: it was inserted or its chain members "
                            "removed",
                            lineno, last_seq);
    } else {
      avma_chain_report_set(out, AVMA_CHAIN_EDITED, last_seq + 1, lineno,
                            "line %" G_GUINT64_FORMAT " (after record %" G_GUINT64_FORMAT
                            ") is no longer a readable record: it was edited",
                            lineno, last_seq);
    }
    memcpy(last_hash, x.hash, sizeof last_hash);
  }
  gboolean failed = ferror(f);
  int e = errno;
  free(buf);
  fclose(f);
  if (failed) {
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot read %s: %s", path,
                g_strerror(e));
    return FALSE;
  }
  out->records = recs->len;
  analyse(out, recs, before_first);
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
