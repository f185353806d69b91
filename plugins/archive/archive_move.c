/* SPDX-License-Identifier: MIT */
/*
 * archive_move.c - moving due runs from the hot tier to the cold one.
 *
 * A run is due when its status is final (completed, failed, cancelled) and
 * its last save (its version, the save's time in microseconds) is at least
 * `after` old; so it has been final for at least `after`.  A move, in this
 * order, each step safe to repeat:
 *   0. a journal naming the batch's runs is saved in the hot tier (a
 *      session ARCHIVE_JOURNAL...);
 *   1. the run's events the cold tier lacks are restored there with their
 *      sequence numbers and storage times (after the cold tier's last one:
 *      a crashed move's copies are a prefix, resumed from);
 *   2. the run record is stored in the cold tier with its version and
 *      creation time (restore; a run record there means its events are);
 *   3. the run is deleted from the hot tier;
 * and the journal is deleted after the batch.  A crash between 2 and 3
 * leaves the run in both tiers: lists and totals of any handle that read
 * the journal (archive_recover) show it once, and the next pass (or open)
 * finishes it.  Moves hold the handle's lock alone: its own calls never
 * see a half move.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"

#define EVENT_PAGE 500
#define WALK_PAGES 8 /* candidate pages one pass reads at most */
#define MOVE_MARGIN_MS 5000 /* no new move starts with less of the call left */

static const char *const final_statuses[] = {"completed", "failed", "cancelled"};

/* ---- events ---- */

typedef struct ev_copy {
    char *doc;
    size_t len;
    int64_t seq, stored_us;
} ev_copy;

typedef struct ev_list {
    ev_copy *v;
    size_t n, cap;
} ev_list;

static void ev_list_free(ev_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].doc);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int ev_sink(void *arg, const acp_item *it)
{
    ev_list *l = arg;
    if (archive_grow(&l->v, &l->cap, l->n, sizeof *l->v))
        return -1;
    char *d = malloc(it->doc_len + 1);
    if (!d)
        return -1;
    memcpy(d, it->doc, it->doc_len);
    d[it->doc_len] = '\0';
    ev_copy *e = &l->v[l->n++];
    e->doc = d;
    e->len = it->doc_len;
    e->seq = it->seq;
    e->stored_us = it->stored_us;
    return 0;
}

/* A page of events of id in tier t after seq after. */
static acp_status ev_page(archive *a, acp_child *t, const char *id, int64_t after, ev_list *out,
                          acp_call *call)
{
    acp_event_query q = {.run_id = id, .after_seq = after, .limit = EVENT_PAGE};
    acp_status st = a->ops->get_events(t, &q, ev_sink, out, call);
    if (st == ACP_NOMEM)
        return a->host->error(call, ACP_NOMEM, "out of memory reading events of '%s'", id);
    return st;
}

/* The last sequence of id in the cold tier (0: none). */
static acp_status cold_last_seq(archive *a, const char *id, int64_t *last, acp_call *call)
{
    *last = 0;
    for (;;) {
        ev_list l = {0};
        acp_status st = ev_page(a, a->cold, id, *last, &l, call);
        if (st == ACP_OK && l.n)
            *last = l.v[l.n - 1].seq;
        size_t n = l.n;
        ev_list_free(&l);
        if (st != ACP_OK || n < EVENT_PAGE)
            return st;
    }
}

/* Step 1: the hot tier's events of id after the cold tier's last. */
static acp_status copy_events(archive *a, const char *id, acp_call *call)
{
    int64_t last;
    acp_status st = cold_last_seq(a, id, &last, call);
    while (st == ACP_OK) {
        ev_list l = {0};
        if ((st = ev_page(a, a->hot, id, last, &l, call)) != ACP_OK || l.n == 0) {
            ev_list_free(&l);
            break;
        }
        acp_event_record *evs = calloc(l.n, sizeof *evs);
        int64_t *seqs = calloc(l.n, sizeof *seqs);
        acp_status *res = calloc(l.n, sizeof *res);
        if (!evs || !seqs || !res) {
            st = a->host->error(call, ACP_NOMEM, "out of memory moving events of '%s'", id);
        } else {
            for (size_t i = 0; i < l.n; i++) {
                evs[i] = (acp_event_record){.run_id = id, .run_id_len = strlen(id),
                                            .stored_us = l.v[i].stored_us, .doc = l.v[i].doc,
                                            .doc_len = l.v[i].len};
                seqs[i] = l.v[i].seq;
            }
            st = a->ops->restore_events(a->cold, evs, seqs, l.n, res, call);
            for (size_t i = 0; st == ACP_OK && i < l.n; i++)
                if (res[i] != ACP_OK)
                    st = a->host->error(call, ACP_CONFLICT,
                                        "cold: event %lld of run '%s' is not the next one there",
                                        (long long)seqs[i], id);
            last = l.v[l.n - 1].seq;
        }
        size_t n = l.n;
        free(evs);
        free(seqs);
        free(res);
        ev_list_free(&l);
        if (n < EVENT_PAGE)
            break;
    }
    return st;
}

