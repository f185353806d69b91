/* SPDX-License-Identifier: MIT */
/*
 * ilog.c - the index log (index.log) of the file backend.
 *
 * index.log is an append-only log of (run, agent, session, created) and
 * session ids; every process replays it into its in-memory index (ix,
 * index.c) and reads only the tail others appended since.  It is only a
 * cache of what the documents say, so it is never flushed: repair.c brings
 * it in line with the documents when the store is opened.  When it grows
 * to several times what its live entries need, the appending process
 * rewrites it (compaction); others notice the replaced file (link count 0)
 * and reload.  Names here start with ilog_; idx_ names the in-memory index.
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

/* Compact index.log once it exceeds this and twice its live size. */
#define COMPACT_MIN_BYTES (1u << 20)

/* ---- index.log --------------------------------------------------------------------- */

static acp_status ilog_nomem(acp_backend *b, acp_call *call)
{
    return b->host->error(call, ACP_NOMEM, "out of memory reading %s/index.log", b->path);
}

/* What run record r says, for the index; len: its bytes in index.log. */
static irun_fields ilog_run_fields(const fmt_index_rec *r, uint32_t len)
{
    irun_fields f = {r->id.p,     r->agent.p,     r->session.p,   r->status.p,
                     r->id.len,   r->agent.len,   r->session.len, r->status.len,
                     r->created_us, r->ino, len};
    return f;
}

/* Apply one record (with its '\n') to the in-memory index.  0, -1 for a
 * damaged record, -2 when out of memory. */
static int ilog_apply(acp_backend *b, char *rec, size_t len)
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
    case FMT_OP_RUN: {
        irun_fields f = ilog_run_fields(&r, (uint32_t)len);
        return idx_put_run(&b->ix, name, nlen, &f) ? -2 : 0;
    }
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
acp_status ilog_reopen(acp_backend *b, acp_call *call)
{
    findex nix;
    if (idx_init(&nix, b->host->hash) != 0)
        return ilog_nomem(b, call);
    int fd = b->ro_errno ? fs_open(b->dirfd, "index.log", O_RDONLY, 0, NULL)
                         : fs_open(b->dirfd, "index.log", O_RDWR | O_APPEND | O_CREAT, 0644, NULL);
    if (fd < 0 && !(b->ro_errno && errno == ENOENT)) {
        int e = errno;
        idx_free(&nix);
        return file_err(b, call, ACP_IO, "", "index.log", "cannot open", e);
    }
    if (b->ilog_fd >= 0)
        close(b->ilog_fd);
    b->ilog_fd = fd;
    idx_free(&b->ix);
    b->ix = nix;
    b->ilog_end = 0;
    return ACP_OK;
}

/* Whether a valid record starts on a line after buf[0..n). */
static int ilog_valid_after(char *buf, size_t n)
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
 * Apply what was appended to index.log since ilog_end (ix_mu held).
 * `locked`: the caller holds LOCK_EX, so nothing is being appended and
 * bytes after the last whole record are the torn tail of a writer that
 * died; they are cut off.  Without the lock such bytes may be an append in
 * progress and are left for the next call.
 */
