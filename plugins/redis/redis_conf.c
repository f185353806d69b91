/* SPDX-License-Identifier: MIT */
/*
 * redis_conf.c - the store URI and options of the redis backend.
 *
 *   redis://[user:password@]host[:port][/db][?prefix=acp:&ttl=3600...]
 *   redis+unix://[user:password@]/path/to/redis.sock?db=2
 *
 * hiredis has no URL parser, so the authority is taken apart here; the core
 * hands it over still percent-encoded, the path and options decoded.  The
 * password is kept only to send AUTH: messages name the server by host and
 * port (or socket path) and database, never by the authority.  The password
 * may also come from the option password (which a profile's password_file
 * sets) or, as for redis-cli, from REDISCLI_AUTH: never only from the URI.
 */
#define _GNU_SOURCE /* secure_getenv */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_int.h"

#define DEFAULT_PORT 6379
#define DEFAULT_PREFIX "acp:"
#define DEFAULT_CONNECT_TIMEOUT_MS 5000
#define DEFAULT_POOL_SIZE 16
#define MAX_POOL_SIZE 1024
/* A hundred years: any longer ttl is a mistake, not a wish. */
#define MAX_TTL_S INT64_C(3153600000)

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode s[0..n) into a new string; NULL with *bad set when an
 * escape is malformed or decodes to NUL, NULL alone when out of memory. */
static char *pct_decode(const char *s, size_t n, int *bad)
{
    char *out = malloc(n + 1), *o = out;
    *bad = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            *o++ = s[i];
            continue;
        }
        int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
        int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(out);
            *bad = 1;
            return NULL;
        }
        *o++ = (char)(hi * 16 + lo);
        i += 2;
    }
    *o = '\0';
    return out;
}

static acp_status nomem(const acp_plugin_host *host, acp_call *call)
{
    return host->error(call, ACP_NOMEM, "out of memory opening a redis store");
}

/* A whole decimal integer in [min, max]. */
static int parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    if (!s[0] || s[0] == ' ' || s[0] == '+')
        return 0;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return 0;
    *out = v;
    return 1;
}

/* Free a secret without leaving it in freed memory.  NULL is fine. */
static void rd_secret_free(char *s)
{
    if (!s)
        return;
    volatile char *p = s;
    while (*p)
        *p++ = 0;
    free(s);
}

/* user:password@ of the authority; returns the host part. */
static acp_status parse_userinfo(rd_conf *c, const acp_plugin_host *host, const char *auth,
                                 const char **hostpart, acp_call *call)
{
    const char *at = strrchr(auth, '@');
    *hostpart = auth;
    if (!at)
        return ACP_OK;
    *hostpart = at + 1;
    const char *colon = memchr(auth, ':', (size_t)(at - auth));
    size_t ulen = colon ? (size_t)(colon - auth) : (size_t)(at - auth);
    int bad = 0;
    if (ulen > 0 && !(c->user = pct_decode(auth, ulen, &bad)))
        return bad ? host->error(call, ACP_INVALID,
                                 "bad percent escape in the user name of the redis URI")
                   : nomem(host, call);
    if (colon && !(c->password = pct_decode(colon + 1, (size_t)(at - colon - 1), &bad)))
        return bad ? host->error(call, ACP_INVALID, "bad percent escape in the password of the "
                                 "redis URI")
                   : nomem(host, call);
    if (c->password && !c->password[0]) {
        free(c->password);
        c->password = NULL; /* "redis://:@host" means no password */
    }
    return ACP_OK;
}

/* host[:port] or [v6]:port (encoded); empty means 127.0.0.1. */
static acp_status parse_hostport(rd_conf *c, const acp_plugin_host *host, const char *hp,
                                 acp_call *call)
{
    const char *hend, *port = NULL;
    const char *h = hp;
    if (hp[0] == '[') {
        const char *rb = strchr(hp, ']');
        if (!rb || (rb[1] && rb[1] != ':'))
            return host->error(call, ACP_INVALID, "bad IPv6 address '%.80s' in the redis URI "
                               "(write [::1]:6379)", hp);
        h = hp + 1;
        hend = rb;
        if (rb[1] == ':')
            port = rb + 2;
    } else {
        const char *colon = strchr(hp, ':');
        if (colon && strchr(colon + 1, ':'))
            return host->error(call, ACP_INVALID, "bad host '%.80s' in the redis URI (an IPv6 "
                               "address goes in brackets: [::1]:6379)", hp);
        hend = colon ? colon : hp + strlen(hp);
        if (colon)
            port = colon + 1;
    }
    int64_t p = DEFAULT_PORT;
    if (port && !parse_int(port, 1, 65535, &p))
        return host->error(call, ACP_INVALID, "bad port '%.32s' in the redis URI (1..65535)",
                           port);
    c->port = (int)p;
    int bad = 0;
    if (hend == h)
        c->host = strdup("127.0.0.1");
    else
        c->host = pct_decode(h, (size_t)(hend - h), &bad);
    if (!c->host)
        return bad ? host->error(call, ACP_INVALID, "bad percent escape in the host of the "
                                 "redis URI")
                   : nomem(host, call);
    return ACP_OK;
}

/* The core checks every option against these specs (redis.c's descriptor)
 * and fills in defaults: rd_conf_parse only reads the canonical values. */
