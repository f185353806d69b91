/* SPDX-License-Identifier: MIT */
/*
 * test_postgres.c - what only the postgres backend promises: its options
 * and libpq's, schemas and their versions, query plans that never scan or
 * sort every run, sequences under many processes, the pool, timeouts,
 * reconnection after a server restart, bounded pings against a dead or
 * hung server, and passwords that never show.  The general contract is
 * checked by the conformance suite (conformance_postgres).
 *
 * The server: ACP_PG_STATE names the state directory of pg-server.sh (the
 * CTest fixture postgres_server starts it).  Tests that stop or restart a
 * server start one of their own with ACP_PG_SCRIPT, so that the shared one
 * stays up for the other tests.  Every test works in schemas of its own.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "acp_storage.h"
#include "acp_storage_plugin.h" /* ACP_CAP_* */
#include "pg_sql.h"

/* ------------------------------------------------------------------ */
/* The server and raw libpq access                                      */
/* ------------------------------------------------------------------ */

typedef struct server {
    char state[512];
    char uri[256];      /* postgres://postgres@127.0.0.1:PORT/acp */
    char port[16];
    char pw_user[64];
    char password[128];
    char bin[256];
} server;

static server g_srv;

static void clear_pg_env(void)
{
    extern char **environ;
    for (int again = 1; again;) {
        again = 0;
        for (char **e = environ; *e; e++) {
            if (strncmp(*e, "PG", 2) == 0) {
                char name[128];
                size_t n = strcspn(*e, "=");
                snprintf(name, sizeof name, "%.*s", (int)n, *e);
                unsetenv(name);
                again = 1;
                break;
            }
        }
    }
}

static void read_state(server *s, const char *state)
{
    snprintf(s->state, sizeof s->state, "%s", state);
    char path[600];
    snprintf(path, sizeof path, "%s/env", state);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot read %s: %s (is the postgres_server fixture running?)", path,
                       strerror(errno));
    char line[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        const char *v = eq + 1;
        if (!strcmp(line, "ACP_PG_URI"))
            snprintf(s->uri, sizeof s->uri, "%s", v);
        else if (!strcmp(line, "ACP_PG_PORT"))
            snprintf(s->port, sizeof s->port, "%s", v);
        else if (!strcmp(line, "ACP_PG_PW_USER"))
            snprintf(s->pw_user, sizeof s->pw_user, "%s", v);
        else if (!strcmp(line, "ACP_PG_PASSWORD"))
            snprintf(s->password, sizeof s->password, "%s", v);
        else if (!strcmp(line, "ACP_PG_BIN"))
            snprintf(s->bin, sizeof s->bin, "%s", v);
    }
    fclose(f);
    cr_assert(s->uri[0] && s->port[0] && s->password[0], "incomplete server state in %s", path);
}

static void setup(void)
{
    clear_pg_env();
    const char *state = getenv("ACP_PG_STATE");
    cr_assert(state && state[0], "set ACP_PG_STATE to the state directory of pg-server.sh");
    read_state(&g_srv, state);
}

static int script(const char *cmd, const char *state);

/* The state directory of a test's own server (see private_start), stopped
 * after the test even when an assertion ended it early. */
static char g_private[64];

static void teardown(void)
{
    if (g_private[0]) {
        script("stop", g_private);
        rmdir(g_private);
        g_private[0] = '\0';
    }
}

TestSuite(postgres, .init = setup, .fini = teardown, .timeout = 300);

/* Run pg-server.sh CMD STATE; returns its exit status. */
static int script(const char *cmd, const char *state)
{
    const char *sh = getenv("ACP_PG_SCRIPT");
    cr_assert(sh && sh[0], "set ACP_PG_SCRIPT to pg-server.sh");
    char line[1200];
    snprintf(line, sizeof line, "'%s' %s '%s' >/dev/null", sh, cmd, state);
    int st = system(line);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A private server for tests that stop or restart it. */
static void private_start(server *s)
{
    char dir[] = "/tmp/acp-pgtest-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    snprintf(g_private, sizeof g_private, "%s", dir);
    cr_assert_eq(script("start", dir), 0, "pg-server.sh start failed");
    read_state(s, dir);
}

static void private_stop(server *s)
{
    (void)s;
    teardown();
}

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static PGconn *admin(const server *s)
{
    char ci[256];
    snprintf(ci, sizeof ci, "host=127.0.0.1 port=%s user=postgres dbname=acp", s->port);
    PGconn *c = PQconnectdb(ci);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "admin connection: %s", PQerrorMessage(c));
    PQsetNoticeProcessor(c, quiet, NULL);
    return c;
}

static void sql(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sql(PGconn *c, const char *fmt, ...)
{
    char q[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof q, fmt, ap);
    va_end(ap);
    PGresult *r = PQexec(c, q);
    ExecStatusType st = PQresultStatus(r);
    cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", q,
              PQresultErrorMessage(r));
    PQclear(r);
}

