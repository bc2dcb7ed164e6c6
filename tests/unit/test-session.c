/* Unit tests for the host's per-guest limits (host-agent/session.c): the frame deadline runs per
 * frame, replays are refused, SET is all or nothing under the record cap, a guest that does not
 * read or floods is disconnected, activations have their own rate limit, and error messages that
 * quote the guest are valid schema text. A real AvmaHost (temporary state directory) serves one
 * session on a socketpair; the test plays the guest on the other end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host.h"
#include "hostkey.h"
#include "licence.h"
#include "session.h"

#define SESSION 0x5e55u

typedef struct {
  char *dir;
  AvmaHostConfig *config;
  AvmaHost *host;
  AvmaVm *vm;
  AvmaSession *s;
  int guest; /* our end of the socketpair */
  AvmaDecoder dec;
} Fx;

typedef struct {
  guint8 type;
  guint32 seq;
  char code[64];
  guint retry_after_ms;
  gboolean receipt; /* AvmaReceipt and AvmaHostPublicKey were in it */
} Reply;

static int setup(void **state) {
  Fx *fx = g_new0(Fx, 1);
  fx->dir = g_dir_make_tmp("avma-test-session-XXXXXX", NULL);
  assert_non_null(fx->dir);
  g_autofree char *conf = g_build_filename(fx->dir, "host.conf", NULL);
  g_autofree char *text = g_strdup_printf("[host]\nstate_dir=%s\njournal=no\n", fx->dir);
  assert_true(g_file_set_contents(conf, text, -1, NULL));
  fx->config = avma_host_config_load(conf, NULL, NULL, NULL);
  assert_non_null(fx->config);
  AvmaLicence l = {
      .version = AVMA_VERSION_2022, .edition = AVMA_EDITION_DATACENTER, .activated = TRUE};
  assert_true(avma_licence_save(fx->dir, &l, AVMA_JOURNAL_NO, NULL));
  avma_decoder_init(&fx->dec);
  *state = fx;
  return 0;
}

/* Start serving once the test has set its limits. */
static void start(Fx *fx) {
  fx->host = avma_host_new(fx->config, NULL);
  assert_non_null(fx->host);
  fx->vm = avma_host_vm(fx->host, "vm1", NULL);
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  fx->s = avma_session_new_fd(fx->host, fx->vm, sv[0]);
  fx->guest = sv[1];
}

static int teardown(void **state) {
  Fx *fx = *state;
  avma_session_free(fx->s);
  avma_host_free(fx->host);
  avma_host_config_free(fx->config);
  if (fx->guest >= 0)
    close(fx->guest);
  const char *names[] = {"host.conf",    "licence.conf", "licence-history.jsonl", "host-id",
                         "events.jsonl", "host-key.sec", "host-key.pub"};
  for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
    g_autofree char *p = g_build_filename(fx->dir, names[i], NULL);
    g_unlink(p);
  }
  g_rmdir(fx->dir);
  g_free(fx->dir);
  g_free(fx);
  while (g_main_context_iteration(NULL, FALSE))
    ;
  return 0;
}

/* Run the main loop for ms milliseconds (timers fire, replies are written). */
static void run_for(guint ms) {
  gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
  while (g_get_monotonic_time() < end) {
    while (g_main_context_iteration(NULL, FALSE))
      ;
    g_usleep(2000);
  }
}

static GBytes *frame(AvmaMsgType type, guint32 session, guint32 seq, AvmaRecordList *r) {
  GBytes *b = avma_msg_build(type, 0, session, seq, r, NULL);
  assert_non_null(b);
  return b;
}

static GBytes *get_frame(guint32 seq) {
  g_autoptr(AvmaRecordList) r = avma_record_list_new();
  avma_record_list_add(r, AVMA_KEY_HostName, "");
  return frame(AVMA_MSG_GET, SESSION, seq, r);
}

static GBytes *hello_frame(void) {
  return frame(AVMA_MSG_HELLO, SESSION, 1, NULL);
}

