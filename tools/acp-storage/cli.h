/* SPDX-License-Identifier: MIT */
/*
 * cli.h - what the parts of the acp-storage command share: exit codes,
 * parsed options, the command table and the output helpers.
 */
#ifndef ACP_CLI_H
#define ACP_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "acp_storage.h"

/* Exit codes.  They are part of the command's interface: documented in
 * --help and acp-storage(1), and never renumbered. */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILURE = 1,     /* backend error or any other failure */
    CLI_EXIT_USAGE = 2,       /* bad command line */
    CLI_EXIT_NOT_FOUND = 3,   /* no such run, session or store */
    CLI_EXIT_INVALID = 4,     /* invalid input (ACP_INVALID) */
    CLI_EXIT_LOAD = 5,        /* the backend plugin could not be loaded */
    CLI_EXIT_UNAVAILABLE = 6, /* the store is unreachable; retrying may help */
    CLI_EXIT_CONFLICT = 7     /* run save --if-version/--if-absent: another writer came first */
};

/* Every option of every command.  The first three are accepted by all. */
typedef enum cli_opt {
    OPT_STORE,
    OPT_JSON,
    OPT_HELP,
    OPT_AGENT,
    OPT_SESSION,
    OPT_STATUS,
    OPT_OUTPUT,
    OPT_LIMIT,
    OPT_OFFSET,
    OPT_CURSOR,
    OPT_TOTAL,
    OPT_ALL,
    OPT_AFTER,
    OPT_TYPE,
    OPT_TEXT,
    OPT_ID,
    OPT_STATE,
    OPT_FILTER,
    OPT_TIMEOUT,
    OPT_VERSION,
    OPT_QUARANTINE,
    OPT_FORMAT,
    OPT_FOLLOW,
    /* export, import, copy, diff (move.c) */
    OPT_OUT,
    OPT_FROM,
    OPT_TO,
    OPT_RESUME,
    OPT_REPLACE,
    OPT_VERIFY,
    OPT_IF_VERSION,
    OPT_IF_ABSENT,
    OPT_DRY_RUN,
    OPT_STATEMENTS,
    OPT_PROFILE,
    /* operations (ops.c) */
    OPT_SINCE,
    OPT_UNTIL,
    OPT_FINISHED_BEFORE,
    OPT_BATCH,
    OPT_COUNT
} cli_opt;

#define OPT_BIT(o) ((uint64_t)1 << (o))
#define OPT_GLOBAL (OPT_BIT(OPT_STORE) | OPT_BIT(OPT_JSON) | OPT_BIT(OPT_HELP) | OPT_BIT(OPT_PROFILE))

/* How a list is printed (--format). */
typedef enum cli_format {
    FORMAT_TABLE, /* columns for a person: the default on a terminal */
    FORMAT_LINES, /* one JSON document per line: the default otherwise */
    FORMAT_JSON   /* one JSON object (--json) */
} cli_format;

/* Most positional arguments any command takes. */
#define CLI_MAX_POS 4

/* The parsed command line.  Strings point into argv. */
typedef struct cli_args {
    const char *value[OPT_COUNT]; /* value of an option, "" for a flag, or NULL */
    const char **list;            /* every value of the repeatable --output */
    size_t n_list;
    const char *pos[CLI_MAX_POS];
    size_t n_pos;
} cli_args;

/* What every command function gets. */
typedef struct cli_ctx {
    cli_args args;
    int argc;          /* the whole command line, to show how a list goes on */
    char **argv;
    int json;          /* --json (or --format json) */
    cli_format format; /* of lists */
    int stderr_tty;    /* notes for a person (next page cursor) */
    int progress;      /* progress lines: stderr is a terminal that no
                          unfinished --json line on stdout shares */
    int color;         /* stdout is a terminal and NO_COLOR is not set */
    const char *group; /* the command group being parsed, for hints */
    const struct cli_command *cmd;
} cli_ctx;

typedef int (*cli_fn)(cli_ctx *ctx);

/* In cli_command.options, above every OPT_BIT(): the command never makes
 * a store (it opens with create=false). */
#define CMD_NO_CREATE ((uint64_t)1 << 63)

/* One row of the command table (main.c). */
typedef struct cli_command {
    const char *group;    /* "run" */
    const char *verb;     /* "save", or NULL for a command without verbs */
    cli_fn fn;
    uint64_t options;     /* OPT_BIT()s accepted besides the global ones, and
                             CMD_* flags */
    size_t min_pos, max_pos;
    const char *synopsis; /* arguments after "acp-storage run save" */
    const char *summary;  /* one line for the command list */
    const char *help;     /* the body of --help */
} cli_command;

