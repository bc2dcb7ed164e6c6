/* metadata: each VM's activation state in its libvirt domain metadata (namespace AVMA_METADATA_NS,
 * prefix AVMA_METADATA_KEY), written after every decision, live and persistent, so that
 * `virsh metadata DOMAIN URI` shows it and it travels with the VM when it migrates. */
#pragma once
#include <glib.h>
#include <json-glib/json-glib.h>
#include <libvirt/libvirt.h>

#include "host.h"

typedef struct AvmaMetadata AvmaMetadata;

/* Observes host's decisions (holds a reference to host; its observer goes when it is freed).
 * Writes wait for a connection (avma_metadata_set_connection). */
AvmaMetadata *avma_metadata_new(AvmaHost *host);
void avma_metadata_free(AvmaMetadata *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaMetadata, avma_metadata_free)
/* The libvirt connection to write through (borrowed), or NULL while there is none. Pending
 * writes go out when a connection is set. */
void avma_metadata_set_connection(AvmaMetadata *m, virConnectPtr conn);

/* The metadata element for a 12310 decision (no namespace: libvirt adds it). */
char *avma_metadata_xml(const AvmaHostEvent *ev, const char *host_name);
