/* SPDX-License-Identifier: MIT */
/*
 * bench.h - what the parts of acp-storage-bench share.
 *
 *   main.c       options, the table and the JSON report
 *   phases.c     the W1 phases; store and baseline run in interleaved chunks
 *   workload.c   the W1 documents, built once up front from a fixed seed
 *   api.c        the target that goes through the public API (any store URI)
 *   baseline_*.c the raw baselines: the same work written by hand against
 *                each engine, with the settings the backend uses
 *   scale.c      list/get latency at 10k..1M runs, cursor depth, threads,
 *                durable appends, memory per run
 *   overhead.c   the cost of a call through the core and the plugin table
 *   util.c       clocks, statistics, temporary directories, JSON output
 */
#ifndef ACP_BENCH_H
#define ACP_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "acp_storage.h"

/* Most threads any target is prepared for. */
#define BENCH_MAX_THREADS 64

/* ---- the W1 workload (workload.c) --------------------------------------- */

typedef struct w1 {
    size_t runs, events_per_run, agents, sessions;
    uint64_t seed;
    /* Per run. */
    char **run_id;
    size_t *run_id_len;
    unsigned *agent;      /* index into agent_name */
    unsigned *session;    /* index into session_id */
    int64_t *created_us;  /* the document's created_at */
    int64_t *finished_us; /* the P2 document's finished_at */
    char **doc_new;       /* P1: status in-progress, two output messages */
    size_t *doc_new_len;
    char **doc_done;      /* P2: status completed, finished_at set */
    size_t *doc_done_len;
    /* Names. */
    char **agent_name;
    char **session_id;
    char **session_doc; /* P8 */
    size_t *session_doc_len;
    /* Event documents: a pool cycled through (they differ in content). */
    char **event_doc;
    size_t *event_doc_len;
    size_t n_event_docs;
    /* Random orders and arguments (fixed by the seed). */
    size_t *perm;           /* P3, P5: runs in random order; P9 deletes the first */
    size_t list_ops;        /* P6 and P7 */
    unsigned *p6_agent;
    int64_t *p6_offset;
    unsigned *p7_session;
    size_t session_ops;     /* P8 */
    size_t delete_ops;      /* P9 */
    double avg_run_doc, avg_event_doc, avg_session_doc; /* bytes */
} w1;

/* Build every document of W1.  Returns 0, or -1 when out of memory. */
int w1_build(w1 *w, size_t runs, size_t events_per_run, uint64_t seed);
void w1_free(w1 *w);
/* The event document of run r, event k. */
static inline size_t w1_event_index(const w1 *w, size_t r, size_t k)
{
    return (r * w->events_per_run + k) % w->n_event_docs;
}
/* Build one run document like W1's (for the scale fills): run id, agent
 * and session indexes, created_us; into buf (at least 2048 bytes). */
size_t w1_run_doc(char *buf, size_t cap, const char *run_id, const char *agent,
                  const char *session, int64_t created_us, uint64_t salt);
/* A run id derived from a number and the seed (36 characters, UUID-like). */
void w1_run_id(char out[37], uint64_t seed, uint64_t n);

