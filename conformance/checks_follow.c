/* SPDX-License-Identifier: MIT */
/*
 * checks_follow.c - following a run (acp_event_follow), for backends that
 * declare ACP_CAP_FOLLOW: existing events at once, an empty page on
 * timeout, a wait woken by an append from another thread (through another
 * handle when the backend shares a store between handles), and a wait
 * without timeout ended by a cancel fired from another thread.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "check.h"

static int64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct later {
    acp_store *store;   /* append {"type":"late"} to run "follow" here, */
    acp_cancel *cancel; /* or fire this */
    acp_status st;
} later;

static void *act_later(void *arg)
{
    later *l = arg;
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
    if (l->cancel)
        acp_cancel_fire(l->cancel);
    else
        l->st = acp_event_add(l->store, "follow", "{\"type\":\"late\"}", ACP_STRLEN, NULL, NULL);
    return NULL;
}

CONFORMANCE_CHECK(follow_wakes_on_append_and_cancel)
{
    OPEN();
    SKIP_UNLESS(CAPS() & ACP_CAP_FOLLOW, "the backend does not declare FOLLOW");
    CHECK_OK(acp_event_add(S, "follow", "{\"type\":\"a\"}", ACP_STRLEN, NULL, ERR));
    acp_page *p;
    int64_t t0 = ms_now();
    CHECK_OK(acp_event_follow(S, "follow", 0, 10, 10000, NULL, &p, ERR));
    t_keep(c, p, t_free_page);
    CHECK(acp_page_count(p) == 1 && acp_page_seq(p, 0) == 1,
          "following after 0 with one event stored: %zu events", acp_page_count(p));
    CHECK(ms_now() - t0 < 5000, "an existing event took %lld ms", (long long)(ms_now() - t0));

    t0 = ms_now();
    CHECK_OK(acp_event_follow(S, "follow", 1, 10, 300, NULL, &p, ERR));
    t_keep(c, p, t_free_page);
    CHECK(acp_page_count(p) == 0, "a wait that timed out returned %zu events",
          acp_page_count(p));
    CHECK(ms_now() - t0 >= 250, "a 300 ms wait returned after %lld ms",
          (long long)(ms_now() - t0));

    /* Woken by another handle's append when handles share the store. */
    acp_store *writer = S;
    if (CAPS() & ACP_CAP_MULTIPROCESS)
        CHECK_OK(t_open(c, &writer, ERR));
    later l = {writer, NULL, ACP_OK};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, act_later, &l) == 0, "cannot start a thread");
    t0 = ms_now();
    acp_status st = acp_event_follow(S, "follow", 1, 10, 20000, NULL, &p, ERR);
    int64_t took = ms_now() - t0;
    pthread_join(th, NULL);
    CHECK_OK(st);
    t_keep(c, p, t_free_page);
    CHECK(l.st == ACP_OK, "the append from another thread failed: %s", acp_status_name(l.st));
    CHECK(acp_page_count(p) == 1 && acp_page_seq(p, 0) == 2,
          "a wait woken by an append returned %zu events", acp_page_count(p));
    CHECK(took < 10000, "the follower was woken %lld ms after the wait began (the append came "
                        "after 200 ms)", (long long)took);

    /* No timeout: only the cancel ends it. */
    acp_cancel *cancel;
    CHECK_OK(acp_cancel_new(&cancel, ERR));
    t_keep(c, cancel, (void (*)(void *))acp_cancel_free);
    later k = {NULL, cancel, ACP_OK};
    CHECK(pthread_create(&th, NULL, act_later, &k) == 0, "cannot start a thread");
    t0 = ms_now();
    st = acp_event_follow(S, "follow", 2, 10, -1, cancel, &p, ERR);
    took = ms_now() - t0;
    pthread_join(th, NULL);
    CHECK_OK(st);
    t_keep(c, p, t_free_page);
    CHECK(acp_page_count(p) == 0 && acp_cancel_fired(cancel),
          "a cancelled wait returned %zu events", acp_page_count(p));
    CHECK(took < 10000, "the cancel ended the wait only after %lld ms", (long long)took);
    return 0;
}
