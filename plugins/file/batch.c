/* SPDX-License-Identifier: MIT */
/*
 * batch.c - save_runs and add_events of many runs with sync=always: the
 * files of a batch are written first, then flushed together, then put in
 * place, then each folder is flushed once, before the batch is
 * acknowledged.  A single save or append flushes on its own (file.c,
 * events.c); a batch of n runs would pay n document flushes, n folder
 * flushes and n log flushes one after the other.  Here the data flushes
 * run from a few threads at once, so that the file system commits them
 * in a few shared journal commits, and each folder is flushed once.
 * The crash protocol is in docs/reliability.md, "File backend: batched
 * writes share their flushes".
 */
#define _GNU_SOURCE

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file_int.h"

/* Threads flushing one batch at most (the caller's included): enough for
 * the file system to group the flushes of a batch, few enough to cost
 * nothing next to them. */
#define BATCH_FLUSH_THREADS 16
/* Runs (documents or logs) in flight at once, each with a descriptor open,
 * at most; a bigger batch goes in chunks (batch_chunk). */
#define BATCH_CHUNK 128

/* The chunk for b: half as many as the logs it keeps open, which are a
 * quarter of the process's descriptors at most (file_open), so that a
 * batch never takes more than an eighth more: 128 under the usual limit of
 * 1024. */
static size_t batch_chunk(const acp_backend *b)
{
    size_t c = b->max_open_logs / 2;
    return c < 1 ? 1 : c > BATCH_CHUNK ? BATCH_CHUNK : c;
}

/* ---- running flushes in parallel ------------------------------------------------ */

typedef struct flush_job {
    size_t n;
    atomic_size_t next;
    atomic_int err; /* the first errno */
    int (*fn)(void *ctx, size_t i);
    void *ctx;
} flush_job;

static void *flush_worker(void *arg)
{
    flush_job *j = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n)
            break;
        int e = j->fn(j->ctx, i);
        int zero = 0;
        if (e)
            atomic_compare_exchange_strong(&j->err, &zero, e);
    }
    return NULL;
}

/* fn(ctx, i) for every i < n, from up to BATCH_FLUSH_THREADS threads (the
 * caller's one of them; fewer when threads cannot be made).  0 or the
 * first errno an fn returned; every fn has run either way. */
