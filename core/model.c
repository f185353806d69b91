/* SPDX-License-Identifier: MIT */
/*
 * model.c - the typed layer: runs, messages, sessions and events as small
 * objects over a cJSON tree, turned into JSON with *_to_json.
 *
 * Two rules shape this file:
 *  - A failed call leaves the object as it was: each change first builds
 *    every new node, and only then links them in with steps that cannot
 *    fail (or with one step that can, done first).
 *  - JSON text a caller hands over (a session state, an event payload) and
 *    the members of a parsed document that the typed API never reads are
 *    kept as cJSON raw nodes holding their exact text, because cJSON keeps
 *    numbers as doubles and would print 9007199254740993 back as
 *    9007199254740992.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <uuid/uuid.h>

#include "internal.h"

struct acp_message {
    cJSON *root; /* {"role", "parts": [...]} */
};

struct acp_run {
    cJSON *root;
};

struct acp_session {
    cJSON *root;
};

struct acp_event {
    cJSON *root;
};

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

static acp_status null_arg(acp_error *err, const char *fn, const char *arg)
{
    return acp__error(err, ACP_INVALID, "%s: %s must not be NULL", fn, arg);
}

static acp_status nomem(acp_error *err, const char *fn)
{
    return acp__error(err, ACP_NOMEM, "%s: out of memory", fn);
}

/* A string argument that goes into a document. */
static acp_status text_check(const char *s, int nonempty, const char *fn, const char *what,
                             acp_error *err)
{
    if (!s)
        return null_arg(err, fn, what);
    if (nonempty && !*s)
        return acp__error(err, ACP_INVALID, "%s must not be empty", what);
    /* cJSON copies bytes >= 0x80 into its output unchecked, so a bad string
     * would turn into a document no strict reader (acp_run_parse included)
     * accepts. */
    if (!acp__utf8_valid(s, strlen(s)))
        return acp__error(err, ACP_INVALID, "%s is not valid UTF-8", what);
    return ACP_OK;
}

static const char *str_member(const cJSON *obj, const char *key)
{
    const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    return v && cJSON_IsString(v) ? v->valuestring : NULL;
}

static size_t array_count(const cJSON *arr)
{
    size_t n = 0;
    if (cJSON_IsArray(arr))
        for (const cJSON *c = arr->child; c; c = c->next)
            n++;
    return n;
}

/* Element i of arr, or NULL (cJSON_GetArrayItem takes an int). */
static cJSON *array_nth(const cJSON *arr, size_t i)
{
    cJSON *c = cJSON_IsArray(arr) ? arr->child : NULL;
    while (c && i--)
        c = c->next;
    return c;
}

/* Put item in old's place, giving it old's key.  Moving the key instead of
 * copying it means no allocation, so this cannot fail. */
static void node_replace(cJSON *parent, cJSON *old, cJSON *item)
{
    if (item->string && !(item->type & cJSON_StringIsConst))
        cJSON_free(item->string);
    item->string = old->string;
    item->type = (item->type & ~cJSON_StringIsConst) | (old->type & cJSON_StringIsConst);
    old->string = NULL;
    old->type &= ~cJSON_StringIsConst;
    cJSON_ReplaceItemViaPointer(parent, old, item);
}

/* Remove every member named key that follows `after` (a parsed document may
 * repeat a key; the first one is what the getters read, so a setter makes
 * it the only one). */
static void members_drop_after(cJSON *obj, cJSON *after, const char *key)
{
    cJSON *c = after ? after->next : obj->child;
    while (c) {
        cJSON *next = c->next;
        if (c->string && strcmp(c->string, key) == 0)
            cJSON_Delete(cJSON_DetachItemViaPointer(obj, c));
        c = next;
    }
}

/* Set member key of obj to item (which this takes over).  Replacing an
 * existing member cannot fail; adding one copies the key and can.  Returns
 * 0, with obj unchanged and item freed, when out of memory. */
static int member_set(cJSON *obj, const char *key, cJSON *item)
{
    cJSON *old = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (old) {
        node_replace(obj, old, item);
        members_drop_after(obj, item, key);
        return 1;
    }
    if (!cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return 0;
    }
    return 1;
}

