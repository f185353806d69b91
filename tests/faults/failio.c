/* SPDX-License-Identifier: MIT */
/*
 * failio.c - an LD_PRELOAD interposer that fails the n-th write, fsync,
 * rename or open under one directory with a chosen errno (ENOSPC, EIO, ...).
 * What it intercepts and how it is controlled: failio.h.
 *
 * Every wrapper first decides, then calls the real function found with
 * dlsym(RTLD_NEXT).  Only calls on files under the configured directory
 * are counted or failed, so the loader, libc's own files and sockets are
 * never touched.  The library is built without sanitizers in mind: an
 * ASan build refuses any LD_PRELOAD that comes before its runtime.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "failio.h"

#define EXPORT __attribute__((visibility("default")))

enum { K_WRITE, K_FSYNC, K_RENAME, K_OPEN, K_N };
static const char *const kind_names[K_N] = {"write", "fsync", "rename", "open"};

/* Set before the calls it governs (at load, or by the test between
 * operations), so a plain buffer is enough. */
static char dir[PATH_MAX];
static size_t dirlen;
static int report_fd = -1; /* FAILIO_REPORT: where the counts go at exit */

static atomic_int armed_kind = -1;
static atomic_long armed_nth;
static atomic_int armed_err = ENOSPC;
static atomic_int armed_flags;
static atomic_long counts[K_N];
static atomic_long fired;
static atomic_int short_pending; /* FAILIO_SHORT: the next write fails */

/* ------------------------------------------------------------------ */
/* The real functions                                                   */
/* ------------------------------------------------------------------ */

#define REAL(name, type)                                                                           \
    static type real_##name;                                                                       \
    static type get_##name(void)                                                                   \
    {                                                                                              \
        if (!real_##name)                                                                          \
            real_##name = (type)dlsym(RTLD_NEXT, #name);                                           \
        return real_##name;                                                                        \
    }

typedef ssize_t (*write_t)(int, const void *, size_t);
typedef ssize_t (*pwrite_t)(int, const void *, size_t, off_t);
typedef ssize_t (*writev_t)(int, const struct iovec *, int);
typedef ssize_t (*pwritev_t)(int, const struct iovec *, int, off_t);
typedef int (*fd_t)(int);
typedef int (*rename_t)(const char *, const char *);
typedef int (*renameat_t)(int, const char *, int, const char *);
typedef int (*renameat2_t)(int, const char *, int, const char *, unsigned);
typedef int (*open_t)(const char *, int, ...);
typedef int (*openat_t)(int, const char *, int, ...);
typedef int (*creat_t)(const char *, mode_t);
typedef int (*open2_t)(const char *, int);
typedef int (*openat2_t)(int, const char *, int);

REAL(write, write_t)
REAL(pwrite, pwrite_t)
REAL(pwrite64, pwrite_t)
REAL(writev, writev_t)
REAL(pwritev, pwritev_t)
REAL(pwritev64, pwritev_t)
REAL(fsync, fd_t)
REAL(fdatasync, fd_t)
REAL(syncfs, fd_t)
REAL(rename, rename_t)
REAL(renameat, renameat_t)
REAL(renameat2, renameat2_t)
REAL(open, open_t)
REAL(open64, open_t)
REAL(openat, openat_t)
REAL(openat64, openat_t)
REAL(creat, creat_t)
REAL(creat64, creat_t)
REAL(__open_2, open2_t)
REAL(__open64_2, open2_t)
REAL(__openat_2, openat2_t)
REAL(__openat64_2, openat2_t)

/* ------------------------------------------------------------------ */
/* Which calls count                                                    */
/* ------------------------------------------------------------------ */

static int under(const char *path)
{
    return dirlen > 0 && strncmp(path, dir, dirlen) == 0 &&
           (path[dirlen] == '/' || path[dirlen] == '\0');
}

static int fd_path(int fd, char *out, size_t outsz)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, outsz - 1);
    if (n < 0)
        return -1;
    out[n] = '\0';
    return 0;
}

static int under_fd(int fd)
{
    char path[PATH_MAX];
    if (dirlen == 0)
        return 0;
    int saved = errno;
    int r = fd_path(fd, path, sizeof path) == 0 && under(path);
    errno = saved;
    return r;
}

