/* SPDX-License-Identifier: MIT */
/*
 * http.c - requests to the S3 server over libcurl: URL and canonical
 * request, SigV4 signing, a pool of curl handles (each keeps its
 * connection alive), and retries.
 *
 * Retries: a dropped or refused connection, 500, 502, 503 (SlowDown) and
 * 504 are tried again after a jittered exponential backoff (20 ms doubling,
 * at most 1 s), as long as the call's deadline (host->remaining_ms) leaves
 * room; a call without a deadline makes at most 1 + retries attempts, each
 * bounded by timeout_ms.  Every request the backend sends is idempotent
 * (GET, PUT of a whole object, DELETE, LIST), so a retry after an answer
 * that was lost in transit changes nothing.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "s3_int.h"
#include "sigv4.h"

int s3_http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static CURL *take(acp_backend *b)
{
    CURL *c = NULL;
    pthread_mutex_lock(&b->pool_mu);
    if (b->n_pool)
        c = b->pool[--b->n_pool];
    pthread_mutex_unlock(&b->pool_mu);
    return c ? c : curl_easy_init();
}

static void give_back(acp_backend *b, CURL *c, int broken)
{
    if (broken) {
        curl_easy_cleanup(c);
        return;
    }
    pthread_mutex_lock(&b->pool_mu);
    if (b->n_pool == b->cap_pool) {
        size_t cap = b->cap_pool ? b->cap_pool * 2 : 8;
        void **p = realloc(b->pool, cap * sizeof *p);
        if (p) {
            b->pool = p;
            b->cap_pool = cap;
        }
    }
    if (b->n_pool < b->cap_pool) {
        b->pool[b->n_pool++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&b->pool_mu);
    if (c)
        curl_easy_cleanup(c);
}

void s3_http_close(acp_backend *b)
{
    for (size_t i = 0; i < b->n_pool; i++)
        curl_easy_cleanup(b->pool[i]);
    free(b->pool);
    b->pool = NULL;
    b->n_pool = b->cap_pool = 0;
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    return s3_buf_put(arg, p, size * n) ? 0 : size * n;
}

/* Connection-level failures worth another attempt. */
static int transient_curl(CURLcode rc)
{
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR ||
           rc == CURLE_GOT_NOTHING || rc == CURLE_PARTIAL_FILE ||
           rc == CURLE_OPERATION_TIMEDOUT;
}

