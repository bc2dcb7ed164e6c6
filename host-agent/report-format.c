/* report-format: renders a built report as text, CSV or JSON. One column table per kind of row
 * (host, licence gap, licence change, run, product, VM) drives all three formats. */
#include "report.h"

#include "timeutil.h"

#include <json-glib/json-glib.h>
#include <stddef.h>
#include <string.h>

static gint64 hundredths(gint64 seconds) {
  /* Exact decimal rounding (half up) on integers, so every format prints the same digits. */
  return (seconds * 100 + 43200) / 86400;
}

char *avma_report_days(gint64 seconds) {
  gint64 h = hundredths(seconds);
  return g_strdup_printf("%" G_GINT64_FORMAT ".%02d", h / 100, (int)(h % 100));
}

/* Per notification: its name in CSV and JSON, its header in text. Column order: successes, then
 * the failures from the guest's point of view. */
static const struct {
  AvmaNotification n;
  const char *name, *header;
} attempt_cols[AVMA_REPORT_NOTIFICATIONS] = {
    {AVMA_NOTIFY_SUCCESS, "success", "SUCCESS"},
    {AVMA_NOTIFY_DENIED, "activation_denied", "DENIED"},
    {AVMA_NOTIFY_INVALID_HOST, "invalid_host", "INVALID HOST"},
    {AVMA_NOTIFY_INVALID_DATA, "invalid_data", "INVALID DATA"},
};

static char *month_name(const AvmaReport *r) {
  return g_strdup_printf("%04d-%02d", r->year, r->month);
}

static char *intervals_text(const GArray *a) {
  GString *s = g_string_new("");
  for (guint i = 0; i < a->len; i++) {
    const AvmaReportInterval *iv = &g_array_index(a, AvmaReportInterval, i);
    g_autofree char *from = avma_time_format(iv->start);
    g_autofree char *to = avma_time_format(iv->end);
    g_string_append_printf(s, "%s%s%s/%s%s", i ? "; " : "", iv->before ? "..." : "", from, to,
                           iv->after ? "..." : "");
  }
  return g_string_free(s, FALSE);
}

/* ---- the column tables ---------------------------------------------------------------------- */
/* The names are the report's own contract (docs/operators.md, "Compliance report"), kept as they
 * are when the logs' records change; a few match a 12310 field's on purpose (event-field-ok). */

typedef enum {
  C_STR,      /* char* */
  C_INT,      /* int */
  C_UINT,     /* guint */
  C_OPT_INT,  /* int, < 0 unknown: `empty` in text, "" in CSV, null in JSON */
  C_SECONDS,  /* gint64 seconds as an integer */
  C_DAYS,     /* gint64 seconds as VM-days, "12.34" */
  C_BOOL,     /* gboolean: yes/no in CSV, true/false in JSON */
  C_TIME,     /* gint64 unix time, RFC 3339 */
  C_MONTH,    /* the report's month, "YYYY-MM" (the field is unused) */
  C_ATTEMPTS, /* guint[AVMA_REPORT_NOTIFICATIONS]: a column each in text and CSV, an object in JSON
               */
  C_RUNS,     /* GArray* of AvmaReportInterval as one cell */
  C_LIST,   /* JSON: an array of the rows of `sub` (a GArray of elem-sized rows, else GPtrArray) */
  C_OBJECT, /* JSON: the embedded row of `sub`, without its key columns */
} Kind;

typedef struct Table Table;

/* A column: where it appears (header in text, name in CSV, member in JSON; NULL where it does not
 * appear; C_ATTEMPTS takes its headers and names from attempt_cols) and what it shows. */
typedef struct {
  const char *text, *csv, *json;
  const char *in; /* JSON: the object path it is a member of ("host", "host/licence"); NULL top */
  Kind kind;
  size_t at;         /* offsetof the field in the row */
  const char *empty; /* text for an empty string or list, or an unknown count */
  gboolean key;      /* names the product: the total has no such member */
  gboolean starred;  /* text: "*" after it while the guint at `star` is non-zero */
  size_t star;
  gsize elem;       /* C_LIST of a GArray: its element size */
  const Table *sub; /* C_LIST, C_OBJECT */
} Col;

struct Table {
  const Col *cols;
  guint n;
};
#define TABLE(cols)                                                                                \
  { cols, G_N_ELEMENTS(cols) }
#define SHOWN "" /* C_ATTEMPTS in text or CSV: headers from attempt_cols */

