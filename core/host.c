/* SPDX-License-Identifier: MIT */
/*
 * host.c - the services the core offers plugins, and the per-call context
 * through which results and error details come back.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

acp_page *acp__page_new(size_t max)
{
    acp_page *p = calloc(1, sizeof *p);
    if (p) {
        p->max = max;
        p->total = -1;
    }
    return p;
}

/* Record that the plugin broke the contract in what it handed back; the
 * call then fails with ACP_PLUGIN (acp__call_finish).  Returns 1 so that
 * emit tells the plugin to stop. */
static int host_fault(acp_call *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int host_fault(acp_call *call, const char *fmt, ...)
{
    if (!call->fault[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(call->fault, sizeof call->fault, fmt, ap);
        va_end(ap);
    }
    return 1;
}

/* Which rule the item broke (emit found that one did): recorded as the
 * call's fault.  Returns 1.  Out of line: the checks in emit stay a few
 * comparisons. */
static __attribute__((noinline)) int emit_fault(acp_call *call, const acp_page *p,
                                                const acp_item *it)
{
    if (!it)
        return host_fault(call, "emitted a NULL item");
    if (!it->doc && it->doc_len)
        return host_fault(call, "emitted an item with no document but a length of %zu",
                          it->doc_len);
    if (p->n >= p->max)
        return host_fault(call, "emitted more than the %zu item%s asked for", p->max,
                          p->max == 1 ? "" : "s");
    if (it->seq < 1)
        return host_fault(call, "emitted an event with sequence %" PRId64
                          " (sequences start at 1)", it->seq);
    return host_fault(call,
                      p->n ? "emitted event %" PRId64 " after event %" PRId64
                             " (events come in sequence order, each once)"
                           : "emitted event %" PRId64 " for a query after sequence %" PRId64,
                      it->seq, p->last_seq);
}

/* The checks run on every item of every call: keep them a few comparisons.
 * last_seq starts at after_seq (>= 0), so seq <= last_seq also catches a
 * sequence below 1. */
static int host_emit(acp_call *call, const acp_item *it)
{
    acp_page *p = call ? call->page : NULL;
    if (!p)
        return 0; /* nothing asked for: ignore */
    if (!it || (!it->doc && it->doc_len) || p->n >= p->max ||
        (p->events && it->seq <= p->last_seq))
        return emit_fault(call, p, it);
    if (p->events)
        p->last_seq = it->seq;
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 16;
        if (nc > p->max)
            nc = p->max;
        acp__item *ni = realloc(p->items, nc * sizeof *ni);
        if (!ni)
            return 1;
        p->items = ni;
        p->cap = nc;
    }
    const char *key = p->keyless ? NULL : it->key;
    size_t klen = key ? strlen(key) : 0;
    char *mem = malloc(it->doc_len + 1 + (key ? klen + 1 : 0));
    if (!mem)
        return 1;
    acp__item *o = &p->items[p->n++];
    if (it->doc_len)
        memcpy(mem, it->doc, it->doc_len);
    mem[it->doc_len] = '\0';
    o->doc = mem;
    o->doc_len = it->doc_len;
    o->key = NULL;
    if (key) {
        o->key = mem + it->doc_len + 1;
        memcpy(o->key, key, klen + 1);
    }
    o->created_us = it->created_us;
    o->seq = it->seq;
    o->stored_us = it->stored_us;
    o->version = call->item_versions ? it->version : 0; /* older acp_items end before it */
    return 0;
}

static void host_set_total(acp_call *call, int64_t total)
{
    if (!call || !call->page)
        return;
    if (total < 0)
        host_fault(call, "reported a negative total (%" PRId64 ")", total);
    else
        call->page->total = total;
}

static void host_set_version(acp_call *call, int64_t version)
{
    if (call)
        call->version = version;
}

char *acp__call_message(acp_call *call, acp_status code)
{
    if (call->has_message && call->code != code) {
        memcpy(call->prev_message, call->message, sizeof call->prev_message);
        call->prev_code = call->code;
        call->has_prev = 1;
    }
    call->has_message = 1;
    call->code = code;
    return call->message;
}

static acp_status host_error(acp_call *call, acp_status code, const char *fmt, ...)
{
    if (call && fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(acp__call_message(call, code), sizeof call->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Deadlines run on the monotonic clock, so a wall-clock step cannot cut a
 * call short or stretch it.  The coarse clock (a few ms resolution) is
 * enough for bounds given in ms and costs no TSC read, which every call
 * pays once. */
int64_t acp__deadline_now_us(void)
{
    struct timespec ts;
#ifdef CLOCK_MONOTONIC_COARSE
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#else
    clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t host_remaining_ms(acp_call *call)
{
    if (!call || !call->deadline_us)
        return -1;
    int64_t left = (call->deadline_us - acp__deadline_now_us()) / 1000;
    return left > 0 ? left : 0;
}

static int64_t host_now_us(void)
{
    return acp_time_now_us();
}

/* Diagnostics go to stderr only when asked for (ACP_STORAGE_DEBUG=0..3):
 * a library must not write where its application did not ask it to. */
static void host_log(int level, const char *plugin, const char *fmt, ...)
{
    const char *env = getenv("ACP_STORAGE_DEBUG");
    if (!env || !fmt || level > atoi(env))
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "acp-storage[%s]: %s\n", plugin ? plugin : "core", line);
}

const acp_plugin_host acp__host = {
    .size = sizeof(acp_plugin_host),
    .abi_major = ACP_PLUGIN_ABI_MAJOR,
    .abi_minor = ACP_PLUGIN_ABI_MINOR,
    .emit = host_emit,
    .set_total = host_set_total,
    .error = host_error,
    .remaining_ms = host_remaining_ms,
    .now_us = host_now_us,
    .log = host_log,
    .hash = acp__hash,
    .verify_item = acp__verify_item,
    .verify_damage = acp__verify_damage,
    .emitted = acp__host_emitted,
    .cancel_fd = acp__host_cancel_fd,
    .cancelled = acp__host_cancelled,
    .cancel_watch = acp__host_cancel_watch,
    .cancel_unwatch = acp__host_cancel_unwatch,
    .set_version = host_set_version,
    .child = &acp__child_ops,
    .migrate_versions = acp__migrate_versions,
    .migrate_step = acp__migrate_step,
    .stat = acp__host_stat,
};

/* The parent call of the child call this thread is making (child.c). */
static _Thread_local const acp_call *bound_parent;

const acp_call *acp__call_bind(const acp_call *parent)
{
    const acp_call *prev = bound_parent;
    bound_parent = parent;
    return prev;
}

void acp__call_init(acp_call *call, acp_page *page, int64_t timeout_ms)
{
    call->code = ACP_OK;
    call->has_message = 0;
    call->has_prev = 0;
    call->message[0] = '\0';
    call->page = page;
    call->verify = NULL;
    call->migrate = NULL;
    call->fault[0] = '\0';
    call->cancel = NULL;
    call->watch.wake = NULL;
    call->item_versions = 0;
    call->version = -1;
    call->deadline_us = timeout_ms > 0 ? acp__deadline_now_us() + timeout_ms * 1000 : 0;
    call->depth = 0;
    call->cfg = NULL;
    call->child_load = 0;
    const acp_call *parent = bound_parent;
    if (parent) { /* a child call: bounded and cancelled by its parent's */
        if (parent->deadline_us && (!call->deadline_us || parent->deadline_us < call->deadline_us))
            call->deadline_us = parent->deadline_us;
        call->cancel = parent->cancel;
        call->depth = parent->depth + 1;
    }
    call->stats = NULL;
}

/* The plugin's message without a leading "<backend>: ": the rule is that
 * the host names the backend, once (docs/plugin-guide.md), so a plugin
 * that names itself too would otherwise read "file: file: ...". */
static const char *unprefixed(const char *msg, const char *backend)
{
    size_t n = strlen(backend);
    if (strncmp(msg, backend, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
        return msg + n + 2;
    return msg;
}

static acp_status call_failed(acp_call *call, acp_status st, const char *backend,
                              const char *op, acp_error *err);

/* The common case in a few instructions; the rest out of line, so that
 * a call that succeeds pays no prologue for the error paths. */
acp_status acp__call_finish(acp_call *call, acp_status st, const char *backend, const char *op,
                            acp_error *err)
{
    if (st == ACP_OK && !call->fault[0])
        return ACP_OK;
    return call_failed(call, st, backend, op, err);
}

static __attribute__((noinline)) acp_status call_failed(acp_call *call, acp_status st,
                                                         const char *backend, const char *op,
                                                         acp_error *err)
{
    if (call->fault[0]) /* the plugin broke the contract: whatever it returned */
        return acp__error(err, ACP_PLUGIN, "%s: %s %s", backend, op, call->fault);
    /* The message of the failure whose code is returned: the latest, or
     * the one before it when the plugin went on past a later failure. */
    if (call->has_message && call->code != st && call->has_prev && call->prev_code == st)
        memcpy(call->message, call->prev_message, sizeof call->message);
    const char *msg = call->has_message ? unprefixed(call->message, backend) : "";
    if ((unsigned)st > ACP_PLUGIN || (st == ACP_LOAD && !call->child_load)) {
        /* Out of range (or a code only the loader may give): keep it visible. */
        return acp__error(err, ACP_PLUGIN, "%s: %s failed with plugin status %d%s%s", backend, op,
                          (int)st, call->has_message ? ": " : "", msg);
    }
    if (call->has_message)
        return acp__error(err, st, "%s: %s", backend, msg);
    return acp__error(err, st, "%s: %s: %s", backend, op, acp_status_describe(st));
}