/* Check that json is one JSON value (as strictly as documents are checked)
 * and make a raw node of its text without the surrounding whitespace.
 * *first receives the value's first character ('{' an object, '"' a
 * string, ...). */
static acp_status raw_from_json(const char *json, size_t len, const char *what, const char *fn,
                                cJSON **out, char *first, acp_error *err)
{
    if (!json)
        return null_arg(err, fn, "json");
    if (len == ACP_STRLEN)
        len = strlen(json);
    acp_status st = acp__json_check(json, len, what, err);
    if (st != ACP_OK)
        return st;
    acp__json_trim(&json, &len);
    cJSON *raw = acp__json_raw(json, len);
    if (!raw)
        return nomem(err, fn);
    *first = json[0];
    *out = raw;
    return ACP_OK;
}

/* Text of a node as malloc'd JSON (acp_free() is free(), while cJSON
 * allocates through hooks the application may have replaced: copy). */
static acp_status print_json(const cJSON *item, char **json, size_t *len, const char *fn,
                             acp_error *err)
{
    char *printed = cJSON_PrintUnformatted(item);
    if (!printed)
        return nomem(err, fn);
    size_t n = strlen(printed);
    char *copy = malloc(n + 1);
    if (!copy) {
        cJSON_free(printed);
        return nomem(err, fn);
    }
    memcpy(copy, printed, n + 1);
    cJSON_free(printed);
    *json = copy;
    if (len)
        *len = n;
    return ACP_OK;
}

/* ---- the typed objects ----
 * Each typed object is its tree and nothing else (the tree is the only
 * member of acp_message, acp_run, acp_session and acp_event), so making,
 * printing and freeing one is the same for all four. */

/* A new typed object of size bytes holding root, or NULL (root freed). */
static void *tree_new(cJSON *root, size_t size)
{
    cJSON **obj = malloc(size);
    if (!obj) {
        cJSON_Delete(root);
        return NULL;
    }
    *obj = root;
    return obj;
}

/* *out = obj, a new typed object (out points to a pointer to its type);
 * NOMEM naming fn, with *out untouched, when obj is NULL. */
static acp_status put_obj(void *obj, void *out, const char *fn, acp_error *err)
{
    if (!obj)
        return nomem(err, fn);
    memcpy(out, &obj, sizeof obj);
    return ACP_OK;
}

/* *out = a new typed object holding root (taken over). */
#define WRAP(root, out, fn, err) put_obj(tree_new((root), sizeof **(out)), (out), (fn), (err))

/* obj's JSON text; arg names obj in the NULL-argument message. */
static acp_status tree_to_json(const void *obj, const char *arg, char **json, size_t *len,
                               const char *fn, acp_error *err)
{
    if (!obj)
        return null_arg(err, fn, arg);
    if (!json)
        return null_arg(err, fn, "json");
    return print_json(*(cJSON *const *)obj, json, len, fn, err);
}

static void tree_free(void *obj)
{
    if (obj) {
        cJSON_Delete(*(cJSON **)obj);
        free(obj);
    }
}

static acp__json_keep run_member(const char *key);
static acp__json_keep session_member(const char *key);
static acp__json_keep event_member(const char *key);

/* What acp_{run,session,event}_parse share: check the arguments, then the
 * document (kind 'r', 's' or 'e') by its rules, building its tree in the
 * same pass into *root. */
static acp_status parse_doc(const char *json, size_t len, const void *out, int kind,
                            cJSON **root, const char *fn, acp_error *err)
{
    acp__run_fields f;
    acp__strbuf b;
    const char *v;
    if (!json)
        return null_arg(err, fn, "json");
    if (!out)
        return null_arg(err, fn, "out");
    if (len == ACP_STRLEN)
        len = strlen(json);
    acp_status st = kind == 'r'   ? acp__run_check(json, len, &f, &b, run_member, root, err)
                    : kind == 's' ? acp__session_check(json, len, &v, &b, session_member, root, err)
                                  : acp__event_check(json, len, &v, &b, event_member, root, err);
    if (st == ACP_OK)
        acp__strbuf_free(&b); /* the fields are checked; the tree is what stays */
    return st;
}

