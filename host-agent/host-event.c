/* host-event: the typed host records and the one field table behind every form they take. */
#include "host-event.h"

#include "timeutil.h"

#include <stddef.h>
#include <string.h>

#define ERROR_CODE_MAX 64

typedef enum {
  T_STR,          /* char * */
  T_TIME,         /* gint64 unix seconds; RFC 3339 text, "" for 0 */
  T_INT,          /* gint64 */
  T_BOOL,         /* gboolean */
  T_NOTIFICATION, /* int: AvmaNotification or AVMA_HOST_EVENT_NONE */
  T_REASON_CODE,  /* reason (decision) or error_code (protocol-level) */
} FieldType;

#define K_DECISION (1u << AVMA_HOST_EVENT_DECISION)
#define K_INVALID (1u << AVMA_HOST_EVENT_INVALID_DATA)
#define K_LICENCE (1u << AVMA_HOST_EVENT_LICENCE)
#define K_12310 (K_DECISION | K_INVALID)
#define K_ALL (K_12310 | K_LICENCE)

typedef struct {
  const char *json;    /* JSON member (events.jsonl, licence-history.jsonl) */
  const char *journal; /* journal field */
  const char *element; /* domain metadata child element, or NULL */
  int element_pos;     /* its place among the elements (1 first) */
  const char *column;  /* history.db events column, or NULL */
  const char *view;    /* vms.json entry member, or NULL */
  int view_pos;        /* its place among those members (1 first) */
  FieldType type;
  size_t offset;
  unsigned kinds; /* the kinds whose records carry it */
} Field;

#define AT(m) offsetof(AvmaHostEvent, m)

/* The order is the JSON lines' member order (each kind writes its own members in this order),
 * which existing logs have: do not reorder. The metadata and the VM view have their own orders
 * (element_pos, view_pos), which existing domains and readers have. */
