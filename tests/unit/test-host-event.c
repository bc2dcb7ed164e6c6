/* test-host-event: the typed host records (host-agent/host-event.c): each kind's JSON line
 * byte for byte as the logs have it, journal fields equal to what the generic writer derived
 * from the JSON, reading back (round trips and hostile records), history columns, the VM view;
 * and the host's removable observers, reference counting and one VM identity rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <glib/gstdio.h>
#include <string.h>

#include "history.h"
#include "host-event.h"
#include "host.h"
#include "kvp-schema.h"
#include "schema.h"

#define T0 1772359200 /* 2026-03-01T10:00:00Z */

static char *line_of(const AvmaHostEvent *ev) {
  g_autoptr(JsonObject) o = avma_host_event_to_json(ev);
  g_autoptr(JsonNode) n = json_node_new(JSON_NODE_OBJECT);
  json_node_set_object(n, o);
  return json_to_string(n, FALSE);
}

static JsonObject *parse(const char *text) {
  g_autoptr(JsonParser) p = json_parser_new();
  assert_true(json_parser_load_from_data(p, text, -1, NULL));
  return json_object_ref(json_node_get_object(json_parser_get_root(p)));
}

static void decision(AvmaHostEvent *ev) {
  memset(ev, 0, sizeof *ev);
  ev->kind = AVMA_HOST_EVENT_DECISION;
  ev->event_id = AVMA_EVENT_HOST;
  ev->time = T0;
  ev->notification = AVMA_NOTIFY_SUCCESS;
  ev->reason = AVMA_REASON_OK;
  ev->reason_text = g_strdup("activated \"by\" <host>");
  ev->vm = g_strdup("web1");
  ev->vm_uuid = g_strdup("3f2504e0-4f89-11d3-9a0c-0305e82c3301");
  ev->guest_version = g_strdup("2022");
  ev->guest_edition = g_strdup("Standard");
  ev->declared_version = g_strdup("2022");
  ev->declared_edition = g_strdup("");
  ev->key_last5 = g_strdup("78VHK");
  ev->host_version = g_strdup("2025");
  ev->host_edition = g_strdup("Datacenter");
  ev->host_activated = TRUE;
  ev->host_id = g_strdup("6a1e3c1d-6d55-4f7f-9d7c-2f2b36f7e0a1");
  ev->granted_until = T0 + 7 * 86400;
}

/* The lines as avma-hostd wrote them before the field table (json-glib, members in this order). */
static const char DECISION_LINE[] =
    "{\"time\":\"2026-03-01T10:00:00Z\",\"event_id\":12310,\"notification\":\"AVMA Success\","
    "\"reason\":\"activated \\\"by\\\" <host>\",\"reason_code\":\"ok\",\"vm\":\"web1\","
    "\"vm_uuid\":\"3f2504e0-4f89-11d3-9a0c-0305e82c3301\",\"guest_version\":\"2022\","
    "\"guest_edition\":\"Standard\",\"declared_version\":\"2022\",\"declared_edition\":\"\","
    "\"key_last5\":\"78VHK\",\"host_version\":\"2025\",\"host_edition\":\"Datacenter\","
    "\"host_activated\":true,\"host_id\":\"6a1e3c1d-6d55-4f7f-9d7c-2f2b36f7e0a1\","
    "\"granted_until\":\"2026-03-08T10:00:00Z\"}";
static const char INVALID_LINE[] =
    "{\"time\":\"2026-03-01T10:00:00Z\",\"event_id\":12310,\"notification\":\"Invalid Data\","
    "\"reason\":\"frame failed its check\",\"reason_code\":\"bad-crc\",\"vm\":\"fixed\","
    "\"vm_uuid\":\"\",\"suppressed\":3,\"host_version\":\"\",\"host_id\":\"h\"}";
