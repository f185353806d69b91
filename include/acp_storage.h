/* SPDX-License-Identifier: MIT */
/*
 * acp_storage.h - the application API of acp-storage.
 *
 * An application opens a store from a URI whose scheme names the backend
 * ("memory:", "sqlite:///var/lib/acp/acp.db", "file:///srv/acp",
 * "postgres://...", "redis://...", or a third-party "foo:...") and keeps ACP
 * runs, sessions and per-run event streams in it.  The backend is a plugin
 * (libacp_storage_<name>.so) loaded at run time; see acp_storage_plugin.h.
 *
 * Conventions for every function in this header:
 *  - Functions that can fail return an acp_status and take a last argument
 *    `acp_error *err`, which may be NULL.  On failure, *err receives the code
 *    and a message a person can act on.  On success *err is left untouched.
 *    Because each caller brings its own acp_error, messages are never mixed
 *    up between threads.
 *  - Invalid arguments (NULL where a value is needed, bad ids, bad limits)
 *    give ACP_INVALID and change nothing.  Nothing aborts the process,
 *    prints to stdout or calls exit().
 *  - Output pointers are set only on ACP_OK.  Strings returned through
 *    `char **` are allocated by the library and released with acp_free().
 *  - Documents are JSON text with an explicit length; pass ACP_STRLEN as the
 *    length of a NUL-terminated string.  Stored documents come back byte for
 *    byte as they were saved.
 *  - Ids (run ids, session ids) are UTF-8 strings of 1..256 bytes.
 *  - Thread safety: an acp_store may be used by many threads at once.  An
 *    acp_config, acp_page or typed object (acp_run, ...) must not be changed
 *    by one thread while another uses it; separate objects are independent.
 */
#ifndef ACP_STORAGE_H
#define ACP_STORAGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "acp_storage_status.h"
#include "acp_storage_version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(ACP_STORAGE_STATIC)
#define ACP_API
#elif defined(__GNUC__)
#define ACP_API __attribute__((visibility("default")))
#else
#define ACP_API
#endif

/* Length meaning "the string is NUL-terminated". */
#define ACP_STRLEN ((size_t)-1)
/* Longest run or session id, in bytes. */
#define ACP_ID_MAX 256
/* Size of the message buffer of an acp_error. */
#define ACP_ERROR_MESSAGE_MAX 1024

/* ------------------------------------------------------------------ */
/* Errors                                                               */
/* ------------------------------------------------------------------ */

/* The detail of a failure.  Declare one on the stack and pass its address;
 * the library never keeps the pointer. */
typedef struct acp_error {
    acp_status code;
    char message[ACP_ERROR_MESSAGE_MAX]; /* NUL-terminated, never secrets */
} acp_error;

/* The stable upper-case name of a status ("NOT_FOUND"); "UNKNOWN" for values
 * outside the enum.  Thread-safe; the string is static. */
ACP_API const char *acp_status_name(acp_status status);

/* A short English description of a status.  Thread-safe; static string. */
ACP_API const char *acp_status_describe(acp_status status);

/* Release memory the library returned through a `char **`.  NULL is fine. */
ACP_API void acp_free(void *ptr);

/* ------------------------------------------------------------------ */
/* Versions                                                             */
/* ------------------------------------------------------------------ */

/* The library version at run time ("0.1.0"); compare with
 * ACP_STORAGE_VERSION_STRING to detect a header/library mismatch. */
ACP_API const char *acp_version(void);

/* The plugin ABI (major, minor) this library hosts.  Either pointer may be
 * NULL. */
ACP_API void acp_plugin_abi(unsigned *major, unsigned *minor);

/* ------------------------------------------------------------------ */
/* Configuration                                                        */
/* ------------------------------------------------------------------ */

/* What to open: a backend name, its location and options, and where to look
 * for plugins.  Built from a URI, or piece by piece; both go through the
 * same checks.  Not thread-safe while being changed. */
typedef struct acp_config acp_config;

/* Create an empty configuration.  Errors: INVALID (out NULL), NOMEM. */
ACP_API acp_status acp_config_new(acp_config **out, acp_error *err);

/* Release a configuration.  NULL is fine. */
ACP_API void acp_config_free(acp_config *cfg);

/*
 * Fill cfg from a store URI:
 *   scheme ":" [ "//" authority ] path [ "?" key=value *( "&" key=value ) ]
 * The scheme selects the plugin: "name" or "name+variant" loads plugin
 * "name" ("postgresql" is an alias of "postgres").  The path and option
 * values are percent-decoded.  Replaces the backend, location and options
 * set before; plugin directories are kept.
 * Errors: INVALID (no scheme, bad scheme, bad percent escape, empty or
 * duplicate option key, NUL in a value).  On failure cfg is unchanged.
 */
ACP_API acp_status acp_config_parse_uri(acp_config *cfg, const char *uri, acp_error *err);

/* Set the backend by name ([a-z0-9_]{1,64}, or an alias).  Errors: INVALID. */
ACP_API acp_status acp_config_set_backend(acp_config *cfg, const char *name, acp_error *err);

/* Set one option.  The keys "path" and "authority" set the location parts
 * that a URI would carry; any other key is a backend option, checked
 * against the backend's accepted keys when the store is opened.  Setting a
 * key again replaces its value.  Errors: INVALID (empty key, NULL value).
 *
 * One option is understood for every backend: "create" ("true", the
 * default, or "false"; also "?create=false" in a URI).  With create=false,
 * opening a store that does not exist yet fails with ACP_NOT_FOUND instead
 * of making an empty one: for programs that only read.  Backends whose
 * stores are not created on open (memory, servers) ignore it.
 *
 * Another is understood for every backend: "migrate" ("auto", the default,
 * or "never").  With migrate=never, opening a store whose schema is older
 * than the plugin's (or that has no schema yet) fails with ACP_UNSUPPORTED
 * naming `acp-storage migrate` instead of changing the schema: for
 * applications whose database role has no right to change it.  Migrate
 * explicitly with acp_store_migrate().  Backends without a versioned schema
 * ignore it. */
ACP_API acp_status acp_config_set(acp_config *cfg, const char *key, const char *value,
                                  acp_error *err);

/* Append a plugin directory, searched before ACP_STORAGE_PLUGIN_PATH and
 * the install directory.  Must be absolute.  Errors: INVALID, NOMEM. */
ACP_API acp_status acp_config_add_plugin_dir(acp_config *cfg, const char *dir, acp_error *err);

/* Load the backend from this exact shared object (absolute path) instead
 * of searching by name.  The plugin's own name must still match the
 * configured backend name when one is set.  Errors: INVALID, NOMEM. */
ACP_API acp_status acp_config_set_plugin_file(acp_config *cfg, const char *so_path,
                                              acp_error *err);

/* Bound for each call into a networked backend, in milliseconds (default
 * 30000; 0 means no bound).  Errors: INVALID (negative). */
