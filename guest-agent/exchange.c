/* exchange: one guest-initiated protocol exchange, a GLib wrapper over core/xchg.c. */
#include "exchange.h"

struct AvmaExchange {
  AvmaXchg x;
  gboolean have_result; /* result below mirrors x's */
  AvmaExchangeResult result;
};

static AvmaRecordList *list_of(const AvmaRecs *r) {
  AvmaRecordList *l = avma_record_list_new();
  for (size_t i = 0; i < r->len; i++)
    avma_record_list_add_raw(l, r->items[i].pool, r->items[i].key, r->items[i].value);
  return l;
}

AvmaExchange *avma_exchange_new(guint32 session, const char *agent_version) {
  AvmaExchange *ex = g_new0(AvmaExchange, 1);
  avma_xchg_init(&ex->x, session, agent_version);
  return ex;
}

void avma_exchange_free(AvmaExchange *ex) {
  if (!ex)
    return;
  avma_xchg_clear(&ex->x);
  avma_record_list_free(ex->result.host_items);
  avma_record_list_free(ex->result.reply);
  g_free(ex);
}

void avma_exchange_add(AvmaExchange *ex, AvmaMsgType type, AvmaRecordList *records) {
  AvmaRecs r;
  avma_recs_init(&r);
  for (guint i = 0; records && i < avma_record_list_len(records); i++) {
    AvmaRecord v = avma_record_list_get(records, i);
    if (!avma_recs_add_raw(&r, v.pool, v.key, v.key_len, v.value, v.value_len))
      g_error("out of memory");
  }
  avma_record_list_free(records);
  if (!avma_xchg_add(&ex->x, type, &r)) {
    g_warning("cannot queue %s: too many requests in one exchange", avma_msg_type_name(type));
    avma_recs_clear(&r);
  }
}

GBytes *avma_exchange_current_frame(AvmaExchange *ex) {
  if (avma_xchg_result(&ex->x) || ex->x.current >= ex->x.n_steps)
    return NULL;
  guint8 *buf = g_malloc(AVMA_FRAME_MAX_SIZE);
  char why[160];
  size_t len = avma_xchg_frame(&ex->x, buf, AVMA_FRAME_MAX_SIZE, why, sizeof why);
  if (!len) {
    g_warning("cannot build %s: %s", avma_msg_type_name(ex->x.steps[ex->x.current].type), why);
    g_free(buf);
    return NULL;
  }
  return g_bytes_new_take(g_realloc(buf, len), len);
}

void avma_exchange_restart(AvmaExchange *ex, guint32 session) {
  avma_xchg_restart(&ex->x, session);
}

AvmaExchangeStatus avma_exchange_on_frame(AvmaExchange *ex, const AvmaFrame *f) {
  switch (avma_xchg_on_frame(&ex->x, f)) {
  case AVMA_XCHG_CONTINUE:
    return AVMA_EXCHANGE_CONTINUE;
  case AVMA_XCHG_DONE:
    return AVMA_EXCHANGE_DONE;
  case AVMA_XCHG_RETRY:
    return AVMA_EXCHANGE_RETRY;
  case AVMA_XCHG_IGNORED:
    break;
  }
  return AVMA_EXCHANGE_IGNORED;
}

void avma_exchange_on_noise(AvmaExchange *ex) {
  avma_xchg_on_noise(&ex->x);
}

void avma_exchange_on_timeout(AvmaExchange *ex) {
  avma_xchg_on_timeout(&ex->x);
}

gboolean avma_exchange_heard_host(AvmaExchange *ex) {
  return ex->x.heard;
}

const AvmaExchangeResult *avma_exchange_result(AvmaExchange *ex) {
  const AvmaXchgResult *r = avma_xchg_result(&ex->x);
  if (!r)
    return NULL;
  if (!ex->have_result) {
    /* The core's result is final once done: mirror it once, in GLib types. */
    ex->have_result = TRUE;
    ex->result.notification = r->notification;
    ex->result.reason_code = r->reason_code;
    ex->result.reason = r->reason;
    ex->result.host_items = r->has_host_items ? list_of(&r->host_items) : NULL;
    ex->result.reply = r->has_reply ? list_of(&r->reply) : NULL;
  }
  return &ex->result;
}