static const Field FIELDS[] = {
    {.json = "time",
     .journal = "AVMA_TIME",
     .element = "time",
     .element_pos = 8,
     .column = "time",
     .view = "last_event_time",
     .view_pos = 6,
     .type = T_TIME,
     .offset = AT(time),
     .kinds = K_ALL},
    {.json = "event_id",
     .journal = "AVMA_EVENT_ID",
     .column = "event_id",
     .type = T_INT,
     .offset = AT(event_id),
     .kinds = K_ALL},
    {.json = "notification",
     .journal = "AVMA_NOTIFICATION",
     .element = "notification",
     .element_pos = 1,
     .column = "notification",
     .view = "notification",
     .view_pos = 1,
     .type = T_NOTIFICATION,
     .offset = AT(notification),
     .kinds = K_12310},
    {.json = "reason",
     .journal = "AVMA_REASON",
     .element = "reason",
     .element_pos = 3,
     .type = T_STR,
     .offset = AT(reason_text),
     .kinds = K_12310},
    {.json = "reason_code",
     .journal = "AVMA_REASON_CODE",
     .element = "reason-code",
     .element_pos = 2,
     .column = "reason_code",
     .view = "reason_code",
     .view_pos = 2,
     .type = T_REASON_CODE,
     .offset = AT(reason),
     .kinds = K_12310},
    {.json = "vm",
     .journal = "AVMA_VM",
     .column = "vm",
     .type = T_STR,
     .offset = AT(vm),
     .kinds = K_12310},
    {.json = "vm_uuid",
     .journal = "AVMA_VM_UUID",
     .column = "vm_uuid",
     .type = T_STR,
     .offset = AT(vm_uuid),
     .kinds = K_12310},
    {.json = "suppressed",
     .journal = "AVMA_SUPPRESSED",
     .type = T_INT,
     .offset = AT(suppressed),
     .kinds = K_INVALID},
    {.json = "guest_version",
     .journal = "AVMA_GUEST_VERSION",
     .element = "guest-version",
     .element_pos = 4,
     .column = "guest_version",
     .view = "guest_version",
     .view_pos = 3,
     .type = T_STR,
     .offset = AT(guest_version),
     .kinds = K_DECISION},
    {.json = "guest_edition",
     .journal = "AVMA_GUEST_EDITION",
     .element = "guest-edition",
     .element_pos = 5,
     .column = "guest_edition",
     .view = "guest_edition",
     .view_pos = 4,
     .type = T_STR,
     .offset = AT(guest_edition),
     .kinds = K_DECISION},
    {.json = "declared_version",
     .journal = "AVMA_DECLARED_VERSION",
     .type = T_STR,
     .offset = AT(declared_version),
     .kinds = K_DECISION},
    {.json = "declared_edition",
     .journal = "AVMA_DECLARED_EDITION",
     .type = T_STR,
     .offset = AT(declared_edition),
     .kinds = K_DECISION},
    {.json = "set",
     .journal = "AVMA_SET",
     .type = T_BOOL,
     .offset = AT(licence_set),
     .kinds = K_LICENCE},
    {.json = "version",
     .journal = "AVMA_VERSION",
     .type = T_STR,
     .offset = AT(licence_version),
     .kinds = K_LICENCE},
    {.json = "edition",
     .journal = "AVMA_EDITION",
     .type = T_STR,
     .offset = AT(licence_edition),
     .kinds = K_LICENCE},
    {.json = "activated",
     .journal = "AVMA_ACTIVATED",
     .type = T_BOOL,
     .offset = AT(licence_activated),
     .kinds = K_LICENCE},
    {.json = "key_last5",
     .journal = "AVMA_KEY_LAST5",
     .element = "partial-key",
     .element_pos = 6,
     .type = T_STR,
     .offset = AT(key_last5),
     .kinds = K_DECISION | K_LICENCE},
    {.json = "set_at",
     .journal = "AVMA_SET_AT",
     .type = T_TIME,
     .offset = AT(licence_set_at),
     .kinds = K_LICENCE},
    {.json = "set_by",
     .journal = "AVMA_SET_BY",
     .type = T_STR,
     .offset = AT(licence_set_by),
     .kinds = K_LICENCE},
    {.json = "activates_guests",
     .journal = "AVMA_ACTIVATES_GUESTS",
     .type = T_BOOL,
     .offset = AT(activates_guests),
     .kinds = K_LICENCE},
    {.json = "host_version",
     .journal = "AVMA_HOST_VERSION",
     .element = "host-version",
     .element_pos = 10,
     .type = T_STR,
     .offset = AT(host_version),
     .kinds = K_12310},
    {.json = "host_edition",
     .journal = "AVMA_HOST_EDITION",
     .element = "host-edition",
     .element_pos = 11,
     .type = T_STR,
     .offset = AT(host_edition),
     .kinds = K_DECISION},
    {.json = "host_activated",
     .journal = "AVMA_HOST_ACTIVATED",
     .type = T_BOOL,
     .offset = AT(host_activated),
     .kinds = K_DECISION},
    {.json = "host_id",
     .journal = "AVMA_HOST_ID",
     .element = "host-id",
     .element_pos = 9,
     .type = T_STR,
     .offset = AT(host_id),
     .kinds = K_12310},
    {.json = "granted_until",
     .journal = "AVMA_GRANTED_UNTIL",
     .element = "granted-until",
     .element_pos = 7,
     .column = "granted_until",
     .view = "granted_until",
     .view_pos = 5,
     .type = T_TIME,
     .offset = AT(granted_until),
     .kinds = K_DECISION},
};

/* The member whose presence marks a decision among 12310 records (every decision has a grant
 * time, "" when nothing was granted; protocol-level records never do). */
static const Field *grant_field(void) {
  for (gsize i = 0; i < G_N_ELEMENTS(FIELDS); i++)
    if (FIELDS[i].offset == AT(granted_until))
      return &FIELDS[i];
  g_assert_not_reached();
}