ACP_API acp_status acp_config_set_timeout_ms(acp_config *cfg, int64_t ms, acp_error *err);

/* Documents larger than this many bytes are refused (INVALID) unless the
 * store option max_document_bytes says otherwise. */
#define ACP_DOCUMENT_MAX_DEFAULT ((size_t)16 << 20)

/* The document size limit cfg gives: its option max_document_bytes (a
 * plain decimal number of bytes, 1..1073741824, accepted by every backend
 * and taken by the core, never by the plugin), or ACP_DOCUMENT_MAX_DEFAULT.
 * Programs that read documents before saving them bound their reads with
 * it.  Errors: INVALID (NULL argument, malformed or out-of-range value). */
ACP_API acp_status acp_config_max_document_bytes(const acp_config *cfg, size_t *max,
                                                 acp_error *err);

/* The configured backend name (after alias resolution), or NULL. */
ACP_API const char *acp_config_backend(const acp_config *cfg);

/* The configuration as a URI with any password replaced by "***".
 * Returns a string to acp_free(), or NULL when out of memory. */
ACP_API char *acp_config_redacted_uri(const acp_config *cfg);

/* The i-th plugin directory searched for cfg (cfg may be NULL): the
 * configured ones, the absolute entries of ACP_STORAGE_PLUGIN_PATH, then
 * the install directory.  NULL past the end (or when out of memory).  The
 * environment is read on each call, as every store open reads it, so the
 * answer is what an open made now would search.  The string lives as long
 * as the process.  Thread-safe: cfg is only read. */
ACP_API const char *acp_config_plugin_dir(const acp_config *cfg, size_t i);

/* ---- profiles: a configuration file instead of secrets on the command line ---- */

/*
 * Fill cfg from the profile `name` of an acp-storage configuration file
 * (format: docs/configuration.md, acp-storage(1) FILES):
 *
 *   [profile prod]
 *   uri = postgres://acp@db1/acp?sslmode=verify-full
 *   password_file = /etc/acp-storage/prod.password
 *   timeout = 5s
 *   schema = prod
 *
 * name NULL means $ACP_STORAGE_PROFILE, else "default".  path NULL means
 * $XDG_CONFIG_HOME/acp-storage/config (when XDG_CONFIG_HOME is absolute),
 * else $HOME/.config/acp-storage/config.  The profile's uri (or backend and
 * path) replaces cfg's location and options as acp_config_parse_uri() does;
 * each other key is set with acp_config_set(); timeout sets
 * acp_config_set_timeout_ms(); password_file reads a password from a file
 * and sets the option "password" (for backends that take one: postgres,
 * redis).  The file is parsed whole before cfg is touched: on failure cfg
 * is unchanged.
 *
 * Safety: the configuration file must be a regular file owned by the user
 * or root and not writable by group or others.  A password file must be a
 * regular file that is not a symbolic link, owned by the user (then with no
 * permission for group or others: chmod 600) or by root (then readable by
 * its group at most: 640); its first line is the password (a trailing "\n"
 * or "\r\n" is removed).  Messages never include a password.
 *
 * Errors: INVALID (a syntax error, named by file and line; an unknown or
 * repeated key; a password file that is unsafe, empty or too long;
 * arguments NULL), NOT_FOUND (no such file, or no such profile: the message
 * lists the profiles the file has), IO (cannot read a file), NOMEM.
 * Thread-safety: reads the environment and cfg is changed: not while another
 * thread uses cfg.  cfg stays owned by the caller.
 */
ACP_API acp_status acp_config_load_profile(acp_config *cfg, const char *name, const char *path,
                                           acp_error *err);

/* The configuration file acp_config_load_profile() reads when given no
 * path, as a string to acp_free(); NULL when neither XDG_CONFIG_HOME nor
 * HOME is an absolute path (or out of memory).  Whether the file exists is
 * not checked.  Thread-safe (reads the environment). */
ACP_API char *acp_config_file_default(void);

/* ------------------------------------------------------------------ */
/* Plugins                                                              */
/* ------------------------------------------------------------------ */

/* One typed option of a backend, as its plugin describes it
 * (acp_option_spec in acp_storage_plugin.h).  Handed out as an array
 * (acp_plugin_info.options), so this struct never changes. */
typedef struct acp_option_info {
    const char *name;          /* the key; "*": any other key, passed on as text */
    const char *type;          /* "string", "integer", "boolean", "enum",
                                  "duration" or "size" ("unknown" for a type
                                  this library does not know) */
    const char *default_value; /* as a user would write it, or NULL: none */
    int secret;                /* the value is a secret, never shown */
    const char *doc;           /* one line ("" when the plugin gives none) */
    const char *values;        /* enum: the accepted values separated by '|';
                                  "" for other types */
} acp_option_info;

/* One plugin file found in a plugin directory. */
typedef struct acp_plugin_info {
    const char *name;        /* from the file name */
    const char *path;        /* the file */
    acp_status status;       /* ACP_OK if it loads, else ACP_LOAD */
    const char *message;     /* why it was refused ("" when loaded) */
    const char *version;     /* plugin version ("" when refused) */
    const char *description; /* one line ("" when refused) */
    unsigned abi_major;      /* 0 when unknown */
    unsigned abi_minor;
    uint64_t capabilities;   /* ACP_CAP_* of acp_storage_plugin.h */
    int shadowed;            /* an earlier directory has the same name */
    int crash_signal;        /* the signal that killed it while loading, or 0 */
    /* Its typed options, in the plugin's order (a loaded plugin whose
     * descriptor has them: ABI 1.2); 0 and NULL otherwise. */
    size_t n_options;
    const acp_option_info *options;
} acp_plugin_info;

typedef struct acp_plugin_list acp_plugin_list;

/* List every libacp_storage_*.so in the plugin directories of cfg (cfg may
 * be NULL) and try to load each.  Loading runs no plugin code other than
 * the entry function and, for plugins that load, their init.  Each file is
 * loaded in a child process (fork), so that a plugin that crashes or hangs
 * there is listed (status ACP_LOAD, crash_signal, a message) instead of
 * ending the caller; nothing is left loaded in the caller.
 * Errors: NOMEM. */
ACP_API acp_status acp_plugins_scan(const acp_config *cfg, acp_plugin_list **out,
                                    acp_error *err);
ACP_API size_t acp_plugin_list_count(const acp_plugin_list *list);
/* The i-th entry, or NULL past the end.  Valid until the list is freed. */
ACP_API const acp_plugin_info *acp_plugin_list_get(const acp_plugin_list *list, size_t i);
ACP_API void acp_plugin_list_free(acp_plugin_list *list);

/* ------------------------------------------------------------------ */
/* Stores                                                               */
/* ------------------------------------------------------------------ */

typedef struct acp_store acp_store;

