/* fuzz-licence: licence.conf as the daemon loads it (host-agent/licence.c). The file is root's,
 * but a torn or hand-edited one must give a clear error or a licence inside its ranges, never a
 * crash: the daemon answers Invalid Host on error rather than guess. */
#include "fuzz-glib.h"

#include "licence.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_glib_init();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  g_free(fuzz_scratch_file("licence.conf", data, size));
  AvmaLicence l;
  g_autoptr(GError) err = NULL;
  if (!avma_licence_load(fuzz_scratch(), &l, &err)) {
    check(err != NULL && err->message != NULL);
    return 0;
  }
  check(l.version >= AVMA_VERSION_UNKNOWN && l.version <= AVMA_VERSION_2025);
  check(l.edition >= AVMA_EDITION_UNKNOWN && l.edition <= AVMA_EDITION_ESSENTIALS);
  check(strlen(l.key_last5) <= 5);
  AvmaHostLicence h = avma_licence_policy_view(&l);
  check(h.version == l.version);
  g_autoptr(JsonObject) j = avma_licence_to_json(&l);
  check(j != NULL);
  avma_licence_clear(&l);
  return 0;
}
