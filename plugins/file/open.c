/* SPDX-License-Identifier: MIT */
/*
 * open.c - opening and closing a file store: options, the folder and its
 * FORMAT file, the lock table, the index log, and the open-time repairs.
 */
#define _GNU_SOURCE /* F_OFD_SETLKW, strerror_r returning char *, memrchr */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "file_int.h"

#define FORMAT_NAME "acp-storage-file"
/* 2: run files carry their version (fmt.h), and delete_mark exists.
 * 3: run files and index.log's run records carry the run's status (for
 * status filters).  An older store is raised by the first writable open;
 * this plugin reads files of every version. */
#define FORMAT_VERSION 3

/* ---- opening --------------------------------------------------------------------- */

static int is_store_entry(const char *nm)
{
    static const char *const known[] = {"FORMAT", "index.log", "lock", "runs", "sessions",
                                        "events", "lost+found", "quarantine", FILE_MARK_NAME,
                                        NULL};
    if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0 ||
        strncmp(nm, FILE_TMP_PREFIX, strlen(FILE_TMP_PREFIX)) == 0 ||
        strncmp(nm, "index.log.damaged-", 18) == 0)
        return 1;
    for (int i = 0; known[i]; i++)
        if (strcmp(nm, known[i]) == 0)
            return 1;
    return 0;
}

/* mkdir -p, then open the directory. */
static acp_status open_root(acp_backend *b, acp_call *call)
{
    size_t n = strlen(b->path);
    char *p = malloc(n + 1);
    if (!p)
        return b->host->error(call, ACP_NOMEM, "out of memory opening %s", b->path);
    memcpy(p, b->path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        if (p[i - 1] == '/')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            int e = errno;
            acp_status s = b->host->error(call, e == ENOTDIR ? ACP_INVALID : ACP_IO,
                                          "%s: cannot create directory %s: %s", b->path, p,
                                          strerror(e));
            free(p);
            return s;
        }
        p[i] = c;
    }
    free(p);
    b->dirfd = open(b->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (b->dirfd < 0) {
        int e = errno;
        if (e == ENOTDIR)
            return b->host->error(call, ACP_INVALID, "%s: not a directory", b->path);
        return b->host->error(call, ACP_IO, "%s: cannot open: %s", b->path, strerror(e));
    }
    return ACP_OK;
}

static acp_status check_format_text(acp_backend *b, char *buf, size_t len, acp_call *call)
{
    static const char head[] = "{\"format\":\"" FORMAT_NAME "\",\"version\":";
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' ' || buf[len - 1] == '\r'))
        len--;
    long long v = 0;
    size_t i = sizeof head - 1, digits = 0;
    if (len < i || memcmp(buf, head, i) != 0)
        goto bad;
    while (i < len && buf[i] >= '0' && buf[i] <= '9' && digits < 9) {
        v = v * 10 + (buf[i++] - '0');
        digits++;
    }
    if (!digits || i + 1 != len || buf[i] != '}')
        goto bad;
    if (v > FORMAT_VERSION)
        return b->host->error(call, ACP_UNSUPPORTED,
                              "%s/FORMAT: store format version %lld is newer than this "
                              "plugin's (%d): upgrade acp-storage",
                              b->path, v, FORMAT_VERSION);
    if (v < 1)
        goto bad;
    b->format = (int)v;
    return ACP_OK;
bad:
    return b->host->error(call, ACP_CORRUPT,
                          "%s/FORMAT: not an acp-storage file store format file", b->path);
}

