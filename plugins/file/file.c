/* SPDX-License-Identifier: MIT */
/*
 * file.c - the file backend ("file:///srv/acp", "file:rel/dir"): the
 * methods (documents, lists, and the calls handed on to events.c).
 *
 * The backend's parts, one job each:
 *   file.c     the methods of the vtable
 *   open.c     opening a store: its folder, FORMAT check, lock table
 *   ilog.c     the index log (index.log): appending, replaying, compaction
 *   repair.c   bringing index.log in line with the documents
 *   intent.c   the two-step delete of a run and its leftovers
 *   events.c   event logs and their group commit
 *   verify.c   verify: every document, event record and index.log checked
 *   fsutil.c   file-system helpers: errors, reading, temporaries, locks
 *   index.c    the in-memory index (findex) the index log is replayed into
 *   fmt.c      on-disk formats, names and checksums
 *   flushgroup.c  one directory flush shared by concurrent saves
 *   stats.c    stats: figures from the index and the file system
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
 * one and the directory flushed (sync=always; one flush for all the saves
 * waiting on it, see dir_flush), so a reader sees the old or the new file,
 * never a mix.  Each save then appends a record to
 * index.log; index.log is only a cache of what the documents say, so it is
 * never flushed: when the store is opened, the directory listing is
 * compared with the index (by inode number, which every rename changes)
 * and whatever a crash or a restore from backup left behind is re-read
 * from the documents.  The index record, and the in-memory entry it makes,
 * are built before the rename or unlink: once a document has changed, no
 * lack of memory and no failure of index.log can fail the call any more
 * (see ilog_publish).  Saves and deletes of one id are
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
#include "query.h"

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
    sd->fd = fs_create_tmp(b, dfd, "", sd->tmp, O_WRONLY);
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

/* ---- the delete mark ------------------------------------------------------------- */

/* FILE_MARK_NAME holds the mark as fixed-width decimal text, rewritten in
 * place under an exclusive flock and read under a shared one, so a reader
 * never sees half a number.  A save reads it under its run's stripe lock,
 * which the delete of that run holds while it raises the mark: a re-created
 * run always finds the mark of its own deletion. */
#define MARK_WIDTH 20

static acp_status mark_access(acp_backend *b, int64_t raise_to, int64_t *mark, acp_call *call)
{
    int writing = raise_to > 0;
    int fd = fs_open(b->dirfd, FILE_MARK_NAME, writing ? O_RDWR | O_CREAT : O_RDONLY, 0644, NULL);
    *mark = 0;
    if (fd < 0 && errno == ENOENT && !writing)
        return ACP_OK; /* no run was ever deleted */
    if (fd < 0)
        return file_err(b, call, ACP_IO, "", FILE_MARK_NAME, "cannot open", errno);
    char text[MARK_WIDTH + 2];
    int err = flock(fd, writing ? LOCK_EX : LOCK_SH) != 0 ? errno : 0;
    ssize_t n = err ? 0 : pread(fd, text, MARK_WIDTH, 0);
    if (n < 0)
        err = errno;
    else if (n > 0) {
        text[n] = '\0';
        char *end;
        long long v = strtoll(text, &end, 10);
        if (end == text || v < 0) {
            close(fd);
            return b->host->error(call, ACP_CORRUPT, "%s/%s: not a version number", b->path,
                                  FILE_MARK_NAME);
        }
        *mark = v;
    }
    if (!err && writing && raise_to > *mark) {
        /* A write cut short leaves digits of the new number over the old
         * one's: a value between the two or above, never below the old
         * one, and the mark only needs to be at least what was deleted. */
        snprintf(text, sizeof text, "%0*lld\n", MARK_WIDTH, (long long)raise_to);
        for (size_t off = 0; !err && off < MARK_WIDTH + 1;) {
            ssize_t w = pwrite(fd, text + off, MARK_WIDTH + 1 - off, (off_t)off);
            if (w > 0)
                off += (size_t)w;
            else if (w < 0 && errno != EINTR)
                err = errno;
            else if (w == 0)
                err = EIO;
        }
        if (!err && b->sync && fdatasync(fd) != 0)
            err = errno;
        if (!err)
            *mark = raise_to;
    }
    close(fd); /* drops the flock */
    return err ? file_err(b, call, ACP_IO, "", FILE_MARK_NAME, "cannot use", err) : ACP_OK;
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
    int err = fs_read_at(dfd, fname, buf, &len, NULL);
    if (err == ENOENT)
        return b->host->error(call, ACP_NOT_FOUND, "%s %s not found",
                              kind == K_RUN ? "run" : "session", id);
    const char *what = kind == K_RUN ? "run" : "session";
    if (err == FS_EBADTYPE)
        return b->host->error(call, ACP_CORRUPT,
                              "%s %s: %s/%s%s is not a regular file (symbolic links, folders and "
                              "FIFOs are never followed or opened)",
                              what, id, b->path, sub, fname);
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
        return b->host->error(call, ACP_CORRUPT, "%s %s: damaged file %s/%s%s (%s)", what, id,
                              b->path, sub, fname, why);
    }
    return ACP_OK;
}

