/* kvp: pools, record limits, strict UTF-8 and the record-list payload codec (PROTOCOL.md). */
#include "kvp.h"

#include <string.h>

#define RECORD_HEADER 5u /* u8 pool, u16 key_len, u16 value_len */

static const char *const pool_names[AVMA_POOL__COUNT] = {"external", "guest", "auto",
                                                         "auto-external", "auto-internal"};

const char *avma_pool_name(AvmaPool pool) {
  if ((unsigned)pool >= AVMA_POOL__COUNT)
    return "unknown";
  return pool_names[pool];
}

bool avma_pool_from_name(const char *name, AvmaPool *out) {
  if (!name)
    return false;
  for (unsigned i = 0; i < AVMA_POOL__COUNT; i++) {
    if (strcmp(name, pool_names[i]) == 0) {
      if (out)
        *out = (AvmaPool)i;
      return true;
    }
  }
  return false;
}

const char *avma_kvp_status_name(AvmaKvpStatus s) {
  switch (s) {
  case AVMA_KVP_OK:
    return "ok";
  case AVMA_KVP_TRUNCATED:
    return "truncated";
  case AVMA_KVP_TRAILING:
    return "trailing";
  case AVMA_KVP_TOO_MANY:
    return "too-many";
  case AVMA_KVP_BAD_POOL:
    return "bad-pool";
  case AVMA_KVP_KEY_EMPTY:
    return "key-empty";
  case AVMA_KVP_KEY_TOO_LONG:
    return "key-too-long";
  case AVMA_KVP_VALUE_TOO_LONG:
    return "value-too-long";
  case AVMA_KVP_BAD_UTF8:
    return "bad-utf8";
  case AVMA_KVP_NO_SPACE:
    return "no-space";
  }
  return "unknown";
}

/* Length of the valid UTF-8 character at s (at most len bytes), 0 when it is not one; its code
 * point in *cp. NUL is not a character here: it would truncate the value for C consumers. */
static size_t utf8_char(const unsigned char *s, size_t len, uint32_t *cp) {
  unsigned c = s[0];
  if (c == 0)
    return 0;
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  /* Ranges of the second byte follow RFC 3629's table, which excludes overlongs (E0 80..9F,
   * F0 80..8F), surrogates (ED A0..BF) and code points above U+10FFFF (F4 90..BF, F5..FF). */
  size_t n;
  unsigned lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0)
      lo = 0xA0;
    else if (c == 0xED)
      hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0)
      lo = 0x90;
    else if (c == 0xF4)
      hi = 0x8F;
  } else {
    return 0; /* continuation byte, C0/C1 overlong lead, or F5..FF */
  }
  if (len < n || s[1] < lo || s[1] > hi)
    return 0;
  uint32_t v = c & (0xFFu >> (n + 1));
  for (size_t k = 1; k < n; k++) {
    if ((s[k] & 0xC0) != 0x80)
      return 0;
    v = v << 6 | (s[k] & 0x3Fu);
  }
  *cp = v;
  return n;
}

bool avma_utf8_valid(const char *str, size_t len) {
  const unsigned char *s = (const unsigned char *)str;
  if (len > 0 && !s)
    return false;
  size_t i = 0;
  while (i < len) {
    uint32_t cp;
    size_t n = utf8_char(s + i, len - i, &cp);
    if (n == 0)
      return false;
    i += n;
  }
  return true;
}

