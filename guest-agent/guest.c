/* guest: the guest agent's runtime: port, timers, state file and event log around the core's
 * exchange (core/xchg.c) and decisions (core/agent.c). */
#include "guest.h"

#include "activation.h"
#include "channel.h"
#include "core/agent.h"
#include "core/evline.h"
#include "events.h"
#include "fsutil.h"
#include "intrinsic.h"
#include "port.h"
#include "receipts.h"
#include "state-files.h"
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

  AvmaProduct image; /* the configured product (UNKNOWN parts: the key decides) */
  AvmaXchg *ex;      /* the exchange in progress */
  OpKind op;
  gboolean sent;  /* frames of ex went out on the current connection */
  guint ex_timer; /* request timeout */
  guint presence_timer;
  guint retry_timer; /* a throttled request waits to be sent again */
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
  g->image.version = config->product_version;
  g->image.edition = config->product_edition;
  g_autofree char *path = avma_guest_state_path(config, AVMA_GUEST_EVENTS_FILE);
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

static void free_exchange(AvmaXchg *x) {
  if (!x)
    return;
  avma_xchg_clear(x);
  g_free(x);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaXchg, free_exchange)

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
  clear_source(&g->retry_timer);
  clear_source(&g->sched_timer);
  avma_intrinsic_unwatch(g->intrinsic_watch);
  close_port(g);
  free_exchange(g->ex);
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
  if (!g->ch)
    return;
  g_autofree guint8 *d = g_malloc(AVMA_FRAME_MAX_SIZE);
  char why[160];
  size_t len = avma_xchg_frame(g->ex, d, AVMA_FRAME_MAX_SIZE, why, sizeof why);
  if (!len) {
    if (*why)
      g_warning("cannot build the request: %s", why);
    return;
  }
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

void avma_guest_port_status(AvmaGuest *g, gboolean *open, gboolean *host_connected) {
  *open = g->fd >= 0;
  /* A port whose node was removed or replaced (hot-unplugged) has no host side either. */
  *host_connected = g->fd >= 0 && !g->host_gone && !avma_port_replaced(g->fd, g->config->port) &&
                    avma_port_host_present(g->fd);
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
  clear_source(&g->retry_timer); /* the restart sends again anyway */
  if (g->ex) {
    /* Whatever was sent may be lost: start over with a new session when the host is back. */
    if (g->sent)
      avma_xchg_restart(g->ex, new_session());
    g->sent = FALSE;
    wait_for_host(g);
  }
}

/* ---- exchanges ----------------------------------------------------------------------------- */

static void finish_exchange(AvmaGuest *g);

/* What the decode loop's callbacks see: the decoder they run on may be dropped under them (the
 * exchange ended and the next one reopened the port). */
typedef struct {
  AvmaGuest *g;
  AvmaDecoder *dec;
} ReadCtx;

static gboolean on_retry(gpointer data) {
  AvmaGuest *g = data;
  g->retry_timer = 0;
  if (g->ex && g->sent)
    send_current(g); /* the same request, as the throttling host asked */
  else
    pump(g);
  return G_SOURCE_REMOVE;
}

static bool on_frame(const AvmaFrame *f, void *user) {
  ReadCtx *c = user;
  AvmaGuest *g = c->g;
  if (!g->ex)
    return true; /* nothing asked: stale bytes of an earlier session */
  switch (avma_xchg_on_frame(g->ex, f)) {
  case AVMA_XCHG_CONTINUE:
    send_current(g);
    break;
  case AVMA_XCHG_DONE:
    finish_exchange(g);
    break;
  case AVMA_XCHG_RETRY:
    clear_source(&g->retry_timer);
    g->retry_timer = g_timeout_add(avma_xchg_retry_after_ms(g->ex), on_retry, g);
    break;
  case AVMA_XCHG_IGNORED:
    break;
  }
  return g->dec == c->dec;
}

