/* SPDX-License-Identifier: MIT */
/*
 * stress_logs.c - the file backend's table of open event logs under load:
 * many threads in two processes append round-robin to far more runs than
 * the store keeps open (RLIMIT_NOFILE is lowered to 128, so each handle
 * keeps at most 32 logs open), while some runs are deleted and started
 * again.  Checks:
 *   - the descriptors of event logs open at any moment stay within the
 *     bound (32, plus a few per thread for logs being opened, closed or
 *     read), sampled all along by a monitor thread;
 *   - every add_event returns the sequence expected (gap-free per run,
 *     restarting at 1 after a delete), also on the runs that both
 *     processes append to, whose streams must hold every event once.
 * A plain C program (no Criterion) so that it also runs under
 * ThreadSanitizer.
 *
 *   stress_logs <store-uri-template> [threads] [runs-per-thread] [rounds]
 *
 * "{dir}" in the template is replaced by a fresh temporary directory.
 */
#define _GNU_SOURCE /* readlinkat */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acp_storage.h"
#include "uri_template.h"

#define MAX_THREADS 32
#define MAX_RUNS 400
#define SHARED_RUNS 40
#define NOFILE 128     /* the soft limit this test runs under */
#define LOGS_BOUND 32  /* what the store keeps open under it: a quarter */

static acp_store *store;
static int nthreads = 8, runs = 60, rounds = 6;
static char tag; /* 'p' parent, 'c' child */
static atomic_int failures;
static atomic_long shared_added;
static atomic_int done;
static char dir[] = "/tmp/acp-stress-logs-XXXXXX";

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "stress_logs[%c]: ", tag);                                                 \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        atomic_fetch_add(&failures, 1);                                                            \
    } while (0)

typedef struct worker {
    int id;
    unsigned rng;
    int64_t next_seq[MAX_RUNS]; /* of the thread's own runs */
    long shared_n;              /* events this thread added to shared runs */
} worker;

static unsigned next(worker *w)
{
    w->rng = w->rng * 1103515245u + 12345u;
    return w->rng >> 8;
}

static void own_run(char *buf, size_t n, int t, int r)
{
    snprintf(buf, n, "%c-t%d-r%d", tag, t, r);
}

static void add(const char *run, const char *doc, int64_t want)
{
    acp_error e;
    int64_t seq = 0;
    if (acp_event_add(store, run, doc, ACP_STRLEN, &seq, &e) != ACP_OK)
        FAIL("add_event %s: %s", run, e.message);
    else if (want && seq != want)
        FAIL("add_event %s: sequence %" PRId64 ", expected %" PRId64, run, seq, want);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    char run[64], doc[128];
    for (int r = 0; r < runs; r++)
        w->next_seq[r] = 1;
    for (int k = 0; k < rounds; k++) {
        for (int r = 0; r < runs; r++) {
            own_run(run, sizeof run, w->id, r);
            if (k > 0 && k == rounds / 2 && r % 7 == 3) {
                /* Delete some runs halfway: their logs may be open here,
                 * closed, or being closed by another thread's eviction. */
                acp_error e;
                if (acp_run_delete(store, run, &e) != ACP_OK)
                    FAIL("delete_run %s: %s", run, e.message);
                w->next_seq[r] = 1;
            }
            snprintf(doc, sizeof doc, "{\"type\":\"own\",\"k\":%d}", k);
            add(run, doc, w->next_seq[r]++);

            snprintf(run, sizeof run, "shared-%u", next(w) % SHARED_RUNS);
            snprintf(doc, sizeof doc, "{\"type\":\"shared\",\"who\":\"%c%d\",\"n\":%ld}", tag,
                     w->id, w->shared_n++);
            add(run, doc, 0);
            atomic_fetch_add(&shared_added, 1);
        }
    }
    return NULL;
}

/* Descriptors of this process open on event logs of the store. */
static int open_logs(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    char target[4096];
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        ssize_t len = readlinkat(dirfd(d), de->d_name, target, sizeof target - 1);
        if (len <= 0)
            continue;
        target[len] = 0;
        if (strncmp(target, dir, strlen(dir)) == 0 && strstr(target, "/events/") &&
            len > 4 && strcmp(target + len - 4, ".log") == 0)
            n++;
    }
    closedir(d);
    return n;
}

static atomic_int max_open;

static void *monitor_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&done)) {
        int n = open_logs();
        if (n > atomic_load(&max_open))
            atomic_store(&max_open, n);
        usleep(500);
    }
    return NULL;
}

/* Check this process's own runs: each holds the events expected. */
static void check_own(worker *w)
{
    for (int t = 0; t < nthreads; t++) {
        for (int r = 0; r < runs; r++) {
            char run[64];
            own_run(run, sizeof run, t, r);
            acp_event_filter f = ACP_EVENT_FILTER_INIT;
            f.limit = 1000;
            acp_page *p;
            acp_error e;
            if (acp_event_list(store, run, &f, &p, &e) != ACP_OK) {
                FAIL("get_events %s: %s", run, e.message);
                continue;
            }
            int64_t n = (int64_t)acp_page_count(p);
            if (n != w[t].next_seq[r] - 1)
                FAIL("%s holds %" PRId64 " events, expected %" PRId64, run, n,
                     w[t].next_seq[r] - 1);
            for (int64_t i = 0; i < n; i++)
                if (acp_page_seq(p, (size_t)i) != i + 1)
                    FAIL("%s: event %" PRId64 " has sequence %" PRId64, run, i + 1,
                         acp_page_seq(p, (size_t)i));
            acp_page_free(p);
        }
    }
}

