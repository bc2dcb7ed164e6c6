/* cli-doctor: `avma-host doctor [VM...]`, what stands between a guest and its activation, in the
 * order an operator would fix it: licence, daemon, libvirt, then each VM's channel, connection,
 * guest agent and last decision. Every check is a row of a table; it only reads. */
#include "cli.h"
#include "doctor.h"
#include "domxml.h"
#include "host.h"
#include "licence.h"
#include "timeutil.h"
#include "virt.h"
#include "vmview.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

typedef struct {
  AvmaHostConfig *config;
  AvmaLicence licence;
  gboolean licence_ok; /* licence.conf readable */
  char *licence_error;
  JsonObject *view; /* vms.json */
  gboolean daemon_alive;
  virConnectPtr conn; /* NULL: libvirt unreachable */
  char *conn_error;
  AvmaDoctorReport *report;
} Doctor;

#define add(d, ...) avma_doctor_add((d)->report, __VA_ARGS__)

static const char *str(JsonObject *o, const char *name) {
  return json_object_get_string_member_with_default(o, name, "");
}

/* ---- host-wide checks ---- */

static void check_licence_set(Doctor *d) {
  if (!d->licence_ok)
    add(d, "licence set", NULL, AVMA_DOCTOR_PROBLEM,
        "avma-host license set --version V --edition Datacenter --activated yes",
        "cannot read the licence: %s", d->licence_error);
  else if (d->licence.version == AVMA_VERSION_UNKNOWN)
    add(d, "licence set", NULL, AVMA_DOCTOR_PROBLEM,
        "avma-host license set --version V --edition Datacenter --activated yes",
        "not set: guests get Invalid Host");
  else
    add(d, "licence set", NULL, AVMA_DOCTOR_OK, NULL, "%s %s",
        avma_version_display(d->licence.version), avma_edition_display(d->licence.edition));
}

static void check_licence_activated(Doctor *d) {
  if (!d->licence_ok || d->licence.version == AVMA_VERSION_UNKNOWN)
    return;
  if (d->licence.activated)
    add(d, "licence activated", NULL, AVMA_DOCTOR_OK, NULL, "activated");
  else
    add(d, "licence activated", NULL, AVMA_DOCTOR_PROBLEM,
        "activate the host, then: avma-host license set ... --activated yes",
        "not activated: guests get Invalid Host");
}

static void check_licence_datacenter(Doctor *d) {
  if (!d->licence_ok || d->licence.version == AVMA_VERSION_UNKNOWN)
    return;
  AvmaEdition e = d->licence.edition;
  if (e == AVMA_EDITION_DATACENTER || e == AVMA_EDITION_DATACENTER_AZURE)
    add(d, "licence Datacenter", NULL, AVMA_DOCTOR_OK, NULL, "%s", avma_edition_display(e));
  else
    add(d, "licence Datacenter", NULL, AVMA_DOCTOR_PROBLEM,
        "license the host as Datacenter: avma-host license set ... --edition Datacenter",
        "%s: only a Datacenter host activates guests", avma_edition_display(e));
}

static void check_daemon(Doctor *d) {
  if (d->daemon_alive)
    add(d, "daemon running", NULL, AVMA_DOCTOR_OK, NULL, "avma-hostd pid %" G_GINT64_FORMAT,
        json_object_get_int_member_with_default(d->view, "pid", 0));
  else if (!json_object_has_member(d->view, "written"))
    add(d, "daemon running", NULL, AVMA_DOCTOR_PROBLEM, "systemctl start avma-hostd",
        "no view from avma-hostd in %s", d->config->state_dir);
  else
    add(d, "daemon running", NULL, AVMA_DOCTOR_PROBLEM, "systemctl start avma-hostd",
        "avma-hostd is not running (its last view is from %s)", str(d->view, "written"));
}

static void check_libvirt(Doctor *d) {
  if (d->conn)
    add(d, "libvirt reachable", NULL, AVMA_DOCTOR_OK, NULL, "%s", avma_virt_uri(d->config));
  else
    add(d, "libvirt reachable", NULL, AVMA_DOCTOR_WARNING,
        "start libvirtd or give the right --connect URI (fixed channels need no libvirt)", "%s: %s",
        avma_virt_uri(d->config), d->conn_error);
}

