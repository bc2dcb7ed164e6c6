/* fsutil: durable file writes (temp + fsync + rename + directory fsync) and state directories. */
#pragma once
#include <glib.h>

/* Create dir (and parents) with mode if missing. */
gboolean avma_ensure_dir(const char *dir, int mode, GError **error);
/* Replace path atomically and durably: a crash leaves either the old or the new content. */
gboolean avma_write_atomic(const char *path, const char *data, gssize len, int mode,
                           GError **error);
/* Replace path atomically but not durably (temp file + rename, no fsync): for views rebuilt
 * from durable state, where a crash may leave the previous version but never a torn one. */
gboolean avma_write_replace(const char *path, const char *data, gssize len, int mode,
                            GError **error);
/* Append one line durably (O_APPEND, then fsync) to path, creating it with mode. The line must
 * not contain '\n'; one is added. */
gboolean avma_append_line(const char *path, const char *line, int mode, GError **error);
