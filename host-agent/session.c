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
  gboolean takes_receipts; /* the last HELLO had AVMA_FLAG_RECEIPTS */
  guint32 last_seq;        /* highest request seq answered in this session */
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
  double waste; /* byte budget for what the decoder throws away */
  gint64 waste_at;
  guint abuse;
  AvmaSessionStats stats;
  AvmaSessionNotifyFn notify;
  gpointer notify_user;
  gboolean lifecycle; /* connect/close stand for the VM starting/stopping (fixed channels) */
  /* Replies in request order: an ACTIVATE whose record is not durable yet holds back the
   * replies after it (Slot). Empty when nothing waits. */
  GQueue slots;
};

/* A reply's place in the order: an ACTIVATE answered once its record is durable
 * (avma_host_activate_async), or a later reply held behind it. */
typedef struct {
  AvmaSession *s;
  guint ticket; /* 0 once decided, or for a held reply */
  guint32 session, seq;
  GBytes *out; /* the frame to send; NULL: nothing (yet) */
} Slot;

static void slot_free(Slot *w) {
  if (w->out)
    g_bytes_unref(w->out);
  g_free(w);
}

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

/* Replies held for a connection die with it (the records stay: they are in the log). */
static void drop_slots(AvmaSession *s) {
  Slot *w;
  while ((w = g_queue_pop_head(&s->slots))) {
    if (w->ticket)
      avma_host_activate_cancel(s->host, w->ticket);
    slot_free(w);
  }
}

