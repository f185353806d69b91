/* SPDX-License-Identifier: MIT */
/*
 * acp-storage - the operator command of acp-storage.
 *
 *   acp-storage [--store URL] [--json] COMMAND [ARGS...]
 *
 * This file holds the table of commands, their help and the dispatch; the
 * commands live in info.c, records.c and check.c, option parsing in
 * options.c, output in output.c.
 */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "move_help.h"

static const cli_command commands[] = {
    {"backends", NULL, cmd_backends, 0, 0, 1, "[NAME]",
     "list the backend plugins found, or why one was refused",
     "Lists the plugin directories in the order they are searched, then every\n"
     "libacp_storage_<name>.so found there: name, version, plugin ABI,\n"
     "capabilities and path, or the reason it could not be loaded.\n"
     "\n"
     "With NAME, describes that backend (the one found first) and its typed\n"
     "options: name, type, default, whether the value is a secret, and what it\n"
     "does.  An unknown NAME exits with status 5 (LOAD).\n"},

    {"ping", NULL, cmd_ping, CMD_NO_CREATE, 0, 0, "", "check that the store opens and answers",
     "Opens the store and asks the backend whether it is healthy.  Prints the\n"
     "store (password hidden), the backend and its version.  A store that does\n"
     "not exist is not created (exit 3).\n"},

    {"check", NULL, cmd_check, OPT_BIT(OPT_FILTER) | OPT_BIT(OPT_TIMEOUT), 1, 1,
     "NAME|PLUGIN.so [--filter TEXT] [--timeout S]",
     "run the conformance suite against a backend plugin",
     "Runs every conformance check, each in its own process, against the backend\n"
     "NAME (found in the plugin directories) or the plugin file PLUGIN.so (named\n"
     "libacp_storage_<name>.so), and prints a table of results.\n"
     "\n"
     "  --store URL    store URI template; each {dir} becomes a fresh temporary\n"
     "                 directory per check (default: \"NAME:\"), e.g.\n"
     "                 --store 'sqlite:{dir}/test.db'\n"
     "  --filter TEXT  run only the checks whose name contains TEXT\n"
     "  --timeout S    seconds one check may take (default 60, 0: no limit)\n"
     "\n"
     "$ACP_STORAGE_URL is not used: checks write to the store.  Exits 1 when a\n"
     "check failed, crashed or timed out; skipped checks (a capability the\n"
     "backend does not declare) are not failures.\n"},

    {"verify", NULL, cmd_verify, OPT_BIT(OPT_QUARANTINE) | CMD_NO_CREATE, 0, 0, "[--quarantine]",
     "check every document, event and index of the store",
     "Walks the whole store and checks every run, session and event document\n"
     "(and, where the backend can, its checksums, indexes and stray files).\n"
     "Prints each damaged item with the reason, then a summary.\n"
     "\n"
     "  --quarantine   move damaged items aside where the backend can (the file\n"
     "                 store: recoverable, each listed with where it went), so\n"
     "                 that the rest serves normally again\n"
     "\n"
     "Exits 0 when nothing is damaged, 1 when anything is.  With --json:\n"
     "{\"schema\":1,\"store\":...,\"damaged\":[{\"kind\",\"key\",\"seq\",\"status\",\n"
     "\"location\",\"reason\",\"moved_to\"},...],\"ok\":BOOL,\"checked\":{...},...}.\n"},

    {"migrate", NULL, cmd_migrate, OPT_BIT(OPT_DRY_RUN) | OPT_BIT(OPT_STATEMENTS), 0, 0,
     "[--dry-run] [--statements]", "show or run the store's schema migration",
     "Shows the schema (or format) version of the store and the latest its\n"
     "backend knows, lists each step that would bring it there, and runs them.\n"
     "Stores opened with the option migrate=never (for an application role that\n"
     "may not change the schema) are migrated this way, by a role that may.\n"
     "\n"
     "  --dry-run      only show the versions and the steps; change nothing (a\n"
     "                store that does not exist is not created: exit 3)\n"
     "  --statements   also print the SQL (or change) of each step\n"
     "\n"
     "sqlite and postgres run the steps in one transaction: all or nothing;\n"
     "redis in short atomic steps that a new run resumes.  memory keeps no\n"
     "versioned schema: nothing to migrate.  With\n"
     "--json: {\"schema\":1,\"store\":...,\"backend\":...,\"dry_run\":BOOL,\n"
     "\"steps\":[{\"from\",\"to\",\"description\",\"detail\"},...],\"what\":...,\n"
     "\"found\":N,\"latest\":N,\"migrated\":BOOL,\"status\":...}.\n"},

    {"purge", NULL, cmd_purge,
     OPT_BIT(OPT_STATUS) | OPT_BIT(OPT_FINISHED_BEFORE) | OPT_BIT(OPT_AGENT) |
         OPT_BIT(OPT_DRY_RUN) | OPT_BIT(OPT_BATCH) | CMD_NO_CREATE,
     0, 0, "--finished-before T [--status S,...] [--agent A] [--dry-run] [--batch N]",
     "delete old finished runs with their events",
     "Deletes every run whose status is among --status (default\n"
     "completed,failed,cancelled) and whose finished_at is before T, with all\n"
     "its events, in batches (each one transaction where the backend has them).\n"
     "\n"
     "  --finished-before T  required: RFC 3339, a date (midnight UTC) or an age\n"
     "                       before now (30d, 12h, 15m, 45s, 2w)\n"
     "  --status S,...       the statuses to purge\n"
     "  --agent A            only runs of agent A\n"
     "  --dry-run            count what would be deleted, delete nothing\n"
     "  --batch N            runs per batch (1..1000, default 100)\n"
     "\n"
     "Shows progress on a terminal and prints the number of runs purged.\n"
     "Ctrl-C (or SIGTERM) stops after the current batch; a kill at any moment\n"
     "leaves every run whole or gone, and running the same purge again finishes\n"
     "the work.  With --json: {\"schema\":1,\"dry_run\":BOOL,\"purged\":N,\n"
     "\"stopped\":BOOL}.  Exits 1 when stopped.\n"},

    {"archive", NULL, cmd_archive, OPT_BIT(OPT_LIMIT) | CMD_NO_CREATE, 0, 0, "[--limit N]",
     "move finished runs from an archive store's hot tier to its cold tier",
     "For a store archive:?hot=URI&cold=URI&after=SECONDS: moves every run whose\n"
     "status is final (completed, failed, cancelled) and whose last save is at\n"
     "least `after` old from the hot tier to the cold one, with its events,\n"
     "version, creation and storage times, in batches of 100.\n"
     "\n"
     "  --limit N   move at most N runs (default: every run that is due)\n"
     "\n"
     "Prints the number of runs moved.  Ctrl-C (or SIGTERM) stops after the\n"
     "current batch; a kill at any moment shows every run exactly once, and the\n"
     "next run of the command (or open of the store) finishes a half move.\n"
     "Other backends: exit 1, UNSUPPORTED.  With --json: {\"schema\":1,\n"
     "\"archived\":N,\"stopped\":BOOL}.  Exits 1 when stopped.\n"},

    {"stats", NULL, cmd_stats, CMD_NO_CREATE, 0, 0, "", "show what the store holds",
     "Prints the runs (in all, by status, by agent), sessions, events, the size\n"
     "on disk or in memory, the schema version, and the backend, plugin ABI and\n"
     "library versions.  Backends that keep counters answer at once; for the\n"
     "others every run, event and session is walked (\"scanned\").  With --json:\n"
     "{\"schema\":1,\"store\":...,\"backend\":...,\"backend_version\":...,\n"
     "\"plugin_abi\":\"1.2\",\"library_version\":...,\"scanned\":BOOL,\"runs\":N,\n"
     "\"runs_by_status\":{...},\"runs_by_agent\":{...},\"sessions\":N|null,\n"
     "\"events\":N|null,\"bytes\":N|null,\"schema_version\":N|null}.\n"},

    {"run", "save", cmd_run_save,
     OPT_BIT(OPT_AGENT) | OPT_BIT(OPT_SESSION) | OPT_BIT(OPT_STATUS) | OPT_BIT(OPT_OUTPUT) |
         OPT_BIT(OPT_IF_VERSION) | OPT_BIT(OPT_IF_ABSENT),
     0, 1,
     "FILE|- [--if-version N | --if-absent]\n"
     "--agent NAME [--session ID] [--status S] [--output TEXT]...",
     "store a run and print its id",
     "Stores the run document in FILE (- reads standard input), replacing a run\n"
     "with the same run_id, or builds a new run (fresh id, created now):\n"
     "\n"
     "  --agent NAME      the agent's name\n"
     "  --session ID      the session the run belongs to\n"
     "  --status S        created (default), in-progress, awaiting, cancelling,\n"
     "                    cancelled, completed or failed\n"
     "  --output TEXT     add an output message with one text part (repeatable)\n"
     "  --if-version N    store only if the run is still at version N (as run get\n"
     "                    --json or run list reported it)\n"
     "  --if-absent       store only if no run has this run_id yet\n"
     "\n"
     "Prints the run id; with --json {\"schema\":1,\"run_id\":...,\"version\":N}, the\n"
     "version the run now has.  Exits 7 when a condition fails: another writer\n"
     "came first, nothing was stored; read the run again and retry.\n"},

    {"run", "get", cmd_run_get, CMD_NO_CREATE, 1, 1, "RUN_ID", "print a run",
     "Prints the stored run document on one line; with --json\n"
     "{\"schema\":1,\"run\":DOC,\"version\":N}.  Exits 3 if there is no such run\n"
     "(or no such store: commands that only read never create one).\n"},

    {"run", "delete", cmd_run_delete, CMD_NO_CREATE, 1, 1, "RUN_ID", "delete a run and its events",
     "Deletes the run and every event of RUN_ID.  Exits 3 if neither existed.\n"},

    {"run", "list", cmd_run_list,
     OPT_BIT(OPT_AGENT) | OPT_BIT(OPT_SESSION) | OPT_BIT(OPT_LIMIT) | OPT_BIT(OPT_OFFSET) |
         OPT_BIT(OPT_CURSOR) | OPT_BIT(OPT_TOTAL) | OPT_BIT(OPT_ALL) | OPT_BIT(OPT_FORMAT) |
         OPT_BIT(OPT_STATUS) | OPT_BIT(OPT_SINCE) | OPT_BIT(OPT_UNTIL) | CMD_NO_CREATE,
     0, 0,
     "[--agent A] [--session S] [--status S,...] [--since T] [--until T]\n"
     "[--limit N] [--offset N] [--cursor C] [--total] [--all] [--format F]",
     "list runs, newest first",
     "Prints runs newest first: a table (id, agent, status, created, finished,\n"
     "version)\n"
     "on a terminal, one document per line otherwise.\n"
     "\n"
     "  --agent A     only runs of agent A\n"
     "  --session S   only runs of session S\n"
     "  --status S,.. only runs in one of these statuses (completed,failed)\n"
     "  --since T     only runs created at or after T\n"
     "  --until T     only runs created before T\n"
     "                T: RFC 3339 (2026-01-01T00:00:00Z), a date (2026-01-01,\n"
     "                midnight UTC) or an age before now (30d, 12h, 15m, 45s, 2w)\n"
     "  --limit N     at most N runs (0..1000, default 10; page size with --all,\n"
     "                default 100)\n"
     "  --offset N    skip N runs first\n"
     "  --cursor C    start after the page that gave next_cursor C\n"
     "  --total       also count every match (\"total: N\" on stderr, or \"total\"\n"
     "                with --json)\n"
     "  --all         walk every page\n"
     "  --format F    table, lines (JSON lines) or json (as --json)\n"
     "\n"
     "When more runs follow, stderr says so and gives the command that goes on.\n"
     "With --json: {\"schema\":1,\"runs\":[...],\"versions\":[...],\"total\":N|null,\n"
     "\"next_cursor\":C|null}, versions[k] being the version of runs[k].\n"},

    {"session", "save", cmd_session_save, OPT_BIT(OPT_ID) | OPT_BIT(OPT_STATE), 0, 1,
     "FILE|-\n--id ID [--state JSON]", "store a session and print its id",
     "Stores the session document in FILE (- reads standard input), replacing a\n"
     "session with the same id, or builds one:\n"
     "\n"
     "  --id ID         the session id\n"
     "  --state JSON    its state, any JSON value (default null)\n"
     "\n"
     "Prints the session id.\n"},

    {"session", "get", cmd_session_get, CMD_NO_CREATE, 1, 1, "SESSION_ID", "print a session",
     "Prints the stored session document on one line.  Exits 3 if there is no\n"
     "such session (or no such store).\n"},

    {"session", "delete", cmd_session_delete, CMD_NO_CREATE, 1, 1, "SESSION_ID", "delete a session",
     "Deletes the session only; its runs stay.  Exits 3 if there is no such session.\n"},

    {"session", "list", cmd_session_list,
     OPT_BIT(OPT_AFTER) | OPT_BIT(OPT_LIMIT) | OPT_BIT(OPT_ALL) | OPT_BIT(OPT_FORMAT) |
         CMD_NO_CREATE,
     0, 0,
     "[--after ID] [--limit N] [--all] [--format F]", "list sessions by id",
     "Prints sessions in id order (byte-wise): a table (id, number of history\n"
     "entries) on a terminal, one document per line otherwise.\n"
     "\n"
     "  --after ID    only sessions whose id sorts after ID\n"
     "  --limit N     at most N sessions (1..1000, default 100; page size with --all)\n"
     "  --all         walk every page\n"
     "  --format F    table, lines (JSON lines) or json (as --json)\n"
     "\n"
     "With --json: {\"schema\":1,\"sessions\":[...],\"next_cursor\":ID|null}.\n"},

    {"event", "add", cmd_event_add, OPT_BIT(OPT_TYPE) | OPT_BIT(OPT_TEXT), 1, 2,
     "RUN_ID JSON|-\nRUN_ID --type TYPE [--text TEXT]",
     "append an event to a run and print its sequence number",
     "Appends the event JSON (- reads standard input) to the events of RUN_ID,\n"
     "or builds one:\n"
     "\n"
     "  --type TYPE   the event type (run.created, message.part, ...)\n"
     "  --text TEXT   a text payload: the part of a message.part, the message of\n"
     "                message.created or message.completed, the error message of\n"
     "                an error event\n"
     "\n"
     "The run need not exist.  Prints the sequence number the store assigned.\n"},

    {"event", "list", cmd_event_list,
     OPT_BIT(OPT_LIMIT) | OPT_BIT(OPT_OFFSET) | OPT_BIT(OPT_AFTER) | OPT_BIT(OPT_ALL) |
         OPT_BIT(OPT_FORMAT) | OPT_BIT(OPT_FOLLOW) | CMD_NO_CREATE,
     1, 1, "RUN_ID [--limit N] [--offset N] [--after SEQ] [--all] [--format F] [--follow]",
     "list the events of a run",
     "Prints the events of RUN_ID in sequence order: a table (sequence number,\n"
     "time stored, type) on a terminal, one document per line otherwise; the\n"
     "json format has the sequence number and time of each event too.  An\n"
     "unknown run has no events.\n"
     "\n"
     "  --limit N     at most N events (0..1000, default 100; page size with --all)\n"
     "  --offset N    skip N events first\n"
     "  --after SEQ   only events after sequence number SEQ\n"
     "  --all         walk every page\n"
     "  -f, --follow  print the events (after --after SEQ) as they are stored, by\n"
     "                any process, until the run's terminal event (run.completed,\n"
     "                run.failed, run.cancelled) or Ctrl-C; one document per line,\n"
     "                or with --json one {\"seq\":N,\"stored_at\":T,\"event\":{...}}\n"
     "                per line.  Needs a backend with the follow capability.\n"
     "\n"
     "  --format F    table, lines (JSON lines) or json (as --json)\n"
     "\n"
     "With --json: {\"schema\":1,\"run_id\":...,\"events\":[{\"seq\":N,\"stored_at\":T,\n"
     "\"event\":{...}},...],\"next_cursor\":SEQ|null}.\n"},

    /* Moving data (move.c). */
    {"export", NULL, cmd_export, OPT_BIT(OPT_OUT) | CMD_NO_CREATE, 0, 0, "[-o FILE]",
     "write the whole store as a dump", MOVE_HELP_EXPORT},
    {"import", NULL, cmd_import, OPT_BIT(OPT_RESUME) | OPT_BIT(OPT_REPLACE), 1, 1,
     "FILE|- [--resume] [--replace]", "load a dump into the store", MOVE_HELP_IMPORT},
    {"copy", NULL, cmd_copy,
     OPT_BIT(OPT_FROM) | OPT_BIT(OPT_TO) | OPT_BIT(OPT_RESUME) | OPT_BIT(OPT_REPLACE) |
         OPT_BIT(OPT_VERIFY),
     0, 0, "--from URL --to URL [--resume] [--replace] [--verify]",
     "copy every session, run and event from one store into another", MOVE_HELP_COPY},
    {"diff", NULL, cmd_diff, 0, 2, 2, "URL URL", "compare two stores item by item",
     MOVE_HELP_DIFF},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const char exit_codes_help[] =
    "Exit status:\n"
    "  0  success\n"
    "  1  failure: a backend error (I/O, corrupt data, conflict, ...) or a failed check\n"
    "  2  usage error: an unknown command or option, a missing or extra argument,\n"
    "     or an option value of the wrong form or out of range\n"
    "  3  not found: no such run, session or store\n"
    "  4  invalid input: the store or library refused a document, id, cursor or\n"
    "     store URI\n"
    "  5  the backend plugin could not be loaded\n"
    "  6  the store is unavailable (server down, lock timeout); retrying may help\n"
    "  7  conflict: run save --if-version or --if-absent found another version\n";

static const char global_options_help[] =
    "Options for every command:\n"
    "  --store URL   the store (default: the profile of --profile, else\n"
    "                $ACP_STORAGE_URL, else the profile $ACP_STORAGE_PROFILE or\n"
    "                [default] of the configuration file, else the sqlite store\n"
    "                $XDG_DATA_HOME/acp-storage/store.db, by default in\n"
    "                ~/.local/share)\n"
    "  --profile NAME  the store of profile NAME of the configuration file\n"
    "                $XDG_CONFIG_HOME/acp-storage/config (~/.config): URI,\n"
    "                options, password_file; no password on the command line\n"
    "  --json        print one JSON object with \"schema\":1 instead of lines;\n"
    "                errors too are JSON, on stderr\n"
    "  -h, --help    show help; after a command, that command's help\n";

static void command_name(const cli_command *c, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s", c->group, c->verb ? " " : "", c->verb ? c->verb : "");
}

static int print_global_help(void)
{
    fputs("Usage: acp-storage [--store URL | --profile NAME] [--json] COMMAND [ARGS...]\n"
          "       acp-storage help [COMMAND] | --help | --version\n"
          "\n"
          "Keep and inspect ACP runs, sessions and event streams in any acp-storage\n"
          "backend, and check backend plugins.\n"
          "\n"
          "Commands:\n",
          stdout);
    for (size_t i = 0; i < N_COMMANDS; i++) {
        char name[64];
        command_name(&commands[i], name, sizeof name);
        fprintf(stdout, "  %-16s %s\n", name, commands[i].summary);
    }
    fprintf(stdout, "  %-16s %s\n", "bench", "run the benchmark program (acp-storage bench --help)");
    fprintf(stdout, "  %-16s %s\n", "help [COMMAND]", "show this help, or a command's");
    fprintf(stdout,
            "\n%s"
            "  --version     show the versions of this tool, the library and the plugin ABI\n"
            "\n%s"
            "\n"
            "Environment:\n"
            "  ACP_STORAGE_URL          the store when --store is not given\n"
            "  ACP_STORAGE_PROFILE      the profile when neither --store, --profile nor\n"
            "                           ACP_STORAGE_URL is given\n"
            "  XDG_CONFIG_HOME          where the configuration file is\n"
            "  PGPASSWORD, REDISCLI_AUTH  a postgres or redis password\n"
            "  ACP_STORAGE_PLUGIN_PATH  more plugin directories (absolute, ':'-separated)\n"
            "  XDG_DATA_HOME, HOME      where the default store lives\n"
            "  NO_COLOR                 no colour in the output when set\n"
            "\n"
            "Data goes to standard output, errors to standard error as\n"
            "\"acp-storage: STATUS: message\".  'acp-storage help COMMAND' tells more;\n"
            "see also acp-storage(1), acp-storage-uris(7) and acp_storage(3).\n",
            global_options_help, exit_codes_help);
    return CLI_EXIT_OK;
}

static int print_group_help(const char *group)
{
    fprintf(stdout, "Usage: acp-storage %s COMMAND [ARGS...]\n\nCommands:\n", group);
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(commands[i].group, group) == 0)
            fprintf(stdout, "  %-8s %s\n", commands[i].verb, commands[i].summary);
    }
    fprintf(stdout, "\nRun 'acp-storage help %s COMMAND' for its arguments.\n", group);
    return CLI_EXIT_OK;
}