static int fsync_fd(void *arg)
{
    return fsync(*(const int *)arg) == 0 ? 0 : errno;
}

/* Flush folder dfd (runs/ or sessions/) after a rename into it: one
 * fsync() for every save that renamed meanwhile (group commit).  The
 * rename is made before this call, so the shared flush, which starts
 * after it, covers it.  0 or an errno. */
static int dir_flush(acp_backend *b, int dfd)
{
    int *fd = dfd == b->runs_fd ? &b->runs_fd : &b->sess_fd;
    return fg_flush(&b->dir_flush[dfd == b->runs_fd ? DIR_RUNS : DIR_SESSIONS], fsync_fd, fd);
}

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
    if ((s = ilog_prepare(b, x, name, nlen, &ir, &c, call)) != ACP_OK)
        doc_abandon(dfd, &sd);
    else if ((s = doc_commit(b, dfd, sub, fname, &sd, call)) != ACP_OK)
        idx_change_free(&c);
    else {
        ilog_publish(b, &ir, &c, call);
        int err = b->sync ? dir_flush(b, dfd) : 0;
        if (err)
            s = file_err(b, call, ACP_IO, sub, "", "cannot flush directory", err);
    }
    fbuf_free(&ir);
    return s;
}

/* Store a run; with insert_only, an existing one is left alone and *exists
 * set (looked at under the run's lock, as the write would be). */
