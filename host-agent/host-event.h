/* host-event: the host's records as C structs (12310 decision, 12310 protocol-level Invalid Data,
 * 12311 licence change) and the one field table that writes them as JSON lines, journal fields,
 * domain metadata, history columns and VM-view members, and reads them back from the logs. */
#pragma once
#include <glib.h>
#include <json-glib/json-glib.h>

#include "chainlog.h"
#include "events.h"
#include "licence.h"
#include "policy.h"

typedef enum {
  AVMA_HOST_EVENT_DECISION,     /* 12310: an ACTIVATE request decided */
  AVMA_HOST_EVENT_INVALID_DATA, /* 12310: protocol-level trouble on a VM's channel */
  AVMA_HOST_EVENT_LICENCE,      /* 12311: the host licence was set */
} AvmaHostEventKind;

/* notification and reason when a record has none, or one this build does not know. */
#define AVMA_HOST_EVENT_NONE (-1)

/* Strings are owned (NULL reads as ""); times are unix seconds (0: none). Members a kind does not
 * carry stay zero. */
typedef struct AvmaHostEvent {
  AvmaHostEventKind kind;
  gint64 event_id;  /* AVMA_EVENT_HOST or AVMA_EVENT_LICENCE; read back: what the record says */
  gint64 time;      /* when it was logged */
  int notification; /* AvmaNotification, or AVMA_HOST_EVENT_NONE (12311) */
  int reason;       /* decision: AvmaReason, or AVMA_HOST_EVENT_NONE */
  char *error_code; /* Invalid Data: the protocol's code ("bad-crc", "rate-limited", ...) */
  char *reason_text;
  char *vm;
  char *vm_uuid;
  gint64 suppressed; /* Invalid Data: records left out by the rate limit since the last one */
  char *guest_version;
  char *guest_edition;
  char *declared_version;
  char *declared_edition;
  char *key_last5;
  char *host_version;
  char *host_edition;
  gboolean host_activated;
  char *host_id;
  gint64 granted_until; /* decision: 0 unless AVMA Success */
  /* 12311 */
  gboolean licence_set;
  char *licence_version;
  char *licence_edition;
  gboolean licence_activated;
  gint64 licence_set_at;
  char *licence_set_by;
  gboolean activates_guests;
} AvmaHostEvent;

void avma_host_event_clear(AvmaHostEvent *ev);
AvmaHostEvent *avma_host_event_copy(const AvmaHostEvent *ev);
void avma_host_event_free(AvmaHostEvent *ev);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(AvmaHostEvent, avma_host_event_clear)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaHostEvent, avma_host_event_free)

/* The 12311 record of a licence being set, logged at `now`. */
void avma_host_event_init_licence(AvmaHostEvent *ev, const AvmaLicence *l, gint64 now);

/* The licence's own members (the 12311 record without time and event_id), for
 * `license show --json`. Caller unrefs. */
JsonObject *avma_host_event_licence_state(const AvmaLicence *l);

/* The record as logged: members in the kind's order, each once. Caller unrefs. */
JsonObject *avma_host_event_to_json(const AvmaHostEvent *ev);
/* Read a logged record back. Any JSON object is accepted, as the logs' importer always has:
 * members that are missing or of the wrong type read as empty, times that do not parse as 0,
 * a notification or reason code this build does not know as AVMA_HOST_EVENT_NONE, and a protocol
 * error code keeps only [A-Za-z0-9._-] (64 characters at most). The kind comes from the record's
 * shape: event_id 12311 is a licence change; a 12310 record with a grant time is a decision,
 * one without is protocol-level. */
void avma_host_event_from_json(JsonObject *o, AvmaHostEvent *out);

/* The journal's MESSAGE for it, for people reading journalctl. Caller frees. */
char *avma_host_event_message(const AvmaHostEvent *ev);
/* The journal fields (AVMA_<MEMBER>=value, one per JSON member; caller unrefs). */
GPtrArray *avma_host_event_journal_fields(const AvmaHostEvent *ev);
/* Durably append it to log (JSON line) and send it to the journal. */
gboolean avma_host_event_append(AvmaEventLog *log, const AvmaHostEvent *ev, GError **error);
/* Write it to the hash-chained log (not yet durable: avma_chain_log_when_durable) with its
 * sequence number (*seq, may be NULL), and send it to the journal (journal: only its journal
 * setting is used). */
gboolean avma_host_event_append_chained(AvmaChainLog *chain, AvmaEventLog *journal,
                                        const AvmaHostEvent *ev, guint64 *seq, GError **error);
/* Every record's line starts with this (the time member): how a line glued to the remains of one
 * cut by a crash is found. */
const char *avma_host_event_line_start(void);

/* The domain metadata's children: calls fn for each (element name, text), in the element order. */
typedef void (*AvmaHostEventElementFn)(const char *element, const char *text, gpointer user);
void avma_host_event_foreach_element(const AvmaHostEvent *ev, AvmaHostEventElementFn fn,
                                     gpointer user);

/* Read a decision back from its domain metadata: text(element) gives the text of the child
 * element of that name, or NULL when there is none. As avma_host_event_from_json otherwise. */
typedef const char *(*AvmaHostEventElementText)(const char *element, gpointer user);
void avma_host_event_from_elements(AvmaHostEventElementText text, gpointer user,
                                   AvmaHostEvent *out);

/* The 12310 events table: columns and values in one order. bind(i, column, value) gets the
 * value as an integer (is_int, *int_value) or text. */
typedef void (*AvmaHostEventColumnFn)(guint i, const char *column, gboolean is_int,
                                      gint64 int_value, const char *text, gpointer user);
void avma_host_event_foreach_column(const AvmaHostEvent *ev, AvmaHostEventColumnFn fn,
                                    gpointer user);

/* The members a vms.json entry carries about the VM's last decision (ev NULL: all empty), and
 * reading them back from an entry (the other members of out stay zero). */
void avma_host_event_to_view(const AvmaHostEvent *ev, JsonObject *entry);
void avma_host_event_from_view(JsonObject *entry, AvmaHostEvent *out);

/* Text of the fields people read, as they were logged ("" when empty). */
const char *avma_host_event_notification_text(const AvmaHostEvent *ev);
const char *avma_host_event_reason_code(const AvmaHostEvent *ev);
/* RFC 3339, "" for 0. Caller frees. */
char *avma_host_event_time_text(gint64 t);
