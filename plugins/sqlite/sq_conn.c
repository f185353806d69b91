/* SPDX-License-Identifier: MIT */
/*
 * sq_conn.c - the SQLite backend's connections: SQLite result codes as
 * acp_status with their messages, and the pool of connections (each with
 * its lock wait and every statement of sqlite_sql.h prepared once).
 */
#define _POSIX_C_SOURCE 200809L

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "errno_vfs.h"
#include "sq.h"

acp_status sq_status(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return ACP_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_PROTOCOL:
        return ACP_UNAVAILABLE;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_FORMAT:
        return ACP_CORRUPT;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return ACP_IO;
    case SQLITE_NOMEM:
        return ACP_NOMEM;
    case SQLITE_TOOBIG:
        return ACP_INVALID;
    default:
        return ACP_PLUGIN;
    }
}

/* The OS reason of an IO failure: the errno the VFS saw fail during this
 * operation, else what the result code implies.  Only without the VFS
 * (its registration failed) does SQLite's own memory serve, which may be
 * stale; with it, no errno means no OS reason.  Returns 0 when there is
 * none. */
static int sq_reason(sqlite3 *db, int rc, char *buf, size_t n)
{
    int e = sq_errno_last();

    if (e == 0 && (rc & 0xff) == SQLITE_FULL)
        e = ENOSPC;
    if (e == 0 && db != NULL && sq_vfs_name(SQ_VFS_RW) == NULL &&
        ((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_CANTOPEN))
        e = sqlite3_system_errno(db);
    if (e == 0)
        return 0;
    if (strerror_r(e, buf, n) != 0)
        snprintf(buf, n, "errno %d", e);
    return 1;
}

/* Why a mode=ro handle could not read: SQLite reads a WAL store through
 * its -wal and -shm files, and they could not be opened or created. */
static void sq_ro_explain(const acp_backend *b, char *out, size_t n)
{
    if (b->ro.vfs_mode == SQ_VFS_GUEST)
        snprintf(out, n,
                 "; mode=ro (%s): the store's -wal and -shm files are missing or cannot be "
                 "read, and a reader that does not own the store never creates them (its "
                 "owner could not write them afterwards): read it while its owner has it "
                 "open, as its owner, or from a read-only copy",
                 b->ro.why);
    else
        snprintf(out, n,
                 "; mode=ro (%s): the store's -wal and -shm files are missing and cannot be "
                 "created in its folder%s: let the owner write the folder, or take every "
                 "write permission away from the file or the folder (mode=ro then reads it "
                 "as immutable)",
                 b->ro.why, b->ro.folder_writable ? "" : " (this user may not write it)");
}

acp_status sq_fail(const acp_backend *b, acp_call *call, const sq_conn *c, int rc,
                   const char *what, const char *id)
{
    sqlite3 *db = c ? c->db : NULL;
    acp_status code = sq_status(rc);
    /* The connection's message, unless it describes another failure (a
     * size refused before SQLite saw it). */
    const char *msg = db && (sqlite3_errcode(db) & 0xff) == (rc & 0xff) ? sqlite3_errmsg(db)
                                                                       : sqlite3_errstr(rc);
    char extra[600] = "";

    if (code == ACP_OK)
        code = ACP_PLUGIN; /* a caller saw an unexpected row or end */
    if (code == ACP_UNAVAILABLE && c != NULL && c->by_deadline) {
        snprintf(extra, sizeof extra,
                 " (another connection holds the lock; gave up after %lld ms at the call's "
                 "deadline)",
                 (long long)c->wait_ms);
    } else if (code == ACP_UNAVAILABLE) {
        snprintf(extra, sizeof extra,
                 " (another connection holds the lock; still locked after busy_timeout=%d ms)",
                 b->busy_ms);
    } else if ((rc & 0xff) == SQLITE_NOTADB) {
        snprintf(extra, sizeof extra, " (not an SQLite database, or its header is damaged)");
    } else if (code == ACP_IO) {
        char reason[128];
        /* (The errno of a missing -wal or -shm file would only mislead.) */
        if (b->readonly && ((rc & 0xff) == SQLITE_CANTOPEN || (rc & 0xff) == SQLITE_READONLY))
            sq_ro_explain(b, extra, sizeof extra);
        else if (sq_reason(db, rc, reason, sizeof reason))
            snprintf(extra, sizeof extra, " (%s)", reason);
    }
    return b->host->error(call, code, "%s: %s%s%s: %s%s", b->path, what, id ? " " : "",
                          id ? id : "", msg, extra);
}

acp_status sq_nomem(const acp_backend *b, acp_call *call, const char *what)
{
    (void)b->host->error(call, ACP_NOMEM, "%s: %s: out of memory", b->path, what);
    return ACP_NOMEM;
}

/* ------------------------------------------------------------------ */
/* Connections                                                          */
/* ------------------------------------------------------------------ */

void sq_conn_free(sq_conn *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < ACP_SQ_N; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_close(c->db);
    free(c);
}

int sq_exec_stmt(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

void sq_rollback(sq_conn *c)
{
    if (!sqlite3_get_autocommit(c->db))
        sq_exec_stmt(c->st[ACP_SQ_ROLLBACK]);
}

static int64_t sq_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Every lock wait of an operation ends at busy_timeout or at the call's
 * deadline, whichever comes first (sq_busy): a peer that stops while it
 * holds the write lock costs a caller its deadline, never more. */
static void sq_arm(const acp_backend *b, sq_conn *c, acp_call *call)
{
    int64_t left = b->host->remaining_ms(call);

    c->by_deadline = left >= 0 && left < b->busy_ms;
    c->wait_ms = c->by_deadline ? left : b->busy_ms;
    c->give_up_ms = sq_monotonic_ms() + c->wait_ms;
}

/* SQLite's busy handler: wait a little more, with the delays of SQLite's
 * own busy_timeout handler, until the operation's wait ends. */
static int sq_busy(void *arg, int count)
{
    static const int delay_ms[] = {1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100};
    const sq_conn *c = arg;
    int64_t left = c->give_up_ms - sq_monotonic_ms();
    int d = delay_ms[count < 12 ? count : 11];

    if (left <= 0)
        return 0;
    sqlite3_sleep(d < left ? d : (int)left);
    return 1;
}

int sq_set_wal(const acp_backend *b, sq_conn *c)
{
    int64_t deadline = c->give_up_ms;
    sqlite3_stmt *jm = NULL;
    int rc = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode = WAL", -1, &jm, NULL);

    while (rc == SQLITE_OK) {
        rc = sqlite3_step(jm);
        if (rc == SQLITE_ROW) {
            const char *mode = (const char *)sqlite3_column_text(jm, 0);
            if (mode == NULL || strcmp(mode, "wal") != 0)
                b->host->log(1, SQ_NAME,
                             "%s: WAL is not available (journal mode %s); readers will wait "
                             "for writers",
                             b->path, mode ? mode : "?");
            rc = SQLITE_OK;
            break;
        }
        if ((rc & 0xff) != SQLITE_BUSY || sq_monotonic_ms() >= deadline)
            break;
        sqlite3_reset(jm);
        sqlite3_sleep(5);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(jm);
    return rc;
}

static acp_status sq_prepare(const acp_backend *b, sq_conn *c, int i, acp_call *call)
{
    int rc = sqlite3_prepare_v3(c->db, acp_sqlite_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                &c->st[i], NULL);
    if (rc == SQLITE_OK)
        return ACP_OK;
    /* The schema version matched but a statement does not fit: a table or
     * index was removed or changed behind our back. */
    if ((rc & 0xff) == SQLITE_ERROR)
        return b->host->error(call, ACP_CORRUPT,
                              "%s: the schema does not match version %d: %s", b->path,
                              ACP_SQLITE_SCHEMA_VERSION, sqlite3_errmsg(c->db));
    return sq_fail(b, call, c, rc, "open: prepare", NULL);
}

acp_status sq_conn_open(const acp_backend *b, int first, acp_call *call, sq_conn **out)
{
    sq_conn *c = calloc(1, sizeof *c);
    char pragmas[160];
    acp_status st;
    int flags, rc;

    sq_errno_clear();
    if (c == NULL)
        return sq_nomem(b, call, "open");
    /* A connection is used by one thread at a time (the pool sees to it),
     * so SQLite's per-connection mutex is not needed. */
    flags = SQLITE_OPEN_NOMUTEX;
    if (b->readonly)
        flags |= SQLITE_OPEN_READONLY;
    else
        flags |= SQLITE_OPEN_READWRITE |
                 (first && !b->no_create && b->migrate != SQ_MIGRATE_NEVER ? SQLITE_OPEN_CREATE
                                                                           : 0);
    if (b->readonly)
        flags |= SQLITE_OPEN_URI;
    rc = sqlite3_open_v2(b->readonly ? b->ro.uri : b->open_path, &c->db, flags,
                         sq_vfs_name(b->readonly ? b->ro.vfs_mode : SQ_VFS_RW));
    if (rc != SQLITE_OK) {
        if (c->db == NULL) {
            st = sq_nomem(b, call, "open");
        } else if ((rc & 0xff) == SQLITE_CANTOPEN) {
            char reason[128] = "unknown reason";
            sq_reason(c->db, rc, reason, sizeof reason);
            int missing = (b->no_create || b->migrate == SQ_MIGRATE_NEVER) &&
                          access(b->open_path, F_OK) != 0 && errno == ENOENT;
            st = b->host->error(call, missing ? ACP_NOT_FOUND : ACP_IO,
                                "%s: cannot open the database file (%s)%s",
                                b->path, reason,
                                b->readonly ? "; mode=ro does not create a missing store"
                                : b->no_create ? "; create=false does not create a missing store"
                                : b->migrate == SQ_MIGRATE_NEVER
                                    ? "; migrate=never does not create a missing store (run "
                                      "'acp-storage migrate' first)"
                                            : "");
        } else {
            st = sq_fail(b, call, c, rc, "open", NULL);
        }
        sq_conn_free(c);
        return st;
    }
    /* SQLite falls back to read-only when the read-write open fails and
     * calls that success; every write would then fail.  (The strict VFS
     * already refuses this; this covers SQLite's default VFS.) */
    if (!b->readonly && sqlite3_db_readonly(c->db, "main") == 1) {
        char reason[128] = "it could be opened only read-only";
        sq_reason(NULL, SQLITE_CANTOPEN, reason, sizeof reason);
        st = b->host->error(call, ACP_IO, "%s: cannot open the database file for writing (%s)",
                            b->path, reason);
        sq_conn_free(c);
        return st;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sq_arm(b, c, call);
    sqlite3_busy_handler(c->db, sq_busy, c);

    /* Per-connection settings. */
    snprintf(pragmas, sizeof pragmas, "PRAGMA synchronous = %s",
             b->sync_full ? "FULL" : "NORMAL");
    rc = sqlite3_exec(c->db, pragmas, NULL, NULL, NULL);
    if (rc == SQLITE_OK && b->has_cache_size) {
        snprintf(pragmas, sizeof pragmas, "PRAGMA cache_size = %lld", b->cache_size);
        rc = sqlite3_exec(c->db, pragmas, NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK && b->has_mmap_size) {
        snprintf(pragmas, sizeof pragmas, "PRAGMA mmap_size = %lld", b->mmap_size);
        rc = sqlite3_exec(c->db, pragmas, NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        st = sq_fail(b, call, c, rc, "open", NULL);
        sq_conn_free(c);
        return st;
    }

    /* The statements that schema work needs come first. */
    static const int early[] = {ACP_SQ_HEADER, ACP_SQ_BEGIN, ACP_SQ_COMMIT, ACP_SQ_ROLLBACK,
                                ACP_SQ_SCHEMA_COOKIE, ACP_SQ_HAS_TIME_COUNTS};
    for (size_t i = 0; i < sizeof early / sizeof early[0]; i++) {
        st = sq_prepare(b, c, early[i], call);
        if (st != ACP_OK) {
            sq_conn_free(c);
            return st;
        }
    }
    if (first) {
        st = sq_open_schema(b, c, call);
        if (st != ACP_OK) {
            sq_conn_free(c);
            return st;
        }
        /* An older schema would not fit the statements; migrate needs
         * only the early ones. */
        if (b->migrate == SQ_MIGRATE_INSPECT) {
            *out = c;
            return ACP_OK;
        }
    }
    for (int i = 0; i < ACP_SQ_N; i++) {
        if (c->st[i] != NULL)
            continue;
        st = sq_prepare(b, c, i, call);
        if (st != ACP_OK) {
            sq_conn_free(c);
            return st;
        }
    }
    /* How range totals are answered, until the schema changes. */
    rc = sq_time_counts(c);
    if (rc != SQLITE_OK) {
        st = sq_fail(b, call, c, rc, "open: read the schema", NULL);
        sq_conn_free(c);
        return st;
    }
    *out = c;
    return ACP_OK;
}

acp_status sq_get(acp_backend *b, acp_call *call, sq_conn **out)
{
    sq_conn *c;

    sq_errno_clear(); /* every operation starts here: no reason of an earlier one */
    pthread_mutex_lock(&b->mu);
    c = b->idle;
    if (c != NULL)
        b->idle = c->next;
    pthread_mutex_unlock(&b->mu);
    if (c != NULL) {
        sq_arm(b, c, call);
        *out = c;
        return ACP_OK;
    }
    *out = NULL;
    acp_status st = sq_conn_open(b, 0, call, out);
    /* Its failures return host->error's code, never ACP_OK, which the
     * analyser cannot see (a call through a pointer). */
    assert(st != ACP_OK || *out != NULL);
    return st;
}

void sq_put(acp_backend *b, sq_conn *c)
{
    sq_rollback(c); /* never hand on an open transaction */
    pthread_mutex_lock(&b->mu);
    c->next = b->idle;
    b->idle = c;
    pthread_mutex_unlock(&b->mu);
}
