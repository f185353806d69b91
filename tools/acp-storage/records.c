/*
 * records.c - the data commands: run, session and event.
 *
 * Each command checks its arguments and builds its document before it
 * opens the store, so a mistake on the command line touches nothing.
 */
#define _XOPEN_SOURCE 700

#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* A document that came either from the library (acp_free) or from
 * cli_read_input (free). */
typedef struct input_doc {
    char *text;
    size_t len;
    int from_library;
} input_doc;

static void input_doc_free(input_doc *d)
{
    if (d->from_library)
        acp_free(d->text);
    else
        free(d->text);
    d->text = NULL;
}

/* {"schema":1,"<key>":"<id>"} or the id alone. */
static void print_id(const cli_ctx *ctx, const char *key, const char *id)
{
    if (ctx->json) {
        fprintf(stdout, "{\"schema\":1,\"%s\":", key);
        out_str(stdout, id);
        fputs("}\n", stdout);
    } else {
        fprintf(stdout, "%s\n", id);
    }
}

/* {"schema":1,"<key>":<doc>} or the document alone. */
static void print_doc(const cli_ctx *ctx, const char *key, const char *doc, size_t len)
{
    if (ctx->json)
        fprintf(stdout, "{\"schema\":1,\"%s\":", key);
    out_doc(stdout, doc, len);
    fputs(ctx->json ? "}\n" : "\n", stdout);
}

static void print_deleted(const cli_ctx *ctx, const char *key, const char *id)
{
    /* Plain mode says nothing on success, as rm does. */
    if (ctx->json) {
        fprintf(stdout, "{\"schema\":1,\"%s\":", key);
        out_str(stdout, id);
        fputs(",\"deleted\":true}\n", stdout);
    }
}

/* ------------------------------------------------------------------ */
/* runs                                                                 */
/* ------------------------------------------------------------------ */

/* run save --agent NAME [--session ID] [--status S] [--output TEXT]... */
static int build_run(const cli_ctx *ctx, input_doc *out)
{
    const cli_args *a = &ctx->args;
    acp_error err;
    acp_run *run = NULL;
    acp_message *msg = NULL;
    acp_status st = acp_run_new(a->value[OPT_AGENT], &run, &err);
    if (st == ACP_OK && a->value[OPT_SESSION])
        st = acp_run_set_session_id(run, a->value[OPT_SESSION], &err);
    if (st == ACP_OK && a->n_list) {
        /* ACP names the role of an agent's output "agent/<agent name>". */
        size_t n = strlen(a->value[OPT_AGENT]) + sizeof "agent/";
        char *role = malloc(n);
        if (!role) {
            acp_run_free(run);
            return cli_fail(ACP_NOMEM, "out of memory");
        }
        snprintf(role, n, "agent/%s", a->value[OPT_AGENT]);
        for (size_t i = 0; st == ACP_OK && i < a->n_list; i++) {
            st = acp_message_new(role, &msg, &err);
            if (st == ACP_OK)
                st = acp_message_add_text(msg, a->list[i], &err);
            if (st == ACP_OK)
                st = acp_run_add_output(run, msg, &err);
            acp_message_free(msg);
            msg = NULL;
        }
        free(role);
    }
    /* The status goes last: a terminal one also stamps finished_at. */
    if (st == ACP_OK && a->value[OPT_STATUS])
        st = acp_run_set_status(run, a->value[OPT_STATUS], &err);
    if (st == ACP_OK)
        st = acp_run_to_json(run, &out->text, &out->len, &err);
    acp_run_free(run);
    if (st != ACP_OK)
        return cli_report(&err);
    out->from_library = 1;
    return CLI_EXIT_OK;
}

