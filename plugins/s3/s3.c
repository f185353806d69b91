/* SPDX-License-Identifier: MIT */
/*
 * s3.c - the methods of the s3 backend: what is stored under which key,
 * and in which order the objects of one operation are written so that a
 * process killed at any point leaves nothing half done that the next open
 * does not finish (README.md, "Layout" and "Crashes").
 *
 * A run is one object; it is listed through empty index objects whose keys
 * sort in list order (newest first, ties by run id descending), one set per
 * filter (all, agent, session, agent+session).  A save that changes a run's
 * index keys first writes a journal object naming every key involved,
 * then the new keys, the run, the deletions, and removes the journal; open
 * replays any journal left behind against the run object as it is.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3_int.h"
#include "sigv4.h"

/* ---- objects ---- */

/* GET key: ACP_OK with *found set (the body in r), or a failure. */
static acp_status get_object(acp_backend *b, acp_call *call, const char *key, s3_resp *r,
                             int *found)
{
    acp_status st = s3_request(b, call, "GET", key, "", NULL, 0, r);
    if (st != ACP_OK)
        return st;
    if (r->status == 200) {
        *found = 1;
        return ACP_OK;
    }
    if (r->status == 404) {
        char code[64];
        s3_xml_text(r->body.p, r->body.len, "Code", code, sizeof code);
        if (strcmp(code, "NoSuchBucket")) {
            *found = 0;
            return ACP_OK;
        }
    }
    return s3_fail(b, call, "GET", r);
}

static acp_status put_object(acp_backend *b, acp_call *call, const char *key, const void *body,
                             size_t len)
{
    s3_resp r;
    acp_status st = s3_request(b, call, "PUT", key, "", body ? body : "", len, &r);
    if (st == ACP_OK && r.status != 200)
        st = s3_fail(b, call, "PUT", &r);
    s3_buf_free(&r.body);
    return st;
}

static acp_status delete_object(acp_backend *b, acp_call *call, const char *key)
{
    s3_resp r;
    acp_status st = s3_request(b, call, "DELETE", key, "", NULL, 0, &r);
    if (st == ACP_OK && r.status != 204 && r.status != 200 && r.status != 404)
        st = s3_fail(b, call, "DELETE", &r);
    s3_buf_free(&r.body);
    return st;
}

/* ListObjectsV2 under prefix, after start_after (NULL: from the start):
 * fn gets each key in order and returns 0 to go on or 1 to stop (a callback
 * that fails keeps its status in its own argument and returns 1).  hint:
 * how many keys the caller expects to need (the first page's max-keys). */
typedef int (*key_fn)(void *arg, const char *key, size_t n);

static acp_status list_keys(acp_backend *b, acp_call *call, const char *prefix,
                            const char *start_after, int64_t hint, key_fn fn, void *arg)
{
    char token[1024] = "";
    size_t pl = strlen(prefix), sl = start_after ? strlen(start_after) : 0;
    size_t cap = 3 * (pl + sl) + 3 * sizeof token + 128;
    char *q = malloc(cap);
    if (!q)
        return b->host->error(call, ACP_NOMEM, "s3: out of memory listing");
    acp_status st = ACP_OK;
    for (int first = 1;; first = 0) {
        int64_t want = first && hint > 0 && hint < 1000 ? hint : 1000;
        /* Canonical form: parameters sorted by name, values encoded. */
        size_t n = 0;
        if (token[0]) {
            n = (size_t)snprintf(q, cap, "continuation-token=");
            n = s3_uri_encode(token, strlen(token), 0, q, n, cap);
            n += (size_t)snprintf(q + n, cap - n, "&");
        }
        n += (size_t)snprintf(q + n, cap - n, "list-type=2&max-keys=%lld&prefix=",
                              (long long)want);
        n = s3_uri_encode(prefix, pl, 0, q, n, cap);
        if (start_after && !token[0]) {
            n += (size_t)snprintf(q + n, cap - n, "&start-after=");
            s3_uri_encode(start_after, sl, 0, q, n, cap);
        }
        s3_resp r;
        st = s3_request(b, call, "GET", NULL, q, NULL, 0, &r);
        if (st != ACP_OK)
            break;
        if (r.status != 200) {
            st = s3_fail(b, call, "LIST", &r);
            s3_buf_free(&r.body);
            break;
        }
        int truncated = 0;
        int rc = s3_xml_list(r.body.p, r.body.len, fn, arg, &truncated, token, sizeof token);
        s3_buf_free(&r.body);
        if (rc < 0) {
            st = b->host->error(call, ACP_IO, "s3: the server's answer to a listing of %s is "
                                "not a ListObjectsV2 result", b->conf.where);
            break;
        }
        if (rc || !truncated || !token[0])
            break;
    }
    free(q);
    return st;
}

/* ---- index keys of a run ---- */

/* Up to S3_G_N index keys of one version of a run. */
typedef struct key_set {
    size_t n;
    char k[S3_G_N][S3_KEY_MAX];
} key_set;

