/* SPDX-License-Identifier: MIT */
/*
 * test_layout.c - the layout of every struct that crosses the plugin
 * boundary (and of the application API's public structs), frozen.
 *
 * Each member's offset, size and type is compared with numbers written here
 * by hand, so reordering, retyping or inserting a member fails; each
 * struct's size is compared with the size frozen for the current
 * ACP_PLUGIN_ABI_MINOR, so appending a member without bumping the minor
 * fails too.  When a minor adds members (docs/abi-policy.md): add their rows
 * below, add a column to plugin_sizes, and never edit an existing number.
 *
 * The numbers are those of LP64 targets with natural alignment (x86_64,
 * aarch64); elsewhere the test reports itself skipped (exit 77).
 * Every mismatch is printed, then the test fails.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "acp_storage.h"
#include "acp_storage_plugin.h"

/* The member types, spelled out, so that a changed signature fails. */
typedef acp_status (*fn_init)(const acp_plugin_host *, acp_call *);
typedef acp_status (*fn_open)(const acp_plugin_host *, const acp_open_args *, acp_backend **,
                              acp_call *);
typedef void (*fn_close)(acp_backend *);
typedef acp_status (*fn_ping)(acp_backend *, acp_call *);
typedef acp_status (*fn_save_run)(acp_backend *, const acp_run_record *, acp_call *);
typedef acp_status (*fn_by_id)(acp_backend *, const char *, acp_call *);
typedef acp_status (*fn_list_runs)(acp_backend *, const acp_run_query *, acp_call *);
typedef acp_status (*fn_save_session)(acp_backend *, const acp_session_record *, acp_call *);
typedef acp_status (*fn_add_event)(acp_backend *, const acp_event_record *, int64_t *,
                                   acp_call *);
typedef acp_status (*fn_get_events)(acp_backend *, const acp_event_query *, acp_call *);
typedef acp_status (*fn_list_sessions)(acp_backend *, const char *, int64_t, acp_call *);
typedef int (*fn_emit)(acp_call *, const acp_item *);
typedef void (*fn_set_total)(acp_call *, int64_t);
typedef acp_status (*fn_error)(acp_call *, acp_status, const char *, ...);
typedef int64_t (*fn_remaining_ms)(acp_call *);
typedef int64_t (*fn_now_us)(void);
typedef void (*fn_log)(int, const char *, const char *, ...);
typedef uint64_t (*fn_hash)(const void *, size_t);
typedef int (*fn_verify_item)(acp_call *, int, const acp_item *);
typedef void (*fn_set_version)(acp_call *, int64_t);
typedef acp_status (*fn_child_save_run_v)(acp_child *, const char *, size_t, uint32_t, int64_t,
                                          int64_t, int64_t *, acp_call *);
typedef int (*fn_verify_damage)(acp_call *, const acp_damage *);
typedef acp_status (*fn_verify)(acp_backend *, uint32_t, acp_call *);
typedef acp_status (*fn_wait_events)(acp_backend *, const acp_event_query *, acp_call *);
typedef acp_status (*fn_save_runs)(acp_backend *, const acp_run_record *, size_t, uint32_t,
                                   acp_status *, acp_call *);
typedef acp_status (*fn_add_events)(acp_backend *, const acp_event_record *, size_t, uint32_t,
                                    int64_t *, acp_status *, acp_call *);
typedef int64_t (*fn_emitted)(acp_call *);
typedef int (*fn_cancel_fd)(acp_call *);
typedef int (*fn_cancel_watch)(acp_call *, void (*)(void *), void *);
typedef void (*fn_cancel_unwatch)(acp_call *);
typedef const struct acp_child_ops *child_ops_ptr;
typedef const acp_option_spec *option_specs;
typedef acp_status (*fn_child_open)(const char *, const char *, acp_child **, acp_call *);
typedef acp_status (*fn_child_list_runs)(acp_child *, const acp_run_query *, acp_child_sink,
                                         void *, int64_t *, acp_call *);
