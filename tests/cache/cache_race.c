/* SPDX-License-Identifier: MIT */
/*
 * cache_race.c - counts stale reads through one store URI (a cache) from
 * many processes at once.
 *
 *   cache_race URI PROCESSES SECONDS [KEYS] [--expect-stale]
 *
 * Each process opens URI itself and loops over a few run ids (KEYS,
 * default 6, so that processes collide all the time): saves, conditional
 * saves (read, then save expecting the version read), deletes, event
 * appends, and reads of runs and events.  What every acknowledged write
 * did is written to memory shared by all processes, after the
 * acknowledgement; each read takes a snapshot of it BEFORE it starts, so a
 * read is judged only against writes acknowledged before it began:
 *
 *  - a run read at version r is stale if a save acknowledged before the
 *    read produced a version above r (versions only grow, also across
 *    delete and re-create), or if r is at most the highest version
 *    acknowledged before a delete began that was acknowledged before the
 *    read (that delete removed r or a later version; any re-created
 *    version is above it);
 *  - NOT_FOUND is stale if the newest acknowledged save overlapped no
 *    delete and no delete began between its acknowledgement and the end
 *    of the read;
 *  - events: the same for the highest acknowledged sequence.
 * These are sound (a correct store never trips them) and catch the
 * classic cache bugs: a fill of an old read parked after a write (the
 * read-fill race), a fill of a deleted run, a front that missed
 * invalidations.  With ACP_CACHE_TEST_UNSAFE=fill in the environment the
 * cache fills without leases, and with --expect-stale the program fails
 * unless it finds stale reads: tests/cache shows it does.
 *
 * Any status other than OK, NOT_FOUND (reads, deletes) or CONFLICT
 * (conditional saves) counts as an error: the front's failures must never
 * reach the application.  Exit 0 when no stale read and no error was seen
 * (with --expect-stale: when a stale read was seen).  At the end the first
 * process prints the cache's counters (session "acp-cache.stats").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <acp_storage.h>

#define KEYS_MAX 64

typedef struct key_state {
    pthread_mutex_t mu;       /* process-shared */
    int64_t acked_max;        /* highest version an acknowledged save produced */
    int64_t acked_deletes;    /* deletes_started when that save began, if no delete overlapped */
    int exists_known;         /* that save overlapped no delete */
    int64_t del_floor;        /* versions <= this are gone (acknowledged deletes) */
    int64_t deletes_started;  /* deletes begun so far */
    int64_t deletes_inflight;
    int64_t ev_max;           /* highest acknowledged event sequence, same rules */
    int64_t ev_deletes;
    int ev_known;
} key_state;

typedef struct shared {
    key_state keys[KEYS_MAX];
    atomic_llong ops, reads, stale, errors, conflicts;
    atomic_int printed;
} shared;

static shared *S;
static int nkeys = 6;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void error_seen(const char *what, acp_status st, const acp_error *e)
{
    long long n = atomic_fetch_add(&S->errors, 1);
    if (n < 10)
        fprintf(stderr, "cache_race[%d]: %s: %s: %s\n", (int)getpid(), what, acp_status_name(st),
                e->message);
}

static void stale_seen(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void stale_seen(const char *fmt, ...)
{
    long long n = atomic_fetch_add(&S->stale, 1);
    if (n < 10) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "cache_race[%d]: STALE: ", (int)getpid());
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
}

/* A save (or event append) is about to start / was acknowledged. */
typedef struct write_mark {
    int64_t started, inflight;
} write_mark;

static write_mark write_begin(key_state *k)
{
    pthread_mutex_lock(&k->mu);
    write_mark m = {k->deletes_started, k->deletes_inflight};
    pthread_mutex_unlock(&k->mu);
    return m;
}

static void save_acked(key_state *k, write_mark m, int64_t version, int event)
{
    pthread_mutex_lock(&k->mu);
    int64_t *max = event ? &k->ev_max : &k->acked_max;
    if (version > *max) {
        *max = version;
        int known = m.inflight == 0 && k->deletes_inflight == 0 && k->deletes_started == m.started;
        *(event ? &k->ev_known : &k->exists_known) = known;
        *(event ? &k->ev_deletes : &k->acked_deletes) = k->deletes_started;
    }
    pthread_mutex_unlock(&k->mu);
}

typedef struct read_snap {
    int64_t acked_max, del_floor, ev_max, deletes_started;
    int must_exist, events_must_exist;
} read_snap;

static read_snap read_begin(key_state *k)
{
    pthread_mutex_lock(&k->mu);
    read_snap r = {k->acked_max, k->del_floor, k->ev_max, k->deletes_started, 0, 0};
    r.must_exist = k->acked_max > 0 && k->exists_known && k->deletes_inflight == 0 &&
                   k->acked_deletes == k->deletes_started;
    r.events_must_exist = k->ev_max > 0 && k->ev_known && k->deletes_inflight == 0 &&
                          k->ev_deletes == k->deletes_started;
    pthread_mutex_unlock(&k->mu);
    return r;
}

