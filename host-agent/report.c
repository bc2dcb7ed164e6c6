/* report: the monthly compliance report from recorded history. */
#include "report.h"

#include "timeutil.h"

#include <gio/gio.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define FOREVER G_MAXINT64

/* ---- input ---------------------------------------------------------------------------------- */

typedef struct {
  gint64 time;
  guint seq;
  guint vm;
  int notification; /* AvmaNotification, -1 unknown */
  guint product;
  gint64 until;
} DEvent;

typedef struct {
  gint64 time;
  guint seq;
  guint vm;
  gboolean running;
} DState;

typedef struct {
  gint64 time;
  guint seq;
  const char *version, *edition, *set_by;
  gboolean activated;
} DLicence;

typedef struct {
  gint64 time;
  guint seq;
  const char *hostname, *host_id, *source;
  int sockets, cores, threads;
} DFacts;

typedef struct {
  gint64 time;
  guint seq;
  guint vm;
  int vcpus;
} DVcpus;

typedef struct {
  const char *key, *name, *uuid;
} DVm;

typedef struct {
  const char *version, *edition;
} DProduct;

struct AvmaReportData {
  GStringChunk *strings;
  GArray *events, *states, *licences, *facts, *vcpus;
  GArray *vms;      /* DVm */
  GHashTable *vm_i; /* key -> index + 1 */
  GArray *products; /* DProduct; 0 is the unknown product */
  GHashTable *product_i;
  const char *hostname, *host_id;
  guint seq;
};

AvmaReportData *avma_report_data_new(void) {
  AvmaReportData *d = g_new0(AvmaReportData, 1);
  d->strings = g_string_chunk_new(64 * 1024);
  d->events = g_array_new(FALSE, FALSE, sizeof(DEvent));
  d->states = g_array_new(FALSE, FALSE, sizeof(DState));
  d->licences = g_array_new(FALSE, FALSE, sizeof(DLicence));
  d->facts = g_array_new(FALSE, FALSE, sizeof(DFacts));
  d->vcpus = g_array_new(FALSE, FALSE, sizeof(DVcpus));
  d->vms = g_array_new(FALSE, FALSE, sizeof(DVm));
  d->vm_i = g_hash_table_new(g_str_hash, g_str_equal);
  d->products = g_array_new(FALSE, FALSE, sizeof(DProduct));
  d->product_i = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  DProduct unknown = {"", ""};
  g_array_append_val(d->products, unknown);
  g_hash_table_insert(d->product_i, g_strdup("\t"), GUINT_TO_POINTER(1));
  return d;
}

void avma_report_data_free(AvmaReportData *d) {
  if (!d)
    return;
  g_string_chunk_free(d->strings);
  g_array_unref(d->events);
  g_array_unref(d->states);
  g_array_unref(d->licences);
  g_array_unref(d->facts);
  g_array_unref(d->vcpus);
  g_array_unref(d->vms);
  g_hash_table_unref(d->vm_i);
  g_array_unref(d->products);
  g_hash_table_unref(d->product_i);
  g_free(d);
}

static const char *intern(AvmaReportData *d, const char *s) {
  return g_string_chunk_insert_const(d->strings, s ? s : "");
}

static guint vm_index(AvmaReportData *d, const char *name, const char *uuid) {
  g_autofree char *key = avma_history_vm_key(name, uuid);
  guint i = GPOINTER_TO_UINT(g_hash_table_lookup(d->vm_i, key));
  if (i) {
    /* The latest name wins: a renamed VM is shown by its current name. */
    DVm *vm = &g_array_index(d->vms, DVm, i - 1);
    if (name && *name)
      vm->name = intern(d, name);
    if (uuid && *uuid)
      vm->uuid = intern(d, uuid);
    return i - 1;
  }
  DVm vm = {intern(d, key), intern(d, name), intern(d, uuid)};
  g_array_append_val(d->vms, vm);
  g_hash_table_insert(d->vm_i, (gpointer)vm.key, GUINT_TO_POINTER(d->vms->len));
  return d->vms->len - 1;
}

static guint product_index(AvmaReportData *d, const char *version, const char *edition) {
  if (!version || !*version)
    return 0;
  g_autofree char *k = g_strdup_printf("%s\t%s", version, edition ? edition : "");
  guint i = GPOINTER_TO_UINT(g_hash_table_lookup(d->product_i, k));
  if (i)
    return i - 1;
  DProduct p = {intern(d, version), intern(d, edition)};
  g_array_append_val(d->products, p);
  g_hash_table_insert(d->product_i, g_steal_pointer(&k), GUINT_TO_POINTER(d->products->len));
  return d->products->len - 1;
}

void avma_report_data_add_event(AvmaReportData *d, gint64 time, const char *vm, const char *uuid,
                                const char *notification, const char *version, const char *edition,
                                gint64 granted_until) {
  AvmaNotification n;
  DEvent e = {time,
              d->seq++,
              vm_index(d, vm, uuid),
              avma_notification_parse(notification, &n) ? (int)n : -1,
              product_index(d, version, edition),
              granted_until};
  g_array_append_val(d->events, e);
}

void avma_report_data_add_state(AvmaReportData *d, gint64 time, const char *vm, const char *uuid,
                                gboolean running) {
  DState s = {time, d->seq++, vm_index(d, vm, uuid), running};
  g_array_append_val(d->states, s);
}

void avma_report_data_add_licence(AvmaReportData *d, gint64 time, const char *version,
                                  const char *edition, gboolean activated, const char *set_by) {
  DLicence l = {time,     d->seq++, intern(d, version), intern(d, edition), intern(d, set_by),
                activated};
  g_array_append_val(d->licences, l);
}

void avma_report_data_add_host_facts(AvmaReportData *d, gint64 time, const AvmaHostFacts *f) {
  DFacts x = {time,
              d->seq++,
              intern(d, f->hostname),
              intern(d, f->host_id),
              intern(d, f->source),
              f->sockets,
              f->cores_per_socket,
              f->threads_per_core};
  g_array_append_val(d->facts, x);
}

void avma_report_data_add_vcpus(AvmaReportData *d, gint64 time, const char *vm, const char *uuid,
                                int vcpus) {
  DVcpus v = {time, d->seq++, vm_index(d, vm, uuid), vcpus};
  g_array_append_val(d->vcpus, v);
}

void avma_report_data_set_identity(AvmaReportData *d, const char *hostname, const char *host_id) {
  d->hostname = intern(d, hostname);
  d->host_id = intern(d, host_id);
}

/* ---- loading from the store ----------------------------------------------------------------- */

static const char *col(sqlite3_stmt *st, int i) {
  const char *s = (const char *)sqlite3_column_text(st, i);
  return s ? s : "";
}