/* The first value of the first row, as text (static buffer). */
static const char *sql_value(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *sql_value(PGconn *c, const char *fmt, ...)
{
    static char out[8192];
    char q[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof q, fmt, ap);
    va_end(ap);
    PGresult *r = PQexec(c, q);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", q, PQresultErrorMessage(r));
    snprintf(out, sizeof out, "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return out;
}

/* ------------------------------------------------------------------ */
/* Stores                                                               */
/* ------------------------------------------------------------------ */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* "tpg_<tag>_<pid>": a plain schema name, so it is used as written. */
static const char *schema_for(const char *tag)
{
    static char name[64];
    snprintf(name, sizeof name, "tpg_%s_%d", tag, (int)getpid());
    return name;
}

static char *uri_with(const server *s, const char *extra)
{
    char *u = malloc(strlen(s->uri) + strlen(extra) + 2);
    sprintf(u, "%s?%s", s->uri, extra);
    return u;
}

static acp_store *open_store(const char *uri)
{
    acp_store *st = NULL;
    acp_error e = {0};
    acp_status rc = acp_store_open(uri, &st, &e);
    cr_assert_eq(rc, ACP_OK, "open %s: %s", uri, e.message);
    return st;
}

static acp_store *open_schema(const server *s, const char *schema, const char *more)
{
    char extra[512];
    snprintf(extra, sizeof extra, "schema=%s%s%s", schema, more && more[0] ? "&" : "",
             more ? more : "");
    char *u = uri_with(s, extra);
    acp_store *st = open_store(u);
    free(u);
    return st;
}

static acp_store *open_with_timeout(const char *uri, int64_t ms)
{
    acp_config *cfg;
    acp_error e = {0};
    cr_assert_eq(acp_config_new(&cfg, &e), ACP_OK);
    cr_assert_eq(acp_config_parse_uri(cfg, uri, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_config_set_timeout_ms(cfg, ms, &e), ACP_OK);
    acp_store *st = NULL;
    acp_status rc = acp_store_open_config(cfg, &st, &e);
    acp_config_free(cfg);
    cr_assert_eq(rc, ACP_OK, "open %s: %s", uri, e.message);
    return st;
}

static acp_status try_open(const char *uri, acp_error *e)
{
    acp_store *st = NULL;
    acp_status rc = acp_store_open(uri, &st, e);
    acp_store_close(st);
    return rc;
}

static void save_run(acp_store *st, const char *id, const char *agent, const char *session)
{
    char doc[512];
    snprintf(doc, sizeof doc,
             "{\"run_id\":\"%s\",\"agent_name\":\"%s\",%s%s%s\"status\":\"created\","
             "\"created_at\":\"2025-06-01T12:00:00Z\",\"output\":[]}",
             id, agent, session ? "\"session_id\":\"" : "", session ? session : "",
             session ? "\"," : "");
    acp_error e = {0};
    cr_assert_eq(acp_run_save(st, doc, ACP_STRLEN, &e), ACP_OK, "save %s: %s", id, e.message);
}

static int64_t add_event(acp_store *st, const char *run_id)
{
    int64_t seq = 0;
    acp_error e = {0};
    cr_assert_eq(acp_event_add(st, run_id, "{\"type\":\"generic\"}", ACP_STRLEN, &seq, &e),
                 ACP_OK, "add_event %s: %s", run_id, e.message);
    return seq;
}

/* The total list_runs reports for filter f (with its page, if any). */
static int64_t total_of_filter(acp_store *st, acp_run_filter *f)
{
    f->want_total = 1;
    acp_page *p;
    acp_error e = {0};
    cr_assert_eq(acp_run_list(st, f, &p, &e), ACP_OK, "%s", e.message);
    int64_t n = acp_page_total(p);
    acp_page_free(p);
    return n;
}

/* The total of list_runs for a filter (NULL: none). */
static int64_t total_of(acp_store *st, const char *agent, const char *session)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.agent_name = agent;
    f.session_id = session;
    f.limit = 0;
    return total_of_filter(st, &f);
}

static uint64_t fnv1a64(const char *s)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

/* ------------------------------------------------------------------ */
/* URIs and options                                                     */
/* ------------------------------------------------------------------ */

Test(postgres, opens_under_both_schemes_with_network_capabilities)
{
    const char *schema = schema_for("schemes");
    acp_store *a = open_schema(&g_srv, schema, NULL);
    char u[512];
    snprintf(u, sizeof u, "postgresql%s?schema=%s", strchr(g_srv.uri, ':'), schema);
    acp_store *b = open_store(u);
    cr_assert_str_eq(acp_store_backend(a), "postgres");
    cr_assert_str_eq(acp_store_backend(b), "postgres");
    cr_assert_eq(acp_store_capabilities(a), ACP_CAP_CONCURRENT | ACP_CAP_DURABLE |
                                                ACP_CAP_MULTIPROCESS | ACP_CAP_NETWORK |
                                                ACP_CAP_FOLLOW | ACP_CAP_VERSIONS | ACP_CAP_RUN_FILTERS);
    save_run(a, "r1", "agent", NULL);
    char *json;
    acp_error e = {0};
    cr_assert_eq(acp_run_get(b, "r1", &json, NULL, &e), ACP_OK, "%s", e.message);
    acp_free(json);
    acp_store_close(a);
    acp_store_close(b);
}

Test(postgres, schema_option_maps_any_text_to_a_schema_of_its_own)
{
    PGconn *c = admin(&g_srv);
    /* A plain lower-case identifier is used as written. */
    const char *plain = schema_for("plain");
    acp_store *a = open_schema(&g_srv, plain, NULL);
    cr_assert_str_eq(sql_value(c, "SELECT count(*) FROM pg_namespace WHERE nspname = '%s'", plain),
                     "1");
    /* Anything else (a path, quotes, upper case) becomes acp_<hash>. */
    char value[128], enc[256], want[64];
    snprintf(value, sizeof value, "/tmp/x y\";drop-%d", (int)getpid());
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        o += (size_t)sprintf(enc + o, "%%%02X", *p);
    snprintf(want, sizeof want, "acp_%016" PRIx64, fnv1a64(value));
    char extra[300];
    snprintf(extra, sizeof extra, "schema=%s", enc);
    char *u = uri_with(&g_srv, extra);
    acp_store *b = open_store(u);
    free(u);
    cr_assert_str_eq(sql_value(c, "SELECT count(*) FROM pg_namespace WHERE nspname = '%s'", want),
                     "1", "schema %s for '%s' was not created", want, value);
    snprintf(value, sizeof value, "Upper_%d", (int)getpid());
    snprintf(want, sizeof want, "acp_%016" PRIx64, fnv1a64(value));
    acp_store *d = open_schema(&g_srv, value, NULL);
    cr_assert_str_eq(sql_value(c, "SELECT count(*) FROM pg_namespace WHERE nspname = '%s'", want),
                     "1");
    /* Separate schemas are separate stores. */
    save_run(a, "only-in-a", "agent", NULL);
    char *json;
    acp_error e = {0};
    cr_assert_eq(acp_run_get(b, "only-in-a", &json, NULL, &e), ACP_NOT_FOUND);
    cr_assert_eq(acp_run_get(d, "only-in-a", &json, NULL, &e), ACP_NOT_FOUND);
    /* Without the option the schema is "acp". */
    acp_store *dflt = open_store(g_srv.uri);
    cr_assert_str_eq(sql_value(c, "SELECT count(*) FROM pg_namespace WHERE nspname = 'acp'"), "1");
    acp_store_close(dflt);
    acp_store_close(a);
    acp_store_close(b);
    acp_store_close(d);
    PQfinish(c);
}

static void expect_invalid(const char *extra, const char *needle)
{
    char *u = uri_with(&g_srv, extra);
    acp_error e = {0};
    acp_status rc = try_open(u, &e);
    cr_expect_eq(rc, ACP_INVALID, "%s gave %s: %s", u, acp_status_name(rc), e.message);
    cr_expect_not_null(strstr(e.message, needle), "message for %s does not name '%s': %s", u,
                       needle, e.message);
    free(u);
}

Test(postgres, own_options_and_unknown_keys_are_checked)
{
    expect_invalid("pool_size=0", "pool_size");
    expect_invalid("pool_size=1001", "pool_size");
    expect_invalid("pool_size=eight", "pool_size");
    expect_invalid("statement_timeout=-5", "statement_timeout");
    expect_invalid("statement_timeout=1s", "statement_timeout");
    expect_invalid("connect_timeout=soon", "connect_timeout");
    expect_invalid("schema=", "schema");
    expect_invalid("poolsize=4", "poolsize");
    expect_invalid("sslmode=disable&no_such_libpq_key=1", "no_such_libpq_key");
    acp_error e = {0};
    char u[512];
    snprintf(u, sizeof u, "postgres+fast%s", strchr(g_srv.uri, ':'));
    cr_expect_eq(try_open(u, &e), ACP_INVALID, "%s: %s", u, e.message);
    cr_expect_eq(try_open("postgres:acp", &e), ACP_INVALID, "postgres:acp: %s", e.message);
    snprintf(u, sizeof u, "%s/extra?port=notaport", g_srv.uri);
    cr_expect_neq(try_open(u, &e), ACP_OK);
}

Test(postgres, libpq_parameters_reach_libpq)
{
    const char *schema = schema_for("libpq");
    PGconn *c = admin(&g_srv);
    /* application_name, sslmode, connect_timeout, target_session_attrs */
    char app[64], more[256];
    snprintf(app, sizeof app, "tpg_app_%d", (int)getpid());
    snprintf(more, sizeof more, "application_name=%s&sslmode=disable&connect_timeout=5&"
                                "target_session_attrs=read-write", app);
    acp_store *a = open_schema(&g_srv, schema, more);
    cr_assert_neq(atoi(sql_value(c, "SELECT count(*) FROM pg_stat_activity WHERE "
                                    "application_name = '%s'", app)), 0,
                  "application_name did not reach the server");
    acp_store_close(a);
    /* sslmode=require against a server without SSL fails: libpq saw it. */
    char extra[256];
    snprintf(extra, sizeof extra, "schema=%s&sslmode=require", schema);
    char *u = uri_with(&g_srv, extra);
    acp_error e = {0};
    cr_expect_eq(try_open(u, &e), ACP_UNAVAILABLE, "%s", e.message);
    free(u);
    /* A host list: the first host refuses, the second answers. */
    char uri[512];
    snprintf(uri, sizeof uri, "postgresql://postgres@127.0.0.1:1,127.0.0.1:%s/acp?schema=%s",
             g_srv.port, schema);
    acp_store_close(open_store(uri));
    /* Everything from PG* variables. */
    setenv("PGHOST", "127.0.0.1", 1);
    setenv("PGPORT", g_srv.port, 1);
    setenv("PGUSER", "postgres", 1);
    setenv("PGDATABASE", "acp", 1);
    snprintf(uri, sizeof uri, "postgres:?schema=%s", schema);
    acp_store_close(open_store(uri));
    snprintf(uri, sizeof uri, "postgresql://?schema=%s", schema);
    acp_store_close(open_store(uri));
    clear_pg_env();
    /* A service from a service file. */
    char svc[] = "/tmp/acp-pgservice-XXXXXX";
    int fd = mkstemp(svc);
    cr_assert_geq(fd, 0);
    dprintf(fd, "[acptest]\nhost=127.0.0.1\nport=%s\nuser=postgres\ndbname=acp\n", g_srv.port);
    close(fd);
    setenv("PGSERVICEFILE", svc, 1);
    snprintf(uri, sizeof uri, "postgres:?service=acptest&schema=%s", schema);
    acp_store_close(open_store(uri));
    clear_pg_env();
    unlink(svc);
    PQfinish(c);
}

/* ------------------------------------------------------------------ */
/* Passwords                                                            */
/* ------------------------------------------------------------------ */

static void expect_hidden(const char *text, const char *secret, const char *what)
{
    cr_expect_null(strstr(text, secret), "%s shows the password '%s': %s", what, secret, text);
}

Test(postgres, passwords_never_appear_in_messages_or_logs)
{
    /* Debug logging on, into a file we read afterwards. */
    char logpath[] = "/tmp/acp-pglog-XXXXXX";
    int logfd = mkstemp(logpath);
    cr_assert_geq(logfd, 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(logfd, 2);
    setenv("ACP_STORAGE_DEBUG", "3", 1);

    const char *schema = schema_for("pw");
    char uri[512], wrong[64], odd[64];
    acp_error e = {0};
    /* The right password works... */
    snprintf(uri, sizeof uri, "postgres://%s:%s@127.0.0.1:%s/acp?schema=%s", g_srv.pw_user,
             g_srv.password, g_srv.port, schema);
    acp_store *st = open_store(uri);
    acp_config *cfg;
    cr_assert_eq(acp_config_new(&cfg, &e), ACP_OK);
    cr_assert_eq(acp_config_parse_uri(cfg, uri, &e), ACP_OK);
    char *red = acp_config_redacted_uri(cfg);
    expect_hidden(red, g_srv.password, "the redacted URI");
    acp_free(red);
    acp_config_free(cfg);
    /* ...and failures on the open store do not show it. */
    PGconn *c = admin(&g_srv);
    sql(c, "DROP TABLE %s.runs", schema);
    char *json;
    cr_expect_eq(acp_run_get(st, "x", &json, NULL, &e), ACP_CORRUPT, "%s", e.message);
    expect_hidden(e.message, g_srv.password, "a failed get_run");
    acp_store_close(st);
    sql(c, "DROP SCHEMA %s CASCADE", schema);
    PQfinish(c);

    /* A wrong password, in the URI's user info. */
    snprintf(wrong, sizeof wrong, "wrong-%d-%ld", (int)getpid(), (long)time(NULL));
    snprintf(uri, sizeof uri, "postgres://%s:%s@127.0.0.1:%s/acp?schema=%s", g_srv.pw_user,
             wrong, g_srv.port, schema);
    cr_expect_eq(try_open(uri, &e), ACP_UNAVAILABLE, "%s", e.message);
    cr_expect_not_null(strstr(e.message, "password authentication failed"), "%s", e.message);
    expect_hidden(e.message, wrong, "a failed open");
    /* Percent-encoded in the user info: neither form shows. */
    snprintf(odd, sizeof odd, "p@ss:w/rd-%d", (int)getpid());
    snprintf(uri, sizeof uri, "postgres://%s:p%%40ss%%3Aw%%2Frd-%d@127.0.0.1:%s/acp?schema=%s",
             g_srv.pw_user, (int)getpid(), g_srv.port, schema);
    cr_expect_eq(try_open(uri, &e), ACP_UNAVAILABLE, "%s", e.message);
    expect_hidden(e.message, odd, "a failed open");
    char raw[64];
    snprintf(raw, sizeof raw, "p%%40ss%%3Aw%%2Frd-%d", (int)getpid());
    expect_hidden(e.message, raw, "a failed open");
    /* As an option, and in a URI libpq cannot read. */
    snprintf(uri, sizeof uri, "postgres://127.0.0.1:%s/acp?user=%s&password=%s&schema=%s",
             g_srv.port, g_srv.pw_user, wrong, schema);
    cr_expect_eq(try_open(uri, &e), ACP_UNAVAILABLE, "%s", e.message);
    expect_hidden(e.message, wrong, "a failed open (password option)");
    snprintf(uri, sizeof uri, "postgres://%s:%s@127.0.0.1:%s%%zz/acp?schema=%s", g_srv.pw_user,
             wrong, g_srv.port, schema);
    cr_expect_neq(try_open(uri, &e), ACP_OK);
    expect_hidden(e.message, wrong, "a URI libpq refuses");
    snprintf(uri, sizeof uri, "postgres://%s:%s@127.0.0.1:%s/acp?schema=%s&bogus=1",
             g_srv.pw_user, wrong, g_srv.port, schema);
    cr_expect_eq(try_open(uri, &e), ACP_INVALID);
    expect_hidden(e.message, wrong, "an unknown option");

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    unsetenv("ACP_STORAGE_DEBUG");
    char log[65536];
    ssize_t n = pread(logfd, log, sizeof log - 1, 0);
    close(logfd);
    unlink(logpath);
    log[n > 0 ? n : 0] = '\0';
    expect_hidden(log, g_srv.password, "the debug log");
    expect_hidden(log, wrong, "the debug log");
    expect_hidden(log, odd, "the debug log");
}

/* ------------------------------------------------------------------ */
/* Schema                                                               */
/* ------------------------------------------------------------------ */

Test(postgres, schema_version_is_recorded_and_a_newer_one_is_refused)
{
    const char *schema = schema_for("version");
    PGconn *c = admin(&g_srv);
    acp_store_close(open_schema(&g_srv, schema, NULL));
    cr_assert_eq(atoi(sql_value(c, "SELECT value FROM %s.meta WHERE name = 'schema_version'",
                                schema)),
                 PG_SCHEMA_VERSION);
    char extra[128];
    snprintf(extra, sizeof extra, "schema=%s", schema);
    char *u = uri_with(&g_srv, extra);
    acp_error e = {0};
    sql(c, "UPDATE %s.meta SET value = 99 WHERE name = 'schema_version'", schema);
    cr_expect_eq(try_open(u, &e), ACP_UNSUPPORTED, "%s", e.message);
    cr_expect_not_null(strstr(e.message, "99"), "%s", e.message);
    sql(c, "DELETE FROM %s.meta", schema);
    cr_expect_eq(try_open(u, &e), ACP_CORRUPT, "%s", e.message);
    sql(c, "INSERT INTO %s.meta VALUES ('schema_version', %d)", schema, PG_SCHEMA_VERSION);
    cr_expect_eq(try_open(u, &e), ACP_OK, "%s", e.message);
    /* Tables dropped under an open store: CORRUPT, naming the schema. */
    acp_store *st = open_store(u);
    sql(c, "DROP TABLE %s.sessions", schema);
    char *json;
    cr_expect_eq(acp_session_get(st, "s", &json, NULL, &e), ACP_CORRUPT, "%s", e.message);
    cr_expect_not_null(strstr(e.message, schema), "%s", e.message);
    acp_store_close(st);
    /* Tables of something else in the schema: refused, nothing changed. */
    const char *other = schema_for("foreign");
    sql(c, "CREATE SCHEMA %s", other);
    sql(c, "CREATE TABLE %s.runs (x int)", other);
    snprintf(extra, sizeof extra, "schema=%s", other);
    free(u);
    u = uri_with(&g_srv, extra);
    cr_expect_neq(try_open(u, &e), ACP_OK);
    cr_expect_str_eq(sql_value(c, "SELECT to_regclass('%s.meta') IS NULL", other), "t");
    free(u);
    PQfinish(c);
}

Test(postgres, processes_opening_a_new_store_at_once_create_it_once)
{
    const char *schema = schema_for("race");
    enum { N = 8 };
    int gate[2];
    cr_assert_eq(pipe(gate), 0);
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        cr_assert_geq(pids[i], 0);
        if (pids[i] == 0) {
            close(gate[1]);
            char b;
            if (read(gate[0], &b, 1) < 0)
                _exit(3);
            char extra[128], id[32];
            snprintf(extra, sizeof extra, "schema=%s&pool_size=1", schema);
            char *u = uri_with(&g_srv, extra);
            acp_store *st = NULL;
            acp_error e;
            if (acp_store_open(u, &st, &e) != ACP_OK) {
                fprintf(stderr, "child %d: %s\n", i, e.message);
                _exit(1);
            }
            snprintf(id, sizeof id, "run-%d", i);
            char doc[128];
            snprintf(doc, sizeof doc, "{\"run_id\":\"%s\",\"agent_name\":\"a\",\"status\":\"created\"}",
                     id);
            int ok = acp_run_save(st, doc, ACP_STRLEN, &e) == ACP_OK;
            acp_store_close(st);
            _exit(ok ? 0 : 2);
        }
    }
    close(gate[0]);
    close(gate[1]); /* all children start at once */
    for (int i = 0; i < N; i++) {
        int status;
        cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d failed (%d)", i,
                  status);
    }
    acp_store *st = open_schema(&g_srv, schema, NULL);
    cr_expect_eq(total_of(st, NULL, NULL), N);
    acp_store_close(st);
}

/* ------------------------------------------------------------------ */
/* Query plans                                                          */
/* ------------------------------------------------------------------ */

static char *explain(PGconn *c, const char *stmt, const char *args)
{
    char q[512];
    snprintf(q, sizeof q, "EXPLAIN EXECUTE %s%s%s%s", stmt, args[0] ? "(" : "", args,
             args[0] ? ")" : "");
    PGresult *r = PQexec(c, q);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", q, PQresultErrorMessage(r));
    size_t cap = 4096, len = 0;
    char *plan = malloc(cap);
    plan[0] = '\0';
    for (int i = 0; i < PQntuples(r); i++) {
        const char *line = PQgetvalue(r, i, 0);
        size_t n = strlen(line);
        if (len + n + 2 > cap)
            plan = realloc(plan, cap = 2 * (len + n + 2));
        memcpy(plan + len, line, n);
        len += n;
        plan[len++] = '\n';
        plan[len] = '\0';
    }
    PQclear(r);
    return plan;
}

/* Check the plan of statement stmt with arguments args (SQL literals) as
 * the plugin's sessions would run it. */
/* counters_only: run_time_counts must be read by index conditions only
 * (no row read and thrown away). */
static void check_plan_text(PGconn *c, const char *schemaq, const char *stmt_sql,
                            const char *args, int generic, int counters_only)
{
    static int n;
    char *text = pg_sql_expand(stmt_sql, schemaq);
    char name[32];
    snprintf(name, sizeof name, "p%d", n++);
    sql(c, "SET plan_cache_mode = %s", generic ? "force_generic_plan" : "force_custom_plan");
    sql(c, "PREPARE %s AS %s", name, text);
    char *plan = explain(c, name, args);
    const char *mode = generic ? "generic" : "custom";
    cr_expect_null(strstr(plan, "Seq Scan"), "statement %.60s (%s, %s) scans every run:\n%s", stmt_sql,
                   args, mode, plan);
    cr_expect_null(strstr(plan, "Sort"), "statement %.60s (%s, %s) sorts:\n%s", stmt_sql, args, mode,
                   plan);
    cr_expect_not_null(strstr(plan, "Index"), "statement %.60s (%s, %s) uses no index:\n%s", stmt_sql,
                       args, mode, plan);
    /* the subplans reading counter rows: every condition in the index */
    for (const char *f = strstr(plan, "InitPlan"); counters_only && f;
         f = strstr(f + 1, "InitPlan")) {
        const char *next = strstr(f + 1, "InitPlan");
        const char *table = strstr(f, "on run_time_counts");
        const char *filter = strstr(f, "Filter:");
        cr_expect(!(table && (!next || table < next) && filter && (!next || filter < next)),
                  "statement %.60s (%s, %s) reads counter rows it throws away:\n%s", stmt_sql,
                  args, mode, plan);
    }
    free(plan);
    free(text);
}

static void check_plan(PGconn *c, const char *schemaq, int stmt, const char *args, int generic)
{
    check_plan_text(c, schemaq, pg_sql[stmt], args, generic, 0);
}

Test(postgres, list_queries_use_an_index_and_never_sort_or_scan_every_run)
{
    const char *schema = schema_for("plans");
    acp_store *st = open_schema(&g_srv, schema, NULL);
    PGconn *c = admin(&g_srv);
    /* 20,000 runs: agent "big" has 14,900, "small" 5,000, "tiny" 200 (all
     * old ones), sessions on every third run, "sess-big" on 4,000. */
    sql(c, "INSERT INTO %s.runs SELECT 'run-' || lpad(i::text, 6, '0'),"
           " CASE WHEN i %% 4 = 0 THEN 'small' WHEN i %% 100 = 1 AND i < 10000 THEN 'tiny'"
           " ELSE 'big' END,"
           " CASE WHEN i %% 5 = 1 THEN 'sess-big' WHEN i %% 3 = 0 THEN 'sess-' || (i %% 10) END,"
           " 'completed', 1748779200000000 + (i / 2) * 1000, NULL,"
           " '{\"run_id\":\"run-' || i || '\",\"output\":[],\"pad\":\"' || repeat('x', 200) || '\"}'"
           " FROM generate_series(1, 20000) i", schema);
    sql(c, "VACUUM ANALYZE %s.runs", schema);
    sql(c, "%s", PG_SQL_SESSION);
    char schemaq[80];
    snprintf(schemaq, sizeof schemaq, "\"%s\"", schema);
    /* Lists are planned with their values at every call: first
     * and last pages, offsets and cursors, large, small and rare matches. */
    struct {
        int stmt;
        const char *args;
    } lists[] = {
        {PG_LIST_RUNS, "0, 10"},
        {PG_LIST_RUNS, "19990, 10"},
        {PG_LIST_RUNS_A, "'big', 0, 10"},
        {PG_LIST_RUNS_A, "'big', 14890, 10"},
        {PG_LIST_RUNS_A, "'small', 4990, 10"},
        {PG_LIST_RUNS_A, "'tiny', 0, 10"},
        {PG_LIST_RUNS_A, "'tiny', 190, 1000"},
        {PG_LIST_RUNS_S, "'sess-3', 0, 10"},
        {PG_LIST_RUNS_S, "'sess-3', 520, 10"},
        {PG_LIST_RUNS_S, "'sess-big', 3990, 10"},
        {PG_LIST_RUNS_AS, "'big', 'sess-big', 0, 10"},
        {PG_LIST_RUNS_AS, "'big', 'sess-big', 2900, 10"},
        {PG_LIST_RUNS_C, "1748779200010000, 'run-000020', 0, 10"},
        {PG_LIST_RUNS_C, "1748779209000000, 'run-018000', 0, 1000"},
        {PG_LIST_RUNS_AC, "'big', 1748779200010000, 'run-000020', 0, 10"},
        {PG_LIST_RUNS_AC, "'tiny', 1748779204000000, 'run-008001', 0, 10"},
        {PG_LIST_RUNS_SC, "'sess-3', 1748779200100000, 'run-000200', 0, 10"},
        {PG_LIST_RUNS_SC, "'sess-big', 1748779209000000, 'run-018001', 100, 10"},
        {PG_LIST_RUNS_ASC, "'big', 'sess-big', 1748779200100000, 'run-000201', 0, 10"},
    };
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        check_plan(c, schemaq, lists[i].stmt, lists[i].args, 0);
    /* Prepared statements run with generic plans after a few calls. */
    struct {
        int stmt;
        const char *args;
    } prepared[] = {
        {PG_GET_RUN, "'run-000001'"},
        {PG_GET_EVENTS, "'run-000001', 0, 0, 100"},
        {PG_LIST_SESSIONS, "100"},
        {PG_LIST_SESSIONS_AFTER, "'s', 100"},
        {PG_GET_SESSION, "'s'"},
        /* totals: a sum over the slots of one counter key */
        {PG_COUNT_RUNS, ""},
        {PG_COUNT_RUNS_A, "'big'"},
        {PG_COUNT_RUNS_A, "'tiny'"},
        {PG_COUNT_RUNS_S, "'sess-big'"},
        {PG_COUNT_RUNS_AS, "'big', 'sess-big'"},
    };
    for (size_t i = 0; i < sizeof prepared / sizeof prepared[0]; i++) {
        check_plan(c, schemaq, prepared[i].stmt, prepared[i].args, 0);
        check_plan(c, schemaq, prepared[i].stmt, prepared[i].args, 1);
    }
    /* Totals over time ranges (@.run_time_total runs its four shapes with
     * generic plans): counter rows, the log and two edges, each by an
     * index. */
    {
#define T_RANGES "1667766667, 1667766720, 0, 0, 26058855, 26058880, 0, 0, 407170, 407232, 0, 0," \
                 " 6363, 6400, 0, 0, 100, 524287, 1748779209000000, 9223372036853727232,"        \
                 " 1748779200000000, 1748779209000000, 9223372036853727232, 9223372036854775807"
        static const char *const shapes[4] = {PG_TIME_TOTAL_0, PG_TIME_TOTAL_1, PG_TIME_TOTAL_2,
                                              PG_TIME_TOTAL_3};
        static const char *const args[4] = {"'', '', " T_RANGES, "'tiny', '', " T_RANGES,
                                            "'', 'completed,failed', " T_RANGES,
                                            "'big', 'completed', " T_RANGES};
        for (int i = 0; i < 4; i++)
            check_plan_text(c, schemaq, shapes[i], args[i], 1, 1);
        /* and the function answers as count(*) does */
        cr_expect_str_eq(sql_value(c, "SELECT %s.run_time_total('', 'completed', " T_RANGES ", 2)",
                                   schemaq),
                         sql_value(c, "SELECT count(*) FROM %s.runs WHERE status = 'completed'"
                                      " AND created_us >= 1748779200000000", schemaq));
    }
    /* A rare agent's page after a cursor: both bounds in the index. */
    sql(c, "SET plan_cache_mode = force_custom_plan");
    char *text = pg_sql_expand(pg_sql[PG_LIST_RUNS_AC], schemaq);
    sql(c, "PREPARE keyset AS %s", text);
    char *plan = explain(c, "keyset", "'tiny', 1748779204000000, 'run-008001', 0, 10");
    cr_expect_not_null(strstr(plan, "Index Cond: ((agent_name = 'tiny'::text) AND "
                                    "(ROW(created_us, run_id) < ROW("),
                       "the cursor is not an index condition:\n%s", plan);
    free(plan);
    free(text);
    /* And the store agrees with the data. */
    cr_expect_eq(total_of(st, "big", NULL), 14900);
    cr_expect_eq(total_of(st, "tiny", NULL), 100);
    cr_expect_eq(total_of(st, NULL, NULL), 20000);
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.agent_name = "big";
    f.offset = 14890;
    acp_page *p;
    acp_error e = {0};
    cr_assert_eq(acp_run_list(st, &f, &p, &e), ACP_OK, "%s", e.message);
    cr_expect_eq(acp_page_count(p), 10);
    cr_expect_str_eq(acp_page_key(p, 9), "run-000002");
    acp_page_free(p);
    sql(c, "DROP SCHEMA %s CASCADE", schema);
    acp_store_close(st);
    PQfinish(c);
}

/* ------------------------------------------------------------------ */
/* Totals                                                               */
/* ------------------------------------------------------------------ */

/* The schema of version 1 as the plugin of that version created it, kept
 * here word for word: stores made by it must open and count correctly. */
static const char v1_schema[] =
    "CREATE TABLE @.meta (name text COLLATE \"C\" PRIMARY KEY, value bigint NOT NULL);"
    "CREATE TABLE @.runs ("
    " run_id text COLLATE \"C\" PRIMARY KEY,"
    " agent_name text COLLATE \"C\" NOT NULL,"
    " session_id text COLLATE \"C\","
    " status text NOT NULL,"
    " created_us bigint NOT NULL,"
    " finished_us bigint,"
    " doc text NOT NULL);"
    "CREATE INDEX runs_by_time ON @.runs (created_us DESC, run_id DESC);"
    "CREATE INDEX runs_by_agent ON @.runs (agent_name, created_us DESC, run_id DESC);"
    "CREATE INDEX runs_by_session ON @.runs (session_id, created_us DESC, run_id DESC)"
    " WHERE session_id IS NOT NULL;"
    "CREATE INDEX runs_by_agent_session ON @.runs"
    " (agent_name, session_id, created_us DESC, run_id DESC) WHERE session_id IS NOT NULL;"
    "CREATE TABLE @.sessions (id text COLLATE \"C\" PRIMARY KEY, doc text NOT NULL);"
    "CREATE TABLE @.events ("
    " run_id text COLLATE \"C\" NOT NULL,"
    " seq bigint NOT NULL,"
    " stored_us bigint NOT NULL,"
    " type text NOT NULL,"
    " doc text NOT NULL,"
    " PRIMARY KEY (run_id, seq));"
    "CREATE TABLE @.event_seq (run_id text COLLATE \"C\" PRIMARY KEY,"
    " last_seq bigint NOT NULL);"
    "INSERT INTO @.meta VALUES ('schema_version', 1);";

/* Literal SQL text for an id of the tests (no quotes in them). */
static const char *lit(const char *v, char *buf, size_t n)
{
    snprintf(buf, n, v ? "'%s'" : "NULL", v ? v : "");
    return buf;
}

/* The store's total for a filter against count(*) over the runs table. */
static void expect_total_is_count(acp_store *st, PGconn *c, const char *schema,
                                  const char *agent, const char *session)
{
    char la[300], ls[300];
    int64_t want = atoll(sql_value(
        c, "SELECT count(*) FROM %s.runs WHERE (%s::text IS NULL OR agent_name = %s) AND"
           " (%s::text IS NULL OR session_id = %s)",
        schema, lit(agent, la, sizeof la), la, lit(session, ls, sizeof ls), ls));
    int64_t got = total_of(st, agent, session);
    cr_expect_eq(got, want, "total for agent %s session %s: %" PRId64 ", count(*) %" PRId64,
                 agent ? agent : "-", session ? session : "-", got, want);
}

/* The counter table's own invariants: no slot at or below zero, at most
 * PG_COUNT_SLOTS rows per key, slots in range. */
static void expect_counts_tidy(PGconn *c, const char *schema)
{
    cr_expect_str_eq(sql_value(c, "SELECT count(*) FROM %s.run_counts WHERE n <= 0"
                                  " OR slot < 0 OR slot >= %d", schema, PG_COUNT_SLOTS), "0",
                     "counter rows at or below zero, or slots out of range");
    cr_expect_str_eq(sql_value(c, "SELECT count(*) FROM (SELECT 1 FROM %s.run_counts"
                                  " GROUP BY kind, agent, session HAVING count(*) > %d) x",
                               schema, PG_COUNT_SLOTS), "0", "a key with too many slots");
}

static const char *const t_agents[] = {"a0", "a1", "agent/\xc3\xa9 \xe2\x9c\x93", "a3"};
static const char *const t_sessions[] = {"s0", "s1", "s:2 \xc3\xbc", "s3"};
#define T_AGENTS 4
#define T_SESSIONS 4

static void expect_all_totals(acp_store *st, PGconn *c, const char *schema)
{
    expect_total_is_count(st, c, schema, NULL, NULL);
    for (int a = 0; a < T_AGENTS; a++)
        expect_total_is_count(st, c, schema, t_agents[a], NULL);
    for (int s = 0; s < T_SESSIONS; s++) {
        expect_total_is_count(st, c, schema, NULL, t_sessions[s]);
        for (int a = 0; a < T_AGENTS; a++)
            expect_total_is_count(st, c, schema, t_agents[a], t_sessions[s]);
    }
    expect_counts_tidy(c, schema);
}

static void save_full(acp_store *st, const char *id, const char *agent, const char *session,
                      const char *status, int with_created)
{
    char doc[600];
    snprintf(doc, sizeof doc,
             "{\"run_id\":\"%s\",\"agent_name\":\"%s\",%s%s%s\"status\":\"%s\",%s\"output\":[]}",
             id, agent, session ? "\"session_id\":\"" : "", session ? session : "",
             session ? "\"," : "", status,
             with_created ? "\"created_at\":\"2025-06-01T12:00:00.123456Z\"," : "");
    acp_error e = {0};
    cr_assert_eq(acp_run_save(st, doc, ACP_STRLEN, &e), ACP_OK, "save %s: %s", id, e.message);
}

Test(postgres, totals_stay_exact_through_saves_updates_moves_and_deletes)
{
    const char *schema = schema_for("totals");
    acp_store *st = open_schema(&g_srv, schema, NULL);
    PGconn *c = admin(&g_srv);
    enum { RUNS = 60, OPS = 1500 };
    /* The model: each run's agent and session (-1: no session), or
     * agent -1 when the run does not exist. */
    int agent[RUNS], session[RUNS];
    for (int i = 0; i < RUNS; i++)
        agent[i] = -1;
    unsigned rng = 2024;
    int moves = 0, deletes = 0;
    for (int op = 0; op < OPS; op++) {
        rng = rng * 1103515245u + 12345u;
        unsigned x = rng >> 8;
        int r = (int)(x % RUNS);
        char id[32];
        snprintf(id, sizeof id, "run-%d", r);
        unsigned what = (x / RUNS) % 10;
        if (what < 2 && agent[r] >= 0) {
            acp_error e = {0};
            cr_assert_eq(acp_run_delete(st, id, &e), ACP_OK, "delete %s: %s", id, e.message);
            agent[r] = -1;
            deletes++;
        } else if (what < 4 && agent[r] >= 0) {
            /* Same agent and session, another status: no counter moves. */
            save_full(st, id, t_agents[agent[r]],
                      session[r] >= 0 ? t_sessions[session[r]] : NULL, "completed", what & 1);
        } else {
            int a = (int)((x >> 4) % T_AGENTS), s = (int)((x >> 7) % (T_SESSIONS + 1)) - 1;
            if (agent[r] >= 0 && (a != agent[r] || s != session[r]))
                moves++;
            save_full(st, id, t_agents[a], s >= 0 ? t_sessions[s] : NULL, "in-progress",
                      what & 1);
            agent[r] = a;
            session[r] = s;
        }
        if (op % 100 == 99) {
            expect_all_totals(st, c, schema);
            /* and against the model, not only the table */
            int64_t live = 0;
            for (int i = 0; i < RUNS; i++)
                live += agent[i] >= 0;
            cr_assert_eq(total_of(st, NULL, NULL), live, "after %d operations", op + 1);
        }
    }
    cr_expect_gt(moves, 100, "only %d runs moved", moves);
    cr_expect_gt(deletes, 100, "only %d runs deleted", deletes);
    for (int a = 0; a < T_AGENTS; a++) {
        for (int s = -1; s < T_SESSIONS; s++) {
            int64_t want = 0, want_a = 0;
            for (int i = 0; i < RUNS; i++) {
                want += agent[i] == a && s >= 0 && session[i] == s;
                want_a += agent[i] == a;
            }
            if (s >= 0)
                cr_expect_eq(total_of(st, t_agents[a], t_sessions[s]), want);
            else
                cr_expect_eq(total_of(st, t_agents[a], NULL), want_a);
        }
    }
    /* Everything deleted: nothing counted, no counter row left over. */
    for (int i = 0; i < RUNS; i++) {
        if (agent[i] < 0)
            continue;
        char id[32];
        snprintf(id, sizeof id, "run-%d", i);
        acp_error e = {0};
        cr_assert_eq(acp_run_delete(st, id, &e), ACP_OK, "delete %s: %s", id, e.message);
    }
    cr_expect_eq(total_of(st, NULL, NULL), 0);
    cr_expect_eq(total_of(st, t_agents[0], NULL), 0);
    cr_expect_str_eq(sql_value(c, "SELECT count(*) FROM %s.run_counts", schema), "0");
    /* Writes that do not come through the plugin are counted as well. */
    sql(c, "INSERT INTO %s.runs SELECT 'sql-' || i, 'a1', CASE WHEN i %% 2 = 0 THEN 's1' END,"
           " 'created', i, NULL, '{}' FROM generate_series(1, 500) i", schema);
    sql(c, "UPDATE %s.runs SET agent_name = 'a3' WHERE run_id LIKE 'sql-1%%'", schema);
    sql(c, "DELETE FROM %s.runs WHERE run_id LIKE 'sql-2%%'", schema);
    /* A new id moves a run to another slot; deleting it then must not
     * leave a slot below zero (expect_counts_tidy). */
    sql(c, "UPDATE %s.runs SET run_id = run_id || '-renamed' WHERE run_id LIKE 'sql-3%%'",
        schema);
    sql(c, "DELETE FROM %s.runs WHERE run_id LIKE 'sql-3%%-renamed' AND length(run_id) %% 2 = 0",
        schema);
    /* a run alone under its keys: a missed move would leave +1 and -1 */
    sql(c, "INSERT INTO %s.runs VALUES ('solo', 'a-solo', 's-solo', 'created', 1, NULL, '{}')",
        schema);
    for (int i = 0; i < 8; i++)
        sql(c, "UPDATE %s.runs SET run_id = run_id || 'x' WHERE agent_name = 'a-solo'", schema);
    sql(c, "DELETE FROM %s.runs WHERE agent_name = 'a-solo'", schema);
    cr_expect_str_eq(sql_value(c, "SELECT count(*) FROM %s.run_counts WHERE agent = 'a-solo'"
                                  " OR session = 's-solo'", schema), "0");
    expect_all_totals(st, c, schema);
    sql(c, "TRUNCATE %s.runs", schema);
    cr_expect_eq(total_of(st, NULL, NULL), 0);
    cr_expect_eq(total_of(st, "a1", "s1"), 0);
    sql(c, "DROP SCHEMA %s CASCADE", schema);
    PQfinish(c);
    acp_store_close(st);
}

/* ------------------------------------------------------------------ */
/* Totals by status and time (schema version 6: run_time_counts)      */
/* ------------------------------------------------------------------ */

static const char *const b_statuses[] = {"created", "in-progress", "awaiting", "cancelling",
                                         "cancelled", "completed", "failed"};
#define B_STATUSES 7
#define B_BASE_US INT64_C(1793491200000000) /* 2026-11-01T00:00:00Z */

static unsigned b_rng = 77;
static unsigned b_next(void)
{
    b_rng = b_rng * 1103515245u + 12345u;
    return b_rng >> 8;
}

/* A creation time near B_BASE_US at a random scale (milliseconds up to
 * a year), so that ranges of every width are filtered by. */
static int64_t b_instant(void)
{
    static const int64_t spans[] = {20000, 2000000, 300000000, INT64_C(86400000000),
                                    INT64_C(30) * 86400000000, INT64_C(400) * 86400000000};
    int64_t span = spans[b_next() % 6];
    int64_t off = (int64_t)(((uint64_t)b_next() << 24 ^ b_next()) % (uint64_t)span);
    return B_BASE_US + ((b_next() & 1) ? off : -off);
}

/* RFC 3339 with microseconds. */
static void b_rfc3339(int64_t us, char *out, size_t n)
{
    time_t secs = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char day[32];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    /* %.19s: the instants here have 4-digit years, and gcc then knows the
     * result fits (-Wformat-truncation in release builds). */
    snprintf(out, n, "%.19s.%06dZ", day, (int)(us % 1000000));
}

/* A run document with the given fields (finished a second after its
 * creation when its status is final). */
static void b_doc(char *doc, size_t n, const char *id, int agent, int session, int status,
                  int64_t created_us)
{
    char created[40], finished[40];
    b_rfc3339(created_us, created, sizeof created);
    b_rfc3339(created_us + 1000000, finished, sizeof finished);
    int final = status >= 4;
    snprintf(doc, n,
             "{\"run_id\":\"%s\",\"agent_name\":\"%s\",%s%s%s\"status\":\"%s\","
             "\"created_at\":\"%s\",%s%s%s\"output\":[]}",
             id, t_agents[agent], session >= 0 ? "\"session_id\":\"" : "",
             session >= 0 ? t_sessions[session] : "", session >= 0 ? "\"," : "",
             b_statuses[status], created, final ? "\"finished_at\":\"" : "",
             final ? finished : "", final ? "\"," : "");
}

static void b_save(acp_store *st, const char *id)
{
    char doc[700];
    b_doc(doc, sizeof doc, id, (int)(b_next() % T_AGENTS), (int)(b_next() % (T_SESSIONS + 1)) - 1,
          (int)(b_next() % B_STATUSES), b_instant());
    acp_error e = {0};
    cr_assert_eq(acp_run_save(st, doc, ACP_STRLEN, &e), ACP_OK, "save %s: %s", id, e.message);
}

/* run_time_counts (schema version 6) folded with run_time_log against
 * the same counts made from runs by plain arithmetic (every kind, status
 * or any, level 1..5 and bucket), no counter row at zero, and a log the
 * folds keep short. */
static void expect_time_counts_exact(PGconn *c, const char *schema)
{
    cr_expect_str_eq(
        sql_value(c, "SELECT count(*) FROM (SELECT kind, agent, status, level, bucket,"
                     " sum(n) AS n FROM (SELECT kind, agent, status, level, bucket, n"
                     " FROM %s.run_time_counts UNION ALL SELECT k.k,"
                     " CASE WHEN k.k = 1 THEN agent ELSE '' END, CASE WHEN x.x THEN status"
                     " ELSE '' END, l.l, floor(created_us / 2::numeric ^ (14 + 6 * l.l)), d"
                     " FROM %s.run_time_log, (VALUES (0), (1)) k (k), (VALUES (true), (false))"
                     " x (x), generate_series(1, 5) l (l)) u GROUP BY 1, 2, 3, 4, 5"
                     " HAVING sum(n) <> 0) f FULL JOIN (SELECT k.k AS kind,"
                     " CASE WHEN k.k = 1 THEN agent_name ELSE '' END AS agent,"
                     " CASE WHEN x.x THEN status ELSE '' END AS status, l.l AS level,"
                     " floor(created_us / 2::numeric ^ (14 + 6 * l.l)) AS bucket, count(*) AS n"
                     " FROM %s.runs, (VALUES (0), (1)) k (k), (VALUES (true), (false)) x (x),"
                     " generate_series(1, 5) l (l) GROUP BY 1, 2, 3, 4, 5) r"
                     " USING (kind, agent, status, level, bucket) WHERE f.n IS DISTINCT FROM r.n",
                  schema, schema, schema),
        "0", "run_time_counts and run_time_log disagree with the runs");
    cr_expect_str_eq(sql_value(c, "SELECT count(*) FROM %s.run_time_counts WHERE n = 0", schema),
                     "0", "run_time_counts keeps rows at zero");
    /* folds are drawn at random, one change in 256: the log passes 4,096
     * rows with a probability of e^-16 */
    cr_expect_lt(atoi(sql_value(c, "SELECT count(*) FROM %s.run_time_log", schema)), 4096,
                 "run_time_log is not folded");
}

/* The store's total for one filter against count(*) over runs. */
static void expect_filtered_total(acp_store *st, PGconn *c, const char *schema, const char *agent,
                                  const char *session, const char *statuses, int64_t since,
                                  int64_t until)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.agent_name = agent;
    f.session_id = session;
    f.status = statuses;
    f.created_since_us = since;
    f.created_until_us = until;
    f.limit = 10; /* a page too, as a caller would ask */
    int64_t got = total_of_filter(st, &f);
    /* the page and its total come in one statement, and an empty page
     * (past the end) gives the total on its own */
    f.offset = 100000000;
    int64_t past_end = total_of_filter(st, &f);
    f.offset = 0;
    f.limit = 0;
    int64_t alone = total_of_filter(st, &f);
    char la[300], ls[300], lst[300];
    int64_t want = atoll(sql_value(
        c, "SELECT count(*) FROM %s.runs WHERE (%s::text IS NULL OR agent_name = %s) AND"
           " (%s::text IS NULL OR session_id = %s) AND (%s::text IS NULL OR status ="
           " ANY (string_to_array(%s, ','))) AND (%s OR created_us >= %" PRId64 ")"
           " AND (%s OR created_us < %" PRId64 ")",
        schema, lit(agent, la, sizeof la), la, lit(session, ls, sizeof ls), ls,
        lit(statuses, lst, sizeof lst), lst, since == ACP_TIME_NONE ? "true" : "false", since,
        until == ACP_TIME_NONE ? "true" : "false", until));
    cr_expect_eq(got, want,
                 "total for agent %s session %s status %s since %" PRId64 " until %" PRId64
                 ": %" PRId64 ", count(*) %" PRId64,
                 agent ? agent : "-", session ? session : "-", statuses ? statuses : "-", since,
                 until, got, want);
    cr_expect(past_end == want && alone == want,
              "total with an empty page %" PRId64 ", without a page %" PRId64 ", count(*) %" PRId64,
              past_end, alone, want);
}

