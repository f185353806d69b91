/* SPDX-License-Identifier: MIT */
/*
 * crash_test.c - kill -9 a writer at random instants and check that the
 * store keeps every acknowledged write and shows nothing half-written.
 *
 *   crash_test --store URI-TEMPLATE [--crashes N] [--seed S] [--max-delay MS]
 *              [--settle CMD] [--server-crash CMD [--server-crash-every K]]
 *              [--keep] [--keep-going]
 *
 * "{dir}" in the template is replaced by one fresh temporary directory that
 * every crash reuses, so each crash lands on a bigger store.  Each crash:
 *
 *  1. A child (this program, re-executed with --child) opens the store and
 *     writes a random mix: save_run (insert and update), add_event to a few
 *     hot runs (and to runs without a record), save_session, delete_run,
 *     delete_session.  Before each call it tells the parent over a pipe what
 *     it is about to write, and after the call returned it reports the
 *     result (for add_event the sequence number).  Messages are fixed-size
 *     and smaller than PIPE_BUF, so each arrives whole or not at all.
 *  2. The parent kills the child with SIGKILL after a random 1..MS ms (from
 *     the child's start, so some kills land inside open and its recovery,
 *     or from the moment the store was open).  With --settle, CMD then
 *     waits until the server has finished what the dead child had sent.
 *     With --server-crash, every K-th crash (default 10) also runs CMD,
 *     which crashes and restarts the server.
 *  3. The parent opens the store (no repair step) and checks every run,
 *     event stream and session written in this round, a random sample of
 *     older ones, the totals of list_runs (all, per agent, per session) and
 *     the session listing; while the store is small, and at the end,
 *     everything.  Each document must be byte for byte the last
 *     acknowledged version, or the version of the one write that was in
 *     flight at the kill (which may or may not have happened: then the
 *     whole write, never part of it).  Event sequences are 1..n without
 *     gaps and n is the acknowledged count, or one more when an add_event
 *     was in flight.
 *
 * Documents are generated from (kind, target, version), so any document
 * read back identifies the write it came from and is compared byte for
 * byte with what that write sent; a torn or mixed document cannot match.
 * Sizes vary from a few bytes to 256 KiB so that kills also land inside
 * large writes.  --keep keeps the store directory, --keep-going goes on
 * after a failure (from what the store holds) to find more.  A plain C
 * program (no Criterion), so it runs in every build.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "acp_storage.h"

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */
/* ------------------------------------------------------------------ */

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("crash_test: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        die("out of memory");
    return q;
}

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnext(rng *r)
{
    r->s += 0x9e3779b97f4a7c15ull;
    return mix64(r->s);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static void bput(buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void bprintf(buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        die("bprintf: text too long");
    bput(b, tmp, (size_t)n);
}

/* ------------------------------------------------------------------ */
/* Documents: a pure function of (kind, target, version)                */
/* ------------------------------------------------------------------ */

enum { OP_SAVE_RUN = 1, OP_ADD_EVENT, OP_SAVE_SESSION, OP_DELETE_RUN, OP_DELETE_SESSION, OP_N };
static const char *const op_names[OP_N] = {"?",        "save_run",   "add_event",
                                           "save_session", "delete_run", "delete_session"};

#define N_AGENTS 3
#define N_RUN_SESSIONS 4 /* session ids that runs refer to */

/* Run ids mix what ids may contain: '/', ' ', ':', '%', '*', "..",
 * non-ASCII, upper case, and ids long enough to be hashed into a file
 * name by the file backend. */
static void run_id(buf *b, int64_t n)
{
    b->n = 0;
    switch (n % 4) {
    case 0:
        bprintf(b, "crash/run %" PRId64 ":\xc3\xa9", n);
        break;
    case 1:
        bprintf(b, "r%" PRId64, n);
        break;
    case 2:
        bprintf(b, "Run %" PRId64 " .. %%*", n);
        break;
    default:
        bprintf(b, "long-%" PRId64 "-", n);
        while (b->n < 240)
            bput(b, "0123456789abcdefghij", 20);
        break;
    }
}

static void session_id(buf *b, int64_t k)
{
    b->n = 0;
    if (k % 3 == 0)
        bprintf(b, "Crash session/%" PRId64 ":\xc3\xa9", k);
    else
        bprintf(b, "crash-s-%" PRId64, k);
}

static int run_agent(int64_t v)
{
    return (int)(mix64((uint64_t)v * 7 + 1) % N_AGENTS);
}

/* -1: no session */
static int run_session(int64_t v)
{
    uint64_t h = mix64((uint64_t)v * 7 + 2);
    return h % 4 == 0 ? -1 : (int)((h >> 8) % N_RUN_SESSIONS);
}

/* Mostly small documents, some of a few KiB, a few of 64..256 KiB. */
static size_t pad_len(int64_t v)
{
    uint64_t h = mix64((uint64_t)v * 7 + 3);
    unsigned c = (unsigned)(h % 64);
    if (c == 0)
        return 65536 + (size_t)((h >> 8) % 196608);
    if (c < 6)
        return 1024 + (size_t)((h >> 8) % 15360);
    return (size_t)((h >> 8) % 300);
}

/* Padding that differs between versions, so that bytes of two versions
 * mixed in one document are seen. */
static void put_pad(buf *b, int64_t v)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    size_t n = pad_len(v);
    rng r = {(uint64_t)v * 0x2545f4914f6cdd1dull};
    bput(b, ",\"pad\":\"", 8);
    char chunk[256];
    while (n > 0) {
        size_t k = n < sizeof chunk ? n : sizeof chunk;
        for (size_t i = 0; i < k; i += 8) {
            uint64_t x = rnext(&r);
            for (size_t j = i; j < k && j < i + 8; j++, x >>= 8)
                chunk[j] = alphabet[(x & 0xff) % 36];
        }
        bput(b, chunk, k);
        n -= k;
    }
    bput(b, "\"}", 2);
}

static const char *const statuses[] = {"created",   "in-progress", "awaiting", "cancelling",
                                       "cancelled", "completed",   "failed"};

static void gen_run(buf *b, int64_t n, int64_t v)
{
    buf id = {0};
    uint64_t h = mix64((uint64_t)v * 7 + 4);
    run_id(&id, n);
    b->n = 0;
    bprintf(b, "{\"run_id\":\"%s\",\"agent_name\":\"agent-%d\",\"session_id\":", id.p,
            run_agent(v));
    int s = run_session(v);
    if (s < 0) {
        bput(b, "null", 4);
    } else {
        session_id(&id, s);
        bprintf(b, "\"%s\"", id.p);
    }
    bprintf(b, ",\"status\":\"%s\"", statuses[h % 7]);
    if ((h >> 8) % 5 != 0)
        bprintf(b, ",\"created_at\":\"2025-06-%02dT%02d:%02d:%02d.%06dZ\"",
                (int)(1 + (h >> 12) % 28), (int)((h >> 20) % 24), (int)((h >> 28) % 60),
                (int)((h >> 36) % 60), (int)((h >> 44) % 1000000));
    bprintf(b, ",\"output\":[],\"n\":%" PRId64 ",\"v\":%" PRId64, n, v);
    put_pad(b, v);
    free(id.p);
}

static void gen_event(buf *b, int64_t v)
{
    b->n = 0;
    bprintf(b, "{\"type\":\"crash.event\",\"v\":%" PRId64, v);
    put_pad(b, v);
}

static void gen_session(buf *b, int64_t k, int64_t v)
{
    buf id = {0};
    session_id(&id, k);
    b->n = 0;
    bprintf(b, "{\"id\":\"%s\",\"state\":{\"v\":%" PRId64 "},\"history\":[],\"k\":%" PRId64
               ",\"v\":%" PRId64,
            id.p, v, k, v);
    put_pad(b, v);
    free(id.p);
}

/* The integer after `,"key":` in a generated document, or -1. */
static int64_t doc_field(const char *json, const char *key)
{
    char pat[16];
    snprintf(pat, sizeof pat, ",\"%s\":", key);
    const char *p = strstr(json, pat);
    if (!p)
        return -1;
    p += strlen(pat);
    if (*p < '0' || *p > '9')
        return -1;
    return strtoll(p, NULL, 10);
}

/* ------------------------------------------------------------------ */
/* Child -> parent messages                                             */
/* ------------------------------------------------------------------ */

enum { M_READY = 1, M_ISSUE, M_ACK, M_FAIL };

typedef struct msg {
    int32_t type;
    int32_t op;
    int64_t target; /* run or session number */
    int64_t v;      /* version of the document */
    int64_t seq;    /* add_event: the returned sequence */
    int32_t status; /* the call's acp_status */
    int32_t unused;
} msg;

_Static_assert(sizeof(msg) <= PIPE_BUF, "a message must be written atomically");

/* ------------------------------------------------------------------ */
/* The child: writes until killed                                       */
/* ------------------------------------------------------------------ */

static int child_fd = -1;

static void send_msg(const msg *m)
{
    const char *p = (const char *)m;
    size_t left = sizeof *m;
    while (left > 0) {
        ssize_t w = write(child_fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(4); /* the parent is gone */
        p += w;
        left -= (size_t)w;
    }
}

/* Mostly one of the newest ids, sometimes any. */
static int64_t pick(rng *r, int64_t n)
{
    if (n <= 0)
        return 0;
    if (rnext(r) % 2) {
        int64_t w = n < 16 ? n : 16;
        return n - 1 - (int64_t)(rnext(r) % (uint64_t)w);
    }
    return (int64_t)(rnext(r) % (uint64_t)n);
}

static int child_main(const char *uri, uint64_t seed, int64_t v, int64_t next_run,
                      int64_t next_sess)
{
    acp_store *s;
    acp_error e;
    msg m;
    memset(&m, 0, sizeof m);
    if (acp_store_open(uri, &s, &e) != ACP_OK) {
        fprintf(stderr, "crash_test child: open %s: %s: %s\n", uri, acp_status_name(e.code),
                e.message);
        m.type = M_FAIL;
        m.status = e.code;
        send_msg(&m);
        return 3;
    }
    m.type = M_READY;
    send_msg(&m);

    rng r = {seed};
    buf doc = {0}, id = {0};
    for (long i = 0; i < 10000000; i++) {
        uint64_t p = rnext(&r) % 100;
        memset(&m, 0, sizeof m);
        m.v = v++;
        if (p < 28 || next_run == 0) {
            m.op = OP_SAVE_RUN;
            m.target = next_run++;
        } else if (p < 45) {
            m.op = OP_SAVE_RUN;
            m.target = pick(&r, next_run);
        } else if (p < 72) {
            m.op = OP_ADD_EVENT;
            /* A few hot runs; now and then a run id with no record. */
            if (rnext(&r) % 20 == 0)
                m.target = next_run++;
            else
                m.target = next_run - 1 - (int64_t)(rnext(&r) % (next_run < 4 ? next_run : 4));
        } else if (p < 82) {
            m.op = OP_SAVE_SESSION;
            m.target = (int64_t)(rnext(&r) % (uint64_t)(next_sess + 1));
            if (m.target == next_sess)
                next_sess++;
        } else if (p < 94) {
            m.op = OP_DELETE_RUN;
            m.target = pick(&r, next_run);
        } else {
            if (next_sess == 0)
                continue;
            m.op = OP_DELETE_SESSION;
            m.target = (int64_t)(rnext(&r) % (uint64_t)next_sess);
        }
        m.type = M_ISSUE;
        send_msg(&m);

        acp_status st;
        switch (m.op) {
        case OP_SAVE_RUN:
            gen_run(&doc, m.target, m.v);
            st = acp_run_save(s, doc.p, doc.n, &e);
            break;
        case OP_ADD_EVENT:
            gen_event(&doc, m.v);
            run_id(&id, m.target);
            st = acp_event_add(s, id.p, doc.p, doc.n, &m.seq, &e);
            break;
        case OP_SAVE_SESSION:
            gen_session(&doc, m.target, m.v);
            st = acp_session_save(s, doc.p, doc.n, &e);
            break;
        case OP_DELETE_RUN:
            run_id(&id, m.target);
            st = acp_run_delete(s, id.p, &e);
            break;
        default:
            session_id(&id, m.target);
            st = acp_session_delete(s, id.p, &e);
            break;
        }
        if (st != ACP_OK &&
            !(st == ACP_NOT_FOUND && (m.op == OP_DELETE_RUN || m.op == OP_DELETE_SESSION))) {
            fprintf(stderr, "crash_test child: %s of #%" PRId64 " (v%" PRId64 "): %s: %s\n",
                    op_names[m.op], m.target, m.v, acp_status_name(st), e.message);
            m.type = M_FAIL;
            m.status = st;
            send_msg(&m);
            return 3;
        }
        m.type = M_ACK;
        m.status = st;
        send_msg(&m);
    }
    acp_store_close(s);
    free(doc.p);
    free(id.p);
    return 0;
}

/* ------------------------------------------------------------------ */
/* The parent's model of the store                                      */
/* ------------------------------------------------------------------ */

typedef struct run_m {
    int64_t v; /* 0: no run record */
    int64_t *ev;
    size_t nev, cap;
    int touched;
} run_m;

static run_m *runs;
static int64_t next_run, runs_cap;
static int64_t *sess; /* version, 0: absent */
static unsigned char *sess_touched;
static int64_t next_sess, sess_cap;
static int64_t next_v = 1;

static const char *uri;
static int keep_going; /* after a failure, go on from what the store holds */
static const char *settle_cmd;
static acp_store *vs; /* the store while verifying */
static int failures;

/* Figures for the summary. */
static long acked[OP_N], inflight_applied, inflight_absent, kills_in_open, server_crashes;
static long docs_checked, events_checked, full_checks;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "crash_test: FAIL: " __VA_ARGS__);                                         \
        fputc('\n', stderr);                                                                       \
        failures++;                                                                                \
    } while (0)

