/* SPDX-License-Identifier: MIT */
/*
 * probe_exit_main.c - listing the plugins of a folder whose only plugin
 * calls exit(3) in init.  The probe child runs the plugin, so exit()
 * happens there: it must end the child without flushing the copy of this
 * process's buffered output or running this process's atexit handlers.
 * Exits 0 when the output file holds the line once and the handler never
 * ran in the child.
 * A plain program, not Criterion: the interesting part is stdio and exit.
 *
 * Usage: plugin_host_probe_exit <folder with libacp_storage_exit_init.so>
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "acp_storage.h"

static char g_marks[64];
static pid_t g_main;

/* Appends a mark to the file named by g_marks when run in another process
 * than this one (the probe child). */
static void mark_exit(void)
{
    if (getpid() == g_main)
        return;
    FILE *f = fopen(g_marks, "a");
    if (f) {
        fputs("atexit\n", f);
        fclose(f);
    }
}

static int count_lines(const char *path, const char *line)
{
    FILE *f = fopen(path, "r");
    char buf[128];
    int n = 0;
    while (f && fgets(buf, sizeof buf, f))
        n += !strcmp(buf, line);
    if (f)
        fclose(f);
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <fixture dir>\n", argv[0]);
        return 2;
    }
    char out_path[] = "/tmp/acp-probe-exit-out.XXXXXX";
    int fd = mkstemp(out_path);
    snprintf(g_marks, sizeof g_marks, "%s.marks", out_path);
    FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!out) {
        perror("mkstemp");
        return 1;
    }
    setvbuf(out, NULL, _IOFBF, 4096);
    g_main = getpid();
    atexit(mark_exit);
    fputs("once\n", out); /* stays in the buffer across the probe's fork */

    acp_error err;
    acp_config *cfg = NULL;
    acp_plugin_list *list = NULL;
    int ok = acp_config_new(&cfg, &err) == ACP_OK &&
             acp_config_add_plugin_dir(cfg, argv[1], &err) == ACP_OK &&
             acp_plugins_scan(cfg, &list, &err) == ACP_OK;
    if (!ok)
        fprintf(stderr, "scan: %s\n", err.message);
    const acp_plugin_info *info = ok ? acp_plugin_list_get(list, 0) : NULL;
    ok = ok && info && info->status != ACP_OK && strstr(info->message, "exit");
    if (info && !ok)
        fprintf(stderr, "unexpected report for %s: %s\n", info->path, info->message);
    acp_plugin_list_free(list);
    acp_config_free(cfg);
    fclose(out);

    int lines = count_lines(out_path, "once\n");
    int marks = count_lines(g_marks, "atexit\n");
    if (lines != 1)
        fprintf(stderr, "the buffered line was written %d times (want 1)\n", lines);
    if (marks != 0)
        fprintf(stderr, "an atexit handler ran %d times in the probe (want 0)\n", marks);
    unlink(out_path);
    unlink(g_marks);
    return ok && lines == 1 && marks == 0 ? 0 : 1;
}
