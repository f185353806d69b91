/*
 * file.c - the file backend ("file:///srv/acp", "file:rel/dir").
 *
 * A store is a directory of plain files (README.md in this folder is the
 * operator's description):
 *
 *   FORMAT              format name and version
 *   lock                locks: a table of process-shared mutexes for event
 *                       logs (events.c) and byte-range locks for documents
 *   index.log           append-only log of (run, agent, session, created)
 *                       and session ids, replayed into memory (index.c)
 *   runs/<name>.json    one run per file, replaced atomically
 *   sessions/<name>.json
 *   events/<name>.log   one append-only log of framed records per run
 *
 * Documents are written to a temporary file, flushed, renamed over the old
 * one and the directory flushed (sync=always), so a reader sees the old
 * or the new file, never a mix.  Each save then appends a record to
 * index.log; index.log is only a cache of what the documents say, so it is
 * never flushed: when the store is opened, the directory listing is
 * compared with the index (by inode number, which every rename changes)
 * and whatever a crash or a restore from backup left behind is re-read
 * from the documents.  The index record, and the in-memory entry it makes,
 * are built before the rename or unlink: once a document has changed, no
 * lack of memory and no failure of index.log can fail the call any more
 * (see idx_publish).  Saves and deletes of one id are
 * serialised across processes by an OFD lock on one byte of `lock` (a
 * stripe of ids), so the last record in index.log for an id always
 * describes its current file.
 *
 * Every process replays what others append to index.log (it checks the
 * size on each list call and reads only the new tail), so lists see other
 * processes' saves.  When index.log grows to several times what its live
 * entries need, the appending process rewrites it (compaction); others
 * notice the replaced file (link count 0) and reload.
 */
#define _GNU_SOURCE /* F_OFD_SETLKW, strerror_r returning char * */

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
#define FORMAT_VERSION 1
/* Compact index.log once it exceeds this and twice its live size. */
#define COMPACT_MIN_BYTES (1u << 20)
/* Temporary files younger than this are left alone: their writer may be
 * between creating and locking them. */
#define TMP_MIN_AGE_S 60
/* runs/<name>.deleting: a delete_run under way (see f_delete_run). */
#define INTENT_EXT FILE_INTENT_EXT

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
static int read_file_at(int dfd, const char *name, char **out, size_t *len, uint64_t *ino)
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
static int create_tmp(acp_backend *b, int dfd, const char *tag, char *tmp, int flags)
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

static void ext_name(char *out, const char *name, size_t nlen, const char *ext)
{
    memcpy(out, name, nlen);
    strcpy(out + nlen, ext);
}

/* ---- stripe locks ------------------------------------------------------------ */

static unsigned stripe_of(char kind, const char *name, size_t len)
{
    uint32_t h = 2166136261u ^ (unsigned char)kind;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 16777619u;
    return h % FILE_NSTRIPES;
}

/* In-process mutex first: OFD locks exclude other open files, not other
 * threads using the same one. */
static acp_status stripe_lock(acp_backend *b, unsigned s, acp_call *call)
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

static void stripe_unlock(acp_backend *b, unsigned s)
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

/* ---- documents ------------------------------------------------------------------ */

/* A document on its way to dfd/fname: written (and flushed, sync=always)
 * to a temporary file that is not in place yet. */
typedef struct staged_doc {
    int fd;
    char tmp[64];
    uint64_t ino; /* the inode number the document will have */
} staged_doc;

/* Write content to a new temporary file in dfd. */
static acp_status doc_stage(acp_backend *b, int dfd, const char *sub, const char *fname,
                            const fbuf *content, staged_doc *sd, acp_call *call)
{
    sd->fd = create_tmp(b, dfd, "", sd->tmp, O_WRONLY);
    if (sd->fd < 0)
        return file_err(b, call, ACP_IO, sub, fname, "cannot create a temporary file for",
                        errno);
    /* Locked while in use, so that a cleaner in another process skips it. */
    flock(sd->fd, LOCK_EX);
    const char *what = "cannot write";
    int err = file_write_all(sd->fd, content->p, content->len);
    if (!err && b->sync && fdatasync(sd->fd) != 0) {
        err = errno;
        what = "cannot flush";
    }
    struct stat st;
    if (!err && fstat(sd->fd, &st) != 0)
        err = errno;
    if (err) {
        unlinkat(dfd, sd->tmp, 0);
        close(sd->fd);
        sd->fd = -1;
        return file_err(b, call, ACP_IO, sub, fname, what, err);
    }
    sd->ino = (uint64_t)st.st_ino;
    return ACP_OK;
}

static void doc_abandon(int dfd, staged_doc *sd)
{
    unlinkat(dfd, sd->tmp, 0);
    close(sd->fd);
    sd->fd = -1;
}

/* Rename the staged document over dfd/fname: the save happens here, whole,
 * or (on failure) not at all. */
static acp_status doc_commit(acp_backend *b, int dfd, const char *sub, const char *fname,
                             staged_doc *sd, acp_call *call)
{
    if (renameat(dfd, sd->tmp, dfd, fname) != 0) {
        int e = errno;
        doc_abandon(dfd, sd);
        return file_err(b, call, ACP_IO, sub, fname, "cannot rename a temporary file to", e);
    }
    close(sd->fd);
    sd->fd = -1;
    return ACP_OK;
}

/* ---- index.log --------------------------------------------------------------------- */

static acp_status idx_nomem(acp_backend *b, acp_call *call)
{
    return b->host->error(call, ACP_NOMEM, "out of memory reading %s/index.log", b->path);
}

/* Apply one record (with its '\n') to the in-memory index.  0, -1 for a
 * damaged record, -2 when out of memory. */
static int idx_apply(acp_backend *b, char *rec, size_t len)
{
    fmt_index_rec r;
    const char *why;
    if (fmt_get_index(rec, len, &r, &why) != 0)
        return -1;
    if (r.id.len == 0 || r.id.len > 256 || memchr(r.id.p, '\0', r.id.len))
        return -1;
    char name[FMT_NAME_BUF];
    size_t nlen = fmt_id_name(r.id.p, r.id.len, name);
    switch (r.op) {
    case FMT_OP_RUN:
        return idx_put_run(&b->ix, name, nlen, r.id.p, r.id.len, r.agent.p, r.agent.len,
                           r.session.p, r.session.len, r.created_us, r.ino, (uint32_t)len)
                   ? -2
                   : 0;
    case FMT_OP_DELRUN:
        idx_del_run(&b->ix, name, nlen);
        return 0;
    case FMT_OP_SESSION:
        return idx_put_session(&b->ix, name, nlen, r.id.p, r.id.len, r.ino, (uint32_t)len)
                   ? -2
                   : 0;
    default:
        idx_del_session(&b->ix, name, nlen);
        return 0;
    }
}

/* (Re)open index.log and forget what was read from the old one.  On
 * failure nothing changed: the old descriptor and index stay usable. */
static acp_status idx_reopen(acp_backend *b, acp_call *call)
{
    findex nix;
    if (idx_init(&nix) != 0)
        return idx_nomem(b, call);
    int fd = b->ro_errno ? openat(b->dirfd, "index.log", O_RDONLY | O_CLOEXEC)
                         : openat(b->dirfd, "index.log", O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC,
                                  0644);
    if (fd < 0 && !(b->ro_errno && errno == ENOENT)) {
        int e = errno;
        idx_free(&nix);
        return file_err(b, call, ACP_IO, "", "index.log", "cannot open", e);
    }
    if (b->idx_fd >= 0)
        close(b->idx_fd);
    b->idx_fd = fd;
    idx_free(&b->ix);
    b->ix = nix;
    b->idx_end = 0;
    return ACP_OK;
}

/* Whether a valid record starts on a line after buf[0..n). */
static int idx_valid_after(char *buf, size_t n)
{
    char *p = memchr(buf, '\n', n);
    while (p && p + 1 < buf + n) {
        char *s = p + 1, *nl = memchr(s, '\n', (size_t)(buf + n - s));
        if (!nl)
            return 0;
        fmt_index_rec r;
        const char *why;
        if (fmt_get_index(s, (size_t)(nl - s + 1), &r, &why) == 0)
            return 1;
        p = nl;
    }
    return 0;
}

