/* SPDX-License-Identifier: MIT */
/*
 * store.c - which store a command works on, and reading input documents.
 *
 * Precedence: --store, then a profile given with --profile, then
 * $ACP_STORAGE_URL, then $ACP_STORAGE_PROFILE or the configuration file's
 * profile "default" (profile.c), then the embedded default, a sqlite store
 * in the user's data directory.
 */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* mkdir -p with mode 0700 for every directory it creates; existing
 * directories keep their mode. */
static int make_dirs(char *path)
{
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            int e = errno;
            *p = saved;
            return cli_fail(ACP_IO, "cannot create directory '%s': %s", path, strerror(e));
        }
        *p = saved;
        if (!saved)
            break;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return cli_fail(ACP_IO, "'%s' is not a directory", path);
    return CLI_EXIT_OK;
}

/* sqlite:<data dir>/acp-storage/store.db, where the data directory is
 * $XDG_DATA_HOME when it is absolute, else $HOME/.local/share.  The
 * directory is created on first use (by a command that writes). */
static int default_store(acp_config *cfg, int create)
{
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    const char *base, *suffix;
    if (xdg && xdg[0] == '/') {
        base = xdg;
        suffix = "/acp-storage";
    } else if (home && home[0] == '/') {
        base = home;
        suffix = "/.local/share/acp-storage";
    } else {
        return cli_fail(ACP_INVALID,
                        "no store given and no data directory for the default store "
                        "(HOME is not an absolute path): use --store URL or set ACP_STORAGE_URL");
    }
    size_t n = strlen(base) + strlen(suffix) + sizeof "/store.db";
    char *dir = malloc(n);
    if (!dir)
        return cli_fail(ACP_NOMEM, "out of memory");
    snprintf(dir, n, "%s%s", base, suffix);
    int rc = create ? make_dirs(dir) : CLI_EXIT_OK;
    if (rc == CLI_EXIT_OK) {
        acp_error err;
        strcat(dir, "/store.db");
        /* Set the pieces rather than writing a URI, so that no character of
         * the path needs escaping. */
        if (acp_config_set_backend(cfg, "sqlite", &err) != ACP_OK ||
            acp_config_set(cfg, "path", dir, &err) != ACP_OK)
            rc = cli_report(&err);
    }
    free(dir);
    return rc;
}

/* Report err with where the store came from in front (or after). */
static int report_from(const acp_error *err, const char *before, const char *after)
{
    acp_error e = *err;
    /* Joined piece by piece: a message too long for the buffer is cut, as
     * every message is. */
    const char *parts[3] = {before, err->message, after};
    size_t off = 0;
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(parts[i]), room = sizeof e.message - 1 - off;
        if (n > room)
            n = room;
        memcpy(e.message + off, parts[i], n);
        off += n;
    }
    e.message[off] = '\0';
    return cli_report(&e);
}

/* A store given as a plain path: say which URI it probably meant. */
static int path_not_uri(const char *source, const char *url)
{
    struct stat st;
    int dir = (stat(url, &st) == 0 && S_ISDIR(st.st_mode)) || url[strlen(url) - 1] == '/';
    const char *slashes = url[0] == '/' ? "//" : "";
    if (dir)
        return cli_fail(ACP_INVALID,
                        "%s: '%s' is a path, not a store URI; for a file store in that "
                        "directory use file:%s%s",
                        source, url, slashes, url);
    return cli_fail(ACP_INVALID,
                    "%s: '%s' is a path, not a store URI; for a sqlite database use "
                    "sqlite:%s%s (or file:%s%s for a file store directory)",
                    source, url, slashes, url, slashes, url);
}

/* The mistake the URI parser cannot explain: a path without a scheme.
 * (rediss: is explained by the library, for every caller.) */
static int check_url(const char *source, const char *url)
{
    size_t scheme = strcspn(url, ":/?#");
    if (url[scheme] != ':' || scheme == 0)
        return url[0] == '/' || url[0] == '.' || url[0] == '~' || strchr(url, '/') ||
                       strchr(url, '.')
                   ? path_not_uri(source, url)
                   : CLI_EXIT_OK; /* the parser says what a URI looks like */
    return CLI_EXIT_OK;
}

/* The configuration of the store ctx names (to acp_config_free; NULL on
 * failure); *source receives where it came from: "--store",
 * "ACP_STORAGE_URL" or NULL for the default store. */
