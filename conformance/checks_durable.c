/* SPDX-License-Identifier: MIT */
/*
 * checks_durable.c - several handles, several processes, close and reopen,
 * and a writer killed with SIGKILL.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define SHARED_CAPS (ACP_CAP_DURABLE | ACP_CAP_MULTIPROCESS)

/* ---- two handles ---- */

typedef struct two_arg {
    acp_store *store;
    int t;
    int64_t seqs[250];
    t_thread_fail *fail;
} two_arg;

static void *two_main(void *p)
{
    two_arg *a = p;
    for (int i = 0; i < 250 && !t_thread_failed(a->fail); i++) {
        char doc[64];
        snprintf(doc, sizeof doc, "{\"type\":\"two\",\"t\":%d,\"i\":%d}", a->t, i);
        acp_error e;
        acp_status st = acp_event_add(a->store, "two-handles", doc, ACP_STRLEN, &a->seqs[i], &e);
        if (st != ACP_OK)
            t_thread_failf(a->fail, "thread %d add_event: %s: %s", a->t, acp_status_name(st),
                           e.message);
    }
    return NULL;
}

static int get_same(t_ctx *c, int line, acp_store *h, const char *which, const char *id,
                    const char *want)
{
    char *json = NULL;
    size_t len = 0;
    t_err_reset(c);
    acp_status st = acp_run_get(h, id, &json, &len, ERR);
    if (st != ACP_OK)
        return t_fail_status(c, __FILE__, line, t_printf(c, "get_run \"%s\" on %s", id, which),
                             st, ACP_OK);
    t_keep(c, json, acp_free);
    return t_same(c, __FILE__, line, t_printf(c, "run \"%s\" read on %s", id, which), json,
                  len, want, strlen(want));
}
#define GET_SAME(h, which, id, want) CHECK_RESULT(get_same(c, __LINE__, (h), (which), (id), (want)))

CONFORMANCE_CHECK(second_handle_reads_what_first_wrote)
{
    OPEN();
    SKIP_UNLESS(CAPS() & SHARED_CAPS, "the backend declares neither DURABLE nor MULTIPROCESS: "
                                      "each open of its URI is a separate store");
    acp_store *h2;
    CHECK_OK(t_open(c, &h2, ERR));
    const char *v1 = t_run_doc(c, "shared", "agent", "sess", NULL);
    CHECK_OK(acp_run_save(S, v1, ACP_STRLEN, ERR));
    GET_SAME(h2, "the second handle", "shared", v1);
    const char *v2 = "{\"run_id\":\"shared\",\"agent_name\":\"agent\",\"status\":\"completed\","
                     "\"output\":[]}";
    CHECK_OK(acp_run_save(h2, v2, ACP_STRLEN, ERR));
    GET_SAME(S, "the first handle", "shared", v2);
    for (int k = 1; k <= 20; k++) {
        int64_t seq = 0;
        CHECK_OK(acp_event_add(k % 2 ? S : h2, "shared", "{\"type\":\"alt\"}", ACP_STRLEN, &seq,
                               ERR));
        CHECK(seq == k, "event %d, added alternately on two handles, got sequence %lld", k,
              (long long)seq);
    }
    const char *sdoc = t_session_doc(c, "sess", "false");
    CHECK_OK(acp_session_save(h2, sdoc, ACP_STRLEN, ERR));
    char *json;
    size_t len;
    GET_SESSION("sess", json, len);
    CHECK_SAME_STR("session saved on the other handle", json, len, sdoc);
    CHECK_OK(acp_run_delete(S, "shared", ERR));
    CHECK_STATUS(ACP_NOT_FOUND, acp_run_get(h2, "shared", &json, &len, ERR));
    acp_page *p;
    CHECK_OK(acp_event_list(h2, "shared", NULL, &p, ERR));
    size_t n = acp_page_count(p);
    acp_page_free(p);
    CHECK(n == 0, "the second handle still sees %zu events of a deleted run", n);

    /* Two threads on each handle appending to one run. */
    t_thread_fail fail;
    t_thread_fail_init(&fail);
    two_arg *args = t_alloc(c, sizeof(two_arg) * 4);
    for (int t = 0; t < 4; t++) {
        memset(&args[t], 0, sizeof args[t]);
        args[t].store = t % 2 ? S : h2;
        args[t].t = t;
        args[t].fail = &fail;
    }
    int rc = t_threads(4, two_main, args, sizeof args[0]);
    int failed = fail.failed;
    char msg[sizeof fail.msg];
    memcpy(msg, fail.msg, sizeof msg);
    t_thread_fail_destroy(&fail);
    CHECK(rc == 0, "cannot start threads: %s", strerror(rc));
    CHECK(!failed, "%s", msg);
    char seen[1001] = {0};
    for (int t = 0; t < 4; t++)
        for (int i = 0; i < 250; i++) {
            int64_t s = args[t].seqs[i];
            CHECK(s >= 1 && s <= 1000 && !seen[s],
                  "4 threads on 2 handles: sequence %lld is out of 1..1000 or repeated",
                  (long long)s);
            seen[s] = 1;
        }
    int64_t events;
    COUNT_EVENTS("two-handles", events);
    CHECK(events == 1000, "%lld events, expected 1000", (long long)events);
    return T_PASS;
}

