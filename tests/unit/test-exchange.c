/* Unit tests for one guest exchange as pure logic: session and sequence checks, replies, errors,
 * and the Invalid Host / Invalid Data split on timeout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "exchange.h"

#define SESSION 0x1234abcdu

/* Decode b into f (payload points into the decoder d). */
static void decode(AvmaDecoder *d, GBytes *b, AvmaFrame *f) {
  gsize len;
  const guint8 *data = g_bytes_get_data(b, &len);
  avma_decoder_init(d);
  assert_int_equal(avma_decoder_feed(d, data, len), len);
  AvmaDecError e;
  assert_int_equal(avma_decoder_next(d, f, &e), AVMA_DEC_FRAME);
}

static GBytes *reply(AvmaMsgType type, guint32 session, guint32 seq, AvmaRecordList *r) {
  GBytes *b = avma_msg_build(type, 0, session, seq, r, NULL);
  assert_non_null(b);
  return b;
}

static AvmaExchange *activate_exchange(void) {
  AvmaExchange *ex = avma_exchange_new(SESSION, "test");
  AvmaRecordList *req = avma_record_list_new();
  avma_record_list_add(req, AVMA_KEY_AvmaKey, "YDFWN-MJ9JR-3DYRK-FXXRW-78VHK");
  avma_exchange_add(ex, AVMA_MSG_ACTIVATE, req);
  return ex;
}

static AvmaExchangeStatus feed(AvmaExchange *ex, AvmaMsgType type, guint32 session, guint32 seq,
                               AvmaRecordList *r) {
  g_autoptr(GBytes) b = reply(type, session, seq, r);
  g_autofree AvmaDecoder *d = g_new(AvmaDecoder, 1);
  AvmaFrame f;
  decode(d, b, &f);
  return avma_exchange_on_frame(ex, &f);
}

static AvmaRecordList *decision(const char *notification) {
  AvmaRecordList *r = avma_record_list_new();
  avma_record_list_add(r, AVMA_KEY_AvmaNotification, notification);
  avma_record_list_add(r, AVMA_KEY_AvmaReasonCode, "ok");
  return r;
}

static void full_exchange_success(void **st) {
  (void)st;
  g_autoptr(AvmaExchange) ex = activate_exchange();
  g_autoptr(GBytes) hello = avma_exchange_current_frame(ex);
  g_autofree AvmaDecoder *d = g_new(AvmaDecoder, 1);
  AvmaFrame f;
  decode(d, hello, &f);
  assert_int_equal(f.type, AVMA_MSG_HELLO);
  assert_int_equal(f.session, SESSION);
  assert_int_equal(f.seq, 1);
  g_autoptr(AvmaRecordList) items = avma_record_list_new();
  avma_record_list_add(items, AVMA_KEY_VirtualMachineName, "vm1");
  assert_int_equal(feed(ex, AVMA_MSG_HELLO_REPLY, SESSION, 1, items), AVMA_EXCHANGE_CONTINUE);
  g_autoptr(GBytes) act = avma_exchange_current_frame(ex);
  decode(d, act, &f);
  assert_int_equal(f.type, AVMA_MSG_ACTIVATE);
  assert_int_equal(f.seq, 2);
  g_autoptr(AvmaRecordList) dec = decision("AVMA Success");
  assert_int_equal(feed(ex, AVMA_MSG_ACTIVATE_REPLY, SESSION, 2, dec), AVMA_EXCHANGE_DONE);
  const AvmaExchangeResult *r = avma_exchange_result(ex);
  assert_non_null(r);
  assert_int_equal(r->notification, AVMA_NOTIFY_SUCCESS);
  assert_non_null(r->host_items);
}

static void stale_session_and_seq_are_ignored(void **st) {
  (void)st;
  g_autoptr(AvmaExchange) ex = activate_exchange();
  g_autoptr(AvmaRecordList) dec = decision("AVMA Success");
  /* A reply from a previous session is never taken for this one. */
  assert_int_equal(feed(ex, AVMA_MSG_HELLO_REPLY, SESSION + 1, 1, NULL), AVMA_EXCHANGE_IGNORED);
  assert_int_equal(feed(ex, AVMA_MSG_ACTIVATE_REPLY, SESSION + 1, 2, dec), AVMA_EXCHANGE_IGNORED);
  /* Nor a reply to a request not yet outstanding. */
  assert_int_equal(feed(ex, AVMA_MSG_ACTIVATE_REPLY, SESSION, 2, dec), AVMA_EXCHANGE_IGNORED);
  assert_null(avma_exchange_result(ex));
  assert_int_equal(feed(ex, AVMA_MSG_HELLO_REPLY, SESSION, 1, NULL), AVMA_EXCHANGE_CONTINUE);
  assert_int_equal(feed(ex, AVMA_MSG_HELLO_REPLY, SESSION, 1, NULL), AVMA_EXCHANGE_IGNORED);
}

