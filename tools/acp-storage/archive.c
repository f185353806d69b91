/* SPDX-License-Identifier: MIT */
/*
 * archive.c - acp-storage archive: move the runs that are due from an
 * archive store's hot tier to its cold tier (acp_store_archive).
 */
#define _XOPEN_SOURCE 700

#include <inttypes.h>

#include "cli.h"


static int archive_progress(void *arg, int64_t moved)
{
    cli_progress(arg, "archived %" PRId64 " runs...", moved);
    return cli_stop_requested();
}

int cmd_archive(cli_ctx *ctx)
{
    int64_t limit = 0;
    int rc = cli_opt_range(ctx, OPT_LIMIT, 1, INT64_MAX, &limit);
    if (rc)
        return rc;
    acp_store *store;
    if ((rc = cli_open_store(ctx, &store, NULL)))
        return rc;
    /* A stop request ends the work between batches, with the count. */
    cli_stop_begin();
    int64_t n = 0;
    acp_error err;
    acp_status st = acp_store_archive(store, limit, archive_progress, ctx, &n, &err);
    cli_stop_end();
    cli_progress(ctx, NULL);
    int stopped = cli_stop_requested();
    if (st == ACP_OK && ctx->json)
        printf("{\"schema\":1,\"archived\":%" PRId64 ",\"stopped\":%s}\n", n,
               stopped ? "true" : "false");
    else if (st == ACP_OK)
        printf("archived %" PRId64 " run%s%s\n", n, n == 1 ? "" : "s",
               stopped ? " (stopped: run the same command again to go on)" : "");
    else if (n > 0)
        fprintf(stderr, "acp-storage: %" PRId64 " runs were archived before the failure\n", n);
    rc = st == ACP_OK ? (stopped ? CLI_EXIT_FAILURE : CLI_EXIT_OK) : cli_report(&err);
    acp_store_close(store);
    return cli_finish_stdout(rc);
}
