/* SPDX-License-Identifier: MIT */
/*
 * fault_test.c - every write, flush, rename and open an operation makes,
 * failed in turn (failio.c), must give IO with the system's reason and
 * leave a store that is whole and works again.
 *
 *   fault_test --failio /path/libfailio.so --store URI-TEMPLATE
 *              [--calls write,fsync,rename,open] [--errno ENOSPC,EIO]
 *              [--ops NAME,...] [--short] [--sticky] [--verbose]
 *
 * The program re-executes itself with LD_PRELOAD=libfailio.so when it does
 * not run under it.  The operations: save_run of a new and of an existing
 * run, add_event to a stream and to a new one, save_session new and
 * existing, delete_run, delete_session, opening a store and creating one.
 * For each it first counts, in a fresh child process, how many calls of
 * each kind the operation makes on the store's files; then for each kind,
 * each n from 1 to that count and each errno it runs the operation again
 * in a fresh child with the n-th call failing (with --short also after a
 * short write, with --sticky also with every later call failing):
 *
 *  - the operation returns OK (the store absorbed the fault) or IO, and an
 *    IO message names the reason ("No space left on device",
 *    "Input/output error"); nothing else (UNAVAILABLE, CORRUPT, ...);
 *  - with the fault gone, on the same handle: every earlier write is
 *    intact, the failed write is there whole or not at all (and there when
 *    the call returned OK), list_runs totals (all, per agent, per session)
 *    and list_sessions agree with get;
 *  - the same operation then succeeds, and the store reopens (no repair
 *    step) with the same contents; a handle that opened despite a fault
 *    can write, and a store whose creation failed can be created again.
 *
 * "{dir}" in the template is replaced by a fresh directory per child;
 * failio only touches files under the parent of those directories.
 * A plain C program (no Criterion), so it runs in every build but the
 * sanitizer ones (an ASan runtime refuses LD_PRELOAD).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "acp_storage.h"
#include "failio.h"

static failio_set_dir_fn fi_set_dir;
static failio_arm_fn fi_arm;
static failio_disarm_fn fi_disarm;
static failio_count_fn fi_count;
static failio_fired_fn fi_fired;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fault_test: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* ------------------------------------------------------------------ */
/* The store's contents                                                 */
/* ------------------------------------------------------------------ */

#define NR 5  /* runs */
#define NS 4  /* sessions */
#define NE 16 /* events per run, at most */

static const char *const run_ids[NR] = {"base-0", "base-1", "base-2", "base-3",
                                        "new run/\xc3\xa9"};
static const char *const sess_ids[NS] = {"S-0", "S-1", "S-2", "S new/\xc3\xa9"};

typedef struct rdoc {
    const char *json;
    const char *agent;
    const char *session; /* NULL: none */
} rdoc;

/* base versions, and the versions the operations write */
static rdoc run_v1[NR], run_v2_r1;
static char pad[5001];
static char docbuf[NR + 1][6000];

static const char *const ev_docs[] = {
    "{\"type\":\"message.part\",\"i\":1}", "{\"type\":\"message.part\",\"i\":2}",
    "{\"type\":\"message.part\",\"i\":3}", "{\"type\":\"run.completed\",\"i\":4}"};
static const char *const new_event = "{\"type\":\"fault.event\",\"note\":\"the one added\"}";
static const char *const sess_v1[NS] = {"{\"id\":\"S-0\",\"state\":0,\"history\":[]}",
                                        "{\"id\":\"S-1\",\"state\":{\"n\":1},\"history\":[]}",
                                        "{\"id\":\"S-2\",\"state\":null,\"history\":[]}", NULL};
static const char *const sess_s1_v2 =
    "{\"id\":\"S-1\",\"state\":{\"n\":2,\"more\":[1,2,3]},\"history\":[\"https://x.test/1\"]}";
static const char *const sess_new = "{\"id\":\"S new/\xc3\xa9\",\"state\":false,\"history\":[]}";

