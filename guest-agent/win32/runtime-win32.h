/* runtime-win32: the Windows guest agent's runtime, the counterpart of guest.c: one exchange at
 * a time over the port, the presence retry on a timer, a 12309 event per attempt, the schedule
 * (daemon mode) and key installation. Single-threaded: the caller waits on the handles and the
 * timeout this module gives (WaitForMultipleObjects) and hands back what fired. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <windows.h>

#include "agent.h"
#include "config.h"
#include "eventlog-win32.h"
#include "frame.h"
#include "gstate.h"
#include "port-win32.h"
#include "sysinfo-win32.h"
#include "xchg.h"

typedef struct AvmaWinGuest AvmaWinGuest;
/* An attempt (or a KVP clear) ended; reason is borrowed for the call. */
typedef void (*AvmaWinDone)(AvmaWinGuest *g, AvmaNotification n, const char *reason, void *user);

#define AVMA_WG_MAX_WAITERS 8
typedef struct {
  AvmaWinDone cb;
  void *user;
} AvmaWinWaiter;

typedef enum { AVMA_WG_OP_ACTIVATE, AVMA_WG_OP_CLEAR } AvmaWinOp;

struct AvmaWinGuest {
  const AvmaWinConfig *cfg;
  char dir[AVMA_WIN_PATH_MAX]; /* data folder */
  AvmaWinProductInfo pinfo;    /* the registry's product */
  AvmaProduct image;           /* configuration over the registry */
  AvmaWinLog *log;
  AvmaGState st;
  AvmaSchedule sched;
  bool daemon;

  AvmaWPort port;
  AvmaDecoder *dec; /* while bytes of a frame are held */
  bool port_warned; /* "port not there" logged once per absence */

  AvmaXchg x;
  bool ex_active, sent;
  AvmaWinOp op;
  uint64_t ex_deadline; /* GetTickCount64 ms */
  uint64_t presence_at; /* 0: no presence retry pending */
  uint64_t retry_at;    /* 0: no throttled request to send again */
  uint8_t *frame;       /* AVMA_FRAME_MAX_SIZE scratch for outgoing frames */

  bool want_activate;
  AvmaWinWaiter waiters[AVMA_WG_MAX_WAITERS], clear_waiters[AVMA_WG_MAX_WAITERS];
  size_t n_waiters, n_clear_waiters;

  AvmaAddrWatch addr;
  uint64_t addr_due; /* debounce: publish once changes settle */
  int64_t tick_sec;  /* unix second of the last schedule tick */
};

/* Load the state from dir (corrupt: false, why names the file; nothing is replaced). */
bool avma_wg_init(AvmaWinGuest *g, const AvmaWinConfig *cfg, const char *dir, AvmaWinLog *log,
                  char *why, size_t why_len);
void avma_wg_free(AvmaWinGuest *g);
bool avma_wg_save(AvmaWinGuest *g, char *why, size_t why_len);

/* Try the port now (at start: a busy port means another instance). */
AvmaWPortStatus avma_wg_open_port(AvmaWinGuest *g, char *why, size_t why_len);
/* Daemon mode: schedule, renewals, expiry, address watch. */
void avma_wg_start_daemon(AvmaWinGuest *g);

/* Handles to wait on (at most 3) with a kind each for avma_wg_dispatch. */
size_t avma_wg_handles(AvmaWinGuest *g, HANDLE *h, int *kind, size_t cap);
void avma_wg_dispatch(AvmaWinGuest *g, int kind);
/* Milliseconds until something is due (INFINITE: nothing); run avma_wg_tick after every wait. */
DWORD avma_wg_timeout(AvmaWinGuest *g);
void avma_wg_tick(AvmaWinGuest *g);

/* ato: cb (may be NULL) gets the outcome. */
void avma_wg_activate_now(AvmaWinGuest *g, AvmaWinDone cb, void *user);
/* Tell the host to drop published KVP data if that is pending; false when nothing is. */
bool avma_wg_clear_pending(AvmaWinGuest *g, AvmaWinDone cb, void *user);
/* ipk / upk: message or why (saved state before returning true). */
bool avma_wg_install_key(AvmaWinGuest *g, const char *key, char *msg, size_t msg_len, char *why,
                         size_t why_len);
bool avma_wg_uninstall_key(AvmaWinGuest *g, char *msg, size_t msg_len, char *why, size_t why_len);

/* Load guest.state from dir without a runtime (CLI read verbs). */
bool avma_win_state_load(const char *dir, AvmaGState *st, bool *existed, char *why, size_t why_len);
