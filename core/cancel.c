/* SPDX-License-Identifier: MIT */
/*
 * cancel.c - cancel tokens, and the host services through which a waiting
 * plugin notices them: a descriptor for poll() (an eventfd that becomes
 * readable once fired) and watches for waiters on a condition variable.
 */
#define _GNU_SOURCE /* eventfd */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"

struct acp_cancel {
    int fd;             /* eventfd: readable once fired; never drained */
    atomic_int fired;
    pthread_mutex_t mu; /* guards watches; held while a wake runs */
    acp__watch *watches;
};

ACP_API acp_status acp_cancel_new(acp_cancel **out, acp_error *err)
{
    if (!out)
        return acp__error(err, ACP_INVALID, "acp_cancel_new: out must not be NULL");
    acp_cancel *c = calloc(1, sizeof *c);
    if (!c)
        return acp__error(err, ACP_NOMEM, "out of memory creating a cancel token");
    c->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->fd < 0) {
        int e = errno;
        free(c);
        return acp__error(err, ACP_IO, "cannot create a cancel token: eventfd: %s", strerror(e));
    }
    atomic_init(&c->fired, 0);
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return ACP_OK;
}

ACP_API void acp_cancel_fire(acp_cancel *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    if (!atomic_exchange(&c->fired, 1)) {
        uint64_t one = 1;
        /* Cannot fail short of a counter overflow, which one write cannot reach. */
        if (write(c->fd, &one, sizeof one) < 0) {
        }
        for (acp__watch *w = c->watches; w; w = w->next)
            w->wake(w->arg);
        c->watches = NULL; /* each wake runs once; unwatch then finds nothing */
    }
    pthread_mutex_unlock(&c->mu);
}

ACP_API int acp_cancel_fired(const acp_cancel *c)
{
    return c ? atomic_load(&((acp_cancel *)c)->fired) : 0;
}

ACP_API void acp_cancel_free(acp_cancel *c)
{
    if (!c)
        return;
    close(c->fd);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

int64_t acp__host_emitted(acp_call *call)
{
    return call && call->page ? (int64_t)call->page->n : 0;
}

int acp__host_cancel_fd(acp_call *call)
{
    return call && call->cancel ? call->cancel->fd : -1;
}

int acp__host_cancelled(acp_call *call)
{
    return call ? acp_cancel_fired(call->cancel) : 0;
}

int acp__host_cancel_watch(acp_call *call, void (*wake)(void *arg), void *arg)
{
    if (!call || !call->cancel || !wake || call->watch.wake)
        return 0; /* no token (or a second watch, against the rules): never woken */
    acp_cancel *c = call->cancel;
    pthread_mutex_lock(&c->mu);
    int fired = atomic_load(&c->fired);
    if (!fired) {
        call->watch.wake = wake;
        call->watch.arg = arg;
        call->watch.next = c->watches;
        c->watches = &call->watch;
    }
    pthread_mutex_unlock(&c->mu);
    return fired;
}

void acp__host_cancel_unwatch(acp_call *call)
{
    if (!call || !call->cancel || !call->watch.wake)
        return;
    acp_cancel *c = call->cancel;
    pthread_mutex_lock(&c->mu);
    for (acp__watch **p = &c->watches; *p; p = &(*p)->next) {
        if (*p == &call->watch) {
            *p = call->watch.next;
            break;
        }
    }
    call->watch.wake = NULL;
    pthread_mutex_unlock(&c->mu);
}
