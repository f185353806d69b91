/* SPDX-License-Identifier: MIT */
/*
 * test_s3.c - what only the s3 backend promises, against a real S3 server
 * (@20minutes/s3rver, signatures checked): credentials from each source and
 * clear errors naming the cause when they are wrong, secrets redacted,
 * UNAVAILABLE when the server dies in the middle of a call and recovery
 * once it is back, retries within the call's deadline, the capabilities it
 * declares.  Tests that stop or kill a server start a private one (its own
 * state folder, fixed port, through s3-server.sh).
 *
 * No Criterion .timeout (see tests/redis/test_redis.c): CTest bounds it.
 */
#define _GNU_SOURCE

#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "acp_storage.h"
#include "acp_storage_plugin.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot read %s: %s", path, strerror(errno));
    char buf[512];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    return strdup(buf);
}

static const char *env(const char *name)
{
    const char *s = getenv(name);
    cr_assert(s, "%s is not set (run through ctest: tests/s3/with-server.sh)", name);
    return s;
}

/* A fresh prefix per test, so that tests never see each other's data. */
static char *uri_with(const char *endpoint, const char *extra)
{
    static int n;
    char *u = NULL;
    cr_assert(asprintf(&u, "s3://acp-test/test-s3/%d-%d-%ld?endpoint=%s%s", (int)getpid(), ++n,
                       (long)time(NULL), endpoint, extra) > 0);
    return u;
}

#define CREDS "&access_key_id=S3RVER&secret_access_key=S3RVER"

static acp_store *open_ok(const char *uri)
{
    acp_store *s = NULL;
    acp_error e;
    acp_status st = acp_store_open(uri, &s, &e);
    cr_assert_eq(st, ACP_OK, "open: %s: %s", acp_status_name(st), e.message);
    return s;
}

static void save_run(acp_store *s, const char *id)
{
    char doc[256];
    snprintf(doc, sizeof doc,
             "{\"run_id\":\"%s\",\"agent_name\":\"a\",\"status\":\"created\","
             "\"created_at\":\"2025-06-01T12:00:00Z\"}", id);
    acp_error e;
    acp_status st = acp_run_save(s, doc, ACP_STRLEN, &e);
    cr_assert_eq(st, ACP_OK, "save %s: %s: %s", id, acp_status_name(st), e.message);
}

static void expect_run(acp_store *s, const char *id)
{
    char *json = NULL;
    size_t len;
    acp_error e;
    acp_status st = acp_run_get(s, id, &json, &len, &e);
    cr_assert_eq(st, ACP_OK, "get %s: %s: %s", id, acp_status_name(st), e.message);
    cr_assert(strstr(json, id));
    acp_free(json);
}

/* ---- credentials ---- */

Test(s3, wrong_secret_is_a_clear_signature_error_without_the_secret)
{
    char *u = uri_with(env("ACP_S3_ENDPOINT"),
                       "&access_key_id=S3RVER&secret_access_key=not-the-S3RVER-secret");
    acp_store *s = NULL;
    acp_error e;
    acp_status st = acp_store_open(u, &s, &e);
    cr_assert_eq(st, ACP_INVALID, "a wrong secret gave %s: %s", acp_status_name(st), e.message);
    cr_assert(strstr(e.message, "SignatureDoesNotMatch"), "message: %s", e.message);
    cr_assert(strstr(e.message, "secret access key does not match"), "message: %s", e.message);
    cr_assert(!strstr(e.message, "not-the-S3RVER-secret"), "the secret is printed: %s",
              e.message);
    free(u);
}

Test(s3, unknown_access_key_is_named)
{
    char *u = uri_with(env("ACP_S3_ENDPOINT"), "&access_key_id=NOBODY&secret_access_key=x");
    acp_store *s = NULL;
    acp_error e;
    acp_status st = acp_store_open(u, &s, &e);
    cr_assert_eq(st, ACP_INVALID, "%s: %s", acp_status_name(st), e.message);
    cr_assert(strstr(e.message, "InvalidAccessKeyId"), "message: %s", e.message);
    cr_assert(strstr(e.message, "does not know this access key id"), "message: %s", e.message);
    free(u);
}

