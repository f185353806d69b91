/* SPDX-License-Identifier: MIT */
/*
 * test_sqlite.c - what only the sqlite backend promises: its options, its
 * schema and query plans, its handling of damaged and foreign files, its
 * behaviour under many threads and processes, and its constant-cost totals
 * and pages.  The general contract is checked by the conformance suite.
 *
 * Every test works in a fresh temporary directory and goes through the
 * application API; tests that inspect the database open it with SQLite
 * directly.  (Tests run as root, for whom chmod does not make a directory
 * read-only: unwritable places are taken from /proc instead.)
 */
#define _GNU_SOURCE /* nftw, memmem */

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "acp_storage.h"
#include "acp_storage_plugin.h" /* ACP_CAP_* */
#include "crc32c.h"
#include "sqlite_sql.h"

#define ACP_SQ_STR2(x) #x
#define ACP_SQ_STR(x) ACP_SQ_STR2(x)

#include "sq_test_dir.h"

/* 300 s: the largest test fills 100,000 runs, each also updating 18 rows
 * of time_counts (triggers).  (A per-test timeout instead made Criterion
 * 2.4 leak 48 bytes under LeakSanitizer.) */
TestSuite(sqlite, .init = setup, .fini = teardown, .timeout = 300);

/* ---- helpers ---- */

static const char *uri_of(const char *fmt, ...)
{
    static char uri[1200];
    char tail[512] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tail, sizeof tail, fmt, ap);
    va_end(ap);
    snprintf(uri, sizeof uri, "sqlite:%s%s", g_db, tail);
    return uri;
}

static acp_store *open_ok(const char *uri)
{
    acp_store *s = NULL;
    acp_error e = {0};
    acp_status st = acp_store_open(uri, &s, &e);
    cr_assert_eq(st, ACP_OK, "open %s: %s: %s", uri, acp_status_name(st), e.message);
    return s;
}

/* Open expecting failure with `code`; returns the message. */
static const char *open_fails(const char *uri, acp_status code)
{
    static acp_error e;
    acp_store *s = NULL;
    memset(&e, 0, sizeof e);
    acp_status st = acp_store_open(uri, &s, &e);
    if (st == ACP_OK)
        acp_store_close(s);
    cr_assert_eq(st, code, "open %s: expected %s, got %s: %s", uri, acp_status_name(code),
                 acp_status_name(st), e.message);
    return e.message;
}

static int run_json(char *buf, size_t size, const char *id, const char *agent,
                    const char *session, int64_t created_us, size_t pad)
{
    char created[ACP_TIME_BUFSZ + 32] = "";
    char sess[300] = "";
    if (created_us != INT64_MIN) {
        char t[ACP_TIME_BUFSZ];
        acp_time_format(created_us, t);
        snprintf(created, sizeof created, ",\"created_at\":\"%s\"", t);
    }
    if (session)
        snprintf(sess, sizeof sess, ",\"session_id\":\"%s\"", session);
    int n = snprintf(buf, size, "{\"run_id\":\"%s\",\"agent_name\":\"%s\",\"status\":\"created\"%s%s,"
                                "\"pad\":\"",
                     id, agent, sess, created);
    for (size_t i = 0; i < pad && (size_t)n + 3 < size; i++)
        buf[n++] = 'x';
    n += snprintf(buf + n, size - (size_t)n, "\"}");
    return n;
}

static acp_status save_run(acp_store *s, const char *id, const char *agent, const char *session,
                           int64_t created_us, acp_error *e)
{
    char doc[1024];
    run_json(doc, sizeof doc, id, agent, session, created_us, 0);
    return acp_run_save(s, doc, ACP_STRLEN, e);
}

static void save_run_ok(acp_store *s, const char *id, const char *agent, const char *session,
                        int64_t created_us)
{
    acp_error e = {0};
    acp_status st = save_run(s, id, agent, session, created_us, &e);
    cr_assert_eq(st, ACP_OK, "save %s: %s: %s", id, acp_status_name(st), e.message);
}

static int64_t add_event_ok(acp_store *s, const char *run_id)
{
    acp_error e = {0};
    int64_t seq = 0;
    acp_status st = acp_event_add(s, run_id, "{\"type\":\"message.part\",\"part\":{\"content\":\"hi\"}}",
                                  ACP_STRLEN, &seq, &e);
    cr_assert_eq(st, ACP_OK, "add_event %s: %s: %s", run_id, acp_status_name(st), e.message);
    return seq;
}

/* Check that the events of run_id are exactly 1..n in order. */
static void assert_events_exactly(acp_store *s, const char *run_id, int64_t n)
{
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    int64_t expect = 1;
    f.limit = 1000;
    for (;;) {
        acp_page *p = NULL;
        acp_error e = {0};
        acp_status st = acp_event_list(s, run_id, &f, &p, &e);
        cr_assert_eq(st, ACP_OK, "event_list: %s", e.message);
        size_t count = acp_page_count(p);
        for (size_t i = 0; i < count; i++, expect++)
            cr_assert_eq(acp_page_seq(p, i), expect, "event %zu of %s has seq %" PRId64
                         ", expected %" PRId64, i, run_id, acp_page_seq(p, i), expect);
        if (count > 0)
            f.after_seq = acp_page_seq(p, count - 1);
        acp_page_free(p);
        if (count == 0)
            break;
    }
    cr_assert_eq(expect - 1, n, "%s has %" PRId64 " events, expected %" PRId64, run_id,
                 expect - 1, n);
}

/* Total reported for a filter, and the number of runs a full walk visits. */
static void list_count(acp_store *s, const char *agent, const char *session, int64_t *total,
                       int64_t *walked)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    char *cursor = NULL;
    f.agent_name = agent;
    f.session_id = session;
    f.limit = 1000;
    f.want_total = 1;
    *walked = 0;
    *total = -1;
    for (;;) {
        acp_page *p = NULL;
        acp_error e = {0};
        f.cursor = cursor;
        acp_status st = acp_run_list(s, &f, &p, &e);
        cr_assert_eq(st, ACP_OK, "run_list: %s", e.message);
        if (*total < 0)
            *total = acp_page_total(p);
        *walked += (int64_t)acp_page_count(p);
        free(cursor);
        cursor = acp_page_next_cursor(p) ? strdup(acp_page_next_cursor(p)) : NULL;
        acp_page_free(p);
        if (!cursor)
            break;
        f.want_total = 0;
    }
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* acp_crc(key, doc) as the tests understand the stored checksum
 * (sqlite_sql.h, version 2): CRC-32C of the key, a NUL byte, the document. */
static void raw_crc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const unsigned char *key = sqlite3_value_text(argv[0]);
    int key_len = sqlite3_value_bytes(argv[0]);
    const unsigned char *doc = sqlite3_value_text(argv[1]);
    int doc_len = sqlite3_value_bytes(argv[1]);
    (void)argc;
    uint32_t crc = acp_crc32c(0, key, (size_t)key_len);
    crc = acp_crc32c(crc, "", 1);
    sqlite3_result_int64(ctx, acp_crc32c(crc, doc, (size_t)doc_len));
}

/* A direct connection to the test's database, with acp_crc(). */
static sqlite3 *raw_open_flags(int flags)
{
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(g_db, &db, flags, NULL), SQLITE_OK, "sqlite3_open %s", g_db);
    sqlite3_busy_timeout(db, 5000);
    cr_assert_eq(sqlite3_create_function_v2(db, "acp_crc", 2, SQLITE_UTF8, NULL, raw_crc, NULL,
                                            NULL, NULL),
                 SQLITE_OK);
    return db;
}

static sqlite3 *raw_open(void)
{
    return raw_open_flags(SQLITE_OPEN_READWRITE);
}

static void raw_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, msg ? msg : "");
}

static int64_t raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s: %s", sql, sqlite3_errmsg(db));
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* ---- options and locations ---- */

Test(sqlite, options_with_valid_values_open)
{
    static const char *const ok[] = {
        "?busy_timeout=0",   "?busy_timeout=250",    "?synchronous=normal",
        "?synchronous=full", "?mode=rw",             "?cache_size=-4000",
        "?cache_size=500",   "?mmap_size=0",         "?mmap_size=268435456",
        "?busy_timeout=1000&synchronous=full&cache_size=100&mmap_size=1048576",
        "?time_totals=false", "?time_totals=true",  "?time_totals=0",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        acp_store *s = open_ok(uri_of("%s", ok[i]));
        save_run_ok(s, "r", "a", NULL, 1000000);
        acp_store_close(s);
    }
}

