/* SPDX-License-Identifier: MIT */
/*
 * redis_stats.c - the redis backend's stats (acp-storage stats): figures
 * from the sizes of the store's indexes (redis_lua.c lists the keys),
 * never from a document, each script short so that no client of the
 * shared server waits long:
 *
 *   runs, sessions      ZCARD of P i:a and P S
 *   by status, by agent ZCARD of P i:t:<status>:a and P i:g:<agent>; the
 *                       statuses and agents are found by HSCAN over P w
 *                       (one entry per run, STATS_STEP at a time: the
 *                       store's own keys, never a SCAN of the server)
 *   events              LLEN of each run's list, STATS_STEP runs a script
 *   bytes               MEMORY USAGE of the records, event lists (Redis
 *                       samples long lists), session documents, and the
 *                       indexes of all runs, sessions, statuses and agents
 *   schema_version      the layout (P v; RD_LAYOUT_VERSION for an empty store)
 *
 * Each script first drops the entries of expired runs and sessions, as
 * lists do, so the figures are those of the live store.  Changes made
 * while the walk goes on may be counted or not (no snapshot).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_int.h"

/* Entries of P w per HSCAN step and members per walk script. */
#define STATS_STEP "1000"
#define STATS_STEP_N 1000

/* A list of names (statuses or agents), deduplicated at the end. */
typedef struct names {
    char **v;
    size_t n, cap;
} names;

static int names_add(names *l, const char *s, size_t len)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    char *c = malloc(len + 1);
    if (!c)
        return -1;
    memcpy(c, s, len);
    c[len] = '\0';
    l->v[l->n++] = c;
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_unique(names *l)
{
    if (l->n == 0)
        return;
    qsort(l->v, l->n, sizeof *l->v, cmp_name);
    size_t k = 1;
    for (size_t i = 1; i < l->n; i++) {
        if (strcmp(l->v[i], l->v[k - 1]) == 0)
            free(l->v[i]);
        else
            l->v[k++] = l->v[i];
    }
    l->n = k;
}

static void names_free(names *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

/* Every status and agent named in P w, one HSCAN step per script. */
static acp_status find_names(acp_backend *b, acp_call *call, names *statuses, names *agents)
{
    rd_op op = {"stats", NULL};
    char cursor[32] = "0";
    do {
        const char *argv[3] = {b->conf.prefix, cursor, STATS_STEP};
        size_t lens[3] = {b->conf.prefix_len, strlen(cursor), strlen(STATS_STEP)};
        redisReply *r;
        acp_status st = rd_request(b, call, &op, RD_RETRY, RD_STATS_NAMES, 3, argv, lens, &r);
        if (st != ACP_OK)
            return st;
        int shape = r->type == REDIS_REPLY_ARRAY && r->elements % 2 == 1 &&
                    r->element[0]->type == REDIS_REPLY_STRING &&
                    r->element[0]->len < sizeof cursor;
        for (size_t i = 1; shape && i < r->elements; i++)
            shape = r->element[i]->type == REDIS_REPLY_STRING;
        if (!shape) {
            freeReplyObject(r);
            return rd_bad_reply(b, call, &op, "the names script returned an unexpected shape");
        }
        memcpy(cursor, r->element[0]->str, r->element[0]->len);
        cursor[r->element[0]->len] = '\0';
        int bad = 0;
        for (size_t i = 1; i + 1 < r->elements && !bad; i += 2) {
            const redisReply *s = r->element[i], *a = r->element[i + 1];
            bad = (s->len && names_add(statuses, s->str, s->len)) ||
                  names_add(agents, a->str, a->len);
        }
        freeReplyObject(r);
        if (bad)
            return b->host->error(call, ACP_NOMEM, "out of memory gathering figures");
    } while (strcmp(cursor, "0") != 0);
    names_unique(statuses);
    names_unique(agents);
    return ACP_OK;
}

/* An array reply of n integers. */
static int ints_of(const redisReply *r, size_t n)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (r->element[i]->type != REDIS_REPLY_INTEGER || r->element[i]->integer < 0)
            return 0;
    return 1;
}

/* Runs, sessions, layout, the indexes' bytes, and the runs of each status
 * and agent, reported (names with no runs left out). */
