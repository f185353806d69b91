/* SPDX-License-Identifier: MIT */
/*
 * test_file.c - what only the file backend promises, through the public
 * API: safe names for any id, recovery from crash leftovers (torn tails,
 * temporary files), damaged files reported as CORRUPT with their name,
 * several processes on one store, a list index that stays right, and clean
 * failures on full or read-only disks.
 */
#define _GNU_SOURCE /* mkdtemp, nftw, setresuid */

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "acp_storage.h"
#include "crc32c.h" /* to forge records with a valid checksum */

/* ---- helpers ------------------------------------------------------------- */

#include "../common/criterion_helpers.h"

static char root[256];

static void make_root(void)
{
    acp_test_mkdtemp(root, sizeof root, "file-test");
}

static void rm_rf(const char *p)
{
    acp_test_rmtree(p);
}

/* root/<rel> */
static const char *at(const char *rel)
{
    static char buf[4][1024];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, 1024, "%s/%s", root, rel);
    return b;
}

static acp_store *open_at(const char *rel, const char *query)
{
    char uri[1200];
    snprintf(uri, sizeof uri, "file:%s/%s%s%s", root, rel, query ? "?" : "", query ? query : "");
    acp_store *s = NULL;
    acp_error err;
    acp_status st = acp_store_open(uri, &s, &err);
    cr_assert_eq(st, ACP_OK, "open %s: %s: %s", uri, acp_status_name(st), err.message);
    return s;
}

static acp_status try_open(const char *rel, const char *query, acp_error *err)
{
    char uri[1200];
    snprintf(uri, sizeof uri, "file:%s/%s%s%s", root, rel, query ? "?" : "", query ? query : "");
    acp_store *s = NULL;
    acp_status st = acp_store_open(uri, &s, err);
    acp_store_close(s);
    return st;
}

/* Append s as a JSON string. */
static size_t jstr(char *out, const char *s)
{
    size_t n = 0;
    out[n++] = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)sprintf(out + n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n++] = '"';
    out[n] = '\0';
    return n;
}

/* A run document; session NULL for none; created_s seconds after a fixed
 * instant, or -1 for no created_at. */
static char *run_doc(const char *id, const char *agent, const char *session, int created_s,
                     const char *extra)
{
    static char buf[4][8192];
    static int k;
    char *b = buf[k++ % 4];
    char jid[2048], jag[512], jse[2048];
    jstr(jid, id);
    jstr(jag, agent);
    if (session)
        jstr(jse, session);
    int n = sprintf(b, "{\"run_id\":%s,\"agent_name\":%s,\"status\":\"created\"", jid, jag);
    if (session)
        n += sprintf(b + n, ",\"session_id\":%s", jse);
    if (created_s >= 0)
        n += sprintf(b + n, ",\"created_at\":\"2025-06-01T%02d:%02d:%02dZ\"", 12 + created_s / 3600,
                     created_s / 60 % 60, created_s % 60);
    if (extra)
        n += sprintf(b + n, ",\"x\":%s", extra);
    sprintf(b + n, "}");
    return b;
}

#define T0_US INT64_C(1748779200000000) /* 2025-06-01T12:00:00Z */

static void save(acp_store *s, const char *id, const char *agent, const char *session,
                 int created_s)
{
    acp_error e_;
    acp_status st = acp_run_save(s, run_doc(id, agent, session, created_s, NULL), ACP_STRLEN, E);
    cr_assert_eq(st, ACP_OK, "save %s: %s", id, e_.message);
}

static char *get_run(acp_store *s, const char *id, acp_status *st, acp_error *err)
{
    char *j = NULL;
    *st = acp_run_get(s, id, &j, NULL, err);
    return j;
}

static int64_t add_ev(acp_store *s, const char *run, const char *doc)
{
    int64_t seq = 0;
    acp_error e_;
    acp_status st = acp_event_add(s, run, doc, ACP_STRLEN, &seq, E);
    cr_assert_eq(st, ACP_OK, "add_event %s: %s: %s", run, acp_status_name(st), e_.message);
    return seq;
}

/* Every event of run, checking seqs are 1..n; returns n, docs in out. */
static size_t all_events(acp_store *s, const char *run, char ***docs)
{
    size_t n = 0, cap = 0;
    char **v = NULL;
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    f.limit = 1000;
    for (;;) {
        acp_page *p;
        OK(acp_event_list(s, run, &f, &p, E));
        size_t c = acp_page_count(p);
        for (size_t i = 0; i < c; i++) {
            cr_assert_eq(acp_page_seq(p, i), (int64_t)n + 1, "seq %lld at position %zu",
                         (long long)acp_page_seq(p, i), n);
            if (docs) {
                if (n == cap) {
                    cap = cap ? cap * 2 : 64;
                    v = realloc(v, cap * sizeof *v);
                }
                v[n] = strdup(acp_page_json(p, i, NULL));
            }
            n++;
        }
        acp_page_free(p);
        if (c < (size_t)f.limit)
            break;
        f.after_seq = (int64_t)n;
    }
    if (docs)
        *docs = v;
    return n;
}

static void free_docs(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static off_t file_size(const char *p)
{
    struct stat st;
    cr_assert_eq(stat(p, &st), 0, "stat %s: %s", p, strerror(errno));
    return st.st_size;
}

static void write_file(const char *p, const char *text)
{
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f, "%s: %s", p, strerror(errno));
    fputs(text, f);
    fclose(f);
}

static size_t count_entries(const char *dir, int include_hidden)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s: %s", dir, strerror(errno));
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
            (include_hidden || de->d_name[0] != '.'))
            n++;
    closedir(d);
    return n;
}

static void wait_ok(pid_t pid)
{
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d failed (status 0x%x)",
              (int)pid, status);
}

/* How many runs list_runs counts in s. */
static int64_t total_runs(acp_store *s)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.want_total = 1;
    f.limit = 0;
    acp_page *p;
    OK(acp_run_list(s, &f, &p, E));
    int64_t n = acp_page_total(p);
    acp_page_free(p);
    return n;
}

static void setup(void)
{
    make_root();
}

static void teardown(void)
{
    rm_rf(root);
}

TestSuite(file, .init = setup, .fini = teardown, .timeout = 300);

/* ---- ids and names ---------------------------------------------------------- */

Test(file, any_id_maps_to_a_safe_distinct_file)
{
    static char longs[6][257];
    memset(longs[0], 'a', 256);
    memset(longs[1], 'a', 255);
    longs[1][255] = 'b';
    for (int i = 0; i < 128; i++)
        memcpy(longs[2] + 2 * i, "\xc3\xa9", 2); /* 128 x U+00E9: 256 bytes */
    memcpy(longs[3], longs[2], 256);
    memcpy(longs[3] + 254, "\xc3\xa8", 2); /* same prefix, last char differs */
    for (int i = 0; i < 85; i++)
        memcpy(longs[4] + 3 * i, "\xe2\x82\xac", 3); /* 85 x U+20AC + "/" */
    longs[4][255] = '/';
    memset(longs[5], '/', 256);
    const char *ids[] = {"/", "..", ".", "%", "%2f", "%2F", "a/b", "../../etc/passwd", ".hidden",
                         "A", "a", "%41", "~", "a~b", " ", "tab\there", "q\"b\\s",
                         "\x01" "ctl", "\xe6\x97\xa5\xe6\x9c\xac", "index.log", "FORMAT", "lock",
                         "runs", ".tmp-x", "x.json", "x.log", longs[0], longs[1], longs[2],
                         longs[3], longs[4], longs[5]};
    size_t n = sizeof ids / sizeof ids[0];
    acp_store *s = open_at("store", NULL);
    for (size_t i = 0; i < n; i++) {
        char extra[32];
        snprintf(extra, sizeof extra, "%zu", i);
        OK(acp_run_save(s, run_doc(ids[i], "agent", ids[i], (int)i, extra), ACP_STRLEN, E));
        char sj[2048], sdoc[2100];
        jstr(sj, ids[i]);
        snprintf(sdoc, sizeof sdoc, "{\"id\":%s,\"state\":%zu}", sj, i);
        OK(acp_session_save(s, sdoc, ACP_STRLEN, E));
        for (size_t k = 0; k <= i % 3; k++)
            add_ev(s, ids[i], "{\"type\":\"t\"}");
    }
    acp_store_close(s);
    s = open_at("store", NULL);
    for (size_t i = 0; i < n; i++) {
        acp_status st;
        acp_error err;
        char *j = get_run(s, ids[i], &st, &err);
        cr_assert_eq(st, ACP_OK, "get %zu: %s", i, err.message);
        char extra[40];
        snprintf(extra, sizeof extra, "\"x\":%zu}", i);
        cr_assert(strstr(j, extra), "id %zu got another run's document: %s", i, j);
        acp_free(j);
        size_t len;
        OK(acp_session_get(s, ids[i], &j, &len, E));
        snprintf(extra, sizeof extra, "\"state\":%zu}", i);
        cr_assert(strstr(j, extra), "session %zu: %s", i, j);
        acp_free(j);
        cr_assert_eq(all_events(s, ids[i], NULL), i % 3 + 1, "events of id %zu", i);
    }
    /* One file per id in each directory, nothing outside the store. */
    cr_assert_eq(count_entries(at("store/runs"), 1), n);
    cr_assert_eq(count_entries(at("store/sessions"), 1), n);
    cr_assert_eq(count_entries(at("store/events"), 1), n);
    cr_assert_eq(count_entries(root, 1), 1, "something escaped the store directory");
    DIR *d = opendir(at("store/runs"));
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        cr_assert(strlen(de->d_name) <= 255);
        cr_assert_neq(de->d_name[0], '.', "hidden file %s", de->d_name);
    }
    closedir(d);
    /* Listing sees every id once, sessions in byte order. */
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.limit = 1000;
    f.want_total = 1;
    acp_page *p;
    OK(acp_run_list(s, &f, &p, E));
    cr_assert_eq(acp_page_total(p), (int64_t)n);
    cr_assert_eq(acp_page_count(p), n);
    acp_page_free(p);
    OK(acp_session_list(s, NULL, 1000, &p, E));
    cr_assert_eq(acp_page_count(p), n);
    for (size_t i = 1; i < n; i++)
        cr_assert(strcmp(acp_page_key(p, i - 1), acp_page_key(p, i)) < 0);
    acp_page_free(p);
    acp_store_close(s);
}

/* ---- crash leftovers ------------------------------------------------------------ */

