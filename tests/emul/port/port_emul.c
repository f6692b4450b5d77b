/* SPDX-License-Identifier: MIT */
/*
 * Test-only emulation of illumos event ports on top of epoll. The port fd
 * is an epoll set; each PORT_SOURCE_FD association is an EPOLLONESHOT
 * registration. The port queue of the man pages (events fired and not yet
 * retrieved) is an explicit FIFO here: events leave epoll into the queue,
 * and port_getn() hands them out from the queue. User events go straight
 * into the queue; an edge-triggered eventfd in the set wakes waiters.
 *
 * What follows the kernel (usr/src/uts/common/fs/portfs) rather than the
 * man pages is said where it is done; docs/port.md lists the differences.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <fcntl.h>

#include "../emul_clock.h"
#include "port.h"

/* Everything below closes fds for real. */
#undef close

/* Highest port fd number the registry can hold. */
#define PE_MAX_PORT_FD 65536
/* process.max-port-events default: the queue never holds more. */
#define PE_MAX_EVENTS 65536
#define PE_WAKE_COOKIE UINT64_MAX
#define PE_BATCH 64

enum pe_state {
    PE_IDLE,      /* no association */
    PE_ARMED,     /* associated, no event fired yet */
    PE_FIRED,     /* its event sits in the port queue */
    PE_RETRIEVED, /* event retrieved: the association is used up */
};

struct pe_assoc {
    enum pe_state state;
    int events;
    uint32_t arm; /* number of the (re)association, in the epoll cookie */
    void *user;
    dev_t dev; /* the file the fd named at association time */
    ino_t ino;
    pid_t owner;
};

struct pe_port {
    pthread_mutex_t lock;
    int epfd;
    int evfd;
    struct pe_assoc *fds;
    int nfds;
    port_event_t *q;
    unsigned qlen, qcap;
    uint32_t next_arm;
    int waiters;
    int alert;
    port_event_t alert_ev;
};

static _Atomic(struct pe_port *) registry[PE_MAX_PORT_FD];

static int fail(int err)
{
    errno = err;
    return -1;
}

static struct pe_port *lookup(int port, int *err)
{
    struct pe_port *p = NULL;

    if (port >= 0 && port < PE_MAX_PORT_FD)
        p = atomic_load(&registry[port]);
    if (p == NULL)
        *err = fcntl(port, F_GETFD) < 0 ? EBADF : EBADFD;
    return p;
}

/* ---- the port queue ---- */

static int queue_push(struct pe_port *p, const port_event_t *ev)
{
    if (p->qlen == p->qcap) {
        unsigned cap = p->qcap ? 2 * p->qcap : 64;
        port_event_t *q = realloc(p->q, cap * sizeof(*q));

        if (q == NULL)
            return ENOMEM;
        p->q = q;
        p->qcap = cap;
    }
    p->q[p->qlen++] = *ev;
    return 0;
}

/* "Remove any events that were already fired for this fd and are still
 * in the port queue" (port_associate_fd() in the kernel). */
static void queue_drop_fd(struct pe_port *p, int fd)
{
    unsigned i, j = 0;

    for (i = 0; i < p->qlen; i++)
        if (p->q[i].portev_source != PORT_SOURCE_FD ||
            p->q[i].portev_object != (uintptr_t)fd)
            p->q[j++] = p->q[i];
    p->qlen = j;
}

static unsigned queue_take(struct pe_port *p, port_event_t *out, unsigned max)
{
    unsigned i, n = p->qlen < max ? p->qlen : max;

    if (n == 0)
        return 0;
    for (i = 0; i < n; i++) {
        out[i] = p->q[i];
        if (out[i].portev_source == PORT_SOURCE_FD)
            p->fds[out[i].portev_object].state = PE_RETRIEVED;
    }
    memmove(p->q, p->q + n, (p->qlen - n) * sizeof(*p->q));
    p->qlen -= n;
    return n;
}

static void wake_waiters(struct pe_port *p)
{
    uint64_t one = 1;

    if (write(p->evfd, &one, sizeof(one)) < 0) {
        /* The counter cannot overflow in a test's lifetime. */
    }
}

/* ---- associations ---- */

static int grow_table(struct pe_port *p, int fd)
{
    int n = p->nfds ? p->nfds : 64;
    struct pe_assoc *t;

    while (n <= fd)
        n *= 2;
    if (n == p->nfds)
        return 0;
    t = realloc(p->fds, (size_t)n * sizeof(*t));
    if (t == NULL)
        return ENOMEM;
    memset(t + p->nfds, 0, (size_t)(n - p->nfds) * sizeof(*t));
    p->fds = t;
    p->nfds = n;
    return 0;
}

