/* SPDX-License-Identifier: MIT */
/*
 * dump.c - acp_store_export() and acp_store_import(): the dump format of
 * docs/dump-format.md, written from a store walk and read into the store
 * sink of copy.c.  Documents are embedded as their raw stored text; a
 * record ends at its closing brace (a document may hold line breaks), so
 * the reader tracks nesting instead of splitting lines.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copy.h"

#define DUMP_VERSION 1

/* ---- writing ---- */

typedef struct writer {
    FILE *f;
    acp__copy *c;
} writer;

/* id as a JSON string. */
static void put_string(FILE *f, const char *s)
{
    putc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            putc(*p, f);
    }
    putc('"', f);
}

static acp_status written(writer *w, acp_error *err)
{
    return ferror(w->f) ? acp__error(err, ACP_IO, "cannot write the dump") : ACP_OK;
}

static acp_status w_begin(void *self, const char *backend, int64_t sessions, int64_t runs,
                          acp_error *err)
{
    writer *w = self;
    char now[ACP_TIME_BUFSZ];
    acp_time_format(acp_time_now_us(), now);
    fprintf(w->f, "{\"acp_storage_dump\":%d,\"source\":", DUMP_VERSION);
    put_string(w->f, backend);
    fprintf(w->f, ",\"created_at\":\"%s\",\"counts\":{\"sessions\":%" PRId64 ",\"runs\":%" PRId64
            "}}\n", now, sessions, runs);
    return written(w, err);
}

static acp_status w_doc(writer *w, const char *doc, size_t len, acp_error *err)
{
    fputs(",\"doc\":", w->f);
    fwrite(doc, 1, len, w->f);
    fputs("}\n", w->f);
    return written(w, err);
}

static acp_status w_session(void *self, const char *id, const char *doc, size_t len,
                            acp_error *err)
{
    writer *w = self;
    fputs("{\"session\":", w->f);
    put_string(w->f, id);
    return w_doc(w, doc, len, err);
}

static acp_status w_run(void *self, const char *id, int64_t created_us, const char *doc,
                        size_t len, acp_error *err)
{
    writer *w = self;
    fputs("{\"run\":", w->f);
    put_string(w->f, id);
    fprintf(w->f, ",\"created_us\":%" PRId64, created_us);
    return w_doc(w, doc, len, err);
}

static acp_status w_event(void *self, int64_t seq, int64_t stored_us, const char *doc,
                          size_t len, acp_error *err)
{
    writer *w = self;
    fprintf(w->f, "{\"seq\":%" PRId64 ",\"stored_us\":%" PRId64, seq, stored_us);
    return w_doc(w, doc, len, err);
}

static acp_status w_end(void *self, acp_error *err)
{
    writer *w = self;
    /* The walk counts a run once its events are written: all are by now. */
    fprintf(w->f, "{\"end\":{\"sessions\":%" PRId64 ",\"runs\":%" PRId64 ",\"events\":%" PRId64
            "}}\n", w->c->rep.sessions, w->c->rep.runs, w->c->rep.events);
    if (fflush(w->f) != 0)
        return acp__error(err, ACP_IO, "cannot write the dump");
    return written(w, err);
}

ACP_API acp_status acp_store_export(acp_store *src, FILE *out, acp_copy_fn fn, void *ctx,
                                    acp_copy_report *report, acp_error *err)
{
    if (!src || !out)
        return acp__error(err, ACP_INVALID, "acp_store_export: store and file must not be NULL");
    acp__copy c;
    acp__copy_init(&c, fn, ctx);
    writer w = {out, &c};
    acp__sink k = {&w, w_begin, w_session, w_run, w_event, w_end};
    return acp__copy_outcome(&c, acp__walk_store(src, &k, &c, err), report, err);
}

/* ---- reading ---- */

typedef struct reader {
    FILE *f;
    char *buf;
    size_t len, cap, max;
    int64_t line; /* of the record's first byte */
    int64_t at_line;
} reader;

