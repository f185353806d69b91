/* SPDX-License-Identifier: MIT */
/*
 * sigv4.c - AWS Signature Version 4 (see sigv4.h).  Written here rather
 * than through libcurl's CURLOPT_AWS_SIGV4 so that every request is signed
 * the same way whatever the libcurl version, and so that the signer can be
 * checked against AWS's published examples (tests/s3/test_sigv4.c).
 */
#include "sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

static const char hexdig[] = "0123456789abcdef";

static void to_hex(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig[b[i] >> 4];
        out[2 * i + 1] = hexdig[b[i] & 15];
    }
    out[2 * n] = '\0';
}

void s3_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    to_hex(md, 32, out);
}

static int hmac(const unsigned char *key, size_t klen, const char *msg, size_t mlen,
                unsigned char out[32])
{
    unsigned int n = 32;
    return HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, mlen, out, &n) ? 0
                                                                                        : -1;
}

int s3_sigv4_signing_key(const char *secret_key, const char *date, const char *region,
                         const char *service, unsigned char out[32])
{
    size_t sl = strlen(secret_key);
    char *k = malloc(sl + 5);
    if (!k)
        return -1;
    memcpy(k, "AWS4", 4);
    memcpy(k + 4, secret_key, sl + 1);
    unsigned char a[32], b[32];
    int rc = hmac((const unsigned char *)k, sl + 4, date, strlen(date), a) ||
             hmac(a, 32, region, strlen(region), b) || hmac(b, 32, service, strlen(service), a) ||
             hmac(a, 32, "aws4_request", 12, out);
    OPENSSL_cleanse(k, sl + 4);
    free(k);
    return rc ? -1 : 0;
}

size_t s3_uri_encode(const char *s, size_t len, int keep_slash, char *out, size_t used,
                     size_t cap)
{
    static const char up[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/');
        if (used + (plain ? 1 : 3) >= cap)
            return (size_t)-1;
        if (plain) {
            out[used++] = (char)c;
        } else {
            out[used++] = '%';
            out[used++] = up[c >> 4];
            out[used++] = up[c & 15];
        }
    }
    out[used] = '\0';
    return used;
}

/* A growing text buffer; ok turns 0 on the first failure. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    int ok;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (!b->ok)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->ok = 0;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void puts_(sbuf *b, const char *s)
{
    if (!s) { /* a NULL member of the request: the signature will not match */
        b->ok = 0;
        return;
    }
    put(b, s, strlen(s));
}

int s3_sigv4_authorization(const s3_sig_req *r, char *out, size_t cap)
{
    /* Headers sorted by name (few: insertion sort). */
    const s3_header *h[16] = {0};
    if (r->n_headers > 16)
        return -1;
    for (size_t i = 0; i < r->n_headers; i++) {
        size_t j = i;
        while (j > 0 && strcmp(h[j - 1]->name, r->headers[i].name) > 0) {
            h[j] = h[j - 1];
            j--;
        }
        h[j] = &r->headers[i];
    }
    sbuf signed_h = {0}, creq = {0};
    signed_h.ok = creq.ok = 1;
    for (size_t i = 0; i < r->n_headers; i++) {
        if (i)
            puts_(&signed_h, ";");
        puts_(&signed_h, h[i]->name);
    }
    puts_(&creq, r->method);
    puts_(&creq, "\n");
    puts_(&creq, r->canonical_uri);
    puts_(&creq, "\n");
    puts_(&creq, r->canonical_query);
    puts_(&creq, "\n");
    for (size_t i = 0; i < r->n_headers; i++) {
        puts_(&creq, h[i]->name);
        puts_(&creq, ":");
        puts_(&creq, h[i]->value);
        puts_(&creq, "\n");
    }
    puts_(&creq, "\n");
    puts_(&creq, signed_h.ok ? signed_h.p : "");
    puts_(&creq, "\n");
    puts_(&creq, r->payload_hash);
    int rc = -1;
    if (creq.ok && signed_h.ok) {
        char creq_hash[65], date[9], scope[256], sts[512];
        s3_sha256_hex(creq.p, creq.len, creq_hash);
        memcpy(date, r->amz_date, 8);
        date[8] = '\0';
        int n = snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", date, r->region,
                         r->service);
        int m = snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", r->amz_date, scope,
                         creq_hash);
        unsigned char key[32], sig[32];
        char sig_hex[65];
        if (n > 0 && (size_t)n < sizeof scope && m > 0 && (size_t)m < sizeof sts &&
            s3_sigv4_signing_key(r->secret_key, date, r->region, r->service, key) == 0 &&
            hmac(key, 32, sts, (size_t)m, sig) == 0) {
            to_hex(sig, 32, sig_hex);
            int k = snprintf(out, cap,
                             "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                             r->access_key, scope, signed_h.p, sig_hex);
            rc = k > 0 && (size_t)k < cap ? 0 : -1;
        }
        OPENSSL_cleanse(key, sizeof key);
    }
    free(signed_h.p);
    free(creq.p);
    return rc;
}
