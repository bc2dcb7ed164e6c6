/* avma-guest.exe: slmgr-style verbs for the Windows guest, with the Linux CLI's output, --json
 * and exit codes. Asks the running service over its control pipe; without one it acts on the
 * state file and the port itself. */
#include "doctor-win32.h"
#include "evline.h"
#include "fileio-win32.h"
#include "pipe-win32.h"
#include "rfc3339.h"
#include "runtime-win32.h"
#include "setup-win32.h"
#include "winutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  AvmaWinConfig cfg;
  char dir[AVMA_WIN_PATH_MAX];
  bool json;
  AvmaProduct image;
} Ctx;

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("avma-guest: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return 1;
}

static void duration_words(int64_t s, char *out, size_t cap) {
  if (s < 0)
    s = 0;
  long long d = s / 86400, h = (s % 86400) / 3600, m = (s % 3600) / 60;
  if (d > 0)
    snprintf(out, cap, "%lld day%s %lld hour%s", d, d == 1 ? "" : "s", h, h == 1 ? "" : "s");
  else if (h > 0)
    snprintf(out, cap, "%lld hour%s %lld minute%s", h, h == 1 ? "" : "s", m, m == 1 ? "" : "s");
  else if (m > 0)
    snprintf(out, cap, "%lld minute%s", m, m == 1 ? "" : "s");
  else
    snprintf(out, cap, "%lld second%s", (long long)s, s == 1 ? "" : "s");
}

/* ---- the service ------------------------------------------------------------------------------
 */

/* 1: *reply parsed; 0: no service; -1: error reported. */
static int ask_service(Ctx *c, const char *verb, const char *key, AvmaJsonFlat *reply) {
  AvmaBuf b;
  avma_buf_init(&b);
  AvmaJsonObj o;
  avma_json_begin(&o, &b);
  avma_json_str(&o, "verb", verb);
  if (key)
    avma_json_str(&o, "key", key);
  avma_json_end(&o);
  char why[512];
  char *line = NULL;
  DWORD timeout = (DWORD)(c->cfg.timing.request_timeout * 2 + 5) * 1000u;
  int rc = b.failed ? -1 : avma_pipe_call(c->cfg.pipe, b.data, timeout, &line, why, sizeof why);
  avma_buf_free(&b);
  if (rc < 0) {
    fail("%s: %s", verb, why);
    return -1;
  }
  if (rc == 0)
    return 0;
  bool ok = avma_json_flat_parse(reply, line, strlen(line), why, sizeof why);
  free(line);
  if (!ok) {
    fail("%s: bad reply from avma-guestd: %s", verb, why);
    return -1;
  }
  return 1;
}

static bool reply_ok(const AvmaJsonFlat *r) {
  const AvmaJsonMember *m = avma_json_flat_get(r, "ok");
  return m && m->type == AVMA_JV_BOOL && m->boolean;
}

/* ---- local runtime (no service) ---------------------------------------------------------------
 */

typedef struct {
  bool done;
  AvmaNotification n;
  char reason[512];
} Wait;

static void on_done(AvmaWinGuest *g, AvmaNotification n, const char *reason, void *user) {
  (void)g;
  Wait *w = user;
  w->done = true;
  w->n = n;
  snprintf(w->reason, sizeof w->reason, "%s", reason ? reason : "");
}

static void run_until(AvmaWinGuest *g, Wait *w) {
  while (!w->done) {
    HANDLE h[4];
    int kind[4];
    size_t n = avma_wg_handles(g, h, kind, 4);
    DWORD t = avma_wg_timeout(g);
    if (n == 0) {
      Sleep(t == INFINITE ? 1000 : t); /* only timers pending */
    } else {
      DWORD r = WaitForMultipleObjects((DWORD)n, h, FALSE, t);
      if (r < WAIT_OBJECT_0 + n)
        avma_wg_dispatch(g, kind[r - WAIT_OBJECT_0]);
      else if (r == WAIT_FAILED)
        Sleep(100);
    }
    avma_wg_tick(g);
  }
}

