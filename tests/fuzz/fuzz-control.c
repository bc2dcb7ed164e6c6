/* fuzz-control: one request line of the guest's control socket (guest-agent/control-request.c),
 * as avma-guestd parses it before acting. Root-only, but a malformed line must be an error,
 * never a crash or a critical. */
#include "fuzz-glib.h"

#include "control-request.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_glib_init();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  AvmaControlRequest r;
  g_autoptr(GError) err = NULL;
  gboolean ok = avma_control_request_parse((const char *)data, size, &r, &err);
  check(ok == (err == NULL));
  if (ok) {
    check(size <= AVMA_CONTROL_MAX_REQUEST);
    check(r.verb == AVMA_CONTROL_ATO || r.verb == AVMA_CONTROL_IPK || r.verb == AVMA_CONTROL_UPK ||
          r.verb == AVMA_CONTROL_PORT);
    check((r.key != NULL) == (r.verb == AVMA_CONTROL_IPK));
  } else {
    check(r.key == NULL);
    check(err->message && *err->message);
  }
  avma_control_request_clear(&r);
  return 0;
}
