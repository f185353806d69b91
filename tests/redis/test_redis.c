/* SPDX-License-Identifier: MIT */
/*
 * test_redis.c - what only the redis backend promises, against real
 * servers: the fixture server (ACP_REDIS_STATE, started by CTest with
 * redis-server.sh) and, for tests that restart, stop, pause or reconfigure
 * a server, private ones that the test starts itself.
 *
 * The first tests pin the defects of the Ruby backend this one replaces;
 * each of them must stay impossible.
 *
 * No test sets a Criterion .timeout: Criterion 2.4 leaks its timeout entry
 * when workers run in parallel, which fails sanitizer runs; CTest's
 * TIMEOUT bounds the program instead.
 */
#define _GNU_SOURCE

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "acp_storage.h"
#include "acp_storage_plugin.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot read %s: %s", path, strerror(errno));
    char buf[512];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    return strdup(buf);
}

static const char *state_dir(void)
{
    const char *s = getenv("ACP_REDIS_STATE");
    cr_assert(s, "ACP_REDIS_STATE is not set (run through ctest)");
    return s;
}

/* "redis://127.0.0.1:PORT/0" of the fixture server. */
static char *fixture_uri(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/uri", state_dir());
    return slurp(path);
}

static int fixture_port(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/port", state_dir());
    char *p = slurp(path);
    int port = atoi(p);
    free(p);
    return port;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* A prefix no other test (or run) uses: keys of each test stay apart. */
static void unique_prefix(char *out, size_t n)
{
    static unsigned counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(out, n, "t:%ld:%ld:%u:", (long)getpid(), (long)ts.tv_nsec, ++counter);
}

/* Open base_uri with a fresh prefix and extra options ("ttl=1" or ""). */
static acp_store *open_at(const char *base_uri, const char *extra, char *prefix_out)
{
    char prefix[96], uri[1024];
    unique_prefix(prefix, sizeof prefix);
    if (prefix_out)
        strcpy(prefix_out, prefix);
    snprintf(uri, sizeof uri, "%s?prefix=%s%s%s", base_uri, prefix, extra && extra[0] ? "&" : "",
             extra ? extra : "");
    acp_store *s = NULL;
    acp_error err;
    acp_status st = acp_store_open(uri, &s, &err);
    cr_assert_eq(st, ACP_OK, "open %s: %s", uri, err.message);
    return s;
}

static acp_store *open_fx(const char *extra)
{
    char *base = fixture_uri();
    acp_store *s = open_at(base, extra, NULL);
    free(base);
    return s;
}

/* Open a second handle on the same prefix as an earlier one. */
static acp_store *open_prefix(const char *base_uri, const char *prefix, const char *extra)
{
    char uri[1024];
    snprintf(uri, sizeof uri, "%s?prefix=%s%s%s", base_uri, prefix, extra && extra[0] ? "&" : "",
             extra ? extra : "");
    acp_store *s = NULL;
    acp_error err;
    cr_assert_eq(acp_store_open(uri, &s, &err), ACP_OK, "open %s: %s", uri, err.message);
    return s;
}

static void save_run(acp_store *s, const char *id, const char *agent, const char *session,
                     const char *created)
{
    char doc[1024], sess[300] = "null", cr[80] = "";
    if (session)
        snprintf(sess, sizeof sess, "\"%s\"", session);
    if (created)
        snprintf(cr, sizeof cr, ",\"created_at\":\"%s\"", created);
    snprintf(doc, sizeof doc,
             "{\"run_id\":\"%s\",\"agent_name\":\"%s\",\"session_id\":%s,\"status\":\"created\"%s}",
             id, agent, sess, cr);
    acp_error err;
    cr_assert_eq(acp_run_save(s, doc, ACP_STRLEN, &err), ACP_OK, "save %s: %s", id, err.message);
}

static int64_t add_event(acp_store *s, const char *run_id, const char *type)
{
    char doc[256];
    snprintf(doc, sizeof doc, "{\"type\":\"%s\"}", type);
    int64_t seq = 0;
    acp_error err;
    cr_assert_eq(acp_event_add(s, run_id, doc, ACP_STRLEN, &seq, &err), ACP_OK, "add_event: %s",
                 err.message);
    return seq;
}

/* List with filters; returns the page (to free) and checks the status. */
static acp_page *list(acp_store *s, const char *agent, const char *session, int64_t limit)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.agent_name = agent;
    f.session_id = session;
    f.limit = limit;
    f.want_total = 1;
    acp_page *p = NULL;
    acp_error err;
    cr_assert_eq(acp_run_list(s, &f, &p, &err), ACP_OK, "list: %s", err.message);
    return p;
}

/* The keys of a page joined by ',' with its total: "c,b,a/3". */
static char *page_keys(acp_page *p)
{
    static char buf[4096];
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < acp_page_count(p); i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", i ? "," : "", acp_page_key(p, i));
    snprintf(buf + n, sizeof buf - n, "/%" PRId64, acp_page_total(p));
    return buf;
}

static void expect_list(acp_store *s, const char *agent, const char *session, const char *want)
{
    acp_page *p = list(s, agent, session, 100);
    cr_expect_str_eq(page_keys(p), want, "agent=%s session=%s", agent ? agent : "(any)",
                     session ? session : "(any)");
    acp_page_free(p);
}

static redisContext *redis_at(int port)
{
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    cr_assert(c && !c->err, "connect to 127.0.0.1:%d: %s", port, c ? c->errstr : "no memory");
    return c;
}

/* ---- private servers ----
 * Started as children of the test process and reaped by it: a daemon left
 * to the Criterion runner (a child subreaper) would be adopted by it.  The
 * directory lies under the fixture's, whose stop also ends servers a
 * crashed test left behind (their pid file). */

typedef struct server {
    char dir[256];
    int port;
    pid_t pid;
} server;

static void server_dir(server *sv)
{
    snprintf(sv->dir, sizeof sv->dir, "%s/private-XXXXXX", state_dir());
    cr_assert(mkdtemp(sv->dir), "mkdtemp: %s", strerror(errno));
}

static int log_says(const server *sv, const char *what)
{
    char path[300], buf[8192];
    snprintf(path, sizeof path, "%s/redis.log", sv->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, what) != NULL;
}

/* Start redis-server on port (0: a free one) with extra arguments (NULL
 * terminated, may be NULL); returns once it accepts connections. */
static void server_run(server *sv, int port, const char *const *extra)
{
    /* Workers are forks of one runner: seed apart, or they pick alike. */
    static unsigned seed;
    if (!seed)
        seed = (unsigned)getpid() * 2654435761u ^ (unsigned)time(NULL);
    for (int attempt = 0; attempt < 40; attempt++) {
        int p = port ? port : 20000 + (int)(rand_r(&seed) % 40000);
        char ports[16], log[300], pidf[300];
        snprintf(ports, sizeof ports, "%d", p);
        snprintf(log, sizeof log, "%s/redis.log", sv->dir);
        snprintf(pidf, sizeof pidf, "%s/pid", sv->dir);
        const char *argv[64] = {"redis-server", "--bind", "127.0.0.1", "--port", ports, "--dir",
                                sv->dir, "--save", "", "--appendonly", "no", "--daemonize", "no",
                                "--logfile", log};
        int n = 15;
        for (int i = 0; extra && extra[i] && n < 63; i++)
            argv[n++] = extra[i];
        argv[n] = NULL;
        remove(log);
        pid_t pid = fork();
        cr_assert(pid >= 0, "fork: %s", strerror(errno));
        if (pid == 0) {
            int dn = open("/dev/null", O_RDWR);
            dup2(dn, 0), dup2(dn, 1), dup2(dn, 2);
            for (int fd = 3; fd < 1024; fd++)
                close(fd);
            execvp("redis-server", (char *const *)argv);
            _exit(127);
        }
        int status;
        for (int i = 0; i < 400; i++) {
            if (waitpid(pid, &status, WNOHANG) == pid) {
                pid = 0;
                break;
            }
            if (log_says(sv, "Ready to accept connections"))
                break;
            sleep_s(0.025);
        }
        if (pid > 0 && log_says(sv, "Ready to accept connections")) {
            sv->pid = pid;
            sv->port = p;
            FILE *f = fopen(pidf, "w");
            if (f) {
                fprintf(f, "%ld\n", (long)pid);
                fclose(f);
            }
            return;
        }
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
        }
        if (port)
            sleep_s(0.25); /* a restart: the port may still be held a moment */
    }
    cr_assert_fail("redis-server did not start in %s (see redis.log there)", sv->dir);
}

