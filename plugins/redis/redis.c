/* SPDX-License-Identifier: MIT */
/*
 * redis.c - the Redis backend of acp-storage (libacp_storage_redis.so).
 *
 *   redis://[user:password@]127.0.0.1:6379/0?prefix=acp:&ttl=86400
 *   redis+unix:///run/redis/redis.sock?db=2
 *
 * Options: prefix (of every key, default "acp:"), ttl (seconds a run with
 * its events and index entries, or a session, lives after its last write;
 * default: forever), db, connect_timeout and command_timeout (seconds),
 * pool_size (connections per handle, default 16), and the core's migrate
 * (auto, never: what open does with a store of an older layout,
 * redis_layout.c).
 *
 * Each method is one round trip: a plain command where one key answers
 * (get_run, get_session, get_events), otherwise one Lua script run with
 * EVALSHA (redis_lua.c describes the keys and why every multi-key write is
 * a script).  Connections, timeouts and errors are in redis_conn.c.
 *
 * Durability is the server's: the backend declares ACP_CAP_DURABLE because
 * data outlives every client process and handle, but what survives a
 * restart of the server itself depends on its persistence settings (AOF
 * with appendfsync always for every acknowledged write; RDB snapshots lose
 * the last minutes).
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_int.h"

#define RD_VERSION ACP_STORAGE_PLUGIN_VERSION

/* ------------------------------------------------------------------ */
/* Encodings                                                            */
/* ------------------------------------------------------------------ */

/* An instant as 8 bytes whose byte order is time order: the sign bit
 * flipped, big-endian. */
static void put_time(char out[8], int64_t us)
{
    uint64_t u = (uint64_t)us ^ (UINT64_C(1) << 63);
    for (int i = 7; i >= 0; i--) {
        out[i] = (char)(u & 0xff);
        u >>= 8;
    }
}

static int64_t get_time(const char *in)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = (u << 8) | (unsigned char)in[i];
    return (int64_t)(u ^ (UINT64_C(1) << 63));
}

/* P + tag + id in buf (large enough: RD_PREFIX_MAX + 4 + ACP id). */
#define KEY_MAX (RD_PREFIX_MAX + 8 + 256 + 1)

static size_t make_key(const acp_backend *b, char *buf, const char *tag, const char *id)
{
    size_t tl = strlen(tag), il = strlen(id);
    memcpy(buf, b->conf.prefix, b->conf.prefix_len);
    memcpy(buf + b->conf.prefix_len, tag, tl);
    memcpy(buf + b->conf.prefix_len + tl, id, il + 1);
    return b->conf.prefix_len + tl + il;
}

static void fmt_i64(char *buf, int64_t v)
{
    snprintf(buf, 24, "%" PRId64, v);
}

static acp_status emit(acp_backend *b, acp_call *call, const acp_item *it)
{
    if (b->host->emit(call, it) != 0)
        return b->host->error(call, ACP_NOMEM, "out of memory handing back a result");
    return ACP_OK;
}

static acp_status int_reply(acp_backend *b, acp_call *call, const rd_op *op, redisReply *r,
                            long long *out)
{
    if (r->type != REDIS_REPLY_INTEGER) {
        freeReplyObject(r);
        return rd_bad_reply(b, call, op, "expected an integer");
    }
    *out = r->integer;
    freeReplyObject(r);
    return ACP_OK;
}

/* ------------------------------------------------------------------ */
/* Lifecycle                                                            */
/* ------------------------------------------------------------------ */

static void rd_close(acp_backend *b)
{
    if (!b)
        return;
    rd_pool_free(b);
    rd_conf_free(&b->conf);
    free(b);
}

