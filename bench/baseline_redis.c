/* SPDX-License-Identifier: MIT */
/*
 * baseline_redis.c - the raw Redis baseline: hiredis commands on one
 * blocking connection per thread, writing the redis backend's key layout
 * with Lua scripts of its own (baseline_redis_lua.c, by EVALSHA) for
 * multi-key writes and lists, GET and LRANGE for reads, under a key prefix of its own on the store's server.  Built
 * only when hiredis is found (ACP_BENCH_HAVE_HIREDIS).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#ifdef ACP_BENCH_HAVE_HIREDIS

#include <hiredis/hiredis.h>

#include "baseline_redis_lua.h"

typedef struct rbase {
    int n;
    redisContext *c[BENCH_MAX_THREADS];
    char prefix[128];
    size_t plen;
    char sha[BRD_N_SCRIPTS][41];
} rbase;

typedef struct raddr {
    char host[256];
    char password[256];
    int port;
    long db;
} raddr;

/* redis://[user:]password@host[:port][/db] - what the benchmark needs. */
static int parse_addr(const char *uri, raddr *a)
{
    memset(a, 0, sizeof *a);
    a->port = 6379;
    const char *p = strstr(uri, "://");
    if (!p)
        return -1;
    p += 3;
    size_t auth = strcspn(p, "/?#");
    const char *at = memchr(p, '@', auth);
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p;
        snprintf(a->password, sizeof a->password, "%.*s", (int)(at - pw), pw);
        auth -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    const char *colon = memchr(p, ':', auth);
    size_t hl = colon ? (size_t)(colon - p) : auth;
    snprintf(a->host, sizeof a->host, "%.*s", (int)hl, p);
    if (!a->host[0])
        snprintf(a->host, sizeof a->host, "127.0.0.1");
    if (colon)
        a->port = atoi(colon + 1);
    p += auth;
    if (*p == '/' && p[1] >= '0' && p[1] <= '9')
        a->db = strtol(p + 1, NULL, 10);
    const char *q = strstr(uri, "db=");
    if (q && (q[-1] == '?' || q[-1] == '&'))
        a->db = strtol(q + 3, NULL, 10);
    return 0;
}

