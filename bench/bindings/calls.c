/* SPDX-License-Identifier: MIT */
/*
 * calls.c - acp-storage-bench-calls: the C side of the binding overhead
 * measurement (bench/bindings/overhead.py and overhead.rb).  It times the
 * same calls the scripts time, on the same documents, in a store of the
 * same URI, so that "binding minus C" is what a binding adds per call.
 *
 *   acp-storage-bench-calls URI RUN_JSON EVENT_JSON CALLS TRIALS
 *
 * Prints one line per operation: "<op> <median ns per call> <min> <max>",
 * in CPU time of the calling thread, over TRIALS trials of CALLS calls each:
 *   get_run    acp_run_get of the saved run, then acp_free of the copy
 *   add_event  acp_event_add of EVENT_JSON to a fresh run id per trial
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acp_storage.h"

/* CPU time of this thread: on a shared machine, wall time would also count
 * the time other processes held the core (the scripts measure the same). */
static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *op, double *ns, long trials)
{
    qsort(ns, (size_t)trials, sizeof *ns, cmp_double);
    printf("%s %.1f %.1f %.1f\n", op, ns[trials / 2], ns[0], ns[trials - 1]);
}

static int fail(const char *what, const acp_error *err)
{
    fprintf(stderr, "acp-storage-bench-calls: %s: %s: %s\n", what, acp_status_name(err->code),
            err->message);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: acp-storage-bench-calls URI RUN_JSON EVENT_JSON CALLS TRIALS\n");
        return 2;
    }
    const char *uri = argv[1], *run_json = argv[2], *event_json = argv[3];
    long calls = strtol(argv[4], NULL, 10), trials = strtol(argv[5], NULL, 10);
    if (calls < 1 || trials < 1) {
        fprintf(stderr, "acp-storage-bench-calls: CALLS and TRIALS must be positive\n");
        return 2;
    }
    acp_error err;
    acp_store *store;
    if (acp_store_open(uri, &store, &err) != ACP_OK)
        return fail("open", &err);
    if (acp_run_save(store, run_json, ACP_STRLEN, &err) != ACP_OK)
        return fail("save_run", &err);
    acp_run *parsed;
    if (acp_run_parse(run_json, ACP_STRLEN, &parsed, &err) != ACP_OK)
        return fail("parse the run", &err);
    char run_id[ACP_ID_MAX + 1];
    snprintf(run_id, sizeof run_id, "%s", acp_run_id(parsed));
    acp_run_free(parsed);

    double *ns = calloc((size_t)trials, sizeof *ns);
    if (!ns)
        return 1;
    for (long t = 0; t < trials; t++) {
        double t0 = now_ns();
        for (long i = 0; i < calls; i++) {
            char *doc;
            size_t len;
            if (acp_run_get(store, run_id, &doc, &len, &err) != ACP_OK)
                return fail("get_run", &err);
            acp_free(doc);
        }
        ns[t] = (now_ns() - t0) / (double)calls;
    }
    report("get_run", ns, trials);

    for (long t = 0; t < trials; t++) {
        char stream[64];
        snprintf(stream, sizeof stream, "bench-events-%ld", t);
        double t0 = now_ns();
        for (long i = 0; i < calls; i++) {
            int64_t seq;
            if (acp_event_add(store, stream, event_json, ACP_STRLEN, &seq, &err) != ACP_OK)
                return fail("add_event", &err);
        }
        ns[t] = (now_ns() - t0) / (double)calls;
    }
    report("add_event", ns, trials);
    free(ns);
    acp_store_close(store);
    return 0;
}