acp_status ilog_tail(acp_backend *b, int locked, acp_call *call)
{
    struct stat st;
    int shared = 0;
    acp_status s = ACP_OK;
    for (;;) {
        if (b->ilog_fd < 0) {
            if ((s = ilog_reopen(b, call)) != ACP_OK || b->ilog_fd < 0)
                return s;
        }
        if (fstat(b->ilog_fd, &st) != 0)
            return file_err(b, call, ACP_IO, "", "index.log", "cannot stat", errno);
        if (st.st_nlink == 0 || (uint64_t)st.st_size < b->ilog_end) {
            /* Compacted by another process (or cut by hand): reload. */
            if ((s = ilog_reopen(b, call)) != ACP_OK)
                break;
            continue;
        }
        if ((uint64_t)st.st_size == b->ilog_end)
            break;
        size_t n = (size_t)((uint64_t)st.st_size - b->ilog_end);
        char *buf = malloc(n);
        if (!buf) {
            s = ilog_nomem(b, call);
            break;
        }
        size_t got = 0;
        while (got < n) {
            ssize_t r = pread(b->ilog_fd, buf + got, n - got, (off_t)(b->ilog_end + got));
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
            if ((rc = ilog_apply(b, buf + pos, len)) != 0)
                break;
            pos += len;
        }
        b->ilog_end += pos;
        int damaged = rc == -1 && ilog_valid_after(buf + pos, got - pos);
        free(buf);
        if (rc == -2) {
            s = ilog_nomem(b, call);
            break;
        }
        if (damaged) {
            if (!locked && !shared) {
                /* Perhaps a torn tail being replaced: look again while
                 * appenders are kept out. */
                int e = fs_flock(b->ilog_fd, LOCK_SH, fs_deadline(b, call));
                if (e) {
                    s = file_err(b, call, ACP_IO, "", "index.log", "cannot lock", e);
                    break;
                }
                shared = 1;
                continue;
            }
            s = b->host->error(call, ACP_CORRUPT,
                               "%s/index.log: damaged record at offset %llu; remove index.log "
                               "and reopen the store to rebuild it from the documents",
                               b->path, (unsigned long long)b->ilog_end);
            break;
        }
        if (pos < got && locked && !b->ro_errno) {
            if (ftruncate(b->ilog_fd, (off_t)b->ilog_end) != 0) {
                s = file_err(b, call, ACP_IO, "", "index.log", "cannot cut the torn tail of",
                             errno);
                break;
            }
            b->host->log(2, FILE_PLUGIN, "%s/index.log: removed a torn record at offset %llu",
                         b->path, (unsigned long long)b->ilog_end);
        }
        break;
    }
    if (shared)
        flock(b->ilog_fd, LOCK_UN);
    return s;
}

typedef struct compact_ctx {
    fbuf out;
} compact_ctx;

static int compact_run(irun *r, void *arg)
{
    compact_ctx *c = arg;
    size_t start = c->out.len;
    const igroup *ag = r->g[G_AGENT], *se = r->g[G_SESSION], *st = r->g[G_STATUS];
    fmt_index_rec rec = {FMT_OP_RUN,
                         {r->key.id, r->key.id_len},
                         {ag->text, ag->text_len},
                         {se ? se->text : NULL, se ? se->text_len : 0},
                         r->key.created_us,
                         r->ino,
                         {st ? st->text : NULL, st ? st->text_len : 0}};
    fmt_put_index(&c->out, &rec);
    r->rec_len = (uint32_t)(c->out.len - start);
    return c->out.failed;
}

static int compact_session(isession *s, void *arg)
{
    compact_ctx *c = arg;
    size_t start = c->out.len;
    fmt_index_rec rec = {FMT_OP_SESSION, {s->key.id, s->key.id_len}, {NULL, 0}, {NULL, 0}, 0,
                         s->ino, {NULL, 0}};
    fmt_put_index(&c->out, &rec);
    s->rec_len = (uint32_t)(c->out.len - start);
    return c->out.failed;
}

/* Rewrite index.log with one record per live entry (ix_mu and LOCK_EX on
 * the old file held).  Failures only leave the old log in place. */
static void ilog_compact(acp_backend *b)
{
    compact_ctx c = {{0}};
    if (idx_each_run(&b->ix, compact_run, &c) || idx_each_session(&b->ix, compact_session, &c)) {
        fbuf_free(&c.out);
        return;
    }
    char tmp[64];
    int fd = fs_create_tmp(b, b->dirfd, "index-", tmp, O_RDWR | O_APPEND);
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
    close(b->ilog_fd); /* releases the old file's lock: waiters find it unlinked */
    b->ilog_fd = fd;
    b->ilog_end = c.out.len;
    b->ix.live_bytes = c.out.len;
    fbuf_free(&c.out);
}

/* The end of the last whole record of index.log (LOCK_EX held, the bytes
 * before ilog_end applied, perhaps more not yet): a torn tail that a writer
 * which died left after it is cut off, so that a record appended next
 * starts on a line of its own.  0, or an errno. */