static bool on_noise(const AvmaDecError *e, void *user) {
  ReadCtx *c = user;
  (void)e;
  if (c->g->ex)
    avma_xchg_on_noise(c->g->ex);
  return true;
}

static void on_read(AvmaChannel *ch, const guint8 *data, gsize len, gpointer user) {
  AvmaGuest *g = user;
  (void)ch;
  if (!g->dec) {
    g->dec = g_new(AvmaDecoder, 1);
    avma_decoder_init(g->dec);
  }
  ReadCtx c = {g, g->dec};
  avma_decode_stream(g->dec, data, len, on_frame, on_noise, &c);
  if (g->dec && avma_decoder_pending(g->dec) == 0)
    g_clear_pointer(&g->dec, g_free);
}

static gboolean on_ex_timeout(gpointer data) {
  AvmaGuest *g = data;
  g->ex_timer = 0;
  if (g->ex) {
    avma_xchg_on_timeout(g->ex);
    finish_exchange(g);
  }
  return G_SOURCE_REMOVE;
}

/* The intrinsic items as the core's record list. */
static void intrinsic_records(AvmaRecs *out) {
  g_autoptr(AvmaRecordList) l = avma_intrinsic_collect();
  for (guint i = 0; i < avma_record_list_len(l); i++) {
    AvmaRecord r = avma_record_list_get(l, i);
    if (!avma_recs_add_raw(out, r.pool, r.key, r.key_len, r.value, r.value_len))
      g_error("out of memory");
  }
}

static void start_exchange(AvmaGuest *g, OpKind op) {
  g->op = op;
  g->ex = g_new0(AvmaXchg, 1);
  avma_xchg_init(g->ex, new_session(), AVMA_VERSION);
  g->sent = FALSE;
  AvmaRecs r;
  avma_recs_init(&r);
  if (op == OP_CLEAR) {
    avma_xchg_add(g->ex, AVMA_MSG_DELETE, NULL); /* none named: drop all we published */
  } else {
    intrinsic_records(&r);
    avma_xchg_add(g->ex, AVMA_MSG_SET, &r);
    if (!avma_agent_activate_request(g->state, &g->image, &r))
      g_error("out of memory");
    avma_xchg_add(g->ex, AVMA_MSG_ACTIVATE, &r);
  }
  g->ex_timer = g_timeout_add((guint)(g->config->timing.request_timeout * 1000), on_ex_timeout, g);
  pump(g);
}

/* The journal's copy of a record: every member as AVMA_<UPPER>=value, in the line's order. */
static GPtrArray *journal_fields(const char *line, size_t len) {
  GPtrArray *fields = g_ptr_array_new_with_free_func(g_free);
  AvmaJsonFlat f;
  char why[96];
  if (!avma_json_flat_parse(&f, line, len, why, sizeof why)) {
    g_warning("event 12309 does not read back (%s); the journal gets its message only", why);
    return fields;
  }
  for (size_t i = 0; i < f.n; i++) {
    g_autofree char *up = g_ascii_strup(f.m[i].name, -1);
    g_ptr_array_add(fields, g_strdup_printf("AVMA_%s=%s", up, f.m[i].text));
  }
  avma_json_flat_free(&f);
  return fields;
}

static void log_12309(AvmaGuest *g, AvmaNotification n, const char *code, const char *reason) {
  /* The core's writer, as the Windows agent's: the daemon links no json-glib. */
  AvmaBuf b;
  avma_buf_init(&b);
  avma_evline_12309(&b, avma_now(), n, code, reason, g->state, &g->image);
  if (b.failed)
    g_error("out of memory");
  g_autoptr(GPtrArray) fields = journal_fields(b.data, b.len);
  g_autofree char *msg =
      g_strdup_printf("AVMA activation: %s (%s)", avma_notification_name(n), reason ? reason : "");
  g_autoptr(GError) err = NULL;
  if (!avma_event_log_append_line(g->log, b.data, AVMA_EVENT_GUEST, n != AVMA_NOTIFY_SUCCESS, msg,
                                  fields, &err))
    g_warning("cannot log event 12309: %s", err->message);
  avma_buf_free(&b);
}

