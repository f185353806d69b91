/* SPDX-License-Identifier: MIT */
/*
 * test_hostile.c - ids, names, filters and URIs built to escape.
 *
 * Each valid id or name is stored, comes back byte for byte, stays distinct
 * from every other one and never leaves the store (no file outside the
 * store's directory, no new table, no key outside the prefix).  Each
 * invalid one is refused with INVALID and changes nothing.
 *
 * One program for every backend, like the conformance suite: the store URI
 * template comes from ACP_HOSTILE_STORE (or else ACP_TEST_STORE), and each
 * test replaces in it
 *   {dir}       by a fresh directory /tmp/acp-hostile-XXXXXX (with a/b/
 *               made inside, so that a name escaping by up to four levels
 *               still lands where the test looks),
 *   {postgres}  by $ACP_PG_URI, {redis} by $ACP_REDIS_URI without its
 *               "/db" path (so the template picks the database).
 * Templates: "memory:", "sqlite:{dir}/a/b/t.db", "file:{dir}/a/b/store",
 * "{postgres}?schema={dir}", "{redis}/9?prefix={dir}:".
 */
#define _XOPEN_SOURCE 700

#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acp_storage.h"
#include "acp_storage_plugin.h" /* ACP_CAP_DURABLE */

#ifdef ACP_HOSTILE_WITH_SQLITE
#include <sqlite3.h>
#endif
#ifdef ACP_HOSTILE_WITH_PQ
#include <libpq-fe.h>
#endif
#ifdef ACP_HOSTILE_WITH_HIREDIS
#include <hiredis/hiredis.h>
#endif

/* ------------------------------------------------------------------ */
/* Memory that lives until the end of the test                          */
/* ------------------------------------------------------------------ */

static void **arena;
static size_t n_arena, cap_arena;

static void *keep(void *p)
{
    cr_assert(p != NULL, "out of memory in the test");
    if (n_arena == cap_arena) {
        cap_arena = cap_arena ? 2 * cap_arena : 256;
        void **n = realloc(arena, cap_arena * sizeof *n);
        cr_assert(n != NULL, "out of memory in the test");
        arena = n;
    }
    arena[n_arena++] = p;
    return p;
}

static char *sfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sfmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = keep(malloc((size_t)n + 1));
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static char *repeat(const char *unit, size_t times, const char *tail)
{
    size_t ul = strlen(unit), tl = strlen(tail);
    char *s = keep(malloc(ul * times + tl + 1));
    for (size_t k = 0; k < times; k++)
        memcpy(s + k * ul, unit, ul);
    memcpy(s + ul * times, tail, tl + 1);
    return s;
}

/* s as a JSON string: quotes, backslashes and control characters escaped,
 * every other byte (UTF-8 or not) as it is. */
static char *jstr(const char *s)
{
    size_t n = strlen(s);
    char *o = keep(malloc(6 * n + 3)), *p = o;
    *p++ = '"';
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') {
            *p++ = '\\';
            *p++ = (char)*c;
        } else if (*c < 0x20) {
            p += sprintf(p, "\\u%04x", *c);
        } else {
            *p++ = (char)*c;
        }
    }
    *p++ = '"';
    *p = '\0';
    return o;
}

/* An id for a message: JSON-quoted, cut at 60 bytes, invalid bytes as \xNN. */
static char *show(const char *s)
{
    size_t n = strlen(s);
    char *o = keep(malloc(4 * 60 + 32)), *p = o;
    *p++ = '"';
    for (size_t i = 0; i < n && i < 60; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
            p += sprintf(p, "\\x%02x", c);
        else
            *p++ = (char)c;
    }
    *p++ = '"';
    if (n > 60)
        p += sprintf(p, "...(%zu bytes)", n);
    *p = '\0';
    return o;
}

/* ------------------------------------------------------------------ */
/* The store under test                                                 */
/* ------------------------------------------------------------------ */

static struct {
    char dir[64];       /* /tmp/acp-hostile-XXXXXX */
    char backend[32];   /* from the template's scheme */
    const char *tmpl;   /* the template, placeholders other than {dir} filled */
    const char *uri;    /* the template for this test */
    acp_store *s;
    int durable;
} H;

static acp_error E;
#define ERR (memset(&E, 0, sizeof E), &E)

static char *replace_all(const char *s, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), n = 0;
    for (const char *p = strstr(s, from); p; p = strstr(p + fl, from))
        n++;
    char *o = keep(malloc(strlen(s) + n * tl + 1)), *w = o;
    for (const char *p = s;;) {
        const char *q = strstr(p, from);
        if (!q) {
            strcpy(w, p);
            break;
        }
        memcpy(w, p, (size_t)(q - p));
        w += q - p;
        memcpy(w, to, tl);
        w += tl;
        p = q + fl;
    }
    return o;
}

static const char *expand(const char *tmpl, const char *dir)
{
    return replace_all(tmpl, "{dir}", dir);
}

static int is(const char *backend)
{
    return strcmp(H.backend, backend) == 0;
}

static acp_store *open_uri(const char *uri)
{
    acp_store *s = NULL;
    acp_status st = acp_store_open(uri, &s, ERR);
    cr_assert(st == ACP_OK, "open %s: %s: %s", uri, acp_status_name(st), E.message);
    return s;
}

