/* SPDX-License-Identifier: MIT */
/*
 * fsutil.c - file-system helpers of the file backend: error messages that
 * name the file, whole-file reads, temporary files, directory listings,
 * and the byte-range locks that serialise saves and deletes of one id.
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

/* ---- errors and small helpers -------------------------------------------- */

acp_status file_err(acp_backend *b, acp_call *call, acp_status code, const char *sub,
                    const char *name, const char *what, int err)
{
    char eb[128];
    const char *es = strerror_r(err, eb, sizeof eb);
    if (err == ENOMEM) /* opendir() and the like allocate */
        code = ACP_NOMEM;
    return b->host->error(call, code, "%s %s/%s%s: %s", what, b->path, sub, name, es);
}

acp_status file_readonly(acp_backend *b, acp_call *call)
{
    char eb[128];
    const char *es = strerror_r(b->ro_errno, eb, sizeof eb);
    return b->host->error(call, ACP_IO, "file store %s is read-only: %s", b->path, es);
}

int file_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (n == 0)
            return EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_all_fd(int fd, char **out, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return errno;
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return ENOMEM;
    for (;;) {
        if (n == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return ENOMEM;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            return e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* Read dfd/name whole; 0 or an errno.  *ino receives its inode number. */
int fs_read_at(int dfd, const char *name, char **out, size_t *len, uint64_t *ino)
{
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno;
    struct stat st;
    int err = fstat(fd, &st) != 0 ? errno : 0;
    if (!err && !S_ISREG(st.st_mode))
        err = EINVAL;
    if (!err)
        err = read_all_fd(fd, out, len);
    if (!err && ino)
        *ino = (uint64_t)st.st_ino;
    close(fd);
    return err;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Create a new temporary file in dfd; its name goes to tmp (64 bytes). */
int fs_create_tmp(acp_backend *b, int dfd, const char *tag, char *tmp, int flags)
{
    for (int tries = 0; tries < 100; tries++) {
        unsigned long n = __atomic_add_fetch(&b->tmp_counter, 1, __ATOMIC_RELAXED);
        snprintf(tmp, 64, FILE_TMP_PREFIX "%s%ld-%lu-%llx", tag, (long)getpid(), n,
                 (unsigned long long)(mono_ns() & 0xffffffffu));
        int fd = openat(dfd, tmp, flags | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}


/* ---- stripe locks ------------------------------------------------------------ */

unsigned doc_stripe_of(char kind, const char *name, size_t len)
{
    uint32_t h = 2166136261u ^ (unsigned char)kind;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 16777619u;
    return h % FILE_NSTRIPES;
}

/* In-process mutex first: OFD locks exclude other open files, not other
 * threads using the same one. */
acp_status doc_lock(acp_backend *b, unsigned s, acp_call *call)
{
    pthread_mutex_lock(&b->stripes[s]);
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t)(LOCK_DOC_BASE + s);
    fl.l_len = 1;
    while (fcntl(b->lock_fd, F_OFD_SETLKW, &fl) != 0) {
        if (errno == EINTR)
            continue;
        int e = errno;
        pthread_mutex_unlock(&b->stripes[s]);
        return file_err(b, call, ACP_IO, "", "lock", "cannot lock", e);
    }
    return ACP_OK;
}

void doc_unlock(acp_backend *b, unsigned s)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_UNLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t)(LOCK_DOC_BASE + s);
    fl.l_len = 1;
    fcntl(b->lock_fd, F_OFD_SETLK, &fl);
    pthread_mutex_unlock(&b->stripes[s]);
}

void nl_add(namelist *l, const char *s, size_t len)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        char **nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) {
            l->failed = 1;
            return;
        }
        l->v = nv;
        l->cap = nc;
    }
    char *c = malloc(len + 1);
    if (!c) {
        l->failed = 1;
        return;
    }
    memcpy(c, s, len);
    c[len] = '\0';
    l->v[l->n++] = c;
}

void nl_free(namelist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

DIR *fs_open_dir(int dfd)
{
    int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    DIR *d = fdopendir(fd);
    if (!d)
        close(fd);
    return d;
}