/* "Usage: acp-storage NAME SYNOPSIS", one line per form of the command
 * (forms are separated by newlines in the synopsis). */
static void print_usage_lines(FILE *f, const cli_command *c)
{
    char name[64];
    command_name(c, name, sizeof name);
    const char *form = c->synopsis;
    const char *lead = "Usage:";
    do {
        size_t n = strcspn(form, "\n");
        fprintf(f, "%s acp-storage %s%s%.*s\n", lead, name, n ? " " : "", (int)n, form);
        lead = "      ";
        form += n;
    } while (*form++ == '\n');
}

static int print_command_help(const cli_command *c)
{
    print_usage_lines(stdout, c);
    fprintf(stdout, "\n%s\n%s\n%s", c->help, global_options_help, exit_codes_help);
    return CLI_EXIT_OK;
}

static const cli_command *find_command(const char *group, const char *verb)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        const cli_command *c = &commands[i];
        if (strcmp(c->group, group) == 0 &&
            (!verb || !c->verb || strcmp(c->verb, verb) == 0))
            return c;
    }
    return NULL;
}

static int is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* The verbs of a group, "save, get, delete, list". */
static void verb_list(const char *group, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_COMMANDS && used < size; i++)
        if (strcmp(commands[i].group, group) == 0)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "",
                                     commands[i].verb);
}

