/* cli-cluster: `avma-host cluster check`: for every host a VM can run on (the libvirt URIs given,
 * or a file listing them), whether that host's agent would activate every guest version the
 * cluster's VMs carry, and which VMs would lose activation on which host. Hyper-V documents that
 * every host must be activated but never checks it. */
#include "cli.h"

#include "host-event.h"
#include "licence.h"
#include "metadata.h"
#include "timeutil.h"
#include "virt.h"

#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <string.h>

/* A licence command that has not answered by then is taken as failed (ssh to a dead host). */
#define LICENCE_COMMAND_TIMEOUT_S 30
#define DEFAULT_LICENCE_COMMAND                                                                    \
  "ssh -o BatchMode=yes -o ConnectTimeout=10 {host} avma-host license show --json"

typedef struct {
  char *uri;
  char *command; /* licence command template; NULL: the default for the URI */
  char *hostname;
  char *host_uuid;
  char *error;        /* unreachable: why */
  char *duplicate_of; /* same host as an earlier URI: not checked again */
  gboolean licence_known;
  char *licence_error;
  AvmaHostLicence licence;
  char *licence_text;
  guint vms; /* domains defined or running there */
} Host;

typedef struct {
  char *key; /* UUID, else name */
  char *name;
  char *uuid;
  char *version_text, *edition_text;
  AvmaVersion version;
  AvmaEdition edition;
  gint64 decided_at; /* the metadata's time: the newest copy wins */
  GPtrArray *on;     /* host names it is defined or running on */
  GPtrArray *losses; /* JsonObject: {host, uri, notification, reason} */
} Vm;

static void host_free(gpointer p) {
  Host *h = p;
  g_free(h->uri);
  g_free(h->command);
  g_free(h->hostname);
  g_free(h->host_uuid);
  g_free(h->error);
  g_free(h->duplicate_of);
  g_free(h->licence_error);
  g_free(h->licence_text);
  g_free(h);
}

static void vm_free(gpointer p) {
  Vm *v = p;
  g_free(v->key);
  g_free(v->name);
  g_free(v->uuid);
  g_free(v->version_text);
  g_free(v->edition_text);
  g_ptr_array_unref(v->on);
  g_ptr_array_unref(v->losses);
  g_free(v);
}

static const char *host_label(const Host *h) {
  return h->hostname ? h->hostname : h->uri;
}

static Host *host_add(GPtrArray *hosts, const char *uri, const char *command) {
  for (guint i = 0; i < hosts->len; i++) {
    Host *o = hosts->pdata[i];
    if (!strcmp(o->uri, uri)) {
      g_autofree char *shown = avma_cli_safe(uri);
      fprintf(stderr, "avma-host: warning: cluster check: %s is listed twice: checked once\n",
              shown);
      return o;
    }
  }
  Host *h = g_new0(Host, 1);
  h->uri = g_strdup(uri);
  h->command = g_strdup(command);
  g_ptr_array_add(hosts, h);
  return h;
}

/* FILE: one host a line, "URI [LICENCE-COMMAND]"; blank lines and '#' comments are skipped. */
static gboolean read_hosts_file(const char *path, GPtrArray *hosts, GError **error) {
  g_autofree char *text = NULL;
  if (!g_file_get_contents(path, &text, NULL, error))
    return FALSE;
  if (!g_utf8_validate(text, -1, NULL))
    return g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s is not UTF-8 text", path),
           FALSE;
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (guint n = 0; lines[n]; n++) {
    char *line = g_strstrip(lines[n]);
    if (!*line || *line == '#')
      continue;
    char *sep = line + strcspn(line, " \t");
    char *command = NULL;
    if (*sep) {
      *sep = '\0';
      command = g_strstrip(sep + 1);
    }
    host_add(hosts, line, command && *command ? command : NULL);
  }
  return TRUE;
}

/* The host part of a libvirt URI ("" for a local one such as qemu:///system). */
static char *uri_host(const char *uri) {
  g_autoptr(GUri) u = g_uri_parse(uri, G_URI_FLAGS_NON_DNS, NULL);
  return g_strdup(u && g_uri_get_host(u) ? g_uri_get_host(u) : "");
}

