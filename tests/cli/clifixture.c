/* SPDX-License-Identifier: MIT */
/*
 * clifixture.c - a backend built only for the acp-storage command's tests:
 * it opens and closes, and its ping passes, crashes or hangs as the
 * variable CLI_FIXTURE_PING says ("ok", "crash", "hang"), so that the
 * tests can see `acp-storage check` report PASS, CRASH and TIMEOUT.
 * save_run accepts and forgets (the ping check saves a run between two
 * pings); everything else reports UNSUPPORTED.  Built again as clioptions
 * (CLI_FIXTURE_OPTIONS), with typed options.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acp_storage_plugin.h"

struct acp_backend {
    const acp_plugin_host *host;
};

static acp_status fx_open(const acp_plugin_host *host, const acp_open_args *args,
                          acp_backend **out, acp_call *call)
{
    (void)args;
    acp_backend *b = malloc(sizeof *b);
    if (!b)
        return host->error(call, ACP_NOMEM, "clifixture: out of memory");
    b->host = host;
    *out = b;
    return ACP_OK;
}

static void fx_close(acp_backend *b)
{
    free(b);
}

static acp_status fx_ping(acp_backend *b, acp_call *call)
{
    const char *mode = getenv("CLI_FIXTURE_PING");
    if (mode && strcmp(mode, "crash") == 0)
        abort();
    if (mode && strcmp(mode, "hang") == 0)
        for (;;)
            pause();
    (void)b, (void)call;
    return ACP_OK;
}

static acp_status unsupported(acp_backend *b, acp_call *call)
{
    return b->host->error(call, ACP_UNSUPPORTED, "clifixture stores nothing");
}

static acp_status fx_save_run(acp_backend *b, const acp_run_record *r, acp_call *call)
{
    (void)b, (void)r, (void)call;
    return ACP_OK;
}

static acp_status fx_by_id(acp_backend *b, const char *id, acp_call *call)
{
    (void)id;
    return unsupported(b, call);
}

static acp_status fx_list_runs(acp_backend *b, const acp_run_query *q, acp_call *call)
{
    (void)q;
    return unsupported(b, call);
}

static acp_status fx_save_session(acp_backend *b, const acp_session_record *s, acp_call *call)
{
    (void)s;
    return unsupported(b, call);
}

static acp_status fx_add_event(acp_backend *b, const acp_event_record *ev, int64_t *seq,
                               acp_call *call)
{
    (void)ev, (void)seq;
    return unsupported(b, call);
}

static acp_status fx_get_events(acp_backend *b, const acp_event_query *q, acp_call *call)
{
    (void)q;
    return unsupported(b, call);
}

static const acp_backend_vtable vt = {
    .open = fx_open,
    .close = fx_close,
    .ping = fx_ping,
    .save_run = fx_save_run,
    .get_run = fx_by_id,
    .delete_run = fx_by_id,
    .list_runs = fx_list_runs,
    .save_session = fx_save_session,
    .get_session = fx_by_id,
    .delete_session = fx_by_id,
    .add_event = fx_add_event,
    .get_events = fx_get_events,
};

#ifdef CLI_FIXTURE_OPTIONS
/* Built a second time as clioptions: the same backend, describing typed
 * options (a default, none, an enum, a secret, no doc) for `acp-storage
 * backends NAME`. */
static const char *const variants[] = {NULL};
static const char *const levels[] = {"low", "high", NULL};
static const acp_option_spec options[] = {
    {.name = "count", .type = ACP_OPT_INTEGER, .min = 1, .max = 100, .default_value = "7",
     .doc = "how many"},
    {.name = "level", .type = ACP_OPT_ENUM, .values = levels, .default_value = "low",
     .doc = "how hard"},
    {.name = "token", .type = ACP_OPT_STRING, .flags = ACP_OPT_SECRET, .doc = "a secret"},
    {.name = "wait", .type = ACP_OPT_DURATION},
    {.name = NULL}};
ACP_PLUGIN_DEFINE_TYPED(clioptions, "0.0.2", "acp-storage command test fixture, typed options", 0,
                        variants, options, &vt)
#else
ACP_PLUGIN_DEFINE(clifixture, "0.0.1", "acp-storage command test fixture", 0, NULL, &vt)
#endif