static const char LICENCE_LINE[] =
    "{\"time\":\"2026-03-01T10:00:00Z\",\"event_id\":12311,\"set\":true,\"version\":\"2022\","
    "\"edition\":\"Datacenter\",\"activated\":true,\"key_last5\":\"DV9BG\","
    "\"set_at\":\"2026-03-01T09:00:00Z\",\"set_by\":\"root\",\"activates_guests\":true}";

static void invalid(AvmaHostEvent *ev) {
  memset(ev, 0, sizeof *ev);
  ev->kind = AVMA_HOST_EVENT_INVALID_DATA;
  ev->event_id = AVMA_EVENT_HOST;
  ev->time = T0;
  ev->notification = AVMA_NOTIFY_INVALID_DATA;
  ev->reason = AVMA_HOST_EVENT_NONE;
  ev->error_code = g_strdup("bad-crc");
  ev->reason_text = g_strdup("frame failed its check");
  ev->vm = g_strdup("fixed");
  ev->vm_uuid = g_strdup("");
  ev->suppressed = 3;
  ev->host_version = g_strdup("");
  ev->host_id = g_strdup("h");
}

static void licence(AvmaHostEvent *ev) {
  AvmaLicence l = {.version = AVMA_VERSION_2022,
                   .edition = AVMA_EDITION_DATACENTER,
                   .activated = TRUE,
                   .key_last5 = "DV9BG",
                   .set_at = T0 - 3600,
                   .set_by = (char *)"root"};
  avma_host_event_init_licence(ev, &l, T0);
}

static void test_lines(void **state) {
  (void)state;
  g_auto(AvmaHostEvent) d, i, l;
  decision(&d);
  invalid(&i);
  licence(&l);
  g_autofree char *dl = line_of(&d), *il = line_of(&i), *ll = line_of(&l);
  assert_string_equal(dl, DECISION_LINE);
  assert_string_equal(il, INVALID_LINE);
  assert_string_equal(ll, LICENCE_LINE);
  /* license show --json: the licence's own members only. */
  AvmaLicence lic = {.version = AVMA_VERSION_2019, .edition = AVMA_EDITION_STANDARD};
  g_autoptr(JsonObject) st = avma_host_event_licence_state(&lic);
  g_autoptr(JsonNode) n = json_node_new(JSON_NODE_OBJECT);
  json_node_set_object(n, st);
  g_autofree char *sl = json_to_string(n, FALSE);
  assert_string_equal(sl, "{\"set\":true,\"version\":\"2019\",\"edition\":\"Standard\","
                          "\"activated\":false,\"key_last5\":\"\",\"set_at\":\"\","
                          "\"set_by\":\"\",\"activates_guests\":false}");
}

/* Every line read back is the same event, written again the same. */
static void test_round_trip(void **state) {
  (void)state;
  const char *lines[] = {DECISION_LINE, INVALID_LINE, LICENCE_LINE};
  const AvmaHostEventKind kinds[] = {AVMA_HOST_EVENT_DECISION, AVMA_HOST_EVENT_INVALID_DATA,
                                     AVMA_HOST_EVENT_LICENCE};
  for (gsize k = 0; k < G_N_ELEMENTS(lines); k++) {
    g_autoptr(JsonObject) o = parse(lines[k]);
    g_auto(AvmaHostEvent) ev;
    avma_host_event_from_json(o, &ev);
    assert_int_equal(ev.kind, kinds[k]);
    assert_int_equal(ev.time, T0);
    g_autofree char *again = line_of(&ev);
    assert_string_equal(again, lines[k]);
    g_autoptr(AvmaHostEvent) copy = avma_host_event_copy(&ev);
    g_autofree char *copied = line_of(copy);
    assert_string_equal(copied, lines[k]);
  }
  g_autoptr(JsonObject) o = parse(DECISION_LINE);
  g_auto(AvmaHostEvent) ev;
  avma_host_event_from_json(o, &ev);
  assert_int_equal(ev.notification, AVMA_NOTIFY_SUCCESS);
  assert_int_equal(ev.reason, AVMA_REASON_OK);
  assert_int_equal(ev.granted_until, T0 + 7 * 86400);
  assert_true(ev.host_activated);
}