/* A one-shot runtime on the port; a busy port is an error, a missing one "no host". */
static bool local_guest(Ctx *c, AvmaWinGuest *g, AvmaWinLog *log, const char *verb, bool port) {
  char why[1024];
  avma_winlog_open(log, *c->cfg.event_sink ? c->cfg.event_sink : NULL);
  if (!avma_wg_init(g, &c->cfg, c->dir, log, why, sizeof why)) {
    fail("%s: %s", verb, why);
    return false;
  }
  if (port && avma_wg_open_port(g, why, sizeof why) == AVMA_WPORT_BUSY) {
    fail("%s: %s", verb, why);
    avma_wg_free(g);
    return false;
  }
  return true;
}

/* ---- verbs ------------------------------------------------------------------------------------
 */

static int verb_ipk_upk(Ctx *c, const char *verb, const char *key) {
  AvmaJsonFlat r;
  int s = ask_service(c, verb, key, &r);
  if (s < 0)
    return 1;
  if (s > 0) {
    int rc = 0;
    if (!reply_ok(&r))
      rc = fail("%s: %s", verb, avma_json_flat_str(&r, "error", "?"));
    else
      printf("%s\n", avma_json_flat_str(&r, "message", ""));
    avma_json_flat_free(&r);
    return rc;
  }
  static AvmaWinGuest g;
  AvmaWinLog log;
  if (!local_guest(c, &g, &log, verb, false))
    return 1;
  char msg[512], why[512];
  bool ok = key ? avma_wg_install_key(&g, key, msg, sizeof msg, why, sizeof why)
                : avma_wg_uninstall_key(&g, msg, sizeof msg, why, sizeof why);
  if (!ok) {
    avma_wg_free(&g);
    return fail("%s: %s", verb, why);
  }
  printf("%s\n", msg);
  fflush(stdout);
  if (g.st.pending_clear) {
    char pwhy[512];
    Wait w = {0};
    if (avma_wg_open_port(&g, pwhy, sizeof pwhy) == AVMA_WPORT_BUSY)
      fprintf(stderr, "avma-guest: the host could not be told yet (%s); avma-guestd will retry\n",
              pwhy);
    else if (avma_wg_clear_pending(&g, on_done, &w)) {
      run_until(&g, &w);
      if (w.n != AVMA_NOTIFY_SUCCESS)
        fprintf(stderr, "avma-guest: the host could not be told yet (%s); avma-guestd will retry\n",
                w.reason);
    }
  }
  avma_wg_free(&g);
  avma_winlog_close(&log);
  return 0;
}

static int ato_result(Ctx *c, AvmaNotification n, const char *reason) {
  if (c->json) {
    AvmaBuf b;
    avma_buf_init(&b);
    AvmaJsonObj o;
    avma_json_begin(&o, &b);
    avma_json_str(&o, "notification", avma_notification_name(n));
    avma_json_str(&o, "reason", reason ? reason : "");
    avma_json_int(&o, "exit_code", avma_notification_exit_code(n));
    avma_json_end(&o);
    printf("%.*s\n", (int)b.len, b.data ? b.data : "");
    avma_buf_free(&b);
  } else {
    printf("Activating...\n%s: %s\n", avma_notification_name(n), reason ? reason : "");
  }
  return avma_notification_exit_code(n);
}

static int verb_ato(Ctx *c) {
  AvmaJsonFlat r;
  int s = ask_service(c, "ato", NULL, &r);
  if (s < 0)
    return 1;
  if (s > 0) {
    int rc;
    if (!reply_ok(&r)) {
      rc = fail("ato: %s", avma_json_flat_str(&r, "error", "?"));
    } else {
      AvmaNotification n = AVMA_NOTIFY_INVALID_DATA;
      (void)avma_notification_parse(avma_json_flat_str(&r, "notification", ""), &n);
      rc = ato_result(c, n, avma_json_flat_str(&r, "reason", ""));
    }
    avma_json_flat_free(&r);
    return rc;
  }
  static AvmaWinGuest g;
  AvmaWinLog log;
  if (!local_guest(c, &g, &log, "ato", true))
    return 1;
  if (!*g.st.key) {
    avma_wg_free(&g);
    return fail("ato: no key installed: run avma-guest ipk KEY first");
  }
  if (!g.st.key_is_avma) {
    avma_wg_free(&g);
    return fail("ato: the installed key is not an AVMA key; install one with avma-guest ipk KEY");
  }
  Wait w = {0};
  avma_wg_activate_now(&g, on_done, &w);
  run_until(&g, &w);
  avma_wg_free(&g);
  avma_winlog_close(&log);
  return ato_result(c, w.n, w.reason);
}