/* An instant to filter by: a stored run's creation time (a boundary), one
 * microsecond off it, a power-of-two boundary, or anywhere. */
static int64_t b_bound(PGconn *c, const char *schema)
{
    unsigned x = b_next() % 6;
    if (x < 3) {
        const char *v = sql_value(c, "SELECT created_us FROM %s.runs OFFSET %u LIMIT 1", schema,
                                  b_next() % 50);
        if (v[0])
            return atoll(v) + (int64_t)x - 1;
    }
    int64_t t = b_instant();
    if (x == 3)
        t &= ~((INT64_C(1) << (14 + 6 * (b_next() % 6))) - 1);
    return t;
}

/* The counters against the runs, then random filtered totals. */
static void expect_filtered_totals(acp_store *st, PGconn *c, const char *schema)
{
    expect_time_counts_exact(c, schema);
    static const char *const sets[] = {NULL, "completed", "failed", "completed,failed",
                                       "created,in-progress,awaiting", "cancelling,cancelled"};
    for (int i = 0; i < 40; i++) {
        unsigned scope = b_next() % 4; /* none, agent, session, both */
        const char *agent = scope & 1 ? t_agents[b_next() % T_AGENTS] : NULL;
        const char *session = scope & 2 ? t_sessions[b_next() % T_SESSIONS] : NULL;
        const char *statuses = sets[b_next() % 6];
        int64_t since = b_next() % 4 ? b_bound(c, schema) : ACP_TIME_NONE;
        int64_t until = b_next() % 4 ? b_bound(c, schema) : ACP_TIME_NONE;
        if (since != ACP_TIME_NONE && until != ACP_TIME_NONE && since > until) {
            int64_t t = since;
            since = until;
            until = t;
        }
        if (!statuses && since == ACP_TIME_NONE && until == ACP_TIME_NONE)
            statuses = "completed"; /* an unfiltered list has its own test */
        expect_filtered_total(st, c, schema, agent, session, statuses, since, until);
        if (i == 19) {
            /* totals with the log folded into the counters, then with
             * changes in both */
            sql_value(c, "SELECT %s.run_time_fold()", schema);
            cr_expect_str_eq(sql_value(c, "SELECT count(*) FROM %s.run_time_log", schema), "0",
                             "a fold left changes in the log");
            expect_time_counts_exact(c, schema);
        }
    }
}

