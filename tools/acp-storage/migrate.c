/* SPDX-License-Identifier: MIT */
/*
 * migrate.c - acp-storage migrate [--dry-run] [--statements]: show the
 * schema version of a store and the steps that bring it to the latest,
 * and run them (acp_store_migrate()).
 */
#define _XOPEN_SOURCE 700

#include <inttypes.h>
#include <string.h>

#include "cli.h"

typedef struct printer {
    const cli_ctx *ctx;
    int statements; /* --statements: each step's SQL or change, indented */
    int dry;
    const acp_migrate_info *info; /* the versions are in before the first step */
    int64_t n;
} printer;

/* The detail of a step, one statement per line, indented. */
static void print_detail(FILE *o, const char *detail)
{
    const char *p = detail;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, ";");
        if (n)
            fprintf(o, "    %.*s%s\n", (int)n, p, p[n] == ';' ? ";" : "");
        p += n + (p[n] == ';');
    }
}

static int print_step(void *arg, int64_t from, int64_t to, const char *description,
                      const char *detail)
{
    printer *p = arg;
    FILE *o = stdout;
    if (p->ctx->json) {
        fprintf(o, "%s{\"from\":%" PRId64 ",\"to\":%" PRId64 ",\"description\":", p->n ? "," : "",
                from, to);
        out_str(o, description);
        fputs(",\"detail\":", o);
        out_str(o, detail);
        fputc('}', o);
    } else {
        if (p->n == 0)
            fprintf(o, "%s %" PRId64 ", latest %" PRId64 "; migrating %s:\n", p->info->what,
                    p->info->found, p->info->latest, p->dry ? "would run" : "runs");
        fprintf(o, "  %" PRId64 " -> %" PRId64 ": %s\n", from, to, description);
        if (p->statements && detail)
            print_detail(o, detail);
    }
    p->n++;
    return 0;
}

int cmd_migrate(cli_ctx *ctx)
{
    acp_config *cfg;
    char *uri;
    int rc = cli_store_config(ctx, &cfg, &uri);
    if (rc)
        return rc;
    int dry = ctx->args.value[OPT_DRY_RUN] != NULL;
    acp_migrate_info info;
    printer p = {ctx, ctx->args.value[OPT_STATEMENTS] != NULL, dry, &info, 0};
    acp_error err;
    FILE *o = stdout;
    if (ctx->json) {
        out_store_json(o, uri, acp_config_backend(cfg), NULL);
        fprintf(o, ",\"dry_run\":%s,\"steps\":[", dry ? "true" : "false");
    } else {
        fprintf(o, "store %s\n", uri);
        fflush(o); /* the steps follow once the store is open */
    }
    acp_status st = acp_store_migrate(cfg, dry ? ACP_MIGRATE_DRY_RUN : 0, print_step, &p, &info,
                                      &err);
    if (ctx->json) {
        fprintf(o, "],\"what\":");
        out_str(o, info.found < 0 ? NULL : info.what);
        fprintf(o, ",\"found\":%" PRId64 ",\"latest\":%" PRId64 ",\"migrated\":%s,\"status\":\"%s\"}\n",
                info.found, info.latest, info.migrated ? "true" : "false", acp_status_name(st));
    } else if (st == ACP_OK) {
        const char *what = info.what[0] ? info.what : "version";
        if (info.found < 0)
            fprintf(o, "%s: nothing to migrate (the backend keeps no versioned schema)\n",
                    acp_config_backend(cfg));
        else if (info.steps == 0) /* below latest: a store with nothing in it yet (redis) */
            fprintf(o, "%s %" PRId64 " (latest %" PRId64 "): %snothing to migrate\n", what,
                    info.found, info.latest, info.found >= info.latest ? "up to date, " : "");
        else if (dry)
            fputs("dry run: nothing changed (run without --dry-run to migrate)\n", o);
        else
            fprintf(o, "migrated from %s %" PRId64 " to %" PRId64 "\n", what, info.found,
                    info.latest);
    }
    rc = cli_finish_stdout(CLI_EXIT_OK);
    if (st != ACP_OK)
        rc = cli_report(&err);
    acp_free(uri);
    acp_config_free(cfg);
    return rc;
}
