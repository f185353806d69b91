/* SPDX-License-Identifier: MIT */
/*
 * cache.c - acp-storage-bench-cache: the cache backend (a front before a
 * back) against its front alone and its back alone, in the same run, on
 * W1's documents (workload.c):
 *
 *   acp-storage-bench-cache --cache URI --front URI --back URI
 *                           [--runs N] [--events E] [--repeats R] [--chunk N]
 *
 * e.g. --cache 'cache:?front=redis%3A...%3Fprefix%3D{id}%3A&back=postgres%3A...%3Fschema%3D{id}'
 *      --front 'redis://127.0.0.1:6379/0?prefix={id}:'
 *      --back  'postgres://u@127.0.0.1/acp?schema={id}'
 * ("{id}" becomes a token of each repeat and target, so every measurement
 * starts with empty stores; they are left behind in the servers, which
 * bench/cache.sh throws away).  Each repeat opens the three stores and
 * measures, in this order:
 *
 *   save_run   P1 and P2 of W1 (insert, then update to completed), timed
 *              together and each alone
 *   add_event  E events per run
 *   warm       get_run and get_events of every run once, not timed: the
 *              cache's reads below are hits (its counters are printed)
 *   get_run    every run once, in W1's random order
 *   get_events the first page (limit 100) of every run, same order
 *
 * Within each, the stores take turns every --chunk operations (default
 * 10): on a shared machine the load changes from second to second, and a
 * store measured a few seconds after another sees another machine.
 * Printed: operations per second (median over repeats, min..max); the
 * ratios the issue asks for (cache get_run and get_events against the
 * front alone, cache save_run against the back alone), each the median of
 * the repeats' own ratios; and where a cache save's time went, from the
 * cache's counters.  One thread: the cache adds round trips, which latency
 * shows and threads would hide.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <acp_storage.h>

#include "bench.h"

enum { T_BACK, T_FRONT, T_CACHE, T_N };
/* M_SAVE is P1 and P2 together (the figure); M_P1 and M_P2 show
 * what a create and an update cost each. */
enum { M_SAVE, M_P1, M_P2, M_ADD, M_GET, M_EVENTS, M_N };
static const char *const target_names[T_N] = {"back alone", "front alone", "cache"};
static const char *const measure_names[M_N] = {"save_run (P1+P2)", "  P1 create",
                                               "  P2 update", "add_event",
                                               "get_run (hits)", "get_events (hits)"};

static int fail(const char *what, acp_status st, const acp_error *e)
{
    fprintf(stderr, "acp-storage-bench-cache: %s: %s: %s\n", what, acp_status_name(st),
            e->message);
    return -1;
}

/* Number of operations of measure m (not M_SAVE). */
static size_t ops_of(const w1 *w, int m)
{
    return m == M_ADD ? w->runs * w->events_per_run : w->runs;
}

/* Operation i of measure m (not M_SAVE) on s; 0 or -1 (reported). */
static int step(acp_store *s, const w1 *w, int m, size_t i)
{
    acp_error e;
    acp_status st = ACP_OK;
    if (m == M_P1)
        st = acp_run_save(s, w->doc_new[i], w->doc_new_len[i], &e);
    else if (m == M_P2)
        st = acp_run_save(s, w->doc_done[i], w->doc_done_len[i], &e);
    else if (m == M_ADD) {
        size_t r = i / w->events_per_run, d = w1_event_index(w, r, i % w->events_per_run);
        int64_t seq;
        st = acp_event_add(s, w->run_id[r], w->event_doc[d], w->event_doc_len[d], &seq, &e);
    } else if (m == M_GET) {
        char *json;
        size_t len;
        if ((st = acp_run_get(s, w->run_id[w->perm[i]], &json, &len, &e)) == ACP_OK)
            acp_free(json);
    } else {
        acp_event_filter f = ACP_EVENT_FILTER_INIT;
        acp_page *p;
        if ((st = acp_event_list(s, w->run_id[w->perm[i]], &f, &p, &e)) == ACP_OK) {
            size_t n = acp_page_count(p);
            acp_page_free(p);
            if (n != w->events_per_run) {
                fprintf(stderr, "acp-storage-bench-cache: %zu events instead of %zu\n", n,
                        w->events_per_run);
                return -1;
            }
        }
    }
    return st == ACP_OK ? 0 : fail(measure_names[m], st, &e);
}

