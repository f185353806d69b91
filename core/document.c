/* SPDX-License-Identifier: MIT */
/*
 * document.c - the one place where documents are checked and indexed
 * fields extracted.  Documents are parsed only to be checked: what is
 * stored is always the caller's text, never a re-print (cJSON would turn
 * 9007199254740993 into 9007199254740992).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *const run_statuses[] = {
    "created", "in-progress", "awaiting", "cancelling", "cancelled", "completed", "failed",
};

int acp__status_valid(const char *s)
{
    for (size_t i = 0; s && i < sizeof run_statuses / sizeof run_statuses[0]; i++)
        if (strcmp(s, run_statuses[i]) == 0)
            return 1;
    return 0;
}

const char *acp__status_name(size_t i)
{
    return i < sizeof run_statuses / sizeof run_statuses[0] ? run_statuses[i] : NULL;
}

int acp__status_terminal(const char *s)
{
    return s && (!strcmp(s, "completed") || !strcmp(s, "failed") || !strcmp(s, "cancelled"));
}

acp_status acp__id_check(const char *id, const char *what, acp_error *err)
{
    if (!id)
        return acp__error(err, ACP_INVALID, "%s must not be NULL", what);
    size_t n = strnlen(id, ACP_ID_MAX + 1);
    if (n == 0)
        return acp__error(err, ACP_INVALID, "%s must not be empty", what);
    if (n > ACP_ID_MAX)
        return acp__error(err, ACP_INVALID, "%s is longer than %d bytes", what, ACP_ID_MAX);
    const unsigned char *s = (const unsigned char *)id;
    if (n >= 8) {
        /* Ids are mostly ASCII and checked on every call: test 8 bytes at a
         * time, the last word overlapping the one before it. */
        uint64_t w, any = 0;
        for (size_t i = 0; i + 8 <= n; i += 8) {
            memcpy(&w, s + i, 8);
            any |= w;
        }
        memcpy(&w, s + n - 8, 8);
        if (!((any | w) & UINT64_C(0x8080808080808080)))
            return ACP_OK;
    }
    for (size_t i = 0; i < n;) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = acp__utf8_seq(s + i, n - i);
        if (!k)
            return acp__error(err, ACP_INVALID, "%s is not valid UTF-8 (byte %zu)", what, i);
        i += k;
    }
    return ACP_OK;
}

/* ---- indexed fields, read straight from the checked text ----
 * The store never builds a tree for a document it only has to keep: one
 * pass (json.c) checks the syntax and notes where the top-level members it
 * indexes are; only those strings are decoded.  The typed layer passes
 * keep and gets the tree from the same pass. */

/* The INVALID or NOMEM error of a failed scan of a `what` document. */
static acp_status scan_error(const acp__json_scan *s, const char *what, size_t len,
                             acp_error *err)
{
    if (s->nomem)
        return acp__error(err, ACP_NOMEM, "out of memory reading a %s document", what);
    if (s->trailing)
        return acp__error(err, ACP_INVALID,
                          "%s document has trailing characters after the JSON value (byte %zu)",
                          what, s->at);
    return acp__error(err, ACP_INVALID, "%s document is not valid JSON: %s (byte %zu of %zu)",
                      what, s->why, s->at, len);
}

acp_status acp__json_check(const char *text, size_t len, const char *what, acp_error *err)
{
    acp__json_scan s = {0};
    if (!text)
        return acp__error(err, ACP_INVALID, "%s document must not be NULL", what);
    return acp__json_scan_text(&s, text, len) ? ACP_OK : scan_error(&s, what, len, err);
}

/* Check text and capture the members named in want (NULL-terminated);
 * with tree, *tree receives the document's tree (members keep marks raw). */
