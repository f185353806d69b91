/* SPDX-License-Identifier: MIT */
/*
 * alloc_store.c - allocation failure, point by point, through a store's
 * whole life: open, every operation, close.
 *
 *   alloc_store <backend>        backend: memory, sqlite or file
 *
 * For n = 1, 2, ... a forked child arms failmalloc to refuse the n-th
 * allocation (once, or that one and every later one), then opens a fresh
 * store and runs a fixed sequence of operations.  The first call that
 * meets the failure must return ACP_NOMEM with a message (open may also
 * answer ACP_LOAD: the plugin could not be loaded), or succeed having
 * absorbed it.  The child then disarms and checks the whole store against
 * a model of what it must hold: a failed call changed nothing, a
 * successful one changed everything it should.  It retries the failed
 * call, which must now succeed, finishes the sequence, closes the store
 * (durable backends: reopens it and checks it again) and exits.  The loop
 * ends at the first n that the sequence never reaches.
 *
 * Durable backends get a second handle on the same store, opened after the
 * first: some saves go through it, so that the first handle catches up
 * with another handle's writes while the failure is armed, and every
 * check runs on both handles (what one handle committed, the other sees;
 * what failed, neither does).
 *
 * Leaks: the "warm" passes fork from a parent that has run the whole
 * sequence once unarmed (so plugins, SQLite and libc have set up what they
 * keep for the life of the process), and each child requires the number of
 * live blocks after the armed sequence and close to equal the number
 * before it.  The "cold"
 * passes put the plugin loading itself under the failure (every n up to
 * the end of open); their leaks, and every other memory error, are left
 * to LeakSanitizer (ASan builds) or valgrind (other builds, see
 * CMakeLists.txt), which check each child as it exits.
 *
 * The loop, one forked child per n, is alloc_driver.c.  --every K (or
 * ACP_ALLOC_EVERY=K) tries one point in K, for slow runs such as
 * valgrind's; --open-every K (ACP_ALLOC_OPEN_EVERY) does so
 * only within open and reopen, where SQLite makes thousands of alike
 * allocations preparing its statements.
 */
#define _GNU_SOURCE /* mkdtemp, nftw */

#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acp_storage.h"
#include "alloc_driver.h"
#include "failmalloc.h"


/* ---- the store's expected content ---------------------------------------- */

static const char RUN1_V1[] = "{\"run_id\":\"r1\",\"agent_name\":\"echo\",\"session_id\":\"s1\","
                              "\"status\":\"created\",\"created_at\":\"2025-06-01T12:00:00Z\","
                              "\"output\":[]}";
static const char RUN1_V2[] = "{\"run_id\":\"r1\",\"agent_name\":\"echo\",\"session_id\":\"s1\","
                              "\"status\":\"completed\",\"created_at\":\"2025-06-01T12:00:00Z\","
                              "\"finished_at\":\"2025-06-01T12:00:05Z\",\"output\":[{\"role\":"
                              "\"agent/echo\",\"parts\":[{\"content_type\":\"text/plain\","
                              "\"content\":\"hello\"}]}]}";
static const char RUN2[] = "{\"run_id\":\"r2\",\"agent_name\":\"other\",\"status\":\"failed\","
                           "\"created_at\":\"2025-06-01T11:00:00Z\"}";
static const char EV1[] = "{\"type\":\"run.created\",\"run\":{\"run_id\":\"r1\"}}";
static const char EV2[] = "{\"type\":\"message.part\",\"part\":{\"content\":\"hel\"}}";
static const char SESS1[] = "{\"id\":\"s1\",\"history\":[],\"state\":{\"k\":[1,2,3]}}";
static const char SESS2[] = "{\"id\":\"s2\",\"history\":[\"https://example.invalid/h/1\"],"
                            "\"state\":null}";

typedef struct model {
    const char *r1, *r2; /* current documents, NULL when absent */
    int nev;             /* events of r1: EV1, EV2 in order */
    int s1, s2;          /* sessions present */
} model;

static const char *const events[] = {EV1, EV2};

