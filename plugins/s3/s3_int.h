/* SPDX-License-Identifier: MIT */
/*
 * s3_int.h - what the files of the s3 backend share.
 *
 *   s3.c          the methods of the vtable (what is stored where, in which order)
 *   open.c        the URI and options, open/close, the per-process store registry
 *   credentials.c access keys from options, environment or the shared file
 *   http.c        requests over libcurl: signing, retries within the deadline, errors
 *   sigv4.c       AWS Signature Version 4
 *   keys.c        the object layout: key encodings and record headers
 *   xml.c         ListObjectsV2 and error responses
 *
 * plugins/s3/README.md documents the layout and the cost of each operation.
 */
#ifndef ACP_S3_INT_H
#define ACP_S3_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "acp_storage_plugin.h"

#define S3_NAME "s3"

/* Credentials; the secret and the token are never printed. */
typedef struct s3_creds {
    char *access_key;
    char *secret_key;
    char *session_token; /* or NULL */
    const char *source;  /* "URI options", "environment", "shared credentials file" */
} s3_creds;

/* The descriptor's variants (none) and typed options (open.c): the core
 * checks values against them before open. */
extern const char *const s3_variants[];
extern const acp_option_spec s3_options[];

/* Resolve credentials (see credentials.c for the order).  On failure
 * returns ACP_INVALID with a message in err. */
acp_status s3_creds_resolve(const acp_open_args *a, s3_creds *c, char *err, size_t errcap);
void s3_creds_free(s3_creds *c);

/* A growing byte buffer. */
typedef struct s3_buf {
    char *p;
    size_t len, cap;
} s3_buf;

int s3_buf_put(s3_buf *b, const void *s, size_t n);
void s3_buf_free(s3_buf *b);

/* The per-process state of one store (endpoint + bucket + prefix), shared by
 * every handle on it: the write lock and the sequence cache. */
typedef struct s3_shared s3_shared;

typedef struct s3_conf {
    char *scheme_host;  /* "http://127.0.0.1:9000" (virtual: with the bucket in the host) */
    char *host;         /* the Host header */
    char *bucket;
    int virtual_host;   /* bucket in the host name, not in the path */
    char *prefix;       /* "" or ending in '/' */
    char *region;
    int64_t timeout_ms; /* per request when the call has no deadline */
    int retries;        /* attempts after the first, when the call has no deadline */
    s3_creds creds;
    char *where;        /* "s3://bucket/prefix at endpoint" for messages: no secrets */
} s3_conf;

struct acp_backend {
    const acp_plugin_host *host;
    s3_conf conf;
    s3_shared *shared;
    pthread_mutex_t pool_mu; /* the idle curl handles */
    void **pool;
    size_t n_pool, cap_pool;
};

/* ---- http.c ---- */

/* One response. */
typedef struct s3_resp {
    long status;     /* HTTP status */
    s3_buf body;
} s3_resp;

/* One request on an object key (key NULL: the bucket) with query (canonical
 * form, "" for none) and body.  Retries 500/503 and dropped connections
 * with backoff within the call's deadline.  Returns ACP_OK with the
 * response (any HTTP status: the caller decides), or a failure reported
 * through host->error (ACP_UNAVAILABLE when the server cannot be reached).
 * Free r->body afterwards in both cases. */
acp_status s3_request(acp_backend *b, acp_call *call, const char *method, const char *key,
                      const char *query, const void *body, size_t len, s3_resp *r);
/* The same with one more (unsigned) header line, "Name: value", or NULL. */
acp_status s3_request_h(acp_backend *b, acp_call *call, const char *method, const char *key,
                        const char *query, const void *body, size_t len, const char *header,
                        s3_resp *r);

/* A failure for an unexpected response: names the S3 error code and
 * message, and maps it (403 -> ACP_INVALID naming the credential problem,
 * 404 NoSuchBucket -> ACP_NOT_FOUND, 503 -> ACP_UNAVAILABLE, else ACP_IO). */
acp_status s3_fail(acp_backend *b, acp_call *call, const char *what, const s3_resp *r);

/* GET up to S3_PARALLEL objects at once (keys[0..n)), each answer in r[i]
 * (any HTTP status); a transfer that fails or gets a 5xx is tried again
 * alone with s3_request's retries.  On failure every r[i] is freed. */
enum { S3_PARALLEL = 32 };
acp_status s3_get_parallel(acp_backend *b, acp_call *call, char *const *keys, size_t n,
                           s3_resp *r);

/* The header line "Content-MD5: <base64 of MD5(data)>" into out (AWS
 * requires it on DeleteObjects).  Returns 0, or -1 when out is too small. */
