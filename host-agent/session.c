/* session: one VM's channel on the host. */
#include "session.h"

#include "channel.h"
#include "frame.h"

#include <errno.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define RECONNECT_MIN_MS 200
#define ABUSE_DISCONNECT 50 /* rate-limit refusals in a row before we hang up */

struct AvmaSession {
  AvmaHost *host;
  AvmaVm *vm;
  char *path;
  AvmaChannel *ch;
  AvmaDecoder *dec; /* allocated only while bytes are pending: idle channels cost little */
  guint32 session_id;
  guint32 last_seq; /* highest request seq answered in this session */
  guint reconnect_timer;
  guint reconnect_ms;
  guint penalty_ms;    /* back-off after we hung up on the guest; grows while it keeps abusing */
  gint64 connected_at; /* monotonic us */
  guint deadline_timer;
  guint64 deadline_for; /* stream offset of the frame the deadline timer is running for */
  double tokens;
  gint64 tokens_at; /* monotonic us */
  double act_tokens;
  gint64 act_tokens_at;
  guint abuse;
  AvmaSessionStats stats;
  AvmaSessionNotifyFn notify;
  gpointer notify_user;
  gboolean lifecycle; /* connect/close stand for the VM starting/stopping (fixed channels) */
};

static void notify(AvmaSession *s) {
  if (s->notify)
    s->notify(s, s->notify_user);
}

static void schedule_reconnect(AvmaSession *s);
static void arm_reconnect(AvmaSession *s, guint ms);

static void drop_decoder(AvmaSession *s) {
  g_clear_pointer(&s->dec, g_free);
  if (s->deadline_timer) {
    g_source_remove(s->deadline_timer);
    s->deadline_timer = 0;
  }
}

static void disconnect(AvmaSession *s) {
  gboolean was_connected = s->ch != NULL;
  g_clear_pointer(&s->ch, avma_channel_free);
  drop_decoder(s);
  s->session_id = 0;
  if (was_connected)
    notify(s);
}

/* We close on a guest only for abuse. Reconnecting at once would let it abuse again right away,
 * so each hang-up doubles the wait (up to reconnect_max_ms) unless the connection had lasted that
 * long. */
static void hang_up(AvmaSession *s, const char *why) {
  g_message("%s: closing channel: %s", avma_vm_name(s->vm), why);
  guint cap = avma_host_config(s->host)->reconnect_max_ms;
  gboolean lasted =
      s->connected_at && g_get_monotonic_time() - s->connected_at >= (gint64)cap * 1000;
  s->penalty_ms = lasted || !s->penalty_ms ? RECONNECT_MIN_MS : MIN(s->penalty_ms * 2, cap);
  disconnect(s);
  arm_reconnect(s, s->penalty_ms);
}

static void send_frame(AvmaSession *s, GBytes *b) {
  if (!b || !s->ch)
    return;
  g_autoptr(GError) err = NULL;
  gsize len;
  const guint8 *d = g_bytes_get_data(b, &len);
  /* The queue is capped (max_queued): a guest that does not read its replies is disconnected
   * rather than buffered for. */
  if (!avma_channel_write(s->ch, d, len, &err)) {
    avma_host_log_invalid_data(s->host, s->vm, "not-reading", err->message);
    hang_up(s, err->message);
  }
}

/* Error messages quote what the guest sent (a key name, say): make them schema text (valid
 * UTF-8, no control characters, within the key's length), or the guest could not even read the
 * error it caused. */
static char *schema_text(const char *message, gsize max_len) {
  char *t = g_utf8_make_valid(message, -1);
  for (char *p = t; *p; p++)
    if ((guchar)*p < 0x20 || *p == 0x7F)
      *p = '?';
  if (strlen(t) > max_len) {
    char *end = t + max_len;
    while (end > t && ((guchar)*end & 0xC0) == 0x80)
      end--; /* back to the first byte of the character that does not fit */
    *end = '\0';
  }
  return t;
}

