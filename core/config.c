/* SPDX-License-Identifier: MIT */
/*
 * config.c - what to open: the URI grammar and the name + options form,
 * both through the same checks.
 *
 *   uri     = scheme ":" [ "//" authority ] path [ "?" query ] [ "#" ignored ]
 *   scheme  = name [ "+" variant ]        name = [a-z0-9_]{1,64}
 *   query   = key "=" value *( "&" key "=" value )   (percent-decoded)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define DEFAULT_TIMEOUT_MS 30000

/* Scheme aliases: the name people write -> the plugin that serves it. */
static const char *const aliases[][2] = {
    {"postgresql", "postgres"},
};

ACP_API acp_status acp_config_new(acp_config **out, acp_error *err)
{
    if (!out)
        return acp__error(err, ACP_INVALID, "acp_config_new: out must not be NULL");
    acp_config *c = calloc(1, sizeof *c);
    if (!c)
        return acp__error(err, ACP_NOMEM, "out of memory creating a configuration");
    c->timeout_ms = DEFAULT_TIMEOUT_MS;
    *out = c;
    return ACP_OK;
}

void acp__strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static void clear_location(acp_config *c)
{
    free(c->backend);
    free(c->scheme);
    free(c->variant);
    free(c->authority);
    free(c->path);
    for (size_t i = 0; i < c->n_opts; i++) {
        free(c->opts[i].key);
        free(c->opts[i].value);
    }
    free(c->opts);
    c->backend = c->scheme = c->variant = c->authority = c->path = NULL;
    c->opts = NULL;
    c->n_opts = 0;
}

ACP_API void acp_config_free(acp_config *c)
{
    if (!c)
        return;
    clear_location(c);
    for (size_t i = 0; i < c->n_dirs; i++)
        free(c->dirs[i]);
    free(c->dirs);
    free(c->plugin_file);
    free(c);
}

int acp__name_valid(const char *name)
{
    size_t n = 0;
    if (!name)
        return 0;
    for (; name[n]; n++) {
        char ch = name[n];
        if (n >= 64 || !((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
            return 0;
    }
    return n > 0;
}

static const char *resolve_alias(const char *name)
{
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(name, aliases[i][0]) == 0)
            return aliases[i][1];
    return name;
}

/* Percent-decode s[0..n) into a new string.  plus_is_space for query parts.
 * Errors: INVALID (bad escape, NUL), NOMEM. */
static acp_status decode(const char *s, size_t n, int plus_is_space, const char *what, char **out,
                         acp_error *err)
{
    char *d = malloc(n + 1), *o = d;
    if (!d)
        return acp__error(err, ACP_NOMEM, "out of memory parsing the store URI");
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi = i + 1 < n ? acp__hex_digit(s[i + 1]) : -1;
            int lo = i + 2 < n ? acp__hex_digit(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(d);
                return acp__error(err, ACP_INVALID,
                                  "bad percent escape in the %s of the store URI (byte %zu): use "
                                  "%%XX with two hex digits, not %%00",
                                  what, i);
            }
            *o++ = (char)(hi << 4 | lo);
            i += 2;
        } else {
            *o++ = plus_is_space && s[i] == '+' ? ' ' : s[i];
        }
    }
    *o = '\0';
    *out = d;
    return ACP_OK;
}

int acp__is_secret_key(const char *key)
{
    return strstr(key, "password") || strstr(key, "secret") || strstr(key, "token");
}

