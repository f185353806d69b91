/* SPDX-License-Identifier: MIT */
/*
 * archive_conf.c - the archive's URI:
 *
 *   archive:?hot=URI&cold=URI[&after=SECONDS][&auto=1][&every=N][&batch=N][&recover=0]
 *
 * The child URIs are option values, so they arrive percent-decoded: write
 * them percent-encoded in the archive's URI ("cold=s3%3A%2F%2F..."), or set
 * them with acp_config_set(cfg, "cold", "s3://...").  The core checks every
 * value against archive_options and fills in the defaults.
 */
#include <stdlib.h>
#include <string.h>

#include "archive.h"

#define AFTER_MAX_MS (100LL * 366 * 24 * 3600 * 1000) /* a hundred years */

const char *const archive_variants[] = {NULL};

const acp_option_spec archive_options[] = {
    {.name = "hot", .type = ACP_OPT_STRING, .min = 1,
     .doc = "URI of the store of active runs (required; percent-encoded inside a URI)"},
    {.name = "cold", .type = ACP_OPT_STRING, .min = 1,
     .doc = "URI of the store finished runs move to (required; percent-encoded inside a URI)"},
    {.name = "after", .type = ACP_OPT_DURATION, .unit = 1000, .min = 0, .max = AFTER_MAX_MS,
     .default_value = "86400",
     .doc = "a final run moves this long after its last save (bare: seconds)"},
    {.name = "auto", .type = ACP_OPT_BOOLEAN, .default_value = "false",
     .doc = "also archive as a side effect of writes (bounded; failures logged, never failing "
            "the write)"},
    {.name = "every", .type = ACP_OPT_INTEGER, .min = 1, .max = 1000000, .default_value = "1",
     .doc = "with auto: one pass every this many writes"},
    {.name = "batch", .type = ACP_OPT_INTEGER, .min = 1, .max = 1000, .default_value = "10",
     .doc = "with auto: at most this many runs per pass"},
    {.name = "recover", .type = ACP_OPT_BOOLEAN, .default_value = "true",
     .doc = "finish moves a crash interrupted when the store opens (false: only on the next "
            "pass)"},
    {.name = NULL}};

acp_status archive_conf_parse(archive_conf *c, const acp_plugin_host *host,
                              const acp_open_args *a, acp_call *call)
{
    memset(c, 0, sizeof *c);
    if ((a->authority && *a->authority) || (a->path && *a->path))
        return host->error(call, ACP_INVALID,
                           "an archive URI has no location, only options: "
                           "archive:?hot=URI&cold=URI&after=SECONDS");
    const char *hot = acp_option_text(a, "hot"), *cold = acp_option_text(a, "cold");
    if (!hot || !cold)
        return host->error(call, ACP_INVALID,
                           "an archive needs both option hot (active runs) and option cold "
                           "(where finished runs move): archive:?hot=URI&cold=URI");
    c->after_us = acp_option_int(a, "after", 86400000) * 1000;
    c->auto_on = (int)acp_option_int(a, "auto", 0);
    c->every = acp_option_int(a, "every", 1);
    c->batch = acp_option_int(a, "batch", 10);
    c->recover = (int)acp_option_int(a, "recover", 1);
    c->hot = strdup(hot);
    c->cold = strdup(cold);
    if (!c->hot || !c->cold) {
        archive_conf_free(c);
        return host->error(call, ACP_NOMEM, "out of memory");
    }
    return ACP_OK;
}

void archive_conf_free(archive_conf *c)
{
    free(c->hot);
    free(c->cold);
    c->hot = c->cold = NULL;
}