static int same_file(const struct pe_assoc *a, int fd)
{
    struct stat sb;

    return fstat(fd, &sb) == 0 && sb.st_dev == a->dev && sb.st_ino == a->ino;
}

/* A closed fd loses its associations (closeandsetf() -> port_close_fd() in
 * the kernel). The emulation cannot see close(), so it notices it when the
 * number no longer names the associated file, and forgets the association
 * then, as if it had been dropped at close. */
static struct pe_assoc *live_assoc(struct pe_port *p, int fd)
{
    struct pe_assoc *a;

    if (fd < 0 || fd >= p->nfds || p->fds[fd].state == PE_IDLE)
        return NULL;
    a = &p->fds[fd];
    if (!same_file(a, fd)) {
        if (a->state == PE_FIRED)
            queue_drop_fd(p, fd);
        a->state = PE_IDLE;
        return NULL;
    }
    return a;
}

/* illumos has POLLRDHUP (a socket's read side shut); Solaris does not. */
static uint32_t to_epoll(int events)
{
    return (uint32_t)(events & (POLLIN | POLLPRI | POLLOUT | POLLRDNORM |
                                POLLRDBAND | POLLWRNORM | POLLWRBAND |
                                POLLRDHUP));
}

/* Regular files cannot be in an epoll set; for poll(2) they are always
 * readable and writable, so their association fires at once. */
static int fire_always_ready(struct pe_port *p, int fd, struct pe_assoc *a)
{
    port_event_t ev = {.portev_source = PORT_SOURCE_FD,
                       .portev_object = (uintptr_t)fd,
                       .portev_user = a->user};

    ev.portev_events = a->events & (POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM);
    if (ev.portev_events == 0) {
        a->state = PE_ARMED;
        return 0;
    }
    a->state = PE_FIRED;
    return queue_push(p, &ev);
}

static int arm(struct pe_port *p, int fd, struct pe_assoc *a, int fresh)
{
    struct epoll_event ev = {.events = to_epoll(a->events) | EPOLLONESHOT,
                             .data.u64 = (uint64_t)a->arm << 32 | (uint32_t)fd};
    int r = epoll_ctl(p->epfd, fresh ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);

    /* Both fall-backs cover a registration that epoll kept or dropped
     * behind our back when the file under the number changed. */
    if (r != 0 && errno == EEXIST)
        r = epoll_ctl(p->epfd, EPOLL_CTL_MOD, fd, &ev);
    else if (r != 0 && errno == ENOENT)
        r = epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev);
    if (r != 0 && errno == EPERM)
        return fire_always_ready(p, fd, a);
    if (r != 0)
        return errno;
    a->state = PE_ARMED;
    return 0;
}

int port_associate(int port, int source, uintptr_t object, int events,
                   void *user)
{
    struct pe_port *p;
    struct pe_assoc *a;
    struct stat sb;
    int err, fd, fresh;

    p = lookup(port, &err);
    if (p == NULL)
        return fail(err);
    if (source != PORT_SOURCE_FD)
        return fail(EINVAL);
    if (object > (uintptr_t)INT_MAX)
        return fail(EBADFD);
    fd = (int)object;
    if (fstat(fd, &sb) != 0)
        return fail(EBADFD);
    pthread_mutex_lock(&p->lock);
    err = grow_table(p, fd);
    if (err)
        goto out;
    a = live_assoc(p, fd);
    fresh = a == NULL;
    a = &p->fds[fd];
    if (a->state == PE_FIRED)
        queue_drop_fd(p, fd);
    if (fresh) {
        a->dev = sb.st_dev;
        a->ino = sb.st_ino;
        a->owner = getpid();
    }
    a->events = events;
    a->user = user;
    a->arm = ++p->next_arm;
    err = arm(p, fd, a, fresh);
    if (err)
        a->state = PE_IDLE;
out:
    pthread_mutex_unlock(&p->lock);
    return err ? fail(err) : 0;
}

int port_dissociate(int port, int source, uintptr_t object)
{
    struct pe_port *p;
    struct pe_assoc *a;
    int err = 0, fd, active;

    p = lookup(port, &err);
    if (p == NULL)
        return fail(err);
    if (source != PORT_SOURCE_FD)
        return fail(EINVAL);
    if (object > (uintptr_t)INT_MAX)
        return fail(EBADFD);
    fd = (int)object;
    if (fcntl(fd, F_GETFD) < 0)
        return fail(EBADFD);
    pthread_mutex_lock(&p->lock);
    a = live_assoc(p, fd);
    if (a == NULL) {
        err = ENOENT;
    } else if (a->owner != getpid()) {
        err = EACCES;
    } else {
        active = a->state == PE_ARMED || a->state == PE_FIRED;
        if (a->state == PE_FIRED)
            queue_drop_fd(p, fd);
        epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);
        a->state = PE_IDLE;
        err = active ? 0 : ENOENT;
    }
    pthread_mutex_unlock(&p->lock);
    return err ? fail(err) : 0;
}