/* ---- close and reopen ---- */

typedef struct snapshot {
    size_t n_runs;
    char **keys;
    int64_t *times;
    char **docs;
    size_t *lens;
} snapshot;

/* The whole listing of runs, to compare after reopening. */
static int take_runs(t_ctx *c, snapshot *s)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.limit = 1000;
    acp_page *p;
    LIST_RUNS(p, &f);
    s->n_runs = acp_page_count(p);
    s->keys = t_alloc(c, sizeof(char *) * (s->n_runs + 1));
    s->docs = t_alloc(c, sizeof(char *) * (s->n_runs + 1));
    s->times = t_alloc(c, sizeof(int64_t) * (s->n_runs + 1));
    s->lens = t_alloc(c, sizeof(size_t) * (s->n_runs + 1));
    for (size_t k = 0; k < s->n_runs; k++) {
        s->keys[k] = t_strdup(c, acp_page_key(p, k));
        const char *j = acp_page_json(p, k, &s->lens[k]);
        s->docs[k] = t_alloc(c, s->lens[k] + 1);
        memcpy(s->docs[k], j, s->lens[k] + 1);
        s->times[k] = acp_page_time_us(p, k);
    }
    t_release(c, p);
    return 0;
}

static int same_runs(t_ctx *c, const snapshot *a, const snapshot *b)
{
    CHECK(a->n_runs == b->n_runs, "%zu runs before reopening, %zu after", a->n_runs, b->n_runs);
    for (size_t k = 0; k < a->n_runs; k++) {
        CHECK(strcmp(a->keys[k], b->keys[k]) == 0,
              "item %zu of list_runs was \"%s\" before reopening and is \"%s\" after", k,
              a->keys[k], b->keys[k]);
        CHECK(a->times[k] == b->times[k], "run \"%s\" had time %s before reopening, %s after",
              a->keys[k], t_time(c, a->times[k]), t_time(c, b->times[k]));
        CHECK_SAME(t_printf(c, "run \"%s\" after reopening", a->keys[k]), b->docs[k],
                   b->lens[k], a->docs[k], a->lens[k]);
    }
    return 0;
}

