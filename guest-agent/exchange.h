/* exchange: one guest-initiated protocol exchange (HELLO, then requests in order), as logic with
 * no I/O: a GLib face on the core's xchg.c (the rules live there). The caller owns the port and
 * the timeout. */
#pragma once
#include <glib.h>

#include "core/xchg.h"
#include "frame.h"
#include "msg.h"
#include "policy.h"

typedef struct AvmaExchange AvmaExchange;

typedef enum {
  AVMA_EXCHANGE_CONTINUE, /* send avma_exchange_current_frame() next */
  AVMA_EXCHANGE_IGNORED,  /* not for this exchange (stale session, other seq): keep waiting */
  AVMA_EXCHANGE_DONE,     /* avma_exchange_result() is final */
  AVMA_EXCHANGE_RETRY,    /* throttled: send the current frame again after the retry-after */
} AvmaExchangeStatus;

typedef struct {
  AvmaNotification notification;
  const char *reason_code;
  const char *reason;
  AvmaRecordList *host_items; /* HELLO_REPLY records; NULL when none came */
  AvmaRecordList *reply;      /* ACTIVATE_REPLY records; NULL when none came */
} AvmaExchangeResult;

/* session must be non-zero and fresh for every exchange. */
AvmaExchange *avma_exchange_new(guint32 session, const char *agent_version);
void avma_exchange_free(AvmaExchange *ex);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaExchange, avma_exchange_free)

/* Queue requests after HELLO (takes records; at most AVMA_XCHG_MAX_STEPS - 1). ACTIVATE's reply
 * decides the notification; without one, the exchange succeeds when every request was
 * acknowledged. */
void avma_exchange_add(AvmaExchange *ex, AvmaMsgType type, AvmaRecordList *records);

/* The frame for the current step (HELLO first). */
GBytes *avma_exchange_current_frame(AvmaExchange *ex);
/* Restart from HELLO (the host went away mid-exchange); a new session id must be given. */
void avma_exchange_restart(AvmaExchange *ex, guint32 session);

AvmaExchangeStatus avma_exchange_on_frame(AvmaExchange *ex, const AvmaFrame *f);
/* Bytes arrived that were not a usable frame for us (garbage, bad frame, stale session). */
void avma_exchange_on_noise(AvmaExchange *ex);
/* The deadline passed: Invalid Host if nothing at all came back, else Invalid Data. */
void avma_exchange_on_timeout(AvmaExchange *ex);
gboolean avma_exchange_heard_host(AvmaExchange *ex);

const AvmaExchangeResult *avma_exchange_result(AvmaExchange *ex);
