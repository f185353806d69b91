/* SPDX-License-Identifier: MIT */
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

/* {"schema":1,"<key>":"<id>"[,"version":N]} or the id alone.  version < 0:
 * none (sessions). */
static void print_id(const cli_ctx *ctx, const char *key, const char *id, int64_t version)
{
    if (ctx->json) {
        fprintf(stdout, "{\"schema\":1,\"%s\":", key);
        out_str(stdout, id);
        if (version >= 0)
            fprintf(stdout, ",\"version\":%lld", (long long)version);
        fputs("}\n", stdout);
    } else {
        fprintf(stdout, "%s\n", id);
    }
}

/* {"schema":1,"<key>":<doc>[,"version":N]} or the document alone (as
 * stored: the version stays outside it). */
static void print_doc(const cli_ctx *ctx, const char *key, const char *doc, size_t len,
                      int64_t version)
{
    if (ctx->json)
        fprintf(stdout, "{\"schema\":1,\"%s\":", key);
    out_doc(stdout, doc, len);
    if (ctx->json && version >= 0)
        fprintf(stdout, ",\"version\":%lld", (long long)version);
    fputs(ctx->json ? "}\n" : "\n", stdout);
}

/* A document built from option values was refused: the command line is
 * wrong, as with any other bad option value (out of memory is not). */
