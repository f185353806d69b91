/* SPDX-License-Identifier: MIT */
/*
 * test_file_filters.c - the file backend's run filters (status, creation
 * time) where only it can go wrong: a status change replayed from
 * index.log by another handle or process, saves racing in several
 * processes, a writer killed in the middle of a save, and a store of an
 * older format whose index has no statuses.  The general rules of
 * filtered lists are checked by the conformance suite.
 */
#define _GNU_SOURCE /* mkdtemp, nftw */

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "acp_storage.h"
#include "crc32c.h" /* to forge records of an older format */

#include "../common/criterion_helpers.h"

static const char *const STATUSES[] = {"created",   "in-progress", "awaiting", "cancelling",
                                       "cancelled", "completed",   "failed"};
#define NSTATUS 7
#define ALL_STATUSES "created,in-progress,awaiting,cancelling,cancelled,completed,failed"
static const char *const AGENTS[] = {"alpha", "beta", "gamma"};
static const char *const SESSIONS[] = {NULL, "s1", "s2"};
#define T0_US INT64_C(1748779200000000) /* 2025-06-01T12:00:00Z */

static char root[256];

static void setup(void)
{
    acp_test_mkdtemp(root, sizeof root, "file-filters");
}

static void teardown(void)
{
    acp_test_rmtree(root);
}

TestSuite(file_filters, .init = setup, .fini = teardown, .timeout = 300);

static acp_store *open_store(const char *query)
{
    char uri[512];
    snprintf(uri, sizeof uri, "file:%s/store%s%s", root, query ? "?" : "", query ? query : "");
    acp_store *s = NULL;
    acp_error err;
    acp_status st = acp_store_open(uri, &s, &err);
    cr_assert_eq(st, ACP_OK, "open %s: %s", uri, err.message);
    return s;
}

/* A run as the test knows it; created at T0 + created_s seconds. */
typedef struct mrun {
    char id[16];
    int agent, session, status, created_s;
} mrun;

/* The run's document; extra (or NULL) is put before its status. */
static const char *run_doc(const mrun *r, const char *extra)
{
    static char b[1024];
    int n = snprintf(b, sizeof b, "{\"run_id\":\"%s\",\"agent_name\":\"%s\"", r->id,
                     AGENTS[r->agent]);
    if (SESSIONS[r->session])
        n += snprintf(b + n, sizeof b - (size_t)n, ",\"session_id\":\"%s\"", SESSIONS[r->session]);
    if (extra)
        n += snprintf(b + n, sizeof b - (size_t)n, ",\"x\":%s", extra);
    snprintf(b + n, sizeof b - (size_t)n,
             ",\"status\":\"%s\",\"created_at\":\"2025-06-01T%02d:%02d:%02dZ\"}",
             STATUSES[r->status], 12 + r->created_s / 3600, r->created_s / 60 % 60,
             r->created_s % 60);
    return b;
}

static int save_run(acp_store *s, const mrun *r, acp_error *err)
{
    return acp_run_save(s, run_doc(r, NULL), ACP_STRLEN, err);
}

/* n runs over the statuses, agents, sessions, with times that tie. */
static void make_runs(mrun *m, int n)
{
    for (int i = 0; i < n; i++) {
        snprintf(m[i].id, sizeof m[i].id, "r%03d", (i * 37) % n);
        m[i].agent = i % 3;
        m[i].session = (i / 3) % 3;
        m[i].status = (i * 5) % NSTATUS;
        m[i].created_s = (i % 20) * 60;
    }
}

/* A filter: statuses (a bit per STATUSES index, 0: any), agent and session
 * (-1: any), time range [since_s, until_s) in seconds (-1: open). */
typedef struct mfilter {
    unsigned statuses;
    int agent, session, since_s, until_s;
} mfilter;

static int matches(const mrun *r, const mfilter *f)
{
    return (!f->statuses || (f->statuses & 1u << r->status)) &&
           (f->agent < 0 || f->agent == r->agent) &&
           (f->session < 0 || (f->session == r->session && SESSIONS[r->session])) &&
           (f->since_s < 0 || r->created_s >= f->since_s) &&
           (f->until_s < 0 || r->created_s < f->until_s);
}

static int by_list_order(const void *a, const void *b)
{
    const mrun *x = *(const mrun *const *)a, *y = *(const mrun *const *)b;
    if (x->created_s != y->created_s)
        return x->created_s > y->created_s ? -1 : 1;
    return -strcmp(x->id, y->id);
}

