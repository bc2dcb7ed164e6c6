/* receipt: the activation receipt's text, signature and parser. */
#include "receipt.h"

#include "keycert.h"
#include "kvp.h"

#include <gio/gio.h>
#include <string.h>

/* The lines after the magic, in order. Each field's bound keeps a signed receipt well inside the
 * schema's 2 048 bytes (test-receipt checks the largest one): the name as VirtualMachineName
 * (255), the others as their own schema keys, the product and licence as version (16) + ' ' +
 * edition (32). */
typedef struct {
  const char *name;
  gsize offset; /* of the char * in AvmaReceipt */
  gsize max;
} Line;

#define F(n, m, max)                                                                               \
  { n, G_STRUCT_OFFSET(AvmaReceipt, m), max }
static const Line LINES[] = {
    F("host", host_id, 36),
    F("licence", licence, 49),
    F("vm-id", vm_id, 36),
    F("vm-name", vm_name, 255),
    F("product", product, 49),
    F("key", key_last5, 5),
    F("notification", notification, 32), /* the receipt's own line name: event-field-ok */
    F("granted-until", granted_until, 40),
    F("decided-at", decided_at, 40),
};
#undef F
#define LOG_LINE "log events.jsonl"

static char **field(AvmaReceipt *r, const Line *l) {
  return G_STRUCT_MEMBER_P(r, l->offset);
}

void avma_receipt_clear(AvmaReceipt *r) {
  for (gsize i = 0; i < G_N_ELEMENTS(LINES); i++)
    g_free(*field(r, &LINES[i]));
  memset(r, 0, sizeof *r);
}

char *avma_receipt_text(const AvmaReceipt *r) {
  GString *s = g_string_new(AVMA_RECEIPT_MAGIC "\n");
  for (gsize i = 0; i < G_N_ELEMENTS(LINES); i++) {
    const char *v = *field((AvmaReceipt *)r, &LINES[i]);
    char safe[256];
    avma_text_sanitize(v ? v : "", v ? strlen(v) : 0, safe, LINES[i].max + 1);
    g_string_append_printf(s, "%s %s\n", LINES[i].name, safe);
  }
  char head[AVMA_RECEIPT_HEAD_HEX];
  avma_text_sanitize(r->head, strnlen(r->head, sizeof r->head), head, sizeof head);
  g_string_append_printf(s, LOG_LINE "\nseq %" G_GUINT64_FORMAT "\nhead %s\n", r->seq, head);
  return g_string_free(s, FALSE);
}

static gboolean bad(GError **error, const char *why) {
  g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "not an activation receipt: %s", why);
  return FALSE;
}

gboolean avma_receipt_parse(const char *text, AvmaReceipt *out, GError **error) {
  memset(out, 0, sizeof *out);
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  gsize n = G_N_ELEMENTS(LINES);
  /* magic, the fields, log, seq, head, and the empty string after the last '\n' */
  if (g_strv_length(lines) != n + 5 || strcmp(lines[0], AVMA_RECEIPT_MAGIC) || *lines[n + 4])
    return bad(error, "unexpected lines");
  for (gsize i = 0; i < n; i++) {
    const char *l = lines[i + 1];
    gsize k = strlen(LINES[i].name);
    if (strncmp(l, LINES[i].name, k) || l[k] != ' ') {
      avma_receipt_clear(out);
      return bad(error, LINES[i].name);
    }
    *field(out, &LINES[i]) = g_strdup(l + k + 1);
  }
  guint64 seq = 0;
  const char *head = lines[n + 3] + 5;
  if (strcmp(lines[n + 1], LOG_LINE) || !g_str_has_prefix(lines[n + 2], "seq ") ||
      !g_ascii_string_to_unsigned(lines[n + 2] + 4, 10, 1, G_MAXINT64, &seq, NULL)) {
    avma_receipt_clear(out);
    return bad(error, "seq");
  }
  if (!g_str_has_prefix(lines[n + 3], "head ") || strlen(head) != AVMA_RECEIPT_HEAD_HEX - 1 ||
      strspn(head, "0123456789abcdef") != AVMA_RECEIPT_HEAD_HEX - 1) {
    avma_receipt_clear(out);
    return bad(error, "head");
  }
  out->seq = seq;
  memcpy(out->head, head, AVMA_RECEIPT_HEAD_HEX);
  return TRUE;
}

char *avma_receipt_sign(const AvmaReceipt *r, const AvmaKeyPair *kp, GError **error) {
  g_autofree char *text = avma_receipt_text(r);
  g_autofree char *name = avma_keycert_note_name(AVMA_KEYCERT_HOST, &kp->pub);
  return avma_note_sign(text, name, kp, error);
}

gboolean avma_receipt_open(const char *note, const AvmaPublicKey *host, AvmaReceipt *out,
                           GError **error) {
  memset(out, 0, sizeof *out);
  g_autofree char *name = avma_keycert_note_name(AVMA_KEYCERT_HOST, host);
  AvmaNoteKey key = {.name = name, .pub = *host};
  g_autofree char *text = NULL;
  if (!avma_note_open(note, &key, 1, &text, NULL, error))
    return FALSE;
  return avma_receipt_parse(text, out, error);
}
