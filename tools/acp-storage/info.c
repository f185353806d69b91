/* SPDX-License-Identifier: MIT */
/*
 * info.c - what is installed and whether a store answers: --version,
 * backends and ping.
 */
#define _XOPEN_SOURCE 700

#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define RED "\033[31m"
#define GREEN "\033[32m"
#define RESET "\033[0m"

int cli_print_version(const cli_ctx *ctx)
{
    unsigned major = 0, minor = 0;
    acp_plugin_abi(&major, &minor);
    if (ctx->json) {
        fputs("{\"schema\":1,\"tool\":", stdout);
        out_str(stdout, ACP_STORAGE_VERSION_STRING);
        fputs(",\"library\":", stdout);
        out_str(stdout, acp_version());
        fprintf(stdout, ",\"plugin_abi\":\"%u.%u\"}\n", major, minor);
    } else {
        fprintf(stdout, "acp-storage %s\nlibrary %s\nplugin ABI %u.%u\n",
                ACP_STORAGE_VERSION_STRING, acp_version(), major, minor);
    }
    return cli_finish_stdout(CLI_EXIT_OK);
}

/* The next entry of ACP_STORAGE_PLUGIN_PATH that the search path does not
 * hold (the library ignores relative entries), from *p on; its length in
 * *len, or NULL at the end. */
static const char *next_ignored(const char **p, size_t *len)
{
    while (*p && **p) {
        const char *e = *p;
        size_t n = strcspn(e, ":");
        *p += n + (e[n] == ':');
        int used = n == 0; /* an empty entry means nothing */
        const char *dir;
        for (size_t i = 0; !used && (dir = acp_config_plugin_dir(NULL, i)) != NULL; i++)
            used = strlen(dir) == n && !strncmp(dir, e, n);
        if (!used) {
            *len = n;
            return e;
        }
    }
    return NULL;
}

static const char *ignored_reason(const char *entry)
{
    return entry[0] == '/' ? "not used (the environment is not trusted in a set-user-ID program)"
                           : "relative: plugins are never looked up relative to the current "
                             "directory; give an absolute path";
}

static void backends_json(const acp_plugin_list *list)
{
    fputs("{\"schema\":1,\"plugin_dirs\":[", stdout);
    const char *dir;
    for (size_t i = 0; (dir = acp_config_plugin_dir(NULL, i)) != NULL; i++) {
        if (i)
            fputc(',', stdout);
        out_str(stdout, dir);
    }
    fputs("],\"ignored_path_entries\":[", stdout);
    const char *env = getenv("ACP_STORAGE_PLUGIN_PATH"), *e;
    size_t len;
    for (int k = 0; (e = next_ignored(&env, &len)) != NULL; k++) {
        char entry[4096];
        snprintf(entry, sizeof entry, "%.*s", (int)len, e);
        fputs(k ? ",{\"entry\":" : "{\"entry\":", stdout);
        out_str(stdout, entry);
        fputs(",\"reason\":", stdout);
        out_str(stdout, ignored_reason(entry));
        fputc('}', stdout);
    }
    fputs("],\"backends\":[", stdout);
    size_t n = acp_plugin_list_count(list);
    for (size_t i = 0; i < n; i++) {
        const acp_plugin_info *p = acp_plugin_list_get(list, i);
        int ok = p->status == ACP_OK;
        fputs(i ? ",{\"name\":" : "{\"name\":", stdout);
        out_str(stdout, p->name);
        fputs(",\"path\":", stdout);
        out_str(stdout, p->path);
        fprintf(stdout, ",\"loaded\":%s,\"status\":\"%s\",\"message\":", ok ? "true" : "false",
                acp_status_name(p->status));
        out_str(stdout, p->message);
        fputs(",\"version\":", stdout);
        out_str(stdout, ok ? p->version : NULL);
        fputs(",\"description\":", stdout);
        out_str(stdout, ok ? p->description : NULL);
        if (p->abi_major)
            fprintf(stdout, ",\"abi\":\"%u.%u\"", p->abi_major, p->abi_minor);
        else
            fputs(",\"abi\":null", stdout);
        fputs(",\"capabilities\":", stdout);
        out_caps_json(stdout, ok ? p->capabilities : 0);
        fprintf(stdout, ",\"shadowed\":%s,\"crashed\":%s", p->shadowed ? "true" : "false",
                p->crash_signal ? "true" : "false");
        if (p->crash_signal)
            fprintf(stdout, ",\"signal\":%d}", p->crash_signal);
        else
            fputs(",\"signal\":null}", stdout);
    }
    fputs("]}\n", stdout);
}

