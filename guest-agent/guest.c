/* guest: the guest agent's runtime. */
#include "guest.h"

#include "activation.h"
#include "channel.h"
#include "events.h"
#include "fsutil.h"
#include "intrinsic.h"
#include "port.h"
#include "timeutil.h"

#include <gio/gio.h>
#include <string.h>
#include <unistd.h>

typedef enum { OP_ACTIVATE, OP_CLEAR } OpKind;

typedef struct {
  AvmaAttemptDone cb;
  gpointer user;
} Waiter;

struct AvmaGuest {
  const AvmaGuestConfig *config;
  AvmaGuestState *state;
  AvmaEventLog *log;
  AvmaSchedule sched;
  gboolean daemon;

  int fd;          /* the port, -1 while not open */
  AvmaChannel *ch; /* reading/writing the port */
  AvmaDecoder *dec;
  gboolean host_gone; /* the channel stopped: wait for POLLHUP to clear */

  AvmaExchange *ex; /* the exchange in progress */
  OpKind op;
  gboolean sent;  /* frames of ex went out on the current connection */
  guint ex_timer; /* request timeout */
  guint presence_timer;
  guint sched_timer;

  gboolean want_activate;
  GArray *waiters;       /* Waiter: activation callbacks */
  GArray *clear_waiters; /* Waiter: clear callbacks */
  gpointer intrinsic_watch;
};

static void kick(AvmaGuest *g);
static void arm_schedule(AvmaGuest *g);

AvmaGuest *avma_guest_new(const AvmaGuestConfig *config, GError **error) {
  g_autoptr(AvmaGuestState) st = avma_guest_state_load(config->state_dir, error);
  if (!st)
    return NULL;
  if (!avma_ensure_dir(config->state_dir, 0700, error))
    return NULL;
  AvmaGuest *g = g_new0(AvmaGuest, 1);
  g->config = config;
  g->state = g_steal_pointer(&st);
  g_autofree char *path = avma_guest_state_path(config, "events.jsonl");
  g->log = avma_event_log_new(path, config->journal);
  g->fd = -1;
  g->waiters = g_array_new(FALSE, FALSE, sizeof(Waiter));
  g->clear_waiters = g_array_new(FALSE, FALSE, sizeof(Waiter));
  return g;
}

static void clear_source(guint *id) {
  if (*id) {
    g_source_remove(*id);
    *id = 0;
  }
}

static void close_port(AvmaGuest *g) {
  g_clear_pointer(&g->ch, avma_channel_free); /* closes fd */
  g->fd = -1;
  g_clear_pointer(&g->dec, g_free);
}

void avma_guest_free(AvmaGuest *g) {
  if (!g)
    return;
  clear_source(&g->ex_timer);
  clear_source(&g->presence_timer);
  clear_source(&g->sched_timer);
  avma_intrinsic_unwatch(g->intrinsic_watch);
  close_port(g);
  avma_exchange_free(g->ex);
  avma_guest_state_free(g->state);
  avma_event_log_free(g->log);
  g_array_unref(g->waiters);
  g_array_unref(g->clear_waiters);
  g_free(g);
}

AvmaGuestState *avma_guest_state(AvmaGuest *g) {
  return g->state;
}

static void save_state(AvmaGuest *g) {
  g_autoptr(GError) err = NULL;
  if (!avma_guest_state_save(g->state, g->config->state_dir, &err))
    g_warning("cannot save state: %s", err->message);
}

/* ---- port and channel -------------------------------------------------------------------- */

static void on_read(AvmaChannel *ch, const guint8 *data, gsize len, gpointer user);
static void on_stop(AvmaChannel *ch, AvmaChannelEvent ev, const GError *error, gpointer user);

gboolean avma_guest_open_port(AvmaGuest *g, GError **error) {
  if (g->fd >= 0)
    return TRUE;
  int fd = avma_port_open(g->config->port, error);
  if (fd < 0)
    return FALSE;
  g->fd = fd;
  g->ch = avma_channel_new(fd, 64 * 1024, on_read, on_stop, g);
  g->host_gone = FALSE;
  return TRUE;
}

