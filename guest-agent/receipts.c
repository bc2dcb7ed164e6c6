/* receipts: the guest's kept activation receipts, read and written with the portable core's JSON
 * code (avma-guestd links no json-glib: issue #20, its footprint). */
#include "receipts.h"

#include "core/evline.h"
#include "fsutil.h"
#include "timeutil.h"

#include <gio/gio.h>
#include <string.h>

static void flat_free(gpointer p) {
  AvmaJsonFlat *f = p;
  avma_json_flat_free(f);
  g_free(f);
}

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  return p;
}

/* [ object, ... ]: each entry read leniently, so a member a later version adds with a nested
 * value does not make the whole list unreadable. */
static GPtrArray *parse_list(const char *path, const char *text, gsize len, GError **error) {
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(flat_free);
  const char *p = skip_ws(text, text + len), *end = text + len;
  if (p >= end || *p != '[') {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: not a list of receipts", path);
    return NULL;
  }
  p = skip_ws(p + 1, end);
  gboolean done = p < end && *p == ']';
  if (done)
    p++;
  char why[96] = "";
  while (!done) {
    AvmaJsonFlat *f = g_new0(AvmaJsonFlat, 1);
    size_t used = 0;
    if (!avma_json_flat_parse_ex(f, p, (size_t)(end - p), TRUE, &used, why, sizeof why)) {
      g_free(f);
      break;
    }
    g_ptr_array_add(out, f);
    p = skip_ws(p + used, end);
    if (p < end && *p == ',') {
      p = skip_ws(p + 1, end);
    } else if (p < end && *p == ']') {
      p++;
      done = TRUE;
    } else {
      g_strlcpy(why, "expected ',' or ']' after it", sizeof why);
      break;
    }
  }
  if (done && skip_ws(p, end) == end)
    return g_steal_pointer(&out);
  if (done)
    g_strlcpy(why, "bytes after the list", sizeof why);
  g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
              "%s: not a list of receipts (entry %u: %s)", path, out->len + 1, why);
  return NULL;
}

GPtrArray *avma_guest_receipts_read(const char *path, GError **error) {
  g_autofree char *text = NULL;
  gsize len = 0;
  g_autoptr(GError) local = NULL;
  if (!g_file_get_contents(path, &text, &len, &local)) {
    if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      return g_ptr_array_new_with_free_func(flat_free);
    g_propagate_error(error, g_steal_pointer(&local));
    return NULL;
  }
  return parse_list(path, text, len, error);
}

char *avma_guest_receipt_check(const char *note, const char *host_key, AvmaReceipt *r,
                               AvmaPublicKey *pub) {
  g_autoptr(GError) err = NULL;
  memset(r, 0, sizeof *r);
  if (!host_key || !*host_key)
    return g_strdup("no host public key came with it");
  if (!avma_public_key_parse(host_key, pub, &err))
    return g_strdup_printf("the host public key it came with: %s", err->message);
  if (!avma_receipt_open(note, pub, r, &err))
    return g_strdup(err->message);
  return NULL;
}

/* One entry as json-glib's pretty printer laid it out (receipts.json was written by it). */
static void put_entry(AvmaBuf *b, const AvmaJsonFlat *f) {
  avma_buf_append(b, "  {", 3);
  for (size_t i = 0; i < f->n; i++) {
    const AvmaJsonMember *m = &f->m[i];
    avma_buf_append(b, i ? ",\n    " : "\n    ", i ? 6 : 5);
    avma_json_put_string(b, m->name);
    avma_buf_append(b, " : ", 3);
    if (m->type == AVMA_JV_STRING)
      avma_json_put_string(b, m->text);
    else
      avma_buf_append(b, m->text, strlen(m->text)); /* a number, true, false or null as read */
  }
  /* json-glib wrote an object without members as "{  }". */
  avma_buf_append(b, f->n ? "\n  }" : "  }", f->n ? 4 : 3);
}

gboolean avma_guest_receipts_add(const char *path, const char *note, const char *host_key,
                                 gint64 now, char **verdict, GError **error) {
  g_autoptr(GError) rerr = NULL;
  g_autoptr(GPtrArray) old = avma_guest_receipts_read(path, &rerr);
  if (!old) {
    /* An unreadable list must not stop the guest keeping receipts: it starts again. */
    g_warning("receipts: %s; starting a new list", rerr->message);
    old = g_ptr_array_new_with_free_func(flat_free);
  }
  AvmaReceipt r;
  AvmaPublicKey pub;
  g_autofree char *why = avma_guest_receipt_check(note, host_key, &r, &pub);
  avma_receipt_clear(&r);
  AvmaBuf b;
  avma_buf_init(&b);
  avma_buf_append(&b, "[\n", 2);
  guint n = old->len;
  for (guint i = n >= AVMA_GUEST_RECEIPTS_KEPT ? n - AVMA_GUEST_RECEIPTS_KEPT + 1 : 0; i < n; i++) {
    put_entry(&b, old->pdata[i]);
    avma_buf_append(&b, ",\n", 2);
  }
  g_autofree char *at = avma_time_format(now);
  AvmaJsonMember m[] = {
      {.name = AVMA_RECEIPTS_M_AT, .type = AVMA_JV_STRING, .text = at},
      {.name = AVMA_RECEIPTS_M_KEY,
       .type = AVMA_JV_STRING,
       .text = (char *)(host_key ? host_key : "")},
      {.name = AVMA_RECEIPTS_M_NOTE, .type = AVMA_JV_STRING, .text = (char *)note},
  };
  AvmaJsonFlat added = {.m = m, .n = G_N_ELEMENTS(m)};
  put_entry(&b, &added);
  avma_buf_append(&b, "\n]", 2);
  if (b.failed)
    g_error("out of memory");
  gboolean ok = avma_write_atomic(path, b.data, (gssize)b.len, 0644, error);
  avma_buf_free(&b);
  if (!ok)
    return FALSE;
  if (verdict)
    *verdict = g_steal_pointer(&why);
  return TRUE;
}