static void status_text(unsigned set, char *out, size_t cap)
{
    out[0] = '\0';
    for (int i = 0; i < NSTATUS; i++)
        if (set & 1u << i)
            snprintf(out + strlen(out), cap - strlen(out), "%s%s", out[0] ? "," : "",
                     STATUSES[i]);
}

/* List every run of f in pages of `limit` with cursors, with the total on
 * each page, and compare with the model. */
static void check_filter(acp_store *s, const mrun *m, int n, const mfilter *f, int64_t limit)
{
    const mrun *want[256];
    int nw = 0;
    for (int i = 0; i < n; i++)
        if (matches(&m[i], f))
            want[nw++] = &m[i];
    qsort(want, (size_t)nw, sizeof want[0], by_list_order);
    char st[128];
    status_text(f->statuses, st, sizeof st);
    acp_run_filter q = ACP_RUN_FILTER_INIT;
    q.status = f->statuses ? st : NULL;
    q.agent_name = f->agent >= 0 ? AGENTS[f->agent] : NULL;
    q.session_id = f->session >= 0 ? SESSIONS[f->session] : NULL;
    q.created_since_us = f->since_s >= 0 ? T0_US + f->since_s * INT64_C(1000000) : ACP_TIME_NONE;
    q.created_until_us = f->until_s >= 0 ? T0_US + f->until_s * INT64_C(1000000) : ACP_TIME_NONE;
    q.limit = limit;
    q.want_total = 1;
    char cursor[512] = "";
    int got = 0;
    for (;;) {
        acp_page *p;
        acp_error err;
        q.cursor = cursor[0] ? cursor : NULL;
        acp_status rc = acp_run_list(s, &q, &p, &err);
        cr_assert_eq(rc, ACP_OK, "list %s: %s", st, err.message);
        cr_assert_eq(acp_page_total(p), nw, "status=%s agent=%d session=%d since=%d until=%d: "
                     "total %lld, expected %d", st, f->agent, f->session, f->since_s,
                     f->until_s, (long long)acp_page_total(p), nw);
        size_t k = acp_page_count(p);
        for (size_t i = 0; i < k; i++, got++) {
            cr_assert_lt(got, nw, "status=%s: more runs than expected", st);
            cr_assert_str_eq(acp_page_key(p, i), want[got]->id,
                             "status=%s agent=%d session=%d since=%d until=%d: run %d", st,
                             f->agent, f->session, f->since_s, f->until_s, got);
            char needle[64];
            snprintf(needle, sizeof needle, "\"status\":\"%s\"", STATUSES[want[got]->status]);
            cr_assert(strstr(acp_page_json(p, i, NULL), needle), "%s: %s", needle,
                      acp_page_json(p, i, NULL));
        }
        const char *next = acp_page_next_cursor(p);
        if (!next || k == 0) {
            acp_page_free(p);
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", next);
        acp_page_free(p);
    }
    cr_assert_eq(got, nw, "status=%s: %d runs listed, expected %d", st, got, nw);
}

/* Every status alone and in pairs, with and without agent, session and
 * time ranges. */
static void check_all(acp_store *s, const mrun *m, int n)
{
    static const int ranges[][2] = {{-1, -1}, {300, -1}, {-1, 600}, {240, 900}};
    for (unsigned set = 1; set < 1u << NSTATUS; set = set * 3 + 1) {
        for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
            for (int a = -1; a < 3; a += 2) {
                for (int se = -1; se < 3; se += 3) {
                    mfilter f = {set & ((1u << NSTATUS) - 1), a, se, ranges[r][0],
                                 ranges[r][1]};
                    check_filter(s, m, n, &f, 7);
                }
            }
        }
    }
    for (int i = 0; i < NSTATUS; i++) {
        mfilter f = {1u << i, -1, -1, -1, -1};
        check_filter(s, m, n, &f, 1000);
        mfilter g = {1u << i, 1, 2, -1, -1};
        check_filter(s, m, n, &g, 3);
    }
    mfilter range_only = {0, -1, -1, 120, 1020};
    check_filter(s, m, n, &range_only, 5);
}