CONFORMANCE_CHECK(data_survives_close_and_reopen)
{
    OPEN();
    SKIP_UNLESS(CAPS() & ACP_CAP_DURABLE, "the backend does not declare DURABLE");
    for (int k = 0; k < 20; k++) {
        char *id = t_printf(c, "durable-%02d", k);
        const char *created = k % 4 == 0 ? NULL : t_time(c, T_BASE_US + (k % 3) * T_SEC);
        CHECK_OK(acp_run_save(S, t_run_doc(c, id, k % 2 ? "odd" : "even",
                                           k % 5 ? "sess-a" : NULL, created),
                              ACP_STRLEN, ERR));
    }
    char *pad = t_alloc(c, 200001);
    memset(pad, 'p', 200000);
    pad[200000] = '\0';
    const char *big = t_printf(c, "{\"run_id\":\"durable-big\",\"agent_name\":\"big\",\"status\":"
                                  "\"completed\",\"output\":[],\"pad\":\"%s\",\"n\":1e400}",
                               pad);
    CHECK_OK(acp_run_save(S, big, ACP_STRLEN, ERR));
    CHECK_OK(acp_run_save(S, t_run_doc(c, "doomed", "odd", NULL, NULL), ACP_STRLEN, ERR));
    for (int k = 1; k <= 50; k++)
        CHECK_OK(acp_event_add(S, "durable-01", t_printf(c, "{\"type\":\"d\",\"k\":%d}", k),
                               ACP_STRLEN, NULL, ERR));
    for (int k = 1; k <= 3; k++) {
        CHECK_OK(acp_event_add(S, "no-record", "{\"type\":\"n\"}", ACP_STRLEN, NULL, ERR));
        CHECK_OK(acp_event_add(S, "doomed", "{\"type\":\"x\"}", ACP_STRLEN, NULL, ERR));
    }
    const char *sessions[5];
    for (int k = 0; k < 5; k++) {
        sessions[k] = t_session_doc(c, t_printf(c, "sess-%d", k), k == 0 ? "false" : "[0,\"\"]");
        CHECK_OK(acp_session_save(S, sessions[k], ACP_STRLEN, ERR));
    }
    CHECK_OK(acp_session_save(S, t_session_doc(c, "sess-doomed", "1"), ACP_STRLEN, ERR));
    CHECK_OK(acp_run_delete(S, "doomed", ERR));
    CHECK_OK(acp_session_delete(S, "sess-doomed", ERR));

    snapshot before, after;
    CHECK_RESULT(take_runs(c, &before));
    acp_event_filter ef = ACP_EVENT_FILTER_INIT;
    acp_page *ev_before;
    LIST_EVENTS(ev_before, "durable-01", &ef);

    for (int round = 0; round < 2; round++) {
        REOPEN();
        CHECK_RESULT(take_runs(c, &after));
        CHECK_RESULT(same_runs(c, &before, &after));
        char *json;
        size_t len;
        GET_RUN("durable-big", json, len);
        CHECK_SAME_STR("the 200 KB run after reopening", json, len, big);
        CHECK_STATUS(ACP_NOT_FOUND, acp_run_get(S, "doomed", &json, &len, ERR));
        acp_page *p;
        LIST_EVENTS(p, "durable-01", &ef);
        CHECK(acp_page_count(p) == 50, "%zu events after reopening, expected 50",
              acp_page_count(p));
        for (size_t k = 0; k < 50; k++) {
            size_t l1, l2;
            const char *a = acp_page_json(ev_before, k, &l1), *b = acp_page_json(p, k, &l2);
            CHECK_SAME(t_printf(c, "event %zu after reopening", k + 1), b, l2, a, l1);
            CHECK(acp_page_seq(p, k) == (int64_t)k + 1 &&
                      acp_page_time_us(p, k) == acp_page_time_us(ev_before, k),
                  "event %zu has sequence %lld and time %s after reopening (time %s before)",
                  k + 1, (long long)acp_page_seq(p, k), t_time(c, acp_page_time_us(p, k)),
                  t_time(c, acp_page_time_us(ev_before, k)));
        }
        int64_t n;
        COUNT_EVENTS("no-record", n);
        CHECK(n == 3, "the run without record has %lld events after reopening", (long long)n);
        COUNT_EVENTS("doomed", n);
        CHECK(n == 0, "the deleted run has %lld events after reopening", (long long)n);
        for (int k = 0; k < 5; k++) {
            GET_SESSION(t_printf(c, "sess-%d", k), json, len);
            CHECK_SAME_STR("session after reopening", json, len, sessions[k]);
        }
        const char *sids[] = {"sess-0", "sess-1", "sess-2", "sess-3", "sess-4"};
        CHECK_SESSIONS(NULL, sids, 5, 2);
        int64_t total;
        COUNT_RUNS("odd", "sess-a", total);
        CHECK(total == 8, "%lld runs of agent odd in sess-a after reopening, expected 8",
              (long long)total);
    }
    return T_PASS;
}

