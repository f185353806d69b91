/* SPDX-License-Identifier: MIT */
/*
 * replay_main.c - run a harness over files instead of under libFuzzer: the
 * corpus replay that builds without clang.
 *
 *   fuzz_replay_<harness> <file or directory>...
 *
 * Every regular file named (directories: every regular file in them, in
 * name order) goes through LLVMFuzzerTestOneInput once, each in a forked
 * child, so that one broken invariant (an abort) or a sanitizer finding
 * names its input and does not hide the others.  The exit status is 1 when
 * any input failed; an empty or missing corpus is an error too, so a test
 * cannot pass by replaying nothing.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz_common.h"

/* Harnesses that need no set-up leave LLVMFuzzerInitialize undefined. */
#pragma weak LLVMFuzzerInitialize

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t cap = 4096, len = 0;
    unsigned char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            unsigned char *nb = realloc(buf, cap *= 2);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    int err = ferror(f);
    fclose(f);
    if (!buf || err) {
        fprintf(stderr, "%s: cannot read\n", path);
        free(buf);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        free(buf);
        return -1;
    }
    if (pid == 0) {
        LLVMFuzzerTestOneInput(buf, len);
        free(buf);
        exit(0); /* not _exit: LeakSanitizer checks at exit */
    }
    free(buf);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFSIGNALED(status))
        fprintf(stderr, "FAILED: %s (signal %d)\n", path, WTERMSIG(status));
    else
        fprintf(stderr, "FAILED: %s (exit status %d)\n", path, WEXITSTATUS(status));
    return 1;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static long failures;

/* Returns the number of inputs run, or -1 when the path cannot be read. */
static long run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        int rc = run_file(path);
        failures += rc > 0;
        return rc < 0 ? -1 : 1;
    }
    DIR *d = opendir(path);
    if (!d) {
        perror(path);
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *nn);
            if (!nn)
                break;
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name)))
            break;
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_names);
    long count = 0;
    for (size_t i = 0; i < n; i++) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, names[i]);
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode)) {
            int rc = run_file(full);
            failures += rc > 0;
            if (rc < 0)
                count = -1;
            else if (count >= 0)
                count++;
        }
        free(names[i]);
    }
    free(names);
    return count;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <corpus file or directory>...\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    long total = 0;
    for (int i = 1; i < argc; i++) {
        long n = run_path(argv[i]);
        if (n < 0)
            return 1;
        total += n;
    }
    if (total == 0) {
        fprintf(stderr, "%s: no inputs found\n", argv[0]);
        return 1;
    }
    if (failures) {
        fprintf(stderr, "%s: %ld of %ld input(s) failed\n", argv[0], failures, total);
        return 1;
    }
    printf("%s: %ld input(s) replayed, every invariant held\n", argv[0], total);
    return 0;
}
