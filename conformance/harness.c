/* SPDX-License-Identifier: MIT */
/*
 * harness.c - the table of checks, running one in-process or in a child
 * process, and the helpers of check.h.
 */
#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "check.h"

typedef int (*check_fn)(t_ctx *);

static const struct {
    const char *name;
    const char *description;
    check_fn fn;
} checks[] = {
#define ACP_CONFORMANCE_CHECK(name, description) {#name, description, acp_conf_check_##name},
#include "acp_conformance_checks.def"
#undef ACP_CONFORMANCE_CHECK
};

#define N_CHECKS (sizeof checks / sizeof checks[0])

/* Longest message a check records (longer ones are cut). */
#define T_MSG_MAX 4096

size_t acp_conformance_count(void)
{
    return N_CHECKS;
}

const char *acp_conformance_name(size_t i)
{
    return i < N_CHECKS ? checks[i].name : NULL;
}

const char *acp_conformance_description(size_t i)
{
    return i < N_CHECKS ? checks[i].description : NULL;
}

size_t acp_conformance_find(const char *name)
{
    for (size_t i = 0; name && i < N_CHECKS; i++)
        if (strcmp(checks[i].name, name) == 0)
            return i;
    return N_CHECKS;
}

const char *acp_conformance_result_name(int result)
{
    switch (result) {
    case ACP_CONFORMANCE_PASS: return "pass";
    case ACP_CONFORMANCE_FAIL: return "fail";
    case ACP_CONFORMANCE_SKIP: return "skip";
    case ACP_CONFORMANCE_CRASH: return "crash";
    case ACP_CONFORMANCE_TIMEOUT: return "timeout";
    default: return "unknown";
    }
}

static void copy_msg(char *msg, size_t msgsz, const char *text)
{
    if (msg && msgsz > 0)
        snprintf(msg, msgsz, "%s", text);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fputs("acp_conformance: out of memory\n", stderr);
        abort();
    }
    return p;
}

/* ------------------------------------------------------------------ */
/* Temporary directories and URIs                                      */
/* ------------------------------------------------------------------ */