#define IV(f) offsetof(AvmaReportInterval, f)
static const Col gap_cols[] = {
    {.csv = "from", .json = "from", .kind = C_TIME, .at = IV(start)},
    {.csv = "to", .json = "to", .kind = C_TIME, .at = IV(end)},
    /* event-field-ok: a report column */
    {.csv = "reason", .json = "reason", .kind = C_STR, .at = IV(reason)},
};
static const Table gaps = TABLE(gap_cols);

static const Col run_cols[] = {
    {.json = "from", .kind = C_TIME, .at = IV(start)},
    {.json = "to", .kind = C_TIME, .at = IV(end)},
    {.json = "began_before", .kind = C_BOOL, .at = IV(before)},
    {.json = "goes_on_after", .kind = C_BOOL, .at = IV(after)},
};
static const Table runs = TABLE(run_cols);

#define LC(f) offsetof(AvmaReportLicenceChange, f)
static const Col change_cols[] = {
    /* event-field-ok: a report column */
    {.json = "time", .kind = C_TIME, .at = LC(time)},
    {.json = "version", .kind = C_STR, .at = LC(version)},
    {.json = "edition", .kind = C_STR, .at = LC(edition)},
    {.json = "activated", .kind = C_BOOL, .at = LC(activated)},
    {.json = "set_by", .kind = C_STR, .at = LC(set_by)},
};
static const Table changes = TABLE(change_cols);

#define GR(f) offsetof(AvmaReportGroup, f)
static const Col group_cols[] = {
    /* event-field-ok: a report column */
    {"VERSION", "guest_version", "guest_version", .kind = C_STR, .at = GR(version),
     .empty = "unknown", .key = TRUE},
    /* event-field-ok: a report column */
    {"EDITION", "guest_edition", "guest_edition", .kind = C_STR, .at = GR(edition), .key = TRUE},
    {"VMS", "vms_activated", "vms_activated", .kind = C_UINT, .at = GR(vms)},
    {"PEAK", "peak_concurrent", "peak_concurrent", .kind = C_UINT, .at = GR(peak)},
    {"AT END", "running_at_end", "running_at_end", .kind = C_UINT, .at = GR(at_end)},
    {.json = "vm_seconds_licensed", .kind = C_SECONDS, .at = GR(licensed_seconds)},
    {"VM-DAYS", "vm_days_licensed", "vm_days_licensed", .kind = C_DAYS, .at = GR(licensed_seconds)},
    {"VCPUS", "vcpus", "vcpus", .kind = C_UINT, .at = GR(vcpus), .starred = TRUE,
     .star = GR(vcpus_unknown)},
    {.json = "vms_vcpus_unknown", .kind = C_UINT, .at = GR(vcpus_unknown)},
    {SHOWN, SHOWN, "attempts", .kind = C_ATTEMPTS, .at = GR(attempts)},
};
static const Table groups = TABLE(group_cols);

#define VM(f) offsetof(AvmaReportVm, f)
static const Col vm_cols[] = {
    /* event-field-ok: a report column */
    {"VM", "vm", "vm", .kind = C_STR, .at = VM(name), .empty = "-"},
    /* event-field-ok: a report column */
    {"UUID", "vm_uuid", "vm_uuid", .kind = C_STR, .at = VM(uuid), .empty = "-"},
    {"PRODUCT", "products", "products", .kind = C_STR, .at = VM(products), .empty = "-"},
    {"VCPUS", "vcpus", "vcpus", .kind = C_OPT_INT, .at = VM(vcpus), .empty = "-"},
    /* JSON has the runs here, as objects; text and CSV at the end, as one cell. */
    {.json = "ran_here",
     .kind = C_LIST,
     .at = VM(ran),
     .elem = sizeof(AvmaReportInterval),
     .sub = &runs},
    {.json = "vm_seconds_ran", .kind = C_SECONDS, .at = VM(ran_seconds)},
    {"RAN DAYS", "vm_days_ran", "vm_days_ran", .kind = C_DAYS, .at = VM(ran_seconds)},
    {.json = "vm_seconds_licensed", .kind = C_SECONDS, .at = VM(licensed_seconds)},
    {"VM-DAYS", "vm_days_licensed", "vm_days_licensed", .kind = C_DAYS, .at = VM(licensed_seconds)},
    {.json = "licensed_at_end", .kind = C_BOOL, .at = VM(licensed_at_end)},
    {SHOWN, SHOWN, "attempts", .kind = C_ATTEMPTS, .at = VM(attempts)},
    {"RAN HERE (UTC)", "ran_here", .kind = C_RUNS, .at = VM(ran), .empty = "-"},
};
static const Table vms = TABLE(vm_cols);

