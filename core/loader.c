/* SPDX-License-Identifier: MIT */
/*
 * loader.c - finding, checking and keeping backend plugins.
 *
 * A name, never a path from configuration, selects a plugin: it is checked
 * before any file access and turned into exactly one file name,
 * libacp_storage_<name>.so, tried in each plugin directory in order (never
 * the current directory).  The first directory holding that file decides:
 * a broken plugin there is reported, not skipped, so a misconfiguration is
 * never hidden by a silent fallback.  Loaded plugins stay loaded for the
 * life of the process (unloading code that may have registered thread-local
 * destructors crashes later); only refused files are closed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* secure_getenv */
#endif
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#ifndef ACP_STORAGE_PLUGINDIR
#error "ACP_STORAGE_PLUGINDIR must be defined by the build"
#endif

/* Every descriptor of ABI major 1 has at least the members of 1.0; later
 * minors may append, and the host reads only what it knows. */
#define DESCRIPTOR_SIZE_1_0 (offsetof(acp_plugin_descriptor, vtable_size) + sizeof(size_t))

#define PREFIX "libacp_storage_"
#define SUFFIX ".so"

/* The registry.  Recursive, so that a plugin's init may open another
 * backend through the host (a cache in front of a durable store). */
static pthread_mutex_t registry_lock;
static pthread_once_t registry_once = PTHREAD_ONCE_INIT;
static acp__plugin *registry;

static void registry_init(void)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&registry_lock, &a);
    pthread_mutexattr_destroy(&a);
}

static void lock(void)
{
    pthread_once(&registry_once, registry_init);
    pthread_mutex_lock(&registry_lock);
}

static void unlock(void)
{
    pthread_mutex_unlock(&registry_lock);
}

/* ---- search path ---- */

/*
 * The install's plugin directory, found from where this library sits, so
 * that an install made with `cmake --install --prefix`, or moved, works
 * with no environment: dirname(this library) + the plugin directory's path
 * relative to the library directory, when that directory exists; else the
 * directory compiled in (the build tree, a library linked in statically).
 */
static char *own_dir;
static pthread_once_t own_once = PTHREAD_ONCE_INIT;

