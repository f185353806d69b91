/* SPDX-License-Identifier: MIT */
/*
 * scale.c - the scale experiments of acp-storage-bench (--scale):
 *
 *  - list_runs (a page of 10 with and without the total) and get_run
 *    latency at 10k, 100k and 1M runs for every store (memory, sqlite,
 *    file, postgres, redis), to show how each grows with the store (O(log n) or better is
 *    the goal), and a page at depth 100,000 reached by cursor and by
 *    offset;
 *  - thread scaling of P1, P3 and P4 at 1, 2, 4 and 8 threads, against
 *    the raw baselines at the same thread counts;
 *  - durable appends of the file backend (sync=always, group commit) with
 *    8 writers against one write() + fdatasync() per append;
 *  - memory per run and per event of the memory backend.
 *
 * Latencies are sampled until a count or a time budget is reached, and
 * reported as median, 90th percentile, min and max.
 */
#define _GNU_SOURCE /* mallinfo2 */

#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acp_storage_plugin.h" /* ACP_CAP_RUN_FILTERS */
#include "bench.h"

#define EPOCH_US INT64_C(1748779200000000)
#define FILL_THREADS 2
#define LIST_SAMPLES 400
#define GET_SAMPLES 2000
#define BUDGET_S 4.0
#define DEPTH 100000
#define DURABLE_WRITERS 8
#define DURABLE_APPENDS 2000
#define MEM_RUNS 100000
#define MEM_EVENT_RUNS 10000
#define MEM_EVENTS_PER_RUN 10

/* The scale runs: ids, agents, sessions, statuses and instants from the
 * run number.  Statuses by n % 10 (for the filtered probes): 0-5 completed,
 * 6-7 in-progress, 8 failed, 9 cancelled; final runs finished a second
 * after creation. */
typedef struct srun {
    char id[37];
    unsigned agent, session;
    int64_t created_us;
    const char *status;
} srun;
static const char *const scale_status[10] = {"completed", "completed",   "completed",
                                             "completed", "completed",   "completed",
                                             "in-progress", "in-progress", "failed",
                                             "cancelled"};

static void srun_of(uint64_t seed, uint64_t n, srun *r)
{
    uint64_t s = seed ^ (n * UINT64_C(0xD1B54A32D192ED03));
    w1_run_id(r->id, seed ^ UINT64_C(0x5ca1e), n);
    r->agent = (unsigned)(bench_rand(&s) % 10);
    r->session = (unsigned)(bench_rand(&s) % 1000);
    r->created_us = EPOCH_US + (int64_t)n * 1000 + (int64_t)(bench_rand(&s) % 1000);
    r->status = scale_status[n % 10];
}

/* ---- filling ------------------------------------------------------------------ */

typedef struct fill_job {
    acp_store *s;
    uint64_t seed;
    size_t base;
    int failed;
    char err[512];
} fill_job;

/* Runs saved per acp_run_save_many() call: one transaction per batch on
 * sqlite and postgres (a pipeline on redis) instead of one per run, so a
 * 1,000,000-run fill takes minutes; the documents are the same. */
#define FILL_BATCH 1000
#define FILL_DOC_MAX 4096 /* as the single saves had; a document is ~870 bytes */

static void fill_slice(void *arg, int tid, size_t from, size_t to)
{
    (void)tid;
    fill_job *j = arg;
    char *buf = malloc((size_t)FILL_BATCH * FILL_DOC_MAX);
    const char **docs = malloc(FILL_BATCH * sizeof *docs);
    size_t *lens = malloc(FILL_BATCH * sizeof *lens);
    if (!buf || !docs || !lens) {
        snprintf(j->err, sizeof j->err, "fill: out of memory");
        j->failed = 1;
    }
    char agent[16], sess[16];
    for (size_t i = from; i < to && !j->failed;) {
        size_t n = 0;
        for (; n < FILL_BATCH && i < to; n++, i++) {
            srun r;
            srun_of(j->seed, j->base + i, &r);
            snprintf(agent, sizeof agent, "agent-%u", r.agent);
            snprintf(sess, sizeof sess, "sess-%04u", r.session);
            int final = r.status[0] != 'i';
            char *doc = buf + n * FILL_DOC_MAX;
            lens[n] = w1_run_doc_status(doc, FILL_DOC_MAX, r.id, agent, sess, r.status,
                                        r.created_us,
                                        final ? r.created_us + 1000000 : INT64_MIN, j->base + i);
            docs[n] = doc;
        }
        acp_error e;
        if (acp_run_save_many(j->s, docs, lens, n, &e) != ACP_OK) {
            snprintf(j->err, sizeof j->err, "save_runs: %.480s", e.message);
            j->failed = 1;
        }
    }
    free(lens);
    free(docs);
    free(buf);
}

