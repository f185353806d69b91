/*
 * acp_storage_status.h - status codes shared by the application API
 * (acp_storage.h) and the plugin ABI (acp_storage_plugin.h).
 *
 * The numeric values are part of the ABI and never change.
 */
#ifndef ACP_STORAGE_STATUS_H
#define ACP_STORAGE_STATUS_H

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

#ifdef __cplusplus
}
#endif
#endif /* ACP_STORAGE_STATUS_H */
