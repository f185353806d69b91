/* SPDX-License-Identifier: MIT */
/*
 * open.c - "s3://BUCKET/PREFIX?endpoint=...&region=...": the options, open
 * and close, and the per-process registry of stores.
 *
 * Every handle on the same endpoint, bucket and prefix in one process
 * shares one s3_shared: a readers-writer lock (writes that touch several
 * objects are exclusive, so a list never sees half of one) and the cache of
 * each run's last event sequence.  Several processes writing one prefix are
 * not supported (the backend does not declare ACP_CAP_MULTIPROCESS; see
 * README.md: the servers it is tested on have no conditional writes).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3_int.h"

/* ---- the registry ---- */

typedef struct seq_entry {
    struct seq_entry *next;
    uint64_t hash;
    int64_t seq;
    size_t len;
    char id[];
} seq_entry;

enum { SEQ_BUCKETS = 1024, SEQ_MAX = 8192 };

struct s3_shared {
    s3_shared *next;
    char *key;
    int refs;
    pthread_rwlock_t lock;
    seq_entry *seq[SEQ_BUCKETS];
    size_t n_seq;
    int dirty;
};

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static s3_shared *registry;

static void seq_clear(s3_shared *s)
{
    for (size_t i = 0; i < SEQ_BUCKETS; i++) {
        while (s->seq[i]) {
            seq_entry *e = s->seq[i];
            s->seq[i] = e->next;
            free(e);
        }
    }
    s->n_seq = 0;
}

static s3_shared *shared_get(const char *key)
{
    pthread_mutex_lock(&registry_mu);
    s3_shared *s = registry;
    while (s && strcmp(s->key, key))
        s = s->next;
    if (s) {
        s->refs++;
    } else if ((s = calloc(1, sizeof *s)) && (s->key = strdup(key)) &&
               pthread_rwlock_init(&s->lock, NULL) == 0) {
        s->refs = 1;
        s->next = registry;
        registry = s;
    } else if (s) {
        free(s->key);
        free(s);
        s = NULL;
    }
    pthread_mutex_unlock(&registry_mu);
    return s;
}

static void shared_put(s3_shared *s)
{
    pthread_mutex_lock(&registry_mu);
    if (--s->refs == 0) {
        s3_shared **p = &registry;
        while (*p != s)
            p = &(*p)->next;
        *p = s->next;
    } else {
        s = NULL;
    }
    pthread_mutex_unlock(&registry_mu);
    if (s) {
        seq_clear(s);
        pthread_rwlock_destroy(&s->lock);
        free(s->key);
        free(s);
    }
}

void s3_lock_write(acp_backend *b)
{
    pthread_rwlock_wrlock(&b->shared->lock);
}

void s3_lock_read(acp_backend *b)
{
    pthread_rwlock_rdlock(&b->shared->lock);
}

void s3_unlock(acp_backend *b)
{
    pthread_rwlock_unlock(&b->shared->lock);
}

int *s3_dirty(acp_backend *b)
{
    return &b->shared->dirty;
}

int64_t s3_seq_get(acp_backend *b, const char *id, size_t n)
{
    uint64_t h = b->host->hash(id, n);
    for (seq_entry *e = b->shared->seq[h % SEQ_BUCKETS]; e; e = e->next)
        if (e->hash == h && e->len == n && !memcmp(e->id, id, n))
            return e->seq;
    return -1;
}

void s3_seq_set(acp_backend *b, const char *id, size_t n, int64_t seq)
{
    s3_shared *s = b->shared;
    uint64_t h = b->host->hash(id, n);
    seq_entry **p = &s->seq[h % SEQ_BUCKETS];
    for (; *p; p = &(*p)->next)
        if ((*p)->hash == h && (*p)->len == n && !memcmp((*p)->id, id, n))
            break;
    if (*p) {
        if (seq >= 0) {
            (*p)->seq = seq;
        } else {
            seq_entry *e = *p;
            *p = e->next;
            free(e);
            s->n_seq--;
        }
        return;
    }
    if (seq < 0)
        return;
    /* A bounded cache: forgetting costs one listing on the next append. */
    if (s->n_seq >= SEQ_MAX)
        seq_clear(s);
    seq_entry *e = malloc(sizeof *e + n);
    if (!e)
        return; /* not cached: the next append lists again */
    e->hash = h;
    e->seq = seq;
    e->len = n;
    memcpy(e->id, id, n);
    e->next = s->seq[h % SEQ_BUCKETS];
    s->seq[h % SEQ_BUCKETS] = e;
    s->n_seq++;
}