static char *caps_host_uuid(const char *caps) {
  xmlDoc *doc = xmlReadMemory(caps, (int)strlen(caps), "capabilities.xml", NULL,
                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (!doc)
    return NULL;
  char *uuid = NULL;
  xmlXPathContext *ctx = xmlXPathNewContext(doc);
  xmlXPathObject *r =
      ctx ? xmlXPathEvalExpression(BAD_CAST "string(/capabilities/host/uuid)", ctx) : NULL;
  if (r && r->type == XPATH_STRING && r->stringval && *r->stringval)
    uuid = g_strdup((const char *)r->stringval);
  xmlXPathFreeObject(r);
  xmlXPathFreeContext(ctx);
  xmlFreeDoc(doc);
  return uuid;
}

typedef struct {
  GMainLoop *loop;
  char *out, *err;
  GError *error;
  gboolean timed_out;
} Run;

static void on_communicated(GObject *src, GAsyncResult *res, gpointer user) {
  Run *r = user;
  g_subprocess_communicate_utf8_finish(G_SUBPROCESS(src), res, &r->out, &r->err, &r->error);
  g_main_loop_quit(r->loop);
}

static gboolean on_run_timeout(gpointer user) {
  Run *r = user;
  r->timed_out = TRUE;
  g_main_loop_quit(r->loop);
  return G_SOURCE_REMOVE;
}

/* Run argv and collect its standard output, within LICENCE_COMMAND_TIMEOUT_S. */
static char *run_command(char **argv, GError **error) {
  g_autoptr(GSubprocess) p =
      g_subprocess_newv((const char *const *)argv,
                        G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, error);
  if (!p)
    return NULL;
  g_autoptr(GMainContext) ctx = g_main_context_new();
  g_main_context_push_thread_default(ctx);
  Run r = {.loop = g_main_loop_new(ctx, FALSE)};
  g_subprocess_communicate_utf8_async(p, NULL, NULL, on_communicated, &r);
  GSource *t = g_timeout_source_new_seconds(LICENCE_COMMAND_TIMEOUT_S);
  g_source_set_callback(t, on_run_timeout, &r, NULL);
  g_source_attach(t, ctx);
  g_main_loop_run(r.loop);
  g_source_destroy(t);
  g_source_unref(t);
  if (r.timed_out) {
    g_subprocess_force_exit(p);
    /* Let the communication finish with the process gone, so nothing is left pending. */
    while (!r.out && !r.error)
      g_main_context_iteration(ctx, TRUE);
  }
  g_main_loop_unref(r.loop);
  g_main_context_pop_thread_default(ctx);
  g_autofree char *err_text = g_strdup(r.err ? g_strstrip(r.err) : "");
  g_free(r.err);
  if (r.timed_out) {
    g_clear_error(&r.error);
    g_free(r.out);
    return g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no answer within %d s",
                       LICENCE_COMMAND_TIMEOUT_S),
           NULL;
  }
  if (r.error) {
    g_propagate_error(error, r.error);
    g_free(r.out);
    return NULL;
  }
  if (!g_subprocess_get_if_exited(p) || g_subprocess_get_exit_status(p) != 0) {
    g_free(r.out);
    return g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "exit status %d%s%s",
                       g_subprocess_get_if_exited(p) ? g_subprocess_get_exit_status(p) : -1,
                       *err_text ? ": " : "", err_text),
           NULL;
  }
  return r.out;
}

/* `license show --json` output: the members avma_licence_to_json writes. */
static gboolean parse_licence(const char *text, AvmaHostLicence *out, GError **error) {
  g_autoptr(JsonParser) p = json_parser_new();
  if (!json_parser_load_from_data(p, text, -1, error))
    return FALSE;
  JsonNode *root = json_parser_get_root(p);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root))
    return g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "not a licence (no object)"),
           FALSE;
  JsonObject *o = json_node_get_object(root);
  *out = (AvmaHostLicence){AVMA_VERSION_UNKNOWN, AVMA_EDITION_UNKNOWN, false};
  if (!json_object_get_boolean_member_with_default(o, "set", FALSE))
    return TRUE;
  const char *v = json_object_get_string_member_with_default(o, "version", "");
  const char *e = json_object_get_string_member_with_default(o, "edition", "");
  if (!avma_version_parse(v, &out->version) || !avma_edition_parse(e, &out->edition))
    return g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "not a licence (version '%s', edition '%s')", v, e),
           FALSE;
  out->activated = json_object_get_boolean_member_with_default(o, "activated", FALSE);
  return TRUE;
}

