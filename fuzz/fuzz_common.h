/* SPDX-License-Identifier: MIT */
/*
 * fuzz_common.h - what the harnesses share.  Each harness defines
 * LLVMFuzzerTestOneInput (and may define LLVMFuzzerInitialize); it is linked
 * either with libFuzzer (clang, -DACP_STORAGE_FUZZ=ON) or with
 * replay_main.c, which runs it over every file of a corpus.
 *
 * A broken invariant prints what was expected and aborts: libFuzzer keeps
 * the input as a crash, and the replay test fails.
 */
#ifndef ACP_FUZZ_COMMON_H
#define ACP_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s\n  ", __FILE__, __LINE__, #cond);        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif /* ACP_FUZZ_COMMON_H */