static gboolean query(AvmaHistory *h, const char *sql, gint64 a, gint64 b,
                      void (*row)(AvmaReportData *, sqlite3_stmt *), AvmaReportData *d,
                      GError **error) {
  sqlite3 *db = avma_history_db(h);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "history store: %s", sqlite3_errmsg(db));
    return FALSE;
  }
  if (sqlite3_bind_parameter_count(st) >= 1)
    sqlite3_bind_int64(st, 1, a);
  if (sqlite3_bind_parameter_count(st) >= 2)
    sqlite3_bind_int64(st, 2, b);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    row(d, st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "history store: %s", sqlite3_errmsg(db));
    return FALSE;
  }
  return TRUE;
}

static void row_event(AvmaReportData *d, sqlite3_stmt *st) {
  avma_report_data_add_event(d, sqlite3_column_int64(st, 0), col(st, 1), col(st, 2), col(st, 3),
                             col(st, 4), col(st, 5), sqlite3_column_int64(st, 6));
}
static void row_state(AvmaReportData *d, sqlite3_stmt *st) {
  avma_report_data_add_state(d, sqlite3_column_int64(st, 0), col(st, 1), col(st, 2),
                             sqlite3_column_int(st, 3));
}
static void row_licence(AvmaReportData *d, sqlite3_stmt *st) {
  avma_report_data_add_licence(d, sqlite3_column_int64(st, 0), col(st, 1), col(st, 2),
                               sqlite3_column_int(st, 3), col(st, 4));
}
static void row_facts(AvmaReportData *d, sqlite3_stmt *st) {
  AvmaHostFacts f = {col(st, 1),
                     col(st, 2),
                     sqlite3_column_int(st, 3),
                     sqlite3_column_int(st, 4),
                     sqlite3_column_int(st, 5),
                     sqlite3_column_int(st, 6),
                     col(st, 7)};
  avma_report_data_add_host_facts(d, sqlite3_column_int64(st, 0), &f);
}
static void row_vcpus(AvmaReportData *d, sqlite3_stmt *st) {
  avma_report_data_add_vcpus(d, sqlite3_column_int64(st, 0), col(st, 1), col(st, 2),
                             sqlite3_column_int(st, 3));
}

static gint64 jtime(JsonObject *o, const char *m) {
  gint64 t = 0;
  (void)avma_time_parse(json_object_get_string_member_with_default(o, m, ""), &t);
  return t;
}

gboolean avma_report_load(AvmaHistory *h, const char *events_log, const char *licence_log,
                          gint64 start, gint64 end, AvmaReportData *d, GError **error) {
#define EV_COLS "time, vm, vm_uuid, notification, guest_version, guest_edition, granted_until"
  /* A VM's grant from before the month matters only if it is that VM's latest before the month
   * and still valid at its start; the partial index on granted_until finds those. */
  if (!query(h,
             "SELECT " EV_COLS " FROM events e WHERE granted_until > ?1 AND granted_until > 0 "
             "AND time < ?1 AND notification = 'AVMA Success' AND NOT EXISTS "
             "(SELECT 1 FROM events l WHERE l.vm_key = e.vm_key AND l.time >= e.time "
             "AND l.time < ?1 AND l.id > e.id AND l.notification = 'AVMA Success') ORDER BY id",
             start, 0, row_event, d, error) ||
      !query(h, "SELECT " EV_COLS " FROM events WHERE time >= ?1 AND time < ?2 ORDER BY time, id",
             start, end, row_event, d, error) ||
      !query(h, "SELECT time, vm, vm_uuid, running FROM vm_states WHERE time < ?1 ORDER BY id", end,
             0, row_state, d, error) ||
      !query(h,
             "SELECT time, version, edition, activated, set_by FROM licence_changes "
             "WHERE time < ?1 ORDER BY time, id",
             end, 0, row_licence, d, error) ||
      !query(h,
             "SELECT time, hostname, host_id, sockets, cores_per_socket, threads_per_core, cpus, "
             "source FROM host_facts ORDER BY id",
             0, 0, row_facts, d, error) ||
      !query(h, "SELECT time, vm, vm_uuid, vcpus FROM vm_facts ORDER BY id", 0, 0, row_vcpus, d,
             error))
    return FALSE;
#undef EV_COLS
  /* Records the daemon has not imported yet (it is stopped, or was never started on this
   * store): the logs are complete even when the store lags. */
  if (events_log) {
    g_autoptr(GPtrArray) p =
        avma_history_log_pending(h, AVMA_HISTORY_LOG_EVENTS, events_log, error);
    if (!p)
      return FALSE;
    for (guint i = 0; i < p->len; i++) {
      JsonObject *o = p->pdata[i];
      gint64 t = jtime(o, "time"), u = jtime(o, "granted_until");
      if (t >= end || (t < start && u <= start))
        continue;
      avma_report_data_add_event(d, t, json_object_get_string_member_with_default(o, "vm", ""),
                                 json_object_get_string_member_with_default(o, "vm_uuid", ""),
                                 json_object_get_string_member_with_default(o, "notification", ""),
                                 json_object_get_string_member_with_default(o, "guest_version", ""),
                                 json_object_get_string_member_with_default(o, "guest_edition", ""),
                                 u);
    }
  }
  if (licence_log) {
    g_autoptr(GPtrArray) p =
        avma_history_log_pending(h, AVMA_HISTORY_LOG_LICENCE, licence_log, error);
    if (!p)
      return FALSE;
    for (guint i = 0; i < p->len; i++) {
      JsonObject *o = p->pdata[i];
      gint64 t = jtime(o, "time");
      if (t < end)
        avma_report_data_add_licence(
            d, t, json_object_get_string_member_with_default(o, "version", ""),
            json_object_get_string_member_with_default(o, "edition", ""),
            json_object_get_boolean_member_with_default(o, "activated", FALSE),
            json_object_get_string_member_with_default(o, "set_by", ""));
    }
  }
  return TRUE;
}

/* ---- building ------------------------------------------------------------------------------- */

gint64 avma_report_month_start(int year, int month) {
  while (month > 12) {
    month -= 12;
    year++;
  }
  g_autoptr(GDateTime) dt = g_date_time_new_utc(year, month, 1, 0, 0, 0);
  return dt ? g_date_time_to_unix(dt) : 0;
}

gboolean avma_report_parse_month(const char *s, int *year, int *month, GError **error) {
  int y = 0, m = 0;
  char tail;
  if (!s || sscanf(s, "%4d-%2d%c", &y, &m, &tail) != 2 || strlen(s) != 7 || y < 1970 || m < 1 ||
      m > 12) {
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "--month '%s' is not a month (use YYYY-MM, e.g. 2026-03)", s ? s : "");
    return FALSE;
  }
  *year = y;
  *month = m;
  return TRUE;
}

typedef struct {
  gint64 start, end;
  guint product;
} Seg;

typedef struct {
  gint64 t;
  int delta;
} Point;