/*
 * Apply what was appended to index.log since idx_end (idx_mu held).
 * `locked`: the caller holds LOCK_EX, so nothing is being appended and
 * bytes after the last whole record are the torn tail of a writer that
 * died; they are cut off.  Without the lock such bytes may be an append in
 * progress and are left for the next call.
 */
static acp_status idx_tail(acp_backend *b, int locked, acp_call *call)
{
    struct stat st;
    int shared = 0;
    acp_status s = ACP_OK;
    for (;;) {
        if (b->idx_fd < 0) {
            if ((s = idx_reopen(b, call)) != ACP_OK || b->idx_fd < 0)
                return s;
        }
        if (fstat(b->idx_fd, &st) != 0)
            return file_err(b, call, ACP_IO, "", "index.log", "cannot stat", errno);
        if (st.st_nlink == 0 || (uint64_t)st.st_size < b->idx_end) {
            /* Compacted by another process (or cut by hand): reload. */
            if ((s = idx_reopen(b, call)) != ACP_OK)
                break;
            continue;
        }
        if ((uint64_t)st.st_size == b->idx_end)
            break;
        size_t n = (size_t)((uint64_t)st.st_size - b->idx_end);
        char *buf = malloc(n);
        if (!buf) {
            s = idx_nomem(b, call);
            break;
        }
        size_t got = 0;
        while (got < n) {
            ssize_t r = pread(b->idx_fd, buf + got, n - got, (off_t)(b->idx_end + got));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        size_t pos = 0;
        int rc = 0;
        while (pos < got) {
            char *nl = memchr(buf + pos, '\n', got - pos);
            if (!nl)
                break;
            size_t len = (size_t)(nl - (buf + pos)) + 1;
            if ((rc = idx_apply(b, buf + pos, len)) != 0)
                break;
            pos += len;
        }
        b->idx_end += pos;
        int damaged = rc == -1 && idx_valid_after(buf + pos, got - pos);
        free(buf);
        if (rc == -2) {
            s = idx_nomem(b, call);
            break;
        }
        if (damaged) {
            if (!locked && !shared) {
                /* Perhaps a torn tail being replaced: look again while
                 * appenders are kept out. */
                while (flock(b->idx_fd, LOCK_SH) != 0 && errno == EINTR)
                    ;
                shared = 1;
                continue;
            }
            s = b->host->error(call, ACP_CORRUPT,
                               "%s/index.log: damaged record at offset %llu; remove index.log "
                               "and reopen the store to rebuild it from the documents",
                               b->path, (unsigned long long)b->idx_end);
            break;
        }
        if (pos < got && locked && !b->ro_errno) {
            if (ftruncate(b->idx_fd, (off_t)b->idx_end) != 0) {
                s = file_err(b, call, ACP_IO, "", "index.log", "cannot cut the torn tail of",
                             errno);
                break;
            }
            b->host->log(2, FILE_PLUGIN, "%s/index.log: removed a torn record at offset %llu",
                         b->path, (unsigned long long)b->idx_end);
        }
        break;
    }
    if (shared)
        flock(b->idx_fd, LOCK_UN);
    return s;
}

typedef struct compact_ctx {
    fbuf out;
} compact_ctx;

static int compact_run(irun *r, void *arg)
{
    compact_ctx *c = arg;
    size_t start = c->out.len;
    fmt_index_rec rec = {FMT_OP_RUN, {r->key.id, r->key.id_len},
                         {r->agent->text, r->agent->text_len},
                         {r->session ? r->session->text : NULL,
                          r->session ? r->session->text_len : 0},
                         r->key.created_us, r->ino};
    fmt_put_index(&c->out, &rec);
    r->rec_len = (uint32_t)(c->out.len - start);
    return c->out.failed;
}

static int compact_session(isession *s, void *arg)
{
    compact_ctx *c = arg;
    size_t start = c->out.len;
    fmt_index_rec rec = {FMT_OP_SESSION, {s->key.id, s->key.id_len}, {NULL, 0}, {NULL, 0}, 0,
                         s->ino};
    fmt_put_index(&c->out, &rec);
    s->rec_len = (uint32_t)(c->out.len - start);
    return c->out.failed;
}

/* Rewrite index.log with one record per live entry (idx_mu and LOCK_EX on
 * the old file held).  Failures only leave the old log in place. */
static void idx_compact(acp_backend *b)
{
    compact_ctx c = {{0}};
    if (idx_each_run(&b->ix, compact_run, &c) || idx_each_session(&b->ix, compact_session, &c)) {
        fbuf_free(&c.out);
        return;
    }
    char tmp[64];
    int fd = create_tmp(b, b->dirfd, "index-", tmp, O_RDWR | O_APPEND);
    int err = fd < 0 ? errno : 0;
    if (!err)
        flock(fd, LOCK_EX);
    if (!err)
        err = file_write_all(fd, c.out.p, c.out.len);
    /* Flushed whatever sync says: the rename below replaces the only copy. */
    if (!err && fdatasync(fd) != 0)
        err = errno;
    if (!err && renameat(b->dirfd, tmp, b->dirfd, "index.log") != 0)
        err = errno;
    if (err) {
        b->host->log(1, FILE_PLUGIN, "%s/index.log: compaction failed: %s", b->path,
                     strerror(err));
        if (fd >= 0) {
            unlinkat(b->dirfd, tmp, 0);
            close(fd);
        }
        fbuf_free(&c.out);
        /* rec_len values now describe the unwritten log: only a heuristic */
        return;
    }
    fsync(b->dirfd);
    close(b->idx_fd); /* releases the old file's lock: waiters find it unlinked */
    b->idx_fd = fd;
    b->idx_end = c.out.len;
    b->ix.live_bytes = c.out.len;
    fbuf_free(&c.out);
}

/* The end of the last whole record of index.log (LOCK_EX held, the bytes
 * before idx_end applied, perhaps more not yet): a torn tail that a writer
 * which died left after it is cut off, so that a record appended next
 * starts on a line of its own.  0, or an errno. */
static int idx_whole_end(acp_backend *b, uint64_t *end)
{
    struct stat st;
    if (fstat(b->idx_fd, &st) != 0)
        return errno;
    uint64_t size = (uint64_t)st.st_size, at = size;
    char chunk[512];
    /* Back from the end to the last newline (idx_end is a record
     * boundary). */
    while (at > b->idx_end) {
        size_t n = at - b->idx_end < sizeof chunk ? (size_t)(at - b->idx_end) : sizeof chunk;
        ssize_t r = pread(b->idx_fd, chunk, n, (off_t)(at - n));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno;
        if ((size_t)r != n)
            return EIO; /* cut meanwhile: not while LOCK_EX is held */
        const char *nl = memrchr(chunk, '\n', n);
        if (nl) {
            at = at - n + (uint64_t)(nl - chunk) + 1;
            break;
        }
        at -= n;
    }
    if (at < size) {
        if (ftruncate(b->idx_fd, (off_t)at) != 0)
            return errno;
        b->host->log(2, FILE_PLUGIN, "%s/index.log: removed a torn record at offset %llu",
                     b->path, (unsigned long long)at);
    }
    *end = at;
    return 0;
}

/*
 * Record a change that has already reached the disk (a document renamed
 * or removed): append rec to index.log and apply c to this handle's index.
 * Nothing here fails the operation, which has happened; c was prepared
 * before the change, so applying it cannot fail either.  What can go
 * wrong degrades as follows:
 *  - records of other processes cannot be caught up (out of memory): rec
 *    is appended after them all the same and applied, in file order, by
 *    the next idx_tail(), which every list calls first;
 *  - index.log cannot take rec (full disk, damaged log): this handle's
 *    index still gets the change, and the next open, which compares the
 *    documents with index.log, re-reads the document and repairs the log.
 */
static void idx_publish(acp_backend *b, const fbuf *rec, idx_change *c)
{
    pthread_mutex_lock(&b->idx_mu);
    const char *why = NULL;
    int err = 0, locked = 0;
    acp_status s = ACP_OK;
    for (;;) {
        if (b->idx_fd < 0 && (s = idx_reopen(b, NULL)) != ACP_OK) {
            why = "cannot reopen it";
            goto apply;
        }
        while (flock(b->idx_fd, LOCK_EX) != 0) {
            if (errno != EINTR) {
                err = errno;
                why = "cannot lock it";
                goto apply;
            }
        }
        locked = 1;
        struct stat st;
        if (fstat(b->idx_fd, &st) != 0) {
            err = errno;
            why = "cannot stat it";
            goto apply;
        }
        if (st.st_nlink > 0)
            break;
        flock(b->idx_fd, LOCK_UN); /* compacted by another process: the new file */
        locked = 0;
        if ((s = idx_reopen(b, NULL)) != ACP_OK) {
            why = "cannot reopen it";
            goto apply;
        }
    }
    s = idx_tail(b, 1, NULL);
    if (s == ACP_CORRUPT) {
        /* The next open sets the damaged log aside and rebuilds it. */
        why = "it is damaged";
        goto apply;
    }
    int caught_up = s == ACP_OK;
    uint64_t end = b->idx_end;
    if (!caught_up && (err = idx_whole_end(b, &end)) != 0) {
        why = "cannot find its end";
        goto apply;
    }
    if ((err = file_write_all(b->idx_fd, rec->p, rec->len)) != 0) {
        if (ftruncate(b->idx_fd, (off_t)end) != 0)
            b->host->log(1, FILE_PLUGIN, "%s/index.log: cannot cut a failed append: %s",
                         b->path, strerror(errno));
        why = "cannot append to it";
        goto apply;
    }
    if (caught_up) {
        idx_commit(&b->ix, c);
        b->idx_end += rec->len;
        if (b->idx_end > COMPACT_MIN_BYTES && b->idx_end / 2 > b->ix.live_bytes)
            idx_compact(b);
    } else {
        b->host->log(2, FILE_PLUGIN, "%s/index.log: cannot catch up with other processes' "
                     "records yet; a change is left for the next catch-up", b->path);
    }
    flock(b->idx_fd, LOCK_UN);
    idx_change_free(c);
    pthread_mutex_unlock(&b->idx_mu);
    return;

apply:
    if (locked)
        flock(b->idx_fd, LOCK_UN);
    idx_commit(&b->ix, c);
    b->host->log(1, FILE_PLUGIN, "%s/index.log: %s%s%s; this process's index has the change, "
                 "the next open of the store repairs index.log",
                 b->path, why, err ? ": " : "", err ? strerror(err) : "");
    pthread_mutex_unlock(&b->idx_mu);
}

/* Build the index.log record of x and the change it makes to the index in
 * memory, for idx_publish() once the change has reached the disk.  name:
 * the file name of x's id, valid until then.  OK, or NOMEM with nothing
 * held. */
static acp_status idx_prepare(acp_backend *b, const fmt_index_rec *x, const char *name,
                              size_t nlen, fbuf *rec, idx_change *c, acp_call *call)
{
    memset(c, 0, sizeof *c);
    fmt_put_index(rec, x);
    int bad = rec->failed;
    if (!bad) {
        uint32_t len = (uint32_t)rec->len;
        switch (x->op) {
        case FMT_OP_RUN:
            bad = idx_prepare_run(c, name, nlen, x->id.p, x->id.len, x->agent.p, x->agent.len,
                                  x->session.p, x->session.len, x->created_us, x->ino, len);
            break;
        case FMT_OP_SESSION:
            bad = idx_prepare_session(c, name, nlen, x->id.p, x->id.len, x->ino, len);
            break;
        case FMT_OP_DELRUN:
            idx_prepare_del(c, IDX_DEL_RUN, name, nlen);
            break;
        default:
            idx_prepare_del(c, IDX_DEL_SESSION, name, nlen);
            break;
        }
    }
    if (bad) {
        fbuf_free(rec);
        return b->host->error(call, ACP_NOMEM, "out of memory updating %s/index.log", b->path);
    }
    return ACP_OK;
}

/* After open-time repairs (a restored backup re-adds every entry), rewrite
 * index.log if it has grown past 1.5 times its live size, so that the next
 * open reads half as much.  Best effort. */
static void idx_compact_if_bloated(acp_backend *b, acp_call *call)
{
    pthread_mutex_lock(&b->idx_mu);
    if (b->idx_fd >= 0 && b->idx_end > COMPACT_MIN_BYTES &&
        b->idx_end > b->ix.live_bytes + b->ix.live_bytes / 2 &&
        flock(b->idx_fd, LOCK_EX) == 0) {
        struct stat st;
        if (fstat(b->idx_fd, &st) == 0 && st.st_nlink > 0 && idx_tail(b, 1, call) == ACP_OK)
            idx_compact(b);
        flock(b->idx_fd, LOCK_UN);
    }
    pthread_mutex_unlock(&b->idx_mu);
}

/* ---- repairs: bring the index in line with the documents ---------------------- */

enum { K_RUN = 'r', K_SESSION = 's' };

/* Make index.log describe dfd/<base>.json as it is now (stripe lock taken
 * here).  Damaged files are left out of the index with a warning: reading
 * them reports CORRUPT. */
static acp_status repair_one(acp_backend *b, int kind, const char *base, size_t blen,
                             acp_call *call)
{
    int dfd = kind == K_RUN ? b->runs_fd : b->sess_fd;
    const char *sub = kind == K_RUN ? "runs/" : "sessions/";
    char fname[FMT_NAME_BUF + 8];
    ext_name(fname, base, blen, ".json");
    unsigned sp = stripe_of((char)kind, base, blen);
    acp_status s = stripe_lock(b, sp, call);
    if (s != ACP_OK)
        return s;

    /* What the index says now. */
    char id[ACP_FILE_ID_MAX + 1];
    size_t id_len = 0;
    int have = 0;
    uint64_t ino = 0;
    pthread_mutex_lock(&b->idx_mu);
    s = idx_tail(b, 0, call);
    if (kind == K_RUN) {
        irun *r = idx_run(&b->ix, base, blen);
        if (r) {
            have = 1;
            ino = r->ino;
            id_len = r->key.id_len;
            memcpy(id, r->key.id, id_len);
        }
    } else {
        isession *e = idx_session(&b->ix, base, blen);
        if (e) {
            have = 1;
            ino = e->ino;
            id_len = e->key.id_len;
            memcpy(id, e->key.id, id_len);
        }
    }
    pthread_mutex_unlock(&b->idx_mu);
    if (s != ACP_OK)
        goto out;

    char *buf = NULL;
    size_t len = 0;
    uint64_t fino = 0;
    int err = read_file_at(dfd, fname, &buf, &len, &fino);
    fbuf rec = {0};
    if (err == ENOENT) {
        if (have) {
            fmt_index_rec d = {kind == K_RUN ? FMT_OP_DELRUN : FMT_OP_DELSESSION,
                               {id, id_len}, {NULL, 0}, {NULL, 0}, 0, 0};
            idx_change c;
            if ((s = idx_prepare(b, &d, base, blen, &rec, &c, call)) == ACP_OK)
                idx_publish(b, &rec, &c);
        }
    } else if (err) {
        s = file_err(b, call, err == ENOMEM ? ACP_NOMEM : ACP_IO, sub, fname, "cannot read",
                     err);
    } else if (!(have && fino == ino)) {
        const char *why = NULL;
        char nm[FMT_NAME_BUF];
        fmt_index_rec put = {0};
        put.ino = fino;
        if (kind == K_RUN) {
            fmt_run r;
            if (fmt_get_run(buf, len, &r, &why) == 0) {
                put.op = FMT_OP_RUN;
                put.id = r.id;
                put.agent = r.agent;
                put.session = r.session;
                put.created_us = r.created_us;
            }
        } else {
            fmt_session se;
            if (fmt_get_session(buf, len, &se, &why) == 0) {
                put.op = FMT_OP_SESSION;
                put.id = se.id;
            }
        }
        if (put.op && (put.id.len == 0 || put.id.len > ACP_FILE_ID_MAX ||
                       fmt_id_name(put.id.p, put.id.len, nm) != blen ||
                       memcmp(nm, base, blen) != 0)) {
            put.op = 0;
            why = "the id inside does not belong to this file name";
        }
        if (put.op) {
            idx_change c;
            if ((s = idx_prepare(b, &put, base, blen, &rec, &c, call)) == ACP_OK)
                idx_publish(b, &rec, &c);
        } else {
            b->host->log(1, FILE_PLUGIN, "%s/%s%s: damaged (%s); left out of the index",
                         b->path, sub, fname, why);
        }
    }
    fbuf_free(&rec);
    free(buf);
out:
    stripe_unlock(b, sp);
    return s;
}

/* Remove a temporary file left by a writer that died. */
static void clean_tmp(acp_backend *b, int dfd, const char *name)
{
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
        return;
    if (time(NULL) - st.st_mtime < TMP_MIN_AGE_S)
        return;
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
        if (unlinkat(dfd, name, 0) == 0)
            b->host->log(2, FILE_PLUGIN, "%s: removed leftover temporary file %s", b->path,
                         name);
    }
    close(fd);
}

