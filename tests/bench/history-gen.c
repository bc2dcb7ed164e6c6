/* history-gen: fills a history store with a synthetic but realistic history (12310 records as the
 * daemon logs them, VM runs, licence changes, host facts) and measures it: size per million
 * events, the time to build a monthly report from it, and the latency of one durable insert as
 * the daemon does it (synchronous=FULL, and NORMAL for comparison). Issue #11.
 *   history-gen --dir DIR [--events N] [--vms V] [--months M] [--latency K]
 * DIR/history.db is created afresh; `avma-host --state-dir DIR report --month ...` reads it. */
#include "history-db.h"
#include "history.h"
#include "report.h"
#include "timeutil.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static gint64 file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (gint64)st.st_size : 0;
}

/* One record shaped like avma_host_activate's (same members, same order). */
static JsonObject *record(gint64 t, int vm, const char *n, const char *ver, const char *ed,
                          const char *code, const char *reason, gint64 until) {
  JsonObject *o = json_object_new();
  g_autofree char *ts = avma_time_format(t), *us = avma_time_format(until);
  g_autofree char *name = g_strdup_printf("tenant-vm-%05d", vm);
  g_autofree char *uuid = g_strdup_printf("6b1f%04x-9c2e-4d1a-8f3b-%012x", vm & 0xffff, vm);
  json_object_set_string_member(o, "time", ts);
  json_object_set_int_member(o, "event_id", 12310);
  json_object_set_string_member(o, "notification", n);
  json_object_set_string_member(o, "reason", reason);
  json_object_set_string_member(o, "reason_code", code);
  json_object_set_string_member(o, "vm", name);
  json_object_set_string_member(o, "vm_uuid", uuid);
  json_object_set_string_member(o, "guest_version", ver);
  json_object_set_string_member(o, "guest_edition", ed);
  json_object_set_string_member(o, "declared_version", "");
  json_object_set_string_member(o, "declared_edition", "");
  json_object_set_string_member(o, "key_last5", "78VHK");
  json_object_set_string_member(o, "host_version", "2022");
  json_object_set_string_member(o, "host_edition", "Datacenter");
  json_object_set_boolean_member(o, "host_activated", TRUE);
  json_object_set_string_member(o, "host_id", "0f5c2a8e-3d41-4b7a-9e6f-1c2d3e4f5a6b");
  json_object_set_string_member(o, "granted_until", us);
  return o;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* K single-event commits, each its own transaction as in the daemon. */
static void latency(const char *dir, int k, const char *sync) {
  g_autofree char *path = g_build_filename(dir, "latency.db", NULL);
  g_unlink(path);
  g_autoptr(AvmaHistory) h = avma_history_open_write(path, NULL);
  g_autofree char *pragma = g_strdup_printf("PRAGMA synchronous=%s", sync);
  sqlite3_exec(avma_history_db(h), pragma, NULL, NULL, NULL);
  g_autofree double *lat = g_new(double, k);
  gint64 t0 = avma_now();
  for (int i = 0; i < k; i++) {
    g_autoptr(JsonObject) o = record(t0 + i, i % 50, "AVMA Success", "2022", "Standard", "ok",
                                     "guest Windows Server 2022 Standard activated by host "
                                     "Windows Server 2022 Datacenter",
                                     t0 + i + 604800);
    double a = now_s();
    if (!avma_history_add_event(h, o, NULL, NULL)) {
      fprintf(stderr, "insert failed\n");
      exit(1);
    }
    lat[i] = (now_s() - a) * 1e3;
  }
  qsort(lat, (size_t)k, sizeof *lat, cmp_double);
  double sum = 0;
  for (int i = 0; i < k; i++)
    sum += lat[i];
  printf("durable insert, synchronous=%s, %d commits: mean %.3f ms, p50 %.3f ms, p99 %.3f ms\n",
         sync, k, sum / k, lat[k / 2], lat[k * 99 / 100]);
  avma_history_close(g_steal_pointer(&h));
  g_unlink(path);
  g_autofree char *wal = g_strconcat(path, "-wal", NULL), *shm = g_strconcat(path, "-shm", NULL);
  g_unlink(wal);
  g_unlink(shm);
}

int main(int argc, char **argv) {
  g_autofree char *dir = NULL;
  gint64 events = 1000000;
  int vms = 1000, months = 25, lat_k = 0;
  GOptionEntry e[] = {
      {"dir", 0, 0, G_OPTION_ARG_FILENAME, &dir, "State directory to fill (required)", "DIR"},
      {"events", 0, 0, G_OPTION_ARG_INT64, &events, "12310 records (1000000)", "N"},
      {"vms", 0, 0, G_OPTION_ARG_INT, &vms, "VMs (1000)", "V"},
      {"months", 0, 0, G_OPTION_ARG_INT, &months, "Months of history, ending last month (25)", "M"},
      {"latency", 0, 0, G_OPTION_ARG_INT, &lat_k, "Also time K single durable inserts", "K"},
      {NULL}};
  g_autoptr(GOptionContext) ctx = g_option_context_new("- fill and measure a history store");
  g_option_context_add_main_entries(ctx, e, NULL);
  g_autoptr(GError) err = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &err) || !dir || vms < 1 || months < 1 ||
      events < 1) {
    fprintf(stderr, "history-gen: %s\n", err ? err->message : "--dir is required");
    return 2;
  }
  g_mkdir_with_parents(dir, 0750);
  g_autofree char *path = g_build_filename(dir, AVMA_HISTORY_FILE, NULL);
  g_autofree char *wal = g_strconcat(path, "-wal", NULL), *shm = g_strconcat(path, "-shm", NULL);
  g_unlink(path);
  g_unlink(wal);
  g_unlink(shm);
  g_autoptr(AvmaHistory) h = avma_history_open_write(path, &err);
  if (!h) {
    fprintf(stderr, "history-gen: %s\n", err->message);
    return 1;
  }
  /* The history ends at the start of the current month: `months` whole months. */
  gint64 end = avma_history_retention_cutoff(avma_now(), 0);
  gint64 start = avma_history_retention_cutoff(avma_now(), (guint)months);
  gint64 span = end - start;
  double t0 = now_s();
  avma_history_begin(h, NULL);
  AvmaHostFacts f = {"hv-bench", "0f5c2a8e-3d41-4b7a-9e6f-1c2d3e4f5a6b", 2, 16, 2, 64, "libvirt"};
  avma_history_record_host_facts(h, start, &f, NULL);
  g_autoptr(JsonObject) l = json_object_new();
  g_autofree char *ls = avma_time_format(start);
  json_object_set_string_member(l, "time", ls);
  json_object_set_string_member(l, "version", "2022");
  json_object_set_string_member(l, "edition", "Datacenter");
  json_object_set_boolean_member(l, "activated", TRUE);
  json_object_set_string_member(l, "set_by", "root");
  avma_history_add_licence(h, l, NULL, NULL);
  /* Each VM: vCPUs, a run from the start with a restart every ~30 days. */
  GRand *rnd = g_rand_new_with_seed(11);
  for (int v = 0; v < vms; v++) {
    g_autofree char *name = g_strdup_printf("tenant-vm-%05d", v);
    g_autofree char *uuid = g_strdup_printf("6b1f%04x-9c2e-4d1a-8f3b-%012x", v & 0xffff, v);
    avma_history_record_vm_vcpus(h, start, name, uuid, 2 << (v % 3), "libvirt", NULL);
    for (gint64 t = start + v; t < end; t += 30 * 86400) {
      avma_history_add_vm_state(h, t, name, uuid, TRUE, "domain-started", NULL);
      gint64 stop = t + 30 * 86400 - 600;
      if (stop < end)
        avma_history_add_vm_state(h, stop, name, uuid, FALSE, "domain-stopped", NULL);
    }
  }
  /* Events spread evenly over the span, round-robin over the VMs (renewals), 3 % failures. */
  for (gint64 i = 0; i < events; i++) {
    gint64 t = start + (gint64)((double)i / (double)events * (double)span);
    int v = (int)(i % vms);
    guint32 r = g_rand_int_range(rnd, 0, 100);
    g_autoptr(JsonObject) o =
        r < 97   ? record(t, v, "AVMA Success", v % 4 ? "2022" : "2019",
                        v % 5 ? "Datacenter" : "Standard", "ok",
                          "guest Windows Server 2022 Datacenter activated by host Windows Server "
                            "2022 Datacenter",
                          t + 604800)
        : r < 98 ? record(t, v, "Activation Denied", "2025", "Datacenter", "guest-newer-than-host",
                          "guest Windows Server 2025 is newer than host Windows Server 2022", 0)
        : r < 99 ? record(t, v, "Invalid Host", "2022", "Datacenter", "host-not-activated",
                          "host Windows Server 2022 Datacenter is not activated", 0)
                 : record(t, v, "Invalid Data", "", "", "bad-frame",
                          "frame rejected: checksum mismatch", 0);
    avma_history_add_event(h, o, NULL, NULL);
    if (i % 20000 == 19999) {
      avma_history_commit(h, NULL);
      avma_history_begin(h, NULL);
    }
  }
  avma_history_commit(h, NULL);
  sqlite3_exec(avma_history_db(h), "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
  double filled = now_s() - t0;
  gint64 size = file_size(path);
  printf("filled %" G_GINT64_FORMAT " events, %d VMs, %d months in %.1f s\n", events, vms, months,
         filled);
  printf("history.db: %.1f MiB, %.0f bytes per event, %.0f MiB per million events\n",
         (double)size / 1048576.0, (double)size / (double)events,
         (double)size / 1048576.0 / (double)events * 1e6);

  /* The report of the last month, as `avma-host report` builds it. */
  g_autoptr(GDateTime) last = g_date_time_new_from_unix_utc(end - 1);
  int year = g_date_time_get_year(last), month = g_date_time_get_month(last);
  double r0 = now_s();
  g_autoptr(AvmaReportData) d = avma_report_data_new();
  if (!avma_report_load(h, NULL, NULL, avma_report_month_start(year, month), end, d, &err)) {
    fprintf(stderr, "history-gen: %s\n", err->message);
    return 1;
  }
  double r1 = now_s();
  g_autoptr(AvmaReport) rep = avma_report_build(d, year, month, avma_now(), &err);
  g_autofree char *text = avma_report_to_text(rep);
  double r2 = now_s();
  g_autofree char *days = avma_report_days(rep->total.licensed_seconds);
  printf("report %04d-%02d (%" G_GINT64_FORMAT " events in the month): load %.2f s, build and "
         "render %.2f s; %u VMs, %s VM-days\n",
         year, month, events / months, r1 - r0, r2 - r1, rep->total.vms, days);
  g_rand_free(rnd);
  if (lat_k > 0) {
    latency(dir, lat_k, "FULL");
    latency(dir, lat_k, "NORMAL");
  }
  return 0;
}
