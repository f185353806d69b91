/* SPDX-License-Identifier: MIT */
/*
 * copy_read.c - a store's runs and events read ahead: a reader thread lists
 * pages of runs and their events (acp_event_list_runs) into a short queue
 * while the caller's thread hands the previous pages to the sink, so that
 * the source's round trips overlap the target's writes.  The queue holds at
 * most QUEUE pages: memory stays bounded whatever the store's size.  The
 * sink, the progress callback and the counts stay on the caller's thread.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "copy.h"

/* Runs per page, events per page, pages read ahead at most. */
#define RUN_PAGE 500
#define EVENT_PAGE 1000
#define QUEUE 4

enum { Q_RUNS, Q_EVENTS, Q_END, Q_ERROR };

typedef struct qitem {
    int kind;
    acp_page *p;
} qitem;

typedef struct ahead {
    acp_store *src;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    qitem q[QUEUE];
    size_t head, n;
    int stop;       /* the caller has stopped: read no more */
    acp_status st;  /* the reader's failure (with Q_ERROR) */
    acp_error err;
} ahead;

/* Queue p (taken over); 1 when the caller has stopped (p is freed). */
static int push(ahead *a, int kind, acp_page *p)
{
    pthread_mutex_lock(&a->mu);
    while (a->n == QUEUE && !a->stop)
        pthread_cond_wait(&a->cv, &a->mu);
    int stopped = a->stop;
    if (!stopped) {
        a->q[(a->head + a->n) % QUEUE] = (qitem){kind, p};
        a->n++;
        pthread_cond_broadcast(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    if (stopped)
        acp_page_free(p);
    return stopped;
}

static qitem pop(ahead *a)
{
    pthread_mutex_lock(&a->mu);
    while (a->n == 0)
        pthread_cond_wait(&a->cv, &a->mu);
    qitem it = a->q[a->head];
    a->head = (a->head + 1) % QUEUE;
    a->n--;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    return it;
}

/* The ids of a page of runs, copied (the page goes to the other thread). */
static char **copy_ids(const acp_page *p, size_t n)
{
    char **ids = calloc(n ? n : 1, sizeof *ids);
    for (size_t i = 0; ids && i < n; i++)
        if (!(ids[i] = strdup(acp_page_key(p, i)))) {
            while (i--)
                free(ids[i]);
            free(ids);
            return NULL;
        }
    return ids;
}

static void free_ids(char **ids, size_t n)
{
    for (size_t i = 0; ids && i < n; i++)
        free(ids[i]);
    free(ids);
}

/* Queue the events of ids[0..n-1], EVENT_PAGE at a time (*stopped: the
 * caller has stopped). */
static acp_status read_events(ahead *a, char **ids, size_t n, int *stopped)
{
    size_t from = 0;
    int64_t after = 0;
    for (;;) {
        acp_page *ev;
        acp_status st = acp_event_list_runs(a->src, (const char *const *)ids + from, n - from,
                                            after, EVENT_PAGE, &ev, &a->err);
        if (st != ACP_OK)
            return st;
        size_t k = acp_page_count(ev);
        int full = k == EVENT_PAGE;
        if (full) { /* go on after the last event, from its run */
            const char *last = acp_page_key(ev, k - 1);
            while (from < n && strcmp(ids[from], last) != 0)
                from++;
            after = acp_page_seq(ev, k - 1);
        }
        if (!k)
            acp_page_free(ev);
        else if ((*stopped = push(a, Q_EVENTS, ev)))
            return ACP_OK;
        if (!full)
            return ACP_OK;
    }
}

static void *read_source(void *arg)
{
    ahead *a = arg;
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.limit = RUN_PAGE;
    char *cursor = NULL;
    acp_status st = ACP_OK;
    int stopped = 0;
    while (!stopped) {
        f.cursor = cursor;
        acp_page *p;
        if ((st = acp_run_list(a->src, &f, &p, &a->err)) != ACP_OK)
            break;
        size_t n = acp_page_count(p);
        const char *next = acp_page_next_cursor(p);
        char *nc = next ? strdup(next) : NULL;
        char **ids = copy_ids(p, n);
        if ((next && !nc) || !ids) {
            acp_page_free(p);
            free(nc);
            free_ids(ids, n);
            st = acp__error(&a->err, ACP_NOMEM, "out of memory listing runs");
            break;
        }
        if (!(stopped = push(a, Q_RUNS, p)) && n)
            st = read_events(a, ids, n, &stopped);
        free_ids(ids, n);
        free(cursor);
        cursor = nc;
        if (st != ACP_OK || !cursor)
            break;
    }
    free(cursor);
    if (!stopped) {
        a->st = st;
        push(a, st == ACP_OK ? Q_END : Q_ERROR, NULL);
    }
    return NULL;
}

/* Hand the queued pages to the sink: each run's record, then its events. */
static acp_status consume(ahead *a, const acp__sink *k, acp__copy *c, acp_error *err)
{
    qitem next = pop(a);
    acp_status st = ACP_OK;
    while (st == ACP_OK && next.kind == Q_RUNS) {
        acp_page *runs = next.p, *ev = NULL;
        size_t ei = 0;
        next = pop(a);
        for (size_t i = 0; st == ACP_OK && i < acp_page_count(runs); i++) {
            size_t len;
            const char *id = acp_page_key(runs, i), *doc = acp_page_json(runs, i, &len);
            st = k->run(k->self, id, acp_page_time_us(runs, i), doc, len, err);
            while (st == ACP_OK) {
                if (!ev || ei == acp_page_count(ev)) {
                    acp_page_free(ev);
                    ev = NULL;
                    if (next.kind != Q_EVENTS)
                        break;
                    ev = next.p;
                    ei = 0;
                    next = pop(a);
                }
                if (strcmp(acp_page_key(ev, ei), id) != 0)
                    break; /* a later run's: this one has no more */
                const char *edoc = acp_page_json(ev, ei, &len);
                st = k->event(k->self, acp_page_seq(ev, ei), acp_page_time_us(ev, ei), edoc,
                              len, err);
                c->rep.events++;
                ei++;
            }
            if (st == ACP_OK) {
                c->rep.runs++;
                st = acp__copy_progress(c, err);
            }
        }
        if (st == ACP_OK && ((ev && ei < acp_page_count(ev)) || next.kind == Q_EVENTS))
            st = acp__error(err, ACP_PLUGIN, "%s: events came back for a run not listed",
                            acp_store_backend(a->src));
        acp_page_free(ev);
        acp_page_free(runs);
    }
    if (st == ACP_OK && next.kind == Q_ERROR) {
        if (err)
            *err = a->err;
        st = a->st;
    }
    acp_page_free(next.p);
    return st;
}

acp_status acp__walk_runs(acp_store *src, const acp__sink *k, acp__copy *c, acp_error *err)
{
    ahead *a = calloc(1, sizeof *a);
    if (!a)
        return acp__error(err, ACP_NOMEM, "out of memory starting a copy");
    a->src = src;
    acp_status st = ACP_OK;
    pthread_t t;
    if (pthread_mutex_init(&a->mu, NULL) != 0) {
        free(a);
        return acp__error(err, ACP_NOMEM, "cannot start the reader of a copy");
    }
    int cv = pthread_cond_init(&a->cv, NULL) == 0;
    if (!cv || pthread_create(&t, NULL, read_source, a) != 0) {
        if (cv)
            pthread_cond_destroy(&a->cv);
        pthread_mutex_destroy(&a->mu);
        free(a);
        return acp__error(err, ACP_NOMEM, "cannot start the reader of a copy");
    }
    st = consume(a, k, c, err);
    /* Stop the reader (it may wait on a full queue), then drop what it left. */
    pthread_mutex_lock(&a->mu);
    a->stop = 1;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(t, NULL);
    for (; a->n; a->n--, a->head = (a->head + 1) % QUEUE)
        acp_page_free(a->q[a->head].p);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a);
    return st;
}