Test(postgres, status_and_time_totals_equal_count_through_every_kind_of_write)
{
    const char *schema = schema_for("stcounts");
    acp_store *st = open_schema(&g_srv, schema, NULL);
    PGconn *c = admin(&g_srv);
    char id[32];
    acp_error e = {0};
    /* single saves */
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof id, "run-%d", i);
        b_save(st, id);
    }
    expect_filtered_totals(st, c, schema);
    /* batch saves: new runs and runs saved again with other fields */
    {
        static char docs[150][700];
        const char *json[150];
        for (int i = 0; i < 150; i++) {
            snprintf(id, sizeof id, "run-%d", i < 100 ? 300 + i : (int)(b_next() % 300));
            b_doc(docs[i], sizeof docs[i], id, (int)(b_next() % T_AGENTS),
                  (int)(b_next() % (T_SESSIONS + 1)) - 1, (int)(b_next() % B_STATUSES),
                  b_instant());
            json[i] = docs[i];
        }
        cr_assert_eq(acp_run_save_many(st, json, NULL, 150, &e), ACP_OK, "%s", e.message);
    }
    expect_filtered_totals(st, c, schema);
    /* status changes (same creation time), then moves of every field */
    for (int i = 0; i < 200; i++) {
        snprintf(id, sizeof id, "run-%d", (int)(b_next() % 400));
        char *json = NULL;
        if (acp_run_get(st, id, &json, NULL, &e) != ACP_OK)
            continue;
        acp_run *run;
        cr_assert_eq(acp_run_parse(json, strlen(json), &run, &e), ACP_OK, "%s", e.message);
        acp_free(json);
        char doc[700];
        int agent = 0, session = -1;
        for (int a = 0; a < T_AGENTS; a++)
            agent = strcmp(acp_run_agent_name(run), t_agents[a]) ? agent : a;
        for (int s = 0; s < T_SESSIONS; s++)
            if (acp_run_session_id(run) && !strcmp(acp_run_session_id(run), t_sessions[s]))
                session = s;
        int64_t created = i % 4 ? acp_run_created_us(run) : b_instant();
        if (i % 5 == 0)
            agent = (int)(b_next() % T_AGENTS);
        b_doc(doc, sizeof doc, id, agent, session, (int)(b_next() % B_STATUSES), created);
        acp_run_free(run);
        cr_assert_eq(acp_run_save(st, doc, ACP_STRLEN, &e), ACP_OK, "%s", e.message);
    }
    expect_filtered_totals(st, c, schema);
    /* deletes */
    for (int i = 0; i < 80; i++) {
        snprintf(id, sizeof id, "run-%d", (int)(b_next() % 400));
        acp_status rc = acp_run_delete(st, id, &e);
        cr_assert(rc == ACP_OK || rc == ACP_NOT_FOUND, "delete %s: %s", id, e.message);
    }
    expect_filtered_totals(st, c, schema);
    /* a purge of one agent's failed and cancelled runs */
    acp_purge_filter pf = ACP_PURGE_FILTER_INIT;
    pf.status = "failed,cancelled";
    pf.finished_before_us = B_BASE_US + INT64_C(500) * 86400000000;
    pf.agent_name = t_agents[1];
    pf.batch_size = 7;
    int64_t purged = 0;
    cr_assert_eq(acp_store_purge(st, &pf, NULL, NULL, &purged, &e), ACP_OK, "%s", e.message);
    cr_expect_gt(purged, 0, "the purge deleted nothing: it tested nothing");
    expect_filtered_totals(st, c, schema);
    /* restores: new runs with their own creation times, and runs replaced
     * with another creation time */
    {
        static char docs[60][700];
        acp_restore_run rr[60];
        acp_status res[60];
        for (int i = 0; i < 60; i++) {
            snprintf(id, sizeof id, "restored-%d", i);
            b_doc(docs[i], sizeof docs[i], id, (int)(b_next() % T_AGENTS),
                  (int)(b_next() % (T_SESSIONS + 1)) - 1, (int)(b_next() % B_STATUSES),
                  b_instant());
            rr[i] = (acp_restore_run){.json = docs[i], .len = ACP_STRLEN, .created_us = b_instant()};
        }
        cr_assert_eq(acp_run_restore_many(st, rr, 60, res, &e), ACP_OK, "%s", e.message);
        for (int i = 0; i < 30; i++) {
            snprintf(id, sizeof id, "run-%d", (int)(b_next() % 400));
            char doc[700];
            b_doc(doc, sizeof doc, id, (int)(b_next() % T_AGENTS), -1,
                  (int)(b_next() % B_STATUSES), b_instant());
            cr_assert_eq(acp_run_restore(st, doc, ACP_STRLEN, INT64_C(4000000000000000) + i,
                                         b_instant(), 0, &e), ACP_OK, "%s", e.message);
        }
    }
    expect_filtered_totals(st, c, schema);
    /* writes that do not come through the plugin */
    sql(c, "UPDATE %s.runs SET status = 'awaiting' WHERE run_id LIKE 'run-1%%'", schema);
    sql(c, "UPDATE %s.runs SET created_us = created_us + 123456789 WHERE run_id LIKE 'run-2%%'",
        schema);
    sql(c, "UPDATE %s.runs SET run_id = run_id || '-renamed' WHERE run_id LIKE 'run-3%%'", schema);
    sql(c, "INSERT INTO %s.runs SELECT 'sql-' || i, 'a1', CASE WHEN i %% 2 = 0 THEN 's1' END,"
           " 'failed', %" PRId64 " + i * 7777, NULL, '{}' FROM generate_series(1, 300) i",
        schema, B_BASE_US);
    /* before 1970: negative instants, buckets below zero */
    sql(c, "INSERT INTO %s.runs SELECT 'old-' || i, 'a2', NULL, 'completed',"
           " -86400000000 + i::bigint * 123456789, NULL, '{}' FROM generate_series(1, 60) i",
        schema);
    expect_filtered_total(st, c, schema, NULL, NULL, "completed", -86400000000, 1);
    expect_filtered_total(st, c, schema, "a2", NULL, NULL, ACP_TIME_NONE, 0);
    expect_filtered_totals(st, c, schema);
    /* truncate: nothing counted, then counting starts again */
    sql(c, "TRUNCATE %s.runs", schema);
    cr_expect_str_eq(sql_value(c, "SELECT count(*) FROM %s.run_time_counts", schema), "0");
    cr_expect_str_eq(sql_value(c, "SELECT count(*) FROM %s.run_time_log", schema), "0");
    for (int i = 0; i < 40; i++) {
        snprintf(id, sizeof id, "again-%d", i);
        b_save(st, id);
    }
    expect_filtered_totals(st, c, schema);
    sql(c, "DROP SCHEMA %s CASCADE", schema);
    PQfinish(c);
    acp_store_close(st);
}