static void send_current(AvmaGuest *g) {
  g_autoptr(GBytes) b = avma_exchange_current_frame(g->ex);
  if (!b || !g->ch)
    return;
  gsize len;
  const guint8 *d = g_bytes_get_data(b, &len);
  g_autoptr(GError) err = NULL;
  if (!avma_channel_write(g->ch, d, len, &err))
    g_warning("cannot queue request: %s", err->message);
  g->sent = TRUE;
}

static guint32 new_session(void) {
  guint32 s;
  do
    s = g_random_int();
  while (s == 0);
  return s;
}

/* Is the host side there? Reopen a stand-in whose device was replaced; a real port keeps its
 * node, and its POLLHUP clears when the host connects. */
static gboolean host_ready(AvmaGuest *g) {
  if (g->fd >= 0 && g->host_gone && avma_port_replaced(g->fd, g->config->port))
    close_port(g);
  if (g->fd < 0) {
    g_autoptr(GError) err = NULL;
    if (!avma_guest_open_port(g, &err)) {
      g_debug("port not ready: %s", err->message);
      return FALSE;
    }
  }
  if (!avma_port_host_present(g->fd)) {
    g->host_gone = TRUE;
    return FALSE;
  }
  if (g->host_gone || avma_channel_stopped(g->ch)) {
    g->host_gone = FALSE;
    avma_channel_resume(g->ch);
  }
  return TRUE;
}

static gboolean on_presence(gpointer data);

static void wait_for_host(AvmaGuest *g) {
  if (!g->presence_timer)
    g->presence_timer =
        g_timeout_add_seconds((guint)g->config->timing.presence_interval, on_presence, g);
}

/* Send the exchange's first (or next) frame if the host is there, else look again later. */
static void pump(AvmaGuest *g) {
  if (!g->ex)
    return;
  if (!host_ready(g)) {
    wait_for_host(g);
    return;
  }
  clear_source(&g->presence_timer);
  if (g->sent)
    return;
  send_current(g);
}

static gboolean on_presence(gpointer data) {
  AvmaGuest *g = data;
  g->presence_timer = 0;
  pump(g);
  return G_SOURCE_REMOVE;
}

static void on_stop(AvmaChannel *ch, AvmaChannelEvent ev, const GError *error, gpointer user) {
  AvmaGuest *g = user;
  (void)ch;
  g_debug("port stopped (%d%s%s)", ev, error ? ": " : "", error ? error->message : "");
  g->host_gone = TRUE;
  g_clear_pointer(&g->dec, g_free);
  if (g->ch)
    avma_channel_discard_output(g->ch);
  if (g->ex) {
    /* Whatever was sent may be lost: start over with a new session when the host is back. */
    if (g->sent)
      avma_exchange_restart(g->ex, new_session());
    g->sent = FALSE;
    wait_for_host(g);
  }
}

/* ---- exchanges ----------------------------------------------------------------------------- */

static void finish_exchange(AvmaGuest *g);

static void on_frame(AvmaGuest *g, const AvmaFrame *f) {
  if (!g->ex)
    return; /* nothing asked: stale bytes of an earlier session */
  switch (avma_exchange_on_frame(g->ex, f)) {
  case AVMA_EXCHANGE_CONTINUE:
    send_current(g);
    break;
  case AVMA_EXCHANGE_DONE:
    finish_exchange(g);
    break;
  case AVMA_EXCHANGE_IGNORED:
    break;
  }
}