static void setup(void)
{
    const char *t = getenv("ACP_HOSTILE_STORE");
    if (!t || !t[0])
        t = getenv("ACP_TEST_STORE");
    cr_assert(t && t[0], "set ACP_HOSTILE_STORE (or ACP_TEST_STORE) to a store URI template");
    if (strstr(t, "{postgres}")) {
        const char *pg = getenv("ACP_PG_URI");
        cr_assert(pg && pg[0], "{postgres} in the template needs ACP_PG_URI (with-server.sh)");
        t = replace_all(t, "{postgres}", pg);
    }
    if (strstr(t, "{redis}")) {
        const char *rd = getenv("ACP_REDIS_URI");
        cr_assert(rd && strncmp(rd, "redis://", 8) == 0,
                  "{redis} in the template needs ACP_REDIS_URI (with-server.sh)");
        char *base = sfmt("%s", rd);
        char *slash = strchr(base + 8, '/');
        if (slash)
            *slash = '\0';
        t = replace_all(t, "{redis}", base);
    }
    H.tmpl = t;
    size_t sl = strcspn(t, ":+");
    cr_assert(sl > 0 && sl < sizeof H.backend, "no scheme in %s", t);
    memcpy(H.backend, t, sl);
    H.backend[sl] = '\0';
    if (is("postgresql"))
        strcpy(H.backend, "postgres");
    strcpy(H.dir, "/tmp/acp-hostile-XXXXXX");
    cr_assert(mkdtemp(H.dir) != NULL, "mkdtemp: %s", strerror(errno));
    cr_assert(mkdir(sfmt("%s/a", H.dir), 0700) == 0);
    cr_assert(mkdir(sfmt("%s/a/b", H.dir), 0700) == 0);
    H.uri = expand(t, H.dir);
    H.s = open_uri(H.uri);
    cr_assert(strcmp(acp_store_backend(H.s), H.backend) == 0, "template %s opened backend %s", t,
              acp_store_backend(H.s));
    H.durable = (acp_store_capabilities(H.s) & ACP_CAP_DURABLE) != 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void teardown(void)
{
    acp_store_close(H.s);
    H.s = NULL;
    if (H.dir[0])
        nftw(H.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    H.dir[0] = '\0';
    for (size_t i = 0; i < n_arena; i++)
        free(arena[i]);
    free(arena);
    arena = NULL;
    n_arena = cap_arena = 0;
}

TestSuite(hostile, .init = setup, .fini = teardown, .timeout = 600);

/* Criterion 2.4 runs no .fini after a skip: clean up first. */
#define SKIP_UNLESS(backend)                                                                       \
    do {                                                                                           \
        if (!is(backend)) {                                                                        \
            teardown();                                                                            \
            cr_skip_test(backend " only");                                                         \
        }                                                                                          \
    } while (0)

/* ------------------------------------------------------------------ */
/* Reading back                                                         */
/* ------------------------------------------------------------------ */

#define T0_US INT64_C(1748779200000000) /* 2025-06-01T12:00:00Z */

static char *run_doc(const char *id, const char *agent, const char *session, int k)
{
    char t[ACP_TIME_BUFSZ];
    acp_time_format(T0_US + (int64_t)k * 1000000, t);
    return sfmt("{\"run_id\":%s,\"agent_name\":%s,\"session_id\":%s,\"status\":\"created\","
                "\"created_at\":\"%s\",\"k\":%d}",
                jstr(id), jstr(agent), session ? jstr(session) : "null", t, k);
}

static void expect_same(const char *what, const char *got, size_t len, const char *want)
{
    cr_assert(len == strlen(want) && memcmp(got, want, len) == 0,
              "%s: stored %.*s\n  came back as %.*s", what, (int)strlen(want), want, (int)len, got);
}

static void expect_run(acp_store *s, const char *id, const char *doc)
{
    char *json = NULL;
    size_t len = 0;
    acp_status st = acp_run_get(s, id, &json, &len, ERR);
    if (!doc) {
        acp_free(st == ACP_OK ? json : NULL);
        cr_assert(st == ACP_NOT_FOUND, "get_run %s (deleted): %s %s", show(id),
                  acp_status_name(st), E.message);
        return;
    }
    cr_assert(st == ACP_OK, "get_run %s: %s: %s", show(id), acp_status_name(st), E.message);
    char *copy = keep(malloc(len + 1));
    memcpy(copy, json, len);
    acp_free(json);
    expect_same(sfmt("run %s", show(id)), copy, len, doc);
}

static void expect_session(acp_store *s, const char *id, const char *doc)
{
    char *json = NULL;
    size_t len = 0;
    acp_status st = acp_session_get(s, id, &json, &len, ERR);
    if (!doc) {
        acp_free(st == ACP_OK ? json : NULL);
        cr_assert(st == ACP_NOT_FOUND, "get_session %s (deleted): %s %s", show(id),
                  acp_status_name(st), E.message);
        return;
    }
    cr_assert(st == ACP_OK, "get_session %s: %s: %s", show(id), acp_status_name(st), E.message);
    char *copy = keep(malloc(len + 1));
    memcpy(copy, json, len);
    acp_free(json);
    expect_same(sfmt("session %s", show(id)), copy, len, doc);
}

/* Every event document of run_id, in sequence order, checking 1, 2, 3... */
static size_t events_of(acp_store *s, const char *run_id, const char ***docs)
{
    size_t n = 0, cap = 8;
    const char **d = keep(malloc(cap * sizeof *d));
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    f.limit = 1000;
    for (;;) {
        acp_page *p = NULL;
        acp_status st = acp_event_list(s, run_id, &f, &p, ERR);
        cr_assert(st == ACP_OK, "get_events %s: %s: %s", show(run_id), acp_status_name(st),
                  E.message);
        size_t c = acp_page_count(p);
        for (size_t i = 0; i < c; i++) {
            size_t len;
            const char *j = acp_page_json(p, i, &len);
            int64_t seq = acp_page_seq(p, i);
            if (seq != (int64_t)n + 1) {
                acp_page_free(p);
                cr_assert(0, "events of %s: sequence %lld where %zu was due", show(run_id),
                          (long long)seq, n + 1);
            }
            if (n == cap) {
                /* The old array stays in the arena; the copy is kept too. */
                const char **nd = keep(malloc(2 * cap * sizeof *nd));
                memcpy(nd, d, n * sizeof *d);
                d = nd;
                cap *= 2;
            }
            char *copy = keep(malloc(len + 1));
            memcpy(copy, j, len);
            copy[len] = '\0';
            d[n++] = copy;
        }
        acp_page_free(p);
        if (c < (size_t)f.limit)
            break;
        f.after_seq = (int64_t)n;
    }
    *docs = d;
    return n;
}

/* Keys of list_runs(agent, session), newest first, every page; *total gets
 * the page total of the first page. */
static size_t list_keys(acp_store *s, const char *agent, const char *session, int64_t limit,
                        const char ***keys, int64_t *total)
{
    size_t n = 0, cap = 16;
    const char **k = keep(malloc(cap * sizeof *k));
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.agent_name = agent;
    f.session_id = session;
    f.limit = limit;
    f.want_total = 1;
    char *cursor = NULL;
    for (int page = 0;; page++) {
        acp_page *p = NULL;
        f.cursor = cursor;
        acp_status st = acp_run_list(s, &f, &p, ERR);
        cr_assert(st == ACP_OK, "list_runs agent %s session %s: %s: %s",
                  agent ? show(agent) : "(any)", session ? show(session) : "(any)",
                  acp_status_name(st), E.message);
        if (page == 0 && total)
            *total = acp_page_total(p);
        size_t c = acp_page_count(p);
        for (size_t i = 0; i < c; i++) {
            if (n == cap) {
                const char **nk = keep(malloc(2 * cap * sizeof *nk));
                memcpy(nk, k, n * sizeof *k);
                k = nk;
                cap *= 2;
            }
            k[n++] = sfmt("%s", acp_page_key(p, i));
        }
        const char *next = acp_page_next_cursor(p);
        cursor = next ? sfmt("%s", next) : NULL;
        acp_page_free(p);
        if (!cursor)
            break;
        cr_assert(page < 100000, "list_runs does not end");
    }
    *keys = k;
    return n;
}

/* Every session id in order, walking with after_id in pages of `limit`. */
static size_t session_ids(acp_store *s, int64_t limit, const char ***ids)
{
    size_t n = 0, cap = 16;
    const char **k = keep(malloc(cap * sizeof *k));
    const char *after = NULL;
    for (;;) {
        acp_page *p = NULL;
        acp_status st = acp_session_list(s, after, limit, &p, ERR);
        cr_assert(st == ACP_OK, "list_sessions after %s: %s: %s", after ? show(after) : "(start)",
                  acp_status_name(st), E.message);
        size_t c = acp_page_count(p);
        for (size_t i = 0; i < c; i++) {
            if (n == cap) {
                const char **nk = keep(malloc(2 * cap * sizeof *nk));
                memcpy(nk, k, n * sizeof *k);
                k = nk;
                cap *= 2;
            }
            k[n++] = sfmt("%s", acp_page_key(p, i));
        }
        const char *next = acp_page_next_cursor(p);
        after = next ? sfmt("%s", next) : NULL;
        acp_page_free(p);
        if (!after || c == 0)
            break;
    }
    *ids = k;
    return n;
}

static int by_bytes(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Everything a store holds for the given ids, as one text: to compare a
 * store before and after calls that must change nothing. */
static char *snapshot(acp_store *s, const char *const *ids, size_t n)
{
    const char **keys;
    int64_t total;
    size_t nk = list_keys(s, NULL, NULL, 1000, &keys, &total);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    cr_assert(out);
    out[0] = '\0';
#define ADD(...)                                                                                   \
    do {                                                                                           \
        char *piece_ = sfmt(__VA_ARGS__);                                                          \
        size_t pl_ = strlen(piece_);                                                               \
        while (len + pl_ + 1 > cap) {                                                              \
            char *g_ = realloc(out, cap *= 2);                                                     \
            cr_assert(g_);                                                                         \
            out = g_;                                                                              \
        }                                                                                          \
        memcpy(out + len, piece_, pl_ + 1);                                                        \
        len += pl_;                                                                                \
    } while (0)
    ADD("runs %zu/%lld:", nk, (long long)total);
    for (size_t i = 0; i < nk; i++)
        ADD(" %s", show(keys[i]));
    for (size_t i = 0; i < n; i++) {
        char *json = NULL;
        size_t jl = 0;
        acp_status st = acp_run_get(s, ids[i], &json, &jl, ERR);
        ADD("\nrun %s %s %.*s", show(ids[i]), acp_status_name(st), st == ACP_OK ? (int)jl : 0,
            st == ACP_OK ? json : "");
        if (st == ACP_OK)
            acp_free(json);
        st = acp_session_get(s, ids[i], &json, &jl, ERR);
        ADD("\nsession %s %s %.*s", show(ids[i]), acp_status_name(st),
            st == ACP_OK ? (int)jl : 0, st == ACP_OK ? json : "");
        if (st == ACP_OK)
            acp_free(json);
        const char **ev;
        size_t ne = events_of(s, ids[i], &ev);
        for (size_t j = 0; j < ne; j++)
            ADD("\nevent %s %zu %s", show(ids[i]), j + 1, ev[j]);
    }
    const char **sids;
    size_t ns = session_ids(s, 1000, &sids);
    ADD("\nsessions %zu:", ns);
    for (size_t i = 0; i < ns; i++)
        ADD(" %s", show(sids[i]));
#undef ADD
    return keep(out);
}

/* ------------------------------------------------------------------ */
/* What lies around the store                                           */
/* ------------------------------------------------------------------ */

/* Expected contents, for the checks that can count. */
typedef struct outside {
    size_t runs, sessions, event_logs;
    char *schema; /* sqlite: sqlite_master; postgres: columns of the schema */
} outside;

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* The entries of a directory (not . and ..), sorted, joined by '|'. */
static char *dir_list(const char *path)
{
    DIR *d = opendir(path);
    cr_assert(d != NULL, "opendir %s: %s", path, strerror(errno));
    const char *names[4096];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        cr_assert(n < 4096, "too many entries in %s", path);
        names[n++] = sfmt("%s", e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], by_bytes);
    char *out = sfmt("%s", "");
    for (size_t i = 0; i < n; i++)
        out = sfmt("%s%s%s", out, i ? "|" : "", names[i]);
    return out;
}

/* Files of one folder of the file backend: plain files named <name><ext>,
 * with no leading dot (the store's own temporary files) and no '~' unless
 * hashed; returns how many. */
static size_t file_folder(const char *path, const char *ext)
{
    DIR *d = opendir(path);
    if (!d && errno == ENOENT)
        return 0;
    cr_assert(d != NULL, "opendir %s: %s", path, strerror(errno));
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        struct stat st;
        char *p = sfmt("%s/%s", path, e->d_name);
        cr_assert(lstat(p, &st) == 0, "lstat %s: %s", p, strerror(errno));
        cr_assert(S_ISREG(st.st_mode), "%s is not a plain file", p);
        cr_assert(e->d_name[0] != '.', "%s: a name with a leading dot is left behind", p);
        cr_assert(has_suffix(e->d_name, ext), "%s does not end in %s", p, ext);
        n++;
    }
    closedir(d);
    return n;
}

static const char *store_path(const char *uri)
{
    const char *p = strchr(uri, ':') + 1;
    if (strncmp(p, "//", 2) == 0)
        p = strchr(p + 2, '/');
    char *path = sfmt("%s", p);
    path[strcspn(path, "?#")] = '\0';
    return path;
}

#ifdef ACP_HOSTILE_WITH_SQLITE
static char *sqlite_query(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    cr_assert(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK, "open %s: %s",
              db, h ? sqlite3_errmsg(h) : "?");
    sqlite3_busy_timeout(h, 10000);
    sqlite3_stmt *q = NULL;
    cr_assert(sqlite3_prepare_v2(h, sql, -1, &q, NULL) == SQLITE_OK, "%s: %s", sql,
              sqlite3_errmsg(h));
    char *out = sfmt("%s", "");
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(q, 0);
        out = sfmt("%s%s\n", out, v ? (const char *)v : "NULL");
    }
    cr_assert(rc == SQLITE_DONE, "%s: %s", sql, sqlite3_errmsg(h));
    sqlite3_finalize(q);
    sqlite3_close(h);
    return out;
}
#endif

#ifdef ACP_HOSTILE_WITH_PQ
/* The schema the postgres backend makes of a schema= text that is not a
 * plain identifier (plugins/postgres/README.md): "acp_" + FNV-1a 64. */
static char *pg_schema_of(const char *text)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        h ^= *c;
        h *= UINT64_C(0x100000001b3);
    }
    return sfmt("acp_%016llx", (unsigned long long)h);
}

