/* report: the report's data set and building the monthly report from it (pure: no I/O). */
#include "report.h"

#include <gio/gio.h>
#include <stdio.h>
#include <string.h>

#define FOREVER G_MAXINT64

/* ---- input ---------------------------------------------------------------------------------- */

/* What every input row starts with, and how the build orders rows: by VM, time, then the order
 * they were added in (rows without a VM have vm 0). */
typedef struct {
  gint64 time;
  guint seq;
  guint vm;
} DKey;

typedef struct {
  DKey k;
  int notification; /* AvmaNotification, -1 unknown */
  guint product;
  gint64 until;
} DEvent;

typedef struct {
  DKey k;
  gboolean running;
} DState;

typedef struct {
  DKey k;
  const char *version, *edition, *set_by;
  gboolean activated;
} DLicence;

typedef struct {
  DKey k;
  const char *hostname, *host_id, *source;
  int sockets, cores, threads;
} DFacts;

typedef struct {
  DKey k;
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

static DKey next_key(AvmaReportData *d, gint64 time, guint vm) {
  return (DKey){.time = time, .seq = d->seq++, .vm = vm};
}

void avma_report_data_add_event(AvmaReportData *d, const AvmaHistoryEventRow *e) {
  guint vm = vm_index(d, e->vm, e->vm_uuid);
  DEvent x = {.k = next_key(d, e->time, vm),
              .notification = e->notification >= 0 && e->notification < AVMA_REPORT_NOTIFICATIONS
                                  ? e->notification
                                  : -1,
              .product = product_index(d, e->guest_version, e->guest_edition),
              .until = e->granted_until};
  g_array_append_val(d->events, x);
}

void avma_report_data_add_state(AvmaReportData *d, const AvmaHistoryStateRow *s) {
  guint vm = vm_index(d, s->vm, s->vm_uuid);
  DState x = {.k = next_key(d, s->time, vm), .running = s->running};
  g_array_append_val(d->states, x);
}

void avma_report_data_add_licence(AvmaReportData *d, const AvmaHistoryLicenceRow *l) {
  DLicence x = {.k = next_key(d, l->time, 0),
                .version = intern(d, l->version),
                .edition = intern(d, l->edition),
                .set_by = intern(d, l->set_by),
                .activated = l->activated};
  g_array_append_val(d->licences, x);
}

void avma_report_data_add_host_facts(AvmaReportData *d, const AvmaHistoryFactsRow *f) {
  DFacts x = {.k = next_key(d, f->time, 0),
              .hostname = intern(d, f->facts.hostname),
              .host_id = intern(d, f->facts.host_id),
              .source = intern(d, f->facts.source),
              .sockets = f->facts.sockets,
              .cores = f->facts.cores_per_socket,
              .threads = f->facts.threads_per_core};
  g_array_append_val(d->facts, x);
}

void avma_report_data_add_vcpus(AvmaReportData *d, const AvmaHistoryVcpusRow *v) {
  guint vm = vm_index(d, v->vm, v->vm_uuid);
  DVcpus x = {.k = next_key(d, v->time, vm), .vcpus = v->vcpus};
  g_array_append_val(d->vcpus, x);
}

void avma_report_data_set_identity(AvmaReportData *d, const char *hostname, const char *host_id) {
  d->hostname = intern(d, hostname);
  d->host_id = intern(d, host_id);
}

/* ---- months --------------------------------------------------------------------------------- */

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

/* ---- ordering ------------------------------------------------------------------------------- */

/* The one order of input rows (DKey leads every row type). */
static int cmp_key(gconstpointer a, gconstpointer b) {
  const DKey *x = a, *y = b;
  if (x->vm != y->vm)
    return x->vm < y->vm ? -1 : 1;
  if (x->time != y->time)
    return x->time < y->time ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static GArray *sorted_copy(GArray *rows) {
  GArray *a = g_array_copy(rows);
  g_array_sort(a, cmp_key);
  return a;
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

/* ---- the report ----------------------------------------------------------------------------- */

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

/* An empty report of the period, or an error when it has not begun by as_of. */
static AvmaReport *report_new(int year, int month, gint64 as_of, GError **error) {
  gint64 start = avma_report_month_start(year, month);
  if (as_of <= start) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                "%04d-%02d has not begun yet: nothing to report", year, month);
    return NULL;
  }
  AvmaReport *r = g_new0(AvmaReport, 1);
  r->not_activated = g_array_new(FALSE, FALSE, sizeof(AvmaReportInterval));
  r->licence_changes = g_ptr_array_new_with_free_func(licence_change_free);
  r->groups = g_ptr_array_new_with_free_func(group_free);
  r->vms = g_ptr_array_new_with_free_func(vm_row_free);
  r->year = year;
  r->month = month;
  r->start = start;
  r->end = avma_report_month_start(year, month + 1);
  r->as_of = as_of;
  r->period_end = MIN(r->end, as_of);
  r->complete = as_of >= r->end;
  return r;
}

/* Clip [s, e) to the period; FALSE when nothing is left. */
static gboolean clip(const AvmaReport *r, gint64 s, gint64 e, gint64 *cs, gint64 *ce) {
  *cs = MAX(s, r->start);
  *ce = MIN(e, r->period_end);
  return *ce > *cs;
}

/* ---- building: the host -----------------------------------------------------------------------
 */

/* Facts: the latest recorded before the period ends, libvirt's (virNodeGetInfo) in preference to
 * the fallbacks; failing that, the first recorded at all. */
static void host_facts(AvmaReport *r, const AvmaReportData *d) {
  const DFacts *best = NULL;
  for (int pass = 0; pass < 2 && !best; pass++)
    for (guint i = 0; i < d->facts->len; i++) {
      const DFacts *f = &g_array_index(d->facts, DFacts, i);
      if (f->k.time < r->period_end && (pass == 1 || !strcmp(f->source, "libvirt")) &&
          (!best || f->k.time >= best->k.time))
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
    r->facts_time = best->k.time;
    r->licensable_cores = best->sockets * MAX(8, best->cores);
  } else {
    r->facts_source = g_strdup("");
  }
}

static void add_licence_change(AvmaReport *r, const DLicence *l) {
  AvmaReportLicenceChange *c = g_new0(AvmaReportLicenceChange, 1);
  c->time = l->k.time;
  c->version = g_strdup(l->version);
  c->edition = g_strdup(l->edition);
  c->set_by = g_strdup(l->set_by);
  c->activated = l->activated;
  g_ptr_array_add(r->licence_changes, c);
}

/* The host was not activated over [t, until): extends the previous gap when it touches it and
 * has the same reason. */
static void add_gap(AvmaReport *r, gint64 t, gint64 until, const char *why) {
  AvmaReportInterval *last =
      r->not_activated->len
          ? &g_array_index(r->not_activated, AvmaReportInterval, r->not_activated->len - 1)
          : NULL;
  if (last && last->end == t && !strcmp(last->reason, why)) {
    last->end = until;
    return;
  }
  AvmaReportInterval gap = {t, until, FALSE, FALSE, why};
  g_array_append_val(r->not_activated, gap);
}

/* Licence over the period: the record in force at an instant is the last one at or before it;
 * the host counts as activated while that record says activated. */
static void licence_timeline(AvmaReport *r, const AvmaReportData *d) {
  g_autoptr(GArray) lic = sorted_copy(d->licences);
  const DLicence *cur = NULL;
  guint i = 0;
  for (; i < lic->len && g_array_index(lic, DLicence, i).k.time <= r->start; i++) {
    cur = &g_array_index(lic, DLicence, i);
    if (cur->k.time == r->start)
      add_licence_change(r, cur);
  }
  gint64 t = r->start;
  for (;; i++) {
    const DLicence *next = i < lic->len && g_array_index(lic, DLicence, i).k.time < r->period_end
                               ? &g_array_index(lic, DLicence, i)
                               : NULL;
    gint64 until = next ? next->k.time : r->period_end;
    gboolean ok = cur && cur->activated && *cur->version;
    if (!ok && until > t)
      add_gap(r, t, until,
              !cur || !*cur->version ? "no licence recorded" : "licence recorded as not activated");
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

/* ---- building: the guests ----------------------------------------------------------------------
 * One pass over the VMs (events and states sorted by VM), filling per-product accumulators; the
 * totals come after. */

typedef struct {
  const AvmaReportData *d;
  AvmaReport *r;
  guint nvm, nprod;
  GArray *ev, *st;    /* sorted copies (cmp_key) */
  guint ei, si;       /* the first event and state of the VM being built */
  int *vcpus;         /* per VM, -1 unknown */
  GPtrArray *groups;  /* AvmaReportGroup* per product; NULL once moved to the report */
  GPtrArray *members; /* per product, a byte per VM: the VM counts under it */
  GPtrArray *spans;   /* per product, the Points of its licensed spans */
  GArray *all_licensed, *all_ran;
  guint8 *in_total;      /* per VM: it counts in the total */
  guint8 *prod_seen;     /* per product: the VM being built counts under it */
  GArray *runs, *grants; /* Seg, of the VM being built */
} Build;

static void build_init(Build *b, const AvmaReportData *d, AvmaReport *r) {
  *b = (Build){.d = d, .r = r, .nvm = d->vms->len, .nprod = d->products->len};
  guint n = b->nvm ? b->nvm : 1;
  b->ev = sorted_copy(d->events);
  b->st = sorted_copy(d->states);
  b->vcpus = g_new(int, n);
  b->groups = g_ptr_array_new_with_free_func(group_free);
  b->members = g_ptr_array_new_with_free_func(g_free);
  b->spans = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
  for (guint p = 0; p < b->nprod; p++) {
    const DProduct *dp = &g_array_index(d->products, DProduct, p);
    AvmaReportGroup *g = g_new0(AvmaReportGroup, 1);
    g->version = g_strdup(dp->version);
    g->edition = g_strdup(dp->edition);
    g_ptr_array_add(b->groups, g);
    g_ptr_array_add(b->members, g_new0(guint8, n));
    g_ptr_array_add(b->spans, g_array_new(FALSE, FALSE, sizeof(Point)));
  }
  b->all_licensed = g_array_new(FALSE, FALSE, sizeof(Point));
  b->all_ran = g_array_new(FALSE, FALSE, sizeof(Point));
  b->in_total = g_new0(guint8, n);
  b->prod_seen = g_new0(guint8, b->nprod);
  b->runs = g_array_new(FALSE, FALSE, sizeof(Seg));
  b->grants = g_array_new(FALSE, FALSE, sizeof(Seg));
}

static void build_clear(Build *b) {
  g_array_unref(b->ev);
  g_array_unref(b->st);
  g_free(b->vcpus);
  g_ptr_array_unref(b->groups);
  g_ptr_array_unref(b->members);
  g_ptr_array_unref(b->spans);
  g_array_unref(b->all_licensed);
  g_array_unref(b->all_ran);
  g_free(b->in_total);
  g_free(b->prod_seen);
  g_array_unref(b->runs);
  g_array_unref(b->grants);
}

/* vCPUs: the latest count recorded before the period ends, else the first recorded after. */
static void resolve_vcpus(Build *b) {
  const GArray *rows = b->d->vcpus;
  g_autofree gint64 *at = g_new0(gint64, b->nvm ? b->nvm : 1);
  for (guint v = 0; v < b->nvm; v++)
    b->vcpus[v] = -1;
  for (guint i = 0; i < rows->len; i++) {
    const DVcpus *x = &g_array_index(rows, DVcpus, i);
    if (x->k.time < b->r->period_end && (b->vcpus[x->k.vm] < 0 || x->k.time >= at[x->k.vm])) {
      b->vcpus[x->k.vm] = x->vcpus;
      at[x->k.vm] = x->k.time;
    }
  }
  for (guint i = 0; i < rows->len; i++) {
    const DVcpus *x = &g_array_index(rows, DVcpus, i);
    if (b->vcpus[x->k.vm] < 0 || (at[x->k.vm] >= b->r->period_end && x->k.time < at[x->k.vm])) {
      b->vcpus[x->k.vm] = x->vcpus;
      at[x->k.vm] = x->k.time;
    }
  }
}

/* Runs: from each "running" record to the next "stopped" one (or on, when none follows); the
 * parts within the period are the row's "ran here" intervals. */
static void vm_runs(Build *b, guint v, AvmaReportVm *row) {
  AvmaReport *r = b->r;
  g_array_set_size(b->runs, 0);
  gint64 open_at = -1;
  for (; b->si < b->st->len && g_array_index(b->st, DState, b->si).k.vm == v; b->si++) {
    const DState *s = &g_array_index(b->st, DState, b->si);
    if (s->running && open_at < 0) {
      open_at = s->k.time;
    } else if (!s->running && open_at >= 0) {
      Seg run = {open_at, MAX(open_at, s->k.time), 0};
      g_array_append_val(b->runs, run);
      open_at = -1;
    }
  }
  if (open_at >= 0) {
    Seg run = {open_at, FOREVER, 0};
    g_array_append_val(b->runs, run);
  }
  for (guint k = 0; k < b->runs->len; k++) {
    const Seg *run = &g_array_index(b->runs, Seg, k);
    gint64 cs, ce;
    if (!clip(r, run->start, run->end, &cs, &ce))
      continue;
    AvmaReportInterval iv = {
        .start = cs, .end = ce, .before = run->start<r->start, .after = run->end> r->period_end};
    g_array_append_val(row->ran, iv);
    row->ran_seconds += ce - cs;
    add_span(b->all_ran, cs, ce);
    if (ce == r->period_end)
      r->running_at_end++;
  }
}

/* Grants: each success holds from its time until it expires or the VM's next success replaces
 * it. Counts: every 12310 event of the period, under the product it names. */
static void vm_grants(Build *b, guint v, AvmaReportVm *row) {
  AvmaReport *r = b->r;
  g_array_set_size(b->grants, 0);
  for (; b->ei < b->ev->len && g_array_index(b->ev, DEvent, b->ei).k.vm == v; b->ei++) {
    const DEvent *e = &g_array_index(b->ev, DEvent, b->ei);
    gboolean in_period = e->k.time >= r->start && e->k.time < r->period_end;
    if (in_period && e->notification >= 0) {
      row->attempts[e->notification]++;
      AvmaReportGroup *g = b->groups->pdata[e->product];
      g->attempts[e->notification]++;
    }
    if (e->notification != AVMA_NOTIFY_SUCCESS)
      continue;
    if (b->grants->len) {
      Seg *prev = &g_array_index(b->grants, Seg, b->grants->len - 1);
      prev->end = MIN(prev->end, e->k.time);
    }
    Seg g = {e->k.time, e->until, e->product};
    g_array_append_val(b->grants, g);
    if (in_period) {
      ((guint8 *)b->members->pdata[e->product])[v] = 1;
      b->prod_seen[e->product] = 1;
    }
  }
}

/* Licensed: ran here and held a grant (both interval lists are sorted and disjoint). */
static void vm_licensed(Build *b, guint v, AvmaReportVm *row) {
  AvmaReport *r = b->r;
  guint i = 0, k = 0;
  while (i < b->runs->len && k < b->grants->len) {
    const Seg *run = &g_array_index(b->runs, Seg, i), *gr = &g_array_index(b->grants, Seg, k);
    gint64 s = MAX(run->start, gr->start), e = MIN(run->end, gr->end), cs, ce;
    if (e > s && clip(r, s, e, &cs, &ce)) {
      AvmaReportGroup *g = b->groups->pdata[gr->product];
      g->licensed_seconds += ce - cs;
      row->licensed_seconds += ce - cs;
      ((guint8 *)b->members->pdata[gr->product])[v] = 1;
      b->prod_seen[gr->product] = 1;
      add_span(b->spans->pdata[gr->product], cs, ce);
      add_span(b->all_licensed, cs, ce);
      if (ce == r->period_end) {
        g->at_end++;
        r->total.at_end++;
        row->licensed_at_end = TRUE;
      }
    }
    if (run->end < gr->end)
      i++;
    else
      k++;
  }
}

/* "2022 Datacenter, 2019 Standard": the products the VM counts under, in product order. */
static char *vm_products(Build *b, guint v) {
  GString *prods = g_string_new("");
  for (guint p = 0; p < b->nprod; p++) {
    if (!b->prod_seen[p])
      continue;
    const DProduct *dp = &g_array_index(b->d->products, DProduct, p);
    g_string_append_printf(prods, "%s%s%s%s", prods->len ? ", " : "", dp->version,
                           *dp->edition ? " " : "", dp->edition);
    b->in_total[v] = 1;
  }
  return g_string_free(prods, FALSE);
}

/* VM v's row, or NULL when it has nothing to say about the period. */
static AvmaReportVm *vm_row(Build *b, guint v) {
  const DVm *dvm = &g_array_index(b->d->vms, DVm, v);
  AvmaReportVm *row = g_new0(AvmaReportVm, 1);
  row->key = g_strdup(dvm->key);
  row->name = g_strdup(dvm->name);
  row->uuid = g_strdup(dvm->uuid);
  row->vcpus = b->vcpus[v];
  row->ran = g_array_new(FALSE, FALSE, sizeof(AvmaReportInterval));
  memset(b->prod_seen, 0, b->nprod);
  vm_runs(b, v, row);
  vm_grants(b, v, row);
  vm_licensed(b, v, row);
  row->products = vm_products(b, v);
  gboolean any_attempt = FALSE;
  for (int n = 0; n < AVMA_REPORT_NOTIFICATIONS; n++)
    any_attempt |= row->attempts[n] > 0;
  if (row->ran->len || any_attempt || *row->products)
    return row;
  vm_row_free(row);
  return NULL;
}

static void run_totals(Build *b) {
  AvmaReport *r = b->r;
  r->vms_ran = 0;
  for (guint i = 0; i < r->vms->len; i++) {
    AvmaReportVm *row = r->vms->pdata[i];
    r->vms_ran += row->ran->len > 0;
    r->ran_seconds += row->ran_seconds;
  }
  r->peak_running = peak_of(b->all_ran);
}

/* Add VM v's vCPUs (or its being unknown) to g. */
static void count_vcpus(const Build *b, guint v, AvmaReportGroup *g) {
  if (b->vcpus[v] >= 0)
    g->vcpus += (guint)b->vcpus[v];
  else
    g->vcpus_unknown++;
}

/* Products with anything to say move to the report. A VM can count under two products (its key
 * changed), so the total counts distinct VMs and has its own peak, not sums of theirs. */
static void product_totals(Build *b) {
  AvmaReport *r = b->r;
  for (guint p = 0; p < b->nprod; p++) {
    AvmaReportGroup *g = b->groups->pdata[p];
    const guint8 *m = b->members->pdata[p];
    for (guint v = 0; v < b->nvm; v++) {
      if (!m[v])
        continue;
      g->vms++;
      count_vcpus(b, v, g);
    }
    g->peak = peak_of(b->spans->pdata[p]);
    gboolean any = g->vms > 0;
    for (int n = 0; n < AVMA_REPORT_NOTIFICATIONS; n++) {
      any |= g->attempts[n] > 0;
      r->total.attempts[n] += g->attempts[n];
    }
    r->total.licensed_seconds += g->licensed_seconds;
    if (any)
      g_ptr_array_add(r->groups, g_steal_pointer(&b->groups->pdata[p]));
  }
  for (guint v = 0; v < b->nvm; v++) {
    if (!b->in_total[v])
      continue;
    r->total.vms++;
    count_vcpus(b, v, &r->total);
  }
  r->total.peak = peak_of(b->all_licensed);
  r->total.version = g_strdup("TOTAL");
  r->total.edition = g_strdup("");
}

AvmaReport *avma_report_build(const AvmaReportData *d, int year, int month, gint64 as_of,
                              GError **error) {
  g_autoptr(AvmaReport) r = report_new(year, month, as_of, error);
  if (!r)
    return NULL;
  host_facts(r, d);
  licence_timeline(r, d);
  Build b;
  build_init(&b, d, r);
  resolve_vcpus(&b);
  for (guint v = 0; v < b.nvm; v++) {
    AvmaReportVm *row = vm_row(&b, v);
    if (row)
      g_ptr_array_add(r->vms, row);
  }
  run_totals(&b);
  product_totals(&b);
  build_clear(&b);
  g_ptr_array_sort(r->groups, cmp_group);
  g_ptr_array_sort(r->vms, cmp_vm_row);
  return g_steal_pointer(&r);
}
