/* test-domxml: the project's channel found in, added to and removed from libvirt domain XML. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <gio/gio.h>

#include "domxml.h"
#include "kvp-schema.h"

#define CH AVMA_CHANNEL_NAME

/* A running QEMU domain as libvirt reports it: qemu-ga first, then ours. */
static const char LIVE[] =
    "<domain type='kvm' id='7'>\n"
    "  <name>web1</name>\n"
    "  <uuid>0f6b6c1e-2c4e-4a53-9d0e-6a3f1f3d2b11</uuid>\n"
    "  <devices>\n"
    "    <controller type='virtio-serial' index='0'><alias name='virtio-serial0'/></controller>\n"
    "    <channel type='unix'>\n"
    "      <source mode='bind' path='/run/libvirt/qemu/channel/7-web1/org.qemu.guest_agent.0'/>\n"
    "      <target type='virtio' name='org.qemu.guest_agent.0' state='connected'/>\n"
    "      <alias name='channel0'/>\n"
    "    </channel>\n"
    "    <channel type='unix'>\n"
    "      <source mode='bind' path='/run/libvirt/qemu/channel/7-web1/" CH "'/>\n"
    "      <target type='virtio' name='" CH "' state='disconnected'/>\n"
    "      <alias name='channel1'/>\n"
    "      <address type='virtio-serial' controller='0' bus='0' port='2'/>\n"
    "    </channel>\n"
    "  </devices>\n"
    "</domain>\n";

/* The same domain's persistent definition: no id, no path yet. */
static const char INACTIVE[] = "<domain type='kvm'>\n"
                               "  <name>web1</name>\n"
                               "  <uuid>0f6b6c1e-2c4e-4a53-9d0e-6a3f1f3d2b11</uuid>\n"
                               "  <devices>\n"
                               "    <channel type='unix'>\n"
                               "      <source mode='bind'/>\n"
                               "      <target type='virtio' name='" CH "'/>\n"
                               "    </channel>\n"
                               "  </devices>\n"
                               "</domain>\n";

static char *domain_with(const char *devices) {
  return g_strdup_printf("<domain type='qemu'><name>d</name>"
                         "<uuid>11111111-2222-3333-4444-555555555555</uuid>"
                         "<devices>%s</devices></domain>",
                         devices);
}

static void test_live(void **state) {
  (void)state;
  AvmaDomInfo i;
  g_autoptr(GError) err = NULL;
  assert_true(avma_domxml_parse(LIVE, CH, &i, &err));
  assert_string_equal(i.name, "web1");
  assert_string_equal(i.uuid, "0f6b6c1e-2c4e-4a53-9d0e-6a3f1f3d2b11");
  assert_int_equal(i.id, 7);
  assert_int_equal(i.channel, AVMA_DOM_CHANNEL_UNIX);
  /* ours, not the guest agent's channel that comes first */
  assert_string_equal(i.socket_path, "/run/libvirt/qemu/channel/7-web1/" CH);
  assert_null(i.channel_detail);
  assert_true(i.virtio_serial);
  avma_dom_info_clear(&i);
  assert_null(i.name);
  assert_int_equal(i.id, -1);
}

static void test_inactive(void **state) {
  (void)state;
  AvmaDomInfo i;
  assert_true(avma_domxml_parse(INACTIVE, CH, &i, NULL));
  assert_int_equal(i.id, -1);
  assert_int_equal(i.channel, AVMA_DOM_CHANNEL_UNIX);
  assert_null(i.socket_path); /* libvirt assigns it at start */
  assert_false(i.virtio_serial);
  avma_dom_info_clear(&i);
}

static void test_absent(void **state) {
  (void)state;
  static const char *cases[] = {
      "",
      /* another channel name, a prefix of ours, a non-virtio target with our name */
      "<channel type='unix'><source mode='bind' path='/x'/>"
      "<target type='virtio' name='org.qemu.guest_agent.0'/></channel>",
      "<channel type='unix'><source mode='bind' path='/x'/>"
      "<target type='virtio' name='org.avma.kvp'/></channel>",
      "<channel type='unix'><source mode='bind' path='/x'/>"
      "<target type='guestfwd' name='" CH "'/></channel>",
      /* our target on a console or serial device is not a channel */
      "<console type='unix'><source mode='bind' path='/x'/>"
      "<target type='virtio' name='" CH "'/></console>",
  };
  for (gsize k = 0; k < G_N_ELEMENTS(cases); k++) {
    g_autofree char *xml = domain_with(cases[k]);
    AvmaDomInfo i;
    assert_true(avma_domxml_parse(xml, CH, &i, NULL));
    assert_int_equal(i.channel, AVMA_DOM_CHANNEL_NONE);
    assert_null(i.socket_path);
    avma_dom_info_clear(&i);
  }
  /* no <devices> at all */
  AvmaDomInfo i;
  assert_true(avma_domxml_parse("<domain><name>x</name></domain>", CH, &i, NULL));
  assert_int_equal(i.channel, AVMA_DOM_CHANNEL_NONE);
  assert_null(i.uuid);
  avma_dom_info_clear(&i);
}

