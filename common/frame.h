/* frame: the wire frame (header, payload, CRC32C) and an incremental decoder with resync.
 * Pure C11, no I/O, no allocation after avma_decoder_init. Layout: kvp-schema/PROTOCOL.md. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AVMA_FRAME_MAGIC0 0xFFu /* never valid UTF-8, so text garbage cannot fake it */
#define AVMA_FRAME_MAGIC1 'A'
#define AVMA_FRAME_MAGIC2 'V'
#define AVMA_FRAME_MAGIC3 'K'
#define AVMA_FRAME_VERSION 1u
#define AVMA_FRAME_HEADER_SIZE 24u
#define AVMA_FRAME_TRAILER_SIZE 4u
#define AVMA_FRAME_MAX_PAYLOAD 16384u
#define AVMA_FRAME_MAX_SIZE                                                                        \
  (AVMA_FRAME_HEADER_SIZE + AVMA_FRAME_MAX_PAYLOAD + AVMA_FRAME_TRAILER_SIZE)

/* Frame flags. */
#define AVMA_FLAG_MORE 0x01u /* RESULT: more records follow in another request */
/* HELLO: the guest accepts AvmaReceipt and AvmaHostPublicKey in ACTIVATE_REPLY. Guests built
 * before those keys refuse replies that carry them, and hosts built before this bit ignore it. */
#define AVMA_FLAG_RECEIPTS 0x02u

typedef enum {
  AVMA_MSG_HELLO = 0x01,          /* guest -> host: open a session (session id = guest nonce) */
  AVMA_MSG_HELLO_REPLY = 0x02,    /* host -> guest: host items (auto-external pool) */
  AVMA_MSG_SET = 0x10,            /* guest -> host: set records in a guest-written pool */
  AVMA_MSG_GET = 0x11,            /* guest -> host: get records by (pool, key) */
  AVMA_MSG_DELETE = 0x12,         /* guest -> host: delete records by (pool, key) */
  AVMA_MSG_ENUMERATE = 0x13,      /* guest -> host: list a pool (payload: enumerate request) */
  AVMA_MSG_ACTIVATE = 0x20,       /* guest -> host: activation request (guest pool records) */
  AVMA_MSG_ACTIVATE_REPLY = 0x21, /* host -> guest: decision (external pool records) */
  AVMA_MSG_ACK = 0x30,            /* host -> guest: SET/DELETE done */
  AVMA_MSG_RESULT = 0x31,         /* host -> guest: GET/ENUMERATE records */
  AVMA_MSG_ERROR = 0x3F, /* host -> guest: request refused (auto-internal ErrorCode/ErrorMessage) */
} AvmaMsgType;

bool avma_msg_type_known(uint8_t type);
const char *avma_msg_type_name(uint8_t type); /* "HELLO", ...; "unknown" */

typedef struct {
  uint8_t version;
  uint8_t type;
  uint8_t flags;
  uint32_t session;
  uint32_t seq;
  uint32_t payload_len;
  const uint8_t
      *payload; /* points into the decoder's buffer: valid until the next feed/next call */
} AvmaFrame;

/* Encode one frame into out (capacity cap). Returns the frame size, or 0 if payload_len exceeds
 * AVMA_FRAME_MAX_PAYLOAD, the type is unknown, or cap is too small. */
size_t avma_frame_encode(uint8_t type, uint8_t flags, uint32_t session, uint32_t seq,
                         const uint8_t *payload, size_t payload_len, uint8_t *out, size_t cap);

typedef enum {
  AVMA_FERR_NONE = 0,
  AVMA_FERR_GARBAGE,    /* bytes that do not start a frame were skipped */
  AVMA_FERR_HEADER_CRC, /* a magic was found but its header check failed */
  AVMA_FERR_TOO_LONG,   /* header claims a payload above AVMA_FRAME_MAX_PAYLOAD */
  AVMA_FERR_VERSION,    /* unknown protocol version (header otherwise intact) */
  AVMA_FERR_TYPE,       /* unknown message type (header otherwise intact) */
  AVMA_FERR_CRC,        /* frame check failed (truncated, corrupted, or peer restarted mid-frame) */
} AvmaFrameError;