static int index_keys(acp_backend *b, key_set *s, int64_t created, const char *id, size_t idl,
                      const char *agent, size_t alen, const char *session, size_t slen)
{
    s->n = 0;
    for (int g = 0; g < S3_G_N; g++) {
        if (!session && (g == S3_G_SESSION || g == S3_G_PAIR))
            continue;
        char *k = s->k[s->n];
        size_t used = s3_key_group(k, S3_KEY_MAX, b->conf.prefix, g, agent, alen, session, slen);
        if (used == (size_t)-1 ||
            s3_key_pos(k, used, S3_KEY_MAX, created, id, idl) == (size_t)-1)
            return -1;
        s->n++;
    }
    return 0;
}

static int in_set(const key_set *s, const char *k)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->k[i], k))
            return 1;
    return 0;
}

static acp_status key_too_long(acp_backend *b, acp_call *call, const char *id)
{
    return b->host->error(call, ACP_INVALID,
                          "s3: the keys of '%s' would be longer than S3 allows (1024 bytes): "
                          "use a shorter prefix", id);
}

/* The run object of id: *found, and the decoded header in h (pointing into
 * r's body). A body that does not decode is CORRUPT. */
static acp_status get_run_object(acp_backend *b, acp_call *call, const char *id, s3_resp *r,
                                 int *found, s3_run_hdr *h)
{
    char key[S3_KEY_MAX];
    if (s3_key_obj(key, sizeof key, b->conf.prefix, 'r', id, strlen(id)) == (size_t)-1)
        return key_too_long(b, call, id);
    acp_status st = get_object(b, call, key, r, found);
    if (st == ACP_OK && *found && s3_run_decode(r->body.p, r->body.len, h) != 0)
        st = b->host->error(call, ACP_CORRUPT, "s3: run '%s': the stored object is not a run "
                            "record (%s)", id, key);
    return st;
}

static acp_status keys_of_object(acp_backend *b, acp_call *call, const char *id,
                                 const s3_run_hdr *h, key_set *s)
{
    if (index_keys(b, s, h->created_us, id, strlen(id), h->agent, h->agent_len, h->session,
                   h->session_len) != 0)
        return key_too_long(b, call, id);
    return ACP_OK;
}

/* ---- journal: several objects changed as one ---- */

/* A journal's body: "S" (save) or "D" (delete), then one candidate index
 * key per line. */
static int journal_body(s3_buf *j, char kind, const key_set *a, const key_set *c)
{
    int bad = s3_buf_put(j, &kind, 1) || s3_buf_put(j, "\n", 1);
    for (size_t i = 0; a && i < a->n; i++)
        bad |= s3_buf_put(j, a->k[i], strlen(a->k[i])) || s3_buf_put(j, "\n", 1);
    for (size_t i = 0; c && i < c->n; i++)
        bad |= s3_buf_put(j, c->k[i], strlen(c->k[i])) || s3_buf_put(j, "\n", 1);
    return bad ? -1 : 0;
}

static acp_status journal_put(acp_backend *b, acp_call *call, const char *jkey, char kind,
                              const key_set *a, const key_set *c)
{
    s3_buf j = {0};
    acp_status st = journal_body(&j, kind, a, c) != 0
                        ? b->host->error(call, ACP_NOMEM, "s3: out of memory")
                        : put_object(b, call, jkey, j.p, j.len);
    s3_buf_free(&j);
    return st;
}

/* Every event key of a run, collected (for deletion). */
typedef struct key_list {
    char **k;
    size_t n, cap;
    int nomem;
} key_list;

static int collect_key(void *arg, const char *key, size_t n)
{
    key_list *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **k = realloc(l->k, cap * sizeof *k);
        if (!k) {
            l->nomem = 1;
            return 1;
        }
        l->k = k;
        l->cap = cap;
    }
    if (!(l->k[l->n] = strndup(key, n))) {
        l->nomem = 1;
        return 1;
    }
    l->n++;
    return 0;
}

static void key_list_free(key_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->k[i]);
    free(l->k);
}

/* GET keys[0..n), S3_PARALLEL at a time, and hand each answer to fn in
 * order (found: 200; 404 is "not found"; anything else fails the walk). */
typedef acp_status (*got_fn)(acp_backend *b, acp_call *call, void *arg, size_t i,
                             const s3_resp *r, int found);

static acp_status fetch_each(acp_backend *b, acp_call *call, char **keys, size_t n, got_fn fn,
                             void *arg)
{
    s3_resp r[S3_PARALLEL];
    acp_status st = ACP_OK;
    for (size_t from = 0; st == ACP_OK && from < n; from += S3_PARALLEL) {
        size_t k = n - from < S3_PARALLEL ? n - from : S3_PARALLEL;
        if ((st = s3_get_parallel(b, call, keys + from, k, r)) != ACP_OK)
            break;
        for (size_t i = 0; i < k; i++) {
            if (st == ACP_OK && r[i].status != 200 && r[i].status != 404)
                st = s3_fail(b, call, "GET", &r[i]);
            if (st == ACP_OK)
                st = fn(b, call, arg, from + i, &r[i], r[i].status == 200);
            s3_buf_free(&r[i].body);
        }
    }
    return st;
}

/* Delete keys with DeleteObjects, at most 1000 a request (the journal,
 * written before, makes a crash in between harmless). */