Test(file_filters, statuses_and_ranges_match_a_model_in_this_and_another_handle)
{
    enum { N = 120 };
    mrun m[N];
    make_runs(m, N);
    acp_store *a = open_store("sync=none"), *b = open_store("sync=none");
    for (int i = 0; i < N; i++)
        OK(save_run(a, &m[i], E));
    check_all(a, m, N);
    check_all(b, m, N); /* replayed from index.log */
    /* Every run changes status in b: a sees each run under its new status
     * only, from the records it replays. */
    for (int i = 0; i < N; i++) {
        m[i].status = (m[i].status + 1 + i % 3) % NSTATUS;
        OK(save_run(b, &m[i], E));
    }
    check_all(a, m, N);
    check_all(b, m, N);
    acp_store_close(a);
    acp_store_close(b);
    acp_store *c = open_store("sync=none"); /* from index.log on open */
    check_all(c, m, N);
    acp_store_close(c);
}

/* The total of a list of every status is the number of runs, whatever
 * other processes change at the same time: a save moves its run from one
 * status tree to the other in one step. */
Test(file_filters, processes_changing_statuses_never_show_a_run_twice_or_nowhere)
{
    enum { N = 60, WRITERS = 2, ROUNDS = 30 };
    mrun m[N];
    make_runs(m, N);
    acp_store *s = open_store("sync=none");
    for (int i = 0; i < N; i++)
        OK(save_run(s, &m[i], E));
    pid_t pid[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        pid[w] = fork();
        cr_assert_geq(pid[w], 0);
        if (pid[w] == 0) {
            acp_store *c = open_store("sync=none");
            acp_error err;
            for (int k = 0; k < ROUNDS; k++) {
                for (int i = w; i < N; i += WRITERS) {
                    m[i].status = (m[i].status + 1) % NSTATUS;
                    if (save_run(c, &m[i], &err) != ACP_OK)
                        _exit(1);
                }
            }
            acp_store_close(c);
            _exit(0);
        }
    }
    acp_run_filter all = ACP_RUN_FILTER_INIT, some = ACP_RUN_FILTER_INIT;
    all.status = ALL_STATUSES;
    all.want_total = 1;
    all.limit = 1000;
    some.status = "completed,failed,created";
    some.want_total = 1;
    some.limit = 1000;
    int running = WRITERS, lists = 0;
    while (running > 0) {
        acp_page *p;
        OK(acp_run_list(s, &all, &p, E));
        cr_assert_eq(acp_page_total(p), N, "total over every status: %lld",
                     (long long)acp_page_total(p));
        cr_assert_eq(acp_page_count(p), N);
        acp_page_free(p);
        OK(acp_run_list(s, &some, &p, E));
        /* The page and its total come from the same instant. */
        cr_assert_eq((int64_t)acp_page_count(p), acp_page_total(p));
        acp_page_free(p);
        lists++;
        int st;
        for (int w = 0; w < WRITERS; w++) {
            if (pid[w] > 0 && waitpid(pid[w], &st, WNOHANG) == pid[w]) {
                cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer %d failed", w);
                pid[w] = 0;
                running--;
            }
        }
    }
    cr_assert_gt(lists, 0);
    for (int i = 0; i < N; i++)
        m[i].status = (m[i].status + ROUNDS) % NSTATUS;
    check_all(s, m, N);
    acp_store_close(s);
}

/* The status of each run as its stored document says it. */
static int doc_status(acp_store *s, const char *id)
{
    char *j = NULL;
    acp_error err;
    cr_assert_eq(acp_run_get(s, id, &j, NULL, &err), ACP_OK, "%s: %s", id, err.message);
    int found = -1;
    for (int i = 0; i < NSTATUS; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "\"status\":\"%s\"", STATUSES[i]);
        if (strstr(j, needle))
            found = i;
    }
    acp_free(j);
    cr_assert_geq(found, 0, "%s has no status", id);
    return found;
}

Test(file_filters, a_writer_killed_mid_save_leaves_status_lists_that_match_the_documents)
{
    enum { N = 40, KILLS = 6 };
    mrun m[N];
    make_runs(m, N);
    acp_store *s = open_store("sync=none");
    for (int i = 0; i < N; i++)
        OK(save_run(s, &m[i], E));
    acp_store_close(s);
    srand((unsigned)time(NULL));
    for (int k = 0; k < KILLS; k++) {
        int ready[2];
        cr_assert_eq(pipe(ready), 0);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            close(ready[0]);
            acp_store *c = open_store("sync=none");
            acp_error err;
            if (write(ready[1], "r", 1) != 1)
                _exit(1);
            for (unsigned x = (unsigned)getpid();; x = x * 1103515245u + 12345u) {
                mrun r = m[(x >> 8) % N];
                r.status = (int)((x >> 16) % NSTATUS);
                save_run(c, &r, &err);
            }
        }
        close(ready[1]);
        char ch;
        cr_assert_eq(read(ready[0], &ch, 1), 1);
        close(ready[0]);
        usleep((useconds_t)(5000 + rand() % 40000));
        kill(pid, SIGKILL);
        int st;
        cr_assert_eq(waitpid(pid, &st, 0), pid);
        /* The next open compares index.log with the documents. */
        s = open_store("sync=none");
        for (int i = 0; i < N; i++)
            m[i].status = doc_status(s, m[i].id);
        check_all(s, m, N);
        acp_store_close(s);
    }
}