static acp_status check_format(acp_backend *b, acp_call *call)
{
    char *buf = NULL;
    size_t len = 0;
    int err = fs_read_at(b->dirfd, "FORMAT", &buf, &len, NULL);
    if (!err) {
        acp_status s = check_format_text(b, buf, len, call);
        free(buf);
        return s;
    }
    if (err != ENOENT)
        return file_err(b, call, err == ENOMEM ? ACP_NOMEM : ACP_IO, "", "FORMAT",
                        "cannot read", err);

    /* A new store: only in an empty directory (or one that another process
     * is turning into a store right now). */
    DIR *d = fs_open_dir(b->dirfd);
    if (!d)
        return file_err(b, call, ACP_IO, "", "", "cannot list", errno);
    struct dirent *de;
    const char *foreign = NULL;
    char fbufname[256];
    while ((de = readdir(d)) != NULL) {
        if (!is_store_entry(de->d_name)) {
            snprintf(fbufname, sizeof fbufname, "%s", de->d_name);
            foreign = fbufname;
            break;
        }
    }
    closedir(d);
    if (foreign)
        return b->host->error(call, ACP_INVALID,
                              "%s: not an acp-storage file store (no FORMAT file) and not "
                              "empty (it holds %s)",
                              b->path, foreign);

    char text[64];
    int tl = snprintf(text, sizeof text, "{\"format\":\"%s\",\"version\":%d}\n", FORMAT_NAME,
                      FORMAT_VERSION);
    char tmp[64];
    int fd = fs_create_tmp(b, b->dirfd, "format-", tmp, O_WRONLY);
    if (fd < 0)
        return file_err(b, call, ACP_IO, "", "FORMAT", "cannot create", errno);
    err = file_write_all(fd, text, (size_t)tl);
    if (!err && fsync(fd) != 0)
        err = errno;
    close(fd);
    /* link() rather than rename(): if another process won the race, its
     * FORMAT stays and is checked below. */
    if (!err && linkat(b->dirfd, tmp, b->dirfd, "FORMAT", 0) != 0 && errno != EEXIST)
        err = errno;
    unlinkat(b->dirfd, tmp, 0);
    if (!err && fsync(b->dirfd) != 0)
        err = errno;
    if (err)
        return file_err(b, call, ACP_IO, "", "FORMAT", "cannot create", err);
    err = fs_read_at(b->dirfd, "FORMAT", &buf, &len, NULL);
    if (err)
        return file_err(b, call, ACP_IO, "", "FORMAT", "cannot read", err);
    acp_status s = check_format_text(b, buf, len, call);
    free(buf);
    return s;
}

/* Raise FORMAT of an older store to this plugin's version, atomically
 * (rename).  An older plugin then refuses the store instead of reading the
 * newer run files as damaged. */
static acp_status format_upgrade(acp_backend *b, acp_call *call)
{
    char text[64], tmp[64];
    int tl = snprintf(text, sizeof text, "{\"format\":\"%s\",\"version\":%d}\n", FORMAT_NAME,
                      FORMAT_VERSION);
    int fd = fs_create_tmp(b, b->dirfd, "format-", tmp, O_WRONLY);
    if (fd < 0)
        return file_err(b, call, ACP_IO, "", "FORMAT", "cannot create", errno);
    int err = file_write_all(fd, text, (size_t)tl);
    if (!err && fsync(fd) != 0)
        err = errno;
    close(fd);
    if (!err && renameat(b->dirfd, tmp, b->dirfd, "FORMAT") != 0)
        err = errno;
    if (err)
        unlinkat(b->dirfd, tmp, 0);
    else if (fsync(b->dirfd) != 0)
        err = errno;
    if (err)
        return file_err(b, call, ACP_IO, "", "FORMAT", "cannot upgrade", err);
    b->host->log(2, "file", "%s: store format %d raised to %d", b->path, b->format,
                 FORMAT_VERSION);
    b->format = FORMAT_VERSION;
    return ACP_OK;
}

static acp_status open_subdir(acp_backend *b, const char *name, int *fd, acp_call *call)
{
    if (mkdirat(b->dirfd, name, 0777) != 0 && errno != EEXIST && !b->ro_errno)
        return file_err(b, call, ACP_IO, "", name, "cannot create directory", errno);
    *fd = fs_open(b->dirfd, name, O_RDONLY | O_DIRECTORY, 0, NULL);
    if (*fd < 0)
        return file_err(b, call, ACP_IO, "", name, "cannot open directory", errno);
    return ACP_OK;
}

/* The format steps, row i raising format i + 1 to i + 2: what open raises
 * (format_upgrade) and what acp-storage migrate lists.  A new format
 * appends a row (and bumps FORMAT_VERSION). */
