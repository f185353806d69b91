/* SPDX-License-Identifier: MIT */
/*
 * errno_vfs.h - the errno-recording VFS of the sqlite backend.
 *
 * SQLite reports the errno of a failed file operation late or not at all;
 * connections opened through this VFS record it the moment it happens, per
 * thread, so that a message can name the real reason.  The read-write
 * registration also refuses SQLite's silent read-only fallback (errno_vfs.c
 * says why).
 */
#ifndef ACP_SQLITE_ERRNO_VFS_H
#define ACP_SQLITE_ERRNO_VFS_H

/* How a handle opens its files. */
enum {
    SQ_VFS_RW,   /* read-write: a read-only fallback is an open failure */
    SQ_VFS_RO,   /* mode=ro */
    SQ_VFS_GUEST /* mode=ro by another user: the database, its WAL and journal
                    are opened read-only and never created (pair it with the
                    URI parameter readonly_shm=1 for the -shm file) */
};

/* The name of the VFS to pass to sqlite3_open_v2 for a handle of mode
 * SQ_VFS_*, or NULL (SQLite's default VFS) when registering it failed:
 * messages then fall back to what SQLite knows.  Registers every variant
 * once per process, never as the default VFS.  Thread-safe. */
const char *sq_vfs_name(int mode);

/* Forget the errno recorded by this thread: every operation begins with it,
 * so that a reason never comes from an earlier operation. */
void sq_errno_clear(void);

/* The errno of this thread's last failed file operation since
 * sq_errno_clear(), or 0 when none failed. */
int sq_errno_last(void);

#endif /* ACP_SQLITE_ERRNO_VFS_H */
