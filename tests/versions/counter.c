/* SPDX-License-Identifier: MIT */
/*
 * counter.c - lost updates under conditional saves, across processes and
 * threads: every thread of every process adds 1 to a counter kept in one
 * run, EACH times, by read (acp_run_get_versioned), modify, conditional save
 * (acp_run_save_if with the version read) and retry on CONFLICT.  The
 * counter must end at exactly PROCS x THREADS x EACH; a backend whose check
 * and write were not one atomic step would lose increments.
 *
 *   versions-counter URI PROCS THREADS EACH
 *
 * URI "-" takes ACP_TEST_STORE (the with-server.sh scripts of tests/postgres
 * and tests/redis set it); "{dir}" in the URI becomes a fresh temporary
 * directory (a schema name, a key prefix).  PROCS 1 runs the threads in this
 * process on the handle that checks the result (for memory:); otherwise
 * PROCS processes each open their own handle.  Exit 0 when the count is
 * exact, 1 otherwise, with what went wrong on stderr.
 */
#define _XOPEN_SOURCE 700

#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acp_storage.h"

#define RUN_ID "versions-counter"

static const char *uri;
static int each;
/* Every thread of a process starts at once, so that they race. */
static pthread_barrier_t start;

typedef struct worker {
    acp_store *store;
    int64_t conflicts;
    char failure[1200]; /* "" while fine */
} worker;

static int64_t count_of(const char *doc)
{
    const char *p = strstr(doc, "\"count\":");
    return p ? strtoll(p + 8, NULL, 10) : -1;
}

static void doc_with(char *buf, size_t size, int64_t count)
{
    snprintf(buf, size,
             "{\"run_id\":\"" RUN_ID "\",\"agent_name\":\"counter\",\"status\":\"in-progress\","
             "\"count\":%" PRId64 "}",
             count);
}

static void *increment(void *arg)
{
    worker *w = arg;
    pthread_barrier_wait(&start);
    for (int done = 0; done < each;) {
        acp_error e;
        char *json = NULL;
        int64_t version = 0;
        acp_status st = acp_run_get_versioned(w->store, RUN_ID, &json, NULL, &version, &e);
        if (st != ACP_OK) {
            snprintf(w->failure, sizeof w->failure, "get: %s: %s", acp_status_name(st),
                     e.message);
            return NULL;
        }
        int64_t n = count_of(json);
        acp_free(json);
        char doc[200];
        doc_with(doc, sizeof doc, n + 1);
        st = acp_run_save_if(w->store, doc, ACP_STRLEN, version, NULL, &e);
        if (st == ACP_OK) {
            done++;
        } else if (st == ACP_CONFLICT) {
            w->conflicts++;
        } else {
            snprintf(w->failure, sizeof w->failure, "save_if: %s: %s", acp_status_name(st),
                     e.message);
            return NULL;
        }
    }
    return NULL;
}

