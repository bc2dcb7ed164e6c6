/* avma-hostile: a hostile guest for tests. It stands where QEMU's channel socket would be (it
 * listens on --socket and avma-hostd connects to it), and once started (at once, or on SIGUSR1
 * with --wait-signal) spends --seconds abusing the host in one of these ways:
 *   garbage    random bytes at full speed
 *   partial    frames that start and never finish (a valid header, then a byte now and then)
 *   maxframes  maximum-size frames (16 KiB payload, valid checks) at full speed
 *   keys       10 000 distinct keys in SET requests (paced to the rate limit), then counts what
 *              the host kept with ENUMERATE
 *   utf8       records with invalid UTF-8 and control characters
 *   seq        replayed and out-of-order sequence numbers, stale and missing sessions
 *   storm      reconnect storm: connect, HELLO with a fresh session, half a frame, hang up
 *   noread     requests with large answers, never reading them
 * It reconnects (accepts again) whenever the host hangs up, and prints one line of key=value
 * results. Frames are built with the project's own encoders, so they are valid where they mean
 * to be. Exit 0 unless it could not run (bad usage, the host never connected). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "frame.h"
#include "kvp.h"
#include "schema.h"

static int listener = -1, conn = -1;
static double deadline;
static uint32_t rng = 0x2545F491u;
static uint32_t session = 0x51ed;
static uint32_t seq;

/* Results. */
static unsigned long long sent_bytes, frames_sent, replies, connects, hangups;
static unsigned long long errors; /* ERROR replies */
static char last_code[64];

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng;
}

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "avma-hostile: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(2);
}

/* Wait (until the deadline, or `limit` seconds) for the host to connect. */
static int accept_host(double limit) {
  if (conn >= 0)
    close(conn);
  conn = -1;
  double end = now() + limit;
  while (now() < end) {
    struct pollfd p = {listener, POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (conn >= 0) {
        connects++;
        return 0;
      }
    }
  }
  return -1;
}

static void hung_up(void) {
  hangups++;
  close(conn);
  conn = -1;
}

/* ---- replies --------------------------------------------------------------------------------- */

static AvmaDecoder dec;
typedef struct {
  uint8_t type;
  uint32_t seq;
  char code[64];
  unsigned n_records;
} Reply;
static Reply last;
static int have_reply;

static void on_reply(const AvmaFrame *f) {
  replies++;
  memset(&last, 0, sizeof last);
  last.type = f->type;
  last.seq = f->seq;
  AvmaRecord recs[AVMA_KVP_MAX_RECORDS];
  size_t n = 0;
  if (avma_records_decode(f->payload, f->payload_len, recs, AVMA_KVP_MAX_RECORDS, &n) ==
      AVMA_KVP_OK) {
    last.n_records = (unsigned)n;
    size_t len;
    const char *c = avma_records_find(recs, n, AVMA_KEY_ErrorCode, &len);
    if (f->type == AVMA_MSG_ERROR && c) {
      snprintf(last.code, sizeof last.code, "%.*s", (int)len, c);
      snprintf(last_code, sizeof last_code, "%s", last.code);
    }
  }
  if (f->type == AVMA_MSG_ERROR)
    errors++;
  have_reply = 1;
}

/* Read what is there (wait up to `wait` seconds for something). -1 when the host hung up. */
static int pump_replies(double wait) {
  if (conn < 0)
    return -1;
  struct pollfd p = {conn, POLLIN, 0};
  if (poll(&p, 1, (int)(wait * 1000)) <= 0)
    return 0;
  uint8_t buf[65536];
  ssize_t n = read(conn, buf, sizeof buf);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
    hung_up();
    return -1;
  }
  for (ssize_t off = 0; n > 0 && off < n;) {
    off += (ssize_t)avma_decoder_feed(&dec, buf + off, (size_t)(n - off));
    AvmaFrame f;
    AvmaDecStatus st;
    while ((st = avma_decoder_next(&dec, &f, NULL)) != AVMA_DEC_NEED_MORE)
      if (st == AVMA_DEC_FRAME)
        on_reply(&f);
  }
  return 0;
}

