/* SPDX-License-Identifier: MIT */
/*
 * workload.c - the documents of workload W1, built once before anything is
 * timed, from a fixed seed, so that every target stores the same bytes.
 *
 * W1 (issue 8): runs over 10 agents and 1,000 sessions; each run document
 * has two output messages of one ~200-character text part (about 860 bytes
 * of JSON); events are message.part documents of about 200 bytes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define W1_AGENTS 10
#define W1_SESSIONS 1000
#define W1_TEXT 200        /* characters of each output text part */
#define W1_EVENT_BYTES 200 /* target size of an event document */
#define W1_EVENT_POOL 1024
/* 2025-06-01T12:00:00Z */
#define W1_EPOCH_US INT64_C(1748779200000000)

static const char *const words[] = {
    "the",   "forecast", "for",    "today",  "is",     "sunny",   "with",   "a",
    "light", "breeze",   "from",   "west",   "agent",  "answer",  "result", "query",
    "data",  "report",   "shows",  "steady", "growth", "in",      "all",    "regions",
    "and",   "no",       "errors", "were",   "found",  "during",  "run",    "of",
};

/* n characters of words and spaces (plain JSON-safe text). */
static void text(char *out, size_t n, uint64_t *rng)
{
    size_t o = 0;
    while (o < n) {
        const char *wd = words[bench_rand(rng) % (sizeof words / sizeof words[0])];
        for (const char *p = wd; *p && o < n; p++)
            out[o++] = *p;
        if (o < n)
            out[o++] = ' ';
    }
    if (n > 1)
        out[n - 1] = '.';
    out[n] = '\0';
}

void w1_run_id(char out[37], uint64_t seed, uint64_t n)
{
    uint64_t s = seed ^ (n * UINT64_C(0x9E3779B97F4A7C15));
    uint64_t a = bench_rand(&s), b = bench_rand(&s);
    /* version 4 and variant bits, as a server would write */
    snprintf(out, 37, "%08" PRIx64 "-%04" PRIx64 "-4%03" PRIx64 "-%04" PRIx64 "-%012" PRIx64,
             a >> 32, (a >> 16) & 0xffff, a & 0xfff, (b >> 48 & 0x3fff) | 0x8000,
             b & UINT64_C(0xffffffffffff));
}

static size_t message(char *buf, size_t cap, const char *agent, int64_t at_us, uint64_t *rng)
{
    char t[W1_TEXT + 1], ts[ACP_TIME_BUFSZ];
    text(t, W1_TEXT, rng);
    acp_time_format(at_us, ts);
    return (size_t)snprintf(buf, cap,
                            "{\"role\":\"agent/%s\",\"parts\":[{\"content_type\":\"text/plain\","
                            "\"content\":\"%s\",\"content_encoding\":\"plain\"}],"
                            "\"created_at\":\"%s\"}",
                            agent, t, ts);
}

/* A run document: status, and finished_us (or INT64_MIN for none). */
static size_t run_doc(char *buf, size_t cap, const char *run_id, const char *agent,
                      const char *session, const char *status, int64_t created_us,
                      int64_t finished_us, uint64_t salt)
{
    uint64_t rng = salt;
    char m1[1024], m2[1024], created[ACP_TIME_BUFSZ], finished[ACP_TIME_BUFSZ + 32] = "";
    message(m1, sizeof m1, agent, created_us + 1000000, &rng);
    message(m2, sizeof m2, agent, created_us + 2000000, &rng);
    acp_time_format(created_us, created);
    if (finished_us != INT64_MIN) {
        char f[ACP_TIME_BUFSZ];
        acp_time_format(finished_us, f);
        snprintf(finished, sizeof finished, "\"finished_at\":\"%s\",", f);
    }
    return (size_t)snprintf(buf, cap,
                            "{\"run_id\":\"%s\",\"agent_name\":\"%s\",\"session_id\":\"%s\","
                            "\"status\":\"%s\",\"output\":[%s,%s],%s\"created_at\":\"%s\"}",
                            run_id, agent, session, status, m1, m2, finished, created);
}

size_t w1_run_doc(char *buf, size_t cap, const char *run_id, const char *agent,
                  const char *session, int64_t created_us, uint64_t salt)
{
    return run_doc(buf, cap, run_id, agent, session, "in-progress", created_us, INT64_MIN, salt);
}

