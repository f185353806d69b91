/* SPDX-License-Identifier: MIT */
/*
 * passthrough.c - a test-only composition plugin: every method is the same
 * method of one child store, opened by URI through host->child
 * ("passthrough:?child=memory:").  It proves that a plugin built from the
 * plugin header alone can compose stores, and lets the conformance suite
 * run through a child.  Built twice, with the capabilities of the children
 * it is tested over (FIXTURE_CAPS).
 *
 * Options: child (the child's URI; without it the store is a probe whose
 * ping fails with the milliseconds it had left), label (the child's name in
 * messages, default "child"), delay_ms (ping sleeps this long before it
 * calls the child: a parent that used up its time), sink ("1": results come
 * back through the plugin's own sink, which re-emits them, instead of
 * straight to the call's results).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acp_storage_plugin.h"

#ifndef FIXTURE_CAPS
#define FIXTURE_CAPS (ACP_CAP_CONCURRENT | ACP_CAP_FOLLOW)
#endif

struct acp_backend {
    const acp_plugin_host *host;
    const acp_child_ops *ops;
    acp_child *child; /* NULL: a probe */
    long delay_ms;
    int own_sink;
};

/* The sink a composition writes: here it hands each item on to the host
 * (a cache would also keep it). */
typedef struct sink_ctx {
    acp_backend *b;
    acp_call *call;
} sink_ctx;

static int pt_sink(void *arg, const acp_item *item)
{
    sink_ctx *s = arg;
    return s->b->host->emit(s->call, item);
}

#define SINK(b) ((b)->own_sink ? pt_sink : NULL)
#define SINK_ARG(b, call) ((b)->own_sink ? &(sink_ctx){(b), (call)} : NULL)

static acp_status pt_open(const acp_plugin_host *host, const acp_open_args *args,
                          acp_backend **out, acp_call *call)
{
    const char *uri = NULL, *label = "child", *delay = "0";
    int own_sink = 0;
    for (size_t i = 0; i < args->n_options; i++) {
        const acp_plugin_option *o = &args->options[i];
        if (strcmp(o->key, "child") == 0)
            uri = o->value;
        else if (strcmp(o->key, "label") == 0)
            label = o->value;
        else if (strcmp(o->key, "delay_ms") == 0)
            delay = o->value;
        else if (strcmp(o->key, "sink") == 0)
            own_sink = strcmp(o->value, "1") == 0;
    }
    if (host->size < offsetof(acp_plugin_host, child) + sizeof host->child)
        return host->error(call, ACP_UNSUPPORTED, "the host offers no child stores");
    acp_backend *b = calloc(1, sizeof *b);
    if (!b)
        return host->error(call, ACP_NOMEM, "out of memory");
    b->host = host;
    b->ops = host->child;
    b->delay_ms = strtol(delay, NULL, 10);
    b->own_sink = own_sink;
    if (uri) {
        acp_status st = b->ops->open(label, uri, &b->child, call);
        if (st != ACP_OK) {
            free(b);
            return st; /* the child's failure is already the call's error */
        }
    }
    *out = b;
    return ACP_OK;
}

static void pt_close(acp_backend *b)
{
    b->ops->close(b->child);
    free(b);
}

#define NEED_CHILD(b, call)                                                                        \
    do {                                                                                           \
        if (!(b)->child)                                                                           \
            return (b)->host->error(call, ACP_UNSUPPORTED, "a probe has no child");                \
    } while (0)

static acp_status pt_ping(acp_backend *b, acp_call *call)
{
    if (b->delay_ms > 0) {
        struct timespec ts = {b->delay_ms / 1000, (b->delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (!b->child)
        return b->host->error(call, ACP_UNAVAILABLE, "probe: remaining_ms=%lld",
                              (long long)b->host->remaining_ms(call));
    return b->ops->ping(b->child, call);
}

static acp_status pt_save_run(acp_backend *b, const acp_run_record *r, acp_call *call)
{
    NEED_CHILD(b, call);
    return b->ops->save_run(b->child, r->doc, r->doc_len, call);
}

static acp_status pt_get_run(acp_backend *b, const char *id, acp_call *call)
{
    NEED_CHILD(b, call);
    return b->ops->get_run(b->child, id, SINK(b), SINK_ARG(b, call), call);
}

static acp_status pt_delete_run(acp_backend *b, const char *id, acp_call *call)
{
    NEED_CHILD(b, call);
    return b->ops->delete_run(b->child, id, call);
}

static acp_status pt_list_runs(acp_backend *b, const acp_run_query *q, acp_call *call)
{
    NEED_CHILD(b, call);
    if (!b->own_sink)
        return b->ops->list_runs(b->child, q, NULL, NULL, NULL, call);
    int64_t total = -1;
    acp_status st = b->ops->list_runs(b->child, q, SINK(b), SINK_ARG(b, call), &total, call);
    if (st == ACP_OK && q->want_total)
        b->host->set_total(call, total);
    return st;
}

static acp_status pt_save_session(acp_backend *b, const acp_session_record *s, acp_call *call)
{
    NEED_CHILD(b, call);
    return b->ops->save_session(b->child, s->doc, s->doc_len, call);
}

static acp_status pt_get_session(acp_backend *b, const char *id, acp_call *call)
{
    NEED_CHILD(b, call);
    return b->ops->get_session(b->child, id, SINK(b), SINK_ARG(b, call), call);
}

static acp_status pt_delete_session(acp_backend *b, const char *id, acp_call *call)
{
    NEED_CHILD(b, call);
    return b->ops->delete_session(b->child, id, call);
}

static acp_status pt_list_sessions(acp_backend *b, const char *after, int64_t limit,
                                   acp_call *call)
{
    NEED_CHILD(b, call);
    return b->ops->list_sessions(b->child, after, limit, SINK(b), SINK_ARG(b, call), call);
}

static acp_status pt_add_event(acp_backend *b, const acp_event_record *ev, int64_t *seq,
                               acp_call *call)
{
    NEED_CHILD(b, call);
    return b->ops->add_event(b->child, ev->run_id, ev->doc, ev->doc_len, seq, call);
}

static acp_status pt_get_events(acp_backend *b, const acp_event_query *q, acp_call *call)
{
    NEED_CHILD(b, call);
    return b->ops->get_events(b->child, q, SINK(b), SINK_ARG(b, call), call);
}

static acp_status pt_wait_events(acp_backend *b, const acp_event_query *q, acp_call *call)
{
    NEED_CHILD(b, call);
    return b->ops->wait_events(b->child, q, SINK(b), SINK_ARG(b, call), call);
}

static const acp_backend_vtable vtable = {
    .open = pt_open,
    .close = pt_close,
    .ping = pt_ping,
    .save_run = pt_save_run,
    .get_run = pt_get_run,
    .delete_run = pt_delete_run,
    .list_runs = pt_list_runs,
    .save_session = pt_save_session,
    .get_session = pt_get_session,
    .delete_session = pt_delete_session,
    .add_event = pt_add_event,
    .get_events = pt_get_events,
    .list_sessions = pt_list_sessions,
    .wait_events = pt_wait_events,
};

static const char *const option_names[] = {"child", "label", "delay_ms", "sink", NULL};

#define PT_DEFINE(NAME) ACP_PLUGIN_DEFINE(NAME, "test", "Test composition: one child store", \
                                          FIXTURE_CAPS, option_names, &vtable)
PT_DEFINE(FIXTURE_NAME)
