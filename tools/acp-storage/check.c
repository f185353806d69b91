/* SPDX-License-Identifier: MIT */
/*
 * check.c - `acp-storage check`: the conformance suite against any plugin,
 * shipped or third-party, by name or as a .so file.
 */
#define _XOPEN_SOURCE 700

#include <assert.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acp_conformance.h"
#include "cli.h"

#define RED "\033[31m"
#define GREEN "\033[32m"
#define YELLOW "\033[33m"
#define RESET "\033[0m"

/* Seconds one check may take when --timeout is not given. */
#define DEFAULT_TIMEOUT_S 60

typedef struct check_target {
    char name[128];          /* the backend name */
    char *plugin_file;       /* absolute .so path, or NULL */
    char *uri_template;
    int user_store;          /* --store was given */
} check_target;

/* "/x/libacp_storage_<name>.so" -> name. */
static int name_from_file(const cli_ctx *ctx, const char *path, char *name, size_t size)
{
    static const char prefix[] = "libacp_storage_", suffix[] = ".so";
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    size_t np = sizeof prefix - 1, ns = sizeof suffix - 1;
    if (n <= np + ns || strncmp(base, prefix, np) != 0 || strcmp(base + n - ns, suffix) != 0 ||
        n - np - ns >= size)
        return cli_usage_error(ctx, "'%s' is not named libacp_storage_<name>.so", path);
    memcpy(name, base + np, n - np - ns);
    name[n - np - ns] = '\0';
    return CLI_EXIT_OK;
}

static int resolve_target(const cli_ctx *ctx, check_target *t)
{
    const char *arg = ctx->args.pos[0];
    if (strchr(arg, '/')) {
        int rc = name_from_file(ctx, arg, t->name, sizeof t->name);
        if (rc)
            return rc;
        t->plugin_file = realpath(arg, NULL);
        if (!t->plugin_file)
            return cli_fail(ACP_LOAD, "cannot use plugin file '%s': %s", arg, strerror(errno));
    } else {
        /* A bare word is a backend name: a file needs a path, so that no
         * plugin is ever taken from the current directory by accident.  A
         * word that cannot be a name but names a file gets that hint. */
        size_t n = strlen(arg);
        int name_like = n > 0 && strspn(arg, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
        if (!name_like && (access(arg, F_OK) == 0 || (n > 3 && !strcmp(arg + n - 3, ".so"))))
            return cli_usage_error(ctx,
                                   "'%s' is taken as a backend name, not a file: to check a "
                                   "plugin file give its path, e.g. ./%s",
                                   arg, arg);
        if (strlen(arg) >= sizeof t->name)
            return cli_usage_error(ctx, "backend name too long: '%.40s...'", arg);
        strcpy(t->name, arg);
    }
    t->user_store = ctx->args.value[OPT_STORE] != NULL;
    if (t->user_store) {
        t->uri_template = strdup(ctx->args.value[OPT_STORE]);
        if (!strstr(ctx->args.value[OPT_STORE], "{dir}"))
            fputs("acp-storage: warning: the store has no {dir}, so every check opens the same "
                  "store and sees what earlier checks left there: checks that count what they "
                  "stored will fail on each other's data (hint: put {dir} in the location, "
                  "e.g. --store 'sqlite:{dir}/test.db'; it becomes a fresh temporary directory "
                  "for each check)\n",
                  stderr);
    } else {
        /* Only the backend knows what its location looks like: start from
         * the bare scheme, and hint at a location if that does not open. */
        size_t n = strlen(t->name) + 2;
        char *scheme = malloc(n);
        if (scheme)
            snprintf(scheme, n, "%s:", t->name);
        t->uri_template = scheme;
    }
    return t->uri_template ? CLI_EXIT_OK : cli_fail(ACP_NOMEM, "out of memory");
}

/* Copy of s with every "{dir}" replaced by dir, percent-encoding what a URI
 * path cannot hold; NULL when out of memory. */
static char *expand_dir(const char *s, const char *dir)
{
    size_t cap = strlen(s) + 1, n = 0;
    for (const char *p = s; (p = strstr(p, "{dir}")) != NULL; p += 5)
        cap += 3 * strlen(dir);
    char *out = malloc(cap);
    if (!out)
        return NULL;
    while (*s) {
        if (strncmp(s, "{dir}", 5) != 0) {
            out[n++] = *s++;
            continue;
        }
        for (const unsigned char *d = (const unsigned char *)dir; *d; d++) {
            if ((*d >= 'a' && *d <= 'z') || (*d >= 'A' && *d <= 'Z') || (*d >= '0' && *d <= '9') ||
                strchr("/-._~", *d))
                out[n++] = (char)*d;
            else
                n += (size_t)sprintf(out + n, "%%%02X", *d);
        }
        s += 5;
    }
    out[n] = '\0';
    return out;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    remove(path);
    return 0;
}

/* Open and close the store of cfg once; the exit code. */
static int open_once(const check_target *t, const acp_config *cfg)
{
    acp_error err;
    acp_store *store = NULL;
    if (acp_store_open_config(cfg, &store, &err) == ACP_OK) {
        acp_store_close(store);
        return CLI_EXIT_OK;
    }
    int rc = cli_report(&err);
    if (!t->user_store && err.code != ACP_LOAD)
        fprintf(stderr,
                "acp-storage: hint: '%s' may need a location; give one with --store, e.g.\n"
                "  acp-storage check %s --store '%s:{dir}/store'\n"
                "({dir} becomes a fresh temporary directory for each check)\n",
                t->uri_template, t->plugin_file ? t->plugin_file : t->name, t->name);
    return rc;
}

/* Waits for the child pid of open_apart to write its exit code on fd or
 * end; timeout_s 0 waits without limit.  Returns 1 and the byte read in
 * *code, 0 when the child ended without one, -1 when the time ran out
 * (the child is then killed).  *status receives the child's wait status. */
static int await_open(pid_t pid, int fd, int timeout_s, unsigned char *code, int *status)
{
    int64_t left_ms = (int64_t)timeout_s * 1000;
    int got = 0;
    for (;;) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int pr = poll(&pfd, 1, timeout_s > 0 ? (int)(left_ms > 1000 ? 1000 : left_ms) : -1);
        if (pr < 0 && errno != EINTR)
            break;
        if (pr > 0) {
            ssize_t n = read(fd, code, 1);
            if (n < 0 && errno == EINTR)
                continue;
            got = n == 1;
            break;
        }
        if (pr == 0 && (left_ms -= 1000) <= 0) {
            kill(pid, SIGKILL);
            got = -1;
            break;
        }
    }
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
    return got;
}

