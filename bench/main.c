/* SPDX-License-Identifier: MIT */
/*
 * main.c - acp-storage-bench: workload W1 against store URIs, each phase
 * next to a raw baseline written by hand for the same engine, reported as
 * a table and as JSON; optionally the scale experiments (--scale) and the
 * cost of a call through the plugin table.
 *
 *   acp-storage-bench [--store URI]... [--baseline auto|none|memory|sqlite|
 *                     file|postgres|redis] [--runs N] [--events-per-run N]
 *                     [--threads N] [--repeats N] [--phases P1,P3,...]
 *                     [--json FILE|-] [--scale] [--no-overhead] [--seed N]
 *
 * docs/performance.md explains every figure and how they were measured.
 */
#define _GNU_SOURCE /* getopt_long */

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define DEFAULT_REPEATS 5

static void usage(FILE *f)
{
    fprintf(f,
            "usage: acp-storage-bench [options]\n"
            "\n"
            "Runs workload W1 (issue 8) against each store and, in the same run, against a\n"
            "raw baseline written by hand for the same engine; prints ops/s per phase with\n"
            "the median and spread (min..max) over repeats, and store/baseline ratios.\n"
            "\n"
            "  --store URI          a store to measure (repeatable).  \"{dir}\" becomes a fresh\n"
            "                       temporary directory and \"{id}\" a unique token per repeat;\n"
            "                       postgres and redis stores get a schema or key prefix of\n"
            "                       their own unless the URI names one.  Default: memory:,\n"
            "                       sqlite:{dir}/b.db, file:{dir}/store?sync=none\n"
            "  --baseline NAME      auto (the store's backend, default), none, memory, sqlite,\n"
            "                       file, postgres or redis\n"
            "  --runs N             runs in W1 (default 10000)\n"
            "  --events-per-run N   events per run (default 10)\n"
            "  --threads N          threads sharing each phase (default 1)\n"
            "  --repeats N          fresh repetitions of everything (default %d)\n"
            "  --phases LIST        P1,P2,P3,P4,P5,P6,P7,P8,P9 (default all)\n"
            "  --seed N             seed of the documents and random orders (default 42)\n"
            "  --json FILE|-        also write the results as JSON (\"-\": stdout; the table\n"
            "                       then goes to stderr)\n"
            "  --scale              also run the scale experiments (list and get latency at\n"
            "                       10k, 100k and 1M runs, cursor depth, thread scaling,\n"
            "                       durable appends, memory per run): minutes\n"
            "  --scale-sizes LIST   run counts for --scale (default 10000,100000,1000000)\n"
            "  --scale-file-max N   largest size for the file backend (default 100000)\n"
            "  --no-overhead        skip the plugin call overhead measurement\n"
            "  --overhead-calls N   calls per trial of that measurement (default 1000000)\n"
            "  --quiet              no progress on stderr\n"
            "  --follow             instead of W1: idle follower CPU and wake-up latency of\n"
            "                       acp_event_follow for each store (bench/follow.c)\n"
            "  --follow-idle S      seconds of the idle measurement (default 10)\n"
            "  --follow-samples N   appends timed for the latency (default 1000)\n"
            "  --saves              instead of W1: durable saves/s at 1, 2, 4 and 8 threads\n"
            "                       for each store (default: file sync=always against sqlite\n"
            "                       synchronous=full; bench/saves.c)\n"
            "  --saves-count N      saves per store and thread count per repeat (default 400)\n"
            "  --help, --version\n",
            DEFAULT_REPEATS);
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (!s[0] || *end || v == 0)
        return -1;
    *out = (size_t)v;
    return 0;
}

