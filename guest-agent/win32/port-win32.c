/* port-win32: exclusive overlapped access to the virtio-serial port (or a COM stand-in). */
#include "port-win32.h"

#include "winutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef ERROR_NO_SUCH_DEVICE
#define ERROR_NO_SUCH_DEVICE 433L /* not in every mingw-w64 winerror.h */
#endif

bool avma_wport_init(AvmaWPort *p) {
  memset(p, 0, sizeof *p);
  p->h = INVALID_HANDLE_VALUE;
  p->rov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
  p->wov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
  return p->rov.hEvent && p->wov.hEvent;
}

void avma_wport_free(AvmaWPort *p) {
  avma_wport_close(p);
  if (p->rov.hEvent)
    CloseHandle(p->rov.hEvent);
  if (p->wov.hEvent)
    CloseHandle(p->wov.hEvent);
  p->rov.hEvent = p->wov.hEvent = NULL;
}

bool avma_wport_is_open(const AvmaWPort *p) {
  return p->h != INVALID_HANDLE_VALUE;
}

AvmaWPortStatus avma_wport_classify(DWORD err) {
  switch (err) {
  case ERROR_FILE_NOT_FOUND: /* no such port (channel not configured, driver not loaded) */
  case ERROR_PATH_NOT_FOUND:
  case ERROR_NO_SUCH_DEVICE:       /* 433: a device node with nothing behind it */
  case ERROR_BROKEN_PIPE:          /* the stand-in's peer hung up */
  case ERROR_HANDLE_EOF:           /* vioserial: host side closed (some driver versions) */
  case ERROR_NO_SYSTEM_RESOURCES:  /* vioserial: host side not connected (others) */
  case ERROR_OPERATION_ABORTED:    /* vioserial: I/O cancelled when the host went away */
  case ERROR_DEVICE_NOT_CONNECTED: /* the device vanished (driver reinstall, hot unplug) */
  case ERROR_NOT_READY:
  case ERROR_DEV_NOT_EXIST:
  case ERROR_INVALID_HANDLE: /* the handle died with its device */
    return AVMA_WPORT_ABSENT;
  case ERROR_ACCESS_DENIED: /* exclusive open: someone else has it (or we are no admin) */
  case ERROR_SHARING_VIOLATION:
    return AVMA_WPORT_BUSY;
  default:
    return AVMA_WPORT_FAILED;
  }
}

/* A COM stand-in must be raw and must complete reads shortly after data arrives: an interval
 * timeout does that on Windows and Wine alike (MAXDWORD/MAXDWORD/C hangs in Wine 8). A real
 * vioserial port is no COM port: these calls fail there and are not needed. */
static void setup_serial(HANDLE h) {
  DCB dcb = {.DCBlength = sizeof dcb};
  if (GetCommState(h, &dcb)) {
    dcb.BaudRate = CBR_115200;
    dcb.ByteSize = 8;
    dcb.Parity = NOPARITY;
    dcb.StopBits = ONESTOPBIT;
    dcb.fBinary = TRUE;
    dcb.fOutX = dcb.fInX = FALSE;
    dcb.fOutxCtsFlow = dcb.fOutxDsrFlow = FALSE;
    dcb.fDtrControl = DTR_CONTROL_ENABLE;
    dcb.fRtsControl = RTS_CONTROL_ENABLE;
    (void)SetCommState(h, &dcb);
  }
  COMMTIMEOUTS t = {.ReadIntervalTimeout = 20};
  (void)SetCommTimeouts(h, &t);
}

/* vioserial opens a port exclusively, a COM stand-in may not (Wine does not refuse a second
 * opener of a serial device): a machine-wide mutex named after the port makes one holder per
 * port everywhere. Its existence is the lock; the object goes with the last handle. */
