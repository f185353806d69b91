/* SPDX-License-Identifier: MIT */
/*
 * test_file_names.c - the file backend's id-to-file-name mapping, tested on
 * the plugin's own code (fmt.c): every id gets a name that is safe (stays
 * in its directory, not hidden, short enough for any file system) and no
 * two ids share one, whatever their bytes, case or escaping.
 */
#define _POSIX_C_SOURCE 200809L /* strdup */

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "fmt.h"
#include "index.h"

/* core/hash.c: the host's keyed hash (host->hash). */
uint64_t acp__hash(const void *data, size_t len);

static size_t name_of(const char *id, size_t len, char *out)
{
    size_t n = fmt_id_name(id, len, out);
    cr_assert_eq(strlen(out), n);
    return n;
}

/* Every name: [a-z0-9._%~-] only, not starting with '.', never "." or
 * "..", short enough that "<name>.json" fits 255 bytes with room. */
static void assert_safe(const char *name, size_t n)
{
    cr_assert(n >= 1);
    cr_assert(n + strlen(".json") <= 255, "name of %zu bytes", n);
    cr_assert_neq(name[0], '.', "hidden name %s", name);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                 c == '-' || c == '%' || c == '~';
        cr_assert(ok, "byte 0x%02x in name %s", (unsigned char)c, name);
    }
}

/* Inverse of the escaping, for names without '~'. */
static size_t unescape(const char *name, char *out)
{
    size_t n = 0;
    for (const char *p = name; *p; p++) {
        if (*p == '%') {
            unsigned v;
            cr_assert(sscanf(p + 1, "%2x", &v) == 1);
            out[n++] = (char)v;
            p += 2;
        } else {
            out[n++] = *p;
        }
    }
    return n;
}

Test(file_names, readable_ids_stay_readable)
{
    char name[FMT_NAME_BUF];
    const char *ids[] = {"3f9a1c2e-8b7d-4e21-9c55-0a6b1d2e3f40", "run-789", "sess_42", "a.b"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        name_of(ids[i], strlen(ids[i]), name);
        cr_assert_str_eq(name, ids[i]);
    }
}

