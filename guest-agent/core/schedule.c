/* schedule: activate / renew / retry / expire decisions on an injected clock. */
#include "schedule.h"

void avma_timing_defaults(AvmaTiming *t) {
  t->request_timeout = 10;
  t->renew_interval = 24 * 3600;
  t->retry_initial = 60;
  t->retry_max = 120 * 60;
  t->presence_interval = 2;
}

void avma_schedule_start(AvmaSchedule *s, bool licensed, int64_t granted_until, int64_t now) {
  s->licensed = licensed && granted_until > now;
  s->granted_until = granted_until;
  s->next_attempt = now;
  s->failures = 0;
}

void avma_schedule_idle(AvmaSchedule *s) {
  s->next_attempt = 0;
  s->failures = 0;
}

void avma_schedule_success(AvmaSchedule *s, const AvmaTiming *t, int64_t now, int64_t until) {
  s->licensed = until > now;
  s->granted_until = until;
  s->failures = 0;
  int64_t delay = t->renew_interval;
  /* Renew well before expiry even when the host grants less than our renewal interval. */
  if (until > now && (until - now) / 2 < delay) {
    delay = (until - now) / 2;
    if (delay < 1)
      delay = 1;
  }
  s->next_attempt = now + delay;
}

void avma_schedule_failure(AvmaSchedule *s, const AvmaTiming *t, int64_t now) {
  s->failures++;
  int64_t delay = t->retry_initial;
  for (unsigned i = 1; i < s->failures && delay < t->retry_max; i++)
    delay *= 2;
  s->next_attempt = now + (delay < t->retry_max ? delay : t->retry_max);
}

bool avma_schedule_expire(AvmaSchedule *s, int64_t now) {
  if (!s->licensed || now < s->granted_until)
    return false;
  s->licensed = false;
  return true;
}

int64_t avma_schedule_wakeup(const AvmaSchedule *s) {
  int64_t w = s->next_attempt;
  if (s->licensed && (w == 0 || s->granted_until < w))
    w = s->granted_until;
  return w;
}
