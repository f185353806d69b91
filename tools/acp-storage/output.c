/* SPDX-License-Identifier: MIT */
/*
 * output.c - how the command speaks: exit codes, error lines on stderr,
 * JSON text on stdout, progress on a terminal.
 */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "acp_storage_plugin.h" /* ACP_CAP_* names */
#include "cli.h"

int cli_exit_code(acp_status status)
{
    switch (status) {
    case ACP_OK:
        return CLI_EXIT_OK;
    case ACP_NOT_FOUND:
        return CLI_EXIT_NOT_FOUND;
    case ACP_INVALID:
        return CLI_EXIT_INVALID;
    case ACP_LOAD:
        return CLI_EXIT_LOAD;
    case ACP_UNAVAILABLE:
        return CLI_EXIT_UNAVAILABLE;
    case ACP_CONFLICT:
        return CLI_EXIT_CONFLICT;
    default:
        return CLI_EXIT_FAILURE;
    }
}

/* --json: errors are JSON too, so that a program reads one format. */
static int json_errors;

void cli_json_errors(int on)
{
    json_errors = on;
}

static void error_json(const char *status, int code, const char *message, const char *hint)
{
    fprintf(stderr, "{\"schema\":1,\"error\":{\"status\":\"%s\",\"exit\":%d,\"message\":", status,
            code);
    out_str(stderr, message);
    if (hint) {
        fputs(",\"hint\":", stderr);
        out_str(stderr, hint);
    }
    fputs("}}\n", stderr);
}

int cli_report(const acp_error *err)
{
    const char *msg = err->message[0] ? err->message : acp_status_describe(err->code);
    int code = cli_exit_code(err->code);
    if (json_errors)
        error_json(acp_status_name(err->code), code, msg, NULL);
    else
        fprintf(stderr, "acp-storage: %s: %s\n", acp_status_name(err->code), msg);
    return code;
}

int cli_report_usage(const char *message, const char *hint)
{
    if (json_errors) {
        error_json("USAGE", CLI_EXIT_USAGE, message, hint);
    } else {
        fprintf(stderr, "acp-storage: %s\n", message);
        if (hint)
            fprintf(stderr, "%s\n", hint);
    }
    return CLI_EXIT_USAGE;
}

int cli_fail(acp_status status, const char *fmt, ...)
{
    acp_error e;
    va_list ap;
    e.code = status;
    va_start(ap, fmt);
    vsnprintf(e.message, sizeof e.message, fmt, ap);
    va_end(ap);
    return cli_report(&e);
}

void out_str(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f); /* UTF-8 passes through as it is */
        }
    }
    fputc('"', f);
}

void out_doc(FILE *f, const char *doc, size_t len)
{
    /* Documents are valid JSON (the library checked them), so whitespace
     * outside strings is insignificant and can go: that keeps one document
     * per line without touching any value. */
    int in_string = 0, escaped = 0;
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        char c = doc[i];
        if (in_string) {
            if (escaped)
                escaped = 0;
            else if (c == '\\')
                escaped = 1;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            fwrite(doc + start, 1, i - start, f);
            start = i + 1;
        }
    }
    fwrite(doc + start, 1, len - start, f);
}

static const struct {
    uint64_t bit;
    const char *name;
} cap_names[] = {
    {ACP_CAP_CONCURRENT, "concurrent"},
    {ACP_CAP_DURABLE, "durable"},
    {ACP_CAP_MULTIPROCESS, "multiprocess"},
    {ACP_CAP_NETWORK, "network"},
    {ACP_CAP_FOLLOW, "follow"},
    {ACP_CAP_VERSIONS, "versions"},
    {ACP_CAP_RUN_FILTERS, "run-filters"},
};
#define N_CAPS (sizeof cap_names / sizeof cap_names[0])

const char *cli_caps_text(uint64_t caps, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_CAPS; i++) {
        if (caps & cap_names[i].bit) {
            used += (size_t)snprintf(buf + used, used < size ? size - used : 0, "%s%s",
                                     used ? "," : "", cap_names[i].name);
            caps &= ~cap_names[i].bit;
        }
    }
    if (caps) /* flags of a newer ABI than this tool knows */
        used += (size_t)snprintf(buf + used, used < size ? size - used : 0, "%s0x%llx",
                                 used ? "," : "", (unsigned long long)caps);
    if (!used)
        snprintf(buf, size, "-");
    return buf;
}

void out_caps_json(FILE *f, uint64_t caps)
{
    int first = 1;
    fputc('[', f);
    for (size_t i = 0; i < N_CAPS; i++) {
        if (caps & cap_names[i].bit) {
            fprintf(f, "%s\"%s\"", first ? "" : ",", cap_names[i].name);
            first = 0;
            caps &= ~cap_names[i].bit;
        }
    }
    if (caps)
        fprintf(f, "%s\"0x%llx\"", first ? "" : ",", (unsigned long long)caps);
    fputc(']', f);
}