/*
 * Open the store named by uri.  When uri is NULL the environment variable
 * ACP_STORAGE_URL is used; when that is unset too, ACP_INVALID (the library
 * never picks a store silently).  Errors: INVALID (bad URI or option),
 * LOAD (plugin missing or refused: the message names the paths tried and
 * the reason), and whatever the backend reports (IO, CORRUPT, UNAVAILABLE,
 * NOMEM, ...).  The returned handle is used by any number of threads and
 * released with acp_store_close().
 */
ACP_API acp_status acp_store_open(const char *uri, acp_store **out, acp_error *err);

/* Open the store described by cfg (cfg may be freed afterwards).
 * Errors: as acp_store_open(). */
ACP_API acp_status acp_store_open_config(const acp_config *cfg, acp_store **out,
                                         acp_error *err);

/* Close the store and release everything.  No call may be running on it or
 * be made afterwards.  NULL is fine. */
ACP_API void acp_store_close(acp_store *store);

/* The backend name ("sqlite"), the plugin's version and its ACP_CAP_*
 * flags.  Strings live as long as the process. */
ACP_API const char *acp_store_backend(const acp_store *store);
ACP_API const char *acp_store_backend_version(const acp_store *store);
ACP_API uint64_t acp_store_capabilities(const acp_store *store);

/* The largest document, in bytes, this store accepts (see
 * acp_config_max_document_bytes()); 0 for a NULL store. */
ACP_API size_t acp_store_max_document_bytes(const acp_store *store);

/* Check the store is healthy, within the configured timeout.
 * Errors: UNAVAILABLE, IO, CORRUPT. */
ACP_API acp_status acp_store_ping(acp_store *store, acp_error *err);

/* ---- verify ---- */

/* What acp_store_verify() looked at.  The caller allocates it, so its
 * layout never changes (a later need gets a new struct and function). */
typedef struct acp_verify_counts {
    int64_t runs, sessions, events; /* items checked */
    int64_t damaged;                /* damaged items reported */
    int64_t quarantined;            /* of those, moved aside */
} acp_verify_counts;

/* Called once per damaged item (see acp_damage in acp_storage_status.h; its
 * pointers live only during the call).  Return 0 to go on, non-zero to stop
 * the walk. */
typedef int (*acp_verify_fn)(void *ctx, const acp_damage *damage);

/*
 * Walk the whole store and check every document, event record and index:
 * runs and sessions must pass the checks acp_run_save()/acp_session_save()
 * apply and be stored under their own id; events must be objects with a
 * string "type" and a sequence >= 1.  Backends with their own verify also
 * check what only they can see (checksums, indexes, stray files); the others
 * are walked through list and get, and an item they answer CORRUPT for is
 * reported as damaged.  Each damaged item goes to fn (fn may be NULL).
 * flags: ACP_VERIFY_QUARANTINE moves damaged items aside where the backend
 * can (backends without their own verify cannot: nothing is moved).
 * counts (may be NULL) receives what was checked, also on failure.
 * Returns ACP_OK when nothing is damaged; ACP_CORRUPT when anything is
 * (also when fn stopped the walk early: counts are then partial); other
 * codes (IO, UNAVAILABLE, NOMEM, UNSUPPORTED...) when the walk itself
 * failed.  Not bounded by the call timeout; takes as long as the store is
 * large.  Thread-safe like every store call; other calls may run meanwhile
 * (a backend that is not concurrent waits for the walk).  fn may be called
 * while the backend holds its locks: it must not call into the same store.
 */
ACP_API acp_status acp_store_verify(acp_store *store, unsigned flags, acp_verify_fn fn,
                                    void *ctx, acp_verify_counts *counts, acp_error *err);

/* ---- migrate ---- */

/* What acp_store_migrate() found.  The caller allocates it, so its layout
 * never changes (a later need gets a new struct and function). */
typedef struct acp_migrate_info {
    int64_t found;  /* the stored schema version (0: no store yet); -1 when the backend keeps
                       no versioned schema (memory, ...): nothing to migrate */
    int64_t latest; /* the latest version the plugin knows (-1 as above) */
    int64_t steps;  /* steps reported to fn */
    int migrated;   /* 1 when steps were performed (not with ACP_MIGRATE_DRY_RUN) */
    char what[32];  /* what the version counts: "schema version", "format version", or "" */
} acp_migrate_info;

/* Called once per step, in the order the steps run: from -> to, a one-line
 * description, and the statements or change it makes (detail, may be
 * NULL).  Pointers live only during the call.  Return 0 to go on, non-zero
 * to stop (nothing is migrated then). */
typedef int (*acp_migrate_fn)(void *ctx, int64_t from, int64_t to, const char *description,
                              const char *detail);

/*
 * Bring the store cfg names to the latest schema version its backend
 * knows, explicitly: for a store opened with the option migrate=never
 * (acp_config_set), which then refuses an older schema instead of
 * migrating it on open.  Reports the version found and every step to fn
 * (may be NULL), derived from the table of steps the backend migrates
 * with.  flags: ACP_MIGRATE_DRY_RUN only reports and changes nothing (and
 * creates nothing: a store that does not exist is NOT_FOUND).  Without it,
 * the steps run as an open with migrate=auto would run them (sqlite and
 * postgres: in one transaction, all or nothing).  info (may be NULL)
 * receives what was found, also on failure.  The store is opened and
 * closed by this call; other processes may use it meanwhile (a migration
 * takes the locks an open would).  Backends without versions (memory,
 * third-party plugins without a migrate method) report found = latest = -1
 * and no steps.
 * Errors: as acp_store_open_config(); UNSUPPORTED (a store newer than the
 * plugin, or mode=ro without DRY_RUN); backend errors of a failed step
 * (the store is left as it was).  Not bounded by the call timeout once the
 * steps run.  Thread-safe like acp_store_open_config().
 */
ACP_API acp_status acp_store_migrate(const acp_config *cfg, unsigned flags, acp_migrate_fn fn,
                                     void *ctx, acp_migrate_info *info, acp_error *err);

/* ---- runs ---- */

/*
 * Insert or replace a run.  json must be an object with string "run_id"
 * (1..256 bytes), string "agent_name" (1..256 bytes), "status" among created,
 * in-progress, awaiting, cancelling, cancelled, completed, failed, and
 * optional "session_id" (string or null), "created_at", "finished_at"
 * (RFC 3339, or null).  The document is stored as given; a run without
 * created_at is ordered by the time of its first save.  len may be
 * ACP_STRLEN for a C string; the document is then handed to the backend
 * without a copy (the same holds for acp_session_save and acp_event_add;
 * with a counted length the store copies it to add the terminating NUL
 * backends are promised).
 * Errors: INVALID (nothing stored), and backend errors.
 */
ACP_API acp_status acp_run_save(acp_store *store, const char *json, size_t len,
                                acp_error *err);

/* Fetch a run's document into *json (to acp_free), its length into *len
 * (len may be NULL).  Errors: NOT_FOUND, INVALID, backend errors. */
