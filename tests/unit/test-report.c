/* test-report: the monthly compliance report computed from a seeded history store, against
 * figures worked out by hand: a VM running across a month boundary, a host that lost its
 * activation mid-month, a peak that differs from the month-end count, grants superseded by
 * renewals, and the same numbers in text, CSV and JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <glib/gstdio.h>

#include "history.h"
#include "report.h"
#include "timeutil.h"

#define DAY 86400
#define UUID_A "AAAAAAAA-0000-4000-8000-00000000000A"
#define UUID_C "cccccccc-0000-4000-8000-00000000000c"

/* 2026-MM-DD HH:00:00Z */
static gint64 T(int month, int day, int hour) {
  g_autoptr(GDateTime) dt = g_date_time_new_utc(2026, month, day, hour, 0, 0);
  return g_date_time_to_unix(dt);
}

static void ev(AvmaHistory *h, gint64 t, const char *vm, const char *uuid, const char *n,
               const char *ver, const char *ed, gint64 until) {
  g_autoptr(JsonObject) o = json_object_new();
  g_autofree char *ts = avma_time_format(t), *us = avma_time_format(until);
  json_object_set_string_member(o, "time", ts);
  json_object_set_int_member(o, "event_id", 12310);
  json_object_set_string_member(o, "notification", n);
  json_object_set_string_member(o, "vm", vm);
  json_object_set_string_member(o, "vm_uuid", uuid);
  json_object_set_string_member(o, "guest_version", ver);
  json_object_set_string_member(o, "guest_edition", ed);
  json_object_set_string_member(o, "granted_until", us);
  assert_true(avma_history_add_event(h, o, NULL, NULL));
}

static void ok(AvmaHistory *h, gint64 t, const char *vm, const char *uuid, const char *ver,
               const char *ed, gint64 until) {
  ev(h, t, vm, uuid, "AVMA Success", ver, ed, until);
}

static void run(AvmaHistory *h, gint64 t, const char *vm, const char *uuid, gboolean running) {
  assert_true(avma_history_add_vm_state(h, t, vm, uuid, running, "test", NULL));
}

static void lic(AvmaHistory *h, gint64 t, const char *ver, const char *ed, gboolean act) {
  g_autoptr(JsonObject) o = json_object_new();
  g_autofree char *ts = avma_time_format(t);
  json_object_set_string_member(o, "time", ts);
  json_object_set_int_member(o, "event_id", 12311);
  json_object_set_string_member(o, "version", ver);
  json_object_set_string_member(o, "edition", ed);
  json_object_set_boolean_member(o, "activated", act);
  json_object_set_string_member(o, "set_by", "root");
  assert_true(avma_history_add_licence(h, o, NULL, NULL));
}

typedef struct {
  char *dir;
  AvmaHistory *h;
} Fixture;

/* The seeded history (times UTC, 2026):
 *  licence: 01-15 2022 Datacenter activated; 03-10 00:00 not activated; 03-12 06:00 activated.
 *  facts: 02-10 sysfs 2 x 6 cores; 03-05 libvirt 2 x 12 cores.
 *  alpha (UUID_A, 4 vCPUs): runs 02-20 .. 03-05; 2022 DC grants 02-26 (7 d), 03-01 12:00 (7 d).
 *  bravo (no UUID, 2 vCPUs): runs 03-02 .. 03-20 and 03-25 .. on; grants 03-02 (7 d),
 *    03-08 (7 d), 03-25 .. 04-01 12:00.
 *  charlie (UUID_C, vCPUs unknown): runs 03-03 .. 03-04; 2019 Standard grant 03-03 (7 d);
 *    a 2025 key denied at 03-03 06:00; Invalid Data at 03-03 07:00.
 *  delta (8 vCPUs): runs 03-06 .. on; grants 03-06 (7 d), 03-20 (7 d), 03-26 (7 d);
 *    Invalid Host at 03-11 (host not activated).
 *  echo (vCPUs unknown): runs 03-07 .. 03-09; grant 03-07 (7 d). */