static char *pg_query(const char *sql, const char *param)
{
    const char *uri = getenv("ACP_PG_URI");
    cr_assert(uri, "ACP_PG_URI is not set");
    PGconn *c = PQconnectdb(uri);
    cr_assert(PQstatus(c) == CONNECTION_OK, "connect %s: %s", uri, PQerrorMessage(c));
    PGresult *r = PQexecParams(c, sql, param ? 1 : 0, NULL, param ? &param : NULL, NULL, NULL, 0);
    cr_assert(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
    char *out = sfmt("%s", "");
    for (int i = 0; i < PQntuples(r); i++)
        out = sfmt("%s%s\n", out, PQgetisnull(r, i, 0) ? "NULL" : PQgetvalue(r, i, 0));
    PQclear(r);
    PQfinish(c);
    return out;
}
#endif

#ifdef ACP_HOSTILE_WITH_HIREDIS
static redisContext *redis_connect(void)
{
    const char *uri = getenv("ACP_REDIS_URI");
    cr_assert(uri && strncmp(uri, "redis://", 8) == 0, "ACP_REDIS_URI is not set");
    char host[64];
    int port = 0;
    cr_assert(sscanf(uri + 8, "%63[^:]:%d", host, &port) == 2, "cannot read %s", uri);
    redisContext *c = redisConnect(host, port);
    cr_assert(c && !c->err, "connect %s: %s", uri, c ? c->errstr : "out of memory");
    return c;
}

/* The database number in the store URI (redis://host:port/N). */
static int redis_db(const char *uri)
{
    const char *p = strchr(uri + 8, '/');
    return p ? atoi(p + 1) : 0;
}
#endif

/* What the backend has around its store now (and checks it): the tree
 * around the store, the tables, the keys. */
static outside look_outside(const outside *want)
{
    outside o = {0};
    if (is("file")) {
        const char *root = store_path(H.uri);
        cr_assert(strcmp(root, sfmt("%s/a/b/store", H.dir)) == 0,
                  "the file template must put the store at {dir}/a/b/store, not %s", root);
        /* No name escaped the store: around it, only the folders the test made. */
        cr_assert_str_eq(dir_list(H.dir), "a", "%s holds more than the store's parents", H.dir);
        cr_assert_str_eq(dir_list(sfmt("%s/a", H.dir)), "b");
        cr_assert_str_eq(dir_list(sfmt("%s/a/b", H.dir)), "store");
        const char *escape = sfmt("/tmp/%s-escape", strrchr(H.dir, '/') + 1);
        cr_assert(access(escape, F_OK) != 0, "an id reached %s", escape);
        const char *top = dir_list(root);
        /* delete_mark: the file store's delete mark (run versions), made by
         * the first delete of a run. */
        if (strncmp(top, "FORMAT|delete_mark|", 19) == 0)
            top = sfmt("FORMAT|%s", top + 19);
        cr_assert(strcmp(top, "FORMAT|events|index.log|lock|runs|sessions") == 0 ||
                      strcmp(top, "FORMAT|index.log|lock|runs|sessions") == 0 ||
                      strcmp(top, "FORMAT|events|index.log|lock|runs") == 0 ||
                      strcmp(top, "FORMAT|index.log|lock|runs") == 0 ||
                      strcmp(top, "FORMAT|index.log|lock") == 0 ||
                      strcmp(top, "FORMAT|lock") == 0,
                  "the store directory holds %s", top);
        o.runs = file_folder(sfmt("%s/runs", root), ".json");
        o.sessions = file_folder(sfmt("%s/sessions", root), ".json");
        o.event_logs = file_folder(sfmt("%s/events", root), ".log");
        if (want) {
            cr_assert(o.runs == want->runs, "runs/ holds %zu files for %zu runs", o.runs,
                      want->runs);
            cr_assert(o.sessions == want->sessions, "sessions/ holds %zu files for %zu sessions",
                      o.sessions, want->sessions);
            cr_assert(o.event_logs == want->event_logs,
                      "events/ holds %zu logs for %zu runs with events", o.event_logs,
                      want->event_logs);
        }
    } else if (is("sqlite")) {
        const char *db = store_path(H.uri);
        cr_assert(strcmp(db, sfmt("%s/a/b/t.db", H.dir)) == 0,
                  "the sqlite template must put the store at {dir}/a/b/t.db, not %s", db);
        cr_assert_str_eq(dir_list(H.dir), "a", "%s holds more than the database's parents",
                         H.dir);
        cr_assert_str_eq(dir_list(sfmt("%s/a", H.dir)), "b");
        const char *files = dir_list(sfmt("%s/a/b", H.dir));
        cr_assert(strcmp(files, "t.db") == 0 || strcmp(files, "t.db|t.db-shm|t.db-wal") == 0 ||
                      strcmp(files, "t.db|t.db-journal") == 0,
                  "the database's directory holds %s", files);
#ifdef ACP_HOSTILE_WITH_SQLITE
        o.schema = sqlite_query(db, "SELECT type || ' ' || name || ' ' || tbl_name || ' ' || "
                                    "coalesce(sql, '') FROM sqlite_master ORDER BY 1");
        if (want) {
            cr_assert_str_eq(o.schema, want->schema, "the database's tables changed");
            char *n = sqlite_query(db, "SELECT count(*) FROM runs");
            cr_assert_str_eq(n, sfmt("%zu\n", want->runs), "table runs holds %s rows", n);
            n = sqlite_query(db, "SELECT count(*) FROM sessions");
            cr_assert_str_eq(n, sfmt("%zu\n", want->sessions), "table sessions holds %s rows", n);
        }
#endif
    } else if (is("postgres")) {
#ifdef ACP_HOSTILE_WITH_PQ
        const char *q = strstr(H.uri, "schema=");
        cr_assert(q && strcmp(q + 7, H.dir) == 0,
                  "the postgres template must end in ?schema={dir}, not %s", H.uri);
        char *schema = pg_schema_of(H.dir);
        o.schema = pg_query("SELECT table_name || '.' || column_name || ' ' || data_type "
                            "FROM information_schema.columns WHERE table_schema = $1 "
                            "ORDER BY 1",
                            schema);
        cr_assert(o.schema[0], "no tables in schema %s (store %s)", schema, H.uri);
        if (want) {
            cr_assert_str_eq(o.schema, want->schema, "the columns of schema %s changed", schema);
            char *n = pg_query(sfmt("SELECT count(*) FROM %s.runs", schema), NULL);
            cr_assert_str_eq(n, sfmt("%zu\n", want->runs), "table runs holds %s rows", n);
            n = pg_query(sfmt("SELECT count(*) FROM %s.sessions", schema), NULL);
            cr_assert_str_eq(n, sfmt("%zu\n", want->sessions), "table sessions holds %s rows", n);
        }
#endif
    } else if (is("redis")) {
#ifdef ACP_HOSTILE_WITH_HIREDIS
        int db = redis_db(H.uri);
        cr_assert(db != 0, "the redis template must name a database of its own: {redis}/9");
        redisContext *c = redis_connect();
        redisReply *r = redisCommand(c, "SELECT %d", db);
        cr_assert(r && r->type == REDIS_REPLY_STATUS, "SELECT %d failed", db);
        freeReplyObject(r);
        /* Every key of this database belongs to one of these tests' stores,
         * whose prefixes all start with a directory like H.dir. */
        size_t mine = 0, base = strlen("/tmp/acp-hostile-XXXXXX");
        char cursor[32] = "0";
        do {
            r = redisCommand(c, "SCAN %s COUNT 1000", cursor);
            cr_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2, "SCAN failed");
            snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
            for (size_t i = 0; i < r->element[1]->elements; i++) {
                const redisReply *k = r->element[1]->element[i];
                cr_assert(k->len > base && memcmp(k->str, "/tmp/acp-hostile-", 17) == 0,
                          "key %s in database %d is outside every store's prefix",
                          show(sfmt("%.*s", (int)k->len, k->str)), db);
                if (memcmp(k->str, H.dir, base) == 0)
                    mine++;
            }
            freeReplyObject(r);
        } while (strcmp(cursor, "0") != 0);
        redisFree(c);
        if (want)
            cr_assert(mine > 0, "no key under the prefix %s:", H.dir);
#endif
    }
    return o;
}

/* ------------------------------------------------------------------ */
/* The ids                                                              */
/* ------------------------------------------------------------------ */

static const char *const fixed_ids[] = {
    /* paths */
    "..", ".", "../", "./", "../x", "../../x", "../../../x", "../../../../x", "/", "//", "/x",
    "/etc/passwd", "x/y", "x/../y", "./x", ".x", "x.", "x..", "...", "..\\..\\x", "\\..",
    /* encodings of paths */
    "%2e%2e", "%2E%2E", "%2e%2e%2f", "..%2f", "%2f", "%2F", "%", "%%", "%25", "%00", "%0a",
    "%c0%ae%c0%ae", "%u002e",
    /* white space and control characters */
    "a\nb", "\n", "\r\n", "\r", "\t", "a\tb", " ", "  ", " x", "x ", "\x01", "\x1b[31m", "\x7f",
    "\x08", "\x0b\x0c",
    /* Unicode that looks like something else */
    "\xc3\xa9", "e\xcc\x81", "\xe2\x80\xaex", "\xef\xbb\xbf", "\xe2\x80\x8b", "\xef\xbc\x8f",
    "\xe2\x80\xa4\xe2\x80\xa4", "\xf0\x9f\x98\x80",
    /* SQL */
    "'; DROP TABLE runs; --", "'", "''", "\"", "\"\"", "\\", "\\\\", "\\'", "a'b\"c\\d",
    "1; SELECT pg_sleep(10)", "' OR '1'='1", "$1", "$$", "$$; DROP TABLE events; $$", "--",
    "/*", "*/", "`", "%s%n", "E'\\x00'", "?", "?1", ":name", "@p",
    /* Redis and glob patterns */
    "*", "**", "[a-z]", "[", "]", "[^a]", "^", "\\*", "a*", "*a", "{a,b}", "+", "-", "(a", "[a",
    "(", "\\?",
    /* key separators, and what keys of the redis backend look like */
    ":", "::", "a:b", "acp:", "acp:r:x", "acp:*", "r:x", "e:x", "s:x", "S", "w", "i:a", "i:g:x",
    "i:s:x", "i:gs:1:xy", "x:r", "x:s",
    /* internal names of the file, sqlite and postgres backends */
    "FORMAT", "format", "lock", "LOCK", "index", "INDEX", "index.log", "index.log.damaged-1",
    ".tmp", ".tmp-", ".tmp-1", ".tmp-x.json", "runs", "sessions", "events", "runs/x",
    "events/x.log", "x.json", "x.log", ".json", "~", "x~", "%7e", "meta", "event_seq", "counts",
    "sqlite_master", "sqlite_schema", "public", "pg_catalog", "CON", "nul", "aux", "com1",
    /* names that differ only in case or escaping */
    "Run", "run", "RUN", "%52un", "%2552un",
};

