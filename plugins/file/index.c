/* SPDX-License-Identifier: MIT */
/*
 * index.c - hash tables and order-statistic treaps behind findex.
 *
 * A treap (a binary search tree kept balanced by random priorities) with
 * subtree sizes gives insert, delete, rank and select in O(log n) with a
 * few dozen lines: rank finds where a cursor falls, select reads a page
 * from there, and the root's size is the total.
 */
#include "index.h"

#include <stdlib.h>

#include "acp_storage_plugin.h" /* acp_run_order_cmp */
#include <string.h>

/* ---- hash tables --------------------------------------------------------- */

int hmap_init(hmap *m, uint64_t (*hash)(const void *data, size_t len))
{
    m->hash = hash;
    m->nb = 64;
    m->n = 0;
    m->b = calloc(m->nb, sizeof *m->b);
    return m->b ? 0 : -1;
}

hlink *hmap_get(const hmap *m, const char *key, size_t len)
{
    uint64_t h = m->hash(key, len);
    for (hlink *l = m->b[h & (m->nb - 1)]; l; l = l->next)
        if (l->hash == h && l->key_len == len && memcmp(l->key, key, len) == 0)
            return l;
    return NULL;
}

/* Add l (its key set, not present yet).  Growing is best effort: a failed
 * resize only makes chains longer. */
void hmap_add(hmap *m, hlink *l)
{
    l->hash = m->hash(l->key, l->key_len);
    if (m->n >= m->nb) {
        size_t nb = m->nb * 2;
        hlink **b = calloc(nb, sizeof *b);
        if (b) {
            for (size_t i = 0; i < m->nb; i++) {
                for (hlink *x = m->b[i], *next; x; x = next) {
                    next = x->next;
                    x->next = b[x->hash & (nb - 1)];
                    b[x->hash & (nb - 1)] = x;
                }
            }
            free(m->b);
            m->b = b;
            m->nb = nb;
        }
    }
    hlink **slot = &m->b[l->hash & (m->nb - 1)];
    l->next = *slot;
    *slot = l;
    m->n++;
}

void hmap_del(hmap *m, hlink *l)
{
    for (hlink **p = &m->b[l->hash & (m->nb - 1)]; *p; p = &(*p)->next) {
        if (*p == l) {
            *p = l->next;
            m->n--;
            return;
        }
    }
}

/* ---- treaps ---------------------------------------------------------------- */

/* desc: the list order of runs (acp_run_order_cmp, the one definition of
 * it); else its reverse, which for sessions (created_us 0) is ascending
 * byte-wise by id. */
static int key_cmp(const tkey *a, const tkey *b, int desc)
{
    int c = acp_run_order_cmp(a->created_us, a->id, a->id_len, b->created_us, b->id, b->id_len);
    return desc ? c : -c;
}

size_t idx_size(const tnode *t)
{
    return t ? t->cnt : 0;
}

static void upd(tnode *t)
{
    t->cnt = 1 + (uint32_t)idx_size(t->l) + (uint32_t)idx_size(t->r);
}

/* Split t into the nodes before k (or at k too, when incl) and the rest. */
static void split(tnode *t, const tkey *k, int desc, int incl, tnode **l, tnode **r)
{
    if (!t) {
        *l = *r = NULL;
        return;
    }
    int c = key_cmp(t->key, k, desc);
    if (c < 0 || (incl && c == 0)) {
        split(t->r, k, desc, incl, &t->r, r);
        *l = t;
    } else {
        split(t->l, k, desc, incl, l, &t->l);
        *r = t;
    }
    upd(t);
}

/* Join two treaps where every node of a comes before every node of b. */
static tnode *merge(tnode *a, tnode *b)
{
    if (!a)
        return b;
    if (!b)
        return a;
    if (a->pri > b->pri) {
        a->r = merge(a->r, b);
        upd(a);
        return a;
    }
    b->l = merge(a, b->l);
    upd(b);
    return b;
}

static void t_insert(tnode **root, tnode *n, int desc)
{
    tnode *l, *r;
    n->l = n->r = NULL;
    n->cnt = 1;
    split(*root, n->key, desc, 0, &l, &r);
    *root = merge(merge(l, n), r);
}

/* Keys are unique within a tree, so the nodes "at k" are just n. */
static void t_erase(tnode **root, tnode *n, int desc)
{
    tnode *l, *m, *r;
    split(*root, n->key, desc, 0, &l, &r);
    split(r, n->key, desc, 1, &m, &r);
    *root = merge(l, r);
}

size_t idx_rank(const tnode *t, const tkey *k, int desc, int inclusive)
{
    size_t rank = 0;
    if (!k)
        return 0;
    while (t) {
        int c = key_cmp(t->key, k, desc);
        if (c < 0 || (inclusive && c == 0)) {
            rank += idx_size(t->l) + 1;
            t = t->r;
        } else {
            t = t->l;
        }
    }
    return rank;
}