static int cmp_point(gconstpointer a, gconstpointer b) {
  const Point *x = a, *y = b;
  if (x->t != y->t)
    return x->t < y->t ? -1 : 1;
  return x->delta - y->delta; /* ends (-1) before starts (+1): touching intervals do not overlap */
}

/* Most intervals open at one instant. */
static guint peak_of(GArray *points) {
  g_array_sort(points, cmp_point);
  int cur = 0, best = 0;
  for (guint i = 0; i < points->len; i++) {
    cur += g_array_index(points, Point, i).delta;
    best = MAX(best, cur);
  }
  return (guint)best;
}

static void add_span(GArray *points, gint64 s, gint64 e) {
  Point a = {s, +1}, b = {e, -1};
  g_array_append_val(points, a);
  g_array_append_val(points, b);
}

static int cmp_event(gconstpointer a, gconstpointer b) {
  const DEvent *x = a, *y = b;
  if (x->vm != y->vm)
    return x->vm < y->vm ? -1 : 1;
  if (x->time != y->time)
    return x->time < y->time ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_state(gconstpointer a, gconstpointer b) {
  const DState *x = a, *y = b;
  if (x->vm != y->vm)
    return x->vm < y->vm ? -1 : 1;
  if (x->time != y->time)
    return x->time < y->time ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_licence(gconstpointer a, gconstpointer b) {
  const DLicence *x = a, *y = b;
  if (x->time != y->time)
    return x->time < y->time ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int version_rank(const char *v) {
  AvmaVersion x;
  return v && *v && avma_version_parse(v, &x) ? (int)x : -1;
}

static int edition_rank(const char *e) {
  AvmaEdition x;
  return e && *e && avma_edition_parse(e, &x) ? (int)x : 99;
}

static int cmp_group(gconstpointer a, gconstpointer b) {
  const AvmaReportGroup *x = *(AvmaReportGroup *const *)a, *y = *(AvmaReportGroup *const *)b;
  int vx = version_rank(x->version), vy = version_rank(y->version);
  if (vx != vy)
    return vy - vx; /* newest first, unknown last */
  int ex = edition_rank(x->edition), ey = edition_rank(y->edition);
  if (ex != ey)
    return ex - ey;
  return g_strcmp0(x->edition, y->edition);
}

static int cmp_vm_row(gconstpointer a, gconstpointer b) {
  const AvmaReportVm *x = *(AvmaReportVm *const *)a, *y = *(AvmaReportVm *const *)b;
  int c = g_strcmp0(x->name, y->name);
  return c ? c : g_strcmp0(x->key, y->key);
}

static void group_free(gpointer p) {
  AvmaReportGroup *g = p;
  if (!g)
    return; /* moved to the report */
  g_free(g->version);
  g_free(g->edition);
  g_free(g);
}

static void vm_row_free(gpointer p) {
  AvmaReportVm *v = p;
  g_free(v->key);
  g_free(v->name);
  g_free(v->uuid);
  g_free(v->products);
  g_array_unref(v->ran);
  g_free(v);
}

static void licence_change_free(gpointer p) {
  AvmaReportLicenceChange *c = p;
  g_free(c->version);
  g_free(c->edition);
  g_free(c->set_by);
  g_free(c);
}

void avma_report_free(AvmaReport *r) {
  if (!r)
    return;
  g_free(r->hostname);
  g_free(r->host_id);
  g_free(r->facts_source);
  g_free(r->licence_version);
  g_free(r->licence_edition);
  g_free(r->total.version);
  g_free(r->total.edition);
  g_array_unref(r->not_activated);
  g_ptr_array_unref(r->licence_changes);
  g_ptr_array_unref(r->groups);
  g_ptr_array_unref(r->vms);
  g_free(r);
}

static void add_licence_change(AvmaReport *r, const DLicence *l) {
  AvmaReportLicenceChange *c = g_new0(AvmaReportLicenceChange, 1);
  c->time = l->time;
  c->version = g_strdup(l->version);
  c->edition = g_strdup(l->edition);
  c->set_by = g_strdup(l->set_by);
  c->activated = l->activated;
  g_ptr_array_add(r->licence_changes, c);
}

static void host_block(AvmaReport *r, const AvmaReportData *d) {
  /* Facts: the latest recorded before the period ends, libvirt's (virNodeGetInfo) in preference
   * to the fallbacks; failing that, the first recorded at all. */
  const DFacts *best = NULL;
  for (int pass = 0; pass < 2 && !best; pass++)
    for (guint i = 0; i < d->facts->len; i++) {
      const DFacts *f = &g_array_index(d->facts, DFacts, i);
      if (f->time < r->period_end && (pass == 1 || !strcmp(f->source, "libvirt")) &&
          (!best || f->time >= best->time))
        best = f;
    }
  if (!best && d->facts->len)
    best = &g_array_index(d->facts, DFacts, 0);
  r->hostname = g_strdup(best && *best->hostname ? best->hostname : d->hostname ? d->hostname : "");
  r->host_id = g_strdup(best && *best->host_id ? best->host_id : d->host_id ? d->host_id : "");
  if (best) {
    r->sockets = best->sockets;
    r->cores_per_socket = best->cores;
    r->threads_per_core = best->threads;
    r->facts_source = g_strdup(best->source);
    r->facts_time = best->time;
    r->licensable_cores = best->sockets * MAX(8, best->cores);
  } else {
    r->facts_source = g_strdup("");
  }

  /* Licence over the period: the record in force at an instant is the last one at or before
   * it; the host counts as activated while that record says activated. */
  g_autoptr(GArray) lic = g_array_copy(d->licences);
  g_array_sort(lic, cmp_licence);
  const DLicence *cur = NULL;
  guint i = 0;
  for (; i < lic->len && g_array_index(lic, DLicence, i).time <= r->start; i++) {
    cur = &g_array_index(lic, DLicence, i);
    if (cur->time == r->start)
      add_licence_change(r, cur);
  }
  gint64 t = r->start;
  for (;; i++) {
    const DLicence *next = i < lic->len && g_array_index(lic, DLicence, i).time < r->period_end
                               ? &g_array_index(lic, DLicence, i)
                               : NULL;
    gint64 until = next ? next->time : r->period_end;
    gboolean ok = cur && cur->activated && *cur->version;
    if (!ok && until > t) {
      const char *why =
          !cur || !*cur->version ? "no licence recorded" : "licence recorded as not activated";
      AvmaReportInterval *last =
          r->not_activated->len
              ? &g_array_index(r->not_activated, AvmaReportInterval, r->not_activated->len - 1)
              : NULL;
      if (last && last->end == t && !strcmp(last->reason, why)) {
        last->end = until;
      } else {
        AvmaReportInterval gap = {t, until, FALSE, FALSE, why};
        g_array_append_val(r->not_activated, gap);
      }
    }
    if (!next)
      break;
    add_licence_change(r, next);
    cur = next;
    t = MAX(t, until);
  }
  r->activated_whole_period = r->not_activated->len == 0;
  r->licence_set = cur && *cur->version;
  r->licence_version = g_strdup(cur ? cur->version : "");
  r->licence_edition = g_strdup(cur ? cur->edition : "");
  r->licence_activated = cur && cur->activated;
}

/* Clip [s, e) to the period; FALSE when nothing is left. */
static gboolean clip(const AvmaReport *r, gint64 s, gint64 e, gint64 *cs, gint64 *ce) {
  *cs = MAX(s, r->start);
  *ce = MIN(e, r->period_end);
  return *ce > *cs;
}

AvmaReport *avma_report_build(const AvmaReportData *d, int year, int month, gint64 as_of,
                              GError **error) {
  g_autoptr(AvmaReport) r = g_new0(AvmaReport, 1);
  r->not_activated = g_array_new(FALSE, FALSE, sizeof(AvmaReportInterval));
  r->licence_changes = g_ptr_array_new_with_free_func(licence_change_free);
  r->groups = g_ptr_array_new_with_free_func(group_free);
  r->vms = g_ptr_array_new_with_free_func(vm_row_free);
  r->year = year;
  r->month = month;
  r->start = avma_report_month_start(year, month);
  r->end = avma_report_month_start(year, month + 1);
  r->as_of = as_of;
  if (as_of <= r->start) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                "%04d-%02d has not begun yet: nothing to report", year, month);
    return NULL;
  }
  r->period_end = MIN(r->end, as_of);
  r->complete = as_of >= r->end;
  host_block(r, d);

  guint nvm = d->vms->len, nprod = d->products->len;
  g_autoptr(GArray) ev = g_array_copy(d->events);
  g_array_sort(ev, cmp_event);
  g_autoptr(GArray) st = g_array_copy(d->states);
  g_array_sort(st, cmp_state);
  /* vCPUs: the latest count recorded before the period ends, else the first recorded after. */
  g_autofree int *vcpus = g_new(int, nvm ? nvm : 1);
  g_autofree gint64 *vcpus_at = g_new0(gint64, nvm ? nvm : 1);
  for (guint v = 0; v < nvm; v++)
    vcpus[v] = -1;
  for (guint i = 0; i < d->vcpus->len; i++) {
    const DVcpus *x = &g_array_index(d->vcpus, DVcpus, i);
    if (x->time < r->period_end && (vcpus[x->vm] < 0 || x->time >= vcpus_at[x->vm])) {
      vcpus[x->vm] = x->vcpus;
      vcpus_at[x->vm] = x->time;
    }
  }
  for (guint i = 0; i < d->vcpus->len; i++) {
    const DVcpus *x = &g_array_index(d->vcpus, DVcpus, i);
    if (vcpus[x->vm] < 0 || (vcpus_at[x->vm] >= r->period_end && x->time < vcpus_at[x->vm])) {
      vcpus[x->vm] = x->vcpus;
      vcpus_at[x->vm] = x->time;
    }
  }

  /* Per product: which VMs (bitmap as a byte per VM), the licensed spans, the counts. */
  g_autoptr(GPtrArray) groups = g_ptr_array_new_with_free_func(group_free);
  g_autoptr(GPtrArray) members = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) spans = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
  for (guint p = 0; p < nprod; p++) {
    const DProduct *dp = &g_array_index(d->products, DProduct, p);
    AvmaReportGroup *g = g_new0(AvmaReportGroup, 1);
    g->version = g_strdup(dp->version);
    g->edition = g_strdup(dp->edition);
    g_ptr_array_add(groups, g);
    g_ptr_array_add(members, g_new0(guint8, nvm ? nvm : 1));
    g_ptr_array_add(spans, g_array_new(FALSE, FALSE, sizeof(Point)));
  }
  g_autoptr(GArray) all_licensed = g_array_new(FALSE, FALSE, sizeof(Point));
  g_autoptr(GArray) all_ran = g_array_new(FALSE, FALSE, sizeof(Point));
  g_autoptr(GArray) runs = g_array_new(FALSE, FALSE, sizeof(Seg));
  g_autoptr(GArray) grants = g_array_new(FALSE, FALSE, sizeof(Seg));
  g_autofree guint8 *in_total = g_new0(guint8, nvm ? nvm : 1);
  g_autofree guint8 *prod_seen = g_new0(guint8, nprod);

  guint ei = 0, si = 0;
  for (guint v = 0; v < nvm; v++) {
    const DVm *dvm = &g_array_index(d->vms, DVm, v);
    AvmaReportVm *row = g_new0(AvmaReportVm, 1);
    row->key = g_strdup(dvm->key);
    row->name = g_strdup(dvm->name);
    row->uuid = g_strdup(dvm->uuid);
    row->vcpus = vcpus[v];
    row->ran = g_array_new(FALSE, FALSE, sizeof(AvmaReportInterval));
    memset(prod_seen, 0, nprod);

    /* Runs: from each "running" record to the next "stopped" one (or on, when none follows). */
    g_array_set_size(runs, 0);
    gint64 open_at = -1;
    for (; si < st->len && g_array_index(st, DState, si).vm == v; si++) {
      const DState *s = &g_array_index(st, DState, si);
      if (s->running && open_at < 0) {
        open_at = s->time;
      } else if (!s->running && open_at >= 0) {
        Seg run = {open_at, MAX(open_at, s->time), 0};
        g_array_append_val(runs, run);
        open_at = -1;
      }
    }
    if (open_at >= 0) {
      Seg run = {open_at, FOREVER, 0};
      g_array_append_val(runs, run);
    }
    for (guint k = 0; k < runs->len; k++) {
      const Seg *run = &g_array_index(runs, Seg, k);
      gint64 cs, ce;
      if (!clip(r, run->start, run->end, &cs, &ce))
        continue;
      AvmaReportInterval iv = {cs, ce, run->start<r->start, run->end> r->period_end, NULL};
      g_array_append_val(row->ran, iv);
      row->ran_seconds += ce - cs;
      add_span(all_ran, cs, ce);
      if (ce == r->period_end)
        r->running_at_end++;
    }

    /* Grants: each success holds from its time until it expires or the VM's next success
     * replaces it. Counts: every 12310 event of the period, under the product it names. */
    g_array_set_size(grants, 0);
    for (; ei < ev->len && g_array_index(ev, DEvent, ei).vm == v; ei++) {
      const DEvent *e = &g_array_index(ev, DEvent, ei);
      if (e->time >= r->start && e->time < r->period_end && e->notification >= 0) {
        row->attempts[e->notification]++;
        AvmaReportGroup *g = groups->pdata[e->product];
        g->attempts[e->notification]++;
      }
      if (e->notification != AVMA_NOTIFY_SUCCESS)
        continue;
      if (grants->len) {
        Seg *prev = &g_array_index(grants, Seg, grants->len - 1);
        prev->end = MIN(prev->end, e->time);
      }
      Seg g = {e->time, e->until, e->product};
      g_array_append_val(grants, g);
      if (e->time >= r->start && e->time < r->period_end) {
        ((guint8 *)members->pdata[e->product])[v] = 1;
        prod_seen[e->product] = 1;
      }
    }

    /* Licensed: ran here and held a grant (both interval lists are sorted and disjoint). */
    guint a = 0, b = 0;
    while (a < runs->len && b < grants->len) {
      const Seg *run = &g_array_index(runs, Seg, a), *gr = &g_array_index(grants, Seg, b);
      gint64 s = MAX(run->start, gr->start), e = MIN(run->end, gr->end), cs, ce;
      if (e > s && clip(r, s, e, &cs, &ce)) {
        AvmaReportGroup *g = groups->pdata[gr->product];
        g->licensed_seconds += ce - cs;
        row->licensed_seconds += ce - cs;
        ((guint8 *)members->pdata[gr->product])[v] = 1;
        prod_seen[gr->product] = 1;
        add_span(spans->pdata[gr->product], cs, ce);
        add_span(all_licensed, cs, ce);
        if (ce == r->period_end) {
          g->at_end++;
          r->total.at_end++;
          row->licensed_at_end = TRUE;
        }
      }
      if (run->end < gr->end)
        a++;
      else
        b++;
    }

    g_autoptr(GString) prods = g_string_new("");
    for (guint p = 0; p < nprod; p++) {
      if (!prod_seen[p])
        continue;
      const DProduct *dp = &g_array_index(d->products, DProduct, p);
      g_string_append_printf(prods, "%s%s%s%s", prods->len ? ", " : "", dp->version,
                             *dp->edition ? " " : "", dp->edition);
      in_total[v] = 1;
    }
    row->products = g_string_free(g_steal_pointer(&prods), FALSE);
    gboolean any_attempt = FALSE;
    for (int n = 0; n < AVMA_REPORT_NOTIFICATIONS; n++)
      any_attempt |= row->attempts[n] > 0;
    if (row->ran->len || any_attempt || *row->products)
      g_ptr_array_add(r->vms, row);
    else
      vm_row_free(row);
  }
  r->vms_ran = 0;
  for (guint i = 0; i < r->vms->len; i++) {
    AvmaReportVm *row = r->vms->pdata[i];
    r->vms_ran += row->ran->len > 0;
    r->ran_seconds += row->ran_seconds;
  }
  r->peak_running = peak_of(all_ran);

  /* Products with anything to say, and the totals. A VM can count under two products (its key
   * changed), so the total counts distinct VMs and its own peak, not sums of theirs. */
  for (guint p = 0; p < nprod; p++) {
    AvmaReportGroup *g = groups->pdata[p];
    const guint8 *m = members->pdata[p];
    for (guint v = 0; v < nvm; v++) {
      if (!m[v])
        continue;
      g->vms++;
      if (vcpus[v] >= 0)
        g->vcpus += (guint)vcpus[v];
      else
        g->vcpus_unknown++;
    }
    g->peak = peak_of(spans->pdata[p]);
    gboolean any = g->vms > 0;
    for (int n = 0; n < AVMA_REPORT_NOTIFICATIONS; n++) {
      any |= g->attempts[n] > 0;
      r->total.attempts[n] += g->attempts[n];
    }
    r->total.licensed_seconds += g->licensed_seconds;
    if (any)
      g_ptr_array_add(r->groups, g_steal_pointer(&groups->pdata[p]));
  }
  for (guint v = 0; v < nvm; v++) {
    if (!in_total[v])
      continue;
    r->total.vms++;
    if (vcpus[v] >= 0)
      r->total.vcpus += (guint)vcpus[v];
    else
      r->total.vcpus_unknown++;
  }
  r->total.peak = peak_of(all_licensed);
  r->total.version = g_strdup("TOTAL");
  r->total.edition = g_strdup("");
  g_ptr_array_sort(r->groups, cmp_group);
  g_ptr_array_sort(r->vms, cmp_vm_row);
  return g_steal_pointer(&r);
}