CONFORMANCE_CHECK(event_sequence_continues_after_reopen)
{
    OPEN();
    SKIP_UNLESS(CAPS() & ACP_CAP_DURABLE, "the backend does not declare DURABLE");
    for (int k = 1; k <= 5; k++)
        CHECK_OK(acp_event_add(S, "seq", "{\"type\":\"a\"}", ACP_STRLEN, NULL, ERR));
    CHECK_OK(acp_event_add(S, "other", "{\"type\":\"a\"}", ACP_STRLEN, NULL, ERR));
    REOPEN();
    int64_t seq = 0;
    CHECK_OK(acp_event_add(S, "seq", "{\"type\":\"b\"}", ACP_STRLEN, &seq, ERR));
    CHECK(seq == 6, "the first event after reopening got sequence %lld, expected 6",
          (long long)seq);
    CHECK_OK(acp_run_delete(S, "seq", ERR));
    REOPEN();
    CHECK_OK(acp_event_add(S, "seq", "{\"type\":\"c\"}", ACP_STRLEN, &seq, ERR));
    CHECK(seq == 1, "the first event after delete and reopen got sequence %lld, expected 1",
          (long long)seq);
    CHECK_OK(acp_event_add(S, "other", "{\"type\":\"a\"}", ACP_STRLEN, &seq, ERR));
    CHECK(seq == 2, "another run's sequence went on at %lld, expected 2", (long long)seq);
    return T_PASS;
}

/* ---- kill -9 ---- */

typedef struct ack {
    int64_t k;   /* the run "crash-<k>"; -1: the writer reports an error */
    int64_t seq; /* the event's sequence */
} ack;

static char *crash_run_doc(char *buf, size_t n, int64_t k)
{
    snprintf(buf, n, "{\"run_id\":\"crash-%lld\",\"agent_name\":\"crash\",\"status\":"
                     "\"completed\",\"output\":[{\"role\":\"agent\",\"parts\":[{\"content\":"
                     "\"%0200lld\"}]}],\"created_at\":\"2025-06-01T12:00:00Z\"}",
             (long long)k, (long long)k);
    return buf;
}

static char *crash_event_doc(char *buf, size_t n, int64_t k)
{
    snprintf(buf, n, "{\"type\":\"crash\",\"k\":%lld}", (long long)k);
    return buf;
}

/* The writer: save a run and append an event, then report; forever. */
static void crash_writer(t_ctx *c, int fd, int64_t first_k)
{
    acp_error e;
    acp_store *h = NULL;
    ack a = {-1, 0};
    if (t_open(c, &h, &e) != ACP_OK) {
        ssize_t w = write(fd, &a, sizeof a);
        (void)w;
        _exit(1);
    }
    for (int64_t k = first_k;; k++) {
        char doc[512];
        if (acp_run_save(h, crash_run_doc(doc, sizeof doc, k), ACP_STRLEN, &e) != ACP_OK ||
            acp_event_add(h, "crash-events", crash_event_doc(doc, sizeof doc, k), ACP_STRLEN,
                          &a.seq, &e) != ACP_OK) {
            a.k = -1;
            ssize_t w = write(fd, &a, sizeof a);
            (void)w;
            _exit(1);
        }
        a.k = k;
        if (write(fd, &a, sizeof a) != (ssize_t)sizeof a)
            _exit(1);
    }
}

/* Fork a writer, let it acknowledge `want` writes, SIGKILL it.  The
 * acknowledged writes go to acks (n_acks of them). */