/* ---- retrieving ---- */

/* An epoll event becomes a port event only if its association is still
 * the one that was armed: a dissociation or re-association since then
 * (possibly from another thread while this one waited) voids it. */
static void take_epoll_event(struct pe_port *p, const struct epoll_event *e)
{
    int fd = (int)(uint32_t)e->data.u64;
    uint32_t armno = (uint32_t)(e->data.u64 >> 32);
    struct pe_assoc *a;
    port_event_t ev;

    if (e->data.u64 == PE_WAKE_COOKIE) {
        uint64_t n;

        if (read(p->evfd, &n, sizeof(n)) < 0) {
            /* Already drained by another waiter. */
        }
        return;
    }
    a = live_assoc(p, fd);
    if (a == NULL || a->state != PE_ARMED || a->arm != armno)
        return;
    ev.portev_source = PORT_SOURCE_FD;
    ev.portev_pad = 0;
    ev.portev_object = (uintptr_t)fd;
    ev.portev_user = a->user;
    /* port_associate_fd(): revents & (events | POLLHUP | POLLERR). */
    ev.portev_events = (int)e->events & (a->events | POLLHUP | POLLERR);
    if (queue_push(p, &ev) == 0)
        a->state = PE_FIRED;
}

static void harvest(struct pe_port *p, const struct epoll_event *evs, int n)
{
    int i;

    for (i = 0; i < n; i++)
        take_epoll_event(p, &evs[i]);
}

/* Moves every event epoll has ready into the queue, without blocking. */
static void harvest_now(struct pe_port *p)
{
    struct epoll_event evs[PE_BATCH];
    int n;

    do {
        n = epoll_wait(p->epfd, evs, PE_BATCH, 0);
        if (n > 0)
            harvest(p, evs, n);
    } while (n == PE_BATCH);
}

/* port_get_timeout(): NULL blocks, a zeroed timespec polls, anything else
 * out of range is EINVAL. Returns -1 to block, 0 to poll, 1 for a deadline. */
static int parse_timeout(const timespec_t *t, int64_t *deadline)
{
    int64_t sec;

    if (t == NULL)
        return -1;
    if (t->tv_sec == 0 && t->tv_nsec == 0)
        return 0;
    if (t->tv_sec < 0 || t->tv_nsec < 0 || t->tv_nsec >= 1000000000)
        return -EINVAL;
    /* Through a variable: with a 32-bit time_t the check cannot fire, and
     * a direct comparison would be a -Wtype-limits error. */
    sec = t->tv_sec;
    if (sec > INT64_MAX / 1000000000 - 1)
        return -1;
    *deadline = tp_emul_now_ns() + sec * 1000000000 + t->tv_nsec;
    return 1;
}

/* Waits, with the lock dropped, for more epoll events. */
static int wait_more(struct pe_port *p, int ms)
{
    struct epoll_event evs[PE_BATCH];
    int n, err;

    pthread_mutex_unlock(&p->lock);
    n = epoll_wait(p->epfd, evs, PE_BATCH, ms);
    err = errno;
    pthread_mutex_lock(&p->lock);
    if (n < 0)
        return err;
    harvest(p, evs, n);
    return 0;
}

static int getn_locked(struct pe_port *p, port_event_t *list, uint_t max,
                       uint_t *nget, int mode, int64_t deadline)
{
    uint_t want = *nget;
    int err = 0;

    for (;;) {
        if (p->alert) {
            list[0] = p->alert_ev;
            *nget = 1;
            return 0;
        }
        if (p->qlen >= want)
            break;
        if (mode == 0) {
            harvest_now(p);
            break;
        }
        if (mode > 0 && tp_emul_ms_left(deadline) == 0) {
            harvest_now(p);
            err = p->qlen >= want ? 0 : ETIME;
            break;
        }
        err = wait_more(p, mode > 0 ? tp_emul_ms_left(deadline) : -1);
        if (err == EINTR) {
            /* The kernel returns EINTR without events; fired ones stay
             * queued for the next call. */
            *nget = 0;
            return EINTR;
        }
        if (err)
            return err;
    }
    /* Everything fired is in the kernel's port queue: what epoll has
     * ready joins the emulation's before a batch is taken, so that a
     * saturated port gives full batches. ETIME still hands out what is
     * there, with nget updated. */
    if (p->qlen < max)
        harvest_now(p);
    *nget = queue_take(p, list, max);
    return err;
}

