/* receipt: the signed activation receipt of one decision (ACTIVATE_REPLY's AvmaReceipt), a C2SP
 * signed note by the host key whose text names the decision and its place in the host's record
 * log (PROTOCOL.md "Activation receipts" gives the text line by line). Built by the host, kept by
 * the Linux guest, checked by avma-verify; nothing of either agent. */
#pragma once
#include <glib.h>

#include "sign.h"

#define AVMA_RECEIPT_MAGIC "avma-receipt v1"
#define AVMA_RECEIPT_HEAD_HEX 65 /* 64 hex digits and the NUL */

/* A receipt's fields. Text fields are never NULL in a parsed receipt (empty when the host had
 * nothing, e.g. vm_id of a VM without a UUID, granted_until unless AVMA Success). */
typedef struct {
  char *host_id;       /* AvmaHostId */
  char *licence;       /* "<version> <edition>" of the host's licence, empty when unset */
  char *vm_id;         /* VirtualMachineId */
  char *vm_name;       /* as HELLO_REPLY's VirtualMachineName: sanitized, cut to 255 bytes */
  char *product;       /* "<version> <edition>" of the guest's product */
  char *key_last5;     /* last 5 characters of the partial key presented */
  char *notification;  /* AvmaNotification */
  char *granted_until; /* AvmaGrantedUntil */
  char *decided_at;    /* AvmaActivationTime */
  guint64 seq;         /* the decision's record number in the host's events.jsonl */
  char head[AVMA_RECEIPT_HEAD_HEX]; /* SHA-256 of that record's line: the next record's prev */
} AvmaReceipt;

void avma_receipt_clear(AvmaReceipt *r);
/* The note text (ends in '\n'). Every field is made safe and cut to its bound (see receipt.c), so
 * any input gives a text that avma_note_sign accepts and that fits AvmaReceipt's 2 048 bytes once
 * signed. */
char *avma_receipt_text(const AvmaReceipt *r);
/* Parse a receipt's text (not a note): exactly the lines avma_receipt_text writes. Errors are
 * G_IO_ERROR_INVALID_DATA naming the first bad line. */
gboolean avma_receipt_parse(const char *text, AvmaReceipt *out, GError **error);
/* Sign: the note under the host key's name (avma_keycert_note_name(AVMA_KEYCERT_HOST, ...)). */
char *avma_receipt_sign(const AvmaReceipt *r, const AvmaKeyPair *kp, GError **error);
/* Verify a signed receipt against the host's public key and parse it. Errors: avma_note_open's
 * (AVMA_SIGN_ERROR: MALFORMED, UNKNOWN_KEY for a foreign host key, BAD_SIGNATURE for an altered
 * receipt), then avma_receipt_parse's. */
gboolean avma_receipt_open(const char *note, const AvmaPublicKey *host, AvmaReceipt *out,
                           GError **error);