static const rdoc *mkrun(int i, const char *id, const char *agent, const char *session,
                         const char *extra)
{
    rdoc *d = i < NR ? &run_v1[i] : &run_v2_r1;
    char sess[64];
    if (session)
        snprintf(sess, sizeof sess, "\"%s\"", session);
    else
        snprintf(sess, sizeof sess, "null");
    snprintf(docbuf[i], sizeof docbuf[i],
             "{\"run_id\":\"%s\",\"agent_name\":\"%s\",\"session_id\":%s,\"status\":\"created\","
             "\"created_at\":\"2025-06-01T12:00:0%d.000001Z\",\"output\":[]%s}",
             id, agent, sess, i, extra);
    d->json = docbuf[i];
    d->agent = agent;
    d->session = session;
    return d;
}

static void make_docs(void)
{
    memset(pad, 'p', sizeof pad - 1);
    mkrun(0, run_ids[0], "agent-a", "S-0", "");
    mkrun(1, run_ids[1], "agent-b", "S-1", "");
    mkrun(2, run_ids[2], "agent-a", NULL, "");
    mkrun(3, run_ids[3], "agent-b", "S-0", "");
    mkrun(4, run_ids[4], "agent-a", "S-1", "");
    /* The update moves base-1 to the other agent and session, and is
     * large, so that a torn write would show. */
    char extra[5100];
    snprintf(extra, sizeof extra, ",\"pad\":\"%s\"", pad);
    mkrun(NR, run_ids[1], "agent-a", "S-0", extra);
}

typedef struct state {
    const rdoc *run[NR]; /* NULL: absent */
    int nev[NR];
    const char *ev[NR][NE];
    const char *sess[NS];
} state;

static void base_state(state *s)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < 4; i++)
        s->run[i] = &run_v1[i];
    s->nev[0] = 3;
    s->nev[1] = 2;
    for (int i = 0; i < 3; i++)
        s->ev[0][i] = ev_docs[i];
    for (int i = 0; i < 2; i++)
        s->ev[1][i] = ev_docs[i];
    for (int i = 0; i < 3; i++)
        s->sess[i] = sess_v1[i];
}

/* ------------------------------------------------------------------ */
/* Operations                                                           */
/* ------------------------------------------------------------------ */

enum {
    OP_SAVE_RUN_NEW,
    OP_SAVE_RUN_UPDATE,
    OP_ADD_EVENT,
    OP_ADD_EVENT_NEW,
    OP_SAVE_SESSION_NEW,
    OP_SAVE_SESSION_UPDATE,
    OP_DELETE_RUN,
    OP_DELETE_SESSION,
    OP_OPEN,
    OP_CREATE,
    OP_N
};
static const char *const op_names[OP_N] = {
    "save_run_new",         "save_run_update", "add_event",      "add_event_new",
    "save_session_new",     "save_session_update", "delete_run", "delete_session",
    "open",                 "create"};

/* What the store holds after op on top of s. */
static void apply(int op, state *s)
{
    switch (op) {
    case OP_SAVE_RUN_NEW:
        s->run[4] = &run_v1[4];
        break;
    case OP_SAVE_RUN_UPDATE:
        s->run[1] = &run_v2_r1;
        break;
    case OP_ADD_EVENT:
        s->ev[0][s->nev[0]++] = new_event;
        break;
    case OP_ADD_EVENT_NEW:
        s->ev[2][s->nev[2]++] = new_event;
        break;
    case OP_SAVE_SESSION_NEW:
        s->sess[3] = sess_new;
        break;
    case OP_SAVE_SESSION_UPDATE:
        s->sess[1] = sess_s1_v2;
        break;
    case OP_DELETE_RUN:
        s->run[0] = NULL;
        s->nev[0] = 0;
        break;
    case OP_DELETE_SESSION:
        s->sess[0] = NULL;
        break;
    default:
        break;
    }
}

