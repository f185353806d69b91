/* SPDX-License-Identifier: MIT */
/*
 * schema_diff.c - see schema_diff.h.
 */
#include <stdio.h>
#include <string.h>

#include "schema_diff.h"

/* Print the lines of a missing from b, with a prefix. */
static void print_missing(const char *a, const char *b, const char *prefix)
{
    for (const char *l = a; *l;) {
        size_t n = strcspn(l, "\n");
        int found = 0;
        for (const char *m = b; *m && !found;) {
            size_t k = strcspn(m, "\n");
            found = k == n && memcmp(l, m, n) == 0;
            m += k + (m[k] != '\0');
        }
        if (!found)
            fprintf(stderr, "%s%.*s\n", prefix, (int)n, l);
        l += n + (l[n] != '\0');
    }
}

int schema_diff_same(const char *what, const char *plugin, const char *base, int verbose)
{
    if (plugin && base && strcmp(plugin, base) == 0)
        return 1;
    if (verbose && plugin && base) {
        fprintf(stderr, "%s differ:\n", what);
        print_missing(plugin, base, "  only in the plugin's: ");
        print_missing(base, plugin, "  only in the baseline's: ");
    }
    return 0;
}