static void find_own_dir(void)
{
#ifdef ACP_STORAGE_PLUGINDIR_FROM_LIBDIR
    Dl_info info;
    if (!dladdr((void *)&acp_plugins_scan, &info) || !info.dli_fname || info.dli_fname[0] != '/')
        return;
    char *lib = realpath(info.dli_fname, NULL);
    char *slash = lib ? strrchr(lib, '/') : NULL;
    char dir[4096];
    struct stat st;
    if (slash && snprintf(dir, sizeof dir, "%.*s/%s", (int)(slash - lib), lib,
                          ACP_STORAGE_PLUGINDIR_FROM_LIBDIR) < (int)sizeof dir &&
        stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        own_dir = realpath(dir, NULL);
    free(lib);
#endif
}

static const char *install_dir(void)
{
    pthread_once(&own_once, find_own_dir);
    return own_dir ? own_dir : ACP_STORAGE_PLUGINDIR;
}

static int push(char ***v, size_t *n, const char *s, size_t len)
{
    for (size_t i = 0; i < *n; i++) /* a directory listed twice is tried once */
        if (strlen((*v)[i]) == len && !memcmp((*v)[i], s, len))
            return 1;
    char **nv = realloc(*v, (*n + 2) * sizeof *nv);
    if (!nv)
        return 0;
    *v = nv;
    if (!(nv[*n] = strndup(s, len)))
        return 0;
    nv[++*n] = NULL;
    return 1;
}

char **acp__search_dirs(const acp_config *cfg, size_t *n)
{
    char **v = calloc(1, sizeof *v);
    size_t k = 0;
    int ok = v != NULL;
    for (size_t i = 0; ok && cfg && i < cfg->n_dirs; i++)
        ok = push(&v, &k, cfg->dirs[i], strlen(cfg->dirs[i]));
    /* secure_getenv: a set-uid program must not take plugins from its
     * caller's environment.  Relative entries are ignored on purpose. */
    const char *env = secure_getenv("ACP_STORAGE_PLUGIN_PATH");
    for (const char *p = env; ok && p && *p;) {
        size_t len = strcspn(p, ":");
        if (len && p[0] == '/')
            ok = push(&v, &k, p, len);
        p += len + (p[len] == ':');
    }
    const char *own = install_dir();
    if (ok)
        ok = push(&v, &k, own, strlen(own));
    if (!ok) {
        acp__strv_free(v);
        return NULL;
    }
    if (n)
        *n = k;
    return v;
}

/* ---- checking one file ---- */

/* Growing text for messages that list every path tried. */
typedef struct msgbuf {
    char text[ACP_ERROR_MESSAGE_MAX];
    size_t len;
} msgbuf;

static void addf(msgbuf *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(msgbuf *m, const char *fmt, ...)
{
    if (m->len >= sizeof m->text - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(m->text + m->len, sizeof m->text - m->len, fmt, ap);
    va_end(ap);
    if (r > 0)
        m->len += (size_t)r < sizeof m->text - m->len ? (size_t)r : sizeof m->text - m->len - 1;
}

static const char *required_missing(const acp_plugin_descriptor *d)
{
#define REQ(m)                                                                                     \
    if (!ACP__HAS(d, m))                                                                           \
        return #m;
    REQ(open) REQ(close) REQ(save_run) REQ(get_run) REQ(delete_run) REQ(list_runs)
    REQ(save_session) REQ(get_session) REQ(delete_session) REQ(add_event) REQ(get_events)
#undef REQ
    return NULL;
}

/*
 * dlopen path and check its descriptor.  expected: the name the file must
 * declare, or NULL to take the name from the file name.  On refusal the
 * file is closed (none of its code but the entry function has run) and m
 * explains why.
 */
static acp_status load_file(const char *path, const char *expected, acp__plugin **out,
                            msgbuf *m, unsigned abi[2])
{
    unsigned hmaj = ACP_PLUGIN_ABI_MAJOR, hmin = ACP_PLUGIN_ABI_MINOR;
    char name[65], sym[128];
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t blen = strlen(base), plen = strlen(PREFIX), slen = strlen(SUFFIX);
    if (blen <= plen + slen || blen - plen - slen > 64 || strncmp(base, PREFIX, plen) ||
        strcmp(base + blen - slen, SUFFIX)) {
        addf(m, "%s: the file name must be " PREFIX "<name>" SUFFIX, path);
        return ACP_LOAD;
    }
    memcpy(name, base + plen, blen - plen - slen);
    name[blen - plen - slen] = '\0';
    if (!acp__name_valid(name)) {
        addf(m, "%s: '%s' is not a valid plugin name ([a-z0-9_]{1,64})", path, name);
        return ACP_LOAD;
    }
    if (expected && strcmp(expected, name) != 0) {
        addf(m, "%s: the file is named for backend '%s', not '%s'", path, name, expected);
        return ACP_LOAD;
    }

    struct stat st;
    if (stat(path, &st) != 0) {
        addf(m, "%s: %s", path, strerror(errno));
        return ACP_LOAD;
    }
    for (acp__plugin *p = registry; p; p = p->next) {
        if (p->dev != st.st_dev || p->ino != st.st_ino)
            continue;
        /* The same file under another path (a link): it is the plugin it
         * declared itself, so only a path named for that backend gets it. */
        if (strcmp(p->name, name) != 0) {
            addf(m,
                 "%s: the same file as %s, which is backend '%s', not '%s' (hint: a link "
                 "must keep the plugin's own file name)",
                 path, p->path, p->name, name);
            return ACP_LOAD;
        }
        abi[0] = p->desc->abi_major, abi[1] = p->desc->abi_minor;
        *out = p;
        return ACP_OK;
    }

    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        addf(m,
             "%s: dlopen failed: %s (hint: a missing dependency or an undefined symbol is the "
             "usual cause; `ldd -r %s` shows which)",
             path, e ? e : "unknown error", path);
        return ACP_LOAD;
    }
    snprintf(sym, sizeof sym, "acp_storage_%s_plugin", name);
    dlerror();
    const acp_plugin_descriptor *(*entry)(void) =
        (const acp_plugin_descriptor *(*)(void))dlsym(h, sym);
    if (!entry) {
        const char *e = dlerror();
        addf(m,
             "%s: no entry function %s (%s; hint: define the plugin with "
             "ACP_PLUGIN_DEFINE(%s, ...) from acp_storage_plugin.h)",
             path, sym, e ? e : "symbol is NULL", name);
        goto refuse;
    }
    const acp_plugin_descriptor *d = entry();
    if (!d) {
        addf(m, "%s: %s() returned NULL (hint: the entry must return its static descriptor; "
                "use ACP_PLUGIN_DEFINE)", path, sym);
        goto refuse;
    }
    /* magic and major first: the rest of the layout depends on them. */
    if (d->magic != ACP_PLUGIN_MAGIC) {
        addf(m,
             "%s: bad magic 0x%08x in the descriptor (expected 0x%08x) (hint: not an "
             "acp-storage plugin; build it with ACP_PLUGIN_DEFINE from acp_storage_plugin.h)",
             path, (unsigned)d->magic, ACP_PLUGIN_MAGIC);
        goto refuse;
    }
    abi[0] = d->abi_major, abi[1] = d->abi_minor;
    if (d->abi_major != hmaj) {
        addf(m,
             "%s: plugin ABI %u.%u, host ABI %u.%u: the major versions differ (hint: rebuild the "
             "plugin against the acp_storage_plugin.h of ABI %u)",
             path, (unsigned)d->abi_major, (unsigned)d->abi_minor, hmaj, hmin, hmaj);
        goto refuse;
    }
    if (d->size < DESCRIPTOR_SIZE_1_0) {
        addf(m,
             "%s: truncated descriptor (%u bytes, ABI %u.%u needs at least %zu; hint: build with "
             "ACP_PLUGIN_DEFINE)",
             path, (unsigned)d->size, (unsigned)d->abi_major, (unsigned)d->abi_minor,
             (size_t)DESCRIPTOR_SIZE_1_0);
        goto refuse;
    }
    if (d->abi_minor > hmin) {
        addf(m,
             "%s: plugin ABI %u.%u is newer than host ABI %u.%u (hint: upgrade libacp_storage, "
             "or build the plugin against the host's older acp_storage_plugin.h)",
             path, (unsigned)d->abi_major, (unsigned)d->abi_minor, hmaj, hmin);
        goto refuse;
    }
    if (d->pointer_size != sizeof(void *)) {
        addf(m, "%s: built for %u-byte pointers, this host uses %zu (hint: rebuild the plugin "
                "for this architecture)", path,
             (unsigned)d->pointer_size, sizeof(void *));
        goto refuse;
    }
    if (!d->name || strcmp(d->name, name) != 0) {
        addf(m,
             "%s: descriptor names backend '%.64s' but the file is for '%s' (hint: the first "
             "argument of ACP_PLUGIN_DEFINE must match the file name)",
             path, d->name ? d->name : "(null)", name);
        goto refuse;
    }
    const char *missing = NULL;
    if (!d->vtable || d->vtable_size < offsetof(acp_backend_vtable, get_events) + sizeof(void *) ||
        (missing = required_missing(d)) != NULL) {
        addf(m, "%s: the method table %s (ABI %u.%u)", path,
             !d->vtable ? "is NULL" : missing ? "lacks a required method" : "is too short",
             (unsigned)d->abi_major, (unsigned)d->abi_minor);
        if (missing)
            addf(m, ": %s is NULL", missing);
        addf(m, " (hint: every method but init, ping and list_sessions is required; build "
                "with ACP_PLUGIN_DEFINE so that vtable_size is right)");
        goto refuse;
    }

    acp__plugin *p = calloc(1, sizeof *p);
    if (!p || !(p->name = strdup(name)) || !(p->path = strdup(path))) {
        if (p)
            free(p->name);
        free(p);
        addf(m, "%s: out of memory", path);
        dlclose(h);
        return ACP_NOMEM;
    }
    /* Initialise before publishing, under the registry lock: many threads
     * opening the same backend cold run init exactly once. */
    if (ACP__HAS(d, init)) {
        acp_call call;
        acp__call_init(&call, NULL, 0);
        acp_status ist = d->vtable->init(&acp__host, &call);
        if (ist != ACP_OK) {
            addf(m, "%s: plugin initialisation failed (%s)%s%s", path, acp_status_name(ist),
                 call.has_message ? ": " : "", call.has_message ? call.message : "");
            /* Its code ran: keep it mapped, but do not register it. */
            free(p->name), free(p->path), free(p);
            return ist == ACP_NOMEM ? ACP_NOMEM : ACP_LOAD;
        }
    }
    p->handle = h;
    p->desc = d;
    p->dev = st.st_dev;
    p->ino = st.st_ino;
    p->next = registry;
    registry = p;
    *out = p;
    return ACP_OK;
refuse:
    dlclose(h);
    return ACP_LOAD;
}

/* The first non-empty relative entry of a ':'-separated path, its length
 * in *len; NULL if none. */
static const char *first_relative(const char *p, size_t *len)
{
    while (p && *p) {
        size_t n = strcspn(p, ":");
        if (n && p[0] != '/') {
            *len = n;
            return p;
        }
        p += n + (p[n] == ':');
    }
    return NULL;
}

acp_status acp__plugin_get(const acp_config *cfg, acp__plugin **out, acp_error *err)
{
    msgbuf m = {.len = 0};
    if (!cfg->backend && !cfg->plugin_file)
        return acp__error(err, ACP_INVALID, "no backend configured: give a store URI such as "
                                            "sqlite:///var/lib/acp/acp.db or memory:");
    if (cfg->backend && !acp__name_valid(cfg->backend))
        return acp__error(err, ACP_INVALID, "invalid backend name '%.80s'", cfg->backend);
    if (cfg->plugin_file) {
        lock();
        unsigned abi[2];
        acp_status st = load_file(cfg->plugin_file, cfg->backend, out, &m, abi);
        unlock();
        if (st != ACP_OK)
            return acp__error(err, st, "backend '%s' refused: %s", cfg->backend ? cfg->backend : "?",
                              m.text);
        return ACP_OK;
    }

    size_t n = 0;
    char **dirs = acp__search_dirs(cfg, &n);
    if (!dirs)
        return acp__error(err, ACP_NOMEM, "out of memory building the plugin search path");
    acp_status st = ACP_LOAD;
    int found = 0;
    lock();
    /* Fast path: a plugin of that name already loaded from one of the
     * directories is found by its path without touching the disk again. */
    for (size_t i = 0; i < n && !found; i++) {
        char path[4096];
        if (snprintf(path, sizeof path, "%s/" PREFIX "%s" SUFFIX, dirs[i], cfg->backend) >=
            (int)sizeof path) {
            addf(&m, "%s%.200s...: path too long", m.len ? "; " : "", dirs[i]);
            continue;
        }
        for (acp__plugin *p = registry; p && !found; p = p->next)
            if (strcmp(p->path, path) == 0) {
                *out = p;
                found = 1;
                st = ACP_OK;
            }
        if (found)
            break;
        if (access(path, F_OK) != 0) {
            addf(&m, "%s%s (%s)", m.len ? "; " : "", path, strerror(errno));
            continue;
        }
        found = 1;
        if (m.len)
            addf(&m, "; ");
        unsigned abi[2];
        st = load_file(path, cfg->backend, out, &m, abi);
    }
    unlock();
    acp__strv_free(dirs);
    if (st == ACP_OK)
        return ACP_OK;
    if (!found && strcmp(cfg->backend, "rediss") == 0)
        /* The scheme a Redis user writes for TLS: no backend has it, and
         * "not found" would send them looking for a plugin. */
        return acp__error(err, ACP_UNSUPPORTED,
                          "rediss: Redis over TLS is not supported: the redis backend connects "
                          "over plain TCP (redis://) or a unix socket "
                          "(redis+unix:///path/to/redis.sock).  To reach a TLS-only server, run "
                          "a local TLS tunnel (stunnel, or ssh -L) and use "
                          "redis://127.0.0.1:PORT");
    if (!found) {
        /* Every directory of the path was tried: the hint must not suggest
         * adding one of them, but may name an entry that was ignored. */
        size_t len = 0;
        const char *rel = first_relative(secure_getenv("ACP_STORAGE_PLUGIN_PATH"), &len);
        if (rel)
            return acp__error(err, ACP_LOAD,
                              "backend '%s' not found; tried %s (hint: the "
                              "ACP_STORAGE_PLUGIN_PATH entry '%.*s' was ignored because it is "
                              "relative; give that directory as an absolute path)",
                              cfg->backend, m.text, (int)len, rel);
        return acp__error(err, ACP_LOAD,
                          "backend '%s' not found; tried %s (hint: install the plugin, or put "
                          "the absolute path of another directory holding " PREFIX "%s" SUFFIX
                          " in ACP_STORAGE_PLUGIN_PATH)",
                          cfg->backend, m.text, cfg->backend);
    }
    return acp__error(err, st, "backend '%s' refused; tried %s", cfg->backend, m.text);
}

/* ---- listing what is installed ---- */

/* How long a probed plugin may take to load before it is reported hung. */
#define PROBE_TIMEOUT_MS 30000

/* What a probe child reports: the fixed part, then the three strings and
 * the typed options (plugin_specs.c). */
typedef struct probe_report {
    int32_t status;
    uint32_t abi[2];
    uint64_t capabilities;
    uint32_t len[4]; /* version, description, message, options */
} probe_report;

static int write_all(int fd, const void *buf, size_t n)
{
    const char *b = buf;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return 0;
        b += w;
        n -= (size_t)w;
    }
    return 1;
}

/* Ends the probe child when the plugin calls exit(): registered last, it
 * runs before the application's atexit handlers (LIFO), and _exit keeps
 * the child from flushing the copy of the application's stdio buffers. */
static void probe_exit_now(int status, void *arg)
{
    (void)arg;
    _exit(status);
}

/* In the probe child: load path and report to fd.  Never returns. */
static void probe_child(int fd, const char *path)
{
    on_exit(probe_exit_now, NULL);
    /* The parent held the registry lock across fork; its owner is a thread
     * that does not exist here.  The registry itself is consistent. */
    registry_init();
    msgbuf m = {.len = 0};
    acp__plugin *p = NULL;
    unsigned abi[2] = {0, 0};
    lock();
    acp_status st = load_file(path, NULL, &p, &m, abi);
    unlock();
    const char *text[3] = {st == ACP_OK ? p->desc->version : "",
                           st == ACP_OK ? p->desc->description : "", st == ACP_OK ? "" : m.text};
    probe_report r = {.status = st == ACP_OK ? ACP_OK : ACP_LOAD,
                      .abi = {abi[0], abi[1]},
                      .capabilities = st == ACP_OK ? p->desc->capabilities : 0};
    for (int i = 0; i < 3; i++)
        r.len[i] = (uint32_t)strnlen(text[i] ? text[i] : "", ACP_ERROR_MESSAGE_MAX);
    char *specs = NULL;
    size_t nspecs = 0;
    if (st == ACP_OK && acp__specs_pack(p->desc, &specs, &nspecs) != 0)
        _exit(1); /* out of memory: the parent reports a probe without a report */
    r.len[3] = (uint32_t)nspecs;
    int ok = write_all(fd, &r, sizeof r);
    for (int i = 0; ok && i < 3; i++)
        ok = write_all(fd, text[i] ? text[i] : "", r.len[i]);
    if (ok && nspecs)
        ok = write_all(fd, specs, nspecs);
    free(specs);
    _exit(ok ? 0 : 1);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether buf holds a whole report: a process the plugin started in init
 * may keep the pipe open long after the probe child has written it. */
static int report_complete(const char *buf, size_t n)
{
    probe_report r;
    if (n < sizeof r)
        return 0;
    memcpy(&r, buf, sizeof r);
    return n >= sizeof r + (size_t)r.len[0] + r.len[1] + r.len[2] + r.len[3];
}

/* Read what the child sends until it closes its end, the report is whole,
 * or the deadline
 * passes.  Returns the bytes read (a malloc'ed buffer in *out), -1 on
 * timeout or out of memory (*out NULL when out of memory). */
static ssize_t read_report(int fd, char **out, int *timed_out)
{
    size_t cap = sizeof(probe_report) + 3 * ACP_ERROR_MESSAGE_MAX + ACP_SPECS_MAX, got = 0;
    char *buf = malloc(cap);
    *out = buf;
    *timed_out = 0;
    if (!buf)
        return -1;
    int64_t deadline = now_ms() + PROBE_TIMEOUT_MS;
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            *timed_out = 1;
            return -1;
        }
        struct pollfd pfd = {fd, POLLIN, 0};
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno != EINTR)
            return (ssize_t)got;
        if (pr <= 0)
            continue;
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || (got += (size_t)n) == cap || report_complete(buf, got))
            return (ssize_t)got;
    }
}

