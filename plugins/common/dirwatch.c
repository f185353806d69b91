/* SPDX-License-Identifier: MIT */
/*
 * dirwatch.c - see dirwatch.h.  One inotify instance per waiting call: a
 * follower needs nothing shared, and closing it drops the watch.
 */
#define _GNU_SOURCE
#include "dirwatch.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define WATCH_MASK (IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO)

/* Read every pending notification; 1 if one concerns a watched name (or
 * some were dropped: then anything may have changed), 0 if none, -1 on a
 * read error (errno set). */
static int drain(int ifd, const char *prefix, size_t prefix_len)
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
                (e->len && strncmp(e->name, prefix, prefix_len) == 0))
                hit = 1;
            p += sizeof *e + e->len;
        }
    }
}

acp_status dirwatch_wait(acp_backend *b, const acp_plugin_host *h, const char *dir,
                         const char *prefix, size_t prefix_len, dirwatch_look_fn look,
                         const acp_event_query *q, acp_call *call)
{
    int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ifd < 0)
        return h->error(call, ACP_IO, "cannot follow run '%s': inotify_init1: %s%s", q->run_id,
                        strerror(errno),
                        errno == EMFILE ? " (raise fs.inotify.max_user_instances)" : "");
    if (inotify_add_watch(ifd, dir, WATCH_MASK) < 0) {
        int e = errno;
        close(ifd);
        return h->error(call, ACP_IO, "cannot follow run '%s': watching %s: %s", q->run_id, dir,
                        strerror(e));
    }
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
            int hit = drain(ifd, prefix, prefix_len);
            if (hit < 0) {
                st = h->error(call, ACP_IO, "following run '%s': reading inotify: %s", q->run_id,
                              strerror(errno));
                break;
            }
            look_now = hit;
        }
    }
    close(ifd);
    return st;
}