static acp_status rd_open(const acp_plugin_host *host, const acp_open_args *args,
                          acp_backend **out, acp_call *call)
{
    acp_backend *b = calloc(1, sizeof *b);
    if (!b)
        return host->error(call, ACP_NOMEM, "out of memory opening %s", args->uri_redacted);
    b->host = host;
    acp_status st = rd_conf_parse(&b->conf, host, args, call);
    if (st != ACP_OK) {
        rd_conf_free(&b->conf);
        free(b);
        return st;
    }
    if (!rd_pool_init(b)) {
        rd_conf_free(&b->conf);
        free(b);
        return host->error(call, ACP_NOMEM, "out of memory opening %s", args->uri_redacted);
    }
    /* Connecting now reports a wrong address or password at open; the
     * scripts are loaded once so that every later call is an EVALSHA; an
     * older layout is migrated (or refused: option migrate). */
    if ((st = rd_load_scripts(b, call)) != ACP_OK || (st = rd_open_layout(b, call)) != ACP_OK) {
        rd_close(b);
        return st;
    }
    host->log(3, RD_NAME, "opened %s", args->uri_redacted);
    *out = b;
    return ACP_OK;
}

static acp_status rd_ping(acp_backend *b, acp_call *call)
{
    rd_op op = {"ping", NULL};
    const char *argv[1] = {"PING"};
    redisReply *r;
    acp_status st = rd_request(b, call, &op, RD_PING | RD_RETRY, -1, 1, argv, NULL, &r);
    if (st == ACP_OK)
        freeReplyObject(r);
    return st;
}

/* ------------------------------------------------------------------ */
/* Runs                                                                 */
/* ------------------------------------------------------------------ */

/* The script's condition mode for the flags of a run record (redis_lua.c). */
static const char *save_mode(uint32_t flags)
{
    if (flags & ACP_RUN_SET_VERSION)
        return flags & ACP_RUN_IF_NEWER ? "n" : "s";
    return flags & ACP_RUN_IF_VERSION ? "v" : flags & ACP_RUN_IF_ABSENT ? "a" : "-";
}

static acp_status rd_save_run(acp_backend *b, const acp_run_record *run, acp_call *call)
{
    rd_op op = {"save_run", run->run_id};
    char c8[8], ttl[24], want[24];
    put_time(c8, run->created_us);
    fmt_i64(ttl, b->conf.ttl_ms);
    fmt_i64(want, run->version);
    int keep = (run->flags & ACP_RUN_CREATED_DEFAULT) != 0, has_session = run->session_id != NULL;
    const char *mode = save_mode(run->flags);
    const char *argv[12] = {b->conf.prefix, run->run_id, c8, keep ? "1" : "0", run->agent_name,
                            has_session ? "1" : "0", has_session ? run->session_id : "",
                            run->doc, ttl, mode, want, run->status};
    size_t lens[12] = {b->conf.prefix_len, run->run_id_len, 8, 1, run->agent_name_len, 1,
                       has_session ? run->session_id_len : 0, run->doc_len, strlen(ttl), 1,
                       strlen(want), strlen(run->status)};
    redisReply *r;
    /* Only an unconditional save may run twice: a conditional one that ran
     * before its connection was lost would fail against its own write. */
    acp_status st = rd_request(b, call, &op, mode[0] == '-' || mode[0] == 's' ? RD_RETRY : 0,
                               RD_SAVE_RUN, 12, argv, lens, &r);
    if (st != ACP_OK)
        return st;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_INTEGER)
        st = rd_bad_reply(b, call, &op, "the save script returned an unexpected shape");
    else {
        acp_report_version(b->host, call, r->element[1]->integer);
        st = r->element[0]->integer == 1 ? ACP_OK : ACP_CONFLICT;
    }
    freeReplyObject(r);
    return st;
}

/* A run record: created (8 bytes), version (8 bytes, absent in a record of
 * an older plugin: version 1), document (a JSON object, so its first byte
 * '{' can never be the first of a version, which is >= 0x80).  Non-zero
 * when the record is too short. */
static int run_record(const char *rec, size_t len, acp_item *it)
{
    if (len < 9)
        return -1;
    it->created_us = get_time(rec);
    size_t header = rec[8] == '{' ? 8 : 16;
    if (len < header)
        return -1;
    it->version = header == 8 ? 1 : get_time(rec + 8);
    it->doc = rec + header;
    it->doc_len = len - header;
    return 0;
}

/* GET the record of id under key prefix kp ("r:" or "s:") and emit it.  A
 * run record starts with its created time (8 bytes); a session record is
 * the document alone (header 0). */