static void on_read(AvmaChannel *ch, const guint8 *data, gsize len, gpointer user) {
  AvmaGuest *g = user;
  (void)ch;
  if (!g->dec) {
    g->dec = g_new(AvmaDecoder, 1);
    avma_decoder_init(g->dec);
  }
  while (g->dec) {
    size_t took = avma_decoder_feed(g->dec, data, len);
    data += took;
    len -= took;
    AvmaFrame f;
    AvmaDecError e;
    AvmaDecStatus st;
    while (g->dec && (st = avma_decoder_next(g->dec, &f, &e)) != AVMA_DEC_NEED_MORE) {
      if (st == AVMA_DEC_FRAME)
        on_frame(g, &f);
      else if (g->ex)
        avma_exchange_on_noise(g->ex);
    }
    if (len == 0)
      break;
  }
  if (g->dec && avma_decoder_pending(g->dec) == 0)
    g_clear_pointer(&g->dec, g_free);
}

static gboolean on_ex_timeout(gpointer data) {
  AvmaGuest *g = data;
  g->ex_timer = 0;
  if (g->ex) {
    avma_exchange_on_timeout(g->ex);
    finish_exchange(g);
  }
  return G_SOURCE_REMOVE;
}

static void start_exchange(AvmaGuest *g, OpKind op) {
  g->op = op;
  g->ex = avma_exchange_new(new_session(), AVMA_VERSION);
  g->sent = FALSE;
  if (op == OP_CLEAR) {
    avma_exchange_add(g->ex, AVMA_MSG_DELETE, NULL); /* none named: drop all we published */
  } else {
    avma_exchange_add(g->ex, AVMA_MSG_SET, avma_intrinsic_collect());
    AvmaRecordList *req = avma_record_list_new();
    AvmaVersion v = g->config->product_version ? g->config->product_version : g->state->key_version;
    AvmaEdition e = g->config->product_edition ? g->config->product_edition : g->state->key_edition;
    avma_record_list_add(req, AVMA_KEY_AvmaKey, g->state->key);
    if (v)
      avma_record_list_add(req, AVMA_KEY_AvmaProductVersion, avma_version_name(v));
    if (e)
      avma_record_list_add(req, AVMA_KEY_AvmaProductEdition, avma_edition_name(e));
    avma_exchange_add(g->ex, AVMA_MSG_ACTIVATE, req);
  }
  g->ex_timer = g_timeout_add((guint)(g->config->timing.request_timeout * 1000), on_ex_timeout, g);
  pump(g);
}

static const char *item(AvmaRecordList *l, AvmaKeyId id) {
  if (!l)
    return NULL;
  for (guint i = 0; i < avma_record_list_len(l); i++) {
    AvmaRecord r = avma_record_list_get(l, i);
    if (avma_record_key_is(&r, avma_key_name(id)))
      return r.value;
  }
  return NULL;
}

static void set_str(char **dst, const char *v) {
  g_free(*dst);
  *dst = g_strdup(v ? v : "");
}

static void log_12309(AvmaGuest *g, AvmaNotification n, const char *code, const char *reason) {
  AvmaGuestState *s = g->state;
  g_autoptr(JsonObject) ev = avma_event_new(AVMA_EVENT_GUEST, n);
  json_object_set_string_member(ev, "reason", reason ? reason : "");
  json_object_set_string_member(ev, "reason_code", code ? code : "");
  json_object_set_string_member(ev, "vm", s->vm_name ? s->vm_name : "");
  json_object_set_string_member(ev, "vm_uuid", s->vm_id ? s->vm_id : "");
  json_object_set_string_member(ev, "guest_id", s->guest_id);
  AvmaVersion v = g->config->product_version ? g->config->product_version : s->key_version;
  AvmaEdition e = g->config->product_edition ? g->config->product_edition : s->key_edition;
  json_object_set_string_member(ev, "guest_version", v ? avma_version_name(v) : "");
  json_object_set_string_member(ev, "guest_edition", e ? avma_edition_name(e) : "");
  char last5[6] = "";
  if (s->key)
    avma_key_last5(s->key, last5);
  json_object_set_string_member(ev, "key_last5", last5);
  json_object_set_string_member(ev, "host_version", s->host_version ? s->host_version : "");
  json_object_set_string_member(ev, "host_id", s->host_id ? s->host_id : "");
  json_object_set_string_member(ev, "host_name", s->host_name ? s->host_name : "");
  g_autofree char *until = avma_time_format(s->licensed ? s->granted_until : 0);
  json_object_set_string_member(ev, "granted_until", until);
  g_autofree char *msg =
      g_strdup_printf("AVMA activation: %s (%s)", avma_notification_name(n), reason ? reason : "");
  g_autoptr(GError) err = NULL;
  if (!avma_event_log_append(g->log, ev, msg, &err))
    g_warning("cannot log event 12309: %s", err->message);
}

