/* control-win32: the control pipe's requests, answered from the runtime. */
#include "control-win32.h"

#include "evline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The client waiting for an ato; the pipe serves one at a time. */
static AvmaPipeServer *ato_client;

static void reply_obj(AvmaPipeServer *s, bool ok, const char *k1, const char *v1, const char *k2,
                      const char *v2) {
  AvmaBuf b;
  avma_buf_init(&b);
  AvmaJsonObj o;
  avma_json_begin(&o, &b);
  avma_json_bool(&o, "ok", ok);
  if (k1)
    avma_json_str(&o, k1, v1 ? v1 : "");
  if (k2)
    avma_json_str(&o, k2, v2 ? v2 : "");
  avma_json_end(&o);
  if (b.failed)
    avma_pipe_server_reply(s, "{\"ok\":false,\"error\":\"out of memory\"}", 36);
  else
    avma_pipe_server_reply(s, b.data, b.len);
  avma_buf_free(&b);
}

static void on_attempt(AvmaWinGuest *g, AvmaNotification n, const char *reason, void *user) {
  (void)g;
  (void)user;
  if (!ato_client)
    return;
  AvmaPipeServer *s = ato_client;
  ato_client = NULL;
  reply_obj(s, true, "notification", avma_notification_name(n), "reason", reason);
}

void avma_control_request(AvmaPipeServer *s, const char *line, size_t len, void *user) {
  AvmaWinGuest *g = user;
  AvmaJsonFlat req;
  char why[512] = "", msg[512] = "";
  if (!avma_json_flat_parse(&req, line, len, why, sizeof why)) {
    reply_obj(s, false, "error", "bad request", NULL, NULL);
    return;
  }
  const char *verb = avma_json_flat_str(&req, "verb", "");
  if (!strcmp(verb, "ato")) {
    const char *cannot = avma_agent_cannot_activate(&g->st);
    if (cannot) {
      reply_obj(s, false, "error", cannot, NULL, NULL);
    } else {
      ato_client = s;
      avma_wg_activate_now(g, on_attempt, NULL);
    }
  } else if (!strcmp(verb, "ipk")) {
    bool ok = avma_wg_install_key(g, avma_json_flat_str(&req, "key", ""), msg, sizeof msg, why,
                                  sizeof why);
    reply_obj(s, ok, ok ? "message" : "error", ok ? msg : why, NULL, NULL);
  } else if (!strcmp(verb, "upk")) {
    bool ok = avma_wg_uninstall_key(g, msg, sizeof msg, why, sizeof why);
    reply_obj(s, ok, ok ? "message" : "error", ok ? msg : why, NULL, NULL);
  } else if (!strcmp(verb, "port")) {
    /* For doctor. The host side is known only through the port's reads and writes: it counts as
     * connected while the port is open and no presence retry is pending. */
    bool open = avma_wport_is_open(&g->port);
    AvmaBuf b;
    avma_buf_init(&b);
    AvmaJsonObj o;
    avma_json_begin(&o, &b);
    avma_json_bool(&o, "ok", true);
    avma_json_bool(&o, "port_open", open);
    avma_json_bool(&o, "host_connected", open && !g->presence_at);
    avma_json_str(&o, "port", g->cfg->port);
    avma_json_end(&o);
    if (b.failed)
      reply_obj(s, false, "error", "out of memory", NULL, NULL);
    else
      avma_pipe_server_reply(s, b.data, b.len);
    avma_buf_free(&b);
  } else if (!strcmp(verb, "state")) {
    char *text = malloc(AVMA_GSTATE_TEXT_MAX);
    if (text && avma_gstate_format(&g->st, text, AVMA_GSTATE_TEXT_MAX))
      reply_obj(s, true, "state", text, NULL, NULL);
    else
      reply_obj(s, false, "error", "cannot format the state", NULL, NULL);
    free(text);
  } else {
    char e[96];
    snprintf(e, sizeof e, "unknown verb '%.40s'", verb);
    reply_obj(s, false, "error", e, NULL, NULL);
  }
  avma_json_flat_free(&req);
}
