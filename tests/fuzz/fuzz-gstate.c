/* fuzz-gstate: the guest.state parser on arbitrary text. It never reads past the input; a text it
 * accepts formats to a file that parses to the same state (format is a fixed point after one
 * round), and every string field stays NUL-terminated within its array. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok) {
  if (!ok)
    abort();
}

#define TERMINATED(s, f) check(memchr((s)->f, '\0', sizeof(s)->f) != NULL)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* An exact-size copy, so ASan sees any read past the end. */
  char *text = malloc(size ? size : 1);
  if (size)
    memcpy(text, data, size);
  AvmaGState s;
  avma_gstate_init(&s);
  char why[160];
  bool ok = avma_gstate_parse(&s, text, size, why, sizeof why);
  free(text);
  if (!ok) {
    check(why[0] != '\0');
    return 0;
  }
  TERMINATED(&s, guest_id);
  TERMINATED(&s, key);
  TERMINATED(&s, last_notification);
  TERMINATED(&s, last_reason);
  TERMINATED(&s, host_id);
  TERMINATED(&s, host_name);
  TERMINATED(&s, host_version);
  TERMINATED(&s, vm_name);
  TERMINATED(&s, vm_id);
  check(!*s.guest_id || avma_uuid_valid(s.guest_id));
  static char one[AVMA_GSTATE_TEXT_MAX], two[AVMA_GSTATE_TEXT_MAX];
  size_t n1 = avma_gstate_format(&s, one, sizeof one);
  check(n1 > 0 && n1 == strlen(one));
  AvmaGState t;
  avma_gstate_init(&t);
  check(avma_gstate_parse(&t, one, n1, why, sizeof why));
  size_t n2 = avma_gstate_format(&t, two, sizeof two);
  check(n2 == n1 && memcmp(one, two, n1) == 0);
  check(t.key_is_avma == s.key_is_avma && t.licensed == s.licensed &&
        t.granted_until == s.granted_until && t.failures == s.failures);
  (void)avma_gstate_status(&t, 1800000000);
  return 0;
}
