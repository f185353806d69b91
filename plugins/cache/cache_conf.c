/* SPDX-License-Identifier: MIT */
/*
 * cache_conf.c - the cache's URI:
 *
 *   cache:?front=URI&back=URI[&ttl=SECONDS][&check_ms=MS][&retry_ms=MS]
 *
 * The child URIs are option values, so they arrive percent-decoded: write
 * them percent-encoded in the cache's URI ("front=redis%3A%2F%2F..."), or
 * set them with acp_config_set(cfg, "front", "redis://...").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"

#define TTL_MAX_S (100LL * 366 * 24 * 3600) /* a hundred years: longer is a mistake */
#define MS_MAX 3600000LL                     /* an hour */

/* A plain decimal number in [lo, hi]: digits only, no sign, no space. */
static int number(const char *v, long long lo, long long hi, long long *out)
{
    if (!v || !*v || strlen(v) > 19)
        return 0;
    for (const char *p = v; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    errno = 0;
    long long n = strtoll(v, NULL, 10);
    if (errno || n < lo || n > hi)
        return 0;
    *out = n;
    return 1;
}

static acp_status dup_opt(char **dst, const char *k, const char *v, const acp_plugin_host *host,
                          acp_call *call)
{
    if (*dst)
        return host->error(call, ACP_INVALID, "option %s given twice", k);
    if (!*v)
        return host->error(call, ACP_INVALID, "option %s is empty: give a store URI", k);
    if (!(*dst = strdup(v)))
        return host->error(call, ACP_NOMEM, "out of memory");
    return ACP_OK;
}

acp_status cache_conf_parse(cache_conf *c, const acp_plugin_host *host, const acp_open_args *a,
                            acp_call *call)
{
    memset(c, 0, sizeof *c);
    c->check_us = 500 * 1000;
    c->retry_us = 1000 * 1000;
    if (a->variant && *a->variant)
        return host->error(call, ACP_INVALID, "cache has no variant '%.64s'", a->variant);
    if ((a->authority && *a->authority) || (a->path && *a->path))
        return host->error(call, ACP_INVALID,
                           "a cache URI has no location, only options: "
                           "cache:?front=URI&back=URI&ttl=SECONDS");
    acp_status st = ACP_OK;
    for (size_t i = 0; i < a->n_options && st == ACP_OK; i++) {
        const char *k = a->options[i].key, *v = a->options[i].value;
        long long n;
        if (strcmp(k, "front") == 0)
            st = dup_opt(&c->front, k, v, host, call);
        else if (strcmp(k, "back") == 0)
            st = dup_opt(&c->back, k, v, host, call);
        else if (strcmp(k, "ttl") == 0) {
            if (!number(v, 0, TTL_MAX_S, &n))
                st = host->error(call, ACP_INVALID,
                                 "option ttl=%.32s: expected whole seconds, 0 (never expire, "
                                 "the default) to %lld", v, TTL_MAX_S);
            else
                c->ttl_us = n * 1000000;
        } else if (strcmp(k, "check_ms") == 0 || strcmp(k, "retry_ms") == 0) {
            if (!number(v, 1, MS_MAX, &n))
                st = host->error(call, ACP_INVALID,
                                 "option %s=%.32s: expected milliseconds, 1 to %lld", k, v,
                                 MS_MAX);
            else
                *(k[0] == 'c' ? &c->check_us : &c->retry_us) = n * 1000;
        } else
            st = host->error(call, ACP_INVALID, "unknown option '%.64s'", k);
    }
    if (st == ACP_OK && (!c->front || !c->back))
        st = host->error(call, ACP_INVALID,
                         "a cache needs both option front (the store read first) and option "
                         "back (the store of record): cache:?front=URI&back=URI");
    if (st != ACP_OK)
        cache_conf_free(c);
    return st;
}

void cache_conf_free(cache_conf *c)
{
    free(c->front);
    free(c->back);
    c->front = c->back = NULL;
}
