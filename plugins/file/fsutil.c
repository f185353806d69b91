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

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

acp_status file_err(acp_backend *b, acp_call *call, acp_status code, const char *sub,
                    const char *name, const char *what, int err)
{
    char eb[128];
    const char *es;
    if (err == FS_EBADTYPE) {
        /* Planted or stray: damage to the store, never followed. */
        es = "not a regular file or folder (symbolic links, FIFOs and devices are never "
             "followed or opened)";
        code = ACP_CORRUPT;
    } else if (err == ETIMEDOUT) {
        es = "another process held the lock past this call's deadline (is it stopped or "
             "hung?)";
        code = ACP_UNAVAILABLE;
    } else {
        es = strerror_r(err, eb, sizeof eb);
    }
    if (err == ENOMEM) /* opendir() and the like allocate */
        code = ACP_NOMEM;
    return b->host->error(call, code, "%s %s/%s%s: %s", what, b->path, sub, name, es);
}

acp_status file_readonly(acp_backend *b, acp_call *call)
{
    char eb[128];
    const char *es = strerror_r(b->ro_errno, eb, sizeof eb);
    return b->host->error(call, ACP_IO, "the store %s is read-only: %s", b->path, es);
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

int fs_open(int dfd, const char *name, int flags, mode_t mode, struct stat *st)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a peer; it is refused
     * below.  It means nothing for regular files and folders. */
    int fd = openat(dfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode);
    if (fd < 0) {
        int e = errno;
        /* ELOOP: the name is a symbolic link; EISDIR: a folder opened for
         * writing; ENXIO: a FIFO or socket without a peer. */
        errno = e == ELOOP || e == ENXIO || (e == EISDIR && !(flags & O_DIRECTORY)) ||
                        (e == ENOTDIR && (flags & O_DIRECTORY))
                    ? FS_EBADTYPE
                    : e;
        return -1;
    }
    struct stat own;
    if (!st)
        st = &own;
    if (fstat(fd, st) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if ((flags & O_DIRECTORY) ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode)) {
        close(fd);
        errno = FS_EBADTYPE;
        return -1;
    }
    return fd;
}

/* Read dfd/name whole; 0 or an errno.  *ino receives its inode number. */
int fs_read_at(int dfd, const char *name, char **out, size_t *len, uint64_t *ino)
{
    struct stat st;
    int fd = fs_open(dfd, name, O_RDONLY, 0, &st);
    if (fd < 0)
        return errno;
    int err = read_all_fd(fd, out, len);
    if (!err && ino)
        *ino = (uint64_t)st.st_ino;
    close(fd);
    return err;
}

/* ---- waits bounded by the call's deadline ---------------------------------- */

uint64_t fs_deadline(acp_backend *b, acp_call *call)
{
    int64_t ms = call ? b->host->remaining_ms(call) : -1;
    if (ms < 0)
        ms = FILE_LOCK_WAIT_MS;
    return mono_ns() + (uint64_t)ms * 1000000u;
}

/* Sleep a little before trying a busy lock again: from 50 us up to 2 ms,
 * never past the deadline.  0, or ETIMEDOUT once the deadline has passed. */
static int backoff(unsigned *round, uint64_t deadline)
{
    uint64_t now = mono_ns();
    if (now >= deadline)
        return ETIMEDOUT;
    uint64_t ns = 50000u << (*round < 6 ? *round : 6);
    if (ns > 2000000u)
        ns = 2000000u;
    if (ns > deadline - now)
        ns = deadline - now;
    (*round)++;
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    nanosleep(&ts, NULL);
    return 0;
}

#if defined(__SANITIZE_THREAD__)
#define FS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FS_TSAN 1
#endif
#endif

int fs_mutex_lock(pthread_mutex_t *mu, uint64_t deadline)
{
#ifdef FS_TSAN
    /* ThreadSanitizer does not intercept pthread_mutex_clocklock, so it
     * would see the unlock of a lock it never saw taken: under it, try and
     * back off to the same deadline instead (robust results as usual). */
    unsigned round = 0;
    for (;;) {
        int rc = pthread_mutex_trylock(mu);
        if (rc != EBUSY)
            return rc;
        if (backoff(&round, deadline) != 0)
            return ETIMEDOUT;
    }
#else
    struct timespec ts = {(time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u)};
    int rc;
    while ((rc = pthread_mutex_clocklock(mu, CLOCK_MONOTONIC, &ts)) == EINTR)
        ;
    return rc;
#endif
}

int fs_flock(int fd, int op, uint64_t deadline)
{
    unsigned round = 0;
    for (;;) {
        if (flock(fd, op | LOCK_NB) == 0)
            return 0;
        int e = errno;
        if (e != EWOULDBLOCK && e != EINTR)
            return e;
        if (e == EWOULDBLOCK && backoff(&round, deadline) != 0)
            return ETIMEDOUT;
    }
}

int fs_ofd_lock(int fd, short type, off_t start, uint64_t deadline)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = 1;
    unsigned round = 0;
    for (;;) {
        if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
            return 0;
        int e = errno;
        if (e != EAGAIN && e != EACCES && e != EINTR)
            return e;
        if (e != EINTR && backoff(&round, deadline) != 0)
            return ETIMEDOUT;
    }
}

void fs_ofd_unlock(int fd, off_t start)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_UNLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = 1;
    fcntl(fd, F_OFD_SETLK, &fl);
}


/* Create a new temporary file in dfd; its name goes to tmp (64 bytes). */
int fs_create_tmp(acp_backend *b, int dfd, const char *tag, char *tmp, int flags)
{
    for (int tries = 0; tries < 100; tries++) {
        unsigned long n = __atomic_add_fetch(&b->tmp_counter, 1, __ATOMIC_RELAXED);
        snprintf(tmp, 64, FILE_TMP_PREFIX "%s%ld-%lu-%llx", tag, (long)getpid(), n,
                 (unsigned long long)(mono_ns() & 0xffffffffu));
        int fd = openat(dfd, tmp, flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}


/* ---- stripe locks ------------------------------------------------------------ */

/* FNV-1a, not the host's keyed hash: every process must lock the same
 * byte for an id.  Ids that share a stripe share a lock, no lookup. */
unsigned doc_stripe_of(char kind, const char *name, size_t len)
{
    uint32_t h = 2166136261u ^ (unsigned char)kind;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 16777619u;
    return h % FILE_NSTRIPES;
}

/* In-process mutex first: OFD locks exclude other open files, not other
 * threads using the same one.  Both waits end at the call's deadline. */
acp_status doc_lock(acp_backend *b, unsigned s, acp_call *call)
{
    uint64_t dl = fs_deadline(b, call);
    int e = fs_mutex_lock(&b->stripes[s], dl);
    if (e == 0) {
        e = fs_ofd_lock(b->lock_fd, F_WRLCK, (off_t)(LOCK_DOC_BASE + s), dl);
        if (e != 0)
            pthread_mutex_unlock(&b->stripes[s]);
    }
    if (e != 0)
        return file_err(b, call, ACP_IO, "", "lock", "cannot lock", e);
    return ACP_OK;
}

void doc_unlock(acp_backend *b, unsigned s)
{
    fs_ofd_unlock(b->lock_fd, (off_t)(LOCK_DOC_BASE + s));
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