int cmd_run_save(cli_ctx *ctx)
{
    const cli_args *a = &ctx->args;
    int by_flags = a->value[OPT_AGENT] || a->value[OPT_SESSION] || a->value[OPT_STATUS] ||
                   a->n_list;
    if (a->n_pos && by_flags)
        return cli_usage_error(ctx, "give either a run document or --agent and its flags, not both");
    if (!a->n_pos && !a->value[OPT_AGENT])
        return cli_usage_error(ctx, "give a run document (FILE, or - for standard input) or --agent NAME");

    input_doc doc = {0};
    int rc = a->n_pos ? cli_read_input(ctx, a->pos[0], &doc.text, &doc.len) : build_run(ctx, &doc);
    if (rc)
        return rc;

    /* Parse before opening the store: it validates exactly as a save does
     * and yields the id to print. */
    acp_error err;
    acp_run *run = NULL;
    acp_store *store = NULL;
    if (acp_run_parse(doc.text, doc.len, &run, &err) != ACP_OK)
        rc = cli_report(&err);
    if (!rc)
        rc = cli_open_store(ctx, &store, NULL);
    if (!rc && acp_run_save(store, doc.text, doc.len, &err) != ACP_OK)
        rc = cli_report(&err);
    if (!rc)
        print_id(ctx, "run_id", acp_run_id(run));
    acp_store_close(store);
    acp_run_free(run);
    input_doc_free(&doc);
    return rc;
}

int cmd_run_get(cli_ctx *ctx)
{
    acp_store *store;
    int rc = cli_open_store(ctx, &store, NULL);
    if (rc)
        return rc;
    acp_error err;
    char *doc;
    size_t len;
    if (acp_run_get(store, ctx->args.pos[0], &doc, &len, &err) != ACP_OK) {
        rc = cli_report(&err);
    } else {
        print_doc(ctx, "run", doc, len);
        acp_free(doc);
    }
    acp_store_close(store);
    return rc;
}

int cmd_run_delete(cli_ctx *ctx)
{
    acp_store *store;
    int rc = cli_open_store(ctx, &store, NULL);
    if (rc)
        return rc;
    acp_error err;
    if (acp_run_delete(store, ctx->args.pos[0], &err) != ACP_OK)
        rc = cli_report(&err);
    else
        print_deleted(ctx, "run_id", ctx->args.pos[0]);
    acp_store_close(store);
    return rc;
}

/* Page size of --all when --limit is not given. */
#define ALL_PAGE_SIZE 100

int cmd_run_list(cli_ctx *ctx)
{
    const cli_args *a = &ctx->args;
    int all = a->value[OPT_ALL] != NULL;
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.agent_name = a->value[OPT_AGENT];
    f.session_id = a->value[OPT_SESSION];
    f.cursor = a->value[OPT_CURSOR];
    f.want_total = a->value[OPT_TOTAL] != NULL;
    if (all)
        f.limit = ALL_PAGE_SIZE;
    int rc = cli_opt_int(ctx, OPT_LIMIT, &f.limit);
    if (!rc)
        rc = cli_opt_int(ctx, OPT_OFFSET, &f.offset);
    acp_store *store = NULL;
    if (!rc)
        rc = cli_open_store(ctx, &store, NULL);
    if (rc)
        return rc;

    cli_list out;
    int64_t total = -1;
    char *cursor = NULL; /* the next page's cursor, copied out of its page */
    list_begin(&out, ctx, "runs", NULL);
    for (;;) {
        acp_error err;
        acp_page *page;
        if (acp_run_list(store, &f, &page, &err) != ACP_OK) {
            rc = cli_report(&err);
            break;
        }
        if (f.want_total)
            total = acp_page_total(page);
        size_t n = acp_page_count(page);
        for (size_t i = 0; i < n; i++) {
            size_t len;
            const char *doc = acp_page_json(page, i, &len);
            list_doc(&out, doc, len);
        }
        const char *next = acp_page_next_cursor(page);
        free(cursor);
        cursor = next ? strdup(next) : NULL;
        acp_page_free(page);
        if (next && !cursor) {
            rc = cli_fail(ACP_NOMEM, "out of memory");
            break;
        }
        if (!all || !cursor || n == 0)
            break;
        cli_progress(ctx, "runs: %zu", out.count);
        /* Later pages continue from the cursor: the offset and the count
         * applied to the first page only. */
        f.cursor = cursor;
        f.offset = 0;
        f.want_total = 0;
    }
    cli_progress(ctx, NULL);
    /* After a failure part of the list may be out; the exit status says
     * it is incomplete. */
    if (!rc)
        list_end(&out, &total, all ? NULL : cursor, "--cursor");
    free(cursor);
    acp_store_close(store);
    return rc;
}

