/* fleet-ingest: verify a bundle against the host's standing in the database and append it. */
#include "fleet-ingest.h"

#include "fleet-bundle.h"
#include "fleet-derive.h"
#include "timeutil.h"

#include <stdlib.h>
#include <string.h>

void avma_fleet_ingest_result_clear(AvmaFleetIngestResult *r) {
  g_free(r->host_id);
  g_free(r->hostname);
  g_free(r->key_how);
  memset(r, 0, sizeof *r);
}

static gboolean refuse(GError **error, int code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static gboolean refuse(GError **error, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error_literal(error, AVMA_FLEET_ERROR, code, msg);
  return FALSE;
}

static char *line_hash(const AvmaFleetRecord *r) {
  return avma_sha256_hex(r->line, strlen(r->line));
}

/* A VM is known by its UUID (any case), else its name, as the host's report does. */
static char *vm_key(const AvmaFleetRecord *r) {
  if (r->vm_uuid && *r->vm_uuid)
    return g_ascii_strdown(r->vm_uuid, -1);
  return g_strdup(r->vm ? r->vm : "");
}

static const char *nonempty(const char *a, const char *b) {
  return a && *a ? a : b && *b ? b : "";
}

typedef struct {
  GString *records, *decisions, *licences, *runs, *facts;
} Rows;

static void rows_add(Rows *w, const char *host, const AvmaFleetRecord *r) {
  avma_fleet_copy_field(w->records, host, FALSE);
  avma_fleet_copy_int(w->records, (gint64)r->seq, FALSE);
  avma_fleet_copy_time(w->records, r->time, FALSE, FALSE);
  avma_fleet_copy_int(w->records, r->event_id, FALSE);
  avma_fleet_copy_field(w->records, r->line, TRUE);
  GString *t = NULL;
  switch (r->event_id) {
  case AVMA_FLEET_EVENT_DECISION:
    t = w->decisions;
    break;
  case AVMA_FLEET_EVENT_LICENCE:
    t = w->licences;
    break;
  case AVMA_FLEET_EVENT_RUN:
    t = w->runs;
    break;
  case AVMA_FLEET_EVENT_FACTS:
    t = w->facts;
    break;
  default:
    return;
  }
  avma_fleet_copy_field(t, host, FALSE);
  avma_fleet_copy_int(t, (gint64)r->seq, FALSE);
  avma_fleet_copy_time(t, r->time, FALSE, FALSE);
  if (r->event_id == AVMA_FLEET_EVENT_DECISION || r->event_id == AVMA_FLEET_EVENT_RUN) {
    g_autofree char *key = vm_key(r);
    avma_fleet_copy_field(t, key, FALSE);
    avma_fleet_copy_field(t, r->vm, FALSE);
    avma_fleet_copy_field(t, r->vm_uuid, FALSE);
  }
  switch (r->event_id) {
  case AVMA_FLEET_EVENT_DECISION:
    avma_fleet_copy_field(t, r->notification ? r->notification : "", FALSE);
    avma_fleet_copy_field(t, r->reason_code, FALSE);
    /* The product a decision counts under: the key's, else what the guest declared. */
    avma_fleet_copy_field(t, nonempty(r->guest_version, r->declared_version), FALSE);
    avma_fleet_copy_field(t, nonempty(r->guest_edition, r->declared_edition), FALSE);
    avma_fleet_copy_time(t, r->granted_until, TRUE, TRUE);
    break;
  case AVMA_FLEET_EVENT_LICENCE:
    avma_fleet_copy_field(t, r->licence_set ? "t" : "f", FALSE);
    avma_fleet_copy_field(t, r->activated ? "t" : "f", FALSE);
    avma_fleet_copy_field(t, r->version, FALSE);
    avma_fleet_copy_field(t, r->edition, TRUE);
    break;
  case AVMA_FLEET_EVENT_RUN:
    avma_fleet_copy_field(t, r->running ? "t" : "f", FALSE);
    avma_fleet_copy_field(t, r->reason, FALSE);
    avma_fleet_copy_field(t, r->repaired ? "t" : "f", TRUE);
    break;
  default:
    avma_fleet_copy_field(t, r->hostname, FALSE);
    avma_fleet_copy_int(t, r->sockets, FALSE);
    avma_fleet_copy_int(t, r->cores_per_socket, FALSE);
    avma_fleet_copy_int(t, r->threads_per_core, FALSE);
    avma_fleet_copy_int(t, r->cpus, FALSE);
    avma_fleet_copy_field(t, r->source, TRUE);
  }
}

static gboolean copy_rows(PGconn *c, const AvmaFleetBundle *b, guint from, GError **error) {
  Rows w = {g_string_new(NULL), g_string_new(NULL), g_string_new(NULL), g_string_new(NULL),
            g_string_new(NULL)};
  for (guint i = from; i < b->records->len; i++)
    rows_add(&w, b->host_id, &g_array_index(b->records, AvmaFleetRecord, i));
  struct {
    GString *rows;
    const char *sql;
  } copies[] = {
      {w.records, "COPY records (host_id, seq, time, event_id, line) FROM STDIN"},
      {w.decisions, "COPY decisions (host_id, seq, time, vm_key, vm, vm_uuid, notification, "
                    "reason_code, product_version, product_edition, granted_until) FROM STDIN"},
      {w.licences, "COPY licences (host_id, seq, time, licence_set, activated, version, edition) "
                   "FROM STDIN"},
      {w.runs, "COPY run_edges (host_id, seq, time, vm_key, vm, vm_uuid, running, reason, "
               "repaired) FROM STDIN"},
      {w.facts, "COPY host_facts (host_id, seq, time, hostname, sockets, cores_per_socket, "
                "threads_per_core, cpus, source) FROM STDIN"},
  };
  gboolean ok = TRUE;
  for (gsize i = 0; i < G_N_ELEMENTS(copies); i++) {
    if (ok && copies[i].rows->len)
      ok = avma_fleet_db_copy(c, copies[i].sql, copies[i].rows, error);
    g_string_free(copies[i].rows, TRUE);
  }
  return ok;
}

/* The host's row, locked for this transaction (two collectors ingesting the same host queue up
 * here instead of both appending). */
typedef struct {
  gboolean known;
  AvmaPublicKey key;
  guint64 cursor;
  char *hash;
} Standing;

static gboolean standing(PGconn *c, const char *host_id, Standing *s, GError **error) {
  const char *p[] = {host_id};
  g_autoptr(PGresult) r = avma_fleet_db_query(
      c, "SELECT public_key, cursor_seq, cursor_hash FROM hosts WHERE host_id = $1 FOR UPDATE", 1,
      p, error);
  if (!r)
    return FALSE;
  if (PQntuples(r) == 0)
    return TRUE;
  s->known = TRUE;
  if (!avma_public_key_parse(PQgetvalue(r, 0, 0), &s->key, NULL))
    return refuse(error, AVMA_FLEET_ERROR_DATABASE, "host %s: the stored key does not parse",
                  host_id);
  s->cursor = g_ascii_strtoull(PQgetvalue(r, 0, 1), NULL, 10);
  s->hash = g_strdup(PQgetvalue(r, 0, 2));
  return TRUE;
}

/* The keys the checkpoint may be signed with, and how the header's key came to be trusted. */
static GArray *trust(const AvmaFleetConfig *cfg, const AvmaPublicKey *root,
                     const AvmaFleetBundle *b, const Standing *s, char **how, GError **error) {
  g_autoptr(GError) cert_err = NULL;
  gboolean certified = avma_fleet_bundle_certified(b, root, &cert_err);
  if (!s->known) {
    if (cfg->require_cert && !certified) {
      refuse(error, AVMA_FLEET_ERROR_KEY, "host %s is new and [trust] require_cert is set, but %s",
             b->host_id,
             cert_err ? cert_err->message : "the bundle carries no certificate by the root key");
      return NULL;
    }
    *how = g_strdup(certified ? "certificate" : "first-seen");
    return avma_fleet_bundle_key_chain(b, NULL, error);
  }
  g_autoptr(GError) err = NULL;
  GArray *chain = avma_fleet_bundle_key_chain(b, &s->key, &err);
  if (chain) {
    *how = g_strdup(chain->len > 1 ? "rotation" : "known");
    return chain;
  }
  if (certified) {
    /* The root vouches for the new key; the old one may still have signed older checkpoints. */
    chain = g_array_new(FALSE, FALSE, sizeof(AvmaPublicKey));
    g_array_append_val(chain, s->key);
    g_array_append_val(chain, b->pub);
    *how = g_strdup("certificate");
    return chain;
  }
  g_propagate_error(error, g_steal_pointer(&err));
  return NULL;
}

static gboolean check_clock(const AvmaFleetConfig *cfg, const AvmaFleetBundle *b, GError **error) {
  gint64 limit = avma_now() + cfg->future_tolerance;
  for (guint i = 0; i < b->records->len; i++) {
    const AvmaFleetRecord *r = &g_array_index(b->records, AvmaFleetRecord, i);
    if (r->time > limit) {
      g_autofree char *t = avma_time_format(r->time);
      g_autofree char *ahead = avma_duration_words(r->time - avma_now());
      return refuse(error, AVMA_FLEET_ERROR_FUTURE,
                    "host %s: record %" G_GUINT64_FORMAT " is dated %s, %s ahead of this "
                    "collector's clock (the host's clock is wrong?); nothing of the bundle kept",
                    b->host_id, r->seq, t, ahead);
    }
  }
  if (b->signed_at > limit) {
    g_autofree char *t = avma_time_format(b->signed_at);
    return refuse(error, AVMA_FLEET_ERROR_FUTURE,
                  "host %s: the checkpoint is signed at %s, ahead of this collector's clock",
                  b->host_id, t);
  }
  return TRUE;
}

/* Where the bundle's records meet the ones held: the index of the first new record (len when
 * none is new), or FALSE with GAP or FORK. */
static gboolean meet(PGconn *c, const AvmaFleetBundle *b, const Standing *s, guint *first_new,
                     GError **error) {
  guint n = b->records->len;
  if (n == 0) {
    *first_new = 0;
    return TRUE;
  }
  const AvmaFleetRecord *first = &g_array_index(b->records, AvmaFleetRecord, 0);
  if (b->since > s->cursor)
    return refuse(error, AVMA_FLEET_ERROR_GAP,
                  "host %s: the bundle starts after record %" G_GUINT64_FORMAT
                  " but the collector holds records up to %" G_GUINT64_FORMAT
                  " only: records %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT
                  " are missing (export with --since %" G_GUINT64_FORMAT ")",
                  b->host_id, b->since, s->cursor, s->cursor + 1, b->since, s->cursor);
  if (b->since == s->cursor) {
    /* With nothing held yet, the first record's prev pins whatever came before it. */
    if (s->cursor > 0 && strcmp(first->prev, s->hash))
      return refuse(error, AVMA_FLEET_ERROR_FORK,
                    "host %s: record %" G_GUINT64_FORMAT
                    " does not follow record %" G_GUINT64_FORMAT
                    " as the collector holds it (the host's log was rewritten, or the bundle is "
                    "another host's)",
                    b->host_id, first->seq, s->cursor);
    *first_new = 0;
    return TRUE;
  }
  /* Overlap: the bundle must agree with what is held where they meet. */
  g_autofree char *held = NULL, *theirs = NULL;
  guint64 at;
  if (b->last >= s->cursor) {
    at = s->cursor;
    held = g_strdup(s->hash);
    theirs = line_hash(&g_array_index(b->records, AvmaFleetRecord, s->cursor - b->since - 1));
    *first_new = (guint)(s->cursor - b->since);
  } else {
    at = b->last;
    g_autofree char *seq = g_strdup_printf("%" G_GUINT64_FORMAT, at);
    const char *p[] = {b->host_id, seq};
    g_autoptr(PGresult) r = avma_fleet_db_query(
        c, "SELECT line FROM records WHERE host_id = $1 AND seq = $2", 2, p, error);
    if (!r)
      return FALSE;
    held = PQntuples(r) ? avma_sha256_hex(PQgetvalue(r, 0, 0), strlen(PQgetvalue(r, 0, 0)))
                        : g_strdup("");
    theirs = line_hash(&g_array_index(b->records, AvmaFleetRecord, n - 1));
    *first_new = n;
  }
  if (strcmp(held, theirs))
    return refuse(error, AVMA_FLEET_ERROR_FORK,
                  "host %s: record %" G_GUINT64_FORMAT " differs from the one the collector holds "
                  "(the host's log was rewritten)",
                  b->host_id, at);
  return TRUE;
}

static gboolean store(PGconn *c, const AvmaFleetBundle *b, const Standing *s, const GArray *chain,
                      const char *how, guint first_new, const char *pulled_as, GError **error) {
  g_autofree char *pk = avma_public_key_base64(&b->pub);
  g_autofree char *kid = avma_key_id_hex(b->pub.id);
  if (!s->known) {
    const char *p[] = {b->host_id, b->hostname, kid, pk};
    g_autoptr(PGresult) r = avma_fleet_db_query(
        c, "INSERT INTO hosts (host_id, hostname, key_id, public_key) VALUES ($1, $2, $3, $4)", 4,
        p, error);
    if (!r)
      return FALSE;
  }
  /* Every key of the chain that is new to the database, with how it was trusted. */
  for (guint i = s->known ? 1 : 0; i < chain->len; i++) {
    const AvmaPublicKey *k = &g_array_index(chain, AvmaPublicKey, i);
    g_autofree char *kpk = avma_public_key_base64(k), *kkid = avma_key_id_hex(k->id);
    const char *p[] = {b->host_id, kkid, kpk, how};
    g_autoptr(PGresult) r = avma_fleet_db_query(
        c,
        "INSERT INTO host_keys (host_id, key_id, public_key, how) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT DO NOTHING",
        4, p, error);
    if (!r)
      return FALSE;
  }
  if (first_new < b->records->len &&
      (!copy_rows(c, b, first_new, error) || !avma_fleet_derive(c, b->host_id, s->cursor, error)))
    return FALSE;
  gint64 last_time = 0;
  for (guint i = first_new; i < b->records->len; i++)
    last_time = MAX(last_time, g_array_index(b->records, AvmaFleetRecord, i).time);
  g_autofree char *seq = NULL, *hash = NULL, *lt = NULL, *sa = NULL;
  if (first_new < b->records->len) {
    seq = g_strdup_printf("%" G_GUINT64_FORMAT, b->last);
    hash = line_hash(&g_array_index(b->records, AvmaFleetRecord, b->records->len - 1));
    lt = avma_time_format(last_time);
    sa = avma_time_format(b->signed_at);
    const char *p[] = {b->host_id, seq, sa, b->checkpoint};
    g_autoptr(PGresult) r = avma_fleet_db_query(
        c,
        "INSERT INTO checkpoints (host_id, seq, signed_at, note) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT DO NOTHING",
        4, p, error);
    if (!r)
      return FALSE;
  }
  const char *p[] = {b->host_id, b->hostname, kid, pk, seq, hash, lt, sa, pulled_as};
  g_autoptr(PGresult) r = avma_fleet_db_query(
      c,
      "UPDATE hosts SET hostname = $2, key_id = $3, public_key = $4,"
      " cursor_seq = coalesce($5::bigint, cursor_seq), cursor_hash = coalesce($6, cursor_hash),"
      " last_record_time = greatest(last_record_time, $7::timestamptz),"
      " last_checkpoint_at = greatest(last_checkpoint_at, $8::timestamptz),"
      " last_ingest = now(), pulled_as = coalesce($9, pulled_as), state = 'ok', state_detail = ''"
      " WHERE host_id = $1",
      9, p, error);
  return r != NULL;
}

gboolean avma_fleet_add_finding(PGconn *c, const char *host_id, const char *origin,
                                const char *kind, const char *detail, GError **error) {
  const char *p[] = {host_id, origin, kind, detail};
  const char *q[] = {host_id, detail};
  if (!avma_fleet_db_exec(c, "BEGIN", error))
    return FALSE;
  g_autoptr(PGresult) a = avma_fleet_db_query(
      c, "INSERT INTO findings (host_id, origin, kind, detail) VALUES ($1, $2, $3, $4)", 4, p,
      error);
  g_autoptr(PGresult) b =
      a ? avma_fleet_db_query(
              c, "UPDATE hosts SET state = 'refused', state_detail = $2 WHERE host_id = $1", 2, q,
              error)
        : NULL;
  if (!b || !avma_fleet_db_exec(c, "COMMIT", error)) {
    avma_fleet_db_exec(c, "ROLLBACK", NULL);
    return FALSE;
  }
  return TRUE;
}

static gboolean checked_store(PGconn *c, const AvmaFleetConfig *cfg, const AvmaPublicKey *root,
                              AvmaFleetBundle *b, const char *pulled_as, AvmaFleetIngestResult *res,
                              GError **error) {
  Standing s = {0};
  g_autoptr(GArray) chain = NULL;
  g_autofree char *how = NULL;
  guint first_new = 0;
  gboolean ok = standing(c, b->host_id, &s, error) &&
                (chain = trust(cfg, root, b, &s, &how, error)) &&
                avma_fleet_bundle_check_checkpoint(b, (const AvmaPublicKey *)(void *)chain->data,
                                                   chain->len, error) &&
                check_clock(cfg, b, error) && meet(c, b, &s, &first_new, error) &&
                store(c, b, &s, chain, how, first_new, pulled_as, error);
  if (ok) {
    res->added = b->records->len - first_new;
    res->known = first_new;
    res->key_how = g_steal_pointer(&how);
  }
  g_free(s.hash);
  return ok;
}

gboolean avma_fleet_ingest_parsed(PGconn *c, const AvmaFleetConfig *cfg, const AvmaPublicKey *root,
                                  AvmaFleetBundle *bundle, GError *parse_error, const char *host_id,
                                  const char *origin, const char *pulled_as,
                                  AvmaFleetIngestResult *res, GError **error) {
  memset(res, 0, sizeof *res);
  g_autoptr(GError) err = parse_error;
  g_autoptr(AvmaFleetBundle) b = bundle;
  res->host_id = g_strdup(b ? b->host_id : host_id);
  gboolean ok = b != NULL;
  if (ok) {
    res->hostname = g_strdup(b->hostname);
    res->since = b->since;
    res->last = b->last;
    ok = avma_fleet_db_exec(c, "BEGIN", &err) &&
         checked_store(c, cfg, root, b, pulled_as, res, &err) &&
         avma_fleet_db_exec(c, "COMMIT", &err);
    if (!ok)
      avma_fleet_db_exec(c, "ROLLBACK", NULL);
  }
  if (ok)
    return TRUE;
  /* A database failure is no finding about the host: the same bundle will do next time. */
  if (!g_error_matches(err, AVMA_FLEET_ERROR, AVMA_FLEET_ERROR_DATABASE) &&
      err->domain == AVMA_FLEET_ERROR) {
    g_autoptr(GError) ferr = NULL;
    if (!avma_fleet_add_finding(c, res->host_id, origin, avma_fleet_error_kind(err->code),
                                err->message, &ferr))
      g_warning("%s: the finding could not be recorded: %s", origin, ferr->message);
  }
  g_propagate_error(error, g_steal_pointer(&err));
  return FALSE;
}

gboolean avma_fleet_ingest(PGconn *c, const AvmaFleetConfig *cfg, const AvmaPublicKey *root,
                           const char *data, gsize len, const char *origin, const char *pulled_as,
                           AvmaFleetIngestResult *res, GError **error) {
  GError *err = NULL;
  g_autofree char *host_id = NULL;
  AvmaFleetBundle *b = avma_fleet_bundle_parse(data, len, &host_id, &err);
  return avma_fleet_ingest_parsed(c, cfg, root, b, err, host_id, origin, pulled_as, res, error);
}
