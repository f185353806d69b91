/* SPDX-License-Identifier: MIT */
/*
 * test_old_minor.c - a plugin built against an older minor of the plugin ABI
 * keeps working with this host.
 *
 * The fixture (fixtures/abi_1_0.c) declares ABI 1.0 and a vtable that ends
 * before list_sessions, exactly at an unreadable page: if the host read the
 * list_sessions slot (or copied a whole current-size vtable) the test
 * process would die with SIGSEGV.  acp_session_list must answer UNSUPPORTED
 * and every method the plugin has must work.
 */
#define _DEFAULT_SOURCE

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "acp_storage.h"
#include "acp_storage_plugin.h"

/* ACP_ABI_FIXTURE_DIR comes from CMake: the folder holding the fixture. */
#define FIXTURE_SO ACP_ABI_FIXTURE_DIR "/libacp_storage_abi_1_0.so"

static acp_store *store;
static acp_error err;

static void open_fixture(void)
{
    acp_config *cfg = NULL;
    cr_assert_eq(acp_config_new(&cfg, &err), ACP_OK, "%s", err.message);
    cr_assert_eq(acp_config_parse_uri(cfg, "abi_1_0:", &err), ACP_OK, "%s", err.message);
    cr_assert_eq(acp_config_add_plugin_dir(cfg, ACP_ABI_FIXTURE_DIR, &err), ACP_OK, "%s",
                 err.message);
    cr_assert_eq(acp_store_open_config(cfg, &store, &err), ACP_OK, "%s", err.message);
    acp_config_free(cfg);
}

static void close_fixture(void)
{
    acp_store_close(store);
    store = NULL;
}

TestSuite(abi_1_0, .init = open_fixture, .fini = close_fixture);

#define OK(call) cr_assert_eq((call), ACP_OK, "%s: %s", #call, err.message)

static void save_run(const char *id, const char *agent, const char *created)
{
    char doc[256];
    snprintf(doc, sizeof doc,
             "{\"run_id\":\"%s\",\"agent_name\":\"%s\",\"status\":\"completed\","
             "\"created_at\":\"%s\",\"output\":[]}",
             id, agent, created);
    OK(acp_run_save(store, doc, ACP_STRLEN, &err));
}

Test(abi_1_0, loads_as_abi_1_0_beside_a_newer_host)
{
    unsigned major = 0, minor = 0;
    acp_plugin_abi(&major, &minor);
    cr_assert_eq(major, 1);
    cr_assert_gt(minor, 0, "the host must be newer than the fixture for this test to mean anything");
    cr_assert_str_eq(acp_store_backend(store), "abi_1_0");
    cr_assert_str_eq(acp_store_backend_version(store), "1.0.0");

    acp_config *cfg = NULL;
    acp_plugin_list *list = NULL;
    OK(acp_config_new(&cfg, &err));
    OK(acp_config_add_plugin_dir(cfg, ACP_ABI_FIXTURE_DIR, &err));
    OK(acp_plugins_scan(cfg, &list, &err));
    const acp_plugin_info *found = NULL;
    for (size_t i = 0; i < acp_plugin_list_count(list); i++) {
        const acp_plugin_info *p = acp_plugin_list_get(list, i);
        if (strcmp(p->name, "abi_1_0") == 0 && !p->shadowed)
            found = p;
    }
    cr_assert_not_null(found, "the scan does not list the fixture");
    cr_expect_eq(found->status, ACP_OK, "refused: %s", found->message);
    cr_expect_eq(found->abi_major, 1);
    cr_expect_eq(found->abi_minor, 0);
    acp_plugin_list_free(list);
    acp_config_free(cfg);
}

Test(abi_1_0, list_sessions_is_unsupported_and_the_store_goes_on)
{
    OK(acp_session_save(store, "{\"id\":\"s1\",\"history\":[],\"state\":null}", ACP_STRLEN,
                        &err));
    acp_page *page = (acp_page *)&page; /* a sentinel: must stay untouched */
    cr_assert_eq(acp_session_list(store, NULL, 10, &page, &err), ACP_UNSUPPORTED);
    cr_expect_eq(err.code, ACP_UNSUPPORTED);
    cr_expect_neq(err.message[0], '\0', "UNSUPPORTED without a message");
    cr_expect_eq(page, (acp_page *)&page, "output set on failure");
    cr_assert_eq(acp_session_list(store, "s0", 1000, &page, &err), ACP_UNSUPPORTED);

    /* The refusal changed nothing: the same handle keeps serving. */
    OK(acp_store_ping(store, &err));
    char *json = NULL;
    OK(acp_session_get(store, "s1", &json, NULL, &err));
    acp_free(json);
}

/* ABI 1.2's verify lies past the fixture's vtable (an unreadable page):
 * the host walks the store itself, and without list_sessions checks the
 * runs and events it can list. */
Test(abi_1_0, verify_walks_an_abi_1_0_store_without_reading_past_its_vtable)
{
    save_run("v1", "agent", "2025-01-01T00:00:00Z");
    OK(acp_event_add(store, "v1", "{\"type\":\"t\"}", ACP_STRLEN, NULL, &err));
    OK(acp_session_save(store, "{\"id\":\"s1\"}", ACP_STRLEN, &err));
    acp_verify_counts c;
    OK(acp_store_verify(store, 0, NULL, NULL, &c, &err));
    cr_expect_eq(c.runs, 1);
    cr_expect_eq(c.events, 1);
    cr_expect_eq(c.sessions, 0, "sessions cannot be listed through ABI 1.0");
    cr_expect_eq(c.damaged, 0);
}

