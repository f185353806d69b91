/* SPDX-License-Identifier: MIT */
/*
 * postgres.c - the PostgreSQL backend: postgres://... and postgresql://...
 *
 * The URI goes to libpq (host lists, sslmode, service=, connect_timeout,
 * the PG* variables: all as libpq documents them), minus the options that
 * are this plugin's own:
 *   schema=NAME         the PostgreSQL schema holding the store (default
 *                       "acp"), created on open.  A plain lower-case
 *                       identifier is used as written; any other text is
 *                       mapped to "acp_" + 16 hex digits of its 64-bit
 *                       FNV-1a hash, so any string (a path, "{dir}") names
 *                       a schema of its own.
 *   pool_size=N         connections kept per store handle (1..1000, default 8)
 *   statement_timeout=MS the server's statement_timeout for the store's
 *                       sessions (0: none; default: the store's call
 *                       timeout, so the server gives up when the caller does)
 * See README.md in this folder.
 *
 * Several processes on several machines share one store: every write is
 * one statement (or one transaction) and the schema is created or migrated
 * under an advisory lock.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg.h"

#define PG_VERSION_TEXT ACP_STORAGE_PLUGIN_VERSION
#define PG_DEFAULT_SCHEMA "acp"
#define PG_DEFAULT_POOL 8
#define PG_MAX_POOL 1000

/* ---- small helpers ---- */

static uint64_t fnv1a64(const char *s, size_t n)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

/* The schema for an option value: written as given when it is a plain
 * lower-case identifier (not pg_*, which PostgreSQL reserves), otherwise
 * "acp_<hash>".  Either way the result needs no escaping in SQL. */
static void pg_schema_ident(const char *value, char out[64])
{
    size_t n = strlen(value);
    int plain = n > 0 && n <= 63 && strncmp(value, "pg_", 3) != 0 &&
                !(value[0] >= '0' && value[0] <= '9');
    for (size_t i = 0; plain && i < n; i++)
        plain = (value[i] >= 'a' && value[i] <= 'z') || (value[i] >= '0' && value[i] <= '9') ||
                value[i] == '_';
    if (plain)
        memcpy(out, value, n + 1);
    else
        snprintf(out, 64, "acp_%016" PRIx64, fnv1a64(value, n));
}

static int parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

static char *own(acp_backend *b, char *s)
{
    if (s && b->n_owned < sizeof b->owned / sizeof b->owned[0])
        b->owned[b->n_owned++] = s;
    else if (s) {
        free(s);
        s = NULL;
    }
    return s;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                : -1;
}

static void add_secret(acp_backend *b, const char *s, size_t n)
{
    /* Shorter strings cannot be told apart from ordinary text. */
    if (n < 4 || b->n_secrets >= sizeof b->secrets / sizeof b->secrets[0])
        return;
    char *c = strndup(s, n);
    if (!c)
        return;
    size_t i = b->n_secrets++;
    /* Longest first, so that a longer form is replaced whole. */
    while (i > 0 && strlen(b->secrets[i - 1]) < n) {
        b->secrets[i] = b->secrets[i - 1];
        i--;
    }
    b->secrets[i] = c;
}

/* The password of "user:password@host", as written and percent-decoded. */
static void authority_secrets(acp_backend *b, const char *auth)
{
    const char *at = strrchr(auth, '@');
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (!colon)
        return;
    const char *p = colon + 1;
    size_t n = (size_t)(at - p);
    add_secret(b, p, n);
    char dec[512];
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < sizeof dec; i++) {
        int hi, lo;
        if (p[i] == '%' && i + 2 < n + 1 && (hi = hexval(p[i + 1])) >= 0 &&
            (lo = hexval(p[i + 2])) >= 0) {
            dec[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            dec[o++] = p[i];
        }
    }
    add_secret(b, dec, o);
}

/* "postgresql://" + authority (as written) + path (percent-encoded again:
 * the core decoded it). */
static char *libpq_uri(const char *authority, const char *path)
{
    size_t n = strlen(authority), m = strlen(path);
    char *u = malloc(16 + n + 3 * m), *o = u;
    if (!u)
        return NULL;
    o += sprintf(o, "postgresql://%s", authority);
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~/", *p))
            *o++ = (char)*p;
        else
            o += sprintf(o, "%%%02X", *p);
    }
    *o = '\0';
    return u;
}

static int is_libpq_key(const PQconninfoOption *defs, const char *key)
{
    for (const PQconninfoOption *d = defs; d && d->keyword; d++)
        if (strcmp(d->keyword, key) == 0)
            return 1;
    return 0;
}

/* ---- opening ---- */