int s3_md5_base64(const void *data, size_t len, char *out, size_t cap);

/* Release the pool of curl handles. */
void s3_http_close(acp_backend *b);

/* Process-wide libcurl setup (from the vtable's init). */
int s3_http_global_init(void);

/* ---- xml.c ---- */

/* Call fn for each <Key> of a ListObjectsV2 response (decoded); sets
 * *truncated and copies NextContinuationToken into token (or ""). Returns 0,
 * fn's non-zero result, or -1 for a response that is not a listing. */
int s3_xml_list(const char *xml, size_t len, int (*fn)(void *arg, const char *key, size_t n),
                void *arg, int *truncated, char *token, size_t token_cap);

/* The text of <tag> in xml (decoded) into out; "" when absent. */
void s3_xml_text(const char *xml, size_t len, const char *tag, char *out, size_t cap);

/* ---- keys.c ---- */

enum { S3_KEY_MAX = 1100 };

/* Append the ascending (byte order) encoding of id to out: each byte as two
 * letters 'a'+nibble, then '_', with '/' after every 128 letters (keeps each
 * path segment short for file-system backed servers).  desc: inverted
 * nibbles and the terminator 'z', so that ascending key order is
 * descending id order.  Returns the new length or (size_t)-1. */
size_t s3_key_id(char *out, size_t used, size_t cap, const char *id, size_t n, int desc);

/* Decode what s3_key_id wrote (from s, up to the terminator) into out (at
 * least 257 bytes); returns the id length or -1. *end gets the position
 * after the terminator. */
int s3_key_id_decode(const char *s, size_t n, int desc, char *out, size_t cap, size_t *end);

/* The index key of a run: group prefix + inverted created time (16 letters)
 * + descending id.  group: S3_G_ALL, S3_G_AGENT, S3_G_SESSION, S3_G_PAIR. */
enum { S3_G_ALL, S3_G_AGENT, S3_G_SESSION, S3_G_PAIR, S3_G_N };
size_t s3_key_group(char *out, size_t cap, const char *prefix, int g, const char *agent,
                    size_t alen, const char *session, size_t slen);
size_t s3_key_pos(char *out, size_t used, size_t cap, int64_t created_us, const char *id,
                  size_t n);
/* Decode a position (after the group prefix) into created and id. */
int s3_key_pos_decode(const char *s, size_t n, int64_t *created_us, char *id, size_t cap,
                      size_t *id_len);

/* Object keys: "r/" run, "e/<id>/" events, "s/" session, "j/" journal. */
size_t s3_key_obj(char *out, size_t cap, const char *prefix, char kind, const char *id,
                  size_t n);
/* The key of event seq of a run: s3_key_obj('e') + '/' + 16 letters. */
size_t s3_key_event(char *out, size_t cap, const char *prefix, const char *id, size_t n,
                    int64_t seq);
int64_t s3_key_event_seq(const char *key, size_t n); /* -1 if not an event key */

/* Run object: "R1 <created_us> <agent_len> <session_len|-1>\n" agent session doc. */
typedef struct s3_run_hdr {
    int64_t created_us;
    const char *agent;
    size_t agent_len;
    const char *session; /* NULL: none */
    size_t session_len;
    const char *doc;
    size_t doc_len;
} s3_run_hdr;
int s3_run_encode(s3_buf *b, const acp_run_record *r, int64_t created_us);
int s3_run_decode(const char *p, size_t n, s3_run_hdr *h);
/* Event object: "E1 <stored_us> <doc_len>\n" doc. */
int s3_event_encode(s3_buf *b, const acp_event_record *e);
int s3_event_decode(const char *p, size_t n, int64_t *stored_us, const char **doc,
                    size_t *doc_len);

/* ---- open.c: the store registry ---- */

/* Writes of one store take the shared lock exclusively, reads shared. */
void s3_lock_write(acp_backend *b);
void s3_lock_read(acp_backend *b);
void s3_unlock(acp_backend *b);
/* The store's "a journal is pending" flag (a multi-object write failed
 * half way): read and written under the lock. */
int *s3_dirty(acp_backend *b);
/* The last sequence of run id known to this process (write lock held), or
 * -1 when unknown; s3_seq_set records one (seq -1 forgets the run). */
int64_t s3_seq_get(acp_backend *b, const char *id, size_t n);
void s3_seq_set(acp_backend *b, const char *id, size_t n, int64_t seq);

/* ---- s3.c ---- */

/* Finish every journal left by a process that died mid-write (open). */
acp_status s3_recover(acp_backend *b, acp_call *call);

#endif
