/* checkpoint: signed checkpoints of the record log (chainlog.h). Every [history]
 * checkpoint_records records or checkpoint_interval seconds (whichever comes first, once anything
 * new is durable) and at a clean stop, the daemon signs the log's head with the host key as a
 * C2SP signed note and appends it to STATE/checkpoints.jsonl (one JSON line per checkpoint, the
 * note verbatim in "note"; only the note is trusted). Truncating the log behind a checkpoint, or
 * editing the record it names, is then caught by whoever holds the host's public key. */
#pragma once
#include "state-files.h"
#include <glib.h>

#include "checkpoint-note.h"
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

/* The key id (hex) that signed the newest checkpoint of STATE/checkpoints.jsonl, when it is one
 * of the host's keys; NULL otherwise. A daemon that starts with another key was rotated while
 * stopped. Caller frees. */
char *avma_checkpoint_last_signer(const char *state_dir);

/* STATE/checkpoints.jsonl split in lines (*lines NULL when there is no such file) and the keys
 * that may have signed them (the host's current and retired keys, AvmaNoteKey). FALSE when the
 * file or the keys cannot be read. */
gboolean avma_checkpoint_file_read(const char *state_dir, char ***lines, GArray **keys,
                                   GError **error);

/* The note itself (AvmaCheckpoint, avma_checkpoint_text, avma_checkpoint_open). */
G_STATIC_ASSERT(AVMA_CHECKPOINT_HEAD_HEX == AVMA_CHAIN_HASH_HEX);