/* The command a mistyped word most resembles: a group (group NULL) or a
 * verb of group. */
static const char *closest_command(const char *group, const char *word)
{
    const char *names[N_COMMANDS + 2];
    size_t n = 0;
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (!group)
            names[n++] = commands[i].group;
        else if (strcmp(commands[i].group, group) == 0)
            names[n++] = commands[i].verb;
    }
    if (!group) {
        names[n++] = "bench";
        names[n++] = "help";
    }
    return cli_closest(word, names, n);
}

static int unknown_command(cli_ctx *ctx, const char *group, const char *word)
{
    const char *guess = closest_command(group, word);
    if (group) {
        char verbs[128];
        verb_list(group, verbs, sizeof verbs);
        if (guess)
            return cli_usage_error(ctx, "unknown command '%s %s'; did you mean '%s %s'?", group,
                                   word, group, guess);
        return cli_usage_error(ctx, "unknown command '%s %s' (try %s)", group, word, verbs);
    }
    if (guess)
        return cli_usage_error(ctx, "unknown command '%s'; did you mean '%s'?", word, guess);
    return cli_usage_error(ctx, "unknown command '%s'", word);
}

/* acp-storage help [GROUP [VERB]] */
static int help_command(cli_ctx *ctx, int argc, char **argv, int i)
{
    /* The words only: --help asks for what help prints anyway, and --json
     * changes nothing in a text meant for a person. */
    char *words[2];
    int n = 0;
    for (int j = i; j < argc; j++) {
        if (is_help(argv[j]) || strcmp(argv[j], "--json") == 0)
            continue;
        if (argv[j][0] == '-')
            return cli_usage_error(ctx, "help takes command names, not the option '%s'", argv[j]);
        if (n == 2)
            return cli_usage_error(ctx, "help takes a command: help [GROUP [COMMAND]]");
        words[n++] = argv[j];
    }
    argv = words;
    argc = n;
    i = 0;
    if (i >= argc)
        return print_global_help();
    if (strcmp(argv[i], "bench") == 0) {
        fputs("acp-storage bench runs the benchmark program acp-storage-bench; its options:\n"
              "'acp-storage bench --help', or acp-storage-bench(1).\n",
              stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[i], "help") == 0)
        return print_global_help();
    const cli_command *cmd = find_command(argv[i], NULL);
    if (!cmd)
        return unknown_command(ctx, NULL, argv[i]);
    if (!cmd->verb)
        return print_command_help(cmd);
    if (i + 1 >= argc)
        return print_group_help(cmd->group);
    const cli_command *verb = find_command(cmd->group, argv[i + 1]);
    if (!verb) {
        ctx->group = cmd->group;
        return unknown_command(ctx, cmd->group, argv[i + 1]);
    }
    return print_command_help(verb);
}