static void torn_tail_case(int mode)
{
    acp_store *s = open_at("store", NULL);
    char doc[64];
    for (int i = 1; i <= 10; i++) {
        snprintf(doc, sizeof doc, "{\"type\":\"t\",\"i\":%d}", i);
        cr_assert_eq(add_ev(s, "run-1", doc), i);
    }
    acp_store_close(s);
    const char *log = at("store/events/run-1.log");
    off_t size = file_size(log);
    if (mode == 0) {
        /* Cut the last record in the middle. */
        cr_assert_eq(truncate(log, size - 9), 0);
    } else {
        /* A record whose writer died after its first bytes. */
        int fd = open(log, O_WRONLY | O_APPEND);
        cr_assert(write(fd, "{\"seq\":11,\"stored_us\":17", 24) == 24);
        close(fd);
    }
    s = open_at("store", NULL);
    char **docs;
    size_t n = all_events(s, "run-1", &docs);
    cr_assert_eq(n, mode == 0 ? 9u : 10u);
    for (size_t i = 0; i < n; i++) {
        snprintf(doc, sizeof doc, "{\"type\":\"t\",\"i\":%zu}", i + 1);
        cr_assert_str_eq(docs[i], doc);
    }
    free_docs(docs, n);
    int64_t next = add_ev(s, "run-1", "{\"type\":\"after\"}");
    cr_assert_eq(next, (int64_t)n + 1);
    n = all_events(s, "run-1", &docs);
    cr_assert_eq(n, (size_t)next);
    cr_assert_str_eq(docs[n - 1], "{\"type\":\"after\"}");
    free_docs(docs, n);
    acp_store_close(s);
}

Test(file, torn_tail_of_an_event_log_is_ignored_and_replaced)
{
    torn_tail_case(0);
}

Test(file, partial_record_of_a_dead_writer_is_ignored_and_replaced)
{
    torn_tail_case(1);
}

static void make_old(const char *p)
{
    write_file(p, "{\"half\":");
    struct timespec ts[2] = {{time(NULL) - 3600, 0}, {time(NULL) - 3600, 0}};
    cr_assert_eq(utimensat(AT_FDCWD, p, ts, 0), 0);
}

Test(file, leftover_temporary_files_are_removed_on_open)
{
    acp_store *s = open_at("store", NULL);
    save(s, "r1", "a", NULL, 1);
    OK(acp_session_save(s, "{\"id\":\"s1\"}", ACP_STRLEN, E));
    acp_store_close(s);
    make_old(at("store/runs/.tmp-1-1-dead"));
    make_old(at("store/sessions/.tmp-1-2-dead"));
    make_old(at("store/.tmp-index-1-3-dead"));
    /* A fresh one may belong to a writer that is still running. */
    write_file(at("store/runs/.tmp-1-4-young"), "{");

    s = open_at("store", NULL);
    cr_assert_eq(access(at("store/runs/.tmp-1-1-dead"), F_OK), -1);
    cr_assert_eq(access(at("store/sessions/.tmp-1-2-dead"), F_OK), -1);
    cr_assert_eq(access(at("store/.tmp-index-1-3-dead"), F_OK), -1);
    cr_assert_eq(access(at("store/runs/.tmp-1-4-young"), F_OK), 0);
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.want_total = 1;
    acp_page *p;
    OK(acp_run_list(s, &f, &p, E));
    cr_assert_eq(acp_page_total(p), 1);
    cr_assert_str_eq(acp_page_key(p, 0), "r1");
    acp_page_free(p);
    acp_store_close(s);
}

/* A child that writes until it is killed: runs saved, events appended.  It
 * tells the parent on `ready` once every run exists, so that the checks
 * below do not depend on how fast a loaded machine is. */
static void writer_until_killed(const char *query, int ready)
{
    acp_store *s = open_at("store", query);
    char id[32], doc[128];
    for (int i = 0;; i++) {
        if (i == 50 && write(ready, "x", 1) != 1)
            _exit(4);
        snprintf(id, sizeof id, "r%d", i % 50);
        acp_error err;
        if (acp_run_save(s, run_doc(id, i % 2 ? "a" : "b", NULL, i % 3000, NULL), ACP_STRLEN,
                         &err) != ACP_OK)
            _exit(2);
        snprintf(doc, sizeof doc, "{\"type\":\"t\",\"i\":%d}", i);
        if (acp_event_add(s, "stream", doc, ACP_STRLEN, NULL, &err) != ACP_OK)
            _exit(3);
    }
}

Test(file, killed_writers_leave_nothing_half_written)
{
    for (int round = 0; round < 3; round++) {
        pid_t pid[2];
        int ready[2];
        cr_assert_eq(pipe(ready), 0);
        for (int k = 0; k < 2; k++) {
            pid[k] = fork();
            cr_assert(pid[k] >= 0);
            if (pid[k] == 0)
                writer_until_killed(k ? "sync=none" : NULL, ready[1]);
        }
        char got[2];
        for (size_t have = 0; have < sizeof got;) {
            ssize_t r = read(ready[0], got + have, sizeof got - have);
            cr_assert(r > 0, "a writer died before saving every run");
            have += (size_t)r;
        }
        close(ready[0]);
        close(ready[1]);
        struct timespec d = {0, 30000000 + round * 70000000};
        nanosleep(&d, NULL);
        for (int k = 0; k < 2; k++) {
            kill(pid[k], SIGKILL);
            waitpid(pid[k], NULL, 0);
        }
        acp_store *s = open_at("store", NULL);
        size_t n = all_events(s, "stream", NULL); /* checks 1..n */
        cr_assert(n > 0);
        cr_assert_eq(add_ev(s, "stream", "{\"type\":\"after\"}"), (int64_t)n + 1);
        acp_run_filter f = ACP_RUN_FILTER_INIT;
        f.limit = 100;
        f.want_total = 1;
        acp_page *p;
        OK(acp_run_list(s, &f, &p, E));
        cr_assert_eq(acp_page_total(p), 50);
        cr_assert_eq(acp_page_count(p), 50);
        acp_page_free(p);
        for (int i = 0; i < 50; i++) {
            char id[16];
            snprintf(id, sizeof id, "r%d", i);
            acp_status st;
            acp_error err;
            char *j = get_run(s, id, &st, &err);
            cr_assert_eq(st, ACP_OK, "%s: %s", id, err.message);
            acp_free(j);
        }
        acp_store_close(s);
    }
}

/* ---- damage -------------------------------------------------------------------------- */

Test(file, damaged_run_file_is_corrupt_by_name_and_the_rest_works)
{
    acp_store *s = open_at("store", NULL);
    save(s, "r1", "a", NULL, 1);
    save(s, "r2", "b", NULL, 2);
    add_ev(s, "r1", "{\"type\":\"t\"}");
    acp_store_close(s);
    /* A hand edit: one character of the document changed. */
    const char *p = at("store/runs/r1.json");
    FILE *f = fopen(p, "r+");
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    char *c = strstr(buf, "\"created\"");
    cr_assert_not_null(c);
    c[1] = 'C';
    rewind(f);
    fwrite(buf, 1, n, f);
    fclose(f);

    s = open_at("store", NULL);
    acp_status st;
    acp_error err;
    char *j = get_run(s, "r1", &st, &err);
    cr_assert_eq(st, ACP_CORRUPT, "%s", acp_status_name(st));
    cr_assert(strstr(err.message, "runs/r1.json"), "message does not name the file: %s",
              err.message);
    j = get_run(s, "r2", &st, &err);
    cr_assert_eq(st, ACP_OK, "%s", err.message);
    acp_free(j);
    acp_run_filter rf = ACP_RUN_FILTER_INIT;
    rf.agent_name = "b";
    acp_page *pg;
    OK(acp_run_list(s, &rf, &pg, E));
    cr_assert_eq(acp_page_count(pg), 1);
    acp_page_free(pg);
    cr_assert_eq(add_ev(s, "r1", "{\"type\":\"t\"}"), 2);
    /* Saving again replaces the damaged file. */
    save(s, "r1", "a", NULL, 1);
    j = get_run(s, "r1", &st, &err);
    cr_assert_eq(st, ACP_OK, "%s", err.message);
    acp_free(j);
    acp_store_close(s);
}

Test(file, damaged_event_record_is_corrupt_by_name)
{
    acp_store *s = open_at("store", NULL);
    for (int i = 0; i < 5; i++)
        add_ev(s, "r1", "{\"type\":\"t\",\"payload\":\"abcdef\"}");
    add_ev(s, "r2", "{\"type\":\"t\"}");
    acp_store_close(s);
    const char *p = at("store/events/r1.log");
    FILE *f = fopen(p, "r+");
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    char *c = strstr(strstr(buf, "\"seq\":2,"), "abcdef");
    c[0] = 'X';
    rewind(f);
    fwrite(buf, 1, n, f);
    fclose(f);

    s = open_at("store", NULL);
    acp_page *pg;
    acp_error err;
    acp_event_filter ef = ACP_EVENT_FILTER_INIT;
    acp_status st = acp_event_list(s, "r1", &ef, &pg, &err);
    cr_assert_eq(st, ACP_CORRUPT, "%s", acp_status_name(st));
    cr_assert(strstr(err.message, "events/r1.log"), "%s", err.message);
    st = acp_event_add(s, "r1", "{\"type\":\"t\"}", ACP_STRLEN, NULL, &err);
    cr_assert_eq(st, ACP_CORRUPT, "%s", acp_status_name(st));
    cr_assert(strstr(err.message, "events/r1.log"), "%s", err.message);
    cr_assert_eq(all_events(s, "r2", NULL), 1);
    cr_assert_eq(add_ev(s, "r2", "{\"type\":\"t\"}"), 2);
    /* Deleting the run clears the damage. */
    OK(acp_run_delete(s, "r1", E));
    cr_assert_eq(add_ev(s, "r1", "{\"type\":\"t\"}"), 1);
    acp_store_close(s);
}

Test(file, newer_or_unknown_format_is_refused)
{
    acp_store *s = open_at("store", NULL);
    acp_store_close(s);
    acp_error err;
    write_file(at("store/FORMAT"), "{\"format\":\"acp-storage-file\",\"version\":4}\n");
    acp_status st = try_open("store", NULL, &err);
    cr_assert_eq(st, ACP_UNSUPPORTED, "%s: %s", acp_status_name(st), err.message);
    cr_assert(strstr(err.message, "version 4"), "%s", err.message);
    write_file(at("store/FORMAT"), "hello\n");
    st = try_open("store", NULL, &err);
    cr_assert_eq(st, ACP_CORRUPT, "%s: %s", acp_status_name(st), err.message);
    cr_assert(strstr(err.message, "FORMAT"), "%s", err.message);
}

