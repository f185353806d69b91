/* SPDX-License-Identifier: MIT */
/*
 * redis_threads.c - many threads on one redis handle with a small pool
 * while the server keeps dropping every client connection (CLIENT KILL);
 * then a quiet phase in which every call must succeed again.  Plain C (no
 * Criterion) so that it also runs under ThreadSanitizer.
 *
 *   redis_threads <redis-uri> [threads] [ops-per-thread]
 *
 * While connections are being killed a call may fail, but only with
 * UNAVAILABLE; event sequences handed out stay unique, and the stream has
 * no gap (an append whose answer was lost still took its number).
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "acp_storage.h"

#define MAX_THREADS 64
#define MAX_SEQ 200000

static acp_store *store;
static int ops;
static atomic_int failures, unavailable, stop_killing;
static atomic_uchar seen[MAX_SEQ + 1];
static char host_port[64];

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "redis_threads: " __VA_ARGS__);                                            \
        fputc('\n', stderr);                                                                       \
        atomic_fetch_add(&failures, 1);                                                            \
    } while (0)

/* A failure is fine only as UNAVAILABLE, and only while connections die. */
static void check(acp_status st, const acp_error *e, int quiet, const char *what)
{
    if (st == ACP_OK || st == ACP_NOT_FOUND)
        return;
    if (st == ACP_UNAVAILABLE && !quiet) {
        atomic_fetch_add(&unavailable, 1);
        return;
    }
    FAIL("%s: %s: %s", what, acp_status_name(st), e->message);
}

static void one_op(int t, int i, int quiet)
{
    char id[64], doc[256];
    acp_error e;
    acp_status st;
    snprintf(id, sizeof id, "t%d:run %d", t, i % 10);
    switch (i % 6) {
    case 0:
    case 1:
        snprintf(doc, sizeof doc,
                 "{\"run_id\":\"%s\",\"agent_name\":\"agent-%d\",\"session_id\":\"s%d\","
                 "\"status\":\"created\"}",
                 id, t % 3, i % 4);
        check(acp_run_save(store, doc, ACP_STRLEN, &e), &e, quiet, "save_run");
        break;
    case 2: {
        char *json = NULL;
        st = acp_run_get(store, id, &json, NULL, &e);
        check(st, &e, quiet, "get_run");
        acp_free(json);
        break;
    }
    case 3: {
        acp_run_filter f = ACP_RUN_FILTER_INIT;
        char agent[32];
        snprintf(agent, sizeof agent, "agent-%d", t % 3);
        f.agent_name = agent;
        f.want_total = 1;
        acp_page *p = NULL;
        st = acp_run_list(store, &f, &p, &e);
        check(st, &e, quiet, "list_runs");
        if (st == ACP_OK && (int64_t)acp_page_count(p) > acp_page_total(p))
            FAIL("list_runs: %zu runs but total %" PRId64, acp_page_count(p), acp_page_total(p));
        acp_page_free(p);
        break;
    }
    case 4: {
        int64_t seq = 0;
        st = acp_event_add(store, "shared", "{\"type\":\"tick\"}", ACP_STRLEN, &seq, &e);
        check(st, &e, quiet, "add_event");
        if (st == ACP_OK) {
            if (seq < 1 || seq > MAX_SEQ)
                FAIL("add_event returned sequence %" PRId64, seq);
            else if (atomic_fetch_add(&seen[seq], 1) != 0)
                FAIL("sequence %" PRId64 " handed out twice", seq);
        }
        break;
    }
    default:
        check(acp_run_delete(store, id, &e), &e, quiet, "delete_run");
        break;
    }
}

static void *worker(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < ops; i++)
        one_op(t, i, 0);
    return NULL;
}

