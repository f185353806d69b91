/* SPDX-License-Identifier: MIT */
/*
 * baseline_postgres_schema.c - creates the raw PostgreSQL baseline's
 * schema; apart from baseline_postgres.c so that bench_postgres_schema
 * checks exactly what the baseline creates.
 */
#include <stdio.h>

#include "baseline_postgres_sql.h"

static int run(PGconn *c, const char *sql, char *why, size_t wl)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        snprintf(why, wl, "postgres baseline schema: %s", PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

int baseline_postgres_create(PGconn *c, const char *qschema, char *why, size_t wl)
{
    char head[300];
    snprintf(head, sizeof head, "CREATE SCHEMA %s; SET search_path = %s", qschema, qschema);
    if (run(c, "BEGIN", why, wl) != 0)
        return -1;
    if (run(c, head, why, wl) != 0 || run(c, BPG_SCHEMA, why, wl) != 0) {
        PQclear(PQexec(c, "ROLLBACK"));
        return -1;
    }
    return run(c, "COMMIT", why, wl);
}
