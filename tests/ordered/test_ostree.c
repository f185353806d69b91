/* SPDX-License-Identifier: MIT */
/*
 * test_ostree.c - the order-statistic tree of plugins/common against a
 * sorted array: random inserts and removals, then every invariant (order,
 * counts, parent links, heap order of priorities) and every query (size,
 * rank, select, next) compared with the model; entries are also replaced
 * in place (ost_replace) along the way.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "ostree.h"

#define N 3000

typedef struct ent {
    ost_node n;
    int key;
    int in;
} ent;

static int cmp_int(const ost_node *n, const void *key)
{
    int a = ((const ent *)n)->key, b = *(const int *)key;
    return (a > b) - (a < b);
}

static uint64_t rng = 12345;
static unsigned rnd(unsigned n)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)(rng >> 33) % n;
}

/* Walks the subtree, checking links, counts and heap order; returns its
 * size and appends its keys in order to out. */
static uint32_t check_subtree(const ost_node *n, const ost_node *up, int *out, size_t *k)
{
    if (!n)
        return 0;
    cr_assert_eq(n->up, up, "parent link of %d", ((const ent *)n)->key);
    if (up)
        cr_assert_leq(n->pri, up->pri, "heap order at %d", ((const ent *)n)->key);
    uint32_t c = check_subtree(n->l, n, out, k);
    out[(*k)++] = ((const ent *)n)->key;
    c += 1 + check_subtree(n->r, n, out, k);
    cr_assert_eq(n->cnt, c, "count at %d", ((const ent *)n)->key);
    return c;
}

static void check_against_model(const ost_tree *t, const ent *e)
{
    static int model[N], walk[N];
    size_t m = 0, k = 0;
    for (int i = 0; i < N; i++) /* e[i].key == 2 * i: the model is sorted */
        if (e[i].in)
            model[m++] = e[i].key;
    cr_assert_eq(check_subtree(t->root, NULL, walk, &k), m);
    cr_assert_eq(ost_size(t), m);
    for (size_t i = 0; i < m; i++)
        cr_assert_eq(walk[i], model[i], "in-order position %zu", i);
    /* select, and next from there to the end */
    for (size_t i = 0; i < m; i += 1 + rnd(40)) {
        const ost_node *n = ost_select(t, i);
        for (size_t j = i; j < m && j < i + 12; j++, n = ost_next(n)) {
            cr_assert_not_null(n, "select/next at %zu", j);
            cr_assert_eq(((const ent *)n)->key, model[j]);
        }
    }
    cr_assert_null(ost_select(t, m));
    if (m)
        cr_assert_null(ost_next(ost_select(t, m - 1)), "next of the last node");
    /* rank of present and absent keys (odd keys are never in the tree) */
    for (int probe = -1; probe <= 2 * N; probe += 1 + (int)rnd(17)) {
        size_t before = 0, at = 0;
        for (size_t i = 0; i < m; i++) {
            before += model[i] < probe;
            at += model[i] <= probe;
        }
        cr_assert_eq(ost_rank(t, &probe, cmp_int, 0), before, "rank of %d", probe);
        cr_assert_eq(ost_rank(t, &probe, cmp_int, 1), at, "inclusive rank of %d", probe);
    }
}

Test(ostree, matches_a_sorted_array_through_inserts_and_removals)
{
    static ent e[N];
    ost_tree t;
    ost_init(&t, 7);
    cr_assert_eq(ost_size(&t), 0);
    cr_assert_null(ost_select(&t, 0));
    for (int i = 0; i < N; i++)
        e[i].key = 2 * i;
    for (int round = 0; round < 12; round++) {
        /* Grow in early rounds, shrink in later ones, mixing both. */
        int ops = 700;
        for (int o = 0; o < ops; o++) {
            int i = (int)rnd(N);
            int grow = round < 6 ? rnd(4) != 0 : rnd(4) == 0;
            if (!e[i].in && grow) {
                ost_insert(&t, &e[i].n, &e[i].key, cmp_int);
                e[i].in = 1;
            } else if (e[i].in && rnd(3) == 0) {
                /* Another entry with the same key takes its place. */
                ent tmp = {.key = e[i].key, .in = 1};
                ost_replace(&t, &e[i].n, &tmp.n);
                e[i].n = (ost_node){0};
                ost_replace(&t, &tmp.n, &e[i].n);
            } else if (e[i].in && !grow) {
                ost_remove(&t, &e[i].n);
                e[i].in = 0;
            }
        }
        check_against_model(&t, e);
    }
    for (int i = 0; i < N; i++)
        if (e[i].in)
            ost_remove(&t, &e[i].n);
    cr_assert_null(t.root);
}

Test(ostree, ascending_inserts_stay_shallow)
{
    /* Keys in order are the worst case of an unbalanced tree: the random
     * priorities must keep the depth logarithmic all the same. */
    static ent e[1 << 16];
    ost_tree t;
    ost_init(&t, 1);
    for (int i = 0; i < (1 << 16); i++) {
        e[i].key = i;
        ost_insert(&t, &e[i].n, &e[i].key, cmp_int);
    }
    int deepest = 0;
    for (int i = 0; i < (1 << 16); i++) {
        int d = 0;
        for (const ost_node *n = &e[i].n; n->up; n = n->up)
            d++;
        deepest = d > deepest ? d : deepest;
    }
    /* A treap of 65,536 nodes is about 40 deep; 16 would be perfect. */
    cr_assert_lt(deepest, 100, "depth %d", deepest);
    cr_assert_eq(((const ent *)ost_select(&t, 40000))->key, 40000);
}
