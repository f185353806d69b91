/* SPDX-License-Identifier: MIT */
/*
 * test_file_stats.c - the file backend's stats where only it can go
 * wrong: event counts read from the tails of the logs (documents that hold
 * text looking like a record, records larger than the first read, a torn
 * tail, damage), bytes as the sizes of the store's regular files (no
 * symbolic link followed), and figures seen by a second handle.  The
 * conformance suite holds every backend to a full walk.
 */
#define _GNU_SOURCE /* mkdtemp, nftw */

#include <criterion/criterion.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acp_storage.h"

#include "../common/criterion_helpers.h"

static char root[256];

static void setup(void)
{
    acp_test_mkdtemp(root, sizeof root, "file-stats");
}

static void teardown(void)
{
    acp_test_rmtree(root);
}

TestSuite(file_stats, .init = setup, .fini = teardown, .timeout = 120);

static acp_store *open_store(void)
{
    char uri[512];
    snprintf(uri, sizeof uri, "file:%s/store?sync=none", root);
    acp_store *s = NULL;
    acp_error err;
    acp_status st = acp_store_open(uri, &s, &err);
    cr_assert_eq(st, ACP_OK, "open %s: %s", uri, err.message);
    return s;
}

static void save_run(acp_store *s, const char *id, const char *agent, const char *status)
{
    char doc[256];
    snprintf(doc, sizeof doc, "{\"run_id\":\"%s\",\"agent_name\":\"%s\",\"status\":\"%s\"}", id,
             agent, status);
    OK(acp_run_save(s, doc, ACP_STRLEN, E));
}

static acp_stats *stats_of(acp_store *s)
{
    acp_stats *st = NULL;
    OK(acp_store_stats(s, &st, E));
    cr_assert_eq(acp_stats_scanned(st), 0, "the file backend counts with its index");
    return st;
}

/* st_size of the regular files of one folder of the store. */
static int64_t folder_size(const char *sub)
{
    char path[512];
    snprintf(path, sizeof path, "%s/store%s", root, sub);
    DIR *d = opendir(path);
    cr_assert_not_null(d, "%s", path);
    int64_t n = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        struct stat sb;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode))
            n += (int64_t)sb.st_size;
    }
    closedir(d);
    return n;
}

static void append_to_log(const char *run_id, const char *bytes)
{
    char path[512];
    snprintf(path, sizeof path, "%s/store/events/%s.log", root, run_id);
    FILE *f = fopen(path, "ab");
    cr_assert_not_null(f, "%s", path);
    fputs(bytes, f);
    fclose(f);
}

Test(file_stats, events_come_from_the_tails_of_the_logs)
{
    acp_store *s = open_store();
    save_run(s, "plain", "alpha", "completed");
    save_run(s, "tricky", "alpha", "failed");
    save_run(s, "large", "beta", "completed");
    save_run(s, "none", "beta", "created");
    for (int i = 0; i < 7; i++)
        OK(acp_event_add(s, "plain", "{\"type\":\"x\"}", ACP_STRLEN, NULL, E));
    /* Documents holding what looks like the start of a record after a
     * newline: the last one of the log too. */
    static const char tricky[] =
        "{\"type\":\"x\",\"k\":\n{\"seq\":99,\"stored_us\":1,\"doc_len\":2,\"event\":{}}}";
    for (int i = 0; i < 3; i++)
        OK(acp_event_add(s, "tricky", tricky, ACP_STRLEN, NULL, E));
    /* Records larger than the first read of a tail (4 KiB). */
    size_t big = 20000;
    char *doc = malloc(big + 64);
    cr_assert_not_null(doc);
    int n = snprintf(doc, big + 64, "{\"type\":\"x\",\"pad\":\"");
    memset(doc + n, 'p', big);
    strcpy(doc + n + big, "\"}");
    for (int i = 0; i < 5; i++)
        OK(acp_event_add(s, "large", doc, ACP_STRLEN, NULL, E));
    free(doc);
    acp_stats *st = stats_of(s);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_EVENTS, NULL), 15);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS, NULL), 4);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS_BY_STATUS, "completed"), 2);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS_BY_STATUS, "failed"), 1);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS_BY_AGENT, "beta"), 2);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_SCHEMA_VERSION, NULL), 3);
    acp_stats_free(st);

    /* A torn tail (an append whose writer died) is not an event, as for
     * readers; damage after the last record makes stats fail, as reads do. */
    append_to_log("plain", "{\"seq\":8,\"stored_us\":1,\"doc_");
    st = stats_of(s);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_EVENTS, NULL), 15);
    acp_stats_free(st);
    append_to_log("tricky", "not a record\n");
    acp_stats *bad = NULL;
    acp_error err;
    cr_expect_eq(acp_store_stats(s, &bad, &err), ACP_CORRUPT);
    cr_expect(strstr(err.message, "events/tricky.log") != NULL, "%s", err.message);
    acp_store_close(s);
}

Test(file_stats, bytes_are_the_sizes_of_the_stores_regular_files)
{
    acp_store *s = open_store();
    save_run(s, "r1", "alpha", "completed");
    OK(acp_event_add(s, "r1", "{\"type\":\"x\"}", ACP_STRLEN, NULL, E));
    OK(acp_session_save(s, "{\"id\":\"s1\"}", ACP_STRLEN, E));
    /* A symbolic link to a large file: not the store's, not followed (the
     * expected sum leaves it out). */
    char target[512], link[512];
    snprintf(target, sizeof target, "%s/outside", root);
    snprintf(link, sizeof link, "%s/store/runs/link.json", root);
    FILE *f = fopen(target, "wb");
    cr_assert_not_null(f);
    for (int i = 0; i < 1000; i++)
        fputs("0123456789", f);
    fclose(f);
    cr_assert_eq(symlink(target, link), 0);
    acp_stats *st = stats_of(s);
    int64_t want =
        folder_size("") + folder_size("/runs") + folder_size("/sessions") + folder_size("/events");
    cr_expect_eq(acp_stats_value(st, ACP_STAT_BYTES, NULL), want, "bytes %lld, files %lld",
                 (long long)acp_stats_value(st, ACP_STAT_BYTES, NULL), (long long)want);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_SESSIONS, NULL), 1);
    acp_stats_free(st);
    acp_store_close(s);
}

Test(file_stats, a_second_handle_sees_the_first_ones_changes)
{
    acp_store *a = open_store(), *b = open_store();
    acp_stats *st = stats_of(b);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS, NULL), 0);
    acp_stats_free(st);
    save_run(a, "r1", "alpha", "completed");
    save_run(a, "r2", "alpha", "failed");
    OK(acp_event_add(a, "r2", "{\"type\":\"x\"}", ACP_STRLEN, NULL, E));
    save_run(a, "r1", "gamma", "failed"); /* moves between groups */
    OK(acp_run_delete(a, "r2", E));
    st = stats_of(b);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS, NULL), 1);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_EVENTS, NULL), 0);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS_BY_STATUS, "failed"), 1);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS_BY_STATUS, "completed"), -1);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS_BY_AGENT, "gamma"), 1);
    cr_expect_eq(acp_stats_value(st, ACP_STAT_RUNS_BY_AGENT, "alpha"), -1);
    acp_stats_free(st);
    acp_store_close(a);
    acp_store_close(b);
}
