/* SPDX-License-Identifier: MIT */
/*
 * flushgroup.c - group commit for flushes that cover every change made
 * before they start (flushgroup.h).  With sync=always, saves rename their
 * document into runs/ or sessions/ and need the folder flushed: concurrent
 * savers share one fsync() of the folder instead of one each.
 */
#include "flushgroup.h"

int fg_init(flush_group *g)
{
    *g = (flush_group){0};
    int e = pthread_mutex_init(&g->mu, NULL);
    if (e)
        return e;
    if ((e = pthread_cond_init(&g->cv, NULL)) != 0)
        pthread_mutex_destroy(&g->mu);
    return e;
}

void fg_destroy(flush_group *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

int fg_flush(flush_group *g, int (*flush)(void *arg), void *arg)
{
    pthread_mutex_lock(&g->mu);
    uint64_t t = ++g->issued;
    int rc;
    for (;;) {
        if (t <= g->done) {
            /* Ours ended: no later batch can end before every writer of
             * this one has read its result (unread). */
            rc = g->batch_err;
            if (--g->unread == 0)
                pthread_cond_broadcast(&g->cv);
            break;
        }
        if (!g->flushing && g->unread == 0) {
            /* Every ticket up to hi was taken after its change was made,
             * and before this flush starts: the flush covers them all. */
            uint64_t lo = g->done, hi = g->issued;
            g->flushing = 1;
            pthread_mutex_unlock(&g->mu);
            int e = flush(arg);
            pthread_mutex_lock(&g->mu);
            g->flushing = 0;
            g->flushes++;
            g->done = hi;
            g->batch_err = e;
            g->unread = hi - lo;
            pthread_cond_broadcast(&g->cv);
            continue;
        }
        pthread_cond_wait(&g->cv, &g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    return rc;
}