Test(sqlite, options_with_bad_values_are_invalid_and_named)
{
    static const char *const bad[][2] = {
        {"busy_timeout=-1", "busy_timeout"},   {"busy_timeout=abc", "busy_timeout"},
        {"busy_timeout=", "busy_timeout"},     {"busy_timeout=99999999999", "busy_timeout"},
        {"busy_timeout=10ms", "busy_timeout"}, {"busy_timeout=+5", "busy_timeout"},
        {"synchronous=off", "synchronous"},    {"synchronous=FULL", "synchronous"},
        {"mode=rwc", "mode"},                  {"mode=", "mode"},
        {"cache_size=1.5", "cache_size"},      {"cache_size=x", "cache_size"},
        {"mmap_size=-1", "mmap_size"},         {"mmap_size=1e6", "mmap_size"},
        {"time_totals=maybe", "time_totals"},  {"time_totals=", "time_totals"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *msg = open_fails(uri_of("?%s", bad[i][0]), ACP_INVALID);
        cr_expect_not_null(strstr(msg, bad[i][1]), "message for %s does not name it: %s",
                           bad[i][0], msg);
    }
    /* A refused option leaves no file behind. */
    cr_expect_eq(access(g_db, F_OK), -1, "a refused open created %s", g_db);
}

Test(sqlite, unknown_option_is_refused)
{
    const char *msg = open_fails(uri_of("?journal=wal"), ACP_INVALID);
    cr_expect_not_null(strstr(msg, "journal"), "%s", msg);
}

Test(sqlite, uri_needs_a_path_and_no_host)
{
    open_fails("sqlite:", ACP_INVALID);
    open_fails("sqlite://", ACP_INVALID);
    const char *msg = open_fails("sqlite://data.db", ACP_INVALID);
    cr_expect_not_null(strstr(msg, "sqlite:///"), "no hint in: %s", msg);
    open_fails("sqlite::memory:", ACP_INVALID);
}

Test(sqlite, relative_path_is_relative_to_the_working_directory)
{
    char cwd[1024], where[700];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    cr_assert_eq(chdir(g_dir), 0);
    acp_store *s = open_ok("sqlite:rel.db");
    save_run_ok(s, "r", "a", NULL, 1000000);
    acp_store_close(s);
    cr_assert_eq(chdir(cwd), 0);
    snprintf(where, sizeof where, "%s/rel.db", g_dir);
    cr_expect_eq(access(where, F_OK), 0, "%s was not created", where);
}

Test(sqlite, missing_parent_directory_is_io_naming_the_path)
{
    char uri[800];
    snprintf(uri, sizeof uri, "sqlite:%s/no/such/dir/t.db", g_dir);
    const char *msg = open_fails(uri, ACP_IO);
    cr_expect_not_null(strstr(msg, "/no/such/dir/t.db"), "path missing in: %s", msg);
    cr_expect_not_null(strstr(msg, "No such file"), "reason missing in: %s", msg);
}

Test(sqlite, unwritable_location_is_io_naming_the_path)
{
    /* procfs refuses new files even to root. */
    const char *msg = open_fails("sqlite:///proc/acp-storage-test.db", ACP_IO);
    cr_expect_not_null(strstr(msg, "/proc/acp-storage-test.db"), "path missing in: %s", msg);
}

Test(sqlite, read_only_mode_reads_and_refuses_writes)
{
    /* Nothing to open yet: mode=ro does not create. */
    const char *msg = open_fails(uri_of("?mode=ro"), ACP_IO);
    cr_expect_not_null(strstr(msg, g_db), "%s", msg);
    cr_expect_not_null(strstr(msg, "mode=ro"), "%s", msg);
    cr_expect_eq(access(g_db, F_OK), -1, "mode=ro created %s", g_db);

    acp_store *s = open_ok(uri_of(""));
    save_run_ok(s, "r1", "a", NULL, 1000000);
    add_event_ok(s, "r1");
    acp_store_close(s);

    s = open_ok(uri_of("?mode=ro"));
    char *json = NULL;
    acp_error e = {0};
    cr_assert_eq(acp_run_get(s, "r1", &json, NULL, &e), ACP_OK, "%s", e.message);
    acp_free(json);
    assert_events_exactly(s, "r1", 1);

    acp_status st = save_run(s, "r2", "a", NULL, 2000000, &e);
    cr_expect_eq(st, ACP_IO, "save in mode=ro: %s", acp_status_name(st));
    cr_expect_not_null(strstr(e.message, "read-only"), "%s", e.message);
    int64_t seq = 0;
    cr_expect_eq(acp_event_add(s, "r1", "{\"type\":\"x\"}", ACP_STRLEN, &seq, &e), ACP_IO);
    cr_expect_eq(acp_run_delete(s, "r1", &e), ACP_IO);
    cr_expect_eq(acp_session_save(s, "{\"id\":\"s\"}", ACP_STRLEN, &e), ACP_IO);
    cr_expect_eq(acp_session_delete(s, "s", &e), ACP_IO);
    acp_store_close(s);

    s = open_ok(uri_of(""));
    cr_expect_eq(acp_run_get(s, "r2", &json, NULL, &e), ACP_NOT_FOUND);
    cr_expect_eq(acp_run_get(s, "r1", &json, NULL, &e), ACP_OK);
    acp_free(json);
    assert_events_exactly(s, "r1", 1);
    acp_store_close(s);
}

/* ---- read-only use by another user ---- */

/* These run parts of a test as other users: the owner of the store is
 * "daemon" and the reader is "nobody", so that permissions apply (root
 * ignores them).  Steps in a child report failures on stderr and through
 * their exit status. */

static uid_t uid_of(const char *user, gid_t *gid)
{
    struct passwd *pw = getpwnam(user);
    cr_assert_not_null(pw, "no user %s", user);
    *gid = pw->pw_gid;
    return pw->pw_uid;
}

static void need_root(void)
{
    if (geteuid() != 0)
        cr_skip_test("needs root, to run the owner and a reader as other users (daemon, "
                     "nobody)");
}

/* Fork, become user, run step(arg) and exit with its result; returns the
 * child's pid. */
static pid_t start_as(const char *user, int (*step)(void *), void *arg)
{
    gid_t gid;
    uid_t uid = uid_of(user, &gid);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
            _exit(100);
        _exit(step(arg));
    }
    return pid;
}

static int wait_child(pid_t pid)
{
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int run_as(const char *user, int (*step)(void *), void *arg)
{
    return wait_child(start_as(user, step, arg));
}

/* Child steps: 0 on success. */
static int step_create(void *arg)
{
    (void)arg;
    acp_store *s = NULL;
    acp_error e = {0};
    char doc[256];
    run_json(doc, sizeof doc, "r1", "a", NULL, 1000000, 0);
    if (acp_store_open(uri_of(""), &s, &e) != ACP_OK || acp_run_save(s, doc, ACP_STRLEN, &e))
        return fprintf(stderr, "create: %s\n", e.message), 1;
    acp_store_close(s);
    return 0;
}

/* Read r1 through mode=ro: 0 when read, 2 when the open was refused with a
 * message about the -wal and -shm files, 1 otherwise. */
static int step_read(void *arg)
{
    (void)arg;
    acp_store *s = NULL;
    acp_error e = {0};
    char *json = NULL;
    acp_status st = acp_store_open(uri_of("?mode=ro"), &s, &e);
    if (st != ACP_OK) {
        fprintf(stderr, "read-only open: %s\n", e.message);
        return st == ACP_IO && strstr(e.message, "-wal and -shm") && strstr(e.message, g_db)
                   ? 2
                   : 1;
    }
    st = acp_run_get(s, "r1", &json, NULL, &e);
    acp_free(json);
    if (st != ACP_OK)
        fprintf(stderr, "read-only get: %s\n", e.message);
    acp_store_close(s);
    return st == ACP_OK ? 0 : 1;
}

static int g_ready[2]; /* the owner writes a byte when it has the store open */
static int g_go[2];    /* the parent writes a byte when the owner may go on */

/* The owner keeps the store open (so -wal and -shm exist) until told to
 * go on, then writes again. */
static int step_owner_holds(void *arg)
{
    (void)arg;
    acp_store *s = NULL;
    acp_error e = {0};
    char c, doc[256];
    run_json(doc, sizeof doc, "r2", "a", NULL, 2000000, 0);
    if (acp_store_open(uri_of(""), &s, &e) != ACP_OK)
        return fprintf(stderr, "owner open: %s\n", e.message), 1;
    if (write(g_ready[1], "o", 1) != 1 || read(g_go[0], &c, 1) != 1)
        return 1;
    if (acp_run_save(s, doc, ACP_STRLEN, &e) != ACP_OK)
        return fprintf(stderr, "owner save after the reader: %s\n", e.message), 1;
    acp_store_close(s);
    return 0;
}

/* Is any file in the store's folder owned by uid? */
static int owns_something(uid_t uid)
{
    DIR *d = opendir(g_dir);
    struct dirent *de;
    int found = 0;
    cr_assert_not_null(d);
    while ((de = readdir(d)) != NULL) {
        char p[1200];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", g_dir, de->d_name);
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && lstat(p, &st) == 0 &&
            st.st_uid == uid) {
            cr_log_error("%s belongs to uid %u", p, (unsigned)uid);
            found = 1;
        }
    }
    closedir(d);
    return found;
}