static void grow_runs(int64_t n)
{
    if (n <= runs_cap)
        return;
    int64_t cap = runs_cap ? runs_cap : 64;
    while (cap < n)
        cap *= 2;
    runs = xrealloc(runs, (size_t)cap * sizeof *runs);
    memset(runs + runs_cap, 0, (size_t)(cap - runs_cap) * sizeof *runs);
    runs_cap = cap;
}

static void grow_sess(int64_t n)
{
    if (n <= sess_cap)
        return;
    int64_t cap = sess_cap ? sess_cap : 64;
    while (cap < n)
        cap *= 2;
    sess = xrealloc(sess, (size_t)cap * sizeof *sess);
    sess_touched = xrealloc(sess_touched, (size_t)cap);
    memset(sess + sess_cap, 0, (size_t)(cap - sess_cap) * sizeof *sess);
    memset(sess_touched + sess_cap, 0, (size_t)(cap - sess_cap));
    sess_cap = cap;
}

static void push_event(run_m *r, int64_t v)
{
    if (r->nev == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->ev = xrealloc(r->ev, r->cap * sizeof *r->ev);
    }
    r->ev[r->nev++] = v;
}

/* Apply an acknowledged write; check what the call returned against the
 * model, which is exact: only the child writes. */
static void apply_ack(const msg *m)
{
    if (m->op == OP_SAVE_SESSION || m->op == OP_DELETE_SESSION) {
        if (m->target < 0 || m->target >= next_sess) {
            FAIL("ack for unknown session #%" PRId64, m->target);
            return;
        }
    } else if (m->target < 0 || m->target >= next_run) {
        FAIL("ack for unknown run #%" PRId64, m->target);
        return;
    }
    acked[m->op]++;
    switch (m->op) {
    case OP_SAVE_RUN:
        runs[m->target].v = m->v;
        break;
    case OP_ADD_EVENT: {
        run_m *r = &runs[m->target];
        if (m->seq != (int64_t)r->nev + 1)
            FAIL("add_event to run #%" PRId64 " returned seq %" PRId64 ", expected %zu",
                 m->target, m->seq, r->nev + 1);
        push_event(r, m->v);
        break;
    }
    case OP_SAVE_SESSION:
        sess[m->target] = m->v;
        break;
    case OP_DELETE_RUN: {
        run_m *r = &runs[m->target];
        int present = r->v != 0 || r->nev > 0;
        if ((m->status == ACP_OK) != present)
            FAIL("delete_run #%" PRId64 " returned %s but the run %s", m->target,
                 acp_status_name((acp_status)m->status),
                 present ? "existed" : "had neither a record nor events");
        r->v = 0;
        r->nev = 0;
        break;
    }
    case OP_DELETE_SESSION:
        if ((m->status == ACP_OK) != (sess[m->target] != 0))
            FAIL("delete_session #%" PRId64 " returned %s but the session %s", m->target,
                 acp_status_name((acp_status)m->status),
                 sess[m->target] ? "existed" : "did not exist");
        sess[m->target] = 0;
        break;
    }
}

