/* SPDX-License-Identifier: MIT */
/*
 * sigv4.h - AWS Signature Version 4 (HMAC-SHA256 through OpenSSL's
 * libcrypto): the canonical request, the string to sign, the signing key
 * and the Authorization header.  Pure functions, no I/O, thread-safe.
 */
#ifndef ACP_S3_SIGV4_H
#define ACP_S3_SIGV4_H

#include <stddef.h>

/* One header to sign: name in lower case, value trimmed. */
typedef struct s3_header {
    const char *name;
    const char *value;
} s3_header;

/* What is signed.  canonical_uri is the path as sent, already
 * percent-encoded (s3_uri_encode); canonical_query is the query as sent,
 * already in canonical form (sorted, encoded; "" for none). */
typedef struct s3_sig_req {
    const char *method;
    const char *canonical_uri;
    const char *canonical_query;
    const s3_header *headers; /* any order; sorted here by name */
    size_t n_headers;
    const char *payload_hash; /* hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
    const char *amz_date;     /* "YYYYMMDDTHHMMSSZ" */
    const char *region;
    const char *service;      /* "s3" */
    const char *access_key;
    const char *secret_key;
} s3_sig_req;

/* Lower-case hex SHA-256 of data into out (65 bytes with the NUL). */
void s3_sha256_hex(const void *data, size_t len, char out[65]);

/* The value of the Authorization header for r into out (NUL-terminated).
 * Returns 0, or -1 when out is too small or out of memory. */
int s3_sigv4_authorization(const s3_sig_req *r, char *out, size_t cap);

/* The signing key (32 bytes) for a date ("YYYYMMDD"), region and service:
 * exposed for the unit test of the derivation. Returns 0 or -1. */
int s3_sigv4_signing_key(const char *secret_key, const char *date, const char *region,
                         const char *service, unsigned char out[32]);

/* Percent-encode s (len bytes) as SigV4 wants: every byte but A-Z a-z 0-9
 * - _ . ~ (and '/' when keep_slash) becomes %XX (upper-case hex).  Appends
 * to out (cap bytes, NUL-terminated); returns the new length, or (size_t)-1
 * when out is too small. */
size_t s3_uri_encode(const char *s, size_t len, int keep_slash, char *out, size_t used,
                     size_t cap);

#endif
