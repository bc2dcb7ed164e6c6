/* doctor: findings and their report. */
#include "doctor.h"
#include "kvp.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

static const char *const status_names[] = {"ok", "warning", "problem"};

typedef struct {
  char *check;
  char *vm;
  AvmaDoctorStatus status;
  char *finding;
  char *fix;
} Finding;

struct AvmaDoctorReport {
  GPtrArray *findings;
};

static void finding_free(gpointer p) {
  Finding *f = p;
  g_free(f->check);
  g_free(f->vm);
  g_free(f->finding);
  g_free(f->fix);
  g_free(f);
}

AvmaDoctorReport *avma_doctor_report_new(void) {
  AvmaDoctorReport *r = g_new0(AvmaDoctorReport, 1);
  r->findings = g_ptr_array_new_with_free_func(finding_free);
  return r;
}

void avma_doctor_report_free(AvmaDoctorReport *r) {
  if (!r)
    return;
  g_ptr_array_unref(r->findings);
  g_free(r);
}

void avma_doctor_add(AvmaDoctorReport *r, const char *check, const char *vm,
                     AvmaDoctorStatus status, const char *fix, const char *fmt, ...) {
  Finding *f = g_new0(Finding, 1);
  f->check = g_strdup(check);
  f->vm = g_strdup(vm);
  f->status = status;
  va_list ap;
  va_start(ap, fmt);
  f->finding = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  f->fix = status != AVMA_DOCTOR_OK ? g_strdup(fix) : NULL;
  g_ptr_array_add(r->findings, f);
}

gboolean avma_doctor_has_problem(const AvmaDoctorReport *r) {
  for (guint i = 0; i < r->findings->len; i++)
    if (((Finding *)r->findings->pdata[i])->status == AVMA_DOCTOR_PROBLEM)
      return TRUE;
  return FALSE;
}

/* Invalid UTF-8, controls and bidi overrides become '?' (a VM name comes from libvirt). */
static char *safe(const char *s) {
  size_t len = s ? strlen(s) : 0;
  char *out = g_malloc(len + 1);
  avma_text_sanitize(s ? s : "", len, out, len + 1);
  return out;
}

static void print_text(const AvmaDoctorReport *r) {
  for (guint i = 0; i < r->findings->len; i++) {
    Finding *f = r->findings->pdata[i];
    g_autofree char *vm = safe(f->vm);
    g_autofree char *finding = safe(f->finding);
    g_autofree char *label = f->vm ? g_strdup_printf("%s: %s", vm, f->check) : g_strdup(f->check);
    printf("%-7s  %-40s  %s\n", status_names[f->status], label, finding);
    if (f->fix)
      printf("         %-40s  fix: %s\n", "", f->fix);
  }
}

static void print_json(const AvmaDoctorReport *r) {
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_array(b);
  for (guint i = 0; i < r->findings->len; i++) {
    Finding *f = r->findings->pdata[i];
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "check");
    json_builder_add_string_value(b, f->check);
    /* The report's own member, not a 12310 field: event-field-ok */
    json_builder_set_member_name(b, "vm");
    f->vm ? json_builder_add_string_value(b, f->vm) : json_builder_add_null_value(b);
    json_builder_set_member_name(b, "status");
    json_builder_add_string_value(b, status_names[f->status]);
    json_builder_set_member_name(b, "finding");
    json_builder_add_string_value(b, f->finding);
    json_builder_set_member_name(b, "fix");
    f->fix ? json_builder_add_string_value(b, f->fix) : json_builder_add_null_value(b);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autofree char *s = json_to_string(root, TRUE);
  printf("%s\n", s);
}

void avma_doctor_print(const AvmaDoctorReport *r, gboolean json) {
  if (json)
    print_json(r);
  else
    print_text(r);
}