static int setup(void **state) {
  Fixture *f = g_new0(Fixture, 1);
  f->dir = g_dir_make_tmp("avma-report-XXXXXX", NULL);
  g_autofree char *path = g_build_filename(f->dir, "history.db", NULL);
  f->h = avma_history_open_write(path, NULL);
  assert_non_null(f->h);
  AvmaHistory *h = f->h;
  lic(h, T(1, 15, 0), "2022", "Datacenter", TRUE);
  lic(h, T(3, 10, 0), "2022", "Datacenter", FALSE);
  lic(h, T(3, 12, 6), "2022", "Datacenter", TRUE);
  AvmaHostFacts sysfs = {"hv01", "11111111-2222-4333-8444-555555555555", 2, 6, 2, 24, "sysfs"};
  AvmaHostFacts virt = {"hv01", "11111111-2222-4333-8444-555555555555", 2, 12, 2, 48, "libvirt"};
  assert_true(avma_history_record_host_facts(h, T(2, 10, 0), &sysfs, NULL));
  assert_true(avma_history_record_host_facts(h, T(3, 5, 0), &virt, NULL));
  /* Recording the same facts again adds nothing. */
  assert_true(avma_history_record_host_facts(h, T(3, 6, 0), &virt, NULL));
  assert_true(avma_history_record_vm_vcpus(h, T(2, 20, 0), "alpha", UUID_A, 4, "libvirt", NULL));
  assert_true(avma_history_record_vm_vcpus(h, T(3, 2, 0), "bravo", "", 2, "libvirt", NULL));
  assert_true(avma_history_record_vm_vcpus(h, T(3, 6, 0), "delta", "", 8, "libvirt", NULL));

  run(h, T(2, 20, 0), "alpha", UUID_A, TRUE);
  ok(h, T(2, 26, 0), "alpha", UUID_A, "2022", "Datacenter", T(3, 5, 0));
  ok(h, T(3, 1, 12), "alpha", UUID_A, "2022", "Datacenter", T(3, 8, 12));
  run(h, T(3, 5, 0), "alpha", UUID_A, FALSE);

  run(h, T(3, 2, 0), "bravo", "", TRUE);
  ok(h, T(3, 2, 0), "bravo", "", "2022", "Datacenter", T(3, 9, 0));
  ok(h, T(3, 8, 0), "bravo", "", "2022", "Datacenter", T(3, 15, 0));
  run(h, T(3, 20, 0), "bravo", "", FALSE);
  run(h, T(3, 25, 0), "bravo", "", TRUE);
  ok(h, T(3, 25, 0), "bravo", "", "2022", "Datacenter", T(4, 1, 12));

  run(h, T(3, 3, 0), "charlie", UUID_C, TRUE);
  ok(h, T(3, 3, 0), "charlie", UUID_C, "2019", "Standard", T(3, 10, 0));
  ev(h, T(3, 3, 6), "charlie", UUID_C, "Activation Denied", "2025", "Datacenter", 0);
  ev(h, T(3, 3, 7), "charlie", UUID_C, "Invalid Data", "", "", 0);
  run(h, T(3, 4, 0), "charlie", UUID_C, FALSE);

  run(h, T(3, 6, 0), "delta", "", TRUE);
  ok(h, T(3, 6, 0), "delta", "", "2022", "Datacenter", T(3, 13, 0));
  run(h, T(3, 7, 0), "echo", "", TRUE);
  ok(h, T(3, 7, 0), "echo", "", "2022", "Datacenter", T(3, 14, 0));
  run(h, T(3, 9, 0), "echo", "", FALSE);
  ev(h, T(3, 11, 0), "delta", "", "Invalid Host", "2022", "Datacenter", 0);
  ok(h, T(3, 20, 0), "delta", "", "2022", "Datacenter", T(3, 27, 0));
  ok(h, T(3, 26, 0), "delta", "", "2022", "Datacenter", T(4, 2, 0));
  *state = f;
  return 0;
}

static int teardown(void **state) {
  Fixture *f = *state;
  avma_history_close(f->h);
  g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);
  assert_int_equal(system(cmd), 0);
  g_free(f->dir);
  g_free(f);
  return 0;
}