/* open_once in a child process: a plugin that crashes, calls exit() or
 * hangs while loading or opening must not end the command before it
 * reports.  A crash or an exit() is not an error here: the checks then
 * run, each in its own process, and report it.  A hang past timeout_s is:
 * every check would wait as long. */
static int open_apart(const check_target *t, const acp_config *cfg, int timeout_s)
{
    int fds[2];
    if (pipe(fds) != 0)
        return cli_fail(ACP_IO, "cannot create a pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return cli_fail(ACP_IO, "cannot fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
        /* The exit code goes through the pipe: an exit() called by the
         * plugin must not pass for one of the command's own codes. */
        unsigned char rc = (unsigned char)open_once(t, cfg);
        fflush(stderr);
        _exit(write(fds[1], &rc, 1) == 1 ? 0 : CLI_EXIT_FAILURE);
    }
    close(fds[1]);
    unsigned char code = 0;
    int status = 0;
    int got = await_open(pid, fds[0], timeout_s, &code, &status);
    close(fds[0]);
    if (got > 0)
        return code;
    if (got < 0)
        return cli_fail(ACP_IO,
                        "the plugin did not finish loading or opening a store within %d s "
                        "(its entry function, init or open hangs); killed",
                        timeout_s);
    if (WIFEXITED(status))
        fprintf(stderr,
                "acp-storage: the plugin ended the process (exit status %d) while loading or "
                "opening a store; every check runs in its own process and reports it\n",
                WEXITSTATUS(status));
    else
        fprintf(stderr,
                "acp-storage: the plugin crashed while loading or opening a store (killed by "
                "signal %d: %s); every check runs in its own process and reports CRASH\n",
                WTERMSIG(status), strsignal(WTERMSIG(status)));
    return CLI_EXIT_OK;
}

