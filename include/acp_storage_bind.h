/* SPDX-License-Identifier: MIT */
/*
 * acp_storage_bind.h - calls shaped for language bindings (Python ctypes,
 * Ruby ffi).
 *
 * Through ctypes every argument of a foreign call is converted on every call
 * (about 25 ns for a bytes object or a prepared pointer, over 100 ns for a
 * ctypes number or pointer object), so the busiest calls of
 * acp_storage.h cost a binding more in argument handling than the memory
 * backend spends on the call itself.  The functions here take only the
 * store, the strings and one per-thread context, and return the result
 * itself: a get returns the document as a C string (which ctypes turns into
 * bytes in the same step), an event add returns the sequence number.  The
 * status and message of the last call stay in the context.
 *
 * Everything here is a thin layer over acp_storage.h: the same rules,
 * errors and messages as acp_run_get, acp_session_get and acp_event_add.
 *
 * Thread safety: an acp_bind belongs to one thread at a time (a binding
 * keeps one per thread); the store may be shared as usual.
 */
#ifndef ACP_STORAGE_BIND_H
#define ACP_STORAGE_BIND_H

#include "acp_storage.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A calling context: a buffer for documents (grown to fit, kept up to
 * 1 MiB between calls) and the outcome of the last call. */
typedef struct acp_bind acp_bind;

/* A new context (owned by the caller, released with acp_bind_free), or NULL
 * when out of memory. */
ACP_API acp_bind *acp_bind_new(void);
/* Release a context; NULL is fine.  Documents it returned become invalid. */
ACP_API void acp_bind_free(acp_bind *b);

/* acp_run_get / acp_session_get into the context's buffer.  Returns the
 * document as a NUL-terminated string, valid until the context's next call
 * or its release; NULL when the get failed (acp_bind_status() is then not
 * ACP_OK) and also, with status ACP_OK, when the document holds a NUL byte:
 * read acp_bind_length() bytes from acp_bind_data() then.  NULL as well
 * when b is NULL (no status can be kept then). */
ACP_API const char *acp_bind_run_get(acp_store *store, const char *run_id, acp_bind *b);
ACP_API const char *acp_bind_session_get(acp_store *store, const char *session_id,
                                         acp_bind *b);

/* acp_event_add of a NUL-terminated document (its length is strlen(json):
 * a caller whose text may hold a NUL byte uses acp_event_add with the
 * length).  Returns the event's sequence number (>= 1), or 0 on failure
 * (see acp_bind_status) or when b is NULL. */
ACP_API int64_t acp_bind_event_add(acp_store *store, const char *run_id, const char *json,
                                   acp_bind *b);

/* The outcome of the context's last call: its status, the library's
 * message when it failed ("" after a success; valid until the next call),
 * and for a get that succeeded the document's length and its bytes (valid
 * until the next call; NULL when no document came back).  b must not be
 * NULL. */
ACP_API acp_status acp_bind_status(const acp_bind *b);
ACP_API const char *acp_bind_message(const acp_bind *b);
ACP_API size_t acp_bind_length(const acp_bind *b);
ACP_API const char *acp_bind_data(const acp_bind *b);

#ifdef __cplusplus
}
#endif

#endif
