/* SPDX-License-Identifier: MIT */
/*
 * migrate.c - acp_store_migrate(): show and run a store's schema migration
 * explicitly.  The steps come from the backend's own table (the one its
 * open migrates with), through host->migrate_versions and
 * host->migrate_step; this file only opens the store for it, forwards the
 * reports and keeps the counts.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

struct acp__migrate {
    acp_migrate_fn fn;
    void *ctx;
    acp_migrate_info *info;
    int versions_seen; /* migrate_versions was called */
    int stopped;       /* fn asked to stop */
};

int acp__migrate_versions(acp_call *call, int64_t found, int64_t latest, const char *what)
{
    acp__migrate *m = call ? call->migrate : NULL;
    if (!m)
        return 1;
    m->info->found = found;
    m->info->latest = latest;
    snprintf(m->info->what, sizeof m->info->what, "%s", what ? what : "");
    m->versions_seen = 1;
    return 0;
}

int acp__migrate_step(acp_call *call, int64_t from, int64_t to, const char *description,
                      const char *detail)
{
    acp__migrate *m = call ? call->migrate : NULL;
    if (!m || m->stopped)
        return 1;
    m->info->steps++;
    if (m->fn && m->fn(m->ctx, from, to, description ? description : "", detail) != 0)
        m->stopped = 1;
    return m->stopped;
}

ACP_API acp_status acp_store_migrate(const acp_config *cfg, unsigned flags, acp_migrate_fn fn,
                                     void *ctx, acp_migrate_info *info, acp_error *err)
{
    acp_migrate_info scratch;
    if (!info)
        info = &scratch;
    memset(info, 0, sizeof *info);
    info->found = info->latest = -1;
    if (!cfg)
        return acp__error(err, ACP_INVALID, "acp_store_migrate: cfg must not be NULL");
    if (flags & ~(unsigned)ACP_MIGRATE_DRY_RUN)
        return acp__error(err, ACP_INVALID, "acp_store_migrate: unknown flags 0x%x", flags);

    acp_store *s;
    acp_status st = acp__store_open(cfg, ACP__OPEN_MIGRATE | (flags & ACP_MIGRATE_DRY_RUN), &s, err);
    if (st == ACP_NOT_FOUND && (flags & ACP_MIGRATE_DRY_RUN) && err) {
        /* The backend blames create=false, which the caller never set. */
        size_t n = strlen(err->message);
        static const char why[] = " (a dry run creates no store)";
        if (n + sizeof why <= sizeof err->message)
            memcpy(err->message + n, why, sizeof why);
    }
    if (st != ACP_OK)
        return st;
    if (!ACP__HAS(s->desc, migrate)) {
        /* No versioned schema (memory, redis, a third-party plugin without
         * the method): there is nothing to migrate. */
        acp_store_close(s);
        return ACP_OK;
    }
    acp__migrate m = {.fn = fn, .ctx = ctx, .info = info};
    acp_call call;
    acp__call_init(&call, NULL, 0); /* a migration takes as long as the store is large */
    call.migrate = &m;
    /* The instance is this call's own: no other thread can be in it. */
    st = s->vt->migrate(s->backend, flags & ACP_MIGRATE_DRY_RUN, &call);
    if (m.stopped)
        st = acp__error(err, ACP_INVALID, "%s: migrate stopped by the caller; nothing migrated",
                        s->desc->name);
    else if (st == ACP_OK && !m.versions_seen)
        st = acp__error(err, ACP_PLUGIN, "%s: migrate did not report the store's version",
                        s->desc->name);
    else
        st = acp__call_finish(&call, st, s->desc->name, "migrate", err);
    if (st != ACP_OK && err)
        acp__config_scrub(cfg, err->message, sizeof err->message);
    if (st == ACP_OK && !(flags & ACP_MIGRATE_DRY_RUN) && info->steps > 0)
        info->migrated = 1;
    acp_store_close(s);
    return st;
}