/* Run op on store; *seq gets add_event's sequence. */
static acp_status do_op(acp_store *st, int op, int64_t *seq, acp_error *e)
{
    *seq = 0;
    switch (op) {
    case OP_SAVE_RUN_NEW:
        return acp_run_save(st, run_v1[4].json, ACP_STRLEN, e);
    case OP_SAVE_RUN_UPDATE:
        return acp_run_save(st, run_v2_r1.json, ACP_STRLEN, e);
    case OP_ADD_EVENT:
        return acp_event_add(st, run_ids[0], new_event, ACP_STRLEN, seq, e);
    case OP_ADD_EVENT_NEW:
        return acp_event_add(st, run_ids[2], new_event, ACP_STRLEN, seq, e);
    case OP_SAVE_SESSION_NEW:
        return acp_session_save(st, sess_new, ACP_STRLEN, e);
    case OP_SAVE_SESSION_UPDATE:
        return acp_session_save(st, sess_s1_v2, ACP_STRLEN, e);
    case OP_DELETE_RUN:
        return acp_run_delete(st, run_ids[0], e);
    case OP_DELETE_SESSION:
        return acp_session_delete(st, sess_ids[0], e);
    default:
        return ACP_INVALID;
    }
}

static acp_status populate(acp_store *st, acp_error *e)
{
    acp_status s = ACP_OK;
    for (int i = 0; i < 4 && s == ACP_OK; i++)
        s = acp_run_save(st, run_v1[i].json, ACP_STRLEN, e);
    for (int i = 0; i < 3 && s == ACP_OK; i++)
        s = acp_event_add(st, run_ids[0], ev_docs[i], ACP_STRLEN, NULL, e);
    for (int i = 0; i < 2 && s == ACP_OK; i++)
        s = acp_event_add(st, run_ids[1], ev_docs[i], ACP_STRLEN, NULL, e);
    for (int i = 0; i < 3 && s == ACP_OK; i++)
        s = acp_session_save(st, sess_v1[i], ACP_STRLEN, e);
    return s;
}

/* ------------------------------------------------------------------ */
/* Checking                                                             */
/* ------------------------------------------------------------------ */

static char scenario[160]; /* for messages */
static int failures, reason_failures;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "fault_test: FAIL: %s: ", scenario);                                       \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        failures++;                                                                                \
    } while (0)

/* What the store holds, as far as the known ids go. */
typedef struct actual {
    char *run[NR];
    int nev[NR];
    char *ev[NR][NE];
    char *sess[NS];
    int ok;
} actual;

static void actual_free(actual *a)
{
    for (int i = 0; i < NR; i++) {
        acp_free(a->run[i]);
        for (int j = 0; j < a->nev[i]; j++)
            free(a->ev[i][j]);
    }
    for (int i = 0; i < NS; i++)
        acp_free(a->sess[i]);
    memset(a, 0, sizeof *a);
}

static void read_store(acp_store *st, actual *a, const char *when)
{
    acp_error e;
    memset(a, 0, sizeof *a);
    a->ok = 1;
    for (int i = 0; i < NR; i++) {
        acp_status s = acp_run_get(st, run_ids[i], &a->run[i], NULL, &e);
        if (s != ACP_OK && s != ACP_NOT_FOUND) {
            FAIL("%s: get_run %s: %s: %s", when, run_ids[i], acp_status_name(s), e.message);
            a->ok = 0;
        }
        acp_event_filter f = ACP_EVENT_FILTER_INIT;
        acp_page *p;
        s = acp_event_list(st, run_ids[i], &f, &p, &e);
        if (s != ACP_OK) {
            FAIL("%s: get_events %s: %s: %s", when, run_ids[i], acp_status_name(s), e.message);
            a->ok = 0;
            continue;
        }
        for (size_t j = 0; j < acp_page_count(p) && j < NE; j++) {
            if (acp_page_seq(p, j) != (int64_t)j + 1) {
                FAIL("%s: run %s: event %zu has sequence %" PRId64, when, run_ids[i], j + 1,
                     acp_page_seq(p, j));
                a->ok = 0;
            }
            a->ev[i][a->nev[i]++] = strdup(acp_page_json(p, j, NULL));
        }
        acp_page_free(p);
    }
    for (int i = 0; i < NS; i++) {
        acp_status s = acp_session_get(st, sess_ids[i], &a->sess[i], NULL, &e);
        if (s != ACP_OK && s != ACP_NOT_FOUND) {
            FAIL("%s: get_session %s: %s: %s", when, sess_ids[i], acp_status_name(s),
                 e.message);
            a->ok = 0;
        }
    }
}

