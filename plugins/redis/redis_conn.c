/* SPDX-License-Identifier: MIT */
/*
 * redis_conn.c - connections of the redis backend.
 *
 * A handle keeps a pool of up to pool_size blocking hiredis connections; a
 * thread takes one for a request and gives it back, so many threads work at
 * once without sharing a context (hiredis contexts are not thread-safe).
 * A connection that failed in any way is closed, never reused: after a
 * server restart the next request simply connects again.
 *
 * A pooled connection may have died while idle (server restart, idle
 * timeout, CLIENT KILL).  A request marked RD_RETRY (reads and whole-
 * document upserts, which give the same result when run twice) that finds
 * its pooled connection closed runs once more on a new one.  Appends and
 * deletes are never repeated, since a second run would not be the first
 * one's twin: before those, an idle connection is checked without blocking
 * (a closed socket reads as end-of-file), one system call that the other
 * requests save.  Either way a restart between two requests fails none.
 *
 * Requests are formatted by hiredis but sent here with MSG_NOSIGNAL:
 * hiredis would write(2), and writing to a connection the server has just
 * closed raises SIGPIPE, whose default action kills the application.
 * hiredis then reads the reply as usual.
 *
 * Time: connecting waits at most connect_timeout; each request sets the
 * socket timeout to the smaller of command_timeout and what is left of the
 * call's deadline (host->remaining_ms).  A ping with neither is still
 * bounded by connect_timeout.  Timeouts and lost servers are UNAVAILABLE.
 *
 * Only calls that hiredis 0.14 and 1.x both have are used, and no reply is
 * nested (scripts return flat arrays).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "redis_int.h"

/* ------------------------------------------------------------------ */
/* fork()                                                               */
/* ------------------------------------------------------------------ */

/* Incremented in every child process: a pool made under an older value
 * holds the parent's sockets, which the child must not use.  Only the
 * child writes it, before it has other threads. */
static unsigned long rd_fork_gen;
static pthread_once_t rd_fork_once = PTHREAD_ONCE_INIT;

static void rd_on_fork_child(void)
{
    rd_fork_gen++;
}

static void rd_fork_hook(void)
{
    pthread_atfork(NULL, NULL, rd_on_fork_child);
}

/* ------------------------------------------------------------------ */
/* Pool                                                                 */
/* ------------------------------------------------------------------ */

int rd_pool_init(acp_backend *b)
{
    pthread_condattr_t ca;
    pthread_once(&rd_fork_once, rd_fork_hook);
    if (!(b->idle = calloc((size_t)b->conf.pool_size, sizeof *b->idle)))
        return 0;
    if (pthread_mutex_init(&b->mu, NULL) != 0) {
        free(b->idle);
        return 0;
    }
    /* Waits for a free connection are measured on the monotonic clock. */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int ok = pthread_cond_init(&b->cv, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!ok) {
        pthread_mutex_destroy(&b->mu);
        free(b->idle);
        return 0;
    }
    b->fork_gen = rd_fork_gen;
    return 1;
}

/* Closing the child's copy of a socket leaves the parent's connection
 * alone; redisFree sends nothing. */
static void conn_free(rd_conn *c)
{
    if (c) {
        redisFree(c->ctx);
        free(c);
    }
}

void rd_pool_free(acp_backend *b)
{
    for (int i = 0; i < b->n_idle; i++)
        conn_free(b->idle[i]);
    b->n_idle = b->n_open = 0;
    free(b->idle);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
}

/* An idle connection is still usable when reading from it would block:
 * end-of-file means the server closed it (restart, idle timeout), and
 * unread bytes would desynchronise replies. */
