/* SPDX-License-Identifier: MIT */
/*
 * s3.c - acp-storage-bench-s3: the s3 backend's put and get against raw
 * libcurl requests, signed with the same SigV4 code, to the same server in
 * the same run (docs/performance.md, "s3 backend").
 *
 *   acp-storage-bench-s3 --endpoint http://127.0.0.1:PORT [--bucket B]
 *                        [--ops N] [--doc BYTES] [--rounds R] [--json]
 *
 * put: acp_event_add (one PUT of the event object; the run's sequence is
 *      known after the first append) vs a raw PUT of an object of the same
 *      size;
 * get: acp_run_get (one GET of the run object) vs a raw GET of an object of
 *      the same size.
 * The raw client is the least a program must do: one curl handle kept
 * alive, sign, send, read the body.  Store and raw alternate one
 * operation at a time; each side's rate is 1 / its median latency over
 * ops x rounds operations.  Credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
 * else S3RVER/S3RVER (the test server's).  Prints no verdict: the ratio is
 * for the reader (a timed assertion would fail on a busy machine).
 */
#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "acp_storage.h"
#include "sigv4.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the raw client ---- */

typedef struct raw {
    CURL *c;
    const char *endpoint, *host, *bucket, *ak, *sk;
    char *buf;
    size_t len, cap;
} raw;

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    raw *r = arg;
    size_t k = size * n;
    if (r->len + k > r->cap) {
        size_t cap = (r->len + k) * 2;
        char *b = realloc(r->buf, cap);
        if (!b)
            return 0;
        r->buf = b;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, p, k);
    r->len += k;
    return k;
}