/* ---- rendering ------------------------------------------------------------------------------ */

char *avma_report_days(gint64 seconds) {
  /* Exact decimal rounding (half up) on integers, so every format prints the same digits. */
  gint64 hundredths = (seconds * 100 + 43200) / 86400;
  return g_strdup_printf("%" G_GINT64_FORMAT ".%02d", hundredths / 100, (int)(hundredths % 100));
}

static const char *const attempt_names[AVMA_REPORT_NOTIFICATIONS] = {
    [AVMA_NOTIFY_SUCCESS] = "success",
    [AVMA_NOTIFY_INVALID_HOST] = "invalid_host",
    [AVMA_NOTIFY_INVALID_DATA] = "invalid_data",
    [AVMA_NOTIFY_DENIED] = "activation_denied",
};
/* Column order in text and CSV: successes, then the failures from the guest's point of view. */
static const AvmaNotification attempt_order[AVMA_REPORT_NOTIFICATIONS] = {
    AVMA_NOTIFY_SUCCESS, AVMA_NOTIFY_DENIED, AVMA_NOTIFY_INVALID_HOST, AVMA_NOTIFY_INVALID_DATA};

static char *fmt_time(gint64 t) {
  return avma_time_format(t);
}

static char *month_name(const AvmaReport *r) {
  return g_strdup_printf("%04d-%02d", r->year, r->month);
}

