/* SPDX-License-Identifier: MIT */
/*
 * copy_bench.c - acp-storage-bench-copy: acp_store_copy() between two
 * backends next to a raw bulk load of the same data into the target
 * engine, in the same run (docs/performance.md, "Copy and import").
 *
 *   acp-storage-bench-copy [--runs N] [--events K] [--pairs LIST]
 *                          [--pg URI] [--redis URI] [--json]
 *
 * LIST: comma-separated SRC->DST among sqlite, postgres, file, memory,
 * redis (default sqlite->postgres,postgres->sqlite,sqlite->file,
 * memory->redis; pairs needing a server not given are skipped).  The
 * source is filled with N runs of K events each, then for every pair:
 * the copy into a fresh target, timed in a child process that reports its
 * resident memory (at the start, and the peak) and then the raw load of the
 * same runs and events into a fresh place of the target engine, written by
 * hand the way that engine loads fastest: sqlite one transaction per 1000
 * runs with prepared statements on the backend's schema; postgres COPY
 * into the backend's schema; redis pipelined commands writing the
 * backend's keys; file appends, one document file and one event log per
 * run, each flushed (the file store's sync=always).  Nothing is asserted:
 * figures are printed (and with --json one object).
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "acp_storage.h"
#include "baseline_sqlite_sql.h"

#ifdef ACP_BENCH_HAVE_PQ
#include <libpq-fe.h>
int baseline_postgres_create(PGconn *c, const char *qschema, char *why, size_t wl);
#endif
#ifdef ACP_BENCH_HAVE_HIREDIS
#include <hiredis/hiredis.h>
#endif

static size_t g_runs = 100000, g_events = 10;
static char g_dir[512];

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what, const acp_error *err)
{
    fprintf(stderr, "acp-storage-bench-copy: %s: %s\n", what, err ? err->message : strerror(errno));
    exit(1);
}

/* ---- the data: the same for the copy's source and the raw load ---- */

#define AGENTS 10

static int64_t created_of(size_t r)
{
    return INT64_C(1700000000000000) + (int64_t)r * 1000;
}

static size_t run_doc(char *buf, size_t cap, size_t r)
{
    char at[ACP_TIME_BUFSZ];
    acp_time_format(created_of(r), at);
    return (size_t)snprintf(buf, cap,
                            "{\"run_id\":\"run-%08zu\",\"agent_name\":\"agent-%zu\","
                            "\"session_id\":\"session-%zu\",\"status\":\"completed\","
                            "\"created_at\":\"%s\",\"output\":[{\"role\":\"agent/agent-%zu\","
                            "\"parts\":[{\"content_type\":\"text/plain\",\"content\":"
                            "\"The answer to request %zu is forty-two.\"}]}]}",
                            r, r % AGENTS, r / 8, at, r % AGENTS, r);
}

static size_t event_doc(char *buf, size_t cap, size_t r, size_t k)
{
    return (size_t)snprintf(buf, cap,
                            "{\"type\":\"message.part\",\"part\":{\"content_type\":\"text/plain\","
                            "\"content\":\"token %zu of run %zu\"}}", k, r);
}

static int64_t stored_of(size_t r, size_t k)
{
    return created_of(r) + (int64_t)k + 1;
}

/* Fill an empty store with the data, in restore batches. */
static void fill(acp_store *s)
{
    enum { B = 500 };
    static char docs[B][512];
    static char evdocs[B][256];
    static char ids[B][32];
    acp_restore_run rr[B];
    acp_restore_event re[B];
    acp_status res[B];
    acp_error err;
    size_t ne = 0;
    for (size_t r0 = 0; r0 < g_runs; r0 += B) {
        size_t n = g_runs - r0 < B ? g_runs - r0 : B;
        for (size_t i = 0; i < n; i++) {
            size_t r = r0 + i;
            snprintf(ids[i], sizeof ids[i], "run-%08zu", r);
            rr[i] = (acp_restore_run){docs[i], run_doc(docs[i], sizeof docs[i], r), created_of(r)};
            for (size_t k = 0; k < g_events; k++) {
                re[ne] = (acp_restore_event){ids[i], evdocs[ne],
                                             event_doc(evdocs[ne], sizeof evdocs[ne], r, k),
                                             (int64_t)k + 1, stored_of(r, k)};
                if (++ne == B) {
                    if (acp_event_restore_many(s, re, ne, res, &err) != ACP_OK)
                        die("filling the source", &err);
                    ne = 0;
                }
            }
            /* The batch's ids must outlive its events. */
            if (ne && i == n - 1) {
                if (acp_event_restore_many(s, re, ne, res, &err) != ACP_OK)
                    die("filling the source", &err);
                ne = 0;
            }
        }
        if (acp_run_restore_many(s, rr, n, res, &err) != ACP_OK)
            die("filling the source", &err);
    }
}