static int streq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int matches(const actual *a, const state *s)
{
    for (int i = 0; i < NR; i++) {
        if (!streq(a->run[i], s->run[i] ? s->run[i]->json : NULL) || a->nev[i] != s->nev[i])
            return 0;
        for (int j = 0; j < s->nev[i]; j++)
            if (!streq(a->ev[i][j], s->ev[i][j]))
                return 0;
    }
    for (int i = 0; i < NS; i++)
        if (!streq(a->sess[i], s->sess[i]))
            return 0;
    return 1;
}

/* What differs between a and s, for the message. */
static void diff(const actual *a, const state *s, char *out, size_t outsz)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < NR && n < outsz; i++) {
        if (!streq(a->run[i], s->run[i] ? s->run[i]->json : NULL))
            n += (size_t)snprintf(out + n, outsz - n, " run %s is %.40s%s;", run_ids[i],
                                  a->run[i] ? a->run[i] : "absent",
                                  a->run[i] && strlen(a->run[i]) > 40 ? "..." : "");
        if (n < outsz && a->nev[i] != s->nev[i])
            n += (size_t)snprintf(out + n, outsz - n, " run %s has %d events, not %d;",
                                  run_ids[i], a->nev[i], s->nev[i]);
    }
    for (int i = 0; i < NS && n < outsz; i++)
        if (!streq(a->sess[i], s->sess[i]))
            n += (size_t)snprintf(out + n, outsz - n, " session %s is %.40s;", sess_ids[i],
                                  a->sess[i] ? a->sess[i] : "absent");
}

static int64_t total(acp_store *st, const char *agent, const char *session, const char *when)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    acp_page *p;
    acp_error e;
    f.agent_name = agent;
    f.session_id = session;
    f.limit = 0;
    f.want_total = 1;
    acp_status s = acp_run_list(st, &f, &p, &e);
    if (s != ACP_OK) {
        FAIL("%s: list_runs: %s: %s", when, acp_status_name(s), e.message);
        return -1;
    }
    int64_t t = acp_page_total(p);
    acp_page_free(p);
    return t;
}

/* list_runs totals and list_sessions against the state get showed. */
static void check_lists(acp_store *st, const state *s, const char *when)
{
    static const char *const agents[] = {"agent-a", "agent-b"};
    static const char *const sessions[] = {"S-0", "S-1"};
    int64_t all = 0, by_agent[2] = {0}, by_session[2] = {0};
    for (int i = 0; i < NR; i++) {
        if (!s->run[i])
            continue;
        all++;
        for (int k = 0; k < 2; k++) {
            by_agent[k] += strcmp(s->run[i]->agent, agents[k]) == 0;
            by_session[k] += streq(s->run[i]->session, sessions[k]);
        }
    }
    int64_t t = total(st, NULL, NULL, when);
    if (t >= 0 && t != all)
        FAIL("%s: list_runs total %" PRId64 ", get finds %" PRId64 " runs", when, t, all);
    for (int k = 0; k < 2; k++) {
        t = total(st, agents[k], NULL, when);
        if (t >= 0 && t != by_agent[k])
            FAIL("%s: list_runs agent %s: total %" PRId64 ", get finds %" PRId64, when,
                 agents[k], t, by_agent[k]);
        t = total(st, NULL, sessions[k], when);
        if (t >= 0 && t != by_session[k])
            FAIL("%s: list_runs session %s: total %" PRId64 ", get finds %" PRId64, when,
                 sessions[k], t, by_session[k]);
    }
    acp_page *p;
    acp_error e;
    acp_status rc = acp_session_list(st, NULL, 100, &p, &e);
    if (rc == ACP_UNSUPPORTED)
        return;
    if (rc != ACP_OK) {
        FAIL("%s: list_sessions: %s: %s", when, acp_status_name(rc), e.message);
        return;
    }
    int listed = 0, present = 0;
    for (int i = 0; i < NS; i++)
        present += s->sess[i] != NULL;
    for (size_t j = 0; j < acp_page_count(p); j++) {
        const char *key = acp_page_key(p, j);
        int found = 0;
        for (int i = 0; i < NS; i++)
            if (key && strcmp(key, sess_ids[i]) == 0 && s->sess[i] &&
                strcmp(acp_page_json(p, j, NULL), s->sess[i]) == 0)
                found = 1;
        if (!found)
            FAIL("%s: list_sessions lists %s, which get does not show so", when,
                 key ? key : "(null)");
        listed++;
    }
    if (listed != present)
        FAIL("%s: list_sessions lists %d sessions, get finds %d", when, listed, present);
    acp_page_free(p);
}