static char *licence_text(const AvmaHostLicence *l) {
  if (l->version == AVMA_VERSION_UNKNOWN)
    return g_strdup("licence not set");
  return g_strdup_printf("%s %s, %s", avma_version_name(l->version),
                         avma_edition_display(l->edition),
                         l->activated ? "activated" : "not activated");
}

static void load_licence(const AvmaHostConfig *c, Host *h) {
  g_autoptr(GError) err = NULL;
  g_autofree char *where = uri_host(h->uri);
  if (!h->command && !*where) {
    /* A local URI: this host's own licence. */
    AvmaLicence l;
    if (!avma_licence_load(c->state_dir, &l, &err)) {
      h->licence_error = g_strdup(err->message);
      return;
    }
    h->licence = avma_licence_policy_view(&l);
    avma_licence_clear(&l);
    h->licence_known = TRUE;
    return;
  }
  g_auto(GStrv) argv = NULL;
  if (!g_shell_parse_argv(h->command ? h->command : DEFAULT_LICENCE_COMMAND, NULL, &argv, &err)) {
    h->licence_error = g_strdup_printf("licence command: %s", err->message);
    return;
  }
  /* Substituted after splitting, so a URI or host name is always one argument. */
  for (guint i = 0; argv[i]; i++) {
    g_autoptr(GString) s = g_string_new(argv[i]);
    g_string_replace(s, "{uri}", h->uri, 0);
    g_string_replace(s, "{host}", where, 0);
    g_free(argv[i]);
    argv[i] = g_string_free(g_steal_pointer(&s), FALSE);
  }
  g_autofree char *out = run_command(argv, &err);
  if (!out || !parse_licence(out, &h->licence, &err)) {
    g_autofree char *cmd = g_strjoinv(" ", argv);
    h->licence_error = g_strdup_printf("'%s' failed: %s", cmd, err->message);
    return;
  }
  h->licence_known = TRUE;
}

static const char *element_text(const char *element, gpointer user) {
  return g_hash_table_lookup(user, element);
}

/* The activation metadata of dom: guest version and edition, and when it was decided. */
static gboolean read_activation(virDomainPtr dom, char **version, char **edition, gint64 *at) {
  char *xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, AVMA_METADATA_NS,
                                   VIR_DOMAIN_AFFECT_CURRENT);
  if (!xml)
    return FALSE;
  xmlDoc *doc = xmlReadMemory(xml, (int)strlen(xml), "metadata.xml", NULL,
                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  free(xml);
  xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
  g_autoptr(GHashTable) texts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  for (xmlNode *n = root ? root->children : NULL; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE) {
      xmlChar *t = xmlNodeGetContent(n);
      g_hash_table_replace(texts, g_strdup((const char *)n->name),
                           g_strdup(t ? (const char *)t : ""));
      xmlFree(t);
    }
  xmlFreeDoc(doc);
  g_auto(AvmaHostEvent) ev = {0};
  avma_host_event_from_elements(element_text, texts, &ev);
  *version = g_strdup(ev.guest_version);
  *edition = g_strdup(ev.guest_edition);
  *at = ev.time;
  return *version && **version;
}