Test(file, index_is_rebuilt_when_removed_or_damaged)
{
    acp_store *s = open_at("store", "sync=none");
    char id[16];
    for (int i = 0; i < 40; i++) {
        snprintf(id, sizeof id, "r%02d", i);
        save(s, id, i % 2 ? "odd" : "even", NULL, i);
    }
    acp_store_close(s);

    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.agent_name = "odd";
    f.limit = 100;
    f.want_total = 1;
    acp_page *p;
    cr_assert_eq(unlink(at("store/index.log")), 0);
    s = open_at("store", NULL);
    OK(acp_run_list(s, &f, &p, E));
    cr_assert_eq(acp_page_total(p), 20);
    cr_assert_str_eq(acp_page_key(p, 0), "r39");
    acp_page_free(p);
    acp_store_close(s);

    /* Damage a record in the middle. */
    FILE *fp = fopen(at("store/index.log"), "r+");
    cr_assert_eq(fseek(fp, 30, SEEK_SET), 0);
    fputc('#', fp);
    fclose(fp);
    s = open_at("store", NULL);
    OK(acp_run_list(s, &f, &p, E));
    cr_assert_eq(acp_page_total(p), 20);
    cr_assert_eq(acp_page_count(p), 20);
    acp_page_free(p);
    acp_store_close(s);
    /* The damaged copy is kept for the operator. */
    DIR *d = opendir(at("store"));
    struct dirent *de;
    int kept = 0;
    while ((de = readdir(d)))
        kept |= strncmp(de->d_name, "index.log.damaged-", 18) == 0;
    closedir(d);
    cr_assert(kept);
}

/* ---- locations and options ------------------------------------------------------- */

Test(file, missing_directories_are_created_and_odd_paths_refused)
{
    acp_store *s = open_at("a/b/c/store", NULL);
    save(s, "r", "a", NULL, 1);
    acp_store_close(s);
    struct stat st;
    cr_assert_eq(stat(at("a/b/c/store/FORMAT"), &st), 0);

    acp_error err;
    write_file(at("plain"), "x");
    acp_status rc = try_open("plain", NULL, &err);
    cr_assert_eq(rc, ACP_INVALID, "%s: %s", acp_status_name(rc), err.message);
    rc = try_open("plain/sub", NULL, &err);
    cr_assert_eq(rc, ACP_INVALID, "%s: %s", acp_status_name(rc), err.message);

    /* An existing directory holding other things is not taken over. */
    cr_assert_eq(mkdir(at("home"), 0755), 0);
    write_file(at("home/notes.txt"), "mine");
    rc = try_open("home", NULL, &err);
    cr_assert_eq(rc, ACP_INVALID, "%s: %s", acp_status_name(rc), err.message);
    cr_assert_eq(count_entries(at("home"), 1), 1);

    /* A relative path is relative to the working directory. */
    char cwd[1024];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    cr_assert_eq(chdir(root), 0);
    acp_store *r = NULL;
    OK(acp_store_open("file:rel/store", &r, E));
    save(r, "r", "a", NULL, 1);
    acp_store_close(r);
    cr_assert_eq(chdir(cwd), 0);
    cr_assert_eq(stat(at("rel/store/runs/r.json"), &st), 0);
}

Test(file, sync_option)
{
    acp_error err;
    cr_assert_eq(try_open("s1", "sync=none", &err), ACP_OK, "%s", err.message);
    cr_assert_eq(try_open("s2", "sync=always", &err), ACP_OK, "%s", err.message);
    acp_status st = try_open("s3", "sync=sometimes", &err);
    cr_assert_eq(st, ACP_INVALID, "%s", acp_status_name(st));
    cr_assert(strstr(err.message, "sync"), "%s", err.message);
    st = try_open("s4", "fsync=1", &err);
    cr_assert_eq(st, ACP_INVALID, "%s", acp_status_name(st));
    acp_store *s = NULL;
    st = acp_store_open("file:", &s, &err);
    cr_assert_eq(st, ACP_INVALID, "empty path: %s", acp_status_name(st));
    uint64_t caps = 0;
    s = open_at("s1", NULL);
    caps = acp_store_capabilities(s);
    acp_store_close(s);
    cr_assert_eq(caps & 7u, 7u, "CONCURRENT|DURABLE|MULTIPROCESS expected, got %llx",
                 (unsigned long long)caps);
}

/* ---- full and read-only disks ------------------------------------------------------- */

Test(file, full_disk_gives_io_and_leaves_nothing_half_written)
{
    acp_store *s = open_at("store", NULL);
    for (int i = 0; i < 3; i++)
        add_ev(s, "r1", "{\"type\":\"t\"}");
    save(s, "r1", "a", NULL, 1);
    off_t log_size = file_size(at("store/events/r1.log"));
    off_t run_size = file_size(at("store/runs/r1.json"));

    /* Files may not grow past the current log size + 100 bytes: the
     * kernel's answer to such writes is the same as a full disk's, a
     * failed or short write. */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = (rlim_t)(log_size + 100);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);

    char big[2048];
    int n = sprintf(big, "{\"type\":\"t\",\"pad\":\"");
    memset(big + n, 'x', 1000);
    sprintf(big + n + 1000, "\"}");
    acp_error err;
    acp_status st = acp_event_add(s, "r1", big, ACP_STRLEN, NULL, &err);
    cr_assert_eq(st, ACP_IO, "%s", acp_status_name(st));
    cr_assert(strstr(err.message, "events/r1.log") && strstr(err.message, "large"), "%s",
              err.message);
    char extra[1100];
    extra[0] = '"';
    memset(extra + 1, 'y', 1000);
    strcpy(extra + 1001, "\"");
    st = acp_run_save(s, run_doc("r1", "b", NULL, 1, extra), ACP_STRLEN, &err);
    cr_assert_eq(st, ACP_IO, "%s", acp_status_name(st));
    cr_assert(strstr(err.message, "runs/r1.json"), "%s", err.message);

    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    cr_assert_eq(file_size(at("store/events/r1.log")), log_size);
    cr_assert_eq(file_size(at("store/runs/r1.json")), run_size);
    cr_assert_eq(count_entries(at("store/runs"), 1), 1, "a temporary file was left behind");
    cr_assert_eq(add_ev(s, "r1", big), 4);
    cr_assert_eq(all_events(s, "r1", NULL), 4);
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.agent_name = "a";
    f.want_total = 1;
    acp_page *p;
    OK(acp_run_list(s, &f, &p, E));
    cr_assert_eq(acp_page_total(p), 1);
    acp_page_free(p);
    acp_store_close(s);
}

/* In a child without the right to write: reads work, writes say why not. */
static int read_only_child(void)
{
    char uri[600];
    snprintf(uri, sizeof uri, "file:%s/store", root);
    acp_store *s;
    acp_error err;
    if (acp_store_open(uri, &s, &err) != ACP_OK) {
        fprintf(stderr, "open: %s\n", err.message);
        return 1;
    }
    char *j;
    if (acp_run_get(s, "r1", &j, NULL, &err) != ACP_OK)
        return 2;
    acp_free(j);
    acp_status st = acp_run_save(s, run_doc("r2", "a", NULL, 1, NULL), ACP_STRLEN, &err);
    if (st != ACP_IO || !strstr(err.message, "ermission")) {
        fprintf(stderr, "save: %s %s\n", acp_status_name(st), err.message);
        return 3;
    }
    st = acp_event_add(s, "r1", "{\"type\":\"t\"}", ACP_STRLEN, NULL, &err);
    if (st != ACP_IO)
        return 4;
    acp_page *p;
    acp_event_filter ef = ACP_EVENT_FILTER_INIT;
    if (acp_event_list(s, "r1", &ef, &p, &err) != ACP_OK || acp_page_count(p) != 1)
        return 5;
    acp_page_free(p);
    acp_store_close(s);
    return 0;
}

Test(file, read_only_store_reads_and_refuses_writes_with_io)
{
    acp_store *s = open_at("store", NULL);
    save(s, "r1", "a", NULL, 1);
    add_ev(s, "r1", "{\"type\":\"t\"}");
    acp_store_close(s);
    cr_assert_eq(chmod(root, 0755), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        if (geteuid() == 0) {
            /* root may write anywhere: become nobody, for whom the store
             * (owned by root, mode 0755/0644) is read-only. */
            if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
                _exit(10);
        } else {
            chmod(at("store"), 0555);
            chmod(at("store/runs"), 0555);
            chmod(at("store/events"), 0555);
            chmod(at("store/lock"), 0444);
            chmod(at("store/index.log"), 0444);
            chmod(at("store/events/r1.log"), 0444);
        }
        _exit(read_only_child());
    }
    wait_ok(pid);
    if (geteuid() != 0) {
        chmod(at("store"), 0755);
        chmod(at("store/runs"), 0755);
        chmod(at("store/events"), 0755);
    }
}

/* ---- processes ------------------------------------------------------------------------ */

Test(file, four_processes_append_2000_events_without_gaps)
{
    acp_store *s = open_at("store", NULL);
    add_ev(s, "other", "{\"type\":\"t\"}");
    acp_store_close(s);
    pid_t pids[4];
    for (int c = 0; c < 4; c++) {
        pids[c] = fork();
        cr_assert(pids[c] >= 0);
        if (pids[c] == 0) {
            char uri[600], doc[64];
            snprintf(uri, sizeof uri, "file:%s/store", root);
            acp_store *cs;
            acp_error err;
            if (acp_store_open(uri, &cs, &err) != ACP_OK)
                _exit(1);
            int64_t last = 0;
            for (int i = 0; i < 500; i++) {
                int64_t seq;
                snprintf(doc, sizeof doc, "{\"type\":\"t\",\"c\":%d,\"i\":%d}", c, i);
                if (acp_event_add(cs, "shared", doc, ACP_STRLEN, &seq, &err) != ACP_OK ||
                    seq <= last)
                    _exit(2);
                last = seq;
            }
            acp_store_close(cs);
            _exit(0);
        }
    }
    for (int c = 0; c < 4; c++)
        wait_ok(pids[c]);
    s = open_at("store", NULL);
    char **docs;
    size_t n = all_events(s, "shared", &docs);
    cr_assert_eq(n, 2000);
    int next[4] = {0};
    for (size_t k = 0; k < n; k++) {
        int c, i;
        cr_assert_eq(sscanf(docs[k], "{\"type\":\"t\",\"c\":%d,\"i\":%d}", &c, &i), 2);
        cr_assert_eq(i, next[c], "child %d: event %d out of order", c, i);
        next[c]++;
    }
    free_docs(docs, n);
    cr_assert_eq(add_ev(s, "shared", "{\"type\":\"t\"}"), 2001);
    cr_assert_eq(all_events(s, "other", NULL), 1);
    acp_store_close(s);
}