static redisContext *connect_to(const char *uri, char *why, size_t wl)
{
    raddr a;
    if (parse_addr(uri, &a) != 0) {
        snprintf(why, wl, "redis baseline: cannot read the address in %s", uri);
        return NULL;
    }
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout(a.host, a.port, tv);
    if (!c || c->err) {
        snprintf(why, wl, "redis baseline: cannot connect to %s:%d: %s", a.host, a.port,
                 c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    struct timeval cmd = {30, 0}; /* the backend's per-call bound */
    redisSetTimeout(c, cmd);
    redisReply *r = NULL;
    if (a.password[0])
        r = redisCommand(c, "AUTH %s", a.password);
    freeReplyObject(r);
    if (a.db) {
        r = redisCommand(c, "SELECT %ld", a.db);
        freeReplyObject(r);
    }
    return c;
}

#define RB(t) ((rbase *)(t)->ctx)

static void put_time(char out[8], int64_t us)
{
    uint64_t u = (uint64_t)us ^ (UINT64_C(1) << 63);
    for (int i = 7; i >= 0; i--, u >>= 8)
        out[i] = (char)(u & 0xff);
}

/* EVALSHA script 0 argv... */
static redisReply *script(target *t, int tid, int s, int argc, const char **argv,
                          const size_t *lens)
{
    rbase *b = RB(t);
    const char *av[16];
    size_t al[16];
    av[0] = "EVALSHA";
    al[0] = 7;
    av[1] = b->sha[s];
    al[1] = 40;
    av[2] = "0";
    al[2] = 1;
    memcpy(av + 3, argv, (size_t)argc * sizeof *argv);
    memcpy(al + 3, lens, (size_t)argc * sizeof *lens);
    redisReply *r = redisCommandArgv(b->c[tid], argc + 3, av, al);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        target_fail(t, "script %d: %s", s, r ? r->str : b->c[tid]->errstr);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

static redisReply *command(target *t, int tid, int argc, const char **argv, const size_t *lens)
{
    redisReply *r = redisCommandArgv(RB(t)->c[tid], argc, argv, lens);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        target_fail(t, "%s: %s", argv[0], r ? r->str : RB(t)->c[tid]->errstr);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

static void copy_str(const char *p, size_t n)
{
    char *c = malloc(n + 1);
    if (c) {
        memcpy(c, p, n);
        c[n] = '\0';
    }
    free(c);
}

static long r_save_run(target *t, int tid, size_t i, int done)
{
    const w1 *w = t->w;
    rbase *b = RB(t);
    char c8[8];
    put_time(c8, w->created_us[i]);
    const char *agent = w->agent_name[w->agent[i]], *sess = w->session_id[w->session[i]];
    const char *status = done ? "completed" : "in-progress"; /* as the documents say */
    const char *argv[8] = {b->prefix, w->run_id[i], c8, agent, "1", sess,
                           done ? w->doc_done[i] : w->doc_new[i], status};
    size_t lens[8] = {b->plen, w->run_id_len[i], 8, strlen(agent), 1, strlen(sess),
                      done ? w->doc_done_len[i] : w->doc_new_len[i], strlen(status)};
    redisReply *r = script(t, tid, BRD_SAVE_RUN, 8, argv, lens);
    freeReplyObject(r);
    return r ? 1 : -1;
}

static long get_key(target *t, int tid, const char *tag, const char *id, size_t skip)
{
    char key[512];
    size_t kl = (size_t)snprintf(key, sizeof key, "%s%s%s", RB(t)->prefix, tag, id);
    const char *argv[2] = {"GET", key};
    size_t lens[2] = {3, kl};
    redisReply *r = command(t, tid, 2, argv, lens);
    if (!r)
        return -1;
    long ok = r->type == REDIS_REPLY_STRING && r->len >= skip;
    if (ok)
        copy_str(r->str + skip, r->len - skip);
    freeReplyObject(r);
    return ok ? 1 : target_fail(t, "GET %s: not found", key);
}

static long r_get_run(target *t, int tid, size_t i)
{
    return get_key(t, tid, "r:", t->w->run_id[i], 16); /* created, version */
}

static long r_add_event(target *t, int tid, size_t r, size_t k)
{
    const w1 *w = t->w;
    rbase *b = RB(t);
    size_t d = w1_event_index(w, r, k);
    char elem[4096];
    put_time(elem, acp_time_now_us());
    memcpy(elem + 8, w->event_doc[d], w->event_doc_len[d]);
    const char *argv[3] = {b->prefix, w->run_id[r], elem};
    size_t lens[3] = {b->plen, w->run_id_len[r], w->event_doc_len[d] + 8};
    redisReply *rep = script(t, tid, BRD_ADD_EVENT, 3, argv, lens);
    if (!rep)
        return -1;
    int ok = rep->type == REDIS_REPLY_INTEGER && rep->integer == (long long)k + 1;
    freeReplyObject(rep);
    return ok ? 1 : target_fail(t, "add_event %s: wrong sequence", w->run_id[r]);
}

static long r_get_events(target *t, int tid, size_t r)
{
    char key[512];
    size_t kl = (size_t)snprintf(key, sizeof key, "%se:%s", RB(t)->prefix, t->w->run_id[r]);
    const char *argv[4] = {"LRANGE", key, "0", "99"};
    size_t lens[4] = {6, kl, 1, 2};
    redisReply *rep = command(t, tid, 4, argv, lens);
    if (!rep)
        return -1;
    long n = 0;
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
        const redisReply *e = rep->element[i];
        if (e->type == REDIS_REPLY_STRING && e->len >= 8) {
            copy_str(e->str + 8, e->len - 8);
            n++;
        }
    }
    freeReplyObject(rep);
    return n;
}

static long r_list_runs(target *t, int tid, long agent, long session, int64_t offset,
                        int64_t limit, int want_total)
{
    rbase *b = RB(t);
    char idx[512], off[24], lim[24];
    size_t il;
    if (agent >= 0)
        il = (size_t)snprintf(idx, sizeof idx, "%si:g:%s", b->prefix, t->w->agent_name[agent]);
    else if (session >= 0)
        il = (size_t)snprintf(idx, sizeof idx, "%si:s:%s", b->prefix,
                              t->w->session_id[session]);
    else
        il = (size_t)snprintf(idx, sizeof idx, "%si:a", b->prefix);
    snprintf(off, sizeof off, "%lld", (long long)offset);
    snprintf(lim, sizeof lim, "%lld", (long long)limit);
    const char *argv[5] = {b->prefix, idx, off, lim, want_total ? "1" : "0"};
    size_t lens[5] = {b->plen, il, strlen(off), strlen(lim), 1};
    redisReply *r = script(t, tid, BRD_LIST_RUNS, 5, argv, lens);
    if (!r)
        return -1;
    long n = 0, total = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1) {
        total = (long)r->element[0]->integer;
        for (size_t i = 1; i + 1 < r->elements; i += 2) {
            const redisReply *v = r->element[i + 1];
            if (v->type == REDIS_REPLY_STRING && v->len >= 16) {
                copy_str(v->str + 16, v->len - 16); /* created, version */
                n++;
            }
        }
    }
    freeReplyObject(r);
    return n + (want_total ? total : 0);
}

static long r_save_session(target *t, int tid, size_t s)
{
    rbase *b = RB(t);
    const char *id = t->w->session_id[s];
    const char *argv[3] = {b->prefix, id, t->w->session_doc[s]};
    size_t lens[3] = {b->plen, strlen(id), t->w->session_doc_len[s]};
    redisReply *r = script(t, tid, BRD_SAVE_SESSION, 3, argv, lens);
    freeReplyObject(r);
    return r ? 1 : -1;
}

static long r_get_session(target *t, int tid, size_t s)
{
    return get_key(t, tid, "s:", t->w->session_id[s], 0);
}

static long r_delete_run(target *t, int tid, size_t i)
{
    rbase *b = RB(t);
    const char *argv[2] = {b->prefix, t->w->run_id[i]};
    size_t lens[2] = {b->plen, t->w->run_id_len[i]};
    redisReply *r = script(t, tid, BRD_DELETE_RUN, 2, argv, lens);
    if (!r)
        return -1;
    long n = r->type == REDIS_REPLY_INTEGER ? (long)r->integer : 0;
    freeReplyObject(r);
    return n > 0 ? 1 : target_fail(t, "delete_run %s: nothing deleted", t->w->run_id[i]);
}

/* UNLINK every key under prefix (the benchmark's own prefixes only). */
static void drop_prefix(redisContext *c, const char *prefix)
{
    char cursor[32] = "0", pattern[300];
    snprintf(pattern, sizeof pattern, "%s*", prefix);
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            freeReplyObject(r);
            return;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        const redisReply *keys = r->element[1];
        for (size_t i = 0; i < keys->elements; i++)
            redisAppendCommand(c, "UNLINK %b", keys->element[i]->str, keys->element[i]->len);
        for (size_t i = 0; i < keys->elements; i++) {
            void *x = NULL;
            if (redisGetReply(c, &x) == REDIS_OK)
                freeReplyObject(x);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
}

static void r_close(target *t)
{
    rbase *b = t->ctx;
    if (b && b->n > 0)
        drop_prefix(b->c[0], b->prefix);
    for (int i = 0; b && i < b->n; i++)
        redisFree(b->c[i]);
    free(b);
    t->ctx = NULL;
}

int baseline_redis_open(target *t, const w1 *w, const baseline_args *a, char *why, size_t wl)
{
    memset(t, 0, sizeof *t);
    rbase *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(why, wl, "out of memory");
        return -1;
    }
    t->ctx = b;
    snprintf(b->prefix, sizeof b->prefix, "acpbase:%s:", a->unique);
    b->plen = strlen(b->prefix);
    int n = a->threads < 1 ? 1 : a->threads;
    for (int i = 0; i < n; i++) {
        if (!(b->c[i] = connect_to(a->store_uri, why, wl))) {
            r_close(t);
            return -1;
        }
        b->n = i + 1;
    }
    for (int s = 0; s < BRD_N_SCRIPTS; s++) {
        redisReply *r = redisCommand(b->c[0], "SCRIPT LOAD %s", brd_scripts[s]);
        int ok = r && r->type == REDIS_REPLY_STRING && r->len == 40;
        if (ok)
            memcpy(b->sha[s], r->str, 41);
        else
            snprintf(why, wl, "redis baseline: SCRIPT LOAD failed: %s",
                     r && r->str ? r->str : b->c[0]->errstr);
        freeReplyObject(r);
        if (!ok) {
            r_close(t);
            return -1;
        }
    }
    /* The layout version, as the backend's open sets it. */
    freeReplyObject(redisCommand(b->c[0], "SET %sv 2 NX", b->prefix));
    char version[32] = "?";
    redisReply *info = redisCommand(b->c[0], "INFO server");
    const char *v = info && info->type == REDIS_REPLY_STRING ? strstr(info->str, "redis_version:")
                                                            : NULL;
    if (v)
        snprintf(version, sizeof version, "%.*s", (int)strcspn(v + 14, "\r\n"), v + 14);
    freeReplyObject(info);
    snprintf(t->name, sizeof t->name, "redis (raw)");
    snprintf(t->detail, sizeof t->detail,
             "hiredis %d.%d, the backend's key layout, own Lua scripts by EVALSHA, GET and LRANGE, one "
             "connection per thread, server %s",
             HIREDIS_MAJOR, HIREDIS_MINOR, version);
    t->w = w;
    t->threads = n;
    t->save_run = r_save_run;
    t->get_run = r_get_run;
    t->add_event = r_add_event;
    t->get_events = r_get_events;
    t->list_runs = r_list_runs;
    t->save_session = r_save_session;
    t->get_session = r_get_session;
    t->delete_run = r_delete_run;
    t->close = r_close;
    return 0;
}

void baseline_redis_drop_prefix(const char *store_uri, const char *prefix)
{
    char why[256];
    redisContext *c = connect_to(store_uri, why, sizeof why);
    if (c) {
        drop_prefix(c, prefix);
        redisFree(c);
    }
}

int baseline_redis_built(void)
{
    return 1;
}

#else /* !ACP_BENCH_HAVE_HIREDIS */

int baseline_redis_open(target *t, const w1 *w, const baseline_args *a, char *why, size_t wl)
{
    (void)t;
    (void)w;
    (void)a;
    snprintf(why, wl, "this acp-storage-bench was built without hiredis");
    return 1;
}

void baseline_redis_drop_prefix(const char *store_uri, const char *prefix)
{
    (void)store_uri;
    (void)prefix;
}

int baseline_redis_built(void)
{
    return 0;
}

#endif