Test(s3, missing_bucket_is_not_found)
{
    char *u = NULL;
    cr_assert(asprintf(&u, "s3://no-such-bucket/x?endpoint=%s" CREDS, env("ACP_S3_ENDPOINT")) > 0);
    acp_store *s = NULL;
    acp_error e;
    acp_status st = acp_store_open(u, &s, &e);
    cr_assert_eq(st, ACP_NOT_FOUND, "%s: %s", acp_status_name(st), e.message);
    cr_assert(strstr(e.message, "NoSuchBucket"), "message: %s", e.message);
    free(u);
}

Test(s3, credentials_from_the_environment)
{
    setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
    char *u = uri_with(env("ACP_S3_ENDPOINT"), "");
    acp_store *s = open_ok(u);
    save_run(s, "from-env");
    expect_run(s, "from-env");
    acp_store_close(s);
    setenv("AWS_SECRET_ACCESS_KEY", "wrong", 1);
    acp_error e;
    cr_assert_eq(acp_store_open(u, &s, &e), ACP_INVALID, "a wrong secret in the environment");
    cr_assert(strstr(e.message, "environment"), "message names the source: %s", e.message);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    free(u);
}

Test(s3, credentials_from_a_shared_file_and_profile)
{
    unsetenv("AWS_ACCESS_KEY_ID");
    char path[] = "/tmp/acp-s3-credentials-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    const char *ini = "[default]\naws_access_key_id = NOBODY\naws_secret_access_key = x\n\n"
                      "[tests]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n";
    cr_assert_eq(write(fd, ini, strlen(ini)), (ssize_t)strlen(ini));
    close(fd);
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    char *u = uri_with(env("ACP_S3_ENDPOINT"), "&profile=tests");
    acp_store *s = open_ok(u);
    save_run(s, "from-file");
    acp_store_close(s);
    free(u);
    /* AWS_PROFILE names the profile when the option does not. */
    setenv("AWS_PROFILE", "tests", 1);
    u = uri_with(env("ACP_S3_ENDPOINT"), "");
    acp_store_close(open_ok(u));
    free(u);
    unsetenv("AWS_PROFILE");
    /* The default profile holds an unknown key. */
    u = uri_with(env("ACP_S3_ENDPOINT"), "");
    acp_error e;
    cr_assert_eq(acp_store_open(u, &s, &e), ACP_INVALID);
    cr_assert(strstr(e.message, "InvalidAccessKeyId"), "message: %s", e.message);
    free(u);
    u = uri_with(env("ACP_S3_ENDPOINT"), "&profile=absent");
    cr_assert_eq(acp_store_open(u, &s, &e), ACP_INVALID);
    cr_assert(strstr(e.message, "profile 'absent'"), "message: %s", e.message);
    free(u);
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    unlink(path);
}

Test(s3, no_credentials_anywhere_is_invalid)
{
    unsetenv("AWS_ACCESS_KEY_ID");
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/acp-s3-credentials", 1);
    char *u = uri_with(env("ACP_S3_ENDPOINT"), "");
    acp_store *s = NULL;
    acp_error e;
    cr_assert_eq(acp_store_open(u, &s, &e), ACP_INVALID);
    cr_assert(strstr(e.message, "no credentials"), "message: %s", e.message);
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    free(u);
}

