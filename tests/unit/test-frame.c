/* test-frame: CRC-32C, frame encoding, and the decoder's resynchronisation on every malformed
 * class. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crc32c.h"
#include "frame.h"

/* ---- helpers -----------------------------------------------------------------------------------
 */

/* A byte stream assembled from pieces; kept exact-size (malloc) so ASan sees any overread. */
typedef struct {
  uint8_t *data;
  size_t len;
} Bytes;

static void bytes_add(Bytes *b, const void *p, size_t n) {
  uint8_t *grown = malloc(b->len + n);
  assert_non_null(grown);
  if (b->len)
    memcpy(grown, b->data, b->len);
  if (n)
    memcpy(grown + b->len, p, n);
  free(b->data);
  b->data = grown;
  b->len += n;
}

static void payload_fill(uint8_t *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)(seed + i * 7u + (i >> 8));
}

/* Append a valid frame with a generated payload of n bytes. */
static void add_frame(Bytes *b, uint8_t type, uint32_t session, uint32_t seq, size_t n) {
  uint8_t *payload = malloc(n ? n : 1);
  uint8_t *out = malloc(n + 28);
  assert_non_null(payload);
  assert_non_null(out);
  payload_fill(payload, n, seq);
  assert_int_equal(avma_frame_encode(type, 0, session, seq, payload, n, out, n + 28), n + 28);
  bytes_add(b, out, n + 28);
  free(out);
  free(payload);
}

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Append a hand-made frame: any version, type and length field; CRCs computed, then optionally
 * spoiled. */
static void add_raw(Bytes *b, uint8_t version, uint8_t type, uint32_t length_field, size_t n,
                    bool bad_header_crc, bool bad_frame_crc) {
  uint8_t *f = calloc(1, n + 28);
  assert_non_null(f);
  f[0] = 0xFF, f[1] = 'A', f[2] = 'V', f[3] = 'K', f[4] = version, f[5] = type;
  put32(f + 8, 0x11223344u);
  put32(f + 12, 9);
  put32(f + 16, length_field);
  put32(f + 20, avma_crc32c(0, f, 20) ^ (bad_header_crc ? 1u : 0u));
  payload_fill(f + 24, n, 3);
  put32(f + 24 + n, avma_crc32c(0, f, 24 + n) ^ (bad_frame_crc ? 1u : 0u));
  bytes_add(b, f, n + 28);
  free(f);
}

/* One decoder outcome. Consecutive garbage reports are merged: how a garbage run is split depends
 * on how bytes were fed, and nothing else may. */
typedef struct {
  AvmaDecStatus st;
  AvmaFrameError code;
  bool header_valid;
  uint8_t type, flags;
  uint32_t session, seq, payload_len, payload_crc;
  size_t skipped;
} Event;

typedef struct {
  Event ev[64];
  size_t n;
  uint64_t consumed;
  size_t pending;
} Trace;

static void trace_add(Trace *t, AvmaDecStatus st, const AvmaFrame *f, const AvmaDecError *e) {
  if (st == AVMA_DEC_ERROR && e->code == AVMA_FERR_GARBAGE && t->n > 0 &&
      t->ev[t->n - 1].st == AVMA_DEC_ERROR && t->ev[t->n - 1].code == AVMA_FERR_GARBAGE) {
    t->ev[t->n - 1].skipped += e->skipped;
    return;
  }
  assert_true(t->n < 64);
  Event *v = &t->ev[t->n++];
  memset(v, 0, sizeof *v);
  v->st = st;
  if (st == AVMA_DEC_FRAME) {
    v->type = f->type, v->flags = f->flags, v->session = f->session, v->seq = f->seq;
    v->payload_len = f->payload_len;
    v->payload_crc = avma_crc32c(0, f->payload, f->payload_len);
  } else {
    v->code = e->code, v->header_valid = e->header_valid, v->skipped = e->skipped;
    if (e->header_valid)
      v->type = e->type, v->session = e->session, v->seq = e->seq;
    assert_true(e->skipped > 0);
  }
}

