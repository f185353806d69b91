/* SPDX-License-Identifier: MIT */
/*
 * test_hash.c - the keyed hash (core/hash.c, host->hash) and the memory
 * backend's tables under ids chosen to collide (issue 13 item 9).
 *
 * The memory backend is compiled into this test (its tables are internal),
 * so the test can count how many nodes a lookup walks: the probe length.
 * Ids are generated whose unkeyed FNV-1a hashes share their low bits, so
 * that with FNV-1a every one of them lands in the same bucket of any table
 * up to 2^BITS buckets; under the keyed hash they spread out.
 */
#include "../../plugins/memory/memory.c"

#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

uint64_t acp__hash(const void *data, size_t len);
uint64_t acp__siphash13(uint64_t k0, uint64_t k1, const void *data, size_t len);
uint64_t acp__siphash24(uint64_t k0, uint64_t k1, const void *data, size_t len);

#define N_IDS 2000
#define BITS 11 /* 2048 buckets: where the table stands after 2000 inserts */

static uint64_t fnv1a(const void *data, size_t len)
{
    const unsigned char *s = data;
    uint64_t h = UINT64_C(14695981039346656037);
    for (size_t i = 0; i < len; i++)
        h = (h ^ s[i]) * UINT64_C(1099511628211);
    return h;
}

Test(hash, siphash_matches_the_reference_vectors)
{
    /* The SipHash paper's vectors: key 00..0f, messages 00, 00 01, ... */
    unsigned char in[64];
    for (int i = 0; i < 64; i++)
        in[i] = (unsigned char)i;
    uint64_t k0 = UINT64_C(0x0706050403020100), k1 = UINT64_C(0x0f0e0d0c0b0a0908);
    cr_expect_eq(acp__siphash24(k0, k1, in, 0), UINT64_C(0x726fdb47dd0e0e31));
    cr_expect_eq(acp__siphash24(k0, k1, in, 15), UINT64_C(0xa129ca6149be45e5));
    /* SipHash-1-3 is the same code with fewer rounds: at least not 2-4. */
    cr_expect_neq(acp__siphash13(k0, k1, in, 15), acp__siphash24(k0, k1, in, 15));
}

Test(hash, keyed_stable_within_a_process_different_across_processes)
{
    int fd[2];
    cr_assert_eq(pipe(fd), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) { /* a fresh key: nothing hashed before the fork */
        uint64_t h = acp__hash("run-1", 5);
        _exit(write(fd[1], &h, sizeof h) == sizeof h ? 0 : 1);
    }
    uint64_t child = 0, mine = acp__hash("run-1", 5);
    cr_assert_eq(read(fd[0], &child, sizeof child), (ssize_t)sizeof child);
    waitpid(pid, NULL, 0);
    cr_expect_eq(acp__hash("run-1", 5), mine, "not stable within the process");
    cr_expect_neq(child, mine, "two processes drew the same key");
    cr_expect_neq(mine, acp__siphash13(0, 0, "run-1", 5), "the key is zero");
    cr_expect_neq(acp__hash("run-1", 5), acp__hash("run-2", 5));
}

/* N_IDS ids whose FNV-1a hashes agree on the low BITS bits. */
static char (*colliding_ids(void))[32]
{
    static char ids[N_IDS][32];
    uint64_t want = fnv1a("attack-0", 8) & ((1u << BITS) - 1);
    int n = 0;
    for (uint64_t i = 0; n < N_IDS; i++) {
        int len = snprintf(ids[n], sizeof ids[n], "attack-%llu", (unsigned long long)i);
        if ((fnv1a(ids[n], (size_t)len) & ((1u << BITS) - 1)) == want)
            n++;
    }
    return ids;
}

static int64_t fake_now(void)
{
    return 0;
}
static int fake_emit(acp_call *call, const acp_item *item)
{
    (void)call, (void)item;
    return 0;
}
static acp_status fake_error(acp_call *call, acp_status code, const char *fmt, ...)
{
    (void)call, (void)fmt;
    return code;
}

/* Save every id as a run into a memory store whose tables use `hash`, and
 * return the longest chain: the most nodes any lookup walks. */
static size_t longest_chain(uint64_t (*hash)(const void *, size_t), char (*ids)[32])
{
    acp_plugin_host host = {0};
    host.size = sizeof host;
    host.emit = fake_emit;
    host.error = fake_error;
    host.now_us = fake_now;
    host.hash = hash;
    acp_open_args args = {0};
    args.variant = "";
    acp_backend *b = NULL;
    cr_assert_eq(vtable.open(&host, &args, &b, NULL), ACP_OK);
    for (int i = 0; i < N_IDS; i++) {
        acp_run_record r = {0};
        r.run_id = ids[i];
        r.run_id_len = strlen(ids[i]);
        r.agent_name = "a";
        r.agent_name_len = 1;
        r.status = "created";
        r.doc = "{}";
        r.doc_len = 2;
        cr_assert_eq(vtable.save_run(b, &r, NULL), ACP_OK);
    }
    cr_assert_eq(b->runs.count, (size_t)N_IDS);
    cr_assert_leq(b->runs.nbuckets, (size_t)1 << BITS,
                  "the table grew past 2^BITS buckets: raise BITS");
    size_t longest = 0;
    for (size_t i = 0; i < b->runs.nbuckets; i++) {
        size_t len = 0;
        for (node *e = b->runs.buckets[i]; e; e = e->next)
            len++;
        if (len > longest)
            longest = len;
    }
    for (int i = 0; i < N_IDS; i++) /* and every one is found */
        cr_assert_eq(vtable.get_run(b, ids[i], NULL), ACP_OK);
    vtable.close(b);
    return longest;
}

Test(hash, ids_colliding_under_fnv1a_do_not_collide_in_the_memory_tables)
{
    char (*ids)[32] = colliding_ids();
    /* The attack works against an unkeyed FNV-1a table: one chain. */
    size_t fnv = longest_chain(fnv1a, ids);
    cr_assert_eq(fnv, (size_t)N_IDS, "the generated ids do not collide under FNV-1a (%zu)", fnv);
    /* Under the host's keyed hash, 2000 ids in 2048 buckets: the longest
     * chain of random placement is about 6; 16 leaves a wide margin. */
    size_t keyed = longest_chain(acp__hash, ids);
    cr_expect_leq(keyed, 16, "longest chain %zu of %d colliding ids", keyed, N_IDS);
    cr_log_info("longest chain of %d FNV-colliding ids: %zu under FNV-1a, %zu under host->hash",
                N_IDS, fnv, keyed);
}
