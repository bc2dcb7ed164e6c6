/* recorder: the daemon's records of VM runs (12312), of its own start and stop (12314) and of
 * the licence it reads (12311), appended to the record log; keeps the history store in step
 * with that log (and licence-history.jsonl); closes VM runs whose end the agent could not see;
 * applies retention. (Host and VM facts: facts.h.) */
#pragma once
#include <glib.h>

#include "history.h"
#include "host.h"

typedef struct AvmaRecorder AvmaRecorder;

/* Attach history (borrowed: it must outlive the recorder; NULL when the store is unusable: the
 * records still go to the log, nothing is imported or pruned) to host (a reference is held; the
 * recorder's observers go when it is freed). At once: imports what events.jsonl and
 * licence-history.jsonl hold that the store lacks (the first start imports them whole); records
 * the agent's start and the licence when it differs from the log's last 12311; and deals with VMs
 * the store says were running when the agent last stopped:
 *  - after a reboot of the host (boot id changed) their runs end at the agent's last sign of
 *    life;
 *  - otherwise a VM reported running again within [history] confirm_running_within seconds is
 *    taken to have run throughout; the others' runs end at the agent's last sign of life.
 * Create it before any session connects, so no lifecycle change is missed. */
AvmaRecorder *avma_recorder_new(AvmaHost *host, AvmaHistory *history);
/* Records the agent's stop. VMs keep running when the agent stops, so their runs stay open. */
void avma_recorder_free(AvmaRecorder *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaRecorder, avma_recorder_free)

/* Writes to the store that failed (the event logs still hold those records; the next sync
 * imports them). */
guint64 avma_recorder_errors(AvmaRecorder *r);