static AvmaReport *report(Fixture *f, int month, gint64 as_of) {
  g_autoptr(AvmaReportData) d = avma_report_data_new();
  g_autoptr(GError) err = NULL;
  if (!avma_report_load(f->h, NULL, NULL, T(month, 1, 0), avma_report_month_start(2026, month + 1),
                        d, &err))
    fail_msg("load: %s", err->message);
  AvmaReport *r = avma_report_build(d, 2026, month, as_of, &err);
  if (!r)
    fail_msg("build: %s", err->message);
  return r;
}

static const AvmaReportGroup *group(const AvmaReport *r, const char *ver, const char *ed) {
  for (guint i = 0; i < r->groups->len; i++) {
    const AvmaReportGroup *g = r->groups->pdata[i];
    if (!strcmp(g->version, ver) && !strcmp(g->edition, ed))
      return g;
  }
  fail_msg("no group %s %s", ver, ed);
  return NULL;
}

static const AvmaReportVm *vm(const AvmaReport *r, const char *name) {
  for (guint i = 0; i < r->vms->len; i++) {
    const AvmaReportVm *v = r->vms->pdata[i];
    if (!strcmp(v->name, name))
      return v;
  }
  return NULL;
}

static void test_march(void **state) {
  Fixture *f = *state;
  g_autoptr(AvmaReport) r = report(f, 3, T(6, 1, 0));
  assert_true(r->complete);
  /* host block */
  assert_string_equal(r->hostname, "hv01");
  assert_string_equal(r->facts_source, "libvirt");
  assert_int_equal(r->sockets, 2);
  assert_int_equal(r->cores_per_socket, 12);
  assert_int_equal(r->licensable_cores, 24);
  assert_true(r->licence_set);
  assert_string_equal(r->licence_version, "2022");
  assert_string_equal(r->licence_edition, "Datacenter");
  assert_true(r->licence_activated);
  /* lost its activation on the 10th, got it back on the 12th at 06:00 */
  assert_false(r->activated_whole_period);
  assert_int_equal(r->not_activated->len, 1);
  const AvmaReportInterval *gap = &g_array_index(r->not_activated, AvmaReportInterval, 0);
  assert_int_equal(gap->start, T(3, 10, 0));
  assert_int_equal(gap->end, T(3, 12, 6));
  assert_int_equal(r->licence_changes->len, 2);
  /* runs: alpha 4 d, bravo 18 + 7 d, charlie 1 d, delta 26 d, echo 2 d */
  assert_int_equal(r->vms_ran, 5);
  assert_int_equal(r->ran_seconds, (4 + 25 + 1 + 26 + 2) * DAY);
  assert_int_equal(r->peak_running, 3);
  assert_int_equal(r->running_at_end, 2);

  const AvmaReportGroup *dc = group(r, "2022", "Datacenter");
  assert_int_equal(dc->vms, 4);    /* alpha, bravo, delta, echo */
  assert_int_equal(dc->peak, 3);   /* bravo, delta, echo on the 7th and 8th */
  assert_int_equal(dc->at_end, 2); /* bravo, delta: the peak is not the month-end count */
  assert_int_equal(dc->licensed_seconds, 45 * DAY); /* 4 + 20 + 19 + 2 */
  assert_int_equal(dc->vcpus, 4 + 2 + 8);
  assert_int_equal(dc->vcpus_unknown, 1);
  assert_int_equal(dc->attempts[AVMA_NOTIFY_SUCCESS], 8);
  assert_int_equal(dc->attempts[AVMA_NOTIFY_INVALID_HOST], 1);
  assert_int_equal(dc->attempts[AVMA_NOTIFY_DENIED], 0);
  const AvmaReportGroup *std = group(r, "2019", "Standard");
  assert_int_equal(std->vms, 1);
  assert_int_equal(std->peak, 1);
  assert_int_equal(std->at_end, 0);
  assert_int_equal(std->licensed_seconds, DAY);
  assert_int_equal(std->vcpus_unknown, 1);
  const AvmaReportGroup *denied = group(r, "2025", "Datacenter");
  assert_int_equal(denied->vms, 0);
  assert_int_equal(denied->attempts[AVMA_NOTIFY_DENIED], 1);
  const AvmaReportGroup *unknown = group(r, "", "");
  assert_int_equal(unknown->attempts[AVMA_NOTIFY_INVALID_DATA], 1);
  /* newest version first, unknown last */
  assert_string_equal(((AvmaReportGroup *)r->groups->pdata[0])->version, "2025");
  assert_string_equal(((AvmaReportGroup *)r->groups->pdata[r->groups->len - 1])->version, "");

  assert_int_equal(r->total.vms, 5);
  assert_int_equal(r->total.peak, 3);
  assert_int_equal(r->total.at_end, 2);
  assert_int_equal(r->total.licensed_seconds, 46 * DAY);
  assert_int_equal(r->total.vcpus, 14);
  assert_int_equal(r->total.vcpus_unknown, 2);
  assert_int_equal(r->total.attempts[AVMA_NOTIFY_SUCCESS], 9);
  assert_int_equal(r->total.attempts[AVMA_NOTIFY_DENIED], 1);
  assert_int_equal(r->total.attempts[AVMA_NOTIFY_INVALID_HOST], 1);
  assert_int_equal(r->total.attempts[AVMA_NOTIFY_INVALID_DATA], 1);

  /* alpha ran across the boundary: its March run began in February */
  const AvmaReportVm *a = vm(r, "alpha");
  assert_non_null(a);
  assert_string_equal(a->uuid, UUID_A);
  assert_int_equal(a->vcpus, 4);
  assert_int_equal(a->ran->len, 1);
  const AvmaReportInterval *ar = &g_array_index(a->ran, AvmaReportInterval, 0);
  assert_int_equal(ar->start, T(3, 1, 0));
  assert_int_equal(ar->end, T(3, 5, 0));
  assert_true(ar->before);
  assert_false(ar->after);
  assert_int_equal(a->licensed_seconds, 4 * DAY);
  const AvmaReportVm *b = vm(r, "bravo");
  assert_int_equal(b->ran->len, 2);
  assert_true(g_array_index(b->ran, AvmaReportInterval, 1).after);
  assert_int_equal(b->licensed_seconds, 20 * DAY);
  assert_true(b->licensed_at_end);
  const AvmaReportVm *c = vm(r, "charlie");
  assert_string_equal(c->products, "2019 Standard");
  assert_int_equal(c->vcpus, -1);
  assert_int_equal(c->attempts[AVMA_NOTIFY_DENIED], 1);
  assert_int_equal(c->attempts[AVMA_NOTIFY_INVALID_DATA], 1);
  assert_int_equal(vm(r, "delta")->licensed_seconds, 19 * DAY);
  assert_int_equal(r->vms->len, 5);
}

