/* SPDX-License-Identifier: MIT */
/*
 * cache_conf.c - the cache's URI:
 *
 *   cache:?front=URI&back=URI[&ttl=SECONDS][&check_ms=MS][&retry_ms=MS]
 *
 * The child URIs are option values, so they arrive percent-decoded: write
 * them percent-encoded in the cache's URI ("front=redis%3A%2F%2F..."), or
 * set them with acp_config_set(cfg, "front", "redis://...").
 *
 * The core checks every value against cache_options (acp_option_spec) and
 * fills in the defaults; what is left here is the cache's own rule: a
 * cache has no location, and needs both children.
 */
#include <stdlib.h>
#include <string.h>

#include "cache.h"

#define TTL_MAX_MS (100LL * 366 * 24 * 3600 * 1000) /* a hundred years: longer is a mistake */
#define MS_MAX 3600000LL                            /* an hour */

const char *const cache_variants[] = {NULL};

const acp_option_spec cache_options[] = {
    {.name = "front", .type = ACP_OPT_STRING, .min = 1,
     .doc = "URI of the store read first (required; percent-encoded inside a URI)"},
    {.name = "back", .type = ACP_OPT_STRING, .min = 1,
     .doc = "URI of the store of record (required; percent-encoded inside a URI)"},
    {.name = "ttl", .type = ACP_OPT_DURATION, .unit = 1000, .min = 0, .max = TTL_MAX_MS,
     .default_value = "0",
     .doc = "front entries expire this long after they were filled (bare: seconds; 0: never)"},
    {.name = "check_ms", .type = ACP_OPT_DURATION, .min = 1, .max = MS_MAX,
     .default_value = "500", .doc = "trust in the front's generation lasts this long (bare: ms)"},
    {.name = "retry_ms", .type = ACP_OPT_DURATION, .min = 1, .max = MS_MAX,
     .default_value = "1000", .doc = "after a front failure, leave the front alone this long "
                                     "(bare: ms)"},
    {.name = NULL}};

acp_status cache_conf_parse(cache_conf *c, const acp_plugin_host *host, const acp_open_args *a,
                            acp_call *call)
{
    memset(c, 0, sizeof *c);
    if ((a->authority && *a->authority) || (a->path && *a->path))
        return host->error(call, ACP_INVALID,
                           "a cache URI has no location, only options: "
                           "cache:?front=URI&back=URI&ttl=SECONDS");
    const char *front = acp_option_text(a, "front"), *back = acp_option_text(a, "back");
    if (!front || !back)
        return host->error(call, ACP_INVALID,
                           "a cache needs both option front (the store read first) and option "
                           "back (the store of record): cache:?front=URI&back=URI");
    c->ttl_us = acp_option_int(a, "ttl", 0) * 1000;
    c->check_us = acp_option_int(a, "check_ms", 500) * 1000;
    c->retry_us = acp_option_int(a, "retry_ms", 1000) * 1000;
    c->front = strdup(front);
    c->back = strdup(back);
    if (!c->front || !c->back) {
        cache_conf_free(c);
        return host->error(call, ACP_NOMEM, "out of memory");
    }
    return ACP_OK;
}

void cache_conf_free(cache_conf *c)
{
    free(c->front);
    free(c->back);
    c->front = c->back = NULL;
}