static int option_refused(const cli_ctx *ctx, const acp_error *err)
{
    if (err->code == ACP_NOMEM)
        return cli_report(err);
    return cli_usage_error(ctx, "%s", err->message);
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
/* save, get and delete: one implementation for runs and sessions       */
/* ------------------------------------------------------------------ */

/* What differs between runs and sessions. */
typedef struct record_ops {
    const char *noun;     /* "run" */
    const char *id_key;   /* "run_id", in --json output */
    const char *flags;    /* the option that builds a document: "--agent NAME" */
    int (*by_flags)(const cli_args *a);
    int (*build)(const cli_ctx *ctx, input_doc *out);
    /* Check the document as a save will and copy out its id (free). */
    acp_status (*check)(const char *doc, size_t len, char **id, acp_error *err);
    /* Save (and report the version: -1 for sessions), as the command line
     * asks (run save --if-version, --if-absent). */
    acp_status (*save)(const cli_ctx *ctx, acp_store *store, const char *doc, size_t len,
                       int64_t *version, acp_error *err);
    acp_status (*get)(acp_store *store, const char *id, char **doc, size_t *len,
                      int64_t *version, acp_error *err);
    acp_status (*del)(acp_store *store, const char *id, acp_error *err);
} record_ops;

static acp_status copy_id(const char *id, char **out, acp_error *err)
{
    *out = strdup(id);
    if (*out)
        return ACP_OK;
    err->code = ACP_NOMEM;
    snprintf(err->message, sizeof err->message, "out of memory");
    return ACP_NOMEM;
}

static int record_save(cli_ctx *ctx, const record_ops *ops)
{
    const cli_args *a = &ctx->args;
    if (a->n_pos && ops->by_flags(a))
        return cli_usage_error(ctx, "give either a %s document or %s and its options, not both",
                               ops->noun, ops->flags);
    if (!a->n_pos && !ops->by_flags(a))
        return cli_usage_error(ctx, "give a %s document (FILE, or - for standard input) or %s",
                               ops->noun, ops->flags);

    input_doc doc = {0};
    int rc = a->n_pos ? cli_read_input(ctx, a->pos[0], &doc.text, &doc.len) : ops->build(ctx, &doc);
    if (rc)
        return rc;

    /* Check before opening the store: it validates exactly as a save does
     * and yields the id to print. */
    acp_error err;
    char *id = NULL;
    acp_store *store = NULL;
    if (ops->check(doc.text, doc.len, &id, &err) != ACP_OK)
        rc = cli_report(&err);
    if (!rc)
        rc = cli_open_store(ctx, &store, NULL);
    int64_t version = -1;
    if (!rc && ops->save(ctx, store, doc.text, doc.len, &version, &err) != ACP_OK)
        rc = cli_report(&err);
    if (!rc)
        print_id(ctx, ops->id_key, id, version);
    acp_store_close(store);
    free(id);
    input_doc_free(&doc);
    return rc;
}

static int record_get(cli_ctx *ctx, const record_ops *ops)
{
    acp_store *store;
    int rc = cli_open_store(ctx, &store, NULL);
    if (rc)
        return rc;
    acp_error err;
    char *doc;
    size_t len;
    int64_t version = -1;
    if (ops->get(store, ctx->args.pos[0], &doc, &len, &version, &err) != ACP_OK) {
        rc = cli_report(&err);
    } else {
        print_doc(ctx, ops->noun, doc, len, version);
        acp_free(doc);
    }
    acp_store_close(store);
    return rc;
}

static int record_delete(cli_ctx *ctx, const record_ops *ops)
{
    acp_store *store;
    int rc = cli_open_store(ctx, &store, NULL);
    if (rc)
        return rc;
    acp_error err;
    if (ops->del(store, ctx->args.pos[0], &err) != ACP_OK)
        rc = cli_report(&err);
    else
        print_deleted(ctx, ops->id_key, ctx->args.pos[0]);
    acp_store_close(store);
    return rc;
}

/* ------------------------------------------------------------------ */
/* lists: one page walker for runs, sessions and events                 */
/* ------------------------------------------------------------------ */

/* Fetch one page: the first when cursor is NULL, else the page after the
 * one whose next cursor it is. */
typedef acp_status (*fetch_fn)(void *state, acp_store *store, const char *cursor,
                               acp_page **page, acp_error *err);

typedef struct walk_spec {
    cli_kind kind;
    const char *run_id;  /* events: the run */
    fetch_fn fetch;
    void *state;
    int all;             /* --all: every page */
    int has_total;       /* runs: --total, "total" in --json */
    cli_opt more_option; /* continues the list */
    uint64_t drop;       /* options that applied to the first page only */
} walk_spec;

static int walk(cli_ctx *ctx, const walk_spec *w)
{
    acp_store *store = NULL;
    int rc = cli_open_store(ctx, &store, NULL);
    if (rc)
        return rc;

    cli_list out;
    int64_t total = -1;
    char *cursor = NULL; /* the next page's cursor, copied out of its page */
    list_begin(&out, ctx, w->kind, w->run_id);
    for (int first = 1;; first = 0) {
        acp_error err;
        acp_page *page;
        if (w->fetch(w->state, store, first ? NULL : cursor, &page, &err) != ACP_OK) {
            rc = cli_report(&err);
            break;
        }
        if (first && w->has_total)
            total = acp_page_total(page);
        size_t n = acp_page_count(page);
        for (size_t i = 0; i < n; i++)
            list_item(&out, page, i);
        const char *next = acp_page_next_cursor(page);
        free(cursor);
        cursor = next ? strdup(next) : NULL;
        acp_page_free(page);
        if (next && !cursor) {
            rc = cli_fail(ACP_NOMEM, "out of memory");
            break;
        }
        if (!w->all || !cursor || n == 0)
            break;
        cli_progress(ctx, "%s: %zu", out.array, out.count);
    }
    cli_progress(ctx, NULL);
    /* After a failure part of the list may be out; the exit status says
     * it is incomplete. */
    if (!rc)
        list_end(&out, w->has_total ? &total : NULL, w->all ? NULL : cursor, w->more_option,
                 w->drop);
    free(cursor);
    acp_store_close(store);
    return rc;
}

/* Page size of --all when --limit is not given. */
#define ALL_PAGE_SIZE 100
/* The largest page any list returns. */
#define MAX_PAGE 1000

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
        return option_refused(ctx, &err);
    out->from_library = 1;
    return CLI_EXIT_OK;
}

static int run_by_flags(const cli_args *a)
{
    return a->value[OPT_AGENT] || a->value[OPT_SESSION] || a->value[OPT_STATUS] || a->n_list;
}

static acp_status run_check(const char *doc, size_t len, char **id, acp_error *err)
{
    acp_run *run;
    acp_status st = acp_run_parse(doc, len, &run, err);
    if (st == ACP_OK) {
        st = copy_id(acp_run_id(run), id, err);
        acp_run_free(run);
    }
    return st;
}