/* Feed the stream in chunks of chunk(i) bytes, draining the decoder after every feed. */
static void run(const Bytes *b, size_t (*chunk)(size_t i), Trace *t) {
  AvmaDecoder *d = malloc(sizeof *d);
  assert_non_null(d);
  avma_decoder_init(d);
  memset(t, 0, sizeof *t);
  size_t pos = 0;
  for (size_t i = 0;; i++) {
    size_t want = b->len - pos;
    size_t c = chunk(i);
    if (c < want)
      want = c;
    size_t took = avma_decoder_feed(d, b->data + pos, want);
    pos += took;
    AvmaFrame f;
    AvmaDecError e;
    AvmaDecStatus st;
    bool progress = took > 0;
    while ((st = avma_decoder_next(d, &f, &e)) != AVMA_DEC_NEED_MORE) {
      trace_add(t, st, &f, &e);
      progress = true;
    }
    if (pos == b->len)
      break;
    assert_true(progress); /* the decoder must never wedge with a full buffer */
  }
  t->consumed = d->consumed;
  t->pending = avma_decoder_pending(d);
  assert_int_equal(t->consumed + t->pending, b->len);
  free(d);
}

static size_t all_at_once(size_t i) {
  (void)i;
  return SIZE_MAX;
}
static size_t one_byte(size_t i) {
  (void)i;
  return 1;
}
static size_t seven_bytes(size_t i) {
  (void)i;
  return 7;
}
static size_t pseudo_random(size_t i) {
  uint32_t x = (uint32_t)i * 2654435761u;
  return 1 + (x >> 16) % 97;
}

static void trace_equal(const Trace *a, const Trace *b) {
  assert_int_equal(a->n, b->n);
  for (size_t i = 0; i < a->n; i++)
    assert_memory_equal(&a->ev[i], &b->ev[i], sizeof(Event));
  assert_int_equal(a->consumed, b->consumed);
  assert_int_equal(a->pending, b->pending);
}

static void expect_frame(const Event *v, uint8_t type, uint32_t session, uint32_t seq, size_t n) {
  assert_int_equal(v->st, AVMA_DEC_FRAME);
  assert_int_equal(v->type, type);
  assert_int_equal(v->session, session);
  assert_int_equal(v->seq, seq);
  assert_int_equal(v->payload_len, n);
  uint8_t *p = malloc(n ? n : 1);
  payload_fill(p, n, seq);
  assert_int_equal(v->payload_crc, avma_crc32c(0, p, n));
  free(p);
}

static void expect_error(const Event *v, AvmaFrameError code, size_t skipped) {
  assert_int_equal(v->st, AVMA_DEC_ERROR);
  assert_int_equal(v->code, code);
  assert_int_equal(v->skipped, skipped);
}

/* Every test stream must give the same trace however it is split. */
static void run_all_ways(const Bytes *b, Trace *t) {
  Trace other;
  run(b, all_at_once, t);
  run(b, one_byte, &other);
  trace_equal(t, &other);
  run(b, seven_bytes, &other);
  trace_equal(t, &other);
  run(b, pseudo_random, &other);
  trace_equal(t, &other);
}

/* ---- CRC-32C -----------------------------------------------------------------------------------
 */

static void test_crc32c_vectors(void **state) {
  (void)state;
  assert_int_equal(avma_crc32c(0, "123456789", 9), 0xE3069283u);
  assert_int_equal(avma_crc32c(0, "", 0), 0);
  uint8_t zeros[32] = {0};
  assert_int_equal(avma_crc32c(0, zeros, 32), 0x8A9136AAu); /* RFC 3720 B.4 */
  uint8_t ones[32];
  memset(ones, 0xFF, sizeof ones);
  assert_int_equal(avma_crc32c(0, ones, 32), 0x62A8AB43u);
  /* Continuation: crc(a || b) == crc(crc(a), b) at every split point. */
  const char *s = "The quick brown fox jumps over the lazy dog";
  size_t n = strlen(s);
  uint32_t whole = avma_crc32c(0, s, n);
  for (size_t k = 0; k <= n; k++)
    assert_int_equal(avma_crc32c(avma_crc32c(0, s, k), s + k, n - k), whole);
}

/* ---- encoder ------------------------------------------------------------------------------------
 */

