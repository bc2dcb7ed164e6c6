/* fsutil: durable file writes and state directories. */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
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

static gboolean set_errno_error(GError **error, const char *what, const char *path) {
  int e = errno;
  g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot %s %s: %s", what, path,
              g_strerror(e));
  return FALSE;
}

static gboolean write_all(int fd, const char *data, size_t len) {
  size_t off = 0;
  while (off < len) {
    ssize_t n = write(fd, data + off, len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return FALSE;
    off += (size_t)n;
  }
  return TRUE;
}

/* Temp file + rename, written here rather than with g_file_set_contents_full because the root-run
 * CLI writes into directories the daemon's user owns: the temp name must be unpredictable and
 * created with O_EXCL (mkstemp), so a planted symlink is never followed, and the mode must be
 * exactly `mode` whatever the caller's umask (root's 077 made licence.conf unreadable by the
 * daemon). */
static gboolean replace_file(const char *path, const char *data, gssize len, int mode,
                             gboolean durable, GError **error) {
  size_t n = len < 0 ? strlen(data) : (size_t)len;
  g_autofree char *tmp = g_strconcat(path, ".XXXXXX", NULL);
  int fd = g_mkstemp_full(tmp, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0)
    return set_errno_error(error, "create a temporary file for", path);
  gboolean ok =
      fchmod(fd, (mode_t)mode) == 0 && write_all(fd, data, n) && (!durable || fsync(fd) == 0);
  if (!ok) {
    set_errno_error(error, "write", tmp);
    close(fd);
    (void)unlink(tmp);
    return FALSE;
  }
  if (close(fd) < 0) {
    set_errno_error(error, "write", tmp);
    (void)unlink(tmp);
    return FALSE;
  }
  if (rename(tmp, path) < 0) {
    set_errno_error(error, "replace", path);
    (void)unlink(tmp);
    return FALSE;
  }
  return !durable || fsync_parent(path, error);
}

gboolean avma_write_atomic(const char *path, const char *data, gssize len, int mode,
                           GError **error) {
  return replace_file(path, data, len, mode, TRUE, error);
}

gboolean avma_write_replace(const char *path, const char *data, gssize len, int mode,
                            GError **error) {
  return replace_file(path, data, len, mode, FALSE, error);
}

gboolean avma_append_line(const char *path, const char *line, int mode, GError **error) {
  /* O_NOFOLLOW: the root-run CLI appends in a directory the daemon's user owns, where a planted
   * symlink would make root write elsewhere. A file this call creates gets exactly `mode`,
   * whatever the umask. */
  int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
  if (fd < 0 && errno == ENOENT) {
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
              mode);
    if (fd >= 0 && fchmod(fd, (mode_t)mode) < 0) {
      close(fd);
      return set_errno_error(error, "set the mode of", path);
    }
    if (fd < 0 && errno == EEXIST) /* created meanwhile by another writer */
      fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
  }
  if (fd < 0)
    return set_errno_error(error, "open", path);
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME,
                "cannot append to %s: not a "
                "regular file",
                path);
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
