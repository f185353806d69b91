/* SPDX-License-Identifier: MIT */
/*
 * keys.c - the object layout of the s3 backend (plugins/s3/README.md):
 * how ids, times and sequences become keys whose byte order is the order
 * listings need, and the small headers in front of stored documents.
 *
 * Ids are written as letters 'a'..'p' (one per nibble), not hex: with a
 * terminator below every letter ('_') a shorter id sorts first, and '/'
 * (inserted every 128 letters so that no path segment is long, for servers
 * that keep objects as files) sorts below the terminator, so a key that
 * continues in a further segment sorts where its bytes say.  Descending
 * order uses inverted nibbles and a terminator above every letter ('z').
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "s3_int.h"

#define SEG 128 /* letters per path segment */

int s3_buf_put(s3_buf *b, const void *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

void s3_buf_free(s3_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Append letters (with a '/' every SEG of them, counted from start). */
static size_t put_letters(char *out, size_t used, size_t cap, size_t start, const char *l,
                          size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((used - start) % (SEG + 1) == SEG) {
            if (used + 1 >= cap)
                return (size_t)-1;
            out[used++] = '/';
        }
        if (used + 1 >= cap)
            return (size_t)-1;
        out[used++] = l[i];
    }
    out[used] = '\0';
    return used;
}

/* The letters of id (inverted for desc) plus the terminator, segmented
 * from start. */
static size_t id_letters(char *out, size_t used, size_t cap, size_t start, const char *id,
                         size_t n, int desc)
{
    for (size_t i = 0; i < n && used != (size_t)-1; i++) {
        unsigned char c = (unsigned char)id[i];
        if (desc)
            c = (unsigned char)~c;
        char l[2] = {(char)('a' + (c >> 4)), (char)('a' + (c & 15))};
        used = put_letters(out, used, cap, start, l, 2);
    }
    if (used == (size_t)-1)
        return used;
    return put_letters(out, used, cap, start, desc ? "z" : "_", 1);
}

size_t s3_key_id(char *out, size_t used, size_t cap, const char *id, size_t n, int desc)
{
    return id_letters(out, used, cap, used, id, n, desc);
}

int s3_key_id_decode(const char *s, size_t n, int desc, char *out, size_t cap, size_t *end)
{
    size_t o = 0;
    int half = -1;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '/')
            continue;
        if (ch == (desc ? 'z' : '_')) {
            if (half >= 0)
                return -1;
            *end = i + 1;
            if (o >= cap)
                return -1;
            out[o] = '\0';
            return (int)o;
        }
        if (ch < 'a' || ch > 'p')
            return -1;
        if (half < 0) {
            half = ch - 'a';
        } else {
            unsigned char c = (unsigned char)(half << 4 | (ch - 'a'));
            if (desc)
                c = (unsigned char)~c;
            if (o + 1 >= cap)
                return -1;
            out[o++] = (char)c;
            half = -1;
        }
    }
    return -1;
}

/* 16 letters of v, most significant nibble first. */
static void u64_letters(uint64_t v, char l[16])
{
    for (int i = 15; i >= 0; i--, v >>= 4)
        l[i] = (char)('a' + (v & 15));
}

static int letters_u64(const char *l, uint64_t *v)
{
    uint64_t x = 0;
    for (int i = 0; i < 16; i++) {
        if (l[i] < 'a' || l[i] > 'p')
            return -1;
        x = x << 4 | (uint64_t)(l[i] - 'a');
    }
    *v = x;
    return 0;
}

size_t s3_key_group(char *out, size_t cap, const char *prefix, int g, const char *agent,
                    size_t alen, const char *session, size_t slen)
{
    static const char *const names[S3_G_N] = {"i/all/", "i/a/", "i/s/", "i/p/"};
    int n = snprintf(out, cap, "%s%s", prefix, names[g]);
    if (n < 0 || (size_t)n >= cap)
        return (size_t)-1;
    if (g == S3_G_ALL)
        return (size_t)n;
    /* Names of any length map to a fixed-width SHA-256: the key stays
     * short, and no two names share a group. */
    EVP_MD_CTX *x = EVP_MD_CTX_new();
    unsigned char md[32];
    unsigned int mdl = 0;
    int ok = x && EVP_DigestInit_ex(x, EVP_sha256(), NULL);
    if (ok && (g == S3_G_AGENT || g == S3_G_PAIR))
        ok = EVP_DigestUpdate(x, agent, alen) && EVP_DigestUpdate(x, "", 1);
    if (ok && (g == S3_G_SESSION || g == S3_G_PAIR))
        ok = EVP_DigestUpdate(x, session, slen);
    ok = ok && EVP_DigestFinal_ex(x, md, &mdl);
    EVP_MD_CTX_free(x);
    if (!ok || (size_t)n + 66 >= cap)
        return (size_t)-1;
    for (int i = 0; i < 32; i++) {
        out[n++] = "0123456789abcdef"[md[i] >> 4];
        out[n++] = "0123456789abcdef"[md[i] & 15];
    }
    out[n++] = '/';
    out[n] = '\0';
    return (size_t)n;
}