static void (*const host_checks[])(Doctor *) = {
    check_licence_set, check_licence_activated, check_licence_datacenter,
    check_daemon,      check_libvirt,
};

/* ---- per-VM checks ---- */

typedef struct {
  char *name;
  char *uuid;
  JsonObject *entry;   /* the daemon's view of it, or NULL */
  virDomainPtr domain; /* NULL: not a libvirt domain (fixed channel) or libvirt unreachable */
} DocVm;

static void doc_vm_free(gpointer p) {
  DocVm *v = p;
  g_free(v->name);
  g_free(v->uuid);
  if (v->entry)
    json_object_unref(v->entry);
  if (v->domain)
    virDomainFree(v->domain);
  g_free(v);
}

static void channel_in(Doctor *d, DocVm *v, const char *check, unsigned flags) {
  g_autofree char *xml = virDomainGetXMLDesc(v->domain, flags);
  AvmaDomInfo info = {0};
  g_autoptr(GError) err = NULL;
  g_autofree char *add_fix = g_strdup_printf("avma-host channel add %s", v->name);
  if (!xml) {
    add(d, check, v->name, AVMA_DOCTOR_WARNING, NULL, "cannot read its XML: %s",
        virGetLastErrorMessage());
    return;
  }
  if (!avma_domxml_parse(xml, AVMA_CHANNEL_NAME, &info, &err))
    add(d, check, v->name, AVMA_DOCTOR_WARNING, NULL, "cannot parse its XML: %s", err->message);
  else if (info.channel == AVMA_DOM_CHANNEL_NONE)
    add(d, check, v->name, AVMA_DOCTOR_PROBLEM, add_fix, "no %s channel", AVMA_CHANNEL_NAME);
  else if (info.channel == AVMA_DOM_CHANNEL_UNUSABLE)
    add(d, check, v->name, AVMA_DOCTOR_PROBLEM,
        "avma-host channel remove it, then avma-host channel add it",
        "the %s channel is unusable: %s", AVMA_CHANNEL_NAME, info.channel_detail);
  else
    add(d, check, v->name, AVMA_DOCTOR_OK, NULL, "channel present");
  avma_dom_info_clear(&info);
}

static gboolean vm_running(DocVm *v) {
  int state = VIR_DOMAIN_NOSTATE, reason;
  return v->domain && virDomainGetState(v->domain, &state, &reason, 0) == 0 &&
         avma_virt_state_has_process(state);
}

static void check_channel_defined(Doctor *d, DocVm *v) {
  if (!v->domain) {
    if (!d->conn)
      return;
    add(d, "channel defined", v->name, AVMA_DOCTOR_OK, NULL,
        "a fixed channel (host.conf), not a domain");
    return;
  }
  channel_in(d, v, "channel defined", VIR_DOMAIN_XML_INACTIVE);
}

static void check_channel_live(Doctor *d, DocVm *v) {
  if (!v->domain)
    return;
  if (!vm_running(v)) {
    add(d, "channel live", v->name, AVMA_DOCTOR_WARNING, "start the domain",
        "the domain is not running");
    return;
  }
  channel_in(d, v, "channel live", 0);
}

static gboolean connected(Doctor *d, DocVm *v) {
  return d->daemon_alive && v->entry &&
         json_object_get_boolean_member_with_default(v->entry, "connected", FALSE);
}

/* A shut-off domain has no socket and no guest to hear from: nothing to fix until it starts. */
static gboolean shut_off(Doctor *d, DocVm *v, const char *check) {
  if (!v->domain || vm_running(v))
    return FALSE;
  add(d, check, v->name, AVMA_DOCTOR_WARNING, "start the domain", "the domain is not running");
  return TRUE;
}

static void check_socket(Doctor *d, DocVm *v) {
  if (shut_off(d, v, "socket connected"))
    return;
  if (connected(d, v))
    add(d, "socket connected", v->name, AVMA_DOCTOR_OK, NULL, "%s", str(v->entry, "socket_path"));
  else if (!d->daemon_alive)
    add(d, "socket connected", v->name, AVMA_DOCTOR_PROBLEM, "systemctl start avma-hostd",
        "avma-hostd is not running");
  else if (!v->entry)
    add(d, "socket connected", v->name, AVMA_DOCTOR_PROBLEM,
        "add its channel (avma-host channel add) and start the domain",
        "avma-hostd does not serve this VM");
  else
    add(d, "socket connected", v->name, AVMA_DOCTOR_PROBLEM,
        "start the VM; check avma-hostd's journal for the socket's error",
        "avma-hostd is not connected to %s",
        *str(v->entry, "socket_path") ? str(v->entry, "socket_path") : "its channel socket");
}