/* The next record (a top-level object) into r->buf; 0 at the end. */
static acp_status read_record(reader *r, int *got, acp_error *err)
{
    int ch;
    *got = 0;
    while ((ch = getc(r->f)) != EOF && (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'))
        if (ch == '\n')
            r->at_line++;
    if (ch == EOF)
        return ferror(r->f) ? acp__error(err, ACP_IO, "cannot read the dump") : ACP_OK;
    r->line = r->at_line;
    if (ch != '{')
        return acp__error(err, ACP_CORRUPT, "dump line %" PRId64 ": a record must be a JSON "
                          "object", r->line);
    int depth = 0, in_str = 0, esc = 0;
    r->len = 0;
    do {
        if (r->len + 1 >= r->cap) {
            if (r->cap >= r->max)
                return acp__error(err, ACP_CORRUPT, "dump line %" PRId64 ": record larger "
                                  "than the target's document limit", r->line);
            size_t cap = r->cap ? r->cap * 2 : 65536;
            char *b = realloc(r->buf, cap);
            if (!b)
                return acp__error(err, ACP_NOMEM, "out of memory reading the dump");
            r->buf = b;
            r->cap = cap;
        }
        r->buf[r->len++] = (char)ch;
        if (ch == '\n')
            r->at_line++;
        if (in_str) {
            if (esc)
                esc = 0;
            else if (ch == '\\')
                esc = 1;
            else if (ch == '"')
                in_str = 0;
        } else if (ch == '"') {
            in_str = 1;
        } else if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            depth--;
        }
    } while (depth > 0 && (ch = getc(r->f)) != EOF);
    if (depth > 0)
        return ferror(r->f) ? acp__error(err, ACP_IO, "cannot read the dump")
                            : acp__error(err, ACP_CORRUPT, "dump line %" PRId64 ": truncated "
                                         "record (the dump was cut short)", r->line);
    r->buf[r->len] = '\0';
    *got = 1;
    return ACP_OK;
}

enum { M_DUMP, M_SESSION, M_RUN, M_SEQ, M_DOC, M_CREATED, M_STORED, M_END, M_N };
static const char *const members[] = {"acp_storage_dump", "session", "run", "seq", "doc",
                                      "created_us", "stored_us", "end", NULL};

static int has(const acp__json_scan *s, int m)
{
    return s->got[m].count == 1;
}

/* An integer member. */
static int number(const acp__json_scan *s, int m, int64_t *v)
{
    char tmp[32];
    size_t n = s->got[m].n;
    if (!has(s, m) || n == 0 || n >= sizeof tmp)
        return 0;
    memcpy(tmp, s->got[m].p, n);
    tmp[n] = '\0';
    char *end;
    long long x = strtoll(tmp, &end, 10);
    *v = x;
    return *end == '\0';
}

/* A string member, decoded, to free; NULL when absent or not a string. */
static char *string(const acp__json_scan *s, int m)
{
    if (!has(s, m) || s->got[m].n < 2 || s->got[m].p[0] != '"')
        return NULL;
    char *out = malloc(s->got[m].n + 1);
    if (out)
        acp__json_decode_string(s->got[m].p, s->got[m].n, out);
    return out;
}

/* The header and end records are small: read them as trees. */
static int64_t tree_count(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
}

static acp_status bad(const reader *r, acp_error *err, const char *why)
{
    return acp__error(err, ACP_CORRUPT, "dump line %" PRId64 ": %s", r->line, why);
}

static acp_status header(reader *r, const acp__sink *k, acp_error *err)
{
    cJSON *t = cJSON_ParseWithLength(r->buf, r->len);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, "acp_storage_dump");
    acp_status st;
    if (!cJSON_IsNumber(v))
        st = bad(r, err, "not an acp-storage dump (no acp_storage_dump header)");
    else if (v->valueint != DUMP_VERSION)
        st = acp__error(err, ACP_CORRUPT, "dump format version %d: this library reads "
                        "version %d", v->valueint, DUMP_VERSION);
    else {
        const cJSON *counts = cJSON_GetObjectItemCaseSensitive(t, "counts");
        const cJSON *src = cJSON_GetObjectItemCaseSensitive(t, "source");
        st = k->begin(k->self, cJSON_IsString(src) ? src->valuestring : "",
                      tree_count(counts, "sessions"), tree_count(counts, "runs"), err);
    }
    cJSON_Delete(t);
    return st;
}