Test(file, concurrent_saves_from_processes_lose_nothing)
{
    pid_t pids[4];
    for (int c = 0; c < 4; c++) {
        pids[c] = fork();
        cr_assert(pids[c] >= 0);
        if (pids[c] == 0) {
            char uri[600], id[32], agent[16], sdoc[128];
            snprintf(uri, sizeof uri, "file:%s/store?sync=none", root);
            snprintf(agent, sizeof agent, "agent-%d", c);
            acp_store *cs;
            acp_error err;
            if (acp_store_open(uri, &cs, &err) != ACP_OK)
                _exit(1);
            for (int i = 0; i < 150; i++) {
                snprintf(id, sizeof id, "c%d-%d", c, i);
                if (acp_run_save(cs, run_doc(id, agent, "sess", i, NULL), ACP_STRLEN, &err))
                    _exit(2);
                if (acp_run_save(cs, run_doc("shared", agent, NULL, 5, NULL), ACP_STRLEN,
                                 &err))
                    _exit(3);
                snprintf(sdoc, sizeof sdoc, "{\"id\":\"s%d-%d\",\"state\":%d}", c, i, i);
                if (acp_session_save(cs, sdoc, ACP_STRLEN, &err))
                    _exit(4);
            }
            acp_store_close(cs);
            _exit(0);
        }
    }
    for (int c = 0; c < 4; c++)
        wait_ok(pids[c]);
    acp_store *s = open_at("store", NULL);
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.want_total = 1;
    f.limit = 0;
    acp_page *p;
    OK(acp_run_list(s, &f, &p, E));
    cr_assert_eq(acp_page_total(p), 601);
    acp_page_free(p);
    f.session_id = "sess";
    OK(acp_run_list(s, &f, &p, E));
    cr_assert_eq(acp_page_total(p), 600);
    acp_page_free(p);
    /* The shared run is listed once, under the agent of its last save. */
    char *j;
    size_t len;
    OK(acp_run_get(s, "shared", &j, &len, E));
    char agent[16];
    cr_assert_eq(sscanf(strstr(j, "agent-"), "%15[a-z0-9-]", agent), 1);
    acp_free(j);
    f.session_id = NULL;
    f.agent_name = agent;
    OK(acp_run_list(s, &f, &p, E));
    cr_assert_eq(acp_page_total(p), 151);
    acp_page_free(p);
    OK(acp_session_list(s, NULL, 1000, &p, E));
    cr_assert_eq(acp_page_count(p), 600);
    acp_page_free(p);
    acp_store_close(s);
}

Test(file, another_handle_sees_saves_deletes_and_compaction)
{
    acp_store *a = open_at("store", "sync=none");
    acp_store *b = open_at("store", "sync=none");
    save(a, "r1", "x", "s", 1);
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.want_total = 1;
    f.agent_name = "x";
    acp_page *p;
    OK(acp_run_list(b, &f, &p, E));
    cr_assert_eq(acp_page_total(p), 1);
    acp_page_free(p);
    /* Events: b's cached view of the log must follow a's delete. */
    cr_assert_eq(add_ev(b, "r1", "{\"type\":\"t\"}"), 1);
    cr_assert_eq(add_ev(a, "r1", "{\"type\":\"t\"}"), 2);
    OK(acp_run_delete(a, "r1", E));
    cr_assert_eq(add_ev(b, "r1", "{\"type\":\"t\"}"), 1);
    OK(acp_run_list(b, &f, &p, E));
    cr_assert_eq(acp_page_total(p), 0);
    acp_page_free(p);

    /* Enough saves to make index.log compact itself (> 1 MiB). */
    char id[16];
    int is_x[7] = {0};
    for (int i = 0; i < 9000; i++) {
        snprintf(id, sizeof id, "r%d", i % 7);
        save(a, id, i % 2 ? "x" : "y", NULL, i % 100);
        is_x[i % 7] = i % 2;
    }
    int xs = 0, first_y = -1;
    for (int k = 0; k < 7; k++) {
        xs += is_x[k];
        if (!is_x[k] && first_y < 0)
            first_y = k;
    }
    cr_assert(file_size(at("store/index.log")) < 1 << 20, "index.log was not compacted");
    OK(acp_run_list(b, &f, &p, E));
    cr_assert_eq(acp_page_total(p), xs);
    acp_page_free(p);
    snprintf(id, sizeof id, "r%d", first_y);
    save(b, id, "x", NULL, 200);
    OK(acp_run_list(a, &f, &p, E));
    cr_assert_eq(acp_page_total(p), xs + 1);
    cr_assert_str_eq(acp_page_key(p, 0), id);
    acp_page_free(p);
    acp_store_close(a);
    acp_store_close(b);
}

/* ---- list_runs against a brute-force model ---------------------------------------- */

typedef struct mrun {
    char id[64];
    int agent, session; /* session -1: none */
    int created;
    int live;
} mrun;

static const char *agents[] = {"alpha", "beta", "gamma", "delta"};
static const char *sessions[] = {"s0", "s1", "s2", "S2", "s/4", "s5"};

static int model_cmp(const void *a, const void *b)
{
    const mrun *x = *(mrun *const *)a, *y = *(mrun *const *)b;
    if (x->created != y->created)
        return x->created > y->created ? -1 : 1;
    return -strcmp(x->id, y->id); /* ids are NUL-free: strcmp is byte order */
}

static void check_listing(acp_store *s, mrun *m, size_t n, int agent, int session)
{
    mrun **exp = malloc(n * sizeof *exp);
    size_t ne = 0;
    for (size_t i = 0; i < n; i++)
        if (m[i].live && (agent < 0 || m[i].agent == agent) &&
            (session < 0 || m[i].session == session))
            exp[ne++] = &m[i];
    qsort(exp, ne, sizeof *exp, model_cmp);

    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.agent_name = agent >= 0 ? agents[agent] : NULL;
    f.session_id = session >= 0 ? sessions[session] : NULL;
    f.limit = 97;
    f.want_total = 1;
    size_t seen = 0;
    char *cursor = NULL;
    for (;;) {
        acp_page *p;
        f.cursor = cursor;
        OK(acp_run_list(s, &f, &p, E));
        cr_assert_eq(acp_page_total(p), (int64_t)ne, "total for agent %d session %d", agent,
                     session);
        for (size_t i = 0; i < acp_page_count(p); i++, seen++) {
            cr_assert(seen < ne);
            cr_assert_str_eq(acp_page_key(p, i), exp[seen]->id, "position %zu", seen);
            cr_assert_eq(acp_page_time_us(p, i), T0_US + exp[seen]->created * INT64_C(1000000));
        }
        free(cursor);
        cursor = acp_page_next_cursor(p) ? strdup(acp_page_next_cursor(p)) : NULL;
        acp_page_free(p);
        if (!cursor)
            break;
    }
    cr_assert_eq(seen, ne);
    /* An offset page. */
    f.cursor = NULL;
    f.offset = (int64_t)ne / 3;
    f.limit = 50;
    acp_page *p;
    OK(acp_run_list(s, &f, &p, E));
    size_t want = ne - (size_t)f.offset < 50 ? ne - (size_t)f.offset : 50;
    cr_assert_eq(acp_page_count(p), want);
    for (size_t i = 0; i < want; i++)
        cr_assert_str_eq(acp_page_key(p, i), exp[(size_t)f.offset + i]->id);
    acp_page_free(p);
    free(exp);
}

Test(file, list_runs_matches_a_brute_force_model)
{
    enum { N = 5000 };
    mrun *m = calloc(N, sizeof *m);
    uint64_t rng = 0x2545F4914F6CDD1Du;
#define RND() (rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17, rng)
    acp_store *s = open_at("store", "sync=none");
    for (int i = 0; i < N; i++) {
        /* Ids with shared prefixes, case differences and non-ASCII bytes, so
         * that ties on created_at are broken by byte order. */
        static const char *pre[] = {"run-", "Run-", "r\xc3\xa9", "r", "z/"};
        const char *prefix = pre[RND() % 5];
        unsigned long long body = (unsigned long long)(RND() % 100000) * 16 + (unsigned)(i % 16);
        snprintf(m[i].id, sizeof m[i].id, "%s%llx", prefix, body);
        for (int k = 0; k < i; k++) { /* keep ids unique (rare repeats) */
            if (!strcmp(m[k].id, m[i].id)) {
                snprintf(m[i].id, sizeof m[i].id, "u%d", i);
                break;
            }
        }
        m[i].agent = (int)(RND() % 4);
        m[i].session = (int)(RND() % 7) - 1;
        m[i].created = (int)(RND() % 50);
        m[i].live = 1;
        save(s, m[i].id, agents[m[i].agent], m[i].session >= 0 ? sessions[m[i].session] : NULL,
             m[i].created);
    }
    /* Moves between agents and sessions, and deletes. */
    for (int k = 0; k < 600; k++) {
        mrun *r = &m[RND() % N];
        if (!r->live)
            continue;
        r->agent = (int)(RND() % 4);
        r->session = (int)(RND() % 7) - 1;
        r->created = (int)(RND() % 50);
        save(s, r->id, agents[r->agent], r->session >= 0 ? sessions[r->session] : NULL,
             r->created);
    }
    for (int k = 0; k < 300; k++) {
        mrun *r = &m[RND() % N];
        if (r->live) {
            OK(acp_run_delete(s, r->id, E));
            r->live = 0;
        }
    }
    check_listing(s, m, N, -1, -1);
    for (int a = 0; a < 4; a++)
        check_listing(s, m, N, a, -1);
    for (int se = 0; se < 6; se++)
        check_listing(s, m, N, -1, se);
    check_listing(s, m, N, 1, 3);
    check_listing(s, m, N, 2, 0);
    acp_store_close(s);
    /* Another handle builds the same index from index.log. */
    s = open_at("store", NULL);
    check_listing(s, m, N, -1, -1);
    check_listing(s, m, N, 3, 5);
    acp_store_close(s);
    free(m);
}