static gboolean has_items(JsonObject *entry, const char *member) {
  JsonNode *n = entry ? json_object_get_member(entry, member) : NULL;
  return n && JSON_NODE_HOLDS_OBJECT(n) && json_object_get_size(json_node_get_object(n)) > 0;
}

/* The view's entry holds a decision (read through host-event.c, which owns the field names). */
static gboolean has_decision(DocVm *v) {
  if (!v->entry)
    return FALSE;
  g_auto(AvmaHostEvent) last;
  avma_host_event_from_view(v->entry, &last);
  return last.notification != AVMA_HOST_EVENT_NONE;
}

static gboolean heard_from(DocVm *v) {
  if (!v->entry)
    return FALSE;
  if (has_decision(v) || has_items(v->entry, "intrinsic"))
    return TRUE;
  JsonNode *kvp = json_object_get_member(v->entry, "kvp");
  return kvp && JSON_NODE_HOLDS_OBJECT(kvp) && has_items(json_node_get_object(kvp), "guest");
}

static void check_guest(Doctor *d, DocVm *v) {
  if (heard_from(v))
    add(d, "guest agent heard from", v->name, AVMA_DOCTOR_OK, NULL, "%s",
        has_decision(v) ? "it has asked for activation" : "its KVP items arrived");
  else if (!shut_off(d, v, "guest agent heard from"))
    add(d, "guest agent heard from", v->name, AVMA_DOCTOR_PROBLEM,
        "install and start avma-guestd in the guest", "never heard from the guest agent");
}

static void check_decision(Doctor *d, DocVm *v) {
  if (!has_decision(v)) {
    add(d, "last decision", v->name, AVMA_DOCTOR_WARNING, "wait for the guest's first request",
        "no decision yet");
    return;
  }
  g_auto(AvmaHostEvent) last;
  avma_host_event_from_view(v->entry, &last);
  g_autofree char *when = avma_host_event_time_text(last.time);
  const char *note = avma_host_event_notification_text(&last);
  if (last.notification != AVMA_NOTIFY_SUCCESS) {
    add(d, "last decision", v->name, AVMA_DOCTOR_PROBLEM,
        "fix the host checks above, then the guest retries on its own", "%s (%s) at %s", note,
        avma_host_event_reason_code(&last), when);
    return;
  }
  g_autofree char *until = avma_host_event_time_text(last.granted_until);
  gint64 now = g_get_real_time() / G_USEC_PER_SEC;
  if (last.granted_until <= now)
    add(d, "last decision", v->name, AVMA_DOCTOR_WARNING,
        "the guest agent renews on its own; check it is running",
        "%s at %s, expired %s: renewal overdue", note, when, until);
  else
    /* The guest renews well before expiry; granted_until is the latest it may be decided by. */
    add(d, "last decision", v->name, AVMA_DOCTOR_OK, NULL,
        "%s at %s; granted until %s (validity %" G_GINT64_FORMAT " s), renewal due by then", note,
        when, until, d->config->validity);
}

static void (*const vm_checks[])(Doctor *, DocVm *) = {
    check_channel_defined, check_channel_live, check_socket, check_guest, check_decision,
};

/* ---- which VMs ---- */

static DocVm *find_vm(GPtrArray *vms, const char *name, const char *uuid) {
  for (guint i = 0; i < vms->len; i++) {
    DocVm *v = vms->pdata[i];
    if ((*uuid && g_strcmp0(v->uuid, uuid) == 0) ||
        (!*uuid && !*v->uuid && !g_strcmp0(v->name, name)))
      return v;
  }
  return NULL;
}

