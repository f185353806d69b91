/* SPDX-License-Identifier: MIT */
/*
 * events.c - per-run event logs of the file backend.
 *
 * events/<name>.log is a sequence of framed records (fmt.h).  An append
 * holds the log's lock -- the robust process-shared mutex of its stripe in
 * the lock table that every process maps (locktable.c), or flock() where no
 * table could be mapped -- so processes append one at a time.  The next
 * sequence is the last whole record's plus one, which this process
 * remembers together with the log's size, also after closing the log's
 * descriptor (only so many stay open); it reads only what other processes
 * appended since, and not even fstat()s the log when the stripe's counter
 * shows that nobody else touched it.  A log this process knows nothing
 * about is read once from the start, which also finds damage before
 * anything is appended after it.  Bytes after the last whole record can
 * only be the torn tail of a writer that died mid-append (appends are
 * serialised), so the next appender cuts them off; readers take no lock
 * and simply stop at the last whole record.  This process's table of open
 * logs is split into the same stripes, so appends to runs of different
 * stripes share no lock.
 *
 * With sync=always, appends to a log that arrive while it is being flushed
 * wait for the next flush, which one of them does for all (group commit):
 * with many writers, one flush serves many appends.
 */
#define _GNU_SOURCE /* memmem */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "file_int.h"

/* ---- the table of open logs ------------------------------------------------ */

/* The table is split into FILE_NSTRIPES stripes by the hash of the log's
 * name -- the same stripes as the lock table's -- each with its own mutex,
 * hash chains and least recently used list, so that an append takes no
 * lock that appends to logs of other stripes take.  Only opening a log
 * past max_open_logs looks at other stripes: it closes the least recently
 * used idle log among a sample of them (an approximation of a global LRU
 * order: each stripe's list is exact, stripes compare by a coarse clock). */

/* FNV-1a, for the stripe (h % FILE_NSTRIPES) only: every process must
 * find a log in the same stripe of the shared lock table, which a hash
 * keyed per process cannot give.  Ids that share a stripe only share a
 * lock; lookups in this process's table use the host's keyed hash. */
static uint32_t ev_hash(const char *name, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 16777619u;
    return h;
}

unsigned ev_stripe_of(const char *name, size_t len)
{
    return ev_hash(name, len) % FILE_NSTRIPES;
}

_Static_assert(sizeof(((evtab *)0)->t) <= sizeof(evtab), "evtab padding too small");
_Static_assert(FILE_LOG_CHAINS >= 1, "no hash chains");

static evtab *tab_of(acp_backend *b, uint32_t h)
{
    return &b->tabs[h % FILE_NSTRIPES];
}

/* kh: the keyed hash of the log's name (host->hash). */
static evlog **chain_of(evtab *t, uint64_t kh)
{
    return &t->t.chain[kh % FILE_LOG_CHAINS];
}

/* For the LRU order only: a vDSO read of a per-tick value, no system call
 * and no cache line shared between appending threads. */