/* ------------------------------------------------------------------ */
/* Reading the store back                                               */
/* ------------------------------------------------------------------ */

typedef struct run_state {
    int64_t v;
    int64_t *ev;
    size_t nev, cap;
} run_state;

/* Read run n (record and events) into st.  Every document must be a
 * generated one, byte for byte; returns 0 when a read failed or was not. */
static int read_run(int64_t n, run_state *st)
{
    buf id = {0}, want = {0};
    acp_error e;
    char *json = NULL;
    size_t len = 0;
    int ok = 1;
    run_id(&id, n);
    st->v = 0;
    st->nev = 0;
    acp_status s = acp_run_get(vs, id.p, &json, &len, &e);
    if (s == ACP_OK) {
        int64_t v = doc_field(json, "v");
        if (v > 0)
            gen_run(&want, n, v);
        if (v <= 0 || doc_field(json, "n") != n || want.n != len || memcmp(want.p, json, len)) {
            FAIL("run #%" PRId64 " (%s): stored document (%zu bytes) is not one that was "
                 "written (torn or mixed?): %.120s",
                 n, id.p, len, json);
            ok = 0;
        } else {
            st->v = v;
        }
        acp_free(json);
        docs_checked++;
    } else if (s != ACP_NOT_FOUND) {
        FAIL("get_run #%" PRId64 ": %s: %s", n, acp_status_name(s), e.message);
        ok = 0;
    }

    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    f.limit = 1000;
    for (;;) {
        acp_page *p;
        s = acp_event_list(vs, id.p, &f, &p, &e);
        if (s != ACP_OK) {
            FAIL("get_events #%" PRId64 ": %s: %s", n, acp_status_name(s), e.message);
            ok = 0;
            break;
        }
        size_t cnt = acp_page_count(p);
        for (size_t i = 0; i < cnt; i++) {
            size_t elen;
            const char *ej = acp_page_json(p, i, &elen);
            int64_t seq = acp_page_seq(p, i);
            int64_t v = doc_field(ej, "v");
            if (seq != (int64_t)st->nev + 1) {
                FAIL("run #%" PRId64 ": event sequence %" PRId64 " after %zu (a gap or a "
                     "duplicate)",
                     n, seq, st->nev);
                ok = 0;
            }
            if (v > 0)
                gen_event(&want, v);
            if (v <= 0 || want.n != elen || memcmp(want.p, ej, elen)) {
                FAIL("run #%" PRId64 " event %" PRId64 ": stored event (%zu bytes) is not "
                     "one that was written (torn or mixed?): %.120s",
                     n, seq, elen, ej);
                ok = 0;
            }
            if (st->nev == st->cap) {
                st->cap = st->cap ? st->cap * 2 : 16;
                st->ev = xrealloc(st->ev, st->cap * sizeof *st->ev);
            }
            st->ev[st->nev++] = v;
            events_checked++;
        }
        acp_page_free(p);
        if (cnt < (size_t)f.limit)
            break;
        f.after_seq = (int64_t)st->nev;
    }
    free(id.p);
    free(want.p);
    return ok;
}