static void pg_close(acp_backend *b)
{
    if (!b)
        return;
    pg_pool_destroy(b);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    for (int i = 0; i < PG_N_STATEMENTS; i++)
        free(b->sql[i]);
    for (size_t i = 0; i < b->n_owned; i++)
        free(b->owned[i]);
    for (size_t i = 0; i < b->n_secrets; i++)
        free(b->secrets[i]);
    free(b->kw);
    free(b->val);
    free(b->uri_redacted);
    free(b);
}

/* Read the options, build libpq's parameters.  Errors: INVALID, NOMEM. */
static acp_status configure(acp_backend *b, const acp_open_args *a, acp_call *call,
                            const char **schema_value)
{
    const acp_plugin_host *h = b->host;
    const char *ru = b->uri_redacted;
    if (a->path[0] && a->path[0] != '/')
        return h->error(call, ACP_INVALID, "%s: expected postgres://[user@]host[:port]/database"
                        " (the database comes after the host)", ru);
    if (a->n_options > PG_MAX_OPTIONS)
        return h->error(call, ACP_INVALID, "%s: too many options (%zu)", ru, a->n_options);

    b->kw = calloc(PG_MAX_OPTIONS + 8, sizeof *b->kw);
    b->val = calloc(PG_MAX_OPTIONS + 8, sizeof *b->val);
    char *uri = own(b, libpq_uri(a->authority, a->path));
    if (!b->kw || !b->val || !uri)
        return h->error(call, ACP_NOMEM, "%s: out of memory", ru);
    authority_secrets(b, a->authority);

    /* The URI itself must be something libpq understands. */
    char *perr = NULL;
    PQconninfoOption *parsed = PQconninfoParse(uri, &perr);
    if (!parsed) {
        char clean[600];
        acp_status code = perr ? ACP_INVALID : ACP_NOMEM;
        pg_scrub(b, perr ? perr : "out of memory", clean, sizeof clean);
        PQfreemem(perr);
        return h->error(call, code, "%s: libpq cannot read the URI: %s", ru, clean);
    }
    PQconninfoFree(parsed);
    PQconninfoOption *defs = PQconndefaults();
    if (!defs)
        return h->error(call, ACP_NOMEM, "%s: out of memory", ru);

    int n = 0;
    acp_status st = ACP_OK;
    b->kw[n] = "dbname"; /* expanded by libpq: the URI, then the options below */
    b->val[n++] = uri;
    b->connect_timeout_s = -1;
    const char *env_ct = getenv("PGCONNECT_TIMEOUT");
    int64_t v = 0;
    if (env_ct && parse_int(env_ct, 0, INT32_MAX, &v))
        b->connect_timeout_s = v;
    for (size_t i = 0; i < a->n_options && st == ACP_OK; i++) {
        const char *k = a->options[i].key, *val = a->options[i].value;
        /* The core checked these against pg_options (canonical values). */
        if (strcmp(k, "schema") == 0) {
            *schema_value = val;
        } else if (strcmp(k, "migrate") == 0) { /* the core checked the value */
            b->migrate = strcmp(val, "never") == 0     ? PG_MIGRATE_NEVER
                         : strcmp(val, "inspect") == 0 ? PG_MIGRATE_INSPECT
                                                       : PG_MIGRATE_AUTO;
        } else if (strcmp(k, "pool_size") == 0) {
            b->pool_size = (int)acp_option_int(a, k, PG_DEFAULT_POOL);
        } else if (strcmp(k, "statement_timeout") == 0) {
            b->statement_timeout_ms = acp_option_int(a, k, 0);
        } else if (strcmp(k, "connect_timeout") == 0) {
            b->connect_timeout_s = acp_option_int(a, k, -1);
        } else if (is_libpq_key(defs, k)) {
            if (strstr(k, "password"))
                add_secret(b, val, strlen(val));
            /* Copies: the core's options live only during open(). */
            b->kw[n] = own(b, strdup(k));
            b->val[n] = own(b, strdup(val));
            if (!b->kw[n] || !b->val[n])
                st = h->error(call, ACP_NOMEM, "%s: out of memory", ru);
            n++;
        } else {
            st = h->error(call, ACP_INVALID,
                          "%s: unknown option '%.64s': postgres takes schema, pool_size and "
                          "statement_timeout, and libpq's connection parameters (host, port, "
                          "dbname, user, password, sslmode, connect_timeout, application_name, "
                          "target_session_attrs, service, ...)", ru, k);
        }
    }
    PQconninfoFree(defs);
    if (st != ACP_OK)
        return st;
    b->kw[n] = "fallback_application_name";
    b->val[n++] = "acp-storage";
    /* Documents are UTF-8 and must come back byte for byte. */
    b->kw[n] = "client_encoding";
    b->val[n++] = "UTF8";
    b->ct_slot = n;
    b->kw[n] = "connect_timeout";
    b->val[n++] = NULL; /* set per attempt */
    b->kw[n] = NULL;
    b->val[n] = NULL;
    return ACP_OK;
}

