/* fuzz-jsonflat: the flat JSON reader (control requests, CLI replies) on arbitrary bytes. It never
 * reads past the input; what it accepts has at most 64 members with NUL-free UTF-8 strings, and
 * writing those members again with the core's JSON writer reads back to the same members. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evline.h"
#include "kvp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok) {
  if (!ok)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size ? size : 1);
  if (size)
    memcpy(text, data, size);
  AvmaJsonFlat f;
  char why[96];
  bool ok = avma_json_flat_parse(&f, text, size, why, sizeof why);
  free(text);
  if (!ok) {
    check(f.n == 0 && f.m == NULL && why[0] != '\0');
    return 0;
  }
  check(f.n <= 64);
  /* Rewrite every member but nulls (the writer has no null) and read it back. */
  AvmaBuf b;
  avma_buf_init(&b);
  AvmaJsonObj o;
  avma_json_begin(&o, &b);
  size_t kept = 0;
  for (size_t i = 0; i < f.n; i++) {
    const AvmaJsonMember *m = &f.m[i];
    check(avma_utf8_valid(m->name, strlen(m->name)));
    check(m->text != NULL);
    switch (m->type) {
    case AVMA_JV_STRING:
      check(avma_utf8_valid(m->text, strlen(m->text)));
      avma_json_str(&o, m->name, m->text);
      break;
    case AVMA_JV_INT:
      avma_json_int(&o, m->name, m->num);
      break;
    case AVMA_JV_BOOL:
      check(!strcmp(m->text, m->boolean ? "true" : "false"));
      avma_json_bool(&o, m->name, m->boolean);
      break;
    case AVMA_JV_NULL:
      check(!strcmp(m->text, "null"));
      continue;
    }
    kept++;
  }
  avma_json_end(&o);
  check(!b.failed);
  AvmaJsonFlat g;
  check(avma_json_flat_parse(&g, b.data, b.len, why, sizeof why));
  check(g.n == kept);
  for (size_t i = 0, j = 0; i < f.n; i++) {
    if (f.m[i].type == AVMA_JV_NULL)
      continue;
    const AvmaJsonMember *a = &f.m[i], *c = &g.m[j++];
    check(!strcmp(a->name, c->name) && a->type == c->type);
    check(a->type == AVMA_JV_STRING ? !strcmp(a->text, c->text) : 1);
    check(a->type == AVMA_JV_INT ? a->num == c->num : 1);
    check(a->type == AVMA_JV_BOOL ? a->boolean == c->boolean : 1);
  }
  const char *dflt = "d";
  if (f.n)
    (void)avma_json_flat_str(&f, f.m[0].name, dflt);
  avma_json_flat_free(&g);
  avma_json_flat_free(&f);
  avma_buf_free(&b);
  return 0;
}