static acp_status get_record(acp_backend *b, acp_call *call, const rd_op *op, const char *kp,
                             const char *id, size_t header, const char *shape)
{
    char key[KEY_MAX];
    size_t klen = make_key(b, key, kp, id);
    const char *argv[2] = {"GET", key};
    size_t lens[2] = {3, klen};
    redisReply *r;
    acp_status st = rd_request(b, call, op, RD_RETRY, -1, 2, argv, lens, &r);
    if (st != ACP_OK)
        return st;
    if (r->type == REDIS_REPLY_NIL)
        st = ACP_NOT_FOUND;
    else if (r->type != REDIS_REPLY_STRING || r->len < header)
        st = rd_bad_reply(b, call, op, shape);
    else {
        acp_item it = {.doc = r->str, .doc_len = r->len, .key = id};
        if (header && run_record(r->str, r->len, &it) != 0)
            st = rd_bad_reply(b, call, op, shape);
        else
            st = emit(b, call, &it);
    }
    freeReplyObject(r);
    return st;
}

static acp_status rd_get_run(acp_backend *b, const char *run_id, acp_call *call)
{
    rd_op op = {"get_run", run_id};
    return get_record(b, call, &op, "r:", run_id, 8,
                      "the run record is not a string of 9 bytes or more");
}

static acp_status rd_delete_run(acp_backend *b, const char *run_id, acp_call *call)
{
    rd_op op = {"delete_run", run_id};
    const char *argv[2] = {b->conf.prefix, run_id};
    size_t lens[2] = {b->conf.prefix_len, strlen(run_id)};
    redisReply *r;
    long long n = 0;
    acp_status st = rd_request(b, call, &op, 0, RD_DELETE_RUN, 2, argv, lens, &r);
    if (st == ACP_OK && (st = int_reply(b, call, &op, r, &n)) == ACP_OK && n == 0)
        st = ACP_NOT_FOUND;
    return st;
}

/* The tail of the index that answers q (redis_lua.c: P i:<tail>, and per
 * status P i:t:<status>:<tail>): one sorted set per filter combination, so
 * a filtered list never walks runs that do not match. */
static char *index_tail(const acp_run_query *q, size_t *len)
{
    const char *agent = q->agent_name, *session = q->session_id;
    size_t al = agent ? strlen(agent) : 0, sl = session ? strlen(session) : 0;
    char *k = malloc(al + sl + 48);
    if (!k)
        return NULL;
    int n;
    if (agent && session) {
        n = sprintf(k, "gs:%zu:", al);
        memcpy(k + n, agent, al);
        memcpy(k + n + al, session, sl);
        n += (int)(al + sl);
    } else if (agent) {
        n = sprintf(k, "g:");
        memcpy(k + n, agent, al);
        n += (int)al;
    } else if (session) {
        n = sprintf(k, "s:");
        memcpy(k + n, session, sl);
        n += (int)sl;
    } else {
        n = sprintf(k, "a");
    }
    *len = (size_t)n;
    return k;
}

/* A lex range bound of the index members (created8 + run_id): '(' or '['
 * then created (8 bytes) then id_len bytes of id. */
typedef struct lex_bound {
    char s[1 + 8 + 256 + 1];
    size_t len;
} lex_bound;

static void bound_at(lex_bound *out, char open, int64_t created_us, const char *id, size_t id_len)
{
    out->s[0] = open;
    put_time(out->s + 1, created_us);
    memcpy(out->s + 9, id, id_len);
    out->len = 9 + id_len;
}

