/* xchg: one guest-initiated protocol exchange (HELLO, then requests in order) as pure logic: it
 * produces frames to send and consumes decoded frames; the caller owns the port, the clock and
 * the timeout. Session and seq matching and the outcome rules (brief section 6) live here, once,
 * for the Linux and the Windows agent. Plain C11. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "policy.h"
#include "recs.h"

#define AVMA_XCHG_MAX_STEPS 8

typedef enum {
  AVMA_XCHG_CONTINUE, /* send avma_xchg_frame() next */
  AVMA_XCHG_IGNORED,  /* not for this exchange (stale session, other seq): keep waiting */
  AVMA_XCHG_DONE,     /* avma_xchg_result() is final */
  AVMA_XCHG_RETRY,    /* the host is throttling: send avma_xchg_frame() again (same step, same
                       * seq) after avma_xchg_retry_after_ms(), unless the timeout comes first */
} AvmaXchgStatus;

/* Bounds on a host's retry-after: a hostile host cannot make the guest resend in a tight loop,
 * nor silence it for long (the exchange's own timeout still ends it). */
#define AVMA_XCHG_RETRY_MIN_MS 100u
#define AVMA_XCHG_RETRY_MAX_MS 60000u
#define AVMA_XCHG_RETRY_DEFAULT_MS 1000u

typedef struct {
  AvmaNotification notification;
  char reason_code[64];
  char reason[320];
  bool has_host_items; /* a HELLO_REPLY came */
  AvmaRecs host_items;
  bool has_reply; /* an ACTIVATE_REPLY came */
  AvmaRecs reply;
} AvmaXchgResult;

typedef struct {
  AvmaMsgType type;
  AvmaRecs records;
} AvmaXchgStep;

typedef struct {
  uint32_t session;
  AvmaXchgStep steps[AVMA_XCHG_MAX_STEPS]; /* step 0 is HELLO */
  size_t n_steps, current;
  bool heard; /* any byte from the host since the exchange began */
  bool done;
  bool throttled;          /* the last answer was a rate-limited refusal */
  uint32_t retry_after_ms; /* its retry-after, clamped */
  AvmaXchgResult result;
} AvmaXchg;

/* session must be non-zero and fresh for every exchange. agent_version may be NULL. */
void avma_xchg_init(AvmaXchg *x, uint32_t session, const char *agent_version);
void avma_xchg_clear(AvmaXchg *x);
/* Queue a request after HELLO; takes ownership of *records (left empty), NULL for none. false
 * when AVMA_XCHG_MAX_STEPS are queued (then *records stays the caller's, to clear). ACTIVATE's
 * reply decides the notification; without one, the exchange succeeds when every request was
 * acknowledged. */
bool avma_xchg_add(AvmaXchg *x, AvmaMsgType type, AvmaRecs *records);
/* Encode the frame of the current step into out (cap >= AVMA_FRAME_MAX_SIZE); 0 when nothing is
 * to be sent (done) or it cannot be encoded (why says why). */
size_t avma_xchg_frame(AvmaXchg *x, uint8_t *out, size_t cap, char *why, size_t why_len);
/* Restart from HELLO (the host went away mid-exchange) with a new session id. */
void avma_xchg_restart(AvmaXchg *x, uint32_t session);

AvmaXchgStatus avma_xchg_on_frame(AvmaXchg *x, const AvmaFrame *f);
/* Bytes arrived that were not a usable frame (garbage, bad frame). */
void avma_xchg_on_noise(AvmaXchg *x);
/* After AVMA_XCHG_RETRY: how long to wait before sending the same request again. */
uint32_t avma_xchg_retry_after_ms(const AvmaXchg *x);
/* The deadline passed: Invalid Host (no-answer) if nothing at all came back, Invalid Host
 * (rate-limited) if the host was still throttling, else Invalid Data (no-valid-reply). */
void avma_xchg_on_timeout(AvmaXchg *x);
/* NULL until done. */
const AvmaXchgResult *avma_xchg_result(const AvmaXchg *x);

/* The decoder feed/drain loop (avma_decode_stream) is in common/frame.h: the host runs it too. */