static void run_waiters(AvmaGuest *g, GArray *waiters, AvmaNotification n, const char *reason) {
  g_autoptr(GArray) w = g_array_copy(waiters);
  g_array_set_size(waiters, 0);
  for (guint i = 0; i < w->len; i++) {
    Waiter *x = &g_array_index(w, Waiter, i);
    x->cb(g, n, reason, x->user);
  }
}

/* The reply's receipt joins the kept ones. Its problems are warnings only: the host decided,
 * and the decision stands whatever the receipt says (docs/audit.md). */
static void keep_receipt(AvmaGuest *g, const AvmaXchgResult *r) {
  const char *note = r->has_reply ? avma_recs_get(&r->reply, AVMA_KEY_AvmaReceipt) : NULL;
  if (!note || !*note)
    return;
  const char *key = avma_recs_get(&r->reply, AVMA_KEY_AvmaHostPublicKey);
  g_autofree char *path = avma_guest_state_path(g->config, AVMA_GUEST_RECEIPTS_FILE);
  g_autofree char *verdict = NULL;
  g_autoptr(GError) err = NULL;
  if (!avma_guest_receipts_add(path, note, key, avma_now(), &verdict, &err))
    g_warning("cannot keep the activation receipt: %s", err->message);
  else if (verdict)
    g_warning("activation receipt kept but it does not verify: %s", verdict);
}

static void finish_activate(AvmaGuest *g, const AvmaXchgResult *r) {
  avma_agent_apply_result(g->state, &g->sched, &g->config->timing, r, avma_now());
  keep_receipt(g, r);
  log_12309(g, r->notification, r->reason_code, r->reason);
  save_state(g);
  run_waiters(g, g->waiters, r->notification, r->reason);
}

static void finish_clear(AvmaGuest *g, const AvmaXchgResult *r) {
  gboolean ok = r->notification == AVMA_NOTIFY_SUCCESS;
  avma_agent_clear_done(g->state, &g->sched, &g->config->timing, ok, avma_now());
  if (ok) {
    save_state(g);
    g_message("published KVP data removed from the host");
  } else {
    g_message("could not remove published KVP data yet: %s", r->reason);
  }
  run_waiters(g, g->clear_waiters, r->notification, r->reason);
}

static void finish_exchange(AvmaGuest *g) {
  clear_source(&g->ex_timer);
  clear_source(&g->presence_timer);
  clear_source(&g->retry_timer);
  g_autoptr(AvmaXchg) ex = g_steal_pointer(&g->ex);
  const AvmaXchgResult *r = avma_xchg_result(ex);
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
  const char *why = avma_agent_cannot_activate(g->state);
  if (why) {
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
  AvmaNotification n;
  char why[AVMA_GSTATE_REASON + 128];
  if (avma_agent_expire(g->state, &g->sched, now, &n, why, sizeof why)) {
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
  char msg[512], why[512];
  bool activate = false;
  if (!avma_agent_install_key(g->state, &g->sched, &g->image, key, avma_now(), &activate, msg,
                              sizeof msg, why, sizeof why)) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, why);
    return FALSE;
  }
  if (!avma_guest_state_save(g->state, g->config->state_dir, error))
    return FALSE;
  *message = g_strdup(msg);
  if (!activate) {
    kick(g); /* a pending KVP clear */
  } else if (g->daemon) {
    g->want_activate = TRUE;
    kick(g);
  }
  return TRUE;
}

gboolean avma_guest_uninstall_key(AvmaGuest *g, char **message, GError **error) {
  char msg[256];
  gboolean had_key = *g->state->key != '\0';
  avma_agent_uninstall_key(g->state, &g->sched, msg, sizeof msg);
  if (had_key && !avma_guest_state_save(g->state, g->config->state_dir, error))
    return FALSE;
  *message = g_strdup(msg);
  if (had_key)
    kick(g);
  return TRUE;
}