static void error_reply_is_invalid_data(void **st) {
  (void)st;
  g_autoptr(AvmaExchange) ex = activate_exchange();
  g_autoptr(AvmaRecordList) err = avma_record_list_new();
  avma_record_list_add(err, AVMA_KEY_ErrorCode, "bad-frame");
  avma_record_list_add(err, AVMA_KEY_ErrorMessage, "frame rejected");
  assert_int_equal(feed(ex, AVMA_MSG_ERROR, SESSION, 1, err), AVMA_EXCHANGE_DONE);
  assert_int_equal(avma_exchange_result(ex)->notification, AVMA_NOTIFY_INVALID_DATA);
  assert_string_equal(avma_exchange_result(ex)->reason_code, "bad-frame");
}

static void wrong_reply_type_is_invalid_data(void **st) {
  (void)st;
  g_autoptr(AvmaExchange) ex = activate_exchange();
  assert_int_equal(feed(ex, AVMA_MSG_ACK, SESSION, 1, NULL), AVMA_EXCHANGE_DONE);
  assert_int_equal(avma_exchange_result(ex)->notification, AVMA_NOTIFY_INVALID_DATA);
}

static void reply_without_notification_is_invalid_data(void **st) {
  (void)st;
  g_autoptr(AvmaExchange) ex = activate_exchange();
  assert_int_equal(feed(ex, AVMA_MSG_HELLO_REPLY, SESSION, 1, NULL), AVMA_EXCHANGE_CONTINUE);
  assert_int_equal(feed(ex, AVMA_MSG_ACTIVATE_REPLY, SESSION, 2, NULL), AVMA_EXCHANGE_DONE);
  assert_int_equal(avma_exchange_result(ex)->notification, AVMA_NOTIFY_INVALID_DATA);
}

static void denied_passes_through(void **st) {
  (void)st;
  g_autoptr(AvmaExchange) ex = activate_exchange();
  g_autoptr(AvmaRecordList) dec = decision("Activation Denied");
  feed(ex, AVMA_MSG_HELLO_REPLY, SESSION, 1, NULL);
  assert_int_equal(feed(ex, AVMA_MSG_ACTIVATE_REPLY, SESSION, 2, dec), AVMA_EXCHANGE_DONE);
  assert_int_equal(avma_exchange_result(ex)->notification, AVMA_NOTIFY_DENIED);
}

static void timeout_silence_is_invalid_host(void **st) {
  (void)st;
  g_autoptr(AvmaExchange) ex = activate_exchange();
  avma_exchange_on_timeout(ex);
  assert_int_equal(avma_exchange_result(ex)->notification, AVMA_NOTIFY_INVALID_HOST);
}

static void timeout_after_noise_is_invalid_data(void **st) {
  (void)st;
  g_autoptr(AvmaExchange) ex = activate_exchange();
  avma_exchange_on_noise(ex);
  avma_exchange_on_timeout(ex);
  assert_int_equal(avma_exchange_result(ex)->notification, AVMA_NOTIFY_INVALID_DATA);
}

static void restart_uses_new_session(void **st) {
  (void)st;
  g_autoptr(AvmaExchange) ex = activate_exchange();
  feed(ex, AVMA_MSG_HELLO_REPLY, SESSION, 1, NULL);
  avma_exchange_restart(ex, SESSION + 7);
  g_autoptr(GBytes) b = avma_exchange_current_frame(ex);
  g_autofree AvmaDecoder *d = g_new(AvmaDecoder, 1);
  AvmaFrame f;
  decode(d, b, &f);
  assert_int_equal(f.type, AVMA_MSG_HELLO);
  assert_int_equal(f.session, SESSION + 7);
  /* The old session's late reply does not count. */
  g_autoptr(AvmaRecordList) dec = decision("AVMA Success");
  assert_int_equal(feed(ex, AVMA_MSG_ACTIVATE_REPLY, SESSION, 2, dec), AVMA_EXCHANGE_IGNORED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(full_exchange_success),
      cmocka_unit_test(stale_session_and_seq_are_ignored),
      cmocka_unit_test(error_reply_is_invalid_data),
      cmocka_unit_test(wrong_reply_type_is_invalid_data),
      cmocka_unit_test(reply_without_notification_is_invalid_data),
      cmocka_unit_test(denied_passes_through),
      cmocka_unit_test(timeout_silence_is_invalid_host),
      cmocka_unit_test(timeout_after_noise_is_invalid_data),
      cmocka_unit_test(restart_uses_new_session),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
