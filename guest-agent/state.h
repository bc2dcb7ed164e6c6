/* state: the guest's durable state (installed key, product, last grant, KVP bookkeeping) in
 * STATE/guest.state, replaced atomically so a crash leaves the old or the new state. */
#pragma once
#include <glib.h>

#include "catalogue.h"

typedef struct {
  /* installed key */
  char *key;               /* normalised; NULL when none */
  gboolean key_is_avma;    /* in the AVMA catalogue */
  AvmaVersion key_version; /* the key's product (AVMA keys) */
  AvmaEdition key_edition;
  gint64 key_installed_at;
  /* licence */
  gboolean licensed;
  gint64 granted_until; /* local clock */
  gint64 last_attempt;
  char *last_notification; /* "" before the first attempt */
  char *last_reason;
  gint64 last_success;
  guint failures;
  /* what the host told us at the last success */
  char *host_id;
  char *host_name;
  char *host_version;
  char *vm_name;
  char *vm_id;
  /* KVP bookkeeping */
  gboolean published;     /* intrinsic items were sent to a host */
  gboolean pending_clear; /* the host must be told to drop what we published */
  char *guest_id;         /* stable id of this guest install (Guest IAID) */
} AvmaGuestState;

void avma_guest_state_free(AvmaGuestState *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaGuestState, avma_guest_state_free)

/* Missing file: a fresh state with a new guest id. Corrupt file: an error naming the file. */
AvmaGuestState *avma_guest_state_load(const char *state_dir, GError **error);
gboolean avma_guest_state_save(const AvmaGuestState *s, const char *state_dir, GError **error);

/* "Licensed", "Unlicensed" or "Notification" (had a grant, it lapsed). */
const char *avma_guest_state_status(const AvmaGuestState *s, gint64 now);