/* ---- options ---- */

/* The core checks every value against these (acp_option_spec) and fills in
 * the defaults before open; conf_parse keeps only what is the backend's
 * own: the bucket and prefix, the endpoint's URL form, the region and
 * addressing defaults that depend on other settings, the credentials. */
const char *const s3_variants[] = {NULL};

static const char *const addressing_values[] = {"path", "virtual", NULL};

const acp_option_spec s3_options[] = {
    {.name = "endpoint", .type = ACP_OPT_STRING, .min = 1,
     .doc = "server as http(s)://host[:port] (default: AWS, https://s3.REGION.amazonaws.com)"},
    {.name = "region", .type = ACP_OPT_STRING,
     .doc = "region signed for (default: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1)"},
    {.name = "addressing", .type = ACP_OPT_ENUM, .values = addressing_values,
     .doc = "bucket in the path or the host name (default: virtual on AWS, path with endpoint)"},
    {.name = "access_key_id", .type = ACP_OPT_STRING,
     .doc = "access key (with secret_access_key; else the environment or credentials file)"},
    {.name = "secret_access_key", .type = ACP_OPT_STRING, .flags = ACP_OPT_SECRET,
     .doc = "secret key of access_key_id"},
    {.name = "session_token", .type = ACP_OPT_STRING, .flags = ACP_OPT_SECRET,
     .doc = "session token of temporary credentials"},
    {.name = "profile", .type = ACP_OPT_STRING, .min = 1,
     .doc = "section of the credentials file (default: AWS_PROFILE, else default)"},
    {.name = "credentials_file", .type = ACP_OPT_STRING, .min = 1,
     .doc = "shared credentials file (default: AWS_SHARED_CREDENTIALS_FILE, else "
            "~/.aws/credentials)"},
    {.name = "timeout_ms", .type = ACP_OPT_DURATION, .min = 1, .max = 3600000,
     .default_value = "30000", .doc = "bound of one request when the call has no time limit (bare: ms)"},
    {.name = "retries", .type = ACP_OPT_INTEGER, .min = 0, .max = 100, .default_value = "4",
     .doc = "attempts after the first when the call has no time limit"},
    {.name = NULL}};

static void conf_free(s3_conf *c)
{
    free(c->scheme_host);
    free(c->host);
    free(c->bucket);
    free(c->prefix);
    free(c->region);
    free(c->where);
    s3_creds_free(&c->creds);
}

