/* SPDX-License-Identifier: MIT */
/*
 * diff.c - acp_store_diff(): two stores walked side by side in list order
 * (sessions by id, runs newest first, each run's events by sequence), a
 * page at a time, so memory stays bounded; every item is compared byte for
 * byte and folded into its side's digest.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define PAGE 500

enum { K_SESSION, K_RUN, K_EVENT };

/* A walk over one side's sessions, runs or one run's events. */
typedef struct walk {
    acp_store *s;
    int kind;
    const char *run_id;
    acp_page *p;
    size_t i;
    char *cursor;
    int64_t after;
    int last; /* the page held is the last */
} walk;

/* Make w point at an item, fetching a page when needed; *has = 0 at the end. */
static acp_status walk_fill(walk *w, int *has, acp_error *err)
{
    acp_status st = ACP_OK;
    while (!w->p || w->i >= acp_page_count(w->p)) {
        if (w->p && w->last) {
            *has = 0;
            return ACP_OK;
        }
        if (w->p) {
            size_t n = acp_page_count(w->p);
            const char *next = acp_page_next_cursor(w->p);
            free(w->cursor);
            w->cursor = next ? strdup(next) : NULL;
            if (w->kind == K_EVENT && n)
                w->after = acp_page_seq(w->p, n - 1);
            acp_page_free(w->p);
            w->p = NULL;
            if (!next) {
                *has = 0;
                w->last = 1;
                return ACP_OK;
            }
            if (!w->cursor)
                return acp__error(err, ACP_NOMEM, "out of memory comparing stores");
        }
        if (w->kind == K_SESSION) {
            if (!ACP__HAS(w->s->desc, list_sessions)) {
                *has = 0;
                return ACP_OK;
            }
            st = acp_session_list(w->s, w->cursor, PAGE, &w->p, err);
        } else if (w->kind == K_RUN) {
            acp_run_filter f = ACP_RUN_FILTER_INIT;
            f.limit = PAGE;
            f.cursor = w->cursor;
            st = acp_run_list(w->s, &f, &w->p, err);
        } else {
            acp_event_filter f = ACP_EVENT_FILTER_INIT;
            f.limit = PAGE;
            f.after_seq = w->after;
            st = acp_event_list(w->s, w->run_id, &f, &w->p, err);
        }
        if (st != ACP_OK)
            return st; // NOLINT(clang-analyzer-unix.Malloc): walk_free releases w's page and cursor
        w->i = 0;
        w->last = acp_page_next_cursor(w->p) == NULL;
    }
    *has = 1;
    return ACP_OK;
}

static void walk_free(walk *w)
{
    acp_page_free(w->p);
    free(w->cursor);
}

typedef struct differ {
    acp_diff_fn fn;
    void *ctx;
    acp_diff_counts *n;
} differ;

static void report(differ *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(differ *d, const char *fmt, ...)
{
    d->n->differences++;
    if (!d->fn)
        return;
    char line[ACP_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    d->fn(d->ctx, line);
}

static void fnv(uint64_t *h, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++)
        *h = (*h ^ (unsigned char)data[i]) * 0x100000001b3ull;
}

/* v as 8 bytes, least significant first. */
static void fnv_i64(uint64_t *h, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 0; i < 8; i++, u >>= 8)
        *h = (*h ^ (u & 0xff)) * 0x100000001b3ull;
}

/* Fold the current item of w into side's counts and digest. */
static void account(differ *d, int side, const walk *w)
{
    size_t len;
    const char *doc = acp_page_json(w->p, w->i, &len);
    const char *key = w->kind == K_EVENT ? w->run_id : acp_page_key(w->p, w->i);
    uint64_t *h = &d->n->digest[side];
    fnv_i64(h, w->kind);
    fnv(h, key, strlen(key) + 1);
    fnv_i64(h, acp_page_seq(w->p, w->i));
    fnv_i64(h, acp_page_time_us(w->p, w->i));
    fnv(h, doc, len);
    int64_t *count = w->kind == K_SESSION ? d->n->sessions : w->kind == K_RUN ? d->n->runs
                                                                             : d->n->events;
    count[side]++;
}

static const char *const side_name[2] = {"first", "second"};

/* Which of the current items comes first in list order: < 0 a, > 0 b. */
static int order(const walk *a, const walk *b)
{
    if (a->kind == K_EVENT) {
        int64_t x = acp_page_seq(a->p, a->i), y = acp_page_seq(b->p, b->i);
        return x < y ? -1 : x > y;
    }
    const char *x = acp_page_key(a->p, a->i), *y = acp_page_key(b->p, b->i);
    if (a->kind == K_SESSION)
        return strcmp(x, y);
    int64_t tx = acp_page_time_us(a->p, a->i), ty = acp_page_time_us(b->p, b->i);
    if (tx != ty)
        return tx > ty ? -1 : 1; /* newest first */
    return -strcmp(x, y);
}