#define N_FIXED (sizeof fixed_ids / sizeof fixed_ids[0])
#define MAX_IDS (N_FIXED + 32)

/* The fixed ids, ids made from this test's own directory and prefix, and
 * long ones. */
static size_t hostile_ids(const char **ids)
{
    size_t n = 0;
    for (size_t k = 0; k < N_FIXED; k++)
        ids[n++] = fixed_ids[k];
    const char *base = strrchr(H.dir, '/') + 1;
    ids[n++] = sfmt("%s", H.dir);                    /* the redis prefix without ':' */
    ids[n++] = sfmt("%s:", H.dir);                   /* the redis prefix itself */
    ids[n++] = sfmt("%s:r:x", H.dir);                /* a key of another run */
    ids[n++] = sfmt("%s/a/b/store", H.dir);          /* the file store's path */
    ids[n++] = sfmt("../../../../%s-escape", base);  /* out of {dir} */
    ids[n++] = sfmt("../../../../../../../../../../tmp/%s-escape", base);
    ids[n++] = repeat("x", 200, "a");
    ids[n++] = repeat("x", 200, "b");
    ids[n++] = repeat(".", 256, "");
    ids[n++] = repeat("/", 256, "");
    ids[n++] = repeat("%", 256, "");
    ids[n++] = repeat("../", 85, "x");   /* 256 bytes */
    ids[n++] = repeat("\xc3\xa9", 128, "");
    ids[n++] = repeat("\xf0\x9f\x98\x80", 64, "");
    ids[n++] = repeat("'", 256, "");
    ids[n++] = repeat("*", 256, "");
    cr_assert(n <= MAX_IDS);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(ids[i]);
        cr_assert(l >= 1 && l <= ACP_ID_MAX, "test id %zu has %zu bytes", i, l);
        for (size_t j = i + 1; j < n; j++)
            cr_assert(strcmp(ids[i], ids[j]) != 0, "the test's id list repeats %s", show(ids[i]));
    }
    return n;
}

/* ------------------------------------------------------------------ */
/* Valid ids: stored, exact, distinct, inside                           */
/* ------------------------------------------------------------------ */

typedef struct world {
    size_t n;
    const char *ids[MAX_IDS];
    const char *agent[MAX_IDS];    /* agent of run k: the id of the first run of its three */
    const char *session[MAX_IDS];  /* session_id of run k, or NULL */
    const char *run[MAX_IDS];      /* document of run k, NULL once deleted */
    const char *sess[MAX_IDS];     /* document of session k, NULL once deleted */
    int events[MAX_IDS];           /* events appended to run id k */
} world;

static const char *event_doc(size_t k, int j)
{
    return sfmt("{\"type\":%s,\"k\":%zu,\"j\":%d}", jstr(fixed_ids[(k + (size_t)j) % N_FIXED]), k,
                j);
}

static void build(world *w)
{
    w->n = hostile_ids(w->ids);
    for (size_t k = 0; k < w->n; k++) {
        w->agent[k] = w->ids[k - k % 3];
        w->session[k] = k % 5 == 4 ? NULL : w->ids[(k / 4) * 4 + 1 < w->n ? (k / 4) * 4 + 1 : 0];
        w->run[k] = run_doc(w->ids[k], w->agent[k], w->session[k], (int)k);
        acp_status st = acp_run_save(H.s, w->run[k], ACP_STRLEN, ERR);
        cr_assert(st == ACP_OK, "save_run %s: %s: %s", show(w->ids[k]), acp_status_name(st),
                  E.message);
        w->events[k] = (int)(k % 3) + 1;
        for (int j = 0; j < w->events[k]; j++) {
            int64_t seq = 0;
            st = acp_event_add(H.s, w->ids[k], event_doc(k, j), ACP_STRLEN, &seq, ERR);
            cr_assert(st == ACP_OK, "add_event %s: %s: %s", show(w->ids[k]), acp_status_name(st),
                      E.message);
            cr_assert(seq == j + 1, "event %d of %s got sequence %lld", j + 1, show(w->ids[k]),
                      (long long)seq);
        }
        w->sess[k] = sfmt("{\"id\":%s,\"state\":{\"k\":%zu,\"echo\":%s},\"history\":[]}",
                          jstr(w->ids[k]), k, jstr(w->ids[k]));
        st = acp_session_save(H.s, w->sess[k], ACP_STRLEN, ERR);
        cr_assert(st == ACP_OK, "save_session %s: %s: %s", show(w->ids[k]), acp_status_name(st),
                  E.message);
    }
}

/* The runs of w matching (agent, session), newest (highest k) first. */
static size_t expected_runs(const world *w, const char *agent, const char *session,
                            const char **out)
{
    size_t n = 0;
    for (size_t k = w->n; k-- > 0;) {
        if (!w->run[k])
            continue;
        if (agent && strcmp(w->agent[k], agent) != 0)
            continue;
        if (session && (!w->session[k] || strcmp(w->session[k], session) != 0))
            continue;
        out[n++] = w->ids[k];
    }
    return n;
}

static void expect_list(acp_store *s, const world *w, const char *agent, const char *session,
                        int64_t limit)
{
    const char *want[MAX_IDS];
    size_t nw = expected_runs(w, agent, session, want);
    const char **got;
    int64_t total = -2;
    size_t ng = list_keys(s, agent, session, limit, &got, &total);
    const char *what = sfmt("list_runs agent %s session %s limit %lld",
                            agent ? show(agent) : "(any)", session ? show(session) : "(any)",
                            (long long)limit);
    cr_assert(total == (int64_t)nw, "%s: total %lld, expected %zu", what, (long long)total, nw);
    for (size_t i = 0; i < ng && i < nw; i++)
        cr_assert(strcmp(got[i], want[i]) == 0, "%s: item %zu is %s, expected %s", what, i,
                  show(got[i]), show(want[i]));
    cr_assert(ng == nw, "%s: %zu runs, expected %zu", what, ng, nw);
}

static void verify(acp_store *s, const world *w)
{
    size_t live_runs = 0, live_sessions = 0;
    for (size_t k = 0; k < w->n; k++) {
        expect_run(s, w->ids[k], w->run[k]);
        expect_session(s, w->ids[k], w->sess[k]);
        const char **ev;
        size_t ne = events_of(s, w->ids[k], &ev);
        size_t want = w->run[k] ? (size_t)w->events[k] : 0;
        cr_assert(ne == want, "run %s has %zu events, expected %zu", show(w->ids[k]), ne, want);
        for (size_t j = 0; j < ne; j++)
            cr_assert_str_eq(ev[j], event_doc(k, (int)j), "event %zu of run %s", j + 1,
                             show(w->ids[k]));
        live_runs += w->run[k] != NULL;
        live_sessions += w->sess[k] != NULL;
    }
    expect_list(s, w, NULL, NULL, 1000);
    expect_list(s, w, NULL, NULL, 7);
    for (size_t k = 0; k < w->n; k += 3)
        expect_list(s, w, w->ids[k], NULL, 1000);
    for (size_t k = 1; k < w->n; k += 4)
        expect_list(s, w, NULL, w->ids[k], 1000);
    for (size_t k = 0; k < w->n; k++)
        if (w->session[k] && k % 2 == 0)
            expect_list(s, w, w->agent[k], w->session[k], 2);

    const char *want[MAX_IDS];
    size_t nw = 0;
    for (size_t k = 0; k < w->n; k++)
        if (w->sess[k])
            want[nw++] = w->ids[k];
    qsort(want, nw, sizeof want[0], by_bytes);
    for (int64_t limit = 1000; limit > 0; limit = limit == 1000 ? 7 : 0) {
        const char **got;
        size_t ng = session_ids(s, limit, &got);
        for (size_t i = 0; i < ng && i < nw; i++)
            cr_assert(strcmp(got[i], want[i]) == 0,
                      "list_sessions (pages of %lld): item %zu is %s, expected %s",
                      (long long)limit, i, show(got[i]), show(want[i]));
        cr_assert(ng == nw, "list_sessions (pages of %lld): %zu sessions, expected %zu",
                  (long long)limit, ng, nw);
    }
    (void)live_runs, (void)live_sessions;
}

static outside counts(const world *w, const outside *schema)
{
    outside o = {0};
    for (size_t k = 0; k < w->n; k++) {
        o.runs += w->run[k] != NULL;
        o.sessions += w->sess[k] != NULL;
        o.event_logs += w->run[k] != NULL && w->events[k] > 0;
    }
    o.schema = schema->schema;
    return o;
}

Test(hostile, ids_round_trip_distinct_and_inside_the_store)
{
    outside empty = look_outside(NULL);
    static world w;
    memset(&w, 0, sizeof w);
    build(&w);
    verify(H.s, &w);
    outside want = counts(&w, &empty);
    look_outside(&want);

    /* Deleting some changes only those. */
    for (size_t k = 0; k < w.n; k++) {
        if (k % 2 == 0) {
            acp_status st = acp_run_delete(H.s, w.ids[k], ERR);
            cr_assert(st == ACP_OK, "delete_run %s: %s: %s", show(w.ids[k]), acp_status_name(st),
                      E.message);
            w.run[k] = NULL;
        } else {
            acp_status st = acp_session_delete(H.s, w.ids[k], ERR);
            cr_assert(st == ACP_OK, "delete_session %s: %s: %s", show(w.ids[k]),
                      acp_status_name(st), E.message);
            w.sess[k] = NULL;
        }
    }
    verify(H.s, &w);
    want = counts(&w, &empty);
    look_outside(&want);

    if (H.durable) {
        /* What reopening reads back (file: index.log; others: the server). */
        acp_store_close(H.s);
        H.s = open_uri(H.uri);
        verify(H.s, &w);
        look_outside(&want);
    }
}

/* ------------------------------------------------------------------ */
/* JSON escapes: the id is what the JSON text means                     */
/* ------------------------------------------------------------------ */