Test(sqlite, a_reader_of_another_user_never_locks_the_owner_out)
{
    need_root();
    gid_t gid;
    uid_t owner = uid_of("daemon", &gid), reader = uid_of("nobody", &gid);
    /* A folder everyone may write: the reader could create -wal and -shm. */
    cr_assert_eq(chown(g_dir, owner, (gid_t)-1), 0);
    cr_assert_eq(chmod(g_dir, 01777), 0);
    cr_assert_eq(run_as("daemon", step_create, NULL), 0);

    /* The store is closed (no -wal, -shm): the reader says why it cannot
     * read and creates nothing. */
    cr_expect_eq(run_as("nobody", step_read, NULL), 2);
    cr_expect_not(owns_something(reader), "the reader left files behind");

    /* The owner has it open: the reader reads through the owner's files. */
    cr_assert_eq(pipe(g_ready), 0);
    cr_assert_eq(pipe(g_go), 0);
    pid_t holder = start_as("daemon", step_owner_holds, NULL);
    char c;
    close(g_ready[1]); /* an owner that fails ends the wait */
    cr_assert_eq(read(g_ready[0], &c, 1), 1, "the owner could not open the store");
    cr_expect_eq(run_as("nobody", step_read, NULL), 0, "the reader could not read");
    cr_expect_not(owns_something(reader), "the reader left files behind");
    cr_assert_eq(write(g_go[1], "g", 1), 1);
    cr_expect_eq(wait_child(holder), 0, "the owner was locked out after the reader");

    /* And the owner can open it again and write. */
    cr_expect_eq(run_as("daemon", step_create, NULL), 0, "the owner was locked out");
    close(g_ready[0]);
    close(g_go[0]);
    close(g_go[1]);
}

Test(sqlite, a_store_nobody_can_write_is_read_as_immutable_by_another_user)
{
    need_root();
    gid_t gid;
    uid_t owner = uid_of("daemon", &gid), reader = uid_of("nobody", &gid);
    cr_assert_eq(chown(g_dir, owner, (gid_t)-1), 0);
    cr_assert_eq(chmod(g_dir, 0755), 0);
    cr_assert_eq(run_as("daemon", step_create, NULL), 0);

    /* A folder nobody may write. */
    cr_assert_eq(chmod(g_dir, 0555), 0);
    cr_expect_eq(run_as("nobody", step_read, NULL), 0, "read-only folder, another user");
    cr_expect_eq(run_as("daemon", step_read, NULL), 0, "read-only folder, the owner");
    cr_expect_not(owns_something(reader));

    /* A database file nobody may write, in a folder its owner may write. */
    cr_assert_eq(chmod(g_dir, 0755), 0);
    cr_assert_eq(chmod(g_db, 0444), 0);
    cr_expect_eq(run_as("nobody", step_read, NULL), 0, "read-only file, another user");
    cr_expect_not(owns_something(reader));

    /* Writable again: the reader is a guest, refused with the reason. */
    cr_assert_eq(chmod(g_db, 0644), 0);
    cr_expect_eq(run_as("nobody", step_read, NULL), 2);
    cr_expect_eq(run_as("daemon", step_create, NULL), 0, "the owner was locked out");
}

/* ---- schema ---- */

static void assert_plan(sqlite3 *db, const char *sql, const char *must)
{
    char explain[2048], plan[2048] = "";
    sqlite3_stmt *st = NULL;
    size_t len = 0;
    snprintf(explain, sizeof explain, "EXPLAIN QUERY PLAN %s", sql);
    cr_assert_eq(sqlite3_prepare_v2(db, explain, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    while (sqlite3_step(st) == SQLITE_ROW)
        len += (size_t)snprintf(plan + len, sizeof plan - len, "%s; ",
                                (const char *)sqlite3_column_text(st, 3));
    sqlite3_finalize(st);
    cr_expect_null(strstr(plan, "TEMP B-TREE"), "sort step in the plan of\n  %s\n  -> %s", sql,
                   plan);
    cr_expect_not_null(strstr(plan, must), "plan of\n  %s\n  -> %s\n  does not use %s", sql,
                       plan, must);
}

Test(sqlite, query_plans_never_sort_and_always_use_an_index)
{
    acp_store *s = open_ok(uri_of(""));
    save_run_ok(s, "r1", "a", "s1", 1000000);
    save_run_ok(s, "r2", "b", NULL, 2000000);
    add_event_ok(s, "r1");
    acp_store_close(s);

    sqlite3 *db = raw_open();
    /* Variants: +1 agent, +2 session, +4 cursor. */
    static const char *const index_of[4] = {"runs_created", "runs_agent", "runs_session",
                                            "runs_agent_session"};
    for (int v = 0; v < 8; v++)
        assert_plan(db, acp_sqlite_sql[ACP_SQ_LIST_RUNS + v], index_of[v & 3]);
    assert_plan(db, acp_sqlite_sql[ACP_SQ_COUNT_RUNS], "PRIMARY KEY (kind=? AND agent=? AND session=?)");
    assert_plan(db, acp_sqlite_sql[ACP_SQ_GET_RUN], "(run_id=?)");
    assert_plan(db, acp_sqlite_sql[ACP_SQ_GET_EVENTS], "PRIMARY KEY (run_id=? AND seq>?)");
    assert_plan(db, acp_sqlite_sql[ACP_SQ_ADD_EVENT], "PRIMARY KEY (run_id=?)");
    assert_plan(db, acp_sqlite_sql[ACP_SQ_LIST_SESSIONS], "INDEX");
    assert_plan(db, acp_sqlite_sql[ACP_SQ_LIST_SESSIONS_AFTER], "(id>?)");
    assert_plan(db, acp_sqlite_sql[ACP_SQ_DELETE_EVENTS], "PRIMARY KEY (run_id=?)");
    sqlite3_close(db);
}

Test(sqlite, store_records_its_schema_version)
{
    acp_store *s = open_ok(uri_of(""));
    acp_store_close(s);
    sqlite3 *db = raw_open();
    cr_expect_eq(raw_int(db, "PRAGMA user_version"), ACP_SQLITE_SCHEMA_VERSION);
    cr_expect_eq(raw_int(db, "PRAGMA application_id"), ACP_SQLITE_APPLICATION_ID);
    sqlite3_close(db);
}

Test(sqlite, newer_schema_is_refused_and_its_data_kept)
{
    acp_store *s = open_ok(uri_of(""));
    save_run_ok(s, "keep", "a", NULL, 1000000);
    acp_store_close(s);

    sqlite3 *db = raw_open();
    raw_exec(db, "PRAGMA user_version = 99");
    sqlite3_close(db);

    const char *msg = open_fails(uri_of(""), ACP_UNSUPPORTED);
    cr_expect_not_null(strstr(msg, g_db), "path missing in: %s", msg);
    cr_expect_not_null(strstr(msg, "99"), "found version missing in: %s", msg);
    char known[32];
    snprintf(known, sizeof known, "version %d", ACP_SQLITE_SCHEMA_VERSION);
    cr_expect_not_null(strstr(msg, known), "known version missing in: %s", msg);

    db = raw_open();
    cr_expect_eq(raw_int(db, "PRAGMA user_version"), 99, "the refusal changed the version");
    cr_expect_eq(raw_int(db, "SELECT count(*) FROM runs WHERE run_id = 'keep'"), 1);
    raw_exec(db, "PRAGMA user_version = " ACP_SQ_STR(ACP_SQLITE_SCHEMA_VERSION));
    sqlite3_close(db);

    s = open_ok(uri_of(""));
    char *json = NULL;
    acp_error e = {0};
    cr_expect_eq(acp_run_get(s, "keep", &json, NULL, &e), ACP_OK, "%s", e.message);
    acp_free(json);
    acp_store_close(s);
}

Test(sqlite, database_of_another_application_is_refused_and_untouched)
{
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(g_db, &db), SQLITE_OK);
    raw_exec(db, "CREATE TABLE theirs (x); INSERT INTO theirs VALUES (42)");
    sqlite3_close(db);

    const char *msg = open_fails(uri_of(""), ACP_INVALID);
    cr_expect_not_null(strstr(msg, g_db), "%s", msg);
    cr_expect_not_null(strstr(msg, "not an acp-storage store"), "%s", msg);

    db = raw_open();
    cr_expect_eq(raw_int(db, "SELECT count(*) FROM sqlite_schema"), 1);
    cr_expect_eq(raw_int(db, "SELECT x FROM theirs"), 42);
    sqlite3_close(db);
}

Test(sqlite, many_processes_creating_one_store_at_once_agree)
{
    enum { N = 4 };
    pid_t kids[N];
    for (int k = 0; k < N; k++) {
        kids[k] = fork();
        cr_assert_neq(kids[k], -1);
        if (kids[k] == 0) {
            acp_store *s = NULL;
            acp_error e = {0};
            char id[32];
            snprintf(id, sizeof id, "run-%d", k);
            if (acp_store_open(uri_of(""), &s, &e) != ACP_OK) {
                fprintf(stderr, "child %d open: %s\n", k, e.message);
                _exit(1);
            }
            if (save_run(s, id, "a", NULL, 1000000 + k, &e) != ACP_OK) {
                fprintf(stderr, "child %d save: %s\n", k, e.message);
                _exit(2);
            }
            acp_store_close(s);
            _exit(0);
        }
    }
    for (int k = 0; k < N; k++) {
        int ws = 0;
        cr_assert_eq(waitpid(kids[k], &ws, 0), kids[k]);
        cr_expect(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "child %d failed (%d)", k, ws);
    }
    acp_store *s = open_ok(uri_of(""));
    int64_t total, walked;
    list_count(s, NULL, NULL, &total, &walked);
    cr_expect_eq(total, N);
    cr_expect_eq(walked, N);
    acp_store_close(s);
}

/* ---- damage ---- */

Test(sqlite, file_that_is_not_sqlite_is_corrupt_naming_the_path)
{
    FILE *f = fopen(g_db, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 200; i++)
        fputs("this is a text file, not a database at all.\n", f);
    fclose(f);
    const char *msg = open_fails(uri_of(""), ACP_CORRUPT);
    cr_expect_not_null(strstr(msg, g_db), "path missing in: %s", msg);
}

/* Fill a store with n runs with big documents, one event each, and close
 * it (which checkpoints the WAL into the file). */
static void fill(int n)
{
    acp_store *s = open_ok(uri_of(""));
    static char doc[4096];
    for (int i = 0; i < n; i++) {
        char id[32];
        acp_error e = {0};
        snprintf(id, sizeof id, "run-%05d", i);
        run_json(doc, sizeof doc, id, i % 2 ? "a" : "b", NULL, 1000000 + i, 900);
        cr_assert_eq(acp_run_save(s, doc, ACP_STRLEN, &e), ACP_OK, "%s", e.message);
        add_event_ok(s, id);
    }
    acp_store_close(s);
    char wal[700];
    snprintf(wal, sizeof wal, "%s-wal", g_db);
    cr_assert_eq(access(wal, F_OK), -1, "the WAL survived close");
}

/* Read everything; every failure must be CORRUPT and name the path.
 * Returns the number of CORRUPT answers. */
static int read_all_expecting_corrupt(int n)
{
    acp_store *s = NULL;
    acp_error e = {0};
    int corrupt = 0;
    acp_status st = acp_store_open(uri_of(""), &s, &e);
    if (st != ACP_OK) {
        cr_expect_eq(st, ACP_CORRUPT, "open: %s: %s", acp_status_name(st), e.message);
        cr_expect_not_null(strstr(e.message, g_db), "path missing in: %s", e.message);
        return 1;
    }
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.want_total = 1;
    f.limit = 1000;
    for (int64_t off = 0; off < n; off += 1000) {
        acp_page *p = NULL;
        f.offset = off;
        st = acp_run_list(s, &f, &p, &e);
        if (st == ACP_OK) {
            acp_page_free(p);
            continue;
        }
        cr_expect_eq(st, ACP_CORRUPT, "list: %s: %s", acp_status_name(st), e.message);
        cr_expect_not_null(strstr(e.message, g_db), "path missing in: %s", e.message);
        corrupt++;
    }
    for (int i = 0; i < n; i += 7) {
        char id[32], *json = NULL;
        snprintf(id, sizeof id, "run-%05d", i);
        st = acp_run_get(s, id, &json, NULL, &e);
        acp_free(json);
        if (st == ACP_OK || st == ACP_NOT_FOUND)
            continue;
        cr_expect_eq(st, ACP_CORRUPT, "get %s: %s: %s", id, acp_status_name(st), e.message);
        cr_expect_not_null(strstr(e.message, g_db), "path missing in: %s", e.message);
        corrupt++;
    }
    acp_store_close(s);
    return corrupt;
}

Test(sqlite, truncated_file_is_corrupt_naming_the_path)
{
    fill(2000);
    struct stat sb;
    cr_assert_eq(stat(g_db, &sb), 0);
    cr_assert_eq(truncate(g_db, sb.st_size / 2), 0);
    cr_expect_gt(read_all_expecting_corrupt(2000), 0, "a truncated store read as healthy");
}

Test(sqlite, overwritten_pages_are_corrupt_naming_the_path)
{
    fill(2000);
    /* Keep page 1 (header and schema), scribble over the rest. */
    int fd = open(g_db, O_RDWR);
    cr_assert_geq(fd, 0);
    struct stat sb;
    cr_assert_eq(fstat(fd, &sb), 0);
    static char junk[4096];
    memset(junk, 0xA5, sizeof junk);
    for (off_t o = 4096; o < sb.st_size; o += (off_t)sizeof junk)
        cr_assert_eq(pwrite(fd, junk, sizeof junk, o), (ssize_t)sizeof junk);
    close(fd);
    cr_expect_gt(read_all_expecting_corrupt(2000), 0, "a scribbled store read as healthy");
}

Test(sqlite, damaged_header_is_corrupt_naming_the_path)
{
    fill(10);
    int fd = open(g_db, O_RDWR);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pwrite(fd, "NOT A DATABASE!!", 16, 0), 16);
    close(fd);
    const char *msg = open_fails(uri_of(""), ACP_CORRUPT);
    cr_expect_not_null(strstr(msg, g_db), "path missing in: %s", msg);
}