static void server_start(server *sv, const char *const *extra)
{
    server_dir(sv);
    server_run(sv, 0, extra);
}

static void server_stop(server *sv)
{
    if (sv->pid <= 0)
        return;
    kill(sv->pid, SIGCONT);
    kill(sv->pid, SIGTERM);
    int status;
    for (int i = 0; i < 400; i++) {
        if (waitpid(sv->pid, &status, WNOHANG) == sv->pid) {
            sv->pid = 0;
            break;
        }
        sleep_s(0.025);
    }
    if (sv->pid > 0) {
        kill(sv->pid, SIGKILL);
        waitpid(sv->pid, &status, 0);
        sv->pid = 0;
    }
    char pidf[300];
    snprintf(pidf, sizeof pidf, "%s/pid", sv->dir);
    remove(pidf);
}

static void server_restart(server *sv, const char *const *extra)
{
    server_stop(sv);
    server_run(sv, sv->port, extra);
}

static char *server_uri(const server *sv)
{
    char *u = malloc(64);
    snprintf(u, 64, "redis://127.0.0.1:%d/0", sv->port);
    return u;
}

/* ------------------------------------------------------------------ */
/* The defects of the Ruby backend                                      */
/* ------------------------------------------------------------------ */

Test(ruby_defects, list_with_agent_and_session_filters_honours_both)
{
    acp_store *s = open_fx("");
    save_run(s, "r1", "alpha", "s1", "2025-06-01T10:00:01Z");
    save_run(s, "r2", "alpha", "s2", "2025-06-01T10:00:02Z");
    save_run(s, "r3", "beta", "s1", "2025-06-01T10:00:03Z");
    save_run(s, "r4", "alpha", NULL, "2025-06-01T10:00:04Z");
    expect_list(s, "alpha", "s1", "r1/1");
    expect_list(s, "alpha", "s2", "r2/1");
    expect_list(s, "beta", "s1", "r3/1");
    expect_list(s, "beta", "s2", "/0");
    expect_list(s, "alpha", NULL, "r4,r2,r1/3");
    expect_list(s, NULL, "s1", "r3,r1/2");
    expect_list(s, NULL, NULL, "r4,r3,r2,r1/4");
    acp_store_close(s);
}

Test(ruby_defects, changing_agent_or_session_moves_the_run_between_index_sets)
{
    acp_store *s = open_fx("");
    save_run(s, "r1", "alpha", "s1", "2025-06-01T10:00:00Z");
    save_run(s, "r1", "beta", "s1", "2025-06-01T10:00:00Z");
    expect_list(s, "alpha", NULL, "/0");
    expect_list(s, "alpha", "s1", "/0");
    expect_list(s, "beta", "s1", "r1/1");
    save_run(s, "r1", "beta", "s2", "2025-06-01T10:00:00Z");
    expect_list(s, NULL, "s1", "/0");
    expect_list(s, "beta", "s1", "/0");
    expect_list(s, "beta", "s2", "r1/1");
    save_run(s, "r1", "beta", NULL, "2025-06-01T10:00:00Z");
    expect_list(s, NULL, "s2", "/0");
    expect_list(s, "beta", NULL, "r1/1");
    /* A new created_at moves it in the order and leaves no stale entry. */
    save_run(s, "r2", "beta", NULL, "2025-06-01T11:00:00Z");
    save_run(s, "r1", "beta", NULL, "2025-06-01T12:00:00Z");
    expect_list(s, NULL, NULL, "r1,r2/2");
    expect_list(s, "beta", NULL, "r1,r2/2");
    /* Deleting removes it from every index. */
    acp_error err;
    cr_assert_eq(acp_run_delete(s, "r1", &err), ACP_OK, "%s", err.message);
    expect_list(s, "beta", NULL, "r2/1");
    expect_list(s, NULL, NULL, "r2/1");
    acp_store_close(s);
}

Test(ruby_defects, index_entries_expire_with_their_run)
{
    acp_store *s = open_fx("ttl=1");
    save_run(s, "r1", "alpha", "s1", "2025-06-01T10:00:00Z");
    expect_list(s, "alpha", "s1", "r1/1");
    sleep_s(2.1);
    expect_list(s, "alpha", "s1", "/0");
    expect_list(s, "alpha", NULL, "/0");
    expect_list(s, NULL, "s1", "/0");
    expect_list(s, NULL, NULL, "/0");
    acp_store_close(s);
}

Test(ruby_defects, runs_order_by_microseconds_then_run_id_descending)
{
    acp_store *s = open_fx("");
    /* All within one second: whole seconds would tie them all. */
    save_run(s, "a", "x", NULL, "2025-06-01T10:00:00.000001Z");
    save_run(s, "b", "x", NULL, "2025-06-01T10:00:00.000003Z");
    save_run(s, "c", "x", NULL, "2025-06-01T10:00:00.000002Z");
    /* Equal instants: run_id descending, byte-wise (a proper prefix first
     * in ascending order, so last here; 0xc3 above every ASCII byte). */
    save_run(s, "t", "x", NULL, "2025-06-01T10:00:00.000002Z");
    save_run(s, "tt", "x", NULL, "2025-06-01T10:00:00.000002Z");
    save_run(s, "\xc3\xa9", "x", NULL, "2025-06-01T10:00:00.000002Z");
    save_run(s, "T", "x", NULL, "2025-06-01T10:00:00.000002Z");
    expect_list(s, NULL, NULL, "b,\xc3\xa9,tt,t,c,T,a/7");
    expect_list(s, "x", NULL, "b,\xc3\xa9,tt,t,c,T,a/7");
    acp_store_close(s);
}

Test(ruby_defects, runs_order_exactly_where_a_double_would_round)
{
    /* Beyond 2^53 microseconds (after 2255) a double score cannot tell
     * these apart; the byte-encoded instants can. */
    acp_store *s = open_fx("");
    save_run(s, "first", "x", NULL, "9999-12-31T23:59:59.999998Z");
    save_run(s, "a-last", "x", NULL, "9999-12-31T23:59:59.999999Z");
    save_run(s, "z-old", "x", NULL, "1900-01-01T00:00:00.000001Z");
    save_run(s, "y-older", "x", NULL, "1900-01-01T00:00:00Z");
    expect_list(s, NULL, NULL, "a-last,first,z-old,y-older/4");
    acp_page *p = list(s, NULL, NULL, 10);
    acp_error err;
    int64_t want;
    cr_assert_eq(acp_time_parse("9999-12-31T23:59:59.999999Z", ACP_STRLEN, &want, &err), ACP_OK);
    cr_expect_eq(acp_page_time_us(p, 0), want);
    acp_page_free(p);
    acp_store_close(s);
}

Test(ruby_defects, get_events_with_limit_zero_returns_no_events)
{
    acp_store *s = open_fx("");
    for (int i = 0; i < 5; i++)
        add_event(s, "r1", "e");
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    f.limit = 0;
    acp_page *p = NULL;
    acp_error err;
    cr_assert_eq(acp_event_list(s, "r1", &f, &p, &err), ACP_OK, "%s", err.message);
    cr_expect_eq(acp_page_count(p), 0);
    acp_page_free(p);
    f.limit = 2;
    f.offset = 1;
    cr_assert_eq(acp_event_list(s, "r1", &f, &p, &err), ACP_OK, "%s", err.message);
    cr_assert_eq(acp_page_count(p), 2);
    cr_expect_eq(acp_page_seq(p, 0), 2);
    cr_expect_eq(acp_page_seq(p, 1), 3);
    acp_page_free(p);
    acp_store_close(s);
}