static int make_temp_dir(char *out, size_t outsz)
{
    const char *base = getenv("TMPDIR");
    if (!base || base[0] != '/')
        base = "/tmp";
    if ((size_t)snprintf(out, outsz, "%s/acp-conformance-XXXXXX", base) >= outsz)
        return -1;
    return mkdtemp(out) ? 0 : -1;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void remove_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The template with every "{dir}" replaced by dir, percent-encoding what
 * is not unreserved or '/' (the core decodes URI paths). */
static char *expand_uri(const char *tmpl, const char *dir)
{
    size_t n = 1;
    for (const char *p = tmpl; *p;)
        if (strncmp(p, "{dir}", 5) == 0) {
            n += 3 * strlen(dir);
            p += 5;
        } else {
            n++;
            p++;
        }
    char *out = xmalloc(n), *o = out;
    for (const char *p = tmpl; *p;) {
        if (strncmp(p, "{dir}", 5) != 0) {
            *o++ = *p++;
            continue;
        }
        for (const unsigned char *d = (const unsigned char *)dir; *d; d++) {
            if ((*d >= 'a' && *d <= 'z') || (*d >= 'A' && *d <= 'Z') ||
                (*d >= '0' && *d <= '9') || strchr("-._~/", *d))
                *o++ = (char)*d;
            else
                o += sprintf(o, "%%%02X", *d);
        }
        p += 5;
    }
    *o = '\0';
    return out;
}

/* ------------------------------------------------------------------ */
/* Running                                                              */
/* ------------------------------------------------------------------ */

static int run_in_dir(size_t i, const acp_conformance_target *t, const char *dir, char *msg,
                      size_t msgsz)
{
    char text[T_MSG_MAX] = "";
    t_ctx c;
    memset(&c, 0, sizeof c);
    c.target = t;
    c.dir = dir;
    c.uri = expand_uri(t->uri_template, dir);
    c.msg = text;
    c.msgsz = sizeof text;

    int r = checks[i].fn(&c);

    /* Release in reverse order: pages and strings before the stores. */
    while (c.n_keep > 0) {
        t_keep_item *k = &c.keep[--c.n_keep];
        k->release(k->ptr);
    }
    free(c.keep);
    while (c.n_handles > 0)
        acp_store_close(c.handles[--c.n_handles]);
    free(c.handles);
    free(c.uri);

    if (r == T_PASS)
        text[0] = '\0';
    else if (text[0] == '\0')
        snprintf(text, sizeof text, "check returned %d without a message", r);
    copy_msg(msg, msgsz, text);
    return r;
}

static int bad_call(const acp_conformance_target *t, size_t i, char *msg, size_t msgsz)
{
    if (i >= N_CHECKS) {
        char text[96];
        snprintf(text, sizeof text, "no conformance check number %zu (there are %zu)", i,
                 (size_t)N_CHECKS);
        copy_msg(msg, msgsz, text);
        return 1;
    }
    if (!t || !t->uri_template) {
        copy_msg(msg, msgsz, "no target store URI given");
        return 1;
    }
    return 0;
}

int acp_conformance_run(size_t i, const acp_conformance_target *t, char *msg, size_t msgsz)
{
    if (bad_call(t, i, msg, msgsz))
        return ACP_CONFORMANCE_FAIL;
    char dir[4096];
    if (make_temp_dir(dir, sizeof dir) != 0) {
        char text[256];
        snprintf(text, sizeof text, "cannot make a temporary directory: %s", strerror(errno));
        copy_msg(msg, msgsz, text);
        return ACP_CONFORMANCE_FAIL;
    }
    int r = run_in_dir(i, t, dir, msg, msgsz);
    remove_tree(dir);
    return r;
}

static const char *signal_name(int sig)
{
    static const struct {
        int sig;
        const char *name;
    } names[] = {
        {SIGSEGV, "SIGSEGV"}, {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},
        {SIGILL, "SIGILL"},   {SIGKILL, "SIGKILL"}, {SIGTERM, "SIGTERM"}, {SIGPIPE, "SIGPIPE"},
        {SIGTRAP, "SIGTRAP"}, {SIGSYS, "SIGSYS"},   {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"},
        {SIGALRM, "SIGALRM"}, {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"}, {SIGHUP, "SIGHUP"},
        {SIGUSR1, "SIGUSR1"}, {SIGUSR2, "SIGUSR2"},
    };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        if (names[k].sig == sig)
            return names[k].name;
    return NULL;
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Write all of buf (the child's report). */
static void write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        buf += w;
        n -= (size_t)w;
    }
}

int acp_conformance_run_isolated(size_t i, const acp_conformance_target *t, int timeout_s,
                                 char *msg, size_t msgsz)
{
    if (bad_call(t, i, msg, msgsz))
        return ACP_CONFORMANCE_FAIL;
    char text[T_MSG_MAX + 256];
    char dir[4096];
    if (make_temp_dir(dir, sizeof dir) != 0) {
        snprintf(text, sizeof text, "cannot make a temporary directory: %s", strerror(errno));
        copy_msg(msg, msgsz, text);
        return ACP_CONFORMANCE_FAIL;
    }
    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(text, sizeof text, "cannot make a pipe: %s", strerror(errno));
        copy_msg(msg, msgsz, text);
        remove_tree(dir);
        return ACP_CONFORMANCE_FAIL;
    }
    /* Output buffered in this process must not be written twice. */
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(text, sizeof text, "cannot fork: %s", strerror(errno));
        copy_msg(msg, msgsz, text);
        close(fds[0]);
        close(fds[1]);
        remove_tree(dir);
        return ACP_CONFORMANCE_FAIL;
    }
    if (pid == 0) {
        /* Own process group, so a timeout also kills what the check forked. */
        setpgid(0, 0);
#ifdef __linux__
        /* Outside the caller's group, a Ctrl-C no longer reaches the check:
         * have it end with the caller instead. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
#else
        (void)parent;
#endif
        close(fds[0]);
        char report[T_MSG_MAX + 1];
        int r = run_in_dir(i, t, dir, report + 1, sizeof report - 1);
        report[0] = (char)('0' + r);
        /* The NUL ends the report: a process the check started (the
         * plugin's helper) may hold the pipe open after this one ends. */
        write_all(fds[1], report, 1 + strlen(report + 1) + 1);
        close(fds[1]);
        _exit(0);
    }
    setpgid(pid, pid); /* also here: whichever runs first wins the race */
    close(fds[1]);

    char report[T_MSG_MAX + 1];
    size_t got = 0;
    int timed_out = 0;
    int64_t deadline = timeout_s > 0 ? monotonic_ms() + (int64_t)timeout_s * 1000 : -1;
    for (;;) {
        int wait_ms = -1;
        if (deadline >= 0) {
            int64_t left = deadline - monotonic_ms();
            if (left <= 0) {
                timed_out = 1;
                break;
            }
            wait_ms = left > 60000 ? 60000 : (int)left;
        }
        struct pollfd pfd = {fds[0], POLLIN, 0};
        int pr = poll(&pfd, 1, wait_ms);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            continue; /* the deadline is tested above */
        char buf[1024];
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size_t keep = (size_t)n;
        if (keep > sizeof report - 1 - got)
            keep = sizeof report - 1 - got;
        memcpy(report + got, buf, keep);
        got += keep;
        if (memchr(buf, '\0', (size_t)n))
            break;
    }
    close(fds[0]);
    report[got] = '\0';

    if (timed_out) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
    }
    /* Wait without reaping, so the process group id is still ours when
     * stray grandchildren are killed. */
    siginfo_t info;
    memset(&info, 0, sizeof info);
    while (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) != 0 && errno == EINTR)
        ;
    kill(-pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    remove_tree(dir);

    int r;
    if (timed_out) {
        snprintf(text, sizeof text, "timed out after %d s (killed)", timeout_s);
        r = ACP_CONFORMANCE_TIMEOUT;
    } else if (got >= 1 && report[0] >= '0' && report[0] <= '2') {
        snprintf(text, sizeof text, "%s", report + 1);
        r = report[0] - '0';
    } else if (WIFSIGNALED(status)) {
        const char *name = signal_name(WTERMSIG(status));
        if (name)
            snprintf(text, sizeof text, "crashed: killed by %s", name);
        else
            snprintf(text, sizeof text, "crashed: killed by signal %d", WTERMSIG(status));
        r = ACP_CONFORMANCE_CRASH;
    } else {
        snprintf(text, sizeof text,
                 "crashed: the check process ended with exit status %d without a result "
                 "(something called exit())",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        r = ACP_CONFORMANCE_CRASH;
    }
    copy_msg(msg, msgsz, text);
    return r;
}

/* ------------------------------------------------------------------ */
/* Results                                                              */
/* ------------------------------------------------------------------ */

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

int t_fail(t_ctx *c, const char *file, int line, const char *fmt, ...)
{
    int n = snprintf(c->msg, c->msgsz, "%s:%d: ", base_name(file), line);
    if (n >= 0 && (size_t)n < c->msgsz) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->msg + n, c->msgsz - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return T_FAIL;
}

int t_skip(t_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, c->msgsz, fmt, ap);
    va_end(ap);
    return T_SKIP;
}

