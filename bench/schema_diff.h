/* SPDX-License-Identifier: MIT */
/*
 * schema_diff.h - comparing two descriptions made of lines, for the checks
 * that a baseline keeps its backend's layout (schema_check.c,
 * pg_schema_check.c, redis_layout_check.c).
 */
#ifndef ACP_BENCH_SCHEMA_DIFF_H
#define ACP_BENCH_SCHEMA_DIFF_H

/* 1 when plugin and base (either may be NULL: an error, reported already)
 * are the same text; else 0, and with verbose, the lines only one of them
 * has are printed on stderr under the heading what. */
int schema_diff_same(const char *what, const char *plugin, const char *base, int verbose);

#endif /* ACP_BENCH_SCHEMA_DIFF_H */
