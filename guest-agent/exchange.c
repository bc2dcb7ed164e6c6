/* exchange: one guest-initiated protocol exchange as pure logic. */
#include "exchange.h"

typedef struct {
  AvmaMsgType type;
  AvmaRecordList *records;
} Step;

struct AvmaExchange {
  guint32 session;
  GArray *steps; /* Step; step 0 is HELLO */
  guint current;
  gboolean heard; /* any byte from the host since the exchange began */
  gboolean done;
  AvmaExchangeResult result;
};

static void step_clear(gpointer p) {
  Step *s = p;
  avma_record_list_free(s->records);
}

AvmaExchange *avma_exchange_new(guint32 session, const char *agent_version) {
  AvmaExchange *ex = g_new0(AvmaExchange, 1);
  ex->session = session;
  ex->steps = g_array_new(FALSE, TRUE, sizeof(Step));
  g_array_set_clear_func(ex->steps, step_clear);
  AvmaRecordList *hello = avma_record_list_new();
  if (agent_version)
    avma_record_list_add(hello, AVMA_KEY_IntegrationServicesVersion, agent_version);
  Step s = {AVMA_MSG_HELLO, hello};
  g_array_append_val(ex->steps, s);
  return ex;
}

void avma_exchange_free(AvmaExchange *ex) {
  if (!ex)
    return;
  g_array_unref(ex->steps);
  g_free(ex->result.reason_code);
  g_free(ex->result.reason);
  avma_record_list_free(ex->result.host_items);
  avma_record_list_free(ex->result.reply);
  g_free(ex);
}

void avma_exchange_add(AvmaExchange *ex, AvmaMsgType type, AvmaRecordList *records) {
  Step s = {type, records ? records : avma_record_list_new()};
  g_array_append_val(ex->steps, s);
}

GBytes *avma_exchange_current_frame(AvmaExchange *ex) {
  if (ex->done || ex->current >= ex->steps->len)
    return NULL;
  Step *s = &g_array_index(ex->steps, Step, ex->current);
  g_autoptr(GError) err = NULL;
  GBytes *b = avma_msg_build(s->type, 0, ex->session, ex->current + 1, s->records, &err);
  if (!b)
    g_warning("cannot build %s: %s", avma_msg_type_name(s->type), err->message);
  return b;
}

void avma_exchange_restart(AvmaExchange *ex, guint32 session) {
  ex->session = session;
  ex->current = 0;
}

static AvmaExchangeStatus finish(AvmaExchange *ex, AvmaNotification n, const char *code,
                                 const char *reason) {
  ex->done = TRUE;
  ex->result.notification = n;
  g_free(ex->result.reason_code);
  g_free(ex->result.reason);
  ex->result.reason_code = g_strdup(code);
  ex->result.reason = g_strdup(reason);
  return AVMA_EXCHANGE_DONE;
}

static AvmaRecordList *copy_records(const AvmaRecord *r, size_t n) {
  AvmaRecordList *l = avma_record_list_new();
  for (size_t i = 0; i < n; i++) {
    g_autofree char *k = g_strndup(r[i].key, r[i].key_len);
    g_autofree char *v = g_strndup(r[i].value, r[i].value_len);
    avma_record_list_add_raw(l, r[i].pool, k, v);
  }
  return l;
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

AvmaExchangeStatus avma_exchange_on_frame(AvmaExchange *ex, const AvmaFrame *f) {
  if (ex->done)
    return AVMA_EXCHANGE_IGNORED;
  ex->heard = TRUE;
  /* Only the reply to the outstanding request of this session counts. */
  if (f->session != ex->session || f->seq != ex->current + 1)
    return AVMA_EXCHANGE_IGNORED;
  Step *s = &g_array_index(ex->steps, Step, ex->current);
  AvmaRecord recs[AVMA_KVP_MAX_RECORDS];
  size_t n = 0;
  g_autoptr(GError) err = NULL;
  if (!avma_msg_parse(f, AVMA_PARSE_FROM_HOST, recs, &n, &err))
    return finish(ex, AVMA_NOTIFY_INVALID_DATA, "bad-reply", err->message);
  if (f->type == AVMA_MSG_ERROR) {
    g_autofree char *code = avma_records_dup(recs, n, AVMA_KEY_ErrorCode);
    g_autofree char *msg = avma_records_dup(recs, n, AVMA_KEY_ErrorMessage);
    g_autofree char *why = g_strdup_printf("host refused %s: %s", avma_msg_type_name(s->type),
                                           msg ? msg : "no reason given");
    return finish(ex, AVMA_NOTIFY_INVALID_DATA, code ? code : "host-error", why);
  }
  if (f->type != expected_reply(s->type)) {
    g_autofree char *why =
        g_strdup_printf("expected %s, got %s", avma_msg_type_name(expected_reply(s->type)),
                        avma_msg_type_name(f->type));
    return finish(ex, AVMA_NOTIFY_INVALID_DATA, "reply-mismatch", why);
  }
  if (f->type == AVMA_MSG_HELLO_REPLY) {
    avma_record_list_free(ex->result.host_items);
    ex->result.host_items = copy_records(recs, n);
  } else if (f->type == AVMA_MSG_ACTIVATE_REPLY) {
    avma_record_list_free(ex->result.reply);
    ex->result.reply = copy_records(recs, n);
  }
  ex->current++;
  if (ex->current < ex->steps->len)
    return AVMA_EXCHANGE_CONTINUE;
  if (!ex->result.reply)
    return finish(ex, AVMA_NOTIFY_SUCCESS, "ok", "request acknowledged");
  g_autofree char *notif = avma_records_dup(recs, n, AVMA_KEY_AvmaNotification);
  g_autofree char *code = avma_records_dup(recs, n, AVMA_KEY_AvmaReasonCode);
  g_autofree char *reason = avma_records_dup(recs, n, AVMA_KEY_AvmaReason);
  AvmaNotification nt;
  if (!notif || !avma_notification_parse(notif, &nt))
    return finish(ex, AVMA_NOTIFY_INVALID_DATA, "bad-reply", "reply carries no notification");
  return finish(ex, nt, code ? code : "", reason ? reason : "");
}

void avma_exchange_on_noise(AvmaExchange *ex) {
  ex->heard = TRUE;
}

void avma_exchange_on_timeout(AvmaExchange *ex) {
  if (ex->done)
    return;
  if (ex->heard)
    finish(ex, AVMA_NOTIFY_INVALID_DATA, "no-valid-reply",
           "bytes came from the host but no valid reply before the timeout");
  else
    finish(ex, AVMA_NOTIFY_INVALID_HOST, "no-answer",
           "no answer from the host within the timeout (no host agent, or the channel is not "
           "connected)");
}

gboolean avma_exchange_heard_host(AvmaExchange *ex) {
  return ex->heard;
}

const AvmaExchangeResult *avma_exchange_result(AvmaExchange *ex) {
  return ex->done ? &ex->result : NULL;
}