size_t w1_run_doc_status(char *buf, size_t cap, const char *run_id, const char *agent,
                         const char *session, const char *status, int64_t created_us,
                         int64_t finished_us, uint64_t salt)
{
    return run_doc(buf, cap, run_id, agent, session, status, created_us, finished_us, salt);
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

int w1_build(w1 *w, size_t runs, size_t events_per_run, uint64_t seed)
{
    memset(w, 0, sizeof *w);
    w->runs = runs;
    w->events_per_run = events_per_run;
    w->agents = W1_AGENTS;
    w->sessions = W1_SESSIONS;
    w->seed = seed;
    w->list_ops = 1000;
    w->session_ops = W1_SESSIONS;
    w->delete_ops = runs < 10000 ? runs / 10 : 1000;
    if (w->delete_ops == 0)
        w->delete_ops = runs;
    w->n_event_docs = W1_EVENT_POOL;

    size_t n = runs ? runs : 1;
    w->run_id = calloc(n, sizeof *w->run_id);
    w->run_id_len = calloc(n, sizeof *w->run_id_len);
    w->agent = calloc(n, sizeof *w->agent);
    w->session = calloc(n, sizeof *w->session);
    w->created_us = calloc(n, sizeof *w->created_us);
    w->finished_us = calloc(n, sizeof *w->finished_us);
    w->doc_new = calloc(n, sizeof *w->doc_new);
    w->doc_new_len = calloc(n, sizeof *w->doc_new_len);
    w->doc_done = calloc(n, sizeof *w->doc_done);
    w->doc_done_len = calloc(n, sizeof *w->doc_done_len);
    w->perm = calloc(n, sizeof *w->perm);
    w->agent_name = calloc(w->agents, sizeof *w->agent_name);
    w->session_id = calloc(w->sessions, sizeof *w->session_id);
    w->session_doc = calloc(w->sessions, sizeof *w->session_doc);
    w->session_doc_len = calloc(w->sessions, sizeof *w->session_doc_len);
    w->event_doc = calloc(w->n_event_docs, sizeof *w->event_doc);
    w->event_doc_len = calloc(w->n_event_docs, sizeof *w->event_doc_len);
    w->p6_agent = calloc(w->list_ops, sizeof *w->p6_agent);
    w->p6_offset = calloc(w->list_ops, sizeof *w->p6_offset);
    w->p7_session = calloc(w->list_ops, sizeof *w->p7_session);
    if (!w->run_id || !w->run_id_len || !w->agent || !w->session || !w->created_us ||
        !w->finished_us || !w->doc_new || !w->doc_new_len || !w->doc_done ||
        !w->doc_done_len || !w->perm || !w->agent_name || !w->session_id ||
        !w->session_doc || !w->session_doc_len || !w->event_doc || !w->event_doc_len ||
        !w->p6_agent || !w->p6_offset || !w->p7_session)
        return -1;

    uint64_t rng = seed;
    char buf[4096];
    for (size_t a = 0; a < w->agents; a++) {
        snprintf(buf, sizeof buf, "agent-%zu", a);
        if (!(w->agent_name[a] = dup_n(buf, strlen(buf))))
            return -1;
    }
    double sum = 0;
    for (size_t s = 0; s < w->sessions; s++) {
        char t[121];
        snprintf(buf, sizeof buf, "sess-%04zu", s);
        if (!(w->session_id[s] = dup_n(buf, strlen(buf))))
            return -1;
        text(t, 120, &rng);
        size_t len = (size_t)snprintf(
            buf, sizeof buf,
            "{\"id\":\"%s\",\"history\":[{\"role\":\"user\",\"parts\":[{\"content_type\":"
            "\"text/plain\",\"content\":\"%s\"}]}],\"state\":{\"turns\":%zu}}",
            w->session_id[s], t, s % 7);
        if (!(w->session_doc[s] = dup_n(buf, len)))
            return -1;
        w->session_doc_len[s] = len;
        sum += (double)len;
    }
    w->avg_session_doc = sum / (double)w->sessions;

    /* Event documents: the fixed part, then text up to W1_EVENT_BYTES. */
    static const char ev_head[] =
        "{\"type\":\"message.part\",\"part\":{\"content_type\":\"text/plain\",\"content\":\"";
    static const char ev_tail[] = "\",\"content_encoding\":\"plain\"}}";
    size_t ev_text = W1_EVENT_BYTES - (sizeof ev_head - 1) - (sizeof ev_tail - 1);
    sum = 0;
    for (size_t e = 0; e < w->n_event_docs; e++) {
        char t[W1_EVENT_BYTES + 1];
        text(t, ev_text, &rng);
        size_t len = (size_t)snprintf(buf, sizeof buf, "%s%s%s", ev_head, t, ev_tail);
        if (!(w->event_doc[e] = dup_n(buf, len)))
            return -1;
        w->event_doc_len[e] = len;
        sum += (double)len;
    }
    w->avg_event_doc = sum / (double)w->n_event_docs;

    sum = 0;
    for (size_t i = 0; i < runs; i++) {
        char id[37];
        w1_run_id(id, seed, i);
        if (!(w->run_id[i] = dup_n(id, 36)))
            return -1;
        w->run_id_len[i] = 36;
        w->agent[i] = (unsigned)(bench_rand(&rng) % w->agents);
        w->session[i] = (unsigned)(bench_rand(&rng) % w->sessions);
        /* Distinct instants, 1 ms apart plus some microseconds: newest
         * first is then a total order without ties. */
        w->created_us[i] = W1_EPOCH_US + (int64_t)i * 1000 + (int64_t)(bench_rand(&rng) % 1000);
        w->finished_us[i] = w->created_us[i] + 5000000;
        uint64_t salt = bench_rand(&rng);
        const char *agent = w->agent_name[w->agent[i]], *sess = w->session_id[w->session[i]];
        size_t len = run_doc(buf, sizeof buf, id, agent, sess, "in-progress", w->created_us[i],
                             INT64_MIN, salt);
        if (!(w->doc_new[i] = dup_n(buf, len)))
            return -1;
        w->doc_new_len[i] = len;
        sum += (double)len;
        len = run_doc(buf, sizeof buf, id, agent, sess, "completed", w->created_us[i],
                      w->finished_us[i], salt);
        if (!(w->doc_done[i] = dup_n(buf, len)))
            return -1;
        w->doc_done_len[i] = len;
    }
    w->avg_run_doc = runs ? sum / (double)runs : 0;

    /* Fisher-Yates with the same generator. */
    for (size_t i = 0; i < runs; i++)
        w->perm[i] = i;
    for (size_t i = runs; i > 1; i--) {
        size_t k = (size_t)(bench_rand(&rng) % i);
        size_t t = w->perm[i - 1];
        w->perm[i - 1] = w->perm[k];
        w->perm[k] = t;
    }
    /* P6 offsets stay where an agent still has runs: 0..990 at 10,000 runs. */
    size_t per_agent = runs / w->agents;
    int64_t max_off = per_agent > 10 ? (int64_t)(per_agent - 10) : 0;
    if (max_off > 990)
        max_off = 990;
    for (size_t j = 0; j < w->list_ops; j++) {
        w->p6_agent[j] = (unsigned)(bench_rand(&rng) % w->agents);
        w->p6_offset[j] = (int64_t)(bench_rand(&rng) % (uint64_t)(max_off + 1));
        w->p7_session[j] = (unsigned)(bench_rand(&rng) % w->sessions);
    }
    return 0;
}

static void free_strv(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void w1_free(w1 *w)
{
    free_strv(w->run_id, w->runs);
    free_strv(w->doc_new, w->runs);
    free_strv(w->doc_done, w->runs);
    free_strv(w->agent_name, w->agents);
    free_strv(w->session_id, w->sessions);
    free_strv(w->session_doc, w->sessions);
    free_strv(w->event_doc, w->n_event_docs);
    free(w->run_id_len);
    free(w->agent);
    free(w->session);
    free(w->created_us);
    free(w->finished_us);
    free(w->doc_new_len);
    free(w->doc_done_len);
    free(w->session_doc_len);
    free(w->event_doc_len);
    free(w->perm);
    free(w->p6_agent);
    free(w->p6_offset);
    free(w->p7_session);
    memset(w, 0, sizeof *w);
}
