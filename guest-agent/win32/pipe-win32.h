/* pipe-win32: the service's control pipe (\\.\pipe\avma-guest, SYSTEM and Administrators only):
 * one client at a time, one JSON line each way, overlapped on the service's single thread; and
 * the CLI's blocking client. The Windows counterpart of control.c's transport. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <windows.h>

#define AVMA_PIPE_MAX_REQUEST 4096
#define AVMA_PIPE_CLIENT_MS 5000 /* a client must send its line (and read the reply) by then */

typedef struct AvmaPipeServer AvmaPipeServer;
/* A request line arrived (without '\n'); answer with avma_pipe_server_reply, now or later. */
typedef void (*AvmaPipeRequestFn)(AvmaPipeServer *s, const char *line, size_t len, void *user);

/* DRAIN: the reply is written; the client's end is read until it closes. */
typedef enum {
  AVMA_PIPE_LISTEN,
  AVMA_PIPE_READ,
  AVMA_PIPE_BUSY,
  AVMA_PIPE_WRITE,
  AVMA_PIPE_DRAIN
} AvmaPipeState;

struct AvmaPipeServer {
  HANDLE h;
  OVERLAPPED ov;
  AvmaPipeState state;
  bool io_pending; /* an overlapped read or write is queued on ov */
  char in[AVMA_PIPE_MAX_REQUEST + 1];
  size_t in_len;
  char *out;
  uint64_t deadline; /* GetTickCount64 ms; 0 none */
  AvmaPipeRequestFn on_request;
  void *user;
};

/* Create the first (and only) instance; false with why when another agent owns the name. */
bool avma_pipe_server_open(AvmaPipeServer *s, const char *name, AvmaPipeRequestFn fn, void *user,
                           char *why, size_t why_len);
void avma_pipe_server_close(AvmaPipeServer *s);
/* The event to wait on, NULL while a request is being answered. */
HANDLE avma_pipe_server_event(AvmaPipeServer *s);
void avma_pipe_server_dispatch(AvmaPipeServer *s);
DWORD avma_pipe_server_timeout(AvmaPipeServer *s);
void avma_pipe_server_tick(AvmaPipeServer *s);
/* Send text and '\n' to the waiting client, then take the next one. */
void avma_pipe_server_reply(AvmaPipeServer *s, const char *text, size_t len);

/* Client: 1 with *reply (malloc'd line without '\n'), 0 when no service listens, -1 on error. */
int avma_pipe_call(const char *name, const char *request, DWORD timeout_ms, char **reply, char *why,
                   size_t why_len);