/* After a read: a delete that began while it ran may have removed what it
 * would otherwise have had to find. */
static void read_end(key_state *k, read_snap *r)
{
    pthread_mutex_lock(&k->mu);
    if (k->deletes_started != r->deletes_started)
        r->must_exist = r->events_must_exist = 0;
    pthread_mutex_unlock(&k->mu);
}

static void run_doc(char *buf, size_t cap, int key, int w)
{
    snprintf(buf, cap,
             "{\"run_id\":\"race-%d\",\"agent_name\":\"race\",\"status\":\"in-progress\","
             "\"created_at\":\"2026-01-01T00:00:00Z\",\"writer\":%d,\"n\":%d}",
             key, (int)getpid(), w);
}

static void check_run(acp_store *s, int key)
{
    key_state *k = &S->keys[key];
    char id[32];
    snprintf(id, sizeof id, "race-%d", key);
    read_snap snap = read_begin(k);
    char *json = NULL;
    size_t len;
    int64_t v = 0;
    acp_error e;
    acp_status st = acp_run_get_versioned(s, id, &json, &len, &v, &e);
    read_end(k, &snap);
    atomic_fetch_add(&S->reads, 1);
    if (st == ACP_OK) {
        if (v < snap.acked_max)
            stale_seen("%s read at version %" PRId64 " after version %" PRId64
                       " was acknowledged", id, v, snap.acked_max);
        else if (v <= snap.del_floor)
            stale_seen("%s read at version %" PRId64 " after a delete of versions up to %" PRId64
                       " was acknowledged", id, v, snap.del_floor);
        acp_free(json);
    } else if (st == ACP_NOT_FOUND) {
        if (snap.must_exist) {
            int64_t v2 = 0;
            acp_status st2 = acp_run_get_versioned(s, id, &json, &len, &v2, &e);
            if (st2 == ACP_OK)
                acp_free(json);
            stale_seen("%s not found after version %" PRId64 " was acknowledged (no delete "
                       "since; read again: %s, version %" PRId64 ")",
                       id, snap.acked_max, acp_status_name(st2), v2);
        }
    } else
        error_seen("get_run", st, &e);
}

static void check_events(acp_store *s, int key)
{
    key_state *k = &S->keys[key];
    char id[32];
    snprintf(id, sizeof id, "race-%d", key);
    read_snap snap = read_begin(k);
    acp_page *p;
    acp_error e;
    acp_event_filter f = ACP_EVENT_FILTER_INIT;
    f.limit = 1000;
    acp_status st = acp_event_list(s, id, &f, &p, &e);
    read_end(k, &snap);
    atomic_fetch_add(&S->reads, 1);
    if (st != ACP_OK) {
        error_seen("get_events", st, &e);
        return;
    }
    size_t n = acp_page_count(p);
    for (size_t i = 0; i < n; i++)
        if (acp_page_seq(p, i) != (int64_t)i + 1) {
            stale_seen("%s: event %zu has sequence %" PRId64, id, i + 1, acp_page_seq(p, i));
            break;
        }
    if (snap.events_must_exist && (int64_t)n < snap.ev_max && n < 1000)
        stale_seen("%s: %zu events read after event %" PRId64 " was acknowledged", id, n,
                   snap.ev_max);
    acp_page_free(p);
}

static void one_op(acp_store *s, unsigned *seed, int w)
{
    int key = (int)(rand_r(seed) % (unsigned)nkeys);
    key_state *k = &S->keys[key];
    char id[32], doc[256];
    snprintf(id, sizeof id, "race-%d", key);
    int dice = (int)(rand_r(seed) % 100);
    acp_error e;
    acp_status st;
    atomic_fetch_add(&S->ops, 1);
    if (dice < 35) {
        check_run(s, key);
    } else if (dice < 45) {
        check_events(s, key);
    } else if (dice < 65) { /* save */
        run_doc(doc, sizeof doc, key, w);
        write_mark m = write_begin(k);
        int64_t v;
        st = acp_run_save_versioned(s, doc, ACP_STRLEN, &v, &e);
        if (st == ACP_OK)
            save_acked(k, m, v, 0);
        else
            error_seen("save_run", st, &e);
    } else if (dice < 80) { /* read, modify, conditional save */
        char *json = NULL;
        size_t len;
        int64_t v0 = 0, v;
        st = acp_run_get_versioned(s, id, &json, &len, &v0, &e);
        if (st != ACP_OK && st != ACP_NOT_FOUND) {
            error_seen("get_run", st, &e);
            return;
        }
        acp_free(json);
        run_doc(doc, sizeof doc, key, w);
        write_mark m = write_begin(k);
        st = acp_run_save_if(s, doc, ACP_STRLEN, st == ACP_OK ? v0 : ACP_VERSION_ABSENT, &v, &e);
        if (st == ACP_OK)
            save_acked(k, m, v, 0);
        else if (st == ACP_CONFLICT)
            atomic_fetch_add(&S->conflicts, 1);
        else
            error_seen("save_run_if", st, &e);
    } else if (dice < 90) { /* event */
        snprintf(doc, sizeof doc, "{\"type\":\"message.part\",\"writer\":%d,\"n\":%d}",
                 (int)getpid(), w);
        write_mark m = write_begin(k);
        int64_t seq;
        if ((st = acp_event_add(s, id, doc, ACP_STRLEN, &seq, &e)) == ACP_OK)
            save_acked(k, m, seq, 1);
        else
            error_seen("add_event", st, &e);
    } else { /* delete */
        pthread_mutex_lock(&k->mu);
        k->deletes_started++;
        k->deletes_inflight++;
        int64_t floor = k->acked_max;
        pthread_mutex_unlock(&k->mu);
        st = acp_run_delete(s, id, &e);
        pthread_mutex_lock(&k->mu);
        k->deletes_inflight--;
        if ((st == ACP_OK || st == ACP_NOT_FOUND) && floor > k->del_floor)
            k->del_floor = floor;
        pthread_mutex_unlock(&k->mu);
        if (st != ACP_OK && st != ACP_NOT_FOUND)
            error_seen("delete_run", st, &e);
    }
}

