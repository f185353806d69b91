/* SPDX-License-Identifier: MIT */
/*
 * util.c - clocks, statistics, temporary directories, threads and a small
 * JSON writer for acp-storage-bench.
 */
#define _GNU_SOURCE /* nftw, statfs, mkdtemp */

#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "bench.h"

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

long target_fail(target *t, const char *fmt, ...)
{
    /* Only the first failure is kept: later ones are usually its echoes.
     * Racy between threads by design of "first": a torn message is still
     * a message, and the phase is reported as failed either way. */
    if (!t->last_error[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t->last_error, sizeof t->last_error, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

stat3 stat3_of(double *v, size_t n)
{
    stat3 s = {NAN, NAN, NAN};
    if (n == 0)
        return s;
    qsort(v, n, sizeof *v, cmp_double);
    s.min = v[0];
    s.max = v[n - 1];
    s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return s;
}

double percentile(const double *sorted, size_t n, double p)
{
    if (n == 0)
        return NAN;
    double pos = p / 100.0 * (double)(n - 1);
    size_t lo = (size_t)pos;
    if (lo + 1 >= n)
        return sorted[n - 1];
    return sorted[lo] + (sorted[lo + 1] - sorted[lo]) * (pos - (double)lo);
}

/* ---- directories and URIs --------------------------------------------------- */

int bench_mkdtemp(char *out, size_t cap, const char *tag)
{
    const char *base = getenv("TMPDIR");
    if (!base || !base[0])
        base = "/tmp";
    if ((size_t)snprintf(out, cap, "%s/acp-bench-%s-XXXXXX", base, tag) >= cap)
        return -1;
    return mkdtemp(out) ? 0 : -1;
}

/* Keep going past what cannot be removed: cleanup is best effort. */
static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    (void)remove(path);
    return 0;
}

void bench_rmtree(const char *path)
{
    /* Only our own directories: a wrong argument must not become rm -rf. */
    if (!path || !strstr(path, "/acp-bench-"))
        return;
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char **later;
static size_t n_later;

void bench_rmtree_later(const char *path)
{
    char **v = realloc(later, (n_later + 1) * sizeof *v);
    char *p = strdup(path);
    if (!v || !p) {
        free(p);
        if (v)
            later = v;
        bench_rmtree(path);
        return;
    }
    later = v;
    later[n_later++] = p;
}

void bench_cleanup(void)
{
    for (size_t i = 0; i < n_later; i++) {
        bench_rmtree(later[i]);
        free(later[i]);
    }
    free(later);
    later = NULL;
    n_later = 0;
}

static char *replace_all(const char *in, const char *what, const char *with)
{
    size_t wl = strlen(what), rl = strlen(with), n = 0;
    for (const char *p = strstr(in, what); p; p = strstr(p + wl, what))
        n++;
    char *out = malloc(strlen(in) + n * rl + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = in;;) {
        const char *hit = strstr(p, what);
        if (!hit) {
            strcpy(o, p);
            break;
        }
        memcpy(o, p, (size_t)(hit - p));
        o += hit - p;
        memcpy(o, with, rl);
        o += rl;
        p = hit + wl;
    }
    return out;
}

char *bench_expand(const char *in, const char *dir, const char *id)
{
    char *a = replace_all(in, "{dir}", dir ? dir : "");
    if (!a)
        return NULL;
    char *b = replace_all(a, "{id}", id ? id : "");
    free(a);
    return b;
}

void bench_scheme(const char *uri, char *out, size_t cap)
{
    size_t n = 0;
    while (uri[n] && uri[n] != ':' && uri[n] != '+' && n + 1 < cap) {
        out[n] = uri[n];
        n++;
    }
    out[n] = '\0';
    if (strcmp(out, "postgresql") == 0)
        snprintf(out, cap, "postgres");
}

int bench_uri_has(const char *uri, const char *key)
{
    const char *q = strchr(uri, '?');
    size_t kl = strlen(key);
    while (q) {
        q++;
        if (strncmp(q, key, kl) == 0 && q[kl] == '=')
            return 1;
        q = strchr(q, '&');
    }
    return 0;
}

char *bench_uri_add(const char *uri, const char *key, const char *value)
{
    size_t n = strlen(uri) + strlen(key) + strlen(value) + 3;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s%c%s=%s", uri, strchr(uri, '?') ? '&' : '?', key, value);
    return out;
}

/* ---- threads ------------------------------------------------------------------ */

typedef struct slice_job {
    pthread_barrier_t *start;
    slice_fn fn;
    void *arg;
    int tid;
    size_t from, to;
    double t0, t1;
} slice_job;

/* Each thread times itself: with more threads than cores the starting
 * thread may not run again until the others are done. */
static void *slice_main(void *p)
{
    slice_job *j = p;
    pthread_barrier_wait(j->start);
    j->t0 = bench_now();
    j->fn(j->arg, j->tid, j->from, j->to);
    j->t1 = bench_now();
    return NULL;
}

double run_sliced(int threads, size_t n, size_t align, slice_fn fn, void *arg)
{
    return run_sliced_range(threads, 0, n, align, fn, arg);
}

double run_sliced_range(int threads, size_t from, size_t to, size_t align, slice_fn fn,
                        void *arg)
{
    size_t n = to > from ? to - from : 0;
    if (align == 0)
        align = 1;
    if (threads <= 1) {
        double t0 = bench_now();
        fn(arg, 0, from, to);
        return bench_now() - t0;
    }
    pthread_t th[BENCH_MAX_THREADS];
    slice_job jobs[BENCH_MAX_THREADS];
    pthread_barrier_t start;
    size_t units = (n + align - 1) / align;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++) {
        size_t ufrom = units * (size_t)i / (size_t)threads;
        size_t uto = units * (size_t)(i + 1) / (size_t)threads;
        jobs[i] = (slice_job){.start = &start, .fn = fn, .arg = arg, .tid = i,
                              .from = from + ufrom * align, .to = from + uto * align};
        if (jobs[i].to > to)
            jobs[i].to = to;
        if (jobs[i].from > to)
            jobs[i].from = to;
        if (pthread_create(&th[i], NULL, slice_main, &jobs[i]) != 0) {
            fprintf(stderr, "acp-storage-bench: cannot start a thread\n");
            exit(1);
        }
    }
    pthread_barrier_wait(&start);
    double t0 = 0, t1 = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        if (i == 0 || jobs[i].t0 < t0)
            t0 = jobs[i].t0;
        if (i == 0 || jobs[i].t1 > t1)
            t1 = jobs[i].t1;
    }
    pthread_barrier_destroy(&start);
    return t1 - t0;
}

/* ---- JSON ------------------------------------------------------------------------ */

void jw_init(jw *j, FILE *f)
{
    memset(j, 0, sizeof *j);
    j->f = f;
    j->first[0] = 1;
}

static void jw_sep(jw *j)
{
    if (j->after_key) {
        j->after_key = 0;
        return;
    }
    if (!j->first[j->depth])
        fputc(',', j->f);
    j->first[j->depth] = 0;
}

static void jw_open(jw *j, char c)
{
    jw_sep(j);
    fputc(c, j->f);
    if (j->depth < 63)
        j->depth++;
    j->first[j->depth] = 1;
}

void jw_obj(jw *j)
{
    jw_open(j, '{');
}

void jw_arr(jw *j)
{
    jw_open(j, '[');
}

void jw_end_obj(jw *j)
{
    j->depth--;
    fputc('}', j->f);
    if (j->depth == 0)
        fputc('\n', j->f);
}

void jw_end_arr(jw *j)
{
    j->depth--;
    fputc(']', j->f);
}

static void jw_raw_str(jw *j, const char *s)
{
    fputc('"', j->f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(j->f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(j->f, "\\u%04x", *p);
        else
            fputc(*p, j->f);
    }
    fputc('"', j->f);
}

void jw_key(jw *j, const char *k)
{
    jw_sep(j);
    jw_raw_str(j, k);
    fputc(':', j->f);
    j->after_key = 1;
}

void jw_str(jw *j, const char *s)
{
    jw_sep(j);
    if (s)
        jw_raw_str(j, s);
    else
        fputs("null", j->f);
}

void jw_num(jw *j, double v)
{
    jw_sep(j);
    if (!isfinite(v))
        fputs("null", j->f);
    else if (v == floor(v) && fabs(v) < 1e15)
        fprintf(j->f, "%.0f", v);
    else
        fprintf(j->f, "%.6g", v);
}

void jw_int(jw *j, long long v)
{
    jw_sep(j);
    fprintf(j->f, "%lld", v);
}

void jw_bool(jw *j, int v)
{
    jw_sep(j);
    fputs(v ? "true" : "false", j->f);
}

void jw_null(jw *j)
{
    jw_sep(j);
    fputs("null", j->f);
}

void jw_stat(jw *j, const stat3 *s)
{
    jw_obj(j);
    jw_key(j, "median");
    jw_num(j, s->median);
    jw_key(j, "min");
    jw_num(j, s->min);
    jw_key(j, "max");
    jw_num(j, s->max);
    jw_end_obj(j);
}

/* ---- the machine ----------------------------------------------------------------- */

static void read_line_with(const char *path, const char *prefix, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    char line[512];
    out[0] = '\0';
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, prefix, strlen(prefix)) == 0) {
            char *v = strchr(line, ':');
            v = v ? v + 1 : line + strlen(prefix);
            while (*v == ' ' || *v == '\t')
                v++;
            v[strcspn(v, "\n")] = '\0';
            snprintf(out, cap, "%s", v);
            break;
        }
    }
    fclose(f);
}