static void test_february(void **state) {
  Fixture *f = *state;
  g_autoptr(AvmaReport) r = report(f, 2, T(6, 1, 0));
  /* only the sysfs facts existed by then: 2 sockets of 6 cores count as 2 x 8 */
  assert_string_equal(r->facts_source, "sysfs");
  assert_int_equal(r->cores_per_socket, 6);
  assert_int_equal(r->licensable_cores, 16);
  assert_true(r->activated_whole_period);
  assert_int_equal(r->licence_changes->len, 0);
  const AvmaReportGroup *dc = group(r, "2022", "Datacenter");
  assert_int_equal(dc->vms, 1);
  assert_int_equal(dc->at_end, 1); /* alpha, licensed into March: counts in both months */
  assert_int_equal(dc->licensed_seconds, 3 * DAY);
  assert_int_equal(dc->attempts[AVMA_NOTIFY_SUCCESS], 1);
  const AvmaReportVm *a = vm(r, "alpha");
  assert_int_equal(a->ran_seconds, 9 * DAY);
  assert_true(g_array_index(a->ran, AvmaReportInterval, 0).after);
  assert_int_equal(r->running_at_end, 1);
  assert_int_equal(r->vms->len, 1);
}

static void test_month_to_date(void **state) {
  Fixture *f = *state;
  g_autoptr(AvmaReport) r = report(f, 4, T(4, 10, 0));
  assert_false(r->complete);
  assert_int_equal(r->period_end, T(4, 10, 0));
  /* bravo's grant ends 04-01 12:00, delta's 04-02 00:00: both still run, unlicensed since */
  assert_int_equal(vm(r, "bravo")->licensed_seconds, DAY / 2);
  assert_int_equal(vm(r, "delta")->licensed_seconds, DAY);
  assert_int_equal(vm(r, "bravo")->ran_seconds, 9 * DAY);
  const AvmaReportGroup *dc = group(r, "2022", "Datacenter");
  assert_int_equal(dc->vms, 2);
  assert_int_equal(dc->at_end, 0);
  assert_int_equal(dc->peak, 2);
  assert_int_equal(r->running_at_end, 2);
  /* a month that has not begun */
  g_autoptr(AvmaReportData) d = avma_report_data_new();
  g_autoptr(GError) err = NULL;
  assert_null(avma_report_build(d, 2026, 5, T(4, 10, 0), &err));
  assert_non_null(err);
}

