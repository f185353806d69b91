/* SPDX-License-Identifier: MIT */
/*
 * baseline_file.c - the raw baseline of the file backend: plain files
 * written by hand with write() (and write() + fdatasync() when the store
 * flushes, sync=always), holding the same bytes the backend writes.
 *
 *   runs/<id>.json, sessions/<id>.json   one framed record each, replaced
 *                                        by write to a temporary file +
 *                                        rename (+ fdatasync and a
 *                                        directory fsync when durable)
 *   events/<id>.log                      framed records appended with
 *                                        write() on a descriptor kept open
 *                                        while the run streams
 *
 * Records use the backend's framing ({"seq":..,"event":DOC,"crc":".."}
 * with a CRC-32C), so both write and checksum the same bytes.  Lists come
 * from sorted arrays kept in memory (no index file, no locks between
 * processes): the ratio shows what the backend pays for its index log,
 * its cross-process locks and its crash checks.  W1 ids are plain
 * [0-9a-f-] text, so they serve as file names as they are.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "crc32c.h" /* the plugins' shared checksum (plugins/common) */

/* ---- records ------------------------------------------------------------- */

#define TRAILER_LEN 19 /* ,"crc":"xxxxxxxx"}\n */

/* head + doc + trailer into a malloc'ed buffer; its length in *len. */
static char *frame(const char *head, size_t hl, const char *doc, size_t dl, size_t *len)
{
    char *b = malloc(hl + dl + TRAILER_LEN + 1);
    if (!b)
        return NULL;
    memcpy(b, head, hl);
    memcpy(b + hl, doc, dl);
    uint32_t crc = acp_crc32c(0, b, hl + dl);
    snprintf(b + hl + dl, TRAILER_LEN + 1, ",\"crc\":\"%08" PRIx32 "\"}\n", crc);
    *len = hl + dl + TRAILER_LEN;
    return b;
}

/* Check the checksum of a record and find its document after `member`
 * ("\"doc\":" or "\"event\":"), whose length follows "\"doc_len\":". */
static int unframe(const char *rec, size_t len, const char *member, const char **doc,
                   size_t *dl)
{
    if (len < TRAILER_LEN + 2)
        return -1;
    char hex[9];
    snprintf(hex, sizeof hex, "%08" PRIx32, acp_crc32c(0, rec, len - TRAILER_LEN));
    if (memcmp(rec + len - TRAILER_LEN + 8, hex, 8) != 0)
        return -1;
    const char *p = strstr(rec, "\"doc_len\":");
    if (!p)
        return -1;
    char *end;
    unsigned long long n = strtoull(p + 10, &end, 10);
    size_t ml = strlen(member);
    if (strncmp(end, ",", 1) != 0 || strncmp(end + 1, member, ml) != 0)
        return -1;
    *doc = end + 1 + ml;
    *dl = (size_t)n;
    return *doc + *dl <= rec + len ? 0 : -1;
}

/* ---- the in-memory index -------------------------------------------------- */

typedef struct ivec {
    size_t *v, n, cap;
} ivec;

typedef struct fbase {
    const w1 *w;
    int durable;
    int dirfd, runs_fd, sess_fd, ev_fd;
    pthread_mutex_t mu; /* the index */
    ivec all, *by_agent, *by_session;
    unsigned char *indexed;
    unsigned long tmp_counter;
    struct {
        long run;
        int fd;
    } open_log[BENCH_MAX_THREADS];
} fbase;

/* Newest first: created_us descending (W1's instants are distinct). */
static void ivec_insert(const w1 *w, ivec *x, size_t i)
{
    if (x->n == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 64;
        x->v = realloc(x->v, x->cap * sizeof *x->v);
    }
    size_t lo = 0, hi = x->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (w->created_us[x->v[mid]] > w->created_us[i])
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove(x->v + lo + 1, x->v + lo, (x->n - lo) * sizeof *x->v);
    x->v[lo] = i;
    x->n++;
}

static void ivec_remove(ivec *x, size_t i)
{
    for (size_t k = 0; k < x->n; k++)
        if (x->v[k] == i) {
            memmove(x->v + k, x->v + k + 1, (x->n - k - 1) * sizeof *x->v);
            x->n--;
            return;
        }
}

/* ---- files --------------------------------------------------------------------- */

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static char *read_at(int dfd, const char *name, size_t *len)
{
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    char *b = NULL;
    if (fstat(fd, &st) == 0 && (b = malloc((size_t)st.st_size + 1))) {
        size_t got = 0;
        while (got < (size_t)st.st_size) {
            ssize_t k = pread(fd, b + got, (size_t)st.st_size - got, (off_t)got);
            if (k <= 0)
                break;
            got += (size_t)k;
        }
        b[got] = '\0';
        *len = got;
    }
    close(fd);
    return b;
}