/* ---- sampling ------------------------------------------------------------------- */

enum {
    PR_LIST_TOTAL,
    PR_LIST_AGENT_TOTAL,
    PR_LIST_PAGE,
    PR_GET,
    PR_OFFSET,
    PR_CURSOR,
    /* filtered pages of 10 with their total (issue 19) */
    PR_STATUS_TOTAL,   /* --status failed (a tenth of the runs) */
    PR_STATUSES_TOTAL, /* --status completed,failed (seven tenths) */
    PR_SINCE_TOTAL,    /* --since: the newest tenth */
    PR_RANGE_TOTAL,    /* --status failed and a tenth of the time range, in the middle */
    PR_AGENT_RANGE_TOTAL, /* --status failed --agent A, the older half (a two-hundredth) */
    PR_N
};
#define PR_FILTERED PR_STATUS_TOTAL
static const char *const probe_names[PR_N] = {
    "list_total_ms", "list_agent_total_ms", "list_page_ms", "get_run_ms", "offset_page_ms",
    "cursor_page_ms", "list_status_total_ms", "list_statuses_total_ms", "list_since_total_ms",
    "list_status_range_total_ms", "list_status_agent_range_total_ms"};
static const char *const probe_text[PR_N] = {
    "page+total", "agent page+total", "page only", "get_run", "offset page", "cursor page",
    "status page+total", "2 statuses page+total", "since page+total",
    "status+range page+total", "status+agent+range page+total"};

typedef struct probe {
    acp_store *s;
    uint64_t seed;
    size_t size;
    int64_t depth;
    const char *cursor;
    char err[512];
} probe;

/* One call of kind k; 0 or -1. */
static int probe_once(probe *p, int k, uint64_t *rng)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    char agent[16];
    acp_page *pg = NULL;
    acp_error e;
    acp_status st;
    switch (k) {
    case PR_GET: {
        srun r;
        srun_of(p->seed, bench_rand(rng) % p->size, &r);
        char *json;
        st = acp_run_get(p->s, r.id, &json, NULL, &e);
        if (st == ACP_OK)
            acp_free(json);
        break;
    }
    default:
        if (k == PR_LIST_AGENT_TOTAL || k == PR_AGENT_RANGE_TOTAL) {
            snprintf(agent, sizeof agent, "agent-%u", (unsigned)(bench_rand(rng) % 10));
            f.agent_name = agent;
        }
        f.want_total = k == PR_LIST_TOTAL || k == PR_LIST_AGENT_TOTAL || k >= PR_FILTERED;
        /* Run n was created at about EPOCH_US + n ms. */
        int64_t span = (int64_t)p->size * 1000;
        if (k == PR_STATUS_TOTAL || k == PR_RANGE_TOTAL || k == PR_AGENT_RANGE_TOTAL)
            f.status = "failed";
        if (k == PR_AGENT_RANGE_TOTAL)
            f.created_until_us = EPOCH_US + span / 2;
        if (k == PR_STATUSES_TOTAL)
            f.status = "completed,failed";
        if (k == PR_SINCE_TOTAL)
            f.created_since_us = EPOCH_US + span - span / 10;
        if (k == PR_RANGE_TOTAL) {
            f.created_since_us = EPOCH_US + span / 2;
            f.created_until_us = EPOCH_US + span / 2 + span / 10;
        }
        if (k == PR_OFFSET)
            f.offset = p->depth;
        if (k == PR_CURSOR)
            f.cursor = p->cursor;
        st = acp_run_list(p->s, &f, &pg, &e);
        if (st == ACP_OK && acp_page_count(pg) != 10) {
            snprintf(e.message, sizeof e.message, "a page of %zu runs instead of 10",
                     acp_page_count(pg));
            st = ACP_PLUGIN;
        }
        acp_page_free(pg);
        break;
    }
    if (st != ACP_OK) {
        snprintf(p->err, sizeof p->err, "%s: %.480s", probe_text[k], e.message);
        return -1;
    }
    return 0;
}