static acp_status set_backend(acp_config *c, const char *scheme, acp_error *err)
{
    const char *plus = strchr(scheme, '+');
    size_t nlen = plus ? (size_t)(plus - scheme) : strlen(scheme);
    char name[65];
    if (nlen == 0 || nlen > 64) {
        return acp__error(err, ACP_INVALID,
                          "invalid backend name '%.80s': names are 1 to 64 characters of "
                          "[a-z0-9_]",
                          scheme);
    }
    memcpy(name, scheme, nlen);
    name[nlen] = '\0';
    if (!acp__name_valid(name) || (plus && strchr(plus + 1, '+')))
        return acp__error(err, ACP_INVALID,
                          "invalid backend name '%.80s': names are 1 to 64 characters of "
                          "[a-z0-9_] (a scheme may add '+variant')",
                          scheme);
    char *b = strdup(resolve_alias(name)), *s = strdup(scheme), *v = strdup(plus ? plus + 1 : "");
    if (!b || !s || !v) {
        free(b), free(s), free(v);
        return acp__error(err, ACP_NOMEM, "out of memory setting the backend");
    }
    free(c->backend), free(c->scheme), free(c->variant);
    c->backend = b, c->scheme = s, c->variant = v;
    return ACP_OK;
}

ACP_API acp_status acp_config_set_backend(acp_config *c, const char *name, acp_error *err)
{
    if (!c || !name)
        return acp__error(err, ACP_INVALID, "acp_config_set_backend: arguments must not be NULL");
    return set_backend(c, name, err);
}

static acp_status set_opt(acp_config *c, const char *key, const char *value, acp_error *err)
{
    char **slot = NULL;
    if (strcmp(key, "path") == 0)
        slot = &c->path;
    else if (strcmp(key, "authority") == 0)
        slot = &c->authority;
    char *v = strdup(value);
    if (!v)
        return acp__error(err, ACP_NOMEM, "out of memory setting option '%s'", key);
    if (slot) {
        free(*slot);
        *slot = v;
        return ACP_OK;
    }
    for (size_t i = 0; i < c->n_opts; i++) {
        if (strcmp(c->opts[i].key, key) == 0) {
            free(c->opts[i].value);
            c->opts[i].value = v;
            return ACP_OK;
        }
    }
    char *k = strdup(key);
    acp__kv *n = realloc(c->opts, (c->n_opts + 1) * sizeof *n);
    if (!k || !n) {
        free(k), free(v);
        if (n)
            c->opts = n;
        return acp__error(err, ACP_NOMEM, "out of memory setting option '%s'", key);
    }
    c->opts = n;
    c->opts[c->n_opts].key = k;
    c->opts[c->n_opts].value = v;
    c->n_opts++;
    return ACP_OK;
}

static acp_status check_key(const char *key, acp_error *err)
{
    if (!key[0])
        return acp__error(err, ACP_INVALID, "empty option key in the store configuration");
    for (const char *p = key; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
              *p == '.'))
            return acp__error(err, ACP_INVALID,
                              "option key '%.64s' may only hold a-z, 0-9, '_', '-' and '.'", key);
    return ACP_OK;
}

ACP_API acp_status acp_config_set(acp_config *c, const char *key, const char *value,
                                  acp_error *err)
{
    if (!c || !key || !value)
        return acp__error(err, ACP_INVALID, "acp_config_set: arguments must not be NULL");
    /* The parts must compose back into the URI they stand for: anything
     * else could read back as another host, user or password. */
    if (strcmp(key, "authority") == 0) {
        if (strpbrk(value, "/?#"))
            return acp__error(err, ACP_INVALID, "an authority may not contain '/', '?' or '#'");
        if (value[0] && c->path && c->path[0] && c->path[0] != '/')
            return acp__error(err, ACP_INVALID,
                              "with an authority the path must be absolute (start with '/')");
    } else if (strcmp(key, "path") == 0 && value[0] && value[0] != '/' && c->authority &&
               c->authority[0]) {
        return acp__error(err, ACP_INVALID,
                          "with an authority the path must be absolute (start with '/')");
    }
    acp_status st = check_key(key, err);
    return st != ACP_OK ? st : set_opt(c, key, value, err);
}