static acp_status scan_doc(const char *text, size_t len, const char *what,
                           const char *const *want, acp__json_scan *s, acp__strbuf *buf,
                           acp__json_keep (*keep)(const char *), cJSON **tree, acp_error *err)
{
    buf->heap = NULL;
    buf->used = 0;
    if (!text)
        return acp__error(err, ACP_INVALID, "%s document must not be NULL", what);
    s->want = want;
    s->keep = tree ? keep : NULL;
    const char *first = text;
    size_t n = len;
    acp__json_trim(&first, &n);
    int ok = acp__json_scan_text(s, text, len);
    if ((ok || s->trailing) && (!n || *first != '{')) {
        cJSON_Delete(s->root);
        return acp__error(err, ACP_INVALID, "%s document must be a JSON object", what);
    }
    if (!ok)
        return scan_error(s, what, len, err);
    for (int i = 0; want[i]; i++) {
        if (s->got[i].count > 1 || s->got[i].has_nul) {
            cJSON_Delete(s->root);
            if (s->got[i].count > 1)
                return acp__error(err, ACP_INVALID, "%s document gives \"%s\" more than once",
                                  what, want[i]);
            return acp__error(err, ACP_INVALID, "%s member \"%s\" contains \\u0000 (NUL)", what,
                              want[i]);
        }
    }
    if (tree)
        *tree = s->root;
    return ACP_OK;
}

void acp__strbuf_free(acp__strbuf *b)
{
    while (b->heap) {
        char *next;
        memcpy(&next, b->heap, sizeof next);
        free(b->heap);
        b->heap = next;
    }
}

/* The member's string value decoded into b, NULL if absent; *kind tells
 * what the value is: 's' string, 'n' null, 'x' anything else, 0 absent. */
static const char *str_of(const acp__json_member *m, acp__strbuf *b, char *kind, int *nomem)
{
    if (!m->count) {
        *kind = 0;
        return NULL;
    }
    if (*m->p != '"') {
        *kind = *m->p == 'n' ? 'n' : 'x';
        return NULL;
    }
    *kind = 's';
    char *out;
    if (b->used + m->n + 1 <= sizeof b->small) {
        out = b->small + b->used;
        b->used += m->n + 1;
    } else {
        /* Rare (ids are at most 256 bytes): a member that does not fit gets
         * its own block, chained from b->heap. */
        char *h = malloc(sizeof(char *) + m->n + 1);
        if (!h) {
            *nomem = 1;
            return NULL;
        }
        memcpy(h, &b->heap, sizeof(char *)); /* chain for acp__strbuf_free */
        b->heap = h;
        out = h + sizeof(char *);
    }
    acp__json_decode_string(m->p, m->n, out);
    return out;
}

static acp_status instant(const acp__json_member *m, acp__strbuf *b, const char *name, int64_t *us,
                          int *present, int *nomem, acp_error *err)
{
    char kind;
    const char *v = str_of(m, b, &kind, nomem);
    *us = INT64_MIN;
    *present = 0;
    if (*nomem || kind == 0 || kind == 'n')
        return ACP_OK;
    if (kind != 's')
        return acp__error(err, ACP_INVALID, "run %s must be an RFC 3339 string or null", name);
    acp_error e;
    if (acp_time_parse(v, ACP_STRLEN, us, &e) != ACP_OK)
        return acp__error(err, ACP_INVALID, "run %s: %s", name, e.message);
    *present = 1;
    return ACP_OK;
}

/* A check failed after the scan: release what the scan produced. */
static acp_status drop(acp__strbuf *b, cJSON **tree, acp_status st)
{
    acp__strbuf_free(b);
    if (tree) {
        cJSON_Delete(*tree);
        *tree = NULL;
    }
    return st;
}

#define NOMEM_IF(flag, what)                                                                       \
    do {                                                                                           \
        if (flag)                                                                                  \
            return drop(b, tree,                                                                   \
                        acp__error(err, ACP_NOMEM, "out of memory reading a %s document", what));  \
    } while (0)