/* Schema version 4 as it was made (the version rows of pg_sql.h up to 4). */
static const char v4_schema[] = PG_SQL_TABLES PG_SQL_COUNTS PG_SQL_VERSIONS PG_SQL_OPS
    "INSERT INTO @.meta VALUES ('schema_version', 4);";

Test(postgres, a_version_4_store_is_migrated_with_exact_status_and_time_totals)
{
    const char *schema = schema_for("migrate4");
    PGconn *c = admin(&g_srv);
    char schemaq[80];
    snprintf(schemaq, sizeof schemaq, "\"%s\"", schema);
    sql(c, "CREATE SCHEMA %s", schema);
    char *ddl = pg_sql_expand(v4_schema, schemaq);
    PGresult *res = PQexec(c, ddl); /* longer than sql()'s buffer */
    cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(res));
    PQclear(res);
    free(ddl);
    /* 20,000 runs over 4 agents, sessions, 7 statuses and 200 days */
    sql(c, "INSERT INTO %s.runs (run_id, agent_name, session_id, status, created_us, doc)"
           " SELECT 'run-' || i, (ARRAY['a0', 'a1', 'a3'])[1 + i %% 3],"
           " CASE WHEN i %% 4 <> 0 THEN (ARRAY['s0', 's1', 's3'])[1 + i %% 3] END,"
           " (ARRAY['created', 'in-progress', 'awaiting', 'cancelling', 'cancelled', 'completed',"
           " 'failed'])[1 + (i * 7919) %% 7], %" PRId64 " + (i::bigint * 864000000 * 1003) %% 17280000000000,"
           " '{}' FROM generate_series(1, 20000) i",
        schema, B_BASE_US - INT64_C(100) * 86400000000);
    cr_expect_str_eq(sql_value(c, "SELECT to_regclass('%s.run_status_counts') IS NULL", schema), "t");
    /* migrate=never refuses, naming the command, and changes nothing */
    char extra[160];
    snprintf(extra, sizeof extra, "schema=%s&migrate=never", schema);
    char *u = uri_with(&g_srv, extra);
    acp_error e = {0};
    cr_expect_neq(try_open(u, &e), ACP_OK);
    cr_expect(strstr(e.message, "acp-storage migrate") != NULL, "%s", e.message);
    free(u);
    cr_expect_eq(atoi(sql_value(c, "SELECT value FROM %s.meta WHERE name = 'schema_version'",
                                schema)), 4);
    cr_expect_str_eq(sql_value(c, "SELECT to_regclass('%s.run_status_counts') IS NULL", schema), "t");
    /* an ordinary open migrates */
    acp_store *st = open_schema(&g_srv, schema, NULL);
    cr_expect_eq(atoi(sql_value(c, "SELECT value FROM %s.meta WHERE name = 'schema_version'",
                                schema)), PG_SCHEMA_VERSION);
    expect_filtered_totals(st, c, schema);
    expect_filtered_total(st, c, schema, NULL, NULL, "completed,failed", ACP_TIME_NONE,
                          ACP_TIME_NONE);
    expect_filtered_total(st, c, schema, "a1", NULL, NULL, B_BASE_US, ACP_TIME_NONE);
    /* and keeps counting afterwards */
    for (int i = 0; i < 30; i++) {
        char id[32];
        snprintf(id, sizeof id, "run-%d", 1 + (int)(b_next() % 20000));
        b_save(st, id);
    }
    expect_filtered_totals(st, c, schema);
    acp_store_close(st);
    sql(c, "DROP SCHEMA %s CASCADE", schema);
    PQfinish(c);
}