ACP_API acp_status acp_run_get(acp_store *store, const char *run_id, char **json,
                               size_t *len, acp_error *err);

/* Delete a run and all its events.  Errors: NOT_FOUND (neither a run nor
 * events existed), INVALID, backend errors. */
ACP_API acp_status acp_run_delete(acp_store *store, const char *run_id, acp_error *err);

/* Filter and paging for acp_run_list().  Initialise with
 * ACP_RUN_FILTER_INIT so that fields added later get their defaults. */
typedef struct acp_run_filter {
    size_t size;            /* sizeof(acp_run_filter) */
    const char *agent_name; /* exact match (1..256 bytes UTF-8), or NULL */
    const char *session_id; /* exact match, or NULL */
    int64_t limit;          /* 0..1000, default 10 */
    int64_t offset;         /* >= 0, default 0 */
    const char *cursor;     /* acp_page_next_cursor() of an earlier page, or NULL */
    int want_total;         /* count every match (costs a count) */
    /* ---- operator filters (appended; older callers get the defaults) ---- */
    /* Run status: one name or several separated by commas
     * ("completed,failed"; each one of the seven statuses, no spaces), or
     * NULL: any status. */
    const char *status;
    /* Creation time range, microseconds since the epoch: created_us >=
     * created_since_us and created_us < created_until_us; ACP_TIME_NONE
     * leaves that end open. */
    int64_t created_since_us;
    int64_t created_until_us;
} acp_run_filter;
/* "No bound" for the time members of acp_run_filter and acp_purge_filter. */
#define ACP_TIME_NONE INT64_MIN
#define ACP_RUN_FILTER_INIT                                                                      \
    {sizeof(acp_run_filter), NULL, NULL, 10, 0, NULL, 0, NULL, ACP_TIME_NONE, ACP_TIME_NONE}

/* A page of results: runs, sessions or events. */
typedef struct acp_page acp_page;

/* List runs newest first (created_at, ties by run_id descending).  filter
 * NULL means the defaults.  A cursor is a position in that order: it stays
 * valid under any filter (the next page starts strictly after it).
 * Errors: INVALID (limit, offset, cursor, an unknown status name, an empty
 * time range, or a filter from a newer header with a field set that this
 * library does not know), UNSUPPORTED (status or time filters on a backend
 * that cannot apply them: ACP_CAP_RUN_FILTERS is missing from
 * acp_store_capabilities; the library never answers unfiltered), and
 * backend errors. */
ACP_API acp_status acp_run_list(acp_store *store, const acp_run_filter *filter,
                                acp_page **out, acp_error *err);

/* ---- run versions ---- */
/* Every run stored by a backend with ACP_CAP_VERSIONS (acp_storage_plugin.h;
 * all shipped backends) carries a version: an int64 >= 1 that grows with
 * every save, also across delete and re-create (the rule:
 * docs/storage-contract.md, "Run versions").  A backend without it reports
 * version 0 and refuses conditional saves and restores with UNSUPPORTED. */

/* expect_version of acp_run_save_if: the run must not exist yet. */
#define ACP_VERSION_ABSENT 0
/* The largest version: 2^53 - 1, so that a version is exact wherever it
 * goes (a double in a script, a number in JSON). */
#define ACP_VERSION_MAX ((int64_t)9007199254740991)

/* As acp_run_save; *version (may be NULL) receives the version the run now
 * has (0 when the backend keeps no versions).  Errors: as acp_run_save.
 * Thread-safe. */
ACP_API acp_status acp_run_save_versioned(acp_store *store, const char *json, size_t len,
                                          int64_t *version, acp_error *err);

/* Conditional save: store the run only if it is at version expect_version
 * (>= 1), or, with ACP_VERSION_ABSENT, only if it does not exist; checked and
 * written in one atomic step against every other writer (threads,
 * processes, machines).  *version (may be NULL) receives the new version.
 * For read-modify-write: get with acp_run_get_versioned, change, save with
 * the version read, and on CONFLICT read again and retry.
 * Errors: CONFLICT (another writer got there first: nothing stored, the
 * message names the expected and the actual version), INVALID (bad document,
 * negative expect_version), UNSUPPORTED (backend without versions), backend
 * errors.  Thread-safe. */
ACP_API acp_status acp_run_save_if(acp_store *store, const char *json, size_t len,
                                   int64_t expect_version, int64_t *version, acp_error *err);

/* As acp_run_get; *version (may be NULL) receives the run's version (0 when
 * the backend keeps no versions).  Errors: as acp_run_get.  Thread-safe. */
ACP_API acp_status acp_run_get_versioned(acp_store *store, const char *run_id, char **json,
                                         size_t *len, int64_t *version, acp_error *err);

/* flags of acp_run_restore: store only when the run is absent or stored at
 * a lower version (else CONFLICT, nothing stored). */
#define ACP_RESTORE_IF_NEWER 1u
/* created_us of acp_run_restore: take created_at from the document, as a
 * save does (a run without it keeps the stored time, or gets now). */
#define ACP_RESTORE_CREATED_FROM_DOC INT64_MIN

/* Restore or fill: store a run with exactly the given version (>= 1) and
 * creation time (microseconds since the epoch, or
 * ACP_RESTORE_CREATED_FROM_DOC), replacing what is stored whatever its
 * version, or with ACP_RESTORE_IF_NEWER only if nothing newer is stored.
 * For copies between stores that keep versions (copy, import) and for a
 * cache filling its front from the store behind it.  Later saves continue
 * above the restored version.  Errors: CONFLICT (IF_NEWER and the stored
 * version is >= version: nothing stored; the message names both), INVALID
 * (bad document, version outside 1..ACP_VERSION_MAX, unknown flags), UNSUPPORTED (backend without
 * versions), backend errors.  Thread-safe. */
ACP_API acp_status acp_run_restore(acp_store *store, const char *json, size_t len,
                                   int64_t version, int64_t created_us, unsigned flags,
                                   acp_error *err);

/* ---- sessions ---- */

/* Insert or replace a session: an object with string "id" (1..256 bytes);
 * "state" and "history" are stored as given.  Errors: INVALID, backend. */
ACP_API acp_status acp_session_save(acp_store *store, const char *json, size_t len,
                                    acp_error *err);
/* Errors: NOT_FOUND, INVALID, backend errors. */
ACP_API acp_status acp_session_get(acp_store *store, const char *session_id, char **json,
                                   size_t *len, acp_error *err);
/* acp_run_get and acp_session_get into the caller's buffer: one call and
 * nothing to free, for bindings (Python ctypes, Ruby ffi) where a foreign
 * call costs more than the copy.  *len always receives the document's
 * length in bytes; the document and a terminating NUL are copied to buf
 * only when they fit (*len < cap), and buf is left as it was otherwise: a
 * caller that gets *len >= cap calls again with a buffer of at least
 * *len + 1 bytes (the document may have changed meanwhile: check again).
 * buf may be NULL when cap is 0; len must not be NULL.  Errors as
 * acp_run_get / acp_session_get.  Thread-safety as theirs. */
