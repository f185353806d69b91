/* SPDX-License-Identifier: MIT */
/*
 * crash_saves.c - kill -9 a process whose threads save concurrently, and
 * check that every acknowledged save is there, whole.
 *
 *   crash_saves URI [CRASHES [THREADS]]     (defaults 30 and 8)
 *
 * The durable save path shares one flush of runs/ (sessions/) among the
 * saves that wait for it (plugins/file/flushgroup.c); crash_test has one
 * writer, so it never has several saves in one shared flush.  Here a child
 * process runs THREADS threads, each saving runs and sessions of its own
 * (ids t<thread>-<k>, 16 of each per thread) with rising versions, and
 * records in memory it shares with the parent (MAP_SHARED) which save it
 * is about to make and, once the call returned OK, that it was made.  The
 * parent kills the child after a random 5..60 ms, opens the store and
 * checks every id: its document is byte for byte the last acknowledged
 * version, or the version that thread had in flight (whole), or absent
 * when nothing was acknowledged yet; and list_runs' total agrees.  One
 * store for all crashes.  A failed save (any status but OK) is a failure:
 * nothing here should fail.
 */
#define _GNU_SOURCE
#include <pthread.h>
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

#define IDS 16 /* runs and sessions per thread */
#define MAX_THREADS 32

/* Shared with the child: per thread, per kind (0 run, 1 session), per id. */
typedef struct shared {
    atomic_long acked[MAX_THREADS][2][IDS];   /* last version acknowledged (0: none) */
    atomic_long inflight[MAX_THREADS][2][IDS]; /* version being saved (0: none) */
    atomic_int failed;
    char why[512];
} shared;

static shared *sh;
static const char *uri;

static void make_id(char *out, size_t cap, int kind, int t, int k)
{
    snprintf(out, cap, "%c%d-%d", kind ? 's' : 't', t, k);
}

/* The document of (kind, thread, id, version): 100 bytes to 40 KiB. */
static size_t make_doc(char *out, size_t cap, int kind, int t, int k, long v)
{
    char id[32];
    make_id(id, sizeof id, kind, t, k);
    size_t pad = (size_t)((v * 7919 + k * 104729 + t) % 40000);
    int n = kind ? snprintf(out, cap, "{\"id\":\"%s\",\"v\":%ld,\"pad\":\"", id, v)
                 : snprintf(out, cap,
                            "{\"run_id\":\"%s\",\"agent_name\":\"a%d\",\"status\":\"created\","
                            "\"created_at\":\"2025-06-01T12:00:00Z\",\"v\":%ld,\"pad\":\"",
                            id, t, v);
    size_t len = (size_t)n;
    memset(out + len, 'a' + (int)(v % 26), pad);
    len += pad;
    len += (size_t)snprintf(out + len, cap - len, "\"}");
    return len;
}

typedef struct worker {
    acp_store *s;
    int t;
} worker;

static void *child_thread(void *arg)
{
    worker *w = arg;
    char *doc = malloc(64 * 1024);
    unsigned seed = (unsigned)(getpid() * 31 + w->t);
    for (;;) {
        int kind = rand_r(&seed) % 4 == 0; /* a session one save in four */
        int k = rand_r(&seed) % IDS;
        long v = atomic_load(&sh->acked[w->t][kind][k]) + 1;
        size_t len = make_doc(doc, 64 * 1024, kind, w->t, k, v);
        atomic_store(&sh->inflight[w->t][kind][k], v);
        acp_error e;
        acp_status st = kind ? acp_session_save(w->s, doc, len, &e)
                             : acp_run_save(w->s, doc, len, &e);
        if (st != ACP_OK) {
            if (!atomic_exchange(&sh->failed, 1))
                snprintf(sh->why, sizeof sh->why, "save failed: %.480s", e.message);
            break;
        }
        atomic_store(&sh->acked[w->t][kind][k], v);
        atomic_store(&sh->inflight[w->t][kind][k], 0);
    }
    free(doc);
    return NULL;
}

static void child_main(int threads)
{
    acp_store *s;
    acp_error e;
    if (acp_store_open(uri, &s, &e) != ACP_OK) {
        atomic_store(&sh->failed, 1);
        snprintf(sh->why, sizeof sh->why, "child open: %.480s", e.message);
        _exit(1);
    }
    pthread_t th[MAX_THREADS];
    worker ws[MAX_THREADS];
    for (int t = 0; t < threads; t++) {
        ws[t] = (worker){s, t};
        pthread_create(&th[t], NULL, child_thread, &ws[t]);
    }
    for (int t = 0; t < threads; t++)
        pthread_join(th[t], NULL);
    _exit(0);
}