/* ------------------------------------------------------------------ */
/* UUID                                                                 */
/* ------------------------------------------------------------------ */

ACP_API void acp_uuid_v4(char out[37])
{
    uuid_t u;
    if (!out)
        return;
    uuid_generate_random(u);
    uuid_unparse_lower(u, out);
}

/* ------------------------------------------------------------------ */
/* Messages                                                             */
/* ------------------------------------------------------------------ */

ACP_API acp_status acp_message_new(const char *role, acp_message **out, acp_error *err)
{
    acp_status st;
    if (!out)
        return null_arg(err, __func__, "out");
    if ((st = text_check(role, 1, __func__, "role", err)) != ACP_OK)
        return st;
    cJSON *root = cJSON_CreateObject();
    if (!root || !cJSON_AddStringToObject(root, "role", role) ||
        !cJSON_AddArrayToObject(root, "parts")) {
        cJSON_Delete(root);
        return nomem(err, __func__);
    }
    return WRAP(root, out, __func__, err);
}

/* acp_message_add_part(), with fn naming the public call in messages. */
static acp_status message_add_part(acp_message *msg, const char *content_type,
                                   const char *content, const char *encoding, const char *name,
                                   const char *fn, acp_error *err)
{
    acp_status st;
    if (!msg)
        return null_arg(err, fn, "msg");
    if (!content_type)
        content_type = "text/plain";
    if (!encoding)
        encoding = "plain";
    if ((st = text_check(content_type, 1, fn, "content_type", err)) != ACP_OK ||
        (st = text_check(content, 0, fn, "content", err)) != ACP_OK ||
        (name && (st = text_check(name, 1, fn, "name", err)) != ACP_OK))
        return st;
    if (strcmp(encoding, "plain") != 0 && strcmp(encoding, "base64") != 0)
        return acp__error(err, ACP_INVALID, "%s: encoding '%.32s' is neither plain nor base64",
                          fn, encoding);
    cJSON *parts = cJSON_GetObjectItemCaseSensitive(msg->root, "parts");
    if (parts && !cJSON_IsArray(parts))
        return acp__error(err, ACP_INVALID, "%s: the message's parts is not an array", fn);

    cJSON *part = cJSON_CreateObject();
    if (!part || !cJSON_AddStringToObject(part, "content_type", content_type) ||
        !cJSON_AddStringToObject(part, "content", content) ||
        !cJSON_AddStringToObject(part, "content_encoding", encoding) ||
        (name && !cJSON_AddStringToObject(part, "name", name))) {
        cJSON_Delete(part);
        return nomem(err, fn);
    }
    if (parts) {
        cJSON_AddItemToArray(parts, part);
        return ACP_OK;
    }
    cJSON *arr = cJSON_CreateArray();
    if (!arr) {
        cJSON_Delete(part);
        return nomem(err, fn);
    }
    cJSON_AddItemToArray(arr, part);
    if (!member_set(msg->root, "parts", arr))
        return nomem(err, fn);
    return ACP_OK;
}

ACP_API acp_status acp_message_add_part(acp_message *msg, const char *content_type,
                                        const char *content, const char *encoding,
                                        const char *name, acp_error *err)
{
    return message_add_part(msg, content_type, content, encoding, name, __func__, err);
}

ACP_API acp_status acp_message_add_text(acp_message *msg, const char *text, acp_error *err)
{
    if (!text)
        return null_arg(err, __func__, "text");
    return message_add_part(msg, NULL, text, NULL, NULL, __func__, err);
}

ACP_API const char *acp_message_role(const acp_message *msg)
{
    return msg ? str_member(msg->root, "role") : NULL;
}

static const cJSON *message_parts(const acp_message *msg)
{
    return msg ? cJSON_GetObjectItemCaseSensitive(msg->root, "parts") : NULL;
}

ACP_API size_t acp_message_part_count(const acp_message *msg)
{
    return array_count(message_parts(msg));
}