static void feed(Fx *fx, GBytes *b, gsize from, gsize to) {
  gsize len;
  const guint8 *d = g_bytes_get_data(b, &len);
  avma_session_feed(fx->s, d + from, MIN(to, len) - from);
}

static void feed_all(Fx *fx, GBytes *b) {
  feed(fx, b, 0, G_MAXSIZE);
}

/* Everything the host answered so far. */
static guint replies(Fx *fx, Reply *out, guint cap) {
  run_for(5);
  guint n = 0;
  guint8 buf[65536];
  ssize_t got;
  while ((got = read(fx->guest, buf, sizeof buf)) > 0) {
    for (gsize off = 0; off < (gsize)got;) {
      off += avma_decoder_feed(&fx->dec, buf + off, (gsize)got - off);
      AvmaFrame f;
      while (avma_decoder_next(&fx->dec, &f, NULL) == AVMA_DEC_FRAME) {
        assert_true(n < cap);
        Reply *r = &out[n++];
        memset(r, 0, sizeof *r);
        r->type = f.type;
        r->seq = f.seq;
        AvmaRecord recs[AVMA_KVP_MAX_RECORDS];
        size_t nr;
        g_autoptr(GError) err = NULL;
        /* Whatever the guest sent, the host's own answers pass the host's schema. */
        assert_true(avma_msg_parse(&f, AVMA_PARSE_FROM_HOST, recs, &nr, &err));
        g_autofree char *code = avma_records_dup(recs, nr, AVMA_KEY_ErrorCode);
        if (code)
          g_strlcpy(r->code, code, sizeof r->code);
        g_autofree char *retry = avma_records_dup(recs, nr, AVMA_KEY_ErrorRetryAfterMs);
        if (retry)
          r->retry_after_ms = (guint)g_ascii_strtoull(retry, NULL, 10);
        g_autofree char *receipt = avma_records_dup(recs, nr, AVMA_KEY_AvmaReceipt);
        g_autofree char *pub = avma_records_dup(recs, nr, AVMA_KEY_AvmaHostPublicKey);
        r->receipt = receipt && pub;
      }
    }
  }
  return n;
}

/* Invalid Data events the host logged with this reason code. */
static guint logged(Fx *fx, const char *reason_code) {
  g_autofree char *path = g_build_filename(fx->dir, "events.jsonl", NULL);
  g_autoptr(GPtrArray) evs = avma_event_log_read(path, NULL, NULL);
  guint n = 0;
  for (guint i = 0; evs && i < evs->len; i++)
    if (!g_strcmp0(json_object_get_string_member_with_default(evs->pdata[i], "reason_code", ""),
                   reason_code))
      n++;
  return n;
}

/* A frame completed and a new one begun: the new one gets a full deadline of its own. */
static void test_deadline_per_frame(void **state) {
  Fx *fx = *state;
  fx->config->frame_deadline_ms = 300;
  start(fx);
  g_autoptr(GBytes) h = hello_frame(), a = get_frame(2), b = get_frame(3);
  feed_all(fx, h);
  feed(fx, a, 0, 30); /* t=0: frame A begins */
  run_for(200);
  /* t=200: A done and B begun in the same read (a timer that only restarts when nothing is
   * pending would still be A's). */
  gsize alen, blen;
  const guint8 *ad = g_bytes_get_data(a, &alen), *bd = g_bytes_get_data(b, &blen);
  g_autoptr(GByteArray) both = g_byte_array_new();
  g_byte_array_append(both, ad + 30, (guint)(alen - 30));
  g_byte_array_append(both, bd, 30);
  avma_session_feed(fx->s, both->data, both->len);
  run_for(200); /* t=400: past A's deadline, within B's */
  feed(fx, b, 30, G_MAXSIZE);
  Reply r[8];
  guint n = replies(fx, r, 8);
  assert_int_equal(n, 3);
  assert_int_equal(r[1].type, AVMA_MSG_RESULT);
  assert_int_equal(r[2].type, AVMA_MSG_RESULT);
  assert_int_equal(r[2].seq, 3);
  assert_int_equal(logged(fx, "frame-deadline"), 0);
}

