/* fleet-bundle: parse and check an export bundle on its own. */
#include "fleet-bundle.h"

#include "keycert.h"
#include "timeutil.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define FORMAT "avma-export v1"
#define CHECKPOINT_MAGIC "avma-checkpoint v1"
#define HASH_HEX_LEN 64

G_DEFINE_QUARK(avma - fleet - error - quark, avma_fleet_error)

const char *avma_fleet_error_kind(int code) {
  static const char *const kinds[] = {
      [AVMA_FLEET_ERROR_MALFORMED] = "malformed",
      [AVMA_FLEET_ERROR_TRUNCATED] = "truncated",
      [AVMA_FLEET_ERROR_CHAIN] = "chain",
      [AVMA_FLEET_ERROR_SIGNATURE] = "signature",
      [AVMA_FLEET_ERROR_KEY] = "key",
      [AVMA_FLEET_ERROR_GAP] = "gap",
      [AVMA_FLEET_ERROR_FORK] = "fork",
      [AVMA_FLEET_ERROR_FUTURE] = "future",
      [AVMA_FLEET_ERROR_DATABASE] = "database",
  };
  return code >= 0 && code < (int)G_N_ELEMENTS(kinds) && kinds[code] ? kinds[code] : "error";
}

static void record_clear(gpointer p) {
  AvmaFleetRecord *r = p;
  char **strs[] = {&r->line,
                   &r->prev,
                   &r->notification,
                   &r->vm,
                   &r->vm_uuid,
                   &r->guest_version,
                   &r->guest_edition,
                   &r->declared_version,
                   &r->declared_edition,
                   &r->reason_code,
                   &r->version,
                   &r->edition,
                   &r->reason,
                   &r->hostname,
                   &r->source};
  for (gsize i = 0; i < G_N_ELEMENTS(strs); i++)
    g_free(*strs[i]);
}

void avma_fleet_bundle_free(AvmaFleetBundle *b) {
  if (!b)
    return;
  g_free(b->host_id);
  g_free(b->hostname);
  g_free(b->key_id);
  if (b->records)
    g_array_unref(b->records);
  if (b->rotations)
    g_ptr_array_unref(b->rotations);
  g_free(b->cert);
  g_free(b->checkpoint);
  g_free(b);
}