/* The child saves runs with big documents under a file size limit until a
 * write fails, and reports through the pipe how many succeeded and how the
 * failure was reported. */
struct full_report {
    int saved;
    acp_status st;
    char message[ACP_ERROR_MESSAGE_MAX];
};

/* ---- document checksums (schema version 2) ---- */

static void save_session_ok(acp_store *s, const char *id)
{
    char doc[128];
    acp_error e = {0};
    snprintf(doc, sizeof doc, "{\"id\":\"%s\",\"history\":[]}", id);
    acp_status st = acp_session_save(s, doc, ACP_STRLEN, &e);
    cr_assert_eq(st, ACP_OK, "session save %s: %s", id, e.message);
}

/* Runs r1 (agent a), r2 (agent b), r3 (agent a), sessions s1 and s2, and
 * three events of r1. */
static void fill_small(void)
{
    acp_store *s = open_ok(uri_of(""));
    save_run_ok(s, "r1", "a", NULL, 1000000);
    save_run_ok(s, "r2", "b", NULL, 2000000);
    save_run_ok(s, "r3", "a", NULL, 3000000);
    save_session_ok(s, "s1");
    save_session_ok(s, "s2");
    for (int i = 0; i < 3; i++)
        add_event_ok(s, "r1");
    acp_store_close(s);
}

/* Expect st == CORRUPT and a message naming every one of the NULL-ended
 * words. */
static void expect_corrupt(acp_status st, const acp_error *e, const char *what, ...)
{
    va_list ap;
    cr_expect_eq(st, ACP_CORRUPT, "%s: expected CORRUPT, got %s: %s", what,
                 acp_status_name(st), e->message);
    va_start(ap, what);
    for (const char *w = va_arg(ap, const char *); w; w = va_arg(ap, const char *))
        cr_expect_not_null(strstr(e->message, w), "%s: \"%s\" missing in: %s", what, w,
                           e->message);
    va_end(ap);
}

static acp_status get_run_status(acp_store *s, const char *id, acp_error *e)
{
    char *json = NULL;
    acp_status st = acp_run_get(s, id, &json, NULL, e);
    acp_free(json);
    return st;
}

static acp_status list_status(acp_store *s, const char *agent, acp_error *e)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    acp_page *p = NULL;
    f.agent_name = agent;
    f.limit = 100;
    acp_status st = acp_run_list(s, &f, &p, e);
    acp_page_free(p);
    return st;
}

static acp_status events_status(acp_store *s, const char *run_id, int64_t after, size_t *n,
                                acp_error *e)
{
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    acp_page *p = NULL;
    f.after_seq = after;
    acp_status st = acp_event_list(s, run_id, &f, &p, e);
    *n = st == ACP_OK ? acp_page_count(p) : 0;
    acp_page_free(p);
    return st;
}

static acp_status sessions_status(acp_store *s, const char *after, acp_error *e)
{
    acp_page *p = NULL;
    acp_status st = acp_session_list(s, after, 100, &p, e);
    acp_page_free(p);
    return st;
}

