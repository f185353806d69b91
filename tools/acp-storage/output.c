/*
 * output.c - how the command speaks: exit codes, error lines on stderr,
 * JSON text on stdout, progress on a terminal.
 */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <stdarg.h>
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
    default:
        return CLI_EXIT_FAILURE;
    }
}

int cli_report(const acp_error *err)
{
    const char *msg = err->message[0] ? err->message : acp_status_describe(err->code);
    fprintf(stderr, "acp-storage: %s: %s\n", acp_status_name(err->code), msg);
    return cli_exit_code(err->code);
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
        fprintf(stderr, "acp-storage: IO: cannot write the output: %s\n",
                e ? strerror(e) : "write error");
        return code ? code : CLI_EXIT_FAILURE;
    }
    return code;
}

void list_begin(cli_list *l, const cli_ctx *ctx, const char *array, const char *run_id)
{
    l->ctx = ctx;
    l->array = array;
    l->run_id = run_id;
    l->count = 0;
    l->started = 0;
}

/* The --json header goes out with the first item (or the end), so that a
 * list whose first page fails leaves stdout empty. */
static void list_start(cli_list *l)
{
    if (l->started || !l->ctx->json)
        return;
    l->started = 1;
    fputs("{\"schema\":1,", stdout);
    if (l->run_id) {
        fputs("\"run_id\":", stdout);
        out_str(stdout, l->run_id);
        fputc(',', stdout);
    }
    fprintf(stdout, "\"%s\":[", l->array);
}

void list_doc(cli_list *l, const char *doc, size_t len)
{
    /* stdout may be the same terminal as the progress line. */
    cli_progress(l->ctx, NULL);
    list_start(l);
    if (l->ctx->json && l->count)
        fputc(',', stdout);
    out_doc(stdout, doc, len);
    if (!l->ctx->json)
        fputc('\n', stdout);
    l->count++;
}

void list_event(cli_list *l, const char *doc, size_t len, int64_t seq, int64_t stored_us)
{
    if (!l->ctx->json) {
        list_doc(l, doc, len);
        return;
    }
    cli_progress(l->ctx, NULL);
    list_start(l);
    char when[ACP_TIME_BUFSZ];
    acp_time_format(stored_us, when);
    fprintf(stdout, "%s{\"seq\":%lld,\"stored_at\":\"%s\",\"event\":", l->count ? "," : "",
            (long long)seq, when);
    out_doc(stdout, doc, len);
    fputc('}', stdout);
    l->count++;
}

void list_end(cli_list *l, const int64_t *total, const char *next_cursor, const char *more_hint)
{
    if (l->ctx->json) {
        list_start(l);
        fputc(']', stdout);
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
    /* Plain output keeps stdout to documents: the counts are notes for a
     * person, on stderr (--json has them on stdout). */
    if (total && *total >= 0)
        fprintf(stderr, "total: %lld\n", (long long)*total);
    if (next_cursor && more_hint && l->ctx->stderr_tty)
        fprintf(stderr, "more: %s %s\n", more_hint, next_cursor);
}
