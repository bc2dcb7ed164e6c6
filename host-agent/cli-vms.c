/* cli-vms: `avma-host vms`, every domain libvirt knows merged with the daemon's view of it
 * (channel connected, last decision, intrinsic items) from STATE/vms.json. */
#include "cli.h"
#include "domxml.h"
#include "host.h"
#include "kvp-schema.h"
#include "virt.h"
#include "vmview.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char *str(JsonObject *o, const char *name) {
  return json_object_get_string_member_with_default(o, name, "");
}

static JsonObject *blank_entry(void) {
  JsonObject *o = json_object_new();
  json_object_set_string_member(o, "socket_path", "");
  avma_host_event_to_view(NULL, o);
  json_object_set_boolean_member(o, "connected", FALSE);
  json_object_set_object_member(o, "intrinsic", json_object_new());
  return o;
}

/* One row per domain libvirt lists; the daemon's entry (by VM key) fills in what only it knows. */
static gboolean add_libvirt_rows(virConnectPtr conn, GHashTable *view, GPtrArray *rows) {
  virDomainPtr *list = NULL;
  int n = virConnectListAllDomains(conn, &list, 0);
  if (n < 0)
    return FALSE;
  for (int i = 0; i < n; i++) {
    virDomainPtr d = list[i];
    char uuid[VIR_UUID_STRING_BUFLEN] = "";
    virDomainGetUUIDString(d, uuid);
    int state = VIR_DOMAIN_NOSTATE, reason;
    virDomainGetState(d, &state, &reason, 0);
    g_autofree char *xml =
        virDomainGetXMLDesc(d, state == VIR_DOMAIN_SHUTOFF ? VIR_DOMAIN_XML_INACTIVE : 0);
    AvmaDomInfo info = {0};
    g_autoptr(GError) err = NULL;
    if (!xml || !avma_domxml_parse(xml, AVMA_CHANNEL_NAME, &info, &err))
      fprintf(stderr, "avma-host: warning: %s: cannot read its XML: %s\n", virDomainGetName(d),
              err ? err->message : virGetLastErrorMessage());
    g_autofree char *key = avma_vm_key(virDomainGetName(d), uuid);
    JsonObject *known = g_hash_table_lookup(view, key);
    JsonObject *row = known ? json_object_ref(known) : blank_entry();
    if (known)
      g_hash_table_remove(view, key);
    json_object_set_string_member(row, "name", virDomainGetName(d));
    json_object_set_string_member(row, "uuid", uuid);
    json_object_set_string_member(row, "state", avma_virt_state_name(state));
    json_object_set_boolean_member(row, "channel_present", info.channel != AVMA_DOM_CHANNEL_NONE);
    json_object_set_string_member(row, "channel_detail",
                                  info.channel_detail ? info.channel_detail : "");
    if (!avma_virt_state_has_process(state))
      json_object_set_boolean_member(row, "connected", FALSE);
    json_object_set_boolean_member(row, "libvirt", TRUE);
    g_ptr_array_add(rows, row);
    avma_dom_info_clear(&info);
    virDomainFree(d);
  }
  free(list);
  return TRUE;
}