/* info->message etc. from a complete report; 0 if the report is cut. */
static int take_report(acp_plugin_info *info, const char *buf, size_t n)
{
    probe_report r;
    if (n < sizeof r)
        return 0;
    memcpy(&r, buf, sizeof r);
    if (sizeof r + (size_t)r.len[0] + r.len[1] + r.len[2] + r.len[3] != n)
        return 0;
    const char *s = buf + sizeof r;
    info->status = r.status == ACP_OK ? ACP_OK : ACP_LOAD;
    info->abi_major = r.abi[0];
    info->abi_minor = r.abi[1];
    info->capabilities = r.capabilities;
    info->version = strndup(s, r.len[0]);
    info->description = strndup(s += r.len[0], r.len[1]);
    info->message = strndup(s += r.len[1], r.len[2]);
    if (acp__specs_unpack(s + r.len[2], r.len[3], info) != 0)
        free((char *)info->message), info->message = NULL; /* reported as NOMEM */
    return 1;
}

/* Why a probe child ended without a report. */
static void describe_end(acp_plugin_info *info, int status, int timed_out, char *text, size_t n)
{
    if (timed_out) {
        snprintf(text, n, "did not finish loading within %d s (its entry function or init "
                          "hangs); killed", PROBE_TIMEOUT_MS / 1000);
    } else if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        const char *abbrev = sigabbrev_np(sig);
        info->crash_signal = sig;
        snprintf(text, n,
                 "crashed while loading: killed by SIG%s (signal %d) in its entry function or "
                 "init (hint: `acp-storage check %s` runs it apart; a debugger shows where)",
                 abbrev ? abbrev : "?", sig, info->path);
    } else {
        snprintf(text, n, "the probe process ended (exit status %d) without a report: its "
                          "entry function or init called exit()",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
}

/*
 * Load path in a child process and fill info from what it reports, so that
 * a plugin crashing or hanging in its entry function or init is listed as
 * such instead of taking the caller down.  Errors: NOMEM (or the fork and
 * pipe errors, reported as the plugin's message).
 */
static acp_status probe(const char *path, acp_plugin_info *info)
{
    char text[ACP_ERROR_MESSAGE_MAX] = "";
    int fds[2];
    info->status = ACP_LOAD;
    if (pipe(fds) != 0) {
        snprintf(text, sizeof text, "cannot probe: pipe: %s", strerror(errno));
        goto fallback;
    }
    lock(); /* the child inherits a registry nobody is changing */
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        probe_child(fds[1], path);
    }
    unlock();
    close(fds[1]);
    if (pid < 0) {
        snprintf(text, sizeof text, "cannot probe: fork: %s", strerror(errno));
        close(fds[0]);
        goto fallback;
    }
    char *buf;
    int timed_out;
    ssize_t n = read_report(fds[0], &buf, &timed_out);
    close(fds[0]);
    if (timed_out)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    int complete = buf && n >= 0 && take_report(info, buf, (size_t)n);
    free(buf);
    if (!buf)
        return ACP_NOMEM;
    if (complete)
        return info->version && info->description && info->message ? ACP_OK : ACP_NOMEM;
    describe_end(info, status, timed_out, text, sizeof text);
fallback:
    info->message = strdup(text);
    info->version = strdup("");
    info->description = strdup("");
    return info->version && info->description && info->message ? ACP_OK : ACP_NOMEM;
}