static const char *fs_name(long type)
{
    switch ((unsigned long)type) {
    case 0xEF53: return "ext4";
    case 0x01021994: return "tmpfs";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x794c7630: return "overlayfs";
    default: return "other";
    }
}

void bench_machine(jw *j, FILE *text)
{
    char cpu[256], mem[64], clock[64] = "";
    struct utsname u;
    uname(&u);
    read_line_with("/proc/cpuinfo", "model name", cpu, sizeof cpu);
    read_line_with("/proc/meminfo", "MemTotal", mem, sizeof mem);
    FILE *cf = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    if (cf) {
        if (fgets(clock, sizeof clock, cf))
            clock[strcspn(clock, "\n")] = '\0';
        fclose(cf);
    }
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !tmp[0])
        tmp = "/tmp";
    struct statfs sf;
    const char *fs = statfs(tmp, &sf) == 0 ? fs_name((long)sf.f_type) : "unknown";
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (j) {
        jw_key(j, "machine");
        jw_obj(j);
        jw_key(j, "cpu");
        jw_str(j, cpu);
        jw_key(j, "cores");
        jw_int(j, cores);
        jw_key(j, "memory");
        jw_str(j, mem);
        jw_key(j, "kernel");
        jw_str(j, u.release);
        jw_key(j, "clocksource");
        jw_str(j, clock);
        jw_key(j, "tmpdir");
        jw_str(j, tmp);
        jw_key(j, "tmpdir_fs");
        jw_str(j, fs);
        jw_end_obj(j);
        jw_key(j, "versions");
        jw_obj(j);
        jw_key(j, "acp_storage");
        jw_str(j, acp_version());
        jw_key(j, "compiler");
        jw_str(j, __VERSION__);
        jw_key(j, "build_type");
        jw_str(j, BENCH_BUILD_TYPE);
        jw_key(j, "sqlite");
        jw_str(j, sqlite3_libversion());
        jw_key(j, "cjson");
        jw_str(j, cJSON_Version());
        jw_end_obj(j);
    }
    if (text)
        fprintf(text,
                "machine: %s, %ld cores, %s RAM, Linux %s, clock %s; temp files in %s (%s)\n"
                "versions: acp-storage %s, gcc %s (%s), SQLite %s, cJSON %s\n",
                cpu, cores, mem, u.release, clock, tmp, fs, acp_version(), __VERSION__,
                BENCH_BUILD_TYPE, sqlite3_libversion(), cJSON_Version());
}
