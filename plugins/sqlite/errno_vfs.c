/* SPDX-License-Identifier: MIT */
/*
 * errno_vfs.c - a thin SQLite VFS that records the errno of a failed file
 * operation, so that the sqlite backend's messages name the real reason.
 * See errno_vfs.h.
 */
#define _POSIX_C_SOURCE 200809L

#include "errno_vfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

/* SQLite reads errno only for IOERR and CANTOPEN, and only after the fact,
 * when later calls may have replaced it (a failed open reports a stale
 * ENOENT, a full disk no reason at all).  A thin VFS around the default one
 * records errno the moment a file operation fails, in a thread-local int
 * that every operation clears first (sq_get, sq_conn_open): sq_fail then
 * names the real reason.
 *
 * The unix VFS also retries a failed read-write open read-only and reports
 * success; every later write then fails with "attempt to write a readonly
 * database".  Handles opened read-write use the "strict" registration, whose
 * xOpen refuses such a fallback as the open failure it is (database, WAL or
 * journal alike); mode=ro handles use the other one, where a read-only WAL
 * is legitimate.  Both are registered once per process, never as default. */

/* initial-exec: in a dlopen'ed module the default model allocates the
 * variable on a thread's first access, and glibc aborts when that malloc
 * fails; an int fits the static surplus glibc keeps for such modules. */
static _Thread_local int sq_errno __attribute__((tls_model("initial-exec")));

typedef struct sq_file {
    sqlite3_file base;  /* pMethods: one of sq_io[] */
    sqlite3_file *real; /* the wrapped VFS's file, right after this header */
    const char *name;   /* valid while open (SQLite's promise); NULL for temp files */
    int strict;         /* opened through the read-write registration */
} sq_file;

#define SQ_REAL(f) (((sq_file *)(f))->real)

/* Remember errno when rc is a failure; a short read is the normal end of a
 * file, not a failure. */
static int sq_note(int rc)
{
    if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ && rc != SQLITE_BUSY && errno != 0)
        sq_errno = errno;
    return rc;
}