static acp_status delete_keys(acp_backend *b, acp_call *call, char **keys, size_t n)
{
    acp_status st = ACP_OK;
    for (size_t from = 0; st == ACP_OK && from < n; from += 1000) {
        size_t to = n - from > 1000 ? from + 1000 : n;
        s3_buf x = {0};
        int bad = s3_buf_put(&x, "<Delete><Quiet>true</Quiet>", 27);
        for (size_t i = from; i < to && !bad; i++) {
            bad |= s3_buf_put(&x, "<Object><Key>", 13);
            for (const char *k = keys[i]; *k && !bad; k++) {
                const char *e = *k == '&' ? "&amp;" : *k == '<' ? "&lt;" : *k == '>' ? "&gt;"
                                : *k == '"' ? "&quot;" : *k == '\'' ? "&apos;" : NULL;
                bad |= e ? s3_buf_put(&x, e, strlen(e)) : s3_buf_put(&x, k, 1);
            }
            bad |= s3_buf_put(&x, "</Key></Object>", 15);
        }
        bad |= s3_buf_put(&x, "</Delete>", 9);
        char md5h[64];
        if (bad || s3_md5_base64(x.p, x.len, md5h, sizeof md5h) != 0) {
            s3_buf_free(&x);
            return b->host->error(call, ACP_NOMEM, "s3: out of memory deleting objects");
        }
        s3_resp r;
        st = s3_request_h(b, call, "POST", NULL, "delete=", x.p, x.len, md5h, &r);
        /* Quiet mode lists only the keys that failed. */
        if (st == ACP_OK && (r.status != 200 || (r.body.p && strstr(r.body.p, "<Error>"))))
            st = s3_fail(b, call, "DeleteObjects", &r);
        s3_buf_free(&r.body);
        s3_buf_free(&x);
    }
    return st;
}

/* Delete every event of run id. */
static acp_status delete_events(acp_backend *b, acp_call *call, const char *id, int *had)
{
    char ep[S3_KEY_MAX];
    size_t n = s3_key_obj(ep, sizeof ep, b->conf.prefix, 'e', id, strlen(id));
    if (n == (size_t)-1 || n + 2 >= sizeof ep)
        return key_too_long(b, call, id);
    ep[n++] = '/';
    ep[n] = '\0';
    key_list l = {0};
    acp_status st = list_keys(b, call, ep, NULL, 1000, collect_key, &l);
    if (st == ACP_OK && l.nomem)
        st = b->host->error(call, ACP_NOMEM, "s3: out of memory deleting events of '%s'", id);
    if (st == ACP_OK)
        st = delete_keys(b, call, l.k, l.n);
    if (had)
        *had = l.n > 0;
    key_list_free(&l);
    return st;
}

/* Bring the index keys listed in journal jkey in line with the run object
 * as it is now (or delete the run and its events: kind 'D'), then remove
 * the journal.  Idempotent: a crash in here is finished by the next open. */
static acp_status journal_replay(acp_backend *b, acp_call *call, const char *jkey,
                                 const char *id, const char *body, size_t len)
{
    acp_status st = ACP_OK;
    key_set want = {0};
    s3_resp r = {0};
    int found = 0;
    if (len >= 2 && body[0] == 'D') {
        char rk[S3_KEY_MAX];
        if (s3_key_obj(rk, sizeof rk, b->conf.prefix, 'r', id, strlen(id)) == (size_t)-1)
            return key_too_long(b, call, id);
        st = delete_events(b, call, id, NULL);
        if (st == ACP_OK)
            st = delete_object(b, call, rk);
    } else if (len >= 2 && body[0] == 'S') {
        s3_run_hdr h;
        st = get_run_object(b, call, id, &r, &found, &h);
        if (st == ACP_OK && found)
            st = keys_of_object(b, call, id, &h, &want);
    } else {
        return b->host->error(call, ACP_CORRUPT, "s3: journal %s is not a journal", jkey);
    }
    const char *p = memchr(body, '\n', len), *end = body + len;
    while (st == ACP_OK && p && p + 1 < end) {
        const char *s = p + 1;
        p = memchr(s, '\n', (size_t)(end - s));
        size_t kl = p ? (size_t)(p - s) : (size_t)(end - s);
        char k[S3_KEY_MAX];
        if (kl == 0 || kl >= sizeof k)
            continue;
        memcpy(k, s, kl);
        k[kl] = '\0';
        st = in_set(&want, k) ? put_object(b, call, k, "", 0) : delete_object(b, call, k);
    }
    s3_buf_free(&r.body);
    if (st == ACP_OK)
        st = delete_object(b, call, jkey);
    s3_seq_set(b, id, strlen(id), -1);
    return st;
}

typedef struct recover_ctx {
    acp_backend *b;
    acp_call *call;
    acp_status st;
    size_t jlen; /* length of the journal prefix */
} recover_ctx;