static void send_error(AvmaSession *s, guint32 session, guint32 seq, const char *code,
                       const char *message) {
  g_autoptr(AvmaRecordList) r = avma_record_list_new();
  g_autofree char *text = schema_text(message, avma_schema_keys[AVMA_KEY_ErrorMessage].max_len);
  avma_record_list_add(r, AVMA_KEY_ErrorCode, code);
  avma_record_list_add(r, AVMA_KEY_ErrorMessage, text);
  g_autoptr(GBytes) b = avma_msg_build(AVMA_MSG_ERROR, 0, session, seq, r, NULL);
  send_frame(s, b);
}

static void send_reply(AvmaSession *s, AvmaMsgType type, guint8 flags, const AvmaFrame *f,
                       AvmaRecordList *r) {
  g_autoptr(GError) err = NULL;
  g_autoptr(GBytes) b = avma_msg_build(type, flags, f->session, f->seq, r, &err);
  if (!b) {
    send_error(s, f->session, f->seq, "too-long", err->message);
    return;
  }
  send_frame(s, b);
}

/* Token bucket: sustained rate_per_sec with bursts of burst; *at == 0 means a full bucket. */
static gboolean take_token(double *tokens, gint64 *at, double rate_per_sec, double burst) {
  gint64 now = g_get_monotonic_time();
  if (*at == 0)
    *tokens = burst;
  else
    *tokens = MIN(burst, *tokens + (double)(now - *at) / G_USEC_PER_SEC * rate_per_sec);
  *at = now;
  if (*tokens < 1.0)
    return FALSE;
  *tokens -= 1.0;
  return TRUE;
}

/* Every frame the host would answer (request or rejected frame) costs a token. Refusals in a row
 * are abuse: after ABUSE_DISCONNECT of them the channel is closed. FALSE: do not answer (and when
 * s->ch is NULL, the channel was closed). */
static gboolean admit(AvmaSession *s) {
  const AvmaHostConfig *c = avma_host_config(s->host);
  if (take_token(&s->tokens, &s->tokens_at, c->rate_per_sec, c->rate_burst)) {
    s->abuse = 0;
    return TRUE;
  }
  s->stats.rate_limited++;
  if (++s->abuse >= ABUSE_DISCONNECT) {
    avma_host_log_invalid_data(s->host, s->vm, "rate-limited", "request flood: channel closed");
    hang_up(s, "request flood");
  } else {
    avma_host_log_invalid_data(s->host, s->vm, "rate-limited",
                               "requests over the rate limit refused");
  }
  return FALSE;
}