static uint64_t now_coarse(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void lru_unlink(evtab *t, evlog *lg)
{
    if (lg->prev)
        lg->prev->next = lg->next;
    else
        t->t.lru_head = lg->next;
    if (lg->next)
        lg->next->prev = lg->prev;
    else
        t->t.lru_tail = lg->prev;
    lg->prev = lg->next = NULL;
}

static void lru_push(evtab *t, evlog *lg)
{
    lg->prev = NULL;
    lg->next = t->t.lru_head;
    if (t->t.lru_head)
        t->t.lru_head->prev = lg;
    else
        t->t.lru_tail = lg;
    t->t.lru_head = lg;
}

/* The log of name in stripe t (t's mutex held), or NULL. */
static evlog *tab_find(evtab *t, const char *name, size_t nlen, uint64_t kh)
{
    for (evlog *lg = *chain_of(t, kh); lg; lg = lg->hnext)
        if (lg->khash == kh && lg->name_len == nlen && memcmp(lg->name, name, nlen) == 0)
            return lg;
    return NULL;
}

/* A reference to lg, found in stripe t (t's mutex held): most recently
 * used now. */
static void tab_use(evtab *t, evlog *lg, uint64_t now)
{
    atomic_fetch_add_explicit(&lg->refs, 1, memory_order_relaxed);
    lg->used = now;
    if (t->t.lru_head != lg) {
        lru_unlink(t, lg);
        lru_push(t, lg);
    }
}

static void tab_add(acp_backend *b, evtab *t, evlog *lg)
{
    evlog **c = chain_of(t, lg->khash);
    lg->hnext = *c;
    *c = lg;
    lru_push(t, lg);
    t->t.n++;
    lg->in_table = 1;
    atomic_fetch_add_explicit(&b->nopen, 1, memory_order_relaxed);
}

/* Take lg out of stripe t (t's mutex held).  `counted`: nopen still
 * counts it (an eviction has already uncounted its victim). */
static void tab_del(acp_backend *b, evtab *t, evlog *lg, int counted)
{
    for (evlog **p = chain_of(t, lg->khash); *p; p = &(*p)->hnext) {
        if (*p == lg) {
            *p = lg->hnext;
            break;
        }
    }
    lg->hnext = NULL;
    lru_unlink(t, lg);
    t->t.n--;
    lg->in_table = 0;
    if (counted)
        atomic_fetch_sub_explicit(&b->nopen, 1, memory_order_relaxed);
}

static void evlog_free(evlog *lg)
{
    close(lg->fd);
    pthread_mutex_destroy(&lg->mu);
    pthread_mutex_destroy(&lg->smu);
    pthread_cond_destroy(&lg->flushed);
    pthread_cond_destroy(&lg->joined);
    free(lg);
}

/* Drop a reference; the last one frees the log (it is out of the table
 * then, as the table holds one). */
static void evlog_put(evlog *lg)
{
    if (atomic_fetch_sub_explicit(&lg->refs, 1, memory_order_acq_rel) == 1)
        evlog_free(lg);
}

/* Take lg (the caller holds a reference) out of the table: its file was
 * deleted.  It is freed when its last user is done with it. */
static void evlog_retire(acp_backend *b, evlog *lg)
{
    evtab *t = tab_of(b, lg->hash);
    pthread_mutex_lock(&t->t.mu);
    int was = lg->in_table;
    if (was)
        tab_del(b, t, lg, 1);
    pthread_mutex_unlock(&t->t.mu);
    if (was) {
        /* The table's reference: never the last, as the caller holds one
         * (so a plain decrement, not evlog_put, which may free). */
        int before = atomic_fetch_sub_explicit(&lg->refs, 1, memory_order_acq_rel);
        assert(before > 1);
        (void)before;
    }
}

/* ---- positions of closed logs ------------------------------------------------ */

static void meta_unlink(acp_backend *b, evmeta *m)
{
    hmap_del(&b->metas, &m->link);
    if (m->prev)
        m->prev->next = m->next;
    else
        b->meta_head = m->next;
    if (m->next)
        m->next->prev = m->prev;
    else
        b->meta_tail = m->prev;
    b->nmetas--;
}

/* Remember where lg ends as its descriptor closes (the mutex of lg's
 * stripe held, so that nobody reopens lg before this).  Best effort:
 * without memory (or beyond FILE_MAX_LOG_META) the log is read again from
 * the start when reopened. */
static void meta_keep(acp_backend *b, const evlog *lg)
{
    if (!lg->known)
        return;
    evmeta *m = malloc(sizeof *m + lg->name_len + 1);
    if (!m)
        return;
    char *key = (char *)(m + 1);
    memcpy(key, lg->name, lg->name_len);
    key[lg->name_len] = 0;
    m->link.key = key;
    m->link.key_len = lg->name_len;
    m->at = lg->at;
    m->gen = lg->gen;
    m->dirsync = lg->dirsync;
    evmeta *drop = NULL;
    pthread_mutex_lock(&b->logs_mu);
    hmap_add(&b->metas, &m->link);
    m->prev = NULL;
    m->next = b->meta_head;
    if (b->meta_head)
        b->meta_head->prev = m;
    else
        b->meta_tail = m;
    b->meta_head = m;
    b->nmetas++;
    while (b->nmetas > FILE_MAX_LOG_META) {
        evmeta *old = b->meta_tail;
        meta_unlink(b, old);
        old->next = drop;
        drop = old;
    }
    pthread_mutex_unlock(&b->logs_mu);
    while (drop) {
        evmeta *old = drop;
        drop = old->next;
        free(old);
    }
}

/* Take what this process knows about the closed log `name` (the caller
 * frees it), or NULL. */
static evmeta *meta_take(acp_backend *b, const char *name, size_t nlen)
{
    pthread_mutex_lock(&b->logs_mu);
    evmeta *m = (evmeta *)hmap_get(&b->metas, name, nlen);
    if (m)
        meta_unlink(b, m);
    pthread_mutex_unlock(&b->logs_mu);
    return m;
}

/* ---- opening and closing descriptors ---------------------------------------- */

/* Stripes an eviction looks at (those with an idle log). */
#define EVICT_SAMPLE 8

/* The least recently used idle log of stripe t (t's mutex held), or NULL.
 * Idle: only the table holds it, so no thread holds its mutexes, and the
 * acquire orders its last user's work before whatever the caller does. */
static evlog *tab_idle_tail(evtab *t)
{
    for (evlog *v = t->t.lru_tail; v; v = v->prev)
        if (atomic_load_explicit(&v->refs, memory_order_acquire) == 1)
            return v;
    return NULL;
}

/* Close one idle log, the least recently used of EVICT_SAMPLE stripes'
 * (nopen no longer counts it).  0, or -1 when no log is idle. */
static int evict_one(acp_backend *b)
{
    for (int tries = 0; tries < 2; tries++) {
        unsigned start = atomic_fetch_add_explicit(&b->evict_next, EVICT_SAMPLE,
                                                   memory_order_relaxed);
        evtab *best = NULL;
        uint64_t best_used = UINT64_MAX;
        int seen = 0;
        for (unsigned i = 0; i < FILE_NSTRIPES && seen < EVICT_SAMPLE; i++) {
            evtab *t = &b->tabs[(start + i) % FILE_NSTRIPES];
            pthread_mutex_lock(&t->t.mu);
            evlog *v = tab_idle_tail(t);
            if (v) {
                seen++;
                if (v->used < best_used) {
                    best = t;
                    best_used = v->used;
                }
            }
            pthread_mutex_unlock(&t->t.mu);
        }
        if (!best)
            return -1;
        pthread_mutex_lock(&best->t.mu);
        evlog *v = tab_idle_tail(best); /* the same, unless used meanwhile */
        if (v) {
            tab_del(b, best, v, 0);
            meta_keep(b, v);
        }
        pthread_mutex_unlock(&best->t.mu);
        if (v) {
            evlog_free(v);
            return 0;
        }
    }
    return -1;
}

/* Close idle logs while more than max_open_logs are open.  Each eviction
 * is claimed on nopen first, so that threads opening logs at once close
 * one log each, not one each per log beyond the limit.  Logs in use stay:
 * the bound is exceeded only by as many logs as threads are appending. */
static void ev_evict(acp_backend *b)
{
    size_t n = atomic_load_explicit(&b->nopen, memory_order_relaxed);
    while (n > b->max_open_logs) {
        if (!atomic_compare_exchange_weak_explicit(&b->nopen, &n, n - 1, memory_order_relaxed,
                                                   memory_order_relaxed))
            continue;
        if (evict_one(b) != 0) {
            atomic_fetch_add_explicit(&b->nopen, 1, memory_order_relaxed);
            return;
        }
        n = atomic_load_explicit(&b->nopen, memory_order_relaxed);
    }
}

/* The open log of name (h: its ev_hash, kh: its keyed hash), with a
 * reference; creates the
 * file when missing.  Returns NULL with *err an errno (ENOMEM for
 * memory). */
static evlog *evlog_get(acp_backend *b, const char *name, size_t nlen, uint32_t h, uint64_t kh,
                        int *err)
{
    evtab *t = tab_of(b, h);
    uint64_t now = now_coarse();
    pthread_mutex_lock(&t->t.mu);
    evlog *lg = tab_find(t, name, nlen, kh);
    if (lg) {
        tab_use(t, lg, now);
        pthread_mutex_unlock(&t->t.mu);
        return lg;
    }
    pthread_mutex_unlock(&t->t.mu);

    char fname[FMT_NAME_BUF + 8];
    memcpy(fname, name, nlen);
    memcpy(fname + nlen, ".log", 5);
    int fd = fs_open(b->ev_fd, fname, O_RDWR | O_CREAT | O_APPEND, 0644, NULL);
    if (fd < 0) {
        *err = errno;
        return NULL;
    }
    evlog *nl = calloc(1, sizeof *nl + nlen + 1);
    if (!nl) {
        close(fd);
        *err = ENOMEM;
        return NULL;
    }
    char *key = (char *)(nl + 1);
    memcpy(key, name, nlen);
    nl->name = key;
    nl->name_len = nlen;
    nl->hash = h;
    nl->khash = kh;
    nl->fd = fd;
    atomic_init(&nl->refs, 2); /* the caller's and the table's */
    nl->dirsync = 1;
    nl->stripe = h % FILE_NSTRIPES;
    nl->used = now;
    nl->dgen = UINT64_MAX;
    pthread_mutex_init(&nl->mu, NULL);
    pthread_mutex_init(&nl->smu, NULL);
    pthread_cond_init(&nl->flushed, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&nl->joined, &ca);
    pthread_condattr_destroy(&ca);

    pthread_mutex_lock(&t->t.mu);
    lg = tab_find(t, name, nlen, kh);
    if (lg) { /* another thread opened it meanwhile */
        tab_use(t, lg, now);
        pthread_mutex_unlock(&t->t.mu);
        evlog_free(nl);
        return lg;
    }
    /* Closed before: resume where it ended (checked on first use). */
    evmeta *m = meta_take(b, name, nlen);
    if (m) {
        nl->at = m->at;
        nl->gen = m->gen;
        nl->dirsync = m->dirsync;
        nl->known = 1;
        nl->verify = 1;
    }
    tab_add(b, t, nl);
    pthread_mutex_unlock(&t->t.mu);
    free(m);
    ev_evict(b);
    return nl;
}

void ev_close_all(acp_backend *b)
{
    if (b->tabs_ready) {
        for (int i = 0; i < FILE_NSTRIPES; i++) {
            evtab *t = &b->tabs[i];
            while (t->t.lru_head) {
                evlog *lg = t->t.lru_head;
                tab_del(b, t, lg, 1);
                evlog_free(lg);
            }
            pthread_mutex_destroy(&t->t.mu);
        }
        b->tabs_ready = 0;
    }
    while (b->meta_head) {
        evmeta *m = b->meta_head;
        meta_unlink(b, m);
        free(m);
    }
    free(b->metas.b);
    b->metas.b = NULL;
}

/* ---- reading records ----------------------------------------------------- */

typedef struct evreader {
    int fd;
    uint64_t off; /* file offset of buf[0] */
    char *buf;
    size_t len, cap, pos;
    int eof;
    int err; /* errno of a failed read */
} evreader;

static void evr_init(evreader *r, int fd, uint64_t off)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->off = off;
}

