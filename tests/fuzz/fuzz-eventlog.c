/* fuzz-eventlog: reading an events.jsonl back (common/events.c), as `avma-host events`,
 * `avma-guest events` and the history import do. A line cut by a crash, or edited, is skipped and
 * counted, never fatal; whatever is read prints as one JSON array. */
#include "fuzz-glib.h"

#include "events.h"

static FuzzMemFile file;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_glib_init();
  fuzz_memfile_init(&file, "events.jsonl");
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_memfile_set(&file, data, size);
  guint skipped = 0;
  g_autoptr(GError) err = NULL;
  g_autoptr(GPtrArray) evs = avma_event_log_read(file.path, &skipped, &err);
  check(evs != NULL);
  guint lines = 0;
  for (size_t i = 0; i < size; i++)
    lines += data[i] == '\n';
  check(evs->len + skipped <= lines + 1);
  for (guint i = 0; i < evs->len; i++)
    check(evs->pdata[i] != NULL);
  return 0;
}
