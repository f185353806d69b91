/* SPDX-License-Identifier: MIT */
/*
 * run_filter.h - the list filter of the tests in this folder: agent N is
 * "aN", session N is "sN", -1 means any; the total is always asked for.
 * an and sn hold the names and must outlive the filter.
 */
#ifndef ACP_TEST_RUN_FILTER_H
#define ACP_TEST_RUN_FILTER_H

#include <stdio.h>

#include "acp_storage.h"

static inline acp_run_filter run_filter(char an[16], char sn[16], int agent, int session,
                                        int64_t limit, int64_t offset, const char *cursor)
{
    snprintf(an, 16, "a%d", agent);
    snprintf(sn, 16, "s%d", session);
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.agent_name = agent >= 0 ? an : NULL;
    f.session_id = session >= 0 ? sn : NULL;
    f.limit = limit;
    f.offset = offset;
    f.cursor = cursor;
    f.want_total = 1;
    return f;
}

#endif