const char *const rd_variants[] = {"unix", NULL};
const acp_option_spec rd_options[] = {
    {.name = "prefix", .type = ACP_OPT_STRING, .min = 0, .max = RD_PREFIX_MAX,
     .default_value = DEFAULT_PREFIX, .doc = "start of every key of this store"},
    {.name = "ttl", .type = ACP_OPT_DURATION, .unit = 1000, .min = 0, .max = MAX_TTL_S * 1000,
     .doc = "runs and sessions expire this long after their last write (bare: seconds; "
            "0: never, the default)"},
    {.name = "db", .type = ACP_OPT_INTEGER, .min = 0, .max = 1000000,
     .doc = "database number (or in the path: redis://host/2)"},
    {.name = "connect_timeout", .type = ACP_OPT_DURATION, .unit = 1000, .min = 1,
     .max = 3600 * 1000, .default_value = "5", .doc = "bound of one connection attempt (bare: "
                                                       "seconds)"},
    {.name = "command_timeout", .type = ACP_OPT_DURATION, .unit = 1000, .min = 0,
     .max = 86400 * 1000,
     .doc = "bound of one command (bare: seconds; 0: only the call's own time limit)"},
    {.name = "pool_size", .type = ACP_OPT_INTEGER, .min = 1, .max = MAX_POOL_SIZE,
     .default_value = "16", .doc = "connections kept open"},
    {.name = "password", .type = ACP_OPT_STRING, .flags = ACP_OPT_SECRET,
     .doc = "AUTH password (wins over the URI's; a profile's password_file gives it)"},
    {.name = NULL}};

acp_status rd_conf_parse(rd_conf *c, const acp_plugin_host *host, const acp_open_args *a,
                         acp_call *call)
{
    acp_status st;
    memset(c, 0, sizeof *c);
    c->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    c->pool_size = DEFAULT_POOL_SIZE;
    if (!(c->prefix = strdup(DEFAULT_PREFIX)))
        return nomem(host, call);
    c->prefix_len = strlen(c->prefix);

    int is_unix = strcmp(a->variant, "unix") == 0; /* the core refused the others */

    const char *hp;
    if ((st = parse_userinfo(c, host, a->authority, &hp, call)) != ACP_OK)
        return st;

    int64_t db_path = -1, db_opt = -1;
    if (is_unix) {
        if (hp[0] && strcmp(hp, "localhost") != 0)
            return host->error(call, ACP_INVALID,
                               "%s: a unix socket URI has no host: write "
                               "redis+unix:///path/to/redis.sock?db=N",
                               a->uri_redacted);
        if (a->path[0] != '/')
            return host->error(call, ACP_INVALID,
                               "%s: the unix socket path must be absolute "
                               "(redis+unix:///path/to/redis.sock)",
                               a->uri_redacted);
        if (!(c->socket = strdup(a->path)))
            return nomem(host, call);
    } else {
        if ((st = parse_hostport(c, host, hp, call)) != ACP_OK)
            return st;
        const char *p = a->path;
        if (p[0] == '/')
            p++;
        if (p[0] && !parse_int(p, 0, 1000000, &db_path))
            return host->error(call, ACP_INVALID,
                               "%s: the path names the database and must be a number "
                               "(redis://host:port/2), not '%.64s'",
                               a->uri_redacted, a->path);
    }

    const char *prefix = acp_option_text(a, "prefix");
    if (prefix) {
        free(c->prefix);
        if (!(c->prefix = strdup(prefix)))
            return nomem(host, call);
        c->prefix_len = strlen(prefix);
    }
    c->ttl_ms = acp_option_int(a, "ttl", 0);
    db_opt = acp_option_int(a, "db", -1);
    c->connect_timeout_ms = acp_option_int(a, "connect_timeout", c->connect_timeout_ms);
    c->command_timeout_ms = acp_option_int(a, "command_timeout", 0);
    c->pool_size = (int)acp_option_int(a, "pool_size", c->pool_size);
    const char *migrate = acp_option_text(a, "migrate");
    c->migrate = !migrate                        ? RD_MIGRATE_AUTO
                 : strcmp(migrate, "never") == 0   ? RD_MIGRATE_NEVER
                 : strcmp(migrate, "inspect") == 0 ? RD_MIGRATE_INSPECT
                                                   : RD_MIGRATE_AUTO;
    const char *password = acp_option_text(a, "password");
    if (password) {
        rd_secret_free(c->password); /* the option wins over the URI's */
        c->password = NULL;
        if (password[0] && !(c->password = strdup(password)))
            return nomem(host, call);
    }
    const char *env = secure_getenv("REDISCLI_AUTH");
    if (!c->password && env && env[0] && !(c->password = strdup(env)))
        return nomem(host, call);
    if (c->user && !c->password)
        return host->error(call, ACP_INVALID,
                           "redis URI names user '%.64s' without a password: give it with the "
                           "option password (a profile's password_file), REDISCLI_AUTH, or "
                           "redis://user:password@host:port/db",
                           c->user);
    if (db_path >= 0 && db_opt >= 0 && db_path != db_opt)
        return host->error(call, ACP_INVALID,
                           "%s: database %" PRId64 " in the path but db=%" PRId64
                           " in the options: name it once",
                           a->uri_redacted, db_path, db_opt);
    c->db = (long)(db_opt >= 0 ? db_opt : db_path >= 0 ? db_path : 0);

    char where[600];
    if (c->socket)
        snprintf(where, sizeof where, "unix:%.500s db %ld", c->socket, c->db);
    else if (strchr(c->host, ':'))
        snprintf(where, sizeof where, "[%.500s]:%d db %ld", c->host, c->port, c->db);
    else
        snprintf(where, sizeof where, "%.500s:%d db %ld", c->host, c->port, c->db);
    if (!(c->where = strdup(where)))
        return nomem(host, call);
    return ACP_OK;
}

void rd_conf_free(rd_conf *c)
{
    free(c->host);
    free(c->socket);
    free(c->user);
    rd_secret_free(c->password);
    free(c->where);
    free(c->prefix);
    memset(c, 0, sizeof *c);
}
