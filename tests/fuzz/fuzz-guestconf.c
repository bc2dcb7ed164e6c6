/* fuzz-guestconf: avma_guest_config_load on arbitrary guest.conf text, read from a memfd by its
 * /proc/self/fd path (the real loader, no disk). What loads must hold valid values. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest-config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok) {
  if (!ok)
    abort();
}

static int fd = -1;
static char path[64];

static GLogWriterOutput writer(GLogLevelFlags level, const GLogField *fields, gsize n,
                               gpointer user) {
  (void)fields, (void)n, (void)user;
  if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR))
    abort();
  return G_LOG_WRITER_HANDLED;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  setenv("G_SLICE", "always-malloc", 1);
  g_log_set_writer_func(writer, NULL, NULL);
  fd = memfd_create("guest.conf", MFD_CLOEXEC);
  check(fd >= 0);
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check(ftruncate(fd, 0) == 0);
  check(pwrite(fd, data, size, 0) == (ssize_t)size);
  g_autoptr(GError) err = NULL;
  gboolean over = size > 0 && (data[0] & 1);
  g_autoptr(AvmaGuestConfig) c =
      avma_guest_config_load(path, over ? "/state" : NULL, over ? "/dev/port" : NULL, &err);
  if (!c) {
    check(err != NULL && err->message != NULL);
    return 0;
  }
  check(err == NULL && c->state_dir != NULL && c->port != NULL);
  if (over)
    check(!strcmp(c->state_dir, "/state") && !strcmp(c->port, "/dev/port"));
  check(c->product_version <= AVMA_VERSION_2025 && c->product_edition <= AVMA_EDITION_ESSENTIALS);
  const AvmaTiming *t = &c->timing;
  check(t->request_timeout >= 1 && t->renew_interval >= 1 && t->retry_initial >= 1 &&
        t->presence_interval >= 1 && t->retry_max >= t->retry_initial);
  g_autofree char *p = avma_guest_state_path(c, "guest.state");
  check(p != NULL);
  return 0;
}