typedef struct lat {
    double median, p90, min, max;
    size_t n;
} lat;

static int sample(probe *p, int k, size_t max_n, lat *out)
{
    double *v = malloc(max_n * sizeof *v);
    uint64_t rng = p->seed + (uint64_t)k;
    size_t n = 0;
    if (!v)
        return -1;
    double start = bench_now();
    while (n < max_n && (n < 20 || bench_now() - start < BUDGET_S)) {
        double t0 = bench_now();
        if (probe_once(p, k, &rng) != 0) {
            free(v);
            return -1;
        }
        v[n++] = (bench_now() - t0) * 1e3;
    }
    stat3 s = stat3_of(v, n);
    *out = (lat){s.median, percentile(v, n, 90), s.min, s.max, n};
    free(v);
    return 0;
}

static void jw_lat(jw *j, const lat *l)
{
    jw_obj(j);
    jw_key(j, "median");
    jw_num(j, l->median);
    jw_key(j, "p90");
    jw_num(j, l->p90);
    jw_key(j, "min");
    jw_num(j, l->min);
    jw_key(j, "max");
    jw_num(j, l->max);
    jw_key(j, "samples");
    jw_int(j, (long long)l->n);
    jw_end_obj(j);
}

/* ---- list and get latency by size ---------------------------------------------- */

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* The filtered pages with their totals at the current size: one line of
 * medians, their latencies in the size's JSON object; *worst receives the
 * slowest median (the last size's is the target's). */
static int scale_filtered(probe *p, jw *j, FILE *out, double *worst)
{
    fprintf(out, "  %9s %11s ", "", "filtered:");
    *worst = 0;
    for (int k = PR_FILTERED; k < PR_N; k++) {
        lat l;
        if (sample(p, k, LIST_SAMPLES, &l) != 0) {
            fprintf(stderr, "acp-storage-bench: scale: %s\n", p->err);
            return -1;
        }
        fprintf(out, " %s %.3f (%.3f; %.3f..%.3f)%s", probe_text[k], l.median, l.p90, l.min,
                l.max, k + 1 < PR_N ? "," : "\n");
        jw_key(j, probe_names[k]);
        jw_lat(j, &l);
        if (l.median > *worst)
            *worst = l.median;
    }
    return 0;
}

