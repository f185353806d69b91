/* SPDX-License-Identifier: MIT */
/*
 * baseline_redis_lua.h - the raw Redis baseline's Lua scripts
 * (baseline_redis_lua.c), apart from the plugin's sources so that the
 * benchmark compiles no backend code.
 */
#ifndef ACP_BENCH_BASELINE_REDIS_LUA_H
#define ACP_BENCH_BASELINE_REDIS_LUA_H

/* The scripts, in the order of brd_scripts[]; all take the key prefix as
 * ARGV[1] and no KEYS. */
enum {
    BRD_SAVE_RUN,     /* P run_id created8 agent has_session session doc -> 1 */
    BRD_DELETE_RUN,   /* P run_id -> number of things removed (0: none) */
    BRD_LIST_RUNS,    /* P index offset limit want_total -> {total or -1, id, value, ...} */
    BRD_ADD_EVENT,    /* P run_id element -> sequence */
    BRD_SAVE_SESSION, /* P id doc -> 1 */
    BRD_N_SCRIPTS
};

extern const char *const brd_scripts[BRD_N_SCRIPTS];

#endif /* ACP_BENCH_BASELINE_REDIS_LUA_H */
