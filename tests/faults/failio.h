/* SPDX-License-Identifier: MIT */
/*
 * failio.h - control of the failio LD_PRELOAD interposer (failio.c).
 *
 * failio makes the n-th call of one kind of I/O system call fail with a
 * chosen errno, but only for files under one directory, so that the
 * dynamic loader, libc and everything else of the process are untouched:
 *
 *   write   write, pwrite, pwrite64, writev, pwritev, pwritev64
 *   fsync   fsync, fdatasync, syncfs
 *   rename  rename, renameat, renameat2 (either path under the directory)
 *   open    open, open64, openat, openat64, creat, creat64 (and their
 *           _FORTIFY_SOURCE forms __open_2, ...)
 *
 * Calls on descriptors are matched by the path the descriptor refers to
 * (/proc/self/fd), calls on paths by the path (relative ones resolved
 * against the directory descriptor or the working directory).
 *
 * From the environment, for any program (read once, at load):
 *   FAILIO_DIR=/tmp/x      the directory (without it nothing is counted)
 *   FAILIO_CALL=write      the kind of call to fail
 *   FAILIO_NTH=3           fail the 3rd such call (0 or unset: count only)
 *   FAILIO_ERRNO=ENOSPC    ENOSPC (default), EIO, EDQUOT, EROFS or a number
 *   FAILIO_STICKY=1        fail every such call from the n-th on
 *   FAILIO_SHORT=1         write only: the n-th call writes half its bytes
 *                          and returns that count; the next one fails
 *   FAILIO_REPORT=1        print the calls counted per kind at exit (to
 *                          stderr; FAILIO_REPORT=/path appends to a file)
 *
 * From a program that runs under it, through the functions below (found
 * with dlsym(RTLD_DEFAULT, "failio_arm"), so that the program does not
 * need to link the library).  Counters are process-wide and thread-safe.
 */
#ifndef FAILIO_H
#define FAILIO_H

#ifdef __cplusplus
extern "C" {
#endif

#define FAILIO_STICKY 1 /* every matching call from the n-th on fails */
#define FAILIO_SHORT 2  /* the n-th write is short, the next one fails */

/* Count (and fail) only calls on files under dir (absolute; NULL: none).
 * Returns 0, or -1 when dir is not absolute or too long. */
typedef int (*failio_set_dir_fn)(const char *dir);
/* Reset the counters and fail the nth call of kind call ("write", "fsync",
 * "rename", "open") from now on with errno err; nth 0 only counts.
 * Returns 0, or -1 for an unknown kind. */
typedef int (*failio_arm_fn)(const char *call, long nth, int err, int flags);
/* Stop failing; the counters keep counting. */
typedef void (*failio_disarm_fn)(void);
/* Calls of a kind counted since the last arm (-1 for an unknown kind). */
typedef long (*failio_count_fn)(const char *call);
/* Calls failed since the last arm. */
typedef long (*failio_fired_fn)(void);

#ifdef __cplusplus
}
#endif
#endif /* FAILIO_H */
