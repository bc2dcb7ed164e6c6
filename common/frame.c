/* frame: wire frame encoder and incremental, resynchronising decoder (kvp-schema/PROTOCOL.md). */
#include "frame.h"

#include <string.h>

#include "crc32c.h"

static const uint8_t magic[4] = {AVMA_FRAME_MAGIC0, AVMA_FRAME_MAGIC1, AVMA_FRAME_MAGIC2,
                                 AVMA_FRAME_MAGIC3};

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

bool avma_msg_type_known(uint8_t type) {
  return strcmp(avma_msg_type_name(type), "unknown") != 0;
}

const char *avma_msg_type_name(uint8_t type) {
  switch (type) {
  case AVMA_MSG_HELLO:
    return "HELLO";
  case AVMA_MSG_HELLO_REPLY:
    return "HELLO_REPLY";
  case AVMA_MSG_SET:
    return "SET";
  case AVMA_MSG_GET:
    return "GET";
  case AVMA_MSG_DELETE:
    return "DELETE";
  case AVMA_MSG_ENUMERATE:
    return "ENUMERATE";
  case AVMA_MSG_ACTIVATE:
    return "ACTIVATE";
  case AVMA_MSG_ACTIVATE_REPLY:
    return "ACTIVATE_REPLY";
  case AVMA_MSG_ACK:
    return "ACK";
  case AVMA_MSG_RESULT:
    return "RESULT";
  case AVMA_MSG_ERROR:
    return "ERROR";
  default:
    return "unknown";
  }
}

const char *avma_frame_error_name(AvmaFrameError e) {
  switch (e) {
  case AVMA_FERR_NONE:
    return "none";
  case AVMA_FERR_GARBAGE:
    return "garbage";
  case AVMA_FERR_HEADER_CRC:
    return "header-crc";
  case AVMA_FERR_TOO_LONG:
    return "too-long";
  case AVMA_FERR_VERSION:
    return "unsupported-version";
  case AVMA_FERR_TYPE:
    return "unknown-type";
  case AVMA_FERR_CRC:
    return "frame-crc";
  }
  return "unknown";
}

size_t avma_frame_encode(uint8_t type, uint8_t flags, uint32_t session, uint32_t seq,
                         const uint8_t *payload, size_t payload_len, uint8_t *out, size_t cap) {
  if (!avma_msg_type_known(type) || payload_len > AVMA_FRAME_MAX_PAYLOAD || !out)
    return 0;
  if (payload_len > 0 && !payload)
    return 0;
  size_t total = AVMA_FRAME_HEADER_SIZE + payload_len + AVMA_FRAME_TRAILER_SIZE;
  if (cap < total)
    return 0;
  memcpy(out, magic, sizeof magic);
  out[4] = AVMA_FRAME_VERSION;
  out[5] = type;
  out[6] = flags;
  out[7] = 0; /* reserved */
  put_be32(out + 8, session);
  put_be32(out + 12, seq);
  put_be32(out + 16, (uint32_t)payload_len);
  put_be32(out + 20, avma_crc32c(0, out, 20));
  if (payload_len > 0)
    memmove(out + AVMA_FRAME_HEADER_SIZE, payload, payload_len); /* payload may alias out */
  size_t body = AVMA_FRAME_HEADER_SIZE + payload_len;
  put_be32(out + body, avma_crc32c(0, out, body));
  return total;
}

void avma_decoder_init(AvmaDecoder *d) {
  d->off = 0;
  d->len = 0;
  d->consumed = 0;
  d->fed = 0;
  d->work = 0;
  d->credit = 0;
  d->credit_mark = 0;
}

void avma_decoder_reset(AvmaDecoder *d) {
  d->consumed += d->len;
  d->off = 0;
  d->len = 0;
}

size_t avma_decoder_feed(AvmaDecoder *d, const uint8_t *data, size_t len) {
  size_t room = AVMA_FRAME_MAX_SIZE - d->len;
  size_t n = len < room ? len : room;
  /* Compact only here, never in next: a frame returned by next points into buf and must stay
   * valid until the next feed. Only when the tail is used up (see AvmaDecoder). */
  if (d->off > 0 && d->off + d->len + n > sizeof d->buf) {
    memmove(d->buf, d->buf + d->off, d->len);
    d->work += d->len;
    d->off = 0;
  }
  if (n > 0) {
    memcpy(d->buf + d->off + d->len, data, n);
    d->len += n;
    d->fed += n;
  }
  return n;
}

size_t avma_decoder_pending(const AvmaDecoder *d) {
  return d->len;
}

static void drop(AvmaDecoder *d, size_t n) {
  d->off += n;
  d->len -= n;
  d->consumed += n;
}

/* Offset of the first byte that may start a frame: a full magic, or a prefix of one that runs to
 * the end of what is held (kept for the next feed). Returns len when there is none. */
static size_t find_magic(const uint8_t *p, size_t len) {
  size_t i = 0;
  while (i < len) {
    const uint8_t *hit = memchr(p + i, AVMA_FRAME_MAGIC0, len - i);
    if (!hit)
      return len;
    i = (size_t)(hit - p);
    size_t avail = len - i < sizeof magic ? len - i : sizeof magic;
    if (memcmp(p + i, magic, avail) == 0)
      return i;
    i++;
  }
  return len;
}

