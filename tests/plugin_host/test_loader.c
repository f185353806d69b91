/* SPDX-License-Identifier: MIT */
/*
 * test_loader.c - how the core finds, checks, loads and calls plugins,
 * driven by the deliberately broken fixtures of fixtures/.
 *
 * Criterion runs every test in a fresh worker process, so each test starts
 * with no plugin loaded ("cold") and may change the environment and the
 * current directory freely.
 *
 * Build-time paths (compile definitions):
 *   FIXTURE_DIR   every fixture plugin (good, newer_minor, ...)
 *   ALT_DIR       a second "good" whose version is "fixture-second"
 *   ALIAS_DIR     a fixture named "postgres"
 *   BADNAMES_DIR  libacp_storage_x.so.so and libacp_storage_A.so, which
 *                 would load if the host skipped validating names
 *   DECOY_DIR     libacp_storage_decoy.so, never on any search path
 *   INSTALL_PLUGINDIR  the compiled-in install directory
 */
#define _GNU_SOURCE

#include <criterion/criterion.h>

#include <ctype.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acp_storage.h"
#include "acp_storage_plugin.h"

#define ENV_PATH "ACP_STORAGE_PLUGIN_PATH"

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

static void plugin_file(char *buf, size_t size, const char *dir, const char *name)
{
    int n = snprintf(buf, size, "%s/libacp_storage_%s.so", dir, name);
    cr_assert(n > 0 && (size_t)n < size, "path too long");
}

static void assert_contains(const char *msg, const char *needle)
{
    cr_assert(strstr(msg, needle) != NULL, "message lacks \"%s\": %s", needle, msg);
}

static void assert_contains_nocase(const char *msg, const char *needle)
{
    cr_assert(strcasestr(msg, needle) != NULL, "message lacks \"%s\" (any case): %s", needle,
              msg);
}

static acp_config *new_config(void)
{
    acp_config *cfg = NULL;
    acp_error e = {0};
    cr_assert_eq(acp_config_new(&cfg, &e), ACP_OK, "acp_config_new: %s", e.message);
    return cfg;
}

/* A configuration for backend `name` searching only `dir` (before the
 * environment and the install directory). */
static acp_config *config_for(const char *name, const char *dir)
{
    acp_config *cfg = new_config();
    acp_error e = {0};
    cr_assert_eq(acp_config_set_backend(cfg, name, &e), ACP_OK, "set_backend(%s): %s", name,
                 e.message);
    if (dir)
        cr_assert_eq(acp_config_add_plugin_dir(cfg, dir, &e), ACP_OK, "add_plugin_dir(%s): %s",
                     dir, e.message);
    return cfg;
}

/* Open fixture `name` from FIXTURE_DIR; *out is a sentinel unless OK. */
static acp_status open_fixture(const char *name, acp_store **out, acp_error *e)
{
    acp_config *cfg = config_for(name, FIXTURE_DIR);
    acp_store *sentinel = (acp_store *)&sentinel;
    *out = sentinel;
    acp_status st = acp_store_open_config(cfg, out, e);
    acp_config_free(cfg);
    if (st != ACP_OK)
        cr_assert_eq(*out, sentinel, "output pointer changed on failure");
    return st;
}

static acp_store *must_open(const char *name)
{
    acp_store *store = NULL;
    acp_error e = {0};
    acp_status st = open_fixture(name, &store, &e);
    cr_assert_eq(st, ACP_OK, "opening fixture %s: %s (%s)", name, acp_status_name(st),
                 e.message);
    return store;
}

/*
 * A refused load: ACP_LOAD, and a message naming the backend, the file
 * tried and carrying a hint.
 */
static void assert_refused(const char *name, acp_status st, const acp_error *e)
{
    char path[PATH_MAX];
    cr_assert_eq(st, ACP_LOAD, "%s: expected LOAD, got %s (%s)", name, acp_status_name(st),
                 e->message);
    cr_assert_eq(e->code, ACP_LOAD, "err.code is %s", acp_status_name(e->code));
    plugin_file(path, sizeof path, FIXTURE_DIR, name);
    assert_contains(e->message, name);
    assert_contains(e->message, path);
    assert_contains_nocase(e->message, "hint");
}

static void refuse_fixture(const char *name, acp_error *e)
{
    acp_store *store = NULL;
    acp_status st = open_fixture(name, &store, e);
    assert_refused(name, st, e);
}

/* The handle of an image that is already loaded, or NULL. */
static void *loaded_image(const char *dir, const char *name)
{
    char path[PATH_MAX];
    plugin_file(path, sizeof path, dir, name);
    return dlopen(path, RTLD_NOW | RTLD_NOLOAD);
}

static int fixture_counter(const char *name, const char *counter)
{
    void *h = loaded_image(FIXTURE_DIR, name);
    cr_assert_not_null(h, "fixture %s is not loaded", name);
    int (*fn)(void) = (int (*)(void))dlsym(h, counter);
    cr_assert_not_null(fn, "fixture %s lacks %s", name, counter);
    int v = fn();
    dlclose(h);
    return v;
}

static void make_temp_dir(char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s/acp-plugin-host-XXXXXX",
                     getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    cr_assert(n > 0 && (size_t)n < size);
    cr_assert_not_null(mkdtemp(buf), "mkdtemp failed");
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    cr_assert_not_null(in, "cannot read %s", from);
    FILE *out = fopen(to, "wb");
    cr_assert_not_null(out, "cannot write %s", to);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        cr_assert_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    cr_assert_eq(fclose(out), 0);
}

static const char *run_doc(char *buf, size_t size, const char *run_id)
{
    snprintf(buf, size,
             "{\"run_id\":\"%s\",\"agent_name\":\"fixture\",\"status\":\"created\","
             "\"created_at\":\"2025-06-01T12:00:00Z\",\"output\":[]}",
             run_id);
    return buf;
}

/* ------------------------------------------------------------------ */
/* Names                                                                */
/* ------------------------------------------------------------------ */

static const char *const bad_names[] = {"", "../x", "a/b", "x.so", "A", "a-b", "a b", "é"};

