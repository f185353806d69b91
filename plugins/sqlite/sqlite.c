/* SPDX-License-Identifier: MIT */
/*
 * sqlite.c - the SQLite backend of acp-storage (libacp_storage_sqlite.so).
 *
 *   sqlite:///var/lib/acp/acp.db?busy_timeout=5000&synchronous=normal
 *   sqlite:relative.db?mode=ro
 *
 * One database file in WAL mode, shared by every handle and process that
 * opens it.  A handle keeps a small pool of connections, one per thread
 * inside the backend at a time, each with every statement prepared once.
 * The schema, the statements and the reasons for the indexes are in
 * sqlite_sql.h.
 *
 * Writes are single statements in autocommit mode, or an explicit
 * BEGIN IMMEDIATE transaction when they need more than one statement.  A
 * write statement in autocommit mode takes the write lock before it reads
 * anything (OP_Transaction comes first), and the busy handler retries that
 * acquisition, so neither form can meet the read-to-write upgrade deadlock
 * that returns SQLITE_BUSY without waiting.  SQLITE_BUSY therefore means
 * busy_timeout really expired: ACP_UNAVAILABLE.
 */
#define _POSIX_C_SOURCE 200809L

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "acp_storage_plugin.h"
#include "crc32c.h"
#include "errno_vfs.h"
#include "readonly.h"
#include "sq_follow.h"
#include "sqlite_sql.h"

#define SQ_NAME "sqlite"
#define SQ_VERSION ACP_STORAGE_PLUGIN_VERSION
/* RETURNING (add_event) needs 3.35. */
#define SQ_MIN_SQLITE 3035000

/* One connection and its statements; used by one thread at a time. */
typedef struct sq_conn {
    sqlite3 *db;
    struct sq_conn *next; /* in the idle list */
    sqlite3_stmt *st[ACP_SQ_N];
    /* The lock wait of the current operation (sq_arm): its end on the
     * monotonic clock, how long it was, and whether the call's deadline
     * (rather than busy_timeout) set it. */
    int64_t give_up_ms;
    int64_t wait_ms;
    int by_deadline;
} sq_conn;

struct acp_backend {
    const acp_plugin_host *host;
    char *path;      /* as configured, for messages */
    char *open_path; /* what sqlite3_open_v2 receives (read-write) */
    int readonly;
    int no_create; /* create=false */
    int migrate;   /* SQ_MIGRATE_AUTO, _NEVER or _INSPECT (option migrate) */
    sq_ro ro;        /* mode=ro: how the store is opened (readonly.h) */
    int busy_ms;
    int sync_full;
    int has_cache_size;
    long long cache_size;
    int has_mmap_size;
    long long mmap_size;
    pthread_mutex_t mu; /* guards idle */
    sq_conn *idle;
};

/* ------------------------------------------------------------------ */
/* Errors                                                               */
/* ------------------------------------------------------------------ */

static acp_status sq_status(int rc)
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

/* Report a failure of SQLite: the path, what was being done, SQLite's own
 * message, and the OS reason or the busy timeout when they explain it.
 * db may be NULL (then only rc describes the failure). */
