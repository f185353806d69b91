/* SPDX-License-Identifier: MIT */
/*
 * fuzz_uri.c - the store URI parser, acp_config_set, and the URIs the core
 * composes back from a configuration (the whole one handed to plugins, the
 * redacted one shown to people).
 *
 * Input: a URI, optionally followed by "\n" key "\n" value for one
 * acp_config_set() afterwards.
 *
 * Invariants:
 *  - parsing answers OK or INVALID, and a refused URI leaves the
 *    configuration as it was;
 *  - the composed URI parses back to the same configuration (plugins get
 *    that URI: it must say what the configuration says);
 *  - the redacted URI parses back to the same configuration with every
 *    secret (the password in the authority, the value of every option
 *    whose key names a password, secret or token) replaced by "***", and
 *    holds no secret's text anywhere.
 * The harness reads the configuration's fields directly (core/internal.h):
 * it is linked with its own copy of the core.
 */
#include <string.h>

#include "fuzz_common.h"
#include "internal.h"

#define MAX_INPUT 4096
#define BASE_URI "memory:/base?keep=1"

/* The password of an authority "user:password@host": [*b, *e), or 0. */
static int authority_secret(const char *auth, const char **b, const char **e)
{
    const char *at = auth ? strrchr(auth, '@') : NULL;
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (!colon)
        return 0;
    *b = colon + 1;
    *e = at;
    return 1;
}

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static const char *show(const char *s)
{
    return s ? s : "(null)";
}

/* cfg2 (parsed back from a URI composed from cfg) says what cfg says;
 * redacted: with secrets replaced. */
static void check_same(const acp_config *cfg, const acp_config *cfg2, int redacted,
                       const char *uri)
{
    FUZZ_CHECK(same_str(cfg->backend, cfg2->backend), "backend %s became %s via \"%s\"",
               show(cfg->backend), show(cfg2->backend), uri);
    FUZZ_CHECK(same_str(cfg->scheme, cfg2->scheme), "scheme %s became %s via \"%s\"",
               show(cfg->scheme), show(cfg2->scheme), uri);
    FUZZ_CHECK(same_str(cfg->variant ? cfg->variant : "", cfg2->variant),
               "variant %s became %s via \"%s\"", show(cfg->variant), show(cfg2->variant), uri);
    FUZZ_CHECK(same_str(cfg->path ? cfg->path : "", cfg2->path), "path \"%s\" became \"%s\" via \"%s\"",
               show(cfg->path), show(cfg2->path), uri);
    const char *sb, *se;
    const char *auth = cfg->authority ? cfg->authority : "";
    if (redacted && authority_secret(auth, &sb, &se)) {
        size_t head = (size_t)(sb - auth);
        FUZZ_CHECK(strncmp(cfg2->authority, auth, head) == 0 &&
                       strncmp(cfg2->authority + head, "***", 3) == 0 &&
                       strcmp(cfg2->authority + head + 3, se) == 0,
                   "authority \"%s\" redacted as \"%s\" via \"%s\"", auth, cfg2->authority, uri);
    } else {
        FUZZ_CHECK(same_str(auth, cfg2->authority), "authority \"%s\" became \"%s\" via \"%s\"",
                   auth, show(cfg2->authority), uri);
    }
    FUZZ_CHECK(cfg->n_opts == cfg2->n_opts, "%zu options became %zu via \"%s\"", cfg->n_opts,
               cfg2->n_opts, uri);
    for (size_t i = 0; i < cfg->n_opts; i++) {
        const char *k = cfg->opts[i].key, *v = cfg->opts[i].value;
        const char *want = redacted && acp__is_secret_key(k) ? "***" : v;
        FUZZ_CHECK(strcmp(k, cfg2->opts[i].key) == 0, "option key %s became %s via \"%s\"", k,
                   cfg2->opts[i].key, uri);
        FUZZ_CHECK(strcmp(want, cfg2->opts[i].value) == 0,
                   "option %s=\"%s\" became \"%s\" via \"%s\"", k, v, cfg2->opts[i].value, uri);
    }
}

/* s occurs in the public parts of cfg (then seeing it proves nothing). */
static int public_has(const acp_config *cfg, const char *s)
{
    const char *parts[] = {cfg->scheme, cfg->path};
    for (size_t i = 0; i < 2; i++)
        if (parts[i] && strstr(parts[i], s))
            return 1;
    const char *auth = cfg->authority ? cfg->authority : "", *sb, *se;
    if (authority_secret(auth, &sb, &se)) {
        char head[MAX_INPUT + 1];
        size_t hl = (size_t)(sb - auth);
        memcpy(head, auth, hl);
        head[hl] = '\0';
        if (strstr(se, s) || strstr(head, s))
            return 1;
    } else if (strstr(auth, s)) {
        return 1;
    }
    for (size_t i = 0; i < cfg->n_opts; i++)
        if (strstr(cfg->opts[i].key, s) ||
            (!acp__is_secret_key(cfg->opts[i].key) && strstr(cfg->opts[i].value, s)))
            return 1;
    return 0;
}

