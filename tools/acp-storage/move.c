/* SPDX-License-Identifier: MIT */
/*
 * move.c - acp-storage export, import, copy and diff: moving a store's
 * data through acp_store_export/import/copy/diff, with progress on a
 * terminal and compression chosen by the file name (dumpfile.c).
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "dumpfile.h"

/* ---- progress and reports ---- */

/* One move: its progress, and what acp_store_export/import/copy report. */
typedef struct mover {
    const cli_ctx *ctx;
    struct timespec t0;
    double last;
    acp_copy_report r;
    acp_error err;
} mover;

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static int on_report(void *arg, const acp_copy_report *r)
{
    mover *m = arg;
    if (r->item_kind) {
        cli_progress(m->ctx, NULL);
        fprintf(stderr, "acp-storage: %s: %s '%s': %s\n", acp_status_name(r->item_status),
                r->item_kind, r->item_id, r->item_message ? r->item_message : "");
        return 0;
    }
    double t = since(&m->t0);
    if (!m->ctx->progress || t - m->last < 0.2)
        return 0;
    m->last = t;
    double rate = t > 0 ? (double)r->runs / t : 0;
    char eta[32] = "?";
    if (r->runs_total > 0 && rate > 0)
        snprintf(eta, sizeof eta, "%.0fs", (double)(r->runs_total - r->runs) / rate);
    cli_progress(m->ctx, "runs %" PRId64 "/%" PRId64 "  events %" PRId64 "  %.0f runs/s  ETA %s",
                 r->runs, r->runs_total, r->events, rate, eta);
    return 0;
}

static void mover_init(mover *m, const cli_ctx *ctx)
{
    *m = (mover){.ctx = ctx, .last = -1};
    clock_gettime(CLOCK_MONOTONIC, &m->t0);
}

/* The end of a move: the summary, and the exit code of st. */
static int finish(mover *m, acp_status st)
{
    const acp_copy_report *r = &m->r;
    cli_progress(m->ctx, NULL);
    if (m->ctx->json)
        fprintf(stdout, "{\"schema\":1,\"sessions\":%" PRId64 ",\"runs\":%" PRId64
                ",\"events\":%" PRId64 ",\"skipped\":%" PRId64 ",\"conflicts\":%" PRId64
                ",\"seconds\":%.3f,\"status\":\"%s\"}\n", r->sessions, r->runs, r->events,
                r->skipped, r->conflicts, since(&m->t0), acp_status_name(st));
    else if (m->ctx->stderr_tty)
        fprintf(stderr, "%" PRId64 " sessions, %" PRId64 " runs, %" PRId64 " events in %.1fs"
                " (%" PRId64 " skipped, %" PRId64 " conflicts)\n", r->sessions, r->runs,
                r->events, since(&m->t0), r->skipped, r->conflicts);
    int code = st == ACP_OK ? CLI_EXIT_OK : cli_report(&m->err);
    return cli_finish_stdout(code);
}

static unsigned move_flags(const cli_ctx *ctx)
{
    return (ctx->args.value[OPT_RESUME] ? ACP_COPY_RESUME : 0) |
           (ctx->args.value[OPT_REPLACE] ? ACP_COPY_REPLACE : 0);
}

/* Open a store named on the command line; a source is never created. */
static int open_url(const char *url, int source, acp_store **out)
{
    acp_error err;
    acp_config *cfg;
    acp_status st = acp_config_new(&cfg, &err);
    if (st == ACP_OK && (st = acp_config_parse_uri(cfg, url, &err)) == ACP_OK &&
        (!source || (st = acp_config_set(cfg, "create", "false", &err)) == ACP_OK))
        st = acp_store_open_config(cfg, out, &err);
    acp_config_free(cfg);
    return st == ACP_OK ? CLI_EXIT_OK : cli_report(&err);
}

/* Open the stores a (a source: never created) and b (created unless
 * b_source), or neither. */
static int open_pair(const char *a, const char *b, int b_source, acp_store **sa, acp_store **sb)
{
    *sa = *sb = NULL;
    int rc = open_url(a, 1, sa);
    if (rc)
        return rc;
    if ((rc = open_url(b, b_source, sb)) != 0)
        acp_store_close(*sa);
    return rc;
}

/* ---- the commands ---- */