/* 1234567.8 -> "1,234,568" */
static const char *fmt_ops(double v, char *buf, size_t cap)
{
    if (!isfinite(v) || v <= 0) {
        snprintf(buf, cap, "-");
        return buf;
    }
    char raw[64];
    snprintf(raw, sizeof raw, "%.0f", v);
    size_t n = strlen(raw), o = 0;
    for (size_t i = 0; i < n && o + 2 < cap; i++) {
        buf[o++] = raw[i];
        if ((n - i - 1) % 3 == 0 && i + 1 < n)
            buf[o++] = ',';
    }
    buf[o] = '\0';
    return buf;
}

/* Median and range over the repeats of a phase: store, baseline, ratio.
 * stat3_of sorts, so it works on copies. */
static void phase_stats(const phase_result *pr, stat3 *ss, stat3 *bs, stat3 *qs)
{
    double s[BENCH_MAX_REPEATS], b[BENCH_MAX_REPEATS], q[BENCH_MAX_REPEATS];
    memcpy(s, pr->store, sizeof s);
    memcpy(b, pr->base, sizeof b);
    memcpy(q, pr->ratio, sizeof q);
    *ss = stat3_of(s, (size_t)pr->n);
    *bs = stat3_of(b, (size_t)pr->n);
    *qs = stat3_of(q, (size_t)pr->n);
}

static void print_result(FILE *out, const compare_result *r)
{
    if (!r->backend[0]) { /* the store did not open */
        fprintf(out, "\n%s\n  FAILED: %s\n", r->uri, r->error);
        return;
    }
    fprintf(out, "\n%s  (%s %s)\n", r->uri, r->backend, r->backend_version);
    if (r->has_baseline)
        fprintf(out, "  baseline: %s: %s\n", r->baseline, r->baseline_detail);
    else
        fprintf(out, "  baseline: none (%s)\n", r->baseline_note);
    if (r->failed)
        fprintf(out, "  FAILED: %s\n", r->error);
    fprintf(out, "  %-4s %-36s %8s %26s %26s %20s\n", "", "operation", "ops",
            "store ops/s (min..max)", "baseline ops/s", "ratio (min..max)");
    for (int p = 0; p < PH_N; p++) {
        const phase_result *pr = &r->ph[p];
        if (!pr->measured || pr->n == 0)
            continue;
        stat3 ss, bs, qs;
        phase_stats(pr, &ss, &bs, &qs);
        char a1[32], a2[32], a3[32], b1[32], b2[32], b3[32], cell1[96], cell2[96], cell3[64];
        snprintf(cell1, sizeof cell1, "%s (%s..%s)", fmt_ops(ss.median, a1, sizeof a1),
                 fmt_ops(ss.min, a2, sizeof a2), fmt_ops(ss.max, a3, sizeof a3));
        if (r->has_baseline) {
            snprintf(cell2, sizeof cell2, "%s (%s..%s)", fmt_ops(bs.median, b1, sizeof b1),
                     fmt_ops(bs.min, b2, sizeof b2), fmt_ops(bs.max, b3, sizeof b3));
            snprintf(cell3, sizeof cell3, "%.2f (%.2f..%.2f)", qs.median, qs.min, qs.max);
        } else {
            snprintf(cell2, sizeof cell2, "-");
            snprintf(cell3, sizeof cell3, "-");
        }
        fprintf(out, "  %-4s %-36s %8zu %26s %26s %20s%s\n", bench_phases[p].key,
                bench_phases[p].what, pr->ops, cell1, cell2, cell3,
                r->has_baseline && pr->store_items != pr->base_items ? "  (results differ!)"
                                                                     : "");
    }
}

