/* SPDX-License-Identifier: MIT */
/*
 * check.h - what every conformance check uses (internal to conformance/).
 *
 * A check is `CONFORMANCE_CHECK(name) { ... return T_PASS; }`.  It opens its
 * store with OPEN() and states expectations with CHECK(cond, fmt, ...),
 * CHECK_OK(call) and CHECK_STATUS(want, call); the first unmet one records
 * "file:line: message" and returns from the check.  Calls pass ERR as their
 * acp_error so that failure text carries the library's message.
 *
 * Everything a check allocates goes through t_keep() (or a helper that
 * uses it), and every store through t_open(): the runner frees and closes
 * them after the check returns, also when it returned early on a failure.
 */
#ifndef ACP_CONFORMANCE_CHECK_H
#define ACP_CONFORMANCE_CHECK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "acp_conformance.h"
#include "acp_storage.h"
#include "acp_storage_plugin.h" /* ACP_CAP_* */

#define T_PASS ACP_CONFORMANCE_PASS
#define T_FAIL ACP_CONFORMANCE_FAIL
#define T_SKIP ACP_CONFORMANCE_SKIP

typedef struct t_keep_item {
    void *ptr;
    void (*release)(void *);
} t_keep_item;

typedef struct t_ctx {
    const acp_conformance_target *target;
    const char *dir;      /* this check's temporary directory */
    char *uri;            /* the target's URI with {dir} replaced */
    acp_store *store;     /* the store opened by OPEN() */
    acp_store **handles;  /* every store opened by t_open(), to close */
    size_t n_handles, cap_handles;
    t_keep_item *keep;    /* everything to release after the check */
    size_t n_keep, cap_keep;
    acp_error err;        /* ERR: the error of the latest checked call */
    int lists_sessions;   /* t_lists_sessions(): 0 not asked yet, 1 yes, -1 no */
    char *msg;
    size_t msgsz;
} t_ctx;

#define CONFORMANCE_CHECK(name) int acp_conf_check_##name(t_ctx *c)

#define ACP_CONFORMANCE_CHECK(name, description) CONFORMANCE_CHECK(name);
#include "acp_conformance_checks.def"
#undef ACP_CONFORMANCE_CHECK

/* ---- recording results ---- */

int t_fail(t_ctx *c, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int t_skip(t_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int t_fail_status(t_ctx *c, const char *file, int line, const char *call, acp_status got,
                  acp_status want);
/* Prepare ERR for the next call: a code and message no call produces. */
void t_err_reset(t_ctx *c);

#define ERR (&c->err)
#define S (c->store)

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond))                                                                       \
            return t_fail(c, __FILE__, __LINE__, __VA_ARGS__);                             \
    } while (0)

