/* SPDX-License-Identifier: MIT */
/*
 * sq_events_of_runs.c - the SQLite backend's get_events_of_runs: the
 * prepared get_events statement stepped run after run on one connection,
 * in one call (copy reads a page of runs' events so), each row checked
 * against its checksum as get_events checks it.
 */

#include "sq.h"

#define WHAT "get_events_of_runs"

/* Emit the rows of the bound statement s as events of run_id; *left: how
 * many more may be emitted. */
static acp_status emit_run(acp_backend *b, sq_conn *c, sqlite3_stmt *s, int rc,
                           const char *run_id, int64_t *left, acp_call *call)
{
    acp_status st = ACP_OK;
    while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        acp_item it;
        const char *key;
        char reason[200];
        int bad = sq_row_item(s, SQ_EVENT, &it, &key, reason, sizeof reason);
        if (bad > 0) {
            st = sq_damaged(b, call, WHAT, SQ_EVENT, key, &it, reason);
            break;
        }
        it.key = run_id;
        if (bad < 0 || b->host->emit(call, &it) != 0) {
            st = sq_nomem(b, call, WHAT);
            break;
        }
        (*left)--;
        rc = SQLITE_OK;
    }
    if (st == ACP_OK && rc != SQLITE_DONE)
        st = sq_fail(b, call, c, rc, WHAT, run_id);
    sqlite3_reset(s);
    return st;
}

acp_status sq_get_events_of_runs(acp_backend *b, const char *const *run_ids, size_t n,
                                 int64_t after_seq, int64_t limit, acp_call *call)
{
    sq_conn *c;
    acp_status st = sq_get(b, call, &c);
    if (st != ACP_OK)
        return st;
    sqlite3_stmt *s = c->st[ACP_SQ_GET_EVENTS];
    for (size_t i = 0; st == ACP_OK && i < n && limit > 0; i++) {
        int rc = sqlite3_bind_text(s, 1, run_ids[i], -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 2, i == 0 ? after_seq : 0);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 3, limit);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 4, 0);
        st = emit_run(b, c, s, rc, run_ids[i], &limit, call);
    }
    sq_put(b, c);
    return st;
}