/* ---- raw loads ---- */

static int raw_sqlite(const char *path)
{
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK || baseline_sqlite_create(db) != SQLITE_OK)
        return -1;
    sqlite3_exec(db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
    sqlite3_stmt *ir, *ie;
    if (sqlite3_prepare_v2(db, "INSERT INTO runs (run_id, agent_name, session_id, status,"
                           " created_us, finished_us, doc) VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6)",
                           -1, &ir, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO events (run_id, seq, type, stored_us, doc)"
                           " VALUES (?1, ?2, ?3, ?4, ?5)", -1, &ie, NULL) != SQLITE_OK)
        return -1;
    char doc[512], id[32], agent[32], session[32];
    int rc = SQLITE_OK;
    for (size_t r = 0; r < g_runs && rc == SQLITE_OK; r++) {
        if (r % 1000 == 0)
            sqlite3_exec(db, r ? "COMMIT; BEGIN" : "BEGIN", NULL, NULL, NULL);
        snprintf(id, sizeof id, "run-%08zu", r);
        snprintf(agent, sizeof agent, "agent-%zu", r % AGENTS);
        snprintf(session, sizeof session, "session-%zu", r / 8);
        for (size_t k = 0; k < g_events; k++) {
            size_t n = event_doc(doc, sizeof doc, r, k);
            sqlite3_bind_text(ie, 1, id, -1, SQLITE_STATIC);
            sqlite3_bind_int64(ie, 2, (int64_t)k + 1);
            sqlite3_bind_text(ie, 3, "message.part", -1, SQLITE_STATIC);
            sqlite3_bind_int64(ie, 4, stored_of(r, k));
            sqlite3_bind_text(ie, 5, doc, (int)n, SQLITE_STATIC);
            rc = sqlite3_step(ie) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
            sqlite3_reset(ie);
        }
        size_t n = run_doc(doc, sizeof doc, r);
        sqlite3_bind_text(ir, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(ir, 2, agent, -1, SQLITE_STATIC);
        sqlite3_bind_text(ir, 3, session, -1, SQLITE_STATIC);
        sqlite3_bind_text(ir, 4, "completed", -1, SQLITE_STATIC);
        sqlite3_bind_int64(ir, 5, created_of(r));
        sqlite3_bind_text(ir, 6, doc, (int)n, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(ir) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_reset(ir);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        fprintf(stderr, "raw sqlite: %s\n", sqlite3_errmsg(db));
    sqlite3_finalize(ir);
    sqlite3_finalize(ie);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

static int write_flush(int dfd, const char *name, const char *data, size_t len, int append)
{
    int fd = openat(dfd, name, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0644);
    if (fd < 0)
        return -1;
    int ok = write(fd, data, len) == (ssize_t)len && fdatasync(fd) == 0;
    close(fd);
    return ok ? 0 : -1;
}

static int raw_file(const char *dir)
{
    if (mkdir(dir, 0755) != 0)
        return -1;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd < 0)
        return -1;
    size_t cap = g_events * 300 + 64;
    char *log = malloc(cap), doc[512], name[64];
    int rc = log ? 0 : -1;
    for (size_t r = 0; r < g_runs && rc == 0; r++) {
        size_t len = 0;
        for (size_t k = 0; k < g_events; k++) {
            len += (size_t)snprintf(log + len, cap - len, "%" PRId64 " %" PRId64 " ",
                                    (int64_t)k + 1, stored_of(r, k));
            len += event_doc(log + len, cap - len, r, k);
            log[len++] = '\n';
        }
        snprintf(name, sizeof name, "run-%08zu.log", r);
        if (len)
            rc = write_flush(dfd, name, log, len, 1);
        snprintf(name, sizeof name, "run-%08zu.json", r);
        if (rc == 0)
            rc = write_flush(dfd, name, doc, run_doc(doc, sizeof doc, r), 0);
    }
    if (rc == 0)
        rc = fsync(dfd);
    free(log);
    close(dfd);
    return rc;
}

#ifdef ACP_BENCH_HAVE_PQ
/* COPY text: escape backslash, tab, newline, carriage return. */
static void copy_text(char **p, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
            *(*p)++ = '\\';
            c = c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : '\\';
        }
        *(*p)++ = c;
    }
}

static int copy_rows(PGconn *c, const char *sql, int runs)
{
    PGresult *res = PQexec(c, sql);
    int ok = PQresultStatus(res) == PGRES_COPY_IN;
    PQclear(res);
    char *buf = malloc(1 << 20), doc[512];
    for (size_t r = 0; ok && buf && r < g_runs; r++) {
        char *p = buf;
        if (runs) {
            size_t n = run_doc(doc, sizeof doc, r);
            p += sprintf(p, "run-%08zu\tagent-%zu\tsession-%zu\tcompleted\t%" PRId64 "\t\\N\t", r,
                         r % AGENTS, r / 8, created_of(r));
            copy_text(&p, doc, n);
            *p++ = '\n';
        } else {
            for (size_t k = 0; k < g_events; k++) {
                size_t n = event_doc(doc, sizeof doc, r, k);
                p += sprintf(p, "run-%08zu\t%zu\t%" PRId64 "\tmessage.part\t", r, k + 1,
                             stored_of(r, k));
                copy_text(&p, doc, n);
                *p++ = '\n';
            }
        }
        ok = PQputCopyData(c, buf, (int)(p - buf)) == 1;
    }
    free(buf);
    ok = PQputCopyEnd(c, ok ? NULL : "failed") == 1 && ok;
    res = PQgetResult(c);
    ok = ok && PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "raw postgres: %s\n", PQerrorMessage(c));
    PQclear(res);
    return ok ? 0 : -1;
}

