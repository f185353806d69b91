/* SPDX-License-Identifier: MIT */
/*
 * bench_file.c - the file backend's performance targets, measured on the
 * disk holding DIR (not a CTest test: timings depend on the machine).
 *
 *   bench_file DIR append   add_event with sync=none against a program
 *                           write()ing the same bytes (target >= 0.5x)
 *   bench_file DIR flush    sync=always: 8 writers against one flush per
 *                           append (target >= 5x), on 8 runs and on one
 *   bench_file DIR runs [N] N runs (default 100,000): open time (target
 *                           < 1 s), a page with total (target < 1 ms)
 *
 * Needs ACP_STORAGE_PLUGIN_PATH like the tests.  DIR must not exist.
 */
#define _GNU_SOURCE

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acp_storage.h"

#define CHECK(call)                                                                       \
    do {                                                                                  \
        acp_error e_;                                                                     \
        acp_status s_ = (call);                                                           \
        if (s_ != ACP_OK) {                                                               \
            fprintf(stderr, "%s: %s: %s\n", #call, acp_status_name(s_), e_.message);      \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)
#define E (&e_)

static const char *EVENT =
    "{\"type\":\"message.part\",\"part\":{\"content_type\":\"text/plain\",\"content\":\"Sunny, "
    "24 degrees and a light breeze from the west, a perfect afternoon for a walk\","
    "\"content_encoding\":\"plain\"}}";

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static acp_store *open_store(const char *dir, const char *name, const char *query)
{
    char uri[2048];
    snprintf(uri, sizeof uri, "file:%s/%s%s", dir, name, query);
    acp_store *s;
    CHECK(acp_store_open(uri, &s, E));
    return s;
}

/* Append the bytes of path (the store's own log) with one write() per
 * record of rec bytes: what the store does at the least. */
static double raw_appends(const char *dir, const char *log, int n, int flush)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, log);
    int in = open(p, O_RDONLY);
    struct stat st;
    if (in < 0 || fstat(in, &st) != 0)
        exit(1);
    char *buf = malloc((size_t)st.st_size);
    if (!buf || read(in, buf, (size_t)st.st_size) != st.st_size)
        exit(1);
    close(in);
    size_t rec = (size_t)st.st_size / (size_t)n;
    snprintf(p, sizeof p, "%s/raw-%d.log", dir, flush);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    double t = now();
    for (int i = 0; i < n; i++) {
        if (write(fd, buf + (size_t)i * rec, rec) != (ssize_t)rec)
            exit(1);
        if (flush && fdatasync(fd) != 0)
            exit(1);
    }
    t = now() - t;
    close(fd);
    free(buf);
    return n / t;
}

static void bench_append(const char *dir)
{
    enum { N = 300000 };
    acp_store *s = open_store(dir, "append", "?sync=none");
    double t = now();
    for (int i = 0; i < N; i++)
        CHECK(acp_event_add(s, "run-1", EVENT, ACP_STRLEN, NULL, E));
    double store = N / (now() - t);
    acp_store_close(s);
    double raw = raw_appends(dir, "append/events/run-1.log", N, 0);
    printf("append, sync=none: store %.0f events/s, raw write() %.0f/s: %.2fx (target 0.5x)\n",
           store, raw, store / raw);
}

static acp_store *flush_store;
static int flush_same;
enum { FLUSH_N = 400 };

static void *flush_writer(void *arg)
{
    char id[32];
    snprintf(id, sizeof id, flush_same ? "run-shared" : "run-%ld", (long)(intptr_t)arg);
    for (int i = 0; i < FLUSH_N; i++)
        CHECK(acp_event_add(flush_store, id, EVENT, ACP_STRLEN, NULL, E));
    return NULL;
}

static double median3(double a, double b, double c)
{
    return a > b ? (b > c ? b : a > c ? c : a) : (a > c ? a : b > c ? c : b);
}

/* The flush time of the disk changes by several times within seconds when
 * other programs use it: each round measures one flush per append right
 * before the 8 writers it is compared with, and the medians are shown. */
static void bench_flush(const char *dir)
{
    acp_store *s = open_store(dir, "flush", "");
    double t = now();
    for (int i = 0; i < FLUSH_N; i++)
        CHECK(acp_event_add(s, "run-single", EVENT, ACP_STRLEN, NULL, E));
    double one = FLUSH_N / (now() - t);
    flush_store = s;
    double ratio[2][3];
    for (int round = 0; round < 3; round++) {
        double raw = raw_appends(dir, "flush/events/run-single.log", FLUSH_N, 1);
        if (round == 0)
            printf("flush, sync=always: one writer %.0f/s; raw write()+fdatasync() %.0f/s\n", one,
                   raw);
        for (flush_same = 0; flush_same < 2; flush_same++) {
            pthread_t th[8];
            t = now();
            for (intptr_t i = 0; i < 8; i++)
                pthread_create(&th[i], NULL, flush_writer, (void *)i);
            for (int i = 0; i < 8; i++)
                pthread_join(th[i], NULL);
            double eight = 8 * FLUSH_N / (now() - t);
            ratio[flush_same][round] = eight / raw;
            printf("  round %d: raw %.0f/s; 8 writers on %s: %.0f/s: %.1fx\n", round + 1, raw,
                   flush_same ? "one run" : "8 runs", eight, eight / raw);
        }
    }
    for (int k = 0; k < 2; k++)
        printf("  8 writers on %s: median %.1fx one flush per append (target 5x)\n",
               k ? "one run" : "8 runs", median3(ratio[k][0], ratio[k][1], ratio[k][2]));
    acp_store_close(s);
}

static void bench_runs(const char *dir, int n)
{
    acp_store *s = open_store(dir, "runs", "?sync=none");
    double t = now();
    for (int i = 0; i < n; i++) {
        char doc[512];
        snprintf(doc, sizeof doc,
                 "{\"run_id\":\"%08x-%04x-4000-8000-%012x\",\"agent_name\":\"agent-%d\","
                 "\"session_id\":\"sess-%d\",\"status\":\"completed\",\"output\":[],"
                 "\"created_at\":\"2025-06-01T12:%02d:%02dZ\"}",
                 (unsigned)i * 2654435761u, (unsigned)i & 0xffff, (unsigned)i, i % 10,
                 i % 1000, (i / 60) % 60, i % 60);
        CHECK(acp_run_save(s, doc, ACP_STRLEN, E));
    }
    printf("runs: %d saved at %.0f/s\n", n, n / (now() - t));
    acp_store_close(s);
    t = now();
    s = open_store(dir, "runs", "");
    printf("  open: %.3f s (target < 1 s)\n", now() - t);
    const char *agent[] = {NULL, "agent-3", NULL}, *session[] = {NULL, NULL, "sess-77"};
    for (int k = 0; k < 3; k++) {
        acp_run_filter f = ACP_RUN_FILTER_INIT;
        f.agent_name = agent[k];
        f.session_id = session[k];
        f.want_total = 1;
        acp_page *p = NULL;
        int reps = 2000;
        t = now();
        for (int i = 0; i < reps; i++) {
            acp_page_free(p);
            CHECK(acp_run_list(s, &f, &p, E));
        }
        double first = (now() - t) / reps * 1e6;
        f.cursor = acp_page_next_cursor(p);
        acp_page *q;
        t = now();
        for (int i = 0; i < reps; i++) {
            CHECK(acp_run_list(s, &f, &q, E));
            acp_page_free(q);
        }
        printf("  page of 10 with total %lld (%s): %.0f us, next page by cursor %.0f us "
               "(target < 1000)\n",
               (long long)acp_page_total(p), k == 0 ? "all" : k == 1 ? "by agent" : "by session",
               first, (now() - t) / reps * 1e6);
        acp_page_free(p);
    }
    acp_store_close(s);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_file DIR append|flush|runs [N]\n");
        return 2;
    }
    if (mkdir(argv[1], 0755) != 0) {
        perror(argv[1]);
        return 2;
    }
    if (!strcmp(argv[2], "append"))
        bench_append(argv[1]);
    else if (!strcmp(argv[2], "flush"))
        bench_flush(argv[1]);
    else if (!strcmp(argv[2], "runs"))
        bench_runs(argv[1], argc > 3 ? atoi(argv[3]) : 100000);
    else
        return 2;
    return 0;
}