static void evr_seek(evreader *r, uint64_t off)
{
    r->off = off;
    r->len = r->pos = 0;
    r->eof = 0;
}

static uint64_t evr_tell(const evreader *r)
{
    return r->off + r->pos;
}

/* Read at least `need` more bytes past pos if the file has them. */
static int evr_fill(evreader *r, size_t need)
{
    if (r->pos) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->off += r->pos;
        r->len -= r->pos;
        r->pos = 0;
    }
    while (r->len < need && !r->eof) {
        if (r->len == r->cap) {
            /* Grow as the bytes arrive, not to what a (perhaps damaged)
             * header claims: a log ends long before a huge doc_len. */
            size_t want = r->cap > SIZE_MAX / 2 ? SIZE_MAX : r->cap * 2;
            if (want > need)
                want = need;
            if (want < 65536)
                want = 65536;
            char *nb = realloc(r->buf, want);
            if (!nb) {
                r->err = ENOMEM;
                return -1;
            }
            r->buf = nb;
            r->cap = want;
        }
        ssize_t n = pread(r->fd, r->buf + r->len, r->cap - r->len, (off_t)(r->off + r->len));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r->err = errno;
            return -1;
        }
        if (n == 0)
            r->eof = 1;
        r->len += (size_t)n;
    }
    return 0;
}