static void roundtrip(size_t n, uint8_t type, uint8_t flags) {
  uint8_t *payload = malloc(n ? n : 1);
  payload_fill(payload, n, (unsigned)n);
  size_t size = n + AVMA_FRAME_HEADER_SIZE + AVMA_FRAME_TRAILER_SIZE;
  uint8_t *out = malloc(size);
  assert_int_equal(avma_frame_encode(type, flags, 0xCAFEF00Du, 42, payload, n, out, size), size);
  assert_memory_equal(out,
                      "\xFF"
                      "AVK",
                      4);
  assert_int_equal(out[4], 1);
  assert_int_equal(out[7], 0);

  AvmaDecoder *d = malloc(sizeof *d);
  avma_decoder_init(d);
  assert_int_equal(avma_decoder_feed(d, out, size), size);
  AvmaFrame f;
  AvmaDecError e;
  assert_int_equal(avma_decoder_next(d, &f, &e), AVMA_DEC_FRAME);
  assert_int_equal(f.version, 1);
  assert_int_equal(f.type, type);
  assert_int_equal(f.flags, flags);
  assert_int_equal(f.session, 0xCAFEF00Du);
  assert_int_equal(f.seq, 42);
  assert_int_equal(f.payload_len, n);
  if (n)
    assert_memory_equal(f.payload, payload, n);
  assert_int_equal(avma_decoder_pending(d), 0);
  assert_int_equal(d->consumed, size);
  assert_int_equal(avma_decoder_next(d, &f, &e), AVMA_DEC_NEED_MORE);
  free(d);
  free(out);
  free(payload);
}

static void test_roundtrip(void **state) {
  (void)state;
  roundtrip(0, AVMA_MSG_ACK, 0);
  roundtrip(1, AVMA_MSG_HELLO, 0);
  roundtrip(250, AVMA_MSG_ACTIVATE, 0);
  roundtrip(AVMA_FRAME_MAX_PAYLOAD - 1, AVMA_MSG_RESULT, AVMA_FLAG_MORE);
  roundtrip(AVMA_FRAME_MAX_PAYLOAD, AVMA_MSG_RESULT, AVMA_FLAG_MORE);
  static const uint8_t types[] = {0x01, 0x02, 0x10, 0x11, 0x12, 0x13, 0x20, 0x21, 0x30, 0x31, 0x3F};
  for (size_t i = 0; i < sizeof types; i++)
    roundtrip(5, types[i], 0);
}

static void test_encode_refuses(void **state) {
  (void)state;
  size_t size = AVMA_FRAME_MAX_SIZE + 1;
  uint8_t *buf = calloc(1, size);
  uint8_t *out = malloc(size);
  assert_int_equal(
      avma_frame_encode(AVMA_MSG_SET, 0, 1, 1, buf, AVMA_FRAME_MAX_PAYLOAD + 1, out, size), 0);
  static const uint8_t unknown[] = {0x00, 0x03, 0x0F, 0x14, 0x22, 0x32, 0x40, 0xFF};
  for (size_t i = 0; i < sizeof unknown; i++)
    assert_int_equal(avma_frame_encode(unknown[i], 0, 1, 1, buf, 4, out, size), 0);
  assert_int_equal(avma_frame_encode(AVMA_MSG_SET, 0, 1, 1, buf, 4, out, 31), 0);
  assert_int_equal(avma_frame_encode(AVMA_MSG_SET, 0, 1, 1, buf, 4, out, 32), 32);
  assert_int_equal(avma_frame_encode(AVMA_MSG_ACK, 0, 1, 1, NULL, 0, out, 28), 28);
  free(out);
  free(buf);
}

static void test_names(void **state) {
  (void)state;
  assert_string_equal(avma_msg_type_name(AVMA_MSG_HELLO), "HELLO");
  assert_string_equal(avma_msg_type_name(AVMA_MSG_ACTIVATE_REPLY), "ACTIVATE_REPLY");
  assert_string_equal(avma_msg_type_name(AVMA_MSG_ERROR), "ERROR");
  assert_string_equal(avma_msg_type_name(0x77), "unknown");
  int known = 0;
  for (unsigned t = 0; t < 256; t++)
    known += avma_msg_type_known((uint8_t)t);
  assert_int_equal(known, 11);
  assert_string_equal(avma_frame_error_name(AVMA_FERR_GARBAGE), "garbage");
  assert_string_equal(avma_frame_error_name(AVMA_FERR_HEADER_CRC), "header-crc");
  assert_string_equal(avma_frame_error_name(AVMA_FERR_TOO_LONG), "too-long");
  for (int e = AVMA_FERR_NONE; e <= AVMA_FERR_CRC; e++)
    assert_string_not_equal(avma_frame_error_name((AvmaFrameError)e), "unknown");
}

/* ---- decoder: malformed input -------------------------------------------------------------------
 */

static void test_garbage_then_frame(void **state) {
  (void)state;
  Bytes b = {0};
  /* Text noise, a lone 0xFF, partial magics and a magic-like prefix, then a frame. */
  bytes_add(&b,
            "login: \r\n\xFF\xFF"
            "A\xFF"
            "AV\xFF"
            "AVX",
            17);
  add_frame(&b, AVMA_MSG_HELLO, 7, 1, 10);
  Trace t;
  run_all_ways(&b, &t);
  assert_int_equal(t.n, 2);
  expect_error(&t.ev[0], AVMA_FERR_GARBAGE, 17);
  assert_false(t.ev[0].header_valid);
  expect_frame(&t.ev[1], AVMA_MSG_HELLO, 7, 1, 10);
  assert_int_equal(t.pending, 0);
  free(b.data);
}