/* Parse into a scratch configuration so that cfg changes only on success. */
ACP_API acp_status acp_config_parse_uri(acp_config *cfg, const char *uri, acp_error *err)
{
    if (!cfg || !uri)
        return acp__error(err, ACP_INVALID, "acp_config_parse_uri: arguments must not be NULL");
    acp_config t = {0};
    acp_status st;
    char *scheme = NULL, *raw = NULL;
    const char *colon = strchr(uri, ':');
    size_t slen = colon ? (size_t)(colon - uri) : 0;
    if (!colon || slen == 0) {
        return acp__error(err, ACP_INVALID,
                          "store URI has no scheme: write <backend>:<location>, e.g. "
                          "sqlite:///var/lib/acp/acp.db, file:///srv/acp or memory:");
    }
    if (slen > 200)
        return acp__error(err, ACP_INVALID, "store URI scheme is longer than 200 characters");
    if (!(scheme = strndup(uri, slen)))
        return acp__error(err, ACP_NOMEM, "out of memory parsing the store URI");
    st = set_backend(&t, scheme, err);
    free(scheme);
    if (st != ACP_OK)
        goto fail;
    const char *p = colon + 1, *end = p + strcspn(p, "#");
    const char *q = memchr(p, '?', (size_t)(end - p));
    const char *hier_end = q ? q : end;
    if (hier_end - p >= 2 && p[0] == '/' && p[1] == '/') {
        const char *a = p + 2, *ae = a;
        while (ae < hier_end && *ae != '/')
            ae++;
        /* The authority stays encoded: it goes to the backend as written. */
        if (!(t.authority = strndup(a, (size_t)(ae - a)))) {
            st = acp__error(err, ACP_NOMEM, "out of memory parsing the store URI");
            goto fail;
        }
        p = ae;
    }
    if ((st = decode(p, (size_t)(hier_end - p), 0, "path", &t.path, err)) != ACP_OK)
        goto fail;
    if (!t.authority && !(t.authority = strdup(""))) {
        st = acp__error(err, ACP_NOMEM, "out of memory parsing the store URI");
        goto fail;
    }
    for (const char *s = q ? q + 1 : end; s < end;) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *e = amp ? amp : end, *eq = memchr(s, '=', (size_t)(e - s));
        char *k = NULL, *v = NULL;
        if (e == s) { /* tolerate "a=1&&b=2" and a trailing '&' */
            s = e + 1;
            continue;
        }
        if (!eq) {
            raw = strndup(s, (size_t)(e - s));
            st = acp__error(err, ACP_INVALID, "store URI option '%.64s' has no '=value'",
                            raw ? raw : "");
            goto fail;
        }
        if ((st = decode(s, (size_t)(eq - s), 1, "option key", &k, err)) != ACP_OK)
            goto fail;
        if ((st = decode(eq + 1, (size_t)(e - eq - 1), 1, "option value", &v, err)) != ACP_OK) {
            free(k);
            goto fail;
        }
        st = check_key(k, err);
        if (st == ACP_OK && (!strcmp(k, "path") || !strcmp(k, "authority")))
            st = acp__error(err, ACP_INVALID, "'%s' is part of the URI, not an option", k);
        for (size_t i = 0; st == ACP_OK && i < t.n_opts; i++)
            if (strcmp(t.opts[i].key, k) == 0)
                st = acp__error(err, ACP_INVALID, "store URI option '%.64s' is given twice", k);
        if (st == ACP_OK)
            st = set_opt(&t, k, v, err);
        free(k);
        free(v);
        if (st != ACP_OK)
            goto fail;
        s = e + 1;
    }
    /* Success: move the new location into cfg, keep its plugin settings. */
    clear_location(cfg);
    cfg->backend = t.backend, cfg->scheme = t.scheme, cfg->variant = t.variant;
    cfg->authority = t.authority, cfg->path = t.path;
    cfg->opts = t.opts, cfg->n_opts = t.n_opts;
    return ACP_OK;
fail:
    free(raw);
    clear_location(&t);
    return st;
}