/* The plugin itself, without the core in front of it: limit 0 must not
 * mean "everything" (an LRANGE 0 -1). */
struct acp_call {
    int emitted;
    int64_t total;
    acp_status code;
    char message[1024];
};

static int fake_emit(acp_call *c, const acp_item *it)
{
    (void)it;
    c->emitted++;
    return 0;
}
static void fake_total(acp_call *c, int64_t t) { c->total = t; }
static acp_status fake_error(acp_call *c, acp_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->message, sizeof c->message, fmt, ap);
    va_end(ap);
    c->code = code;
    return code;
}
static int64_t fake_remaining(acp_call *c)
{
    (void)c;
    return 5000;
}
static int64_t fake_now(void) { return acp_time_now_us(); }
static void fake_log(int level, const char *plugin, const char *fmt, ...)
{
    (void)level, (void)plugin, (void)fmt;
}

Test(ruby_defects, plugin_get_events_with_limit_zero_emits_nothing)
{
    const char *dir = getenv("ACP_STORAGE_PLUGIN_PATH");
    cr_assert(dir, "ACP_STORAGE_PLUGIN_PATH is not set");
    char so[1024];
    snprintf(so, sizeof so, "%s/libacp_storage_redis.so", dir);
    void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    cr_assert(h, "dlopen %s: %s", so, dlerror());
    const acp_plugin_descriptor *(*entry)(void) =
        (const acp_plugin_descriptor *(*)(void))dlsym(h, "acp_storage_redis_plugin");
    cr_assert(entry);
    const acp_plugin_descriptor *d = entry();
    const acp_backend_vtable *vt = d->vtable;
    /* Designated: members appended to the host table later stay NULL. */
    static const acp_plugin_host host = {.size = sizeof host,
                                         .abi_major = ACP_PLUGIN_ABI_MAJOR,
                                         .abi_minor = ACP_PLUGIN_ABI_MINOR,
                                         .emit = fake_emit,
                                         .set_total = fake_total,
                                         .error = fake_error,
                                         .remaining_ms = fake_remaining,
                                         .now_us = fake_now,
                                         .log = fake_log};
    char authority[64], prefix[96];
    snprintf(authority, sizeof authority, "127.0.0.1:%d", fixture_port());
    unique_prefix(prefix, sizeof prefix);
    acp_plugin_option opt = {"prefix", prefix};
    acp_open_args args = {"redis://...", "redis://...", "redis", "", authority, "/0", &opt, 1};
    acp_call call = {0};
    acp_backend *b = NULL;
    cr_assert_eq(vt->open(&host, &args, &b, &call), ACP_OK, "%s", call.message);
    int64_t seq;
    acp_event_record ev = {"r1", 2, "e", 1, "{\"type\":\"e\"}", 12};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(vt->add_event(b, &ev, &seq, &call), ACP_OK, "%s", call.message);
    cr_assert_eq(seq, 3);
    acp_event_query q = {"r1", 0, 0, 0};
    cr_assert_eq(vt->get_events(b, &q, &call), ACP_OK, "%s", call.message);
    cr_expect_eq(call.emitted, 0, "limit 0 emitted %d events", call.emitted);
    q.limit = 1000;
    cr_assert_eq(vt->get_events(b, &q, &call), ACP_OK, "%s", call.message);
    cr_expect_eq(call.emitted, 3);
    vt->close(b);
}

Test(ruby_defects, deleting_a_run_whose_record_expired_removes_its_events)
{
    char *base = fixture_uri(), prefix[96];
    acp_store *ttl = open_at(base, "ttl=1", prefix);
    save_run(ttl, "r1", "alpha", NULL, NULL);
    add_event(ttl, "r1", "e");
    sleep_s(2.1);
    acp_error err;
    char *json;
    cr_assert_eq(acp_run_get(ttl, "r1", &json, NULL, &err), ACP_NOT_FOUND);
    /* Events written afterwards without a ttl outlive the expired record. */
    acp_store *keep = open_prefix(base, prefix, "");
    cr_expect_eq(add_event(keep, "r1", "late"), 1, "the expired events are gone");
    add_event(keep, "r1", "late");
    cr_expect_eq(acp_run_delete(keep, "r1", &err), ACP_OK, "%s", err.message);
    acp_page *p;
    cr_assert_eq(acp_event_list(keep, "r1", NULL, &p, &err), ACP_OK);
    cr_expect_eq(acp_page_count(p), 0, "events left behind");
    acp_page_free(p);
    cr_expect_eq(acp_run_delete(keep, "r1", &err), ACP_NOT_FOUND);
    cr_expect_eq(add_event(keep, "r1", "again"), 1, "a deleted run starts at 1");
    acp_store_close(keep);
    acp_store_close(ttl);
    free(base);
}

Test(ruby_defects, session_state_false_comes_back_as_false)
{
    acp_store *s = open_fx("");
    static const char *const states[] = {"false", "0", "\"\"", "null", "[]", "{}", "true"};
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
        char doc[128], id[16];
        snprintf(id, sizeof id, "s%zu", i);
        snprintf(doc, sizeof doc, "{\"id\":\"%s\",\"history\":[],\"state\":%s}", id, states[i]);
        acp_error err;
        cr_assert_eq(acp_session_save(s, doc, ACP_STRLEN, &err), ACP_OK, "%s", err.message);
        char *got;
        cr_assert_eq(acp_session_get(s, id, &got, NULL, &err), ACP_OK, "%s", err.message);
        cr_expect_str_eq(got, doc);
        acp_free(got);
    }
    acp_store_close(s);
}

/* Lists, totals and clearing without KEYS: count what the server ran. */
Test(ruby_defects, listing_and_deleting_never_use_keys)
{
    server sv = {0};
    server_start(&sv, NULL);
    char *base = server_uri(&sv);
    acp_store *s = open_at(base, "ttl=100", NULL);
    for (int i = 0; i < 50; i++) {
        char id[16];
        snprintf(id, sizeof id, "r%02d", i);
        save_run(s, id, i % 2 ? "a" : "b", i % 3 ? "s" : NULL, NULL);
        add_event(s, id, "e");
    }
    acp_page *p = list(s, NULL, NULL, 1000);
    cr_expect_eq(acp_page_total(p), 50);
    acp_page_free(p);
    for (int i = 0; i < 50; i++) {
        char id[16];
        acp_error err;
        snprintf(id, sizeof id, "r%02d", i);
        cr_assert_eq(acp_run_delete(s, id, &err), ACP_OK, "%s", err.message);
    }
    p = list(s, NULL, NULL, 1000);
    cr_expect_eq(acp_page_total(p), 0);
    acp_page_free(p);
    acp_page *sp;
    acp_error err;
    cr_assert_eq(acp_session_list(s, NULL, 1000, &sp, &err), ACP_OK, "%s", err.message);
    acp_page_free(sp);
    acp_store_close(s);

    redisContext *c = redis_at(sv.port);
    redisReply *r = redisCommand(c, "INFO commandstats");
    cr_assert(r && r->type == REDIS_REPLY_STRING);
    cr_expect(strstr(r->str, "cmdstat_evalsha:") != NULL, "no scripts ran:\n%s", r->str);
    cr_expect(strstr(r->str, "cmdstat_keys:") == NULL, "KEYS was used:\n%s", r->str);
    cr_expect(strstr(r->str, "cmdstat_scan:") == NULL, "SCAN was used:\n%s", r->str);
    freeReplyObject(r);
    /* Nothing of the deleted runs is left but the store's delete mark
     * (run versions: a re-created run continues above it) and its layout
     * version (P v). */
    r = redisCommand(c, "DBSIZE");
    cr_expect_eq(r->integer, 2, "%lld keys left after deleting every run", r->integer);
    freeReplyObject(r);
    for (int i = 0; i < 8; i++) { /* RANDOMKEY: both keys, whichever it picks */
        r = redisCommand(c, "RANDOMKEY");
        char last = r && r->type == REDIS_REPLY_STRING && r->len > 0 ? r->str[r->len - 1] : 0;
        cr_expect(last == 'm' || last == 'v',
                  "the key left is not the delete mark or the layout: %s",
                  r && r->str ? r->str : "(none)");
        freeReplyObject(r);
    }
    redisFree(c);
    server_stop(&sv);
    free(base);
}

