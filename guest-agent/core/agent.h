/* agent: what the guest agent decides on its state, shared by the Linux and the Windows agent:
 * which product it declares, what it asks the host, what an exchange's outcome does to the
 * state and the schedule, key installation (ipk/upk) and expiry. No I/O: the caller saves the
 * state and logs the 12309 event these functions describe. Plain C11. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gstate.h"
#include "recs.h"
#include "schedule.h"
#include "xchg.h"

/* The image's declared product (configuration, or the registry on Windows); UNKNOWN: the key
 * decides. */
typedef struct {
  AvmaVersion version;
  AvmaEdition edition;
} AvmaProduct;

/* The product the guest declares: the image's where set, else the key's. */
AvmaProduct avma_agent_product(const AvmaGState *s, const AvmaProduct *image);

/* The ACTIVATE request's records (key, declared version and edition) into req. */
bool avma_agent_activate_request(const AvmaGState *s, const AvmaProduct *image, AvmaRecs *req);

/* Apply a finished activation exchange to the state and the schedule, at local time now:
 * host items, grant (the host's validity measured on the host's clock, applied to ours),
 * failures. */
void avma_agent_apply_result(AvmaGState *s, AvmaSchedule *sched, const AvmaTiming *t,
                             const AvmaXchgResult *r, int64_t now);

/* ipk. Normalises and checks the key. An AVMA key must match the image's product (else false,
 * with why naming this image's AVMA key, as on Linux). A well-formed non-AVMA key replaces the
 * AVMA key and schedules removal of the published KVP data. On success message says what
 * happened. *activate is set when an activation should follow (an AVMA key). */
bool avma_agent_install_key(AvmaGState *s, AvmaSchedule *sched, const AvmaProduct *image,
                            const char *key, int64_t now, bool *activate, char *message,
                            size_t message_len, char *why, size_t why_len);
/* upk: remove the key and schedule removal of the published KVP data. */
void avma_agent_uninstall_key(AvmaGState *s, AvmaSchedule *sched, char *message,
                              size_t message_len);

/* A KVP clear exchange ended. */
void avma_agent_clear_done(AvmaGState *s, AvmaSchedule *sched, const AvmaTiming *t, bool ok,
                           int64_t now);

/* If the grant ran out at now: marks the state unlicensed and returns true with the 12309 event
 * to log (notification: the last attempt's failure, Invalid Host when none; reason code
 * "expired"; reason naming the end time and the last attempt). */
bool avma_agent_expire(AvmaGState *s, AvmaSchedule *sched, int64_t now, AvmaNotification *n,
                       char *reason, size_t reason_len);

/* Why no activation can start ("no key installed: run avma-guest ipk KEY", "the installed key
 * is not an AVMA key"), or NULL when one can. */
const char *avma_agent_cannot_activate(const AvmaGState *s);