Test(file, reopen_keeps_everything)
{
    acp_store *s = open_at("store", NULL);
    save(s, "r1", "a", "s1", 3);
    OK(acp_run_save(s, run_doc("r2", "a", NULL, -1, "[1,2.50,\"\\u00e9\"]"), ACP_STRLEN, E));
    OK(acp_session_save(s, "{\"id\":\"s1\",\"state\":false,\"history\":[]}", ACP_STRLEN, E));
    add_ev(s, "r1", "{\"type\":\"a\"}");
    add_ev(s, "r1", "{ \"type\" : \"b\" }");
    char *j;
    size_t len;
    OK(acp_run_get(s, "r2", &j, &len, E));
    char *r2 = strdup(j);
    acp_free(j);
    acp_page *p;
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    OK(acp_run_list(s, &f, &p, E));
    int64_t r2_time = acp_page_time_us(p, 0);
    cr_assert_str_eq(acp_page_key(p, 0), "r2"); /* saved without created_at: now */
    acp_page_free(p);
    acp_store_close(s);

    s = open_at("store", NULL);
    OK(acp_run_get(s, "r2", &j, &len, E));
    cr_assert_str_eq(j, r2);
    acp_free(j);
    free(r2);
    /* Saving again without created_at keeps the first time. */
    OK(acp_run_save(s, run_doc("r2", "b", NULL, -1, NULL), ACP_STRLEN, E));
    OK(acp_run_list(s, &f, &p, E));
    cr_assert_eq(acp_page_count(p), 2);
    cr_assert_str_eq(acp_page_key(p, 0), "r2");
    cr_assert_eq(acp_page_time_us(p, 0), r2_time);
    cr_assert_str_eq(acp_page_key(p, 1), "r1");
    cr_assert_eq(acp_page_time_us(p, 1), T0_US + 3 * INT64_C(1000000));
    acp_page_free(p);
    OK(acp_session_get(s, "s1", &j, &len, E));
    cr_assert_str_eq(j, "{\"id\":\"s1\",\"state\":false,\"history\":[]}");
    acp_free(j);
    char **docs;
    size_t n = all_events(s, "r1", &docs);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(docs[1], "{ \"type\" : \"b\" }");
    free_docs(docs, n);
    acp_store_close(s);
}

Test(file, store_files_are_plain_json)
{
    acp_store *s = open_at("store", NULL);
    save(s, "r1", "a", NULL, 1);
    add_ev(s, "r1", "{\"type\":\"t\"}");
    acp_store_close(s);
    /* What an operator sees with cat: the document inside a small wrapper. */
    FILE *f = fopen(at("store/runs/r1.json"), "r");
    char buf[2048];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    cr_assert(strncmp(buf, "{\"run_id\":\"r1\",\"agent_name\":\"a\"", 31) == 0, "%s", buf);
    cr_assert(strstr(buf, "\"doc\":{\"run_id\":\"r1\""), "%s", buf);
    f = fopen(at("store/events/r1.log"), "r");
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    cr_assert(strncmp(buf, "{\"seq\":1,", 9) == 0, "%s", buf);
    cr_assert(strstr(buf, "\"event\":{\"type\":\"t\"}"), "%s", buf);
    cr_assert_eq(buf[n - 1], '\n');
}

/* ---- many logs at once ------------------------------------------------------ */

/* Bytes this process has read from files and pipes so far (rchar), or -1
 * where /proc does not tell. */
static long long bytes_read(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    if (!f)
        return -1;
    char line[128];
    long long v = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "rchar: %lld", &v) == 1)
            break;
    fclose(f);
    return v;
}

/* An event of about 1 KiB. */
static const char *big_event(int run, int k)
{
    static char doc[1200];
    int n = snprintf(doc, sizeof doc, "{\"type\":\"t\",\"run\":%d,\"k\":%d,\"pad\":\"", run, k);
    memset(doc + n, 'p', 1000);
    strcpy(doc + n + 1000, "\"}");
    return doc;
}

static const char *run_name(int r)
{
    static char buf[4][32];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, 32, "run-%d", r);
    return b;
}

Test(file, logs_closed_by_the_lru_go_on_where_they_ended)
{
    /* The store keeps at most a quarter of RLIMIT_NOFILE of its logs open:
     * 50 here, so appending round-robin to 200 runs closes and reopens
     * every log on every append. */
    struct rlimit saved, low;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
    low = saved;
    if (low.rlim_cur > 200)
        low.rlim_cur = 200;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    enum { RUNS = 200, ROUNDS = 25 };
    acp_store *s = open_at("store", "sync=none");
    for (int r = 0; r < RUNS; r++)
        cr_assert_eq(add_ev(s, run_name(r), big_event(r, 1)), 1);
    /* A reopened log resumes from the position kept when it was closed:
     * nothing is read (the old code read the whole log on every append,
     * some 60 MB here). */
    long long before = bytes_read();
    for (int k = 2; k <= ROUNDS; k++)
        for (int r = 0; r < RUNS; r++)
            cr_assert_eq(add_ev(s, run_name(r), big_event(r, k)), k, "run %d", r);
    long long after = bytes_read();
    if (before >= 0)
        cr_assert_lt(after - before, 256 * 1024, "read %lld bytes", after - before);

    /* Meanwhile (both logs closed here), another process appends to run-7,
     * and deletes run-9 and writes a longer log under the same name (perhaps
     * with the same inode number). */
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        char uri[600];
        snprintf(uri, sizeof uri, "file:%s/store?sync=none", root);
        acp_store *cs;
        acp_error err;
        int64_t seq;
        if (acp_store_open(uri, &cs, &err) != ACP_OK)
            _exit(1);
        for (int k = 1; k <= 5; k++)
            if (acp_event_add(cs, "run-7", big_event(7, ROUNDS + k), ACP_STRLEN, &seq, &err) !=
                    ACP_OK ||
                seq != ROUNDS + k)
                _exit(2);
        if (acp_run_delete(cs, "run-9", &err) != ACP_OK)
            _exit(3);
        for (int k = 1; k <= ROUNDS + 3; k++)
            if (acp_event_add(cs, "run-9", big_event(9, 1000 + k), ACP_STRLEN, &seq, &err) !=
                    ACP_OK ||
                seq != k)
                _exit(4);
        acp_store_close(cs);
        _exit(0);
    }
    wait_ok(pid);
    /* And another handle of this process appends to run-5 (closed here)
     * and run-199 (still open here: the last one used). */
    acp_store *s2 = open_at("store", "sync=none");
    cr_assert_eq(add_ev(s2, "run-5", big_event(5, ROUNDS + 1)), ROUNDS + 1);
    cr_assert_eq(add_ev(s2, "run-199", big_event(199, ROUNDS + 1)), ROUNDS + 1);
    acp_store_close(s2);
    before = bytes_read();
    for (int r = 0; r < RUNS; r++) {
        int64_t want = r == 7   ? ROUNDS + 6
                       : r == 9 ? ROUNDS + 4
                       : r == 5 || r == 199 ? ROUNDS + 2
                                            : ROUNDS + 1;
        cr_assert_eq(add_ev(s, run_name(r), big_event(r, (int)want)), want, "run %d", r);
    }
    after = bytes_read();
    /* What the others appended, the last record of each log of the
     * stripes they touched, the new run-9: some 100 KiB. */
    if (before >= 0)
        cr_assert_lt(after - before, 256 * 1024, "read %lld bytes", after - before);

    char **docs;
    size_t n = all_events(s, "run-7", &docs);
    cr_assert_eq(n, ROUNDS + 6);
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(docs[i], big_event(7, (int)i + 1));
    free_docs(docs, n);
    n = all_events(s, "run-9", &docs);
    cr_assert_eq(n, ROUNDS + 4);
    for (size_t i = 0; i + 1 < n; i++)
        cr_assert_str_eq(docs[i], big_event(9, 1000 + (int)i + 1));
    cr_assert_str_eq(docs[n - 1], big_event(9, ROUNDS + 4));
    free_docs(docs, n);
    cr_assert_eq(all_events(s, "run-123", NULL), ROUNDS + 1);
    acp_store_close(s);
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
}

/* ---- integrity: links, FIFOs, stopped peers, damage (issue 13) ------------ */

/* The whole content of p (NUL-terminated, to free), or NULL. */
static char *slurp(const char *p, size_t *len)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    char *b = malloc(1 << 20);
    size_t n = fread(b, 1, (1 << 20) - 1, f);
    fclose(f);
    b[n] = '\0';
    if (len)
        *len = n;
    return b;
}

/* A store with one run r1 (with two events) and one session s1. */
static void small_store(const char *rel)
{
    acp_store *s = open_at(rel, NULL);
    save(s, "r1", "a", NULL, 1);
    save(s, "r2", "a", NULL, 2);
    OK(acp_session_save(s, "{\"id\":\"s1\"}", ACP_STRLEN, E));
    add_ev(s, "r1", "{\"type\":\"t\"}");
    add_ev(s, "r1", "{\"type\":\"t\"}");
    acp_store_close(s);
}

/* Every call a client could make; results are the caller's to judge, except
 * that none may hang (alarm) or crash. */
static void exercise(const char *rel, acp_status *open_st)
{
    char uri[1200];
    snprintf(uri, sizeof uri, "file:%s/%s", root, rel);
    acp_store *s = NULL;
    acp_error err;
    *open_st = acp_store_open(uri, &s, &err);
    if (*open_st != ACP_OK)
        return;
    acp_store_ping(s, &err);
    char *j = NULL;
    if (acp_run_get(s, "r1", &j, NULL, &err) == ACP_OK)
        acp_free(j);
    if (acp_session_get(s, "s1", &j, NULL, &err) == ACP_OK)
        acp_free(j);
    acp_page *p;
    acp_event_filter ef = ACP_EVENT_FILTER_INIT;
    if (acp_event_list(s, "r1", &ef, &p, &err) == ACP_OK)
        acp_page_free(p);
    acp_event_add(s, "r1", "{\"type\":\"x\"}", ACP_STRLEN, NULL, &err);
    acp_run_filter rf = ACP_RUN_FILTER_INIT;
    if (acp_run_list(s, &rf, &p, &err) == ACP_OK)
        acp_page_free(p);
    if (acp_session_list(s, NULL, 10, &p, &err) == ACP_OK)
        acp_page_free(p);
    acp_run_save(s, run_doc("r1", "a", NULL, 3, NULL), ACP_STRLEN, &err);
    acp_session_save(s, "{\"id\":\"s1\",\"v\":2}", ACP_STRLEN, &err);
    acp_run_delete(s, "r1", &err);
    acp_session_delete(s, "s1", &err);
    acp_store_close(s);
}