typedef acp_status (*fn_child_wait_events)(acp_child *, const acp_event_query *, acp_child_sink,
                                           void *, acp_call *);
typedef acp_status (*fn_migrate)(acp_backend *, uint32_t, acp_call *);
typedef int (*fn_migrate_versions)(acp_call *, int64_t, int64_t, const char *);
typedef int (*fn_migrate_step)(acp_call *, int64_t, int64_t, const char *, const char *);
typedef acp_status (*fn_purge_runs)(acp_backend *, const acp_purge_query *, int64_t *,
                                    acp_call *);
typedef acp_status (*fn_stats)(acp_backend *, acp_call *);
typedef acp_status (*fn_get_events_of_runs)(acp_backend *, const char *const *, size_t, int64_t,
                                            int64_t, acp_call *);
typedef int (*fn_stat)(acp_call *, int, const char *, int64_t);
/* archive tiers */
typedef uint64_t (*fn_capabilities)(acp_backend *);
typedef acp_status (*fn_archive)(acp_backend *, int64_t, int64_t *, acp_call *);
typedef acp_status (*fn_child_restore_runs)(acp_child *, const acp_run_record *, size_t,
                                            acp_status *, acp_call *);
typedef acp_status (*fn_child_restore_events)(acp_child *, const acp_event_record *,
                                              const int64_t *, size_t, acp_status *, acp_call *);
typedef const char *cstr;
typedef const char *const *cstr_list;
typedef char message_buf[ACP_ERROR_MESSAGE_MAX];
typedef char migrate_what[32];

typedef struct member {
    const char *name;
    size_t offset, size; /* as compiled */
    int same_type;       /* the member still has the frozen type */
    size_t frozen_offset, frozen_size;
} member;

/* __typeof__ and the builtin (GCC, Clang) compare the exact declared type,
 * arrays and function-pointer signatures included. */
#define M(T, m, off, sz, type)                                                            \
    {#T "." #m, offsetof(T, m), sizeof(((T *)0)->m),                                      \
     __builtin_types_compatible_p(__typeof__(((T *)0)->m), type), (off), (sz)}

