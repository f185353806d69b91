/* SPDX-License-Identifier: MIT */
/*
 * cache_entry.c - what the front stores.  The front is any store, so an
 * entry is a valid run document under a key of the cache's own:
 *
 *   {"acp_cache":"1 <kind> <gen:16 hex> <a> <b> <filled_us> <doc_len>[ index]",
 *    "doc":<payload>,"run_id":"<key>","agent_name":"acp-cache","status":"created"}
 *
 * (one line).  kind D: a = the back's version, b = created_us, payload = the
 * back's document.  kind E: a = n, payload = [e1,...,en], the index = n
 * pairs "stored_us len".  kind L (a lease): payload null.  The header comes
 * first and carries every length, so a hit finds the documents without
 * parsing them; the front's own checks see a valid run.
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

/* JSON string escaping of a key (valid UTF-8 without NUL, checked by the
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

char *cache_entry_encode(const cache_entry *e, const cache_event *evs, const char *key,
                         size_t *len)
{
    int64_t n = e->kind == CACHE_EVENTS && e->version > 0 ? e->version : 0;
    size_t body = 4; /* null */
    if (e->kind == CACHE_RUN)
        body = e->doc_len;
    else if (e->kind == CACHE_EVENTS) {
        body = 2 + (n ? (size_t)n - 1 : 0);
        for (int64_t i = 0; i < n; i++)
            body += evs[i].len;
    }
    size_t cap = sizeof head + 128 + (size_t)n * 42 + sizeof mid + body + sizeof tail_id +
                 6 * strlen(key) + sizeof tail;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    size_t o = sizeof head - 1;
    memcpy(buf, head, o);
    o += (size_t)snprintf(buf + o, cap - o, "%c %016" PRIx64 " %" PRId64 " %" PRId64
                          " %" PRId64 " %zu", e->kind, e->gen, e->version,
                          e->kind == CACHE_RUN ? e->created_us : 0, e->filled_us,
                          e->kind == CACHE_LEASE ? (size_t)0 : body);
    for (int64_t i = 0; i < n; i++)
        o += (size_t)snprintf(buf + o, cap - o, " %" PRId64 " %zu", evs[i].stored_us,
                              evs[i].len);
#define PUT(p, l) (memcpy(buf + o, (p), (l)), o += (l))
    PUT(mid, sizeof mid - 1);
    if (e->kind == CACHE_RUN)
        PUT(e->doc, e->doc_len);
    else if (e->kind == CACHE_EVENTS) {
        buf[o++] = '[';
        for (int64_t i = 0; i < n; i++) {
            if (i)
                buf[o++] = ',';
            PUT(evs[i].doc, evs[i].len);
        }
        buf[o++] = ']';
    } else
        PUT("null", 4);
    PUT(tail_id, sizeof tail_id - 1);
    o += escape(buf + o, key);
    PUT(tail, sizeof tail); /* with its NUL */
#undef PUT
    *len = o - 1;
    return buf;
}

/* One space-led decimal field (optional '-'); advances *p. */
static int field(const char **p, const char *end, int64_t *out)
{
    const char *s = *p;
    if (s >= end || *s++ != ' ')
        return 0;
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
    if (len < sizeof head + 24 || memcmp(p, head, sizeof head - 1) != 0)
        return 0;
    p += sizeof head - 1;
    e->kind = *p++;
    if (e->kind != CACHE_RUN && e->kind != CACHE_EVENTS && e->kind != CACHE_LEASE)
        return 0;
    if (*p++ != ' ')
        return 0;
    uint64_t g = 0;
    for (int i = 0; i < 16; i++, p++) {
        int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
        if (d < 0)
            return 0;
        g = g << 4 | (uint64_t)d;
    }
    e->gen = g;
    int64_t dl;
    if (!field(&p, end, &e->version) || !field(&p, end, &e->created_us) ||
        !field(&p, end, &e->filled_us) || !field(&p, end, &dl) || dl < 0)
        return 0;
    e->index = p;
    uint64_t body = 2; /* events: [], the documents and the commas between them */
    if (e->kind == CACHE_EVENTS) { /* check the index: n pairs */
        int64_t t, l;
        for (int64_t i = 0; i < e->version; i++) {
            if (!field(&p, end, &t) || !field(&p, end, &l) || l < 0 || (uint64_t)l > (uint64_t)len)
                return 0;
            body += (uint64_t)l + (i ? 1 : 0);
        }
        if (body != (uint64_t)dl)
            return 0;
    }
    if ((size_t)(end - p) < sizeof mid - 1 || memcmp(p, mid, sizeof mid - 1) != 0)
        return 0;
    p += sizeof mid - 1;
    e->doc = p;
    e->doc_len = (size_t)dl;
    if (e->kind == CACHE_LEASE)
        return 1;
    return (uint64_t)dl < (uint64_t)(end - p) && p[dl] == ',';
}

void cache_events_begin(const cache_entry *e, const char *text_end, cache_event_iter *it)
{
    it->idx = e->index;
    it->end = text_end;
    it->body = e->doc;
    it->off = 1; /* after '[' */
}

int cache_events_next(cache_event_iter *it, cache_event *ev)
{
    int64_t len;
    if (!field(&it->idx, it->end, &ev->stored_us) || !field(&it->idx, it->end, &len))
        return 0;
    ev->doc = it->body + it->off;
    ev->len = (size_t)len;
    it->off += (size_t)len + 1; /* and the comma */
    return 1;
}