static void disconnect(AvmaSession *s) {
  gboolean was_connected = s->ch != NULL;
  drop_slots(s);
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

static void write_frame(AvmaSession *s, GBytes *b) {
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

static void send_frame(AvmaSession *s, GBytes *b) {
  if (!b)
    return;
  if (g_queue_is_empty(&s->slots)) {
    write_frame(s, b);
    return;
  }
  Slot *w = g_new0(Slot, 1);
  w->s = s;
  w->out = g_bytes_ref(b);
  g_queue_push_tail(&s->slots, w);
}

/* Send the replies at the head of the order that are ready. */
static void flush_slots(AvmaSession *s) {
  Slot *w;
  while ((w = g_queue_peek_head(&s->slots)) && !w->ticket) {
    g_queue_pop_head(&s->slots);
    write_frame(s, w->out);
    slot_free(w);
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

static void send_error(AvmaSession *s, guint32 session, guint32 seq, AvmaErrorCode code,
                       const char *message, guint retry_after_ms) {
  g_autoptr(AvmaRecordList) r = avma_record_list_new();
  g_autofree char *text = schema_text(message, avma_schema_keys[AVMA_KEY_ErrorMessage].max_len);
  avma_record_list_add(r, AVMA_KEY_ErrorCode, avma_error_name(code));
  avma_record_list_add(r, AVMA_KEY_ErrorMessage, text);
  if (retry_after_ms) {
    g_autofree char *ms = g_strdup_printf("%u", retry_after_ms);
    avma_record_list_add(r, AVMA_KEY_ErrorRetryAfterMs, ms);
  }
  g_autoptr(GBytes) b = avma_msg_build(AVMA_MSG_ERROR, 0, session, seq, r, NULL);
  send_frame(s, b);
}

/* Refuse a request: answer ERROR and log the 12310 Invalid Data record under the same code, so
 * what the guest is told and what the operator reads always agree. */
static void refuse(AvmaSession *s, const AvmaFrame *f, AvmaErrorCode code, const char *message,
                   guint retry_after_ms) {
  avma_host_log_invalid_data(s->host, s->vm, avma_error_name(code), message);
  send_error(s, f->session, f->seq, code, message, retry_after_ms);
}

static void send_reply(AvmaSession *s, AvmaMsgType type, guint8 flags, const AvmaFrame *f,
                       AvmaRecordList *r) {
  g_autoptr(GError) err = NULL;
  g_autoptr(GBytes) b = avma_msg_build(type, flags, f->session, f->seq, r, &err);
  if (!b) {
    refuse(s, f, AVMA_ERR_TOO_LONG, err->message, 0);
    return;
  }
  send_frame(s, b);
}

/* Token bucket: sustained rate_per_sec with bursts of burst; *at == 0 means a full bucket. On
 * refusal *wait_ms (may be NULL) says when cost would be available. */
static gboolean take_tokens(double *tokens, gint64 *at, double rate_per_sec, double burst,
                            double cost, guint *wait_ms) {
  gint64 now = g_get_monotonic_time();
  if (*at == 0)
    *tokens = burst;
  else
    *tokens = MIN(burst, *tokens + (double)(now - *at) / G_USEC_PER_SEC * rate_per_sec);
  *at = now;
  if (*tokens < cost) {
    if (wait_ms) {
      double ms = rate_per_sec > 0 ? (cost - *tokens) / rate_per_sec * 1000.0 : 3600e3;
      *wait_ms = (guint)CLAMP(ms + 1.0, 1.0, 3600e3);
    }
    return FALSE;
  }
  *tokens -= cost;
  return TRUE;
}

/* Every frame the host would answer (request or rejected frame, whatever its session) costs a
 * token. Refusals in a row are abuse: after ABUSE_DISCONNECT of them the channel is closed.
 * FALSE: do not serve it (and when s->ch is NULL, the channel was closed); *wait_ms says when a
 * token will be there. */
static gboolean admit(AvmaSession *s, guint *wait_ms) {
  const AvmaHostConfig *c = avma_host_config(s->host);
  if (take_tokens(&s->tokens, &s->tokens_at, c->rate_per_sec, c->rate_burst, 1.0, wait_ms)) {
    s->abuse = 0;
    return TRUE;
  }
  s->stats.rate_limited++;
  if (++s->abuse >= ABUSE_DISCONNECT) {
    avma_host_log_invalid_data(s->host, s->vm, "rate-limited", "request flood: channel closed");
    hang_up(s, "request flood");
  }
  return FALSE;
}

/* ---- requests: one row per message type ------------------------------------------------------ */

typedef enum {
  BODY_RECORDS,   /* guest-written records, full schema check */
  BODY_KEYS,      /* key list: keys must exist, values ignored */
  BODY_ENUMERATE, /* pool and start index */
} Body;

typedef struct {
  AvmaRecord recs[AVMA_KVP_MAX_RECORDS];
  size_t n;
  AvmaPool pool; /* ENUMERATE */
  guint32 start; /* ENUMERATE */
} Request;

typedef void (*RequestFn)(AvmaSession *s, const AvmaFrame *f, const Request *r);

typedef struct {
  AvmaMsgType type;
  Body body;
  gboolean in_session;  /* needs the session of the last HELLO */
  gboolean activation;  /* also costs a token of the activation bucket */
  gboolean guest_owned; /* every key named must be one the guest writes (DELETE) */
  RequestFn fn;
} RequestKind;

static void on_hello(AvmaSession *s, const AvmaFrame *f, const Request *r) {
  (void)r;
  /* Any valid HELLO starts a new session: the guest may have restarted. */
  s->session_id = f->session;
  s->last_seq = f->seq;
  s->takes_receipts = (f->flags & AVMA_FLAG_RECEIPTS) != 0;
  g_autoptr(AvmaRecordList) items = avma_host_hello_records(s->host, s->vm);
  send_reply(s, AVMA_MSG_HELLO_REPLY, 0, f, items);
}

static void storage_error(AvmaSession *s, guint32 session, guint32 seq, const GError *err) {
  g_warning("%s: cannot record decision: %s", avma_vm_name(s->vm), err->message);
  send_error(s, session, seq, AVMA_ERR_HOST_STORAGE, "the host could not record the request", 0);
}

/* The reply for a guest that did not say it takes receipts: without the receipt's two keys, which
 * it would refuse as unknown (the decision and its record are the same). */
static AvmaRecordList *without_receipt(AvmaRecordList *reply) {
  AvmaRecordList *out = avma_record_list_new();
  for (guint i = 0; i < avma_record_list_len(reply); i++) {
    AvmaRecord r = avma_record_list_get(reply, i);
    g_autofree char *key = g_strndup(r.key, r.key_len);
    if (strcmp(key, avma_key_name(AVMA_KEY_AvmaReceipt)) &&
        strcmp(key, avma_key_name(AVMA_KEY_AvmaHostPublicKey))) {
      g_autofree char *value = g_strndup(r.value, r.value_len);
      avma_record_list_add_raw(out, r.pool, key, value);
    }
  }
  return out;
}

static void on_decided(AvmaRecordList *reply, const GError *error, gpointer user) {
  Slot *w = user;
  AvmaSession *s = w->s;
  w->ticket = 0;
  g_autoptr(GError) build_err = NULL;
  if (!reply) {
    g_warning("%s: cannot record decision: %s", avma_vm_name(s->vm), error->message);
    g_autoptr(AvmaRecordList) r = avma_record_list_new();
    avma_record_list_add(r, AVMA_KEY_ErrorCode, avma_error_name(AVMA_ERR_HOST_STORAGE));
    avma_record_list_add(r, AVMA_KEY_ErrorMessage, "the host could not record the request");
    w->out = avma_msg_build(AVMA_MSG_ERROR, 0, w->session, w->seq, r, NULL);
  } else {
    g_autoptr(AvmaRecordList) plain = s->takes_receipts ? NULL : without_receipt(reply);
    w->out = avma_msg_build(AVMA_MSG_ACTIVATE_REPLY, 0, w->session, w->seq, plain ? plain : reply,
                            &build_err);
    if (!w->out)
      g_warning("%s: reply does not fit a frame: %s", avma_vm_name(s->vm), build_err->message);
  }
  flush_slots(s);
}

static void on_activate(AvmaSession *s, const AvmaFrame *f, const Request *r) {
  g_autoptr(GError) err = NULL;
  Slot *w = g_new0(Slot, 1);
  *w = (Slot){.s = s, .session = f->session, .seq = f->seq};
  /* The reply goes out once the record is durable; the loop serves others meanwhile. */
  w->ticket = avma_host_activate_async(s->host, s->vm, r->recs, r->n, on_decided, w, &err);
  if (!w->ticket) {
    g_free(w);
    storage_error(s, f->session, f->seq, err);
    return;
  }
  g_queue_push_tail(&s->slots, w);
}

static void on_set(AvmaSession *s, const AvmaFrame *f, const Request *r) {
  g_autoptr(GError) err = NULL;
  if (!avma_vm_kvp_set_all(s->host, s->vm, r->recs, r->n, &err)) {
    refuse(s, f, AVMA_ERR_QUOTA, err->message, 0);
    return;
  }
  send_reply(s, AVMA_MSG_ACK, 0, f, NULL);
  notify(s);
}

static void on_get(AvmaSession *s, const AvmaFrame *f, const Request *r) {
  g_autoptr(AvmaRecordList) out = avma_record_list_new();
  for (size_t i = 0; i < r->n; i++)
    avma_vm_kvp_get(s->host, s->vm, &r->recs[i], out);
  send_reply(s, AVMA_MSG_RESULT, 0, f, out);
}

static void on_delete(AvmaSession *s, const AvmaFrame *f, const Request *r) {
  if (r->n == 0) {
    avma_vm_kvp_delete(s->host, s->vm, NULL);
    g_message("%s: guest removed all the KVP data it published", avma_vm_name(s->vm));
  }
  for (size_t i = 0; i < r->n; i++)
    avma_vm_kvp_delete(s->host, s->vm, &r->recs[i]);
  send_reply(s, AVMA_MSG_ACK, 0, f, NULL);
  notify(s);
}

static void on_enumerate(AvmaSession *s, const AvmaFrame *f, const Request *r) {
  gboolean more = FALSE;
  g_autoptr(AvmaRecordList) out = avma_vm_kvp_enumerate(s->host, s->vm, r->pool, r->start, &more);
  send_reply(s, AVMA_MSG_RESULT, more ? AVMA_FLAG_MORE : 0, f, out);
}

static const RequestKind request_kinds[] = {
    {.type = AVMA_MSG_HELLO, .body = BODY_RECORDS, .fn = on_hello},
    {.type = AVMA_MSG_SET, .body = BODY_RECORDS, .in_session = TRUE, .fn = on_set},
    {.type = AVMA_MSG_GET, .body = BODY_KEYS, .in_session = TRUE, .fn = on_get},
    {.type = AVMA_MSG_DELETE,
     .body = BODY_KEYS,
     .in_session = TRUE,
     .guest_owned = TRUE,
     .fn = on_delete},
    {.type = AVMA_MSG_ENUMERATE, .body = BODY_ENUMERATE, .in_session = TRUE, .fn = on_enumerate},
    {.type = AVMA_MSG_ACTIVATE,
     .body = BODY_RECORDS,
     .in_session = TRUE,
     .activation = TRUE,
     .fn = on_activate},
};

/* Decode the request body; FALSE after refusing it. The same failure gets the same code for
 * every message type: bad-records for the record codec, schema for the schema. */
static gboolean parse_body(AvmaSession *s, const AvmaFrame *f, const RequestKind *k, Request *r) {
  if (k->body == BODY_ENUMERATE) {
    if (avma_enumerate_decode(f->payload, f->payload_len, &r->pool, &r->start))
      return TRUE;
    refuse(s, f, AVMA_ERR_BAD_RECORDS, "bad ENUMERATE payload", 0);
    return FALSE;
  }
  g_autoptr(GError) err = NULL;
  AvmaParseMode mode = k->body == BODY_KEYS ? AVMA_PARSE_KEYS : AVMA_PARSE_FROM_GUEST;
  if (!avma_msg_parse(f, mode, r->recs, &r->n, &err)) {
    gboolean codec = g_error_matches(err, AVMA_MSG_ERROR_DOMAIN, AVMA_MSG_ERROR_RECORDS);
    refuse(s, f, codec ? AVMA_ERR_BAD_RECORDS : AVMA_ERR_SCHEMA, err->message, 0);
    return FALSE;
  }
  for (size_t i = 0; k->guest_owned && i < r->n; i++) {
    const AvmaKeyDef *d = avma_schema_lookup(r->recs[i].pool, r->recs[i].key, r->recs[i].key_len);
    if (d && d->writer != AVMA_WRITER_GUEST) {
      g_autofree char *why =
          g_strdup_printf("record %s (%s): host-owned, the guest cannot delete it", d->name,
                          avma_pool_name(d->pool));
      refuse(s, f, AVMA_ERR_SCHEMA, why, 0);
      return FALSE;
    }
  }
  return TRUE;
}

static const RequestKind *request_kind(guint8 type) {
  for (gsize i = 0; i < G_N_ELEMENTS(request_kinds); i++)
    if (request_kinds[i].type == type)
      return &request_kinds[i];
  return NULL;
}

static void handle_request(AvmaSession *s, const AvmaFrame *f) {
  const RequestKind *k = request_kind(f->type);
  if (!k) {
    refuse(s, f, AVMA_ERR_UNKNOWN_TYPE, "not a request", 0); /* a reply type sent to the host */
    return;
  }
  if (f->session == 0) {
    refuse(s, f, AVMA_ERR_NO_SESSION, "session id 0 is reserved", 0);
    return;
  }
  if (k->in_session && (s->session_id == 0 || f->session != s->session_id)) {
    refuse(s, f, s->session_id == 0 ? AVMA_ERR_NO_SESSION : AVMA_ERR_STALE_SESSION,
           "send HELLO first", 0);
    return;
  }
  /* Requests of a session carry increasing seqs (one outstanding at a time), so a replayed or
   * reordered one is refused rather than executed twice. */
  if (k->in_session && f->seq <= s->last_seq) {
    refuse(s, f, AVMA_ERR_BAD_SEQ, "replayed or out-of-order request", 0);
    return;
  }
  /* Throttling is back-pressure, not a failure (brief section 6): the refusal says when to send
   * the same request again, and it does not use up the seq. */
  guint wait_ms = 0;
  const AvmaHostConfig *c = avma_host_config(s->host);
  if (k->activation &&
      !take_tokens(&s->act_tokens, &s->act_tokens_at, c->activations_per_min / 60.0,
                   c->activation_burst, 1.0, &wait_ms)) {
    s->stats.rate_limited++;
    refuse(s, f, AVMA_ERR_RATE_LIMITED, "too many activation requests", wait_ms);
    return;
  }
  if (k->in_session)
    s->last_seq = f->seq;
  Request *r = g_new(Request, 1); /* 10 KiB: off the stack */
  if (parse_body(s, f, k, r))
    k->fn(s, f, r);
  g_free(r);
}

static AvmaErrorCode error_code(AvmaFrameError e) {
  switch (e) {
  case AVMA_FERR_VERSION:
    return AVMA_ERR_UNSUPPORTED_VERSION;
  case AVMA_FERR_TYPE:
    return AVMA_ERR_UNKNOWN_TYPE;
  case AVMA_FERR_TOO_LONG:
    return AVMA_ERR_TOO_LONG;
  default:
    return AVMA_ERR_BAD_FRAME;
  }
}

/* Bytes the decoder threw away, whatever the reason, come out of a byte budget: a guest spraying
 * garbage is hung up on (with a growing back-off) instead of costing the host a core. Real
 * traffic throws away only stale bytes at connect. */
#define WASTE_BYTES_PER_SEC (16.0 * 1024)
#define WASTE_BURST (256.0 * 1024)

static void handle_error(AvmaSession *s, const AvmaDecError *e) {
  s->stats.bad_frames++;
  if (e->code == AVMA_FERR_GARBAGE)
    s->stats.garbage += e->skipped;
  AvmaErrorCode code = error_code(e->code);
  if (!take_tokens(&s->waste, &s->waste_at, WASTE_BYTES_PER_SEC, WASTE_BURST, (double)e->skipped,
                   NULL)) {
    avma_host_log_invalid_data(s->host, s->vm, avma_error_name(code),
                               "garbage flood: channel closed");
    hang_up(s, "garbage flood");
    return;
  }
  g_autofree char *why =
      e->code == AVMA_FERR_GARBAGE
          ? g_strdup_printf("%zu bytes of garbage on the channel", e->skipped)
          : g_strdup_printf("frame rejected: %s", avma_frame_error_name(e->code));
  /* Rejected frames cost tokens like requests, those of session 0 included, or a guest could
   * make us work (and write answers) without limit and never be hung up on. */
  if (!admit(s, NULL))
    return;
  if (e->header_valid && e->session != 0) {
    AvmaFrame f = {.session = e->session, .seq = e->seq};
    refuse(s, &f, code, why, 0);
  } else {
    avma_host_log_invalid_data(s->host, s->vm, avma_error_name(code), why);
  }
}

static gboolean on_deadline(gpointer data) {
  AvmaSession *s = data;
  s->deadline_timer = 0;
  avma_host_log_invalid_data(s->host, s->vm, "frame-deadline",
                             "a frame was started but not completed in time");
  drop_decoder(s);
  return G_SOURCE_REMOVE;
}

/* The decode loop's callbacks: each stops it once the session hung up while answering. */
static bool on_frame(const AvmaFrame *f, void *user) {
  AvmaSession *s = user;
  s->stats.frames++;
  guint wait_ms = 0;
  if (admit(s, &wait_ms))
    handle_request(s, f);
  else if (s->ch)
    refuse(s, f, AVMA_ERR_RATE_LIMITED, "too many requests", wait_ms);
  return s->ch != NULL;
}

static bool on_noise(const AvmaDecError *e, void *user) {
  AvmaSession *s = user;
  handle_error(s, e);
  return s->ch != NULL;
}

static void on_read(AvmaChannel *ch, const guint8 *data, gsize len, gpointer user) {
  AvmaSession *s = user;
  (void)ch;
  if (!s->dec) {
    s->dec = g_new(AvmaDecoder, 1);
    avma_decoder_init(s->dec);
  }
  avma_decode_stream(s->dec, data, len, on_frame, on_noise, s);
  if (!s->ch)
    return; /* hung up while answering */
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
  /* The buckets are not refilled here: limits belong to the VM, and a guest that got itself hung
   * up on must not come back with full buckets. */
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
  s->host = avma_host_ref(host); /* which keeps vm too */
  s->vm = vm;
  s->path = g_strdup(socket_path);
  if (!try_connect(s))
    schedule_reconnect(s);
  return s;
}

AvmaSession *avma_session_new_fd(AvmaHost *host, AvmaVm *vm, int fd) {
  AvmaSession *s = g_new0(AvmaSession, 1);
  s->host = avma_host_ref(host);
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
  avma_host_free(s->host);
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