static void test_partial_magic_kept(void **state) {
  (void)state;
  AvmaDecoder *d = malloc(sizeof *d);
  avma_decoder_init(d);
  AvmaFrame f;
  AvmaDecError e;
  /* "xy" then the first three magic bytes: the garbage goes, the partial magic stays. */
  assert_int_equal(avma_decoder_feed(d,
                                     (const uint8_t *)"xy\xFF"
                                                      "AV",
                                     5),
                   5);
  assert_int_equal(avma_decoder_next(d, &f, &e), AVMA_DEC_ERROR);
  assert_int_equal(e.code, AVMA_FERR_GARBAGE);
  assert_int_equal(e.skipped, 2);
  assert_int_equal(avma_decoder_next(d, &f, &e), AVMA_DEC_NEED_MORE);
  assert_int_equal(avma_decoder_pending(d), 3);
  /* The rest of the frame completes it. */
  Bytes b = {0};
  add_frame(&b, AVMA_MSG_GET, 5, 2, 3);
  assert_int_equal(avma_decoder_feed(d, b.data + 3, b.len - 3), b.len - 3);
  assert_int_equal(avma_decoder_next(d, &f, &e), AVMA_DEC_FRAME);
  assert_int_equal(f.session, 5);
  /* A partial magic at the end that turns out not to be one becomes garbage. */
  assert_int_equal(avma_decoder_feed(d,
                                     (const uint8_t *)"\xFF"
                                                      "A",
                                     2),
                   2);
  assert_int_equal(avma_decoder_next(d, &f, &e), AVMA_DEC_NEED_MORE);
  assert_int_equal(avma_decoder_feed(d, (const uint8_t *)"Q", 1), 1);
  assert_int_equal(avma_decoder_next(d, &f, &e), AVMA_DEC_ERROR);
  assert_int_equal(e.code, AVMA_FERR_GARBAGE);
  assert_int_equal(e.skipped, 3);
  assert_int_equal(avma_decoder_pending(d), 0);
  free(b.data);
  free(d);
}

static void test_bad_header_crc(void **state) {
  (void)state;
  Bytes b = {0};
  add_raw(&b, 1, AVMA_MSG_SET, 40, 40, true, false);
  add_frame(&b, AVMA_MSG_SET, 8, 3, 20);
  Trace t;
  run_all_ways(&b, &t);
  assert_int_equal(t.n, 3);
  expect_error(&t.ev[0], AVMA_FERR_HEADER_CRC, 1);
  assert_false(t.ev[0].header_valid);
  expect_error(&t.ev[1], AVMA_FERR_GARBAGE, 40 + 28 - 1);
  expect_frame(&t.ev[2], AVMA_MSG_SET, 8, 3, 20);
  free(b.data);
}

static void test_too_long(void **state) {
  (void)state;
  Bytes b = {0};
  /* Header announces 16385 bytes (with a valid header CRC); only 10 follow. */
  add_raw(&b, 1, AVMA_MSG_SET, AVMA_FRAME_MAX_PAYLOAD + 1, 10, false, false);
  add_frame(&b, AVMA_MSG_ACTIVATE, 8, 4, 30);
  Trace t;
  run_all_ways(&b, &t);
  assert_int_equal(t.n, 3);
  expect_error(&t.ev[0], AVMA_FERR_TOO_LONG, 1);
  assert_true(t.ev[0].header_valid);
  assert_int_equal(t.ev[0].session, 0x11223344u);
  assert_int_equal(t.ev[0].seq, 9);
  assert_int_equal(t.ev[0].type, AVMA_MSG_SET);
  expect_error(&t.ev[1], AVMA_FERR_GARBAGE, 10 + 28 - 1);
  expect_frame(&t.ev[2], AVMA_MSG_ACTIVATE, 8, 4, 30);

  /* The largest length field must not be trusted either. */
  Bytes c = {0};
  add_raw(&c, 1, AVMA_MSG_SET, 0xFFFFFFFFu, 0, false, false);
  run_all_ways(&c, &t);
  expect_error(&t.ev[0], AVMA_FERR_TOO_LONG, 1);
  free(c.data);
  free(b.data);
}