/* Check every id after a crash; the number of failures. */
static int check(int threads, long *checked, long *inflight_seen)
{
    acp_store *s;
    acp_error e;
    if (acp_store_open(uri, &s, &e) != ACP_OK) {
        fprintf(stderr, "crash_saves: reopen: %s\n", e.message);
        return 1;
    }
    int bad = 0;
    int64_t runs = 0;
    char *want = malloc(64 * 1024);
    for (int t = 0; t < threads; t++) {
        for (int kind = 0; kind < 2; kind++) {
            for (int k = 0; k < IDS; k++) {
                char id[32];
                make_id(id, sizeof id, kind, t, k);
                long a = atomic_load(&sh->acked[t][kind][k]);
                long f = atomic_load(&sh->inflight[t][kind][k]);
                char *got = NULL;
                size_t glen = 0;
                acp_status st = kind ? acp_session_get(s, id, &got, &glen, &e)
                                     : acp_run_get(s, id, &got, &glen, &e);
                long have = -1; /* the version found: 0 absent */
                if (st == ACP_NOT_FOUND) {
                    have = 0;
                } else if (st == ACP_OK) {
                    for (long v = a > 0 ? a : 1; v <= (f > a ? f : a) && have < 0; v++) {
                        size_t wl = make_doc(want, 64 * 1024, kind, t, k, v);
                        if (wl == glen && memcmp(want, got, wl) == 0)
                            have = v;
                    }
                } else {
                    fprintf(stderr, "crash_saves: get %s: %s\n", id, e.message);
                }
                acp_free(got);
                if (have > 0 && !kind)
                    runs++;
                if (have == a || (f && have == f)) {
                    if (f && have == f)
                        (*inflight_seen)++;
                    /* The in-flight save happened: it is now the acknowledged
                     * state the next round starts from. */
                    if (f && have == f)
                        atomic_store(&sh->acked[t][kind][k], f);
                    atomic_store(&sh->inflight[t][kind][k], 0);
                    (*checked)++;
                } else {
                    fprintf(stderr,
                            "crash_saves: %s %s: found %s%ld, acknowledged %ld, in flight %ld\n",
                            kind ? "session" : "run", id, have < 0 ? "a document of no version, " : "version ",
                            have, a, f);
                    bad++;
                }
            }
        }
    }
    free(want);
    acp_run_filter q = ACP_RUN_FILTER_INIT;
    q.limit = 1;
    q.want_total = 1;
    acp_page *p;
    if (acp_run_list(s, &q, &p, &e) != ACP_OK) {
        fprintf(stderr, "crash_saves: list: %s\n", e.message);
        bad++;
    } else {
        if (acp_page_total(p) != runs) {
            fprintf(stderr, "crash_saves: list_runs total %lld, runs found %lld\n",
                    (long long)acp_page_total(p), (long long)runs);
            bad++;
        }
        acp_page_free(p);
    }
    acp_store_close(s);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: crash_saves URI [CRASHES [THREADS]]\n");
        return 2;
    }
    char dir[] = "/tmp/crash-saves-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    static char u[4096];
    const char *at = strstr(argv[1], "{dir}");
    if (at)
        snprintf(u, sizeof u, "%.*s%s%s", (int)(at - argv[1]), argv[1], dir, at + 5);
    else
        snprintf(u, sizeof u, "%s", argv[1]);
    uri = u;
    int crashes = argc > 2 ? atoi(argv[2]) : 30;
    int threads = argc > 3 ? atoi(argv[3]) : 8;
    if (threads < 1 || threads > MAX_THREADS || crashes < 1) {
        fprintf(stderr, "crash_saves: 1..%d threads, at least one crash\n", MAX_THREADS);
        return 2;
    }
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    unsigned seed = (unsigned)time(NULL);
    printf("crash_saves: %s, %d crashes, %d threads, seed %u\n", uri, crashes, threads, seed);
    srand(seed);
    long checked = 0, inflight_seen = 0;
    int failures = 0, done = 0;
    for (int c = 0; c < crashes && !failures; c++, done++) {
        pid_t pid = fork();
        if (pid == 0)
            child_main(threads);
        struct timespec d = {0, (5 + rand() % 56) * 1000000L};
        nanosleep(&d, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        if (atomic_load(&sh->failed)) {
            fprintf(stderr, "crash_saves: %s\n", sh->why);
            failures++;
            break;
        }
        failures += check(threads, &checked, &inflight_seen);
    }
    printf("crash_saves: %s: %d crashes, %ld documents checked, %ld in-flight saves found "
           "applied\n",
           failures ? "FAILED" : "ok", done, checked, inflight_seen);
    if (!failures) {
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "crash_saves: could not remove %s\n", dir);
    } else {
        fprintf(stderr, "crash_saves: store kept in %s\n", dir);
    }
    return failures ? 1 : 0;
}
