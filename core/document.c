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

int acp__status_terminal(const char *s)
{
    return s && (!strcmp(s, "completed") || !strcmp(s, "failed") || !strcmp(s, "cancelled"));
}

/* Length of the valid UTF-8 sequence at s (max n bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return 1;
    size_t len;
    uint32_t cp;
    if ((s[0] & 0xE0) == 0xC0) {
        len = 2;
        cp = s[0] & 0x1F;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3;
        cp = s[0] & 0x0F;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    /* Reject overlong forms, surrogates and values past U+10FFFF. */
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return 0;
    return len;
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
        size_t k = utf8_seq(s + i, n - i);
        if (!k)
            return acp__error(err, ACP_INVALID, "%s is not valid UTF-8 (byte %zu)", what, i);
        i += k;
    }
    return ACP_OK;
}

/* ---- a strict JSON syntax check ----
 * Run before cJSON so that (a) a cJSON failure can only mean "no memory",
 * (b) cJSON never writes its process-global error pointer (the application
 * may parse JSON on other threads), (c) strings are valid UTF-8 and (d) the
 * nesting bound is ours.  It only reads; nothing is built. */

#define JSON_MAX_DEPTH 512

/* A top-level member the caller asked for: where its value is. */
typedef struct member_span {
    const char *p;   /* first byte of the value */
    size_t n;        /* bytes of the value */
    int count;       /* times the member appears */
    int has_nul;     /* a string value holding \u0000 */
} member_span;

#define MAX_WANTED 8

typedef struct scan {
    const char *p, *end, *start;
    const char *why;
    int saw_nul;                        /* the last string scanned held \u0000 */
    const char *const *want;            /* top-level member names to capture, or NULL */
    member_span got[MAX_WANTED];
} scan;

static int hex4(const char *p, unsigned *v);

/* Index of the wanted name the raw (still escaped) key k[0..n) spells, or -1. */
static int wanted(const scan *s, const char *k, size_t n)
{
    char buf[64];
    size_t m = 0;
    if (!s->want)
        return -1;
    if (memchr(k, '\\', n)) { /* rare: an escaped key; decode the simple escapes */
        for (size_t i = 0; i < n && m < sizeof buf; i++) {
            unsigned v;
            if (k[i] != '\\') {
                buf[m++] = k[i];
            } else if (i + 5 < n + 0 && k[i + 1] == 'u' && hex4(k + i + 2, &v) && v > 0 && v < 0x80) {
                buf[m++] = (char)v;
                i += 5;
            } else if (i + 1 < n && strchr("\"\\/", k[i + 1])) {
                buf[m++] = k[++i];
            } else {
                return -1; /* not one of our plain ASCII names */
            }
        }
        k = buf;
        n = m;
    }
    for (int i = 0; s->want[i]; i++)
        if (strlen(s->want[i]) == n && memcmp(s->want[i], k, n) == 0)
            return i;
    return -1;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_ws(scan *s)
{
    while (s->p < s->end && is_ws(*s->p))
        s->p++;
}

static int fail(scan *s, const char *why)
{
    s->why = why;
    return 0;
}

static int hex4(const char *p, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return 0;
        *v = *v << 4 | (unsigned)d;
    }
    return 1;
}

static int scan_string(scan *s)
{
    s->p++; /* opening quote */
    s->saw_nul = 0;
    while (s->p < s->end) {
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') {
            s->p++;
            return 1;
        }
        if (c < 0x20)
            return fail(s, "control character in a string");
        if (c == '\\') {
            if (s->end - s->p < 2)
                break;
            char e = s->p[1];
            if (e == 'u') {
                unsigned v, lo;
                if (s->end - s->p < 6 || !hex4(s->p + 2, &v))
                    return fail(s, "bad \\u escape");
                s->saw_nul |= v == 0;
                s->p += 6;
                if (v >= 0xDC00 && v <= 0xDFFF)
                    return fail(s, "lone low surrogate in a \\u escape");
                if (v >= 0xD800 && v <= 0xDBFF) {
                    if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
                        !hex4(s->p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                        return fail(s, "unpaired high surrogate in a \\u escape");
                    s->p += 6;
                }
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || !e)
                return fail(s, "bad escape in a string");
            s->p += 2;
            continue;
        }
        if (c < 0x80) { /* plain ASCII: nothing more to check */
            s->p++;
            continue;
        }
        size_t k = utf8_seq((const unsigned char *)s->p, (size_t)(s->end - s->p));
        if (!k)
            return fail(s, "invalid UTF-8 in a string");
        s->p += k;
    }
    return fail(s, "unterminated string");
}

static int digit_run(scan *s)
{
    const char *b = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    return s->p > b;
}

