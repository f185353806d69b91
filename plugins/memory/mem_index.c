/* SPDX-License-Identifier: MIT */
#define _POSIX_C_SOURCE 200809L /* pthread_rwlock_t (mem.h) under -std=c11 */
/*
 * mem_index.c - the memory backend's run index: list order, the
 * order-statistic trees of runs (all runs, and one per agent, session,
 * agent+session pair and status) and the groups that own them.
 */

#include <stdlib.h>
#include <string.h>

#include "mem.h"

/* < 0 when the run at node n of tree slot comes before position p in list
 * order (acp_run_order_cmp, the one definition of it). */
static int run_pos_cmp(const ost_node *n, int slot, const run_pos *p)
{
    const record *r = rindex_of(n, slot)->r;
    return acp_run_order_cmp(((const rslot *)n)->created_us, r->n.key, r->n.key_len,
                             p->created_us, p->id, p->id_len);
}

/* One comparison per slot: a node knows its tree only by its place. */
static int cmp_all(const ost_node *n, const void *p) { return run_pos_cmp(n, T_ALL, p); }
static int cmp_agent(const ost_node *n, const void *p) { return run_pos_cmp(n, T_AGENT, p); }
static int cmp_session(const ost_node *n, const void *p) { return run_pos_cmp(n, T_SESSION, p); }
static int cmp_pair(const ost_node *n, const void *p) { return run_pos_cmp(n, T_PAIR, p); }
static int cmp_status(const ost_node *n, const void *p) { return run_pos_cmp(n, T_STATUS, p); }
const ost_cmp slot_cmp[T_N] = {cmp_all, cmp_agent, cmp_session, cmp_pair, cmp_status};

int group_keys(const acp_backend *b, const char *agent, size_t alen, const char *session,
               size_t slen, hkey k[G_N], char *buf, size_t cap, char **heap)
{
    *heap = NULL;
    k[G_AGENT] = agent ? hkey_of(b, agent, alen) : (hkey){0};
    k[G_SESSION] = session ? hkey_of(b, session, slen) : (hkey){0};
    k[G_PAIR] = (hkey){0};
    k[G_STATUS] = (hkey){0}; /* set by the caller that has a status */
    if (agent && session) {
        uint64_t al = alen;
        size_t len = sizeof al + alen + slen;
        char *p = len <= cap ? buf : (*heap = malloc(len));
        if (!p)
            return -1;
        memcpy(p, &al, sizeof al);
        memcpy(p + sizeof al, agent, alen);
        memcpy(p + sizeof al + alen, session, slen);
        k[G_PAIR] = hkey_of(b, p, len);
    }
    return 0;
}

int groups_get(acp_backend *b, const hkey k[G_N], group *g[G_N])
{
    group *made[G_N] = {NULL};
    for (int i = 0; i < G_N; i++) {
        g[i] = NULL;
        if (!k[i].key)
            continue;
        g[i] = (group *)table_find(&b->groups[i], &k[i]);
        if (g[i])
            continue;
        group *ng = malloc(sizeof *ng + k[i].len);
        if (!ng) {
            for (int j = 0; j < i; j++) {
                if (made[j])
                    table_take(&b->groups[j], &k[j]);
                free(made[j]);
            }
            return -1;
        }
        memcpy(ng + 1, k[i].key, k[i].len);
        ng->n = (node){.hash = k[i].hash, .key = (const char *)(ng + 1), .key_len = k[i].len};
        ost_init(&ng->runs, b->seed++);
        table_put(&b->groups[i], &ng->n);
        g[i] = made[i] = ng;
    }
    return 0;
}

/* The tree of slot s of a run in groups g. */
static ost_tree *slot_tree(acp_backend *b, group *const g[G_N], int s)
{
    return s == T_ALL ? &b->all_runs : g[s - 1] ? &g[s - 1]->runs : NULL;
}

void run_link(acp_backend *b, record *r, group *const g[G_N])
{
    run_index *x = record_index(r);
    run_pos p = {r->created_us, r->n.key, r->n.key_len};
    x->r = r;
    memcpy(x->g, g, sizeof x->g);
    for (int s = 0; s < T_N; s++) {
        x->s[s].created_us = r->created_us;
        ost_tree *t = slot_tree(b, g, s);
        if (t)
            ost_insert(t, &x->s[s].n, &p, slot_cmp[s]);
    }
}

void run_unlink(acp_backend *b, record *r)
{
    run_index *x = record_index(r);
    for (int s = 0; s < T_N; s++) {
        ost_tree *t = slot_tree(b, x->g, s);
        if (t)
            ost_remove(t, &x->s[s].n);
    }
}

int run_relink(acp_backend *b, record *old, record *r, group *const g[G_N])
{
    run_index *ox = record_index(old), *x = record_index(r);
    if (old->created_us != r->created_us)
        return 0;
    x->r = r;
    memcpy(x->g, g, sizeof x->g);
    run_pos p = {r->created_us, r->n.key, r->n.key_len};
    for (int s = 0; s < T_N; s++) {
        ost_tree *ot = slot_tree(b, ox->g, s), *t = slot_tree(b, g, s);
        x->s[s].created_us = r->created_us;
        if (t && t == ot) {
            ost_replace(t, &ox->s[s].n, &x->s[s].n);
            continue;
        }
        if (ot)
            ost_remove(ot, &ox->s[s].n);
        if (t)
            ost_insert(t, &x->s[s].n, &p, slot_cmp[s]);
    }
    return 1;
}

size_t groups_drop_empty(acp_backend *b, const record *r, group *dead[G_N])
{
    const run_index *x = record_index(r);
    size_t n = 0;
    for (int i = 0; i < G_N; i++) {
        group *g = x->g[i];
        if (g && ost_size(&g->runs) == 0) {
            table_take(&b->groups[i], &(hkey){g->n.key, g->n.key_len, g->n.hash});
            dead[n++] = g;
        }
    }
    return n;
}

void free_groups(group *dead[G_N], size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(dead[i]);
}

const ost_tree *run_set(const acp_backend *b, const acp_run_query *q, const hkey k[G_N],
                        int *slot)
{
    int g = q->agent_name && q->session_id ? G_PAIR
            : q->agent_name                 ? G_AGENT
            : q->session_id                 ? G_SESSION
                                            : -1;
    *slot = g + 1;
    if (g < 0)
        return &b->all_runs;
    const group *grp = (const group *)table_find(&b->groups[g], &k[g]);
    return grp ? &grp->runs : NULL;
}
