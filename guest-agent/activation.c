/* activation: activate / renew / retry / expire decisions on an injected clock. */
#include "activation.h"

void avma_schedule_start(AvmaSchedule *s, gboolean licensed, gint64 granted_until, gint64 now) {
  s->licensed = licensed && granted_until > now;
  s->granted_until = granted_until;
  s->next_attempt = now;
  s->failures = 0;
}

void avma_schedule_idle(AvmaSchedule *s) {
  s->next_attempt = 0;
  s->failures = 0;
}

void avma_schedule_success(AvmaSchedule *s, const AvmaTiming *t, gint64 now, gint64 until) {
  s->licensed = until > now;
  s->granted_until = until;
  s->failures = 0;
  gint64 delay = t->renew_interval;
  /* Renew well before expiry even when the host grants less than our renewal interval. */
  if (until > now && (until - now) / 2 < delay)
    delay = MAX((until - now) / 2, 1);
  s->next_attempt = now + delay;
}

void avma_schedule_failure(AvmaSchedule *s, const AvmaTiming *t, gint64 now) {
  s->failures++;
  gint64 delay = t->retry_initial;
  for (guint i = 1; i < s->failures && delay < t->retry_max; i++)
    delay *= 2;
  s->next_attempt = now + MIN(delay, t->retry_max);
}

gboolean avma_schedule_expire(AvmaSchedule *s, gint64 now) {
  if (!s->licensed || now < s->granted_until)
    return FALSE;
  s->licensed = FALSE;
  return TRUE;
}

gint64 avma_schedule_wakeup(const AvmaSchedule *s) {
  gint64 w = s->next_attempt;
  if (s->licensed && (w == 0 || s->granted_until < w))
    w = s->granted_until;
  return w;
}
