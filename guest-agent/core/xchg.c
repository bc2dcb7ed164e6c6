/* xchg: one guest-initiated protocol exchange as pure logic. */
#include "xchg.h"

#include "wire.h"

#include <stdio.h>
#include <string.h>

static void result_init(AvmaXchgResult *r) {
  r->notification = AVMA_NOTIFY_INVALID_HOST;
  r->reason_code[0] = '\0';
  r->reason[0] = '\0';
  r->has_host_items = false;
  avma_recs_init(&r->host_items);
  r->has_reply = false;
  avma_recs_init(&r->reply);
}

void avma_xchg_init(AvmaXchg *x, uint32_t session, const char *agent_version) {
  x->session = session;
  x->n_steps = 1;
  x->current = 0;
  x->heard = false;
  x->done = false;
  x->throttled = false;
  x->retry_after_ms = 0;
  for (size_t i = 0; i < AVMA_XCHG_MAX_STEPS; i++) {
    x->steps[i].type = AVMA_MSG_HELLO;
    avma_recs_init(&x->steps[i].records);
  }
  if (agent_version)
    (void)avma_recs_add(&x->steps[0].records, AVMA_KEY_IntegrationServicesVersion, agent_version);
  result_init(&x->result);
}

void avma_xchg_clear(AvmaXchg *x) {
  for (size_t i = 0; i < AVMA_XCHG_MAX_STEPS; i++)
    avma_recs_clear(&x->steps[i].records);
  avma_recs_clear(&x->result.host_items);
  avma_recs_clear(&x->result.reply);
  x->n_steps = 0;
  x->current = 0;
}

bool avma_xchg_add(AvmaXchg *x, AvmaMsgType type, AvmaRecs *records) {
  if (x->n_steps >= AVMA_XCHG_MAX_STEPS)
    return false; /* records stay the caller's */
  AvmaXchgStep *s = &x->steps[x->n_steps++];
  s->type = type;
  avma_recs_clear(&s->records);
  if (records) {
    s->records = *records;
    avma_recs_init(records);
  }
  return true;
}

size_t avma_xchg_frame(AvmaXchg *x, uint8_t *out, size_t cap, char *why, size_t why_len) {
  if (why && why_len)
    why[0] = '\0';
  if (x->done || x->current >= x->n_steps)
    return 0;
  const AvmaXchgStep *s = &x->steps[x->current];
  size_t len = 0;
  /* Both agents take receipts (the Linux one keeps them; the Windows one validates and drops). */
  uint8_t flags = s->type == AVMA_MSG_HELLO ? AVMA_FLAG_RECEIPTS : 0;
  if (avma_wire_build(s->type, flags, x->session, (uint32_t)x->current + 1, s->records.items,
                      s->records.len, out, cap, &len, why, why_len) != AVMA_WIRE_OK)
    return 0;
  return len;
}

void avma_xchg_restart(AvmaXchg *x, uint32_t session) {
  x->session = session;
  x->current = 0;
  x->throttled = false;
}

uint32_t avma_xchg_retry_after_ms(const AvmaXchg *x) {
  return x->retry_after_ms;
}

/* The host's ErrorRetryAfterMs (schema: uint, 10 digits at most), clamped. */
static uint32_t retry_after(const AvmaRecord *recs, size_t n) {
  size_t len = 0;
  const char *v = avma_records_find(recs, n, AVMA_KEY_ErrorRetryAfterMs, &len);
  if (!v || !len || len > 10)
    return AVMA_XCHG_RETRY_DEFAULT_MS;
  uint64_t ms = 0;
  for (size_t i = 0; i < len; i++) {
    if (v[i] < '0' || v[i] > '9')
      return AVMA_XCHG_RETRY_DEFAULT_MS;
    ms = ms * 10 + (uint64_t)(v[i] - '0');
  }
  if (ms < AVMA_XCHG_RETRY_MIN_MS)
    return AVMA_XCHG_RETRY_MIN_MS;
  return ms > AVMA_XCHG_RETRY_MAX_MS ? AVMA_XCHG_RETRY_MAX_MS : (uint32_t)ms;
}

static AvmaXchgStatus finish(AvmaXchg *x, AvmaNotification n, const char *code,
                             const char *reason) {
  x->done = true;
  x->result.notification = n;
  /* Host text is schema-checked already; sanitising also cuts at a character boundary. */
  avma_text_sanitize(code, strlen(code), x->result.reason_code, sizeof x->result.reason_code);
  avma_text_sanitize(reason, strlen(reason), x->result.reason, sizeof x->result.reason);
  return AVMA_XCHG_DONE;
}

static AvmaMsgType expected_reply(AvmaMsgType req) {
  switch (req) {
  case AVMA_MSG_HELLO:
    return AVMA_MSG_HELLO_REPLY;
  case AVMA_MSG_ACTIVATE:
    return AVMA_MSG_ACTIVATE_REPLY;
  case AVMA_MSG_GET:
  case AVMA_MSG_ENUMERATE:
    return AVMA_MSG_RESULT;
  default:
    return AVMA_MSG_ACK;
  }
}