static int sq_io_close(sqlite3_file *f)
{
    sqlite3_file *r = SQ_REAL(f);
    int rc = r->pMethods ? r->pMethods->xClose(r) : SQLITE_OK;
    f->pMethods = NULL;
    return rc;
}
static int sq_io_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
    sqlite3_file *r = SQ_REAL(f);
    return sq_note(r->pMethods->xRead(r, buf, n, off));
}
static int sq_io_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
    sqlite3_file *r = SQ_REAL(f);
    return sq_note(r->pMethods->xWrite(r, buf, n, off));
}
static int sq_io_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    sqlite3_file *r = SQ_REAL(f);
    return sq_note(r->pMethods->xTruncate(r, size));
}
static int sq_io_sync(sqlite3_file *f, int flags)
{
    sqlite3_file *r = SQ_REAL(f);
    return sq_note(r->pMethods->xSync(r, flags));
}
static int sq_io_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    sqlite3_file *r = SQ_REAL(f);
    return sq_note(r->pMethods->xFileSize(r, size));
}
static int sq_io_lock(sqlite3_file *f, int lock)
{
    sqlite3_file *r = SQ_REAL(f);
    return r->pMethods->xLock(r, lock);
}
static int sq_io_unlock(sqlite3_file *f, int lock)
{
    sqlite3_file *r = SQ_REAL(f);
    return r->pMethods->xUnlock(r, lock);
}
static int sq_io_check_reserved(sqlite3_file *f, int *out)
{
    sqlite3_file *r = SQ_REAL(f);
    return r->pMethods->xCheckReservedLock(r, out);
}
static int sq_io_file_control(sqlite3_file *f, int op, void *arg)
{
    sqlite3_file *r = SQ_REAL(f);
    return r->pMethods->xFileControl(r, op, arg);
}
static int sq_io_sector_size(sqlite3_file *f)
{
    sqlite3_file *r = SQ_REAL(f);
    return r->pMethods->xSectorSize(r);
}
static int sq_io_device_characteristics(sqlite3_file *f)
{
    sqlite3_file *r = SQ_REAL(f);
    return r->pMethods->xDeviceCharacteristics(r);
}
static int sq_io_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **pp)
{
    sqlite3_file *r = SQ_REAL(f);
    const sq_file *w = (const sq_file *)f;
    int rc = r->pMethods->xShmMap(r, region, size, extend, pp);
    char shm[PATH_MAX];
    struct stat db;
    int fd;

    /* Opening the -shm file has the same read-only retry as xOpen (see
     * sq_vfs_open), and SQLite cleans up after it: probe, retry once. */
    if ((rc & 0xff) != SQLITE_CANTOPEN || errno != ENOENT || !w->strict || w->name == NULL ||
        snprintf(shm, sizeof shm, "%s-shm", w->name) >= (int)sizeof shm ||
        stat(w->name, &db) != 0)
        return sq_note(rc);
    fd = open(shm, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, db.st_mode & 0777);
    if (fd < 0)
        return sq_note(rc);
    close(fd);
    return sq_note(r->pMethods->xShmMap(r, region, size, extend, pp));
}
static int sq_io_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    sqlite3_file *r = SQ_REAL(f);
    return r->pMethods->xShmLock(r, offset, n, flags);
}
static void sq_io_shm_barrier(sqlite3_file *f)
{
    sqlite3_file *r = SQ_REAL(f);
    r->pMethods->xShmBarrier(r);
}
static int sq_io_shm_unmap(sqlite3_file *f, int delete_flag)
{
    sqlite3_file *r = SQ_REAL(f);
    return r->pMethods->xShmUnmap(r, delete_flag);
}
static int sq_io_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
    sqlite3_file *r = SQ_REAL(f);
    return sq_note(r->pMethods->xFetch(r, off, n, pp));
}
static int sq_io_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    sqlite3_file *r = SQ_REAL(f);
    return r->pMethods->xUnfetch(r, off, p);
}

/* One table per io_methods version: SQLite decides from iVersion whether
 * shared memory (2) and memory mapping (3) may be used, so a wrapped file
 * must offer exactly what the real one does. */
#define SQ_IO_V1                                                                         \
    sq_io_close, sq_io_read, sq_io_write, sq_io_truncate, sq_io_sync, sq_io_file_size,   \
        sq_io_lock, sq_io_unlock, sq_io_check_reserved, sq_io_file_control,              \
        sq_io_sector_size, sq_io_device_characteristics
#define SQ_IO_V2 sq_io_shm_map, sq_io_shm_lock, sq_io_shm_barrier, sq_io_shm_unmap
static const sqlite3_io_methods sq_io[3] = {
    {1, SQ_IO_V1, NULL, NULL, NULL, NULL, NULL, NULL},
    {2, SQ_IO_V1, SQ_IO_V2, NULL, NULL},
    {3, SQ_IO_V1, SQ_IO_V2, sq_io_fetch, sq_io_unfetch},
};

static sqlite3_vfs sq_vfs_lax;    /* mode=ro handles */
static sqlite3_vfs sq_vfs_strict; /* read-write handles: no read-only fallback */
static sqlite3_vfs sq_vfs_guest;  /* mode=ro handles that must not create files */