static int same_run(const run_state *st, int64_t v, const int64_t *ev, size_t nev)
{
    return st->v == v && st->nev == nev && (nev == 0 || !memcmp(st->ev, ev, nev * sizeof *ev));
}

static void describe(const char *what, int64_t v, size_t nev, char *out, size_t outsz)
{
    if (v)
        snprintf(out, outsz, "%s: record v%" PRId64 ", %zu events", what, v, nev);
    else
        snprintf(out, outsz, "%s: no record, %zu events", what, nev);
}

/* Check run n against the model, or against the model with the write in
 * flight applied; adopt the latter when it is what the store holds. */
static void check_run(int64_t n, const msg *inflight)
{
    run_m *r = &runs[n];
    run_state st = {0};
    if (!read_run(n, &st)) {
        free(st.ev);
        return;
    }
    if (same_run(&st, r->v, r->ev, r->nev)) {
        if (inflight && inflight->target == n &&
            (inflight->op == OP_SAVE_RUN || inflight->op == OP_ADD_EVENT ||
             inflight->op == OP_DELETE_RUN)) {
            /* A delete of nothing, or a save of the same version, changes
             * nothing: count as not applied. */
            inflight_absent++;
        }
        free(st.ev);
        return;
    }
    if (inflight && inflight->target == n) {
        if (inflight->op == OP_SAVE_RUN && same_run(&st, inflight->v, r->ev, r->nev)) {
            r->v = inflight->v;
            inflight_applied++;
            free(st.ev);
            return;
        }
        if (inflight->op == OP_ADD_EVENT && st.v == r->v && st.nev == r->nev + 1 &&
            (r->nev == 0 || !memcmp(st.ev, r->ev, r->nev * sizeof *r->ev)) &&
            st.ev[r->nev] == inflight->v) {
            push_event(r, inflight->v);
            inflight_applied++;
            free(st.ev);
            return;
        }
        if (inflight->op == OP_DELETE_RUN && st.v == 0 && st.nev == 0) {
            r->v = 0;
            r->nev = 0;
            inflight_applied++;
            free(st.ev);
            return;
        }
    }
    char have[96], want[96];
    int mine = inflight && inflight->target == n && inflight->op != OP_SAVE_SESSION &&
               inflight->op != OP_DELETE_SESSION;
    int half_delete = mine && inflight->op == OP_DELETE_RUN &&
                      ((st.v == 0 && st.nev > 0) || (st.v != 0 && st.nev == 0 && r->nev > 0));
    describe("store has", st.v, st.nev, have, sizeof have);
    describe("acknowledged", r->v, r->nev, want, sizeof want);
    FAIL("run #%" PRId64 ": %s; %s%s%s%s", n, have, want, mine ? "; in flight: " : "",
         mine ? op_names[inflight->op] : "",
         half_delete ? " (delete_run half done: the record and the events must go together)"
                     : "");
    if (keep_going) { /* go on from what the store holds */
        r->v = st.v;
        r->nev = 0;
        for (size_t i = 0; i < st.nev; i++)
            push_event(r, st.ev[i]);
    }
    free(st.ev);
}