/* Run n threads on store; 0 when every one finished, else 1 (reported). */
static int run_threads(acp_store *store, int n, const char *who, int64_t *conflicts)
{
    worker *ws = calloc((size_t)n, sizeof *ws);
    pthread_t *ts = calloc((size_t)n, sizeof *ts);
    int bad = !ws || !ts || pthread_barrier_init(&start, NULL, (unsigned)n) != 0;
    int started = 0;
    for (; !bad && started < n; started++) {
        ws[started].store = store;
        if (pthread_create(&ts[started], NULL, increment, &ws[started]) != 0) {
            fprintf(stderr, "%s: could not start %d threads\n", who, n);
            exit(1); /* the others wait at the barrier for ever */
        }
    }
    for (int i = 0; i < started; i++)
        pthread_join(ts[i], NULL);
    for (int i = 0; ws && i < started; i++) {
        *conflicts += ws[i].conflicts;
        if (ws[i].failure[0]) {
            fprintf(stderr, "%s thread %d: %s\n", who, i, ws[i].failure);
            bad = 1;
        }
    }
    if (started == n)
        pthread_barrier_destroy(&start);
    free(ws);
    free(ts);
    return bad;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* uri with every "{dir}" replaced by dir (malloc'ed). */
static char *expand(const char *tmpl, const char *dir)
{
    size_t n = strlen(tmpl) + 1, dl = strlen(dir);
    for (const char *p = strstr(tmpl, "{dir}"); p; p = strstr(p + 5, "{dir}"))
        n += dl;
    char *out = malloc(n), *o = out;
    if (!out)
        return NULL;
    for (const char *p = tmpl; *p;) {
        if (strncmp(p, "{dir}", 5) == 0) {
            memcpy(o, dir, dl);
            o += dl;
            p += 5;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s URI PROCS THREADS EACH\n", argv[0]);
        return 2;
    }
    const char *tmpl = strcmp(argv[1], "-") == 0 ? getenv("ACP_TEST_STORE") : argv[1];
    int procs = atoi(argv[2]), threads = atoi(argv[3]);
    each = atoi(argv[4]);
    if (!tmpl || procs < 1 || threads < 1 || each < 1) {
        fprintf(stderr, "%s: bad arguments (URI \"-\" needs ACP_TEST_STORE)\n", argv[0]);
        return 2;
    }
    char dir[] = "/tmp/acp-versions-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char *u = expand(tmpl, dir);
    uri = u;
    acp_store *store;
    acp_error e;
    acp_status st = u ? acp_store_open(uri, &store, &e) : ACP_NOMEM;
    if (st != ACP_OK) {
        fprintf(stderr, "open %s: %s\n", uri ? uri : "(no memory)", u ? e.message : "");
        return 1;
    }
    char doc[200];
    doc_with(doc, sizeof doc, 0);
    int64_t first = 0;
    if ((st = acp_run_save_if(store, doc, ACP_STRLEN, ACP_VERSION_ABSENT, &first, &e)) != ACP_OK) {
        fprintf(stderr, "create the counter: %s: %s\n", acp_status_name(st), e.message);
        return 1;
    }
    int bad = 0;
    int64_t conflicts = 0;
    if (procs == 1) {
        bad = run_threads(store, threads, "process 0", &conflicts);
    } else {
        /* Each child opens its own handle after the fork and reports its
         * conflicts through a pipe. */
        int fds[2];
        if (pipe(fds) != 0) {
            perror("pipe");
            return 1;
        }
        fflush(NULL);
        pid_t *pids = calloc((size_t)procs, sizeof *pids);
        for (int p = 0; pids && p < procs; p++) {
            pids[p] = fork();
            if (pids[p] == 0) {
                close(fds[0]);
                acp_store *own;
                char who[32];
                snprintf(who, sizeof who, "process %d", p);
                if (acp_store_open(uri, &own, &e) != ACP_OK) {
                    fprintf(stderr, "%s: open: %s\n", who, e.message);
                    _exit(1);
                }
                int64_t c = 0;
                int rc = run_threads(own, threads, who, &c);
                acp_store_close(own);
                ssize_t wr = write(fds[1], &c, sizeof c);
                _exit(rc || wr != (ssize_t)sizeof c);
            }
            if (pids[p] < 0) {
                perror("fork");
                bad = 1;
                break;
            }
        }
        close(fds[1]);
        for (int p = 0; pids && p < procs && pids[p] > 0; p++) {
            int status = 0;
            waitpid(pids[p], &status, 0);
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "process %d failed (status %d)\n", p, status);
                bad = 1;
            }
        }
        int64_t c;
        while (read(fds[0], &c, sizeof c) == (ssize_t)sizeof c)
            conflicts += c;
        close(fds[0]);
        free(pids);
    }
    char *json = NULL;
    int64_t version = 0, want = (int64_t)procs * threads * each;
    if ((st = acp_run_get_versioned(store, RUN_ID, &json, NULL, &version, &e)) != ACP_OK) {
        fprintf(stderr, "read the counter: %s: %s\n", acp_status_name(st), e.message);
        return 1;
    }
    int64_t got = count_of(json);
    acp_free(json);
    if (got != want) {
        fprintf(stderr, "FAIL: %s: %d processes x %d threads x %d increments left the counter at "
                        "%" PRId64 ", not %" PRId64 "\n",
                acp_store_backend(store), procs, threads, each, got, want);
        bad = 1;
    } else if (version <= first) {
        fprintf(stderr, "FAIL: the version went from %" PRId64 " to %" PRId64 "\n", first,
                version);
        bad = 1;
    } else {
        printf("%s: %d x %d x %d increments, exact count %" PRId64 " (%" PRId64
               " conflicts retried), version %" PRId64 " -> %" PRId64 "\n",
               acp_store_backend(store), procs, threads, each, got, conflicts, first, version);
    }
    acp_run_delete(store, RUN_ID, NULL);
    acp_store_close(store);
    free(u);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); /* sqlite's and file's files */
    return bad;
}