static gboolean daemon_alive(JsonObject *doc) {
  gint64 pid = json_object_get_int_member_with_default(doc, "pid", 0);
  if (!json_object_get_boolean_member_with_default(doc, "running", FALSE) || pid <= 0)
    return FALSE;
  /* EPERM: it exists but runs as another user (root's daemon, our CLI). */
  return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

static gint by_name(gconstpointer a, gconstpointer b) {
  return g_strcmp0(str(*(JsonObject **)a, "name"), str(*(JsonObject **)b, "name"));
}

static const char *dash(const char *s) {
  return s && *s ? s : "-";
}

static void print_table(GPtrArray *rows) {
  printf("%-20s  %-11s  %-10s  %-17s  %-20s  %s\n", "NAME", "STATE", "CHANNEL", "NOTIFICATION",
         "GUEST", "GRANTED UNTIL");
  for (guint i = 0; i < rows->len; i++) {
    JsonObject *r = rows->pdata[i];
    const char *channel =
        json_object_get_boolean_member_with_default(r, "connected", FALSE)          ? "connected"
        : !json_object_get_boolean_member_with_default(r, "channel_present", FALSE) ? "no"
        : *str(r, "channel_detail")                                                 ? "unusable"
                                                                                    : "present";
    g_auto(AvmaHostEvent) last;
    avma_host_event_from_view(r, &last);
    g_autofree char *guest =
        g_strstrip(g_strdup_printf("%s %s", last.guest_version ? last.guest_version : "",
                                   last.guest_edition ? last.guest_edition : ""));
    g_autofree char *until = avma_host_event_time_text(last.granted_until);
    g_autofree char *name = avma_cli_safe(str(r, "name"));
    g_autofree char *shown_guest = avma_cli_safe(guest);
    printf("%-20s  %-11s  %-10s  %-17s  %-20s  %s\n", name, dash(str(r, "state")), channel,
           dash(avma_host_event_notification_text(&last)), dash(shown_guest), dash(until));
    JsonObject *items = json_object_get_member(r, "intrinsic") &&
                                JSON_NODE_HOLDS_OBJECT(json_object_get_member(r, "intrinsic"))
                            ? json_object_get_object_member(r, "intrinsic")
                            : NULL;
    if (!items || json_object_get_size(items) == 0)
      continue;
    g_autoptr(GList) keys = g_list_sort(json_object_get_members(items), (GCompareFunc)strcmp);
    g_autoptr(GString) line = g_string_new("    ");
    for (GList *k = keys; k; k = k->next) {
      JsonNode *v = json_object_get_member(items, k->data);
      g_autofree char *ik = avma_cli_safe(k->data);
      g_autofree char *iv =
          avma_cli_safe(JSON_NODE_HOLDS_VALUE(v) && json_node_get_value_type(v) == G_TYPE_STRING
                            ? json_node_get_string(v)
                            : "");
      g_string_append_printf(line, "%s%s=%s", k == keys ? "" : "  ", ik, iv);
    }
    printf("%s\n", line->str);
  }
}

int avma_cli_vms(const AvmaCliGlobals *g, int argc, char **argv) {
  gboolean json = FALSE;
  GOptionEntry e[] = {{"json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON array", NULL}, {NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_cli_parse(e, &argc, &argv, &err))
    return avma_cli_fail("vms: %s", err->message), 2;
  if (argc > 1)
    return avma_cli_fail("vms: unexpected argument '%s'", argv[1]), 2;
  g_autoptr(AvmaHostConfig) c = avma_cli_config(g, &err);
  if (!c)
    return avma_cli_fail("%s", err->message);

  g_autofree char *path = avma_host_state_path(c, AVMA_VMVIEW_FILE);
  g_autoptr(JsonObject) doc = avma_vmview_load(path, &err);
  if (!doc) {
    fprintf(stderr, "avma-host: warning: %s\n", err->message);
    g_clear_error(&err);
    doc = json_object_new();
    json_object_set_array_member(doc, "vms", json_array_new());
  }
  gboolean alive = daemon_alive(doc);
  if (!json_object_has_member(doc, "written"))
    fprintf(stderr, "avma-host: note: no view from avma-hostd yet (%s)\n", path);
  else if (!alive)
    fprintf(stderr, "avma-host: note: avma-hostd is not running; its last view is from %s\n",
            str(doc, "written"));
  /* Entries by VM key (avma_vm_key: fixed channels, without a UUID, by name). */
  g_autoptr(GHashTable) view =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)json_object_unref);
  JsonArray *arr = json_object_get_array_member(doc, "vms");
  for (guint i = 0; i < json_array_get_length(arr); i++) {
    JsonObject *o = json_array_get_object_element(arr, i);
    if (!alive)
      json_object_set_boolean_member(o, "connected", FALSE);
    g_hash_table_replace(view, avma_vm_key(str(o, "name"), str(o, "uuid")), json_object_ref(o));
  }

  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify)json_object_unref);
  avma_virt_init();
  const char *uri = avma_virt_uri(c);
  /* Read-only: listing needs no more, and unprivileged users usually get it. */
  g_autoptr(virConnect) conn = virConnectOpenReadOnly(uri);
  if (!conn || !add_libvirt_rows(conn, view, rows))
    fprintf(stderr,
            "avma-host: warning: cannot list domains from %s: %s; showing avma-hostd's "
            "view only\n",
            uri, virGetLastErrorMessage());
  /* What libvirt does not list (fixed channels, domains gone since) still shows, marked so. */
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init(&it, view);
  while (g_hash_table_iter_next(&it, NULL, &v)) {
    json_object_set_boolean_member(v, "libvirt", FALSE);
    g_ptr_array_add(rows, json_object_ref(v));
  }
  g_ptr_array_sort(rows, by_name);

  if (json) {
    JsonArray *out = json_array_new();
    for (guint i = 0; i < rows->len; i++)
      json_array_add_object_element(out, json_object_ref(rows->pdata[i]));
    g_autoptr(JsonNode) n = json_node_new(JSON_NODE_ARRAY);
    json_node_take_array(n, out);
    avma_cli_print_json(n);
    return 0;
  }
  if (rows->len == 0) {
    printf("No VMs.\n");
    return 0;
  }
  print_table(rows);
  return 0;
}
