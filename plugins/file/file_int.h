/* SPDX-License-Identifier: MIT */
/*
 * file_int.h - state shared by the parts of the file backend (file.c lists
 * them), and the functions each part offers the others, grouped under the
 * file that defines them.
 */
#ifndef ACP_FILE_INT_H
#define ACP_FILE_INT_H

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "acp_storage_plugin.h"
#include "flushgroup.h"
#include "fmt.h"
#include "index.h"

#define FILE_PLUGIN "file"
/* Longest id in bytes (the core checks ids; this sizes buffers). */
#define ACP_FILE_ID_MAX 256
/* Lock stripes for saves and deletes of documents (bytes of the lock file). */
#define FILE_NSTRIPES 256
/* Event log descriptors kept open per store handle, at most (never more
 * than a quarter of RLIMIT_NOFILE, see file_open). */
#define FILE_MAX_OPEN_LOGS 4096
/* Hash chains per stripe of the table of open logs (FILE_NSTRIPES
 * stripes): as many chains in all as logs may be open. */
#define FILE_LOG_CHAINS (FILE_MAX_OPEN_LOGS / FILE_NSTRIPES)
/* Logs whose end this process remembers after closing their descriptor
 * (about 150 bytes plus the name each); beyond, the oldest are forgotten. */
#define FILE_MAX_LOG_META 100000
/* runs/<name> + this: the intent of a delete_run (see intent.c). */
#define FILE_INTENT_EXT ".deleting"
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
        /* Changes with every delete intent made (ev_log_unlock) and log
         * removed in the stripe, and when a holder of mu died: an appender
         * that finds it as it last saw it need not look for an intent. */
        uint64_t dgen;
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
    const char *name;   /* file name without .log (stored after the struct) */
    size_t name_len;
    uint32_t hash;      /* ev_hash of name: its stripe */
    uint64_t khash;     /* host->hash of name: its chain in this process */
    int fd;
    /* References: one per caller of evlog_get, plus one while in the
     * table.  Taken under the stripe's mu, dropped without it; whoever
     * drops the last frees the log. */
    atomic_int refs;
    int in_table;       /* tab mu */
    uint64_t used;      /* tab mu: coarse monotonic ns of the last evlog_get */
    evlog *hnext;       /* tab mu: hash chain */
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
    uint64_t dgen;      /* mu: the stripe's dgen when this log last looked for
                         * a delete intent (UINT64_MAX: not yet) */
    evpos at;           /* mu */
    evlog *prev, *next; /* tab mu: the stripe's least recently used list */
};

/* A stripe of this handle's table of open logs: the logs whose name hashes
 * to stripe s of the lock table.  Appends to logs of different stripes
 * share no lock of this process: the table is split so that appenders to
 * different runs do not queue behind each other.  Padded so that stripes
 * used by different threads do not share cache lines (much). */
typedef union evtab {
    struct {
        pthread_mutex_t mu;
        /* Under the mutex of the lock table's stripe (not mu): this
         * handle's own changes.  gen went from clean_gen to own_gen through
         * appends of this handle only, so a log known at a gen >= clean_gen
         * is unchanged while the stripe's gen is still own_gen: no fstat(). */
        uint64_t own_gen, clean_gen;
        evlog *lru_head, *lru_tail; /* mu: most recently used first */
        size_t n;                   /* mu: logs in the stripe */
        evlog *chain[FILE_LOG_CHAINS];
    } t;
    char pad[256];
} evtab;

struct acp_backend {
    const acp_plugin_host *host;
    char *path;       /* the store directory as given, for messages */
    int sync;         /* 1: sync=always, 0: sync=none */
    int dirfd, runs_fd, sess_fd, ev_fd;
    int lock_fd;      /* byte-range locks; -1 in a read-only store */
    shm_stripe *shm;  /* the mapped lock table, or NULL (flock on the logs) */
    size_t shm_size;
    int ro_errno;     /* why the store is read-only, or 0 */
    int format;       /* the FORMAT version found on open */
    unsigned long tmp_counter;
    pthread_mutex_t stripes[FILE_NSTRIPES];