static int store_config(const cli_ctx *ctx, acp_config **out, const char **source_out,
                        char **display)
{
    acp_error err;
    acp_config *cfg;
    *out = NULL;
    *source_out = NULL;
    if (display)
        *display = NULL;
    if (acp_config_new(&cfg, &err) != ACP_OK)
        return cli_report(&err);

    const char *source = "--store";
    const char *url = ctx->args.value[OPT_STORE];
    if (!url) {
        source = "ACP_STORAGE_URL";
        url = getenv("ACP_STORAGE_URL");
        if (url && !url[0])
            url = NULL;
    }
    int create = !(ctx->cmd && (ctx->cmd->options & CMD_NO_CREATE));
    int loaded = 0;
    int rc = cli_profile_select(ctx, cfg, &source, &loaded);
    if (rc || loaded) {
        /* a profile (profile.c) named the store, or could not be read */
    } else if (url) {
        rc = check_url(source, url);
        if (!rc && acp_config_parse_uri(cfg, url, &err) != ACP_OK)
            rc = report_from(&err, source[0] == '-' ? "--store: " : "ACP_STORAGE_URL: ", "");
    } else {
        source = NULL;
        rc = default_store(cfg, create);
    }
    /* The store as the user named it, before the option added below. */
    if (!rc && display && !(*display = acp_config_redacted_uri(cfg)))
        rc = cli_fail(ACP_NOMEM, "out of memory");
    /* A command that only reads never makes a store (a mistyped path would
     * otherwise become an empty one that answers "not found"). */
    if (!rc && !create && acp_config_set(cfg, "create", "false", &err) != ACP_OK)
        rc = cli_report(&err);
    if (rc != CLI_EXIT_OK) {
        if (display) {
            free(*display);
            *display = NULL;
        }
        acp_config_free(cfg);
        return rc;
    }
    *out = cfg;
    *source_out = source;
    return CLI_EXIT_OK;
}

int cli_store_config(const cli_ctx *ctx, acp_config **out, char **display)
{
    const char *source;
    return store_config(ctx, out, &source, display);
}

int cli_open_store(const cli_ctx *ctx, acp_store **out, char **display)
{
    acp_error err;
    acp_config *cfg;
    const char *source;
    int rc = store_config(ctx, &cfg, &source, display);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (acp_store_open_config(cfg, out, &err) != ACP_OK) {
        if (!source && err.code == ACP_NOT_FOUND)
            rc = report_from(&err, "",
                             " (the default store is made by the first command that saves; "
                             "use --store URL for another store)");
        else if (source && source[0] == 'A')
            rc = report_from(&err, "ACP_STORAGE_URL: ", "");
        else
            rc = cli_report(&err);
    }
    if (rc != CLI_EXIT_OK && display) {
        free(*display);
        *display = NULL;
    }
    acp_config_free(cfg);
    return rc;
}

/* Whitespace a document may carry around it beyond the size limit. */
#define INPUT_SLACK 4096

int cli_read_input(const cli_ctx *ctx, const char *path, char **buf, size_t *len)
{
    /* The store's document limit bounds the read: an endless input (a
     * device, a pipe) is refused there, not read until memory runs out. */
    acp_config *cfg;
    size_t max;
    acp_error err;
    const char *source;
    int rc = store_config(ctx, &cfg, &source, NULL);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (acp_config_max_document_bytes(cfg, &max, &err) != ACP_OK)
        rc = cli_report(&err);
    acp_config_free(cfg);
    if (rc != CLI_EXIT_OK)
        return rc;

    int from_stdin = strcmp(path, "-") == 0;
    if (from_stdin && isatty(STDIN_FILENO))
        fputs("acp-storage: reading the document from the terminal; end it with Ctrl-D\n", stderr);
    FILE *f = from_stdin ? stdin : fopen(path, "rb");
    if (!f)
        return cli_fail(ACP_IO, "cannot open '%s': %s", path, strerror(errno));

    size_t cap = 4096, n = 0;
    char *data = malloc(cap);
    if (!data) {
        if (!from_stdin)
            fclose(f);
        return cli_fail(ACP_NOMEM, "out of memory");
    }
    for (;;) {
        if (n > max + INPUT_SLACK) {
            rc = cli_fail(ACP_INVALID,
                          "%s holds more than %zu bytes: documents are limited to %zu bytes "
                          "(store option max_document_bytes)",
                          from_stdin ? "standard input" : path, max + INPUT_SLACK, max);
            break;
        }
        if (n + 1 >= cap) {
            char *bigger = realloc(data, cap * 2);
            if (!bigger) {
                rc = cli_fail(ACP_NOMEM, "out of memory reading '%s'", path);
                break;
            }
            data = bigger;
            cap *= 2;
        }
        size_t room = cap - n - 1, left = max + INPUT_SLACK + 1 - n;
        size_t got = fread(data + n, 1, room < left ? room : left, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                rc = cli_fail(ACP_IO, "cannot read '%s': %s", from_stdin ? "standard input" : path,
                              strerror(errno));
            break;
        }
    }
    if (!from_stdin)
        fclose(f);
    if (rc != CLI_EXIT_OK) {
        free(data);
        return rc;
    }
    /* Whitespace around the document is not part of it (a file usually
     * ends with a newline). */
    size_t start = 0;
    while (start < n && data[start] && strchr(" \t\r\n", data[start]))
        start++;
    while (n > start && data[n - 1] && strchr(" \t\r\n", data[n - 1]))
        n--;
    memmove(data, data + start, n - start);
    n -= start;
    data[n] = '\0';
    *buf = data;
    *len = n;
    return CLI_EXIT_OK;
}