Test(file, links_planted_at_every_internal_path_are_never_followed)
{
    /* path inside the store, and whether opening must fail */
    static const struct {
        const char *path;
        int open_fails;
    } cases[] = {
        {"lock", 1},          {"index.log", 1},        {"FORMAT", 1},
        {"runs", 1},          {"sessions", 1},         {"events", 1},
        {"runs/r1.json", 0},  {"sessions/s1.json", 0}, {"events/r1.log", 0},
        {"runs/r1.deleting", 0},
    };
    alarm(120);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char rel[32], victim[64], vdir[64], vfile[96], target[1100];
        snprintf(rel, sizeof rel, "s%zu", i);
        snprintf(victim, sizeof victim, "victim%zu", i);
        snprintf(vdir, sizeof vdir, "victimdir%zu", i);
        snprintf(vfile, sizeof vfile, "victimdir%zu/keep.json", i);
        small_store(rel);
        static const char text[] = "precious bytes\n{\"not\":\"yours\"}\n";
        write_file(at(victim), text);
        cr_assert_eq(mkdir(at(vdir), 0755), 0);
        write_file(at(vfile), text);
        char ip[96];
        snprintf(ip, sizeof ip, "%s/%s", rel, cases[i].path);
        int is_dir = !strchr(cases[i].path, '/') && !strchr(cases[i].path, '.') &&
                     strcmp(cases[i].path, "lock") && strcmp(cases[i].path, "FORMAT");
        if (is_dir) {
            char cmd[2400];
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", at(ip));
            cr_assert_eq(system(cmd), 0);
        } else {
            unlink(at(ip));
        }
        snprintf(target, sizeof target, "%s", at(is_dir ? vdir : victim));
        cr_assert_eq(symlink(target, at(ip)), 0, "%s: %s", ip, strerror(errno));

        acp_status st;
        exercise(rel, &st);
        if (cases[i].open_fails)
            cr_assert_neq(st, ACP_OK, "%s: a store with a link there opened", cases[i].path);
        else
            cr_assert_eq(st, ACP_OK, "%s: one planted link took the store down",
                         cases[i].path);
        size_t n;
        char *now = slurp(at(victim), &n);
        cr_assert(now && n == sizeof text - 1 && memcmp(now, text, n) == 0,
                  "%s: the link's target was changed", cases[i].path);
        free(now);
        now = slurp(at(vfile), &n);
        cr_assert(now && n == sizeof text - 1 && memcmp(now, text, n) == 0,
                  "%s: a file in the linked folder was changed", cases[i].path);
        free(now);
        cr_assert_eq(count_entries(at(vdir), 1), 1, "%s: the linked folder gained files",
                     cases[i].path);
    }
    alarm(0);
}

Test(file, links_fail_cleanly_with_corrupt_naming_the_file)
{
    small_store("store");
    write_file(at("victim"), "x");
    cr_assert_eq(unlink(at("store/events/r1.log")), 0);
    cr_assert_eq(symlink(at("victim"), at("store/events/r1.log")), 0);
    cr_assert_eq(unlink(at("store/runs/r2.json")), 0);
    cr_assert_eq(symlink(at("victim"), at("store/runs/r2.json")), 0);
    acp_store *s = open_at("store", NULL);
    acp_error err;
    acp_page *p;
    acp_event_filter ef = ACP_EVENT_FILTER_INIT;
    acp_status st = acp_event_list(s, "r1", &ef, &p, &err);
    cr_assert_eq(st, ACP_CORRUPT, "%s: %s", acp_status_name(st), err.message);
    cr_assert(strstr(err.message, "events/r1.log") && strstr(err.message, "not a regular file"),
              "%s", err.message);
    st = acp_event_add(s, "r1", "{\"type\":\"t\"}", ACP_STRLEN, NULL, &err);
    cr_assert_eq(st, ACP_CORRUPT, "%s: %s", acp_status_name(st), err.message);
    char *j = get_run(s, "r2", &st, &err);
    cr_assert_eq(st, ACP_CORRUPT, "%s", err.message);
    cr_assert(strstr(err.message, "run r2") && strstr(err.message, "runs/r2.json"), "%s",
              err.message);
    (void)j;
    /* The prefix is the host's, said once. */
    cr_assert(strncmp(err.message, "file: file:", 11) != 0, "%s", err.message);
    acp_store_close(s);
    cr_assert_eq(file_size(at("victim")), 1);
}

Test(file, fifos_named_like_documents_or_logs_never_hang)
{
    small_store("store");
    cr_assert_eq(mkfifo(at("store/runs/z.json"), 0644), 0);
    cr_assert_eq(mkfifo(at("store/sessions/z.json"), 0644), 0);
    cr_assert_eq(mkfifo(at("store/events/z.log"), 0644), 0);
    alarm(60); /* a hang kills the test */
    acp_store *s = open_at("store", NULL);
    acp_error err;
    OK(acp_store_ping(s, E));
    acp_status st;
    char *j = get_run(s, "r1", &st, &err);
    cr_assert_eq(st, ACP_OK, "%s", err.message);
    acp_free(j);
    j = get_run(s, "z", &st, &err);
    cr_assert_eq(st, ACP_CORRUPT, "%s", err.message);
    acp_page *p;
    acp_event_filter ef = ACP_EVENT_FILTER_INIT;
    st = acp_event_list(s, "z", &ef, &p, &err);
    cr_assert_eq(st, ACP_CORRUPT, "%s: %s", acp_status_name(st), err.message);
    st = acp_event_add(s, "z", "{\"type\":\"t\"}", ACP_STRLEN, NULL, &err);
    cr_assert_eq(st, ACP_CORRUPT, "%s: %s", acp_status_name(st), err.message);
    cr_assert_eq(all_events(s, "r1", NULL), 2);
    acp_run_filter rf = ACP_RUN_FILTER_INIT;
    OK(acp_run_list(s, &rf, &p, E));
    cr_assert_eq(acp_page_count(p), 2);
    acp_page_free(p);
    acp_store_close(s);
    alarm(0);
}

Test(file, stray_folders_and_links_named_json_leave_the_store_usable)
{
    small_store("store");
    cr_assert_eq(mkdir(at("store/runs/zz.json"), 0755), 0);
    cr_assert_eq(mkdir(at("store/sessions/zz.json"), 0755), 0);
    cr_assert_eq(symlink("/etc/passwd", at("store/runs/yy.json")), 0);
    cr_assert_eq(symlink("/etc/passwd", at("store/sessions/yy.json")), 0);
    acp_store *s = open_at("store", NULL);
    acp_status st;
    acp_error err;
    char *j = get_run(s, "r2", &st, &err);
    cr_assert_eq(st, ACP_OK, "%s", err.message);
    acp_free(j);
    j = get_run(s, "zz", &st, &err);
    cr_assert_eq(st, ACP_CORRUPT, "%s", err.message);
    acp_run_filter rf = ACP_RUN_FILTER_INIT;
    acp_page *p;
    OK(acp_run_list(s, &rf, &p, E));
    cr_assert_eq(acp_page_count(p), 2);
    acp_page_free(p);
    OK(acp_session_list(s, NULL, 10, &p, E));
    cr_assert_eq(acp_page_count(p), 1);
    acp_page_free(p);
    acp_store_close(s);
}

Test(file, list_meeting_a_damaged_run_reports_it_by_name)
{
    small_store("store");
    char *t = slurp(at("store/runs/r1.json"), NULL);
    char *c = strstr(t, "\"created\"");
    c[1] = 'C';
    write_file(at("store/runs/r1.json.tmp"), t);
    free(t);
    /* Same inode as the index knows: edit in place. */
    FILE *f = fopen(at("store/runs/r1.json"), "r+");
    char *n = slurp(at("store/runs/r1.json.tmp"), NULL);
    fputs(n, f);
    fclose(f);
    free(n);
    unlink(at("store/runs/r1.json.tmp"));
    acp_store *s = open_at("store", NULL);
    acp_run_filter rf = ACP_RUN_FILTER_INIT;
    acp_page *p;
    acp_error err;
    acp_status st = acp_run_list(s, &rf, &p, &err);
    cr_assert_eq(st, ACP_CORRUPT, "%s: %s", acp_status_name(st), err.message);
    cr_assert(strstr(err.message, "run r1"), "%s", err.message);
    char *j = get_run(s, "r2", &st, &err);
    cr_assert_eq(st, ACP_OK, "%s", err.message);
    acp_free(j);
    acp_store_close(s);
}

/* Five events in r1, then one byte of the last record changed: set to
 * `to`, or bit 0 flipped when to is 0; the byte is `skip` bytes after the
 * last occurrence of `needle` in the log. */
static void damaged_last_record_case(const char *needle, size_t skip, char to)
{
    acp_store *s = open_at("store", NULL);
    for (int i = 0; i < 5; i++)
        add_ev(s, "r1", "{\"type\":\"t\",\"payload\":\"abcdefgh\"}");
    acp_store_close(s);
    const char *log = at("store/events/r1.log");
    size_t size;
    char *t = slurp(log, &size);
    char *hit = NULL;
    for (char *q = t; (q = strstr(q, needle)) != NULL; q++)
        hit = q;
    cr_assert_not_null(hit);
    hit += skip;
    *hit = to ? to : (char)(*hit ^ 1);
    int fd = open(log, O_WRONLY);
    cr_assert_eq(pwrite(fd, hit, 1, hit - t), 1);
    close(fd);
    free(t);
    for (int round = 0; round < 2; round++) {
        s = open_at("store", NULL);
        acp_page *p;
        acp_error err;
        acp_event_filter ef = ACP_EVENT_FILTER_INIT;
        acp_status st = acp_event_list(s, "r1", &ef, &p, &err);
        cr_assert_eq(st, ACP_CORRUPT, "list: %s: %s", acp_status_name(st), err.message);
        cr_assert(strstr(err.message, "run r1") && strstr(err.message, "event 5"), "%s",
                  err.message);
        int64_t seq = -1;
        st = acp_event_add(s, "r1", "{\"type\":\"t\"}", ACP_STRLEN, &seq, &err);
        cr_assert_eq(st, ACP_CORRUPT, "add: %s (seq %lld)", acp_status_name(st),
                     (long long)seq);
        cr_assert(strstr(err.message, "run r1") && strstr(err.message, "event 5"), "%s",
                  err.message);
        acp_store_close(s);
        cr_assert_eq(file_size(log), (off_t)size, "the damaged record was cut off");
    }
}

