/* provision: the project's channel added to or removed from a libvirt domain. */
#include "provision.h"

#include "domxml.h"
#include "kvp-schema.h"
#include "virt.h"

#include <libvirt/virterror.h>

static void set(AvmaProvOutcome *o, char **detail, AvmaProvOutcome v, char *d) {
  *o = v;
  g_free(*detail);
  *detail = d;
}

static char *last_error(void) {
  const char *m = virGetLastErrorMessage();
  return g_strdup(m && *m ? m : "unknown libvirt error");
}

/* Redefine the domain from its full XML (secrets included, or a redefinition would drop them) with
 * the channel edited: the way for drivers that cannot change a persistent definition by device. */
static gboolean redefine(virDomainPtr dom, gboolean add, char **detail) {
  g_autofree char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
  if (!xml) {
    *detail = last_error();
    return FALSE;
  }
  gboolean changed;
  g_autoptr(GError) err = NULL;
  g_autofree char *edited = avma_domxml_edit_channel(xml, AVMA_CHANNEL_NAME, add, &changed, &err);
  if (!edited) {
    *detail = g_strdup(err->message);
    return FALSE;
  }
  if (!changed)
    return TRUE;
  virDomainPtr d = virDomainDefineXML(virDomainGetConnect(dom), edited);
  if (!d) {
    *detail = last_error();
    return FALSE;
  }
  virDomainFree(d);
  return TRUE;
}

/* What both targets share once their XML is read (the persistent definition, or the running
 * domain when `live`): the device to attach or detach, or NULL with *o and *detail set when there
 * is nothing to do, it cannot be done, or the XML is unusable. */
static char *device_to_change(const char *xml, gboolean add, gboolean live, AvmaProvOutcome *o,
                              char **detail) {
  if (!xml) {
    set(o, detail, AVMA_PROV_FAILED, last_error());
    return NULL;
  }
  AvmaDomInfo info;
  g_autoptr(GError) err = NULL;
  if (!avma_domxml_parse(xml, AVMA_CHANNEL_NAME, &info, &err)) {
    set(o, detail, AVMA_PROV_FAILED, g_strdup(err->message));
    return NULL;
  }
  AvmaDomChannel have = info.channel;
  gboolean controller = info.virtio_serial;
  g_autofree char *what = g_steal_pointer(&info.channel_detail);
  avma_dom_info_clear(&info);
  if (add && have == AVMA_DOM_CHANNEL_UNUSABLE) {
    set(o, detail, AVMA_PROV_IMPOSSIBLE,
        live ? g_strdup("a channel of that name but another kind is plugged in")
             : g_strdup_printf("a channel of that name exists (%s): remove it first", what));
    return NULL;
  }
  if ((have != AVMA_DOM_CHANNEL_NONE) == add) {
    set(o, detail, AVMA_PROV_ALREADY, NULL);
    return NULL;
  }
  if (live && add && !controller) {
    /* libvirt cannot hot-plug the virtio-serial controller itself. */
    set(o, detail, AVMA_PROV_IMPOSSIBLE,
        g_strdup("the running domain has no virtio-serial controller"));
    return NULL;
  }
  if (add)
    return avma_domxml_channel_device(AVMA_CHANNEL_NAME);
  char *dev = avma_domxml_channel_element(xml, AVMA_CHANNEL_NAME, &err);
  if (!dev)
    set(o, detail, AVMA_PROV_FAILED, g_strdup(err->message));
  return dev;
}

static void do_config(virDomainPtr dom, gboolean add, AvmaProvResult *r) {
  int persistent = virDomainIsPersistent(dom);
  if (persistent < 0) {
    set(&r->config, &r->config_detail, AVMA_PROV_FAILED, last_error());
    return;
  }
  if (!persistent) {
    set(&r->config, &r->config_detail, AVMA_PROV_NA,
        g_strdup("transient domain, no persistent definition"));
    return;
  }
  g_autofree char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
  g_autofree char *dev = device_to_change(xml, add, FALSE, &r->config, &r->config_detail);
  if (!dev)
    return;
  int rc = add ? virDomainAttachDeviceFlags(dom, dev, VIR_DOMAIN_AFFECT_CONFIG)
               : virDomainDetachDeviceFlags(dom, dev, VIR_DOMAIN_AFFECT_CONFIG);
  if (rc < 0 && virGetLastErrorCode() == VIR_ERR_NO_SUPPORT) {
    char *detail = NULL;
    rc = redefine(dom, add, &detail) ? 0 : -1;
    if (rc < 0) {
      set(&r->config, &r->config_detail, AVMA_PROV_FAILED, detail);
      return;
    }
  }
  if (rc < 0)
    set(&r->config, &r->config_detail, AVMA_PROV_FAILED, last_error());
  else
    set(&r->config, &r->config_detail, AVMA_PROV_DONE, NULL);
}

