/* checkpoint: the daemon's signed checkpoints of the record log. */
#include "checkpoint.h"

#include "fsutil.h"
#include "jsonline.h"
#include "timeutil.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <string.h>

struct AvmaCheckpointer {
  AvmaHost *host; /* a reference */
  AvmaHostKey *key;
  char *path;
  guint observer;
  guint64 signed_seq; /* head of the last checkpoint written by this daemon */
  guint timer;        /* armed while records wait for a checkpoint */
  guint idle;         /* a checkpoint due by count */
};

gboolean avma_checkpointer_write(AvmaCheckpointer *c, GError **error) {
  AvmaChainLog *log = avma_host_chain_log(c->host);
  /* Only durable records are vouched for. */
  if (!avma_host_flush_log(c->host, error))
    return FALSE;
  guint64 seq = avma_chain_log_head_seq(log);
  if (seq == 0 || seq == c->signed_seq)
    return TRUE;
  const AvmaKeyPair *kp = avma_hostkey_get(c->key, NULL);
  AvmaCheckpoint cp = {
      .seq = seq, .host_id = (char *)avma_host_identity(c->host), .signed_at = avma_now()};
  g_strlcpy(cp.head, avma_chain_log_head_hash(log), sizeof cp.head);
  g_autofree char *text = avma_checkpoint_text(&cp);
  g_autofree char *name = avma_keycert_note_name(AVMA_KEYCERT_HOST, &kp->pub);
  g_autofree char *note = avma_note_sign(text, name, kp, error);
  if (!note)
    return FALSE;
  g_autoptr(JsonObject) o = json_object_new();
  json_object_set_int_member(o, "seq", (gint64)seq);
  json_object_set_string_member(o, "head", cp.head);
  json_object_set_string_member(o, "note", note);
  g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
  json_node_set_object(node, o);
  g_autofree char *line = json_to_string(node, FALSE);
  if (!avma_append_line(c->path, line, 0640, error))
    return FALSE;
  c->signed_seq = seq;
  return TRUE;
}

static void checkpoint_now(AvmaCheckpointer *c) {
  g_autoptr(GError) err = NULL;
  if (!avma_checkpointer_write(c, &err))
    g_warning("checkpoint: %s", err->message);
}

static gboolean on_timer(gpointer data) {
  AvmaCheckpointer *c = data;
  c->timer = 0;
  checkpoint_now(c);
  return G_SOURCE_REMOVE;
}

static gboolean on_idle(gpointer data) {
  AvmaCheckpointer *c = data;
  c->idle = 0;
  checkpoint_now(c);
  return G_SOURCE_REMOVE;
}

/* Every record written goes through the host's observers: count them there. A timer runs only
 * while records wait, so an idle daemon wakes for nothing. */
static void on_event(AvmaHost *h, AvmaVm *vm, const AvmaHostEvent *ev, gpointer user) {
  (void)vm;
  (void)ev;
  AvmaCheckpointer *c = user;
  const AvmaHostConfig *cfg = avma_host_config(h);
  guint64 head = avma_chain_log_head_seq(avma_host_chain_log(h));
  if (head - c->signed_seq >= cfg->checkpoint_records) {
    if (!c->idle)
      c->idle = g_idle_add_full(G_PRIORITY_LOW, on_idle, c, NULL);
  } else if (!c->timer) {
    c->timer = g_timeout_add_seconds(cfg->checkpoint_interval_s, on_timer, c);
  }
}

/* The head the last checkpoint signed, so a restart does not sign the same head again. Only a
 * hint: a wrong value costs one checkpoint more or less, never a record. */
static guint64 last_signed_seq(const char *path) {
  g_autofree char *data = NULL;
  if (!g_file_get_contents(path, &data, NULL, NULL))
    return 0;
  g_strchomp(data);
  const char *last = strrchr(data, '\n');
  last = last ? last + 1 : data;
  g_autoptr(JsonParser) p = json_parser_new();
  JsonObject *o = avma_json_object_parse(p, last, -1);
  gint64 s = o ? json_object_get_int_member_with_default(o, "seq", 0) : 0;
  return s > 0 ? (guint64)s : 0;
}

AvmaCheckpointer *avma_checkpointer_new(AvmaHost *host, AvmaHostKey *key) {
  AvmaCheckpointer *c = g_new0(AvmaCheckpointer, 1);
  c->host = avma_host_ref(host);
  c->key = key;
  c->path = avma_host_state_path(avma_host_config(host), AVMA_CHECKPOINT_FILE);
  c->signed_seq = last_signed_seq(c->path);
  c->observer = avma_host_add_observer(host, on_event, c);
  /* Records a previous run left unsigned (it crashed) are signed at once. */
  checkpoint_now(c);
  return c;
}

void avma_checkpointer_free(AvmaCheckpointer *c) {
  if (!c)
    return;
  avma_host_remove_observer(c->host, c->observer);
  if (c->timer)
    g_source_remove(c->timer);
  if (c->idle)
    g_source_remove(c->idle);
  checkpoint_now(c);
  g_free(c->path);
  avma_host_free(c->host);
  g_free(c);
}

gboolean avma_checkpoint_file_read(const char *state_dir, char ***lines, GArray **keys,
                                   GError **error) {
  *lines = NULL;
  *keys = NULL;
  g_autofree char *path = g_build_filename(state_dir, AVMA_CHECKPOINT_FILE, NULL);
  g_autofree char *data = NULL;
  g_autoptr(GError) local = NULL;
  if (!g_file_get_contents(path, &data, NULL, &local)) {
    if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      return TRUE;
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  if (!(*keys = avma_hostkey_known_keys(state_dir, error)))
    return FALSE;
  *lines = g_strsplit(data, "\n", -1);
  return TRUE;
}

char *avma_checkpoint_last_signer(const char *state_dir) {
  g_autofree char *path = g_build_filename(state_dir, AVMA_CHECKPOINT_FILE, NULL);
  g_autofree char *data = NULL;
  if (!g_file_get_contents(path, &data, NULL, NULL))
    return NULL;
  g_strchomp(data);
  const char *last = strrchr(data, '\n');
  last = last ? last + 1 : data;
  g_autoptr(JsonParser) p = json_parser_new();
  g_autoptr(GArray) keys = avma_hostkey_known_keys(state_dir, NULL);
  JsonObject *o = keys ? avma_json_object_parse(p, last, -1) : NULL;
  if (!o)
    return NULL;
  const char *note = json_object_get_string_member_with_default(o, "note", NULL);
  g_autofree char *text = NULL, *signer = NULL;
  if (!note ||
      !avma_note_open(note, (const AvmaNoteKey *)keys->data, keys->len, &text, &signer, NULL) ||
      !g_str_has_prefix(signer, AVMA_KEYCERT_HOST))
    return NULL;
  return g_strdup(signer + strlen(AVMA_KEYCERT_HOST));
}
