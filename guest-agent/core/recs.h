/* recs: an owned, growable list of KVP records (malloc'd copies), for the portable guest core.
 * Plain C11, no glib: the Windows agent links it too. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "kvp.h"
#include "schema.h"

typedef struct {
  AvmaRecord *items; /* key/value point into owned, NUL-terminated copies */
  size_t len, cap;
} AvmaRecs;

void avma_recs_init(AvmaRecs *l);
void avma_recs_clear(AvmaRecs *l); /* frees the copies; l can be reused after init */
/* Copy (pool, key, value); value NULL = "". false only when out of memory. */
bool avma_recs_add_raw(AvmaRecs *l, AvmaPool pool, const char *key, size_t key_len,
                       const char *value, size_t value_len);
/* Add a schema key (pool from the schema). */
bool avma_recs_add(AvmaRecs *l, AvmaKeyId id, const char *value);
/* Copy n record views (e.g. a parsed frame's) into l. */
bool avma_recs_copy_from(AvmaRecs *l, const AvmaRecord *recs, size_t n);
/* Value of schema key id as a NUL-terminated string owned by l; NULL when absent. */
const char *avma_recs_get(const AvmaRecs *l, AvmaKeyId id);