Test(plugin_host, invalid_backend_names_are_refused_as_invalid)
{
    acp_config *cfg = new_config();
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        acp_error e = {0};
        acp_status st = acp_config_set_backend(cfg, bad_names[i], &e);
        cr_expect_eq(st, ACP_INVALID, "set_backend(\"%s\") gave %s", bad_names[i],
                     acp_status_name(st));
        cr_expect_eq(e.code, ACP_INVALID);
        cr_expect_neq(e.message[0], '\0', "no message for \"%s\"", bad_names[i]);
    }
    acp_error e = {0};
    cr_expect_eq(acp_config_set_backend(cfg, NULL, &e), ACP_INVALID);
    acp_config_free(cfg);
}

Test(plugin_host, backend_name_of_4_kib_is_refused_as_invalid)
{
    static char name[4097];
    memset(name, 'a', 4096);
    name[4096] = '\0';
    acp_config *cfg = new_config();
    acp_error e = {0};
    cr_assert_eq(acp_config_set_backend(cfg, name, &e), ACP_INVALID);
    cr_assert(strlen(e.message) < ACP_ERROR_MESSAGE_MAX);

    char uri[4200];
    snprintf(uri, sizeof uri, "%s:", name);
    acp_store *store = NULL;
    cr_assert_eq(acp_store_open(uri, &store, &e), ACP_INVALID, "%s", e.message);
    acp_config_free(cfg);
}

Test(plugin_host, backend_name_of_64_chars_is_accepted_and_65_refused)
{
    char name[66];
    memset(name, 'b', 65);
    name[64] = '\0';
    acp_config *cfg = new_config();
    acp_error e = {0};
    cr_assert_eq(acp_config_set_backend(cfg, name, &e), ACP_OK, "%s", e.message);
    cr_assert_str_eq(acp_config_backend(cfg), name);
    /* Valid but absent: the loader looks and reports LOAD. */
    acp_store *store = NULL;
    cr_assert_eq(acp_store_open_config(cfg, &store, &e), ACP_LOAD, "%s", e.message);

    name[64] = 'b';
    name[65] = '\0';
    cr_assert_eq(acp_config_set_backend(cfg, name, &e), ACP_INVALID);
    acp_config_free(cfg);
}

/*
 * A directory holding, for each invalid name, the file an unvalidated name
 * would map to (a copy of the good fixture): INVALID proves the name was
 * refused before the loader went looking; LOAD would mean it looked.
 */
Test(plugin_host, invalid_names_are_refused_before_any_file_access)
{
    char dir[PATH_MAX], path[PATH_MAX + 64], good[PATH_MAX];
    make_temp_dir(dir, sizeof dir);
    plugin_file(good, sizeof good, FIXTURE_DIR, "good");
    snprintf(path, sizeof path, "%s/libacp_storage_..", dir);
    cr_assert_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/libacp_storage_a", dir);
    cr_assert_eq(mkdir(path, 0700), 0);
    const char *const names[] = {"", "../x", "a/b", "x.so", "A"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/libacp_storage_%s.so", dir, names[i]);
        copy_file(good, path);
    }
    cr_assert_eq(setenv(ENV_PATH, dir, 1), 0);

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        acp_config *cfg = new_config();
        acp_error e = {0};
        cr_assert_eq(acp_config_add_plugin_dir(cfg, dir, &e), ACP_OK, "%s", e.message);
        cr_expect_eq(acp_config_set_backend(cfg, names[i], &e), ACP_INVALID,
                     "set_backend(\"%s\")", names[i]);
        acp_config_free(cfg);

        /* The same name as a URI scheme ("A:" has its own test: URI
         * schemes are case-insensitive). */
        if (strcmp(names[i], "A") == 0)
            continue;
        char uri[64];
        snprintf(uri, sizeof uri, "%s:", names[i]);
        acp_store *store = NULL;
        acp_status st = acp_store_open(uri, &store, &e);
        cr_expect_eq(st, ACP_INVALID, "acp_store_open(\"%s\") gave %s: %s", uri,
                     acp_status_name(st), e.message);
    }
    remove_tree(dir);
}

/*
 * libacp_storage_x.so.so really exports "acp_storage_x.so_plugin" and
 * names itself "x.so", so a host that skipped the name check would load it.
 */
Test(plugin_host, invalid_name_never_loads_a_plugin_built_for_it)
{
    cr_assert_eq(setenv(ENV_PATH, BADNAMES_DIR, 1), 0);
    acp_store *store = NULL;
    acp_error e = {0};
    acp_status st = acp_store_open("x.so:", &store, &e);
    cr_assert_eq(st, ACP_INVALID, "x.so: gave %s: %s", acp_status_name(st), e.message);

    /* URI schemes are case-insensitive, so "A:" may be read as "a" (which
     * does not exist: LOAD); it must never load libacp_storage_A.so. */
    st = acp_store_open("A:", &store, &e);
    cr_assert(st == ACP_INVALID || st == ACP_LOAD, "A: gave %s: %s", acp_status_name(st),
              e.message);
    cr_assert_null(loaded_image(BADNAMES_DIR, "A"), "libacp_storage_A.so was loaded");
    cr_assert_null(loaded_image(BADNAMES_DIR, "x.so"), "libacp_storage_x.so.so was loaded");
}

/* acp_plugins_scan with dir searched first; *cfg to free after the list. */
static acp_plugin_list *scan_with(const char *dir, acp_config **cfg)
{
    *cfg = new_config();
    acp_error e = {0};
    cr_assert_eq(acp_config_add_plugin_dir(*cfg, dir, &e), ACP_OK);
    acp_plugin_list *list = NULL;
    cr_assert_eq(acp_plugins_scan(*cfg, &list, &e), ACP_OK, "%s", e.message);
    return list;
}

/* Whether p's file is in dir. */
static int in_dir(const acp_plugin_info *p, const char *dir)
{
    return strncmp(p->path, dir, strlen(dir)) == 0 && p->path[strlen(dir)] == '/';
}

Test(plugin_host, scan_never_loads_a_file_whose_name_is_invalid)
{
    acp_config *cfg;
    acp_plugin_list *list = scan_with(BADNAMES_DIR, &cfg);
    for (size_t i = 0; i < acp_plugin_list_count(list); i++) {
        const acp_plugin_info *p = acp_plugin_list_get(list, i);
        if (!in_dir(p, BADNAMES_DIR))
            continue;
        cr_expect_eq(p->status, ACP_LOAD, "%s listed as %s", p->path,
                     acp_status_name(p->status));
        cr_expect_neq(p->message[0], '\0', "%s refused without a message", p->path);
    }
    acp_plugin_list_free(list);
    acp_config_free(cfg);
    cr_assert_null(loaded_image(BADNAMES_DIR, "A"), "libacp_storage_A.so was loaded");
    cr_assert_null(loaded_image(BADNAMES_DIR, "x.so"), "libacp_storage_x.so.so was loaded");
}

