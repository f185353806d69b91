/* SPDX-License-Identifier: MIT */
/*
 * 2026-12-07-pgcount-probe.c - the filtered probes of acp-storage-bench
 * --scale (bench/scale.c: a page of 10 with its total, same filters, same
 * sampling: at least 20 samples, up to 400 or 4 s) against a store filled
 * beforehand, for the postgres 1,000,000-run measurement of issue 19 whose
 * fill through the API did not fit the session (190 runs/s under load 25).
 * Runs n = 0..size-1 were created at about EPOCH_US + n ms, as the bench's.
 *
 *   cc -Iinclude probe.c -Lbuild/release/core -lacp_storage -o probe
 *   probe 'postgres://...?schema=m1' 1000000
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "acp_storage.h"

#define EPOCH_US INT64_C(1748779200000000)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    acp_store *s;
    acp_error e;
    if (acp_store_open(argv[1], &s, &e) != ACP_OK) {
        fprintf(stderr, "%s\n", e.message);
        return 1;
    }
    int64_t span = atoll(argv[2]) * 1000;
    const char *names[] = {"status", "2 statuses", "since", "status+range", "status+agent+range",
                           "(unfiltered page + total)"};
    unsigned rng = 1;
    for (int k = 0; k < 6; k++) {
        static double v[400];
        int n = 0;
        int64_t total = -1;
        double start = now();
        while (n < 400 && (n < 20 || now() - start < 4.0)) {
            acp_run_filter f = ACP_RUN_FILTER_INIT;
            char agent[16];
            f.want_total = 1;
            if (k == 0 || k == 3 || k == 4)
                f.status = "failed";
            if (k == 1)
                f.status = "completed,failed";
            if (k == 2)
                f.created_since_us = EPOCH_US + span - span / 10;
            if (k == 3) {
                f.created_since_us = EPOCH_US + span / 2;
                f.created_until_us = EPOCH_US + span / 2 + span / 10;
            }
            if (k == 4) {
                rng = rng * 1103515245u + 12345u;
                snprintf(agent, sizeof agent, "agent-%u", (rng >> 8) % 10);
                f.agent_name = agent;
                f.created_until_us = EPOCH_US + span / 2;
            }
            acp_page *p;
            double t0 = now();
            if (acp_run_list(s, &f, &p, &e) != ACP_OK) {
                fprintf(stderr, "%s\n", e.message);
                return 1;
            }
            v[n++] = (now() - t0) * 1e3;
            total = acp_page_total(p);
            acp_page_free(p);
        }
        qsort(v, (size_t)n, sizeof v[0], cmp);
        printf("%-26s median %.3f ms (p90 %.3f; %.3f..%.3f), %d samples, total %lld\n", names[k],
               v[n / 2], v[n * 9 / 10], v[0], v[n - 1], n, (long long)total);
    }
    acp_store_close(s);
    return 0;
}
