/* SPDX-License-Identifier: MIT */
/*
 * sq_crud.c - the SQLite backend's core methods: get, save, delete and
 * list runs and sessions; add, get and wait for events.
 */

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "sq.h"
#include "sq_follow.h"

static const char *const sq_read_what[][2] = {
    [0] = {"verify", "verify"},
    [SQ_RUN] = {"get_run", "list_runs"},
    [SQ_SESSION] = {"get_session", "list_sessions"},
    [SQ_EVENT] = {"get_events", "get_events"},
};

/* One row of a document statement as an item of kind.  The key is the run
 * id for events too (*key; an event's page item carries none: the call
 * names the run).  Returns -1 when SQLite ran out of memory for a column, 1
 * when the row fails its checksum (reason: why), else 0. */
int sq_row_item(sqlite3_stmt *s, int kind, acp_item *it, const char **key, char *reason,
                size_t reason_size)
{
    uint32_t stored, actual;

    memset(it, 0, sizeof *it);
    *key = (const char *)sqlite3_column_text(s, ACP_SQ_COL_KEY);
    if (kind == SQ_EVENT) {
        it->seq = sqlite3_column_int64(s, ACP_SQ_COL_SEQ);
        it->stored_us = sqlite3_column_int64(s, ACP_SQ_COL_TIME);
    } else {
        it->key = *key;
        it->created_us = sqlite3_column_int64(s, ACP_SQ_COL_TIME);
        if (kind == SQ_RUN)
            it->version = sqlite3_column_int64(s, ACP_SQ_COL_VERSION);
    }
    it->doc = (const char *)sqlite3_column_text(s, ACP_SQ_COL_DOC);
    it->doc_len = (size_t)sqlite3_column_bytes(s, ACP_SQ_COL_DOC);
    if (*key == NULL || it->doc == NULL)
        return -1;
    stored = (uint32_t)sqlite3_column_int64(s, ACP_SQ_COL_CRC);
    actual = sq_crc(*key, (size_t)sqlite3_column_bytes(s, ACP_SQ_COL_KEY), it->doc, it->doc_len);
    if (stored == actual && sqlite3_column_type(s, ACP_SQ_COL_CRC) == SQLITE_INTEGER)
        return 0;
    snprintf(reason, reason_size,
             "the stored document does not match its checksum (stored %08x, computed %08x): "
             "the row was changed outside acp-storage or the file is damaged",
             stored, actual);
    return 1;
}

/* Report a damaged row met by a read as CORRUPT, naming it. */
acp_status sq_damaged(const acp_backend *b, acp_call *call, const char *what, int kind,
                      const char *key, const acp_item *it, const char *reason)
{
    if (kind == SQ_EVENT)
        return b->host->error(call, ACP_CORRUPT, "%s: %s: run %s event %lld: %s", b->path,
                              what, key, (long long)it->seq, reason);
    return b->host->error(call, ACP_CORRUPT, "%s: %s: %s %s: %s", b->path, what,
                          kind == SQ_RUN ? "run" : "session", key, reason);
}

int sq_report(const acp_backend *b, acp_call *call, int kind, const char *key,
              int64_t seq, acp_status code, const char *location, const char *reason)
{
    acp_damage d = {0};

    d.size = sizeof d;
    d.kind = kind;
    d.key = key;
    d.seq = seq;
    d.code = code;
    d.location = location;
    d.reason = reason;
    d.moved_to = NULL; /* an SQLite store cannot move a row aside (README.md) */
    return b->host->verify_damage(call, &d);
}

/* Where a row lives, for verify's reports. */
static const char *const sq_table[] = {
    [SQ_RUN] = "table runs", [SQ_SESSION] = "table sessions", [SQ_EVENT] = "table events"};