static acp_store *open_store(const char *uri)
{
    acp_store *s;
    acp_error e;
    acp_status st = acp_store_open(uri, &s, &e);
    if (st != ACP_OK) {
        fprintf(stderr, "cache_race: open: %s: %s\n", acp_status_name(st), e.message);
        return NULL;
    }
    return s;
}

static int child(const char *uri, int seconds, int index)
{
    acp_store *s = open_store(uri);
    acp_error e;
    if (!s)
        return 2;
    unsigned seed = (unsigned)getpid() * 2654435761u;
    int64_t end = now_ms() + seconds * 1000LL;
    for (int w = 0; now_ms() < end; w++)
        one_op(s, &seed, w);
    if (index == 0) {
        char *json;
        size_t len;
        if (acp_session_get(s, "acp-cache.stats", &json, &len, &e) == ACP_OK) {
            printf("cache_race: stats %s\n", json);
            acp_free(json);
        }
    }
    acp_store_close(s);
    fflush(stdout); /* the process ends with _exit */
    return 0;
}

int main(int argc, char **argv)
{
    int expect_stale = 0;
    if (argc > 1 && strcmp(argv[argc - 1], "--expect-stale") == 0) {
        expect_stale = 1;
        argc--;
    }
    if (argc < 4) {
        fprintf(stderr, "usage: %s URI PROCESSES SECONDS [KEYS] [--expect-stale]\n", argv[0]);
        return 2;
    }
    const char *uri = argv[1];
    int procs = atoi(argv[2]), seconds = atoi(argv[3]);
    if (argc > 4)
        nkeys = atoi(argv[4]);
    if (procs < 1 || procs > 64 || seconds < 1 || nkeys < 1 || nkeys > KEYS_MAX) {
        fprintf(stderr, "cache_race: bad arguments\n");
        return 2;
    }
    S = mmap(NULL, sizeof *S, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (S == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    memset(S, 0, sizeof *S);
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    for (int i = 0; i < KEYS_MAX; i++)
        pthread_mutex_init(&S->keys[i].mu, &a);
    /* Create the stores once, before the processes race to open them. */
    acp_store *first = open_store(uri);
    if (!first)
        return 2;
    acp_store_close(first);
    fflush(stdout);
    pid_t pids[64];
    for (int i = 0; i < procs; i++) {
        if ((pids[i] = fork()) == 0)
            _exit(child(uri, seconds, i));
        if (pids[i] < 0) {
            perror("fork");
            return 2;
        }
    }
    int bad = 0;
    for (int i = 0; i < procs; i++) {
        int ws;
        while (waitpid(pids[i], &ws, 0) < 0 && errno == EINTR) {
        }
        if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
            fprintf(stderr, "cache_race: process %d ended badly (status 0x%x)\n", i, ws);
            bad = 1;
        }
    }
    long long stale = atomic_load(&S->stale), errors = atomic_load(&S->errors);
    printf("cache_race: %d processes, %d s, %d keys: %lld operations, %lld reads, %lld "
           "conflicts, %lld stale reads, %lld errors\n",
           procs, seconds, nkeys, (long long)atomic_load(&S->ops),
           (long long)atomic_load(&S->reads), (long long)atomic_load(&S->conflicts), stale,
           errors);
    if (bad)
        return 1;
    if (expect_stale) {
        if (stale == 0) {
            fprintf(stderr, "cache_race: expected stale reads (unsafe cache) and found none\n");
            return 1;
        }
        return 0;
    }
    return stale || errors ? 1 : 0;
}