static char *intervals_text(GArray *a) {
  GString *s = g_string_new("");
  for (guint i = 0; i < a->len; i++) {
    const AvmaReportInterval *iv = &g_array_index(a, AvmaReportInterval, i);
    g_autofree char *from = fmt_time(iv->start);
    g_autofree char *to = fmt_time(iv->end);
    g_string_append_printf(s, "%s%s%s/%s%s", i ? "; " : "", iv->before ? "..." : "", from, to,
                           iv->after ? "..." : "");
  }
  return g_string_free(s, FALSE);
}

/* A table of cells printed with aligned columns: text left, numbers right. */
typedef struct {
  GPtrArray *rows; /* GPtrArray* of char* */
  guint ncol;
  const gboolean *right;
} Table;

static void table_row(Table *t, ...) {
  GPtrArray *row = g_ptr_array_new_with_free_func(g_free);
  va_list ap;
  va_start(ap, t);
  for (guint i = 0; i < t->ncol; i++)
    g_ptr_array_add(row, g_strdup(va_arg(ap, const char *)));
  va_end(ap);
  g_ptr_array_add(t->rows, row);
}

static void table_print(Table *t, GString *out) {
  g_autofree guint *w = g_new0(guint, t->ncol);
  for (guint r = 0; r < t->rows->len; r++) {
    GPtrArray *row = t->rows->pdata[r];
    for (guint c = 0; c < t->ncol; c++)
      w[c] = MAX(w[c], (guint)g_utf8_strlen(row->pdata[c], -1));
  }
  for (guint r = 0; r < t->rows->len; r++) {
    GPtrArray *row = t->rows->pdata[r];
    GString *line = g_string_new("  ");
    for (guint c = 0; c < t->ncol; c++) {
      const char *cell = row->pdata[c];
      guint pad = w[c] - (guint)g_utf8_strlen(cell, -1);
      if (c)
        g_string_append(line, "  ");
      if (t->right[c])
        g_string_append_printf(line, "%*s%s", pad, "", cell);
      else if (c + 1 < t->ncol)
        g_string_append_printf(line, "%s%*s", cell, pad, "");
      else
        g_string_append(line, cell);
    }
    while (line->len && line->str[line->len - 1] == ' ')
      g_string_truncate(line, line->len - 1);
    g_string_append_printf(out, "%s\n", line->str);
    g_string_free(line, TRUE);
  }
  g_ptr_array_unref(t->rows);
}

