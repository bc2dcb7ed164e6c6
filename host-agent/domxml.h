/* domxml: libvirt domain XML read and edited with libxml2 (never by string search): the project's
 * virtio channel and its socket, and the channel device to add or remove. No libvirt calls. */
#pragma once
#include <glib.h>

typedef enum {
  AVMA_DOM_CHANNEL_NONE,     /* no virtio channel with our name */
  AVMA_DOM_CHANNEL_UNIX,     /* unix socket that QEMU listens on (source mode='bind'): usable */
  AVMA_DOM_CHANNEL_UNUSABLE, /* our name, but not a listening unix socket (pty, connect, ...) */
} AvmaDomChannel;

typedef struct {
  char *name;
  char *uuid;
  int id; /* domain id (the live XML's id attribute); -1 when the XML has none (inactive) */
  AvmaDomChannel channel;
  char *socket_path;      /* UNIX channel's path; NULL when libvirt has not assigned one yet */
  char *channel_detail;   /* UNUSABLE: what the channel is instead, e.g. "type 'pty'" */
  gboolean virtio_serial; /* a virtio-serial controller exists (a port can be hot-plugged) */
} AvmaDomInfo;

/* Parse a domain XML document and look for the virtio channel named channel_name. */
gboolean avma_domxml_parse(const char *xml, const char *channel_name, AvmaDomInfo *out,
                           GError **error);
void avma_dom_info_clear(AvmaDomInfo *info);

/* The device that `avma-host channel add` attaches: libvirt chooses the socket path. */
char *avma_domxml_channel_device(const char *channel_name);
/* The channel element named channel_name exactly as xml has it (libvirt detaches a channel only
 * when given the device as defined, path included); NULL with error set when absent. */
char *avma_domxml_channel_element(const char *xml, const char *channel_name, GError **error);
/* The whole domain XML with the channel added (present) or every channel of that name removed,
 * for drivers that cannot attach devices to a persistent definition (it is then redefined).
 * *changed tells whether anything changed. */
char *avma_domxml_edit_channel(const char *xml, const char *channel_name, gboolean present,
                               gboolean *changed, GError **error);