static const char *const format_steps[FORMAT_VERSION - 1] = {
    "write FORMAT version 2: run files written from now on carry their version and deletes "
    "keep delete_mark; run files of version 1 are read as version 1 (nothing is rewritten)",
    "write FORMAT version 3: run files and index.log records written from now on carry the "
    "run's status; runs indexed before are re-read once from their files by the next writable "
    "open, to index their status (run files are not rewritten)",
};

acp_status file_migrate(acp_backend *b, uint32_t flags, acp_call *call)
{
    const acp_plugin_host *h = b->host;
    if (h->size < offsetof(acp_plugin_host, migrate_step) + sizeof h->migrate_step ||
        h->migrate_versions(call, b->format, FORMAT_VERSION, "format version"))
        return ACP_NOMEM;
    for (int v = b->format; v < FORMAT_VERSION; v++)
        if (h->migrate_step(call, v, v + 1, format_steps[v - 1], NULL))
            return ACP_NOMEM;
    if ((flags & ACP_MIGRATE_DRY_RUN) || b->format >= FORMAT_VERSION)
        return ACP_OK;
    if (b->ro_errno)
        return file_err(b, call, ACP_IO, "", "FORMAT", "cannot upgrade", b->ro_errno);
    return format_upgrade(b, call);
}

void file_close(acp_backend *b)
{
    if (!b)
        return;
    ev_close_all(b);
    ev_lock_table_close(b);
    idx_free(&b->ix);
    int fds[] = {b->dirfd, b->runs_fd, b->sess_fd, b->ev_fd, b->lock_fd, b->ilog_fd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    for (int i = 0; i < FILE_NSTRIPES; i++)
        pthread_mutex_destroy(&b->stripes[i]);
    pthread_mutex_destroy(&b->ix_mu);
    pthread_mutex_destroy(&b->logs_mu);
    fg_destroy(&b->dir_flush[DIR_RUNS]);
    fg_destroy(&b->dir_flush[DIR_SESSIONS]);
    free(b->path);
    free(b);
}

acp_status file_open(const acp_plugin_host *host, const acp_open_args *args,
                         acp_backend **out, acp_call *call)
{
    /* The core checked variant and options against the descriptor
     * (file.c) and filled in their defaults. */
    const char *sync_opt = acp_option_text(args, "sync");
    int sync = !sync_opt || strcmp(sync_opt, "none") != 0;
    int create = (int)acp_option_int(args, "create", 1);
    /* auto, never, or inspect (the core's migrate call) */
    const char *migrate_opt = acp_option_text(args, "migrate");
    int migrate = !migrate_opt                         ? 'a'
                  : strcmp(migrate_opt, "never") == 0   ? 'n'
                  : strcmp(migrate_opt, "inspect") == 0 ? 'i'
                                                        : 'a';
    if (args->authority[0] && strcmp(args->authority, "localhost") != 0)
        return host->error(call, ACP_INVALID,
                           "a store on another host (%s) is not supported; use "
                           "file:///path or file:relative/path",
                           args->authority);
    if (!args->path[0])
        return host->error(call, ACP_INVALID,
                           "no directory given; use file:///abs/dir or file:rel/dir");

    /* The keyed hash and verify came with ABI 1.2. */
    if (host->size < offsetof(acp_plugin_host, verify_damage) + sizeof host->verify_damage)
        return host->error(call, ACP_UNSUPPORTED, "needs a host of plugin ABI 1.2 or newer");

    acp_backend *b = calloc(1, sizeof *b);
    if (!b || !(b->path = strdup(args->path)) || idx_init(&b->ix, host->hash) != 0 ||
        hmap_init(&b->metas, host->hash) != 0) {
        if (b) {
            idx_free(&b->ix);
            free(b->path);
            free(b);
        }
        return host->error(call, ACP_NOMEM, "out of memory opening a file store");
    }
    b->host = host;
    b->sync = sync;
    /* Descriptors of event logs are a cache: leave most of the process's
     * allowance to the application. */
    b->max_open_logs = FILE_MAX_OPEN_LOGS;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur / 4 < b->max_open_logs)
        b->max_open_logs = rl.rlim_cur / 4 > 1 ? (size_t)(rl.rlim_cur / 4) : 1;
    b->dirfd = b->runs_fd = b->sess_fd = b->ev_fd = b->lock_fd = b->ilog_fd = -1;
    for (int i = 0; i < FILE_NSTRIPES; i++)
        pthread_mutex_init(&b->stripes[i], NULL);
    pthread_mutex_init(&b->ix_mu, NULL);
    pthread_mutex_init(&b->logs_mu, NULL);
    fg_init(&b->dir_flush[DIR_RUNS]);
    fg_init(&b->dir_flush[DIR_SESSIONS]);

    /* create=false: a store is a directory with a FORMAT file. */
    char format_path[4096];
    acp_status s = ACP_OK;
    if (!create && ((size_t)snprintf(format_path, sizeof format_path, "%s/FORMAT", b->path) >=
                        sizeof format_path ||
                    access(format_path, F_OK) != 0))
        s = host->error(call, ACP_NOT_FOUND,
                        "%s: no file store there; create=false does not create one", b->path);
    if (s == ACP_OK)
        s = open_root(b, call);
    if (s == ACP_OK)
        s = check_format(b, call);
    if (s == ACP_OK) {
        b->lock_fd = fs_open(b->dirfd, "lock", O_RDWR | O_CREAT, 0644, NULL);
        if (b->lock_fd < 0) {
            int e = errno;
            if (e == EACCES || e == EROFS || e == EPERM)
                b->ro_errno = e; /* still readable */
            else
                s = file_err(b, call, ACP_IO, "", "lock", "cannot open", e);
        } else {
            s = ev_lock_table_open(b, call);
        }
    }
    if (s == ACP_OK && b->format < FORMAT_VERSION && migrate == 'n')
        s = host->error(call, ACP_UNSUPPORTED,
                        "%s: store format %d is older than format %d of this plugin, and "
                        "migrate=never does not raise it: run 'acp-storage migrate' on this store",
                        b->path, b->format, FORMAT_VERSION);
    else if (s == ACP_OK && !b->ro_errno && b->format < FORMAT_VERSION && migrate == 'a')
        s = format_upgrade(b, call);
    if (s == ACP_OK)
        s = open_subdir(b, "runs", &b->runs_fd, call);
    if (s == ACP_OK)
        s = open_subdir(b, "sessions", &b->sess_fd, call);
    if (s == ACP_OK)
        s = open_subdir(b, "events", &b->ev_fd, call);
    if (s == ACP_OK)
        s = ilog_reopen(b, call);
    if (s == ACP_OK) {
        pthread_mutex_lock(&b->ix_mu);
        s = ilog_tail(b, 0, call);
        pthread_mutex_unlock(&b->ix_mu);
        if (s == ACP_CORRUPT && !b->ro_errno)
            s = ilog_set_aside(b, -1, NULL, call);
    }
    if (s == ACP_OK && !b->ro_errno) {
        s = repair_dir(b, K_RUN, call);
        if (s == ACP_OK)
            s = repair_dir(b, K_SESSION, call);
        if (s == ACP_OK)
            ilog_compact_if_bloated(b, call);
        if (s == ACP_OK) {
            DIR *d = fs_open_dir(b->dirfd);
            struct dirent *de;
            namelist tmps = {0};
            while (d && (de = readdir(d)) != NULL)
                if (strncmp(de->d_name, FILE_TMP_PREFIX, strlen(FILE_TMP_PREFIX)) == 0)
                    nl_add(&tmps, de->d_name, strlen(de->d_name));
            if (d)
                closedir(d);
            for (size_t i = 0; i < tmps.n; i++)
                repair_clean_tmp(b, b->dirfd, tmps.v[i]);
            nl_free(&tmps);
        }
    }
    if (s != ACP_OK) {
        file_close(b);
        return s;
    }
    *out = b;
    return ACP_OK;
}

acp_status file_ping(acp_backend *b, acp_call *call)
{
    struct stat st;
    if (fstatat(b->dirfd, "FORMAT", &st, AT_SYMLINK_NOFOLLOW) != 0)
        return file_err(b, call, ACP_IO, "", "FORMAT", "cannot stat", errno);
    if (!S_ISREG(st.st_mode))
        return file_err(b, call, ACP_IO, "", "FORMAT", "cannot use", FS_EBADTYPE);
    return ACP_OK;
}