/* ---- reporting -------------------------------------------------------------- */

static char what_failed[2048];

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what_failed, sizeof what_failed, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- checks against the model (always run disarmed) -------------------------- */

static int same(const char *got, size_t len, const char *want)
{
    return got && len == strlen(want) && memcmp(got, want, len) == 0;
}

static int check_doc(acp_store *s, int run, const char *id, const char *want)
{
    char *json = NULL;
    size_t len = 0;
    acp_error e = {0};
    acp_status st = run ? acp_run_get(s, id, &json, &len, &e) : acp_session_get(s, id, &json, &len, &e);
    int ok = want ? st == ACP_OK && same(json, len, want) : st == ACP_NOT_FOUND;
    if (!ok)
        bad("%s %s: expected %s, got %s (%s)%s%.*s", run ? "run" : "session", id,
            want ? "its document" : "NOT_FOUND", acp_status_name(st), e.message,
            st == ACP_OK ? " with " : "", st == ACP_OK ? (int)len : 0, st == ACP_OK ? json : "");
    acp_free(json);
    return ok ? 0 : -1;
}

static int check_runs_list(acp_store *s, const model *m)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    acp_page *p = NULL;
    acp_error e = {0};
    f.want_total = 1;
    acp_status st = acp_run_list(s, &f, &p, &e);
    if (st != ACP_OK)
        return bad("list_runs: %s (%s)", acp_status_name(st), e.message);
    const char *want[2];
    size_t n = 0;
    if (m->r1) /* r1 is newer than r2 */
        want[n++] = m->r1;
    if (m->r2)
        want[n++] = m->r2;
    int rc = 0;
    if (acp_page_count(p) != n || acp_page_total(p) != (int64_t)n)
        rc = bad("list_runs: %zu runs, total %lld; expected %zu", acp_page_count(p),
                 (long long)acp_page_total(p), n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t len;
        const char *doc = acp_page_json(p, i, &len);
        if (!same(doc, len, want[i]))
            rc = bad("list_runs: item %zu is not the expected document", i);
    }
    acp_page_free(p);
    return rc;
}

static int check_events(acp_store *s, const model *m)
{
    acp_page *p = NULL;
    acp_error e = {0};
    acp_status st = acp_event_list(s, "r1", NULL, &p, &e);
    if (st != ACP_OK)
        return bad("get_events: %s (%s)", acp_status_name(st), e.message);
    int rc = 0;
    if (acp_page_count(p) != (size_t)m->nev)
        rc = bad("get_events: %zu events, expected %d", acp_page_count(p), m->nev);
    for (int i = 0; rc == 0 && i < m->nev; i++) {
        size_t len;
        const char *doc = acp_page_json(p, (size_t)i, &len);
        if (!same(doc, len, events[i]) || acp_page_seq(p, (size_t)i) != i + 1)
            rc = bad("get_events: event %d has seq %lld or the wrong document", i,
                     (long long)acp_page_seq(p, (size_t)i));
    }
    acp_page_free(p);
    return rc;
}

static int check_sessions_list(acp_store *s, const model *m)
{
    acp_page *p = NULL;
    acp_error e = {0};
    acp_status st = acp_session_list(s, NULL, 10, &p, &e);
    if (st != ACP_OK)
        return bad("list_sessions: %s (%s)", acp_status_name(st), e.message);
    const char *want[2];
    size_t n = 0;
    if (m->s1)
        want[n++] = SESS1;
    if (m->s2)
        want[n++] = SESS2;
    int rc = 0;
    if (acp_page_count(p) != n)
        rc = bad("list_sessions: %zu sessions, expected %zu", acp_page_count(p), n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t len;
        const char *doc = acp_page_json(p, i, &len);
        if (!same(doc, len, want[i]))
            rc = bad("list_sessions: item %zu is not the expected document", i);
    }
    acp_page_free(p);
    return rc;
}

/* The second handle on a durable store, or NULL (see the top). */
static acp_store *peer;

