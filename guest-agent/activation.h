/* activation: when to activate, renew, retry and expire. Pure decisions on an injected clock
 * (unix seconds), so tests never sleep to see a timer fire. */
#pragma once
#include <glib.h>

#include "guest-config.h"

typedef struct {
  gboolean licensed;    /* a grant is in force */
  gint64 granted_until; /* local clock; 0 when never granted */
  gint64 next_attempt;  /* 0: nothing due (no key) */
  guint failures;       /* consecutive failed attempts */
} AvmaSchedule;

/* At start: attempt now; keep a grant that is still valid. */
void avma_schedule_start(AvmaSchedule *s, gboolean licensed, gint64 granted_until, gint64 now);
/* No AVMA key installed: nothing is due. */
void avma_schedule_idle(AvmaSchedule *s);
/* A success granting validity until `until` (local clock): renew after renew_interval, or at
 * half the remaining validity when that comes first. */
void avma_schedule_success(AvmaSchedule *s, const AvmaTiming *t, gint64 now, gint64 until);
/* A failed attempt: retry after retry_initial * 2^(failures-1), capped at retry_max. A grant
 * still in force stays in force until it runs out. */
void avma_schedule_failure(AvmaSchedule *s, const AvmaTiming *t, gint64 now);
/* TRUE exactly once when the grant has run out at `now` (the state becomes unlicensed). */
gboolean avma_schedule_expire(AvmaSchedule *s, gint64 now);
/* The next instant anything is due (attempt or expiry); 0 when nothing is. */
gint64 avma_schedule_wakeup(const AvmaSchedule *s);