ACP_API acp_status acp_run_get_buf(acp_store *store, const char *run_id, char *buf, size_t cap,
                                   size_t *len, acp_error *err);
ACP_API acp_status acp_session_get_buf(acp_store *store, const char *session_id, char *buf,
                                       size_t cap, size_t *len, acp_error *err);
/* Remove only the session (its runs stay).  Errors: NOT_FOUND, INVALID. */
ACP_API acp_status acp_session_delete(acp_store *store, const char *session_id,
                                      acp_error *err);
/* Sessions with id > after_id (NULL: from the first), ascending byte-wise,
 * at most limit (1..1000).  Errors: INVALID, UNSUPPORTED, backend errors. */
ACP_API acp_status acp_session_list(acp_store *store, const char *after_id, int64_t limit,
                                    acp_page **out, acp_error *err);

/* ---- events ---- */

/* Append an event (an object with a string "type") to run_id's stream; a
 * run record need not exist.  The store assigns the next sequence number
 * (from 1, no gaps) and the storage time; *seq receives the number (seq may
 * be NULL).  Errors: INVALID (nothing stored), backend errors. */
ACP_API acp_status acp_event_add(acp_store *store, const char *run_id, const char *json,
                                 size_t len, int64_t *seq, acp_error *err);

typedef struct acp_event_filter {
    size_t size;       /* sizeof(acp_event_filter) */
    int64_t limit;     /* 0..1000, default 100 */
    int64_t offset;    /* >= 0, default 0 */
    int64_t after_seq; /* only events after this sequence; 0: from the start */
} acp_event_filter;
#define ACP_EVENT_FILTER_INIT {sizeof(acp_event_filter), 100, 0, 0}

/* A run's events in sequence order; an unknown run gives an empty page.
 * filter NULL means the defaults.  Errors: INVALID, backend errors. */
ACP_API acp_status acp_event_list(acp_store *store, const char *run_id,
                                  const acp_event_filter *filter, acp_page **out,
                                  acp_error *err);

/* The events of several runs in one call (copy, export): those of
 * run_ids[0] with seq > after_seq, then every event of run_ids[1], ... in
 * array order, each run's in sequence order, at most limit (1..1000) in all;
 * acp_page_key(p, i) is each event's run id.  A full page (count == limit)
 * may have more: ask again from its last event's run and seq.  A run without
 * events contributes nothing.  The ids must be distinct (n: 1..1000).  One
 * round trip where the backend has the method (get_events_of_runs), else
 * one acp_event_list per run.  Errors: INVALID, backend errors. */
ACP_API acp_status acp_event_list_runs(acp_store *store, const char *const *run_ids, size_t n,
                                       int64_t after_seq, int64_t limit, acp_page **out,
                                       acp_error *err);

/* ---- following a run ---- */

/* A cancel token: fired from any thread, it ends the waits it was given to
 * (acp_event_follow) at once, now and later.  Create with acp_cancel_new
 * (Errors: NOMEM, IO when the kernel refuses a descriptor), free with
 * acp_cancel_free once no wait uses it.  acp_cancel_fire is thread-safe but
 * not async-signal-safe (it may take a lock): from a signal, fire it from a
 * thread that waits for the signal (sigwait), as the command line does. */
typedef struct acp_cancel acp_cancel;
ACP_API acp_status acp_cancel_new(acp_cancel **out, acp_error *err);
ACP_API void acp_cancel_fire(acp_cancel *cancel);
/* 1 once fired, else 0 (NULL: 0). */
ACP_API int acp_cancel_fired(const acp_cancel *cancel);
ACP_API void acp_cancel_free(acp_cancel *cancel);

/* Follow a run: the events of run_id after after_seq (at most limit,
 * 1..1000), like acp_event_list; when there are none yet, wait until one is
 * stored by any thread or process (any machine, for networked backends)
 * and return from there.  On timeout (timeout_ms; < 0: no limit; 0: look
 * without waiting) or when
 * cancel (may be NULL) is fired, returns ACP_OK with an empty page: tell the
 * two apart with acp_cancel_fired.  A follower resumes after the last seq it
 * saw, so nothing is lost or repeated across reconnects.  The wait is woken
 * natively (no polling; acp_store_capabilities has ACP_CAP_FOLLOW).  Errors:
 * INVALID, UNSUPPORTED (backend without follow, or not concurrent), backend
 * errors (ACP_UNAVAILABLE while a server is down: call again to resume).
 * Thread-safe: many threads may follow on one store. */
ACP_API acp_status acp_event_follow(acp_store *store, const char *run_id, int64_t after_seq,
                                    int64_t limit, int64_t timeout_ms, acp_cancel *cancel,
                                    acp_page **out, acp_error *err);

/* ---- pages ---- */

/* Number of items. */
ACP_API size_t acp_page_count(const acp_page *page);
/* The i-th document (NUL-terminated) and its length (len may be NULL);
 * NULL past the end.  Valid until the page is freed. */
ACP_API const char *acp_page_json(const acp_page *page, size_t i, size_t *len);
/* The run id or session id of the i-th item (NULL for events). */
ACP_API const char *acp_page_key(const acp_page *page, size_t i);
/* The sequence number of the i-th event (0 for runs and sessions). */
ACP_API int64_t acp_page_seq(const acp_page *page, size_t i);
/* Runs: the stored version (0 for sessions, events, and runs of a backend
 * without versions; see acp_run_save_versioned). */
ACP_API int64_t acp_page_version(const acp_page *page, size_t i);
/* Runs: created_at as microseconds since the epoch; events: storage time. */
ACP_API int64_t acp_page_time_us(const acp_page *page, size_t i);
/* Total matches of acp_run_list() with want_total, else -1. */
ACP_API int64_t acp_page_total(const acp_page *page);
/* Where the next page starts, or NULL when this page was the last: for
 * runs an opaque cursor for acp_run_filter.cursor, for sessions the
 * after_id, for events the after_seq as decimal text. */
ACP_API const char *acp_page_next_cursor(const acp_page *page);
ACP_API void acp_page_free(acp_page *page);

/* ------------------------------------------------------------------ */
/* Operations: retention and statistics (docs/operations.md)            */
/* ------------------------------------------------------------------ */

/* What acp_store_purge() removes: runs whose status is among `status` and
 * whose finished_at is before finished_before_us (runs without finished_at
 * never match), optionally of one agent.  Initialise with
 * ACP_PURGE_FILTER_INIT so that fields added later get their defaults. */
