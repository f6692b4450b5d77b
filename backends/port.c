/* SPDX-License-Identifier: MIT */
/*
 * illumos and Solaris event ports: one port per thread. An fd association
 * is one-shot: retrieving its event dissociates it (port_associate(3C)).
 * The backend reports that to the core (tp__oneshot_fired), which queues
 * the fd, and the next update pass re-associates it through set() when
 * interest remains; there is no other path that associates an fd.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <port.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "../core/backend.h"
#include "../platform/fdmark.h"

/* No event source numbers 0: a slot still holding it was not written. */
#define NO_SOURCE 0

struct port_thread {
    int port;
    struct tp_fdmark mark;
    int nevents;
    port_event_t events[];
};

static struct port_thread *pt(struct tp__thread *th)
{
    return *tp__backend_data(th);
}

/* ENOENT: an event already used the association up. EBADF/EBADFD: the fd
 * was closed, and closing an fd dissociates it from every port. */
static int dissociate(int port, int fd)
{
    if (port_dissociate(port, PORT_SOURCE_FD, (uintptr_t)fd) == 0)
        return 0;
    if (errno == ENOENT || errno == EBADF || errno == EBADFD)
        return 0;
    return -errno;
}

/* Associating an associated fd updates its events and cookie, so a change
 * of interest is one call whatever `have` is. */
static int port_set(struct tp__thread *th, int fd, uint32_t gen, unsigned have,
                    unsigned want)
{
    struct port_thread *t = pt(th);

    (void)have;
    tp__count_ctl(th, 1);
    if (want == 0)
        return dissociate(t->port, fd);
    if (port_associate(t->port, PORT_SOURCE_FD, (uintptr_t)fd, tp__poll_want(want),
                       (void *)(uintptr_t)gen) != 0)
        return -errno;
    return 0;
}

/* Runs on any thread: event ports are MT-safe, and a dissociation also
 * drops an event of the fd that fired but was not retrieved yet. */
static void port_remove(struct tp__thread *th, int fd, unsigned have)
{
    (void)have;
    tp__count_ctl(th, 1);
    dissociate(pt(th)->port, fd);
}

static int port_poll(struct tp__thread *th, int timeout_ms)
{
    struct port_thread *t = pt(th);
    struct timespec ts, *tsp = NULL;
    uint_t n = 1;
    int err;

    if (timeout_ms >= 0) {
        ts.tv_sec = timeout_ms / 1000;
        ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
        tsp = &ts;
    }
    t->events[0].portev_source = NO_SOURCE;
    if (port_getn(t->port, t->events, (uint_t)t->nevents, &n, tsp) == 0)
        return (int)n;
    err = errno;
    /* ETIME and EINTR can come with retrieved events, whose associations
     * are used up: they must be reported, never dropped. A first slot
     * left unwritten means nget was not updated. */
    if ((err == ETIME || err == EINTR) && n > 0 &&
        t->events[0].portev_source != NO_SOURCE)
        return (int)n;
    if (err == ETIME)
        return 0;
    return -err;
}

static void port_dispatch(struct tp__thread *th, int n)
{
    struct port_thread *t = pt(th);
    int i;

    for (i = 0; i < n; i++) {
        const port_event_t *e = &t->events[i];

        if (e->portev_source == PORT_SOURCE_FD) {
            int fd = (int)e->portev_object;

            tp__oneshot_fired(th, fd);
            tp__event(th, fd, (uint32_t)(uintptr_t)e->portev_user,
                      tp__poll_events((unsigned)e->portev_events));
        } else if (e->portev_source == PORT_SOURCE_USER) {
            (void)tp__woken(th);
        }
    }
}

/* The core sends at most one wake per sleep, so the port's event limit
 * (process.max-port-events) is never in reach. */
static void port_wake(struct tp__thread *th)
{
    port_send(pt(th)->port, 0, NULL);
}

static int port_thread_init(struct tp__thread *th)
{
    int batch = tp__thread_batch(th);
    struct port_thread *t;
    int err;

    t = tp__calloc(1, sizeof(*t) + (size_t)batch * sizeof(t->events[0]));
    if (t == NULL)
        return -ENOMEM;
    t->nevents = batch;
    t->port = port_create();
    if (t->port < 0) {
        err = -errno;
        goto fail_port;
    }
    /* port_create() has no flags: keep the port out of exec'd programs. */
    if (fcntl(t->port, F_SETFD, FD_CLOEXEC) != 0) {
        err = -errno;
        goto fail_cloexec;
    }
    tp_fdmark_take(&t->mark, t->port);
    *tp__backend_data(th) = t;
    return 0;

fail_cloexec:
    close(t->port);
fail_port:
    tp__free(t);
    return err;
}

/* Closing a port drops every association it holds. */
static void port_thread_term(struct tp__thread *th)
{
    struct port_thread *t = pt(th);

    close(t->port);
    tp__free(t);
    *tp__backend_data(th) = NULL;
}

/*
 * A forked child shares the parent's ports (port_create(3C)), but closing
 * its copy removes only the associations the child itself made
 * (port_close_sourcefd() matches the closing pid): the parent's port and
 * associations stay intact. The child may have reused the number for a
 * file of its own, though: close it only while it is still the port.
 */
static void port_thread_forget(struct tp__thread *th)
{
    struct port_thread *t = pt(th);

    tp_fdmark_close_if_owned(&t->mark);
    tp__free(t);
    *tp__backend_data(th) = NULL;
}

const struct tpoll_backend tp__backend_port = {
    .name = "port",
    .caps = 0,
    .thread_init = port_thread_init,
    .thread_term = port_thread_term,
    .thread_forget = port_thread_forget,
    .set = port_set,
    .remove = port_remove,
    .poll = port_poll,
    .dispatch = port_dispatch,
    .wake = port_wake,
};