/* The typed fixture's options as acp_plugins_scan hands them on (the probe
 * child packs them, the parent unpacks them); good has none. */
Test(plugin_host, scan_lists_the_typed_options_of_each_plugin)
{
    acp_config *cfg;
    acp_plugin_list *list = scan_with(FIXTURE_DIR, &cfg);
    const acp_plugin_info *typed = NULL, *good = NULL;
    for (size_t i = 0; i < acp_plugin_list_count(list); i++) {
        const acp_plugin_info *p = acp_plugin_list_get(list, i);
        if (!in_dir(p, FIXTURE_DIR))
            continue;
        if (strcmp(p->name, "typed") == 0)
            typed = p;
        else if (strcmp(p->name, "good") == 0)
            good = p;
    }
    cr_assert_not_null(typed);
    cr_assert_not_null(good);
    cr_expect_eq(good->n_options, 0);
    cr_expect_null(good->options);
    cr_assert_eq(typed->status, ACP_OK, "%s", typed->message);
    cr_assert_eq(typed->n_options, 8);
    static const char *const names[] = {"count", "flag", "level", "wait",
                                        "size", "label", "token", "create"};
    static const char *const types[] = {"integer", "boolean", "enum",   "duration",
                                        "size",    "string",  "string", "boolean"};
    for (size_t i = 0; i < 8; i++) {
        cr_expect_str_eq(typed->options[i].name, names[i]);
        cr_expect_str_eq(typed->options[i].type, types[i]);
        cr_expect_eq(typed->options[i].secret, i == 6, "%s", names[i]);
    }
    cr_expect_str_eq(typed->options[0].doc, "how many");
    cr_expect_null(typed->options[0].default_value);
    cr_expect_str_eq(typed->options[0].values, "");
    cr_expect_str_eq(typed->options[2].values, "low|high");
    cr_expect_str_eq(typed->options[2].default_value, "low");
    cr_expect_str_eq(typed->options[5].default_value, "dflt");
    cr_expect_str_eq(typed->options[6].doc, "a secret");
    acp_plugin_list_free(list);
    acp_config_free(cfg);
}

Test(plugin_host, uri_scheme_variant_selects_the_plugin_before_the_plus)
{
    acp_config *cfg = new_config();
    acp_error e = {0};
    cr_assert_eq(acp_config_parse_uri(cfg, "good+wal:", &e), ACP_OK, "%s", e.message);
    cr_assert_str_eq(acp_config_backend(cfg), "good");
    cr_assert_eq(acp_config_add_plugin_dir(cfg, FIXTURE_DIR, &e), ACP_OK);
    acp_store *store = NULL;
    cr_assert_eq(acp_store_open_config(cfg, &store, &e), ACP_OK, "%s", e.message);
    cr_assert_str_eq(acp_store_backend(store), "good");
    acp_store_close(store);
    acp_config_free(cfg);
}

Test(plugin_host, postgresql_scheme_loads_the_postgres_plugin)
{
    acp_config *cfg = new_config();
    acp_error e = {0};
    cr_assert_eq(acp_config_set_backend(cfg, "postgresql", &e), ACP_OK, "%s", e.message);
    cr_assert_str_eq(acp_config_backend(cfg), "postgres");
    cr_assert_eq(acp_config_parse_uri(cfg, "postgresql://localhost/acp", &e), ACP_OK, "%s",
                 e.message);
    cr_assert_str_eq(acp_config_backend(cfg), "postgres");
    /* ALIAS_DIR holds a fixture named postgres: it answers without a server. */
    cr_assert_eq(acp_config_add_plugin_dir(cfg, ALIAS_DIR, &e), ACP_OK);
    acp_store *store = NULL;
    cr_assert_eq(acp_store_open_config(cfg, &store, &e), ACP_OK, "%s", e.message);
    cr_assert_str_eq(acp_store_backend(store), "postgres");
    cr_assert_str_eq(acp_store_backend_version(store), "fixture-alias");
    acp_store_close(store);
    acp_config_free(cfg);
}

/* ------------------------------------------------------------------ */
/* Search path                                                          */
/* ------------------------------------------------------------------ */

