/* SPDX-License-Identifier: MIT */
/*
 * follow.c - acp-storage-bench --follow: what following a run costs.
 *
 *  - idle: a follower waits on a run nobody writes, for --follow-idle
 *    seconds (default 10); the CPU time of its thread (getrusage
 *    RUSAGE_THREAD) over that wall time, in percent of one core.  Only the
 *    client side: a server's own work (postgres, redis) is not included.
 *  - wake-up latency: a writer appends --follow-samples events, one every
 *    2 ms + jitter, and notes the monotonic time when each append returned
 *    (its acknowledgement); a follower notes when acp_event_follow returned
 *    each one.  Latency = wake - ack (0 when the follower was out first:
 *    the event is visible before its ack reaches the writer).  The
 *    follower is another process (the memory backend: another thread of
 *    the same process), both on this machine, so CLOCK_MONOTONIC is one
 *    clock for both.  p50, p99, max.
 * docs/performance.md ("Following a run") reports and explains the figures.
 */
#define _GNU_SOURCE /* RUSAGE_THREAD */

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

typedef struct follow_share {
    size_t n;
    double *ack, *wake; /* by seq - 1, monotonic seconds */
    const char *uri;
    const char *run;
    int failed;
} follow_share;

static double thread_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* Follow sh->run until sh->n events came, noting when each arrived. */
static int follow_all(acp_store *s, follow_share *sh)
{
    int64_t seen = 0;
    while ((size_t)seen < sh->n) {
        acp_page *p;
        acp_error err;
        if (acp_event_follow(s, sh->run, seen, 1000, 60000, NULL, &p, &err) != ACP_OK) {
            fprintf(stderr, "follow: %s\n", err.message);
            return -1;
        }
        double t = bench_now();
        size_t k = acp_page_count(p);
        if (k == 0) {
            fprintf(stderr, "follow: no event for 60 s after seq %" PRId64 "\n", seen);
            acp_page_free(p);
            return -1;
        }
        for (size_t i = 0; i < k; i++) {
            int64_t seq = acp_page_seq(p, i);
            if (seq >= 1 && (size_t)seq <= sh->n)
                sh->wake[seq - 1] = t;
            seen = seq;
        }
        acp_page_free(p);
    }
    return 0;
}

static void *follower_thread(void *arg)
{
    void **a = arg;
    follow_share *sh = a[1];
    if (follow_all(a[0], sh) != 0)
        sh->failed = 1;
    return NULL;
}

static int write_all(acp_store *s, follow_share *sh)
{
    uint64_t rnd = 12345;
    for (size_t i = 0; i < sh->n; i++) {
        /* 2 ms + up to 1 ms: the follower is asleep in its wait again. */
        struct timespec ts = {0, 2000000L + (long)(bench_rand(&rnd) % 1000000)};
        nanosleep(&ts, NULL);
        acp_error err;
        if (acp_event_add(s, sh->run, "{\"type\":\"tick\"}", ACP_STRLEN, NULL, &err) != ACP_OK) {
            fprintf(stderr, "write: %s\n", err.message);
            return -1;
        }
        sh->ack[i] = bench_now();
    }
    return 0;
}

static int idle_cpu(acp_store *s, double seconds, double *pct)
{
    acp_page *p;
    acp_error err;
    double c0 = thread_cpu_s(), t0 = bench_now();
    acp_status st = acp_event_follow(s, "bench-follow-idle", 0, 10, (int64_t)(seconds * 1000),
                                     NULL, &p, &err);
    double c1 = thread_cpu_s(), t1 = bench_now();
    if (st != ACP_OK) {
        fprintf(stderr, "idle follow: %s\n", err.message);
        return -1;
    }
    acp_page_free(p);
    *pct = 100.0 * (c1 - c0) / (t1 - t0);
    return 0;
}