static int check_handle(acp_store *s, const model *m)
{
    if (check_doc(s, 1, "r1", m->r1) || check_doc(s, 1, "r2", m->r2) ||
        check_doc(s, 0, "s1", m->s1 ? SESS1 : NULL) || check_doc(s, 0, "s2", m->s2 ? SESS2 : NULL) ||
        check_runs_list(s, m) || check_events(s, m) || check_sessions_list(s, m))
        return -1;
    return 0;
}

static int check_store(acp_store *s, const model *m)
{
    if (check_handle(s, m) != 0)
        return -1;
    if (peer && check_handle(peer, m) != 0) {
        char detail[sizeof what_failed];
        snprintf(detail, sizeof detail, "%s", what_failed);
        return bad("second handle: %s", detail);
    }
    return 0;
}

/* Close the store and the second handle. */
static void close_store(acp_store *s)
{
    acp_store_close(s);
    acp_store_close(peer);
    peer = NULL;
}

/* ---- the sequence --------------------------------------------------------------- */

/* One operation: run it against the store as the model says it is; when it
 * succeeds, check what it returned and update the model.  A wrong result is
 * reported as ACP_PLUGIN with the detail in what_failed. */
typedef acp_status (*step_fn)(acp_store *s, model *m, acp_error *e);

static acp_status wrong(const char *fmt, const char *arg)
{
    bad(fmt, arg);
    return ACP_PLUGIN;
}

static acp_status save_run(acp_store *s, const char *doc, const char **slot, acp_error *e)
{
    acp_status st = acp_run_save(s, doc, ACP_STRLEN, e);
    if (st == ACP_OK)
        *slot = doc;
    return st;
}

static acp_status st_save_r1(acp_store *s, model *m, acp_error *e)
{
    return save_run(s, RUN1_V1, &m->r1, e);
}

static acp_status st_save_r2(acp_store *s, model *m, acp_error *e)
{
    return save_run(peer ? peer : s, RUN2, &m->r2, e);
}

static acp_status st_update_r1(acp_store *s, model *m, acp_error *e)
{
    return save_run(s, RUN1_V2, &m->r1, e);
}

static acp_status st_get_r1(acp_store *s, model *m, acp_error *e)
{
    char *json = NULL;
    size_t len = 0;
    acp_status st = acp_run_get(s, "r1", &json, &len, e);
    if (st == ACP_OK && !same(json, len, m->r1))
        st = wrong("get_run r1 returned %s", "another document");
    acp_free(json);
    return st;
}

static acp_status st_list_runs(acp_store *s, model *m, acp_error *e)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    acp_page *p = NULL;
    f.want_total = 1;
    f.limit = 1; /* a full page: the core also makes a cursor */
    acp_status st = acp_run_list(s, &f, &p, e);
    if (st == ACP_OK) {
        size_t len = 0;
        const char *doc = acp_page_json(p, 0, &len);
        if (acp_page_count(p) != 1 || acp_page_total(p) != 2 || !same(doc, len, m->r1) ||
            !acp_page_next_cursor(p))
            st = wrong("list_runs returned %s", "the wrong page");
    }
    acp_page_free(p);
    return st;
}

static acp_status st_add_event(acp_store *s, model *m, acp_error *e)
{
    int64_t seq = 0;
    acp_status st = acp_event_add(s, "r1", events[m->nev], ACP_STRLEN, &seq, e);
    if (st == ACP_OK && seq != m->nev + 1)
        st = wrong("add_event returned sequence %s", seq == m->nev ? "reused" : "with a gap");
    if (st == ACP_OK)
        m->nev++;
    return st;
}

static acp_status st_get_events(acp_store *s, model *m, acp_error *e)
{
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    acp_page *p = NULL;
    f.limit = 2;
    acp_status st = acp_event_list(s, "r1", &f, &p, e);
    if (st == ACP_OK) {
        size_t l0 = 0, l1 = 0;
        const char *d0 = acp_page_json(p, 0, &l0), *d1 = acp_page_json(p, 1, &l1);
        if (acp_page_count(p) != 2 || !same(d0, l0, EV1) || !same(d1, l1, EV2) ||
            acp_page_seq(p, 1) != 2 || !acp_page_next_cursor(p))
            st = wrong("get_events returned %s", "the wrong page");
    }
    (void)m;
    acp_page_free(p);
    return st;
}

