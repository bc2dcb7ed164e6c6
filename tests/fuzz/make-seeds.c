/* make-seeds: writes the fuzzers' seed corpora (tests/fuzz/corpus/<target>/). Deterministic, so
 * the committed seeds can be regenerated with `make fuzz-seeds` and compared. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalogue.h"
#include "crc32c.h"
#include "frame.h"
#include "schema.h"

static const char *root;

static void put(const char *target, const char *name, const void *data, size_t len) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", root, target);
  if (mkdir(path, 0755) != 0 && errno != EEXIST) {
    perror(path);
    exit(1);
  }
  snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
    perror(path);
    exit(1);
  }
}

/* A growable byte string. */
typedef struct {
  uint8_t b[40000];
  size_t n;
} Buf;

static void add(Buf *s, const void *p, size_t n) {
  memcpy(s->b + s->n, p, n);
  s->n += n;
}

#define ADD_LIT(s, lit) add(s, lit, sizeof lit - 1)

static size_t records(const AvmaRecord *r, size_t n, uint8_t *out, size_t cap) {
  size_t len = 0;
  if (avma_records_encode(r, n, out, cap, &len) != AVMA_KVP_OK) {
    fprintf(stderr, "make-seeds: cannot encode records\n");
    exit(1);
  }
  return len;
}

static void add_frame(Buf *s, uint8_t type, uint32_t session, uint32_t seq, const uint8_t *p,
                      size_t n) {
  size_t len = avma_frame_encode(type, 0, session, seq, p, n, s->b + s->n, sizeof s->b - s->n);
  if (!len) {
    fprintf(stderr, "make-seeds: cannot encode frame\n");
    exit(1);
  }
  s->n += len;
}

static const char *sample(AvmaValueType t) {
  switch (t) {
  case AVMA_TYPE_TEXT:
    return "Debian GNU/Linux 12 (bookworm)";
  case AVMA_TYPE_AVMA_KEY:
    return "TNK62-RXVTB-4P47B-2D623-4GF74";
  case AVMA_TYPE_PRODUCT_VERSION:
    return "2019";
  case AVMA_TYPE_EDITION:
    return "Standard";
  case AVMA_TYPE_NOTIFICATION:
    return "AVMA Success";
  case AVMA_TYPE_REASON_CODE:
    return "guest-newer-than-host";
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
  }
  return "";
}

/* Config parsers: the shipped files with every key set, and some broken ones. */
static void config_seeds(void) {
  static const struct {
    const char *target, *name, *text;
  } confs[] = {
      {"hostconf", "full",
       "[host]\nstate_dir=/var/lib/avma-host\nconnect=qemu:///system\nvalidity=604800\n"
       "ensure_channel=false\njournal=auto\n\n[limits]\nrequests_per_second=10\n"
       "request_burst=20\nframe_deadline_ms=5000\nmax_records=64\nreconnect_max_ms=10000\n"
       "max_queued_bytes=262144\nactivations_per_minute=12\nactivation_burst=30\n\n"
       "[history]\nretention_months=25\nconfirm_running_within=60\n\n[metrics]\n"
       "textfile=/var/lib/avma-host/avma.prom\n\n"
       "[channels]\nvm1=/run/avma/vm1.sock\nvm2=/run/avma/vm2.sock\n"},
      {"hostconf", "empty", ""},
      {"hostconf", "comments", "# nothing set\n[host]\n#validity=604800\n[limits]\n"},
      {"hostconf", "bad-values",
       "[host]\nvalidity=-1\njournal=maybe\nensure_channel=perhaps\n[limits]\n"
       "max_records=100000\nrequests_per_second=abc\n"},
      {"hostconf", "bad-channel", "[channels]\nvm1=\n=x\n"},
      {"hostconf", "not-a-keyfile", "validity=7\n[unterminated\n\xff\xfe"},
      {"guestconf", "full",
       "[guest]\nstate_dir=/var/lib/avma-guest\nport=/dev/virtio-ports/org.avma.kvp.0\n"
       "product_version=2019\nproduct_edition=Standard\njournal=no\n\n[timing]\n"
       "request_timeout=10\nrenew_interval=86400\nretry_initial=60\nretry_max=7200\n"
       "presence_interval=2\n"},
      {"guestconf", "empty", ""},
      {"guestconf", "display-forms",
       "[guest]\nproduct_version=Windows Server 2012 R2\n"
       "product_edition=Datacenter: Azure Edition\n[timing]\nretry_initial=600\nretry_max=1\n"},
      {"guestconf", "bad-values",
       "[guest]\nproduct_version=Vista\nproduct_edition=Home\njournal=maybe\n[timing]\n"
       "request_timeout=0\nrenew_interval=99999999999999999999\n"},
      {"guestconf", "not-a-keyfile", "[guest\nport\n\x00\xc3\x28"},
  };
  for (size_t i = 0; i < sizeof confs / sizeof confs[0]; i++)
    put(confs[i].target, confs[i].name, confs[i].text, strlen(confs[i].text));
}

