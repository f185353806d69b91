/* SPDX-License-Identifier: MIT */
/*
 * query.h - a list_runs query over the file backend's index: which trees
 * of runs it reads, each cut by rank to the query's time range and cursor,
 * their total and their merged page.
 *
 * Every filter the index keeps a tree for costs O(log n) for its total and
 * O(log n) per run of a page: agent, session, both, and with statuses the
 * trees of (status[, agent][, session]) groups, one per wanted status,
 * merged in list order.  A time range is two ranks in each tree, because
 * every tree is ordered by creation time.  Not thread-safe: the caller
 * holds the index's lock (ix_mu) from iq_init to its last iq_page.
 */
#ifndef ACP_FILE_QUERY_H
#define ACP_FILE_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "acp_storage_plugin.h"
#include "index.h"

/* More trees than there are ACP run statuses. */
#define IQ_MAX_SOURCES 8

/* One tree, cut to the ranks [lo, hi): the runs in the time range after
 * the cursor.  tlo: where the time range starts, ignoring the cursor (for
 * the total). */
typedef struct iq_source {
    const tnode *t;
    int slot;
    size_t tlo, lo, hi;
} iq_source;

typedef struct iquery {
    iq_source src[IQ_MAX_SOURCES];
    size_t n;
} iquery;

/*
 * The trees of q's filters in ix.  after (not NULL): continue strictly
 * after that position instead of q's cursor (a page that skipped runs
 * whose files had gone).  0; -1 when out of memory; -2 when q has more
 * statuses than IQ_MAX_SOURCES (the core never sends that many).
 */
int iq_init(iquery *iq, const findex *ix, const acp_run_query *q, const tkey *after);
/* The number of runs matching q's filters, whatever its cursor: O(1)
 * after iq_init. */
size_t iq_total(const iquery *iq);
/*
 * Up to want runs of the page in list order into out[], after skipping
 * skip runs; the sources advance past them, so calling again continues.
 * One tree: O(log n) per run, the skip included in one rank; several: a
 * merge, O(sources * log n) per run, skipped runs included.  Returns the
 * number written.
 */
size_t iq_page(iquery *iq, size_t skip, irun **out, size_t want);

#endif /* ACP_FILE_QUERY_H */
