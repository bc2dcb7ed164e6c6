/* test-metadata: the activation state element written into libvirt domain metadata. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "metadata.h"

#include <libvirt/virterror.h>

/* The metadata of a record as logged (the typed event read back from its JSON). */
static char *xml_of(JsonObject *ev, const char *host_name) {
  g_auto(AvmaHostEvent) typed;
  avma_host_event_from_json(ev, &typed);
  return avma_metadata_xml(&typed, host_name);
}

static JsonObject *decision(void) {
  JsonObject *ev = json_object_new();
  json_object_set_int_member(ev, "event_id", 12310);
  json_object_set_string_member(ev, "time", "2026-03-01T10:00:00Z");
  json_object_set_string_member(ev, "notification", "AVMA Success");
  json_object_set_string_member(ev, "reason_code", "ok");
  json_object_set_string_member(ev, "reason", "activated <by> \"host\" & co");
  json_object_set_string_member(ev, "guest_version", "2022");
  json_object_set_string_member(ev, "guest_edition", "Standard");
  json_object_set_string_member(ev, "key_last5", "78VHK");
  json_object_set_string_member(ev, "granted_until", "2026-03-08T10:00:00Z");
  json_object_set_string_member(ev, "host_id", "6a1e3c1d-6d55-4f7f-9d7c-2f2b36f7e0a1");
  json_object_set_string_member(ev, "host_version", "2025");
  json_object_set_string_member(ev, "host_edition", "Datacenter");
  return ev;
}

/* Text of the root's child element `name` (caller frees). */
static char *field(xmlDoc *doc, const char *name) {
  for (xmlNode *n = xmlDocGetRootElement(doc)->children; n; n = n->next) {
    if (n->type == XML_ELEMENT_NODE && !xmlStrcmp(n->name, BAD_CAST name)) {
      xmlChar *c = xmlNodeGetContent(n);
      char *s = g_strdup((const char *)c);
      xmlFree(c);
      return s;
    }
  }
  return NULL;
}

static void test_fields(void **state) {
  (void)state;
  g_autoptr(JsonObject) ev = decision();
  g_autofree char *xml = xml_of(ev, "hv<1>");
  xmlDoc *doc = xmlReadMemory(xml, (int)strlen(xml), "m.xml", NULL, XML_PARSE_NONET);
  assert_non_null(doc);
  xmlNode *root = xmlDocGetRootElement(doc);
  assert_string_equal((const char *)root->name, "activation");
  assert_null(root->ns); /* libvirt puts it in AVMA_METADATA_NS itself */
  xmlChar *id = xmlGetProp(root, BAD_CAST "event-id");
  assert_string_equal((const char *)id, "12310");
  xmlFree(id);
  static const struct {
    const char *element, *value;
  } want[] = {
      {"notification", "AVMA Success"},
      {"reason-code", "ok"},
      {"reason", "activated <by> \"host\" & co"}, /* escaped on the way in, intact on the way out */
      {"guest-version", "2022"},
      {"guest-edition", "Standard"},
      {"partial-key", "78VHK"},
      {"granted-until", "2026-03-08T10:00:00Z"},
      {"time", "2026-03-01T10:00:00Z"},
      {"host-id", "6a1e3c1d-6d55-4f7f-9d7c-2f2b36f7e0a1"},
      {"host-version", "2025"},
      {"host-edition", "Datacenter"},
      {"host-name", "hv<1>"},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(want); i++) {
    g_autofree char *v = field(doc, want[i].element);
    assert_non_null(v);
    assert_string_equal(v, want[i].value);
  }
  xmlFreeDoc(doc);
  /* the full key is never written, only its last five characters */
  assert_null(strstr(xml, "YDFWN"));
}

static void test_missing_members(void **state) {
  (void)state;
  g_autoptr(JsonObject) ev = json_object_new();
  g_autofree char *xml = xml_of(ev, NULL);
  xmlDoc *doc = xmlReadMemory(xml, (int)strlen(xml), "m.xml", NULL, XML_PARSE_NONET);
  assert_non_null(doc);
  g_autofree char *gu = field(doc, "granted-until");
  assert_string_equal(gu, "");
  xmlFreeDoc(doc);
}

