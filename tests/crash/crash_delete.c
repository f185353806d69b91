/* SPDX-License-Identifier: MIT */
/*
 * crash_delete.c - a process that has a file store open must not append to
 * a run's old event log after another process crashed (or failed) in the
 * middle of delete_run, leaving the delete intent (runs/<name>.deleting)
 * and the log behind: the run is deleted as far as readers go, so an
 * event added afterwards starts a new stream at sequence 1 and must stay
 * there (not vanish when someone finishes the delete).
 *
 *   crash_delete <file store URI template with {dir}>
 *
 * The deleting process is a child that stops at one step of delete_run:
 * this program defines renameat, fsync and unlinkat, so the plugin's calls
 * come here first (the executable exports them) and a child that armed a
 * step is killed with SIGKILL there, or (fsync-fail) gets EIO and lives
 * on.  Steps: right after the run file became the intent (inside the log's
 * lock), at the flush of runs/ that follows (sync=always only; outside the
 * lock), and just before the log is unlinked (inside the lock).  Meanwhile
 * the parent holds the run's log open, positioned after 3 events.
 */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acp_storage.h"

enum { ARM_NONE, ARM_RENAME, ARM_FSYNC, ARM_FSYNC_FAIL, ARM_UNLINK };
static const char *const arm_names[] = {"none", "rename", "fsync", "fsync-fail", "unlink"};

/* The build hides symbols by default: these must reach the plugin. */
#define EXPORT __attribute__((visibility("default")))

static int armed;   /* set in the child only */
static int renamed; /* the child made an intent */

static int ends_with(const char *s, const char *end)
{
    size_t n = strlen(s), e = strlen(end);
    return n >= e && strcmp(s + n - e, end) == 0;
}

EXPORT int renameat(int od, const char *op, int nd, const char *np)
{
    static int (*real)(int, const char *, int, const char *);
    if (!real)
        real = (int (*)(int, const char *, int, const char *))dlsym(RTLD_NEXT, "renameat");
    int rc = real(od, op, nd, np);
    if (rc == 0 && armed && ends_with(np, ".deleting")) {
        renamed = 1;
        if (armed == ARM_RENAME)
            raise(SIGKILL);
    }
    return rc;
}

EXPORT int fsync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    if (renamed && armed == ARM_FSYNC)
        raise(SIGKILL);
    if (renamed && armed == ARM_FSYNC_FAIL) {
        armed = ARM_NONE; /* once */
        errno = EIO;
        return -1;
    }
    return real(fd);
}

EXPORT int unlinkat(int d, const char *p, int flags)
{
    static int (*real)(int, const char *, int);
    if (!real)
        real = (int (*)(int, const char *, int))dlsym(RTLD_NEXT, "unlinkat");
    if (armed == ARM_UNLINK && ends_with(p, ".log"))
        raise(SIGKILL);
    return real(d, p, flags);
}

static int failures;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "crash_delete: " __VA_ARGS__);                                             \
        fputc('\n', stderr);                                                                       \
        failures++;                                                                                \
    } while (0)

static const char *const RUN = "run/1";
static const char *const RUN_FILE = "runs/run%2f1";
static const char *const LOG_FILE = "events/run%2f1.log";

static int64_t add(acp_store *s, const char *doc)
{
    acp_error e;
    int64_t seq = -1;
    if (acp_event_add(s, RUN, doc, ACP_STRLEN, &seq, &e) != ACP_OK) {
        FAIL("add_event: %s", e.message);
        return -1;
    }
    return seq;
}

static int exists(const char *store_dir, const char *rel, const char *ext)
{
    char path[4096];
    struct stat st;
    int n = snprintf(path, sizeof path, "%s/%s%s", store_dir, rel, ext);
    if (n < 0 || (size_t)n >= sizeof path) {
        fprintf(stderr, "crash_delete: path too long under %s\n", store_dir);
        exit(2);
    }
    return stat(path, &st) == 0;
}

/* The events of RUN, as text: "doc|doc|..." */
static void events_of(acp_store *s, char *out, size_t cap)
{
    acp_page *p;
    acp_error e;
    out[0] = 0;
    if (acp_event_list(s, RUN, NULL, &p, &e) != ACP_OK) {
        FAIL("get_events: %s", e.message);
        return;
    }
    size_t len = 0;
    for (size_t i = 0; i < acp_page_count(p); i++) {
        if (acp_page_seq(p, i) != (int64_t)i + 1)
            FAIL("get_events: event %zu has sequence %" PRId64, i + 1, acp_page_seq(p, i));
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? "|" : "",
                                acp_page_json(p, i, NULL));
        if (len >= cap)
            break;
    }
    acp_page_free(p);
}

