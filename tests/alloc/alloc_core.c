/* SPDX-License-Identifier: MIT */
/*
 * alloc_core.c - allocation failure, point by point, in the parts of the
 * core that need no store: the configuration (URI parser, options, plugin
 * directories, redaction), the plugin scan and the typed layer.
 *
 * As in alloc_store.c: for n = 1, 2, ... a forked child fails the n-th
 * allocation (once, or from then on), runs the sequence below, and the
 * call that meets the failure must return ACP_NOMEM with a message (a
 * function returning a string returns NULL), or succeed.  A failed call
 * must leave its object as it was (compared through the public API,
 * while failmalloc is held) and succeed when retried.  Warm passes (forked
 * after one unarmed sequence) also compare the number of live blocks
 * before and after.
 */
#define _GNU_SOURCE

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acp_storage.h"
#include "alloc_driver.h"
#include "failmalloc.h"


typedef struct objs {
    acp_config *cfg;
    acp_run *run, *parsed;
    acp_message *msg, *copy;
    acp_session *sess;
    acp_event *ev;
    acp_plugin_list *plugins;
    char *text; /* the last string a step produced */
} objs;

static char what_failed[4096];

static acp_status wrong(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static acp_status wrong(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what_failed, sizeof what_failed, fmt, ap);
    va_end(ap);
    return ACP_PLUGIN;
}

static void set_text(objs *o, char *t)
{
    acp_free(o->text);
    o->text = t;
}

/* ---- steps ----------------------------------------------------------------- */

static const char URI[] = "postgresql://alice:s3cret@127.0.0.1:5432/acp%20db?"
                          "password=hunter2&connect_timeout=5&application_name=a+b%2Fc";

static acp_status s_config_new(objs *o, acp_error *e)
{
    return acp_config_new(&o->cfg, e);
}

static acp_status s_parse_uri(objs *o, acp_error *e)
{
    return acp_config_parse_uri(o->cfg, URI, e);
}

static acp_status s_parse_uri_again(objs *o, acp_error *e)
{
    /* Replaces everything parsed before. */
    return acp_config_parse_uri(o->cfg, "sqlite+wal:///var/lib/acp/acp.db?busy_timeout=100&"
                                         "mode=rw&synchronous=full", e);
}

static acp_status s_config_set(objs *o, acp_error *e)
{
    return acp_config_set(o->cfg, "cache_size", "-2000", e);
}

static acp_status s_config_set_again(objs *o, acp_error *e)
{
    return acp_config_set(o->cfg, "busy_timeout", "250", e);
}

static acp_status s_config_set_path(objs *o, acp_error *e)
{
    return acp_config_set(o->cfg, "path", "/srv/acp/other.db", e);
}

static acp_status s_secret(objs *o, acp_error *e)
{
    return acp_config_set(o->cfg, "auth_token", "tok-SECRET-123", e);
}

static acp_status s_backend(objs *o, acp_error *e)
{
    return acp_config_set_backend(o->cfg, "sqlite", e);
}

static acp_status s_plugin_dir(objs *o, acp_error *e)
{
    return acp_config_add_plugin_dir(o->cfg, "/opt/acp/plugins", e);
}

static acp_status s_plugin_file(objs *o, acp_error *e)
{
    return acp_config_set_plugin_file(o->cfg, "/opt/acp/libacp_storage_sqlite.so", e);
}

/* For the functions that answer NULL when out of memory. */
static acp_status null_result(acp_error *e, const char *fn)
{
    snprintf(e->message, sizeof e->message, "%s returned NULL (out of memory)", fn);
    return e->code = ACP_NOMEM;
}

static acp_status s_search(objs *o, acp_error *e)
{
    const char *d = acp_config_plugin_dir(o->cfg, 0);
    if (!d)
        return null_result(e, "acp_config_plugin_dir");
    return strcmp(d, "/opt/acp/plugins") ? wrong("plugin_dir 0 is %s", d) : ACP_OK;
}