/* ---- the three formats carry the same numbers ------------------------------------------------ */

/* "version edition vms peak at_end days vcpus success denied invalid_host invalid_data" per
 * product row and the total, from each format. */
static char *canon(const char *ver, const char *ed, char **nums) {
  return g_strdup_printf("%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s", ver, ed, nums[0], nums[1], nums[2],
                         nums[3], nums[4], nums[5], nums[6], nums[7], nums[8]);
}

static GPtrArray *rows_from_text(const char *text) {
  GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  gboolean in = FALSE;
  for (char **l = lines; *l; l++) {
    if (g_str_has_prefix(*l, "Guests by product")) {
      in = TRUE;
      continue;
    }
    if (!in || g_str_has_prefix(*l, "  VERSION"))
      continue;
    if (!g_str_has_prefix(*l, "  ") || g_str_has_prefix(*l, "  TOTAL counts"))
      break;
    g_auto(GStrv) tok = g_strsplit_set(g_strstrip(*l), " ", -1);
    GPtrArray *t = g_ptr_array_new();
    for (char **x = tok; *x; x++)
      if (**x)
        g_ptr_array_add(t, *x);
    guint n = t->len;
    assert_true(n >= 10);
    char *nums[9];
    for (int i = 0; i < 9; i++) {
      nums[i] = t->pdata[n - 9 + i];
      char *star = strchr(nums[i], '*');
      if (star)
        *star = '\0';
    }
    const char *ver = t->pdata[0];
    const char *ed = n == 11 ? t->pdata[1] : "";
    if (!strcmp(ver, "unknown"))
      ver = "";
    g_ptr_array_add(out, canon(ver, ed, nums));
    g_ptr_array_unref(t);
  }
  return out;
}

static GPtrArray *rows_from_csv(const char *csv) {
  GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
  g_auto(GStrv) lines = g_strsplit(csv, "\r\n", -1);
  for (char **l = lines; *l; l++) {
    if (!g_str_has_prefix(*l, "product,") && !g_str_has_prefix(*l, "total,"))
      continue;
    g_auto(GStrv) f = g_strsplit(*l, ",", -1);
    assert_int_equal(g_strv_length(f), 13);
    g_ptr_array_add(out, canon(f[2], f[3], f + 4));
  }
  return out;
}

static void json_nums(JsonObject *g, char **nums) {
  JsonObject *a = json_object_get_object_member(g, "attempts");
  nums[0] = g_strdup_printf("%" G_GINT64_FORMAT, json_object_get_int_member(g, "vms_activated"));
  nums[1] = g_strdup_printf("%" G_GINT64_FORMAT, json_object_get_int_member(g, "peak_concurrent"));
  nums[2] = g_strdup_printf("%" G_GINT64_FORMAT, json_object_get_int_member(g, "running_at_end"));
  /* VM-days as a number; the seconds beside it must agree to the printed precision */
  double days = json_object_get_double_member(g, "vm_days_licensed");
  nums[3] = avma_report_days(json_object_get_int_member(g, "vm_seconds_licensed"));
  g_autofree char *again = g_strdup_printf("%.2f", days);
  assert_string_equal(again, nums[3]);
  nums[4] = g_strdup_printf("%" G_GINT64_FORMAT, json_object_get_int_member(g, "vcpus"));
  nums[5] = g_strdup_printf("%" G_GINT64_FORMAT, json_object_get_int_member(a, "success"));
  nums[6] =
      g_strdup_printf("%" G_GINT64_FORMAT, json_object_get_int_member(a, "activation_denied"));
  nums[7] = g_strdup_printf("%" G_GINT64_FORMAT, json_object_get_int_member(a, "invalid_host"));
  nums[8] = g_strdup_printf("%" G_GINT64_FORMAT, json_object_get_int_member(a, "invalid_data"));
}