#define T_ERR_SENTINEL ((acp_status)1000)

void t_err_reset(t_ctx *c)
{
    c->err.code = T_ERR_SENTINEL;
    snprintf(c->err.message, sizeof c->err.message, "(no message)");
}

int t_fail_status(t_ctx *c, const char *file, int line, const char *call, acp_status got,
                  acp_status want)
{
    /* Cut very long call text (literal documents) to keep messages readable. */
    char shown[200];
    size_t len = strlen(call);
    if (len < sizeof shown)
        memcpy(shown, call, len + 1);
    else
        snprintf(shown, sizeof shown, "%.*s...", (int)sizeof shown - 4, call);
    if (got == ACP_OK)
        return t_fail(c, file, line, "%s returned OK, expected %s", shown,
                      acp_status_name(want));
    const char *detail = c->err.code == T_ERR_SENTINEL ? "(acp_error not filled)"
                                                       : c->err.message;
    return t_fail(c, file, line, "%s returned %s, expected %s: %s", shown,
                  acp_status_name(got), acp_status_name(want), detail);
}

/* ------------------------------------------------------------------ */
/* Stores                                                               */
/* ------------------------------------------------------------------ */

acp_status t_open(t_ctx *c, acp_store **out, acp_error *err)
{
    acp_store *s = NULL;
    acp_status st;
    if (c->target->plugin_file) {
        acp_config *cfg = NULL;
        st = acp_config_new(&cfg, err);
        if (st != ACP_OK)
            return st;
        st = acp_config_parse_uri(cfg, c->uri, err);
        if (st == ACP_OK)
            st = acp_config_set_plugin_file(cfg, c->target->plugin_file, err);
        if (st == ACP_OK)
            st = acp_store_open_config(cfg, &s, err);
        acp_config_free(cfg);
    } else {
        st = acp_store_open(c->uri, &s, err);
    }
    if (st != ACP_OK)
        return st;
    if (c->n_handles == c->cap_handles) {
        size_t cap = c->cap_handles ? 2 * c->cap_handles : 4;
        acp_store **h = realloc(c->handles, cap * sizeof *h);
        if (!h) {
            acp_store_close(s);
            if (err) {
                err->code = ACP_NOMEM;
                snprintf(err->message, sizeof err->message, "conformance: out of memory");
            }
            return ACP_NOMEM;
        }
        c->handles = h;
        c->cap_handles = cap;
    }
    c->handles[c->n_handles++] = s;
    *out = s;
    return ACP_OK;
}