acp_status acp__run_check(const char *text, size_t len, acp__run_fields *f, acp__strbuf *b,
                          acp__json_keep (*keep)(const char *), cJSON **tree, acp_error *err)
{
    enum { ID, AGENT, SESSION, STATUS, CREATED, FINISHED };
    static const char *const want[] = {"run_id",     "agent_name",  "session_id", "status",
                                       "created_at", "finished_at", NULL};
    acp__json_scan s;
    char k1, k2, k3, k4;
    int nomem = 0, present;
    memset(f, 0, sizeof *f);
    acp_status st = scan_doc(text, len, "run", want, &s, b, keep, tree, err);
    if (st != ACP_OK)
        return st;
    const char *id = str_of(&s.got[ID], b, &k1, &nomem);
    const char *agent = str_of(&s.got[AGENT], b, &k2, &nomem);
    const char *status = str_of(&s.got[STATUS], b, &k3, &nomem);
    const char *session = str_of(&s.got[SESSION], b, &k4, &nomem);
    NOMEM_IF(nomem, "run");
    if (k1 != 's')
        st = acp__error(err, ACP_INVALID, "run document needs a string \"run_id\"");
    else if ((st = acp__id_check(id, "run_id", err)) != ACP_OK)
        ;
    else if (k2 != 's')
        st = acp__error(err, ACP_INVALID, "run document needs a string \"agent_name\"");
    else if ((st = acp__id_check(agent, "agent_name", err)) != ACP_OK)
        ;
    else if (k3 != 's')
        st = acp__error(err, ACP_INVALID, "run document needs a string \"status\"");
    else if (!acp__status_valid(status))
        st = acp__error(err, ACP_INVALID,
                        "run status '%.64s' is not one of created, in-progress, awaiting, "
                        "cancelling, cancelled, completed, failed",
                        status);
    else if (k4 == 'x')
        st = acp__error(err, ACP_INVALID, "run session_id must be a string or null");
    else if (k4 == 's' && (st = acp__id_check(session, "session_id", err)) != ACP_OK)
        ;
    else if ((st = instant(&s.got[CREATED], b, "created_at", &f->created_us, &f->has_created,
                           &nomem, err)) == ACP_OK)
        st = instant(&s.got[FINISHED], b, "finished_at", &f->finished_us, &present, &nomem, err);
    NOMEM_IF(nomem, "run");
    if (st != ACP_OK)
        return drop(b, tree, st);
    f->run_id = id;
    f->agent_name = agent;
    f->session_id = k4 == 's' ? session : NULL;
    f->status = status;
    return ACP_OK;
}

/* A document whose one indexed member is a string: a session's id, an
 * event's type.  check tells what is wrong with its value, or ACP_OK. */
static acp_status one_member_check(const char *text, size_t len, const char *what,
                                   const char *member, const char **value, acp__strbuf *b,
                                   acp__json_keep (*keep)(const char *), cJSON **tree,
                                   acp_status (*check)(const char *v, int is_string,
                                                       acp_error *err),
                                   acp_error *err)
{
    const char *const want[] = {member, NULL};
    acp__json_scan s;
    char kind;
    int nomem = 0;
    acp_status st = scan_doc(text, len, what, want, &s, b, keep, tree, err);
    if (st != ACP_OK)
        return st;
    const char *v = str_of(&s.got[0], b, &kind, &nomem);
    NOMEM_IF(nomem, what);
    if ((st = check(v, kind == 's', err)) != ACP_OK)
        return drop(b, tree, st);
    *value = v;
    return ACP_OK;
}

static acp_status session_id_rule(const char *v, int is_string, acp_error *err)
{
    if (!is_string)
        return acp__error(err, ACP_INVALID, "session document needs a string \"id\"");
    return acp__id_check(v, "session id", err);
}

static acp_status event_type_rule(const char *v, int is_string, acp_error *err)
{
    if (!is_string || !v[0])
        return acp__error(err, ACP_INVALID, "event needs a non-empty string \"type\"");
    return ACP_OK;
}

acp_status acp__session_check(const char *text, size_t len, const char **id, acp__strbuf *b,
                              acp__json_keep (*keep)(const char *), cJSON **tree, acp_error *err)
{
    return one_member_check(text, len, "session", "id", id, b, keep, tree, session_id_rule, err);
}

acp_status acp__event_check(const char *text, size_t len, const char **type, acp__strbuf *b,
                            acp__json_keep (*keep)(const char *), cJSON **tree, acp_error *err)
{
    return one_member_check(text, len, "event", "type", type, b, keep, tree, event_type_rule,
                            err);
}
