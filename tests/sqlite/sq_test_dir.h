/* SPDX-License-Identifier: MIT */
/*
 * sq_test_dir.h - the fresh temporary directory each sqlite test works in
 * (g_dir, removed after the test) and its database path g_db.  Included
 * once by each test program of tests/sqlite, after <criterion/criterion.h>,
 * <errno.h>, <ftw.h>, <stdio.h>, <stdlib.h> and <string.h>.
 */
#ifndef ACP_SQ_TEST_DIR_H
#define ACP_SQ_TEST_DIR_H

#include "../common/criterion_helpers.h"

static char g_dir[512];
static char g_db[600];

static void setup(void)
{
    acp_test_mkdtemp(g_dir, sizeof g_dir, "sqlite");
    snprintf(g_db, sizeof g_db, "%s/t.db", g_dir);
}

static void teardown(void)
{
    acp_test_rmtree(g_dir);
}

#endif /* ACP_SQ_TEST_DIR_H */