acp_status sq_emit_rows(acp_backend *b, sq_conn *c, sqlite3_stmt *s, int rc, int kind,
                        const char *id, int verify, acp_call *call, int64_t *rows)
{
    const char *what = sq_read_what[verify ? 0 : kind][id == NULL || kind == SQ_EVENT];
    acp_status st = ACP_OK;
    char reason[200];
    int64_t n = 0;

    while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        acp_item it;
        const char *key;
        int bad = sq_row_item(s, kind, &it, &key, reason, sizeof reason), stop;

        if (bad > 0 && !verify) {
            st = sq_damaged(b, call, what, kind, key, &it, reason);
            break;
        }
        if (bad > 0) {
            stop = sq_report(b, call, kind, key, it.seq, ACP_CORRUPT, sq_table[kind], reason);
        } else if (bad == 0 && verify) {
            it.key = key;
            stop = b->host->verify_item(call, kind, &it);
        } else {
            stop = bad < 0 || b->host->emit(call, &it) != 0;
        }
        if (stop) {
            st = sq_nomem(b, call, what);
            break;
        }
        n++;
        rc = SQLITE_OK;
    }
    if (st == ACP_OK && rc != SQLITE_DONE && verify && sq_status(rc) == ACP_CORRUPT) {
        /* SQLite cannot read on in this table: report it, check the rest. */
        if (sq_report(b, call, ACP_ITEM_OTHER, NULL, 0, ACP_CORRUPT, sq_table[kind],
                      sqlite3_errmsg(c->db)))
            st = sq_nomem(b, call, what);
    } else if (st == ACP_OK && rc != SQLITE_DONE) {
        st = sq_fail(b, call, c, rc, what, id);
    }
    sqlite3_reset(s);
    if (rows != NULL)
        *rows = n;
    return st;
}

/* get_run and get_session: the one row whose key is id, or NOT_FOUND. */
static acp_status sq_get_one(acp_backend *b, int stmt, int kind, const char *id, acp_call *call)
{
    sqlite3_stmt *s;
    sq_conn *c;
    int64_t rows = 0;
    acp_status st = sq_get(b, call, &c);

    if (st != ACP_OK)
        return st;
    s = c->st[stmt];
    st = sq_emit_rows(b, c, s, sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC), kind, id, 0, call,
                      &rows);
    if (st == ACP_OK && rows == 0)
        st = b->host->error(call, ACP_NOT_FOUND, "%s: no %s %s", b->path,
                            kind == SQ_RUN ? "run" : "session", id);
    sq_put(b, c);
    return st;
}

/* ------------------------------------------------------------------ */
/* Writing                                                              */
/* ------------------------------------------------------------------ */

/* Returns its constant, not host->error's result (the same value), so
 * that the analyser sees its failures never yield ACP_OK. */
static acp_status sq_readonly(const acp_backend *b, acp_call *call, const char *what)
{
    (void)b->host->error(call, ACP_IO, "%s: %s: the store was opened read-only (mode=ro)",
                         b->path, what);
    return ACP_IO;
}

acp_status sq_get_rw(acp_backend *b, acp_call *call, const char *what, sq_conn **out)
{
    if (b->readonly)
        return sq_readonly(b, call, what);
    return sq_get(b, call, out);
}

int sq_bind_doc(sqlite3_stmt *s, int i, const char *key, size_t key_len, const char *doc,
                size_t len)
{
    int rc;

    if (len > INT_MAX)
        return SQLITE_TOOBIG;
    rc = sqlite3_bind_text(s, i, doc, (int)len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, i + 1, sq_crc(key, key_len, doc, len));
    return rc;
}

/* Run a one-statement write whose parameters are bound (rc: the result of
 * binding them) to its end, reset it and hand the connection back. */
static acp_status sq_finish_write(acp_backend *b, sq_conn *c, sqlite3_stmt *s, int rc,
                                  const char *what, const char *id, acp_call *call)
{
    acp_status st = ACP_OK;

    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc != SQLITE_DONE)
        st = sq_fail(b, call, c, rc, what, id);
    sqlite3_reset(s);
    sq_put(b, c);
    return st;
}

/* ------------------------------------------------------------------ */
/* Runs                                                                 */
/* ------------------------------------------------------------------ */