/* ------------------------------------------------------------------ */
/* Expiry                                                               */
/* ------------------------------------------------------------------ */

/* How many of the keys P+names[i] exist on the fixture server. */
static long long keys_left(const char *prefix, const char *const *names)
{
    redisContext *c = redis_at(fixture_port());
    long long n = 0;
    for (size_t i = 0; names[i]; i++) {
        redisReply *r = redisCommand(c, "EXISTS %s%s", prefix, names[i]);
        cr_assert(r && r->type == REDIS_REPLY_INTEGER);
        if (r->integer)
            cr_log_warn("key %s%s is left", prefix, names[i]);
        n += r->integer;
        freeReplyObject(r);
    }
    redisFree(c);
    return n;
}

Test(ttl, run_events_and_index_entries_expire_together)
{
    char *base = fixture_uri(), prefix[96];
    acp_store *s = open_at(base, "ttl=1", prefix);
    save_run(s, "r1", "alpha", "s1", NULL);
    save_run(s, "r2", "alpha", "s1", NULL);
    add_event(s, "r1", "e");
    add_event(s, "r1", "e");
    expect_list(s, "alpha", "s1", "r2,r1/2");
    sleep_s(2.1);
    acp_error err;
    char *json;
    /* Deleting first, before anything else has noticed the expiry. */
    cr_expect_eq(acp_run_delete(s, "r2", &err), ACP_NOT_FOUND, "%s", err.message);
    cr_expect_eq(acp_run_get(s, "r1", &json, NULL, &err), ACP_NOT_FOUND);
    cr_expect_eq(acp_run_get(s, "r2", &json, NULL, &err), ACP_NOT_FOUND);
    expect_list(s, NULL, NULL, "/0");
    expect_list(s, "alpha", NULL, "/0");
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.limit = 0;
    f.want_total = 1;
    acp_page *p;
    cr_assert_eq(acp_run_list(s, &f, &p, &err), ACP_OK);
    cr_expect_eq(acp_page_total(p), 0);
    acp_page_free(p);
    cr_assert_eq(acp_event_list(s, "r1", NULL, &p, &err), ACP_OK);
    cr_expect_eq(acp_page_count(p), 0);
    acp_page_free(p);
    cr_expect_eq(acp_run_delete(s, "r1", &err), ACP_NOT_FOUND);
    /* Expired runs leave nothing behind: no record, events, index or
     * bookkeeping key of this store remains. */
    static const char *const names[] = {"r:r1", "r:r2", "e:r1", "w", "x:r", "i:a", "i:g:alpha",
                                        "i:s:s1", "i:gs:5:alphas1", NULL};
    cr_expect_eq(keys_left(prefix, names), 0);
    acp_store_close(s);
    free(base);
}

Test(ttl, each_write_refreshes_the_ttl)
{
    acp_store *s = open_fx("ttl=2");
    save_run(s, "r1", "alpha", NULL, NULL);
    add_event(s, "r1", "e");
    sleep_s(1.2);
    add_event(s, "r1", "e"); /* moves the run's end 2 s on */
    sleep_s(1.2);
    acp_error err;
    char *json;
    cr_assert_eq(acp_run_get(s, "r1", &json, NULL, &err), ACP_OK, "the event did not refresh the run");
    acp_free(json);
    expect_list(s, "alpha", NULL, "r1/1");
    acp_page *p;
    cr_assert_eq(acp_event_list(s, "r1", NULL, &p, &err), ACP_OK);
    cr_expect_eq(acp_page_count(p), 2);
    acp_page_free(p);
    sleep_s(1.1);
    cr_expect_eq(acp_run_get(s, "r1", &json, NULL, &err), ACP_NOT_FOUND);
    expect_list(s, "alpha", NULL, "/0");
    acp_store_close(s);
}

Test(ttl, saving_without_ttl_makes_a_run_permanent)
{
    char *base = fixture_uri(), prefix[96];
    acp_store *ttl = open_at(base, "ttl=1", prefix);
    acp_store *keep = open_prefix(base, prefix, "");
    save_run(ttl, "r1", "alpha", NULL, NULL);
    add_event(ttl, "r1", "e");
    save_run(keep, "r1", "alpha", NULL, NULL);
    sleep_s(2.1);
    expect_list(ttl, "alpha", NULL, "r1/1");
    acp_page *p;
    acp_error err;
    cr_assert_eq(acp_event_list(ttl, "r1", NULL, &p, &err), ACP_OK);
    cr_expect_eq(acp_page_count(p), 1);
    acp_page_free(p);
    acp_store_close(keep);
    acp_store_close(ttl);
    free(base);
}

Test(ttl, expired_sessions_leave_the_session_list)
{
    char *base = fixture_uri(), prefix[96];
    acp_store *s = open_at(base, "ttl=1", prefix);
    acp_error err;
    cr_assert_eq(acp_session_save(s, "{\"id\":\"s1\",\"history\":[]}", ACP_STRLEN, &err), ACP_OK);
    acp_page *p;
    cr_assert_eq(acp_session_list(s, NULL, 10, &p, &err), ACP_OK);
    cr_expect_eq(acp_page_count(p), 1);
    acp_page_free(p);
    sleep_s(2.1);
    char *json;
    cr_expect_eq(acp_session_get(s, "s1", &json, NULL, &err), ACP_NOT_FOUND);
    cr_assert_eq(acp_session_list(s, NULL, 10, &p, &err), ACP_OK);
    cr_expect_eq(acp_page_count(p), 0);
    acp_page_free(p);
    static const char *const names[] = {"s:s1", "S", "x:s", NULL};
    cr_expect_eq(keys_left(prefix, names), 0);
    cr_expect_eq(acp_session_delete(s, "s1", &err), ACP_NOT_FOUND);
    acp_store_close(s);
    free(base);
}

/* ------------------------------------------------------------------ */
/* Connections                                                          */
/* ------------------------------------------------------------------ */

Test(connection, reconnects_after_a_server_restart)
{
    server sv = {0};
    server_start(&sv, NULL);
    char *base = server_uri(&sv);
    acp_store *s = open_at(base, "pool_size=4", NULL);
    save_run(s, "before", "a", NULL, NULL);
    /* The server loses its data and its scripts; the pooled connection is
     * dead.  The first call after a restart is once an append (never
     * repeated, so the dead connection must be noticed before use) and
     * once a read (repeated on a new connection): neither fails. */
    server_restart(&sv, NULL);
    acp_error err;
    int64_t seq = 0;
    cr_expect_eq(acp_event_add(s, "after", "{\"type\":\"e\"}", ACP_STRLEN, &seq, &err), ACP_OK,
                 "%s", err.message);
    cr_expect_eq(seq, 1);
    save_run(s, "after", "a", NULL, NULL);
    server_restart(&sv, NULL);
    char *json;
    cr_expect_eq(acp_run_get(s, "after", &json, NULL, &err), ACP_NOT_FOUND, "%s", err.message);
    cr_expect_eq(acp_store_ping(s, &err), ACP_OK, "%s", err.message);
    save_run(s, "after", "a", NULL, NULL);
    expect_list(s, "a", NULL, "after/1");
    cr_expect_eq(add_event(s, "after", "e"), 1);

    /* Down: UNAVAILABLE, quickly; up again: working again. */
    server_stop(&sv);
    double t0 = now_s();
    cr_expect_eq(acp_store_ping(s, &err), ACP_UNAVAILABLE);
    cr_expect_eq(acp_run_get(s, "after", &json, NULL, &err), ACP_UNAVAILABLE);
    cr_expect(now_s() - t0 < 2.0, "failing took %.2f s", now_s() - t0);
    server_run(&sv, sv.port, NULL);
    save_run(s, "again", "a", NULL, NULL);
    cr_expect_eq(acp_run_get(s, "again", &json, NULL, &err), ACP_OK, "%s", err.message);
    acp_free(json);
    acp_store_close(s);
    server_stop(&sv);
    free(base);
}