static GPtrArray *rows_from_json(const char *json) {
  GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(JsonParser) p = json_parser_new();
  assert_true(json_parser_load_from_data(p, json, -1, NULL));
  JsonObject *root = json_node_get_object(json_parser_get_root(p));
  JsonArray *prods = json_object_get_array_member(root, "products");
  for (guint i = 0; i <= json_array_get_length(prods); i++) {
    gboolean total = i == json_array_get_length(prods);
    JsonObject *g = total ? json_object_get_object_member(root, "total")
                          : json_array_get_object_element(prods, i);
    char *nums[9];
    json_nums(g, nums);
    g_ptr_array_add(out,
                    canon(total ? "TOTAL" : json_object_get_string_member(g, "guest_version"),
                          total ? "" : json_object_get_string_member(g, "guest_edition"), nums));
    for (int k = 0; k < 9; k++)
      g_free(nums[k]);
  }
  return out;
}

static void test_formats_agree(void **state) {
  Fixture *f = *state;
  g_autoptr(AvmaReport) r = report(f, 3, T(6, 1, 0));
  g_autofree char *text = avma_report_to_text(r);
  g_autofree char *csv = avma_report_to_csv(r);
  g_autofree char *json = avma_report_to_json(r);
  if (g_getenv("AVMA_TEST_VERBOSE"))
    printf("%s\n%s\n%s", text, csv, json);
  g_autoptr(GPtrArray) t = rows_from_text(text);
  g_autoptr(GPtrArray) c = rows_from_csv(csv);
  g_autoptr(GPtrArray) j = rows_from_json(json);
  assert_int_equal(t->len, r->groups->len + 1);
  assert_int_equal(c->len, t->len);
  assert_int_equal(j->len, t->len);
  for (guint i = 0; i < t->len; i++) {
    assert_string_equal(t->pdata[i], c->pdata[i]);
    assert_string_equal(t->pdata[i], j->pdata[i]);
  }
  /* the hand-computed total, in the shared canonical form */
  assert_string_equal(t->pdata[t->len - 1], "TOTAL||5|3|2|46.00|14|9|1|1|1");
  /* host figures */
  assert_non_null(strstr(text, "Licensable cores      24"));
  assert_non_null(strstr(csv, ",2,12,2,24,libvirt,"));
  assert_non_null(strstr(json, "\"licensable_cores\": 24"));
  assert_non_null(strstr(text, "2026-03-10T00:00:00Z to 2026-03-12T06:00:00Z"));
  assert_non_null(strstr(csv, "not_activated,2026-03,2026-03-10T00:00:00Z,2026-03-12T06:00:00Z,"));
  /* the same report twice is the same text: figures come from the history alone */
  g_autoptr(AvmaReport) again = report(f, 3, T(7, 1, 0));
  g_autofree char *json2 = avma_report_to_json(again);
  g_autofree char *a = g_strdup(strstr(json, "\"host\""));
  g_autofree char *b = g_strdup(strstr(json2, "\"host\""));
  assert_string_equal(a, b);
}

static void test_days(void **state) {
  (void)state;
  g_autofree char *a = avma_report_days(0), *b = avma_report_days(DAY / 2),
                  *c = avma_report_days(432), *d = avma_report_days(431),
                  *e = avma_report_days(45 * DAY);
  assert_string_equal(a, "0.00");
  assert_string_equal(b, "0.50");
  assert_string_equal(c, "0.01"); /* 0.005 rounds half up */
  assert_string_equal(d, "0.00");
  assert_string_equal(e, "45.00");
  int y, m;
  assert_true(avma_report_parse_month("2026-03", &y, &m, NULL));
  assert_int_equal(y, 2026);
  assert_int_equal(m, 3);
  assert_false(avma_report_parse_month("2026-13", &y, &m, NULL));
  assert_false(avma_report_parse_month("2026-3", &y, &m, NULL));
  assert_false(avma_report_parse_month("march", &y, &m, NULL));
  assert_int_equal(avma_report_month_start(2026, 13), T(1, 1, 0) + 365 * DAY);
}