acp_status sq_get_run(acp_backend *b, const char *run_id, acp_call *call)
{
    return sq_get_one(b, ACP_SQ_GET_RUN, SQ_RUN, run_id, call);
}

int sq_bind_run(sqlite3_stmt *s, const acp_run_record *r, int64_t version)
{
    int rc = sqlite3_bind_text(s, 1, r->run_id, (int)r->run_id_len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 2, r->agent_name, (int)r->agent_name_len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = r->session_id ? sqlite3_bind_text(s, 3, r->session_id, (int)r->session_id_len,
                                               SQLITE_STATIC)
                           : sqlite3_bind_null(s, 3);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 4, r->status, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 5, r->created_us);
    if (rc == SQLITE_OK)
        rc = r->finished_us == ACP_NO_TIME ? sqlite3_bind_null(s, 6)
                                            : sqlite3_bind_int64(s, 6, r->finished_us);
    if (rc == SQLITE_OK) /* unused (but numbered) in ACP_SQ_INSERT_RUN */
        rc = sqlite3_bind_int(s, 7, (r->flags & ACP_RUN_CREATED_DEFAULT) != 0);
    if (rc == SQLITE_OK)
        rc = sq_bind_doc(s, 8, r->run_id, r->run_id_len, r->doc, r->doc_len);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 10, version);
    return rc;
}

int sq_read_version(sq_conn *c, const acp_run_record *r, int64_t *stored, int64_t *mark)
{
    sqlite3_stmt *s = c->st[ACP_SQ_RUN_VERSION];
    int rc = sqlite3_bind_text(s, 1, r->run_id, (int)r->run_id_len, SQLITE_STATIC);
    if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        *stored = sqlite3_column_int64(s, 0); /* NULL reads as 0 */
        *mark = sqlite3_column_int64(s, 1);
        rc = SQLITE_OK;
    }
    sqlite3_reset(s);
    return rc;
}

/* One write transaction: read the stored version, apply the version rule
 * and the condition (acp_run_version_next), write.  BEGIN IMMEDIATE takes
 * the database's write lock first, so no other writer of any process comes
 * between the read and the write. */
acp_status sq_save_run(acp_backend *b, const acp_run_record *r, acp_call *call)
{
    sq_conn *c;
    acp_status st = sq_get_rw(b, call, "save_run", &c);
    int64_t stored = 0, mark = 0, version = 0;
    int rc;

    if (st != ACP_OK)
        return st;
    rc = sq_exec_stmt(c->st[ACP_SQ_BEGIN]);
    if (rc == SQLITE_OK)
        rc = sq_read_version(c, r, &stored, &mark);
    if (rc == SQLITE_OK &&
        acp_run_version_next(r, stored, mark, b->host->now_us(), &version) != ACP_OK) {
        sq_put(b, c); /* rolls back */
        acp_report_version(b->host, call, stored);
        return ACP_CONFLICT;
    }
    if (rc == SQLITE_OK) {
        sqlite3_stmt *s = c->st[ACP_SQ_SAVE_RUN];
        rc = sq_bind_run(s, r, version);
        if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_DONE)
            rc = SQLITE_OK;
        sqlite3_reset(s);
    }
    if (rc == SQLITE_OK)
        rc = sq_exec_stmt(c->st[ACP_SQ_COMMIT]);
    if (rc != SQLITE_OK)
        st = sq_fail(b, call, c, rc, "save_run", r->run_id);
    sq_put(b, c); /* rolls back after a failure */
    if (st == ACP_OK)
        acp_report_version(b->host, call, version);
    return st;
}

int sq_delete_one(sq_conn *c, const char *id, long long *gone)
{
    static const int steps[] = {ACP_SQ_MARK_DELETE, ACP_SQ_DELETE_RUN, ACP_SQ_DELETE_EVENTS};
    int rc = SQLITE_OK;
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof steps / sizeof steps[0]; i++) {
        sqlite3_stmt *s = c->st[steps[i]];
        rc = sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sq_exec_stmt(s);
        if (rc == SQLITE_OK && gone && steps[i] != ACP_SQ_MARK_DELETE)
            *gone += sqlite3_changes(c->db);
    }
    return rc;
}

