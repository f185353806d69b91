/* SPDX-License-Identifier: MIT */
/*
 * test_time_buckets.c - acp_time_buckets_split (acp_storage_plugin.h): for
 * many random ranges and random run sets, the whole buckets plus the two
 * edges count every run of [since, until) exactly once and no other run,
 * as a brute-force count does; and the pieces stay as small as promised.
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "acp_storage_plugin.h"

/* xorshift64*: deterministic, so a failure repeats. */
static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717u;
}

static const int64_t NOW_US = 1796601600000000; /* 2026-12-07 */

/* An instant near `base`: at a random scale, sometimes bucket-aligned,
 * sometimes one of the int64 limits. */
static int64_t instant_near(int64_t base)
{
    uint64_t r = rnd();
    switch (r % 16) {
    case 0:
        return INT64_MIN;
    case 1:
        return INT64_MAX;
    case 2:
        return (int64_t)rnd(); /* anywhere, negative half the time */
    default:
        break;
    }
    int scale = (int)(rnd() % 48);
    int64_t off = (int64_t)(rnd() & ((UINT64_C(1) << scale) - 1));
    int64_t t = (rnd() & 1) ? base + off : base - off;
    if (r % 16 == 3) { /* aligned to a bucket of a random level */
        int sh = ACP_TIME_BUCKET_SHIFT0 + ACP_TIME_BUCKET_STEP * (int)(rnd() % ACP_TIME_BUCKET_LEVELS);
        t = acp_time_bucket(t, 0) == acp_time_bucket(INT64_MIN, 0) ? t : t & ~((INT64_C(1) << sh) - 1);
    }
    return t;
}

/* How many pieces of *b hold instant t (must be 1 inside the range, 0 out). */
static int pieces_holding(const acp_time_buckets *b, int64_t t)
{
    int n = (t >= b->head_since && t < b->head_until) + (t >= b->tail_since && t < b->tail_until);
    for (int l = 0; l < ACP_TIME_BUCKET_LEVELS; l++) {
        int64_t id = acp_time_bucket(t, l);
        for (int i = 0; i < 2; i++)
            n += id >= b->lo[l][i] && id < b->hi[l][i];
    }
    return n;
}

static void check_shape(const acp_time_buckets *b, int64_t since, int64_t until)
{
    /* edges: inside the range, each narrower than two level-0 buckets */
    int64_t w0 = INT64_C(1) << ACP_TIME_BUCKET_SHIFT0;
    if (b->head_since < b->head_until) {
        cr_assert(b->head_since >= since && b->head_until <= until);
        cr_assert((uint64_t)b->head_until - (uint64_t)b->head_since < (uint64_t)(2 * w0));
    }
    if (b->tail_since < b->tail_until) {
        cr_assert(b->tail_since >= since && b->tail_until <= until);
        cr_assert((uint64_t)b->tail_until - (uint64_t)b->tail_since <= (uint64_t)w0);
    }
    /* below the top level, at most 126 whole buckets per level */
    for (int l = 0; l < ACP_TIME_BUCKET_LEVELS - 1; l++) {
        int64_t n = 0;
        for (int i = 0; i < 2; i++)
            if (b->lo[l][i] < b->hi[l][i])
                n += b->hi[l][i] - b->lo[l][i];
        cr_assert(n <= 126, "level %d: %lld buckets", l, (long long)n);
    }
}

Test(time_buckets, buckets_plus_edges_count_like_brute_force)
{
    enum { RUN_SETS = 60, RUNS = 400, RANGES = 400 };
    static int64_t runs[RUNS];
    for (int set = 0; set < RUN_SETS; set++) {
        /* runs clustered around a random centre, at random spreads */
        int64_t centre = (set % 5 == 0) ? -NOW_US : NOW_US;
        for (int i = 0; i < RUNS; i++)
            runs[i] = instant_near(centre);
        for (int r = 0; r < RANGES; r++) {
            int64_t since = instant_near(centre), until = instant_near(centre);
            if (r % 7 == 0)
                since = INT64_MIN;
            if (r % 11 == 0)
                until = INT64_MAX;
            if (r % 13 == 0) /* a range ending at a run, and one starting at it */
                until = runs[rnd() % RUNS];
            if (r % 17 == 0)
                since = runs[rnd() % RUNS];
            acp_time_buckets b;
            acp_time_buckets_split(since, until, &b);
            check_shape(&b, since, until);
            long brute = 0, by_buckets = 0;
            for (int i = 0; i < RUNS; i++) {
                int in = runs[i] >= since && runs[i] < until;
                int held = pieces_holding(&b, runs[i]);
                cr_assert_eq(held, in, "run %lld in [%lld, %lld): held by %d pieces",
                             (long long)runs[i], (long long)since, (long long)until, held);
                brute += in;
                by_buckets += held;
            }
            cr_assert_eq(by_buckets, brute);
        }
    }
}

Test(time_buckets, limits_and_empty_ranges)
{
    acp_time_buckets b;
    acp_time_buckets_split(5, 5, &b);
    cr_assert_eq(pieces_holding(&b, 5), 0);
    acp_time_buckets_split(10, -10, &b);
    cr_assert_eq(pieces_holding(&b, 0), 0);
    /* the whole int64 line except INT64_MAX itself (until is exclusive) */
    acp_time_buckets_split(INT64_MIN, INT64_MAX, &b);
    check_shape(&b, INT64_MIN, INT64_MAX);
    const int64_t probes[] = {INT64_MIN, INT64_MIN + 1, -1, 0, 1, NOW_US, INT64_MAX - 1};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
        cr_assert_eq(pieces_holding(&b, probes[i]), 1, "probe %zu", i);
    cr_assert_eq(pieces_holding(&b, INT64_MAX), 0);
    /* one level-0 bucket exactly: one whole bucket, no edges */
    int64_t w0 = INT64_C(1) << ACP_TIME_BUCKET_SHIFT0;
    acp_time_buckets_split(-w0, 0, &b);
    cr_assert_eq(b.lo[0][0], -1);
    cr_assert_eq(b.hi[0][0], 0);
    cr_assert(b.head_since >= b.head_until && b.tail_since >= b.tail_until);
    /* negative instants floor towards minus infinity */
    cr_assert_eq(acp_time_bucket(-1, 0), -1);
    cr_assert_eq(acp_time_bucket(-w0, 0), -1);
    cr_assert_eq(acp_time_bucket(-w0 - 1, 0), -2);
    cr_assert_eq(acp_time_bucket(INT64_MIN, ACP_TIME_BUCKET_LEVELS - 1),
                 INT64_MIN >> (ACP_TIME_BUCKET_SHIFT0 + ACP_TIME_BUCKET_STEP * 5));
}