Test(plugin_host, search_order_is_config_dirs_then_absolute_env_entries_then_install_dir)
{
    char c1[PATH_MAX], c2[PATH_MAX], e1[PATH_MAX], e2[PATH_MAX], env[4 * PATH_MAX];
    make_temp_dir(c1, sizeof c1);
    make_temp_dir(c2, sizeof c2);
    make_temp_dir(e1, sizeof e1);
    make_temp_dir(e2, sizeof e2);
    /* Relative and empty entries are ignored. */
    snprintf(env, sizeof env, "%s:relative/dir::%s:.:./x", e1, e2);
    cr_assert_eq(setenv(ENV_PATH, env, 1), 0);

    acp_config *cfg = new_config();
    acp_error e = {0};
    cr_assert_eq(acp_config_add_plugin_dir(cfg, c1, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_config_add_plugin_dir(cfg, c2, &e), ACP_OK, "%s", e.message);
    const char *want[] = {c1, c2, e1, e2, INSTALL_PLUGINDIR};
    for (size_t i = 0; i < 5; i++) {
        const char *got = acp_config_plugin_dir(cfg, i);
        cr_assert_not_null(got, "entry %zu missing", i);
        cr_assert_str_eq(got, want[i], "entry %zu", i);
    }
    cr_assert_null(acp_config_plugin_dir(cfg, 5), "extra entry: %s",
                   acp_config_plugin_dir(cfg, 5));

    /* Without a configuration: the environment, then the install dir. */
    cr_assert_str_eq(acp_config_plugin_dir(NULL, 0), e1);
    cr_assert_str_eq(acp_config_plugin_dir(NULL, 1), e2);
    cr_assert_str_eq(acp_config_plugin_dir(NULL, 2), INSTALL_PLUGINDIR);
    cr_assert_null(acp_config_plugin_dir(NULL, 3));
    acp_config_free(cfg);
    remove_tree(c1);
    remove_tree(c2);
    remove_tree(e1);
    remove_tree(e2);
}

/* The list follows the environment as the loader does on every open:
 * what it shows is what an open made now searches. */
Test(plugin_host, plugin_dirs_follow_the_environment_like_the_loader)
{
    cr_assert_eq(setenv(ENV_PATH, ALT_DIR, 1), 0);
    cr_assert_str_eq(acp_config_plugin_dir(NULL, 0), ALT_DIR);
    const char *kept = acp_config_plugin_dir(NULL, 0);
    acp_store *store = NULL;
    acp_error e = {0};
    cr_assert_eq(setenv(ENV_PATH, FIXTURE_DIR, 1), 0);
    cr_assert_str_eq(acp_config_plugin_dir(NULL, 0), FIXTURE_DIR);
    cr_assert_eq(acp_store_open("good:", &store, &e), ACP_OK, "%s", e.message);
    cr_assert_str_eq(acp_store_backend_version(store), "fixture", "opened from %s",
                     acp_config_plugin_dir(NULL, 0));
    acp_store_close(store);
    /* A string handed out earlier is still valid. */
    cr_assert_str_eq(kept, ALT_DIR);
}

Test(plugin_host, relative_plugin_dir_is_refused_as_invalid)
{
    acp_config *cfg = new_config();
    const char *const dirs[] = {"plugins", ".", "./plugins", "", "../x"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        acp_error e = {0};
        cr_expect_eq(acp_config_add_plugin_dir(cfg, dirs[i], &e), ACP_INVALID,
                     "add_plugin_dir(\"%s\")", dirs[i]);
    }
    acp_error e = {0};
    cr_expect_eq(acp_config_add_plugin_dir(cfg, NULL, &e), ACP_INVALID);
    acp_config_free(cfg);
}

Test(plugin_host, first_configured_directory_holding_the_plugin_wins)
{
    char empty[PATH_MAX];
    make_temp_dir(empty, sizeof empty);
    acp_config *cfg = config_for("good", empty);
    acp_error e = {0};
    cr_assert_eq(acp_config_add_plugin_dir(cfg, ALT_DIR, &e), ACP_OK);
    cr_assert_eq(acp_config_add_plugin_dir(cfg, FIXTURE_DIR, &e), ACP_OK);
    acp_store *store = NULL;
    cr_assert_eq(acp_store_open_config(cfg, &store, &e), ACP_OK, "%s", e.message);
    cr_assert_str_eq(acp_store_backend_version(store), "fixture-second");
    cr_assert_null(loaded_image(FIXTURE_DIR, "good"), "the later directory's copy was loaded");
    acp_store_close(store);
    acp_config_free(cfg);
    remove_tree(empty);
}

Test(plugin_host, configured_directories_come_before_the_environment)
{
    cr_assert_eq(setenv(ENV_PATH, FIXTURE_DIR, 1), 0);
    acp_config *cfg = config_for("good", ALT_DIR);
    acp_error e = {0};
    acp_store *store = NULL;
    cr_assert_eq(acp_store_open_config(cfg, &store, &e), ACP_OK, "%s", e.message);
    cr_assert_str_eq(acp_store_backend_version(store), "fixture-second");
    acp_store_close(store);
    acp_config_free(cfg);
}

Test(plugin_host, environment_entries_are_searched_in_order)
{
    char env[3 * PATH_MAX];
    snprintf(env, sizeof env, "relative:%s:%s", FIXTURE_DIR, ALT_DIR);
    cr_assert_eq(setenv(ENV_PATH, env, 1), 0);
    acp_store *store = NULL;
    acp_error e = {0};
    cr_assert_eq(acp_store_open("good:", &store, &e), ACP_OK, "%s", e.message);
    cr_assert_str_eq(acp_store_backend_version(store), "fixture");
    acp_store_close(store);
}

/*
 * DECOY_DIR holds a loadable libacp_storage_decoy.so and is the current
 * directory, and (set by CTest) LD_LIBRARY_PATH: neither the cwd, nor
 * relative entries of the environment, nor a bare file name handed to
 * dlopen may reach it.
 */
Test(plugin_host, plugin_in_the_current_directory_is_never_loaded)
{
    cr_assert_eq(chdir(DECOY_DIR), 0);
    cr_assert_eq(setenv(ENV_PATH, ".::./:decoy", 1), 0);
    acp_store *store = NULL;
    acp_error e = {0};
    acp_status st = acp_store_open("decoy:", &store, &e);
    cr_assert_eq(st, ACP_LOAD, "decoy: gave %s: %s", acp_status_name(st), e.message);
    assert_contains(e.message, "decoy");
    cr_assert_null(loaded_image(DECOY_DIR, "decoy"), "the decoy was loaded");
}

/* The control for the test above: the decoy does load from a proper path. */
Test(plugin_host, decoy_loads_from_an_absolute_environment_entry)
{
    cr_assert_eq(setenv(ENV_PATH, DECOY_DIR, 1), 0);
    acp_store *store = NULL;
    acp_error e = {0};
    cr_assert_eq(acp_store_open("decoy:", &store, &e), ACP_OK, "%s", e.message);
    acp_store_close(store);
}

Test(plugin_host, missing_plugin_message_names_the_backend_and_every_path_tried)
{
    char envdir[PATH_MAX], path[PATH_MAX];
    make_temp_dir(envdir, sizeof envdir);
    cr_assert_eq(setenv(ENV_PATH, envdir, 1), 0);
    acp_config *cfg = config_for("absent", FIXTURE_DIR);
    acp_error e = {0};
    cr_assert_eq(acp_config_add_plugin_dir(cfg, ALT_DIR, &e), ACP_OK);
    acp_store *store = NULL;
    cr_assert_eq(acp_store_open_config(cfg, &store, &e), ACP_LOAD, "%s", e.message);
    cr_assert_eq(e.code, ACP_LOAD);
    assert_contains(e.message, "absent");
    const char *dirs[] = {FIXTURE_DIR, ALT_DIR, envdir, INSTALL_PLUGINDIR};
    for (size_t i = 0; i < 4; i++) {
        plugin_file(path, sizeof path, dirs[i], "absent");
        assert_contains(e.message, path);
    }
    assert_contains_nocase(e.message, "hint");
    acp_config_free(cfg);
    remove_tree(envdir);
}

/* ------------------------------------------------------------------ */
/* Descriptor and dlopen refusals                                       */
/* ------------------------------------------------------------------ */

Test(plugin_host, newer_abi_minor_is_refused_with_both_versions_named)
{
    acp_error e = {0};
    refuse_fixture("newer_minor", &e);
    char plugin[32], host[32];
    snprintf(plugin, sizeof plugin, "%d.%d", ACP_PLUGIN_ABI_MAJOR, ACP_PLUGIN_ABI_MINOR + 1);
    snprintf(host, sizeof host, "%d.%d", ACP_PLUGIN_ABI_MAJOR, ACP_PLUGIN_ABI_MINOR);
    assert_contains(e.message, plugin);
    assert_contains(e.message, host);
}

/* The fixture's descriptor is 8 readable bytes (magic, major, minor) before
 * an unreadable page: reading any further field crashes this test. */
Test(plugin_host, other_abi_major_is_refused_from_the_header_alone_naming_the_major)
{
    acp_error e = {0};
    refuse_fixture("other_major", &e);
    char major[32], version[32];
    snprintf(major, sizeof major, "major %d", ACP_PLUGIN_ABI_MAJOR + 1);
    snprintf(version, sizeof version, "%d.0", ACP_PLUGIN_ABI_MAJOR + 1);
    cr_assert(strstr(e.message, major) || strstr(e.message, version),
              "message lacks the plugin's major: %s", e.message);
}

Test(plugin_host, bad_magic_is_refused_from_the_header_alone)
{
    acp_error e = {0};
    refuse_fixture("bad_magic", &e);
    assert_contains_nocase(e.message, "magic");
}

/* The fixture's bytes end where its declared size ends, at an unreadable
 * page: refusing it must not read past them. */
Test(plugin_host, truncated_descriptor_is_refused_by_its_size)
{
    acp_error e = {0};
    refuse_fixture("truncated", &e);
    char size[32];
    snprintf(size, sizeof size, "%zu", offsetof(acp_plugin_descriptor, vtable));
    assert_contains(e.message, size);
}

Test(plugin_host, other_pointer_size_is_refused)
{
    acp_error e = {0};
    refuse_fixture("bad_ptrsize", &e);
    assert_contains_nocase(e.message, "pointer");
}

Test(plugin_host, missing_entry_symbol_is_refused_naming_the_symbol)
{
    acp_error e = {0};
    refuse_fixture("no_entry", &e);
    assert_contains(e.message, "acp_storage_no_entry_plugin");
    /* dlerror()'s own text. */
    assert_contains(e.message, "undefined symbol");
}

Test(plugin_host, unresolved_symbol_is_refused_at_load_with_the_dlerror_text)
{
    acp_error e = {0};
    refuse_fixture("unresolved", &e);
    assert_contains(e.message, "undefined symbol: acp_fixture_symbol_nobody_defines");
}

Test(plugin_host, missing_dependency_library_is_named_in_the_message)
{
    acp_error e = {0};
    refuse_fixture("missing_dep", &e);
    assert_contains(e.message, "libacp_fixture_dep.so.1");
}

Test(plugin_host, descriptor_naming_another_backend_is_refused)
{
    acp_error e = {0};
    refuse_fixture("mismatch", &e);
    assert_contains(e.message, "someone_else");
}

Test(plugin_host, null_required_method_is_refused_at_load)
{
    acp_error e = {0};
    refuse_fixture("null_required", &e);
    assert_contains(e.message, "save_run");
}

Test(plugin_host, vtable_too_short_for_the_required_methods_is_refused)
{
    acp_error e = {0};
    refuse_fixture("short_vtable", &e);
    assert_contains_nocase(e.message, "vtable");
}

Test(plugin_host, null_vtable_is_refused)
{
    acp_error e = {0};
    refuse_fixture("null_vtable", &e);
    assert_contains_nocase(e.message, "vtable");
}

Test(plugin_host, refused_plugin_leaves_the_host_usable)
{
    acp_error e = {0};
    refuse_fixture("newer_minor", &e);
    refuse_fixture("newer_minor", &e);
    acp_store *store = must_open("good");
    cr_assert_eq(acp_store_ping(store, &e), ACP_OK, "%s", e.message);
    acp_store_close(store);
}

/* ------------------------------------------------------------------ */
/* Calling plugins                                                      */
/* ------------------------------------------------------------------ */

Test(plugin_host, null_optional_methods_load_and_answer_ok_and_unsupported)
{
    acp_store *store = must_open("no_optional");
    acp_error e = {0};
    cr_assert_eq(acp_store_ping(store, &e), ACP_OK, "%s", e.message);
    acp_page *page = (acp_page *)&page;
    acp_status st = acp_session_list(store, NULL, 10, &page, &e);
    cr_assert_eq(st, ACP_UNSUPPORTED, "session list gave %s", acp_status_name(st));
    cr_assert_eq(e.code, ACP_UNSUPPORTED);
    cr_assert_eq(page, (acp_page *)&page, "page set on failure");
    /* Required methods still work. */
    char doc[256];
    cr_assert_eq(acp_run_save(store, run_doc(doc, sizeof doc, "r1"), ACP_STRLEN, &e), ACP_OK,
                 "%s", e.message);
    char *json = NULL;
    cr_assert_eq(acp_run_get(store, "r1", &json, NULL, &e), ACP_OK, "%s", e.message);
    cr_assert_str_eq(json, doc);
    acp_free(json);
    acp_store_close(store);
}

/* ABI 1.0 had no list_sessions: the call must not look past vtable_size
 * (an unreadable page starts there) and answers UNSUPPORTED. */
Test(plugin_host, older_minor_plugin_loads_and_methods_it_lacks_answer_unsupported)
{
    acp_store *store = must_open("older_minor");
    acp_error e = {0};
    cr_assert_eq(acp_store_ping(store, &e), ACP_OK, "%s", e.message);
    acp_page *page = NULL;
    acp_status st = acp_session_list(store, NULL, 10, &page, &e);
    cr_assert_eq(st, ACP_UNSUPPORTED, "session list gave %s", acp_status_name(st));
    cr_assert_eq(acp_session_save(store, "{\"id\":\"s1\"}", ACP_STRLEN, &e), ACP_OK, "%s",
                 e.message);
    char *json = NULL;
    cr_assert_eq(acp_session_get(store, "s1", &json, NULL, &e), ACP_OK, "%s", e.message);
    acp_free(json);
    acp_store_close(store);
}

Test(plugin_host, out_of_range_status_becomes_plugin_error_naming_the_code)
{
    acp_store *store = must_open("bad_status");
    acp_error e = {0};
    cr_assert_eq(acp_store_ping(store, &e), ACP_PLUGIN);
    cr_assert_eq(e.code, ACP_PLUGIN);
    assert_contains(e.message, "99");

    memset(&e, 0, sizeof e);
    char *json = NULL;
    cr_assert_eq(acp_run_get(store, "r1", &json, NULL, &e), ACP_PLUGIN);
    cr_assert_null(json);
    assert_contains(e.message, "1000");
    acp_store_close(store);
}

/* Descriptor and vtable end at unreadable pages: any read past the sizes
 * the plugin declares crashes the test. */
Test(plugin_host, host_never_reads_past_the_declared_descriptor_and_vtable)
{
    acp_store *store = must_open("guarded");
    acp_error e = {0};
    char doc[256];
    cr_assert_eq(acp_store_ping(store, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_run_save(store, run_doc(doc, sizeof doc, "r1"), ACP_STRLEN, &e), ACP_OK,
                 "%s", e.message);
    char *json = NULL;
    cr_assert_eq(acp_run_get(store, "r1", &json, NULL, &e), ACP_OK, "%s", e.message);
    acp_free(json);
    acp_page *page = NULL;
    cr_assert_eq(acp_run_list(store, NULL, &page, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_page_count(page), 1);
    acp_page_free(page);
    cr_assert_eq(acp_session_save(store, "{\"id\":\"s1\"}", ACP_STRLEN, &e), ACP_OK, "%s",
                 e.message);
    cr_assert_eq(acp_session_get(store, "s1", &json, NULL, &e), ACP_OK, "%s", e.message);
    acp_free(json);
    cr_assert_eq(acp_session_list(store, NULL, 10, &page, &e), ACP_OK, "%s", e.message);
    acp_page_free(page);
    cr_assert_eq(acp_session_delete(store, "s1", &e), ACP_OK, "%s", e.message);
    int64_t seq = 0;
    cr_assert_eq(acp_event_add(store, "r1", "{\"type\":\"run.created\"}", ACP_STRLEN, &seq, &e),
                 ACP_OK, "%s", e.message);
    cr_assert_eq(seq, 1);
    cr_assert_eq(acp_event_list(store, "r1", NULL, &page, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_page_count(page), 1);
    acp_page_free(page);
    cr_assert_eq(acp_run_delete(store, "r1", &e), ACP_OK, "%s", e.message);
    acp_store_close(store);
}

/* ------------------------------------------------------------------ */
/* Lifetime and threads                                                 */
/* ------------------------------------------------------------------ */

Test(plugin_host, loaded_plugin_stays_loaded_after_its_last_store_closes)
{
    acp_store *store = must_open("good");
    acp_store_close(store);
    void *h = loaded_image(FIXTURE_DIR, "good");
    cr_assert_not_null(h, "the plugin was unloaded");
    dlclose(h);
    store = must_open("good");
    acp_store_close(store);
    cr_assert_eq(fixture_counter("good", "acp_fixture_init_count"), 1);
}

#define OPENERS 32

typedef struct opener {
    const acp_config *cfg;
    pthread_barrier_t *start;
    acp_store *store;
    acp_status st;
    acp_error err;
} opener;

static void *open_thread(void *arg)
{
    opener *o = arg;
    pthread_barrier_wait(o->start);
    o->st = acp_store_open_config(o->cfg, &o->store, &o->err);
    return NULL;
}

Test(plugin_host, thirty_two_threads_opening_cold_run_init_exactly_once, .timeout = 60)
{
    cr_assert_null(loaded_image(FIXTURE_DIR, "good"), "not cold");
    acp_config *cfg = config_for("good", FIXTURE_DIR);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, OPENERS);
    static opener o[OPENERS];
    pthread_t t[OPENERS];
    for (int i = 0; i < OPENERS; i++) {
        o[i] = (opener){.cfg = cfg, .start = &start};
        cr_assert_eq(pthread_create(&t[i], NULL, open_thread, &o[i]), 0);
    }
    for (int i = 0; i < OPENERS; i++)
        pthread_join(t[i], NULL);
    /* The fixture's open fails unless its init has finished. */
    for (int i = 0; i < OPENERS; i++)
        cr_expect_eq(o[i].st, ACP_OK, "thread %d: %s", i, o[i].err.message);
    cr_assert_eq(fixture_counter("good", "acp_fixture_init_count"), 1);
    cr_assert_eq(fixture_counter("good", "acp_fixture_open_count"), OPENERS);
    for (int i = 0; i < OPENERS; i++)
        if (o[i].st == ACP_OK)
            acp_store_close(o[i].store);
    pthread_barrier_destroy(&start);
    acp_config_free(cfg);
}

#define HAMMERS 16
#define HAMMER_ROUNDS 20

typedef struct hammer {
    acp_store *store;
    pthread_barrier_t *start;
    int id;
    int failures;
    acp_error first;
} hammer;

static void note(hammer *h, acp_status st, const acp_error *e)
{
    if (st != ACP_OK && h->failures++ == 0)
        h->first = *e;
}

static void *hammer_thread(void *arg)
{
    hammer *h = arg;
    char id[32], doc[256], *json;
    acp_error e;
    pthread_barrier_wait(h->start);
    for (int i = 0; i < HAMMER_ROUNDS; i++) {
        snprintf(id, sizeof id, "t%d-%d", h->id, i);
        note(h, acp_run_save(h->store, run_doc(doc, sizeof doc, id), ACP_STRLEN, &e), &e);
        json = NULL;
        acp_status st = acp_run_get(h->store, id, &json, NULL, &e);
        note(h, st, &e);
        acp_free(json);
        note(h, acp_event_add(h->store, id, "{\"type\":\"x\"}", ACP_STRLEN, NULL, &e), &e);
        note(h, acp_store_ping(h->store, &e), &e);
    }
    return NULL;
}

Test(plugin_host, non_concurrent_plugin_is_never_entered_by_two_threads_at_once,
     .timeout = 120)
{
    acp_store *store = must_open("good");
    cr_assert_eq(acp_store_capabilities(store) & ACP_CAP_CONCURRENT, 0);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, HAMMERS);
    static hammer h[HAMMERS];
    pthread_t t[HAMMERS];
    for (int i = 0; i < HAMMERS; i++) {
        h[i] = (hammer){.store = store, .start = &start, .id = i};
        cr_assert_eq(pthread_create(&t[i], NULL, hammer_thread, &h[i]), 0);
    }
    for (int i = 0; i < HAMMERS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < HAMMERS; i++)
        cr_expect_eq(h[i].failures, 0, "thread %d: %d failures, first: %s", i, h[i].failures,
                     h[i].first.message);
    cr_assert_eq(fixture_counter("good", "acp_fixture_max_inflight"), 1);
    pthread_barrier_destroy(&start);
    acp_store_close(store);
}

/* ------------------------------------------------------------------ */
/* Explicit plugin files                                                */
/* ------------------------------------------------------------------ */

Test(plugin_host, explicit_plugin_file_loads_exactly_that_file)
{
    char path[PATH_MAX];
    plugin_file(path, sizeof path, ALT_DIR, "good");
    /* FIXTURE_DIR has another "good": the explicit file must win. */
    acp_config *cfg = config_for("good", FIXTURE_DIR);
    acp_error e = {0};
    cr_assert_eq(acp_config_set_plugin_file(cfg, path, &e), ACP_OK, "%s", e.message);
    acp_store *store = NULL;
    cr_assert_eq(acp_store_open_config(cfg, &store, &e), ACP_OK, "%s", e.message);
    cr_assert_str_eq(acp_store_backend(store), "good");
    cr_assert_str_eq(acp_store_backend_version(store), "fixture-second");
    acp_store_close(store);
    acp_config_free(cfg);
}

Test(plugin_host, explicit_plugin_file_without_a_backend_name_loads)
{
    char path[PATH_MAX];
    plugin_file(path, sizeof path, FIXTURE_DIR, "good");
    acp_config *cfg = new_config();
    acp_error e = {0};
    cr_assert_eq(acp_config_set_plugin_file(cfg, path, &e), ACP_OK, "%s", e.message);
    acp_store *store = NULL;
    cr_assert_eq(acp_store_open_config(cfg, &store, &e), ACP_OK, "%s", e.message);
    cr_assert_str_eq(acp_store_backend(store), "good");
    acp_store_close(store);
    acp_config_free(cfg);
}

Test(plugin_host, relative_explicit_plugin_file_is_refused_as_invalid)
{
    acp_config *cfg = new_config();
    const char *const files[] = {"libacp_storage_good.so", "./libacp_storage_good.so",
                                 "fixtures/libacp_storage_good.so", ""};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        acp_error e = {0};
        cr_expect_eq(acp_config_set_plugin_file(cfg, files[i], &e), ACP_INVALID,
                     "set_plugin_file(\"%s\")", files[i]);
    }
    acp_config_free(cfg);
}

Test(plugin_host, explicit_plugin_file_of_another_backend_is_refused)
{
    char path[PATH_MAX];
    plugin_file(path, sizeof path, FIXTURE_DIR, "good");
    acp_config *cfg = config_for("memory", NULL);
    acp_error e = {0};
    cr_assert_eq(acp_config_set_plugin_file(cfg, path, &e), ACP_OK, "%s", e.message);
    acp_store *store = NULL;
    cr_assert_eq(acp_store_open_config(cfg, &store, &e), ACP_LOAD, "%s", e.message);
    assert_contains(e.message, path);
    assert_contains(e.message, "memory");
    acp_config_free(cfg);
}

Test(plugin_host, missing_explicit_plugin_file_is_refused_naming_it)
{
    char path[PATH_MAX];
    plugin_file(path, sizeof path, FIXTURE_DIR, "not_built");
    acp_config *cfg = config_for("not_built", NULL);
    acp_error e = {0};
    cr_assert_eq(acp_config_set_plugin_file(cfg, path, &e), ACP_OK, "%s", e.message);
    acp_store *store = NULL;
    cr_assert_eq(acp_store_open_config(cfg, &store, &e), ACP_LOAD, "%s", e.message);
    assert_contains(e.message, path);
    acp_config_free(cfg);
}

/* ------------------------------------------------------------------ */
/* Scanning                                                             */
/* ------------------------------------------------------------------ */

static const acp_plugin_info *find_info(const acp_plugin_list *list, const char *dir,
                                        const char *name)
{
    char path[PATH_MAX];
    plugin_file(path, sizeof path, dir, name);
    for (size_t i = 0; i < acp_plugin_list_count(list); i++) {
        const acp_plugin_info *p = acp_plugin_list_get(list, i);
        if (strcmp(p->path, path) == 0)
            return p;
    }
    cr_assert_fail("scan did not list %s", path);
    return NULL;
}

Test(plugin_host, scan_lists_every_plugin_file_with_its_status_and_reason, .timeout = 60)
{
    static const char *const loads[] = {"good",       "no_optional", "guarded",
                                        "bad_status", "exit_hooks",  "older_minor"};
    static const char *const refused[] = {
        "newer_minor", "other_major", "bad_magic",     "truncated",    "bad_ptrsize",
        "no_entry",    "unresolved",  "missing_dep",   "mismatch",     "null_required",
        "short_vtable", "null_vtable"};
    acp_config *cfg = new_config();
    acp_error e = {0};
    cr_assert_eq(acp_config_add_plugin_dir(cfg, FIXTURE_DIR, &e), ACP_OK);
    acp_plugin_list *list = NULL;
    cr_assert_eq(acp_plugins_scan(cfg, &list, &e), ACP_OK, "%s", e.message);

    for (size_t i = 0; i < sizeof loads / sizeof loads[0]; i++) {
        const acp_plugin_info *p = find_info(list, FIXTURE_DIR, loads[i]);
        cr_expect_eq(p->status, ACP_OK, "%s: %s", loads[i], p->message);
        cr_expect_str_eq(p->name, loads[i]);
        cr_expect_str_eq(p->message, "");
        cr_expect_str_eq(p->version, "fixture");
        cr_expect_str_eq(p->description, "loader test fixture");
        cr_expect_eq(p->abi_major, ACP_PLUGIN_ABI_MAJOR);
        cr_expect_eq(p->abi_minor, strcmp(loads[i], "older_minor") ? ACP_PLUGIN_ABI_MINOR : 0);
        cr_expect_eq(p->shadowed, 0);
    }
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        const acp_plugin_info *p = find_info(list, FIXTURE_DIR, refused[i]);
        cr_expect_eq(p->status, ACP_LOAD, "%s listed as %s", refused[i],
                     acp_status_name(p->status));
        cr_expect_str_eq(p->name, refused[i]);
        cr_expect_neq(p->message[0], '\0', "%s refused without a message", refused[i]);
        cr_expect_str_eq(p->version, "");
        cr_expect_str_eq(p->description, "");
    }
    /* A refusal by version still reports the version it read. */
    const acp_plugin_info *p = find_info(list, FIXTURE_DIR, "newer_minor");
    cr_expect_eq(p->abi_major, ACP_PLUGIN_ABI_MAJOR, "scan did not report the major");
    cr_expect_eq(p->abi_minor, ACP_PLUGIN_ABI_MINOR + 1, "scan did not report the minor");
    p = find_info(list, FIXTURE_DIR, "other_major");
    cr_expect_eq(p->abi_major, ACP_PLUGIN_ABI_MAJOR + 1, "scan did not report the major");
    /* Every entry is a loaded or refused plugin file of a search dir. */
    for (size_t i = 0; i < acp_plugin_list_count(list); i++) {
        p = acp_plugin_list_get(list, i);
        cr_expect(p->status == ACP_OK || p->status == ACP_LOAD, "%s: %s", p->path,
                  acp_status_name(p->status));
        cr_expect_not_null(strstr(p->path, "/libacp_storage_"), "%s", p->path);
    }
    cr_assert_null(acp_plugin_list_get(list, acp_plugin_list_count(list)));
    acp_plugin_list_free(list);
    acp_config_free(cfg);
}

