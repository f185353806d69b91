/* SPDX-License-Identifier: MIT */
/*
 * verify.c - acp_store_verify(): walk a whole store and check every item.
 *
 * A backend with its own verify walks its storage and hands each readable
 * item to host->verify_item (checked here with the same document checker
 * that guards every save) and each damaged one to host->verify_damage.  A
 * backend without one is walked here through list_runs, get_events and
 * list_sessions; an answer of CORRUPT from them becomes a damage report.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define PAGE 1000         /* the largest page the API allows */
#define MAX_SKIPPED 1000  /* unreadable events skipped one by one before giving up on a run */

struct acp__verify {
    acp_verify_fn fn;
    void *ctx;
    acp_verify_counts counts;
    int stopped; /* fn asked to stop */
    int nomem;   /* a check ran out of memory */
};

/* Count one damaged item and hand it to the caller.  0: go on. */
static int report(acp__verify *v, const acp_damage *d)
{
    v->counts.damaged++;
    if (d->moved_to)
        v->counts.quarantined++;
    if (v->fn && v->fn(v->ctx, d) != 0)
        v->stopped = 1;
    return v->stopped;
}

static int report_corrupt(acp__verify *v, int kind, const char *key, int64_t seq,
                          const char *reason)
{
    acp_damage d = {.size = sizeof d,
                    .kind = kind,
                    .key = key,
                    .seq = seq,
                    .code = ACP_CORRUPT,
                    .reason = reason};
    return report(v, &d);
}

/* The check of one stored item: the rules every save applies, plus the
 * item's place in the store (its key, its sequence). */
static int check_item(acp__verify *v, int kind, const acp_item *it)
{
    acp_error e = {0};
    acp__strbuf b;
    acp_status st = ACP_OK;
    const char *id = NULL;
    char why[ACP_ERROR_MESSAGE_MAX + 128];
    why[0] = '\0';

    switch (kind) {
    case ACP_ITEM_RUN: {
        v->counts.runs++;
        acp__run_fields f;
        if (it->doc && (st = acp__run_check(it->doc, it->doc_len, &f, &b, &e)) == ACP_OK)
            id = f.run_id;
        break;
    }
    case ACP_ITEM_SESSION:
        v->counts.sessions++;
        if (it->doc)
            st = acp__session_check(it->doc, it->doc_len, &id, &b, &e);
        break;
    case ACP_ITEM_EVENT: {
        v->counts.events++;
        const char *type;
        if (it->seq < 1)
            snprintf(why, sizeof why, "event sequence %" PRId64 " (sequences start at 1)",
                     it->seq);
        else if (it->doc && (st = acp__event_check(it->doc, it->doc_len, &type, &b, &e)) == ACP_OK)
            acp__strbuf_free(&b);
        break;
    }
    default:
        snprintf(why, sizeof why, "the backend handed over an item of unknown kind %d", kind);
        return report_corrupt(v, ACP_ITEM_OTHER, it->key, 0, why);
    }
    if (st == ACP_NOMEM) {
        v->nomem = 1;
        return 1;
    }
    if (!it->doc)
        snprintf(why, sizeof why, "no document");
    else if (st != ACP_OK)
        snprintf(why, sizeof why, "%s", e.message);
    else if (!it->key || acp__id_check(it->key, "key", NULL) != ACP_OK)
        snprintf(why, sizeof why, "stored without a valid key");
    else if (id && strcmp(id, it->key) != 0)
        snprintf(why, sizeof why, "stored under '%.256s' but the document's id is '%.256s'",
                 it->key, id);
    if (id)
        acp__strbuf_free(&b);
    if (!why[0])
        return 0;
    return report_corrupt(v, kind, it->key, kind == ACP_ITEM_EVENT ? it->seq : 0, why);
}

int acp__verify_item(acp_call *call, int kind, const acp_item *item)
{
    if (!call || !call->verify || !item)
        return 1; /* not inside a verify: nothing to hand it to */
    return check_item(call->verify, kind, item);
}

