/* SPDX-License-Identifier: MIT */
/*
 * sq_verify.c - the SQLite backend's verify: SQLite's integrity check,
 * every document against its checksum, the counters (counts, and
 * time_counts where the store keeps it) against the runs.
 */

#define _POSIX_C_SOURCE 200809L /* gmtime_r */

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sq.h"

/* A row of PRAGMA integrity_check: "ok", or one problem SQLite found. */
static int sq_verify_integrity_row(const acp_backend *b, sqlite3_stmt *s, acp_call *call)
{
    const char *msg = (const char *)sqlite3_column_text(s, 0);

    if (msg == NULL || strcmp(msg, "ok") == 0)
        return 0;
    return sq_report(b, call, strstr(msg, "index") ? ACP_ITEM_INDEX : ACP_ITEM_OTHER, NULL, 0,
                     ACP_CORRUPT, "database file", msg);
}

/* A row of ACP_SQ_VERIFY_COUNTS: a counter that does not match the runs. */
static int sq_verify_counts_row(const acp_backend *b, sqlite3_stmt *s, acp_call *call)
{
    int kind = sqlite3_column_int(s, 0);
    const char *agent = (const char *)sqlite3_column_text(s, 1);
    const char *session = (const char *)sqlite3_column_text(s, 2);
    char where[600], reason[200];

    /* The counter's filter, as sqlite_sql.h numbers them. */
    agent = agent ? agent : "";
    session = session ? session : "";
    if (kind == 1)
        snprintf(where, sizeof where, "table counts: agent '%s'", agent);
    else if (kind == 2)
        snprintf(where, sizeof where, "table counts: session '%s'", session);
    else if (kind == 3)
        snprintf(where, sizeof where, "table counts: agent '%s' and session '%s'", agent,
                 session);
    else
        snprintf(where, sizeof where, "table counts: all runs (kind %d)", kind);
    snprintf(reason, sizeof reason,
             "the counter says %lld runs but the runs table holds %lld: list totals are wrong",
             (long long)sqlite3_column_int64(s, 3), (long long)sqlite3_column_int64(s, 4));
    return sq_report(b, call, ACP_ITEM_INDEX, NULL, 0, ACP_CORRUPT, where, reason);
}

/* Instant us (microseconds since the epoch) as RFC 3339 UTC into out, or
 * as the number when the calendar cannot hold it. */
static void sq_format_us(int64_t us, char *out, size_t cap)
{
    int64_t sec = us / 1000000 - (us % 1000000 < 0);
    time_t t = (time_t)sec;
    struct tm tm;
    char day[40];

    if ((int64_t)t == sec && gmtime_r(&t, &tm) && tm.tm_year >= -1900 && tm.tm_year <= 8099 &&
        strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm) > 0)
        snprintf(out, cap, "%s.%06lldZ", day, (long long)(us - sec * 1000000));
    else
        snprintf(out, cap, "%lld us", (long long)us);
}

/* A row of ACP_SQ_VERIFY_TIME_COUNTS: a time counter that differs from
 * the runs, is missing or has no run to count. */
static int sq_verify_time_counts_row(const acp_backend *b, sqlite3_stmt *s, acp_call *call)
{
    static const char *const kinds[] = {"all runs", "agent", "session"};
    int kind = sqlite3_column_int(s, 0);
    const char *key = (const char *)sqlite3_column_text(s, 1);
    int level = sqlite3_column_int(s, 2);
    long long bucket = (long long)sqlite3_column_int64(s, 3);
    const char *status = (const char *)sqlite3_column_text(s, 4);
    long long stored = (long long)sqlite3_column_int64(s, 5);
    long long actual = (long long)sqlite3_column_int64(s, 6);
    char where[800], span[120] = "", reason[400];

    /* The counter's key as sqlite_sql.h numbers the kinds. */
    if (kind == 0)
        snprintf(where, sizeof where, "table time_counts: %s", kinds[0]);
    else if (kind <= 2 && kind > 0)
        snprintf(where, sizeof where, "table time_counts: %s '%s'", kinds[kind],
                 key ? key : "");
    else
        snprintf(where, sizeof where, "table time_counts: kind %d key '%s'", kind,
                 key ? key : "");
    snprintf(where + strlen(where), sizeof where - strlen(where),
             ", level %d, bucket %lld, status '%s'", level, bucket, status ? status : "");
    /* The bucket's instants, so that an operator can find its runs (none
     * for a stray row whose level or bucket cannot exist). */
    if (level >= 0 && level < ACP_TIME_BUCKET_LEVELS) {
        int shift = ACP_TIME_BUCKET_SHIFT0 + ACP_TIME_BUCKET_STEP * level;
        long long width = 1LL << shift;
        if (bucket <= INT64_MAX >> shift && bucket >= -(INT64_MAX >> shift) - 1) {
            char first[48], last[48];
            sq_format_us(bucket * width, first, sizeof first);
            sq_format_us(bucket * width + (width - 1), last, sizeof last);
            snprintf(span, sizeof span, " created %s to %s", first, last);
        }
    }
    if (sqlite3_column_type(s, 5) == SQLITE_NULL)
        snprintf(reason, sizeof reason, "the row is missing, but the runs table holds %lld",
                 actual);
    else if (sqlite3_column_type(s, 6) == SQLITE_NULL)
        snprintf(reason, sizeof reason, "a stray row of %lld runs, but the runs table holds none",
                 stored);
    else
        snprintf(reason, sizeof reason, "the counter says %lld runs but the runs table holds %lld",
                 stored, actual);
    snprintf(reason + strlen(reason), sizeof reason - strlen(reason),
             "%s: totals over creation-time ranges are wrong", span);
    return sq_report(b, call, ACP_ITEM_INDEX, NULL, 0, ACP_CORRUPT, where, reason);
}