ACP_API acp_status acp_config_add_plugin_dir(acp_config *c, const char *dir, acp_error *err)
{
    if (!c || !dir)
        return acp__error(err, ACP_INVALID, "acp_config_add_plugin_dir: arguments must not be NULL");
    if (dir[0] != '/')
        return acp__error(err, ACP_INVALID,
                          "plugin directory '%.200s' is not absolute: plugins are never looked up "
                          "relative to the current directory",
                          dir);
    char *d = strdup(dir);
    char **n = realloc(c->dirs, (c->n_dirs + 1) * sizeof *n);
    if (!d || !n) {
        free(d);
        if (n)
            c->dirs = n;
        return acp__error(err, ACP_NOMEM, "out of memory adding a plugin directory");
    }
    c->dirs = n;
    c->dirs[c->n_dirs++] = d;
    return ACP_OK;
}

ACP_API acp_status acp_config_set_plugin_file(acp_config *c, const char *so_path, acp_error *err)
{
    if (!c || !so_path)
        return acp__error(err, ACP_INVALID, "acp_config_set_plugin_file: arguments must not be NULL");
    if (so_path[0] != '/')
        return acp__error(err, ACP_INVALID, "plugin file '%.200s' must be an absolute path", so_path);
    char *p = strdup(so_path);
    if (!p)
        return acp__error(err, ACP_NOMEM, "out of memory setting the plugin file");
    free(c->plugin_file);
    c->plugin_file = p;
    return ACP_OK;
}

ACP_API acp_status acp_config_set_timeout_ms(acp_config *c, int64_t ms, acp_error *err)
{
    if (!c || ms < 0)
        return acp__error(err, ACP_INVALID, "acp_config_set_timeout_ms: bad arguments");
    c->timeout_ms = ms;
    return ACP_OK;
}

ACP_API const char *acp_config_backend(const acp_config *c)
{
    return c ? c->backend : NULL;
}

/* Append s to a growing buffer, percent-encoding bytes outside `keep`. */
static int put(char **buf, size_t *len, size_t *cap, const char *s, const char *keep)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        int plain = !keep || (ch > 0x20 && ch < 0x7f && (strchr(keep, ch) ||
                                                         (ch >= 'a' && ch <= 'z') ||
                                                         (ch >= 'A' && ch <= 'Z') ||
                                                         (ch >= '0' && ch <= '9')));
        if (*len + 4 > *cap) {
            size_t nc = *cap ? *cap * 2 : 128;
            char *nb = realloc(*buf, nc);
            if (!nb)
                return 0;
            *buf = nb, *cap = nc;
        }
        if (plain)
            (*buf)[(*len)++] = (char)ch;
        else
            *len += (size_t)snprintf(*buf + *len, 4, "%%%02X", ch);
    }
    if (*buf)
        (*buf)[*len] = '\0';
    return 1;
}

char *acp__config_uri(const acp_config *c, int redact)
{
    char *b = NULL;
    size_t len = 0, cap = 0;
    int ok = put(&b, &len, &cap, c->scheme ? c->scheme : "", NULL) && put(&b, &len, &cap, ":", NULL);
    if (ok && c->authority && c->authority[0]) {
        ok = put(&b, &len, &cap, "//", NULL);
        const char *at = strrchr(c->authority, '@'), *colon = NULL;
        if (at && redact)
            colon = memchr(c->authority, ':', (size_t)(at - c->authority));
        if (ok && colon) {
            char *user = strndup(c->authority, (size_t)(colon - c->authority));
            ok = user && put(&b, &len, &cap, user, NULL) && put(&b, &len, &cap, ":***", NULL) &&
                 put(&b, &len, &cap, at, NULL);
            free(user);
        } else if (ok) {
            ok = put(&b, &len, &cap, c->authority, NULL);
        }
    }
    /* A path that starts with "//" needs an empty authority in front, or
     * it would read back as one. */
    if (ok && (!c->authority || !c->authority[0]) && c->path && !strncmp(c->path, "//", 2))
        ok = put(&b, &len, &cap, "//", NULL);
    if (ok && c->path)
        ok = put(&b, &len, &cap, c->path, "/-._~!$&'()*+,;=:@");
    for (size_t i = 0; ok && i < c->n_opts; i++) {
        ok = put(&b, &len, &cap, i ? "&" : "?", NULL) &&
             put(&b, &len, &cap, c->opts[i].key, "-._~") && put(&b, &len, &cap, "=", NULL) &&
             (redact && acp__is_secret_key(c->opts[i].key)
                  ? put(&b, &len, &cap, "***", NULL)
                  : put(&b, &len, &cap, c->opts[i].value, "-._~:/,"));
    }
    if (!ok || !b) {
        free(b);
        return NULL;
    }
    return b;
}