size_t s3_key_pos(char *out, size_t used, size_t cap, int64_t created_us, const char *id,
                  size_t n)
{
    /* Newest first: the order-preserving unsigned image of the time,
     * inverted. */
    char l[16];
    u64_letters(~((uint64_t)created_us ^ 0x8000000000000000u), l);
    size_t start = used;
    used = put_letters(out, used, cap, start, l, 16);
    return used == (size_t)-1 ? used : id_letters(out, used, cap, start, id, n, 1);
}

int s3_key_pos_decode(const char *s, size_t n, int64_t *created_us, char *id, size_t cap,
                      size_t *id_len)
{
    uint64_t v;
    if (n < 16 || letters_u64(s, &v) != 0)
        return -1;
    *created_us = (int64_t)(~v ^ 0x8000000000000000u);
    size_t end;
    int len = s3_key_id_decode(s + 16, n - 16, 1, id, cap, &end);
    if (len < 0 || end + 16 != n)
        return -1;
    *id_len = (size_t)len;
    return 0;
}

size_t s3_key_obj(char *out, size_t cap, const char *prefix, char kind, const char *id,
                  size_t n)
{
    int k = snprintf(out, cap, "%s%c/", prefix, kind);
    if (k < 0 || (size_t)k >= cap)
        return (size_t)-1;
    return s3_key_id(out, (size_t)k, cap, id, n, 0);
}

size_t s3_key_event(char *out, size_t cap, const char *prefix, const char *id, size_t n,
                    int64_t seq)
{
    size_t used = s3_key_obj(out, cap, prefix, 'e', id, n);
    if (used == (size_t)-1 || used + 18 >= cap)
        return (size_t)-1;
    out[used++] = '/';
    u64_letters((uint64_t)seq, out + used);
    used += 16;
    out[used] = '\0';
    return used;
}

int64_t s3_key_event_seq(const char *key, size_t n)
{
    uint64_t v;
    if (n < 17 || key[n - 17] != '/' || letters_u64(key + n - 16, &v) != 0 || v > INT64_MAX)
        return -1;
    return (int64_t)v;
}

/* ---- record headers ---- */

int s3_run_encode(s3_buf *b, const acp_run_record *r, int64_t created_us)
{
    char h[96];
    int n = snprintf(h, sizeof h, "R1 %" PRId64 " %zu %lld\n", created_us, r->agent_name_len,
                     r->session_id ? (long long)r->session_id_len : -1LL);
    return s3_buf_put(b, h, (size_t)n) || s3_buf_put(b, r->agent_name, r->agent_name_len) ||
                   (r->session_id && s3_buf_put(b, r->session_id, r->session_id_len)) ||
                   s3_buf_put(b, r->doc, r->doc_len)
               ? -1
               : 0;
}

/* A decimal integer ending at the separator sep; advances *p. */
static int parse_num(const char **p, const char *end, char sep, long long *v)
{
    const char *s = *p;
    int neg = s < end && *s == '-';
    if (neg)
        s++;
    if (s >= end || *s < '0' || *s > '9')
        return -1;
    unsigned long long x = 0;
    for (; s < end && *s >= '0' && *s <= '9'; s++) {
        if (x > ((unsigned long long)INT64_MAX / 5))
            return -1;
        x = x * 10 + (unsigned long long)(*s - '0');
    }
    if (s >= end || *s != sep || x > (unsigned long long)INT64_MAX + (neg ? 1u : 0u))
        return -1;
    *v = neg ? (long long)(0 - x) : (long long)x;
    *p = s + 1;
    return 0;
}

int s3_run_decode(const char *p, size_t n, s3_run_hdr *h)
{
    const char *end = p + n, *s = p + 3;
    long long created, alen, slen;
    if (n < 3 || memcmp(p, "R1 ", 3) || parse_num(&s, end, ' ', &created) ||
        parse_num(&s, end, ' ', &alen) || parse_num(&s, end, '\n', &slen) || alen < 0 ||
        slen < -1)
        return -1;
    size_t left = (size_t)(end - s), sl = slen < 0 ? 0 : (size_t)slen;
    if ((unsigned long long)alen > left || sl > left - (size_t)alen)
        return -1;
    h->created_us = created;
    h->agent = s;
    h->agent_len = (size_t)alen;
    h->session = slen < 0 ? NULL : s + alen;
    h->session_len = sl;
    h->doc = s + alen + sl;
    h->doc_len = left - (size_t)alen - sl;
    return h->doc_len ? 0 : -1;
}

int s3_event_encode(s3_buf *b, const acp_event_record *e)
{
    char h[64];
    int n = snprintf(h, sizeof h, "E1 %" PRId64 " %zu\n", e->stored_us, e->doc_len);
    return s3_buf_put(b, h, (size_t)n) || s3_buf_put(b, e->doc, e->doc_len) ? -1 : 0;
}

int s3_event_decode(const char *p, size_t n, int64_t *stored_us, const char **doc,
                    size_t *doc_len)
{
    const char *end = p + n, *s = p + 3;
    long long t, len;
    if (n < 3 || memcmp(p, "E1 ", 3) || parse_num(&s, end, ' ', &t) ||
        parse_num(&s, end, '\n', &len) || len <= 0 || (size_t)(end - s) != (size_t)len)
        return -1;
    *stored_us = t;
    *doc = s;
    *doc_len = (size_t)len;
    return 0;
}
