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
 * sqlite_sql.h.  This file holds the options, open, close, ping and the
 * vtable; sq.h names the file of every other job.
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

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "errno_vfs.h"
#include "sq.h"

/* RETURNING (add_event) needs 3.35. */
#define SQ_MIN_SQLITE 3035000

/* ------------------------------------------------------------------ */
/* Options                                                              */
/* ------------------------------------------------------------------ */

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
    {.name = "time_totals", .type = ACP_OPT_BOOLEAN, .default_value = "true",
     .doc = "true: keep the time_counts table, so totals over creation-time ranges are fast "
            "(each run save writes 12-18 more rows: about 2-4x the write cost); false: drop "
            "it on a writable open, saves cost as before schema 5 and range totals count "
            "every match"},
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
    b->time_totals = acp_option_int(args, "time_totals", 1) != 0;
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

/* list_runs: the filtered form (sq_ops.c) when a status or time filter is
 * set, else the plain page (sq_crud.c). */
static acp_status sq_list_runs_any(acp_backend *b, const acp_run_query *q, acp_call *call)
{
    if (q->n_statuses || q->created_since_us != INT64_MIN || q->created_until_us != INT64_MAX)
        return sq_list_filtered(b, q, call);
    return sq_list_runs(b, q, call);
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
    .get_events_of_runs = sq_get_events_of_runs, /* events of many runs (copy) */
};

ACP_PLUGIN_DEFINE_TYPED(sqlite, SQ_VERSION,
                        "SQLite database file (WAL, many threads and processes)",
                        ACP_CAP_CONCURRENT | ACP_CAP_DURABLE | ACP_CAP_MULTIPROCESS |
                            ACP_CAP_FOLLOW | ACP_CAP_VERSIONS | ACP_CAP_RUN_FILTERS,
                        sq_variants, sq_options, &sq_vtable)
