/* SPDX-License-Identifier: MIT */
/*
 * internal.h - structures shared by the core's own files (never installed).
 * Public names are acp_*, internal ones acp__*.  Declarations are grouped
 * under the file that defines them; document.c's are in document.h and
 * json.c's in json.h (both included here; neither includes this file).
 */
#ifndef ACP_CORE_INTERNAL_H
#define ACP_CORE_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "acp_storage.h"
#include "acp_storage_plugin.h"
#include "document.h"

/* ---- errors (error.c) ---- */

/* Fill err (if not NULL) and return code.  printf-style. */
acp_status acp__error(acp_error *err, acp_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The value is code itself, visibly: static analysers do not follow a
 * variadic function into another file, and would otherwise take every
 * failure path as possibly returning ACP_OK.  code is evaluated twice (every
 * caller passes a constant or a variable). */
#define acp__error(err, code, ...) ((void)(acp__error)(err, code, __VA_ARGS__), (code))

/* ---- configuration (config.c) ---- */

typedef struct acp__kv {
    char *key;
    char *value;
} acp__kv;

struct acp_config {
    char *backend;   /* plugin name after alias resolution */
    char *scheme;    /* as written, e.g. "postgresql" or "sqlite+wal" */
    char *variant;   /* after '+', or "" */
    char *authority; /* "" if none */
    char *path;      /* decoded */
    acp__kv *opts;   /* backend options, in order given */
    size_t n_opts;
    char **dirs;     /* application plugin directories */
    size_t n_dirs;
    char *plugin_file;
    int64_t timeout_ms;
};

/* Whole URI for the plugin: as given when parsed, else composed from the
 * parts.  redact replaces passwords by "***".  NULL when out of memory. */
char *acp__config_uri(const acp_config *cfg, int redact);
/* 1 if key names a secret whose value must never be printed. */
int acp__is_secret_key(const char *key);
/* Replace in msg (a buffer of cap bytes) every secret of cfg (the URI's
 * password, as written and decoded; secret options) by "***": for messages
 * of plugins, which saw the URI unredacted. */
void acp__config_scrub(const acp_config *cfg, char *msg, size_t cap);
/* Valid plugin name: [a-z0-9_]{1,64}. */
int acp__name_valid(const char *name);
/* Free a NULL-terminated array of strings (NULL: nothing). */
void acp__strv_free(char **v);

/* ---- plugins (loader.c) ---- */

typedef struct acp__plugin {
    char *name;
    char *path;
    void *handle;
    const acp_plugin_descriptor *desc;
    dev_t dev;
    ino_t ino;
    struct acp__plugin *next;
} acp__plugin;

/* Find, load, check and initialise the plugin cfg names (by name through
 * the search path, or cfg->plugin_file).  Loaded plugins stay for the life
 * of the process.  Errors: INVALID, LOAD, and what init reports. */
acp_status acp__plugin_get(const acp_config *cfg, acp__plugin **out, acp_error *err);
/* The search directories for cfg (may be NULL) as a NULL-terminated array
 * to free with acp__strv_free.  NULL when out of memory. */
char **acp__search_dirs(const acp_config *cfg, size_t *n);

/* ---- a plugin's typed options, for acp_plugins_scan (plugin_specs.c) ---- */

/* The most bytes of options one plugin reports, and of one field. */
#define ACP_SPECS_MAX 65536
#define ACP_SPECS_FIELD_MAX 4096
/* Pack d's typed options into *blob (malloc'ed, *len bytes; NULL and 0 when
 * it has none, or more than ACP_SPECS_MAX bytes of them).  -1: out of
 * memory. */
int acp__specs_pack(const acp_plugin_descriptor *d, char **blob, size_t *len);
/* Set info->options and n_options from a blob of acp__specs_pack (none when
 * it is cut or malformed); info->options is one block to free().  -1: out
 * of memory. */
int acp__specs_unpack(const char *blob, size_t n, acp_plugin_info *info);

/* 1 if the plugin's descriptor is large enough to hold member. */
#define ACP__DESC_HAS(desc, member)                                                         \
    ((desc)->size >= offsetof(acp_plugin_descriptor, member) + sizeof((desc)->member))

/* 1 if the plugin's vtable has a non-NULL method at member offset off. */
#define ACP__HAS(desc, member)                                                              \
    ((desc)->vtable_size >= offsetof(acp_backend_vtable, member) + sizeof(void (*)(void)) && \
     (desc)->vtable->member != NULL)

/* ---- calls into plugins (host.c) ---- */

/* One collected result. */
typedef struct acp__item {
    char *doc; /* doc and key share one allocation */
    size_t doc_len;
    char *key;
    int64_t created_us;
    int64_t seq;
    int64_t stored_us;
    int64_t version; /* runs of an ACP_CAP_VERSIONS backend, else 0 */
} acp__item;

struct acp_page {
    acp__item *items;
    size_t n, cap;
    size_t max;      /* emitting more than this is a plugin fault */
    int64_t total;   /* -1: not asked, or set_total never called */
    char *next_cursor;
    int keyless;     /* a get: the caller never sees keys, so none are copied */
    int events;      /* events: each seq must be greater than last_seq */
    int64_t last_seq; /* after_seq, then the last emitted seq */
};

typedef struct acp__verify acp__verify;
typedef struct acp__migrate acp__migrate;
typedef struct acp_stats acp_stats;

/* A cancel watch (host->cancel_watch): lives in the waiting call. */
typedef struct acp__watch {
    void (*wake)(void *arg);
    void *arg;
    struct acp__watch *next;
} acp__watch;

struct acp_call {
    acp_status code;        /* code given to host->error */
    int has_message;
    char message[ACP_ERROR_MESSAGE_MAX];
    /* The message before it when its code differed (acp__call_message):
     * a composing plugin may go on after a child's failure (a cache's
     * front answering NOT_FOUND to a removal after the back failed), and
     * the message reported is the one of the code the method returns. */
    acp_status prev_code;
    int has_prev;
    char prev_message[ACP_ERROR_MESSAGE_MAX];
    acp_page *page;         /* where emit() puts results, or NULL */
    int64_t deadline_us;    /* 0: none */
    acp__verify *verify;    /* a verify walk's state (verify.c), or NULL */
    char fault[192];        /* what the plugin handed back against the contract, or "" */
    acp_cancel *cancel;     /* acp_event_follow's token, or NULL */
    acp__watch watch;       /* registered in cancel while watch.wake is set */
    /* Run versions: items carry acp_item.version (the plugin declares
     * ACP_CAP_VERSIONS, so its acp_item has the member); the version
     * save_run reported through host->set_version, or -1. */
    int item_versions;
    int64_t version;
    /* child stores (child.c) */
    int depth;              /* nesting of compositions: 0 for an application's call */
    const acp_config *cfg;  /* an open call: the configuration being opened, else NULL */
    int child_load;         /* a child's open failed with ACP_LOAD: the parent may pass it on */
    acp__migrate *migrate;  /* a migrate call's state (migrate.c), or NULL */
    acp_stats *stats;       /* a stats call's figures (stats.c), or NULL */
};

extern const acp_plugin_host acp__host;

/* Make room for a failure's message of code in call->message: the one
 * already there moves to prev_message when its code differs (host.c).
 * Returns call->message, to be written by the caller. */
char *acp__call_message(acp_call *call, acp_status code);
void acp__call_init(acp_call *call, acp_page *page, int64_t timeout_ms);
/* Turn a plugin method's result into the caller's error.  A fault the host
 * found in what the plugin emitted wins over the plugin's status (ACP_PLUGIN
 * naming op); out-of-range codes become ACP_PLUGIN; prefixes the backend
 * name; supplies a message when the plugin gave none.  Returns the mapped
 * status. */
acp_status acp__call_finish(acp_call *call, acp_status st, const char *backend,
                            const char *op, acp_error *err);

acp_page *acp__page_new(size_t max);

/* Child calls (child.c): while a plugin calls a child store, the parent's
 * call is bound to the thread, and every call the core starts meanwhile
 * (acp__call_init) ends no later than the parent's deadline, is cancelled
 * with it and is one level deeper.  Returns the previous binding, to be
 * restored with acp__call_bind(previous). */
const acp_call *acp__call_bind(const acp_call *parent);
/* The monotonic clock of call deadlines, in microseconds. */
int64_t acp__deadline_now_us(void);

/* ---- child stores (child.c) ---- */

/* host->child. */
extern const acp_child_ops acp__child_ops;

/* ---- stores (store.c) ---- */

struct acp_store {
    acp__plugin *plugin;
    const acp_plugin_descriptor *desc;
    const acp_backend_vtable *vt;
    acp_backend *backend;
    int serial; /* plugin is not concurrent: one thread at a time */
    pthread_mutex_t mu;
    int64_t timeout_ms;
    size_t max_doc; /* documents larger than this are refused (max_document_bytes) */
    int versions;   /* the plugin keeps run versions (ACP_CAP_VERSIONS, ABI >= 1.2) */
    uint64_t caps;  /* the descriptor's, narrowed by the instance (vtable capabilities) */
    int64_t retain_us; /* option retain: purge final runs older than this; 0: never */
    _Atomic int64_t retain_next_us; /* the next automatic purge may start then */
    _Atomic int retain_busy;        /* 1 while a thread runs the automatic purge */
    char *retain_cursor; /* where the walk of the next one goes on (its runner's only) */
};

/* Fetch one run (session when session is set) as acp_run_get does, into
 * *item (its doc to free; its key NULL).  Errors: as acp_run_get. */
acp_status acp__store_get(acp_store *s, int session, const char *id, acp__item *item,
                          acp_error *err);
/* A run save with the record's version flags (ACP_RUN_IF_VERSION, IF_ABSENT,
 * SET_VERSION, IF_NEWER) and version, as a plugin's save_run receives them
 * (created_us: a restore's time, or ACP_RESTORE_CREATED_FROM_DOC).  *out
 * (may be NULL): the new version on ACP_OK, the version found on
 * ACP_CONFLICT (0: no such run, -1: not reported).  For child stores. */
acp_status acp__run_save_flags(acp_store *s, const char *json, size_t len, uint32_t flags,
                               int64_t version, int64_t created_us, int64_t *out, acp_error *err);
/* The run cursor of position (created_us, run_id), as next_cursor gives it
 * (to free), or NULL when out of memory. */
char *acp__cursor_make(int64_t created_us, const char *run_id);
/* ---- batched writes (batch.c) ---- */

/* Enter and leave a store's plugin (one thread at a time unless it is
 * concurrent), for the files beside store.c that call methods. */
static inline void acp__store_enter(acp_store *s)
{
    if (s->serial)
        pthread_mutex_lock(&s->mu);
}
static inline void acp__store_leave(acp_store *s)
{
    if (s->serial)
        pthread_mutex_unlock(&s->mu);
}

/* Open cfg.  for_migrate 0: acp_store_open_config(); else ACP__OPEN_MIGRATE,
 * or'ed with ACP_MIGRATE_DRY_RUN: the open of acp_store_migrate(), which
 * hands backends that take it migrate=inspect (and, for a dry run,
 * create=false) whatever cfg says. */
#define ACP__OPEN_MIGRATE (1u << 16)
acp_status acp__store_open(const acp_config *cfg, unsigned for_migrate, acp_store **out,
                           acp_error *err);

/* ---- migrations (migrate.c) ---- */

/* host->migrate_versions and host->migrate_step.  Outside a migrate call
 * (call->migrate NULL) they return non-zero. */
int acp__migrate_versions(acp_call *call, int64_t found, int64_t latest, const char *what);
int acp__migrate_step(acp_call *call, int64_t from, int64_t to, const char *description,
                      const char *detail);

/* Serialise entry into a plugin that is not concurrent (store.c). */
void acp__enter(acp_store *s);
void acp__leave(acp_store *s);
/* Copy a caller's size-prefixed struct (store.c, copy_sized). */
acp_status acp__copy_sized(void *dst, size_t dst_size, const void *src, const char *name,
                           const char *init, acp_error *err);

/* ---- run filters (run_filter.c) ---- */

#define ACP__N_STATUSES 7

/* A parsed status list: distinct names in the documented status order. */
typedef struct acp__statuses {
    const char *names[ACP__N_STATUSES];
    size_t n;
} acp__statuses;

/* Parse "completed,failed" (names separated by commas, no spaces, each one
 * of the seven statuses; repeats are merged).  `what` names the argument
 * in messages.  Errors: INVALID. */
acp_status acp__statuses_parse(const char *list, const char *what, acp__statuses *out,
                               acp_error *err);

/* ---- automatic retention (retain.c) ---- */

/* The retain option of cfg in microseconds (0 when absent).  Errors:
 * INVALID naming the option. */
acp_status acp__retain_option(const acp_config *cfg, int64_t *us, acp_error *err);
/* After a successful write: purge what the retain option says, when due. */
void acp__retain_tick(acp_store *s);
/* acp_store_purge, for a walk that goes on where the last one stopped:
 * *resume (NULL: the newest run) is replaced by where this one would go on
 * (NULL: the walk reached the end; backends with purge_runs: always NULL).
 * max_pages (0: no bound) bounds the pages a walk lists, matching or not;
 * backends with purge_runs are bounded by fn alone. */
acp_status acp__purge_resume(acp_store *s, const acp_purge_filter *filter,
                             acp_purge_progress_fn fn, void *ctx, char **resume, int max_pages,
                             int64_t *count, acp_error *err);

/* ---- statistics (stats.c) ---- */

/* host->stat: add one figure to the stats call's result. */
int acp__host_stat(acp_call *call, int kind, const char *label, int64_t value);

/* ---- options the core takes itself (core_options.c) ---- */

/* 1 if key is a core option: never passed to or checked by a plugin. */
int acp__core_option(const char *key);

/* The options handed to a plugin's open: checked against the descriptor
 * (typed specs, or option_names), canonical values, defaults filled in. */
typedef struct acp__open_opts {
    acp_plugin_option *v;
    size_t n;
    char **owned; /* the values, one per v[i] */
} acp__open_opts;

/* Check cfg's variant and options against d and build the options for its
 * open (to acp__open_opts_free).  for_migrate as for acp__store_open: the
 * open of acp_store_migrate() hands migrate=inspect (and, for a dry run,
 * create=false) to the backends that take them, whatever cfg says.
 * Errors: INVALID naming the variant or option, the value and what is
 * accepted; PLUGIN (a bad default in d); NOMEM. */
acp_status acp__open_opts_make(const acp_config *cfg, const acp_plugin_descriptor *d,
                               unsigned for_migrate, acp__open_opts *o, acp_error *err);
void acp__open_opts_free(acp__open_opts *o);
/* INVALID naming both sizes when a document of len bytes is over the
 * store's limit.  `what` is "run", "session" or "event". */
acp_status acp__doc_size_check(const acp_store *s, const char *what, size_t len, acp_error *err);

/* ---- verify (verify.c) ---- */

/* host->verify_item and host->verify_damage: check one item the backend
 * read, or count and forward one damage report.  0: go on; non-zero: stop
 * (out of memory, or the caller's callback asked to stop).  Outside a
 * verify call (call->verify NULL) they return non-zero. */
int acp__verify_item(acp_call *call, int kind, const acp_item *item);
int acp__verify_damage(acp_call *call, const acp_damage *d);

/* ---- cancel tokens (cancel.c) ---- */

/* The host services of wait_events (acp_storage_plugin.h). */
int64_t acp__host_emitted(acp_call *call);
int acp__host_cancel_fd(acp_call *call);
int acp__host_cancelled(acp_call *call);
int acp__host_cancel_watch(acp_call *call, void (*wake)(void *arg), void *arg);
void acp__host_cancel_unwatch(acp_call *call);

/* ---- keyed hash (hash.c) ---- */

/* host->hash: SipHash-1-3 under a per-process random key.  Thread-safe. */
uint64_t acp__hash(const void *data, size_t len);
/* The raw functions under a given key (for tests and the above). */
uint64_t acp__siphash13(uint64_t k0, uint64_t k1, const void *data, size_t len);
uint64_t acp__siphash24(uint64_t k0, uint64_t k1, const void *data, size_t len);

#endif /* ACP_CORE_INTERNAL_H */