/* Value of id among recs, copied into buf (NUL-terminated); NULL when absent. */
static const char *value(const AvmaRecord *recs, size_t n, AvmaKeyId id, char *buf, size_t cap) {
  size_t len = 0;
  const char *v = avma_records_find(recs, n, id, &len);
  if (!v)
    return NULL;
  avma_text_sanitize(v, len, buf, cap);
  return buf;
}

static bool keep(AvmaRecs *dst, bool *has, const AvmaRecord *recs, size_t n) {
  avma_recs_clear(dst);
  *has = true;
  return avma_recs_copy_from(dst, recs, n);
}

AvmaXchgStatus avma_xchg_on_frame(AvmaXchg *x, const AvmaFrame *f) {
  if (x->done)
    return AVMA_XCHG_IGNORED;
  x->heard = true;
  /* Only the reply to the outstanding request of this session counts. */
  if (f->session != x->session || x->current >= x->n_steps || f->seq != x->current + 1)
    return AVMA_XCHG_IGNORED;
  AvmaMsgType req = x->steps[x->current].type;
  AvmaRecord recs[AVMA_KVP_MAX_RECORDS];
  size_t n = 0;
  char why[200];
  if (avma_wire_parse(f, AVMA_WIRE_FROM_HOST, recs, &n, why, sizeof why) != AVMA_WIRE_OK)
    return finish(x, AVMA_NOTIFY_INVALID_DATA, "bad-reply", why);
  if (f->type == AVMA_MSG_ERROR) {
    char code[64], msg[256], text[320]; /* ErrorMessage: at most 255 bytes */
    const char *c = value(recs, n, AVMA_KEY_ErrorCode, code, sizeof code);
    const char *m = value(recs, n, AVMA_KEY_ErrorMessage, msg, sizeof msg);
    /* A throttle is back-pressure, not corrupted data: wait and send the same request again. */
    if (c && !strcmp(c, "rate-limited")) {
      x->throttled = true;
      x->retry_after_ms = retry_after(recs, n);
      return AVMA_XCHG_RETRY;
    }
    snprintf(text, sizeof text, "host refused %s: %s", avma_msg_type_name(req),
             m ? m : "no reason given");
    return finish(x, AVMA_NOTIFY_INVALID_DATA, c ? c : "host-error", text);
  }
  if (f->type != expected_reply(req)) {
    char text[80];
    snprintf(text, sizeof text, "expected %s, got %s", avma_msg_type_name(expected_reply(req)),
             avma_msg_type_name(f->type));
    return finish(x, AVMA_NOTIFY_INVALID_DATA, "reply-mismatch", text);
  }
  x->throttled = false;
  bool copied = true;
  if (f->type == AVMA_MSG_HELLO_REPLY)
    copied = keep(&x->result.host_items, &x->result.has_host_items, recs, n);
  else if (f->type == AVMA_MSG_ACTIVATE_REPLY)
    copied = keep(&x->result.reply, &x->result.has_reply, recs, n);
  if (!copied)
    return finish(x, AVMA_NOTIFY_INVALID_DATA, "bad-reply", "out of memory keeping the reply");
  x->current++;
  if (x->current < x->n_steps)
    return AVMA_XCHG_CONTINUE;
  if (!x->result.has_reply)
    return finish(x, AVMA_NOTIFY_SUCCESS, "ok", "request acknowledged");
  const char *notif = avma_recs_get(&x->result.reply, AVMA_KEY_AvmaNotification);
  const char *code = avma_recs_get(&x->result.reply, AVMA_KEY_AvmaReasonCode);
  const char *reason = avma_recs_get(&x->result.reply, AVMA_KEY_AvmaReason);
  AvmaNotification nt;
  if (!notif || !avma_notification_parse(notif, &nt))
    return finish(x, AVMA_NOTIFY_INVALID_DATA, "bad-reply", "reply carries no notification");
  return finish(x, nt, code ? code : "", reason ? reason : "");
}

void avma_xchg_on_noise(AvmaXchg *x) {
  x->heard = true;
}

void avma_xchg_on_timeout(AvmaXchg *x) {
  if (x->done)
    return;
  if (x->throttled)
    finish(x, AVMA_NOTIFY_INVALID_HOST, "rate-limited",
           "the host was still rate-limiting this VM's requests when the timeout ended");
  else if (x->heard)
    finish(x, AVMA_NOTIFY_INVALID_DATA, "no-valid-reply",
           "bytes came from the host but no valid reply before the timeout");
  else
    finish(x, AVMA_NOTIFY_INVALID_HOST, "no-answer",
           "no answer from the host within the timeout (no host agent, or the channel is not "
           "connected)");
}

const AvmaXchgResult *avma_xchg_result(const AvmaXchg *x) {
  return x->done ? &x->result : NULL;
}