const tnode *idx_select(const tnode *t, size_t i)
{
    while (t) {
        size_t ls = idx_size(t->l);
        if (i < ls) {
            t = t->l;
        } else if (i == ls) {
            return t;
        } else {
            i -= ls + 1;
            t = t->r;
        }
    }
    return NULL;
}

static uint32_t next_pri(findex *ix)
{
    /* xorshift64: priorities need only be independent of the keys. */
    uint64_t x = ix->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    ix->rng = x;
    return (uint32_t)(x >> 32);
}

/* ---- groups ---------------------------------------------------------------- */

/* Groups are reference counted by their runs; cnt of the treap root is not
 * enough because a run is removed from a tree before its replacement is
 * added to the same group. */
typedef struct igroup_rc {
    igroup g;
    size_t refs;
} igroup_rc;

/* A group block for key (NULL: the caller writes the key_len bytes at
 * group_key()), not in any table yet; its text is the key's last text_len
 * bytes.  NULL when out of memory. */
static igroup *group_new(const char *key, size_t key_len, size_t text_len)
{
    igroup_rc *g = calloc(1, sizeof *g + key_len + 1);
    if (!g)
        return NULL;
    char *k = (char *)(g + 1);
    if (key)
        memcpy(k, key, key_len);
    g->g.link.key = k;
    g->g.link.key_len = key_len;
    /* The text is the key, or its tail for pairs. */
    g->g.text = k + (key_len - text_len);
    g->g.text_len = text_len;
    return &g->g;
}

static char *group_key(igroup *g)
{
    return (char *)((igroup_rc *)g + 1);
}

/* The group of the spare's key, taking a reference: the one in m if there
 * is one, else the spare itself (*spare becomes NULL).  Cannot fail. */
static igroup *group_take(hmap *m, igroup **spare)
{
    igroup *s = *spare;
    hlink *l = hmap_get(m, s->link.key, s->link.key_len);
    igroup_rc *g;
    if (l) {
        g = (igroup_rc *)l;
    } else {
        g = (igroup_rc *)s;
        hmap_add(m, &g->g.link);
        *spare = NULL;
    }
    g->refs++;
    return &g->g;
}

static void group_put(hmap *m, igroup *gp)
{
    igroup_rc *g = (igroup_rc *)gp;
    if (g && --g->refs == 0) {
        hmap_del(m, &g->g.link);
        free(g);
    }
}

/* The values a group key is made of: status, agent, session (in this
 * order), and which of them each kind uses. */
enum { V_STATUS, V_AGENT, V_SESSION, V_N };
static const unsigned kind_values[G_N] = {
    [G_AGENT] = 1u << V_AGENT,
    [G_SESSION] = 1u << V_SESSION,
    [G_PAIR] = 1u << V_AGENT | 1u << V_SESSION,
    [G_STATUS] = 1u << V_STATUS,
    [G_AGENT_STATUS] = 1u << V_STATUS | 1u << V_AGENT,
    [G_SESSION_STATUS] = 1u << V_STATUS | 1u << V_SESSION,
    [G_PAIR_STATUS] = 1u << V_STATUS | 1u << V_AGENT | 1u << V_SESSION,
};

typedef struct gvals {
    const char *p[V_N]; /* NULL: the value is absent */
    size_t len[V_N];
} gvals;

/* Whether v has every value of kind; *last receives the last one. */
static int kind_of_vals(int kind, const gvals *v, int *last)
{
    for (int i = 0; i < V_N; i++) {
        if (!(kind_values[kind] & 1u << i))
            continue;
        if (!v->p[i])
            return 0;
        *last = i;
    }
    return 1;
}

/* A kind's key: each value but the last preceded by its length (so that
 * the key is injective), the last as it is; a kind of one value is that
 * value.  The last value is the group's text. */
static size_t gkey_len(int kind, const gvals *v, int last)
{
    size_t n = 0;
    for (int i = 0; i < V_N; i++)
        if (kind_values[kind] & 1u << i)
            n += v->len[i] + (i == last ? 0 : sizeof(uint64_t));
    return n;
}

static void gkey_put(char *k, int kind, const gvals *v, int last)
{
    for (int i = 0; i < V_N; i++) {
        if (!(kind_values[kind] & 1u << i))
            continue;
        if (i != last) {
            uint64_t l = v->len[i];
            memcpy(k, &l, sizeof l);
            k += sizeof l;
        }
        memcpy(k, v->p[i], v->len[i]);
        k += v->len[i];
    }
}

/* ---- the index --------------------------------------------------------------- */