Test(connection, unreachable_server_is_unavailable_and_never_shows_the_password)
{
    /* A port that was just free: nothing listens there. */
    server sv = {0};
    server_start(&sv, NULL);
    server_stop(&sv);
    char uri[256];
    snprintf(uri, sizeof uri, "redis://ann:s3cr%%65t-pw@127.0.0.1:%d/0", sv.port);
    acp_store *s = NULL;
    acp_error err;
    double t0 = now_s();
    cr_assert_eq(acp_store_open(uri, &s, &err), ACP_UNAVAILABLE, "%s", err.message);
    cr_expect(now_s() - t0 < 2.0, "failing took %.2f s", now_s() - t0);
    cr_expect(strstr(err.message, "s3cr") == NULL, "password in: %s", err.message);
    char where[64];
    snprintf(where, sizeof where, "127.0.0.1:%d", sv.port);
    cr_expect(strstr(err.message, where) != NULL, "the message does not name %s: %s", where,
              err.message);
}

Test(connection, ping_and_calls_are_bounded_when_the_server_hangs)
{
    server sv = {0};
    server_start(&sv, NULL);
    char *base = server_uri(&sv);
    acp_store *s = open_at(base, "connect_timeout=0.5&command_timeout=0.5", NULL);
    save_run(s, "r1", "a", NULL, NULL);
    pid_t pid = sv.pid;
    cr_assert_eq(kill(pid, SIGSTOP), 0);
    acp_error err;
    double t0 = now_s();
    cr_expect_eq(acp_store_ping(s, &err), ACP_UNAVAILABLE);
    cr_expect(now_s() - t0 < 2.0, "ping took %.2f s", now_s() - t0);
    t0 = now_s();
    char *json;
    cr_expect_eq(acp_run_get(s, "r1", &json, NULL, &err), ACP_UNAVAILABLE);
    cr_expect(now_s() - t0 < 2.0, "get_run took %.2f s", now_s() - t0);
    kill(pid, SIGCONT);
    /* The timed-out connection was dropped; a fresh one answers. */
    cr_expect_eq(acp_store_ping(s, &err), ACP_OK, "%s", err.message);
    cr_expect_eq(acp_run_get(s, "r1", &json, NULL, &err), ACP_OK, "%s", err.message);
    acp_free(json);
    acp_store_close(s);
    server_stop(&sv);
    free(base);
}

Test(connection, ping_without_any_time_limit_is_still_bounded)
{
    server sv = {0};
    server_start(&sv, NULL);
    char uri[256];
    snprintf(uri, sizeof uri, "redis://127.0.0.1:%d/0?connect_timeout=0.5", sv.port);
    acp_config *cfg;
    acp_error err;
    cr_assert_eq(acp_config_new(&cfg, &err), ACP_OK);
    cr_assert_eq(acp_config_parse_uri(cfg, uri, &err), ACP_OK, "%s", err.message);
    cr_assert_eq(acp_config_set_timeout_ms(cfg, 0, &err), ACP_OK); /* no call bound */
    acp_store *s;
    cr_assert_eq(acp_store_open_config(cfg, &s, &err), ACP_OK, "%s", err.message);
    acp_config_free(cfg);
    pid_t pid = sv.pid;
    cr_assert_eq(kill(pid, SIGSTOP), 0);
    double t0 = now_s();
    cr_expect_eq(acp_store_ping(s, &err), ACP_UNAVAILABLE);
    cr_expect(now_s() - t0 < 2.0, "ping took %.2f s", now_s() - t0);
    kill(pid, SIGCONT);
    acp_store_close(s);
    server_stop(&sv);
}

Test(connection, password_and_acl_user_from_the_uri)
{
    server sv = {0};
    static const char *const auth[] = {"--requirepass", "top%secret", "--user", "ann", "on",
                                       ">ann-pw", "~*", "&*", "+@all", NULL};
    server_start(&sv, auth);
    char uri[256];
    acp_store *s;
    acp_error err;

    snprintf(uri, sizeof uri, "redis://:top%%25secret@127.0.0.1:%d/0", sv.port);
    cr_assert_eq(acp_store_open(uri, &s, &err), ACP_OK, "%s", err.message);
    save_run(s, "r1", "a", NULL, NULL);
    acp_store_close(s);

    snprintf(uri, sizeof uri, "redis://ann:ann-pw@127.0.0.1:%d/0", sv.port);
    cr_assert_eq(acp_store_open(uri, &s, &err), ACP_OK, "%s", err.message);
    save_run(s, "r1", "a", NULL, NULL);
    acp_store_close(s);

    snprintf(uri, sizeof uri, "redis://ann:wrong-pw@127.0.0.1:%d/0", sv.port);
    cr_expect_eq(acp_store_open(uri, &s, &err), ACP_INVALID, "%s", err.message);
    cr_expect(strstr(err.message, "wrong-pw") == NULL, "password in: %s", err.message);
    cr_expect(strstr(err.message, "authentication") != NULL, "%s", err.message);

    snprintf(uri, sizeof uri, "redis://127.0.0.1:%d/0", sv.port);
    cr_expect_eq(acp_store_open(uri, &s, &err), ACP_INVALID, "%s", err.message);
    cr_expect(strstr(err.message, "password") != NULL, "no hint in: %s", err.message);
    server_stop(&sv);
}

Test(connection, unix_socket_uri_and_database_number)
{
    server sv = {0};
    char sock[300];
    server_dir(&sv);
    snprintf(sock, sizeof sock, "%s/redis.sock", sv.dir);
    const char *const unix_opts[] = {"--unixsocket", sock, "--unixsocketperm", "700", NULL};
    server_run(&sv, 0, unix_opts);

    char uri[600];
    acp_store *s;
    acp_error err;
    snprintf(uri, sizeof uri, "redis+unix://%s/redis.sock?db=2&prefix=u:", sv.dir);
    cr_assert_eq(acp_store_open(uri, &s, &err), ACP_OK, "%s", err.message);
    save_run(s, "r1", "a", NULL, NULL);
    acp_store_close(s);
    snprintf(uri, sizeof uri, "redis://127.0.0.1:%d/3?prefix=u:", sv.port);
    cr_assert_eq(acp_store_open(uri, &s, &err), ACP_OK, "%s", err.message);
    save_run(s, "r3", "a", NULL, NULL);
    acp_store_close(s);

    redisContext *c = redis_at(sv.port);
    redisReply *r = redisCommand(c, "SELECT 2");
    freeReplyObject(r);
    r = redisCommand(c, "EXISTS u:r:r1");
    cr_expect_eq(r->integer, 1, "run r1 is not in database 2");
    freeReplyObject(r);
    r = redisCommand(c, "SELECT 3");
    freeReplyObject(r);
    r = redisCommand(c, "EXISTS u:r:r3");
    cr_expect_eq(r->integer, 1, "run r3 is not in database 3");
    freeReplyObject(r);
    r = redisCommand(c, "SELECT 0");
    freeReplyObject(r);
    r = redisCommand(c, "DBSIZE");
    cr_expect_eq(r->integer, 0, "database 0 was written");
    freeReplyObject(r);
    redisFree(c);
    server_stop(&sv);
}

struct pool_arg {
    acp_store *s;
    int n;
    int failures;
};