static int conn_alive(const rd_conn *c)
{
    char byte;
    ssize_t n = recv(c->ctx->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* ------------------------------------------------------------------ */
/* Errors                                                               */
/* ------------------------------------------------------------------ */

/* Record a failure of op on the call (host->error).  Use it through fail(),
 * which yields code: the analyser does not follow variadic functions, so a
 * code returned from inside one would look as if it could be ACP_OK. */
static void report(acp_backend *b, acp_call *call, const rd_op *op, acp_status code,
                   const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
static void report(acp_backend *b, acp_call *call, const rd_op *op, acp_status code,
                   const char *fmt, ...)
{
    char reason[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (op->id)
        b->host->error(call, code, "%s '%.80s' at %s: %s", op->name, op->id, b->conf.where,
                       reason);
    else
        b->host->error(call, code, "%s at %s: %s", op->name, b->conf.where, reason);
}
/* code is always a constant: evaluating it twice is harmless. */
#define fail(b, call, op, code, ...) (report(b, call, op, code, __VA_ARGS__), (code))

static int is_timeout(int e)
{
    return e == EAGAIN || e == EWOULDBLOCK || e == ETIMEDOUT || e == EINPROGRESS;
}

/* The server closed or reset the connection (not a timeout). */
static int conn_lost(const rd_conn *c)
{
    return c->ctx->err == REDIS_ERR_EOF || c->sys_errno == EPIPE || c->sys_errno == ECONNRESET;
}

/* A broken connection: the system error of the failed send or receive,
 * or the context's error. */
static acp_status conn_fail(acp_backend *b, acp_call *call, const rd_op *op, const rd_conn *c)
{
    const redisContext *ctx = c->ctx;
    if (ctx->err != REDIS_ERR_OOM && ctx->err != REDIS_ERR_PROTOCOL &&
        ctx->err != REDIS_ERR_EOF && c->sys_errno) {
        if (is_timeout(c->sys_errno))
            return fail(b, call, op, ACP_UNAVAILABLE, "no answer in time (%s)",
                        strerror(c->sys_errno));
        return fail(b, call, op, ACP_UNAVAILABLE, "connection lost: %s", strerror(c->sys_errno));
    }
    switch (ctx->err) {
    case REDIS_ERR_OOM:
        return fail(b, call, op, ACP_NOMEM, "out of memory (%s)", ctx->errstr);
    case REDIS_ERR_PROTOCOL:
        return fail(b, call, op, ACP_IO, "protocol error: %s", ctx->errstr);
    case REDIS_ERR_EOF:
        return fail(b, call, op, ACP_UNAVAILABLE, "the server closed the connection (%s)",
                    ctx->errstr);
    case 0:
        return fail(b, call, op, ACP_NOMEM, "out of memory formatting a command");
    default:
        return fail(b, call, op, ACP_UNAVAILABLE, "connection failed: %s", ctx->errstr);
    }
}

/* An error reply of the server. */
static acp_status reply_fail(acp_backend *b, acp_call *call, const rd_op *op,
                             const redisReply *r)
{
    const char *s = r->str ? r->str : "";
    static const char *const busy[] = {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN",
                                       "READONLY", "CLUSTERDOWN"};
    for (size_t i = 0; i < sizeof busy / sizeof busy[0]; i++)
        if (strncmp(s, busy[i], strlen(busy[i])) == 0)
            return fail(b, call, op, ACP_UNAVAILABLE, "server busy: %s", s);
    if (!strncmp(s, "NOAUTH", 6) || !strncmp(s, "WRONGPASS", 9) || !strncmp(s, "NOPERM", 6))
        return fail(b, call, op, ACP_INVALID,
                    "refused: %s (check the user and password in the store URI)", s);
    if (strstr(s, "WRONGTYPE"))
        return fail(b, call, op, ACP_CORRUPT,
                    "a key under this prefix holds data of another kind (is another "
                    "program using the prefix?): %s", s);
    if (!strncmp(s, "MOVED", 5) || !strncmp(s, "ASK", 3) || !strncmp(s, "CROSSSLOT", 9))
        return fail(b, call, op, ACP_UNSUPPORTED,
                    "Redis Cluster is not supported (use a standalone server): %s", s);
    if (!strncmp(s, "OOM", 3))
        return fail(b, call, op, ACP_IO, "the server is out of memory: %s", s);
    return fail(b, call, op, ACP_IO, "server error: %s", s);
}

acp_status rd_bad_reply(acp_backend *b, acp_call *call, const rd_op *op, const char *what)
{
    return fail(b, call, op, ACP_CORRUPT, "unexpected reply: %s", what);
}

/* ------------------------------------------------------------------ */
/* Sending and receiving                                                */
/* ------------------------------------------------------------------ */

/* Send one command; 0 (and the connection marked broken) on failure. */
static int conn_send(rd_conn *c, int argc, const char **argv, const size_t *lens)
{
    char *cmd;
    long long n = redisFormatCommandArgv(&cmd, argc, argv, lens);
    if (n < 0) {
        c->broken = 1;
        return 0;
    }
    const char *p = cmd;
    size_t left = (size_t)n;
    while (left > 0) {
        ssize_t w = send(c->ctx->fd, p, left, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            c->sys_errno = w < 0 ? errno : EPIPE;
            c->broken = 1;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    redisFreeCommand(cmd);
    return !c->broken;
}

/* The next reply, or NULL (connection broken). */
static redisReply *conn_reply(rd_conn *c)
{
    void *r = NULL;
    errno = 0;
    if (redisGetReply(c->ctx, &r) != REDIS_OK || !r) {
        c->sys_errno = errno; /* set by the failed read: hiredis keeps only its text */
        c->broken = 1;
        return NULL;
    }
    return r;
}

static redisReply *conn_call(rd_conn *c, int argc, const char **argv, const size_t *lens)
{
    return conn_send(c, argc, argv, lens) ? conn_reply(c) : NULL;
}

/* ------------------------------------------------------------------ */
/* Connecting                                                           */
/* ------------------------------------------------------------------ */

static struct timeval tv_ms(int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

/* Set the socket timeout to ms (0: none) unless it is already close: a
 * little shorter than asked is fine and saves two system calls a request. */
static int conn_timeout(rd_conn *c, int64_t ms)
{
    if (c->timeout_ms == ms || (ms > 0 && c->timeout_ms > 0 && c->timeout_ms < ms &&
                                ms - c->timeout_ms <= ms / 8))
        return 1;
    if (redisSetTimeout(c->ctx, tv_ms(ms)) != REDIS_OK)
        return 0;
    c->timeout_ms = ms;
    return 1;
}

/* Connect, authenticate and select the database. */
static acp_status conn_open(acp_backend *b, acp_call *call, const rd_op *op, int64_t ms,
                            int64_t cmd_ms, rd_conn **out)
{
    const rd_conf *cf = &b->conf;
    rd_conn *c = calloc(1, sizeof *c);
    if (!c)
        return fail(b, call, op, ACP_NOMEM, "out of memory");
    struct timeval tv = tv_ms(ms);
    c->ctx = cf->socket ? redisConnectUnixWithTimeout(cf->socket, tv)
                        : redisConnectWithTimeout(cf->host, cf->port, tv);
    c->timeout_ms = -1;
    if (!c->ctx) {
        free(c);
        return fail(b, call, op, ACP_NOMEM, "out of memory connecting");
    }
    if (c->ctx->err) {
        acp_status st = fail(b, call, op, ACP_UNAVAILABLE, "cannot connect: %s", c->ctx->errstr);
        conn_free(c);
        return st;
    }
    if (!conn_timeout(c, cmd_ms)) {
        conn_free(c);
        return fail(b, call, op, ACP_IO, "cannot set the socket timeout: %s", strerror(errno));
    }

    /* AUTH and SELECT in one round trip. */
    int n = 0, sent = 1;
    char db[24];
    if (cf->password) {
        const char *argv[3] = {"AUTH", cf->user, cf->password};
        if (!cf->user)
            argv[1] = cf->password; /* AUTH password: the default user */
        sent = conn_send(c, cf->user ? 3 : 2, argv, NULL);
        n++;
    }
    if (sent && cf->db != 0) {
        snprintf(db, sizeof db, "%ld", cf->db);
        const char *argv[2] = {"SELECT", db};
        sent = conn_send(c, 2, argv, NULL);
        n++;
    }
    acp_status st = ACP_OK;
    for (int i = 0; st == ACP_OK && i < n; i++) {
        redisReply *r = sent ? conn_reply(c) : NULL;
        if (!r) {
            st = conn_fail(b, call, op, c);
            break;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            const char *s = r->str ? r->str : "";
            if (cf->password && i == 0)
                st = fail(b, call, op, ACP_INVALID,
                          "authentication failed: %s (check the user and password in the store "
                          "URI)", s);
            else if (strstr(s, "DB index"))
                st = fail(b, call, op, ACP_INVALID, "cannot select the database: %s", s);
            else
                st = reply_fail(b, call, op, r);
        }
        freeReplyObject(r);
    }
    if (st != ACP_OK) {
        conn_free(c);
        return st;
    }
    *out = c;
    return ACP_OK;
}

/* ------------------------------------------------------------------ */
/* Taking and returning connections                                     */
/* ------------------------------------------------------------------ */

/* Milliseconds a request may take: command_timeout and the call's
 * deadline, the smaller; 0 for no bound; -1 when the deadline has passed. */
static int64_t request_ms(acp_backend *b, acp_call *call, unsigned flags)
{
    int64_t left = b->host->remaining_ms(call);
    int64_t ms = b->conf.command_timeout_ms;
    if (left == 0)
        return -1;
    if (left > 0 && (ms == 0 || left < ms))
        ms = left;
    if ((flags & RD_PING) && (ms == 0 || b->conf.connect_timeout_ms < ms))
        ms = b->conf.connect_timeout_ms;
    return ms;
}

static void deadline_after(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* In a child process, forget the parent's connections (with b->mu held). */
static void pool_after_fork(acp_backend *b)
{
    if (b->fork_gen == rd_fork_gen)
        return;
    for (int i = 0; i < b->n_idle; i++)
        conn_free(b->idle[i]);
    /* Connections other threads of the parent held do not exist here. */
    b->n_idle = b->n_open = 0;
    b->fork_gen = rd_fork_gen;
}

static void release(acp_backend *b, rd_conn *c)
{
    pthread_mutex_lock(&b->mu);
    if (b->fork_gen != rd_fork_gen) {
        /* Taken in the parent before a fork, returned in the child. */
        pthread_mutex_unlock(&b->mu);
        conn_free(c);
        return;
    }
    if (c->broken || b->n_idle >= b->conf.pool_size) {
        b->n_open--;
        conn_free(c);
    } else {
        b->idle[b->n_idle++] = c;
    }
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* A connection for one request: an idle one (checked to be alive when
 * check_alive), else a new one while fewer than pool_size are open, else
 * wait for one. */
static acp_status acquire(acp_backend *b, acp_call *call, const rd_op *op, int64_t ms,
                          int check_alive, rd_conn **out)
{
    struct timespec until;
    if (ms > 0)
        deadline_after(&until, ms);
    for (;;) {
        pthread_mutex_lock(&b->mu);
        pool_after_fork(b);
        while (b->n_idle == 0 && b->n_open >= b->conf.pool_size) {
            int rc = ms > 0 ? pthread_cond_timedwait(&b->cv, &b->mu, &until)
                            : pthread_cond_wait(&b->cv, &b->mu);
            if (rc == ETIMEDOUT && b->n_idle == 0 && b->n_open >= b->conf.pool_size) {
                pthread_mutex_unlock(&b->mu);
                return fail(b, call, op, ACP_UNAVAILABLE,
                            "all %d connections stayed busy until the time limit (raise "
                            "pool_size)",
                            b->conf.pool_size);
            }
        }
        if (b->n_idle == 0)
            break; /* room for a new connection */
        rd_conn *c = b->idle[--b->n_idle];
        pthread_mutex_unlock(&b->mu);
        if ((!check_alive || conn_alive(c)) && conn_timeout(c, ms)) {
            c->reused = 1;
            *out = c;
            return ACP_OK;
        }
        c->broken = 1;
        release(b, c); /* closes it and frees its slot */
    }
    b->n_open++; /* reserve the slot, connect outside the lock */
    unsigned long gen = b->fork_gen;
    pthread_mutex_unlock(&b->mu);

    int64_t cms = b->conf.connect_timeout_ms;
    if (ms > 0 && ms < cms)
        cms = ms;
    acp_status st = conn_open(b, call, op, cms, ms, out);
    if (st != ACP_OK) {
        pthread_mutex_lock(&b->mu);
        if (b->fork_gen == gen)
            b->n_open--;
        pthread_cond_signal(&b->cv);
        pthread_mutex_unlock(&b->mu);
    }
    return st;
}

/* ------------------------------------------------------------------ */
/* Requests                                                             */
/* ------------------------------------------------------------------ */

/* ARGV a script call carries on the stack (save_run has 9); the batched
 * scripts (save_runs, add_events) take more, from the heap. */
#define ARGV_STACK 16

static redisReply *call_script(rd_conn *c, const char *cmd, const char *body, int argc,
                               const char **argv, const size_t *lens, const char **av,
                               size_t *al)
{
    av[0] = cmd;
    al[0] = strlen(cmd);
    av[1] = body;
    al[1] = strlen(body);
    av[2] = "0"; /* numkeys: keys are named inside the script from the prefix */
    al[2] = 1;
    memcpy(av + 3, argv, (size_t)argc * sizeof *argv);
    memcpy(al + 3, lens, (size_t)argc * sizeof *lens);
    return conn_call(c, argc + 3, av, al);
}

/* rd_request with av and al, room for argc + 3 script arguments. */
static acp_status request(acp_backend *b, acp_call *call, const rd_op *op, unsigned flags,
                          int script, int argc, const char **argv, const size_t *lens,
                          redisReply **out, const char **av, size_t *al)
{
    *out = NULL;
    int64_t ms = request_ms(b, call, flags);
    if (ms < 0)
        return fail(b, call, op, ACP_UNAVAILABLE, "the call's time limit ran out");
    rd_conn *c = NULL;
    acp_status st;
    redisReply *r;
again:
    if ((st = acquire(b, call, op, ms, !(flags & RD_RETRY), &c)) != ACP_OK)
        return st;
    if (script < 0) {
        r = conn_call(c, argc, argv, lens);
    } else {
        r = call_script(c, "EVALSHA", b->sha[script], argc, argv, lens, av, al);
        /* The server lost its script cache (restart, SCRIPT FLUSH): EVAL
         * runs the script and caches it again.  Nothing ran the first time. */
        if (r && r->type == REDIS_REPLY_ERROR && r->str && !strncmp(r->str, "NOSCRIPT", 8)) {
            freeReplyObject(r);
            r = call_script(c, "EVAL", rd_scripts[script], argc, argv, lens, av, al);
        }
    }
    if (!r && (flags & RD_RETRY) && c->reused && conn_lost(c)) {
        /* Once, and then with idle connections checked before use. */
        flags &= ~RD_RETRY;
        release(b, c);
        c = NULL; /* freed or back in the pool: acquire gives the next one */
        if ((ms = request_ms(b, call, flags)) < 0)
            return fail(b, call, op, ACP_UNAVAILABLE, "the call's time limit ran out");
        goto again;
    }
    if (!r)
        st = conn_fail(b, call, op, c);
    else if (r->type == REDIS_REPLY_ERROR)
        st = reply_fail(b, call, op, r);
    release(b, c);
    if (st != ACP_OK) {
        if (r)
            freeReplyObject(r);
        return st;
    }
    *out = r;
    return ACP_OK;
}

acp_status rd_request(acp_backend *b, acp_call *call, const rd_op *op, unsigned flags, int script,
                      int argc, const char **argv, const size_t *lens, redisReply **out)
{
    const char *av_stack[ARGV_STACK + 3];
    size_t al_stack[ARGV_STACK + 3];
    if (script < 0 || argc <= ARGV_STACK)
        return request(b, call, op, flags, script, argc, argv, lens, out, av_stack, al_stack);
    *out = NULL;
    const char **av = malloc(((size_t)argc + 3) * sizeof *av);
    size_t *al = malloc(((size_t)argc + 3) * sizeof *al);
    acp_status st = av && al ? request(b, call, op, flags, script, argc, argv, lens, out, av, al)
                             : fail(b, call, op, ACP_NOMEM, "out of memory for %d script "
                                    "arguments", argc);
    free(av);
    free(al);
    return st;
}

acp_status rd_load_scripts(acp_backend *b, acp_call *call)
{
    rd_op op = {"open", NULL};
    for (int i = 0; i < RD_N_SCRIPTS; i++) {
        const char *argv[3] = {"SCRIPT", "LOAD", rd_scripts[i]};
        redisReply *r;
        acp_status st = rd_request(b, call, &op, RD_RETRY, -1, 3, argv, NULL, &r);
        if (st != ACP_OK)
            return st;
        if (r->type != REDIS_REPLY_STRING || r->len != 40) {
            freeReplyObject(r);
            return rd_bad_reply(b, call, &op, "SCRIPT LOAD did not return a SHA1");
        }
        memcpy(b->sha[i], r->str, 41);
        freeReplyObject(r);
    }
    return ACP_OK;
}

/* ------------------------------------------------------------------ */
/* Connections of their own (redis_follow.c: a subscribed connection    */
/* cannot serve other commands, so it never enters the pool)            */
/* ------------------------------------------------------------------ */

acp_status rd_conn_open(acp_backend *b, acp_call *call, const rd_op *op, int64_t ms,
                        int64_t cmd_ms, rd_conn **out)
{
    return conn_open(b, call, op, ms, cmd_ms, out);
}

void rd_conn_close(rd_conn *c)
{
    conn_free(c);
}

redisReply *rd_conn_call(rd_conn *c, int argc, const char **argv, const size_t *lens)
{
    return conn_call(c, argc, argv, lens);
}
