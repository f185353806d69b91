/* SPDX-License-Identifier: MIT */
/*
 * flushgroup.h - one flush shared by every writer that needs it (group
 * commit), for flushes that cover whatever was done before they started,
 * like fsync() of a directory after renames into it.
 */
#ifndef ACP_FILE_FLUSHGROUP_H
#define ACP_FILE_FLUSHGROUP_H

#include <pthread.h>
#include <stdint.h>

/* Writers that made their change call fg_flush(); one of them at a time
 * runs the flush for all that arrived before it started, the others wait
 * for it (or, if they arrived after it started, for the next one).  Each
 * flush's batch is the tickets (lo, hi] taken before it started; every
 * writer of the batch gets that flush's result before the next flush may
 * start, so a failed flush fails exactly the writers it had to cover. */
typedef struct flush_group {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t issued;   /* tickets handed out */
    uint64_t done;     /* tickets up to this have their result */
    uint64_t unread;   /* tickets of the last batch not yet told */
    int batch_err;     /* the last batch's result: 0 or an errno */
    int flushing;
    uint64_t flushes;  /* flushes run (tests and figures) */
} flush_group;

/* 0 or an errno. */
int fg_init(flush_group *g);
void fg_destroy(flush_group *g);
/* Call after the change the flush must cover is made: returns when a
 * flush that started after this call began has ended, with its result
 * (0, or the errno flush(arg) returned).  flush returns 0 or an errno.
 * Thread-safe; any number of threads. */
int fg_flush(flush_group *g, int (*flush)(void *arg), void *arg);

#endif /* ACP_FILE_FLUSHGROUP_H */