static int scan_number(scan *s)
{
    if (*s->p == '-')
        s->p++;
    if (s->p < s->end && *s->p == '0')
        s->p++;
    else if (!digit_run(s))
        return fail(s, "bad number");
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (!digit_run(s))
            return fail(s, "bad number");
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (!digit_run(s))
            return fail(s, "bad number");
    }
    return 1;
}

static int scan_value(scan *s, int depth)
{
    skip_ws(s);
    if (s->p >= s->end)
        return fail(s, "unexpected end of text");
    switch (*s->p) {
    case '"':
        return scan_string(s);
    case '{':
    case '[': {
        char close = *s->p == '{' ? '}' : ']';
        if (depth >= JSON_MAX_DEPTH)
            return fail(s, "nesting deeper than 512 levels");
        s->p++;
        skip_ws(s);
        if (s->p < s->end && *s->p == close) {
            s->p++;
            return 1;
        }
        for (;;) {
            int w = -1;
            if (close == '}') {
                skip_ws(s);
                if (s->p >= s->end || *s->p != '"')
                    return fail(s, "expected a member name");
                const char *k = s->p + 1;
                if (!scan_string(s))
                    return 0;
                /* cJSON cuts a name at NUL: "run_id\u0000x" would read as run_id. */
                if (depth == 0 && s->saw_nul)
                    return fail(s, "\\u0000 in a top-level member name");
                if (depth == 0)
                    w = wanted(s, k, (size_t)(s->p - 1 - k));
                skip_ws(s);
                if (s->p >= s->end || *s->p != ':')
                    return fail(s, "expected ':'");
                s->p++;
            }
            skip_ws(s);
            const char *v = s->p;
            s->saw_nul = 0;
            if (!scan_value(s, depth + 1))
                return 0;
            if (w >= 0) {
                member_span *m = &s->got[w];
                if (!m->count++) {
                    m->p = v;
                    m->n = (size_t)(s->p - v);
                    m->has_nul = *v == '"' && s->saw_nul;
                }
            }
            skip_ws(s);
            if (s->p < s->end && *s->p == ',') {
                s->p++;
                continue;
            }
            if (s->p < s->end && *s->p == close) {
                s->p++;
                return 1;
            }
            return fail(s, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    case 't':
    case 'f':
    case 'n': {
        const char *lit = *s->p == 't' ? "true" : *s->p == 'f' ? "false" : "null";
        size_t n = strlen(lit);
        if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
            return fail(s, "unknown literal");
        s->p += n;
        return 1;
    }
    default:
        if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
            return scan_number(s);
        return fail(s, "unexpected character");
    }
}

acp_status acp__json_parse(const char *text, size_t len, const char *what, cJSON **out,
                           acp_error *err)
{
    if (!text)
        return acp__error(err, ACP_INVALID, "%s document must not be NULL", what);
    scan s = {.p = text, .end = text + len, .start = text};
    if (!scan_value(&s, 0))
        return acp__error(err, ACP_INVALID, "%s document is not valid JSON: %s (byte %zu of %zu)",
                          what, s.why, (size_t)(s.p - text), len);
    skip_ws(&s);
    if (s.p != s.end)
        return acp__error(err, ACP_INVALID,
                          "%s document has trailing characters after the JSON value (byte %zu)",
                          what, (size_t)(s.p - text));
    /* The text is known good, so a failure here can only be memory. */
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root)
        return acp__error(err, ACP_NOMEM, "out of memory parsing a %s document", what);
    *out = root;
    return ACP_OK;
}

/* ---- indexed fields, read straight from the checked text ----
 * The store never builds a tree for a document it only has to keep: one
 * pass checks the syntax and notes where the top-level members it indexes
 * are; only those strings are decoded. */

/* Decode the JSON string at raw[0..n) (quotes included) into out, which has
 * room for n bytes; returns the decoded length.  The text was checked. */
static size_t decode_string(const char *raw, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        if (raw[i] != '\\') {
            out[o++] = raw[i];
            continue;
        }
        char e = raw[++i];
        if (e != 'u') {
            static const char from[] = "bfnrt", to[] = "\b\f\n\r\t";
            const char *f = strchr(from, e);
            out[o++] = f ? to[f - from] : e;
            continue;
        }
        unsigned cp, lo;
        hex4(raw + i + 1, &cp);
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            hex4(raw + i + 3, &lo);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
        }
        if (cp < 0x80) {
            out[o++] = (char)cp;
        } else if (cp < 0x800) {
            out[o++] = (char)(0xC0 | cp >> 6);
            out[o++] = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out[o++] = (char)(0xE0 | cp >> 12);
            out[o++] = (char)(0x80 | (cp >> 6 & 0x3F));
            out[o++] = (char)(0x80 | (cp & 0x3F));
        } else {
            out[o++] = (char)(0xF0 | cp >> 18);
            out[o++] = (char)(0x80 | (cp >> 12 & 0x3F));
            out[o++] = (char)(0x80 | (cp >> 6 & 0x3F));
            out[o++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    out[o] = '\0';
    return o;
}

/* Check text and capture the members named in want (NULL-terminated). */
static acp_status scan_doc(const char *text, size_t len, const char *what,
                           const char *const *want, scan *s, acp__strbuf *buf, acp_error *err)
{
    memset(s, 0, sizeof *s);
    s->p = s->start = text;
    s->end = text + len;
    s->want = want;
    buf->heap = NULL;
    buf->used = 0;
    if (!text)
        return acp__error(err, ACP_INVALID, "%s document must not be NULL", what);
    skip_ws(s);
    if (s->p >= s->end || *s->p != '{') {
        if (!scan_value(s, 0))
            return acp__error(err, ACP_INVALID, "%s document is not valid JSON: %s (byte %zu of %zu)",
                              what, s->why, (size_t)(s->p - text), len);
        return acp__error(err, ACP_INVALID, "%s document must be a JSON object", what);
    }
    if (!scan_value(s, 0))
        return acp__error(err, ACP_INVALID, "%s document is not valid JSON: %s (byte %zu of %zu)",
                          what, s->why, (size_t)(s->p - text), len);
    skip_ws(s);
    if (s->p != s->end)
        return acp__error(err, ACP_INVALID,
                          "%s document has trailing characters after the JSON value (byte %zu)",
                          what, (size_t)(s->p - text));
    for (int i = 0; want[i]; i++) {
        if (s->got[i].count > 1)
            return acp__error(err, ACP_INVALID, "%s document gives \"%s\" more than once", what,
                              want[i]);
        if (s->got[i].has_nul)
            return acp__error(err, ACP_INVALID, "%s member \"%s\" contains \\u0000 (NUL)", what,
                              want[i]);
    }
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
static const char *str_of(const member_span *m, acp__strbuf *b, char *kind, int *nomem)
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
    decode_string(m->p, m->n, out);
    return out;
}

static acp_status instant(const member_span *m, acp__strbuf *b, const char *name, int64_t *us,
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

#define NOMEM_IF(flag, what)                                                                       \
    do {                                                                                           \
        if (flag) {                                                                                \
            acp__strbuf_free(b);                                                                   \
            return acp__error(err, ACP_NOMEM, "out of memory reading a %s document", what);        \
        }                                                                                          \
    } while (0)

acp_status acp__run_check(const char *text, size_t len, acp__run_fields *f, acp__strbuf *b,
                          acp_error *err)
{
    enum { ID, AGENT, SESSION, STATUS, CREATED, FINISHED };
    static const char *const want[] = {"run_id",     "agent_name",  "session_id", "status",
                                       "created_at", "finished_at", NULL};
    scan s;
    char k1, k2, k3, k4;
    int nomem = 0, present;
    memset(f, 0, sizeof *f);
    acp_status st = scan_doc(text, len, "run", want, &s, b, err);
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
    if (st != ACP_OK) {
        acp__strbuf_free(b);
        return st;
    }
    f->run_id = id;
    f->agent_name = agent;
    f->session_id = k4 == 's' ? session : NULL;
    f->status = status;
    return ACP_OK;
}

acp_status acp__session_check(const char *text, size_t len, const char **id, acp__strbuf *b,
                              acp_error *err)
{
    static const char *const want[] = {"id", NULL};
    scan s;
    char kind;
    int nomem = 0;
    acp_status st = scan_doc(text, len, "session", want, &s, b, err);
    if (st != ACP_OK)
        return st;
    const char *v = str_of(&s.got[0], b, &kind, &nomem);
    NOMEM_IF(nomem, "session");
    if (kind != 's')
        st = acp__error(err, ACP_INVALID, "session document needs a string \"id\"");
    else
        st = acp__id_check(v, "session id", err);
    if (st != ACP_OK) {
        acp__strbuf_free(b);
        return st;
    }
    *id = v;
    return ACP_OK;
}

acp_status acp__event_check(const char *text, size_t len, const char **type, acp__strbuf *b,
                            acp_error *err)
{
    static const char *const want[] = {"type", NULL};
    scan s;
    char kind;
    int nomem = 0;
    acp_status st = scan_doc(text, len, "event", want, &s, b, err);
    if (st != ACP_OK)
        return st;
    const char *v = str_of(&s.got[0], b, &kind, &nomem);
    NOMEM_IF(nomem, "event");
    if (kind != 's' || !v[0]) {
        acp__strbuf_free(b);
        return acp__error(err, ACP_INVALID, "event needs a non-empty string \"type\"");
    }
    *type = v;
    return ACP_OK;
}
