/* pipe-win32: the control pipe's server state machine and its client. */
#include "pipe-win32.h"

#include "winutil.h"

#include <sddl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Protected DACL: SYSTEM and BUILTIN\Administrators only, as for the port itself. */
#define PIPE_SDDL L"D:P(A;;GA;;;SY)(A;;GA;;;BA)"
#define REPLY_MAX (64 * 1024)

static void start_listen(AvmaPipeServer *s);

bool avma_pipe_server_open(AvmaPipeServer *s, const char *name, AvmaPipeRequestFn fn, void *user,
                           char *why, size_t why_len) {
  memset(s, 0, sizeof *s);
  s->h = INVALID_HANDLE_VALUE;
  s->on_request = fn;
  s->user = user;
  char msg[160];
  wchar_t *w = avma_wide(name);
  PSECURITY_DESCRIPTOR sd = NULL;
  if (!w || !ConvertStringSecurityDescriptorToSecurityDescriptorW(PIPE_SDDL, SDDL_REVISION_1, &sd,
                                                                  NULL)) {
    snprintf(why, why_len, "cannot prepare the control pipe %s", name);
    free(w);
    return false;
  }
  SECURITY_ATTRIBUTES sa = {.nLength = sizeof sa, .lpSecurityDescriptor = sd};
  /* FIRST_PIPE_INSTANCE: if the name exists, another agent runs; we must not share it. */
  s->h =
      CreateNamedPipeW(w, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
                       PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
                       1, REPLY_MAX, AVMA_PIPE_MAX_REQUEST, 0, &sa);
  DWORD e = GetLastError();
  LocalFree(sd);
  free(w);
  if (s->h == INVALID_HANDLE_VALUE) {
    if (e == ERROR_ACCESS_DENIED || e == ERROR_PIPE_BUSY)
      snprintf(why, why_len,
               "another avma-guestd is already running (its control pipe %s exists); only one "
               "agent may run",
               name);
    else
      snprintf(why, why_len, "cannot create the control pipe %s: %s", name,
               avma_win_error(e, msg, sizeof msg));
    return false;
  }
  s->ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
  start_listen(s);
  return true;
}

void avma_pipe_server_close(AvmaPipeServer *s) {
  if (s->h != INVALID_HANDLE_VALUE) {
    DWORD n;
    if (s->io_pending) {
      (void)CancelIoEx(s->h, &s->ov);
      (void)GetOverlappedResult(s->h, &s->ov, &n, TRUE);
    }
    CloseHandle(s->h);
  }
  if (s->ov.hEvent)
    CloseHandle(s->ov.hEvent);
  free(s->out);
  memset(s, 0, sizeof *s);
  s->h = INVALID_HANDLE_VALUE;
}

static void reset_ov(AvmaPipeServer *s) {
  HANDLE ev = s->ov.hEvent;
  memset(&s->ov, 0, sizeof s->ov);
  s->ov.hEvent = ev;
  ResetEvent(ev);
}

static void start_listen(AvmaPipeServer *s) {
  reset_ov(s);
  s->state = AVMA_PIPE_LISTEN;
  s->in_len = 0;
  s->deadline = 0;
  free(s->out);
  s->out = NULL;
  for (int tries = 0; tries < 2; tries++) {
    if (ConnectNamedPipe(s->h, &s->ov) || GetLastError() == ERROR_PIPE_CONNECTED) {
      SetEvent(s->ov.hEvent); /* a client came between create and connect */
      return;
    }
    if (GetLastError() == ERROR_IO_PENDING) {
      s->io_pending = true;
      return;
    }
    if (GetLastError() != ERROR_NO_DATA)
      break;
    (void)DisconnectNamedPipe(s->h); /* a client came and left already */
  }
  /* Never retried in a loop: the pipe stays silent, the agent keeps activating. */
  avma_log("control pipe: cannot wait for clients (error %lu)", (unsigned long)GetLastError());
}

/* Drop the client, whatever it was doing, and wait for the next. */
static void next_client(AvmaPipeServer *s) {
  DWORD n;
  /* Only an operation that was queued signals the event: waiting for one that failed at once
   * would block the agent's only thread for good. */
  if (s->io_pending) {
    (void)CancelIoEx(s->h, &s->ov);
    (void)GetOverlappedResult(s->h, &s->ov, &n, TRUE);
  }
  s->io_pending = false;
  (void)DisconnectNamedPipe(s->h);
  start_listen(s);
}