static gboolean carries(const AvmaHostEvent *ev, const Field *f) {
  return (f->kinds & (1u << ev->kind)) != 0;
}

static char **str_at(AvmaHostEvent *ev, const Field *f) {
  return (char **)((char *)ev + f->offset);
}
static const char *str_of(const AvmaHostEvent *ev, const Field *f) {
  const char *s = *(char *const *)((const char *)ev + f->offset);
  return s ? s : "";
}
static gint64 *i64_at(AvmaHostEvent *ev, const Field *f) {
  return (gint64 *)((char *)ev + f->offset);
}
static gint64 i64_of(const AvmaHostEvent *ev, const Field *f) {
  return *(const gint64 *)((const char *)ev + f->offset);
}
static int *int_at(AvmaHostEvent *ev, const Field *f) {
  return (int *)((char *)ev + f->offset);
}
static int int_of(const AvmaHostEvent *ev, const Field *f) {
  return *(const int *)((const char *)ev + f->offset);
}

void avma_host_event_clear(AvmaHostEvent *ev) {
  if (!ev)
    return;
  for (gsize i = 0; i < G_N_ELEMENTS(FIELDS); i++)
    if (FIELDS[i].type == T_STR)
      g_free(*str_at(ev, &FIELDS[i]));
  g_free(ev->error_code);
  memset(ev, 0, sizeof *ev);
}

AvmaHostEvent *avma_host_event_copy(const AvmaHostEvent *ev) {
  AvmaHostEvent *c = g_memdup2(ev, sizeof *ev);
  for (gsize i = 0; i < G_N_ELEMENTS(FIELDS); i++)
    if (FIELDS[i].type == T_STR)
      *str_at(c, &FIELDS[i]) = g_strdup(*str_at(c, &FIELDS[i]));
  c->error_code = g_strdup(ev->error_code);
  return c;
}

void avma_host_event_free(AvmaHostEvent *ev) {
  if (!ev)
    return;
  avma_host_event_clear(ev);
  g_free(ev);
}

void avma_host_event_init_licence(AvmaHostEvent *ev, const AvmaLicence *l, gint64 now) {
  memset(ev, 0, sizeof *ev);
  gboolean set = l->version != AVMA_VERSION_UNKNOWN;
  ev->kind = AVMA_HOST_EVENT_LICENCE;
  ev->event_id = AVMA_EVENT_LICENCE;
  ev->time = now;
  ev->notification = AVMA_HOST_EVENT_NONE;
  ev->reason = AVMA_HOST_EVENT_NONE;
  ev->licence_set = set;
  ev->licence_version = g_strdup(set ? avma_version_name(l->version) : "");
  ev->licence_edition = g_strdup(set ? avma_edition_name(l->edition) : "");
  ev->licence_activated = set && l->activated;
  ev->key_last5 = g_strdup(l->key_last5);
  ev->licence_set_at = l->set_at;
  ev->licence_set_by = g_strdup(l->set_by ? l->set_by : "");
  AvmaHostLicence h = avma_licence_policy_view(l);
  ev->activates_guests = set && h.activated && h.edition == AVMA_EDITION_DATACENTER;
}

const char *avma_host_event_notification_text(const AvmaHostEvent *ev) {
  return ev->notification >= 0 ? avma_notification_name((AvmaNotification)ev->notification) : "";
}

const char *avma_host_event_reason_code(const AvmaHostEvent *ev) {
  if (ev->kind == AVMA_HOST_EVENT_DECISION && ev->reason >= 0)
    return avma_reason_code((AvmaReason)ev->reason);
  return ev->error_code ? ev->error_code : "";
}

char *avma_host_event_time_text(gint64 t) {
  return avma_time_format(t);
}

/* A field's value as text: as the JSON line has it for strings, as the journal has it for the
 * others (integers in decimal, booleans TRUE/FALSE, as g_strdup_value_contents wrote them). */