static acp_status sql_scalar(pg_req *r, const char *sql, char *out, size_t outsz)
{
    PGresult *res;
    acp_status st = pg_exec_sql(r, sql, &res);
    if (st != ACP_OK)
        return st;
    out[0] = '\0';
    if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
        snprintf(out, outsz, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return ACP_OK;
}

/* The store's schema version: 0 when there is no store yet.  The catalog
 * is read with a query, not to_regclass(): a query sees what committed
 * since the transaction began (another process creating the store while
 * this one waited for the lock), a name lookup without a lock may not. */
static acp_status read_version(pg_req *r, int64_t *version)
{
    acp_backend *b = r->b;
    char sql[320], val[32], name[64];
    snprintf(name, sizeof name, "%.*s", (int)strlen(b->qschema) - 2, b->qschema + 1);
    snprintf(sql, sizeof sql, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN "
             "pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '%s' "
             "AND c.relname = 'meta')", name);
    acp_status st = sql_scalar(r, sql, val, sizeof val);
    if (st != ACP_OK)
        return st;
    *version = 0;
    if (strcmp(val, "t") != 0)
        return ACP_OK;
    snprintf(sql, sizeof sql, "SELECT value FROM %s.meta WHERE name = 'schema_version'",
             b->qschema);
    if ((st = sql_scalar(r, sql, val, sizeof val)) != ACP_OK)
        return st;
    if (!parse_int(val, 1, INT32_MAX, version))
        return pg_fail(r, ACP_CORRUPT, "schema %s has a meta table without a valid "
                       "schema_version ('%s')", b->qschema, val);
    return ACP_OK;
}

/* Run DDL text of pg_sql.h in this store's schema. */
static acp_status run_ddl(pg_req *r, const char *text)
{
    char *ddl = pg_sql_expand(text, r->b->qschema);
    if (!ddl)
        return pg_fail(r, ACP_NOMEM, "out of memory");
    PGresult *res = NULL;
    acp_status st = pg_exec_sql(r, ddl, &res);
    free(ddl);
    if (st == ACP_OK)
        PQclear(res);
    return st;
}

/* Create the store, or migrate it, inside one transaction holding an
 * advisory lock named after the schema: many processes opening one store
 * at once wait for the first, then find the schema ready. */
static acp_status ensure_schema(pg_req *r)
{
    acp_backend *b = r->b;
    int64_t version;
    acp_status st = read_version(r, &version);
    if (st == ACP_OK && version == PG_SCHEMA_VERSION)
        return ACP_OK;
    if (st == ACP_OK && version > PG_SCHEMA_VERSION)
        return pg_fail(r, ACP_UNSUPPORTED, "schema %s has version %" PRId64 ", newer than "
                       "version %d known to this plugin (%s): use a newer "
                       "libacp_storage_postgres", b->qschema, version, PG_SCHEMA_VERSION,
                       PG_VERSION_TEXT);
    if (st != ACP_OK)
        return st;
    if (b->migrate == PG_MIGRATE_NEVER && version == 0)
        return pg_fail(r, ACP_UNSUPPORTED, "schema %s holds no store, and migrate=never does "
                       "not create one: run 'acp-storage migrate' on this store first (as a "
                       "role allowed to create it)", b->qschema);
    if (b->migrate == PG_MIGRATE_NEVER)
        return pg_fail(r, ACP_UNSUPPORTED, "schema %s has version %" PRId64 ", older than "
                       "version %d of this plugin, and migrate=never does not migrate it: run "
                       "'acp-storage migrate' on this store (as a role allowed to change the "
                       "schema)", b->qschema, version, PG_SCHEMA_VERSION);

    char sql[256], val[32];
    PGresult *res = NULL;
    if ((st = pg_exec_sql(r, "BEGIN", &res)) != ACP_OK)
        return st;
    PQclear(res);
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)strlen(b->qschema) - 2, b->qschema + 1);
    snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(%" PRId64 ")",
             (int64_t)fnv1a64(b->qschema, strlen(b->qschema)) ^ INT64_C(0x4143505354524745));
    if ((st = sql_scalar(r, sql, val, sizeof val)) != ACP_OK ||
        (st = read_version(r, &version)) != ACP_OK)
        return st;
    if (version > PG_SCHEMA_VERSION)
        return pg_fail(r, ACP_UNSUPPORTED, "schema %s has version %" PRId64 ", newer than "
                       "version %d known to this plugin", b->qschema, version, PG_SCHEMA_VERSION);
    if (version == 0) {
        /* CREATE SCHEMA IF NOT EXISTS would still need the CREATE right on
         * the database, which a role given only its schema lacks. */
        snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_namespace WHERE nspname = '%s'", name);
        if ((st = sql_scalar(r, sql, val, sizeof val)) != ACP_OK)
            return st;
        if (strcmp(val, "0") == 0) {
            snprintf(sql, sizeof sql, "CREATE SCHEMA %s", b->qschema);
            if ((st = pg_exec_sql(r, sql, &res)) != ACP_OK)
                return st;
            PQclear(res);
        }
        if ((st = run_ddl(r, PG_SQL_SCHEMA)) != ACP_OK)
            return st;
        b->host->log(2, PG_NAME, "%s: created schema %s (version %d)", b->uri_redacted,
                     b->qschema, PG_SCHEMA_VERSION);
    } else if (version < PG_SCHEMA_VERSION) {
        /* Version by version, all in this transaction: a failure leaves
         * the store as it was. */
        for (size_t i = 0; i < PG_N_MIGRATIONS; i++)
            if (pg_migrations[i].to > version && (st = run_ddl(r, pg_migrations[i].sql)) != ACP_OK)
                return st;
        b->host->log(2, PG_NAME, "%s: migrated schema %s from version %" PRId64 " to %d",
                     b->uri_redacted, b->qschema, version, PG_SCHEMA_VERSION);
    }
    if ((st = pg_exec_sql(r, "COMMIT", &res)) != ACP_OK)
        return st;
    PQclear(res);
    return ACP_OK;
}