static int recover_one(void *arg, const char *key, size_t n)
{
    recover_ctx *x = arg;
    char id[260];
    size_t end;
    if (n <= x->jlen || s3_key_id_decode(key + x->jlen, n - x->jlen, 0, id, sizeof id, &end) < 0) {
        x->b->host->log(1, S3_NAME, "ignoring a stray object in the journal: %s", key);
        return 0;
    }
    s3_resp r;
    int found = 0;
    x->st = get_object(x->b, x->call, key, &r, &found);
    if (x->st == ACP_OK && found) {
        x->b->host->log(2, S3_NAME, "finishing an interrupted write of run '%s'", id);
        x->st = journal_replay(x->b, x->call, key, id, r.body.p ? r.body.p : "", r.body.len);
    }
    s3_buf_free(&r.body);
    return x->st != ACP_OK;
}

acp_status s3_recover(acp_backend *b, acp_call *call)
{
    char jp[S3_KEY_MAX];
    snprintf(jp, sizeof jp, "%sj/", b->conf.prefix);
    recover_ctx x = {b, call, ACP_OK, strlen(jp)};
    acp_status st = list_keys(b, call, jp, NULL, 1000, recover_one, &x);
    return st != ACP_OK ? st : x.st;
}

/* ---- locking ---- */

/* Take the store's write lock, first finishing any journal a failed write
 * of this process left (the server was unreachable in the middle). */
static acp_status begin_write(acp_backend *b, acp_call *call)
{
    s3_lock_write(b);
    if (*s3_dirty(b)) {
        acp_status st = s3_recover(b, call);
        if (st != ACP_OK) {
            s3_unlock(b);
            return st;
        }
        *s3_dirty(b) = 0;
    }
    return ACP_OK;
}

/* The read lock, after the same repair as begin_write. */
static acp_status begin_read(acp_backend *b, acp_call *call)
{
    s3_lock_read(b);
    if (!*s3_dirty(b))
        return ACP_OK;
    s3_unlock(b);
    acp_status st = begin_write(b, call);
    if (st != ACP_OK)
        return st;
    s3_unlock(b);
    s3_lock_read(b);
    return ACP_OK;
}

/* ---- runs ---- */

static acp_status s3_save_run(acp_backend *b, const acp_run_record *rec, acp_call *call)
{
    char rk[S3_KEY_MAX], jk[S3_KEY_MAX];
    if (s3_key_obj(rk, sizeof rk, b->conf.prefix, 'r', rec->run_id, rec->run_id_len) ==
            (size_t)-1 ||
        s3_key_obj(jk, sizeof jk, b->conf.prefix, 'j', rec->run_id, rec->run_id_len) ==
            (size_t)-1)
        return key_too_long(b, call, rec->run_id);
    key_set *old = malloc(sizeof *old), *neu = malloc(sizeof *neu);
    s3_buf body = {0};
    s3_resp r = {0};
    acp_status st = ACP_OK;
    if (!old || !neu) {
        st = b->host->error(call, ACP_NOMEM, "s3: out of memory saving run '%s'", rec->run_id);
        goto out;
    }
    old->n = 0;
    if ((st = begin_write(b, call)) != ACP_OK)
        goto out;
    int found = 0;
    s3_run_hdr h;
    st = get_run_object(b, call, rec->run_id, &r, &found, &h);
    int64_t created = rec->created_us;
    if (st == ACP_OK && found) {
        /* A run keeps the time of its first save when the document has none. */
        if (rec->flags & ACP_RUN_CREATED_DEFAULT)
            created = h.created_us;
        st = keys_of_object(b, call, rec->run_id, &h, old);
    }
    if (st == ACP_OK &&
        index_keys(b, neu, created, rec->run_id, rec->run_id_len, rec->agent_name,
                   rec->agent_name_len, rec->session_id, rec->session_id_len) != 0)
        st = key_too_long(b, call, rec->run_id);
    if (st == ACP_OK && s3_run_encode(&body, rec, created) != 0)
        st = b->host->error(call, ACP_NOMEM, "s3: out of memory saving run '%s'", rec->run_id);
    int same = st == ACP_OK && found && old->n == neu->n;
    for (size_t i = 0; same && i < neu->n; i++)
        same = in_set(old, neu->k[i]);
    if (st == ACP_OK && same) {
        /* Same index keys (a status update): one PUT replaces the run. */
        st = put_object(b, call, rk, body.p, body.len);
    } else if (st == ACP_OK) {
        /* Journal, new keys, the run, stale keys, end of journal: a crash
         * at any point is finished by the next open (journal_replay). */
        st = journal_put(b, call, jk, 'S', old, neu);
        for (size_t i = 0; st == ACP_OK && i < neu->n; i++)
            if (!in_set(old, neu->k[i]))
                st = put_object(b, call, neu->k[i], "", 0);
        if (st == ACP_OK)
            st = put_object(b, call, rk, body.p, body.len);
        for (size_t i = 0; st == ACP_OK && i < old->n; i++)
            if (!in_set(neu, old->k[i]))
                st = delete_object(b, call, old->k[i]);
        if (st == ACP_OK)
            st = delete_object(b, call, jk);
        else /* the journal stays: replayed before the next write or list */
            *s3_dirty(b) = 1;
    }
    s3_unlock(b);
out:
    s3_buf_free(&r.body);
    s3_buf_free(&body);
    free(old);
    free(neu);
    return st;
}