static int transient_http(long status)
{
    return status == 500 || status == 502 || status == 503 || status == 504;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* One transfer being set up or in flight: what must outlive the perform. */
typedef struct xfer {
    CURL *c;
    struct curl_slist *hl;
    char *url, *auth_line, *tok_line;
    char err[CURL_ERROR_SIZE];
} xfer;

static void xfer_release(xfer *x)
{
    if (x->c) /* the handle must not keep pointers into what is freed below */
        curl_easy_setopt(x->c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(x->hl);
    x->hl = NULL;
    if (x->auth_line)
        memset(x->auth_line, 0, strlen(x->auth_line));
    if (x->tok_line)
        memset(x->tok_line, 0, strlen(x->tok_line));
    free(x->auth_line);
    free(x->tok_line);
    free(x->url);
    x->auth_line = x->tok_line = x->url = NULL;
}

static int add_header(xfer *x, const char *line)
{
    struct curl_slist *t = curl_slist_append(x->hl, line);
    if (t)
        x->hl = t;
    return t != NULL;
}

/* Sign one request and set every option of x->c for it.  Returns 0, or -1
 * when out of memory (then release x). */
static int xfer_prepare(acp_backend *b, xfer *x, const char *method, const char *path,
                        const char *query, const void *body, size_t len, const char *extra,
                        int64_t timeout_ms, s3_resp *r)
{
    const s3_conf *cf = &b->conf;
    char amz_date[17], payload[65], auth[512], line[3][600];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
    s3_sha256_hex(body ? body : "", body ? len : 0, payload);
    s3_header h[4] = {{"host", cf->host},
                      {"x-amz-content-sha256", payload},
                      {"x-amz-date", amz_date},
                      {"x-amz-security-token", cf->creds.session_token}};
    size_t nh = cf->creds.session_token ? 4 : 3;
    s3_sig_req sr = {method, path, query, h, nh, payload, amz_date, cf->region, "s3",
                     cf->creds.access_key, cf->creds.secret_key};
    if (s3_sigv4_authorization(&sr, auth, sizeof auth) != 0)
        return -1;
    size_t ul = strlen(cf->scheme_host) + strlen(path) + strlen(query) + 2;
    if (!(x->url = malloc(ul)))
        return -1;
    snprintf(x->url, ul, "%s%s%s%s", cf->scheme_host, path, *query ? "?" : "", query);
    snprintf(line[0], sizeof line[0], "Host: %s", cf->host);
    snprintf(line[1], sizeof line[1], "x-amz-content-sha256: %s", payload);
    snprintf(line[2], sizeof line[2], "x-amz-date: %s", amz_date);
    size_t al = strlen(auth) + 16;
    int ok = add_header(x, line[0]) && add_header(x, line[1]) && add_header(x, line[2]) &&
             add_header(x, "Expect:") &&
             add_header(x, "Content-Type: application/octet-stream") &&
             (!extra || add_header(x, extra)) && (x->auth_line = malloc(al)) != NULL;
    if (ok) {
        snprintf(x->auth_line, al, "Authorization: %s", auth);
        ok = add_header(x, x->auth_line);
    }
    if (ok && cf->creds.session_token) {
        size_t tl = strlen(cf->creds.session_token) + 32;
        ok = (x->tok_line = malloc(tl)) != NULL;
        if (ok) {
            snprintf(x->tok_line, tl, "x-amz-security-token: %s", cf->creds.session_token);
            ok = add_header(x, x->tok_line);
        }
    }
    if (!ok)
        return -1;
    CURL *c = x->c;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, x->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->err);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout_ms > 0 ? timeout_ms : 1));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms > 0 ? timeout_ms : 1));
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (!strcmp(method, "GET")) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (!strcmp(method, "HEAD")) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        if (body) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)body);
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        }
    }
    x->err[0] = '\0';
    return 0;
}

