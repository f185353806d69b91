/* SPDX-License-Identifier: MIT */
/*
 * profile.c - named profiles of the configuration file, so that a store
 * (and the file holding its password) is named once, not on every command
 * line where `ps` and shell history would show it.
 *
 *   # comment                        (whole lines only)
 *   [profile prod]                   ([default] is [profile default])
 *   uri = postgres://acp@db1/acp     (or backend = NAME and path = ...)
 *   password_file = ~/.config/acp-storage/prod.password
 *   timeout = 5s                     (ms, s or m; a bare number is ms)
 *   schema = prod                    (any other key: a store option)
 *
 * The format is in docs/configuration.md.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* secure_getenv */
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define CONFIG_MAX_BYTES (1 << 20)  /* a configuration file is small */
#define PASSWORD_MAX_BYTES 4096
#define PROFILE_NAME_MAX 64
#define MAX_ENTRIES 64              /* keys in one profile */

ACP_API char *acp_config_file_default(void)
{
    const char *xdg = secure_getenv("XDG_CONFIG_HOME"), *home = secure_getenv("HOME");
    char *path = NULL;
    int n = -1;
    if (xdg && xdg[0] == '/')
        n = asprintf(&path, "%s/acp-storage/config", xdg);
    else if (home && home[0] == '/')
        n = asprintf(&path, "%s/.config/acp-storage/config", home);
    return n < 0 ? NULL : path;
}

/* One "key = value" of the wanted profile. */
typedef struct entry {
    char *key;
    char *value;
    int line;
} entry;

typedef struct parsed {
    const char *path; /* for messages */
    const char *want;
    int found;        /* line of the wanted profile's header, or 0 */
    entry e[MAX_ENTRIES];
    size_t n;
    char names[512];  /* the profiles seen, for "no such profile" */
} parsed;

static void parsed_free(parsed *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->e[i].key);
        free(p->e[i].value);
    }
}

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.';
}