/* Replace dfd/name: temporary file, write, (flush), rename, (flush dir). */
static int replace_file(fbase *b, int dfd, const char *name, const char *rec, size_t len)
{
    char tmp[64];
    unsigned long n = __atomic_add_fetch(&b->tmp_counter, 1, __ATOMIC_RELAXED);
    snprintf(tmp, sizeof tmp, ".tmp-%lu", n);
    int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    int bad = write_all(fd, rec, len) != 0 || (b->durable && fdatasync(fd) != 0);
    bad = bad || renameat(dfd, tmp, dfd, name) != 0;
    close(fd);
    if (bad) {
        unlinkat(dfd, tmp, 0);
        return -1;
    }
    return b->durable ? fsync(dfd) : 0;
}

/* Read a framed document and hand back a copy, as the API does. */
static long read_doc(target *t, int dfd, const char *name)
{
    size_t len;
    char *rec = read_at(dfd, name, &len);
    const char *doc;
    size_t dl;
    if (!rec || unframe(rec, len, "\"doc\":", &doc, &dl) != 0) {
        free(rec);
        return target_fail(t, "cannot read %s", name);
    }
    char *c = malloc(dl + 1);
    memcpy(c, doc, dl);
    c[dl] = '\0';
    free(c);
    free(rec);
    return 1;
}

#define FB(t) ((fbase *)(t)->ctx)

static long f_save_run(target *t, int tid, size_t i, int done)
{
    (void)tid;
    fbase *b = FB(t);
    const w1 *w = t->w;
    char head[1024], name[300];
    size_t dl = done ? w->doc_done_len[i] : w->doc_new_len[i];
    size_t hl = (size_t)snprintf(head, sizeof head,
                                 "{\"run_id\":\"%s\",\"agent_name\":\"%s\",\"session_id\":\"%s\","
                                 "\"created_us\":%" PRId64 ",\"doc_len\":%zu,\"doc\":",
                                 w->run_id[i], w->agent_name[w->agent[i]],
                                 w->session_id[w->session[i]], w->created_us[i], dl);
    size_t len;
    char *rec = frame(head, hl, done ? w->doc_done[i] : w->doc_new[i], dl, &len);
    snprintf(name, sizeof name, "%s.json", w->run_id[i]);
    int bad = !rec || replace_file(b, b->runs_fd, name, rec, len) != 0;
    free(rec);
    if (bad)
        return target_fail(t, "save_run %s: %s", name, strerror(errno));
    pthread_mutex_lock(&b->mu);
    if (!b->indexed[i]) {
        b->indexed[i] = 1;
        ivec_insert(w, &b->all, i);
        ivec_insert(w, &b->by_agent[w->agent[i]], i);
        ivec_insert(w, &b->by_session[w->session[i]], i);
    }
    pthread_mutex_unlock(&b->mu);
    return 1;
}

static long f_get_run(target *t, int tid, size_t i)
{
    (void)tid;
    char name[300];
    snprintf(name, sizeof name, "%s.json", t->w->run_id[i]);
    return read_doc(t, FB(t)->runs_fd, name);
}