/* One signed attempt. */
static CURLcode attempt(acp_backend *b, CURL *c, const char *method, const char *path,
                        const char *query, const void *body, size_t len, const char *extra,
                        int64_t timeout_ms, s3_resp *r, char *err)
{
    xfer x = {.c = c};
    CURLcode rc = CURLE_OUT_OF_MEMORY;
    if (xfer_prepare(b, &x, method, path, query, body, len, extra, timeout_ms, r) == 0) {
        rc = curl_easy_perform(c);
        if (rc == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    }
    memcpy(err, x.err, sizeof x.err);
    xfer_release(&x);
    return rc;
}

/* The path as sent, which is the canonical URI: the bucket (path style)
 * and the key, each byte outside the unreserved set percent-encoded. */
static char *object_path(const s3_conf *cf, const char *key)
{
    size_t klen = key ? strlen(key) : 0, cap = 3 * (klen + strlen(cf->bucket)) + 4;
    char *path = malloc(cap);
    if (!path)
        return NULL;
    size_t n = 0;
    path[0] = '\0';
    if (!cf->virtual_host) {
        path[n++] = '/';
        n = s3_uri_encode(cf->bucket, strlen(cf->bucket), 0, path, n, cap);
    }
    if (key || cf->virtual_host) {
        path[n++] = '/';
        path[n] = '\0';
    }
    if (key)
        s3_uri_encode(key, klen, 1, path, n, cap);
    return path;
}

acp_status s3_request(acp_backend *b, acp_call *call, const char *method, const char *key,
                      const char *query, const void *body, size_t len, s3_resp *r)
{
    return s3_request_h(b, call, method, key, query, body, len, NULL, r);
}

acp_status s3_request_h(acp_backend *b, acp_call *call, const char *method, const char *key,
                        const char *query, const void *body, size_t len, const char *header,
                        s3_resp *r)
{
    const acp_plugin_host *host = b->host;
    const s3_conf *cf = &b->conf;
    memset(r, 0, sizeof *r);
    char *path = object_path(cf, key);
    if (!path)
        return host->error(call, ACP_NOMEM, "s3: out of memory");

    int64_t deadline_left = host->remaining_ms(call);
    int64_t t0 = host->now_us() / 1000;
    char err[CURL_ERROR_SIZE];
    CURLcode rc = CURLE_OK;
    int attempts = 0;
    for (;;) {
        int64_t left = deadline_left < 0 ? cf->timeout_ms
                                         : deadline_left - (host->now_us() / 1000 - t0);
        if (left <= 0) {
            if (attempts == 0) {
                free(path);
                return host->error(call, ACP_UNAVAILABLE,
                                   "s3: the call's deadline passed before %s %s was sent", method,
                                   cf->where);
            }
            break;
        }
        int64_t per = left < cf->timeout_ms ? left : cf->timeout_ms;
        CURL *c = take(b);
        if (!c) {
            free(path);
            return host->error(call, ACP_NOMEM, "s3: out of memory (curl handle)");
        }
        s3_buf_free(&r->body);
        r->status = 0;
        rc = attempt(b, c, method, path, query, body, len, header, per, r, err);
        attempts++;
        give_back(b, c, rc != CURLE_OK);
        if (rc == CURLE_OUT_OF_MEMORY || rc == CURLE_WRITE_ERROR) {
            free(path);
            return host->error(call, ACP_NOMEM, "s3: out of memory in %s", method);
        }
        int again = rc != CURLE_OK ? transient_curl(rc) : transient_http(r->status);
        if (!again)
            break;
        /* Backoff: 20 ms doubling up to 1 s, jittered to 50..100%. */
        int64_t wait = 20LL << (attempts < 6 ? attempts - 1 : 5);
        if (wait > 1000)
            wait = 1000;
        wait = wait / 2 + (int64_t)(((uint64_t)host->now_us() * 2654435761u) % (uint64_t)(wait / 2 + 1));
        if (deadline_left < 0) {
            if (attempts > cf->retries)
                break;
        } else if (deadline_left - (host->now_us() / 1000 - t0) <= wait + 5) {
            break;
        }
        sleep_ms(wait);
    }
    free(path);
    if (rc != CURLE_OK) {
        s3_buf_free(&r->body);
        return host->error(call, ACP_UNAVAILABLE, "s3: cannot reach the server of %s (%s %s: %s) "
                           "after %d attempt%s", cf->where, method, key ? "object" : "bucket",
                           err[0] ? err : curl_easy_strerror(rc), attempts,
                           attempts == 1 ? "" : "s");
    }
    return ACP_OK;
}

acp_status s3_get_parallel(acp_backend *b, acp_call *call, char *const *keys, size_t n,
                           s3_resp *r)
{
    const acp_plugin_host *host = b->host;
    xfer x[S3_PARALLEL];
    CURLcode rc[S3_PARALLEL];
    int done[S3_PARALLEL];
    char *paths[S3_PARALLEL];
    if (n > S3_PARALLEL)
        return host->error(call, ACP_PLUGIN, "s3: %zu parallel GETs asked for", n);
    memset(x, 0, sizeof x);
    memset(paths, 0, sizeof paths);
    int64_t left = host->remaining_ms(call);
    if (left < 0 || left > b->conf.timeout_ms)
        left = b->conf.timeout_ms;
    CURLM *m = curl_multi_init();
    int ok = m != NULL;
    for (size_t i = 0; i < n; i++) {
        memset(&r[i], 0, sizeof r[i]);
        rc[i] = CURLE_OK;
        done[i] = 0;
        if (!ok)
            continue;
        paths[i] = object_path(&b->conf, keys[i]);
        x[i].c = paths[i] ? take(b) : NULL;
        ok = x[i].c && xfer_prepare(b, &x[i], "GET", paths[i], "", NULL, 0, NULL, left, &r[i]) == 0 &&
             curl_multi_add_handle(m, x[i].c) == CURLM_OK;
    }
    int running = ok;
    while (running) {
        if (curl_multi_perform(m, &running) != CURLM_OK)
            break;
        if (running && curl_multi_poll(m, NULL, 0, 200, NULL) != CURLM_OK)
            break;
    }
    CURLMsg *msg;
    int queued;
    while (m && (msg = curl_multi_info_read(m, &queued)))
        for (size_t i = 0; msg->msg == CURLMSG_DONE && i < n; i++)
            if (x[i].c == msg->easy_handle) {
                rc[i] = msg->data.result;
                done[i] = 1;
            }
    for (size_t i = 0; i < n; i++) {
        if (!x[i].c) {
            free(paths[i]);
            continue;
        }
        if (m)
            curl_multi_remove_handle(m, x[i].c);
        if (done[i] && rc[i] == CURLE_OK)
            curl_easy_getinfo(x[i].c, CURLINFO_RESPONSE_CODE, &r[i].status);
        xfer_release(&x[i]);
        give_back(b, x[i].c, !done[i] || rc[i] != CURLE_OK);
        free(paths[i]);
    }
    if (m)
        curl_multi_cleanup(m);
    acp_status st = ok ? ACP_OK : host->error(call, ACP_NOMEM, "s3: out of memory");
    /* What did not go through is tried again alone, with the retries. */
    for (size_t i = 0; st == ACP_OK && i < n; i++) {
        if (done[i] && rc[i] == CURLE_OK && !transient_http(r[i].status))
            continue;
        s3_buf_free(&r[i].body);
        st = s3_request(b, call, "GET", keys[i], "", NULL, 0, &r[i]);
    }
    if (st != ACP_OK)
        for (size_t i = 0; i < n; i++)
            s3_buf_free(&r[i].body);
    return st;
}

int s3_md5_base64(const void *data, size_t len, char *out, size_t cap)
{
    unsigned char md[16], b64[32];
    unsigned int n = 0;
    if (!EVP_Digest(data, len, md, &n, EVP_md5(), NULL) || n != 16)
        return -1;
    EVP_EncodeBlock(b64, md, 16);
    int k = snprintf(out, cap, "Content-MD5: %s", (const char *)b64);
    return k > 0 && (size_t)k < cap ? 0 : -1;
}

acp_status s3_fail(acp_backend *b, acp_call *call, const char *what, const s3_resp *r)
{
    char code[128], msg[512];
    s3_xml_text(r->body.p, r->body.len, "Code", code, sizeof code);
    s3_xml_text(r->body.p, r->body.len, "Message", msg, sizeof msg);
    const char *why = "";
    acp_status st = ACP_IO;
    if (!strcmp(code, "SignatureDoesNotMatch")) {
        why = " -- the secret access key does not match the access key id";
        st = ACP_INVALID;
    } else if (!strcmp(code, "InvalidAccessKeyId")) {
        why = " -- the server does not know this access key id";
        st = ACP_INVALID;
    } else if (r->status == 403) {
        why = " -- the credentials are not allowed to do this";
        st = ACP_INVALID;
    } else if (!strcmp(code, "NoSuchBucket")) {
        why = " -- the bucket does not exist";
        st = ACP_NOT_FOUND;
    } else if (r->status == 503 || !strcmp(code, "SlowDown")) {
        st = ACP_UNAVAILABLE;
    }
    return b->host->error(call, st, "s3: %s on %s failed: HTTP %ld %s%s%s%s (credentials from %s)",
                          what, b->conf.where, r->status, code[0] ? code : "(no error code)",
                          msg[0] ? ": " : "", msg, why, b->conf.creds.source);
}