/* run save [--if-version N | --if-absent] (checked by cmd_run_save). */
static acp_status run_save(const cli_ctx *ctx, acp_store *store, const char *doc, size_t len,
                           int64_t *version, acp_error *err)
{
    const char *expect = ctx->args.value[OPT_IF_VERSION];
    if (expect)
        return acp_run_save_if(store, doc, len, strtoll(expect, NULL, 10), version, err);
    if (ctx->args.value[OPT_IF_ABSENT])
        return acp_run_save_if(store, doc, len, ACP_VERSION_ABSENT, version, err);
    return acp_run_save_versioned(store, doc, len, version, err);
}

static const record_ops run_ops = {"run", "run_id", "--agent NAME", run_by_flags, build_run,
                                   run_check, run_save, acp_run_get_versioned, acp_run_delete};

int cmd_run_save(cli_ctx *ctx)
{
    if (!ctx->args.value[OPT_AGENT] && run_by_flags(&ctx->args))
        return cli_usage_error(ctx, "a run built from options needs --agent NAME");
    if (ctx->args.value[OPT_IF_VERSION] && ctx->args.value[OPT_IF_ABSENT])
        return cli_usage_error(ctx, "give --if-version N or --if-absent, not both");
    int64_t expect;
    int rc = ctx->args.value[OPT_IF_VERSION]
                 ? cli_opt_range(ctx, OPT_IF_VERSION, 1, ACP_VERSION_MAX, &expect)
                 : 0;
    return rc ? rc : record_save(ctx, &run_ops);
}

int cmd_run_get(cli_ctx *ctx)
{
    return record_get(ctx, &run_ops);
}

int cmd_run_delete(cli_ctx *ctx)
{
    return record_delete(ctx, &run_ops);
}

static acp_status run_fetch(void *state, acp_store *store, const char *cursor, acp_page **page,
                            acp_error *err)
{
    acp_run_filter *f = state;
    if (cursor) {
        /* Later pages continue from the cursor: the offset and the count
         * applied to the first page only. */
        f->cursor = cursor;
        f->offset = 0;
        f->want_total = 0;
    }
    return acp_run_list(store, f, page, err);
}

int cmd_run_list(cli_ctx *ctx)
{
    const cli_args *a = &ctx->args;
    int all = a->value[OPT_ALL] != NULL;
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.agent_name = a->value[OPT_AGENT];
    f.session_id = a->value[OPT_SESSION];
    f.cursor = a->value[OPT_CURSOR];
    f.want_total = a->value[OPT_TOTAL] != NULL;
    f.status = a->value[OPT_STATUS];
    if (all)
        f.limit = ALL_PAGE_SIZE;
    int rc = cli_opt_range(ctx, OPT_LIMIT, 0, MAX_PAGE, &f.limit);
    if (!rc)
        rc = cli_opt_statuses(ctx, OPT_STATUS);
    if (!rc)
        rc = cli_opt_time(ctx, OPT_SINCE, &f.created_since_us);
    if (!rc)
        rc = cli_opt_time(ctx, OPT_UNTIL, &f.created_until_us);
    if (!rc)
        rc = cli_opt_range(ctx, OPT_OFFSET, 0, INT64_MAX, &f.offset);
    if (rc)
        return rc;
    walk_spec w = {KIND_RUN, NULL, run_fetch, &f, all, 1, OPT_CURSOR,
                   OPT_BIT(OPT_OFFSET) | OPT_BIT(OPT_TOTAL)};
    return walk(ctx, &w);
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
        return option_refused(ctx, &err);
    out->from_library = 1;
    return CLI_EXIT_OK;
}

static int session_by_flags(const cli_args *a)
{
    return a->value[OPT_ID] || a->value[OPT_STATE];
}

static acp_status session_check(const char *doc, size_t len, char **id, acp_error *err)
{
    acp_session *s;
    acp_status st = acp_session_parse(doc, len, &s, err);
    if (st == ACP_OK) {
        st = copy_id(acp_session_id(s), id, err);
        acp_session_free(s);
    }
    return st;
}