static acp_status s_redacted(objs *o, acp_error *e)
{
    char *u = acp_config_redacted_uri(o->cfg);
    if (!u)
        return null_result(e, "acp_config_redacted_uri");
    set_text(o, u);
    if (strstr(u, "SECRET") || strstr(u, "hunter2") || strstr(u, "s3cret"))
        return wrong("redacted URI shows a secret: %s", u);
    return ACP_OK;
}

static acp_status s_scan(objs *o, acp_error *e)
{
    acp_plugin_list *l = NULL;
    acp_status st = acp_plugins_scan(NULL, &l, e);
    if (st == ACP_OK) {
        acp_plugin_list_free(o->plugins);
        o->plugins = l;
    }
    return st;
}

static acp_status s_message(objs *o, acp_error *e)
{
    return acp_message_new("agent/echo", &o->msg, e);
}

static acp_status s_text(objs *o, acp_error *e)
{
    return acp_message_add_text(o->msg, "hello, world", e);
}

static acp_status s_part(objs *o, acp_error *e)
{
    return acp_message_add_part(o->msg, "image/png", "iVBORw0KGgo=", "base64", "dot.png", e);
}

static acp_status s_run_new(objs *o, acp_error *e)
{
    return acp_run_new("echo", &o->run, e);
}

static acp_status s_add_output(objs *o, acp_error *e)
{
    return acp_run_add_output(o->run, o->msg, e);
}

static acp_status s_session_id(objs *o, acp_error *e)
{
    return acp_run_set_session_id(o->run, "session-1", e);
}

static acp_status s_await(objs *o, acp_error *e)
{
    return acp_run_set_await_message(o->run, o->msg, e);
}

static acp_status s_status(objs *o, acp_error *e)
{
    return acp_run_set_status(o->run, "failed", e);
}

static acp_status s_error(objs *o, acp_error *e)
{
    return acp_run_set_error(o->run, "server_error", "the agent crashed", e);
}

static acp_status s_run_json(objs *o, acp_error *e)
{
    char *j = NULL;
    acp_status st = acp_run_to_json(o->run, &j, NULL, e);
    if (st == ACP_OK)
        set_text(o, j);
    return st;
}

static acp_status s_run_parse(objs *o, acp_error *e)
{
    acp_run *r = NULL;
    acp_status st = acp_run_parse(o->text, ACP_STRLEN, &r, e);
    if (st == ACP_OK) {
        acp_run_free(o->parsed);
        o->parsed = r;
        if (strcmp(acp_run_status(r), "failed") || acp_run_output_count(r) != 1)
            return wrong("parsed run has status %s", acp_run_status(r));
    }
    return st;
}

static acp_status s_output_copy(objs *o, acp_error *e)
{
    acp_message *m = NULL;
    acp_status st = acp_run_output_message(o->parsed, 0, &m, e);
    if (st == ACP_OK) {
        acp_message_free(o->copy);
        o->copy = m;
        if (acp_message_part_count(m) != 2 || strcmp(acp_message_part_content(m, 1), "iVBORw0KGgo="))
            return wrong("output message copy has %zu parts", acp_message_part_count(m));
    }
    return st;
}

static acp_status s_session(objs *o, acp_error *e)
{
    return acp_session_new("session-1", &o->sess, e);
}

static acp_status s_state(objs *o, acp_error *e)
{
    return acp_session_set_state_json(o->sess, "{\"n\":9007199254740993,\"l\":[true,null]}",
                                      ACP_STRLEN, e);
}

static acp_status s_history(objs *o, acp_error *e)
{
    return acp_session_add_history_json(o->sess, "\"https://agents.invalid/runs/1\"", ACP_STRLEN, e);
}

static acp_status s_state_get(objs *o, acp_error *e)
{
    char *j = NULL;
    acp_status st = acp_session_state_json(o->sess, &j, NULL, e);
    if (st == ACP_OK) {
        set_text(o, j);
        if (!strstr(j, "9007199254740993"))
            return wrong("state came back as %s", j);
    }
    return st;
}