int acp__verify_damage(acp_call *call, const acp_damage *d)
{
    if (!call || !call->verify || !d)
        return 1;
    /* Read only what the plugin's struct has; the rest keeps its default. */
    acp_damage c = {0};
    size_t n = d->size < sizeof c ? d->size : sizeof c;
    memcpy(&c, d, n);
    c.size = sizeof c;
    if (c.kind < ACP_ITEM_RUN || c.kind > ACP_ITEM_OTHER)
        c.kind = ACP_ITEM_OTHER;
    if (c.code != ACP_IO)
        c.code = ACP_CORRUPT;
    if (!c.reason || !c.reason[0])
        c.reason = "damaged (the backend gave no reason)";
    return report(call->verify, &c);
}

/* ---- the backend's own walk ---- */

static acp_status native_walk(acp_store *s, unsigned flags, acp__verify *v, acp_error *err)
{
    acp_call call;
    acp__call_init(&call, NULL, 0); /* a walk takes as long as the store is large */
    call.verify = v;
    if (s->serial)
        pthread_mutex_lock(&s->mu);
    acp_status st = s->vt->verify(s->backend, (uint32_t)flags, &call);
    if (s->serial)
        pthread_mutex_unlock(&s->mu);
    if (v->stopped || (st == ACP_CORRUPT && v->counts.damaged))
        return ACP_OK; /* the damage is counted; the caller turns it into CORRUPT */
    if (v->nomem)
        return acp__error(err, ACP_NOMEM, "out of memory checking the store");
    return acp__call_finish(&call, st, s->desc->name, "verify", err);
}

/* ---- the generic walk, for backends without verify ---- */

/* A damage reason is one line without a prefix: drop the backend's name
 * that acp__call_finish put before the plugin's message. */
static const char *reason(const acp_store *s, const acp_error *e)
{
    size_t n = strlen(s->desc->name);
    if (strncmp(e->message, s->desc->name, n) == 0 && strncmp(e->message + n, ": ", 2) == 0)
        return e->message + n + 2;
    return e->message;
}

/* Check the events of one run, page by page.  A page the backend cannot
 * read is narrowed down to the unreadable event, which is reported and
 * skipped. */
static acp_status walk_events(acp_store *s, const char *run_id, acp__verify *v, acp_error *err)
{
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    f.limit = PAGE;
    int skipped = 0;
    for (;;) {
        acp_page *page;
        acp_error e;
        acp_status st = acp_event_list(s, run_id, &f, &page, &e);
        if (st == ACP_CORRUPT && f.limit > 1) {
            f.limit = 1; /* find the one that cannot be read */
            continue;
        }
        if (st == ACP_CORRUPT) {
            if (report_corrupt(v, ACP_ITEM_EVENT, run_id, f.after_seq + 1, reason(s, &e)))
                return ACP_OK;
            if (++skipped >= MAX_SKIPPED)
                return report_corrupt(v, ACP_ITEM_EVENT, run_id, 0,
                                      "too many unreadable events in a row: the rest of "
                                      "this run was not checked"),
                       ACP_OK;
            f.after_seq++;
            continue;
        }
        if (st != ACP_OK) {
            *err = e;
            return st;
        }
        skipped = 0;
        size_t n = acp_page_count(page);
        for (size_t i = 0; i < n && !v->stopped && !v->nomem; i++) {
            const acp__item *p = &page->items[i];
            acp_item it = {.doc = p->doc,
                           .doc_len = p->doc_len,
                           .key = run_id,
                           .seq = p->seq,
                           .stored_us = p->stored_us};
            check_item(v, ACP_ITEM_EVENT, &it);
            if (p->seq > f.after_seq)
                f.after_seq = p->seq;
        }
        acp_page_free(page);
        if (v->stopped || v->nomem || n == 0 || (f.limit == PAGE && n < (size_t)PAGE))
            return ACP_OK;
        f.limit = PAGE; /* past the unreadable one: full pages again */
    }
}

/* Runs newest first through the cursor, each followed by its events.  A
 * page of runs the backend cannot read ends the run walk: without the
 * run's key there is no cursor past it. */
