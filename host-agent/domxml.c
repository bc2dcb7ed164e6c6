/* domxml: the project's channel in libvirt domain XML (libxml2). */
#include "domxml.h"

#include <gio/gio.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)

static xmlDoc *parse(const char *xml, GError **error) {
  xmlInitParser();
  if (!xml) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "no domain XML");
    return NULL;
  }
  /* NONET: a domain XML never needs the network; errors go to the GError, not stderr. */
  xmlDoc *doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (!doc) {
    const xmlError *e = xmlGetLastError();
    g_autofree char *msg = g_strdup(e && e->message ? e->message : "unknown error");
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "domain XML does not parse: %s",
                g_strstrip(msg));
    return NULL;
  }
  xmlNode *root = xmlDocGetRootElement(doc);
  if (!root || xmlStrcmp(root->name, BAD_CAST "domain")) {
    xmlFreeDoc(doc);
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "not a domain XML document");
    return NULL;
  }
  return doc;
}

static gboolean is_elem(const xmlNode *n, const char *name) {
  return n->type == XML_ELEMENT_NODE && !xmlStrcmp(n->name, BAD_CAST name);
}

static xmlNode *child(xmlNode *parent, const char *name) {
  for (xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
    if (is_elem(n, name))
      return n;
  return NULL;
}

/* Attribute as a g_malloc'd string (NULL when absent). */
static char *attr(xmlNode *n, const char *name) {
  xmlChar *v = n ? xmlGetProp(n, BAD_CAST name) : NULL;
  char *s = v ? g_strdup((const char *)v) : NULL;
  xmlFree(v);
  return s;
}

static char *text(xmlNode *n) {
  xmlChar *v = n ? xmlNodeGetContent(n) : NULL;
  char *s = v ? g_strstrip(g_strdup((const char *)v)) : NULL;
  xmlFree(v);
  return s;
}

static gboolean is_our_channel(xmlNode *n, const char *channel_name) {
  if (!is_elem(n, "channel"))
    return FALSE;
  xmlNode *t = child(n, "target");
  g_autofree char *type = attr(t, "type");
  g_autofree char *name = attr(t, "name");
  return !g_strcmp0(type, "virtio") && !g_strcmp0(name, channel_name);
}

static xmlNode *find_channel(xmlNode *devices, const char *channel_name) {
  for (xmlNode *n = devices ? devices->children : NULL; n; n = n->next)
    if (is_our_channel(n, channel_name))
      return n;
  return NULL;
}

void avma_dom_info_clear(AvmaDomInfo *info) {
  g_clear_pointer(&info->name, g_free);
  g_clear_pointer(&info->uuid, g_free);
  g_clear_pointer(&info->socket_path, g_free);
  g_clear_pointer(&info->channel_detail, g_free);
  info->id = -1;
  info->channel = AVMA_DOM_CHANNEL_NONE;
  info->virtio_serial = FALSE;
}

gboolean avma_domxml_parse(const char *xml, const char *channel_name, AvmaDomInfo *out,
                           GError **error) {
  memset(out, 0, sizeof *out);
  out->id = -1;
  g_autoptr(xmlDoc) doc = parse(xml, error);
  if (!doc)
    return FALSE;
  xmlNode *root = xmlDocGetRootElement(doc);
  out->name = text(child(root, "name"));
  out->uuid = text(child(root, "uuid"));
  g_autofree char *id = attr(root, "id");
  if (id) {
    char *end;
    long v = strtol(id, &end, 10);
    if (*id && !*end && v >= 0 && v <= G_MAXINT)
      out->id = (int)v;
  }
  xmlNode *devices = child(root, "devices");
  for (xmlNode *n = devices ? devices->children : NULL; n; n = n->next) {
    if (!is_elem(n, "controller"))
      continue;
    g_autofree char *type = attr(n, "type");
    if (!g_strcmp0(type, "virtio-serial"))
      out->virtio_serial = TRUE;
  }
  xmlNode *ch = find_channel(devices, channel_name);
  if (!ch)
    return TRUE;
  g_autofree char *type = attr(ch, "type");
  xmlNode *src = child(ch, "source");
  g_autofree char *mode = attr(src, "mode");
  if (g_strcmp0(type, "unix")) {
    out->channel = AVMA_DOM_CHANNEL_UNUSABLE;
    out->channel_detail = g_strdup_printf("type '%s', not a unix socket", type ? type : "");
  } else {
    g_autofree char *path = attr(src, "path");
    /* Without a path libvirt chooses one and QEMU listens there (libvirt then omits <source> from
     * the XML); with a path the default mode is connect: QEMU would be the client, not us. */
    gboolean listens = path && *path ? !g_strcmp0(mode, "bind") : g_strcmp0(mode, "connect");
    if (!listens) {
      out->channel = AVMA_DOM_CHANNEL_UNUSABLE;
      out->channel_detail =
          g_strdup_printf("unix socket in mode '%s', not 'bind'", mode ? mode : "connect");
    } else {
      out->channel = AVMA_DOM_CHANNEL_UNIX;
      if (path && *path)
        out->socket_path = g_steal_pointer(&path);
    }
  }
  return TRUE;
}

static char *dump_node(xmlDoc *doc, xmlNode *n) {
  xmlBuffer *buf = xmlBufferCreate();
  xmlNodeDump(buf, doc, n, 0, 0);
  char *s = g_strdup((const char *)xmlBufferContent(buf));
  xmlBufferFree(buf);
  return s;
}

static xmlNode *new_channel(const char *channel_name) {
  xmlNode *ch = xmlNewNode(NULL, BAD_CAST "channel");
  xmlNewProp(ch, BAD_CAST "type", BAD_CAST "unix");
  xmlNode *src = xmlNewChild(ch, NULL, BAD_CAST "source", NULL);
  xmlNewProp(src, BAD_CAST "mode", BAD_CAST "bind");
  xmlNode *t = xmlNewChild(ch, NULL, BAD_CAST "target", NULL);
  xmlNewProp(t, BAD_CAST "type", BAD_CAST "virtio");
  xmlNewProp(t, BAD_CAST "name", BAD_CAST channel_name);
  return ch;
}

char *avma_domxml_channel_device(const char *channel_name) {
  xmlInitParser();
  g_autoptr(xmlDoc) doc = xmlNewDoc(BAD_CAST "1.0");
  xmlNode *ch = new_channel(channel_name);
  xmlDocSetRootElement(doc, ch);
  return dump_node(doc, ch);
}

char *avma_domxml_channel_element(const char *xml, const char *channel_name, GError **error) {
  g_autoptr(xmlDoc) doc = parse(xml, error);
  if (!doc)
    return NULL;
  xmlNode *ch = find_channel(child(xmlDocGetRootElement(doc), "devices"), channel_name);
  if (!ch) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "the domain has no channel %s",
                channel_name);
    return NULL;
  }
  return dump_node(doc, ch);
}

char *avma_domxml_edit_channel(const char *xml, const char *channel_name, gboolean present,
                               gboolean *changed, GError **error) {
  *changed = FALSE;
  g_autoptr(xmlDoc) doc = parse(xml, error);
  if (!doc)
    return NULL;
  xmlNode *root = xmlDocGetRootElement(doc);
  xmlNode *devices = child(root, "devices");
  if (present) {
    if (!find_channel(devices, channel_name)) {
      if (!devices)
        devices = xmlNewChild(root, NULL, BAD_CAST "devices", NULL);
      xmlAddChild(devices, new_channel(channel_name));
      *changed = TRUE;
    }
  } else {
    xmlNode *ch;
    while ((ch = find_channel(devices, channel_name))) {
      xmlUnlinkNode(ch);
      xmlFreeNode(ch);
      *changed = TRUE;
    }
  }
  return dump_node(doc, root);
}
