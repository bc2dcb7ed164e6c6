/* metadata: each VM's activation state in its libvirt domain metadata (namespace AVMA_METADATA_NS,
 * prefix AVMA_METADATA_KEY), written after every decision, live and persistent, so that
 * `virsh metadata DOMAIN URI` shows it and it travels with the VM when it migrates. Writes run on
 * a worker thread (libvirt blocks one for up to 30 s while a migration job holds the domain) and
 * never touch the decision: a failed one is retried, on this host when the domain is here. */
#pragma once
#include <glib.h>
#include <json-glib/json-glib.h>
#include <libvirt/libvirt.h>

#include "host.h"

typedef struct AvmaMetadata AvmaMetadata;

/* Observes host's decisions (holds a reference to host; its observer goes when it is freed).
 * Writes wait for a connection (avma_metadata_set_connection). */
AvmaMetadata *avma_metadata_new(AvmaHost *host);
/* A write still running on the worker finishes there; its result is dropped. */
void avma_metadata_free(AvmaMetadata *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaMetadata, avma_metadata_free)
/* The libvirt connection to write through (borrowed), or NULL while there is none. Pending
 * writes go out when a connection is set. */
void avma_metadata_set_connection(AvmaMetadata *m, virConnectPtr conn);
/* The domain with this UUID is on this host now (present) or left it. On arrival a write that
 * found the domain elsewhere is retried (unless the domain brings a newer decision), and the
 * persistent copy is checked once against the live one (a persistent copy older than the live
 * one, e.g. after a move, is rewritten). */
void avma_metadata_domain(AvmaMetadata *m, const char *uuid, gboolean present);

/* The metadata element for a 12310 decision (no namespace: libvirt adds it). */
char *avma_metadata_xml(const AvmaHostEvent *ev, const char *host_name);

/* What became of one write (or check), and what is done next. */
typedef enum {
  AVMA_META_DONE,          /* written, or nothing to write to: finished */
  AVMA_META_ELSEWHERE,     /* the domain is not on this host: kept until it is */
  AVMA_META_BUSY,          /* a job (a migration) holds the domain: retried later, not counted */
  AVMA_META_RETRY,         /* failed, connection alive: retried a few times, then given up */
  AVMA_META_NO_CONNECTION, /* kept for the next connection */
} AvmaMetaOutcome;
/* From libvirt's error code of a failed call (VIR_ERR_OK: success) and whether the connection
 * is still alive. */
AvmaMetaOutcome avma_metadata_classify(int vir_error, gboolean conn_alive);
/* Whether the persistent copy (config, may be NULL: none) is older than the live copy: its
 * <time> is earlier, or it has none. Copies are compared as XML, not as strings (libvirt
 * re-indents the persistent copy). FALSE when live is NULL or not ours. */
gboolean avma_metadata_config_stale(const char *live, const char *config);
/* Whether xml's <time> is later than than's (both ours, with or without namespace; FALSE when
 * either has none or is not well-formed). A write that waited (the domain was elsewhere or busy)
 * is dropped when the domain already carries a newer decision: the host it ran on meanwhile
 * decided later. */
gboolean avma_metadata_newer(const char *xml, const char *than);
/* The element as read back from libvirt without its namespace, to write it again (caller
 * frees; NULL when xml is not well-formed). */
char *avma_metadata_plain(const char *xml);
