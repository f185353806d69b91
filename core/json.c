/* SPDX-License-Identifier: MIT */
/*
 * json.c - the core's one JSON and UTF-8 toolkit (see json.h): one strict
 * scanner that checks a document, notes its indexed members and, for the
 * typed layer, builds its tree in the same pass.  It only reads the text.
 */
#include <stdint.h>
#include <string.h>

#include "json.h"

void acp__json_trim(const char **text, size_t *len)
{
    const char *p = *text;
    size_t n = *len;
    while (n && acp__json_ws(*p))
        p++, n--;
    while (n && acp__json_ws(p[n - 1]))
        n--;
    *text = p;
    *len = n;
}

int acp__hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t acp__utf8_seq(const unsigned char *s, size_t n)
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

int acp__utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        size_t k = s[i] < 0x80 ? 1 : acp__utf8_seq(s + i, n - i);
        if (!k)
            return 0;
        i += k;
    }
    return 1;
}

/* Four hex digits at p as a code unit; 0 if one is not a hex digit. */
static int hex4(const char *p, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int d = acp__hex_digit(p[i]);
        if (d < 0)
            return 0;
        *v = *v << 4 | (unsigned)d;
    }
    return 1;
}

size_t acp__json_decode_string(const char *raw, size_t n, char *out)
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

/* ---- building nodes ----
 * Nodes are made as cJSON's parser makes them (a node, its strings through
 * cJSON's hooks, linked in text order), so cJSON_Delete frees them. */

/* A node of type `type` owning str (allocated with cJSON_malloc), or NULL
 * (str freed) when out of memory. */
static cJSON *node_with(int type, char *str)
{
    cJSON *n = str ? cJSON_CreateNull() : NULL;
    if (!n) {
        cJSON_free(str);
        return NULL;
    }
    n->type = type;
    n->valuestring = str;
    return n;
}

cJSON *acp__json_raw(const char *text, size_t len)
{
    char *t = cJSON_malloc(len + 1);
    if (!t)
        return NULL;
    memcpy(t, text, len);
    t[len] = '\0';
    return node_with(cJSON_Raw, t);
}

/* The decoded string raw[0..n) in a block from cJSON's hooks, or NULL. */
static char *decoded(const char *raw, size_t n)
{
    char *d = cJSON_malloc(n);
    if (d)
        acp__json_decode_string(raw, n, d);
    return d;
}

/* ---- the scanner ---- */

static void skip_ws(acp__json_scan *s)
{
    while (s->p < s->end && acp__json_ws(*s->p))
        s->p++;
}

static int fail(acp__json_scan *s, const char *why)
{
    s->why = why;
    return 0;
}

static int out_of_memory(acp__json_scan *s)
{
    s->nomem = 1;
    return fail(s, "out of memory");
}

/* Index of the wanted name the raw (still escaped, quotes included) key
 * k[0..n) spells, or -1. */
static int wanted(const acp__json_scan *s, const char *k, size_t n)
{
    char buf[64];
    if (!s->want)
        return -1;
    if (memchr(k, '\\', n)) { /* rare: an escaped key */
        if (n > sizeof buf)
            return -1; /* longer than any name we index, even decoded */
        n = acp__json_decode_string(k, n, buf);
        k = buf;
    } else {
        k++;
        n -= 2;
    }
    for (int i = 0; s->want[i]; i++)
        if (strlen(s->want[i]) == n && memcmp(s->want[i], k, n) == 0)
            return i;
    return -1;
}

static int scan_string(acp__json_scan *s)
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
            if (!e || !strchr("\"\\/bfnrt", e))
                return fail(s, "bad escape in a string");
            s->p += 2;
            continue;
        }
        if (c < 0x80) { /* plain ASCII: nothing more to check */
            s->p++;
            continue;
        }
        size_t k = acp__utf8_seq((const unsigned char *)s->p, (size_t)(s->end - s->p));
        if (!k)
            return fail(s, "invalid UTF-8 in a string");
        s->p += k;
    }
    return fail(s, "unterminated string");
}

static int digit_run(acp__json_scan *s)
{
    const char *b = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    return s->p > b;
}

static int scan_number(acp__json_scan *s)
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

/* The scanner comes in two copies made from one source: checking only
 * (build 0: every tree branch folds away, so a document the store only
 * keeps costs what a pure syntax check costs) and building (build 1, out
 * never NULL; a subtree kept raw is only checked). */
#define SCAN_INLINE static inline __attribute__((always_inline))

static int scan_value_check(acp__json_scan *s, int depth);
static int scan_value_build(acp__json_scan *s, int depth, cJSON **out, int raw_children);

/* The members or elements of the object or array at s->p; when building,
 * *out is the container node, its children raw when raw_children. */
