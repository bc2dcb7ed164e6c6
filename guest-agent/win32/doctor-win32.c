/* doctor-win32: findings and their report. */
#include "doctor-win32.h"

#include "evline.h"
#include "kvp.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const status_names[] = {"ok", "warning", "problem"};

void avma_wdoc_add(AvmaWDocReport *r, const char *check, AvmaWDocStatus status, const char *fix,
                   const char *fmt, ...) {
  if (r->n == AVMA_WDOC_MAX)
    return;
  AvmaWDocFinding *f = &r->f[r->n++];
  f->check = check;
  f->status = status;
  f->fix = status != AVMA_WDOC_OK ? fix : NULL;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(f->finding, sizeof f->finding, fmt, ap);
  va_end(ap);
}

bool avma_wdoc_has_problem(const AvmaWDocReport *r) {
  for (size_t i = 0; i < r->n; i++)
    if (r->f[i].status == AVMA_WDOC_PROBLEM)
      return true;
  return false;
}

void avma_wdoc_print(const AvmaWDocReport *r, bool json) {
  if (!json) {
    for (size_t i = 0; i < r->n; i++) {
      const AvmaWDocFinding *f = &r->f[i];
      char safe[sizeof f->finding];
      avma_text_sanitize(f->finding, strlen(f->finding), safe, sizeof safe);
      printf("%-7s  %-40s  %s\n", status_names[f->status], f->check, safe);
      if (f->fix)
        printf("         %-40s  fix: %s\n", "", f->fix);
    }
    return;
  }
  AvmaBuf b;
  avma_buf_init(&b);
  avma_buf_append(&b, "[", 1);
  for (size_t i = 0; i < r->n; i++) {
    const AvmaWDocFinding *f = &r->f[i];
    if (i)
      avma_buf_append(&b, ",", 1);
    AvmaJsonObj o;
    avma_json_begin(&o, &b);
    avma_json_str(&o, "check", f->check);
    /* The report's own member, not a 12309 field: event-field-ok */
    avma_json_str_or_null(&o, "vm", NULL);
    avma_json_str(&o, "status", status_names[f->status]);
    avma_json_str(&o, "finding", f->finding);
    avma_json_str_or_null(&o, "fix", f->fix);
    avma_json_end(&o);
  }
  avma_buf_append(&b, "]", 1);
  printf("%.*s\n", (int)b.len, b.data ? b.data : "");
  avma_buf_free(&b);
}