/* The whole report: the CSV host row, and the JSON document. */
#define RE(f) offsetof(AvmaReport, f)
/* A host figure: CSV name, JSON member, the JSON object it is in, kind, field. */
#define HOST(csv_, json_, in_, kind_, f)                                                           \
  { .csv = csv_, .json = json_, .in = in_, .kind = kind_, .at = RE(f) }
static const Col report_cols[] = {
    HOST("month", "month", NULL, C_MONTH, year),
    HOST("period_start", "period_start", NULL, C_TIME, start),
    HOST("period_end", "period_end", NULL, C_TIME, end),
    HOST("as_of", "as_of", NULL, C_TIME, as_of),
    HOST("complete", "complete", NULL, C_BOOL, complete),
    HOST("host_name", "name", "host", C_STR, hostname),
    /* event-field-ok: a report column */
    HOST("host_id", "host_id", "host", C_STR, host_id),
    HOST("sockets", "sockets", "host", C_INT, sockets),
    HOST("cores_per_socket", "cores_per_socket", "host", C_INT, cores_per_socket),
    HOST("threads_per_core", "threads_per_core", "host", C_INT, threads_per_core),
    HOST("licensable_cores", "licensable_cores", "host", C_INT, licensable_cores),
    HOST("facts_source", "facts_source", "host", C_STR, facts_source),
    HOST("facts_recorded", "facts_recorded", "host", C_TIME, facts_time),
    HOST(NULL, "set", "host/licence", C_BOOL, licence_set),
    HOST("licence_version", "version", "host/licence", C_STR, licence_version),
    HOST("licence_edition", "edition", "host/licence", C_STR, licence_edition),
    HOST("licence_activated", "activated", "host/licence", C_BOOL, licence_activated),
    HOST("activated_whole_month", "activated_whole_month", "host", C_BOOL, activated_whole_period),
    {.json = "not_activated",
     .in = "host",
     .kind = C_LIST,
     .at = RE(not_activated),
     .elem = sizeof(AvmaReportInterval),
     .sub = &gaps},
    {.json = "licence_changes",
     .in = "host",
     .kind = C_LIST,
     .at = RE(licence_changes),
     .sub = &changes},
    HOST("vms_ran", "vms_ran", "host", C_UINT, vms_ran),
    HOST("peak_running", "peak_running", "host", C_UINT, peak_running),
    HOST("running_at_end", "running_at_end", "host", C_UINT, running_at_end),
    HOST(NULL, "vm_seconds_ran", "host", C_SECONDS, ran_seconds),
    HOST("vm_days_ran", "vm_days_ran", "host", C_DAYS, ran_seconds),
    {.json = "products", .kind = C_LIST, .at = RE(groups), .sub = &groups},
    {.json = "total", .kind = C_OBJECT, .at = RE(total), .sub = &groups},
    {.json = "vms", .kind = C_LIST, .at = RE(vms), .sub = &vms},
};
static const Table report = TABLE(report_cols);

#define FIELD(row, c, type) (*(const type *)((const char *)(row) + (c)->at))

/* A list column's rows. */
static guint list_len(const Col *c, gconstpointer row) {
  return c->elem ? FIELD(row, c, GArray *)->len : FIELD(row, c, GPtrArray *)->len;
}
static gconstpointer list_row(const Col *c, gconstpointer row, guint i) {
  if (c->elem)
    return FIELD(row, c, GArray *)->data + (gsize)i * c->elem;
  return FIELD(row, c, GPtrArray *)->pdata[i];
}

/* ---- cells (text and CSV) ------------------------------------------------------------------- */

typedef enum { FMT_TEXT, FMT_CSV } Fmt;

static gboolean shown(const Col *c, Fmt f) {
  return f == FMT_TEXT ? c->text != NULL : c->csv != NULL;
}

static gboolean right_aligned(const Col *c) {
  return c->kind != C_STR && c->kind != C_RUNS;
}