int idx_init(findex *ix, uint64_t (*hash)(const void *data, size_t len))
{
    memset(ix, 0, sizeof *ix);
    ix->rng = UINT64_C(0x9E3779B97F4A7C15) ^ (uint64_t)(uintptr_t)ix;
    int bad = hmap_init(&ix->runs, hash) || hmap_init(&ix->sessions, hash);
    for (int k = 0; k < G_N && !bad; k++)
        bad = hmap_init(&ix->groups[k], hash);
    if (bad) {
        idx_free(ix);
        return -1;
    }
    return 0;
}

static void free_map(hmap *m)
{
    for (size_t i = 0; m->b && i < m->nb; i++) {
        for (hlink *l = m->b[i], *next; l; l = next) {
            next = l->next;
            free(l);
        }
    }
    free(m->b);
    m->b = NULL;
    m->nb = m->n = 0;
}

void idx_free(findex *ix)
{
    /* Every entry is one block starting with its link. */
    free_map(&ix->runs);
    free_map(&ix->sessions);
    for (int k = 0; k < G_N; k++)
        free_map(&ix->groups[k]);
    ix->all_runs = ix->all_sessions = NULL;
    ix->live_bytes = 0;
}

irun *idx_run(const findex *ix, const char *name, size_t name_len)
{
    return (irun *)hmap_get(&ix->runs, name, name_len);
}

isession *idx_session(const findex *ix, const char *name, size_t name_len)
{
    return (isession *)hmap_get(&ix->sessions, name, name_len);
}

static void unlink_run(findex *ix, irun *r)
{
    t_erase(&ix->all_runs, &r->tn[T_ALL], 1);
    for (int k = 0; k < G_N; k++) {
        if (r->g[k]) {
            t_erase(&r->g[k]->root, &r->tn[T_OF(k)], 1);
            group_put(&ix->groups[k], r->g[k]);
        }
    }
    hmap_del(&ix->runs, &r->link);
    ix->live_bytes -= r->rec_len;
}

void idx_change_free(idx_change *c)
{
    free(c->run);
    free(c->session);
    for (int i = 0; i < G_N; i++)
        free(c->spare[i]); /* not in any table: plain blocks */
    memset(c, 0, sizeof *c);
}

int idx_prepare_run(idx_change *c, const char *name, size_t name_len, const irun_fields *f)
{
    memset(c, 0, sizeof *c);
    c->kind = IDX_PUT_RUN;
    irun *r = c->run = calloc(1, sizeof *r + name_len + 1 + f->id_len + 1);
    if (!r)
        goto nomem;
    char *nm = (char *)(r + 1), *idc = nm + name_len + 1;
    memcpy(nm, name, name_len);
    memcpy(idc, f->id, f->id_len);
    r->link.key = nm;
    r->link.key_len = name_len;
    r->key.created_us = f->created_us;
    r->key.id = idc;
    r->key.id_len = f->id_len;
    r->ino = f->ino;
    r->rec_len = f->rec_len;
    /* Every group block, whether or not the index has the group now: it
     * may be gone by the time the change is applied. */
    gvals v = {{f->status, f->agent, f->session}, {f->status_len, f->agent_len, f->session_len}};
    for (int k = 0; k < G_N; k++) {
        int last = 0;
        if (!kind_of_vals(k, &v, &last))
            continue;
        size_t klen = gkey_len(k, &v, last);
        if (!(c->spare[k] = group_new(NULL, klen, v.len[last])))
            goto nomem;
        gkey_put(group_key(c->spare[k]), k, &v, last);
    }
    return 0;
nomem:
    idx_change_free(c);
    return -1;
}

int idx_prepare_session(idx_change *c, const char *name, size_t name_len, const char *id,
                        size_t id_len, uint64_t ino, uint32_t rec_len)
{
    memset(c, 0, sizeof *c);
    isession *s = calloc(1, sizeof *s + name_len + 1 + id_len + 1);
    if (!s)
        return -1;
    char *nm = (char *)(s + 1), *idc = nm + name_len + 1;
    memcpy(nm, name, name_len);
    memcpy(idc, id, id_len);
    s->link.key = nm;
    s->link.key_len = name_len;
    s->key.id = idc;
    s->key.id_len = id_len;
    s->ino = ino;
    s->rec_len = rec_len;
    s->tn.key = &s->key;
    c->kind = IDX_PUT_SESSION;
    c->session = s;
    return 0;
}

void idx_prepare_del(idx_change *c, int kind, const char *name, size_t name_len)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->name = name;
    c->name_len = name_len;
}