static int raw_postgres(const char *uri, const char *schema)
{
    PGconn *c = PQconnectdb(uri);
    char why[512], sql[256];
    if (PQstatus(c) != CONNECTION_OK || baseline_postgres_create(c, schema, why, sizeof why)) {
        fprintf(stderr, "raw postgres: %s\n", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    snprintf(sql, sizeof sql, "SET search_path = %s", schema);
    PQclear(PQexec(c, sql));
    PQclear(PQexec(c, "BEGIN"));
    int rc = copy_rows(c, "COPY events (run_id, seq, stored_us, type, doc) FROM STDIN", 0);
    if (rc == 0)
        rc = copy_rows(c, "COPY runs (run_id, agent_name, session_id, status, created_us,"
                          " finished_us, doc) FROM STDIN", 1);
    if (rc == 0) {
        /* The sequence counters add_event continues from. */
        snprintf(sql, sizeof sql, "INSERT INTO event_seq SELECT run_id, max(seq) FROM events"
                 " GROUP BY run_id");
        PGresult *res = PQexec(c, sql);
        rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
        PQclear(res);
    }
    PGresult *res = PQexec(c, rc == 0 ? "COMMIT" : "ROLLBACK");
    PQclear(res);
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", schema);
    PQclear(PQexec(c, sql));
    PQfinish(c);
    return rc;
}
#endif

#ifdef ACP_BENCH_HAVE_HIREDIS
static redisContext *redis_at(const char *uri)
{
    char host[256] = "127.0.0.1";
    int port = 6379;
    sscanf(uri, "redis://%255[^:/]:%d", host, &port);
    return redisConnect(host, port);
}

/* The redis backend's layout: r:<id> (created + doc), e:<id> list (stored
 * time + doc), w hash, every index sorted set the backend keeps for a run
 * (all, agent, session, agent and session; each with its status twin);
 * pipelined, about 1000 commands a round trip. */
static int raw_redis(const char *uri, const char *prefix)
{
    redisContext *c = redis_at(uri);
    if (!c || c->err)
        return -1;
    char doc[600], key[128], key2[128], m[64];
    size_t pending = 0;
    int rc = 0;
    for (size_t r = 0; r < g_runs && rc == 0; r++) {
        char id[32];
        snprintf(id, sizeof id, "run-%08zu", r);
        for (size_t k = 0; k < g_events; k++) {
            int64_t t = stored_of(r, k);
            for (int i = 0; i < 8; i++)
                doc[i] = (char)((uint64_t)t >> (56 - 8 * i));
            size_t n = 8 + event_doc(doc + 8, sizeof doc - 8, r, k);
            snprintf(key, sizeof key, "%se:%s", prefix, id);
            redisAppendCommand(c, "RPUSH %s %b", key, doc, n);
            pending++;
        }
        uint64_t cr = (uint64_t)created_of(r) ^ UINT64_C(0x8000000000000000);
        for (int i = 0; i < 8; i++)
            doc[i] = m[i] = (char)(cr >> (56 - 8 * i));
        size_t n = 8 + run_doc(doc + 8, sizeof doc - 8, r);
        memcpy(m + 8, id, strlen(id));
        size_t ml = 8 + strlen(id);
        snprintf(key, sizeof key, "%sr:%s", prefix, id);
        redisAppendCommand(c, "SET %s %b", key, doc, n);
        snprintf(key, sizeof key, "%si:a", prefix);
        redisAppendCommand(c, "ZADD %s 0 %b", key, m, ml);
        snprintf(key2, sizeof key2, "%si:g:agent-%zu", prefix, r % AGENTS);
        redisAppendCommand(c, "ZADD %s 0 %b", key2, m, ml);
        /* Layout 2: the same members in the status's indexes (every run
         * here is completed). */
        snprintf(key2, sizeof key2, "%si:t:completed:a", prefix);
        redisAppendCommand(c, "ZADD %s 0 %b", key2, m, ml);
        snprintf(key2, sizeof key2, "%si:t:completed:g:agent-%zu", prefix, r % AGENTS);
        redisAppendCommand(c, "ZADD %s 0 %b", key2, m, ml);
        /* Every run has a session: its index and the agent's-and-session's
         * (redis_lua.c tails), each with its status twin. */
        char agent[32], session[32];
        snprintf(agent, sizeof agent, "agent-%zu", r % AGENTS);
        snprintf(session, sizeof session, "session-%zu", r / 8);
        const char *tails[2][2] = {{"s:", ""}, {"gs:", agent}};
        for (int t = 0; t < 2; t++)
            for (int twin = 0; twin < 2; twin++) {
                char len[24] = "";
                if (t == 1)
                    snprintf(len, sizeof len, "%zu:", strlen(agent));
                snprintf(key2, sizeof key2, "%si:%s%s%s%s%s", prefix,
                         twin ? "t:completed:" : "", tails[t][0], len, tails[t][1], session);
                redisAppendCommand(c, "ZADD %s 0 %b", key2, m, ml);
            }
        snprintf(key2, sizeof key2, "%sw", prefix);
        redisAppendCommand(c, "HSET %s %s %b", key2, id, m, (size_t)8);
        pending += 10;
        if (pending >= 1000 || r + 1 == g_runs) {
            for (; pending && rc == 0; pending--) {
                redisReply *rep;
                if (redisGetReply(c, (void **)&rep) != REDIS_OK)
                    rc = -1;
                else
                    freeReplyObject(rep);
            }
        }
    }
    redisFree(c);
    return rc;
}

/* Remove every key under prefix (SCAN, never KEYS). */
static void redis_drop(const char *uri, const char *prefix)
{
    redisContext *c = redis_at(uri);
    if (!c || c->err)
        return;
    char cursor[32] = "0", pattern[160];
    snprintf(pattern, sizeof pattern, "%s*", prefix);
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            if (r)
                freeReplyObject(r);
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++)
            freeReplyObject(redisCommand(c, "UNLINK %s", r->element[1]->element[i]->str));
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    redisFree(c);
}
#endif

/* ---- measuring ---- */

/* VmRSS or VmHWM of this process, in KiB. */
static long proc_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0)
            v = strtol(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

typedef struct result {
    double seconds;
    long rss_start_kib, rss_peak_kib;
    int ok;
} result;

/* Run fn(arg) in a child; its time and memory come back through a pipe. */
static result in_child(int (*fn)(void *), void *arg)
{
    int p[2];
    result r = {0};
    if (pipe(p) != 0)
        return r;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        result c = {0};
        c.rss_start_kib = proc_kib("VmRSS:");
        double t0 = now_s();
        c.ok = fn(arg) == 0;
        c.seconds = now_s() - t0;
        c.rss_peak_kib = proc_kib("VmHWM:");
        ssize_t w = write(p[1], &c, sizeof c);
        _exit(w == (ssize_t)sizeof c ? 0 : 1);
    }
    close(p[1]);
    if (pid > 0 && read(p[0], &r, sizeof r) != (ssize_t)sizeof r)
        r.ok = 0;
    close(p[0]);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    return r;
}

