/* runtime-win32: exchanges, presence retry, 12309 events and the schedule on Win32 handles. */
#include "runtime-win32.h"

#include "evline.h"
#include "fileio-win32.h"
#include "winutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { KIND_READ = 1, KIND_WRITE, KIND_ADDR };

#define STATE_FILE "guest.state"
#define EVENTS_FILE "events.jsonl"
#define STATE_MAX (256 * 1024)
#define ADDR_DEBOUNCE_MS 2000
#define MAX_WAIT_MS (10 * 60 * 1000) /* re-read the wall clock at least this often */

static void kick(AvmaWinGuest *g);
static void finish_exchange(AvmaWinGuest *g);

/* ---- state ------------------------------------------------------------------------------------
 */

static void new_guest_id(AvmaGState *st) {
  uint8_t rnd[16];
  if (!avma_win_random(rnd, sizeof rnd))
    for (size_t i = 0; i < sizeof rnd; i++)
      rnd[i] = (uint8_t)(GetTickCount64() >> (i % 8) ^ (uint64_t)GetCurrentProcessId() * i);
  avma_uuid_format_v4(rnd, st->guest_id);
}

bool avma_win_state_load(const char *dir, AvmaGState *st, bool *existed, char *why,
                         size_t why_len) {
  char path[AVMA_WIN_PATH_MAX + 32];
  avma_gstate_init(st);
  *existed = false;
  if (!avma_path_join(path, sizeof path, dir, STATE_FILE)) {
    snprintf(why, why_len, "state folder name too long");
    return false;
  }
  char *data = NULL;
  size_t len = 0;
  DWORD err = 0;
  char msg[160], pwhy[256];
  if (!avma_read_file(path, STATE_MAX, &data, &len, &err)) {
    if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND) {
      new_guest_id(st);
      return true;
    }
    snprintf(why, why_len,
             "state file %s is unreadable (%s); move it aside and reinstall the key with "
             "avma-guest ipk",
             path, avma_win_error(err, msg, sizeof msg));
    return false;
  }
  *existed = true;
  bool ok = memchr(data, '\0', len) == NULL;
  if (!ok)
    snprintf(pwhy, sizeof pwhy, "it holds NUL bytes");
  else
    ok = avma_gstate_parse(st, data, len, pwhy, sizeof pwhy);
  free(data);
  if (!ok) {
    /* Never silently replaced: the administrator decides what the file was. */
    snprintf(why, why_len,
             "state file %s is unreadable (%s); move it aside and reinstall the key with "
             "avma-guest ipk",
             path, pwhy);
    return false;
  }
  if (!avma_uuid_valid(st->guest_id))
    new_guest_id(st);
  return true;
}

bool avma_wg_save(AvmaWinGuest *g, char *why, size_t why_len) {
  char path[AVMA_WIN_PATH_MAX + 32];
  char *text = malloc(AVMA_GSTATE_TEXT_MAX);
  size_t n = text ? avma_gstate_format(&g->st, text, AVMA_GSTATE_TEXT_MAX) : 0;
  bool ok = n > 0 && avma_path_join(path, sizeof path, g->dir, STATE_FILE) &&
            avma_data_dir_ensure(g->dir, false, why, why_len) &&
            avma_write_atomic_file(path, text, n, why, why_len);
  if (!ok && n == 0)
    snprintf(why, why_len, "cannot format the state");
  free(text);
  return ok;
}

static void save_state(AvmaWinGuest *g) {
  char why[512];
  if (!avma_wg_save(g, why, sizeof why))
    avma_winlog_notice(g->log, EVENTLOG_ERROR_TYPE, "cannot save state: %s", why);
}

bool avma_wg_init(AvmaWinGuest *g, const AvmaWinConfig *cfg, const char *dir, AvmaWinLog *log,
                  char *why, size_t why_len) {
  memset(g, 0, sizeof *g);
  g->cfg = cfg;
  g->log = log;
  snprintf(g->dir, sizeof g->dir, "%s", dir);
  bool existed;
  if (!avma_win_state_load(dir, &g->st, &existed, why, why_len))
    return false;
  avma_win_product_read(&g->pinfo);
  /* The configuration may pin the product; what it leaves open comes from the registry. */
  g->image.version = cfg->product.version ? cfg->product.version : g->pinfo.product.version;
  g->image.edition = cfg->product.edition ? cfg->product.edition : g->pinfo.product.edition;
  g->frame = malloc(AVMA_FRAME_MAX_SIZE);
  if (!g->frame || !avma_wport_init(&g->port)) {
    snprintf(why, why_len, "out of memory or handles");
    return false;
  }
  g->addr.ov.hEvent = NULL;
  return true;
}