static acp_status st_save_s1(acp_store *s, model *m, acp_error *e)
{
    acp_status st = acp_session_save(s, SESS1, ACP_STRLEN, e);
    if (st == ACP_OK)
        m->s1 = 1;
    return st;
}

static acp_status st_save_s2(acp_store *s, model *m, acp_error *e)
{
    acp_status st = acp_session_save(peer ? peer : s, SESS2, ACP_STRLEN, e);
    if (st == ACP_OK)
        m->s2 = 1;
    return st;
}

static acp_status st_get_s1(acp_store *s, model *m, acp_error *e)
{
    char *json = NULL;
    size_t len = 0;
    acp_status st = acp_session_get(s, "s1", &json, &len, e);
    if (st == ACP_OK && !same(json, len, SESS1))
        st = wrong("get_session s1 returned %s", "another document");
    (void)m;
    acp_free(json);
    return st;
}

static acp_status st_list_sessions(acp_store *s, model *m, acp_error *e)
{
    acp_page *p = NULL;
    acp_status st = acp_session_list(s, NULL, 2, &p, e);
    if (st == ACP_OK) {
        size_t l0 = 0, l1 = 0;
        const char *d0 = acp_page_json(p, 0, &l0), *d1 = acp_page_json(p, 1, &l1);
        if (acp_page_count(p) != 2 || !same(d0, l0, SESS1) || !same(d1, l1, SESS2) ||
            !acp_page_next_cursor(p))
            st = wrong("list_sessions returned %s", "the wrong page");
    }
    (void)m;
    acp_page_free(p);
    return st;
}

static acp_status st_delete_r1(acp_store *s, model *m, acp_error *e)
{
    acp_status st = acp_run_delete(s, "r1", e);
    if (st == ACP_OK) {
        m->r1 = NULL;
        m->nev = 0;
    }
    return st;
}

static acp_status st_delete_s1(acp_store *s, model *m, acp_error *e)
{
    acp_status st = acp_session_delete(s, "s1", e);
    if (st == ACP_OK)
        m->s1 = 0;
    return st;
}

static acp_status st_ping(acp_store *s, model *m, acp_error *e)
{
    (void)m;
    return acp_store_ping(s, e);
}

static const struct step {
    const char *name;
    step_fn fn;
} steps[] = {
    {"save_run", st_save_r1},         {"save_run r2", st_save_r2},
    {"get_run", st_get_r1},           {"save_run update", st_update_r1},
    {"list_runs", st_list_runs},      {"add_event", st_add_event},
    {"add_event 2", st_add_event},    {"get_events", st_get_events},
    {"save_session", st_save_s1},     {"save_session s2", st_save_s2},
    {"get_session", st_get_s1},       {"list_sessions", st_list_sessions},
    {"delete_run", st_delete_r1},     {"delete_session", st_delete_s1},
    {"ping", st_ping},
};
#define N_STEPS (sizeof steps / sizeof steps[0])
/* Pseudo-steps for the summary. */
#define STEP_OPEN N_STEPS
#define STEP_CLOSE (N_STEPS + 1)
#define STEP_REOPEN (N_STEPS + 2)
#define N_NAMES (N_STEPS + 3)

static const char *step_name(size_t i)
{
    return i == STEP_OPEN ? "open" : i == STEP_CLOSE ? "close"
                                   : i == STEP_REOPEN ? "reopen" : steps[i].name;
}

/* ---- one child ---------------------------------------------------------------------- */

static const char *backend;
static int durable;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void store_uri(char *uri, size_t size, const char *dir)
{
    if (strcmp(backend, "memory") == 0)
        snprintf(uri, size, "memory:");
    else if (strcmp(backend, "sqlite") == 0)
        snprintf(uri, size, "sqlite://%s/a.db", dir);
    else
        snprintf(uri, size, "file://%s/store?sync=none", dir);
}