/* Hand one step to the host with its SQL for this schema. */
static acp_status report_step(pg_req *r, int64_t from, int64_t to, const char *description,
                              const char *sql)
{
    char *text = pg_sql_expand(sql, r->b->qschema);
    if (!text)
        return pg_fail(r, ACP_NOMEM, "out of memory");
    int stop = r->b->host->migrate_step(r->call, from, to, description, text);
    free(text);
    return stop ? ACP_NOMEM : ACP_OK;
}

/* acp-storage migrate: the stored version, the steps from pg_migrations
 * (or the creation of a new store), then (not a dry run) ensure_schema,
 * which an open with migrate=auto runs. */
static acp_status pg_migrate(acp_backend *b, uint32_t flags, acp_call *call)
{
    const acp_plugin_host *h = b->host;
    if (h->size < offsetof(acp_plugin_host, migrate_step) + sizeof h->migrate_step)
        return ACP_NOMEM;
    pg_req r;
    int64_t version = 0;
    pg_req_init(&r, b, call, "migrate", NULL, NULL, 1);
    acp_status st = read_version(&r, &version);
    if (st == ACP_OK && version > PG_SCHEMA_VERSION)
        st = pg_fail(&r, ACP_UNSUPPORTED, "schema %s has version %" PRId64 ", newer than "
                     "version %d known to this plugin (%s)", b->qschema, version,
                     PG_SCHEMA_VERSION, PG_VERSION_TEXT);
    if (st == ACP_OK && h->migrate_versions(call, version, PG_SCHEMA_VERSION, "schema version"))
        st = ACP_NOMEM;
    if (st == ACP_OK && version == 0) {
        char what[160];
        snprintf(what, sizeof what, "create schema %s (unless it exists) and its tables at "
                 "version %d", b->qschema, PG_SCHEMA_VERSION);
        st = report_step(&r, 0, PG_SCHEMA_VERSION, what, PG_SQL_SCHEMA);
    }
    for (size_t i = 0; st == ACP_OK && version > 0 && i < PG_N_MIGRATIONS; i++)
        if (pg_migrations[i].to > version)
            st = report_step(&r, pg_migrations[i].to - 1, pg_migrations[i].to,
                             pg_migrations[i].description, pg_migrations[i].sql);
    if (st == ACP_OK && !(flags & ACP_MIGRATE_DRY_RUN) && version < PG_SCHEMA_VERSION)
        st = ensure_schema(&r);
    pg_req_done(&r);
    return st;
}

static acp_status pg_open(const acp_plugin_host *host, const acp_open_args *args,
                          acp_backend **out, acp_call *call)
{
    acp_backend *b = calloc(1, sizeof *b);
    if (!b)
        return host->error(call, ACP_NOMEM, "out of memory opening %s", args->uri_redacted);
    b->host = host;
    b->pool_size = PG_DEFAULT_POOL;
    int64_t left = host->remaining_ms(call);
    b->statement_timeout_ms = left > 0 ? left : -1;
    b->fork_gen = __atomic_load_n(&pg_fork_gen, __ATOMIC_ACQUIRE);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (!(b->uri_redacted = strdup(args->uri_redacted))) {
        pg_close(b);
        return host->error(call, ACP_NOMEM, "out of memory opening %s", args->uri_redacted);
    }
    const char *schema_value = PG_DEFAULT_SCHEMA;
    acp_status st = configure(b, args, call, &schema_value);
    if (st != ACP_OK) {
        pg_close(b);
        return st;
    }
    char ident[64];
    pg_schema_ident(schema_value, ident);
    snprintf(b->qschema, sizeof b->qschema, "\"%s\"", ident);
    for (int i = 0; i < PG_N_STATEMENTS; i++) {
        if (!(b->sql[i] = pg_sql_expand(pg_sql[i], b->qschema))) {
            pg_close(b);
            return host->error(call, ACP_NOMEM, "out of memory opening %s", b->uri_redacted);
        }
    }
    pg_req r;
    pg_req_init(&r, b, call, "open", NULL, NULL, 1);
    /* For the core's migrate call, the schema is migrate's business. */
    if (b->migrate != PG_MIGRATE_INSPECT)
        st = ensure_schema(&r);
    pg_req_done(&r);
    if (st != ACP_OK) {
        pg_close(b);
        return st;
    }
    *out = b;
    return ACP_OK;
}