/* A profile name: 1..64 of [A-Za-z0-9_.-]. */
static int profile_name_valid(const char *s, size_t n)
{
    if (n == 0 || n > PROFILE_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!name_char(s[i]))
            return 0;
    return 1;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* "[profile NAME]" or "[default]" (s without the brackets). */
static acp_status section(parsed *p, char *s, int line, int *in_wanted, acp_error *err)
{
    s = trim(s);
    const char *name = s;
    if (strncmp(s, "profile", 7) == 0 && (s[7] == ' ' || s[7] == '\t'))
        name = trim(s + 8);
    else if (strcmp(s, "default") != 0)
        return acp__error(err, ACP_INVALID,
                          "%s:%d: a section is [profile NAME] or [default], not [%.64s]", p->path,
                          line, s);
    if (!profile_name_valid(name, strlen(name)))
        return acp__error(err, ACP_INVALID,
                          "%s:%d: profile name '%.64s' must be 1 to %d characters of A-Z, a-z, "
                          "0-9, '_', '-' and '.'",
                          p->path, line, name, PROFILE_NAME_MAX);
    /* Each name once, across the file: a repeated one is a mistake. */
    size_t len = strlen(name);
    for (const char *q = p->names; *q;) {
        size_t k = strcspn(q, " ");
        if (k == len && memcmp(q, name, len) == 0)
            return acp__error(err, ACP_INVALID, "%s:%d: profile '%s' is defined twice", p->path,
                              line, name);
        q += k + (q[k] == ' ');
    }
    size_t used = strlen(p->names);
    if (used + len + 2 < sizeof p->names)
        snprintf(p->names + used, sizeof p->names - used, "%s%s", used ? " " : "", name);
    *in_wanted = strcmp(name, p->want) == 0;
    if (*in_wanted)
        p->found = line;
    return ACP_OK;
}

/* "key = value" inside a section. */
/* 1 when the URI holds a secret: a password in its user information or an
 * option whose name says it is one.  A URI that does not parse holds none
 * here: apply() reports it with its line. */
static int uri_has_secret(const char *uri)
{
    acp_config *c;
    acp_error ignored;
    int found = 0;
    if (acp_config_new(&c, &ignored) != ACP_OK)
        return 0;
    if (acp_config_parse_uri(c, uri, &ignored) == ACP_OK) {
        const char *at = c->authority ? strrchr(c->authority, '@') : NULL;
        found = at && memchr(c->authority, ':', (size_t)(at - c->authority));
        for (size_t i = 0; !found && i < c->n_opts; i++)
            found = acp__is_secret_key(c->opts[i].key);
    }
    acp_config_free(c);
    return found;
}

static acp_status setting(parsed *p, char *s, int line, int in_section, int in_wanted,
                          acp_error *err)
{
    char *eq = strchr(s, '=');
    if (!eq)
        return acp__error(err, ACP_INVALID,
                          "%s:%d: expected 'key = value', a [profile NAME] section or a # "
                          "comment",
                          p->path, line);
    *eq = '\0';
    char *key = trim(s), *value = trim(eq + 1);
    if (!key[0])
        return acp__error(err, ACP_INVALID, "%s:%d: no key before '='", p->path, line);
    for (const char *k = key; *k; k++)
        if (!((*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') || *k == '_' || *k == '-' ||
              *k == '.'))
            return acp__error(err, ACP_INVALID,
                              "%s:%d: key '%.64s' may only hold a-z, 0-9, '_', '-' and '.'",
                              p->path, line, key);
    if (!in_section)
        return acp__error(err, ACP_INVALID,
                          "%s:%d: '%s' comes before any [profile NAME] section", p->path, line,
                          key);
    if ((strcmp(key, "password_file") != 0 && acp__is_secret_key(key)) ||
        (strcmp(key, "uri") == 0 && uri_has_secret(value)))
        return acp__error(err, ACP_INVALID,
                          "%s:%d: a password is never written in the configuration file: put "
                          "it alone in a file only you can read (chmod 600) and name that file "
                          "with password_file",
                          p->path, line);
    if (!value[0])
        return acp__error(err, ACP_INVALID, "%s:%d: '%s' has no value", p->path, line, key);
    if (!in_wanted)
        return ACP_OK;
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->e[i].key, key) == 0)
            return acp__error(err, ACP_INVALID, "%s:%d: '%s' is set twice in profile '%s' (also "
                              "line %d)", p->path, line, key, p->want, p->e[i].line);
    if (p->n == MAX_ENTRIES)
        return acp__error(err, ACP_INVALID, "%s:%d: more than %d keys in profile '%s'", p->path,
                          line, MAX_ENTRIES, p->want);
    entry *e = &p->e[p->n];
    e->key = strdup(key);
    e->value = strdup(value);
    e->line = line;
    if (!e->key || !e->value) {
        free(e->key);
        free(e->value);
        return acp__error(err, ACP_NOMEM, "out of memory reading %s", p->path);
    }
    p->n++;
    return ACP_OK;
}

/* Check every line of text (NUL-terminated, changed in place); keep the
 * entries of the wanted profile. */
static acp_status parse(parsed *p, char *text, acp_error *err)
{
    int line = 0, in_section = 0, in_wanted = 0;
    for (char *s = text, *next; s; s = next) {
        line++;
        next = strchr(s, '\n');
        if (next)
            *next++ = '\0';
        size_t n = strlen(s);
        if (n && s[n - 1] == '\r')
            s[--n] = '\0';
        s = trim(s);
        if (!s[0] || s[0] == '#' || s[0] == ';')
            continue;
        acp_status st;
        if (s[0] == '[') {
            n = strlen(s);
            if (s[n - 1] != ']')
                return acp__error(err, ACP_INVALID, "%s:%d: a section header ends with ']'",
                                  p->path, line);
            s[n - 1] = '\0';
            st = section(p, s + 1, line, &in_wanted, err);
            in_section = 1;
        } else {
            st = setting(p, s, line, in_section, in_wanted, err);
        }
        if (st != ACP_OK)
            return st;
    }
    return ACP_OK;
}

/* Open a file that must be a regular one, without blocking on a FIFO.
 * nofollow: refuse a symbolic link as the last component.  Returns the
 * descriptor, or -1 with errno (ELOOP for a link, EINVAL for not regular). */
