/* SPDX-License-Identifier: MIT */
/*
 * stats.c - the file backend's stats (acp-storage stats): figures from the
 * in-memory index and the file system, without reading the documents.
 *
 *   runs, by status, by agent   sizes of the index's trees (index.h): O(1)
 *                               each, under ix_mu as lists take it
 *   sessions                    size of the session tree
 *   events                      per run of the index, the sequence number
 *                               of its log's last record (sequences are
 *                               1, 2, 3, ... in file order, so the last one
 *                               is the count): a read of the log's tail,
 *                               found backwards from its end
 *   bytes                       st_size of the store's regular files (the
 *                               top folder, runs/, sessions/, events/; no
 *                               symbolic link followed, quarantine/ left out)
 *   schema_version              the FORMAT version
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_int.h"

/* Runs whose names are copied under ix_mu at a time: the lock is held for
 * microseconds, the logs are read without it. */
#define STATS_CHUNK 1000
/* The first read of a log's tail; doubled until its last record fits. */
#define TAIL_FIRST 4096

static const char seq_mark[] = "{\"seq\":";

/* The record starting at p[0..n) (n: up to the end of the log) if it is the
 * log's last whole one: whole and valid, and followed by nothing or by the
 * valid beginning of a record still being written (or torn by a writer
 * that died: readers stop there too). */
static int last_record_at(const char *p, size_t n, int64_t *seq)
{
    fmt_event e;
    size_t len;
    if (fmt_get_event(p, n, &e, &len) != 1)
        return 0;
    if (len < n) {
        fmt_event next;
        size_t need;
        if (fmt_get_event(p + len, n - len, &next, &need) != 0)
            return 0;
    }
    *seq = e.seq;
    return 1;
}

/* Read up to len bytes at off into buf; the bytes read, or -1 (errno). */
static ssize_t read_at(int fd, char *buf, size_t len, uint64_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* The last record's sequence in the window buf[0..len) that ends the log
 * and starts at offset start, or 0 when none is whole in it.  A record
 * starts the log or follows a newline; a document may hold "\n{"seq":"
 * too, so each candidate from the end backwards must pass the record
 * checks (framing and checksum) up to the end of the log.  One at buf[0]
 * is only known to start a record when buf starts the log. */
static int window_last_seq(const char *buf, size_t len, uint64_t start, int64_t *seq)
{
    for (size_t p = len; p-- > 0;) {
        if (buf[p] != '{' || (p == 0 && start > 0) || (p > 0 && buf[p - 1] != '\n'))
            continue;
        if (len - p >= sizeof seq_mark - 1 &&
            memcmp(buf + p, seq_mark, sizeof seq_mark - 1) == 0 &&
            last_record_at(buf + p, len - p, seq))
            return 1;
    }
    /* Nothing whole yet: the first record still being written (or torn). */
    fmt_event e;
    size_t need;
    *seq = 0;
    return start == 0 && fmt_get_event(buf, len, &e, &need) == 0;
}

/* The sequence of the last whole record of a log of `size` bytes (0: none),
 * from a window at its end, doubled until that record fits.  0, or an
 * errno (EBADMSG: no whole record ends the log). */
static int log_last_seq(int fd, uint64_t size, int64_t *seq)
{
    *seq = 0;
    uint64_t window = size < TAIL_FIRST ? size : TAIL_FIRST;
    while (size > 0) {
        uint64_t start = size - window;
        char *buf = malloc((size_t)window);
        if (!buf)
            return ENOMEM;
        ssize_t got = read_at(fd, buf, (size_t)window, start);
        if (got < 0) {
            int err = errno;
            free(buf);
            return err;
        }
        if ((uint64_t)got < window) { /* a torn tail cut meanwhile: look again */
            free(buf);
            size = start + (uint64_t)got;
            window = window < size ? window : size;
            continue;
        }
        int found = window_last_seq(buf, (size_t)window, start, seq);
        free(buf);
        if (found)
            return 0;
        if (start == 0)
            return EBADMSG;
        window = window > size / 2 ? size : window * 2;
    }
    return 0;
}

/* Events of run log <name>: the last sequence of events/<name>.log. */
static acp_status log_events(acp_backend *b, const char *name, size_t nlen, int64_t *events,
                             acp_call *call)
{
    char fname[FMT_NAME_BUF + 8];
    fs_ext_name(fname, name, nlen, ".log");
    struct stat sb;
    int fd = fs_open(b->ev_fd, fname, O_RDONLY, 0, &sb);
    if (fd < 0) {
        if (errno == ENOENT)
            return ACP_OK; /* no events yet, or deleted meanwhile */
        return file_err(b, call, ACP_IO, "events/", fname, "cannot open", errno);
    }
    int64_t seq;
    int err = log_last_seq(fd, (uint64_t)sb.st_size, &seq);
    close(fd);
    if (err == EBADMSG)
        return b->host->error(call, ACP_CORRUPT,
                              "%s/events/%s: no whole event record ends the log (acp-storage "
                              "verify tells more)",
                              b->path, fname);
    if (err)
        return file_err(b, call, err == ENOMEM ? ACP_NOMEM : ACP_IO, "events/", fname,
                        "cannot read", err);
    *events += seq;
    return ACP_OK;
}

/* A run's log name, copied out of the index. */
typedef struct logname {
    char name[FMT_NAME_BUF];
    size_t nlen;
} logname;

/* Up to STATS_CHUNK run names after position *after (the last key of the
 * previous chunk; its id is copied into after_id), under ix_mu. */
static size_t next_chunk(acp_backend *b, logname *out, tkey *after, char *after_id, int first)
{
    const tnode *t = b->ix.all_runs;
    size_t pos = first ? 0 : idx_rank(t, after, 1, 1), n = 0;
    for (const tnode *nd; n < STATS_CHUNK && (nd = idx_select(t, pos + n)) != NULL; n++) {
        const irun *r = irun_of(nd, T_ALL);
        out[n].nlen = r->link.key_len;
        memcpy(out[n].name, irun_name(r), r->link.key_len);
    }
    if (n) {
        const irun *last = irun_of(idx_select(t, pos + n - 1), T_ALL);
        memcpy(after_id, last->key.id, last->key.id_len);
        after->created_us = last->key.created_us;
        after->id = after_id;
        after->id_len = last->key.id_len;
    }
    return n;
}

/* Events of every run of the index, chunk by chunk. */
static acp_status count_events(acp_backend *b, int64_t *events, acp_call *call)
{
    logname *names = malloc(STATS_CHUNK * sizeof *names);
    if (!names)
        return b->host->error(call, ACP_NOMEM, "out of memory counting events");
    char after_id[ACP_FILE_ID_MAX + 1];
    tkey after = {0, after_id, 0};
    acp_status s = ACP_OK;
    for (int first = 1; s == ACP_OK; first = 0) {
        pthread_mutex_lock(&b->ix_mu);
        s = ilog_tail(b, 0, call);
        size_t n = s == ACP_OK ? next_chunk(b, names, &after, after_id, first) : 0;
        pthread_mutex_unlock(&b->ix_mu);
        for (size_t i = 0; i < n && s == ACP_OK; i++)
            s = log_events(b, names[i].name, names[i].nlen, events, call);
        if (n < STATS_CHUNK)
            break;
    }
    free(names);
    return s;
}

/* st_size of the regular files of the folder dfd (sub: its name in
 * messages). */
static acp_status folder_bytes(acp_backend *b, int dfd, const char *sub, int64_t *bytes,
                               acp_call *call)
{
    DIR *d = fs_open_dir(dfd);
    if (!d)
        return file_err(b, call, ACP_IO, sub, "", "cannot list", errno);
    acp_status s = ACP_OK;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        struct stat sb;
        if (fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
            if (S_ISREG(sb.st_mode))
                *bytes += (int64_t)sb.st_size;
        } else if (errno != ENOENT) { /* ENOENT: removed meanwhile */
            s = file_err(b, call, ACP_IO, sub, de->d_name, "cannot stat", errno);
            break;
        }
        errno = 0;
    }
    if (s == ACP_OK && errno)
        s = file_err(b, call, ACP_IO, sub, "", "cannot list", errno);
    closedir(d);
    return s;
}