/* Replace every occurrence of secret (len bytes) in msg by "***", in place,
 * keeping msg within cap bytes (the end is cut when it grows). */
static void scrub_one(char *msg, size_t cap, const char *secret, size_t len)
{
    if (!len)
        return;
    for (char *at = msg; (at = strstr(at, secret));) {
        char *tail = at + len;
        size_t rest = strlen(tail) + 1, keep = (size_t)(at - msg) + 3;
        if (keep >= cap) { /* no room for the marker: cut the message here */
            *at = '\0';
            return;
        }
        if (keep + rest > cap)
            rest = cap - keep, tail[rest - 1] = '\0';
        memmove(at + 3, tail, rest);
        memcpy(at, "***", 3);
        at += 3;
    }
}

void acp__config_scrub(const acp_config *c, char *msg, size_t cap)
{
    if (!c || !msg || !cap)
        return;
    /* The password of the user information, as written and decoded: a
     * plugin may echo either from the URI it was given. */
    const char *auth = c->authority ? c->authority : "", *at = strrchr(auth, '@');
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (colon) {
        size_t n = (size_t)(at - colon - 1);
        char *dec = NULL;
        acp_error ignored;
        char *raw = strndup(colon + 1, n);
        if (raw) {
            scrub_one(msg, cap, raw, n);
            if (decode(raw, n, 0, "password", &dec, &ignored) == ACP_OK)
                scrub_one(msg, cap, dec, strlen(dec));
            free(dec);
            free(raw);
        }
    }
    for (size_t i = 0; i < c->n_opts; i++)
        if (acp__is_secret_key(c->opts[i].key))
            scrub_one(msg, cap, c->opts[i].value, strlen(c->opts[i].value));
}

ACP_API char *acp_config_redacted_uri(const acp_config *c)
{
    return c ? acp__config_uri(c, 1) : NULL;
}

/*
 * Plugin directories as the application sees them.  The list is built on
 * every call, from cfg and the environment as they are then, exactly as a
 * store opened at that moment would search (the loader reads the
 * environment on every open too).  The strings handed out are interned in
 * a table that only grows, under a lock, so that they stay valid for the
 * process and a const config is never written.
 */
static pthread_mutex_t interned_lock = PTHREAD_MUTEX_INITIALIZER;
static char **interned;
static size_t n_interned, cap_interned;

/* The table's copy of s, added if new; NULL when out of memory. */
static const char *intern(const char *s)
{
    const char *found = NULL;
    pthread_mutex_lock(&interned_lock);
    for (size_t i = 0; i < n_interned && !found; i++)
        if (strcmp(interned[i], s) == 0)
            found = interned[i];
    if (!found && n_interned == cap_interned) {
        size_t nc = cap_interned ? 2 * cap_interned : 8;
        char **nv = realloc(interned, nc * sizeof *nv);
        if (nv)
            interned = nv, cap_interned = nc;
    }
    if (!found && n_interned < cap_interned && (interned[n_interned] = strdup(s)) != NULL)
        found = interned[n_interned++];
    pthread_mutex_unlock(&interned_lock);
    return found;
}

ACP_API const char *acp_config_plugin_dir(const acp_config *c, size_t i)
{
    size_t n = 0;
    char **dirs = acp__search_dirs(c, &n);
    const char *dir = dirs && i < n ? intern(dirs[i]) : NULL;
    acp__strv_free(dirs);
    return dir;
}
