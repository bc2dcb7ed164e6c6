/* checkpoint-note: the text of a record log checkpoint, the signed note by which a host vouches
 * for its log's head (docs/audit.md "Signed checkpoints"): writing it, and opening one with the
 * keys a reader trusts. The daemon's checkpointer (host-agent/checkpoint.h) and avma-verify
 * share it. */
#pragma once
#include <glib.h>

#include "sign.h"

/* A SHA-256 in lower-case hex, with its NUL. */
#define AVMA_CHECKPOINT_HEAD_HEX 65

/* A checkpoint as its note says. */
typedef struct {
  guint64 seq;
  char head[AVMA_CHECKPOINT_HEAD_HEX];
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
