/* SPDX-License-Identifier: MIT */
/*
 * follow.c - `event list RUN --follow`: print a run's events as they are
 * stored, until its terminal event or Ctrl-C.  The wait is the library's
 * (acp_event_follow): no polling here.  SIGINT and SIGTERM are taken by a
 * thread with sigwait, which fires the cancel token (acp_cancel_fire is not
 * async-signal-safe, and a thread needs no self-pipe).
 */
#define _POSIX_C_SOURCE 200809L /* sigwait, pthread_sigmask under -std=c11 */

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* A run's stream ends with one of these (ACP run states). */
static int terminal(const char *doc, size_t len)
{
    acp_event *ev;
    if (acp_event_parse(doc, len, &ev, NULL) != ACP_OK)
        return 0;
    const char *t = acp_event_type(ev);
    int end = t && (strcmp(t, "run.completed") == 0 || strcmp(t, "run.failed") == 0 ||
                    strcmp(t, "run.cancelled") == 0);
    acp_event_free(ev);
    return end;
}

static void print_event(const cli_ctx *ctx, const acp_page *page, size_t i)
{
    size_t len;
    const char *doc = acp_page_json(page, i, &len);
    if (ctx->json) {
        char when[ACP_TIME_BUFSZ];
        acp_time_format(acp_page_time_us(page, i), when);
        fprintf(stdout, "{\"seq\":%lld,\"stored_at\":\"%s\",\"event\":",
                (long long)acp_page_seq(page, i), when);
        out_doc(stdout, doc, len);
        fputs("}\n", stdout);
    } else {
        out_doc(stdout, doc, len);
        fputc('\n', stdout);
    }
}

typedef struct sig_waiter {
    sigset_t set;
    acp_cancel *cancel;
} sig_waiter;

static void *wait_signal(void *arg)
{
    sig_waiter *w = arg;
    int sig;
    if (sigwait(&w->set, &sig) == 0)
        acp_cancel_fire(w->cancel);
    return NULL;
}

int cli_event_follow(cli_ctx *ctx, const char *run_id, int64_t after)
{
    acp_store *store = NULL;
    acp_cancel *cancel = NULL;
    acp_error err;
    int rc = cli_open_store(ctx, &store, NULL);
    if (rc)
        return rc;
    if (acp_cancel_new(&cancel, &err) != ACP_OK) {
        acp_store_close(store);
        return cli_report(&err);
    }
    /* Blocked here, so every thread started later inherits the mask and
     * only the waiter takes the signals. */
    sig_waiter w = {.cancel = cancel};
    sigemptyset(&w.set);
    sigaddset(&w.set, SIGINT);
    sigaddset(&w.set, SIGTERM);
    sigset_t old;
    pthread_sigmask(SIG_BLOCK, &w.set, &old);
    pthread_t th;
    int have_thread = pthread_create(&th, NULL, wait_signal, &w) == 0;
    if (!have_thread)
        rc = cli_fail(ACP_NOMEM, "cannot start the signal thread");
    for (int done = 0; !rc && !done && !acp_cancel_fired(cancel);) {
        acp_page *page;
        if (acp_event_follow(store, run_id, after, 1000, -1, cancel, &page, &err) != ACP_OK) {
            rc = cli_report(&err);
            break;
        }
        for (size_t i = 0; i < acp_page_count(page) && !done; i++) {
            size_t len;
            const char *doc = acp_page_json(page, i, &len);
            print_event(ctx, page, i);
            after = acp_page_seq(page, i);
            done = terminal(doc, len);
        }
        acp_page_free(page);
        fflush(stdout); /* a pipe reader sees each event as it comes */
    }
    if (have_thread) {
        /* Wake the waiter if no signal came, then let it go: SIGINT is one
         * of the signals it waits for with sigwait (blocked everywhere), so
         * it only ends that wait. */
        pthread_kill(th, SIGINT);
        pthread_join(th, NULL);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    acp_cancel_free(cancel);
    acp_store_close(store);
    return rc;
}