static int sq_vfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
                       int *out_flags)
{
    sqlite3_vfs *base = vfs->pAppData;
    sqlite3_file *r = (sqlite3_file *)((sq_file *)f + 1);
    int got = 0, rc, e;

    ((sq_file *)f)->real = r;
    ((sq_file *)f)->name = name;
    ((sq_file *)f)->strict = vfs == &sq_vfs_strict;
    f->pMethods = NULL;
    /* A guest opens the database, its WAL and journal read-only and never
     * creates them: a file it created would belong to it, and its owner
     * could not open it read-write afterwards.  (Temporary files, which
     * have no name, are its own.) */
    if (vfs == &sq_vfs_guest && name != NULL &&
        (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL))) {
        flags &= ~(SQLITE_OPEN_CREATE | SQLITE_OPEN_READWRITE);
        flags |= SQLITE_OPEN_READONLY;
    }
    errno = 0;
    rc = base->xOpen(base, name, r, flags, &got);
    e = errno;
    /* A failed O_CREAT open is retried read-only, which fails with ENOENT
     * and hides the reason.  Creating the file ourselves (what SQLite was
     * about to do; it fixes the mode of an empty file on its next open)
     * gives that reason; if it works, the failure has passed: once more. */
    if (rc != SQLITE_OK && e == ENOENT && vfs == &sq_vfs_strict && name != NULL &&
        (flags & SQLITE_OPEN_CREATE) && (flags & SQLITE_OPEN_READWRITE)) {
        int fd = open(name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        e = errno;
        if (fd >= 0) {
            close(fd);
            if (r->pMethods != NULL)
                r->pMethods->xClose(r);
            r->pMethods = NULL;
            got = 0;
            errno = 0;
            rc = base->xOpen(base, name, r, flags, &got);
            e = errno;
        }
    }
    if (rc == SQLITE_OK && vfs == &sq_vfs_strict && (flags & SQLITE_OPEN_READWRITE) &&
        (got & SQLITE_OPEN_READONLY))
        rc = SQLITE_CANTOPEN; /* the read-write open failed with errno e */
    if (rc != SQLITE_OK) {
        if (e != 0)
            sq_errno = e;
        if (r->pMethods != NULL)
            r->pMethods->xClose(r);
        return rc;
    }
    if (out_flags != NULL)
        *out_flags = got;
    if (r->pMethods == NULL) /* cannot happen after OK; keep xClose safe */
        return SQLITE_OK;
    f->pMethods = &sq_io[r->pMethods->iVersion >= 3 ? 2 : r->pMethods->iVersion <= 1 ? 0 : 1];
    return SQLITE_OK;
}

#define SQ_BASE(v) ((sqlite3_vfs *)(v)->pAppData)
static int sq_vfs_delete(sqlite3_vfs *v, const char *name, int sync_dir)
{
    return sq_note(SQ_BASE(v)->xDelete(SQ_BASE(v), name, sync_dir));
}
static int sq_vfs_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
    return sq_note(SQ_BASE(v)->xAccess(SQ_BASE(v), name, flags, out));
}
static int sq_vfs_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
    return sq_note(SQ_BASE(v)->xFullPathname(SQ_BASE(v), name, n, out));
}
static void *sq_vfs_dlopen(sqlite3_vfs *v, const char *name)
{
    return SQ_BASE(v)->xDlOpen(SQ_BASE(v), name);
}
static void sq_vfs_dlerror(sqlite3_vfs *v, int n, char *msg)
{
    SQ_BASE(v)->xDlError(SQ_BASE(v), n, msg);
}
static void (*sq_vfs_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
    return SQ_BASE(v)->xDlSym(SQ_BASE(v), h, sym);
}
static void sq_vfs_dlclose(sqlite3_vfs *v, void *h)
{
    SQ_BASE(v)->xDlClose(SQ_BASE(v), h);
}
static int sq_vfs_randomness(sqlite3_vfs *v, int n, char *out)
{
    return SQ_BASE(v)->xRandomness(SQ_BASE(v), n, out);
}
static int sq_vfs_sleep(sqlite3_vfs *v, int us)
{
    return SQ_BASE(v)->xSleep(SQ_BASE(v), us);
}
static int sq_vfs_current_time(sqlite3_vfs *v, double *out)
{
    return SQ_BASE(v)->xCurrentTime(SQ_BASE(v), out);
}
static int sq_vfs_get_last_error(sqlite3_vfs *v, int n, char *out)
{
    return SQ_BASE(v)->xGetLastError ? SQ_BASE(v)->xGetLastError(SQ_BASE(v), n, out) : 0;
}
static int sq_vfs_current_time_int64(sqlite3_vfs *v, sqlite3_int64 *out)
{
    return SQ_BASE(v)->xCurrentTimeInt64(SQ_BASE(v), out);
}
static int sq_vfs_set_system_call(sqlite3_vfs *v, const char *name, sqlite3_syscall_ptr p)
{
    return SQ_BASE(v)->xSetSystemCall(SQ_BASE(v), name, p);
}
static sqlite3_syscall_ptr sq_vfs_get_system_call(sqlite3_vfs *v, const char *name)
{
    return SQ_BASE(v)->xGetSystemCall(SQ_BASE(v), name);
}
static const char *sq_vfs_next_system_call(sqlite3_vfs *v, const char *name)
{
    return SQ_BASE(v)->xNextSystemCall(SQ_BASE(v), name);
}