Test(sqlite, changed_document_bytes_read_as_corrupt_naming_the_item)
{
    fill_small();
    /* One byte each, as an operator with the sqlite3 shell would: r2's
     * document stays JSON, s2's and event 2's do not. */
    sqlite3 *db = raw_open();
    raw_exec(db, "UPDATE runs SET doc = replace(doc, '\"b\"', '\"c\"') WHERE run_id = 'r2';"
                 "UPDATE sessions SET doc = replace(doc, '[]', '[}') WHERE id = 's2';"
                 "UPDATE events SET doc = replace(doc, 'hi', 'h\"') WHERE run_id = 'r1'"
                 " AND seq = 2");
    sqlite3_close(db);

    acp_store *s = open_ok(uri_of(""));
    acp_error e = {0};
    size_t n = 0;
    char *json = NULL;
    expect_corrupt(get_run_status(s, "r2", &e), &e, "get r2", g_db, "run r2", "checksum", NULL);
    expect_corrupt(list_status(s, NULL, &e), &e, "list", "run r2", NULL);
    expect_corrupt(list_status(s, "b", &e), &e, "list agent b", "run r2", NULL);
    expect_corrupt(acp_session_get(s, "s2", &json, NULL, &e), &e, "get s2", "session s2", NULL);
    expect_corrupt(sessions_status(s, NULL, &e), &e, "session list", "session s2", NULL);
    expect_corrupt(events_status(s, "r1", 0, &n, &e), &e, "event list", "run r1 event 2",
                   NULL);
    acp_free(json);

    /* Everything else stays readable. */
    cr_expect_eq(get_run_status(s, "r1", &e), ACP_OK, "%s", e.message);
    cr_expect_eq(get_run_status(s, "r3", &e), ACP_OK, "%s", e.message);
    cr_expect_eq(list_status(s, "a", &e), ACP_OK, "%s", e.message);
    json = NULL;
    cr_expect_eq(acp_session_get(s, "s1", &json, NULL, &e), ACP_OK, "%s", e.message);
    acp_free(json);
    cr_expect_eq(sessions_status(s, "s2", &e), ACP_OK, "%s", e.message);
    cr_expect_eq(events_status(s, "r1", 2, &n, &e), ACP_OK, "%s", e.message);
    cr_expect_eq(n, 1);

    /* The way out: deleting (or saving again) does not read the old row. */
    cr_expect_eq(acp_run_delete(s, "r2", &e), ACP_OK, "%s", e.message);
    cr_expect_eq(list_status(s, NULL, &e), ACP_OK, "%s", e.message);
    save_session_ok(s, "s2");
    cr_expect_eq(sessions_status(s, NULL, &e), ACP_OK, "%s", e.message);
    acp_store_close(s);
}

Test(sqlite, a_flipped_byte_in_the_file_reads_as_corrupt)
{
    acp_store *s = open_ok(uri_of(""));
    acp_error e = {0};
    const char *doc = "{\"run_id\":\"flip\",\"agent_name\":\"a\",\"status\":\"created\","
                      "\"note\":\"marker-7f3a\"}";
    cr_assert_eq(acp_run_save(s, doc, ACP_STRLEN, &e), ACP_OK, "%s", e.message);
    save_run_ok(s, "other", "a", NULL, 1000000);
    acp_store_close(s); /* the last close checkpoints: the document is in t.db */

    FILE *f = fopen(g_db, "r+b");
    cr_assert_not_null(f);
    static char buf[1 << 20];
    size_t len = fread(buf, 1, sizeof buf, f);
    char *at = memmem(buf, len, "marker-7f3a", 11);
    cr_assert_not_null(at, "the document is not in the database file");
    cr_assert_eq(fseek(f, at - buf, SEEK_SET), 0);
    fputc('n', f); /* "marker" becomes "narker": still JSON, still a run */
    fclose(f);

    s = open_ok(uri_of(""));
    expect_corrupt(get_run_status(s, "flip", &e), &e, "get", "run flip", "checksum", NULL);
    expect_corrupt(list_status(s, NULL, &e), &e, "list", "run flip", NULL);
    cr_expect_eq(get_run_status(s, "other", &e), ACP_OK, "%s", e.message);
    acp_store_close(s);
}

Test(sqlite, a_version_1_store_is_migrated_in_place_with_checksums)
{
    /* A store as version 1 of the plugin wrote it. */
    sqlite3 *db = raw_open_flags(SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    raw_exec(db, "PRAGMA journal_mode = WAL; BEGIN;" ACP_SQLITE_SCHEMA_V1
                 "PRAGMA application_id = " ACP_SQ_STR(ACP_SQLITE_APPLICATION_ID) ";"
                 "PRAGMA user_version = 1;"
                 "INSERT INTO runs VALUES ('old', 'a', 's', 'created', 5, NULL,"
                 " '{\"run_id\":\"old\",\"agent_name\":\"a\",\"session_id\":\"s\","
                 "\"status\":\"created\"}');"
                 "INSERT INTO sessions VALUES ('s', '{\"id\":\"s\"}');"
                 "INSERT INTO events VALUES ('old', 1, 'x', 7, '{\"type\":\"x\"}');"
                 "COMMIT");
    sqlite3_close(db);

    /* mode=ro does not migrate. */
    const char *msg = open_fails(uri_of("?mode=ro"), ACP_UNSUPPORTED);
    cr_expect_not_null(strstr(msg, "migrated"), "%s", msg);

    acp_store *s = open_ok(uri_of(""));
    acp_error e = {0};
    size_t n = 0;
    int64_t total = 0, walked = 0;
    cr_expect_eq(get_run_status(s, "old", &e), ACP_OK, "%s", e.message);
    cr_expect_eq(events_status(s, "old", 0, &n, &e), ACP_OK, "%s", e.message);
    cr_expect_eq(n, 1);
    list_count(s, "a", "s", &total, &walked);
    cr_expect_eq(total, 1);
    cr_expect_eq(walked, 1);
    acp_store_close(s);

    db = raw_open();
    cr_expect_eq(raw_int(db, "PRAGMA user_version"), ACP_SQLITE_SCHEMA_VERSION);
    cr_expect_eq(raw_int(db, "SELECT count(*) FROM runs WHERE crc = acp_crc(run_id, doc)"), 1);
    cr_expect_eq(raw_int(db, "SELECT count(*) FROM sessions WHERE crc = acp_crc(id, doc)"), 1);
    cr_expect_eq(raw_int(db, "SELECT count(*) FROM events WHERE crc = acp_crc(run_id, doc)"),
                 1);
    /* The migrated checksums guard the old rows as well. */
    raw_exec(db, "UPDATE runs SET doc = replace(doc, 'created', 'cReated')");
    sqlite3_close(db);
    s = open_ok(uri_of(""));
    expect_corrupt(get_run_status(s, "old", &e), &e, "get old", "run old", NULL);
    acp_store_close(s);
}

/* ---- verify ---- */

#define MAX_SEEN 16

typedef struct seen {
    int n;
    acp_damage d[MAX_SEEN];
    char text[MAX_SEEN][600]; /* key, location, reason: copies */
} seen;

static int collect(void *ctx, const acp_damage *d)
{
    seen *v = ctx;
    if (v->n < MAX_SEEN) {
        v->d[v->n] = *d;
        snprintf(v->text[v->n], sizeof v->text[0], "kind %d key %s seq %lld at %s: %s%s%s",
                 d->kind, d->key ? d->key : "-", (long long)d->seq,
                 d->location ? d->location : "-", d->reason, d->moved_to ? " moved to " : "",
                 d->moved_to ? d->moved_to : "");
    }
    v->n++;
    return 0;
}

/* The report of kind naming key (NULL: any), or -1. */
static int find_report(const seen *v, int kind, const char *needle)
{
    for (int i = 0; i < v->n && i < MAX_SEEN; i++)
        if (v->d[i].kind == kind && (!needle || strstr(v->text[i], needle)))
            return i;
    return -1;
}

static void show_reports(const seen *v)
{
    for (int i = 0; i < v->n && i < MAX_SEEN; i++)
        cr_log_info("damage %d: %s", i, v->text[i]);
}

Test(sqlite, verify_of_a_healthy_store_counts_everything_and_finds_nothing)
{
    fill_small();
    acp_store *s = open_ok(uri_of(""));
    acp_verify_counts n;
    seen v = {0};
    acp_error e = {0};
    cr_expect_eq(acp_store_verify(s, 0, collect, &v, &n, &e), ACP_OK, "%s", e.message);
    show_reports(&v);
    cr_expect_eq(v.n, 0);
    cr_expect_eq(n.runs, 3);
    cr_expect_eq(n.sessions, 2);
    cr_expect_eq(n.events, 3);
    cr_expect_eq(n.damaged, 0);
    acp_store_close(s);
}

Test(sqlite, verify_reports_damaged_documents_counters_and_indexes)
{
    fill_small();
    sqlite3 *db = raw_open();
    raw_exec(db, "UPDATE runs SET doc = replace(doc, '\"b\"', '\"c\"') WHERE run_id = 'r2';"
                 "UPDATE sessions SET doc = replace(doc, '[]', '[}') WHERE id = 's2';"
                 "UPDATE events SET doc = replace(doc, 'hi', 'h\"') WHERE run_id = 'r1'"
                 " AND seq = 2;"
                 /* a counter changed behind the triggers' back */
                 "UPDATE counts SET n = n + 5 WHERE kind = 1 AND agent = 'a';"
                 /* an index that no longer matches its table */
                 "PRAGMA writable_schema = ON;"
                 "UPDATE sqlite_schema SET sql = replace(sql, 'runs_created ON runs"
                 " (created_us, run_id)', 'runs_created ON runs (run_id, created_us)')"
                 " WHERE name = 'runs_created';"
                 "PRAGMA writable_schema = OFF;");
    sqlite3_close(db);

    acp_store *s = open_ok(uri_of(""));
    acp_verify_counts n;
    seen v = {0};
    acp_error e = {0};
    acp_status st = acp_store_verify(s, ACP_VERIFY_QUARANTINE, collect, &v, &n, &e);
    show_reports(&v);
    cr_expect_eq(st, ACP_CORRUPT, "%s: %s", acp_status_name(st), e.message);
    int r = find_report(&v, ACP_ITEM_RUN, "key r2");
    cr_expect_geq(r, 0, "damaged run r2 not reported");
    if (r >= 0) {
        cr_expect_not_null(strstr(v.text[r], "checksum"), "%s", v.text[r]);
        cr_expect_eq(v.d[r].code, ACP_CORRUPT);
    }
    cr_expect_geq(find_report(&v, ACP_ITEM_SESSION, "key s2"), 0, "session s2 not reported");
    r = find_report(&v, ACP_ITEM_EVENT, "key r1 seq 2");
    cr_expect_geq(r, 0, "event 2 of r1 not reported");
    cr_expect_geq(find_report(&v, ACP_ITEM_INDEX, "agent 'a'"), 0, "counter not reported");
    cr_expect_geq(find_report(&v, ACP_ITEM_INDEX, "runs_created"), 0, "index not reported");
    /* Nothing can be moved aside in an SQLite store: reported, left in place. */
    for (int i = 0; i < v.n && i < MAX_SEEN; i++)
        cr_expect_null(v.d[i].moved_to, "%s", v.text[i]);
    cr_expect_eq(n.quarantined, 0);
    cr_expect_eq(n.damaged, v.n);
    cr_expect_eq(n.runs, 2, "the readable runs are checked");
    cr_expect_eq(n.sessions, 1);
    cr_expect_eq(n.events, 2);
    acp_store_close(s);
}

Test(sqlite, verify_reports_a_document_stored_under_another_key)
{
    fill_small();
    sqlite3 *db = raw_open();
    /* A consistent row (checksum recomputed) whose document names another run. */
    raw_exec(db, "UPDATE runs SET doc = replace(doc, 'r3', 'r9') WHERE run_id = 'r3';"
                 "UPDATE runs SET crc = acp_crc(run_id, doc) WHERE run_id = 'r3';");
    sqlite3_close(db);
    acp_store *s = open_ok(uri_of(""));
    seen v = {0};
    acp_error e = {0};
    cr_expect_eq(acp_store_verify(s, 0, collect, &v, NULL, &e), ACP_CORRUPT, "%s", e.message);
    show_reports(&v);
    cr_expect_eq(v.n, 1);
    cr_expect_geq(find_report(&v, ACP_ITEM_RUN, "r9"), 0);
    acp_store_close(s);
}

Test(sqlite, full_disk_is_io_and_leaves_no_partial_record)
{
    acp_store *s = open_ok(uri_of(""));
    save_run_ok(s, "before", "a", NULL, 1000000);
    acp_store_close(s);

    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t kid = fork();
    cr_assert_neq(kid, -1);
    if (kid == 0) {
        struct full_report r = {0};
        acp_error e = {0};
        static char doc[16384];
        close(fds[0]);
        if (acp_store_open(uri_of(""), &s, &e) != ACP_OK)
            _exit(1);
        /* A process over RLIMIT_FSIZE gets EFBIG (and SIGXFSZ, ignored),
         * which SQLite sees as a full disk would be. */
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {512 * 1024, 512 * 1024};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(2);
        for (r.saved = 0; r.saved < 100000; r.saved++) {
            char id[32];
            snprintf(id, sizeof id, "big-%d", r.saved);
            run_json(doc, sizeof doc, id, "a", NULL, 2000000 + r.saved, 12000);
            r.st = acp_run_save(s, doc, ACP_STRLEN, &e);
            if (r.st != ACP_OK) {
                memcpy(r.message, e.message, sizeof r.message);
                break;
            }
        }
        acp_store_close(s);
        if (write(fds[1], &r, sizeof r) != (ssize_t)sizeof r)
            _exit(3);
        _exit(0);
    }
    close(fds[1]);
    struct full_report r;
    cr_assert_eq(read(fds[0], &r, sizeof r), (ssize_t)sizeof r, "the child reported nothing");
    close(fds[0]);
    int ws = 0;
    waitpid(kid, &ws, 0);
    cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "child status %d", ws);
    cr_assert_eq(r.st, ACP_IO, "a write over the limit gave %s: %s", acp_status_name(r.st),
                 r.message);
    cr_expect_not_null(strstr(r.message, g_db), "path missing in: %s", r.message);
    cr_expect_gt(r.saved, 0, "nothing could be saved below the limit");

    s = open_ok(uri_of(""));
    char *json = NULL, id[32];
    acp_error e = {0};
    for (int i = 0; i < r.saved; i++) {
        snprintf(id, sizeof id, "big-%d", i);
        cr_expect_eq(acp_run_get(s, id, &json, NULL, &e), ACP_OK, "%s lost: %s", id, e.message);
        acp_free(json);
        json = NULL;
    }
    snprintf(id, sizeof id, "big-%d", r.saved);
    cr_expect_eq(acp_run_get(s, id, &json, NULL, &e), ACP_NOT_FOUND, "the failed save of %s left a record", id);
    int64_t total, walked;
    list_count(s, NULL, NULL, &total, &walked);
    cr_expect_eq(total, r.saved + 1);
    cr_expect_eq(walked, r.saved + 1);
    acp_store_close(s);
}