/* Step 2: the run record, as the hot tier has it. */
static acp_status store_run(archive *a, const arun *h, acp_call *call)
{
    if (a->cold_caps & ACP_CAP_VERSIONS)
        return a->ops->save_run_v(a->cold, h->doc, h->len, ACP_RUN_SET_VERSION, h->version,
                                  h->created_us, NULL, call);
    acp_run_record r = {.run_id = h->id, .run_id_len = strlen(h->id), .doc = h->doc,
                        .doc_len = h->len, .created_us = h->created_us};
    acp_status res = ACP_OK;
    acp_status st = a->ops->restore_runs(a->cold, &r, 1, &res, call);
    if (st != ACP_OK || res == ACP_OK)
        return st;
    /* Already there: a crashed move's copy, the same, or refuse. */
    arun c;
    int found;
    if ((st = archive_get(a, a->cold, h->id, &c, &found, call)) != ACP_OK)
        return st;
    int same = found && archive_same(a, h, &c);
    if (found)
        arun_free(&c);
    return same ? ACP_OK
                : a->host->error(call, ACP_CONFLICT, "cold: another run '%s' is stored there",
                                 h->id);
}

static acp_status move_run(archive *a, const arun *h, acp_call *call)
{
    acp_status st = copy_events(a, h->id, call);
    if (st == ACP_OK)
        st = store_run(a, h, call);
    if (st == ACP_OK) {
        st = a->ops->delete_run(a->hot, h->id, call);
        if (st == ACP_NOT_FOUND)
            st = ACP_OK;
    }
    return st;
}

/* A run a journal names, after a crash: finish the move when the cold copy
 * is complete (its run record is there and the same as the hot one), drop
 * a cold copy that differs; partial events stay as the prefix the next
 * move resumes from. */
static acp_status recover_run(archive *a, const char *id, acp_call *call)
{
    arun h, c;
    int fh, fc = 0;
    acp_status st = archive_get(a, a->hot, id, &h, &fh, call);
    if (st == ACP_OK)
        st = archive_get(a, a->cold, id, &c, &fc, call);
    if (st == ACP_OK && fh && fc)
        st = archive_same(a, &h, &c) ? move_run(a, &h, call)
                                     : a->ops->delete_run(a->cold, id, call);
    if (fh)
        arun_free(&h);
    if (fc)
        arun_free(&c);
    return st;
}

/* ---- journals ---- */

static char hexd(unsigned v)
{
    return "0123456789abcdef"[v & 15];
}

/* The journal document naming the runs (hex of their ids, comma-separated:
 * no escaping needed). */
static char *journal_doc(const char *jid, const arun *runs, size_t n, size_t *len)
{
    size_t cap = strlen(jid) + 64;
    for (size_t i = 0; i < n; i++)
        cap += 2 * strlen(runs[i].id) + 1;
    char *d = malloc(cap), *o;
    if (!d)
        return NULL;
    o = d + sprintf(d, "{\"id\":\"%s\",\"state\":{\"runs\":\"", jid);
    for (size_t i = 0; i < n; i++) {
        if (i)
            *o++ = ',';
        for (const unsigned char *p = (const unsigned char *)runs[i].id; *p; p++) {
            *o++ = hexd(*p >> 4);
            *o++ = hexd(*p);
        }
    }
    o += sprintf(o, "\"}}");
    *len = (size_t)(o - d);
    return d;
}

