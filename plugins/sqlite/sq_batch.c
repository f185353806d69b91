/* SPDX-License-Identifier: MIT */
/*
 * sq_batch.c - the SQLite backend's batched and restoring writes
 * (save_runs, add_events): one transaction per call.
 */

#include <string.h>

#include "sq.h"
#include "sq_follow.h"

/* Step statement s, bound (rc), to its end; *changed: a row was written,
 * *seq: the RETURNING value (when seq is not NULL). */
static int sq_step_write(sq_conn *c, sqlite3_stmt *s, int rc, int *changed, sqlite3_int64 *seq)
{
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && seq) {
        *seq = sqlite3_column_int64(s, 0);
        rc = sqlite3_step(s);
    }
    *changed = rc == SQLITE_DONE && sqlite3_changes(c->db) > 0;
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* End a batch: commit, or (sq_put) roll back after a failure. */
static acp_status sq_batch_end(acp_backend *b, sq_conn *c, int rc, const char *what,
                               const char *id, acp_call *call)
{
    acp_status st = ACP_OK;
    if (rc == SQLITE_OK)
        rc = sq_exec_stmt(c->st[ACP_SQ_COMMIT]);
    if (rc != SQLITE_OK)
        st = sq_fail(b, call, c, rc, what, id);
    sq_put(b, c);
    return st;
}

acp_status sq_save_runs(acp_backend *b, const acp_run_record *runs, size_t n,
                        uint32_t flags, acp_status *results, acp_call *call)
{
    sq_conn *c;
    acp_status st = sq_get_rw(b, call, "save_runs", &c);
    if (st != ACP_OK)
        return st;
    sqlite3_stmt *s = c->st[flags & ACP_BATCH_INSERT_ONLY ? ACP_SQ_INSERT_RUN : ACP_SQ_SAVE_RUN];
    int rc = sq_exec_stmt(c->st[ACP_SQ_BEGIN]);
    size_t i = 0;
    for (; rc == SQLITE_OK && i < n; i++) {
        /* Each run's version by the rule of save_run, inside the batch's
         * one write transaction. */
        int64_t stored = 0, mark = 0, version = 0;
        int changed = 0;
        rc = sq_read_version(c, &runs[i], &stored, &mark);
        if (rc != SQLITE_OK)
            break;
        if (acp_run_version_next(&runs[i], stored, mark, b->host->now_us(), &version) != ACP_OK) {
            results[i] = ACP_CONFLICT;
            continue;
        }
        rc = sq_step_write(c, s, sq_bind_run(s, &runs[i], version), &changed, NULL);
        results[i] = changed || !(flags & ACP_BATCH_INSERT_ONLY) ? ACP_OK : ACP_CONFLICT;
    }
    return sq_batch_end(b, c, rc, "save_runs", n ? runs[i ? i - 1 : 0].run_id : "", call);
}

/* The last sequence of run (id, len) into *last. */
static int sq_last_seq(sq_conn *c, const char *id, size_t len, sqlite3_int64 *last)
{
    sqlite3_stmt *s = c->st[ACP_SQ_LAST_SEQ];
    int rc = sqlite3_bind_text(s, 1, id, (int)len, SQLITE_STATIC);
    if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        *last = sqlite3_column_int64(s, 0);
        rc = SQLITE_OK;
    }
    sqlite3_reset(s);
    return rc;
}

acp_status sq_add_events(acp_backend *b, const acp_event_record *evs, size_t n,
                         uint32_t flags, int64_t *seqs, acp_status *results,
                         acp_call *call)
{
    sq_conn *c;
    acp_status st = sq_get_rw(b, call, "add_events", &c);
    if (st != ACP_OK)
        return st;
    int restore = (flags & ACP_BATCH_RESTORE) != 0;
    sqlite3_stmt *s = c->st[ACP_SQ_INSERT_EVENT];
    int rc = sq_exec_stmt(c->st[ACP_SQ_BEGIN]);
    sqlite3_int64 last = 0; /* the last sequence of evs[i - 1]'s run */
    size_t i = 0;
    for (; rc == SQLITE_OK && i < n; i++) {
        const acp_event_record *ev = &evs[i];
        /* The write lock is held from BEGIN: a run's last sequence, read at
         * its first event in the batch, changes only by this loop. */
        if (i == 0 || ev->run_id_len != evs[i - 1].run_id_len ||
            memcmp(ev->run_id, evs[i - 1].run_id, ev->run_id_len) != 0)
            if ((rc = sq_last_seq(c, ev->run_id, ev->run_id_len, &last)) != SQLITE_OK)
                break;
        if (restore && seqs[i] != last + 1) {
            results[i] = ACP_CONFLICT; /* only the run's next sequence is stored */
            continue;
        }
        int changed;
        rc = sqlite3_bind_text(s, 1, ev->run_id, (int)ev->run_id_len, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_text(s, 2, ev->type, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 3, ev->stored_us);
        if (rc == SQLITE_OK)
            rc = sq_bind_doc(s, 4, ev->run_id, ev->run_id_len, ev->doc, ev->doc_len);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 6, last + 1);
        rc = sq_step_write(c, s, rc, &changed, NULL);
        if (rc != SQLITE_OK)
            break;
        results[i] = ACP_OK;
        seqs[i] = ++last;
    }
    st = sq_batch_end(b, c, rc, "add_events", i < n ? evs[i].run_id : "", call);
    if (st == ACP_OK && n)
        sq_follow_notify(b->open_path); /* follow.c */
    return st;
}