static void check_session(int64_t k, const msg *inflight)
{
    buf id = {0}, want = {0};
    acp_error e;
    char *json = NULL;
    size_t len = 0;
    int64_t have = 0;
    session_id(&id, k);
    acp_status s = acp_session_get(vs, id.p, &json, &len, &e);
    if (s == ACP_OK) {
        int64_t v = doc_field(json, "v");
        if (v > 0)
            gen_session(&want, k, v);
        if (v <= 0 || want.n != len || memcmp(want.p, json, len)) {
            FAIL("session #%" PRId64 ": stored document (%zu bytes) is not one that was "
                 "written: %.120s",
                 k, len, json);
            have = -1;
        } else {
            have = v;
        }
        acp_free(json);
        docs_checked++;
    } else if (s != ACP_NOT_FOUND) {
        FAIL("get_session #%" PRId64 ": %s: %s", k, acp_status_name(s), e.message);
        have = -1;
    }
    int is_inflight = inflight && inflight->target == k &&
                      (inflight->op == OP_SAVE_SESSION || inflight->op == OP_DELETE_SESSION);
    if (have == sess[k]) {
        if (is_inflight)
            inflight_absent++;
    } else if (have >= 0 && is_inflight && inflight->op == OP_SAVE_SESSION &&
               have == inflight->v) {
        sess[k] = have;
        inflight_applied++;
    } else if (have >= 0 && is_inflight && inflight->op == OP_DELETE_SESSION && have == 0) {
        sess[k] = 0;
        inflight_applied++;
    } else if (have >= 0) {
        FAIL("session #%" PRId64 ": store has %s%" PRId64 ", acknowledged %s%" PRId64 "%s%s", k,
             have ? "v" : "absent ", have, sess[k] ? "v" : "absent ", sess[k],
             is_inflight ? "; in flight: " : "", is_inflight ? op_names[inflight->op] : "");
        if (keep_going)
            sess[k] = have;
    }
    free(id.p);
    free(want.p);
}

static int64_t list_total(const char *agent, const char *session)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    acp_page *p;
    acp_error e;
    f.agent_name = agent;
    f.session_id = session;
    f.limit = 0;
    f.want_total = 1;
    acp_status s = acp_run_list(vs, &f, &p, &e);
    if (s != ACP_OK) {
        FAIL("list_runs total: %s: %s", acp_status_name(s), e.message);
        return -1;
    }
    int64_t t = acp_page_total(p);
    acp_page_free(p);
    return t;
}

/* Totals of list_runs against the model: all runs, per agent, per session. */
static void check_totals(void)
{
    int64_t all = 0, agent[N_AGENTS] = {0}, session[N_RUN_SESSIONS] = {0};
    for (int64_t n = 0; n < next_run; n++) {
        if (!runs[n].v)
            continue;
        all++;
        agent[run_agent(runs[n].v)]++;
        int s = run_session(runs[n].v);
        if (s >= 0)
            session[s]++;
    }
    int64_t t = list_total(NULL, NULL);
    if (t >= 0 && t != all)
        FAIL("list_runs total %" PRId64 ", but %" PRId64 " runs are stored", t, all);
    for (int a = 0; a < N_AGENTS; a++) {
        char name[32];
        snprintf(name, sizeof name, "agent-%d", a);
        t = list_total(name, NULL);
        if (t >= 0 && t != agent[a])
            FAIL("list_runs agent %s: total %" PRId64 ", expected %" PRId64, name, t, agent[a]);
    }
    for (int k = 0; k < N_RUN_SESSIONS; k++) {
        buf id = {0};
        session_id(&id, k);
        t = list_total(NULL, id.p);
        if (t >= 0 && t != session[k])
            FAIL("list_runs session %s: total %" PRId64 ", expected %" PRId64, id.p, t,
                 session[k]);
        free(id.p);
    }
}