/* Measure m on every store, in chunks of `chunk` operations that the
 * stores take in turns (who goes first rotates by chunk): the load of a
 * shared machine drifts over seconds, and this way each store sees the
 * same drift, so their ratio holds even when their absolute figures do
 * not.  Seconds spent per store into secs; for each turn, the cache's
 * speed relative to store ref on the same operations moments apart
 * (ref's time over the cache's) appended to turns[*nturns]. */
static int phase(acp_store *const s[T_N], const w1 *w, int m, size_t chunk, int ref,
                 double secs[T_N], double *turns, size_t *nturns)
{
    size_t n = ops_of(w, m);
    for (int t = 0; t < T_N; t++)
        secs[t] = 0;
    for (size_t from = 0, c = 0; from < n; from += chunk, c++) {
        size_t to = from + chunk < n ? from + chunk : n;
        double dt[T_N];
        for (int j = 0; j < T_N; j++) {
            int t = (int)((c + (size_t)j) % T_N);
            double t0 = bench_now();
            for (size_t i = from; i < to; i++)
                if (step(s[t], w, m, i) != 0)
                    return -1;
            dt[t] = bench_now() - t0;
            secs[t] += dt[t];
        }
        turns[(*nturns)++] = dt[ref] / dt[T_CACHE];
    }
    return 0;
}

/* The number after "name": in a flat JSON object, -1 when absent. */
static double member(const char *json, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "\"%s\":", name);
    const char *p = strstr(json, key);
    return p ? strtod(p + strlen(key), NULL) : -1;
}

/* Where a cache save's time went (its counters after P1 and P2), in µs
 * per save: in the back, after the back (removing the run's entry from the
 * front), and the rest (the cache's own work and the calls' dispatch). */
enum { S_BACK, S_FRONT, S_REST, S_N };

/* One repeat: every measure on fresh stores; ops/s into out[target][m],
 * the cache save's split into split. */