ACP_API const char *acp_message_part_content(const acp_message *msg, size_t i)
{
    return str_member(array_nth(message_parts(msg), i), "content");
}

ACP_API const char *acp_message_part_content_type(const acp_message *msg, size_t i)
{
    return str_member(array_nth(message_parts(msg), i), "content_type");
}

ACP_API void acp_message_free(acp_message *msg)
{
    tree_free(msg);
}

/* ------------------------------------------------------------------ */
/* Runs                                                                 */
/* ------------------------------------------------------------------ */

ACP_API acp_status acp_run_new(const char *agent_name, acp_run **out, acp_error *err)
{
    acp_status st;
    char id[37], now[ACP_TIME_BUFSZ];
    if (!out)
        return null_arg(err, __func__, "out");
    if ((st = acp__id_check(agent_name, "agent_name", err)) != ACP_OK)
        return st;
    acp_uuid_v4(id);
    acp_time_format(acp_time_now_us(), now);
    cJSON *root = cJSON_CreateObject();
    if (!root || !cJSON_AddStringToObject(root, "run_id", id) ||
        !cJSON_AddStringToObject(root, "agent_name", agent_name) ||
        !cJSON_AddStringToObject(root, "status", "created") ||
        !cJSON_AddArrayToObject(root, "output") ||
        !cJSON_AddStringToObject(root, "created_at", now)) {
        cJSON_Delete(root);
        return nomem(err, __func__);
    }
    return WRAP(root, out, __func__, err);
}

static acp__json_keep run_member(const char *key)
{
    static const char *const typed[] = {"run_id",     "agent_name", "session_id", "status",
                                        "created_at", "finished_at", "output"};
    for (size_t i = 0; i < sizeof typed / sizeof typed[0]; i++)
        if (strcmp(key, typed[i]) == 0)
            return ACP__KEEP_TREE;
    return ACP__KEEP_RAW;
}

ACP_API acp_status acp_run_parse(const char *json, size_t len, acp_run **out, acp_error *err)
{
    cJSON *root = NULL;
    acp_status st = parse_doc(json, len, out, 'r', &root, __func__, err);
    return st != ACP_OK ? st : WRAP(root, out, __func__, err);
}

ACP_API const char *acp_run_id(const acp_run *run)
{
    return run ? str_member(run->root, "run_id") : NULL;
}

ACP_API const char *acp_run_agent_name(const acp_run *run)
{
    return run ? str_member(run->root, "agent_name") : NULL;
}

ACP_API const char *acp_run_session_id(const acp_run *run)
{
    return run ? str_member(run->root, "session_id") : NULL;
}

ACP_API const char *acp_run_status(const acp_run *run)
{
    return run ? str_member(run->root, "status") : NULL;
}

static int64_t run_instant(const acp_run *run, const char *key)
{
    const char *s = run ? str_member(run->root, key) : NULL;
    int64_t us;
    if (!s || acp_time_parse(s, ACP_STRLEN, &us, NULL) != ACP_OK)
        return INT64_MIN;
    return us;
}

ACP_API int64_t acp_run_created_us(const acp_run *run)
{
    return run_instant(run, "created_at");
}

ACP_API int64_t acp_run_finished_us(const acp_run *run)
{
    return run_instant(run, "finished_at");
}

static const cJSON *run_output(const acp_run *run)
{
    return run ? cJSON_GetObjectItemCaseSensitive(run->root, "output") : NULL;
}

ACP_API size_t acp_run_output_count(const acp_run *run)
{
    return array_count(run_output(run));
}

ACP_API acp_status acp_run_output_message(const acp_run *run, size_t i, acp_message **out,
                                          acp_error *err)
{
    if (!run)
        return null_arg(err, __func__, "run");
    if (!out)
        return null_arg(err, __func__, "out");
    const cJSON *m = array_nth(run_output(run), i);
    if (!m)
        return acp__error(err, ACP_INVALID, "%s: the run has no output message %zu (it has %zu)",
                          __func__, i, acp_run_output_count(run));
    if (!cJSON_IsObject(m))
        return acp__error(err, ACP_INVALID, "%s: output %zu of the run is not a message object",
                          __func__, i);
    cJSON *copy = cJSON_Duplicate(m, 1);
    if (!copy)
        return nomem(err, __func__);
    return WRAP(copy, out, __func__, err);
}

