/* SPDX-License-Identifier: MIT */
/*
 * repair.c - bring index.log in line with the documents: at open, every
 * document folder is compared with the in-memory index (by inode number,
 * which every rename changes) and whatever a crash or a restore from
 * backup left behind is re-read from the documents; leftover temporary
 * files and interrupted deletes are cleaned up.
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

/* Temporary files younger than this are left alone: their writer may be
 * between creating and locking them. */
#define TMP_MIN_AGE_S 60

/* ---- repairs: bring the index in line with the documents ---------------------- */

/* Make index.log describe dfd/<base>.json as it is now (stripe lock taken
 * here).  Damaged files are left out of the index with a warning: reading
 * them reports CORRUPT. */
acp_status repair_one(acp_backend *b, int kind, const char *base, size_t blen,
                             acp_call *call)
{
    int dfd = kind == K_RUN ? b->runs_fd : b->sess_fd;
    const char *sub = kind == K_RUN ? "runs/" : "sessions/";
    char fname[FMT_NAME_BUF + 8];
    fs_ext_name(fname, base, blen, ".json");
    unsigned sp = doc_stripe_of((char)kind, base, blen);
    acp_status s = doc_lock(b, sp, call);
    if (s != ACP_OK)
        return s;

    /* What the index says now. */
    char id[ACP_FILE_ID_MAX + 1];
    size_t id_len = 0;
    int have = 0, known = 1;
    uint64_t ino = 0;
    pthread_mutex_lock(&b->ix_mu);
    s = ilog_tail(b, 0, call);
    if (kind == K_RUN) {
        irun *r = idx_run(&b->ix, base, blen);
        if (r) {
            have = 1;
            /* An entry without a status (index.log of FORMAT 2) is re-read. */
            known = r->g[G_STATUS] != NULL;
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
    pthread_mutex_unlock(&b->ix_mu);
    if (s != ACP_OK)
        goto out;

    char *buf = NULL;
    size_t len = 0;
    uint64_t fino = 0;
    int err = fs_read_at(dfd, fname, &buf, &len, &fino);
    fbuf rec = {0};
    if (err == ENOENT) {
        if (have) {
            fmt_index_rec d = {kind == K_RUN ? FMT_OP_DELRUN : FMT_OP_DELSESSION,
                               {id, id_len}, {NULL, 0}, {NULL, 0}, 0, 0, {NULL, 0}};
            idx_change c;
            if ((s = ilog_prepare(b, &d, base, blen, &rec, &c, call)) == ACP_OK)
                ilog_publish(b, &rec, &c, call);
        }
    } else if (err == FS_EBADTYPE) {
        /* A stray folder, link or FIFO: one bad item must not keep the
         * store from opening.  Reading that id reports CORRUPT, and so
         * does a list that meets it (the index keeps what it had). */
        b->host->log(1, FILE_PLUGIN, "%s/%s%s: not a regular file; left as it is", b->path,
                     sub, fname);
    } else if (err) {
        s = file_err(b, call, err == ENOMEM ? ACP_NOMEM : ACP_IO, sub, fname, "cannot read",
                     err);
    } else if (!(have && fino == ino && known)) {
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
                put.status = r.status;
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
            if ((s = ilog_prepare(b, &put, base, blen, &rec, &c, call)) == ACP_OK)
                ilog_publish(b, &rec, &c, call);
        } else {
            b->host->log(1, FILE_PLUGIN, "%s/%s%s: damaged (%s); left out of the index",
                         b->path, sub, fname, why);
        }
    }
    fbuf_free(&rec);
    free(buf);
out:
    doc_unlock(b, sp);
    return s;
}

/* Remove a temporary file left by a writer that died. */
void repair_clean_tmp(acp_backend *b, int dfd, const char *name)
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

/* Compare one document directory with the index and repair differences;
 * in runs/, finish the deletes that a crash interrupted. */
acp_status repair_dir(acp_backend *b, int kind, acp_call *call)
{
    int dfd = kind == K_RUN ? b->runs_fd : b->sess_fd;
    const char *sub = kind == K_RUN ? "runs/" : "sessions/";
    DIR *d = fs_open_dir(dfd);
    if (!d)
        return file_err(b, call, ACP_IO, sub, "", "cannot list", errno);
    namelist suspects = {0}, tmps = {0}, intents = {0};
    pthread_mutex_lock(&b->ix_mu);
    uint32_t gen = ++b->scan_gen;
    acp_status s = ilog_tail(b, 0, call);
    struct dirent *de;
    while (s == ACP_OK && (errno = 0, de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        size_t len = strlen(nm);
        if (strncmp(nm, FILE_TMP_PREFIX, strlen(FILE_TMP_PREFIX)) == 0) {
            nl_add(&tmps, nm, len);
            continue;
        }
        size_t il = strlen(FILE_INTENT_EXT);
        if (kind == K_RUN && len > il && nm[0] != '.' && strcmp(nm + len - il, FILE_INTENT_EXT) == 0) {
            nl_add(&intents, nm, len - il);
            continue;
        }
        if (len <= 5 || nm[0] == '.' || strcmp(nm + len - 5, ".json") != 0)
            continue;
        size_t blen = len - 5;
        uint64_t ino = 0;
        uint32_t *mark = NULL;
        int known = 1;
        if (kind == K_RUN) {
            irun *r = idx_run(&b->ix, nm, blen);
            if (r) {
                ino = r->ino;
                mark = &r->mark;
                known = r->g[G_STATUS] != NULL; /* else indexed by FORMAT 2 */
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
            if (known && ((uint64_t)de->d_ino == ino || (fstatat(dfd, nm, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                                                         (uint64_t)st.st_ino == ino)))
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
    pthread_mutex_unlock(&b->ix_mu);
    closedir(d);
    if (s == ACP_OK && (suspects.failed || tmps.failed || intents.failed))
        s = b->host->error(call, ACP_NOMEM, "out of memory checking %s/%s", b->path, sub);
    if (s == ACP_OK && suspects.n)
        b->host->log(2, FILE_PLUGIN, "%s/%s: %zu file(s) differ from index.log; updating it",
                     b->path, sub, suspects.n);
    for (size_t i = 0; s == ACP_OK && i < suspects.n; i++)
        s = repair_one(b, kind, suspects.v[i], strlen(suspects.v[i]), call);
    for (size_t i = 0; s == ACP_OK && i < tmps.n; i++)
        repair_clean_tmp(b, dfd, tmps.v[i]);
    for (size_t i = 0; s == ACP_OK && i < intents.n; i++) {
        /* The store stays usable when this fails: readers treat the run as
         * deleted, and the next open tries again. */
        if (intent_finish_locking(b, intents.v[i], strlen(intents.v[i]), NULL) != ACP_OK)
            b->host->log(1, FILE_PLUGIN, "%s/runs/%s" FILE_INTENT_EXT ": cannot finish an "
                         "interrupted delete yet",
                         b->path, intents.v[i]);
    }
    nl_free(&suspects);
    nl_free(&tmps);
    nl_free(&intents);
    return s;
}

/* A damaged index.log is set aside (for the operator) and rebuilt from the
 * documents by repair_dir(). */