static void handle_request(AvmaSession *s, const AvmaFrame *f) {
  if (f->type == AVMA_MSG_HELLO) {
    if (f->session == 0) {
      send_error(s, f->session, f->seq, "no-session", "session id 0 is reserved");
      return;
    }
    /* Any valid HELLO starts a new session: the guest may have restarted. */
    s->session_id = f->session;
    s->last_seq = f->seq;
    g_autoptr(AvmaRecordList) r = avma_host_hello_records(s->host, s->vm);
    send_reply(s, AVMA_MSG_HELLO_REPLY, 0, f, r);
    return;
  }
  if (s->session_id == 0 || f->session != s->session_id) {
    const char *code = s->session_id == 0 ? "no-session" : "stale-session";
    send_error(s, f->session, f->seq, code, "send HELLO first");
    return;
  }
  /* Requests of a session carry increasing seqs (one outstanding at a time), so a replayed or
   * reordered one is refused rather than executed twice. */
  if (f->seq <= s->last_seq) {
    avma_host_log_invalid_data(s->host, s->vm, "bad-seq", "replayed or out-of-order request");
    send_error(s, f->session, f->seq, "bad-seq", "replayed or out-of-order request");
    return;
  }
  s->last_seq = f->seq;
  AvmaRecord recs[AVMA_KVP_MAX_RECORDS];
  size_t n = 0;
  g_autoptr(GError) err = NULL;
  switch (f->type) {
  case AVMA_MSG_ACTIVATE: {
    const AvmaHostConfig *c = avma_host_config(s->host);
    if (!take_token(&s->act_tokens, &s->act_tokens_at, c->activations_per_min / 60.0,
                    c->activation_burst)) {
      s->stats.rate_limited++;
      avma_host_log_invalid_data(s->host, s->vm, "rate-limited",
                                 "activation requests over the rate limit refused");
      send_error(s, f->session, f->seq, "rate-limited", "too many activation requests");
      return;
    }
    if (!avma_msg_parse(f, AVMA_PARSE_FROM_GUEST, recs, &n, &err)) {
      avma_host_log_invalid_data(s->host, s->vm, "bad-records", err->message);
      send_error(s, f->session, f->seq, "bad-records", err->message);
      return;
    }
    g_autoptr(AvmaRecordList) r = avma_host_activate(s->host, s->vm, recs, n, &err);
    if (!r) {
      g_warning("%s: cannot record decision: %s", avma_vm_name(s->vm), err->message);
      send_error(s, f->session, f->seq, "host-storage", "the host could not record the request");
      return;
    }
    send_reply(s, AVMA_MSG_ACTIVATE_REPLY, 0, f, r);
    return;
  }
  case AVMA_MSG_SET: {
    if (!avma_msg_parse(f, AVMA_PARSE_FROM_GUEST, recs, &n, &err)) {
      avma_host_log_invalid_data(s->host, s->vm, "schema", err->message);
      send_error(s, f->session, f->seq, "schema", err->message);
      return;
    }
    if (!avma_vm_kvp_set_all(s->host, s->vm, recs, n, &err)) {
      avma_host_log_invalid_data(s->host, s->vm, "quota", err->message);
      send_error(s, f->session, f->seq, "quota", err->message);
      return;
    }
    send_reply(s, AVMA_MSG_ACK, 0, f, NULL);
    notify(s);
    return;
  }
  case AVMA_MSG_GET:
  case AVMA_MSG_DELETE: {
    if (!avma_msg_parse(f, AVMA_PARSE_KEYS, recs, &n, &err)) {
      send_error(s, f->session, f->seq, "schema", err->message);
      return;
    }
    if (f->type == AVMA_MSG_DELETE) {
      if (n == 0) {
        avma_vm_kvp_delete(s->host, s->vm, NULL);
        g_message("%s: guest removed all the KVP data it published", avma_vm_name(s->vm));
      }
      for (size_t i = 0; i < n; i++)
        avma_vm_kvp_delete(s->host, s->vm, &recs[i]);
      send_reply(s, AVMA_MSG_ACK, 0, f, NULL);
      notify(s);
      return;
    }
    g_autoptr(AvmaRecordList) out = avma_record_list_new();
    for (size_t i = 0; i < n; i++)
      avma_vm_kvp_get(s->host, s->vm, &recs[i], out);
    send_reply(s, AVMA_MSG_RESULT, 0, f, out);
    return;
  }
  case AVMA_MSG_ENUMERATE: {
    AvmaPool pool;
    guint32 start;
    if (!avma_enumerate_decode(f->payload, f->payload_len, &pool, &start)) {
      send_error(s, f->session, f->seq, "bad-records", "bad ENUMERATE payload");
      return;
    }
    gboolean more = FALSE;
    g_autoptr(AvmaRecordList) out = avma_vm_kvp_enumerate(s->host, s->vm, pool, start, &more);
    send_reply(s, AVMA_MSG_RESULT, more ? AVMA_FLAG_MORE : 0, f, out);
    return;
  }
  default:
    /* A reply type sent to the host: not a request. */
    send_error(s, f->session, f->seq, "unknown-type", "not a request");
    return;
  }
}

