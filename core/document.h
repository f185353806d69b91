/* SPDX-License-Identifier: MIT */
/*
 * document.h - the one place where ACP documents are checked and their
 * indexed fields extracted (internal to the core; never installed).
 */
#ifndef ACP_CORE_DOCUMENT_H
#define ACP_CORE_DOCUMENT_H

#include <stddef.h>
#include <stdint.h>

#include "acp_storage.h"
#include "json.h"

/* Check that text[0..len) is one JSON value (json.h), surrounding
 * whitespace allowed; `what` names it in messages ("state").
 * Errors: INVALID. */
acp_status acp__json_check(const char *text, size_t len, const char *what, acp_error *err);

/* Indexed fields of a run; the strings point into the cJSON tree. */
typedef struct acp__run_fields {
    const char *run_id;
    const char *agent_name;
    const char *session_id; /* NULL: no session */
    const char *status;
    int has_created;        /* created_at present */
    int64_t created_us;
    int64_t finished_us;    /* INT64_MIN when absent or null */
} acp__run_fields;

/* Where decoded member strings live: a small buffer, and heap blocks for
 * the rare member that does not fit.  Release with acp__strbuf_free() after
 * a successful check (a failed check has already released it). */
typedef struct acp__strbuf {
    char small[1024];
    size_t used;
    char *heap;
} acp__strbuf;
void acp__strbuf_free(acp__strbuf *b);

/* The one place where document rules live.  Each checks the JSON text
 * (syntax, UTF-8, depth, no trailing data, an object, no indexed member
 * given twice or holding \u0000) and the type's rules, and extracts the
 * indexed fields.  Strings point into b.  len is the real length (never
 * ACP_STRLEN).  tree NULL (the store): no tree is built.  Otherwise *tree
 * receives the document's tree, built in the same pass, with the members
 * keep marks held as raw text (json.h); free it with cJSON_Delete.
 * Errors: INVALID, NOMEM (nothing to free then). */
acp_status acp__run_check(const char *text, size_t len, acp__run_fields *f, acp__strbuf *b,
                          acp__json_keep (*keep)(const char *), cJSON **tree, acp_error *err);
acp_status acp__session_check(const char *text, size_t len, const char **id, acp__strbuf *b,
                              acp__json_keep (*keep)(const char *), cJSON **tree, acp_error *err);
acp_status acp__event_check(const char *text, size_t len, const char **type, acp__strbuf *b,
                            acp__json_keep (*keep)(const char *), cJSON **tree, acp_error *err);

/* 1 if s is one of the seven ACP run statuses. */
int acp__status_valid(const char *s);
/* The i-th of the seven statuses in their documented order, NULL past
 * the end. */
const char *acp__status_name(size_t i);
/* 1 if s is completed, failed or cancelled. */
int acp__status_terminal(const char *s);

/* Check an id: 1..256 bytes of valid UTF-8 (NUL impossible in a C string).
 * `what` names it in the message ("run_id").  Errors: INVALID. */
acp_status acp__id_check(const char *id, const char *what, acp_error *err);

#endif /* ACP_CORE_DOCUMENT_H */