static int open_regular(const char *path, int nofollow, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (nofollow ? O_NOFOLLOW : 0));
    if (fd < 0)
        return -1;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        int e = S_ISREG(st->st_mode) ? errno : EINVAL;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Read at most max bytes of fd into a NUL-terminated buffer; *len gets the
 * size.  Returns 0, E2BIG when there is more, or errno. */
static int read_all(int fd, size_t max, char **out, size_t *len)
{
    *out = NULL;
    char *buf = malloc(max + 2);
    size_t n = 0;
    ssize_t r;
    if (!buf)
        return ENOMEM;
    /* Until the end, or one byte past max (then the file is too large). */
    do {
        r = read(fd, buf + n, max + 1 - n);
        n += r > 0 ? (size_t)r : 0;
    } while ((r > 0 && n <= max) || (r < 0 && errno == EINTR));
    int e = r < 0 ? errno : n > max ? E2BIG : 0;
    if (e) {
        free(buf);
        return e;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static void wipe(char *s, size_t n)
{
    volatile char *v = s;
    while (n--)
        *v++ = 0;
}

/* A timeout: digits and a unit, ms (the default), s or m. */
static int parse_timeout(const char *s, int64_t *ms)
{
    int64_t v = 0;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (*p - '0');
        if (v > INT64_C(1000000000000))
            return 0;
    }
    int64_t scale = !*p || !strcmp(p, "ms") ? 1 : !strcmp(p, "s") ? 1000 : !strcmp(p, "m") ? 60000 : 0;
    if (!scale)
        return 0;
    *ms = v * scale;
    return 1;
}

/* The password in the file named by e (~/ is the home directory).  The
 * file must be the user's alone (or root's, readable by its group at
 * most), not a symbolic link; its single line is the password. */
static acp_status read_password(const parsed *p, const entry *e, char **out, acp_error *err)
{
    char *path = NULL;
    const char *home = secure_getenv("HOME");
    if (strncmp(e->value, "~/", 2) == 0 && home && home[0] == '/') {
        if (asprintf(&path, "%s/%s", home, e->value + 2) < 0)
            return acp__error(err, ACP_NOMEM, "out of memory reading %s", p->path);
    } else if (e->value[0] == '/') {
        if (!(path = strdup(e->value)))
            return acp__error(err, ACP_NOMEM, "out of memory reading %s", p->path);
    } else {
        return acp__error(err, ACP_INVALID,
                          "%s:%d: password_file '%.200s' must be an absolute path (or start "
                          "with ~/)",
                          p->path, e->line, e->value);
    }
    struct stat st;
    char where[600];
    snprintf(where, sizeof where, "%s:%d: password_file %s", p->path, e->line, path);
    int fd = open_regular(path, 1, &st);
    acp_status rc = ACP_OK;
    if (fd < 0) {
        int en = errno;
        rc = en == ELOOP    ? acp__error(err, ACP_INVALID, "%s is a symbolic link: name the file "
                                         "itself", where)
             : en == EINVAL ? acp__error(err, ACP_INVALID, "%s is not a regular file", where)
             : en == ENOENT ? acp__error(err, ACP_INVALID, "%s does not exist", where)
                            : acp__error(err, ACP_IO, "%s: cannot open: %s", where, strerror(en));
        free(path);
        return rc;
    }
    free(path);
    /* The rule of libpq's password file: private to its owner, or a root
     * file its group may read (a service account's group). */
    uid_t me = geteuid();
    if (st.st_uid != me && st.st_uid != 0)
        rc = acp__error(err, ACP_INVALID, "%s belongs to uid %ld, neither you (uid %ld) nor "
                        "root: refusing it", where, (long)st.st_uid, (long)me);
    else if (st.st_uid == me && me != 0 && (st.st_mode & 077))
        rc = acp__error(err, ACP_INVALID, "%s may be read or changed by others (mode %03o): "
                        "chmod 600 it", where, (unsigned)(st.st_mode & 0777));
    else if (st.st_mode & (S_IWGRP | S_IRWXO))
        rc = acp__error(err, ACP_INVALID, "%s may be changed by its group or read by anyone "
                        "(mode %03o): chmod 600 or 640 it", where, (unsigned)(st.st_mode & 0777));
    char *buf = NULL;
    size_t len = 0;
    int e2 = rc == ACP_OK ? read_all(fd, PASSWORD_MAX_BYTES, &buf, &len) : 0;
    close(fd);
    if (rc != ACP_OK)
        return rc;
    if (e2)
        return e2 == E2BIG ? acp__error(err, ACP_INVALID, "%s is longer than %d bytes", where,
                                        PASSWORD_MAX_BYTES)
               : e2 == ENOMEM ? acp__error(err, ACP_NOMEM, "out of memory reading %s", where)
                              : acp__error(err, ACP_IO, "%s: cannot read: %s", where, strerror(e2));
    /* One line: its newline (and a CR before it) is not part of it. */
    if (len && buf[len - 1] == '\n')
        buf[--len] = '\0';
    if (len && buf[len - 1] == '\r')
        buf[--len] = '\0';
    if (!len)
        rc = acp__error(err, ACP_INVALID, "%s is empty", where);
    else if (strlen(buf) != len)
        rc = acp__error(err, ACP_INVALID, "%s holds a NUL byte", where);
    else if (strchr(buf, '\n'))
        rc = acp__error(err, ACP_INVALID, "%s holds more than one line (the password is its "
                        "only line)", where);
    if (rc != ACP_OK) {
        wipe(buf, len);
        free(buf);
        return rc;
    }
    *out = buf;
    return ACP_OK;
}

/* Apply the profile's entries to the empty configuration t. */
static acp_status apply(const parsed *p, acp_config *t, acp_error *err)
{
    const entry *uri = NULL, *backend = NULL;
    for (size_t i = 0; i < p->n; i++) {
        if (!strcmp(p->e[i].key, "uri"))
            uri = &p->e[i];
        else if (!strcmp(p->e[i].key, "backend"))
            backend = &p->e[i];
    }
    if (uri && backend)
        return acp__error(err, ACP_INVALID, "%s:%d: profile '%s' has both uri and backend (line "
                          "%d): give one", p->path, backend->line, p->want, uri->line);
    if (!uri && !backend)
        return acp__error(err, ACP_INVALID, "%s:%d: profile '%s' names no store: add "
                          "'uri = ...' (or 'backend = NAME' and 'path = ...')", p->path, p->found,
                          p->want);
    acp_status st;
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%s:%d: ", p->path, uri ? uri->line : backend->line);
    st = uri ? acp_config_parse_uri(t, uri->value, err) : acp_config_set_backend(t, backend->value, err);
    for (size_t i = 0; st == ACP_OK && i < p->n; i++) {
        const entry *e = &p->e[i];
        snprintf(prefix, sizeof prefix, "%s:%d: ", p->path, e->line);
        if (e == uri || e == backend)
            continue;
        if (!strcmp(e->key, "timeout")) {
            int64_t ms;
            if (!parse_timeout(e->value, &ms))
                return acp__error(err, ACP_INVALID, "%s:%d: timeout '%.64s' is not a duration "
                                  "(e.g. 5000, 5000ms, 5s, 1m; 0: no limit)", p->path, e->line,
                                  e->value);
            st = acp_config_set_timeout_ms(t, ms, err);
        } else if (!strcmp(e->key, "password_file")) {
            char *pw = NULL;
            if ((st = read_password(p, e, &pw, err)) != ACP_OK)
                return st; /* its message names the file and line */
            st = acp_config_set(t, "password", pw, err);
            wipe(pw, strlen(pw));
            free(pw);
        } else {
            st = acp_config_set(t, e->key, e->value, err);
        }
    }
    if (st != ACP_OK && err) {
        /* Name the line in front of the library's own message (cut at the
         * end when too long, as every message is). */
        size_t pl = strlen(prefix), ml = strlen(err->message), room = sizeof err->message - 1;
        if (pl > room)
            pl = room;
        if (ml > room - pl)
            ml = room - pl;
        memmove(err->message + pl, err->message, ml);
        memcpy(err->message, prefix, pl);
        err->message[pl + ml] = '\0';
    }
    return st;
}

ACP_API acp_status acp_config_load_profile(acp_config *cfg, const char *name, const char *path,
                                           acp_error *err)
{
    if (!cfg)
        return acp__error(err, ACP_INVALID, "acp_config_load_profile: cfg must not be NULL");
    if (!name || !name[0])
        name = secure_getenv("ACP_STORAGE_PROFILE");
    if (!name || !name[0])
        name = "default";
    if (!profile_name_valid(name, strlen(name)))
        return acp__error(err, ACP_INVALID,
                          "profile name '%.64s' must be 1 to %d characters of A-Z, a-z, 0-9, "
                          "'_', '-' and '.'",
                          name, PROFILE_NAME_MAX);
    char *own = NULL;
    if (!path && !(path = own = acp_config_file_default()))
        return acp__error(err, ACP_NOT_FOUND,
                          "no configuration file: neither XDG_CONFIG_HOME nor HOME is an "
                          "absolute path");
    parsed p = {.path = path, .want = name};
    struct stat st;
    char *text = NULL;
    size_t len = 0;
    acp_status rc = ACP_OK;
    int fd = open_regular(path, 0, &st);
    if (fd < 0) {
        int e = errno;
        rc = e == ENOENT   ? acp__error(err, ACP_NOT_FOUND, "no configuration file %s", path)
             : e == EINVAL ? acp__error(err, ACP_INVALID, "%s is not a regular file", path)
                           : acp__error(err, ACP_IO, "cannot open %s: %s", path, strerror(e));
        free(own);
        return rc;
    }
    /* Whoever may change the file chooses the stores (and password files)
     * a program opens. */
    if (st.st_uid != geteuid() && st.st_uid != 0)
        rc = acp__error(err, ACP_INVALID, "%s belongs to uid %ld, neither you nor root: refusing "
                        "it", path, (long)st.st_uid);
    else if (st.st_mode & (S_IWGRP | S_IWOTH))
        rc = acp__error(err, ACP_INVALID, "%s may be changed by others (mode %03o): chmod go-w "
                        "it", path, (unsigned)(st.st_mode & 0777));
    int e = rc == ACP_OK ? read_all(fd, CONFIG_MAX_BYTES, &text, &len) : 0;
    close(fd);
    if (rc == ACP_OK && e)
        rc = e == E2BIG  ? acp__error(err, ACP_INVALID, "%s is larger than %d bytes", path,
                                      CONFIG_MAX_BYTES)
             : e == ENOMEM ? acp__error(err, ACP_NOMEM, "out of memory reading %s", path)
                           : acp__error(err, ACP_IO, "cannot read %s: %s", path, strerror(e));
    if (rc == ACP_OK && !text) /* (read_all gives text whenever it returns 0) */
        rc = acp__error(err, ACP_NOMEM, "out of memory reading %s", path);
    if (rc == ACP_OK && strlen(text) != len)
        rc = acp__error(err, ACP_INVALID, "%s holds a NUL byte", path);
    if (rc == ACP_OK)
        rc = parse(&p, text, err);
    if (rc == ACP_OK && !p.found)
        rc = acp__error(err, ACP_NOT_FOUND, "no profile '%s' in %s (profiles: %s)", name, path,
                        p.names[0] ? p.names : "none");
    acp_config *t = NULL;
    if (rc == ACP_OK)
        rc = acp_config_new(&t, err);
    if (rc == ACP_OK) {
        t->timeout_ms = cfg->timeout_ms; /* unless the profile sets one */
        rc = apply(&p, t, err);
    }
    if (rc == ACP_OK) {
        /* Success: the profile's store replaces cfg's; plugin settings stay. */
        acp_config swap = *cfg;
        cfg->backend = t->backend, cfg->scheme = t->scheme, cfg->variant = t->variant;
        cfg->authority = t->authority, cfg->path = t->path;
        cfg->opts = t->opts, cfg->n_opts = t->n_opts, cfg->timeout_ms = t->timeout_ms;
        t->backend = swap.backend, t->scheme = swap.scheme, t->variant = swap.variant;
        t->authority = swap.authority, t->path = swap.path;
        t->opts = swap.opts, t->n_opts = swap.n_opts;
    }
    acp_config_free(t);
    parsed_free(&p);
    if (text)
        wipe(text, len); /* a URI may hold a password */
    free(text);
    free(own);
    return rc;
}