/* ---- options.c ---- */

/* Parse argv[*i..] into ctx->args, accepting the options in `allowed`.
 * With stop_at_word, stops at the first word that is not an option (leaving
 * *i on it); otherwise collects words as positional arguments.  Returns
 * CLI_EXIT_OK or CLI_EXIT_USAGE (after printing why). */
int cli_parse_options(cli_ctx *ctx, int argc, char **argv, int *i, uint64_t allowed,
                      int stop_at_word);
/* The spelling of an option ("--limit"). */
const char *cli_opt_name(cli_opt opt);
/* The option arg is (-1 if none); *takes_next: its value is the next
 * argument. */
int cli_arg_option(const char *arg, int *takes_next);
/* Read an integer option into *out (left alone when the option is absent).
 * Returns CLI_EXIT_OK or CLI_EXIT_USAGE. */
int cli_opt_int(cli_ctx *ctx, cli_opt opt, int64_t *out);
/* The same, also refusing values outside [min, max] (a usage error too). */
int cli_opt_range(cli_ctx *ctx, cli_opt opt, int64_t min, int64_t max, int64_t *out);
/* The closest of the n candidates to word (a likely typo), or NULL. */
const char *cli_closest(const char *word, const char *const *candidates, size_t n);
/* Print "acp-storage: <message>" and a pointer to --help; returns
 * CLI_EXIT_USAGE. */