static acp_status sq_fail(const acp_backend *b, acp_call *call, const sq_conn *c, int rc,
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

/* These two return their constant, not host->error's result (the same
 * value), so that the analyser sees their failures never yield ACP_OK. */
static acp_status sq_readonly(const acp_backend *b, acp_call *call, const char *what)
{
    (void)b->host->error(call, ACP_IO, "%s: %s: the store was opened read-only (mode=ro)",
                         b->path, what);
    return ACP_IO;
}

static acp_status sq_nomem(const acp_backend *b, acp_call *call, const char *what)
{
    (void)b->host->error(call, ACP_NOMEM, "%s: %s: out of memory", b->path, what);
    return ACP_NOMEM;
}

/* ------------------------------------------------------------------ */
/* Options                                                              */
/* ------------------------------------------------------------------ */

/* Option migrate (the core's, handed to plugins with a migrate method):
 * auto (migrate on open), never (refuse an older schema: acp-storage migrate
 * changes it), inspect (only from the core, for its migrate call: open any
 * older schema as it is). */
enum { SQ_MIGRATE_AUTO, SQ_MIGRATE_NEVER, SQ_MIGRATE_INSPECT };

/* Checked by the core against these specs (defaults filled in), so open
 * only reads the canonical values. */
static const char *const sq_variants[] = {NULL};
static const char *const sq_sync_values[] = {"normal", "full", NULL};
static const char *const sq_mode_values[] = {"rw", "ro", NULL};
static const acp_option_spec sq_options[] = {
    {.name = "busy_timeout", .type = ACP_OPT_INTEGER, .min = 0, .max = INT_MAX,
     .default_value = "5000", .doc = "milliseconds to wait for another writer's lock"},
    {.name = "synchronous", .type = ACP_OPT_ENUM, .values = sq_sync_values,
     .default_value = "normal",
     .doc = "normal: survives a process crash; full: also survives power loss"},
    {.name = "mode", .type = ACP_OPT_ENUM, .values = sq_mode_values, .default_value = "rw",
     .doc = "ro: open read-only; rw: read-write"},
    {.name = "cache_size", .type = ACP_OPT_INTEGER, .min = -(int64_t)INT_MAX, .max = INT_MAX,
     .doc = "PRAGMA cache_size: pages when positive, KiB when negative"},
    {.name = "mmap_size", .type = ACP_OPT_SIZE, .min = 0, .max = INT64_MAX,
     .doc = "bytes of the database to map into memory (0: none)"},
    {.name = "create", .type = ACP_OPT_BOOLEAN, .default_value = "true",
     .doc = "false: fail with NOT_FOUND instead of creating a missing database"},
    {.name = NULL}};

static acp_status sq_parse_options(acp_backend *b, const acp_open_args *args, acp_call *call)
{
    (void)call;
    b->busy_ms = (int)acp_option_int(args, "busy_timeout", b->busy_ms);
    const char *sync = acp_option_text(args, "synchronous");
    b->sync_full = sync && strcmp(sync, "full") == 0;
    const char *mode = acp_option_text(args, "mode");
    b->readonly = mode && strcmp(mode, "ro") == 0;
    b->no_create = acp_option_int(args, "create", 1) == 0;
    b->has_cache_size = acp_option_text(args, "cache_size") != NULL;
    b->cache_size = acp_option_int(args, "cache_size", 0);
    b->has_mmap_size = acp_option_text(args, "mmap_size") != NULL;
    b->mmap_size = acp_option_int(args, "mmap_size", 0);
    const char *migrate = acp_option_text(args, "migrate");
    b->migrate = !migrate                        ? SQ_MIGRATE_AUTO
                 : strcmp(migrate, "never") == 0   ? SQ_MIGRATE_NEVER
                 : strcmp(migrate, "inspect") == 0 ? SQ_MIGRATE_INSPECT
                                                   : SQ_MIGRATE_AUTO;
    return ACP_OK;
}

/* ------------------------------------------------------------------ */
/* Connections                                                          */
/* ------------------------------------------------------------------ */

static void sq_conn_free(sq_conn *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < ACP_SQ_N; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_close(c->db);
    free(c);
}

/* Step one statement of no result (BEGIN, COMMIT, ...) and reset it. */
static int sq_exec_stmt(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Roll back an open transaction after a failure; keeps the first error. */
static void sq_rollback(sq_conn *c)
{
    if (!sqlite3_get_autocommit(c->db))
        sq_exec_stmt(c->st[ACP_SQ_ROLLBACK]);
}

/* Read (application_id, user_version, number of schema objects). */
static int sq_read_header(sq_conn *c, int *app_id, int *version, int *objects)
{
    sqlite3_stmt *st = c->st[ACP_SQ_HEADER];
    int rc = sqlite3_step(st);

    if (rc == SQLITE_ROW) {
        *app_id = sqlite3_column_int(st, 0);
        *version = sqlite3_column_int(st, 1);
        *objects = sqlite3_column_int(st, 2);
        rc = SQLITE_OK;
    }
    sqlite3_reset(st);
    return rc;
}

/* What the header says must happen before the schema can be used. */
enum { SQ_READY, SQ_CREATE, SQ_MIGRATE };

static acp_status sq_check_header(const acp_backend *b, acp_call *call, int app_id, int version,
                                  int objects, int *plan)
{
    const acp_plugin_host *h = b->host;

    if (objects == 0) {
        /* An empty file (or none yet): a fresh store. */
        *plan = SQ_CREATE;
        return ACP_OK;
    }
    if (app_id != ACP_SQLITE_APPLICATION_ID)
        return h->error(call, ACP_INVALID,
                        "%s: an SQLite database that is not an acp-storage store "
                        "(application_id %d, %d schema objects); refusing to change it",
                        b->path, app_id, objects);
    if (version > ACP_SQLITE_SCHEMA_VERSION)
        return h->error(call, ACP_UNSUPPORTED,
                        "%s: schema version %d is newer than version %d known to this "
                        "plugin (%s); use a newer libacp_storage_sqlite",
                        b->path, version, ACP_SQLITE_SCHEMA_VERSION, SQ_VERSION);
    if (version < 1)
        return h->error(call, ACP_CORRUPT,
                        "%s: acp-storage store without a schema version (user_version %d)",
                        b->path, version);
    *plan = version == ACP_SQLITE_SCHEMA_VERSION ? SQ_READY : SQ_MIGRATE;
    return ACP_OK;
}

/* The migration chain: row i brings version i to i+1.  Open (migrate=auto)
 * and acp-storage migrate both run these rows, in order, inside one BEGIN
 * IMMEDIATE transaction, so a store is never seen half-migrated; migrate
 * --dry-run lists them.  A new schema version appends one row here (and
 * bumps ACP_SQLITE_SCHEMA_VERSION in sqlite_sql.h): nothing else. */
static const struct {
    const char *description; /* one line, for acp-storage migrate */
    const char *sql;
} sq_migrations[] = {
    {"create the tables runs, sessions, events and counts (run totals kept by triggers)",
     ACP_SQLITE_SCHEMA_V1},
    {"add a CRC-32C checksum column to runs, sessions and events; compute it for every "
     "stored row",
     ACP_SQLITE_SCHEMA_V2 ACP_SQLITE_CHECKSUM_V2},
    {"add runs.version (stored runs become version 1) and the table marks (the delete mark "
     "of run versions)",
     ACP_SQLITE_SCHEMA_V3},
    {"create the status indexes runs_status, runs_agent_status and runs_finished; count "
     "runs per status and per agent and status (filters, purge, stats)",
     ACP_SQLITE_SCHEMA_V4},
};
_Static_assert(sizeof sq_migrations / sizeof sq_migrations[0] == ACP_SQLITE_SCHEMA_VERSION,
               "one migration row per schema version");

/* The checksum of a stored document: CRC-32C of its key, a NUL byte and
 * the document (sqlite_sql.h, version 2).  The key makes a row that was
 * moved to another key as damaged as a changed document. */
static uint32_t sq_crc(const char *key, size_t key_len, const char *doc, size_t doc_len)
{
    uint32_t crc = acp_crc32c(0, key, key_len);
    crc = acp_crc32c(crc, "", 1);
    return acp_crc32c(crc, doc, doc_len);
}

/* acp_crc(key, doc) in SQL, for the migration that adds checksums to the
 * rows of an older store. */
static void sq_sql_crc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const char *key = (const char *)sqlite3_value_text(argv[0]);
    size_t key_len = (size_t)sqlite3_value_bytes(argv[0]);
    const char *doc = (const char *)sqlite3_value_text(argv[1]);
    size_t doc_len = (size_t)sqlite3_value_bytes(argv[1]);

    (void)argc;
    if (key == NULL || doc == NULL)
        sqlite3_result_error_nomem(ctx);
    else
        sqlite3_result_int64(ctx, sq_crc(key, key_len, doc, doc_len));
}

static acp_status sq_create_or_migrate(const acp_backend *b, sq_conn *c, acp_call *call)
{
    int app_id = 0, version = 0, objects = 0, plan = SQ_READY;
    acp_status st;
    char *errmsg = NULL;
    char sql[96];
    int rc;

    rc = sq_exec_stmt(c->st[ACP_SQ_BEGIN]);
    if (rc != SQLITE_OK)
        return sq_fail(b, call, c, rc, "open: lock for schema creation", NULL);
    /* Another process may have created or migrated it while we waited. */
    rc = sq_read_header(c, &app_id, &version, &objects);
    if (rc != SQLITE_OK) {
        st = sq_fail(b, call, c, rc, "open: read header", NULL);
        goto fail;
    }
    st = sq_check_header(b, call, app_id, version, objects, &plan);
    if (st != ACP_OK)
        goto fail;
    if (plan == SQ_CREATE)
        version = 0;
    /* Only on this connection and only for the migration: the schema never
     * names it, so other tools can still use the store. */
    rc = sqlite3_create_function_v2(c->db, "acp_crc", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                    NULL, sq_sql_crc, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        st = sq_fail(b, call, c, rc, "open: migration", NULL);
        goto fail;
    }
    for (int v = version; v < ACP_SQLITE_SCHEMA_VERSION; v++) {
        rc = sqlite3_exec(c->db, sq_migrations[v].sql, NULL, NULL, &errmsg);
        if (rc != SQLITE_OK) {
            st = b->host->error(call, sq_status(rc) == ACP_PLUGIN ? ACP_CORRUPT : sq_status(rc),
                                "%s: open: schema version %d -> %d failed: %s", b->path,
                                v, v + 1, errmsg ? errmsg : sqlite3_errstr(rc));
            sqlite3_free(errmsg);
            goto fail;
        }
    }
    snprintf(sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = %d",
             ACP_SQLITE_APPLICATION_ID, ACP_SQLITE_SCHEMA_VERSION);
    rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sq_exec_stmt(c->st[ACP_SQ_COMMIT]);
    if (rc != SQLITE_OK) {
        st = sq_fail(b, call, c, rc, "open: write schema", NULL);
        goto fail;
    }
    if (plan == SQ_MIGRATE)
        b->host->log(2, SQ_NAME, "%s: schema migrated from version %d to %d", b->path, version,
                     ACP_SQLITE_SCHEMA_VERSION);
    return ACP_OK;
fail:
    sq_rollback(c);
    return st;
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

/* WAL is a property of the file: set it once, outside a transaction.  The
 * switch upgrades a read lock to an exclusive one, and SQLite does not call
 * the busy handler for an upgrade: while another process is creating the
 * same store, wait here, within the operation's wait (sq_arm). */
static int sq_set_wal(const acp_backend *b, sq_conn *c)
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

/* migrate=never and the schema is not the plugin's: say what to run. */
static acp_status sq_migrate_refused(const acp_backend *b, acp_call *call, int version)
{
    if (version == 0)
        return b->host->error(call, ACP_UNSUPPORTED,
                              "%s: no acp-storage schema yet, and migrate=never does not create "
                              "one: run 'acp-storage migrate' on this store first",
                              b->path);
    return b->host->error(call, ACP_UNSUPPORTED,
                          "%s: schema version %d is older than version %d of this plugin, and "
                          "migrate=never does not migrate it: run 'acp-storage migrate' on this "
                          "store (as a user allowed to change it)",
                          b->path, version, ACP_SQLITE_SCHEMA_VERSION);
}

/* First connection of a handle: check the file, switch it to WAL, create
 * or migrate the schema. */
static acp_status sq_open_schema(const acp_backend *b, sq_conn *c, acp_call *call)
{
    int app_id = 0, version = 0, objects = 0, plan = SQ_READY;
    acp_status st;
    int rc;

    rc = sq_read_header(c, &app_id, &version, &objects);
    if (rc != SQLITE_OK)
        return sq_fail(b, call, c, rc, "open: read header", NULL);
    st = sq_check_header(b, call, app_id, version, objects, &plan);
    if (st != ACP_OK)
        return st;
    if (b->migrate == SQ_MIGRATE_INSPECT)
        return ACP_OK; /* sq_migrate decides */
    if (b->migrate == SQ_MIGRATE_NEVER && plan != SQ_READY)
        return sq_migrate_refused(b, call, plan == SQ_CREATE ? 0 : version);
    if (b->readonly) {
        if (plan == SQ_CREATE)
            return b->host->error(call, ACP_INVALID,
                                  "%s: no acp-storage store here, and mode=ro cannot "
                                  "create one",
                                  b->path);
        if (plan == SQ_MIGRATE)
            return b->host->error(call, ACP_UNSUPPORTED,
                                  "%s: schema version %d must be migrated to %d; open it "
                                  "once without mode=ro",
                                  b->path, version, ACP_SQLITE_SCHEMA_VERSION);
        return ACP_OK;
    }

    rc = sq_set_wal(b, c);
    if (rc != SQLITE_OK)
        return sq_fail(b, call, c, rc, "open: set WAL mode", NULL);
    if (plan != SQ_READY)
        return sq_create_or_migrate(b, c, call);
    return ACP_OK;
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

static acp_status sq_conn_open(const acp_backend *b, int first, acp_call *call, sq_conn **out)
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
    static const int early[] = {ACP_SQ_HEADER, ACP_SQ_BEGIN, ACP_SQ_COMMIT, ACP_SQ_ROLLBACK};
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
    *out = c;
    return ACP_OK;
}

/* Take an idle connection, or open one more: the pool grows to the number
 * of threads inside the backend at once. */
static acp_status sq_get(acp_backend *b, acp_call *call, sq_conn **out)
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

static void sq_put(acp_backend *b, sq_conn *c)
{
    sq_rollback(c); /* never hand on an open transaction */
    pthread_mutex_lock(&b->mu);
    c->next = b->idle;
    b->idle = c;
    pthread_mutex_unlock(&b->mu);
}

/* ------------------------------------------------------------------ */
/* Lifecycle                                                            */
/* ------------------------------------------------------------------ */

static void sq_close(acp_backend *b)
{
    if (b == NULL)
        return;
    while (b->idle != NULL) {
        sq_conn *c = b->idle;
        b->idle = c->next;
        sq_conn_free(c);
    }
    pthread_mutex_destroy(&b->mu);
    sq_ro_free(&b->ro);
    free(b->path);
    free(b->open_path);
    free(b);
}

static char *sq_strdup(const char *s, const char *prefix)
{
    size_t lp = strlen(prefix), ls = strlen(s);
    char *d = malloc(lp + ls + 1);
    if (d != NULL) {
        memcpy(d, prefix, lp);
        memcpy(d + lp, s, ls + 1);
    }
    return d;
}

/* mode=ro: decide how to read the store (readonly.h). */
static acp_status sq_ro_open_plan(acp_backend *b, acp_call *call)
{
    sq_ro_plan(b->path, &b->ro);
    if (b->ro.uri == NULL)
        return sq_nomem(b, call, "open");
    /* Without the guest VFS, SQLite would create -wal as this user. */
    if (b->ro.vfs_mode == SQ_VFS_GUEST && sq_vfs_name(SQ_VFS_GUEST) == NULL)
        return b->host->error(call, ACP_UNSUPPORTED,
                              "%s: mode=ro (%s): cannot make sure that no file is created "
                              "(registering the plugin's SQLite VFS failed)",
                              b->path, b->ro.why);
    b->host->log(3, SQ_NAME, "%s: opened %s", b->path, b->ro.why);
    return ACP_OK;
}

static acp_status sq_open(const acp_plugin_host *host, const acp_open_args *args,
                          acp_backend **out, acp_call *call)
{
    acp_backend *b;
    sq_conn *c = NULL;
    acp_status st;

    if (sqlite3_libversion_number() < SQ_MIN_SQLITE)
        return host->error(call, ACP_UNSUPPORTED,
                           "SQLite %s is too old; version 3.35 or newer is needed",
                           sqlite3_libversion());
    if (sqlite3_threadsafe() == 0)
        return host->error(call, ACP_UNSUPPORTED,
                           "this SQLite library was built without thread support");
    if (args->authority[0] != '\0')
        return host->error(call, ACP_INVALID,
                           "\"%s\" names a host (\"%s\"); write sqlite:///abs/path.db or "
                           "sqlite:relative.db",
                           args->uri_redacted, args->authority);
    if (args->path[0] == '\0')
        return host->error(call, ACP_INVALID,
                           "no database path in \"%s\"; write sqlite:///abs/path.db or "
                           "sqlite:relative.db",
                           args->uri_redacted);
    if (strcmp(args->path, ":memory:") == 0)
        return host->error(call, ACP_INVALID,
                           "\":memory:\" would give each connection its own empty database; "
                           "use the memory: backend");

    b = calloc(1, sizeof *b);
    if (b == NULL)
        return host->error(call, ACP_NOMEM, "%s: open: out of memory", args->path);
    b->host = host;
    b->busy_ms = 5000;
    if (pthread_mutex_init(&b->mu, NULL) != 0) {
        free(b);
        return host->error(call, ACP_NOMEM, "%s: open: cannot create a mutex", args->path);
    }
    b->path = sq_strdup(args->path, "");
    /* A path starting with "file:" is a name, never an SQLite URI, even if
     * the application enabled SQLITE_CONFIG_URI. */
    b->open_path = sq_strdup(args->path, strncmp(args->path, "file:", 5) == 0 ? "./" : "");
    if (b->path == NULL || b->open_path == NULL) {
        sq_close(b);
        return host->error(call, ACP_NOMEM, "%s: open: out of memory", args->path);
    }
    st = sq_parse_options(b, args, call);
    if (st == ACP_OK && b->readonly)
        st = sq_ro_open_plan(b, call);
    if (st == ACP_OK)
        st = sq_conn_open(b, 1, call, &c);
    if (st != ACP_OK) {
        sq_close(b);
        return st;
    }
    c->next = NULL;
    b->idle = c;
    *out = b;
    return ACP_OK;
}

static acp_status sq_ping(acp_backend *b, acp_call *call)
{
    int app_id = 0, version = 0, objects = 0, plan = SQ_READY, rc;
    sq_conn *c;
    acp_status st = sq_get(b, call, &c);

    if (st != ACP_OK)
        return st;
    rc = sq_read_header(c, &app_id, &version, &objects);
    if (rc != SQLITE_OK)
        st = sq_fail(b, call, c, rc, "ping", NULL);
    else
        st = sq_check_header(b, call, app_id, version, objects, &plan);
    if (st == ACP_OK && plan != SQ_READY)
        st = b->host->error(call, ACP_CORRUPT,
                            "%s: ping: the acp-storage schema is gone", b->path);
    sq_put(b, c);
    return st;
}

/* ------------------------------------------------------------------ */
/* Reading documents                                                    */
/* ------------------------------------------------------------------ */

/* What a row of a document statement is (sqlite_sql.h, ACP_SQ_COL_*): the
 * item kinds of verify. */
enum { SQ_RUN = ACP_ITEM_RUN, SQ_SESSION = ACP_ITEM_SESSION, SQ_EVENT = ACP_ITEM_EVENT };

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
static int sq_row_item(sqlite3_stmt *s, int kind, acp_item *it, const char **key, char *reason,
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
static acp_status sq_damaged(const acp_backend *b, acp_call *call, const char *what, int kind,
                             const char *key, const acp_item *it, const char *reason)
{
    if (kind == SQ_EVENT)
        return b->host->error(call, ACP_CORRUPT, "%s: %s: run %s event %lld: %s", b->path,
                              what, key, (long long)it->seq, reason);
    return b->host->error(call, ACP_CORRUPT, "%s: %s: %s %s: %s", b->path, what,
                          kind == SQ_RUN ? "run" : "session", key, reason);
}

/* verify: report one damaged item.  Returns non-zero when the host says
 * stop. */
static int sq_report(const acp_backend *b, acp_call *call, int kind, const char *key,
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

/* Step s, whose parameters are bound (rc: the result of binding them), to
 * its end and hand every row to the host as one item of kind; then reset
 * it.  A row that fails its checksum ends the call with CORRUPT naming it:
 * a page never skips an item silently.  id names the call's subject in
 * messages (NULL for a list).  *rows, when not NULL, receives the number of
 * rows handed on.
 *
 * verify: every row goes to host->verify_item instead (events with their
 * run id as key), and a damaged row, or a table SQLite finds damaged, to
 * host->verify_damage; the walk goes on past them.  ACP_NOMEM when the
 * host says stop. */
static acp_status sq_emit_rows(acp_backend *b, sq_conn *c, sqlite3_stmt *s, int rc, int kind,
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

/* A connection for a write, or the refusal of a mode=ro handle. */
static acp_status sq_get_rw(acp_backend *b, acp_call *call, const char *what, sq_conn **out)
{
    if (b->readonly)
        return sq_readonly(b, call, what);
    return sq_get(b, call, out);
}

/* Bind the document of the row with key to parameter i and its checksum
 * to parameter i + 1 (every write statement numbers them so). */
static int sq_bind_doc(sqlite3_stmt *s, int i, const char *key, size_t key_len, const char *doc,
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

static acp_status sq_get_run(acp_backend *b, const char *run_id, acp_call *call)
{
    return sq_get_one(b, ACP_SQ_GET_RUN, SQ_RUN, run_id, call);
}

/* Bind the run's columns to ACP_SQ_SAVE_RUN or ACP_SQ_INSERT_RUN (their
 * parameters ?1..?10). */
static int sq_bind_run(sqlite3_stmt *s, const acp_run_record *r, int64_t version)
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

/* The run's stored version (0: absent) and the delete mark, inside the
 * save's write transaction. */
static int sq_read_version(sq_conn *c, const acp_run_record *r, int64_t *stored, int64_t *mark)
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
static acp_status sq_save_run(acp_backend *b, const acp_run_record *r, acp_call *call)
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

/* Delete run id and its events inside the open write transaction, raising
 * the delete mark to its version first (sqlite_sql.h, version 3): the one
 * way a run leaves the store, for delete_run and purges.  *gone (may be
 * NULL) grows by the rows removed. */
static int sq_delete_one(sq_conn *c, const char *id, long long *gone)
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

static acp_status sq_delete_run(acp_backend *b, const char *run_id, acp_call *call)
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

static acp_status sq_list_runs(acp_backend *b, const acp_run_query *q, acp_call *call)
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

static acp_status sq_save_session(acp_backend *b, const acp_session_record *r, acp_call *call)
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

static acp_status sq_get_session(acp_backend *b, const char *id, acp_call *call)
{
    return sq_get_one(b, ACP_SQ_GET_SESSION, SQ_SESSION, id, call);
}

static acp_status sq_delete_session(acp_backend *b, const char *id, acp_call *call)
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

static acp_status sq_list_sessions(acp_backend *b, const char *after_id, int64_t limit,
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

static acp_status sq_add_event(acp_backend *b, const acp_event_record *ev, int64_t *seq,
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

static acp_status sq_get_events(acp_backend *b, const acp_event_query *q, acp_call *call)
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

/* ------------------------------------------------------------------ */
/* Verify                                                               */
/* ------------------------------------------------------------------ */

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
 * checks, and the run counters against the runs.  Damage is reported, never
 * repaired: an SQLite store cannot move a row aside, so with
 * ACP_VERIFY_QUARANTINE damaged rows are reported with moved_to NULL and
 * stay where they are (README.md). */
static acp_status sq_verify(acp_backend *b, uint32_t flags, acp_call *call)
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
    sq_put(b, c); /* ends the read transaction */
    return st;
}

/* acp-storage migrate: the version the first connection found, the rows
 * of sq_migrations from there, then (not a dry run) the same migration an
 * open with migrate=auto runs. */
static acp_status sq_migrate(acp_backend *b, uint32_t flags, acp_call *call)
{
    const acp_plugin_host *h = b->host;
    int app_id = 0, from = 0, objects = 0, plan = SQ_READY, rc;
    sq_conn *c;
    acp_status st;

    if (h->size < offsetof(acp_plugin_host, migrate_step) + sizeof h->migrate_step)
        return ACP_NOMEM;
    st = sq_get(b, call, &c);
    if (st != ACP_OK)
        return st;
    rc = sq_read_header(c, &app_id, &from, &objects);
    if (rc != SQLITE_OK)
        st = sq_fail(b, call, c, rc, "migrate: read header", NULL);
    if (st == ACP_OK)
        st = sq_check_header(b, call, app_id, from, objects, &plan);
    if (plan == SQ_CREATE)
        from = 0;
    if (st == ACP_OK && h->migrate_versions(call, from, ACP_SQLITE_SCHEMA_VERSION,
                                            "schema version") != 0)
        st = ACP_NOMEM;
    for (int v = from; st == ACP_OK && v < ACP_SQLITE_SCHEMA_VERSION; v++)
        if (h->migrate_step(call, v, v + 1, sq_migrations[v].description,
                            sq_migrations[v].sql) != 0)
            st = ACP_NOMEM;
    if (st == ACP_OK && !(flags & ACP_MIGRATE_DRY_RUN) && plan != SQ_READY) {
        if (b->readonly) {
            st = h->error(call, ACP_UNSUPPORTED,
                          "%s: schema version %d must be migrated to %d, and mode=ro changes "
                          "nothing: migrate without mode=ro",
                          b->path, from, ACP_SQLITE_SCHEMA_VERSION);
        } else {
            rc = sq_set_wal(b, c);
            st = rc != SQLITE_OK ? sq_fail(b, call, c, rc, "migrate: set WAL mode", NULL)
                                 : sq_create_or_migrate(b, c, call);
        }
    }
    sq_put(b, c);
    return st;
}

/* ------------------------------------------------------------------ */
/* Operations: filtered lists, purge, statistics                       */
/* ------------------------------------------------------------------ */

/* SQL text built piece by piece into a fixed buffer (every statement of
 * this section fits: at most seven legs of a few hundred bytes). */
typedef struct sq_text {
    char s[6144];
    size_t len;
} sq_text;

static void sq_cat(sq_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sq_cat(sq_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->s + t->len, sizeof t->s - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len = t->len + (size_t)n < sizeof t->s ? t->len + (size_t)n : sizeof t->s - 1;
}

/* The terms every filtered statement shares (not the status). */
static void sq_cat_range(sq_text *t, const acp_run_query *q, int cursor)
{
    if (q->agent_name)
        sq_cat(t, " AND agent_name = :agent");
    if (q->session_id)
        sq_cat(t, " AND session_id = :session");
    if (q->created_since_us != INT64_MIN)
        sq_cat(t, " AND created_us >= :since");
    if (q->created_until_us != INT64_MAX)
        sq_cat(t, " AND created_us < :until");
    if (cursor && q->has_cursor)
        sq_cat(t, " AND (created_us, run_id) < (:cus, :cid)");
}

/* " IN (:st0, :st1, ...)" for the query's statuses. */
static void sq_cat_statuses(sq_text *t, size_t n)
{
    sq_cat(t, " IN (");
    for (size_t i = 0; i < n; i++)
        sq_cat(t, "%s:st%zu", i ? ", " : "", i);
    sq_cat(t, ")");
}

/* What the named parameters of this section stand for. */
typedef struct sq_params {
    const acp_run_query *q;        /* lists, or NULL */
    const acp_purge_query *p;      /* purges, or NULL */
} sq_params;

/* Bind every parameter of s by its name. */
static int sq_bind_named(sqlite3_stmt *s, const sq_params *v)
{
    const acp_run_query *q = v->q;
    const acp_purge_query *p = v->p;
    const char *const *st = q ? q->statuses : p->statuses;
    const char *agent = q ? q->agent_name : p->agent_name;
    int rc = SQLITE_OK;
    for (int i = 1; rc == SQLITE_OK && i <= sqlite3_bind_parameter_count(s); i++) {
        const char *n = sqlite3_bind_parameter_name(s, i) + 1; /* after ':' */
        if (!strncmp(n, "st", 2))
            rc = sqlite3_bind_text(s, i, st[strtoul(n + 2, NULL, 10)], -1, SQLITE_STATIC);
        else if (!strcmp(n, "agent"))
            rc = sqlite3_bind_text(s, i, agent, -1, SQLITE_STATIC);
        else if (!strcmp(n, "agent0"))
            rc = sqlite3_bind_text(s, i, agent ? agent : "", -1, SQLITE_STATIC);
        else if (!strcmp(n, "kind"))
            rc = sqlite3_bind_int(s, i, agent ? 5 : 4);
        else if (q && !strcmp(n, "session"))
            rc = sqlite3_bind_text(s, i, q->session_id, -1, SQLITE_STATIC);
        else if (q && !strcmp(n, "since"))
            rc = sqlite3_bind_int64(s, i, q->created_since_us);
        else if (q && !strcmp(n, "until"))
            rc = sqlite3_bind_int64(s, i, q->created_until_us);
        else if (q && !strcmp(n, "cus"))
            rc = sqlite3_bind_int64(s, i, q->cursor_created_us);
        else if (q && !strcmp(n, "cid"))
            rc = sqlite3_bind_text(s, i, q->cursor_run_id, -1, SQLITE_STATIC);
        else if (q && !strcmp(n, "n")) /* each leg's share: the whole window */
            rc = sqlite3_bind_int64(s, i, q->offset + q->limit);
        else if (!strcmp(n, "lim"))
            rc = sqlite3_bind_int64(s, i, q ? q->limit : p->limit);
        else if (q && !strcmp(n, "off"))
            rc = sqlite3_bind_int64(s, i, q->offset);
        else if (!q && !strcmp(n, "before")) /* exactly one of q, p is set */
            rc = sqlite3_bind_int64(s, i, p->finished_before_us);
        else
            rc = SQLITE_RANGE;
    }
    return rc;
}

/* Prepare t and bind it.  *s is NULL when preparing failed. */
static int sq_prepare_named(sq_conn *c, const sq_text *t, const sq_params *v, sqlite3_stmt **s)
{
    int rc = sqlite3_prepare_v2(c->db, t->s, (int)t->len, s, NULL);
    return rc == SQLITE_OK ? sq_bind_named(*s, v) : rc;
}

/* The page: one leg per status, each walking its index (runs_status, or
 * runs_agent_status with an agent) backwards from the cursor and the end
 * of the time range, merged in list order.  Without statuses, one leg on
 * the list indexes of the other filters. */
static void sq_page_sql(sq_text *t, const acp_run_query *q)
{
    size_t legs = q->n_statuses ? q->n_statuses : 1;
    for (size_t i = 0; i < legs; i++) {
        sq_cat(t, legs > 1 ? "%sSELECT * FROM (" : "%s", i ? " UNION ALL " : "");
        sq_cat(t, ACP_SQ_RUNS_SELECT " WHERE 1");
        if (q->n_statuses)
            sq_cat(t, " AND status = :st%zu", i);
        sq_cat_range(t, q, 1);
        sq_cat(t, " ORDER BY created_us DESC, run_id DESC");
        sq_cat(t, legs > 1 ? " LIMIT :n)" : "");
    }
    sq_cat(t, legs > 1 ? " ORDER BY 3 DESC, 1 DESC LIMIT :lim OFFSET :off"
                       : " LIMIT :lim OFFSET :off");
}

/* The total: the status counters when only statuses (and an agent)
 * narrow the list, else a count over the range of an index. */
static void sq_total_sql(sq_text *t, const acp_run_query *q)
{
    if (q->n_statuses && !q->session_id && q->created_since_us == INT64_MIN &&
        q->created_until_us == INT64_MAX) {
        sq_cat(t, "SELECT coalesce(sum(n), 0) FROM counts WHERE kind = :kind"
                  " AND agent = :agent0 AND session");
        sq_cat_statuses(t, q->n_statuses);
        return;
    }
    sq_cat(t, "SELECT count(*) FROM runs WHERE 1");
    if (q->n_statuses) {
        sq_cat(t, " AND status");
        sq_cat_statuses(t, q->n_statuses);
    }
    sq_cat_range(t, q, 0);
}

static acp_status sq_list_filtered(acp_backend *b, const acp_run_query *q, acp_call *call)
{
    sq_params v = {q, NULL};
    sq_text t = {.len = 0};
    sqlite3_stmt *s = NULL;
    sq_conn *c;
    acp_status st = sq_get(b, call, &c);
    if (st != ACP_OK)
        return st;
    /* The total and the page come from one snapshot. */
    int rc = sq_exec_stmt(c->st[ACP_SQ_BEGIN_READ]);
    if (rc == SQLITE_OK && q->want_total) {
        sq_total_sql(&t, q);
        rc = sq_prepare_named(c, &t, &v, &s);
        if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
            b->host->set_total(call, sqlite3_column_int64(s, 0));
            rc = SQLITE_OK;
        }
        sqlite3_finalize(s);
        s = NULL;
    }
    if (rc != SQLITE_OK) {
        st = sq_fail(b, call, c, rc, "list_runs", NULL);
    } else if (q->limit > 0) {
        t.len = 0;
        sq_page_sql(&t, q);
        rc = sq_prepare_named(c, &t, &v, &s);
        st = sq_emit_rows(b, c, s, s ? rc : SQLITE_NOMEM, SQ_RUN, NULL, 0, call, NULL);
        sqlite3_finalize(s);
    }
    if (st == ACP_OK && (rc = sq_exec_stmt(c->st[ACP_SQ_COMMIT])) != SQLITE_OK)
        st = sq_fail(b, call, c, rc, "list_runs", NULL);
    sq_put(b, c); /* rolls back after a failure */
    return st;
}

static acp_status sq_list_runs_any(acp_backend *b, const acp_run_query *q, acp_call *call)
{
    if (q->n_statuses || q->created_since_us != INT64_MIN || q->created_until_us != INT64_MAX)
        return sq_list_filtered(b, q, call);
    return sq_list_runs(b, q, call);
}

/* The matches of a purge, by runs_finished. */
static void sq_purge_sql(sq_text *t, const acp_purge_query *p, const char *what)
{
    sq_cat(t, "SELECT %s FROM runs WHERE status", what);
    sq_cat_statuses(t, p->n_statuses);
    sq_cat(t, " AND finished_us < :before");
    if (p->agent_name)
        sq_cat(t, " AND agent_name = :agent");
}

/* Delete the runs ids[0..n) and their events inside the open transaction. */
static int sq_delete_ids(sq_conn *c, char **ids, int64_t n)
{
    int rc = SQLITE_OK;
    for (int64_t k = 0; rc == SQLITE_OK && k < n; k++)
        rc = sq_delete_one(c, ids[k], NULL);
    return rc;
}

/* One batch in one IMMEDIATE transaction: the ids first (at most limit),
 * then each run and its events. */
static acp_status sq_purge_runs(acp_backend *b, const acp_purge_query *p, int64_t *deleted,
                                acp_call *call)
{
    sq_params v = {NULL, p};
    sq_text t = {.len = 0};
    sqlite3_stmt *s = NULL;
    sq_conn *c;
    char **ids = NULL;
    int64_t n = 0;
    acp_status st = p->count_only ? sq_get(b, call, &c) : sq_get_rw(b, call, "purge", &c);
    if (st != ACP_OK)
        return st;
    sq_purge_sql(&t, p, p->count_only ? "count(*)" : "run_id");
    if (!p->count_only)
        sq_cat(&t, " LIMIT :lim");
    int rc = p->count_only ? SQLITE_OK : sq_exec_stmt(c->st[ACP_SQ_BEGIN]);
    if (rc == SQLITE_OK)
        rc = sq_prepare_named(c, &t, &v, &s);
    if (rc == SQLITE_OK && !p->count_only && !(ids = calloc((size_t)p->limit, sizeof *ids)))
        rc = SQLITE_NOMEM;
    while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        rc = SQLITE_OK;
        if (p->count_only)
            n = sqlite3_column_int64(s, 0);
        else if (n < p->limit && !(ids[n++] = strdup((const char *)sqlite3_column_text(s, 0))))
            rc = SQLITE_NOMEM;
    }
    sqlite3_finalize(s);
    if (rc == SQLITE_DONE)
        rc = p->count_only ? SQLITE_OK : sq_delete_ids(c, ids, n);
    if (rc == SQLITE_OK && !p->count_only)
        rc = sq_exec_stmt(c->st[ACP_SQ_COMMIT]);
    if (rc != SQLITE_OK)
        st = sq_fail(b, call, c, rc, "purge", NULL);
    sq_put(b, c); /* rolls back after a failure */
    for (int64_t k = 0; ids && k < n; k++)
        free(ids[k]);
    free(ids);
    if (st == ACP_OK)
        *deleted = n;
    return st;
}

/* Figures from the counters (runs, per status, per agent), the sizes of
 * the sessions and events tables' b-trees, the file's pages and the
 * schema version. */
static acp_status sq_stats(acp_backend *b, acp_call *call)
{
    static const char counters[] = "SELECT kind, agent, session, n FROM counts"
                                   " WHERE kind IN (0, 1, 4)";
    static const char sizes[] =
        "SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM events),"
        " (SELECT page_count FROM pragma_page_count) * (SELECT page_size FROM pragma_page_size),"
        " (SELECT user_version FROM pragma_user_version)";
    static const int size_kinds[] = {ACP_STAT_SESSIONS, ACP_STAT_EVENTS, ACP_STAT_BYTES,
                                     ACP_STAT_SCHEMA_VERSION};
    const acp_plugin_host *h = b->host;
    if (h->size < offsetof(acp_plugin_host, stat) + sizeof h->stat || !h->stat)
        return ACP_UNSUPPORTED;
    sqlite3_stmt *s = NULL;
    sq_conn *c;
    int bad = 0, runs = 0;
    acp_status st = sq_get(b, call, &c);
    if (st != ACP_OK)
        return st;
    int rc = sq_exec_stmt(c->st[ACP_SQ_BEGIN_READ]);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(c->db, counters, -1, &s, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        int kind = sqlite3_column_int(s, 0);
        int64_t n = sqlite3_column_int64(s, 3);
        rc = SQLITE_OK;
        runs |= kind == 0;
        bad |= h->stat(call,
                       kind == 0   ? ACP_STAT_RUNS
                       : kind == 1 ? ACP_STAT_RUNS_BY_AGENT
                                   : ACP_STAT_RUNS_BY_STATUS,
                       kind == 0 ? NULL : (const char *)sqlite3_column_text(s, kind == 1 ? 1 : 2),
                       n);
    }
    sqlite3_finalize(s);
    s = NULL;
    if (rc == SQLITE_DONE)
        rc = sqlite3_prepare_v2(c->db, sizes, -1, &s, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        rc = SQLITE_OK;
        for (int i = 0; i < 4; i++)
            bad |= h->stat(call, size_kinds[i], NULL, sqlite3_column_int64(s, i));
    }
    sqlite3_finalize(s);
    if (rc == SQLITE_OK && !runs) /* the all-runs counter row is gone at zero */
        bad |= h->stat(call, ACP_STAT_RUNS, NULL, 0);
    if (rc == SQLITE_OK)
        rc = sq_exec_stmt(c->st[ACP_SQ_COMMIT]);
    if (rc != SQLITE_OK)
        st = sq_fail(b, call, c, rc, "stats", NULL);
    else if (bad)
        st = sq_nomem(b, call, "stats");
    sq_put(b, c);
    return st;
}

static acp_status sq_wait_events(acp_backend *b, const acp_event_query *q, acp_call *call)
{
    return sq_follow_wait(b, b->host, b->open_path, sq_get_events, q, call); /* follow.c */
}

/* ------------------------------------------------------------------ */
/* Batched and restoring writes: one transaction per call                */
/* ------------------------------------------------------------------ */

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

static acp_status sq_save_runs(acp_backend *b, const acp_run_record *runs, size_t n,
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

static acp_status sq_add_events(acp_backend *b, const acp_event_record *evs, size_t n,
                                uint32_t flags, int64_t *seqs, acp_status *results,
                                acp_call *call)
{
    sq_conn *c;
    acp_status st = sq_get_rw(b, call, "add_events", &c);
    if (st != ACP_OK)
        return st;
    int restore = (flags & ACP_BATCH_RESTORE) != 0;
    sqlite3_stmt *s = c->st[restore ? ACP_SQ_RESTORE_EVENT : ACP_SQ_ADD_EVENT];
    int rc = sq_exec_stmt(c->st[ACP_SQ_BEGIN]);
    size_t i = 0;
    for (; rc == SQLITE_OK && i < n; i++) {
        const acp_event_record *ev = &evs[i];
        sqlite3_int64 seq = 0;
        int changed;
        rc = sqlite3_bind_text(s, 1, ev->run_id, (int)ev->run_id_len, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_text(s, 2, ev->type, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 3, ev->stored_us);
        if (rc == SQLITE_OK)
            rc = sq_bind_doc(s, 4, ev->run_id, ev->run_id_len, ev->doc, ev->doc_len);
        if (rc == SQLITE_OK && restore)
            rc = sqlite3_bind_int64(s, 6, seqs[i]);
        rc = sq_step_write(c, s, rc, &changed, restore ? NULL : &seq);
        results[i] = changed ? ACP_OK : ACP_CONFLICT;
        if (!restore)
            seqs[i] = seq;
    }
    st = sq_batch_end(b, c, rc, "add_events", n ? evs[i ? i - 1 : 0].run_id : "", call);
    if (st == ACP_OK && n)
        sq_follow_notify(b->open_path); /* follow.c */
    return st;
}

static const acp_backend_vtable sq_vtable = {
    .open = sq_open, .close = sq_close, .ping = sq_ping,
    .save_run = sq_save_run, .get_run = sq_get_run, .delete_run = sq_delete_run,
    .list_runs = sq_list_runs_any,
    .save_session = sq_save_session, .get_session = sq_get_session,
    .delete_session = sq_delete_session, .list_sessions = sq_list_sessions,
    .add_event = sq_add_event, .get_events = sq_get_events,
    .verify = sq_verify, .wait_events = sq_wait_events,
    .migrate = sq_migrate,
    .purge_runs = sq_purge_runs, .stats = sq_stats, /* operations */
    .save_runs = sq_save_runs, .add_events = sq_add_events, /* batched writes */
};

ACP_PLUGIN_DEFINE_TYPED(sqlite, SQ_VERSION,
                        "SQLite database file (WAL, many threads and processes)",
                        ACP_CAP_CONCURRENT | ACP_CAP_DURABLE | ACP_CAP_MULTIPROCESS |
                            ACP_CAP_FOLLOW | ACP_CAP_VERSIONS | ACP_CAP_RUN_FILTERS,
                        sq_variants, sq_options, &sq_vtable)
