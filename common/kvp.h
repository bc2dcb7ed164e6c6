/* kvp: key-value records, the Hyper-V pool model, limits, UTF-8 validation, and the record-list
 * payload codec. Pure C11, caller-supplied buffers. Layout: kvp-schema/PROTOCOL.md. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AVMA_KVP_MAX_KEY 512u     /* bytes, as hv_kvp_daemon */
#define AVMA_KVP_MAX_VALUE 2048u  /* bytes, as hv_kvp_daemon */
#define AVMA_KVP_MAX_RECORDS 256u /* records in one payload */

typedef enum {
  AVMA_POOL_EXTERNAL = 0,      /* host -> guest data */
  AVMA_POOL_GUEST = 1,         /* data the guest publishes */
  AVMA_POOL_AUTO = 2,          /* guest intrinsic items */
  AVMA_POOL_AUTO_EXTERNAL = 3, /* host-provided items (host name, VM name/id) */
  AVMA_POOL_AUTO_INTERNAL = 4, /* protocol-internal items */
  AVMA_POOL__COUNT = 5,
} AvmaPool;

/* "external", "guest", "auto", "auto-external", "auto-internal"; "unknown" out of range */
const char *avma_pool_name(AvmaPool pool);
bool avma_pool_from_name(const char *name, AvmaPool *out);

/* A record view: key and value point into a payload or caller storage, NOT NUL-terminated. */
typedef struct {
  AvmaPool pool;
  const char *key;
  size_t key_len;
  const char *value;
  size_t value_len;
} AvmaRecord;

typedef enum {
  AVMA_KVP_OK = 0,
  AVMA_KVP_TRUNCATED,      /* payload ends inside a record or count */
  AVMA_KVP_TRAILING,       /* bytes after the last record */
  AVMA_KVP_TOO_MANY,       /* count above AVMA_KVP_MAX_RECORDS or the caller's capacity */
  AVMA_KVP_BAD_POOL,       /* pool number out of range */
  AVMA_KVP_KEY_EMPTY,      /* zero-length key */
  AVMA_KVP_KEY_TOO_LONG,   /* key above AVMA_KVP_MAX_KEY */
  AVMA_KVP_VALUE_TOO_LONG, /* value above AVMA_KVP_MAX_VALUE */
  AVMA_KVP_BAD_UTF8,       /* key or value not valid UTF-8, or contains NUL */
  AVMA_KVP_NO_SPACE,       /* encoder: output buffer too small */
} AvmaKvpStatus;

const char *avma_kvp_status_name(AvmaKvpStatus s);

/* Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF) and no NUL byte. */
bool avma_utf8_valid(const char *s, size_t len);

/* Characters that must never reach a log line or a terminal from a guest: C0 controls, DEL, C1
 * controls (U+0080-U+009F, which some terminals obey as escapes) and the bidirectional controls
 * (U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069) that can reorder what an operator reads. */
bool avma_text_char_unsafe(uint32_t cp);
/* Valid UTF-8 without NUL and without unsafe characters: the schema's `text` type. */
bool avma_text_safe(const char *s, size_t len);
/* Copy s into out (capacity cap, always NUL-terminated) made safe: every invalid byte and unsafe
 * character becomes '?', and a value too long is cut before the character that would not fit,
 * never inside one. Returns the bytes written (without the NUL). */
size_t avma_text_sanitize(const char *s, size_t len, char *out, size_t cap);

/* Check one record's limits and encoding. */
AvmaKvpStatus avma_record_check(const AvmaRecord *r);

/* Record list payload: u16 count, then per record u8 pool, u16 key_len, u16 value_len, key, value
 * (big-endian). Decoding validates every record and points the views into payload. An empty list
 * is its 2-byte count: a 0-byte payload is TRUNCATED. On error *n_out is 0. */
AvmaKvpStatus avma_records_decode(const uint8_t *payload, size_t len, AvmaRecord *out, size_t cap,
                                  size_t *n_out);
/* Encode n records (each checked) into out; *len_out gets the size. */
AvmaKvpStatus avma_records_encode(const AvmaRecord *recs, size_t n, uint8_t *out, size_t cap,
                                  size_t *len_out);

/* ENUMERATE request payload: u8 pool, u32 start index (big-endian), exactly 5 bytes. */
bool avma_enumerate_decode(const uint8_t *payload, size_t len, AvmaPool *pool, uint32_t *start);
size_t avma_enumerate_encode(AvmaPool pool, uint32_t start, uint8_t *out, size_t cap);

/* Helpers for building records from C strings. */
AvmaRecord avma_record_str(AvmaPool pool, const char *key, const char *value);
/* Compare a record's key to a C string. */
bool avma_record_key_is(const AvmaRecord *r, const char *key);