static void json_result(jw *j, const compare_result *r)
{
    jw_obj(j);
    jw_key(j, "uri");
    jw_str(j, r->uri);
    jw_key(j, "backend");
    jw_str(j, r->backend);
    jw_key(j, "backend_version");
    jw_str(j, r->backend_version);
    jw_key(j, "threads");
    jw_int(j, r->threads);
    jw_key(j, "repeats");
    jw_int(j, r->repeats);
    jw_key(j, "baseline");
    jw_str(j, r->has_baseline ? r->baseline : NULL);
    jw_key(j, "baseline_detail");
    jw_str(j, r->has_baseline ? r->baseline_detail : r->baseline_note);
    jw_key(j, "error");
    jw_str(j, r->failed ? r->error : NULL);
    jw_key(j, "phases");
    jw_arr(j);
    for (int p = 0; p < PH_N; p++) {
        const phase_result *pr = &r->ph[p];
        if (!pr->measured || pr->n == 0)
            continue;
        stat3 ss, bs, qs;
        phase_stats(pr, &ss, &bs, &qs);
        jw_obj(j);
        jw_key(j, "phase");
        jw_str(j, bench_phases[p].key);
        jw_key(j, "what");
        jw_str(j, bench_phases[p].what);
        jw_key(j, "ops");
        jw_int(j, (long long)pr->ops);
        jw_key(j, "repeats");
        jw_int(j, pr->n);
        jw_key(j, "store_ops_per_s");
        jw_stat(j, &ss);
        jw_key(j, "baseline_ops_per_s");
        if (r->has_baseline)
            jw_stat(j, &bs);
        else
            jw_null(j);
        jw_key(j, "ratio");
        if (r->has_baseline)
            jw_stat(j, &qs);
        else
            jw_null(j);
        jw_key(j, "store_items");
        jw_int(j, pr->store_items);
        jw_key(j, "baseline_items");
        if (r->has_baseline)
            jw_int(j, pr->base_items);
        else
            jw_null(j);
        jw_end_obj(j);
    }
    jw_end_arr(j);
    jw_end_obj(j);
}

/* W1 for every store, then the call overhead and the scale experiments
 * when asked: members of the JSON object j is in.  0, or 1 when any
 * failed. */
