/* SPDX-License-Identifier: MIT */
/*
 * alloc_driver.h - the loop shared by the allocation failure tests: one
 * forked child per failure point, so that each starts from the same state,
 * a crash names its n, and LeakSanitizer or valgrind check each child as
 * it exits.
 */
#ifndef ACP_TEST_ALLOC_DRIVER_H
#define ACP_TEST_ALLOC_DRIVER_H

#include <stddef.h>

/* Exit status of a child whose sequence met the failure and held.  0 means
 * the sequence ended before the n-th allocation; anything else is a
 * finding the child (or the sanitizer, or valgrind) printed. */
#define ALLOC_REACHED 10

/* What a child reports about the call that met the failure. */
typedef struct alloc_report {
    int step;   /* index into the step names, or -1 */
    int status; /* the acp_status it returned */
} alloc_report;

typedef struct alloc_pass {
    const char *test;      /* "alloc_sqlite", for messages */
    int warm, persistent;  /* passed to the child */
    unsigned long last;    /* stop after this n (0: when the sequence ends) */
    unsigned long every;   /* try n = 1, 1 + every, ... (1: every point) */
    /* Long stretches of alike points (the thousands of allocations SQLite
     * makes preparing statements in open): after a point that landed in
     * step sparse_step, move on by sparse_every instead (0: no such step). */
    int sparse_step[2];
    unsigned long sparse_every;
    const char *const *step_names;
    size_t n_steps;
    /* Runs in the child; returns its exit status and fills *r. */
    int (*child)(unsigned long n, int persistent, int warm, alloc_report *r);
} alloc_pass;

/* Run one pass, print its summary; returns the number of findings and
 * adds the number of points tried to *points. */
unsigned long alloc_run_pass(const alloc_pass *p, unsigned long *points);

/* The value of option `opt` ("--every") from argv, else of the environment
 * variable env, else 1. */
unsigned long alloc_stride(int argc, char **argv, const char *opt, const char *env);

#endif /* ACP_TEST_ALLOC_DRIVER_H */