/* A crash between a save's rename and its index.log record, made exactly:
 * index.log is cut back to before the record of a status change. */
Test(file_filters, a_status_change_missing_from_index_log_is_found_on_open)
{
    enum { N = 12 };
    mrun m[N];
    make_runs(m, N);
    acp_store *s = open_store("sync=none");
    for (int i = 0; i < N; i++)
        OK(save_run(s, &m[i], E));
    char ilog[512];
    snprintf(ilog, sizeof ilog, "%s/store/index.log", root);
    struct stat before;
    cr_assert_eq(stat(ilog, &before), 0);
    m[3].status = (m[3].status + 2) % NSTATUS;
    OK(save_run(s, &m[3], E));
    acp_store_close(s);
    cr_assert_eq(truncate(ilog, before.st_size), 0);
    s = open_store("sync=none");
    check_all(s, m, N);
    acp_store_close(s);
}

/* Remove the first `,"status":"..."` member of a record (a run file or an
 * index.log line, ending with its checksum trailer) and sign it again: the
 * record as FORMAT 2 wrote it. */
static size_t strip_status(char *rec, size_t len)
{
    char *p = memmem(rec, len, ",\"status\":\"", 11);
    if (!p)
        return len;
    char *q = strchr(p + 11, '"') + 1;
    memmove(p, q, len - (size_t)(q - rec));
    len -= (size_t)(q - p);
    size_t body = len - 19; /* ,"crc":"xxxxxxxx"}\n */
    uint32_t crc = acp_crc32c(0, rec, body);
    snprintf(rec + body, 20, ",\"crc\":\"%08x\"}\n", (unsigned)crc);
    return len;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)n + 1);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const char *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(b, 1, len, f), len);
    fclose(f);
}

Test(file_filters, a_store_of_format_2_is_raised_and_its_statuses_indexed)
{
    enum { N = 30 };
    mrun m[N];
    make_runs(m, N);
    acp_store *s = open_store("sync=none");
    /* A "status" inside the document before its own: only the top level's
     * counts. */
    for (int i = 0; i < N; i++)
        OK(acp_run_save(s,
                        run_doc(&m[i], "{\"status\":\"failed\",\"l\":[\"status\",{\"status\":"
                                       "\"awaiting\"}],\"s\":\"\\\"status\\\":\\\"x\\\"\"}"),
                        ACP_STRLEN, E));
    acp_store_close(s);
    char path[600];
    size_t len;
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof path, "%s/store/runs/%.15s.json", root, m[i].id);
        char *b = slurp(path, &len);
        cr_assert(memmem(b, len, ",\"status\":\"", 11), "%s has no status", path);
        len = strip_status(b, len);
        spit(path, b, len);
        free(b);
    }
    snprintf(path, sizeof path, "%s/store/index.log", root);
    char *b = slurp(path, &len), *out = malloc(len + 1);
    size_t o = 0;
    for (size_t at = 0; at < len;) {
        size_t l = (size_t)((char *)memchr(b + at, '\n', len - at) - (b + at)) + 1;
        memcpy(out + o, b + at, l);
        o += strip_status(out + o, l);
        at += l;
    }
    cr_assert_null(memmem(out, o, "status", 6));
    spit(path, out, o);
    free(b);
    free(out);
    snprintf(path, sizeof path, "%s/store/FORMAT", root);
    spit(path, "{\"format\":\"acp-storage-file\",\"version\":2}\n", 42);

    s = open_store("sync=none"); /* raises the format, re-reads the runs */
    check_all(s, m, N);
    acp_store_close(s);
    b = slurp(path, &len);
    cr_assert(memmem(b, len, "\"version\":3", 11), "%.*s", (int)len, b);
    free(b);
}
