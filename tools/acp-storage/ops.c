/* SPDX-License-Identifier: MIT */
/*
 * ops.c - what an operator runs to keep a store in shape: acp-storage
 * purge (retention) and acp-storage stats, and the instants their options
 * and run list's --since/--until take.
 */
#define _XOPEN_SOURCE 700

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_opt_time(cli_ctx *ctx, cli_opt opt, int64_t *out)
{
    const char *v = ctx->args.value[opt];
    if (!v)
        return CLI_EXIT_OK;
    int64_t age;
    acp_error err;
    static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    size_t len = strlen(v), digits = strspn(v, "0123456789");
    /* Digits then letters: an age, whatever its length (a date and an
     * RFC 3339 time have a '-'), with the duration's own message. */
    if (digits > 0 && digits < len && !v[digits + strspn(v + digits, letters)]) {
        if (acp_duration_parse(v, &age, &err) != ACP_OK)
            return cli_usage_error(ctx, "%s: %s", cli_opt_name(opt), err.message);
        *out = acp_time_now_us() - age;
        return CLI_EXIT_OK;
    }
    char date[40];
    const char *text = v;
    if (len == 10) { /* a date alone: midnight UTC */
        snprintf(date, sizeof date, "%sT00:00:00Z", v);
        text = date;
    }
    if (acp_time_parse(text, strlen(text), out, &err) != ACP_OK)
        return cli_usage_error(ctx,
                               "%s '%s': expected RFC 3339 (2026-01-01T00:00:00Z), a date "
                               "(2026-01-01) or an age (30d, 12h, 15m, 45s, 2w)",
                               cli_opt_name(opt), v);
    return CLI_EXIT_OK;
}

int cli_opt_statuses(cli_ctx *ctx, cli_opt opt)
{
    const char *v = ctx->args.value[opt];
    if (!v)
        return CLI_EXIT_OK;
    /* Each name checked by the library's own rule (a scratch run's status). */
    acp_run *run;
    acp_error err;
    if (acp_run_new("x", &run, &err) != ACP_OK)
        return cli_report(&err);
    int rc = CLI_EXIT_OK;
    for (const char *p = v;; p++) {
        size_t n = strcspn(p, ",");
        char *name = strndup(p, n);
        if (!name) {
            rc = cli_fail(ACP_NOMEM, "out of memory");
            break;
        }
        acp_status st = acp_run_set_status(run, name, &err);
        free(name);
        if (st != ACP_OK) {
            rc = cli_usage_error(ctx, "%s '%s': %s", cli_opt_name(opt), v, err.message);
            break;
        }
        p += n;
        if (!*p)
            break;
    }
    acp_run_free(run);
    return rc;
}

/* ---- purge ---- */

typedef struct purge_state {
    const cli_ctx *ctx;
    int dry_run;
} purge_state;

static int purge_progress(void *arg, int64_t done)
{
    const purge_state *p = arg;
    cli_progress(p->ctx, "%s %" PRId64 " runs...", p->dry_run ? "counted" : "purged", done);
    return cli_stop_requested();
}

int cmd_purge(cli_ctx *ctx)
{
    const cli_args *a = &ctx->args;
    acp_purge_filter f = ACP_PURGE_FILTER_INIT;
    f.status = a->value[OPT_STATUS];
    f.agent_name = a->value[OPT_AGENT];
    f.dry_run = a->value[OPT_DRY_RUN] != NULL;
    if (!a->value[OPT_FINISHED_BEFORE])
        return cli_usage_error(ctx, "purge needs --finished-before T (e.g. 30d)");
    int rc = cli_opt_time(ctx, OPT_FINISHED_BEFORE, &f.finished_before_us);
    if (!rc)
        rc = cli_opt_statuses(ctx, OPT_STATUS);
    if (!rc)
        rc = cli_opt_range(ctx, OPT_BATCH, 1, 1000, &f.batch_size);
    if (rc)
        return rc;
    acp_store *store;
    if ((rc = cli_open_store(ctx, &store, NULL)))
        return rc;
    /* A stop request ends the purge between batches, with the count. */
    cli_stop_begin();
    purge_state ps = {ctx, f.dry_run};
    int64_t n = 0;
    acp_error err;
    acp_status st = acp_store_purge(store, &f, purge_progress, &ps, &n, &err);
    cli_stop_end();
    cli_progress(ctx, NULL);
    int stopped = cli_stop_requested();
    if (st == ACP_OK && ctx->json)
        printf("{\"schema\":1,\"dry_run\":%s,\"purged\":%" PRId64 ",\"stopped\":%s}\n",
               f.dry_run ? "true" : "false", n, stopped ? "true" : "false");
    else if (st == ACP_OK)
        printf("%s %" PRId64 " run%s%s\n", f.dry_run ? "would purge" : "purged", n,
               n == 1 ? "" : "s",
               stopped ? " (stopped: run the same command again to go on)" : "");
    else if (n > 0) { /* in the one error (JSON with --json), cut if it must be */
        size_t len = strlen(err.message);
        snprintf(err.message + len, sizeof err.message - len,
                 " (%" PRId64 " run%s purged before the failure)", n, n == 1 ? " was" : "s were");
    }
    rc = st == ACP_OK ? (stopped ? CLI_EXIT_FAILURE : CLI_EXIT_OK) : cli_report(&err);
    acp_store_close(store);
    return cli_finish_stdout(rc);
}

