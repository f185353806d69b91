/* SPDX-License-Identifier: MIT */
/*
 * follow.c - acp_event_follow: the checks and the call into a backend's
 * wait_events.  How a backend waits is its own (condition variable,
 * inotify, LISTEN/NOTIFY, pub/sub); the rules every follower relies on
 * (order, nothing twice, empty page on timeout or cancel) are checked here.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

#define FOLLOW_MAX_LIMIT 1000
#define FOLLOW_FOREVER_MS (100LL * 366 * 24 * 3600 * 1000)

ACP_API acp_status acp_event_follow(acp_store *s, const char *run_id, int64_t after_seq,
                                    int64_t limit, int64_t timeout_ms, acp_cancel *cancel,
                                    acp_page **out, acp_error *err)
{
    if (!s || !out)
        return acp__error(err, ACP_INVALID, "acp_event_follow: store and out must not be NULL");
    acp_status st = acp__id_check(run_id, "run_id", err);
    if (st != ACP_OK)
        return st;
    if (after_seq < 0)
        return acp__error(err, ACP_INVALID, "after_seq %" PRId64 " is negative", after_seq);
    if (limit < 1 || limit > FOLLOW_MAX_LIMIT)
        return acp__error(err, ACP_INVALID, "limit %" PRId64 " is out of range (1..%d)", limit,
                          FOLLOW_MAX_LIMIT);
    /* The wait runs alongside other calls: a backend that wants one thread
     * at a time cannot have a thread parked inside it. */
    if (!ACP__HAS(s->desc, wait_events) || s->serial)
        return acp__error(err, ACP_UNSUPPORTED, "%s: this backend cannot follow a run",
                          s->desc->name);
    acp_page *page = acp__page_new((size_t)limit);
    if (!page)
        return acp__error(err, ACP_NOMEM, "out of memory following run '%s'", run_id);
    page->events = 1;
    page->last_seq = after_seq;
    acp_event_query q = {.run_id = run_id, .after_seq = after_seq, .limit = limit, .offset = 0};
    acp_call call;
    /* The deadline is the wait's: < 0 (no limit), or more than a century
     * (which the microsecond clock could not add), maps to "none"; 0 to
     * the shortest one, so that the backend looks once and returns. */
    int64_t ms = timeout_ms < 0 || timeout_ms > FOLLOW_FOREVER_MS ? 0 : timeout_ms == 0 ? 1
                                                                                    : timeout_ms;
    acp__call_init(&call, page, ms);
    call.cancel = cancel;
    st = s->vt->wait_events(s->backend, &q, &call);
    if (call.watch.wake && !call.fault[0])
        snprintf(call.fault, sizeof call.fault, "returned from wait_events with a cancel watch "
                 "still registered");
    acp__host_cancel_unwatch(&call); /* never leave the call's node in the token */
    if ((st = acp__call_finish(&call, st, s->desc->name, "wait_events", err)) != ACP_OK) {
        acp_page_free(page);
        return st;
    }
    *out = page;
    return ACP_OK;
}