bool avma_text_char_unsafe(uint32_t cp) {
  return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || cp == 0x061C || cp == 0x200E ||
         cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

bool avma_text_safe(const char *str, size_t len) {
  const unsigned char *s = (const unsigned char *)str;
  if (len > 0 && !s)
    return false;
  for (size_t i = 0; i < len;) {
    uint32_t cp;
    size_t n = utf8_char(s + i, len - i, &cp);
    if (n == 0 || avma_text_char_unsafe(cp))
      return false;
    i += n;
  }
  return true;
}

size_t avma_text_sanitize(const char *str, size_t len, char *out, size_t cap) {
  if (cap == 0)
    return 0;
  const unsigned char *s = (const unsigned char *)str;
  size_t o = 0;
  for (size_t i = 0; s && i < len;) {
    uint32_t cp;
    size_t n = utf8_char(s + i, len - i, &cp);
    bool bad = n == 0 || avma_text_char_unsafe(cp);
    size_t w = bad ? 1 : n;
    if (o + w >= cap)
      break; /* cut before the character, never inside it */
    if (bad)
      out[o++] = '?';
    else
      memcpy(out + o, s + i, n), o += n;
    i += n ? n : 1;
  }
  out[o] = '\0';
  return o;
}

AvmaKvpStatus avma_record_check(const AvmaRecord *r) {
  if ((unsigned)r->pool >= AVMA_POOL__COUNT)
    return AVMA_KVP_BAD_POOL;
  if (r->key_len == 0)
    return AVMA_KVP_KEY_EMPTY;
  if (r->key_len > AVMA_KVP_MAX_KEY)
    return AVMA_KVP_KEY_TOO_LONG;
  if (r->value_len > AVMA_KVP_MAX_VALUE)
    return AVMA_KVP_VALUE_TOO_LONG;
  if (!avma_utf8_valid(r->key, r->key_len) || !avma_utf8_valid(r->value, r->value_len))
    return AVMA_KVP_BAD_UTF8;
  return AVMA_KVP_OK;
}

static unsigned get_be16(const uint8_t *p) {
  return (unsigned)p[0] << 8 | p[1];
}

static void put_be16(uint8_t *p, size_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

AvmaKvpStatus avma_records_decode(const uint8_t *payload, size_t len, AvmaRecord *out, size_t cap,
                                  size_t *n_out) {
  if (n_out)
    *n_out = 0;
  if (len < 2 || !payload)
    return AVMA_KVP_TRUNCATED; /* even an empty list carries its count */
  size_t count = get_be16(payload);
  if (count > AVMA_KVP_MAX_RECORDS || count > cap)
    return AVMA_KVP_TOO_MANY;
  size_t pos = 2;
  for (size_t i = 0; i < count; i++) {
    if (len - pos < RECORD_HEADER)
      return AVMA_KVP_TRUNCATED;
    AvmaRecord r;
    r.pool = (AvmaPool)payload[pos];
    r.key_len = get_be16(payload + pos + 1);
    r.value_len = get_be16(payload + pos + 3);
    pos += RECORD_HEADER;
    if ((unsigned)r.pool >= AVMA_POOL__COUNT)
      return AVMA_KVP_BAD_POOL;
    /* Both lengths are at most 0xFFFF, so the sum cannot overflow; compare against what is left
     * instead of computing an end offset. */
    if (len - pos < r.key_len + r.value_len)
      return AVMA_KVP_TRUNCATED;
    r.key = (const char *)payload + pos;
    r.value = (const char *)payload + pos + r.key_len;
    pos += r.key_len + r.value_len;
    AvmaKvpStatus st = avma_record_check(&r);
    if (st != AVMA_KVP_OK)
      return st;
    out[i] = r;
  }
  if (pos != len)
    return AVMA_KVP_TRAILING;
  if (n_out)
    *n_out = count;
  return AVMA_KVP_OK;
}

AvmaKvpStatus avma_records_encode(const AvmaRecord *recs, size_t n, uint8_t *out, size_t cap,
                                  size_t *len_out) {
  if (len_out)
    *len_out = 0;
  if (n > AVMA_KVP_MAX_RECORDS)
    return AVMA_KVP_TOO_MANY;
  /* Check everything and size it first, so a failure leaves out untouched. */
  size_t total = 2;
  for (size_t i = 0; i < n; i++) {
    AvmaKvpStatus st = avma_record_check(&recs[i]);
    if (st != AVMA_KVP_OK)
      return st;
    total += RECORD_HEADER + recs[i].key_len + recs[i].value_len;
  }
  if (!out || cap < total)
    return AVMA_KVP_NO_SPACE;
  put_be16(out, n);
  size_t pos = 2;
  for (size_t i = 0; i < n; i++) {
    const AvmaRecord *r = &recs[i];
    out[pos] = (uint8_t)r->pool;
    put_be16(out + pos + 1, r->key_len);
    put_be16(out + pos + 3, r->value_len);
    pos += RECORD_HEADER;
    memcpy(out + pos, r->key, r->key_len);
    pos += r->key_len;
    if (r->value_len > 0)
      memcpy(out + pos, r->value, r->value_len);
    pos += r->value_len;
  }
  if (len_out)
    *len_out = pos;
  return AVMA_KVP_OK;
}

bool avma_enumerate_decode(const uint8_t *payload, size_t len, AvmaPool *pool, uint32_t *start) {
  if (len != 5 || !payload || payload[0] >= AVMA_POOL__COUNT)
    return false;
  if (pool)
    *pool = (AvmaPool)payload[0];
  if (start)
    *start = (uint32_t)payload[1] << 24 | (uint32_t)payload[2] << 16 | (uint32_t)payload[3] << 8 |
             (uint32_t)payload[4];
  return true;
}

size_t avma_enumerate_encode(AvmaPool pool, uint32_t start, uint8_t *out, size_t cap) {
  if ((unsigned)pool >= AVMA_POOL__COUNT || !out || cap < 5)
    return 0;
  out[0] = (uint8_t)pool;
  out[1] = (uint8_t)(start >> 24);
  out[2] = (uint8_t)(start >> 16);
  out[3] = (uint8_t)(start >> 8);
  out[4] = (uint8_t)start;
  return 5;
}

AvmaRecord avma_record_str(AvmaPool pool, const char *key, const char *value) {
  AvmaRecord r = {pool, key ? key : "", key ? strlen(key) : 0, value ? value : "",
                  value ? strlen(value) : 0};
  return r;
}

bool avma_record_key_is(const AvmaRecord *r, const char *key) {
  if (!r || !key)
    return false;
  size_t n = strlen(key);
  return n == r->key_len && (n == 0 || memcmp(r->key, key, n) == 0);
}
