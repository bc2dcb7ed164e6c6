/* evline: the guest's 12309 event as one JSON line (the same fields and names as the Linux
 * agent's events.jsonl), a small JSON writer for CLI output and control replies, and a reader
 * for the flat objects those produce (string, integer and boolean members only). Plain C11:
 * the Windows agent has no json-glib. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "gstate.h"
#include "policy.h"

/* A growable output buffer (malloc). */
typedef struct {
  char *data;
  size_t len, cap;
  bool failed; /* out of memory: data is unusable */
} AvmaBuf;
void avma_buf_init(AvmaBuf *b);
void avma_buf_free(AvmaBuf *b);
void avma_buf_append(AvmaBuf *b, const char *s, size_t len);
void avma_buf_printf(AvmaBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* JSON object writer: {"a":"x","b":1,...}. Strings are escaped per RFC 8259 (controls as \u00XX;
 * invalid UTF-8 replaced by U+FFFD). */
typedef struct {
  AvmaBuf *b;
  bool first;
} AvmaJsonObj;
void avma_json_begin(AvmaJsonObj *o, AvmaBuf *b);
void avma_json_str(AvmaJsonObj *o, const char *name, const char *value);
void avma_json_int(AvmaJsonObj *o, const char *name, int64_t value);
void avma_json_bool(AvmaJsonObj *o, const char *name, bool value);
/* value NULL: the member is null. */
void avma_json_str_or_null(AvmaJsonObj *o, const char *name, const char *value);
void avma_json_end(AvmaJsonObj *o);
/* One string as the writer writes it, quotes included (for layouts of its own: the Linux
 * agent's receipts.json). */
void avma_json_put_string(AvmaBuf *b, const char *s);

/* The 12309 record, as the Linux agent writes it: time, event_id, notification, reason,
 * reason_code, vm, vm_uuid, guest_id, guest_version, guest_edition, key_last5, host_version,
 * host_id, host_name, granted_until. One line, no '\n'. */
void avma_evline_12309(AvmaBuf *b, int64_t now, AvmaNotification n, const char *reason_code,
                       const char *reason, const AvmaGState *s, const AvmaProduct *image);

/* A parsed flat JSON object: members in order, values as text (strings unescaped). */
typedef enum { AVMA_JV_STRING, AVMA_JV_INT, AVMA_JV_BOOL, AVMA_JV_NULL } AvmaJsonValType;
typedef struct {
  char *name;
  AvmaJsonValType type;
  char *text;   /* string value, or the number / "true" / "false" as written */
  int64_t num;  /* AVMA_JV_INT */
  bool boolean; /* AVMA_JV_BOOL */
} AvmaJsonMember;
typedef struct {
  AvmaJsonMember *m;
  size_t n;
} AvmaJsonFlat;
/* Parse one flat object; nested objects/arrays, bad escapes, or over 64 members are errors. */
bool avma_json_flat_parse(AvmaJsonFlat *o, const char *text, size_t len, char *why, size_t why_len);
/* The general form. lenient: members whose value is none of the above (a nested object or
 * array, a fraction, an integer beyond int64_t) are checked to be well-formed and left out, for
 * requests whose other members the reader ignores. used non-NULL: the object is read from the
 * start of text and *used gets its length (what follows is the caller's: a list of objects). */
bool avma_json_flat_parse_ex(AvmaJsonFlat *o, const char *text, size_t len, bool lenient,
                             size_t *used, char *why, size_t why_len);
void avma_json_flat_free(AvmaJsonFlat *o);
/* Whether text is exactly one well-formed JSON value of any kind (nesting up to 64 deep). */
bool avma_json_valid(const char *text, size_t len, char *why, size_t why_len);
const AvmaJsonMember *avma_json_flat_get(const AvmaJsonFlat *o, const char *name);
/* String member, or dflt when absent or not a string. */
const char *avma_json_flat_str(const AvmaJsonFlat *o, const char *name, const char *dflt);