/* ---- durability and counters ---- */

Test(sqlite, reopen_keeps_runs_sessions_and_events)
{
    acp_store *s = open_ok(uri_of("?synchronous=full"));
    save_run_ok(s, "r1", "a", "s1", 1000000);
    /* No created_at: the first save fixes the time, later saves keep it. */
    save_run_ok(s, "nodate", "a", NULL, INT64_MIN);
    acp_error e = {0};
    cr_assert_eq(acp_session_save(s, "{\"id\":\"s1\",\"state\":false}", ACP_STRLEN, &e), ACP_OK,
                 "%s", e.message);
    for (int i = 0; i < 5; i++)
        add_event_ok(s, "r1");
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.agent_name = "a";
    acp_page *p = NULL;
    cr_assert_eq(acp_run_list(s, &f, &p, &e), ACP_OK);
    cr_assert_eq(acp_page_count(p), 2);
    cr_assert_str_eq(acp_page_key(p, 0), "nodate");
    int64_t first_time = acp_page_time_us(p, 0);
    acp_page_free(p);
    acp_store_close(s);

    s = open_ok(uri_of(""));
    sleep_ms(2);
    save_run_ok(s, "nodate", "a", NULL, INT64_MIN);
    char *json = NULL;
    size_t len = 0;
    cr_assert_eq(acp_run_get(s, "r1", &json, &len, &e), ACP_OK, "%s", e.message);
    acp_free(json);
    cr_assert_eq(acp_session_get(s, "s1", &json, &len, &e), ACP_OK, "%s", e.message);
    cr_expect_str_eq(json, "{\"id\":\"s1\",\"state\":false}");
    acp_free(json);
    assert_events_exactly(s, "r1", 5);
    cr_expect_eq(add_event_ok(s, "r1"), 6);
    cr_assert_eq(acp_run_list(s, &f, &p, &e), ACP_OK);
    cr_assert_str_eq(acp_page_key(p, 0), "nodate");
    cr_expect_eq(acp_page_time_us(p, 0), first_time, "a later save moved created_at");
    acp_page_free(p);
    acp_store_close(s);
}

Test(sqlite, delete_run_removes_events_and_restarts_the_sequence)
{
    acp_store *s = open_ok(uri_of(""));
    acp_error e = {0};
    add_event_ok(s, "orphan");
    add_event_ok(s, "orphan");
    cr_expect_eq(acp_run_delete(s, "orphan", &e), ACP_OK, "events alone: %s", e.message);
    cr_expect_eq(acp_run_delete(s, "orphan", &e), ACP_NOT_FOUND);
    cr_expect_not_null(strstr(e.message, "orphan"), "%s", e.message);
    cr_expect_eq(add_event_ok(s, "orphan"), 1);
    save_run_ok(s, "r", "a", NULL, 1000000);
    cr_expect_eq(acp_run_delete(s, "r", &e), ACP_OK, "%s", e.message);
    int64_t total, walked;
    list_count(s, NULL, NULL, &total, &walked);
    cr_expect_eq(total, 0);
    acp_store_close(s);
}