int port_getn(int port, port_event_t list[], uint_t max, uint_t *nget,
              const timespec_t *timeout)
{
    struct pe_port *p;
    int64_t deadline = 0;
    int err, mode;

    p = lookup(port, &err);
    if (p == NULL)
        return fail(err);
    if (nget == NULL || (*nget > max && max > 0))
        return fail(EINVAL);
    if (max == 0) {
        pthread_mutex_lock(&p->lock);
        harvest_now(p);
        *nget = p->qlen;
        pthread_mutex_unlock(&p->lock);
        return 0;
    }
    if (list == NULL)
        return fail(EINVAL);
    if (*nget == 0)
        return 0;
    mode = parse_timeout(timeout, &deadline);
    if (mode == -EINVAL)
        return fail(EINVAL);
    pthread_mutex_lock(&p->lock);
    p->waiters++;
    err = getn_locked(p, list, max, nget, mode, deadline);
    p->waiters--;
    /* An edge wakes one waiter: pass it on while work is left. */
    if (p->waiters > 0 && (p->qlen > 0 || p->alert))
        wake_waiters(p);
    pthread_mutex_unlock(&p->lock);
    return err ? fail(err) : 0;
}

int port_get(int port, port_event_t *pe, const timespec_t *timeout)
{
    uint_t n = 1;

    if (port_getn(port, pe, 1, &n, timeout) != 0)
        return -1;
    return n == 1 ? 0 : fail(ETIME);
}

/* ---- user events and alert mode ---- */

int port_send(int port, int events, void *user)
{
    port_event_t ev = {.portev_events = events,
                       .portev_source = PORT_SOURCE_USER,
                       .portev_user = user};
    struct pe_port *p;
    int err;

    p = lookup(port, &err);
    if (p == NULL)
        return fail(err);
    pthread_mutex_lock(&p->lock);
    err = p->qlen >= PE_MAX_EVENTS ? EAGAIN : queue_push(p, &ev);
    if (err == 0)
        wake_waiters(p);
    pthread_mutex_unlock(&p->lock);
    return err ? fail(err) : 0;
}

int port_alert(int port, int flags, int events, void *user)
{
    struct pe_port *p;
    int err = 0;

    p = lookup(port, &err);
    if (p == NULL)
        return fail(err);
    if ((flags & (PORT_ALERT_SET | PORT_ALERT_UPDATE)) ==
        (PORT_ALERT_SET | PORT_ALERT_UPDATE))
        return fail(EINVAL);
    pthread_mutex_lock(&p->lock);
    if (events == 0) {
        p->alert = 0;
    } else if (flags == PORT_ALERT_UPDATE && p->alert) {
        err = EBUSY;
    } else {
        p->alert = 1;
        p->alert_ev = (port_event_t){.portev_events = events,
                                     .portev_source = PORT_SOURCE_ALERT,
                                     .portev_user = user};
        wake_waiters(p);
    }
    pthread_mutex_unlock(&p->lock);
    return err ? fail(err) : 0;
}

/* ---- the port itself ---- */

static void free_port(struct pe_port *p)
{
    free(p->fds);
    free(p->q);
    free(p);
}

/* A port fd, like any fd, is not close-on-exec unless asked for. */
int port_create(void)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET,
                             .data.u64 = PE_WAKE_COOKIE};
    struct pe_port *p, *stale;
    int err;

    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return fail(ENOMEM);
    p->epfd = epoll_create1(0);
    if (p->epfd < 0) {
        err = errno;
        goto fail_epoll;
    }
    if (p->epfd >= PE_MAX_PORT_FD) {
        err = EMFILE;
        goto fail_evfd;
    }
    p->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->evfd < 0) {
        err = errno;
        goto fail_evfd;
    }
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->evfd, &ev) != 0) {
        err = errno;
        goto fail_register;
    }
    pthread_mutex_init(&p->lock, NULL);
    /* A record left by a port closed without this header is stale: its
     * number was free, since epoll_create1() just returned it. */
    stale = atomic_exchange(&registry[p->epfd], p);
    if (stale != NULL)
        free_port(stale);
    return p->epfd;

fail_register:
    close(p->evfd);
fail_evfd:
    close(p->epfd);
fail_epoll:
    free(p);
    return fail(err);
}

/* Takes no lock: in a forked child, a lock held by a thread that did not
 * survive the fork must not block the close. Closing the child's copy
 * leaves the parent's port as it is, as on illumos. */
int tp__emul_port_close(int fd)
{
    struct pe_port *p = NULL;

    if (fd >= 0 && fd < PE_MAX_PORT_FD)
        p = atomic_exchange(&registry[fd], NULL);
    if (p != NULL) {
        close(p->evfd);
        free_port(p);
    }
    return close(fd);
}
