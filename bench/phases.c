/* SPDX-License-Identifier: MIT */
/*
 * phases.c - the phases of W1 and the comparison of a store with its raw
 * baseline: both run every phase in the same process, on fresh instances,
 * one right after the other (which goes first alternates by repeat), so
 * that a ratio compares two measurements taken under the same conditions.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bench.h"

const phase_info bench_phases[PH_N] = {
    [PH_P1] = {"P1", "save_run insert"},
    [PH_P2] = {"P2", "save_run update (completed)"},
    [PH_P3] = {"P3", "get_run, random order"},
    [PH_P4] = {"P4", "add_event (message.part)"},
    [PH_P5] = {"P5", "get_events"},
    [PH_P6] = {"P6", "list_runs by agent, offset, total"},
    [PH_P7] = {"P7", "list_runs by session, total"},
    [PH_P8A] = {"P8a", "save_session"},
    [PH_P8B] = {"P8b", "get_session"},
    [PH_P9] = {"P9", "delete_run (with events)"},
};

/* What each phase needs done before it. */
static const unsigned needs[PH_N] = {
    [PH_P2] = 1u << PH_P1,
    [PH_P3] = 1u << PH_P1,
    [PH_P5] = 1u << PH_P4,
    [PH_P6] = 1u << PH_P1,
    [PH_P7] = 1u << PH_P1,
    [PH_P8B] = 1u << PH_P8A,
    [PH_P9] = 1u << PH_P1 | 1u << PH_P4,
};

size_t phase_ops(const w1 *w, int p)
{
    switch (p) {
    case PH_P4:
        return w->runs * w->events_per_run;
    case PH_P6:
    case PH_P7:
        return w->list_ops;
    case PH_P8A:
    case PH_P8B:
        return w->session_ops;
    case PH_P9:
        return w->delete_ops;
    default:
        return w->runs;
    }
}

long phase_mask_parse(const char *list)
{
    unsigned long mask = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        int found = 0;
        for (int p = 0; p < PH_N; p++) {
            if (strcasecmp(tok, bench_phases[p].key) == 0) {
                mask |= 1u << p;
                found = 1;
            }
        }
        if (strcasecmp(tok, "P8") == 0) {
            mask |= 1u << PH_P8A | 1u << PH_P8B;
            found = 1;
        }
        if (!found)
            return -1;
    }
    return (long)mask;
}

static unsigned closure(unsigned mask)
{
    for (int round = 0; round < PH_N; round++)
        for (int p = 0; p < PH_N; p++)
            if (mask & (1u << p))
                mask |= needs[p];
    return mask;
}

/* ---- running one phase on one target ---------------------------------------- */

typedef struct phase_job {
    target *t;
    int p;
    long items;
    int failed;
} phase_job;

static void phase_slice(void *arg, int tid, size_t from, size_t to)
{
    phase_job *j = arg;
    target *t = j->t;
    const w1 *w = t->w;
    long items = 0;
    for (size_t i = from; i < to; i++) {
        long r;
        switch (j->p) {
        case PH_P1:
            r = t->save_run(t, tid, i, 0);
            break;
        case PH_P2:
            r = t->save_run(t, tid, i, 1);
            break;
        case PH_P3:
            r = t->get_run(t, tid, w->perm[i]);
            break;
        case PH_P4:
            r = t->add_event(t, tid, i / w->events_per_run, i % w->events_per_run);
            break;
        case PH_P5:
            r = t->get_events(t, tid, w->perm[i]);
            break;
        case PH_P6:
            r = t->list_runs(t, tid, (long)w->p6_agent[i], -1, w->p6_offset[i], 10, 1);
            break;
        case PH_P7:
            r = t->list_runs(t, tid, -1, (long)w->p7_session[i], 0, 10, 1);
            break;
        case PH_P8A:
            r = t->save_session(t, tid, i);
            break;
        case PH_P8B:
            r = t->get_session(t, tid, i);
            break;
        default:
            r = t->delete_run(t, tid, w->perm[i]);
            break;
        }
        if (r < 0) {
            __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
            break;
        }
        items += r;
    }
    __atomic_add_fetch(&j->items, items, __ATOMIC_RELAXED);
}

/* Seconds operations [from, to) of the phase took, or -1 on failure
 * (message in t->last_error).  Results produced are added to *items. */