/* The state, from the service when it runs (its in-memory record), else from the file. */
static bool load_state(Ctx *c, AvmaGState *st) {
  AvmaJsonFlat r;
  char why[1024];
  int s = ask_service(c, "state", NULL, &r);
  if (s < 0)
    return false;
  if (s > 0) {
    bool ok = reply_ok(&r);
    const char *text = avma_json_flat_str(&r, "state", NULL);
    avma_gstate_init(st);
    if (!ok || !text)
      fail("%s", avma_json_flat_str(&r, "error", "avma-guestd sent no state"));
    else if (!(ok = avma_gstate_parse(st, text, strlen(text), why, sizeof why)))
      fail("avma-guestd sent a bad state: %s", why);
    avma_json_flat_free(&r);
    return ok && text;
  }
  bool existed;
  if (!avma_win_state_load(c->dir, st, &existed, why, sizeof why)) {
    fail("%s", why);
    return false;
  }
  return true;
}

static const char *product_of(Ctx *c, const AvmaGState *st, char *buf, size_t len) {
  AvmaProduct p = avma_agent_product(st, &c->image);
  if (!p.version && !p.edition)
    return "";
  snprintf(buf, len, "%s %s", p.version ? avma_version_display(p.version) : "Windows Server",
           p.edition ? avma_edition_display(p.edition) : "");
  return buf;
}

static void print_buf(AvmaBuf *b) {
  printf("%.*s\n", (int)b->len, b->data ? b->data : "");
  avma_buf_free(b);
}

static int verb_dlv(Ctx *c, bool short_form) {
  AvmaGState st;
  if (!load_state(c, &st))
    return 1;
  int64_t now = avma_win_now();
  char prod[160], last5[6] = "", last[AVMA_RFC3339_LEN], until[AVMA_RFC3339_LEN],
                  attempt[AVMA_RFC3339_LEN];
  product_of(c, &st, prod, sizeof prod);
  avma_key_last5(st.key, last5);
  avma_rfc3339_format(st.last_success, last);
  avma_rfc3339_format(st.licensed ? st.granted_until : 0, until);
  avma_rfc3339_format(st.last_attempt, attempt);
  const char *status = avma_gstate_status(&st, now);
  if (c->json) {
    AvmaProduct p = avma_agent_product(&st, &c->image);
    AvmaBuf b;
    avma_buf_init(&b);
    AvmaJsonObj o;
    avma_json_begin(&o, &b);
    avma_json_str(&o, "license_status", status);
    avma_json_str(&o, "product", prod);
    avma_json_str(&o, "version", p.version ? avma_version_name(p.version) : "");
    avma_json_str(&o, "edition", p.edition ? avma_edition_name(p.edition) : "");
    avma_json_str(&o, "partial_key", last5);
    avma_json_bool(&o, "avma_key", st.key_is_avma);
    avma_json_str(&o, "guest_id", st.guest_id);
    avma_json_str(&o, "last_activation", last);
    avma_json_str(&o, "expires", until);
    avma_json_str(&o, "last_attempt", attempt);
    avma_json_str(&o, "last_notification", st.last_notification);
    avma_json_str(&o, "last_reason", st.last_reason);
    avma_json_str(&o, "host_name", st.host_name);
    avma_json_str(&o, "host_id", st.host_id);
    avma_json_str(&o, "host_version", st.host_version);
    avma_json_str(&o, "vm_name", st.vm_name);
    avma_json_str(&o, "vm_id", st.vm_id);
    avma_json_bool(&o, "kvp_published", st.published);
    avma_json_bool(&o, "kvp_clear_pending", st.pending_clear);
    avma_json_end(&o);
    print_buf(&b);
    return 0;
  }
  bool has_key = *st.key != '\0';
  printf("Name: %s\n", *prod ? prod : "(no product key installed)");
  printf("Partial Product Key: %s\n", has_key ? last5 : "(none)");
  printf("License Status: %s\n", status);
  if (st.licensed && st.granted_until > now) {
    char left[64];
    duration_words(st.granted_until - now, left, sizeof left);
    printf("Licence expires in: %s\n", left);
  }
  if (short_form)
    return 0;
  printf("Product key type: %s\n", !has_key ? "-" : st.key_is_avma ? "AVMA" : "other (not AVMA)");
  printf("Last attempt: %s %s\n", attempt,
         *st.last_notification ? st.last_notification : "(none yet)");
  if (*st.last_reason)
    printf("Last result: %s\n", st.last_reason);
  printf("\nAutomatic VM Activation client information:\n");
  printf("    Guest IAID: %s\n", st.guest_id);
  printf("    Host machine name: %s\n", *st.host_name ? st.host_name : "(not yet)");
  printf("    Activation time: %s\n", st.last_success ? last : "(never)");
  printf("    Host Digital PID2: %s\n", *st.host_id ? st.host_id : "(not yet)");
  if (*st.vm_name)
    printf("    VM name on host: %s (%s)\n", st.vm_name, *st.vm_id ? st.vm_id : "no UUID");
  return 0;
}