static void *pool_worker(void *p)
{
    struct pool_arg *a = p;
    for (int i = 0; i < 200; i++) {
        char doc[128];
        snprintf(doc, sizeof doc, "{\"type\":\"w%d\"}", a->n);
        acp_error err;
        if (acp_event_add(a->s, "shared", doc, ACP_STRLEN, NULL, &err) != ACP_OK)
            a->failures++;
    }
    return NULL;
}

Test(connection, small_pool_serves_many_threads)
{
    acp_store *s = open_fx("pool_size=2");
    pthread_t t[8];
    struct pool_arg a[8];
    for (int i = 0; i < 8; i++) {
        a[i] = (struct pool_arg){s, i, 0};
        pthread_create(&t[i], NULL, pool_worker, &a[i]);
    }
    int failures = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        failures += a[i].failures;
    }
    cr_expect_eq(failures, 0);
    cr_expect_eq(add_event(s, "shared", "last"), 1601);
    acp_store_close(s);
}

Test(connection, a_forked_child_uses_its_own_connections)
{
    acp_store *s = open_fx("");
    save_run(s, "parent", "a", NULL, NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        acp_error err;
        char *json;
        int ok = acp_run_get(s, "parent", &json, NULL, &err) == ACP_OK;
        const char *doc = "{\"run_id\":\"child\",\"agent_name\":\"a\",\"status\":\"created\"}";
        ok = ok && acp_run_save(s, doc, ACP_STRLEN, &err) == ACP_OK;
        _exit(ok ? 0 : 1);
    }
    /* The parent keeps using its connections meanwhile. */
    for (int i = 0; i < 50; i++)
        add_event(s, "parent", "e");
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed");
    expect_list(s, "a", NULL, "child,parent/2");
    acp_store_close(s);
}

/* ------------------------------------------------------------------ */
/* Configuration and keys                                               */
/* ------------------------------------------------------------------ */

Test(config, bad_uris_and_options_are_invalid)
{
    char *base = fixture_uri();
    static const char *const bad[] = {
        "?ttl=abc",          "?ttl=-1",          "?pool_size=0",       "?pool_size=x",
        "?connect_timeout=0", "?command_timeout=-1", "?db=x",          "?unknown=1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char uri[512];
        snprintf(uri, sizeof uri, "%s%s", base, bad[i]);
        acp_store *s = NULL;
        acp_error err;
        cr_expect_eq(acp_store_open(uri, &s, &err), ACP_INVALID, "%s opened", uri);
    }
    static const char *const bad_uris[] = {
        "redis://127.0.0.1:0/0",       "redis://127.0.0.1:99999/0", "redis://127.0.0.1:1/x",
        "redis://127.0.0.1:1/1?db=2",  "redis+tls://127.0.0.1:1/0", "redis+unix://host/tmp/s",
        "redis+unix:relative.sock",    "redis://ann@127.0.0.1:1/0", "redis://::1:6379/0",
    };
    for (size_t i = 0; i < sizeof bad_uris / sizeof bad_uris[0]; i++) {
        acp_store *s = NULL;
        acp_error err;
        cr_expect_eq(acp_store_open(bad_uris[i], &s, &err), ACP_INVALID, "%s opened", bad_uris[i]);
    }
    free(base);
}

Test(config, prefixes_keep_stores_apart)
{
    acp_store *a = open_fx(""), *b = open_fx("");
    save_run(a, "r1", "x", "s", NULL);
    add_event(a, "r1", "e");
    acp_error err;
    cr_assert_eq(acp_session_save(a, "{\"id\":\"s\"}", ACP_STRLEN, &err), ACP_OK);
    expect_list(b, NULL, NULL, "/0");
    char *json;
    cr_expect_eq(acp_run_get(b, "r1", &json, NULL, &err), ACP_NOT_FOUND);
    cr_expect_eq(acp_session_get(b, "s", &json, NULL, &err), ACP_NOT_FOUND);
    cr_expect_eq(add_event(b, "r1", "e"), 1);
    acp_store_close(a);
    acp_store_close(b);
}

Test(keys, ids_and_names_with_separators_never_share_an_index)
{
    acp_store *s = open_fx("");
    save_run(s, "r1", "a:1", "x", "2025-06-01T10:00:01Z");
    save_run(s, "r2", "a", "1:x", "2025-06-01T10:00:02Z");
    save_run(s, "r3", "a*", "[x]?", "2025-06-01T10:00:03Z");
    save_run(s, "r4", "a", "*", "2025-06-01T10:00:04Z");
    expect_list(s, "a:1", "x", "r1/1");
    expect_list(s, "a", "1:x", "r2/1");
    expect_list(s, "a", "*", "r4/1");
    expect_list(s, "a*", "[x]?", "r3/1");
    expect_list(s, "a", NULL, "r4,r2/2");
    expect_list(s, NULL, "x", "r1/1");
    /* Run and session ids that look like other keys stay distinct. */
    save_run(s, "i:a", "a", NULL, "2025-06-01T10:00:05Z");
    save_run(s, "*", "a", NULL, "2025-06-01T10:00:06Z");
    expect_list(s, NULL, NULL, "*,i:a,r4,r3,r2,r1/6");
    acp_store_close(s);
}

/* Writers change and delete runs while readers list them: a listed page
 * always holds exactly the runs its total counts (an index entry never
 * outlives or precedes its document). */
struct race_arg {
    acp_store *s;
    volatile int stop;
    int bad;
    char msg[256];
};

static void *race_writer(void *p)
{
    struct race_arg *a = p;
    for (int i = 0; !a->stop && i < 3000; i++) {
        char id[16], doc[256];
        acp_error err;
        snprintf(id, sizeof id, "r%d", i % 40);
        snprintf(doc, sizeof doc,
                 "{\"run_id\":\"%s\",\"agent_name\":\"%s\",\"session_id\":\"s%d\","
                 "\"status\":\"created\"}",
                 id, i % 3 ? "even" : "odd", i % 2);
        if (i % 5 == 4)
            acp_run_delete(a->s, id, &err);
        else
            acp_run_save(a->s, doc, ACP_STRLEN, &err);
    }
    a->stop = 1;
    return NULL;
}

Test(atomicity, listed_pages_always_match_their_totals)
{
    struct race_arg a = {open_fx(""), 0, 0, ""};
    pthread_t w;
    pthread_create(&w, NULL, race_writer, &a);
    int rounds = 0;
    while (!a.stop) {
        static const char *const agents[] = {NULL, "even", "odd"};
        static const char *const sessions[] = {NULL, "s0", "s1"};
        const char *ag = agents[rounds % 3], *se = sessions[(rounds / 3) % 3];
        acp_page *p = list(a.s, ag, se, 1000);
        if ((int64_t)acp_page_count(p) != acp_page_total(p) && !a.bad) {
            a.bad = 1;
            snprintf(a.msg, sizeof a.msg, "%zu runs listed, total %" PRId64,
                     acp_page_count(p), acp_page_total(p));
        }
        for (size_t i = 0; i < acp_page_count(p); i++) {
            const char *doc = acp_page_json(p, i, NULL);
            if ((ag && !strstr(doc, ag)) || (se && !strstr(doc, se))) {
                a.bad = 1;
                snprintf(a.msg, sizeof a.msg, "%s listed for %s/%s", doc, ag ? ag : "-",
                         se ? se : "-");
            }
        }
        acp_page_free(p);
        rounds++;
    }
    pthread_join(w, NULL);
    cr_expect(!a.bad, "%s", a.msg);
    cr_expect(rounds > 10, "only %d lists ran", rounds);
    acp_store_close(a.s);
}

/* ------------------------------------------------------------------ */
/* Filters: the status indexes, the layout and its migration            */
/* ------------------------------------------------------------------ */

static void save_status(acp_store *s, const char *id, const char *agent, const char *session,
                        const char *status, const char *created)
{
    char doc[1024], sess[300] = "null";
    if (session)
        snprintf(sess, sizeof sess, "\"%s\"", session);
    snprintf(doc, sizeof doc,
             "{\"run_id\":\"%s\",\"agent_name\":\"%s\",\"session_id\":%s,\"status\":\"%s\","
             "\"created_at\":\"%s\"}",
             id, agent, sess, status, created);
    acp_error err;
    cr_assert_eq(acp_run_save(s, doc, ACP_STRLEN, &err), ACP_OK, "save %s: %s", id, err.message);
}