void t_close(t_ctx *c, acp_store *store)
{
    for (size_t k = 0; k < c->n_handles; k++)
        if (c->handles[k] == store) {
            memmove(&c->handles[k], &c->handles[k + 1],
                    (c->n_handles - k - 1) * sizeof c->handles[0]);
            c->n_handles--;
            acp_store_close(store);
            return;
        }
}

/* ------------------------------------------------------------------ */
/* Memory                                                               */
/* ------------------------------------------------------------------ */

void *t_keep(t_ctx *c, void *p, void (*release)(void *))
{
    if (!p)
        return NULL;
    if (c->n_keep == c->cap_keep) {
        size_t cap = c->cap_keep ? 2 * c->cap_keep : 64;
        t_keep_item *k = realloc(c->keep, cap * sizeof *k);
        if (!k) {
            fputs("acp_conformance: out of memory\n", stderr);
            abort();
        }
        c->keep = k;
        c->cap_keep = cap;
    }
    c->keep[c->n_keep].ptr = p;
    c->keep[c->n_keep].release = release;
    c->n_keep++;
    return p;
}

void t_release(t_ctx *c, void *p)
{
    /* Usually the latest kept item: search from the end. */
    for (size_t k = c->n_keep; k-- > 0;)
        if (c->keep[k].ptr == p) {
            t_keep_item item = c->keep[k];
            memmove(&c->keep[k], &c->keep[k + 1], (c->n_keep - k - 1) * sizeof c->keep[0]);
            c->n_keep--;
            item.release(item.ptr);
            return;
        }
}

void t_free_page(void *page)
{
    acp_page_free(page);
}

void *t_alloc(t_ctx *c, size_t n)
{
    return t_keep(c, xmalloc(n), free);
}

char *t_strdup(t_ctx *c, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = t_alloc(c, n);
    memcpy(p, s, n);
    return p;
}