/* The retry rules: what a failed libvirt call leads to. */
static void test_classify(void **state) {
  (void)state;
  assert_int_equal(avma_metadata_classify(VIR_ERR_OK, TRUE), AVMA_META_DONE);
  /* the domain left (migrated away, undefined): kept until it is here again */
  assert_int_equal(avma_metadata_classify(VIR_ERR_NO_DOMAIN, TRUE), AVMA_META_ELSEWHERE);
  assert_int_equal(avma_metadata_classify(VIR_ERR_NO_DOMAIN, FALSE), AVMA_META_ELSEWHERE);
  /* "cannot acquire state change lock (held by ...Migrate...)" after 30 s: a busy domain */
  assert_int_equal(avma_metadata_classify(VIR_ERR_OPERATION_TIMEOUT, TRUE), AVMA_META_BUSY);
  assert_int_equal(avma_metadata_classify(VIR_ERR_OPERATION_INVALID, TRUE), AVMA_META_RETRY);
  assert_int_equal(avma_metadata_classify(VIR_ERR_INTERNAL_ERROR, TRUE), AVMA_META_RETRY);
  assert_int_equal(avma_metadata_classify(VIR_ERR_SYSTEM_ERROR, FALSE), AVMA_META_NO_CONNECTION);
}

#define LIVE_NEW                                                                                   \
  "<avma:activation xmlns:avma=\"http://avma.invalid/xmlns/activation/1\" event-id=\"12310\">"     \
  "<avma:notification>Invalid Host</avma:notification><avma:time>2026-03-02T10:00:00Z</avma:time>" \
  "</avma:activation>"

static void test_config_stale(void **state) {
  (void)state;
  g_autoptr(JsonObject) ev = decision(); /* time 2026-03-01T10:00:00Z */
  g_autofree char *old = xml_of(ev, "h");
  /* re-indented by libvirt: the same copy, not stale */
  g_autofree char *indented = g_strdup_printf("\n  %s\n", old);
  assert_false(avma_metadata_config_stale(old, indented));
  assert_false(avma_metadata_config_stale(old, old));
  /* the live copy is newer than the persistent one: stale */
  assert_true(avma_metadata_config_stale(LIVE_NEW, old));
  /* the persistent copy newer than the live one is left alone */
  assert_false(avma_metadata_config_stale(old, LIVE_NEW));
  /* no persistent copy at all, or an unreadable one */
  assert_true(avma_metadata_config_stale(LIVE_NEW, NULL));
  assert_true(avma_metadata_config_stale(LIVE_NEW, "<activation><time>"));
  /* no live copy, or not ours: nothing to rewrite from */
  assert_false(avma_metadata_config_stale(NULL, old));
  assert_false(avma_metadata_config_stale("<other><time>2030-01-01T00:00:00Z</time></other>", old));
  assert_false(avma_metadata_config_stale("not xml", old));
}

static void test_plain(void **state) {
  (void)state;
  g_autofree char *p = avma_metadata_plain(LIVE_NEW);
  assert_non_null(p);
  assert_null(strstr(p, "avma:"));
  assert_null(strstr(p, "xmlns"));
  assert_non_null(strstr(p, "<notification>Invalid Host</notification>"));
  assert_non_null(strstr(p, "event-id=\"12310\""));
  /* what it gives back compares equal to what it came from */
  assert_false(avma_metadata_config_stale(LIVE_NEW, p));
  assert_null(avma_metadata_plain("<broken"));
  assert_null(avma_metadata_plain(NULL));
}

/* A write that waited is dropped when the domain came back with a later decision (made on the
 * host it ran on meanwhile): only a strictly later <time> wins. */
static void test_newer(void **state) {
  (void)state;
  g_autoptr(JsonObject) ev = decision(); /* time 2026-03-01T10:00:00Z */
  g_autofree char *ours = xml_of(ev, "h");
  assert_true(avma_metadata_newer(LIVE_NEW, ours)); /* namespaced, as read back from libvirt */
  assert_false(avma_metadata_newer(ours, LIVE_NEW));
  assert_false(avma_metadata_newer(ours, ours));
  g_autofree char *indented = g_strdup_printf("\n  %s\n", ours);
  assert_false(avma_metadata_newer(indented, ours));
  /* nothing there, or nothing comparable: ours is written */
  assert_false(avma_metadata_newer(NULL, ours));
  assert_false(avma_metadata_newer("not xml", ours));
  assert_false(
      avma_metadata_newer("<activation><notification>x</notification></activation>", ours));
  assert_false(avma_metadata_newer("<other><time>2030-01-01T00:00:00Z</time></other>", ours));
  assert_false(avma_metadata_newer(LIVE_NEW, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fields),   cmocka_unit_test(test_missing_members),
      cmocka_unit_test(test_classify), cmocka_unit_test(test_config_stale),
      cmocka_unit_test(test_plain),    cmocka_unit_test(test_newer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