static int measure(char *const uri[T_N], const w1 *w, size_t chunk, double out[T_N][M_N],
                   double turn_ratio[M_N], double split[S_N], char *stats, size_t cap)
{
    acp_store *s[T_N] = {NULL, NULL, NULL};
    acp_error e;
    int rc = 0;
    for (int t = 0; t < T_N && !rc; t++) {
        acp_status st = acp_store_open(uri[t], &s[t], &e);
        if (st != ACP_OK)
            rc = fail("open", st, &e);
    }
    double secs[M_N][T_N];
    static const int order[] = {M_P1, M_P2, M_ADD, M_GET, M_EVENTS, M_GET, M_EVENTS};
    /* The turns of each measure (M_SAVE: those of P1, then P2's). */
    size_t most = ops_of(w, M_ADD) / chunk + 2, nt[M_N] = {0};
    double *turns = malloc(M_N * 2 * most * sizeof *turns);
    if (!turns)
        rc = -1;
    for (size_t k = 0; k < sizeof order / sizeof *order && !rc; k++) {
        /* the first get_run and get_events pass warms the cache (its
         * reads below are hits) and is overwritten by the second */
        int m = order[k], ref = m == M_GET || m == M_EVENTS ? T_FRONT : T_BACK;
        size_t from = nt[M_SAVE];
        nt[m] = 0;
        rc = phase(s, w, m, chunk, ref, secs[m], turns + (size_t)m * 2 * most, &nt[m]);
        if (!rc && (m == M_P1 || m == M_P2)) {
            memcpy(turns + from, turns + (size_t)m * 2 * most, nt[m] * sizeof *turns);
            nt[M_SAVE] = from + nt[m];
        }
        if (m == M_P2 && !rc) {
            char *json;
            size_t len;
            acp_status st = acp_session_get(s[T_CACHE], "acp-cache.stats", &json, &len, &e);
            if (st != ACP_OK)
                rc = fail("the cache's counters", st, &e);
            else {
                double n = member(json, "writes");
                split[S_BACK] = member(json, "write_back_us") / n;
                split[S_FRONT] = member(json, "write_front_us") / n;
                split[S_REST] = (secs[M_P1][T_CACHE] + secs[M_P2][T_CACHE]) * 1e6 / n -
                                split[S_BACK] - split[S_FRONT];
                acp_free(json);
            }
        }
    }
    for (int t = 0; t < T_N && !rc; t++) {
        for (int m = M_P1; m < M_N; m++)
            out[t][m] = (double)ops_of(w, m) / secs[m][t];
        out[t][M_SAVE] = 2.0 * (double)w->runs / (secs[M_P1][t] + secs[M_P2][t]);
    }
    for (int m = 0; m < M_N && !rc; m++)
        turn_ratio[m] = stat3_of(turns + (size_t)m * 2 * most, nt[m]).median;
    free(turns);
    char *json;
    size_t len;
    stats[0] = 0;
    if (!rc && acp_session_get(s[T_CACHE], "acp-cache.stats", &json, &len, &e) == ACP_OK) {
        snprintf(stats, cap, "%s", json);
        acp_free(json);
    }
    for (int t = 0; t < T_N; t++)
        if (s[t])
            acp_store_close(s[t]);
    return rc;
}

static void usage(void)
{
    fprintf(stderr, "usage: acp-storage-bench-cache --cache URI --front URI --back URI "
                    "[--runs N] [--events E] [--repeats R] [--chunk N]\n");
}

/* The ratio a/b of every repeat (the stores of one repeat took turns, so
 * each repeat's ratio is a paired measurement), then the repeats' median
 * turn (robust to a turn that a preemption of the machine fell on):
 * median (min..max) over the repeats of each. */
static void ratio(const char *what, const double *a, const double *b, const double *turn,
                  int repeats, const char *target)
{
    double q[100], t[100];
    for (int r = 0; r < repeats; r++) {
        q[r] = a[r] / b[r];
        t[r] = turn[r];
    }
    stat3 s = stat3_of(q, (size_t)repeats), u = stat3_of(t, (size_t)repeats);
    printf("%-32s %.2f (%.2f..%.2f)  turns %.2f (%.2f..%.2f)%s\n", what, s.median, s.min,
           s.max, u.median, u.min, u.max, target);
}

