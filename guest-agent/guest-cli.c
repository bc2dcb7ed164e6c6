/* avma-guest: slmgr-style verbs for the guest. Talks to a running avma-guestd through its
 * control socket; without one it acts on the state and the port itself. Adding a verb is one row
 * of the table at the end plus its handler. */
#include "cli-verbs.h"
#include "control-client.h"
#include "events.h"
#include "guest-config.h"
#include "guest-doctor.h"
#include "guest.h"
#include "port.h"
#include "receipts.h"
#include "state-files.h"
#include "timeutil.h"

#include <gio/gio.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

/* What every verb receives: the configuration, loaded once the verb is known. */
struct AvmaCliCtx {
  AvmaGuestConfig *config;
  gboolean json;
};
typedef AvmaCliCtx Ctx;
#define fail avma_cli_fail

static void print_object(JsonObject *o) {
  g_autoptr(JsonNode) n = json_node_new(JSON_NODE_OBJECT);
  json_node_set_object(n, o);
  g_autofree char *s = json_to_string(n, TRUE);
  printf("%s\n", s);
}

/* Ask the daemon; *handled FALSE when none is running. */
static JsonObject *ask_daemon(const Ctx *c, JsonObject *req, gboolean *handled, GError **error) {
  g_autofree char *sock = avma_guest_state_path(c->config, AVMA_GUEST_CONTROL_SOCKET);
  g_autoptr(GError) local = NULL;
  guint timeout = (guint)(c->config->timing.request_timeout * 2 + 5);
  JsonObject *r = avma_control_call(sock, req, timeout, &local);
  *handled = r != NULL || !(g_error_matches(local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
                            g_error_matches(local, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED));
  if (!r && *handled)
    g_propagate_error(error, g_steal_pointer(&local));
  return r;
}

typedef struct {
  GMainLoop *loop;
  AvmaNotification n;
  char *reason;
} Wait;

static void on_done(AvmaGuest *g, AvmaNotification n, const char *reason, gpointer user) {
  (void)g;
  Wait *w = user;
  w->n = n;
  w->reason = g_strdup(reason);
  g_main_loop_quit(w->loop);
}

/* One-shot: open the port, run one exchange (clear or activate), wait for it. */
static gboolean run_local(AvmaGuest *g, gboolean clear, Wait *w, GError **error) {
  if (!avma_guest_open_port(g, error)) {
    if (!g_error_matches(*error, AVMA_PORT_ERROR, AVMA_PORT_ERROR_MISSING))
      return FALSE;
    g_clear_error(error); /* a missing port is "no host": the exchange times out */
  }
  w->loop = g_main_loop_new(NULL, FALSE);
  if (clear) {
    if (!avma_guest_clear_pending(g, on_done, w)) {
      g_main_loop_unref(w->loop);
      return TRUE;
    }
  } else {
    avma_guest_activate_now(g, on_done, w);
  }
  g_main_loop_run(w->loop);
  g_main_loop_unref(w->loop);
  return TRUE;
}

static int ipk_upk(const Ctx *c, const char *verb, const char *key) {
  g_autoptr(JsonObject) req = json_object_new();
  json_object_set_string_member(req, "verb", verb);
  if (key)
    json_object_set_string_member(req, "key", key);
  gboolean handled = FALSE;
  g_autoptr(GError) err = NULL;
  g_autoptr(JsonObject) r = ask_daemon(c, req, &handled, &err);
  if (handled) {
    if (!r)
      return fail("%s: avma-guestd did not answer: %s", verb, err->message);
    if (!json_object_get_boolean_member_with_default(r, "ok", FALSE))
      return fail("%s: %s", verb, json_object_get_string_member_with_default(r, "error", "?"));
    printf("%s\n", json_object_get_string_member_with_default(r, "message", ""));
    return 0;
  }
  g_autoptr(AvmaGuest) g = avma_guest_new(c->config, &err);
  if (!g)
    return fail("%s: %s", verb, err->message);
  g_autofree char *msg = NULL;
  gboolean ok =
      key ? avma_guest_install_key(g, key, &msg, &err) : avma_guest_uninstall_key(g, &msg, &err);
  if (!ok)
    return fail("%s: %s", verb, err->message);
  printf("%s\n", msg);
  if (avma_guest_state(g)->pending_clear) {
    Wait w = {0};
    if (!run_local(g, TRUE, &w, &err))
      fprintf(stderr, "avma-guest: the host could not be told yet (%s); avma-guestd will retry\n",
              err->message);
    else if (w.reason && w.n != AVMA_NOTIFY_SUCCESS)
      fprintf(stderr, "avma-guest: the host could not be told yet (%s); avma-guestd will retry\n",
              w.reason);
    g_free(w.reason);
  }
  return 0;
}

static int ato_result(const Ctx *c, AvmaNotification n, const char *reason) {
  if (c->json) {
    g_autoptr(JsonObject) o = json_object_new();
    json_object_set_string_member(o, "notification", avma_notification_name(n));
    json_object_set_string_member(o, "reason", reason ? reason : "");
    json_object_set_int_member(o, "exit_code", avma_notification_exit_code(n));
    print_object(o);
  } else {
    printf("Activating...\n%s: %s\n", avma_notification_name(n), reason ? reason : "");
  }
  return avma_notification_exit_code(n);
}

static int verb_ato(const Ctx *c, int argc, char **argv) {
  if (argc > 1)
    return fail("ato: unexpected argument '%s'", argv[1]), 2;
  g_autoptr(JsonObject) req = json_object_new();
  json_object_set_string_member(req, "verb", "ato");
  gboolean handled = FALSE;
  g_autoptr(GError) err = NULL;
  g_autoptr(JsonObject) r = ask_daemon(c, req, &handled, &err);
  if (handled) {
    if (!r)
      return fail("ato: avma-guestd did not answer: %s", err->message);
    if (!json_object_get_boolean_member_with_default(r, "ok", FALSE))
      return fail("ato: %s", json_object_get_string_member_with_default(r, "error", "?"));
    AvmaNotification n = AVMA_NOTIFY_INVALID_DATA;
    (void)avma_notification_parse(json_object_get_string_member_with_default(r, "notification", ""),
                                  &n);
    return ato_result(c, n, json_object_get_string_member_with_default(r, "reason", ""));
  }
  g_autoptr(AvmaGuest) g = avma_guest_new(c->config, &err);
  if (!g)
    return fail("ato: %s", err->message);
  AvmaGuestState *s = avma_guest_state(g);
  if (!*s->key)
    return fail("ato: no key installed: run avma-guest ipk KEY first");
  if (!s->key_is_avma)
    return fail("ato: the installed key is not an AVMA key; install one with avma-guest ipk KEY");
  Wait w = {0};
  if (!run_local(g, FALSE, &w, &err))
    return fail("ato: %s", err->message);
  int rc = ato_result(c, w.n, w.reason);
  g_free(w.reason);
  return rc;
}

static AvmaGuestState *load_state(const Ctx *c, GError **error) {
  return avma_guest_state_load(c->config->state_dir, error);
}

static const char *product_of(const Ctx *c, AvmaGuestState *s, char *buf, gsize len) {
  AvmaVersion v = c->config->product_version ? c->config->product_version : s->key_version;
  AvmaEdition e = c->config->product_edition ? c->config->product_edition : s->key_edition;
  if (!v && !e)
    return "";
  g_snprintf(buf, len, "%s %s", v ? avma_version_display(v) : "Windows Server",
             e ? avma_edition_display(e) : "");
  return buf;
}

static JsonObject *status_json(const Ctx *c, AvmaGuestState *s, gint64 now) {
  JsonObject *o = json_object_new();
  char buf[128];
  char last5[6] = "";
  if (*s->key)
    avma_key_last5(s->key, last5);
  json_object_set_string_member(o, "license_status", avma_guest_state_status(s, now));
  json_object_set_string_member(o, "product", product_of(c, s, buf, sizeof buf));
  AvmaVersion v = c->config->product_version ? c->config->product_version : s->key_version;
  AvmaEdition e = c->config->product_edition ? c->config->product_edition : s->key_edition;
  json_object_set_string_member(o, "version", v ? avma_version_name(v) : "");
  json_object_set_string_member(o, "edition", e ? avma_edition_name(e) : "");
  json_object_set_string_member(o, "partial_key", last5);
  json_object_set_boolean_member(o, "avma_key", s->key_is_avma);
  json_object_set_string_member(o, "guest_id", s->guest_id);
  g_autofree char *last = avma_time_format(s->last_success);
  g_autofree char *until = avma_time_format(s->licensed ? s->granted_until : 0);
  g_autofree char *attempt = avma_time_format(s->last_attempt);
  json_object_set_string_member(o, "last_activation", last);
  json_object_set_string_member(o, "expires", until);
  json_object_set_string_member(o, "last_attempt", attempt);
  json_object_set_string_member(o, "last_notification", s->last_notification);
  json_object_set_string_member(o, "last_reason", s->last_reason);
  json_object_set_string_member(o, "host_name", s->host_name);
  json_object_set_string_member(o, "host_id", s->host_id);
  json_object_set_string_member(o, "host_version", s->host_version);
  json_object_set_string_member(o, "vm_name", s->vm_name);
  json_object_set_string_member(o, "vm_id", s->vm_id);
  json_object_set_boolean_member(o, "kvp_published", s->published);
  json_object_set_boolean_member(o, "kvp_clear_pending", s->pending_clear);
  return o;
}

/* The kept receipts, re-checked (receipts.h); NULL and a warning when the file is unreadable. */
static JsonArray *load_receipts(const Ctx *c) {
  g_autofree char *path = avma_guest_state_path(c->config, AVMA_GUEST_RECEIPTS_FILE);
  g_autoptr(GError) err = NULL;
  JsonArray *a = avma_guest_receipts_load(path, &err);
  if (!a)
    fprintf(stderr, "avma-guest: warning: receipts: %s\n", err->message);
  return a;
}

/* dlv's lines on the last receipt: whether it verifies against the host key it came with. */
static void print_last_receipt(const Ctx *c) {
  g_autoptr(JsonArray) a = load_receipts(c);
  guint n = a ? json_array_get_length(a) : 0;
  if (n == 0) {
    printf("    Activation receipt: (none)\n");
    return;
  }
  JsonObject *o = json_array_get_object_element(a, n - 1);
  if (json_object_get_boolean_member(o, "verified")) {
    printf("    Activation receipt: record %" G_GINT64_FORMAT " of the host's log, %s\n",
           json_object_get_int_member(o, "seq"), json_object_get_string_member(o, "decided_at"));
    printf("    Receipt signature: verifies with host key %s\n",
           json_object_get_string_member(o, "host_key_id"));
  } else {
    printf("    Activation receipt: received %s\n",
           json_object_get_string_member(o, "received_at"));
    printf("    Receipt signature: DOES NOT VERIFY: %s\n",
           json_object_get_string_member(o, "error"));
  }
}

static int dlv(const Ctx *c, gboolean short_form) {
  g_autoptr(GError) err = NULL;
  g_autoptr(AvmaGuestState) s = load_state(c, &err);
  if (!s)
    return fail("%s", err->message);
  gint64 now = avma_now();
  g_autoptr(JsonObject) o = status_json(c, s, now);
  if (c->json) {
    g_autoptr(JsonArray) a = short_form ? NULL : load_receipts(c);
    guint n = a ? json_array_get_length(a) : 0;
    if (n)
      json_object_set_object_member(o, "last_receipt",
                                    json_object_ref(json_array_get_object_element(a, n - 1)));
    print_object(o);
    return 0;
  }
  const char *prod = json_object_get_string_member(o, "product");
  printf("Name: %s\n", *prod ? prod : "(no product key installed)");
  printf("Partial Product Key: %s\n",
         *s->key ? json_object_get_string_member(o, "partial_key") : "(none)");
  printf("License Status: %s\n", avma_guest_state_status(s, now));
  if (s->licensed && s->granted_until > now) {
    g_autofree char *left = avma_duration_words(s->granted_until - now);
    printf("Licence expires in: %s\n", left);
  }
  if (short_form)
    return 0;
  printf("Product key type: %s\n", !*s->key ? "-" : s->key_is_avma ? "AVMA" : "other (not AVMA)");
  printf("Last attempt: %s %s\n", json_object_get_string_member(o, "last_attempt"),
         *s->last_notification ? s->last_notification : "(none yet)");
  if (*s->last_reason)
    printf("Last result: %s\n", s->last_reason);
  printf("\nAutomatic VM Activation client information:\n");
  printf("    Guest IAID: %s\n", s->guest_id);
  printf("    Host machine name: %s\n", *s->host_name ? s->host_name : "(not yet)");
  printf("    Activation time: %s\n",
         s->last_success ? json_object_get_string_member(o, "last_activation") : "(never)");
  printf("    Host Digital PID2: %s\n", *s->host_id ? s->host_id : "(not yet)");
  if (*s->vm_name)
    printf("    VM name on host: %s (%s)\n", s->vm_name, *s->vm_id ? s->vm_id : "no UUID");
  print_last_receipt(c);
  return 0;
}

static int verb_xpr(const Ctx *c, int argc, char **argv) {
  if (argc > 1)
    return fail("xpr: unexpected argument '%s'", argv[1]), 2;
  g_autoptr(GError) err = NULL;
  g_autoptr(AvmaGuestState) s = load_state(c, &err);
  if (!s)
    return fail("%s", err->message);
  gint64 now = avma_now();
  gboolean lic = s->key_is_avma && s->licensed && s->granted_until > now;
  if (c->json) {
    g_autoptr(JsonObject) o = json_object_new();
    g_autofree char *until = avma_time_format(lic ? s->granted_until : 0);
    json_object_set_boolean_member(o, "licensed", lic);
    json_object_set_string_member(o, "expires", until);
    json_object_set_int_member(o, "seconds_left", lic ? s->granted_until - now : 0);
    print_object(o);
    return 0;
  }
  if (!lic) {
    printf("The machine is not activated%s.\n",
           !*s->key          ? " (no key installed: avma-guest ipk KEY)"
           : !s->key_is_avma ? " by AVMA (the installed key is not an AVMA key)"
                             : " (run avma-guest ato, or see avma-guest dlv)");
    return 0;
  }
  g_autofree char *until = avma_time_format(s->granted_until);
  g_autofree char *left = avma_duration_words(s->granted_until - now);
  printf("The machine is activated by its host until %s (%s from now); it renews "
         "automatically.\n",
         until, left);
  return 0;
}

static int verb_events(const Ctx *c, int argc, char **argv) {
  if (argc > 1)
    return fail("events: unexpected argument '%s'", argv[1]), 2;
  g_autofree char *path = avma_guest_state_path(c->config, AVMA_GUEST_EVENTS_FILE);
  guint skipped = 0;
  g_autoptr(GError) err = NULL;
  g_autoptr(GPtrArray) evs = avma_event_log_read(path, &skipped, &err);
  if (!evs)
    return fail("events: %s", err->message);
  if (skipped)
    fprintf(stderr, "avma-guest: warning: %u unreadable line(s) in %s skipped\n", skipped, path);
  if (c->json) {
    avma_events_print_json(evs);
    return 0;
  }
  if (evs->len == 0) {
    printf("No events.\n");
    return 0;
  }
  for (guint i = 0; i < evs->len; i++) {
    JsonObject *e = evs->pdata[i];
    printf("%s  %" G_GINT64_FORMAT "  %-17s  %s\n",
           json_object_get_string_member_with_default(e, "time", ""),
           json_object_get_int_member_with_default(e, "event_id", 0),
           json_object_get_string_member_with_default(e, "notification", ""),
           json_object_get_string_member_with_default(e, "reason", ""));
  }
  return 0;
}

static int verb_receipt(const Ctx *c, int argc, char **argv) {
  if (argc > 1)
    return fail("receipt: unexpected argument '%s'", argv[1]), 2;
  g_autofree char *path = avma_guest_state_path(c->config, AVMA_GUEST_RECEIPTS_FILE);
  g_autoptr(GError) err = NULL;
  g_autoptr(JsonArray) a = avma_guest_receipts_load(path, &err);
  if (!a)
    return fail("receipt: %s", err->message);
  guint n = json_array_get_length(a);
  if (c->json) {
    /* The form avma-verify receipt reads: {"receipts": [...]}, oldest first. */
    g_autoptr(JsonObject) o = json_object_new();
    json_object_set_array_member(o, "receipts", json_array_ref(a));
    print_object(o);
    return 0;
  }
  if (n == 0) {
    printf("No activation receipts.\n");
    return 0;
  }
  for (guint i = 0; i < n; i++) {
    JsonObject *o = json_array_get_object_element(a, i);
    if (json_object_get_boolean_member(o, "verified"))
      printf("%s  record %" G_GINT64_FORMAT "  %-17s  verifies (host key %s)\n",
             json_object_get_string_member(o, "decided_at"), json_object_get_int_member(o, "seq"),
             json_object_get_string_member(o, "notification"),
             json_object_get_string_member(o, "host_key_id"));
    else
      printf("%s  DOES NOT VERIFY: %s\n", json_object_get_string_member(o, "received_at"),
             json_object_get_string_member(o, "error"));
  }
  return 0;
}

static int verb_ipk(const Ctx *c, int argc, char **argv) {
  if (argc < 2)
    return fail("ipk: give the key: avma-guest ipk XXXXX-XXXXX-XXXXX-XXXXX-XXXXX"), 2;
  /* A key pasted with spaces arrives as several arguments: join them. */
  g_autofree char *key = g_strjoinv(" ", argv + 1);
  return ipk_upk(c, "ipk", key);
}

static int verb_upk(const Ctx *c, int argc, char **argv) {
  if (argc > 1)
    return fail("upk: unexpected argument '%s'", argv[1]), 2;
  return ipk_upk(c, "upk", NULL);
}

static int verb_dlv(const Ctx *c, int argc, char **argv) {
  if (argc > 1)
    return fail("dlv: unexpected argument '%s'", argv[1]), 2;
  return dlv(c, FALSE);
}

static int verb_dli(const Ctx *c, int argc, char **argv) {
  if (argc > 1)
    return fail("dli: unexpected argument '%s'", argv[1]), 2;
  return dlv(c, TRUE);
}

static int verb_doctor(const Ctx *c, int argc, char **argv) {
  if (argc > 1)
    return fail("doctor: unexpected argument '%s'", argv[1]), 2;
  return avma_guest_doctor(c->config, c->json);
}

static const AvmaCliVerb verbs[] = {
    {"ipk", "KEY", "Install a product key (an AVMA key for this product)",
     "KEY is five groups of five characters; a key given as several arguments is joined.",
     verb_ipk},
    {"upk", "", "Uninstall the key and remove its KVP data from the host", NULL, verb_upk},
    {"ato", "", "Activate now",
     "Exit status: 0 AVMA Success, 3 Invalid Host, 4 Invalid Data, 5 Activation Denied.", verb_ato},
    {"dlv", "", "Detailed licence information", NULL, verb_dlv},
    {"dli", "", "Short licence information", NULL, verb_dli},
    {"xpr", "", "When the activation expires", NULL, verb_xpr},
    {"events", "", "The 12309 history", NULL, verb_events},
    {"doctor", "", "Check what stands in the way of activation",
     "In order: the port present, held by a running avma-guestd, its host side connected, an AVMA\n"
     "key installed that matches the configured product, the last outcome. Each finding is ok,\n"
     "warning or problem, with its fix; --json prints an array of {check, vm, status, finding,\n"
     "fix}. Exit status: 0 when nothing stands in the way of activation, 1 when a problem does.",
     verb_doctor},
    {"receipt", "", "The activation receipts kept from the host, each checked",
     "Each receipt is checked against the host public key it came with. With --json, the list "
     "that avma-verify receipt reads (an auditor checks it against the host's published key).",
     verb_receipt},
};

int main(int argc, char **argv) {
  setlocale(LC_ALL, "");
  g_autofree char *config_path = NULL, *state_dir = NULL, *port = NULL;
  gboolean json = FALSE;
  const GOptionEntry options[] = {
      {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Configuration file", "FILE"},
      {"state-dir", 's', 0, G_OPTION_ARG_FILENAME, &state_dir, "State directory", "DIR"},
      {"port", 'p', 0, G_OPTION_ARG_FILENAME, &port, "virtio-serial port device", "PATH"},
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, "JSON output (read verbs)", NULL},
      {NULL}};
  const AvmaCliProgram prog = {"avma-guest",
                               "Licence verbs for the guest, as slmgr's.",
                               options,
                               verbs,
                               G_N_ELEMENTS(verbs),
                               NULL,
                               AVMA_VERSION};
  /* Not strict: global options may follow the verb (avma-guest dlv --json). */
  int rc = avma_cli_start(&prog, FALSE, &argc, &argv);
  if (rc >= 0)
    return rc;
  int shift = 0;
  const AvmaCliVerb *verb = avma_cli_resolve(&prog, argc, argv, &shift, &rc);
  if (!verb)
    return rc;
  g_autoptr(GError) err = NULL;
  g_autoptr(AvmaGuestConfig) config = avma_guest_config_load(config_path, state_dir, port, &err);
  if (!config)
    return fail("%s", err->message);
  Ctx c = {config, json};
  return avma_cli_call(verb, &c, argc - shift, argv + shift);
}
