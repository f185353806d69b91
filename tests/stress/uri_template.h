/* SPDX-License-Identifier: MIT */
/*
 * uri_template.h - a store URI from a template: "{dir}" becomes a fresh
 * directory made from dir (a mkdtemp() template, changed in place).
 * Shared by the stress programs; header-only, as each is one file.
 */
#ifndef ACP_STRESS_URI_TEMPLATE_H
#define ACP_STRESS_URI_TEMPLATE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A malloc'd URI; a template without "{dir}" comes back as it is unless
 * need_dir, when that is an error.  NULL on error (no directory made, no
 * memory). */
static inline char *uri_from_template(const char *tmpl, char *dir, int need_dir)
{
    const char *at = strstr(tmpl, "{dir}");
    if (!at)
        return need_dir ? NULL : strdup(tmpl);
    if (!mkdtemp(dir))
        return NULL;
    size_t n = strlen(tmpl) + strlen(dir);
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%.*s%s%s", (int)(at - tmpl), tmpl, dir, at + 5);
    return out;
}

#endif