static void save_ok(acp_status (*save)(acp_store *, const char *, size_t, acp_error *),
                    const char *doc)
{
    acp_status st = save(H.s, doc, ACP_STRLEN, ERR);
    cr_assert(st == ACP_OK, "saving %s: %s: %s", show(doc), acp_status_name(st), E.message);
}

static void refused(acp_status (*save)(acp_store *, const char *, size_t, acp_error *),
                    const char *doc, const char *why)
{
    acp_status st = save(H.s, doc, ACP_STRLEN, ERR);
    cr_assert(st == ACP_INVALID, "saving a document with %s (%s) gave %s (%s), expected INVALID",
              why, show(doc), acp_status_name(st), E.message);
}

static acp_status add_event_to_r(acp_store *s, const char *doc, size_t len, acp_error *err)
{
    return acp_event_add(s, "abc", doc, len, NULL, err);
}

Test(hostile, json_escapes_in_ids_and_names)
{
    /* Runs a truncating or half-decoding backend would overwrite. */
    const char *known[] = {"abc", "a", "..", "/", "a/b", "A", "x", "\xc3\xa9"};
    size_t nk = sizeof known / sizeof known[0];
    for (size_t k = 0; k < nk; k++) {
        save_ok(acp_run_save, run_doc(known[k], "agent", NULL, (int)k));
        save_ok(acp_session_save, sfmt("{\"id\":%s,\"state\":%zu}", jstr(known[k]), k));
    }
    cr_assert(acp_event_add(H.s, "abc", "{\"type\":\"first\"}", ACP_STRLEN, NULL, ERR) == ACP_OK,
              "%s", E.message);

    /* Escaped spellings address the same id. */
    const char *dotdot = "{\"run_id\":\"\\u002e\\u002E\",\"agent_name\":\"\\u002f\","
                         "\"status\":\"created\",\"v\":2}";
    save_ok(acp_run_save, dotdot);
    expect_run(H.s, "..", dotdot);
    const char *slash = "{\"run_id\":\"a\\/b\",\"agent_name\":\"\\/\",\"status\":\"created\"}";
    save_ok(acp_run_save, slash);
    expect_run(H.s, "a/b", slash);
    const char *e_acute =
        "{\"run_id\":\"\\u00e9\",\"agent_name\":\"agent\",\"status\":\"created\"}";
    save_ok(acp_run_save, e_acute);
    expect_run(H.s, "\xc3\xa9", e_acute);
    const char **keys;
    int64_t total;
    size_t n = list_keys(H.s, "/", NULL, 1000, &keys, &total);
    cr_assert(n == 2 && total == 2, "agent \"/\" (saved as \\u002f and \\/) has %zu runs", n);
    const char *sess_a = "{\"id\":\"\\u0041\",\"state\":\"escaped\"}";
    save_ok(acp_session_save, sess_a);
    expect_session(H.s, "A", sess_a);

    /* A 256-byte id written as 128 escapes is valid; 257 bytes are not. */
    char *e128 = repeat("\\u00e9", 128, "");
    const char *long_ok =
        sfmt("{\"run_id\":\"%s\",\"agent_name\":\"agent\",\"status\":\"created\"}", e128);
    save_ok(acp_run_save, long_ok);
    expect_run(H.s, repeat("\xc3\xa9", 128, ""), long_ok);

    const char *before_ids[] = {"abc", "a", "..", "/", "a/b", "A", "x", "\xc3\xa9", "a\xc3\xa9",
                                "ab"};
    char *before = snapshot(H.s, before_ids, 10);

    /* Refused: nothing may be stored, truncated or overwritten. */
    static const struct {
        const char *members, *why;
    } bad_runs[] = {
        {"\"run_id\":\"abc\\u0000\",\"agent_name\":\"g\"",
         "NUL at the end of run_id"},
        {"\"run_id\":\"abc\\u0000def\",\"agent_name\":\"g\"",
         "NUL inside run_id"},
        {"\"run_id\":\"\\u0000\",\"agent_name\":\"g\"",
         "run_id of one NUL"},
        {"\"run_id\":\"..\\u0000/x\",\"agent_name\":\"g\"",
         "NUL after .."},
        {"\"run_id\":\"x\",\"agent_name\":\"g\\u0000h\"",
         "NUL in agent_name"},
        {"\"run_id\":\"x\",\"agent_name\":\"\\u0000\"",
         "agent_name of one NUL"},
        {"\"run_id\":\"x\",\"agent_name\":\"g\",\"session_id\":\"a\\u0000\"",
         "NUL in session_id"},
        {"\"run_id\":\"\\ud800\",\"agent_name\":\"g\"",
         "a lone high surrogate"},
        {"\"run_id\":\"\\udc00x\",\"agent_name\":\"g\"",
         "a lone low surrogate"},
        {"\"run_id\":\"\\ud800\\u0041\",\"agent_name\":\"g\"",
         "a high surrogate before ASCII"},
        {"\"run_id\":\"abc\xff\",\"agent_name\":\"g\"",
         "a raw 0xff in run_id"},
        {"\"run_id\":\"\xc0\xae\xc0\xae\",\"agent_name\":\"g\"",
         "an overlong \"..\""},
        {"\"run_id\":\"ab\xc3\",\"agent_name\":\"g\"",
         "a truncated UTF-8 sequence"},
        {"\"run_id\":\"x\",\"agent_name\":\"g\xff\"",
         "a raw 0xff in agent_name"},
        {"\"run_id\":\"x\",\"agent_name\":\"g\",\"session_id\":\"\xed\xa0\x80\"",
         "a UTF-16 surrogate in session_id"},
        {"\"run_id\":\"x\",\"agent_name\":\"g\",\"note\":\"\xfe\"",
         "a raw 0xfe in another member"},
        {"\"run_id\":\"x\",\"agent_name\":\"g\",\"\xff\":1",
         "a raw 0xff in a member name"},
        {"\"run_id\":\"abc\",\"run_id\":\"x\",\"agent_name\":\"g\"",
         "run_id twice"},
        {"\"run_id\":\"abc\",\"run\\u005fid\":\"x\",\"agent_name\":\"g\"",
         "run_id twice, once escaped"},
        {"\"run_id\":\"x\",\"agent_name\":\"g\",\"agent_name\":\"h\"",
         "agent_name twice"},
        {"\"run_id\":\"x\",\"run_id\\u0000\":\"abc\",\"agent_name\":\"g\"",
         "a member \"run_id\\u0000\""},
        {"\"run_id\\u0000x\":\"abc\",\"agent_name\":\"g\"",
         "only a member \"run_id\\u0000x\""},
        {"\"run_id\":\"\",\"agent_name\":\"g\"",
         "an empty run_id"},
    };
    for (size_t k = 0; k < sizeof bad_runs / sizeof bad_runs[0]; k++)
        refused(acp_run_save, sfmt("{%s,\"status\":\"created\"}", bad_runs[k].members),
                bad_runs[k].why);
#define ID_DOC "{\"run_id\":\"%s\",\"agent_name\":\"g\",\"status\":\"created\"}"
    refused(acp_run_save, sfmt(ID_DOC, repeat("\\u00e9", 128, "a")),
            "a 257-byte run_id written as escapes");
    refused(acp_run_save, sfmt(ID_DOC, repeat("\\u0061", 4096, "")),
            "a 4 KiB run_id written as escapes");
    refused(acp_run_save, sfmt(ID_DOC, repeat("a", 4096, "")), "a 4 KiB run_id");
#undef ID_DOC
    refused(acp_session_save, "{\"id\":\"abc\\u0000\"}", "NUL at the end of a session id");
    refused(acp_session_save, "{\"id\":\"\\u0000abc\"}", "NUL at the start of a session id");
    refused(acp_session_save, "{\"id\":\"a\\udfff\"}", "a lone low surrogate in a session id");
    refused(acp_session_save, "{\"id\":\"a\xff\"}", "a raw 0xff in a session id");
    refused(acp_session_save, "{\"id\":\"abc\",\"id\":\"x\"}", "id twice");
    refused(acp_session_save, "{\"id\":\"abc\",\"\\u0069d\":\"x\"}", "id twice, once escaped");
    refused(acp_session_save, sfmt("{\"id\":\"%s\"}", repeat("\\u00e9", 128, "a")),
            "a 257-byte session id written as escapes");
    refused(add_event_to_r, "{\"type\":\"\\u0000\"}", "an event type of one NUL");
    refused(add_event_to_r, "{\"type\":\"t\\u0000x\"}", "NUL in an event type");
    refused(add_event_to_r, "{\"type\":\"t\xff\"}", "a raw 0xff in an event type");
    refused(add_event_to_r, "{\"type\":\"t\",\"x\":\"\xc3\"}",
            "a truncated UTF-8 sequence in an event");
    refused(add_event_to_r, "{\"type\":\"t\",\"type\":\"u\"}", "type twice");
    refused(add_event_to_r, "{\"type\":\"t\",\"typ\\u0065\":\"u\"}", "type twice, once escaped");
    cr_assert_str_eq(snapshot(H.s, before_ids, 10), before, "a refused document changed the store");

    /* \u0000 is fine where nothing is indexed, and comes back as written
     * (the core refuses it only in top-level member names, which cJSON
     * would cut short). */
    const char *nul_run = "{\"run_id\":\"nul\",\"agent_name\":\"g\",\"status\":\"created\","
                          "\"note\":\"x\\u0000y\",\"nested\":{\"\\u0000\":\"\\u0000\"}}";
    save_ok(acp_run_save, nul_run);
    expect_run(H.s, "nul", nul_run);
    const char *nul_session = "{\"id\":\"nul\",\"state\":\"\\u0000\",\"history\":[\"\\u0000\"]}";
    save_ok(acp_session_save, nul_session);
    expect_session(H.s, "nul", nul_session);
    const char *nul_event =
        "{\"type\":\"t\",\"data\":\"\\u0000\\u0000\",\"in\":[{\"\\u0000k\":0}]}";
    int64_t seq = 0;
    acp_status st = acp_event_add(H.s, "nul", nul_event, ACP_STRLEN, &seq, ERR);
    cr_assert(st == ACP_OK && seq == 1, "add_event with \\u0000 in its content: %s: %s",
              acp_status_name(st), E.message);
    const char **ev;
    cr_assert(events_of(H.s, "nul", &ev) == 1);
    cr_assert_str_eq(ev[0], nul_event, "an event with \\u0000 in its content");
    look_outside(NULL);
}

