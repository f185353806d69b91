/* SPDX-License-Identifier: MIT */
/*
 * core_options.c - the options of a store configuration that the core
 * itself takes, on every backend alike: today the document size limit.
 * They are handled here, once, and never reach a plugin's option check.
 */
#include <inttypes.h>
#include <string.h>

#include "internal.h"

#define OPT_MAX_DOC "max_document_bytes"
/* The largest limit one may configure: PostgreSQL keeps at most 1 GiB in a
 * value, Redis 512 MiB; a larger document could not be stored anyway. */
#define MAX_DOC_CEILING ((size_t)1 << 30)

int acp__core_option(const char *key)
{
    return strcmp(key, OPT_MAX_DOC) == 0 || strcmp(key, "retain") == 0;
}

/* Exactly the decimal digits of a number in 1..MAX_DOC_CEILING: no sign, no
 * space, no suffix, no leading zero, so the text means one thing. */
static int parse_size(const char *s, size_t *out)
{
    size_t v = 0;
    if (!s[0] || s[0] == '0')
        return 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        v = v * 10 + (size_t)(*p - '0');
        if (v > MAX_DOC_CEILING)
            return 0;
    }
    *out = v;
    return 1;
}

ACP_API acp_status acp_config_max_document_bytes(const acp_config *cfg, size_t *max,
                                                 acp_error *err)
{
    if (!cfg || !max)
        return acp__error(err, ACP_INVALID,
                          "acp_config_max_document_bytes: arguments must not be NULL");
    size_t v = ACP_DOCUMENT_MAX_DEFAULT;
    for (size_t i = 0; i < cfg->n_opts; i++) {
        if (strcmp(cfg->opts[i].key, OPT_MAX_DOC) != 0)
            continue;
        if (!parse_size(cfg->opts[i].value, &v))
            return acp__error(err, ACP_INVALID,
                              OPT_MAX_DOC " '%.64s' is not a number of bytes in 1..%zu",
                              cfg->opts[i].value, MAX_DOC_CEILING);
    }
    *max = v;
    return ACP_OK;
}

acp_status acp__doc_size_check(const acp_store *s, const char *what, size_t len, acp_error *err)
{
    if (len <= s->max_doc)
        return ACP_OK;
    return acp__error(err, ACP_INVALID,
                      "%s document is %zu bytes, more than the store's limit of %zu bytes "
                      "(option " OPT_MAX_DOC ")",
                      what, len, s->max_doc);
}