/* Wait for the reply to `want_seq` (or any reply when 0). 0 when it came. */
static int await_reply(uint32_t want_seq, double limit) {
  double end = now() + limit;
  while (now() < end) {
    have_reply = 0;
    if (pump_replies(0.05) < 0)
      return -1;
    if (have_reply && (want_seq == 0 || last.seq == want_seq))
      return 0;
  }
  return -1;
}

/* ---- sending --------------------------------------------------------------------------------- */

/* Write everything, reading replies meanwhile unless `noread`. -1 when the host hung up. */
static int send_bytes(const uint8_t *p, size_t n, int noread) {
  while (n > 0) {
    if (conn < 0)
      return -1;
    struct pollfd pf = {conn, (short)(POLLOUT | (noread ? 0 : POLLIN)), 0};
    if (poll(&pf, 1, 100) <= 0) {
      if (now() > deadline)
        return -1;
      continue;
    }
    if ((pf.revents & POLLIN) && pump_replies(0) < 0)
      return -1;
    if (pf.revents & (POLLHUP | POLLERR)) {
      hung_up();
      return -1;
    }
    if (!(pf.revents & POLLOUT))
      continue;
    ssize_t w = send(conn, p, n, MSG_NOSIGNAL);
    if (w < 0 && (errno == EAGAIN || errno == EINTR))
      continue;
    if (w < 0) {
      hung_up();
      return -1;
    }
    sent_bytes += (size_t)w;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static uint8_t frame_buf[AVMA_FRAME_MAX_SIZE];
static uint8_t payload_buf[AVMA_FRAME_MAX_PAYLOAD];

static int send_frame(uint8_t type, uint32_t sess, uint32_t sq, const uint8_t *payload, size_t plen,
                      int noread) {
  size_t n = avma_frame_encode(type, 0, sess, sq, payload, plen, frame_buf, sizeof frame_buf);
  if (!n)
    die("cannot encode a frame of %zu bytes", plen);
  frames_sent++;
  return send_bytes(frame_buf, n, noread);
}

static size_t encode(const AvmaRecord *r, size_t n) {
  size_t len = 0;
  if (avma_records_encode(r, n, payload_buf, sizeof payload_buf, &len) != AVMA_KVP_OK)
    die("cannot encode %zu records", n);
  return len;
}

/* A record list written byte by byte, so that it can carry what the encoder refuses. */
static size_t raw_records(const char *const *keys, const size_t *klen, const char *const *vals,
                          const size_t *vlen, size_t n) {
  size_t pos = 2;
  payload_buf[0] = (uint8_t)(n >> 8);
  payload_buf[1] = (uint8_t)n;
  for (size_t i = 0; i < n; i++) {
    payload_buf[pos] = AVMA_POOL_GUEST;
    payload_buf[pos + 1] = (uint8_t)(klen[i] >> 8);
    payload_buf[pos + 2] = (uint8_t)klen[i];
    payload_buf[pos + 3] = (uint8_t)(vlen[i] >> 8);
    payload_buf[pos + 4] = (uint8_t)vlen[i];
    memcpy(payload_buf + pos + 5, keys[i], klen[i]);
    memcpy(payload_buf + pos + 5 + klen[i], vals[i], vlen[i]);
    pos += 5 + klen[i] + vlen[i];
  }
  return pos;
}

/* HELLO with a fresh session; waits for the reply. */
static int hello(void) {
  session = rnd() | 1;
  seq = 1;
  AvmaRecord r = avma_schema_record(AVMA_KEY_IntegrationServicesVersion, "hostile");
  if (send_frame(AVMA_MSG_HELLO, session, seq, payload_buf, encode(&r, 1), 0) < 0)
    return -1;
  return await_reply(seq, 3);
}

/* Make sure there is a connection with a session, reconnecting when the host hung up. */
static int ready(void) {
  while (now() < deadline) {
    if (conn < 0 && accept_host(deadline - now()) < 0)
      return -1;
    if (hello() == 0)
      return 0;
  }
  return -1;
}

/* ---- modes ----------------------------------------------------------------------------------- */

static void mode_garbage(void) {
  static uint8_t buf[65536];
  while (now() < deadline) {
    if (conn < 0 && accept_host(deadline - now()) < 0)
      break;
    for (size_t i = 0; i < sizeof buf; i += 4) {
      uint32_t v = rnd();
      memcpy(buf + i, &v, 4);
    }
    (void)send_bytes(buf, sizeof buf, 0);
  }
}

/* A valid header announcing a maximum payload, then one byte every 50 ms; a new frame each
 * 1.5 s, so the host always holds a frame that never completes. */
static void mode_partial(void) {
  unsigned started = 0;
  while (now() < deadline) {
    if (conn < 0 && accept_host(deadline - now()) < 0)
      break;
    size_t n = avma_frame_encode(AVMA_MSG_SET, 0, session, ++seq, payload_buf,
                                 AVMA_FRAME_MAX_PAYLOAD, frame_buf, sizeof frame_buf);
    started++;
    if (send_bytes(frame_buf, AVMA_FRAME_HEADER_SIZE + 8, 0) < 0)
      continue;
    double until = now() + 1.5;
    for (size_t off = AVMA_FRAME_HEADER_SIZE + 8; off < n && now() < until && now() < deadline;
         off++) {
      if (send_bytes(frame_buf + off, 1, 0) < 0)
        break;
      (void)pump_replies(0.05);
    }
  }
  printf("partial_frames=%u ", started);
}

/* SET frames of exactly the maximum payload: OSName records with values over its schema length. */
static void mode_maxframes(void) {
  static char val[AVMA_KVP_MAX_VALUE];
  memset(val, 'x', sizeof val);
  AvmaRecord r[16];
  size_t n = 0, size = 2;
  const char *key = "OSName";
  while (size + 5 + strlen(key) + 1 <= AVMA_FRAME_MAX_PAYLOAD) {
    size_t room = AVMA_FRAME_MAX_PAYLOAD - size - 5 - strlen(key);
    size_t v = room < sizeof val ? room : sizeof val;
    r[n] = avma_record_str(AVMA_POOL_AUTO, key, "");
    r[n].value = val;
    r[n].value_len = v;
    size += 5 + strlen(key) + v;
    n++;
  }
  size_t plen = encode(r, n);
  if (plen != AVMA_FRAME_MAX_PAYLOAD)
    die("max payload is %zu bytes, not %u", plen, AVMA_FRAME_MAX_PAYLOAD);
  while (now() < deadline) {
    if (ready() < 0)
      break;
    while (now() < deadline && conn >= 0)
      if (send_frame(AVMA_MSG_SET, session, ++seq, payload_buf, plen, 0) < 0)
        break;
  }
}

/* Send one request and wait for its answer, backing off while the host says rate-limited. */
static int request(uint8_t type, size_t plen) {
  for (int tries = 0; tries < 100 && now() < deadline; tries++) {
    if (conn < 0 && ready() < 0)
      return -1;
    uint32_t s = ++seq;
    if (send_frame(type, session, s, payload_buf, plen, 0) < 0 || await_reply(s, 3) < 0)
      continue;
    if (last.type == AVMA_MSG_ERROR && !strcmp(last.code, "rate-limited")) {
      usleep(150000);
      continue;
    }
    return 0;
  }
  return -1;
}

static unsigned count_pool(AvmaPool pool) {
  unsigned total = 0;
  uint32_t start = 0;
  for (;;) {
    size_t plen = avma_enumerate_encode(pool, start, payload_buf, sizeof payload_buf);
    if (request(AVMA_MSG_ENUMERATE, plen) < 0 || last.type != AVMA_MSG_RESULT)
      return total;
    total += last.n_records;
    start += last.n_records;
    if (last.n_records == 0)
      return total;
  }
}

static void mode_keys(void) {
  static char keys[10000][8];
  unsigned refused = 0, accepted = 0, sent = 0;
  if (ready() < 0)
    return;
  for (unsigned i = 0; i < 10000; i += 250) {
    AvmaRecord r[250];
    for (unsigned k = 0; k < 250; k++) {
      snprintf(keys[i + k], sizeof keys[0], "k%05u", i + k);
      r[k] = avma_record_str(k % 2 ? AVMA_POOL_GUEST : AVMA_POOL_AUTO, keys[i + k], "v");
    }
    if (request(AVMA_MSG_SET, encode(r, 250)) < 0)
      break;
    sent += 250;
    if (last.type == AVMA_MSG_ACK)
      accepted += 250;
    else
      refused += 250;
  }
  unsigned guest = count_pool(AVMA_POOL_GUEST), autop = count_pool(AVMA_POOL_AUTO);
  printf("keys_sent=%u keys_refused=%u keys_accepted=%u stored_guest=%u stored_auto=%u ", sent,
         refused, accepted, guest, autop);
}

static void mode_utf8(void) {
  static const struct {
    const char *k, *v;
    size_t kl, vl;
  } bad[] = {
      {"OSName", "overlong \xC0\xAF", 6, 11},
      {"OSName", "surrogate \xED\xA0\x80", 6, 13},
      {"OSName", "five \xF8\x88\x80\x80\x80", 6, 10},
      {"OSName", "cut \xE2\x82", 6, 6},
      {"OSName", "nul\0inside", 6, 10},
      {"OSName", "big \xF4\x90\x80\x80", 6, 8},
      {"OSName", "lone \x80", 6, 6},
      {"OSName", "ctrl \x1b[31m", 6, 10},
      {"OS\xC0\xAE", "x", 4, 1},
      {"\xFF\xFE", "x", 2, 1},
      {"OSName\x0a", "x", 7, 1},
      {"OSN\xE2\x80\xAE"
       "ame",
       "x", 9, 1},
  };
  unsigned total = 0, refused = 0;
  if (ready() < 0)
    return;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *k = bad[i].k, *v = bad[i].v;
    size_t plen = raw_records(&k, &bad[i].kl, &v, &bad[i].vl, 1);
    if (request(AVMA_MSG_SET, plen) < 0)
      break;
    total++;
    if (last.type == AVMA_MSG_ERROR &&
        (!strcmp(last.code, "bad-records") || !strcmp(last.code, "schema")))
      refused++;
  }
  printf("utf8_sent=%u utf8_refused=%u ", total, refused);
}

/* The answer to one crafted request, as a word: a reply type or an error code. */
static void seq_step(char *out, size_t cap, uint8_t type, uint32_t sess, uint32_t sq, size_t plen) {
  const char *word = "none";
  if (send_frame(type, sess, sq, payload_buf, plen, 0) == 0 && await_reply(sq, 3) == 0)
    word = last.type == AVMA_MSG_ERROR ? last.code : avma_msg_type_name(last.type);
  size_t used = strlen(out);
  snprintf(out + used, cap - used, "%s%s", used ? "," : "", word);
}

static void mode_seq(void) {
  char out[512] = "";
  if (conn < 0 && accept_host(deadline - now()) < 0)
    return;
  AvmaRecord act[] = {avma_schema_record(AVMA_KEY_AvmaKey, "TNK62-RXVTB-4P47B-2D623-4GF74")};
  size_t alen = encode(act, 1);
  uint32_t s = rnd() | 1;
  /* Before any HELLO; then a session; activate; replay it; go back; jump ahead; go back again;
   * another session's request. */
  seq_step(out, sizeof out, AVMA_MSG_ACTIVATE, s, 2, alen);
  AvmaRecord h = avma_schema_record(AVMA_KEY_IntegrationServicesVersion, "hostile");
  seq_step(out, sizeof out, AVMA_MSG_HELLO, s, 1, encode(&h, 1));
  alen = encode(act, 1);
  seq_step(out, sizeof out, AVMA_MSG_ACTIVATE, s, 2, alen);
  seq_step(out, sizeof out, AVMA_MSG_ACTIVATE, s, 2, alen);
  seq_step(out, sizeof out, AVMA_MSG_ACTIVATE, s, 1, alen);
  seq_step(out, sizeof out, AVMA_MSG_ACTIVATE, s, 9, alen);
  seq_step(out, sizeof out, AVMA_MSG_ACTIVATE, s, 5, alen);
  seq_step(out, sizeof out, AVMA_MSG_ACTIVATE, s ^ 2, 10, alen);
  printf("seq=%s ", out);
}

/* Each connection: a HELLO of a new session, half a frame, hang up; and within one connection,
 * a burst of HELLOs of ever new sessions. */
static void mode_storm(void) {
  while (now() < deadline) {
    if (accept_host(deadline - now()) < 0)
      break;
    for (int i = 0; i < 30; i++) {
      AvmaRecord r = avma_schema_record(AVMA_KEY_IntegrationServicesVersion, "storm");
      if (send_frame(AVMA_MSG_HELLO, rnd() | 1, 1, payload_buf, encode(&r, 1), 0) < 0)
        break;
    }
    size_t n = avma_frame_encode(AVMA_MSG_SET, 0, session, 2, payload_buf, 4000, frame_buf,
                                 sizeof frame_buf);
    (void)send_bytes(frame_buf, n / 2, 0);
    close(conn);
    conn = -1;
  }
}

/* GETs naming a host item 256 times (answers of about 12 KiB), inside the rate limit, never
 * read: the host must give up on us once max_queued is reached, not buffer without end. */
static void mode_noread(void) {
  if (ready() < 0)
    return;
  AvmaRecord r[AVMA_KVP_MAX_RECORDS];
  for (unsigned i = 0; i < AVMA_KVP_MAX_RECORDS; i++)
    r[i] = avma_schema_record(AVMA_KEY_PhysicalHostNameFullyQualified, "");
  size_t plen = encode(r, AVMA_KVP_MAX_RECORDS);
  unsigned long long before = hangups;
  double started = now();
  while (now() < deadline && hangups == before) {
    if (send_frame(AVMA_MSG_GET, session, ++seq, payload_buf, plen, 1) < 0)
      break;
    usleep(110000); /* 9 a second: under the default 10 */
    /* A closed peer shows as POLLHUP even though we never read. */
    struct pollfd p = {conn, 0, 0};
    if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)))
      hung_up();
  }
  printf("noread_hung_up=%d noread_after=%.1fs ", hangups > before, now() - started);
}