/* Every VM of the daemon's view and of libvirt, once each. */
static GPtrArray *all_vms(Doctor *d) {
  GPtrArray *vms = g_ptr_array_new_with_free_func(doc_vm_free);
  JsonArray *arr = json_object_get_array_member(d->view, "vms");
  for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
    JsonObject *o = json_array_get_object_element(arr, i);
    DocVm *v = g_new0(DocVm, 1);
    v->name = g_strdup(str(o, "name"));
    v->uuid = g_strdup(str(o, "uuid"));
    v->entry = json_object_ref(o);
    g_ptr_array_add(vms, v);
  }
  virDomainPtr *list = NULL;
  int n = d->conn ? virConnectListAllDomains(d->conn, &list, 0) : 0;
  for (int i = 0; i < n; i++) {
    char uuid[VIR_UUID_STRING_BUFLEN] = "";
    virDomainGetUUIDString(list[i], uuid);
    DocVm *v = find_vm(vms, virDomainGetName(list[i]), uuid);
    if (!v) {
      v = g_new0(DocVm, 1);
      v->name = g_strdup(virDomainGetName(list[i]));
      v->uuid = g_strdup(uuid);
      g_ptr_array_add(vms, v);
    }
    if (v->domain)
      virDomainFree(list[i]);
    else
      v->domain = list[i];
  }
  free(list);
  return vms;
}

static gint by_name(gconstpointer a, gconstpointer b) {
  return g_strcmp0((*(DocVm **)a)->name, (*(DocVm **)b)->name);
}

int avma_cli_doctor(const AvmaCliGlobals *g, int argc, char **argv) {
  gboolean json = FALSE;
  GOptionEntry e[] = {{"json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON array", NULL}, {NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_cli_parse(e, &argc, &argv, &err))
    return avma_cli_fail("doctor: %s", err->message), 2;
  g_autoptr(AvmaHostConfig) c = avma_cli_config(g, &err);
  if (!c)
    return avma_cli_fail("%s", err->message);

  Doctor d = {.config = c};
  d.report = avma_doctor_report_new();
  d.licence_ok = avma_licence_load(c->state_dir, &d.licence, &err);
  if (!d.licence_ok) {
    d.licence_error = g_strdup(err->message);
    g_clear_error(&err);
  }
  g_autofree char *path = avma_host_state_path(c, AVMA_VMVIEW_FILE);
  d.view = avma_vmview_load(path, &err);
  if (!d.view) {
    fprintf(stderr, "avma-host: warning: %s\n", err->message);
    g_clear_error(&err);
    d.view = json_object_new();
  }
  gint64 pid = json_object_get_int_member_with_default(d.view, "pid", 0);
  /* EPERM: it exists but runs as another user (root's daemon, our CLI). */
  d.daemon_alive = json_object_get_boolean_member_with_default(d.view, "running", FALSE) &&
                   pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
  avma_virt_init();
  d.conn = virConnectOpenReadOnly(avma_virt_uri(c));
  if (!d.conn)
    d.conn_error = g_strdup(virGetLastErrorMessage());

  g_autoptr(GPtrArray) vms = all_vms(&d);
  g_ptr_array_sort(vms, by_name);
  g_autoptr(GPtrArray) chosen = g_ptr_array_new();
  int rc = 0;
  for (int i = 1; i < argc; i++) {
    gboolean found = FALSE;
    for (guint j = 0; j < vms->len; j++) {
      DocVm *v = vms->pdata[j];
      if (!g_strcmp0(v->name, argv[i]) || (*v->uuid && !g_ascii_strcasecmp(v->uuid, argv[i]))) {
        g_ptr_array_add(chosen, v);
        found = TRUE;
      }
    }
    if (!found) {
      g_autofree char *shown = avma_cli_safe(argv[i]);
      avma_cli_fail("doctor: no VM named '%s' (see avma-host vms)", shown);
      rc = 2;
    }
  }
  if (rc == 0) {
    if (argc <= 1)
      for (guint j = 0; j < vms->len; j++)
        g_ptr_array_add(chosen, vms->pdata[j]);
    for (size_t i = 0; i < G_N_ELEMENTS(host_checks); i++)
      host_checks[i](&d);
    for (guint j = 0; j < chosen->len; j++)
      for (size_t i = 0; i < G_N_ELEMENTS(vm_checks); i++)
        vm_checks[i](&d, chosen->pdata[j]);
    avma_doctor_print(d.report, json);
    rc = avma_doctor_has_problem(d.report) ? 1 : 0;
  }
  avma_doctor_report_free(d.report);
  avma_licence_clear(&d.licence);
  g_free(d.licence_error);
  g_free(d.conn_error);
  json_object_unref(d.view);
  g_clear_pointer(&vms, g_ptr_array_unref);
  if (d.conn)
    virConnectClose(d.conn);
  return rc;
}