/* Walk every run with the keyset cursor: each stored run exactly once,
 * each document the model's version. */
static void walk_runs(void)
{
    unsigned char *seen = calloc((size_t)next_run + 1, 1);
    char *cursor = NULL;
    int64_t count = 0, expect = 0;
    buf want = {0};
    if (!seen)
        die("out of memory");
    for (int64_t n = 0; n < next_run; n++)
        expect += runs[n].v != 0;
    for (;;) {
        acp_run_filter f = ACP_RUN_FILTER_INIT;
        acp_page *p;
        acp_error e;
        f.limit = 1000;
        f.cursor = cursor;
        acp_status s = acp_run_list(vs, &f, &p, &e);
        if (s != ACP_OK) {
            FAIL("list_runs walk: %s: %s", acp_status_name(s), e.message);
            break;
        }
        for (size_t i = 0; i < acp_page_count(p); i++) {
            size_t len;
            const char *json = acp_page_json(p, i, &len);
            int64_t n = doc_field(json, "n"), v = doc_field(json, "v");
            if (n < 0 || n >= next_run || v <= 0) {
                FAIL("list_runs: a document that was never written: %.120s", json);
                continue;
            }
            gen_run(&want, n, v);
            if (want.n != len || memcmp(want.p, json, len))
                FAIL("list_runs: run #%" PRId64 " listed with a torn document", n);
            else if (runs[n].v != v)
                FAIL("list_runs: run #%" PRId64 " listed as v%" PRId64 ", get gave v%" PRId64, n,
                     v, runs[n].v);
            if (seen[n]++)
                FAIL("list_runs: run #%" PRId64 " listed twice", n);
            count++;
        }
        free(cursor);
        cursor = acp_page_next_cursor(p) ? strdup(acp_page_next_cursor(p)) : NULL;
        acp_page_free(p);
        if (!cursor)
            break;
    }
    if (count != expect)
        FAIL("list_runs walk visited %" PRId64 " runs, %" PRId64 " are stored", count, expect);
    free(cursor);
    free(seen);
    free(want.p);
}

static void walk_sessions(void)
{
    char *after = NULL;
    int64_t count = 0, expect = 0;
    buf want = {0};
    for (int64_t k = 0; k < next_sess; k++)
        expect += sess[k] != 0;
    for (;;) {
        acp_page *p;
        acp_error e;
        acp_status s = acp_session_list(vs, after, 1000, &p, &e);
        if (s == ACP_UNSUPPORTED)
            break;
        if (s != ACP_OK) {
            FAIL("list_sessions: %s: %s", acp_status_name(s), e.message);
            break;
        }
        for (size_t i = 0; i < acp_page_count(p); i++) {
            size_t len;
            const char *json = acp_page_json(p, i, &len);
            int64_t k = doc_field(json, "k"), v = doc_field(json, "v");
            if (k < 0 || k >= next_sess || v <= 0) {
                FAIL("list_sessions: a document that was never written: %.120s", json);
                continue;
            }
            gen_session(&want, k, v);
            if (want.n != len || memcmp(want.p, json, len) || sess[k] != v)
                FAIL("list_sessions: session #%" PRId64 " listed as %.60s, get gave v%" PRId64,
                     k, json, sess[k]);
            count++;
        }
        free(after);
        after = acp_page_next_cursor(p) ? strdup(acp_page_next_cursor(p)) : NULL;
        acp_page_free(p);
        if (!after)
            break;
    }
    if (count != expect)
        FAIL("list_sessions walked %" PRId64 " sessions, %" PRId64 " are stored", count, expect);
    free(after);
    free(want.p);
}

/* Open the store as a restarted application would and check it. */
static void verify(const msg *inflight, int full, rng *r)
{
    acp_error e;
    acp_status s = acp_store_open(uri, &vs, &e);
    if (s != ACP_OK) {
        FAIL("the store does not open after the crash: %s: %s", acp_status_name(s), e.message);
        vs = NULL;
        return;
    }
    for (int64_t n = 0; n < next_run; n++)
        if (full || runs[n].touched)
            check_run(n, inflight);
    if (!full)
        for (int i = 0; i < 48 && next_run > 0; i++)
            check_run((int64_t)(rnext(r) % (uint64_t)next_run), NULL);
    for (int64_t k = 0; k < next_sess; k++)
        if (full || sess_touched[k])
            check_session(k, inflight);
    check_totals();
    walk_sessions();
    if (full) {
        walk_runs();
        full_checks++;
    }
    acp_store_close(vs);
    vs = NULL;
}

/* ------------------------------------------------------------------ */
/* One crash                                                            */
/* ------------------------------------------------------------------ */

static char self_exe[PATH_MAX];
/* How long the last writer took from its start to an open store: kills
 * meant for open and recovery are spread over that time. */
static int64_t open_ms;