static int flush_all(size_t n, int (*fn)(void *ctx, size_t i), void *ctx)
{
    flush_job j = {.n = n, .fn = fn, .ctx = ctx};
    atomic_init(&j.next, 0);
    atomic_init(&j.err, 0);
    pthread_t tids[BATCH_FLUSH_THREADS - 1];
    size_t started = 0, want = n < BATCH_FLUSH_THREADS ? n : BATCH_FLUSH_THREADS;
    while (started + 1 < want && pthread_create(&tids[started], NULL, flush_worker, &j) == 0)
        started++;
    flush_worker(&j);
    for (size_t i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    return atomic_load(&j.err);
}

/* ---- runs ---------------------------------------------------------------------- */

static int flush_staged(void *ctx, size_t i)
{
    run_plan *p = &((run_plan *)ctx)[i];
    return p->sd.fd >= 0 && fdatasync(p->sd.fd) != 0 ? errno : 0;
}

/* Stage run i's document (not flushed) under its stripe lock: its version
 * and content are worked out as save_run would, then the lock is let go. */
static acp_status stage_run(acp_backend *b, const acp_run_record *rec, int insert_only,
                            run_plan *p, acp_call *call)
{
    acp_status s = doc_lock(b, p->sp, call);
    if (s != ACP_OK)
        return s;
    s = run_plan_make(b, rec, insert_only, p, call);
    if (s == ACP_OK && !p->exists)
        s = doc_stage(b, b->runs_fd, "runs/", p->fname, &p->doc, 0, &p->sd, call);
    doc_unlock(b, p->sp);
    return s;
}

/* Put run i's flushed document in place under its stripe lock, if nothing
 * changed since it was staged (else save it again on its own, the single
 * save's way).  *placed: renamed into runs/ (the folder needs a flush). */
static acp_status place_run(acp_backend *b, const acp_run_record *rec, int insert_only,
                            run_plan *p, acp_status *result, int *placed, acp_call *call)
{
    acp_status s = doc_lock(b, p->sp, call);
    if (s != ACP_OK)
        return s;
    if (!run_plan_unchanged(b, p)) {
        doc_unlock(b, p->sp);
        doc_abandon(b->runs_fd, &p->sd);
        int exists;
        s = file_put_run(b, rec, insert_only, &exists, call);
        *result = exists ? ACP_CONFLICT : ACP_OK;
        return s;
    }
    fbuf ir = {0};
    idx_change c;
    p->x.ino = p->sd.ino;
    if ((s = ilog_prepare(b, &p->x, p->name, p->nlen, &ir, &c, call)) == ACP_OK) {
        if ((s = doc_commit(b, b->runs_fd, "runs/", p->fname, &p->sd, call)) != ACP_OK)
            idx_change_free(&c);
        else {
            *placed = 1;
            ilog_publish(b, &ir, &c, call);
            acp_report_version(b->host, call, p->version);
        }
    }
    fbuf_free(&ir);
    doc_unlock(b, p->sp);
    return s;
}

/* Steps 1 to 3 for runs[0..n-1] (n <= batch_chunk); *placed is set when
 * a document was renamed into runs/. */
static acp_status save_chunk(acp_backend *b, const acp_run_record *runs, size_t n,
                             int insert_only, acp_status *results, run_plan *ps, int *placed,
                             acp_call *call)
{
    size_t made = 0;
    acp_status s = ACP_OK;
    /* 1. Every document written to its temporary file, none flushed. */
    for (; made < n && s == ACP_OK; made++) {
        run_plan_name(&ps[made], &runs[made]);
        s = stage_run(b, &runs[made], insert_only, &ps[made], call);
        results[made] = ps[made].exists ? ACP_CONFLICT : ACP_OK;
    }
    /* 2. All flushed together; nothing is in place yet, so a failure here
     * stores nothing. */
    int err = s == ACP_OK ? flush_all(n, flush_staged, ps) : 0;
    if (err)
        s = file_err(b, call, ACP_IO, "runs/", "", "cannot flush a new document in", err);
    /* 3. Each put in place (rename, index record), in array order. */
    for (size_t i = 0; s == ACP_OK && i < n; i++)
        if (ps[i].sd.fd >= 0)
            s = place_run(b, &runs[i], insert_only, &ps[i], &results[i], placed, call);
    for (size_t i = 0; i < made; i++)
        run_plan_free(b, &ps[i]);
    return s;
}

acp_status file_save_runs_batch(acp_backend *b, const acp_run_record *runs, size_t n,
                                int insert_only, acp_status *results, acp_call *call)
{
    if (b->ro_errno)
        return file_readonly(b, call);
    size_t chunk = batch_chunk(b);
    run_plan *ps = malloc(chunk * sizeof *ps);
    if (!ps)
        return b->host->error(call, ACP_NOMEM, "out of memory saving %zu runs", n);
    acp_status s = ACP_OK;
    int placed = 0;
    for (size_t i = 0; i < n && s == ACP_OK; i += chunk)
        s = save_chunk(b, runs + i, n - i < chunk ? n - i : chunk, insert_only, results + i,
                       ps, &placed, call);
    free(ps);
    /* 4. runs/ once, also after a failure in 3: what was put in place
     * stays, as after a single save whose call failed later. */
    int err;
    if (placed && (err = dir_flush(b, b->runs_fd)) != 0 && s == ACP_OK)
        s = file_err(b, call, ACP_IO, "runs/", "", "cannot flush directory", err);
    return s;
}

/* ---- events -------------------------------------------------------------------- */

size_t file_event_run_len(const acp_event_record *evs, size_t n)
{
    size_t j = 1;
    while (j < n && evs[j].run_id_len == evs[0].run_id_len &&
           memcmp(evs[j].run_id, evs[0].run_id, evs[0].run_id_len) == 0)
        j++;
    return j;
}

size_t file_event_runs(const acp_event_record *evs, size_t n)
{
    size_t runs = 0;
    for (size_t i = 0; i < n; i += file_event_run_len(evs + i, n - i))
        runs++;
    return runs;
}

acp_status file_finish_delete_of(acp_backend *b, const acp_event_record *ev, acp_call *call)
{
    char name[FMT_NAME_BUF];
    size_t nlen = fmt_id_name(ev->run_id, ev->run_id_len, name);
    return intent_finish_locking(b, name, nlen, call);
}

typedef struct pending_logs {
    acp_backend *b;
    ev_pending *ps;
} pending_logs;

static int flush_pending(void *ctx, size_t i)
{
    pending_logs *pl = ctx;
    return ev_pending_flush(pl->b, &pl->ps[i]);
}

/* Steps 2 and 3 for the pending appends ps[0..n-1]: 0 or an errno. */
static int flush_logs(acp_backend *b, ev_pending *ps, size_t n, int ok)
{
    pending_logs pl = {b, ps};
    int err = ok ? flush_all(n, flush_pending, &pl) : 0;
    int derr = ev_pending_finish(b, ps, n, ok && !err);
    return err ? err : derr;
}

acp_status file_add_events_batch(acp_backend *b, const acp_event_record *evs, size_t n,
                                 int restore, int64_t *seqs, acp_status *results,
                                 acp_call *call)
{
    if (b->ro_errno)
        return file_readonly(b, call);
    size_t chunk = batch_chunk(b);
    ev_pending *ps = calloc(chunk, sizeof *ps);
    if (!ps)
        return b->host->error(call, ACP_NOMEM, "out of memory adding %zu events", n);
    acp_status s = ACP_OK;
    size_t g = 0;
    int err = 0;
    /* 1. Each run's events appended in one write, none flushed; every
     * chunk of runs (and at the end), 2. their logs flushed together and
     * 3. events/ once for the new ones. */
    for (size_t i = 0, j; i < n && s == ACP_OK && !err; i = j) {
        j = i + file_event_run_len(evs + i, n - i);
        for (;;) {
            int deleting;
            s = ev_append_pending(b, &evs[i], j - i, restore, &seqs[i], &results[i], &deleting,
                                  &ps[g], call);
            if (s != ACP_OK || !deleting)
                break;
            if ((s = file_finish_delete_of(b, &evs[i], call)) != ACP_OK)
                break;
        }
        if (++g == chunk) {
            err = flush_logs(b, ps, g, s == ACP_OK);
            g = 0;
        }
    }
    if (g)
        err = flush_logs(b, ps, g, s == ACP_OK && !err);
    free(ps);
    if (s == ACP_OK && err)
        s = file_err(b, call, ACP_IO, "events/", "", "cannot flush a log in", err);
    return s;
}