static acp_status s3_get_run(acp_backend *b, const char *run_id, acp_call *call)
{
    s3_resp r;
    s3_run_hdr h;
    int found = 0;
    acp_status st = get_run_object(b, call, run_id, &r, &found, &h);
    if (st == ACP_OK && !found)
        st = ACP_NOT_FOUND;
    if (st == ACP_OK) {
        acp_item it = {.doc = h.doc, .doc_len = h.doc_len, .key = run_id,
                       .created_us = h.created_us};
        if (b->host->emit(call, &it) != 0)
            st = ACP_NOMEM;
    }
    s3_buf_free(&r.body);
    return st;
}

static acp_status s3_delete_run(acp_backend *b, const char *run_id, acp_call *call)
{
    char jk[S3_KEY_MAX];
    size_t idl = strlen(run_id);
    if (s3_key_obj(jk, sizeof jk, b->conf.prefix, 'j', run_id, idl) == (size_t)-1)
        return key_too_long(b, call, run_id);
    key_set *old = malloc(sizeof *old);
    if (!old)
        return b->host->error(call, ACP_NOMEM, "s3: out of memory deleting run '%s'", run_id);
    old->n = 0;
    acp_status st = begin_write(b, call);
    if (st != ACP_OK) {
        free(old);
        return st;
    }
    s3_resp r;
    s3_run_hdr h;
    int found = 0, had_events = s3_seq_get(b, run_id, idl) > 0;
    st = get_run_object(b, call, run_id, &r, &found, &h);
    if (st == ACP_OK && found)
        st = keys_of_object(b, call, run_id, &h, old);
    s3_buf_free(&r.body);
    if (st == ACP_OK && !found && !had_events) {
        /* No record: are there events?  One key is enough to know. */
        char ep[S3_KEY_MAX];
        size_t n = s3_key_obj(ep, sizeof ep - 1, b->conf.prefix, 'e', run_id, idl);
        ep[n++] = '/';
        ep[n] = '\0';
        key_list l = {0};
        st = list_keys(b, call, ep, NULL, 1, collect_key, &l);
        had_events = l.n > 0;
        key_list_free(&l);
    }
    if (st == ACP_OK && !found && !had_events) {
        st = ACP_NOT_FOUND;
    } else if (st == ACP_OK) {
        /* Journal first, then what it says: a crash anywhere below is
         * finished on the next open. */
        s3_buf j = {0};
        if (journal_body(&j, 'D', old, NULL) != 0)
            st = b->host->error(call, ACP_NOMEM, "s3: out of memory deleting '%s'", run_id);
        if (st == ACP_OK)
            st = put_object(b, call, jk, j.p, j.len);
        if (st == ACP_OK) {
            s3_seq_set(b, run_id, idl, -1);
            st = journal_replay(b, call, jk, run_id, j.p, j.len);
            if (st != ACP_OK)
                *s3_dirty(b) = 1;
        }
        s3_buf_free(&j);
    }
    s3_unlock(b);
    free(old);
    return st;
}

/* One pass over index keys: skip `skip`, keep up to `want`, and with
 * count_all go on to the end counting every key. */
typedef struct page_ctx {
    int64_t skip, want, seen;
    int count_all;
    key_list keys;
} page_ctx;

static int page_key(void *arg, const char *key, size_t n)
{
    page_ctx *p = arg;
    p->seen++;
    if (p->skip > 0) {
        p->skip--;
    } else if ((int64_t)p->keys.n < p->want) {
        if (collect_key(&p->keys, key, n))
            return 1;
    } else if (!p->count_all) {
        return 1;
    }
    return 0;
}

/* The run an index key points to (keys[i] of arg, its run object fetched):
 * emitted after checking that the run object says the same (time,
 * filters); anything else is CORRUPT. */
typedef struct indexed {
    char **index_keys;
    size_t glen;
} indexed;

static acp_status emit_indexed(acp_backend *b, acp_call *call, void *arg, size_t i,
                               const s3_resp *r, int found)
{
    const indexed *x = arg;
    const char *key = x->index_keys[i];
    char id[260];
    size_t idl;
    int64_t created;
    s3_run_hdr h;
    if (s3_key_pos_decode(key + x->glen, strlen(key) - x->glen, &created, id, sizeof id, &idl))
        return b->host->error(call, ACP_CORRUPT, "s3: index key %s is not a run position", key);
    if (found && s3_run_decode(r->body.p, r->body.len, &h) != 0)
        return b->host->error(call, ACP_CORRUPT, "s3: run '%s': the stored object is not a run "
                              "record", id);
    key_set *ks = malloc(sizeof *ks);
    if (!ks)
        return b->host->error(call, ACP_NOMEM, "s3: out of memory listing runs");
    acp_status st = found ? keys_of_object(b, call, id, &h, ks) : ACP_OK;
    if (st == ACP_OK && (!found || !in_set(ks, key)))
        st = b->host->error(call, ACP_CORRUPT,
                            "s3: run '%s': the index entry %s does not match the run %s (is "
                            "another process writing this prefix?)", id, key,
                            found ? "object" : "object, which is missing");
    if (st == ACP_OK) {
        acp_item it = {.doc = h.doc, .doc_len = h.doc_len, .key = id, .created_us = created};
        if (b->host->emit(call, &it) != 0)
            st = ACP_NOMEM;
    }
    free(ks);
    return st;
}