typedef struct acp_purge_filter {
    size_t size;                /* sizeof(acp_purge_filter) */
    const char *status;         /* as acp_run_filter.status; NULL: the final
                                   statuses completed,failed,cancelled */
    int64_t finished_before_us; /* required (ACP_TIME_NONE is refused) */
    const char *agent_name;     /* exact match, or NULL: any agent */
    int dry_run;                /* count the matches, delete nothing */
    int64_t batch_size;         /* runs per batch, 1..1000, default 100 */
} acp_purge_filter;
#define ACP_PURGE_FILTER_INIT {sizeof(acp_purge_filter), NULL, ACP_TIME_NONE, NULL, 0, 100}

/* Called after each batch with the runs deleted (or, in a dry run,
 * counted) so far.  Return 0 to go on, non-zero to stop after this batch
 * (acp_store_purge then returns ACP_OK with the count so far). */
typedef int (*acp_purge_progress_fn)(void *ctx, int64_t done);

/*
 * Delete the runs filter matches, each with all its events, in batches of
 * at most batch_size runs.  Where the backend has transactions and a
 * batched delete (sqlite, postgres), each batch is one transaction; others
 * delete run by run (each run and its events at once).  Stopping at any
 * moment (the progress callback, a signal, a crash) leaves every run either
 * whole or gone, so running the same purge again finishes the work.
 * *count (may be NULL) receives the runs deleted (counted, in a dry run),
 * also on failure.  fn may be NULL.  Not bounded by the call timeout as a
 * whole (each batch is).  Errors: INVALID (filter), backend errors.
 * Thread-safe; other calls may run between batches.
 */
ACP_API acp_status acp_store_purge(acp_store *store, const acp_purge_filter *filter,
                                   acp_purge_progress_fn fn, void *ctx, int64_t *count,
                                   acp_error *err);

/* Parse a duration: digits and one unit, s (seconds), m (minutes),
 * h (hours), d (days) or w (weeks): "30d", "12h".  *us receives it in
 * microseconds.  The store option "retain" and the command's relative
 * times use it.  Errors: INVALID (anything else, or over 100 years). */
ACP_API acp_status acp_duration_parse(const char *text, int64_t *us, acp_error *err);

/*
 * Automatic retention: the store option "retain=<duration>" (every
 * backend; taken by the core, e.g. "sqlite:///x.db?retain=30d") purges
 * runs in a final status (completed, failed, cancelled) that finished
 * longer ago than the duration.  The store applies it on writes: a run
 * save starts a purge of at most 10 batches of 100 runs when the last one
 * was more than a minute ago (one at a time per handle).  A purge failure
 * never fails the save.  See docs/operations.md for what expires where.
 */

/* ---- archive tiers (the archive backend; docs/storage-contract.md) ---- */

/* Called after each batch with the runs moved so far.  Return 0 to go on,
 * non-zero to stop after this batch. */
typedef int (*acp_archive_progress_fn)(void *ctx, int64_t moved);

/*
 * Move the runs that are due (final status for at least the store's
 * "after" time) from the hot tier of an archive store
 * ("archive:?hot=URI&cold=URI&after=SECONDS") to its cold tier, each with
 * its events, versions, creation and storage times, in batches of at most
 * 100 runs; at most limit runs (<= 0: every run due).  Stopping at any
 * moment (fn, a signal, a crash) shows every run exactly once; the next
 * call finishes a half move.  *count (may be NULL) receives the runs moved,
 * also on failure.  fn may be NULL.  Errors: UNSUPPORTED (the store has no
 * tiers: every backend but archive), backend errors.  Thread-safe.
 */
ACP_API acp_status acp_store_archive(acp_store *store, int64_t limit,
                                     acp_archive_progress_fn fn, void *ctx, int64_t *count,
                                     acp_error *err);

/* Figures about a store (acp_store_stats).  Opaque. */
typedef struct acp_stats acp_stats;

/*
 * Gather the figures of a store: runs (ACP_STAT_RUNS), runs by status and
 * by agent, sessions, events, bytes held, the schema version (kinds in
 * acp_storage_status.h).  Backends that keep counters answer from them;
 * for the others the library walks every run, session and event stream
 * (acp_stats_scanned() is then 1, and bytes counts document bytes only).
 * Errors: NOMEM, backend errors.  Thread-safe.
 */
ACP_API acp_status acp_store_stats(acp_store *store, acp_stats **out, acp_error *err);
/* Number of figures. */
ACP_API size_t acp_stats_count(const acp_stats *stats);
/* Figure i: its kind (ACP_STAT_*), label (status or agent name for the
 * "by" kinds, else NULL) and value; 0 past the end (outputs unchanged),
 * 1 otherwise.  Strings live as long as stats. */
ACP_API int acp_stats_get(const acp_stats *stats, size_t i, int *kind, const char **label,
                          int64_t *value);
/* The value of the figure kind (with label, or NULL), or -1 when the
 * store did not report it. */
ACP_API int64_t acp_stats_value(const acp_stats *stats, int kind, const char *label);
/* 1 when the figures were computed by walking the store, 0 when the
 * backend answered from its counters. */
ACP_API int acp_stats_scanned(const acp_stats *stats);
/* The stable lower-case name of a kind ("runs_by_status"), or "unknown". */
ACP_API const char *acp_stat_name(int kind);
ACP_API void acp_stats_free(acp_stats *stats);

/* ------------------------------------------------------------------ */
/* Batched and restoring writes                                         */
/* ------------------------------------------------------------------ */
/* Many writes in one call: one transaction (sqlite, postgres), pipeline
 * (redis) or flush (file) where the backend has the batched methods, else
 * a loop in the library.  Every document is checked first: one invalid
 * document fails the call with INVALID (its index in the message) and
 * nothing is stored.  When a call fails after that (IO, UNAVAILABLE...),
 * part of the batch may be stored on backends without transactions, as
 * after a crash between single calls: read back to find out.  Thread-safe
 * like every store call. */

/* Save n runs (upsert, as acp_run_save() each, in order); json[i] has
 * len[i] bytes (ACP_STRLEN: NUL-terminated; len may be NULL when all are).
 * Errors: INVALID, backend errors. */
ACP_API acp_status acp_run_save_many(acp_store *store, const char *const *json,
                                     const size_t *len, size_t n, acp_error *err);

/* Append n events to run_id in order (as acp_event_add() each); seqs (may be
 * NULL) receives the n sequence numbers.  Errors: INVALID, backend errors. */
ACP_API acp_status acp_event_add_many(acp_store *store, const char *run_id,
                                      const char *const *json, const size_t *len, size_t n,
                                      int64_t *seqs, acp_error *err);

/* A run as it was in another store: its document and the creation time
 * that store ordered it by (used even when the document has no created_at). */
typedef struct acp_restore_run {
    const char *json;
    size_t len;         /* or ACP_STRLEN */
    int64_t created_us;
} acp_restore_run;

