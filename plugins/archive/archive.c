/* SPDX-License-Identifier: MIT */
/*
 * archive.c - the archive backend: active runs in a hot store, finished
 * runs moved to a cold one (archive_move.c), both read as one store.
 *
 * The tier rule (docs/storage-contract.md, "Archive tiers"): a run lives
 * in exactly one tier, and every operation on it goes to that tier: the
 * hot one when it holds the run record, else the cold one when it holds
 * it, else (a new run, or events without a run) the hot one.  So a save or
 * an appended event of an archived run goes to the cold tier and the run
 * stays archived; its versions and sequences continue there.  Sessions
 * live in the hot tier only.  Every call of this handle holds lk shared; a
 * move holds it alone, so no call sees a run between its copy and its
 * removal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"

static acp_status ar_open(const acp_plugin_host *host, const acp_open_args *args,
                          acp_backend **out, acp_call *call)
{
    if (host->size < offsetof(acp_plugin_host, child) + sizeof host->child)
        return host->error(call, ACP_UNSUPPORTED, "the host offers no child stores");
    const acp_child_ops *ops = host->child;
    if (ops->size < offsetof(acp_child_ops, restore_events) + sizeof ops->restore_events)
        return host->error(call, ACP_UNSUPPORTED, "the host cannot restore into child stores");
    archive *a = calloc(1, sizeof *a);
    if (!a)
        return host->error(call, ACP_NOMEM, "out of memory");
    a->host = host;
    a->ops = ops;
    acp_status st = archive_conf_parse(&a->conf, host, args, call);
    if (st != ACP_OK) {
        free(a);
        return st;
    }
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    /* A waiting move must not starve behind a stream of readers. */
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&a->lk, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&a->pass_mu, NULL);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* Journal ids of this handle: unique across processes and handles. */
    snprintf(a->tag, sizeof a->tag, "%lx.%lx.%lx", (unsigned long)getpid(),
             (unsigned long)ts.tv_sec ^ (unsigned long)ts.tv_nsec,
             (unsigned long)(uintptr_t)a);
    if ((st = ops->open("hot", a->conf.hot, &a->hot, call)) != ACP_OK ||
        (st = ops->open("cold", a->conf.cold, &a->cold, call)) != ACP_OK)
        goto fail;
    a->hot_caps = ops->capabilities(a->hot);
    a->cold_caps = ops->capabilities(a->cold);
    /* The age of a final run is the version of its last save. */
    if (!(a->hot_caps & ACP_CAP_VERSIONS)) {
        st = host->error(call, ACP_UNSUPPORTED,
                         "the hot store (%s) keeps no run versions: the archive measures a "
                         "run's age by them",
                         ops->backend(a->hot));
        goto fail;
    }
    if ((st = archive_recover(a, a->conf.recover, call)) != ACP_OK)
        goto fail;
    *out = a;
    return ACP_OK;
fail:
    ops->close(a->cold);
    ops->close(a->hot);
    archive_conf_free(&a->conf);
    pthread_rwlock_destroy(&a->lk);
    pthread_mutex_destroy(&a->pass_mu);
    free(a);
    return st;
}

static void ar_close(acp_backend *a)
{
    a->ops->close(a->cold);
    a->ops->close(a->hot);
    archive_conf_free(&a->conf);
    archive_pending_clear(a);
    free(a->pending);
    pthread_rwlock_destroy(&a->lk);
    pthread_mutex_destroy(&a->pass_mu);
    free(a);
}

/* What both tiers keep (a run may be in either); never several processes:
 * moves are serialised inside one handle only. */
static uint64_t ar_capabilities(acp_backend *a)
{
    uint64_t both = a->hot_caps & a->cold_caps;
    return ACP_CAP_CONCURRENT | (both & (ACP_CAP_DURABLE | ACP_CAP_VERSIONS |
                                         ACP_CAP_RUN_FILTERS)) |
           ((a->hot_caps | a->cold_caps) & ACP_CAP_NETWORK);
}

static acp_status ar_ping(acp_backend *a, acp_call *call)
{
    acp_status st = a->ops->ping(a->hot, call);
    return st == ACP_OK ? a->ops->ping(a->cold, call) : st;
}

static int count_sink(void *arg, const acp_item *it)
{
    (void)it;
    ++*(int64_t *)arg;
    return 0;
}

