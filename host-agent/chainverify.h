/* chainverify: checks a hash-chained record log (chainlog.h) as a whole and names the first bad
 * record and what happened to it. Read-only; needs no daemon. */
#pragma once
#include <glib.h>

#include "chainlog.h"

typedef enum {
  AVMA_CHAIN_INTACT,
  AVMA_CHAIN_EDITED,  /* a record's bytes changed (its successor's link, or it no longer parses) */
  AVMA_CHAIN_DELETED, /* a sequence number is missing */
  AVMA_CHAIN_REORDERED,  /* every record is there, not in sequence order */
  AVMA_CHAIN_DUPLICATED, /* a sequence number appears twice (a record inserted or replayed) */
  AVMA_CHAIN_INSERTED,   /* a line without chain members after the chain started */
  AVMA_CHAIN_TRUNCATED,  /* records a checkpoint or the store vouches for are gone from the end */
  AVMA_CHAIN_STORE_DIFFERS,  /* history.db holds a record or columns the log does not */
  AVMA_CHAIN_BAD_CHECKPOINT, /* a checkpoint whose signature fails or is by a foreign key */
} AvmaChainFinding;

const char *avma_chain_finding_name(AvmaChainFinding f);

typedef struct AvmaChainReport {
  AvmaChainFinding finding;
  guint64 record;    /* the first bad record's sequence number (0: none or not known) */
  guint64 line;      /* its line in the file (0: none) */
  char *detail;      /* what happened, for people (NULL when intact) */
  guint64 records;   /* chained records read */
  guint64 legacy;    /* lines written before the chain started (not covered by it) */
  guint64 head_seq;  /* highest sequence number read */
  gboolean cut_tail; /* the last line was cut by a crash: not tampering; the daemon sets it
                      * aside at its next start */
  GArray *hashes;    /* private: index seq -> line hash (32 bytes each; index 0 unused) */
} AvmaChainReport;

void avma_chain_report_clear(AvmaChainReport *r);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(AvmaChainReport, avma_chain_report_clear)

/* Walk the log at path. FALSE (error set) only when it cannot be read; tampering is in *out. */
gboolean avma_chain_verify_log(const char *path, AvmaChainReport *out, GError **error);

/* Whether the log holds record seq with exactly these bytes (a record line from elsewhere: the
 * store, a receipt). */
gboolean avma_chain_report_has(const AvmaChainReport *r, guint64 seq, const char *line);

/* The hash (hex) the log's record seq has, into out (AVMA_CHAIN_HASH_HEX bytes); FALSE when the
 * log has no such record (or was not intact up to it). */
gboolean avma_chain_report_hash(const AvmaChainReport *r, guint64 seq, char *out);

/* Record the first finding only: later ones are consequences or can wait. */
void avma_chain_report_set(AvmaChainReport *r, AvmaChainFinding f, guint64 record, guint64 line,
                           const char *fmt, ...) G_GNUC_PRINTF(5, 6);
