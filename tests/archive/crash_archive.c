/* SPDX-License-Identifier: MIT */
/*
 * crash_archive.c ROUNDS - moves killed with SIGKILL at random
 * instants.  The store: archive:?hot=sqlite:DIR/hot.db&cold=file:DIR/cold
 * with after=0.  Each round a child process opens it (finishing what the
 * last one left) and archives every due run in batches; the parent kills
 * it at a random instant within the time a whole pass takes, then checks,
 * first through a handle that does NOT finish half moves (recover=false:
 * what any reader sees right after the crash) and then through an ordinary
 * one: every run listed exactly once, in order, pages and totals agreeing,
 * and each run (version, creation time, document, every event's sequence,
 * storage time and document) byte for byte as it was written.  New final
 * runs are added whenever the hot tier runs out of work.  At the end one
 * pass finishes everything: every final run is in the cold tier only.
 * Exit 0 on success; the kills that landed mid-pass are counted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "acp_storage.h"

#define MAX_RUNS 4096
#define EVENTS 10
#define ADD 40

static const char *g_dir;
static char *g_ids[MAX_RUNS];
static char *g_snap[MAX_RUNS];
static int g_final[MAX_RUNS];
static size_t g_n;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "crash_archive: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static acp_store *open_store(const char *extra)
{
    char uri[1024];
    snprintf(uri, sizeof uri, "archive:?hot=sqlite%%3A%s%%2Fhot.db&cold=file%%3A%s%%2Fcold&after=0%s",
             g_dir, g_dir, extra);
    acp_store *s;
    acp_error err;
    if (acp_store_open(uri, &s, &err) != ACP_OK)
        die("open %s: %s", uri, err.message);
    return s;
}

static acp_store *open_plain(const char *fmt)
{
    char uri[512];
    snprintf(uri, sizeof uri, fmt, g_dir);
    acp_store *s;
    acp_error err;
    if (acp_store_open(uri, &s, &err) != ACP_OK)
        die("open %s: %s", uri, err.message);
    return s;
}

/* Everything of one run, as text (NULL: no such run). */
static char *snapshot(acp_store *s, const char *id, int64_t created_us)
{
    char *json;
    size_t len;
    int64_t v;
    acp_error err;
    acp_status st = acp_run_get_versioned(s, id, &json, &len, &v, &err);
    if (st == ACP_NOT_FOUND)
        return NULL;
    if (st != ACP_OK)
        die("get %s: %s", id, err.message);
    char *out = NULL;
    size_t olen = 0;
    FILE *f = open_memstream(&out, &olen);
    fprintf(f, "v=%" PRId64 " c=%" PRId64 " %.*s\n", v, created_us, (int)len, json);
    free(json);
    acp_page *p;
    acp_event_filter ef = ACP_EVENT_FILTER_INIT;
    ef.limit = 1000;
    if (acp_event_list(s, id, &ef, &p, &err) != ACP_OK)
        die("events of %s: %s", id, err.message);
    for (size_t i = 0; i < acp_page_count(p); i++) {
        size_t n;
        const char *d = acp_page_json(p, i, &n);
        fprintf(f, "%" PRId64 " %" PRId64 " %.*s\n", acp_page_seq(p, i), acp_page_time_us(p, i),
                (int)n, d);
    }
    acp_page_free(p);
    fclose(f);
    return out;
}

static int64_t created_of(size_t i)
{
    return 1700000000000000LL + (int64_t)i * 1000;
}

/* Runs g_n .. g_n+n: every third one stays active, the others are final. */
static void add_runs(size_t n)
{
    acp_store *s = open_store("");
    acp_error err;
    for (size_t k = 0; k < n && g_n < MAX_RUNS; k++, g_n++) {
        size_t i = g_n;
        char id[32], doc[256];
        snprintf(id, sizeof id, "run-%05zu", i);
        g_final[i] = i % 3 != 0;
        time_t t = (time_t)(created_of(i) / 1000000);
        struct tm tm;
        gmtime_r(&t, &tm);
        char when[64];
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(doc, sizeof doc,
                 "{\"run_id\":\"%s\",\"agent_name\":\"a%zu\",\"status\":\"%s\","
                 "\"created_at\":\"%s.%06dZ\"}",
                 id, i % 4, g_final[i] ? (i % 2 ? "completed" : "failed") : "in-progress", when,
                 (int)(created_of(i) % 1000000));
        if (acp_run_save(s, doc, ACP_STRLEN, &err) != ACP_OK)
            die("save %s: %s", id, err.message);
        for (int e = 0; e < EVENTS; e++) {
            char ev[128];
            snprintf(ev, sizeof ev, "{\"type\":\"message.part\",\"n\":%d,\"run\":\"%s\"}", e, id);
            if (acp_event_add(s, id, ev, ACP_STRLEN, NULL, &err) != ACP_OK)
                die("event of %s: %s", id, err.message);
        }
        g_ids[i] = strdup(id);
        if (!(g_snap[i] = snapshot(s, id, created_of(i))))
            die("%s vanished", id);
    }
    acp_store_close(s);
}

/* Every run once, in order (ids descend with creation), totals agreeing,
 * each byte for byte. */
