/* SPDX-License-Identifier: MIT */
/*
 * readonly.c - how a mode=ro handle opens its store (readonly.h).
 *
 * Three ways, chosen once at open:
 *
 *  - immutable=1, when the -wal and -shm files are absent (so no connection
 *    has the store open, and every committed write is in the database file)
 *    and nothing can create them or write the file: a read-only mount, or a
 *    folder or a database file without any write permission bit.  SQLite
 *    then reads the file alone, with no locks (a writer would need those
 *    files, and root, who ignores permission bits, is the one exception).
 *  - the plain read-only open, for the file's owner and for root: SQLite
 *    may create -wal and -shm, but they belong to the owner (root's are
 *    given to the owner by SQLite), so the owner can still write.
 *  - as a guest, for every other user: nothing is created (errno_vfs.c's
 *    guest VFS for the database and -wal files, readonly_shm=1 for -shm).
 *    SQLite 3.22 and later read a WAL database through existing -wal and
 *    -shm files it cannot write; when they do not exist, the open fails and
 *    the message says why.
 */
#define _POSIX_C_SOURCE 200809L

#include "readonly.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "errno_vfs.h"

/* Does path + suffix exist (as anything: a link counts)? */
static int sq_exists(const char *path, const char *suffix)
{
    char p[4096];
    struct stat st;

    if (snprintf(p, sizeof p, "%s%s", path, suffix) >= (int)sizeof p)
        return 1; /* cannot tell: assume it does (the safe answer) */
    return lstat(p, &st) == 0;
}

/* The mode bits of the folder holding path (0777 when unknown), and
 * whether this process may create files in it. */
static mode_t sq_dir_mode(const char *path, int *writable)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    struct stat st;

    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    *writable = access(dir, W_OK | X_OK) == 0;
    return stat(dir, &st) == 0 ? st.st_mode : 0777;
}

/* "file:" URI of path with one query parameter (RFC 3986 escapes for all
 * but unreserved characters and '/'). */
static char *sq_uri(const char *path, const char *param)
{
    size_t n = strlen(path), len = 0;
    char *u = malloc(8 + 3 * n + strlen(param) + 2);

    if (u == NULL)
        return NULL;
    len += (size_t)sprintf(u, "file:%s", path[0] == '/' ? "//" : "");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("/-._~", *p) != NULL)
            u[len++] = (char)*p;
        else
            len += (size_t)sprintf(u + len, "%%%02X", *p);
    }
    sprintf(u + len, "?%s", param);
    return u;
}

void sq_ro_plan(const char *path, sq_ro *out)
{
    struct stat db;
    struct statvfs fs;
    int have_files, nobody_writes;

    memset(out, 0, sizeof *out);
    out->vfs_mode = SQ_VFS_RO;
    out->folder_writable = 1;
    if (stat(path, &db) != 0) {
        out->uri = sq_uri(path, "mode=ro");
        snprintf(out->why, sizeof out->why, "read-only");
        return;
    }
    have_files = sq_exists(path, "-wal") || sq_exists(path, "-shm");
    nobody_writes = (sq_dir_mode(path, &out->folder_writable) & 0222) == 0 ||
                    (statvfs(path, &fs) == 0 && (fs.f_flag & ST_RDONLY)) ||
                    (db.st_mode & 0222) == 0;
    if (!have_files && nobody_writes) {
        out->immutable = 1;
        out->uri = sq_uri(path, "immutable=1");
        snprintf(out->why, sizeof out->why,
                 "read-only and immutable (nothing can write the store here)");
    } else if (geteuid() == db.st_uid || geteuid() == 0) {
        out->uri = sq_uri(path, "mode=ro");
        snprintf(out->why, sizeof out->why, "read-only by its owner");
    } else {
        out->vfs_mode = SQ_VFS_GUEST;
        out->uri = sq_uri(path, "mode=ro&readonly_shm=1");
        snprintf(out->why, sizeof out->why,
                 "read-only by uid %u, not its owner (uid %u): creating no file",
                 (unsigned)geteuid(), (unsigned)db.st_uid);
    }
}

void sq_ro_free(sq_ro *ro)
{
    free(ro->uri);
    ro->uri = NULL;
}
