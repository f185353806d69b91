/* SPDX-License-Identifier: MIT */
/*
 * follow_stress.c - exactly once, in order: writers append to a few runs
 * while followers follow them (acp_event_follow); every follower must see
 * sequence numbers 1..N of its run, each once, in order, and each writer
 * thread's events in the order that thread appended them.  Plain C (no
 * Criterion), so that it runs under ThreadSanitizer and as many processes.
 *
 *   follow_stress threads URI NRUNS TOTAL WRITERS FOLLOWERS
 *       all in one process (the memory backend has no other)
 *   follow_stress write URI NRUNS COUNT THREADS PROC
 *       one writer process: THREADS threads append COUNT events in all,
 *       round robin over the runs; PROC numbers the process (0, 1, ...)
 *   follow_stress follow URI RUN EXPECT SECONDS
 *       one follower: succeeds once it saw events 1..EXPECT of RUN, fails
 *       on a gap, a repeat, a writer's events out of order, or after SECONDS
 *
 * Runs are named follow-0 .. follow-(NRUNS-1).  Exit 0: all good.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acp_storage.h"

#define MAX_WRITERS 256

static acp_store *store;
static int nruns;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct writer {
    pthread_t th;
    int id;        /* unique over all processes */
    long count;    /* events this thread appends */
    int failed;
} writer;

static void *write_events(void *arg)
{
    writer *w = arg;
    for (long k = 0; k < w->count; k++) {
        char run[32], doc[96];
        snprintf(run, sizeof run, "follow-%ld", k % nruns);
        snprintf(doc, sizeof doc, "{\"type\":\"tick\",\"w\":%d,\"i\":%ld}", w->id, k);
        acp_error err;
        if (acp_event_add(store, run, doc, ACP_STRLEN, NULL, &err) != ACP_OK) {
            fprintf(stderr, "writer %d: event %ld: %s\n", w->id, k, err.message);
            w->failed = 1;
            return NULL;
        }
    }
    return NULL;
}

typedef struct follower {
    pthread_t th;
    char run[32];
    int64_t expect;
    int64_t seconds;
    int failed;
} follower;

static void *follow_run(void *arg)
{
    follower *f = arg;
    long last_i[MAX_WRITERS];
    for (int i = 0; i < MAX_WRITERS; i++)
        last_i[i] = -1;
    int64_t seen = 0, end = now_ms() + f->seconds * 1000;
    while (seen < f->expect) {
        if (now_ms() > end) {
            fprintf(stderr, "follower %s: saw %" PRId64 " of %" PRId64 " events in %" PRId64
                    " s\n", f->run, seen, f->expect, f->seconds);
            f->failed = 1;
            return NULL;
        }
        acp_page *page;
        acp_error err;
        /* The whole remaining budget: a lost wake-up is not papered over
         * by a short timeout, it fails the test. */
        if (acp_event_follow(store, f->run, seen, 1000, end - now_ms() + 1, NULL, &page,
                             &err) != ACP_OK) {
            fprintf(stderr, "follower %s: %s\n", f->run, err.message);
            f->failed = 1;
            return NULL;
        }
        for (size_t i = 0; i < acp_page_count(page); i++) {
            int64_t seq = acp_page_seq(page, i);
            int w;
            long k;
            if (seq != seen + 1 ||
                sscanf(acp_page_json(page, i, NULL), "{\"type\":\"tick\",\"w\":%d,\"i\":%ld}",
                       &w, &k) != 2 || w < 0 || w >= MAX_WRITERS || k <= last_i[w]) {
                fprintf(stderr, "follower %s: after seq %" PRId64 " got seq %" PRId64 ": %s\n",
                        f->run, seen, seq, acp_page_json(page, i, NULL));
                f->failed = 1;
                acp_page_free(page);
                return NULL;
            }
            last_i[w] = k;
            seen = seq;
        }
        acp_page_free(page);
    }
    return NULL;
}

static int open_store(const char *uri)
{
    acp_error err;
    if (acp_store_open(uri, &store, &err) != ACP_OK) {
        fprintf(stderr, "open %s: %s\n", uri, err.message);
        return 1;
    }
    return 0;
}

static int run_writers(int nthreads, long count, int first_id)
{
    writer *w = calloc((size_t)nthreads, sizeof *w);
    int rc = 0;
    for (int t = 0; t < nthreads; t++) {
        w[t].id = first_id + t;
        /* Whole rounds over the runs, so that each run gets the same count. */
        w[t].count = count / nthreads;
        pthread_create(&w[t].th, NULL, write_events, &w[t]);
    }
    for (int t = 0; t < nthreads; t++) {
        pthread_join(w[t].th, NULL);
        rc |= w[t].failed;
    }
    free(w);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 8 && strcmp(argv[1], "threads") == 0) {
        nruns = atoi(argv[3]);
        long total = atol(argv[4]);
        int nw = atoi(argv[5]), nf = atoi(argv[6]);
        int64_t seconds = atoll(argv[7]);
        if (nruns < 1 || nw < 1 || nw > MAX_WRITERS || nf < 1 || total % ((long)nw * nruns) ||
            open_store(argv[2]))
            return 2;
        follower *f = calloc((size_t)nf, sizeof *f);
        for (int i = 0; i < nf; i++) {
            snprintf(f[i].run, sizeof f[i].run, "follow-%d", i % nruns);
            f[i].expect = total / nruns;
            f[i].seconds = seconds;
            pthread_create(&f[i].th, NULL, follow_run, &f[i]);
        }
        int rc = run_writers(nw, total, 0);
        for (int i = 0; i < nf; i++) {
            pthread_join(f[i].th, NULL);
            rc |= f[i].failed;
        }
        free(f);
        acp_store_close(store);
        printf("%s: %ld events, %d writer threads, %d followers: %s\n", argv[2], total, nw, nf,
               rc ? "FAILED" : "every follower saw every event once, in order");
        return rc;
    }
    if (argc == 7 && strcmp(argv[1], "write") == 0) {
        nruns = atoi(argv[3]);
        long count = atol(argv[4]);
        int nt = atoi(argv[5]), proc = atoi(argv[6]);
        if (nruns < 1 || nt < 1 || (proc + 1) * nt > MAX_WRITERS || count % ((long)nt * nruns) ||
            open_store(argv[2]))
            return 2;
        int rc = run_writers(nt, count, proc * nt);
        acp_store_close(store);
        return rc;
    }
    if (argc == 6 && strcmp(argv[1], "follow") == 0) {
        follower f = {.expect = atoll(argv[4]), .seconds = atoll(argv[5])};
        snprintf(f.run, sizeof f.run, "%s", argv[3]);
        if (open_store(argv[2]))
            return 2;
        follow_run(&f);
        acp_store_close(store);
        return f.failed;
    }
    fprintf(stderr, "usage: see the head of follow_stress.c\n");
    return 2;
}