char *t_printf(t_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    char *p = t_alloc(c, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

/* ------------------------------------------------------------------ */
/* Documents and time                                                   */
/* ------------------------------------------------------------------ */

char *t_json_str(t_ctx *c, const char *s)
{
    size_t n = strlen(s);
    char *out = t_alloc(c, 6 * n + 3), *o = out;
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            *o++ = '\\';
            *o++ = (char)*p;
        } else if (*p < 0x20) {
            o += sprintf(o, "\\u%04x", *p);
        } else {
            *o++ = (char)*p;
        }
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

char *t_run_doc(t_ctx *c, const char *run_id, const char *agent, const char *session,
                const char *created)
{
    const char *sess =
        session ? t_printf(c, ",\"session_id\":%s", t_json_str(c, session)) : "";
    const char *cr = created ? t_printf(c, ",\"created_at\":\"%s\"", created) : "";
    return t_printf(c, "{\"run_id\":%s,\"agent_name\":%s%s,\"status\":\"created\",\"output\":[]%s}",
                    t_json_str(c, run_id), t_json_str(c, agent), sess, cr);
}

char *t_session_doc(t_ctx *c, const char *id, const char *state_json)
{
    return t_printf(c, "{\"id\":%s,\"history\":[],\"state\":%s}", t_json_str(c, id),
                    state_json);
}

char *t_time(t_ctx *c, int64_t us)
{
    int64_t sec = us / T_SEC, frac = us % T_SEC;
    if (frac < 0) {
        frac += T_SEC;
        sec -= 1;
    }
    time_t tt = (time_t)sec;
    struct tm tm;
    gmtime_r(&tt, &tm);
    return t_printf(c, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
}

int64_t t_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * T_SEC + ts.tv_nsec / 1000;
}

void t_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Up to 48 bytes of s[0..n) from `from`, non-printables escaped. */
static void snippet(char *out, size_t outsz, const char *s, size_t n, size_t from)
{
    size_t o = 0;
    if (from > n)
        from = n;
    for (size_t k = from; k < n && k < from + 48 && o + 5 < outsz; k++) {
        unsigned char ch = (unsigned char)s[k];
        if (ch >= 0x20 && ch < 0x7f && ch != '\\')
            out[o++] = (char)ch;
        else
            o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", ch);
    }
    out[o] = '\0';
}

int t_same(t_ctx *c, const char *file, int line, const char *what, const char *got,
           size_t glen, const char *want, size_t wlen)
{
    if (!got)
        return t_fail(c, file, line, "%s: got NULL, expected %zu bytes", what, wlen);
    if (glen == wlen && memcmp(got, want, wlen) == 0)
        return 0;
    size_t k = 0;
    while (k < glen && k < wlen && got[k] == want[k])
        k++;
    size_t from = k > 16 ? k - 16 : 0;
    char gs[256], ws[256];
    snippet(gs, sizeof gs, got, glen, from);
    snippet(ws, sizeof ws, want, wlen, from);
    return t_fail(c, file, line,
                  "%s differs from what was saved at byte %zu (got %zu bytes, saved %zu): "
                  "got \"%s\", saved \"%s\" (from byte %zu)",
                  what, k, glen, wlen, gs, ws, from);
}

int t_check_list(t_ctx *c, const char *file, int line, const char *agent, const char *session,
                 const char *const *ids, size_t n)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.agent_name = agent;
    f.session_id = session;
    f.limit = 1000;
    f.want_total = 1;
    acp_page *p = NULL;
    t_err_reset(c);
    acp_status st = acp_run_list(c->store, &f, &p, &c->err);
    if (st != ACP_OK)
        return t_fail_status(c, file, line, "acp_run_list", st, ACP_OK);
    t_keep(c, p, t_free_page);
    const char *fa = agent ? agent : "(any)", *fs = session ? session : "(any)";
    size_t count = acp_page_count(p);
    for (size_t k = 0; k < count && k < n; k++) {
        const char *key = acp_page_key(p, k);
        if (!key || strcmp(key, ids[k]) != 0)
            return t_fail(c, file, line,
                          "list_runs agent=%s session=%s: item %zu is \"%s\", expected \"%s\"",
                          fa, fs, k, key ? key : "(NULL)", ids[k]);
    }
    if (count != n)
        return t_fail(c, file, line,
                      "list_runs agent=%s session=%s returned %zu runs, expected %zu", fa, fs,
                      count, n);
    if (acp_page_total(p) != (int64_t)n)
        return t_fail(c, file, line,
                      "list_runs agent=%s session=%s: total %lld, expected %zu", fa, fs,
                      (long long)acp_page_total(p), n);
    t_release(c, p);
    return 0;
}

int t_count_runs(t_ctx *c, const char *file, int line, const char *agent, const char *session,
                 int64_t *total)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.agent_name = agent;
    f.session_id = session;
    f.limit = 0;
    f.want_total = 1;
    acp_page *p = NULL;
    t_err_reset(c);
    acp_status st = acp_run_list(c->store, &f, &p, &c->err);
    if (st != ACP_OK)
        return t_fail_status(c, file, line, "acp_run_list (limit 0, want_total)", st, ACP_OK);
    *total = acp_page_total(p);
    size_t count = acp_page_count(p);
    acp_page_free(p);
    if (count != 0)
        return t_fail(c, file, line, "list_runs with limit 0 returned %zu runs", count);
    if (*total < 0)
        return t_fail(c, file, line, "list_runs with want_total reported total %lld",
                      (long long)*total);
    return 0;
}

int t_count_events(t_ctx *c, const char *file, int line, const char *run_id, int64_t *n)
{
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    f.limit = 1000;
    *n = 0;
    for (;;) {
        acp_page *p = NULL;
        t_err_reset(c);
        acp_status st = acp_event_list(c->store, run_id, &f, &p, &c->err);
        if (st != ACP_OK)
            return t_fail_status(c, file, line, "acp_event_list", st, ACP_OK);
        size_t count = acp_page_count(p);
        for (size_t k = 0; k < count; k++) {
            int64_t seq = acp_page_seq(p, k);
            if (seq != f.after_seq + 1) {
                acp_page_free(p);
                return t_fail(c, file, line,
                              "events of \"%s\": seq %lld follows %lld (expected %lld)",
                              run_id, (long long)seq, (long long)f.after_seq,
                              (long long)f.after_seq + 1);
            }
            f.after_seq = seq;
        }
        acp_page_free(p);
        *n += (int64_t)count;
        if (count < (size_t)f.limit)
            return 0;
    }
}

