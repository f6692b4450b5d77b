/* SPDX-License-Identifier: MIT */
/* poll(2): the portable fallback. There is no registration to keep in
 * sync: the poll set is built from the fd table's polled bits, and rebuilt
 * only when they changed. */
#include <errno.h>
#include <poll.h>

#include "../core/backend.h"
#include "../platform/wakefd.h"

struct poll_thread {
    struct tp_wakefd wake;
    int n;
    uint32_t *gens;       /* generation of each entry when it was built */
    struct pollfd pfd[]; /* [0] is the wake fd */
};

static struct poll_thread *pt(struct tp__thread *th)
{
    return *tp__backend_data(th);
}

static void add_entry(void *arg, int fd, uint32_t gen, unsigned want)
{
    struct poll_thread *t = arg;

    t->pfd[t->n].fd = fd;
    t->pfd[t->n].events = tp__poll_want(want);
    t->pfd[t->n].revents = 0;
    t->gens[t->n] = gen;
    t->n++;
}

static int poll_poll(struct tp__thread *th, int timeout_ms)
{
    struct poll_thread *t = pt(th);
    int r;

    /* Rebuilt only when the set changed: an unchanged set costs nothing
     * beyond poll() itself. Entries keep the generation they were built
     * with, so an event racing a delete is dropped as stale. */
    if (tp__scan_dirty(th)) {
        t->n = 1;
        tp__scan_polled(th, add_entry, t);
    }
    r = poll(t->pfd, (nfds_t)t->n, timeout_ms);
    return r < 0 ? -errno : r;
}

static void poll_dispatch(struct tp__thread *th, int n)
{
    struct poll_thread *t = pt(th);
    /* Locals: the set only changes in poll_poll, never in a callback, and
     * the compiler could not know it across the calls. */
    const struct pollfd *p = &t->pfd[1], *end = &t->pfd[t->n];

    if (t->pfd[0].revents) {
        if (tp__woken(th))
            tp_wakefd_drain(&t->wake);
        n--;
    }
    /* n entries have revents: skip the quiet ones in a tight loop that
     * the sentinel after the last entry stops. */
    t->pfd[t->n].revents = POLLNVAL;
    for (; n > 0; p++, n--) {
        while (p->revents == 0)
            p++;
        if (p == end)
            break;
        tp__event(th, p->fd, t->gens[p - t->pfd], tp__poll_events((unsigned short)p->revents));
    }
}

static void poll_wake(struct tp__thread *th)
{
    tp_wakefd_signal(&pt(th)->wake);
}

static int poll_thread_init(struct tp__thread *th)
{
    /* The wake fd, every fd, and the dispatch loop's sentinel. */
    size_t cap = (size_t)tp__thread_max_fds(th) + 2;
    struct poll_thread *t;
    int err;

    t = tp__calloc(1, sizeof(*t) + cap * sizeof(t->pfd[0]));
    if (t == NULL)
        return -ENOMEM;
    t->gens = tp__calloc(cap, sizeof(t->gens[0]));
    if (t->gens == NULL) {
        err = -ENOMEM;
        goto fail_gens;
    }
    err = tp_wakefd_open(&t->wake);
    if (err)
        goto fail_wake;
    t->pfd[0].fd = t->wake.rfd;
    t->pfd[0].events = POLLIN;
    *tp__backend_data(th) = t;
    return 0;

fail_wake:
    tp__free(t->gens);
fail_gens:
    tp__free(t);
    return err;
}

static void free_thread(struct tp__thread *th, struct poll_thread *t)
{
    tp__free(t->gens);
    tp__free(t);
    *tp__backend_data(th) = NULL;
}

static void poll_thread_term(struct tp__thread *th)
{
    tp_wakefd_close(&pt(th)->wake);
    free_thread(th, pt(th));
}

/* In a forked child: the wake fd's number may be the child's own file. */
static void poll_thread_forget(struct tp__thread *th)
{
    tp_wakefd_forget(&pt(th)->wake);
    free_thread(th, pt(th));
}

const struct tpoll_backend tp__backend_poll = {
    .name = "poll",
    .caps = TP_CAP_SCAN,
    .thread_init = poll_thread_init,
    .thread_term = poll_thread_term,
    .thread_forget = poll_thread_forget,
    .poll = poll_poll,
    .dispatch = poll_dispatch,
    .wake = poll_wake,
};
