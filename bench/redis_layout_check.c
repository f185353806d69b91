/* SPDX-License-Identifier: MIT */
/*
 * redis_layout_check.c - the bench_redis_layout test: the raw Redis
 * baseline must write the redis backend's key layout, or the benchmark
 * compares unlike work.  The baseline has its own scripts
 * (baseline_redis_lua.c) and shares no code with the plugin, so a layout
 * change in the plugin is caught here: the same runs (with and without a
 * session), events, session and deletion, written once through the public
 * API under one key prefix and once by the baseline's scripts under
 * another, must leave the same key names with the same types and sizes.
 *
 *   bench-redis-layout-check <redis URI>   (tests/redis/with-server.sh)
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "acp_storage.h"
#include "baseline_redis_lua.h"
#include "schema_diff.h"

#define PLUGIN "bench_layout:p:"
#define BASE "bench_layout:b:"

static redisContext *conn;

static const char *const run_doc[2] = {
    "{\"run_id\":\"run-a\",\"agent_name\":\"agent-1\",\"session_id\":\"sess-1\","
    "\"status\":\"in-progress\",\"output\":[],\"created_at\":\"2026-01-02T03:04:05Z\"}",
    "{\"run_id\":\"run-b\",\"agent_name\":\"agent-2\",\"status\":\"in-progress\","
    "\"output\":[],\"created_at\":\"2026-01-02T03:04:06Z\"}"};
static const char session_doc[] = "{\"id\":\"sess-1\",\"history\":[]}";
static const char event_doc[] =
    "{\"type\":\"message.part\",\"part\":{\"content_type\":\"text/plain\",\"content\":\"x\"}}";

static void drop(const char *prefix)
{
    redisReply *r = redisCommand(conn, "EVAL %s 0 %s",
                                 "local function keys(p) local out, cur = {}, '0' repeat"
                                 " local r = redis.call('SCAN', cur, 'MATCH', p, 'COUNT', 1000)"
                                 " cur = r[1] for _, k in ipairs(r[2]) do out[#out + 1] = k end"
                                 " until cur == '0' return out end"
                                 " for _, k in ipairs(keys(ARGV[1] .. '*')) do"
                                 " redis.call('DEL', k) end return 1",
                                 prefix);
    freeReplyObject(r);
}

/* Run a baseline script (by EVAL); 0, or -1 with the error printed. */
static int script(int s, int argc, const char **argv)
{
    const char *av[12] = {"EVAL", brd_scripts[s], "0"};
    for (int i = 0; i < argc; i++)
        av[3 + i] = argv[i];
    redisReply *r = redisCommandArgv(conn, argc + 3, av, NULL);
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (!ok)
        fprintf(stderr, "baseline script %d: %s\n", s, r ? r->str : conn->errstr);
    freeReplyObject(r);
    return ok ? 0 : -1;
}

static int write_plugin(const char *uri)
{
    acp_store *s;
    acp_error e;
    int64_t seq;
    char u[600];
    snprintf(u, sizeof u, "%s?prefix=" PLUGIN, uri);
    if (acp_store_open(u, &s, &e) != ACP_OK) {
        fprintf(stderr, "cannot open %s: %s\n", u, e.message);
        return -1;
    }
    int ok = acp_run_save(s, run_doc[0], strlen(run_doc[0]), &e) == ACP_OK &&
             acp_run_save(s, run_doc[1], strlen(run_doc[1]), &e) == ACP_OK &&
             acp_run_save(s, run_doc[0], strlen(run_doc[0]), &e) == ACP_OK &&
             acp_event_add(s, "run-a", event_doc, strlen(event_doc), &seq, &e) == ACP_OK &&
             acp_event_add(s, "run-a", event_doc, strlen(event_doc), &seq, &e) == ACP_OK &&
             acp_event_add(s, "run-b", event_doc, strlen(event_doc), &seq, &e) == ACP_OK &&
             acp_session_save(s, session_doc, strlen(session_doc), &e) == ACP_OK &&
             acp_run_delete(s, "run-b", &e) == ACP_OK;
    if (!ok)
        fprintf(stderr, "plugin: %s: %s\n", acp_status_name(e.code), e.message);
    acp_store_close(s);
    return ok ? 0 : -1;
}