/* What the generic writer (common/events.c) sent for a JSON record: AVMA_<MEMBER>=value, strings
 * as they are, other values as g_strdup_value_contents shows them. */
static GPtrArray *generic_fields(JsonObject *o) {
  GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GList) members = json_object_get_members(o);
  for (GList *l = members; l; l = l->next) {
    JsonNode *node = json_object_get_member(o, l->data);
    g_autofree char *up = g_ascii_strup(l->data, -1);
    GValue v = G_VALUE_INIT;
    json_node_get_value(node, &v);
    g_autofree char *s =
        G_VALUE_HOLDS_STRING(&v) ? g_value_dup_string(&v) : g_strdup_value_contents(&v);
    g_value_unset(&v);
    g_ptr_array_add(out, g_strdup_printf("AVMA_%s=%s", up, s));
  }
  return out;
}

static void test_journal(void **state) {
  (void)state;
  g_auto(AvmaHostEvent) d, i, l;
  decision(&d);
  invalid(&i);
  licence(&l);
  const AvmaHostEvent *evs[] = {&d, &i, &l};
  for (gsize k = 0; k < G_N_ELEMENTS(evs); k++) {
    g_autoptr(JsonObject) o = avma_host_event_to_json(evs[k]);
    g_autoptr(GPtrArray) want = generic_fields(o);
    g_autoptr(GPtrArray) got = avma_host_event_journal_fields(evs[k]);
    assert_int_equal(got->len, want->len);
    for (guint f = 0; f < got->len; f++)
      assert_string_equal(got->pdata[f], want->pdata[f]);
  }
  g_autofree char *m = avma_host_event_message(&d);
  assert_string_equal(m, "AVMA request from web1: AVMA Success (activated \"by\" <host>)");
  g_autofree char *mi = avma_host_event_message(&i);
  assert_string_equal(mi, "AVMA request from fixed: Invalid Data (frame failed its check)");
  g_autofree char *ml = avma_host_event_message(&l);
  assert_string_equal(ml, "AVMA host licence set: Windows Server 2022 Datacenter, activated");
}

