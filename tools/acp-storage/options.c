/* SPDX-License-Identifier: MIT */
/*
 * options.c - one option parser for every subcommand.  Each command says
 * which options it accepts (a bit set); the parser does the rest, so no
 * command has its own copy of the parsing loop.
 */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct opt_def {
    const char *name; /* "--store" */
    char short_name; /* 0 for none */
    int takes_value;
    int repeatable;
} opt_def;

static const opt_def opt_defs[OPT_COUNT] = {
    [OPT_STORE] = {"--store", 0, 1, 0},
    [OPT_JSON] = {"--json", 0, 0, 0},
    [OPT_HELP] = {"--help", 'h', 0, 0},
    [OPT_AGENT] = {"--agent", 0, 1, 0},
    [OPT_SESSION] = {"--session", 0, 1, 0},
    [OPT_STATUS] = {"--status", 0, 1, 0},
    [OPT_OUTPUT] = {"--output", 0, 1, 1},
    [OPT_LIMIT] = {"--limit", 0, 1, 0},
    [OPT_OFFSET] = {"--offset", 0, 1, 0},
    [OPT_CURSOR] = {"--cursor", 0, 1, 0},
    [OPT_TOTAL] = {"--total", 0, 0, 0},
    [OPT_ALL] = {"--all", 0, 0, 0},
    [OPT_AFTER] = {"--after", 0, 1, 0},
    [OPT_TYPE] = {"--type", 0, 1, 0},
    [OPT_TEXT] = {"--text", 0, 1, 0},
    [OPT_ID] = {"--id", 0, 1, 0},
    [OPT_STATE] = {"--state", 0, 1, 0},
    [OPT_FILTER] = {"--filter", 0, 1, 0},
    [OPT_TIMEOUT] = {"--timeout", 0, 1, 0},
    [OPT_VERSION] = {"--version", 0, 0, 0},
    [OPT_QUARANTINE] = {"--quarantine", 0, 0, 0},
    [OPT_FORMAT] = {"--format", 0, 1, 0},
    [OPT_FOLLOW] = {"--follow", 'f', 0, 0},
    [OPT_OUT] = {"--out", 'o', 1, 0},
    [OPT_FROM] = {"--from", 0, 1, 0},
    [OPT_TO] = {"--to", 0, 1, 0},
    [OPT_RESUME] = {"--resume", 0, 0, 0},
    [OPT_REPLACE] = {"--replace", 0, 0, 0},
    [OPT_VERIFY] = {"--verify", 0, 0, 0},
    [OPT_IF_VERSION] = {"--if-version", 0, 1, 0},
    [OPT_IF_ABSENT] = {"--if-absent", 0, 0, 0},
    [OPT_DRY_RUN] = {"--dry-run", 0, 0, 0},
    [OPT_STATEMENTS] = {"--statements", 0, 0, 0},
    [OPT_PROFILE] = {"--profile", 0, 1, 0},
    [OPT_SINCE] = {"--since", 0, 1, 0},
    [OPT_UNTIL] = {"--until", 0, 1, 0},
    [OPT_FINISHED_BEFORE] = {"--finished-before", 0, 1, 0},
    [OPT_BATCH] = {"--batch", 0, 1, 0},
};

const char *cli_opt_name(cli_opt opt)
{
    return opt_defs[opt].name;
}

static int find_option(const char *arg, const char **inline_value);

int cli_arg_option(const char *arg, int *takes_next)
{
    const char *value;
    int o = arg[0] == '-' && arg[1] ? find_option(arg, &value) : -1;
    *takes_next = o >= 0 && opt_defs[o].takes_value && !value;
    return o;
}