/* The store must hold before or after exactly; returns 1 for after, 0 for
 * before, -1 for neither. */
static int check_state(acp_store *st, const state *before, const state *after, const char *when)
{
    actual a;
    read_store(st, &a, when);
    int r = -1;
    if (a.ok) {
        if (matches(&a, after))
            r = 1;
        else if (before && matches(&a, before))
            r = 0;
        if (r < 0) {
            char d[600];
            diff(&a, after, d, sizeof d);
            FAIL("%s: the store is neither as before nor as after the operation:%s", when, d);
        } else {
            check_lists(st, r ? after : before, when);
        }
    }
    actual_free(&a);
    return r;
}

/* ------------------------------------------------------------------ */
/* One scenario, in a child                                             */
/* ------------------------------------------------------------------ */

enum { KIND_WRITE, KIND_FSYNC, KIND_RENAME, KIND_OPEN, KIND_N };
static const char *const kind_names[KIND_N] = {"write", "fsync", "rename", "open"};

typedef struct result {
    int status;
    int failures;
    int reason_failures; /* of failures: a message without the reason */
    long fired;
    long counts[KIND_N];
    char message[ACP_ERROR_MESSAGE_MAX];
} result;

_Static_assert(sizeof(result) <= PIPE_BUF, "one write");

static const char *tmpl;
static char root[PATH_MAX];
static long scenario_no;
static int verbose;