/* The cell of a single-cell column. Caller frees. */
static char *cell(const Col *c, gconstpointer row, const AvmaReport *r, Fmt f) {
  const char *empty = f == FMT_TEXT && c->empty ? c->empty : "";
  switch (c->kind) {
  case C_STR: {
    const char *s = FIELD(row, c, char *);
    return g_strdup(s && *s ? s : empty);
  }
  case C_INT:
    return g_strdup_printf("%d", FIELD(row, c, int));
  case C_UINT: {
    gboolean star = f == FMT_TEXT && c->starred && *(const guint *)((const char *)row + c->star);
    return g_strdup_printf("%u%s", FIELD(row, c, guint), star ? "*" : "");
  }
  case C_OPT_INT:
    return FIELD(row, c, int) >= 0 ? g_strdup_printf("%d", FIELD(row, c, int)) : g_strdup(empty);
  case C_SECONDS:
    return g_strdup_printf("%" G_GINT64_FORMAT, FIELD(row, c, gint64));
  case C_DAYS:
    return avma_report_days(FIELD(row, c, gint64));
  case C_BOOL:
    return g_strdup(FIELD(row, c, gboolean) ? "yes" : "no");
  case C_TIME:
    return avma_time_format(FIELD(row, c, gint64));
  case C_MONTH:
    return month_name(r);
  case C_RUNS: {
    char *s = intervals_text(FIELD(row, c, GArray *));
    if (*s)
      return s;
    g_free(s);
    return g_strdup(empty);
  }
  case C_ATTEMPTS:
  case C_LIST:
  case C_OBJECT:
    break;
  }
  g_return_val_if_reached(g_strdup(""));
}

/* Append the row's cells in format f (char*, caller's array frees them). */
static void row_cells(const Table *t, gconstpointer row, const AvmaReport *r, Fmt f,
                      GPtrArray *out) {
  for (guint i = 0; i < t->n; i++) {
    const Col *c = &t->cols[i];
    if (!shown(c, f))
      continue;
    if (c->kind != C_ATTEMPTS) {
      g_ptr_array_add(out, cell(c, row, r, f));
      continue;
    }
    const guint *a = &FIELD(row, c, guint);
    for (int n = 0; n < AVMA_REPORT_NOTIFICATIONS; n++)
      g_ptr_array_add(out, g_strdup_printf("%u", a[attempt_cols[n].n]));
  }
}

/* The headers of format f, and in text whether each column is right-aligned. */
static void row_headers(const Table *t, Fmt f, GPtrArray *out, GArray *right) {
  for (guint i = 0; i < t->n; i++) {
    const Col *c = &t->cols[i];
    if (!shown(c, f))
      continue;
    gboolean r = right_aligned(c);
    if (c->kind != C_ATTEMPTS) {
      g_ptr_array_add(out, g_strdup(f == FMT_TEXT ? c->text : c->csv));
      if (right)
        g_array_append_val(right, r);
      continue;
    }
    for (int n = 0; n < AVMA_REPORT_NOTIFICATIONS; n++) {
      g_ptr_array_add(out, g_strdup(f == FMT_TEXT ? attempt_cols[n].header : attempt_cols[n].name));
      if (right)
        g_array_append_val(right, r);
    }
  }
}

/* ---- text ----------------------------------------------------------------------------------- */

/* Rows of cells printed with aligned columns: text left, numbers right. */
typedef struct {
  GPtrArray *rows; /* GPtrArray* of char* */
  GArray *right;   /* gboolean per column */
} Grid;

static Grid grid_new(const Table *t) {
  Grid g = {g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref),
            g_array_new(FALSE, FALSE, sizeof(gboolean))};
  GPtrArray *head = g_ptr_array_new_with_free_func(g_free);
  row_headers(t, FMT_TEXT, head, g.right);
  g_ptr_array_add(g.rows, head);
  return g;
}

static void grid_add(Grid *g, const Table *t, gconstpointer row, const AvmaReport *r) {
  GPtrArray *cells = g_ptr_array_new_with_free_func(g_free);
  row_cells(t, row, r, FMT_TEXT, cells);
  g_ptr_array_add(g->rows, cells);
}