static volatile sig_atomic_t go;
static void on_usr1(int s) {
  (void)s;
  go = 1;
}

int main(int argc, char **argv) {
  const char *path = NULL, *mode = NULL;
  double seconds = 3;
  int wait_signal = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--socket") && i + 1 < argc)
      path = argv[++i];
    else if (!strcmp(argv[i], "--mode") && i + 1 < argc)
      mode = argv[++i];
    else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
      seconds = atof(argv[++i]);
    else if (!strcmp(argv[i], "--wait-signal"))
      wait_signal = 1;
    else
      die("usage: avma-hostile --socket PATH --mode MODE [--seconds N] [--wait-signal]");
  }
  if (!path || !mode)
    die("--socket and --mode are required");
  signal(SIGPIPE, SIG_IGN);
  signal(SIGUSR1, on_usr1);
  rng ^= (uint32_t)getpid() * 2654435761u;
  avma_decoder_init(&dec);
  listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  unlink(path);
  if (listener < 0 || bind(listener, (struct sockaddr *)&sa, sizeof sa) < 0 ||
      listen(listener, 8) < 0)
    die("cannot listen on %s: %s", path, strerror(errno));
  if (wait_signal) {
    double end = now() + 300;
    while (!go && now() < end)
      usleep(20000);
    if (!go)
      die("no SIGUSR1 within 300 s");
  }
  /* The host may have connected long ago (it sits in the backlog) or only now. */
  if (accept_host(10) < 0)
    die("the host did not connect to %s", path);
  deadline = now() + seconds;
  if (!strcmp(mode, "garbage"))
    mode_garbage();
  else if (!strcmp(mode, "partial"))
    mode_partial();
  else if (!strcmp(mode, "maxframes"))
    mode_maxframes();
  else if (!strcmp(mode, "keys"))
    mode_keys();
  else if (!strcmp(mode, "utf8"))
    mode_utf8();
  else if (!strcmp(mode, "seq"))
    mode_seq();
  else if (!strcmp(mode, "storm"))
    mode_storm();
  else if (!strcmp(mode, "noread"))
    mode_noread();
  else
    die("unknown mode %s", mode);
  printf("mode=%s sent_bytes=%llu frames=%llu replies=%llu errors=%llu last_error=%s "
         "connects=%llu hangups=%llu\n",
         mode, sent_bytes, frames_sent, replies, errors, last_code[0] ? last_code : "-", connects,
         hangups);
  if (conn >= 0)
    close(conn);
  close(listener);
  unlink(path);
  return 0;
}
