/* SPDX-License-Identifier: MIT */
/*
 * sq_test_dir.h - the fresh temporary directory each sqlite test works in
 * (g_dir, removed after the test) and its database path g_db.  Included
 * once by each test program of tests/sqlite, after <criterion/criterion.h>,
 * <errno.h>, <ftw.h>, <stdio.h>, <stdlib.h> and <string.h>.
 */
#ifndef ACP_SQ_TEST_DIR_H
#define ACP_SQ_TEST_DIR_H

static char g_dir[512];
static char g_db[600];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/acp-sqlite-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    cr_assert_not_null(mkdtemp(g_dir), "mkdtemp: %s", strerror(errno));
    snprintf(g_db, sizeof g_db, "%s/t.db", g_dir);
}

static void teardown(void)
{
    nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif /* ACP_SQ_TEST_DIR_H */