acp_status sq_delete_run(acp_backend *b, const char *run_id, acp_call *call)
{
    sq_conn *c;
    long long gone = 0;
    acp_status st = sq_get_rw(b, call, "delete_run", &c);
    if (st != ACP_OK)
        return st;
    /* The run and its events go together or not at all. */
    int rc = sq_exec_stmt(c->st[ACP_SQ_BEGIN]);
    if (rc == SQLITE_OK)
        rc = sq_delete_one(c, run_id, &gone);
    if (rc == SQLITE_OK)
        rc = sq_exec_stmt(c->st[ACP_SQ_COMMIT]);
    if (rc != SQLITE_OK && st == ACP_OK)
        st = sq_fail(b, call, c, rc, "delete_run", run_id);
    sq_put(b, c); /* rolls back after a failure */
    if (st == ACP_OK && gone == 0)
        st = b->host->error(call, ACP_NOT_FOUND, "%s: no run or events for %s", b->path,
                            run_id);
    return st;
}

acp_status sq_list_runs(acp_backend *b, const acp_run_query *q, acp_call *call)
{
    int filter = (q->agent_name ? 1 : 0) | (q->session_id ? 2 : 0);
    int both = q->want_total && q->limit > 0;
    sqlite3_stmt *s;
    sq_conn *c;
    acp_status st = sq_get(b, call, &c);
    int rc = SQLITE_OK;

    if (st != ACP_OK)
        return st;
    /* The total and the page come from one snapshot. */
    if (both) {
        rc = sq_exec_stmt(c->st[ACP_SQ_BEGIN_READ]);
        if (rc != SQLITE_OK) {
            st = sq_fail(b, call, c, rc, "list_runs", NULL);
            goto out;
        }
    }
    if (q->want_total) {
        sqlite3_int64 n = 0;
        s = c->st[ACP_SQ_COUNT_RUNS];
        rc = sqlite3_bind_int(s, 1, filter);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_text(s, 2, q->agent_name ? q->agent_name : "", -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_text(s, 3, q->session_id ? q->session_id : "", -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            n = sqlite3_column_int64(s, 0);
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            rc = SQLITE_OK; /* no row: no match */
        }
        if (rc != SQLITE_OK)
            st = sq_fail(b, call, c, rc, "list_runs: total", NULL);
        sqlite3_reset(s);
        if (st != ACP_OK)
            goto out;
        b->host->set_total(call, n);
    }
    if (q->limit > 0) {
        s = c->st[ACP_SQ_LIST_RUNS + filter + (q->has_cursor ? 4 : 0)];
        rc = SQLITE_OK;
        if (q->agent_name)
            rc = sqlite3_bind_text(s, 1, q->agent_name, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK && q->session_id)
            rc = sqlite3_bind_text(s, 2, q->session_id, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK && q->has_cursor) {
            rc = sqlite3_bind_int64(s, 3, q->cursor_created_us);
            if (rc == SQLITE_OK)
                rc = sqlite3_bind_text(s, 4, q->cursor_run_id, -1, SQLITE_STATIC);
        }
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 5, q->limit);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 6, q->offset);
        st = sq_emit_rows(b, c, s, rc, SQ_RUN, NULL, 0, call, NULL);
    }
    if (both && st == ACP_OK) {
        rc = sq_exec_stmt(c->st[ACP_SQ_COMMIT]);
        if (rc != SQLITE_OK)
            st = sq_fail(b, call, c, rc, "list_runs", NULL);
    }
out:
    sq_put(b, c);
    return st;
}

/* ------------------------------------------------------------------ */
/* Sessions                                                             */
/* ------------------------------------------------------------------ */