static void start_read(AvmaPipeServer *s) {
  reset_ov(s);
  s->state = AVMA_PIPE_READ;
  s->io_pending =
      ReadFile(s->h, s->in + s->in_len, (DWORD)(AVMA_PIPE_MAX_REQUEST - s->in_len), NULL, &s->ov) ||
      GetLastError() == ERROR_IO_PENDING;
  if (!s->io_pending)
    next_client(s);
}

static void start_drain(AvmaPipeServer *s) {
  reset_ov(s);
  s->state = AVMA_PIPE_DRAIN;
  s->io_pending = ReadFile(s->h, s->in, AVMA_PIPE_MAX_REQUEST, NULL, &s->ov) ||
                  GetLastError() == ERROR_IO_PENDING;
  if (!s->io_pending)
    next_client(s);
}

HANDLE avma_pipe_server_event(AvmaPipeServer *s) {
  return s->h == INVALID_HANDLE_VALUE || s->state == AVMA_PIPE_BUSY ? NULL : s->ov.hEvent;
}

void avma_pipe_server_dispatch(AvmaPipeServer *s) {
  DWORD n = 0;
  BOOL ok = GetOverlappedResult(s->h, &s->ov, &n, FALSE);
  if (!ok && GetLastError() == ERROR_IO_INCOMPLETE)
    return;
  s->io_pending = false;
  switch (s->state) {
  case AVMA_PIPE_LISTEN:
    if (!ok && GetLastError() != ERROR_PIPE_CONNECTED) {
      next_client(s);
      return;
    }
    s->in_len = 0;
    s->deadline = GetTickCount64() + AVMA_PIPE_CLIENT_MS;
    start_read(s);
    return;
  case AVMA_PIPE_READ: {
    if (!ok || n == 0) {
      next_client(s); /* the client left */
      return;
    }
    s->in_len += n;
    char *nl = memchr(s->in, '\n', s->in_len);
    if (!nl) {
      if (s->in_len >= AVMA_PIPE_MAX_REQUEST) {
        static const char too_long[] = "{\"ok\":false,\"error\":\"request too long\"}";
        s->state = AVMA_PIPE_BUSY;
        avma_pipe_server_reply(s, too_long, sizeof too_long - 1);
        return;
      }
      start_read(s);
      return;
    }
    size_t len = (size_t)(nl - s->in);
    s->in[len] = '\0';
    s->state = AVMA_PIPE_BUSY;
    s->deadline = 0; /* an ato may take the request timeout */
    s->on_request(s, s->in, len, s->user);
    return;
  }
  case AVMA_PIPE_WRITE:
    /* A finished write only means the reply is in the pipe's buffer: disconnecting now would
     * discard what the client has not read yet. Wait for the client to close its end. */
    start_drain(s);
    return;
  case AVMA_PIPE_DRAIN:
    if (ok && n > 0)
      start_drain(s); /* a client that keeps talking is cut off by the deadline */
    else
      next_client(s);
    return;
  case AVMA_PIPE_BUSY:
    return;
  }
}

void avma_pipe_server_reply(AvmaPipeServer *s, const char *text, size_t len) {
  if (s->state != AVMA_PIPE_BUSY)
    return;
  free(s->out);
  s->out = malloc(len + 1);
  if (!s->out) {
    next_client(s);
    return;
  }
  memcpy(s->out, text, len);
  s->out[len] = '\n';
  reset_ov(s);
  s->state = AVMA_PIPE_WRITE;
  s->deadline = GetTickCount64() + AVMA_PIPE_CLIENT_MS;
  s->io_pending =
      WriteFile(s->h, s->out, (DWORD)len + 1, NULL, &s->ov) || GetLastError() == ERROR_IO_PENDING;
  if (!s->io_pending)
    next_client(s);
}

DWORD avma_pipe_server_timeout(AvmaPipeServer *s) {
  if (!s->deadline)
    return INFINITE;
  uint64_t now = GetTickCount64();
  return s->deadline <= now ? 0 : (DWORD)(s->deadline - now);
}