static int latency(acp_store *s, const char *uri, int in_process, size_t n, double *lat)
{
    follow_share *sh = mmap(NULL, sizeof *sh + 2 * n * sizeof(double), PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        return -1;
    sh->n = n;
    sh->ack = (double *)(sh + 1);
    sh->wake = sh->ack + n;
    sh->uri = uri;
    sh->run = "bench-follow-latency";
    int rc = 0;
    if (in_process) {
        pthread_t th;
        void *args[2] = {s, sh};
        pthread_create(&th, NULL, follower_thread, args);
        usleep(100000); /* the follower is waiting */
        rc = write_all(s, sh);
        pthread_join(th, NULL);
        rc |= sh->failed;
    } else {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            acp_store *cs;
            acp_error err;
            if (acp_store_open(uri, &cs, &err) != ACP_OK) {
                fprintf(stderr, "follower: %s\n", err.message);
                _exit(1);
            }
            int r = follow_all(cs, sh);
            acp_store_close(cs);
            _exit(r ? 1 : 0);
        }
        usleep(300000);
        rc = write_all(s, sh);
        int status = 0;
        waitpid(pid, &status, 0);
        rc |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    for (size_t i = 0; i < n; i++) {
        double d = sh->wake[i] - sh->ack[i];
        lat[i] = d > 0 ? d * 1000.0 : 0.0; /* ms */
    }
    munmap(sh, sizeof *sh + 2 * n * sizeof(double));
    return rc ? -1 : 0;
}

int follow_bench(const char *const *uris, size_t n_uris, double idle_s, size_t samples, jw *j,
                 FILE *out)
{
    int status = 0;
    fprintf(out, "Following a run: idle follower CPU over %.0f s; wake-up latency from the "
                 "append's acknowledgement, %zu samples\n", idle_s, samples);
    fprintf(out, "  %-44s %10s %10s %10s %10s\n", "store", "idle CPU", "p50 ms", "p99 ms",
            "max ms");
    jw_key(j, "follow");
    jw_arr(j);
    double *lat = calloc(samples, sizeof *lat);
    for (size_t u = 0; u < n_uris && lat; u++) {
        fresh_store fs;
        if (fresh_store_make(uris[u], "follow", &fs) != 0) {
            status = 1;
            continue;
        }
        acp_store *s;
        acp_error err;
        double pct = 0;
        int rc = -1;
        if (acp_store_open(fs.uri, &s, &err) != ACP_OK) {
            fprintf(stderr, "%s: %s\n", uris[u], err.message);
        } else {
            int in_process = strcmp(fs.backend, "memory") == 0;
            rc = idle_cpu(s, idle_s, &pct);
            if (rc == 0)
                rc = latency(s, fs.uri, in_process, samples, lat);
            acp_store_close(s);
        }
        if (rc != 0) {
            fprintf(out, "  %-44s failed\n", uris[u]);
            status = 1;
        } else {
            stat3 st = stat3_of(lat, samples); /* sorts lat */
            double p50 = percentile(lat, samples, 50), p99 = percentile(lat, samples, 99);
            fprintf(out, "  %-44s %9.3f%% %10.3f %10.3f %10.3f\n", uris[u], pct, p50, p99,
                    st.max);
            jw_obj(j);
            jw_key(j, "store");
            jw_str(j, uris[u]);
            jw_key(j, "idle_cpu_percent");
            jw_num(j, pct);
            jw_key(j, "idle_seconds");
            jw_num(j, idle_s);
            jw_key(j, "samples");
            jw_int(j, (long long)samples);
            jw_key(j, "wake_ms_p50");
            jw_num(j, p50);
            jw_key(j, "wake_ms_p99");
            jw_num(j, p99);
            jw_key(j, "wake_ms_max");
            jw_num(j, st.max);
            jw_end_obj(j);
        }
        fflush(out);
        fresh_store_cleanup(&fs);
    }
    jw_end_arr(j);
    free(lat);
    return lat ? status : 1;
}
