/* SPDX-License-Identifier: MIT */
/*
 * verify.c - acp-storage verify: walk the whole store with
 * acp_store_verify(), print each damaged item and a summary.
 */
#define _XOPEN_SOURCE 700

#include <inttypes.h>

#include "cli.h"

static const char *kind_name(int kind)
{
    static const char *const names[] = {"item", "run", "session", "event", "index", "other"};
    return kind >= ACP_ITEM_RUN && kind <= ACP_ITEM_OTHER ? names[kind] : names[0];
}

typedef struct printer {
    const cli_ctx *ctx;
    int64_t n;
} printer;

/* One damaged item: a line, or an element of the "damaged" array. */
static int print_damage(void *arg, const acp_damage *d)
{
    printer *p = arg;
    FILE *o = stdout;
    if (p->ctx->json) {
        fputs(p->n ? ",{\"kind\":" : "{\"kind\":", o);
        out_str(o, kind_name(d->kind));
        fputs(",\"key\":", o);
        out_str(o, d->key);
        fprintf(o, ",\"seq\":%" PRId64 ",\"status\":\"%s\",\"location\":", d->seq,
                acp_status_name(d->code));
        out_str(o, d->location);
        fputs(",\"reason\":", o);
        out_str(o, d->reason);
        fputs(",\"moved_to\":", o);
        out_str(o, d->moved_to);
        fputc('}', o);
    } else {
        fprintf(o, "damaged %s", kind_name(d->kind));
        if (d->kind == ACP_ITEM_EVENT && d->seq)
            fprintf(o, " %" PRId64, d->seq);
        if (d->key)
            fprintf(o, d->kind == ACP_ITEM_EVENT ? " of run '%s'" : " '%s'", d->key);
        if (d->location)
            fprintf(o, " at %s", d->location);
        fprintf(o, ": %s%s", d->code == ACP_IO ? "unreadable: " : "", d->reason);
        if (d->moved_to)
            fprintf(o, " (moved to %s)", d->moved_to);
        fputc('\n', o);
    }
    p->n++;
    return 0;
}

int cmd_verify(cli_ctx *ctx)
{
    acp_store *store;
    char *uri;
    int rc = cli_open_store(ctx, &store, &uri);
    if (rc)
        return rc;
    unsigned flags = ctx->args.value[OPT_QUARANTINE] ? ACP_VERIFY_QUARANTINE : 0;
    printer p = {ctx, 0};
    acp_verify_counts c = {0};
    acp_error err;
    if (ctx->json) {
        out_store_json(stdout, uri, acp_store_backend(store), NULL);
        fputs(",\"damaged\":[", stdout);
    }
    acp_status st = acp_store_verify(store, flags, print_damage, &p, &c, &err);
    if (ctx->json) {
        fprintf(stdout,
                "],\"ok\":%s,\"status\":\"%s\",\"checked\":{\"runs\":%" PRId64
                ",\"sessions\":%" PRId64 ",\"events\":%" PRId64 "},\"damaged_count\":%" PRId64
                ",\"quarantined\":%" PRId64 "}\n",
                st == ACP_OK ? "true" : "false", acp_status_name(st), c.runs, c.sessions,
                c.events, c.damaged, c.quarantined);
    } else if (st == ACP_OK || st == ACP_CORRUPT) {
        fprintf(stdout, "checked %" PRId64 " runs, %" PRId64 " sessions, %" PRId64 " events (%s): ",
                c.runs, c.sessions, c.events, uri);
        if (st == ACP_OK)
            fputs("no damage\n", stdout);
        else
            fprintf(stdout, "%" PRId64 " damaged, %" PRId64 " moved aside\n", c.damaged,
                    c.quarantined);
    }
    rc = cli_finish_stdout(CLI_EXIT_OK);
    if (st != ACP_OK)
        rc = cli_report(&err);
    acp_free(uri);
    acp_store_close(store);
    return rc;
}
