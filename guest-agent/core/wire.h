/* wire: messages as the guest core sends and reads them: a frame whose payload is a record list,
 * schema-checked. The glib agents' msg.c is a wrapper over this. Plain C11, no allocation. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "kvp.h"
#include "schema.h"

typedef enum {
  AVMA_WIRE_OK = 0,
  AVMA_WIRE_RECORDS, /* payload failed the record codec */
  AVMA_WIRE_SCHEMA,  /* a record failed the schema */
  AVMA_WIRE_TOO_BIG, /* would not fit in one frame / in out */
} AvmaWireStatus;

/* Encode a whole frame carrying n records into out (cap >= AVMA_FRAME_MAX_SIZE is always
 * enough); *len_out gets its size. why (may be NULL) gets a one-line reason on failure. */
AvmaWireStatus avma_wire_build(AvmaMsgType type, uint8_t flags, uint32_t session, uint32_t seq,
                               const AvmaRecord *recs, size_t n, uint8_t *out, size_t cap,
                               size_t *len_out, char *why, size_t why_len);

typedef enum {
  AVMA_WIRE_FROM_HOST,  /* full schema check, writer must be the host */
  AVMA_WIRE_FROM_GUEST, /* full schema check, writer must be the guest */
  AVMA_WIRE_KEYS,       /* GET/DELETE key lists: keys must exist, values ignored */
} AvmaWireMode;

/* Decode f's payload into out (capacity AVMA_KVP_MAX_RECORDS; views into the frame) and check
 * each record against the schema. why gets e.g. "bad records: truncated" or
 * "record Foo (guest): unknown-key"; guest-derived key text in it is cut to 64 bytes at a
 * character boundary with control characters replaced, so it is safe to log. */
AvmaWireStatus avma_wire_parse(const AvmaFrame *f, AvmaWireMode mode, AvmaRecord *out,
                               size_t *n_out, char *why, size_t why_len);