/* Print and free the grid. */
static void grid_print(Grid *g, GString *out) {
  guint ncol = g->right->len;
  g_autofree guint *w = g_new0(guint, ncol);
  for (guint i = 0; i < g->rows->len; i++) {
    GPtrArray *row = g->rows->pdata[i];
    for (guint c = 0; c < ncol; c++)
      w[c] = MAX(w[c], (guint)g_utf8_strlen(row->pdata[c], -1));
  }
  for (guint i = 0; i < g->rows->len; i++) {
    GPtrArray *row = g->rows->pdata[i];
    GString *line = g_string_new("  ");
    for (guint c = 0; c < ncol; c++) {
      const char *cell = row->pdata[c];
      guint pad = w[c] - (guint)g_utf8_strlen(cell, -1);
      if (c)
        g_string_append(line, "  ");
      if (g_array_index(g->right, gboolean, c))
        g_string_append_printf(line, "%*s%s", pad, "", cell);
      else if (c + 1 < ncol)
        g_string_append_printf(line, "%s%*s", cell, pad, "");
      else
        g_string_append(line, cell);
    }
    while (line->len && line->str[line->len - 1] == ' ')
      g_string_truncate(line, line->len - 1);
    g_string_append_printf(out, "%s\n", line->str);
    g_string_free(line, TRUE);
  }
  g_ptr_array_unref(g->rows);
  g_array_unref(g->right);
}

/* The host's part of the text report: prose, one fact a line. */
static void text_host(const AvmaReport *r, GString *o) {
  g_string_append(o, "\nHost\n");
  g_string_append_printf(o, "  Name                  %s\n", *r->hostname ? r->hostname : "-");
  g_string_append_printf(o, "  Host ID               %s\n", *r->host_id ? r->host_id : "-");
  if (r->sockets) {
    g_autofree char *ft = avma_time_format(r->facts_time);
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
    g_autofree char *a = avma_time_format(iv->start), *b = avma_time_format(iv->end);
    g_string_append_printf(o, "    not activated       %s to %s (%s)\n", a, b, iv->reason);
  }
  for (guint i = 0; i < r->licence_changes->len; i++) {
    const AvmaReportLicenceChange *c = r->licence_changes->pdata[i];
    g_autofree char *a = avma_time_format(c->time);
    g_string_append_printf(o, "  Licence change        %s %s %s, %s, by %s\n", a, c->version,
                           c->edition, c->activated ? "activated" : "not activated",
                           *c->set_by ? c->set_by : "?");
  }
  g_autofree char *rd = avma_report_days(r->ran_seconds);
  g_string_append_printf(o,
                         "  VMs that ran here     %u (at most %u at once, %u at the end, "
                         "%s VM-days)\n",
                         r->vms_ran, r->peak_running, r->running_at_end, rd);
}