/* A row of ACP_SQ_VERIFY_TIME_TRIGGERS: a trigger of time_counts is gone. */
static int sq_verify_time_trigger_row(const acp_backend *b, sqlite3_stmt *s, acp_call *call)
{
    char reason[300];

    snprintf(reason, sizeof reason,
             "the trigger %s that keeps time_counts is missing: the counters drift from the "
             "runs with every write; reopen with time_totals=false, then true, to rebuild them",
             (const char *)sqlite3_column_text(s, 0));
    return sq_report(b, call, ACP_ITEM_INDEX, NULL, 0, ACP_CORRUPT, "table time_counts",
                     reason);
}

/* Prepare sql for one verify step, or report why not. */
static acp_status sq_verify_prepare(const acp_backend *b, sq_conn *c, const char *sql,
                                    acp_call *call, sqlite3_stmt **out)
{
    int rc = sqlite3_prepare_v2(c->db, sql, -1, out, NULL);
    return rc == SQLITE_OK ? ACP_OK : sq_fail(b, call, c, rc, "verify", NULL);
}

/* Run a check query and hand each row to row(); SQLite's own CORRUPT is
 * damage too. */
static acp_status sq_verify_query(const acp_backend *b, sq_conn *c, const char *sql,
                                  int (*row)(const acp_backend *, sqlite3_stmt *, acp_call *),
                                  acp_call *call)
{
    sqlite3_stmt *s = NULL;
    acp_status st = sq_verify_prepare(b, c, sql, call, &s);
    int rc = SQLITE_OK;

    while (st == ACP_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
        if (row(b, s, call) != 0)
            st = sq_nomem(b, call, "verify");
    if (st == ACP_OK && rc != SQLITE_DONE) {
        if (sq_status(rc) != ACP_CORRUPT)
            st = sq_fail(b, call, c, rc, "verify", NULL);
        else if (sq_report(b, call, ACP_ITEM_OTHER, NULL, 0, ACP_CORRUPT, "database file",
                           sqlite3_errmsg(c->db)))
            st = sq_nomem(b, call, "verify");
    }
    sqlite3_finalize(s);
    return st;
}

/* The whole store in one snapshot: SQLite's integrity check (pages,
 * indexes), every document against its checksum and the host's document
 * checks, and the run counters (counts; time_counts and its triggers when
 * the store has the table) against the runs.  Damage is reported, never
 * repaired: an SQLite store cannot move a row aside, so with
 * ACP_VERIFY_QUARANTINE damaged rows are reported with moved_to NULL and
 * stay where they are (README.md). */
acp_status sq_verify(acp_backend *b, uint32_t flags, acp_call *call)
{
    static const char *const walk[] = {[SQ_RUN] = ACP_SQ_VERIFY_RUNS,
                                       [SQ_SESSION] = ACP_SQ_VERIFY_SESSIONS,
                                       [SQ_EVENT] = ACP_SQ_VERIFY_EVENTS};
    sq_conn *c;
    acp_status st = sq_get(b, call, &c);
    int rc;

    if (st != ACP_OK)
        return st;
    if (flags & ACP_VERIFY_QUARANTINE)
        b->host->log(1, SQ_NAME,
                     "%s: verify: an SQLite store cannot move damaged rows aside; they are "
                     "reported and left in place",
                     b->path);
    rc = sq_exec_stmt(c->st[ACP_SQ_BEGIN_READ]);
    if (rc != SQLITE_OK)
        st = sq_fail(b, call, c, rc, "verify", NULL);
    if (st == ACP_OK)
        st = sq_verify_query(b, c, "PRAGMA integrity_check", sq_verify_integrity_row, call);
    for (int k = SQ_RUN; st == ACP_OK && k <= SQ_EVENT; k++) {
        sqlite3_stmt *s = NULL;
        st = sq_verify_prepare(b, c, walk[k], call, &s);
        if (st == ACP_OK)
            st = sq_emit_rows(b, c, s, SQLITE_OK, k, NULL, 1, call, NULL);
        sqlite3_finalize(s);
    }
    if (st == ACP_OK)
        st = sq_verify_query(b, c, ACP_SQ_VERIFY_COUNTS, sq_verify_counts_row, call);
    /* time_counts only where this snapshot has it (option time_totals). */
    if (st == ACP_OK && (rc = sq_time_counts(c)) != SQLITE_OK)
        st = sq_fail(b, call, c, rc, "verify", NULL);
    if (st == ACP_OK && c->time_counts)
        st = sq_verify_query(b, c, ACP_SQ_VERIFY_TIME_TRIGGERS, sq_verify_time_trigger_row, call);
    if (st == ACP_OK && c->time_counts)
        st = sq_verify_query(b, c, ACP_SQ_VERIFY_TIME_COUNTS, sq_verify_time_counts_row, call);
    sq_put(b, c); /* ends the read transaction */
    return st;
}