Test(s3, secret_options_are_redacted)
{
    acp_config *c = NULL;
    acp_error e;
    cr_assert_eq(acp_config_new(&c, &e), ACP_OK);
    cr_assert_eq(acp_config_parse_uri(c, "s3://b/p?endpoint=http://127.0.0.1:1&access_key_id=AK"
                                         "&secret_access_key=SECRET1&session_token=TOKEN1", &e),
                 ACP_OK, "%s", e.message);
    char *r = acp_config_redacted_uri(c);
    cr_assert(r);
    cr_assert(!strstr(r, "SECRET1") && !strstr(r, "TOKEN1"), "not redacted: %s", r);
    cr_assert(strstr(r, "secret_access_key=***") && strstr(r, "session_token=***"), "%s", r);
    acp_free(r);
    acp_config_free(c);
}

Test(s3, bad_options_are_invalid)
{
    static const char *const bad[] = {
        "s3:///p?endpoint=http://127.0.0.1:1" CREDS,            /* no bucket */
        "s3://b/p?endpoint=ftp://127.0.0.1:1" CREDS,            /* not http */
        "s3://b/p?endpoint=http://127.0.0.1:1/path" CREDS,      /* a path */
        "s3://b/p?endpoint=http://127.0.0.1:1&addressing=x" CREDS,
        "s3://b/p?endpoint=http://127.0.0.1:1&timeout_ms=0" CREDS,
        "s3://b/p?endpoint=http://127.0.0.1:1&retries=-1" CREDS,
        "s3://b/p?endpoint=http://127.0.0.1:1&access_key_id=x", /* no secret */
        "s3://b/p?endpoint=http://127.0.0.1:1&colour=blue" CREDS,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        acp_store *s = NULL;
        acp_error e;
        acp_status st = acp_store_open(bad[i], &s, &e);
        cr_expect_eq(st, ACP_INVALID, "%s gave %s: %s", bad[i], acp_status_name(st), e.message);
    }
}

Test(s3, declares_durable_concurrent_network_but_not_multiprocess)
{
    char *u = uri_with(env("ACP_S3_ENDPOINT"), CREDS);
    acp_store *s = open_ok(u);
    uint64_t caps = acp_store_capabilities(s);
    cr_assert(caps & ACP_CAP_DURABLE);
    cr_assert(caps & ACP_CAP_CONCURRENT);
    cr_assert(caps & ACP_CAP_NETWORK);
    /* The servers it is tested on ignore conditional writes (README.md). */
    cr_assert(!(caps & ACP_CAP_MULTIPROCESS));
    cr_assert_str_eq(acp_store_backend(s), "s3");
    acp_store_close(s);
    free(u);
}

/* ---- a private server that the test stops, kills and restarts ---- */

typedef struct server {
    char state[256];
    char endpoint[64];
    int port;
} server;

static void server_cmd(server *sv, const char *cmd, int port)
{
    char line[1024];
    snprintf(line, sizeof line, "'%s/s3-server.sh' %s '%s' %d >/dev/null", env("ACP_S3_SCRIPTS"),
             cmd, sv->state, port);
    cr_assert_eq(system(line), 0, "%s failed", line);
}

static void server_start(server *sv)
{
    snprintf(sv->state, sizeof sv->state, "%s/private-%d-%ld", env("ACP_S3_STATE"), (int)getpid(),
             (long)time(NULL));
    server_cmd(sv, "start", 0);
    char path[512];
    snprintf(path, sizeof path, "%s/port", sv->state);
    char *p = slurp(path);
    sv->port = atoi(p);
    free(p);
    snprintf(sv->endpoint, sizeof sv->endpoint, "http://127.0.0.1:%d", sv->port);
}

static pid_t server_pid(server *sv)
{
    char path[512];
    snprintf(path, sizeof path, "%s/pid", sv->state);
    char *p = slurp(path);
    pid_t pid = (pid_t)atoi(p);
    free(p);
    return pid;
}

/* "remove" also deletes the objects the server kept under /dev/shm
 * (s3-server.sh), which removing the state folder alone left behind. */
static void server_remove(server *sv)
{
    server_cmd(sv, "remove", 0);
}