static acp_status count(acp_backend *b, acp_call *call, const names *statuses,
                        const names *agents, long long *bytes)
{
    rd_op op = {"stats", NULL};
    size_t argc = 2 + statuses->n + agents->n;
    const char **argv = malloc(argc * sizeof *argv);
    size_t *lens = malloc(argc * sizeof *lens);
    char ns[24];
    snprintf(ns, sizeof ns, "%zu", statuses->n);
    if (!argv || !lens) {
        free(argv);
        free(lens);
        return b->host->error(call, ACP_NOMEM, "out of memory gathering figures");
    }
    argv[0] = b->conf.prefix;
    lens[0] = b->conf.prefix_len;
    argv[1] = ns;
    lens[1] = strlen(ns);
    for (size_t i = 0; i < statuses->n + agents->n; i++) {
        argv[2 + i] = i < statuses->n ? statuses->v[i] : agents->v[i - statuses->n];
        lens[2 + i] = strlen(argv[2 + i]);
    }
    redisReply *r;
    acp_status st =
        rd_request(b, call, &op, RD_RETRY, RD_STATS_COUNT, (int)argc, argv, lens, &r);
    free(argv);
    free(lens);
    if (st != ACP_OK)
        return st;
    if (!ints_of(r, 4 + statuses->n + agents->n)) {
        freeReplyObject(r);
        return rd_bad_reply(b, call, &op, "the count script returned an unexpected shape");
    }
    const acp_plugin_host *h = b->host;
    long long layout = r->element[2]->integer;
    int bad = h->stat(call, ACP_STAT_RUNS, NULL, r->element[0]->integer) ||
              h->stat(call, ACP_STAT_SESSIONS, NULL, r->element[1]->integer) ||
              h->stat(call, ACP_STAT_SCHEMA_VERSION, NULL, layout ? layout : RD_LAYOUT_VERSION);
    *bytes = r->element[3]->integer;
    for (size_t i = 0; i < statuses->n + agents->n && !bad; i++) {
        long long n = r->element[4 + i]->integer;
        if (n > 0)
            bad = i < statuses->n
                      ? h->stat(call, ACP_STAT_RUNS_BY_STATUS, statuses->v[i], n)
                      : h->stat(call, ACP_STAT_RUNS_BY_AGENT, agents->v[i - statuses->n], n);
    }
    freeReplyObject(r);
    return bad ? h->error(call, ACP_NOMEM, "out of memory reporting figures") : ACP_OK;
}

/* The events (kind "r") and bytes of every run, or the bytes of every
 * session (kind "s"), STATS_STEP members a script. */
static acp_status walk(acp_backend *b, acp_call *call, const char *kind, long long *events,
                       long long *bytes)
{
    rd_op op = {"stats", NULL};
    /* '-', or '(' + the last member seen (8 bytes + an id, or a session id). */
    char after[1 + 8 + 1024] = "-";
    size_t after_len = 1;
    for (;;) {
        const char *argv[4] = {b->conf.prefix, kind, after, STATS_STEP};
        size_t lens[4] = {b->conf.prefix_len, 1, after_len, strlen(STATS_STEP)};
        redisReply *r;
        acp_status st = rd_request(b, call, &op, RD_RETRY, RD_STATS_WALK, 4, argv, lens, &r);
        if (st != ACP_OK)
            return st;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
            r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len >= sizeof after - 1 ||
            r->element[1]->type != REDIS_REPLY_INTEGER ||
            r->element[2]->type != REDIS_REPLY_INTEGER ||
            r->element[3]->type != REDIS_REPLY_INTEGER) {
            freeReplyObject(r);
            return rd_bad_reply(b, call, &op, "the walk script returned an unexpected shape");
        }
        long long n = r->element[1]->integer;
        *events += r->element[2]->integer;
        *bytes += r->element[3]->integer;
        after[0] = '(';
        memcpy(after + 1, r->element[0]->str, r->element[0]->len);
        after_len = 1 + r->element[0]->len;
        freeReplyObject(r);
        if (n < STATS_STEP_N)
            return ACP_OK;
    }
}

acp_status rd_stats(acp_backend *b, acp_call *call)
{
    if (b->host->size < offsetof(acp_plugin_host, stat) + sizeof b->host->stat || !b->host->stat)
        return ACP_UNSUPPORTED;
    names statuses = {0}, agents = {0};
    long long bytes = 0, events = 0, sbytes = 0, unused = 0;
    acp_status st = find_names(b, call, &statuses, &agents);
    if (st == ACP_OK)
        st = count(b, call, &statuses, &agents, &bytes);
    names_free(&statuses);
    names_free(&agents);
    if (st == ACP_OK)
        st = walk(b, call, "r", &events, &bytes);
    if (st == ACP_OK)
        st = walk(b, call, "s", &unused, &sbytes);
    if (st != ACP_OK)
        return st;
    if (b->host->stat(call, ACP_STAT_EVENTS, NULL, events) ||
        b->host->stat(call, ACP_STAT_BYTES, NULL, bytes + sbytes))
        return b->host->error(call, ACP_NOMEM, "out of memory reporting figures");
    return ACP_OK;
}
