/* SPDX-License-Identifier: MIT */
/*
 * ostree.c - the order-statistic treap of ostree.h.
 *
 * Iterative throughout (no recursion whose depth depends on luck):
 * insertion descends to a leaf and rotates the new node up while its
 * priority beats its parent's; removal rotates the node down to a leaf and
 * cuts it off.  Parent links make both work without comparisons after the
 * descent, and make ost_next a walk of the neighbouring nodes.
 */
#include "ostree.h"

static uint32_t size_of(const ost_node *n)
{
    return n ? n->cnt : 0;
}

static void recount(ost_node *n)
{
    n->cnt = 1 + size_of(n->l) + size_of(n->r);
}

/* Point whatever pointed at old (its parent's link, or the root) at new. */
static void relink(ost_tree *t, ost_node *parent, ost_node *old, ost_node *new)
{
    if (!parent)
        t->root = new;
    else if (parent->l == old)
        parent->l = new;
    else
        parent->r = new;
}

/* Rotate n above its parent p, keeping the order and both counts. */
static void rotate_up(ost_tree *t, ost_node *n)
{
    ost_node *p = n->up, *g = p->up;
    if (p->l == n) {
        p->l = n->r;
        if (n->r)
            n->r->up = p;
        n->r = p;
    } else {
        p->r = n->l;
        if (n->l)
            n->l->up = p;
        n->l = p;
    }
    p->up = n;
    n->up = g;
    relink(t, g, p, n);
    recount(p);
    recount(n);
}

void ost_init(ost_tree *t, uint64_t seed)
{
    t->root = NULL;
    /* splitmix64 of the seed: neighbouring seeds give unrelated streams. */
    uint64_t z = seed + UINT64_C(0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    z ^= z >> 31;
    t->rng = z ? z : 1;
}

static uint32_t next_pri(ost_tree *t)
{
    uint64_t x = t->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    t->rng = x;
    return (uint32_t)(x >> 32);
}

void ost_insert(ost_tree *t, ost_node *n, const void *key, ost_cmp cmp)
{
    ost_node *p = NULL, **link = &t->root;
    while (*link) {
        p = *link;
        p->cnt++; /* n will be below p */
        link = cmp(p, key) < 0 ? &p->r : &p->l;
    }
    n->l = n->r = NULL;
    n->up = p;
    n->cnt = 1;
    n->pri = next_pri(t);
    *link = n;
    while (n->up && n->up->pri < n->pri)
        rotate_up(t, n);
}

void ost_remove(ost_tree *t, ost_node *n)
{
    /* Down to a leaf: lift the child of higher priority above n each time,
     * so the heap order holds everywhere else. */
    while (n->l || n->r) {
        ost_node *c = !n->r || (n->l && n->l->pri > n->r->pri) ? n->l : n->r;
        rotate_up(t, c);
    }
    ost_node *p = n->up;
    relink(t, p, n, NULL);
    for (; p; p = p->up)
        p->cnt--;
    n->up = NULL;
}

void ost_replace(ost_tree *t, ost_node *old, ost_node *n)
{
    *n = *old;
    relink(t, n->up, old, n);
    if (n->l)
        n->l->up = n;
    if (n->r)
        n->r->up = n;
    old->up = old->l = old->r = NULL;
}

size_t ost_rank(const ost_tree *t, const void *key, ost_cmp cmp, int inclusive)
{
    size_t rank = 0;
    for (const ost_node *n = t->root; n;) {
        int c = cmp(n, key);
        if (c < 0 || (inclusive && c == 0)) {
            rank += size_of(n->l) + 1;
            n = n->r;
        } else {
            n = n->l;
        }
    }
    return rank;
}

ost_node *ost_select(const ost_tree *t, size_t i)
{
    ost_node *n = t->root;
    while (n) {
        size_t ls = size_of(n->l);
        if (i < ls) {
            n = n->l;
        } else if (i == ls) {
            return n;
        } else {
            i -= ls + 1;
            n = n->r;
        }
    }
    return NULL;
}

ost_node *ost_next(const ost_node *n)
{
    if (n->r) {
        n = n->r;
        while (n->l)
            n = n->l;
        return (ost_node *)n;
    }
    while (n->up && n == n->up->r)
        n = n->up;
    return n->up;
}