/* ---- runs ---- */

static acp_status pg_ping(acp_backend *b, acp_call *call)
{
    pg_req r;
    pg_req_init(&r, b, call, "ping", NULL, NULL, 1);
    PGresult *res;
    acp_status st = pg_exec_sql(&r, "SELECT 1", &res);
    if (st == ACP_OK)
        PQclear(res);
    pg_req_done(&r);
    return st;
}

/* The condition mode of save_run() for the flags of a run record (pg_sql.h). */
static const char *save_mode(uint32_t flags)
{
    if (flags & ACP_RUN_SET_VERSION)
        return flags & ACP_RUN_IF_NEWER ? "n" : "s";
    return flags & ACP_RUN_IF_VERSION ? "v" : flags & ACP_RUN_IF_ABSENT ? "a" : "-";
}

/* One call of save_run() (pg_sql.h) for run on r, with the record's flags
 * plus extra (ACP_RUN_IF_ABSENT for an insert-only batch): *ok 1 when
 * stored, 0 when the condition failed; *version the new or stored one. */
acp_status pg_exec_save(pg_req *r, const acp_run_record *run, uint32_t extra, int *ok,
                        int64_t *version)
{
    char created[8], finished[8], want[8], keep = (run->flags & ACP_RUN_CREATED_DEFAULT) != 0;
    pg_put_i64(created, run->created_us);
    pg_put_i64(finished, run->finished_us);
    pg_put_i64(want, run->version);
    const char *mode = save_mode(run->flags | extra);
    const char *v[10] = {run->run_id, run->agent_name, run->session_id, run->status, created,
                         run->finished_us == ACP_NO_TIME ? NULL : finished, run->doc, &keep,
                         mode, want};
    int l[10] = {(int)run->run_id_len, (int)run->agent_name_len, (int)run->session_id_len,
                 (int)strlen(run->status), 8, 8, (int)run->doc_len, 1, 1, 8};
    PGresult *res;
    acp_status st = pg_exec(r, PG_SAVE_RUN, 10, v, l, &res);
    if (st == ACP_OK) {
        if (PQntuples(res) != 1 || PQgetlength(res, 0, 0) != 1 || PQgetlength(res, 0, 1) != 8) {
            st = pg_fail(r, ACP_IO, "save_run() answered with an unexpected row");
        } else {
            *version = pg_get_i64(PQgetvalue(res, 0, 1));
            *ok = PQgetvalue(res, 0, 0)[0] != 0;
        }
        PQclear(res);
    }
    return st;
}

static acp_status pg_save_run(acp_backend *b, const acp_run_record *run, acp_call *call)
{
    const char *mode = save_mode(run->flags);
    pg_req r;
    /* An unconditional upsert may run twice; a conditional save that ran
     * before its connection was lost would fail against its own write. */
    pg_req_init(&r, b, call, "save_run", "run", run->run_id, mode[0] == '-' || mode[0] == 's');
    int ok = 0;
    int64_t version = 0;
    acp_status st = pg_exec_save(&r, run, 0, &ok, &version);
    if (st == ACP_OK) {
        acp_report_version(b->host, call, version);
        st = ok ? ACP_OK : ACP_CONFLICT;
    }
    pg_req_done(&r);
    return st;
}

/* Emit row i of res: doc in column dc, key (or NULL), and the bigints. */
static acp_status emit_row(pg_req *r, PGresult *res, int i, int dc, const char *key,
                           int created_col, int seq_col, int stored_col, int version_col)
{
    acp_item it = {0};
    it.doc = PQgetvalue(res, i, dc);
    it.doc_len = (size_t)PQgetlength(res, i, dc);
    it.key = key;
    int cols[4] = {created_col, seq_col, stored_col, version_col};
    int64_t *dst[4] = {&it.created_us, &it.seq, &it.stored_us, &it.version};
    for (int k = 0; k < 4; k++) {
        if (cols[k] < 0)
            continue;
        if (PQgetlength(res, i, cols[k]) != 8)
            return pg_fail(r, ACP_CORRUPT, "a stored row has a malformed number in column %d",
                           cols[k]);
        *dst[k] = pg_get_i64(PQgetvalue(res, i, cols[k]));
    }
    if (r->b->host->emit(r->call, &it) != 0)
        return pg_fail(r, ACP_NOMEM, "out of memory handing back a result");
    return ACP_OK;
}