static void run_waiters(AvmaGuest *g, GArray *waiters, AvmaNotification n, const char *reason) {
  g_autoptr(GArray) w = g_array_copy(waiters);
  g_array_set_size(waiters, 0);
  for (guint i = 0; i < w->len; i++) {
    Waiter *x = &g_array_index(w, Waiter, i);
    x->cb(g, n, reason, x->user);
  }
}

static void finish_activate(AvmaGuest *g, const AvmaExchangeResult *r) {
  AvmaGuestState *s = g->state;
  gint64 now = avma_now();
  s->last_attempt = now;
  set_str(&s->last_notification, avma_notification_name(r->notification));
  set_str(&s->last_reason, r->reason);
  if (r->host_items) {
    set_str(&s->host_name, item(r->host_items, AVMA_KEY_HostName));
    set_str(&s->vm_name, item(r->host_items, AVMA_KEY_VirtualMachineName));
    set_str(&s->vm_id, item(r->host_items, AVMA_KEY_VirtualMachineId));
  }
  if (r->reply) {
    set_str(&s->host_id, item(r->reply, AVMA_KEY_AvmaHostId));
    set_str(&s->host_version, item(r->reply, AVMA_KEY_AvmaHostVersion));
  }
  if (r->notification == AVMA_NOTIFY_SUCCESS) {
    /* Validity is the host's grant measured on the host's clock, applied to ours: a skewed
     * guest clock neither shortens nor stretches it. */
    gint64 until = 0, at = 0;
    const char *u = item(r->reply, AVMA_KEY_AvmaGrantedUntil);
    const char *a = item(r->reply, AVMA_KEY_AvmaActivationTime);
    gint64 validity = 0;
    if (u && a && avma_time_parse(u, &until) && avma_time_parse(a, &at) && until > at)
      validity = until - at;
    s->licensed = validity > 0;
    s->granted_until = now + validity;
    s->last_success = now;
    s->published = TRUE;
    s->failures = 0;
    avma_schedule_success(&g->sched, &g->config->timing, now, s->granted_until);
  } else {
    s->failures++;
    avma_schedule_failure(&g->sched, &g->config->timing, now);
  }
  log_12309(g, r->notification, r->reason_code, r->reason);
  save_state(g);
  run_waiters(g, g->waiters, r->notification, r->reason);
}

static void finish_clear(AvmaGuest *g, const AvmaExchangeResult *r) {
  if (r->notification == AVMA_NOTIFY_SUCCESS) {
    g->state->pending_clear = FALSE;
    g->state->published = FALSE;
    save_state(g);
    g_message("published KVP data removed from the host");
    if (!g->state->key_is_avma)
      avma_schedule_idle(&g->sched);
  } else {
    g_message("could not remove published KVP data yet: %s", r->reason);
    avma_schedule_failure(&g->sched, &g->config->timing, avma_now());
  }
  run_waiters(g, g->clear_waiters, r->notification, r->reason);
}

static void finish_exchange(AvmaGuest *g) {
  clear_source(&g->ex_timer);
  clear_source(&g->presence_timer);
  g_autoptr(AvmaExchange) ex = g_steal_pointer(&g->ex);
  const AvmaExchangeResult *r = avma_exchange_result(ex);
  if (g->op == OP_ACTIVATE)
    finish_activate(g, r);
  else
    finish_clear(g, r);
  kick(g);
  arm_schedule(g);
}

