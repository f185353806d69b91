/* SPDX-License-Identifier: MIT */
/*
 * ostree.h - an intrusive order-statistic tree (a treap with subtree sizes
 * and parent links), the ordered index behind list_runs and list_sessions.
 *
 * What a listing backend needs, each O(log n) expected: insert, remove,
 * rank (how many entries sort before a cursor), select (the i-th entry),
 * size (a total) in O(1), and next (the following entry) in O(1) amortised,
 * so a page at any offset or cursor costs O(log n + page).
 *
 * Shared home: plugins/common/ holds code that more than one bundled
 * plugin may compile in (add ../common/ostree.c to its SOURCES and
 * ../common to its include path).  It is built from libc alone, like every
 * plugin, and is NOT an installed header: an installed header would be API
 * the project must keep stable for outside plugin authors, while this is a
 * private helper whose layout may change with any release.  Plugins link it
 * statically with hidden visibility, so two plugins that both carry it in
 * one process do not clash.
 *
 * Intrusive: an ost_node lives inside the caller's entry (one per tree the
 * entry is in), so the tree allocates nothing and no operation can fail.
 * Order: the caller's comparison, called with a node of the tree and a key
 * (the probe given to rank, or the key of the node being inserted).  Keys
 * must be unique within a tree.  Balance: each node draws a random priority
 * from the tree's generator, so the shape does not depend on the keys and
 * nobody can choose keys that unbalance it.
 *
 * Not thread-safe: the caller serialises writers and excludes readers
 * while it writes (a reader-writer lock around all trees is enough: reads
 * change nothing).
 */
#ifndef ACP_OSTREE_H
#define ACP_OSTREE_H

#include <stddef.h>
#include <stdint.h>

typedef struct ost_node {
    struct ost_node *l, *r, *up;
    uint32_t pri; /* heap order: a parent's priority is >= its children's */
    uint32_t cnt; /* nodes in this subtree: at most 2^32 - 1 per tree */
} ost_node;

typedef struct ost_tree {
    ost_node *root;
    uint64_t rng; /* xorshift64 state for priorities; never 0 */
} ost_tree;

/* < 0 when node n sorts before key, 0 when n has that key, > 0 after. */
typedef int (*ost_cmp)(const ost_node *n, const void *key);

/* An empty tree.  seed varies the priorities between trees (any value). */
void ost_init(ost_tree *t, uint64_t seed);

/* Add n, whose key is key (not in the tree yet: keys are unique). */
void ost_insert(ost_tree *t, ost_node *n, const void *key, ost_cmp cmp);

/* Take n, a node of t, out of t.  Needs no comparison. */
void ost_remove(ost_tree *t, ost_node *n);

static inline size_t ost_size(const ost_tree *t)
{
    return t->root ? t->root->cnt : 0;
}

/* Put n in the place of old, a node of t with the same key: O(1), and the
 * tree's shape is unchanged.  old is no longer in t afterwards. */
void ost_replace(ost_tree *t, ost_node *old, ost_node *n);

/* How many nodes sort before key; with inclusive, before or at key. */
size_t ost_rank(const ost_tree *t, const void *key, ost_cmp cmp, int inclusive);

/* The node at 0-based position i, or NULL when i >= ost_size(t). */
ost_node *ost_select(const ost_tree *t, size_t i);

/* The node after n, or NULL when n is the last. */
ost_node *ost_next(const ost_node *n);

#endif /* ACP_OSTREE_H */
