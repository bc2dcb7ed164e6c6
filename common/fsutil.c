/* fsutil: durable file writes and state directories. */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

gboolean avma_ensure_dir(const char *dir, int mode, GError **error) {
  if (g_mkdir_with_parents(dir, mode) < 0) {
    int e = errno;
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot create directory %s: %s", dir,
                g_strerror(e));
    return FALSE;
  }
  return TRUE;
}

/* The rename is only durable once the directory entry is on disk. */
static gboolean fsync_parent(const char *path, GError **error) {
  g_autofree char *dir = g_path_get_dirname(path);
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || fsync(fd) < 0) {
    int e = errno;
    if (fd >= 0)
      close(fd);
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot sync directory %s: %s", dir,
                g_strerror(e));
    return FALSE;
  }
  close(fd);
  return TRUE;
}

gboolean avma_write_atomic(const char *path, const char *data, gssize len, int mode,
                           GError **error) {
  if (!g_file_set_contents_full(path, data, len,
                                G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, mode,
                                error))
    return FALSE;
  return fsync_parent(path, error);
}

gboolean avma_write_replace(const char *path, const char *data, gssize len, int mode,
                            GError **error) {
  g_autofree char *tmp = g_strdup_printf("%s.tmp.%d", path, (int)getpid());
  if (!g_file_set_contents_full(tmp, data, len, G_FILE_SET_CONTENTS_NONE, mode, error))
    return FALSE;
  if (rename(tmp, path) < 0) {
    int e = errno;
    (void)unlink(tmp);
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot replace %s: %s", path,
                g_strerror(e));
    return FALSE;
  }
  return TRUE;
}

gboolean avma_append_line(const char *path, const char *line, int mode, GError **error) {
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, mode);
  if (fd < 0) {
    int e = errno;
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot open %s: %s", path,
                g_strerror(e));
    return FALSE;
  }
  g_autofree char *buf = g_strconcat(line, "\n", NULL);
  size_t len = strlen(buf), off = 0;
  while (off < len) {
    ssize_t n = write(fd, buf + off, len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot write %s: %s", path,
                  g_strerror(e));
      return FALSE;
    }
    off += (size_t)n;
  }
  /* An event counts as logged only once it is on disk. */
  if (fdatasync(fd) < 0) {
    int e = errno;
    close(fd);
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot sync %s: %s", path,
                g_strerror(e));
    return FALSE;
  }
  close(fd);
  return TRUE;
}
