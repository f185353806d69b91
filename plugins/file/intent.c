/* SPDX-License-Identifier: MIT */
/*
 * intent.c - the two-step delete of a run (runs/<name>.deleting) and the
 * finishing of deletes that a crash or a failure left half done.
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
acp_status intent_finish_delete(acp_backend *b, const char *name, size_t nlen, int *had_log,
                                acp_call *call)
{
    char intent[FMT_NAME_BUF + 16];
    fs_ext_name(intent, name, nlen, FILE_INTENT_EXT);
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
        fs_ext_name(lname, name, nlen, ".log");
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

int intent_exists(acp_backend *b, const char *name, size_t nlen, char *intent)
{
    char own[FMT_NAME_BUF + 16];
    if (!intent)
        intent = own;
    fs_ext_name(intent, name, nlen, FILE_INTENT_EXT);
    struct stat sb;
    if (fstatat(b->runs_fd, intent, &sb, AT_SYMLINK_NOFOLLOW) == 0)
        return 1;
    return errno == ENOENT ? 0 : -1;
}

/* Finish a leftover delete of run <name>, if there is one (stripe lock held). */
acp_status intent_finish(acp_backend *b, const char *name, size_t nlen, acp_call *call)
{
    if (intent_exists(b, name, nlen, NULL) <= 0)
        return ACP_OK;
    fbuf rec = {0};
    idx_change c;
    int had_log, listed = 0;
    acp_status s = ilog_forget_prepare(b, K_RUN, NULL, 0, name, nlen, &rec, &c, &listed, call);
    if (s != ACP_OK)
        return s;
    s = intent_finish_delete(b, name, nlen, &had_log, call);
    /* Also after a failure: the intent says the run is deleted. */
    ilog_forget_publish(b, 0, listed, &rec, &c);
    if (s == ACP_OK)
        b->host->log(2, FILE_PLUGIN, "%s/runs/%s" FILE_INTENT_EXT ": finished an interrupted delete",
                     b->path, name);
    return s;
}

/* The same, taking the stripe lock. */
acp_status intent_finish_locking(acp_backend *b, const char *name, size_t nlen,
                                          acp_call *call)
{
    unsigned sp = doc_stripe_of(K_RUN, name, nlen);
    acp_status s = doc_lock(b, sp, call);
    if (s != ACP_OK)
        return s;
    s = intent_finish(b, name, nlen, call);
    doc_unlock(b, sp);
    return s;
}