static char *field_text(const AvmaHostEvent *ev, const Field *f) {
  switch (f->type) {
  case T_STR:
    return g_strdup(str_of(ev, f));
  case T_TIME:
    return avma_time_format(i64_of(ev, f));
  case T_INT:
    return g_strdup_printf("%" G_GINT64_FORMAT, i64_of(ev, f));
  case T_BOOL:
    return g_strdup(int_of(ev, f) ? "TRUE" : "FALSE");
  case T_NOTIFICATION:
    return g_strdup(avma_host_event_notification_text(ev));
  case T_REASON_CODE:
    return g_strdup(avma_host_event_reason_code(ev));
  }
  return g_strdup("");
}

JsonObject *avma_host_event_to_json(const AvmaHostEvent *ev) {
  JsonObject *o = json_object_new();
  for (gsize i = 0; i < G_N_ELEMENTS(FIELDS); i++) {
    const Field *f = &FIELDS[i];
    if (!carries(ev, f))
      continue;
    switch (f->type) {
    case T_INT:
      json_object_set_int_member(o, f->json, i64_of(ev, f));
      break;
    case T_BOOL:
      json_object_set_boolean_member(o, f->json, int_of(ev, f) != 0);
      break;
    default: {
      g_autofree char *s = field_text(ev, f);
      json_object_set_string_member(o, f->json, s);
    }
    }
  }
  return o;
}

JsonObject *avma_host_event_licence_state(const AvmaLicence *l) {
  g_auto(AvmaHostEvent) ev;
  avma_host_event_init_licence(&ev, l, 0);
  JsonObject *o = avma_host_event_to_json(&ev);
  for (gsize i = 0; i < G_N_ELEMENTS(FIELDS); i++)
    if (FIELDS[i].kinds == K_ALL)
      json_object_remove_member(o, FIELDS[i].json);
  return o;
}

/* Members of the wrong type read as empty, as the readers before this table did. */
static JsonNode *value_member(JsonObject *o, const char *name, GType type) {
  JsonNode *n = json_object_get_member(o, name);
  if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != type)
    return NULL;
  return n;
}

static const char *string_member(JsonObject *o, const char *name) {
  JsonNode *n = value_member(o, name, G_TYPE_STRING);
  return n ? json_node_get_string(n) : NULL;
}

static char *sanitize_code(const char *s) {
  GString *out = g_string_new(NULL);
  for (; s && *s && out->len < ERROR_CODE_MAX; s++)
    if (g_ascii_isalnum(*s) || *s == '-' || *s == '_' || *s == '.')
      g_string_append_c(out, *s);
  return g_string_free(out, FALSE);
}

static int parse_reason(const char *s) {
  for (int r = AVMA_REASON_OK; r <= AVMA_REASON_BAD_DECLARED_PRODUCT; r++)
    if (!g_strcmp0(s, avma_reason_code((AvmaReason)r)))
      return r;
  return AVMA_HOST_EVENT_NONE;
}

static int parse_notification(const char *s) {
  AvmaNotification n;
  return avma_notification_parse(s, &n) ? (int)n : AVMA_HOST_EVENT_NONE;
}

static gint64 parse_time(const char *s) {
  gint64 t = 0;
  return avma_time_parse(s, &t) ? t : 0;
}

