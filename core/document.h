/*
 * document.h - the one place where ACP documents are checked and their
 * indexed fields extracted (internal to the core; never installed).
 */
#ifndef ACP_CORE_DOCUMENT_H
#define ACP_CORE_DOCUMENT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "acp_storage.h"

/* Parse JSON text strictly: len is the real length (never ACP_STRLEN);
 * nothing but whitespace after the value; strings valid UTF-8 without
 * \u0000; nesting at most 512 levels.  The syntax is checked before cJSON
 * runs, so a cJSON failure means NOMEM.  `what` names the document in
 * messages ("run", "session", "event").  *out is freed with cJSON_Delete.
 * Errors: INVALID, NOMEM. */
acp_status acp__json_parse(const char *text, size_t len, const char *what, cJSON **out,
                           acp_error *err);

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

/* Check that root is a valid run and extract its fields.  Errors: INVALID. */
acp_status acp__run_fields_get(const cJSON *root, acp__run_fields *f, acp_error *err);
/* Check a session object; *id points into root.  Errors: INVALID. */
acp_status acp__session_fields_get(const cJSON *root, const char **id, acp_error *err);
/* Check an event object; *type points into root.  Errors: INVALID. */
acp_status acp__event_fields_get(const cJSON *root, const char **type, acp_error *err);

/* 1 if s is one of the seven ACP run statuses. */
int acp__status_valid(const char *s);
/* 1 if s is completed, failed or cancelled. */
int acp__status_terminal(const char *s);

/* Check an id: 1..256 bytes of valid UTF-8 (NUL impossible in a C string).
 * `what` names it in the message ("run_id").  Errors: INVALID. */
acp_status acp__id_check(const char *id, const char *what, acp_error *err);

/* Fill err (if not NULL) and return code.  printf-style. */
acp_status acp__error(acp_error *err, acp_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* ACP_CORE_DOCUMENT_H */