static int w1_all(const bench_opts *op, const w1 *wp, const char *const *stores, size_t n_stores,
                  const char *baseline, long mask, int overhead, int scale, jw *jp, FILE *out)
{
    int status = 0;
    jw_key(jp, "w1");
    jw_arr(jp);
    for (size_t i = 0; i < n_stores; i++) {
        compare_result *r = malloc(sizeof *r);
        if (!r) {
            status = 1;
            break;
        }
        if (compare_run(wp, stores[i], baseline, (unsigned)mask, op->threads, op->repeats, op->quiet,
                        r) != 0) {
            fprintf(stderr, "acp-storage-bench: %s: %s\n", stores[i], r->error);
            status = 1;
        }
        print_result(out, r);
        json_result(jp, r);
        free(r);
        fflush(out);
    }
    jw_end_arr(jp);

    if (overhead) {
        jw_key(jp, "overhead");
        if (overhead_run(op, jp, out) != 0)
            status = 1;
    }
    if (scale) {
        jw_key(jp, "scale");
        if (scale_run(op, wp, stores, n_stores, jp, out) != 0)
            status = 1;
    }
    return status;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"store", required_argument, NULL, 's'},
        {"baseline", required_argument, NULL, 'b'},
        {"runs", required_argument, NULL, 'r'},
        {"events-per-run", required_argument, NULL, 'e'},
        {"threads", required_argument, NULL, 't'},
        {"repeats", required_argument, NULL, 'n'},
        {"phases", required_argument, NULL, 'p'},
        {"seed", required_argument, NULL, 'S'},
        {"json", required_argument, NULL, 'j'},
        {"scale", no_argument, NULL, 'L'},
        {"scale-sizes", required_argument, NULL, 'Z'},
        {"scale-file-max", required_argument, NULL, 'F'},
        {"no-overhead", no_argument, NULL, 'O'},
        {"overhead-calls", required_argument, NULL, 'C'},
        {"quiet", no_argument, NULL, 'q'},
        {"follow", no_argument, NULL, 'W'},
        {"follow-idle", required_argument, NULL, 'I'},
        {"follow-samples", required_argument, NULL, 'X'},
        {"saves", no_argument, NULL, 'D'},
        {"saves-count", required_argument, NULL, 'K'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    bench_opts o = {.runs = 10000, .events_per_run = 10, .threads = 1,
                    .repeats = DEFAULT_REPEATS, .seed = 42, .scale_file_max = 100000,
                    .overhead_calls = 1000000};
    o.scale_sizes[0] = 10000;
    o.scale_sizes[1] = 100000;
    o.scale_sizes[2] = 1000000;
    o.n_scale_sizes = 3;
    const char *stores[64];
    size_t n_stores = 0;
    const char *baseline = "auto", *json_path = NULL;
    long mask = (1L << PH_N) - 1;
    int scale = 0, overhead = 1, c;
    int follow = 0;               /* --follow: only the follow measurement */
    size_t follow_idle = 10, follow_samples = 1000;
    int saves = 0; /* --saves: only the durable saves measurement */
    size_t saves_count = 400;
    size_t v;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (n_stores == sizeof stores / sizeof stores[0]) {
                fprintf(stderr, "acp-storage-bench: too many --store\n");
                return 2;
            }
            stores[n_stores++] = optarg;
            break;
        case 'b':
            baseline = optarg;
            break;
        case 'r':
        case 'e':
        case 't':
        case 'n':
        case 'S':
        case 'F':
        case 'C':
            if (parse_size(optarg, &v) != 0) {
                fprintf(stderr, "acp-storage-bench: --%s needs a positive integer, not '%s'\n",
                        c == 'r' ? "runs" : c == 'e' ? "events-per-run" : c == 't' ? "threads"
                        : c == 'n' ? "repeats" : c == 'S' ? "seed"
                        : c == 'F' ? "scale-file-max" : "overhead-calls",
                        optarg);
                return 2;
            }
            if (c == 'r')
                o.runs = v;
            else if (c == 'e')
                o.events_per_run = v;
            else if (c == 't')
                o.threads = v > BENCH_MAX_THREADS ? BENCH_MAX_THREADS : (int)v;
            else if (c == 'n')
                o.repeats = v > BENCH_MAX_REPEATS ? BENCH_MAX_REPEATS : (int)v;
            else if (c == 'S')
                o.seed = v;
            else if (c == 'F')
                o.scale_file_max = v;
            else
                o.overhead_calls = v;
            break;
        case 'p':
            if ((mask = phase_mask_parse(optarg)) <= 0) {
                fprintf(stderr, "acp-storage-bench: --phases: expected names among "
                                "P1..P9 separated by commas, not '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'j':
            json_path = optarg;
            break;
        case 'L':
            scale = 1;
            break;
        case 'Z': {
            char buf[256];
            snprintf(buf, sizeof buf, "%s", optarg);
            o.n_scale_sizes = 0;
            for (char *sv = NULL, *tok = strtok_r(buf, ",", &sv); tok;
                 tok = strtok_r(NULL, ",", &sv)) {
                if (o.n_scale_sizes == 8 || parse_size(tok, &v) != 0) {
                    fprintf(stderr, "acp-storage-bench: --scale-sizes: up to 8 positive "
                                    "integers separated by commas\n");
                    return 2;
                }
                o.scale_sizes[o.n_scale_sizes++] = v;
            }
            break;
        }
        case 'O':
            overhead = 0;
            break;
        case 'W':
            follow = 1;
            break;
        case 'I':
        case 'X':
            if (parse_size(optarg, c == 'I' ? &follow_idle : &follow_samples) != 0) {
                fprintf(stderr, "acp-storage-bench: --follow-%s: a positive integer\n",
                        c == 'I' ? "idle" : "samples");
                return 2;
            }
            break;
        case 'D':
            saves = 1;
            break;
        case 'K':
            if (parse_size(optarg, &saves_count) != 0) {
                fprintf(stderr, "acp-storage-bench: --saves-count: a positive integer\n");
                return 2;
            }
            break;
        case 'q':
            o.quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("acp-storage-bench %s\n", acp_version());
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "acp-storage-bench: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    static const char *const known[] = {"auto", "none", "memory", "sqlite",
                                        "file", "postgres", "redis"};
    int ok_base = 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        ok_base |= strcmp(baseline, known[i]) == 0;
    if (!ok_base) {
        fprintf(stderr, "acp-storage-bench: --baseline: one of auto, none, memory, sqlite, "
                        "file, postgres, redis\n");
        return 2;
    }
    if (o.runs < 10) {
        fprintf(stderr, "acp-storage-bench: --runs must be at least 10\n");
        return 2;
    }
    if (n_stores == 0 && saves) {
        stores[n_stores++] = "file:{dir}/store?sync=always";
        stores[n_stores++] = "sqlite:{dir}/b.db?synchronous=full";
    }
    if (n_stores == 0) {
        stores[n_stores++] = "memory:";
        stores[n_stores++] = "sqlite:{dir}/b.db";
        stores[n_stores++] = "file:{dir}/store?sync=none";
    }

    FILE *json = NULL;
    if (json_path && strcmp(json_path, "-") == 0) {
        json = stdout;
    } else if (json_path && !(json = fopen(json_path, "w"))) {
        perror(json_path);
        return 1;
    }
    FILE *out = json == stdout ? stderr : stdout;
    if (follow) { /* bench/follow.c */
        jw fj;
        jw_init(&fj, json ? json : fopen("/dev/null", "w"));
        jw_obj(&fj);
        int fst = follow_bench(stores, n_stores, (double)follow_idle, follow_samples, &fj, out);
        jw_end_obj(&fj);
        bench_cleanup();
        return fst;
    }

    w1 w;
    if (w1_build(&w, o.runs, o.events_per_run, o.seed) != 0) {
        fprintf(stderr, "acp-storage-bench: out of memory building the workload\n");
        return 1;
    }
    jw j;
    jw_init(&j, json ? json : fopen("/dev/null", "w"));
    jw_obj(&j);
    jw_key(&j, "schema_version");
    jw_int(&j, 1);
    jw_key(&j, "tool");
    jw_str(&j, "acp-storage-bench");
    bench_machine(&j, out);
    jw_key(&j, "workload");
    jw_obj(&j);
    jw_key(&j, "name");
    jw_str(&j, "W1");
    jw_key(&j, "runs");
    jw_int(&j, (long long)w.runs);
    jw_key(&j, "events_per_run");
    jw_int(&j, (long long)w.events_per_run);
    jw_key(&j, "agents");
    jw_int(&j, (long long)w.agents);
    jw_key(&j, "sessions");
    jw_int(&j, (long long)w.sessions);
    jw_key(&j, "seed");
    jw_int(&j, (long long)w.seed);
    jw_key(&j, "run_doc_bytes");
    jw_num(&j, w.avg_run_doc);
    jw_key(&j, "event_doc_bytes");
    jw_num(&j, w.avg_event_doc);
    jw_key(&j, "session_doc_bytes");
    jw_num(&j, w.avg_session_doc);
    jw_end_obj(&j);
    fprintf(out,
            "W1: %zu runs (%.0f-byte documents), %zu events per run (%.0f bytes), %zu "
            "agents, %zu sessions; %d thread(s), %d repeat(s), medians with (min..max)\n",
            w.runs, w.avg_run_doc, w.events_per_run, w.avg_event_doc, w.agents, w.sessions,
            o.threads, o.repeats);

    int status = 0;
    if (saves) /* bench/saves.c: instead of W1 */
        status = saves_bench(stores, n_stores, &w, saves_count, o.repeats, o.quiet, &j, out) != 0;
    else
        status = w1_all(&o, &w, stores, n_stores, baseline, mask, overhead, scale, &j, out);
    jw_key(&j, "ok");
    jw_bool(&j, status == 0);
    jw_end_obj(&j);
    if (json && json != stdout)
        fclose(json);
    else if (!json)
        fclose(j.f);
    w1_free(&w);
    bench_cleanup();
    return status;
}
