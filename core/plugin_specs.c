/* SPDX-License-Identifier: MIT */
/*
 * plugin_specs.c - a plugin's typed options (acp_option_spec) carried from
 * the probe child of acp_plugins_scan (loader.c) to the parent, as
 * acp_plugin_info.options.
 *
 * The child packs them into one blob: per option six NUL-terminated
 * fields, name, type name, "1" or "0" (secret), "+default" or "-" (none),
 * the enum values joined by '|', and the doc.  The parent checks every
 * field as it unpacks: a blob it cannot read whole gives no options.
 */
#define _GNU_SOURCE /* strnlen */

#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define FIELDS 6

static const char *type_name(int type)
{
    switch (type) {
    case ACP_OPT_STRING:
        return "string";
    case ACP_OPT_INTEGER:
        return "integer";
    case ACP_OPT_BOOLEAN:
        return "boolean";
    case ACP_OPT_ENUM:
        return "enum";
    case ACP_OPT_DURATION:
        return "duration";
    case ACP_OPT_SIZE:
        return "size";
    default:
        return "unknown";
    }
}

typedef struct packer {
    char *buf;
    size_t len, cap;
    int failed;
} packer;

static void put(packer *p, const char *s, size_t n, int end)
{
    if (p->failed)
        return;
    if (p->len + n + 1 > p->cap) {
        size_t cap = (p->len + n + 1) * 2;
        char *b = realloc(p->buf, cap);
        if (!b) {
            p->failed = 1;
            return;
        }
        p->buf = b;
        p->cap = cap;
    }
    memcpy(p->buf + p->len, s, n);
    p->len += n;
    if (end)
        p->buf[p->len++] = '\0';
}

static void put_str(packer *p, const char *s)
{
    put(p, s ? s : "", strnlen(s ? s : "", ACP_SPECS_FIELD_MAX), 1);
}

int acp__specs_pack(const acp_plugin_descriptor *d, char **blob, size_t *len)
{
    packer p = {NULL, 0, 0, 0};
    const acp_option_spec *o = ACP__DESC_HAS(d, options) ? d->options : NULL;
    for (size_t i = 0; o && o[i].name && p.len < ACP_SPECS_MAX; i++) {
        put_str(&p, o[i].name);
        put_str(&p, type_name(o[i].type));
        put_str(&p, o[i].flags & ACP_OPT_SECRET ? "1" : "0");
        if (o[i].default_value) {
            put(&p, "+", 1, 0);
            put_str(&p, o[i].default_value);
        } else {
            put_str(&p, "-");
        }
        for (size_t v = 0; o[i].type == ACP_OPT_ENUM && o[i].values && o[i].values[v]; v++) {
            if (v)
                put(&p, "|", 1, 0);
            put(&p, o[i].values[v], strnlen(o[i].values[v], ACP_SPECS_FIELD_MAX), 0);
        }
        put(&p, "", 0, 1);
        put_str(&p, o[i].doc);
    }
    if (p.failed || p.len > ACP_SPECS_MAX) {
        free(p.buf);
        *blob = NULL;
        *len = 0;
        return p.failed ? -1 : 0; /* too many to list: none rather than some */
    }
    *blob = p.buf;
    *len = p.len;
    return 0;
}

/* The next NUL-terminated field of blob[*at..n), or NULL at a cut one. */
static const char *field(const char *blob, size_t n, size_t *at)
{
    const char *s = blob + *at;
    const char *end = *at < n ? memchr(s, '\0', n - *at) : NULL;
    if (!end)
        return NULL;
    *at += (size_t)(end - s) + 1;
    return s;
}

int acp__specs_unpack(const char *blob, size_t n, acp_plugin_info *info)
{
    info->n_options = 0;
    info->options = NULL;
    size_t fields = 0;
    for (size_t at = 0; at < n; fields++)
        if (!field(blob, n, &at))
            return 0; /* a cut field: no options */
    if (fields == 0 || fields % FIELDS != 0)
        return 0; /* none, or a cut option: none */
    size_t count = fields / FIELDS;
    /* One block: the array, then a copy of the blob its strings point into. */
    acp_option_info *opts = malloc(count * sizeof *opts + n);
    if (!opts)
        return -1;
    char *copy = (char *)(opts + count);
    memcpy(copy, blob, n);
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        const char *f[FIELDS];
        for (int j = 0; j < FIELDS; j++)
            f[j] = field(copy, n, &at);
        opts[i] = (acp_option_info){.name = f[0],
                                      .type = f[1],
                                      .default_value = f[3][0] == '+' ? f[3] + 1 : NULL,
                                      .secret = strcmp(f[2], "1") == 0,
                                      .doc = f[5],
                                      .values = f[4]};
    }
    info->n_options = count;
    info->options = opts;
    return 0;
}