static void close_port(AvmaWinGuest *g) {
  avma_wport_close(&g->port);
  free(g->dec);
  g->dec = NULL;
}

void avma_wg_free(AvmaWinGuest *g) {
  close_port(g);
  avma_wport_free(&g->port);
  if (g->ex_active)
    avma_xchg_clear(&g->x);
  if (g->addr.ov.hEvent)
    avma_addr_watch_stop(&g->addr);
  free(g->frame);
  g->frame = NULL;
}

/* ---- events ------------------------------------------------------------------------------------
 */

static void log_12309(AvmaWinGuest *g, AvmaNotification n, const char *code, const char *reason) {
  int64_t now = avma_win_now();
  AvmaBuf b;
  avma_buf_init(&b);
  avma_evline_12309(&b, now, n, code ? code : "", reason ? reason : "", &g->st, &g->image);
  avma_buf_append(&b, "\n", 1);
  char path[AVMA_WIN_PATH_MAX + 32], why[512];
  if (b.failed || !avma_path_join(path, sizeof path, g->dir, EVENTS_FILE) ||
      !avma_data_dir_ensure(g->dir, false, why, sizeof why) ||
      !avma_append_file(path, b.data, b.len, why, sizeof why))
    avma_log("cannot log event 12309 to %s: %s", EVENTS_FILE, b.failed ? "out of memory" : why);
  avma_buf_free(&b);
  char last5[6] = "";
  avma_key_last5(g->st.key, last5);
  const char *s[5] = {avma_notification_name(n), reason ? reason : "", code ? code : "",
                      *last5 ? last5 : "(none)", *g->st.host_name ? g->st.host_name : "(none)"};
  avma_winlog_report(g->log, n == AVMA_NOTIFY_SUCCESS ? EVENTLOG_SUCCESS : EVENTLOG_WARNING_TYPE,
                     AVMA_EVENT_ID_12309, s, 5);
  avma_log("AVMA activation: %s (%s)", s[0], s[1]);
}

static void run_waiters(AvmaWinGuest *g, AvmaWinWaiter *w, size_t *n, AvmaNotification no,
                        const char *reason) {
  AvmaWinWaiter copy[AVMA_WG_MAX_WAITERS];
  size_t k = *n;
  memcpy(copy, w, k * sizeof *w);
  *n = 0; /* a callback may queue again */
  for (size_t i = 0; i < k; i++)
    copy[i].cb(g, no, reason, copy[i].user);
}

/* ---- port -------------------------------------------------------------------------------------
 */

AvmaWPortStatus avma_wg_open_port(AvmaWinGuest *g, char *why, size_t why_len) {
  return avma_wport_open(&g->port, g->cfg->port, why, why_len);
}

static void wait_for_host(AvmaWinGuest *g) {
  if (!g->presence_at)
    g->presence_at = GetTickCount64() + (uint64_t)g->cfg->timing.presence_interval * 1000u;
}

/* The host went away (or the port vanished): whatever was sent may be lost, so the exchange
 * starts over with a new session once the host is back. Nothing counted as delivered. */
static void on_port_lost(AvmaWinGuest *g, const char *what) {
  char msg[160];
  avma_log("port %s: %s; looking again every %llds", what,
           avma_win_error(g->port.last_error, msg, sizeof msg),
           (long long)g->cfg->timing.presence_interval);
  close_port(g);
  g->retry_at = 0; /* the restart sends again anyway */
  if (g->ex_active) {
    if (g->sent)
      avma_xchg_restart(&g->x, avma_win_session_id());
    g->sent = false;
    wait_for_host(g);
  }
}

static bool host_ready(AvmaWinGuest *g) {
  if (!avma_wport_is_open(&g->port)) {
    char why[512];
    AvmaWPortStatus st = avma_wg_open_port(g, why, sizeof why);
    if (st != AVMA_WPORT_OK) {
      if (!g->port_warned)
        avma_log("%s", why);
      g->port_warned = true;
      return false;
    }
    if (g->port_warned)
      avma_log("port %s is back", g->cfg->port);
    g->port_warned = false;
  }
  if (avma_wport_start_read(&g->port) != AVMA_WPORT_OK) {
    on_port_lost(g, "read");
    return false;
  }
  return true;
}