static acp_status compare(differ *d, walk w[2], acp_error *err);

/* Both sides hold the same run: compare its events. */
static acp_status compare_events(differ *d, acp_store *a, acp_store *b, const char *run_id,
                                 acp_error *err)
{
    walk e[2] = {{.s = a, .kind = K_EVENT, .run_id = run_id},
                 {.s = b, .kind = K_EVENT, .run_id = run_id}};
    acp_status st = compare(d, e, err);
    walk_free(&e[0]);
    walk_free(&e[1]);
    return st;
}

/* An item on one side only (a run: with its events). */
static acp_status one_side(differ *d, walk *w, int side, acp_error *err)
{
    account(d, side, w);
    const char *what = w->kind == K_SESSION ? "session" : w->kind == K_RUN ? "run" : "event";
    if (w->kind == K_EVENT)
        report(d, "run %s event %" PRId64 ": only in the %s store", w->run_id,
               acp_page_seq(w->p, w->i), side_name[side]);
    else
        report(d, "%s %s: only in the %s store", what, acp_page_key(w->p, w->i),
               side_name[side]);
    if (w->kind != K_RUN)
        return ACP_OK;
    walk e = {.s = w->s, .kind = K_EVENT, .run_id = acp_page_key(w->p, w->i)};
    int has;
    acp_status st;
    while ((st = walk_fill(&e, &has, err)) == ACP_OK && has) {
        account(d, side, &e);
        e.i++;
    }
    walk_free(&e);
    return st;
}

static acp_status compare(differ *d, walk w[2], acp_error *err)
{
    for (;;) {
        int has[2];
        acp_status st;
        if ((st = walk_fill(&w[0], &has[0], err)) != ACP_OK ||
            (st = walk_fill(&w[1], &has[1], err)) != ACP_OK)
            return st;
        if (!has[0] && !has[1])
            return ACP_OK;
        int o = !has[0] ? 1 : !has[1] ? -1 : order(&w[0], &w[1]);
        if (o != 0) {
            int side = o < 0 ? 0 : 1;
            if ((st = one_side(d, &w[side], side, err)) != ACP_OK)
                return st;
            w[side].i++;
            continue;
        }
        account(d, 0, &w[0]);
        account(d, 1, &w[1]);
        size_t la, lb;
        const char *da = acp_page_json(w[0].p, w[0].i, &la), *db = acp_page_json(w[1].p, w[1].i, &lb);
        const char *key = w[0].kind == K_EVENT ? w[0].run_id : acp_page_key(w[0].p, w[0].i);
        if (w[0].kind == K_EVENT) {
            int64_t seq = acp_page_seq(w[0].p, w[0].i);
            if (acp_page_time_us(w[0].p, w[0].i) != acp_page_time_us(w[1].p, w[1].i))
                report(d, "run %s event %" PRId64 ": storage time differs", key, seq);
            if (la != lb || memcmp(da, db, la) != 0)
                report(d, "run %s event %" PRId64 ": document differs", key, seq);
        } else if (la != lb || memcmp(da, db, la) != 0) {
            report(d, "%s %s: document differs", w[0].kind == K_RUN ? "run" : "session", key);
        }
        if (w[0].kind == K_RUN &&
            (st = compare_events(d, w[0].s, w[1].s, key, err)) != ACP_OK)
            return st;
        w[0].i++;
        w[1].i++;
    }
}

ACP_API acp_status acp_store_diff(acp_store *a, acp_store *b, acp_diff_fn fn, void *ctx,
                                  acp_diff_counts *counts, acp_error *err)
{
    if (!a || !b || !counts)
        return acp__error(err, ACP_INVALID, "acp_store_diff: stores and counts must not be NULL");
    memset(counts, 0, sizeof *counts);
    counts->digest[0] = counts->digest[1] = 0xcbf29ce484222325ull;
    differ d = {fn, ctx, counts};
    acp_status st = ACP_OK;
    for (int kind = K_SESSION; st == ACP_OK && kind <= K_RUN; kind++) {
        walk w[2] = {{.s = a, .kind = kind}, {.s = b, .kind = kind}};
        st = compare(&d, w, err);
        walk_free(&w[0]);
        walk_free(&w[1]);
    }
    return st;
}
