/* SPDX-License-Identifier: MIT */
/*
 * cache.c - acp-storage-bench-cache: the cache backend (a front before a
 * back) against its front alone and its back alone, in the same run, on
 * W1's documents (workload.c):
 *
 *   acp-storage-bench-cache --cache URI --front URI --back URI
 *                           [--runs N] [--events E] [--repeats R]
 *
 * e.g. --cache 'cache:?front=redis%3A...%3Fprefix%3D{id}%3A&back=postgres%3A...%3Fschema%3D{id}'
 *      --front 'redis://127.0.0.1:6379/0?prefix={id}:'
 *      --back  'postgres://u@127.0.0.1/acp?schema={id}'
 * ("{id}" becomes a token of each repeat and target, so every measurement
 * starts with empty stores; they are left behind in the servers, which
 * bench/cache.sh throws away).  Each repeat measures each store in turn:
 *
 *   save_run   P1 and P2 of W1 (insert, then update to completed), timed together
 *   add_event  E events per run
 *   warm       get_run and get_events of every run once, not timed: the
 *              cache's reads below are hits (its counters are printed)
 *   get_run    every run once, in W1's random order
 *   get_events the first page (limit 100) of every run, same order
 *
 * and prints operations per second (median over repeats, min..max) and the
 * ratios the issue asks for: cache get_run and get_events against the front
 * alone, cache save_run against the back alone.  One thread: the cache adds
 * round trips, which latency shows and threads would hide.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <acp_storage.h>

#include "bench.h"

enum { T_BACK, T_FRONT, T_CACHE, T_N };
enum { M_SAVE, M_ADD, M_GET, M_EVENTS, M_N };
static const char *const target_names[T_N] = {"back alone", "front alone", "cache"};
static const char *const measure_names[M_N] = {"save_run", "add_event", "get_run (hits)",
                                               "get_events (hits)"};

static int fail(const char *what, acp_status st, const acp_error *e)
{
    fprintf(stderr, "acp-storage-bench-cache: %s: %s: %s\n", what, acp_status_name(st),
            e->message);
    return -1;
}

/* One measurement of every M_* on a fresh store; ops/s into out. */
static int measure(const char *uri, const w1 *w, double out[M_N], char *stats, size_t cap)
{
    acp_store *s;
    acp_error e;
    acp_status st = acp_store_open(uri, &s, &e);
    if (st != ACP_OK)
        return fail("open", st, &e);
    int rc = 0;
    double t0 = bench_now();
    for (size_t i = 0; i < w->runs && !rc; i++)
        if ((st = acp_run_save(s, w->doc_new[i], w->doc_new_len[i], &e)) != ACP_OK)
            rc = fail("save_run", st, &e);
    for (size_t i = 0; i < w->runs && !rc; i++)
        if ((st = acp_run_save(s, w->doc_done[i], w->doc_done_len[i], &e)) != ACP_OK)
            rc = fail("save_run", st, &e);
    out[M_SAVE] = 2.0 * (double)w->runs / (bench_now() - t0);
    t0 = bench_now();
    for (size_t i = 0; i < w->runs && !rc; i++)
        for (size_t k = 0; k < w->events_per_run && !rc; k++) {
            size_t d = w1_event_index(w, i, k);
            int64_t seq;
            if ((st = acp_event_add(s, w->run_id[i], w->event_doc[d], w->event_doc_len[d], &seq,
                                    &e)) != ACP_OK)
                rc = fail("add_event", st, &e);
        }
    out[M_ADD] = (double)(w->runs * w->events_per_run) / (bench_now() - t0);
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    for (int pass = 0; pass < 2 && !rc; pass++) { /* pass 0 warms, pass 1 is timed */
        t0 = bench_now();
        for (size_t i = 0; i < w->runs && !rc; i++) {
            char *json;
            size_t len;
            if ((st = acp_run_get(s, w->run_id[w->perm[i]], &json, &len, &e)) != ACP_OK)
                rc = fail("get_run", st, &e);
            else
                acp_free(json);
        }
        out[M_GET] = (double)w->runs / (bench_now() - t0);
        t0 = bench_now();
        for (size_t i = 0; i < w->runs && !rc; i++) {
            acp_page *p;
            if ((st = acp_event_list(s, w->run_id[w->perm[i]], &f, &p, &e)) != ACP_OK)
                rc = fail("get_events", st, &e);
            else if (acp_page_count(p) != w->events_per_run) {
                fprintf(stderr, "acp-storage-bench-cache: %zu events instead of %zu\n",
                        acp_page_count(p), w->events_per_run);
                rc = -1;
                acp_page_free(p);
            } else
                acp_page_free(p);
        }
        out[M_EVENTS] = (double)w->runs / (bench_now() - t0);
    }
    char *json;
    size_t len;
    stats[0] = 0;
    if (!rc && acp_session_get(s, "acp-cache.stats", &json, &len, &e) == ACP_OK) {
        snprintf(stats, cap, "%s", json);
        acp_free(json);
    }
    acp_store_close(s);
    return rc;
}