static int verb_xpr(Ctx *c) {
  AvmaGState st;
  if (!load_state(c, &st))
    return 1;
  int64_t now = avma_win_now();
  bool lic = st.key_is_avma && st.licensed && st.granted_until > now;
  char until[AVMA_RFC3339_LEN], left[64];
  avma_rfc3339_format(lic ? st.granted_until : 0, until);
  if (c->json) {
    AvmaBuf b;
    avma_buf_init(&b);
    AvmaJsonObj o;
    avma_json_begin(&o, &b);
    avma_json_bool(&o, "licensed", lic);
    avma_json_str(&o, "expires", until);
    avma_json_int(&o, "seconds_left", lic ? st.granted_until - now : 0);
    avma_json_end(&o);
    print_buf(&b);
    return 0;
  }
  if (!lic) {
    printf("The machine is not activated%s.\n",
           !*st.key          ? " (no key installed: avma-guest ipk KEY)"
           : !st.key_is_avma ? " by AVMA (the installed key is not an AVMA key)"
                             : " (run avma-guest ato, or see avma-guest dlv)");
    return 0;
  }
  duration_words(st.granted_until - now, left, sizeof left);
  printf("The machine is activated by its host until %s (%s from now); it renews "
         "automatically.\n",
         until, left);
  return 0;
}

/* One flat record back to JSON, members in their order. */
static void write_flat(AvmaBuf *b, const AvmaJsonFlat *e) {
  AvmaJsonObj o;
  avma_json_begin(&o, b);
  for (size_t i = 0; i < e->n; i++) {
    const AvmaJsonMember *m = &e->m[i];
    if (m->type == AVMA_JV_STRING)
      avma_json_str(&o, m->name, m->text);
    else if (m->type == AVMA_JV_INT)
      avma_json_int(&o, m->name, m->num);
    else if (m->type == AVMA_JV_BOOL)
      avma_json_bool(&o, m->name, m->boolean);
  }
  avma_json_end(&o);
}