/* Logs are hostile input: a tampered or corrupt line must read as something harmless. */
static void test_hostile(void **state) {
  (void)state;
  static const char *bad[] = {
      "{}",
      "{\"time\":12,\"event_id\":\"12310\",\"vm\":{\"x\":1},\"vm_uuid\":[1],\"notification\":5}",
      "{\"time\":\"not a time\",\"notification\":\"AVMA SUCCESS\",\"granted_until\":true}",
      "{\"event_id\":12310,\"reason_code\":\"bad\\u0001code\\n<x>&;rm -rf\","
      "\"suppressed\":\"many\"}",
      "{\"event_id\":99999999999999,\"time\":\"2026-02-30T25:00:00Z\",\"host_activated\":1}",
      "{\"event_id\":12311,\"set\":\"yes\",\"set_at\":null,\"granted_until\":\"\"}",
      "{\"reason_code\":"
      "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
      "xxxxxxxxxxxxxxxxxxxxxxxx\",\"granted_until\":\"2026-03-08T10:00:00Z\"}",
  };
  for (gsize k = 0; k < G_N_ELEMENTS(bad); k++) {
    g_autoptr(JsonObject) o = parse(bad[k]);
    g_auto(AvmaHostEvent) ev;
    avma_host_event_from_json(o, &ev);
    /* Whatever it read, it writes and renders without trouble. */
    g_autofree char *l = line_of(&ev);
    assert_non_null(l);
    g_autoptr(GPtrArray) f = avma_host_event_journal_fields(&ev);
    assert_true(f->len > 0);
    const char *code = avma_host_event_reason_code(&ev);
    assert_true(strlen(code) <= 64);
    for (const char *c = code; *c; c++)
      assert_true(g_ascii_isalnum(*c) || *c == '-' || *c == '_' || *c == '.');
  }
  g_autoptr(JsonObject) o1 = parse(bad[1]);
  g_auto(AvmaHostEvent) e1;
  avma_host_event_from_json(o1, &e1);
  assert_int_equal(e1.time, 0);
  assert_int_equal(e1.event_id, 0);
  assert_null(e1.vm);
  assert_int_equal(e1.notification, AVMA_HOST_EVENT_NONE);
  assert_int_equal(e1.kind, AVMA_HOST_EVENT_INVALID_DATA);
  g_autoptr(JsonObject) o2 = parse(bad[2]);
  g_auto(AvmaHostEvent) e2;
  avma_host_event_from_json(o2, &e2);
  assert_int_equal(e2.notification, AVMA_HOST_EVENT_NONE); /* exact names only */
  assert_int_equal(e2.kind, AVMA_HOST_EVENT_DECISION);
  assert_int_equal(e2.granted_until, 0);
  g_autoptr(JsonObject) o3 = parse(bad[3]);
  g_auto(AvmaHostEvent) e3;
  avma_host_event_from_json(o3, &e3);
  assert_string_equal(avma_host_event_reason_code(&e3), "badcodexrm-rf");
  assert_int_equal(e3.suppressed, 0);
  g_autoptr(JsonObject) o4 = parse(bad[4]);
  g_auto(AvmaHostEvent) e4;
  avma_host_event_from_json(o4, &e4);
  assert_true(e4.event_id == G_GINT64_CONSTANT(99999999999999)); /* as logged */
  assert_int_equal(e4.time, 0);
  assert_false(e4.host_activated);
  g_autoptr(JsonObject) o5 = parse(bad[5]);
  g_auto(AvmaHostEvent) e5;
  avma_host_event_from_json(o5, &e5);
  assert_int_equal(e5.kind, AVMA_HOST_EVENT_LICENCE);
  assert_false(e5.licence_set);
  g_autoptr(JsonObject) o6 = parse(bad[6]);
  g_auto(AvmaHostEvent) e6;
  avma_host_event_from_json(o6, &e6);
  assert_int_equal(strlen(avma_host_event_reason_code(&e6)), 64);
  /* A decision's code this build does not know is kept as logged (sanitized). */
  g_autoptr(JsonObject) o7 = parse("{\"reason_code\":\"future-code\",\"granted_until\":\"\"}");
  g_auto(AvmaHostEvent) e7;
  avma_host_event_from_json(o7, &e7);
  assert_int_equal(e7.reason, AVMA_HOST_EVENT_NONE);
  assert_string_equal(avma_host_event_reason_code(&e7), "future-code");
}

typedef struct {
  GString *cols;
  GString *vals;
} Cols;

static void on_column(guint i, const char *column, gboolean is_int, gint64 v, const char *text,
                      gpointer user) {
  Cols *c = user;
  g_string_append_printf(c->cols, "%s%s", i ? "," : "", column);
  if (is_int)
    g_string_append_printf(c->vals, "%s%" G_GINT64_FORMAT, i ? "," : "", v);
  else
    g_string_append_printf(c->vals, "%s'%s'", i ? "," : "", text);
}

static void on_element(const char *element, const char *text, gpointer user) {
  g_string_append_printf(user, "<%s>%s", element, text);
}