/* The run object keys of index keys (decoded ids). */
static acp_status run_keys_of(acp_backend *b, acp_call *call, const key_list *idx, size_t glen,
                              key_list *out)
{
    for (size_t i = 0; i < idx->n; i++) {
        char id[260], k[S3_KEY_MAX];
        size_t idl;
        int64_t created;
        const char *key = idx->k[i];
        if (s3_key_pos_decode(key + glen, strlen(key) - glen, &created, id, sizeof id, &idl) ||
            strlen(id) != idl)
            return b->host->error(call, ACP_CORRUPT, "s3: index key %s is not a run position",
                                  key);
        size_t n = s3_key_obj(k, sizeof k, b->conf.prefix, 'r', id, idl);
        if (n == (size_t)-1)
            return key_too_long(b, call, id);
        if (collect_key(out, k, n))
            return b->host->error(call, ACP_NOMEM, "s3: out of memory listing runs");
    }
    return ACP_OK;
}

static acp_status s3_list_runs(acp_backend *b, const acp_run_query *q, acp_call *call)
{
    int g = q->agent_name && q->session_id ? S3_G_PAIR
            : q->agent_name                 ? S3_G_AGENT
            : q->session_id                 ? S3_G_SESSION
                                            : S3_G_ALL;
    char gp[S3_KEY_MAX], after[S3_KEY_MAX];
    const char *a = q->agent_name, *s = q->session_id;
    size_t glen = s3_key_group(gp, sizeof gp, b->conf.prefix, g, a, a ? strlen(a) : 0, s,
                               s ? strlen(s) : 0);
    if (glen == (size_t)-1)
        return b->host->error(call, ACP_NOMEM, "s3: cannot build the index key");
    if (q->has_cursor) {
        memcpy(after, gp, glen + 1);
        if (s3_key_pos(after, glen, sizeof after, q->cursor_created_us, q->cursor_run_id,
                       strlen(q->cursor_run_id)) == (size_t)-1)
            return key_too_long(b, call, q->cursor_run_id);
    }
    acp_status st = begin_read(b, call);
    if (st != ACP_OK)
        return st;
    page_ctx p = {.skip = q->offset, .want = q->limit, .count_all = q->want_total && !q->has_cursor};
    if (q->limit > 0 || p.count_all)
        st = list_keys(b, call, gp, q->has_cursor ? after : NULL, acp_run_window(q), page_key,
                       &p);
    if (st == ACP_OK && p.keys.nomem)
        st = b->host->error(call, ACP_NOMEM, "s3: out of memory listing runs");
    if (st == ACP_OK && q->want_total) {
        if (!p.count_all) { /* the total counts from the start, not the cursor */
            page_ctx c = {.count_all = 1};
            st = list_keys(b, call, gp, NULL, 1000, page_key, &c);
            p.seen = c.seen;
        }
        if (st == ACP_OK)
            b->host->set_total(call, p.seen);
    }
    key_list objs = {0};
    if (st == ACP_OK)
        st = run_keys_of(b, call, &p.keys, glen, &objs);
    indexed ix = {p.keys.k, glen};
    if (st == ACP_OK)
        st = fetch_each(b, call, objs.k, objs.n, emit_indexed, &ix);
    s3_unlock(b);
    key_list_free(&objs);
    key_list_free(&p.keys);
    return st;
}

/* ---- sessions ---- */

static acp_status s3_save_session(acp_backend *b, const acp_session_record *rec, acp_call *call)
{
    char k[S3_KEY_MAX];
    if (s3_key_obj(k, sizeof k, b->conf.prefix, 's', rec->id, rec->id_len) == (size_t)-1)
        return key_too_long(b, call, rec->id);
    acp_status st = begin_write(b, call);
    if (st == ACP_OK) {
        st = put_object(b, call, k, rec->doc, rec->doc_len);
        s3_unlock(b);
    }
    return st;
}

static acp_status emit_session(acp_backend *b, acp_call *call, const char *key, const char *id,
                               int *found)
{
    s3_resp r;
    acp_status st = get_object(b, call, key, &r, found);
    if (st == ACP_OK && *found) {
        if (!r.body.len) {
            st = b->host->error(call, ACP_CORRUPT, "s3: session '%s' is an empty object", id);
        } else {
            acp_item it = {.doc = r.body.p, .doc_len = r.body.len, .key = id};
            if (b->host->emit(call, &it) != 0)
                st = ACP_NOMEM;
        }
    }
    s3_buf_free(&r.body);
    return st;
}

static acp_status s3_get_session(acp_backend *b, const char *id, acp_call *call)
{
    char k[S3_KEY_MAX];
    if (s3_key_obj(k, sizeof k, b->conf.prefix, 's', id, strlen(id)) == (size_t)-1)
        return key_too_long(b, call, id);
    int found = 0;
    acp_status st = emit_session(b, call, k, id, &found);
    return st == ACP_OK && !found ? ACP_NOT_FOUND : st;
}