static int scale_sizes(const bench_opts *o, const char *uri_template, jw *j, FILE *out)
{
    fresh_store fs;
    acp_store *s = NULL;
    acp_error e;
    int rc = 0;
    if (fresh_store_make(uri_template, "scale", &fs) != 0)
        return -1;
    if (acp_store_open(fs.uri, &s, &e) != ACP_OK) {
        fprintf(stderr, "acp-storage-bench: scale: cannot open %s: %s\n", fs.uri, e.message);
        fresh_store_cleanup(&fs);
        return -1;
    }
    size_t sizes[8], n = 0;
    for (size_t i = 0; i < o->n_scale_sizes; i++)
        if (strcmp(fs.backend, "file") != 0 || o->scale_sizes[i] <= o->scale_file_max)
            sizes[n++] = o->scale_sizes[i];
    qsort(sizes, n, sizeof *sizes, cmp_size);

    fprintf(out, "\nscale: %s (%s), latency in ms: median (p90; min..max)\n", fs.uri,
            acp_store_backend(s));
    fprintf(out, "  %9s %11s  %-30s %-30s %-30s %-30s\n", "runs", "fill/s", probe_text[0],
            probe_text[1], probe_text[2], probe_text[3]);
    jw_obj(j);
    jw_key(j, "uri");
    jw_str(j, fs.uri);
    jw_key(j, "backend");
    jw_str(j, acp_store_backend(s));
    jw_key(j, "sizes");
    jw_arr(j);
    probe p = {s, 0x5ca1e, 0, 0, NULL, ""};
    size_t filled = 0;
    double worst_filtered = -1;
    lat first[PR_N], last[PR_N];
    for (size_t i = 0; i < n && rc == 0; i++) {
        fill_job fj = {s, p.seed, filled, 0, ""};
        if (!o->quiet)
            fprintf(stderr, "  [scale %s] filling to %zu runs\n", fs.backend, sizes[i]);
        double dt = run_sliced(FILL_THREADS, sizes[i] - filled, 1, fill_slice, &fj);
        if (fj.failed) {
            fprintf(stderr, "acp-storage-bench: scale %s: %s\n", fs.backend, fj.err);
            rc = -1;
            break;
        }
        double rate = dt > 0 ? (double)(sizes[i] - filled) / dt : 0;
        filled = sizes[i];
        p.size = filled;
        lat l[4];
        for (int k = 0; k < 4 && rc == 0; k++)
            if (sample(&p, k, k == PR_GET ? GET_SAMPLES : LIST_SAMPLES, &l[k]) != 0) {
                fprintf(stderr, "acp-storage-bench: scale %s: %s\n", fs.backend, p.err);
                rc = -1;
            }
        if (rc != 0)
            break;
        char cells[4][64];
        for (int k = 0; k < 4; k++) {
            snprintf(cells[k], sizeof cells[k], "%.3f (%.3f; %.3f..%.3f)", l[k].median, l[k].p90,
                     l[k].min, l[k].max);
            if (i == 0)
                first[k] = l[k];
            last[k] = l[k];
        }
        fprintf(out, "  %9zu %11.0f  %-30s %-30s %-30s %-30s\n", filled, rate, cells[0], cells[1],
                cells[2], cells[3]);
        jw_obj(j);
        jw_key(j, "runs");
        jw_int(j, (long long)filled);
        jw_key(j, "fill_runs_per_s");
        jw_num(j, rate);
        for (int k = 0; k < 4; k++) {
            jw_key(j, probe_names[k]);
            jw_lat(j, &l[k]);
        }
        if (acp_store_capabilities(s) & ACP_CAP_RUN_FILTERS)
            rc = scale_filtered(&p, j, out, &worst_filtered);
        jw_end_obj(j);
    }
    jw_end_arr(j);
    if (rc == 0 && n > 1) {
        fprintf(out, "  growth from %zu to %zu runs (x%.0f): page+total x%.2f, page x%.2f, "
                     "get_run x%.2f\n",
                sizes[0], filled, (double)filled / (double)sizes[0],
                last[PR_LIST_TOTAL].median / first[PR_LIST_TOTAL].median,
                last[PR_LIST_PAGE].median / first[PR_LIST_PAGE].median,
                last[PR_GET].median / first[PR_GET].median);
        jw_key(j, "growth");
        jw_obj(j);
        jw_key(j, "from_runs");
        jw_int(j, (long long)sizes[0]);
        jw_key(j, "to_runs");
        jw_int(j, (long long)filled);
        jw_key(j, "list_total");
        jw_num(j, last[PR_LIST_TOTAL].median / first[PR_LIST_TOTAL].median);
        jw_key(j, "list_page");
        jw_num(j, last[PR_LIST_PAGE].median / first[PR_LIST_PAGE].median);
        jw_key(j, "get_run");
        jw_num(j, last[PR_GET].median / first[PR_GET].median);
        jw_end_obj(j);
    }
    if (rc == 0 && n > 0) {
        /* Target (issue 8): a page with its total under 1 ms at the largest size. */
        int met = last[PR_LIST_TOTAL].median < 1.0;
        fprintf(out, "  target: page with total < 1 ms at %zu runs: %s (%.3f ms)\n", filled,
                met ? "met" : "MISSED", last[PR_LIST_TOTAL].median);
        jw_key(j, "target_list_total_under_1ms");
        jw_obj(j);
        jw_key(j, "runs");
        jw_int(j, (long long)filled);
        jw_key(j, "median_ms");
        jw_num(j, last[PR_LIST_TOTAL].median);
        jw_key(j, "met");
        jw_bool(j, met);
        jw_end_obj(j);
    }
    if (rc == 0 && worst_filtered >= 0) {
        /* The same target for the filtered pages (issue 19): the slowest of them. */
        int met = worst_filtered < 1.0;
        fprintf(out, "  target: filtered page with total < 1 ms at %zu runs: %s (slowest %.3f ms)\n",
                filled, met ? "met" : "MISSED", worst_filtered);
        jw_key(j, "target_filtered_total_under_1ms");
        jw_obj(j);
        jw_key(j, "runs");
        jw_int(j, (long long)filled);
        jw_key(j, "slowest_median_ms");
        jw_num(j, worst_filtered);
        jw_key(j, "met");
        jw_bool(j, met);
        jw_end_obj(j);
    }
    /* A page deep in the list: by cursor and by offset. */
    if (rc == 0 && filled > 1000) {
        int64_t depth = filled >= DEPTH + 10 ? DEPTH : (int64_t)filled - 10;
        acp_run_filter f = ACP_RUN_FILTER_INIT;
        acp_page *pg = NULL;
        f.offset = depth - 10;
        if (acp_run_list(s, &f, &pg, &e) != ACP_OK || !acp_page_next_cursor(pg)) {
            fprintf(stderr, "acp-storage-bench: scale %s: no cursor at depth %lld: %s\n",
                    fs.backend, (long long)depth, pg ? "no next cursor" : e.message);
            rc = -1;
        } else {
            p.cursor = acp_page_next_cursor(pg);
            p.depth = depth;
            lat lo, lc;
            if (sample(&p, PR_OFFSET, LIST_SAMPLES, &lo) != 0 ||
                sample(&p, PR_CURSOR, LIST_SAMPLES, &lc) != 0) {
                fprintf(stderr, "acp-storage-bench: scale %s: %s\n", fs.backend, p.err);
                rc = -1;
            } else {
                fprintf(out,
                        "  page at depth %lld of %zu: by cursor %.3f ms (%.3f..%.3f), by offset "
                        "%.3f ms (%.3f..%.3f)\n",
                        (long long)depth, filled, lc.median, lc.min, lc.max, lo.median, lo.min,
                        lo.max);
                jw_key(j, "depth");
                jw_obj(j);
                jw_key(j, "runs");
                jw_int(j, (long long)filled);
                jw_key(j, "depth");
                jw_int(j, depth);
                jw_key(j, probe_names[PR_CURSOR]);
                jw_lat(j, &lc);
                jw_key(j, probe_names[PR_OFFSET]);
                jw_lat(j, &lo);
                jw_end_obj(j);
            }
        }
        acp_page_free(pg);
    }
    jw_key(j, "error");
    jw_str(j, rc == 0 ? NULL : p.err[0] ? p.err : "see stderr");
    jw_end_obj(j);
    acp_store_close(s);
    fresh_store_cleanup(&fs);
    return rc;
}