ACP_API acp_status acp_run_set_status(acp_run *run, const char *status, acp_error *err)
{
    if (!run)
        return null_arg(err, __func__, "run");
    if (!status)
        return null_arg(err, __func__, "status");
    if (!acp__status_valid(status))
        return acp__error(err, ACP_INVALID,
                          "status '%.64s' is not one of created, in-progress, awaiting, "
                          "cancelling, cancelled, completed, failed",
                          status);
    const char *old = acp_run_status(run);
    /* Entering a terminal status stamps finished_at; repeating the current
     * one keeps the stamp it already has. */
    int stamp = acp__status_terminal(status) &&
                (!old || strcmp(old, status) != 0 || acp_run_finished_us(run) == INT64_MIN);
    cJSON *item = cJSON_CreateString(status);
    if (!item)
        return nomem(err, __func__);
    if (stamp) {
        char now[ACP_TIME_BUFSZ];
        acp_time_format(acp_time_now_us(), now);
        cJSON *fin = cJSON_CreateString(now);
        if (!fin || !member_set(run->root, "finished_at", fin)) {
            cJSON_Delete(item);
            return nomem(err, __func__);
        }
    }
    /* Every run has a status (acp_run_new sets one, acp_run_parse requires
     * one), so this replaces in place and cannot fail after finished_at
     * was changed. */
    if (!member_set(run->root, "status", item))
        return nomem(err, __func__);
    return ACP_OK;
}

ACP_API acp_status acp_run_set_session_id(acp_run *run, const char *session_id,
                                          acp_error *err)
{
    acp_status st;
    if (!run)
        return null_arg(err, __func__, "run");
    if (!session_id) {
        members_drop_after(run->root, NULL, "session_id");
        return ACP_OK;
    }
    if ((st = acp__id_check(session_id, "session_id", err)) != ACP_OK)
        return st;
    cJSON *item = cJSON_CreateString(session_id);
    if (!item || !member_set(run->root, "session_id", item))
        return nomem(err, __func__);
    return ACP_OK;
}

/* Append item to the array member key of obj, creating the array when
 * absent.  Takes item over.  Errors: INVALID (member not an array), NOMEM. */
static acp_status array_append(cJSON *obj, const char *key, cJSON *item, const char *fn,
                               acp_error *err)
{
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (arr && !cJSON_IsArray(arr)) {
        cJSON_Delete(item);
        return acp__error(err, ACP_INVALID, "%s: \"%s\" is not an array", fn, key);
    }
    if (arr) {
        cJSON_AddItemToArray(arr, item);
        return ACP_OK;
    }
    if (!(arr = cJSON_CreateArray())) {
        cJSON_Delete(item);
        return nomem(err, fn);
    }
    cJSON_AddItemToArray(arr, item);
    if (!member_set(obj, key, arr))
        return nomem(err, fn);
    return ACP_OK;
}

ACP_API acp_status acp_run_add_output(acp_run *run, const acp_message *msg, acp_error *err)
{
    if (!run)
        return null_arg(err, __func__, "run");
    if (!msg)
        return null_arg(err, __func__, "msg");
    const cJSON *out = run_output(run);
    if (out && !cJSON_IsArray(out))
        return acp__error(err, ACP_INVALID, "%s: the run's output is not an array", __func__);
    cJSON *copy = cJSON_Duplicate(msg->root, 1);
    if (!copy)
        return nomem(err, __func__);
    return array_append(run->root, "output", copy, __func__, err);
}

ACP_API acp_status acp_run_set_error(acp_run *run, const char *code, const char *message,
                                     acp_error *err)
{
    acp_status st;
    if (!run)
        return null_arg(err, __func__, "run");
    if ((st = text_check(code, 1, __func__, "code", err)) != ACP_OK ||
        (st = text_check(message, 0, __func__, "message", err)) != ACP_OK)
        return st;
    cJSON *e = cJSON_CreateObject();
    if (!e || !cJSON_AddStringToObject(e, "code", code) ||
        !cJSON_AddStringToObject(e, "message", message)) {
        cJSON_Delete(e);
        return nomem(err, __func__);
    }
    if (!member_set(run->root, "error", e))
        return nomem(err, __func__);
    return ACP_OK;
}