static void test_truncated_then_new_frame(void **state) {
  (void)state;
  /* A peer restarted mid-frame: 24 + 10 bytes of a 100-byte frame, then a fresh frame whose bytes
   * the decoder first counts into the truncated one. */
  Bytes whole = {0}, b = {0};
  add_frame(&whole, AVMA_MSG_SET, 1, 5, 100);
  bytes_add(&b, whole.data, 34);
  add_frame(&b, AVMA_MSG_HELLO, 2, 1, 100);
  Trace t;
  run_all_ways(&b, &t);
  assert_int_equal(t.n, 3);
  expect_error(&t.ev[0], AVMA_FERR_CRC, 1);
  assert_true(t.ev[0].header_valid);
  assert_int_equal(t.ev[0].session, 1);
  assert_int_equal(t.ev[0].seq, 5);
  expect_error(&t.ev[1], AVMA_FERR_GARBAGE, 33);
  expect_frame(&t.ev[2], AVMA_MSG_HELLO, 2, 1, 100);
  free(b.data);

  /* When the new frame is shorter than what the truncated one announced, the decoder waits: the
   * caller's frame deadline resets it, and the next frame is found. */
  b = (Bytes){0};
  bytes_add(&b, whole.data, 34);
  add_frame(&b, AVMA_MSG_HELLO, 3, 1, 0);
  run(&b, all_at_once, &t);
  assert_int_equal(t.n, 0);
  assert_int_equal(t.pending, 34 + 28);
  AvmaDecoder *d = malloc(sizeof *d);
  avma_decoder_init(d);
  avma_decoder_feed(d, b.data, b.len);
  AvmaFrame f;
  AvmaDecError e;
  assert_int_equal(avma_decoder_next(d, &f, &e), AVMA_DEC_NEED_MORE);
  avma_decoder_reset(d);
  assert_int_equal(avma_decoder_pending(d), 0);
  assert_int_equal(d->consumed, b.len);
  Bytes c = {0};
  add_frame(&c, AVMA_MSG_HELLO, 4, 1, 0);
  avma_decoder_feed(d, c.data, c.len);
  assert_int_equal(avma_decoder_next(d, &f, &e), AVMA_DEC_FRAME);
  assert_int_equal(f.session, 4);
  free(d);
  free(c.data);
  free(b.data);
  free(whole.data);
}

static void test_bad_frame_crc(void **state) {
  (void)state;
  Bytes b = {0};
  add_frame(&b, AVMA_MSG_SET, 6, 2, 50);
  b.data[24 + 17] ^= 0x40; /* a payload bit flips in transit */
  add_frame(&b, AVMA_MSG_SET, 6, 3, 50);
  Trace t;
  run_all_ways(&b, &t);
  assert_int_equal(t.n, 3);
  expect_error(&t.ev[0], AVMA_FERR_CRC, 1);
  assert_true(t.ev[0].header_valid);
  assert_int_equal(t.ev[0].seq, 2);
  expect_error(&t.ev[1], AVMA_FERR_GARBAGE, 50 + 28 - 1);
  expect_frame(&t.ev[2], AVMA_MSG_SET, 6, 3, 50);

  /* A damaged trailer alone is also caught. */
  Bytes c = {0};
  add_raw(&c, 1, AVMA_MSG_ACK, 0, 0, false, true);
  run_all_ways(&c, &t);
  assert_int_equal(t.n, 2);
  expect_error(&t.ev[0], AVMA_FERR_CRC, 1);
  free(c.data);
  free(b.data);
}

static void test_unknown_version(void **state) {
  (void)state;
  Bytes b = {0};
  add_raw(&b, 2, AVMA_MSG_HELLO, 12, 12, false, false); /* intact: skipped whole */
  add_raw(&b, 0, AVMA_MSG_HELLO, 0, 0, false, false);
  add_raw(&b, 2, AVMA_MSG_HELLO, 5, 5, false, true); /* damaged: one byte, then garbage */
  add_frame(&b, AVMA_MSG_HELLO, 9, 1, 4);
  Trace t;
  run_all_ways(&b, &t);
  assert_int_equal(t.n, 5);
  expect_error(&t.ev[0], AVMA_FERR_VERSION, 12 + 28);
  assert_true(t.ev[0].header_valid);
  assert_int_equal(t.ev[0].session, 0x11223344u);
  expect_error(&t.ev[1], AVMA_FERR_VERSION, 28);
  expect_error(&t.ev[2], AVMA_FERR_VERSION, 1);
  expect_error(&t.ev[3], AVMA_FERR_GARBAGE, 5 + 28 - 1);
  expect_frame(&t.ev[4], AVMA_MSG_HELLO, 9, 1, 4);
  free(b.data);
}