static acp_status s_session_json(objs *o, acp_error *e)
{
    char *j = NULL;
    acp_status st = acp_session_to_json(o->sess, &j, NULL, e);
    if (st == ACP_OK)
        set_text(o, j);
    return st;
}

static acp_status s_session_parse(objs *o, acp_error *e)
{
    acp_session *s = NULL;
    acp_status st = acp_session_parse(o->text, ACP_STRLEN, &s, e);
    if (st == ACP_OK) {
        if (acp_session_history_count(s) != 1)
            st = wrong("parsed session has %zu history entries", acp_session_history_count(s));
        acp_session_free(s);
    }
    return st;
}

static acp_status s_event(objs *o, acp_error *e)
{
    return acp_event_new("message.part", &o->ev, e);
}

static acp_status s_event_set(objs *o, acp_error *e)
{
    return acp_event_set_json(o->ev, "part", "{\"content\":\"hel\",\"content_type\":\"text/plain\"}",
                              ACP_STRLEN, e);
}

static acp_status s_event_get(objs *o, acp_error *e)
{
    char *j = NULL;
    acp_status st = acp_event_get_json(o->ev, "part", &j, NULL, e);
    if (st == ACP_OK)
        set_text(o, j);
    return st;
}

static acp_status s_event_json(objs *o, acp_error *e)
{
    char *j = NULL;
    acp_status st = acp_event_to_json(o->ev, &j, NULL, e);
    if (st == ACP_OK)
        set_text(o, j);
    return st;
}

static acp_status s_event_parse(objs *o, acp_error *e)
{
    acp_event *ev = NULL;
    acp_status st = acp_event_parse(o->text, ACP_STRLEN, &ev, e);
    if (st == ACP_OK) {
        if (strcmp(acp_event_type(ev), "message.part"))
            st = wrong("parsed event has type %s", acp_event_type(ev));
        acp_event_free(ev);
    }
    return st;
}

static const struct step {
    const char *name;
    acp_status (*fn)(objs *, acp_error *);
} steps[] = {
    {"config_new", s_config_new},
    {"config_parse_uri", s_parse_uri},
    {"config_set", s_config_set},
    {"config_set secret", s_secret},
    {"config_redacted_uri", s_redacted},
    {"config_parse_uri 2", s_parse_uri_again},
    {"config_set again", s_config_set_again},
    {"config_set path", s_config_set_path},
    {"config_set_backend", s_backend},
    {"config_add_plugin_dir", s_plugin_dir},
    {"config_plugin_dir", s_search},
    {"config_set_plugin_file", s_plugin_file},
    {"config_redacted_uri 2", s_redacted},
    {"plugins_scan", s_scan},
    {"message_new", s_message},
    {"message_add_text", s_text},
    {"message_add_part", s_part},
    {"run_new", s_run_new},
    {"run_add_output", s_add_output},
    {"run_set_session_id", s_session_id},
    {"run_set_await_message", s_await},
    {"run_set_status", s_status},
    {"run_set_error", s_error},
    {"run_to_json", s_run_json},
    {"run_parse", s_run_parse},
    {"run_output_message", s_output_copy},
    {"session_new", s_session},
    {"session_set_state_json", s_state},
    {"session_add_history_json", s_history},
    {"session_state_json", s_state_get},
    {"session_to_json", s_session_json},
    {"session_parse", s_session_parse},
    {"event_new", s_event},
    {"event_set_json", s_event_set},
    {"event_get_json", s_event_get},
    {"event_to_json", s_event_json},
    {"event_parse", s_event_parse},
};
#define N_STEPS (sizeof steps / sizeof steps[0])

/* ---- state, compared before and after a failed call -------------------------- */

