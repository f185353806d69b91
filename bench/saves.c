/* SPDX-License-Identifier: MIT */
/*
 * saves.c - acp-storage-bench --saves: durable saves per second at 1, 2,
 * 4 and 8 threads, for each store, in one run.
 *
 * Every thread saves W1 runs of its own (new runs, the P1 documents)
 * through the public API, so that the stores do the same work: the default
 * stores are the file backend with sync=always and sqlite with
 * synchronous=full, the two settings that promise a save survives power
 * loss.  All configurations (store x threads) advance chunk by chunk,
 * taking turns in a rotating order, so that the disk's slow and fast
 * spells fall on every configuration alike (as the durable appends of
 * scale.c do).  Each repeat uses fresh stores; medians with (min..max).
 * docs/performance.md ("Durable saves") reports the figures.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define SAVE_CHUNKS 10
static const int save_threads[] = {1, 2, 4, 8};
#define N_THREADS ((int)(sizeof save_threads / sizeof save_threads[0]))

typedef struct save_job {
    acp_store *s;
    const w1 *w;
    int failed;
    char err[512];
} save_job;

static void save_slice(void *arg, int tid, size_t from, size_t to)
{
    (void)tid;
    save_job *j = arg;
    for (size_t i = from; i < to && !j->failed; i++) {
        acp_error e;
        if (acp_run_save(j->s, j->w->doc_new[i], j->w->doc_new_len[i], &e) != ACP_OK) {
            snprintf(j->err, sizeof j->err, "%.500s", e.message);
            j->failed = 1;
        }
    }
}

typedef struct save_cfg {
    const char *uri; /* template */
    int threads;
    fresh_store fs;
    acp_store *s;
    double secs;
} save_cfg;

/* One repeat: rate[store][threads] in saves/s. */
static int saves_rep(const char *const *uris, size_t n_uris, const w1 *w, size_t n,
                     double rate[][N_THREADS], char *err, size_t el)
{
    size_t nc = n_uris * N_THREADS;
    save_cfg *c = calloc(nc, sizeof *c);
    if (!c) {
        snprintf(err, el, "out of memory");
        return -1;
    }
    int rc = 0;
    for (size_t k = 0; k < nc && rc == 0; k++) {
        c[k].uri = uris[k / N_THREADS];
        c[k].threads = save_threads[k % N_THREADS];
        acp_error e;
        if (fresh_store_make(c[k].uri, "saves", &c[k].fs) != 0) {
            snprintf(err, el, "cannot make a store for %s", c[k].uri);
            rc = -1;
        } else if (acp_store_open(c[k].fs.uri, &c[k].s, &e) != ACP_OK) {
            snprintf(err, el, "%s: %.500s", c[k].fs.uri, e.message);
            rc = -1;
        }
    }
    for (size_t ch = 0; ch < SAVE_CHUNKS && rc == 0; ch++) {
        for (size_t i = 0; i < nc && rc == 0; i++) {
            save_cfg *x = &c[(i + ch) % nc];
            save_job j = {x->s, w, 0, ""};
            x->secs += run_sliced_range(x->threads, n * ch / SAVE_CHUNKS,
                                        n * (ch + 1) / SAVE_CHUNKS, 1, save_slice, &j);
            if (j.failed) {
                snprintf(err, el, "%s: %s", x->uri, j.err);
                rc = -1;
            }
        }
    }
    for (size_t k = 0; k < nc; k++) {
        if (rc == 0)
            rate[k / N_THREADS][k % N_THREADS] = c[k].secs > 0 ? (double)n / c[k].secs : 0;
        acp_store_close(c[k].s);
        if (c[k].fs.uri)
            fresh_store_cleanup(&c[k].fs);
    }
    free(c);
    return rc;
}

/* One line of the table and its JSON members threads_N: the statistics of
 * v[t][0..repeats) for each thread count t (v is sorted in place). */
static void put_row(jw *j, FILE *out, double v[N_THREADS][BENCH_MAX_REPEATS], int repeats,
                    const char *fmt)
{
    for (int t = 0; t < N_THREADS; t++) {
        stat3 st = stat3_of(v[t], (size_t)repeats);
        char key[32];
        snprintf(key, sizeof key, "threads_%d", save_threads[t]);
        jw_key(j, key);
        jw_stat(j, &st);
        fprintf(out, fmt, st.median, st.min, st.max);
    }
    fprintf(out, "\n");
}

int saves_bench(const char *const *uris, size_t n_uris, const w1 *w, size_t n, int repeats,
                int quiet, jw *j, FILE *out)
{
    if (n > w->runs)
        n = w->runs;
    if (repeats > BENCH_MAX_REPEATS)
        repeats = BENCH_MAX_REPEATS;
    double(*v)[N_THREADS][BENCH_MAX_REPEATS] = calloc(n_uris, sizeof *v);
    double(*rate)[N_THREADS] = calloc(n_uris, sizeof *rate);
    if (!v || !rate) {
        free(v);
        free(rate);
        return -1;
    }
    char err[1024] = "";
    int rc = 0;
    for (int r = 0; r < repeats && rc == 0; r++) {
        if (!quiet)
            fprintf(stderr, "  [durable saves, rep %d/%d]\n", r + 1, repeats);
        rc = saves_rep(uris, n_uris, w, n, rate, err, sizeof err);
        for (size_t u = 0; u < n_uris && rc == 0; u++)
            for (int t = 0; t < N_THREADS; t++)
                v[u][t][r] = rate[u][t];
    }
    jw_key(j, "saves");
    jw_obj(j);
    if (rc != 0) {
        fprintf(stderr, "acp-storage-bench: durable saves: %s\n", err);
        jw_key(j, "error");
        jw_str(j, err);
        jw_end_obj(j);
        free(v);
        free(rate);
        return -1;
    }
    jw_key(j, "saves_per_config");
    jw_int(j, (long long)n);
    jw_key(j, "repeats");
    jw_int(j, repeats);
    fprintf(out,
            "\ndurable saves: save_run of new runs, saves/s, median (min..max) over %d, %zu "
            "saves per configuration\n  %-44s",
            repeats, n, "store");
    for (int t = 0; t < N_THREADS; t++) {
        char h[32];
        snprintf(h, sizeof h, "%d thread%s", save_threads[t], save_threads[t] > 1 ? "s" : "");
        fprintf(out, " %-21s", h);
    }
    fprintf(out, "\n");
    jw_key(j, "stores");
    jw_arr(j);
    for (size_t u = 0; u < n_uris; u++) {
        jw_obj(j);
        jw_key(j, "uri");
        jw_str(j, uris[u]);
        fprintf(out, "  %-44.44s", uris[u]);
        put_row(j, out, v[u], repeats, " %6.0f (%5.0f..%5.0f)");
        jw_end_obj(j);
    }
    jw_end_arr(j);
    if (n_uris >= 2) {
        /* The first store against the second, repeat by repeat (the same
         * disk spells fall on both). */
        double q[N_THREADS][BENCH_MAX_REPEATS];
        for (int t = 0; t < N_THREADS; t++)
            for (int r = 0; r < repeats; r++)
                q[t][r] = v[1][t][r] > 0 ? v[0][t][r] / v[1][t][r] : 0;
        jw_key(j, "ratio_first_to_second");
        jw_obj(j);
        fprintf(out, "  %-44s", "first / second (per repeat)");
        put_row(j, out, q, repeats, " %6.2f (%5.2f..%5.2f)");
        jw_end_obj(j);
    }
    jw_end_obj(j);
    free(v);
    free(rate);
    return 0;
}