static int read_msgs(int fd, buf *in, msg *inflight, int *have_inflight, int *ready)
{
    char tmp[4096];
    ssize_t k = read(fd, tmp, sizeof tmp);
    if (k < 0)
        return errno == EINTR || errno == EAGAIN ? 1 : -1;
    if (k == 0)
        return 0;
    bput(in, tmp, (size_t)k);
    size_t off = 0;
    while (in->n - off >= sizeof(msg)) {
        msg m;
        memcpy(&m, in->p + off, sizeof m);
        off += sizeof m;
        switch (m.type) {
        case M_READY:
            *ready = 1;
            break;
        case M_ISSUE:
            *inflight = m;
            *have_inflight = 1;
            if (m.op == OP_SAVE_SESSION || m.op == OP_DELETE_SESSION) {
                grow_sess(m.target + 1);
                if (m.target >= next_sess)
                    next_sess = m.target + 1;
                sess_touched[m.target] = 1;
            } else {
                grow_runs(m.target + 1);
                if (m.target >= next_run)
                    next_run = m.target + 1;
                runs[m.target].touched = 1;
            }
            if (m.v >= next_v)
                next_v = m.v + 1;
            break;
        case M_ACK:
            if (!*have_inflight || inflight->v != m.v)
                FAIL("acknowledgement of a write that was not announced");
            apply_ack(&m);
            *have_inflight = 0;
            break;
        case M_FAIL:
            FAIL("the writer failed (%s), see its message above",
                 acp_status_name((acp_status)m.status));
            break;
        default:
            FAIL("garbled message from the writer");
        }
    }
    memmove(in->p, in->p + off, in->n - off);
    in->n -= off;
    return 1;
}

static void crash_once(long round, rng *r, int max_delay, const char *server_cmd,
                       long server_every)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        die("pipe: %s", strerror(errno));
    for (int64_t n = 0; n < next_run; n++)
        runs[n].touched = 0;
    if (next_sess > 0)
        memset(sess_touched, 0, (size_t)next_sess);

    uint64_t child_seed = rnext(r);
    /* The first crash and one in ten land from the child's start, so that
     * kills hit store creation and the recovery done by open. */
    int from_start = round == 0 || rnext(r) % 10 == 0;
    int delay = 1 + (int)(rnext(r) % (uint64_t)max_delay);
    if (from_start && open_ms > 0)
        delay = (int)(rnext(r) % (uint64_t)(open_ms + open_ms / 2 + 1));

    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        char a_seed[32], a_v[32], a_run[32], a_sess[32], a_fd[16];
        int fd = dup(fds[1]); /* without O_CLOEXEC */
        snprintf(a_seed, sizeof a_seed, "%" PRIu64, child_seed);
        snprintf(a_v, sizeof a_v, "%" PRId64, next_v);
        snprintf(a_run, sizeof a_run, "%" PRId64, next_run);
        snprintf(a_sess, sizeof a_sess, "%" PRId64, next_sess);
        snprintf(a_fd, sizeof a_fd, "%d", fd);
        execl(self_exe, self_exe, "--child", uri, a_seed, a_v, a_run, a_sess, a_fd,
              (char *)NULL);
        _exit(127);
    }
    close(fds[1]);

    msg inflight;
    int have_inflight = 0, ready = 0, eof = 0;
    buf in = {0};
    int64_t start = now_ms(), deadline = from_start ? start + delay : -1;
    while (!eof) {
        int64_t now = now_ms();
        if (deadline < 0 && ready) {
            deadline = now + delay;
            open_ms = now - start;
        }
        if (deadline >= 0 && now >= deadline)
            break;
        if (now - start > 60000) {
            FAIL("the writer did not open the store within 60 s");
            break;
        }
        struct pollfd pfd = {fds[0], POLLIN, 0};
        int wait = deadline >= 0 ? (int)(deadline - now) : 100;
        if (poll(&pfd, 1, wait) > 0) {
            int rc = read_msgs(fds[0], &in, &inflight, &have_inflight, &ready);
            if (rc < 0)
                die("read: %s", strerror(errno));
            eof = rc == 0;
        }
    }
    kill(pid, SIGKILL);
    int wst;
    while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
        ;
    while (!eof) {
        int rc = read_msgs(fds[0], &in, &inflight, &have_inflight, &ready);
        if (rc < 0)
            die("read: %s", strerror(errno));
        eof = rc == 0;
    }
    close(fds[0]);
    free(in.p);
    if (!(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL) &&
        !(WIFEXITED(wst) && WEXITSTATUS(wst) == 0))
        FAIL("the writer ended on its own (%s %d)", WIFEXITED(wst) ? "exit" : "signal",
             WIFEXITED(wst) ? WEXITSTATUS(wst) : WTERMSIG(wst));
    if (!ready)
        kills_in_open++;

    if (settle_cmd) {
        int rc = system(settle_cmd);
        if (rc != 0)
            die("--settle command failed (%d): %s", rc, settle_cmd);
    }
    if (server_cmd && server_every > 0 && (round + 1) % server_every == 0) {
        int rc = system(server_cmd);
        if (rc != 0)
            die("--server-crash command failed (%d): %s", rc, server_cmd);
        server_crashes++;
    }
    int full = next_run <= 3000 || round % 20 == 19;
    verify(have_inflight ? &inflight : NULL, full, r);
}