static void add(char **buf, const char *s)
{
    size_t a = *buf ? strlen(*buf) : 0, b = s ? strlen(s) : 6;
    char *n = realloc(*buf, a + b + 2);
    if (!n)
        abort(); /* only ever called while held */
    memcpy(n + a, s ? s : "(null)", b);
    n[a + b] = '|';
    n[a + b + 1] = '\0';
    *buf = n;
}

static void add_owned(char **buf, char *s)
{
    add(buf, s);
    acp_free(s);
}

/* Everything the objects show through the API, as one string. */
static char *snapshot(const objs *o)
{
    char *b = NULL, *j;
    add(&b, "cfg");
    if (o->cfg) {
        add_owned(&b, acp_config_redacted_uri(o->cfg));
        add(&b, acp_config_backend(o->cfg));
        for (size_t i = 0; i < 8; i++)
            add(&b, acp_config_plugin_dir(o->cfg, i));
    }
    add(&b, "msg");
    if (o->msg) {
        add(&b, acp_message_role(o->msg));
        for (size_t i = 0; i < acp_message_part_count(o->msg); i++) {
            add(&b, acp_message_part_content(o->msg, i));
            add(&b, acp_message_part_content_type(o->msg, i));
        }
    }
    add(&b, "run");
    if (o->run)
        add_owned(&b, acp_run_to_json(o->run, &j, NULL, NULL) == ACP_OK ? j : NULL);
    add(&b, "session");
    if (o->sess)
        add_owned(&b, acp_session_to_json(o->sess, &j, NULL, NULL) == ACP_OK ? j : NULL);
    add(&b, "event");
    if (o->ev)
        add_owned(&b, acp_event_to_json(o->ev, &j, NULL, NULL) == ACP_OK ? j : NULL);
    add(&b, "plugins");
    add(&b, o->plugins ? "scanned" : "none");
    return b;
}

static void objs_free(objs *o)
{
    acp_config_free(o->cfg);
    acp_run_free(o->run);
    acp_run_free(o->parsed);
    acp_message_free(o->msg);
    acp_message_free(o->copy);
    acp_session_free(o->sess);
    acp_event_free(o->ev);
    acp_plugin_list_free(o->plugins);
    acp_free(o->text);
    memset(o, 0, sizeof *o);
}

/* Returns -1 (what_failed set), else the step that met the failure or
 * N_STEPS when none did. */
static int sequence(unsigned long n, int persistent, int *status)
{
    objs o = {0};
    int hit = (int)N_STEPS;
    if (n)
        failmalloc_arm(n, persistent);
    for (size_t i = 0; i < N_STEPS; i++) {
        failmalloc_hold(1);
        char *before = hit == (int)N_STEPS ? snapshot(&o) : NULL;
        failmalloc_hold(0);
        unsigned long f0 = failmalloc_failures();
        acp_error e = {0};
        acp_status st = steps[i].fn(&o, &e);
        int met = failmalloc_failures() != f0 && hit == (int)N_STEPS;
        if (met) {
            failmalloc_disarm();
            hit = (int)i;
            *status = (int)st;
        }
        if (st != ACP_OK && !met) {
            if (!what_failed[0])
                wrong("%s: %s (%s) with no allocation failure",
                         steps[i].name, acp_status_name(st), e.message);
        } else if (met && st != ACP_OK && st != ACP_NOMEM) {
            if (!what_failed[0])
                wrong(
                         "%s under allocation failure: %s (%s), expected NOMEM", steps[i].name,
                         acp_status_name(st), e.message);
        } else if (met && st == ACP_NOMEM && !strstr(e.message, "memory")) {
            wrong("%s: NOMEM with message \"%s\" (should say out of memory)", steps[i].name,
                  e.message);
        } else if (met && st == ACP_NOMEM) {
            /* A failed call leaves its object as it was, and works when retried. */
            char *after = snapshot(&o);
            if (strcmp(before, after) != 0)
                wrong(
                         "%s failed with NOMEM but changed its object:\n  before %s\n  after  %s",
                         steps[i].name, before, after);
            free(after);
            memset(&e, 0, sizeof e);
            if (!what_failed[0] && (st = steps[i].fn(&o, &e)) != ACP_OK && !what_failed[0])
                wrong("%s retried after NOMEM: %s (%s)",
                         steps[i].name, acp_status_name(st), e.message);
        }
        free(before);
        if (what_failed[0]) {
            failmalloc_disarm();
            objs_free(&o);
            return -1;
        }
    }
    failmalloc_disarm();
    objs_free(&o);
    return hit;
}