/* A store on endpoint whose calls each have a deadline of ms. */
static acp_store *open_with_deadline(const char *endpoint, int64_t ms)
{
    char *u = uri_with(endpoint, CREDS);
    acp_config *c;
    acp_error e;
    cr_assert_eq(acp_config_new(&c, &e), ACP_OK);
    cr_assert_eq(acp_config_parse_uri(c, u, &e), ACP_OK, "%s", e.message);
    cr_assert_eq(acp_config_set_timeout_ms(c, ms, &e), ACP_OK);
    acp_store *s;
    cr_assert_eq(acp_store_open_config(c, &s, &e), ACP_OK, "%s", e.message);
    acp_config_free(c);
    free(u);
    return s;
}

typedef struct call_arg {
    acp_store *s;
    acp_status st;
    acp_error e;
} call_arg;

static void *get_in_thread(void *p)
{
    call_arg *a = p;
    char *json = NULL;
    size_t len;
    a->st = acp_run_get(a->s, "before", &json, &len, &a->e);
    acp_free(json);
    return NULL;
}

Test(s3, server_killed_mid_call_is_unavailable_then_recovers)
{
    server sv;
    server_start(&sv);
    acp_error e;
    acp_store *s = open_with_deadline(sv.endpoint, 3000);
    save_run(s, "before");

    /* The server hangs (stopped), a call goes out, and the server is then
     * killed: the call was in flight when it died. */
    pid_t pid = server_pid(&sv);
    cr_assert_eq(kill(pid, SIGSTOP), 0);
    call_arg a = {.s = s};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, get_in_thread, &a), 0);
    usleep(300 * 1000);
    cr_assert_eq(kill(pid, SIGKILL), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_join(t, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cr_assert_eq(a.st, ACP_UNAVAILABLE, "a call to a killed server gave %s: %s",
                 acp_status_name(a.st), a.e.message);
    cr_assert(strstr(a.e.message, "cannot reach"), "message: %s", a.e.message);
    /* Within the call's deadline (3 s), with a margin for the scheduler. */
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_assert(took < 4.0, "the call took %.1f s past a 3 s deadline", took);

    /* Down: every call is UNAVAILABLE, quickly, and nothing is lost. */
    char *json;
    size_t len;
    cr_assert_eq(acp_run_get(s, "before", &json, &len, &e), ACP_UNAVAILABLE, "%s", e.message);
    cr_assert_eq(acp_store_ping(s, &e), ACP_UNAVAILABLE, "%s", e.message);

    /* Back on the same port with the same data: the same handle works. */
    server_cmd(&sv, "start", sv.port);
    expect_run(s, "before");
    save_run(s, "after");
    expect_run(s, "after");
    cr_assert_eq(acp_store_ping(s, &e), ACP_OK, "%s", e.message);
    acp_store_close(s);
    server_remove(&sv);
}

typedef struct restart_arg {
    server *sv;
    int delay_ms;
} restart_arg;

static void *restart_later(void *p)
{
    restart_arg *r = p;
    usleep((useconds_t)r->delay_ms * 1000);
    server_cmd(r->sv, "start", r->sv->port);
    return NULL;
}

Test(s3, a_call_retries_until_the_server_is_back_within_its_deadline)
{
    server sv;
    server_start(&sv);
    acp_error e;
    acp_store *s = open_with_deadline(sv.endpoint, 20000);
    save_run(s, "kept");
    server_cmd(&sv, "stop", 0);
    /* Refused connections are retried with backoff: the server comes back
     * a second later, well within the 20 s deadline, and the call works. */
    restart_arg r = {&sv, 1000};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, restart_later, &r), 0);
    char *json = NULL;
    size_t len;
    acp_status st = acp_run_get(s, "kept", &json, &len, &e);
    pthread_join(t, NULL);
    cr_assert_eq(st, ACP_OK, "%s: %s", acp_status_name(st), e.message);
    acp_free(json);
    acp_store_close(s);
    server_remove(&sv);
}
