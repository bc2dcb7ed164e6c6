/* fuzz-guestconf: avma_guest_config_load on arbitrary guest.conf text, read from a memfd by its
 * /proc/self/fd path (the real loader, no disk). What loads must hold valid values. */
#include "fuzz-glib.h"

#include "guest-config.h"

static FuzzMemFile file;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_glib_init();
  fuzz_memfile_init(&file, "guest.conf");
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_memfile_set(&file, data, size);
  g_autoptr(GError) err = NULL;
  gboolean over = size > 0 && (data[0] & 1);
  g_autoptr(AvmaGuestConfig) c =
      avma_guest_config_load(file.path, over ? "/state" : NULL, over ? "/dev/port" : NULL, &err);
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