/* ---- thread scaling ---------------------------------------------------------------- */

static int scale_threads(const bench_opts *o, const w1 *w, const char *uri_template, jw *j,
                         FILE *out)
{
    static const int counts[] = {1, 2, 4, 8};
    static const int phases[] = {PH_P1, PH_P3, PH_P4};
    unsigned mask = 1u << PH_P1 | 1u << PH_P3 | 1u << PH_P4;
    int reps = o->repeats < 3 ? o->repeats : 3, rc = 0;
    compare_result *r = malloc(sizeof *r);
    if (!r)
        return -1;
    jw_obj(j);
    jw_key(j, "uri");
    jw_str(j, uri_template);
    jw_key(j, "repeats");
    jw_int(j, reps);
    jw_key(j, "threads");
    jw_arr(j);
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        if (compare_run(w, uri_template, "auto", mask, counts[c], reps, o->quiet, r) != 0) {
            fprintf(stderr, "acp-storage-bench: threads %s: %s\n", uri_template, r->error);
            rc = -1;
            break;
        }
        if (c == 0)
            fprintf(out, "\nthread scaling: %s (%s), ops/s median [ratio to %s]\n", r->uri,
                    r->backend, r->has_baseline ? r->baseline : "no baseline");
        fprintf(out, "  %d thread%s:", counts[c], counts[c] > 1 ? "s" : " ");
        jw_obj(j);
        jw_key(j, "threads");
        jw_int(j, counts[c]);
        for (size_t k = 0; k < sizeof phases / sizeof phases[0]; k++) {
            phase_result *pr = &r->ph[phases[k]];
            stat3 ss = stat3_of(pr->store, (size_t)pr->n), qs = stat3_of(pr->ratio, (size_t)pr->n),
                  bs = stat3_of(pr->base, (size_t)pr->n);
            fprintf(out, "  %s %s %9.0f [%.2f]", bench_phases[phases[k]].key,
                    bench_phases[phases[k]].what, ss.median, r->has_baseline ? qs.median : 0);
            jw_key(j, bench_phases[phases[k]].key);
            jw_obj(j);
            jw_key(j, "store_ops_per_s");
            jw_stat(j, &ss);
            jw_key(j, "baseline_ops_per_s");
            if (r->has_baseline)
                jw_stat(j, &bs);
            else
                jw_null(j);
            jw_key(j, "ratio");
            if (r->has_baseline)
                jw_stat(j, &qs);
            else
                jw_null(j);
            jw_end_obj(j);
        }
        fprintf(out, "\n");
        jw_end_obj(j);
    }
    jw_end_arr(j);
    jw_end_obj(j);
    free(r);
    return rc;
}