/* --format, or the default for where stdout goes: a table for a person,
 * JSON lines for a program. */
static int choose_format(cli_ctx *ctx)
{
    static const char *const names[] = {"table", "lines", "json"};
    const char *f = ctx->args.value[OPT_FORMAT];
    if (!f) {
        ctx->format = ctx->json ? FORMAT_JSON : isatty(STDOUT_FILENO) ? FORMAT_TABLE : FORMAT_LINES;
        return CLI_EXIT_OK;
    }
    for (int k = 0; k < 3; k++) {
        if (strcmp(f, names[k]) == 0) {
            if (ctx->json && k != FORMAT_JSON)
                return cli_usage_error(ctx, "--json and --format %s disagree", f);
            ctx->format = (cli_format)k;
            ctx->json = k == FORMAT_JSON;
            return CLI_EXIT_OK;
        }
    }
    const char *guess = cli_closest(f, names, 3);
    return cli_usage_error(ctx, "--format takes table, lines or json, not '%s'%s%s%s", f,
                           guess ? "; did you mean '" : "", guess ? guess : "",
                           guess ? "'?" : "");
}

static int dispatch(cli_ctx *ctx, int argc, char **argv)
{
    /* Global options may come before the command. */
    int i = 1;
    int rc = cli_parse_options(ctx, argc, argv, &i, OPT_GLOBAL | OPT_BIT(OPT_VERSION), 1);
    if (rc)
        return rc;
    ctx->json = ctx->args.value[OPT_JSON] != NULL;
    if (ctx->args.value[OPT_HELP])
        return print_global_help();
    if (ctx->args.value[OPT_VERSION])
        return cli_print_version(ctx);
    if (i >= argc)
        return cli_usage_error(ctx, "no command given");
    if (strcmp(argv[i], "help") == 0)
        return help_command(ctx, argc, argv, i + 1);
    /* bench is another program with its own options: the global ones mean
     * nothing to it, so it is only recognised as the first word. */
    if (strcmp(argv[i], "bench") == 0)
        return cli_usage_error(ctx, "'bench' takes no global options: run 'acp-storage bench "
                                    "[OPTIONS]' (its options: 'acp-storage bench --help')");

    const cli_command *cmd = find_command(argv[i], NULL);
    if (!cmd)
        return unknown_command(ctx, NULL, argv[i]);
    ctx->group = cmd->group;
    i++;
    if (cmd->verb) {
        rc = cli_parse_options(ctx, argc, argv, &i, OPT_GLOBAL, 1);
        if (rc)
            return rc;
        if (ctx->args.value[OPT_HELP])
            return print_group_help(cmd->group);
        char verbs[128];
        verb_list(cmd->group, verbs, sizeof verbs);
        if (i >= argc)
            return cli_usage_error(ctx, "'%s' needs a command: %s", cmd->group, verbs);
        cmd = find_command(cmd->group, argv[i]);
        if (!cmd)
            return unknown_command(ctx, ctx->group, argv[i]);
        i++;
    }
    ctx->cmd = cmd;

    /* --help wins over any other mistake on the line. */
    for (int j = i; j < argc && strcmp(argv[j], "--") != 0; j++)
        if (is_help(argv[j]))
            return print_command_help(cmd);
    rc = cli_parse_options(ctx, argc, argv, &i, OPT_GLOBAL | cmd->options, 0);
    if (rc)
        return rc;
    ctx->json = ctx->args.value[OPT_JSON] != NULL;
    rc = choose_format(ctx);
    if (rc)
        return rc;
    /* A --json object is one line: a progress line erased on the same
     * terminal would take part of it along. */
    ctx->progress = ctx->stderr_tty && !(ctx->json && isatty(STDOUT_FILENO));

    if (ctx->args.n_pos < cmd->min_pos) {
        char name[64], usage[512];
        command_name(cmd, name, sizeof name);
        snprintf(usage, sizeof usage, "Usage: acp-storage %s %.*s", name,
                 (int)strcspn(cmd->synopsis, "\n"), cmd->synopsis);
        return cli_report_usage("missing argument", usage);
    }
    if (ctx->args.n_pos > cmd->max_pos)
        return cli_usage_error(ctx, "unexpected argument '%s'", ctx->args.pos[cmd->max_pos]);
    return cmd->fn(ctx);
}