#define CHECK_STATUS(want, call)                                                           \
    do {                                                                                   \
        t_err_reset(c);                                                                    \
        acp_status s_ = (call);                                                            \
        if (s_ != (want))                                                                  \
            return t_fail_status(c, __FILE__, __LINE__, #call, s_, (want));                \
    } while (0)

/* Spelled out rather than CHECK_STATUS(ACP_OK, call), so that the message
 * shows the call as written, not macro-expanded. */
#define CHECK_OK(call)                                                                     \
    do {                                                                                   \
        t_err_reset(c);                                                                    \
        acp_status s_ = (call);                                                            \
        if (s_ != ACP_OK)                                                                  \
            return t_fail_status(c, __FILE__, __LINE__, #call, s_, ACP_OK);                \
    } while (0)

/* Run a helper that returns 0 or a check result, and pass failures on. */
#define CHECK_RESULT(expr)                                                                 \
    do {                                                                                   \
        int r_ = (expr);                                                                   \
        if (r_ != 0)                                                                       \
            return r_;                                                                     \
    } while (0)

#define SKIP_UNLESS(cond, ...)                                                             \
    do {                                                                                   \
        if (!(cond))                                                                       \
            return t_skip(c, __VA_ARGS__);                                                 \
    } while (0)

/* ---- stores ---- */

/* Open a new handle on the target store (closed by the runner). */
acp_status t_open(t_ctx *c, acp_store **out, acp_error *err);
/* Close a handle opened by t_open() now. */
void t_close(t_ctx *c, acp_store *store);

#define OPEN() CHECK_OK(t_open(c, &c->store, ERR))
#define REOPEN()                                                                           \
    do {                                                                                   \
        t_close(c, c->store);                                                              \
        c->store = NULL;                                                                   \
        OPEN();                                                                            \
    } while (0)
#define CAPS() acp_store_capabilities(c->store)

/* ---- memory ---- */

/* Remember p (not NULL) to be released with release(p) after the check. */
void *t_keep(t_ctx *c, void *p, void (*release)(void *));
/* Release p now (it must have been kept). */
void t_release(t_ctx *c, void *p);
void t_free_page(void *page);
/* malloc/strdup/printf whose result is kept; they abort on exhaustion, as a
 * test harness cannot go on without memory. */
void *t_alloc(t_ctx *c, size_t n);
char *t_strdup(t_ctx *c, const char *s);
char *t_printf(t_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- reading results (each keeps what it returns) ---- */

#define GET_RUN(id, json, len)                                                             \
    do {                                                                                   \
        CHECK_OK(acp_run_get(S, (id), &(json), &(len), ERR));                              \
        t_keep(c, (json), acp_free);                                                       \
    } while (0)
#define GET_SESSION(id, json, len)                                                         \
    do {                                                                                   \
        CHECK_OK(acp_session_get(S, (id), &(json), &(len), ERR));                          \
        t_keep(c, (json), acp_free);                                                       \
    } while (0)
#define LIST_RUNS(page, filter)                                                            \
    do {                                                                                   \
        CHECK_OK(acp_run_list(S, (filter), &(page), ERR));                                 \
        t_keep(c, (page), t_free_page);                                                    \
    } while (0)
#define LIST_EVENTS(page, run_id, filter)                                                  \
    do {                                                                                   \
        CHECK_OK(acp_event_list(S, (run_id), (filter), &(page), ERR));                     \
        t_keep(c, (page), t_free_page);                                                    \
    } while (0)
/* Optional methods.  A plugin may leave list_sessions out (optional since
 * ABI 1.1): a check about it is skipped, a check that lists sessions only
 * to see what else it stored skips that look (and CHECK_SESSIONS gets each
 * wanted session instead). */
int t_lists_sessions(t_ctx *c);
#define NO_LIST_SESSIONS                                                                   \
    "the plugin has no list_sessions (an optional method since plugin ABI 1.1)"
#define SKIP_UNLESS_LISTS_SESSIONS() SKIP_UNLESS(t_lists_sessions(c), NO_LIST_SESSIONS)

#define LIST_SESSIONS(page, after, limit)                                                  \
    do {                                                                                   \
        CHECK_OK(acp_session_list(S, (after), (limit), &(page), ERR));                     \
        t_keep(c, (page), t_free_page);                                                    \
    } while (0)

/* ---- documents ---- */

/* s as a JSON string literal (quotes, escapes for '"', '\\' and controls;
 * other bytes as they are). */
char *t_json_str(t_ctx *c, const char *s);
/* A compact run document; session and created may be NULL (left out). */
char *t_run_doc(t_ctx *c, const char *run_id, const char *agent, const char *session,
                const char *created);
/* A compact session document {"id":...,"history":[],"state":<state_json>}. */
char *t_session_doc(t_ctx *c, const char *id, const char *state_json);
/* RFC 3339 UTC text with microseconds for us since the epoch. */
char *t_time(t_ctx *c, int64_t us);
/* Wall clock, microseconds since the epoch. */
int64_t t_now_us(void);
void t_sleep_ms(int ms);

/* 2025-06-01T12:00:00Z, a base for test times. */
#define T_BASE_US INT64_C(1748779200000000)
#define T_SEC INT64_C(1000000)

/* 0 if got[0..glen) equals want[0..wlen), else a failure that shows where
 * they first differ. */
int t_same(t_ctx *c, const char *file, int line, const char *what, const char *got,
           size_t glen, const char *want, size_t wlen);
#define CHECK_SAME(what, got, glen, want, wlen)                                            \
    CHECK_RESULT(t_same(c, __FILE__, __LINE__, (what), (got), (glen), (want), (wlen)))
#define CHECK_SAME_STR(what, got, glen, want)                                              \
    CHECK_SAME((what), (got), (glen), (want), strlen(want))

/* List runs matching agent/session (NULL: any) with limit 1000 and the
 * total, and compare the keys with ids[0..n) in order and the total with n. */
int t_check_list(t_ctx *c, const char *file, int line, const char *agent,
                 const char *session, const char *const *ids, size_t n);
#define CHECK_LIST(agent, session, ids, n)                                                 \
    CHECK_RESULT(t_check_list(c, __FILE__, __LINE__, (agent), (session), (ids), (n)))

/* Total of runs matching agent/session (NULL: any). */
int t_count_runs(t_ctx *c, const char *file, int line, const char *agent,
                 const char *session, int64_t *total);
#define COUNT_RUNS(agent, session, total)                                                  \
    CHECK_RESULT(t_count_runs(c, __FILE__, __LINE__, (agent), (session), &(total)))

/* Number of events of run_id (pages through all of them). */
int t_count_events(t_ctx *c, const char *file, int line, const char *run_id, int64_t *n);
#define COUNT_EVENTS(run_id, n) CHECK_RESULT(t_count_events(c, __FILE__, __LINE__, (run_id), &(n)))

/* Walk list_sessions from after (NULL: the start) with limit, following the
 * next cursors, and compare the keys with want[0..n) in order. */
int t_check_sessions(t_ctx *c, const char *file, int line, const char *after,
                     const char *const *want, size_t n, int64_t limit);
#define CHECK_SESSIONS(after, want, n, limit)                                              \
    CHECK_RESULT(t_check_sessions(c, __FILE__, __LINE__, (after), (want), (n), (limit)))

/* qsort comparison of two `const char *`, byte-wise. */
int t_by_bytes(const void *a, const void *b);

/* ---- threads ---- */

/* Start n threads running fn(args + i*argsz) and join them all.
 * Returns 0, or the error number of a failed pthread_create (the threads
 * already started are joined). */
int t_threads(size_t n, void *(*fn)(void *), void *args, size_t argsz);

/* Shared first-failure record for threads: threads cannot return from the
 * check, so they record the first failure here and stop. */
typedef struct t_thread_fail {
    pthread_mutex_t lock;
    int failed;
    char msg[1536];
} t_thread_fail;
void t_thread_fail_init(t_thread_fail *f);
void t_thread_fail_destroy(t_thread_fail *f);
void t_thread_failf(t_thread_fail *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int t_thread_failed(t_thread_fail *f);

#endif /* ACP_CONFORMANCE_CHECK_H */
