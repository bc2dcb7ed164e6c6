/* virt: small libvirt helpers shared by avma-hostd and avma-host: one-time setup, the URI to use,
 * libvirt errors as GErrors, domain lookup and state names. */
#pragma once
#include <glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "host-config.h"

#define AVMA_VIRT_DEFAULT_URI "qemu:///system"

/* GError domain whose codes are libvirt's virErrorNumber (VIR_ERR_NO_DOMAIN, ...). */
#define AVMA_VIRT_ERROR (avma_virt_error_quark())
GQuark avma_virt_error_quark(void);

/* Initialise libvirt once per process and stop it printing errors to stderr on its own: callers
 * report them (the daemon to its log, the CLI with context). */
void avma_virt_init(void);
/* --connect / [host] connect=, else $LIBVIRT_DEFAULT_URI, else qemu:///system. */
const char *avma_virt_uri(const AvmaHostConfig *c);
/* Set error from libvirt's last error: "what: message". */
void avma_virt_set_error(GError **error, const char *what);
/* Domain by name, UUID or id. */
virDomainPtr avma_virt_lookup(virConnectPtr conn, const char *spec, GError **error);
/* "running", "shut off", ... (virsh's words). */
const char *avma_virt_state_name(int state);
/* Whether a domain in this state has a QEMU process whose channel socket can be served. */
gboolean avma_virt_state_has_process(int state);

/* For GPtrArrays of domains. */
void avma_virt_domain_unref(gpointer dom);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virConnect, virConnectClose)
