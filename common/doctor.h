/* doctor: the findings of `avma-host doctor` and `avma-guest doctor`, and their one report
 * format (text lines, or a JSON array of {check, vm, status, finding, fix}). */
#pragma once
#include <glib.h>

typedef enum { AVMA_DOCTOR_OK, AVMA_DOCTOR_WARNING, AVMA_DOCTOR_PROBLEM } AvmaDoctorStatus;

typedef struct AvmaDoctorReport AvmaDoctorReport;
AvmaDoctorReport *avma_doctor_report_new(void);
void avma_doctor_report_free(AvmaDoctorReport *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaDoctorReport, avma_doctor_report_free)

/* One finding. vm NULL: not about one VM (and the JSON member is null). fix NULL: nothing to do;
 * a fix is printed only for a warning or problem. */
void avma_doctor_add(AvmaDoctorReport *r, const char *check, const char *vm,
                     AvmaDoctorStatus status, const char *fix, const char *fmt, ...)
    G_GNUC_PRINTF(6, 7);
/* Any problem: something stands in the way of activation (the exit status is then 1). */
gboolean avma_doctor_has_problem(const AvmaDoctorReport *r);
/* To stdout; text made terminal-safe (guest-derived names). */
void avma_doctor_print(const AvmaDoctorReport *r, gboolean json);