static acp_status conf_parse(const acp_plugin_host *host, const acp_open_args *a, s3_conf *c,
                             acp_call *call)
{
    char err[512];
    if (!a->authority[0])
        return host->error(call, ACP_INVALID, "s3: the URI names no bucket (s3://BUCKET/PREFIX)");
    if (strchr(a->authority, '@') || strchr(a->authority, ':'))
        return host->error(call, ACP_INVALID,
                           "s3: the bucket '%s' holds ':' or '@': credentials go in options or "
                           "the environment, the server in the endpoint option", a->authority);
    c->bucket = strdup(a->authority);
    /* The prefix: the path without leading '/', with a trailing '/'. */
    const char *p = a->path;
    while (*p == '/')
        p++;
    size_t pl = strlen(p);
    c->prefix = malloc(pl + 2);
    if (c->prefix) {
        memcpy(c->prefix, p, pl);
        if (pl && p[pl - 1] != '/')
            c->prefix[pl++] = '/';
        c->prefix[pl] = '\0';
    }
    if (pl > 400)
        return host->error(call, ACP_INVALID,
                           "s3: the prefix is %zu bytes; at most 400 leave room for the keys "
                           "(S3 keys have at most 1024 bytes)", pl);
    if (!c->bucket || !c->prefix)
        return host->error(call, ACP_NOMEM, "s3: out of memory opening a store");
    const char *region = acp_option_text(a, "region");
    if (!region)
        region = getenv("AWS_REGION");
    if (!region)
        region = getenv("AWS_DEFAULT_REGION");
    if (!region || !*region)
        region = "us-east-1";
    c->region = strdup(region);

    const char *ep = acp_option_text(a, "endpoint");
    char aws[256];
    if (!ep) {
        snprintf(aws, sizeof aws, "https://s3.%s.amazonaws.com", region);
        ep = aws;
    }
    const char *after;
    if (!strncmp(ep, "http://", 7))
        after = ep + 7;
    else if (!strncmp(ep, "https://", 8))
        after = ep + 8;
    else
        return host->error(call, ACP_INVALID,
                           "s3: endpoint '%s' is not an http:// or https:// URL", ep);
    size_t hl = strcspn(after, "/?#");
    if (!hl || (after[hl] && strcmp(after + hl, "/")))
        return host->error(call, ACP_INVALID,
                           "s3: endpoint '%s' must be scheme://host[:port] (no path)", ep);
    const char *addr = acp_option_text(a, "addressing");
    c->virtual_host = addr ? !strcmp(addr, "virtual") : !acp_option_text(a, "endpoint");
    if (c->virtual_host && strchr(c->bucket, '.') && !strncmp(ep, "https", 5))
        host->log(1, S3_NAME, "bucket '%s' has a '.': its virtual host name does not match "
                              "the server's TLS certificate; use addressing=path",
                  c->bucket);
    size_t sl = (size_t)(after - ep);
    size_t cap = sl + hl + strlen(c->bucket) + 2;
    c->scheme_host = malloc(cap);
    c->host = malloc(cap);
    if (c->scheme_host && c->host) {
        if (c->virtual_host) {
            snprintf(c->host, cap, "%s.%.*s", c->bucket, (int)hl, after);
        } else {
            snprintf(c->host, cap, "%.*s", (int)hl, after);
        }
        snprintf(c->scheme_host, cap, "%.*s%s", (int)sl, ep, c->host);
    }
    c->timeout_ms = acp_option_int(a, "timeout_ms", 30000);
    c->retries = (int)acp_option_int(a, "retries", 4);
    size_t wl = strlen(c->bucket) + strlen(c->prefix) + strlen(ep) + 32;
    c->where = malloc(wl);
    if (c->where)
        snprintf(c->where, wl, "s3://%s/%s at %.*s", c->bucket, c->prefix, (int)(sl + hl), ep);
    if (!c->bucket || !c->prefix || !c->region || !c->scheme_host || !c->host || !c->where)
        return host->error(call, ACP_NOMEM, "s3: out of memory opening a store");
    acp_status st = s3_creds_resolve(a, &c->creds, err, sizeof err);
    if (st != ACP_OK)
        return host->error(call, st, "s3: %s", err);
    return ACP_OK;
}

acp_status s3_init(const acp_plugin_host *host, acp_call *call);
acp_status s3_init(const acp_plugin_host *host, acp_call *call)
{
    if (s3_http_global_init() != 0)
        return host->error(call, ACP_PLUGIN, "s3: libcurl failed to initialise");
    return ACP_OK;
}

acp_status s3_open(const acp_plugin_host *host, const acp_open_args *a, acp_backend **out,
                   acp_call *call);
void s3_close(acp_backend *b);

acp_status s3_open(const acp_plugin_host *host, const acp_open_args *a, acp_backend **out,
                   acp_call *call)
{
    acp_backend *b = calloc(1, sizeof *b);
    if (!b)
        return host->error(call, ACP_NOMEM, "s3: out of memory opening a store");
    b->host = host;
    acp_status st = conf_parse(host, a, &b->conf, call);
    if (st != ACP_OK) {
        conf_free(&b->conf);
        free(b);
        return st;
    }
    pthread_mutex_init(&b->pool_mu, NULL);
    size_t kl = strlen(b->conf.scheme_host) + strlen(b->conf.bucket) + strlen(b->conf.prefix) + 3;
    char *key = malloc(kl);
    if (key)
        snprintf(key, kl, "%s|%s|%s", b->conf.scheme_host, b->conf.bucket, b->conf.prefix);
    b->shared = key ? shared_get(key) : NULL;
    free(key);
    if (!b->shared) {
        s3_close(b);
        return host->error(call, ACP_NOMEM, "s3: out of memory opening a store");
    }
    /* One listing checks the bucket and the credentials, and finishes what
     * a writer that died left half done. */
    s3_lock_write(b);
    st = s3_recover(b, call);
    s3_unlock(b);
    if (st != ACP_OK) {
        s3_close(b);
        return st;
    }
    *out = b;
    return ACP_OK;
}

void s3_close(acp_backend *b)
{
    if (b->shared)
        shared_put(b->shared);
    s3_http_close(b);
    pthread_mutex_destroy(&b->pool_mu);
    conf_free(&b->conf);
    free(b);
}
