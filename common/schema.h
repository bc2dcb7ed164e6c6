/* schema: the generated key table (kvp-schema/avma-kvp.schema) and per-key validation. Pure C11. */
#pragma once
#include "kvp-schema.h" /* generated: AvmaKeyId, AVMA_CHANNEL_NAME, AVMA_METADATA_NS */
#include "kvp.h"

typedef enum { AVMA_WRITER_HOST, AVMA_WRITER_GUEST } AvmaWriter;

typedef enum {
  AVMA_TYPE_TEXT,
  AVMA_TYPE_AVMA_KEY,        /* printable ASCII; the key itself is judged by policy (Denied) */
  AVMA_TYPE_PRODUCT_VERSION, /* catalogue version or release name: 2012R2, 2016, 1809, ... */
  AVMA_TYPE_EDITION,         /* Datacenter, DatacenterAzure, Standard, Essentials */
  AVMA_TYPE_NOTIFICATION, /* "AVMA Success", "Invalid Host", "Invalid Data", "Activation Denied" */
  AVMA_TYPE_REASON_CODE,  /* [a-z0-9-]+ */
  AVMA_TYPE_RFC3339,      /* YYYY-MM-DDTHH:MM:SS[.frac]Z, or empty */
  AVMA_TYPE_UUID,         /* 8-4-4-4-12 hex, or empty */
  AVMA_TYPE_UINT,         /* decimal digits */
  AVMA_TYPE_IPV4_LIST,    /* ';'-separated dotted quads, may be empty */
  AVMA_TYPE_IPV6_LIST,    /* ';'-separated IPv6 addresses (hex, ':' and '.'), may be empty */
  AVMA_TYPE_HOSTNAME,     /* letters, digits, '-', '.', '_' */
  AVMA_TYPE_ARCH,         /* [A-Za-z0-9_-]+ */
  AVMA_TYPE_SIGNED_NOTE,  /* lines of text, each ended by '\n' (a C2SP signed note) */
} AvmaValueType;

typedef struct {
  AvmaKeyId id;
  const char *name;
  AvmaPool pool;
  AvmaWriter writer;
  AvmaValueType type;
  unsigned max_len;
  const char *description;
} AvmaKeyDef;

extern const AvmaKeyDef avma_schema_keys[AVMA_KEY__COUNT];

/* The ErrorCode values of an ERROR reply (@error lines of the schema). */
typedef struct {
  const char *name; /* "bad-frame", ... */
  const char *description;
} AvmaErrorDef;
extern const AvmaErrorDef avma_schema_errors[AVMA_ERR__COUNT];
static inline const char *avma_error_name(AvmaErrorCode e) {
  return avma_schema_errors[e].name;
}

static inline const char *avma_key_name(AvmaKeyId id) {
  return avma_schema_keys[id].name;
}
static inline AvmaPool avma_key_pool(AvmaKeyId id) {
  return avma_schema_keys[id].pool;
}

/* Find a key by (pool, name); NULL when the schema lacks it. */
const AvmaKeyDef *avma_schema_lookup(AvmaPool pool, const char *key, size_t key_len);

typedef enum {
  AVMA_SCHEMA_OK = 0,
  AVMA_SCHEMA_UNKNOWN_KEY,  /* not in the schema for that pool */
  AVMA_SCHEMA_WRONG_WRITER, /* the sender may not write this key */
  AVMA_SCHEMA_TOO_LONG,     /* value above the key's max_len */
  AVMA_SCHEMA_BAD_VALUE,    /* value does not match the key's type */
} AvmaSchemaStatus;

const char *avma_schema_status_name(AvmaSchemaStatus s);

/* Validate a record (already passed avma_record_check) written by `writer`. */
AvmaSchemaStatus avma_schema_validate(const AvmaRecord *r, AvmaWriter writer);

/* Build a record for a schema key (pool comes from the schema). */
AvmaRecord avma_schema_record(AvmaKeyId id, const char *value);
/* Find the value of key id among records; NULL when absent. Value is not NUL-terminated:
 * *len gets its length. */
const char *avma_records_find(const AvmaRecord *recs, size_t n, AvmaKeyId id, size_t *len);