static const char *error_code(AvmaFrameError e) {
  switch (e) {
  case AVMA_FERR_VERSION:
    return "unsupported-version";
  case AVMA_FERR_TYPE:
    return "unknown-type";
  case AVMA_FERR_TOO_LONG:
    return "too-long";
  default:
    return "bad-frame";
  }
}

static void handle_error(AvmaSession *s, const AvmaDecError *e) {
  s->stats.bad_frames++;
  if (e->code == AVMA_FERR_GARBAGE)
    s->stats.garbage += e->skipped;
  g_autofree char *why =
      e->code == AVMA_FERR_GARBAGE
          ? g_strdup_printf("%zu bytes of garbage on the channel", e->skipped)
          : g_strdup_printf("frame rejected: %s", avma_frame_error_name(e->code));
  avma_host_log_invalid_data(s->host, s->vm, error_code(e->code), why);
  /* Answers to bad frames cost tokens too, or a guest could make us write without limit. */
  if (e->header_valid && e->session != 0 && admit(s))
    send_error(s, e->session, e->seq, error_code(e->code), why);
}

static gboolean on_deadline(gpointer data) {
  AvmaSession *s = data;
  s->deadline_timer = 0;
  avma_host_log_invalid_data(s->host, s->vm, "frame-deadline",
                             "a frame was started but not completed in time");
  drop_decoder(s);
  return G_SOURCE_REMOVE;
}

static void on_read(AvmaChannel *ch, const guint8 *data, gsize len, gpointer user) {
  AvmaSession *s = user;
  (void)ch;
  if (!s->dec) {
    s->dec = g_new(AvmaDecoder, 1);
    avma_decoder_init(s->dec);
  }
  while (len > 0 || s->dec) {
    size_t took = avma_decoder_feed(s->dec, data, len);
    data += took;
    len -= took;
    AvmaFrame f;
    AvmaDecError e;
    AvmaDecStatus st;
    while ((st = avma_decoder_next(s->dec, &f, &e)) != AVMA_DEC_NEED_MORE) {
      if (st == AVMA_DEC_ERROR) {
        handle_error(s, &e);
      } else {
        s->stats.frames++;
        if (admit(s))
          handle_request(s, &f);
        else if (s->ch)
          send_error(s, f.session, f.seq, "rate-limited", "too many requests");
      }
      if (!s->ch)
        return; /* hung up while answering */
    }
    if (len == 0)
      break;
  }
  if (avma_decoder_pending(s->dec) == 0) {
    drop_decoder(s);
    return;
  }
  /* The deadline is per frame: the held bytes start at stream offset `consumed`, so when that
   * moved the frame it was running for is done and the one now in progress gets its own. */
  if (s->deadline_timer && s->deadline_for != s->dec->consumed) {
    g_source_remove(s->deadline_timer);
    s->deadline_timer = 0;
  }
  if (!s->deadline_timer) {
    s->deadline_for = s->dec->consumed;
    s->deadline_timer = g_timeout_add(avma_host_config(s->host)->frame_deadline_ms, on_deadline, s);
  }
}

static void on_stop(AvmaChannel *ch, AvmaChannelEvent ev, const GError *error, gpointer user) {
  AvmaSession *s = user;
  (void)ch;
  g_message("%s: channel closed (%s%s%s)", avma_vm_name(s->vm),
            ev == AVMA_CHANNEL_EOF   ? "eof"
            : ev == AVMA_CHANNEL_HUP ? "hang-up"
                                     : "error",
            error ? ": " : "", error ? error->message : "");
  disconnect(s);
  /* The peer went away (QEMU exited). A hang-up of ours is not the VM stopping. */
  if (s->lifecycle)
    avma_host_vm_seen(s->host, s->vm, FALSE, "channel-closed");
  schedule_reconnect(s);
}

static void attach(AvmaSession *s, int fd) {
  const AvmaHostConfig *c = avma_host_config(s->host);
  s->ch = avma_channel_new(fd, c->max_queued, on_read, on_stop, s);
  s->stats.connects++;
  s->reconnect_ms = 0;
  s->connected_at = g_get_monotonic_time();
  s->tokens_at = 0;
  s->act_tokens_at = 0;
}