static const member members[] = {
    /* ---- plugin ABI 1.0 ---- */
    M(acp_plugin_descriptor, magic, 0, 4, uint32_t),
    M(acp_plugin_descriptor, abi_major, 4, 2, uint16_t),
    M(acp_plugin_descriptor, abi_minor, 6, 2, uint16_t),
    M(acp_plugin_descriptor, size, 8, 4, uint32_t),
    M(acp_plugin_descriptor, pointer_size, 12, 4, uint32_t),
    M(acp_plugin_descriptor, name, 16, 8, cstr),
    M(acp_plugin_descriptor, version, 24, 8, cstr),
    M(acp_plugin_descriptor, description, 32, 8, cstr),
    M(acp_plugin_descriptor, capabilities, 40, 8, uint64_t),
    M(acp_plugin_descriptor, option_names, 48, 8, cstr_list),
    M(acp_plugin_descriptor, vtable, 56, 8, const acp_backend_vtable *),
    M(acp_plugin_descriptor, vtable_size, 64, 8, size_t),

    M(acp_backend_vtable, init, 0, 8, fn_init),
    M(acp_backend_vtable, open, 8, 8, fn_open),
    M(acp_backend_vtable, close, 16, 8, fn_close),
    M(acp_backend_vtable, ping, 24, 8, fn_ping),
    M(acp_backend_vtable, save_run, 32, 8, fn_save_run),
    M(acp_backend_vtable, get_run, 40, 8, fn_by_id),
    M(acp_backend_vtable, delete_run, 48, 8, fn_by_id),
    M(acp_backend_vtable, list_runs, 56, 8, fn_list_runs),
    M(acp_backend_vtable, save_session, 64, 8, fn_save_session),
    M(acp_backend_vtable, get_session, 72, 8, fn_by_id),
    M(acp_backend_vtable, delete_session, 80, 8, fn_by_id),
    M(acp_backend_vtable, add_event, 88, 8, fn_add_event),
    M(acp_backend_vtable, get_events, 96, 8, fn_get_events),

    M(acp_plugin_host, size, 0, 8, size_t),
    M(acp_plugin_host, abi_major, 8, 2, uint16_t),
    M(acp_plugin_host, abi_minor, 10, 2, uint16_t),
    M(acp_plugin_host, emit, 16, 8, fn_emit),
    M(acp_plugin_host, set_total, 24, 8, fn_set_total),
    M(acp_plugin_host, error, 32, 8, fn_error),
    M(acp_plugin_host, remaining_ms, 40, 8, fn_remaining_ms),
    M(acp_plugin_host, now_us, 48, 8, fn_now_us),
    M(acp_plugin_host, log, 56, 8, fn_log),

    M(acp_plugin_option, key, 0, 8, cstr),
    M(acp_plugin_option, value, 8, 8, cstr),

    M(acp_open_args, uri, 0, 8, cstr),
    M(acp_open_args, uri_redacted, 8, 8, cstr),
    M(acp_open_args, scheme, 16, 8, cstr),
    M(acp_open_args, variant, 24, 8, cstr),
    M(acp_open_args, authority, 32, 8, cstr),
    M(acp_open_args, path, 40, 8, cstr),
    M(acp_open_args, options, 48, 8, const acp_plugin_option *),
    M(acp_open_args, n_options, 56, 8, size_t),

    M(acp_run_record, run_id, 0, 8, cstr),
    M(acp_run_record, run_id_len, 8, 8, size_t),
    M(acp_run_record, agent_name, 16, 8, cstr),
    M(acp_run_record, agent_name_len, 24, 8, size_t),
    M(acp_run_record, session_id, 32, 8, cstr),
    M(acp_run_record, session_id_len, 40, 8, size_t),
    M(acp_run_record, status, 48, 8, cstr),
    M(acp_run_record, created_us, 56, 8, int64_t),
    M(acp_run_record, finished_us, 64, 8, int64_t),
    M(acp_run_record, flags, 72, 4, uint32_t),
    M(acp_run_record, doc, 80, 8, cstr),
    M(acp_run_record, doc_len, 88, 8, size_t),

    M(acp_run_query, agent_name, 0, 8, cstr),
    M(acp_run_query, session_id, 8, 8, cstr),
    M(acp_run_query, limit, 16, 8, int64_t),
    M(acp_run_query, offset, 24, 8, int64_t),
    M(acp_run_query, want_total, 32, 4, int),
    M(acp_run_query, has_cursor, 36, 4, int),
    M(acp_run_query, cursor_created_us, 40, 8, int64_t),
    M(acp_run_query, cursor_run_id, 48, 8, cstr),

    M(acp_session_record, id, 0, 8, cstr),
    M(acp_session_record, id_len, 8, 8, size_t),
    M(acp_session_record, doc, 16, 8, cstr),
    M(acp_session_record, doc_len, 24, 8, size_t),

    M(acp_event_record, run_id, 0, 8, cstr),
    M(acp_event_record, run_id_len, 8, 8, size_t),
    M(acp_event_record, type, 16, 8, cstr),
    M(acp_event_record, stored_us, 24, 8, int64_t),
    M(acp_event_record, doc, 32, 8, cstr),
    M(acp_event_record, doc_len, 40, 8, size_t),

    M(acp_event_query, run_id, 0, 8, cstr),
    M(acp_event_query, after_seq, 8, 8, int64_t),
    M(acp_event_query, limit, 16, 8, int64_t),
    M(acp_event_query, offset, 24, 8, int64_t),

    M(acp_item, doc, 0, 8, cstr),
    M(acp_item, doc_len, 8, 8, size_t),
    M(acp_item, key, 16, 8, cstr),
    M(acp_item, created_us, 24, 8, int64_t),
    M(acp_item, seq, 32, 8, int64_t),
    M(acp_item, stored_us, 40, 8, int64_t),

    /* ---- plugin ABI 1.1 ---- */
    M(acp_backend_vtable, list_sessions, 104, 8, fn_list_sessions),

    /* ---- plugin ABI 1.2 ---- */
    M(acp_backend_vtable, verify, 112, 8, fn_verify),
    M(acp_plugin_host, hash, 64, 8, fn_hash),
    M(acp_plugin_host, verify_item, 72, 8, fn_verify_item),
    M(acp_plugin_host, verify_damage, 80, 8, fn_verify_damage),
    M(acp_backend_vtable, wait_events, 120, 8, fn_wait_events),
    /* batched and restoring writes */
    M(acp_backend_vtable, save_runs, 128, 8, fn_save_runs),
    M(acp_backend_vtable, add_events, 136, 8, fn_add_events),
    M(acp_plugin_host, emitted, 88, 8, fn_emitted),
    M(acp_plugin_host, cancel_fd, 96, 8, fn_cancel_fd),
    M(acp_plugin_host, cancelled, 104, 8, fn_cancel_fd),
    M(acp_plugin_host, cancel_watch, 112, 8, fn_cancel_watch),
    M(acp_plugin_host, cancel_unwatch, 120, 8, fn_cancel_unwatch),
    /* run versions */
    M(acp_run_record, version, 96, 8, int64_t),
    M(acp_item, version, 48, 8, int64_t),
    M(acp_plugin_host, set_version, 128, 8, fn_set_version),
    /* child stores */
    M(acp_plugin_host, child, 136, 8, child_ops_ptr),
    M(acp_child_ops, size, 0, 8, size_t),
    M(acp_child_ops, open, 8, 8, fn_child_open),
    M(acp_child_ops, list_runs, 88, 8, fn_child_list_runs),
    M(acp_child_ops, wait_events, 144, 8, fn_child_wait_events),
    M(acp_child_ops, save_run_v, 152, 8, fn_child_save_run_v),
    /* typed options and variants */
    M(acp_plugin_descriptor, variants, 72, 8, cstr_list),
    M(acp_plugin_descriptor, options, 80, 8, option_specs),
    M(acp_option_spec, name, 0, 8, cstr),
    M(acp_option_spec, type, 8, 4, int),
    M(acp_option_spec, flags, 12, 4, uint32_t),
    M(acp_option_spec, doc, 16, 8, cstr),
    M(acp_option_spec, default_value, 24, 8, cstr),
    M(acp_option_spec, min, 32, 8, int64_t),
    M(acp_option_spec, max, 40, 8, int64_t),
    M(acp_option_spec, values, 48, 8, cstr_list),
    M(acp_option_spec, unit, 56, 8, int64_t),
    /* explicit migrations */
    M(acp_backend_vtable, migrate, 144, 8, fn_migrate),
    M(acp_plugin_host, migrate_versions, 144, 8, fn_migrate_versions),
    M(acp_plugin_host, migrate_step, 152, 8, fn_migrate_step),
    /* events of many runs (copy) */
    M(acp_backend_vtable, get_events_of_runs, 168, 8, fn_get_events_of_runs),
    /* archive tiers */
    M(acp_backend_vtable, capabilities, 176, 8, fn_capabilities),
    M(acp_backend_vtable, archive, 184, 8, fn_archive),
    M(acp_child_ops, restore_runs, 160, 8, fn_child_restore_runs),
    M(acp_child_ops, restore_events, 168, 8, fn_child_restore_events),

    M(acp_damage, size, 0, 8, size_t),
    M(acp_damage, kind, 8, 4, int),
    M(acp_damage, key, 16, 8, cstr),
    M(acp_damage, seq, 24, 8, int64_t),
    M(acp_damage, code, 32, 4, acp_status),
    M(acp_damage, location, 40, 8, cstr),
    M(acp_damage, reason, 48, 8, cstr),
    M(acp_damage, moved_to, 56, 8, cstr),

    /* ---- application API (libacp_storage.so.0) ---- */
    M(acp_error, code, 0, 4, acp_status),
    M(acp_error, message, 4, 1024, message_buf),

    M(acp_run_filter, size, 0, 8, size_t),
    M(acp_run_filter, agent_name, 8, 8, cstr),
    M(acp_run_filter, session_id, 16, 8, cstr),
    M(acp_run_filter, limit, 24, 8, int64_t),
    M(acp_run_filter, offset, 32, 8, int64_t),
    M(acp_run_filter, cursor, 40, 8, cstr),
    M(acp_run_filter, want_total, 48, 4, int),
    M(acp_run_filter, status, 56, 8, cstr),
    M(acp_run_filter, created_since_us, 64, 8, int64_t),
    M(acp_run_filter, created_until_us, 72, 8, int64_t),

    M(acp_purge_filter, size, 0, 8, size_t),
    M(acp_purge_filter, status, 8, 8, cstr),
    M(acp_purge_filter, finished_before_us, 16, 8, int64_t),
    M(acp_purge_filter, agent_name, 24, 8, cstr),
    M(acp_purge_filter, dry_run, 32, 4, int),
    M(acp_purge_filter, batch_size, 40, 8, int64_t),

    M(acp_event_filter, size, 0, 8, size_t),
    M(acp_event_filter, limit, 8, 8, int64_t),
    M(acp_event_filter, offset, 16, 8, int64_t),
    M(acp_event_filter, after_seq, 24, 8, int64_t),

    M(acp_plugin_info, name, 0, 8, cstr),
    M(acp_plugin_info, path, 8, 8, cstr),
    M(acp_plugin_info, status, 16, 4, acp_status),
    M(acp_plugin_info, message, 24, 8, cstr),
    M(acp_plugin_info, version, 32, 8, cstr),
    M(acp_plugin_info, description, 40, 8, cstr),
    M(acp_plugin_info, abi_major, 48, 4, unsigned),
    M(acp_plugin_info, abi_minor, 52, 4, unsigned),
    M(acp_plugin_info, capabilities, 56, 8, uint64_t),
    M(acp_plugin_info, shadowed, 64, 4, int),
    M(acp_plugin_info, crash_signal, 68, 4, int),
    M(acp_plugin_info, n_options, 72, 8, size_t),
    M(acp_plugin_info, options, 80, 8, const acp_option_info *),
    M(acp_option_info, name, 0, 8, cstr),
    M(acp_option_info, type, 8, 8, cstr),
    M(acp_option_info, default_value, 16, 8, cstr),
    M(acp_option_info, secret, 24, 4, int),
    M(acp_option_info, doc, 32, 8, cstr),
    M(acp_option_info, values, 40, 8, cstr),

    M(acp_verify_counts, runs, 0, 8, int64_t),
    M(acp_verify_counts, sessions, 8, 8, int64_t),
    M(acp_verify_counts, events, 16, 8, int64_t),
    M(acp_verify_counts, damaged, 24, 8, int64_t),
    M(acp_verify_counts, quarantined, 32, 8, int64_t),
    M(acp_migrate_info, found, 0, 8, int64_t),
    M(acp_migrate_info, latest, 8, 8, int64_t),
    M(acp_migrate_info, steps, 16, 8, int64_t),
    M(acp_migrate_info, migrated, 24, 4, int),
    M(acp_migrate_info, what, 28, 32, migrate_what),
};