Test(abi_1_0, runs_save_get_list_page_and_delete)
{
    save_run("r1", "alpha", "2025-06-01T12:00:00Z");
    save_run("r2", "beta", "2025-06-01T12:00:01Z");
    save_run("r3", "alpha", "2025-06-01T12:00:01Z"); /* ties r2: r3 lists first */

    char *json = NULL;
    size_t len = 0;
    OK(acp_run_get(store, "r2", &json, &len, &err));
    cr_expect(strstr(json, "\"beta\"") != NULL && len == strlen(json));
    acp_free(json);
    cr_assert_eq(acp_run_get(store, "nope", &json, NULL, &err), ACP_NOT_FOUND);

    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.want_total = 1;
    f.limit = 2;
    acp_page *page = NULL;
    OK(acp_run_list(store, &f, &page, &err));
    cr_assert_eq(acp_page_count(page), 2);
    cr_expect_str_eq(acp_page_key(page, 0), "r3");
    cr_expect_str_eq(acp_page_key(page, 1), "r2");
    cr_expect_eq(acp_page_total(page), 3);
    cr_assert_not_null(acp_page_next_cursor(page));

    /* The cursor continues after r2, with the core's cursor encoding. */
    char cursor[256];
    snprintf(cursor, sizeof cursor, "%s", acp_page_next_cursor(page));
    acp_page_free(page);
    f.cursor = cursor;
    OK(acp_run_list(store, &f, &page, &err));
    cr_assert_eq(acp_page_count(page), 1);
    cr_expect_str_eq(acp_page_key(page, 0), "r1");
    acp_page_free(page);

    acp_run_filter by_agent = ACP_RUN_FILTER_INIT;
    by_agent.agent_name = "alpha";
    by_agent.want_total = 1;
    OK(acp_run_list(store, &by_agent, &page, &err));
    cr_expect_eq(acp_page_total(page), 2);
    acp_page_free(page);

    OK(acp_run_delete(store, "r1", &err));
    cr_expect_eq(acp_run_delete(store, "r1", &err), ACP_NOT_FOUND);
    cr_expect_eq(acp_run_get(store, "r1", &json, NULL, &err), ACP_NOT_FOUND);
}

Test(abi_1_0, sessions_save_get_replace_and_delete)
{
    OK(acp_session_save(store, "{\"id\":\"s\",\"history\":[],\"state\":1}", ACP_STRLEN, &err));
    OK(acp_session_save(store, "{\"id\":\"s\",\"history\":[],\"state\":2}", ACP_STRLEN, &err));
    char *json = NULL;
    OK(acp_session_get(store, "s", &json, NULL, &err));
    cr_expect_str_eq(json, "{\"id\":\"s\",\"history\":[],\"state\":2}");
    acp_free(json);
    OK(acp_session_delete(store, "s", &err));
    cr_expect_eq(acp_session_get(store, "s", &json, NULL, &err), ACP_NOT_FOUND);
    cr_expect_eq(acp_session_delete(store, "s", &err), ACP_NOT_FOUND);
}

Test(abi_1_0, events_append_page_and_go_with_their_run)
{
    for (int i = 1; i <= 5; i++) {
        int64_t seq = 0;
        OK(acp_event_add(store, "run", "{\"type\":\"message.part\"}", ACP_STRLEN, &seq, &err));
        cr_assert_eq(seq, i);
    }
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    f.after_seq = 1;
    f.offset = 1;
    f.limit = 2;
    acp_page *page = NULL;
    OK(acp_event_list(store, "run", &f, &page, &err));
    cr_assert_eq(acp_page_count(page), 2);
    cr_expect_eq(acp_page_seq(page, 0), 3);
    cr_expect_eq(acp_page_seq(page, 1), 4);
    acp_page_free(page);

    OK(acp_run_delete(store, "run", &err)); /* events without a run record */
    OK(acp_event_list(store, "run", NULL, &page, &err));
    cr_expect_eq(acp_page_count(page), 0);
    acp_page_free(page);
}

/* The guard is real: reading one byte past the 1.0 vtable kills the process.
 * Without this, a fixture whose guard page silently failed would let the
 * tests above pass whatever the host reads. */
Test(abi_1_0, reading_past_the_fixture_vtable_crashes, .signal = SIGSEGV)
{
    void *h = dlopen(FIXTURE_SO, RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(h, "%s", dlerror());
    const acp_plugin_descriptor *(*entry)(void);
    *(void **)&entry = dlsym(h, "acp_storage_abi_1_0_plugin");
    cr_assert_not_null(entry);
    const acp_plugin_descriptor *d = entry();
    cr_assert_not_null(d);
    cr_assert_eq(d->vtable_size, offsetof(acp_backend_vtable, list_sessions));
    const volatile unsigned char *end = (const unsigned char *)d->vtable + d->vtable_size;
    (void)end[-1]; /* the last byte of the 1.0 vtable is readable */
    /* Die of the signal itself, also where a sanitizer catches SIGSEGV to
     * print a report (which would fail a sanitizer run). */
    signal(SIGSEGV, SIG_DFL);
    (void)end[0]; /* the first byte after it is not */
}

/* The template backend inside the fixture refuses a variant it does not
 * have instead of opening a plain store under that name. */
Test(abi_1_0, the_template_backend_refuses_an_unknown_variant)
{
    acp_config *cfg = NULL;
    acp_store *other = NULL;
    OK(acp_config_new(&cfg, &err));
    OK(acp_config_parse_uri(cfg, "abi_1_0+fast:", &err));
    OK(acp_config_add_plugin_dir(cfg, ACP_ABI_FIXTURE_DIR, &err));
    cr_assert_eq(acp_store_open_config(cfg, &other, &err), ACP_INVALID, "%s", err.message);
    cr_expect(strstr(err.message, "unknown variant '+fast'") != NULL, "%s", err.message);
    acp_config_free(cfg);
}