static void do_live(virDomainPtr dom, gboolean add, AvmaProvResult *r) {
  int active = virDomainIsActive(dom);
  if (active < 0) {
    set(&r->live, &r->live_detail, AVMA_PROV_FAILED, last_error());
    return;
  }
  if (!active) {
    set(&r->live, &r->live_detail, AVMA_PROV_NA, g_strdup("not running"));
    return;
  }
  g_autofree char *xml = virDomainGetXMLDesc(dom, 0);
  g_autofree char *dev = device_to_change(xml, add, TRUE, &r->live, &r->live_detail);
  if (!dev)
    return;
  int rc = add ? virDomainAttachDeviceFlags(dom, dev, VIR_DOMAIN_AFFECT_LIVE)
               : virDomainDetachDeviceFlags(dom, dev, VIR_DOMAIN_AFFECT_LIVE);
  if (rc == 0)
    set(&r->live, &r->live_detail, AVMA_PROV_DONE, NULL);
  else if (virGetLastErrorCode() == VIR_ERR_NO_SUPPORT)
    set(&r->live, &r->live_detail, AVMA_PROV_IMPOSSIBLE,
        g_strdup("this libvirt driver cannot hot-plug devices"));
  else
    set(&r->live, &r->live_detail, AVMA_PROV_FAILED, last_error());
}

void avma_provision_channel(virDomainPtr dom, gboolean add, gboolean live, AvmaProvResult *res) {
  *res = (AvmaProvResult){0};
  avma_virt_init();
  do_config(dom, add, res);
  if (live)
    do_live(dom, add, res);
}

void avma_prov_result_clear(AvmaProvResult *r) {
  g_clear_pointer(&r->config_detail, g_free);
  g_clear_pointer(&r->live_detail, g_free);
}

gboolean avma_prov_result_ok(const AvmaProvResult *r) {
  return r->config != AVMA_PROV_FAILED && r->live != AVMA_PROV_FAILED;
}

char *avma_prov_result_describe(const AvmaProvResult *r, gboolean add) {
  gboolean changed = r->config == AVMA_PROV_DONE || r->live == AVMA_PROV_DONE;
  gboolean trouble = !avma_prov_result_ok(r) || r->config == AVMA_PROV_IMPOSSIBLE ||
                     r->live == AVMA_PROV_IMPOSSIBLE;
  if (!changed && !trouble)
    return g_strdup_printf(add ? "channel %s already present, nothing to do"
                               : "no channel %s, nothing to do",
                           AVMA_CHANNEL_NAME);
  g_autoptr(GString) s = g_string_new(NULL);
  g_string_append_printf(s, "channel %s ", AVMA_CHANNEL_NAME);
  switch (r->config) {
  case AVMA_PROV_DONE:
    g_string_append(s, add ? "added to the persistent definition"
                           : "removed from the persistent definition");
    break;
  case AVMA_PROV_ALREADY:
    g_string_append(s, add ? "already in the persistent definition"
                           : "not in the persistent definition");
    break;
  case AVMA_PROV_NA:
    g_string_append_printf(s, "(%s)", r->config_detail);
    break;
  case AVMA_PROV_IMPOSSIBLE:
  case AVMA_PROV_FAILED:
    g_string_append_printf(s, "persistent definition not changed: %s", r->config_detail);
    break;
  case AVMA_PROV_NOT_ASKED:
    break;
  }
  const char *sep = s->str[s->len - 1] == ' ' ? "" : "; ";
  switch (r->live) {
  case AVMA_PROV_DONE:
    g_string_append_printf(s, "%s%s", sep,
                           add ? "hot-plugged into the running domain"
                               : "unplugged from the running domain");
    break;
  case AVMA_PROV_ALREADY:
    g_string_append_printf(s, "%s%s", sep,
                           add ? "already in the running domain" : "not in the running domain");
    break;
  case AVMA_PROV_NA:
    g_string_append_printf(s, "%sdomain %s", sep, r->live_detail);
    break;
  case AVMA_PROV_IMPOSSIBLE:
    g_string_append_printf(s, "%snot %s the running domain: %s%s", sep,
                           add ? "hot-plugged into" : "unplugged from", r->live_detail,
                           r->config == AVMA_PROV_DONE ? " (takes effect at the next start)" : "");
    break;
  case AVMA_PROV_FAILED:
    g_string_append_printf(s, "%srunning domain not changed: %s", sep, r->live_detail);
    break;
  case AVMA_PROV_NOT_ASKED:
    break;
  }
  return g_string_free(g_steal_pointer(&s), FALSE);
}