static int child(unsigned long n, int persistent, int warm, alloc_report *r)
{
    int status = 0;
    long live0 = failmalloc_live();
    int hit = sequence(n, persistent, &status);
    if (hit < 0) {
        fprintf(stderr, "alloc_core: n=%lu %s %s: %s\n", n, warm ? "warm" : "cold",
                persistent ? "persistent" : "once", what_failed);
        return 1;
    }
    if (hit < (int)N_STEPS) {
        r->step = hit;
        r->status = status;
    }
    if (warm && failmalloc_live() != live0) {
        fprintf(stderr, "alloc_core: n=%lu warm %s: %ld block(s) leaked (failure met in %s)\n", n,
                persistent ? "persistent" : "once", failmalloc_live() - live0,
                hit < (int)N_STEPS ? steps[hit].name : "nothing");
        return 1;
    }
    return hit < (int)N_STEPS ? ALLOC_REACHED : 0;
}

/* The scan loads every plugin it finds, and the postgres and redis ones
 * bring libpq, GnuTLS and Kerberos: thousands of allocations that are not
 * this project's.  Scan a directory holding only the memory plugin. */
static int private_plugin_dir(char *dir)
{
    const char *env = getenv("ACP_STORAGE_PLUGIN_PATH");
    char so[4096], link[4200];
    if (!env || !mkdtemp(dir))
        return -1;
    for (const char *p = env; *p;) {
        size_t len = strcspn(p, ":");
        snprintf(so, sizeof so, "%.*s/libacp_storage_memory.so", (int)len, p);
        if (access(so, R_OK) == 0) {
            snprintf(link, sizeof link, "%s/libacp_storage_memory.so", dir);
            if (symlink(so, link) != 0 || setenv("ACP_STORAGE_PLUGIN_PATH", dir, 1) != 0)
                return -1;
            return 0;
        }
        p += len + (p[len] == ':');
    }
    return -1;
}

int main(int argc, char **argv)
{
    unsigned long failed = 0, points = 0;
    char dir[] = "/tmp/acp-alloc-plugins-XXXXXX", link[64];
    if (private_plugin_dir(dir) != 0) {
        fprintf(stderr, "alloc_core: ACP_STORAGE_PLUGIN_PATH must name the directory of "
                        "libacp_storage_memory.so\n");
        return 2;
    }
    const char *names[N_STEPS];
    for (size_t i = 0; i < N_STEPS; i++)
        names[i] = steps[i].name;
    /* Cold passes first: the scan loads the plugin for the first time.  The
     * warm passes fork from this process after one unarmed sequence. */
    for (int warm = 0; warm <= 1; warm++) {
        int status;
        if (warm && sequence(0, 0, &status) != (int)N_STEPS) {
            fprintf(stderr, "alloc_core: the sequence fails without any allocation failure: %s\n",
                    what_failed);
            return 1;
        }
        for (int persistent = 0; persistent <= 1; persistent++) {
            alloc_pass p = {.test = "alloc_core", .warm = warm, .persistent = persistent,
                            .every = alloc_stride(argc, argv, "--every", "ACP_ALLOC_EVERY"), .step_names = names,
                            .n_steps = N_STEPS, .child = child};
            failed += alloc_run_pass(&p, &points);
        }
    }
    snprintf(link, sizeof link, "%s/libacp_storage_memory.so", dir);
    unlink(link);
    rmdir(dir);
    printf("alloc_core: %lu allocation failure points in all, %lu finding(s)\n", points, failed);
    return failed ? 1 : 0;
}