static gboolean fail(GError **error, int code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static gboolean fail(GError **error, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error_literal(error, AVMA_FLEET_ERROR, code, msg);
  return FALSE;
}

/* ---- members ---- */
static char *str(JsonObject *o, const char *m) {
  JsonNode *n = json_object_get_member(o, m);
  return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING
             ? g_strdup(json_node_get_string(n))
             : NULL;
}
static gint64 num(JsonObject *o, const char *m, gint64 def) {
  JsonNode *n = json_object_get_member(o, m);
  return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_INT64
             ? json_node_get_int(n)
             : def;
}
static gboolean boolean(JsonObject *o, const char *m) {
  JsonNode *n = json_object_get_member(o, m);
  return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_BOOLEAN &&
         json_node_get_boolean(n);
}
static gint64 time_of(JsonObject *o, const char *m) {
  g_autofree char *s = str(o, m);
  gint64 t = 0;
  return s && avma_time_parse(s, &t) ? t : 0;
}

/* The record kinds' members (export-bundle.md's table); kinds this build does not know keep only
 * their chain members and time, as every reader of the log ignores them. */
static void typed(AvmaFleetRecord *r, JsonObject *o) {
  switch (r->event_id) {
  case AVMA_FLEET_EVENT_DECISION:
    r->notification = str(o, "notification");
    r->reason_code = str(o, "reason_code");
    r->vm = str(o, "vm");
    r->vm_uuid = str(o, "vm_uuid");
    r->guest_version = str(o, "guest_version");
    r->guest_edition = str(o, "guest_edition");
    r->declared_version = str(o, "declared_version");
    r->declared_edition = str(o, "declared_edition");
    r->granted_until = time_of(o, "granted_until");
    break;
  case AVMA_FLEET_EVENT_LICENCE:
    r->licence_set = boolean(o, "set");
    r->activated = boolean(o, "activated");
    r->version = str(o, "version");
    r->edition = str(o, "edition");
    break;
  case AVMA_FLEET_EVENT_RUN:
    r->vm = str(o, "vm");
    r->vm_uuid = str(o, "vm_uuid");
    r->running = boolean(o, "running");
    r->repaired = boolean(o, "repaired");
    r->reason = str(o, "reason");
    break;
  case AVMA_FLEET_EVENT_FACTS:
    r->hostname = str(o, "hostname");
    r->source = str(o, "source");
    r->sockets = (int)CLAMP(num(o, "sockets", 0), 0, 65536);
    r->cores_per_socket = (int)CLAMP(num(o, "cores_per_socket", 0), 0, 65536);
    r->threads_per_core = (int)CLAMP(num(o, "threads_per_core", 0), 0, 65536);
    r->cpus = (int)CLAMP(num(o, "cpus", 0), 0, 1 << 24);
    break;
  default:
    break;
  }
}

static JsonObject *parse_object(JsonParser *p, const char *line, gsize len) {
  if (!json_parser_load_from_data(p, line, (gssize)len, NULL))
    return NULL;
  JsonNode *root = json_parser_get_root(p);
  return root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
}

static gboolean parse_header(AvmaFleetBundle *b, JsonObject *o, GError **error) {
  g_autofree char *format = str(o, "format"), *pk = str(o, "public_key");
  g_autofree char *at = str(o, "exported_at");
  if (!format || strcmp(format, FORMAT))
    return fail(error, AVMA_FLEET_ERROR_MALFORMED,
                "not an export bundle: the first line's format is not \"" FORMAT "\"");
  b->host_id = str(o, "host_id");
  b->hostname = str(o, "hostname");
  b->key_id = str(o, "key_id");
  gint64 since = num(o, "since", -1), last = num(o, "last", -1);
  if (!b->host_id || !*b->host_id || !b->hostname || !b->key_id || !pk || since < 0 || last < 0 ||
      !at || !avma_time_parse(at, &b->exported_at))
    return fail(error, AVMA_FLEET_ERROR_MALFORMED,
                "bad header: host_id, hostname, key_id, public_key, since, last and "
                "exported_at are required");
  g_autoptr(GError) err = NULL;
  if (!avma_public_key_parse(pk, &b->pub, &err))
    return fail(error, AVMA_FLEET_ERROR_MALFORMED, "bad header: public_key: %s", err->message);
  g_autofree char *id = avma_key_id_hex(b->pub.id);
  if (g_ascii_strcasecmp(id, b->key_id))
    return fail(error, AVMA_FLEET_ERROR_MALFORMED,
                "bad header: key_id %s is not the id of public_key (%s)", b->key_id, id);
  b->since = (guint64)since;
  b->last = (guint64)last;
  return TRUE;
}

static gboolean parse_record(AvmaFleetBundle *b, JsonObject *o, const char *line, gsize len,
                             GError **error) {
  guint64 want = b->since + b->records->len + 1;
  gint64 seq = num(o, "seq", -1);
  g_autofree char *prev = str(o, "prev");
  gint64 event_id = num(o, "event_id", -1);
  g_autofree char *time = str(o, "time");
  AvmaFleetRecord r = {0};
  if (seq < 1 || !prev || strlen(prev) != HASH_HEX_LEN || event_id < 0 || event_id > G_MAXINT ||
      !time || !avma_time_parse(time, &r.time))
    return fail(error, AVMA_FLEET_ERROR_MALFORMED,
                "record %" G_GUINT64_FORMAT ": time, event_id, seq and prev are required", want);
  if ((guint64)seq != want)
    return fail(error, AVMA_FLEET_ERROR_MALFORMED,
                "record seq %" G_GINT64_FORMAT " where %" G_GUINT64_FORMAT
                " was expected (records missing, repeated or out of order)",
                seq, want);
  if (b->records->len) {
    const AvmaFleetRecord *before =
        &g_array_index(b->records, AvmaFleetRecord, b->records->len - 1);
    g_autofree char *h = avma_sha256_hex(before->line, strlen(before->line));
    if (strcmp(h, prev))
      return fail(error, AVMA_FLEET_ERROR_CHAIN,
                  "record %" G_GUINT64_FORMAT "'s prev is not the hash of record %" G_GUINT64_FORMAT
                  " (a record was altered)",
                  want, want - 1);
  }
  r.seq = want;
  r.event_id = (int)event_id;
  r.line = g_strndup(line, len);
  r.prev = g_steal_pointer(&prev);
  typed(&r, o);
  g_array_append_val(b->records, r);
  return TRUE;
}

/* Trailer lines: {"rotation": note}, {"cert": note}, then {"checkpoint": note|null}, last. */
static gboolean parse_trailer(AvmaFleetBundle *b, JsonObject *o, gboolean *done, GError **error) {
  if (json_object_has_member(o, "checkpoint")) {
    JsonNode *n = json_object_get_member(o, "checkpoint");
    if (!JSON_NODE_HOLDS_NULL(n) && !(b->checkpoint = str(o, "checkpoint")))
      return fail(error, AVMA_FLEET_ERROR_MALFORMED, "checkpoint line: a note or null expected");
    *done = TRUE;
    return TRUE;
  }
  if (json_object_has_member(o, "rotation")) {
    char *note = str(o, "rotation");
    if (!note || b->cert)
      return g_free(note), fail(error, AVMA_FLEET_ERROR_MALFORMED,
                                "rotation line: a note expected, before any cert line");
    g_ptr_array_add(b->rotations, note);
    return TRUE;
  }
  if (json_object_has_member(o, "cert")) {
    if (b->cert || !(b->cert = str(o, "cert")))
      return fail(error, AVMA_FLEET_ERROR_MALFORMED, "cert line: one note expected");
    return TRUE;
  }
  return fail(error, AVMA_FLEET_ERROR_MALFORMED,
              "a line that is no record, rotation, cert or "
              "checkpoint after the records");
}

AvmaFleetBundle *avma_fleet_bundle_parse(const char *data, gsize len, char **host_id,
                                         GError **error) {
  g_autoptr(AvmaFleetBundle) b = g_new0(AvmaFleetBundle, 1);
  b->records = g_array_new(FALSE, TRUE, sizeof(AvmaFleetRecord));
  g_array_set_clear_func(b->records, record_clear);
  b->rotations = g_ptr_array_new_with_free_func(g_free);
  if (len == 0)
    return fail(error, AVMA_FLEET_ERROR_TRUNCATED, "empty input: no bundle"), NULL;
  if (data[len - 1] != '\n')
    return fail(error, AVMA_FLEET_ERROR_TRUNCATED,
                "truncated: the last line has no newline (cut short in transfer?)"),
           NULL;
  if (memchr(data, '\0', len) || !g_utf8_validate(data, (gssize)len, NULL))
    return fail(error, AVMA_FLEET_ERROR_MALFORMED, "not UTF-8 text"), NULL;
  g_autoptr(JsonParser) p = json_parser_new_immutable();
  gboolean header = FALSE, trailer = FALSE, done = FALSE;
  guint lineno = 0;
  for (const char *s = data, *end = data + len; s < end;) {
    const char *nl = memchr(s, '\n', (gsize)(end - s));
    gsize n = (gsize)(nl - s);
    lineno++;
    if (done)
      return fail(error, AVMA_FLEET_ERROR_MALFORMED, "line %u: data after the checkpoint line",
                  lineno),
             NULL;
    JsonObject *o = parse_object(p, s, n);
    if (!o)
      return fail(error, AVMA_FLEET_ERROR_MALFORMED, "line %u: not a JSON object", lineno), NULL;
    gboolean ok;
    if (!header) {
      ok = header = parse_header(b, o, error);
      if (host_id && b->host_id && *b->host_id)
        *host_id = g_strdup(b->host_id);
    } else if (!trailer && json_object_has_member(o, "seq"))
      ok = parse_record(b, o, s, n, error);
    else
      ok = (trailer = TRUE) && parse_trailer(b, o, &done, error);
    if (!ok)
      return NULL;
    s = nl + 1;
  }
  if (!done)
    return fail(error, AVMA_FLEET_ERROR_TRUNCATED,
                "truncated: no checkpoint line at the end (%u records read)", b->records->len),
           NULL;
  /* With nothing new (since at or beyond the checkpoint) last may name the checkpoint's seq. */
  if (b->records->len && b->since + b->records->len != b->last)
    return fail(error, AVMA_FLEET_ERROR_TRUNCATED,
                "truncated: the header announces records up to %" G_GUINT64_FORMAT
                ", the bundle holds them up to %" G_GUINT64_FORMAT,
                b->last, b->since + b->records->len),
           NULL;
  return g_steal_pointer(&b);
}

GArray *avma_fleet_bundle_key_chain(const AvmaFleetBundle *b, const AvmaPublicKey *trusted,
                                    GError **error) {
  g_autoptr(GArray) chain = g_array_new(FALSE, FALSE, sizeof(AvmaPublicKey));
  AvmaPublicKey cur = trusted ? *trusted : b->pub;
  g_array_append_val(chain, cur);
  /* Each statement is signed by the retired key and cosigned by its successor; only one that
   * the current end of the chain signed moves it on, so a forged statement leads nowhere. */
  for (guint i = 0; i < b->rotations->len && !avma_public_key_equal(&cur, &b->pub); i++) {
    AvmaKeyRotation rot;
    if (!avma_keycert_verify_rotation(b->rotations->pdata[i], &cur, &rot, NULL))
      continue;
    cur = rot.new_key;
    g_array_append_val(chain, cur);
  }
  if (!avma_public_key_equal(&cur, &b->pub)) {
    g_autofree char *known = avma_key_id_hex(trusted->id);
    fail(error, AVMA_FLEET_ERROR_KEY,
         "host %s: the bundle's key %s is not the key known for it (%s), and no rotation "
         "statement signed by the known key introduces it",
         b->host_id, b->key_id, known);
    return NULL;
  }
  return g_steal_pointer(&chain);
}

gboolean avma_fleet_bundle_certified(const AvmaFleetBundle *b, const AvmaPublicKey *root,
                                     GError **error) {
  if (!b->cert || !root)
    return FALSE;
  AvmaHostCert c = {0};
  g_autoptr(GError) err = NULL;
  gboolean ok = avma_keycert_verify(b->cert, root, &c, &err);
  if (!ok)
    fail(error, AVMA_FLEET_ERROR_KEY,
         "host %s: its certificate does not verify with the root "
         "key: %s",
         b->host_id, err->message);
  else if (!avma_public_key_equal(&c.pub, &b->pub) ||
           (g_strcmp0(c.host, b->host_id) && g_strcmp0(c.host, b->hostname)))
    ok = fail(error, AVMA_FLEET_ERROR_KEY,
              "host %s: its certificate is for host %s's key, not this one", b->host_id, c.host);
  avma_host_cert_clear(&c);
  return ok;
}

/* The checkpoint note's body, as host-agent/checkpoint.c writes it: magic, host, log, seq, head,
 * signed-at, one per line. */
static gboolean check_text(AvmaFleetBundle *b, const char *text, GError **error) {
  gboolean records = b->records->len > 0;
  g_auto(GStrv) l = g_strsplit(text, "\n", -1);
  const char *want[] = {"host ", "log ", "seq ", "head ", "signed-at "};
  gboolean shape = g_strv_length(l) == 7 && !strcmp(l[0], CHECKPOINT_MAGIC) && !*l[6];
  for (int i = 0; shape && i < 5; i++)
    shape = g_str_has_prefix(l[i + 1], want[i]);
  guint64 seq = 0;
  if (!shape || !g_ascii_string_to_unsigned(l[3] + 4, 10, 1, G_MAXINT64, &seq, NULL) ||
      !avma_time_parse(l[5] + 10, &b->signed_at))
    return fail(error, AVMA_FLEET_ERROR_SIGNATURE, "the checkpoint note is not a checkpoint");
  if (strcmp(l[1] + 5, b->host_id))
    return fail(error, AVMA_FLEET_ERROR_SIGNATURE,
                "the checkpoint is host %s's, the header says host %s", l[1] + 5, b->host_id);
  if (records && seq != b->last)
    return fail(error, AVMA_FLEET_ERROR_SIGNATURE,
                "the checkpoint signs seq %" G_GUINT64_FORMAT
                ", the bundle ends at %" G_GUINT64_FORMAT,
                seq, b->last);
  if (records) {
    const AvmaFleetRecord *r = &g_array_index(b->records, AvmaFleetRecord, b->records->len - 1);
    g_autofree char *h = avma_sha256_hex(r->line, strlen(r->line));
    if (strcmp(h, l[4] + 5))
      return fail(error, AVMA_FLEET_ERROR_SIGNATURE,
                  "record %" G_GUINT64_FORMAT " is not the one the checkpoint signed (altered)",
                  seq);
  }
  return TRUE;
}

gboolean avma_fleet_bundle_check_checkpoint(AvmaFleetBundle *b, const AvmaPublicKey *keys,
                                            gsize n_keys, GError **error) {
  if (!b->checkpoint) {
    if (b->records->len)
      return fail(error, AVMA_FLEET_ERROR_SIGNATURE, "records without a checkpoint");
    return TRUE;
  }
  g_autofree AvmaNoteKey *nk = g_new0(AvmaNoteKey, n_keys);
  for (gsize i = 0; i < n_keys; i++)
    nk[i].pub = keys[i];
  g_autofree char *text = NULL;
  g_autoptr(GError) err = NULL;
  if (!avma_note_open(b->checkpoint, nk, n_keys, &text, NULL, &err))
    return fail(error, AVMA_FLEET_ERROR_SIGNATURE, "host %s: the checkpoint does not verify: %s",
                b->host_id, err->message);
  return check_text(b, text, error);
}