/* `acp-storage bench ARGS...` runs the benchmark program with ARGS: the one
 * installed beside this command, else the first on PATH.  It has its own
 * options and help (acp-storage bench --help). */
static int run_bench(char **argv)
{
    char self[4096], path[4200];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    argv[0] = "acp-storage-bench";
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            /* Installed: bin/acp-storage-bench; in a build tree: ../../bench/. */
            snprintf(path, sizeof path, "%s/acp-storage-bench", self);
            if (access(path, X_OK) == 0)
                execv(path, argv);
            snprintf(path, sizeof path, "%s/../../bench/acp-storage-bench", self);
            if (access(path, X_OK) == 0)
                execv(path, argv);
        }
    }
    execvp("acp-storage-bench", argv);
    fprintf(stderr,
            "acp-storage: bench: cannot run acp-storage-bench: %s (it is built with "
            "-DACP_STORAGE_BUILD_BENCH=ON and installed with -DACP_STORAGE_INSTALL_BENCH=ON)\n",
            strerror(errno));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "bench") == 0)
        return run_bench(argv + 1);
    cli_ctx ctx = {0};
    ctx.argc = argc;
    ctx.argv = argv;
    /* Errors are JSON from the first one on when --json (or --format json)
     * is anywhere among the options, even if the line fails to parse. */
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "--format=json") == 0 ||
            (strcmp(argv[i], "--format") == 0 && i + 1 < argc && strcmp(argv[i + 1], "json") == 0))
            cli_json_errors(1);
    const char *no_color = getenv("NO_COLOR");
    const char *term = getenv("TERM");
    ctx.stderr_tty = isatty(STDERR_FILENO);
    ctx.color = isatty(STDOUT_FILENO) && !(no_color && no_color[0]) &&
                !(term && strcmp(term, "dumb") == 0);
    int rc = dispatch(&ctx, argc, argv);
    free(ctx.args.list);
    return cli_finish_stdout(rc);
}