int cmd_export(cli_ctx *ctx)
{
    const char *path = ctx->args.value[OPT_OUT] ? ctx->args.value[OPT_OUT] : "-";
    acp_store *store;
    int rc = cli_open_store(ctx, &store, NULL);
    if (rc)
        return rc;
    if (strcmp(path, "-") == 0 && ctx->json) {
        acp_store_close(store);
        return cli_usage_error(ctx, "--json needs -o FILE (the dump goes to standard output)");
    }
    FILE *f = dump_open(path, 1);
    if (!f) {
        acp_store_close(store);
        return cli_fail(ACP_IO, "cannot create %s: %s", path, strerror(errno));
    }
    mover m;
    mover_init(&m, ctx);
    acp_status st = acp_store_export(store, f, on_report, &m, &m.r, &m.err);
    if ((f == stdout ? fflush(f) : fclose(f)) != 0 && st == ACP_OK) {
        m.err.code = st = ACP_IO;
        snprintf(m.err.message, sizeof m.err.message, "cannot write %s: %s", path,
                 strerror(errno));
    }
    acp_store_close(store);
    return finish(&m, st);
}

int cmd_import(cli_ctx *ctx)
{
    const char *path = ctx->args.pos[0];
    FILE *f = dump_open(path, 0);
    if (!f)
        return cli_fail(ACP_IO, "cannot open %s: %s", path, strerror(errno));
    acp_store *store;
    int rc = cli_open_store(ctx, &store, NULL);
    if (rc) {
        fclose(f);
        return rc;
    }
    mover m;
    mover_init(&m, ctx);
    acp_status st = acp_store_import(f, store, move_flags(ctx), on_report, &m, &m.r, &m.err);
    fclose(f);
    acp_store_close(store);
    return finish(&m, st);
}

static void print_difference(void *arg, const char *line)
{
    const cli_ctx *ctx = arg;
    if (ctx->json)
        return;
    fprintf(stdout, "%s\n", line);
}

/* Compare a and b; prints the differences and the counts.  Exit code. */
static int compare(const cli_ctx *ctx, acp_store *a, acp_store *b)
{
    acp_diff_counts n;
    acp_error err;
    acp_status st = acp_store_diff(a, b, print_difference, (void *)ctx, &n, &err);
    if (st != ACP_OK)
        return cli_report(&err);
    for (int i = 0; i < 2 && !ctx->json; i++)
        fprintf(stdout, "%s: %" PRId64 " sessions, %" PRId64 " runs, %" PRId64
                " events, digest %016" PRIx64 "\n", i ? "second" : "first", n.sessions[i],
                n.runs[i], n.events[i], n.digest[i]);
    if (ctx->json) {
        fprintf(stdout, "{\"schema\":1,\"differences\":%" PRId64 ",\"counts\":[", n.differences);
        for (int i = 0; i < 2; i++)
            fprintf(stdout, "%s{\"sessions\":%" PRId64 ",\"runs\":%" PRId64 ",\"events\":%" PRId64
                    ",\"digest\":\"%016" PRIx64 "\"}", i ? "," : "", n.sessions[i], n.runs[i],
                    n.events[i], n.digest[i]);
        fputs("]}\n", stdout);
    } else if (n.differences) {
        fprintf(stdout, "%" PRId64 " difference%s\n", n.differences,
                n.differences == 1 ? "" : "s");
    }
    return n.differences ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

int cmd_copy(cli_ctx *ctx)
{
    const char *from = ctx->args.value[OPT_FROM], *to = ctx->args.value[OPT_TO];
    if (!from || !to)
        return cli_usage_error(ctx, "copy needs --from URL and --to URL");
    acp_store *src = NULL, *dst = NULL;
    int rc = open_pair(from, to, 0, &src, &dst);
    if (rc)
        return rc;
    mover m;
    mover_init(&m, ctx);
    acp_status st = acp_store_copy(src, dst, move_flags(ctx), on_report, &m, &m.r, &m.err);
    rc = finish(&m, st);
    if (rc == CLI_EXIT_OK && ctx->args.value[OPT_VERIFY])
        rc = cli_finish_stdout(compare(ctx, src, dst));
    acp_store_close(src);
    acp_store_close(dst);
    return rc;
}

int cmd_diff(cli_ctx *ctx)
{
    acp_store *a = NULL, *b = NULL;
    int rc = open_pair(ctx->args.pos[0], ctx->args.pos[1], 1, &a, &b);
    if (rc)
        return rc;
    rc = compare(ctx, a, b);
    acp_store_close(a);
    acp_store_close(b);
    return cli_finish_stdout(rc);
}
