/* SPDX-License-Identifier: MIT */
/*
 * acp_storage_status.h - status codes shared by the application API
 * (acp_storage.h) and the plugin ABI (acp_storage_plugin.h).
 *
 * The numeric values are part of the ABI and never change.
 */
#ifndef ACP_STORAGE_STATUS_H
#define ACP_STORAGE_STATUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum acp_status {
    ACP_OK = 0,          /* success */
    ACP_NOT_FOUND = 1,   /* no such run or session (a normal answer, not a fault) */
    ACP_INVALID = 2,     /* bad argument, URI, option or document; nothing changed */
    ACP_CONFLICT = 3,    /* a concurrent change prevented the operation */
    ACP_UNAVAILABLE = 4, /* server unreachable or lock timeout; safe to retry */
    ACP_IO = 5,          /* disk or network error */
    ACP_CORRUPT = 6,     /* stored data unreadable */
    ACP_NOMEM = 7,       /* out of memory */
    ACP_UNSUPPORTED = 8, /* the backend does not offer this operation */
    ACP_LOAD = 9,        /* the backend plugin could not be found or was refused */
    ACP_PLUGIN = 10      /* a plugin-specific failure (see the message) */
} acp_status;

/* What kind of stored item a verify report is about. */
typedef enum acp_item_kind {
    ACP_ITEM_RUN = 1,     /* a run document */
    ACP_ITEM_SESSION = 2, /* a session document */
    ACP_ITEM_EVENT = 3,   /* one event of a run's stream */
    ACP_ITEM_INDEX = 4,   /* an index, counter or other derived structure */
    ACP_ITEM_OTHER = 5    /* a stray or unknown file/row/key in the store */
} acp_item_kind;

/* One damaged item found by verify (acp_store_verify(); the plugin ABI's
 * verify method).  All pointers are valid only during the callback that
 * receives it: copy what must be kept. */
typedef struct acp_damage {
    size_t size;          /* sizeof(acp_damage) as the writer knew it */
    int kind;             /* acp_item_kind */
    const char *key;      /* run id (also for events), session id, or NULL */
    int64_t seq;          /* events: the sequence number (0 if unknown); else 0 */
    acp_status code;      /* ACP_CORRUPT for damage, ACP_IO when it could not be read */
    const char *location; /* where: a path relative to the store root, a table and rowid,
                             a key; or NULL */
    const char *reason;   /* why it is damaged, one line, no prefix */
    const char *moved_to; /* with ACP_VERIFY_QUARANTINE: where it was moved (relative
                             path); else NULL */
} acp_damage;

/* Verify flag: move damaged items aside where the backend can (recoverably),
 * so that the rest of the store serves normally again. */
#define ACP_VERIFY_QUARANTINE (1u << 0)

/* Migrate flag (acp_store_migrate(); the plugin ABI's migrate method): only
 * report the versions and the steps, change nothing. */
#define ACP_MIGRATE_DRY_RUN (1u << 0)
/* Kinds of store figures (acp_store_stats(); the plugin ABI's stats
 * method and host->stat).  Values never change. */
typedef enum acp_stat_kind {
    ACP_STAT_RUNS = 1,           /* all runs */
    ACP_STAT_RUNS_BY_STATUS = 2, /* runs of one status (label: the status) */
    ACP_STAT_RUNS_BY_AGENT = 3,  /* runs of one agent (label: the agent) */
    ACP_STAT_SESSIONS = 4,       /* sessions */
    ACP_STAT_EVENTS = 5,         /* events of all runs */
    ACP_STAT_BYTES = 6,          /* size on disk or in memory, in bytes */
    ACP_STAT_SCHEMA_VERSION = 7  /* the stored schema's version */
} acp_stat_kind;

#ifdef __cplusplus
}
#endif
#endif /* ACP_STORAGE_STATUS_H */