/* ------------------------------------------------------------------ */
/* sessions                                                             */
/* ------------------------------------------------------------------ */

/* session save --id ID [--state JSON] */
static int build_session(const cli_ctx *ctx, input_doc *out)
{
    const cli_args *a = &ctx->args;
    acp_error err;
    acp_session *s = NULL;
    acp_status st = acp_session_new(a->value[OPT_ID], &s, &err);
    if (st == ACP_OK && a->value[OPT_STATE])
        st = acp_session_set_state_json(s, a->value[OPT_STATE], ACP_STRLEN, &err);
    if (st == ACP_OK)
        st = acp_session_to_json(s, &out->text, &out->len, &err);
    acp_session_free(s);
    if (st != ACP_OK)
        return cli_report(&err);
    out->from_library = 1;
    return CLI_EXIT_OK;
}

int cmd_session_save(cli_ctx *ctx)
{
    const cli_args *a = &ctx->args;
    if (a->n_pos && (a->value[OPT_ID] || a->value[OPT_STATE]))
        return cli_usage_error(ctx, "give either a session document or --id, not both");
    if (!a->n_pos && !a->value[OPT_ID])
        return cli_usage_error(ctx, "give a session document (FILE, or - for standard input) or --id ID");

    input_doc doc = {0};
    int rc = a->n_pos ? cli_read_input(ctx, a->pos[0], &doc.text, &doc.len) : build_session(ctx, &doc);
    if (rc)
        return rc;

    acp_error err;
    acp_session *s = NULL;
    acp_store *store = NULL;
    if (acp_session_parse(doc.text, doc.len, &s, &err) != ACP_OK)
        rc = cli_report(&err);
    if (!rc)
        rc = cli_open_store(ctx, &store, NULL);
    if (!rc && acp_session_save(store, doc.text, doc.len, &err) != ACP_OK)
        rc = cli_report(&err);
    if (!rc)
        print_id(ctx, "session_id", acp_session_id(s));
    acp_store_close(store);
    acp_session_free(s);
    input_doc_free(&doc);
    return rc;
}

int cmd_session_get(cli_ctx *ctx)
{
    acp_store *store;
    int rc = cli_open_store(ctx, &store, NULL);
    if (rc)
        return rc;
    acp_error err;
    char *doc;
    size_t len;
    if (acp_session_get(store, ctx->args.pos[0], &doc, &len, &err) != ACP_OK) {
        rc = cli_report(&err);
    } else {
        print_doc(ctx, "session", doc, len);
        acp_free(doc);
    }
    acp_store_close(store);
    return rc;
}

int cmd_session_delete(cli_ctx *ctx)
{
    acp_store *store;
    int rc = cli_open_store(ctx, &store, NULL);
    if (rc)
        return rc;
    acp_error err;
    if (acp_session_delete(store, ctx->args.pos[0], &err) != ACP_OK)
        rc = cli_report(&err);
    else
        print_deleted(ctx, "session_id", ctx->args.pos[0]);
    acp_store_close(store);
    return rc;
}