static void test_unknown_type(void **state) {
  (void)state;
  Bytes b = {0};
  add_raw(&b, 1, 0x7E, 3, 3, false, false);
  add_raw(&b, 1, 0x00, 3, 3, false, true);
  add_frame(&b, AVMA_MSG_GET, 9, 2, 4);
  Trace t;
  run_all_ways(&b, &t);
  assert_int_equal(t.n, 4);
  expect_error(&t.ev[0], AVMA_FERR_TYPE, 3 + 28);
  assert_true(t.ev[0].header_valid);
  assert_int_equal(t.ev[0].type, 0x7E);
  assert_int_equal(t.ev[0].seq, 9);
  expect_error(&t.ev[1], AVMA_FERR_TYPE, 1);
  expect_error(&t.ev[2], AVMA_FERR_GARBAGE, 3 + 28 - 1);
  expect_frame(&t.ev[3], AVMA_MSG_GET, 9, 2, 4);
  free(b.data);
}

/* ---- decoder: feeding
 * ---------------------------------------------------------------------------- */

static void test_mixed_stream_any_split(void **state) {
  (void)state;
  /* Every class in one stream; run_all_ways checks byte-by-byte, 7-byte and random chunks against
   * one big feed. */
  Bytes b = {0};
  bytes_add(&b, "noise\xFF\xFF", 7);
  add_frame(&b, AVMA_MSG_HELLO, 1, 1, 0);
  add_raw(&b, 1, AVMA_MSG_SET, 8, 8, true, false);
  add_frame(&b, AVMA_MSG_SET, 1, 2, AVMA_FRAME_MAX_PAYLOAD);
  add_raw(&b, 1, AVMA_MSG_SET, 70000, 0, false, false);
  add_raw(&b, 3, AVMA_MSG_SET, 2, 2, false, false);
  add_raw(&b, 1, 0x55, 2, 2, false, false);
  add_raw(&b, 1, AVMA_MSG_SET, 9, 9, false, true);
  add_frame(&b, AVMA_MSG_ENUMERATE, 1, 3, 5);
  bytes_add(&b,
            "\xFF"
            "AV",
            3); /* a partial magic left at the end */
  Trace t;
  run_all_ways(&b, &t);
  size_t frames = 0;
  for (size_t i = 0; i < t.n; i++)
    frames += t.ev[i].st == AVMA_DEC_FRAME;
  assert_int_equal(frames, 3);
  assert_int_equal(t.pending, 3);
  free(b.data);
}

static void test_split_across_many_feeds(void **state) {
  (void)state;
  Bytes b = {0};
  add_frame(&b, AVMA_MSG_RESULT, 77, 12, AVMA_FRAME_MAX_PAYLOAD);
  AvmaDecoder *d = malloc(sizeof *d);
  avma_decoder_init(d);
  AvmaFrame f;
  AvmaDecError e;
  size_t pos = 0, feeds = 0;
  while (pos < b.len) {
    size_t n = b.len - pos < 13 ? b.len - pos : 13;
    assert_int_equal(avma_decoder_next(d, &f, &e), AVMA_DEC_NEED_MORE);
    assert_int_equal(avma_decoder_pending(d), pos);
    assert_int_equal(avma_decoder_feed(d, b.data + pos, n), n);
    pos += n;
    feeds++;
  }
  assert_true(feeds > 1000);
  assert_int_equal(avma_decoder_next(d, &f, &e), AVMA_DEC_FRAME);
  expect_frame(&(Event){.st = AVMA_DEC_FRAME,
                        .type = f.type,
                        .session = f.session,
                        .seq = f.seq,
                        .payload_len = f.payload_len,
                        .payload_crc = avma_crc32c(0, f.payload, f.payload_len)},
               AVMA_MSG_RESULT, 77, 12, AVMA_FRAME_MAX_PAYLOAD);
  free(d);
  free(b.data);
}