acp_status pg_emit_row(pg_req *r, PGresult *res, int i, int dc, const char *key,
                       int created_col, int seq_col, int stored_col, int version_col)
{
    return emit_row(r, res, i, dc, key, created_col, seq_col, stored_col, version_col);
}

static acp_status pg_get_run(acp_backend *b, const char *run_id, acp_call *call)
{
    const char *v[1] = {run_id};
    int l[1] = {(int)strlen(run_id)};
    pg_req r;
    pg_req_init(&r, b, call, "get_run", "run", run_id, 1);
    PGresult *res;
    acp_status st = pg_exec(&r, PG_GET_RUN, 1, v, l, &res);
    if (st == ACP_OK) {
        st = PQntuples(res) == 0 ? ACP_NOT_FOUND : emit_row(&r, res, 0, 0, run_id, 1, -1, -1, 2);
        PQclear(res);
    }
    pg_req_done(&r);
    return st;
}

/* Runs and events go in one transaction.  save_run()'s lock goes first
 * (no save of the run is in flight, pg_sql.h), then the counter row: its
 * lock waits for appenders in flight, and the events delete that follows
 * (a new snapshot) then sees their events too; appenders that come later
 * wait for this transaction and start again from 1.  delete_run and the
 * purge (pg_ops.c) both remove runs through here. */
acp_status pg_delete_one(pg_req *r, const char *run_id, pg_still_fn still, const void *arg,
                         int *had_events, int *had_run)
{
    const char *v[1] = {run_id};
    int l[1] = {(int)strlen(run_id)};
    PGresult *res = NULL;
    int yes = 1;
    *had_events = *had_run = 0;
    acp_status st = pg_exec(r, PG_LOCK_RUN, 1, v, l, &res);
    if (st == ACP_OK) {
        PQclear(res);
        if (still && ((st = still(r, run_id, arg, &yes)) != ACP_OK || !yes))
            return st;
        st = pg_exec(r, PG_LOCK_SEQ, 1, v, l, &res);
    }
    if (st == ACP_OK) {
        *had_events = PQntuples(res) == 1 && PQgetlength(res, 0, 0) == 8 &&
                      pg_get_i64(PQgetvalue(res, 0, 0)) > 0;
        PQclear(res);
        st = pg_exec(r, PG_DELETE_SEQ, 1, v, l, &res);
    }
    if (st == ACP_OK) {
        PQclear(res);
        st = pg_exec(r, PG_DELETE_RUN, 1, v, l, &res);
    }
    if (st == ACP_OK) {
        *had_run = PQntuples(res) > 0;
        PQclear(res);
    }
    return st;
}

static acp_status pg_delete_run(acp_backend *b, const char *run_id, acp_call *call)
{
    pg_req r;
    pg_req_init(&r, b, call, "delete_run", "run", run_id, 0);
    PGresult *res = NULL;
    int had_events = 0, had_run = 0;
    acp_status st = pg_exec_sql(&r, "BEGIN", &res);
    if (st == ACP_OK) {
        PQclear(res);
        st = pg_delete_one(&r, run_id, NULL, NULL, &had_events, &had_run);
    }
    if (st == ACP_OK && (st = pg_exec_sql(&r, "COMMIT", &res)) == ACP_OK) {
        PQclear(res);
        if (!had_events && !had_run)
            st = ACP_NOT_FOUND;
    }
    pg_req_done(&r); /* a connection left inside a transaction is dropped */
    return st;
}

static acp_status pg_list_runs(acp_backend *b, const acp_run_query *q, acp_call *call);

/* Lists with status or time filters go to pg_ops.c. */
static acp_status pg_list_runs_any(acp_backend *b, const acp_run_query *q, acp_call *call)
{
    if (q->n_statuses || q->created_since_us != INT64_MIN || q->created_until_us != INT64_MAX)
        return pg_list_filtered(b, q, call);
    return pg_list_runs(b, q, call);
}