Test(file, a_flipped_bit_in_the_last_acknowledged_event_is_corrupt_not_torn)
{
    damaged_last_record_case("abcdefgh", 3, 0);
}

Test(file, a_changed_length_in_the_last_event_is_corrupt_not_torn)
{
    /* The record now claims more bytes than the file holds, yet ends as a
     * whole record ends: damage, not a torn append. */
    damaged_last_record_case("\"doc_len\":", 10, '9');
}

Test(file, a_checksummed_event_that_is_not_an_object_with_a_type_is_corrupt)
{
    acp_store *s = open_at("store", NULL);
    add_ev(s, "r1", "{\"type\":\"t\"}");
    acp_store_close(s);
    char rec[256];
    int n = snprintf(rec, sizeof rec, "{\"seq\":2,\"stored_us\":1,\"doc_len\":5,\"event\":[1,2]");
    uint32_t crc = acp_crc32c(0, rec, (size_t)n);
    snprintf(rec + n, sizeof rec - (size_t)n, ",\"crc\":\"%08x\"}\n", (unsigned)crc);
    int fd = open(at("store/events/r1.log"), O_WRONLY | O_APPEND);
    cr_assert_eq(write(fd, rec, strlen(rec)), (ssize_t)strlen(rec));
    close(fd);
    s = open_at("store", NULL);
    acp_page *p;
    acp_error err;
    acp_event_filter ef = ACP_EVENT_FILTER_INIT;
    acp_status st = acp_event_list(s, "r1", &ef, &p, &err);
    cr_assert_eq(st, ACP_CORRUPT, "%s: %s", acp_status_name(st), err.message);
    cr_assert(strstr(err.message, "event 2") && strstr(err.message, "type"), "%s", err.message);
    acp_store_close(s);
}

/* Open root/rel with a timeout of ms; the status goes to *st (NULL: it
 * must be OK). */
static acp_store *open_with_timeout(const char *rel, int64_t ms, acp_status *st,
                                    acp_error *err)
{
    char uri[1200];
    snprintf(uri, sizeof uri, "file:%s/%s", root, rel);
    acp_config *cfg;
    OK(acp_config_new(&cfg, E));
    OK(acp_config_parse_uri(cfg, uri, E));
    OK(acp_config_set_timeout_ms(cfg, ms, E));
    acp_store *s = NULL;
    if (st)
        *st = acp_store_open_config(cfg, &s, err);
    else
        OK(acp_store_open_config(cfg, &s, E));
    acp_config_free(cfg);
    return s;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A child process appends to r1 (deletes: saves and deletes d1) in a loop
 * and is stopped with SIGSTOP at random moments.  Every call of this
 * process on the same run, and every open, ends by its deadline; a call
 * that finds the stopped child holding the lock gets UNAVAILABLE saying
 * why.  Tries until that happened a few times (the child holds the lock
 * for a good part of each loop). */
static void stopped_peer_case(int deletes)
{
    enum { DEADLINE_MS = 200, SLACK_MS = 1500 };
    acp_store_close(open_at("store", "sync=none"));
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        /* Killed with this process even while stopped, whatever fails. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        char uri[1200];
        snprintf(uri, sizeof uri, "file:%s/store?sync=none", root);
        acp_store *s = NULL;
        acp_error err;
        if (acp_store_open(uri, &s, &err) != ACP_OK)
            _exit(1);
        for (;;) {
            if (deletes) {
                acp_run_save(s, run_doc("d1", "a", NULL, 1, NULL), ACP_STRLEN, &err);
                acp_event_add(s, "d1", "{\"type\":\"t\"}", ACP_STRLEN, NULL, &err);
                acp_run_delete(s, "d1", &err);
            } else {
                acp_event_add(s, "r1", "{\"type\":\"t\"}", ACP_STRLEN, NULL, &err);
            }
        }
    }
    acp_store *s = open_with_timeout("store", DEADLINE_MS, NULL, NULL);
    int unavailable = 0, tries = 0;
    double longest = 0;
    srand((unsigned)getpid());
    for (; tries < 400 && unavailable < 3; tries++) {
        usleep(1000 + (useconds_t)(rand() % 4000));
        cr_assert_eq(kill(pid, SIGSTOP), 0);
        int status;
        cr_assert_eq(waitpid(pid, &status, WUNTRACED), pid);
        cr_assert(WIFSTOPPED(status), "the child ended (status 0x%x)", status);
        acp_error err;
        double t0 = now_ms();
        acp_status st = deletes ? acp_run_save(s, run_doc("d1", "a", NULL, 2, NULL),
                                               ACP_STRLEN, &err)
                                : acp_event_add(s, "r1", "{\"type\":\"p\"}", ACP_STRLEN, NULL,
                                                &err);
        double took = now_ms() - t0;
        cr_assert(took < DEADLINE_MS + SLACK_MS, "a call took %.0f ms", took);
        if (took > longest)
            longest = took;
        if (st == ACP_UNAVAILABLE) {
            unavailable++;
            cr_assert(strstr(err.message, "deadline"), "%s", err.message);
        } else {
            cr_assert_eq(st, ACP_OK, "%s: %s", acp_status_name(st), err.message);
        }
        if (tries % 8 == 0) { /* opens are not held up either */
            t0 = now_ms();
            acp_store *o = open_with_timeout("store", DEADLINE_MS, &st, &err);
            acp_store_close(o);
            took = now_ms() - t0;
            cr_assert(took < DEADLINE_MS + SLACK_MS, "an open took %.0f ms", took);
            cr_assert(st == ACP_OK || (st == ACP_UNAVAILABLE && strstr(err.message, "deadline")),
                      "open: %s: %s", acp_status_name(st), err.message);
        }
        cr_assert_eq(kill(pid, SIGCONT), 0);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    cr_assert(unavailable > 0, "never met the stopped child holding the lock in %d tries",
              tries);
    cr_log_info("%s: %d stops, %d calls met the stopped holder, longest call %.0f ms "
                "(deadline %d ms)",
                deletes ? "deleter" : "appender", tries, unavailable, longest, DEADLINE_MS);
    /* The store works on after its holder died. */
    if (!deletes)
        cr_assert_gt(add_ev(s, "r1", "{\"type\":\"after\"}"), 0);
    else
        save(s, "d1", "a", NULL, 3);
    acp_store_close(s);
}

Test(file, a_stopped_appender_does_not_block_others_past_their_deadline)
{
    stopped_peer_case(0);
}

Test(file, a_stopped_deleter_does_not_block_others_past_their_deadline)
{
    stopped_peer_case(1);
}

/* ---- verify (issue 13, item 5) --------------------------------------------- */

typedef struct seen {
    int n;
    struct {
        int kind;
        char key[64], location[128], moved[256], reason[256];
        int64_t seq;
        acp_status code;
    } d[32];
} seen;

static int collect(void *ctx, const acp_damage *d)
{
    seen *s = ctx;
    if (s->n < 32) {
        s->d[s->n].kind = d->kind;
        snprintf(s->d[s->n].key, sizeof s->d[s->n].key, "%s", d->key ? d->key : "");
        snprintf(s->d[s->n].location, sizeof s->d[s->n].location, "%s",
                 d->location ? d->location : "");
        snprintf(s->d[s->n].moved, sizeof s->d[s->n].moved, "%s", d->moved_to ? d->moved_to : "");
        snprintf(s->d[s->n].reason, sizeof s->d[s->n].reason, "%s", d->reason ? d->reason : "");
        s->d[s->n].seq = d->seq;
        s->d[s->n].code = d->code;
    }
    s->n++;
    return 0;
}

/* The report about location, or NULL. */
static int find_damage(const seen *s, const char *location, int64_t seq)
{
    for (int i = 0; i < s->n && i < 32; i++)
        if (strcmp(s->d[i].location, location) == 0 && s->d[i].seq == seq)
            return i;
    return -1;
}

Test(file, verify_finds_nothing_in_a_clean_store_and_moves_nothing)
{
    small_store("store");
    acp_store *s = open_at("store", NULL);
    seen sn = {0};
    acp_verify_counts c;
    acp_error err;
    acp_status st = acp_store_verify(s, ACP_VERIFY_QUARANTINE, collect, &sn, &c, &err);
    cr_assert_eq(st, ACP_OK, "%s: %s: %s %s", acp_status_name(st), err.message,
                 sn.d[0].location, sn.d[0].reason);
    cr_assert_eq(sn.n, 0);
    cr_assert_eq(c.runs, 2);
    cr_assert_eq(c.sessions, 1);
    cr_assert_eq(c.events, 2);
    cr_assert_eq(c.damaged, 0);
    struct stat sb;
    cr_assert_neq(stat(at("store/quarantine"), &sb), 0, "a clean verify made a quarantine");
    acp_store_close(s);
}