    pthread_mutex_t ix_mu; /* everything below up to the next blank line */
    int ilog_fd;             /* index.log, or -1 (read-only store without one) */
    uint64_t ilog_end;       /* bytes of index.log applied to ix */
    findex ix;
    uint32_t scan_gen;

    /* The open event logs, in stripes (set up by ev_lock_table_open).
     * nopen counts them all: beyond max_open_logs, the opener of a log
     * closes one that is idle and least recently used in a sample of
     * stripes (see ev_evict). */
    evtab tabs[FILE_NSTRIPES];
    int tabs_ready;
    atomic_size_t nopen;
    atomic_uint evict_next;
    size_t max_open_logs;

    /* Positions of closed logs: only touched when a log's descriptor is
     * opened or closed, or its file deleted (each costs a system call). */
    pthread_mutex_t logs_mu;
    hmap metas;
    size_t nmetas;
    evmeta *meta_head, *meta_tail;

    /* Durable saves (sync=always): one fsync() of runs/ (DIR_RUNS) or
     * sessions/ (DIR_SESSIONS) shared by the saves that renamed into it
     * meanwhile (flushgroup.h, doc_save_indexed in file.c). */
    flush_group dir_flush[2];
};
enum { DIR_RUNS, DIR_SESSIONS };

/* The store's delete mark (acp_run_version_next): the highest run version
 * delete_run removed, as decimal text (file.c). */
#define FILE_MARK_NAME "delete_mark"

/* Document kinds: also the salt of their lock stripes. */
enum { K_RUN = 'r', K_SESSION = 's' };

/* name + ext into out (large enough). */
static inline void fs_ext_name(char *out, const char *name, size_t nlen, const char *ext)
{
    memcpy(out, name, nlen);
    strcpy(out + nlen, ext);
}

/* ---- fsutil.c ---- */

/* Errors whose message names the file (store path + sub + name) and the
 * system's reason err (ENOMEM turns the code into NOMEM). */
acp_status file_err(acp_backend *b, acp_call *call, acp_status code, const char *sub,
                    const char *name, const char *what, int err);
acp_status file_readonly(acp_backend *b, acp_call *call);
/* write() all of buf; 0 or an errno. */
int file_write_all(int fd, const void *buf, size_t len);
/* Read the regular file dfd/name whole into *out (to free); 0 or an errno.
 * *ino (if not NULL) receives its inode number. */
int fs_read_at(int dfd, const char *name, char **out, size_t *len, uint64_t *ino);
/* Not an errno: the name is a symbolic link, a FIFO, a device, or a
 * folder where a file was expected (or the reverse).  file_err() reports
 * it as CORRUPT, and ETIMEDOUT (a lock wait past the deadline) as
 * UNAVAILABLE. */
#define FS_EBADTYPE 100001
/* Lock waits of calls without a deadline end after this long. */
#define FILE_LOCK_WAIT_MS 30000
/* openat(dfd, name) without following a symbolic link and without waiting
 * for a FIFO's peer, and only if it is a regular file (a folder with
 * O_DIRECTORY in flags); O_CLOEXEC is added.  *st (if not NULL) receives
 * its fstat.  The descriptor, or -1 with errno set (FS_EBADTYPE for
 * anything else than a regular file or folder). */
int fs_open(int dfd, const char *name, int flags, mode_t mode, struct stat *st);
/* The monotonic time (ns) at which lock waits of call give up: its
 * deadline (host->remaining_ms), or FILE_LOCK_WAIT_MS from now without
 * one (call NULL included). */
uint64_t fs_deadline(acp_backend *b, acp_call *call);
/* Lock waits that end at deadline (fs_deadline) with ETIMEDOUT: a
 * pthread mutex (its other errors, EOWNERDEAD included, pass through),
 * flock() (op LOCK_SH or LOCK_EX), and an OFD lock of type F_RDLCK or
 * F_WRLCK on the byte at start.  0 or an errno. */
