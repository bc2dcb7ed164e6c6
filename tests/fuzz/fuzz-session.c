/* fuzz-session: the host agent's per-guest byte path, stateful. A real AvmaHost (temporary state
 * directory, licence 2022 Datacenter activated) serves one AvmaSession on a socketpair; the input
 * is a script of raw byte runs and well-formed frames (so the fuzzer gets past the CRCs and into
 * the request handlers, the KVP store and the limits), fed through avma_session_feed. Every reply
 * the host writes is decoded and checked: a valid frame of a host-to-guest type whose records pass
 * the schema as the host's, never more replies than frames received, and the per-VM record cap
 * holds.
 *
 * Input: one knobs byte, then operations until the input ends.
 *   knobs: bits 0-3 request burst (0: unlimited), bit 4 activation burst 2, bit 5 max_records 2,
 *          bit 6 the guest never reads (replies pile up towards max_queued).
 *   op with bit 7 set: raw bytes, (op & 0x7f) of them follow.
 *   op otherwise: a frame of type TYPES[op & 15]; payload kind (op >> 4) & 3 (0 records,
 *          1 raw: length byte and bytes, 2 five raw bytes (ENUMERATE), 3 a parameter byte: odd
 *          for a maximum-size payload, even for none); bit 6: fed in two parts, split at a byte
 *          that follows. Then a session byte (0 the current session, 1 zero, 2 a stale one, else
 *          that value, which a HELLO makes current) and a seq byte.
 *   records: a count byte (count % 9 records, 255 for a count field of 300), then per record a
 *          pool byte (bit 7: use pool % 6 instead of the schema's), a key byte (a schema key
 *          index, else a key of (k & 31) + 1 input bytes, or from 0xf0 a 512/513-byte key) and a
 *          value byte (< 0xc0: (v & 63) input bytes; < 0xf0: a valid sample for the key's type;
 *          else a 2048/2049-byte value). */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz-glib.h"

#include "catalogue.h"
#include "host.h"
#include "licence.h"
#include "session.h"

static const char *state_dir;
static AvmaHostConfig *config;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  /* Before glib allocates anything: plain malloc, so ASan and LeakSanitizer see every block. */
  fuzz_glib_init();
  state_dir = fuzz_scratch();
  /* Loaded from a file so that every setting gets its real default. */
  g_autofree char *conf = g_build_filename(state_dir, "host.conf", NULL);
  g_autofree char *text = g_strdup_printf("[host]\nstate_dir=%s\njournal=no\n", state_dir);
  check(g_file_set_contents(conf, text, -1, NULL));
  config = avma_host_config_load(conf, NULL, NULL, NULL);
  check(config != NULL);
  AvmaLicence l = {
      .version = AVMA_VERSION_2022, .edition = AVMA_EDITION_DATACENTER, .activated = TRUE};
  check(avma_licence_save(state_dir, &l, AVMA_JOURNAL_NO, NULL));
  return 0;
}

typedef struct {
  const uint8_t *p;
  size_t n;
} In;

static int byte(In *in) {
  if (in->n == 0)
    return -1;
  in->n--;
  return *in->p++;
}

static size_t take(In *in, size_t want, const uint8_t **out) {
  size_t n = want < in->n ? want : in->n;
  *out = in->p;
  in->p += n;
  in->n -= n;
  return n;
}

static const char *sample(AvmaValueType t, int sel) {
  size_t nk;
  const AvmaCatalogueEntry *keys = avma_catalogue_entries(&nk);
  switch (t) {
  case AVMA_TYPE_AVMA_KEY:
    return sel % 4 == 3 ? "tnk62-rxvtb-4p47b - 2d 623-4gf74" : keys[(size_t)sel % nk].key;
  case AVMA_TYPE_PRODUCT_VERSION:
    return (const char *[]){"2019", "2025", "2012R2", "1809", "2022", "2016"}[sel % 6];
  case AVMA_TYPE_EDITION:
    return (const char *[]){"Standard", "Datacenter", "DatacenterAzure", "Essentials"}[sel % 4];
  case AVMA_TYPE_NOTIFICATION:
    return "AVMA Success";
  case AVMA_TYPE_REASON_CODE:
    return "ok";
  case AVMA_TYPE_RFC3339:
    return "2025-01-31T23:59:59.25Z";
  case AVMA_TYPE_UUID:
    return "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
  case AVMA_TYPE_UINT:
    return "2012";
  case AVMA_TYPE_IPV4_LIST:
    return "192.168.122.10;10.0.0.5";
  case AVMA_TYPE_IPV6_LIST:
    return "fe80::5054:ff:fe12:3456;::ffff:192.0.2.1";
  case AVMA_TYPE_HOSTNAME:
    return "vm01.example.org";
  case AVMA_TYPE_ARCH:
    return "x86_64";
  case AVMA_TYPE_SIGNED_NOTE:
    return "avma-receipt v1\n\n\u2014 k AAAA\n";
  case AVMA_TYPE_TEXT:
    break;
  }
  return sel & 1 ? "Debian GNU/Linux 12 (bookworm)" : "";
}