/* Runs of different ids moving between the same agents and sessions in
 * opposite directions at once: every save succeeds (the counter rows of
 * one slot are always locked in one order, so no deadlock) and the
 * totals are exact. */
typedef struct mover {
    acp_store *st;
    const char *id;
    int phase, rounds, failures;
    char why[256];
} mover;

static void *move_loop(void *arg)
{
    mover *m = arg;
    for (int i = 0; i < m->rounds; i++) {
        int k = (i + m->phase) % 2;
        char doc[256];
        snprintf(doc, sizeof doc,
                 "{\"run_id\":\"%s\",\"agent_name\":\"%s\",\"session_id\":\"%s\","
                 "\"status\":\"created\"}", m->id, k ? "mx" : "my", k ? "sx" : "sy");
        acp_error e;
        if (acp_run_save(m->st, doc, ACP_STRLEN, &e) != ACP_OK &&
            m->failures++ == 0)
            snprintf(m->why, sizeof m->why, "%.200s", e.message);
    }
    return NULL;
}

Test(postgres, runs_moving_in_opposite_directions_at_once_never_deadlock)
{
    const char *schema = schema_for("movers");
    acp_store *st = open_schema(&g_srv, schema, "pool_size=6");
    PGconn *c = admin(&g_srv);
    /* Six ids that share a slot, so that they share counter rows. */
    enum { N = 6 };
    char ids[N][32];
    int found = 0;
    for (int i = 0; found < N && i < 10000; i++) {
        char id[32];
        snprintf(id, sizeof id, "mover-%d", i);
        if (atoi(sql_value(c, "SELECT hashtext('%s') & 15", id)) == 3)
            snprintf(ids[found++], sizeof ids[0], "%s", id);
    }
    cr_assert_eq(found, N);
    pthread_t t[N];
    mover m[N];
    for (int i = 0; i < N; i++) {
        m[i] = (mover){st, ids[i], i % 2, 300, 0, ""};
        pthread_create(&t[i], NULL, move_loop, &m[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        cr_expect_eq(m[i].failures, 0, "%s: %d saves failed: %s", ids[i], m[i].failures,
                     m[i].why);
    }
    /* Each run ends where its last round put it. */
    int last_x = 0;
    for (int i = 0; i < N; i++)
        last_x += (299 + m[i].phase) % 2;
    cr_expect_eq(total_of(st, "mx", NULL), last_x);
    cr_expect_eq(total_of(st, "my", "sy"), N - last_x);
    cr_expect_eq(total_of(st, NULL, "sx"), last_x);
    cr_expect_eq(total_of(st, NULL, NULL), N);
    cr_expect_str_eq(sql_value(c, "SELECT count(DISTINCT slot) FROM %s.run_counts", schema), "1");
    expect_counts_tidy(c, schema);
    sql(c, "DROP SCHEMA %s CASCADE", schema);
    PQfinish(c);
    acp_store_close(st);
}

/* Writers of every kind at once while folds run: each change is counted
 * once, in run_time_log or in run_time_counts, never in both or neither,
 * and no writer fails (folds never make writers wait for each other). */
typedef struct time_writer {
    acp_store *st;
    int n, rounds, failures;
    unsigned rng;
    atomic_int done;
    char why[256];
} time_writer;

static void *time_write_loop(void *arg)
{
    time_writer *w = arg;
    for (int i = 0; i < w->rounds; i++) {
        w->rng = w->rng * 1103515245u + 12345u;
        unsigned x = w->rng >> 8;
        char id[32], doc[700], created[40];
        snprintf(id, sizeof id, "tw-%u", x % 120); /* shared by the writers */
        acp_error e;
        acp_status rc;
        if (x % 7 == 0) {
            rc = acp_run_delete(w->st, id, &e);
            if (rc == ACP_NOT_FOUND)
                rc = ACP_OK;
        } else {
            /* a creation time within 3 s of a base, or a year away */
            int64_t t = B_BASE_US + (int64_t)(x % 3000) * 1000 +
                        (x % 11 == 0 ? INT64_C(365) * 86400000000 : 0);
            b_rfc3339(t, created, sizeof created);
            snprintf(doc, sizeof doc,
                     "{\"run_id\":\"%s\",\"agent_name\":\"%s\",\"status\":\"%s\","
                     "\"created_at\":\"%s\",\"output\":[]}",
                     id, t_agents[x % T_AGENTS], b_statuses[(x >> 4) % 4], created);
            rc = acp_run_save(w->st, doc, ACP_STRLEN, &e);
        }
        if (rc != ACP_OK && w->failures++ == 0)
            snprintf(w->why, sizeof w->why, "%.200s", e.message);
    }
    atomic_store(&w->done, 1);
    return NULL;
}

Test(postgres, time_counts_stay_exact_under_concurrent_writers_and_folds)
{
    const char *schema = schema_for("timeconc");
    acp_store *st = open_schema(&g_srv, schema, "pool_size=6");
    PGconn *c = admin(&g_srv);
    enum { N = 5 };
    pthread_t t[N];
    time_writer w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (time_writer){.st = st, .n = i, .rounds = 400, .rng = 1000u + (unsigned)i};
        atomic_init(&w[i].done, 0);
        pthread_create(&t[i], NULL, time_write_loop, &w[i]);
    }
    /* folds besides the writers' own draws */
    int folds = 0;
    for (; folds < 400; folds++) {
        int busy = 0;
        for (int i = 0; i < N; i++)
            busy |= !atomic_load(&w[i].done);
        sql_value(c, "SELECT %s.run_time_fold()", schema);
        if (!busy)
            break;
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        cr_expect_eq(w[i].failures, 0, "writer %d: %d writes failed: %s", i, w[i].failures,
                     w[i].why);
    }
    cr_expect_gt(folds, 3, "no fold ran alongside the writers: the test tested nothing");
    expect_time_counts_exact(c, schema);
    expect_filtered_totals(st, c, schema);
    sql(c, "DROP SCHEMA %s CASCADE", schema);
    PQfinish(c);
    acp_store_close(st);
}

/* Inserts of an older plugin (plain SQL here) while a newer one migrates
 * the store: the migration's lock orders them, so each is counted once,
 * by the backfill or by a trigger. */
typedef struct old_writer {
    const char *schema;
    atomic_int stop;
    int inserted, failures;
    char why[256];
} old_writer;

static void *old_writer_loop(void *arg)
{
    old_writer *w = arg;
    PGconn *c = admin(&g_srv);
    while (!atomic_load(&w->stop)) {
        char q[256];
        snprintf(q, sizeof q, "INSERT INTO %s.runs VALUES ('old-%d', 'a%d', 's%d', 'created',"
                              " %d, NULL, '{}')", w->schema, w->inserted, w->inserted % 3,
                 w->inserted % 5, w->inserted);
        PGresult *r = PQexec(c, q);
        if (PQresultStatus(r) == PGRES_COMMAND_OK)
            w->inserted++;
        else if (w->failures++ == 0)
            snprintf(w->why, sizeof w->why, "%s", PQresultErrorMessage(r));
        PQclear(r);
    }
    PQfinish(c);
    return NULL;
}

/* Schema `schema`, made empty with the version-1 DDL, as today's code
 * made stores before run counters existed. */
static void create_v1_schema(PGconn *c, const char *schema)
{
    char schemaq[80];
    snprintf(schemaq, sizeof schemaq, "\"%s\"", schema);
    sql(c, "CREATE SCHEMA %s", schema);
    char *ddl = pg_sql_expand(v1_schema, schemaq);
    sql(c, "%s", ddl);
    free(ddl);
}

Test(postgres, a_version_1_store_is_migrated_with_exact_totals)
{
    const char *schema = schema_for("migrate");
    PGconn *c = admin(&g_srv);
    create_v1_schema(c, schema);
    /* 30,000 runs over 7 agents and 500 sessions (none on every fourth),
     * with events, as version 1 stored them. */
    sql(c, "INSERT INTO %s.runs SELECT 'run-' || i, 'agent-' || (i %% 7),"
           " CASE WHEN i %% 4 <> 0 THEN 'sess-' || (i %% 500) END, 'created',"
           " 1748779200000000 + i * 1000, NULL,"
           " '{\"run_id\":\"run-' || i || '\",\"agent_name\":\"agent-' || (i %% 7) || '\"}'"
           " FROM generate_series(1, 30000) i", schema);
    sql(c, "INSERT INTO %s.events SELECT 'run-1', s, 0, 'generic', '{}'"
           " FROM generate_series(1, 3) s", schema);
    sql(c, "INSERT INTO %s.event_seq VALUES ('run-1', 3)", schema);
    cr_assert_str_eq(sql_value(c, "SELECT to_regclass('%s.run_counts') IS NULL", schema), "t");

    /* An older plugin keeps inserting while the store is opened. */
    old_writer w = {.schema = schema};
    pthread_t wt;
    pthread_create(&wt, NULL, old_writer_loop, &w);
    sleep_ms(100);
    acp_store *st = open_schema(&g_srv, schema, NULL);
    sleep_ms(100);
    atomic_store(&w.stop, 1);
    pthread_join(wt, NULL);
    cr_expect_eq(w.failures, 0, "the older writer failed %d times: %s", w.failures, w.why);
    cr_expect_gt(w.inserted, 0, "the older writer inserted nothing: the test tested nothing");

    cr_expect_eq(atoi(sql_value(c, "SELECT value FROM %s.meta WHERE name = 'schema_version'",
                                schema)), PG_SCHEMA_VERSION);
    cr_expect_eq(PG_SCHEMA_VERSION, 6);
    /* Versions 5 and 6: the time counters hold the runs the older writer
     * inserted while the migration waited for it; version 6 dropped
     * version 5's status counters. */
    cr_expect_str_eq(sql_value(c, "SELECT to_regclass('%s.run_status_counts') IS NULL", schema),
                     "t");
    expect_time_counts_exact(c, schema);
    /* Version 3: the runs of the older store start at version 1. */
    cr_expect_str_eq(sql_value(c, "SELECT count(*) FILTER (WHERE version <> 1) FROM %s.runs",
                               schema), "0");
    cr_expect_eq(total_of(st, NULL, NULL), 30000 + w.inserted);
    expect_total_is_count(st, c, schema, "agent-3", NULL);
    expect_total_is_count(st, c, schema, "a1", NULL);
    expect_total_is_count(st, c, schema, NULL, "sess-17");
    expect_total_is_count(st, c, schema, NULL, "s4");
    expect_total_is_count(st, c, schema, "agent-3", "sess-17");
    expect_total_is_count(st, c, schema, "a2", "s2");
    expect_total_is_count(st, c, schema, "agent-0", "sess-0");
    /* every key of the store, compared in one query */
    cr_expect_str_eq(
        sql_value(c, "SELECT count(*) FROM (SELECT kind, agent, session, sum(n) AS n"
                     " FROM %s.run_counts GROUP BY 1, 2, 3) k FULL JOIN ("
                     " SELECT 0 AS kind, '' AS agent, '' AS session, count(*) AS n FROM %s.runs"
                     " UNION ALL SELECT 1, agent_name, '', count(*) FROM %s.runs GROUP BY 2"
                     " UNION ALL SELECT 2, '', session_id, count(*) FROM %s.runs"
                     "  WHERE session_id IS NOT NULL GROUP BY 3"
                     " UNION ALL SELECT 3, agent_name, session_id, count(*) FROM %s.runs"
                     "  WHERE session_id IS NOT NULL GROUP BY 2, 3) r"
                     " USING (kind, agent, session) WHERE k.n IS DISTINCT FROM r.n",
                  schema, schema, schema, schema, schema),
        "0", "counter keys that disagree with the runs");
    expect_counts_tidy(c, schema);

    /* The migrated store works as a new one: data kept, counts follow. */
    char *json;
    acp_error e = {0};
    cr_expect_eq(acp_run_get(st, "run-30000", &json, NULL, &e), ACP_OK, "%s", e.message);
    acp_free(json);
    cr_expect_eq(add_event(st, "run-1"), 4);
    save_run(st, "new-1", "agent-3", "sess-17");
    save_run(st, "run-2", "agent-9", NULL); /* moves from agent-2, sess-2 */
    cr_expect_eq(acp_run_delete(st, "run-3", &e), ACP_OK, "%s", e.message);
    cr_expect_eq(total_of(st, NULL, NULL), 30000 + w.inserted);
    cr_expect_eq(total_of(st, "agent-9", NULL), 1);
    expect_total_is_count(st, c, schema, "agent-3", "sess-17");
    expect_total_is_count(st, c, schema, "agent-2", NULL);
    expect_total_is_count(st, c, schema, NULL, "sess-2");
    expect_total_is_count(st, c, schema, NULL, "sess-3");
    acp_store_close(st);
    /* Opening it again changes nothing. */
    st = open_schema(&g_srv, schema, NULL);
    cr_expect_eq(total_of(st, NULL, NULL), 30000 + w.inserted);
    acp_store_close(st);
    sql(c, "DROP SCHEMA %s CASCADE", schema);
    PQfinish(c);
}

/* A migration that fails leaves version 1 as it was. */
Test(postgres, a_failed_migration_changes_nothing)
{
    const char *schema = schema_for("migfail");
    PGconn *c = admin(&g_srv);
    create_v1_schema(c, schema);
    sql(c, "INSERT INTO %s.runs VALUES ('r', 'a', NULL, 'created', 1, NULL, '{}')", schema);
    /* Something of the same name in the way of version 2. */
    sql(c, "CREATE FUNCTION %s.run_counts_move() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        schema);
    char extra[128];
    snprintf(extra, sizeof extra, "schema=%s", schema);
    char *u = uri_with(&g_srv, extra);
    acp_error e = {0};
    cr_expect_neq(try_open(u, &e), ACP_OK);
    cr_expect_eq(atoi(sql_value(c, "SELECT value FROM %s.meta WHERE name = 'schema_version'",
                                schema)), 1);
    cr_expect_str_eq(sql_value(c, "SELECT to_regclass('%s.run_counts') IS NULL", schema), "t");
    cr_expect_str_eq(sql_value(c, "SELECT count(*) FROM pg_trigger WHERE tgrelid ="
                                  " '%s.runs'::regclass", schema), "0");
    /* Out of the way, the next open migrates. */
    sql(c, "DROP FUNCTION %s.run_counts_move()", schema);
    acp_store *st = open_store(u);
    cr_expect_eq(total_of(st, "a", NULL), 1);
    acp_store_close(st);
    free(u);
    sql(c, "DROP SCHEMA %s CASCADE", schema);
    PQfinish(c);
}

/* ------------------------------------------------------------------ */
/* Many writers                                                         */
/* ------------------------------------------------------------------ */

typedef struct appender {
    acp_store *st;
    const char *run_id;
    int n;
    int proc, thread;
    int failures;
    int unavailable;
    int first_save;
} appender;

static void *append_loop(void *arg)
{
    appender *a = arg;
    for (int i = 0; i < a->n; i++) {
        char doc[96];
        snprintf(doc, sizeof doc, "{\"type\":\"generic\",\"who\":\"%d-%d-%d\"}", a->proc, a->thread,
                 i);
        int64_t seq;
        acp_error e;
        acp_status rc = acp_event_add(a->st, a->run_id, doc, ACP_STRLEN, &seq, &e);
        if (rc == ACP_UNAVAILABLE)
            a->unavailable++;
        else if (rc != ACP_OK)
            a->failures++;
    }
    return NULL;
}

static void *first_save(void *arg)
{
    appender *a = arg;
    char doc[160];
    snprintf(doc, sizeof doc, "{\"run_id\":\"%s\",\"agent_name\":\"a%d\",\"status\":\"created\"}",
             a->run_id, a->thread);
    acp_error e;
    if (acp_run_save(a->st, doc, ACP_STRLEN, &e) != ACP_OK)
        a->failures++;
    return NULL;
}

static int run_threads(acp_store *st, const char *run_id, int proc, int threads, int n,
                       void *(*fn)(void *))
{
    pthread_t t[16];
    appender a[16];
    int failures = 0;
    for (int i = 0; i < threads; i++) {
        a[i] = (appender){st, run_id, n, proc, i, 0, 0, 0};
        pthread_create(&t[i], NULL, fn, &a[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        failures += a[i].failures + a[i].unavailable;
    }
    return failures;
}

Test(postgres, many_processes_and_threads_get_gap_free_sequences_and_one_first_save)
{
    const char *schema = schema_for("writers");
    enum { PROCS = 4, THREADS = 4, EACH = 150 };
    acp_store_close(open_schema(&g_srv, schema, NULL));
    int gate[2];
    cr_assert_eq(pipe(gate), 0);
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        cr_assert_geq(pids[p], 0);
        if (pids[p] == 0) {
            close(gate[1]);
            char extra[128];
            snprintf(extra, sizeof extra, "schema=%s&pool_size=4", schema);
            char *u = uri_with(&g_srv, extra);
            acp_store *st = NULL;
            acp_error e;
            if (acp_store_open(u, &st, &e) != ACP_OK)
                _exit(1);
            char b;
            if (read(gate[0], &b, 1) < 0)
                _exit(3);
            int bad = run_threads(st, "first", p, 8, 1, first_save);
            bad += run_threads(st, "shared", p, THREADS, EACH, append_loop);
            acp_store_close(st);
            _exit(bad ? 2 : 0);
        }
    }
    close(gate[0]);
    close(gate[1]);
    for (int p = 0; p < PROCS; p++) {
        int status;
        cr_assert_eq(waitpid(pids[p], &status, 0), pids[p]);
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "process %d failed (%d)", p,
                  status);
    }
    PGconn *c = admin(&g_srv);
    int total = PROCS * THREADS * EACH;
    cr_expect_eq(atoi(sql_value(c, "SELECT count(*) FROM %s.events WHERE run_id = 'shared'",
                                schema)), total);
    cr_expect_eq(atoi(sql_value(c, "SELECT count(DISTINCT seq) FROM %s.events WHERE run_id = "
                                   "'shared' AND seq BETWEEN 1 AND %d", schema, total)), total);
    cr_expect_eq(atoi(sql_value(c, "SELECT count(DISTINCT doc) FROM %s.events WHERE run_id = "
                                   "'shared'", schema)), total);
    cr_expect_eq(atoi(sql_value(c, "SELECT count(*) FROM %s.runs WHERE run_id = 'first'",
                                schema)), 1);
    PQfinish(c);
}

typedef struct deleter {
    acp_store *st;
    int rounds;
    int failures;
    int purge; /* remove the run by acp_store_purge (after saving it final) */
} deleter;

static void *delete_loop(void *arg)
{
    deleter *d = arg;
    for (int i = 0; i < d->rounds; i++) {
        acp_error e;
        acp_status rc;
        if (d->purge) {
            acp_purge_filter f = ACP_PURGE_FILTER_INIT;
            f.finished_before_us = acp_time_now_us();
            f.agent_name = "racer";
            int64_t n = 0;
            rc = acp_run_save(d->st,
                              "{\"run_id\":\"race\",\"agent_name\":\"racer\",\"status\":"
                              "\"completed\",\"created_at\":\"2020-01-01T00:00:00Z\","
                              "\"finished_at\":\"2020-01-01T00:01:00Z\"}",
                              ACP_STRLEN, &e);
            if (rc == ACP_OK)
                rc = acp_store_purge(d->st, &f, NULL, NULL, &n, &e);
            if (rc == ACP_OK && n != 1)
                rc = ACP_IO; /* the run just saved was not purged */
        } else {
            rc = acp_run_delete(d->st, "race", &e);
        }
        if (rc != ACP_OK && rc != ACP_NOT_FOUND && d->failures++ == 0)
            cr_log_error("%s", rc == ACP_IO && d->purge ? "not purged" : e.message);
        sleep_ms(2);
    }
    return NULL;
}

/* Appenders to one run while it is deleted (or purged) again and again: no
 * append fails, and the events left number 1..n with the counter at n. */
static void race_appenders(const char *name, int purge)
{
    const char *schema = schema_for(name);
    acp_store *st = open_schema(&g_srv, schema, "pool_size=6");
    pthread_t dt;
    deleter d = {st, 60, 0, purge};
    pthread_create(&dt, NULL, delete_loop, &d);
    int bad = run_threads(st, "race", 0, 4, 200, append_loop);
    pthread_join(dt, NULL);
    cr_expect_eq(bad, 0, "appends failed");
    cr_expect_eq(d.failures, 0, "deletes failed");
    PGconn *c = admin(&g_srv);
    int n = atoi(sql_value(c, "SELECT count(*) FROM %s.events WHERE run_id = 'race'", schema));
    int max = atoi(sql_value(c, "SELECT coalesce(max(seq), 0) FROM %s.events WHERE run_id = "
                                "'race'", schema));
    int last = atoi(sql_value(c, "SELECT coalesce(max(last_seq), 0) FROM %s.event_seq WHERE "
                                 "run_id = 'race'", schema));
    cr_expect_eq(n, max, "%d events but the highest sequence is %d", n, max);
    cr_expect_eq(last, max, "the counter says %d, the events %d", last, max);
    cr_expect_eq(add_event(st, "race"), max + 1);
    PQfinish(c);
    acp_store_close(st);
}

Test(postgres, delete_run_racing_appenders_leaves_a_gap_free_sequence)
{
    race_appenders("delrace", 0);
}

/* The purge removes runs in delete_run's steps and lock order (pg_ops.c). */
Test(postgres, purge_racing_appenders_leaves_a_gap_free_sequence)
{
    race_appenders("purgerace", 1);
}

/* ------------------------------------------------------------------ */
/* Pool and timeouts                                                    */
/* ------------------------------------------------------------------ */

static void *mixed_loop(void *arg)
{
    appender *a = arg;
    for (int i = 0; i < a->n; i++) {
        char id[32], *json;
        snprintf(id, sizeof id, "pool-%d-%d", a->thread, i % 5);
        char doc[128];
        snprintf(doc, sizeof doc, "{\"run_id\":\"%s\",\"agent_name\":\"a\",\"status\":\"created\"}",
                 id);
        acp_error e;
        if (acp_run_save(a->st, doc, ACP_STRLEN, &e) != ACP_OK ||
            acp_run_get(a->st, id, &json, NULL, &e) != ACP_OK)
            a->failures++;
        else
            acp_free(json);
    }
    return NULL;
}

Test(postgres, pool_size_caps_the_connections_of_a_store)
{
    const char *schema = schema_for("pool");
    char app[64], more[128];
    snprintf(app, sizeof app, "tpg_pool_%d", (int)getpid());
    snprintf(more, sizeof more, "pool_size=2&application_name=%s", app);
    acp_store *st = open_schema(&g_srv, schema, more);
    cr_expect_eq(run_threads(st, NULL, 0, 8, 100, mixed_loop), 0);
    PGconn *c = admin(&g_srv);
    int n = atoi(sql_value(c, "SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s'",
                           app));
    cr_expect(n >= 1 && n <= 2, "%d connections for pool_size=2", n);
    acp_store_close(st);
    sleep_ms(200);
    n = atoi(sql_value(c, "SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s'",
                       app));
    cr_expect_eq(n, 0, "close left %d connections", n);
    PQfinish(c);
}

/* Lock the event counter of run_id from another session. */
static PGconn *lock_counter(const char *schema, const char *run_id)
{
    PGconn *c = admin(&g_srv);
    sql(c, "BEGIN");
    cr_assert_str_eq(sql_value(c, "SELECT run_id FROM %s.event_seq WHERE run_id = '%s' FOR UPDATE",
                               schema, run_id), run_id);
    return c;
}

Test(postgres, statement_timeout_stops_a_blocked_statement_as_unavailable)
{
    const char *schema = schema_for("stmt_to");
    acp_store *st = open_schema(&g_srv, schema, "statement_timeout=300");
    cr_assert_eq(add_event(st, "locked"), 1);
    PGconn *c = lock_counter(schema, "locked");
    int64_t t0 = mono_ms(), seq = 0;
    acp_error e = {0};
    acp_status rc = acp_event_add(st, "locked", "{\"type\":\"x\"}", ACP_STRLEN, &seq, &e);
    int64_t took = mono_ms() - t0;
    cr_expect_eq(rc, ACP_UNAVAILABLE, "%s", e.message);
    cr_expect(took >= 250 && took < 3000, "took %" PRId64 " ms", took);
    cr_expect_not_null(strstr(e.message, "statement timeout"), "%s", e.message);
    sql(c, "COMMIT");
    PQfinish(c);
    cr_expect_eq(add_event(st, "locked"), 2, "the timed-out append left a gap");
    acp_store_close(st);
}

Test(postgres, the_call_timeout_bounds_waits_and_the_server_drops_the_abandoned_statement)
{
    const char *schema = schema_for("call_to");
    char extra[128];
    snprintf(extra, sizeof extra, "schema=%s&statement_timeout=0", schema);
    char *u = uri_with(&g_srv, extra);
    acp_store *st = open_with_timeout(u, 500);
    free(u);
    cr_assert_eq(add_event(st, "locked"), 1);
    PGconn *c = lock_counter(schema, "locked");
    int64_t t0 = mono_ms(), seq = 0;
    acp_error e = {0};
    acp_status rc = acp_event_add(st, "locked", "{\"type\":\"x\"}", ACP_STRLEN, &seq, &e);
    int64_t took = mono_ms() - t0;
    cr_expect_eq(rc, ACP_UNAVAILABLE, "%s", e.message);
    cr_expect(took >= 400 && took < 2500, "took %" PRId64 " ms", took);
    /* The server notices the closed connection (client_connection_check_
     * interval) and rolls the statement back before the lock is free. */
    sleep_ms(2000);
    sql(c, "COMMIT");
    PQfinish(c);
    sleep_ms(100);
    cr_expect_eq(add_event(st, "locked"), 2, "the abandoned append was stored");
    acp_store_close(st);
}

/* Pids of the server processes serving application_name app. */
static int backend_pids(PGconn *c, const char *app, int *pids, int max)
{
    char q[256];
    snprintf(q, sizeof q, "SELECT pid FROM pg_stat_activity WHERE application_name = '%s'", app);
    PGresult *r = PQexec(c, q);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    int n = 0;
    for (int i = 0; i < PQntuples(r) && n < max; i++)
        pids[n++] = atoi(PQgetvalue(r, i, 0));
    PQclear(r);
    return n;
}

Test(postgres, ping_answers_within_the_timeout_when_the_server_hangs)
{
    const char *schema = schema_for("hang");
    char app[64], extra[256];
    snprintf(app, sizeof app, "tpg_hang_%d", (int)getpid());
    snprintf(extra, sizeof extra, "schema=%s&pool_size=1&application_name=%s", schema, app);
    char *u = uri_with(&g_srv, extra);
    acp_store *st = open_with_timeout(u, 800);
    free(u);
    acp_error e = {0};
    cr_assert_eq(acp_store_ping(st, &e), ACP_OK, "%s", e.message);
    PGconn *c = admin(&g_srv);
    int pids[4];
    int n = backend_pids(c, app, pids, 4);
    cr_assert_eq(n, 1);
    kill(pids[0], SIGSTOP); /* the store's own server process, nothing else */
    int64_t t0 = mono_ms();
    acp_status rc = acp_store_ping(st, &e);
    int64_t took = mono_ms() - t0;
    kill(pids[0], SIGCONT);
    cr_expect_eq(rc, ACP_UNAVAILABLE, "%s", e.message);
    cr_expect(took >= 700 && took < 2000, "ping took %" PRId64 " ms", took);
    cr_expect_eq(acp_store_ping(st, &e), ACP_OK, "%s", e.message);
    acp_store_close(st);
    PQfinish(c);
}

Test(postgres, connecting_to_a_server_that_never_answers_is_bounded)
{
    /* A socket that accepts connections (the kernel does) but never speaks. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(s, 16), 0);
    socklen_t len = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &len);
    char u[256];
    snprintf(u, sizeof u, "postgres://postgres@127.0.0.1:%d/acp", ntohs(a.sin_port));
    acp_config *cfg;
    acp_error e = {0};
    acp_config_new(&cfg, &e);
    acp_config_parse_uri(cfg, u, &e);
    acp_config_set_timeout_ms(cfg, 1500, &e);
    acp_store *st = NULL;
    int64_t t0 = mono_ms();
    acp_status rc = acp_store_open_config(cfg, &st, &e);
    int64_t took = mono_ms() - t0;
    acp_config_free(cfg);
    close(s);
    cr_expect_eq(rc, ACP_UNAVAILABLE, "%s", e.message);
    /* libpq's connect_timeout counts whole seconds, at least 2. */
    cr_expect(took < 3500, "open took %" PRId64 " ms", took);
}

/* ------------------------------------------------------------------ */
/* Server down, restarted                                               */
/* ------------------------------------------------------------------ */

Test(postgres, a_stopped_server_gives_unavailable_quickly_and_calls_recover)
{
    server s;
    private_start(&s);
    acp_store *st = open_schema(&s, "acp", "pool_size=3");
    save_run(st, "r1", "a", NULL);
    cr_assert_eq(add_event(st, "r1"), 1);
    cr_assert_eq(script("down", s.state), 0);
    acp_error e = {0};
    char *json;
    int64_t t0 = mono_ms();
    cr_expect_eq(acp_store_ping(st, &e), ACP_UNAVAILABLE, "%s", e.message);
    cr_expect_lt(mono_ms() - t0, 2000);
    cr_expect_eq(acp_run_get(st, "r1", &json, NULL, &e), ACP_UNAVAILABLE, "%s", e.message);
    int64_t seq;
    cr_expect_eq(acp_event_add(st, "r1", "{\"type\":\"x\"}", ACP_STRLEN, &seq, &e),
                 ACP_UNAVAILABLE, "%s", e.message);
    cr_expect_eq(acp_run_save(st, "{\"run_id\":\"r2\",\"agent_name\":\"a\",\"status\":\"created\"}",
                              ACP_STRLEN, &e), ACP_UNAVAILABLE, "%s", e.message);
    cr_assert_eq(script("up", s.state), 0);
    cr_expect_eq(acp_store_ping(st, &e), ACP_OK, "%s", e.message);
    cr_expect_eq(acp_run_get(st, "r1", &json, NULL, &e), ACP_OK, "%s", e.message);
    acp_free(json);
    cr_expect_eq(add_event(st, "r1"), 2, "the failed append was stored after all");
    acp_store_close(st);
    private_stop(&s);
}

typedef struct looper {
    acp_store *st;
    volatile int *stop;
    int thread;
    int ok, unavailable, other;
    int ok_after;        /* successes once the restart was over */
    volatile int *restarted;
} looper;

static void *loop_until_stopped(void *arg)
{
    looper *l = arg;
    char run[32];
    snprintf(run, sizeof run, "loop-%d", l->thread);
    while (!*l->stop) {
        int64_t seq;
        acp_error e;
        acp_status rc = acp_event_add(l->st, run, "{\"type\":\"x\"}", ACP_STRLEN, &seq, &e);
        if (rc == ACP_OK) {
            l->ok++;
            if (*l->restarted)
                l->ok_after++;
        } else if (rc == ACP_UNAVAILABLE) {
            l->unavailable++;
        } else {
            l->other++;
            fprintf(stderr, "unexpected: %s\n", e.message);
        }
    }
    return NULL;
}

Test(postgres, calls_reconnect_by_themselves_after_a_server_restart)
{
    server s;
    private_start(&s);
    acp_store *st = open_schema(&s, "acp", "pool_size=4");
    /* Fill the pool with several connections. */
    cr_assert_eq(run_threads(st, NULL, 0, 4, 20, mixed_loop), 0);
    save_run(st, "r1", "a", "s1");
    cr_assert_eq(add_event(st, "r1"), 1);

    cr_assert_eq(script("restart", s.state), 0);
    /* Every first call after the restart succeeds: idle connections the
     * server closed are replaced before anything is sent on them. */
    acp_error e = {0};
    char *json;
    /* First an append, which is never retried once sent: it succeeds only
     * because the dead connection is noticed before anything is sent. */
    cr_expect_eq(add_event(st, "r1"), 2);
    cr_expect_eq(acp_store_ping(st, &e), ACP_OK, "%s", e.message);
    cr_expect_eq(acp_run_get(st, "r1", &json, NULL, &e), ACP_OK, "%s", e.message);
    acp_free(json);
    save_run(st, "r2", "a", "s1");
    cr_expect_eq(acp_session_save(st, "{\"id\":\"s1\",\"history\":[],\"state\":null}", ACP_STRLEN,
                                  &e), ACP_OK, "%s", e.message);
    cr_expect_eq(acp_session_delete(st, "s1", &e), ACP_OK, "%s", e.message);
    cr_expect_eq(acp_run_delete(st, "r2", &e), ACP_OK, "%s", e.message);
    cr_expect_eq(run_threads(st, NULL, 0, 4, 20, mixed_loop), 0);

    /* A restart while threads append: calls in flight may report
     * UNAVAILABLE, nothing else, and every thread goes on afterwards. */
    volatile int stop = 0, restarted = 0;
    pthread_t t[4];
    looper l[4];
    for (int i = 0; i < 4; i++) {
        l[i] = (looper){st, &stop, i, 0, 0, 0, 0, &restarted};
        pthread_create(&t[i], NULL, loop_until_stopped, &l[i]);
    }
    sleep_ms(300);
    cr_expect_eq(script("restart", s.state), 0);
    restarted = 1;
    sleep_ms(500);
    stop = 1;
    PGconn *c = admin(&s);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_expect_eq(l[i].other, 0, "thread %d: %d failures other than UNAVAILABLE", i, l[i].other);
        cr_expect_gt(l[i].ok_after, 0, "thread %d did not recover", i);
        /* Sequences stay unique and gap-free. */
        int n = atoi(sql_value(c, "SELECT count(*) FROM acp.events WHERE run_id = 'loop-%d'", i));
        int max = atoi(sql_value(c, "SELECT max(seq) FROM acp.events WHERE run_id = 'loop-%d'", i));
        cr_expect_eq(n, max, "thread %d: %d events, highest sequence %d", i, n, max);
        cr_expect_geq(n, l[i].ok);
    }
    PQfinish(c);
    acp_store_close(st);
    private_stop(&s);
}

Test(postgres, a_forked_child_uses_connections_of_its_own)
{
    const char *schema = schema_for("fork");
    acp_store *st = open_schema(&g_srv, schema, "pool_size=2");
    save_run(st, "r1", "a", NULL);
    cr_assert_eq(add_event(st, "r1"), 1);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        char *json;
        acp_error e;
        int64_t seq = 0;
        int ok = acp_run_get(st, "r1", &json, NULL, &e) == ACP_OK;
        if (ok)
            acp_free(json);
        ok = ok && acp_event_add(st, "r1", "{\"type\":\"x\"}", ACP_STRLEN, &seq, &e) == ACP_OK &&
             seq == 2;
        acp_store_close(st);
        _exit(ok ? 0 : 1);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed");
    /* The parent's connection survived the child's use and close. */
    char *json;
    acp_error e = {0};
    cr_expect_eq(acp_run_get(st, "r1", &json, NULL, &e), ACP_OK, "%s", e.message);
    acp_free(json);
    cr_expect_eq(add_event(st, "r1"), 3);
    acp_store_close(st);
}