static int run_and_kill(t_ctx *c, int64_t first_k, size_t want, ack *acks, size_t *n_acks)
{
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return t_fail(c, __FILE__, __LINE__, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
        crash_writer(c, fds[1], first_k);
    }
    close(fds[1]);
    *n_acks = 0;
    char buf[sizeof(ack) * 64];
    size_t have = 0;
    int64_t deadline = t_now_us() + 60 * T_SEC;
    int error = 0, ended = 0;
    while (*n_acks < want && !error && !ended) {
        int64_t left = (deadline - t_now_us()) / 1000;
        if (left <= 0)
            break;
        struct pollfd pfd = {fds[0], POLLIN, 0};
        if (poll(&pfd, 1, (int)(left > 1000 ? 1000 : left)) <= 0)
            continue;
        ssize_t r = read(fds[0], buf + have, sizeof buf - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            ended = 1;
            break;
        }
        have += (size_t)r;
        size_t used = 0;
        for (; have - used >= sizeof(ack); used += sizeof(ack)) {
            ack a;
            memcpy(&a, buf + used, sizeof a);
            if (a.k < 0) {
                error = 1;
                break;
            }
            if (*n_acks < want)
                acks[(*n_acks)++] = a;
        }
        memmove(buf, buf + used, have - used);
        have -= used;
    }
    /* The writer is in the middle of a save or an append now, most likely. */
    kill(pid, SIGKILL);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    close(fds[0]);
    CHECK(!error, "the writer process failed to write (open, save_run or add_event)");
    CHECK(!ended, "the writer process ended by itself after %zu writes", *n_acks);
    CHECK(*n_acks == want, "the writer process acknowledged only %zu writes in 60 s", *n_acks);
    return 0;
}

/* Everything acknowledged is there and whole; the event stream has no gap
 * and holds only whole events.  *last receives its last sequence. */
static int verify_after_kill(t_ctx *c, const ack *acks, size_t n, int64_t *last)
{
    char want[512];
    char *json;
    size_t len;
    for (size_t k = 0; k < n; k++) {
        char *id = t_printf(c, "crash-%lld", (long long)acks[k].k);
        GET_RUN(id, json, len);
        crash_run_doc(want, sizeof want, acks[k].k);
        CHECK_SAME(t_printf(c, "acknowledged run %s after SIGKILL", id), json, len, want,
                   strlen(want));
        t_release(c, json);
    }
    /* Runs written but not acknowledged may exist; if so, whole. */
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.agent_name = "crash";
    f.limit = 1000;
    f.want_total = 1;
    acp_page *p;
    LIST_RUNS(p, &f);
    CHECK(acp_page_total(p) >= (int64_t)n, "%lld runs listed after SIGKILL, %zu acknowledged",
          (long long)acp_page_total(p), n);
    for (size_t k = 0; k < acp_page_count(p); k++) {
        long long num = -1;
        const char *key = acp_page_key(p, k);
        CHECK(key && sscanf(key, "crash-%lld", &num) == 1, "unexpected run \"%s\"",
              key ? key : "NULL");
        const char *j = acp_page_json(p, k, &len);
        crash_run_doc(want, sizeof want, num);
        CHECK_SAME(t_printf(c, "run %s after SIGKILL", key), j, len, want, strlen(want));
    }
    t_release(c, p);
    /* Events: 1..m without gap, each whole, the acknowledged ones where
     * they were reported. */
    acp_event_filter ef = ACP_EVENT_FILTER_INIT;
    ef.limit = 1000;
    int64_t m = 0;
    size_t next_ack = 0;
    for (;;) {
        LIST_EVENTS(p, "crash-events", &ef);
        size_t count = acp_page_count(p);
        for (size_t k = 0; k < count; k++) {
            int64_t seq = acp_page_seq(p, k);
            CHECK(seq == m + 1, "after SIGKILL, event %lld follows %lld", (long long)seq,
                  (long long)m);
            m = seq;
            const char *j = acp_page_json(p, k, &len);
            long long num = -1;
            CHECK(sscanf(j, "{\"type\":\"crash\",\"k\":%lld}", &num) == 1,
                  "after SIGKILL, event %lld is not whole: %.*s", (long long)seq, (int)len, j);
            crash_event_doc(want, sizeof want, num);
            CHECK_SAME(t_printf(c, "event %lld after SIGKILL", (long long)seq), j, len, want,
                       strlen(want));
            while (next_ack < n && acks[next_ack].seq < seq)
                next_ack++;
            if (next_ack < n && acks[next_ack].seq == seq)
                CHECK(num == acks[next_ack].k,
                      "event %lld was acknowledged for write %lld but holds write %lld",
                      (long long)seq, (long long)acks[next_ack].k, num);
        }
        ef.after_seq = m;
        t_release(c, p);
        if (count < (size_t)ef.limit)
            break;
    }
    CHECK(n == 0 || m >= acks[n - 1].seq,
          "after SIGKILL the events end at %lld, but %lld was acknowledged", (long long)m,
          (long long)acks[n - 1].seq);
    *last = m;
    return 0;
}

