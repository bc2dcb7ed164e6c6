/* intrinsic: the guest's Hyper-V-style intrinsic items (FQDN, OS, kernel, architecture,
 * addresses, agent version) and a watch that says when they changed (rtnetlink address and link
 * notifications, not polling). */
#pragma once
#include <glib.h>

#include "msg.h"

/* Collect the items now (auto pool records). */
AvmaRecordList *avma_intrinsic_collect(void);
/* A stable digest of the items, to publish only when something changed. */
char *avma_intrinsic_digest(AvmaRecordList *l);

typedef void (*AvmaIntrinsicChanged)(gpointer user);
/* Calls fn (debounced) when an address or link changes. Returns a handle for
 * avma_intrinsic_unwatch (NULL, with a warning, when netlink is unavailable). */
gpointer avma_intrinsic_watch(AvmaIntrinsicChanged fn, gpointer user);
void avma_intrinsic_unwatch(gpointer handle);