static void collect_vms(Host *h, virConnectPtr conn, GHashTable *vms, GPtrArray *order) {
  virDomainPtr *list = NULL;
  int n = virConnectListAllDomains(conn, &list, 0);
  if (n < 0) {
    h->error = g_strdup_printf("cannot list domains: %s", virGetLastErrorMessage());
    return;
  }
  h->vms = (guint)n;
  for (int i = 0; i < n; i++) {
    char uuid[VIR_UUID_STRING_BUFLEN] = "";
    if (virDomainGetUUIDString(list[i], uuid) < 0)
      uuid[0] = '\0';
    const char *name = virDomainGetName(list[i]);
    const char *key = *uuid ? uuid : name;
    Vm *v = g_hash_table_lookup(vms, key);
    if (!v) {
      v = g_new0(Vm, 1);
      v->key = g_strdup(key);
      v->name = g_strdup(name ? name : "");
      v->uuid = g_strdup(uuid);
      v->on = g_ptr_array_new_with_free_func(g_free);
      v->losses = g_ptr_array_new_with_free_func((GDestroyNotify)json_object_unref);
      g_hash_table_insert(vms, v->key, v);
      g_ptr_array_add(order, v);
    }
    g_ptr_array_add(v->on, g_strdup(host_label(h)));
    g_autofree char *version = NULL, *edition = NULL;
    gint64 at = 0;
    if (read_activation(list[i], &version, &edition, &at) &&
        (!v->version_text || at > v->decided_at)) {
      g_free(v->version_text);
      g_free(v->edition_text);
      v->version_text = g_steal_pointer(&version);
      v->edition_text = g_steal_pointer(&edition);
      v->decided_at = at;
    }
    virDomainFree(list[i]);
  }
  free(list);
}

static void check_host(const AvmaHostConfig *c, Host *h, GPtrArray *hosts, GHashTable *vms,
                       GPtrArray *order) {
  virConnectPtr conn = virConnectOpenReadOnly(h->uri);
  if (!conn) {
    h->error = g_strdup(virGetLastErrorMessage());
    return;
  }
  char *name = virConnectGetHostname(conn);
  h->hostname = g_strdup(name);
  free(name);
  char *caps = virConnectGetCapabilities(conn);
  h->host_uuid = caps ? caps_host_uuid(caps) : NULL;
  free(caps);
  for (guint i = 0; h->host_uuid && i < hosts->len && hosts->pdata[i] != h; i++) {
    Host *o = hosts->pdata[i];
    if (!g_strcmp0(o->host_uuid, h->host_uuid)) {
      h->duplicate_of = g_strdup(o->uri);
      virConnectClose(conn);
      return;
    }
  }
  collect_vms(h, conn, vms, order);
  virConnectClose(conn);
  load_licence(c, h);
  if (h->licence_known)
    h->licence_text = licence_text(&h->licence);
}

/* Would host h activate v? The decision table itself, asked with the catalogue's key for v's
 * product, so this check can never disagree with what avma-hostd answers. */
static void judge(Vm *v, const Host *h) {
  const AvmaCatalogueEntry *e = avma_catalogue_find(v->version, v->edition);
  AvmaRequest req = {e ? e->key : NULL, avma_version_name(v->version),
                     avma_edition_name(v->edition)};
  AvmaDecision d;
  avma_policy_decide(&h->licence, &req, &d);
  if (d.notification == AVMA_NOTIFY_SUCCESS)
    return;
  JsonObject *o = json_object_new();
  json_object_set_string_member(o, "host", host_label(h));
  json_object_set_string_member(o, "uri", h->uri);
  json_object_set_string_member(o, "answer", avma_notification_name(d.notification));
  json_object_set_string_member(o, "code", avma_reason_code(d.reason));
  json_object_set_string_member(o, "why", d.text);
  g_ptr_array_add(v->losses, o);
}

