/* SPDX-License-Identifier: MIT */
/*
 * test_options.c - typed options and variants in the descriptor (plugin ABI
 * 1.2): the core refuses a bad variant, key or value once, for every
 * backend, naming what is accepted, and hands open canonical values with
 * defaults filled in.  The fixture "typed" (fixtures/typed.c) reports what
 * its open received in the message of its (always failing) open; "good" lists option names
 * the 1.0 way; memory and sqlite are the shipped backends.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "acp_storage.h"

/* Open uri (fixtures searched first); ACP_OK and the store, or the error. */
static acp_status open_uri(const char *uri, acp_store **out, acp_error *e)
{
    acp_config *cfg = NULL;
    cr_assert_eq(acp_config_new(&cfg, e), ACP_OK);
    cr_assert_eq(acp_config_add_plugin_dir(cfg, FIXTURE_DIR, e), ACP_OK);
    acp_status st = acp_config_parse_uri(cfg, uri, e);
    if (st == ACP_OK)
        st = acp_store_open_config(cfg, out, e);
    acp_config_free(cfg);
    return st;
}

/* What the typed fixture's open received, "k=v;...;variant=V". */
static void seen(const char *uri, char *buf, size_t n)
{
    acp_store *s = NULL;
    acp_error e = {0};
    cr_assert_eq(open_uri(uri, &s, &e), ACP_UNAVAILABLE, "%s: %s", uri, e.message);
    const char *p = strstr(e.message, "seen ");
    cr_assert(p, "%s", e.message);
    snprintf(buf, n, "%s", p + 5);
}

static void refused(const char *uri, const char *const expect[])
{
    acp_store *s = NULL;
    acp_error e = {0};
    acp_status st = open_uri(uri, &s, &e);
    cr_assert_eq(st, ACP_INVALID, "%s: %s (%s)", uri, acp_status_name(st), e.message);
    for (size_t i = 0; expect[i]; i++)
        cr_expect(strstr(e.message, expect[i]), "%s: '%s' not in: %s", uri, expect[i],
                  e.message);
}

#define REFUSED(uri, ...) refused(uri, (const char *const[]){__VA_ARGS__, NULL})

Test(options, open_receives_canonical_values_and_defaults)
{
    char got[1024];
    seen("typed:?count=007&flag=yes&wait=1.5&size=2KiB&token=s3", got, sizeof got);
    /* token is a secret: the library scrubs its value from the message. */
    cr_expect_str_eq(got, "count=7;flag=true;wait=1500;size=2048;token=***;level=low;"
                          "label=dflt;create=true;variant=", "%s", got);
    seen("typed+fast:?wait=250ms&size=3&flag=off&level=high&create=no&label=x", got, sizeof got);
    cr_expect_str_eq(got, "wait=250;size=3;flag=false;level=high;create=false;label=x;"
                          "variant=fast", "%s", got);
    seen("typed:?wait=1min", got, sizeof got);
    cr_expect(strstr(got, "wait=60000;"), "%s", got);
}

Test(options, bad_values_are_refused_naming_option_value_and_what_is_accepted)
{
    REFUSED("typed:?count=abc", "option count=abc", "backend 'typed'", "integer from 1 to 100");
    REFUSED("typed:?count=101", "option count=101", "from 1 to 100");
    REFUSED("typed:?flag=maybe", "option flag=maybe", "true or false");
    REFUSED("typed:?level=extreme", "option level=extreme", "one of low, high");
    REFUSED("typed:?wait=5parsecs", "option wait=5parsecs", "a duration", "seconds",
            "to 60000 ms");
    REFUSED("typed:?wait=61", "option wait=61", "to 60000 ms");
    REFUSED("typed:?size=2MiB", "option size=2MiB", "a size", "to 1048576 bytes");
    REFUSED("typed:?size=-1", "option size=-1");
    REFUSED("typed:?label=much_too_long", "option label=much_too_long", "text of 0 to 8 bytes");
    REFUSED("typed:?create=perhaps", "option create=perhaps", "true or false");
}

Test(options, a_secret_value_is_never_shown)
{
    acp_store *s = NULL;
    acp_error e = {0};
    cr_assert_eq(open_uri("typed:?token=hunter2hunter2", &s, &e), ACP_INVALID);
    cr_expect(strstr(e.message, "option token"), "%s", e.message);
    cr_expect_null(strstr(e.message, "hunter2"), "%s", e.message);
}

Test(options, unknown_keys_and_variants_are_refused)
{
    REFUSED("typed:?colour=red", "unknown option 'colour' for backend 'typed'",
            "count, flag, level, wait, size, label, token, create");
    REFUSED("typed+slow:", "typed: unknown variant '+slow'", "accepted: typed, typed+fast");
    REFUSED("memory+x:", "memory: unknown variant '+x'", "takes none");
    REFUSED("memory:?busy_timeout=5", "unknown option 'busy_timeout' for backend 'memory'");
    REFUSED("sqlite+wal:/tmp/never.db", "sqlite: unknown variant '+wal'");
}

Test(options, shipped_backends_are_checked_by_the_core)
{
    REFUSED("sqlite:/tmp/never.db?busy_timeout=soon", "option busy_timeout=soon",
            "backend 'sqlite'", "an integer from 0 to 2147483647");
    REFUSED("sqlite:/tmp/never.db?mmap_size=1e6", "option mmap_size=1e6", "a size");
    REFUSED("sqlite:/tmp/never.db?synchronous=sometimes", "option synchronous=sometimes",
            "one of normal, full");
    REFUSED("sqlite:/tmp/never.db?mode=rx", "option mode=rx", "one of rw, ro");
    REFUSED("file:/tmp/never?sync=often", "option sync=often", "one of always, none");
}

/* create is accepted everywhere, checked once, and reaches only the
 * backends that ask for it. */
Test(options, create_is_checked_once_and_reaches_who_asks)
{
    acp_store *s = NULL;
    acp_error e = {0};
    cr_assert_eq(open_uri("memory:?create=false", &s, &e), ACP_OK, "%s", e.message);
    acp_store_close(s);
    REFUSED("memory:?create=maybe", "option create=maybe", "true or false");
    char got[1024];
    seen("typed:?create=0", got, sizeof got);
    cr_expect(strstr(got, "create=false;"), "%s", got);
}

/* A plugin without typed specs (ABI 1.0 style, option_names NULL: any key)
 * keeps today's rules: any key and any variant reach its open. */
Test(options, plugins_without_specs_keep_their_rules)
{
    acp_store *s = NULL;
    acp_error e = {0};
    cr_assert_eq(open_uri("good+anything:?colour=red", &s, &e), ACP_OK, "%s", e.message);
    acp_store_close(s);
    REFUSED("good:?create=perhaps", "option create=perhaps");
}
