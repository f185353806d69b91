/* SPDX-License-Identifier: MIT */
/*
 * dumpfile.h - the file of a dump: plain, gzip or zstd, as a FILE *.
 */
#ifndef ACP_CLI_DUMPFILE_H
#define ACP_CLI_DUMPFILE_H

#include <stdio.h>

/* Open path ("-": standard input or output) as a stream, with constant
 * memory whatever the dump's size.  Reading detects gzip and zstd by their
 * first bytes (any other content is read as it is); writing compresses by
 * the name: ".gz" gzip (level 6), ".zst" zstd (level 3), else plain text
 * (standard output is always plain).  fclose() ends the compressed stream
 * and reports its errors; a compressed stream cut short or damaged reads as
 * an error (ferror, errno EIO).  Returns NULL with errno set. */
FILE *dump_open(const char *path, int write);

#endif