static int has_memory_words(const char *msg)
{
    return strstr(msg, "memory") || strstr(msg, "Memory") || strstr(msg, "allocate");
}

/* Open, fault or not.  Returns 0 with *s open, or -1 (what_failed set). */
static int open_store(const char *uri, acp_store **s, alloc_report *r, size_t step)
{
    acp_error e = {0};
    unsigned long before = failmalloc_failures();
    acp_status st = acp_store_open(uri, s, &e);
    if (failmalloc_failures() == before) {
        if (st != ACP_OK)
            return bad("open %s: %s (%s) with no allocation failure", uri, acp_status_name(st),
                       e.message);
        return 0;
    }
    failmalloc_disarm();
    r->step = (int)step;
    r->status = (int)st;
    if (st == ACP_OK)
        return 0; /* absorbed: what the store holds is checked next */
    if (st != ACP_NOMEM && st != ACP_LOAD)
        return bad("open under allocation failure: %s (%s), expected NOMEM or LOAD",
                   acp_status_name(st), e.message);
    /* NOMEM says so.  LOAD passes on what dlopen said, which under memory
     * pressure is not always about memory ("cannot open shared object
     * file"), but it must name the plugin file. */
    if (st == ACP_NOMEM ? !has_memory_words(e.message) : !strstr(e.message, "libacp_storage_"))
        return bad("open under allocation failure: %s with message \"%s\" (should say %s)",
                   acp_status_name(st), e.message,
                   st == ACP_NOMEM ? "out of memory" : "which plugin file");
    st = acp_store_open(uri, s, &e);
    if (st != ACP_OK)
        return bad("open after a failed open: %s (%s)", acp_status_name(st), e.message);
    return 0;
}

/* The whole sequence; arms at n unless n == 0.  Returns 0 or -1. */
static int sequence(const char *uri, unsigned long n, int persistent, alloc_report *r)
{
    model m = {0};
    acp_store *s = NULL;
    acp_error e;

    if (n)
        failmalloc_arm(n, persistent);
    if (open_store(uri, &s, r, STEP_OPEN) != 0)
        return -1;
    if (durable && open_store(uri, &peer, r, STEP_OPEN) != 0)
        return close_store(s), -1;
    if (r->step >= 0 && check_store(s, &m) != 0)
        return close_store(s), -1;
    for (size_t i = 0; i < N_STEPS; i++) {
        model before = m;
        unsigned long f0 = failmalloc_failures();
        memset(&e, 0, sizeof e);
        acp_status st = steps[i].fn(s, &m, &e);
        if (failmalloc_failures() == f0 || r->step >= 0) {
            if (st != ACP_OK) {
                if (!what_failed[0])
                    bad("%s: %s (%s) with no allocation failure", steps[i].name,
                        acp_status_name(st), e.message);
                failmalloc_disarm();
                close_store(s);
                return -1;
            }
            continue;
        }
        /* This call met the failure. */
        failmalloc_disarm();
        r->step = (int)i;
        r->status = (int)st;
        if (st == ACP_OK) { /* absorbed: the result was checked, now the store */
            if (check_store(s, &m) != 0)
                return close_store(s), -1;
            continue;
        }
        if (st != ACP_NOMEM) {
            if (!what_failed[0])
                bad("%s under allocation failure: %s (%s), expected NOMEM", steps[i].name,
                    acp_status_name(st), e.message);
            close_store(s);
            return -1;
        }
        if (!has_memory_words(e.message)) {
            bad("%s under allocation failure: NOMEM with message \"%s\" (should say out of "
                "memory)", steps[i].name, e.message);
            close_store(s);
            return -1;
        }
        /* A failed call changed nothing... */
        m = before;
        if (check_store(s, &m) != 0) {
            char detail[sizeof what_failed];
            snprintf(detail, sizeof detail, "%s", what_failed);
            bad("after %s failed with NOMEM (%s), the store changed: %s", steps[i].name,
                e.message, detail);
            close_store(s);
            return -1;
        }
        /* ...and the store still works: the same call succeeds now. */
        memset(&e, 0, sizeof e);
        if ((st = steps[i].fn(s, &m, &e)) != ACP_OK) {
            if (!what_failed[0])
                bad("%s retried after NOMEM: %s (%s)", steps[i].name, acp_status_name(st),
                    e.message);
            close_store(s);
            return -1;
        }
        if (check_store(s, &m) != 0)
            return close_store(s), -1;
    }
    unsigned long f0 = failmalloc_failures();
    close_store(s);
    if (r->step < 0 && failmalloc_failures() != f0) {
        r->step = (int)STEP_CLOSE;
        r->status = ACP_OK;
    }
    if (durable) {
        /* Open the store again, still armed if the failure was not met yet:
         * opening a store that holds data has failure points of its own.
         * Then everything that reached the disk must be the model, whole. */
        if (open_store(uri, &s, r, STEP_REOPEN) != 0)
            return -1;
        failmalloc_disarm();
        int rc = check_store(s, &m);
        acp_store_close(s);
        if (rc != 0) {
            char detail[sizeof what_failed];
            snprintf(detail, sizeof detail, "%s", what_failed);
            return bad("after reopening: %s", detail);
        }
    }
    failmalloc_disarm();
    return 0;
}