/* red with every %XX escape decoded, so that the text of an escape never
 * runs into its neighbours ("%01" then "ok" is not "1ok"). */
static void pct_decode(const char *in, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *in; in++) {
        const char *h = in[0] == '%' && in[1] && in[2] ? strchr(hex, in[1]) : NULL;
        const char *l = h ? strchr(hex, in[2]) : NULL;
        if (h && l && in[1] && in[2]) {
            *out++ = (char)((h - hex) << 4 | (l - hex));
            in += 2;
        } else {
            *out++ = *in;
        }
    }
    *out = '\0';
}

static void check_no_leak(const acp_config *cfg, const char *secret, size_t len,
                          const char *red)
{
    char s[MAX_INPUT + 1];
    if (len < 4 || len > MAX_INPUT)
        return;
    memcpy(s, secret, len);
    s[len] = '\0';
    /* A secret that also appears in public parts, or that could be pieced
     * together from the "***" put in its place, from %XX escapes or from
     * the URI's own punctuation, proves nothing (the structural check in
     * check_same covers those). */
    if (strpbrk(s, "*%=&?#@:/+") || public_has(cfg, s))
        return;
    char *dec = malloc(strlen(red) + 1);
    FUZZ_CHECK(dec, "out of memory");
    pct_decode(red, dec);
    FUZZ_CHECK(!strstr(dec, s), "secret \"%s\" shows in the redacted URI \"%s\"", s, red);
    free(dec);
}

static void check_config(const acp_config *cfg)
{
    char *uri = acp__config_uri(cfg, 0);
    char *red = acp_config_redacted_uri(cfg);
    acp_error e;
    FUZZ_CHECK(uri && red, "composing a URI failed without an allocation failure");

    acp_config *back;
    FUZZ_CHECK(acp_config_new(&back, NULL) == ACP_OK, "acp_config_new");
    acp_status st = acp_config_parse_uri(back, uri, &e);
    FUZZ_CHECK(st == ACP_OK, "the composed URI \"%s\" does not parse: %s", uri, e.message);
    check_same(cfg, back, 0, uri);
    acp_config_free(back);

    FUZZ_CHECK(acp_config_new(&back, NULL) == ACP_OK, "acp_config_new");
    st = acp_config_parse_uri(back, red, &e);
    FUZZ_CHECK(st == ACP_OK, "the redacted URI \"%s\" does not parse: %s", red, e.message);
    check_same(cfg, back, 1, red);
    acp_config_free(back);

    const char *sb, *se;
    if (authority_secret(cfg->authority, &sb, &se))
        check_no_leak(cfg, sb, (size_t)(se - sb), red);
    for (size_t i = 0; i < cfg->n_opts; i++)
        if (acp__is_secret_key(cfg->opts[i].key))
            check_no_leak(cfg, cfg->opts[i].value, strlen(cfg->opts[i].value), red);
    free(uri);
    acp_free(red);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *key = NULL, *value = NULL, *nl = strchr(text, '\n');
    if (nl) {
        *nl = '\0';
        key = nl + 1;
        if ((nl = strchr(key, '\n')) != NULL) {
            *nl = '\0';
            value = nl + 1;
        }
    }

    acp_config *cfg;
    acp_error e;
    FUZZ_CHECK(acp_config_new(&cfg, NULL) == ACP_OK, "acp_config_new");
    FUZZ_CHECK(acp_config_parse_uri(cfg, BASE_URI, NULL) == ACP_OK, "base URI");
    acp_status st = acp_config_parse_uri(cfg, text, &e);
    FUZZ_CHECK(st == ACP_OK || st == ACP_INVALID, "parse \"%s\": %s (%s)", text,
               acp_status_name(st), e.message);
    if (st != ACP_OK) {
        FUZZ_CHECK(e.message[0], "INVALID without a message for \"%s\"", text);
        FUZZ_CHECK(!strcmp(cfg->backend, "memory") && !strcmp(cfg->path, "/base") &&
                       cfg->n_opts == 1 && !strcmp(cfg->opts[0].value, "1"),
                   "a refused URI \"%s\" changed the configuration", text);
    }
    check_config(cfg);

    if (key && value) {
        st = acp_config_set(cfg, key, value, &e);
        FUZZ_CHECK(st == ACP_OK || st == ACP_INVALID, "set %s: %s (%s)", key,
                   acp_status_name(st), e.message);
        if (st == ACP_OK)
            check_config(cfg);
    }
    acp_config_free(cfg);
    free(text);
    return 0;
}
