/* state: the guest's durable state (installed key, product, last grant, KVP bookkeeping) in
 * STATE/guest.state, replaced atomically so a crash leaves the old or the new state. The record
 * and its text form are the portable core's (core/gstate.h); this adds the Linux file I/O. */
#pragma once
#include <glib.h>

#include "core/gstate.h"

/* The core's record: strings are fixed arrays, "" when empty (never NULL). */
typedef AvmaGState AvmaGuestState;

void avma_guest_state_free(AvmaGuestState *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaGuestState, avma_guest_state_free)

/* Missing file: a fresh state with a new guest id. Corrupt file: an error naming the file. */
AvmaGuestState *avma_guest_state_load(const char *state_dir, GError **error);
gboolean avma_guest_state_save(const AvmaGuestState *s, const char *state_dir, GError **error);

/* "Licensed", "Unlicensed" or "Notification" (had a grant, it lapsed). */
const char *avma_guest_state_status(const AvmaGuestState *s, gint64 now);