/* ---- durable appends ----------------------------------------------------------------- */

typedef struct dur_job {
    acp_store *s;
    const w1 *w;
    int shared;
    int failed;
    char err[512];
} dur_job;

static void dur_slice(void *arg, int tid, size_t from, size_t to)
{
    dur_job *j = arg;
    char run[32];
    if (j->shared)
        snprintf(run, sizeof run, "durable-shared");
    else
        snprintf(run, sizeof run, "durable-%d", tid);
    for (size_t i = from; i < to && !j->failed; i++) {
        size_t d = i % j->w->n_event_docs;
        acp_error e;
        if (acp_event_add(j->s, run, j->w->event_doc[d], j->w->event_doc_len[d], NULL, &e) !=
            ACP_OK) {
            snprintf(j->err, sizeof j->err, "%.500s", e.message);
            j->failed = 1;
        }
    }
}

/* One configuration of the durable experiment, kept open across chunks. */
typedef struct dur_cfg {
    int store;   /* the backend (1) or raw appends (0) */
    int writers;
    int shared;  /* all writers on one run / log */
    size_t n;    /* appends in all */
    fresh_store fs;
    acp_store *s;
    double secs;
} dur_cfg;

#define DUR_CHUNKS 10

static int dur_open(dur_cfg *c, char *err, size_t el)
{
    acp_error e;
    if (fresh_store_make(c->store ? "file:{dir}/store?sync=always" : "none:", "dur", &c->fs) != 0)
        return -1;
    if (c->store && acp_store_open(c->fs.uri, &c->s, &e) != ACP_OK) {
        snprintf(err, el, "%.500s", e.message);
        return -1;
    }
    return 0;
}

/* Appends [from, to) of configuration c; -1 on failure. */
static int dur_chunk(dur_cfg *c, const w1 *w, size_t from, size_t to, char *err, size_t el)
{
    double dt;
    if (c->store) {
        dur_job j = {c->s, w, c->shared, 0, ""};
        dt = run_sliced_range(c->writers, from, to, 1, dur_slice, &j);
        if (j.failed) {
            snprintf(err, el, "%s", j.err);
            return -1;
        }
    } else {
        dt = baseline_file_durable_appends(c->fs.dir, w, c->writers, c->shared, from, to);
        if (dt < 0) {
            snprintf(err, el, "raw appends in %s failed", c->fs.dir);
            return -1;
        }
    }
    c->secs += dt;
    return 0;
}

/* The configurations measured, in order. */
enum { D_S1, D_SN, D_SNS, D_B1, D_BN, D_BNS, D_N };
static const char *const dur_keys[D_N] = {
    "store_1_writer", "store_n_writers_own_runs", "store_n_writers_one_run",
    "raw_1_writer",   "raw_n_writers_own_files",  "raw_n_writers_one_file"};

/* All six configurations advance chunk by chunk, taking turns in a
 * rotating order, so that the disk's slow and fast spells (flush latency
 * here varies from 0.1 to over 1 ms from one second to the next) fall on
 * every configuration alike. */