/* The tier of run id (the rule above), under lk shared.  For events, a
 * stream the hot tier holds without a run record is hot too (an archived
 * run has no events left there): no cold call for it. */
static acp_status tier_of(archive *a, const char *id, int events, acp_child **t,
                          acp_call *call)
{
    arun r;
    int found;
    acp_status st = archive_get(a, a->hot, id, &r, &found, call);
    arun_free(&r);
    if (st == ACP_OK && !found && events) {
        int64_t n = 0;
        acp_event_query q = {.run_id = id, .limit = 1};
        st = a->ops->get_events(a->hot, &q, count_sink, &n, call);
        found = n > 0;
    }
    if (st != ACP_OK || found) {
        *t = a->hot;
        return st;
    }
    st = archive_get(a, a->cold, id, &r, &found, call);
    arun_free(&r);
    *t = found ? a->cold : a->hot;
    return st;
}

static acp_status ar_save_run(acp_backend *a, const acp_run_record *r, acp_call *call)
{
    pthread_rwlock_rdlock(&a->lk);
    acp_child *t;
    acp_status st = tier_of(a, r->run_id, 0, &t, call);
    int64_t v = -1;
    if (st == ACP_OK) {
        uint32_t flags = r->flags & (ACP_RUN_IF_VERSION | ACP_RUN_IF_ABSENT | ACP_RUN_SET_VERSION |
                                     ACP_RUN_IF_NEWER);
        st = a->ops->save_run_v(t, r->doc, r->doc_len, flags, r->version,
                                (flags & ACP_RUN_SET_VERSION) ? r->created_us : ACP_NO_TIME, &v,
                                call);
        if ((t == a->cold && !(a->cold_caps & ACP_CAP_VERSIONS)) && st == ACP_UNSUPPORTED &&
            !flags)
            st = a->ops->save_run(t, r->doc, r->doc_len, call);
    }
    pthread_rwlock_unlock(&a->lk);
    if ((st == ACP_OK || (st == ACP_CONFLICT && v >= 0)) &&
        (ar_capabilities(a) & ACP_CAP_VERSIONS))
        acp_report_version(a->host, call, v);
    if (st == ACP_OK)
        archive_after_write(a, call);
    return st;
}

static acp_status ar_get_run(acp_backend *a, const char *id, acp_call *call)
{
    pthread_rwlock_rdlock(&a->lk);
    acp_status st = a->ops->get_run(a->hot, id, NULL, NULL, call);
    if (st == ACP_NOT_FOUND)
        st = a->ops->get_run(a->cold, id, NULL, NULL, call);
    pthread_rwlock_unlock(&a->lk);
    return st;
}

/* From both tiers: a crash may have left a copy in each. */
static acp_status ar_delete_run(acp_backend *a, const char *id, acp_call *call)
{
    pthread_rwlock_rdlock(&a->lk);
    acp_status sh = a->ops->delete_run(a->hot, id, call);
    acp_status sc = sh == ACP_OK || sh == ACP_NOT_FOUND ? a->ops->delete_run(a->cold, id, call)
                                                        : sh;
    pthread_rwlock_unlock(&a->lk);
    if (sh != ACP_OK && sh != ACP_NOT_FOUND)
        return sh;
    if (sc != ACP_OK && sc != ACP_NOT_FOUND)
        return sc;
    if (sh == ACP_NOT_FOUND && sc == ACP_NOT_FOUND)
        return ACP_NOT_FOUND;
    archive_after_write(a, call);
    return ACP_OK;
}

static acp_status ar_list_runs(acp_backend *a, const acp_run_query *q, acp_call *call)
{
    pthread_rwlock_rdlock(&a->lk);
    acp_status st = archive_list_runs(a, q, call);
    pthread_rwlock_unlock(&a->lk);
    return st;
}

static int reserved(const char *id)
{
    return strncmp(id, ARCHIVE_RESERVED, strlen(ARCHIVE_RESERVED)) == 0;
}

#define REFUSE_RESERVED(a, id, call)                                                               \
    do {                                                                                           \
        if (reserved(id))                                                                          \
            return (a)->host->error(call, ACP_INVALID,                                             \
                                    "session ids starting with '" ARCHIVE_RESERVED                 \
                                    "' are the archive's own");                                    \
    } while (0)