/* fuzz-session scripts (format in fuzz-session.c): op bytes, then their arguments. */
#define S_HELLO 0x00
#define S_SET 0x01
#define S_GET 0x02
#define S_DELETE 0x03
#define S_ENUMERATE 0x24 /* kind 2: five raw payload bytes */
#define S_ACTIVATE 0x05
#define S_ACK 0x0c
#define SAMPLE 0xc0 /* value byte: a valid sample for the key's type */

static void session_seeds(void) {
  static Buf s;
  const uint8_t hello[] = {S_HELLO, 1, 0, AVMA_KEY_IntegrationServicesVersion, SAMPLE, 0x10, 1};
  const uint8_t set[] = {S_SET,
                         4,
                         0,
                         AVMA_KEY_OSName,
                         SAMPLE + 1,
                         0,
                         AVMA_KEY_OSMajorVersion,
                         SAMPLE,
                         0,
                         AVMA_KEY_NetworkAddressIPv4,
                         SAMPLE,
                         0,
                         AVMA_KEY_ProcessorArchitecture,
                         SAMPLE,
                         0,
                         2};
  const uint8_t activate[] = {S_ACTIVATE,
                              3,
                              0,
                              AVMA_KEY_AvmaKey,
                              SAMPLE + 2,
                              0,
                              AVMA_KEY_AvmaProductVersion,
                              SAMPLE,
                              0,
                              AVMA_KEY_AvmaProductEdition,
                              SAMPLE,
                              0,
                              3};
  const uint8_t get[] = {
      S_GET, 3, 0, AVMA_KEY_OSName, 0, 0, AVMA_KEY_HostName, 0, 0, AVMA_KEY_AvmaNotification,
      0,     0, 4};
  const uint8_t enumerate[] = {S_ENUMERATE, 2, 0, 0, 0, 0, 0, 5};
  const uint8_t del[] = {S_DELETE, 1, 0, AVMA_KEY_OSName, 0, 0, 6, S_DELETE, 0, 0, 7};

  s.n = 0;
  add(&s, "\0", 1);
  add(&s, hello, sizeof hello);
  add(&s, set, sizeof set);
  add(&s, activate, sizeof activate);
  add(&s, get, sizeof get);
  add(&s, enumerate, sizeof enumerate);
  add(&s, del, sizeof del);
  put("session", "exchange", s.b, s.n);

  /* Requests before HELLO, of another session, replayed and out of order. */
  s.n = 0;
  add(&s, "\0", 1);
  add(&s, activate, sizeof activate);
  add(&s, hello, sizeof hello);
  add(&s, activate, sizeof activate);
  add(&s, activate, sizeof activate);
  const uint8_t stale[] = {S_GET, 0, 2, 9, S_GET, 0, 0, 1, S_ACK, 0, 0, 10, S_HELLO, 0, 1, 1};
  add(&s, stale, sizeof stale);
  put("session", "replay", s.b, s.n);

  /* Small limits: request burst 5, activation burst 2, two records per pool. */
  s.n = 0;
  add(&s, "\x35", 1);
  add(&s, hello, sizeof hello);
  for (uint8_t i = 0; i < 6; i++) {
    uint8_t a[sizeof activate];
    memcpy(a, activate, sizeof a);
    a[sizeof a - 1] = (uint8_t)(10 + i);
    add(&s, i % 2 ? a : set, i % 2 ? sizeof a : sizeof set);
  }
  put("session", "limits", s.b, s.n);

  /* A guest that never reads: replies pile up until the queue cap closes the channel. */
  s.n = 0;
  add(&s, "\x40", 1);
  for (int i = 0; i < 200; i++)
    add(&s, hello, sizeof hello);
  put("session", "no-reader", s.b, s.n);

  /* Noise, a half frame, a frame in two parts, a maximum payload, bad records. */
  s.n = 0;
  add(&s, "\0", 1);
  ADD_LIT(&s, "\x90login: root\r\npassword\r\n");
  ADD_LIT(&s, "\x88\xff"
              "AVK\x01\x10\x00\x00");
  const uint8_t split[] = {S_HELLO | 0x40, 100,  1, 0, AVMA_KEY_IntegrationServicesVersion,
                           SAMPLE,         0x22, 1};
  add(&s, split, sizeof split);
  const uint8_t big[] = {S_SET | 0x30, 1, 0, 2};
  add(&s, big, sizeof big);
  const uint8_t bad[] = {S_SET, 4,    0x85, AVMA_KEY_OSName,   SAMPLE, 0, 0xf0, 0, 0, 0x40, 3, 'k',
                         0xed,  0xa0, 0,    AVMA_KEY_HostName, SAMPLE, 0, 3};
  add(&s, bad, sizeof bad);
  const uint8_t many[] = {S_SET, 255, 0, 4};
  add(&s, many, sizeof many);
  put("session", "noise", s.b, s.n);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: make-seeds CORPUS-DIR\n");
    return 2;
  }
  root = argv[1];
  if (mkdir(root, 0755) != 0 && errno != EEXIST) {
    perror(root);
    return 1;
  }
  static uint8_t p[AVMA_FRAME_MAX_PAYLOAD];
  static Buf s;

  /* Record lists shared by kvp, schema and frame seeds. */
  AvmaRecord hello[] = {avma_schema_record(AVMA_KEY_IntegrationServicesVersion, "0.1.0")};
  AvmaRecord activate[] = {
      avma_schema_record(AVMA_KEY_AvmaKey, "TNK62-RXVTB-4P47B-2D623-4GF74"),
      avma_schema_record(AVMA_KEY_AvmaProductVersion, "2019"),
      avma_schema_record(AVMA_KEY_AvmaProductEdition, "Standard"),
  };
  AvmaRecord reply[] = {
      avma_schema_record(AVMA_KEY_AvmaNotification, "AVMA Success"),
      avma_schema_record(AVMA_KEY_AvmaReasonCode, "ok"),
      avma_schema_record(AVMA_KEY_AvmaReason, "guest Windows Server 2019 Standard activated"),
      avma_schema_record(AVMA_KEY_AvmaGrantedUntil, "2025-02-07T10:00:00Z"),
      avma_schema_record(AVMA_KEY_AvmaActivationTime, "2025-01-31T10:00:00Z"),
      avma_schema_record(AVMA_KEY_AvmaHostId, "3f2504e0-4f89-11d3-9a0c-0305e82c3301"),
      avma_schema_record(AVMA_KEY_AvmaHostVersion, "2022"),
  };
  AvmaRecord error[] = {avma_schema_record(AVMA_KEY_ErrorCode, "stale-session"),
                        avma_schema_record(AVMA_KEY_ErrorMessage, "request of another session")};
  /* Every key with a valid sample value: the host items and intrinsic items in one list. */
  AvmaRecord every[AVMA_KEY__COUNT];
  for (int i = 0; i < AVMA_KEY__COUNT; i++)
    every[i] = avma_schema_record((AvmaKeyId)i, sample(avma_schema_keys[i].type));
  const struct {
    const char *name;
    const AvmaRecord *r;
    size_t n;
  } lists[] = {
      {"hello", hello, 1},
      {"activate", activate, 3},
      {"reply", reply, 7},
      {"error", error, 2},
      {"every-key", every, AVMA_KEY__COUNT},
      {"empty", NULL, 0},
  };
  for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
    size_t n = records(lists[i].r, lists[i].n, p, sizeof p);
    put("kvp", lists[i].name, p, n);
    s.n = 0;
    add(&s, "\0", 1); /* fuzz-schema mode 0: a record list */
    add(&s, p, n);
    put("schema", lists[i].name, s.b, s.n);
  }
  /* kvp: an ENUMERATE payload, a largest key and value, and invalid UTF-8. */
  put("kvp", "enumerate", "\x01\x00\x00\x00\x10", 5);
  {
    static char key[AVMA_KVP_MAX_KEY + 1], val[AVMA_KVP_MAX_VALUE + 1];
    memset(key, 'K', AVMA_KVP_MAX_KEY);
    memset(val, 'v', AVMA_KVP_MAX_VALUE);
    AvmaRecord big = avma_record_str(AVMA_POOL_GUEST, key, val);
    put("kvp", "max-sizes", p, records(&big, 1, p, sizeof p));
    put("kvp", "bad-utf8", "\x00\x01\x01\x00\x01\x00\x03k\xED\xA0\x80", 11);
  }
  /* schema mode 1: one seed per key, a key index and a valid value. */
  for (int i = 0; i < AVMA_KEY__COUNT; i++) {
    s.n = 0;
    uint8_t hdr[2] = {1, (uint8_t)i};
    add(&s, hdr, 2);
    const char *v = sample(avma_schema_keys[i].type);
    add(&s, v, strlen(v));
    char name[80];
    snprintf(name, sizeof name, "value-%s", avma_schema_keys[i].name);
    put("schema", name, s.b, s.n);
  }

  /* frame: a chunk seed byte, then a stream. */
  size_t n;
  s.n = 0;
  add(&s, "\x01", 1);
  add_frame(&s, AVMA_MSG_HELLO, 0x1234, 1, p, records(hello, 1, p, sizeof p));
  put("frame", "hello", s.b, s.n);

  s.n = 0;
  add(&s, "\x02", 1);
  add_frame(&s, AVMA_MSG_ACTIVATE, 0x1234, 2, p, records(activate, 3, p, sizeof p));
  add_frame(&s, AVMA_MSG_ACTIVATE_REPLY, 0x1234, 2, p, records(reply, 7, p, sizeof p));
  add_frame(&s, AVMA_MSG_ERROR, 0x1234, 3, p, records(error, 2, p, sizeof p));
  put("frame", "exchange", s.b, s.n);

  s.n = 0;
  ADD_LIT(&s, "\x03login: \r\n\xFF\xFF"
              "AV");
  add_frame(&s, AVMA_MSG_ACK, 7, 1, NULL, 0);
  ADD_LIT(&s, "\xFF"
              "AV");
  put("frame", "garbage", s.b, s.n);

  /* Truncated frame, then a new one; a corrupted payload; a bad header check. */
  s.n = 0;
  add(&s, "\x04", 1);
  n = records(every, AVMA_KEY__COUNT, p, sizeof p);
  add_frame(&s, AVMA_MSG_SET, 9, 4, p, n);
  s.n -= n / 2;
  add_frame(&s, AVMA_MSG_HELLO, 10, 1, p, records(hello, 1, p, sizeof p));
  size_t at = s.n;
  add_frame(&s, AVMA_MSG_GET, 10, 2, (const uint8_t *)"\x00\x00", 2);
  s.b[at + 25] ^= 1;
  at = s.n;
  add_frame(&s, AVMA_MSG_DELETE, 10, 3, (const uint8_t *)"\x00\x00", 2);
  s.b[at + 13] ^= 1;
  add_frame(&s, AVMA_MSG_ENUMERATE, 10, 4, (const uint8_t *)"\x01\x00\x00\x00\x00", 5);
  put("frame", "resync", s.b, s.n);

  /* Unknown version, unknown type and too long, each with valid checks. */
  s.n = 0;
  add(&s, "\x05", 1);
  static const struct {
    uint8_t version, type;
    uint32_t len;
  } odd[] = {{2, AVMA_MSG_HELLO, 0}, {1, 0x7E, 0}, {1, AVMA_MSG_SET, 70000}};
  for (size_t i = 0; i < 3; i++) {
    uint8_t *f = s.b + s.n;
    add_frame(&s, AVMA_MSG_HELLO, 1, 1, NULL, 0);
    f[4] = odd[i].version, f[5] = odd[i].type;
    f[16] = (uint8_t)(odd[i].len >> 24), f[17] = (uint8_t)(odd[i].len >> 16);
    f[18] = (uint8_t)(odd[i].len >> 8), f[19] = (uint8_t)odd[i].len;
    uint32_t c = avma_crc32c(0, f, 20);
    f[20] = (uint8_t)(c >> 24), f[21] = (uint8_t)(c >> 16), f[22] = (uint8_t)(c >> 8),
    f[23] = (uint8_t)c;
    c = avma_crc32c(0, f, 24);
    f[24] = (uint8_t)(c >> 24), f[25] = (uint8_t)(c >> 16), f[26] = (uint8_t)(c >> 8),
    f[27] = (uint8_t)c;
  }
  add_frame(&s, AVMA_MSG_HELLO, 2, 1, NULL, 0);
  put("frame", "odd-headers", s.b, s.n);

  /* The largest frame. */
  s.n = 0;
  add(&s, "\x06", 1);
  for (size_t i = 0; i < sizeof p; i++)
    p[i] = (uint8_t)(i * 31);
  add_frame(&s, AVMA_MSG_RESULT, 3, 9, p, sizeof p);
  put("frame", "max-payload", s.b, s.n);

  /* key: host licence bytes, then key '\n' version '\n' edition. Host 2022 Datacenter activated,
   * version and edition declared. */
  size_t nk;
  const AvmaCatalogueEntry *all = avma_catalogue_entries(&nk);
  for (size_t i = 0; i < nk; i++) {
    char line[128];
    int len = snprintf(line, sizeof line, "%c%c%s\n%s\n%s", 4 | 1 << 3, 1 | 6 << 1, all[i].key,
                       avma_version_name(all[i].version), avma_edition_name(all[i].edition));
    char name[32];
    snprintf(name, sizeof name, "avma-%zu", i);
    put("key", name, line, (size_t)len);
  }
  static const struct {
    const char *name;
    const char *text;
  } keys[] = {
      {"mangled", "\x0c\x0dtnk62-rxvtb-4p47b - 2d 623-4gf74\n1809\nstandard"},
      {"gvlk", "\x0c\x01WC2BQ-8NRM3-FDDYY-2BFGV-KHKQY"},
      {"not-a-key", "\x0c\x01hello"},
      {"missing", "\x0c\x03"},
      {"bad-declared", "\x0c\x0dTNK62-RXVTB-4P47B-2D623-4GF74\nVista\nEnterprise"},
      {"azure", "\x0c\x0d"
                "F7TB6-YKN8Y-FCC6R-KQ484-VMK3J\nWindows Server 2022\nDatacenter: Azure Edition"},
      {"host-standard", "\x1c\x01YQB4H-NKHHJ-Q6K4R-4VMY6-VCH67"},
  };
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    put("key", keys[i].name, keys[i].text, strlen(keys[i].text));

  config_seeds();
  session_seeds();
  return 0;
}