static void kick(AvmaGuest *g) {
  if (g->ex)
    return;
  if (g->state->pending_clear && (g->clear_waiters->len || g->daemon)) {
    start_exchange(g, OP_CLEAR);
    return;
  }
  if (!g->want_activate)
    return;
  g->want_activate = FALSE;
  if (!g->state->key || !g->state->key_is_avma) {
    const char *why = g->state->key ? "the installed key is not an AVMA key"
                                    : "no key installed: run avma-guest ipk KEY";
    run_waiters(g, g->waiters, AVMA_NOTIFY_DENIED, why);
    return;
  }
  start_exchange(g, OP_ACTIVATE);
}

void avma_guest_activate_now(AvmaGuest *g, AvmaAttemptDone cb, gpointer user) {
  if (cb) {
    Waiter w = {cb, user};
    g_array_append_val(g->waiters, w);
  }
  g->want_activate = TRUE;
  kick(g);
}

gboolean avma_guest_clear_pending(AvmaGuest *g, AvmaAttemptDone cb, gpointer user) {
  if (!g->state->pending_clear)
    return FALSE;
  if (cb) {
    Waiter w = {cb, user};
    g_array_append_val(g->clear_waiters, w);
  }
  kick(g);
  return TRUE;
}

/* ---- daemon schedule ------------------------------------------------------------------------ */

static gboolean on_schedule(gpointer data) {
  AvmaGuest *g = data;
  g->sched_timer = 0;
  gint64 now = avma_now();
  if (avma_schedule_expire(&g->sched, now)) {
    g->state->licensed = FALSE;
    g_autofree char *at = avma_time_format(g->state->granted_until);
    g_autofree char *why = g_strdup_printf(
        "licence validity ended at %s without a renewal; last attempt: %s (%s)", at,
        *g->state->last_notification ? g->state->last_notification : "none", g->state->last_reason);
    AvmaNotification n = AVMA_NOTIFY_INVALID_HOST;
    (void)avma_notification_parse(g->state->last_notification, &n);
    if (n == AVMA_NOTIFY_SUCCESS)
      n = AVMA_NOTIFY_INVALID_HOST;
    log_12309(g, n, "expired", why);
    save_state(g);
  }
  if (g->sched.next_attempt && now >= g->sched.next_attempt) {
    g->sched.next_attempt = 0;
    g->want_activate = TRUE;
    kick(g);
  }
  arm_schedule(g);
  return G_SOURCE_REMOVE;
}

static void arm_schedule(AvmaGuest *g) {
  if (!g->daemon)
    return;
  clear_source(&g->sched_timer);
  if (g->ex)
    return; /* re-armed when the exchange ends */
  gint64 w = avma_schedule_wakeup(&g->sched);
  if (!w)
    return; /* nothing due: no wake-ups at all */
  gint64 delay = MAX(w - avma_now(), 0);
  /* One timer for the next due instant; long delays are re-armed in steps. */
  guint ms = (guint)MIN(delay * 1000, (gint64)G_MAXINT32 / 2);
  g->sched_timer = g_timeout_add(ms, on_schedule, g);
}

static void on_intrinsic_changed(gpointer user) {
  AvmaGuest *g = user;
  /* New addresses: publish them with a renewal now rather than at the next due time. */
  if (g->state->key_is_avma && !g->ex) {
    g_message("network changed: publishing intrinsic items");
    g->want_activate = TRUE;
    kick(g);
  }
}

void avma_guest_start_daemon(AvmaGuest *g) {
  g->daemon = TRUE;
  gint64 now = avma_now();
  avma_schedule_start(&g->sched, g->state->licensed, g->state->granted_until, now);
  if (!g->state->key_is_avma)
    avma_schedule_idle(&g->sched);
  if (g->state->licensed && g->state->granted_until <= now) {
    g->sched.licensed = TRUE; /* let on_schedule log the lapse */
    g->sched.granted_until = g->state->granted_until;
  }
  g->intrinsic_watch = avma_intrinsic_watch(on_intrinsic_changed, g);
  if (g->state->pending_clear)
    kick(g);
  on_schedule(g);
}

