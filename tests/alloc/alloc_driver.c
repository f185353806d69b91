/* SPDX-License-Identifier: MIT */
/* alloc_driver.c - see alloc_driver.h. */
#include "alloc_driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acp_storage.h"

#define MAX_N 1000000
#define MAX_FINDINGS 20

typedef struct tally {
    unsigned long nomem, other, absorbed;
} tally;

unsigned long alloc_run_pass(const alloc_pass *p, unsigned long *points)
{
    tally *t = calloc(p->n_steps, sizeof *t);
    unsigned long failed = 0, tried = 0, n;
    const char *mode = p->persistent ? "persistent" : "once";
    const char *kind = p->warm ? "warm" : "cold";
    if (!t)
        return 1;
    unsigned long step_by = p->every;
    for (n = 1; n < MAX_N && (!p->last || n <= p->last); n += step_by) {
        step_by = p->every;
        int fds[2];
        if (pipe(fds) != 0) {
            perror("pipe");
            failed++;
            break;
        }
        fflush(NULL); /* or the child would print the parent's buffer again */
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            failed++;
            break;
        }
        if (pid == 0) {
            alloc_report r = {-1, 0};
            close(fds[0]);
            int rc = p->child(n, p->persistent, p->warm, &r);
            if (write(fds[1], &r, sizeof r) != (ssize_t)sizeof r)
                rc = 1;
            exit(rc); /* exit, not _exit: LeakSanitizer and valgrind check here */
        }
        close(fds[1]);
        alloc_report r = {-1, 0};
        ssize_t got = read(fds[0], &r, sizeof r);
        close(fds[0]);
        int status;
        while (waitpid(pid, &status, 0) < 0)
            ;
        tried++;
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (code == 0)
            break; /* the sequence ended before the n-th allocation */
        if (code != ALLOC_REACHED || got != (ssize_t)sizeof r) {
            if (WIFSIGNALED(status))
                fprintf(stderr, "%s: n=%lu %s %s: child killed by signal %d\n", p->test, n, kind,
                        mode, WTERMSIG(status));
            else if (code != 1)
                fprintf(stderr, "%s: n=%lu %s %s: child exit status %d (see the sanitizer or "
                                "valgrind report above)\n",
                        p->test, n, kind, mode, code);
            if (++failed >= MAX_FINDINGS) {
                fprintf(stderr, "%s: stopping after %d findings\n", p->test, MAX_FINDINGS);
                break;
            }
            continue;
        }
        if (p->sparse_every > 1 && r.step >= 0 &&
            (r.step == p->sparse_step[0] || r.step == p->sparse_step[1]))
            step_by = p->sparse_every;
        if (r.step >= 0 && (size_t)r.step < p->n_steps) {
            if (r.status == ACP_OK)
                t[r.step].absorbed++;
            else if (r.status == ACP_NOMEM)
                t[r.step].nomem++;
            else
                t[r.step].other++;
        }
    }
    char note[160] = "";
    if (p->every > 1)
        snprintf(note, sizeof note, " (one in %lu tried)", p->every);
    else if (p->sparse_every > 1)
        snprintf(note, sizeof note, " (one in %lu tried within %s and %s)", p->sparse_every,
                 p->step_names[p->sparse_step[0]], p->step_names[p->sparse_step[1]]);
    printf("%s %s: %lu allocation failure points%s, %lu finding(s)\n", kind, mode, tried, note,
           failed);
    for (size_t i = 0; i < p->n_steps; i++)
        if (t[i].nomem || t[i].other || t[i].absorbed)
            printf("  %-26s NOMEM %5lu  LOAD %4lu  absorbed %4lu\n", p->step_names[i],
                   t[i].nomem, t[i].other, t[i].absorbed);
    fflush(stdout);
    free(t);
    *points += tried;
    return failed;
}

unsigned long alloc_stride(int argc, char **argv, const char *opt, const char *env)
{
    const char *v = getenv(env);
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], opt) == 0)
            v = argv[i + 1];
    long k = v ? atol(v) : 1;
    return k > 0 ? (unsigned long)k : 1;
}
