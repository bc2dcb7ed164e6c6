/* Unit tests for the non-blocking channel: writes that would block are queued and delivered once,
 * a closed peer stops the channel exactly once (no spinning on EOF/HUP), resume works, and the
 * output cap is enforced. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel.h"

typedef struct {
  GByteArray *got;
  int stops;
  AvmaChannelEvent last;
} Sink;

static void on_read(AvmaChannel *ch, const guint8 *d, gsize n, gpointer user) {
  (void)ch;
  g_byte_array_append(((Sink *)user)->got, d, (guint)n);
}

static void on_stop(AvmaChannel *ch, AvmaChannelEvent ev, const GError *e, gpointer user) {
  (void)ch;
  (void)e;
  Sink *s = user;
  s->stops++;
  s->last = ev;
}

static void iterate(int n) {
  for (int i = 0; i < n; i++)
    g_main_context_iteration(NULL, FALSE);
}

static void blocked_writes_are_queued_and_sent_once(void **st) {
  (void)st;
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  int small = 4096;
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  Sink s = {g_byte_array_new(), 0, 0};
  AvmaChannel *ch = avma_channel_new(sv[0], 4 * 1024 * 1024, on_read, on_stop, &s);
  /* Far more than the socket buffers hold while the peer does not read: nothing blocks. */
  gsize total = 1024 * 1024;
  g_autofree guint8 *data = g_malloc(total);
  for (gsize i = 0; i < total; i++)
    data[i] = (guint8)(i * 7);
  assert_true(avma_channel_write(ch, data, total, NULL));
  iterate(50);
  assert_true(avma_channel_queued(ch) > 0);
  /* The peer starts reading: every byte arrives once, in order. */
  fcntl(sv[1], F_SETFL, O_NONBLOCK);
  g_autoptr(GByteArray) recv = g_byte_array_new();
  guint8 buf[65536];
  for (int i = 0; i < 100000 && recv->len < total; i++) {
    iterate(1);
    ssize_t n = read(sv[1], buf, sizeof buf);
    if (n > 0)
      g_byte_array_append(recv, buf, (guint)n);
  }
  assert_int_equal(recv->len, total);
  assert_memory_equal(recv->data, data, total);
  assert_int_equal(avma_channel_queued(ch), 0);
  assert_int_equal(s.stops, 0);
  avma_channel_free(ch);
  close(sv[1]);
  g_byte_array_unref(s.got);
}

static void output_cap_refuses_without_queueing(void **st) {
  (void)st;
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  Sink s = {g_byte_array_new(), 0, 0};
  AvmaChannel *ch = avma_channel_new(sv[0], 100, on_read, on_stop, &s);
  guint8 big[101] = {0};
  g_autoptr(GError) err = NULL;
  assert_false(avma_channel_write(ch, big, sizeof big, &err));
  assert_non_null(err);
  assert_int_equal(avma_channel_queued(ch), 0);
  assert_true(avma_channel_write(ch, big, 100, NULL));
  avma_channel_free(ch);
  close(sv[1]);
  g_byte_array_unref(s.got);
}

static void eof_stops_once_and_does_not_spin(void **st) {
  (void)st;
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  Sink s = {g_byte_array_new(), 0, 0};
  AvmaChannel *ch = avma_channel_new(sv[0], 1024, on_read, on_stop, &s);
  assert_int_equal(write(sv[1], "hello", 5), 5);
  close(sv[1]);
  iterate(20);
  assert_int_equal(s.got->len, 5);
  assert_int_equal(s.stops, 1);
  assert_int_equal(s.last, AVMA_CHANNEL_EOF);
  assert_true(avma_channel_stopped(ch));
  /* Stopped means not watched: the loop has nothing to dispatch, however often it runs. */
  assert_false(g_main_context_iteration(NULL, FALSE));
  iterate(100);
  assert_int_equal(s.stops, 1);
  /* Resuming a dead peer reports the stop again, once. */
  avma_channel_resume(ch);
  iterate(20);
  assert_int_equal(s.stops, 2);
  avma_channel_free(ch);
  g_byte_array_unref(s.got);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(blocked_writes_are_queued_and_sent_once),
      cmocka_unit_test(output_cap_refuses_without_queueing),
      cmocka_unit_test(eof_stops_once_and_does_not_spin),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