/* ------------------------------------------------------------------ */
/* Main                                                                 */
/* ------------------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static char *expand(const char *tmpl, const char *dir)
{
    buf b = {0};
    for (const char *p = tmpl; *p;) {
        if (strncmp(p, "{dir}", 5) == 0) {
            bput(&b, dir, strlen(dir));
            p += 5;
        } else {
            bput(&b, p++, 1);
        }
    }
    return b.p;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: crash_test --store URI-TEMPLATE [--crashes N] [--seed S] [--max-delay MS]\n"
            "                  [--settle CMD] [--server-crash CMD [--server-crash-every K]]\n"
            "                  [--keep] [--keep-going]\n"
            "  {dir} in the template becomes a fresh temporary directory, reused by every crash\n"
            "  (e.g. 'sqlite:{dir}/c.db', 'file:{dir}/store', 'postgres://...?schema={dir}').\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc == 8 && strcmp(argv[1], "--child") == 0) {
        child_fd = atoi(argv[7]);
        signal(SIGPIPE, SIG_IGN);
        return child_main(argv[2], strtoull(argv[3], NULL, 10), strtoll(argv[4], NULL, 10),
                          strtoll(argv[5], NULL, 10), strtoll(argv[6], NULL, 10));
    }

    const char *tmpl = NULL, *server_cmd = NULL;
    long crashes = 100, server_every = 10;
    int max_delay = 50, keep = 0, have_seed = 0;
    uint64_t seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--keep") == 0 || strcmp(a, "--keep-going") == 0) {
            if (a[6])
                keep_going = 1;
            else
                keep = 1;
            continue;
        }
        if (!val)
            usage();
        i++;
        if (strcmp(a, "--store") == 0)
            tmpl = val;
        else if (strcmp(a, "--crashes") == 0)
            crashes = atol(val);
        else if (strcmp(a, "--seed") == 0)
            seed = strtoull(val, NULL, 0), have_seed = 1;
        else if (strcmp(a, "--max-delay") == 0)
            max_delay = atoi(val);
        else if (strcmp(a, "--settle") == 0)
            settle_cmd = val;
        else if (strcmp(a, "--server-crash") == 0)
            server_cmd = val;
        else if (strcmp(a, "--server-crash-every") == 0)
            server_every = atol(val);
        else
            usage();
    }
    if (!tmpl || crashes < 1 || max_delay < 1)
        usage();
    if (!have_seed)
        seed = (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
    ssize_t k = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (k <= 0)
        die("readlink /proc/self/exe: %s", strerror(errno));
    self_exe[k] = '\0';
    signal(SIGPIPE, SIG_IGN);

    char dir[] = "/tmp/acp-crash-XXXXXX";
    if (!mkdtemp(dir))
        die("mkdtemp: %s", strerror(errno));
    char *u = expand(tmpl, dir);
    uri = u;
    printf("crash_test: %s, %ld crashes, seed %" PRIu64 ", kill after 1..%d ms%s\n", uri,
           crashes, seed, max_delay, server_cmd ? ", with server crashes" : "");
    fflush(stdout);

    rng r = {seed};
    int64_t t0 = now_ms();
    long round, rounds_failed = 0, first_failed = 0;
    for (round = 0; round < crashes && (failures == 0 || keep_going); round++)
    {
        int before = failures;
        crash_once(round, &r, max_delay, server_cmd, server_every);
        if (failures != before && rounds_failed++ == 0)
            first_failed = round + 1;
    }
    long survived = round - rounds_failed;
    if (failures == 0 || keep_going)
        verify(NULL, 1, &r); /* everything, once more */

    long total_acked = 0;
    for (int i = 1; i < OP_N; i++)
        total_acked += acked[i];
    int64_t live = 0, events = 0, live_sess = 0;
    for (int64_t n = 0; n < next_run; n++) {
        live += runs[n].v != 0;
        events += (int64_t)runs[n].nev;
    }
    for (int64_t s = 0; s < next_sess; s++)
        live_sess += sess[s] != 0;
    printf("crash_test: %ld crashes survived (%ld during open%s%ld server crashes), "
           "%ld acknowledged writes verified (save_run %ld, add_event %ld, save_session %ld, "
           "delete_run %ld, delete_session %ld); in flight at the kill: %ld applied whole, %ld "
           "not applied; %ld documents and %ld events read back, %ld full checks; final store: "
           "%" PRId64 " runs, %" PRId64 " events, %" PRId64 " sessions; %.1f s\n",
           survived, kills_in_open, ", ", server_crashes, total_acked,
           acked[OP_SAVE_RUN], acked[OP_ADD_EVENT], acked[OP_SAVE_SESSION], acked[OP_DELETE_RUN],
           acked[OP_DELETE_SESSION], inflight_applied, inflight_absent, docs_checked,
           events_checked, full_checks, live, events, live_sess, (double)(now_ms() - t0) / 1000);
    if (failures) {
        printf("crash_test: FAILED (%ld of %ld crashes, the first in crash %ld; seed %" PRIu64
               "); the store is kept in %s\n",
               rounds_failed, round, first_failed, seed, dir);
    } else if (!keep) {
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    } else {
        printf("crash_test: the store is kept in %s\n", dir);
    }
    for (int64_t n = 0; n < runs_cap; n++)
        free(runs[n].ev);
    free(runs);
    free(sess);
    free(sess_touched);
    free(u);
    return failures ? 1 : 0;
}
