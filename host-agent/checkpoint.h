/* checkpoint: signed checkpoints of the record log (chainlog.h). Every [history]
 * checkpoint_records records or checkpoint_interval seconds (whichever comes first, once anything
 * new is durable) and at a clean stop, the daemon signs the log's head with the host key as a
 * C2SP signed note and appends it to STATE/checkpoints.jsonl (one JSON line per checkpoint, the
 * note verbatim in "note"; only the note is trusted). Truncating the log behind a checkpoint, or
 * editing the record it names, is then caught by whoever holds the host's public key. */
#pragma once
#include "state-files.h"
#include <glib.h>

#include "host.h"
#include "hostkey.h"

typedef struct AvmaCheckpointer AvmaCheckpointer;
/* host: a reference is held; key: borrowed, must outlive it. */
AvmaCheckpointer *avma_checkpointer_new(AvmaHost *host, AvmaHostKey *key);
/* Writes a last checkpoint when records were written since the previous one. */
void avma_checkpointer_free(AvmaCheckpointer *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaCheckpointer, avma_checkpointer_free)
/* Sign the head now (when it moved since the last checkpoint). */
gboolean avma_checkpointer_write(AvmaCheckpointer *c, GError **error);

/* A checkpoint as its note says. */
typedef struct {
  guint64 seq;
  char head[AVMA_CHAIN_HASH_HEX];
  char *host_id;
  gint64 signed_at;
} AvmaCheckpoint;
void avma_checkpoint_clear(AvmaCheckpoint *cp);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(AvmaCheckpoint, avma_checkpoint_clear)
/* The note's text for a checkpoint (what is signed). Caller frees. */
char *avma_checkpoint_text(const AvmaCheckpoint *cp);
/* Open a checkpoint note with any of keys (AVMA_SIGN_ERROR on a bad or foreign signature) and
 * parse its text (G_IO_ERROR_INVALID_DATA when it is not a checkpoint). */
gboolean avma_checkpoint_open(const char *note, const AvmaNoteKey *keys, gsize n_keys,
                              AvmaCheckpoint *out, GError **error);