/* Read one field from a member (name: the JSON member or the view's). */
static void read_field(AvmaHostEvent *ev, const Field *f, JsonObject *o, const char *name) {
  JsonNode *n;
  switch (f->type) {
  case T_STR:
    g_free(*str_at(ev, f));
    *str_at(ev, f) = g_strdup(string_member(o, name));
    break;
  case T_TIME:
    *i64_at(ev, f) = parse_time(string_member(o, name));
    break;
  case T_INT:
    n = value_member(o, name, G_TYPE_INT64);
    *i64_at(ev, f) = n ? json_node_get_int(n) : 0;
    break;
  case T_BOOL:
    n = value_member(o, name, G_TYPE_BOOLEAN);
    *int_at(ev, f) = n ? json_node_get_boolean(n) : FALSE;
    break;
  case T_NOTIFICATION:
    *int_at(ev, f) = parse_notification(string_member(o, name));
    break;
  case T_REASON_CODE: {
    const char *s = string_member(o, name);
    ev->reason = parse_reason(s);
    /* Kept too: a decision's code this build does not know still reads back as logged. */
    g_free(ev->error_code);
    ev->error_code = s ? sanitize_code(s) : NULL;
    break;
  }
  }
}

void avma_host_event_from_json(JsonObject *o, AvmaHostEvent *out) {
  memset(out, 0, sizeof *out);
  out->notification = AVMA_HOST_EVENT_NONE;
  out->reason = AVMA_HOST_EVENT_NONE;
  /* Every field is read whatever the kind: the history keeps columns of any record as logged. */
  for (gsize i = 0; i < G_N_ELEMENTS(FIELDS); i++)
    read_field(out, &FIELDS[i], o, FIELDS[i].json);
  if (out->event_id == AVMA_EVENT_LICENCE)
    out->kind = AVMA_HOST_EVENT_LICENCE;
  else if (json_object_has_member(o, grant_field()->json))
    out->kind = AVMA_HOST_EVENT_DECISION;
  else
    out->kind = AVMA_HOST_EVENT_INVALID_DATA;
}

char *avma_host_event_message(const AvmaHostEvent *ev) {
  switch (ev->kind) {
  case AVMA_HOST_EVENT_DECISION:
    return g_strdup_printf("AVMA request from %s: %s (%s)", ev->vm ? ev->vm : "",
                           avma_host_event_notification_text(ev),
                           ev->reason_text ? ev->reason_text : "");
  case AVMA_HOST_EVENT_INVALID_DATA:
    return g_strdup_printf("AVMA request from %s: Invalid Data (%s)", ev->vm ? ev->vm : "",
                           ev->reason_text ? ev->reason_text : "");
  case AVMA_HOST_EVENT_LICENCE:
    return g_strdup_printf("AVMA host licence set: Windows Server %s %s, %s",
                           ev->licence_version ? ev->licence_version : "",
                           ev->licence_edition ? ev->licence_edition : "",
                           ev->licence_activated ? "activated" : "not activated");
  }
  return g_strdup("");
}

GPtrArray *avma_host_event_journal_fields(const AvmaHostEvent *ev) {
  GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
  for (gsize i = 0; i < G_N_ELEMENTS(FIELDS); i++) {
    if (!carries(ev, &FIELDS[i]))
      continue;
    g_autofree char *v = field_text(ev, &FIELDS[i]);
    g_ptr_array_add(out, g_strdup_printf("%s=%s", FIELDS[i].journal, v));
  }
  return out;
}

static char *event_line(const AvmaHostEvent *ev) {
  g_autoptr(JsonObject) o = avma_host_event_to_json(ev);
  g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
  json_node_set_object(node, o);
  return json_to_string(node, FALSE);
}

static gboolean is_warning(const AvmaHostEvent *ev) {
  return ev->notification >= 0 && ev->notification != AVMA_NOTIFY_SUCCESS;
}

gboolean avma_host_event_append(AvmaEventLog *log, const AvmaHostEvent *ev, GError **error) {
  g_autofree char *line = event_line(ev);
  g_autofree char *msg = avma_host_event_message(ev);
  g_autoptr(GPtrArray) fields = avma_host_event_journal_fields(ev);
  return avma_event_log_append_line(log, line, ev->event_id, is_warning(ev), msg, fields, error);
}