static pthread_once_t sq_vfs_once = PTHREAD_ONCE_INIT;
static int sq_vfs_ok;

/* Copy base's shape into v; the optional methods exist only where base has
 * them, so iVersion stays base's. */
static int sq_vfs_init(sqlite3_vfs *v, sqlite3_vfs *base, const char *name)
{
    memset(v, 0, sizeof *v);
    v->iVersion = base->iVersion > 3 ? 3 : base->iVersion;
    v->szOsFile = (int)sizeof(sq_file) + base->szOsFile;
    v->mxPathname = base->mxPathname;
    v->zName = name;
    v->pAppData = base;
    v->xOpen = sq_vfs_open;
    v->xDelete = sq_vfs_delete;
    v->xAccess = sq_vfs_access;
    v->xFullPathname = sq_vfs_full_pathname;
    v->xDlOpen = base->xDlOpen ? sq_vfs_dlopen : NULL;
    v->xDlError = base->xDlError ? sq_vfs_dlerror : NULL;
    v->xDlSym = base->xDlSym ? sq_vfs_dlsym : NULL;
    v->xDlClose = base->xDlClose ? sq_vfs_dlclose : NULL;
    v->xRandomness = sq_vfs_randomness;
    v->xSleep = sq_vfs_sleep;
    v->xCurrentTime = sq_vfs_current_time;
    v->xGetLastError = sq_vfs_get_last_error;
    if (v->iVersion >= 2)
        v->xCurrentTimeInt64 = base->xCurrentTimeInt64 ? sq_vfs_current_time_int64 : NULL;
    if (v->iVersion >= 3) {
        v->xSetSystemCall = base->xSetSystemCall ? sq_vfs_set_system_call : NULL;
        v->xGetSystemCall = base->xGetSystemCall ? sq_vfs_get_system_call : NULL;
        v->xNextSystemCall = base->xNextSystemCall ? sq_vfs_next_system_call : NULL;
    }
    return sqlite3_vfs_register(v, 0);
}

static void sq_vfs_register(void)
{
    sqlite3_vfs *base = sqlite3_vfs_find(NULL);

    if (base == NULL)
        return;
    if (sq_vfs_init(&sq_vfs_lax, base, "acp-storage-errno") != SQLITE_OK)
        return;
    if (sq_vfs_init(&sq_vfs_strict, base, "acp-storage-errno-rw") != SQLITE_OK) {
        sqlite3_vfs_unregister(&sq_vfs_lax);
        return;
    }
    if (sq_vfs_init(&sq_vfs_guest, base, "acp-storage-errno-guest") != SQLITE_OK) {
        sqlite3_vfs_unregister(&sq_vfs_strict);
        sqlite3_vfs_unregister(&sq_vfs_lax);
        return;
    }
    sq_vfs_ok = 1;
}

const char *sq_vfs_name(int mode)
{
    pthread_once(&sq_vfs_once, sq_vfs_register);
    if (!sq_vfs_ok)
        return NULL;
    return mode == SQ_VFS_GUEST ? sq_vfs_guest.zName
           : mode == SQ_VFS_RO  ? sq_vfs_lax.zName
                                : sq_vfs_strict.zName;
}

void sq_errno_clear(void)
{
    sq_errno = 0;
}

int sq_errno_last(void)
{
    return sq_errno;
}
