/* SPDX-License-Identifier: MIT */
/*
 * stop.c - a stop request (SIGINT, SIGTERM) for commands that work in
 * batches (purge, archive): the handler only sets a flag, which the
 * command's progress callback returns, so the library ends the work between
 * two batches and the command still reports its count.
 */
#define _XOPEN_SOURCE 700

#include <signal.h>
#include <string.h>

#include "cli.h"

static volatile sig_atomic_t stop_requested;
static struct sigaction old_int, old_term; /* restored by cli_stop_end */

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

void cli_stop_begin(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    stop_requested = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
}

int cli_stop_requested(void)
{
    return stop_requested != 0;
}

void cli_stop_end(void)
{
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
}