/* A frame that stalls is dropped at the deadline; its late rest is only noise. */
static void test_deadline_drops_stalled_frame(void **state) {
  Fx *fx = *state;
  fx->config->frame_deadline_ms = 150;
  start(fx);
  g_autoptr(GBytes) h = hello_frame(), a = get_frame(2);
  feed_all(fx, h);
  feed(fx, a, 0, 30);
  run_for(300);
  feed(fx, a, 30, G_MAXSIZE);
  Reply r[8];
  assert_int_equal(replies(fx, r, 8), 1); /* the HELLO_REPLY only */
  assert_int_equal(logged(fx, "frame-deadline"), 1);
  assert_true(avma_session_connected(fx->s));
}

static void test_replay_refused(void **state) {
  Fx *fx = *state;
  start(fx);
  g_autoptr(GBytes) h = hello_frame(), g2 = get_frame(2), g1 = get_frame(1), g3 = get_frame(3);
  feed_all(fx, h);
  feed_all(fx, g2);
  feed_all(fx, g2);
  feed_all(fx, g1);
  feed_all(fx, g3);
  Reply r[8];
  assert_int_equal(replies(fx, r, 8), 5);
  assert_int_equal(r[1].type, AVMA_MSG_RESULT);
  assert_string_equal(r[2].code, "bad-seq");
  assert_string_equal(r[3].code, "bad-seq");
  assert_int_equal(r[4].type, AVMA_MSG_RESULT);
}

/* Over the record cap a SET changes nothing at all. */
static void test_set_all_or_nothing(void **state) {
  Fx *fx = *state;
  fx->config->max_records = 3;
  start(fx);
  g_autoptr(AvmaRecordList) two = avma_record_list_new(), three = avma_record_list_new();
  avma_record_list_add(two, AVMA_KEY_OSName, "Debian");
  avma_record_list_add(two, AVMA_KEY_OSVersion, "12");
  avma_record_list_add(three, AVMA_KEY_OSBuildNumber, "1");
  avma_record_list_add(three, AVMA_KEY_OSKernelVersion, "6.1");
  avma_record_list_add(three, AVMA_KEY_OSKernelVersion, "6.1"); /* counted once */
  g_autoptr(GBytes) h = hello_frame(), s1 = frame(AVMA_MSG_SET, SESSION, 2, two),
                    s2 = frame(AVMA_MSG_SET, SESSION, 3, three);
  feed_all(fx, h);
  feed_all(fx, s1);
  feed_all(fx, s2);
  Reply r[8];
  assert_int_equal(replies(fx, r, 8), 3);
  assert_int_equal(r[1].type, AVMA_MSG_ACK);
  assert_string_equal(r[2].code, "quota");
  g_autoptr(JsonObject) pool = avma_vm_pool_json(fx->vm, AVMA_POOL_AUTO);
  assert_int_equal(json_object_get_size(pool), 2);
  assert_int_equal(logged(fx, "quota"), 1);
}

