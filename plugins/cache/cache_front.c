/* SPDX-License-Identifier: MIT */
/*
 * cache_front.c - when the cache may trust its front (steps 3 and 4 of
 * docs/storage-contract.md, "Caches: no stale reads"):
 *
 *  - every entry carries the generation it was written under; the current
 *    generation is a random number in the front (session CACHE_GEN_ID,
 *    with the suspect token it last applied), re-read at least every
 *    check_ms; an entry of another generation is a miss;
 *  - a write that could not invalidate the front stores a fresh random
 *    suspect token in the back (session CACHE_SUSPECT_ID) and waits
 *    check_ms + 10 % before it is acknowledged; a refresh that finds a token
 *    the front has not applied writes a new generation first;
 *  - a front that fails is left alone for retry_ms (calls go to the back),
 *    with one warning per outage and a counter.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cache.h"

int64_t cache_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t random64(void)
{
    uint64_t v = 0;
    while (v == 0)
        if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) {
            /* getrandom cannot fail for 8 bytes once the pool is ready;
             * still never return the same value twice in a process. */
            static atomic_ullong n;
            v = (uint64_t)cache_mono_us() * 0x9e3779b97f4a7c15ull ^ ++n;
        }
    return v;
}

/* The 16 hex digits after "name":" in doc, or 0 when absent. */
static uint64_t hex_member(const char *doc, const char *name)
{
    char pat[32];
    snprintf(pat, sizeof pat, "\"%s\":\"", name);
    const char *p = doc ? strstr(doc, pat) : NULL;
    if (!p)
        return 0;
    p += strlen(pat);
    uint64_t v = 0;
    for (int i = 0; i < 16; i++, p++) {
        int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
        if (d < 0)
            return 0;
        v = v << 4 | (uint64_t)d;
    }
    return v;
}

int cache_got_sink(void *arg, const acp_item *it)
{
    got *g = arg;
    free(g->doc);
    if (!(g->doc = malloc(it->doc_len + 1)))
        return 1;
    memcpy(g->doc, it->doc, it->doc_len);
    g->doc[it->doc_len] = 0;
    g->len = it->doc_len;
    g->created_us = it->created_us;
    g->version = it->version;
    return 0;
}

/* Read session id of child into *value (hex member name); NOT_FOUND: 0. */
static acp_status read_token(cache *c, acp_child *child, const char *id, const char *name,
                             uint64_t *value, acp_call *call)
{
    got d = {0};
    acp_status st = c->ops->get_session(child, id, cache_got_sink, &d, call);
    *value = st == ACP_OK ? hex_member(d.doc, name) : 0;
    free(d.doc);
    return st == ACP_NOT_FOUND ? ACP_OK : st;
}

static acp_status write_gen(cache *c, uint64_t gen, uint64_t applied, acp_call *call)
{
    char doc[128];
    int n = snprintf(doc, sizeof doc,
                     "{\"id\":\"" CACHE_GEN_ID "\",\"g\":\"%016" PRIx64 "\",\"applied\":\"%016" PRIx64
                     "\"}", gen, applied);
    return c->ops->save_session(c->front, doc, (size_t)n, call);
}

/* Re-read the generation (and bump it when the back holds a suspect token
 * the front has not applied).  Called with c->refresh_mu held. */
static int refresh(cache *c, acp_call *call)
{
    int64_t t0 = cache_mono_us();
    uint64_t suspect, gen, applied;
    acp_status st = read_token(c, c->back, CACHE_SUSPECT_ID, "nonce", &suspect, call);
    if (st != ACP_OK)
        return 0; /* the back is failing: this call will see it there */
    got d = {0};
    st = c->ops->get_session(c->front, CACHE_GEN_ID, cache_got_sink, &d, call);
    gen = st == ACP_OK ? hex_member(d.doc, "g") : 0;
    applied = st == ACP_OK ? hex_member(d.doc, "applied") : 0;
    free(d.doc);
    if (st != ACP_OK && st != ACP_NOT_FOUND) {
        cache_front_failed(c, st, "reading the generation", NULL);
        return 0;
    }
    if (gen == 0 || applied != suspect) {
        /* A new front, or writes that could not invalidate it: everything
         * written under the old generation is a miss from now on. */
        gen = random64();
        if ((st = write_gen(c, gen, suspect, call)) != ACP_OK) {
            cache_front_failed(c, st, "writing a new generation", NULL);
            return 0;
        }
        atomic_fetch_add(&c->st.generations, 1);
    }
    pthread_mutex_lock(&c->mu);
    c->gen = gen;
    c->gen_checked = t0;
    pthread_mutex_unlock(&c->mu);
    cache_front_ok(c);
    return 1;
}