static double run_chunk(target *t, int p, int threads, size_t from, size_t to, long *items)
{
    phase_job j = {t, p, 0, 0};
    size_t align = p == PH_P4 ? t->w->events_per_run : 1;
    double dt = run_sliced_range(threads, from, to, align, phase_slice, &j);
    *items += j.items;
    return j.failed ? -1 : dt;
}

/* ---- fresh stores -------------------------------------------------------------- */

int fresh_store_make(const char *uri_template, const char *tag, fresh_store *fs)
{
    static unsigned counter;
    memset(fs, 0, sizeof *fs);
    if (bench_mkdtemp(fs->dir, sizeof fs->dir, tag) != 0)
        return -1;
    snprintf(fs->unique, sizeof fs->unique, "p%ldn%u", (long)getpid(),
             __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
    if (!(fs->uri = bench_expand(uri_template, fs->dir, fs->unique)))
        return -1;
    bench_scheme(fs->uri, fs->backend, sizeof fs->backend);
    /* Every repeat starts from an empty store: on a shared server that
     * means a schema or key prefix of its own. */
    char *u = NULL;
    if (strcmp(fs->backend, "postgres") == 0 && !bench_uri_has(fs->uri, "schema")) {
        snprintf(fs->schema, sizeof fs->schema, "acpbench_%s", fs->unique);
        u = bench_uri_add(fs->uri, "schema", fs->schema);
    } else if (strcmp(fs->backend, "redis") == 0 && !bench_uri_has(fs->uri, "prefix")) {
        snprintf(fs->prefix, sizeof fs->prefix, "acpbench:%s:", fs->unique);
        u = bench_uri_add(fs->uri, "prefix", fs->prefix);
    }
    if (u) {
        free(fs->uri);
        fs->uri = u;
    }
    return 0;
}

void fresh_store_cleanup(fresh_store *fs)
{
    if (fs->schema[0])
        baseline_postgres_drop_schema(fs->uri, fs->schema);
    if (fs->prefix[0])
        baseline_redis_drop_prefix(fs->uri, fs->prefix);
    if (fs->dir[0])
        bench_rmtree_later(fs->dir);
    free(fs->uri);
    memset(fs, 0, sizeof *fs);
}

/* ---- the comparison --------------------------------------------------------------- */

static int open_baseline(const char *name, target *t, const w1 *w, const baseline_args *a,
                         char *why, size_t wl)
{
    if (strcmp(name, "memory") == 0)
        return baseline_memory_open(t, w, a, why, wl);
    if (strcmp(name, "sqlite") == 0)
        return baseline_sqlite_open(t, w, a, why, wl);
    if (strcmp(name, "file") == 0)
        return baseline_file_open(t, w, a, why, wl);
    if (strcmp(name, "postgres") == 0)
        return baseline_postgres_open(t, w, a, why, wl);
    if (strcmp(name, "redis") == 0)
        return baseline_redis_open(t, w, a, why, wl);
    snprintf(why, wl, "no raw baseline for backend \"%s\"", name);
    return 1;
}

/* sync=always unless the URI says sync=none: the file backend's default. */
static int file_durable(const char *uri)
{
    const char *q = strstr(uri, "sync=");
    return !(q && (q[-1] == '?' || q[-1] == '&') && strncmp(q + 5, "none", 4) == 0);
}

int compare_run(const w1 *w, const char *uri_template, const char *baseline, unsigned mask,
                int threads, int repeats, int quiet, compare_result *out)
{
    memset(out, 0, sizeof *out);
    out->threads = threads;
    out->repeats = repeats;
    unsigned todo = closure(mask);
    for (int p = 0; p < PH_N; p++) {
        out->ph[p].measured = (mask >> p) & 1;
        out->ph[p].ops = phase_ops(w, p);
    }
    for (int rep = 0; rep < repeats && !out->failed; rep++) {
        fresh_store fs, bfs;
        target st, bt;
        char why[1024];
        int have_base = 0;
        if (fresh_store_make(uri_template, "s", &fs) != 0 ||
            fresh_store_make("none:", "b", &bfs) != 0) {
            snprintf(out->error, sizeof out->error, "cannot make a temporary directory");
            out->failed = 1;
            break;
        }
        if (rep == 0)
            snprintf(out->uri, sizeof out->uri, "%s", fs.uri);
        if (api_open(&st, w, fs.uri, threads, why, sizeof why) != 0) {
            snprintf(out->error, sizeof out->error, "%s", why);
            out->failed = 1;
            fresh_store_cleanup(&fs);
            fresh_store_cleanup(&bfs);
            break;
        }
        snprintf(out->backend, sizeof out->backend, "%s", acp_store_backend(api_store(&st)));
        snprintf(out->backend_version, sizeof out->backend_version, "%s",
                 acp_store_backend_version(api_store(&st)));
        snprintf(out->store_detail, sizeof out->store_detail, "%s", st.detail);
        const char *bname = strcmp(baseline, "auto") == 0 ? out->backend : baseline;
        if (strcmp(bname, "none") != 0) {
            baseline_args ba = {fs.uri, bfs.dir, bfs.unique, threads,
                                strcmp(bname, "file") == 0 && file_durable(fs.uri)};
            int rc = open_baseline(bname, &bt, w, &ba, why, sizeof why);
            if (rc < 0) {
                snprintf(out->error, sizeof out->error, "baseline %.64s: %.900s", bname, why);
                out->failed = 1;
            } else if (rc > 0) {
                snprintf(out->baseline_note, sizeof out->baseline_note, "%.290s", why);
            } else {
                have_base = 1;
                out->has_baseline = 1;
                snprintf(out->baseline, sizeof out->baseline, "%s", bt.name);
                snprintf(out->baseline_detail, sizeof out->baseline_detail, "%s", bt.detail);
            }
        } else {
            snprintf(out->baseline_note, sizeof out->baseline_note, "no baseline asked for");
        }
        for (int p = 0; p < PH_N && !out->failed; p++) {
            if (!(todo & (1u << p)))
                continue;
            long si = 0, bi = 0;
            double ds = 0, db = 0;
            /* The phase runs in chunks, store and baseline taking turns
             * (ABBA: who goes first alternates by chunk and by repeat), so
             * that a slow spell of the machine - a disk flushing, another
             * VM - falls on both alike and the ratio stays meaningful. */
            size_t align = p == PH_P4 ? w->events_per_run : 1;
            size_t units = phase_ops(w, p) / align, chunks = units < 10 ? units : 10;
            for (size_t c = 0; c < chunks && ds >= 0 && db >= 0; c++) {
                size_t from = units * c / chunks * align, to = units * (c + 1) / chunks * align;
                for (int k = 0; k < 2 && ds >= 0 && db >= 0; k++) {
                    int store_turn = (k == 0) == ((c + (size_t)rep) % 2 == 0);
                    double dt;
                    if (store_turn) {
                        dt = run_chunk(&st, p, threads, from, to, &si);
                        ds = dt < 0 ? -1 : ds + dt;
                    } else if (have_base) {
                        dt = run_chunk(&bt, p, threads, from, to, &bi);
                        db = dt < 0 ? -1 : db + dt;
                    }
                }
            }
            if (ds < 0 || (have_base && db < 0)) {
                snprintf(out->error, sizeof out->error, "%s %s failed: %s", bench_phases[p].key,
                         ds < 0 ? out->backend : bt.name,
                         ds < 0 ? st.last_error : bt.last_error);
                out->failed = 1;
                break;
            }
            phase_result *pr = &out->ph[p];
            if (!pr->measured)
                continue;
            double ops = (double)pr->ops;
            pr->store[pr->n] = ds > 0 ? ops / ds : 0;
            pr->base[pr->n] = have_base && db > 0 ? ops / db : 0;
            pr->ratio[pr->n] = have_base && pr->base[pr->n] > 0 ? pr->store[pr->n] / pr->base[pr->n]
                                                                  : 0;
            pr->store_items = si;
            pr->base_items = have_base ? bi : -1;
            pr->n++;
            if (!quiet)
                fprintf(stderr, "  [%s rep %d/%d, %d thr] %-4s %-36s %12.0f ops/s%s", out->backend,
                        rep + 1, repeats, threads, bench_phases[p].key, bench_phases[p].what,
                        pr->store[pr->n - 1], have_base ? "" : "\n");
            if (!quiet && have_base)
                fprintf(stderr, "  raw %12.0f  ratio %.2f\n", pr->base[pr->n - 1],
                        pr->ratio[pr->n - 1]);
        }
        st.close(&st);
        if (have_base)
            bt.close(&bt);
        fresh_store_cleanup(&fs);
        fresh_store_cleanup(&bfs);
    }
    return out->failed ? -1 : 0;
}