static int under_at(int dirfd, const char *path)
{
    char base[PATH_MAX], full[2 * PATH_MAX + 2];
    if (dirlen == 0 || !path)
        return 0;
    if (path[0] == '/')
        return under(path);
    int saved = errno, r = 0;
    if (dirfd == AT_FDCWD ? getcwd(base, sizeof base) != NULL
                          : fd_path(dirfd, base, sizeof base) == 0) {
        snprintf(full, sizeof full, "%s/%s", base, path);
        r = under(full);
    }
    errno = saved;
    return r;
}

/* Count a matching call; the errno to fail it with, or 0.  *short_write
 * is set when a write should write part of its bytes instead. */
static int decide(int kind, int matches, int *short_write)
{
    if (!matches)
        return 0;
    long c = atomic_fetch_add(&counts[kind], 1) + 1;
    if (atomic_load(&armed_kind) != kind)
        return 0;
    int err = atomic_load(&armed_err), flags = atomic_load(&armed_flags);
    if (kind == K_WRITE && atomic_exchange(&short_pending, 0)) {
        atomic_fetch_add(&fired, 1);
        return err;
    }
    long nth = atomic_load(&armed_nth);
    if (nth <= 0 || c < nth || (c > nth && !(flags & FAILIO_STICKY)))
        return 0;
    if (c == nth && kind == K_WRITE && (flags & FAILIO_SHORT) && short_write) {
        *short_write = 1;
        atomic_store(&short_pending, 1);
        return 0;
    }
    atomic_fetch_add(&fired, 1);
    return err;
}

/* A failed short write would be a lie: when the call cannot be made
 * shorter (one byte), it fails at once. */
static int short_fail(void)
{
    atomic_store(&short_pending, 0);
    atomic_fetch_add(&fired, 1);
    return atomic_load(&armed_err);
}

/* ------------------------------------------------------------------ */
/* Writes                                                               */
/* ------------------------------------------------------------------ */

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
    int sh = 0, e = decide(K_WRITE, under_fd(fd), &sh);
    if (!e && sh) {
        if (n > 1)
            return get_write()(fd, buf, n / 2);
        e = short_fail();
    }
    if (e) {
        errno = e;
        return -1;
    }
    return get_write()(fd, buf, n);
}

static ssize_t do_pwrite(pwrite_t real, int fd, const void *buf, size_t n, off_t off)
{
    int sh = 0, e = decide(K_WRITE, under_fd(fd), &sh);
    if (!e && sh) {
        if (n > 1)
            return real(fd, buf, n / 2, off);
        e = short_fail();
    }
    if (e) {
        errno = e;
        return -1;
    }
    return real(fd, buf, n, off);
}

EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    return do_pwrite(get_pwrite(), fd, buf, n, off);
}

EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
    return do_pwrite(get_pwrite64(), fd, buf, n, off);
}

/* The first half of the bytes of iov, in at most 64 pieces; 0 when that
 * cannot be done (then the call fails instead). */
static int half_iov(const struct iovec *iov, int cnt, struct iovec *out)
{
    size_t total = 0;
    for (int i = 0; i < cnt; i++)
        total += iov[i].iov_len;
    size_t want = total / 2;
    int k = 0;
    for (int i = 0; i < cnt && want > 0; i++) {
        if (k == 64)
            return 0;
        out[k] = iov[i];
        if (out[k].iov_len > want)
            out[k].iov_len = want;
        want -= out[k].iov_len;
        k++;
    }
    return total > 1 ? k : 0;
}

static ssize_t do_writev(int fd, const struct iovec *iov, int cnt, off_t off, pwritev_t pv)
{
    int sh = 0, e = decide(K_WRITE, under_fd(fd), &sh);
    struct iovec half[64];
    if (!e && sh) {
        int k = half_iov(iov, cnt, half);
        if (k > 0)
            return pv ? pv(fd, half, k, off) : get_writev()(fd, half, k);
        e = short_fail();
    }
    if (e) {
        errno = e;
        return -1;
    }
    return pv ? pv(fd, iov, cnt, off) : get_writev()(fd, iov, cnt);
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    return do_writev(fd, iov, cnt, 0, NULL);
}

EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    return do_writev(fd, iov, cnt, off, get_pwritev());
}

EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
    return do_writev(fd, iov, cnt, off, get_pwritev64());
}

/* ------------------------------------------------------------------ */
/* Flushes                                                              */
/* ------------------------------------------------------------------ */

static int do_sync(fd_t real, int fd)
{
    int e = decide(K_FSYNC, under_fd(fd), NULL);
    if (e) {
        errno = e;
        return -1;
    }
    return real(fd);
}

EXPORT int fsync(int fd)
{
    return do_sync(get_fsync(), fd);
}

EXPORT int fdatasync(int fd)
{
    return do_sync(get_fdatasync(), fd);
}

EXPORT int syncfs(int fd)
{
    return do_sync(get_syncfs(), fd);
}

/* ------------------------------------------------------------------ */
/* Renames                                                              */
/* ------------------------------------------------------------------ */

EXPORT int rename(const char *from, const char *to)
{
    int e = decide(K_RENAME, under_at(AT_FDCWD, from) || under_at(AT_FDCWD, to), NULL);
    if (e) {
        errno = e;
        return -1;
    }
    return get_rename()(from, to);
}

EXPORT int renameat(int fromfd, const char *from, int tofd, const char *to)
{
    int e = decide(K_RENAME, under_at(fromfd, from) || under_at(tofd, to), NULL);
    if (e) {
        errno = e;
        return -1;
    }
    return get_renameat()(fromfd, from, tofd, to);
}

EXPORT int renameat2(int fromfd, const char *from, int tofd, const char *to, unsigned flags)
{
    int e = decide(K_RENAME, under_at(fromfd, from) || under_at(tofd, to), NULL);
    if (e) {
        errno = e;
        return -1;
    }
    return get_renameat2()(fromfd, from, tofd, to, flags);
}

/* ------------------------------------------------------------------ */
/* Opens                                                                */
/* ------------------------------------------------------------------ */

static int wants_mode(int flags)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

#define OPEN_MODE(flags, last)                                                                     \
    mode_t mode = 0;                                                                               \
    if (wants_mode(flags)) {                                                                       \
        va_list ap;                                                                                \
        va_start(ap, last);                                                                        \
        mode = (mode_t)va_arg(ap, int);                                                            \
        va_end(ap);                                                                                \
    }

static int open_fails(int dirfd, const char *path)
{
    int e = decide(K_OPEN, under_at(dirfd, path), NULL);
    if (e)
        errno = e;
    return e;
}

EXPORT int open(const char *path, int flags, ...)
{
    OPEN_MODE(flags, flags)
    if (open_fails(AT_FDCWD, path))
        return -1;
    return get_open()(path, flags, mode);
}

EXPORT int open64(const char *path, int flags, ...)
{
    OPEN_MODE(flags, flags)
    if (open_fails(AT_FDCWD, path))
        return -1;
    return get_open64()(path, flags, mode);
}

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
    OPEN_MODE(flags, flags)
    if (open_fails(dirfd, path))
        return -1;
    return get_openat()(dirfd, path, flags, mode);
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
    OPEN_MODE(flags, flags)
    if (open_fails(dirfd, path))
        return -1;
    return get_openat64()(dirfd, path, flags, mode);
}

EXPORT int creat(const char *path, mode_t mode)
{
    if (open_fails(AT_FDCWD, path))
        return -1;
    return get_creat()(path, mode);
}

EXPORT int creat64(const char *path, mode_t mode)
{
    if (open_fails(AT_FDCWD, path))
        return -1;
    return get_creat64()(path, mode);
}

/* What calls of open() become under _FORTIFY_SOURCE. */
EXPORT int __open_2(const char *path, int flags);
EXPORT int __open64_2(const char *path, int flags);
EXPORT int __openat_2(int dirfd, const char *path, int flags);
EXPORT int __openat64_2(int dirfd, const char *path, int flags);

EXPORT int __open_2(const char *path, int flags)
{
    if (open_fails(AT_FDCWD, path))
        return -1;
    return get___open_2()(path, flags);
}

EXPORT int __open64_2(const char *path, int flags)
{
    if (open_fails(AT_FDCWD, path))
        return -1;
    return get___open64_2()(path, flags);
}

EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
    if (open_fails(dirfd, path))
        return -1;
    return get___openat_2()(dirfd, path, flags);
}

EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
    if (open_fails(dirfd, path))
        return -1;
    return get___openat64_2()(dirfd, path, flags);
}

/* ------------------------------------------------------------------ */
/* Control                                                              */
/* ------------------------------------------------------------------ */

static int kind_of(const char *call)
{
    for (int k = 0; call && k < K_N; k++)
        if (strcmp(call, kind_names[k]) == 0)
            return k;
    return -1;
}

EXPORT int failio_set_dir(const char *d)
{
    if (!d) {
        dirlen = 0;
        return 0;
    }
    size_t n = strlen(d);
    while (n > 1 && d[n - 1] == '/')
        n--;
    if (d[0] != '/' || n >= sizeof dir)
        return -1;
    memcpy(dir, d, n);
    dir[n] = '\0';
    dirlen = n;
    return 0;
}

EXPORT int failio_arm(const char *call, long nth, int err, int flags)
{
    int k = kind_of(call);
    if (k < 0)
        return -1;
    atomic_store(&armed_kind, -1);
    for (int i = 0; i < K_N; i++)
        atomic_store(&counts[i], 0);
    atomic_store(&fired, 0);
    atomic_store(&short_pending, 0);
    atomic_store(&armed_nth, nth);
    atomic_store(&armed_err, err);
    atomic_store(&armed_flags, flags);
    atomic_store(&armed_kind, k);
    return 0;
}

EXPORT void failio_disarm(void)
{
    atomic_store(&armed_kind, -1);
    atomic_store(&short_pending, 0);
}

EXPORT long failio_count(const char *call)
{
    int k = kind_of(call);
    return k < 0 ? -1 : atomic_load(&counts[k]);
}

EXPORT long failio_fired(void)
{
    return atomic_load(&fired);
}

static int parse_errno(const char *s)
{
    static const struct {
        const char *name;
        int value;
    } names[] = {{"ENOSPC", ENOSPC}, {"EIO", EIO}, {"EDQUOT", EDQUOT}, {"EROFS", EROFS},
                 {"EACCES", EACCES}, {"EMFILE", EMFILE}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0)
            return names[i].value;
    int v = atoi(s);
    return v > 0 ? v : ENOSPC;
}

static int env_flag(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

__attribute__((constructor)) static void failio_init(void)
{
    const char *d = getenv("FAILIO_DIR"), *call = getenv("FAILIO_CALL");
    const char *nth = getenv("FAILIO_NTH"), *err = getenv("FAILIO_ERRNO");
    if (d && failio_set_dir(d) != 0)
        fprintf(stderr, "failio: FAILIO_DIR must be an absolute path: %s\n", d);
    /* A copy of stderr (or the named file), made now: programs such as
     * coreutils close stderr before the destructors run. */
    const char *rep = getenv("FAILIO_REPORT");
    if (rep && rep[0] == '/')
        report_fd = get_open()(rep, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    else if (env_flag("FAILIO_REPORT"))
        report_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
    if (call) {
        int flags = (env_flag("FAILIO_STICKY") ? FAILIO_STICKY : 0) |
                    (env_flag("FAILIO_SHORT") ? FAILIO_SHORT : 0);
        if (failio_arm(call, nth ? atol(nth) : 0, err ? parse_errno(err) : ENOSPC, flags) != 0)
            fprintf(stderr, "failio: FAILIO_CALL must be write, fsync, rename or open: %s\n",
                    call);
    }
}

__attribute__((destructor)) static void failio_fini(void)
{
    if (report_fd < 0)
        return;
    dprintf(report_fd,
            "failio: pid %ld under %s: write %ld, fsync %ld, rename %ld, open %ld calls; "
            "%ld failed\n",
            (long)getpid(), dirlen ? dir : "(no FAILIO_DIR)", atomic_load(&counts[K_WRITE]),
            atomic_load(&counts[K_FSYNC]), atomic_load(&counts[K_RENAME]),
            atomic_load(&counts[K_OPEN]), atomic_load(&fired));
    close(report_fd);
}