static acp_status walk_runs(acp_store *s, acp__verify *v, acp_error *err)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.limit = PAGE;
    char *cursor = NULL;
    acp_status st = ACP_OK;
    for (;;) {
        acp_page *page;
        acp_error e;
        f.cursor = cursor;
        st = acp_run_list(s, &f, &page, &e);
        if (st == ACP_CORRUPT) {
            report_corrupt(v, ACP_ITEM_RUN, NULL, 0, reason(s, &e));
            st = ACP_OK;
            break;
        }
        if (st != ACP_OK) {
            *err = e;
            break;
        }
        size_t n = acp_page_count(page);
        for (size_t i = 0; i < n && st == ACP_OK && !v->stopped && !v->nomem; i++) {
            const acp__item *p = &page->items[i];
            acp_item it = {.doc = p->doc,
                           .doc_len = p->doc_len,
                           .key = p->key,
                           .created_us = p->created_us};
            check_item(v, ACP_ITEM_RUN, &it);
            if (p->key && !v->stopped && !v->nomem)
                st = walk_events(s, p->key, v, err);
        }
        free(cursor);
        cursor = NULL;
        const char *next = acp_page_next_cursor(page);
        if (next && !(cursor = strdup(next)))
            st = acp__error(err, ACP_NOMEM, "out of memory checking the store");
        acp_page_free(page);
        if (st != ACP_OK || v->stopped || v->nomem || !cursor)
            break;
    }
    free(cursor);
    return st;
}

static acp_status walk_sessions(acp_store *s, acp__verify *v, acp_error *err)
{
    char after[ACP_ID_MAX + 1];
    const char *after_id = NULL;
    for (;;) {
        acp_page *page;
        acp_error e;
        acp_status st = acp_session_list(s, after_id, PAGE, &page, &e);
        if (st == ACP_UNSUPPORTED)
            return ACP_OK; /* an ABI 1.0 backend cannot list them: nothing to walk */
        if (st == ACP_CORRUPT) {
            report_corrupt(v, ACP_ITEM_SESSION, NULL, 0, reason(s, &e));
            return ACP_OK;
        }
        if (st != ACP_OK) {
            *err = e;
            return st;
        }
        size_t n = acp_page_count(page);
        for (size_t i = 0; i < n && !v->stopped && !v->nomem; i++) {
            const acp__item *p = &page->items[i];
            acp_item it = {.doc = p->doc, .doc_len = p->doc_len, .key = p->key};
            check_item(v, ACP_ITEM_SESSION, &it);
        }
        const char *next = acp_page_next_cursor(page);
        if (next)
            snprintf(after, sizeof after, "%s", next);
        acp_page_free(page);
        if (!next || v->stopped || v->nomem)
            return ACP_OK;
        after_id = after;
    }
}

ACP_API acp_status acp_store_verify(acp_store *s, unsigned flags, acp_verify_fn fn, void *ctx,
                                    acp_verify_counts *counts, acp_error *err)
{
    acp__verify v = {.fn = fn, .ctx = ctx};
    acp_status st;
    if (!s)
        st = acp__error(err, ACP_INVALID, "acp_store_verify: store must not be NULL");
    else if (flags & ~ACP_VERIFY_QUARANTINE)
        st = acp__error(err, ACP_INVALID, "acp_store_verify: unknown flags 0x%x",
                        flags & ~ACP_VERIFY_QUARANTINE);
    else if (ACP__HAS(s->desc, verify))
        st = native_walk(s, flags, &v, err);
    else if ((st = walk_runs(s, &v, err)) == ACP_OK && !v.stopped && !v.nomem)
        st = walk_sessions(s, &v, err);
    if (st == ACP_OK && v.nomem)
        st = acp__error(err, ACP_NOMEM, "out of memory checking the store");
    if (st == ACP_OK && v.counts.damaged)
        st = acp__error(err, ACP_CORRUPT,
                        "%s: %" PRId64 " damaged item%s%s (checked %" PRId64 " runs, %" PRId64
                        " sessions, %" PRId64 " events)",
                        s->desc->name, v.counts.damaged, v.counts.damaged == 1 ? "" : "s",
                        v.stopped ? ", walk stopped early" : "", v.counts.runs,
                        v.counts.sessions, v.counts.events);
    if (counts)
        *counts = v.counts;
    return st;
}
