/* SPDX-License-Identifier: MIT */
/*
 * crash_batch.c - kill -9 a process inside batched restores into a file
 * store (plugins/file/batch.c), at the points of the batch protocol, and
 * check what the store holds after each kill.
 *
 *   crash_batch URI-TEMPLATE-WITH-{dir} [KILLS]     (default 60)
 *
 * A child restores BATCHES batches of RUNS runs as copy does: each batch's
 * events (acp_event_restore_many), then its run records
 * (acp_run_restore_many), and records in memory shared with the parent
 * (MAP_SHARED) how many batches of each were acknowledged.  This program
 * defines fdatasync, fsync and renameat, so the plugin's calls come here
 * first (the executable exports them): the child counts them and kills
 * itself with SIGKILL just before the call the parent picked at random,
 * so kills land between the protocol's steps (documents written but not
 * flushed, some flushed, some renamed, before the folder's flush, logs
 * appended but not flushed...), from any of the flushing threads.
 *
 * After each kill the parent opens the store (its recovery runs) and
 * checks: every run and event of an acknowledged batch is there, byte for
 * byte; every run record present has all its events (no half batch looks
 * complete); every run's events are a prefix of its source's, with their
 * sequences and times; list_runs lists exactly the runs present.  Then a
 * new child resumes (the restores skip what is there); when one finishes
 * unkilled, the store must equal the source, and the next round starts
 * with a fresh store.  Exit 0 when every check passed.
 */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <dlfcn.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "acp_storage.h"

#define BATCHES 8
#define RUNS 24      /* runs per batch */
#define MAX_EVENTS 9 /* events per run: 1..MAX_EVENTS */
#define T0 1700000000000000LL

/* The build hides symbols by default: these must reach the plugin. */
#define EXPORT __attribute__((visibility("default")))

typedef struct shared {
    atomic_long calls;  /* fdatasync + fsync + renameat made while armed */
    atomic_long kill_at; /* the call that kills (0: none) */
    atomic_int armed;
    atomic_int ev_acked, runs_acked; /* batches acknowledged */
} shared;

static shared *sh;

/* Count a call of the child's; die at the chosen one. */
static void point(void)
{
    if (!sh || !atomic_load(&sh->armed))
        return;
    long n = atomic_fetch_add(&sh->calls, 1) + 1;
    if (n == atomic_load(&sh->kill_at))
        raise(SIGKILL);
}

/* The C library's, looked up once before any thread (flushing threads call
 * these at once). */
static int (*real_fdatasync)(int);
static int (*real_fsync)(int);
static int (*real_renameat)(int, const char *, int, const char *);

static void resolve_reals(void)
{
    real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    real_renameat = (int (*)(int, const char *, int, const char *))dlsym(RTLD_NEXT, "renameat");
    if (!real_fdatasync || !real_fsync || !real_renameat) {
        fprintf(stderr, "crash_batch: cannot find the C library's functions\n");
        exit(2);
    }
}

EXPORT int fdatasync(int fd)
{
    point();
    return real_fdatasync(fd);
}

EXPORT int fsync(int fd)
{
    point();
    return real_fsync(fd);
}

EXPORT int renameat(int od, const char *op, int nd, const char *np)
{
    point();
    return real_renameat(od, op, nd, np);
}

static int failures;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "crash_batch: " __VA_ARGS__);                                              \
        fputc('\n', stderr);                                                                       \
        failures++;                                                                                \
    } while (0)

/* ---- the source ---- */

static int events_of(int b, int r)
{
    return 1 + (b * 7 + r * 5) % MAX_EVENTS;
}

static void run_id(char *out, size_t cap, int b, int r)
{
    snprintf(out, cap, "b%d/r%d", b, r);
}

static void run_doc(char *out, size_t cap, int b, int r)
{
    char id[32];
    run_id(id, sizeof id, b, r);
    snprintf(out, cap,
             "{\"run_id\":\"%s\",\"agent_name\":\"a%d\",\"status\":\"completed\","
             "\"output\":[{\"n\":%d}]}",
             id, r % 3, b * RUNS + r);
}

/* Event k (1-based) of run (b, r): up to a few KiB, so logs differ in size. */
static void event_doc(char *out, size_t cap, int b, int r, int k)
{
    int n = snprintf(out, cap, "{\"type\":\"message\",\"k\":%d,\"pad\":\"", k);
    size_t pad = (size_t)((b * 131 + r * 17 + k * 401) % 3000);
    memset(out + n, 'a' + (b + r + k) % 26, pad);
    snprintf(out + n + pad, cap - (size_t)n - pad, "\"}");
}

