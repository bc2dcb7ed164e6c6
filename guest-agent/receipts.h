/* receipts: the activation receipts the Linux guest received (STATE/receipts.json), the last
 * AVMA_GUEST_RECEIPTS_KEPT, each with the host public key it came with (AvmaHostPublicKey). A
 * receipt is checked on arrival and again whenever it is read (the file is the guest's, not a
 * proof by itself); one that fails is kept and flagged, and never changes the activation.
 * receipts.c keeps the list (the daemon: no json-glib), receipts-view.c shows it (the CLI). */
#pragma once
#include <glib.h>
#include <json-glib/json-glib.h>

#include "receipt.h"

#define AVMA_GUEST_RECEIPTS_KEPT 32

/* The stored members of an entry; the others are derived on reading. */
#define AVMA_RECEIPTS_M_AT "received_at"
#define AVMA_RECEIPTS_M_KEY "host_key"
#define AVMA_RECEIPTS_M_NOTE "receipt"

/* Verify note against host_key (base64, AvmaHostPublicKey; NULL or bad: flagged) and append it
 * to path's list, dropping the oldest beyond the bound; written atomically. Returns FALSE only
 * when the file could not be written; *verdict (may be NULL) gets the check's failure, or NULL
 * when the receipt verifies. */
gboolean avma_guest_receipts_add(const char *path, const char *note, const char *host_key,
                                 gint64 now, char **verdict, GError **error);
/* The list as stored, oldest first: AvmaJsonFlat * entries (core/evline.h), each an object's
 * string, integer, boolean and null members. A missing file is an empty list; a file that is not
 * a list of objects is an error. */
GPtrArray *avma_guest_receipts_read(const char *path, GError **error);
/* Check one receipt against the key it came with: NULL when it verifies (r and pub filled; clear
 * r), else why not. */
char *avma_guest_receipt_check(const char *note, const char *host_key, AvmaReceipt *r,
                               AvmaPublicKey *pub);
/* The list, oldest first, each entry re-checked: {"received_at", "host_key", "host_key_id",
 * "receipt", "verified", "error" (when not verified), "seq", "head", "vm_name", "vm_id",
 * "notification", "decided_at", "granted_until" (when the text parses)}. A missing file is an
 * empty list; a file that is not a list is an error. */
JsonArray *avma_guest_receipts_load(const char *path, GError **error);