/* Every store lives under one directory that main() removes at the end,
 * also what a crashed child left behind; on tmpfs when there is one, since
 * thousands of stores are made and the backends flush what they write. */
static char base_dir[64];

static const char *tmp_base(void)
{
    return base_dir;
}

static int child(unsigned long n, int persistent, int warm, alloc_report *rep)
{
    alloc_report r = {-1, 0};
    char dir[128], uri[256]; /* base_dir (< 64) + "/store-XXXXXX" fits */
    int rc = 0;

    snprintf(dir, sizeof dir, "%s/store-XXXXXX", tmp_base());
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    store_uri(uri, sizeof uri, dir);
    long live0 = failmalloc_live();
    if (sequence(uri, n, persistent, &r) != 0) {
        failmalloc_disarm();
        fprintf(stderr, "alloc_%s: n=%lu %s %s: %s\n", backend, n, warm ? "warm" : "cold",
                persistent ? "persistent" : "once", what_failed);
        rc = 1;
    }
    failmalloc_disarm();
    /* Durable stores were reopened above, which allocates and frees the
     * same; the counts must match either way. */
    long live1 = failmalloc_live();
    if (rc == 0 && warm && live1 != live0) {
        fprintf(stderr, "alloc_%s: n=%lu warm %s: %ld block(s) leaked (failure met in %s)\n",
                backend, n, persistent ? "persistent" : "once", live1 - live0,
                r.step >= 0 ? step_name((size_t)r.step) : "nothing");
        rc = 1;
    }
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    *rep = r;
    if (rc)
        return rc;
    return r.step >= 0 ? ALLOC_REACHED : 0;
}

/* ---- the driver ------------------------------------------------------------------- */

/* Allocations that loading the plugin adds to the first open in a process:
 * a child counts the calls of a cold open and of a second, warm one. */
static int count_child(unsigned long n, int persistent, int warm, alloc_report *r)
{
    char dir[128], sub[144], uri[256];
    acp_store *s;
    unsigned long cold, hot;
    (void)n, (void)persistent, (void)warm;
    snprintf(dir, sizeof dir, "%s/store-XXXXXX", tmp_base());
    if (!mkdtemp(dir))
        return 1;
    /* Two fresh stores, so that both opens create one. */
    snprintf(sub, sizeof sub, "%s/1", dir);
    store_uri(uri, sizeof uri, sub);
    if (mkdir(sub, 0700) != 0)
        return 1;
    failmalloc_arm(ULONG_MAX, 0); /* counts, never fails */
    if (acp_store_open(uri, &s, NULL) != ACP_OK)
        return 1;
    cold = failmalloc_calls();
    acp_store_close(s);
    snprintf(sub, sizeof sub, "%s/2", dir);
    store_uri(uri, sizeof uri, sub);
    if (mkdir(sub, 0700) != 0)
        return 1;
    failmalloc_arm(ULONG_MAX, 0);
    if (acp_store_open(uri, &s, NULL) != ACP_OK)
        return 1;
    hot = failmalloc_calls();
    acp_store_close(s);
    failmalloc_disarm();
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    printf("loading the plugin and its first open take %lu allocations, a later open %lu\n",
           cold - hot, hot);
    r->step = (int)(cold - hot);
    return ALLOC_REACHED;
}

