/* SPDX-License-Identifier: MIT */
/*
 * locktable.c - the file backend's lock table: the file `lock` mapped by
 * every process that has the store open, one robust process-shared mutex
 * per stripe of event logs (file_int.h, shm_stripe), and flock() on the
 * log where no table could be mapped.
 */
#define _GNU_SOURCE /* F_OFD_SETLK */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_int.h"

int stripe_mutex_lock(shm_stripe *st, uint64_t deadline)
{
    int rc = fs_mutex_lock(&st->s.mu, deadline);
    if (rc == EOWNERDEAD) {
        /* Its holder died, perhaps mid-append: make every process look at
         * its logs again (which cuts any torn tail). */
        st->s.gen++;
        st->s.dgen++; /* perhaps in the middle of a delete */
        pthread_mutex_consistent(&st->s.mu);
        rc = 0;
    }
    return rc;
}

int ev_lock(acp_backend *b, evlog *lg, int *check, uint64_t deadline)
{
    if (b->shm) {
        shm_stripe *st = &b->shm[lg->stripe];
        int rc = stripe_mutex_lock(st, deadline);
        if (rc)
            return rc;
        evtab *t = &b->tabs[lg->stripe];
        uint64_t g = st->s.gen;
        if (g != t->t.own_gen) /* someone else changed the stripe */
            t->t.own_gen = t->t.clean_gen = g;
        *check = !lg->known || lg->gen < t->t.clean_gen;
        return 0;
    }
    int rc = fs_flock(lg->fd, LOCK_EX, deadline);
    if (rc)
        return rc;
    *check = 1;
    return 0;
}

void ev_unlock(acp_backend *b, evlog *lg, int changed)
{
    if (b->shm) {
        shm_stripe *st = &b->shm[lg->stripe];
        if (changed)
            b->tabs[lg->stripe].t.own_gen = ++st->s.gen;
        lg->gen = st->s.gen;
        pthread_mutex_unlock(&st->s.mu);
        return;
    }
    flock(lg->fd, LOCK_UN);
}

acp_status ev_lock_table_open(acp_backend *b, acp_call *call)
{
    if (!b->tabs_ready) {
        for (int i = 0; i < FILE_NSTRIPES; i++)
            pthread_mutex_init(&b->tabs[i].t.mu, NULL);
        b->tabs_ready = 1;
    }
    uint64_t dl = fs_deadline(b, call);
    int e = fs_ofd_lock(b->lock_fd, F_WRLCK, LOCK_INIT, dl);
    if (e)
        return file_err(b, call, ACP_IO, "", "lock", "cannot lock", e);

    acp_status s = ACP_OK;
    size_t size = SHM_HEADER + FILE_NSTRIPES * sizeof(shm_stripe);
    uint32_t layout = (uint32_t)sizeof(pthread_mutex_t) << 16 | (uint32_t)sizeof(shm_stripe);
    struct flock pr;
    memset(&pr, 0, sizeof pr);
    pr.l_type = F_WRLCK;
    pr.l_whence = SEEK_SET;
    pr.l_start = LOCK_PRESENCE;
    pr.l_len = 1;
    /* Alone with the store: nobody uses the table, (re)initialise it. */
    int alone = fcntl(b->lock_fd, F_OFD_SETLK, &pr) == 0;
    void *map = MAP_FAILED;
    struct stat st;
    if (alone) {
        if (ftruncate(b->lock_fd, 0) != 0 || ftruncate(b->lock_fd, (off_t)size) != 0) {
            s = file_err(b, call, ACP_IO, "", "lock", "cannot size", errno);
            goto out;
        }
        map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, b->lock_fd, 0);
        if (map != MAP_FAILED) {
            pthread_mutexattr_t at;
            pthread_mutexattr_init(&at);
            pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED);
            pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST);
            shm_stripe *stripes = (shm_stripe *)((char *)map + SHM_HEADER);
            for (int i = 0; i < FILE_NSTRIPES; i++) {
                pthread_mutex_init(&stripes[i].s.mu, &at);
                stripes[i].s.gen = 0;
            }
            pthread_mutexattr_destroy(&at);
            shm_header *h = map;
            h->layout = layout;
            h->nstripes = FILE_NSTRIPES;
            memcpy(h->magic, SHM_MAGIC, sizeof SHM_MAGIC);
        }
        /* Without a mapping the header stays empty, so that every process
         * joining meanwhile falls back to flock() as this one does. */
        pr.l_type = F_RDLCK; /* atomic downgrade */
        fcntl(b->lock_fd, F_OFD_SETLK, &pr);
    } else {
        if ((e = fs_ofd_lock(b->lock_fd, F_RDLCK, LOCK_PRESENCE, dl)) != 0) {
            s = file_err(b, call, ACP_IO, "", "lock", "cannot lock", e);
            goto out;
        }
        shm_header h;
        memset(&h, 0, sizeof h);
        if (fstat(b->lock_fd, &st) != 0 || (uint64_t)st.st_size < size ||
            pread(b->lock_fd, &h, sizeof h, 0) != (ssize_t)sizeof h ||
            memcmp(h.magic, SHM_MAGIC, sizeof SHM_MAGIC) != 0)
            goto out; /* the others use flock(): so does this handle */
        if (h.layout != layout || h.nstripes != FILE_NSTRIPES) {
            s = b->host->error(call, ACP_UNAVAILABLE,
                               "%s/lock: the store is open in a program built with another "
                               "lock layout; close it there first",
                               b->path);
            goto out;
        }
        map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, b->lock_fd, 0);
        if (map == MAP_FAILED) {
            s = file_err(b, call, ACP_IO, "", "lock", "cannot map", errno);
            goto out;
        }
    }
    if (map != MAP_FAILED) {
        b->shm = (shm_stripe *)((char *)map + SHM_HEADER);
        b->shm_size = size;
    } else {
        b->host->log(2, FILE_PLUGIN, "%s/lock: no shared mapping; event logs use flock()",
                     b->path);
    }
out:
    fs_ofd_unlock(b->lock_fd, LOCK_INIT);
    return s;
}

void ev_lock_table_close(acp_backend *b)
{
    if (b->shm)
        munmap((char *)b->shm - SHM_HEADER, b->shm_size);
    b->shm = NULL;
}

int ev_log_lock(acp_backend *b, const char *name, size_t nlen, acp_call *call)
{
    if (!b->shm)
        return 0; /* with flock(), appenders look at every append */
    return stripe_mutex_lock(&b->shm[ev_stripe_of(name, nlen)], fs_deadline(b, call));
}

void ev_log_unlock(acp_backend *b, const char *name, size_t nlen)
{
    if (!b->shm)
        return;
    unsigned s = ev_stripe_of(name, nlen);
    shm_stripe *sh = &b->shm[s];
    evtab *t = &b->tabs[s];
    t->t.own_gen = t->t.clean_gen = ++sh->s.gen; /* this handle's appenders too */
    sh->s.dgen++;
    pthread_mutex_unlock(&sh->s.mu);
}
