/* fuzz-receipts: loading the guest's kept receipts (STATE/receipts.json, guest-agent/receipts.c)
 * as `avma-guest receipt` and `dlv` do. Each entry is re-checked on reading, so the host's notes
 * and keys, which came from the host, reach the signed-note and receipt parsers too: a torn or
 * hostile file must load or fail cleanly. */
#include "fuzz-glib.h"

#include "receipts.h"

static FuzzMemFile file;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_glib_init();
  fuzz_memfile_init(&file, "receipts.json");
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_memfile_set(&file, data, size);
  g_autoptr(GError) err = NULL;
  g_autoptr(JsonArray) a = avma_guest_receipts_load(file.path, &err);
  check((a == NULL) == (err != NULL));
  return 0;
}
