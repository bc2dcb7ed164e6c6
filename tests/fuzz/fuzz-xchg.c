/* fuzz-xchg: a hostile host's byte stream through avma_decode_stream into one guest exchange,
 * then the outcome through the agent's rules into guest.state and a 12309 line. Whatever the
 * host sends: the exchange ends (at the latest on its timeout) with a known notification and
 * terminal-safe reasons, the state written from it loads again unchanged, and the event line is
 * a flat JSON object. Input: 1 byte (low 2 bits: exchange shape, the rest: chunk size), then the
 * host's bytes for session 0x01020304. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "evline.h"
#include "gstate.h"
#include "xchg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SESSION 0x01020304u

static void check(int ok) {
  if (!ok)
    abort();
}

typedef struct {
  AvmaXchg *x;
  uint8_t *out;
  unsigned frames_sent;
} Run;

static bool on_frame(const AvmaFrame *f, void *user) {
  Run *r = user;
  AvmaXchgStatus st = avma_xchg_on_frame(r->x, f);
  if (st == AVMA_XCHG_CONTINUE) {
    char why[160];
    /* The next request always encodes. */
    check(avma_xchg_frame(r->x, r->out, AVMA_FRAME_MAX_SIZE, why, sizeof why) > 0);
    r->frames_sent++;
  } else if (st == AVMA_XCHG_DONE) {
    check(avma_xchg_result(r->x) != NULL);
  } else if (st == AVMA_XCHG_RETRY) {
    /* Whatever the host claims, the wait stays within bounds and the request still encodes. */
    uint32_t ms = avma_xchg_retry_after_ms(r->x);
    check(ms >= AVMA_XCHG_RETRY_MIN_MS && ms <= AVMA_XCHG_RETRY_MAX_MS);
    check(avma_xchg_result(r->x) == NULL);
    char why[160];
    check(avma_xchg_frame(r->x, r->out, AVMA_FRAME_MAX_SIZE, why, sizeof why) > 0);
    r->frames_sent++;
  }
  return true;
}

static bool on_noise(const AvmaDecError *e, void *user) {
  (void)e;
  avma_xchg_on_noise(((Run *)user)->x);
  return true;
}

static void check_text(const char *s, size_t cap) {
  size_t n = strnlen(s, cap);
  check(n < cap);
  check(avma_text_safe(s, n));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  unsigned shape = data[0] & 3, chunk = (data[0] >> 2) + 1u;
  data++, size--;
  static AvmaDecoder dec;
  static uint8_t out[AVMA_FRAME_MAX_SIZE];
  AvmaXchg x;
  avma_xchg_init(&x, SESSION, shape & 1 ? "1.2.3" : NULL);
  AvmaGState s;
  avma_gstate_init(&s);
  strcpy(s.guest_id, "0b7e1e9c-4a3f-4d2e-9f6a-1c2b3d4e5f60");
  strcpy(s.key, "YDFWN-MJ9JR-3DYRK-FXXRW-78VHK");
  s.key_is_avma = true;
  s.key_version = AVMA_VERSION_2022;
  s.key_edition = AVMA_EDITION_STANDARD;
  AvmaProduct image = {AVMA_VERSION_UNKNOWN, AVMA_EDITION_UNKNOWN};
  AvmaRecs r;
  avma_recs_init(&r);
  if (shape & 2) {
    check(avma_xchg_add(&x, AVMA_MSG_DELETE, NULL));
  } else {
    check(avma_recs_add(&r, AVMA_KEY_OSName, "Linux"));
    check(avma_xchg_add(&x, AVMA_MSG_SET, &r));
    check(avma_agent_activate_request(&s, &image, &r));
    check(avma_xchg_add(&x, AVMA_MSG_ACTIVATE, &r));
  }
  char why[160];
  check(avma_xchg_frame(&x, out, sizeof out, why, sizeof why) > 0);
  Run run = {.x = &x, .out = out};
  avma_decoder_init(&dec);
  for (size_t off = 0; off < size;) {
    size_t n = size - off < chunk ? size - off : chunk;
    check(avma_decode_stream(&dec, data + off, n, on_frame, on_noise, &run) == n);
    off += n;
  }
  avma_xchg_on_timeout(&x);
  const AvmaXchgResult *res = avma_xchg_result(&x);
  check(res != NULL);
  check((unsigned)res->notification <= AVMA_NOTIFY_DENIED);
  check_text(res->reason_code, sizeof res->reason_code);
  check_text(res->reason, sizeof res->reason);
  if (!size)
    check(res->notification == AVMA_NOTIFY_INVALID_HOST);

  /* The outcome through the agent's rules, then guest.state: it must load back as written. */
  AvmaSchedule sched;
  AvmaTiming t;
  avma_timing_defaults(&t);
  avma_schedule_start(&sched, false, 0, 1800000000);
  if (shape & 2)
    avma_agent_clear_done(&s, &sched, &t, res->notification == AVMA_NOTIFY_SUCCESS, 1800000000);
  else
    avma_agent_apply_result(&s, &sched, &t, res, 1800000000);
  static char text[AVMA_GSTATE_TEXT_MAX], again[AVMA_GSTATE_TEXT_MAX];
  size_t len = avma_gstate_format(&s, text, sizeof text);
  check(len > 0);
  AvmaGState back;
  avma_gstate_init(&back);
  check(avma_gstate_parse(&back, text, len, why, sizeof why));
  check(avma_gstate_format(&back, again, sizeof again) == len);
  check(memcmp(text, again, len) == 0);

  AvmaBuf b;
  avma_buf_init(&b);
  avma_evline_12309(&b, 1800000000, res->notification, res->reason_code, res->reason, &s, &image);
  check(!b.failed);
  AvmaJsonFlat f;
  check(avma_json_flat_parse(&f, b.data, b.len, why, sizeof why));
  check(f.n == 15);
  avma_json_flat_free(&f);
  avma_buf_free(&b);
  avma_xchg_clear(&x);
  return 0;
}
