/* SPDX-License-Identifier: MIT */
/*
 * dirwatch.c - see dirwatch.h.  Each thread keeps one inotify instance for
 * all its waits: closing an instance costs the kernel a grace period
 * (synchronize_srcu, tens of milliseconds), which a follower would pay
 * between every two waits.  The instance is closed when the thread ends,
 * and replaced in a child after fork() (a shared queue would hand one
 * process's notifications to the other).
 */
#define _GNU_SOURCE
#include "dirwatch.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

/* IN_ATTRIB: sqlite's add_event touches the database after its commit. */
#define WATCH_MASK (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO)

/* This thread's instance and the directory it watches now. */
typedef struct watcher {
    int fd;
    int wd;    /* the current watch, or -1 */
    pid_t pid; /* the process that made fd */
} watcher;

static pthread_key_t watcher_key;
static pthread_once_t watcher_once = PTHREAD_ONCE_INIT;

static void watcher_free(void *p)
{
    watcher *w = p;
    close(w->fd);
    free(w);
}

static void watcher_key_make(void)
{
    if (pthread_key_create(&watcher_key, watcher_free) != 0)
        watcher_key = (pthread_key_t)-1;
}

/* This thread's watcher, made on first use; NULL with errno set. */
static watcher *watcher_get(void)
{
    pthread_once(&watcher_once, watcher_key_make);
    watcher *w = pthread_getspecific(watcher_key);
    if (w && w->pid != getpid()) { /* inherited through fork() */
        close(w->fd);
        free(w);
        w = NULL;
    }
    if (!w) {
        if (!(w = malloc(sizeof *w)))
            return NULL;
        w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (w->fd < 0) {
            int e = errno;
            free(w);
            errno = e;
            return NULL;
        }
        w->wd = -1;
        w->pid = getpid();
        if (pthread_setspecific(watcher_key, w) != 0) {
            close(w->fd);
            free(w);
            errno = ENOMEM;
            return NULL;
        }
    }
    return w;
}

/* Read every pending notification; 1 if one of watch wd concerns a
 * watched name (or some were dropped: then anything may have changed), 0
 * if none, -1 on a read error (errno set). */
static int drain(int ifd, int wd, const char *prefix, size_t prefix_len)
{
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    int hit = 0;
    for (;;) {
        ssize_t n = read(ifd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EAGAIN)
                return hit;
            if (errno == EINTR)
                continue;
            return -1;
        }
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *e = (const struct inotify_event *)p;
            if ((e->mask & IN_Q_OVERFLOW) ||
                (e->wd == wd && e->len && strncmp(e->name, prefix, prefix_len) == 0))
                hit = 1;
            p += sizeof *e + e->len;
        }
    }
}

acp_status dirwatch_wait(acp_backend *b, const acp_plugin_host *h, const char *dir,
                         const char *prefix, size_t prefix_len, dirwatch_look_fn look,
                         const acp_event_query *q, acp_call *call)
{
    watcher *w = watcher_get();
    if (!w)
        return h->error(call, errno == ENOMEM ? ACP_NOMEM : ACP_IO,
                        "cannot follow run '%s': inotify_init1: %s%s", q->run_id, strerror(errno),
                        errno == EMFILE ? " (raise fs.inotify.max_user_instances)" : "");
    int ifd = w->fd;
    /* The same directory gives the same watch back; another one replaces
     * it, so that the queue carries only what this wait asks about. */
    int wd = inotify_add_watch(ifd, dir, WATCH_MASK);
    if (wd < 0)
        return h->error(call, ACP_IO, "cannot follow run '%s': watching %s: %s", q->run_id, dir,
                        strerror(errno));
    if (w->wd >= 0 && w->wd != wd)
        inotify_rm_watch(ifd, w->wd);
    w->wd = wd;
    /* Armed: what queued before (earlier waits) is stale, the look covers it. */
    if (drain(ifd, wd, prefix, prefix_len) < 0)
        return h->error(call, ACP_IO, "following run '%s': reading inotify: %s", q->run_id,
                        strerror(errno));
    acp_status st = ACP_OK;
    int look_now = 1;
    for (;;) {
        if (look_now && ((st = look(b, q, call)) != ACP_OK || h->emitted(call) > 0))
            break;
        int64_t left = h->remaining_ms(call);
        if (left == 0 || h->cancelled(call))
            break;
        struct pollfd p[2] = {{.fd = ifd, .events = POLLIN}, {.fd = h->cancel_fd(call), .events = POLLIN}};
        int n = poll(p, p[1].fd >= 0 ? 2 : 1, left < 0 || left > INT_MAX ? -1 : (int)left);
        if (n < 0 && errno != EINTR) {
            st = h->error(call, ACP_IO, "following run '%s': poll: %s", q->run_id, strerror(errno));
            break;
        }
        look_now = 0;
        if (n > 0 && (p[0].revents & POLLIN)) {
            int hit = drain(ifd, wd, prefix, prefix_len);
            if (hit < 0) {
                st = h->error(call, ACP_IO, "following run '%s': reading inotify: %s", q->run_id,
                              strerror(errno));
                break;
            }
            look_now = hit;
        }
    }
    return st;
}