static void test_unusable(void **state) {
  (void)state;
  static const struct {
    const char *dev, *detail;
  } cases[] = {
      {"<channel type='pty'><target type='virtio' name='" CH "'/></channel>", "type 'pty'"},
      {"<channel type='unix'><source mode='connect' path='/x'/>"
       "<target type='virtio' name='" CH "'/></channel>",
       "mode 'connect'"},
      /* libvirt's default mode for a unix source with a path is connect */
      {"<channel type='unix'><source path='/x'/><target type='virtio' name='" CH "'/></channel>",
       "mode 'connect'"},
      {"<channel type='unix'><source mode='connect'/><target type='virtio' name='" CH
       "'/></channel>",
       "mode 'connect'"},
  };
  for (gsize k = 0; k < G_N_ELEMENTS(cases); k++) {
    g_autofree char *xml = domain_with(cases[k].dev);
    AvmaDomInfo i;
    assert_true(avma_domxml_parse(xml, CH, &i, NULL));
    assert_int_equal(i.channel, AVMA_DOM_CHANNEL_UNUSABLE);
    assert_null(i.socket_path);
    assert_non_null(strstr(i.channel_detail, cases[k].detail));
    avma_dom_info_clear(&i);
  }
}

static void test_odd_values(void **state) {
  (void)state;
  /* Escaped characters in the path come out decoded; an empty path counts as none; odd ids
   * are no id. */
  g_autofree char *xml = g_strdup(
      "<domain id='x7'><name>a&amp;b</name><uuid> 11111111-2222-3333-4444-555555555555 </uuid>"
      "<devices><channel type='unix'><source mode='bind' path='/tmp/a&amp;b&lt;c.sock'/>"
      "<target type='virtio' name='" CH "'/></channel></devices></domain>");
  AvmaDomInfo i;
  assert_true(avma_domxml_parse(xml, CH, &i, NULL));
  assert_string_equal(i.name, "a&b");
  assert_string_equal(i.uuid, "11111111-2222-3333-4444-555555555555");
  assert_int_equal(i.id, -1);
  assert_string_equal(i.socket_path, "/tmp/a&b<c.sock");
  avma_dom_info_clear(&i);
  g_autofree char *empty = domain_with("<channel type='unix'><source mode='bind' path=''/>"
                                       "<target type='virtio' name='" CH "'/></channel>");
  assert_true(avma_domxml_parse(empty, CH, &i, NULL));
  assert_int_equal(i.channel, AVMA_DOM_CHANNEL_UNIX);
  assert_null(i.socket_path);
  avma_dom_info_clear(&i);
  /* a definition as libvirt formats it before a path is chosen: no <source> at all */
  g_autofree char *nosrc =
      domain_with("<channel type='unix'><target type='virtio' name='" CH "'/></channel>");
  assert_true(avma_domxml_parse(nosrc, CH, &i, NULL));
  assert_int_equal(i.channel, AVMA_DOM_CHANNEL_UNIX);
  assert_null(i.socket_path);
  avma_dom_info_clear(&i);
}

static void test_bad_xml(void **state) {
  (void)state;
  static const char *cases[] = {"", "not xml", "<domain><name>x</name>", "<node><domain/></node>",
                                "<domain></domain><domain></domain>"};
  for (gsize k = 0; k < G_N_ELEMENTS(cases); k++) {
    AvmaDomInfo i;
    g_autoptr(GError) err = NULL;
    assert_false(avma_domxml_parse(cases[k], CH, &i, &err));
    assert_true(g_error_matches(err, G_IO_ERROR, G_IO_ERROR_INVALID_DATA));
    assert_null(i.name);
  }
  AvmaDomInfo i;
  g_autoptr(GError) err = NULL;
  assert_false(avma_domxml_parse(NULL, CH, &i, &err));
}

static void test_no_external_entities(void **state) {
  (void)state;
  /* A domain XML cannot make us read local files or the network. */
  static const char xml[] = "<?xml version='1.0'?>\n"
                            "<!DOCTYPE domain [<!ENTITY x SYSTEM 'file:///etc/hostname'>]>\n"
                            "<domain><name>&x;</name><devices/></domain>";
  AvmaDomInfo i;
  if (avma_domxml_parse(xml, CH, &i, NULL)) {
    g_autofree char *host = NULL;
    if (g_file_get_contents("/etc/hostname", &host, NULL, NULL) && *g_strstrip(host))
      assert_null(strstr(i.name ? i.name : "", host));
    avma_dom_info_clear(&i);
  }
}

