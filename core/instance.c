/* SPDX-License-Identifier: MIT */
/* Instance lifecycle, option validation and read-only queries. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "binding.h"
#include "registry.h"
#include "svc.h"

#define TP_DEFAULT_BATCH 256
#define TP_MAX_BATCH 65536

_Static_assert(TP_CACHE_LINE % sizeof(struct tp__fd) == 0,
               "fd entries must tile cache lines (the table is line-aligned)");

void tpoll_options_init(struct tpoll_options *opts)
{
    if (opts != NULL)
        memset(opts, 0, sizeof(*opts));
}

static int resolve_max_fds(int asked, int *out)
{
    struct rlimit rl;

    if (asked < 0)
        return -EINVAL;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -errno;
    /* The hard limit, not the soft one: a server that raises its soft
     * limit after creating the instance must still be able to insert
     * every fd it can open. Untouched pages of the calloc'ed table stay
     * unmapped, so the larger table costs address space, not memory. */
    if (asked == 0) {
        rlim_t n = rl.rlim_max;

        if (n == RLIM_INFINITY || n > TPOLL_DEFAULT_MAX_FDS_CAP)
            n = TPOLL_DEFAULT_MAX_FDS_CAP;
        *out = (int)n;
        return 0;
    }
    /* An fd number at or above the hard limit can never exist. */
    if (rl.rlim_max != RLIM_INFINITY && (rlim_t)asked > rl.rlim_max)
        return -EINVAL;
    *out = asked;
    return 0;
}

static int resolve_options(const struct tpoll_options *o, struct tpoll *tp)
{
    const char *name = o->backend;
    int err;

    if (o->threads < 0 || o->threads > TPOLL_MAX_THREAD_IDS)
        return -EINVAL;
    if (o->batch < 0 || o->batch > TP_MAX_BATCH)
        return -EINVAL;
    err = resolve_max_fds(o->max_fds, &tp->max_fds);
    if (err)
        return err;
    tp->nthreads = o->threads ? o->threads : 1;
    tp->ngroups = (tp->nthreads + TPOLL_MAX_THREADS - 1) / TPOLL_MAX_THREADS;
    tp->batch = o->batch ? o->batch : TP_DEFAULT_BATCH;
    if (name == NULL)
        name = getenv("TPOLL_BACKEND");
    if (name == NULL || *name == '\0')
        name = tpoll_default_backend();
    tp->be = tp__backend_find(name, &err);
    if (tp->be == NULL)
        return err;
    return tp->be->probe != NULL ? tp->be->probe() : 0;
}

static void free_tables(struct tpoll *tp)
{
    int g;

    for (g = 0; g < tp->ngroups; g++)
        tp__free(tp->group[g].fds_mem);
    tp__free(tp->away);
}

/* Each group's table is max_fds entries of address space: calloc leaves
 * what no fd touches unmapped, so a group costs memory only for the
 * numbers inserted in it. */
static int make_groups(struct tpoll *tp)
{
    int g;

    if (tp->ngroups > 1) {
        tp->away = tp__calloc((size_t)tp->max_fds, sizeof(*tp->away));
        if (tp->away == NULL)
            return -ENOMEM;
    }
    for (g = 0; g < tp->ngroups; g++) {
        struct tp__group *grp = &tp->group[g];
        int n = tp->nthreads - g * TPOLL_MAX_THREADS;

        grp->fds = tp__calloc_lines((size_t)tp->max_fds, sizeof(*grp->fds),
                                    &grp->fds_mem);
        if (grp->fds == NULL)
            return -ENOMEM;
        grp->threads = &tp->threads[(size_t)g * TPOLL_MAX_THREADS];
        grp->tp = tp;
        grp->all =
            n >= TPOLL_MAX_THREADS ? ~(tpoll_mask_t)0 : TPOLL_THREAD(n) - 1;
    }
    return 0;
}

int tpoll_create(struct tpoll **out, const struct tpoll_options *opts)
{
    struct tpoll_options defaults;
    struct tpoll conf = {0}, *tp;
    int err, i;

    if (out == NULL)
        return -EINVAL;
    if (opts == NULL) {
        tpoll_options_init(&defaults);
        opts = &defaults;
    }
    err = resolve_options(opts, &conf);
    if (err)
        return err;
    tp = tp__calloc(1,
                    sizeof(*tp) + (size_t)conf.ngroups * sizeof(tp->group[0]));
    if (tp == NULL)
        return -ENOMEM;
    memcpy(tp, &conf, sizeof(conf));
    err = -ENOMEM;
    tp->threads = tp__calloc_lines((size_t)tp->nthreads,
                                   sizeof(*tp->threads), &tp->threads_mem);
    if (tp->threads == NULL)
        goto fail_threads;
    err = make_groups(tp);
    if (err)
        goto fail_groups;
    for (i = 0; i < tp->nthreads; i++) {
        struct tp__thread *th = &tp->threads[i];

        th->grp = &tp->group[TPOLL_GROUP(i)];
        th->head.tp = tp;
        th->head.fds = th->grp->fds;
        th->head.batch = tp->batch;
        th->head.max_fds = tp->max_fds;
        th->tid = i;
        th->bit = TPOLL_THREAD(i);
        th->inbox_dead = 1;
    }
    err = tp__svc_create(tp);
    if (err)
        goto fail_groups;
    *out = tp;
    return 0;

fail_groups:
    free_tables(tp);
    tp__free(tp->threads_mem);
fail_threads:
    tp__free(tp);
    return err;
}

int tpoll_destroy(struct tpoll *tp)
{
    struct tp__thread *self;
    int i;

    if (tp == NULL)
        return 0;
    self = tp__self(tp);
    if (self != NULL && self->in_dispatch)
        return -EBUSY;
    for (i = 0; i < tp->nthreads; i++)
        if (&tp->threads[i] != self &&
            tp_load(&tp->threads[i].life) != TP_LIFE_FREE)
            return -EBUSY;
    if (self != NULL)
        tpoll_thread_stop(tp);
    tp__svc_destroy(tp);
    free_tables(tp);
    tp__free(tp->threads_mem);
    tp__free(tp);
    return 0;
}

const char *tpoll_backend_name(const struct tpoll *tp)
{
    return tp ? tp->be->name : NULL;
}

int tpoll_thread_counters(const struct tpoll *tp, int tid,
                          struct tpoll_counters *out)
{
    const struct tp__counters *c;

    if (tp == NULL || out == NULL || tid < 0 || tid >= tp->nthreads)
        return -EINVAL;
    c = &tp->threads[tid].ctr;
    out->loops = tp_counter_read(&c->loops);
    out->polls = tp_counter_read(&c->polls);
    out->callbacks = tp_counter_read(&c->callbacks);
    out->ctl_calls = tp_counter_read(&c->ctl_calls);
    out->updates = tp_counter_read(&c->updates);
    out->wakeups = tp_counter_read(&c->wakeups);
    out->idle_wakeups = tp_counter_read(&c->idle_wakeups);
    return 0;
}

unsigned tpoll_version(void)
{
    return TPOLL_VERSION_NUMBER;
}

const char *tpoll_version_string(void)
{
    return TPOLL_VERSION_STRING;
}

/* ---- for tests ---- */

int tp__thread_tid(const struct tp__thread *th)
{
    return th->tid;
}