static acp_status rd_list_runs(acp_backend *b, const acp_run_query *q, acp_call *call)
{
    rd_op op = {"list_runs", NULL};
    size_t tail_len, n_st = q->n_statuses;
    char *tail = index_tail(q, &tail_len);
    if (!tail || n_st > 16) {
        free(tail);
        return b->host->error(call, n_st > 16 ? ACP_INVALID : ACP_NOMEM,
                              n_st > 16 ? "too many statuses" : "out of memory listing runs");
    }
    /* The walk: strictly below the created_until bound (a member created at
     * that instant starts with its 8 bytes and sorts after them) and the
     * cursor, whichever is lower; at or above created_since.  The total
     * counts the time range alone (a cursor only pages). */
    lex_bound total_max = {"+", 1}, page_max, min = {"-", 1};
    if (q->created_until_us != INT64_MAX)
        bound_at(&total_max, '(', q->created_until_us, "", 0);
    page_max = total_max;
    if (q->has_cursor && (q->created_until_us == INT64_MAX ||
                          q->cursor_created_us < q->created_until_us))
        bound_at(&page_max, '(', q->cursor_created_us, q->cursor_run_id,
                 strlen(q->cursor_run_id));
    if (q->created_since_us != INT64_MIN)
        bound_at(&min, '[', q->created_since_us, "", 0);
    char offset[24], limit[24];
    fmt_i64(offset, q->offset);
    fmt_i64(limit, q->limit);
    const char *argv[8 + 16] = {b->conf.prefix, tail, page_max.s, total_max.s, min.s, offset,
                                limit, q->want_total ? "1" : "0"};
    size_t lens[8 + 16] = {b->conf.prefix_len, tail_len, page_max.len, total_max.len, min.len,
                           strlen(offset), strlen(limit), 1};
    for (size_t i = 0; i < n_st; i++) {
        argv[8 + i] = q->statuses[i];
        lens[8 + i] = strlen(q->statuses[i]);
    }
    redisReply *r;
    acp_status st =
        rd_request(b, call, &op, RD_RETRY, RD_LIST_RUNS, 8 + (int)n_st, argv, lens, &r);
    free(tail);
    if (st != ACP_OK)
        return st;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->elements % 2 != 1 ||
        r->element[0]->type != REDIS_REPLY_INTEGER) {
        freeReplyObject(r);
        return rd_bad_reply(b, call, &op, "list script returned an unexpected shape");
    }
    if (q->want_total)
        b->host->set_total(call, r->element[0]->integer);
    for (size_t i = 1; st == ACP_OK && i + 1 < r->elements; i += 2) {
        const redisReply *id = r->element[i], *v = r->element[i + 1];
        acp_item it = {.key = id->str};
        if (id->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
            run_record(v->str, v->len, &it) != 0) {
            st = rd_bad_reply(b, call, &op, "a listed run record is not a string of 9 bytes "
                              "or more");
            break;
        }
        st = emit(b, call, &it);
    }
    freeReplyObject(r);
    return st;
}

/* ------------------------------------------------------------------ */
/* Sessions                                                             */
/* ------------------------------------------------------------------ */

static acp_status rd_save_session(acp_backend *b, const acp_session_record *s, acp_call *call)
{
    rd_op op = {"save_session", s->id};
    char ttl[24];
    fmt_i64(ttl, b->conf.ttl_ms);
    const char *argv[4] = {b->conf.prefix, s->id, s->doc, ttl};
    size_t lens[4] = {b->conf.prefix_len, s->id_len, s->doc_len, strlen(ttl)};
    redisReply *r;
    acp_status st = rd_request(b, call, &op, RD_RETRY, RD_SAVE_SESSION, 4, argv, lens, &r);
    if (st == ACP_OK)
        freeReplyObject(r);
    return st;
}

static acp_status rd_get_session(acp_backend *b, const char *id, acp_call *call)
{
    rd_op op = {"get_session", id};
    return get_record(b, call, &op, "s:", id, 0, "the session record is not a string");
}

static acp_status rd_delete_session(acp_backend *b, const char *id, acp_call *call)
{
    rd_op op = {"delete_session", id};
    const char *argv[2] = {b->conf.prefix, id};
    size_t lens[2] = {b->conf.prefix_len, strlen(id)};
    redisReply *r;
    long long n = 0;
    acp_status st = rd_request(b, call, &op, 0, RD_DELETE_SESSION, 2, argv, lens, &r);
    if (st == ACP_OK && (st = int_reply(b, call, &op, r, &n)) == ACP_OK && n == 0)
        st = ACP_NOT_FOUND;
    return st;
}