/* ---- stats ---- */

/* The figures of one labelled kind as a JSON object or indented lines. */
static void print_labelled(const cli_ctx *ctx, const acp_stats *st, int kind)
{
    int k, first = 1;
    const char *label;
    int64_t v;
    if (ctx->json)
        printf(",\"%s\":{", acp_stat_name(kind));
    else
        printf("%s:\n", acp_stat_name(kind));
    for (size_t i = 0; acp_stats_get(st, i, &k, &label, &v); i++) {
        if (k != kind)
            continue;
        if (ctx->json) {
            if (!first)
                putchar(',');
            out_str(stdout, label);
            printf(":%" PRId64, v);
        } else {
            printf("  %-24s %" PRId64 "\n", label, v);
        }
        first = 0;
    }
    if (ctx->json)
        putchar('}');
}

static void print_figure(const cli_ctx *ctx, const acp_stats *st, int kind)
{
    int64_t v = acp_stats_value(st, kind, NULL);
    if (ctx->json && v < 0)
        printf(",\"%s\":null", acp_stat_name(kind));
    else if (ctx->json)
        printf(",\"%s\":%" PRId64, acp_stat_name(kind), v);
    else if (v >= 0)
        printf("%-26s %" PRId64 "\n", acp_stat_name(kind), v);
}

int cmd_stats(cli_ctx *ctx)
{
    acp_store *store;
    char *uri;
    int rc = cli_open_store(ctx, &store, &uri);
    if (rc)
        return rc;
    acp_stats *st;
    acp_error err;
    unsigned maj, min;
    acp_plugin_abi(&maj, &min);
    if (acp_store_stats(store, &st, &err) != ACP_OK) {
        rc = cli_report(&err);
        acp_free(uri);
        acp_store_close(store);
        return rc;
    }
    if (ctx->json) {
        out_store_json(stdout, uri, acp_store_backend(store), acp_store_backend_version(store));
        printf(",\"plugin_abi\":\"%u.%u\",\"library_version\":", maj, min);
        out_str(stdout, acp_version());
        printf(",\"scanned\":%s", acp_stats_scanned(st) ? "true" : "false");
    } else {
        printf("store                      %s\n", uri);
        printf("backend                    %s %s (plugin ABI %u.%u, library %s)\n",
               acp_store_backend(store), acp_store_backend_version(store), maj, min,
               acp_version());
        printf("counted by                 %s\n",
               acp_stats_scanned(st) ? "walking every run, event and session (scanned)"
                                     : "the backend's counters");
    }
    print_figure(ctx, st, ACP_STAT_RUNS);
    print_labelled(ctx, st, ACP_STAT_RUNS_BY_STATUS);
    print_labelled(ctx, st, ACP_STAT_RUNS_BY_AGENT);
    static const int rest[] = {ACP_STAT_SESSIONS, ACP_STAT_EVENTS, ACP_STAT_BYTES,
                               ACP_STAT_SCHEMA_VERSION};
    for (size_t i = 0; i < sizeof rest / sizeof *rest; i++)
        print_figure(ctx, st, rest[i]);
    if (ctx->json)
        fputs("}\n", stdout);
    acp_stats_free(st);
    acp_free(uri);
    acp_store_close(store);
    return cli_finish_stdout(CLI_EXIT_OK);
}
