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

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

acp_status acp__json_parse(const char *text, size_t len, const char *what, cJSON **out,
                           acp_error *err)
{
    if (!text)
        return acp__error(err, ACP_INVALID, "%s document must not be NULL", what);
    if (memchr(text, '\0', len))
        return acp__error(err, ACP_INVALID, "%s document contains a NUL byte", what);
    /* cJSON decodes \u0000 into a NUL that silently cuts the string short,
     * which could make two different ids look equal: refuse it. */
    for (const char *p = text; (p = memchr(p, '\\', len - (size_t)(p - text))) != NULL; p += 2) {
        if ((size_t)(p - text) + 1 >= len)
            break;
        if (p[1] == 'u' && (size_t)(p - text) + 6 <= len && !memcmp(p + 2, "0000", 4))
            return acp__error(err, ACP_INVALID, "%s document contains \\u0000 (NUL)", what);
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        /* The parser stops where the text stops making sense; point there.
         * cJSON reports NULL both for bad text and for no memory; the text
         * was non-empty, so a failure is taken as bad text. */
        size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        return acp__error(err, ACP_INVALID, "%s document is not valid JSON (near byte %zu of %zu)",
                          what, at, len);
    }
    while (end && end < text + len && is_ws(*end))
        end++;
    if (!end || end != text + len) {
        cJSON_Delete(root);
        return acp__error(err, ACP_INVALID,
                          "%s document has trailing characters after the JSON value (byte %zu)",
                          what, end ? (size_t)(end - text) : 0);
    }
    *out = root;
    return ACP_OK;
}

static const cJSON *member(const cJSON *o, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(o, name);
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
    if (!cJSON_IsObject(root))
        return acp__error(err, ACP_INVALID, "run document must be a JSON object");
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
    if (!cJSON_IsObject(root))
        return acp__error(err, ACP_INVALID, "session document must be a JSON object");
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
    if (!cJSON_IsObject(root))
        return acp__error(err, ACP_INVALID, "event must be a JSON object");
    const cJSON *v = member(root, "type");
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return acp__error(err, ACP_INVALID, "event needs a non-empty string \"type\"");
    *type = v->valuestring;
    return ACP_OK;
}