SCAN_INLINE int scan_container(acp__json_scan *s, int depth, cJSON **out, int raw_children,
                               const int build)
{
    char close = *s->p == '{' ? '}' : ']';
    if (depth >= ACP__JSON_MAX_DEPTH)
        return fail(s, "nesting deeper than 512 levels");
    cJSON *box = NULL;
    if (build && !(*out = box = close == '}' ? cJSON_CreateObject() : cJSON_CreateArray()))
        return out_of_memory(s);
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return 1;
    }
    for (;;) {
        int w = -1, how = raw_children ? ACP__KEEP_RAW : ACP__KEEP_TREE;
        char *key = NULL;
        if (close == '}') {
            skip_ws(s);
            if (s->p >= s->end || *s->p != '"')
                return fail(s, "expected a member name");
            const char *k = s->p;
            if (!scan_string(s))
                return 0;
            /* A NUL cuts a name short: "run_id\u0000x" would read as run_id. */
            if (depth == 0 && s->saw_nul)
                return fail(s, "\\u0000 in a top-level member name");
            size_t kn = (size_t)(s->p - k);
            if (depth == 0)
                w = wanted(s, k, kn);
            if (build && !(key = decoded(k, kn)))
                return out_of_memory(s);
            if (build && depth == 0)
                how = (int)s->keep(key);
            skip_ws(s);
            if (s->p >= s->end || *s->p != ':') {
                if (build)
                    cJSON_free(key);
                return fail(s, "expected ':'");
            }
            s->p++;
        }
        skip_ws(s);
        const char *v = s->p;
        cJSON *child = NULL;
        s->saw_nul = 0;
        int ok = build && how != ACP__KEEP_RAW
                     ? scan_value_build(s, depth + 1, &child,
                                        how == ACP__KEEP_RAW_ELEMENTS && *v == '[')
                     : scan_value_check(s, depth + 1);
        if (build && ok && how == ACP__KEEP_RAW &&
            !(child = acp__json_raw(v, (size_t)(s->p - v))))
            ok = out_of_memory(s);
        if (build && child) { /* linked even after a failure, so that the tree frees it */
            child->string = key;
            cJSON_AddItemToArray(box, child);
        } else if (build) {
            cJSON_free(key);
        }
        if (!ok)
            return 0;
        if (w >= 0) {
            acp__json_member *m = &s->got[w];
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

SCAN_INLINE int scan_value(acp__json_scan *s, int depth, cJSON **out, int raw_children,
                           const int build)
{
    skip_ws(s);
    if (s->p >= s->end)
        return fail(s, "unexpected end of text");
    const char *v = s->p;
    switch (*s->p) {
    case '"':
        if (!scan_string(s))
            return 0;
        if (build && !(*out = node_with(cJSON_String, decoded(v, (size_t)(s->p - v)))))
            return out_of_memory(s);
        return 1;
    case '{':
    case '[':
        return scan_container(s, depth, out, raw_children, build);
    case 't':
    case 'f':
    case 'n': {
        const char *lit = *s->p == 't' ? "true" : *s->p == 'f' ? "false" : "null";
        size_t n = strlen(lit);
        if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
            return fail(s, "unknown literal");
        s->p += n;
        if (build && !(*out = *v == 't' ? cJSON_CreateTrue()
                            : *v == 'f' ? cJSON_CreateFalse() : cJSON_CreateNull()))
            return out_of_memory(s);
        return 1;
    }
    default:
        if (*s->p != '-' && !(*s->p >= '0' && *s->p <= '9'))
            return fail(s, "unexpected character");
        if (!scan_number(s))
            return 0;
        if (build && !(*out = acp__json_raw(v, (size_t)(s->p - v))))
            return out_of_memory(s);
        return 1;
    }
}

static int scan_value_check(acp__json_scan *s, int depth)
{
    return scan_value(s, depth, NULL, 0, 0);
}

static int scan_value_build(acp__json_scan *s, int depth, cJSON **out, int raw_children)
{
    return scan_value(s, depth, out, raw_children, 1);
}

int acp__json_scan_text(acp__json_scan *s, const char *text, size_t len)
{
    memset(s->got, 0, sizeof s->got);
    s->root = NULL;
    s->why = NULL;
    s->at = 0;
    s->nomem = s->trailing = 0;
    s->p = s->start = text;
    s->end = text + len;
    int ok = s->keep ? scan_value_build(s, 0, &s->root, 0) : scan_value_check(s, 0);
    if (ok) {
        skip_ws(s);
        if (s->p != s->end) {
            s->trailing = 1;
            ok = fail(s, "trailing characters after the JSON value");
        }
    }
    s->at = (size_t)(s->p - text);
    if (!ok) {
        cJSON_Delete(s->root);
        s->root = NULL;
    }
    return ok;
}
