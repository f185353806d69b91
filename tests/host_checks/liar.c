/* SPDX-License-Identifier: MIT */
/*
 * liar.c - a fixture backend that hands back what the plugin contract
 * forbids, one way per store: the store path names the lie ("liar:over_limit").
 * "liar:honest" tells no lie, to show that the checks pass a correct plugin.
 * Built only into this test folder.
 */
#include <stdlib.h>
#include <string.h>

#include "acp_storage_plugin.h"

struct acp_backend {
    const acp_plugin_host *host;
    char lie[32];
};

static const char RUN[] = "{\"run_id\":\"r\",\"agent_name\":\"a\",\"status\":\"created\"}";
static const char SESSION[] = "{\"id\":\"s\"}";
static const char EVENT[] = "{\"type\":\"x\"}";

static int is(const acp_backend *b, const char *lie)
{
    return strcmp(b->lie, lie) == 0;
}

static acp_status l_open(const acp_plugin_host *host, const acp_open_args *args, acp_backend **out,
                         acp_call *call)
{
    acp_backend *b = calloc(1, sizeof *b);
    if (!b)
        return host->error(call, ACP_NOMEM, "out of memory");
    b->host = host;
    strncpy(b->lie, args->path, sizeof b->lie - 1);
    *out = b;
    return ACP_OK;
}

static void l_close(acp_backend *b)
{
    free(b);
}

/* Every save checks the promise of the plugin header: the document is
 * NUL-terminated at doc_len. */
static acp_status doc_check(acp_backend *b, const char *doc, size_t len, acp_call *call)
{
    if (doc[len] != '\0')
        return b->host->error(call, ACP_IO, "document not NUL-terminated at doc_len %zu", len);
    return ACP_OK;
}

static acp_status l_save_run(acp_backend *b, const acp_run_record *r, acp_call *call)
{
    return doc_check(b, r->doc, r->doc_len, call);
}

static acp_status l_save_session(acp_backend *b, const acp_session_record *r, acp_call *call)
{
    return doc_check(b, r->doc, r->doc_len, call);
}

static acp_status l_delete(acp_backend *b, const char *id, acp_call *call)
{
    (void)b, (void)id, (void)call;
    return ACP_OK;
}

static acp_status l_add_event(acp_backend *b, const acp_event_record *ev, int64_t *seq,
                              acp_call *call)
{
    *seq = 1;
    return doc_check(b, ev->doc, ev->doc_len, call);
}

/* Emit, and stop as the header says when the host answers non-zero. */
static acp_status put(acp_backend *b, acp_call *call, acp_item it)
{
    return b->host->emit(call, &it) ? ACP_NOMEM : ACP_OK;
}

static acp_status l_get_run(acp_backend *b, const char *run_id, acp_call *call)
{
    acp_item it = {.doc = RUN, .doc_len = sizeof RUN - 1, .key = run_id, .created_us = 1};
    if (is(b, "null_doc"))
        it.doc = NULL;
    acp_status st = put(b, call, it);
    if (st == ACP_OK && is(b, "get_twice"))
        st = put(b, call, it);
    return st;
}

static acp_status l_get_session(acp_backend *b, const char *id, acp_call *call)
{
    acp_item it = {.doc = SESSION, .doc_len = sizeof SESSION - 1, .key = id};
    return put(b, call, it);
}

static acp_status l_list_runs(acp_backend *b, const acp_run_query *q, acp_call *call)
{
    static const char *const keys[] = {"r9", "r8", "r7", "r6", "r5", "r4", "r3", "r2", "r1", "r0"};
    int64_t n = q->limit + (is(b, "over_limit") ? 1 : 0);
    if (n > 10)
        n = 10;
    if (q->want_total && !is(b, "no_total"))
        b->host->set_total(call, is(b, "negative_total") ? -5 : 10);
    acp_status st = ACP_OK;
    for (int64_t i = 0; st == ACP_OK && i < n; i++) {
        /* repeated_run: the second item repeats the first key, at another time,
         * so that only a duplicate check (not an order check) finds it. */
        const char *k = is(b, "repeated_run") && i == 1 ? keys[0] : keys[i];
        acp_item it = {.doc = RUN, .doc_len = sizeof RUN - 1, .key = k, .created_us = 100 - i};
        st = put(b, call, it);
    }
    return st;
}

static acp_status l_list_sessions(acp_backend *b, const char *after_id, int64_t limit,
                                  acp_call *call)
{
    static const char *const keys[] = {"s0", "s1", "s2", "s3"};
    (void)after_id;
    acp_status st = ACP_OK;
    for (int64_t i = 0; st == ACP_OK && i < limit && i < 4; i++) {
        const char *k = is(b, "repeated_session") && i == 2 ? keys[0] : keys[i];
        acp_item it = {.doc = SESSION, .doc_len = sizeof SESSION - 1, .key = k};
        st = put(b, call, it);
    }
    return st;
}

static acp_status l_get_events(acp_backend *b, const acp_event_query *q, acp_call *call)
{
    /* honest: after_seq+1, after_seq+2, ... */
    int64_t seqs[3] = {q->after_seq + 1, q->after_seq + 2, q->after_seq + 3};
    if (is(b, "seq_zero"))
        seqs[0] = 0;
    else if (is(b, "seq_order"))
        seqs[1] = q->after_seq + 3, seqs[2] = q->after_seq + 2;
    else if (is(b, "seq_repeat"))
        seqs[2] = seqs[1];
    else if (is(b, "seq_not_after"))
        seqs[0] = q->after_seq;
    acp_status st = ACP_OK;
    for (int64_t i = 0; st == ACP_OK && i < 3 && i < q->limit; i++) {
        acp_item it = {.doc = EVENT, .doc_len = sizeof EVENT - 1, .seq = seqs[i], .stored_us = 1};
        st = put(b, call, it);
    }
    return st;
}

static const acp_backend_vtable liar_vtable = {
    .open = l_open, .close = l_close,
    .save_run = l_save_run, .get_run = l_get_run, .delete_run = l_delete, .list_runs = l_list_runs,
    .save_session = l_save_session, .get_session = l_get_session, .delete_session = l_delete,
    .add_event = l_add_event, .get_events = l_get_events,
    .list_sessions = l_list_sessions,
};

ACP_PLUGIN_DEFINE(liar, "fixture", "breaks the emit contract on purpose", 0, NULL, &liar_vtable)