static JsonObject *host_json(const Host *h) {
  JsonObject *o = json_object_new();
  json_object_set_string_member(o, "uri", h->uri);
  json_object_set_string_member(o, "hostname", h->hostname ? h->hostname : "");
  json_object_set_string_member(o, "host_uuid", h->host_uuid ? h->host_uuid : "");
  json_object_set_boolean_member(o, "reachable", !h->error && h->hostname);
  json_object_set_string_member(o, "error", h->error ? h->error : "");
  json_object_set_string_member(o, "duplicate_of", h->duplicate_of ? h->duplicate_of : "");
  json_object_set_boolean_member(o, "licence_known", h->licence_known);
  json_object_set_string_member(o, "licence_error", h->licence_error ? h->licence_error : "");
  json_object_set_string_member(
      o, "licence_version",
      h->licence_known && h->licence.version ? avma_version_name(h->licence.version) : "");
  json_object_set_string_member(
      o, "licence_edition",
      h->licence_known && h->licence.edition ? avma_edition_name(h->licence.edition) : "");
  json_object_set_boolean_member(o, "licence_activated", h->licence_known && h->licence.activated);
  json_object_set_int_member(o, "vms", h->vms);
  return o;
}

static JsonObject *vm_json(const Vm *v) {
  JsonObject *o = json_object_new();
  json_object_set_string_member(o, "name", v->name);
  json_object_set_string_member(o, "uuid", v->uuid);
  json_object_set_string_member(o, "version", v->version ? avma_version_name(v->version) : "");
  json_object_set_string_member(o, "edition", v->edition ? avma_edition_name(v->edition) : "");
  JsonArray *on = json_array_new();
  for (guint i = 0; i < v->on->len; i++)
    json_array_add_string_element(on, v->on->pdata[i]);
  json_object_set_array_member(o, "on", on);
  JsonArray *losses = json_array_new();
  for (guint i = 0; i < v->losses->len; i++)
    json_array_add_object_element(losses, json_object_ref(v->losses->pdata[i]));
  json_object_set_array_member(o, "loses_activation_on", losses);
  return o;
}

/* Whether h activates any guest at all (its licence's own state), and why not. */
static gboolean host_serves(const Host *h, AvmaDecision *d) {
  AvmaRequest none = {0};
  avma_policy_decide(&h->licence, &none, d);
  return d->reason != AVMA_REASON_HOST_UNLICENSED && d->reason != AVMA_REASON_HOST_NOT_DATACENTER &&
         d->reason != AVMA_REASON_HOST_NOT_ACTIVATED;
}

static void print_host(const Host *h) {
  g_autofree char *uri = avma_cli_safe(h->uri);
  g_autofree char *label = avma_cli_safe(host_label(h));
  printf("  %-16s %s: ", label, uri);
  AvmaDecision d;
  if (h->duplicate_of) {
    g_autofree char *dup = avma_cli_safe(h->duplicate_of);
    printf("the same host as %s (host UUID %s): checked once\n", dup, h->host_uuid);
  } else if (h->error) {
    g_autofree char *e = avma_cli_safe(h->error);
    printf("UNREACHABLE: %s\n", e);
  } else if (!h->licence_known) {
    g_autofree char *e = avma_cli_safe(h->licence_error);
    printf("LICENCE UNKNOWN: %s\n", e);
  } else if (host_serves(h, &d)) {
    printf("%s: activates guests up to %s\n", h->licence_text,
           avma_version_name(h->licence.version));
  } else {
    printf("%s: ACTIVATES NO GUEST (%s)\n", h->licence_text, d.text);
  }
}

static void print_vm(const Vm *v) {
  g_autofree char *name = avma_cli_safe(*v->name ? v->name : v->uuid);
  g_autoptr(GString) on = g_string_new(NULL);
  for (guint i = 0; i < v->on->len; i++) {
    g_autofree char *h = avma_cli_safe(v->on->pdata[i]);
    g_string_append_printf(on, "%s%s", i ? ", " : "", h);
  }
  if (!v->version) {
    printf("  %-16s on %s: product unknown (no activation recorded yet): not checked\n", name,
           on->str);
    return;
  }
  printf("  %-16s on %s: %s %s: ", name, on->str, avma_version_name(v->version),
         avma_edition_name(v->edition));
  if (!v->losses->len) {
    printf("activates on every host\n");
    return;
  }
  printf("LOSES ACTIVATION on\n");
  for (guint j = 0; j < v->losses->len; j++) {
    JsonObject *l = v->losses->pdata[j];
    g_autofree char *host = avma_cli_safe(json_object_get_string_member(l, "host"));
    g_autofree char *uri = avma_cli_safe(json_object_get_string_member(l, "uri"));
    printf("  %-16s   %s (%s): %s (%s)\n", "", host, uri,
           json_object_get_string_member(l, "answer"), json_object_get_string_member(l, "why"));
  }
}

