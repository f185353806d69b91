/* SPDX-License-Identifier: MIT */
/*
 * readonly.h - how a mode=ro handle of the sqlite backend opens its store.
 *
 * A database in WAL mode is read through its -wal and -shm files, and
 * SQLite creates them when they are missing, with the reader as their
 * owner; the store's owner then cannot open them read-write and is locked
 * out.  So a reader that is not the owner never creates a file, and a
 * store that nobody can write is opened as immutable (no -wal, -shm or
 * locks at all).  readonly.c has the rules and the reasons.
 */
#ifndef ACP_SQLITE_READONLY_H
#define ACP_SQLITE_READONLY_H

#include <stddef.h>

/* What sq_ro_plan() decided. */
typedef struct sq_ro {
    int vfs_mode;  /* SQ_VFS_RO or SQ_VFS_GUEST (errno_vfs.h) */
    int immutable; /* nothing can write the store: SQLite's immutable=1 */
    char *uri;     /* what sqlite3_open_v2 receives, with SQLITE_OPEN_URI;
                      malloc'ed, NULL when out of memory */
    char why[160]; /* one line for messages: how the store is being read */
    int folder_writable; /* this process may create files in the store's folder */
} sq_ro;

/* Decide how to read the database at path read-only, from the file, its
 * -wal and -shm files, its folder and the mount: fills *out.  Never fails;
 * a path that cannot be examined gets the plain read-only plan (the open
 * then reports what is wrong).  Release with sq_ro_free(). */
void sq_ro_plan(const char *path, sq_ro *out);

void sq_ro_free(sq_ro *ro);

#endif /* ACP_SQLITE_READONLY_H */
