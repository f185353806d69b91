/* SPDX-License-Identifier: MIT */
/*
 * acp_conformance.h - the storage contract as executable checks.
 *
 * Every backend, shipped or third-party, must pass every check listed here
 * (docs: storage-contract.md).  The checks are plain C functions so that the
 * same code runs under Criterion in CTest (tests/conformance/) and from the
 * operator command `acp-storage check <plugin>`.
 *
 * A check opens fresh stores from a URI template: each "{dir}" in it is
 * replaced by a new temporary directory made for that one check and removed
 * afterwards ("sqlite:{dir}/t.db", "file:{dir}/store", "memory:").
 *
 * A check that needs a capability the backend does not declare (for example
 * ACP_CAP_DURABLE for close-and-reopen) is skipped, and says which.
 *
 * Not thread-safe: run one check at a time per process (checks start their
 * own threads and, for multi-process checks, their own child processes).
 */
#ifndef ACP_CONFORMANCE_H
#define ACP_CONFORMANCE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The backend under test. */
typedef struct acp_conformance_target {
    /* Store URI; every "{dir}" becomes a fresh temporary directory per check
     * (percent-encoded where the directory name needs it). */
    const char *uri_template;
    /* NULL to find the plugin by name in the plugin directories, or the
     * absolute path of the .so to load (acp_config_set_plugin_file). */
    const char *plugin_file;
} acp_conformance_target;

/* Results of acp_conformance_run() and acp_conformance_run_isolated(). */
enum {
    ACP_CONFORMANCE_PASS = 0,
    ACP_CONFORMANCE_FAIL = 1,    /* the message says where and what */
    ACP_CONFORMANCE_SKIP = 2,    /* a capability is missing: the message says which */
    ACP_CONFORMANCE_CRASH = 3,   /* isolated only: the check died (signal name) */
    ACP_CONFORMANCE_TIMEOUT = 4  /* isolated only: killed after timeout_s */
};

/* Number of checks; they are numbered 0..count-1 in a fixed order. */
size_t acp_conformance_count(void);

/* Name ("list_runs_pages_every_run_exactly_once") and one-line description
 * of check i; NULL when i >= count.  Static strings. */
const char *acp_conformance_name(size_t i);
const char *acp_conformance_description(size_t i);

/* Index of the check called name, or acp_conformance_count() if none. */
size_t acp_conformance_find(const char *name);

/* "pass", "fail", "skip", "crash", "timeout" (or "unknown"). */
const char *acp_conformance_result_name(int result);

/* Run check i in this process.  Returns PASS, FAIL or SKIP; on FAIL and SKIP
 * msg receives "file:line: what happened" (with the library's acp_error
 * message), on PASS an empty string.  msg may be NULL when msgsz is 0.
 * A backend that crashes takes the caller down with it: use
 * acp_conformance_run_isolated() when that matters. */
int acp_conformance_run(size_t i, const acp_conformance_target *t, char *msg, size_t msgsz);

/* Run check i in a forked child process (its own process group) and report
 * PASS, FAIL, SKIP, CRASH (msg names the signal, or the exit status of a
 * child that ended without reporting) or TIMEOUT (the child and everything
 * it started were killed after timeout_s seconds; 0 means no limit).
 * Must not be called while other threads of the caller hold locks that the
 * check needs (fork). */
int acp_conformance_run_isolated(size_t i, const acp_conformance_target *t, int timeout_s,
                                 char *msg, size_t msgsz);

#ifdef __cplusplus
}
#endif
#endif /* ACP_CONFORMANCE_H */
