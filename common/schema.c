/* schema: lookup in the generated key table and per-type value validation. */
#include "schema.h"

#include <string.h>

#include "catalogue.h"
#include "policy.h"

const AvmaKeyDef *avma_schema_lookup(AvmaPool pool, const char *key, size_t key_len) {
  if (!key)
    return NULL;
  for (size_t i = 0; i < AVMA_KEY__COUNT; i++) {
    const AvmaKeyDef *d = &avma_schema_keys[i];
    /* key is a length-delimited view: compare lengths first, never rely on a terminator. */
    if (d->pool == pool && strlen(d->name) == key_len && memcmp(d->name, key, key_len) == 0)
      return d;
  }
  return NULL;
}

const char *avma_schema_status_name(AvmaSchemaStatus s) {
  switch (s) {
  case AVMA_SCHEMA_OK:
    return "ok";
  case AVMA_SCHEMA_UNKNOWN_KEY:
    return "unknown-key";
  case AVMA_SCHEMA_WRONG_WRITER:
    return "wrong-writer";
  case AVMA_SCHEMA_TOO_LONG:
    return "too-long";
  case AVMA_SCHEMA_BAD_VALUE:
    return "bad-value";
  }
  return "unknown";
}

static bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
static bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static bool is_alnum(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Copy a value into a NUL-terminated buffer for the string parsers; false when it does not fit. */
static bool to_cstr(const char *v, size_t n, char *buf, size_t cap) {
  if (n >= cap)
    return false;
  if (n > 0)
    memcpy(buf, v, n);
  buf[n] = '\0';
  return true;
}

/* text: valid UTF-8 without NUL and without control or bidirectional-control characters (see
 * avma_text_char_unsafe), so a value can neither forge lines in logs nor drive the operator's
 * terminal. */
static bool valid_text(const char *v, size_t n) {
  return avma_text_safe(v, n);
}

/* signed-note: lines of `text` each ended by '\n' (a C2SP signed note, such as AvmaReceipt):
 * nothing else may hide in it, and whether it verifies is for the reader (never the schema). */
static bool valid_signed_note(const char *v, size_t n) {
  if (n == 0 || v[n - 1] != '\n')
    return false;
  size_t start = 0;
  for (size_t i = 0; i < n; i++)
    if (v[i] == '\n') {
      if (!avma_text_safe(v + start, i - start))
        return false;
      start = i + 1;
    }
  return true;
}

/* avma-key: printable ASCII (spaces allowed), possibly empty. The key's syntax and catalogue
 * membership are judged by the policy, so that a mistyped key gets Activation Denied (brief
 * section 6) rather than a schema error, which the guest would report as Invalid Data. */
static bool valid_avma_key(const char *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (v[i] < 0x20 || v[i] > 0x7E)
      return false;
  return true;
}

/* product-version: empty (not declared / host unlicensed) or anything avma_version_parse takes. */
static bool valid_version(const char *v, size_t n) {
  char buf[64];
  return n == 0 || (to_cstr(v, n, buf, sizeof buf) && avma_version_parse(buf, NULL));
}

/* edition: empty (not declared) or anything avma_edition_parse takes. */
static bool valid_edition(const char *v, size_t n) {
  char buf[64];
  return n == 0 || (to_cstr(v, n, buf, sizeof buf) && avma_edition_parse(buf, NULL));
}

/* notification: exactly one of the four 12309 notification names. */
static bool valid_notification(const char *v, size_t n) {
  char buf[64];
  return to_cstr(v, n, buf, sizeof buf) && avma_notification_parse(buf, NULL);
}

/* reason-code: [a-z0-9-]+. */
static bool valid_reason_code(const char *v, size_t n) {
  if (n == 0)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!((v[i] >= 'a' && v[i] <= 'z') || is_digit(v[i]) || v[i] == '-'))
      return false;
  return true;
}

/* Two digits at v[0..1] with a value in [lo, hi]. */
static bool two_digits(const char *v, int lo, int hi) {
  if (!is_digit(v[0]) || !is_digit(v[1]))
    return false;
  int x = (v[0] - '0') * 10 + (v[1] - '0');
  return x >= lo && x <= hi;
}

/* rfc3339: empty (no time) or YYYY-MM-DDTHH:MM:SS[.digits]Z in UTC, as the agents write it; field
 * ranges are checked (month 01-12, day 01-31, hour 00-23, minute 00-59, second 00-60 for a leap
 * second), calendar validity of the day is not. */
static bool valid_rfc3339(const char *v, size_t n) {
  if (n == 0)
    return true;
  if (n < 20)
    return false;
  for (int i = 0; i < 4; i++)
    if (!is_digit(v[i]))
      return false;
  if (v[4] != '-' || !two_digits(v + 5, 1, 12) || v[7] != '-' || !two_digits(v + 8, 1, 31) ||
      v[10] != 'T' || !two_digits(v + 11, 0, 23) || v[13] != ':' || !two_digits(v + 14, 0, 59) ||
      v[16] != ':' || !two_digits(v + 17, 0, 60))
    return false;
  size_t i = 19;
  if (v[i] == '.') {
    size_t start = ++i;
    while (i < n && is_digit(v[i]))
      i++;
    if (i == start)
      return false;
  }
  return i + 1 == n && v[i] == 'Z';
}

