/* SPDX-License-Identifier: MIT */
/*
 * follow.c - wait_events of the SQLite backend.  A commit in any process
 * writes the database's -wal file (or, in rollback-journal mode, the
 * database itself), so an inotify watch on the database's directory for
 * names starting with the database's name wakes a follower (dirwatch.c);
 * add_event also touches the database after each commit (sq_follow_notify).
 */
#define _POSIX_C_SOURCE 200809L /* utimensat */

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dirwatch.h"
#include "sq_follow.h"

void sq_follow_notify(const char *db_path)
{
    (void)utimensat(AT_FDCWD, db_path, NULL, 0);
}

acp_status sq_follow_wait(acp_backend *b, const acp_plugin_host *h, const char *db_path,
                          dirwatch_look_fn look, const acp_event_query *q, acp_call *call)
{
    const char *slash = strrchr(db_path, '/');
    const char *base = slash ? slash + 1 : db_path;
    size_t dlen = slash ? (size_t)(slash - db_path) : 0;
    char *dir = malloc(dlen + 2);
    if (!dir)
        return h->error(call, ACP_NOMEM, "out of memory following run '%s'", q->run_id);
    if (!slash)
        strcpy(dir, ".");
    else if (dlen == 0)
        strcpy(dir, "/");
    else {
        memcpy(dir, db_path, dlen);
        dir[dlen] = '\0';
    }
    acp_status st = dirwatch_wait(b, h, dir, base, strlen(base), look, q, call);
    free(dir);
    return st;
}
