/* msg: building and parsing record-list messages. */
#include "msg.h"

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
  g_autofree guint8 *payload = g_malloc(AVMA_FRAME_MAX_PAYLOAD);
  size_t plen = 0;
  AvmaKvpStatus st = avma_records_encode(recs, n, payload, AVMA_FRAME_MAX_PAYLOAD, &plen);
  if (st != AVMA_KVP_OK) {
    g_set_error(error, AVMA_MSG_ERROR_DOMAIN,
                st == AVMA_KVP_NO_SPACE ? AVMA_MSG_ERROR_TOO_BIG : AVMA_MSG_ERROR_RECORDS,
                "cannot encode %u records: %s", n, avma_kvp_status_name(st));
    return NULL;
  }
  guint8 *frame = g_malloc(AVMA_FRAME_MAX_SIZE);
  size_t flen =
      avma_frame_encode(type, flags, session, seq, payload, plen, frame, AVMA_FRAME_MAX_SIZE);
  if (!flen) {
    g_free(frame);
    g_set_error(error, AVMA_MSG_ERROR_DOMAIN, AVMA_MSG_ERROR_TOO_BIG, "cannot encode frame");
    return NULL;
  }
  return g_bytes_new_take(g_realloc(frame, flen), flen);
}

gboolean avma_msg_parse(const AvmaFrame *f, AvmaParseMode mode, AvmaRecord *out, size_t *n_out,
                        GError **error) {
  AvmaKvpStatus st =
      avma_records_decode(f->payload, f->payload_len, out, AVMA_KVP_MAX_RECORDS, n_out);
  if (st != AVMA_KVP_OK) {
    g_set_error(error, AVMA_MSG_ERROR_DOMAIN, AVMA_MSG_ERROR_RECORDS, "bad records: %s",
                avma_kvp_status_name(st));
    return FALSE;
  }
  for (size_t i = 0; i < *n_out; i++) {
    AvmaSchemaStatus ss;
    if (mode == AVMA_PARSE_KEYS)
      ss = avma_schema_lookup(out[i].pool, out[i].key, out[i].key_len) ? AVMA_SCHEMA_OK
                                                                       : AVMA_SCHEMA_UNKNOWN_KEY;
    else
      ss = avma_schema_validate(&out[i], mode == AVMA_PARSE_FROM_HOST ? AVMA_WRITER_HOST
                                                                      : AVMA_WRITER_GUEST);
    if (ss != AVMA_SCHEMA_OK) {
      g_set_error(error, AVMA_MSG_ERROR_DOMAIN, AVMA_MSG_ERROR_SCHEMA, "record %.*s (%s): %s",
                  (int)MIN(out[i].key_len, 64), out[i].key, avma_pool_name(out[i].pool),
                  avma_schema_status_name(ss));
      return FALSE;
    }
  }
  return TRUE;
}

char *avma_records_dup(const AvmaRecord *recs, size_t n, AvmaKeyId id) {
  size_t len = 0;
  const char *v = avma_records_find(recs, n, id, &len);
  return v ? g_strndup(v, len) : NULL;
}