int cmd_session_list(cli_ctx *ctx)
{
    const cli_args *a = &ctx->args;
    int all = a->value[OPT_ALL] != NULL;
    int64_t limit = ALL_PAGE_SIZE;
    int rc = cli_opt_int(ctx, OPT_LIMIT, &limit);
    acp_store *store = NULL;
    if (!rc)
        rc = cli_open_store(ctx, &store, NULL);
    if (rc)
        return rc;

    cli_list out;
    const char *after = a->value[OPT_AFTER];
    char *next_id = NULL;
    list_begin(&out, ctx, "sessions", NULL);
    for (;;) {
        acp_error err;
        acp_page *page;
        if (acp_session_list(store, after, limit, &page, &err) != ACP_OK) {
            rc = cli_report(&err);
            break;
        }
        size_t n = acp_page_count(page);
        for (size_t i = 0; i < n; i++) {
            size_t len;
            const char *doc = acp_page_json(page, i, &len);
            list_doc(&out, doc, len);
        }
        const char *next = acp_page_next_cursor(page);
        free(next_id);
        next_id = next ? strdup(next) : NULL;
        acp_page_free(page);
        if (next && !next_id) {
            rc = cli_fail(ACP_NOMEM, "out of memory");
            break;
        }
        if (!all || !next_id || n == 0)
            break;
        cli_progress(ctx, "sessions: %zu", out.count);
        after = next_id;
    }
    cli_progress(ctx, NULL);
    if (!rc)
        list_end(&out, NULL, all ? NULL : next_id, "--after");
    free(next_id);
    acp_store_close(store);
    return rc;
}

/* ------------------------------------------------------------------ */
/* events                                                               */
/* ------------------------------------------------------------------ */