/* Report every figure of one group kind's table (status or agent). */
static int report_groups(acp_backend *b, acp_call *call, int kind, const hmap *m)
{
    int bad = 0;
    char label[ACP_FILE_ID_MAX + 1];
    for (size_t i = 0; i < m->nb; i++)
        for (const hlink *l = m->b[i]; l; l = l->next) {
            const igroup *g = (const igroup *)l;
            size_t n = idx_size(g->root), len = g->text_len;
            if (n == 0 || len > ACP_FILE_ID_MAX)
                continue;
            memcpy(label, g->text, len);
            label[len] = '\0';
            bad |= b->host->stat(call, kind, label, (int64_t)n);
        }
    return bad;
}

/* The vtable's stats (acp_storage_plugin.h). */
acp_status file_stats(acp_backend *b, acp_call *call)
{
    if (b->host->size < offsetof(acp_plugin_host, stat) + sizeof b->host->stat || !b->host->stat)
        return ACP_UNSUPPORTED;
    pthread_mutex_lock(&b->ix_mu);
    acp_status s = ilog_tail(b, 0, call);
    int bad = 0;
    if (s == ACP_OK) {
        bad |= b->host->stat(call, ACP_STAT_RUNS, NULL, (int64_t)idx_size(b->ix.all_runs));
        bad |= report_groups(b, call, ACP_STAT_RUNS_BY_STATUS, &b->ix.groups[G_STATUS]);
        bad |= report_groups(b, call, ACP_STAT_RUNS_BY_AGENT, &b->ix.groups[G_AGENT]);
        bad |= b->host->stat(call, ACP_STAT_SESSIONS, NULL,
                             (int64_t)idx_size(b->ix.all_sessions));
    }
    pthread_mutex_unlock(&b->ix_mu);
    if (s != ACP_OK)
        return s;
    int64_t events = 0, bytes = 0;
    s = count_events(b, &events, call);
    if (s == ACP_OK)
        s = folder_bytes(b, b->dirfd, "", &bytes, call);
    if (s == ACP_OK)
        s = folder_bytes(b, b->runs_fd, "runs/", &bytes, call);
    if (s == ACP_OK)
        s = folder_bytes(b, b->sess_fd, "sessions/", &bytes, call);
    if (s == ACP_OK)
        s = folder_bytes(b, b->ev_fd, "events/", &bytes, call);
    if (s != ACP_OK)
        return s;
    bad |= b->host->stat(call, ACP_STAT_EVENTS, NULL, events);
    bad |= b->host->stat(call, ACP_STAT_BYTES, NULL, bytes);
    bad |= b->host->stat(call, ACP_STAT_SCHEMA_VERSION, NULL, b->format);
    return bad ? b->host->error(call, ACP_NOMEM, "out of memory reporting figures") : ACP_OK;
}
