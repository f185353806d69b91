/* SPDX-License-Identifier: MIT */
/*
 * dirwatch.h - wait_events for backends whose appends write files in one
 * directory (file: the run's event log; sqlite: the database and its -wal).
 * Linux inotify: an idle follower sleeps in poll() and costs nothing.
 */
#ifndef ACP_PLUGINS_DIRWATCH_H
#define ACP_PLUGINS_DIRWATCH_H

#include <stddef.h>

#include "acp_storage_plugin.h"

/* The backend's own get_events. */
typedef acp_status (*dirwatch_look_fn)(acp_backend *b, const acp_event_query *q, acp_call *call);

/* The whole of a wait_events (acp_storage_plugin.h): watch directory dir
 * for writes, creations and renames of files whose name starts with
 * prefix (prefix_len bytes), then run look; while it emits nothing, sleep
 * until such a change, the call's deadline or its cancellation, and look
 * again.  Arming before the first look loses no append.  Errors: IO (the
 * watch could not be set up: e.g. fs.inotify.max_user_instances reached),
 * and what look reports.  Thread-safe: each thread has its own inotify
 * instance (kept between waits, closed when the thread ends). */
acp_status dirwatch_wait(acp_backend *b, const acp_plugin_host *h, const char *dir,
                         const char *prefix, size_t prefix_len, dirwatch_look_fn look,
                         const acp_event_query *q, acp_call *call);

#endif