/* Open and close the store once before running anything, so that a plugin
 * that does not load or a URI that does not fit gives one clear error
 * instead of every check failing.  *display receives the URI template as
 * it can be shown (password redacted). */
static int preflight(const check_target *t, int timeout_s, char **display)
{
    const char *tmp = getenv("TMPDIR");
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/acp-storage-check-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return cli_fail(ACP_IO, "cannot create a temporary directory in %s: %s",
                        tmp && tmp[0] == '/' ? tmp : "/tmp", strerror(errno));

    acp_error err;
    acp_config *cfg = NULL;
    char *uri = expand_dir(t->uri_template, dir);
    int rc = uri ? CLI_EXIT_OK : cli_fail(ACP_NOMEM, "out of memory");
    if (!rc && acp_config_new(&cfg, &err) != ACP_OK)
        rc = cli_report(&err);
    if (!rc && acp_config_parse_uri(cfg, uri, &err) != ACP_OK)
        rc = cli_report(&err);
    if (!rc && t->plugin_file && acp_config_set_plugin_file(cfg, t->plugin_file, &err) != ACP_OK)
        rc = cli_report(&err);
    if (!rc)
        rc = open_apart(t, cfg, timeout_s);
    if (!rc) {
        /* Show the template, not this one temporary directory. */
        char *shown = acp_config_redacted_uri(cfg);
        char *at = shown ? strstr(shown, dir) : NULL;
        if (at) {
            *display = malloc(strlen(shown) + 6);
            if (*display)
                sprintf(*display, "%.*s{dir}%s", (int)(at - shown), shown, at + strlen(dir));
        } else {
            *display = shown ? strdup(shown) : NULL;
        }
        acp_free(shown);
        if (!*display)
            rc = cli_fail(ACP_NOMEM, "out of memory");
    }
    acp_config_free(cfg);
    free(uri);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}

static const char *result_color(int result)
{
    switch (result) {
    case ACP_CONFORMANCE_PASS:
        return GREEN;
    case ACP_CONFORMANCE_SKIP:
        return YELLOW;
    default:
        return RED;
    }
}

/* The counts of each result, indexed by ACP_CONFORMANCE_*. */
#define N_RESULTS 5

static void print_header(const cli_ctx *ctx, const check_target *t, const char *store, int wname)
{
    if (ctx->json) {
        fputs("{\"schema\":1,\"backend\":", stdout);
        out_str(stdout, t->name);
        fputs(",\"plugin_file\":", stdout);
        out_str(stdout, t->plugin_file);
        fputs(",\"store\":", stdout);
        out_str(stdout, store);
        fputs(",\"checks\":[", stdout);
    } else {
        fprintf(stdout, "Checking backend %s with store %s\n\n", t->name, store);
        fprintf(stdout, "%-7s  %-*s  %s\n", "RESULT", wname, "CHECK", "DETAIL");
    }
}

static void print_row(const cli_ctx *ctx, size_t nth, size_t i, int result, const char *msg,
                      int wname)
{
    const char *rname = acp_conformance_result_name(result);
    if (ctx->json) {
        fputs(nth ? ",{\"name\":" : "{\"name\":", stdout);
        out_str(stdout, acp_conformance_name(i));
        fputs(",\"description\":", stdout);
        out_str(stdout, acp_conformance_description(i));
        fprintf(stdout, ",\"result\":\"%s\",\"message\":", rname);
        out_str(stdout, msg);
        fputc('}', stdout);
        return;
    }
    char upper[16];
    size_t k = 0;
    for (; rname[k] && k + 1 < sizeof upper; k++)
        upper[k] = (char)(rname[k] - (rname[k] >= 'a' && rname[k] <= 'z' ? 'a' - 'A' : 0));
    upper[k] = '\0';
    fprintf(stdout, "%s%-7s%s  %-*s  %s\n", ctx->color ? result_color(result) : "", upper,
            ctx->color ? RESET : "", msg[0] ? wname : 0, acp_conformance_name(i), msg);
}