static void send_current(AvmaWinGuest *g) {
  char why[256] = "";
  size_t n = avma_xchg_frame(&g->x, g->frame, AVMA_FRAME_MAX_SIZE, why, sizeof why);
  if (!n) {
    if (*why)
      avma_log("cannot encode request: %s", why);
    return;
  }
  if (avma_wport_write(&g->port, g->frame, n) != AVMA_WPORT_OK) {
    on_port_lost(g, "write");
    return;
  }
  g->sent = true;
}

static void pump(AvmaWinGuest *g) {
  if (!g->ex_active)
    return;
  if (!host_ready(g)) {
    wait_for_host(g);
    return;
  }
  g->presence_at = 0;
  if (!g->sent)
    send_current(g);
}

static bool on_frame(const AvmaFrame *f, void *user) {
  AvmaWinGuest *g = user;
  if (!g->ex_active)
    return true; /* nothing asked: stale bytes of an earlier session */
  switch (avma_xchg_on_frame(&g->x, f)) {
  case AVMA_XCHG_CONTINUE:
    send_current(g);
    break;
  case AVMA_XCHG_DONE:
    finish_exchange(g);
    break;
  case AVMA_XCHG_RETRY:
    g->retry_at = GetTickCount64() + avma_xchg_retry_after_ms(&g->x);
    break;
  case AVMA_XCHG_IGNORED:
    break;
  }
  return g->dec != NULL; /* false when the port was lost under us */
}

static bool on_noise(const AvmaDecError *e, void *user) {
  AvmaWinGuest *g = user;
  (void)e;
  if (g->ex_active)
    avma_xchg_on_noise(&g->x);
  return true;
}

static void on_read(AvmaWinGuest *g) {
  const uint8_t *data;
  size_t len;
  if (avma_wport_finish_read(&g->port, &data, &len) != AVMA_WPORT_OK) {
    on_port_lost(g, "read");
    return;
  }
  if (len && !g->dec) {
    g->dec = malloc(sizeof *g->dec);
    if (!g->dec) {
      avma_log("out of memory for the decoder");
      return;
    }
    avma_decoder_init(g->dec);
  }
  /* Copy: a callback may close the port (and its buffer) mid-stream. */
  uint8_t buf[AVMA_WPORT_READ_SIZE];
  memcpy(buf, data, len);
  if (len)
    (void)avma_decode_stream(g->dec, buf, len, on_frame, on_noise, g);
  if (g->dec && avma_decoder_pending(g->dec) == 0) {
    free(g->dec); /* idle: no 33 KB decoder held between exchanges */
    g->dec = NULL;
  }
  if (avma_wport_is_open(&g->port) && avma_wport_start_read(&g->port) != AVMA_WPORT_OK)
    on_port_lost(g, "read");
}

static void on_write(AvmaWinGuest *g) {
  if (avma_wport_finish_write(&g->port) != AVMA_WPORT_OK)
    on_port_lost(g, "write");
}

/* ---- exchanges --------------------------------------------------------------------------------
 */

static void start_exchange(AvmaWinGuest *g, AvmaWinOp op) {
  g->op = op;
  avma_xchg_init(&g->x, avma_win_session_id(), AVMA_VERSION);
  if (op == AVMA_WG_OP_CLEAR) {
    (void)avma_xchg_add(&g->x, AVMA_MSG_DELETE, NULL); /* none named: drop all we published */
  } else {
    AvmaRecs items, req;
    avma_recs_init(&items);
    avma_recs_init(&req);
    if (!avma_win_intrinsic(&items, &g->pinfo))
      avma_log("some intrinsic items could not be collected");
    (void)avma_xchg_add(&g->x, AVMA_MSG_SET, &items);
    (void)avma_agent_activate_request(&g->st, &g->image, &req);
    (void)avma_xchg_add(&g->x, AVMA_MSG_ACTIVATE, &req);
    avma_recs_clear(&items);
    avma_recs_clear(&req);
  }
  g->ex_active = true;
  g->sent = false;
  g->ex_deadline = GetTickCount64() + (uint64_t)g->cfg->timing.request_timeout * 1000u;
  pump(g);
}

static void finish_activate(AvmaWinGuest *g, const AvmaXchgResult *r) {
  avma_agent_apply_result(&g->st, &g->sched, &g->cfg->timing, r, avma_win_now());
  log_12309(g, r->notification, r->reason_code, r->reason);
  save_state(g);
  run_waiters(g, g->waiters, &g->n_waiters, r->notification, r->reason);
}

