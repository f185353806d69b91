/* SPDX-License-Identifier: MIT */
/*
 * redis_int.h - what the files of the redis backend share: the instance,
 * its configuration, the connection pool and the server-side scripts.
 *
 *   redis.c       the methods of the vtable (what is stored where)
 *   redis_conf.c  the URI and the options
 *   redis_conn.c  connections: pool, timeouts, commands, errors
 *   redis_lua.c   the Lua scripts that make multi-key writes atomic
 *   redis_layout.c the layout version of a store and its migration
 *   redis_stats.c  stats: figures from the indexes' sizes
 */
#ifndef ACP_REDIS_INT_H
#define ACP_REDIS_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "acp_storage_plugin.h"

#define RD_NAME "redis"

/* Longest key prefix: keeps every key of a run id within a stack buffer. */
#define RD_PREFIX_MAX 512

/* The scripts, in the order of rd_scripts[]. */
enum {
    RD_SAVE_RUN,
    RD_DELETE_RUN,
    RD_LIST_RUNS,
    RD_ADD_EVENT,
    RD_SAVE_SESSION,
    RD_DELETE_SESSION,
    RD_LIST_SESSIONS,
    RD_SAVE_RUNS,   /* batched writes: many runs, many events, one script */
    RD_ADD_EVENTS,
    RD_LAYOUT,      /* the store's layout version, and its migration */
    RD_MIGRATE,
    /* ---- stats (redis_stats.c) ---- */
    RD_STATS_NAMES, /* the statuses and agents of a step of P w */
    RD_STATS_COUNT, /* totals, and the runs of given statuses and agents */
    RD_STATS_WALK,  /* events and bytes of a chunk of runs or sessions */
    RD_N_SCRIPTS
};

extern const char *const rd_scripts[RD_N_SCRIPTS];

/* The layout of the keys (P v, redis_lua.c): 1 before status indexes (no
 * P v), 2 with them.  0: no runs stored yet. */
#define RD_LAYOUT_VERSION 2

/* Option migrate (the core's): what open does with a layout-1 store. */
enum { RD_MIGRATE_AUTO, RD_MIGRATE_NEVER, RD_MIGRATE_INSPECT };

/* One server connection; used by one thread at a time. */
typedef struct rd_conn {
    redisContext *ctx;
    int64_t timeout_ms; /* socket timeout now set: 0 none, -1 not yet set */
    int broken;         /* a request failed on it: never reuse */
    int sys_errno;      /* errno of the failed send or receive, or 0 */
    int reused;         /* taken from the pool, not connected for this request */
} rd_conn;

/* Where the server is and how to talk to it (from the URI and options). */
typedef struct rd_conf {
    char *host;       /* TCP host, or NULL for a unix socket */
    int port;
    char *socket;     /* unix socket path, or NULL */
    char *user;       /* ACL user, or NULL */
    char *password;   /* or NULL; never printed */
    long db;
    char *where;      /* "127.0.0.1:6379 db 0" for messages: no secrets */
    char *prefix;
    size_t prefix_len;
    int64_t ttl_ms;             /* 0: runs and sessions never expire */
    int64_t connect_timeout_ms; /* > 0 */
    int64_t command_timeout_ms; /* 0: only the call's own deadline */
    int pool_size;
    int migrate;                /* RD_MIGRATE_* */
} rd_conf;

struct acp_backend {
    const acp_plugin_host *host;
    rd_conf conf;
    pthread_mutex_t mu; /* guards the pool */
    pthread_cond_t cv;  /* a connection was returned or closed */
    rd_conn **idle;     /* pool_size slots */
    int n_idle;
    int n_open;         /* idle and in use */
    unsigned long fork_gen; /* rd_fork_gen when the connections were made */
    char sha[RD_N_SCRIPTS][41];
};

/* redis_conf.c: fill conf from the open arguments (INVALID, NOMEM). */
/* The descriptor's variants and typed options (redis_conf.c). */
extern const char *const rd_variants[];
extern const acp_option_spec rd_options[];
acp_status rd_conf_parse(rd_conf *conf, const acp_plugin_host *host, const acp_open_args *args,
                         acp_call *call);
void rd_conf_free(rd_conf *conf);

/* redis_conn.c */
int rd_pool_init(acp_backend *b);
void rd_pool_free(acp_backend *b);

/* What a request is about, for error messages: "save_run" of run "x". */
typedef struct rd_op {
    const char *name; /* method name */
    const char *id;   /* run or session id, or NULL */
} rd_op;

/* Flags of rd_request. */
#define RD_PING 1u  /* bound the wait by connect_timeout even without a deadline */
#define RD_RETRY 2u /* idempotent: may run again when a pooled connection was lost */

/* Send one command, or one script (script >= 0: argv holds only its ARGV,
 * sent with EVALSHA, or EVAL when the server lacks it), on a pooled
 * connection, and hand back the reply (to freeReplyObject).  Any failure,
 * an error reply included, is reported through host->error and returned;
 * *out is then NULL. */
acp_status rd_request(acp_backend *b, acp_call *call, const rd_op *op, unsigned flags, int script,
                      int argc, const char **argv, const size_t *lens, redisReply **out);

/* A connection outside the pool (connect timeout ms, socket timeout
 * cmd_ms; 0: none), closed with rd_conn_close; rd_conn_call sends one
 * command and reads one reply (NULL: the connection broke). */
acp_status rd_conn_open(acp_backend *b, acp_call *call, const rd_op *op, int64_t ms,
                        int64_t cmd_ms, rd_conn **out);
void rd_conn_close(rd_conn *c);
redisReply *rd_conn_call(rd_conn *c, int argc, const char **argv, const size_t *lens);

/* wait_events (redis_follow.c): SUBSCRIBE to P n:<run_id>, published by
 * the add_event script; look is the backend's get_events. */
acp_status rd_follow_wait(acp_backend *b, const acp_event_query *q,
                          acp_status (*look)(acp_backend *, const acp_event_query *, acp_call *),
                          acp_call *call);

/* redis_layout.c: at open, check the store's layout and migrate it as the
 * option migrate says (auto, never, inspect); the vtable's migrate. */
acp_status rd_open_layout(acp_backend *b, acp_call *call);
acp_status rd_migrate(acp_backend *b, uint32_t flags, acp_call *call);

/* redis_stats.c: the vtable's stats. */
acp_status rd_stats(acp_backend *b, acp_call *call);

/* Load every script (open): fills b->sha. */
acp_status rd_load_scripts(acp_backend *b, acp_call *call);

/* Report a reply of an unexpected shape (CORRUPT: another program wrote
 * keys under our prefix, or a bug). */
acp_status rd_bad_reply(acp_backend *b, acp_call *call, const rd_op *op, const char *what);

#endif /* ACP_REDIS_INT_H */
