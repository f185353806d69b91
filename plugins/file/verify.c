/* SPDX-License-Identifier: MIT */
/*
 * verify.c - the file backend's verify: read every document, every event
 * record and index.log; hand what reads back to the host (host->verify_item)
 * and report the rest (host->verify_damage), with what only this backend
 * sees: checksums, framing, stray files, a document under another id's
 * name.
 *
 * With ACP_VERIFY_QUARANTINE, damaged items move into
 * quarantine/<time>-<pid>/ inside the store (same folder names as the
 * store's), where they stay for the operator:
 *  - a document or a stray entry is renamed there, and the index forgets
 *    it;
 *  - an event log keeps its valid records in place and gets, for each
 *    damaged record, a placeholder with the same sequence number
 *    ({"type":"acp.quarantined",...}): sequence numbers that were handed
 *    out are never handed out again, and the run serves normally.  The
 *    original log is hard-linked into the quarantine first;
 *  - a damaged index.log is moved there and rebuilt from the documents.
 */
#define _GNU_SOURCE /* memmem */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "file_int.h"

#define QUARANTINE "quarantine"

typedef struct vctx {
    acp_backend *b;
    acp_call *call;
    uint32_t flags;
    int stop;       /* the host asked to stop */
    int qfd;        /* quarantine/<stamp>, or -1 until needed */
    char qname[64]; /* <stamp> */
} vctx;

/* quarantine/<stamp>/<sub> (sub "" for the folder itself), made on first
 * use.  A descriptor owned by the caller, or -1 with errno set. */
static int quarantine_dir(vctx *v, const char *sub)
{
    acp_backend *b = v->b;
    if (v->qfd < 0) {
        if (mkdirat(b->dirfd, QUARANTINE, 0777) != 0 && errno != EEXIST)
            return -1;
        int top = fs_open(b->dirfd, QUARANTINE, O_RDONLY | O_DIRECTORY, 0, NULL);
        if (top < 0)
            return -1;
        int e = mkdirat(top, v->qname, 0777) != 0 && errno != EEXIST ? errno : 0;
        if (!e) {
            v->qfd = fs_open(top, v->qname, O_RDONLY | O_DIRECTORY, 0, NULL);
            e = v->qfd < 0 ? errno : 0;
        }
        close(top);
        if (e) {
            errno = e;
            return -1;
        }
    }
    if (!sub[0])
        return dup(v->qfd);
    if (mkdirat(v->qfd, sub, 0777) != 0 && errno != EEXIST)
        return -1;
    return fs_open(v->qfd, sub, O_RDONLY | O_DIRECTORY, 0, NULL);
}

/* Report one damaged item; moved: its new place (relative to the store)
 * or NULL. */
static void damage(vctx *v, int kind, const char *key, int64_t seq, acp_status code,
                   const char *location, const char *reason, const char *moved)
{
    acp_damage d = {sizeof d, kind, key, seq, code, location, reason, moved};
    if (v->b->host->verify_damage(v->call, &d) != 0)
        v->stop = 1;
}

/* Move sub/name into the quarantine (rename); its new place goes to out.
 * 0 or an errno. */
static int move_aside(vctx *v, int dfd, const char *sub, const char *name, char *out,
                      size_t outsz)
{
    char folder[16];
    snprintf(folder, sizeof folder, "%.*s", (int)strlen(sub) - 1, sub); /* without '/' */
    int qd = quarantine_dir(v, folder);
    if (qd < 0)
        return errno;
    int e = renameat(dfd, name, qd, name) != 0 ? errno : 0;
    close(qd);
    if (!e)
        snprintf(out, outsz, QUARANTINE "/%s/%s%s", v->qname, sub, name);
    return e;
}

/* The run id behind an event log's name: the run document's, or the name
 * decoded (names of long ids are hashes: then the index's).  0 or -1. */
static int id_of_name(acp_backend *b, const char *name, size_t nlen, char *id)
{
    size_t n = 0;
    if (!memchr(name, '~', nlen)) {
        for (size_t i = 0; i < nlen && n < ACP_FILE_ID_MAX; i++) {
            if (name[i] == '%' && i + 2 < nlen) {
                unsigned v = 0;
                if (sscanf(name + i + 1, "%2x", &v) != 1)
                    return -1;
                id[n++] = (char)v;
                i += 2;
            } else {
                id[n++] = name[i];
            }
        }
        id[n] = '\0';
        char check[FMT_NAME_BUF];
        if (n && fmt_id_name(id, n, check) == nlen && memcmp(check, name, nlen) == 0)
            return 0;
        return -1;
    }
    pthread_mutex_lock(&b->ix_mu);
    irun *r = idx_run(&b->ix, name, nlen);
    if (r) {
        memcpy(id, r->key.id, r->key.id_len);
        id[r->key.id_len] = '\0';
    }
    pthread_mutex_unlock(&b->ix_mu);
    return r ? 0 : -1;
}