char *avma_report_to_text(const AvmaReport *r) {
  GString *o = g_string_new("");
  g_autofree char *m = month_name(r);
  g_autofree char *s = avma_time_format(r->start), *e = avma_time_format(r->end);
  g_autofree char *asof = avma_time_format(r->as_of);
  g_string_append_printf(o, "AVMA compliance report for %s (UTC, %s to %s)\n", m, s, e);
  if (!r->complete)
    g_string_append_printf(o, "Month to date: history up to %s\n", asof);
  text_host(r, o);

  g_string_append(o, "\nGuests by product\n");
  Grid g = grid_new(&groups);
  for (guint i = 0; i < r->groups->len; i++)
    grid_add(&g, &groups, r->groups->pdata[i], r);
  grid_add(&g, &groups, &r->total, r);
  grid_print(&g, o);
  g_string_append(o, "  TOTAL counts distinct VMs, and its peak is over all products at once.\n");
  if (r->total.vcpus_unknown)
    g_string_append_printf(o, "  * vCPUs not recorded for %u VM(s).\n", r->total.vcpus_unknown);

  g_string_append(o, "\nVMs\n");
  if (!r->vms->len) {
    g_string_append(o, "  none\n");
    return g_string_free(o, FALSE);
  }
  Grid v = grid_new(&vms);
  for (guint i = 0; i < r->vms->len; i++)
    grid_add(&v, &vms, r->vms->pdata[i], r);
  grid_print(&v, o);
  g_string_append(o, "  \"...\": the run began before, or goes on after, the period.\n");
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

/* One line: the section's name, the month (unless the table has its own), then the row's cells;
 * row NULL for the header line. */
static void csv_line(GString *o, const Table *t, gconstpointer row, const AvmaReport *r,
                     const char *section, gboolean month) {
  g_autoptr(GPtrArray) cells = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(cells, g_strdup(row ? section : "section"));
  if (month)
    g_ptr_array_add(cells, row ? month_name(r) : g_strdup("month"));
  if (row)
    row_cells(t, row, r, FMT_CSV, cells);
  else
    row_headers(t, FMT_CSV, cells, NULL);
  for (guint i = 0; i < cells->len; i++)
    csv_field(o, cells->pdata[i], i + 1 == cells->len);
}

char *avma_report_to_csv(const AvmaReport *r) {
  /* One file, sections one after the other, each with its header; the first column names the
   * section so a billing import can split the lines without reading the headers. */
  GString *o = g_string_new("");
  csv_line(o, &report, NULL, r, NULL, FALSE);
  csv_line(o, &report, r, r, "host", FALSE);
  g_string_append(o, "\r\n");
  csv_line(o, &gaps, NULL, r, NULL, TRUE);
  for (guint i = 0; i < r->not_activated->len; i++)
    csv_line(o, &gaps, &g_array_index(r->not_activated, AvmaReportInterval, i), r, "not_activated",
             TRUE);
  g_string_append(o, "\r\n");
  csv_line(o, &groups, NULL, r, NULL, TRUE);
  for (guint i = 0; i < r->groups->len; i++)
    csv_line(o, &groups, r->groups->pdata[i], r, "product", TRUE);
  csv_line(o, &groups, &r->total, r, "total", TRUE);
  g_string_append(o, "\r\n");
  csv_line(o, &vms, NULL, r, NULL, TRUE);
  for (guint i = 0; i < r->vms->len; i++)
    /* event-field-ok: the section's name */
    csv_line(o, &vms, r->vms->pdata[i], r, "vm", TRUE);
  return g_string_free(o, FALSE);
}

/* ---- JSON ----------------------------------------------------------------------------------- */

/* Close the objects of path *cur that `to` is not in, and open those of `to` that *cur is not
 * in (paths like "host/licence"; NULL is the row itself). */
static void json_move(JsonBuilder *b, char ***cur, const char *to) {
  g_auto(GStrv) want = to ? g_strsplit(to, "/", -1) : g_new0(char *, 1);
  guint have = g_strv_length(*cur), n = g_strv_length(want), same = 0;
  while (same < have && same < n && !strcmp((*cur)[same], want[same]))
    same++;
  for (guint i = have; i > same; i--)
    json_builder_end_object(b);
  for (guint i = same; i < n; i++) {
    json_builder_set_member_name(b, want[i]);
    json_builder_begin_object(b);
  }
  g_strfreev(*cur);
  *cur = g_steal_pointer(&want);
}

static void json_members(JsonBuilder *b, const Table *t, gconstpointer row, const AvmaReport *r,
                         gboolean total);

static void json_value(JsonBuilder *b, const Col *c, gconstpointer row, const AvmaReport *r) {
  switch (c->kind) {
  case C_STR: {
    const char *s = FIELD(row, c, char *);
    json_builder_add_string_value(b, s ? s : "");
    return;
  }
  case C_INT:
  case C_OPT_INT:
    if (FIELD(row, c, int) >= 0 || c->kind == C_INT)
      json_builder_add_int_value(b, FIELD(row, c, int));
    else
      json_builder_add_null_value(b);
    return;
  case C_UINT:
    json_builder_add_int_value(b, FIELD(row, c, guint));
    return;
  case C_SECONDS:
    json_builder_add_int_value(b, FIELD(row, c, gint64));
    return;
  case C_DAYS:
    json_builder_add_double_value(b, (double)hundredths(FIELD(row, c, gint64)) / 100.0);
    return;
  case C_BOOL:
    json_builder_add_boolean_value(b, FIELD(row, c, gboolean));
    return;
  case C_TIME:
  case C_MONTH:
  case C_RUNS: {
    g_autofree char *s = cell(c, row, r, FMT_CSV);
    json_builder_add_string_value(b, s);
    return;
  }
  case C_ATTEMPTS:
    json_builder_begin_object(b);
    for (int n = 0; n < AVMA_REPORT_NOTIFICATIONS; n++) {
      json_builder_set_member_name(b, attempt_cols[n].name);
      json_builder_add_int_value(b, (&FIELD(row, c, guint))[attempt_cols[n].n]);
    }
    json_builder_end_object(b);
    return;
  case C_LIST:
    json_builder_begin_array(b);
    for (guint i = 0; i < list_len(c, row); i++)
      json_members(b, c->sub, list_row(c, row, i), r, FALSE);
    json_builder_end_array(b);
    return;
  case C_OBJECT:
    json_members(b, c->sub, (const char *)row + c->at, r, TRUE);
    return;
  }
}

/* The row as one JSON object; total: without the columns that name a product. */
static void json_members(JsonBuilder *b, const Table *t, gconstpointer row, const AvmaReport *r,
                         gboolean total) {
  g_auto(GStrv) path = g_new0(char *, 1);
  json_builder_begin_object(b);
  for (guint i = 0; i < t->n; i++) {
    const Col *c = &t->cols[i];
    if (!c->json || (total && c->key))
      continue;
    json_move(b, &path, c->in);
    json_builder_set_member_name(b, c->json);
    json_value(b, c, row, r);
  }
  json_move(b, &path, NULL);
  json_builder_end_object(b);
}

/* JSON text in the report's layout: two-space indent, `"name": value`, [] and {} when empty,
 * control characters as \u00XX. json-glib's generator differs in each (and in `" : "`), and
 * prints doubles in full (0.1 as 0.10000000000000001): the only doubles here are VM-days, and
 * they print with the two decimals text and CSV show. */
static void put_string(GString *o, const char *s) {
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

static void put_node(GString *o, JsonNode *n, int depth);

/* An object's members or an array's elements (names NULL), one a line. */
static void put_items(GString *o, GList *names, GList *nodes, char open, char close, int depth) {
  g_string_append_c(o, open);
  for (GList *a = names, *v = nodes; v; v = v->next, a = a ? a->next : NULL) {
    g_string_append_printf(o, "%s\n%*s", v == nodes ? "" : ",", (depth + 1) * 2, "");
    if (a) {
      put_string(o, a->data);
      g_string_append(o, ": ");
    }
    put_node(o, v->data, depth + 1);
  }
  if (nodes)
    g_string_append_printf(o, "\n%*s", depth * 2, "");
  g_string_append_c(o, close);
}

static void put_node(GString *o, JsonNode *n, int depth) {
  switch (JSON_NODE_TYPE(n)) {
  case JSON_NODE_OBJECT: {
    JsonObject *obj = json_node_get_object(n);
    GList *names = json_object_get_members(obj), *nodes = NULL;
    for (GList *a = names; a; a = a->next)
      nodes = g_list_prepend(nodes, json_object_get_member(obj, a->data));
    nodes = g_list_reverse(nodes);
    put_items(o, names, nodes, '{', '}', depth);
    g_list_free(names);
    g_list_free(nodes);
    return;
  }
  case JSON_NODE_ARRAY: {
    GList *nodes = json_array_get_elements(json_node_get_array(n));
    put_items(o, NULL, nodes, '[', ']', depth);
    g_list_free(nodes);
    return;
  }
  case JSON_NODE_NULL:
    g_string_append(o, "null");
    return;
  case JSON_NODE_VALUE:
    break;
  }
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  switch (json_node_get_value_type(n)) {
  case G_TYPE_STRING:
    put_string(o, json_node_get_string(n));
    return;
  case G_TYPE_BOOLEAN:
    g_string_append(o, json_node_get_boolean(n) ? "true" : "false");
    return;
  case G_TYPE_DOUBLE:
    g_string_append(o, g_ascii_formatd(buf, sizeof buf, "%.2f", json_node_get_double(n)));
    return;
  default:
    g_string_append_printf(o, "%" G_GINT64_FORMAT, json_node_get_int(n));
    return;
  }
}

char *avma_report_to_json(const AvmaReport *r) {
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_members(b, &report, r, r, FALSE);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  GString *o = g_string_new("");
  put_node(o, root, 0);
  g_string_append_c(o, '\n');
  return g_string_free(o, FALSE);
}

static const struct {
  const char *name;
  char *(*render)(const AvmaReport *r);
} formats[] = {
    {"text", avma_report_to_text},
    {"csv", avma_report_to_csv},
    {"json", avma_report_to_json},
};

static int format_index(const char *format) {
  for (guint i = 0; i < G_N_ELEMENTS(formats); i++)
    if (!g_strcmp0(format ? format : "text", formats[i].name))
      return (int)i;
  return -1;
}

gboolean avma_report_format_known(const char *format) {
  return format_index(format) >= 0;
}

char *avma_report_render(const AvmaReport *r, const char *format) {
  int i = format_index(format);
  return i >= 0 ? formats[i].render(r) : NULL;
}
