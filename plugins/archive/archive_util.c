/* SPDX-License-Identifier: MIT */
/*
 * archive_util.c - copies of child items, one-run reads of a tier, and the
 * pending ids (runs that a failed or crashed move may have left in both
 * tiers).
 */
#include <stdlib.h>
#include <string.h>

#include "archive.h"

void arun_free(arun *r)
{
    free(r->id);
    free(r->doc);
    memset(r, 0, sizeof *r);
}

void arun_list_free(arun_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        arun_free(&l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int arun_copy(arun *r, const acp_item *it)
{
    memset(r, 0, sizeof *r);
    r->doc = malloc(it->doc_len + 1);
    r->id = strdup(it->key ? it->key : "");
    if (!r->doc || !r->id) {
        arun_free(r);
        return -1;
    }
    memcpy(r->doc, it->doc, it->doc_len);
    r->doc[it->doc_len] = '\0';
    r->len = it->doc_len;
    r->created_us = it->created_us;
    r->version = it->version;
    return 0;
}

int archive_grow(void *v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    void *p = realloc(*(void **)v, c * size);
    if (!p)
        return -1;
    *(void **)v = p;
    *cap = c;
    return 0;
}

int arun_list_sink(void *arg, const acp_item *it)
{
    arun_list *l = arg;
    if (archive_grow(&l->v, &l->cap, l->n, sizeof *l->v))
        return -1;
    if (arun_copy(&l->v[l->n], it))
        return -1;
    l->n++;
    return 0;
}

static int arun_sink(void *arg, const acp_item *it)
{
    return arun_copy(arg, it);
}

acp_status archive_get(archive *a, acp_child *t, const char *id, arun *out, int *found,
                       acp_call *call)
{
    memset(out, 0, sizeof *out);
    *found = 0;
    acp_status st = a->ops->get_run(t, id, arun_sink, out, call);
    if (st == ACP_NOT_FOUND)
        return ACP_OK;
    if (st == ACP_NOMEM && !out->doc)
        return a->host->error(call, ACP_NOMEM, "out of memory reading run '%s'", id);
    if (st != ACP_OK) {
        arun_free(out);
        return st;
    }
    *found = 1;
    return ACP_OK;
}

int archive_same(const archive *a, const arun *h, const arun *c)
{
    if ((a->cold_caps & ACP_CAP_VERSIONS) && h->version != c->version)
        return 0;
    return h->created_us == c->created_us && h->len == c->len &&
           memcmp(h->doc, c->doc, h->len) == 0;
}

int archive_pending(const archive *a, const char *id)
{
    for (size_t i = 0; i < a->n_pending; i++)
        if (strcmp(a->pending[i], id) == 0)
            return 1;
    return 0;
}

int archive_pending_add(archive *a, const char *id)
{
    if (archive_pending(a, id))
        return 0;
    if (archive_grow(&a->pending, &a->cap_pending, a->n_pending, sizeof *a->pending))
        return -1;
    if (!(a->pending[a->n_pending] = strdup(id)))
        return -1;
    a->n_pending++;
    return 0;
}

void archive_pending_clear(archive *a)
{
    for (size_t i = 0; i < a->n_pending; i++)
        free(a->pending[i]);
    a->n_pending = 0;
}
