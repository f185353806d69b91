/* SPDX-License-Identifier: MIT */
/*
 * test_conformance_runner.c - the conformance runner itself: the table of
 * checks, and each outcome the isolated runner reports (pass, fail, skip,
 * crash, timeout), driven by the misbehaving fixture plugin "crashy".
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acp_conformance.h"

static const acp_conformance_target crashy = {"crashy:", ACP_TEST_CRASHY_SO};

static size_t check(const char *name)
{
    size_t i = acp_conformance_find(name);
    cr_assert(i < acp_conformance_count(), "no check %s", name);
    return i;
}

Test(runner, lists_each_check_once_with_a_description)
{
    size_t n = acp_conformance_count();
    cr_assert(n > 60, "only %zu checks", n);
    for (size_t i = 0; i < n; i++) {
        const char *name = acp_conformance_name(i);
        cr_assert(name && name[0], "check %zu has no name", i);
        cr_assert(acp_conformance_description(i) && acp_conformance_description(i)[0],
                  "check %s has no description", name);
        cr_assert_eq(acp_conformance_find(name), i, "check %s is listed twice", name);
    }
    cr_assert_null(acp_conformance_name(n));
    cr_assert_null(acp_conformance_description(n));
    cr_assert_eq(acp_conformance_find("no_such_check"), n);
    cr_assert_eq(acp_conformance_find(NULL), n);
    cr_assert_str_eq(acp_conformance_result_name(ACP_CONFORMANCE_TIMEOUT), "timeout");
}

Test(runner, refuses_a_bad_check_number_or_target)
{
    char msg[256];
    cr_assert_eq(acp_conformance_run(acp_conformance_count(), &crashy, msg, sizeof msg),
                 ACP_CONFORMANCE_FAIL);
    cr_assert(strstr(msg, "no conformance check"), "%s", msg);
    cr_assert_eq(acp_conformance_run(0, NULL, msg, sizeof msg), ACP_CONFORMANCE_FAIL);
    cr_assert_eq(acp_conformance_run_isolated(0, NULL, 5, msg, sizeof msg), ACP_CONFORMANCE_FAIL);
}

Test(runner, reports_a_pass_in_process_and_isolated)
{
    char msg[4096];
    size_t i = check("store_reports_its_backend_name_and_version");
    int r = acp_conformance_run(i, &crashy, msg, sizeof msg);
    cr_assert_eq(r, ACP_CONFORMANCE_PASS, "%s", msg);
    cr_assert_str_empty(msg);
    r = acp_conformance_run_isolated(i, &crashy, 30, msg, sizeof msg);
    cr_assert_eq(r, ACP_CONFORMANCE_PASS, "%s", msg);
}

Test(runner, reports_a_failure_with_place_and_library_message)
{
    char msg[4096];
    int r = acp_conformance_run_isolated(check("delete_run_of_nothing_is_not_found"), &crashy, 30,
                                         msg, sizeof msg);
    cr_assert_eq(r, ACP_CONFORMANCE_FAIL, "%s", msg);
    cr_assert(strstr(msg, "checks_runs.c:"), "no file:line in \"%s\"", msg);
    cr_assert(strstr(msg, "crashy: refuses to delete never-saved"),
              "the plugin's message is missing from \"%s\"", msg);
}

Test(runner, reports_a_skip_with_the_missing_capability)
{
    char msg[4096];
    size_t i = check("data_survives_close_and_reopen");
    int r = acp_conformance_run(i, &crashy, msg, sizeof msg);
    cr_assert_eq(r, ACP_CONFORMANCE_SKIP, "%s", msg);
    cr_assert(strstr(msg, "DURABLE"), "%s", msg);
    r = acp_conformance_run_isolated(i, &crashy, 30, msg, sizeof msg);
    cr_assert_eq(r, ACP_CONFORMANCE_SKIP, "%s", msg);
}

Test(runner, reports_a_crash_with_the_signal_name)
{
    char msg[4096];
    int r = acp_conformance_run_isolated(check("store_ping_reports_ok"), &crashy, 30, msg,
                                         sizeof msg);
    cr_assert_eq(r, ACP_CONFORMANCE_CRASH, "%s", msg);
    cr_assert(strstr(msg, "SIGSEGV"), "%s", msg);
}

Test(runner, reports_an_exit_without_result_as_a_crash)
{
    char msg[4096];
    int r = acp_conformance_run_isolated(check("get_events_of_unknown_run_is_empty"), &crashy, 30,
                                         msg, sizeof msg);
    cr_assert_eq(r, ACP_CONFORMANCE_CRASH, "%s", msg);
    cr_assert(strstr(msg, "exit status 3"), "%s", msg);
}

Test(runner, kills_a_hanging_check_after_the_timeout)
{
    char msg[4096];
    time_t t0 = time(NULL);
    int r = acp_conformance_run_isolated(check("get_run_of_unknown_id_is_not_found"), &crashy, 2,
                                         msg, sizeof msg);
    time_t took = time(NULL) - t0;
    cr_assert_eq(r, ACP_CONFORMANCE_TIMEOUT, "%s", msg);
    cr_assert(took >= 1 && took <= 10, "the timeout of 2 s took %ld s", (long)took);
}

Test(runner, gives_each_check_a_fresh_directory_and_removes_it)
{
    char record[] = "/tmp/acp-runner-record-XXXXXX";
    int fd = mkstemp(record);
    cr_assert(fd >= 0);
    close(fd);
    setenv("CRASHY_RECORD", record, 1);
    const acp_conformance_target t = {"crashy:{dir}/x.db", ACP_TEST_CRASHY_SO};
    char msg[4096];
    int r = acp_conformance_run(check("store_reports_its_backend_name_and_version"), &t, msg,
                                sizeof msg);
    unsetenv("CRASHY_RECORD");
    cr_assert_eq(r, ACP_CONFORMANCE_PASS, "%s", msg);
    char path[4096] = "";
    FILE *f = fopen(record, "r");
    cr_assert(f);
    cr_assert(fgets(path, sizeof path, f));
    fclose(f);
    unlink(record);
    cr_assert(strstr(path, "/acp-conformance-") && strstr(path, "/x.db"), "path %s", path);
    *strrchr(path, '/') = '\0';
    struct stat st;
    cr_assert(stat(path, &st) != 0, "the check's directory %s was left behind", path);
}

Test(runner, reports_a_plugin_that_cannot_load)
{
    const acp_conformance_target t = {"crashy:", "/nonexistent/libacp_storage_crashy.so"};
    char msg[4096];
    int r = acp_conformance_run(check("store_ping_reports_ok"), &t, msg, sizeof msg);
    cr_assert_eq(r, ACP_CONFORMANCE_FAIL, "%s", msg);
    cr_assert(strstr(msg, "LOAD"), "%s", msg);
}
