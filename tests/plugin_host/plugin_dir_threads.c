/* SPDX-License-Identifier: MIT */
/*
 * plugin_dir_threads.c - many threads read the plugin directories of one
 * shared const configuration (and of none) while others open stores with
 * it: no data race (run under ThreadSanitizer, label "tsan"), and every
 * thread sees the same list.  A plain C program: Criterion forks, which
 * hides what ThreadSanitizer reports after the test body.
 *
 * Usage: plugin_dir_threads FIXTURE_DIR
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acp_storage.h"

#define THREADS 16
#define ROUNDS 300

static acp_config *shared; /* written before the threads start, then only read */
static const char *fixture_dir;
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static int failures;

static void fail(const char *fmt, const char *a, const char *b)
{
    pthread_mutex_lock(&fail_lock);
    if (failures++ < 5) {
        fprintf(stderr, "plugin_dir_threads: ");
        fprintf(stderr, fmt, a, b);
        fputc('\n', stderr);
    }
    pthread_mutex_unlock(&fail_lock);
}

static void *reader(void *arg)
{
    int opener = (int)(size_t)arg % 4 == 0;
    for (int r = 0; r < ROUNDS; r++) {
        const char *first = acp_config_plugin_dir(shared, 0);
        if (!first || strcmp(first, fixture_dir) != 0)
            fail("directory 0 is %s, expected %s", first ? first : "NULL", fixture_dir);
        size_t n = 0;
        while (acp_config_plugin_dir(shared, n))
            n++;
        size_t m = 0;
        while (acp_config_plugin_dir(NULL, m))
            m++;
        if (n != m + 1)
            fail("%s%s", "the configuration's list is not the environment's plus its own",
                 " directory");
        if (opener) {
            acp_store *store = NULL;
            acp_error err;
            if (acp_store_open_config(shared, &store, &err) != ACP_OK)
                fail("open: %s%s", err.message, "");
            acp_store_close(store);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: plugin_dir_threads FIXTURE_DIR\n", stderr);
        return 2;
    }
    fixture_dir = argv[1];
    acp_error err;
    if (acp_config_new(&shared, &err) != ACP_OK ||
        acp_config_set_backend(shared, "good", &err) != ACP_OK ||
        acp_config_add_plugin_dir(shared, fixture_dir, &err) != ACP_OK) {
        fprintf(stderr, "plugin_dir_threads: %s\n", err.message);
        return 1;
    }
    pthread_t th[THREADS];
    for (size_t i = 0; i < THREADS; i++)
        if (pthread_create(&th[i], NULL, reader, (void *)i) != 0) {
            fputs("plugin_dir_threads: pthread_create failed\n", stderr);
            return 1;
        }
    for (size_t i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    acp_config_free(shared);
    if (failures)
        fprintf(stderr, "plugin_dir_threads: %d failures\n", failures);
    return failures ? 1 : 0;
}
