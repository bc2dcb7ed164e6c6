/* control-request: one request line of the guest's control socket, parsed and typed. Only root
 * can connect, but the daemon still treats a line as untrusted: a malformed one is answered with
 * an error, never a crash. */
#pragma once
#include <glib.h>

#define AVMA_CONTROL_MAX_REQUEST 4096

typedef enum {
  AVMA_CONTROL_ATO,  /* activate now */
  AVMA_CONTROL_IPK,  /* install key (key set) */
  AVMA_CONTROL_UPK,  /* uninstall key */
  AVMA_CONTROL_PORT, /* the port open, its host side there: for doctor (reads only; the Windows
                        service's "state" is another verb) */
} AvmaControlVerb;

typedef struct {
  AvmaControlVerb verb;
  char *key; /* IPK only, else NULL */
} AvmaControlRequest;

/* Parse one line (without its newline). FALSE with G_IO_ERROR_INVALID_DATA (and *out cleared)
 * when it is too long, not one JSON object, or lacks a string "verb" (and, for ipk, "key"), and
 * G_IO_ERROR_NOT_SUPPORTED for an unknown verb. */
gboolean avma_control_request_parse(const char *line, gsize len, AvmaControlRequest *out,
                                    GError **error);
void avma_control_request_clear(AvmaControlRequest *r);
