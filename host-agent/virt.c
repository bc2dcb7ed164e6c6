/* virt: libvirt helpers shared by the daemon and the CLI. */
#include "virt.h"

#include <libvirt/virterror.h>

G_DEFINE_QUARK(avma_virt_error, avma_virt_error)

static void quiet(void *user, virErrorPtr err) {
  (void)user;
  (void)err;
}

void avma_virt_init(void) {
  static gsize done = 0;
  if (g_once_init_enter(&done)) {
    virInitialize();
    virSetErrorFunc(NULL, quiet);
    g_once_init_leave(&done, 1);
  }
}

const char *avma_virt_uri(const AvmaHostConfig *c) {
  if (c && c->connect_uri && *c->connect_uri)
    return c->connect_uri;
  const char *env = g_getenv("LIBVIRT_DEFAULT_URI");
  return env && *env ? env : AVMA_VIRT_DEFAULT_URI;
}

void avma_virt_set_error(GError **error, const char *what) {
  virErrorPtr e = virGetLastError();
  g_set_error(error, AVMA_VIRT_ERROR, e ? e->code : VIR_ERR_INTERNAL_ERROR, "%s: %s", what,
              e && e->message ? e->message : "unknown libvirt error");
}

virDomainPtr avma_virt_lookup(virConnectPtr conn, const char *spec, GError **error) {
  virDomainPtr d = virDomainLookupByName(conn, spec);
  /* Not a name: a UUID (INVALID_ARG when spec is not one), else an id. */
  if (!d && virGetLastErrorCode() == VIR_ERR_NO_DOMAIN)
    d = virDomainLookupByUUIDString(conn, spec);
  if (!d && (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN ||
             virGetLastErrorCode() == VIR_ERR_INVALID_ARG)) {
    char *end;
    guint64 id = g_ascii_strtoull(spec, &end, 10);
    if (*spec && !*end && id <= G_MAXINT)
      d = virDomainLookupByID(conn, (int)id);
  }
  if (!d) {
    if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN || virGetLastErrorCode() == VIR_ERR_INVALID_ARG)
      g_set_error(error, AVMA_VIRT_ERROR, VIR_ERR_NO_DOMAIN, "no domain '%s'", spec);
    else
      avma_virt_set_error(error, spec);
  }
  return d;
}

void avma_virt_domain_unref(gpointer dom) {
  if (dom)
    virDomainFree(dom);
}

const char *avma_virt_state_name(int state) {
  switch (state) {
  case VIR_DOMAIN_RUNNING:
    return "running";
  case VIR_DOMAIN_BLOCKED:
    return "idle";
  case VIR_DOMAIN_PAUSED:
    return "paused";
  case VIR_DOMAIN_SHUTDOWN:
    return "in shutdown";
  case VIR_DOMAIN_SHUTOFF:
    return "shut off";
  case VIR_DOMAIN_CRASHED:
    return "crashed";
  case VIR_DOMAIN_PMSUSPENDED:
    return "pmsuspended";
  default:
    return "no state";
  }
}

gboolean avma_virt_state_has_process(int state) {
  /* A crashed domain kept for inspection has no guest to answer; shut off has no process. */
  return state != VIR_DOMAIN_SHUTOFF && state != VIR_DOMAIN_CRASHED;
}
