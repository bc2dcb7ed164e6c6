/* msg: messages as the agents use them: a frame whose payload is a record list, built from and
 * parsed into schema-checked records. Bridges the pure codecs (frame, kvp, schema) to GLib. */
#pragma once
#include <glib.h>

#include "frame.h"
#include "kvp.h"
#include "schema.h"

#define AVMA_MSG_ERROR_DOMAIN (avma_msg_error_quark())
GQuark avma_msg_error_quark(void);
typedef enum {
  AVMA_MSG_ERROR_RECORDS, /* payload failed the record codec */
  AVMA_MSG_ERROR_SCHEMA,  /* a record failed the schema */
  AVMA_MSG_ERROR_TOO_BIG, /* would not fit in one frame */
} AvmaMsgError;

/* A list of owned records being built. */
typedef struct AvmaRecordList AvmaRecordList;
AvmaRecordList *avma_record_list_new(void);
void avma_record_list_free(AvmaRecordList *l);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaRecordList, avma_record_list_free)
/* Add a schema key (NULL value = ""). */
void avma_record_list_add(AvmaRecordList *l, AvmaKeyId id, const char *value);
/* Add any (pool, key, value); used for GET/DELETE key lists and stored records. */
void avma_record_list_add_raw(AvmaRecordList *l, AvmaPool pool, const char *key, const char *value);
guint avma_record_list_len(AvmaRecordList *l);
AvmaRecord avma_record_list_get(AvmaRecordList *l, guint i);

/* Encode a whole frame with l as payload (l may be NULL for an empty list). */
GBytes *avma_msg_build(AvmaMsgType type, guint8 flags, guint32 session, guint32 seq,
                       AvmaRecordList *l, GError **error);

typedef enum {
  AVMA_PARSE_FROM_HOST,  /* full schema check, writer must be the host */
  AVMA_PARSE_FROM_GUEST, /* full schema check, writer must be the guest */
  AVMA_PARSE_KEYS,       /* GET/DELETE key lists: keys must exist in the schema, values ignored */
} AvmaParseMode;

/* Decode a frame's payload into records (views into the frame) and check them against the
 * schema. *n_out records are stored in out (capacity AVMA_KVP_MAX_RECORDS). */
gboolean avma_msg_parse(const AvmaFrame *f, AvmaParseMode mode, AvmaRecord *out, size_t *n_out,
                        GError **error);

/* Value of key id among records as a new string, NULL if absent. */
char *avma_records_dup(const AvmaRecord *recs, size_t n, AvmaKeyId id);
