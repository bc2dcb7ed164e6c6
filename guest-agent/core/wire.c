/* wire: building and parsing record-list messages, schema-checked, without allocation. */
#include "wire.h"

#include <stdio.h>
#include <string.h>

/* Guest-derived text quoted in a reason: at most this many bytes, safe for a terminal. */
#define QUOTE_MAX 64

AvmaWireStatus avma_wire_build(AvmaMsgType type, uint8_t flags, uint32_t session, uint32_t seq,
                               const AvmaRecord *recs, size_t n, uint8_t *out, size_t cap,
                               size_t *len_out, char *why, size_t why_len) {
  *len_out = 0;
  size_t overhead = AVMA_FRAME_HEADER_SIZE + AVMA_FRAME_TRAILER_SIZE;
  size_t room = cap > overhead ? cap - overhead : 0;
  if (room > AVMA_FRAME_MAX_PAYLOAD)
    room = AVMA_FRAME_MAX_PAYLOAD;
  /* The payload is encoded in place: avma_frame_encode allows payload to alias out. */
  size_t plen = 0;
  AvmaKvpStatus st = AVMA_KVP_NO_SPACE;
  if (cap > overhead)
    st = avma_records_encode(recs, n, out + AVMA_FRAME_HEADER_SIZE, room, &plen);
  if (st != AVMA_KVP_OK) {
    if (why && why_len)
      snprintf(why, why_len, "cannot encode %u records: %s", (unsigned)n, avma_kvp_status_name(st));
    return st == AVMA_KVP_NO_SPACE ? AVMA_WIRE_TOO_BIG : AVMA_WIRE_RECORDS;
  }
  size_t flen =
      avma_frame_encode(type, flags, session, seq, out + AVMA_FRAME_HEADER_SIZE, plen, out, cap);
  if (!flen) {
    if (why && why_len)
      snprintf(why, why_len, "cannot encode frame");
    return AVMA_WIRE_TOO_BIG;
  }
  *len_out = flen;
  return AVMA_WIRE_OK;
}

AvmaWireStatus avma_wire_parse(const AvmaFrame *f, AvmaWireMode mode, AvmaRecord *out,
                               size_t *n_out, char *why, size_t why_len) {
  AvmaKvpStatus st =
      avma_records_decode(f->payload, f->payload_len, out, AVMA_KVP_MAX_RECORDS, n_out);
  if (st != AVMA_KVP_OK) {
    if (why && why_len)
      snprintf(why, why_len, "bad records: %s", avma_kvp_status_name(st));
    return AVMA_WIRE_RECORDS;
  }
  for (size_t i = 0; i < *n_out; i++) {
    AvmaSchemaStatus ss;
    if (mode == AVMA_WIRE_KEYS)
      ss = avma_schema_lookup(out[i].pool, out[i].key, out[i].key_len) ? AVMA_SCHEMA_OK
                                                                       : AVMA_SCHEMA_UNKNOWN_KEY;
    else
      ss = avma_schema_validate(&out[i],
                                mode == AVMA_WIRE_FROM_HOST ? AVMA_WRITER_HOST : AVMA_WRITER_GUEST);
    if (ss != AVMA_SCHEMA_OK) {
      /* The key is the sender's text: cut and cleaned so a log line or terminal is safe. */
      char key[QUOTE_MAX + 1];
      avma_text_sanitize(out[i].key, out[i].key_len, key, sizeof key);
      if (why && why_len)
        snprintf(why, why_len, "record %s (%s): %s", key, avma_pool_name(out[i].pool),
                 avma_schema_status_name(ss));
      return AVMA_WIRE_SCHEMA;
    }
  }
  return AVMA_WIRE_OK;
}