/* An event as it was in another store: its run, sequence and storage time. */
typedef struct acp_restore_event {
    const char *run_id;
    const char *json;
    size_t len;         /* or ACP_STRLEN */
    int64_t seq;        /* >= 1 */
    int64_t stored_us;
} acp_restore_event;

/* Store runs that do not exist yet, with their original creation times.
 * results[i] (results must not be NULL) is ACP_OK, or ACP_CONFLICT when the
 * run exists already (it is left untouched).  Returns ACP_OK when every run
 * has its result.  Errors: INVALID, backend errors. */
ACP_API acp_status acp_run_restore_many(acp_store *store, const acp_restore_run *runs,
                                        size_t n, acp_status *results, acp_error *err);

/* Store events with their original sequence numbers and storage times, in
 * order (events of several runs may be mixed).  An event is stored only if
 * its seq is exactly its run's next sequence at that point (results[i] =
 * ACP_OK); otherwise results[i] = ACP_CONFLICT and it is not stored, so
 * sequences stay gapless.  Returns ACP_OK when every event has its result.
 * Errors: INVALID (a seq < 1, a bad id or document), backend errors. */
ACP_API acp_status acp_event_restore_many(acp_store *store, const acp_restore_event *events,
                                          size_t n, acp_status *results, acp_error *err);

/* ------------------------------------------------------------------ */
/* Moving data: copy, export, import, diff (docs/dump-format.md)        */
/* ------------------------------------------------------------------ */

/* What a copy, export or import has done so far.  The library fills it;
 * runs_total and sessions_total are -1 when unknown. */
typedef struct acp_copy_report {
    int64_t sessions, runs, events; /* items read from the source and handled */
    int64_t runs_total, sessions_total;
    int64_t skipped;   /* runs and sessions already in the target, equal (resume) */
    int64_t conflicts; /* runs and sessions not copied because of a conflict */
    /* Set only in a call that reports one item (a conflict): its kind
     * ("run" or "session"), id, status and message; else NULL / ACP_OK. */
    const char *item_kind;
    const char *item_id;
    acp_status item_status;
    const char *item_message;
} acp_copy_report;

/* Called after each run (progress) and once for each item that was not
 * copied (item_kind set).  The report lives only during the call.  Return
 * 0 to go on, non-zero to stop the copy (it then returns ACP_INVALID,
 * "stopped by the caller"; what is copied stays, --resume continues). */
typedef int (*acp_copy_fn)(void *ctx, const acp_copy_report *report);

/* Flags of acp_store_copy() and acp_store_import(). */
/* Continue an interrupted copy: runs already in the target with the same
 * document and creation time are skipped, a run left half-copied (events
 * but no run record) is deleted and copied again. */
#define ACP_COPY_RESUME (1u << 0)
/* A run or session that exists in the target with other content is
 * replaced (deleted with its events, then copied) instead of a conflict. */
#define ACP_COPY_REPLACE (1u << 1)

/*
 * Copy every session, run (with its creation time) and event (with its
 * sequence number and storage time) of src into dst, documents byte for
 * byte.  Memory stays bounded whatever the store size: the source is read
 * page by page (by cursor) and written in batches.  A run's events are
 * stored before its run record, so a run record in dst means the run is
 * complete: after an interruption (even kill -9), the same call with
 * ACP_COPY_RESUME ends with exactly src's content, and repeating a finished
 * copy with it changes nothing.  Without RESUME or REPLACE, an item that
 * exists in dst is a conflict: reported through fn, left untouched, and
 * the copy goes on.  Events of runs without a run record are not copied.
 * Neither store may be written by others meanwhile.
 * fn (may be NULL) receives progress and conflicts; report (may be NULL)
 * receives the final counts, also on failure.
 * Returns ACP_OK when everything was copied or skipped, ACP_CONFLICT when
 * some items conflicted (the others are copied).  Errors: INVALID (NULL
 * store, src == dst, unknown flags, stopped by fn), and either store's
 * errors (the message says which).  Thread-safe like every store call.
 */
ACP_API acp_status acp_store_copy(acp_store *src, acp_store *dst, unsigned flags,
                                  acp_copy_fn fn, void *ctx, acp_copy_report *report,
                                  acp_error *err);

/* Write src as a dump (docs/dump-format.md: JSON lines, documents byte for
 * byte) to out, which the caller opened and closes (any FILE *, e.g. a
 * compressing one).  Memory bounded as acp_store_copy().  Errors: INVALID,
 * IO (writing out), the store's errors. */
ACP_API acp_status acp_store_export(acp_store *src, FILE *out, acp_copy_fn fn,
                                    void *ctx, acp_copy_report *report, acp_error *err);

/* Read a dump from in (a FILE * the caller owns) into dst, as
 * acp_store_copy() would from the store it was taken from (same flags,
 * resume, conflicts, return codes).  Errors: also CORRUPT (not a dump, an
 * unknown format version, a malformed or truncated line: the message gives
 * the line number; what was imported before stays). */
ACP_API acp_status acp_store_import(FILE *in, acp_store *dst, unsigned flags,
                                    acp_copy_fn fn, void *ctx, acp_copy_report *report,
                                    acp_error *err);

/* What acp_store_diff() compared: items on each side, a digest (64-bit
 * FNV-1a over every item's id, times, sequence and document, in list
 * order) of each side, and the number of differences. */
typedef struct acp_diff_counts {
    int64_t sessions[2], runs[2], events[2];
    uint64_t digest[2];
    int64_t differences;
} acp_diff_counts;

/* Called once per difference with a line a person can read ("run r1:
 * document differs"); the text lives only during the call. */
typedef void (*acp_diff_fn)(void *ctx, const char *difference);

/* Compare stores a and b item by item (sessions, runs with their creation
 * times, events with sequence numbers and storage times, documents byte
 * for byte), in bounded memory.  Returns ACP_OK when the walk completed
 * (counts->differences says whether they differ; counts must not be NULL).
 * Errors: INVALID, either store's errors. */
ACP_API acp_status acp_store_diff(acp_store *a, acp_store *b, acp_diff_fn fn, void *ctx,
                                  acp_diff_counts *counts, acp_error *err);

/* ------------------------------------------------------------------ */
/* Time                                                                 */
/* ------------------------------------------------------------------ */

/* Buffer size for acp_time_format(). */
#define ACP_TIME_BUFSZ 32

/* Current time, microseconds since the Unix epoch (UTC). */
ACP_API int64_t acp_time_now_us(void);
/* Parse RFC 3339 ("2025-06-01T12:00:00Z", "...00.123456+02:00") into
 * microseconds since the epoch; digits past microseconds are truncated.
 * Errors: INVALID. */
ACP_API acp_status acp_time_parse(const char *text, size_t len, int64_t *us, acp_error *err);
/* Format as "2025-06-01T12:00:00.000000Z" into buf (ACP_TIME_BUFSZ bytes). */
ACP_API void acp_time_format(int64_t us, char buf[ACP_TIME_BUFSZ]);

