/* cli-channel: `avma-host channel add|remove`, the project's channel on libvirt domains. */
#include "cli.h"
#include "kvp-schema.h"
#include "provision.h"
#include "virt.h"

#include <stdlib.h>

static int channel_verb(const AvmaCliGlobals *g, int argc, char **argv, gboolean add) {
  const char *verb = add ? "channel add" : "channel remove";
  gboolean all = FALSE;
  GOptionEntry e[] = {{"all", 0, 0, G_OPTION_ARG_NONE, &all, "Every domain libvirt knows", NULL},
                      {NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_cli_parse(e, &argc, &argv, &err))
    return avma_cli_fail("%s: %s", verb, err->message), 2;
  if (all == (argc > 1))
    return avma_cli_fail("%s: give domain names (or UUIDs) or --all, not both", verb), 2;
  g_autoptr(AvmaHostConfig) c = avma_cli_config(g, &err);
  if (!c)
    return avma_cli_fail("%s", err->message);
  avma_virt_init();
  const char *uri = avma_virt_uri(c);
  g_autoptr(virConnect) conn = virConnectOpen(uri);
  if (!conn)
    return avma_cli_fail("%s: cannot connect to %s: %s", verb, uri, virGetLastErrorMessage());

  g_autoptr(GPtrArray) doms = g_ptr_array_new_with_free_func(avma_virt_domain_unref);
  int rc = 0;
  if (all) {
    virDomainPtr *list = NULL;
    int n = virConnectListAllDomains(conn, &list, 0);
    if (n < 0)
      return avma_cli_fail("%s: cannot list domains: %s", verb, virGetLastErrorMessage());
    for (int i = 0; i < n; i++)
      g_ptr_array_add(doms, list[i]);
    free(list);
    if (n == 0)
      printf("No domains.\n");
  } else {
    for (int i = 1; i < argc; i++) {
      g_autoptr(GError) lerr = NULL;
      virDomainPtr d = avma_virt_lookup(conn, argv[i], &lerr);
      if (d)
        g_ptr_array_add(doms, d);
      else
        rc = avma_cli_fail("%s: %s", verb, lerr->message);
    }
  }
  for (guint i = 0; i < doms->len; i++) {
    virDomainPtr d = doms->pdata[i];
    AvmaProvResult r;
    avma_provision_channel(d, add, TRUE, &r);
    g_autofree char *words = avma_prov_result_describe(&r, add);
    if (avma_prov_result_ok(&r)) {
      printf("%s: %s\n", virDomainGetName(d), words);
    } else {
      fprintf(stderr, "avma-host: %s: %s\n", virDomainGetName(d), words);
      rc = 1;
    }
    avma_prov_result_clear(&r);
  }
  return rc;
}

int avma_cli_channel_add(const AvmaCliGlobals *g, int argc, char **argv) {
  return channel_verb(g, argc, argv, TRUE);
}

int avma_cli_channel_remove(const AvmaCliGlobals *g, int argc, char **argv) {
  return channel_verb(g, argc, argv, FALSE);
}