Test(file_names, dangerous_ids_are_escaped)
{
    char name[FMT_NAME_BUF];
    struct {
        const char *id, *name;
    } cases[] = {{"/", "%2f"},       {"..", "%2e."},           {".", "%2e"},
                 {"%", "%25"},       {"a/b", "a%2fb"},         {"../x", "%2e.%2fx"},
                 {".hidden", "%2ehidden"}, {"A", "%41"},       {"%41", "%2541"},
                 {"~", "%7e"},       {"a b", "a%20b"},         {"\xc3\xa9", "%c3%a9"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = name_of(cases[i].id, strlen(cases[i].id), name);
        cr_assert_str_eq(name, cases[i].name, "id %s", cases[i].id);
        assert_safe(name, n);
    }
}

Test(file_names, ids_differing_only_in_case_or_escaping_differ)
{
    char a[FMT_NAME_BUF], b[FMT_NAME_BUF];
    const char *pairs[][2] = {{"Run", "run"}, {"ABC", "abc"}, {"%2f", "/"}, {"%25", "%"},
                              {"a%41", "aA"}, {".x", "%2ex"}, {"x.", "x%2e"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        name_of(pairs[i][0], strlen(pairs[i][0]), a);
        name_of(pairs[i][1], strlen(pairs[i][1]), b);
        cr_assert_str_neq(a, b, "%s and %s share a name", pairs[i][0], pairs[i][1]);
    }
}

Test(file_names, longest_ids_get_bounded_hashed_names)
{
    char id[257], name[FMT_NAME_BUF], other[FMT_NAME_BUF];
    /* 128 two-byte characters: 256 bytes, 768 when escaped. */
    for (int i = 0; i < 128; i++)
        memcpy(id + 2 * i, "\xc3\xa9", 2);
    size_t n = name_of(id, 256, name);
    assert_safe(name, n);
    cr_assert(strchr(name, '~'), "long id not hashed: %s", name);
    /* Same readable prefix, last byte differs. */
    id[255] = (char)0xaa;
    size_t m = name_of(id, 256, other);
    assert_safe(other, m);
    cr_assert_str_neq(name, other);
    /* 256 plain bytes: 256 > FMT_PLAIN_MAX, hashed too. */
    memset(id, 'a', 256);
    n = name_of(id, 256, name);
    assert_safe(name, n);
    cr_assert(strchr(name, '~'));
}

Test(file_names, escaped_length_boundary)
{
    char id[80], name[FMT_NAME_BUF];
    /* 66 slashes + "ab": exactly FMT_PLAIN_MAX escaped bytes, kept plain. */
    memset(id, '/', 66);
    memcpy(id + 66, "ab", 2);
    size_t n = name_of(id, 68, name);
    cr_assert_eq(n, FMT_PLAIN_MAX);
    cr_assert_null(strchr(name, '~'));
    /* One more escaped byte: hashed. */
    memset(id, '/', 67);
    memcpy(id + 67, "ab", 2);
    n = name_of(id, 69, name);
    cr_assert_not_null(strchr(name, '~'));
    assert_safe(name, n);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Many random ids over an alphabet chosen to provoke collisions (case,
 * '%', '.', hex digits, multibyte, '/'): all names distinct, safe, and plain
 * names decode back to their id. */
Test(file_names, random_ids_never_collide)
{
    static const char *const alphabet[] = {"a", "A", "f", "F", "2", "5", "%", ".", "/",
                                           "~", "-", "\xc3\xa9", "\xe2\x82\xac", " ", "\t"};
    enum { N = 60000 };
    char **names = malloc(N * sizeof *names);
    cr_assert_not_null(names);
    uint64_t rng = 88172645463325252u;
    for (int i = 0; i < N; i++) {
        char id[260];
        size_t len = 0;
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        /* Mostly short ids (dense in collisions), some long ones. */
        size_t target = i % 10 == 0 ? 1 + rng % 248 : 1 + rng % 6;
        while (len < target) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            const char *t = alphabet[rng % (sizeof alphabet / sizeof alphabet[0])];
            size_t tl = strlen(t);
            if (len + tl > target)
                break;
            memcpy(id + len, t, tl);
            len += tl;
        }
        /* A unique tag keeps the ids distinct (at most 256 bytes in all). */
        len += (size_t)snprintf(id + len, sizeof id - len, "#%d", i);
        char name[FMT_NAME_BUF];
        size_t n = name_of(id, len, name);
        assert_safe(name, n);
        if (!strchr(name, '~')) {
            char back[FMT_NAME_BUF];
            size_t bl = unescape(name, back);
            cr_assert(bl == len && memcmp(back, id, len) == 0, "name %s does not decode", name);
        }
        names[i] = strdup(name);
    }
    qsort(names, N, sizeof *names, cmp_str);
    size_t dups = 0;
    for (int i = 1; i < N; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            dups++;
    cr_assert_eq(dups, 0, "%zu names shared by different ids", dups);
    for (int i = 0; i < N; i++)
        free(names[i]);
    free(names);
}

Test(file_names, crc32c_matches_the_standard_check_value)
{
    /* CRC-32C("123456789") = 0xE3069283 (RFC 3720). */
    cr_assert_eq(acp_crc32c(0, "123456789", 9), 0xE3069283u);
    char big[1000];
    for (int i = 0; i < 1000; i++)
        big[i] = (char)(i * 7);
    /* Chunked equals whole, at every alignment. */
    uint32_t whole = acp_crc32c(0, big, sizeof big);
    for (size_t cut = 0; cut < 17; cut++)
        cr_assert_eq(acp_crc32c(acp_crc32c(0, big, cut), big + cut, sizeof big - cut), whole);
}

Test(file_names, sha256_matches_known_digests)
{
    uint8_t h[32];
    fmt_sha256("abc", 3, h);
    static const uint8_t abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
                                    0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
                                    0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
                                    0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    cr_assert_arr_eq(h, abc, 32);
    /* 56 bytes: the padding spills into a second block. */
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    fmt_sha256(m, strlen(m), h);
    static const uint8_t mh[32] = {0x24, 0x8d, 0x6a, 0x61, 0xd2, 0x06, 0x38, 0xb8,
                                   0xe5, 0xc0, 0x26, 0x93, 0x0c, 0x3e, 0x60, 0x39,
                                   0xa3, 0x3c, 0xe4, 0x59, 0x64, 0xff, 0x21, 0x67,
                                   0xf6, 0xec, 0xed, 0xd4, 0x19, 0xdb, 0x06, 0xc1};
    cr_assert_arr_eq(h, mh, 32);
}

/* ---- hashing of client-chosen ids (issue 13, item 9) ------------------------ */

/* The unseeded FNV-1a the index used to hash ids with. */
static uint64_t fnv1a64(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = UINT64_C(14695981039346656037);
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * UINT64_C(1099511628211);
    return h;
}

/* The longest chain of m. */
static size_t longest_chain(const hmap *m)
{
    size_t worst = 0;
    for (size_t i = 0; i < m->nb; i++) {
        size_t n = 0;
        for (const hlink *l = m->b[i]; l; l = l->next)
            n++;
        if (n > worst)
            worst = n;
    }
    return worst;
}

/* N ids that a client could pick so that they share one bucket of every
 * power-of-two table up to 4096 buckets under FNV-1a, in a table hashed
 * with fn; returns its longest chain. */
static size_t chain_with(uint64_t (*fn)(const void *, size_t))
{
    enum { N = 2000 };
    static char ids[N][24];
    static hlink links[N];
    size_t n = 0;
    for (unsigned i = 0; n < N; i++) {
        int len = snprintf(ids[n], sizeof ids[n], "run-%u", i);
        if ((fnv1a64(ids[n], (size_t)len) & 0xfff) != 0x123)
            continue;
        links[n].key = ids[n];
        links[n].key_len = (size_t)len;
        n++;
    }
    hmap m;
    cr_assert_eq(hmap_init(&m, fn), 0);
    for (size_t i = 0; i < N; i++)
        hmap_add(&m, &links[i]);
    for (size_t i = 0; i < N; i++) /* every id is found */
        cr_assert_eq(hmap_get(&m, ids[i], strlen(ids[i])), &links[i]);
    size_t worst = longest_chain(&m);
    free(m.b);
    return worst;
}

Test(file_names, ids_that_collide_under_fnv_spread_under_the_keyed_hash)
{
    /* The attack works on the old hash: one chain holds every id. */
    cr_assert_eq(chain_with(fnv1a64), 2000);
    /* The host's keyed hash spreads them like any ids (2000 keys in 2048
     * buckets: the longest chain stays short). */
    size_t worst = chain_with(acp__hash);
    cr_assert_leq(worst, 12, "longest chain %zu under the keyed hash", worst);
}

Test(file_names, event_documents_read_back_must_be_objects_with_a_type)
{
    static const char *const good[] = {"{\"type\":\"t\"}", " {\"a\":1, \"type\" : \"x.y\"}",
                                       "{\"type\":\"\\u0041\"}"};
    static const char *const bad[] = {"[1,2]", "{}", "{\"type\":\"\"}", "{\"type\":1}",
                                      "\"type\"", "", "{\"types\":\"t\"}", "{\"type\"}"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_assert(fmt_event_doc_ok(good[i], strlen(good[i])), "%s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert(!fmt_event_doc_ok(bad[i], strlen(bad[i])), "%s", bad[i]);
}

Test(file_names, only_a_cut_record_is_a_torn_tail)
{
    /* A record cut anywhere before its end does not end as whole records
     * end; one that is all there does, whatever is wrong inside it. */
    const char *rec = "{\"seq\":1,\"stored_us\":5,\"doc_len\":12,\"event\":{\"type\":\"t\"},"
                      "\"crc\":\"0123abcd\"}\n";
    size_t n = strlen(rec);
    for (size_t cut = 0; cut < n; cut++)
        cr_assert(!fmt_ends_whole(rec, cut), "cut at %zu", cut);
    cr_assert(fmt_ends_whole(rec, n));
}