static int durable_rep(const w1 *w, double rate[D_N], char *err, size_t el)
{
    dur_cfg c[D_N] = {
        {1, 1, 0, DURABLE_APPENDS / 4, {0}, NULL, 0},
        {1, DURABLE_WRITERS, 0, DURABLE_APPENDS, {0}, NULL, 0},
        {1, DURABLE_WRITERS, 1, DURABLE_APPENDS, {0}, NULL, 0},
        {0, 1, 0, DURABLE_APPENDS / 4, {0}, NULL, 0},
        {0, DURABLE_WRITERS, 0, DURABLE_APPENDS, {0}, NULL, 0},
        {0, DURABLE_WRITERS, 1, DURABLE_APPENDS, {0}, NULL, 0},
    };
    int rc = 0;
    for (int k = 0; k < D_N && rc == 0; k++)
        rc = dur_open(&c[k], err, el);
    for (size_t ch = 0; ch < DUR_CHUNKS && rc == 0; ch++) {
        for (int i = 0; i < D_N && rc == 0; i++) {
            dur_cfg *x = &c[(i + (int)ch) % D_N];
            rc = dur_chunk(x, w, x->n * ch / DUR_CHUNKS, x->n * (ch + 1) / DUR_CHUNKS, err, el);
        }
    }
    for (int k = 0; k < D_N; k++) {
        rate[k] = c[k].secs > 0 ? (double)c[k].n / c[k].secs : 0;
        acp_store_close(c[k].s);
        fresh_store_cleanup(&c[k].fs);
    }
    return rc;
}

static int scale_durable(const bench_opts *o, const w1 *w, jw *j, FILE *out)
{
    int reps = o->repeats < 3 ? o->repeats : 3;
    double v[D_N][BENCH_MAX_REPEATS], own[BENCH_MAX_REPEATS], one[BENCH_MAX_REPEATS];
    char err[512] = "";
    for (int r = 0; r < reps; r++) {
        double rate[D_N];
        if (!o->quiet)
            fprintf(stderr, "  [durable appends, rep %d/%d]\n", r + 1, reps);
        if (durable_rep(w, rate, err, sizeof err) != 0) {
            fprintf(stderr, "acp-storage-bench: durable appends: %s\n", err);
            jw_obj(j);
            jw_key(j, "error");
            jw_str(j, err);
            jw_end_obj(j);
            return -1;
        }
        for (int k = 0; k < D_N; k++)
            v[k][r] = rate[k];
        own[r] = rate[D_SN] / rate[D_B1];
        one[r] = rate[D_SNS] / rate[D_B1];
    }
    stat3 st[D_N];
    for (int k = 0; k < D_N; k++)
        st[k] = stat3_of(v[k], (size_t)reps);
    stat3 qown = stat3_of(own, (size_t)reps), qone = stat3_of(one, (size_t)reps);
    fprintf(out,
            "\ndurable appends: file backend with sync=always (group commit) against "
            "write()+fdatasync() per append; appends/s, median (min..max) over %d\n",
            reps);
    static const char *const text[D_N] = {
        "store, 1 writer", "store, %d writers on their own runs", "store, %d writers on one run",
        "raw, 1 writer", "raw, %d writers on their own files", "raw, %d writers on one file"};
    for (int k = 0; k < D_N; k++) {
        char label[64];
        snprintf(label, sizeof label, text[k], DURABLE_WRITERS);
        fprintf(out, "  %-36s %8.0f (%.0f..%.0f)\n", label, st[k].median, st[k].min,
                st[k].max);
    }
    fprintf(out,
            "  target: %d writers at least 5x one flush per append (raw, 1 writer): "
            "own runs %.2fx %s, one run %.2fx %s\n",
            DURABLE_WRITERS, qown.median, qown.median >= 5 ? "met" : "MISSED", qone.median,
            qone.median >= 5 ? "met" : "MISSED");
    jw_obj(j);
    jw_key(j, "writers");
    jw_int(j, DURABLE_WRITERS);
    jw_key(j, "appends");
    jw_int(j, DURABLE_APPENDS);
    for (int k = 0; k < D_N; k++) {
        jw_key(j, dur_keys[k]);
        jw_stat(j, &st[k]);
    }
    jw_key(j, "ratio_own_runs_to_raw_1_writer");
    jw_stat(j, &qown);
    jw_key(j, "ratio_one_run_to_raw_1_writer");
    jw_stat(j, &qone);
    jw_key(j, "target_met");
    jw_bool(j, qown.median >= 5 && qone.median >= 5);
    jw_end_obj(j);
    return 0;
}

