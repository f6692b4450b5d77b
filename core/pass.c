/* SPDX-License-Identifier: MIT */
/*
 * The update pass. It clears an fd's update bit before reading the fd's
 * state, so a change racing with the pass is either seen by it or queues
 * the fd again.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "event.h"
#include "hooks.h"
#include "pass.h"
#include "queue.h"

/* Past TP_LATE_CAP in one pass the fd is queued again instead: nothing
 * of it changed, so the next pass finds it again and reports it then (the
 * wait does not block while events wait to be reported). No event is
 * lost, however many fds have one at once. */
static void record_late(struct tp__thread *th, int fd, uint32_t gen,
                        unsigned ev)
{
    if (th->nlate < TP_LATE_CAP) {
        th->late[th->nlate].fd = fd;
        th->late[th->nlate].gen = gen;
        th->late[th->nlate].ev = ev;
        th->nlate++;
        return;
    }
    tp__mark_self(th, fd);
}

void tp__record_error(struct tp__thread *th, int fd, uint32_t gen)
{
    record_late(th, fd, gen, TP_EV_ERR);
}

static unsigned excl_flag(const struct tp__thread *th, AO_t st, unsigned want)
{
    return want && (st & TP_ST_EXCL) &&
                   (th->head.tp->be->caps & TP_CAP_EXCLUSIVE)
               ? TP_EV_EXCL
               : 0;
}

/* fd is held (tp__event_held) while it is a one-thread fd of this thread
 * that another thread still runs; once not, it is forgotten as held. The
 * threads found inside are asked to re-mark the fd when they leave: not
 * only those the hold asked, since one that entered since (a thread that
 * left the mask, dropping an event its poller still had) would otherwise
 * leave the fd unwatched for good. */
static TP_NOINLINE int still_held(struct tp__thread *th, int fd,
                                  struct tp__fd *e)
{
    int i;

    for (i = 0; i < th->nheld; i++) {
        if (th->held[i] != fd)
            continue;
        if (tp_load(&e->thread_mask) == th->bit && tp__others_inside(th, e))
            return 1;
        th->held[i] = th->held[--th->nheld];
        return 0;
    }
    return 0;
}

/*
 * The first registration of an fd's generation, by any of its threads,
 * checks the fd's kind: insert makes no system call. A closed fd, a
 * regular file or a directory is refused on every backend alike, as epoll
 * refuses them (poll, select, kqueue and ports would report files always
 * ready), with TPOLL_ERR through the error queue, as any registration the
 * kernel refuses; a later want checks again. The fstat is paid once per
 * fd, not per re-registration: the result stays in the state word.
 */
static TP_NOINLINE int check_kind(struct tp__thread *th, int fd,
                                  struct tp__fd *e)
{
    const struct tpoll_backend *be = th->head.tp->be;
    struct stat sb;
    int err = 0;

    if (fstat(fd, &sb) != 0)
        err = -EBADF;
    else if (S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode))
        err = -EPERM;
    else if (be->kind_check != NULL)
        err = be->kind_check((unsigned)sb.st_mode);
    if (err == 0)
        tp_or(&e->state, TP_ST_CHECKED);
    return err;
}

/*
 * An edge-triggered fd's remembered readiness of directions now wanted:
 * taken from the state word (one thread of the mask takes it) and told to
 * the callback by this wait, as the kernel will not tell it again.
 */
static TP_NOINLINE void take_ready(struct tp__thread *th, int fd,
                                   struct tp__fd *e, AO_t st)
{
    unsigned ready;

    while ((ready = tp__ready_wanted(st)) != 0) {
        AO_t seen;

        if (th->nlate == TP_LATE_CAP) {
            tp__mark_self(th, fd);
            return;
        }
        seen = tp_cas(&e->state, st, st & ~((AO_t)ready << TP_ST_RDY_SHIFT));
        if (seen == st) {
            record_late(th, fd, TP_EDGE_GEN(st), ready | TP_EV_TAKEN);
            return;
        }
        st = seen;
    }
}

