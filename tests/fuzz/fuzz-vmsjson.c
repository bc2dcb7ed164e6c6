/* fuzz-vmsjson: loading STATE/vms.json (host-agent/vmview.c) as `avma-host vms` does. The file is
 * the daemon's, but its contents come from guests (names, FQDNs, OS strings): a torn or hostile
 * file must load or fail cleanly. */
#include "fuzz-glib.h"

#include "vmview.h"

static FuzzMemFile file;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_glib_init();
  fuzz_memfile_init(&file, "vms.json");
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_memfile_set(&file, data, size);
  g_autoptr(GError) err = NULL;
  g_autoptr(JsonObject) o = avma_vmview_load(file.path, &err);
  check((o == NULL) == (err != NULL));
  return 0;
}
