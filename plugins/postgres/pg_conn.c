/* SPDX-License-Identifier: MIT */
/*
 * pg_conn.c - connections of the postgres backend: a thread-safe pool,
 * round trips bounded by the call's deadline, and the mapping of libpq
 * failures to acp statuses.
 *
 * Connections are non-blocking, so that no send or receive can outlive the
 * deadline of its call.  An idle connection is checked before use (a
 * readable socket on an idle connection means the server said goodbye,
 * e.g. on restart), so after a server restart the next calls reconnect by
 * themselves without ever sending a statement to a dead session.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pg.h"

volatile unsigned pg_fork_gen;

int64_t pg_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- messages ---- */

void pg_scrub(const acp_backend *b, const char *msg, char *buf, size_t bufsz)
{
    size_t o = 0;
    if (!bufsz)
        return;
    for (const char *p = msg ? msg : ""; *p && o + 1 < bufsz;) {
        size_t hit = 0;
        for (size_t i = 0; b && i < b->n_secrets && !hit; i++) {
            size_t n = strlen(b->secrets[i]);
            if (n && strncmp(p, b->secrets[i], n) == 0)
                hit = n;
        }
        if (hit) {
            for (const char *s = "***"; *s && o + 1 < bufsz; s++)
                buf[o++] = *s;
            p += hit;
        } else if (*p == '\n' || *p == '\r' || *p == '\t') {
            /* libpq messages end in a newline and may span lines; an
             * acp message is one line. */
            p++;
            if (*p && o > 0 && buf[o - 1] != ' ' && o + 2 < bufsz) {
                buf[o++] = ';';
                buf[o++] = ' ';
            }
        } else {
            buf[o++] = *p++;
        }
    }
    while (o > 0 && (buf[o - 1] == ' ' || buf[o - 1] == ';'))
        o--;
    buf[o] = '\0';
}

acp_status pg_fail(pg_req *r, acp_status code, const char *fmt, ...)
{
    char text[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (r->kind && r->id)
        return r->b->host->error(r->call, code, "%s: %s of %s '%s': %s", r->b->uri_redacted,
                                 r->op, r->kind, r->id, text);
    return r->b->host->error(r->call, code, "%s: %s: %s", r->b->uri_redacted, r->op, text);
}

/* The status for a server error, by SQLSTATE class and code. */
static acp_status map_sqlstate(const char *s)
{
    if (!s || strlen(s) != 5)
        return ACP_IO;
    if (!strncmp(s, "08", 2) ||   /* connection exception */
        !strncmp(s, "57P", 3) ||  /* shutdown, crash, starting up, database dropped */
        !strcmp(s, "57014") ||    /* statement_timeout or a cancel */
        !strcmp(s, "55P03") ||    /* lock_timeout */
        !strcmp(s, "53300") ||    /* too many connections */
        !strcmp(s, "25006"))      /* read-only: a standby, e.g. during failover */
        return ACP_UNAVAILABLE;
    if (!strncmp(s, "40", 2))     /* serialization failure, deadlock */
        return ACP_CONFLICT;
    if (!strcmp(s, "XX001") || !strcmp(s, "XX002")) /* data or index corrupted */
        return ACP_CORRUPT;
    if (!strcmp(s, "42P01") || !strcmp(s, "3F000") || !strcmp(s, "42703") ||
        !strcmp(s, "42883"))      /* the store's tables were dropped or changed */
        return ACP_CORRUPT;
    return ACP_IO;
}

/* Report a server error; forced >= 0 replaces the status its SQLSTATE maps to. */
static acp_status result_error_as(pg_req *r, const PGresult *res, int forced)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *prim = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
    char text[700], clean[700];
    if (prim)
        snprintf(text, sizeof text, "%s%s%s%s", prim, detail ? " (" : "", detail ? detail : "",
                 detail ? ")" : "");
    else
        snprintf(text, sizeof text, "%s", PQresultErrorMessage(res));
    pg_scrub(r->b, text, clean, sizeof clean);
    acp_status st = forced >= 0 ? (acp_status)forced : map_sqlstate(state);
    if (st == ACP_CORRUPT && state && state[0] != 'X')
        return pg_fail(r, st, "the store's tables in schema %s are missing or changed: %s "
                              "(SQLSTATE %s)", r->b->qschema, clean, state);
    return pg_fail(r, st, "%s (SQLSTATE %s)", clean, state ? state : "none");
}

static acp_status result_error(pg_req *r, const PGresult *res)
{
    return result_error_as(r, res, -1);
}

/* ---- connections ---- */

