/* SPDX-License-Identifier: MIT */
/*
 * test_flushgroup.c - the file backend's shared flush (group commit of
 * directory flushes, plugins/file/flushgroup.c), tested directly with a
 * flush that records what it covered:
 *  - a writer returns only after a flush that started after its change;
 *  - concurrent writers share flushes (fewer flushes than writers);
 *  - a writer gets the result of a flush that started after its change:
 *    never OK when only failed flushes came after it.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "flushgroup.h"

#define WRITERS 8
#define ROUNDS 400

typedef struct world {
    flush_group g;
    atomic_ulong started;     /* flushes started: flush k is the k-th */
    unsigned long fail_every; /* flush k fails when k % fail_every == 0 (0: never) */
    atomic_int ended[ROUNDS * WRITERS + 2]; /* 0: running; 1 ended OK; 2 ended failed */
} world;

static int fake_flush(void *arg)
{
    world *w = arg;
    unsigned long k = atomic_fetch_add(&w->started, 1) + 1;
    struct timespec ts = {0, 200000}; /* a flush takes a while */
    nanosleep(&ts, NULL);
    int e = w->fail_every && k % w->fail_every == 0 ? EIO : 0;
    atomic_store(&w->ended[k], e ? 2 : 1);
    return e;
}

typedef struct writer {
    world *w;
    int bad_uncovered, bad_result, failures;
} writer;

/* A writer makes its change, notes how many flushes had started (a later
 * flush started after the change, so covers it), then calls fg_flush: the
 * result must be that of a flush that started later and has ended. */
static void *writer_main(void *arg)
{
    writer *me = arg;
    world *w = me->w;
    for (int r = 0; r < ROUNDS; r++) {
        unsigned long s0 = atomic_load(&w->started);
        int rc = fg_flush(&w->g, fake_flush, w);
        unsigned long s1 = atomic_load(&w->started);
        int covered = 0, same = 0;
        for (unsigned long k = s0 + 1; k <= s1; k++) {
            int st = atomic_load(&w->ended[k]);
            covered |= st != 0;
            same |= (st == 1 && rc == 0) || (st == 2 && rc == EIO);
        }
        if (!covered)
            me->bad_uncovered++; /* returned before a flush after its change ended */
        else if (!same)
            me->bad_result++; /* OK with only failed flushes after it, or the reverse */
        if (rc)
            me->failures++;
    }
    return NULL;
}

static void run_world(world *w, unsigned long fail_every, writer *ws)
{
    *w = (world){.fail_every = fail_every};
    cr_assert_eq(fg_init(&w->g), 0);
    pthread_t th[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        ws[i] = (writer){.w = w};
        cr_assert_eq(pthread_create(&th[i], NULL, writer_main, &ws[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(w->g.flushes, atomic_load(&w->started));
    fg_destroy(&w->g);
}

static world W;

Test(flushgroup, every_writer_covered_and_flushes_shared)
{
    writer ws[WRITERS];
    run_world(&W, 0, ws);
    for (int i = 0; i < WRITERS; i++) {
        cr_expect_eq(ws[i].bad_uncovered, 0, "writer %d returned before its flush", i);
        cr_expect_eq(ws[i].bad_result, 0);
        cr_expect_eq(ws[i].failures, 0);
    }
    unsigned long f = atomic_load(&W.started);
    cr_log_info("%d changes, %lu flushes", WRITERS * ROUNDS, f);
    /* While a flush runs, the other writers queue for the next one. */
    cr_expect_lt(f, (unsigned long)WRITERS * ROUNDS / 2, "flushes were not shared: %lu", f);
}

Test(flushgroup, failed_flush_fails_its_batch_only)
{
    writer ws[WRITERS];
    run_world(&W, 3, ws);
    int failures = 0;
    for (int i = 0; i < WRITERS; i++) {
        cr_expect_eq(ws[i].bad_uncovered, 0);
        cr_expect_eq(ws[i].bad_result, 0, "writer %d was told a result no flush after its "
                     "change had", i);
        failures += ws[i].failures;
    }
    cr_expect_gt(failures, 0);
    cr_expect_lt(failures, WRITERS * ROUNDS);
}

Test(flushgroup, one_writer_flushes_each_time)
{
    flush_group g;
    cr_assert_eq(fg_init(&g), 0);
    W = (world){.fail_every = 2};
    for (unsigned long c = 1; c <= 5; c++) {
        cr_expect_eq(fg_flush(&g, fake_flush, &W), c % 2 ? 0 : EIO);
        cr_expect_eq(atomic_load(&W.started), c);
    }
    cr_expect_eq(g.flushes, 5);
    fg_destroy(&g);
}
