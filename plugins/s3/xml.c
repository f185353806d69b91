/* SPDX-License-Identifier: MIT */
/*
 * xml.c - just enough XML for S3 answers: the <Key>s, <IsTruncated> and
 * <NextContinuationToken> of a ListObjectsV2 result, and the <Code> and
 * <Message> of an error.  S3 answers are flat and machine-written; what is
 * needed is found by tag name, and entities are decoded.
 */
#include <stdlib.h>
#include <string.h>

#include "s3_int.h"

/* Decode XML text (entities) from s..e into out; returns the length or -1. */
static long decode(const char *s, const char *e, char *out, size_t cap)
{
    size_t o = 0;
    while (s < e) {
        char c = *s++;
        if (c == '&') {
            const char *semi = memchr(s, ';', (size_t)(e - s));
            if (!semi)
                return -1;
            size_t n = (size_t)(semi - s);
            unsigned long cp;
            if (n == 3 && !memcmp(s, "amp", 3))
                cp = '&';
            else if (n == 2 && !memcmp(s, "lt", 2))
                cp = '<';
            else if (n == 2 && !memcmp(s, "gt", 2))
                cp = '>';
            else if (n == 4 && !memcmp(s, "quot", 4))
                cp = '"';
            else if (n == 4 && !memcmp(s, "apos", 4))
                cp = '\'';
            else if (n > 1 && s[0] == '#')
                cp = s[1] == 'x' ? strtoul(s + 2, NULL, 16) : strtoul(s + 1, NULL, 10);
            else
                return -1;
            s = semi + 1;
            /* UTF-8 of the code point. */
            char u[4];
            size_t k = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            if (k == 1) {
                u[0] = (char)cp;
            } else {
                for (size_t i = k - 1; i > 0; i--, cp >>= 6)
                    u[i] = (char)(0x80 | (cp & 0x3f));
                u[0] = (char)((k == 2 ? 0xc0 : k == 3 ? 0xe0 : 0xf0) | cp);
            }
            if (o + k >= cap)
                return -1;
            memcpy(out + o, u, k);
            o += k;
            continue;
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return (long)o;
}

/* The next element <tag>text</tag> at or after *pos; text bounds in *s, *e. */
static int next_elem(const char *xml, size_t len, size_t *pos, const char *tag, const char **s,
                     const char **e)
{
    size_t tl = strlen(tag);
    const char *end = xml + len;
    for (const char *p = xml + *pos; p < end; p++) {
        p = memchr(p, '<', (size_t)(end - p));
        if (!p || (size_t)(end - p) < tl + 2)
            return 0;
        if (!memcmp(p + 1, tag, tl) && p[1 + tl] == '>') {
            const char *t = p + 2 + tl;
            for (const char *q = t; q + tl + 3 <= end; q++)
                if (q[0] == '<' && q[1] == '/' && !memcmp(q + 2, tag, tl) && q[2 + tl] == '>') {
                    *s = t;
                    *e = q;
                    *pos = (size_t)(q + tl + 3 - xml);
                    return 1;
                }
            return 0;
        }
        if (!memcmp(p + 1, tag, tl) && p[1 + tl] == '/' && p[2 + tl] == '>') {
            *s = *e = p; /* <tag/>: empty */
            *pos = (size_t)(p + tl + 3 - xml);
            return 1;
        }
    }
    return 0;
}

void s3_xml_text(const char *xml, size_t len, const char *tag, char *out, size_t cap)
{
    size_t pos = 0;
    const char *s, *e;
    out[0] = '\0';
    if (xml && next_elem(xml, len, &pos, tag, &s, &e) && decode(s, e, out, cap) < 0)
        out[0] = '\0';
}

int s3_xml_list(const char *xml, size_t len, int (*fn)(void *arg, const char *key, size_t n),
                void *arg, int *truncated, char *token, size_t token_cap)
{
    if (!xml || !strstr(xml, "<ListBucketResult"))
        return -1;
    char flag[16];
    s3_xml_text(xml, len, "IsTruncated", flag, sizeof flag);
    *truncated = !strcmp(flag, "true");
    s3_xml_text(xml, len, "NextContinuationToken", token, token_cap);
    size_t pos = 0;
    const char *s, *e;
    char key[S3_KEY_MAX + 8];
    while (next_elem(xml, len, &pos, "Key", &s, &e)) {
        long n = decode(s, e, key, sizeof key);
        if (n < 0)
            return -1;
        int rc = fn(arg, key, (size_t)n);
        if (rc)
            return rc;
    }
    return 0;
}
