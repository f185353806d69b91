/* SPDX-License-Identifier: MIT */
/* move_help.h - the --help text of export, import, copy and diff (move.c). */
#ifndef ACP_CLI_MOVE_HELP_H
#define ACP_CLI_MOVE_HELP_H

#define MOVE_PROGRESS_HELP                                                               \
    "On a terminal, progress (runs done, rate, time left) goes to stderr; none\n"        \
    "when stderr is not a terminal.  With --json a summary object is printed\n"          \
    "at the end: {\"schema\":1,\"sessions\":N,\"runs\":N,\"events\":N,\"skipped\":N,\n"  \
    "\"conflicts\":N,\"seconds\":S}.  Each item not copied is reported on stderr.\n"

#define MOVE_HELP_EXPORT                                                                 \
    "Writes every session, run (with its creation time) and event (with its\n"          \
    "sequence number and storage time) of the store as a dump: JSON records,\n"          \
    "documents byte for byte (docs/dump-format.md).  Memory stays bounded.\n"            \
    "\n"                                                                                 \
    "  -o, --out FILE  write to FILE (default: standard output); a name ending\n"        \
    "                  in .gz is compressed with gzip\n"                                 \
    "\n" MOVE_PROGRESS_HELP

#define MOVE_HELP_IMPORT                                                                 \
    "Loads the dump FILE (- reads standard input; gzip is detected) into the\n"         \
    "store, keeping creation times, sequence numbers and storage times.\n"               \
    "\n"                                                                                 \
    "  --resume    continue an interrupted import: runs already complete are\n"          \
    "              skipped, a half-imported run is deleted and imported again\n"         \
    "  --replace   replace runs and sessions that exist with other content\n"            \
    "\n"                                                                                 \
    "Without them, a run or session that exists in the store is a conflict:\n"          \
    "reported, left untouched, and the import goes on (exit 1 at the end).\n"            \
    "\n" MOVE_PROGRESS_HELP

#define MOVE_HELP_COPY                                                                   \
    "Copies every session, run and event from the store --from URL into the\n"          \
    "store --to URL, as export then import would, without a file.\n"                     \
    "\n"                                                                                 \
    "  --from URL  the source store (never created)\n"                                   \
    "  --to URL    the target store\n"                                                   \
    "  --resume    continue an interrupted copy (even after kill -9): ends with\n"       \
    "              exactly the source's content; a finished copy is not changed\n"      \
    "  --replace   replace runs and sessions that exist with other content\n"            \
    "  --verify    compare both stores afterwards, as diff does\n"                       \
    "\n" MOVE_PROGRESS_HELP

#define MOVE_HELP_DIFF                                                                   \
    "Compares two stores item by item: sessions, runs with their creation\n"            \
    "times, events with their sequence numbers and storage times, documents\n"          \
    "byte for byte.  Prints each difference, then the counts and a digest of\n"          \
    "each side.  Exits 0 when they hold the same, 1 when they differ.\n"                 \
    "With --json: {\"schema\":1,\"differences\":[...],\"counts\":[{...},{...}]}.\n"

#endif /* ACP_CLI_MOVE_HELP_H */