/* The guest never reads: once max_queued is reached the host hangs up and says why. */
static void test_not_reading_disconnects(void **state) {
  Fx *fx = *state;
  fx->config->max_queued = 65536;
  fx->config->rate_burst = 1e6;
  start(fx);
  int small = 4096;
  assert_int_equal(setsockopt(fx->guest, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
  g_autoptr(GBytes) h = hello_frame();
  for (int i = 0; i < 2000 && avma_session_connected(fx->s); i++) {
    feed_all(fx, h);
    if (i % 50 == 0)
      run_for(1);
  }
  assert_false(avma_session_connected(fx->s));
  assert_int_equal(logged(fx, "not-reading"), 1);
}

/* Refusals in a row close the channel; bad frames cost tokens too. */
static void test_flood_disconnects(void **state) {
  Fx *fx = *state;
  fx->config->rate_burst = 5;
  fx->config->rate_per_sec = 1e-6;
  start(fx);
  g_autoptr(GBytes) h = hello_frame();
  for (int i = 0; i < 5 + 49; i++)
    feed_all(fx, h);
  assert_true(avma_session_connected(fx->s));
  /* A frame whose check fails but whose header is intact would be answered: one more refusal. */
  gsize len;
  const guint8 *hd = g_bytes_get_data(h, &len);
  g_autofree guint8 *bad = g_memdup2(hd, len);
  bad[len - 1] ^= 1;
  avma_session_feed(fx->s, bad, len);
  assert_false(avma_session_connected(fx->s));
  assert_int_equal(avma_session_stats(fx->s)->rate_limited, 50);
}

static void test_activation_rate_limit(void **state) {
  Fx *fx = *state;
  fx->config->activation_burst = 2;
  fx->config->activations_per_min = 1e-6;
  start(fx);
  g_autoptr(AvmaRecordList) req = avma_record_list_new();
  avma_record_list_add(req, AVMA_KEY_AvmaKey, "YDFWN-MJ9JR-3DYRK-FXXRW-78VHK");
  g_autoptr(GBytes) h = hello_frame();
  feed_all(fx, h);
  for (guint32 seq = 2; seq <= 4; seq++) {
    g_autoptr(GBytes) a = frame(AVMA_MSG_ACTIVATE, SESSION, seq, req);
    feed_all(fx, a);
  }
  Reply r[8];
  assert_int_equal(replies(fx, r, 8), 4);
  assert_int_equal(r[1].type, AVMA_MSG_ACTIVATE_REPLY);
  assert_int_equal(r[2].type, AVMA_MSG_ACTIVATE_REPLY);
  assert_string_equal(r[3].code, "rate-limited");
}

/* Receipts only to guests whose HELLO says they take them (AVMA_FLAG_RECEIPTS): a guest built
 * before AvmaReceipt refuses a reply with unknown keys, and ignores the flag bit it sends as 0. */
static void test_receipts_only_when_taken(void **state) {
  Fx *fx = *state;
  start(fx);
  g_autoptr(AvmaKeyPair) kp = avma_hostkey_open(fx->dir, NULL);
  assert_non_null(kp);
  g_autoptr(AvmaHostKey) hk = avma_hostkey_new(fx->dir, g_steal_pointer(&kp));
  avma_host_set_signer(fx->host, hk);
  g_autoptr(AvmaRecordList) req = avma_record_list_new();
  avma_record_list_add(req, AVMA_KEY_AvmaKey, "YDFWN-MJ9JR-3DYRK-FXXRW-78VHK");
  g_autoptr(GBytes) old_hello = hello_frame(); /* flags 0: an older guest */
  g_autoptr(GBytes) a2 = frame(AVMA_MSG_ACTIVATE, SESSION, 2, req);
  feed_all(fx, old_hello);
  feed_all(fx, a2);
  Reply r[8];
  assert_int_equal(replies(fx, r, 8), 2);
  assert_int_equal(r[1].type, AVMA_MSG_ACTIVATE_REPLY);
  assert_false(r[1].receipt);
  g_autoptr(GBytes) new_hello =
      avma_msg_build(AVMA_MSG_HELLO, AVMA_FLAG_RECEIPTS, SESSION + 1, 1, NULL, NULL);
  g_autoptr(GBytes) b2 = frame(AVMA_MSG_ACTIVATE, SESSION + 1, 2, req);
  feed_all(fx, new_hello);
  feed_all(fx, b2);
  assert_int_equal(replies(fx, r, 8), 2);
  assert_int_equal(r[1].type, AVMA_MSG_ACTIVATE_REPLY);
  assert_true(r[1].receipt);
  avma_host_set_signer(fx->host, NULL);
}

/* An error quoting a key full of control characters and long enough to be cut mid-character is
 * still valid text for the guest (replies() checks every answer against the schema). */
static void test_error_message_is_schema_text(void **state) {
  Fx *fx = *state;
  start(fx);
  GString *key = g_string_new("bad\x01\x1b[31m");
  for (int i = 0; i < 100; i++)
    g_string_append(key, "\xc3\xa9"); /* é: a cut at 64 bytes could fall inside one */
  g_autoptr(AvmaRecordList) r = avma_record_list_new();
  avma_record_list_add_raw(r, AVMA_POOL_AUTO, key->str, "x");
  g_string_free(key, TRUE);
  g_autoptr(GBytes) h = hello_frame(), s = frame(AVMA_MSG_SET, SESSION, 2, r);
  feed_all(fx, h);
  feed_all(fx, s);
  Reply out[4];
  assert_int_equal(replies(fx, out, 4), 2);
  assert_string_equal(out[1].code, "schema");
}

/* ---- issue #17: a hostile guest costs the host nothing, a legitimate one is never refused ---- */

/* A frame with a raw payload (not necessarily a valid record list), valid frame checks. */
static GBytes *raw_frame(AvmaMsgType type, guint32 session, guint32 seq, const void *payload,
                         gsize len) {
  guint8 *out = g_malloc(AVMA_FRAME_MAX_SIZE);
  gsize n = avma_frame_encode(type, 0, session, seq, payload, len, out, AVMA_FRAME_MAX_SIZE);
  assert_true(n > 0);
  return g_bytes_new_take(out, n);
}

/* Frames no one can be answered for (session 0, bad frame check) still cost tokens, so a flood
 * of them ends in a hang-up like any other; before, they never reached the limiter. */
static void test_session0_flood_disconnects(void **state) {
  Fx *fx = *state;
  fx->config->rate_burst = 5;
  fx->config->rate_per_sec = 1e-6;
  start(fx);
  g_autoptr(GBytes) h = frame(AVMA_MSG_HELLO, 0, 1, NULL);
  gsize len;
  const guint8 *hd = g_bytes_get_data(h, &len);
  g_autofree guint8 *bad = g_memdup2(hd, len);
  bad[len - 1] ^= 1;
  for (int i = 0; i < 5 + 50 && avma_session_connected(fx->s); i++)
    avma_session_feed(fx->s, bad, len);
  assert_false(avma_session_connected(fx->s));
  Reply r[8];
  assert_int_equal(replies(fx, r, 8), 0); /* nothing was ever answered */
}

/* Garbage costs a byte budget: a spray is hung up on after a bounded amount, not absorbed for
 * ever at the cost of a core. */
static void test_garbage_flood_disconnects(void **state) {
  Fx *fx = *state;
  start(fx);
  guint8 junk[4096];
  memset(junk, 'x', sizeof junk);
  gsize fed = 0;
  while (avma_session_connected(fx->s) && fed < 64u * 1024 * 1024) {
    avma_session_feed(fx->s, junk, sizeof junk);
    fed += sizeof junk;
  }
  assert_false(avma_session_connected(fx->s));
  assert_true(fed <= 512u * 1024);
  assert_true(logged(fx, "bad-frame") >= 1);
}

/* Rate limits say when to come back and do not use up the seq: the same request, sent again
 * after the wait, is served. */
static void test_rate_limit_is_back_pressure(void **state) {
  Fx *fx = *state;
  fx->config->activation_burst = 1;
  fx->config->activations_per_min = 600; /* one every 100 ms */
  start(fx);
  g_autoptr(AvmaRecordList) req = avma_record_list_new();
  avma_record_list_add(req, AVMA_KEY_AvmaKey, "YDFWN-MJ9JR-3DYRK-FXXRW-78VHK");
  g_autoptr(GBytes) h = hello_frame(), a2 = frame(AVMA_MSG_ACTIVATE, SESSION, 2, req),
                    a3 = frame(AVMA_MSG_ACTIVATE, SESSION, 3, req);
  feed_all(fx, h);
  feed_all(fx, a2);
  feed_all(fx, a3);
  Reply r[8];
  assert_int_equal(replies(fx, r, 8), 3);
  assert_int_equal(r[1].type, AVMA_MSG_ACTIVATE_REPLY);
  assert_string_equal(r[2].code, "rate-limited");
  assert_int_equal(r[2].seq, 3);
  assert_true(r[2].retry_after_ms >= 1 && r[2].retry_after_ms <= 101);
  run_for(r[2].retry_after_ms + 5);
  feed_all(fx, a3);
  assert_int_equal(replies(fx, r, 8), 1);
  assert_int_equal(r[0].type, AVMA_MSG_ACTIVATE_REPLY);
  assert_int_equal(r[0].seq, 3);
}

/* DELETE of a host-owned key is refused like SET of it; the keys stay. */
static void test_delete_host_owned_refused(void **state) {
  Fx *fx = *state;
  start(fx);
  g_autoptr(AvmaRecordList) del = avma_record_list_new();
  avma_record_list_add(del, AVMA_KEY_HostName, "");
  g_autoptr(AvmaRecordList) del2 = avma_record_list_new();
  avma_record_list_add(del2, AVMA_KEY_AvmaNotification, "");
  g_autoptr(GBytes) h = hello_frame(), d = frame(AVMA_MSG_DELETE, SESSION, 2, del),
                    d2 = frame(AVMA_MSG_DELETE, SESSION, 3, del2);
  feed_all(fx, h);
  feed_all(fx, d);
  feed_all(fx, d2);
  Reply r[8];
  assert_int_equal(replies(fx, r, 8), 3);
  assert_string_equal(r[1].code, "schema");
  assert_string_equal(r[2].code, "schema");
}

/* A HELLO whose payload fails the record codec or the schema is refused whole, and its session
 * is not adopted; the same codec failure is bad-records for every message type. */
static void test_bad_payloads_refused_alike(void **state) {
  Fx *fx = *state;
  start(fx);
  const guint8 broken[] = {0x00, 0x05, 0x01}; /* five records announced, none there */
  g_autoptr(GBytes) bh = raw_frame(AVMA_MSG_HELLO, SESSION, 1, broken, sizeof broken);
  g_autoptr(AvmaRecordList) wrong = avma_record_list_new();
  avma_record_list_add(wrong, AVMA_KEY_HostName, "forged"); /* host-owned key in a HELLO */
  g_autoptr(GBytes) sh = frame(AVMA_MSG_HELLO, SESSION, 1, wrong);
  g_autoptr(GBytes) get = get_frame(2);
  feed_all(fx, bh);
  feed_all(fx, sh);
  feed_all(fx, get);
  Reply r[8];
  assert_int_equal(replies(fx, r, 8), 3);
  assert_string_equal(r[0].code, "bad-records");
  assert_string_equal(r[1].code, "schema");
  assert_string_equal(r[2].code, "no-session"); /* neither HELLO was adopted */
  g_autoptr(GBytes) h = hello_frame(), bs = raw_frame(AVMA_MSG_SET, SESSION, 2, broken, 3),
                    bg = raw_frame(AVMA_MSG_GET, SESSION, 3, broken, 3),
                    bd = raw_frame(AVMA_MSG_DELETE, SESSION, 4, broken, 3),
                    ba = raw_frame(AVMA_MSG_ACTIVATE, SESSION, 5, broken, 3);
  feed_all(fx, h);
  feed_all(fx, bs);
  feed_all(fx, bg);
  feed_all(fx, bd);
  feed_all(fx, ba);
  assert_int_equal(replies(fx, r, 8), 5);
  for (int i = 1; i < 5; i++)
    assert_string_equal(r[i].code, "bad-records");
}

/* A VM name libvirt accepts but the schema does not (over 255 bytes, a tab, a newline): the host
 * still answers HELLO with schema-valid items (replies() checks), cut at a character boundary. */
static void test_long_vm_name_hello_valid(void **state) {
  Fx *fx = *state;
  fx->host = avma_host_new(fx->config, NULL);
  assert_non_null(fx->host);
  GString *name = g_string_new("tab\there\nnewline ");
  for (int i = 0; i < 200; i++)
    g_string_append(name, "\xc3\xbc");
  fx->vm = avma_host_vm(fx->host, name->str, NULL);
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  fx->s = avma_session_new_fd(fx->host, fx->vm, sv[0]);
  fx->guest = sv[1];
  g_autoptr(GBytes) h = hello_frame();
  feed_all(fx, h);
  Reply r[4];
  assert_int_equal(replies(fx, r, 4), 1);
  assert_int_equal(r[0].type, AVMA_MSG_HELLO_REPLY);
  assert_string_equal(avma_vm_name(fx->vm), name->str); /* the host keeps the full name */
  g_string_free(name, TRUE);
}

/* The buckets belong to the VM: getting disconnected and reconnecting does not refill them.
 * (Before, each reconnect refilled both, so bursts plus a hang-up in a loop gave 304 decisions a
 * minute against a limit of 12.) */
static void test_buckets_survive_reconnect(void **state) {
  Fx *fx = *state;
  fx->config->activation_burst = 2;
  fx->config->activations_per_min = 1e-6;
  fx->host = avma_host_new(fx->config, NULL);
  assert_non_null(fx->host);
  fx->vm = avma_host_vm(fx->host, "vm1", NULL);
  g_autofree char *path = g_build_filename(fx->dir, "vm1.sock", NULL);
  g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(path);
  g_autoptr(GSocket) lis =
      g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL);
  assert_non_null(lis);
  assert_true(g_socket_bind(lis, addr, TRUE, NULL));
  assert_true(g_socket_listen(lis, NULL));
  fx->s = avma_session_new(fx->host, fx->vm, path);
  g_autoptr(AvmaRecordList) req = avma_record_list_new();
  avma_record_list_add(req, AVMA_KEY_AvmaKey, "YDFWN-MJ9JR-3DYRK-FXXRW-78VHK");
  guint decisions = 0, limited = 0;
  for (int round = 0; round < 3; round++) {
    g_autoptr(GSocket) conn = NULL;
    for (int i = 0; i < 300 && !conn; i++) {
      run_for(10);
      g_socket_set_blocking(lis, FALSE);
      conn = g_socket_accept(lis, NULL, NULL);
    }
    assert_non_null(conn);
    fx->guest = g_socket_get_fd(conn);
    g_socket_set_blocking(conn, FALSE);
    avma_decoder_init(&fx->dec);
    g_autoptr(GBytes) h = hello_frame();
    gsize len;
    const guint8 *d = g_bytes_get_data(h, &len);
    assert_int_equal(write(fx->guest, d, len), (ssize_t)len);
    for (guint32 seq = 2; seq <= 4; seq++) {
      g_autoptr(GBytes) a = frame(AVMA_MSG_ACTIVATE, SESSION, seq, req);
      d = g_bytes_get_data(a, &len);
      assert_int_equal(write(fx->guest, d, len), (ssize_t)len);
    }
    run_for(50);
    Reply r[8];
    guint n = replies(fx, r, 8);
    for (guint i = 0; i < n; i++) {
      decisions += r[i].type == AVMA_MSG_ACTIVATE_REPLY;
      limited += !g_strcmp0(r[i].code, "rate-limited");
    }
    fx->guest = -1; /* closed with conn: the host sees the peer go and reconnects */
  }
  assert_int_equal(decisions, 2);
  assert_int_equal(limited, 7);
  g_unlink(path);
}

int main(void) {
  g_setenv("G_SLICE", "always-malloc", TRUE);
  g_log_set_writer_func(g_log_writer_default, NULL, NULL);
  g_setenv("G_MESSAGES_DEBUG", "", TRUE);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_deadline_per_frame, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deadline_drops_stalled_frame, setup, teardown),
      cmocka_unit_test_setup_teardown(test_replay_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_set_all_or_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_not_reading_disconnects, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flood_disconnects, setup, teardown),
      cmocka_unit_test_setup_teardown(test_activation_rate_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_error_message_is_schema_text, setup, teardown),
      cmocka_unit_test_setup_teardown(test_session0_flood_disconnects, setup, teardown),
      cmocka_unit_test_setup_teardown(test_garbage_flood_disconnects, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rate_limit_is_back_pressure, setup, teardown),
      cmocka_unit_test_setup_teardown(test_delete_host_owned_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_payloads_refused_alike, setup, teardown),
      cmocka_unit_test_setup_teardown(test_buckets_survive_reconnect, setup, teardown),
      cmocka_unit_test_setup_teardown(test_long_vm_name_hello_valid, setup, teardown),
      cmocka_unit_test_setup_teardown(test_receipts_only_when_taken, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