static int ilog_whole_end(acp_backend *b, uint64_t *end)
{
    struct stat st;
    if (fstat(b->ilog_fd, &st) != 0)
        return errno;
    uint64_t size = (uint64_t)st.st_size, at = size;
    char chunk[512];
    /* Back from the end to the last newline (ilog_end is a record
     * boundary). */
    while (at > b->ilog_end) {
        size_t n = at - b->ilog_end < sizeof chunk ? (size_t)(at - b->ilog_end) : sizeof chunk;
        ssize_t r = pread(b->ilog_fd, chunk, n, (off_t)(at - n));
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
        if (ftruncate(b->ilog_fd, (off_t)at) != 0)
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
 *    the next ilog_tail(), which every list calls first;
 *  - index.log cannot take rec (full disk, damaged log): this handle's
 *    index still gets the change, and the next open, which compares the
 *    documents with index.log, re-reads the document and repairs the log.
 */
void ilog_publish(acp_backend *b, const fbuf *rec, idx_change *c, acp_call *call)
{
    uint64_t dl = fs_deadline(b, call);
    pthread_mutex_lock(&b->ix_mu);
    const char *why = NULL;
    int err = 0, locked = 0;
    for (;;) {
        if (b->ilog_fd < 0 && ilog_reopen(b, NULL) != ACP_OK) {
            why = "cannot reopen it";
            goto apply;
        }
        if ((err = fs_flock(b->ilog_fd, LOCK_EX, dl)) != 0) {
            why = "cannot lock it";
            goto apply;
        }
        locked = 1;
        struct stat st;
        if (fstat(b->ilog_fd, &st) != 0) {
            err = errno;
            why = "cannot stat it";
            goto apply;
        }
        if (st.st_nlink > 0)
            break;
        flock(b->ilog_fd, LOCK_UN); /* compacted by another process: the new file */
        locked = 0;
        if (ilog_reopen(b, NULL) != ACP_OK) {
            why = "cannot reopen it";
            goto apply;
        }
    }
    acp_status s = ilog_tail(b, 1, NULL);
    if (s == ACP_CORRUPT) {
        /* The next open sets the damaged log aside and rebuilds it. */
        why = "it is damaged";
        goto apply;
    }
    int caught_up = s == ACP_OK;
    uint64_t end = b->ilog_end;
    if (!caught_up && (err = ilog_whole_end(b, &end)) != 0) {
        why = "cannot find its end";
        goto apply;
    }
    if ((err = file_write_all(b->ilog_fd, rec->p, rec->len)) != 0) {
        if (ftruncate(b->ilog_fd, (off_t)end) != 0)
            b->host->log(1, FILE_PLUGIN, "%s/index.log: cannot cut a failed append: %s",
                         b->path, strerror(errno));
        why = "cannot append to it";
        goto apply;
    }
    if (caught_up) {
        idx_commit(&b->ix, c);
        b->ilog_end += rec->len;
        if (b->ilog_end > COMPACT_MIN_BYTES && b->ilog_end / 2 > b->ix.live_bytes)
            ilog_compact(b);
    } else {
        b->host->log(2, FILE_PLUGIN, "%s/index.log: cannot catch up with other processes' "
                     "records yet; a change is left for the next catch-up", b->path);
    }
    flock(b->ilog_fd, LOCK_UN);
    idx_change_free(c);
    pthread_mutex_unlock(&b->ix_mu);
    return;

apply:
    if (locked)
        flock(b->ilog_fd, LOCK_UN);
    idx_commit(&b->ix, c);
    b->host->log(1, FILE_PLUGIN, "%s/index.log: %s%s%s; this process's index has the change, "
                 "the next open of the store repairs index.log",
                 b->path, why, err ? ": " : "", err ? strerror(err) : "");
    pthread_mutex_unlock(&b->ix_mu);
}

/* Build the index.log record of x and the change it makes to the index in
 * memory, for ilog_publish() once the change has reached the disk.  name:
 * the file name of x's id, valid until then.  OK, or NOMEM with nothing
 * held. */
acp_status ilog_prepare(acp_backend *b, const fmt_index_rec *x, const char *name,
                              size_t nlen, fbuf *rec, idx_change *c, acp_call *call)
{
    memset(c, 0, sizeof *c);
    fmt_put_index(rec, x);
    int bad = rec->failed;
    if (!bad) {
        uint32_t len = (uint32_t)rec->len;
        switch (x->op) {
        case FMT_OP_RUN: {
            irun_fields f = ilog_run_fields(x, len);
            bad = idx_prepare_run(c, name, nlen, &f);
            break;
        }
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
void ilog_compact_if_bloated(acp_backend *b, acp_call *call)
{
    pthread_mutex_lock(&b->ix_mu);
    if (b->ilog_fd >= 0 && b->ilog_end > COMPACT_MIN_BYTES &&
        b->ilog_end > b->ix.live_bytes + b->ix.live_bytes / 2 &&
        fs_flock(b->ilog_fd, LOCK_EX, fs_deadline(b, call)) == 0) {
        struct stat st;
        if (fstat(b->ilog_fd, &st) == 0 && st.st_nlink > 0 && ilog_tail(b, 1, call) == ACP_OK)
            ilog_compact(b);
        flock(b->ilog_fd, LOCK_UN);
    }
    pthread_mutex_unlock(&b->ix_mu);
}

/* The delete record for name and the change it makes to the index,
 * prepared before the delete touches the disk (see ilog_publish).  id NULL:
 * the id the index has for name; when it has none, c is empty.  *listed
 * says whether the index lists name (or might: it could not catch up),
 * and so whether a delete that finds nothing must still be recorded. */
acp_status ilog_forget_prepare(acp_backend *b, int kind, const char *id, size_t id_len,
                                 const char *name, size_t nlen, fbuf *rec, idx_change *c,
                                 int *listed, acp_call *call)
{
    char idb[ACP_FILE_ID_MAX + 1];
    memset(c, 0, sizeof *c);
    pthread_mutex_lock(&b->ix_mu);
    acp_status s = ilog_tail(b, 0, id ? NULL : call);
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
    pthread_mutex_unlock(&b->ix_mu);
    if (!id) /* the id is needed for the record */
        return s;
    *listed = k || s != ACP_OK;
    fmt_index_rec d = {kind == K_RUN ? FMT_OP_DELRUN : FMT_OP_DELSESSION,
                       {id, id_len}, {NULL, 0}, {NULL, 0}, 0, 0, {NULL, 0}};
    return ilog_prepare(b, &d, name, nlen, rec, c, call);
}

/* Record a delete prepared by ilog_forget_prepare(): when the delete removed
 * something (happened), or the index lists the entry anyway. */
void ilog_forget_publish(acp_backend *b, int happened, int listed, fbuf *rec, idx_change *c,
                         acp_call *call)
{
    if (c->kind != IDX_NONE && (happened || listed))
        ilog_publish(b, rec, c, call);
    else
        idx_change_free(c);
    fbuf_free(rec);
}

acp_status ilog_set_aside(acp_backend *b, int todir, const char *to, acp_call *call)
{
    pthread_mutex_lock(&b->ix_mu);
    acp_status s = ACP_OK;
    int e = fs_flock(b->ilog_fd, LOCK_EX, fs_deadline(b, call));
    if (e) {
        pthread_mutex_unlock(&b->ix_mu);
        return file_err(b, call, ACP_IO, "", "index.log", "cannot lock", e);
    }
    struct stat st;
    if (fstat(b->ilog_fd, &st) == 0 && st.st_nlink > 0) {
        char aside[64];
        snprintf(aside, sizeof aside, "index.log.damaged-%lld", (long long)time(NULL));
        if (todir < 0) {
            todir = b->dirfd;
            to = aside;
        }
        if (renameat(b->dirfd, "index.log", todir, to) != 0)
            s = file_err(b, call, ACP_IO, "", "index.log", "cannot set aside damaged", errno);
        else
            b->host->log(1, FILE_PLUGIN, "%s/index.log was damaged: kept as %s, rebuilding",
                         b->path, to);
    }
    flock(b->ilog_fd, LOCK_UN);
    if (s == ACP_OK)
        s = ilog_reopen(b, call);
    pthread_mutex_unlock(&b->ix_mu);
    return s;
}