static AvmaWPortStatus take_lock(AvmaWPort *p, const char *path) {
  wchar_t name[300] = L"Global\\AVMA-port-";
  size_t n = wcslen(name);
  for (const char *c = path; *c && n + 1 < sizeof name / sizeof name[0]; c++)
    name[n++] = (*c == '\\' || *c == '/') ? L'_' : (wchar_t)(unsigned char)*c;
  name[n] = 0;
  HANDLE m = CreateMutexW(NULL, FALSE, name);
  if (!m)
    return AVMA_WPORT_OK; /* no right to create global objects: the device's own check stays */
  if (GetLastError() == ERROR_ALREADY_EXISTS) {
    CloseHandle(m);
    return AVMA_WPORT_BUSY;
  }
  p->lock = m;
  return AVMA_WPORT_OK;
}

static void drop_lock(AvmaWPort *p) {
  if (p->lock)
    CloseHandle(p->lock);
  p->lock = NULL;
}

AvmaWPortStatus avma_wport_open(AvmaWPort *p, const char *path, char *why, size_t why_len) {
  if (avma_wport_is_open(p))
    return AVMA_WPORT_OK;
  if (take_lock(p, path) == AVMA_WPORT_BUSY) {
    p->last_error = ERROR_SHARING_VIOLATION;
    snprintf(why, why_len,
             "port %s is busy: another avma-guestd (or avma-guest ato) has it open; only one "
             "process may use a virtio port",
             path);
    return AVMA_WPORT_BUSY;
  }
  wchar_t *w = avma_wide(path);
  if (!w) {
    drop_lock(p);
    snprintf(why, why_len, "port name '%s' is not valid UTF-8", path);
    return AVMA_WPORT_FAILED;
  }
  /* Share mode 0: only one process may hold a virtio port, as on Linux (EBUSY). */
  HANDLE h = CreateFileW(w, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                         FILE_FLAG_OVERLAPPED, NULL);
  free(w);
  if (h == INVALID_HANDLE_VALUE) {
    DWORD e = GetLastError();
    drop_lock(p);
    p->last_error = e;
    char msg[160];
    AvmaWPortStatus st = avma_wport_classify(e);
    if (st == AVMA_WPORT_BUSY)
      snprintf(why, why_len,
               "port %s is busy: another avma-guestd (or avma-guest ato, or another program) has "
               "it open; only one process may use a virtio port (%s)",
               path, avma_win_error(e, msg, sizeof msg));
    else if (st == AVMA_WPORT_ABSENT)
      snprintf(why, why_len,
               "port %s is not there: is the VM's AVMA channel configured on the host "
               "(avma-host channel add) and the virtio-serial driver installed? (%s)",
               path, avma_win_error(e, msg, sizeof msg));
    else
      snprintf(why, why_len, "cannot open port %s: %s", path, avma_win_error(e, msg, sizeof msg));
    return st == AVMA_WPORT_FAILED ? AVMA_WPORT_ABSENT : st;
  }
  setup_serial(h);
  p->h = h;
  p->reading = p->writing = false;
  p->out_len = p->in_flight = 0;
  ResetEvent(p->rov.hEvent);
  ResetEvent(p->wov.hEvent);
  return AVMA_WPORT_OK;
}

static void drain(HANDLE h, OVERLAPPED *ov, bool *pending) {
  if (!*pending)
    return;
  DWORD n;
  (void)CancelIoEx(h, ov);
  (void)GetOverlappedResult(h, ov, &n, TRUE); /* cancelled I/O completes promptly */
  *pending = false;
}

void avma_wport_close(AvmaWPort *p) {
  if (!avma_wport_is_open(p))
    return;
  drain(p->h, &p->rov, &p->reading);
  drain(p->h, &p->wov, &p->writing);
  CloseHandle(p->h);
  drop_lock(p);
  p->h = INVALID_HANDLE_VALUE;
  p->out_len = p->in_flight = 0;
  ResetEvent(p->rov.hEvent);
  ResetEvent(p->wov.hEvent);
}

/* Mid-session every failure means the same as a vanished host: close, look again on a timer
 * (last_error keeps the code for the log). */