static acp_status trailer(reader *r, const acp__copy *c, acp_error *err)
{
    cJSON *t = cJSON_ParseWithLength(r->buf, r->len);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(t, "end");
    int ok = tree_count(e, "sessions") == c->rep.sessions && tree_count(e, "runs") == c->rep.runs &&
             tree_count(e, "events") == c->rep.events;
    cJSON_Delete(t);
    return ok ? ACP_OK : bad(r, err, "the end record's counts differ from the records read");
}

/* One item record into the sink. */
static acp_status item(reader *r, const acp__json_scan *s, const acp__sink *k, acp__copy *c,
                       int *in_run, acp_error *err)
{
    int64_t a, b;
    const char *doc = s->got[M_DOC].p;
    size_t len = s->got[M_DOC].n;
    if (!has(s, M_DOC))
        return bad(r, err, "a record without its doc");
    if (has(s, M_SEQ)) {
        if (!*in_run)
            return bad(r, err, "an event before any run");
        if (!number(s, M_SEQ, &a) || !number(s, M_STORED, &b))
            return bad(r, err, "an event needs integer seq and stored_us");
        c->rep.events++;
        return k->event(k->self, a, b, doc, len, err);
    }
    int run = has(s, M_RUN);
    if (!run && !has(s, M_SESSION))
        return bad(r, err, "unknown record (not a session, run, event or end)");
    char *id = string(s, run ? M_RUN : M_SESSION);
    acp_status st;
    if (!id)
        st = bad(r, err, "the id must be a string");
    else if (!run)
        st = k->session(k->self, id, doc, len, err);
    else if (!number(s, M_CREATED, &a))
        st = bad(r, err, "a run needs an integer created_us");
    else {
        /* The run before this one is complete: count it. */
        if (*in_run) {
            c->rep.runs++;
            st = acp__copy_progress(c, err);
            if (st != ACP_OK) {
                free(id);
                return st;
            }
        }
        *in_run = 1;
        st = k->run(k->self, id, a, doc, len, err);
    }
    if (!run && st == ACP_OK)
        c->rep.sessions++;
    free(id);
    return st;
}

static acp_status read_dump(reader *r, const acp__sink *k, acp__copy *c, acp_error *err)
{
    int got, in_run = 0;
    acp_status st = read_record(r, &got, err);
    if (st != ACP_OK)
        return st;
    if (!got)
        return acp__error(err, ACP_CORRUPT, "empty dump (no header)");
    if ((st = header(r, k, err)) != ACP_OK)
        return st;
    for (;;) {
        if ((st = read_record(r, &got, err)) != ACP_OK)
            return st;
        if (!got)
            return acp__error(err, ACP_CORRUPT, "dump line %" PRId64 ": the dump ends without "
                              "its end record (cut short?)", r->at_line);
        acp__json_scan s = {.want = members};
        if (!acp__json_scan_text(&s, r->buf, r->len))
            return acp__error(err, s.nomem ? ACP_NOMEM : ACP_CORRUPT,
                              "dump line %" PRId64 ": %s", r->line, s.why);
        if (has(&s, M_END)) {
            if (in_run)
                c->rep.runs++;
            if ((st = trailer(r, c, err)) == ACP_OK && (st = k->end(k->self, err)) == ACP_OK)
                st = acp__copy_progress(c, err);
            return st;
        }
        if ((st = item(r, &s, k, c, &in_run, err)) != ACP_OK)
            return st;
    }
}

ACP_API acp_status acp_store_import(FILE *in, acp_store *dst, unsigned flags, acp_copy_fn fn,
                                    void *ctx, acp_copy_report *report, acp_error *err)
{
    if (!in || !dst)
        return acp__error(err, ACP_INVALID, "acp_store_import: file and store must not be NULL");
    if (flags & ~(ACP_COPY_RESUME | ACP_COPY_REPLACE))
        return acp__error(err, ACP_INVALID, "acp_store_import: unknown flags 0x%x", flags);
    acp__copy c;
    acp__copy_init(&c, fn, ctx);
    acp__sink k;
    acp_status st = acp__store_sink_new(dst, flags, &c, &k, err);
    if (st == ACP_OK) {
        /* Room for the largest document and the record around it. */
        reader r = {.f = in, .max = acp_store_max_document_bytes(dst) + 65536, .at_line = 1};
        st = read_dump(&r, &k, &c, err);
        free(r.buf);
        acp__store_sink_free(&k);
    }
    return acp__copy_outcome(&c, st, report, err);
}