/* ---- keys ------------------------------------------------------------------------------------ */

gboolean avma_guest_install_key(AvmaGuest *g, const char *key, char **message, GError **error) {
  char norm[64];
  if (!avma_key_normalise(key, norm, sizeof norm) || !avma_key_syntax_valid(norm)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                "'%s' is not a product key: expected five groups of five characters like "
                "XXXXX-XXXXX-XXXXX-XXXXX-XXXXX",
                key);
    return FALSE;
  }
  AvmaGuestState *s = g->state;
  const AvmaCatalogueEntry *e = avma_catalogue_lookup(norm);
  const AvmaGuestConfig *c = g->config;
  if (e && ((c->product_version && c->product_version != e->version) ||
            (c->product_edition && c->product_edition != e->edition))) {
    AvmaVersion v = c->product_version ? c->product_version : e->version;
    AvmaEdition ed = c->product_edition ? c->product_edition : e->edition;
    const AvmaCatalogueEntry *right = avma_catalogue_find(v, ed);
    g_set_error(
        error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "key %s is for %s %s, but this image is %s %s%s%s", norm, avma_version_display(e->version),
        avma_edition_display(e->edition), avma_version_display(v), avma_edition_display(ed),
        right ? ": its AVMA key is " : " (no AVMA key exists for it)", right ? right->key : "");
    return FALSE;
  }
  gboolean was_published = s->published || s->pending_clear;
  g_free(s->key);
  s->key = g_strdup(norm);
  s->key_is_avma = e != NULL;
  s->key_version = e ? e->version : AVMA_VERSION_UNKNOWN;
  s->key_edition = e ? e->edition : AVMA_EDITION_UNKNOWN;
  s->key_installed_at = avma_now();
  s->licensed = FALSE;
  s->granted_until = 0;
  s->failures = 0;
  if (!e) {
    /* As in Windows, another product key replaces the AVMA key: AVMA stops and the KVP data it
     * published must go (brief section 7). */
    s->pending_clear = was_published;
    avma_schedule_idle(&g->sched);
  }
  if (!avma_guest_state_save(s, c->state_dir, error))
    return FALSE;
  if (e) {
    *message = g_strdup_printf("Installed AVMA key for %s %s (partial key %s).",
                               avma_version_display(e->version), avma_edition_display(e->edition),
                               norm + 24);
    if (g->daemon) {
      g->want_activate = TRUE;
      kick(g);
    }
  } else {
    *message = g_strdup_printf(
        "Installed product key %s, which is not an AVMA key: AVMA "
        "activation stops%s.",
        norm + 24, s->pending_clear ? " and its KVP data is removed from the host" : "");
    kick(g);
  }
  return TRUE;
}

gboolean avma_guest_uninstall_key(AvmaGuest *g, char **message, GError **error) {
  AvmaGuestState *s = g->state;
  if (!s->key) {
    *message = g_strdup("No product key was installed.");
    return TRUE;
  }
  gboolean was_published = s->published || s->pending_clear;
  g_clear_pointer(&s->key, g_free);
  s->key_is_avma = FALSE;
  s->key_version = AVMA_VERSION_UNKNOWN;
  s->key_edition = AVMA_EDITION_UNKNOWN;
  s->licensed = FALSE;
  s->granted_until = 0;
  s->pending_clear = was_published;
  avma_schedule_idle(&g->sched);
  if (!avma_guest_state_save(s, g->config->state_dir, error))
    return FALSE;
  *message = g_strdup_printf("Product key uninstalled%s.",
                             s->pending_clear ? "; its KVP data is removed from the host" : "");
  kick(g);
  return TRUE;
}
