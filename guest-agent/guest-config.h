/* guest-config: avma-guestd / avma-guest settings from guest.conf (GKeyFile) and the command
 * line. */
#pragma once
#include <glib.h>

#include "catalogue.h"
#include "core/schedule.h" /* AvmaTiming */
#include "events.h"
#include "schema.h"
#include "settings.h"

#define AVMA_GUEST_DEFAULT_CONFIG "/etc/avma/guest.conf"
#define AVMA_GUEST_DEFAULT_STATE "/var/lib/avma-guest"
#define AVMA_GUEST_DEFAULT_PORT "/dev/virtio-ports/" AVMA_CHANNEL_NAME

typedef struct {
  char *state_dir;
  char *port;
  AvmaVersion product_version; /* UNKNOWN: the key decides */
  AvmaEdition product_edition;
  AvmaJournalMode journal;
  AvmaTiming timing;
} AvmaGuestConfig;

void avma_guest_config_free(AvmaGuestConfig *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaGuestConfig, avma_guest_config_free)

/* Load config_path (NULL = default; a missing default file is fine, a missing explicit one is an
 * error) and apply overrides (each may be NULL). */
AvmaGuestConfig *avma_guest_config_load(const char *config_path, const char *state_dir,
                                        const char *port, GError **error);
char *avma_guest_state_path(const AvmaGuestConfig *c, const char *name);

/* guest.conf's settings table (for the documentation check). */
const AvmaSetting *avma_guest_settings(size_t *n);
