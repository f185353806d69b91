/* SPDX-License-Identifier: MIT */
/*
 * run_filter.c - status lists as the run list and purge filters take them
 * ("completed,failed"): checked once here for both.
 */
#include <string.h>

#include "internal.h"

acp_status acp__statuses_parse(const char *list, const char *what, acp__statuses *out,
                               acp_error *err)
{
    int seen[ACP__N_STATUSES] = {0};
    const char *p = list;
    for (;;) {
        size_t len = strcspn(p, ",");
        size_t i = 0;
        const char *name;
        while ((name = acp__status_name(i)) && !(strlen(name) == len && !memcmp(name, p, len)))
            i++;
        if (!name)
            return acp__error(err, ACP_INVALID,
                              "%s: '%.*s' is not a run status (one or more of created, "
                              "in-progress, awaiting, cancelling, cancelled, completed, failed, "
                              "separated by commas)",
                              what, (int)(len > 64 ? 64 : len), p);
        seen[i] = 1;
        if (!p[len])
            break;
        p += len + 1;
    }
    out->n = 0;
    for (size_t i = 0; i < ACP__N_STATUSES; i++)
        if (seen[i])
            out->names[out->n++] = acp__status_name(i);
    return ACP_OK;
}
