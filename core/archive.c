/* SPDX-License-Identifier: MIT */
/*
 * archive.c - acp_store_archive(): batches of the backend's archive method
 * (the archive backend's hot-to-cold moves) until one comes back short,
 * the limit is reached or the caller stops.
 */
#include <inttypes.h>
#include <stdio.h>

#include "internal.h"

#define ARCHIVE_BATCH 100

ACP_API acp_status acp_store_archive(acp_store *s, int64_t limit, acp_archive_progress_fn fn,
                                     void *ctx, int64_t *count, acp_error *err)
{
    int64_t done = 0;
    if (count)
        *count = 0;
    if (!s)
        return acp__error(err, ACP_INVALID, "acp_store_archive: store must not be NULL");
    if (!ACP__HAS(s->desc, archive))
        return acp__error(err, ACP_UNSUPPORTED,
                          "%s: the store has no archive tiers (use archive:?hot=URI&cold=URI)",
                          s->desc->name);
    for (;;) {
        int64_t ask = ARCHIVE_BATCH;
        if (limit > 0 && limit - done < ask)
            ask = limit - done;
        if (ask <= 0)
            return ACP_OK;
        int64_t n = -1;
        acp_call call;
        acp__call_init(&call, NULL, s->timeout_ms);
        acp__enter(s);
        acp_status st = s->vt->archive(s->backend, ask, &n, &call);
        acp__leave(s);
        if (st == ACP_OK && (n < 0 || n > ask))
            snprintf(call.fault, sizeof call.fault,
                     "reported %" PRId64 " runs archived (limit %" PRId64 ")", n, ask);
        if (st == ACP_OK && n > 0)
            done += n;
        if (count)
            *count = done;
        if ((st = acp__call_finish(&call, st, s->desc->name, "archive", err)) != ACP_OK)
            return st;
        /* A short batch may have ended for the call's time: only an empty
         * one means that nothing is due. */
        if ((fn && fn(ctx, done)) || n == 0)
            return ACP_OK;
    }
}