ACP_API acp_status acp_run_set_await_message(acp_run *run, const acp_message *msg,
                                             acp_error *err)
{
    if (!run)
        return null_arg(err, __func__, "run");
    if (!msg)
        return null_arg(err, __func__, "msg");
    cJSON *req = cJSON_CreateObject(), *copy = cJSON_Duplicate(msg->root, 1);
    if (!req || !copy || !cJSON_AddStringToObject(req, "type", "message")) {
        cJSON_Delete(req);
        cJSON_Delete(copy);
        return nomem(err, __func__);
    }
    if (!cJSON_AddItemToObject(req, "message", copy)) {
        cJSON_Delete(req);
        cJSON_Delete(copy);
        return nomem(err, __func__);
    }
    if (!member_set(run->root, "await_request", req))
        return nomem(err, __func__);
    return ACP_OK;
}

ACP_API acp_status acp_run_to_json(const acp_run *run, char **json, size_t *len,
                                   acp_error *err)
{
    return tree_to_json(run, "run", json, len, __func__, err);
}

ACP_API void acp_run_free(acp_run *run)
{
    tree_free(run);
}

/* ------------------------------------------------------------------ */
/* Sessions                                                             */
/* ------------------------------------------------------------------ */

ACP_API acp_status acp_session_new(const char *id, acp_session **out, acp_error *err)
{
    acp_status st;
    if (!out)
        return null_arg(err, __func__, "out");
    if ((st = acp__id_check(id, "session id", err)) != ACP_OK)
        return st;
    cJSON *root = cJSON_CreateObject();
    if (!root || !cJSON_AddStringToObject(root, "id", id) ||
        !cJSON_AddArrayToObject(root, "history") || !cJSON_AddNullToObject(root, "state")) {
        cJSON_Delete(root);
        return nomem(err, __func__);
    }
    return WRAP(root, out, __func__, err);
}

static acp__json_keep session_member(const char *key)
{
    if (strcmp(key, "id") == 0)
        return ACP__KEEP_TREE;
    return strcmp(key, "history") == 0 ? ACP__KEEP_RAW_ELEMENTS : ACP__KEEP_RAW;
}

ACP_API acp_status acp_session_parse(const char *json, size_t len, acp_session **out,
                                     acp_error *err)
{
    cJSON *root = NULL;
    acp_status st = parse_doc(json, len, out, 's', &root, __func__, err);
    return st != ACP_OK ? st : WRAP(root, out, __func__, err);
}

ACP_API const char *acp_session_id(const acp_session *s)
{
    return s ? str_member(s->root, "id") : NULL;
}

ACP_API acp_status acp_session_set_state_json(acp_session *s, const char *json, size_t len,
                                              acp_error *err)
{
    cJSON *raw = NULL;
    char type = 0;
    if (!s)
        return null_arg(err, __func__, "s");
    acp_status st = raw_from_json(json, len, "state", __func__, &raw, &type, err);
    if (st != ACP_OK)
        return st;
    if (!member_set(s->root, "state", raw))
        return nomem(err, __func__);
    return ACP_OK;
}

ACP_API acp_status acp_session_state_json(const acp_session *s, char **json, size_t *len,
                                          acp_error *err)
{
    if (!s)
        return null_arg(err, __func__, "s");
    if (!json)
        return null_arg(err, __func__, "json");
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(s->root, "state");
    if (state)
        return print_json(state, json, len, __func__, err);
    /* A session saved without a state has none: that reads as null. */
    char *null_text = malloc(sizeof "null");
    if (!null_text)
        return nomem(err, __func__);
    memcpy(null_text, "null", sizeof "null");
    *json = null_text;
    if (len)
        *len = sizeof "null" - 1;
    return ACP_OK;
}