/*
 * The read side's close without its data (TP_ST_CLOSE without TP_EV_RECV)
 * is watched by a recv-side registration of its own kind: counted in
 * polled_recv like any (so that delete, migration, thread stop and fork
 * remove it as one), and told apart by the thread's close-only bitmap,
 * one bit per fd (read by tp__have_for, queue.h). Only this thread reads
 * or writes it; it is written in its update pass with the fd locked, and
 * made at the thread's first close-only registration. A bit is read only
 * while the thread's polled_recv bit is set, and written at every
 * registration change once the bitmap exists, so one left behind by a
 * registration removed elsewhere never counts.
 */

static void note_closeonly(struct tp__thread *th, int fd, unsigned want)
{
    unsigned long *w = &th->closeonly[(unsigned)fd / TP_WORD_BITS];
    unsigned long b = 1ul << ((unsigned)fd % TP_WORD_BITS);

    *w = want & TP_EV_CLOSEONLY ? *w | b : *w & ~b;
}

/* What to watch for wanted close: the read side's registration, whole
 * when its data is wanted too, else of the close-only kind, for which the
 * bitmap must exist (-ENOMEM: refused as a registration the kernel
 * refuses). */
static TP_NOINLINE int close_want(struct tp__thread *th, unsigned *want)
{
    *want &= ~TP_ST_CLOSE;
    if (*want & TP_EV_RECV)
        return 0;
    *want |= TP_EV_RECV | TP_EV_CLOSEONLY;
    if (th->closeonly == NULL)
        th->closeonly = tp__calloc(
            ((size_t)th->head.max_fds + TP_WORD_BITS - 1) / TP_WORD_BITS,
            sizeof(unsigned long));
    return th->closeonly != NULL ? 0 : -ENOMEM;
}

/* Decide from (thread in mask, interest, registered) and act; runs with
 * fd locked. Returns 1 when the backend was asked to change something. An
 * edge-triggered fd is registered for both directions whatever the
 * interest (its events tell the core readiness it must remember). */
static int update_fd(struct tp__thread *th, int fd)
{
    struct tp__fd *e = &th->head.fds[fd];
    AO_t st = tp_load(&e->state);
    unsigned want = tp__wanted(e, st, th->bit);
    unsigned have = tp__have_for(th, e, fd);
    unsigned edge = 0;
    int err = 0;

    if (TP_UNLIKELY(th->nheld) && want && still_held(th, fd, e))
        want = 0;
    if (TP_UNLIKELY(want & (TP_EV_EDGE | TP_ST_CLOSE))) {
        if (want & TP_EV_EDGE) {
            take_ready(th, fd, e, st);
            want = TP_EV_BOTH;
            edge = TP_EV_EDGE;
        } else {
            err = close_want(th, &want);
        }
    }
    if (want == have)
        return 0;
    if (TP_UNLIKELY(!(st & TP_ST_CHECKED)) && (want & ~have) && !err &&
        check_kind(th, fd, e) != 0) {
        tp__record_error(th, fd, TP_GEN(st));
        return 1;
    }
    /* Scan backends read the polled bits themselves: flag them changed. */
    if (th->head.tp->be->caps & TP_CAP_SCAN) {
        tp__fd_set_polled(e, th->bit, have, want);
        tp_store_relaxed(&th->scan_dirty, 1);
        return 1;
    }
    if (!err)
        err = th->head.tp->be->set(th, fd, edge ? TP_EDGE_GEN(st) : TP_GEN(st),
                                   have, want | edge | excl_flag(th, st, want));
    if (err) {
        /* Nothing registered that we cannot account for: drop what the
         * backend refused and tell the fd's callback. */
        tp__fd_set_polled(e, th->bit, have, want & have);
        if (want & ~have)
            tp__record_error(th, fd, TP_GEN(st));
        return 1;
    }
    if (TP_UNLIKELY(th->closeonly != NULL))
        note_closeonly(th, fd, want);
    tp__fd_set_polled(e, th->bit, have, want);
    return 1;
}

static void unlock_range(struct tp__thread *th, int from, int to)
{
    int i;

    for (i = from; i < to; i++)
        tp__fd_unlock(&th->head.fds[th->local[i]]);
}

