/* chainlog: the host's one append-only record log (STATE/events.jsonl), hash-chained. Every
 * record written through it ends with two members: "seq", its sequence number (1, 2, ...), and
 * "prev", the SHA-256 (lower-case hex) of the exact bytes of the line before it (without the
 * newline; 64 zeros for the first line of the file). Appends are made durable in groups: one
 * fdatasync covers every record written since the last, and whoever waits for durability is told
 * after it (group commit). One writer: the daemon. */
#pragma once
#include <glib.h>

#define AVMA_CHAIN_HASH_LEN 32
#define AVMA_CHAIN_HASH_HEX (2 * AVMA_CHAIN_HASH_LEN + 1)
/* The chain's members, appended at the end of every record (after the kind's own members). */
#define AVMA_CHAIN_SEQ "seq"
#define AVMA_CHAIN_PREV "prev"

typedef struct AvmaChainLog AvmaChainLog;

/* Open (create, mode 0640) and read the tail to continue the chain. A last line cut by a crash
 * mid-append (no newline at its end) was never acknowledged: its bytes are moved to a side file
 * PATH.cut-<record number>-<unix time>, the log is truncated to the last whole record, and a
 * warning names the record; *cut_file (may be NULL) gets the side file's path. */
AvmaChainLog *avma_chain_log_open(const char *path, char **cut_file, GError **error);
/* Syncs what is pending and tells the waiters first. */
void avma_chain_log_free(AvmaChainLog *log);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaChainLog, avma_chain_log_free)
const char *avma_chain_log_path(AvmaChainLog *log);

/* Write one record (a JSON object's text, no newline) with its chain members; not yet durable.
 * *seq (may be NULL) gets its sequence number. A failed write leaves the log as it was. A commit
 * is scheduled on the default main context. */
gboolean avma_chain_log_append(AvmaChainLog *log, const char *record, guint64 *seq, GError **error);
/* Run the commits' fdatasync in a writer thread, so the main loop serves other guests while the
 * disk flushes; waiters are still told on the main loop (tests/bench/PROFILE.md has the figures).
 */
void avma_chain_log_use_thread(AvmaChainLog *log);
/* fdatasync now if anything is pending, then tell the waiters. */
gboolean avma_chain_log_sync(AvmaChainLog *log, GError **error);
/* fn is called once everything written so far is durable (error NULL), or the sync failed. It is
 * called from the commit (an idle source at default priority), or from sync/free. */
typedef void (*AvmaChainDurableFn)(const GError *error, gpointer user);
void avma_chain_log_when_durable(AvmaChainLog *log, AvmaChainDurableFn fn, gpointer user);

/* The last record written: its sequence number (0 before the first) and the hash of the last
 * line (hex), which the next record's prev holds. */
guint64 avma_chain_log_head_seq(AvmaChainLog *log);
const char *avma_chain_log_head_hash(AvmaChainLog *log);
/* Bytes durable so far (readers of the file stop there). */
gint64 avma_chain_log_durable_size(AvmaChainLog *log);
/* fdatasync calls made (benchmarks: how many decisions shared one). */
guint64 avma_chain_log_syncs(AvmaChainLog *log);

/* Readers of the log (verify, export): each line of PATH in order, without its newline, as
 * fn(line, len, whole, lineno, user); whole is FALSE only for a last line with no newline (being
 * appended, or cut by a crash). Stops when fn returns FALSE. A missing file reads as empty when
 * missing_ok. FALSE with error when PATH cannot be opened or read. */
typedef gboolean (*AvmaChainLineFn)(const char *line, gsize len, gboolean whole, guint64 lineno,
                                    gpointer user);
gboolean avma_chain_read_lines(const char *path, gboolean missing_ok, AvmaChainLineFn fn,
                               gpointer user, GError **error);

/* SHA-256 of bytes as lower-case hex (out: AVMA_CHAIN_HASH_HEX bytes). */
void avma_chain_hash_hex(const void *data, gsize len, char *out);