/* ---- memory per run --------------------------------------------------------------------- */

static size_t heap_in_use(void)
{
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

static int scale_memory(const w1 *w, jw *j, FILE *out)
{
    acp_store *s;
    acp_error e;
    if (acp_store_open("memory:", &s, &e) != ACP_OK) {
        fprintf(stderr, "acp-storage-bench: memory: %s\n", e.message);
        return -1;
    }
    fill_job fj = {s, 0xbeef, 0, 0, ""};
    size_t before = heap_in_use();
    fill_slice(&fj, 0, 0, MEM_RUNS);
    size_t after_runs = heap_in_use();
    double doc_bytes = 0;
    char doc[4096];
    for (size_t i = 0; i < 1000; i++) {
        srun r;
        srun_of(fj.seed, i, &r);
        doc_bytes += (double)w1_run_doc(doc, sizeof doc, r.id, "agent-0", "sess-0000",
                                        r.created_us, i);
    }
    doc_bytes /= 1000;
    for (size_t i = 0; i < MEM_EVENT_RUNS && !fj.failed; i++) {
        srun r;
        srun_of(fj.seed, i, &r);
        for (size_t k = 0; k < MEM_EVENTS_PER_RUN; k++) {
            size_t d = (i + k) % w->n_event_docs;
            if (acp_event_add(s, r.id, w->event_doc[d], w->event_doc_len[d], NULL, &e) != ACP_OK)
                fj.failed = 1;
        }
    }
    size_t after_events = heap_in_use();
    acp_store_close(s);
    if (fj.failed) {
        fprintf(stderr, "acp-storage-bench: memory per run: %s\n", fj.err[0] ? fj.err : e.message);
        return -1;
    }
    double per_run = (double)(after_runs - before) / MEM_RUNS;
    double per_event =
        (double)(after_events - after_runs) / (MEM_EVENT_RUNS * MEM_EVENTS_PER_RUN);
    fprintf(out,
            "\nmemory backend, heap in use (mallinfo2): %.0f bytes per run of %.0f-byte "
            "documents (%.0f over the document) at %d runs; %.0f bytes per %.0f-byte event\n",
            per_run, doc_bytes, per_run - doc_bytes, MEM_RUNS, per_event, w->avg_event_doc);
    jw_obj(j);
    jw_key(j, "runs");
    jw_int(j, MEM_RUNS);
    jw_key(j, "bytes_per_run");
    jw_num(j, per_run);
    jw_key(j, "run_doc_bytes");
    jw_num(j, doc_bytes);
    jw_key(j, "events");
    jw_int(j, MEM_EVENT_RUNS * MEM_EVENTS_PER_RUN);
    jw_key(j, "bytes_per_event");
    jw_num(j, per_event);
    jw_key(j, "event_doc_bytes");
    jw_num(j, w->avg_event_doc);
    jw_end_obj(j);
    return 0;
}

int scale_run(const bench_opts *o, const w1 *w, const char *const *uris, size_t n_uris, jw *j,
              FILE *out)
{
    int rc = 0;
    jw_obj(j);
    jw_key(j, "sizes");
    jw_arr(j);
    for (size_t i = 0; i < n_uris; i++) {
        if (scale_sizes(o, uris[i], j, out) != 0)
            rc = -1;
        fflush(out);
    }
    jw_end_arr(j);
    jw_key(j, "thread_scaling");
    jw_arr(j);
    for (size_t i = 0; i < n_uris; i++) {
        if (scale_threads(o, w, uris[i], j, out) != 0)
            rc = -1;
        fflush(out);
    }
    jw_end_arr(j);
    jw_key(j, "durable_appends");
    if (scale_durable(o, w, j, out) != 0)
        rc = -1;
    jw_key(j, "memory_per_run");
    if (scale_memory(w, j, out) != 0)
        rc = -1;
    jw_end_obj(j);
    return rc;
}