static char *u(guint v) {
  return g_strdup_printf("%u", v);
}

static void group_cells(const AvmaReportGroup *g, char **c) {
  c[0] = u(g->vms);
  c[1] = u(g->peak);
  c[2] = u(g->at_end);
  c[3] = avma_report_days(g->licensed_seconds);
  c[4] = g->vcpus_unknown ? g_strdup_printf("%u*", g->vcpus) : u(g->vcpus);
  for (int n = 0; n < AVMA_REPORT_NOTIFICATIONS; n++)
    c[5 + n] = u(g->attempts[attempt_order[n]]);
}

char *avma_report_to_text(const AvmaReport *r) {
  GString *o = g_string_new("");
  g_autofree char *m = month_name(r);
  g_autofree char *s = fmt_time(r->start), *e = fmt_time(r->end), *asof = fmt_time(r->as_of);
  g_string_append_printf(o, "AVMA compliance report for %s (UTC, %s to %s)\n", m, s, e);
  if (!r->complete)
    g_string_append_printf(o, "Month to date: history up to %s\n", asof);

  g_string_append(o, "\nHost\n");
  g_string_append_printf(o, "  Name                  %s\n", *r->hostname ? r->hostname : "-");
  g_string_append_printf(o, "  Host ID               %s\n", *r->host_id ? r->host_id : "-");
  if (r->sockets) {
    g_autofree char *ft = fmt_time(r->facts_time);
    g_string_append_printf(o,
                           "  Processors            %d socket(s) x %d core(s), %d thread(s) per "
                           "core (%s, recorded %s)\n",
                           r->sockets, r->cores_per_socket, r->threads_per_core, r->facts_source,
                           ft);
    g_string_append_printf(o, "  Licensable cores      %d (each socket counts at least 8 cores)\n",
                           r->licensable_cores);
  } else {
    g_string_append(o, "  Processors            unknown (no host facts recorded)\n");
  }
  if (r->licence_set)
    g_string_append_printf(o, "  Licence               Windows Server %s %s, %s\n",
                           r->licence_version, r->licence_edition,
                           r->licence_activated ? "activated" : "not activated");
  else
    g_string_append(o, "  Licence               not set\n");
  g_string_append_printf(o, "  Activated all month   %s\n",
                         r->activated_whole_period ? "yes" : "no");
  for (guint i = 0; i < r->not_activated->len; i++) {
    const AvmaReportInterval *iv = &g_array_index(r->not_activated, AvmaReportInterval, i);
    g_autofree char *a = fmt_time(iv->start), *b = fmt_time(iv->end);
    g_string_append_printf(o, "    not activated       %s to %s (%s)\n", a, b, iv->reason);
  }
  for (guint i = 0; i < r->licence_changes->len; i++) {
    const AvmaReportLicenceChange *c = r->licence_changes->pdata[i];
    g_autofree char *a = fmt_time(c->time);
    g_string_append_printf(o, "  Licence change        %s %s %s, %s, by %s\n", a, c->version,
                           c->edition, c->activated ? "activated" : "not activated",
                           *c->set_by ? c->set_by : "?");
  }
  g_autofree char *rd = avma_report_days(r->ran_seconds);
  g_string_append_printf(o,
                         "  VMs that ran here     %u (at most %u at once, %u at the end, "
                         "%s VM-days)\n",
                         r->vms_ran, r->peak_running, r->running_at_end, rd);

  g_string_append(o, "\nGuests by product\n");
  static const gboolean gright[] = {FALSE, FALSE, TRUE, TRUE, TRUE, TRUE,
                                    TRUE,  TRUE,  TRUE, TRUE, TRUE};
  Table t = {g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref), 11, gright};
  table_row(&t, "VERSION", "EDITION", "VMS", "PEAK", "AT END", "VM-DAYS", "VCPUS", "SUCCESS",
            "DENIED", "INVALID HOST", "INVALID DATA");
  for (guint i = 0; i <= r->groups->len; i++) {
    const AvmaReportGroup *g = i < r->groups->len ? r->groups->pdata[i] : &r->total;
    char *c[9];
    group_cells(g, c);
    table_row(&t, *g->version ? g->version : "unknown", g->edition, c[0], c[1], c[2], c[3], c[4],
              c[5], c[6], c[7], c[8]);
    for (int k = 0; k < 9; k++)
      g_free(c[k]);
  }
  table_print(&t, o);
  g_string_append(o, "  TOTAL counts distinct VMs, and its peak is over all products at once.\n");
  if (r->total.vcpus_unknown)
    g_string_append_printf(o, "  * vCPUs not recorded for %u VM(s).\n", r->total.vcpus_unknown);

  g_string_append(o, "\nVMs\n");
  if (!r->vms->len) {
    g_string_append(o, "  none\n");
  } else {
    static const gboolean vright[] = {FALSE, FALSE, FALSE, TRUE, TRUE, TRUE,
                                      TRUE,  TRUE,  TRUE,  TRUE, FALSE};
    Table v = {g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref), 11, vright};
    table_row(&v, "VM", "UUID", "PRODUCT", "VCPUS", "RAN DAYS", "VM-DAYS", "SUCCESS", "DENIED",
              "INVALID HOST", "INVALID DATA", "RAN HERE (UTC)");
    for (guint i = 0; i < r->vms->len; i++) {
      const AvmaReportVm *x = r->vms->pdata[i];
      g_autofree char *vc = x->vcpus >= 0 ? g_strdup_printf("%d", x->vcpus) : g_strdup("-");
      g_autofree char *ran = avma_report_days(x->ran_seconds);
      g_autofree char *lic = avma_report_days(x->licensed_seconds);
      g_autofree char *a0 = u(x->attempts[attempt_order[0]]),
                      *a1 = u(x->attempts[attempt_order[1]]),
                      *a2 = u(x->attempts[attempt_order[2]]),
                      *a3 = u(x->attempts[attempt_order[3]]);
      g_autofree char *iv = intervals_text(x->ran);
      table_row(&v, *x->name ? x->name : "-", *x->uuid ? x->uuid : "-",
                *x->products ? x->products : "-", vc, ran, lic, a0, a1, a2, a3, *iv ? iv : "-");
    }
    table_print(&v, o);
    g_string_append(o, "  \"...\": the run began before, or goes on after, the period.\n");
  }
  return g_string_free(o, FALSE);
}