ACP_API acp_status acp_session_add_history_json(acp_session *s, const char *json, size_t len,
                                                acp_error *err)
{
    cJSON *raw;
    char type;
    if (!s)
        return null_arg(err, __func__, "s");
    const cJSON *hist = cJSON_GetObjectItemCaseSensitive(s->root, "history");
    if (hist && !cJSON_IsArray(hist))
        return acp__error(err, ACP_INVALID, "%s: the session's history is not an array",
                          __func__);
    acp_status st = raw_from_json(json, len, "history entry", __func__, &raw, &type, err);
    if (st != ACP_OK)
        return st;
    if (type != '{' && type != '"') {
        cJSON_Delete(raw);
        return acp__error(err, ACP_INVALID,
                          "%s: a history entry is a message object or a URL string", __func__);
    }
    return array_append(s->root, "history", raw, __func__, err);
}

ACP_API size_t acp_session_history_count(const acp_session *s)
{
    return s ? array_count(cJSON_GetObjectItemCaseSensitive(s->root, "history")) : 0;
}

ACP_API acp_status acp_session_to_json(const acp_session *s, char **json, size_t *len,
                                       acp_error *err)
{
    return tree_to_json(s, "s", json, len, __func__, err);
}

ACP_API void acp_session_free(acp_session *s)
{
    tree_free(s);
}

/* ------------------------------------------------------------------ */
/* Events                                                               */
/* ------------------------------------------------------------------ */

ACP_API acp_status acp_event_new(const char *type, acp_event **out, acp_error *err)
{
    acp_status st;
    if (!out)
        return null_arg(err, __func__, "out");
    if ((st = text_check(type, 1, __func__, "type", err)) != ACP_OK)
        return st;
    cJSON *root = cJSON_CreateObject();
    if (!root || !cJSON_AddStringToObject(root, "type", type)) {
        cJSON_Delete(root);
        return nomem(err, __func__);
    }
    return WRAP(root, out, __func__, err);
}

static acp__json_keep event_member(const char *key)
{
    return strcmp(key, "type") == 0 ? ACP__KEEP_TREE : ACP__KEEP_RAW;
}

ACP_API acp_status acp_event_parse(const char *json, size_t len, acp_event **out,
                                   acp_error *err)
{
    cJSON *root = NULL;
    acp_status st = parse_doc(json, len, out, 'e', &root, __func__, err);
    return st != ACP_OK ? st : WRAP(root, out, __func__, err);
}

ACP_API const char *acp_event_type(const acp_event *ev)
{
    return ev ? str_member(ev->root, "type") : NULL;
}

ACP_API acp_status acp_event_set_json(acp_event *ev, const char *key, const char *json,
                                      size_t len, acp_error *err)
{
    acp_status st;
    cJSON *raw;
    char type;
    if (!ev)
        return null_arg(err, __func__, "ev");
    if ((st = text_check(key, 1, __func__, "key", err)) != ACP_OK)
        return st;
    if (strcmp(key, "type") == 0)
        return acp__error(err, ACP_INVALID,
                          "%s: the event type is fixed by acp_event_new, not a payload member",
                          __func__);
    if ((st = raw_from_json(json, len, "event member", __func__, &raw, &type, err)) != ACP_OK)
        return st;
    if (!member_set(ev->root, key, raw))
        return nomem(err, __func__);
    return ACP_OK;
}

ACP_API acp_status acp_event_get_json(const acp_event *ev, const char *key, char **json,
                                      size_t *len, acp_error *err)
{
    if (!ev)
        return null_arg(err, __func__, "ev");
    if (!key)
        return null_arg(err, __func__, "key");
    if (!json)
        return null_arg(err, __func__, "json");
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(ev->root, key);
    if (!item)
        return acp__error(err, ACP_NOT_FOUND, "%s: the event has no member '%.64s'", __func__,
                          key);
    return print_json(item, json, len, __func__, err);
}

ACP_API acp_status acp_event_to_json(const acp_event *ev, char **json, size_t *len,
                                     acp_error *err)
{
    return tree_to_json(ev, "ev", json, len, __func__, err);
}

ACP_API void acp_event_free(acp_event *ev)
{
    tree_free(ev);
}