/* Close a connection.  In a child of fork() the socket is the parent's:
 * point the descriptor at /dev/null first, so that libpq's goodbye goes
 * nowhere and the parent's session lives on. */
static void conn_close(pg_conn *c, int inherited)
{
    if (!c)
        return;
    if (inherited && c->pg && PQsocket(c->pg) >= 0) {
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null >= 0) {
            dup2(null, PQsocket(c->pg));
            close(null);
        }
    }
    PQfinish(c->pg);
    free(c);
}

static void notice_to_log(void *arg, const char *message)
{
    const acp_backend *b = arg;
    char clean[512];
    pg_scrub(b, message, clean, sizeof clean);
    b->host->log(3, PG_NAME, "%s: server notice: %s", b->uri_redacted, clean);
}

/* Wait for the socket: 1 ready (revents set), 0 deadline passed, -1 error. */
static int wait_sock(int fd, short events, int64_t deadline, short *revents)
{
    for (;;) {
        int tmo = -1;
        if (deadline >= 0) {
            int64_t left = deadline - pg_mono_ms();
            if (left <= 0)
                return 0;
            tmo = left > INT_MAX ? INT_MAX : (int)left;
        }
        struct pollfd p = {fd, events, 0};
        int n = poll(&p, 1, tmo);
        if (n > 0) {
            if (revents)
                *revents = p.revents;
            return 1;
        }
        if (n == 0 && deadline >= 0)
            continue; /* loop re-checks the deadline */
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

enum { IO_DONE, IO_LOST, IO_TIMEOUT };

/* Send what libpq queued and collect the results of one command.  Keeps
 * the first error result, else the last result. */
static int round_trip(PGconn *pg, int64_t deadline, PGresult **out)
{
    int fd = PQsocket(pg), f;
    *out = NULL;
    while ((f = PQflush(pg)) == 1) {
        short rev = 0;
        int w = wait_sock(fd, POLLIN | POLLOUT, deadline, &rev);
        if (w <= 0)
            return w == 0 ? IO_TIMEOUT : IO_LOST;
        if ((rev & (POLLIN | POLLHUP | POLLERR)) && !PQconsumeInput(pg))
            return IO_LOST;
    }
    if (f < 0)
        return IO_LOST;
    PGresult *keep = NULL;
    for (;;) {
        while (PQisBusy(pg)) {
            int w = wait_sock(fd, POLLIN, deadline, NULL);
            if (w <= 0 || !PQconsumeInput(pg)) {
                PQclear(keep);
                return w == 0 ? IO_TIMEOUT : IO_LOST;
            }
        }
        PGresult *res = PQgetResult(pg);
        if (!res)
            break;
        if (!keep) {
            keep = res;
        } else if (PQresultStatus(keep) == PGRES_FATAL_ERROR) {
            PQclear(res);
        } else {
            PQclear(keep);
            keep = res;
        }
    }
    *out = keep;
    if (PQstatus(pg) != CONNECTION_OK)
        return IO_LOST; /* the server ended the session: the result is its last word */
    return IO_DONE;
}

/* The whole connect, bounded: connect_timeout is the smaller of the
 * operator's and what is left of the call (libpq counts whole seconds, at
 * least 2, per host tried). */
static acp_status conn_connect(pg_req *r, pg_conn **out)
{
    acp_backend *b = r->b;
    int64_t secs = b->connect_timeout_s;
    if (r->deadline_ms >= 0) {
        int64_t left = r->deadline_ms - pg_mono_ms();
        if (left <= 0)
            return pg_fail(r, ACP_UNAVAILABLE, "no time left to connect to the server");
        int64_t s = (left + 999) / 1000;
        if (secs <= 0 || s < secs)
            secs = s;
    }
    const char *vals[PG_MAX_OPTIONS + 8];
    size_t n = 0;
    while (b->kw[n])
        n++;
    memcpy(vals, b->val, (n + 1) * sizeof *vals);
    char ct[24];
    snprintf(ct, sizeof ct, "%" PRId64, secs);
    vals[b->ct_slot] = secs > 0 ? ct : NULL; /* NULL: libpq's own default */

    PGconn *pg = PQconnectdbParams(b->kw, vals, 1);
    if (!pg)
        return pg_fail(r, ACP_NOMEM, "out of memory connecting to the server");
    char clean[700];
    if (PQstatus(pg) != CONNECTION_OK) {
        pg_scrub(b, PQerrorMessage(pg), clean, sizeof clean);
        PQfinish(pg);
        return pg_fail(r, ACP_UNAVAILABLE, "cannot connect: %s", clean);
    }
    PQsetNoticeProcessor(pg, notice_to_log, b);
    const char *enc = PQparameterStatus(pg, "server_encoding");
    acp_status st = ACP_OK;
    if (PQserverVersion(pg) < 110000)
        st = pg_fail(r, ACP_UNSUPPORTED, "server version %d is too old: PostgreSQL 11 or newer "
                                         "is needed", PQserverVersion(pg));
    else if (!enc || (strcmp(enc, "UTF8") != 0 && strcmp(enc, "SQL_ASCII") != 0))
        st = pg_fail(r, ACP_UNSUPPORTED, "the database's encoding is %s: documents are UTF-8, "
                     "so the database must be UTF8 (createdb -E UTF8)", enc ? enc : "unknown");
    else if (PQsetnonblocking(pg, 1) != 0)
        st = pg_fail(r, ACP_IO, "cannot make the connection non-blocking");
    if (st != ACP_OK) {
        PQfinish(pg);
        return st;
    }

    /* Session settings: plans in index order (pg_sql.h); the server gives
     * up on a statement when the store's timeout says so, and notices a
     * client that went away (it would otherwise finish a statement nobody
     * waits for).  One round trip. */
    char setup[384] = PG_SQL_SESSION;
    size_t o = strlen(setup);
    if (b->statement_timeout_ms >= 0)
        o += (size_t)snprintf(setup + o, sizeof setup - o, "SET statement_timeout = %" PRId64 ";",
                              b->statement_timeout_ms);
    if (PQserverVersion(pg) >= 140000)
        snprintf(setup + o, sizeof setup - o, "SET client_connection_check_interval = 1000;");
    PGresult *res = NULL;
    int io = PQsendQuery(pg, setup) ? round_trip(pg, r->deadline_ms, &res) : IO_LOST;
    if (io == IO_DONE && PQresultStatus(res) != PGRES_COMMAND_OK) {
        st = result_error(r, res);
    } else if (io == IO_TIMEOUT) {
        st = pg_fail(r, ACP_UNAVAILABLE, "no answer from the server while setting up the session");
    } else if (io != IO_DONE) {
        pg_scrub(b, PQerrorMessage(pg), clean, sizeof clean);
        st = pg_fail(r, ACP_UNAVAILABLE, "connection lost while setting up the session: %s", clean);
    }
    PQclear(res);
    if (st != ACP_OK) {
        PQfinish(pg);
        return st;
    }
    pg_conn *c = calloc(1, sizeof *c);
    if (!c) {
        PQfinish(pg);
        return pg_fail(r, ACP_NOMEM, "out of memory connecting to the server");
    }
    c->pg = pg;
    *out = c;
    return ACP_OK;
}

/* An idle connection is usable if libpq thinks so and the server has not
 * written anything since (we never LISTEN: anything readable on an idle
 * session is a goodbye, such as "terminating connection due to
 * administrator command", or the end of the stream). */
static int conn_alive(pg_conn *c)
{
    if (PQstatus(c->pg) != CONNECTION_OK || PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        return 0;
    struct pollfd p = {PQsocket(c->pg), POLLIN, 0};
    return poll(&p, 1, 0) == 0;
}

/* In a child of fork(), forget the parent's connections. Caller holds mu. */
static void pool_after_fork(acp_backend *b)
{
    unsigned gen = __atomic_load_n(&pg_fork_gen, __ATOMIC_ACQUIRE);
    if (gen == b->fork_gen)
        return;
    while (b->idle) {
        pg_conn *c = b->idle;
        b->idle = c->next;
        conn_close(c, 1);
    }
    b->n_conns = 0; /* those in use belonged to threads the child does not have */
    b->fork_gen = gen;
}

static acp_status pool_get(pg_req *r)
{
    acp_backend *b = r->b;
    pthread_mutex_lock(&b->mu);
    pool_after_fork(b);
    for (;;) {
        pg_conn *c = b->idle;
        if (c) {
            b->idle = c->next;
            pthread_mutex_unlock(&b->mu);
            if (conn_alive(c)) {
                r->conn = c;
                return ACP_OK;
            }
            b->host->log(2, PG_NAME, "%s: dropping a connection the server closed",
                         b->uri_redacted);
            conn_close(c, 0);
            pthread_mutex_lock(&b->mu);
            b->n_conns--;
            continue;
        }
        if (b->n_conns < b->pool_size) {
            b->n_conns++;
            pthread_mutex_unlock(&b->mu);
            acp_status st = conn_connect(r, &c);
            if (st == ACP_OK) {
                r->conn = c;
                return ACP_OK;
            }
            pthread_mutex_lock(&b->mu);
            b->n_conns--;
            pthread_cond_signal(&b->cv);
            pthread_mutex_unlock(&b->mu);
            return st;
        }
        if (r->deadline_ms < 0) {
            pthread_cond_wait(&b->cv, &b->mu);
            continue;
        }
        int64_t left = r->deadline_ms - pg_mono_ms();
        int rc = ETIMEDOUT;
        if (left > 0) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += (time_t)(left / 1000);
            ts.tv_nsec += (long)(left % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            rc = pthread_cond_timedwait(&b->cv, &b->mu, &ts);
        }
        if (rc == ETIMEDOUT && !b->idle && b->n_conns >= b->pool_size) {
            int size = b->pool_size;
            pthread_mutex_unlock(&b->mu);
            return pg_fail(r, ACP_UNAVAILABLE, "all %d connections of the pool stayed busy "
                           "until the call's deadline (raise pool_size)", size);
        }
    }
}

/* After a lost connection the idle ones most likely lead to the same dead
 * server process: drop them too, so that a retry connects afresh. */
static void pool_drop_idle(acp_backend *b)
{
    pthread_mutex_lock(&b->mu);
    pool_after_fork(b);
    pg_conn *list = b->idle;
    b->idle = NULL;
    for (pg_conn *c = list; c; c = c->next)
        b->n_conns--;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    while (list) {
        pg_conn *c = list;
        list = c->next;
        conn_close(c, 0);
    }
}

/* Give the connection back; one that is broken or not idle is dropped. */
static void pool_put(acp_backend *b, pg_conn *c, int broken)
{
    if (!broken && (PQstatus(c->pg) != CONNECTION_OK ||
                    PQtransactionStatus(c->pg) != PQTRANS_IDLE))
        broken = 1;
    if (broken)
        conn_close(c, 0);
    pthread_mutex_lock(&b->mu);
    pool_after_fork(b);
    if (broken) {
        b->n_conns--;
    } else {
        c->next = b->idle;
        b->idle = c;
    }
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

void pg_pool_destroy(acp_backend *b)
{
    int inherited = __atomic_load_n(&pg_fork_gen, __ATOMIC_ACQUIRE) != b->fork_gen;
    while (b->idle) {
        pg_conn *c = b->idle;
        b->idle = c->next;
        conn_close(c, inherited);
    }
    b->n_conns = 0;
}

/* ---- requests ---- */

void pg_req_init(pg_req *r, acp_backend *b, acp_call *call, const char *op, const char *kind,
                 const char *id, int may_retry)
{
    r->b = b;
    r->call = call;
    r->op = op;
    r->kind = kind;
    r->id = id;
    int64_t left = b->host->remaining_ms(call);
    r->deadline_ms = left >= 0 ? pg_mono_ms() + left : -1;
    r->conn = NULL;
    r->may_retry = may_retry;
}

void pg_req_done(pg_req *r)
{
    if (r->conn)
        pool_put(r->b, r->conn, 0);
    r->conn = NULL;
}

/* Report a failed round trip, drop the connection.  Returns the status. */
static acp_status io_failed(pg_req *r, int io, PGresult *res)
{
    acp_status st;
    if (io == IO_TIMEOUT) {
        st = pg_fail(r, ACP_UNAVAILABLE, "no answer from the server before the call's deadline "
                     "(the connection was closed; the server stops the statement)");
    } else if (res && PQresultStatus(res) == PGRES_FATAL_ERROR &&
               PQresultErrorField(res, PG_DIAG_SQLSTATE)) {
        /* The server's last word ("terminating connection due to
         * administrator command"): the session is gone, whatever it says. */
        st = result_error_as(r, res, ACP_UNAVAILABLE);
    } else {
        char clean[700];
        pg_scrub(r->b, PQerrorMessage(r->conn->pg), clean, sizeof clean);
        st = pg_fail(r, ACP_UNAVAILABLE, "connection to the server lost: %s",
                     clean[0] ? clean : "no detail");
    }
    PQclear(res);
    pool_put(r->b, r->conn, 1);
    r->conn = NULL;
    if (io == IO_LOST)
        pool_drop_idle(r->b);
    return st;
}

#define PG_ONES8 1, 1, 1, 1, 1, 1, 1, 1
static const int pg_binary[PG_MAX_PARAMS] = {PG_ONES8, PG_ONES8, PG_ONES8, PG_ONES8,
                                             PG_ONES8, PG_ONES8, PG_ONES8, PG_ONES8,
                                             PG_ONES8, PG_ONES8, PG_ONES8, PG_ONES8};
_Static_assert(PG_MAX_PARAMS == 96, "pg_binary has one entry per parameter");

static acp_status exec_any(pg_req *r, int stmt, const char *sql, int n, const char *const *vals,
                           const int *lens, PGresult **out)
{
    *out = NULL;
    for (int attempt = 0;; attempt++) {
        acp_status st;
        if (!r->conn && (st = pool_get(r)) != ACP_OK)
            return st;
        pg_conn *c = r->conn;
        PGresult *res = NULL;
        int io, sent = 0;
        /* Inside a transaction a new connection would not carry it on. */
        int in_tx = PQtransactionStatus(c->pg) != PQTRANS_IDLE;
        /* "acp<number>": statement names are per connection. */
        char name[8] = {'a', 'c', 'p', (char)('0' + (stmt / 10) % 10), (char)('0' + stmt % 10)};
        int each_time = stmt >= PG_FIRST_PLANNED_EACH_TIME;
        if (stmt >= 0 && !each_time && !(c->prepared & (1u << stmt))) {
            /* First use on this connection: one extra round trip, once. */
            io = PQsendPrepare(c->pg, name, r->b->sql[stmt], 0, NULL) ? round_trip(c->pg,
                                                                                 r->deadline_ms,
                                                                                 &res)
                                                                     : IO_LOST;
            if (io == IO_DONE && PQresultStatus(res) == PGRES_COMMAND_OK) {
                c->prepared |= 1u << stmt;
                PQclear(res);
                res = NULL;
            } else if (io == IO_DONE) {
                st = result_error(r, res);
                PQclear(res);
                return st;
            } else {
                goto lost; /* nothing ran: always safe to try again */
            }
        }
        sent = 1;
        if (each_time)
            io = PQsendQueryParams(c->pg, r->b->sql[stmt], n, NULL, vals, lens, pg_binary, 1)
                     ? round_trip(c->pg, r->deadline_ms, &res)
                     : IO_LOST;
        else if (stmt >= 0)
            io = PQsendQueryPrepared(c->pg, name, n, vals, lens, pg_binary, 1)
                     ? round_trip(c->pg, r->deadline_ms, &res)
                     : IO_LOST;
        else if (n > 0)
            io = PQsendQueryParams(c->pg, sql, n, NULL, vals, lens, pg_binary, 1)
                     ? round_trip(c->pg, r->deadline_ms, &res)
                     : IO_LOST;
        else
            io = PQsendQuery(c->pg, sql) ? round_trip(c->pg, r->deadline_ms, &res) : IO_LOST;
        if (io == IO_DONE) {
            ExecStatusType es = PQresultStatus(res);
            if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK) {
                *out = res;
                return ACP_OK;
            }
            st = result_error(r, res);
            PQclear(res);
            return st;
        }
    lost:
        if (io == IO_TIMEOUT || attempt > 0 || in_tx || (sent && !r->may_retry) ||
            (r->deadline_ms >= 0 && pg_mono_ms() >= r->deadline_ms))
            return io_failed(r, io, res);
        r->b->host->log(2, PG_NAME, "%s: %s: connection lost, retrying once on a new one",
                        r->b->uri_redacted, r->op);
        PQclear(res);
        pool_put(r->b, r->conn, 1);
        r->conn = NULL;
        pool_drop_idle(r->b);
    }
}

acp_status pg_exec(pg_req *r, int stmt, int n, const char *const *vals, const int *lens,
                   PGresult **out)
{
    return exec_any(r, stmt, NULL, n, vals, lens, out);
}

acp_status pg_exec_sql(pg_req *r, const char *sql, PGresult **out)
{
    return exec_any(r, -1, sql, 0, NULL, NULL, out);
}

acp_status pg_exec_params(pg_req *r, const char *sql, int n, const char *const *vals,
                          const int *lens, PGresult **out)
{
    return exec_any(r, -1, sql, n, vals, lens, out);
}

/* pg_follow.c: a follower's connection does not count against pool_size
 * while it sleeps (followers must never use up the pool that appends
 * need), and counts again before any statement runs on it or it goes back.
 * lend = 1 when it starts to sleep, 0 when it wakes. */
void pg_pool_lend(acp_backend *b, int lend)
{
    pthread_mutex_lock(&b->mu);
    pool_after_fork(b);
    if (lend) {
        b->n_conns--;
        pthread_cond_signal(&b->cv); /* a connection may be made for a waiting call */
    } else {
        b->n_conns++;
    }
    pthread_mutex_unlock(&b->mu);
}
