/* gstate: the guest's durable state record (installed key, product, last grant, KVP bookkeeping)
 * and its text form, the guest.state file: GKeyFile-compatible "[group]" / "key=value" lines,
 * so files written by earlier Linux agents load unchanged. Plain C11; the caller writes the
 * text atomically (fsutil on Linux, MoveFileExW on Windows). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalogue.h"

#define AVMA_GSTATE_STR 256 /* host-given names: the schema caps them at 255 bytes */
#define AVMA_GSTATE_REASON 512

typedef struct {
  char guest_id[40]; /* stable id of this guest install (Guest IAID), a UUID */
  /* installed key */
  char key[AVMA_PRODUCT_KEY_LEN + 1]; /* normalised; "" when none */
  bool key_is_avma;                   /* in the AVMA catalogue */
  AvmaVersion key_version;            /* the key's product (AVMA keys) */
  AvmaEdition key_edition;
  int64_t key_installed_at;
  /* licence */
  bool licensed;
  int64_t granted_until; /* local clock */
  int64_t last_attempt;
  char last_notification[32]; /* "" before the first attempt */
  char last_reason[AVMA_GSTATE_REASON];
  int64_t last_success;
  unsigned failures;
  /* what the host told us at the last success */
  char host_id[40];
  char host_name[AVMA_GSTATE_STR];
  char host_version[24];
  char vm_name[AVMA_GSTATE_STR];
  char vm_id[40];
  /* KVP bookkeeping */
  bool published;     /* intrinsic items were sent to a host */
  bool pending_clear; /* the host must be told to drop what we published */
} AvmaGState;

/* A fresh state: everything empty; guest_id must be filled by the caller (random UUID). */
void avma_gstate_init(AvmaGState *s);
/* Parse the text of guest.state. Missing keys keep their init values; a guest_id that is not
 * a UUID is left "" (the caller makes a new one). false with why on a malformed file (a line
 * that is neither a group, a comment nor key=value; an unknown escape; a key over its field). */
bool avma_gstate_parse(AvmaGState *s, const char *text, size_t len, char *why, size_t why_len);
/* The text of guest.state, NUL-terminated, into out. Returns its length, or 0 when cap is too
 * small (AVMA_GSTATE_TEXT_MAX is always enough). */
#define AVMA_GSTATE_TEXT_MAX 8192
size_t avma_gstate_format(const AvmaGState *s, char *out, size_t cap);

/* "Licensed", "Unlicensed" or "Notification" (had a grant, it lapsed). */
const char *avma_gstate_status(const AvmaGState *s, int64_t now);
/* true when s is a well-formed 8-4-4-4-12 hex UUID. */
bool avma_uuid_valid(const char *s);
/* Format 16 random bytes as a version-4 UUID (out holds 37 bytes). */
void avma_uuid_format_v4(const uint8_t rnd[16], char out[37]);