static int unhex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Call fn for each run id of a journal document; non-OK stops. */
static acp_status journal_each(archive *a, const char *doc, size_t len,
                               acp_status (*fn)(archive *, const char *, acp_call *),
                               acp_call *call)
{
    const char *key = "\"runs\":\"", *p = doc, *end = doc + len;
    const char *k = strstr(doc, key);
    if (!k)
        return ACP_OK; /* not one of ours: nothing to finish */
    p = k + strlen(key);
    char id[300];
    size_t n = 0;
    for (; p < end; p++) {
        if (*p == ',' || *p == '"') {
            id[n] = '\0';
            acp_status st = n ? fn(a, id, call) : ACP_OK;
            if (st != ACP_OK)
                return st;
            n = 0;
            if (*p == '"')
                break;
            continue;
        }
        int hi = unhex(p[0]), lo = p + 1 < end ? unhex(p[1]) : -1;
        if (hi < 0 || lo < 0 || n + 1 >= sizeof id)
            return a->host->error(call, ACP_CORRUPT, "a damaged archive journal in the hot tier");
        id[n++] = (char)(hi << 4 | lo);
        p++;
    }
    return ACP_OK;
}

static acp_status pend(archive *a, const char *id, acp_call *call)
{
    return archive_pending_add(a, id) ? a->host->error(call, ACP_NOMEM, "out of memory")
                                      : ACP_OK;
}

/* Every journal session of the hot tier (ids in order after the prefix). */
static acp_status journals(archive *a, arun_list *out, acp_call *call)
{
    char *after = strdup(ARCHIVE_JOURNAL);
    acp_status st = after ? ACP_OK : a->host->error(call, ACP_NOMEM, "out of memory");
    while (st == ACP_OK) {
        size_t before = out->n;
        st = a->ops->list_sessions(a->hot, after, 100, arun_list_sink, out, call);
        if (st == ACP_UNSUPPORTED) { /* a hot tier that cannot list sessions keeps none */
            st = ACP_OK;
            break;
        }
        size_t n = out->n;
        while (out->n > before &&
               strncmp(out->v[out->n - 1].id, ARCHIVE_JOURNAL, strlen(ARCHIVE_JOURNAL)) != 0)
            arun_free(&out->v[--out->n]);
        if (st != ACP_OK || n - before < 100 || out->n < n)
            break;
        free(after);
        if (!(after = strdup(out->v[out->n - 1].id)))
            st = a->host->error(call, ACP_NOMEM, "out of memory");
    }
    free(after);
    return st;
}

/* Under lk held alone (or at open). */
acp_status archive_recover(archive *a, int finish, acp_call *call)
{
    arun_list js = {0};
    acp_status st = journals(a, &js, call);
    archive_pending_clear(a);
    for (size_t i = 0; st == ACP_OK && i < js.n; i++) {
        acp_status r = finish ? journal_each(a, js.v[i].doc, js.v[i].len, recover_run, call)
                              : ACP_UNAVAILABLE;
        if (r == ACP_OK) {
            r = a->ops->delete_session(a->hot, js.v[i].id, call);
            if (r == ACP_OK || r == ACP_NOT_FOUND)
                continue;
        }
        if (finish)
            a->host->log(1, "archive", "a half move stays pending (status %d); the next pass "
                                       "retries it",
                         (int)r);
        st = journal_each(a, js.v[i].doc, js.v[i].len, pend, call);
    }
    arun_list_free(&js);
    return st;
}

/* ---- passes ---- */

/* Up to limit due runs of the hot tier, oldest pages first read last: the
 * list is newest first, cut at the newest creation time a due run can
 * have. */