/* sizeof of each plugin ABI struct, by ABI minor (column = minor).  A minor
 * that appends members adds a column; columns never change afterwards.  0:
 * the struct did not exist yet in that minor. */
#define N_MINORS 3
static const struct {
    const char *name;
    size_t size;
    size_t by_minor[N_MINORS];
} plugin_sizes[] = {
    {"acp_plugin_descriptor", sizeof(acp_plugin_descriptor), {72, 72, 88}},
    {"acp_backend_vtable", sizeof(acp_backend_vtable), {104, 112, 192}},
    {"acp_plugin_host", sizeof(acp_plugin_host), {64, 64, 168}},
    {"acp_plugin_option", sizeof(acp_plugin_option), {16, 16, 16}},
    {"acp_open_args", sizeof(acp_open_args), {64, 64, 64}},
    {"acp_run_record", sizeof(acp_run_record), {96, 96, 104}},
    {"acp_run_query", sizeof(acp_run_query), {56, 56, 88}},
    {"acp_purge_query", sizeof(acp_purge_query), {0, 0, 48}},
    {"acp_session_record", sizeof(acp_session_record), {32, 32, 32}},
    {"acp_event_record", sizeof(acp_event_record), {48, 48, 48}},
    {"acp_event_query", sizeof(acp_event_query), {32, 32, 32}},
    {"acp_item", sizeof(acp_item), {48, 48, 56}},
    {"acp_damage", sizeof(acp_damage), {0, 0, 64}},
    {"acp_child_ops", sizeof(acp_child_ops), {0, 0, 176}},
    {"acp_option_spec", sizeof(acp_option_spec), {0, 0, 64}},
};

