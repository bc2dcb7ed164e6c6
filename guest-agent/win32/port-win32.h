/* port-win32: the guest end of the virtio-serial port on Windows (vioserial's \\.\Global\NAME,
 * or a COM port in tests): exclusive open, overlapped reads and queued overlapped writes whose
 * events the caller waits on, and the classification of the driver's "host side gone" errors.
 * The Windows counterpart of port.c + channel.c, as qga's channel-win32.c is of channel-posix.c. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <windows.h>

typedef enum {
  AVMA_WPORT_OK,
  AVMA_WPORT_ABSENT, /* no port or no host behind it: close and look again on a timer */
  AVMA_WPORT_BUSY,   /* another process holds the port (open is exclusive) */
  AVMA_WPORT_FAILED, /* anything else; why says what */
} AvmaWPortStatus;

#define AVMA_WPORT_READ_SIZE 4096
#define AVMA_WPORT_OUT_MAX (2 * 16412) /* two maximum frames queued */

typedef struct {
  HANDLE h;    /* INVALID_HANDLE_VALUE while closed */
  HANDLE lock; /* named mutex held while open: exclusive even where the device is not */
  OVERLAPPED rov, wov;
  bool reading, writing;
  uint8_t rbuf[AVMA_WPORT_READ_SIZE];
  uint8_t out[AVMA_WPORT_OUT_MAX];
  size_t out_len; /* queued bytes; the first in_flight of them are being written */
  size_t in_flight;
  DWORD last_error; /* of the last failure, for logs */
} AvmaWPort;

/* Events are created once and live until avma_wport_free. */
bool avma_wport_init(AvmaWPort *p);
void avma_wport_free(AvmaWPort *p);
bool avma_wport_is_open(const AvmaWPort *p);

/* Open path exclusively for overlapped I/O and set up a COM stand-in (raw, interval timeouts). */
AvmaWPortStatus avma_wport_open(AvmaWPort *p, const char *path, char *why, size_t why_len);
/* Cancel pending I/O, drop queued output, close. */
void avma_wport_close(AvmaWPort *p);

/* Issue an overlapped read unless one is pending; its completion signals p->rov.hEvent. */
AvmaWPortStatus avma_wport_start_read(AvmaWPort *p);
/* After p->rov.hEvent: the bytes read (valid until the next start_read). A zero-byte read is
 * ABSENT (the driver's way of saying the host closed), so the caller never re-reads in a loop. */
AvmaWPortStatus avma_wport_finish_read(AvmaWPort *p, const uint8_t **data, size_t *len);

/* Queue bytes and start writing; FAILED when the queue is full. */
AvmaWPortStatus avma_wport_write(AvmaWPort *p, const uint8_t *data, size_t len);
/* After p->wov.hEvent: drop what was written and write the rest. */
AvmaWPortStatus avma_wport_finish_write(AvmaWPort *p);
/* Forget queued bytes not yet in flight (an exchange ended: its frames are stale). */
void avma_wport_discard_output(AvmaWPort *p);

/* The error classes of brief section 11 (qga's channel-win32.c and the vioserial driver). */
AvmaWPortStatus avma_wport_classify(DWORD err);
