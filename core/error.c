/* SPDX-License-Identifier: MIT */
/* error.c - status names, error messages, versions. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

static const char *const status_names[] = {
    "OK",      "NOT_FOUND", "INVALID",     "CONFLICT", "UNAVAILABLE", "IO",
    "CORRUPT", "NOMEM",     "UNSUPPORTED", "LOAD",     "PLUGIN",
};

static const char *const status_texts[] = {
    "success",
    "not found",
    "invalid argument or document",
    "conflicting concurrent change",
    "store unavailable (server unreachable or lock timeout); safe to retry",
    "input/output error",
    "stored data is corrupt",
    "out of memory",
    "operation not supported by this backend",
    "backend plugin could not be loaded",
    "backend-specific failure",
};

#define N_STATUS (sizeof status_names / sizeof status_names[0])

ACP_API const char *acp_status_name(acp_status status)
{
    return (unsigned)status < N_STATUS ? status_names[status] : "UNKNOWN";
}

ACP_API const char *acp_status_describe(acp_status status)
{
    return (unsigned)status < N_STATUS ? status_texts[status] : "unknown status";
}

ACP_API void acp_free(void *ptr)
{
    free(ptr);
}

/* Parenthesised: internal.h also defines acp__error as a macro. */
acp_status (acp__error)(acp_error *err, acp_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

ACP_API const char *acp_version(void)
{
    return ACP_STORAGE_VERSION_STRING;
}

ACP_API void acp_plugin_abi(unsigned *major, unsigned *minor)
{
    if (major)
        *major = ACP_PLUGIN_ABI_MAJOR;
    if (minor)
        *minor = ACP_PLUGIN_ABI_MINOR;
}