static char *expand(const char *dir)
{
    size_t n = strlen(tmpl) + strlen(dir) * 4 + 1;
    char *out = malloc(n), *o = out;
    if (!out)
        die("out of memory");
    for (const char *p = tmpl; *p;) {
        if (strncmp(p, "{dir}", 5) == 0) {
            o += sprintf(o, "%s", dir);
            p += 5;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

/* Note what the call under the fault did and check its status and
 * message; returns the number of failures found. */
static int record(result *res, acp_status s, const acp_error *e, int err)
{
    int before = failures;
    res->fired = fi_fired();
    for (int k = 0; k < KIND_N; k++)
        res->counts[k] = fi_count(kind_names[k]);
    res->status = s;
    snprintf(res->message, sizeof res->message, "%s", s == ACP_OK ? "" : e->message);
    if (res->fired == 0 && s != ACP_OK)
        FAIL("%s without a fault: %s", acp_status_name(s), e->message);
    else if (s != ACP_OK && s != ACP_IO)
        FAIL("%s, expected IO: %s", acp_status_name(s), e->message);
    else if (s == ACP_IO && !strstr(e->message, strerror(err))) {
        FAIL("the message does not give the reason (\"%s\"): %s", strerror(err), e->message);
        reason_failures++;
    }
    return failures - before;
}

static void run_child(int op, int kind, long nth, int err, int flags, result *res)
{
    char dir[PATH_MAX + 32];
    acp_error e;
    acp_store *st = NULL;
    int64_t seq;
    snprintf(dir, sizeof dir, "%s/s%ld", root, scenario_no);
    if (mkdir(dir, 0700) != 0)
        die("mkdir %s: %s", dir, strerror(errno));
    char *uri = expand(dir);

    state before, after, redone;
    base_state(&before);
    after = before;
    apply(op, &after);

    acp_status s;
    if (op == OP_CREATE) {
        /* The first open, which creates the store, under the fault; then
         * the store must open (no repair step) and take the base data. */
        fi_arm(kind_names[kind], nth, err, flags);
        s = acp_store_open(uri, &st, &e);
        fi_disarm();
        if (!record(res, s, &e, err) && s == ACP_OK)
            acp_store_close(st);
        st = NULL;
        s = acp_store_open(uri, &st, &e);
        if (s != ACP_OK) {
            FAIL("does not open after the fault: %s: %s", acp_status_name(s), e.message);
            goto out;
        }
        s = populate(st, &e);
        if (s != ACP_OK) {
            FAIL("cannot write after the fault: %s: %s", acp_status_name(s), e.message);
            goto out;
        }
        check_state(st, NULL, &before, "created after the fault");
        goto out;
    }
    s = acp_store_open(uri, &st, &e);
    if (s == ACP_OK)
        s = populate(st, &e);
    if (s != ACP_OK) {
        FAIL("setting up the store: %s: %s", acp_status_name(s), e.message);
        goto out;
    }
    if (op == OP_OPEN) {
        acp_store_close(st);
        st = NULL;
    }

    /* nth 0: count every kind, fail nothing. */
    fi_arm(kind_names[kind], nth, err, flags);
    if (op == OP_OPEN)
        s = acp_store_open(uri, &st, &e);
    else
        s = do_op(st, op, &seq, &e);
    fi_disarm();
    record(res, s, &e, err);

    if (op == OP_OPEN) {
        /* A handle that opened despite the fault must be a whole one:
         * reads and writes work once the fault is gone. */
        const state *want_state = &before;
        if (s == ACP_OK) {
            check_state(st, NULL, &before, "opened despite the fault");
            s = do_op(st, OP_SAVE_RUN_NEW, &seq, &e);
            if (s != ACP_OK) {
                FAIL("the handle opened despite the fault cannot write: %s: %s",
                     acp_status_name(s), e.message);
            } else {
                apply(OP_SAVE_RUN_NEW, &after);
                want_state = &after;
                check_state(st, NULL, &after, "opened despite the fault, after a save");
            }
            acp_store_close(st);
        }
        st = NULL;
        s = acp_store_open(uri, &st, &e);
        if (s != ACP_OK) {
            FAIL("does not open after the fault: %s: %s", acp_status_name(s), e.message);
            goto out;
        }
        check_state(st, NULL, want_state, "reopened after the fault");
        goto out;
    }

    int applied = check_state(st, &before, &after, "same handle, after the fault");
    if (applied < 0)
        goto out;
    if (s == ACP_OK && !applied)
        FAIL("the operation returned OK but did not happen");

    /* The same operation, with the fault gone. */
    redone = applied ? after : before;
    apply(op, &redone);
    acp_status want = ACP_OK;
    if (applied && (op == OP_DELETE_RUN || op == OP_DELETE_SESSION))
        want = ACP_NOT_FOUND;
    s = do_op(st, op, &seq, &e);
    if (s != want)
        FAIL("the operation again, without the fault: %s (expected %s): %s", acp_status_name(s),
             acp_status_name(want), s == ACP_OK ? "" : e.message);
    if (s == ACP_OK && (op == OP_ADD_EVENT || op == OP_ADD_EVENT_NEW)) {
        int r = op == OP_ADD_EVENT ? 0 : 2;
        if (seq != redone.nev[r])
            FAIL("add_event again returned sequence %" PRId64 ", expected %d", seq,
                 redone.nev[r]);
    }
    check_state(st, NULL, &redone, "same handle, after the operation again");
    acp_store_close(st);
    st = NULL;

    s = acp_store_open(uri, &st, &e);
    if (s != ACP_OK) {
        FAIL("does not reopen: %s: %s", acp_status_name(s), e.message);
        goto out;
    }
    check_state(st, NULL, &redone, "reopened");
out:
    acp_store_close(st);
    free(uri);
    res->failures = failures;
    res->reason_failures = reason_failures;
}

/* Run one scenario in a fresh process; 0 when it passed. */
static int scenario_run(const char *backend, int op, int kind, long nth, int err, int flags,
                        result *res)
{
    int fds[2];
    scenario_no++;
    if (nth)
        snprintf(scenario, sizeof scenario, "%s %s: %s #%ld %s%s%s", backend, op_names[op],
                 kind_names[kind], nth, err == ENOSPC ? "ENOSPC" : err == EIO ? "EIO" : "errno",
                 flags & FAILIO_SHORT ? " (after a short write)" : "",
                 flags & FAILIO_STICKY ? " (and every later one)" : "");
    else
        snprintf(scenario, sizeof scenario, "%s %s: counting calls", backend, op_names[op]);
    if (pipe(fds) != 0)
        die("pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        result r;
        memset(&r, 0, sizeof r);
        run_child(op, kind, nth, err, flags, &r);
        if (write(fds[1], &r, sizeof r) != (ssize_t)sizeof r)
            _exit(3);
        _exit(r.failures ? 1 : 0);
    }
    close(fds[1]);
    memset(res, 0, sizeof *res);
    ssize_t got = read(fds[0], res, sizeof *res);
    close(fds[0]);
    int wst;
    while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
        ;
    char dir[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/s%ld", root, scenario_no);
    if (got != (ssize_t)sizeof *res || !WIFEXITED(wst) || WEXITSTATUS(wst) > 1) {
        fprintf(stderr, "fault_test: FAIL: %s: the child died (%s %d); its store: %s\n", scenario,
                WIFSIGNALED(wst) ? "signal" : "exit",
                WIFSIGNALED(wst) ? WTERMSIG(wst) : WEXITSTATUS(wst), dir);
        return 1;
    }
    if (verbose)
        printf("  %s: %s%s%s\n", scenario, acp_status_name((acp_status)res->status),
               res->status ? ": " : "", res->message);
    if (res->failures) {
        fprintf(stderr, "fault_test: the store of the failed scenario is kept: %s\n", dir);
        return 1;
    }
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Main                                                                 */
/* ------------------------------------------------------------------ */

static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

static void find_failio(char **argv, const char *lib)
{
    fi_set_dir = (failio_set_dir_fn)dlsym(RTLD_DEFAULT, "failio_set_dir");
    fi_arm = (failio_arm_fn)dlsym(RTLD_DEFAULT, "failio_arm");
    fi_disarm = (failio_disarm_fn)dlsym(RTLD_DEFAULT, "failio_disarm");
    fi_count = (failio_count_fn)dlsym(RTLD_DEFAULT, "failio_count");
    fi_fired = (failio_fired_fn)dlsym(RTLD_DEFAULT, "failio_fired");
    if (fi_set_dir && fi_arm && fi_disarm && fi_count && fi_fired)
        return;
    if (getenv("FAULT_TEST_REEXEC"))
        die("failio is not loaded even with LD_PRELOAD=%s", getenv("LD_PRELOAD"));
    if (!lib)
        die("not running under failio: give --failio /path/to/libfailio.so");
    const char *old = getenv("LD_PRELOAD");
    char *pre = malloc(strlen(lib) + (old ? strlen(old) : 0) + 2);
    if (!pre)
        die("out of memory");
    sprintf(pre, "%s%s%s", lib, old && *old ? ":" : "", old && *old ? old : "");
    setenv("LD_PRELOAD", pre, 1);
    setenv("FAULT_TEST_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
    die("exec /proc/self/exe: %s", strerror(errno));
}

static void usage(void)
{
    fprintf(stderr, "usage: fault_test --failio LIB --store URI-TEMPLATE [--calls write,fsync,"
                    "rename,open]\n"
                    "                  [--errno ENOSPC,EIO] [--ops NAME,...] [--short] [--sticky] "
                    "[--verbose]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *lib = NULL, *calls = "write,fsync,rename,open", *errnos = "ENOSPC,EIO";
    const char *ops = NULL;
    int with_short = 0, with_sticky = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--short") == 0) {
            with_short = 1;
            continue;
        }
        if (strcmp(a, "--sticky") == 0) {
            with_sticky = 1;
            continue;
        }
        if (strcmp(a, "--verbose") == 0) {
            verbose = 1;
            continue;
        }
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (strcmp(a, "--failio") == 0)
            lib = v;
        else if (strcmp(a, "--store") == 0)
            tmpl = v;
        else if (strcmp(a, "--calls") == 0)
            calls = v;
        else if (strcmp(a, "--errno") == 0)
            errnos = v;
        else if (strcmp(a, "--ops") == 0)
            ops = v;
        else
            usage();
    }
    if (!tmpl)
        usage();
    find_failio(argv, lib);
    make_docs();

    snprintf(root, sizeof root, "/tmp/acp-fault-XXXXXX");
    if (!mkdtemp(root))
        die("mkdtemp: %s", strerror(errno));
    if (fi_set_dir(root) != 0)
        die("failio_set_dir %s refused", root);
    const char *backend = tmpl;
    char bname[32];
    snprintf(bname, sizeof bname, "%.*s", (int)strcspn(tmpl, ":"), tmpl);
    backend = bname;

    int errs[2], nerr = 0;
    if (in_list(errnos, "ENOSPC"))
        errs[nerr++] = ENOSPC;
    if (in_list(errnos, "EIO"))
        errs[nerr++] = EIO;
    if (nerr == 0)
        usage();

    time_t t0 = time(NULL);
    long scenarios = 0, injected = 0, reported = 0, absorbed = 0, unfired = 0, failed = 0,
         failed_reason = 0;
    for (int op = 0; op < OP_N; op++) {
        if (ops && !in_list(ops, op_names[op]))
            continue;
        result cnt;
        scenarios++;
        if (scenario_run(backend, op, KIND_WRITE, 0, ENOSPC, 0, &cnt) != 0) {
            failed++;
            continue;
        }
        printf("fault_test: %s %s makes", backend, op_names[op]);
        for (int k = 0; k < KIND_N; k++)
            printf(" %ld %s%s", cnt.counts[k], kind_names[k], k + 1 < KIND_N ? "," : "");
        printf(" call(s) on the store's files\n");
        fflush(stdout);
        for (int k = 0; k < KIND_N; k++) {
            if (!in_list(calls, kind_names[k]))
                continue;
            /* Each mode: once; after a short write (writes only); sticky. */
            int modes[3], nmodes = 0;
            modes[nmodes++] = 0;
            if (with_short && k == KIND_WRITE)
                modes[nmodes++] = FAILIO_SHORT;
            if (with_sticky)
                modes[nmodes++] = FAILIO_STICKY;
            for (int m = 0; m < nmodes; m++)
                for (long n = 1; n <= cnt.counts[k]; n++)
                    for (int x = 0; x < nerr; x++) {
                        result r;
                        scenarios++;
                        if (scenario_run(backend, op, k, n, errs[x], modes[m], &r) != 0) {
                            failed++;
                            if (r.failures > 0 && r.failures == r.reason_failures)
                                failed_reason++;
                        }
                        if (r.fired == 0) {
                            unfired++;
                            continue;
                        }
                        injected += r.fired;
                        if (r.status == ACP_OK)
                            absorbed++;
                        else
                            reported++;
                    }
        }
    }
    printf("fault_test: %s: %ld scenarios, %ld faults injected: %ld reported as IO, %ld absorbed "
           "(the call succeeded and its write was whole), %ld runs where the n-th call did not "
           "come; %ld failed (%ld of them only for a message without the reason); %ld s\n",
           backend, scenarios, injected, reported, absorbed, unfired, failed, failed_reason,
           (long)(time(NULL) - t0));
    if (failed == 0)
        nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return failed ? 1 : 0;
}
