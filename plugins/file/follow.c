/* SPDX-License-Identifier: MIT */
/*
 * follow.c - wait_events of the file backend: every append writes the
 * run's log events/<name>.log, so an inotify watch on events/ for that name
 * wakes a follower in any process on this machine (dirwatch.c).
 */
#define _GNU_SOURCE /* as the other files of the backend: file_int.h needs it */

#include <stdio.h>
#include <sys/types.h>
#include <string.h>

#include "dirwatch.h"
#include "file_int.h"

acp_status file_wait_events(acp_backend *b, const acp_event_query *q, dirwatch_look_fn look,
                            acp_call *call)
{
    char name[FMT_NAME_BUF + 8];
    size_t nlen = fmt_id_name(q->run_id, strlen(q->run_id), name);
    memcpy(name + nlen, ".log", 5);
    /* The directory this instance opened, whatever the working directory
     * or a rename did since; the trailing NUL makes the match exact. */
    char dir[40];
    snprintf(dir, sizeof dir, "/proc/self/fd/%d", b->ev_fd);
    return dirwatch_wait(b, b->host, dir, name, nlen + 5, look, q, call);
}