static int64_t event_time(int b, int r, int k)
{
    return T0 + (int64_t)(b * RUNS + r) * 1000 + k;
}

/* ---- the child: restores every batch, as copy does ---- */

/* What a resumed child acknowledges again stays acknowledged: keep the most. */
static void acked(atomic_int *at, int batches)
{
    int cur = atomic_load(at);
    while (cur < batches && !atomic_compare_exchange_weak(at, &cur, batches))
        ;
}

#define DOC_CAP 4096

static int child(const char *uri)
{
    acp_store *s;
    acp_error e;
    if (acp_store_open(uri, &s, &e) != ACP_OK) {
        fprintf(stderr, "crash_batch child: open: %s\n", e.message);
        return 10;
    }
    static char ids[RUNS][32], rdocs[RUNS][256], edocs[RUNS * MAX_EVENTS][DOC_CAP];
    acp_restore_event evs[RUNS * MAX_EVENTS];
    acp_restore_run runs[RUNS];
    acp_status res[RUNS * MAX_EVENTS];
    atomic_store(&sh->armed, 1);
    for (int b = 0; b < BATCHES; b++) {
        size_t n = 0;
        for (int r = 0; r < RUNS; r++) {
            run_id(ids[r], sizeof ids[r], b, r);
            run_doc(rdocs[r], sizeof rdocs[r], b, r);
            runs[r] = (acp_restore_run){rdocs[r], ACP_STRLEN, T0 + b * RUNS + r};
            for (int k = 1; k <= events_of(b, r); k++, n++) {
                event_doc(edocs[n], DOC_CAP, b, r, k);
                evs[n] = (acp_restore_event){ids[r], edocs[n], ACP_STRLEN, k,
                                             event_time(b, r, k)};
            }
        }
        if (acp_event_restore_many(s, evs, n, res, &e) != ACP_OK) {
            fprintf(stderr, "crash_batch child: restore events: %s\n", e.message);
            return 11;
        }
        acked(&sh->ev_acked, b + 1);
        if (acp_run_restore_many(s, runs, RUNS, res, &e) != ACP_OK) {
            fprintf(stderr, "crash_batch child: restore runs: %s\n", e.message);
            return 12;
        }
        acked(&sh->runs_acked, b + 1);
    }
    atomic_store(&sh->armed, 0);
    acp_store_close(s);
    return 0;
}

/* ---- the checks ---- */

/* How many of run (b, r)'s events the store holds, all checked against the
 * source (-1 after a failure). */
static int check_events(acp_store *s, int b, int r)
{
    char id[32], want[DOC_CAP];
    run_id(id, sizeof id, b, r);
    acp_page *p;
    acp_error e;
    if (acp_event_list(s, id, NULL, &p, &e) != ACP_OK) {
        FAIL("events of %s: %s", id, e.message);
        return -1;
    }
    int n = (int)acp_page_count(p), bad = 0;
    if (n > events_of(b, r)) {
        FAIL("run %s has %d events, its source %d", id, n, events_of(b, r));
        bad = 1;
    }
    for (int i = 0; i < n && !bad; i++) {
        event_doc(want, sizeof want, b, r, i + 1);
        if (acp_page_seq(p, (size_t)i) != i + 1 ||
            acp_page_time_us(p, (size_t)i) != event_time(b, r, i + 1) ||
            strcmp(acp_page_json(p, (size_t)i, NULL), want) != 0) {
            FAIL("run %s: event %d is not its source's", id, i + 1);
            bad = 1;
        }
    }
    acp_page_free(p);
    return bad ? -1 : n;
}

/* 1: run (b, r) is there, as its source; 0: absent; -1: wrong. */
static int check_run(acp_store *s, int b, int r)
{
    char id[32], want[256];
    run_id(id, sizeof id, b, r);
    run_doc(want, sizeof want, b, r);
    char *json = NULL;
    acp_error e;
    acp_status st = acp_run_get(s, id, &json, NULL, &e);
    if (st == ACP_NOT_FOUND)
        return 0;
    if (st != ACP_OK) {
        FAIL("get run %s: %s", id, e.message);
        return -1;
    }
    int ok = strcmp(json, want) == 0;
    if (!ok)
        FAIL("run %s: its document is not its source's", id);
    acp_free(json);
    return ok ? 1 : -1;
}

