/* SPDX-License-Identifier: MIT */
/*
 * profile.c - which profile of the configuration file names the store, if
 * any (acp_config_load_profile() reads it).  Precedence, first wins:
 * --store, --profile NAME, $ACP_STORAGE_URL, $ACP_STORAGE_PROFILE, the
 * profile "default" when the configuration file has one, the default store.
 */
#define _XOPEN_SOURCE 700

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Load profile name into cfg; errors printed with where the name came from. */
static int load(acp_config *cfg, const char *name, const char *from)
{
    acp_error err;
    if (acp_config_load_profile(cfg, name, NULL, &err) == ACP_OK)
        return CLI_EXIT_OK;
    /* Joined piece by piece: a message too long for the buffer is cut. */
    char prefix[64];
    size_t pl = (size_t)snprintf(prefix, sizeof prefix, "%s: ", from);
    size_t ml = strlen(err.message), room = sizeof err.message - 1 - pl;
    memmove(err.message + pl, err.message, ml < room ? ml : room);
    memcpy(err.message, prefix, pl);
    err.message[pl + (ml < room ? ml : room)] = '\0';
    return cli_report(&err);
}

int cli_profile_select(const cli_ctx *ctx, acp_config *cfg, const char **source, int *loaded)
{
    const char *flag = ctx->args.value[OPT_PROFILE];
    *loaded = 0;
    if (ctx->args.value[OPT_STORE]) {
        if (flag)
            return cli_usage_error(ctx, "--store and --profile both name a store: give one");
        return CLI_EXIT_OK;
    }
    int rc;
    if (flag) {
        if ((rc = load(cfg, flag, "--profile")) == CLI_EXIT_OK)
            *loaded = 1, *source = "--profile";
        return rc;
    }
    const char *url = getenv("ACP_STORAGE_URL");
    if (url && url[0])
        return CLI_EXIT_OK;
    const char *env = getenv("ACP_STORAGE_PROFILE");
    if (env && env[0]) {
        if ((rc = load(cfg, env, "ACP_STORAGE_PROFILE")) == CLI_EXIT_OK)
            *loaded = 1, *source = "profile";
        return rc;
    }
    /* The profile "default", when there is a file with one; else the
     * default store, as without a configuration file. */
    acp_error err;
    acp_status st = acp_config_load_profile(cfg, "default", NULL, &err);
    if (st == ACP_OK)
        *loaded = 1, *source = "profile";
    return st == ACP_OK || st == ACP_NOT_FOUND ? CLI_EXIT_OK : cli_report(&err);
}
