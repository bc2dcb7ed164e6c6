/* Unit tests for the guest's renewal/retry/expiry schedule on a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "activation.h"

static const AvmaTiming timing = {.request_timeout = 10,
                                  .renew_interval = 86400,
                                  .retry_initial = 60,
                                  .retry_max = 7200,
                                  .presence_interval = 2};
#define DAY 86400
#define T0 1800000000

static void first_activation_is_immediate(void **st) {
  (void)st;
  AvmaSchedule s;
  avma_schedule_start(&s, FALSE, 0, T0);
  assert_int_equal(avma_schedule_wakeup(&s), T0);
  assert_false(s.licensed);
}

static void renewal_before_expiry(void **st) {
  (void)st;
  AvmaSchedule s;
  avma_schedule_start(&s, FALSE, 0, T0);
  avma_schedule_success(&s, &timing, T0, T0 + 7 * DAY);
  assert_true(s.licensed);
  assert_int_equal(s.next_attempt, T0 + DAY); /* renew every 24 h */
  assert_true(avma_schedule_wakeup(&s) < s.granted_until);
  /* A short grant is renewed at half its remaining validity, well before expiry. */
  avma_schedule_success(&s, &timing, T0, T0 + 3600);
  assert_int_equal(s.next_attempt, T0 + 1800);
}

static void backoff_doubles_and_is_capped(void **st) {
  (void)st;
  AvmaSchedule s;
  avma_schedule_start(&s, FALSE, 0, T0);
  gint64 now = T0;
  gint64 expect[] = {60, 120, 240, 480, 960, 1920, 3840, 7200, 7200, 7200};
  for (size_t i = 0; i < G_N_ELEMENTS(expect); i++) {
    avma_schedule_failure(&s, &timing, now);
    assert_int_equal(s.next_attempt - now, expect[i]);
    now = s.next_attempt;
  }
  assert_int_equal(s.failures, 10);
}

static void failure_keeps_grant_until_it_lapses(void **st) {
  (void)st;
  AvmaSchedule s;
  avma_schedule_start(&s, FALSE, 0, T0);
  avma_schedule_success(&s, &timing, T0, T0 + 7 * DAY);
  avma_schedule_failure(&s, &timing, T0 + DAY); /* renewal failed: still licensed */
  assert_true(s.licensed);
  assert_false(avma_schedule_expire(&s, T0 + 7 * DAY - 1));
  assert_true(s.licensed);
  /* The lapse is a wake-up of its own even while retries are far apart. */
  s.next_attempt = T0 + 30 * DAY;
  assert_int_equal(avma_schedule_wakeup(&s), T0 + 7 * DAY);
  assert_true(avma_schedule_expire(&s, T0 + 7 * DAY));
  assert_false(s.licensed);
  assert_false(avma_schedule_expire(&s, T0 + 7 * DAY + 1)); /* reported once */
}

static void recovery_after_failures(void **st) {
  (void)st;
  AvmaSchedule s;
  avma_schedule_start(&s, FALSE, 0, T0);
  for (int i = 0; i < 5; i++)
    avma_schedule_failure(&s, &timing, T0 + i);
  avma_schedule_success(&s, &timing, T0 + 100, T0 + 100 + 7 * DAY);
  assert_int_equal(s.failures, 0);
  assert_true(s.licensed);
  avma_schedule_failure(&s, &timing, T0 + 200);
  assert_int_equal(s.next_attempt, T0 + 200 + 60); /* back-off starts over */
}

static void restart_keeps_valid_grant_only(void **st) {
  (void)st;
  AvmaSchedule s;
  avma_schedule_start(&s, TRUE, T0 + DAY, T0);
  assert_true(s.licensed);
  avma_schedule_start(&s, TRUE, T0 - 1, T0); /* lapsed while the agent was down */
  assert_false(s.licensed);
}

static void idle_means_no_wakeups(void **st) {
  (void)st;
  AvmaSchedule s;
  avma_schedule_start(&s, FALSE, 0, T0);
  avma_schedule_idle(&s);
  assert_int_equal(avma_schedule_wakeup(&s), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(first_activation_is_immediate),
      cmocka_unit_test(renewal_before_expiry),
      cmocka_unit_test(backoff_doubles_and_is_capped),
      cmocka_unit_test(failure_keeps_grant_until_it_lapses),
      cmocka_unit_test(recovery_after_failures),
      cmocka_unit_test(restart_keeps_valid_grant_only),
      cmocka_unit_test(idle_means_no_wakeups),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