/* The next whole record: 1 found, 0 clean end of file, -1 a damaged
 * record starts at evr_tell(), -3 the file ends inside a record that
 * starts there (the rest of the file is then in r->buf from r->pos: see
 * evr_torn), -2 read error (r->err). */
static int evr_next(evreader *r, fmt_event *e)
{
    for (;;) {
        size_t need = 0, have = r->len - r->pos;
        if (have == 0) {
            if (r->eof)
                return 0;
            if (evr_fill(r, 1))
                return -2;
            continue;
        }
        int rc = fmt_get_event(r->buf + r->pos, have, e, &need);
        if (rc == 1) {
            r->pos += need;
            return 1;
        }
        if (rc < 0)
            return -1;
        if (r->eof)
            return -3;
        if (evr_fill(r, need > have ? need : have + 1))
            return -2;
    }
}

/* After evr_next() returned -3: whether the rest of the file can be a
 * record cut short by an append that never completed (and so was never
 * acknowledged): a beginning of a record that does not end as whole
 * records end. */
static int evr_torn(const evreader *r)
{
    return !fmt_ends_whole(r->buf + r->pos, r->len - r->pos);
}

/* Whether a whole valid record starts anywhere after the bad record at
 * `bad`: then the damage is in the middle of the log, not a torn tail.
 * Returns 1, 0, or -2 on a read error. */
static int evr_valid_after(evreader *r, uint64_t bad)
{
    static const char mark[] = "{\"seq\":";
    evr_seek(r, bad + 1);
    for (;;) {
        if (evr_fill(r, r->len - r->pos + 65536))
            return -2;
        char *hit = memmem(r->buf + r->pos, r->len - r->pos, mark, sizeof mark - 1);
        if (!hit) {
            if (r->eof)
                return 0;
            /* keep a possible partial mark at the end of the buffer */
            size_t keep = sizeof mark - 2;
            if (r->len - r->pos > keep)
                r->pos = r->len - keep;
            continue;
        }
        r->pos = (size_t)(hit - r->buf);
        fmt_event e;
        int rc = evr_next(r, &e);
        if (rc == 1)
            return 1;
        if (rc == -2)
            return -2;
        if (rc == 0)
            return 0;
        r->pos++; /* not a record (-1, -3): look further */
        if (r->pos > r->len)
            r->pos = r->len;
    }
}

/* ---- appending -------------------------------------------------------------- */

/* pread() all of len bytes at off: 0, or an errno (EIO for a file that
 * ended early). */