typedef struct copy_job {
    acp_store *src;
    const char *dst_uri;
} copy_job;

static int do_copy(void *arg)
{
    copy_job *j = arg;
    acp_store *dst;
    acp_error err;
    if (acp_store_open(j->dst_uri, &dst, &err) != ACP_OK) {
        fprintf(stderr, "open %s: %s\n", j->dst_uri, err.message);
        return -1;
    }
    acp_copy_report rep;
    acp_status st = acp_store_copy(j->src, dst, 0, NULL, NULL, &rep, &err);
    if (st != ACP_OK)
        fprintf(stderr, "copy: %s\n", err.message);
    acp_store_close(dst);
    return st == ACP_OK ? 0 : -1;
}

typedef struct raw_job {
    const char *engine, *where, *name;
} raw_job;

static int do_raw(void *arg)
{
    raw_job *j = arg;
    if (strcmp(j->engine, "sqlite") == 0)
        return raw_sqlite(j->where);
    if (strcmp(j->engine, "file") == 0)
        return raw_file(j->where);
#ifdef ACP_BENCH_HAVE_PQ
    if (strcmp(j->engine, "postgres") == 0)
        return raw_postgres(j->where, j->name);
#endif
#ifdef ACP_BENCH_HAVE_HIREDIS
    if (strcmp(j->engine, "redis") == 0)
        return raw_redis(j->where, j->name);
#endif
    return -1;
}

