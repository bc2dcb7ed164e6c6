/* msg: building and parsing record-list messages: GLib wrappers over the core's wire.c. */
#include "msg.h"

#include "wire.h"

#include <string.h>

G_DEFINE_QUARK(avma - msg - error - quark, avma_msg_error)

struct AvmaRecordList {
  GArray *pools;     /* AvmaPool */
  GPtrArray *keys;   /* char* */
  GPtrArray *values; /* char* */
};

AvmaRecordList *avma_record_list_new(void) {
  AvmaRecordList *l = g_new0(AvmaRecordList, 1);
  l->pools = g_array_new(FALSE, FALSE, sizeof(AvmaPool));
  l->keys = g_ptr_array_new_with_free_func(g_free);
  l->values = g_ptr_array_new_with_free_func(g_free);
  return l;
}

void avma_record_list_free(AvmaRecordList *l) {
  if (!l)
    return;
  g_array_unref(l->pools);
  g_ptr_array_unref(l->keys);
  g_ptr_array_unref(l->values);
  g_free(l);
}

void avma_record_list_add_raw(AvmaRecordList *l, AvmaPool pool, const char *key,
                              const char *value) {
  g_array_append_val(l->pools, pool);
  g_ptr_array_add(l->keys, g_strdup(key));
  g_ptr_array_add(l->values, g_strdup(value ? value : ""));
}

void avma_record_list_add(AvmaRecordList *l, AvmaKeyId id, const char *value) {
  avma_record_list_add_raw(l, avma_key_pool(id), avma_key_name(id), value);
}

guint avma_record_list_len(AvmaRecordList *l) {
  return l->keys->len;
}

AvmaRecord avma_record_list_get(AvmaRecordList *l, guint i) {
  return avma_record_str(g_array_index(l->pools, AvmaPool, i), l->keys->pdata[i],
                         l->values->pdata[i]);
}

GBytes *avma_msg_build(AvmaMsgType type, guint8 flags, guint32 session, guint32 seq,
                       AvmaRecordList *l, GError **error) {
  guint n = l ? avma_record_list_len(l) : 0;
  g_autofree AvmaRecord *recs = g_new0(AvmaRecord, n ? n : 1);
  for (guint i = 0; i < n; i++)
    recs[i] = avma_record_list_get(l, i);
  guint8 *frame = g_malloc(AVMA_FRAME_MAX_SIZE);
  size_t flen = 0;
  char why[160];
  AvmaWireStatus st = avma_wire_build(type, flags, session, seq, recs, n, frame,
                                      AVMA_FRAME_MAX_SIZE, &flen, why, sizeof why);
  if (st != AVMA_WIRE_OK) {
    g_free(frame);
    g_set_error_literal(error, AVMA_MSG_ERROR_DOMAIN,
                        st == AVMA_WIRE_TOO_BIG ? AVMA_MSG_ERROR_TOO_BIG : AVMA_MSG_ERROR_RECORDS,
                        why);
    return NULL;
  }
  return g_bytes_new_take(g_realloc(frame, flen), flen);
}

gboolean avma_msg_parse(const AvmaFrame *f, AvmaParseMode mode, AvmaRecord *out, size_t *n_out,
                        GError **error) {
  static const AvmaWireMode modes[] = {
      [AVMA_PARSE_FROM_HOST] = AVMA_WIRE_FROM_HOST,
      [AVMA_PARSE_FROM_GUEST] = AVMA_WIRE_FROM_GUEST,
      [AVMA_PARSE_KEYS] = AVMA_WIRE_KEYS,
  };
  char why[200];
  AvmaWireStatus st = avma_wire_parse(f, modes[mode], out, n_out, why, sizeof why);
  if (st != AVMA_WIRE_OK) {
    g_set_error_literal(error, AVMA_MSG_ERROR_DOMAIN,
                        st == AVMA_WIRE_SCHEMA ? AVMA_MSG_ERROR_SCHEMA : AVMA_MSG_ERROR_RECORDS,
                        why);
    return FALSE;
  }
  return TRUE;
}

char *avma_records_dup(const AvmaRecord *recs, size_t n, AvmaKeyId id) {
  size_t len = 0;
  const char *v = avma_records_find(recs, n, id, &len);
  return v ? g_strndup(v, len) : NULL;
}
