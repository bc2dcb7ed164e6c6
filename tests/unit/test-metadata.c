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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fields),
      cmocka_unit_test(test_missing_members),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
