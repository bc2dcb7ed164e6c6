/* fuzz-schema: schema validation of fuzzed records. Input: 1 mode byte, then either a record-list
 * payload (mode even: decoded, every record validated with both writers) or, to reach the value
 * validators directly, a key index byte and a raw value (mode odd). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok) {
  if (!ok)
    abort();
}

static void validate_both(const AvmaRecord *r) {
  AvmaSchemaStatus as_host = avma_schema_validate(r, AVMA_WRITER_HOST);
  AvmaSchemaStatus as_guest = avma_schema_validate(r, AVMA_WRITER_GUEST);
  const AvmaKeyDef *d = avma_schema_lookup(r->pool, r->key, r->key_len);
  if (!d) {
    check(as_host == AVMA_SCHEMA_UNKNOWN_KEY && as_guest == AVMA_SCHEMA_UNKNOWN_KEY);
    return;
  }
  check(d->pool == r->pool && strlen(d->name) == r->key_len &&
        memcmp(d->name, r->key, r->key_len) == 0);
  /* Exactly one writer may write a key; for it, the verdict depends on the value alone. */
  AvmaSchemaStatus mine = d->writer == AVMA_WRITER_HOST ? as_host : as_guest;
  AvmaSchemaStatus theirs = d->writer == AVMA_WRITER_HOST ? as_guest : as_host;
  check(theirs == AVMA_SCHEMA_WRONG_WRITER);
  check(mine == AVMA_SCHEMA_OK || mine == AVMA_SCHEMA_TOO_LONG || mine == AVMA_SCHEMA_BAD_VALUE);
  check((mine == AVMA_SCHEMA_TOO_LONG) == (r->value_len > d->max_len));
  if (mine == AVMA_SCHEMA_OK) {
    /* A valid value also passes when found again through the helpers. */
    size_t len;
    const char *v = avma_records_find(r, 1, d->id, &len);
    check(v == r->value && len == r->value_len);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  uint8_t mode = data[0];
  data++, size--;
  uint8_t *buf = malloc(size ? size : 1); /* exact size, so ASan sees overreads */
  memcpy(buf, data, size);
  if (mode & 1) {
    if (size >= 1) {
      const AvmaKeyDef *d = &avma_schema_keys[buf[0] % AVMA_KEY__COUNT];
      AvmaRecord r = {d->pool, d->name, strlen(d->name), (const char *)buf + 1, size - 1};
      if (avma_record_check(&r) == AVMA_KVP_OK)
        validate_both(&r);
    }
  } else {
    AvmaRecord *recs = malloc(AVMA_KVP_MAX_RECORDS * sizeof *recs);
    size_t n = 0;
    if (avma_records_decode(buf, size, recs, AVMA_KVP_MAX_RECORDS, &n) == AVMA_KVP_OK) {
      for (size_t i = 0; i < n; i++)
        validate_both(&recs[i]);
      for (int id = 0; id < AVMA_KEY__COUNT; id++) {
        size_t len;
        const char *v = avma_records_find(recs, n, (AvmaKeyId)id, &len);
        check(!v || len <= AVMA_KVP_MAX_VALUE);
      }
    }
    free(recs);
  }
  free(buf);
  return 0;
}