/* Run the workers of this process (and in the parent the monitor); 0 when
 * all went well.  *shared receives the events added to shared runs. */
static int work(const char *uri, long *shared)
{
    acp_error e;
    if (acp_store_open(uri, &store, &e) != ACP_OK) {
        FAIL("cannot open %s: %s", uri, e.message);
        return 1;
    }
    worker *w = calloc((size_t)nthreads, sizeof *w);
    if (!w) {
        FAIL("out of memory");
        return 1;
    }
    pthread_t th[MAX_THREADS], mon;
    if (tag == 'p')
        pthread_create(&mon, NULL, monitor_main, NULL);
    for (int i = 0; i < nthreads; i++) {
        w[i].id = i;
        w[i].rng = 0x9e3779b9u * (unsigned)(i + 1) + (unsigned)tag;
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    if (tag == 'p') {
        atomic_store(&done, 1);
        pthread_join(mon, NULL);
        /* Each thread may hold one log while others are opened, closed
         * or read: a few beyond the bound, never one per run. */
        int most = atomic_load(&max_open);
        if (most > LOGS_BOUND + 3 * nthreads)
            FAIL("%d event logs were open at once (bound %d + %d threads)", most, LOGS_BOUND,
                 nthreads);
        if (most < LOGS_BOUND / 2)
            FAIL("only %d event logs were ever open: the load did not reach the bound", most);
        printf("stress_logs: at most %d event logs open (bound %d, %d threads)\n", most,
               LOGS_BOUND, nthreads);
    }
    check_own(w);
    *shared = atomic_load(&shared_added);
    free(w);
    return atomic_load(&failures) != 0;
}

/* Both processes' events to the shared runs: each once, sequences 1..n. */
static void check_shared(long expected)
{
    long total = 0;
    static unsigned char seen[2][MAX_THREADS][MAX_RUNS * 64];
    for (int s = 0; s < SHARED_RUNS; s++) {
        char run[64];
        snprintf(run, sizeof run, "shared-%d", s);
        int64_t after = 0;
        for (;;) {
            acp_event_filter f = ACP_EVENT_FILTER_INIT;
            f.limit = 1000;
            f.after_seq = after;
            acp_page *p;
            acp_error e;
            if (acp_event_list(store, run, &f, &p, &e) != ACP_OK) {
                FAIL("get_events %s: %s", run, e.message);
                return;
            }
            size_t n = acp_page_count(p);
            for (size_t i = 0; i < n; i++) {
                if (acp_page_seq(p, i) != ++after)
                    FAIL("%s: expected sequence %" PRId64 ", got %" PRId64, run, after,
                         acp_page_seq(p, i));
                char who;
                int t;
                long k;
                const char *doc = acp_page_json(p, i, NULL);
                if (sscanf(doc, "{\"type\":\"shared\",\"who\":\"%c%d\",\"n\":%ld}", &who, &t,
                           &k) != 3 ||
                    (who != 'p' && who != 'c') || t < 0 || t >= nthreads || k < 0 ||
                    k >= (long)sizeof seen[0][0]) {
                    FAIL("%s: unexpected event %s", run, doc);
                    continue;
                }
                if (seen[who == 'c'][t][k]++)
                    FAIL("%s: event %s stored twice", run, doc);
                total++;
            }
            acp_page_free(p);
            if (n < 1000)
                break;
        }
    }
    if (total != expected)
        FAIL("the shared runs hold %ld events, %ld were added", total, expected);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: stress_logs <store-uri-template with {dir}> [threads] "
                        "[runs-per-thread] [rounds]\n");
        return 2;
    }
    nthreads = argc > 2 ? atoi(argv[2]) : 8;
    runs = argc > 3 ? atoi(argv[3]) : 60;
    rounds = argc > 4 ? atoi(argv[4]) : 6;
    if (nthreads < 1 || nthreads > MAX_THREADS || runs < 1 || runs > MAX_RUNS || rounds < 1 ||
        (long)runs * rounds > MAX_RUNS * 64)
        return 2;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_max < NOFILE) {
        fprintf(stderr, "stress_logs: cannot set RLIMIT_NOFILE to %d\n", NOFILE);
        return 1;
    }
    rl.rlim_cur = NOFILE;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        perror("stress_logs: setrlimit");
        return 1;
    }
    char *uri = uri_from_template(argv[1], dir, 1);
    if (!uri) {
        fprintf(stderr, "stress_logs: the template needs {dir}\n");
        return 2;
    }
    int fds[2];
    if (pipe(fds) != 0)
        return 1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    long shared = 0;
    if (pid == 0) {
        tag = 'c';
        close(fds[0]);
        int rc = work(uri, &shared);
        acp_store_close(store);
        if (write(fds[1], &shared, sizeof shared) != (ssize_t)sizeof shared)
            rc = 1;
        _exit(rc);
    }
    tag = 'p';
    close(fds[1]);
    work(uri, &shared);
    long child_shared = 0;
    if (read(fds[0], &child_shared, sizeof child_shared) != (ssize_t)sizeof child_shared)
        FAIL("the child reported nothing");
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        FAIL("the child failed (status %d)", status);
    check_shared(shared + child_shared);
    acp_store_close(store);

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "stress_logs: could not remove %s\n", dir);
    free(uri);
    int f = atomic_load(&failures);
    printf("stress_logs: %d threads x 2 processes, %d runs each, %d rounds: %d failures\n",
           nthreads, runs, rounds, f);
    return f ? 1 : 0;
}