int fs_mutex_lock(pthread_mutex_t *mu, uint64_t deadline);
int fs_flock(int fd, int op, uint64_t deadline);
int fs_ofd_lock(int fd, short type, off_t start, uint64_t deadline);
void fs_ofd_unlock(int fd, off_t start);
/* Create a new temporary file in dfd with open flags; its name goes to tmp
 * (64 bytes).  The descriptor, or -1 with errno set. */
int fs_create_tmp(acp_backend *b, int dfd, const char *tag, char *tmp, int flags);
/* A directory stream over dfd (dfd stays open), or NULL with errno set. */
DIR *fs_open_dir(int dfd);

/* A growable list of names; `failed` records an allocation failure. */
typedef struct namelist {
    char **v;
    size_t n, cap;
    int failed;
} namelist;
void nl_add(namelist *l, const char *s, size_t len);
void nl_free(namelist *l);

/* Lock stripe of document <name> of kind K_*; saves and deletes of one id
 * hold it (this process's mutex and an OFD lock on a byte of `lock`). */
unsigned doc_stripe_of(char kind, const char *name, size_t len);
acp_status doc_lock(acp_backend *b, unsigned s, acp_call *call);
void doc_unlock(acp_backend *b, unsigned s);

/* ---- ilog.c: the index log ---- */

/* (Re)open index.log and forget what was read from the old one. */
acp_status ilog_reopen(acp_backend *b, acp_call *call);
/* Apply what others appended to index.log to ix (ix_mu held); `locked`:
 * the caller holds LOCK_EX on it.  CORRUPT when it is damaged. */
acp_status ilog_tail(acp_backend *b, int locked, acp_call *call);
/* Build x's index.log record and the change to ix, before the document
 * changes on disk; ilog_publish records both once it has (it cannot fail:
 * call only bounds its lock wait, see ilog.c). */
acp_status ilog_prepare(acp_backend *b, const fmt_index_rec *x, const char *name, size_t nlen,
                        fbuf *rec, idx_change *c, acp_call *call);
void ilog_publish(acp_backend *b, const fbuf *rec, idx_change *c, acp_call *call);
/* The same for a delete of name (id NULL: the id ix has); see ilog.c. */
acp_status ilog_forget_prepare(acp_backend *b, int kind, const char *id, size_t id_len,
                               const char *name, size_t nlen, fbuf *rec, idx_change *c,
                               int *listed, acp_call *call);
void ilog_forget_publish(acp_backend *b, int happened, int listed, fbuf *rec, idx_change *c,
                         acp_call *call);
/* Rewrite index.log when open-time repairs left it bloated (best effort). */
void ilog_compact_if_bloated(acp_backend *b, acp_call *call);
/* Keep a damaged index.log aside, as todir/to (todir -1: as
 * index.log.damaged-<time> in the store), and start an empty one. */
acp_status ilog_set_aside(acp_backend *b, int todir, const char *to, acp_call *call);

/* ---- repair.c ---- */

/* Make index.log describe <base>.json of kind as it is now. */
acp_status repair_one(acp_backend *b, int kind, const char *base, size_t blen, acp_call *call);
/* Compare a document folder with the index and repair differences. */
acp_status repair_dir(acp_backend *b, int kind, acp_call *call);
/* Remove a temporary file left by a writer that died. */
void repair_clean_tmp(acp_backend *b, int dfd, const char *name);

/* ---- intent.c: deleting a run ---- */

/* Whether runs/<name>.deleting exists (its name goes to intent, when not
 * NULL: FMT_NAME_BUF + 16 bytes): 1, 0, or -1 with errno set. */
int intent_exists(acp_backend *b, const char *name, size_t nlen, char *intent);
/* Remove the event log, then the intent (doc stripe held, intent made). */
acp_status intent_finish_delete(acp_backend *b, const char *name, size_t nlen, int *had_log,
                                acp_call *call);
