/* SPDX-License-Identifier: MIT */
/*
 * test_profile.c - acp_config_load_profile() and acp_config_file_default()
 * through the library: which file and profile are read, that a failure
 * leaves the configuration as it was, and that a password read from a file
 * is used but never shown.  (config_test.sh drives the same through the
 * command, with servers.)
 */
#define _XOPEN_SOURCE 700

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acp_storage.h"

/* Every test works in a folder of its own, removed file by file. */
static char dir[] = "/tmp/acp-profile-XXXXXX";
static char conf[160], pwfile[160];

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
    snprintf(conf, sizeof conf, "%s/config", dir);
    snprintf(pwfile, sizeof pwfile, "%s/pw", dir);
}

static void teardown(void)
{
    unlink(conf);
    unlink(pwfile);
    cr_expect_eq(rmdir(dir), 0, "a test left a file in %s", dir);
}

TestSuite(profile, .init = setup, .fini = teardown);

static void write_file(const char *path, mode_t mode, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    cr_assert_eq(chmod(path, mode), 0);
}

static acp_config *memory_config(void)
{
    acp_config *cfg;
    acp_error e;
    cr_assert_eq(acp_config_new(&cfg, &e), ACP_OK);
    cr_assert_eq(acp_config_parse_uri(cfg, "memory:", &e), ACP_OK);
    return cfg;
}

/* The configuration as a redacted URI, to compare. */
static char *shown(const acp_config *cfg)
{
    char *u = acp_config_redacted_uri(cfg);
    cr_assert_not_null(u);
    return u;
}

/* Profile name of conf, loaded into a fresh configuration, reads back as
 * the (redacted) URI expected. */
static void expect_profile_uri(const char *name, const char *expected)
{
    acp_config *cfg = memory_config();
    acp_error e;
    cr_assert_eq(acp_config_load_profile(cfg, name, conf, &e), ACP_OK, "%s", e.message);
    char *u = shown(cfg);
    cr_expect_str_eq(u, expected);
    acp_free(u);
    acp_config_free(cfg);
}

Test(profile, the_default_file_follows_xdg_config_home_then_home)
{
    setenv("XDG_CONFIG_HOME", "/x/conf", 1);
    setenv("HOME", "/home/ann", 1);
    char *p = acp_config_file_default();
    cr_expect_str_eq(p, "/x/conf/acp-storage/config");
    acp_free(p);
    setenv("XDG_CONFIG_HOME", "relative", 1); /* not absolute: ignored */
    p = acp_config_file_default();
    cr_expect_str_eq(p, "/home/ann/.config/acp-storage/config");
    acp_free(p);
    unsetenv("XDG_CONFIG_HOME");
    setenv("HOME", "", 1);
    cr_expect_null(acp_config_file_default());
}

Test(profile, a_profile_replaces_the_store_and_keeps_nothing_of_the_old_one)
{
    write_file(conf, 0600,
               "[profile a]\nuri = sqlite:/srv/a.db?busy_timeout=10\nsynchronous = full\n"
               "[default]\nbackend = file\npath = /srv/files\n");
    expect_profile_uri("a", "sqlite:/srv/a.db?busy_timeout=10&synchronous=full");
    acp_config *cfg = memory_config();
    acp_error e;
    /* name NULL: $ACP_STORAGE_PROFILE, else "default". */
    unsetenv("ACP_STORAGE_PROFILE");
    cr_assert_eq(acp_config_load_profile(cfg, NULL, conf, &e), ACP_OK, "%s", e.message);
    cr_expect_str_eq(acp_config_backend(cfg), "file");
    setenv("ACP_STORAGE_PROFILE", "a", 1);
    cr_assert_eq(acp_config_load_profile(cfg, NULL, conf, &e), ACP_OK, "%s", e.message);
    cr_expect_str_eq(acp_config_backend(cfg), "sqlite");
    unsetenv("ACP_STORAGE_PROFILE");
    acp_config_free(cfg);
}

Test(profile, a_failure_leaves_the_configuration_as_it_was)
{
    acp_config *cfg = memory_config();
    char *before = shown(cfg);
    acp_error e;
    /* Missing file, missing profile, a bad line after the profile, a bad value. */
    cr_expect_eq(acp_config_load_profile(cfg, "a", conf, &e), ACP_NOT_FOUND);
    write_file(conf, 0600, "[profile a]\nuri = sqlite:/srv/a.db\n[profile b]\nuri = x\n");
    cr_expect_eq(acp_config_load_profile(cfg, "c", conf, &e), ACP_NOT_FOUND);
    cr_expect(strstr(e.message, "(profiles: a b)"), "%s", e.message);
    write_file(conf, 0600, "[profile a]\nuri = sqlite:/srv/a.db\n[profile b]\nbroken\n");
    cr_expect_eq(acp_config_load_profile(cfg, "a", conf, &e), ACP_INVALID);
    cr_expect(strstr(e.message, ":4: "), "%s", e.message);
    write_file(conf, 0600, "[profile a]\nuri = sqlite:/srv/a.db\ntimeout = -1\n");
    cr_expect_eq(acp_config_load_profile(cfg, "a", conf, &e), ACP_INVALID);
    cr_expect(strstr(e.message, ":3: timeout"), "%s", e.message);
    char *after = shown(cfg);
    cr_expect_str_eq(after, before);
    acp_free(before);
    acp_free(after);
    acp_config_free(cfg);
}

Test(profile, a_password_file_sets_the_password_which_is_never_shown)
{
    static const char pw[] = "Very$ecret-1";
    char text[600];
    write_file(pwfile, 0600, "Very$ecret-1\r\n");
    snprintf(text, sizeof text,
             "[profile pg]\nuri = postgres://acp@db1/acp?schema=s\npassword_file = %s\n", pwfile);
    write_file(conf, 0600, text);
    expect_profile_uri("pg", "postgres://acp@db1/acp?schema=s&password=***");

    /* Every refusal names the file, never its content. */
    acp_config *cfg = memory_config();
    acp_error e;
    write_file(pwfile, 0604, "Very$ecret-1\n");
    cr_expect_eq(acp_config_load_profile(cfg, "pg", conf, &e), ACP_INVALID);
    cr_expect(strstr(e.message, pwfile), "%s", e.message);
    cr_expect_null(strstr(e.message, pw), "%s", e.message);
    write_file(pwfile, 0600, "Very$ecret-1\nsecond line\n");
    cr_expect_eq(acp_config_load_profile(cfg, "pg", conf, &e), ACP_INVALID);
    cr_expect_null(strstr(e.message, pw), "%s", e.message);
    cr_expect_str_eq(acp_config_backend(cfg), "memory");
    acp_config_free(cfg);
}

Test(profile, a_config_file_others_may_change_is_refused)
{
    write_file(conf, 0666, "[profile a]\nuri = memory:\n");
    acp_config *cfg = memory_config();
    acp_error e;
    cr_expect_eq(acp_config_load_profile(cfg, "a", conf, &e), ACP_INVALID);
    cr_expect(strstr(e.message, "mode 666"), "%s", e.message);
    cr_expect_eq(acp_config_load_profile(NULL, "a", conf, &e), ACP_INVALID);
    acp_config_free(cfg);
}
