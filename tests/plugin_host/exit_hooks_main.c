/* SPDX-License-Identifier: MIT */
/*
 * exit_hooks_main.c - a plugin's atexit handler and thread-specific
 * destructors must still find its code when they run, after the last store
 * closed: the host never unloads a plugin that loaded.  Exits 0 when the
 * process ends cleanly; a crash (unmapped code) fails the CTest test.
 * A plain program, not Criterion: the interesting part happens after main.
 *
 * Usage: plugin_host_exit_hooks <fixture dir>
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>

#include "acp_storage.h"

#define THREADS 4

static acp_store *g_store;
static pthread_barrier_t g_pinged, g_closed;
static acp_status g_status[THREADS];

static void *worker(void *arg)
{
    acp_status *st = arg;
    acp_error e;
    *st = acp_store_ping(g_store, &e);
    if (*st != ACP_OK)
        fprintf(stderr, "ping: %s\n", e.message);
    pthread_barrier_wait(&g_pinged);
    /* Exit only after the store is closed: the plugin's destructor for this
     * thread then runs with no store left. */
    pthread_barrier_wait(&g_closed);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <fixture dir>\n", argv[0]);
        return 2;
    }
    acp_config *cfg = NULL;
    acp_error e;
    if (acp_config_new(&cfg, &e) != ACP_OK || acp_config_set_backend(cfg, "exit_hooks", &e) != ACP_OK ||
        acp_config_add_plugin_dir(cfg, argv[1], &e) != ACP_OK ||
        acp_store_open_config(cfg, &g_store, &e) != ACP_OK) {
        fprintf(stderr, "open exit_hooks: %s\n", e.message);
        return 1;
    }
    acp_config_free(cfg);

    pthread_t t[THREADS];
    pthread_barrier_init(&g_pinged, NULL, THREADS + 1);
    pthread_barrier_init(&g_closed, NULL, THREADS + 1);
    for (int i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], NULL, worker, &g_status[i]) != 0)
            return 1;
    pthread_barrier_wait(&g_pinged);
    acp_store_close(g_store);
    pthread_barrier_wait(&g_closed);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < THREADS; i++)
        if (g_status[i] != ACP_OK)
            return 1;
    return 0; /* the plugin's atexit handler runs after this */
}