void out_store_json(FILE *f, const char *uri, const char *backend, const char *version)
{
    fputs("{\"schema\":1,\"store\":", f);
    out_str(f, uri);
    fputs(",\"backend\":", f);
    out_str(f, backend);
    if (version) {
        fputs(",\"backend_version\":", f);
        out_str(f, version);
    }
}

/* Whether a progress line is on the terminal now. */
static int progress_shown;

void cli_progress(const cli_ctx *ctx, const char *fmt, ...)
{
    if (!ctx->progress || (!fmt && !progress_shown))
        return;
    /* Carriage return and erase-line: the next update overwrites this one. */
    fputs("\r\033[K", stderr);
    progress_shown = fmt != NULL;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fflush(stderr);
}

int cli_finish_stdout(int code)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        int e = errno;
        /* Through cli_fail, so that a --json caller gets JSON here too. */
        int rc = cli_fail(ACP_IO, "cannot write the output: %s", e ? strerror(e) : "write error");
        return code ? code : rc;
    }
    return code;
}

static const char *const kind_array[] = {"runs", "sessions", "events"};

void list_begin(cli_list *l, const cli_ctx *ctx, cli_kind kind, const char *run_id)
{
    l->ctx = ctx;
    l->kind = kind;
    l->array = kind_array[kind];
    l->run_id = run_id;
    l->count = 0;
    l->started = 0;
    l->versions = NULL;
    l->n_versions = l->cap_versions = 0;
}

/* Keep a run's version for "versions" (--json).  Out of memory: the list
 * goes on, and list_end reports the versions as null. */
static void keep_version(cli_list *l, int64_t v)
{
    if (l->n_versions == SIZE_MAX)
        return;
    if (l->n_versions == l->cap_versions) {
        size_t cap = l->cap_versions ? 2 * l->cap_versions : 64;
        int64_t *nv = realloc(l->versions, cap * sizeof *nv);
        if (!nv) {
            l->n_versions = SIZE_MAX;
            return;
        }
        l->versions = nv;
        l->cap_versions = cap;
    }
    l->versions[l->n_versions++] = v;
}

/* "2026-11-26T10:58:52Z": an instant to the second, or "-". */
static const char *short_time(int64_t us, char buf[ACP_TIME_BUFSZ])
{
    if (us == INT64_MIN)
        return "-";
    acp_time_format(us, buf);
    buf[19] = 'Z';
    buf[20] = '\0';
    return buf;
}

static void table_header(cli_kind kind)
{
    static const char *const header[] = {
        "RUN ID                                AGENT             STATUS       CREATED               FINISHED              VERSION\n",
        "SESSION ID                            HISTORY\n",
        "   SEQ  STORED                TYPE\n"};
    fputs(header[kind], stdout);
}

/* One row of the table: the columns come from the document. */
static void table_row(cli_kind kind, const acp_page *page, size_t i)
{
    size_t len;
    const char *doc = acp_page_json(page, i, &len);
    char t1[ACP_TIME_BUFSZ], t2[ACP_TIME_BUFSZ];
    acp_error err;
    if (kind == KIND_RUN) {
        acp_run *run;
        if (acp_run_parse(doc, len, &run, &err) != ACP_OK) {
            fprintf(stdout, "%-37s (unreadable: %s)\n", acp_page_key(page, i), err.message);
            return;
        }
        fprintf(stdout, "%-37s %-17s %-12s %-21s %-21s %lld\n", acp_run_id(run),
                acp_run_agent_name(run), acp_run_status(run),
                short_time(acp_run_created_us(run), t1), short_time(acp_run_finished_us(run), t2),
                (long long)acp_page_version(page, i));
        acp_run_free(run);
    } else if (kind == KIND_SESSION) {
        acp_session *s;
        if (acp_session_parse(doc, len, &s, &err) != ACP_OK) {
            fprintf(stdout, "%-37s (unreadable: %s)\n", acp_page_key(page, i), err.message);
            return;
        }
        fprintf(stdout, "%-37s %zu\n", acp_session_id(s), acp_session_history_count(s));
        acp_session_free(s);
    } else {
        acp_event *ev;
        const char *type = "?";
        if (acp_event_parse(doc, len, &ev, &err) == ACP_OK)
            type = acp_event_type(ev);
        else
            ev = NULL;
        fprintf(stdout, "%6lld  %-21s %s\n", (long long)acp_page_seq(page, i),
                short_time(acp_page_time_us(page, i), t1), type);
        acp_event_free(ev);
    }
}

/* The --json header goes out with the first item (or the end), so that a
 * list whose first page fails leaves stdout empty. */
