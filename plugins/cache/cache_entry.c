/* SPDX-License-Identifier: MIT */
/*
 * cache_entry.c - what the front stores for a run.  The front is any store,
 * so an entry is a valid run document under the run's own id:
 *
 *   {"acp_cache":"1 D <gen:16 hex> <version> <created_us> <filled_us> <doc_len>",
 *    "doc":<the back's document>,"run_id":"<id>","agent_name":"acp-cache",
 *    "status":"created"}
 *
 * (one line; "L" and "doc":null for a lease).  The header is first and the
 * document's length is in it, so a hit finds the document without parsing
 * it; the front's own checks of run documents see a valid run.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"

static const char head[] = "{\"acp_cache\":\"1 ";
static const char mid[] = "\",\"doc\":";
static const char tail_id[] = ",\"run_id\":\"";
static const char tail[] = "\",\"agent_name\":\"acp-cache\",\"status\":\"created\"}";

/* JSON string escaping of an id (valid UTF-8 without NUL, checked by the
 * core): quote, backslash and control characters. */
static size_t escape(char *out, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            out[n++] = '\\';
            out[n++] = (char)*p;
        } else if (*p < 0x20) {
            memcpy(out + n, "\\u00", 4);
            out[n + 4] = hex[*p >> 4];
            out[n + 5] = hex[*p & 15];
            n += 6;
        } else
            out[n++] = (char)*p;
    }
    return n;
}

char *cache_entry_encode(const cache_entry *e, const char *run_id, size_t *len)
{
    char hdr[160];
    size_t doc_len = e->data ? e->doc_len : 4;
    int h = snprintf(hdr, sizeof hdr, "%c %016" PRIx64 " %" PRId64 " %" PRId64 " %" PRId64
                     " %zu", e->data ? 'D' : 'L', e->gen, e->version, e->created_us,
                     e->filled_us, e->data ? e->doc_len : (size_t)0);
    size_t idl = strlen(run_id);
    size_t cap = sizeof head + (size_t)h + sizeof mid + doc_len + sizeof tail_id + 6 * idl +
                 sizeof tail;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    size_t n = 0;
#define PUT(p, l) (memcpy(buf + n, (p), (l)), n += (l))
    PUT(head, sizeof head - 1);
    PUT(hdr, (size_t)h);
    PUT(mid, sizeof mid - 1);
    if (e->data)
        PUT(e->doc, e->doc_len);
    else
        PUT("null", 4);
    PUT(tail_id, sizeof tail_id - 1);
    n += escape(buf + n, run_id);
    PUT(tail, sizeof tail); /* with its NUL */
#undef PUT
    *len = n - 1;
    return buf;
}

/* One space-separated decimal field (optional '-'); advances *p. */
static int field(const char **p, const char *end, int64_t *out)
{
    const char *s = *p;
    int neg = 0;
    uint64_t v = 0;
    if (s < end && *s == '-') {
        neg = 1;
        s++;
    }
    const char *digits = s;
    while (s < end && *s >= '0' && *s <= '9' && s - digits < 19)
        v = v * 10 + (uint64_t)(*s++ - '0');
    if (s == digits || v > (uint64_t)INT64_MAX)
        return 0;
    *out = neg ? -(int64_t)v : (int64_t)v;
    *p = s;
    return 1;
}

int cache_entry_decode(const char *text, size_t len, cache_entry *e)
{
    const char *p = text, *end = text + len;
    if (len < sizeof head + 40 || memcmp(p, head, sizeof head - 1) != 0)
        return 0;
    p += sizeof head - 1;
    if ((*p != 'D' && *p != 'L') || p[1] != ' ')
        return 0;
    e->data = *p == 'D';
    p += 2;
    uint64_t g = 0;
    for (int i = 0; i < 16; i++, p++) {
        int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
        if (d < 0)
            return 0;
        g = g << 4 | (uint64_t)d;
    }
    e->gen = g;
    int64_t dl;
    if (*p++ != ' ' || !field(&p, end, &e->version) || *p++ != ' ' ||
        !field(&p, end, &e->created_us) || *p++ != ' ' || !field(&p, end, &e->filled_us) ||
        *p++ != ' ' || !field(&p, end, &dl) || dl < 0)
        return 0;
    if ((size_t)(end - p) < sizeof mid - 1 || memcmp(p, mid, sizeof mid - 1) != 0)
        return 0;
    p += sizeof mid - 1;
    if (!e->data) {
        e->doc = NULL;
        e->doc_len = 0;
        return 1;
    }
    if ((uint64_t)dl >= (uint64_t)(end - p) || p[dl] != ',')
        return 0;
    e->doc = p;
    e->doc_len = (size_t)dl;
    return 1;
}