static void test_device(void **state) {
  (void)state;
  g_autofree char *dev = avma_domxml_channel_device(CH);
  assert_non_null(strstr(dev, "<channel type=\"unix\">"));
  assert_null(strstr(dev, "path"));
  g_autofree char *xml = domain_with(dev);
  AvmaDomInfo i;
  assert_true(avma_domxml_parse(xml, CH, &i, NULL));
  assert_int_equal(i.channel, AVMA_DOM_CHANNEL_UNIX);
  assert_null(i.socket_path);
  avma_dom_info_clear(&i);
}

static void test_element(void **state) {
  (void)state;
  g_autoptr(GError) err = NULL;
  g_autofree char *el = avma_domxml_channel_element(LIVE, CH, &err);
  assert_non_null(el);
  /* the whole device, as libvirt needs it to detach: path, alias and address included */
  assert_true(g_str_has_prefix(el, "<channel type=\"unix\">"));
  assert_non_null(strstr(el, "/run/libvirt/qemu/channel/7-web1/" CH));
  assert_non_null(strstr(el, "channel1"));
  assert_null(strstr(el, "guest_agent"));
  g_autofree char *nochan = domain_with("");
  assert_null(avma_domxml_channel_element(nochan, CH, &err) ? "unexpected" : NULL);
  assert_true(g_error_matches(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
}

static void test_edit(void **state) {
  (void)state;
  gboolean changed;
  g_autoptr(GError) err = NULL;
  /* add to a domain with only the guest agent's channel */
  g_autofree char *ga = domain_with("<channel type='unix'><source mode='bind'/>"
                                    "<target type='virtio' name='org.qemu.guest_agent.0'/>"
                                    "</channel><graphics type='vnc' passwd='s3cret'/>");
  g_autofree char *added = avma_domxml_edit_channel(ga, CH, TRUE, &changed, &err);
  assert_non_null(added);
  assert_true(changed);
  AvmaDomInfo i;
  assert_true(avma_domxml_parse(added, CH, &i, NULL));
  assert_int_equal(i.channel, AVMA_DOM_CHANNEL_UNIX);
  assert_string_equal(i.name, "d");
  avma_dom_info_clear(&i);
  /* the rest of the definition stays, secrets included */
  assert_non_null(strstr(added, "org.qemu.guest_agent.0"));
  assert_non_null(strstr(added, "s3cret"));
  /* idempotent */
  g_autofree char *again = avma_domxml_edit_channel(added, CH, TRUE, &changed, &err);
  assert_false(changed);
  /* remove: ours goes, duplicates too, the guest agent's stays */
  g_autofree char *twice = domain_with("<channel type='unix'><source mode='bind'/>"
                                       "<target type='virtio' name='" CH "'/></channel>"
                                       "<channel type='pty'><target type='virtio' name='" CH
                                       "'/></channel><channel type='unix'><source mode='bind'/>"
                                       "<target type='virtio' name='org.qemu.guest_agent.0'/>"
                                       "</channel>");
  g_autofree char *removed = avma_domxml_edit_channel(twice, CH, FALSE, &changed, &err);
  assert_true(changed);
  assert_true(avma_domxml_parse(removed, CH, &i, NULL));
  assert_int_equal(i.channel, AVMA_DOM_CHANNEL_NONE);
  avma_dom_info_clear(&i);
  assert_non_null(strstr(removed, "org.qemu.guest_agent.0"));
  g_autofree char *none = avma_domxml_edit_channel(removed, CH, FALSE, &changed, &err);
  assert_false(changed);
  /* a domain without <devices> gets one */
  g_autofree char *bare =
      avma_domxml_edit_channel("<domain><name>b</name></domain>", CH, TRUE, &changed, &err);
  assert_true(changed);
  assert_true(avma_domxml_parse(bare, CH, &i, NULL));
  assert_int_equal(i.channel, AVMA_DOM_CHANNEL_UNIX);
  avma_dom_info_clear(&i);
  /* garbage in, error out */
  assert_null(avma_domxml_edit_channel("<domain>", CH, TRUE, &changed, &err) ? "x" : NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_live),
      cmocka_unit_test(test_inactive),
      cmocka_unit_test(test_absent),
      cmocka_unit_test(test_unusable),
      cmocka_unit_test(test_odd_values),
      cmocka_unit_test(test_bad_xml),
      cmocka_unit_test(test_no_external_entities),
      cmocka_unit_test(test_device),
      cmocka_unit_test(test_element),
      cmocka_unit_test(test_edit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