static void check(const char *extra, const char *when)
{
    acp_store *s = open_store(extra);
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.limit = 37;
    f.want_total = 1;
    char *cursor = NULL;
    size_t seen = 0;
    for (;;) {
        acp_page *p;
        acp_error err;
        f.cursor = cursor;
        if (acp_run_list(s, &f, &p, &err) != ACP_OK)
            die("%s: list: %s", when, err.message);
        if (acp_page_total(p) != (int64_t)g_n)
            die("%s: total %" PRId64 ", %zu runs written", when, acp_page_total(p), g_n);
        for (size_t k = 0; k < acp_page_count(p); k++, seen++) {
            if (seen >= g_n)
                die("%s: more runs listed than written", when);
            size_t i = g_n - 1 - seen;
            if (strcmp(acp_page_key(p, k), g_ids[i]) != 0)
                die("%s: position %zu lists %s, expected %s (a run twice or lost)", when, seen,
                    acp_page_key(p, k), g_ids[i]);
            if (acp_page_time_us(p, k) != created_of(i))
                die("%s: %s listed at created %" PRId64, when, g_ids[i], acp_page_time_us(p, k));
        }
        free(cursor);
        cursor = acp_page_next_cursor(p) ? strdup(acp_page_next_cursor(p)) : NULL;
        acp_page_free(p);
        if (!cursor)
            break;
    }
    if (seen != g_n)
        die("%s: %zu runs listed, %zu written", when, seen, g_n);
    for (size_t i = 0; i < g_n; i++) {
        char *now = snapshot(s, g_ids[i], created_of(i));
        if (!now || strcmp(now, g_snap[i]) != 0)
            die("%s: %s differs:\n--- written\n%s--- now\n%s", when, g_ids[i], g_snap[i],
                now ? now : "(none)\n");
        free(now);
    }
    acp_store_close(s);
}

/* Final runs still in the hot tier. */
static size_t hot_final(void)
{
    acp_store *hot = open_plain("sqlite:%s/hot.db");
    size_t n = 0;
    for (size_t i = 0; i < g_n; i++) {
        char *json;
        size_t len;
        acp_error err;
        if (g_final[i] && acp_run_get(hot, g_ids[i], &json, &len, &err) == ACP_OK) {
            free(json);
            n++;
        }
    }
    acp_store_close(hot);
    return n;
}

/* Journals a killed pass left in the hot tier (its half moves). */
static size_t journals_left(void)
{
    acp_store *hot = open_plain("sqlite:%s/hot.db");
    acp_page *p;
    acp_error err;
    if (acp_session_list(hot, "acp-archive.journal.", 1000, &p, &err) != ACP_OK)
        die("sessions: %s", err.message);
    size_t n = acp_page_count(p);
    acp_page_free(p);
    acp_store_close(hot);
    return n;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The child: archive everything due, in batches of 7 (many journals). */
static int batch_fn(void *ctx, int64_t moved)
{
    (void)ctx, (void)moved;
    return 0;
}

static void child_pass(void)
{
    acp_store *s = open_store("");
    int64_t n;
    acp_error err;
    for (;;) {
        if (acp_store_archive(s, 7, batch_fn, NULL, &n, &err) != ACP_OK) {
            fprintf(stderr, "child: archive: %s\n", err.message);
            _exit(2);
        }
        if (n < 7)
            break;
    }
    acp_store_close(s);
    _exit(0);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        die("usage: crash_archive ROUNDS");
    static char dir[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/acp-archive-crash-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(dir))
        die("mkdtemp: %s", strerror(errno));
    g_dir = dir;
    int rounds = atoi(argv[1]);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    add_runs(ADD * 2);
    int64_t span = 200000;
    int killed = 0, progressed = 0, half = 0;
    for (int r = 0; r < rounds; r++) {
        if (hot_final() < ADD / 2)
            add_runs(ADD);
        size_t before = hot_final();
        int64_t t0 = mono_us();
        pid_t pid = fork();
        if (pid < 0)
            die("fork: %s", strerror(errno));
        if (pid == 0)
            child_pass();
        int64_t delay = rand() % (span > 1 ? span : 1);
        struct timespec ts = {delay / 1000000, (delay % 1000000) * 1000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        if (WIFSIGNALED(status)) {
            killed++;
            progressed += hot_final() < before;
            half += journals_left() > 0;
        } else {
            if (WEXITSTATUS(status) != 0)
                die("round %d: the pass failed (exit %d)", r, WEXITSTATUS(status));
            span = mono_us() - t0; /* a whole pass: the next kills land within it */
        }
        char when[64];
        snprintf(when, sizeof when, "round %d, before recovery", r);
        check("&recover=false", when);
        snprintf(when, sizeof when, "round %d, after recovery", r);
        check("", when);
    }
    /* One last pass finishes everything. */
    acp_store *s = open_store("");
    int64_t n;
    acp_error err;
    if (acp_store_archive(s, 0, NULL, NULL, &n, &err) != ACP_OK)
        die("last pass: %s", err.message);
    acp_store_close(s);
    check("", "at the end");
    if (hot_final() != 0)
        die("final runs left in the hot tier after the last pass");
    acp_store *cold = open_plain("file:%s/cold");
    for (size_t i = 0; i < g_n; i++) {
        char *c = snapshot(cold, g_ids[i], created_of(i));
        if (g_final[i] ? !c || strcmp(c, g_snap[i]) != 0 : c != NULL)
            die("cold tier: %s %s", g_ids[i], g_final[i] ? "differs or is missing" : "is there");
        free(c);
    }
    acp_store_close(cold);
    printf("crash_archive: %d rounds, %d killed mid-pass (%d after moving runs, %d leaving a "
           "journal of half moves), %zu runs checked byte for byte\n",
           rounds, killed, progressed, half, g_n);
    /* Kills that all landed before the first move would prove nothing. */
    if (rounds >= 10 && (progressed == 0 || half == 0))
        die("no kill landed inside a move: nothing was tested");
    for (size_t i = 0; i < g_n; i++) {
        free(g_ids[i]);
        free(g_snap[i]);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : 1;
}