/* Deterministic random numbers (splitmix64). */
static inline uint64_t bench_rand(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* ---- targets: the store through the API, or a baseline ------------------ */

/* One thing measured.  Every operation takes the calling thread's index
 * (0..threads-1, for per-thread connections) and returns the number of
 * items it produced (documents read, 1 for a write), or -1 on failure
 * with a message in the target's last_error. */
typedef struct target target;
struct target {
    char name[64];        /* "sqlite" or "sqlite (raw)" */
    char detail[256];     /* settings, for the report */
    const w1 *w;
    int threads;          /* threads the target was opened for */
    void *ctx;
    long (*save_run)(target *t, int tid, size_t i, int done);
    long (*get_run)(target *t, int tid, size_t i);
    long (*add_event)(target *t, int tid, size_t r, size_t k);
    long (*get_events)(target *t, int tid, size_t r);
    /* agent or session index, or -1; with the total (counted in items as
     * one more) when want_total. */
    long (*list_runs)(target *t, int tid, long agent, long session, int64_t offset,
                      int64_t limit, int want_total);
    long (*save_session)(target *t, int tid, size_t s);
    long (*get_session)(target *t, int tid, size_t s);
    long (*delete_run)(target *t, int tid, size_t i);
    void (*close)(target *t);
    char last_error[512]; /* first failure seen */
};

/* Record a failure (the first one is kept).  Returns -1. */
long target_fail(target *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The store through the public API.  uri must be fully expanded.
 * Returns 0, or -1 with *why filled. */
int api_open(target *t, const w1 *w, const char *uri, int threads, char *why, size_t whylen);
/* The acp_store of an api target (scale.c and overhead.c use it). */
acp_store *api_store(target *t);

/* Baselines.  Each opens a fresh, empty instance next to what the store
 * URI names (a new directory, schema or key prefix) with the settings the
 * backend uses there.  Returns 0, 1 when the baseline is not built in, or
 * -1 with *why filled. */
typedef struct baseline_args {
    const char *store_uri; /* the expanded store URI: where and how */
    const char *dir;       /* a fresh temporary directory for file engines */
    const char *unique;    /* a token for schema and key names */
    int threads;
    int durable;           /* file: flush each write (sync=always) */
} baseline_args;

int baseline_memory_open(target *t, const w1 *w, const baseline_args *a, char *why, size_t wl);
int baseline_sqlite_open(target *t, const w1 *w, const baseline_args *a, char *why, size_t wl);
int baseline_file_open(target *t, const w1 *w, const baseline_args *a, char *why, size_t wl);
int baseline_postgres_open(target *t, const w1 *w, const baseline_args *a, char *why,
                           size_t wl);
int baseline_redis_open(target *t, const w1 *w, const baseline_args *a, char *why, size_t wl);

/* Drop what a networked store or baseline left on its server (schema, key
 * prefix); for postgres and redis, a no-op elsewhere. */
void baseline_postgres_drop_schema(const char *store_uri, const char *schema);
void baseline_redis_drop_prefix(const char *store_uri, const char *prefix);

/* Which baselines this binary has. */
int baseline_postgres_built(void);
int baseline_redis_built(void);

/* The file baseline's raw appends for the durable experiment: appends
 * [from, to) by `writers` threads, each to a log of its own in dir (or all
 * to one shared log), every append followed by fdatasync (and the
 * directory's fsync when it creates a log).  Returns the seconds taken,
 * or -1.  Called again with the next range, it appends to the same logs. */
double baseline_file_durable_appends(const char *dir, const w1 *w, int writers, int shared,
                                     size_t from, size_t to);

/* ---- utilities (util.c) -------------------------------------------------- */

double bench_now(void); /* monotonic seconds */
/* Median, min, max of v[0..n) (v is sorted in place). */
typedef struct stat3 {
    double median, min, max;
} stat3;
stat3 stat3_of(double *v, size_t n);
/* Percentile p (0..100) of sorted v. */
double percentile(const double *sorted, size_t n, double p);

/* Make a fresh directory under $TMPDIR (or /tmp); its path into out. */
int bench_mkdtemp(char *out, size_t cap, const char *tag);
/* Remove a directory tree (only what bench_mkdtemp made). */
void bench_rmtree(const char *path);
/* Remove it when the program ends (bench_cleanup): this machine's ext4
 * has no journal, and ext4 without a journal skips inodes freed in the
 * last minutes when it creates files, so deleting a store between
 * repeats would slow down file creation in the next one. */
void bench_rmtree_later(const char *path);
void bench_cleanup(void);
/* Replace every "{dir}" in in by dir and every "{id}" by id. */
char *bench_expand(const char *in, const char *dir, const char *id);
/* The backend name of a URI ("sqlite" for "sqlite:..."): into out. */
void bench_scheme(const char *uri, char *out, size_t cap);
/* Append "key=value" to a URI's query. */
char *bench_uri_add(const char *uri, const char *key, const char *value);
/* Whether a URI's query already has key. */
int bench_uri_has(const char *uri, const char *key);

/* Run fn(arg, tid, from, to) on `threads` threads over [0, n) in
 * contiguous slices (slice boundaries rounded to multiples of align) and
 * return the elapsed seconds of the slowest. */
typedef void (*slice_fn)(void *arg, int tid, size_t from, size_t to);
double run_sliced(int threads, size_t n, size_t align, slice_fn fn, void *arg);
/* The same over [from, to) (from a multiple of align). */
double run_sliced_range(int threads, size_t from, size_t to, size_t align, slice_fn fn,
                        void *arg);

/* A small JSON writer: enough for the report. */
typedef struct jw {
    FILE *f;
    int depth;
    int first[64];
    int after_key;
} jw;
void jw_init(jw *j, FILE *f);
void jw_obj(jw *j);
void jw_end_obj(jw *j);
void jw_arr(jw *j);
void jw_end_arr(jw *j);
void jw_key(jw *j, const char *k);
void jw_str(jw *j, const char *s);
void jw_num(jw *j, double v);
void jw_int(jw *j, long long v);
void jw_bool(jw *j, int v);
void jw_null(jw *j);
void jw_stat(jw *j, const stat3 *s);

/* The machine and versions, for the report (JSON and text). */
void bench_machine(jw *j, FILE *text);

/* ---- the phases and the store-versus-baseline comparison (phases.c) -------- */

enum {
    PH_P1, /* save_run insert */
    PH_P2, /* save_run update */
    PH_P3, /* get_run, random order */
    PH_P4, /* add_event */
    PH_P5, /* get_events */
    PH_P6, /* list_runs by agent, random offset, with total */
    PH_P7, /* list_runs by session, with total */
    PH_P8A, /* save_session */
    PH_P8B, /* get_session */
    PH_P9, /* delete_run */
    PH_N
};

#define BENCH_MAX_REPEATS 64

typedef struct phase_info {
    const char *key;  /* "P1" */
    const char *what; /* "save_run insert" */
} phase_info;
extern const phase_info bench_phases[PH_N];
/* Operations phase p performs on w. */
size_t phase_ops(const w1 *w, int p);
/* Parse "P1,P3,P8" into a mask of PH_* bits; -1 on a bad name. */
long phase_mask_parse(const char *list);

typedef struct phase_result {
    int measured;
    size_t ops;
    int n; /* repeats measured */
    double store[BENCH_MAX_REPEATS], base[BENCH_MAX_REPEATS], ratio[BENCH_MAX_REPEATS];
    long store_items, base_items; /* results produced in the last repeat */
} phase_result;

typedef struct compare_result {
    char uri[1024];       /* the store URI of the first repeat */
    char backend[64], backend_version[64], store_detail[256];
    char baseline[64], baseline_detail[256];
    int has_baseline;
    char baseline_note[300]; /* why there is none */
    int threads, repeats;
    phase_result ph[PH_N];
    int failed;
    char error[1024];
} compare_result;

/* Run the phases of mask (and, untimed in the report, those they need)
 * against the store of uri_template and its baseline ("auto": the store's
 * backend; "none": no baseline), `repeats` times, each on fresh instances,
 * alternating which goes first.  Returns 0, or -1 with out->error. */
int compare_run(const w1 *w, const char *uri_template, const char *baseline, unsigned mask,
                int threads, int repeats, int quiet, compare_result *out);

/* For a URI template: a fresh concrete URI (fresh {dir}, and for postgres
 * and redis a schema or key prefix of its own unless one is given).  The
 * caller frees *uri and removes *dir; *schema / *prefix name what to drop
 * afterwards ("" when nothing). */
typedef struct fresh_store {
    char *uri;
    char dir[4096];
    char unique[64];
    char backend[64];
    char schema[128]; /* postgres schema we named, or "" */
    char prefix[160]; /* redis prefix we named, or "" */
} fresh_store;
int fresh_store_make(const char *uri_template, const char *tag, fresh_store *fs);
void fresh_store_cleanup(fresh_store *fs);

/* ---- scale.c and overhead.c ---------------------------------------------- */

typedef struct bench_opts {
    size_t runs, events_per_run;
    int threads;
    int repeats;
    uint64_t seed;
    size_t scale_sizes[8];
    size_t n_scale_sizes;
    size_t scale_file_max;
    size_t overhead_calls; /* calls per trial of the overhead measurement */
    int quiet;
} bench_opts;

/* The scale experiments for each store URI template; JSON into j (an
 * object member "scale" is written by the caller), text to out. */
int scale_run(const bench_opts *o, const w1 *w, const char *const *uris, size_t n_uris, jw *j,
              FILE *out);
/* --follow (follow.c): idle CPU and wake-up latency of a follower for each
 * store URI template; JSON member "follow" into the object j is in. */
int follow_bench(const char *const *uris, size_t n_uris, double idle_s, size_t samples, jw *j,
                 FILE *out);
/* --saves (saves.c): durable save_run calls per second at 1, 2, 4 and 8
 * threads for each store URI template, `n` saves per configuration and
 * repeat; JSON member "saves" into the object j is in.  0 or -1. */
int saves_bench(const char *const *uris, size_t n_uris, const w1 *w, size_t n, int repeats,
                int quiet, jw *j, FILE *out);
/* The plugin call overhead (memory backend); JSON object into j. */
int overhead_run(const bench_opts *o, jw *j, FILE *out);

#endif /* ACP_BENCH_H */
