/* SPDX-License-Identifier: MIT */
/*
 * redis_layout.c - the layout version of a redis store and its migration
 * (open with the option migrate, and the migrate method).
 *
 * Layout 1 (stores of plugins before status filters, no P v key) indexes
 * runs by agent and session only; layout 2 adds an index per status and
 * keeps each run's status and version in P w (redis_lua.c).  Going from 1
 * to 2 is one HSCAN walk over P w, a script per step, resumable: a step
 * moves only layout-1 entries, and P v is set by the last one, so a walk
 * stopped by a crash or a lost connection is simply run again.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>

#include "redis_int.h"

/* Entries of P w one migration step asks HSCAN for: a step's script stays
 * short (milliseconds) so other clients keep being served. */
#define STEP_COUNT "500"

static const char step_detail[] =
    "one script per HSCAN step of " STEP_COUNT " runs over P w: each run's status read from its "
    "document, ZADD to P i:t:<status>:a, :g:<agent>, :s:<session>, :gs:..., its P w entry "
    "rewritten with status and version; then SET P v 2";

static acp_status layout_of(acp_backend *b, acp_call *call, long long *out)
{
    rd_op op = {"layout", NULL};
    const char *argv[1] = {b->conf.prefix};
    size_t lens[1] = {b->conf.prefix_len};
    redisReply *r;
    acp_status st = rd_request(b, call, &op, RD_RETRY, RD_LAYOUT, 1, argv, lens, &r);
    if (st != ACP_OK)
        return st;
    if (r->type != REDIS_REPLY_INTEGER) {
        freeReplyObject(r);
        return rd_bad_reply(b, call, &op, "the layout script returned an unexpected shape");
    }
    *out = r->integer;
    freeReplyObject(r);
    return ACP_OK;
}

/* Every step of the walk; *moved: runs whose entries changed. */
static acp_status migrate_layout(acp_backend *b, acp_call *call, long long *moved)
{
    rd_op op = {"migrate", NULL};
    char cursor[32] = "0", ver[24];
    snprintf(ver, sizeof ver, "%d", RD_LAYOUT_VERSION);
    *moved = 0;
    do {
        const char *argv[4] = {b->conf.prefix, cursor, STEP_COUNT, ver};
        size_t lens[4] = {b->conf.prefix_len, strlen(cursor), strlen(STEP_COUNT), strlen(ver)};
        redisReply *r;
        acp_status st = rd_request(b, call, &op, RD_RETRY, RD_MIGRATE, 4, argv, lens, &r);
        if (st != ACP_OK)
            return st;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len >= sizeof cursor ||
            r->element[1]->type != REDIS_REPLY_INTEGER) {
            freeReplyObject(r);
            return rd_bad_reply(b, call, &op, "the migrate script returned an unexpected shape");
        }
        memcpy(cursor, r->element[0]->str, r->element[0]->len);
        cursor[r->element[0]->len] = '\0';
        *moved += r->element[1]->integer;
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return ACP_OK;
}

static acp_status newer(acp_backend *b, acp_call *call, long long found)
{
    return b->host->error(call, ACP_UNSUPPORTED,
                          "redis %s prefix '%.64s': layout version %lld is newer than version %d "
                          "of this plugin: upgrade it",
                          b->conf.where, b->conf.prefix, found, RD_LAYOUT_VERSION);
}

/* A store without runs starts at the latest layout: SET P v unless another
 * client set it first. */
static acp_status mark_new(acp_backend *b, acp_call *call)
{
    rd_op op = {"layout", NULL};
    char key[RD_PREFIX_MAX + 2], ver[24];
    memcpy(key, b->conf.prefix, b->conf.prefix_len);
    key[b->conf.prefix_len] = 'v';
    snprintf(ver, sizeof ver, "%d", RD_LAYOUT_VERSION);
    const char *argv[4] = {"SET", key, ver, "NX"};
    size_t lens[4] = {3, b->conf.prefix_len + 1, strlen(ver), 2};
    redisReply *r;
    acp_status st = rd_request(b, call, &op, RD_RETRY, -1, 4, argv, lens, &r);
    if (st == ACP_OK)
        freeReplyObject(r);
    return st;
}

acp_status rd_open_layout(acp_backend *b, acp_call *call)
{
    long long found = 0, moved = 0;
    acp_status st = layout_of(b, call, &found);
    if (st != ACP_OK || b->conf.migrate == RD_MIGRATE_INSPECT || found == RD_LAYOUT_VERSION)
        return st;
    if (found > RD_LAYOUT_VERSION)
        return newer(b, call, found);
    if (found == 0)
        return mark_new(b, call);
    if (b->conf.migrate == RD_MIGRATE_NEVER)
        return b->host->error(call, ACP_UNSUPPORTED,
                              "redis %s prefix '%.64s': layout version %lld is older than "
                              "version %d of this plugin, and migrate=never does not migrate "
                              "it: run 'acp-storage migrate' on this store",
                              b->conf.where, b->conf.prefix, found, RD_LAYOUT_VERSION);
    if ((st = migrate_layout(b, call, &moved)) == ACP_OK)
        b->host->log(2, RD_NAME, "redis %s prefix '%s': layout migrated from version %lld to %d "
                     "(%lld runs)", b->conf.where, b->conf.prefix, found, RD_LAYOUT_VERSION,
                     moved);
    return st;
}

acp_status rd_migrate(acp_backend *b, uint32_t flags, acp_call *call)
{
    const acp_plugin_host *h = b->host;
    if (h->size < offsetof(acp_plugin_host, migrate_step) + sizeof h->migrate_step)
        return ACP_NOMEM;
    long long found = 0, moved = 0;
    acp_status st = layout_of(b, call, &found);
    if (st != ACP_OK)
        return st;
    if (found > RD_LAYOUT_VERSION)
        return newer(b, call, found);
    if (h->migrate_versions(call, found, RD_LAYOUT_VERSION, "layout version") != 0)
        return ACP_NOMEM;
    if (found == 1 && h->migrate_step(call, 1, RD_LAYOUT_VERSION,
                                      "index runs by status (filtered lists) and keep each "
                                      "run's status and version with its index entry",
                                      step_detail) != 0)
        return ACP_NOMEM;
    if (flags & ACP_MIGRATE_DRY_RUN)
        return ACP_OK;
    if (found == 0)
        return mark_new(b, call);
    return found == 1 ? migrate_layout(b, call, &moved) : ACP_OK;
}