int cli_usage_error(const cli_ctx *ctx, const char *fmt, ...)
{
    char message[1024], hint[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (ctx && ctx->cmd && ctx->cmd->verb)
        snprintf(hint, sizeof hint, "Try 'acp-storage help %s %s'.", ctx->cmd->group,
                 ctx->cmd->verb);
    else if (ctx && ctx->cmd)
        snprintf(hint, sizeof hint, "Try 'acp-storage help %s'.", ctx->cmd->group);
    else if (ctx && ctx->group)
        snprintf(hint, sizeof hint, "Try 'acp-storage help %s'.", ctx->group);
    else
        snprintf(hint, sizeof hint, "Try 'acp-storage help'.");
    return cli_report_usage(message, hint);
}

/* Edit distance (insertions, deletions, substitutions, swaps of two
 * neighbours), for words of at most 63 bytes. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 63 || m > 63)
        return (size_t)-1;
    size_t d[64][64];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[n][m];
}

const char *cli_closest(const char *word, const char *const *candidates, size_t n)
{
    /* Close enough to be a typo: a third of the word, at least one edit,
     * at most three. */
    size_t len = strlen(word), limit = len / 3;
    if (limit < 1)
        limit = 1;
    if (limit > 3)
        limit = 3;
    const char *best = NULL;
    size_t best_d = limit + 1;
    for (size_t i = 0; i < n; i++) {
        if (!candidates[i])
            continue;
        size_t d = edit_distance(word, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    return best;
}

/* An unknown option: name the allowed one it most resembles. */
static int unknown_option(const cli_ctx *ctx, const char *arg, uint64_t allowed)
{
    const char *names[OPT_COUNT];
    char word[64];
    snprintf(word, sizeof word, "%.*s", (int)strcspn(arg, "="), arg);
    for (int o = 0; o < OPT_COUNT; o++)
        names[o] = (allowed & OPT_BIT(o)) ? opt_defs[o].name : NULL;
    const char *guess = cli_closest(word, names, OPT_COUNT);
    if (guess)
        return cli_usage_error(ctx, "unknown option '%s'; did you mean '%s'?", word, guess);
    return cli_usage_error(ctx, "unknown option '%s'", word);
}

/* Find "--name" (or "--name=value", leaving value pointing past '=') or
 * "-x" among the options. */
static int find_option(const char *arg, const char **inline_value)
{
    *inline_value = NULL;
    if (arg[1] != '-') {
        for (int o = 0; o < OPT_COUNT; o++)
            if (opt_defs[o].short_name && arg[1] == opt_defs[o].short_name && !arg[2])
                return o;
        return -1;
    }
    const char *eq = strchr(arg, '=');
    size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
    for (int o = 0; o < OPT_COUNT; o++) {
        if (strlen(opt_defs[o].name) == n && memcmp(opt_defs[o].name, arg, n) == 0) {
            if (eq)
                *inline_value = eq + 1;
            return o;
        }
    }
    return -1;
}

static int add_list_value(cli_ctx *ctx, const char *v, int argc)
{
    if (!ctx->args.list) {
        /* No option can be given more often than there are arguments. */
        ctx->args.list = calloc((size_t)argc, sizeof *ctx->args.list);
        if (!ctx->args.list)
            return cli_fail(ACP_NOMEM, "out of memory");
    }
    ctx->args.list[ctx->args.n_list++] = v;
    return CLI_EXIT_OK;
}

int cli_parse_options(cli_ctx *ctx, int argc, char **argv, int *i, uint64_t allowed,
                      int stop_at_word)
{
    cli_args *a = &ctx->args;
    int only_words = 0; /* after "--" */

    for (; *i < argc; (*i)++) {
        const char *arg = argv[*i];
        if (only_words || arg[0] != '-' || arg[1] == '\0') {
            /* A word ("-" alone means stdin and is a word too). */
            if (stop_at_word)
                return CLI_EXIT_OK;
            if (a->n_pos == CLI_MAX_POS)
                return cli_usage_error(ctx, "too many arguments at '%s'", arg);
            a->pos[a->n_pos++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            if (stop_at_word)
                return cli_usage_error(ctx, "'--' must follow a command");
            only_words = 1;
            continue;
        }
        const char *value;
        int o = find_option(arg, &value);
        if (o < 0 || !(allowed & OPT_BIT(o))) {
            if (o >= 0)
                return cli_usage_error(ctx, "option '%s' does not apply here", cli_opt_name(o));
            return unknown_option(ctx, arg, allowed);
        }
        const opt_def *d = &opt_defs[o];
        if (d->takes_value) {
            if (!value) {
                if (*i + 1 >= argc)
                    return cli_usage_error(ctx, "option '%s' needs a value", cli_opt_name(o));
                value = argv[++*i];
            }
            /* An empty name is the same mistake on every command: a usage
             * error here, not whatever the library calls its parameter.
             * Text may be empty; a URI, JSON or a number is judged by its
             * parser. */
            if (!value[0] && o != OPT_TEXT && o != OPT_OUTPUT && o != OPT_STORE && o != OPT_STATE &&
                o != OPT_LIMIT && o != OPT_OFFSET && o != OPT_TIMEOUT)
                return cli_usage_error(ctx, "option '%s' needs a non-empty value",
                                       cli_opt_name(o));
        } else if (value) {
            return cli_usage_error(ctx, "option '%s' takes no value", cli_opt_name(o));
        } else {
            value = "";
        }
        if (d->repeatable) {
            int rc = add_list_value(ctx, value, argc);
            if (rc)
                return rc;
        } else if (a->value[o] && o != OPT_HELP && o != OPT_JSON) {
            return cli_usage_error(ctx, "option '%s' given twice", cli_opt_name(o));
        }
        a->value[o] = value;
    }
    return CLI_EXIT_OK;
}

int cli_opt_int(cli_ctx *ctx, cli_opt opt, int64_t *out)
{
    return cli_opt_range(ctx, opt, INT64_MIN, INT64_MAX, out);
}

int cli_opt_range(cli_ctx *ctx, cli_opt opt, int64_t min, int64_t max, int64_t *out)
{
    const char *s = ctx->args.value[opt];
    if (!s)
        return CLI_EXIT_OK;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        /* One message for every wrong value: what the option takes. */
        if (min == INT64_MIN)
            return cli_usage_error(ctx, "option '%s' needs an integer, not '%s'",
                                   cli_opt_name(opt), s);
        if (max == INT64_MAX)
            return cli_usage_error(ctx, "option '%s' needs an integer of at least %lld, not '%s'",
                                   cli_opt_name(opt), (long long)min, s);
        return cli_usage_error(ctx, "option '%s' needs an integer from %lld to %lld, not '%s'",
                               cli_opt_name(opt), (long long)min, (long long)max, s);
    }
    *out = (int64_t)v;
    return CLI_EXIT_OK;
}
