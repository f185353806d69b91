/* SPDX-License-Identifier: MIT */
/* bind.c - the calls of acp_storage_bind.h: acp_run_get_buf,
 * acp_session_get_buf and acp_event_add with their outputs kept in a
 * per-thread context, so that a binding passes three or four arguments and
 * gets the result back as the return value. */
#include <stdlib.h>
#include <string.h>

#include "acp_storage_bind.h"
#include "internal.h"

/* The buffer starts big enough for the usual run and is kept between calls
 * up to BIND_KEEP; a bigger one is dropped at the start of the next call. */
#define BIND_START 16384
#define BIND_KEEP ((size_t)1 << 20)

struct acp_bind {
    char *buf;
    size_t cap;
    size_t len;  /* the last get's document length */
    int has_doc; /* the last call was a get that succeeded */
    acp_error err;
};

typedef acp_status (*bind_get_fn)(acp_store *, const char *, char *, size_t, size_t *,
                                  acp_error *);

ACP_API acp_bind *acp_bind_new(void)
{
    acp_bind *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->buf = malloc(BIND_START);
    b->cap = b->buf ? BIND_START : 0;
    return b;
}

ACP_API void acp_bind_free(acp_bind *b)
{
    if (!b)
        return;
    free(b->buf);
    free(b);
}

static void bind_reset(acp_bind *b)
{
    b->err.code = ACP_OK;
    b->err.message[0] = '\0';
    b->len = 0;
    b->has_doc = 0;
}

/* A buffer of at least need bytes, with room for a document that grows a
 * little; the old contents are not kept. */
static acp_status bind_grow(acp_bind *b, size_t need)
{
    size_t cap = need + (need >> 4);
    if (cap < BIND_START)
        cap = BIND_START;
    char *p = malloc(cap);
    if (!p)
        return acp__error(&b->err, ACP_NOMEM, "out of memory for a document of %zu bytes",
                          need - 1);
    free(b->buf);
    b->buf = p;
    b->cap = cap;
    return ACP_OK;
}

static const char *bind_get(acp_store *s, bind_get_fn get, const char *id, acp_bind *b)
{
    if (!b)
        return NULL;
    bind_reset(b);
    if (b->cap > BIND_KEEP) {
        free(b->buf);
        b->buf = NULL;
        b->cap = 0;
    }
    for (;;) {
        size_t n = 0;
        acp_status st = get(s, id, b->buf, b->cap, &n, &b->err);
        if (st == ACP_OK && n >= b->cap)
            st = bind_grow(b, n + 1); /* then again: it may have changed meanwhile */
        else if (st == ACP_OK) {
            b->len = n;
            b->has_doc = 1;
            return memchr(b->buf, '\0', n) ? NULL : b->buf;
        }
        if (st != ACP_OK) {
            b->err.code = st;
            return NULL;
        }
    }
}

ACP_API const char *acp_bind_run_get(acp_store *s, const char *run_id, acp_bind *b)
{
    return bind_get(s, acp_run_get_buf, run_id, b);
}

ACP_API const char *acp_bind_session_get(acp_store *s, const char *session_id, acp_bind *b)
{
    return bind_get(s, acp_session_get_buf, session_id, b);
}

ACP_API int64_t acp_bind_event_add(acp_store *s, const char *run_id, const char *json,
                                   acp_bind *b)
{
    if (!b)
        return 0;
    bind_reset(b);
    int64_t seq = 0;
    acp_status st = acp_event_add(s, run_id, json, ACP_STRLEN, &seq, &b->err);
    if (st != ACP_OK) {
        b->err.code = st;
        return 0;
    }
    return seq;
}

ACP_API acp_status acp_bind_status(const acp_bind *b)
{
    return b->err.code;
}

ACP_API const char *acp_bind_message(const acp_bind *b)
{
    return b->err.message;
}

ACP_API size_t acp_bind_length(const acp_bind *b)
{
    return b->len;
}

ACP_API const char *acp_bind_data(const acp_bind *b)
{
    return b->has_doc ? b->buf : NULL;
}
