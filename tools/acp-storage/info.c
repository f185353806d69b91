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

/* The typed options of p as a JSON array. */
static void options_json(const acp_plugin_info *p)
{
    fputc('[', stdout);
    for (size_t i = 0; i < p->n_options; i++) {
        const acp_option_info *o = &p->options[i];
        fputs(i ? ",{\"name\":" : "{\"name\":", stdout);
        out_str(stdout, o->name);
        fputs(",\"type\":", stdout);
        out_str(stdout, o->type);
        fputs(",\"default\":", stdout);
        out_str(stdout, o->default_value);
        fprintf(stdout, ",\"secret\":%s,\"description\":", o->secret ? "true" : "false");
        out_str(stdout, o->doc);
        fputs(",\"values\":[", stdout);
        for (const char *v = o->values; *v;) {
            size_t len = strcspn(v, "|");
            char value[1024];
            snprintf(value, sizeof value, "%.*s", (int)len, v);
            if (v != o->values)
                fputc(',', stdout);
            out_str(stdout, value);
            v += len + (v[len] == '|');
        }
        fputs("]}", stdout);
    }
    fputc(']', stdout);
}

/* One backend as a JSON object. */
static void backend_json(const acp_plugin_info *p)
{
    int ok = p->status == ACP_OK;
    fputs("{\"name\":", stdout);
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
        fprintf(stdout, ",\"signal\":%d", p->crash_signal);
    else
        fputs(",\"signal\":null", stdout);
    fputs(",\"options\":", stdout);
    options_json(p);
    fputc('}', stdout);
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
        if (i)
            fputc(',', stdout);
        backend_json(acp_plugin_list_get(list, i));
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

/* backends NAME: one backend and its typed options, as text. */
static void backend_text(const cli_ctx *ctx, const acp_plugin_info *p)
{
    char caps[128];
    int ok = p->status == ACP_OK;
    fprintf(stdout, "%s %s", p->name, ok ? p->version : "");
    if (p->abi_major)
        fprintf(stdout, " (plugin ABI %u.%u)", p->abi_major, p->abi_minor);
    fprintf(stdout, "\n%s\npath          %s\n", ok ? p->description : "", p->path);
    if (!ok) {
        fprintf(stdout, "%s%s%s: %s\n", ctx->color ? RED : "",
                p->crash_signal ? "crashed" : "refused", ctx->color ? RESET : "", p->message);
        return;
    }
    fprintf(stdout, "capabilities  %s\n", cli_caps_text(p->capabilities, caps, sizeof caps));
    if (p->n_options == 0) {
        fputs("options       none described (the plugin checks what it is given)\n", stdout);
        return;
    }
    int wname = 4, wtype = 4, wdef = 7;
    for (size_t i = 0; i < p->n_options; i++) {
        const acp_option_info *o = &p->options[i];
        wname = max_int(wname, (int)strlen(o->name));
        wtype = max_int(wtype, (int)strlen(o->type));
        wdef = max_int(wdef, o->default_value ? (int)strlen(o->default_value) : 1);
    }
    fprintf(stdout, "\nOptions:\n  %-*s  %-*s  %-*s  %-6s  %s\n", wname, "NAME", wtype, "TYPE",
            wdef, "DEFAULT", "SECRET", "DESCRIPTION");
    for (size_t i = 0; i < p->n_options; i++) {
        const acp_option_info *o = &p->options[i];
        fprintf(stdout, "  %-*s  %-*s  %-*s  %-6s  %s", wname, o->name, wtype, o->type, wdef,
                o->default_value ? o->default_value : "-", o->secret ? "yes" : "no", o->doc);
        if (o->values[0])
            fprintf(stdout, "%s(%s)", o->doc[0] ? " " : "", o->values);
        fputc('\n', stdout);
    }
}

int cmd_backends(cli_ctx *ctx)
{
    acp_error err;
    acp_plugin_list *list;
    if (acp_plugins_scan(NULL, &list, &err) != ACP_OK)
        return cli_report(&err);
    int rc = CLI_EXIT_OK;
    const char *name = ctx->args.n_pos ? ctx->args.pos[0] : NULL;
    const acp_plugin_info *p = NULL;
    /* The first of a name is the one a store of that name loads. */
    for (size_t i = 0; name && !p && i < acp_plugin_list_count(list); i++)
        if (strcmp(acp_plugin_list_get(list, i)->name, name) == 0)
            p = acp_plugin_list_get(list, i);
    if (name && !p) {
        rc = cli_fail(ACP_LOAD, "no backend plugin named '%s' in the plugin directories "
                                "(acp-storage backends lists them)", name);
    } else if (p) {
        if (ctx->json) {
            fputs("{\"schema\":1,\"backend\":", stdout);
            backend_json(p);
            fputs("}\n", stdout);
        } else {
            backend_text(ctx, p);
        }
        if (p->status != ACP_OK)
            rc = cli_exit_code(ACP_LOAD);
    } else if (ctx->json) {
        backends_json(list);
    } else {
        backends_text(ctx, list);
    }
    acp_plugin_list_free(list);
    return rc;
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
