/* fuzz-kvp: record-list decoding of arbitrary payloads; what decodes re-encodes to the same bytes,
 * and the UTF-8 validator agrees with a code-point reference. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok) {
  if (!ok)
    abort();
}

/* Reference: decode code points the long way and check each against the Unicode rules. */
static int utf8_reference(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint32_t c = s[i], cp;
    size_t len;
    if (c < 0x80)
      len = 1, cp = c;
    else if ((c & 0xE0) == 0xC0)
      len = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0)
      len = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0)
      len = 4, cp = c & 0x07;
    else
      return 0;
    if (n - i < len)
      return 0;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80)
        return 0;
      cp = cp << 6 | (s[i + k] & 0x3F);
    }
    static const uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp == 0 || cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return 0;
    i += len;
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* Exact-size copies so ASan catches overreads of the payload or of a string. */
  uint8_t *payload = malloc(size ? size : 1);
  memcpy(payload, data, size);

  check(avma_utf8_valid((const char *)payload, size) == utf8_reference(payload, size));

  AvmaRecord *recs = malloc(AVMA_KVP_MAX_RECORDS * sizeof *recs);
  size_t n = 12345;
  AvmaKvpStatus st = avma_records_decode(payload, size, recs, AVMA_KVP_MAX_RECORDS, &n);
  check(st <= AVMA_KVP_BAD_UTF8 && st != AVMA_KVP_NO_SPACE);
  if (st == AVMA_KVP_OK) {
    check(n <= AVMA_KVP_MAX_RECORDS);
    for (size_t i = 0; i < n; i++) {
      check(avma_record_check(&recs[i]) == AVMA_KVP_OK);
      check(utf8_reference((const uint8_t *)recs[i].key, recs[i].key_len));
      check(utf8_reference((const uint8_t *)recs[i].value, recs[i].value_len));
    }
    /* The codec is canonical: re-encoding gives back the input exactly. */
    uint8_t *out = malloc(size);
    size_t len = 0;
    check(avma_records_encode(recs, n, out, size, &len) == AVMA_KVP_OK);
    check(len == size && memcmp(out, payload, size) == 0);
    if (size > 0)
      check(avma_records_encode(recs, n, out, size - 1, &len) == AVMA_KVP_NO_SPACE);
    free(out);
    /* A smaller caller capacity is refused, never overrun. */
    if (n > 0)
      check(avma_records_decode(payload, size, recs, n - 1, &n) == AVMA_KVP_TOO_MANY);
  } else {
    check(n == 0);
  }

  AvmaPool pool;
  uint32_t start;
  if (avma_enumerate_decode(payload, size, &pool, &start)) {
    uint8_t e[5];
    check(avma_enumerate_encode(pool, start, e, sizeof e) == 5 && memcmp(e, payload, 5) == 0);
  }
  free(recs);
  free(payload);
  return 0;
}