struct acp_plugin_list {
    acp_plugin_info *items;
    size_t n;
};

static char *dupe(const char *s)
{
    return strdup(s ? s : "");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

ACP_API acp_status acp_plugins_scan(const acp_config *cfg, acp_plugin_list **out, acp_error *err)
{
    if (!out)
        return acp__error(err, ACP_INVALID, "acp_plugins_scan: out must not be NULL");
    acp_plugin_list *l = calloc(1, sizeof *l);
    size_t n = 0;
    char **dirs = acp__search_dirs(cfg, &n);
    if (!l || !dirs)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        DIR *dp = opendir(dirs[i]);
        if (!dp)
            continue;
        char **names = NULL;
        size_t nn = 0;
        struct dirent *de;
        int ok = 1;
        while (ok && (de = readdir(dp)) != NULL) {
            size_t len = strlen(de->d_name);
            if (len > strlen(PREFIX) + strlen(SUFFIX) && !strncmp(de->d_name, PREFIX, strlen(PREFIX)) &&
                !strcmp(de->d_name + len - strlen(SUFFIX), SUFFIX))
                ok = push(&names, &nn, de->d_name, len);
        }
        closedir(dp);
        if (!ok) {
            acp__strv_free(names);
            goto nomem;
        }
        if (nn)
            qsort(names, nn, sizeof *names, cmp_str);
        for (size_t k = 0; k < nn; k++) {
            acp_plugin_info *ni = realloc(l->items, (l->n + 1) * sizeof *ni);
            if (!ni) {
                acp__strv_free(names);
                goto nomem;
            }
            l->items = ni;
            acp_plugin_info *info = &l->items[l->n++];
            memset(info, 0, sizeof *info);
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dirs[i], names[k]);
            size_t nlen = strlen(names[k]) - strlen(PREFIX) - strlen(SUFFIX);
            char name[300];
            snprintf(name, sizeof name, "%.*s", (int)nlen, names[k] + strlen(PREFIX));
            for (size_t j = 0; j + 1 < l->n; j++)
                if (!strcmp(l->items[j].name, name))
                    info->shadowed = 1;
            info->name = dupe(name);
            info->path = dupe(path);
            if (!info->name || !info->path || probe(path, info) != ACP_OK) {
                acp__strv_free(names);
                goto nomem;
            }
        }
        acp__strv_free(names);
    }
    acp__strv_free(dirs);
    *out = l;
    return ACP_OK;
nomem:
    acp__strv_free(dirs);
    acp_plugin_list_free(l);
    return acp__error(err, ACP_NOMEM, "out of memory listing plugins");
}

ACP_API size_t acp_plugin_list_count(const acp_plugin_list *l)
{
    return l ? l->n : 0;
}

ACP_API const acp_plugin_info *acp_plugin_list_get(const acp_plugin_list *l, size_t i)
{
    return l && i < l->n ? &l->items[i] : NULL;
}

ACP_API void acp_plugin_list_free(acp_plugin_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        acp_plugin_info *p = &l->items[i];
        free((char *)p->name), free((char *)p->path), free((char *)p->message);
        free((char *)p->version), free((char *)p->description);
        free((void *)p->options);
    }
    free(l->items);
    free(l);
}