static void flush(struct tp__thread *th)
{
    if (th->head.tp->be->flush != NULL)
        th->head.tp->be->flush(th);
}

/*
 * A batching backend's changes reach the kernel only at the flush, so the
 * fds of a batch stay locked until then: a delete of one of them waits and
 * then finds the registration in place to remove. A lock held elsewhere is
 * only ever waited for with no lock held (flush and release first), so two
 * passes, or a pass and a delete, cannot deadlock.
 */
static void process_queue(struct tp__thread *th)
{
    int batch = (th->head.tp->be->caps & TP_CAP_BATCH) != 0;
    int i, n = th->nlocal, held_from = 0, changed = 0;
    /* How an fd is found settled without its lock (tp__drop_settled):
     * never in a batch, which keeps the fds it queued locked until the
     * flush; by its polled bits alone on a thread without close-only
     * registrations (the bitmap is made in a pass, for an fd the pass has
     * reached). */
    int skip = batch ? 0 : th->closeonly == NULL ? 1 : 2;
    int visit;
    AO_t st;

    th->in_pass = 1;
    /* The bits of the fds left to visit are cleared already. */
    visit = skip ? tp__drop_settled(th, n, skip == 2) : n;
    for (i = 0; i < visit; i++) {
        struct tp__fd *e = &th->head.fds[th->local[i]];

        if (!skip)
            tp_and(&e->update_mask, ~th->bit);
        if (!tp__fd_trylock(e, &st)) {
            if (batch) {
                if (changed)
                    flush(th);
                unlock_range(th, held_from, i);
                changed = 0;
            }
            held_from = i;
            tp__fd_lock(e);
        }
        TP_HOOK(TP_HOOK_PASS_LOCKED, th->local[i]);
        changed |= update_fd(th, th->local[i]);
        if (!batch) {
            tp__fd_unlock(e);
            held_from = i + 1;
        }
    }
    if (batch) {
        if (changed)
            flush(th);
        unlock_range(th, held_from, i);
    }
    th->in_pass = 0;
    tp_count(&th->ctr.updates, (AO_t)n);
    /* A change the kernel refused to undo queued its fd again during the
     * pass (tp__remove_failed): it waits for the next one. */
    th->nlocal -= n;
    if (th->nlocal)
        memmove(th->local, th->local + n, (size_t)th->nlocal * sizeof(int));
}

/* After an overflow the queues are incomplete, but every fd that needs a
 * visit has its update_mask bit: collect them from the table, a queue
 * load at a time. Entries still queued are among them. */
static void apply_by_scan(struct tp__thread *th)
{
    struct tp__group *g = th->grp;
    int fd = 0, hwm = (int)tp_load(&g->hwm);

    th->overflow = 0;
    th->nlocal = 0;
    while (fd < hwm) {
        for (; fd < hwm && th->nlocal < th->qcap; fd++)
            if (tp_load_relaxed(&g->fds[fd].update_mask) & th->bit)
                th->local[th->nlocal++] = fd;
        process_queue(th);
    }
}

void tp__apply_updates(struct tp__thread *th)
{
    tp__drain_inbox(th);
    if (TP_UNLIKELY(th->overflow))
        apply_by_scan(th);
    else if (th->nlocal != 0)
        process_queue(th);
}

/*
 * Registration failures become an error event on the fd's callback, once,
 * and are not retried until the interest changes again; remembered
 * readiness becomes the event the kernel gave when it was not wanted. An
 * event carries the generation it happened in: one of an fd deleted since
 * is dropped, never delivered to the next user of the number.
 */
void tp__dispatch_late(struct tp__thread *th)
{
    int i, n = th->nlate;

    th->nlate = 0;
    for (i = 0; i < n; i++) {
        struct tp__late ev = th->late[i];

        /* Held back while the callback runs on the thread the fd just
         * left: nothing would report the event again, so it stays, and
         * is tried again when that thread's leaving re-marks the fd
         * (the wait may block meanwhile). Kept entries go where already
         * delivered ones were. */
        if (tp__event(th, ev.fd, ev.gen, ev.ev))
            th->late[th->nlate++] = ev;
    }
    th->late_held = th->nlate;
}