static void finish_clear(AvmaWinGuest *g, const AvmaXchgResult *r) {
  bool ok = r->notification == AVMA_NOTIFY_SUCCESS;
  avma_agent_clear_done(&g->st, &g->sched, &g->cfg->timing, ok, avma_win_now());
  save_state(g);
  if (ok)
    avma_log("published KVP data removed from the host");
  else
    avma_log("could not remove published KVP data yet: %s", r->reason);
  run_waiters(g, g->clear_waiters, &g->n_clear_waiters, r->notification, r->reason);
}

static void finish_exchange(AvmaWinGuest *g) {
  const AvmaXchgResult *r = avma_xchg_result(&g->x);
  if (!r)
    return;
  g->ex_active = false;
  g->presence_at = 0;
  g->retry_at = 0;
  avma_wport_discard_output(&g->port); /* unsent frames of this exchange are stale now */
  /* The result lives in x: use it, then clear. */
  if (g->op == AVMA_WG_OP_ACTIVATE)
    finish_activate(g, r);
  else
    finish_clear(g, r);
  avma_xchg_clear(&g->x);
  kick(g);
}

static void kick(AvmaWinGuest *g) {
  if (g->ex_active)
    return;
  if (g->st.pending_clear && (g->n_clear_waiters || g->daemon)) {
    start_exchange(g, AVMA_WG_OP_CLEAR);
    return;
  }
  if (!g->want_activate)
    return;
  g->want_activate = false;
  const char *why = avma_agent_cannot_activate(&g->st);
  if (why) {
    run_waiters(g, g->waiters, &g->n_waiters, AVMA_NOTIFY_DENIED, why);
    return;
  }
  start_exchange(g, AVMA_WG_OP_ACTIVATE);
}

static void add_waiter(AvmaWinWaiter *w, size_t *n, AvmaWinDone cb, void *user) {
  if (cb && *n < AVMA_WG_MAX_WAITERS)
    w[(*n)++] = (AvmaWinWaiter){.cb = cb, .user = user};
}

void avma_wg_activate_now(AvmaWinGuest *g, AvmaWinDone cb, void *user) {
  if (cb && g->n_waiters == AVMA_WG_MAX_WAITERS) {
    cb(g, AVMA_NOTIFY_INVALID_HOST, "too many activation requests waiting; try again", user);
    return;
  }
  add_waiter(g->waiters, &g->n_waiters, cb, user);
  g->want_activate = true;
  kick(g);
}

bool avma_wg_clear_pending(AvmaWinGuest *g, AvmaWinDone cb, void *user) {
  if (!g->st.pending_clear)
    return false;
  add_waiter(g->clear_waiters, &g->n_clear_waiters, cb, user);
  kick(g);
  return true;
}

/* ---- keys -------------------------------------------------------------------------------------
 */

bool avma_wg_install_key(AvmaWinGuest *g, const char *key, char *msg, size_t msg_len, char *why,
                         size_t why_len) {
  bool activate = false;
  AvmaGState before = g->st;
  AvmaSchedule sched_before = g->sched;
  if (!avma_agent_install_key(&g->st, &g->sched, &g->image, key, avma_win_now(), &activate, msg,
                              msg_len, why, why_len))
    return false;
  if (!avma_wg_save(g, why, why_len)) {
    g->st = before; /* not durable: not done */
    g->sched = sched_before;
    return false;
  }
  if (activate && g->daemon) {
    g->want_activate = true;
    kick(g);
  } else if (g->st.pending_clear) {
    kick(g);
  }
  return true;
}

bool avma_wg_uninstall_key(AvmaWinGuest *g, char *msg, size_t msg_len, char *why, size_t why_len) {
  AvmaGState before = g->st;
  AvmaSchedule sched_before = g->sched;
  avma_agent_uninstall_key(&g->st, &g->sched, msg, msg_len);
  if (!avma_wg_save(g, why, why_len)) {
    g->st = before;
    g->sched = sched_before;
    return false;
  }
  kick(g);
  return true;
}

/* ---- daemon -----------------------------------------------------------------------------------
 */