Test(sqlite, ids_compare_byte_wise_with_shorter_prefix_first)
{
    /* Sorted by bytes: 'Z' 0x5a < 'a' 0x61, "a" < "ab", 0xc3 (é) last. */
    static const char *const sorted[] = {"Z", "a", "a b", "ab", "b", "\xc3\xa9"};
    enum { N = sizeof sorted / sizeof sorted[0] };
    acp_store *s = open_ok(uri_of(""));
    acp_error e = {0};
    for (int i = N - 1; i >= 0; i--) {
        char doc[64];
        snprintf(doc, sizeof doc, "{\"id\":\"%s\"}", sorted[i]);
        cr_assert_eq(acp_session_save(s, doc, ACP_STRLEN, &e), ACP_OK, "%s", e.message);
        save_run_ok(s, sorted[i], "a", NULL, 1000000); /* one instant: ties */
    }
    acp_page *p = NULL;
    const char *after = NULL;
    char last[16] = "";
    for (int i = 0; i < N; i += 2) {
        cr_assert_eq(acp_session_list(s, after, 2, &p, &e), ACP_OK, "%s", e.message);
        cr_assert_eq(acp_page_count(p), 2);
        cr_expect_str_eq(acp_page_key(p, 0), sorted[i]);
        cr_expect_str_eq(acp_page_key(p, 1), sorted[i + 1]);
        snprintf(last, sizeof last, "%s", acp_page_key(p, 1));
        after = last;
        acp_page_free(p);
    }
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    cr_assert_eq(acp_run_list(s, &f, &p, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_page_count(p), N);
    for (int i = 0; i < N; i++)
        cr_expect_str_eq(acp_page_key(p, (size_t)i), sorted[N - 1 - i], "run %d", i);
    acp_page_free(p);
    acp_store_close(s);
}

#define AGENTS 3
#define SESSIONS 4
#define RUNS 60

/* Compare every total with a model of the store and with a full walk. */
static void check_totals(acp_store *s, const int agent_of[RUNS], const int session_of[RUNS])
{
    for (int a = -1; a < AGENTS; a++) {
        for (int ss = -1; ss < SESSIONS; ss++) {
            char an[16], sn[16];
            int64_t expect = 0, total, walked;
            snprintf(an, sizeof an, "agent%d", a);
            snprintf(sn, sizeof sn, "sess%d", ss);
            for (int r = 0; r < RUNS; r++)
                if (agent_of[r] >= 0 && (a < 0 || agent_of[r] == a) &&
                    (ss < 0 || session_of[r] == ss))
                    expect++;
            list_count(s, a < 0 ? NULL : an, ss < 0 ? NULL : sn, &total, &walked);
            cr_assert_eq(total, expect, "total for agent %d session %d: %" PRId64
                         ", expected %" PRId64, a, ss, total, expect);
            cr_assert_eq(walked, expect, "walk for agent %d session %d: %" PRId64
                         ", expected %" PRId64, a, ss, walked, expect);
        }
    }
}

Test(sqlite, totals_stay_exact_as_runs_move_and_go)
{
    /* agent_of[r] = -1: absent; session_of[r] = -1: no session. */
    int agent_of[RUNS], session_of[RUNS];
    unsigned seed = 12345;
    acp_store *s = open_ok(uri_of(""));
    for (int r = 0; r < RUNS; r++)
        agent_of[r] = -1;
    for (int step = 0; step < 600; step++) {
        seed = seed * 1103515245u + 12345u;
        int r = (int)((seed >> 8) % RUNS);
        int op = (int)((seed >> 20) % 4);
        char id[16];
        snprintf(id, sizeof id, "run%02d", r);
        if (op == 0 && agent_of[r] >= 0) {
            acp_error e = {0};
            cr_assert_eq(acp_run_delete(s, id, &e), ACP_OK, "%s", e.message);
            agent_of[r] = -1;
        } else {
            int a = (int)((seed >> 12) % AGENTS), ss = (int)((seed >> 16) % (SESSIONS + 1)) - 1;
            char an[16], sn[16];
            snprintf(an, sizeof an, "agent%d", a);
            snprintf(sn, sizeof sn, "sess%d", ss);
            save_run_ok(s, id, an, ss < 0 ? NULL : sn, 1000000 + (step % 7) * 1000);
            agent_of[r] = a;
            session_of[r] = ss;
        }
        if (step % 100 == 99)
            check_totals(s, agent_of, session_of);
    }
    acp_store_close(s);
    s = open_ok(uri_of(""));
    check_totals(s, agent_of, session_of);
    acp_store_close(s);
    /* The counters hold no rows for filters that match nothing. */
    sqlite3 *db = raw_open();
    cr_expect_eq(raw_int(db, "SELECT count(*) FROM counts WHERE n <= 0"), 0);
    sqlite3_close(db);
}

/* ---- concurrency ---- */

struct thread_arg {
    acp_store *s;
    int id;
    int failures;
};

static void *append_many(void *p)
{
    struct thread_arg *t = p;
    for (int i = 0; i < 250; i++) {
        acp_error e = {0};
        int64_t seq = 0;
        char id[32];
        if (acp_event_add(t->s, "shared", "{\"type\":\"x\"}", ACP_STRLEN, &seq, &e) != ACP_OK) {
            fprintf(stderr, "thread %d: %s\n", t->id, e.message);
            t->failures++;
        }
        snprintf(id, sizeof id, "t%d-%d", t->id, i);
        if (save_run(t->s, id, "threads", NULL, 1000000 + i, &e) != ACP_OK) {
            fprintf(stderr, "thread %d: %s\n", t->id, e.message);
            t->failures++;
        }
        char *json = NULL;
        if (acp_run_get(t->s, id, &json, NULL, &e) != ACP_OK) {
            fprintf(stderr, "thread %d: %s\n", t->id, e.message);
            t->failures++;
        }
        acp_free(json);
    }
    return NULL;
}

Test(sqlite, threads_share_one_handle_without_gaps_or_errors)
{
    enum { T = 8 };
    acp_store *s = open_ok(uri_of(""));
    cr_expect(acp_store_capabilities(s) & ACP_CAP_CONCURRENT);
    pthread_t th[T];
    struct thread_arg args[T];
    for (int i = 0; i < T; i++) {
        args[i] = (struct thread_arg){s, i, 0};
        cr_assert_eq(pthread_create(&th[i], NULL, append_many, &args[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        cr_expect_eq(args[i].failures, 0, "thread %d failed %d times", i, args[i].failures);
    }
    assert_events_exactly(s, "shared", T * 250);
    int64_t total, walked;
    list_count(s, "threads", NULL, &total, &walked);
    cr_expect_eq(total, T * 250);
    cr_expect_eq(walked, T * 250);
    acp_store_close(s);
}

Test(sqlite, processes_share_one_file_without_gaps_or_errors)
{
    enum { P = 4, EACH = 500 };
    pid_t kids[P];
    /* Nothing of SQLite is open in this process across the fork. */
    for (int k = 0; k < P; k++) {
        kids[k] = fork();
        cr_assert_neq(kids[k], -1);
        if (kids[k] == 0) {
            acp_store *s = NULL;
            acp_error e = {0};
            if (acp_store_open(uri_of(""), &s, &e) != ACP_OK) {
                fprintf(stderr, "child %d open: %s\n", k, e.message);
                _exit(1);
            }
            for (int i = 0; i < EACH; i++) {
                int64_t seq;
                char id[32];
                if (acp_event_add(s, "mp", "{\"type\":\"x\"}", ACP_STRLEN, &seq, &e) != ACP_OK) {
                    fprintf(stderr, "child %d add_event: %s\n", k, e.message);
                    _exit(2);
                }
                snprintf(id, sizeof id, "p%d-%d", k, i);
                if (save_run(s, id, "mp", i % 2 ? "odd" : NULL, 1000000 + i, &e) != ACP_OK) {
                    fprintf(stderr, "child %d save_run: %s\n", k, e.message);
                    _exit(3);
                }
                /* Every process also rewrites one shared run. */
                if (save_run(s, "shared", i % 2 ? "mp" : "other", NULL, 5, &e) != ACP_OK) {
                    fprintf(stderr, "child %d save_run: %s\n", k, e.message);
                    _exit(4);
                }
            }
            acp_store_close(s);
            _exit(0);
        }
    }
    for (int k = 0; k < P; k++) {
        int ws = 0;
        cr_assert_eq(waitpid(kids[k], &ws, 0), kids[k]);
        cr_expect(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "child %d failed (status %d)", k, ws);
    }
    acp_store *s = open_ok(uri_of(""));
    assert_events_exactly(s, "mp", P * EACH);
    int64_t total, walked, total_mp, total_other;
    list_count(s, NULL, NULL, &total, &walked);
    cr_expect_eq(total, P * EACH + 1);
    cr_expect_eq(walked, P * EACH + 1);
    list_count(s, NULL, "odd", &total, &walked);
    cr_expect_eq(total, P * EACH / 2);
    list_count(s, "mp", NULL, &total_mp, &walked);
    list_count(s, "other", NULL, &total_other, &walked);
    cr_expect_eq(total_mp + total_other, P * EACH + 1, "the shared run is counted %" PRId64
                 " times", total_mp + total_other - P * EACH);
    acp_store_close(s);
}

struct unlock_later {
    sqlite3 *db;
    int ms;
};

static void *release_lock(void *p)
{
    struct unlock_later *u = p;
    sleep_ms(u->ms);
    sqlite3_exec(u->db, "COMMIT", NULL, NULL, NULL);
    return NULL;
}

Test(sqlite, busy_timeout_bounds_the_wait_for_a_writer)
{
    acp_store *s = open_ok(uri_of("?busy_timeout=200"));
    save_run_ok(s, "r", "a", NULL, 1000000);

    sqlite3 *db = raw_open();
    raw_exec(db, "BEGIN IMMEDIATE");
    acp_error e = {0};
    double t0 = now_s();
    acp_status st = save_run(s, "r2", "a", NULL, 2000000, &e);
    double waited = now_s() - t0;
    cr_expect_eq(st, ACP_UNAVAILABLE, "%s: %s", acp_status_name(st), e.message);
    cr_expect_not_null(strstr(e.message, "busy_timeout=200"), "%s", e.message);
    cr_expect_geq(waited, 0.15, "gave up after %.3f s", waited);
    int64_t seq;
    cr_expect_eq(acp_event_add(s, "r", "{\"type\":\"x\"}", ACP_STRLEN, &seq, &e), ACP_UNAVAILABLE);
    cr_expect_eq(acp_run_delete(s, "r", &e), ACP_UNAVAILABLE);
    /* WAL: readers do not wait for the writer. */
    char *json = NULL;
    cr_expect_eq(acp_run_get(s, "r", &json, NULL, &e), ACP_OK, "%s", e.message);
    acp_free(json);
    raw_exec(db, "ROLLBACK");
    acp_store_close(s);

    /* A lock released within the timeout is waited for, not reported. */
    s = open_ok(uri_of("?busy_timeout=5000"));
    raw_exec(db, "BEGIN IMMEDIATE");
    struct unlock_later u = {db, 150};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, release_lock, &u), 0);
    st = save_run(s, "r3", "a", NULL, 3000000, &e);
    pthread_join(th, NULL);
    cr_expect_eq(st, ACP_OK, "%s: %s", acp_status_name(st), e.message);
    acp_store_close(s);
    sqlite3_close(db);
}

/* A peer process stopped (SIGSTOP) inside a write transaction: writers
 * get UNAVAILABLE at the call's deadline even though busy_timeout is far
 * longer, readers are not held up, and the lock goes with the process. */
Test(sqlite, a_stopped_peer_holding_the_write_lock_costs_a_call_its_deadline_only)
{
    acp_store *s = open_ok(uri_of(""));
    save_run_ok(s, "r", "a", NULL, 1000000);
    acp_store_close(s);

    int ready[2];
    cr_assert_eq(pipe(ready), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        sqlite3 *db = NULL;
        if (sqlite3_open_v2(g_db, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
            sqlite3_exec(db, "BEGIN IMMEDIATE; INSERT INTO sessions VALUES ('held', '{}', 0)",
                         NULL, NULL, NULL) != SQLITE_OK)
            _exit(1);
        if (write(ready[1], "x", 1) != 1)
            _exit(2);
        raise(SIGSTOP);
        _exit(0);
    }
    char c;
    cr_assert_eq(read(ready[0], &c, 1), 1, "the peer could not take the write lock");
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, WUNTRACED), pid);
    cr_assert(WIFSTOPPED(status));

    acp_config *cfg = NULL;
    acp_error e = {0};
    cr_assert_eq(acp_config_new(&cfg, &e), ACP_OK);
    cr_assert_eq(acp_config_parse_uri(cfg, uri_of("?busy_timeout=60000"), &e), ACP_OK);
    cr_assert_eq(acp_config_set_timeout_ms(cfg, 300, &e), ACP_OK);
    cr_assert_eq(acp_store_open_config(cfg, &s, &e), ACP_OK, "open: %s", e.message);

    double t0 = now_s();
    acp_status st = save_run(s, "r2", "a", NULL, 2000000, &e);
    double waited = now_s() - t0;
    cr_expect_eq(st, ACP_UNAVAILABLE, "%s: %s", acp_status_name(st), e.message);
    cr_expect_not_null(strstr(e.message, "deadline"), "%s", e.message);
    cr_expect_not_null(strstr(e.message, g_db), "%s", e.message);
    cr_log_info("a 300 ms call behind a stopped writer gave up after %.3f s: %s", waited,
                e.message);
    cr_expect_geq(waited, 0.2, "gave up after %.3f s, before the deadline", waited);
    /* Bounded by the 300 ms deadline, not the 60 s busy_timeout (the slack
     * is for a loaded machine). */
    cr_expect_lt(waited, 10.0, "waited %.3f s", waited);
    int64_t seq;
    cr_expect_eq(acp_event_add(s, "r", "{\"type\":\"x\"}", ACP_STRLEN, &seq, &e),
                 ACP_UNAVAILABLE, "%s", e.message);
    cr_expect_eq(acp_run_delete(s, "r", &e), ACP_UNAVAILABLE, "%s", e.message);
    cr_expect_eq(get_run_status(s, "r", &e), ACP_OK, "%s", e.message);

    kill(pid, SIGKILL);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    save_run_ok(s, "r3", "a", NULL, 3000000);
    acp_store_close(s);
    acp_config_free(cfg);
    close(ready[0]);
    close(ready[1]);
}

/* ---- a large store ---- */

/* A page with its total over a store too large to walk for either: the
 * total comes from the counters and the deep cursor lands where it must.
 * What it costs at 1,000,000 runs is the benchmark's to say
 * (acp-storage-bench --scale, docs/performance.md), not a timed test's;
 * that the lists never sort and always use an index is
 * query_plans_never_sort_and_always_use_an_index. */
#ifndef ACP_TEST_PAGE_RUNS
#define ACP_TEST_PAGE_RUNS 100000
#endif

Test(sqlite, a_page_with_its_total_is_right_over_a_large_store)
{
    enum { N = ACP_TEST_PAGE_RUNS };
    _Static_assert(N % 1000 == 0 && N >= 10000, "the filter below counts N / 1000 runs");
    acp_store *s = open_ok(uri_of(""));
    acp_store_close(s);
    /* Fill through SQLite directly (the triggers keep the counters), then
     * read through the store. */
    sqlite3 *db = raw_open();
    raw_exec(db, "PRAGMA synchronous = OFF");
    /* The indexes fit in this cache: the fill does not spill and reread
     * their pages. */
    raw_exec(db, "PRAGMA cache_size = -262144");
    char fill[1024];
    snprintf(fill, sizeof fill, "BEGIN;"
                 "WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < %d),"
                 " r(n, id, doc) AS (SELECT n, printf('run-%%07d', n),"
                 " printf('{\"run_id\":\"run-%%07d\",\"agent_name\":\"agent%%d\",\"status\":\"created\"}',"
                 " n, n %% 10) FROM i)"
                 " INSERT INTO runs SELECT id, 'agent' || (n %% 10),"
                 " CASE WHEN n %% 2 THEN 'sess' || (n %% 1000) END, 'created',"
                 " 1700000000000000 + n * 1000, NULL, doc, acp_crc(id, doc), 1 FROM r;"
                 "COMMIT", N - 1);
    raw_exec(db, fill);
    sqlite3_close(db);

    s = open_ok(uri_of(""));
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.want_total = 1;
    acp_page *p = NULL;
    acp_error e = {0};
    cr_assert_eq(acp_run_list(s, &f, &p, &e), ACP_OK, "%s", e.message);
    cr_expect_eq(acp_page_total(p), N);
    acp_page_free(p);

    f.agent_name = "agent3";
    f.session_id = "sess3";
    cr_assert_eq(acp_run_list(s, &f, &p, &e), ACP_OK, "%s", e.message);
    cr_expect_eq(acp_page_total(p), N / 1000);
    cr_expect_eq(acp_page_count(p), 10);
    acp_page_free(p);
    f.agent_name = NULL;
    f.session_id = NULL;

    /* Totals over creation-time ranges, with and without a status (run n
     * was created at 1700000000000000 + n ms): the counters' buckets and
     * their two edges. */
    f.created_since_us = 1700000000000000 + (int64_t)(N / 2) * 1000;
    cr_assert_eq(acp_run_list(s, &f, &p, &e), ACP_OK, "%s", e.message);
    cr_expect_eq(acp_page_total(p), N / 2);
    acp_page_free(p);
    f.status = "created";
    f.created_until_us = f.created_since_us + 12345 * 1000 + 1;
    cr_assert_eq(acp_run_list(s, &f, &p, &e), ACP_OK, "%s", e.message);
    cr_expect_eq(acp_page_total(p), 12346);
    acp_page_free(p);
    f.status = "failed";
    cr_assert_eq(acp_run_list(s, &f, &p, &e), ACP_OK, "%s", e.message);
    cr_expect_eq(acp_page_total(p), 0);
    acp_page_free(p);
    f.status = NULL;
    f.created_since_us = f.created_until_us = ACP_TIME_NONE;

    /* A cursor deep in the store: the page after it starts right after. */
    f.want_total = 0;
    f.limit = 1;
    f.offset = N / 2;
    cr_assert_eq(acp_run_list(s, &f, &p, &e), ACP_OK, "%s", e.message);
    char *cursor = strdup(acp_page_next_cursor(p));
    acp_page_free(p);
    f.offset = 0;
    f.limit = 100;
    f.cursor = cursor;
    cr_assert_eq(acp_run_list(s, &f, &p, &e), ACP_OK);
    cr_expect_eq(acp_page_count(p), 100);
    char deep_key[32];
    snprintf(deep_key, sizeof deep_key, "run-%07d", N / 2 - 2);
    cr_expect_str_eq(acp_page_key(p, 0), deep_key);
    acp_page_free(p);
    free(cursor);
    acp_store_close(s);
}