static void test_feed_when_full(void **state) {
  (void)state;
  /* Two maximum frames back to back do not fit at once: feed takes what fits and returns 0 until
   * next has released the first frame. */
  Bytes b = {0};
  add_frame(&b, AVMA_MSG_RESULT, 1, 1, AVMA_FRAME_MAX_PAYLOAD);
  add_frame(&b, AVMA_MSG_RESULT, 1, 2, AVMA_FRAME_MAX_PAYLOAD);
  AvmaDecoder *d = malloc(sizeof *d);
  avma_decoder_init(d);
  assert_int_equal(avma_decoder_feed(d, b.data, b.len), AVMA_FRAME_MAX_SIZE);
  assert_int_equal(avma_decoder_feed(d, b.data + AVMA_FRAME_MAX_SIZE, 1), 0);
  AvmaFrame f;
  AvmaDecError e;
  assert_int_equal(avma_decoder_next(d, &f, &e), AVMA_DEC_FRAME);
  assert_int_equal(f.seq, 1);
  assert_int_equal(avma_decoder_pending(d), 0);
  assert_int_equal(avma_decoder_feed(d, b.data + AVMA_FRAME_MAX_SIZE, AVMA_FRAME_MAX_SIZE),
                   AVMA_FRAME_MAX_SIZE);
  assert_int_equal(avma_decoder_next(d, &f, &e), AVMA_DEC_FRAME);
  assert_int_equal(f.seq, 2);
  /* A buffer full of garbage is dropped, so feeding can always go on. */
  uint8_t *junk = malloc(AVMA_FRAME_MAX_SIZE + 5);
  memset(junk, 'x', AVMA_FRAME_MAX_SIZE + 5);
  assert_int_equal(avma_decoder_feed(d, junk, AVMA_FRAME_MAX_SIZE + 5), AVMA_FRAME_MAX_SIZE);
  assert_int_equal(avma_decoder_next(d, &f, &e), AVMA_DEC_ERROR);
  assert_int_equal(e.skipped, AVMA_FRAME_MAX_SIZE);
  assert_int_equal(avma_decoder_feed(d, junk, 5), 5);
  free(junk);
  free(d);
  free(b.data);
}

static void test_back_to_back_frames(void **state) {
  (void)state;
  Bytes b = {0};
  for (uint32_t i = 1; i <= 20; i++)
    add_frame(&b, AVMA_MSG_SET, 3, i, i * 3);
  Trace t;
  run_all_ways(&b, &t);
  assert_int_equal(t.n, 20);
  for (uint32_t i = 1; i <= 20; i++)
    expect_frame(&t.ev[i - 1], AVMA_MSG_SET, 3, i, i * 3);
  free(b.data);
}

/* Work bound (issue #17): whatever the peer sends, the decoder checksums and moves at most a
 * fixed number of bytes per byte fed. Counted by the decoder itself, not timed. Each stream is
 * fed in 24-byte chunks (a slow-drip attacker) and in 4 KiB chunks. */
#define WORK_PER_BYTE 8u
#define WORK_SLACK (2u * AVMA_FRAME_MAX_SIZE)

static uint64_t work_of(const Bytes *b, size_t chunk) {
  AvmaDecoder *d = malloc(sizeof *d);
  assert_non_null(d);
  avma_decoder_init(d);
  size_t pos = 0;
  while (pos < b->len) {
    size_t want = b->len - pos < chunk ? b->len - pos : chunk;
    pos += avma_decoder_feed(d, b->data + pos, want);
    AvmaFrame f;
    AvmaDecError e;
    while (avma_decoder_next(d, &f, &e) != AVMA_DEC_NEED_MORE)
      ;
  }
  assert_int_equal(d->fed, b->len);
  uint64_t w = d->work;
  free(d);
  return w;
}

static void assert_work_bounded(const Bytes *b, const char *what) {
  static const size_t chunks[] = {24, 4096};
  for (size_t i = 0; i < 2; i++) {
    uint64_t w = work_of(b, chunks[i]);
    if (w > WORK_PER_BYTE * (uint64_t)b->len + WORK_SLACK)
      fail_msg("%s, %zu-byte feeds: %llu bytes of work for %zu fed", what, chunks[i],
               (unsigned long long)w, b->len);
  }
}

/* 24-byte headers with a valid header check claiming a maximum payload and sending none: the
 * following headers count as payload. Before the budget this cost ~680 bytes per byte fed. */
static void add_planted_headers(Bytes *b, size_t count, uint8_t version, uint8_t type) {
  for (size_t i = 0; i < count; i++) {
    uint8_t h[24] = {0xFF, 'A', 'V', 'K', version, type};
    put32(h + 8, 0);
    put32(h + 12, (uint32_t)i);
    put32(h + 16, AVMA_FRAME_MAX_PAYLOAD);
    put32(h + 20, avma_crc32c(0, h, 20));
    bytes_add(b, h, sizeof h);
  }
}