static acp_status due_runs(archive *a, int64_t limit, arun_list *out, acp_call *call)
{
    int64_t cutoff = a->host->now_us() - a->conf.after_us;
    acp_run_query q = {.limit = limit > 1000 ? 1000 : limit,
                       .statuses = final_statuses,
                       .n_statuses = 3,
                       .created_since_us = INT64_MIN,
                       .created_until_us = cutoff < INT64_MAX ? cutoff + 1 : INT64_MAX};
    char *cursor = NULL;
    acp_status st = ACP_OK;
    for (int page = 0; page < WALK_PAGES && st == ACP_OK; page++) {
        arun_list l = {0};
        st = a->ops->list_runs(a->hot, &q, arun_list_sink, &l, NULL, call);
        if (st == ACP_NOMEM && !l.n)
            st = a->host->error(call, ACP_NOMEM, "out of memory");
        for (size_t i = 0; st == ACP_OK && i < l.n; i++) {
            arun *r = &l.v[i];
            if (r->version > cutoff || (int64_t)out->n >= limit)
                continue;
            if (arun_list_sink(out, &(acp_item){.doc = r->doc, .doc_len = r->len, .key = r->id,
                                                .created_us = r->created_us,
                                                .version = r->version}))
                st = a->host->error(call, ACP_NOMEM, "out of memory");
        }
        int more = st == ACP_OK && (int64_t)l.n == q.limit && (int64_t)out->n < limit;
        if (more) {
            free(cursor);
            cursor = strdup(l.v[l.n - 1].id);
            q.has_cursor = 1;
            q.cursor_created_us = l.v[l.n - 1].created_us;
            q.cursor_run_id = cursor;
            if (!cursor)
                st = a->host->error(call, ACP_NOMEM, "out of memory");
        }
        arun_list_free(&l);
        if (!more)
            break;
    }
    free(cursor);
    return st;
}

static acp_status move_batch(archive *a, arun_list *due, int64_t *moved, acp_call *call)
{
    char jid[128];
    snprintf(jid, sizeof jid, ARCHIVE_JOURNAL "%s.%llu", a->tag,
             (unsigned long long)atomic_fetch_add(&a->journal_seq, 1));
    size_t len;
    char *doc = journal_doc(jid, due->v, due->n, &len);
    if (!doc)
        return a->host->error(call, ACP_NOMEM, "out of memory");
    acp_status st = a->ops->save_session(a->hot, doc, len, call);
    free(doc);
    for (size_t i = 0; st == ACP_OK && i < due->n; i++) {
        /* A batch ends early rather than run out of the call's time: the
         * caller asks again for the rest. */
        int64_t left = a->host->remaining_ms(call);
        if (i > 0 && left >= 0 && left < MOVE_MARGIN_MS)
            break;
        if ((st = move_run(a, &due->v[i], call)) == ACP_OK)
            (*moved)++;
    }
    if (st == ACP_OK) {
        st = a->ops->delete_session(a->hot, jid, call);
        if (st == ACP_NOT_FOUND)
            st = ACP_OK;
    }
    if (st != ACP_OK) /* the journal stays: its runs may be in both tiers until finished */
        for (size_t i = 0; i < due->n; i++)
            if (archive_pending_add(a, due->v[i].id))
                return a->host->error(call, ACP_NOMEM, "out of memory");
    return st;
}

acp_status archive_pass(archive *a, int64_t limit, int wait, int64_t *moved, acp_call *call)
{
    *moved = 0;
    if (wait)
        pthread_mutex_lock(&a->pass_mu);
    else if (pthread_mutex_trylock(&a->pass_mu) != 0)
        return ACP_OK;
    pthread_rwlock_wrlock(&a->lk);
    arun_list due = {0};
    /* Journals of other handles are finished at open and by passes on
     * demand; an automatic pass reads them only after a failure of its own
     * (one hot call less per write). */
    acp_status st = wait || a->n_pending ? archive_recover(a, 1, call) : ACP_OK;
    if (st == ACP_OK)
        st = due_runs(a, limit, &due, call);
    if (st == ACP_OK && due.n)
        st = move_batch(a, &due, moved, call);
    arun_list_free(&due);
    pthread_rwlock_unlock(&a->lk);
    if (*moved)
        a->host->log(3, "archive", "moved %lld runs to the cold tier", (long long)*moved);
    pthread_mutex_unlock(&a->pass_mu);
    return st;
}

void archive_after_write(archive *a, acp_call *call)
{
    if (!a->conf.auto_on || (atomic_fetch_add(&a->writes, 1) + 1) % a->conf.every != 0)
        return;
    int64_t moved;
    acp_status st = archive_pass(a, a->conf.batch, 0, &moved, call);
    if (st != ACP_OK)
        a->host->log(1, "archive", "automatic archive pass failed (status %d); the write "
                                   "stands, the next pass retries",
                     (int)st);
}