/* ---- CSV ------------------------------------------------------------------------------------ */

static void csv_field(GString *o, const char *s, gboolean last) {
  if (strpbrk(s, ",\"\n\r")) {
    g_string_append_c(o, '"');
    for (const char *p = s; *p; p++) {
      if (*p == '"')
        g_string_append_c(o, '"');
      g_string_append_c(o, *p);
    }
    g_string_append_c(o, '"');
  } else {
    g_string_append(o, s);
  }
  g_string_append(o, last ? "\r\n" : ",");
}

static void csv_row(GString *o, guint n, ...) {
  va_list ap;
  va_start(ap, n);
  for (guint i = 0; i < n; i++)
    csv_field(o, va_arg(ap, const char *), i + 1 == n);
  va_end(ap);
}

char *avma_report_to_csv(const AvmaReport *r) {
  /* One file, sections one after the other, each with its header; the first column names the
   * section so a billing import can split the lines without reading the headers. */
  GString *o = g_string_new("");
  g_autofree char *m = month_name(r);
  g_autofree char *s = fmt_time(r->start), *e = fmt_time(r->end), *asof = fmt_time(r->as_of);
  g_autofree char *sockets = g_strdup_printf("%d", r->sockets);
  g_autofree char *cores = g_strdup_printf("%d", r->cores_per_socket);
  g_autofree char *threads = g_strdup_printf("%d", r->threads_per_core);
  g_autofree char *lcores = g_strdup_printf("%d", r->licensable_cores);
  g_autofree char *ft = fmt_time(r->facts_time);
  g_autofree char *ran = u(r->vms_ran), *peak = u(r->peak_running), *atend = u(r->running_at_end);
  g_autofree char *rd = avma_report_days(r->ran_seconds);
  csv_row(o, 22, "section", "month", "period_start", "period_end", "as_of", "complete", "host_name",
          "host_id", "sockets", "cores_per_socket", "threads_per_core", "licensable_cores",
          "facts_source", "facts_recorded", "licence_version", "licence_edition",
          "licence_activated", "activated_whole_month", "vms_ran", "peak_running", "running_at_end",
          "vm_days_ran");
  csv_row(o, 22, "host", m, s, e, asof, r->complete ? "yes" : "no", r->hostname, r->host_id,
          sockets, cores, threads, lcores, r->facts_source, ft, r->licence_version,
          r->licence_edition, r->licence_activated ? "yes" : "no",
          r->activated_whole_period ? "yes" : "no", ran, peak, atend, rd);
  g_string_append(o, "\r\n");
  csv_row(o, 5, "section", "month", "from", "to", "reason");
  for (guint i = 0; i < r->not_activated->len; i++) {
    const AvmaReportInterval *iv = &g_array_index(r->not_activated, AvmaReportInterval, i);
    g_autofree char *a = fmt_time(iv->start), *b = fmt_time(iv->end);
    csv_row(o, 5, "not_activated", m, a, b, iv->reason);
  }
  g_string_append(o, "\r\n");
  csv_row(o, 13, "section", "month", "guest_version", "guest_edition", "vms_activated",
          "peak_concurrent", "running_at_end", "vm_days_licensed", "vcpus", "success",
          "activation_denied", "invalid_host", "invalid_data");
  for (guint i = 0; i <= r->groups->len; i++) {
    const AvmaReportGroup *g = i < r->groups->len ? r->groups->pdata[i] : &r->total;
    g_autofree char *vms = u(g->vms), *pk = u(g->peak), *ae = u(g->at_end);
    g_autofree char *days = avma_report_days(g->licensed_seconds), *vc = u(g->vcpus);
    g_autofree char *a0 = u(g->attempts[attempt_order[0]]), *a1 = u(g->attempts[attempt_order[1]]),
                    *a2 = u(g->attempts[attempt_order[2]]), *a3 = u(g->attempts[attempt_order[3]]);
    csv_row(o, 13, i < r->groups->len ? "product" : "total", m, g->version, g->edition, vms, pk, ae,
            days, vc, a0, a1, a2, a3);
  }
  g_string_append(o, "\r\n");
  csv_row(o, 13, "section", "month", "vm", "vm_uuid", "products", "vcpus", "vm_days_ran",
          "vm_days_licensed", "success", "activation_denied", "invalid_host", "invalid_data",
          "ran_here");
  for (guint i = 0; i < r->vms->len; i++) {
    const AvmaReportVm *x = r->vms->pdata[i];
    g_autofree char *vc = x->vcpus >= 0 ? g_strdup_printf("%d", x->vcpus) : g_strdup("");
    g_autofree char *rdays = avma_report_days(x->ran_seconds);
    g_autofree char *ldays = avma_report_days(x->licensed_seconds);
    g_autofree char *a0 = u(x->attempts[attempt_order[0]]), *a1 = u(x->attempts[attempt_order[1]]),
                    *a2 = u(x->attempts[attempt_order[2]]), *a3 = u(x->attempts[attempt_order[3]]);
    g_autofree char *iv = intervals_text(x->ran);
    csv_row(o, 13, "vm", m, x->name, x->uuid, x->products, vc, rdays, ldays, a0, a1, a2, a3, iv);
  }
  return g_string_free(o, FALSE);
}

/* ---- JSON ----------------------------------------------------------------------------------
 * Written by hand: VM-days must print as the same two decimals as in text and CSV, and a JSON
 * library prints doubles in full (0.1 as 0.10000000000000001). */

typedef struct {
  GString *o;
  int depth;
  gboolean first;
} Json;

static void j_str_raw(GString *o, const char *s) {
  g_string_append_c(o, '"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      g_string_append_printf(o, "\\%c", *p);
    else if (*p < 0x20)
      g_string_append_printf(o, "\\u%04x", *p);
    else
      g_string_append_c(o, (char)*p);
  }
  g_string_append_c(o, '"');
}

static void j_sep(Json *j, const char *key) {
  if (!j->first)
    g_string_append_c(j->o, ',');
  j->first = FALSE;
  g_string_append_printf(j->o, "\n%*s", j->depth * 2, "");
  if (key) {
    j_str_raw(j->o, key);
    g_string_append(j->o, ": ");
  }
}

