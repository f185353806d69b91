/* SPDX-License-Identifier: MIT */
/*
 * baseline_sqlite_schema.c - creates the raw SQLite baseline's schema; apart
 * from baseline_sqlite.c so that bench_sqlite_schema checks exactly what the
 * baseline creates.
 */
#include <stdio.h>

#include "baseline_sqlite_sql.h"

int baseline_sqlite_create(sqlite3 *db)
{
    char pragmas[128];
    int rc;
    snprintf(pragmas, sizeof pragmas, "PRAGMA application_id = %d; PRAGMA user_version = %d",
             BSQ_APPLICATION_ID, BSQ_SCHEMA_VERSION);
    /* WAL is a property of the file, set outside a transaction. */
    if ((rc = sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL)) != SQLITE_OK)
        return rc;
    if ((rc = sqlite3_exec(db, "BEGIN IMMEDIATE;" BSQ_SCHEMA, NULL, NULL, NULL)) != SQLITE_OK ||
        (rc = sqlite3_exec(db, pragmas, NULL, NULL, NULL)) != SQLITE_OK)
        return rc;
    return sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
}