void avma_pipe_server_tick(AvmaPipeServer *s) {
  /* A client that connects and says nothing (or never reads) must not hold the only pipe. */
  if (s->deadline && GetTickCount64() >= s->deadline)
    next_client(s);
}

/* ---- client -----------------------------------------------------------------------------------
 */

static bool wait_io(HANDLE h, OVERLAPPED *ov, uint64_t deadline, DWORD *n) {
  uint64_t now = GetTickCount64();
  DWORD left = deadline > now ? (DWORD)(deadline - now) : 0;
  if (WaitForSingleObject(ov->hEvent, left) != WAIT_OBJECT_0) {
    (void)CancelIoEx(h, ov);
    (void)GetOverlappedResult(h, ov, n, TRUE);
    SetLastError(WAIT_TIMEOUT);
    return false;
  }
  return GetOverlappedResult(h, ov, n, FALSE);
}

int avma_pipe_call(const char *name, const char *request, DWORD timeout_ms, char **reply, char *why,
                   size_t why_len) {
  *reply = NULL;
  char msg[160];
  wchar_t *w = avma_wide(name);
  if (!w) {
    snprintf(why, why_len, "bad pipe name %s", name);
    return -1;
  }
  uint64_t deadline = GetTickCount64() + timeout_ms;
  HANDLE h = INVALID_HANDLE_VALUE;
  for (;;) {
    h = CreateFileW(w, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED,
                    NULL);
    if (h != INVALID_HANDLE_VALUE)
      break;
    DWORD e = GetLastError();
    if (e == ERROR_FILE_NOT_FOUND) {
      free(w);
      return 0;
    }
    uint64_t now = GetTickCount64();
    /* One client at a time: wait for the one before us. */
    if (e == ERROR_PIPE_BUSY && now < deadline) {
      (void)WaitNamedPipeW(w, (DWORD)(deadline - now) > 1000 ? 1000 : (DWORD)(deadline - now));
      continue;
    }
    free(w);
    if (e == ERROR_ACCESS_DENIED)
      snprintf(why, why_len, "access to avma-guestd (%s) denied: run as an Administrator", name);
    else
      snprintf(why, why_len, "cannot reach avma-guestd at %s: %s", name,
               avma_win_error(e, msg, sizeof msg));
    return -1;
  }
  free(w);
  OVERLAPPED ov = {.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL)};
  size_t rlen = strlen(request);
  char *line = malloc(rlen + 1);
  char *buf = malloc(REPLY_MAX + 1);
  int rc = -1;
  DWORD n = 0;
  if (!line || !buf || !ov.hEvent) {
    snprintf(why, why_len, "out of memory");
    goto out;
  }
  memcpy(line, request, rlen);
  line[rlen] = '\n';
  if ((!WriteFile(h, line, (DWORD)rlen + 1, NULL, &ov) && GetLastError() != ERROR_IO_PENDING) ||
      !wait_io(h, &ov, deadline, &n)) {
    snprintf(why, why_len, "avma-guestd did not take the request: %s",
             avma_win_error(GetLastError(), msg, sizeof msg));
    goto out;
  }
  size_t have = 0;
  for (;;) {
    ResetEvent(ov.hEvent);
    if ((!ReadFile(h, buf + have, (DWORD)(REPLY_MAX - have), NULL, &ov) &&
         GetLastError() != ERROR_IO_PENDING) ||
        !wait_io(h, &ov, deadline, &n) || n == 0) {
      snprintf(why, why_len, "avma-guestd did not answer: %s",
               avma_win_error(GetLastError(), msg, sizeof msg));
      goto out;
    }
    have += n;
    char *nl = memchr(buf, '\n', have);
    if (nl) {
      *nl = '\0';
      *reply = buf;
      buf = NULL;
      rc = 1;
      goto out;
    }
    if (have >= REPLY_MAX) {
      snprintf(why, why_len, "avma-guestd's reply is too long");
      goto out;
    }
  }
out:
  free(line);
  free(buf);
  if (ov.hEvent)
    CloseHandle(ov.hEvent);
  CloseHandle(h);
  return rc;
}