/* ---- records the store does not hold yet, and hostile text ---------------------------------- */

static void write_file(const char *path, const char *text) {
  assert_true(g_file_set_contents(path, text, -1, NULL));
}

/* The logs' records beyond the store count as the store's would; what cannot be read does not
 * count, whatever its shape. */
static void test_pending_logs(void **state) {
  Fixture *f = *state;
  g_autofree char *events = g_build_filename(f->dir, "events.jsonl", NULL);
  g_autofree char *licence = g_build_filename(f->dir, "licence-history.jsonl", NULL);
  write_file(
      events,
      /* a success, and a line cut by a crash with the next record glued to it */
      "{\"time\":\"2026-03-02T00:00:00Z\",\"notification\":\"AVMA Success\",\"vm\":\"fox\","
      "\"vm_uuid\":\"\",\"guest_version\":\"2022\",\"guest_edition\":\"Standard\","
      "\"granted_until\":\"2026-03-09T00:00:00Z\"}\n"
      "{\"time\":\"2026-03-05T00:0{\"time\":\"2026-03-05T00:00:00Z\",\"notification\":"
      "\"Invalid Host\",\"vm\":\"fox\",\"vm_uuid\":\"\",\"guest_version\":\"2022\","
      "\"guest_edition\":\"Standard\",\"granted_until\":\"\"}\n"
      /* not JSON, not an object, a notification in the wrong case, no time */
      "not json {\n[1,2]\n\n"
      "{\"time\":\"2026-03-03T00:00:00Z\",\"notification\":\"avma success\",\"vm\":\"fox\"}\n"
      "{\"time\":\"garbage\",\"notification\":\"Activation Denied\",\"vm\":\"golf\"}\n"
      /* members of the wrong type read as empty: an unnamed VM, an unknown product */
      "{\"time\":\"2026-03-04T00:00:00Z\",\"notification\":\"Activation Denied\",\"vm\":7,"
      "\"vm_uuid\":null,\"guest_version\":2025,\"guest_edition\":[]}\n"
      /* after the month, and a grant from before it that expired before it began */
      "{\"time\":\"2026-04-02T00:00:00Z\",\"notification\":\"AVMA Success\",\"vm\":\"hotel\","
      "\"guest_version\":\"2022\",\"granted_until\":\"2026-04-09T00:00:00Z\"}\n"
      "{\"time\":\"2026-02-01T00:00:00Z\",\"notification\":\"AVMA Success\",\"vm\":\"india\","
      "\"guest_version\":\"2022\",\"granted_until\":\"2026-02-08T00:00:00Z\"}\n");
  write_file(licence, "{\"time\":\"2026-01-10T00:00:00Z\",\"event_id\":12311,\"version\":\"2022\","
                      "\"edition\":\"Datacenter\",\"activated\":true,\"set_by\":\"root\"}\n"
                      "{\"time\":\"2026-03-10T00:00:00Z\",\"event_id\":12311,\"version\":\"2022\","
                      "\"edition\":\"Datacenter\",\"activated\":\"yes\",\"set_by\":7}\n"
                      "{\"time\":\"2026-04-10T00:00:00Z\",\"event_id\":12311,\"version\":\"2022\","
                      "\"edition\":\"Datacenter\",\"activated\":true,\"set_by\":\"root\"}\n");
  g_autoptr(GError) err = NULL;
  g_autoptr(AvmaHistory) mem = avma_history_open_memory(&err);
  assert_non_null(mem);
  g_autoptr(AvmaReportData) d = avma_report_data_new();
  assert_true(avma_report_load(mem, events, licence, T(3, 1, 0), T(4, 1, 0), d, &err));
  g_autoptr(AvmaReport) r = avma_report_build(d, 2026, 3, T(6, 1, 0), &err);
  assert_non_null(r);
  assert_int_equal(r->total.attempts[AVMA_NOTIFY_SUCCESS], 1);
  assert_int_equal(r->total.attempts[AVMA_NOTIFY_INVALID_HOST], 1);
  assert_int_equal(r->total.attempts[AVMA_NOTIFY_DENIED], 1);
  assert_int_equal(r->total.attempts[AVMA_NOTIFY_INVALID_DATA], 0);
  assert_int_equal(r->vms->len, 2);
  const AvmaReportVm *fox = vm(r, "fox");
  assert_non_null(fox);
  assert_string_equal(fox->products, "2022 Standard");
  assert_int_equal(fox->attempts[AVMA_NOTIFY_SUCCESS], 1);
  const AvmaReportVm *unnamed = vm(r, "");
  assert_non_null(unnamed);
  assert_int_equal(unnamed->attempts[AVMA_NOTIFY_DENIED], 1);
  assert_int_equal(group(r, "", "")->attempts[AVMA_NOTIFY_DENIED], 1);
  /* the March change says "activated" in a way that does not count: not activated from then */
  assert_int_equal(r->licence_changes->len, 1);
  assert_string_equal(((AvmaReportLicenceChange *)r->licence_changes->pdata[0])->set_by, "");
  assert_false(r->licence_activated);
  assert_int_equal(r->not_activated->len, 1);
  assert_int_equal(g_array_index(r->not_activated, AvmaReportInterval, 0).start, T(3, 10, 0));
}