Test(plugin_host, scan_marks_a_plugin_shadowed_by_an_earlier_directory)
{
    acp_config *cfg = new_config();
    acp_error e = {0};
    cr_assert_eq(acp_config_add_plugin_dir(cfg, FIXTURE_DIR, &e), ACP_OK);
    cr_assert_eq(acp_config_add_plugin_dir(cfg, ALT_DIR, &e), ACP_OK);
    acp_plugin_list *list = NULL;
    cr_assert_eq(acp_plugins_scan(cfg, &list, &e), ACP_OK, "%s", e.message);
    cr_expect_eq(find_info(list, FIXTURE_DIR, "good")->shadowed, 0);
    cr_expect_eq(find_info(list, ALT_DIR, "good")->shadowed, 1);
    acp_plugin_list_free(list);
    acp_config_free(cfg);
}

/* ------------------------------------------------------------------ */
/* Search path honesty                                                  */
/* ------------------------------------------------------------------ */

/* A link named for backend "impostor" to the loaded "good" plugin: the
 * loader's same-file shortcut must not hand out "good" as "impostor". */
Test(plugin_host, link_to_a_loaded_plugin_under_another_name_is_refused)
{
    acp_store *good = must_open("good");
    char dir[PATH_MAX], link[PATH_MAX], target[PATH_MAX];
    make_temp_dir(dir, sizeof dir);
    plugin_file(link, sizeof link, dir, "impostor");
    plugin_file(target, sizeof target, FIXTURE_DIR, "good");
    cr_assert_eq(symlink(target, link), 0, "symlink: %s", strerror(errno));
    acp_config *cfg = config_for("impostor", dir);
    acp_store *store = NULL;
    acp_error e = {0};
    acp_status st = acp_store_open_config(cfg, &store, &e);
    cr_assert_eq(st, ACP_LOAD, "the link opened as %s (%s)",
                 st == ACP_OK ? acp_store_backend(store) : acp_status_name(st), e.message);
    assert_contains(e.message, "'good'");
    assert_contains(e.message, "impostor");
    /* The link named for the plugin it points at is the same plugin. */
    acp_config_free(cfg);
    plugin_file(link, sizeof link, dir, "good");
    cr_assert_eq(symlink(target, link), 0);
    cfg = config_for("good", dir);
    cr_assert_eq(acp_store_open_config(cfg, &store, &e), ACP_OK, "%s", e.message);
    cr_assert_str_eq(acp_store_backend(store), "good");
    acp_store_close(store);
    acp_store_close(good);
    acp_config_free(cfg);
    remove_tree(dir);
}

