/* doctor-win32: the findings of avma-guest.exe doctor and their report, in the Linux agent's
 * format (common/doctor.c: text lines, or a JSON array of {check, vm, status, finding, fix}),
 * without glib. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

typedef enum { AVMA_WDOC_OK, AVMA_WDOC_WARNING, AVMA_WDOC_PROBLEM } AvmaWDocStatus;

#define AVMA_WDOC_MAX 8
typedef struct {
  const char *check;
  AvmaWDocStatus status;
  char finding[512];
  const char *fix; /* NULL: nothing to do; shown only for a warning or problem */
} AvmaWDocFinding;

typedef struct {
  AvmaWDocFinding f[AVMA_WDOC_MAX];
  size_t n;
} AvmaWDocReport;

void avma_wdoc_add(AvmaWDocReport *r, const char *check, AvmaWDocStatus status, const char *fix,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
bool avma_wdoc_has_problem(const AvmaWDocReport *r);
/* To stdout; findings made terminal-safe (they quote the host's and the registry's text). */
void avma_wdoc_print(const AvmaWDocReport *r, bool json);