static void commit_run(findex *ix, irun *r, idx_change *c)
{
    /* The groups first: a reference keeps the old entry's groups alive
     * when it is unlinked below. */
    for (int k = 0; k < G_N; k++)
        r->g[k] = c->spare[k] ? group_take(&ix->groups[k], &c->spare[k]) : NULL;
    irun *old = idx_run(ix, irun_name(r), r->link.key_len);
    if (old) {
        unlink_run(ix, old);
        free(old);
    }
    for (int s = 0; s < T_NSLOTS; s++) {
        r->tn[s].key = &r->key;
        r->tn[s].pri = next_pri(ix);
    }
    hmap_add(&ix->runs, &r->link);
    t_insert(&ix->all_runs, &r->tn[T_ALL], 1);
    for (int k = 0; k < G_N; k++)
        if (r->g[k])
            t_insert(&r->g[k]->root, &r->tn[T_OF(k)], 1);
    ix->live_bytes += r->rec_len;
}

static void commit_session(findex *ix, isession *s)
{
    s->tn.pri = next_pri(ix);
    idx_del_session(ix, isession_name(s), s->link.key_len);
    hmap_add(&ix->sessions, &s->link);
    t_insert(&ix->all_sessions, &s->tn, 0);
    ix->live_bytes += s->rec_len;
}

void idx_commit(findex *ix, idx_change *c)
{
    switch (c->kind) {
    case IDX_PUT_RUN:
        commit_run(ix, c->run, c);
        c->run = NULL;
        break;
    case IDX_DEL_RUN:
        idx_del_run(ix, c->name, c->name_len);
        break;
    case IDX_PUT_SESSION:
        commit_session(ix, c->session);
        c->session = NULL;
        break;
    case IDX_DEL_SESSION:
        idx_del_session(ix, c->name, c->name_len);
        break;
    default:
        break;
    }
    idx_change_free(c); /* the spare groups the index already had */
}

int idx_put_run(findex *ix, const char *name, size_t name_len, const irun_fields *f)
{
    idx_change c;
    if (idx_prepare_run(&c, name, name_len, f) != 0)
        return -1;
    idx_commit(ix, &c);
    return 0;
}

void idx_del_run(findex *ix, const char *name, size_t name_len)
{
    irun *r = idx_run(ix, name, name_len);
    if (r) {
        unlink_run(ix, r);
        free(r);
    }
}

int idx_put_session(findex *ix, const char *name, size_t name_len, const char *id,
                    size_t id_len, uint64_t ino, uint32_t rec_len)
{
    idx_change c;
    if (idx_prepare_session(&c, name, name_len, id, id_len, ino, rec_len) != 0)
        return -1;
    idx_commit(ix, &c);
    return 0;
}

void idx_del_session(findex *ix, const char *name, size_t name_len)
{
    isession *s = idx_session(ix, name, name_len);
    if (s) {
        t_erase(&ix->all_sessions, &s->tn, 0);
        hmap_del(&ix->sessions, &s->link);
        ix->live_bytes -= s->rec_len;
        free(s);
    }
}

int idx_run_set(const findex *ix, const char *agent, size_t agent_len, const char *session,
                size_t session_len, const char *status, size_t status_len, tnode **set,
                int *slot)
{
    gvals v = {{status, agent, session}, {status_len, agent_len, session_len}};
    unsigned want = 0;
    for (int i = 0; i < V_N; i++)
        want |= v.p[i] ? 1u << i : 0;
    if (!want) {
        *set = ix->all_runs;
        *slot = T_ALL;
        return 0;
    }
    int kind = 0, last = 0;
    while (kind_values[kind] != want)
        kind++;
    kind_of_vals(kind, &v, &last);
    size_t klen = gkey_len(kind, &v, last);
    char kb[512];
    char *k = klen <= sizeof kb ? kb : malloc(klen);
    if (!k)
        return -1;
    gkey_put(k, kind, &v, last);
    hlink *l = hmap_get(&ix->groups[kind], k, klen);
    if (k != kb)
        free(k);
    *set = l ? ((igroup *)l)->root : NULL;
    *slot = T_OF(kind);
    return 0;
}

size_t idx_rank_time(const tnode *t, int64_t us)
{
    size_t rank = 0;
    while (t) {
        if (t->key->created_us >= us) {
            rank += idx_size(t->l) + 1;
            t = t->r;
        } else {
            t = t->l;
        }
    }
    return rank;
}

int idx_each_run(const findex *ix, int (*fn)(irun *r, void *arg), void *arg)
{
    for (size_t i = 0; i < ix->runs.nb; i++) {
        for (hlink *l = ix->runs.b[i], *next; l; l = next) {
            next = l->next; /* fn may delete the entry */
            int rc = fn((irun *)l, arg);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int idx_each_session(const findex *ix, int (*fn)(isession *s, void *arg), void *arg)
{
    for (size_t i = 0; i < ix->sessions.nb; i++) {
        for (hlink *l = ix->sessions.b[i], *next; l; l = next) {
            next = l->next;
            int rc = fn((isession *)l, arg);
            if (rc)
                return rc;
        }
    }
    return 0;
}