static void test_work_bounded_crc_amplification(void **state) {
  (void)state;
  Bytes b = {0};
  add_planted_headers(&b, 20000, AVMA_FRAME_VERSION, AVMA_MSG_HELLO);
  assert_work_bounded(&b, "planted headers (frame-crc)");
  free(b.data);
  Bytes v = {0};
  add_planted_headers(&v, 20000, 9, AVMA_MSG_HELLO);
  assert_work_bounded(&v, "planted headers (unsupported-version)");
  free(v.data);
  Bytes t = {0};
  add_planted_headers(&t, 20000, AVMA_FRAME_VERSION, 0x77);
  assert_work_bounded(&t, "planted headers (unknown-type)");
  free(t.data);
}

static void test_work_bounded_every_class(void **state) {
  (void)state;
  Bytes b = {0};
  uint8_t junk[4096];
  for (size_t i = 0; i < sizeof junk; i++)
    junk[i] = (uint8_t)(i * 131 + 7);
  for (int r = 0; r < 64; r++)
    bytes_add(&b, junk, sizeof junk); /* garbage */
  for (int r = 0; r < 2000; r++) {
    add_raw(&b, AVMA_FRAME_VERSION, AVMA_MSG_HELLO, 64, 64, true, false);     /* header-crc */
    add_raw(&b, AVMA_FRAME_VERSION, AVMA_MSG_HELLO, 99999, 16, false, false); /* too-long */
    add_raw(&b, 7, AVMA_MSG_HELLO, 200, 200, false, false);                   /* version */
    add_raw(&b, AVMA_FRAME_VERSION, 0x55, 200, 200, false, false);            /* type */
    add_raw(&b, AVMA_FRAME_VERSION, AVMA_MSG_HELLO, 300, 300, false, true);   /* frame-crc */
  }
  uint8_t magics[4096];
  for (size_t i = 0; i < sizeof magics; i += 4)
    magics[i] = 0xFF, magics[i + 1] = 'A', magics[i + 2] = 'V', magics[i + 3] = 'K';
  for (int r = 0; r < 64; r++)
    bytes_add(&b, magics, sizeof magics); /* a magic every 4 bytes, headers all bad */
  assert_work_bounded(&b, "every failure class");
  free(b.data);
}

/* The budget never refuses a legitimate stream: maximum frames back to back all decode. */
static void test_budget_keeps_real_frames(void **state) {
  (void)state;
  Bytes b = {0};
  for (uint32_t i = 1; i <= 40; i++)
    add_frame(&b, AVMA_MSG_RESULT, 5, i, AVMA_FRAME_MAX_PAYLOAD);
  Trace t;
  run(&b, seven_bytes, &t);
  assert_int_equal(t.n, 40);
  for (size_t i = 0; i < t.n; i++)
    assert_int_equal(t.ev[i].st, AVMA_DEC_FRAME);
  assert_work_bounded(&b, "maximum frames");
  free(b.data);
}

static void test_null_out_params(void **state) {
  (void)state;
  Bytes b = {0};
  bytes_add(&b, "zz", 2);
  add_frame(&b, AVMA_MSG_ACK, 1, 1, 0);
  AvmaDecoder *d = malloc(sizeof *d);
  avma_decoder_init(d);
  avma_decoder_feed(d, b.data, b.len);
  assert_int_equal(avma_decoder_next(d, NULL, NULL), AVMA_DEC_ERROR);
  assert_int_equal(avma_decoder_next(d, NULL, NULL), AVMA_DEC_FRAME);
  assert_int_equal(avma_decoder_next(d, NULL, NULL), AVMA_DEC_NEED_MORE);
  free(d);
  free(b.data);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_crc32c_vectors),
      cmocka_unit_test(test_roundtrip),
      cmocka_unit_test(test_encode_refuses),
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_garbage_then_frame),
      cmocka_unit_test(test_partial_magic_kept),
      cmocka_unit_test(test_bad_header_crc),
      cmocka_unit_test(test_too_long),
      cmocka_unit_test(test_truncated_then_new_frame),
      cmocka_unit_test(test_bad_frame_crc),
      cmocka_unit_test(test_unknown_version),
      cmocka_unit_test(test_unknown_type),
      cmocka_unit_test(test_mixed_stream_any_split),
      cmocka_unit_test(test_split_across_many_feeds),
      cmocka_unit_test(test_feed_when_full),
      cmocka_unit_test(test_back_to_back_frames),
      cmocka_unit_test(test_null_out_params),
      cmocka_unit_test(test_work_bounded_crc_amplification),
      cmocka_unit_test(test_work_bounded_every_class),
      cmocka_unit_test(test_budget_keeps_real_frames),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