static int verb_events(Ctx *c) {
  char path[AVMA_WIN_PATH_MAX + 32];
  if (!avma_path_join(path, sizeof path, c->dir, "events.jsonl"))
    return fail("events: folder name too long");
  char *data = NULL;
  size_t len = 0;
  DWORD err = 0;
  if (!avma_read_file(path, 256u << 20, &data, &len, &err)) {
    if (err != ERROR_FILE_NOT_FOUND && err != ERROR_PATH_NOT_FOUND) {
      char msg[160];
      return fail("events: %s: %s", path, avma_win_error(err, msg, sizeof msg));
    }
    data = NULL;
    len = 0;
  }
  AvmaBuf out;
  avma_buf_init(&out);
  unsigned skipped = 0, count = 0;
  if (c->json)
    avma_buf_append(&out, "[", 1);
  for (size_t p = 0; p < len;) {
    const char *nl = memchr(data + p, '\n', len - p);
    size_t e = nl ? (size_t)(nl - data) : len, l = e - p;
    const char *line = data + p;
    p = e + 1;
    if (l && line[l - 1] == '\r')
      l--;
    if (!l)
      continue;
    AvmaJsonFlat ev;
    char why[128];
    /* A line cut by a crash, or planted: skipped and counted, never fatal. */
    if (!avma_json_flat_parse(&ev, line, l, why, sizeof why)) {
      skipped++;
      continue;
    }
    if (c->json) {
      avma_buf_append(&out, count ? ",\n  " : "\n  ", count ? 4 : 3);
      write_flat(&out, &ev);
    } else {
      const AvmaJsonMember *id = avma_json_flat_get(&ev, "event_id");
      avma_buf_printf(&out, "%s  %lld  %-17s  %s\n", avma_json_flat_str(&ev, "time", ""),
                      id && id->type == AVMA_JV_INT ? (long long)id->num : 0LL,
                      avma_json_flat_str(&ev, "notification", ""),
                      avma_json_flat_str(&ev, "reason", ""));
    }
    count++;
    avma_json_flat_free(&ev);
  }
  free(data);
  if (skipped)
    fprintf(stderr, "avma-guest: warning: %u unreadable line(s) in %s skipped\n", skipped, path);
  if (c->json)
    avma_buf_append(&out, count ? "\n]\n" : "]\n", count ? 3 : 2);
  else if (!count)
    avma_buf_printf(&out, "No events.\n");
  if (out.failed) {
    avma_buf_free(&out);
    return fail("events: out of memory");
  }
  fwrite(out.data, 1, out.len, stdout);
  avma_buf_free(&out);
  return 0;
}

static void usage(FILE *f) {
  fprintf(f, "Usage: avma-guest [--config FILE] [--state-dir DIR] [--port PATH] [--json] VERB\n"
             "Verbs (as slmgr):\n"
             "  ipk KEY    install a product key (an AVMA key for this product)\n"
             "  upk        uninstall the key and remove its KVP data from the host\n"
             "  ato        activate now; exit 0 AVMA Success, 3 Invalid Host, 4 Invalid Data,\n"
             "             5 Activation Denied\n"
             "  dlv        detailed licence information\n"
             "  dli        short licence information\n"
             "  xpr        when the activation expires\n"
             "  events     the 12309 history\n"
             "  doctor     what stands in the way of activation, each finding with its fix;\n"
             "             exit 0 when nothing does, 1 when something does\n");
}

/* ---- doctor: the Linux agent's checks, in the order they must be fixed ------------------------
 */

static bool flat_bool(const AvmaJsonFlat *r, const char *name) {
  const AvmaJsonMember *m = avma_json_flat_get(r, name);
  return m && m->type == AVMA_JV_BOOL && m->boolean;
}

static void doctor_port(Ctx *c, AvmaWDocReport *r, int service, const AvmaJsonFlat *port) {
  const char *path = c->cfg.port;
  if (service > 0) {
    if (flat_bool(port, "port_open"))
      avma_wdoc_add(r, "port present", AVMA_WDOC_OK, NULL, "%s", path);
    else
      avma_wdoc_add(r, "port present", AVMA_WDOC_WARNING,
                    "on the host: avma-host channel add VM; in the guest: the virtio-serial "
                    "driver (vioserial)",
                    "avma-guestd has %s closed now (it was not there, or the host side went "
                    "away, at its last attempt)",
                    path);
    return;
  }
  /* No service holds it: look for it ourselves. */
  AvmaWPort p;
  char why[512];
  if (!avma_wport_init(&p)) {
    avma_wdoc_add(r, "port present", AVMA_WDOC_PROBLEM, NULL, "cannot create events");
    return;
  }
  AvmaWPortStatus st = avma_wport_open(&p, path, why, sizeof why);
  avma_wport_free(&p);
  if (st == AVMA_WPORT_OK || st == AVMA_WPORT_BUSY)
    avma_wdoc_add(r, "port present", AVMA_WDOC_OK, NULL, "%s", path);
  else
    avma_wdoc_add(r, "port present", AVMA_WDOC_PROBLEM,
                  "on the host: avma-host channel add VM; in the guest: the virtio-serial "
                  "driver (vioserial), or set [guest] port",
                  "%s", why);
}