/* Drops every normal client connection of the server, again and again. */
static void *killer(void *arg)
{
    (void)arg;
    char host[64];
    int port;
    if (sscanf(host_port, "%63[^:]:%d", host, &port) != 2) {
        FAIL("cannot read host:port from %s", host_port);
        return NULL;
    }
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (!c || c->err) {
        FAIL("killer cannot connect to %s", host_port);
        redisFree(c);
        return NULL;
    }
    struct timespec pause = {0, 15 * 1000000L};
    while (!atomic_load(&stop_killing)) {
        redisReply *r = redisCommand(c, "CLIENT KILL TYPE normal SKIPME yes");
        if (!r) {
            FAIL("CLIENT KILL failed: %s", c->errstr);
            break;
        }
        freeReplyObject(r);
        nanosleep(&pause, NULL);
    }
    redisFree(c);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: redis_threads <redis-uri> [threads] [ops-per-thread]\n");
        return 2;
    }
    int nthreads = argc > 2 ? atoi(argv[2]) : 12;
    ops = argc > 3 ? atoi(argv[3]) : 300;
    if (nthreads < 1 || nthreads > MAX_THREADS || ops < 1 || (long)nthreads * ops > MAX_SEQ) {
        fprintf(stderr, "redis_threads: bad thread or operation count\n");
        return 2;
    }
    const char *hp = strstr(argv[1], "://");
    if (!hp || sscanf(hp + 3, "%63[^/?]", host_port) != 1) {
        fprintf(stderr, "redis_threads: %s is not redis://host:port/...\n", argv[1]);
        return 2;
    }
    char uri[512];
    snprintf(uri, sizeof uri, "%s%cprefix=threads:%ld:%ld:&pool_size=4", argv[1],
             strchr(argv[1], '?') ? '&' : '?', (long)getpid(), (long)time(NULL));
    acp_error e;
    if (acp_store_open(uri, &store, &e) != ACP_OK) {
        fprintf(stderr, "redis_threads: cannot open %s: %s\n", uri, e.message);
        return 1;
    }

    pthread_t th[MAX_THREADS], k;
    pthread_create(&k, NULL, killer, NULL);
    for (int t = 0; t < nthreads; t++)
        pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t);
    for (int t = 0; t < nthreads; t++)
        pthread_join(th[t], NULL);
    atomic_store(&stop_killing, 1);
    pthread_join(k, NULL);

    /* Quiet: the handle must work again at once, for every operation. */
    for (int t = 0; t < nthreads; t++)
        for (int i = 0; i < 12; i++)
            one_op(t, i, 1);

    /* The stream: 1..N without a gap; every number handed out is in it. */
    int64_t n = 0, expect = 1;
    for (;;) {
        acp_event_filter f = ACP_EVENT_FILTER_INIT;
        f.limit = 1000;
        f.after_seq = n;
        acp_page *p = NULL;
        if (acp_event_list(store, "shared", &f, &p, &e) != ACP_OK) {
            FAIL("get_events: %s", e.message);
            break;
        }
        size_t cnt = acp_page_count(p);
        for (size_t i = 0; i < cnt; i++, expect++)
            if (acp_page_seq(p, i) != expect)
                FAIL("event %" PRId64 " has sequence %" PRId64, expect, acp_page_seq(p, i));
        n += (int64_t)cnt;
        acp_page_free(p);
        if (cnt < 1000)
            break;
    }
    long handed = 0;
    for (long s = 1; s <= MAX_SEQ; s++)
        if (atomic_load(&seen[s])) {
            handed++;
            if (s > n)
                FAIL("sequence %ld was handed out but the stream ends at %" PRId64, s, n);
        }
    acp_store_close(store);
    printf("redis_threads: %d threads x %d ops, %ld appends acknowledged, stream of %" PRId64
           ", %d calls UNAVAILABLE while connections were killed: %s\n",
           nthreads, ops, handed, n, atomic_load(&unavailable),
           atomic_load(&failures) ? "FAILED" : "ok");
    return atomic_load(&failures) ? 1 : 0;
}