static acp_status ar_save_session(acp_backend *a, const acp_session_record *s, acp_call *call)
{
    REFUSE_RESERVED(a, s->id, call);
    return a->ops->save_session(a->hot, s->doc, s->doc_len, call);
}

static acp_status ar_get_session(acp_backend *a, const char *id, acp_call *call)
{
    if (reserved(id))
        return a->host->error(call, ACP_NOT_FOUND, "no session '%s'", id);
    return a->ops->get_session(a->hot, id, NULL, NULL, call);
}

static acp_status ar_delete_session(acp_backend *a, const char *id, acp_call *call)
{
    REFUSE_RESERVED(a, id, call);
    return a->ops->delete_session(a->hot, id, call);
}

/* Sessions of the hot tier without the archive's own. */
typedef struct sess_sink {
    archive *a;
    acp_call *call;
    int64_t left, seen, hidden;
    char *last; /* the last id seen */
} sess_sink;

static int sess_emit(void *arg, const acp_item *it)
{
    sess_sink *s = arg;
    s->seen++;
    free(s->last);
    if (!(s->last = strdup(it->key)))
        return -1;
    if (reserved(it->key)) {
        s->hidden++;
        return 0;
    }
    if (s->left <= 0)
        return 0;
    s->left--;
    return s->a->host->emit(s->call, it);
}

static acp_status ar_list_sessions(acp_backend *a, const char *after, int64_t limit,
                                   acp_call *call)
{
    sess_sink s = {a, call, limit, 0, 0, NULL};
    acp_status st = ACP_OK;
    char *from = after ? strdup(after) : NULL;
    if (after && !from)
        return a->host->error(call, ACP_NOMEM, "out of memory");
    /* A page short of what was asked only because journals were hidden is
     * topped up from after the last one seen. */
    while (s.left > 0) {
        s.seen = s.hidden = 0;
        int64_t ask = s.left;
        st = a->ops->list_sessions(a->hot, from, ask, sess_emit, &s, call);
        if (st != ACP_OK || s.seen < ask || s.hidden == 0)
            break;
        free(from);
        from = s.last;
        s.last = NULL;
    }
    free(from);
    free(s.last);
    return st;
}

static acp_status ar_add_event(acp_backend *a, const acp_event_record *ev, int64_t *seq,
                               acp_call *call)
{
    pthread_rwlock_rdlock(&a->lk);
    acp_child *t;
    acp_status st = tier_of(a, ev->run_id, 1, &t, call);
    if (st == ACP_OK)
        st = a->ops->add_event(t, ev->run_id, ev->doc, ev->doc_len, seq, call);
    pthread_rwlock_unlock(&a->lk);
    if (st == ACP_OK)
        archive_after_write(a, call);
    return st;
}

static acp_status ar_get_events(acp_backend *a, const acp_event_query *q, acp_call *call)
{
    pthread_rwlock_rdlock(&a->lk);
    acp_child *t;
    acp_status st = tier_of(a, q->run_id, 1, &t, call);
    if (st == ACP_OK)
        st = a->ops->get_events(t, q, NULL, NULL, call);
    pthread_rwlock_unlock(&a->lk);
    return st;
}

static acp_status ar_archive(acp_backend *a, int64_t limit, int64_t *moved, acp_call *call)
{
    return archive_pass(a, limit, 1, moved, call);
}

static const acp_backend_vtable vtable = {
    .open = ar_open,
    .close = ar_close,
    .ping = ar_ping,
    .save_run = ar_save_run,
    .get_run = ar_get_run,
    .delete_run = ar_delete_run,
    .list_runs = ar_list_runs,
    .save_session = ar_save_session,
    .get_session = ar_get_session,
    .delete_session = ar_delete_session,
    .add_event = ar_add_event,
    .get_events = ar_get_events,
    .list_sessions = ar_list_sessions,
    .capabilities = ar_capabilities,
    .archive = ar_archive,
};

/* The descriptor names the most an instance may keep; ar_capabilities
 * narrows it to what both tiers keep. */
ACP_PLUGIN_DEFINE_TYPED(archive, ACP_STORAGE_PLUGIN_VERSION,
                        "Finished runs move from a hot store to a cold one; both read as one",
                        ACP_CAP_CONCURRENT | ACP_CAP_DURABLE | ACP_CAP_VERSIONS |
                            ACP_CAP_RUN_FILTERS | ACP_CAP_NETWORK,
                        archive_variants, archive_options, &vtable)
