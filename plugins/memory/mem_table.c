/* SPDX-License-Identifier: MIT */
#define _POSIX_C_SOURCE 200809L /* pthread_rwlock_t (mem.h) under -std=c11 */
/*
 * mem_table.c - the memory backend's hash tables: separate chaining over a
 * power-of-two number of buckets, keyed by id with host->hash.
 */

#include <stdlib.h>
#include <string.h>

#include "mem.h"

int table_init(table *t)
{
    t->nbuckets = 16;
    t->count = 0;
    t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
    return t->buckets != NULL;
}

/* The link that points at k's node, or the NULL that ends its chain. */
static node **table_slot(const table *t, const hkey *k)
{
    node **p = &t->buckets[k->hash & (t->nbuckets - 1)];
    while (*p && !((*p)->hash == k->hash && (*p)->key_len == k->len &&
                   memcmp((*p)->key, k->key, k->len) == 0))
        p = &(*p)->next;
    return p;
}

node *table_find(const table *t, const hkey *k)
{
    return *table_slot(t, k);
}

/* Double the buckets once chains average one node.  Growing is only an
 * optimisation: when calloc fails the chains just get longer, so inserting
 * never fails and never leaves the table half-changed. */
static void table_grow(table *t)
{
    if (t->count < t->nbuckets)
        return;
    size_t n = t->nbuckets * 2;
    node **b = calloc(n, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < t->nbuckets; i++) {
        for (node *e = t->buckets[i], *next; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

node *table_put(table *t, node *e)
{
    table_grow(t);
    node **p = table_slot(t, &(hkey){e->key, e->key_len, e->hash});
    node *old = *p;
    e->next = old ? old->next : NULL;
    *p = e;
    if (!old)
        t->count++;
    return old;
}

node *table_take(table *t, const hkey *k)
{
    node **p = table_slot(t, k);
    node *old = *p;
    if (old) {
        *p = old->next;
        t->count--;
    }
    return old;
}

void table_free(table *t, void (*destroy)(node *))
{
    for (size_t i = 0; t->buckets && i < t->nbuckets; i++) {
        for (node *e = t->buckets[i], *next; e; e = next) {
            next = e->next;
            destroy(e);
        }
    }
    free(t->buckets);
}