int cli_usage_error(const cli_ctx *ctx, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- output.c ---- */

/* Map a status to the exit code table above. */
int cli_exit_code(acp_status status);
/* With on, errors go to stderr as one JSON object per error:
 * {"schema":1,"error":{"status":"NOT_FOUND","exit":3,"message":"..."}}
 * (status "USAGE" for command-line mistakes). */
void cli_json_errors(int on);
/* Print "acp-storage: <STATUS>: <message>" on stderr; returns the exit code. */
int cli_report(const acp_error *err);
/* Print a usage error ("acp-storage: <message>" and the hint line) in the
 * error format in force; returns CLI_EXIT_USAGE. */
int cli_report_usage(const char *message, const char *hint);
/* Same, for failures the command finds itself. */
int cli_fail(acp_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A JSON string literal for the NUL-terminated s (NULL prints null). */
void out_str(FILE *f, const char *s);
/* A stored document on one line: whitespace between tokens is dropped,
 * the text of strings and numbers is kept exactly. */
void out_doc(FILE *f, const char *doc, size_t len);
/* Capability flags as "concurrent,durable" (or "-" for none) into buf. */
const char *cli_caps_text(uint64_t caps, char *buf, size_t size);
/* Capability flags as a JSON array of names. */
void out_caps_json(FILE *f, uint64_t caps);
/* The start of a command's JSON object about one store, left open:
 * {"schema":1,"store":uri,"backend":backend and, when version is not
 * NULL, ,"backend_version":version. */
void out_store_json(FILE *f, const char *uri, const char *backend, const char *version);
/* Stop requests of a batched command (stop.c): between cli_stop_begin and
 * cli_stop_end, SIGINT and SIGTERM only set a flag that cli_stop_requested
 * reads (a progress callback returns it to end the work between batches);
 * cli_stop_end restores the earlier handlers.  Not thread-safe: one batched
 * command per process. */
void cli_stop_begin(void);
int cli_stop_requested(void);
void cli_stop_end(void);

/* A progress line on stderr, only when stderr is a terminal; NULL fmt
 * clears the line. */
void cli_progress(const cli_ctx *ctx, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A list on stdout in ctx->format: a table (columns of the kind), JSON
 * lines, or one object
 * {"schema":1,["run_id":...,]"<array>":[...],["total":N,]"next_cursor":...}. */
typedef enum cli_kind { KIND_RUN, KIND_SESSION, KIND_EVENT } cli_kind;
typedef struct cli_list {
    const cli_ctx *ctx;
    cli_kind kind;
    const char *array;
    const char *run_id;
    size_t count;
    int started;
    /* runs with --json: their versions, printed after the documents as
     * "versions":[...] (the documents stay as stored) */
    int64_t *versions;
    size_t n_versions, cap_versions;
} cli_list;
void list_begin(cli_list *l, const cli_ctx *ctx, cli_kind kind, const char *run_id);
/* Item i of a page of the list's kind.  Events carry their sequence
 * number and time: in the table, and with --json as
 * {"seq":N,"stored_at":"...","event":doc}.  Runs carry their version: a
 * table column, and with --json "versions":[N,...] beside "runs" (item k's
 * version at index k). */
void list_item(cli_list *l, const acp_page *page, size_t i);
/* total NULL: the list has no total; *total < 0: not counted.  With a
 * next_cursor, a note on stderr says the list goes on and gives the
 * command that continues it: this command line with more_option
 * ("--cursor") set to the cursor and the options in drop removed
 * (OPT_BIT()s: an offset applies to the first page only). */
void list_end(cli_list *l, const int64_t *total, const char *next_cursor, cli_opt more_option,
              uint64_t drop);
/* Flush stdout; a failed write (full disk, closed pipe) is an error. */
int cli_finish_stdout(int code);

/* ---- profile.c ---- */

/* Fill cfg from a profile of the configuration file when --profile,
 * $ACP_STORAGE_PROFILE or the file's profile "default" names the store
 * (and neither --store nor $ACP_STORAGE_URL does); *loaded tells whether
 * one did, *source then says which ("--profile" or "profile").  Returns an
 * exit code (errors printed). */
int cli_profile_select(const cli_ctx *ctx, acp_config *cfg, const char **source, int *loaded);

/* ---- store.c ---- */

/* Open the store of --store, else $ACP_STORAGE_URL, else the default store
 * in the user's data directory.  A command marked CMD_NO_CREATE opens with
 * create=false: a store that is not there is "not found", never made.
 * When display is not NULL it receives the store's URI with any password
 * redacted (to acp_free).  Returns an exit code (errors printed). */
int cli_open_store(const cli_ctx *ctx, acp_store **out, char **display);
/* The configuration cli_open_store() would open (to acp_config_free), and
 * the store's URI with any password redacted (to acp_free).  Returns an
 * exit code (errors printed). */
int cli_store_config(const cli_ctx *ctx, acp_config **out, char **display);
/* Read a whole document from a file or "-" (stdin), leading and trailing
 * whitespace removed, reading no more than the document size limit of the
 * store ctx names (and a little whitespace) allows.  Returns an exit code
 * (errors printed). */
int cli_read_input(const cli_ctx *ctx, const char *path, char **buf, size_t *len);

/* ---- the commands ---- */
/* --version: this tool's version, the library's and the plugin ABI. */
int cli_print_version(const cli_ctx *ctx);
int cmd_backends(cli_ctx *ctx);
int cmd_ping(cli_ctx *ctx);
int cmd_check(cli_ctx *ctx);
int cmd_run_save(cli_ctx *ctx);
int cmd_run_get(cli_ctx *ctx);
int cmd_run_delete(cli_ctx *ctx);
int cmd_run_list(cli_ctx *ctx);
int cmd_session_save(cli_ctx *ctx);
int cmd_session_get(cli_ctx *ctx);
int cmd_session_delete(cli_ctx *ctx);
int cmd_session_list(cli_ctx *ctx);
int cmd_event_add(cli_ctx *ctx);
int cmd_event_list(cli_ctx *ctx);
/* event list --follow (follow.c): print RUN's events after seq `after` as they
 * are stored, until the run's terminal event or SIGINT/SIGTERM. */
int cli_event_follow(cli_ctx *ctx, const char *run_id, int64_t after);
int cmd_verify(cli_ctx *ctx);
int cmd_migrate(cli_ctx *ctx);
/* ops.c: retention and statistics. */
int cmd_purge(cli_ctx *ctx);
int cmd_stats(cli_ctx *ctx);
/* archive.c */
int cmd_archive(cli_ctx *ctx);
/* Read an instant option into *out (left alone when absent): RFC 3339
 * ("2026-01-01T00:00:00Z"), a date ("2026-01-01", midnight UTC), or an age
 * before now ("30d", "12h", "15m", "45s", "2w").  Returns CLI_EXIT_OK or
 * CLI_EXIT_USAGE. */
int cli_opt_time(cli_ctx *ctx, cli_opt opt, int64_t *out);
/* The value of a --status filter option (absent: fine) is one or more run
 * statuses separated by commas; else a usage error (exit 2), as run save
 * --status gives, before any store is opened. */
int cli_opt_statuses(cli_ctx *ctx, cli_opt opt);
/* move.c: moving data between stores and dumps. */
int cmd_export(cli_ctx *ctx);
int cmd_import(cli_ctx *ctx);
int cmd_copy(cli_ctx *ctx);
int cmd_diff(cli_ctx *ctx);

#endif /* ACP_CLI_H */