/* Sessions have no versions: *version stays -1. */
static acp_status session_save(const cli_ctx *ctx, acp_store *store, const char *doc, size_t len,
                               int64_t *version, acp_error *err)
{
    (void)ctx;
    (void)version;
    return acp_session_save(store, doc, len, err);
}

static acp_status session_get(acp_store *store, const char *id, char **doc, size_t *len,
                              int64_t *version, acp_error *err)
{
    (void)version;
    return acp_session_get(store, id, doc, len, err);
}

static const record_ops session_ops = {"session",        "session_id",  "--id ID",
                                       session_by_flags, build_session, session_check,
                                       session_save,     session_get,   acp_session_delete};

int cmd_session_save(cli_ctx *ctx)
{
    if (!ctx->args.value[OPT_ID] && session_by_flags(&ctx->args))
        return cli_usage_error(ctx, "a session built from options needs --id ID");
    return record_save(ctx, &session_ops);
}

int cmd_session_get(cli_ctx *ctx)
{
    return record_get(ctx, &session_ops);
}

int cmd_session_delete(cli_ctx *ctx)
{
    return record_delete(ctx, &session_ops);
}

typedef struct session_page {
    const char *after;
    int64_t limit;
} session_page;

static acp_status session_fetch(void *state, acp_store *store, const char *cursor,
                                acp_page **page, acp_error *err)
{
    session_page *p = state;
    if (cursor)
        p->after = cursor;
    return acp_session_list(store, p->after, p->limit, page, err);
}

int cmd_session_list(cli_ctx *ctx)
{
    session_page p = {ctx->args.value[OPT_AFTER], ALL_PAGE_SIZE};
    int rc = cli_opt_range(ctx, OPT_LIMIT, 1, MAX_PAGE, &p.limit);
    if (rc)
        return rc;
    walk_spec w = {KIND_SESSION, NULL, session_fetch, &p, ctx->args.value[OPT_ALL] != NULL, 0,
                   OPT_AFTER, 0};
    return walk(ctx, &w);
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
    if (fclose(f) != 0 || !known) {
        free(*json);
        *json = NULL;
        return known ? cli_fail(ACP_NOMEM, "out of memory") : CLI_EXIT_USAGE;
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
        return option_refused(ctx, &err);
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
        if (!doc.text)
            return cli_fail(ACP_NOMEM, "out of memory");
        doc.len = strlen(doc.text);
        rc = CLI_EXIT_OK;
    }
    if (rc) {
        input_doc_free(&doc); /* nothing to free: for the analysers */
        return rc;
    }

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

typedef struct event_page {
    const char *run_id;
    acp_event_filter f;
} event_page;

static acp_status event_fetch(void *state, acp_store *store, const char *cursor,
                              acp_page **page, acp_error *err)
{
    event_page *p = state;
    if (cursor) {
        /* The next page starts after the last sequence seen. */
        p->f.after_seq = strtoll(cursor, NULL, 10);
        p->f.offset = 0;
    }
    return acp_event_list(store, p->run_id, &p->f, page, err);
}

int cmd_event_list(cli_ctx *ctx)
{
    event_page p = {ctx->args.pos[0], ACP_EVENT_FILTER_INIT};
    int rc = cli_opt_range(ctx, OPT_LIMIT, 0, MAX_PAGE, &p.f.limit);
    if (!rc)
        rc = cli_opt_range(ctx, OPT_OFFSET, 0, INT64_MAX, &p.f.offset);
    if (!rc)
        rc = cli_opt_range(ctx, OPT_AFTER, 0, INT64_MAX, &p.f.after_seq);
    if (rc)
        return rc;
    if (ctx->args.value[OPT_FOLLOW]) {
        if (ctx->args.value[OPT_OFFSET] || ctx->args.value[OPT_ALL])
            return cli_usage_error(ctx, "--follow continues after --after SEQ; it takes no "
                                        "--offset or --all");
        return cli_event_follow(ctx, p.run_id, p.f.after_seq);
    }
    walk_spec w = {KIND_EVENT, p.run_id, event_fetch, &p, ctx->args.value[OPT_ALL] != NULL, 0,
                   OPT_AFTER, OPT_BIT(OPT_OFFSET)};
    return walk(ctx, &w);
}
