/* fuzz-frame: decoder on arbitrary bytes fed in random chunks; frames re-encode to their bytes, and
 * the outcome never depends on how the stream was split. Input: 1 byte chunk seed, then the stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_EVENTS 4096

typedef struct {
  uint8_t kind; /* 0 frame, else 1 + AvmaFrameError */
  uint8_t type, flags;
  uint32_t session, seq, len_or_skipped, payload_crc;
  uint64_t offset; /* stream offset where the frame or skipped run starts */
} Event;

typedef struct {
  Event *ev;
  size_t n;
} Trace;

static void check(int ok) {
  if (!ok)
    abort();
}

static void add(Trace *t, const Event *e) {
  /* Merge garbage runs: how a run is reported depends on the split, nothing else may. */
  if (e->kind == 1 + AVMA_FERR_GARBAGE && t->n > 0 && t->ev[t->n - 1].kind == e->kind &&
      t->ev[t->n - 1].offset + t->ev[t->n - 1].len_or_skipped == e->offset) {
    t->ev[t->n - 1].len_or_skipped += e->len_or_skipped;
    return;
  }
  if (t->n < MAX_EVENTS)
    t->ev[t->n++] = *e;
}

/* Re-encode a decoded frame and compare with the bytes it came from. */
static void check_frame(const AvmaFrame *f, const uint8_t *orig) {
  size_t total = AVMA_FRAME_HEADER_SIZE + f->payload_len + AVMA_FRAME_TRAILER_SIZE;
  check(f->version == AVMA_FRAME_VERSION && avma_msg_type_known(f->type));
  check(f->payload_len <= AVMA_FRAME_MAX_PAYLOAD);
  uint8_t *buf = malloc(total);
  check(avma_frame_encode(f->type, f->flags, f->session, f->seq, f->payload, f->payload_len, buf,
                          total) == total);
  if (orig[7] == 0) /* the reserved byte is not part of AvmaFrame; otherwise all bytes match */
    check(memcmp(buf, orig, total) == 0);
  else
    check(memcmp(buf, orig, 7) == 0 && memcmp(buf + 8, orig + 8, 12) == 0 &&
          memcmp(buf + 24, orig + 24, f->payload_len) == 0);
  /* And the re-encoded frame decodes to the same frame. */
  AvmaDecoder *d = malloc(sizeof *d);
  avma_decoder_init(d);
  check(avma_decoder_feed(d, buf, total) == total);
  AvmaFrame g;
  AvmaDecError e;
  check(avma_decoder_next(d, &g, &e) == AVMA_DEC_FRAME);
  check(g.type == f->type && g.flags == f->flags && g.session == f->session && g.seq == f->seq &&
        g.payload_len == f->payload_len && memcmp(g.payload, f->payload, f->payload_len) == 0);
  check(avma_decoder_pending(d) == 0);
  free(d);
  free(buf);
}

static int same(const Event *x, const Event *y) {
  return x->kind == y->kind && x->type == y->type && x->flags == y->flags &&
         x->session == y->session && x->seq == y->seq && x->len_or_skipped == y->len_or_skipped &&
         x->payload_crc == y->payload_crc && x->offset == y->offset;
}

static size_t run(const uint8_t *s, size_t n, uint32_t seed, Trace *t) {
  AvmaDecoder *d = malloc(sizeof *d);
  avma_decoder_init(d);
  size_t pos = 0;
  uint32_t rng = seed;
  for (;;) {
    size_t want = n - pos;
    if (seed) { /* seed 0: everything that fits at once */
      rng = rng * 1103515245u + 12345u;
      size_t c = (rng >> 16) % 4 == 0 ? 1 : 1 + (rng >> 8) % 300;
      if (c < want)
        want = c;
    }
    size_t took = avma_decoder_feed(d, s + pos, want);
    pos += took;
    int progress = took > 0;
    for (;;) {
      uint64_t at = d->consumed;
      AvmaFrame f;
      AvmaDecError e;
      AvmaDecStatus st = avma_decoder_next(d, &f, &e);
      if (st == AVMA_DEC_NEED_MORE)
        break;
      progress = 1;
      Event ev;
      memset(&ev, 0, sizeof ev);
      ev.offset = at;
      if (st == AVMA_DEC_FRAME) {
        check_frame(&f, s + at);
        ev.type = f.type, ev.flags = f.flags, ev.session = f.session, ev.seq = f.seq;
        ev.len_or_skipped = f.payload_len;
        ev.payload_crc = avma_crc32c(0, f.payload, f.payload_len);
        check(d->consumed == at + AVMA_FRAME_HEADER_SIZE + f.payload_len + 4);
      } else {
        check(st == AVMA_DEC_ERROR && e.code != AVMA_FERR_NONE && e.skipped > 0);
        check(d->consumed == at + e.skipped);
        check(e.header_valid == (e.code != AVMA_FERR_GARBAGE && e.code != AVMA_FERR_HEADER_CRC));
        ev.kind = (uint8_t)(1 + e.code);
        ev.len_or_skipped = (uint32_t)e.skipped;
        if (e.header_valid)
          ev.type = e.type, ev.session = e.session, ev.seq = e.seq;
      }
      add(t, &ev);
    }
    check(d->consumed + avma_decoder_pending(d) == pos);
    if (pos == n)
      break;
    check(progress); /* a full buffer must always drain */
  }
  size_t pending = avma_decoder_pending(d);
  free(d);
  return pending;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  uint32_t seed = data[0] | 0x100u; /* never 0: the chunked run */
  Trace a = {calloc(MAX_EVENTS, sizeof(Event)), 0}, b = {calloc(MAX_EVENTS, sizeof(Event)), 0};
  size_t pa = run(data + 1, size - 1, seed, &a);
  size_t pb = run(data + 1, size - 1, 0, &b);
  check(pa == pb && a.n == b.n);
  for (size_t i = 0; i < a.n; i++)
    check(same(&a.ev[i], &b.ev[i]));
  free(a.ev);
  free(b.ev);
  return 0;
}
