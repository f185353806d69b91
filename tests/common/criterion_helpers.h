/* SPDX-License-Identifier: MIT */
/*
 * criterion_helpers.h - what Criterion test programs share: a fresh
 * temporary directory per test and its removal, and OK() for a library
 * call that must succeed.  Include after <criterion/criterion.h>, <errno.h>,
 * <ftw.h>, <stdio.h>, <stdlib.h>, <string.h> and "acp_storage.h", with
 * _GNU_SOURCE (or _XOPEN_SOURCE 500) defined for mkdtemp and nftw.
 */
#ifndef ACP_TEST_CRITERION_HELPERS_H
#define ACP_TEST_CRITERION_HELPERS_H

/* OK(acp_call(..., E)): the call must return ACP_OK; on failure the
 * message names the call, its status and the library's message (e_ is
 * read only then, when the library has set it). */
#define OK(call)                                                                          \
    do {                                                                                  \
        acp_error e_;                                                                     \
        acp_status s_ = (call);                                                           \
        cr_assert_eq(s_, ACP_OK, "%s -> %s: %s", #call, acp_status_name(s_), e_.message); \
    } while (0)
#define E (&e_)

/* Make dir (size bytes) a fresh directory $TMPDIR/acp-<tag>-XXXXXX (/tmp
 * without TMPDIR), failing the test if it cannot. */
static inline void acp_test_mkdtemp(char *dir, size_t size, const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, size, "%s/acp-%s-XXXXXX", tmp && tmp[0] ? tmp : "/tmp", tag);
    cr_assert_not_null(mkdtemp(dir), "mkdtemp %s: %s", dir, strerror(errno));
}

static inline int acp_test_rm_entry(const char *path, const struct stat *sb, int flag,
                                    struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Remove dir and everything under it, following no symbolic link. */
static inline void acp_test_rmtree(const char *dir)
{
    nftw(dir, acp_test_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif /* ACP_TEST_CRITERION_HELPERS_H */