static int pread_all(int fd, char *buf, size_t len, uint64_t off)
{
    while (len) {
        ssize_t n = pread(fd, buf, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (n == 0)
            return EIO;
        buf += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* CORRUPT for the damaged record seq of run run_id, at offset off of
 * events/fname. */
static acp_status ev_damaged(acp_backend *b, acp_call *call, const char *run_id, int64_t seq,
                             const char *fname, uint64_t off, const char *why)
{
    return b->host->error(call, ACP_CORRUPT,
                          "run %s: event %lld is damaged (%s/events/%s, offset %llu: %s)",
                          run_id, (long long)seq, b->path, fname, (unsigned long long)off,
                          why);
}

/* Bring lg->at up to the log's size (log locked). */
static acp_status evlog_catch_up(acp_backend *b, evlog *lg, uint64_t size, const char *fname,
                                 const char *run_id, acp_call *call)
{
    if (size < lg->at.end) { /* replaced under the same inode: read it all */
        lg->at.end = lg->at.last_off = 0;
        lg->at.last_seq = lg->at.last_us = 0;
    }
    evreader r;
    evr_init(&r, lg->fd, lg->at.end);
    acp_status st = ACP_OK;
    for (;;) {
        fmt_event e;
        int rc = evr_next(&r, &e);
        if (rc == 1) {
            if (e.seq != lg->at.last_seq + 1) {
                st = ev_damaged(b, call, run_id, lg->at.last_seq + 1, fname, lg->at.end,
                                "it has another sequence number");
                break;
            }
            lg->at.last_off = lg->at.end;
            lg->at.last_seq = e.seq;
            lg->at.last_us = e.stored_us;
            lg->at.end = evr_tell(&r);
            continue;
        }
        if (rc == 0)
            break;
        if (rc == -2) {
            st = file_err(b, call, r.err == ENOMEM ? ACP_NOMEM : ACP_IO, "events/", fname,
                          "cannot read", r.err);
            break;
        }
        /* A bad record: the torn tail of an append that never completed
         * (appends are serialised, so one whose writer died), or damage to
         * an acknowledged record, which must not be cut off and renumbered. */
        uint64_t bad = evr_tell(&r);
        int torn = rc == -3 && evr_torn(&r);
        int later = evr_valid_after(&r, bad);
        if (later == -2) {
            st = file_err(b, call, r.err == ENOMEM ? ACP_NOMEM : ACP_IO, "events/", fname,
                          "cannot read", r.err);
        } else if (later || !torn) {
            st = ev_damaged(b, call, run_id, lg->at.last_seq + 1, fname, bad,
                            later ? "valid records follow it" : "its checks fail");
        } else if (ftruncate(lg->fd, (off_t)lg->at.end) != 0) {
            st = file_err(b, call, ACP_IO, "events/", fname, "cannot cut the torn tail of",
                          errno);
        } else {
            b->host->log(2, FILE_PLUGIN, "%s/events/%s: removed a torn record at offset %llu",
                         b->path, fname, (unsigned long long)bad);
        }
        break;
    }
    free(r.buf);
    return st;
}

/* Whether the log lg reopened (sb: its fstat) is the one whose position
 * lg->at was kept from: same inode, not shorter, and the same last record
 * where it was (an inode number may be reused after a delete). */
static int evlog_same(evlog *lg, const struct stat *sb)
{
    const evpos *at = &lg->at;
    if ((uint64_t)sb->st_dev != at->dev || (uint64_t)sb->st_ino != at->ino ||
        (uint64_t)sb->st_size < at->end || at->end == 0)
        return 0;
    size_t len = (size_t)(at->end - at->last_off);
    char stackbuf[4096];
    char *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (!buf)
        return 0;
    fmt_event e;
    size_t got;
    int same = pread_all(lg->fd, buf, len, at->last_off) == 0 &&
               fmt_get_event(buf, len, &e, &got) == 1 && got == len &&
               e.seq == at->last_seq && e.stored_us == at->last_us;
    if (buf != stackbuf)
        free(buf);
    return same;
}

/* Wait until lg's append with `ticket` is on disk, flushing for every
 * waiting append if no other thread is (group commit).  Logs of different
 * runs flush in parallel: the kernel merges their journal commits, and a
 * busy neighbour's dirty data never lands on this path (as it would with
 * syncfs()).  with_dir 0: events/ is left to the caller (a batch flushes
 * it once for all its logs, ev_pending_finish), and so is lg->dirsync.
 * Returns 0 or the errno of the failed flush. */
static int group_commit(acp_backend *b, evlog *lg, uint64_t ticket, int with_dir)
{
    pthread_mutex_lock(&lg->smu);
    lg->waiting++;
    if (lg->gathering)
        pthread_cond_signal(&lg->joined);
    /* A batch's waiter (with_dir 0) needs the data only; the others also
     * the log's name in events/ (dirsync), which a batch's flush leaves. */
    while ((with_dir ? lg->synced : lg->data_synced) < ticket && lg->failed < ticket) {
        if (lg->flushing) {
            pthread_cond_wait(&lg->flushed, &lg->smu);
            continue;
        }
        lg->flushing = 1;
        /* The writers the last flush released are appending again right
         * now: wait (at most half a flush) until as many are back, or
         * flushes alternate between many appends and few. */
        if (lg->waiting < lg->last_batch) {
            struct timespec dl;
            clock_gettime(CLOCK_MONOTONIC, &dl);
            uint64_t wait_ns = lg->last_flush_ns / 2;
            if (wait_ns > 2000000)
                wait_ns = 2000000;
            dl.tv_nsec += (long)wait_ns;
            if (dl.tv_nsec >= 1000000000L) {
                dl.tv_sec++;
                dl.tv_nsec -= 1000000000L;
            }
            lg->gathering = 1;
            while (lg->waiting < lg->last_batch &&
                   pthread_cond_timedwait(&lg->joined, &lg->smu, &dl) == 0)
                ;
            lg->gathering = 0;
        }
        uint64_t target = lg->ticket;
        int batch = lg->waiting, dirsync = with_dir && lg->dirsync;
        pthread_mutex_unlock(&lg->smu);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int err = fdatasync(lg->fd) != 0 ? errno : 0;
        if (!err && dirsync && fsync(b->ev_fd) != 0)
            err = errno;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        pthread_mutex_lock(&lg->smu);
        lg->last_batch = batch;
        lg->last_flush_ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u +
                            (uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec;
        if (err) {
            /* Those appends may be lost even if a later flush succeeds
             * (the kernel may have dropped the pages): fail them all. */
            lg->failed = target;
            lg->fail_err = err;
        } else {
            if (target > lg->data_synced)
                lg->data_synced = target;
            if (dirsync)
                lg->dirsync = 0;
            if (!lg->dirsync && target > lg->synced)
                lg->synced = target;
        }
        lg->flushing = 0;
        pthread_cond_broadcast(&lg->flushed);
    }
    lg->waiting--;
    int err = ticket <= lg->failed ? lg->fail_err : 0;
    pthread_mutex_unlock(&lg->smu);
    return err;
}

acp_status ev_append(acp_backend *b, const acp_event_record *ev, int64_t *seq, int *deleting,
                     acp_call *call)
{
    acp_status result;
    return ev_append_many(b, ev, 1, 0, seq, &result, deleting, call);
}

/* ev_append_many, or with pend (sync=always) the append without its
 * flush: pend receives the log (a reference) and the append's ticket. */
static acp_status ev_append_impl(acp_backend *b, const acp_event_record *evs, size_t n,
                                 int restore, int64_t *seqs, acp_status *results, int *deleting,
                                 ev_pending *pend, acp_call *call)
{
    const acp_event_record *ev = &evs[0]; /* every one is of this run */
    *deleting = 0;
    if (b->ro_errno)
        return file_readonly(b, call);
    char name[FMT_NAME_BUF], fname[FMT_NAME_BUF + 8];
    size_t nlen = fmt_id_name(ev->run_id, ev->run_id_len, name);
    memcpy(fname, name, nlen);
    memcpy(fname + nlen, ".log", 5);
    uint32_t h = ev_hash(name, nlen);
    uint64_t kh = b->host->hash(name, nlen);
    uint64_t dl = fs_deadline(b, call);

    acp_status st = ACP_OK;
    evlog *lg;
    int check = 0;
    for (;;) {
        int err = 0;
        lg = evlog_get(b, name, nlen, h, kh, &err);
        if (!lg)
            return file_err(b, call, err == ENOMEM ? ACP_NOMEM : ACP_IO, "events/", fname,
                            "cannot open", err);
        if ((err = fs_mutex_lock(&lg->mu, dl)) != 0) {
            evlog_put(lg);
            return file_err(b, call, ACP_IO, "events/", fname, "cannot lock", err);
        }
        if ((err = ev_lock(b, lg, &check, dl)) != 0) {
            pthread_mutex_unlock(&lg->mu);
            evlog_put(lg);
            return file_err(b, call, ACP_IO, "events/", fname, "cannot lock", err);
        }
        if (!check) {
            lg->verify = 0; /* nobody else appended or deleted since */
            break;
        }
        struct stat sb;
        if (fstat(lg->fd, &sb) != 0) {
            err = errno;
            lg->known = 0;
            ev_unlock(b, lg, 0);
            pthread_mutex_unlock(&lg->mu);
            evlog_put(lg);
            return file_err(b, call, ACP_IO, "events/", fname, "cannot stat", err);
        }
        if (sb.st_nlink > 0) {
            /* A delete_run that crashed or failed after leaving its intent
             * deleted the run and this log with it: the caller finishes
             * that delete and calls again, or the event would vanish with
             * the old log.  Intents are made under the log's lock, which
             * changes gen and dgen (ev_log_unlock, or EOWNERDEAD if their
             * maker died holding it): so only a log new to this handle, or
             * whose stripe saw a delete since it last looked, looks (one
             * fstatat); appends with nothing deleted around pay nothing. */
            char intent[FMT_NAME_BUF + 16];
            uint64_t dgen = b->shm ? b->shm[lg->stripe].s.dgen : 0;
            int gone = 0;
            if (!b->shm || lg->dgen != dgen) {
                gone = intent_exists(b, name, nlen, intent);
                if (!gone)
                    lg->dgen = dgen;
            }
            if (gone) {
                err = gone < 0 ? errno : 0;
                ev_unlock(b, lg, 0);
                pthread_mutex_unlock(&lg->mu);
                evlog_put(lg);
                if (gone < 0)
                    return file_err(b, call, ACP_IO, "runs/", intent, "cannot look at", err);
                *deleting = 1;
                return ACP_OK;
            }
            if (lg->known && lg->verify && !evlog_same(lg, &sb)) {
                lg->known = 0;
                pthread_mutex_lock(&lg->smu);
                lg->dirsync = 1; /* perhaps a new file since */
                pthread_mutex_unlock(&lg->smu);
            }
            lg->verify = 0;
            if (!lg->known) {
                /* Read it all once: an append that succeeds must read back,
                 * so damage anywhere in the log is found here, not after.
                 * (A new log is empty: nothing to read.) */
                memset(&lg->at, 0, sizeof lg->at);
                if (sb.st_size > 0)
                    st = evlog_catch_up(b, lg, (uint64_t)sb.st_size, fname, ev->run_id, call);
            } else if ((uint64_t)sb.st_size != lg->at.end) {
                st = evlog_catch_up(b, lg, (uint64_t)sb.st_size, fname, ev->run_id, call);
            }
            lg->at.dev = (uint64_t)sb.st_dev;
            lg->at.ino = (uint64_t)sb.st_ino;
            lg->known = st == ACP_OK;
            break;
        }
        /* The run was deleted since we opened its log: start a new one. */
        lg->known = 0;
        ev_unlock(b, lg, 0);
        pthread_mutex_unlock(&lg->mu);
        evlog_retire(b, lg);
        evlog_put(lg);
    }

    char stackbuf[4096];
    uint64_t ticket = 0;
    fbuf rec;
    fbuf_init_with(&rec, stackbuf, sizeof stackbuf);
    int changed = 0;
    /* The whole batch is one write (and one flush): records in order, a
     * restored one only where its sequence is the next. */
    int64_t next = lg->at.last_seq + 1, last_us = lg->at.last_us;
    size_t last_at = 0;
    for (size_t i = 0; st == ACP_OK && i < n; i++) {
        if (restore && seqs[i] != next) {
            results[i] = ACP_CONFLICT;
            continue;
        }
        last_at = rec.len;
        fmt_event e = {next, evs[i].stored_us, {evs[i].doc, evs[i].doc_len}};
        fmt_put_event(&rec, &e);
        if (rec.failed)
            st = b->host->error(call, ACP_NOMEM, "out of memory adding an event to run %s",
                                ev->run_id);
        results[i] = ACP_OK;
        seqs[i] = next++;
        last_us = evs[i].stored_us;
    }
    if (st == ACP_OK && rec.len) {
        int err = file_write_all(lg->fd, rec.p, rec.len);
        changed = 1;
        if (err) {
            /* Leave no partial record behind. */
            if (ftruncate(lg->fd, (off_t)lg->at.end) != 0) {
                lg->known = 0;
                b->host->log(1, FILE_PLUGIN, "%s/events/%s: cannot cut a failed append: %s",
                             b->path, fname, strerror(errno));
            }
            st = file_err(b, call, ACP_IO, "events/", fname, "cannot append to", err);
        } else {
            lg->at.last_off = lg->at.end + last_at;
            lg->at.end += rec.len;
            lg->at.last_seq = next - 1;
            lg->at.last_us = last_us;
            if (b->sync) { /* tickets only order flushes */
                pthread_mutex_lock(&lg->smu);
                ticket = ++lg->ticket;
                pthread_mutex_unlock(&lg->smu);
            }
        }
    }
    fbuf_free(&rec);
    ev_unlock(b, lg, changed);
    pthread_mutex_unlock(&lg->mu);

    if (st == ACP_OK && b->sync && ticket && pend) {
        pend->lg = lg; /* the reference goes with it */
        pend->ticket = ticket;
        return st;
    }
    if (st == ACP_OK && b->sync && ticket) {
        int err = group_commit(b, lg, ticket, 1);
        if (err)
            st = file_err(b, call, ACP_IO, "events/", fname, "cannot flush", err);
    }
    evlog_put(lg);
    return st;
}

acp_status ev_append_many(acp_backend *b, const acp_event_record *evs, size_t n, int restore,
                          int64_t *seqs, acp_status *results, int *deleting, acp_call *call)
{
    return ev_append_impl(b, evs, n, restore, seqs, results, deleting, NULL, call);
}

acp_status ev_append_pending(acp_backend *b, const acp_event_record *evs, size_t n, int restore,
                             int64_t *seqs, acp_status *results, int *deleting, ev_pending *pend,
                             acp_call *call)
{
    pend->lg = NULL;
    pend->ticket = 0;
    return ev_append_impl(b, evs, n, restore, seqs, results, deleting, pend, call);
}

int ev_pending_flush(acp_backend *b, ev_pending *p)
{
    return p->lg ? group_commit(b, p->lg, p->ticket, 0) : 0;
}

int ev_pending_finish(acp_backend *b, ev_pending *ps, size_t n, int flushed)
{
    /* The logs this batch created (or found replaced) need their names in
     * events/ on disk: one fsync() of the folder for all of them, after
     * their data (a log's name never reaches the disk before its records
     * here, so no empty log is left by a crash that a flush would not). */
    int need = 0, err = 0;
    for (size_t i = 0; flushed && i < n; i++) {
        if (!ps[i].lg)
            continue;
        pthread_mutex_lock(&ps[i].lg->smu);
        /* What is flushed now has its name flushed by the fsync below. */
        ps[i].ticket = ps[i].lg->data_synced;
        need |= ps[i].lg->dirsync;
        pthread_mutex_unlock(&ps[i].lg->smu);
    }
    if (need && fsync(b->ev_fd) != 0)
        err = errno;
    for (size_t i = 0; i < n; i++) {
        evlog *lg = ps[i].lg;
        if (!lg)
            continue;
        if (flushed && !err) {
            /* Its file existed before the fsync: its name is on disk, and
             * so is every append flushed before (other appenders of the log
             * waiting for the name may go). */
            pthread_mutex_lock(&lg->smu);
            lg->dirsync = 0;
            if (ps[i].ticket > lg->synced)
                lg->synced = ps[i].ticket;
            pthread_cond_broadcast(&lg->flushed);
            pthread_mutex_unlock(&lg->smu);
        }
        evlog_put(lg);
        ps[i].lg = NULL;
    }
    return err;
}

acp_status ev_remove(acp_backend *b, const char *name, size_t nlen, int *had, acp_call *call)
{
    char fname[FMT_NAME_BUF + 8];
    memcpy(fname, name, nlen);
    memcpy(fname + nlen, ".log", 5);
    *had = 0;
    shm_stripe *sh = b->shm ? &b->shm[ev_stripe_of(name, nlen)] : NULL;
    int rc = sh ? stripe_mutex_lock(sh, fs_deadline(b, call)) : 0;
    if (rc)
        return file_err(b, call, ACP_IO, "events/", fname, "cannot lock", rc);
    struct stat sb;
    int err = 0, existed = 0;
    if (fstatat(b->ev_fd, fname, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
        /* An empty log (left by a failed first append) holds no events. */
        *had = sb.st_size > 0;
        if (unlinkat(b->ev_fd, fname, 0) == 0)
            existed = 1;
        else if (errno != ENOENT)
            err = errno;
    }
    if (sh) {
        /* Appenders holding the old file notice (link count 0) and reopen;
         * this handle's too (clean_gen). */
        evtab *t = &b->tabs[ev_stripe_of(name, nlen)];
        t->t.own_gen = t->t.clean_gen = ++sh->s.gen;
        sh->s.dgen++;
        pthread_mutex_unlock(&sh->s.mu);
    }
    free(meta_take(b, name, nlen));
    if (err)
        return file_err(b, call, ACP_IO, "events/", fname, "cannot remove", err);
    if (existed && b->sync && fsync(b->ev_fd) != 0)
        return file_err(b, call, ACP_IO, "events/", "", "cannot flush directory", errno);
    return ACP_OK;
}

/* ---- reading ------------------------------------------------------------------ */

acp_status file_get_events(acp_backend *b, const acp_event_query *q, acp_call *call)
{
    char name[FMT_NAME_BUF + 8];
    size_t nlen = fmt_id_name(q->run_id, strlen(q->run_id), name);
    memcpy(name + nlen, ".log", 5);
    int fd = fs_open(b->ev_fd, name, O_RDONLY, 0, NULL);
    if (fd < 0) {
        if (errno == ENOENT)
            return ACP_OK; /* no events yet */
        return file_err(b, call, ACP_IO, "events/", name, "cannot open", errno);
    }
    evreader r;
    evr_init(&r, fd, 0);
    acp_status st = ACP_OK;
    int64_t expect = 1, skipped = 0, emitted = 0;
    int locked = 0;
    shm_stripe *sh = NULL;
    while (emitted < q->limit) {
        fmt_event e;
        uint64_t at = evr_tell(&r);
        int rc = evr_next(&r, &e);
        if (rc == 1) {
            if (e.seq != expect) {
                st = ev_damaged(b, call, q->run_id, expect, name, at,
                                "it has another sequence number");
                break;
            }
            expect++;
            if (e.seq <= q->after_seq)
                continue;
            if (skipped < q->offset) {
                skipped++;
                continue;
            }
            /* Only what is returned: numbering does not depend on it. */
            if (!fmt_event_doc_ok(e.doc.p, e.doc.len)) {
                st = ev_damaged(b, call, q->run_id, e.seq, name, at,
                                "its document is not an object with a type");
                break;
            }
            acp_item it = {0};
            it.doc = e.doc.p;
            it.doc_len = e.doc.len;
            it.seq = e.seq;
            it.stored_us = e.stored_us;
            if (b->host->emit(call, &it) != 0) {
                st = b->host->error(call, ACP_NOMEM, "out of memory returning events");
                break;
            }
            emitted++;
            continue;
        }
        if (rc == 0)
            break;
        if (rc == -2) {
            st = file_err(b, call, r.err == ENOMEM ? ACP_NOMEM : ACP_IO, "events/", name,
                          "cannot read", r.err);
            break;
        }
        /* An append in progress or a torn tail (never acknowledged: the
         * end, as far as whole records go), or damage. */
        uint64_t bad = evr_tell(&r);
        int torn = rc == -3 && evr_torn(&r);
        int later = evr_valid_after(&r, bad);
        if (later == -2) {
            st = file_err(b, call, ACP_IO, "events/", name, "cannot read", r.err);
            break;
        }
        if (torn && !later)
            break;
        if (!locked) {
            /* Perhaps a torn tail being cut and replaced right now: look
             * again while appenders are kept out. */
            uint64_t dl = fs_deadline(b, call);
            int err;
            if (b->shm) {
                sh = &b->shm[ev_stripe_of(name, nlen)];
                if ((err = stripe_mutex_lock(sh, dl)) != 0)
                    sh = NULL;
            } else {
                err = fs_flock(fd, LOCK_SH, dl);
            }
            if (err) {
                st = file_err(b, call, ACP_IO, "events/", name, "cannot lock", err);
                break;
            }
            locked = 1;
            evr_seek(&r, bad);
            continue;
        }
        st = ev_damaged(b, call, q->run_id, expect, name, bad,
                        later ? "valid records follow it" : "its checks fail");
        break;
    }
    if (sh)
        pthread_mutex_unlock(&sh->s.mu);
    free(r.buf);
    close(fd); /* also drops LOCK_SH */
    return st;
}