static void scenario(const char *uri, const char *store_dir, int arm)
{
    fprintf(stderr, "crash_delete: %s, the deleter stops at %s\n", uri, arm_names[arm]);
    acp_store *s;
    acp_error e;
    if (acp_store_open(uri, &s, &e) != ACP_OK) {
        FAIL("open %s: %s", uri, e.message);
        return;
    }
    if (acp_run_save(s,
                     "{\"run_id\":\"run/1\",\"agent_name\":\"a\",\"status\":\"created\","
                     "\"output\":[]}",
                     ACP_STRLEN, &e) != ACP_OK)
        FAIL("save_run: %s", e.message);
    for (int k = 1; k <= 3; k++)
        if (add(s, "{\"type\":\"old\"}") != k)
            FAIL("add_event before the delete: not sequence %d", k);

    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        acp_store *c;
        if (acp_store_open(uri, &c, &e) != ACP_OK)
            _exit(10);
        armed = arm;
        acp_status st = acp_run_delete(c, RUN, &e);
        if (arm != ARM_FSYNC_FAIL)
            _exit(11); /* should have been killed */
        if (st != ACP_IO)
            _exit(12);
        /* The deleter lives on, with its intent left: its own appends
         * start the new stream too (the parent's then follow). */
        int64_t seq = -1;
        if (acp_event_add(c, RUN, "{\"type\":\"child\"}", ACP_STRLEN, &seq, &e) != ACP_OK)
            _exit(13);
        if (seq != 1)
            _exit(14);
        acp_store_close(c);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    int killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    if (arm == ARM_FSYNC_FAIL ? !(WIFEXITED(status) && WEXITSTATUS(status) == 0) : !killed) {
        FAIL("the deleting child did not stop as planned (status %d)", status);
        acp_store_close(s);
        return;
    }
    if (arm != ARM_FSYNC_FAIL && !exists(store_dir, RUN_FILE, ".deleting"))
        FAIL("no delete intent was left behind");
    if (arm != ARM_FSYNC_FAIL && !exists(store_dir, LOG_FILE, ""))
        FAIL("the old log is gone: the scenario does not test the leftover");

    /* The run is deleted: a new event starts a new stream, and stays. */
    int64_t seq = add(s, "{\"type\":\"new\"}");
    int64_t want = arm == ARM_FSYNC_FAIL ? 2 : 1;
    if (seq != want)
        FAIL("add_event after the interrupted delete: sequence %" PRId64 ", expected %" PRId64
             " (appended to the deleted run's log)",
             seq, want);
    char got[4096];
    const char *expect = arm == ARM_FSYNC_FAIL ? "{\"type\":\"child\"}|{\"type\":\"new\"}"
                                               : "{\"type\":\"new\"}";
    events_of(s, got, sizeof got);
    if (strcmp(got, expect) != 0)
        FAIL("get_events after the interrupted delete: %s, expected %s", got, expect);
    char *json;
    size_t len;
    if (acp_run_get(s, RUN, &json, &len, &e) != ACP_NOT_FOUND)
        FAIL("get_run after the interrupted delete: not NOT_FOUND");
    if (exists(store_dir, RUN_FILE, ".deleting"))
        FAIL("the delete intent is still there");
    acp_store_close(s);

    /* And another handle sees the same. */
    if (acp_store_open(uri, &s, &e) != ACP_OK) {
        FAIL("reopen: %s", e.message);
        return;
    }
    events_of(s, got, sizeof got);
    if (strcmp(got, expect) != 0)
        FAIL("get_events after reopening: %s, expected %s", got, expect);
    acp_store_close(s);
}

int main(int argc, char **argv)
{
    if (argc != 2 || !strstr(argv[1], "{dir}") || strncmp(argv[1], "file:", 5) != 0) {
        fprintf(stderr, "usage: crash_delete 'file:{dir}/store[?sync=...]'\n");
        return 2;
    }
    int durable = !strstr(argv[1], "sync=none");
    const char *at = strstr(argv[1], "{dir}");
    for (int arm = ARM_RENAME; arm <= ARM_UNLINK; arm++) {
        if (!durable && (arm == ARM_FSYNC || arm == ARM_FSYNC_FAIL))
            continue; /* nothing is flushed */
        char dir[] = "/tmp/acp-crash-delete-XXXXXX";
        if (!mkdtemp(dir)) {
            perror("crash_delete: mkdtemp");
            return 1;
        }
        char uri[4096], store_dir[4096];
        snprintf(uri, sizeof uri, "%.*s%s%s", (int)(at - argv[1]), argv[1], dir, at + 5);
        /* The directory part of the URI: what follows "file:" up to "?". */
        snprintf(store_dir, sizeof store_dir, "%s", uri + 5);
        store_dir[strcspn(store_dir, "?")] = 0;
        int before = failures;
        scenario(uri, store_dir, arm);
        if (failures == before) {
            char cmd[128];
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
            if (system(cmd) != 0)
                fprintf(stderr, "crash_delete: could not remove %s\n", dir);
        } else {
            fprintf(stderr, "crash_delete: the store is kept in %s\n", dir);
        }
    }
    printf("crash_delete %s: %s\n", argv[1], failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