/* A filtered list (status list, agent, session, since, until: 0 open). */
static void expect_filtered(acp_store *s, const char *status, const char *agent,
                            const char *session, int64_t since, int64_t until, const char *want)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.status = status;
    f.agent_name = agent;
    f.session_id = session;
    f.created_since_us = since ? since : ACP_TIME_NONE;
    f.created_until_us = until ? until : ACP_TIME_NONE;
    f.limit = 100;
    f.want_total = 1;
    acp_page *p = NULL;
    acp_error err;
    cr_assert_eq(acp_run_list(s, &f, &p, &err), ACP_OK, "list: %s", err.message);
    cr_expect_str_eq(page_keys(p), want, "status=%s agent=%s session=%s since=%lld until=%lld",
                     status, agent ? agent : "(any)", session ? session : "(any)",
                     (long long)since, (long long)until);
    acp_page_free(p);
}

#define T2026 INT64_C(1767225600000000) /* 2026-01-01T00:00:00Z */

/* Every status index key of runs of agents alpha/beta in session s1. */
static const char *const status_keys[] = {
    "i:t:created:a",           "i:t:in-progress:a",     "i:t:completed:a",
    "i:t:created:g:alpha",     "i:t:in-progress:g:alpha", "i:t:completed:g:alpha",
    "i:t:completed:g:beta",    "i:t:created:s:s1",      "i:t:completed:s:s1",
    "i:t:created:gs:5:alphas1", "i:t:completed:gs:5:alphas1", "i:t:completed:gs:4:betas1",
    NULL};

Test(filters, status_indexes_follow_saves_deletes_and_expiry)
{
    char *base = fixture_uri(), prefix[96];
    acp_store *s = open_at(base, "", prefix);
    save_status(s, "r1", "alpha", "s1", "created", "2026-01-01T00:00:01Z");
    save_status(s, "r2", "alpha", NULL, "in-progress", "2026-01-01T00:00:02Z");
    save_status(s, "r3", "beta", "s1", "completed", "2026-01-01T00:00:03Z");
    expect_filtered(s, "created,in-progress", NULL, NULL, 0, 0, "r2,r1/2");
    expect_filtered(s, "created,in-progress,completed", "alpha", NULL, 0, 0, "r2,r1/2");
    expect_filtered(s, "created,completed", NULL, "s1", 0, 0, "r3,r1/2");
    expect_filtered(s, "completed", "beta", "s1", 0, 0, "r3/1");
    expect_filtered(s, "created,in-progress,completed", NULL, NULL, T2026 + 2000000,
                    T2026 + 3000000, "r2/1");
    expect_filtered(s, NULL, NULL, NULL, T2026 + 2000000, 0, "r3,r2/2");
    expect_filtered(s, NULL, "alpha", NULL, 0, T2026 + 2000000, "r1/1");
    /* A status change moves the run, a delete removes it. */
    save_status(s, "r1", "alpha", "s1", "completed", "2026-01-01T00:00:01Z");
    expect_filtered(s, "created", NULL, NULL, 0, 0, "/0");
    expect_filtered(s, "completed", NULL, "s1", 0, 0, "r3,r1/2");
    expect_filtered(s, "completed", "alpha", "s1", 0, 0, "r1/1");
    acp_error err;
    cr_assert_eq(acp_run_delete(s, "r3", &err), ACP_OK);
    expect_filtered(s, "completed,failed", NULL, NULL, 0, 0, "r1/1");
    cr_assert_eq(acp_run_delete(s, "r1", &err), ACP_OK);
    cr_assert_eq(acp_run_delete(s, "r2", &err), ACP_OK);
    cr_expect_eq(keys_left(prefix, status_keys), 0);
    acp_store_close(s);

    /* Expiry (ttl) takes runs out of their status indexes too. */
    s = open_at(base, "ttl=1", prefix);
    save_status(s, "r1", "alpha", "s1", "created", "2026-01-01T00:00:01Z");
    save_status(s, "r3", "beta", "s1", "completed", "2026-01-01T00:00:03Z");
    expect_filtered(s, "completed,created", NULL, NULL, 0, 0, "r3,r1/2");
    sleep_s(2.1);
    expect_filtered(s, "completed,created", NULL, NULL, 0, 0, "/0");
    cr_expect_eq(keys_left(prefix, status_keys), 0);
    acp_store_close(s);
    free(base);
}

Test(ttl, an_expired_run_raises_the_delete_mark)
{
    char *base = fixture_uri();
    acp_store *s = open_at(base, "ttl=1", NULL);
    const char *doc = "{\"run_id\":\"x1\",\"agent_name\":\"a\",\"status\":\"completed\","
                      "\"created_at\":\"2020-01-01T00:00:00Z\"}";
    /* A version far ahead of the clock (a restore can leave one): only the
     * delete mark can carry it past the expiry. */
    int64_t last = acp_time_now_us() + INT64_C(1000000) * 86400 * 365, v = 0;
    acp_error err;
    cr_assert_eq(acp_run_restore(s, doc, ACP_STRLEN, last, INT64_C(1577836800000000), 0, &err),
                 ACP_OK, "%s", err.message);
    sleep_s(2.1);
    char *json;
    cr_assert_eq(acp_run_get(s, "x1", &json, NULL, &err), ACP_NOT_FOUND);
    cr_assert_eq(acp_run_save_versioned(s, doc, ACP_STRLEN, &v, &err), ACP_OK, "%s", err.message);
    cr_expect_gt(v, last, "the run saved again after it expired got version %" PRId64
                          ", not above %" PRId64, v, last);
    acp_store_close(s);
    free(base);
}

/* Take a store back to layout 1 (the keys of a plugin before status
 * filters): P w entries without status and version, no status index, no
 * P v. */
static void downgrade_to_layout_1(const char *prefix)
{
    redisContext *c = redis_at(fixture_port());
    redisReply *r = redisCommand(
        c, "EVAL %s 0 %s",
        "local P = ARGV[1]\n"
        "local w = redis.call('HGETALL', P .. 'w')\n"
        "for i = 1, #w, 2 do\n"
        "  local e = w[i + 1]\n"
        "  redis.call('HSET', P .. 'w', w[i], string.sub(e, 1, 8) ..\n"
        "             string.sub(e, 18 + string.byte(e, 17)))\n"
        "end\n"
        "local cur = '0'\n"
        "repeat\n"
        "  local s = redis.call('SCAN', cur, 'MATCH', P .. 'i:t:*', 'COUNT', 1000)\n"
        "  cur = s[1]\n"
        "  for _, k in ipairs(s[2]) do redis.call('DEL', k) end\n"
        "until cur == '0'\n"
        "return redis.call('DEL', P .. 'v')\n",
        prefix);
    cr_assert(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1, "downgrade: %s",
              r && r->str ? r->str : c->errstr);
    freeReplyObject(r);
    redisFree(c);
}

static int count_steps(void *ctx, int64_t from, int64_t to, const char *description,
                       const char *detail)
{
    (void)description;
    (void)detail;
    cr_expect(from == 1 && to == 2, "step %lld -> %lld", (long long)from, (long long)to);
    ++*(int *)ctx;
    return 0;
}

static acp_status migrate_at(const char *base, const char *prefix, unsigned flags,
                             acp_migrate_info *info, int *steps)
{
    char uri[1024];
    snprintf(uri, sizeof uri, "%s?prefix=%s", base, prefix);
    acp_config *cfg;
    acp_error err;
    cr_assert_eq(acp_config_new(&cfg, &err), ACP_OK);
    cr_assert_eq(acp_config_parse_uri(cfg, uri, &err), ACP_OK, "%s", err.message);
    acp_status st = acp_store_migrate(cfg, flags, count_steps, steps, info, &err);
    cr_expect_eq(st, ACP_OK, "migrate: %s", err.message);
    acp_config_free(cfg);
    return st;
}