/* The application API's structs within SONAME libacp_storage.so.0.  The
 * filters carry their size and acp_plugin_info is owned by the library, so
 * those may grow at the end (update the number deliberately, with a minor
 * release); acp_error lives in the caller's memory and acp_option_info is
 * handed out as an array: those never change. */
static const struct {
    const char *name;
    size_t size, frozen;
} app_sizes[] = {
    {"acp_error", sizeof(acp_error), 1028},
    {"acp_run_filter", sizeof(acp_run_filter), 80},
    {"acp_purge_filter", sizeof(acp_purge_filter), 48},
    {"acp_event_filter", sizeof(acp_event_filter), 32},
    {"acp_plugin_info", sizeof(acp_plugin_info), 88},
    {"acp_option_info", sizeof(acp_option_info), 48},
    {"acp_verify_counts", sizeof(acp_verify_counts), 40},
    {"acp_migrate_info", sizeof(acp_migrate_info), 64},
};

/* Values that plugins and applications compile in. */
static const struct {
    const char *name;
    long long value, frozen;
} constants[] = {
    {"ACP_PLUGIN_MAGIC", ACP_PLUGIN_MAGIC, 0x41435053},
    {"ACP_PLUGIN_ABI_MAJOR", ACP_PLUGIN_ABI_MAJOR, 1},
    {"ACP_CAP_CONCURRENT", ACP_CAP_CONCURRENT, 1},
    {"ACP_CAP_DURABLE", ACP_CAP_DURABLE, 2},
    {"ACP_CAP_MULTIPROCESS", ACP_CAP_MULTIPROCESS, 4},
    {"ACP_CAP_NETWORK", ACP_CAP_NETWORK, 8},
    {"ACP_CAP_FOLLOW", ACP_CAP_FOLLOW, 16},
    {"ACP_CAP_RUN_FILTERS", ACP_CAP_RUN_FILTERS, 64},
    {"ACP_TIME_NONE", ACP_TIME_NONE, INT64_MIN},
    {"ACP_STAT_RUNS", ACP_STAT_RUNS, 1},
    {"ACP_STAT_SCHEMA_VERSION", ACP_STAT_SCHEMA_VERSION, 7},
    {"ACP_RUN_CREATED_DEFAULT", ACP_RUN_CREATED_DEFAULT, 1},
    {"ACP_BATCH_INSERT_ONLY", ACP_BATCH_INSERT_ONLY, 1},
    {"ACP_BATCH_RESTORE", ACP_BATCH_RESTORE, 2},
    {"ACP_COPY_RESUME", ACP_COPY_RESUME, 1},
    {"ACP_COPY_REPLACE", ACP_COPY_REPLACE, 2},
    {"ACP_NO_TIME", ACP_NO_TIME, INT64_MIN},
    {"ACP_VERIFY_QUARANTINE", ACP_VERIFY_QUARANTINE, 1},
    {"ACP_ITEM_RUN", ACP_ITEM_RUN, 1},
    {"ACP_ITEM_SESSION", ACP_ITEM_SESSION, 2},
    {"ACP_ITEM_EVENT", ACP_ITEM_EVENT, 3},
    {"ACP_ITEM_INDEX", ACP_ITEM_INDEX, 4},
    {"ACP_ITEM_OTHER", ACP_ITEM_OTHER, 5},
    {"ACP_OK", ACP_OK, 0},
    {"ACP_NOT_FOUND", ACP_NOT_FOUND, 1},
    {"ACP_INVALID", ACP_INVALID, 2},
    {"ACP_CONFLICT", ACP_CONFLICT, 3},
    {"ACP_UNAVAILABLE", ACP_UNAVAILABLE, 4},
    {"ACP_IO", ACP_IO, 5},
    {"ACP_CORRUPT", ACP_CORRUPT, 6},
    {"ACP_NOMEM", ACP_NOMEM, 7},
    {"ACP_UNSUPPORTED", ACP_UNSUPPORTED, 8},
    {"ACP_LOAD", ACP_LOAD, 9},
    {"ACP_PLUGIN", ACP_PLUGIN, 10},
    {"ACP_ID_MAX", ACP_ID_MAX, 256},
    {"ACP_ERROR_MESSAGE_MAX", ACP_ERROR_MESSAGE_MAX, 1024},
    {"ACP_TIME_BUFSZ", ACP_TIME_BUFSZ, 32},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

int main(void)
{
#if !(defined(__LP64__) && (defined(__x86_64__) || defined(__aarch64__)))
    puts("skipped: the frozen numbers are those of LP64 x86_64 and aarch64");
    return 77;
#else
    int failures = 0, minor = ACP_PLUGIN_ABI_MINOR;

    for (size_t i = 0; i < COUNT(members); i++) {
        const member *m = &members[i];
        if (m->offset != m->frozen_offset || m->size != m->frozen_size || !m->same_type) {
            printf("FAIL %s: offset %zu size %zu%s; frozen: offset %zu size %zu\n", m->name,
                   m->offset, m->size, m->same_type ? "" : " and a different type",
                   m->frozen_offset, m->frozen_size);
            failures++;
        }
    }

    if (minor < 0 || minor >= N_MINORS) {
        printf("FAIL ACP_PLUGIN_ABI_MINOR is %d but sizes are frozen for minors 0..%d: add "
               "the new minor's column (and rows for its new members)\n",
               minor, N_MINORS - 1);
        failures++;
    } else {
        for (size_t i = 0; i < COUNT(plugin_sizes); i++) {
            if (plugin_sizes[i].size != plugin_sizes[i].by_minor[minor]) {
                printf("FAIL sizeof(%s) is %zu, frozen for ABI 1.%d: %zu (a member appended "
                       "without a new ABI minor?)\n",
                       plugin_sizes[i].name, plugin_sizes[i].size, minor,
                       plugin_sizes[i].by_minor[minor]);
                failures++;
            }
            for (int k = 1; k < N_MINORS; k++) {
                if (plugin_sizes[i].by_minor[k] < plugin_sizes[i].by_minor[k - 1]) {
                    printf("FAIL %s shrinks from ABI 1.%d to 1.%d: structs only grow\n",
                           plugin_sizes[i].name, k - 1, k);
                    failures++;
                }
            }
        }
    }

    for (size_t i = 0; i < COUNT(app_sizes); i++) {
        if (app_sizes[i].size != app_sizes[i].frozen) {
            printf("FAIL sizeof(%s) is %zu, frozen: %zu\n", app_sizes[i].name,
                   app_sizes[i].size, app_sizes[i].frozen);
            failures++;
        }
    }

    for (size_t i = 0; i < COUNT(constants); i++) {
        if (constants[i].value != constants[i].frozen) {
            printf("FAIL %s is %lld, frozen: %lld\n", constants[i].name, constants[i].value,
                   constants[i].frozen);
            failures++;
        }
    }

    printf("%zu members, %zu plugin structs (ABI 1.%d), %zu application structs, "
           "%zu constants checked: %d mismatches\n",
           COUNT(members), COUNT(plugin_sizes), minor, COUNT(app_sizes), COUNT(constants),
           failures);
    return failures ? 1 : 0;
#endif
}
