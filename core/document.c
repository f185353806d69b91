/*
 * document.c - the one place where documents are checked and indexed
 * fields extracted.  Documents are parsed only to be checked: what is
 * stored is always the caller's text, never a re-print (cJSON would turn
 * 9007199254740993 into 9007199254740992).
 */
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
    for (size_t i = 0; i < n;) {
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

typedef struct scan {
    const char *p, *end, *start;
    const char *why;
    int saw_nul;            /* the last string scanned held \u0000 */
    size_t nul_members[8];  /* ordinals of top-level members whose string value holds \u0000 */
    size_t n_nul;
} scan;

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
        for (size_t ordinal = 0;; ordinal++) {
            if (close == '}') {
                skip_ws(s);
                if (s->p >= s->end || *s->p != '"')
                    return fail(s, "expected a member name");
                if (!scan_string(s))
                    return 0;
                /* cJSON cuts a name at NUL: "run_id\u0000x" would read as run_id. */
                if (depth == 0 && s->saw_nul)
                    return fail(s, "\\u0000 in a top-level member name");
                skip_ws(s);
                if (s->p >= s->end || *s->p != ':')
                    return fail(s, "expected ':'");
                s->p++;
            }
            skip_ws(s);
            int is_string = s->p < s->end && *s->p == '"';
            s->saw_nul = 0;
            if (!scan_value(s, depth + 1))
                return 0;
            /* Remember top-level strings holding NUL: cJSON cuts them short,
             * which must never happen to an indexed field such as an id. */
            if (depth == 0 && close == '}' && is_string && s->saw_nul) {
                if (s->n_nul == sizeof s->nul_members / sizeof s->nul_members[0])
                    return fail(s, "too many top-level strings holding \\u0000");
                s->nul_members[s->n_nul++] = ordinal;
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
    scan s = {.p = text, .end = text + len, .start = text, .why = NULL};
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
    /* \u0000 is fine in content, stored as text; not in a field we index. */
    static const char *const indexed[] = {"run_id", "agent_name", "session_id", "status",
                                          "created_at", "finished_at", "id", "type"};
    size_t ordinal = 0;
    for (const cJSON *c = root->child; c && s.n_nul; c = c->next, ordinal++) {
        int flagged = 0;
        for (size_t k = 0; k < s.n_nul; k++)
            flagged |= s.nul_members[k] == ordinal;
        for (size_t k = 0; flagged && k < sizeof indexed / sizeof indexed[0]; k++) {
            if (c->string && strcmp(c->string, indexed[k]) == 0) {
                cJSON_Delete(root);
                return acp__error(err, ACP_INVALID, "%s member \"%s\" contains \\u0000 (NUL)",
                                  what, indexed[k]);
            }
        }
    }
    *out = root;
    return ACP_OK;
}

static const cJSON *member(const cJSON *o, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(o, name);
}

/* An indexed member given twice would be read differently by readers that
 * keep the last occurrence: refuse it.  Returns the name found twice. */
static const char *repeated(const cJSON *o, const char *const *names)
{
    for (size_t i = 0; names[i]; i++) {
        int n = 0;
        for (const cJSON *c = o->child; c; c = c->next)
            n += c->string && strcmp(c->string, names[i]) == 0;
        if (n > 1)
            return names[i];
    }
    return NULL;
}

/* Optional instant: absent or null -> *us = INT64_MIN, *present = 0. */
static acp_status instant(const cJSON *o, const char *name, int64_t *us, int *present,
                          acp_error *err)
{
    const cJSON *v = member(o, name);
    *us = INT64_MIN;
    *present = 0;
    if (!v || cJSON_IsNull(v))
        return ACP_OK;
    if (!cJSON_IsString(v))
        return acp__error(err, ACP_INVALID, "run %s must be an RFC 3339 string or null", name);
    acp_error e;
    if (acp_time_parse(v->valuestring, ACP_STRLEN, us, &e) != ACP_OK)
        return acp__error(err, ACP_INVALID, "run %s: %s", name, e.message);
    *present = 1;
    return ACP_OK;
}

acp_status acp__run_fields_get(const cJSON *root, acp__run_fields *f, acp_error *err)
{
    acp_status st;
    int present;
    memset(f, 0, sizeof *f);
    static const char *const indexed[] = {"run_id", "agent_name", "session_id", "status",
                                          "created_at", "finished_at", NULL};
    const char *twice;
    if (!cJSON_IsObject(root))
        return acp__error(err, ACP_INVALID, "run document must be a JSON object");
    if ((twice = repeated(root, indexed)) != NULL)
        return acp__error(err, ACP_INVALID, "run document gives \"%s\" more than once", twice);
    const cJSON *id = member(root, "run_id"), *agent = member(root, "agent_name"),
                *status = member(root, "status"), *session = member(root, "session_id");
    if (!cJSON_IsString(id))
        return acp__error(err, ACP_INVALID, "run document needs a string \"run_id\"");
    if ((st = acp__id_check(id->valuestring, "run_id", err)) != ACP_OK)
        return st;
    if (!cJSON_IsString(agent) || !agent->valuestring[0])
        return acp__error(err, ACP_INVALID, "run document needs a non-empty string \"agent_name\"");
    if (!cJSON_IsString(status))
        return acp__error(err, ACP_INVALID, "run document needs a string \"status\"");
    if (!acp__status_valid(status->valuestring))
        return acp__error(err, ACP_INVALID,
                          "run status '%.64s' is not one of created, in-progress, awaiting, "
                          "cancelling, cancelled, completed, failed",
                          status->valuestring);
    if (session && !cJSON_IsNull(session)) {
        if (!cJSON_IsString(session))
            return acp__error(err, ACP_INVALID, "run session_id must be a string or null");
        if ((st = acp__id_check(session->valuestring, "session_id", err)) != ACP_OK)
            return st;
        f->session_id = session->valuestring;
    }
    if ((st = instant(root, "created_at", &f->created_us, &f->has_created, err)) != ACP_OK)
        return st;
    if ((st = instant(root, "finished_at", &f->finished_us, &present, err)) != ACP_OK)
        return st;
    f->run_id = id->valuestring;
    f->agent_name = agent->valuestring;
    f->status = status->valuestring;
    return ACP_OK;
}

acp_status acp__session_fields_get(const cJSON *root, const char **id, acp_error *err)
{
    static const char *const indexed[] = {"id", NULL};
    if (!cJSON_IsObject(root))
        return acp__error(err, ACP_INVALID, "session document must be a JSON object");
    if (repeated(root, indexed))
        return acp__error(err, ACP_INVALID, "session document gives \"id\" more than once");
    const cJSON *v = member(root, "id");
    if (!cJSON_IsString(v))
        return acp__error(err, ACP_INVALID, "session document needs a string \"id\"");
    acp_status st = acp__id_check(v->valuestring, "session id", err);
    if (st == ACP_OK)
        *id = v->valuestring;
    return st;
}

acp_status acp__event_fields_get(const cJSON *root, const char **type, acp_error *err)
{
    static const char *const indexed[] = {"type", NULL};
    if (!cJSON_IsObject(root))
        return acp__error(err, ACP_INVALID, "event must be a JSON object");
    if (repeated(root, indexed))
        return acp__error(err, ACP_INVALID, "event gives \"type\" more than once");
    const cJSON *v = member(root, "type");
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return acp__error(err, ACP_INVALID, "event needs a non-empty string \"type\"");
    *type = v->valuestring;
    return ACP_OK;
}
