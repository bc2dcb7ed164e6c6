/* state-files: the names of the files the agents keep in their state directories, in one place
 * (the man pages' FILES sections and docs/operators.md list the same). Only names: each module
 * that owns a file says how it is written. */
#pragma once

/* The host's state directory (/var/lib/avma-host). */
#define AVMA_HOST_EVENTS_FILE "events.jsonl"              /* 12310 records, append-only */
#define AVMA_LICENCE_HISTORY_FILE "licence-history.jsonl" /* 12311 records, append-only */
#define AVMA_LICENCE_FILE "licence.conf"                  /* the licensed state, replaced */
#define AVMA_HOST_ID_FILE "host-id"                       /* the host's stable identity */
#define AVMA_HISTORY_FILE "history.db"                    /* the compliance history (SQLite) */
#define AVMA_VMVIEW_FILE "vms.json"                       /* the daemon's per-VM view, replaced */
#define AVMA_METRICS_FILE "avma.prom"                     /* the metrics textfile's default */
#define AVMA_CHECKPOINT_FILE "checkpoints.jsonl" /* signed heads of the record log, appended */
#define AVMA_HOSTKEY_SECRET "host-key.sec"       /* the key pair, mode 0600, the daemon's user's */
#define AVMA_HOSTKEY_PUBLIC "host-key.pub"       /* minisign's public key file */
#define AVMA_HOSTKEY_CERT "host-key.cert"        /* the root's certificate, when installed */
#define AVMA_HOSTKEY_DIR "keys"                  /* retired public keys, certificates, rotations */

/* The guest's state directory (/var/lib/avma-guest). */
#define AVMA_GUEST_EVENTS_FILE "events.jsonl"    /* 12309 records, append-only */
#define AVMA_GUEST_STATE_FILE "guest.state"      /* key, schedule and last outcome */
#define AVMA_GUEST_RECEIPTS_FILE "receipts.json" /* the last activation receipts, replaced */
#define AVMA_GUEST_CONTROL_SOCKET "control.sock" /* avma-guest talks to avma-guestd here */