static int write_base(void)
{
    /* Times without NUL bytes: arguments go as C strings. */
    const char *c8 = "\x80\x01\x01\x01\x01\x01\x01\x01";
    char ev[200] = "\x80\x01\x01\x01\x01\x01\x01\x02";
    strcat(ev, event_doc);
    const char *a1[] = {BASE, "run-a", c8, "agent-1", "1", "sess-1", run_doc[0], "in-progress"};
    const char *a2[] = {BASE, "run-b", c8, "agent-2", "0", "", run_doc[1], "in-progress"};
    const char *e1[] = {BASE, "run-a", ev}, *e2[] = {BASE, "run-b", ev};
    const char *s1[] = {BASE, "sess-1", session_doc}, *d2[] = {BASE, "run-b"};
    freeReplyObject(redisCommand(conn, "SET " BASE "v 2")); /* the backend's open sets it */
    return script(BRD_SAVE_RUN, 8, a1) || script(BRD_SAVE_RUN, 8, a2) ||
                   script(BRD_SAVE_RUN, 8, a1) || script(BRD_ADD_EVENT, 3, e1) ||
                   script(BRD_ADD_EVENT, 3, e1) || script(BRD_ADD_EVENT, 3, e2) ||
                   script(BRD_SAVE_SESSION, 3, s1) || script(BRD_DELETE_RUN, 2, d2)
               ? -1
               : 0;
}

/* "key-without-prefix type size" lines, sorted, malloc'd; NULL on error. */
static char *describe(const char *prefix)
{
    redisReply *r = redisCommand(
        conn, "EVAL %s 0 %s",
        "local function keys(p) local out, cur = {}, '0' repeat\n"
        "  local r = redis.call('SCAN', cur, 'MATCH', p, 'COUNT', 1000)\n"
        "  cur = r[1] for _, k in ipairs(r[2]) do out[#out + 1] = k end\n"
        "until cur == '0' return out end\n"
        "local out = {}\n"
        "for _, k in ipairs(keys(ARGV[1] .. '*')) do\n"
        "  local t = redis.call('TYPE', k)['ok']\n"
        "  local n = 1\n"
        "  if t == 'list' then n = redis.call('LLEN', k)\n"
        "  elseif t == 'zset' then n = redis.call('ZCARD', k)\n"
        "  elseif t == 'hash' then n = redis.call('HLEN', k) end\n"
        "  out[#out + 1] = string.sub(k, #ARGV[1] + 1) .. ' ' .. t .. ' ' .. n\n"
        "end\n"
        "table.sort(out)\n"
        "return table.concat(out, '\\n')\n",
        prefix);
    char *d = r && r->type == REDIS_REPLY_STRING ? strdup(r->str) : NULL;
    if (!d)
        fprintf(stderr, "describe %s: %s\n", prefix, r && r->str ? r->str : conn->errstr);
    freeReplyObject(r);
    return d;
}

int main(int argc, char **argv)
{
    if (argc != 2 || strlen(argv[1]) > 500) {
        fprintf(stderr, "usage: %s <redis URI>\n", argv[0]);
        return 2;
    }
    char host[256] = "127.0.0.1";
    int port = 6379;
    if (sscanf(argv[1], "redis://%255[^:/]:%d", host, &port) < 1) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 2;
    }
    conn = redisConnect(host, port);
    if (!conn || conn->err) {
        fprintf(stderr, "cannot connect to %s:%d\n", host, port);
        return 1;
    }
    /* The URI's database, as the plugin selects it. */
    const char *db = strchr(argv[1] + 8, '/');
    if (db && db[1])
        freeReplyObject(redisCommand(conn, "SELECT %d", atoi(db + 1)));
    drop(PLUGIN);
    drop(BASE);
    if (write_plugin(argv[1]) != 0 || write_base() != 0)
        return 1;
    char *p = describe(PLUGIN), *b = describe(BASE);
    int ok = schema_diff_same("the keys", p, b, 1);
    if (!ok)
        fprintf(stderr, "FAIL: the raw Redis baseline (bench/baseline_redis_lua.c) no longer "
                        "writes the redis backend's key layout; follow the backend's change "
                        "there\n");
    if (ok && !(strstr(p, "r:run-a string") && strstr(p, "e:run-a list 2") &&
                strstr(p, "i:gs:7:agent-1sess-1 zset 1") &&
                strstr(p, "i:t:in-progress:gs:7:agent-1sess-1 zset 1") &&
                strstr(p, "v string") && strstr(p, "S zset 1") &&
                strstr(p, "w hash 1") && !strstr(p, "run-b "))) {
        fprintf(stderr, "FAIL: the description misses keys:\n%s\n", p);
        ok = 0;
    }
    /* The comparison must notice one more key. */
    if (ok) {
        freeReplyObject(redisCommand(conn, "SET " BASE "extra 1"));
        char *x = describe(BASE);
        if (!x || strcmp(p, x) == 0) {
            fprintf(stderr, "FAIL: the comparison does not notice an extra key\n");
            ok = 0;
        }
        free(x);
    }
    if (ok)
        printf("bench_redis_layout: the baseline writes the backend's keys:\n%s\n", p);
    drop(PLUGIN);
    drop(BASE);
    free(p);
    free(b);
    redisFree(conn);
    return ok ? 0 : 1;
}