const char *avma_frame_error_name(AvmaFrameError e); /* "garbage", "header-crc", ... */

typedef enum {
  AVMA_DEC_NEED_MORE = 0, /* feed more bytes */
  AVMA_DEC_FRAME,         /* *frame is valid */
  AVMA_DEC_ERROR,         /* *err says what was skipped; call next again */
} AvmaDecStatus;

/* Details of an error. For HEADER-intact errors (TOO_LONG, VERSION, TYPE, CRC) session/seq/type
 * come from the header so that the peer can be answered; header_valid says whether they may be
 * used. skipped counts the bytes discarded by this error. */
typedef struct {
  AvmaFrameError code;
  bool header_valid;
  uint8_t type;
  uint32_t session;
  uint32_t seq;
  size_t skipped;
} AvmaDecError;

/* The decoder's work is bounded per input byte, whatever a hostile peer sends: every byte of the
 * stream earns AVMA_DECODER_CREDIT_PER_BYTE bytes of frame-check budget (banked up to
 * AVMA_DECODER_CREDIT_MAX); a frame whose check the budget cannot pay is treated as failing it
 * (skip one byte and rescan), so planted headers claiming long payloads cannot make each 24
 * input bytes cost a 16 KiB CRC. A legitimate frame earns twice its own check. Compaction moves
 * held bytes only when the tail of a buffer twice the maximum frame runs out, so it is amortised
 * to at most one byte moved per byte dropped. `work` counts bytes checksummed and moved, for
 * tests and benchmarks. */
#define AVMA_DECODER_CREDIT_PER_BYTE 2u
#define AVMA_DECODER_CREDIT_MAX (4u * AVMA_FRAME_MAX_SIZE)

typedef struct {
  uint8_t buf[2 * AVMA_FRAME_MAX_SIZE];
  size_t off;        /* held bytes start at buf[off]; feed compacts the consumed prefix away, so a
                        returned frame stays in place until the next feed */
  size_t len;        /* bytes held, at most AVMA_FRAME_MAX_SIZE */
  uint64_t consumed; /* total bytes ever discarded or returned, for diagnostics */
  uint64_t fed;      /* total bytes ever fed */
  uint64_t work;     /* bytes checksummed (header and frame checks) and moved by compaction */
  uint64_t credit;   /* frame-check budget left, in bytes */
  uint64_t credit_mark; /* stream offset up to which the budget was earned */
} AvmaDecoder;

void avma_decoder_init(AvmaDecoder *d);
void avma_decoder_reset(AvmaDecoder *d); /* drop everything held (new session, deadline hit) */
/* Copy up to len bytes into the decoder; returns how many were taken (0 when full: call next). */
size_t avma_decoder_feed(AvmaDecoder *d, const uint8_t *data, size_t len);
/* Bytes held that do not yet form a frame (a frame in progress, for deadlines). */
size_t avma_decoder_pending(const AvmaDecoder *d);
/* Extract the next frame or error. Never reads past what was fed; never trusts a length before
 * checking it against AVMA_FRAME_MAX_PAYLOAD and the header CRC. On CRC failure it skips only the
 * magic's first byte and rescans, so a new frame that started inside a truncated one is found. */
AvmaDecStatus avma_decoder_next(AvmaDecoder *d, AvmaFrame *frame, AvmaDecError *err);

/* The feed/drain loop every reader of the wire runs (the host's sessions, the Linux and Windows
 * guest agents): feeds data through d, calls on_frame for each frame and on_noise for each
 * decoder error (either may be NULL). Stops early when a callback returns false (the caller
 * dropped the decoder, or hung up). Returns the bytes consumed. */
typedef bool (*AvmaFrameFn)(const AvmaFrame *f, void *user);
typedef bool (*AvmaNoiseFn)(const AvmaDecError *e, void *user);
size_t avma_decode_stream(AvmaDecoder *d, const uint8_t *data, size_t len, AvmaFrameFn on_frame,
                          AvmaNoiseFn on_noise, void *user);