CONFORMANCE_CHECK(acknowledged_writes_survive_kill_9)
{
    OPEN();
    SKIP_UNLESS(CAPS() & ACP_CAP_DURABLE, "the backend does not declare DURABLE");
    /* The writer is a child process: nothing of ours may be open across fork. */
    t_close(c, S);
    S = NULL;
    ack *acks = t_alloc(c, sizeof(ack) * 400);
    static const struct {
        int64_t first_k;
        size_t want;
    } rounds[] = {{0, 150}, {100000, 400}};
    for (size_t r = 0; r < 2; r++) {
        size_t n = 0;
        CHECK_RESULT(run_and_kill(c, rounds[r].first_k, rounds[r].want, acks, &n));
        OPEN();
        int64_t last = 0;
        CHECK_RESULT(verify_after_kill(c, acks, n, &last));
        /* The store takes writes again, continuing the sequence. */
        int64_t seq = 0;
        char doc[64];
        CHECK_OK(acp_event_add(S, "crash-events", crash_event_doc(doc, sizeof doc, 999999),
                               ACP_STRLEN, &seq, ERR));
        CHECK(seq == last + 1, "after SIGKILL the next event got sequence %lld, expected %lld",
              (long long)seq, (long long)last + 1);
        t_close(c, S);
        S = NULL;
    }
    return T_PASS;
}

/* ---- several processes ---- */

enum { PROC_CHILDREN = 3, PROC_EACH = 200 };