static void usage(void)
{
    fprintf(stderr, "usage: acp-storage-bench-cache --cache URI --front URI --back URI "
                    "[--runs N] [--events E] [--repeats R]\n");
}

int main(int argc, char **argv)
{
    const char *uri[T_N] = {NULL, NULL, NULL};
    size_t runs = 2000, events = 10;
    int repeats = 5;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            usage();
            return 2;
        }
        if (strcmp(argv[i], "--cache") == 0)
            uri[T_CACHE] = v;
        else if (strcmp(argv[i], "--front") == 0)
            uri[T_FRONT] = v;
        else if (strcmp(argv[i], "--back") == 0)
            uri[T_BACK] = v;
        else if (strcmp(argv[i], "--runs") == 0)
            runs = strtoul(v, NULL, 10);
        else if (strcmp(argv[i], "--events") == 0)
            events = strtoul(v, NULL, 10);
        else if (strcmp(argv[i], "--repeats") == 0)
            repeats = atoi(v);
        else {
            usage();
            return 2;
        }
        i++;
    }
    if (!uri[T_CACHE] || !uri[T_FRONT] || !uri[T_BACK] || runs < 1 || events < 1 ||
        events > 100 || repeats < 1 || repeats > 100) {
        usage();
        return 2;
    }
    w1 w;
    if (w1_build(&w, runs, events, 42) != 0) {
        fprintf(stderr, "acp-storage-bench-cache: out of memory\n");
        return 1;
    }
    double *v[T_N][M_N];
    for (int t = 0; t < T_N; t++)
        for (int m = 0; m < M_N; m++)
            v[t][m] = calloc((size_t)repeats, sizeof(double));
    char stats[512] = "";
    for (int r = 0; r < repeats; r++)
        for (int t = 0; t < T_N; t++) { /* interleaved: every target sees the same machine */
            char id[64];
            snprintf(id, sizeof id, "bc%d_%d_%d", (int)getpid(), r, t);
            char *u = bench_expand(uri[t], NULL, id);
            double out[M_N];
            if (!u || measure(u, &w, out, t == T_CACHE ? stats : (char[8]){0},
                              t == T_CACHE ? sizeof stats : 8) != 0) {
                free(u);
                return 1;
            }
            free(u);
            for (int m = 0; m < M_N; m++)
                v[t][m][r] = out[m];
        }
    printf("acp-storage-bench-cache: %zu runs, %zu events each, %d repeats, one thread\n", runs,
           events, repeats);
    printf("%-20s %22s %22s %22s\n", "ops/s", target_names[0], target_names[1],
           target_names[2]);
    stat3 s3[T_N][M_N];
    for (int m = 0; m < M_N; m++) {
        printf("%-20s", measure_names[m]);
        for (int t = 0; t < T_N; t++) {
            s3[t][m] = stat3_of(v[t][m], (size_t)repeats);
            char cell[64];
            snprintf(cell, sizeof cell, "%.0f (%.0f..%.0f)", s3[t][m].median, s3[t][m].min,
                     s3[t][m].max);
            printf(" %22s", cell);
        }
        printf("\n");
    }
    printf("ratio cache/front get_run    %.2f  (target >= 0.8)\n",
           s3[T_CACHE][M_GET].median / s3[T_FRONT][M_GET].median);
    printf("ratio cache/front get_events %.2f  (target >= 0.8)\n",
           s3[T_CACHE][M_EVENTS].median / s3[T_FRONT][M_EVENTS].median);
    printf("ratio cache/back  save_run   %.2f  (target >= 0.8)\n",
           s3[T_CACHE][M_SAVE].median / s3[T_BACK][M_SAVE].median);
    printf("ratio cache/back  add_event  %.2f\n",
           s3[T_CACHE][M_ADD].median / s3[T_BACK][M_ADD].median);
    printf("cache counters of the last repeat: %s\n", stats);
    for (int t = 0; t < T_N; t++)
        for (int m = 0; m < M_N; m++)
            free(v[t][m]);
    w1_free(&w);
    return 0;
}
