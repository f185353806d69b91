/* SPDX-License-Identifier: MIT */
/*
 * overhead.c - what a call through the library costs on top of calling the
 * backend's method directly.
 *
 * The memory plugin is loaded twice over: once by acp_store_open("memory:")
 * (the application's path: argument checks, the per-call context, the
 * page, the plugin table, error mapping) and once by dlopen() here, whose
 * descriptor's methods are then called directly with a minimal host table
 * doing the same copy of results that the core's does.  Both call the same
 * code of the same shared object on the same data, so the difference is
 * the core's cost per call.  Measured for get_run of a missing id (no
 * result to copy: the pure cost of the call path) and of a present run
 * (the copy included on both sides), plus a plain indirect call for scale.
 */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acp_storage_plugin.h"
#include "bench.h"

#define TRIALS 21
#define TARGET_NS 50.0

/* The bench's own call context for direct calls. */
struct acp_call {
    char *out;
    size_t out_len;
    acp_status code;
    char message[256];
};

static int d_emit(acp_call *call, const acp_item *it)
{
    /* As the core's host: one block for the document (and key). */
    size_t kl = it->key ? strlen(it->key) + 1 : 0;
    char *m = malloc(it->doc_len + 1 + kl);
    if (!m)
        return 1;
    memcpy(m, it->doc, it->doc_len);
    m[it->doc_len] = '\0';
    if (kl)
        memcpy(m + it->doc_len + 1, it->key, kl);
    call->out = m;
    call->out_len = it->doc_len;
    return 0;
}

static void d_set_total(acp_call *call, int64_t total)
{
    (void)call;
    (void)total;
}

static acp_status d_error(acp_call *call, acp_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(call->message, sizeof call->message, fmt, ap);
    va_end(ap);
    call->code = code;
    return code;
}

static int64_t d_remaining(acp_call *call)
{
    (void)call;
    return -1;
}

static void d_log(int level, const char *plugin, const char *fmt, ...)
{
    (void)level;
    (void)plugin;
    (void)fmt;
}

/* The core's keyed hash (core/hash.c, compiled in), so that the plugin's
 * own work costs the same on both paths. */
uint64_t acp__hash(const void *data, size_t len);

static const acp_plugin_host d_host = {
    .size = sizeof(acp_plugin_host),
    .abi_major = ACP_PLUGIN_ABI_MAJOR,
    .abi_minor = ACP_PLUGIN_ABI_MINOR,
    .emit = d_emit,
    .set_total = d_set_total,
    .error = d_error,
    .remaining_ms = d_remaining,
    .now_us = acp_time_now_us,
    .log = d_log,
    .hash = acp__hash,
};

static double now_ns(void)
{
    return bench_now() * 1e9;
}

__attribute__((noinline)) static int add_one(int x)
{
    __asm__ volatile("" ::: "memory");
    return x + 1;
}

static int (*volatile add_ptr)(int) = add_one;

typedef struct ctx {
    acp_store *store;
    const acp_backend_vtable *vt;
    acp_backend *b;
    const char *id;
} ctx;

enum { API_MISS, DIRECT_MISS, API_HIT, DIRECT_HIT, CALL_DIRECT, CALL_INDIRECT, N_KINDS };

/* ns per iteration of one kind of call. */
static double trial(const ctx *c, int kind, long iterations)
{
    volatile int sink = 0;
    double t0 = now_ns();
    for (int i = 0; i < iterations; i++) {
        switch (kind) {
        case API_MISS: {
            char *json;
            sink += acp_run_get(c->store, "no-such-run", &json, NULL, NULL);
            break;
        }
        case DIRECT_MISS: {
            acp_call call = {0};
            sink += c->vt->get_run(c->b, "no-such-run", &call);
            break;
        }
        case API_HIT: {
            char *json = NULL;
            sink += acp_run_get(c->store, c->id, &json, NULL, NULL);
            free(json);
            break;
        }
        case DIRECT_HIT: {
            acp_call call = {0};
            sink += c->vt->get_run(c->b, c->id, &call);
            free(call.out);
            break;
        }
        case CALL_DIRECT:
            sink += add_one(i);
            break;
        default:
            sink += add_ptr(i);
            break;
        }
    }
    (void)sink;
    return (now_ns() - t0) / (double)iterations;
}

/* The memory plugin's file, found where the library looks for plugins. */
static void *load_memory(char *path, size_t cap)
{
    for (size_t i = 0;; i++) {
        const char *dir = acp_config_plugin_dir(NULL, i);
        if (!dir)
            return NULL;
        snprintf(path, cap, "%s/libacp_storage_memory.so", dir);
        if (access(path, R_OK) == 0)
            return dlopen(path, RTLD_NOW | RTLD_LOCAL);
    }
}