static void put16(uint8_t *p, size_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

/* A record list, well-formed or not, as the script says. */
static size_t build_records(In *in, uint8_t *out, size_t cap) {
  static char big[AVMA_KVP_MAX_VALUE + 1];
  if (!big[0])
    memset(big, 'v', sizeof big);
  int c = byte(in);
  if (c < 0)
    return 0;
  size_t count = c == 255 ? 300 : (size_t)c % 9;
  put16(out, count);
  size_t pos = 2;
  for (size_t i = 0; i < count && i < 9; i++) {
    int pb = byte(in), kb = byte(in), vb = byte(in);
    if (vb < 0)
      break;
    const char *key;
    size_t klen;
    AvmaPool pool;
    AvmaValueType type = AVMA_TYPE_TEXT;
    if (kb < AVMA_KEY__COUNT) {
      key = avma_schema_keys[kb].name;
      klen = strlen(key);
      pool = avma_schema_keys[kb].pool;
      type = avma_schema_keys[kb].type;
    } else if (kb < 0xf0) {
      const uint8_t *k;
      klen = take(in, (size_t)(kb & 31) + 1, &k);
      key = (const char *)k;
      pool = AVMA_POOL_GUEST;
    } else {
      key = big;
      klen = AVMA_KVP_MAX_KEY + (kb & 1);
      pool = AVMA_POOL_GUEST;
    }
    if (pb & 0x80)
      pool = (AvmaPool)(pb % 6);
    const char *val;
    size_t vlen;
    if (vb < 0xc0) {
      const uint8_t *v;
      vlen = take(in, (size_t)vb & 63, &v);
      val = (const char *)v;
    } else if (vb < 0xf0) {
      val = sample(type, vb);
      vlen = strlen(val);
    } else {
      val = big;
      vlen = AVMA_KVP_MAX_VALUE + (vb & 1);
    }
    if (pos + 5 + klen + vlen > cap)
      break;
    out[pos] = (uint8_t)pool;
    put16(out + pos + 1, klen);
    put16(out + pos + 3, vlen);
    memcpy(out + pos + 5, key, klen);
    memcpy(out + pos + 5 + klen, val, vlen);
    pos += 5 + klen + vlen;
  }
  return pos;
}

static const uint8_t TYPES[16] = {
    AVMA_MSG_HELLO,     AVMA_MSG_SET,      AVMA_MSG_GET,       AVMA_MSG_DELETE,
    AVMA_MSG_ENUMERATE, AVMA_MSG_ACTIVATE, AVMA_MSG_HELLO,     AVMA_MSG_ACTIVATE,
    AVMA_MSG_SET,       AVMA_MSG_GET,      AVMA_MSG_ENUMERATE, AVMA_MSG_HELLO_REPLY,
    AVMA_MSG_ACK,       AVMA_MSG_RESULT,   AVMA_MSG_ERROR,     AVMA_MSG_ACTIVATE_REPLY,
};

typedef struct {
  AvmaSession *s;
  int peer;
  AvmaDecoder dec;
  guint64 replies;
} Run;

/* Let the channel write its queue, read what the host sent and check every frame. */
static void drain(Run *r) {
  while (g_main_context_iteration(NULL, FALSE))
    ;
  uint8_t buf[65536];
  ssize_t n;
  while ((n = read(r->peer, buf, sizeof buf)) > 0) {
    const uint8_t *p = buf;
    size_t left = (size_t)n;
    while (left > 0) {
      size_t took = avma_decoder_feed(&r->dec, p, left);
      p += took;
      left -= took;
      AvmaFrame f;
      AvmaDecStatus st;
      while ((st = avma_decoder_next(&r->dec, &f, NULL)) != AVMA_DEC_NEED_MORE) {
        /* The host writes whole frames only while connected; a closed channel may have cut
         * one. */
        check(st == AVMA_DEC_FRAME || !avma_session_connected(r->s));
        if (st != AVMA_DEC_FRAME)
          continue;
        r->replies++;
        check(f.type == AVMA_MSG_HELLO_REPLY || f.type == AVMA_MSG_ACTIVATE_REPLY ||
              f.type == AVMA_MSG_ACK || f.type == AVMA_MSG_RESULT || f.type == AVMA_MSG_ERROR);
        AvmaRecord recs[AVMA_KVP_MAX_RECORDS];
        size_t nr = 0;
        g_autoptr(GError) err = NULL;
        /* RESULT carries what the guest stored: its keys must exist, its values are the
         * guest's. Everything else is the host's own writing and must pass the schema. */
        gboolean ok =
            avma_msg_parse(&f, f.type == AVMA_MSG_RESULT ? AVMA_PARSE_KEYS : AVMA_PARSE_FROM_HOST,
                           recs, &nr, &err);
        if (!ok)
          fprintf(stderr, "%s: %s\n", avma_msg_type_name(f.type), err->message);
        check(ok);
        if (f.type == AVMA_MSG_ERROR)
          check(avma_records_find(recs, nr, AVMA_KEY_ErrorCode, &(size_t){0}) != NULL);
      }
    }
  }
  /* End of stream only once the host closed the channel. */
  check(n == 0 ? !avma_session_connected(r->s) : errno == EAGAIN || errno == EWOULDBLOCK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  In in = {data, size};
  int knobs = byte(&in);
  if (knobs < 0)
    return 0;
  /* No refill during a run (a rate of ~0): the outcome depends on the input, not the clock. */
  config->rate_per_sec = 1e-9;
  config->rate_burst = knobs & 15 ? knobs & 15 : 1e9;
  config->activations_per_min = 1e-9;
  config->activation_burst = knobs & 16 ? 2 : 1e9;
  config->max_records = knobs & 32 ? 2 : 64;
  config->max_queued = 65536;
  gboolean reads = !(knobs & 64);

  g_autofree char *events = g_build_filename(state_dir, "events.jsonl", NULL);
  g_unlink(events); /* one run's worth at most */
  g_autoptr(AvmaHost) host = avma_host_new(config, NULL);
  check(host != NULL);
  AvmaVm *vm = avma_host_vm(host, "fuzz", "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
  int sv[2];
  check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
  Run r = {avma_session_new_fd(host, vm, sv[0]), sv[1], {0}, 0};
  avma_decoder_init(&r.dec);

  static uint8_t payload[AVMA_FRAME_MAX_PAYLOAD], frame[AVMA_FRAME_MAX_SIZE];
  uint32_t current = 1;
  int op;
  while ((op = byte(&in)) >= 0 && avma_session_connected(r.s)) {
    if (op & 0x80) {
      const uint8_t *raw;
      size_t n = take(&in, (size_t)op & 0x7f, &raw);
      avma_session_feed(r.s, raw, n);
    } else {
      uint8_t type = TYPES[op & 15];
      size_t plen = 0;
      int kind = (op >> 4) & 3, split = op & 0x40 ? byte(&in) : -1;
      if (kind == 0) {
        plen = build_records(&in, payload, sizeof payload);
      } else if (kind == 1 || kind == 2) {
        const uint8_t *raw;
        int want = kind == 2 ? 5 : byte(&in);
        plen = take(&in, want < 0 ? 0 : (size_t)want, &raw);
        memcpy(payload, raw, plen);
      } else if (byte(&in) & 1) {
        plen = sizeof payload;
        memset(payload, 0xA5, plen);
      }
      int sb = byte(&in), seq = byte(&in);
      uint32_t session = sb <= 0 ? current : sb == 1 ? 0 : sb == 2 ? current ^ 0x80 : (uint32_t)sb;
      if (type == AVMA_MSG_HELLO && sb > 2)
        current = session;
      size_t flen = avma_frame_encode(type, 0, session, seq < 0 ? 1 : (uint32_t)seq, payload, plen,
                                      frame, sizeof frame);
      check(flen > 0);
      size_t cut = split < 0 ? flen : (size_t)split * flen / 256;
      avma_session_feed(r.s, frame, cut);
      avma_session_feed(r.s, frame + cut, flen - cut);
    }
    if (reads)
      drain(&r);
  }
  if (reads && avma_session_connected(r.s))
    drain(&r);
  const AvmaSessionStats *st = avma_session_stats(r.s);
  /* At most one answer per frame or rejected frame: a guest cannot amplify its input. */
  check(r.replies <= st->frames + st->bad_frames);
  for (AvmaPool p = AVMA_POOL_GUEST; p <= AVMA_POOL_AUTO; p++) {
    JsonObject *o = avma_vm_pool_json(vm, p);
    check(json_object_get_size(o) <= config->max_records);
    json_object_unref(o);
  }
  avma_session_free(r.s);
  close(r.peer);
  while (g_main_context_iteration(NULL, FALSE))
    ;
  return 0;
}