static void doctor_owner(AvmaWDocReport *r, int service, const char *service_error) {
  if (service > 0)
    avma_wdoc_add(r, "port owned by the agent", AVMA_WDOC_OK, NULL,
                  "the avma-guestd service answers on its pipe");
  else
    avma_wdoc_add(r, "port owned by the agent", AVMA_WDOC_PROBLEM, "sc start avma-guestd",
                  "the avma-guestd service does not answer%s%s", *service_error ? ": " : "",
                  service_error);
}

static void doctor_host(AvmaWDocReport *r, int service, const AvmaJsonFlat *port) {
  if (service <= 0 || !flat_bool(port, "port_open"))
    return; /* the checks above say why nothing is known */
  if (flat_bool(port, "host_connected"))
    avma_wdoc_add(r, "host side connected", AVMA_WDOC_OK, NULL,
                  "the host end of the port answered");
  else
    avma_wdoc_add(r, "host side connected", AVMA_WDOC_PROBLEM,
                  "on the host: start avma-hostd, then avma-host doctor VM",
                  "nobody listens on the host end of the port");
}

static void doctor_key(Ctx *c, AvmaWDocReport *r, const AvmaGState *st) {
  const char *fix = "avma-guest ipk KEY (the AVMA key)";
  if (!*st->key) {
    avma_wdoc_add(r, "key installed", AVMA_WDOC_PROBLEM, fix, "no product key installed");
    return;
  }
  const AvmaCatalogueEntry *e = avma_catalogue_lookup(st->key);
  if (!st->key_is_avma || !e) {
    avma_wdoc_add(r, "key installed", AVMA_WDOC_PROBLEM, fix,
                  "the installed key is not an AVMA key");
    return;
  }
  if ((c->image.version && c->image.version != e->version) ||
      (c->image.edition && c->image.edition != e->edition)) {
    avma_wdoc_add(r, "key installed", AVMA_WDOC_PROBLEM,
                  "avma-guest ipk KEY with the AVMA key of this image's product",
                  "the key is for %s %s, this image is %s %s", avma_version_display(e->version),
                  avma_edition_display(e->edition),
                  c->image.version ? avma_version_display(c->image.version) : "any version",
                  c->image.edition ? avma_edition_display(c->image.edition) : "any edition");
    return;
  }
  avma_wdoc_add(r, "key installed", AVMA_WDOC_OK, NULL, "AVMA key for %s %s",
                avma_version_display(e->version), avma_edition_display(e->edition));
}

static void doctor_outcome(AvmaWDocReport *r, const AvmaGState *st) {
  char attempt[AVMA_RFC3339_LEN], until[AVMA_RFC3339_LEN];
  avma_rfc3339_format(st->last_attempt, attempt);
  avma_rfc3339_format(st->granted_until, until);
  if (!*st->last_notification)
    avma_wdoc_add(r, "last outcome", AVMA_WDOC_WARNING, "avma-guest ato", "no attempt yet");
  else if (st->licensed && st->granted_until > avma_win_now())
    avma_wdoc_add(r, "last outcome", AVMA_WDOC_OK, NULL, "%s at %s; licensed until %s",
                  st->last_notification, attempt, until);
  else
    avma_wdoc_add(r, "last outcome", AVMA_WDOC_PROBLEM,
                  "fix the checks above (and avma-host doctor on the host), then avma-guest ato",
                  "%s at %s%s%s", st->last_notification, attempt, *st->last_reason ? ": " : "",
                  st->last_reason);
}

/* Exit 0 when nothing stands in the way of activation, 1 when something does. */
static int verb_doctor(Ctx *c) {
  AvmaWDocReport r = {0};
  AvmaJsonFlat port;
  memset(&port, 0, sizeof port);
  char service_error[256] = "";
  /* The service's own answer, not ask_service's: a missing service is a finding here. */
  int service = ask_service(c, "port", NULL, &port);
  if (service > 0 && !reply_ok(&port)) {
    snprintf(service_error, sizeof service_error, "%s", avma_json_flat_str(&port, "error", "?"));
    avma_json_flat_free(&port);
    service = 0;
  } else if (service < 0) {
    snprintf(service_error, sizeof service_error, "its pipe %s failed", c->cfg.pipe);
  }
  doctor_port(c, &r, service, &port);
  doctor_owner(&r, service, service_error);
  doctor_host(&r, service, &port);
  AvmaGState st;
  bool existed;
  char why[1024];
  if (avma_win_state_load(c->dir, &st, &existed, why, sizeof why)) {
    doctor_key(c, &r, &st);
    doctor_outcome(&r, &st);
  } else {
    avma_wdoc_add(&r, "key installed", AVMA_WDOC_PROBLEM, "avma-guest ipk KEY",
                  "cannot read the guest state: %s", why);
  }
  if (service > 0)
    avma_json_flat_free(&port);
  avma_wdoc_print(&r, c->json);
  return avma_wdoc_has_problem(&r) ? 1 : 0;
}

