/* schedule: when the guest activates, renews, retries and expires. Pure decisions on an
 * injected clock (unix seconds), so tests never sleep to see a timer fire. Plain C11. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

typedef struct {
  int64_t request_timeout;   /* s: no valid answer by then ends the attempt */
  int64_t renew_interval;    /* s: renew this long after a success */
  int64_t retry_initial;     /* s: first retry after a failure */
  int64_t retry_max;         /* s: cap of the exponential back-off */
  int64_t presence_interval; /* s: how often to look for the host while an attempt waits */
} AvmaTiming;

/* The defaults of brief section 8: 10 s, 24 h, 60 s, 120 min, 2 s. */
void avma_timing_defaults(AvmaTiming *t);

typedef struct {
  bool licensed;         /* a grant is in force */
  int64_t granted_until; /* local clock; 0 when never granted */
  int64_t next_attempt;  /* 0: nothing due (no key) */
  unsigned failures;     /* consecutive failed attempts */
} AvmaSchedule;

/* At start: attempt now; keep a grant that is still valid. */
void avma_schedule_start(AvmaSchedule *s, bool licensed, int64_t granted_until, int64_t now);
/* No AVMA key installed: nothing is due. */
void avma_schedule_idle(AvmaSchedule *s);
/* A success granting validity until `until` (local clock): renew after renew_interval, or at
 * half the remaining validity when that comes first. */
void avma_schedule_success(AvmaSchedule *s, const AvmaTiming *t, int64_t now, int64_t until);
/* A failed attempt: retry after retry_initial * 2^(failures-1), capped at retry_max. A grant
 * still in force stays in force until it runs out. */
void avma_schedule_failure(AvmaSchedule *s, const AvmaTiming *t, int64_t now);
/* true exactly once when the grant has run out at `now` (the state becomes unlicensed). */
bool avma_schedule_expire(AvmaSchedule *s, int64_t now);
/* The next instant anything is due (attempt or expiry); 0 when nothing is. */
int64_t avma_schedule_wakeup(const AvmaSchedule *s);