/* A fresh store URI of backend b (n: a number of its own). */
static void uri_of(const char *b, int n, const char *pg, const char *redis, char *out, size_t cap)
{
    if (strcmp(b, "memory") == 0)
        snprintf(out, cap, "memory:");
    else if (strcmp(b, "sqlite") == 0)
        snprintf(out, cap, "sqlite:%s/s%d.db", g_dir, n);
    else if (strcmp(b, "file") == 0)
        snprintf(out, cap, "file:%s/f%d", g_dir, n);
    else if (strcmp(b, "postgres") == 0)
        snprintf(out, cap, "%s?schema=benchcopy_%d_%d", pg, (int)getpid(), n);
    else
        snprintf(out, cap, "%s?prefix=benchcopy:%d:%d:", redis, (int)getpid(), n);
}

int main(int argc, char **argv)
{
    const char *pairs = "sqlite->postgres,postgres->sqlite,sqlite->file,memory->redis";
    const char *pg = getenv("ACP_PG_URI"), *redis = getenv("ACP_REDIS_URI");
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            g_runs = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--events") && i + 1 < argc)
            g_events = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--pairs") && i + 1 < argc)
            pairs = argv[++i];
        else if (!strcmp(argv[i], "--pg") && i + 1 < argc)
            pg = argv[++i];
        else if (!strcmp(argv[i], "--redis") && i + 1 < argc)
            redis = argv[++i];
        else if (!strcmp(argv[i], "--json"))
            json = 1;
        else {
            fprintf(stderr, "usage: acp-storage-bench-copy [--runs N] [--events K] "
                            "[--pairs SRC->DST,...] [--pg URI] [--redis URI] [--json]\n");
            return 2;
        }
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/acp-bench-copy-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(g_dir))
        die("mkdtemp", NULL);
    if (json)
        printf("{\"runs\":%zu,\"events_per_run\":%zu,\"pairs\":[", g_runs, g_events);
    else
        printf("copy of %zu runs with %zu events (%zu events)\n%-18s %9s %9s %7s %12s %12s\n",
               g_runs, g_events * g_runs, g_runs * g_events, "pair", "copy s", "raw s", "ratio",
               "rss start", "rss peak");
    char *list = strdup(pairs);
    int n = 0, first = 1;
    for (char *save, *pair = strtok_r(list, ",", &save); pair; pair = strtok_r(NULL, ",", &save)) {
        char *arrow = strstr(pair, "->");
        if (!arrow)
            continue;
        *arrow = '\0';
        const char *sb = pair, *db = arrow + 2;
        if (((!strcmp(sb, "postgres") || !strcmp(db, "postgres")) && !pg) ||
            ((!strcmp(sb, "redis") || !strcmp(db, "redis")) && !redis)) {
            fprintf(stderr, "skipped %s->%s: no server given (--pg, --redis)\n", sb, db);
            continue;
        }
        char su[1024], du[1024], raw_where[1024], raw_name[128];
        uri_of(sb, ++n, pg, redis, su, sizeof su);
        uri_of(db, ++n, pg, redis, du, sizeof du);
        acp_store *src;
        acp_error err;
        if (acp_store_open(su, &src, &err) != ACP_OK)
            die(su, &err);
        double t0 = now_s();
        fill(src);
        double fill_s = now_s() - t0;
        copy_job cj = {src, du};
        result c = in_child(do_copy, &cj);
        snprintf(raw_name, sizeof raw_name, !strcmp(db, "redis") ? "benchraw:%d:%d:"
                                                                  : "benchraw_%d_%d",
                 (int)getpid(), ++n);
        if (!strcmp(db, "sqlite"))
            snprintf(raw_where, sizeof raw_where, "%s/raw%d.db", g_dir, n);
        else if (!strcmp(db, "file"))
            snprintf(raw_where, sizeof raw_where, "%s/raw%d", g_dir, n);
        else
            snprintf(raw_where, sizeof raw_where, "%s", !strcmp(db, "postgres") ? pg : redis);
        raw_job rj = {db, raw_where, raw_name};
        result r = in_child(do_raw, &rj);
        acp_store_close(src);
#ifdef ACP_BENCH_HAVE_HIREDIS
        if (!strcmp(db, "redis")) {
            redis_drop(redis, raw_name);
            snprintf(raw_name, sizeof raw_name, "benchcopy:%d:%d:", (int)getpid(), n - 1);
            redis_drop(redis, raw_name);
        }
        if (!strcmp(sb, "redis")) {
            snprintf(raw_name, sizeof raw_name, "benchcopy:%d:%d:", (int)getpid(), n - 2);
            redis_drop(redis, raw_name);
        }
#endif
        double ratio = c.ok && r.ok && c.seconds > 0 ? r.seconds / c.seconds : 0;
        if (json)
            printf("%s{\"pair\":\"%s->%s\",\"fill_s\":%.3f,\"copy_s\":%.3f,\"copy_ok\":%s,"
                   "\"raw_s\":%.3f,\"raw_ok\":%s,\"ratio\":%.3f,\"copy_rss_start_kib\":%ld,"
                   "\"copy_rss_peak_kib\":%ld,\"raw_rss_peak_kib\":%ld}",
                   first ? "" : ",", sb, db, fill_s, c.seconds, c.ok ? "true" : "false",
                   r.seconds, r.ok ? "true" : "false", ratio, c.rss_start_kib, c.rss_peak_kib,
                   r.rss_peak_kib);
        else
            printf("%-18s %9.2f %9.2f %7.2f %9ld KiB %9ld KiB%s\n",
                   (snprintf(su, sizeof su, "%s->%s", sb, db), su), c.seconds, r.seconds, ratio,
                   c.rss_start_kib, c.rss_peak_kib, c.ok && r.ok ? "" : "  (FAILED)");
        fflush(stdout);
        first = 0;
    }
    if (json)
        printf("]}\n");
    free(list);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : 1;
}