static acp_status f_put_run(acp_backend *b, const acp_run_record *rec, int insert_only,
                            int *exists, acp_call *call)
{
    *exists = 0;
    if (b->ro_errno)
        return file_readonly(b, call);
    char name[FMT_NAME_BUF], fname[FMT_NAME_BUF + 8];
    size_t nlen = fmt_id_name(rec->run_id, rec->run_id_len, name);
    fs_ext_name(fname, name, nlen, ".json");
    unsigned sp = doc_stripe_of(K_RUN, name, nlen);
    acp_status s = doc_lock(b, sp, call);
    if (s != ACP_OK)
        return s;
    /* A delete left half done ends before the run starts afresh: later, its
     * intent would remove the new run's events. */
    if ((s = intent_finish(b, name, nlen, call)) != ACP_OK) {
        doc_unlock(b, sp);
        return s;
    }
    if (insert_only && faccessat(b->runs_fd, fname, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
        doc_unlock(b, sp);
        *exists = 1;
        return ACP_OK;
    }

    /* The stored version and created time, read under the stripe lock: no
     * other save or delete of this run comes between this read and the
     * rename.  An unconditional save replaces a damaged old file (and keeps
     * the time of the first save when it can read it); a conditional one
     * cannot compare with it and fails. */
    int64_t created = rec->created_us, stored = 0, mark = 0, version = 0;
    const uint32_t conditions = ACP_RUN_IF_VERSION | ACP_RUN_IF_ABSENT | ACP_RUN_IF_NEWER;
    char *old = NULL;
    size_t olen;
    fmt_run o;
    const char *why = NULL;
    int err = fs_read_at(b->runs_fd, fname, &old, &olen, NULL);
    if (err == 0 && (fmt_get_run(old, olen, &o, &why) != 0 || o.id.len != rec->run_id_len ||
                     memcmp(o.id.p, rec->run_id, o.id.len) != 0))
        err = FS_EBADTYPE;
    else if (err == 0) {
        stored = o.version;
        if (rec->flags & ACP_RUN_CREATED_DEFAULT)
            created = o.created_us;
    }
    free(old);
    if (err == ENOMEM)
        s = b->host->error(call, ACP_NOMEM, "out of memory saving run %s", rec->run_id);
    else if (err && err != ENOENT && (rec->flags & conditions))
        s = b->host->error(call, ACP_CORRUPT, "run %s: runs/%s cannot be read (%s), so its "
                           "version cannot be compared", rec->run_id, fname,
                           why ? why : err == FS_EBADTYPE ? "not a regular file" : strerror(err));
    else if (stored == 0 && !(rec->flags & ACP_RUN_SET_VERSION))
        s = mark_access(b, 0, &mark, call);
    if (s == ACP_OK &&
        acp_run_version_next(rec, stored, mark, b->host->now_us(), &version) != ACP_OK) {
        acp_report_version(b->host, call, stored);
        s = ACP_CONFLICT;
    }
    if (s != ACP_OK) {
        doc_unlock(b, sp);
        return s;
    }
    fmt_run r = {{rec->run_id, rec->run_id_len},
                 {rec->agent_name, rec->agent_name_len},
                 {rec->session_id, rec->session_id ? rec->session_id_len : 0},
                 created,
                 {rec->doc, rec->doc_len},
                 version,
                 {rec->status, strlen(rec->status)}};
    fbuf doc = {0};
    fmt_put_run(&doc, &r);
    /* The status is in the same record as the rest: replaying it moves the
     * run between status trees in one step, in every process. */
    fmt_index_rec x = {FMT_OP_RUN, r.id, r.agent, r.session, created, 0, r.status};
    s = doc_save_indexed(b, b->runs_fd, "runs/", fname, &doc, &x, name, nlen, "run", call);
    fbuf_free(&doc);
    doc_unlock(b, sp);
    if (s == ACP_OK)
        acp_report_version(b->host, call, version);
    return s;
}

static acp_status f_save_run(acp_backend *b, const acp_run_record *rec, acp_call *call)
{
    int exists;
    return f_put_run(b, rec, 0, &exists, call);
}

static acp_status f_save_runs(acp_backend *b, const acp_run_record *runs, size_t n,
                              uint32_t flags, acp_status *results, acp_call *call)
{
    for (size_t i = 0; i < n; i++) {
        int exists;
        acp_status s = f_put_run(b, &runs[i], (flags & ACP_BATCH_INSERT_ONLY) != 0, &exists,
                                 call);
        if (s != ACP_OK)
            return s;
        results[i] = exists ? ACP_CONFLICT : ACP_OK;
    }
    return ACP_OK;
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
    it.version = r.version;
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

static acp_status f_delete_run(acp_backend *b, const char *run_id, acp_call *call)
{
    if (b->ro_errno)
        return file_readonly(b, call);
    char name[FMT_NAME_BUF], fname[FMT_NAME_BUF + 8], intent[FMT_NAME_BUF + 16];
    size_t id_len = strlen(run_id);
    size_t nlen = fmt_id_name(run_id, id_len, name);
    fs_ext_name(fname, name, nlen, ".json");
    fs_ext_name(intent, name, nlen, FILE_INTENT_EXT);
    unsigned sp = doc_stripe_of(K_RUN, name, nlen);
    acp_status s = doc_lock(b, sp, call);
    if (s != ACP_OK)
        return s;
    /* The delete mark first rises to the run's version, under the stripe
     * lock that its saves take too (a damaged file has no version to keep). */
    char *doc = NULL;
    size_t dlen;
    fmt_run cur;
    const char *why;
    int64_t mark;
    if (fs_read_at(b->runs_fd, fname, &doc, &dlen, NULL) == 0 &&
        fmt_get_run(doc, dlen, &cur, &why) == 0)
        s = mark_access(b, cur.version, &mark, call);
    free(doc);
    if (s != ACP_OK) {
        doc_unlock(b, sp);
        return s;
    }
    fbuf rec = {0};
    idx_change c;
    int had_run = 0, had_log = 0, leftover = 0, listed = 0;
    s = ilog_forget_prepare(b, K_RUN, run_id, id_len, name, nlen, &rec, &c, &listed, call);
    if (s != ACP_OK) {
        doc_unlock(b, sp);
        return s;
    }
    /* The intent is made under the log's lock: appenders of every process
     * then look again and find it (ev_append), even if this one dies now. */
    int lk = ev_log_lock(b, name, nlen, call);
    if (lk != 0)
        s = file_err(b, call, ACP_IO, "", "lock", "cannot lock", lk);
    else if (renameat(b->runs_fd, fname, b->runs_fd, intent) == 0)
        had_run = 1;
    else if (errno != ENOENT)
        s = file_err(b, call, ACP_IO, "runs/", fname, "cannot rename", errno);
    else
        leftover = intent_exists(b, name, nlen, NULL) > 0;
    if (lk == 0)
        ev_log_unlock(b, name, nlen);
    if (s == ACP_OK) {
        if (had_run || leftover) {
            /* A leftover intent's run and events were deleted already, as
             * far as anyone could see: they do not count as found. */
            s = intent_finish_delete(b, name, nlen, &had_log, call);
            if (leftover)
                had_log = 0;
        } else {
            /* Events without a run record: removing the log is one step. */
            s = ev_remove(b, name, nlen, &had_log, call);
        }
        /* Also after a failure above: the run is gone (or the intent says
         * so), and this handle's lists must agree. */
        ilog_forget_publish(b, had_run, listed, &rec, &c, call);
    } else {
        ilog_forget_publish(b, 0, 0, &rec, &c, call);
    }
    doc_unlock(b, sp);
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
        fs_ext_name(fname, cs[i].name, cs[i].nlen, ".json");
        char *buf = NULL;
        fmt_run r = {0}; /* zeroed: the analyser cannot tell load_doc's failures from OK */
        fmt_session se = {0};
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
        it.version = kind == K_RUN ? r.version : 0;
        if (b->host->emit(call, &it) != 0)
            s = b->host->error(call, ACP_NOMEM, "out of memory returning results");
        else
            (*emitted)++;
        free(buf);
    }
    return s;
}

/* A page of runs from the index (query.c: the trees of the filters, cut
 * to the time range and cursor); their documents are read after ix_mu is
 * released. */
static acp_status f_list_runs(acp_backend *b, const acp_run_query *q, acp_call *call)
{
    size_t want = (size_t)q->limit;
    cand *cs = want ? malloc(want * sizeof *cs) : NULL;
    irun **rs = want ? malloc(want * sizeof *rs) : NULL;
    if (want && (!cs || !rs)) {
        free(cs);
        free(rs);
        return b->host->error(call, ACP_NOMEM, "out of memory listing runs");
    }
    tkey after = {0};
    char after_id[ACP_FILE_ID_MAX + 1];
    int have_after = 0, first = 1;
    int64_t emitted = 0;
    acp_status s = ACP_OK;
    for (;;) {
        size_t n = 0, asked = want - (size_t)emitted;
        pthread_mutex_lock(&b->ix_mu);
        s = ilog_tail(b, 0, call);
        iquery iq;
        int rc = s == ACP_OK ? iq_init(&iq, &b->ix, q, have_after ? &after : NULL) : 0;
        if (rc == -1)
            s = b->host->error(call, ACP_NOMEM, "out of memory listing runs");
        else if (rc == -2)
            s = b->host->error(call, ACP_INVALID, "too many statuses in one list (at most %d)",
                               IQ_MAX_SOURCES);
        if (s == ACP_OK) {
            if (first && q->want_total)
                b->host->set_total(call, (int64_t)iq_total(&iq));
            /* The offset counts from the cursor; a continuation starts
             * right after the last run it had. */
            size_t skip = have_after ? 0 : (size_t)q->offset;
            n = asked ? iq_page(&iq, skip, rs, asked) : 0;
            for (size_t i = 0; i < n; i++)
                cand_set(&cs[i], irun_name(rs[i]), rs[i]->link.key_len, &rs[i]->key);
        }
        pthread_mutex_unlock(&b->ix_mu);
        first = 0;
        if (s != ACP_OK || n == 0)
            break;
        int64_t before = emitted;
        s = emit_cands(b, K_RUN, cs, n, &emitted, call);
        if (s != ACP_OK || emitted == (int64_t)want || n < asked ||
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
    free(rs);
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
    fs_ext_name(fname, name, nlen, ".json");
    unsigned sp = doc_stripe_of(K_SESSION, name, nlen);
    acp_status s = doc_lock(b, sp, call);
    if (s != ACP_OK)
        return s;
    fmt_session se = {{rec->id, rec->id_len}, {rec->doc, rec->doc_len}};
    fbuf doc = {0};
    fmt_put_session(&doc, &se);
    fmt_index_rec x = {FMT_OP_SESSION, se.id, {NULL, 0}, {NULL, 0}, 0, 0, {NULL, 0}};
    s = doc_save_indexed(b, b->sess_fd, "sessions/", fname, &doc, &x, name, nlen, "session",
                         call);
    fbuf_free(&doc);
    doc_unlock(b, sp);
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
    fs_ext_name(fname, name, nlen, ".json");
    unsigned sp = doc_stripe_of(K_SESSION, name, nlen);
    acp_status s = doc_lock(b, sp, call);
    if (s != ACP_OK)
        return s;
    fbuf rec = {0};
    idx_change c;
    int had = 0, listed = 0;
    s = ilog_forget_prepare(b, K_SESSION, id, id_len, name, nlen, &rec, &c, &listed, call);
    if (s != ACP_OK) {
        doc_unlock(b, sp);
        return s;
    }
    s = remove_file(b, b->sess_fd, "sessions/", fname, &had, call);
    /* Removed, even if flushing the directory failed: forget it.  A
     * session that was not there is forgotten when the index lists it. */
    ilog_forget_publish(b, had, s == ACP_OK && listed, &rec, &c, call);
    doc_unlock(b, sp);
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
        pthread_mutex_lock(&b->ix_mu);
        s = ilog_tail(b, 0, call);
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
        pthread_mutex_unlock(&b->ix_mu);
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

/* Each run's consecutive events in one append: one write and one flush. */
static acp_status f_add_events(acp_backend *b, const acp_event_record *evs, size_t n,
                               uint32_t flags, int64_t *seqs, acp_status *results,
                               acp_call *call)
{
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && evs[j].run_id_len == evs[i].run_id_len &&
                        memcmp(evs[j].run_id, evs[i].run_id, evs[i].run_id_len) == 0;
             j++)
            ;
        /* A run with a delete intent is deleted, its old log with it: an
         * append that finds one finishes that delete first. */
        for (;;) {
            int deleting;
            acp_status s = ev_append_many(b, &evs[i], j - i, (flags & ACP_BATCH_RESTORE) != 0,
                                          &seqs[i], &results[i], &deleting, call);
            if (s != ACP_OK)
                return s;
            if (!deleting)
                break;
            char name[FMT_NAME_BUF];
            size_t nlen = fmt_id_name(evs[i].run_id, evs[i].run_id_len, name);
            if ((s = intent_finish_locking(b, name, nlen, call)) != ACP_OK)
                return s;
        }
    }
    return ACP_OK;
}

static acp_status f_add_event(acp_backend *b, const acp_event_record *ev, int64_t *seq,
                              acp_call *call)
{
    acp_status result;
    return f_add_events(b, ev, 1, 0, seq, &result, call);
}

static acp_status f_get_events(acp_backend *b, const acp_event_query *q, acp_call *call)
{
    /* A run with a delete intent has no events, even when a crash or a
     * failure left its log behind: finish that delete when possible. */
    char name[FMT_NAME_BUF];
    size_t nlen = fmt_id_name(q->run_id, strlen(q->run_id), name);
    if (intent_exists(b, name, nlen, NULL) <= 0)
        return file_get_events(b, q, call);
    if (!b->ro_errno)
        intent_finish_locking(b, name, nlen, NULL);
    return ACP_OK;
}

static acp_status f_wait_events(acp_backend *b, const acp_event_query *q, acp_call *call)
{
    return file_wait_events(b, q, f_get_events, call); /* follow.c */
}

static const acp_backend_vtable file_vtable = {
    .open = file_open, .close = file_close, .ping = file_ping,
    .save_run = f_save_run, .get_run = f_get_run, .delete_run = f_delete_run,
    .list_runs = f_list_runs,
    .save_session = f_save_session, .get_session = f_get_session,
    .delete_session = f_delete_session, .list_sessions = f_list_sessions,
    .add_event = f_add_event, .get_events = f_get_events,
    .verify = file_verify, .wait_events = f_wait_events,
    .migrate = file_migrate,
    .save_runs = f_save_runs, .add_events = f_add_events, /* batched writes */
    .stats = file_stats, /* stats.c */
};

/* Checked by the core (open.c reads the canonical values). */
static const char *const file_variants[] = {NULL};
static const char *const file_sync_values[] = {"always", "none", NULL};
static const acp_option_spec file_options[] = {
    {.name = "sync", .type = ACP_OPT_ENUM, .values = file_sync_values, .default_value = "always",
     .doc = "always: fsync before a write is acknowledged; none: leave it to the system"},
    {.name = "create", .type = ACP_OPT_BOOLEAN, .default_value = "true",
     .doc = "false: fail with NOT_FOUND instead of creating a missing store"},
    {.name = NULL}};

ACP_PLUGIN_DEFINE_TYPED(file, ACP_STORAGE_PLUGIN_VERSION,
                        "Plain files: JSON documents and append-only event logs in a directory",
                        ACP_CAP_CONCURRENT | ACP_CAP_DURABLE | ACP_CAP_MULTIPROCESS |
                            ACP_CAP_FOLLOW | ACP_CAP_VERSIONS | ACP_CAP_RUN_FILTERS,
                        file_variants, file_options, &file_vtable)