int wmain(int argc, wchar_t **wargv); /* the -municode entry point */
int wmain(int argc, wchar_t **wargv) {
  avma_log_init("avma-guest");
  char **argv = calloc((size_t)argc + 1, sizeof *argv);
  for (int i = 0; argv && i < argc; i++)
    if (!(argv[i] = avma_utf8(wargv[i])))
      return fail("bad argument"), 2;
  if (!argv)
    return 1;
  const char *config = NULL, *state_dir = NULL, *port = NULL;
  bool json = false;
  /* Options may come before or after the verb, as with GOption on Linux. */
  char **pos = calloc((size_t)argc + 1, sizeof *pos);
  int npos = 0;
  if (!pos)
    return 1;
  for (int k = 1; k < argc; k++) {
    bool next = k + 1 < argc;
    if (strncmp(argv[k], "--", 2) != 0)
      pos[npos++] = argv[k];
    else if (!strcmp(argv[k], "--json"))
      json = true;
    else if (!strcmp(argv[k], "--version")) {
      printf("avma-guest %s\n", AVMA_VERSION);
      return 0;
    } else if (!strcmp(argv[k], "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(argv[k], "--config") && next)
      config = argv[++k];
    else if (!strcmp(argv[k], "--state-dir") && next)
      state_dir = argv[++k];
    else if (!strcmp(argv[k], "--port") && next)
      port = argv[++k];
    else {
      fprintf(stderr, "avma-guest: unknown option %s\n", argv[k]);
      usage(stderr);
      return 2;
    }
  }
  if (npos == 0) {
    usage(stderr);
    return 2;
  }
  static Ctx c;
  char why[1024];
  bool is_default;
  if (!avma_win_setup(&c.cfg, config, state_dir, port, c.dir, sizeof c.dir, &is_default, why,
                      sizeof why))
    return fail("%s", why);
  c.json = json;
  AvmaWinProductInfo pi;
  avma_win_product_read(&pi);
  c.image.version = c.cfg.product.version ? c.cfg.product.version : pi.product.version;
  c.image.edition = c.cfg.product.edition ? c.cfg.product.edition : pi.product.edition;
  const char *verb = pos[0];
  int nargs = npos - 1;
  if (!strcmp(verb, "ipk")) {
    if (nargs < 1)
      return fail("ipk: give the key: avma-guest ipk XXXXX-XXXXX-XXXXX-XXXXX-XXXXX"), 2;
    /* A key pasted with spaces arrives as several arguments: join them. */
    char key[256] = "";
    for (int k = 1; k < npos; k++) {
      if (strlen(key) + strlen(pos[k]) + 2 > sizeof key)
        return fail("ipk: '%.40s...' is not a product key", pos[1]);
      if (k > 1)
        strcat(key, " ");
      strcat(key, pos[k]);
    }
    return verb_ipk_upk(&c, "ipk", key);
  }
  if (nargs > 0)
    return fail("%s: unexpected argument '%s'", verb, pos[1]), 2;
  if (!strcmp(verb, "upk"))
    return verb_ipk_upk(&c, "upk", NULL);
  if (!strcmp(verb, "ato"))
    return verb_ato(&c);
  if (!strcmp(verb, "dlv"))
    return verb_dlv(&c, false);
  if (!strcmp(verb, "dli"))
    return verb_dlv(&c, true);
  if (!strcmp(verb, "xpr"))
    return verb_xpr(&c);
  if (!strcmp(verb, "events"))
    return verb_events(&c);
  if (!strcmp(verb, "doctor"))
    return verb_doctor(&c);
  if (!strcmp(verb, "help")) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "avma-guest: unknown verb '%s'\n", verb);
  usage(stderr);
  return 2;
}
