/* SPDX-License-Identifier: MIT */
/*
 * copy.h - the pieces of copy, export and import (internal): a source
 * walks items in dump order (sessions, then each run followed by its
 * events) into a sink.  Sources: a store (copy.c), a dump (dump.c).
 * Sinks: a store (copy.c), a dump (dump.c).
 */
#ifndef ACP_CORE_COPY_H
#define ACP_CORE_COPY_H

#include "internal.h"

/* The report of one copy and the caller's callback. */
typedef struct acp__copy {
    acp_copy_report rep;
    acp_copy_fn fn;
    void *ctx;
} acp__copy;

void acp__copy_init(acp__copy *c, acp_copy_fn fn, void *ctx);
/* Progress to the callback; INVALID when it asked to stop. */
acp_status acp__copy_progress(acp__copy *c, acp_error *err);
/* One item not copied (kind "run" or "session"), counted as a conflict
 * (CONFLICT) and handed to the callback.  INVALID when it asked to stop. */
acp_status acp__copy_item(acp__copy *c, const char *kind, const char *id, acp_status st,
                          const char *msg, acp_error *err);

/* Where items go.  Events belong to the last run given. */
typedef struct acp__sink {
    void *self;
    acp_status (*begin)(void *self, const char *backend, int64_t sessions, int64_t runs,
                        acp_error *err);
    acp_status (*session)(void *self, const char *id, const char *doc, size_t len,
                          acp_error *err);
    acp_status (*run)(void *self, const char *id, int64_t created_us, const char *doc,
                      size_t len, acp_error *err);
    acp_status (*event)(void *self, int64_t seq, int64_t stored_us, const char *doc, size_t len,
                        acp_error *err);
    acp_status (*end)(void *self, acp_error *err);
} acp__sink;

/* Walk src into sink, counting in c. */
acp_status acp__walk_store(acp_store *src, const acp__sink *sink, acp__copy *c, acp_error *err);

/* The runs of src, each followed by its events, into sink (read ahead in
 * another thread: copy_read.c), counting in c.  Calls neither begin nor end. */
acp_status acp__walk_runs(acp_store *src, const acp__sink *sink, acp__copy *c, acp_error *err);

/* A sink writing into dst (flags ACP_COPY_*); free with acp__store_sink_free. */
acp_status acp__store_sink_new(acp_store *dst, unsigned flags, acp__copy *c, acp__sink *out,
                               acp_error *err);
void acp__store_sink_free(acp__sink *s);

/* Finish: CONFLICT when items were left out; the counts into report. */
acp_status acp__copy_outcome(acp__copy *c, acp_status st, acp_copy_report *report,
                             acp_error *err);

#endif /* ACP_CORE_COPY_H */
