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

/* One signed attempt. */
static CURLcode attempt(acp_backend *b, CURL *c, const char *method, const char *path,
                        const char *query, const void *body, size_t len, const char *extra,
                        int64_t timeout_ms, s3_resp *r, char *err)
{
    const s3_conf *cf = &b->conf;
    char amz_date[17], payload[65], auth[512];
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
        return CURLE_OUT_OF_MEMORY;

    size_t ul = strlen(cf->scheme_host) + strlen(path) + strlen(query) + 2;
    char *url = malloc(ul), line[4][600];
    if (!url)
        return CURLE_OUT_OF_MEMORY;
    snprintf(url, ul, "%s%s%s%s", cf->scheme_host, path, *query ? "?" : "", query);
    struct curl_slist *hl = NULL, *t;
    snprintf(line[0], sizeof line[0], "Host: %s", cf->host);
    snprintf(line[1], sizeof line[1], "x-amz-content-sha256: %s", payload);
    snprintf(line[2], sizeof line[2], "x-amz-date: %s", amz_date);
    int ok = (t = curl_slist_append(hl, line[0])) && (hl = t) &&
             (t = curl_slist_append(hl, line[1])) && (hl = t) &&
             (t = curl_slist_append(hl, line[2])) && (hl = t) &&
             (t = curl_slist_append(hl, "Expect:")) && (hl = t) &&
             (t = curl_slist_append(hl, "Content-Type: application/octet-stream")) && (hl = t) &&
             (!extra || ((t = curl_slist_append(hl, extra)) && (hl = t)));
    char *auth_line = NULL, *tok_line = NULL;
    if (ok) {
        size_t al = strlen(auth) + 16;
        ok = (auth_line = malloc(al)) != NULL;
        if (ok) {
            snprintf(auth_line, al, "Authorization: %s", auth);
            ok = (t = curl_slist_append(hl, auth_line)) && (hl = t);
        }
    }
    if (ok && cf->creds.session_token) {
        size_t tl = strlen(cf->creds.session_token) + 32;
        ok = (tok_line = malloc(tl)) != NULL;
        if (ok) {
            snprintf(tok_line, tl, "x-amz-security-token: %s", cf->creds.session_token);
            ok = (t = curl_slist_append(hl, tok_line)) && (hl = t);
        }
    }
    CURLcode rc = CURLE_OUT_OF_MEMORY;
    if (ok) {
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
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
        err[0] = '\0';
        rc = curl_easy_perform(c);
        if (rc == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
        /* The handle must not keep pointers into what is freed below. */
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    }
    curl_slist_free_all(hl);
    if (auth_line) {
        memset(auth_line, 0, strlen(auth_line));
        free(auth_line);
    }
    if (tok_line) {
        memset(tok_line, 0, strlen(tok_line));
        free(tok_line);
    }
    free(url);
    return rc;
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
    /* The path as sent is the canonical URI: the bucket (path style) and
     * the key, each byte outside the unreserved set percent-encoded. */
    size_t klen = key ? strlen(key) : 0, cap = 3 * (klen + strlen(cf->bucket)) + 4;
    char *path = malloc(cap);
    if (!path)
        return host->error(call, ACP_NOMEM, "s3: out of memory");
    size_t n = 0;
    if (!cf->virtual_host) {
        path[n++] = '/';
        n = s3_uri_encode(cf->bucket, strlen(cf->bucket), 0, path, n, cap);
    }
    if (key || cf->virtual_host) {
        path[n++] = '/';
        path[n] = '\0';
    }
    if (key)
        n = s3_uri_encode(key, klen, 1, path, n, cap);
    (void)n;

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
