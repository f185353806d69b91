/* SPDX-License-Identifier: MIT */
/*
 * mem_stats.c - the memory backend's stats: figures from the trees and
 * tables, without reading a document.
 */
#define _POSIX_C_SOURCE 200809L /* pthread_rwlock_t (mem.h) under -std=c11 */

#include <string.h>

#include "mem.h"

/* The longest agent name (ACP_ID_MAX). */
enum { LABEL_MAX = 256 };

/* Every node of a table, in bucket order. */
#define TABLE_EACH(t, e)                                                                        \
    for (size_t bi_ = 0; bi_ < (t)->nbuckets; bi_++)                                            \
        for (node *e = (t)->buckets[bi_]; e; e = e->next) /* NOLINT(bugprone-macro-parentheses): e is the name it declares */

/* One figure, with the label given by its length (group keys are not
 * NUL-terminated).  Non-zero: the host is out of memory. */
static int stat_of(acp_backend *b, acp_call *call, int kind, const char *key, size_t len,
                   int64_t v)
{
    char label[LABEL_MAX + 1];
    if (key) {
        len = len < LABEL_MAX ? len : LABEL_MAX;
        memcpy(label, key, len);
        label[len] = '\0';
    }
    return b->host->stat(call, kind, key ? label : NULL, v);
}

/* Figures from the trees and tables: runs, per status and per agent from
 * the group trees' sizes; sessions from their table; events and bytes from
 * the stream and record headers (no document is read). */
acp_status mem_stats(acp_backend *b, acp_call *call)
{
    if (b->host->size < offsetof(acp_plugin_host, stat) + sizeof b->host->stat || !b->host->stat)
        return ACP_UNSUPPORTED;
    int bad = 0;
    int64_t events = 0, bytes = (int64_t)sizeof *b;
    pthread_rwlock_rdlock(&b->lock);
    bad |= stat_of(b, call, ACP_STAT_RUNS, NULL, 0, (int64_t)ost_size(&b->all_runs));
    TABLE_EACH(&b->groups[G_STATUS], e)
    bad |= stat_of(b, call, ACP_STAT_RUNS_BY_STATUS, e->key, e->key_len,
                   (int64_t)ost_size(&((group *)e)->runs));
    TABLE_EACH(&b->groups[G_AGENT], e)
    bad |= stat_of(b, call, ACP_STAT_RUNS_BY_AGENT, e->key, e->key_len,
                   (int64_t)ost_size(&((group *)e)->runs));
    bad |= stat_of(b, call, ACP_STAT_SESSIONS, NULL, 0, (int64_t)b->sessions.count);
    TABLE_EACH(&b->runs, e)
    bytes += (int64_t)(record_index_offset(e->key_len, ((record *)e)->doc_len) +
                       sizeof(run_index));
    TABLE_EACH(&b->sessions, e)
    bytes += (int64_t)(record_index_offset(e->key_len, ((record *)e)->doc_len) +
                       sizeof(session_index));
    TABLE_EACH(&b->streams, e) {
        const stream *sm = (const stream *)e;
        events += (int64_t)sm->len;
        bytes += (int64_t)(sizeof *sm + e->key_len + sm->cap * sizeof *sm->ev);
        for (size_t i = 0; i < sm->len; i++)
            bytes += (int64_t)sm->ev[i].doc_len + 1;
    }
    pthread_rwlock_unlock(&b->lock);
    bad |= stat_of(b, call, ACP_STAT_EVENTS, NULL, 0, events);
    bad |= stat_of(b, call, ACP_STAT_BYTES, NULL, 0, bytes);
    return bad ? b->host->error(call, ACP_NOMEM, "out of memory reporting figures") : ACP_OK;
}