static acp_status rd_list_sessions(acp_backend *b, const char *after_id, int64_t limit,
                                   acp_call *call)
{
    rd_op op = {"list_sessions", NULL};
    if (limit <= 0)
        return ACP_OK;
    char min[1 + 256 + 1] = "-", lim[24];
    size_t min_len = 1;
    if (after_id) {
        size_t al = strlen(after_id);
        min[0] = '(';
        memcpy(min + 1, after_id, al);
        min_len = 1 + al;
    }
    fmt_i64(lim, limit);
    const char *argv[3] = {b->conf.prefix, min, lim};
    size_t lens[3] = {b->conf.prefix_len, min_len, strlen(lim)};
    redisReply *r;
    acp_status st = rd_request(b, call, &op, RD_RETRY, RD_LIST_SESSIONS, 3, argv, lens, &r);
    if (st != ACP_OK)
        return st;
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) {
        freeReplyObject(r);
        return rd_bad_reply(b, call, &op, "list script returned an unexpected shape");
    }
    for (size_t i = 0; st == ACP_OK && i + 1 < r->elements; i += 2) {
        const redisReply *id = r->element[i], *d = r->element[i + 1];
        if (id->type != REDIS_REPLY_STRING || d->type != REDIS_REPLY_STRING) {
            st = rd_bad_reply(b, call, &op, "a listed session is not a string");
            break;
        }
        acp_item it = {.doc = d->str, .doc_len = d->len, .key = id->str};
        st = emit(b, call, &it);
    }
    freeReplyObject(r);
    return st;
}

/* ------------------------------------------------------------------ */
/* Events                                                               */
/* ------------------------------------------------------------------ */

static acp_status rd_add_event(acp_backend *b, const acp_event_record *ev, int64_t *seq,
                               acp_call *call)
{
    rd_op op = {"add_event for run", ev->run_id};
    /* The element: stored time (8 bytes) + document, built in one block. */
    char stack[4096], *elem = ev->doc_len + 8 <= sizeof stack ? stack : malloc(ev->doc_len + 8);
    if (!elem)
        return b->host->error(call, ACP_NOMEM, "out of memory adding an event to run '%.80s'",
                              ev->run_id);
    put_time(elem, ev->stored_us);
    memcpy(elem + 8, ev->doc, ev->doc_len);
    char ttl[24];
    fmt_i64(ttl, b->conf.ttl_ms);
    const char *argv[4] = {b->conf.prefix, ev->run_id, elem, ttl};
    size_t lens[4] = {b->conf.prefix_len, ev->run_id_len, ev->doc_len + 8, strlen(ttl)};
    redisReply *r;
    long long n = 0;
    acp_status st = rd_request(b, call, &op, 0, RD_ADD_EVENT, 4, argv, lens, &r);
    if (elem != stack)
        free(elem);
    if (st == ACP_OK && (st = int_reply(b, call, &op, r, &n)) == ACP_OK)
        *seq = n;
    return st;
}

/* ------------------------------------------------------------------ */
/* Batched and restoring writes: one script per call                    */
/* ------------------------------------------------------------------ */

/* A script's array reply of n integers into out (0 or more each). */
static acp_status ints_reply(acp_backend *b, acp_call *call, const rd_op *op, redisReply *r,
                             size_t n, long long *out)
{
    acp_status st = ACP_OK;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != n)
        st = rd_bad_reply(b, call, op, "expected one integer per item");
    for (size_t i = 0; st == ACP_OK && i < n; i++) {
        if (r->element[i]->type != REDIS_REPLY_INTEGER)
            st = rd_bad_reply(b, call, op, "expected one integer per item");
        else
            out[i] = r->element[i]->integer;
    }
    freeReplyObject(r);
    return st;
}

/* Arguments per run of the save_runs script (redis_lua.c). */
#define RUN_ARGS 8