Test(file, verify_reports_every_damaged_item_and_quarantine_repairs_the_store)
{
    small_store("store");
    acp_store *s = open_at("store", NULL);
    add_ev(s, "r2", "{\"type\":\"t\",\"v\":\"one\"}");
    add_ev(s, "r2", "{\"type\":\"t\",\"v\":\"two\"}");
    add_ev(s, "r2", "{\"type\":\"t\",\"v\":\"three\"}");
    acp_store_close(s);
    /* A changed byte in run r1, in r2's second event, and in index.log;
     * a stray folder and a link among the documents, a stray file among
     * the logs. */
    size_t n;
    char *t = slurp(at("store/runs/r1.json"), &n);
    *strstr(t, "\"created\"") = 'X';
    write_file(at("store/runs/r1.json"), t);
    char *damaged_r1 = t;
    t = slurp(at("store/events/r2.log"), &n);
    memcpy(strstr(t, "\"two\""), "\"tw0\"", 5);
    int fd = open(at("store/events/r2.log"), O_WRONLY);
    cr_assert_eq(pwrite(fd, t, n, 0), (ssize_t)n);
    close(fd);
    free(t);
    t = slurp(at("store/index.log"), &n);
    *strstr(t, "\"op\"") = 'Q';
    fd = open(at("store/index.log"), O_WRONLY);
    cr_assert_eq(pwrite(fd, t, n, 0), (ssize_t)n);
    close(fd);
    free(t);
    cr_assert_eq(mkdir(at("store/runs/zz.json"), 0755), 0);
    cr_assert_eq(symlink("/etc/passwd", at("store/sessions/yy.json")), 0);
    write_file(at("store/events/notes.txt"), "hello");

    s = open_at("store", NULL); /* sets the damaged index.log aside itself */
    /* Damage it again at run time, for verify to find. */
    t = slurp(at("store/index.log"), &n);
    *strstr(t, "\"op\"") = 'Q';
    fd = open(at("store/index.log"), O_WRONLY);
    cr_assert_eq(pwrite(fd, t, n, 0), (ssize_t)n);
    close(fd);
    free(t);

    seen sn = {0};
    acp_verify_counts c;
    acp_error err;
    acp_status st = acp_store_verify(s, 0, collect, &sn, &c, &err);
    cr_assert_eq(st, ACP_CORRUPT, "%s: %s", acp_status_name(st), err.message);
    const char *where[] = {"runs/r1.json", "runs/zz.json", "sessions/yy.json",
                           "events/notes.txt", "index.log"};
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
        int k = find_damage(&sn, where[i], 0);
        cr_assert(k >= 0, "%s not reported (%d reports)", where[i], sn.n);
        cr_assert_str_empty(sn.d[k].moved);
    }
    int k = find_damage(&sn, "events/r2.log", 2);
    cr_assert(k >= 0, "event 2 of r2 not reported");
    cr_assert_str_eq(sn.d[k].key, "r2");
    cr_assert_str_eq(sn.d[find_damage(&sn, "runs/r1.json", 0)].key, "r1");
    cr_assert_eq(sn.n, 6, "%d reports", sn.n);
    cr_assert_eq(c.damaged, 6);
    cr_assert_eq(c.runs, 1);     /* r2 */
    cr_assert_eq(c.sessions, 1); /* s1 */
    cr_assert_eq(c.events, 4);   /* r1: 2, r2: 1 and 3 */

    memset(&sn, 0, sizeof sn);
    st = acp_store_verify(s, ACP_VERIFY_QUARANTINE, collect, &sn, &c, &err);
    cr_assert_eq(st, ACP_CORRUPT, "%s: %s", acp_status_name(st), err.message);
    cr_assert_eq(sn.n, 6);
    cr_assert_eq(c.quarantined, 6);
    char moved_r1[256];
    snprintf(moved_r1, sizeof moved_r1, "%s", sn.d[find_damage(&sn, "runs/r1.json", 0)].moved);
    cr_assert(strncmp(moved_r1, "quarantine/", 11) == 0, "%s", moved_r1);

    /* The original bytes are kept. */
    char path[600];
    snprintf(path, sizeof path, "store/%s", moved_r1);
    t = slurp(at(path), NULL);
    cr_assert_not_null(t, "%s", path);
    cr_assert_str_eq(t, damaged_r1);
    free(t);
    free(damaged_r1);

    /* The rest serves normally, numbers are kept, and verify is clean. */
    acp_run_filter rf = ACP_RUN_FILTER_INIT;
    acp_page *p;
    OK(acp_run_list(s, &rf, &p, E));
    cr_assert_eq(acp_page_count(p), 1);
    acp_page_free(p);
    char **docs;
    size_t ne = all_events(s, "r2", &docs);
    cr_assert_eq(ne, 3);
    cr_assert(strstr(docs[1], "acp.quarantined"), "%s", docs[1]);
    cr_assert_str_eq(docs[2], "{\"type\":\"t\",\"v\":\"three\"}");
    free_docs(docs, ne);
    cr_assert_eq(add_ev(s, "r2", "{\"type\":\"t\"}"), 4);
    memset(&sn, 0, sizeof sn);
    st = acp_store_verify(s, 0, collect, &sn, &c, &err);
    cr_assert_eq(st, ACP_OK, "%s: %s (%d reports, first %s)", acp_status_name(st), err.message,
                 sn.n, sn.n ? sn.d[0].location : "");
    acp_store_close(s);
    /* And so does a new handle. */
    s = open_at("store", NULL);
    st = acp_store_verify(s, 0, collect, &sn, &c, &err);
    cr_assert_eq(st, ACP_OK, "%s: %s", acp_status_name(st), err.message);
    cr_assert_eq(c.events, 6); /* r1: 2 (events outlive a run file), r2: 4 */
    acp_store_close(s);
}

/* ---- batched saves (plugins/file/batch.c) racing other writers -------------- */

/* A batch works out each run's version under the run's lock, lets the lock
 * go while its documents are flushed, and puts each in place under the lock
 * again only if nothing changed meanwhile (else it saves that run again the
 * single way).  Without that check, a save that came in between would be
 * overwritten by an older version.  (Kills inside batches:
 * tests/crash/crash_batch.c.) */

#define BATCH_IDS 64
#define BATCH_ROUNDS 12

static char batch_docs[2][BATCH_IDS][160];
static acp_store *batch_store;
static atomic_int batch_stop;
static atomic_int batch_errors;
static char batch_why[512];

static void batch_note(const char *what, const char *msg)
{
    if (atomic_fetch_add(&batch_errors, 1) == 0)
        snprintf(batch_why, sizeof batch_why, "%.40s: %.400s", what, msg);
}

/* Batches of all the ids, over and over. */
static void *batcher(void *arg)
{
    (void)arg;
    const char *v[BATCH_IDS];
    for (int i = 0; i < BATCH_IDS; i++)
        v[i] = batch_docs[0][i];
    acp_error e;
    for (int r = 0; r < BATCH_ROUNDS && !atomic_load(&batch_errors); r++)
        if (acp_run_save_many(batch_store, v, NULL, BATCH_IDS, &e) != ACP_OK)
            batch_note("save_many", e.message);
    atomic_store(&batch_stop, 1);
    return NULL;
}

/* Single saves of the same ids meanwhile, each seeing its version rise. */
static void *single(void *arg)
{
    (void)arg;
    int64_t last[BATCH_IDS] = {0};
    acp_error e;
    while (!atomic_load(&batch_stop) && !atomic_load(&batch_errors))
        for (int i = 0; i < BATCH_IDS; i++) {
            int64_t v;
            if (acp_run_save_versioned(batch_store, batch_docs[1][i], ACP_STRLEN, &v, &e) != ACP_OK)
                batch_note("save", e.message);
            else if (v <= last[i])
                batch_note("save", "a version did not rise");
            else
                last[i] = v;
        }
    return NULL;
}

/* Reads of every id: a run's version never goes down. */
static void *reader(void *arg)
{
    (void)arg;
    int64_t last[BATCH_IDS] = {0};
    char id[16], msg[160];
    acp_error e;
    while (!atomic_load(&batch_stop) && !atomic_load(&batch_errors))
        for (int i = 0; i < BATCH_IDS; i++) {
            snprintf(id, sizeof id, "r%d", i);
            char *json;
            int64_t v;
            acp_status st = acp_run_get_versioned(batch_store, id, &json, NULL, &v, &e);
            if (st == ACP_NOT_FOUND)
                continue;
            if (st != ACP_OK) {
                batch_note("get", e.message);
                continue;
            }
            acp_free(json);
            if (v < last[i]) {
                snprintf(msg, sizeof msg, "run %s went from version %" PRId64 " back to %" PRId64,
                         id, last[i], v);
                batch_note("get", msg);
            }
            last[i] = v;
        }
    return NULL;
}

Test(file, saves_between_a_batch_and_its_renames_are_never_overwritten)
{
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < BATCH_IDS; i++)
            snprintf(batch_docs[k][i], sizeof batch_docs[k][i],
                     "{\"run_id\":\"r%d\",\"agent_name\":\"%s\",\"status\":\"created\"}", i,
                     k ? "single" : "batch");
    acp_error e;
    batch_store = open_at("store", NULL);
    pthread_t t[3];
    cr_assert_eq(pthread_create(&t[0], NULL, batcher, NULL), 0);
    cr_assert_eq(pthread_create(&t[1], NULL, single, NULL), 0);
    cr_assert_eq(pthread_create(&t[2], NULL, reader, NULL), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    cr_expect_eq(atomic_load(&batch_errors), 0, "%d errors, the first: %s", atomic_load(&batch_errors), batch_why);

    /* The index agrees with the documents: every run listed once. */
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.limit = 1000;
    f.want_total = 1;
    acp_page *p;
    cr_assert_eq(acp_run_list(batch_store, &f, &p, &e), ACP_OK, "%s", e.message);
    cr_expect_eq(acp_page_count(p), BATCH_IDS);
    cr_expect_eq(acp_page_total(p), BATCH_IDS);
    acp_page_free(p);
    acp_store_close(batch_store);
}

/* A batch of 1000 runs, and events of 1000 runs, in a process allowed 200
 * descriptors: the batch keeps a bounded number of files open at once. */
Test(file, batches_of_1000_runs_fit_in_200_descriptors)
{
    acp_store *s0 = open_at("store", NULL); /* created before the limit */
    acp_store_close(s0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {200, 200};
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            _exit(2);
        char uri[1200];
        snprintf(uri, sizeof uri, "file:%s/store", root);
        acp_store *s;
        acp_error e;
        if (acp_store_open(uri, &s, &e) != ACP_OK)
            _exit(3);
        enum { N = 1000 };
        static char docs[N][128], ids[N][16];
        static const char *v[N];
        static acp_restore_event evs[N];
        static acp_status res[N];
        for (int i = 0; i < N; i++) {
            snprintf(ids[i], sizeof ids[i], "m%d", i);
            snprintf(docs[i], sizeof docs[i],
                     "{\"run_id\":\"m%d\",\"agent_name\":\"a\",\"status\":\"created\"}", i);
            v[i] = docs[i];
            evs[i] = (acp_restore_event){ids[i], "{\"type\":\"x\"}", ACP_STRLEN, 1, 5};
        }
        if (acp_event_restore_many(s, evs, N, res, &e) != ACP_OK) {
            fprintf(stderr, "restore events: %s\n", e.message);
            _exit(4);
        }
        if (acp_run_save_many(s, v, NULL, N, &e) != ACP_OK) {
            fprintf(stderr, "save runs: %s\n", e.message);
            _exit(5);
        }
        acp_store_close(s);
        _exit(0);
    }
    wait_ok(pid);
    acp_store *s = open_at("store", NULL);
    cr_expect_eq(total_runs(s), 1000);
    char path[1400];
    snprintf(path, sizeof path, "%s/store/events/m999.log", root);
    cr_expect(file_size(path) > 0, "the last run's events");
    acp_store_close(s);
}