static void test_columns_elements_view(void **state) {
  (void)state;
  g_auto(AvmaHostEvent) d;
  decision(&d);
  Cols c = {g_string_new(NULL), g_string_new(NULL)};
  avma_host_event_foreach_column(&d, on_column, &c);
  assert_string_equal(c.cols->str, "time,event_id,notification,reason_code,vm,vm_uuid,"
                                   "guest_version,guest_edition,granted_until");
  assert_string_equal(c.vals->str, "1772359200,12310,'AVMA Success','ok','web1',"
                                   "'3f2504e0-4f89-11d3-9a0c-0305e82c3301','2022','Standard',"
                                   "1772964000");
  g_string_free(c.cols, TRUE);
  g_string_free(c.vals, TRUE);
  g_autoptr(GString) el = g_string_new(NULL);
  avma_host_event_foreach_element(&d, on_element, el);
  assert_string_equal(el->str, "<notification>AVMA Success<reason-code>ok<reason>activated "
                               "\"by\" <host><guest-version>2022<guest-edition>Standard"
                               "<partial-key>78VHK<granted-until>2026-03-08T10:00:00Z"
                               "<time>2026-03-01T10:00:00Z<host-id>6a1e3c1d-6d55-4f7f-9d7c-"
                               "2f2b36f7e0a1<host-version>2025<host-edition>Datacenter");
  /* vms.json: the members and their order as before; read back the same. */
  g_autoptr(JsonObject) entry = json_object_new();
  avma_host_event_to_view(&d, entry);
  g_autoptr(JsonNode) n = json_node_new(JSON_NODE_OBJECT);
  json_node_set_object(n, entry);
  g_autofree char *text = json_to_string(n, FALSE);
  assert_string_equal(text, "{\"notification\":\"AVMA Success\",\"reason_code\":\"ok\","
                            "\"guest_version\":\"2022\",\"guest_edition\":\"Standard\","
                            "\"granted_until\":\"2026-03-08T10:00:00Z\","
                            "\"last_event_time\":\"2026-03-01T10:00:00Z\"}");
  g_auto(AvmaHostEvent) back;
  avma_host_event_from_view(entry, &back);
  assert_int_equal(back.notification, AVMA_NOTIFY_SUCCESS);
  assert_string_equal(back.guest_edition, "Standard");
  assert_int_equal(back.granted_until, d.granted_until);
  assert_int_equal(back.time, T0);
  g_autoptr(JsonObject) blank = json_object_new();
  avma_host_event_to_view(NULL, blank);
  assert_int_equal(json_object_get_size(blank), 6);
  assert_string_equal(json_object_get_string_member(blank, "last_event_time"), "");
}

static void collect_element(const char *element, const char *text, gpointer user) {
  g_hash_table_insert(user, g_strdup(element), g_strdup(text));
}

static const char *lookup_element(const char *element, gpointer user) {
  return g_hash_table_lookup(user, element);
}

/* The metadata read back (avma-host cluster check) gives the decision that was written. */
static void test_elements_round_trip(void **state) {
  (void)state;
  g_auto(AvmaHostEvent) d;
  decision(&d);
  g_autoptr(GHashTable) el = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  avma_host_event_foreach_element(&d, collect_element, el);
  g_auto(AvmaHostEvent) back;
  avma_host_event_from_elements(lookup_element, el, &back);
  assert_int_equal(back.kind, AVMA_HOST_EVENT_DECISION);
  assert_int_equal(back.time, d.time);
  assert_int_equal(back.notification, d.notification);
  assert_int_equal(back.reason, d.reason);
  assert_string_equal(back.guest_version, "2022");
  assert_string_equal(back.guest_edition, "Standard");
  assert_string_equal(back.key_last5, d.key_last5);
  assert_string_equal(back.host_id, d.host_id);
  assert_int_equal(back.granted_until, d.granted_until);
  /* Missing elements read as empty, hostile ones as the JSON reader reads them. */
  g_hash_table_remove_all(el);
  g_hash_table_insert(el, g_strdup("time"), g_strdup("not a time"));
  g_hash_table_insert(el, g_strdup("notification"), g_strdup("AVMA Success\x1b[2J"));
  g_auto(AvmaHostEvent) odd;
  avma_host_event_from_elements(lookup_element, el, &odd);
  assert_int_equal(odd.time, 0);
  assert_int_equal(odd.notification, AVMA_HOST_EVENT_NONE);
  assert_null(odd.guest_version);
}