int overhead_run(const bench_opts *o, jw *j, FILE *out)
{
    /* Many short trials, each kind in turn: a busy spell of the machine
     * then lands on a pair of neighbouring trials, and the median of the
     * paired differences ignores it. */
    long iterations = (long)o->overhead_calls / 5;
    if (iterations < 1)
        iterations = 1;
    char path[4096], doc[4096], id[37], why[256] = "";
    acp_error e;
    ctx c = {0};
    w1_run_id(id, 7, 1);
    size_t dl = w1_run_doc(doc, sizeof doc, id, "agent-1", "sess-0001",
                           INT64_C(1748779200000000), 1);
    void *h = load_memory(path, sizeof path);
    const acp_plugin_descriptor *(*entry)(void) =
        h ? (const acp_plugin_descriptor *(*)(void))dlsym(h, "acp_storage_memory_plugin")
          : NULL;
    if (!entry) {
        snprintf(why, sizeof why, "cannot load the memory plugin (%.200s)",
                 h ? dlerror() : "not found in the plugin path");
    } else if (acp_store_open("memory:", &c.store, &e) != ACP_OK) {
        snprintf(why, sizeof why, "cannot open memory: %.200s", e.message);
    } else {
        c.vt = entry()->vtable;
        acp_open_args args = {"memory:", "memory:", "memory", "", "", "", NULL, 0};
        acp_call call = {0};
        acp_run_record rec = {id, 36, "agent-1", 7, "sess-0001", 9, "in-progress",
                              INT64_C(1748779200000000), ACP_NO_TIME, 0, doc, dl, 0};
        if (c.vt->open(&d_host, &args, &c.b, &call) != ACP_OK ||
            c.vt->save_run(c.b, &rec, &call) != ACP_OK)
            snprintf(why, sizeof why, "memory plugin: %.200s", call.message);
        else if (acp_run_save(c.store, doc, dl, &e) != ACP_OK)
            snprintf(why, sizeof why, "memory: save_run: %.200s", e.message);
        c.id = id;
    }
    if (why[0]) {
        fprintf(stderr, "acp-storage-bench: overhead: %s\n", why);
        jw_obj(j);
        jw_key(j, "error");
        jw_str(j, why);
        jw_end_obj(j);
        if (c.b)
            c.vt->close(c.b);
        acp_store_close(c.store);
        if (h)
            dlclose(h);
        return -1;
    }

    /* Interleave the kinds within each trial so that drift hits all alike. */
    double v[N_KINDS][TRIALS], diff_miss[TRIALS], diff_hit[TRIALS];
    for (int k = 0; k < N_KINDS; k++)
        (void)trial(&c, k, iterations); /* warm up */
    for (int t = 0; t < TRIALS; t++) {
        for (int k = 0; k < N_KINDS; k++)
            v[k][t] = trial(&c, k, iterations);
        diff_miss[t] = v[API_MISS][t] - v[DIRECT_MISS][t];
        diff_hit[t] = v[API_HIT][t] - v[DIRECT_HIT][t];
    }
    stat3 s[N_KINDS];
    for (int k = 0; k < N_KINDS; k++)
        s[k] = stat3_of(v[k], TRIALS);
    stat3 dm = stat3_of(diff_miss, TRIALS), dh = stat3_of(diff_hit, TRIALS);
    /* The difference of the fastest trials: the other robust estimate. */
    double best_miss = s[API_MISS].min - s[DIRECT_MISS].min;

    fprintf(out,
            "\nplugin call overhead (memory backend, %ld calls x %d trials, ns per call, "
            "median (min..max)):\n"
            "  get_run, missing id:  API %.1f (%.1f..%.1f)  direct %.1f (%.1f..%.1f)  "
            "overhead %.1f (%.1f..%.1f), of the fastest %.1f  [target < %.0f: %s]\n"
            "  get_run, 860-byte run: API %.1f (%.1f..%.1f)  direct %.1f (%.1f..%.1f)  "
            "overhead %.1f (%.1f..%.1f)\n"
            "  plain call %.2f, through a function pointer %.2f\n",
            iterations, TRIALS, s[API_MISS].median, s[API_MISS].min, s[API_MISS].max,
            s[DIRECT_MISS].median, s[DIRECT_MISS].min, s[DIRECT_MISS].max, dm.median, dm.min,
            dm.max, best_miss, TARGET_NS, dm.median < TARGET_NS ? "met" : "MISSED", s[API_HIT].median,
            s[API_HIT].min, s[API_HIT].max, s[DIRECT_HIT].median, s[DIRECT_HIT].min,
            s[DIRECT_HIT].max, dh.median, dh.min, dh.max, s[CALL_DIRECT].median,
            s[CALL_INDIRECT].median);

    static const char *const names[N_KINDS] = {"api_get_run_missing_ns", "direct_get_run_missing_ns",
                                               "api_get_run_hit_ns",     "direct_get_run_hit_ns",
                                               "plain_call_ns",          "pointer_call_ns"};
    jw_obj(j);
    jw_key(j, "backend");
    jw_str(j, "memory");
    jw_key(j, "plugin_file");
    jw_str(j, path);
    jw_key(j, "iterations");
    jw_int(j, iterations);
    jw_key(j, "trials");
    jw_int(j, TRIALS);
    for (int k = 0; k < N_KINDS; k++) {
        jw_key(j, names[k]);
        jw_stat(j, &s[k]);
    }
    jw_key(j, "overhead_missing_ns");
    jw_stat(j, &dm);
    jw_key(j, "overhead_missing_fastest_ns");
    jw_num(j, best_miss);
    jw_key(j, "overhead_hit_ns");
    jw_stat(j, &dh);
    jw_key(j, "target_ns");
    jw_num(j, TARGET_NS);
    jw_key(j, "target_met");
    jw_bool(j, dm.median < TARGET_NS);
    jw_end_obj(j);

    c.vt->close(c.b);
    acp_store_close(c.store);
    dlclose(h);
    return 0;
}