/* ------------------------------------------------------------------ */
/* Typed layer: build and read ACP objects without writing JSON          */
/* ------------------------------------------------------------------ */
/* These objects are plain values, not tied to a store: build one, turn it
 * into JSON with *_to_json, and save that; or parse what a store returned.
 * Parsing keeps every member; members the typed layer does not read keep
 * their exact text, but numbers inside output messages are re-printed by
 * value on *_to_json.  Use the JSON API to copy documents byte for byte. */

typedef struct acp_run acp_run;
typedef struct acp_message acp_message;
typedef struct acp_session acp_session;
typedef struct acp_event acp_event;

/* Write a fresh random UUID v4 (lower case, 36 chars + NUL). */
ACP_API void acp_uuid_v4(char out[37]);

/* -- messages -- */
/* A message with the given role ("user", "agent", "agent/<name>").
 * Errors: INVALID (role NULL or empty), NOMEM. */
ACP_API acp_status acp_message_new(const char *role, acp_message **out, acp_error *err);
/* Append a text/plain part.  Errors: INVALID, NOMEM. */
ACP_API acp_status acp_message_add_text(acp_message *msg, const char *text, acp_error *err);
/* Append a part: content_type NULL means text/plain, encoding NULL means
 * "plain" (else "plain" or "base64"), name NULL for none.
 * Errors: INVALID, NOMEM. */
ACP_API acp_status acp_message_add_part(acp_message *msg, const char *content_type,
                                        const char *content, const char *encoding,
                                        const char *name, acp_error *err);
ACP_API const char *acp_message_role(const acp_message *msg);
ACP_API size_t acp_message_part_count(const acp_message *msg);
/* Content and content type of part i; NULL when absent or past the end. */
ACP_API const char *acp_message_part_content(const acp_message *msg, size_t i);
ACP_API const char *acp_message_part_content_type(const acp_message *msg, size_t i);
ACP_API void acp_message_free(acp_message *msg);

/* -- runs -- */
/* A new run of agent_name: fresh UUID v4 id, status "created", created_at
 * now, empty output.  Errors: INVALID, NOMEM. */
ACP_API acp_status acp_run_new(const char *agent_name, acp_run **out, acp_error *err);
/* Read a run document (validated as acp_run_save() does).
 * Errors: INVALID, NOMEM. */
ACP_API acp_status acp_run_parse(const char *json, size_t len, acp_run **out,
                                 acp_error *err);
ACP_API const char *acp_run_id(const acp_run *run);
ACP_API const char *acp_run_agent_name(const acp_run *run);
ACP_API const char *acp_run_session_id(const acp_run *run); /* NULL if none */
ACP_API const char *acp_run_status(const acp_run *run);
ACP_API int64_t acp_run_created_us(const acp_run *run);  /* INT64_MIN if none */
ACP_API int64_t acp_run_finished_us(const acp_run *run); /* INT64_MIN if none */
ACP_API size_t acp_run_output_count(const acp_run *run);
/* Copy of output message i, to acp_message_free().  Errors: INVALID, NOMEM. */
ACP_API acp_status acp_run_output_message(const acp_run *run, size_t i, acp_message **out,
                                          acp_error *err);
/* Change the status; entering completed, failed or cancelled also sets
 * finished_at to now.  Errors: INVALID (unknown status), NOMEM. */
ACP_API acp_status acp_run_set_status(acp_run *run, const char *status, acp_error *err);
/* Set or (NULL) clear the session.  Errors: INVALID, NOMEM. */
ACP_API acp_status acp_run_set_session_id(acp_run *run, const char *session_id,
                                          acp_error *err);
/* Append a copy of msg to the output.  Errors: INVALID, NOMEM. */
ACP_API acp_status acp_run_add_output(acp_run *run, const acp_message *msg, acp_error *err);
/* Set error {code, message}.  Errors: INVALID, NOMEM. */
ACP_API acp_status acp_run_set_error(acp_run *run, const char *code, const char *message,
                                     acp_error *err);
/* Set await_request {type:"message", message}.  Errors: INVALID, NOMEM. */
ACP_API acp_status acp_run_set_await_message(acp_run *run, const acp_message *msg,
                                             acp_error *err);
/* Serialise to compact JSON (to acp_free).  Errors: INVALID, NOMEM. */
ACP_API acp_status acp_run_to_json(const acp_run *run, char **json, size_t *len,
                                   acp_error *err);
ACP_API void acp_run_free(acp_run *run);

/* -- sessions -- */
/* A session with the given id, empty history and null state.
 * Errors: INVALID, NOMEM. */
ACP_API acp_status acp_session_new(const char *id, acp_session **out, acp_error *err);
ACP_API acp_status acp_session_parse(const char *json, size_t len, acp_session **out,
                                     acp_error *err);
ACP_API const char *acp_session_id(const acp_session *s);
/* Set state from JSON text (any JSON value).  Errors: INVALID, NOMEM. */
ACP_API acp_status acp_session_set_state_json(acp_session *s, const char *json, size_t len,
                                              acp_error *err);
/* The state as JSON text (to acp_free).  Errors: NOMEM. */
ACP_API acp_status acp_session_state_json(const acp_session *s, char **json, size_t *len,
                                          acp_error *err);
/* Append a history entry (a message or a URL string) as JSON text.
 * Errors: INVALID, NOMEM. */
ACP_API acp_status acp_session_add_history_json(acp_session *s, const char *json, size_t len,
                                                acp_error *err);
ACP_API size_t acp_session_history_count(const acp_session *s);
ACP_API acp_status acp_session_to_json(const acp_session *s, char **json, size_t *len,
                                       acp_error *err);
ACP_API void acp_session_free(acp_session *s);

/* -- events -- */
/* An event of the given type ("message.part", ...).
 * Errors: INVALID, NOMEM. */
ACP_API acp_status acp_event_new(const char *type, acp_event **out, acp_error *err);
ACP_API acp_status acp_event_parse(const char *json, size_t len, acp_event **out,
                                   acp_error *err);
ACP_API const char *acp_event_type(const acp_event *ev);
/* Set payload member key (not "type") from JSON text: e.g. ("part", ...),
 * ("run", run_json).  Errors: INVALID, NOMEM. */
ACP_API acp_status acp_event_set_json(acp_event *ev, const char *key, const char *json,
                                      size_t len, acp_error *err);
/* Member key as JSON text (to acp_free).  Errors: NOT_FOUND, NOMEM. */
ACP_API acp_status acp_event_get_json(const acp_event *ev, const char *key, char **json,
                                      size_t *len, acp_error *err);
ACP_API acp_status acp_event_to_json(const acp_event *ev, char **json, size_t *len,
                                     acp_error *err);
ACP_API void acp_event_free(acp_event *ev);

#ifdef __cplusplus
}
#endif
#endif /* ACP_STORAGE_H */