/* ---- the host: observers, references, identity ---------------------------------------------- */

typedef struct {
  char *dir;
  AvmaHostConfig *config;
  AvmaHost *host;
  GString *calls;
  guint ids[4];
} Fx;

static int setup(void **state) {
  Fx *fx = g_new0(Fx, 1);
  fx->dir = g_dir_make_tmp("avma-test-host-event-XXXXXX", NULL);
  g_autofree char *conf = g_build_filename(fx->dir, "host.conf", NULL);
  g_autofree char *text = g_strdup_printf("[host]\nstate_dir=%s\njournal=no\n", fx->dir);
  assert_true(g_file_set_contents(conf, text, -1, NULL));
  fx->config = avma_host_config_load(conf, NULL, NULL, NULL);
  assert_non_null(fx->config);
  AvmaLicence l = {
      .version = AVMA_VERSION_2022, .edition = AVMA_EDITION_DATACENTER, .activated = TRUE};
  assert_true(avma_licence_save(fx->dir, &l, AVMA_JOURNAL_NO, NULL));
  fx->host = avma_host_new(fx->config, NULL);
  assert_non_null(fx->host);
  fx->calls = g_string_new(NULL);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  Fx *fx = *state;
  avma_host_free(fx->host);
  avma_host_config_free(fx->config);
  g_string_free(fx->calls, TRUE);
  const char *names[] = {"host.conf", "licence.conf", "licence-history.jsonl", "host-id",
                         "events.jsonl"};
  for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
    g_autofree char *p = g_build_filename(fx->dir, names[i], NULL);
    g_unlink(p);
  }
  g_rmdir(fx->dir);
  g_free(fx->dir);
  g_free(fx);
  return 0;
}

static void obs_a(AvmaHost *h, AvmaVm *vm, const AvmaHostEvent *ev, gpointer user) {
  (void)vm;
  Fx *fx = user;
  g_string_append_printf(fx->calls, "a%d ", ev->kind);
  /* Removes b while the notification runs: b must not be called for this event. */
  avma_host_remove_observer(h, fx->ids[1]);
}
static void obs_b(AvmaHost *h, AvmaVm *vm, const AvmaHostEvent *ev, gpointer user) {
  (void)h, (void)vm, (void)ev;
  g_string_append(((Fx *)user)->calls, "b ");
}
static void obs_c(AvmaHost *h, AvmaVm *vm, const AvmaHostEvent *ev, gpointer user) {
  (void)h;
  Fx *fx = user;
  g_string_append_printf(fx->calls, "c:%s:%s ", ev->vm, avma_host_event_reason_code(ev));
  assert_ptr_equal(vm, avma_host_find_vm(h, avma_vm_key_of(vm)));
}
static void obs_vm(AvmaHost *h, AvmaVm *vm, gboolean running, const char *why, gpointer user) {
  (void)h;
  g_string_append_printf(((Fx *)user)->calls, "vm:%s:%d:%s ", avma_vm_name(vm), running, why);
}