static AvmaWPortStatus failed(AvmaWPort *p, DWORD e) {
  p->last_error = e;
  return AVMA_WPORT_ABSENT;
}

AvmaWPortStatus avma_wport_start_read(AvmaWPort *p) {
  if (!avma_wport_is_open(p))
    return AVMA_WPORT_ABSENT;
  if (p->reading)
    return AVMA_WPORT_OK;
  HANDLE ev = p->rov.hEvent;
  memset(&p->rov, 0, sizeof p->rov);
  p->rov.hEvent = ev;
  ResetEvent(ev);
  /* Completed or pending, the result comes through the event: one path for both. */
  if (!ReadFile(p->h, p->rbuf, sizeof p->rbuf, NULL, &p->rov) && GetLastError() != ERROR_IO_PENDING)
    return failed(p, GetLastError());
  p->reading = true;
  return AVMA_WPORT_OK;
}

AvmaWPortStatus avma_wport_finish_read(AvmaWPort *p, const uint8_t **data, size_t *len) {
  *data = p->rbuf;
  *len = 0;
  if (!p->reading)
    return AVMA_WPORT_OK;
  DWORD n = 0;
  p->reading = false;
  BOOL ok = GetOverlappedResult(p->h, &p->rov, &n, FALSE);
  ResetEvent(p->rov.hEvent);
  if (!ok) {
    DWORD e = GetLastError();
    if (e == ERROR_IO_INCOMPLETE) { /* spurious wake-up: still pending */
      p->reading = true;
      return AVMA_WPORT_OK;
    }
    return failed(p, e);
  }
  if (n == 0) {
    p->last_error = ERROR_HANDLE_EOF;
    return AVMA_WPORT_ABSENT;
  }
  *len = n;
  return AVMA_WPORT_OK;
}

static AvmaWPortStatus start_write(AvmaWPort *p) {
  if (p->writing || p->out_len == 0)
    return AVMA_WPORT_OK;
  HANDLE ev = p->wov.hEvent;
  memset(&p->wov, 0, sizeof p->wov);
  p->wov.hEvent = ev;
  ResetEvent(ev);
  p->in_flight = p->out_len;
  if (!WriteFile(p->h, p->out, (DWORD)p->in_flight, NULL, &p->wov) &&
      GetLastError() != ERROR_IO_PENDING) {
    p->in_flight = 0;
    return failed(p, GetLastError());
  }
  p->writing = true;
  return AVMA_WPORT_OK;
}

AvmaWPortStatus avma_wport_write(AvmaWPort *p, const uint8_t *data, size_t len) {
  if (!avma_wport_is_open(p))
    return AVMA_WPORT_ABSENT;
  if (len > sizeof p->out - p->out_len) {
    p->last_error = ERROR_BUFFER_OVERFLOW;
    return AVMA_WPORT_FAILED;
  }
  memcpy(p->out + p->out_len, data, len);
  p->out_len += len;
  return start_write(p);
}

AvmaWPortStatus avma_wport_finish_write(AvmaWPort *p) {
  if (!p->writing)
    return AVMA_WPORT_OK;
  DWORD n = 0;
  p->writing = false;
  BOOL ok = GetOverlappedResult(p->h, &p->wov, &n, FALSE);
  ResetEvent(p->wov.hEvent);
  if (!ok) {
    DWORD e = GetLastError();
    if (e == ERROR_IO_INCOMPLETE) {
      p->writing = true;
      return AVMA_WPORT_OK;
    }
    p->out_len = p->in_flight = 0;
    return failed(p, e);
  }
  if (n > p->in_flight)
    n = (DWORD)p->in_flight;
  memmove(p->out, p->out + n, p->out_len - n);
  p->out_len -= n;
  p->in_flight = 0;
  return start_write(p);
}

void avma_wport_discard_output(AvmaWPort *p) {
  p->out_len = p->writing ? p->in_flight : 0;
}