static int warm_up(void)
{
    char dir[128], uri[256]; /* base_dir (< 64) + "/store-XXXXXX" fits */
    alloc_report r = {-1, 0};
    snprintf(dir, sizeof dir, "%s/store-XXXXXX", tmp_base());
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return -1;
    }
    store_uri(uri, sizeof uri, dir);
    int rc = sequence(uri, 0, 0, &r);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (rc != 0)
        fprintf(stderr, "alloc_%s: the sequence fails without any allocation failure: %s\n",
                backend, what_failed);
    return rc;
}

static unsigned long load_allocations(void)
{
    int fds[2];
    alloc_report r = {-1, 0};
    if (pipe(fds) != 0)
        return 0;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        int rc = count_child(0, 0, 0, &r);
        exit(write(fds[1], &r, sizeof r) == (ssize_t)sizeof r ? rc : 1);
    }
    close(fds[1]);
    if (pid < 0 || read(fds[0], &r, sizeof r) != (ssize_t)sizeof r)
        r.step = 0;
    close(fds[0]);
    while (pid > 0 && waitpid(pid, NULL, 0) < 0)
        ;
    return r.step > 0 ? (unsigned long)r.step : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "memory") && strcmp(argv[1], "sqlite") &&
                     strcmp(argv[1], "file"))) {
        fprintf(stderr, "usage: alloc_store memory|sqlite|file [--every K] [--open-every K]\n");
        return 2;
    }
    backend = argv[1];
    durable = strcmp(backend, "memory") != 0;
    snprintf(base_dir, sizeof base_dir, "%s/acp-alloc-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(base_dir)) {
        perror("mkdtemp");
        return 1;
    }
    char test[32];
    snprintf(test, sizeof test, "alloc_%s", backend);
    const char *names[N_NAMES];
    for (size_t i = 0; i < N_NAMES; i++)
        names[i] = step_name(i);
    unsigned long load = load_allocations();
    if (!load) {
        fprintf(stderr, "%s: cannot open a %s store without allocation failures\n", test,
                backend);
        nftw(base_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        return 1;
    }
    /* Cold passes cover loading the plugin and what its first open sets up
     * once per process (SQLite's own initialisation, for one); the rest of
     * open is the same as in the warm passes. */
    unsigned long failed = 0, points = 0;
    unsigned long every = alloc_stride(argc, argv, "--every", "ACP_ALLOC_EVERY");
    unsigned long open_every = alloc_stride(argc, argv, "--open-every", "ACP_ALLOC_OPEN_EVERY");
    /* Cold passes first, while this process has loaded nothing; then the
     * whole sequence once, unarmed, so that every child of the warm passes
     * starts with the plugin loaded and SQLite and libc set up. */
    for (int warm = 0; warm <= 1; warm++) {
        if (warm && warm_up() != 0) {
            nftw(base_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
            return 1;
        }
        for (int persistent = 0; persistent <= 1; persistent++) {
            alloc_pass p = {.test = test, .warm = warm, .persistent = persistent,
                            .last = warm ? 0 : 2 * load + 32, .every = every,
                            .sparse_step = {(int)STEP_OPEN, (int)STEP_REOPEN},
                            .sparse_every = warm ? open_every : 1,
                            .step_names = names, .n_steps = N_NAMES, .child = child};
            failed += alloc_run_pass(&p, &points);
        }
    }
    nftw(base_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    printf("%s: %lu allocation failure points in all, %lu finding(s)\n", test, points, failed);
    return failed ? 1 : 0;
}