int cache_front_usable(cache *c, acp_call *call)
{
    int64_t now = cache_mono_us();
    pthread_mutex_lock(&c->mu);
    int resting = now < c->down_until;
    int fresh = c->gen_checked && now - c->gen_checked < c->conf.check_us;
    pthread_mutex_unlock(&c->mu);
    if (resting)
        return 0;
    if (fresh)
        return 1;
    pthread_mutex_lock(&c->refresh_mu);
    pthread_mutex_lock(&c->mu);
    now = cache_mono_us();
    fresh = c->gen_checked && now - c->gen_checked < c->conf.check_us;
    resting = now < c->down_until;
    pthread_mutex_unlock(&c->mu);
    int ok = !resting && (fresh || refresh(c, call));
    pthread_mutex_unlock(&c->refresh_mu);
    return ok;
}

uint64_t cache_generation(cache *c)
{
    pthread_mutex_lock(&c->mu);
    uint64_t g = c->gen;
    pthread_mutex_unlock(&c->mu);
    return g;
}

int cache_front_failed(cache *c, acp_status st, const char *what, const char *run_id)
{
    if (st == ACP_OK || st == ACP_NOT_FOUND || st == ACP_CONFLICT)
        return 0;
    atomic_fetch_add(&c->st.front_errors, 1);
    if (st == ACP_INVALID || st == ACP_NOMEM)
        return 1; /* this entry (too large for the front, say), not the front */
    pthread_mutex_lock(&c->mu);
    int first = !c->down;
    c->down = 1;
    c->down_until = cache_mono_us() + c->conf.retry_us;
    c->gen_checked = 0; /* re-read the generation before trusting the front again */
    pthread_mutex_unlock(&c->mu);
    if (first)
        c->host->log(1, "cache",
                     "front failed (status %d) %s%s%.64s; answering from the back alone, "
                     "retrying the front every %" PRId64 " ms",
                     (int)st, what, run_id ? " of run " : "", run_id ? run_id : "",
                     c->conf.retry_us / 1000);
    return 1;
}

void cache_front_ok(cache *c)
{
    pthread_mutex_lock(&c->mu);
    int was = c->down;
    c->down = 0;
    pthread_mutex_unlock(&c->mu);
    if (was)
        c->host->log(1, "cache", "front answers again (%lld failures so far)",
                     (long long)atomic_load(&c->st.front_errors));
}

acp_status cache_suspect(cache *c, acp_call *call)
{
    if (c->unsafe_suspect)
        return ACP_OK;
    char doc[96];
    int n = snprintf(doc, sizeof doc, "{\"id\":\"" CACHE_SUSPECT_ID "\",\"nonce\":\"%016" PRIx64 "\"}",
                     random64());
    acp_status st = c->ops->save_session(c->back, doc, (size_t)n, call);
    if (st != ACP_OK)
        return st;
    atomic_fetch_add(&c->st.suspects, 1);
    /* Every process re-reads the token within check_ms of its last look:
     * once this wait is over, none still trusts an entry of the old
     * generation. */
    int64_t wait = c->conf.check_us + c->conf.check_us / 10;
    int64_t left = c->host->remaining_ms(call);
    if (left >= 0 && left * 1000 < wait) {
        c->host->log(1, "cache", "the call's deadline ends before the front's entries are "
                                 "known to be refreshed everywhere (%" PRId64 " ms left, "
                                 "%" PRId64 " ms needed)", left, wait / 1000);
        wait = left * 1000;
    }
    struct timespec ts = {(time_t)(wait / 1000000), (long)(wait % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0) {
    }
    return ACP_OK;
}
