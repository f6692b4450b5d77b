/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "tpoll_config.h"
#include "wakefd.h"

#if TP_HAVE_EVENTFD
#include <sys/eventfd.h>
#endif

#if !TP_HAVE_EVENTFD
static int set_flags(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return -errno;
    return 0;
}
#endif

static int opened(struct tp_wakefd *w)
{
    tp_fdmark_take(&w->rmark, w->rfd);
    tp_fdmark_take(&w->wmark, w->wfd);
    return 0;
}

int tp_wakefd_open(struct tp_wakefd *w)
{
#if TP_HAVE_EVENTFD
    w->rfd = w->wfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return w->rfd < 0 ? -errno : opened(w);
#else
    int p[2], err;

    if (pipe(p) != 0)
        return -errno;
    err = set_flags(p[0]);
    if (err == 0)
        err = set_flags(p[1]);
    if (err) {
        close(p[0]);
        close(p[1]);
        return err;
    }
    w->rfd = p[0];
    w->wfd = p[1];
    return opened(w);
#endif
}

void tp_wakefd_close(struct tp_wakefd *w)
{
    if (w->wfd != w->rfd)
        close(w->wfd);
    close(w->rfd);
    w->rfd = w->wfd = -1;
}

void tp_wakefd_forget(struct tp_wakefd *w)
{
    if (w->wfd != w->rfd)
        tp_fdmark_close_if_owned(&w->wmark);
    tp_fdmark_close_if_owned(&w->rmark);
    w->rfd = w->wfd = -1;
}

/* A full pipe or a saturated eventfd already means "signalled". */
void tp_wakefd_signal(const struct tp_wakefd *w)
{
    uint64_t one = 1;
    ssize_t r;

    do
        r = write(w->wfd, &one, w->wfd == w->rfd ? sizeof(one) : 1);
    while (r < 0 && errno == EINTR);
}

void tp_wakefd_drain(const struct tp_wakefd *w)
{
    char buf[64];
    ssize_t r;

    for (;;) {
        r = read(w->rfd, buf, sizeof(buf));
        if (r > 0 && w->wfd != w->rfd)
            continue; /* a pipe may hold several signals */
        if (r < 0 && errno == EINTR)
            continue;
        return;
    }
}
