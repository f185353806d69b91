/* SPDX-License-Identifier: MIT */
/*
 * test_file_batch.c - the file backend's batched saves (plugins/file/
 * batch.c) against other writers: a batch works out each run's version
 * under the run's lock, lets the lock go while its documents are flushed,
 * and puts each in place under the lock again only if nothing changed
 * meanwhile (else it saves that run again the single way).  Without that
 * check, a save that came in between would be overwritten by an older
 * version.  (Kills inside batches: tests/crash/crash_batch.c.)
 */
#define _GNU_SOURCE /* mkdtemp, nftw */

#include <criterion/criterion.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acp_storage.h"

#define IDS 64
#define ROUNDS 12

static char root[256];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void setup(void)
{
    snprintf(root, sizeof root, "/tmp/acp-file-batch-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
}

static void teardown(void)
{
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(file_batch, .init = setup, .fini = teardown, .timeout = 300);

static char docs[2][IDS][160];
static acp_store *store;
static atomic_int stop;
static atomic_int errors;
static char why[512];

static void note(const char *what, const char *msg)
{
    if (atomic_fetch_add(&errors, 1) == 0)
        snprintf(why, sizeof why, "%s: %s", what, msg);
}

/* Batches of all the ids, over and over. */
static void *batcher(void *arg)
{
    (void)arg;
    const char *v[IDS];
    for (int i = 0; i < IDS; i++)
        v[i] = docs[0][i];
    acp_error e;
    for (int r = 0; r < ROUNDS && !atomic_load(&errors); r++)
        if (acp_run_save_many(store, v, NULL, IDS, &e) != ACP_OK)
            note("save_many", e.message);
    atomic_store(&stop, 1);
    return NULL;
}

/* Single saves of the same ids meanwhile, each seeing its version rise. */
static void *single(void *arg)
{
    (void)arg;
    int64_t last[IDS] = {0};
    acp_error e;
    while (!atomic_load(&stop) && !atomic_load(&errors))
        for (int i = 0; i < IDS; i++) {
            int64_t v;
            if (acp_run_save_versioned(store, docs[1][i], ACP_STRLEN, &v, &e) != ACP_OK)
                note("save", e.message);
            else if (v <= last[i])
                note("save", "a version did not rise");
            else
                last[i] = v;
        }
    return NULL;
}

/* Reads of every id: a run's version never goes down. */
static void *reader(void *arg)
{
    (void)arg;
    int64_t last[IDS] = {0};
    char id[16], msg[160];
    acp_error e;
    while (!atomic_load(&stop) && !atomic_load(&errors))
        for (int i = 0; i < IDS; i++) {
            snprintf(id, sizeof id, "r%d", i);
            char *json;
            int64_t v;
            acp_status st = acp_run_get_versioned(store, id, &json, NULL, &v, &e);
            if (st == ACP_NOT_FOUND)
                continue;
            if (st != ACP_OK) {
                note("get", e.message);
                continue;
            }
            acp_free(json);
            if (v < last[i]) {
                snprintf(msg, sizeof msg, "run %s went from version %" PRId64 " back to %" PRId64,
                         id, last[i], v);
                note("get", msg);
            }
            last[i] = v;
        }
    return NULL;
}

Test(file_batch, saves_between_a_batch_and_its_renames_are_never_overwritten)
{
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < IDS; i++)
            snprintf(docs[k][i], sizeof docs[k][i],
                     "{\"run_id\":\"r%d\",\"agent_name\":\"%s\",\"status\":\"created\"}", i,
                     k ? "single" : "batch");
    char uri[512];
    snprintf(uri, sizeof uri, "file:%s/store", root);
    acp_error e;
    cr_assert_eq(acp_store_open(uri, &store, &e), ACP_OK, "%s", e.message);
    pthread_t t[3];
    cr_assert_eq(pthread_create(&t[0], NULL, batcher, NULL), 0);
    cr_assert_eq(pthread_create(&t[1], NULL, single, NULL), 0);
    cr_assert_eq(pthread_create(&t[2], NULL, reader, NULL), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    cr_expect_eq(atomic_load(&errors), 0, "%d errors, the first: %s", atomic_load(&errors), why);

    /* The index agrees with the documents: every run listed once. */
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.limit = 1000;
    f.want_total = 1;
    acp_page *p;
    cr_assert_eq(acp_run_list(store, &f, &p, &e), ACP_OK, "%s", e.message);
    cr_expect_eq(acp_page_count(p), IDS);
    cr_expect_eq(acp_page_total(p), IDS);
    acp_page_free(p);
    acp_store_close(store);
}
