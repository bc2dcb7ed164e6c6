/* checkpoint-note: the checkpoint note's text, written and read. */
#include "checkpoint-note.h"

#include "timeutil.h"

#include <gio/gio.h>
#include <string.h>

#define MAGIC "avma-checkpoint v1"

void avma_checkpoint_clear(AvmaCheckpoint *cp) {
  g_free(cp->host_id);
  memset(cp, 0, sizeof *cp);
}

char *avma_checkpoint_text(const AvmaCheckpoint *cp) {
  g_autofree char *at = avma_time_format(cp->signed_at);
  return g_strdup_printf(MAGIC "\nhost %s\nlog events.jsonl\nseq %" G_GUINT64_FORMAT
                               "\nhead %s\nsigned-at %s\n",
                         cp->host_id, cp->seq, cp->head, at);
}

static gboolean bad(GError **error, const char *why) {
  g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "not a checkpoint: %s", why);
  return FALSE;
}

gboolean avma_checkpoint_open(const char *note, const AvmaNoteKey *keys, gsize n_keys,
                              AvmaCheckpoint *out, GError **error) {
  memset(out, 0, sizeof *out);
  g_autofree char *text = NULL;
  if (!avma_note_open(note, keys, n_keys, &text, NULL, error))
    return FALSE;
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  if (g_strv_length(lines) != 7 || strcmp(lines[0], MAGIC) || *lines[6])
    return bad(error, "unexpected lines");
  const char *want[] = {"host ", "log ", "seq ", "head ", "signed-at "};
  for (int i = 0; i < 5; i++)
    if (!g_str_has_prefix(lines[i + 1], want[i]))
      return bad(error, want[i]);
  const char *host = lines[1] + 5, *seq = lines[3] + 4, *head = lines[4] + 5, *at = lines[5] + 10;
  guint64 s = 0;
  if (!g_ascii_string_to_unsigned(seq, 10, 1, G_MAXINT64, &s, NULL))
    return bad(error, "seq");
  if (strlen(head) != AVMA_CHECKPOINT_HEAD_HEX - 1 ||
      strspn(head, "0123456789abcdef") != strlen(head))
    return bad(error, "head");
  gint64 t = 0;
  if (!avma_time_parse(at, &t))
    return bad(error, "signed-at");
  out->seq = s;
  memcpy(out->head, head, AVMA_CHECKPOINT_HEAD_HEX);
  out->host_id = g_strdup(host);
  out->signed_at = t;
  return TRUE;
}