void avma_wg_start_daemon(AvmaWinGuest *g) {
  g->daemon = true;
  int64_t now = avma_win_now();
  avma_schedule_start(&g->sched, g->st.licensed, g->st.granted_until, now);
  if (!g->st.key_is_avma)
    avma_schedule_idle(&g->sched);
  if (g->st.licensed && g->st.granted_until <= now) {
    g->sched.licensed = true; /* let the tick log the lapse */
    g->sched.granted_until = g->st.granted_until;
  }
  if (!avma_addr_watch_start(&g->addr))
    avma_log("cannot watch address changes (NotifyAddrChange); intrinsic items are published "
             "at each renewal only");
  if (g->st.pending_clear)
    kick(g);
  g->tick_sec = 0;
  avma_wg_tick(g);
}

size_t avma_wg_handles(AvmaWinGuest *g, HANDLE *h, int *kind, size_t cap) {
  size_t n = 0;
  if (n < cap && g->port.reading) {
    h[n] = g->port.rov.hEvent;
    kind[n++] = KIND_READ;
  }
  if (n < cap && g->port.writing) {
    h[n] = g->port.wov.hEvent;
    kind[n++] = KIND_WRITE;
  }
  if (n < cap && g->addr.armed) {
    h[n] = g->addr.ov.hEvent;
    kind[n++] = KIND_ADDR;
  }
  return n;
}

void avma_wg_dispatch(AvmaWinGuest *g, int kind) {
  switch (kind) {
  case KIND_READ:
    on_read(g);
    break;
  case KIND_WRITE:
    on_write(g);
    break;
  case KIND_ADDR:
    /* Changes come in bursts: publish once they settle. */
    g->addr_due = GetTickCount64() + ADDR_DEBOUNCE_MS;
    if (!avma_addr_watch_rearm(&g->addr))
      avma_log("address watch ended; intrinsic items are published at each renewal only");
    break;
  }
}

static DWORD until(uint64_t due, uint64_t now) {
  return due <= now ? 0 : (due - now > MAX_WAIT_MS ? MAX_WAIT_MS : (DWORD)(due - now));
}

DWORD avma_wg_timeout(AvmaWinGuest *g) {
  uint64_t now = GetTickCount64();
  DWORD t = INFINITE;
  if (g->ex_active) {
    DWORD d = until(g->ex_deadline, now);
    t = d < t ? d : t;
  }
  if (g->presence_at) {
    DWORD d = until(g->presence_at, now);
    t = d < t ? d : t;
  }
  if (g->retry_at) {
    DWORD d = until(g->retry_at, now);
    t = d < t ? d : t;
  }
  if (g->addr_due) {
    DWORD d = until(g->addr_due, now);
    t = d < t ? d : t;
  }
  if (g->daemon && !g->ex_active) {
    int64_t w = avma_schedule_wakeup(&g->sched), s = avma_win_now();
    if (w) {
      /* Seconds granularity: what is due this second ran already, look again in a second. */
      DWORD d = w > s ? (w - s > MAX_WAIT_MS / 1000 ? MAX_WAIT_MS : (DWORD)(w - s) * 1000u)
                      : (g->tick_sec >= s ? 1000u : 0u);
      t = d < t ? d : t;
    }
  }
  if (g->daemon && t == INFINITE)
    t = MAX_WAIT_MS;
  return t;
}

void avma_wg_tick(AvmaWinGuest *g) {
  uint64_t ms = GetTickCount64();
  if (g->ex_active && ms >= g->ex_deadline) {
    avma_xchg_on_timeout(&g->x);
    finish_exchange(g);
  }
  if (g->presence_at && ms >= g->presence_at) {
    g->presence_at = 0;
    pump(g);
  }
  if (g->retry_at && ms >= g->retry_at) {
    g->retry_at = 0;
    if (g->ex_active && g->sent)
      send_current(g); /* the same request, as the throttling host asked */
    else
      pump(g);
  }
  if (g->addr_due && ms >= g->addr_due) {
    g->addr_due = 0;
    if (g->daemon && g->st.key_is_avma && !g->ex_active) {
      avma_log("network changed: publishing intrinsic items");
      g->want_activate = true;
      kick(g);
    }
  }
  if (!g->daemon)
    return;
  int64_t now = avma_win_now();
  g->tick_sec = now;
  AvmaNotification n;
  char reason[AVMA_GSTATE_REASON];
  if (avma_agent_expire(&g->st, &g->sched, now, &n, reason, sizeof reason)) {
    log_12309(g, n, "expired", reason);
    save_state(g);
  }
  /* Not while an exchange runs: its result re-plans the schedule. */
  if (!g->ex_active && g->sched.next_attempt && now >= g->sched.next_attempt) {
    g->sched.next_attempt = 0;
    g->want_activate = true;
    kick(g);
  }
}