gboolean avma_host_event_append_chained(AvmaChainLog *chain, AvmaEventLog *journal,
                                        const AvmaHostEvent *ev, guint64 *seq, GError **error) {
  g_autofree char *line = event_line(ev);
  if (!avma_chain_log_append(chain, line, seq, error))
    return FALSE;
  g_autofree char *msg = avma_host_event_message(ev);
  g_autoptr(GPtrArray) fields = avma_host_event_journal_fields(ev);
  if (seq) {
    g_ptr_array_add(fields, g_strdup_printf("AVMA_SEQ=%" G_GUINT64_FORMAT, *seq));
  }
  avma_event_log_journal(journal, (int)ev->event_id, is_warning(ev), msg, fields);
  return TRUE;
}

const char *avma_host_event_line_start(void) {
  static gsize once;
  static char *start;
  if (g_once_init_enter(&once)) {
    start = g_strdup_printf("{\"%s\":", FIELDS[0].json);
    g_once_init_leave(&once, 1);
  }
  return start;
}

void avma_host_event_foreach_element(const AvmaHostEvent *ev, AvmaHostEventElementFn fn,
                                     gpointer user) {
  for (int pos = 1; pos <= (int)G_N_ELEMENTS(FIELDS); pos++) {
    for (gsize i = 0; i < G_N_ELEMENTS(FIELDS); i++) {
      if (FIELDS[i].element && FIELDS[i].element_pos == pos) {
        g_autofree char *v = field_text(ev, &FIELDS[i]);
        fn(FIELDS[i].element, v, user);
      }
    }
  }
}

void avma_host_event_foreach_column(const AvmaHostEvent *ev, AvmaHostEventColumnFn fn,
                                    gpointer user) {
  guint n = 0;
  for (gsize i = 0; i < G_N_ELEMENTS(FIELDS); i++) {
    const Field *f = &FIELDS[i];
    if (!f->column)
      continue;
    if (f->type == T_TIME || f->type == T_INT) {
      fn(n++, f->column, TRUE, i64_of(ev, f), NULL, user);
    } else if (f->type == T_BOOL) {
      fn(n++, f->column, TRUE, int_of(ev, f), NULL, user);
    } else {
      g_autofree char *v = field_text(ev, f);
      fn(n++, f->column, FALSE, 0, v, user);
    }
  }
}

void avma_host_event_to_view(const AvmaHostEvent *ev, JsonObject *entry) {
  for (int pos = 1; pos <= (int)G_N_ELEMENTS(FIELDS); pos++) {
    for (gsize i = 0; i < G_N_ELEMENTS(FIELDS); i++) {
      if (FIELDS[i].view && FIELDS[i].view_pos == pos) {
        g_autofree char *v = ev ? field_text(ev, &FIELDS[i]) : g_strdup("");
        json_object_set_string_member(entry, FIELDS[i].view, v);
      }
    }
  }
}

void avma_host_event_from_view(JsonObject *entry, AvmaHostEvent *out) {
  memset(out, 0, sizeof *out);
  out->kind = AVMA_HOST_EVENT_DECISION;
  out->notification = AVMA_HOST_EVENT_NONE;
  out->reason = AVMA_HOST_EVENT_NONE;
  for (gsize i = 0; i < G_N_ELEMENTS(FIELDS); i++)
    if (FIELDS[i].view)
      read_field(out, &FIELDS[i], entry, FIELDS[i].view);
}

void avma_host_event_from_elements(AvmaHostEventElementText text, gpointer user,
                                   AvmaHostEvent *out) {
  /* Through the JSON reader, so both forms read a field the same way. The elements all hold
   * text (times, names, codes). */
  g_autoptr(JsonObject) o = json_object_new();
  for (gsize i = 0; i < G_N_ELEMENTS(FIELDS); i++) {
    const char *t = FIELDS[i].element ? text(FIELDS[i].element, user) : NULL;
    if (t && FIELDS[i].type != T_INT && FIELDS[i].type != T_BOOL)
      json_object_set_string_member(o, FIELDS[i].json, t);
  }
  avma_host_event_from_json(o, out);
}