/* One signed request; returns the HTTP status or -1. */
static long raw_request(raw *r, const char *method, const char *key, const char *body,
                        size_t len)
{
    char path[512], url[1024], date[17], sha[65], auth[512], h[4][600];
    snprintf(path, sizeof path, "/%s/%s", r->bucket, key);
    snprintf(url, sizeof url, "%s%s", r->endpoint, path);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%Y%m%dT%H%M%SZ", &tm);
    s3_sha256_hex(body ? body : "", body ? len : 0, sha);
    s3_header sh[] = {{"host", r->host}, {"x-amz-content-sha256", sha}, {"x-amz-date", date}};
    s3_sig_req sr = {method, path, "", sh, 3, sha, date, "us-east-1", "s3", r->ak, r->sk};
    if (s3_sigv4_authorization(&sr, auth, sizeof auth) != 0)
        return -1;
    snprintf(h[0], sizeof h[0], "Authorization: %s", auth);
    snprintf(h[1], sizeof h[1], "x-amz-content-sha256: %s", sha);
    snprintf(h[2], sizeof h[2], "x-amz-date: %s", date);
    struct curl_slist *hl = NULL;
    for (int i = 0; i < 3; i++)
        hl = curl_slist_append(hl, h[i]);
    hl = curl_slist_append(hl, "Expect:");
    hl = curl_slist_append(hl, "Content-Type: application/octet-stream");
    curl_easy_reset(r->c);
    curl_easy_setopt(r->c, CURLOPT_URL, url);
    curl_easy_setopt(r->c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(r->c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(r->c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(r->c, CURLOPT_TCP_NODELAY, 1L);
    if (body) {
        curl_easy_setopt(r->c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(r->c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(r->c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    r->len = 0;
    long status = -1;
    if (curl_easy_perform(r->c) == CURLE_OK)
        curl_easy_getinfo(r->c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hl);
    return status;
}

/* ---- the comparison ---- */

typedef struct ctx {
    acp_store *store;
    raw raw;
    int ops;
    char *event;    /* the event document */
    size_t event_len;
    char *stored;   /* what the backend stores for it (same size) */
    size_t stored_len;
    char *run_stored;
    size_t run_stored_len;
    int n_runs;
} ctx;

static int fail(const char *what, acp_error *e)
{
    fprintf(stderr, "acp-storage-bench-s3: %s: %s\n", what, e ? e->message : "");
    return -1;
}

/* ops of one kind on one side; returns seconds or -1. */
static double side(ctx *x, int put, int store, int from, int n)
{
    acp_error e;
    char key[128];
    double t0 = now_s();
    for (int i = from; i < from + n; i++) {
        if (store && put) {
            if (acp_event_add(x->store, "bench-run", x->event, x->event_len, NULL, &e) != ACP_OK)
                return fail("event add", &e);
        } else if (store) {
            char *json;
            size_t len;
            snprintf(key, sizeof key, "bench-get-%d", i % x->n_runs);
            if (acp_run_get(x->store, key, &json, &len, &e) != ACP_OK)
                return fail("run get", &e);
            acp_free(json);
        } else if (put) {
            snprintf(key, sizeof key, "bench-raw/e/%08d", i);
            if (raw_request(&x->raw, "PUT", key, x->stored, x->stored_len) != 200)
                return fail("raw PUT", NULL);
        } else {
            snprintf(key, sizeof key, "bench-raw/r/%d", i % x->n_runs);
            if (raw_request(&x->raw, "GET", key, NULL, 0) != 200 ||
                x->raw.len != x->run_stored_len)
                return fail("raw GET", NULL);
        }
    }
    return now_s() - t0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const char *endpoint = NULL, *bucket = "acp-test";
    int ops = 1000, doc = 512, rounds = 3, json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--endpoint") && i + 1 < argc)
            endpoint = argv[++i];
        else if (!strcmp(argv[i], "--bucket") && i + 1 < argc)
            bucket = argv[++i];
        else if (!strcmp(argv[i], "--ops") && i + 1 < argc)
            ops = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--doc") && i + 1 < argc)
            doc = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json"))
            json = 1;
        else {
            fprintf(stderr, "usage: %s --endpoint URL [--bucket B] [--ops N] [--doc BYTES] "
                            "[--rounds R] [--json]\n", argv[0]);
            return 2;
        }
    }
    if (!endpoint || ops < 50 || doc < 64 || rounds < 1 || rounds > 99) {
        fprintf(stderr, "acp-storage-bench-s3: --endpoint is required; --ops >= 50, "
                        "--doc >= 64, --rounds 1..99\n");
        return 2;
    }
    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    if (!ak || !sk)
        ak = sk = "S3RVER";
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ctx x = {0};
    x.ops = ops;
    x.raw.c = curl_easy_init();
    x.raw.endpoint = endpoint;
    x.raw.host = strstr(endpoint, "://") ? strstr(endpoint, "://") + 3 : endpoint;
    x.raw.bucket = bucket;
    x.raw.ak = ak;
    x.raw.sk = sk;

    char prefix[64], *uri = NULL;
    snprintf(prefix, sizeof prefix, "bench-s3-%d-%ld", (int)getpid(), (long)time(NULL));
    if (asprintf(&uri, "s3://%s/%s?endpoint=%s&access_key_id=%s&secret_access_key=%s", bucket,
                 prefix, endpoint, ak, sk) < 0)
        return 1;
    acp_error e;
    if (acp_store_open(uri, &x.store, &e) != ACP_OK)
        return fail("open", &e), 1;
    /* Documents: an event of `doc` bytes; what the backend stores for it
     * ("E1 <time> <len>\n" + doc) is what the raw side PUTs. */
    x.event = malloc((size_t)doc + 1);
    int n = snprintf(x.event, (size_t)doc + 1, "{\"type\":\"bench\",\"pad\":\"");
    memset(x.event + n, 'x', (size_t)(doc - n - 2));
    memcpy(x.event + doc - 2, "\"}", 3);
    x.event_len = (size_t)doc;
    x.stored = malloc((size_t)doc + 64);
    x.stored_len = (size_t)snprintf(x.stored, (size_t)doc + 64, "E1 1765000000000000 %d\n%s",
                                    doc, x.event);
    /* Runs to get: saved through the store, and raw objects of the same
     * size as each run object. */
    x.n_runs = 100;
    char *run = malloc((size_t)doc + 256);
    for (int i = 0; i < x.n_runs; i++) {
        int k = snprintf(run, (size_t)doc + 256, "{\"run_id\":\"bench-get-%d\",\"agent_name\":"
                                                 "\"bench\",\"status\":\"completed\",\"pad\":\"",
                         i);
        memset(run + k, 'y', (size_t)(doc - k - 2 > 0 ? doc - k - 2 : 0));
        memcpy(run + (doc - 2 > k ? doc - 2 : k), "\"}", 3);
        if (acp_run_save(x.store, run, ACP_STRLEN, &e) != ACP_OK)
            return fail("run save", &e), 1;
    }
    /* The run object is "R1 <created> 5 -1\nbench" + doc: PUT raw ones alike. */
    size_t rl = strlen(run);
    x.run_stored = malloc(rl + 64);
    x.run_stored_len = (size_t)snprintf(x.run_stored, rl + 64, "R1 1765000000000000 5 -1\nbench%s", run);
    for (int i = 0; i < x.n_runs; i++) {
        char key[64];
        snprintf(key, sizeof key, "bench-raw/r/%d", i);
        if (raw_request(&x.raw, "PUT", key, x.run_stored, x.run_stored_len) != 200)
            return fail("raw PUT of the get set", NULL), 1;
    }
    /* The first append lists the run's events once: not part of the race. */
    if (acp_event_add(x.store, "bench-run", x.event, x.event_len, NULL, &e) != ACP_OK)
        return fail("event add", &e), 1;

    /* Store and raw alternate one operation at a time (who goes first
     * alternates too), so that load from elsewhere hits both alike; each
     * side's rate is 1 / its median latency, which a burst of load on the
     * machine moves less than a total. */
    double med[2][2]; /* [put][store] ops/s */
    size_t total = (size_t)ops * (size_t)rounds;
    double *lat[2] = {malloc(total * sizeof(double)), malloc(total * sizeof(double))};
    if (!lat[0] || !lat[1])
        return 1;
    for (int put = 1; put >= 0; put--) {
        for (size_t i = 0; i < total; i++) {
            for (int j = 0; j < 2; j++) {
                int store = (int)((i + (size_t)j) % 2);
                double s = side(&x, put, store, (int)i, 1);
                if (s < 0)
                    return 1;
                lat[store][i] = s;
            }
        }
        for (int st = 0; st < 2; st++) {
            qsort(lat[st], total, sizeof(double), cmp_d);
            med[put][st] = 1.0 / lat[st][total / 2];
        }
    }
    free(lat[0]);
    free(lat[1]);
    if (json) {
        printf("{\"schema\":1,\"endpoint\":\"%s\",\"ops\":%d,\"doc_bytes\":%d,\"rounds\":%d,"
               "\"put\":{\"store_ops_s\":%.1f,\"raw_ops_s\":%.1f,\"ratio\":%.3f},"
               "\"get\":{\"store_ops_s\":%.1f,\"raw_ops_s\":%.1f,\"ratio\":%.3f}}\n",
               endpoint, ops, doc, rounds, med[1][1], med[1][0], med[1][1] / med[1][0],
               med[0][1], med[0][0], med[0][1] / med[0][0]);
    } else {
        printf("s3 backend vs raw signed libcurl, %s, %d ops x %d rounds, %d-byte documents "
               "(1 / median latency)\n", endpoint, ops, rounds, doc);
        printf("  put (event add)  store %8.1f  raw %8.1f  ratio %.2f\n", med[1][1], med[1][0],
               med[1][1] / med[1][0]);
        printf("  get (run get)    store %8.1f  raw %8.1f  ratio %.2f\n", med[0][1], med[0][0],
               med[0][1] / med[0][0]);
    }
    acp_store_close(x.store);
    curl_easy_cleanup(x.raw.c);
    free(uri);
    free(run);
    free(x.event);
    free(x.stored);
    free(x.run_stored);
    curl_global_cleanup();
    return 0;
}
