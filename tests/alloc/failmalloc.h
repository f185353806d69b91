/* SPDX-License-Identifier: MIT */
/*
 * failmalloc.h - a test allocator that fails the n-th allocation on demand.
 *
 * failmalloc.c defines malloc, calloc, realloc, free (and the aligned
 * variants) in the test executable.  The executable's definitions come
 * first in symbol lookup, so the core library, cJSON, SQLite, glibc's own
 * internal allocations and every plugin loaded later with dlopen all
 * allocate through them.  Disarmed, they only forward to the real
 * allocator (glibc's, or AddressSanitizer's in ASan builds) and count.
 */
#ifndef ACP_TEST_FAILMALLOC_H
#define ACP_TEST_FAILMALLOC_H

#include <stddef.h>

/* Fail the n-th allocation (1-based) counted from this call.  persistent:
 * also every allocation after it, until failmalloc_disarm(); otherwise that
 * one only. */
void failmalloc_arm(unsigned long n, int persistent);
void failmalloc_disarm(void);
/* While held, allocations are neither counted nor refused: a test checks
 * state between operations without moving the failure point. */
void failmalloc_hold(int on);
/* Allocations refused since the last arm. */
unsigned long failmalloc_failures(void);
/* Allocation calls seen since the last arm (failed ones included). */
unsigned long failmalloc_calls(void);
/* Blocks currently allocated through this allocator (live count). */
long failmalloc_live(void);

#endif /* ACP_TEST_FAILMALLOC_H */