int t_lists_sessions(t_ctx *c)
{
    if (c->lists_sessions == 0) {
        acp_page *p = NULL;
        acp_error e;
        acp_status st = acp_session_list(c->store, NULL, 1, &p, &e);
        acp_page_free(p);
        /* Any other failure is for the check's own call to report. */
        c->lists_sessions = st == ACP_UNSUPPORTED ? -1 : 1;
    }
    return c->lists_sessions > 0;
}

/* Without list_sessions: each wanted session can at least be read. */
static int check_sessions_by_get(t_ctx *c, const char *file, int line,
                                 const char *const *want, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        char *json = NULL;
        size_t len;
        t_err_reset(c);
        acp_status st = acp_session_get(c->store, want[k], &json, &len, &c->err);
        acp_free(json);
        if (st != ACP_OK)
            return t_fail_status(c, file, line, t_printf(c, "acp_session_get(%s)",
                                                         t_json_str(c, want[k])),
                                 st, ACP_OK);
    }
    return 0;
}

int t_check_sessions(t_ctx *c, const char *file, int line, const char *after,
                     const char *const *want, size_t n, int64_t limit)
{
    if (!t_lists_sessions(c))
        return check_sessions_by_get(c, file, line, want, n);
    size_t seen = 0;
    char *cursor = NULL;
    int r = 0;
    for (int pages = 0; r == 0; pages++) {
        if ((size_t)pages > n + 1) {
            r = t_fail(c, file, line, "list_sessions paging does not end");
            break;
        }
        acp_page *p = NULL;
        t_err_reset(c);
        acp_status st = acp_session_list(c->store, after, limit, &p, &c->err);
        if (st != ACP_OK) {
            r = t_fail_status(c, file, line, "acp_session_list", st, ACP_OK);
            break;
        }
        size_t count = acp_page_count(p);
        for (size_t k = 0; k < count && r == 0; k++, seen++) {
            const char *key = acp_page_key(p, k);
            if (seen >= n || !key || strcmp(key, want[seen]) != 0)
                r = t_fail(c, file, line,
                           "list_sessions (limit %lld) item %zu is %s, expected %s",
                           (long long)limit, seen, key ? t_json_str(c, key) : "NULL",
                           seen < n ? t_json_str(c, want[seen]) : "the end");
        }
        const char *next = acp_page_next_cursor(p);
        if (r == 0 && count < (size_t)limit && next != NULL)
            r = t_fail(c, file, line,
                       "list_sessions returned a short page (%zu of %lld) and cursor %s", count,
                       (long long)limit, t_json_str(c, next));
        if (r == 0 && count > 0 && next && strcmp(next, acp_page_key(p, count - 1)) != 0)
            r = t_fail(c, file, line, "list_sessions cursor %s is not the page's last id %s",
                       t_json_str(c, next), t_json_str(c, acp_page_key(p, count - 1)));
        int done = count == 0 || next == NULL;
        if (!done) {
            free(cursor);
            cursor = strdup(next);
            after = cursor;
        }
        acp_page_free(p);
        if (done)
            break;
    }
    free(cursor);
    if (r == 0 && seen != n)
        r = t_fail(c, file, line, "list_sessions (limit %lld) returned %zu sessions, expected %zu",
                   (long long)limit, seen, n);
    return r;
}

int t_by_bytes(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ------------------------------------------------------------------ */
/* Threads                                                              */
/* ------------------------------------------------------------------ */

int t_threads(size_t n, void *(*fn)(void *), void *args, size_t argsz)
{
    pthread_t *th = xmalloc(n * sizeof *th);
    size_t started = 0;
    int rc = 0;
    for (; started < n; started++) {
        rc = pthread_create(&th[started], NULL, fn, (char *)args + started * argsz);
        if (rc != 0)
            break;
    }
    for (size_t k = 0; k < started; k++)
        pthread_join(th[k], NULL);
    free(th);
    return rc;
}

void t_thread_fail_init(t_thread_fail *f)
{
    pthread_mutex_init(&f->lock, NULL);
    f->failed = 0;
    f->msg[0] = '\0';
}

void t_thread_fail_destroy(t_thread_fail *f)
{
    pthread_mutex_destroy(&f->lock);
}

void t_thread_failf(t_thread_fail *f, const char *fmt, ...)
{
    pthread_mutex_lock(&f->lock);
    if (!f->failed) {
        f->failed = 1;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->msg, sizeof f->msg, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&f->lock);
}

int t_thread_failed(t_thread_fail *f)
{
    pthread_mutex_lock(&f->lock);
    int failed = f->failed;
    pthread_mutex_unlock(&f->lock);
    return failed;
}