static acp_status s3_delete_session(acp_backend *b, const char *id, acp_call *call)
{
    char k[S3_KEY_MAX];
    if (s3_key_obj(k, sizeof k, b->conf.prefix, 's', id, strlen(id)) == (size_t)-1)
        return key_too_long(b, call, id);
    acp_status st = begin_write(b, call);
    if (st != ACP_OK)
        return st;
    /* S3 answers a DELETE the same whether the object existed or not. */
    s3_resp r;
    st = s3_request(b, call, "HEAD", k, "", NULL, 0, &r);
    if (st == ACP_OK && r.status == 404)
        st = ACP_NOT_FOUND;
    else if (st == ACP_OK && r.status != 200)
        st = s3_fail(b, call, "HEAD", &r);
    s3_buf_free(&r.body);
    if (st == ACP_OK)
        st = delete_object(b, call, k);
    s3_unlock(b);
    return st;
}

typedef struct sess_ctx {
    size_t plen;
    int64_t left;
    key_list keys;
} sess_ctx;

static int session_key(void *arg, const char *key, size_t n)
{
    sess_ctx *x = arg;
    if (collect_key(&x->keys, key, n))
        return 1;
    return --x->left <= 0;
}

/* One listed session (the id decoded from its key) emitted. */
static acp_status emit_listed_session(acp_backend *b, acp_call *call, void *arg, size_t i,
                                      const s3_resp *r, int found)
{
    const sess_ctx *x = arg;
    const char *key = x->keys.k[i];
    size_t n = strlen(key), end;
    char id[260];
    int len = n > x->plen ? s3_key_id_decode(key + x->plen, n - x->plen, 0, id, sizeof id, &end)
                          : -1;
    if (len < 0 || end != n - x->plen || strlen(id) != (size_t)len)
        return b->host->error(call, ACP_CORRUPT, "s3: %s is not a session key", key);
    if (!found) /* deleted since it was listed */
        return ACP_OK;
    if (!r->body.len)
        return b->host->error(call, ACP_CORRUPT, "s3: session '%s' is an empty object", id);
    acp_item it = {.doc = r->body.p, .doc_len = r->body.len, .key = id};
    return b->host->emit(call, &it) != 0 ? ACP_NOMEM : ACP_OK;
}

static acp_status s3_list_sessions(acp_backend *b, const char *after_id, int64_t limit,
                                   acp_call *call)
{
    char sp[S3_KEY_MAX], after[S3_KEY_MAX];
    int n = snprintf(sp, sizeof sp, "%ss/", b->conf.prefix);
    if (after_id && s3_key_obj(after, sizeof after, b->conf.prefix, 's', after_id,
                               strlen(after_id)) == (size_t)-1)
        return key_too_long(b, call, after_id);
    sess_ctx x = {(size_t)n, limit, {0}};
    acp_status st = list_keys(b, call, sp, after_id ? after : NULL, limit, session_key, &x);
    if (st == ACP_OK && x.keys.nomem)
        st = b->host->error(call, ACP_NOMEM, "s3: out of memory listing sessions");
    if (st == ACP_OK)
        st = fetch_each(b, call, x.keys.k, x.keys.n, emit_listed_session, &x);
    key_list_free(&x.keys);
    return st;
}

/* ---- events ---- */

static int last_key(void *arg, const char *key, size_t n)
{
    int64_t seq = s3_key_event_seq(key, n);
    int64_t *last = arg;
    if (seq > *last)
        *last = seq;
    return 0;
}

static acp_status s3_add_event(acp_backend *b, const acp_event_record *ev, int64_t *seq,
                               acp_call *call)
{
    s3_buf body = {0};
    if (s3_event_encode(&body, ev) != 0)
        return b->host->error(call, ACP_NOMEM, "s3: out of memory adding an event");
    acp_status st = begin_write(b, call);
    if (st != ACP_OK) {
        s3_buf_free(&body);
        return st;
    }
    int64_t last = s3_seq_get(b, ev->run_id, ev->run_id_len);
    char k[S3_KEY_MAX];
    if (last < 0) {
        /* Not known in this process: the last key of the run's events. */
        size_t n = s3_key_obj(k, sizeof k - 1, b->conf.prefix, 'e', ev->run_id, ev->run_id_len);
        if (n == (size_t)-1) {
            st = key_too_long(b, call, ev->run_id);
        } else {
            k[n++] = '/';
            k[n] = '\0';
            last = 0;
            st = list_keys(b, call, k, NULL, 1000, last_key, &last);
        }
    }
    if (st == ACP_OK &&
        s3_key_event(k, sizeof k, b->conf.prefix, ev->run_id, ev->run_id_len, last + 1) ==
            (size_t)-1)
        st = key_too_long(b, call, ev->run_id);
    if (st == ACP_OK)
        st = put_object(b, call, k, body.p, body.len);
    /* After a failed PUT the event may or may not be stored: look again
     * next time. */
    s3_seq_set(b, ev->run_id, ev->run_id_len, st == ACP_OK ? last + 1 : -1);
    if (st == ACP_OK)
        *seq = last + 1;
    s3_unlock(b);
    s3_buf_free(&body);
    return st;
}

