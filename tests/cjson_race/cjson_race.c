/* SPDX-License-Identifier: MIT */
/*
 * cjson_race.c - the library and an application that uses cJSON on its own
 * threads do not race (issue 14, item 7).
 *
 * Every cJSON_Parse* call writes cJSON's process-global error pointer.  That
 * write happens inside libcjson, which ThreadSanitizer does not see, so this
 * program interposes the four parse functions with instrumented wrappers
 * that make the same global write and count the calls of library threads,
 * then forward to cJSON.  The application thread parses (good and bad text)
 * while library threads parse, edit and print typed objects.  Passes when
 * no library thread reached cJSON's parser; under ThreadSanitizer (label
 * tsan) a library that did would also print a data race report.
 *
 * With --self-check a "library" thread calls cJSON_Parse itself: the
 * program must then fail (and report a race under ThreadSanitizer), which
 * shows that the harness can see what it looks for.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "acp_storage.h"

#define ROUNDS 2000
#define LIBRARY_THREADS 2

static const char *last_parse_text; /* stands for cJSON's global_error */
static _Thread_local int is_app_thread;
static int library_parses; /* updated atomically */

static void note_parse(const char *text)
{
    last_parse_text = text; /* the plain global write cJSON makes */
    if (!is_app_thread)
        __atomic_add_fetch(&library_parses, 1, __ATOMIC_RELAXED);
}

#define FORWARD(name, params, args)                                                     \
    __attribute__((visibility("default"))) cJSON *name params;                          \
    cJSON *name params                                                                  \
    {                                                                                   \
        static cJSON *(*real) params;                                                   \
        cJSON *(*f) params = __atomic_load_n(&real, __ATOMIC_ACQUIRE);                  \
        if (!f) {                                                                       \
            *(void **)&f = dlsym(RTLD_NEXT, #name);                                     \
            __atomic_store_n(&real, f, __ATOMIC_RELEASE);                               \
        }                                                                               \
        note_parse(value);                                                              \
        return f args;                                                                  \
    }

FORWARD(cJSON_Parse, (const char *value), (value))
FORWARD(cJSON_ParseWithLength, (const char *value, size_t len), (value, len))
FORWARD(cJSON_ParseWithOpts, (const char *value, const char **end, cJSON_bool nul),
        (value, end, nul))
FORWARD(cJSON_ParseWithLengthOpts,
        (const char *value, size_t len, const char **end, cJSON_bool nul), (value, len, end, nul))

static int self_check;

static const char RUN[] =
    "{\"run_id\":\"r-1\",\"agent_name\":\"a\",\"status\":\"completed\","
    "\"created_at\":\"2026-01-01T00:00:00Z\",\"big\":9007199254740993,"
    "\"output\":[{\"role\":\"agent\",\"parts\":[{\"content\":\"hi\",\"n\":1.5}]}]}";

static void *library_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        acp_run *run = NULL;
        acp_session *s = NULL;
        acp_event *ev = NULL;
        char *json = NULL;
        if (acp_run_parse(RUN, ACP_STRLEN, &run, NULL) != ACP_OK ||
            acp_run_to_json(run, &json, NULL, NULL) != ACP_OK) {
            fprintf(stderr, "acp_run_parse or acp_run_to_json failed\n");
            exit(2);
        }
        acp_free(json);
        acp_run_free(run);
        acp_run_parse("{\"run_id\":", ACP_STRLEN, &run, NULL); /* bad text too */
        if (acp_session_new("s", &s, NULL) == ACP_OK) {
            acp_session_set_state_json(s, "{\"k\":[1,2,{\"x\":null}]}", ACP_STRLEN, NULL);
            acp_session_add_history_json(s, "\"https://example.com/m/1\"", ACP_STRLEN, NULL);
            acp_session_free(s);
        }
        if (acp_event_parse("{\"type\":\"t\",\"p\":{\"a\":true}}", ACP_STRLEN, &ev, NULL) == ACP_OK)
            acp_event_free(ev);
        if (self_check) {
            cJSON *c = cJSON_Parse("{\"a\":");
            cJSON_Delete(c);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    self_check = argc > 1 && strcmp(argv[1], "--self-check") == 0;
    is_app_thread = 1;
    pthread_t t[LIBRARY_THREADS];
    for (int i = 0; i < LIBRARY_THREADS; i++)
        if (pthread_create(&t[i], NULL, library_thread, NULL) != 0)
            return 2;
    for (int i = 0; i < 4 * ROUNDS; i++) { /* the application's own cJSON use */
        cJSON *c = cJSON_Parse(i % 2 ? "{\"app\":[1,2,3]}" : "{\"app\":");
        if (!c && !cJSON_GetErrorPtr())
            fprintf(stderr, "note: no error pointer after a failed parse\n");
        cJSON_Delete(c);
    }
    for (int i = 0; i < LIBRARY_THREADS; i++)
        pthread_join(t[i], NULL);
    int n = __atomic_load_n(&library_parses, __ATOMIC_RELAXED);
    if (n) {
        fprintf(stderr, "FAIL: library threads called cJSON's parser %d times (it writes a "
                        "process-global error pointer the application's thread also writes)\n", n);
        return 1;
    }
    printf("ok: %d rounds on %d library threads, no cJSON parse outside the application\n",
           ROUNDS, LIBRARY_THREADS);
    return 0;
}
