/* SPDX-License-Identifier: MIT */
/*
 * archive.c - acp-storage-bench-archive: what the archive backend costs
 * (docs/performance.md, "Archive tiers").
 *
 *   acp-storage-bench-archive move HOT COLD N
 *       N final runs of 10 events each are written to the hot tier, then
 *       one acp_store_archive() moves them all: runs/s of the move.
 *   acp-storage-bench-archive w1 HOT COLD N [ROWS]
 *       W1's write phases per run (save in-progress, 10 events, save
 *       completed) through archive:?...&after=0&auto=1, printing the runs
 *       in the hot and in the cold tier ROWS times (default 10), read
 *       through handles of their own: the hot tier stays bounded while the
 *       cold one grows.  HOT and COLD must then be stores that a second
 *       handle sees (sqlite, file, postgres, s3), not memory:.
 *
 * HOT and COLD are store URIs as given (not percent-encoded).  Documents:
 * a run of about 860 bytes (two 200-character outputs, as W1), events of
 * about 200 bytes.  Timings are wall clock, one thread.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acp_storage.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const acp_error *err)
{
    fprintf(stderr, "acp-storage-bench-archive: %s: %s\n", what, err ? err->message : "");
    exit(1);
}

/* uri percent-encoded as an option value. */
static void encode(char *out, size_t cap, const char *uri)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)uri; *p && o + 4 < cap; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~/", *p))
            out[o++] = (char)*p;
        else
            o += (size_t)snprintf(out + o, cap - o, "%%%02X", *p);
    }
    out[o] = '\0';
}

static acp_store *open_archive(const char *hot, const char *cold, const char *opts)
{
    char h[1024], c[1024], uri[2600];
    encode(h, sizeof h, hot);
    encode(c, sizeof c, cold);
    snprintf(uri, sizeof uri, "archive:?hot=%s&cold=%s&%s", h, c, opts);
    acp_store *s;
    acp_error err;
    if (acp_store_open(uri, &s, &err) != ACP_OK)
        die("open", &err);
    return s;
}

static char g_text[201];

static void save(acp_store *s, uint64_t i, const char *status)
{
    char doc[1200];
    snprintf(doc, sizeof doc,
             "{\"run_id\":\"run-%08" PRIu64 "\",\"agent_name\":\"agent-%" PRIu64 "\","
             "\"session_id\":\"session-%" PRIu64 "\",\"status\":\"%s\","
             "\"created_at\":\"2025-06-01T12:%02" PRIu64 ":%02" PRIu64 ".%06" PRIu64 "Z\","
             "\"output\":[{\"role\":\"agent\",\"parts\":[{\"content_type\":\"text/plain\","
             "\"content\":\"%s\"}]},{\"role\":\"agent\",\"parts\":[{\"content_type\":"
             "\"text/plain\",\"content\":\"%s\"}]}]}",
             i, i % 10, i % 1000, status, (i / 60000000) % 60, (i / 1000000) % 60, i % 1000000,
             g_text, g_text);
    acp_error err;
    if (acp_run_save(s, doc, ACP_STRLEN, &err) != ACP_OK)
        die("save", &err);
}

static void events(acp_store *s, uint64_t i)
{
    char id[32], doc[400];
    snprintf(id, sizeof id, "run-%08" PRIu64, i);
    for (int e = 0; e < 10; e++) {
        snprintf(doc, sizeof doc,
                 "{\"type\":\"message.part\",\"part\":{\"content_type\":\"text/plain\","
                 "\"content\":\"%.150s\"},\"n\":%d}",
                 g_text, e);
        acp_error err;
        if (acp_event_add(s, id, doc, ACP_STRLEN, NULL, &err) != ACP_OK)
            die("event", &err);
    }
}

static int64_t count(const char *uri)
{
    acp_store *s;
    acp_error err;
    if (acp_store_open(uri, &s, &err) != ACP_OK)
        die(uri, &err);
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.limit = 0;
    f.want_total = 1;
    acp_page *p;
    if (acp_run_list(s, &f, &p, &err) != ACP_OK)
        die("count", &err);
    int64_t n = acp_page_total(p);
    acp_page_free(p);
    acp_store_close(s);
    return n;
}

static int bench_move(const char *hot, const char *cold, uint64_t n)
{
    acp_store *s = open_archive(hot, cold, "after=0");
    double t0 = now_s();
    for (uint64_t i = 0; i < n; i++) {
        save(s, i, "completed");
        events(s, i);
    }
    double t1 = now_s();
    int64_t moved;
    acp_error err;
    if (acp_store_archive(s, 0, NULL, NULL, &moved, &err) != ACP_OK)
        die("archive", &err);
    double t2 = now_s();
    acp_store_close(s);
    if ((uint64_t)moved != n) {
        fprintf(stderr, "acp-storage-bench-archive: moved %" PRId64 " of %" PRIu64 "\n", moved,
                n);
        return 1;
    }
    printf("move: %" PRIu64 " runs x 10 events, %s -> %s\n", n, hot, cold);
    printf("  write to hot: %.3f s (%.0f runs/s with their events)\n", t1 - t0,
           (double)n / (t1 - t0));
    printf("  archive:      %.3f s (%.0f runs/s, %.0f events/s)\n", t2 - t1,
           (double)n / (t2 - t1), 10.0 * (double)n / (t2 - t1));
    return 0;
}

static int bench_w1(const char *hot, const char *cold, uint64_t n, uint64_t rows)
{
    acp_store *s = open_archive(hot, cold, "after=0&auto=1&every=37&batch=20");
    printf("w1: %" PRIu64 " runs (save in-progress, 10 events, save completed), after=0, "
           "auto=1, every=37, batch=20\n",
           n);
    printf("%10s %10s %10s %10s\n", "runs", "seconds", "hot", "cold");
    double t0 = now_s();
    for (uint64_t i = 0; i < n; i++) {
        save(s, i, "in-progress");
        events(s, i);
        save(s, i, "completed");
        if ((i + 1) % (n / rows ? n / rows : 1) == 0 || i + 1 == n) {
            double t = now_s() - t0;
            printf("%10" PRIu64 " %10.2f %10" PRId64 " %10" PRId64 "\n", i + 1, t, count(hot),
                   count(cold));
            fflush(stdout);
        }
    }
    acp_store_close(s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 5 || (strcmp(argv[1], "move") && strcmp(argv[1], "w1"))) {
        fprintf(stderr, "usage: acp-storage-bench-archive move HOT COLD N\n"
                        "       acp-storage-bench-archive w1 HOT COLD N [ROWS]\n");
        return 2;
    }
    memset(g_text, 'x', 200);
    for (int i = 5; i < 200; i += 6)
        g_text[i] = ' ';
    uint64_t n = strtoull(argv[4], NULL, 10);
    if (n == 0)
        return 2;
    if (strcmp(argv[1], "move") == 0)
        return bench_move(argv[2], argv[3], n);
    return bench_w1(argv[2], argv[3], n, argc > 5 ? strtoull(argv[5], NULL, 10) : 10);
}