static void j_open(Json *j, const char *key, char c) {
  if (j->depth || key)
    j_sep(j, key);
  g_string_append_c(j->o, c);
  j->depth++;
  j->first = TRUE;
}

static void j_close(Json *j, char c) {
  j->depth--;
  if (!j->first)
    g_string_append_printf(j->o, "\n%*s", j->depth * 2, "");
  g_string_append_c(j->o, c);
  j->first = FALSE;
}

static void j_str(Json *j, const char *key, const char *v) {
  j_sep(j, key);
  j_str_raw(j->o, v ? v : "");
}
static void j_time(Json *j, const char *key, gint64 t) {
  g_autofree char *s = fmt_time(t);
  j_str(j, key, s);
}
static void j_int(Json *j, const char *key, gint64 v) {
  j_sep(j, key);
  g_string_append_printf(j->o, "%" G_GINT64_FORMAT, v);
}
static void j_bool(Json *j, const char *key, gboolean v) {
  j_sep(j, key);
  g_string_append(j->o, v ? "true" : "false");
}
static void j_days(Json *j, const char *key, gint64 seconds) {
  g_autofree char *s = avma_report_days(seconds);
  j_sep(j, key);
  g_string_append(j->o, s);
}

static void j_attempts(Json *j, const guint *a) {
  j_open(j, "attempts", '{');
  for (int n = 0; n < AVMA_REPORT_NOTIFICATIONS; n++)
    j_int(j, attempt_names[attempt_order[n]], a[attempt_order[n]]);
  j_close(j, '}');
}

static void j_group(Json *j, const AvmaReportGroup *g, gboolean total) {
  if (!total) {
    j_str(j, "guest_version", g->version);
    j_str(j, "guest_edition", g->edition);
  }
  j_int(j, "vms_activated", g->vms);
  j_int(j, "peak_concurrent", g->peak);
  j_int(j, "running_at_end", g->at_end);
  j_int(j, "vm_seconds_licensed", g->licensed_seconds);
  j_days(j, "vm_days_licensed", g->licensed_seconds);
  j_int(j, "vcpus", g->vcpus);
  j_int(j, "vms_vcpus_unknown", g->vcpus_unknown);
  j_attempts(j, g->attempts);
}

char *avma_report_to_json(const AvmaReport *r) {
  Json j = {g_string_new(""), 0, TRUE};
  g_autofree char *m = month_name(r);
  j_open(&j, NULL, '{');
  j_str(&j, "month", m);
  j_time(&j, "period_start", r->start);
  j_time(&j, "period_end", r->end);
  j_time(&j, "as_of", r->as_of);
  j_bool(&j, "complete", r->complete);
  j_open(&j, "host", '{');
  j_str(&j, "name", r->hostname);
  j_str(&j, "host_id", r->host_id);
  j_int(&j, "sockets", r->sockets);
  j_int(&j, "cores_per_socket", r->cores_per_socket);
  j_int(&j, "threads_per_core", r->threads_per_core);
  j_int(&j, "licensable_cores", r->licensable_cores);
  j_str(&j, "facts_source", r->facts_source);
  j_time(&j, "facts_recorded", r->facts_time);
  j_open(&j, "licence", '{');
  j_bool(&j, "set", r->licence_set);
  j_str(&j, "version", r->licence_version);
  j_str(&j, "edition", r->licence_edition);
  j_bool(&j, "activated", r->licence_activated);
  j_close(&j, '}');
  j_bool(&j, "activated_whole_month", r->activated_whole_period);
  j_open(&j, "not_activated", '[');
  for (guint i = 0; i < r->not_activated->len; i++) {
    const AvmaReportInterval *iv = &g_array_index(r->not_activated, AvmaReportInterval, i);
    j_open(&j, NULL, '{');
    j_time(&j, "from", iv->start);
    j_time(&j, "to", iv->end);
    j_str(&j, "reason", iv->reason);
    j_close(&j, '}');
  }
  j_close(&j, ']');
  j_open(&j, "licence_changes", '[');
  for (guint i = 0; i < r->licence_changes->len; i++) {
    const AvmaReportLicenceChange *c = r->licence_changes->pdata[i];
    j_open(&j, NULL, '{');
    j_time(&j, "time", c->time);
    j_str(&j, "version", c->version);
    j_str(&j, "edition", c->edition);
    j_bool(&j, "activated", c->activated);
    j_str(&j, "set_by", c->set_by);
    j_close(&j, '}');
  }
  j_close(&j, ']');
  j_int(&j, "vms_ran", r->vms_ran);
  j_int(&j, "peak_running", r->peak_running);
  j_int(&j, "running_at_end", r->running_at_end);
  j_int(&j, "vm_seconds_ran", r->ran_seconds);
  j_days(&j, "vm_days_ran", r->ran_seconds);
  j_close(&j, '}');
  j_open(&j, "products", '[');
  for (guint i = 0; i < r->groups->len; i++) {
    j_open(&j, NULL, '{');
    j_group(&j, r->groups->pdata[i], FALSE);
    j_close(&j, '}');
  }
  j_close(&j, ']');
  j_open(&j, "total", '{');
  j_group(&j, &r->total, TRUE);
  j_close(&j, '}');
  j_open(&j, "vms", '[');
  for (guint i = 0; i < r->vms->len; i++) {
    const AvmaReportVm *x = r->vms->pdata[i];
    j_open(&j, NULL, '{');
    j_str(&j, "vm", x->name);
    j_str(&j, "vm_uuid", x->uuid);
    j_str(&j, "products", x->products);
    if (x->vcpus >= 0) {
      j_int(&j, "vcpus", x->vcpus);
    } else {
      j_sep(&j, "vcpus");
      g_string_append(j.o, "null");
    }
    j_open(&j, "ran_here", '[');
    for (guint k = 0; k < x->ran->len; k++) {
      const AvmaReportInterval *iv = &g_array_index(x->ran, AvmaReportInterval, k);
      j_open(&j, NULL, '{');
      j_time(&j, "from", iv->start);
      j_time(&j, "to", iv->end);
      j_bool(&j, "began_before", iv->before);
      j_bool(&j, "goes_on_after", iv->after);
      j_close(&j, '}');
    }
    j_close(&j, ']');
    j_int(&j, "vm_seconds_ran", x->ran_seconds);
    j_days(&j, "vm_days_ran", x->ran_seconds);
    j_int(&j, "vm_seconds_licensed", x->licensed_seconds);
    j_days(&j, "vm_days_licensed", x->licensed_seconds);
    j_bool(&j, "licensed_at_end", x->licensed_at_end);
    j_attempts(&j, x->attempts);
    j_close(&j, '}');
  }
  j_close(&j, ']');
  j_close(&j, '}');
  g_string_append_c(j.o, '\n');
  return g_string_free(j.o, FALSE);
}
