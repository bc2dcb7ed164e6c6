/* provision: add or remove the project's channel on a libvirt domain, in its persistent definition
 * and, when it runs and the caller asks, in the live domain (hot-plug). Idempotent. */
#pragma once
#include <glib.h>
#include <libvirt/libvirt.h>

typedef enum {
  AVMA_PROV_NOT_ASKED,  /* the caller did not ask for this part */
  AVMA_PROV_DONE,       /* changed */
  AVMA_PROV_ALREADY,    /* already as wanted */
  AVMA_PROV_NA,         /* does not apply: transient domain (config), not running (live) */
  AVMA_PROV_IMPOSSIBLE, /* cannot be done here; detail says why (not an error) */
  AVMA_PROV_FAILED,     /* libvirt refused; detail has its message */
} AvmaProvOutcome;

typedef struct {
  AvmaProvOutcome config, live;
  char *config_detail, *live_detail;
} AvmaProvResult;

/* add: TRUE to add the channel, FALSE to remove it. live: also change the running domain. */
void avma_provision_channel(virDomainPtr dom, gboolean add, gboolean live, AvmaProvResult *res);
void avma_prov_result_clear(AvmaProvResult *r);
/* FALSE when a part failed. */
gboolean avma_prov_result_ok(const AvmaProvResult *r);
/* One line for people: "added to the persistent definition and hot-plugged". */
char *avma_prov_result_describe(const AvmaProvResult *r, gboolean add);
