/* SPDX-License-Identifier: MIT */
/*
 * cache_config.c - the cache's configuration and its own session ids:
 *
 *   cache_config DIR
 *
 * opens caches by URI and piece by piece (acp_config_set), checks that bad
 * configurations are refused with a message naming the option, that the
 * reserved session ids cannot be written, are not listed and that
 * "acp-cache.stats" answers, that a run read twice is a hit the second
 * time, and that a conditional save the back refuses removes the front's
 * entry, and that a write the back refuses reports the back's failure.
 * Prints one line per failed check; exit 1 if any failed.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <acp_storage.h>

static int failures;

#define CHECK(cond, ...)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "cache_config: line %d: ", __LINE__);                            \
            fprintf(stderr, __VA_ARGS__);                                                     \
            fputc('\n', stderr);                                                              \
            failures++;                                                                       \
        }                                                                                     \
    } while (0)

/* Opening uri fails with code, and the message contains text. */
static void refused(const char *uri, acp_status code, const char *text)
{
    acp_store *s = NULL;
    acp_error e;
    acp_status st = acp_store_open(uri, &s, &e);
    CHECK(st == code && strstr(e.message, text), "%s: expected %s with '%s', got %s: %s", uri,
          acp_status_name(code), text, acp_status_name(st), st == ACP_OK ? "" : e.message);
    if (st == ACP_OK)
        acp_store_close(s);
}