Test(layout, a_layout_1_store_is_refused_with_migrate_never_and_migrated)
{
    char *base = fixture_uri(), prefix[96], uri[1024];
    acp_store *s = open_at(base, "", prefix);
    save_status(s, "r1", "alpha", "s1", "created", "2026-01-01T00:00:01Z");
    save_status(s, "r2", "alpha", NULL, "in-progress", "2026-01-01T00:00:02Z");
    save_status(s, "r3", "beta", "s1", "completed", "2026-01-01T00:00:03Z");
    acp_store_close(s);
    downgrade_to_layout_1(prefix);

    /* migrate=never: refused, naming the command. */
    snprintf(uri, sizeof uri, "%s?prefix=%s&migrate=never", base, prefix);
    acp_error err;
    cr_assert_eq(acp_store_open(uri, &s, &err), ACP_UNSUPPORTED);
    cr_expect(strstr(err.message, "acp-storage migrate") != NULL, "%s", err.message);

    /* A dry run reports the step and changes nothing. */
    acp_migrate_info info;
    int steps = 0;
    migrate_at(base, prefix, ACP_MIGRATE_DRY_RUN, &info, &steps);
    cr_expect_eq(info.found, 1);
    cr_expect_eq(info.latest, 2);
    cr_expect_eq(steps, 1);
    cr_expect_eq(info.migrated, 0);
    cr_expect_eq(keys_left(prefix, status_keys), 0);

    /* The migration; then migrate=never opens, and every filter answers. */
    steps = 0;
    migrate_at(base, prefix, 0, &info, &steps);
    cr_expect_eq(steps, 1);
    cr_expect_eq(info.migrated, 1);
    cr_assert_eq(acp_store_open(uri, &s, &err), ACP_OK, "%s", err.message);
    expect_filtered(s, "created,in-progress", NULL, NULL, 0, 0, "r2,r1/2");
    expect_filtered(s, "completed,created", NULL, "s1", 0, 0, "r3,r1/2");
    expect_filtered(s, "completed", "beta", "s1", 0, 0, "r3/1");
    /* Migrated entries unindex exactly: a status change and deletes. */
    save_status(s, "r1", "alpha", "s1", "failed", "2026-01-01T00:00:01Z");
    expect_filtered(s, "created", NULL, NULL, 0, 0, "/0");
    cr_assert_eq(acp_run_delete(s, "r3", &err), ACP_OK);
    expect_filtered(s, "completed", NULL, NULL, 0, 0, "/0");
    acp_store_close(s);

    /* Opening (migrate=auto, the default) migrates as well. */
    downgrade_to_layout_1(prefix);
    s = open_prefix(base, prefix, "");
    expect_filtered(s, "failed,in-progress", "alpha", NULL, 0, 0, "r2,r1/2");
    steps = 0;
    migrate_at(base, prefix, ACP_MIGRATE_DRY_RUN, &info, &steps);
    cr_expect_eq(info.found, 2);
    cr_expect_eq(steps, 0);
    acp_store_close(s);
    free(base);
}

/* ---- stats (redis_stats.c) ---- */

static acp_stats *stats_of(acp_store *s)
{
    acp_stats *st = NULL;
    acp_error err;
    cr_assert_eq(acp_store_stats(s, &st, &err), ACP_OK, "%s", err.message);
    cr_expect_eq(acp_stats_scanned(st), 0, "redis counts with its indexes");
    return st;
}

/* More runs and sessions than one script of the walk takes (1000), runs
 * and sessions of a ttl handle on the same prefix that expire, and a
 * second prefix on the same server that must not count. */
Test(stats, figures_come_from_the_indexes_across_chunks_and_expiry, .timeout = 120)
{
    static const char *const statuses[] = {"created",   "in-progress", "awaiting", "cancelling",
                                           "cancelled", "completed",   "failed"};
    enum { RUNS = 2100, SESSIONS = 1100 };
    char *base = fixture_uri(), prefix[96];
    acp_store *s = open_at(base, "", prefix);
    acp_store *other = open_at(base, "", NULL);
    save_run(other, "elsewhere", "alpha", NULL, NULL);
    add_event(other, "elsewhere", "e");
    acp_error err;
    int64_t by_status[7] = {0}, by_agent[5] = {0}, events = 0;
    for (int i = 0; i < RUNS; i += 100) {
        char *docs[100];
        for (int j = 0; j < 100; j++) {
            int k = i + j;
            docs[j] = malloc(256);
            cr_assert_not_null(docs[j]);
            snprintf(docs[j], 256,
                     "{\"run_id\":\"run-%05d\",\"agent_name\":\"agent-%d\",\"status\":\"%s\"}", k,
                     k % 5, statuses[k % 7]);
            by_status[k % 7]++;
            by_agent[k % 5]++;
        }
        cr_assert_eq(acp_run_save_many(s, (const char *const *)docs, NULL, 100, &err), ACP_OK,
                     "%s", err.message);
        for (int j = 0; j < 100; j++)
            free(docs[j]);
    }
    for (int k = 0; k < RUNS; k += 7) {
        char id[32];
        snprintf(id, sizeof id, "run-%05d", k);
        for (int e = 0; e < 1 + k % 3; e++, events++)
            add_event(s, id, "e");
    }
    for (int k = 0; k < SESSIONS; k++) {
        char doc[64];
        snprintf(doc, sizeof doc, "{\"id\":\"sess-%05d\"}", k);
        cr_assert_eq(acp_session_save(s, doc, ACP_STRLEN, &err), ACP_OK, "%s", err.message);
    }
    acp_store *ttl = open_prefix(base, prefix, "ttl=1");
    for (int k = 0; k < 3; k++) {
        char id[32];
        snprintf(id, sizeof id, "brief-%d", k);
        save_run(ttl, id, "ephemeral", NULL, NULL);
        add_event(ttl, id, "e");
    }
    cr_assert_eq(acp_session_save(ttl, "{\"id\":\"brief\"}", ACP_STRLEN, &err), ACP_OK);

    acp_stats *st = stats_of(s);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS, NULL), RUNS + 3);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS_BY_AGENT, "ephemeral"), 3);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS_BY_STATUS, "created"), by_status[0] + 3);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_EVENTS, NULL), events + 3);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_SESSIONS, NULL), SESSIONS + 1);
    int64_t bytes_before = acp_stats_value(st, ACP_STAT_BYTES, NULL);
    acp_stats_free(st);

    sleep_s(2.1);
    st = stats_of(s);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS, NULL), RUNS);
    for (int i = 0; i < 7; i++)
        cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS_BY_STATUS, statuses[i]), by_status[i],
                     "%s: %lld, expected %lld", statuses[i],
                     (long long)acp_stats_value(st, ACP_STAT_RUNS_BY_STATUS, statuses[i]),
                     (long long)by_status[i]);
    for (int a = 0; a < 5; a++) {
        char agent[16];
        snprintf(agent, sizeof agent, "agent-%d", a);
        cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS_BY_AGENT, agent), by_agent[a]);
    }
    cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS_BY_AGENT, "ephemeral"), -1,
                 "expired runs leave the figures");
    cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS_BY_AGENT, "alpha"), -1,
                 "another prefix is another store");
    cr_expect_eq(acp_stats_value(st, ACP_STAT_EVENTS, NULL), events);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_SESSIONS, NULL), SESSIONS);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_SCHEMA_VERSION, NULL), 2);
    int64_t bytes = acp_stats_value(st, ACP_STAT_BYTES, NULL);
    cr_expect(bytes > RUNS * 50 && bytes < bytes_before, "bytes %lld, before expiry %lld",
              (long long)bytes, (long long)bytes_before);
    acp_stats_free(st);
    acp_store_close(ttl);
    acp_store_close(other);
    acp_store_close(s);
    free(base);
}