typedef struct namelist {
    char **v;
    size_t n, cap;
    int failed;
} namelist;

static void nl_add(namelist *l, const char *s, size_t len)
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

static void nl_free(namelist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

typedef struct unmarked_ctx {
    uint32_t gen;
    namelist *out;
} unmarked_ctx;

static int unmarked_run(irun *r, void *arg)
{
    unmarked_ctx *c = arg;
    if (r->mark != c->gen)
        nl_add(c->out, irun_name(r), r->link.key_len);
    return 0;
}

static int unmarked_session(isession *s, void *arg)
{
    unmarked_ctx *c = arg;
    if (s->mark != c->gen)
        nl_add(c->out, isession_name(s), s->link.key_len);
    return 0;
}

static DIR *open_dir(int dfd)
{
    int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    DIR *d = fdopendir(fd);
    if (!d)
        close(fd);
    return d;
}

static acp_status finish_leftover_locking(acp_backend *b, const char *name, size_t nlen,
                                          acp_call *call);

/* Compare one document directory with the index and repair differences;
 * in runs/, finish the deletes that a crash interrupted. */
static acp_status check_dir(acp_backend *b, int kind, acp_call *call)
{
    int dfd = kind == K_RUN ? b->runs_fd : b->sess_fd;
    const char *sub = kind == K_RUN ? "runs/" : "sessions/";
    DIR *d = open_dir(dfd);
    if (!d)
        return file_err(b, call, ACP_IO, sub, "", "cannot list", errno);
    namelist suspects = {0}, tmps = {0}, intents = {0};
    pthread_mutex_lock(&b->idx_mu);
    uint32_t gen = ++b->scan_gen;
    acp_status s = idx_tail(b, 0, call);
    struct dirent *de;
    while (s == ACP_OK && (errno = 0, de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        size_t len = strlen(nm);
        if (strncmp(nm, FILE_TMP_PREFIX, strlen(FILE_TMP_PREFIX)) == 0) {
            nl_add(&tmps, nm, len);
            continue;
        }
        size_t il = strlen(INTENT_EXT);
        if (kind == K_RUN && len > il && nm[0] != '.' && strcmp(nm + len - il, INTENT_EXT) == 0) {
            nl_add(&intents, nm, len - il);
            continue;
        }
        if (len <= 5 || nm[0] == '.' || strcmp(nm + len - 5, ".json") != 0)
            continue;
        size_t blen = len - 5;
        uint64_t ino = 0;
        uint32_t *mark = NULL;
        if (kind == K_RUN) {
            irun *r = idx_run(&b->ix, nm, blen);
            if (r) {
                ino = r->ino;
                mark = &r->mark;
            }
        } else {
            isession *e = idx_session(&b->ix, nm, blen);
            if (e) {
                ino = e->ino;
                mark = &e->mark;
            }
        }
        if (mark) {
            *mark = gen; /* seen: not a missing file */
            struct stat st;
            /* d_ino may differ from st_ino on some file systems (overlay):
             * confirm a mismatch with stat before re-reading the file. */
            if ((uint64_t)de->d_ino == ino ||
                (fstatat(dfd, nm, &st, AT_SYMLINK_NOFOLLOW) == 0 && (uint64_t)st.st_ino == ino))
                continue;
        }
        nl_add(&suspects, nm, blen);
    }
    if (s == ACP_OK && errno != 0)
        s = file_err(b, call, ACP_IO, sub, "", "cannot list", errno);
    if (s == ACP_OK) {
        unmarked_ctx uc = {gen, &suspects};
        if (kind == K_RUN)
            idx_each_run(&b->ix, unmarked_run, &uc);
        else
            idx_each_session(&b->ix, unmarked_session, &uc);
    }
    pthread_mutex_unlock(&b->idx_mu);
    closedir(d);
    if (s == ACP_OK && (suspects.failed || tmps.failed || intents.failed))
        s = b->host->error(call, ACP_NOMEM, "out of memory checking %s/%s", b->path, sub);
    if (s == ACP_OK && suspects.n)
        b->host->log(2, FILE_PLUGIN, "%s/%s: %zu file(s) differ from index.log; updating it",
                     b->path, sub, suspects.n);
    for (size_t i = 0; s == ACP_OK && i < suspects.n; i++)
        s = repair_one(b, kind, suspects.v[i], strlen(suspects.v[i]), call);
    for (size_t i = 0; s == ACP_OK && i < tmps.n; i++)
        clean_tmp(b, dfd, tmps.v[i]);
    for (size_t i = 0; s == ACP_OK && i < intents.n; i++) {
        /* The store stays usable when this fails: readers treat the run as
         * deleted, and the next open tries again. */
        if (finish_leftover_locking(b, intents.v[i], strlen(intents.v[i]), NULL) != ACP_OK)
            b->host->log(1, FILE_PLUGIN, "%s/runs/%s" INTENT_EXT ": cannot finish an "
                         "interrupted delete yet",
                         b->path, intents.v[i]);
    }
    nl_free(&suspects);
    nl_free(&tmps);
    nl_free(&intents);
    return s;
}

/* A damaged index.log is set aside (for the operator) and rebuilt from the
 * documents by check_dir(). */
static acp_status idx_set_aside(acp_backend *b, acp_call *call)
{
    pthread_mutex_lock(&b->idx_mu);
    acp_status s = ACP_OK;
    while (flock(b->idx_fd, LOCK_EX) != 0 && errno == EINTR)
        ;
    struct stat st;
    if (fstat(b->idx_fd, &st) == 0 && st.st_nlink > 0) {
        char aside[64];
        snprintf(aside, sizeof aside, "index.log.damaged-%lld", (long long)time(NULL));
        if (renameat(b->dirfd, "index.log", b->dirfd, aside) != 0)
            s = file_err(b, call, ACP_IO, "", "index.log", "cannot set aside damaged", errno);
        else
            b->host->log(1, FILE_PLUGIN, "%s/index.log was damaged: kept as %s, rebuilding",
                         b->path, aside);
    }
    flock(b->idx_fd, LOCK_UN);
    if (s == ACP_OK)
        s = idx_reopen(b, call);
    pthread_mutex_unlock(&b->idx_mu);
    return s;
}

/* ---- opening --------------------------------------------------------------------- */

static int is_store_entry(const char *nm)
{
    static const char *const known[] = {"FORMAT", "index.log", "lock", "runs",
                                        "sessions", "events", "lost+found", NULL};
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
    return ACP_OK;
bad:
    return b->host->error(call, ACP_CORRUPT,
                          "%s/FORMAT: not an acp-storage file store format file", b->path);
}

static acp_status check_format(acp_backend *b, acp_call *call)
{
    char *buf = NULL;
    size_t len = 0;
    int err = read_file_at(b->dirfd, "FORMAT", &buf, &len, NULL);
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
    DIR *d = open_dir(b->dirfd);
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
    int fd = create_tmp(b, b->dirfd, "format-", tmp, O_WRONLY);
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
    err = read_file_at(b->dirfd, "FORMAT", &buf, &len, NULL);
    if (err)
        return file_err(b, call, ACP_IO, "", "FORMAT", "cannot read", err);
    acp_status s = check_format_text(b, buf, len, call);
    free(buf);
    return s;
}

static acp_status open_subdir(acp_backend *b, const char *name, int *fd, acp_call *call)
{
    if (mkdirat(b->dirfd, name, 0777) != 0 && errno != EEXIST && !b->ro_errno)
        return file_err(b, call, ACP_IO, "", name, "cannot create directory", errno);
    *fd = openat(b->dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*fd < 0)
        return file_err(b, call, ACP_IO, "", name, "cannot open directory", errno);
    return ACP_OK;
}

static void f_close(acp_backend *b)
{
    if (!b)
        return;
    ev_close_all(b);
    ev_lock_table_close(b);
    idx_free(&b->ix);
    int fds[] = {b->dirfd, b->runs_fd, b->sess_fd, b->ev_fd, b->lock_fd, b->idx_fd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    for (int i = 0; i < FILE_NSTRIPES; i++)
        pthread_mutex_destroy(&b->stripes[i]);
    pthread_mutex_destroy(&b->idx_mu);
    pthread_mutex_destroy(&b->logs_mu);
    free(b->path);
    free(b);
}

static acp_status f_open(const acp_plugin_host *host, const acp_open_args *args,
                         acp_backend **out, acp_call *call)
{
    int sync = 1, create = 1;
    if (args->variant[0])
        return host->error(call, ACP_INVALID, "file: unknown variant '+%s' (file: takes none)",
                           args->variant);
    for (size_t i = 0; i < args->n_options; i++) {
        const acp_plugin_option *o = &args->options[i];
        if (strcmp(o->key, "create") == 0) {
            create = strcmp(o->value, "false") != 0; /* the core checked the value */
        } else if (strcmp(o->key, "sync") == 0) {
            if (strcmp(o->value, "always") == 0)
                sync = 1;
            else if (strcmp(o->value, "none") == 0)
                sync = 0;
            else
                return host->error(call, ACP_INVALID,
                                   "file: option sync must be \"always\" or \"none\", not "
                                   "\"%s\"",
                                   o->value);
        }
    }
    if (args->authority[0] && strcmp(args->authority, "localhost") != 0)
        return host->error(call, ACP_INVALID,
                           "file: a store on another host (%s) is not supported; use "
                           "file:///path or file:relative/path",
                           args->authority);
    if (!args->path[0])
        return host->error(call, ACP_INVALID,
                           "file: no directory given; use file:///abs/dir or file:rel/dir");

    acp_backend *b = calloc(1, sizeof *b);
    if (!b || !(b->path = strdup(args->path)) || idx_init(&b->ix) != 0 ||
        hmap_init(&b->metas) != 0) {
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
    b->dirfd = b->runs_fd = b->sess_fd = b->ev_fd = b->lock_fd = b->idx_fd = -1;
    for (int i = 0; i < FILE_NSTRIPES; i++)
        pthread_mutex_init(&b->stripes[i], NULL);
    pthread_mutex_init(&b->idx_mu, NULL);
    pthread_mutex_init(&b->logs_mu, NULL);

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
        b->lock_fd = openat(b->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (b->lock_fd < 0) {
            if (errno == EACCES || errno == EROFS || errno == EPERM)
                b->ro_errno = errno; /* still readable */
            else
                s = file_err(b, call, ACP_IO, "", "lock", "cannot open", errno);
        } else {
            s = ev_lock_table_open(b, call);
        }
    }
    if (s == ACP_OK)
        s = open_subdir(b, "runs", &b->runs_fd, call);
    if (s == ACP_OK)
        s = open_subdir(b, "sessions", &b->sess_fd, call);
    if (s == ACP_OK)
        s = open_subdir(b, "events", &b->ev_fd, call);
    if (s == ACP_OK)
        s = idx_reopen(b, call);
    if (s == ACP_OK) {
        pthread_mutex_lock(&b->idx_mu);
        s = idx_tail(b, 0, call);
        pthread_mutex_unlock(&b->idx_mu);
        if (s == ACP_CORRUPT && !b->ro_errno)
            s = idx_set_aside(b, call);
    }
    if (s == ACP_OK && !b->ro_errno) {
        s = check_dir(b, K_RUN, call);
        if (s == ACP_OK)
            s = check_dir(b, K_SESSION, call);
        if (s == ACP_OK)
            idx_compact_if_bloated(b, call);
        if (s == ACP_OK) {
            DIR *d = open_dir(b->dirfd);
            struct dirent *de;
            namelist tmps = {0};
            while (d && (de = readdir(d)) != NULL)
                if (strncmp(de->d_name, FILE_TMP_PREFIX, strlen(FILE_TMP_PREFIX)) == 0)
                    nl_add(&tmps, de->d_name, strlen(de->d_name));
            if (d)
                closedir(d);
            for (size_t i = 0; i < tmps.n; i++)
                clean_tmp(b, b->dirfd, tmps.v[i]);
            nl_free(&tmps);
        }
    }
    if (s != ACP_OK) {
        f_close(b);
        return s;
    }
    *out = b;
    return ACP_OK;
}

static acp_status f_ping(acp_backend *b, acp_call *call)
{
    struct stat st;
    if (fstatat(b->dirfd, "FORMAT", &st, 0) != 0)
        return file_err(b, call, ACP_IO, "", "FORMAT", "cannot stat", errno);
    return ACP_OK;
}

/* ---- runs ------------------------------------------------------------------------- */

/* Read and check a document file; on success *buf holds it (to free). */
static acp_status load_doc(acp_backend *b, int kind, const char *id, size_t id_len,
                           const char *fname, char **buf, fmt_run *run, fmt_session *ses,
                           acp_call *call)
{
    int dfd = kind == K_RUN ? b->runs_fd : b->sess_fd;
    const char *sub = kind == K_RUN ? "runs/" : "sessions/";
    size_t len;
    int err = read_file_at(dfd, fname, buf, &len, NULL);
    if (err == ENOENT)
        return b->host->error(call, ACP_NOT_FOUND, "%s %s not found",
                              kind == K_RUN ? "run" : "session", id);
    if (err)
        return file_err(b, call, err == ENOMEM ? ACP_NOMEM : ACP_IO, sub, fname, "cannot read",
                        err);
    const char *why = NULL;
    fstr fid = {0};
    int bad;
    if (kind == K_RUN) {
        bad = fmt_get_run(*buf, len, run, &why);
        fid = run->id;
    } else {
        bad = fmt_get_session(*buf, len, ses, &why);
        fid = ses->id;
    }
    if (!bad && (fid.len != id_len || memcmp(fid.p, id, id_len) != 0)) {
        bad = 1;
        why = "it holds another id";
    }
    if (bad) {
        free(*buf);
        *buf = NULL;
        return b->host->error(call, ACP_CORRUPT, "%s/%s%s: damaged %s file (%s)", b->path, sub,
                              fname, kind == K_RUN ? "run" : "session", why);
    }
    return ACP_OK;
}

static acp_status finish_leftover(acp_backend *b, const char *name, size_t nlen,
                                  acp_call *call);

/* Put doc in place as sub/fname and record it in the index (x, whose ino
 * this fills in), under the caller's stripe lock.  Everything the index
 * needs is allocated before the rename: once the document is in place,
 * nothing can make the call fail for lack of memory; only the directory
 * flush (sync=always) can still fail it, with IO. */
static acp_status doc_save_indexed(acp_backend *b, int dfd, const char *sub, const char *fname,
                                   const fbuf *doc, fmt_index_rec *x, const char *name,
                                   size_t nlen, const char *what, acp_call *call)
{
    if (doc->failed)
        return b->host->error(call, ACP_NOMEM, "out of memory saving %s %.*s", what,
                              (int)x->id.len, x->id.p);
    fbuf ir = {0};
    idx_change c;
    staged_doc sd;
    acp_status s = doc_stage(b, dfd, sub, fname, doc, &sd, call);
    if (s != ACP_OK)
        return s;
    x->ino = sd.ino;
    if ((s = idx_prepare(b, x, name, nlen, &ir, &c, call)) != ACP_OK)
        doc_abandon(dfd, &sd);
    else if ((s = doc_commit(b, dfd, sub, fname, &sd, call)) != ACP_OK)
        idx_change_free(&c);
    else {
        idx_publish(b, &ir, &c);
        if (b->sync && fsync(dfd) != 0)
            s = file_err(b, call, ACP_IO, sub, "", "cannot flush directory", errno);
    }
    fbuf_free(&ir);
    return s;
}

static acp_status f_save_run(acp_backend *b, const acp_run_record *rec, acp_call *call)
{
    if (b->ro_errno)
        return file_readonly(b, call);
    char name[FMT_NAME_BUF], fname[FMT_NAME_BUF + 8];
    size_t nlen = fmt_id_name(rec->run_id, rec->run_id_len, name);
    ext_name(fname, name, nlen, ".json");
    unsigned sp = stripe_of(K_RUN, name, nlen);
    acp_status s = stripe_lock(b, sp, call);
    if (s != ACP_OK)
        return s;
    /* A delete left half done ends before the run starts afresh: later, its
     * intent would remove the new run's events. */
    if ((s = finish_leftover(b, name, nlen, call)) != ACP_OK) {
        stripe_unlock(b, sp);
        return s;
    }

    int64_t created = rec->created_us;
    if (rec->flags & ACP_RUN_CREATED_DEFAULT) {
        /* Keep the time of the first save; a damaged old file is replaced. */
        char *old = NULL;
        size_t olen;
        fmt_run r;
        const char *why;
        int err = read_file_at(b->runs_fd, fname, &old, &olen, NULL);
        if (err == ENOMEM) {
            stripe_unlock(b, sp);
            return b->host->error(call, ACP_NOMEM, "out of memory saving run %s", rec->run_id);
        }
        if (err == 0 && fmt_get_run(old, olen, &r, &why) == 0 && r.id.len == rec->run_id_len &&
            memcmp(r.id.p, rec->run_id, r.id.len) == 0)
            created = r.created_us;
        free(old);
    }
    fmt_run r = {{rec->run_id, rec->run_id_len},
                 {rec->agent_name, rec->agent_name_len},
                 {rec->session_id, rec->session_id ? rec->session_id_len : 0},
                 created,
                 {rec->doc, rec->doc_len}};
    fbuf doc = {0};
    fmt_put_run(&doc, &r);
    fmt_index_rec x = {FMT_OP_RUN, r.id, r.agent, r.session, created, 0};
    s = doc_save_indexed(b, b->runs_fd, "runs/", fname, &doc, &x, name, nlen, "run", call);
    fbuf_free(&doc);
    stripe_unlock(b, sp);
    return s;
}

static acp_status f_get_run(acp_backend *b, const char *run_id, acp_call *call)
{
    char name[FMT_NAME_BUF + 8];
    size_t id_len = strlen(run_id);
    size_t nlen = fmt_id_name(run_id, id_len, name);
    strcpy(name + nlen, ".json");
    char *buf = NULL;
    fmt_run r;
    acp_status s = load_doc(b, K_RUN, run_id, id_len, name, &buf, &r, NULL, call);
    if (s != ACP_OK)
        return s;
    acp_item it = {0};
    it.doc = r.doc.p;
    it.doc_len = r.doc.len;
    it.key = run_id;
    it.created_us = r.created_us;
    if (b->host->emit(call, &it) != 0)
        s = b->host->error(call, ACP_NOMEM, "out of memory returning run %s", run_id);
    free(buf);
    return s;
}

/* Remove dfd/fname; *existed says whether it was there. */
static acp_status remove_file(acp_backend *b, int dfd, const char *sub, const char *fname,
                              int *existed, acp_call *call)
{
    *existed = 0;
    if (unlinkat(dfd, fname, 0) == 0) {
        *existed = 1;
        if (b->sync && fsync(dfd) != 0)
            return file_err(b, call, ACP_IO, sub, "", "cannot flush directory", errno);
        return ACP_OK;
    }
    if (errno == ENOENT)
        return ACP_OK;
    return file_err(b, call, ACP_IO, sub, fname, "cannot remove", errno);
}

/* The delete record for name and the change it makes to the index,
 * prepared before the delete touches the disk (see idx_publish).  id NULL:
 * the id the index has for name; when it has none, c is empty.  *listed
 * says whether the index lists name (or might: it could not catch up),
 * and so whether a delete that finds nothing must still be recorded. */
static acp_status forget_prepare(acp_backend *b, int kind, const char *id, size_t id_len,
                                 const char *name, size_t nlen, fbuf *rec, idx_change *c,
                                 int *listed, acp_call *call)
{
    char idb[ACP_FILE_ID_MAX + 1];
    memset(c, 0, sizeof *c);
    pthread_mutex_lock(&b->idx_mu);
    acp_status s = idx_tail(b, 0, id ? NULL : call);
    const tkey *k = NULL;
    if (kind == K_RUN) {
        irun *r = idx_run(&b->ix, name, nlen);
        k = r ? &r->key : NULL;
    } else {
        isession *e = idx_session(&b->ix, name, nlen);
        k = e ? &e->key : NULL;
    }
    if (k && !id) {
        memcpy(idb, k->id, k->id_len);
        id = idb;
        id_len = k->id_len;
    }
    pthread_mutex_unlock(&b->idx_mu);
    if (!id) /* the id is needed for the record */
        return s;
    *listed = k || s != ACP_OK;
    fmt_index_rec d = {kind == K_RUN ? FMT_OP_DELRUN : FMT_OP_DELSESSION,
                       {id, id_len}, {NULL, 0}, {NULL, 0}, 0, 0};
    return idx_prepare(b, &d, name, nlen, rec, c, call);
}

/* Record a delete prepared by forget_prepare(): when the delete removed
 * something (happened), or the index lists the entry anyway. */
static void forget_publish(acp_backend *b, int happened, int listed, fbuf *rec, idx_change *c)
{
    if (c->kind != IDX_NONE && (happened || listed))
        idx_publish(b, rec, c);
    else
        idx_change_free(c);
    fbuf_free(rec);
}

/*
 * delete_run removes two files in two directories, so it leaves an intent
 * first: runs/<name>.json is renamed to runs/<name>.deleting (no id maps to
 * that name: run files end in .json), flushed, then the event log is
 * removed, then the intent.  A run with an intent is deleted as far as
 * readers go; whoever meets a leftover intent (a crash or a failure between
 * the steps) finishes the delete: the next open, get_events, save_run and
 * delete_run of that id.
 */

/* Finish the delete that runs/<name>.deleting records (stripe lock held,
 * the intent exists): remove the event log, then the intent.  *had_log says
 * whether the log held events.  The index is the caller's. */
static acp_status finish_delete(acp_backend *b, const char *name, size_t nlen, int *had_log,
                                acp_call *call)
{
    char intent[FMT_NAME_BUF + 16];
    ext_name(intent, name, nlen, INTENT_EXT);
    *had_log = 0;
    /* The intent must be on disk before the log goes: power loss must not
     * leave the run without its events. */
    if (b->sync && fsync(b->runs_fd) != 0)
        return file_err(b, call, ACP_IO, "runs/", "", "cannot flush directory", errno);
    acp_status s = ev_remove(b, name, nlen, had_log, call);
    if (s != ACP_OK) {
        /* Only a log that is still there keeps the intent (flushing events/
         * may have failed after the log was removed). */
        char lname[FMT_NAME_BUF + 8];
        struct stat st;
        ext_name(lname, name, nlen, ".log");
        if (fstatat(b->ev_fd, lname, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
            return s;
    }
    acp_call *c = s == ACP_OK ? call : NULL; /* keep the first error */
    acp_status u = ACP_OK;
    if (unlinkat(b->runs_fd, intent, 0) != 0 && errno != ENOENT)
        u = file_err(b, c, ACP_IO, "runs/", intent, "cannot remove", errno);
    else if (b->sync && fsync(b->runs_fd) != 0) /* or a lost unlink would redo it later */
        u = file_err(b, c, ACP_IO, "runs/", "", "cannot flush directory", errno);
    return s == ACP_OK ? u : s;
}

/* Whether runs/<name>.deleting exists. */
static int has_intent(acp_backend *b, const char *name, size_t nlen)
{
    char intent[FMT_NAME_BUF + 16];
    struct stat st;
    ext_name(intent, name, nlen, INTENT_EXT);
    return fstatat(b->runs_fd, intent, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Finish a leftover delete of run <name>, if there is one (stripe lock held). */
static acp_status finish_leftover(acp_backend *b, const char *name, size_t nlen, acp_call *call)
{
    if (!has_intent(b, name, nlen))
        return ACP_OK;
    fbuf rec = {0};
    idx_change c;
    int had_log, listed = 0;
    acp_status s = forget_prepare(b, K_RUN, NULL, 0, name, nlen, &rec, &c, &listed, call);
    if (s != ACP_OK)
        return s;
    s = finish_delete(b, name, nlen, &had_log, call);
    /* Also after a failure: the intent says the run is deleted. */
    forget_publish(b, 0, listed, &rec, &c);
    if (s == ACP_OK)
        b->host->log(2, FILE_PLUGIN, "%s/runs/%s" INTENT_EXT ": finished an interrupted delete",
                     b->path, name);
    return s;
}

/* The same, taking the stripe lock. */
static acp_status finish_leftover_locking(acp_backend *b, const char *name, size_t nlen,
                                          acp_call *call)
{
    unsigned sp = stripe_of(K_RUN, name, nlen);
    acp_status s = stripe_lock(b, sp, call);
    if (s != ACP_OK)
        return s;
    s = finish_leftover(b, name, nlen, call);
    stripe_unlock(b, sp);
    return s;
}

static acp_status f_delete_run(acp_backend *b, const char *run_id, acp_call *call)
{
    if (b->ro_errno)
        return file_readonly(b, call);
    char name[FMT_NAME_BUF], fname[FMT_NAME_BUF + 8], intent[FMT_NAME_BUF + 16];
    size_t id_len = strlen(run_id);
    size_t nlen = fmt_id_name(run_id, id_len, name);
    ext_name(fname, name, nlen, ".json");
    ext_name(intent, name, nlen, INTENT_EXT);
    unsigned sp = stripe_of(K_RUN, name, nlen);
    acp_status s = stripe_lock(b, sp, call);
    if (s != ACP_OK)
        return s;
    fbuf rec = {0};
    idx_change c;
    int had_run = 0, had_log = 0, leftover = 0, listed = 0;
    s = forget_prepare(b, K_RUN, run_id, id_len, name, nlen, &rec, &c, &listed, call);
    if (s != ACP_OK) {
        stripe_unlock(b, sp);
        return s;
    }
    /* The intent is made under the log's lock: appenders of every process
     * then look again and find it (ev_append), even if this one dies now. */
    int lk = ev_log_lock(b, name, nlen);
    if (lk != 0)
        s = file_err(b, call, ACP_IO, "", "lock", "cannot lock", lk);
    else if (renameat(b->runs_fd, fname, b->runs_fd, intent) == 0)
        had_run = 1;
    else if (errno != ENOENT)
        s = file_err(b, call, ACP_IO, "runs/", fname, "cannot rename", errno);
    else
        leftover = has_intent(b, name, nlen);
    if (lk == 0)
        ev_log_unlock(b, name, nlen);
    if (s == ACP_OK) {
        if (had_run || leftover) {
            /* A leftover intent's run and events were deleted already, as
             * far as anyone could see: they do not count as found. */
            s = finish_delete(b, name, nlen, &had_log, call);
            if (leftover)
                had_log = 0;
        } else {
            /* Events without a run record: removing the log is one step. */
            s = ev_remove(b, name, nlen, &had_log, call);
        }
        /* Also after a failure above: the run is gone (or the intent says
         * so), and this handle's lists must agree. */
        forget_publish(b, had_run, listed, &rec, &c);
    } else {
        forget_publish(b, 0, 0, &rec, &c);
    }
    stripe_unlock(b, sp);
    if (s == ACP_OK && !had_run && !had_log)
        s = b->host->error(call, ACP_NOT_FOUND, "run %s not found", run_id);
    return s;
}

/* A page entry copied out of the index. */
typedef struct cand {
    char name[FMT_NAME_BUF];
    size_t nlen;
    char id[ACP_FILE_ID_MAX + 1];
    size_t id_len;
    int64_t created_us;
} cand;

static void cand_set(cand *c, const char *name, size_t nlen, const tkey *k)
{
    memcpy(c->name, name, nlen);
    c->name[nlen] = '\0';
    c->nlen = nlen;
    memcpy(c->id, k->id, k->id_len);
    c->id[k->id_len] = '\0';
    c->id_len = k->id_len;
    c->created_us = k->created_us;
}

/* Emit the documents of cands in order; missing files (deleted meanwhile,
 * or by hand) are skipped and counted, and their index entries repaired. */
static acp_status emit_cands(acp_backend *b, int kind, cand *cs, size_t n, int64_t *emitted,
                             acp_call *call)
{
    acp_status s = ACP_OK;
    for (size_t i = 0; i < n && s == ACP_OK; i++) {
        char fname[FMT_NAME_BUF + 8];
        ext_name(fname, cs[i].name, cs[i].nlen, ".json");
        char *buf = NULL;
        fmt_run r;
        fmt_session se;
        s = load_doc(b, kind, cs[i].id, cs[i].id_len, fname, &buf, &r, &se, call);
        if (s == ACP_NOT_FOUND) {
            s = b->ro_errno ? ACP_OK : repair_one(b, kind, cs[i].name, cs[i].nlen, call);
            continue;
        }
        if (s != ACP_OK)
            break;
        acp_item it = {0};
        it.doc = kind == K_RUN ? r.doc.p : se.doc.p;
        it.doc_len = kind == K_RUN ? r.doc.len : se.doc.len;
        it.key = cs[i].id;
        it.created_us = kind == K_RUN ? cs[i].created_us : 0;
        if (b->host->emit(call, &it) != 0)
            s = b->host->error(call, ACP_NOMEM, "out of memory returning results");
        else
            (*emitted)++;
        free(buf);
    }
    return s;
}

static acp_status f_list_runs(acp_backend *b, const acp_run_query *q, acp_call *call)
{
    size_t want = (size_t)q->limit;
    cand *cs = want ? malloc(want * sizeof *cs) : NULL;
    if (want && !cs)
        return b->host->error(call, ACP_NOMEM, "out of memory listing runs");
    const char *agent = q->agent_name, *session = q->session_id;
    size_t alen = agent ? strlen(agent) : 0, slen = session ? strlen(session) : 0;
    tkey after = {0};
    char after_id[ACP_FILE_ID_MAX + 1];
    int have_after = 0, first = 1;
    int64_t emitted = 0;
    acp_status s = ACP_OK;
    for (;;) {
        size_t n = 0, avail = 0;
        pthread_mutex_lock(&b->idx_mu);
        s = idx_tail(b, 0, call);
        tnode *set = NULL;
        int slot = T_ALL;
        if (s == ACP_OK && idx_run_set(&b->ix, agent, alen, session, slen, &set, &slot) != 0)
            s = b->host->error(call, ACP_NOMEM, "out of memory listing runs");
        if (s == ACP_OK) {
            size_t pos;
            if (have_after) {
                pos = idx_rank(set, &after, 1, 1);
            } else {
                tkey cur = {q->cursor_created_us, q->cursor_run_id,
                            q->has_cursor ? strlen(q->cursor_run_id) : 0};
                pos = q->has_cursor ? idx_rank(set, &cur, 1, 1) : 0;
                uint64_t off = (uint64_t)q->offset;
                pos = off > SIZE_MAX - pos ? SIZE_MAX : pos + (size_t)off;
            }
            if (first && q->want_total)
                b->host->set_total(call, (int64_t)idx_size(set));
            size_t size = idx_size(set);
            avail = pos < size ? size - pos : 0;
            for (; n < want - (size_t)emitted && n < avail; n++) {
                const tnode *t = idx_select(set, pos + n);
                irun *r = irun_of(t, slot);
                cand_set(&cs[n], irun_name(r), r->link.key_len, &r->key);
            }
        }
        pthread_mutex_unlock(&b->idx_mu);
        first = 0;
        if (s != ACP_OK || n == 0)
            break;
        int64_t before = emitted;
        s = emit_cands(b, K_RUN, cs, n, &emitted, call);
        if (s != ACP_OK || emitted == (int64_t)want || n == avail ||
            emitted - before == (int64_t)n)
            break;
        /* Some files had gone: continue after the last candidate. */
        cand *last = &cs[n - 1];
        memcpy(after_id, last->id, last->id_len + 1);
        after.created_us = last->created_us;
        after.id = after_id;
        after.id_len = last->id_len;
        have_after = 1;
    }
    free(cs);
    return s;
}

/* ---- sessions ----------------------------------------------------------------------- */

static acp_status f_save_session(acp_backend *b, const acp_session_record *rec,
                                 acp_call *call)
{
    if (b->ro_errno)
        return file_readonly(b, call);
    char name[FMT_NAME_BUF], fname[FMT_NAME_BUF + 8];
    size_t nlen = fmt_id_name(rec->id, rec->id_len, name);
    ext_name(fname, name, nlen, ".json");
    unsigned sp = stripe_of(K_SESSION, name, nlen);
    acp_status s = stripe_lock(b, sp, call);
    if (s != ACP_OK)
        return s;
    fmt_session se = {{rec->id, rec->id_len}, {rec->doc, rec->doc_len}};
    fbuf doc = {0};
    fmt_put_session(&doc, &se);
    fmt_index_rec x = {FMT_OP_SESSION, se.id, {NULL, 0}, {NULL, 0}, 0, 0};
    s = doc_save_indexed(b, b->sess_fd, "sessions/", fname, &doc, &x, name, nlen, "session",
                         call);
    fbuf_free(&doc);
    stripe_unlock(b, sp);
    return s;
}

static acp_status f_get_session(acp_backend *b, const char *id, acp_call *call)
{
    char name[FMT_NAME_BUF + 8];
    size_t id_len = strlen(id);
    size_t nlen = fmt_id_name(id, id_len, name);
    strcpy(name + nlen, ".json");
    char *buf = NULL;
    fmt_session se;
    acp_status s = load_doc(b, K_SESSION, id, id_len, name, &buf, NULL, &se, call);
    if (s != ACP_OK)
        return s;
    acp_item it = {0};
    it.doc = se.doc.p;
    it.doc_len = se.doc.len;
    it.key = id;
    if (b->host->emit(call, &it) != 0)
        s = b->host->error(call, ACP_NOMEM, "out of memory returning session %s", id);
    free(buf);
    return s;
}

static acp_status f_delete_session(acp_backend *b, const char *id, acp_call *call)
{
    if (b->ro_errno)
        return file_readonly(b, call);
    char name[FMT_NAME_BUF], fname[FMT_NAME_BUF + 8];
    size_t id_len = strlen(id);
    size_t nlen = fmt_id_name(id, id_len, name);
    ext_name(fname, name, nlen, ".json");
    unsigned sp = stripe_of(K_SESSION, name, nlen);
    acp_status s = stripe_lock(b, sp, call);
    if (s != ACP_OK)
        return s;
    fbuf rec = {0};
    idx_change c;
    int had = 0, listed = 0;
    s = forget_prepare(b, K_SESSION, id, id_len, name, nlen, &rec, &c, &listed, call);
    if (s != ACP_OK) {
        stripe_unlock(b, sp);
        return s;
    }
    s = remove_file(b, b->sess_fd, "sessions/", fname, &had, call);
    /* Removed, even if flushing the directory failed: forget it.  A
     * session that was not there is forgotten when the index lists it. */
    forget_publish(b, had, s == ACP_OK && listed, &rec, &c);
    stripe_unlock(b, sp);
    if (s == ACP_OK && !had)
        s = b->host->error(call, ACP_NOT_FOUND, "session %s not found", id);
    return s;
}

static acp_status f_list_sessions(acp_backend *b, const char *after_id, int64_t limit,
                                  acp_call *call)
{
    size_t want = (size_t)limit;
    cand *cs = want ? malloc(want * sizeof *cs) : NULL;
    if (want && !cs)
        return b->host->error(call, ACP_NOMEM, "out of memory listing sessions");
    char after_buf[ACP_FILE_ID_MAX + 1];
    tkey after = {0, after_id, after_id ? strlen(after_id) : 0};
    int64_t emitted = 0;
    acp_status s = ACP_OK;
    for (;;) {
        size_t n = 0, avail = 0;
        pthread_mutex_lock(&b->idx_mu);
        s = idx_tail(b, 0, call);
        if (s == ACP_OK) {
            tnode *set = b->ix.all_sessions;
            size_t pos = after.id ? idx_rank(set, &after, 0, 1) : 0;
            size_t size = idx_size(set);
            avail = pos < size ? size - pos : 0;
            for (; n < want - (size_t)emitted && n < avail; n++) {
                isession *e = isession_of(idx_select(set, pos + n));
                cand_set(&cs[n], isession_name(e), e->link.key_len, &e->key);
            }
        }
        pthread_mutex_unlock(&b->idx_mu);
        if (s != ACP_OK || n == 0)
            break;
        int64_t before = emitted;
        s = emit_cands(b, K_SESSION, cs, n, &emitted, call);
        if (s != ACP_OK || emitted == (int64_t)want || n == avail ||
            emitted - before == (int64_t)n)
            break;
        memcpy(after_buf, cs[n - 1].id, cs[n - 1].id_len + 1);
        after.id = after_buf;
        after.id_len = cs[n - 1].id_len;
    }
    free(cs);
    return s;
}

/* ---- events (events.c) ------------------------------------------------------------------ */

static acp_status f_add_event(acp_backend *b, const acp_event_record *ev, int64_t *seq,
                              acp_call *call)
{
    /* A run with a delete intent is deleted, its old log with it: an
     * append that finds one finishes that delete first. */
    for (;;) {
        int deleting;
        acp_status s = ev_append(b, ev, seq, &deleting, call);
        if (s != ACP_OK || !deleting)
            return s;
        char name[FMT_NAME_BUF];
        size_t nlen = fmt_id_name(ev->run_id, ev->run_id_len, name);
        if ((s = finish_leftover_locking(b, name, nlen, call)) != ACP_OK)
            return s;
    }
}

static acp_status f_get_events(acp_backend *b, const acp_event_query *q, acp_call *call)
{
    /* A run with a delete intent has no events, even when a crash or a
     * failure left its log behind: finish that delete when possible. */
    char name[FMT_NAME_BUF];
    size_t nlen = fmt_id_name(q->run_id, strlen(q->run_id), name);
    if (!has_intent(b, name, nlen))
        return file_get_events(b, q, call);
    if (!b->ro_errno)
        finish_leftover_locking(b, name, nlen, NULL);
    return ACP_OK;
}

static const acp_backend_vtable file_vtable = {
    .init = NULL,
    .open = f_open,
    .close = f_close,
    .ping = f_ping,
    .save_run = f_save_run,
    .get_run = f_get_run,
    .delete_run = f_delete_run,
    .list_runs = f_list_runs,
    .save_session = f_save_session,
    .get_session = f_get_session,
    .delete_session = f_delete_session,
    .list_sessions = f_list_sessions,
    .add_event = f_add_event,
    .get_events = f_get_events,
};

static const char *const file_options[] = {"sync", "create", NULL};

ACP_PLUGIN_DEFINE(file, ACP_STORAGE_PLUGIN_VERSION,
                  "Plain files: JSON documents and append-only event logs in a directory",
                  ACP_CAP_CONCURRENT | ACP_CAP_DURABLE | ACP_CAP_MULTIPROCESS, file_options,
                  &file_vtable)