static AvmaDecStatus fail(AvmaDecoder *d, AvmaDecError *err, AvmaFrameError code, size_t skip,
                          const uint8_t *hdr) {
  err->code = code;
  err->header_valid = hdr != NULL;
  err->type = hdr ? hdr[5] : 0;
  err->session = hdr ? get_be32(hdr + 8) : 0;
  err->seq = hdr ? get_be32(hdr + 12) : 0;
  err->skipped = skip;
  drop(d, skip);
  return AVMA_DEC_ERROR;
}

AvmaDecStatus avma_decoder_next(AvmaDecoder *d, AvmaFrame *frame, AvmaDecError *err) {
  AvmaDecError scratch;
  if (!err)
    err = &scratch;
  memset(err, 0, sizeof *err);
  const uint8_t *p = d->buf + d->off;

  /* Garbage is dropped eagerly (it would otherwise fill the buffer): one error per run held, so a
   * run that arrives over several feeds may be reported more than once. */
  size_t start = find_magic(p, d->len);
  if (start > 0)
    return fail(d, err, AVMA_FERR_GARBAGE, start, NULL);
  if (d->len < AVMA_FRAME_HEADER_SIZE)
    return AVMA_DEC_NEED_MORE;

  /* Nothing in the header is trusted until its own check passes; a failure costs one byte so a
   * real magic inside the bad header is still found. */
  d->work += 20;
  if (get_be32(p + 20) != avma_crc32c(0, p, 20))
    return fail(d, err, AVMA_FERR_HEADER_CRC, 1, NULL);
  uint32_t plen = get_be32(p + 16);
  if (plen > AVMA_FRAME_MAX_PAYLOAD)
    return fail(d, err, AVMA_FERR_TOO_LONG, 1, p);

  /* The length is now bounded, so waiting for the whole frame cannot overflow buf. Unknown
   * version/type frames are also waited for, so that the outcome never depends on how the bytes
   * were split between feeds (the caller's frame deadline bounds the wait). */
  size_t body = AVMA_FRAME_HEADER_SIZE + plen;
  size_t total = body + AVMA_FRAME_TRAILER_SIZE;
  if (d->len < total)
    return AVMA_DEC_NEED_MORE;
  /* A check the budget cannot pay counts as failed (see AvmaDecoder): only a peer that planted
   * headers claiming more than it sent gets here. */
  bool crc_ok = false;
  /* The budget is earned by stream position (the furthest frame end checked so far), not by
   * when bytes were fed, so the outcome never depends on how the stream was split. */
  uint64_t end = d->consumed + total;
  if (end > d->credit_mark) {
    uint64_t c = d->credit + (end - d->credit_mark) * AVMA_DECODER_CREDIT_PER_BYTE;
    d->credit = c < AVMA_DECODER_CREDIT_MAX ? c : AVMA_DECODER_CREDIT_MAX;
    d->credit_mark = end;
  }
  if (d->credit >= body) {
    d->credit -= body;
    d->work += body;
    crc_ok = get_be32(p + body) == avma_crc32c(0, p, body);
  }

  /* Unknown version or type: an intact frame is skipped whole (its payload cannot then be misread
   * as frames); a damaged one costs only one byte, as for a CRC failure, so that a frame which
   * started inside it is found. */
  if (p[4] != AVMA_FRAME_VERSION)
    return fail(d, err, AVMA_FERR_VERSION, crc_ok ? total : 1, p);
  if (!avma_msg_type_known(p[5]))
    return fail(d, err, AVMA_FERR_TYPE, crc_ok ? total : 1, p);
  if (!crc_ok)
    return fail(d, err, AVMA_FERR_CRC, 1, p);

  AvmaFrame scratch_frame;
  if (!frame)
    frame = &scratch_frame;
  frame->version = p[4];
  frame->type = p[5];
  frame->flags = p[6];
  frame->session = get_be32(p + 8);
  frame->seq = get_be32(p + 12);
  frame->payload_len = plen;
  frame->payload = p + AVMA_FRAME_HEADER_SIZE;
  drop(d, total); /* the bytes stay in buf until the next feed compacts them */
  return AVMA_DEC_FRAME;
}

size_t avma_decode_stream(AvmaDecoder *d, const uint8_t *data, size_t len, AvmaFrameFn on_frame,
                          AvmaNoiseFn on_noise, void *user) {
  size_t used = 0;
  for (;;) {
    size_t took = avma_decoder_feed(d, data + used, len - used);
    used += took;
    bool produced = false;
    AvmaFrame f;
    AvmaDecError e;
    AvmaDecStatus st;
    while ((st = avma_decoder_next(d, &f, &e)) != AVMA_DEC_NEED_MORE) {
      produced = true;
      bool go = true;
      if (st == AVMA_DEC_FRAME && on_frame)
        go = on_frame(&f, user);
      else if (st == AVMA_DEC_ERROR && on_noise)
        go = on_noise(&e, user);
      if (!go)
        return used; /* the caller may have dropped d */
    }
    /* A full decoder always yields something, so no progress means nothing more to do. */
    if (used == len || (!took && !produced))
      break;
  }
  return used;
}