/* Names are whatever libvirt and the logs say: every format keeps them apart from its syntax. */
static void test_hostile_text(void **state) {
  (void)state;
  g_autoptr(AvmaReportData) d = avma_report_data_new();
  const char *name = "a\"b\\c\nd\x01,e \xc3\xa9";
  AvmaHistoryStateRow run = {.time = T(3, 2, 0), .vm = name, .vm_uuid = "", .running = TRUE};
  avma_report_data_add_state(d, &run);
  AvmaHistoryEventRow ok = {.time = T(3, 2, 0),
                            .vm = name,
                            .vm_uuid = "",
                            .notification = AVMA_NOTIFY_SUCCESS,
                            .guest_version = "2022",
                            .guest_edition = "Standard",
                            .granted_until = T(3, 2, 12)};
  avma_report_data_add_event(d, &ok);
  AvmaHistoryEventRow odd = ok;
  odd.notification = 42; /* not a notification: counts nowhere */
  avma_report_data_add_event(d, &odd);
  g_autoptr(GError) err = NULL;
  g_autoptr(AvmaReport) r = avma_report_build(d, 2026, 3, T(6, 1, 0), &err);
  assert_non_null(r);
  assert_int_equal(r->total.attempts[AVMA_NOTIFY_SUCCESS], 1);
  g_autofree char *json = avma_report_to_json(r);
  g_autofree char *csv = avma_report_to_csv(r);
  g_autofree char *text = avma_report_to_text(r);
  assert_non_null(strstr(json, "\"vm\": \"a\\\"b\\\\c\\u000ad\\u0001,e \xc3\xa9\""));
  assert_non_null(strstr(json, "\"vcpus\": null"));
  assert_non_null(strstr(json, "\"licence_changes\": []"));
  assert_non_null(strstr(json, "\"vm_days_licensed\": 0.50"));
  assert_non_null(strstr(csv, "\r\nvm,2026-03,\"a\"\"b\\c\nd\x01,e \xc3\xa9\",,2022 Standard,,"));
  assert_non_null(strstr(text, "Licence               not set"));
  /* and JSON reads back to the same name */
  g_autoptr(JsonParser) p = json_parser_new();
  assert_true(json_parser_load_from_data(p, json, -1, NULL));
  JsonObject *root = json_node_get_object(json_parser_get_root(p));
  JsonObject *row = json_array_get_object_element(json_object_get_array_member(root, "vms"), 0);
  assert_string_equal(json_object_get_string_member(row, "vm"), name);
  assert_true(json_object_get_null_member(row, "vcpus"));
}

int main(void) {
  g_setenv("TZ", "Pacific/Auckland", TRUE); /* months are UTC whatever the local zone */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_march, setup, teardown),
      cmocka_unit_test_setup_teardown(test_february, setup, teardown),
      cmocka_unit_test_setup_teardown(test_month_to_date, setup, teardown),
      cmocka_unit_test_setup_teardown(test_formats_agree, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pending_logs, setup, teardown),
      cmocka_unit_test(test_hostile_text),
      cmocka_unit_test(test_days),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