/* ------------------------------------------------------------------ */
/* Invalid ids: refused everywhere, nothing changes                      */
/* ------------------------------------------------------------------ */

Test(hostile, invalid_ids_are_refused_and_change_nothing)
{
    const char *a256 = repeat("a", 256, "");
    /* Ids of 8 bytes and more are checked a word at a time: valid UTF-8
     * there, and bad bytes in every word position and in the last, overlapping
     * word, below. */
    const char *good[] = {a256, "abc", "ab", "\xc3\xa9", "a", "..", "abcdefghij",
                          "abcdefgh\xc3\xa9ijklmn"};
    size_t ng = sizeof good / sizeof good[0];
    for (size_t k = 0; k < ng; k++) {
        save_ok(acp_run_save, run_doc(good[k], good[k], good[k], (int)k));
        save_ok(acp_session_save, sfmt("{\"id\":%s}", jstr(good[k])));
        cr_assert(acp_event_add(H.s, good[k], "{\"type\":\"t\"}", ACP_STRLEN, NULL, ERR) == ACP_OK,
                  "%s", E.message);
    }
    char *before = snapshot(H.s, good, ng);

    /* Each bad id has a stored valid id as its prefix, where one exists, so
     * that truncating or stopping at the bad byte would hit it. */
    const char *bad[] = {
        repeat("a", 257, ""), repeat("a", 4096, ""), "abc\xff", "ab\xc3", "\xc3",
        "\xc0\xae\xc0\xae", "..\xc0\xaf", "\xed\xa0\x80", "abc\x80", "a\xf4\x90\x80\x80", "",
        repeat("\xc3\xa9", 128, "a"), "abcdefghij\xff", "\x80" "bcdefghij", "abcdefgh\x80ijklmnop",
        "abcdefghijklmno\xc3", "abcdefgh\xc3\xa9ijklm\xed\xa0\x80",
    };
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        const char *id = bad[b];
        char *json = NULL;
        size_t len;
        acp_page *p = NULL;
        int64_t seq;
        struct {
            const char *what;
            acp_status st;
        } calls[12];
        size_t n = 0;
#define TRY(name, call) (calls[n].what = (name), calls[n++].st = (call))
        TRY("save_run", acp_run_save(H.s, run_doc(id, "g", NULL, 0), ACP_STRLEN, ERR));
        TRY("save_run with it as session_id",
            acp_run_save(H.s, run_doc("abc", "g", id, 0), ACP_STRLEN, ERR));
        TRY("get_run", acp_run_get(H.s, id, &json, &len, ERR));
        TRY("delete_run", acp_run_delete(H.s, id, ERR));
        TRY("add_event", acp_event_add(H.s, id, "{\"type\":\"t\"}", ACP_STRLEN, &seq, ERR));
        TRY("get_events", acp_event_list(H.s, id, NULL, &p, ERR));
        TRY("save_session", acp_session_save(H.s, sfmt("{\"id\":%s}", jstr(id)), ACP_STRLEN, ERR));
        TRY("get_session", acp_session_get(H.s, id, &json, &len, ERR));
        TRY("delete_session", acp_session_delete(H.s, id, ERR));
        TRY("list_sessions after it", acp_session_list(H.s, id, 10, &p, ERR));
        acp_run_filter f = ACP_RUN_FILTER_INIT;
        f.session_id = id;
        TRY("list_runs with it as session filter", acp_run_list(H.s, &f, &p, ERR));
#undef TRY
        for (size_t i = 0; i < n; i++)
            cr_assert(calls[i].st == ACP_INVALID, "%s with the invalid id %s: %s, expected INVALID",
                      calls[i].what, show(id), acp_status_name(calls[i].st));
    }

    cr_assert_str_eq(snapshot(H.s, good, ng), before, "a refused call changed the store");

    /* An agent filter is not an id, but one that is not UTF-8 or is very
     * long still reaches no SQL or key as such: INVALID or nothing found,
     * never a backend error. */
    const char *filters[] = {"abc\xff", "\xc3", repeat("a", 4096, ""), repeat("\xff", 300, "")};
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
        acp_run_filter f = ACP_RUN_FILTER_INIT;
        f.agent_name = filters[i];
        f.want_total = 1;
        acp_page *p = NULL;
        acp_status st = acp_run_list(H.s, &f, &p, ERR);
        size_t c = st == ACP_OK ? acp_page_count(p) : 0;
        acp_page_free(st == ACP_OK ? p : NULL);
        cr_assert(st == ACP_INVALID || (st == ACP_OK && c == 0),
                  "list_runs with agent filter %s: %s (%s), expected INVALID or no runs",
                  show(filters[i]), acp_status_name(st), E.message);
    }
    look_outside(NULL);
}

/* ------------------------------------------------------------------ */
/* Filters with metacharacters match exactly                            */
/* ------------------------------------------------------------------ */

Test(hostile, filters_with_metacharacters_match_exactly)
{
    /* Each is the agent of one run and the session of another. */
    const char *names[] = {
        "%", "_", "a%", "a_", "ab", "a", "A", "*", "a*", "?", "a?", "[a-z]", "b", "\\", "\\%",
        "\\_", "'", "''", "' OR '1'='1", "\"", ".*", "^a", "a$", "(a|b)", " a", "a ", "a%b",
        "a_b", "axb", "a\\b", "[ab]", "{a,b}", "i:g:a", "a:b", "a\nb", "\xc3\xa9", "E",
    };
    size_t n = sizeof names / sizeof names[0];
    for (size_t k = 0; k < n; k++) {
        save_ok(acp_run_save, run_doc(sfmt("agent-%zu", k), names[k], NULL, (int)k));
        save_ok(acp_run_save,
                run_doc(sfmt("session-%zu", k), "sessions", names[k], (int)(n + k)));
    }
    /* Probes: every name, and patterns that match some of them. */
    const char *probes[] = {"%%", "__", "a%%", "*?", "[a]", "a.", "%a%", "_b", "a*b", "\\\\",
                            "' OR ''='", "a\\%", "A%", "a%B"};
    for (size_t pass = 0; pass < 2; pass++) {
        size_t np = pass == 0 ? n : sizeof probes / sizeof probes[0];
        for (size_t i = 0; i < np; i++) {
            const char *probe = pass == 0 ? names[i] : probes[i];
            size_t want_agent = n, want_session = n;
            for (size_t k = 0; k < n; k++)
                if (strcmp(names[k], probe) == 0)
                    want_agent = want_session = k;
            const char **keys;
            int64_t total;
            size_t got = list_keys(H.s, probe, NULL, 1000, &keys, &total);
            if (want_agent < n) {
                cr_assert(got == 1 && total == 1 &&
                              strcmp(keys[0], sfmt("agent-%zu", want_agent)) == 0,
                          "agent filter %s found %zu runs (total %lld), first %s", show(probe),
                          got, (long long)total, got ? show(keys[0]) : "-");
            } else {
                cr_assert(got == 0 && total == 0, "agent filter %s (no such agent) found %s",
                          show(probe), got ? show(keys[0]) : "a total only");
            }
            got = list_keys(H.s, NULL, probe, 1000, &keys, &total);
            if (want_session < n) {
                cr_assert(got == 1 && total == 1 &&
                              strcmp(keys[0], sfmt("session-%zu", want_session)) == 0,
                          "session filter %s found %zu runs (total %lld), first %s", show(probe),
                          got, (long long)total, got ? show(keys[0]) : "-");
            } else {
                cr_assert(got == 0 && total == 0, "session filter %s (no such session) found %s",
                          show(probe), got ? show(keys[0]) : "a total only");
            }
            got = list_keys(H.s, "sessions", probe, 1000, &keys, &total);
            cr_assert(got == (want_session < n ? 1u : 0u),
                      "agent \"sessions\" and session filter %s found %zu runs", show(probe), got);
        }
    }
    look_outside(NULL);
}

/* A long agent name: no limit is written, so it is stored and found, or
 * refused as INVALID; a backend's index limit must not show as IO. */
Test(hostile, long_agent_names_are_stored_or_refused)
{
    size_t sizes[] = {1000, 3000, 8192, 65536};
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *agent = keep(malloc(sizes[i] + 1));
        for (size_t j = 0; j < sizes[i]; j++) {
            x = x * 1103515245u + 12345u; /* text that does not compress */
            agent[j] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"[x >> 26];
        }
        agent[sizes[i]] = '\0';
        const char *id = sfmt("long-%zu", sizes[i]);
        const char *doc = run_doc(id, agent, NULL, (int)i);
        acp_status st = acp_run_save(H.s, doc, ACP_STRLEN, ERR);
        cr_assert(st == ACP_OK || st == ACP_INVALID,
                  "save_run with a %zu-byte agent_name: %s (%s), expected OK or INVALID",
                  sizes[i], acp_status_name(st), E.message);
        if (st != ACP_OK)
            continue;
        expect_run(H.s, id, doc);
        const char **keys;
        int64_t total;
        size_t got = list_keys(H.s, agent, NULL, 10, &keys, &total);
        cr_assert(got == 1 && total == 1 && strcmp(keys[0], id) == 0,
                  "the %zu-byte agent finds %zu runs", sizes[i], got);
        /* The same name but its last byte: another agent. */
        agent[sizes[i] - 1] = agent[sizes[i] - 1] == 'a' ? 'b' : 'a';
        got = list_keys(H.s, agent, NULL, 10, &keys, &total);
        cr_assert(got == 0, "a %zu-byte agent differing in its last byte finds %zu runs",
                  sizes[i], got);
    }
}

/* ------------------------------------------------------------------ */
/* URIs and options                                                     */
/* ------------------------------------------------------------------ */

static acp_status open_status(const char *uri, acp_store **out)
{
    acp_store *s = NULL;
    acp_status st = acp_store_open(uri, &s, ERR);
    if (out)
        *out = st == ACP_OK ? s : NULL;
    else if (st == ACP_OK)
        acp_store_close(s);
    return st;
}

static void open_refused(const char *uri, const char *why)
{
    acp_status st = open_status(uri, NULL);
    cr_assert(st == ACP_INVALID, "opening %s (%s): %s (%s), expected INVALID", uri, why,
              acp_status_name(st), E.message);
}

