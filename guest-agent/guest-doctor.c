/* guest-doctor: the guest's checks, in the order they must be fixed: the port, the daemon that
 * holds it, the host side, the key, the last outcome. Each is a row of a table. */
#include "guest-doctor.h"

#include "control-client.h"
#include "doctor.h"
#include "state-files.h"
#include "state.h"
#include "timeutil.h"

#include <gio/gio.h>
#include <string.h>

typedef struct {
  const AvmaGuestConfig *config;
  JsonObject *daemon; /* the daemon's answer to "port", NULL when none answered */
  char *daemon_error; /* why not */
  AvmaGuestState *state;
  char *state_error;
  AvmaDoctorReport *report;
} Doctor;

#define add(d, ...) avma_doctor_add((d)->report, __VA_ARGS__)

static void check_port(Doctor *d) {
  if (g_file_test(d->config->port, G_FILE_TEST_EXISTS))
    add(d, "port present", NULL, AVMA_DOCTOR_OK, NULL, "%s", d->config->port);
  else
    add(d, "port present", NULL, AVMA_DOCTOR_PROBLEM,
        "on the host: avma-host channel add VM (or set [guest] port)", "no port at %s",
        d->config->port);
}

static void check_owner(Doctor *d) {
  if (!d->daemon)
    add(d, "port owned by the agent", NULL, AVMA_DOCTOR_PROBLEM, "systemctl start avma-guestd",
        "avma-guestd does not answer: %s", d->daemon_error);
  else if (json_object_get_boolean_member_with_default(d->daemon, "port_open", FALSE))
    add(d, "port owned by the agent", NULL, AVMA_DOCTOR_OK, NULL, "avma-guestd holds the port");
  else
    add(d, "port owned by the agent", NULL, AVMA_DOCTOR_PROBLEM,
        "check avma-guestd's journal (another process may hold the port)",
        "avma-guestd runs but has not opened the port");
}

static void check_host(Doctor *d) {
  if (!d->daemon || !json_object_get_boolean_member_with_default(d->daemon, "port_open", FALSE))
    return; /* the check above says why nothing is known */
  if (json_object_get_boolean_member_with_default(d->daemon, "host_connected", FALSE))
    add(d, "host side connected", NULL, AVMA_DOCTOR_OK, NULL, "the host end of the port is open");
  else
    add(d, "host side connected", NULL, AVMA_DOCTOR_PROBLEM,
        "on the host: start avma-hostd, then avma-host doctor VM",
        "nobody listens on the host end of the port");
}

static void check_key(Doctor *d) {
  if (!d->state) {
    add(d, "key installed", NULL, AVMA_DOCTOR_PROBLEM, "avma-guest ipk KEY",
        "cannot read the guest state: %s", d->state_error);
    return;
  }
  const AvmaGuestState *s = d->state;
  const AvmaGuestConfig *c = d->config;
  if (!*s->key)
    add(d, "key installed", NULL, AVMA_DOCTOR_PROBLEM, "avma-guest ipk KEY (the AVMA key)",
        "no product key installed");
  else if (!s->key_is_avma)
    add(d, "key installed", NULL, AVMA_DOCTOR_PROBLEM, "avma-guest ipk KEY (the AVMA key)",
        "the installed key is not an AVMA key");
  else if ((c->product_version && c->product_version != s->key_version) ||
           (c->product_edition && c->product_edition != s->key_edition))
    add(d, "key installed", NULL, AVMA_DOCTOR_PROBLEM,
        "avma-guest ipk KEY with the AVMA key of the configured product",
        "the key is for %s %s, the guest is configured as %s %s",
        avma_version_display(s->key_version), avma_edition_display(s->key_edition),
        c->product_version ? avma_version_display(c->product_version) : "any version",
        c->product_edition ? avma_edition_display(c->product_edition) : "any edition");
  else
    add(d, "key installed", NULL, AVMA_DOCTOR_OK, NULL, "AVMA key for %s %s",
        avma_version_display(s->key_version), avma_edition_display(s->key_edition));
}

static void check_outcome(Doctor *d) {
  const AvmaGuestState *s = d->state;
  if (!s)
    return;
  gint64 now = avma_now();
  g_autofree char *attempt = avma_time_format(s->last_attempt);
  if (!*s->last_notification)
    add(d, "last outcome", NULL, AVMA_DOCTOR_WARNING, "avma-guest ato", "no attempt yet");
  else if (s->licensed && s->granted_until > now) {
    g_autofree char *until = avma_time_format(s->granted_until);
    add(d, "last outcome", NULL, AVMA_DOCTOR_OK, NULL, "%s at %s; licensed until %s",
        s->last_notification, attempt, until);
  } else
    add(d, "last outcome", NULL, AVMA_DOCTOR_PROBLEM,
        "fix the checks above (and avma-host doctor on the host), then avma-guest ato",
        "%s at %s%s%s", s->last_notification, attempt, *s->last_reason ? ": " : "", s->last_reason);
}

static void (*const checks[])(Doctor *) = {check_port, check_owner, check_host, check_key,
                                           check_outcome};

int avma_guest_doctor(const AvmaGuestConfig *c, gboolean json) {
  Doctor d = {.config = c, .report = avma_doctor_report_new()};
  g_autoptr(GError) err = NULL;
  g_autofree char *sock = avma_guest_state_path(c, AVMA_GUEST_CONTROL_SOCKET);
  g_autoptr(JsonObject) req = json_object_new();
  json_object_set_string_member(req, "verb", "port");
  d.daemon = avma_control_call(sock, req, 5, &err);
  if (d.daemon && !json_object_get_boolean_member_with_default(d.daemon, "ok", FALSE)) {
    /* An older daemon without the verb: it runs, but says nothing of the port. */
    d.daemon_error = g_strdup(json_object_get_string_member_with_default(d.daemon, "error", "?"));
    g_clear_pointer(&d.daemon, json_object_unref);
  } else if (!d.daemon) {
    d.daemon_error = g_strdup(err->message);
  }
  g_clear_error(&err);
  d.state = avma_guest_state_load(c->state_dir, &err);
  if (!d.state)
    d.state_error = g_strdup(err->message);
  for (size_t i = 0; i < G_N_ELEMENTS(checks); i++)
    checks[i](&d);
  avma_doctor_print(d.report, json);
  int rc = avma_doctor_has_problem(d.report) ? 1 : 0;
  avma_doctor_report_free(d.report);
  if (d.daemon)
    json_object_unref(d.daemon);
  g_free(d.daemon_error);
  if (d.state)
    avma_guest_state_free(d.state);
  g_free(d.state_error);
  return rc;
}