static acp_status rd_save_runs(acp_backend *b, const acp_run_record *runs, size_t n,
                               uint32_t flags, acp_status *results, acp_call *call)
{
    rd_op op = {"save_runs", n ? runs[0].run_id : ""};
    size_t argc = 3 + RUN_ARGS * n;
    const char **argv = malloc(argc * sizeof *argv);
    size_t *lens = malloc(argc * sizeof *lens);
    char *c8 = malloc(8 * (n ? n : 1));
    long long *got = calloc(n ? n : 1, sizeof *got);
    acp_status st = ACP_OK;
    if (!argv || !lens || !c8 || !got || argc > INT_MAX) {
        st = b->host->error(call, ACP_NOMEM, "out of memory saving %zu runs", n);
        goto out;
    }
    char ttl[24];
    fmt_i64(ttl, b->conf.ttl_ms);
    argv[0] = b->conf.prefix, lens[0] = b->conf.prefix_len;
    argv[1] = ttl, lens[1] = strlen(ttl);
    argv[2] = flags & ACP_BATCH_INSERT_ONLY ? "1" : "0", lens[2] = 1;
    for (size_t i = 0; i < n; i++) {
        const acp_run_record *run = &runs[i];
        const char **a = argv + 3 + RUN_ARGS * i;
        size_t *l = lens + 3 + RUN_ARGS * i;
        int has_session = run->session_id != NULL;
        put_time(c8 + 8 * i, run->created_us);
        a[0] = run->run_id, l[0] = run->run_id_len;
        a[1] = c8 + 8 * i, l[1] = 8;
        a[2] = run->flags & ACP_RUN_CREATED_DEFAULT ? "1" : "0", l[2] = 1;
        a[3] = run->agent_name, l[3] = run->agent_name_len;
        a[4] = has_session ? "1" : "0", l[4] = 1;
        a[5] = has_session ? run->session_id : "", l[5] = has_session ? run->session_id_len : 0;
        a[6] = run->doc, l[6] = run->doc_len;
        a[7] = run->status, l[7] = strlen(run->status);
    }
    redisReply *r;
    /* An upsert may run twice; an insert_only run again would call its own
     * first write a conflict. */
    st = rd_request(b, call, &op, flags & ACP_BATCH_INSERT_ONLY ? 0 : RD_RETRY, RD_SAVE_RUNS,
                    (int)argc, argv, lens, &r);
    if (st == ACP_OK && (st = ints_reply(b, call, &op, r, n, got)) == ACP_OK)
        for (size_t i = 0; i < n; i++)
            results[i] = got[i] ? ACP_OK : ACP_CONFLICT;
out:
    free(argv);
    free(lens);
    free(c8);
    free(got);
    return st;
}

static acp_status rd_add_events(acp_backend *b, const acp_event_record *evs, size_t n,
                                uint32_t flags, int64_t *seqs, acp_status *results,
                                acp_call *call)
{
    rd_op op = {"add_events for run", n ? evs[0].run_id : ""};
    size_t argc = 2 + 3 * n, bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += 8 + evs[i].doc_len;
    const char **argv = malloc(argc * sizeof *argv);
    size_t *lens = malloc(argc * sizeof *lens);
    char *elems = malloc(bytes ? bytes : 1), *nums = malloc(24 * (n ? n : 1));
    long long *got = calloc(n ? n : 1, sizeof *got);
    acp_status st = ACP_OK;
    if (!argv || !lens || !elems || !nums || !got || argc > INT_MAX) {
        st = b->host->error(call, ACP_NOMEM, "out of memory adding %zu events", n);
        goto out;
    }
    int restore = (flags & ACP_BATCH_RESTORE) != 0;
    char ttl[24];
    fmt_i64(ttl, b->conf.ttl_ms);
    argv[0] = b->conf.prefix, lens[0] = b->conf.prefix_len;
    argv[1] = ttl, lens[1] = strlen(ttl);
    char *e = elems;
    for (size_t i = 0; i < n; i++) {
        const char **a = argv + 2 + 3 * i;
        size_t *l = lens + 2 + 3 * i;
        /* The element: stored time (8 bytes) + document, as add_event. */
        put_time(e, evs[i].stored_us);
        memcpy(e + 8, evs[i].doc, evs[i].doc_len);
        fmt_i64(nums + 24 * i, restore ? seqs[i] : 0);
        a[0] = evs[i].run_id, l[0] = evs[i].run_id_len;
        a[1] = e, l[1] = 8 + evs[i].doc_len;
        a[2] = nums + 24 * i, l[2] = strlen(nums + 24 * i);
        e += 8 + evs[i].doc_len;
    }
    redisReply *r;
    /* Not retried: it might have been stored. */
    st = rd_request(b, call, &op, 0, RD_ADD_EVENTS, (int)argc, argv, lens, &r);
    if (st == ACP_OK && (st = ints_reply(b, call, &op, r, n, got)) == ACP_OK)
        for (size_t i = 0; i < n; i++) {
            results[i] = got[i] > 0 ? ACP_OK : ACP_CONFLICT;
            if (got[i] > 0)
                seqs[i] = got[i];
        }
out:
    free(argv);
    free(lens);
    free(elems);
    free(nums);
    free(got);
    return st;
}

