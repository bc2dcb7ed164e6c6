/* licence: the host's licensed state (version, edition, activated), durable and atomic, changed
 * only through `avma-host license set`; a running daemon notices changes on its next decision. */
#pragma once
#include <glib.h>

#include "events.h"
#include "policy.h"

typedef struct {
  AvmaVersion version; /* UNKNOWN: never set */
  AvmaEdition edition;
  gboolean activated;
  char key_last5[6]; /* "" when no key was given */
  gint64 set_at;     /* unix seconds */
  char *set_by;      /* user name */
} AvmaLicence;

void avma_licence_clear(AvmaLicence *l);
AvmaHostLicence avma_licence_policy_view(const AvmaLicence *l);

/* Load STATE/licence.conf. A missing file yields an unset licence (version UNKNOWN). A corrupt
 * file is an error: the daemon then answers Invalid Host rather than guess. */
gboolean avma_licence_load(const char *state_dir, AvmaLicence *out, GError **error);
/* Write atomically, then record the change (12311) in STATE/licence-history.jsonl and the
 * journal. */
gboolean avma_licence_save(const char *state_dir, const AvmaLicence *l, AvmaJournalMode journal,
                           GError **error);

/* The daemon's view: reloads when the file's identity (mtime, inode, size) changed. */
typedef struct AvmaLicenceCache AvmaLicenceCache;
AvmaLicenceCache *avma_licence_cache_new(const char *state_dir);
void avma_licence_cache_free(AvmaLicenceCache *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaLicenceCache, avma_licence_cache_free)
/* Current licence; *changed is set TRUE when it differs from the previous call's. On a corrupt
 * file returns an unset licence and logs a warning once. */
const AvmaLicence *avma_licence_cache_get(AvmaLicenceCache *c, gboolean *changed);

/* The host's stable identity (UUID), created in STATE/host-id on first use. */
char *avma_host_id(const char *state_dir, GError **error);

/* JSON view of a licence for `license show --json` and history records. */
JsonObject *avma_licence_to_json(const AvmaLicence *l);
