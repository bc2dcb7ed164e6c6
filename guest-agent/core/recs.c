/* recs: an owned, growable list of KVP records for the portable guest core. */
#include "recs.h"

#include <stdlib.h>
#include <string.h>

void avma_recs_init(AvmaRecs *l) {
  l->items = NULL;
  l->len = 0;
  l->cap = 0;
}

void avma_recs_clear(AvmaRecs *l) {
  for (size_t i = 0; i < l->len; i++) {
    free((char *)l->items[i].key);
    free((char *)l->items[i].value);
  }
  free(l->items);
  avma_recs_init(l);
}

static char *copy_text(const char *s, size_t len) {
  char *c = malloc(len + 1);
  if (!c)
    return NULL;
  if (len)
    memcpy(c, s, len);
  c[len] = '\0';
  return c;
}

bool avma_recs_add_raw(AvmaRecs *l, AvmaPool pool, const char *key, size_t key_len,
                       const char *value, size_t value_len) {
  if (l->len == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    AvmaRecord *items = realloc(l->items, cap * sizeof *items);
    if (!items)
      return false;
    l->items = items;
    l->cap = cap;
  }
  if (!value)
    value_len = 0;
  char *k = copy_text(key ? key : "", key ? key_len : 0);
  char *v = copy_text(value ? value : "", value_len);
  if (!k || !v) {
    free(k);
    free(v);
    return false;
  }
  l->items[l->len++] = (AvmaRecord){
      .pool = pool, .key = k, .key_len = key ? key_len : 0, .value = v, .value_len = value_len};
  return true;
}

bool avma_recs_add(AvmaRecs *l, AvmaKeyId id, const char *value) {
  const char *name = avma_key_name(id);
  return avma_recs_add_raw(l, avma_key_pool(id), name, strlen(name), value,
                           value ? strlen(value) : 0);
}

bool avma_recs_copy_from(AvmaRecs *l, const AvmaRecord *recs, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!avma_recs_add_raw(l, recs[i].pool, recs[i].key, recs[i].key_len, recs[i].value,
                           recs[i].value_len))
      return false;
  return true;
}

const char *avma_recs_get(const AvmaRecs *l, AvmaKeyId id) {
  size_t len;
  /* Copies are NUL-terminated, so the found view is a C string. */
  return avma_records_find(l->items, l->len, id, &len);
}
