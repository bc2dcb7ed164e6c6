/* fuzz-glib: the scaffolding every glib fuzz target shares: an invariant check that names what
 * failed, glib set up so a critical warning is a crash, and input files the real loaders open by
 * path (a memfd, or a file in a private scratch directory). */
#pragma once
#include <glib.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Says which invariant failed, then aborts (libFuzzer keeps the input). */
#define check(x) ((x) ? (void)0 : fuzz_fail(__FILE__, __LINE__, #x))
static inline void fuzz_fail(const char *file, int line, const char *what) {
  fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
  abort();
}

static inline GLogWriterOutput fuzz_log_writer(GLogLevelFlags level, const GLogField *fields,
                                               gsize n, gpointer user) {
  (void)fields, (void)n, (void)user;
  if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR))
    abort();
  return G_LOG_WRITER_HANDLED;
}

/* Warnings and messages are expected (bad input is reported); criticals are bugs. */
static inline void fuzz_glib_init(void) {
  setenv("G_SLICE", "always-malloc", 1);
  g_log_set_writer_func(fuzz_log_writer, NULL, NULL);
}

/* A file the loader opens by path, without touching the disk: a memfd seen as /proc/self/fd/N. */
typedef struct {
  int fd;
  char path[64];
} FuzzMemFile;

static inline void fuzz_memfile_init(FuzzMemFile *f, const char *name) {
  f->fd = memfd_create(name, MFD_CLOEXEC);
  check(f->fd >= 0);
  snprintf(f->path, sizeof f->path, "/proc/self/fd/%d", f->fd);
}

static inline void fuzz_memfile_set(FuzzMemFile *f, const uint8_t *data, size_t size) {
  check(ftruncate(f->fd, 0) == 0);
  check(size == 0 || pwrite(f->fd, data, size, 0) == (ssize_t)size);
}

/* A private scratch directory (in /dev/shm when there is one), for loaders that take a state
 * directory and a file name. Removed at exit. */
static char *fuzz_scratch_dir;
static inline void fuzz_scratch_remove(void) {
  if (!fuzz_scratch_dir)
    return;
  g_autoptr(GDir) d = g_dir_open(fuzz_scratch_dir, 0, NULL);
  const char *n;
  while (d && (n = g_dir_read_name(d))) {
    g_autofree char *p = g_build_filename(fuzz_scratch_dir, n, NULL);
    g_unlink(p);
  }
  g_rmdir(fuzz_scratch_dir);
}
static inline const char *fuzz_scratch(void) {
  if (!fuzz_scratch_dir) {
    const char *base = g_file_test("/dev/shm", G_FILE_TEST_IS_DIR) ? "/dev/shm" : g_get_tmp_dir();
    fuzz_scratch_dir = g_build_filename(base, "avma-fuzz-XXXXXX", NULL);
    check(g_mkdtemp(fuzz_scratch_dir) != NULL);
    atexit(fuzz_scratch_remove);
  }
  return fuzz_scratch_dir;
}
/* Write data as scratch/name; returns its path (owned by the caller). */
static inline char *fuzz_scratch_file(const char *name, const uint8_t *data, size_t size) {
  char *p = g_build_filename(fuzz_scratch(), name, NULL);
  check(g_file_set_contents(p, (const char *)data, (gssize)size, NULL));
  return p;
}