/* Runs list_runs counts and lists (all of them, page by page). */
static long listed_runs(acp_store *s)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.limit = 1000;
    f.want_total = 1;
    acp_page *p;
    acp_error e;
    if (acp_run_list(s, &f, &p, &e) != ACP_OK) {
        FAIL("list runs: %s", e.message);
        return -1;
    }
    long total = (long)acp_page_total(p), n = (long)acp_page_count(p);
    acp_page_free(p);
    if (total != n)
        FAIL("list runs: total %ld but %ld listed", total, n);
    return n;
}

/* The store after a kill (complete: the child finished). */
static void check_store(const char *uri, int complete)
{
    acp_store *s;
    acp_error e;
    if (acp_store_open(uri, &s, &e) != ACP_OK) {
        FAIL("open %s after a crash: %s", uri, e.message);
        return;
    }
    int ev_acked = complete ? BATCHES : atomic_load(&sh->ev_acked);
    int runs_acked = complete ? BATCHES : atomic_load(&sh->runs_acked);
    long present = 0;
    for (int b = 0; b < BATCHES; b++)
        for (int r = 0; r < RUNS; r++) {
            int have = check_run(s, b, r), evs = check_events(s, b, r);
            if (have == 1)
                present++;
            if (have == 0 && b < runs_acked)
                FAIL("run b%d/r%d was acknowledged and is gone", b, r);
            if (evs >= 0 && evs < events_of(b, r) && b < ev_acked)
                FAIL("run b%d/r%d: %d of its %d acknowledged events", b, r, evs,
                     events_of(b, r));
            if (have == 1 && evs >= 0 && evs < events_of(b, r))
                FAIL("run b%d/r%d is there with %d of its %d events (half a batch)", b, r, evs,
                     events_of(b, r));
        }
    long listed = listed_runs(s);
    if (listed >= 0 && listed != present)
        FAIL("list runs has %ld runs, %ld are there", listed, present);
    acp_store_close(s);
}

/* ---- main ---- */

/* The template with {dir} replaced. */
static void make_uri(char *out, size_t cap, const char *tmpl, const char *dir)
{
    const char *at = strstr(tmpl, "{dir}");
    if (!at) {
        fprintf(stderr, "crash_batch: the URI needs {dir}\n");
        exit(2);
    }
    snprintf(out, cap, "%.*s%s%s", (int)(at - tmpl), tmpl, dir, at + 5);
}

/* Run a child to its end or to its kill; 1 if it finished. */
static int run_child(const char *uri, long kill_at)
{
    atomic_store(&sh->calls, 0);
    atomic_store(&sh->kill_at, kill_at);
    atomic_store(&sh->armed, 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        _exit(child(uri));
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        return 0;
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        FAIL("the child failed (status %d)", status);
        return -1;
    }
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: crash_batch URI-WITH-{dir} [KILLS]\n");
        return 2;
    }
    int kills = argc > 2 ? atoi(argv[2]) : 60;
    resolve_reals();
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        return 2;
    const char *tmp = getenv("TMPDIR");
    char base[4096];
    snprintf(base, sizeof base, "%s/acp-crash-batch-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(base)) {
        perror(base);
        return 2;
    }
    char dir[4200], uri[8400];
    /* How many calls a whole restore makes: kills are picked among them. */
    snprintf(dir, sizeof dir, "%s/calibrate", base);
    make_uri(uri, sizeof uri, argv[1], dir);
    if (run_child(uri, 0) != 1)
        return 1;
    long span = atomic_load(&sh->calls);
    check_store(uri, 1);
    fprintf(stderr, "crash_batch: %s: a whole restore makes %ld flushes and renames\n", argv[1],
            span);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    int done = 0, rounds = 0, killed = 0;
    while (done < kills && failures == 0) {
        snprintf(dir, sizeof dir, "%s/round%d", base, rounds++);
        make_uri(uri, sizeof uri, argv[1], dir);
        atomic_store(&sh->ev_acked, 0);
        atomic_store(&sh->runs_acked, 0);
        for (;;) {
            /* A third of a whole restore at most: a few kills a round. */
            int rc = run_child(uri, 1 + rand() % (span / 3 + 1));
            if (rc < 0)
                break;
            done++;
            killed += rc == 0;
            check_store(uri, rc == 1);
            if (rc == 1 || failures)
                break;
        }
    }
    fprintf(stderr, "crash_batch: %d kills in %d rounds, %d failures\n", killed, rounds,
            failures);
    if (failures == 0) {
        char cmd[4300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
        if (system(cmd) != 0)
            fprintf(stderr, "crash_batch: could not remove %s\n", base);
    } else {
        fprintf(stderr, "crash_batch: stores kept in %s\n", base);
    }
    return failures ? 1 : 0;
}