static void print_summary(const cli_ctx *ctx, const check_target *t, const size_t *count,
                          size_t total)
{
    if (ctx->json) {
        fprintf(stdout,
                "],\"summary\":{\"total\":%zu,\"passed\":%zu,\"failed\":%zu,\"skipped\":%zu,"
                "\"crashed\":%zu,\"timed_out\":%zu}}\n",
                total, count[ACP_CONFORMANCE_PASS], count[ACP_CONFORMANCE_FAIL],
                count[ACP_CONFORMANCE_SKIP], count[ACP_CONFORMANCE_CRASH],
                count[ACP_CONFORMANCE_TIMEOUT]);
    } else {
        fprintf(stdout, "\n%s: %zu checks: %zu passed, %zu failed, %zu skipped, %zu crashed, %zu timed out\n",
                t->name, total, count[ACP_CONFORMANCE_PASS], count[ACP_CONFORMANCE_FAIL],
                count[ACP_CONFORMANCE_SKIP], count[ACP_CONFORMANCE_CRASH],
                count[ACP_CONFORMANCE_TIMEOUT]);
    }
}

/* The checks --filter selects. */
typedef struct selection {
    const char *filter;
    size_t count;
    int name_width;
    int timeout_s;
} selection;

static int selected(const selection *sel, size_t i)
{
    return !sel->filter || strstr(acp_conformance_name(i), sel->filter);
}

static int select_checks(cli_ctx *ctx, selection *sel)
{
    int64_t timeout = DEFAULT_TIMEOUT_S;
    int rc = cli_opt_int(ctx, OPT_TIMEOUT, &timeout);
    if (rc)
        return rc;
    if (timeout < 0 || timeout > INT_MAX)
        return cli_usage_error(ctx, "--timeout must be 0 (no limit) or a number of seconds");
    sel->timeout_s = (int)timeout;
    sel->filter = ctx->args.value[OPT_FILTER];
    sel->count = 0;
    sel->name_width = 5;
    for (size_t i = 0; i < acp_conformance_count(); i++) {
        if (selected(sel, i)) {
            int w = (int)strlen(acp_conformance_name(i));
            sel->count++;
            sel->name_width = w > sel->name_width ? w : sel->name_width;
        }
    }
    if (!sel->count)
        return cli_usage_error(ctx, "no check name contains '%s'", sel->filter);
    return CLI_EXIT_OK;
}

static int run_checks(const cli_ctx *ctx, const selection *sel, const check_target *t,
                      const char *store)
{
    size_t n = acp_conformance_count();
    int wname = sel->name_width;
    acp_conformance_target target = {t->uri_template, t->plugin_file};
    size_t count[N_RESULTS] = {0}, done = 0;
    print_header(ctx, t, store, wname);
    for (size_t i = 0; i < n; i++) {
        if (!selected(sel, i))
            continue;
        cli_progress(ctx, "[%zu/%zu] %s", done + 1, sel->count, acp_conformance_name(i));
        /* Each check runs in a forked child: nothing may sit in the stdout
         * buffer that the child could write out a second time. */
        fflush(stdout);
        char msg[2048] = "";
        int result = acp_conformance_run_isolated(i, &target, sel->timeout_s, msg, sizeof msg);
        cli_progress(ctx, NULL);
        if (result < 0 || result >= N_RESULTS)
            result = ACP_CONFORMANCE_CRASH;
        count[result]++;
        print_row(ctx, done++, i, result, msg, wname);
    }
    print_summary(ctx, t, count, sel->count);
    size_t failed = count[ACP_CONFORMANCE_FAIL] + count[ACP_CONFORMANCE_CRASH] +
                 count[ACP_CONFORMANCE_TIMEOUT];
    return failed ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

int cmd_check(cli_ctx *ctx)
{
    check_target t = {.plugin_file = NULL};
    selection sel;
    char *store = NULL;
    int rc = select_checks(ctx, &sel);
    if (!rc) {
        rc = resolve_target(ctx, &t);
        /* Its failures return cli_usage_error's non-zero code, which the
         * analyser cannot see through (a variadic function elsewhere). */
        assert(rc || t.uri_template);
    }
    if (!rc)
        rc = preflight(&t, sel.timeout_s, &store);
    if (!rc)
        rc = run_checks(ctx, &sel, &t, store);
    free(store);
    free(t.plugin_file);
    free(t.uri_template);
    return rc;
}