/* The payload member --text fills, by event type. */
static int text_payload(const char *type, const char *text, const char **key, char **json)
{
    size_t size;
    FILE *f = open_memstream(json, &size);
    if (!f)
        return cli_fail(ACP_NOMEM, "out of memory");
    int known = 1;
    if (strcmp(type, "message.part") == 0) {
        *key = "part";
        fputs("{\"content_type\":\"text/plain\",\"content\":", f);
        out_str(f, text);
        fputs("}", f);
    } else if (strcmp(type, "message.created") == 0 || strcmp(type, "message.completed") == 0) {
        *key = "message";
        fputs("{\"role\":\"agent\",\"parts\":[{\"content_type\":\"text/plain\",\"content\":", f);
        out_str(f, text);
        fputs("}]}", f);
    } else if (strcmp(type, "error") == 0) {
        *key = "error";
        fputs("{\"code\":\"server_error\",\"message\":", f);
        out_str(f, text);
        fputs("}", f);
    } else {
        known = 0;
    }
    if (fclose(f) != 0) {
        free(*json);
        return cli_fail(ACP_NOMEM, "out of memory");
    }
    if (!known) {
        free(*json);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

/* event add RUN_ID --type T [--text TEXT] */
static int build_event(cli_ctx *ctx, input_doc *out)
{
    const cli_args *a = &ctx->args;
    const char *type = a->value[OPT_TYPE];
    const char *key = NULL;
    char *payload = NULL;
    if (a->value[OPT_TEXT]) {
        int rc = text_payload(type, a->value[OPT_TEXT], &key, &payload);
        if (rc == CLI_EXIT_USAGE)
            return cli_usage_error(ctx,
                                   "--text fits message.part, message.created, message.completed "
                                   "and error events; give a '%s' event as JSON",
                                   type);
        if (rc)
            return rc;
    }
    acp_error err;
    acp_event *ev = NULL;
    acp_status st = acp_event_new(type, &ev, &err);
    if (st == ACP_OK && payload)
        st = acp_event_set_json(ev, key, payload, ACP_STRLEN, &err);
    if (st == ACP_OK)
        st = acp_event_to_json(ev, &out->text, &out->len, &err);
    acp_event_free(ev);
    free(payload);
    if (st != ACP_OK)
        return cli_report(&err);
    out->from_library = 1;
    return CLI_EXIT_OK;
}

int cmd_event_add(cli_ctx *ctx)
{
    const cli_args *a = &ctx->args;
    const char *run_id = a->pos[0];
    if (a->value[OPT_TEXT] && !a->value[OPT_TYPE])
        return cli_usage_error(ctx, "--text needs --type");
    if (a->n_pos > 1 && a->value[OPT_TYPE])
        return cli_usage_error(ctx, "give either an event document or --type, not both");
    if (a->n_pos == 1 && !a->value[OPT_TYPE])
        return cli_usage_error(ctx, "give an event document (JSON text, or - for standard input) or --type TYPE");

    input_doc doc = {0};
    int rc;
    if (a->value[OPT_TYPE]) {
        rc = build_event(ctx, &doc);
    } else if (strcmp(a->pos[1], "-") == 0) {
        rc = cli_read_input(ctx, "-", &doc.text, &doc.len);
    } else {
        /* The document is the argument itself. */
        doc.text = strdup(a->pos[1]);
        doc.len = doc.text ? strlen(doc.text) : 0;
        rc = doc.text ? CLI_EXIT_OK : cli_fail(ACP_NOMEM, "out of memory");
    }
    if (rc)
        return rc;

    acp_store *store = NULL;
    acp_error err;
    int64_t seq;
    rc = cli_open_store(ctx, &store, NULL);
    if (!rc && acp_event_add(store, run_id, doc.text, doc.len, &seq, &err) != ACP_OK)
        rc = cli_report(&err);
    if (!rc) {
        if (ctx->json) {
            fputs("{\"schema\":1,\"run_id\":", stdout);
            out_str(stdout, run_id);
            fprintf(stdout, ",\"seq\":%lld}\n", (long long)seq);
        } else {
            fprintf(stdout, "%lld\n", (long long)seq);
        }
    }
    acp_store_close(store);
    input_doc_free(&doc);
    return rc;
}

int cmd_event_list(cli_ctx *ctx)
{
    const cli_args *a = &ctx->args;
    const char *run_id = a->pos[0];
    int all = a->value[OPT_ALL] != NULL;
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    int rc = cli_opt_int(ctx, OPT_LIMIT, &f.limit);
    if (!rc)
        rc = cli_opt_int(ctx, OPT_OFFSET, &f.offset);
    if (!rc)
        rc = cli_opt_int(ctx, OPT_AFTER, &f.after_seq);
    acp_store *store = NULL;
    if (!rc)
        rc = cli_open_store(ctx, &store, NULL);
    if (rc)
        return rc;

    cli_list out;
    char *next_seq = NULL;
    list_begin(&out, ctx, "events", run_id);
    for (;;) {
        acp_error err;
        acp_page *page;
        if (acp_event_list(store, run_id, &f, &page, &err) != ACP_OK) {
            rc = cli_report(&err);
            break;
        }
        size_t n = acp_page_count(page);
        for (size_t i = 0; i < n; i++) {
            size_t len;
            const char *doc = acp_page_json(page, i, &len);
            list_event(&out, doc, len, acp_page_seq(page, i), acp_page_time_us(page, i));
        }
        const char *next = acp_page_next_cursor(page);
        free(next_seq);
        next_seq = next ? strdup(next) : NULL;
        acp_page_free(page);
        if (next && !next_seq) {
            rc = cli_fail(ACP_NOMEM, "out of memory");
            break;
        }
        if (!all || !next_seq || n == 0)
            break;
        cli_progress(ctx, "events: %zu", out.count);
        /* The next page starts after the last sequence seen. */
        f.after_seq = strtoll(next_seq, NULL, 10);
        f.offset = 0;
    }
    cli_progress(ctx, NULL);
    if (!rc)
        list_end(&out, NULL, all ? NULL : next_seq, "--after");
    free(next_seq);
    acp_store_close(store);
    return rc;
}