static acp_status pg_list_runs(acp_backend *b, const acp_run_query *q, acp_call *call)
{
    const char *v[6];
    int l[6], n = 0;
    char cur[8], off[8], lim[8];
    int which = (q->agent_name ? 1 : 0) | (q->session_id ? 2 : 0);
    if (q->agent_name) {
        v[n] = q->agent_name;
        l[n++] = (int)strlen(q->agent_name);
    }
    if (q->session_id) {
        v[n] = q->session_id;
        l[n++] = (int)strlen(q->session_id);
    }
    pg_req r;
    pg_req_init(&r, b, call, "list_runs", NULL, NULL, 1);
    PGresult *res;
    acp_status st = ACP_OK;
    if (q->want_total) {
        st = pg_exec(&r, PG_COUNT_RUNS + which, n, v, l, &res);
        if (st == ACP_OK) {
            if (PQntuples(res) != 1 || PQgetlength(res, 0, 0) != 8)
                st = pg_fail(&r, ACP_IO, "the count of runs came back malformed");
            else
                b->host->set_total(call, pg_get_i64(PQgetvalue(res, 0, 0)));
            PQclear(res);
        }
    }
    if (st == ACP_OK && q->limit > 0) {
        if (q->has_cursor) {
            pg_put_i64(cur, q->cursor_created_us);
            v[n] = cur;
            l[n++] = 8;
            v[n] = q->cursor_run_id;
            l[n++] = (int)strlen(q->cursor_run_id);
            which |= 4;
        }
        pg_put_i64(off, q->offset);
        pg_put_i64(lim, q->limit);
        v[n] = off;
        l[n++] = 8;
        v[n] = lim;
        l[n++] = 8;
        st = pg_exec(&r, PG_LIST_RUNS + which, n, v, l, &res);
        if (st == ACP_OK) {
            int rows = PQntuples(res);
            for (int i = 0; i < rows && st == ACP_OK; i++)
                st = emit_row(&r, res, i, 2, PQgetvalue(res, i, 0), 1, -1, -1, 3);
            PQclear(res);
        }
    }
    pg_req_done(&r);
    return st;
}

/* ---- sessions ---- */

static acp_status pg_save_session(acp_backend *b, const acp_session_record *s, acp_call *call)
{
    const char *v[2] = {s->id, s->doc};
    int l[2] = {(int)s->id_len, (int)s->doc_len};
    pg_req r;
    pg_req_init(&r, b, call, "save_session", "session", s->id, 1);
    PGresult *res;
    acp_status st = pg_exec(&r, PG_SAVE_SESSION, 2, v, l, &res);
    if (st == ACP_OK)
        PQclear(res);
    pg_req_done(&r);
    return st;
}

static acp_status pg_get_session(acp_backend *b, const char *id, acp_call *call)
{
    const char *v[1] = {id};
    int l[1] = {(int)strlen(id)};
    pg_req r;
    pg_req_init(&r, b, call, "get_session", "session", id, 1);
    PGresult *res;
    acp_status st = pg_exec(&r, PG_GET_SESSION, 1, v, l, &res);
    if (st == ACP_OK) {
        st = PQntuples(res) == 0 ? ACP_NOT_FOUND : emit_row(&r, res, 0, 0, id, -1, -1, -1, -1);
        PQclear(res);
    }
    pg_req_done(&r);
    return st;
}

static acp_status pg_delete_session(acp_backend *b, const char *id, acp_call *call)
{
    const char *v[1] = {id};
    int l[1] = {(int)strlen(id)};
    pg_req r;
    pg_req_init(&r, b, call, "delete_session", "session", id, 0);
    PGresult *res;
    acp_status st = pg_exec(&r, PG_DELETE_SESSION, 1, v, l, &res);
    if (st == ACP_OK) {
        if (PQntuples(res) == 0)
            st = ACP_NOT_FOUND;
        PQclear(res);
    }
    pg_req_done(&r);
    return st;
}

static acp_status pg_list_sessions(acp_backend *b, const char *after_id, int64_t limit,
                                   acp_call *call)
{
    char lim[8];
    pg_put_i64(lim, limit);
    const char *v[2] = {after_id, lim};
    int l[2] = {after_id ? (int)strlen(after_id) : 0, 8};
    pg_req r;
    pg_req_init(&r, b, call, "list_sessions", NULL, NULL, 1);
    PGresult *res;
    acp_status st = after_id ? pg_exec(&r, PG_LIST_SESSIONS_AFTER, 2, v, l, &res)
                             : pg_exec(&r, PG_LIST_SESSIONS, 1, v + 1, l + 1, &res);
    if (st == ACP_OK) {
        int rows = PQntuples(res);
        for (int i = 0; i < rows && st == ACP_OK; i++)
            st = emit_row(&r, res, i, 1, PQgetvalue(res, i, 0), -1, -1, -1, -1);
        PQclear(res);
    }
    pg_req_done(&r);
    return st;
}

/* ---- events ---- */