static gboolean try_connect(AvmaSession *s) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(s->path) >= sizeof sa.sun_path) {
    g_warning("%s: socket path too long: %s", avma_vm_name(s->vm), s->path);
    return FALSE;
  }
  strcpy(sa.sun_path, s->path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return FALSE;
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
    close(fd);
    return FALSE;
  }
  attach(s, fd);
  g_message("%s: connected to %s", avma_vm_name(s->vm), s->path);
  if (s->lifecycle)
    avma_host_vm_seen(s->host, s->vm, TRUE, "channel-connected");
  notify(s);
  return TRUE;
}

static gboolean on_reconnect(gpointer data) {
  AvmaSession *s = data;
  s->reconnect_timer = 0;
  if (!try_connect(s))
    schedule_reconnect(s);
  return G_SOURCE_REMOVE;
}

static void arm_reconnect(AvmaSession *s, guint ms) {
  /* A session made on a bare fd (tests) has nowhere to reconnect to. */
  if (s->reconnect_timer || !s->path)
    return;
  s->reconnect_ms = ms;
  s->reconnect_timer = g_timeout_add(ms, on_reconnect, s);
}

static void schedule_reconnect(AvmaSession *s) {
  guint cap = avma_host_config(s->host)->reconnect_max_ms;
  arm_reconnect(s, s->reconnect_ms ? MIN(s->reconnect_ms * 2, cap) : RECONNECT_MIN_MS);
}

AvmaSession *avma_session_new(AvmaHost *host, AvmaVm *vm, const char *socket_path) {
  AvmaSession *s = g_new0(AvmaSession, 1);
  s->host = host;
  s->vm = vm;
  s->path = g_strdup(socket_path);
  if (!try_connect(s))
    schedule_reconnect(s);
  return s;
}

AvmaSession *avma_session_new_fd(AvmaHost *host, AvmaVm *vm, int fd) {
  AvmaSession *s = g_new0(AvmaSession, 1);
  s->host = host;
  s->vm = vm;
  attach(s, fd);
  return s;
}

void avma_session_feed(AvmaSession *s, const guint8 *data, gsize len) {
  if (s->ch && len > 0)
    on_read(s->ch, data, len, s);
}

void avma_session_free(AvmaSession *s) {
  if (!s)
    return;
  s->notify = NULL; /* the owner is dropping it and knows */
  disconnect(s);
  if (s->reconnect_timer)
    g_source_remove(s->reconnect_timer);
  g_free(s->path);
  g_free(s);
}

void avma_session_set_path(AvmaSession *s, const char *socket_path) {
  if (!g_strcmp0(s->path, socket_path) && s->ch)
    return;
  disconnect(s);
  g_free(s->path);
  s->path = g_strdup(socket_path);
  if (s->reconnect_timer) {
    g_source_remove(s->reconnect_timer);
    s->reconnect_timer = 0;
  }
  s->reconnect_ms = 0;
  if (!try_connect(s))
    schedule_reconnect(s);
}

const char *avma_session_path(AvmaSession *s) {
  return s->path;
}
gboolean avma_session_connected(AvmaSession *s) {
  return s->ch != NULL;
}
AvmaVm *avma_session_vm(AvmaSession *s) {
  return s->vm;
}
void avma_session_track_lifecycle(AvmaSession *s) {
  s->lifecycle = TRUE;
  if (s->ch)
    avma_host_vm_seen(s->host, s->vm, TRUE, "channel-connected");
}

void avma_session_set_notify(AvmaSession *s, AvmaSessionNotifyFn fn, gpointer user) {
  s->notify = fn;
  s->notify_user = user;
}
const AvmaSessionStats *avma_session_stats(AvmaSession *s) {
  return &s->stats;
}
