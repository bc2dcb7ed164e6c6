/* guest: the guest agent's runtime, shared by avma-guestd and avma-guest's one-shot mode: owns
 * the port (one descriptor for the whole life), runs one exchange at a time, logs 12309 for
 * every attempt, keeps the durable state, and in daemon mode drives the renewal schedule. */
#pragma once
#include <glib.h>

#include "exchange.h"
#include "guest-config.h"
#include "state.h"

typedef struct AvmaGuest AvmaGuest;

/* Called when an activation attempt has ended (its 12309 event is on disk). */
typedef void (*AvmaAttemptDone)(AvmaGuest *g, AvmaNotification n, const char *reason,
                                gpointer user);

/* config is borrowed. Loads the state. */
AvmaGuest *avma_guest_new(const AvmaGuestConfig *config, GError **error);
void avma_guest_free(AvmaGuest *g);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaGuest, avma_guest_free)
AvmaGuestState *avma_guest_state(AvmaGuest *g);

/* Open the port now. A busy port (another agent) is an error; a missing one is not (the daemon
 * keeps looking for it while an attempt waits). */
gboolean avma_guest_open_port(AvmaGuest *g, GError **error);

/* For `avma-guest doctor`: whether the daemon holds the port open, and whether the host side of
 * it is there (no hang-up on the port: avma-hostd connected to the VM's socket). */
void avma_guest_port_status(AvmaGuest *g, gboolean *open, gboolean *host_connected);

/* Daemon mode: attempt now, then renew/retry/expire on timers, republish intrinsic items when
 * the network changes. */
void avma_guest_start_daemon(AvmaGuest *g);

/* Attempt an activation now (after the one in progress, if any). cb may be NULL. */
void avma_guest_activate_now(AvmaGuest *g, AvmaAttemptDone cb, gpointer user);

/* ipk: install a key. AVMA keys must match the configured product; a well-formed non-AVMA key
 * replaces the AVMA key and schedules removal of the published KVP data. On success *message
 * says what happened. */
gboolean avma_guest_install_key(AvmaGuest *g, const char *key, char **message, GError **error);
/* upk: remove the key and schedule removal of the published KVP data. */
gboolean avma_guest_uninstall_key(AvmaGuest *g, char **message, GError **error);
/* Run a pending KVP clear now if one is due (one-shot mode after ipk/upk). cb may be NULL. */
gboolean avma_guest_clear_pending(AvmaGuest *g, AvmaAttemptDone cb, gpointer user);