static void parse_refused(const char *uri, const char *why)
{
    acp_config *cfg = NULL;
    cr_assert(acp_config_new(&cfg, ERR) == ACP_OK);
    cr_assert(acp_config_parse_uri(cfg, "memory:", ERR) == ACP_OK);
    acp_status st = acp_config_parse_uri(cfg, uri, ERR);
    char *red = acp_config_redacted_uri(cfg);
    acp_config_free(cfg);
    cr_assert(red != NULL);
    char *after = sfmt("%s", red);
    acp_free(red);
    cr_assert(st == ACP_INVALID, "parsing %s (%s): %s, expected INVALID", uri, why,
              acp_status_name(st));
    cr_assert_str_eq(after, "memory:", "a refused URI (%s) changed the configuration", why);
    open_refused(uri, why);
}

/* The URI with one more query option. */
static const char *with_option(const char *uri, const char *opt)
{
    return sfmt("%s%s%s", uri, strchr(uri, '?') ? "&" : "?", opt);
}

Test(hostile, hostile_uris_and_options)
{
    const char *u = expand(H.tmpl, H.dir);
    /* Keys: unknown, malformed, repeated (also through an escape), empty. */
    open_refused(with_option(u, "bogus_key=1"), "an unknown option");
    open_refused(with_option(u, "x.y=1"), "an unknown option with a dot");
    parse_refused(with_option(u, "bad'key=1"), "a quote in an option key");
    parse_refused(with_option(u, "a%20b=1"), "a space in an option key");
    parse_refused(with_option(u, "a%00b=1"), "%00 in an option key");
    parse_refused(with_option(u, "dup=1&dup=2"), "a repeated option");
    parse_refused(with_option(u, "du%70=1&dup=2"), "a repeated option, once escaped");
    parse_refused(with_option(u, "=1"), "an empty option key");
    parse_refused(with_option(u, "novalue"), "an option without '='");
    /* Values: NUL and broken escapes. */
    parse_refused(with_option(u, "k=a%00b"), "%00 in an option value");
    parse_refused(with_option(u, "k=%0"), "a cut escape in an option value");
    parse_refused(with_option(u, "k=%zz"), "a non-hex escape in an option value");
    /* The backend's own options, repeated. */
    const char *own = is("sqlite") ? "busy_timeout=100"
                      : is("file") ? "sync=none"
                      : is("redis") ? "ttl=0"
                      : is("postgres") ? "pool_size=2" : NULL;
    if (own)
        parse_refused(with_option(with_option(u, own), own), "the backend's option twice");
    if (is("sqlite")) {
        open_refused(with_option(u, "busy_timeout=1;DROP TABLE runs"), "SQL in an integer");
        open_refused(with_option(u, "synchronous=off;PRAGMA writable_schema=1"),
                     "SQL in a pragma value");
    }
    if (is("redis"))
        open_refused(with_option(u, "ttl=1%2a"), "a pattern in a number");
    /* NUL in the location: no file or server sees a cut name. */
    if (is("sqlite") || is("file")) {
        const char *nul_path =
            sfmt("%s:%s/a/b/cut%%00off%s", H.backend, H.dir, is("sqlite") ? ".db" : "");
        parse_refused(nul_path, "%00 in the path");
        const char *left = dir_list(sfmt("%s/a/b", H.dir));
        cr_assert(strstr(left, "cut") == NULL, "a refused path left %s behind", left);
    }
    if (is("redis")) {
        const char *at = strstr(u, "127.0.0.1");
        cr_assert(at);
        open_refused(sfmt("redis://127.0.0.1%%00x%s", at + strlen("127.0.0.1")),
                     "%00 in the host");
        open_refused(sfmt("redis://u%%00x:pw@%s", at), "%00 in the user");
    }
    if (is("postgres")) {
        const char *at = strstr(u, "@");
        cr_assert(at);
        open_refused(sfmt("postgres://postgres%%00x%s", at), "%00 in the user");
        open_refused(sfmt("postgres://postgres@127.0.0.1%%00x%s", strstr(at, "127.0.0.1") + 9),
                     "%00 in the host");
    }
    look_outside(NULL);
}

/* "name+variant" loads plugin "name"; a variant the backend does not
 * know must not be ignored (sqlite+foo: is no sqlite store). */
Test(hostile, unknown_scheme_variants_are_refused)
{
    const char *u = expand(H.tmpl, H.dir);
    const char *colon = strchr(u, ':');
    open_refused(sfmt("%.*s+bogus%s", (int)(colon - u), u, colon),
                 "an unknown variant of the scheme");
    open_refused(sfmt("%.*s+..%%2F..%s", (int)(colon - u), u, colon),
                 "a variant that looks like a path");
}

Test(hostile, backend_names_never_reach_a_path)
{
    /* A plugin directory holding files at the paths a careless loader
     * would build from these names. */
    const char *pp = getenv("ACP_STORAGE_PLUGIN_PATH");
    cr_assert(pp && pp[0] == '/', "ACP_STORAGE_PLUGIN_PATH must name the build's plugins");
    char *plugdir = sfmt("%.*s", (int)strcspn(pp, ":"), pp);
    const char *memory_so = sfmt("%s/libacp_storage_memory.so", plugdir);
    cr_assert(access(memory_so, R_OK) == 0, "%s is missing", memory_so);
    const char *around = dir_list(sfmt("%s/a/b", H.dir));
    const char *trap = sfmt("%s/plugins", H.dir);
    cr_assert(mkdir(trap, 0700) == 0);
    cr_assert(mkdir(sfmt("%s/libacp_storage_..", trap), 0700) == 0);
    cr_assert(mkdir(sfmt("%s/libacp_storage_x", trap), 0700) == 0);
    const char *planted[] = {"libacp_storage_../x.so", "libacp_storage_x/y.so",
                             "libacp_storage_X.so", "libacp_storage_.so",
                             "libacp_storage_memory .so", "libacp_storage_memory\n.so"};
    for (size_t i = 0; i < sizeof planted / sizeof planted[0]; i++)
        cr_assert(symlink(memory_so, sfmt("%s/%s", trap, planted[i])) == 0, "symlink %s: %s",
                  planted[i], strerror(errno));

    const char *names[] = {"../x", "x/y", "X", "", "memory ", "memory\n", "..", ".", "Memory",
                           "memory/", "/memory", "mem%6fry", repeat("a", 4096, ""),
                           repeat("a", 65, ""), "memory\xc3\xa9", "x+y+z"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        acp_config *cfg = NULL;
        cr_assert(acp_config_new(&cfg, ERR) == ACP_OK);
        cr_assert(acp_config_add_plugin_dir(cfg, trap, ERR) == ACP_OK, "%s", E.message);
        acp_status st = acp_config_set_backend(cfg, names[i], ERR);
        const char *msg = sfmt("%s", E.message);
        acp_store *s = NULL;
        acp_status ost = st == ACP_OK ? acp_store_open_config(cfg, &s, ERR) : st;
        if (ost == ACP_OK)
            acp_store_close(s);
        acp_config_free(cfg);
        cr_assert(st == ACP_INVALID,
                  "backend name %s: set_backend gave %s (%s), open %s, expected INVALID",
                  show(names[i]), acp_status_name(st), msg, acp_status_name(ost));
        cr_assert(strlen(msg) < ACP_ERROR_MESSAGE_MAX - 1, "the message is not cut");

        /* The same as a URI scheme, with the trap directory searched first. */
        const char *uri = sfmt("%s:%s/a/b/never", names[i], H.dir);
        setenv("ACP_STORAGE_PLUGIN_PATH", sfmt("%s:%s", trap, plugdir), 1);
        st = open_status(uri, NULL);
        setenv("ACP_STORAGE_PLUGIN_PATH", pp, 1);
        cr_assert(st == ACP_INVALID, "opening %s: %s (%s), expected INVALID", show(uri),
                  acp_status_name(st), E.message);
    }
    cr_assert_str_eq(dir_list(sfmt("%s/a/b", H.dir)), around,
                     "a refused backend name created a file");
}

Test(hostile, relative_paths_are_not_rewritten)
{
    /* The text is kept as written ... */
    acp_config *cfg = NULL;
    cr_assert(acp_config_new(&cfg, ERR) == ACP_OK);
    cr_assert(acp_config_parse_uri(cfg, "sqlite:../../etc/x.db?mode=ro", ERR) == ACP_OK, "%s",
              E.message);
    char *red = acp_config_redacted_uri(cfg);
    acp_config_free(cfg);
    cr_assert(red != NULL);
    char *r = sfmt("%s", red);
    acp_free(red);
    cr_assert_str_eq(r, "sqlite:../../etc/x.db?mode=ro", "the URI was rewritten");
    if (!is("sqlite") && !is("file"))
        return;

    /* ... and resolved by the system from the working directory, once. */
    const char *cwd = sfmt("%s/a/b", H.dir);
    cr_assert(chdir(cwd) == 0);
    if (is("sqlite")) {
        cr_assert(open_status("sqlite:../../etc/x.db?mode=ro", NULL) != ACP_OK,
                  "a read-only open of a missing database succeeded");
        cr_assert(access(sfmt("%s/etc", H.dir), F_OK) != 0, "a read-only open made a folder");
        cr_assert(mkdir(sfmt("%s/etc", H.dir), 0700) == 0);
        acp_store *s;
        cr_assert(open_status("sqlite:../../etc/x.db", &s) == ACP_OK, "%s", E.message);
        acp_status st = acp_run_save(s, run_doc("r", "g", NULL, 0), ACP_STRLEN, ERR);
        acp_store_close(s);
        cr_assert(st == ACP_OK, "%s", E.message);
        cr_assert(access(sfmt("%s/etc/x.db", H.dir), F_OK) == 0, "no database at ../../etc/x.db");
        cr_assert(open_status("sqlite:../../etc/x.db?mode=ro", &s) == ACP_OK, "%s", E.message);
        st = acp_run_save(s, run_doc("r2", "g", NULL, 0), ACP_STRLEN, ERR);
        acp_store_close(s);
        cr_assert(st != ACP_OK, "mode=ro allowed a write");
        /* One decoding: %252e stays the literal name "%2e". */
        cr_assert(mkdir(sfmt("%s/%%2e%%2e", cwd), 0700) == 0);
        cr_assert(open_status("sqlite:%252e%252e/y.db", NULL) == ACP_OK, "%s", E.message);
        cr_assert(access(sfmt("%s/%%2e%%2e/y.db", cwd), F_OK) == 0,
                  "sqlite:%%252e%%252e/y.db is not the file %%2e%%2e/y.db");
        cr_assert(access(sfmt("%s/a/y.db", H.dir), F_OK) != 0, "%%252e was decoded twice");
    } else {
        cr_assert(open_status("file:../../rel-store", NULL) == ACP_OK, "%s", E.message);
        cr_assert(access(sfmt("%s/rel-store/FORMAT", H.dir), F_OK) == 0,
                  "file:../../rel-store is not at {dir}/rel-store");
        cr_assert(open_status("file:%2e%2e/%2e%2e/enc-store", NULL) == ACP_OK, "%s", E.message);
        cr_assert(access(sfmt("%s/enc-store/FORMAT", H.dir), F_OK) == 0,
                  "file:%%2e%%2e/%%2e%%2e/enc-store is not at {dir}/enc-store");
        cr_assert(open_status("file:%252e%252e", NULL) == ACP_OK, "%s", E.message);
        cr_assert(access(sfmt("%s/%%2e%%2e/FORMAT", cwd), F_OK) == 0,
                  "file:%%252e%%252e is not the folder %%2e%%2e");
    }
}