static void list_start(cli_list *l)
{
    if (l->started)
        return;
    l->started = 1;
    if (l->ctx->format == FORMAT_TABLE) {
        table_header(l->kind);
        return;
    }
    if (l->ctx->format != FORMAT_JSON)
        return;
    fputs("{\"schema\":1,", stdout);
    if (l->run_id) {
        fputs("\"run_id\":", stdout);
        out_str(stdout, l->run_id);
        fputc(',', stdout);
    }
    fprintf(stdout, "\"%s\":[", l->array);
}

void list_item(cli_list *l, const acp_page *page, size_t i)
{
    size_t len;
    const char *doc = acp_page_json(page, i, &len);
    /* stdout may be the same terminal as the progress line. */
    cli_progress(l->ctx, NULL);
    list_start(l);
    switch (l->ctx->format) {
    case FORMAT_TABLE:
        table_row(l->kind, page, i);
        break;
    case FORMAT_LINES:
        out_doc(stdout, doc, len);
        fputc('\n', stdout);
        break;
    case FORMAT_JSON:
        if (l->count)
            fputc(',', stdout);
        if (l->kind == KIND_EVENT) {
            char when[ACP_TIME_BUFSZ];
            acp_time_format(acp_page_time_us(page, i), when);
            fprintf(stdout, "{\"seq\":%lld,\"stored_at\":\"%s\",\"event\":",
                    (long long)acp_page_seq(page, i), when);
        }
        out_doc(stdout, doc, len);
        if (l->kind == KIND_EVENT)
            fputc('}', stdout);
        if (l->kind == KIND_RUN)
            keep_version(l, acp_page_version(page, i));
        break;
    }
    l->count++;
}

/* A word as the shell reads it back: quoted unless it is plain. */
static void shell_word(FILE *f, const char *w)
{
    if (*w && strspn(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-./:=@%+,") ==
                  strlen(w)) {
        fputs(w, f);
        return;
    }
    fputc('\'', f);
    for (; *w; w++) {
        if (*w == '\'')
            fputs("'\\''", f);
        else
            fputc(*w, f);
    }
    fputc('\'', f);
}

static void option_with_value(cli_opt opt, const char *value)
{
    fprintf(stderr, " %s ", cli_opt_name(opt));
    shell_word(stderr, value);
}

/* This command line with `opt value` in place of opt and without the
 * options in drop, on stderr. */
static void continue_command(const cli_ctx *ctx, cli_opt opt, const char *value, uint64_t drop)
{
    fputs("acp-storage", stderr);
    int words_only = 0;
    for (int i = 1; i < ctx->argc; i++) {
        const char *a = ctx->argv[i];
        int takes_next = 0;
        int o = words_only ? -1 : cli_arg_option(a, &takes_next);
        if (!words_only && strcmp(a, "--") == 0) {
            /* After "--" the option would be read as a word. */
            option_with_value(opt, value);
            words_only = 1;
        }
        if (o >= 0 && (o == (int)opt || (drop & OPT_BIT(o)))) {
            i += takes_next;
            continue;
        }
        fputc(' ', stderr);
        shell_word(stderr, a);
        i += takes_next;
        if (takes_next && i < ctx->argc) {
            fputc(' ', stderr);
            shell_word(stderr, ctx->argv[i]);
        }
    }
    if (!words_only)
        option_with_value(opt, value);
    fputc('\n', stderr);
}

void list_end(cli_list *l, const int64_t *total, const char *next_cursor, cli_opt more_option,
              uint64_t drop)
{
    if (l->ctx->format == FORMAT_JSON) {
        list_start(l);
        fputc(']', stdout);
        if (l->kind == KIND_RUN) {
            fputs(",\"versions\":", stdout);
            if (l->n_versions == SIZE_MAX) {
                fputs("null", stdout);
            } else {
                fputc('[', stdout);
                for (size_t k = 0; k < l->n_versions; k++)
                    fprintf(stdout, "%s%lld", k ? "," : "", (long long)l->versions[k]);
                fputc(']', stdout);
            }
            free(l->versions);
            l->versions = NULL;
        }
        if (total) {
            if (*total >= 0)
                fprintf(stdout, ",\"total\":%lld", (long long)*total);
            else
                fputs(",\"total\":null", stdout);
        }
        fputs(",\"next_cursor\":", stdout);
        out_str(stdout, next_cursor);
        fputs("}\n", stdout);
        return;
    }
    /* Plain output keeps stdout to the list: the count and where the list
     * goes on are notes for a person, on stderr (--json has them on
     * stdout). */
    if (total && *total >= 0)
        fprintf(stderr, "total: %lld\n", (long long)*total);
    if (next_cursor) {
        fflush(stdout);
        /* A backend gives a cursor whenever a page is full: the next page
         * may still be empty. */
        fprintf(stderr, "acp-storage: stopped at a full page (%zu %s); more may follow. "
                        "Continue with:\n  ",
                l->count, l->array);
        continue_command(l->ctx, more_option, next_cursor, drop);
    }
}