int main(int argc, char **argv)
{
    const char *uri[T_N] = {NULL, NULL, NULL};
    size_t runs = 2000, events = 10, chunk = 10;
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
        else if (strcmp(argv[i], "--chunk") == 0)
            chunk = strtoul(v, NULL, 10);
        else {
            usage();
            return 2;
        }
        i++;
    }
    if (!uri[T_CACHE] || !uri[T_FRONT] || !uri[T_BACK] || runs < 1 || events < 1 ||
        events > 100 || repeats < 1 || repeats > 100 || chunk < 1) {
        usage();
        return 2;
    }
    w1 w;
    if (w1_build(&w, runs, events, 42) != 0) {
        fprintf(stderr, "acp-storage-bench-cache: out of memory\n");
        return 1;
    }
    double *v[T_N][M_N], sp[S_N][100], tr[M_N][100];
    for (int t = 0; t < T_N; t++)
        for (int m = 0; m < M_N; m++)
            v[t][m] = calloc((size_t)repeats, sizeof(double));
    char stats[1024] = "";
    int rc = 0;
    for (int r = 0; r < repeats && !rc; r++) {
        char *u[T_N] = {NULL, NULL, NULL};
        for (int t = 0; t < T_N && !rc; t++) {
            char id[64]; /* every repeat and store starts empty */
            snprintf(id, sizeof id, "bc%d_%d_%d", (int)getpid(), r, t);
            if (!(u[t] = bench_expand(uri[t], NULL, id)))
                rc = 1;
        }
        double out[T_N][M_N], split[S_N], turn_ratio[M_N];
        if (!rc && measure(u, &w, chunk, out, turn_ratio, split, stats, sizeof stats) != 0)
            rc = 1;
        for (int k = 0; k < S_N && !rc; k++)
            sp[k][r] = split[k];
        for (int m = 0; m < M_N && !rc; m++)
            tr[m][r] = turn_ratio[m];
        for (int t = 0; t < T_N; t++) {
            free(u[t]);
            for (int m = 0; m < M_N && !rc; m++)
                v[t][m][r] = out[t][m];
        }
    }
    if (!rc) {
        printf("acp-storage-bench-cache: %zu runs, %zu events each, %d repeats, one thread, "
               "stores taking turns every %zu operations\n", runs, events, repeats, chunk);
        printf("%-20s %22s %22s %22s\n", "ops/s", target_names[0], target_names[1],
               target_names[2]);
        stat3 s3[T_N][M_N];
        for (int m = 0; m < M_N; m++) {
            printf("%-20s", measure_names[m]);
            for (int t = 0; t < T_N; t++) {
                double sorted[100]; /* v stays in repeat order for the ratios */
                memcpy(sorted, v[t][m], (size_t)repeats * sizeof *sorted);
                s3[t][m] = stat3_of(sorted, (size_t)repeats);
                char cell[64];
                snprintf(cell, sizeof cell, "%.0f (%.0f..%.0f)", s3[t][m].median,
                         s3[t][m].min, s3[t][m].max);
                printf(" %22s", cell);
            }
            printf("\n");
        }
        printf("ratios: median (min..max) over the repeats of the repeat's ratio, then of "
               "the repeat's median turn\n");
        static const struct {
            const char *what;
            int m, of;
            const char *target;
        } rs[] = {{"cache/front get_run (hits)", M_GET, T_FRONT, "  (target >= 0.8)"},
                  {"cache/front get_events (hits)", M_EVENTS, T_FRONT, "  (target >= 0.8)"},
                  {"cache/back  save_run (P1+P2)", M_SAVE, T_BACK, "  (target >= 0.8)"},
                  {"cache/back  P1 create", M_P1, T_BACK, ""},
                  {"cache/back  P2 update", M_P2, T_BACK, ""},
                  {"cache/back  add_event", M_ADD, T_BACK, ""}};
        for (size_t k = 0; k < sizeof rs / sizeof *rs; k++)
            ratio(rs[k].what, v[T_CACHE][rs[k].m], v[rs[k].of][rs[k].m], tr[rs[k].m], repeats,
                  rs[k].target);
        static const char *const split_names[S_N] = {"in the back", "in the front after it",
                                                     "the rest"};
        printf("a cache save (P1+P2), from its counters, µs per save: median (min..max)\n");
        for (int k = 0; k < S_N; k++) {
            stat3 q = stat3_of(sp[k], (size_t)repeats);
            printf("  %-34s %.0f (%.0f..%.0f)\n", split_names[k], q.median, q.min, q.max);
        }
        stat3 b = stat3_of(v[T_BACK][M_SAVE], (size_t)repeats);
        printf("  %-34s %.0f\n", "a save of the back alone", 1e6 / b.median);
        printf("cache counters of the last repeat: %s\n", stats);
    }
    for (int t = 0; t < T_N; t++)
        for (int m = 0; m < M_N; m++)
            free(v[t][m]);
    w1_free(&w);
    return rc;
}