static void proc_child(t_ctx *c, int go_fd, int err_fd, int p)
{
    char byte;
    acp_error e;
    acp_store *h = NULL;
    acp_status st = t_open(c, &h, &e);
    /* Start together with the others. */
    while (read(go_fd, &byte, 1) < 0 && errno == EINTR)
        ;
    for (int i = 0; st == ACP_OK && i < PROC_EACH; i++) {
        char doc[64];
        snprintf(doc, sizeof doc, "{\"type\":\"p\",\"p\":%d,\"i\":%d}", p, i);
        st = acp_event_add(h, "multi", doc, ACP_STRLEN, NULL, &e);
    }
    if (st != ACP_OK) {
        char msg[1200];
        int n = snprintf(msg, sizeof msg, "process %d: %s: %s\n", p, acp_status_name(st),
                         e.message);
        ssize_t w = write(err_fd, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
        (void)w;
        _exit(1);
    }
    _exit(0);
}

CONFORMANCE_CHECK(processes_appending_to_one_run_get_distinct_sequences)
{
    OPEN();
    SKIP_UNLESS(CAPS() & ACP_CAP_MULTIPROCESS, "the backend does not declare MULTIPROCESS");
    t_close(c, S);
    S = NULL;
    int go[2], errp[2];
    CHECK(pipe(go) == 0 && pipe(errp) == 0, "pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pids[PROC_CHILDREN];
    int forked = 0;
    for (; forked < PROC_CHILDREN; forked++) {
        pids[forked] = fork();
        if (pids[forked] < 0)
            break;
        if (pids[forked] == 0) {
            close(go[1]);
            close(errp[0]);
            proc_child(c, go[0], errp[1], forked);
        }
    }
    close(go[0]);
    close(errp[1]);
    int fork_failed = forked < PROC_CHILDREN;
    /* This process takes part as writer number PROC_CHILDREN. */
    acp_status st = fork_failed ? ACP_OK : t_open(c, &c->store, ERR);
    char bytes[PROC_CHILDREN] = {0};
    ssize_t w = write(go[1], bytes, (size_t)forked);
    (void)w;
    close(go[1]);
    char own_err[1200] = "";
    for (int i = 0; st == ACP_OK && !fork_failed && i < PROC_EACH; i++) {
        char doc[64];
        snprintf(doc, sizeof doc, "{\"type\":\"p\",\"p\":%d,\"i\":%d}", PROC_CHILDREN, i);
        st = acp_event_add(S, "multi", doc, ACP_STRLEN, NULL, ERR);
        if (st != ACP_OK)
            snprintf(own_err, sizeof own_err, "this process: %s: %s", acp_status_name(st),
                     c->err.message);
    }
    /* Wait for the children, at most two minutes. */
    int64_t deadline = t_now_us() + 120 * T_SEC;
    int bad_exit = 0, timed_out = 0;
    for (int k = 0; k < forked; k++) {
        int status = 0;
        for (;;) {
            pid_t r = waitpid(pids[k], &status, WNOHANG);
            if (r == pids[k])
                break;
            if (r < 0 && errno != EINTR) {
                status = 0;
                break;
            }
            if (t_now_us() > deadline) {
                kill(pids[k], SIGKILL);
                waitpid(pids[k], &status, 0);
                timed_out = 1;
                break;
            }
            t_sleep_ms(10);
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            bad_exit = 1;
    }
    char child_err[1200] = "";
    ssize_t r = read(errp[0], child_err, sizeof child_err - 1);
    child_err[r > 0 ? r : 0] = '\0';
    close(errp[0]);
    CHECK(!fork_failed, "fork: %s", strerror(errno));
    CHECK(!timed_out, "writer processes did not finish within 120 s");
    CHECK(!bad_exit, "a writer process failed: %s", child_err[0] ? child_err : "(no message)");
    CHECK(st == ACP_OK, "%s", own_err[0] ? own_err : "open failed");

    /* 1..N once each, and every process's events in its own order. */
    enum { TOTAL = (PROC_CHILDREN + 1) * PROC_EACH };
    int last_i[PROC_CHILDREN + 1];
    for (int k = 0; k <= PROC_CHILDREN; k++)
        last_i[k] = -1;
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    f.limit = 1000;
    acp_page *p;
    LIST_EVENTS(p, "multi", &f);
    size_t count = acp_page_count(p);
    CHECK(count == TOTAL, "%zu events from %d processes, expected %d", count, PROC_CHILDREN + 1,
          TOTAL);
    for (size_t k = 0; k < count; k++) {
        CHECK(acp_page_seq(p, k) == (int64_t)k + 1, "event %zu has sequence %lld", k + 1,
              (long long)acp_page_seq(p, k));
        int pp = -1, ii = -1;
        CHECK(sscanf(acp_page_json(p, k, NULL), "{\"type\":\"p\",\"p\":%d,\"i\":%d}", &pp, &ii) ==
                      2 &&
                  pp >= 0 && pp <= PROC_CHILDREN,
              "event %zu is not one that was added: %s", k + 1, acp_page_json(p, k, NULL));
        CHECK(ii == last_i[pp] + 1, "process %d's event %d is at sequence %zu, after its event %d",
              pp, ii, k + 1, last_i[pp]);
        last_i[pp] = ii;
    }
    return T_PASS;
}
