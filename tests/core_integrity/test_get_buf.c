/* SPDX-License-Identifier: MIT */
/*
 * test_get_buf.c - acp_run_get_buf and acp_session_get_buf: the document
 * copied into the caller's buffer when it fits with its NUL, its length
 * always reported, the buffer untouched when it does not fit, and the
 * errors of acp_run_get / acp_session_get.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "acp_storage.h"

static const char RUN[] = "{\"run_id\":\"r1\",\"agent_name\":\"a\",\"status\":\"created\","
                          "\"created_at\":\"2025-06-01T12:00:00Z\"}";
static const char SES[] = "{\"id\":\"s1\",\"history\":[]}";

static acp_store *open_with(void)
{
    acp_store *s;
    acp_error e;
    cr_assert_eq(acp_store_open("memory:", &s, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_run_save(s, RUN, ACP_STRLEN, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_session_save(s, SES, ACP_STRLEN, &e), ACP_OK, "%s", e.message);
    return s;
}

Test(get_buf, run_fits_exactly_with_its_nul)
{
    acp_store *s = open_with();
    acp_error e;
    char *want;
    size_t wlen;
    cr_assert_eq(acp_run_get(s, "r1", &want, &wlen, &e), ACP_OK);
    char buf[1024];
    size_t len = 0;
    /* wlen + 1 bytes: fits; wlen bytes: the NUL would not. */
    memset(buf, 'x', sizeof buf);
    cr_assert_eq(acp_run_get_buf(s, "r1", buf, wlen + 1, &len, &e), ACP_OK, "%s", e.message);
    cr_expect_eq(len, wlen);
    cr_expect_eq(memcmp(buf, want, wlen), 0);
    cr_expect_eq(buf[wlen], '\0');
    memset(buf, 'x', sizeof buf);
    len = 0;
    cr_assert_eq(acp_run_get_buf(s, "r1", buf, wlen, &len, &e), ACP_OK);
    cr_expect_eq(len, wlen, "the length is reported when the buffer is too small");
    cr_expect_eq(buf[0], 'x', "a buffer too small is left as it was");
    cr_expect_eq(buf[wlen - 1], 'x');
    /* Asking for the length only. */
    len = 0;
    cr_assert_eq(acp_run_get_buf(s, "r1", NULL, 0, &len, &e), ACP_OK);
    cr_expect_eq(len, wlen);
    acp_free(want);
    acp_store_close(s);
}

Test(get_buf, session_copied)
{
    acp_store *s = open_with();
    acp_error e;
    char buf[256];
    size_t len = 0;
    cr_assert_eq(acp_session_get_buf(s, "s1", buf, sizeof buf, &len, &e), ACP_OK, "%s",
                 e.message);
    cr_expect_eq(len, strlen(buf));
    cr_expect_str_eq(buf, SES);
    acp_store_close(s);
}

Test(get_buf, errors_as_get)
{
    acp_store *s = open_with();
    acp_error e;
    char buf[64] = "untouched";
    size_t len = 7;
    cr_expect_eq(acp_run_get_buf(s, "nope", buf, sizeof buf, &len, &e), ACP_NOT_FOUND);
    cr_expect(strstr(e.message, "nope") != NULL, "%s", e.message);
    cr_expect_str_eq(buf, "untouched");
    cr_expect_eq(acp_session_get_buf(s, "nope", buf, sizeof buf, &len, &e), ACP_NOT_FOUND);
    cr_expect_eq(acp_run_get_buf(s, "", buf, sizeof buf, &len, &e), ACP_INVALID);
    cr_expect_eq(acp_run_get_buf(s, "r1", buf, sizeof buf, NULL, &e), ACP_INVALID);
    cr_expect_eq(acp_run_get_buf(s, "r1", NULL, 8, &len, &e), ACP_INVALID);
    cr_expect_eq(acp_run_get_buf(NULL, "r1", buf, sizeof buf, &len, &e), ACP_INVALID);
    acp_store_close(s);
}