/* The names in folder dfd (sub/), but . and .., into names (to free). */
static acp_status list_folder(vctx *v, int dfd, const char *sub, namelist *names)
{
    acp_backend *b = v->b;
    DIR *d = fs_open_dir(dfd);
    if (!d)
        return file_err(b, v->call, ACP_IO, sub, "", "cannot list", errno);
    struct dirent *de;
    while ((errno = 0, de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            nl_add(names, de->d_name, strlen(de->d_name));
    int e = errno;
    closedir(d);
    if (e)
        return file_err(b, v->call, ACP_IO, sub, "", "cannot list", e);
    if (names->failed)
        return b->host->error(v->call, ACP_NOMEM, "out of memory checking %s/%s", b->path, sub);
    return ACP_OK;
}

/* ---- documents ---------------------------------------------------------- */

/* Check runs/ or sessions/: every *.json must be a regular file that
 * decodes, under the name of the id inside; anything else there (but
 * temporaries and delete intents) is stray. */
static acp_status verify_docs(vctx *v, int kind)
{
    acp_backend *b = v->b;
    int dfd = kind == K_RUN ? b->runs_fd : b->sess_fd;
    const char *sub = kind == K_RUN ? "runs/" : "sessions/";
    namelist names = {0};
    acp_status s = list_folder(v, dfd, sub, &names);
    for (size_t i = 0; s == ACP_OK && !v->stop && i < names.n; i++) {
        const char *nm = names.v[i];
        size_t len = strlen(nm), il = strlen(FILE_INTENT_EXT);
        if (strncmp(nm, FILE_TMP_PREFIX, strlen(FILE_TMP_PREFIX)) == 0 ||
            (kind == K_RUN && len > il && strcmp(nm + len - il, FILE_INTENT_EXT) == 0))
            continue; /* a save or delete under way, or its leftover */
        char loc[FMT_NAME_BUF + 32], moved[FMT_NAME_BUF + 128];
        snprintf(loc, sizeof loc, "%s%s", sub, nm);
        int isjson = len > 5 && nm[0] != '.' && strcmp(nm + len - 5, ".json") == 0;
        char *buf = NULL;
        size_t blen = 0;
        int err = isjson ? fs_read_at(dfd, nm, &buf, &blen, NULL) : FS_EBADTYPE;
        if (err == ENOENT)
            continue; /* deleted meanwhile */
        if (err == ENOMEM) {
            s = b->host->error(v->call, ACP_NOMEM, "out of memory checking %s/%s", b->path,
                               loc);
            break;
        }
        const char *why = NULL;
        acp_item it = {0};
        char nmb[FMT_NAME_BUF];
        if (!isjson) {
            why = "not a file the store writes";
        } else if (err == FS_EBADTYPE) {
            why = "not a regular file";
        } else if (err) {
            why = strerror(err);
        } else {
            fmt_run r;
            fmt_session se;
            fstr id;
            if (kind == K_RUN ? fmt_get_run(buf, blen, &r, &why)
                              : fmt_get_session(buf, blen, &se, &why)) {
                id.p = NULL;
            } else {
                why = NULL; /* the decoders leave a reason also on success */
                id = kind == K_RUN ? r.id : se.id;
                it.doc = kind == K_RUN ? r.doc.p : se.doc.p;
                it.doc_len = kind == K_RUN ? r.doc.len : se.doc.len;
                it.created_us = kind == K_RUN ? r.created_us : 0;
                if (id.len == 0 || id.len > ACP_FILE_ID_MAX || memchr(id.p, '\0', id.len) ||
                    fmt_id_name(id.p, id.len, nmb) != len - 5 || memcmp(nmb, nm, len - 5)) {
                    why = "the id inside does not belong to this file name";
                } else {
                    /* id is followed by other bytes of buf: copy it out */
                    char *key = malloc(id.len + 1);
                    if (!key) {
                        free(buf);
                        s = b->host->error(v->call, ACP_NOMEM, "out of memory checking %s",
                                           b->path);
                        break;
                    }
                    memcpy(key, id.p, id.len);
                    key[id.len] = '\0';
                    it.key = key;
                }
            }
        }
        if (!why) {
            if (b->host->verify_item(v->call, kind == K_RUN ? ACP_ITEM_RUN : ACP_ITEM_SESSION,
                                     &it) != 0)
                v->stop = 1;
            free((char *)it.key);
            free(buf);
            continue;
        }
        free(buf);
        const char *to = NULL;
        if (v->flags & ACP_VERIFY_QUARANTINE && !b->ro_errno) {
            int me = move_aside(v, dfd, sub, nm, moved, sizeof moved);
            if (me == 0) {
                to = moved;
                if (isjson) /* the index forgets it */
                    s = repair_one(b, kind, nm, len - 5, v->call);
            } else {
                b->host->log(1, FILE_PLUGIN, "%s/%s: cannot move into the quarantine: %s",
                             b->path, loc, strerror(me));
            }
        }
        char key[ACP_FILE_ID_MAX + 1];
        int known = isjson && id_of_name(b, nm, len - 5, key) == 0;
        damage(v, !isjson ? ACP_ITEM_OTHER : kind == K_RUN ? ACP_ITEM_RUN : ACP_ITEM_SESSION,
               known ? key : NULL, 0, err && err != FS_EBADTYPE ? ACP_IO : ACP_CORRUPT, loc, why,
               to);
    }
    nl_free(&names);
    return s;
}

/* ---- event logs --------------------------------------------------------- */

/* The placeholder that takes the number of a damaged record. */
static void put_placeholder(fbuf *out, int64_t seq, int64_t stored_us, const char *moved)
{
    fbuf doc = {0};
    fbuf_lit(&doc, "{\"type\":\"acp.quarantined\",\"moved_to\":");
    fbuf_jstr(&doc, moved, strlen(moved));
    fbuf_lit(&doc, "}");
    fmt_event e = {seq, stored_us, {doc.p, doc.len}};
    if (doc.failed)
        out->failed = 1;
    else
        fmt_put_event(out, &e);
    fbuf_free(&doc);
}

/* Where the next whole record with a sequence above `after` starts in
 * p[from..n), or n. */
static size_t next_record(const char *p, size_t n, size_t from, int64_t after)
{
    static const char mark[] = "{\"seq\":";
    while (from < n) {
        const char *hit = memmem(p + from, n - from, mark, sizeof mark - 1);
        if (!hit)
            return n;
        size_t at = (size_t)(hit - p), rl;
        fmt_event e;
        if (fmt_get_event(p + at, n - at, &e, &rl) == 1 && e.seq > after)
            return at;
        from = at + 1;
    }
    return n;
}

/* Check one log whose contents are p[0..n); with quarantine, build the
 * repaired log in out.  Returns the number of damaged records. */
static int64_t check_log(vctx *v, const char *run_id, const char *loc, const char *p, size_t n,
                         fbuf *out, const char *moved)
{
    int64_t expect = 1, last_us = 0, bad = 0;
    size_t pos = 0;
    while (pos < n && !v->stop) {
        fmt_event e;
        size_t rl = 0;
        int rc = fmt_get_event(p + pos, n - pos, &e, &rl);
        const char *why = NULL;
        if (rc == 1 && e.seq != expect)
            why = "it has another sequence number";
        else if (rc == 1 && !fmt_event_doc_ok(e.doc.p, e.doc.len))
            why = "its document is not an object with a type";
        else if (rc == 0 && !fmt_ends_whole(p + pos, n - pos))
            break; /* a torn tail: never acknowledged, the next append cuts it */
        else if (rc != 1)
            why = "its checksum or framing is wrong";
        if (!why) {
            acp_item it = {0};
            it.doc = e.doc.p;
            it.doc_len = e.doc.len;
            it.key = run_id;
            it.seq = e.seq;
            it.stored_us = e.stored_us;
            if (v->b->host->verify_item(v->call, ACP_ITEM_EVENT, &it) != 0)
                v->stop = 1;
            fbuf_put(out, p + pos, rl);
            last_us = e.stored_us;
            expect++;
            pos += rl;
            continue;
        }
        /* The damaged span runs to the next whole record numbered above
         * it; the numbers in between were handed out (or may have been). */
        size_t next = next_record(p, n, pos + 1, expect - 1);
        int64_t upto = expect;
        if (next < n) {
            fmt_event ne;
            size_t nrl;
            fmt_get_event(p + next, n - next, &ne, &nrl);
            upto = ne.seq > expect ? ne.seq - 1 : expect;
        }
        char reason[160];
        snprintf(reason, sizeof reason, "%s (offset %zu)", why, pos);
        for (int64_t s = expect; s <= upto; s++) {
            damage(v, ACP_ITEM_EVENT, run_id, s, ACP_CORRUPT, loc, reason, moved);
            put_placeholder(out, s, last_us, moved ? moved : "");
            bad++;
        }
        expect = upto + 1;
        pos = next;
    }
    return bad;
}

/* Replace events/<lname> by out (its lock held), a copy of the original
 * orig[0..olen) going into the quarantine first.  A copy, not a link: the
 * old file must end with no name, which is how appenders of every process
 * that hold it open learn to reopen the log.  0 or an errno. */
static int replace_log(vctx *v, const char *lname, const char *orig, size_t olen,
                       const fbuf *out)
{
    acp_backend *b = v->b;
    if (out->failed)
        return ENOMEM;
    int qd = quarantine_dir(v, "events");
    if (qd < 0)
        return errno;
    int e = 0;
    int cfd = fs_open(qd, lname, O_WRONLY | O_CREAT | O_EXCL, 0644, NULL);
    if (cfd < 0)
        e = errno;
    if (!e)
        e = file_write_all(cfd, orig, olen);
    if (!e && fdatasync(cfd) != 0)
        e = errno;
    if (cfd >= 0)
        close(cfd);
    close(qd);
    char tmp[64];
    int fd = e ? -1 : fs_create_tmp(b, b->ev_fd, "verify-", tmp, O_WRONLY);
    if (!e && fd < 0)
        e = errno;
    if (!e)
        e = file_write_all(fd, out->p, out->len);
    if (!e && fdatasync(fd) != 0)
        e = errno;
    if (!e && renameat(b->ev_fd, tmp, b->ev_fd, lname) != 0)
        e = errno;
    if (!e && fsync(b->ev_fd) != 0)
        e = errno;
    if (fd >= 0) {
        if (e)
            unlinkat(b->ev_fd, tmp, 0);
        close(fd);
    }
    return e;
}

/* Keep appenders of every process out of events/<lname> (see
 * ev_log_lock; where no lock table is mapped, they flock() the log).
 * *lfd: the descriptor holding the flock, or -1.  0 or an errno. */
static int log_lock(vctx *v, const char *lname, size_t nlen, int *lfd)
{
    acp_backend *b = v->b;
    *lfd = -1;
    if (b->shm)
        return ev_log_lock(b, lname, nlen, v->call);
    *lfd = fs_open(b->ev_fd, lname, O_RDONLY, 0, NULL);
    if (*lfd < 0)
        return errno == ENOENT ? 0 : errno;
    int e = fs_flock(*lfd, LOCK_EX, fs_deadline(b, v->call));
    if (e) {
        close(*lfd);
        *lfd = -1;
    }
    return e;
}

static void log_unlock(vctx *v, const char *lname, size_t nlen, int lfd)
{
    if (v->b->shm)
        ev_log_unlock(v->b, lname, nlen);
    if (lfd >= 0)
        close(lfd); /* drops the flock */
}

static acp_status verify_events(vctx *v)
{
    acp_backend *b = v->b;
    namelist names = {0};
    acp_status s = list_folder(v, b->ev_fd, "events/", &names);
    for (size_t i = 0; s == ACP_OK && !v->stop && i < names.n; i++) {
        const char *nm = names.v[i];
        size_t len = strlen(nm);
        if (strncmp(nm, FILE_TMP_PREFIX, strlen(FILE_TMP_PREFIX)) == 0)
            continue;
        char loc[FMT_NAME_BUF + 32], moved[FMT_NAME_BUF + 128];
        snprintf(loc, sizeof loc, "events/%s", nm);
        int islog = len > 4 && nm[0] != '.' && strcmp(nm + len - 4, ".log") == 0;
        char id[ACP_FILE_ID_MAX + 1];
        int known = islog && id_of_name(b, nm, len - 4, id) == 0;
        /* Repairs happen under the log's lock, from what is read under it:
         * no append may slip in between. */
        int q = islog && known && v->flags & ACP_VERIFY_QUARANTINE && !b->ro_errno;
        int lfd = -1, lk = q ? log_lock(v, nm, len - 4, &lfd) : 0;
        if (lk) {
            s = file_err(b, v->call, ACP_IO, "events/", nm, "cannot lock", lk);
            break;
        }
        char *buf = NULL;
        size_t n = 0;
        int err = islog ? fs_read_at(b->ev_fd, nm, &buf, &n, NULL) : FS_EBADTYPE;
        if (err && q)
            log_unlock(v, nm, len - 4, lfd);
        if (err == ENOENT)
            continue;
        if (err == ENOMEM) {
            s = b->host->error(v->call, ACP_NOMEM, "out of memory checking %s/%s", b->path, loc);
            break;
        }
        if (err || !known) {
            const char *to = NULL;
            if (v->flags & ACP_VERIFY_QUARANTINE && !b->ro_errno &&
                move_aside(v, b->ev_fd, "events/", nm, moved, sizeof moved) == 0)
                to = moved;
            damage(v, islog ? ACP_ITEM_EVENT : ACP_ITEM_OTHER, known ? id : NULL, 0,
                   err && err != FS_EBADTYPE ? ACP_IO : ACP_CORRUPT, loc,
                   !islog               ? "not a file the store writes"
                   : err == FS_EBADTYPE ? "not a regular file"
                   : err                ? strerror(err)
                                        : "no run id maps to this file name",
                   to);
            free(buf);
            continue;
        }
        snprintf(moved, sizeof moved, QUARANTINE "/%s/events/%s", v->qname, nm);
        fbuf out = {0};
        int64_t bad = check_log(v, id, loc, buf, n, &out, q ? moved : NULL);
        if (bad && q) {
            int re = replace_log(v, nm, buf, n, &out);
            if (re)
                s = file_err(b, v->call, ACP_IO, "events/", nm,
                             "cannot put the repaired log in place of", re);
        }
        if (q)
            log_unlock(v, nm, len - 4, lfd);
        fbuf_free(&out);
        free(buf);
    }
    nl_free(&names);
    return s;
}

/* ---- index.log ------------------------------------------------------------ */

static acp_status verify_index(vctx *v)
{
    acp_backend *b = v->b;
    char *buf = NULL;
    size_t n = 0;
    int err = fs_read_at(b->dirfd, "index.log", &buf, &n, NULL);
    if (err == ENOENT)
        return ACP_OK;
    const char *why = NULL;
    char reason[128];
    if (err == ENOMEM)
        return b->host->error(v->call, ACP_NOMEM, "out of memory checking %s/index.log",
                              b->path);
    if (err) {
        why = err == FS_EBADTYPE ? "not a regular file" : strerror(err);
    } else {
        size_t pos = 0;
        while (pos < n && !why) {
            char *nl = memchr(buf + pos, '\n', n - pos);
            if (!nl)
                break; /* a torn tail: the next append cuts it */
            size_t len = (size_t)(nl - (buf + pos)) + 1;
            fmt_index_rec r;
            const char *w;
            if (fmt_get_index(buf + pos, len, &r, &w) != 0) {
                snprintf(reason, sizeof reason, "damaged record at offset %zu (%s)", pos, w);
                why = reason;
            }
            pos += len;
        }
    }
    free(buf);
    if (!why)
        return ACP_OK;
    const char *to = NULL;
    char moved[128];
    acp_status s = ACP_OK;
    if (v->flags & ACP_VERIFY_QUARANTINE && !b->ro_errno) {
        int qd = quarantine_dir(v, "");
        if (qd >= 0) {
            s = ilog_set_aside(b, qd, "index.log", v->call);
            close(qd);
            if (s == ACP_OK) {
                snprintf(moved, sizeof moved, QUARANTINE "/%s/index.log", v->qname);
                to = moved;
                /* Rebuilt from the documents, as at open. */
                s = repair_dir(b, K_RUN, v->call);
                if (s == ACP_OK)
                    s = repair_dir(b, K_SESSION, v->call);
            }
        }
    }
    damage(v, ACP_ITEM_INDEX, NULL, 0, err && err != FS_EBADTYPE ? ACP_IO : ACP_CORRUPT,
           "index.log", why, to);
    return s;
}

acp_status file_verify(acp_backend *b, uint32_t flags, acp_call *call)
{
    vctx v = {b, call, flags, 0, -1, ""};
    /* The quarantine's name is known from the start (so that placeholders
     * can name it); the folder is made only when something moves. */
    struct tm tm;
    time_t now = time(NULL);
    gmtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(v.qname, sizeof v.qname, "%s-%ld", stamp, (long)getpid());
    acp_status s = verify_index(&v);
    if (s == ACP_OK && !v.stop)
        s = verify_docs(&v, K_RUN);
    if (s == ACP_OK && !v.stop)
        s = verify_docs(&v, K_SESSION);
    if (s == ACP_OK && !v.stop)
        s = verify_events(&v);
    if (v.qfd >= 0)
        close(v.qfd);
    return s;
}