acp_status sq_save_session(acp_backend *b, const acp_session_record *r, acp_call *call)
{
    sq_conn *c;
    acp_status st = sq_get_rw(b, call, "save_session", &c);
    sqlite3_stmt *s;
    int rc;

    if (st != ACP_OK)
        return st;
    s = c->st[ACP_SQ_SAVE_SESSION];
    rc = sqlite3_bind_text(s, 1, r->id, (int)r->id_len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sq_bind_doc(s, 2, r->id, r->id_len, r->doc, r->doc_len);
    return sq_finish_write(b, c, s, rc, "save_session", r->id, call);
}

acp_status sq_get_session(acp_backend *b, const char *id, acp_call *call)
{
    return sq_get_one(b, ACP_SQ_GET_SESSION, SQ_SESSION, id, call);
}

acp_status sq_delete_session(acp_backend *b, const char *id, acp_call *call)
{
    sq_conn *c;
    acp_status st = sq_get_rw(b, call, "delete_session", &c);
    sqlite3_stmt *s;
    int rc;

    if (st != ACP_OK)
        return st;
    s = c->st[ACP_SQ_DELETE_SESSION];
    rc = sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        if (sqlite3_changes(c->db) == 0)
            st = b->host->error(call, ACP_NOT_FOUND, "%s: no session %s", b->path, id);
    } else {
        st = sq_fail(b, call, c, rc, "delete_session", id);
    }
    sqlite3_reset(s);
    sq_put(b, c);
    return st;
}

acp_status sq_list_sessions(acp_backend *b, const char *after_id, int64_t limit,
                            acp_call *call)
{
    sqlite3_stmt *s;
    sq_conn *c;
    acp_status st = sq_get(b, call, &c);
    int rc = SQLITE_OK;

    if (st != ACP_OK)
        return st;
    s = c->st[after_id ? ACP_SQ_LIST_SESSIONS_AFTER : ACP_SQ_LIST_SESSIONS];
    if (after_id)
        rc = sqlite3_bind_text(s, 1, after_id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, limit);
    st = sq_emit_rows(b, c, s, rc, SQ_SESSION, NULL, 0, call, NULL);
    sq_put(b, c);
    return st;
}

/* ------------------------------------------------------------------ */
/* Events                                                               */
/* ------------------------------------------------------------------ */

acp_status sq_add_event(acp_backend *b, const acp_event_record *ev, int64_t *seq,
                        acp_call *call)
{
    sqlite3_stmt *s;
    sq_conn *c;
    acp_status st;
    sqlite3_int64 n = 0;
    int rc;

    st = sq_get_rw(b, call, "add_event", &c);
    if (st != ACP_OK)
        return st;
    s = c->st[ACP_SQ_ADD_EVENT];
    rc = sqlite3_bind_text(s, 1, ev->run_id, (int)ev->run_id_len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 2, ev->type, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 3, ev->stored_us);
    if (rc == SQLITE_OK)
        rc = sq_bind_doc(s, 4, ev->run_id, ev->run_id_len, ev->doc, ev->doc_len);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        n = sqlite3_column_int64(s, 0);
        /* The statement commits when it runs to its end. */
        rc = sqlite3_step(s);
    }
    if (rc == SQLITE_DONE && n > 0)
        *seq = n;
    else
        st = sq_fail(b, call, c, rc, "add_event", ev->run_id);
    sqlite3_reset(s);
    sq_put(b, c);
    if (st == ACP_OK)
        sq_follow_notify(b->open_path); /* follow.c */
    return st;
}

acp_status sq_get_events(acp_backend *b, const acp_event_query *q, acp_call *call)
{
    sqlite3_stmt *s;
    sq_conn *c;
    acp_status st = sq_get(b, call, &c);
    int rc;

    if (st != ACP_OK)
        return st;
    s = c->st[ACP_SQ_GET_EVENTS];
    rc = sqlite3_bind_text(s, 1, q->run_id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, q->after_seq);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 3, q->limit);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 4, q->offset);
    st = sq_emit_rows(b, c, s, rc, SQ_EVENT, q->run_id, 0, call, NULL);
    sq_put(b, c);
    return st;
}

acp_status sq_wait_events(acp_backend *b, const acp_event_query *q, acp_call *call)
{
    return sq_follow_wait(b, b->host, b->open_path, sq_get_events, q, call); /* follow.c */
}