/* Finish a leftover delete of run <name> if there is one (doc stripe
 * held; _locking takes it). */
acp_status intent_finish(acp_backend *b, const char *name, size_t nlen, acp_call *call);
acp_status intent_finish_locking(acp_backend *b, const char *name, size_t nlen,
                                 acp_call *call);

/* ---- verify.c ---- */

/* The vtable's verify (ABI 1.2): see verify.c. */
acp_status file_verify(acp_backend *b, uint32_t flags, acp_call *call);

/* ---- stats.c ---- */

/* The vtable's stats (ABI 1.2): figures from the index and the file system. */
acp_status file_stats(acp_backend *b, acp_call *call);

/* ---- open.c ---- */

acp_status file_open(const acp_plugin_host *host, const acp_open_args *args, acp_backend **out,
                     acp_call *call);
void file_close(acp_backend *b);
/* acp-storage migrate: the FORMAT version found and this plugin's (open.c). */
acp_status file_migrate(acp_backend *b, uint32_t flags, acp_call *call);
acp_status file_ping(acp_backend *b, acp_call *call);

/* ---- events.c ---- */
unsigned ev_stripe_of(const char *name, size_t len);
/* Delete events/<name>.log; *had says whether it held events. */
acp_status ev_remove(acp_backend *b, const char *name, size_t nlen, int *had, acp_call *call);
void ev_close_all(acp_backend *b);
/* Append ev.  An append that finds the run's delete intent
 * (FILE_INTENT_EXT) appends nothing and sets *deleting: the caller
 * finishes that delete and calls again. */
acp_status ev_append(acp_backend *b, const acp_event_record *ev, int64_t *seq, int *deleting,
                     acp_call *call);
/* Append n events of one run in one write and one flush (add_events).
 * restore: seqs[i] is given and evs[i] is stored only when it is the next
 * sequence (else results[i] = ACP_CONFLICT); otherwise seqs[i] receives
 * it.  *deleting as ev_append (nothing appended). */
acp_status ev_append_many(acp_backend *b, const acp_event_record *evs, size_t n, int restore,
                          int64_t *seqs, acp_status *results, int *deleting, acp_call *call);
acp_status file_get_events(acp_backend *b, const acp_event_query *q, acp_call *call);

/* ---- locktable.c ---- */
/* Map the lock table (lock_fd open); sets b->shm, or leaves it NULL when
 * the file system cannot share a mapping.  Also sets up the table of open
 * logs (b->tabs): file_open calls it for every store it may write to, before
 * any append or delete. */
acp_status ev_lock_table_open(acp_backend *b, acp_call *call);
void ev_lock_table_close(acp_backend *b);
/* Hold the lock of run <name>'s event log, as appends of every process do:
 * delete_run makes its intent under it, and ev_log_unlock makes every
 * appender look again (which then finds the intent).  0 or an errno
 * (ETIMEDOUT past the call's deadline). */
int ev_log_lock(acp_backend *b, const char *name, size_t nlen, acp_call *call);
void ev_log_unlock(acp_backend *b, const char *name, size_t nlen);
/* Lock a stripe of the shared table, waiting until deadline at most (a
 * holder that is stopped must not stop everyone).  0 or an errno. */
int stripe_mutex_lock(shm_stripe *st, uint64_t deadline);
/* Lock lg for appending (lg->mu held).  *check says whether the log may
 * have changed since this process last appended.  0 or an errno. */
int ev_lock(acp_backend *b, evlog *lg, int *check, uint64_t deadline);
/* Unlock; `changed`: the file was appended to or cut. */
void ev_unlock(acp_backend *b, evlog *lg, int changed);

/* ---- follow.c ---- */

/* wait_events: look (the vtable's get_events) until it emits, woken by
 * inotify on events/ (dirwatch.h). */
acp_status file_wait_events(acp_backend *b, const acp_event_query *q,
                            acp_status (*look)(acp_backend *, const acp_event_query *, acp_call *),
                            acp_call *call);

#endif /* ACP_FILE_INT_H */