static acp_status rd_get_events(acp_backend *b, const acp_event_query *q, acp_call *call)
{
    rd_op op = {"get_events of run", q->run_id};
    /* Limit 0 means no events (never "all of them"), whatever the caller. */
    if (q->limit <= 0 || q->after_seq < 0 || q->offset < 0)
        return ACP_OK;
    /* Event seq is list position + 1: positions after_seq + offset on. */
    if (q->after_seq > INT64_MAX - q->offset)
        return ACP_OK;
    int64_t start = q->after_seq + q->offset;
    int64_t stop = start > INT64_MAX - q->limit ? INT64_MAX : start + q->limit - 1;
    char key[KEY_MAX], from[24], to[24];
    size_t klen = make_key(b, key, "e:", q->run_id);
    fmt_i64(from, start);
    fmt_i64(to, stop);
    const char *argv[4] = {"LRANGE", key, from, to};
    size_t lens[4] = {6, klen, strlen(from), strlen(to)};
    redisReply *r;
    acp_status st = rd_request(b, call, &op, RD_RETRY, -1, 4, argv, lens, &r);
    if (st != ACP_OK)
        return st;
    if (r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return rd_bad_reply(b, call, &op, "LRANGE did not return a list");
    }
    for (size_t i = 0; st == ACP_OK && i < r->elements && (int64_t)i < q->limit; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING || e->len < 8) {
            st = rd_bad_reply(b, call, &op, "an event is not a string of 8 bytes or more");
            break;
        }
        acp_item it = {.doc = e->str + 8, .doc_len = e->len - 8, .seq = start + (int64_t)i + 1,
                       .stored_us = get_time(e->str)};
        st = emit(b, call, &it);
    }
    freeReplyObject(r);
    return st;
}

/* ------------------------------------------------------------------ */
/* Descriptor                                                           */
/* ------------------------------------------------------------------ */

static acp_status rd_wait_events(acp_backend *b, const acp_event_query *q, acp_call *call)
{
    return rd_follow_wait(b, q, rd_get_events, call); /* redis_follow.c */
}

/* One line per group of methods (runs, sessions, events). */
static const acp_backend_vtable rd_vtable = {
    .open = rd_open, .close = rd_close, .ping = rd_ping,
    .save_run = rd_save_run, .get_run = rd_get_run, .delete_run = rd_delete_run,
    .list_runs = rd_list_runs,
    .save_session = rd_save_session, .get_session = rd_get_session,
    .delete_session = rd_delete_session, .list_sessions = rd_list_sessions,
    .add_event = rd_add_event, .get_events = rd_get_events,
    .wait_events = rd_wait_events,
    .save_runs = rd_save_runs, .add_events = rd_add_events, /* batched writes */
    .migrate = rd_migrate, /* redis_layout.c */
    .stats = rd_stats,     /* redis_stats.c */
};

/* DURABLE: see the top of this file (it depends on the server's
 * persistence).  MULTIPROCESS: every process talks to the same server. */
ACP_PLUGIN_DEFINE_TYPED(redis, RD_VERSION,
                        "Redis (hiredis): runs, sessions and events on a Redis server",
                        ACP_CAP_CONCURRENT | ACP_CAP_DURABLE | ACP_CAP_MULTIPROCESS |
                            ACP_CAP_NETWORK | ACP_CAP_FOLLOW | ACP_CAP_VERSIONS |
                            ACP_CAP_RUN_FILTERS,
                        rd_variants, rd_options, &rd_vtable)
