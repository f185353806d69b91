/* SPDX-License-Identifier: MIT */
/*
 * retain.c - the store option "retain=<duration>": purge final runs older
 * than the duration automatically, on writes, in bounded steps
 * (acp_storage.h; docs/operations.md).  Durations are parsed here for the
 * library and the command alike.
 */
#include <stdatomic.h>
#include <string.h>

#include "internal.h"

#define US_PER_S INT64_C(1000000)
#define MAX_DURATION_US (INT64_C(100) * 366 * 86400 * US_PER_S)
/* How often a handle may start an automatic purge, and how much one may do. */
#define RETAIN_EVERY_US (60 * US_PER_S)
#define RETAIN_BATCH 100
#define RETAIN_BATCHES 10

ACP_API acp_status acp_duration_parse(const char *text, int64_t *us, acp_error *err)
{
    static const struct {
        char unit;
        int64_t us;
    } units[] = {{'s', US_PER_S},         {'m', 60 * US_PER_S},        {'h', 3600 * US_PER_S},
                 {'d', 86400 * US_PER_S}, {'w', 7 * 86400 * US_PER_S}};
    if (!text || !us)
        return acp__error(err, ACP_INVALID, "acp_duration_parse: arguments must not be NULL");
    int64_t n = 0;
    const char *p = text;
    for (; *p >= '0' && *p <= '9' && n <= MAX_DURATION_US; p++)
        n = n * 10 + (*p - '0');
    for (size_t i = 0; p != text && p[0] && !p[1] && i < sizeof units / sizeof *units; i++)
        if (*p == units[i].unit && n <= MAX_DURATION_US / units[i].us) {
            *us = n * units[i].us;
            return ACP_OK;
        }
    return acp__error(err, ACP_INVALID,
                      "'%.64s' is not a duration (digits and one of s, m, h, d, w: 30d, 12h; "
                      "at most 100 years)", text);
}

acp_status acp__retain_option(const acp_config *cfg, int64_t *us, acp_error *err)
{
    *us = 0;
    for (size_t i = 0; i < cfg->n_opts; i++) {
        if (strcmp(cfg->opts[i].key, "retain") != 0)
            continue;
        acp_error e;
        if (acp_duration_parse(cfg->opts[i].value, us, &e) != ACP_OK)
            return acp__error(err, ACP_INVALID, "option retain: %s", e.message);
        if (*us == 0)
            return acp__error(err, ACP_INVALID, "option retain: must be more than 0s");
    }
    return ACP_OK;
}

/* Stop after RETAIN_BATCHES batches: the rest waits for the next tick. */
static int bounded(void *ctx, int64_t done)
{
    (void)done;
    return ++*(int *)ctx >= RETAIN_BATCHES;
}

void acp__retain_tick(acp_store *s)
{
    int64_t now = acp_time_now_us();
    int idle = 0;
    /* One purge at a time per handle: the thread that takes the flag and
     * finds it due runs it, the others go on at once.  The flag also hands
     * the walk's cursor from one purge to the next. */
    if (now < atomic_load(&s->retain_next_us) ||
        !atomic_compare_exchange_strong(&s->retain_busy, &idle, 1))
        return;
    if (now >= atomic_load(&s->retain_next_us)) {
        atomic_store(&s->retain_next_us, now + RETAIN_EVERY_US);
        acp_purge_filter f = ACP_PURGE_FILTER_INIT;
        f.finished_before_us = now - s->retain_us;
        f.batch_size = RETAIN_BATCH;
        int batches = 0;
        acp_error err;
        /* A walked backend lists newest first: at most RETAIN_BATCHES
         * pages, matching or not (a save never walks the whole store), and
         * the next purge goes on after them, or old runs behind more than
         * that many recent ones would never be reached. */
        if (acp__purge_resume(s, &f, bounded, &batches, &s->retain_cursor, RETAIN_BATCHES, NULL,
                              &err) != ACP_OK)
            acp__host.log(1, s->desc->name, "automatic purge (retain): %s", err.message);
    }
    atomic_store(&s->retain_busy, 0);
}
