/* facts: what the compliance report needs to know about the host and its VMs besides events
 * (processor topology, each VM's vCPUs), found out and recorded: the topology as 12313 records in
 * the record log (at start and when it changes), vCPUs in the history store. */
#pragma once
#include <glib.h>
#include <libvirt/libvirt.h>

#include "history.h"
#include "host.h"

typedef struct AvmaFacts AvmaFacts;

/* Records the host's topology from sysfs at once and, after each decision of a libvirt domain,
 * its vCPU count (only changes are stored; read after the reply went out, so a libvirt call
 * never delays the guest's answer). host: a reference is held, the observer goes when freed;
 * history (borrowed, may be NULL: no vCPUs are recorded) must outlive it. */
AvmaFacts *avma_facts_new(AvmaHost *host, AvmaHistory *history);
void avma_facts_free(AvmaFacts *f);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AvmaFacts, avma_facts_free)
/* The libvirt connection (borrowed until the next call), or NULL when lost. On connect the
 * host's topology is recorded again as libvirt sees it (virNodeGetInfo). */
void avma_facts_set_connection(AvmaFacts *f, virConnectPtr conn);

/* The host's processor topology from sysfs (source "sysfs"), else sysconf (source "sysconf",
 * one socket assumed). hostname and host_id are left NULL. */
void avma_host_facts_probe(AvmaHostFacts *f);