static int max_int(int a, int b)
{
    return a > b ? a : b;
}

static void backends_text(const cli_ctx *ctx, const acp_plugin_list *list)
{
    fputs("Plugin directories, in search order:\n", stdout);
    const char *dir;
    for (size_t i = 0; (dir = acp_config_plugin_dir(NULL, i)) != NULL; i++)
        fprintf(stdout, "  %s\n", dir);
    const char *env = getenv("ACP_STORAGE_PLUGIN_PATH"), *e;
    size_t len;
    while ((e = next_ignored(&env, &len)) != NULL)
        fprintf(stdout, "  (ignored ACP_STORAGE_PLUGIN_PATH entry '%.*s': %s)\n", (int)len, e,
                ignored_reason(e));

    size_t n = acp_plugin_list_count(list);
    if (n == 0) {
        fputs("\nNo backend plugins found.\n", stdout);
        return;
    }
    char caps[128];
    int wname = 4, wver = 7, wcaps = 12;
    for (size_t i = 0; i < n; i++) {
        const acp_plugin_info *p = acp_plugin_list_get(list, i);
        wname = max_int(wname, (int)strlen(p->name));
        if (p->status == ACP_OK) {
            wver = max_int(wver, (int)strlen(p->version));
            wcaps = max_int(wcaps, (int)strlen(cli_caps_text(p->capabilities, caps, sizeof caps)));
        }
    }
    fprintf(stdout, "\n%-*s  %-*s  %-4s  %-*s  %s\n", wname, "NAME", wver, "VERSION", "ABI", wcaps,
            "CAPABILITIES", "PATH");
    for (size_t i = 0; i < n; i++) {
        const acp_plugin_info *p = acp_plugin_list_get(list, i);
        char abi[32] = "-";
        if (p->abi_major)
            snprintf(abi, sizeof abi, "%u.%u", p->abi_major, p->abi_minor);
        int ok = p->status == ACP_OK;
        fprintf(stdout, "%-*s  %-*s  %-4s  %-*s  %s\n", wname, p->name, wver, ok ? p->version : "-",
                abi, wcaps, ok ? cli_caps_text(p->capabilities, caps, sizeof caps) : "-", p->path);
        if (!ok)
            fprintf(stdout, "%*s  %s%s%s: %s\n", wname, "", ctx->color ? RED : "",
                    p->crash_signal ? "crashed" : "refused", ctx->color ? RESET : "", p->message);
        if (p->shadowed)
            fprintf(stdout, "%*s  shadowed: a directory searched earlier has a plugin of this name\n",
                    wname, "");
    }
}

int cmd_backends(cli_ctx *ctx)
{
    acp_error err;
    acp_plugin_list *list;
    if (acp_plugins_scan(NULL, &list, &err) != ACP_OK)
        return cli_report(&err);
    if (ctx->json)
        backends_json(list);
    else
        backends_text(ctx, list);
    acp_plugin_list_free(list);
    return CLI_EXIT_OK;
}

int cmd_ping(cli_ctx *ctx)
{
    acp_store *store;
    char *uri;
    int rc = cli_open_store(ctx, &store, &uri);
    if (rc)
        return rc;
    acp_error err;
    if (acp_store_ping(store, &err) != ACP_OK) {
        rc = cli_report(&err);
    } else if (ctx->json) {
        out_store_json(stdout, uri, acp_store_backend(store), acp_store_backend_version(store));
        fputs(",\"ok\":true,\"capabilities\":", stdout);
        out_caps_json(stdout, acp_store_capabilities(store));
        fputs("}\n", stdout);
    } else {
        fprintf(stdout, "%sok%s: %s (%s %s)\n", ctx->color ? GREEN : "", ctx->color ? RESET : "",
                uri, acp_store_backend(store), acp_store_backend_version(store));
    }
    acp_free(uri);
    acp_store_close(store);
    return rc;
}