int avma_cli_cluster_check(const AvmaCliGlobals *g, int argc, char **argv) {
  gboolean json = FALSE;
  g_autofree char *hosts_file = NULL, *command = NULL;
  GOptionEntry e[] = {{"hosts", 0, 0, G_OPTION_ARG_FILENAME, &hosts_file,
                       "Hosts, one 'URI [COMMAND]' a line", "FILE"},
                      {"licence-command", 0, 0, G_OPTION_ARG_STRING, &command,
                       "How to read a remote host's licence", "COMMAND"},
                      {"json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON object", NULL},
                      {NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_cli_parse(e, &argc, &argv, &err))
    return avma_cli_fail("cluster check: %s", err->message), 2;
  g_autoptr(AvmaHostConfig) c = avma_cli_config(g, &err);
  if (!c)
    return avma_cli_fail("%s", err->message);
  g_autoptr(GPtrArray) hosts = g_ptr_array_new_with_free_func(host_free);
  if (hosts_file && !read_hosts_file(hosts_file, hosts, &err))
    return avma_cli_fail("cluster check: %s", err->message), 2;
  for (int i = 1; i < argc; i++)
    host_add(hosts, argv[i], NULL);
  if (!hosts->len)
    return avma_cli_fail("cluster check: no hosts: give libvirt URIs or --hosts FILE"), 2;
  for (guint i = 0; command && i < hosts->len; i++) {
    Host *h = hosts->pdata[i];
    if (!h->command)
      h->command = g_strdup(command);
  }

  avma_virt_init();
  g_autoptr(GHashTable) vms = g_hash_table_new(g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) order = g_ptr_array_new_with_free_func(vm_free);
  for (guint i = 0; i < hosts->len; i++)
    check_host(c, hosts->pdata[i], hosts, vms, order);

  guint problems = 0;
  for (guint i = 0; i < hosts->len; i++) {
    Host *h = hosts->pdata[i];
    AvmaDecision d;
    if (h->duplicate_of)
      continue;
    if (h->error || !h->licence_known || !host_serves(h, &d))
      problems++;
  }
  for (guint j = 0; j < order->len; j++) {
    Vm *v = order->pdata[j];
    if (!v->version_text || !avma_version_parse(v->version_text, &v->version) ||
        !avma_edition_parse(v->edition_text ? v->edition_text : "", &v->edition)) {
      v->version = AVMA_VERSION_UNKNOWN;
      continue;
    }
    for (guint i = 0; i < hosts->len; i++) {
      Host *h = hosts->pdata[i];
      if (!h->duplicate_of && !h->error && h->licence_known)
        judge(v, h);
    }
    problems += v->losses->len;
  }

  if (json) {
    g_autoptr(JsonObject) o = json_object_new();
    JsonArray *ha = json_array_new(), *va = json_array_new();
    for (guint i = 0; i < hosts->len; i++)
      json_array_add_object_element(ha, host_json(hosts->pdata[i]));
    for (guint j = 0; j < order->len; j++)
      json_array_add_object_element(va, vm_json(order->pdata[j]));
    json_object_set_array_member(o, "hosts", ha);
    json_object_set_array_member(o, "vms", va);
    json_object_set_int_member(o, "problems", problems);
    avma_cli_print_object(o);
  } else {
    printf("Hosts (%u):\n", hosts->len);
    for (guint i = 0; i < hosts->len; i++)
      print_host(hosts->pdata[i]);
    printf("VMs (%u), each checked against every host above:\n", order->len);
    for (guint j = 0; j < order->len; j++)
      print_vm(order->pdata[j]);
    if (problems)
      printf("Result: %u problem(s): a host above cannot be checked or activates no guest, or a "
             "VM would lose activation on it.\n",
             problems);
    else
      printf("Result: every VM activates on every host.\n");
  }
  return problems ? 1 : 0;
}
