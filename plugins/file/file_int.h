/*
 * file_int.h - state shared by the parts of the file backend: file.c
 * (store, documents, index log) and events.c (event logs, group commit).
 */
#ifndef ACP_FILE_INT_H
#define ACP_FILE_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "acp_storage_plugin.h"
#include "fmt.h"
#include "index.h"

#define FILE_PLUGIN "file"
/* Longest id in bytes (the core checks ids; this sizes buffers). */
#define ACP_FILE_ID_MAX 256
/* Lock stripes for saves and deletes of documents (bytes of the lock file). */
#define FILE_NSTRIPES 256
/* Event log descriptors kept open per store handle, at most (never more
 * than a quarter of RLIMIT_NOFILE, see f_open). */
#define FILE_MAX_OPEN_LOGS 4096
/* Logs whose end this process remembers after closing their descriptor
 * (about 150 bytes plus the name each); beyond, the oldest are forgotten. */
#define FILE_MAX_LOG_META 100000
/* Temporary files start with this; no id-derived name can (see fmt.c). */
#define FILE_TMP_PREFIX ".tmp-"

typedef struct evlog evlog;

/* The shared lock table: the file `lock` mapped by every process that has
 * the store open.  Appends to an event log take the robust process-shared
 * mutex of the log's stripe: no system call when uncontended, and the
 * lock passes on (EOWNERDEAD) when its holder dies.  gen changes with
 * every append or delete in the stripe, so a process whose last append
 * left gen as it is now knows that the log is as it left it and skips the
 * fstat() and catch-up reading. */
#define SHM_MAGIC "acp-file-lock-1"
#define SHM_HEADER 4096
typedef union shm_stripe {
    struct {
        pthread_mutex_t mu;
        uint64_t gen;
    } s;
    char pad[128];
} shm_stripe;
typedef struct shm_header {
    char magic[16];
    uint32_t layout; /* sizeof(pthread_mutex_t) and sizeof(shm_stripe) */
    uint32_t nstripes;
} shm_header;
/* Byte-range locks on `lock` (beyond the mapped table's meaning):
 * byte 0 shared by every open handle, byte 1 held while (re)initialising
 * the table, LOCK_DOC_BASE + s for document stripe s. */
#define LOCK_PRESENCE 0
#define LOCK_INIT 1
#define LOCK_DOC_BASE 1024

/* Where an event log ends, as this process last saw it: enough to append
 * the next record without reading the log.  ino, last_off and last_us
 * tell whether a log reopened later is still the same (see evlog_same). */
typedef struct evpos {
    uint64_t dev, ino;
    uint64_t end;      /* offset after the last whole record */
    uint64_t last_off; /* offset of that record */
    int64_t last_seq;  /* its sequence (0: no record) */
    int64_t last_us;   /* its stored_us */
} evpos;

/* The position of a log whose descriptor was closed (LRU), kept so that
 * reopening it costs no reading. */
typedef struct evmeta {
    hlink link; /* keyed by file name (stored after the struct) */
    struct evmeta *prev, *next; /* logs_mu: least recently used list */
    evpos at;
    uint64_t gen; /* the stripe's gen when `at` was known */
    int dirsync;  /* evlog.dirsync at close */
} evmeta;

/* One event log kept open by this process.  fd never changes: when the
 * file is deleted (by delete_run in any process) the entry is retired and
 * a new one opened, so a flush in progress never sees its fd swapped. */
struct evlog {
    hlink link;         /* keyed by file name (stored after the struct) */
    int fd;
    int refs;           /* logs_mu */
    int retired;        /* logs_mu: no longer in the table */
    /* Group commit (sync=always), under smu: appends take tickets in file
     * order; one waiting thread at a time flushes for all of them. */
    pthread_mutex_t smu;
    pthread_cond_t flushed, joined;
    uint64_t ticket;    /* of the last append */
    uint64_t synced;    /* appends up to this ticket are on disk */
    uint64_t failed;    /* appends up to this ticket hit a failed flush */
    int fail_err;
    int flushing, gathering, waiting, last_batch;
    uint64_t last_flush_ns;
    int dirsync;        /* events/ not yet flushed since the log was opened */
    pthread_mutex_t mu; /* one appending thread of this process at a time */
    unsigned stripe;    /* its stripe in the shared lock table */
    int known;          /* mu: `at` is right (read from the file, or kept) */
    int verify;         /* mu: `at` was kept from an earlier descriptor and
                         * not yet checked against the file */
    uint64_t gen;       /* mu: the stripe's gen when `at` was last right */
    evpos at;           /* mu */
    evlog *prev, *next; /* logs_mu: least recently used list */
};

struct acp_backend {
    const acp_plugin_host *host;
    char *path;       /* the store directory as given, for messages */
    int sync;         /* 1: sync=always, 0: sync=none */
    int dirfd, runs_fd, sess_fd, ev_fd;
    int lock_fd;      /* byte-range locks; -1 in a read-only store */
    shm_stripe *shm;  /* the mapped lock table, or NULL (flock on the logs) */
    size_t shm_size;
    int ro_errno;     /* why the store is read-only, or 0 */
    unsigned long tmp_counter;
    pthread_mutex_t stripes[FILE_NSTRIPES];

    pthread_mutex_t idx_mu; /* everything below up to the next blank line */
    int idx_fd;             /* index.log, or -1 (read-only store without one) */
    uint64_t idx_end;       /* bytes of index.log applied to ix */
    findex ix;
    uint32_t scan_gen;

    pthread_mutex_t logs_mu; /* the tables of logs below */
    hmap logs;
    size_t nlogs, max_open_logs;
    evlog *lru_head, *lru_tail;
    hmap metas;
    size_t nmetas;
    evmeta *meta_head, *meta_tail;

    /* Per stripe of the lock table, under its mutex: this handle's own
     * changes.  gen went from clean_gen to own_gen through appends of this
     * handle only, so a log known at a gen >= clean_gen is unchanged while
     * the stripe's gen is still own_gen: no fstat(). */
    uint64_t own_gen[FILE_NSTRIPES], clean_gen[FILE_NSTRIPES];
};

/* Error helpers: the message names the file (store path + rel) and the
 * system's reason. */
acp_status file_err(acp_backend *b, acp_call *call, acp_status code, const char *sub,
                    const char *name, const char *what, int err);
acp_status file_readonly(acp_backend *b, acp_call *call);

/* write() all of buf; 0 or an errno. */
int file_write_all(int fd, const void *buf, size_t len);

/* events.c */
unsigned ev_stripe_of(const char *name, size_t len);
/* Map the lock table (lock_fd open); sets b->shm, or leaves it NULL when
 * the file system cannot share a mapping. */
acp_status ev_lock_table_open(acp_backend *b, acp_call *call);
void ev_lock_table_close(acp_backend *b);
/* Delete events/<name>.log; *had says whether it held events. */
acp_status ev_remove(acp_backend *b, const char *name, size_t nlen, int *had, acp_call *call);
void ev_close_all(acp_backend *b);
acp_status file_add_event(acp_backend *b, const acp_event_record *ev, int64_t *seq,
                          acp_call *call);
acp_status file_get_events(acp_backend *b, const acp_event_query *q, acp_call *call);

#endif /* ACP_FILE_INT_H */
