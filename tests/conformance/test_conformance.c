/* SPDX-License-Identifier: MIT */
/*
 * test_conformance.c - every conformance check as one Criterion test,
 * against the store named by the environment:
 *   ACP_TEST_STORE        store URI template ("memory:", "sqlite:{dir}/t.db")
 *   ACP_TEST_PLUGIN_FILE  optional absolute path of the plugin .so to load
 * CMake registers this program once per backend (acp_storage_add_conformance).
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "acp_conformance.h"

static void run_check(const char *name)
{
    const char *uri = getenv("ACP_TEST_STORE");
    cr_assert(uri && uri[0], "set ACP_TEST_STORE to a store URI template, e.g. \"memory:\"");
    const char *so = getenv("ACP_TEST_PLUGIN_FILE");
    acp_conformance_target target = {uri, so && so[0] ? so : NULL};
    size_t i = acp_conformance_find(name);
    cr_assert(i < acp_conformance_count(), "no conformance check named %s", name);
    char msg[4096];
    int r = acp_conformance_run(i, &target, msg, sizeof msg);
    if (r == ACP_CONFORMANCE_SKIP)
        cr_skip_test("%s", msg);
    cr_assert(r == ACP_CONFORMANCE_PASS, "%s (%s): %s", name, uri, msg);
}

/* One test per entry of the one list of checks. */
#define ACP_CONFORMANCE_CHECK(name, text)                                                  \
    Test(conformance, name, .description = text, .timeout = 600)                           \
    {                                                                                      \
        run_check(#name);                                                                  \
    }
#include "acp_conformance_checks.def"
#undef ACP_CONFORMANCE_CHECK
