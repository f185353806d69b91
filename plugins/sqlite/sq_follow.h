/* SPDX-License-Identifier: MIT */
/* sq_follow.h - the SQLite backend's wait_events (follow.c). */
#ifndef ACP_SQLITE_FOLLOW_H
#define ACP_SQLITE_FOLLOW_H

#include "dirwatch.h"

/* wait_events for the database at db_path (as opened: relative paths are
 * taken from the working directory at the time of the wait): look (the
 * backend's get_events) until it emits, woken by writes to the database
 * or its -wal/-journal.  Errors: NOMEM, IO, and what look reports. */
acp_status sq_follow_wait(acp_backend *b, const acp_plugin_host *h, const char *db_path,
                          dirwatch_look_fn look, const acp_event_query *q, acp_call *call);

/* After a commit: make sure followers wake.  A commit's last write to the
 * -wal comes before SQLite publishes it in the shared-memory index, which
 * inotify cannot see; a follower woken by that write may look too early and
 * find nothing.  Touching the database's times afterwards (IN_ATTRIB) wakes
 * it again once the commit is visible.  Best effort: errors are ignored. */
void sq_follow_notify(const char *db_path);

#endif