static acp_status pg_add_event(acp_backend *b, const acp_event_record *ev, int64_t *seq,
                               acp_call *call)
{
    char stored[8];
    pg_put_i64(stored, ev->stored_us);
    const char *v[4] = {ev->run_id, ev->type, stored, ev->doc};
    int l[4] = {(int)ev->run_id_len, (int)strlen(ev->type), 8, (int)ev->doc_len};
    pg_req r;
    /* Not retried after it was sent: it might have been stored. */
    pg_req_init(&r, b, call, "add_event", "run", ev->run_id, 0);
    PGresult *res;
    acp_status st = pg_exec(&r, PG_ADD_EVENT, 4, v, l, &res);
    if (st == ACP_OK) {
        if (PQntuples(res) != 1 || PQgetlength(res, 0, 0) != 8)
            st = pg_fail(&r, ACP_IO, "the event's sequence came back malformed");
        else
            *seq = pg_get_i64(PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    pg_req_done(&r);
    return st;
}

/* get_events on the request's connection (pg_follow.c looks on the
 * connection it listens on). */
acp_status pg_get_events_req(pg_req *r, const acp_event_query *q)
{
    char after[8], off[8], lim[8];
    pg_put_i64(after, q->after_seq);
    pg_put_i64(off, q->offset);
    pg_put_i64(lim, q->limit);
    const char *v[4] = {q->run_id, after, off, lim};
    int l[4] = {(int)strlen(q->run_id), 8, 8, 8};
    PGresult *res;
    acp_status st = pg_exec(r, PG_GET_EVENTS, 4, v, l, &res);
    if (st == ACP_OK) {
        int rows = PQntuples(res);
        for (int i = 0; i < rows && st == ACP_OK; i++)
            st = emit_row(r, res, i, 2, NULL, -1, 0, 1, -1);
        PQclear(res);
    }
    return st;
}

static acp_status pg_get_events(acp_backend *b, const acp_event_query *q, acp_call *call)
{
    pg_req r;
    pg_req_init(&r, b, call, "get_events", "run", q->run_id, 1);
    acp_status st = pg_get_events_req(&r, q);
    pg_req_done(&r);
    return st;
}

/* ---- plugin ---- */

static void after_fork_child(void)
{
    __atomic_add_fetch(&pg_fork_gen, 1, __ATOMIC_RELEASE);
}

static acp_status pg_init(const acp_plugin_host *host, acp_call *call)
{
    if (!PQisthreadsafe())
        return host->error(call, ACP_UNSUPPORTED, "this libpq is not thread-safe");
    if (pthread_atfork(NULL, NULL, after_fork_child) != 0)
        return host->error(call, ACP_NOMEM, "cannot register the fork handler");
    return ACP_OK;
}

/* One line per group of methods (runs, sessions, events). */
static const acp_backend_vtable pg_vtable = {
    .init = pg_init, .open = pg_open, .close = pg_close, .ping = pg_ping,
    .save_run = pg_save_run, .get_run = pg_get_run, .delete_run = pg_delete_run,
    .list_runs = pg_list_runs_any,
    .save_session = pg_save_session, .get_session = pg_get_session,
    .delete_session = pg_delete_session, .list_sessions = pg_list_sessions,
    .add_event = pg_add_event, .get_events = pg_get_events,
    .save_runs = pg_save_runs, .add_events = pg_add_events, /* pg_batch.c */
    .wait_events = pg_wait_events, /* pg_follow.c */
    .migrate = pg_migrate,
    .purge_runs = pg_purge_runs, .stats = pg_stats, /* pg_ops.c */
    .get_events_of_runs = pg_get_events_of_runs, /* pg_batch.c */
};

/* The core checks the backend's own options; "*" lets every other key
 * reach configure(), which hands libpq's to libpq and refuses the rest. */
static const char *const pg_variants[] = {NULL};
static const acp_option_spec pg_options[] = {
    {.name = "schema", .type = ACP_OPT_STRING, .min = 1,
     .doc = "schema holding the tables (default: acp)"},
    {.name = "pool_size", .type = ACP_OPT_INTEGER, .min = 1, .max = PG_MAX_POOL,
     .doc = "connections kept open (default 8)"},
    {.name = "statement_timeout", .type = ACP_OPT_INTEGER, .min = 0, .max = INT32_MAX,
     .doc = "milliseconds a statement may run (0: only the call's own time limit)"},
    {.name = "connect_timeout", .type = ACP_OPT_INTEGER, .min = 0, .max = INT32_MAX,
     .doc = "whole seconds a connection attempt may take (libpq's connect_timeout)"},
    {.name = "*", .type = ACP_OPT_STRING,
     .doc = "libpq connection parameters (host, port, dbname, user, password, sslmode, ...)"},
    {.name = NULL}};

ACP_PLUGIN_DEFINE_TYPED(postgres, PG_VERSION_TEXT,
                        "PostgreSQL (libpq): a store shared by many servers",
                        ACP_CAP_CONCURRENT | ACP_CAP_DURABLE | ACP_CAP_MULTIPROCESS |
                            ACP_CAP_NETWORK | ACP_CAP_FOLLOW | ACP_CAP_VERSIONS |
                            ACP_CAP_RUN_FILTERS,
                        pg_variants, pg_options, &pg_vtable)