static long f_add_event(target *t, int tid, size_t r, size_t k)
{
    fbase *b = FB(t);
    const w1 *w = t->w;
    if (b->open_log[tid].run != (long)r) {
        if (b->open_log[tid].fd >= 0)
            close(b->open_log[tid].fd);
        char name[300];
        snprintf(name, sizeof name, "%s.log", w->run_id[r]);
        b->open_log[tid].fd =
            openat(b->ev_fd, name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        b->open_log[tid].run = (long)r;
        if (b->open_log[tid].fd < 0)
            return target_fail(t, "add_event: cannot open %s: %s", name, strerror(errno));
        /* A new log is only durable once its directory entry is. */
        if (b->durable && fsync(b->ev_fd) != 0)
            return target_fail(t, "add_event: cannot flush events/");
    }
    size_t d = w1_event_index(w, r, k);
    char head[128];
    size_t hl = (size_t)snprintf(head, sizeof head,
                                 "{\"seq\":%zu,\"stored_us\":%" PRId64 ",\"doc_len\":%zu,"
                                 "\"event\":",
                                 k + 1, acp_time_now_us(), w->event_doc_len[d]);
    size_t len;
    char *rec = frame(head, hl, w->event_doc[d], w->event_doc_len[d], &len);
    int fd = b->open_log[tid].fd;
    int bad = !rec || write_all(fd, rec, len) != 0 || (b->durable && fdatasync(fd) != 0);
    free(rec);
    return bad ? target_fail(t, "add_event %s: %s", w->run_id[r], strerror(errno)) : 1;
}

static long f_get_events(target *t, int tid, size_t r)
{
    (void)tid;
    char name[300];
    size_t len;
    snprintf(name, sizeof name, "%s.log", t->w->run_id[r]);
    char *buf = read_at(FB(t)->ev_fd, name, &len);
    if (!buf)
        return errno == ENOENT ? 0 : target_fail(t, "get_events %s: %s", name, strerror(errno));
    long n = 0;
    for (size_t pos = 0; pos < len && n < 100;) {
        char *nl = memchr(buf + pos, '\n', len - pos);
        const char *doc;
        size_t dl, rl = nl ? (size_t)(nl - (buf + pos)) + 1 : 0;
        if (!nl)
            break;
        /* Records hold no raw newline: the one after the trailer ends it. */
        if (unframe(buf + pos, rl, "\"event\":", &doc, &dl) != 0) {
            free(buf);
            return target_fail(t, "get_events %s: damaged record", name);
        }
        char *c = malloc(dl + 1);
        memcpy(c, doc, dl);
        c[dl] = '\0';
        free(c);
        n++;
        pos += rl;
    }
    free(buf);
    return n;
}

static long f_list_runs(target *t, int tid, long agent, long session, int64_t offset,
                        int64_t limit, int want_total)
{
    (void)tid;
    fbase *b = FB(t);
    size_t page[1000], n = 0, total;
    pthread_mutex_lock(&b->mu);
    const ivec *x = agent >= 0 ? &b->by_agent[agent] : session >= 0 ? &b->by_session[session]
                                                                     : &b->all;
    total = x->n;
    for (size_t k = (size_t)offset; k < x->n && (int64_t)n < limit; k++)
        page[n++] = x->v[k];
    pthread_mutex_unlock(&b->mu);
    for (size_t k = 0; k < n; k++) {
        char name[300];
        snprintf(name, sizeof name, "%s.json", t->w->run_id[page[k]]);
        if (read_doc(t, b->runs_fd, name) < 0)
            return -1;
    }
    return (long)n + (want_total ? (long)total : 0);
}

static long f_save_session(target *t, int tid, size_t s)
{
    (void)tid;
    const w1 *w = t->w;
    char head[512], name[300];
    size_t hl = (size_t)snprintf(head, sizeof head, "{\"id\":\"%s\",\"doc_len\":%zu,\"doc\":",
                                 w->session_id[s], w->session_doc_len[s]);
    size_t len;
    char *rec = frame(head, hl, w->session_doc[s], w->session_doc_len[s], &len);
    snprintf(name, sizeof name, "%s.json", w->session_id[s]);
    int bad = !rec || replace_file(FB(t), FB(t)->sess_fd, name, rec, len) != 0;
    free(rec);
    return bad ? target_fail(t, "save_session %s: %s", name, strerror(errno)) : 1;
}

static long f_get_session(target *t, int tid, size_t s)
{
    (void)tid;
    char name[300];
    snprintf(name, sizeof name, "%s.json", t->w->session_id[s]);
    return read_doc(t, FB(t)->sess_fd, name);
}

static long f_delete_run(target *t, int tid, size_t i)
{
    (void)tid;
    fbase *b = FB(t);
    const w1 *w = t->w;
    char name[300];
    snprintf(name, sizeof name, "%s.json", w->run_id[i]);
    int gone = unlinkat(b->runs_fd, name, 0) == 0;
    snprintf(name, sizeof name, "%s.log", w->run_id[i]);
    gone += unlinkat(b->ev_fd, name, 0) == 0;
    if (b->durable && (fsync(b->runs_fd) != 0 || fsync(b->ev_fd) != 0))
        return target_fail(t, "delete_run: cannot flush directories");
    pthread_mutex_lock(&b->mu);
    if (b->indexed[i]) {
        b->indexed[i] = 0;
        ivec_remove(&b->all, i);
        ivec_remove(&b->by_agent[w->agent[i]], i);
        ivec_remove(&b->by_session[w->session[i]], i);
    }
    pthread_mutex_unlock(&b->mu);
    return gone ? 1 : target_fail(t, "delete_run %s: nothing deleted", w->run_id[i]);
}

static void f_close(target *t)
{
    fbase *b = FB(t);
    if (!b)
        return;
    for (int i = 0; i < BENCH_MAX_THREADS; i++)
        if (b->open_log[i].fd >= 0)
            close(b->open_log[i].fd);
    int fds[] = {b->runs_fd, b->sess_fd, b->ev_fd, b->dirfd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(b->all.v);
    for (size_t i = 0; b->by_agent && i < b->w->agents; i++)
        free(b->by_agent[i].v);
    for (size_t i = 0; b->by_session && i < b->w->sessions; i++)
        free(b->by_session[i].v);
    free(b->by_agent);
    free(b->by_session);
    free(b->indexed);
    pthread_mutex_destroy(&b->mu);
    free(b);
    t->ctx = NULL;
}

static int sub(int dfd, const char *name)
{
    if (mkdirat(dfd, name, 0755) != 0 && errno != EEXIST)
        return -1;
    return openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int baseline_file_open(target *t, const w1 *w, const baseline_args *a, char *why, size_t wl)
{
    memset(t, 0, sizeof *t);
    fbase *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(why, wl, "out of memory");
        return -1;
    }
    b->w = w;
    b->durable = a->durable;
    b->runs_fd = b->sess_fd = b->ev_fd = -1;
    for (int i = 0; i < BENCH_MAX_THREADS; i++) {
        b->open_log[i].run = -1;
        b->open_log[i].fd = -1;
    }
    pthread_mutex_init(&b->mu, NULL);
    t->ctx = b;
    b->dirfd = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    b->by_agent = calloc(w->agents, sizeof *b->by_agent);
    b->by_session = calloc(w->sessions, sizeof *b->by_session);
    b->indexed = calloc(w->runs ? w->runs : 1, 1);
    if (b->dirfd < 0 || (b->runs_fd = sub(b->dirfd, "runs")) < 0 ||
        (b->sess_fd = sub(b->dirfd, "sessions")) < 0 ||
        (b->ev_fd = sub(b->dirfd, "events")) < 0 || !b->by_agent || !b->by_session ||
        !b->indexed) {
        snprintf(why, wl, "file baseline in %s: %s", a->dir, strerror(errno));
        f_close(t);
        return -1;
    }
    snprintf(t->name, sizeof t->name, "file (raw)");
    snprintf(t->detail, sizeof t->detail,
             "write()%s of the backend's framed records; temp file + rename for documents; "
             "index in memory",
             a->durable ? " + fdatasync()" : "");
    t->w = w;
    t->threads = a->threads;
    t->save_run = f_save_run;
    t->get_run = f_get_run;
    t->add_event = f_add_event;
    t->get_events = f_get_events;
    t->list_runs = f_list_runs;
    t->save_session = f_save_session;
    t->get_session = f_get_session;
    t->delete_run = f_delete_run;
    t->close = f_close;
    return 0;
}

/* ---- durable appends, one flush each -------------------------------------------- */

typedef struct dur_job {
    int ev_fd;
    const w1 *w;
    int shared;
    int failed;
} dur_job;

static void dur_slice(void *arg, int tid, size_t from, size_t to)
{
    dur_job *j = arg;
    char name[64];
    if (j->shared)
        snprintf(name, sizeof name, "shared.log");
    else
        snprintf(name, sizeof name, "writer-%d.log", tid);
    /* A log is durable once its directory entry is: flush the directory
     * when this call creates the log, as the backend does. */
    int fd = openat(j->ev_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    int created = fd >= 0;
    if (fd < 0 && errno == EEXIST)
        fd = openat(j->ev_fd, name, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0 || (created && fsync(j->ev_fd) != 0)) {
        j->failed = 1;
        if (fd >= 0)
            close(fd);
        return;
    }
    for (size_t i = from; i < to; i++) {
        size_t d = i % j->w->n_event_docs;
        char head[128];
        size_t hl = (size_t)snprintf(head, sizeof head,
                                     "{\"seq\":%zu,\"stored_us\":%" PRId64 ",\"doc_len\":%zu,"
                                     "\"event\":",
                                     i + 1, acp_time_now_us(), j->w->event_doc_len[d]);
        size_t len;
        char *rec = frame(head, hl, j->w->event_doc[d], j->w->event_doc_len[d], &len);
        if (!rec || write_all(fd, rec, len) != 0 || fdatasync(fd) != 0)
            j->failed = 1;
        free(rec);
    }
    close(fd);
}

double baseline_file_durable_appends(const char *dir, const w1 *w, int writers, int shared,
                                     size_t from, size_t to)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -1;
    dur_job j = {sub(dfd, "events"), w, shared, 0};
    close(dfd);
    if (j.ev_fd < 0)
        return -1;
    double dt = run_sliced_range(writers, from, to, 1, dur_slice, &j);
    close(j.ev_fd);
    return j.failed ? -1 : dt;
}