typedef struct event_ctx {
    const char *run_id;
    int64_t first, left;
    key_list keys;
} event_ctx;

static int event_key(void *arg, const char *key, size_t n)
{
    event_ctx *x = arg;
    if (collect_key(&x->keys, key, n))
        return 1;
    return --x->left <= 0;
}

/* Event keys[i] fetched: it must be sequence first + i, and an event. */
static acp_status emit_event(acp_backend *b, acp_call *call, void *arg, size_t i,
                             const s3_resp *r, int found)
{
    const event_ctx *x = arg;
    const char *key = x->keys.k[i];
    int64_t want = x->first + (int64_t)i, seq = s3_key_event_seq(key, strlen(key)), stored;
    const char *doc;
    size_t len;
    if (!found || seq != want || s3_event_decode(r->body.p, r->body.len, &stored, &doc, &len))
        return b->host->error(call, ACP_CORRUPT, "s3: run '%s': event %lld (%s) is %s",
                              x->run_id, (long long)want, key,
                              !found       ? "missing"
                              : seq != want ? "out of sequence"
                                            : "not an event record");
    acp_item it = {.doc = doc, .doc_len = len, .seq = seq, .stored_us = stored};
    return b->host->emit(call, &it) != 0 ? ACP_NOMEM : ACP_OK;
}

static acp_status s3_get_events(acp_backend *b, const acp_event_query *q, acp_call *call)
{
    char ep[S3_KEY_MAX], after[S3_KEY_MAX];
    size_t idl = strlen(q->run_id);
    size_t n = s3_key_obj(ep, sizeof ep - 1, b->conf.prefix, 'e', q->run_id, idl);
    if (n == (size_t)-1)
        return key_too_long(b, call, q->run_id);
    ep[n++] = '/';
    ep[n] = '\0';
    /* Sequences are dense from 1: the page starts after after_seq + offset. */
    int64_t start = q->after_seq > 0 ? q->after_seq : 0;
    /* Far past any stream: kept below INT64_MAX so that start + 1 exists. */
    start = start >= INT64_MAX - 1 - q->offset ? INT64_MAX - 1 : start + q->offset;
    s3_key_event(after, sizeof after, b->conf.prefix, q->run_id, idl, start);
    acp_status st = begin_read(b, call);
    if (st != ACP_OK)
        return st;
    event_ctx x = {q->run_id, start + 1, q->limit, {0}};
    /* When this process appended to the run it knows the last sequence,
     * hence every key of the page: no listing (sequences are dense). */
    int64_t last = s3_seq_get(b, q->run_id, idl);
    if (q->limit > 0 && last >= 0) {
        for (int64_t seq = start + 1; seq <= last && x.left > 0 && !x.keys.nomem; seq++) {
            size_t kl = s3_key_event(after, sizeof after, b->conf.prefix, q->run_id, idl, seq);
            event_key(&x, after, kl);
        }
    } else if (q->limit > 0) {
        st = list_keys(b, call, ep, start > 0 ? after : NULL, q->limit, event_key, &x);
    }
    if (st == ACP_OK && x.keys.nomem)
        st = b->host->error(call, ACP_NOMEM, "s3: out of memory reading events");
    if (st == ACP_OK)
        st = fetch_each(b, call, x.keys.k, x.keys.n, emit_event, &x);
    s3_unlock(b);
    key_list_free(&x.keys);
    return st;
}

/* ---- health ---- */

static int any_key(void *arg, const char *key, size_t n)
{
    (void)arg, (void)key, (void)n;
    return 1;
}

static acp_status s3_ping(acp_backend *b, acp_call *call)
{
    return list_keys(b, call, b->conf.prefix, NULL, 1, any_key, NULL);
}

/* ---- the descriptor ---- */

acp_status s3_open(const acp_plugin_host *host, const acp_open_args *a, acp_backend **out,
                   acp_call *call);
void s3_close(acp_backend *b);
acp_status s3_init(const acp_plugin_host *host, acp_call *call);

static const acp_backend_vtable vtable = {
    .init = s3_init,
    .open = s3_open,
    .close = s3_close,
    .ping = s3_ping,
    .save_run = s3_save_run,
    .get_run = s3_get_run,
    .delete_run = s3_delete_run,
    .list_runs = s3_list_runs,
    .save_session = s3_save_session,
    .get_session = s3_get_session,
    .delete_session = s3_delete_session,
    .add_event = s3_add_event,
    .get_events = s3_get_events,
    .list_sessions = s3_list_sessions, /* ABI 1.1 */
    /* verify: the core's walk (list, get) checks every document; wait_events:
     * S3 has no notification a follower could wait on without polling. */
};

/* Not ACP_CAP_MULTIPROCESS: README.md, "Several processes".  Options:
 * s3_options (open.c). */
ACP_PLUGIN_DEFINE_TYPED(s3, ACP_STORAGE_PLUGIN_VERSION,
                        "Any S3-compatible object store (AWS S3, MinIO, Ceph, R2), SigV4 over "
                        "libcurl",
                        ACP_CAP_CONCURRENT | ACP_CAP_DURABLE | ACP_CAP_NETWORK, s3_variants,
                        s3_options, &vtable)