/* ------------------------------------------------------------------ */
/* Backend-specific location text                                       */
/* ------------------------------------------------------------------ */

Test(hostile, redis_prefixes_with_pattern_characters_stay_apart)
{
    SKIP_UNLESS("redis");
    /* None is a string prefix of another, so only pattern matching
     * (KEYS, SCAN MATCH) could mix them up. */
    const char *suffix[] = {"*:", "?:", "[a-z]:", "\\:", "ab:", "[ab]:", "a\\*:", "{a}:", "b:"};
    size_t n = sizeof suffix / sizeof suffix[0];
    acp_store *s[16];
    const char *base = strchr(H.uri, '?');
    cr_assert(base);
    for (size_t i = 0; i < n; i++) {
        const char *prefix = sfmt("%s%s", H.dir, suffix[i]);
        /* Percent-encode the prefix: '[', '\\', '{' are not URI characters. */
        char *enc = keep(malloc(3 * strlen(prefix) + 1)), *o = enc;
        for (const unsigned char *c = (const unsigned char *)prefix; *c; c++)
            o += sprintf(o, "%%%02X", *c);
        s[i] = open_uri(sfmt("%.*s?prefix=%s", (int)(base - H.uri), H.uri, enc));
    }
    for (size_t i = 0; i < n; i++) {
        acp_status st = acp_run_save(s[i], run_doc("same", suffix[i], suffix[i], (int)i),
                                     ACP_STRLEN, ERR);
        cr_assert(st == ACP_OK, "%s", E.message);
        st = acp_session_save(s[i], sfmt("{\"id\":\"same\",\"state\":%s}", jstr(suffix[i])),
                              ACP_STRLEN, ERR);
        cr_assert(st == ACP_OK, "%s", E.message);
        for (size_t j = 0; j <= i; j++)
            cr_assert(acp_event_add(s[i], "same", "{\"type\":\"t\"}", ACP_STRLEN, NULL, ERR) ==
                          ACP_OK,
                      "%s", E.message);
    }
    for (size_t i = 0; i < n; i++) {
        expect_run(s[i], "same", run_doc("same", suffix[i], suffix[i], (int)i));
        expect_session(s[i], "same", sfmt("{\"id\":\"same\",\"state\":%s}", jstr(suffix[i])));
        const char **ev, **keys;
        cr_assert(events_of(s[i], "same", &ev) == i + 1, "prefix %s: events of other stores",
                  suffix[i]);
        int64_t total;
        size_t got = list_keys(s[i], NULL, NULL, 1000, &keys, &total);
        cr_assert(got == 1 && total == 1, "prefix %s lists %zu runs", suffix[i], got);
        const char **sids;
        cr_assert(session_ids(s[i], 1000, &sids) == 1, "prefix %s lists other sessions",
                  suffix[i]);
    }
    /* Deleting in the "*" store leaves every other one whole. */
    cr_assert(acp_run_delete(s[0], "same", ERR) == ACP_OK);
    cr_assert(acp_session_delete(s[0], "same", ERR) == ACP_OK);
    for (size_t i = 1; i < n; i++) {
        expect_run(s[i], "same", run_doc("same", suffix[i], suffix[i], (int)i));
        const char **ev;
        cr_assert(events_of(s[i], "same", &ev) == i + 1);
    }
    for (size_t i = 0; i < n; i++)
        acp_store_close(s[i]);
    look_outside(NULL);
}

Test(hostile, postgres_schema_text_never_reaches_sql)
{
    SKIP_UNLESS("postgres");
    outside mine = look_outside(NULL);
    save_ok(acp_run_save, "{\"run_id\":\"unused\",\"agent_name\":\"g\",\"status\":\"created\"}");
    /* The texts as they are (each always names the same schema, so a
     * repeated run finds its own run again). */
    const char *schemas[] = {"'; DROP TABLE runs; --", "x\"; DROP SCHEMA public CASCADE; --",
                             "A", "a b", "$1", "pg_catalog", "pg_toast", "acp; SELECT 1",
                             "\\", "public\"", "-- ", "\xc3\xa9"};
    size_t n = sizeof schemas / sizeof schemas[0];
    const char *base = strchr(H.uri, '?');
    cr_assert(base);
    acp_store *s[16];
    for (size_t i = 0; i < n; i++) {
        const char *text = schemas[i];
        char *enc = keep(malloc(3 * strlen(text) + 1)), *o = enc;
        for (const unsigned char *c = (const unsigned char *)text; *c; c++)
            o += sprintf(o, "%%%02X", *c);
        s[i] = open_uri(sfmt("%.*s?schema=%s", (int)(base - H.uri), H.uri, enc));
        acp_status st = acp_run_save(s[i], run_doc("same", schemas[i], NULL, (int)i),
                                     ACP_STRLEN, ERR);
        cr_assert(st == ACP_OK, "schema %s: %s", show(schemas[i]), E.message);
    }
    for (size_t i = 0; i < n; i++) {
        expect_run(s[i], "same", run_doc("same", schemas[i], NULL, (int)i));
        const char **keys;
        int64_t total;
        cr_assert(list_keys(s[i], NULL, NULL, 1000, &keys, &total) == 1,
                  "schema %s sees other stores' runs", show(schemas[i]));
        acp_store_close(s[i]);
    }
    /* The test's own store: its tables as they were, holding only the
     * "unused" run. */
    outside want = {.runs = 1, .sessions = 0, .schema = mine.schema};
    look_outside(&want);
#ifdef ACP_HOSTILE_WITH_PQ
    cr_assert_str_neq(pg_query("SELECT count(*) FROM pg_namespace WHERE nspname = 'public'",
                               NULL),
                      "0\n", "schema public is gone");
#endif
}

/* Issue 13 item 8: every backend accepts the core's max_document_bytes
 * (the plugin never sees it) and the core holds every save to it. */
Test(hostile, document_size_limit_on_every_backend)
{
    const char *uri = sfmt("%s%cmax_document_bytes=200", H.uri, strchr(H.uri, '?') ? '&' : '?');
    acp_store *s = open_uri(uri);
    cr_assert_eq(acp_store_max_document_bytes(s), 200);
    char *big = keep(malloc(512));
    int n = snprintf(big, 512,
                     "{\"run_id\":\"big\",\"agent_name\":\"a\",\"status\":\"created\",\"x\":\"%0*d\"}",
                     150, 0);
    cr_assert_gt(n, 200);
    cr_expect_eq(acp_run_save(s, big, ACP_STRLEN, ERR), ACP_INVALID, "%s", E.message);
    cr_expect(strstr(E.message, sfmt("%d bytes", n)) && strstr(E.message, "200 bytes"), "%s",
              E.message);
    cr_expect_eq(acp_event_add(s, "big", sfmt("{\"type\":\"t\",\"x\":\"%0*d\"}", 200, 0),
                               ACP_STRLEN, NULL, ERR),
                 ACP_INVALID);
    cr_expect_eq(acp_session_save(s, sfmt("{\"id\":\"big\",\"x\":\"%0*d\"}", 200, 0), ACP_STRLEN,
                                  ERR),
                 ACP_INVALID);
    acp_store_close(s);
    /* Nothing of it reached the store. */
    char *json = NULL;
    cr_expect_eq(acp_run_get(H.s, "big", &json, NULL, ERR), ACP_NOT_FOUND);
    cr_expect_eq(acp_session_get(H.s, "big", &json, NULL, ERR), ACP_NOT_FOUND);
    /* The default store holds a large document the limit lets through. */
    n = snprintf(big, 512,
                 "{\"run_id\":\"big\",\"agent_name\":\"a\",\"status\":\"created\",\"x\":\"%0*d\"}",
                 400, 0);
    cr_expect_eq(acp_run_save(H.s, big, ACP_STRLEN, ERR), ACP_OK, "%s", E.message);
}

/* Issue 13 item 5: a store this test filled is clean to verify, on every
 * backend (its own verify, or the core's walk through list and get). */
Test(hostile, verify_finds_a_clean_store_clean)
{
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(acp_run_save(H.s, run_doc(sfmt("v%d", i), "agent", i ? "sess" : NULL, i),
                                  ACP_STRLEN, ERR),
                     ACP_OK, "%s", E.message);
        cr_assert_eq(acp_event_add(H.s, sfmt("v%d", i), "{\"type\":\"t\"}", ACP_STRLEN, NULL,
                                   ERR),
                     ACP_OK, "%s", E.message);
    }
    cr_assert_eq(acp_session_save(H.s, "{\"id\":\"sess\"}", ACP_STRLEN, ERR), ACP_OK, "%s",
                 E.message);
    acp_verify_counts c;
    acp_status st = acp_store_verify(H.s, 0, NULL, NULL, &c, ERR);
    cr_expect_eq(st, ACP_OK, "%s: %s", acp_status_name(st), E.message);
    cr_expect_eq(c.runs, 3);
    cr_expect_eq(c.events, 3);
    cr_expect_eq(c.sessions, 1);
    cr_expect_eq(c.damaged, 0);
}