/* uuid: empty (unknown) or 8-4-4-4-12 hex digits, either case. */
static bool valid_uuid(const char *v, size_t n) {
  if (n == 0)
    return true;
  if (n != 36)
    return false;
  for (size_t i = 0; i < n; i++) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? v[i] != '-' : !is_hex(v[i]))
      return false;
  }
  return true;
}

/* uint: 1 to 10 decimal digits (the range of a 32-bit count, give or take). */
static bool valid_uint(const char *v, size_t n) {
  if (n == 0 || n > 10)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!is_digit(v[i]))
      return false;
  return true;
}

/* One dotted quad: four octets of 1-3 digits, each 0-255. */
static bool valid_ipv4(const char *v, size_t n) {
  size_t i = 0;
  for (int octet = 0; octet < 4; octet++) {
    if (octet > 0) {
      if (i >= n || v[i] != '.')
        return false;
      i++;
    }
    size_t start = i;
    unsigned x = 0;
    while (i < n && is_digit(v[i]) && i - start < 3)
      x = x * 10 + (unsigned)(v[i++] - '0');
    if (i == start || x > 255)
      return false;
  }
  return i == n;
}

/* One IPv6 address, loosely: hex digits, ':' and '.' (IPv4-mapped tails), at least one ':'. */
static bool valid_ipv6(const char *v, size_t n) {
  bool colon = false;
  if (n == 0)
    return false;
  for (size_t i = 0; i < n; i++) {
    if (v[i] == ':')
      colon = true;
    else if (!is_hex(v[i]) && v[i] != '.')
      return false;
  }
  return colon;
}

/* ipv4-list / ipv6-list: empty, or ';'-separated addresses with no empty element. */
static bool valid_list(const char *v, size_t n, bool (*one)(const char *, size_t)) {
  if (n == 0)
    return true;
  size_t start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i == n || v[i] == ';') {
      if (!one(v + start, i - start))
        return false;
      start = i + 1;
    }
  }
  return true;
}

/* hostname: [A-Za-z0-9._-]*, empty when the name is unknown. */
static bool valid_hostname(const char *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!is_alnum(v[i]) && v[i] != '.' && v[i] != '_' && v[i] != '-')
      return false;
  return true;
}

/* arch: [A-Za-z0-9_-]+ (x86_64, aarch64, AMD64, ...). */
static bool valid_arch(const char *v, size_t n) {
  if (n == 0)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!is_alnum(v[i]) && v[i] != '_' && v[i] != '-')
      return false;
  return true;
}

static bool valid_value(AvmaValueType type, const char *v, size_t n) {
  switch (type) {
  case AVMA_TYPE_TEXT:
    return valid_text(v, n);
  case AVMA_TYPE_AVMA_KEY:
    return valid_avma_key(v, n);
  case AVMA_TYPE_PRODUCT_VERSION:
    return valid_version(v, n);
  case AVMA_TYPE_EDITION:
    return valid_edition(v, n);
  case AVMA_TYPE_NOTIFICATION:
    return valid_notification(v, n);
  case AVMA_TYPE_REASON_CODE:
    return valid_reason_code(v, n);
  case AVMA_TYPE_RFC3339:
    return valid_rfc3339(v, n);
  case AVMA_TYPE_UUID:
    return valid_uuid(v, n);
  case AVMA_TYPE_UINT:
    return valid_uint(v, n);
  case AVMA_TYPE_IPV4_LIST:
    return valid_list(v, n, valid_ipv4);
  case AVMA_TYPE_IPV6_LIST:
    return valid_list(v, n, valid_ipv6);
  case AVMA_TYPE_HOSTNAME:
    return valid_hostname(v, n);
  case AVMA_TYPE_ARCH:
    return valid_arch(v, n);
  case AVMA_TYPE_SIGNED_NOTE:
    return valid_signed_note(v, n);
  }
  return false;
}

AvmaSchemaStatus avma_schema_validate(const AvmaRecord *r, AvmaWriter writer) {
  const AvmaKeyDef *d = avma_schema_lookup(r->pool, r->key, r->key_len);
  if (!d)
    return AVMA_SCHEMA_UNKNOWN_KEY;
  if (d->writer != writer)
    return AVMA_SCHEMA_WRONG_WRITER;
  if (r->value_len > d->max_len)
    return AVMA_SCHEMA_TOO_LONG;
  if (r->value_len > 0 && !r->value)
    return AVMA_SCHEMA_BAD_VALUE;
  return valid_value(d->type, r->value, r->value_len) ? AVMA_SCHEMA_OK : AVMA_SCHEMA_BAD_VALUE;
}

AvmaRecord avma_schema_record(AvmaKeyId id, const char *value) {
  if ((unsigned)id >= AVMA_KEY__COUNT) {
    AvmaRecord none = {AVMA_POOL__COUNT, "", 0, "", 0}; /* fails avma_record_check */
    return none;
  }
  const AvmaKeyDef *d = &avma_schema_keys[id];
  return avma_record_str(d->pool, d->name, value);
}

const char *avma_records_find(const AvmaRecord *recs, size_t n, AvmaKeyId id, size_t *len) {
  if (len)
    *len = 0;
  if ((unsigned)id >= AVMA_KEY__COUNT || !recs)
    return NULL;
  const AvmaKeyDef *d = &avma_schema_keys[id];
  for (size_t i = 0; i < n; i++) {
    if (recs[i].pool == d->pool && avma_record_key_is(&recs[i], d->name)) {
      if (len)
        *len = recs[i].value_len;
      return recs[i].value ? recs[i].value : "";
    }
  }
  return NULL;
}
