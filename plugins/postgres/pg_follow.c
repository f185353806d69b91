/* SPDX-License-Identifier: MIT */
/*
 * pg_follow.c - wait_events of the postgres backend: LISTEN on one pooled
 * connection, look (get_events on that same connection, so that a follower
 * never needs a second one), and sleep in poll() on its socket until a
 * NOTIFY for the run (add_event sends it in its own transaction, so it
 * arrives at commit, from any client on any machine), the deadline or the
 * cancel descriptor.  LISTEN is in force before the look starts, so no
 * commit after the look's snapshot goes unnoticed.  A lost connection
 * (server restart) is replaced, LISTEN renewed and the run looked at again:
 * the follower resumes from its after_seq with nothing lost or repeated.
 * While it sleeps, its connection is lent out of the pool's count
 * (pg_pool_lend), so that any number of followers leaves the pool to the
 * appends.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>

#include "pg.h"

/* Round trips of the wait itself (LISTEN, the look) get at least this
 * long, whatever is left of the wait: a follower near its deadline must
 * not fail for lack of time to ask. */
#define PG_FOLLOW_STMT_MS 10000
/* While the server is unreachable: the pause between attempts. */
#define PG_FOLLOW_RETRY_MS 200

/* How long poll() may sleep: until the wait's deadline (-1: none), or at
 * most cap ms when cap >= 0. */
static int sleep_ms(int64_t deadline, int64_t cap)
{
    int64_t left = deadline < 0 ? -1 : deadline - pg_mono_ms();
    if (deadline >= 0 && left < 0)
        left = 0;
    if (cap >= 0 && (left < 0 || left > cap))
        left = cap;
    return left > INT_MAX ? INT_MAX : (int)left;
}

/* Read what the server sent; 1 if a notification names the run, 0 if
 * not, -1 if the connection is gone. */
static int take_notifies(PGconn *pg, const char *run_id)
{
    if (!PQconsumeInput(pg) || PQstatus(pg) != CONNECTION_OK)
        return -1;
    int hit = 0;
    PGnotify *n;
    while ((n = PQnotifies(pg)) != NULL) {
        if (n->extra && strcmp(n->extra, run_id) == 0)
            hit = 1;
        PQfreemem(n);
    }
    return hit;
}

/* A connection from the pool, listening; ACP_OK or the failure (reported). */
static acp_status listen_on(pg_req *r)
{
    r->deadline_ms = pg_mono_ms() + PG_FOLLOW_STMT_MS;
    PGresult *res;
    acp_status st = pg_exec_sql(r, "LISTEN " PG_CHANNEL, &res);
    if (st == ACP_OK)
        PQclear(res);
    return st;
}

/* The listening connection is gone: log it and give it back, so that the
 * pool sees it is dead and drops it.  Returns 0: no longer listening. */
static int connection_lost(pg_req *r)
{
    acp_backend *b = r->b;
    b->host->log(2, PG_NAME, "%s: follow: connection lost, reconnecting", b->uri_redacted);
    pg_req_done(r);
    return 0;
}

acp_status pg_wait_events(acp_backend *b, const acp_event_query *q, acp_call *call)
{
    const acp_plugin_host *h = b->host;
    int64_t left = h->remaining_ms(call);
    int64_t deadline = left >= 0 ? pg_mono_ms() + left : -1;
    pg_req r;
    pg_req_init(&r, b, call, "wait_events", "run", q->run_id, 1);
    acp_status st = ACP_OK;
    int listening = 0, look = 1;
    for (;;) {
        if (!listening) {
            if ((st = listen_on(&r)) == ACP_OK) {
                listening = look = 1;
            } else if (st != ACP_UNAVAILABLE) {
                break;
            }
        }
        if (listening && look) {
            r.deadline_ms = pg_mono_ms() + PG_FOLLOW_STMT_MS;
            st = pg_get_events_req(&r, q);
            if (st == ACP_UNAVAILABLE)
                listening = 0; /* the connection went with it: listen again */
            else if (st != ACP_OK || h->emitted(call) > 0)
                break;
            look = 0;
        }
        if (h->cancelled(call) || (deadline >= 0 && pg_mono_ms() >= deadline))
            break;
        if (listening && r.conn) {
            /* A NOTIFY that arrived with the look's results is already
             * queued in libpq, not on the socket: poll() would sleep
             * through it until the deadline. */
            int hit = take_notifies(r.conn->pg, q->run_id);
            if (hit != 0) {
                if (hit < 0)
                    listening = connection_lost(&r);
                look = 1;
                continue;
            }
        }
        /* Sleep: on the socket while listening; between attempts to reach
         * the server while it is down. */
        struct pollfd p[2] = {{.fd = -1, .events = POLLIN}, {.fd = h->cancel_fd(call), .events = POLLIN}};
        if (listening && r.conn)
            p[0].fd = PQsocket(r.conn->pg);
        int lent = p[0].fd >= 0;
        if (lent)
            pg_pool_lend(b, 1);
        int n = poll(p, 2, sleep_ms(deadline, listening ? -1 : PG_FOLLOW_RETRY_MS));
        if (lent)
            pg_pool_lend(b, 0);
        if (n < 0 && errno != EINTR) {
            st = pg_fail(&r, ACP_IO, "poll: %s", strerror(errno));
            break;
        }
        if (n > 0 && lent && r.conn && p[0].revents) {
            int hit = take_notifies(r.conn->pg, q->run_id);
            if (hit < 0)
                listening = connection_lost(&r);
            look = hit != 0;
        }
    }
    /* UNAVAILABLE stays only when the deadline passed while the server was
     * down: the caller learns it, and calls again to resume. */
    if (st == ACP_UNAVAILABLE && h->cancelled(call))
        st = ACP_OK;
    if (r.conn && PQstatus(r.conn->pg) == CONNECTION_OK) {
        /* Back to the pool as any other connection: not listening, and
         * nothing unread (the pool takes unread input for a goodbye). */
        PGresult *res;
        r.deadline_ms = pg_mono_ms() + PG_FOLLOW_STMT_MS;
        if (pg_exec_sql(&r, "UNLISTEN *", &res) == ACP_OK) {
            PQclear(res);
            take_notifies(r.conn->pg, "");
        }
    }
    pg_req_done(&r);
    return st;
}
