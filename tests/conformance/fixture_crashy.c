/* SPDX-License-Identifier: MIT */
/*
 * fixture_crashy.c - a test-only backend that misbehaves on purpose, so
 * that the isolated runner can be seen reporting each outcome:
 *   save_run   crashes (SIGSEGV)       get_run     hangs forever
 *   add_event  calls _exit(3)          delete_run  fails with ACP_PLUGIN
 * open checks that the directory of a URI path exists (the runner made it)
 * and, when CRASHY_RECORD names a file, writes the path there.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acp_storage_plugin.h"

struct acp_backend {
    const acp_plugin_host *host;
};

static acp_status c_open(const acp_plugin_host *host, const acp_open_args *args,
                         acp_backend **out, acp_call *call)
{
    if (args->path[0]) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", args->path);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        struct stat st;
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
            return host->error(call, ACP_IO, "crashy: directory %s does not exist", dir);
        const char *record = getenv("CRASHY_RECORD");
        if (record && record[0]) {
            FILE *f = fopen(record, "w");
            if (f) {
                fputs(args->path, f);
                fclose(f);
            }
        }
    }
    acp_backend *b = malloc(sizeof *b);
    if (!b)
        return host->error(call, ACP_NOMEM, "crashy: out of memory");
    b->host = host;
    *out = b;
    return ACP_OK;
}

static void c_close(acp_backend *b)
{
    free(b);
}

static acp_status c_save_run(acp_backend *b, const acp_run_record *run, acp_call *call)
{
    (void)b, (void)run, (void)call;
    /* The default action, even where a sanitizer has its own handler. */
    signal(SIGSEGV, SIG_DFL);
    raise(SIGSEGV);
    return ACP_IO;
}

static acp_status c_get_run(acp_backend *b, const char *run_id, acp_call *call)
{
    (void)b, (void)run_id, (void)call;
    for (;;)
        pause();
    return ACP_IO; /* not reached */
}

static acp_status c_delete_run(acp_backend *b, const char *run_id, acp_call *call)
{
    return b->host->error(call, ACP_PLUGIN, "crashy: refuses to delete %s", run_id);
}

static acp_status c_list_runs(acp_backend *b, const acp_run_query *q, acp_call *call)
{
    (void)q;
    return b->host->error(call, ACP_PLUGIN, "crashy: cannot list");
}

static acp_status c_save_session(acp_backend *b, const acp_session_record *s, acp_call *call)
{
    (void)s;
    return b->host->error(call, ACP_PLUGIN, "crashy: cannot save sessions");
}

static acp_status c_get_session(acp_backend *b, const char *id, acp_call *call)
{
    return b->host->error(call, ACP_NOT_FOUND, "crashy: no session %s", id);
}

static acp_status c_delete_session(acp_backend *b, const char *id, acp_call *call)
{
    return b->host->error(call, ACP_NOT_FOUND, "crashy: no session %s", id);
}

static acp_status c_add_event(acp_backend *b, const acp_event_record *ev, int64_t *seq,
                              acp_call *call)
{
    (void)b, (void)ev, (void)seq, (void)call;
    _exit(3); /* not exit(): leak checkers would report the open store */
}

static acp_status c_get_events(acp_backend *b, const acp_event_query *q, acp_call *call)
{
    (void)b, (void)q, (void)call;
    return ACP_OK;
}

static const acp_backend_vtable vtable = {
    .open = c_open,
    .close = c_close,
    .save_run = c_save_run,
    .get_run = c_get_run,
    .delete_run = c_delete_run,
    .list_runs = c_list_runs,
    .save_session = c_save_session,
    .get_session = c_get_session,
    .delete_session = c_delete_session,
    .add_event = c_add_event,
    .get_events = c_get_events,
};

ACP_PLUGIN_DEFINE(crashy, "0.0.1", "misbehaves on purpose (conformance runner tests)", 0, NULL,
                  &vtable)