/* A missing plugin whose directory was given relative: the hint names
 * that entry, not "add the directory" (the user did). */
Test(plugin_host, missing_plugin_hint_names_an_ignored_relative_entry)
{
    cr_assert_eq(setenv(ENV_PATH, "/nonexistent-acp:build/plugins", 1), 0);
    acp_store *store = NULL;
    acp_error e = {0};
    cr_assert_eq(acp_store_open("absent_x:", &store, &e), ACP_LOAD, "%s", e.message);
    assert_contains(e.message, "'build/plugins' was ignored because it is relative");
    cr_assert_null(strstr(e.message, "install the plugin"), "%s", e.message);
    cr_assert_eq(setenv(ENV_PATH, "/nonexistent-acp", 1), 0);
    cr_assert_eq(acp_store_open("absent_x:", &store, &e), ACP_LOAD, "%s", e.message);
    cr_assert_null(strstr(e.message, "relative"), "%s", e.message);
}

/* Crashing plugins: listed with their signal, not fatal to the caller. */
Test(plugin_host, scan_reports_a_plugin_crashing_in_entry_or_init)
{
    acp_config *cfg = new_config();
    acp_error e = {0};
    cr_assert_eq(acp_config_add_plugin_dir(cfg, CRASH_DIR, &e), ACP_OK);
    cr_assert_eq(acp_config_add_plugin_dir(cfg, FIXTURE_DIR, &e), ACP_OK);
    acp_plugin_list *list = NULL;
    cr_assert_eq(acp_plugins_scan(cfg, &list, &e), ACP_OK, "%s", e.message);
    int crashed = 0, good = 0;
    for (size_t i = 0; i < acp_plugin_list_count(list); i++) {
        const acp_plugin_info *p = acp_plugin_list_get(list, i);
        if (!strncmp(p->name, "crash_", 6)) {
            cr_expect_eq(p->status, ACP_LOAD, "%s", p->path);
            cr_expect_eq(p->crash_signal, SIGSEGV, "%s: signal %d", p->path, p->crash_signal);
            assert_contains(p->message, "SIGSEGV");
            crashed++;
        }
        if (!strcmp(p->name, "good")) {
            cr_expect_eq(p->status, ACP_OK, "%s", p->message);
            cr_expect_eq(p->crash_signal, 0);
            good++;
        }
    }
    cr_assert_eq(crashed, 2);
    cr_assert_eq(good, 1);
    acp_plugin_list_free(list);
    acp_config_free(cfg);
}