static void test_observers(void **state) {
  Fx *fx = *state;
  fx->ids[0] = avma_host_add_observer(fx->host, obs_a, fx);
  fx->ids[1] = avma_host_add_observer(fx->host, obs_b, fx);
  fx->ids[2] = avma_host_add_vm_observer(fx->host, obs_vm, fx);
  fx->ids[3] = avma_host_add_observer(fx->host, obs_c, fx);
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < i; j++)
      assert_int_not_equal(fx->ids[i], fx->ids[j]);
  AvmaVm *vm = avma_host_vm(fx->host, "v1", NULL);
  /* A request proves the VM runs (the VM observer first), then the event observers in order. */
  avma_host_log_invalid_data(fx->host, vm, "bad-crc", "x");
  assert_string_equal(fx->calls->str, "vm:v1:1:request-received a1 c:v1:bad-crc ");
  g_string_truncate(fx->calls, 0);
  avma_host_remove_observer(fx->host, fx->ids[0]);
  avma_host_remove_observer(fx->host, fx->ids[0]); /* twice: nothing */
  avma_host_remove_observer(fx->host, 0);
  avma_host_remove_observer(fx->host, 9999);
  AvmaRecord recs[] = {avma_schema_record(AVMA_KEY_AvmaKey, "W3GNR-8DDXR-2TFRP-H8P33-DV9BG")};
  AvmaVm *vm2 = avma_host_vm(fx->host, "v2", "3F2504E0-4F89-11D3-9A0C-0305E82C3301");
  g_autoptr(AvmaRecordList) reply = avma_host_activate(fx->host, vm2, recs, 1, NULL);
  assert_non_null(reply);
  assert_string_equal(fx->calls->str, "vm:v2:1:request-received c:v2:ok ");
  const AvmaHostEvent *last = avma_vm_last_event(vm2);
  assert_non_null(last);
  assert_int_equal(last->kind, AVMA_HOST_EVENT_DECISION);
  assert_int_equal(last->notification, AVMA_NOTIFY_SUCCESS);
  assert_string_equal(last->key_last5, "DV9BG");
  assert_true(last->granted_until > last->time);
  assert_null(avma_vm_last_event(vm)); /* protocol noise is not a decision */
  /* The run state has one owner: saying it again changes nothing. */
  g_string_truncate(fx->calls, 0);
  avma_host_vm_seen(fx->host, vm2, TRUE, "domain-running");
  avma_host_vm_seen(fx->host, vm2, FALSE, "domain-stopped");
  avma_host_vm_seen(fx->host, vm2, FALSE, "domain-gone");
  assert_string_equal(fx->calls->str, "vm:v2:0:domain-stopped ");
  assert_false(avma_vm_running(vm2));
  avma_host_remove_observer(fx->host, fx->ids[2]);
  avma_host_remove_observer(fx->host, fx->ids[3]);
}

static void test_identity_and_refs(void **state) {
  Fx *fx = *state;
  g_autofree char *k1 = avma_vm_key("n", "3F2504E0-4F89-11D3-9A0C-0305E82C3301");
  g_autofree char *k2 = avma_vm_key("n", "");
  g_autofree char *k3 = avma_vm_key("n", "not-a-uuid");
  g_autofree char *k4 = avma_vm_key(NULL, NULL);
  assert_string_equal(k1, "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
  assert_string_equal(k2, "n");
  assert_string_equal(k3, "n");
  assert_string_equal(k4, "");
  /* The history uses the same rule. */
  g_autofree char *hk = avma_history_vm_key("n", "3F2504E0-4F89-11D3-9A0C-0305E82C3301");
  assert_string_equal(hk, k1);
  /* One VM whichever case its UUID is given in, renamed in place. */
  AvmaVm *a = avma_host_vm(fx->host, "old", "3F2504E0-4F89-11D3-9A0C-0305E82C3301");
  AvmaVm *b = avma_host_vm(fx->host, "new", "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
  assert_ptr_equal(a, b);
  assert_string_equal(avma_vm_name(a), "new");
  assert_true(avma_vm_has_domain(a));
  AvmaVm *f = avma_host_vm(fx->host, "fixed", NULL);
  assert_false(avma_vm_has_domain(f));
  assert_ptr_equal(avma_host_find_vm(fx->host, "fixed"), f);
  assert_null(avma_host_find_vm(fx->host, "nobody"));
  /* A module's reference keeps the host (and its VMs) after the creator lets go. */
  AvmaHost *held = avma_host_ref(fx->host);
  avma_host_free(fx->host);
  assert_string_equal(avma_vm_name(f), "fixed");
  fx->host = held;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lines),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_journal),
      cmocka_unit_test(test_hostile),
      cmocka_unit_test(test_columns_elements_view),
      cmocka_unit_test(test_elements_round_trip),
      cmocka_unit_test_setup_teardown(test_observers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_identity_and_refs, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
