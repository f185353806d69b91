/* SPDX-License-Identifier: MIT */
/*
 * redis_follow.c - wait_events of the redis backend.  The add_event script
 * publishes each new sequence on the channel P n:<run_id>; a follower
 * subscribes on a connection of its own (a subscribed connection serves
 * nothing else), then looks (get_events on the pool), then sleeps in
 * poll() on the subscription's socket and the cancel descriptor.
 * Subscribed before the look: no append after it goes unnoticed.  Pub/sub
 * is fire and forget, so after a lost connection (server restart) the
 * follower subscribes again and looks again: it resumes from its
 * after_seq with nothing lost or repeated.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "redis_int.h"

/* Pause between attempts while the server is unreachable. */
#define RD_FOLLOW_RETRY_MS 200
/* Bound of the SUBSCRIBE round trip. */
#define RD_FOLLOW_CMD_MS 10000

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A subscribed connection, or NULL (the failure reported in call). */
static rd_conn *subscribe(acp_backend *b, acp_call *call, const rd_op *op, const char *chan,
                          size_t chan_len)
{
    rd_conn *c;
    if (rd_conn_open(b, call, op, b->conf.connect_timeout_ms, RD_FOLLOW_CMD_MS, &c) != ACP_OK)
        return NULL;
    const char *argv[2] = {"SUBSCRIBE", chan};
    size_t lens[2] = {9, chan_len};
    redisReply *r = rd_conn_call(c, 2, argv, lens);
    int ok = r && r->type == REDIS_REPLY_ARRAY;
    if (r)
        freeReplyObject(r);
    if (!ok) {
        b->host->error(call, ACP_UNAVAILABLE, "%s: cannot subscribe to follow run '%.80s'",
                       b->conf.where, op->id);
        rd_conn_close(c);
        return NULL;
    }
    return c;
}

/* Read what arrived: 1 if a message came, 0 if nothing whole yet, -1 if
 * the connection is gone. */
static int take_messages(rd_conn *c)
{
    if (redisBufferRead(c->ctx) != REDIS_OK)
        return -1;
    int got = 0;
    void *r;
    while (redisGetReplyFromReader(c->ctx, &r) == REDIS_OK && r) {
        freeReplyObject(r); /* only our channel is subscribed: any message is news */
        got = 1;
    }
    return c->ctx->err ? -1 : got;
}

acp_status rd_follow_wait(acp_backend *b, const acp_event_query *q,
                          acp_status (*look)(acp_backend *, const acp_event_query *, acp_call *),
                          acp_call *call)
{
    const acp_plugin_host *h = b->host;
    rd_op op = {"wait_events of run", q->run_id};
    size_t rlen = strlen(q->run_id), chan_len = b->conf.prefix_len + 2 + rlen;
    char *chan = malloc(chan_len + 1);
    if (!chan)
        return h->error(call, ACP_NOMEM, "out of memory following run '%.80s'", q->run_id);
    memcpy(chan, b->conf.prefix, b->conf.prefix_len);
    memcpy(chan + b->conf.prefix_len, "n:", 2);
    memcpy(chan + b->conf.prefix_len + 2, q->run_id, rlen + 1);

    int64_t left = h->remaining_ms(call);
    int64_t deadline = left >= 0 ? mono_ms() + left : -1;
    acp_status st = ACP_OK;
    rd_conn *sub = NULL;
    int want_look = 1;
    for (;;) {
        if (!sub) {
            sub = subscribe(b, call, &op, chan, chan_len);
            st = sub ? ACP_OK : ACP_UNAVAILABLE;
            want_look = sub != NULL;
        }
        if (sub && want_look) {
            st = look(b, q, call);
            if ((st != ACP_OK && st != ACP_UNAVAILABLE) || h->emitted(call) > 0)
                break;
            want_look = st == ACP_UNAVAILABLE; /* look again once the server is back */
        }
        if (h->cancelled(call) || (deadline >= 0 && mono_ms() >= deadline))
            break;
        struct pollfd p[2] = {{.fd = sub ? sub->ctx->fd : -1, .events = POLLIN},
                              {.fd = h->cancel_fd(call), .events = POLLIN}};
        int64_t ms = deadline < 0 ? -1 : deadline - mono_ms();
        if (ms < 0 && deadline >= 0)
            ms = 0;
        if (!sub || want_look) /* server down: try again in a while */
            ms = ms < 0 || ms > RD_FOLLOW_RETRY_MS ? RD_FOLLOW_RETRY_MS : ms;
        int n = poll(p, 2, ms > INT_MAX ? INT_MAX : (int)ms);
        if (n < 0 && errno != EINTR) {
            st = h->error(call, ACP_IO, "following run '%.80s': poll: %s", q->run_id,
                          strerror(errno));
            break;
        }
        if (n > 0 && p[0].fd >= 0 && p[0].revents) {
            int got = take_messages(sub);
            if (got < 0) {
                h->log(2, RD_NAME, "%s: follow: connection lost, reconnecting", b->conf.where);
                rd_conn_close(sub);
                sub = NULL;
            }
            want_look = want_look || got > 0;
        }
    }
    /* UNAVAILABLE stays only when the deadline passed while the server was
     * down: the caller learns it, and calls again to resume. */
    if (st == ACP_UNAVAILABLE && h->cancelled(call))
        st = ACP_OK;
    rd_conn_close(sub);
    free(chan);
    return st;
}