static long long counter(acp_store *s, const char *name)
{
    char *json, key[64];
    size_t len;
    acp_error e;
    if (acp_session_get(s, "acp-cache.stats", &json, &len, &e) != ACP_OK)
        return -1;
    snprintf(key, sizeof key, "\"%s\":", name);
    const char *p = strstr(json, key);
    long long v = p ? atoll(p + strlen(key)) : -1;
    acp_free(json);
    return v;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: cache_config DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    char back[512], uri[1024];
    snprintf(back, sizeof back, "sqlite:%s/config.db", dir);

    refused("cache:?front=memory:", ACP_INVALID, "option back");
    refused("cache:?back=memory:", ACP_INVALID, "option front");
    refused("cache:?front=memory:&back=memory:&ttl=-1", ACP_INVALID, "option ttl");
    refused("cache:?front=memory:&back=memory:&check_ms=0", ACP_INVALID, "option check_ms");
    refused("cache:?front=memory:&back=memory:&colour=red", ACP_INVALID, "colour");
    refused("cache+fast:?front=memory:&back=memory:", ACP_INVALID, "unknown variant");
    refused("cache:?front=&back=memory:", ACP_INVALID, "option front=");
    refused("cache:?front=memory:&back=memory:&retry_ms=2h", ACP_INVALID, "option retry_ms");
    refused("cache:/some/path?front=memory:&back=memory:", ACP_INVALID, "no location");
    refused("cache:?front=memory:&back=nosuchbackend%3A", ACP_LOAD, "back: ");
    refused("cache:?front=cache%3A%3Ffront%3Dmemory%3A&back=memory:", ACP_INVALID, "front");

    /* Piece by piece: the child URIs need no encoding. */
    acp_config *cfg;
    acp_error e;
    acp_store *s = NULL;
    acp_status st = acp_config_new(&cfg, &e);
    if (st == ACP_OK)
        st = acp_config_set_backend(cfg, "cache", &e);
    if (st == ACP_OK)
        st = acp_config_set(cfg, "front", "memory:", &e);
    if (st == ACP_OK)
        st = acp_config_set(cfg, "back", back, &e);
    if (st == ACP_OK)
        st = acp_config_set(cfg, "ttl", "60", &e);
    if (st == ACP_OK)
        st = acp_store_open_config(cfg, &s, &e);
    acp_config_free(cfg);
    CHECK(st == ACP_OK, "open by acp_config_set: %s: %s", acp_status_name(st), e.message);
    if (st != ACP_OK)
        return 1;
    CHECK(strcmp(acp_store_backend(s), "cache") == 0, "backend is %s", acp_store_backend(s));

    const char *run = "{\"run_id\":\"c1\",\"agent_name\":\"a\",\"status\":\"created\","
                      "\"created_at\":\"2026-01-01T00:00:00Z\"}";
    int64_t v = 0, v2 = 0;
    CHECK(acp_run_save_versioned(s, run, ACP_STRLEN, &v, &e) == ACP_OK && v > 0, "save: %s",
          e.message);
    for (int i = 0; i < 2; i++) {
        char *json;
        size_t len;
        st = acp_run_get_versioned(s, "c1", &json, &len, &v2, &e);
        CHECK(st == ACP_OK && strcmp(json, run) == 0 && v2 == v,
              "get %d: %s, version %lld instead of %lld", i, acp_status_name(st),
              (long long)v2, (long long)v);
        if (st == ACP_OK)
            acp_free(json);
    }
    CHECK(counter(s, "hits") == 1 && counter(s, "misses") == 1 && counter(s, "fills") == 1,
          "expected 1 miss, 1 fill, 1 hit: hits %lld misses %lld fills %lld",
          counter(s, "hits"), counter(s, "misses"), counter(s, "fills"));

    /* The reserved session ids. */
    static const char *const reserved[] = {"acp-cache.generation", "acp-cache.suspect",
                                           "acp-cache.stats"};
    for (size_t i = 0; i < 3; i++) {
        char doc[128];
        snprintf(doc, sizeof doc, "{\"id\":\"%s\"}", reserved[i]);
        st = acp_session_save(s, doc, ACP_STRLEN, &e);
        CHECK(st == ACP_INVALID, "saving session %s: %s", reserved[i], acp_status_name(st));
        st = acp_session_delete(s, reserved[i], &e);
        CHECK(st == ACP_INVALID, "deleting session %s: %s", reserved[i], acp_status_name(st));
    }
    CHECK(acp_session_save(s, "{\"id\":\"s1\"}", ACP_STRLEN, &e) == ACP_OK, "save s1: %s",
          e.message);
    acp_page *p;
    st = acp_session_list(s, NULL, 10, &p, &e);
    CHECK(st == ACP_OK, "list sessions: %s", e.message);
    if (st == ACP_OK) {
        for (size_t i = 0; i < acp_page_count(p); i++)
            CHECK(strncmp(acp_page_key(p, i), "acp-cache.", 10) != 0, "listed %s",
                  acp_page_key(p, i));
        acp_page_free(p);
    }

    /* A writer that stopped between the back's commit and the front's
     * removal leaves the old entry in the front (made here by writing the
     * back directly).  A conditional save that the back refuses because of
     * that write removes it, so a read-modify-write loop reads the back's
     * version next instead of conflicting forever. */
    acp_store *direct;
    const char *run2 = "{\"run_id\":\"c1\",\"agent_name\":\"a\",\"status\":\"completed\","
                       "\"created_at\":\"2026-01-01T00:00:00Z\"}";
    const char *run3 = "{\"run_id\":\"c1\",\"agent_name\":\"a\",\"status\":\"failed\","
                       "\"created_at\":\"2026-01-01T00:00:00Z\"}";
    int64_t vb = 0, vc = 0; /* vc: a conflict reports no version */
    st = acp_store_open(back, &direct, &e);
    CHECK(st == ACP_OK, "open the back: %s", e.message);
    if (st == ACP_OK) {
        CHECK(acp_run_save_versioned(direct, run2, ACP_STRLEN, &vb, &e) == ACP_OK && vb > v,
              "save to the back: %s", e.message);
        acp_store_close(direct);
        st = acp_run_save_if(s, run3, ACP_STRLEN, v, &vc, &e);
        CHECK(st == ACP_CONFLICT, "save if at %lld: %s", (long long)v, acp_status_name(st));
        char *json;
        size_t len;
        st = acp_run_get_versioned(s, "c1", &json, &len, &v2, &e);
        CHECK(st == ACP_OK && v2 == vb && strcmp(json, run2) == 0,
              "after the conflict: %s, version %lld instead of the back's %lld",
              acp_status_name(st), (long long)v2, (long long)vb);
        if (st == ACP_OK)
            acp_free(json);
    }
    acp_store_close(s);

    /* The back holds the suspect token only after a failure: none here. */
    snprintf(uri, sizeof uri, "%s", back);
    st = acp_store_open(uri, &s, &e);
    if (st == ACP_OK) {
        char *json;
        size_t len;
        CHECK(acp_session_get(s, "acp-cache.suspect", &json, &len, &e) == ACP_NOT_FOUND,
              "the back holds a suspect token without a failure");
        acp_store_close(s);
    }
    /* A write the back refuses reports the back's failure, not what the
     * front answered to the removal that follows it (NOT_FOUND: nothing
     * was cached). */
    snprintf(uri, sizeof uri, "cache:?front=memory:&back=sqlite%%3A%s%%2Fconfig.db%%3Fmode%%3Dro",
             dir);
    st = acp_store_open(uri, &s, &e);
    CHECK(st == ACP_OK, "open over a read-only back: %s", e.message);
    if (st == ACP_OK) {
        const char *run4 = "{\"run_id\":\"ro1\",\"agent_name\":\"a\",\"status\":\"created\"}";
        st = acp_run_save(s, run4, ACP_STRLEN, &e);
        CHECK(st != ACP_OK && st != ACP_NOT_FOUND && !strstr(e.message, "front"),
              "save to a read-only back: %s: %s", acp_status_name(st), e.message);
        st = acp_run_delete(s, "ro-absent", &e);
        CHECK(st != ACP_OK && !strstr(e.message, "front"),
              "delete from a read-only back: %s: %s", acp_status_name(st), e.message);
        acp_store_close(s);
    }
    return failures ? 1 : 0;
}
