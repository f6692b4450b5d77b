/* SPDX-License-Identifier: MIT */
/*
 * kqueue(2) for the emulation: a kqueue descriptor is an epoll descriptor,
 * so close() releases it like the real one; its knotes are found through a
 * process-wide table indexed by descriptor number. The descriptor calls
 * the kernels handle for kqueues are intercepted here, for the programs
 * the emulation is linked into: close(), dup2() and dup3() drop the
 * knotes of the number they close at once, fork() leaves the child no
 * kqueue, and (FreeBSD) pipe() makes two-way pipes.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kq_emul.h"

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t pipes_mu = PTHREAD_MUTEX_INITIALIZER;
static struct kqe **registry; /* by descriptor; a record lives until the
                               * process ends, so a pointer taken under the
                               * lock stays valid */
static int registry_len;
static struct kqe *abandoned; /* a fork child's records of the parent's */
static int wake_fd = -1;

/* ---- the descriptor calls the emulation must see ---- */

/*
 * Under a sanitizer the program's descriptor calls go through its
 * interceptors, which keep descriptor state of their own (ThreadSanitizer
 * would otherwise see no descriptor closed, and report a reused number as
 * a race): the calls are passed on to them where they exist (the name
 * changed in newer runtimes), else straight to the kernel.
 */
extern int __interceptor_close(int fd) __attribute__((weak));
extern int ___interceptor_close(int fd) __attribute__((weak));
extern int __interceptor_dup3(int oldfd, int newfd, int flags)
    __attribute__((weak));
extern int ___interceptor_dup3(int oldfd, int newfd, int flags)
    __attribute__((weak));
extern int __interceptor_pipe2(int fds[2], int flags) __attribute__((weak));
extern int ___interceptor_pipe2(int fds[2], int flags) __attribute__((weak));

static int sys_close(int fd)
{
    if (__interceptor_close)
        return __interceptor_close(fd);
    if (___interceptor_close)
        return ___interceptor_close(fd);
    return (int)syscall(SYS_close, fd);
}

static int sys_dup3(int oldfd, int newfd, int flags)
{
    if (__interceptor_dup3)
        return __interceptor_dup3(oldfd, newfd, flags);
    if (___interceptor_dup3)
        return ___interceptor_dup3(oldfd, newfd, flags);
    return (int)syscall(SYS_dup3, oldfd, newfd, flags);
}

#if TP_EMUL_FREEBSD
static int sys_pipe2(int fds[2], int flags)
{
    if (__interceptor_pipe2)
        return __interceptor_pipe2(fds, flags);
    if (___interceptor_pipe2)
        return ___interceptor_pipe2(fds, flags);
    return (int)syscall(SYS_pipe2, fds, flags);
}
#endif

/* "Calling close() on a file descriptor will remove any kevents that
 * reference the descriptor" (knote_fdclose(), with the descriptor table
 * locked): before the number is released, while it still names the file,
 * so that its epoll registration can be removed by number. */
static void knotes_closing(int fd)
{
    pthread_mutex_lock(&registry_mu);
    for (int i = 0; i < registry_len; i++) {
        struct kqe *kq = registry[i];
        struct kqe_fd *kfd;

        if (kq == NULL || kq->pid != getpid())
            continue;
        pthread_mutex_lock(&kq->mu);
        if (i == fd) {
            /* The kqueue itself: its knotes go with it. */
            tp__kqe_reset(kq);
            kq->pid = 0;
        } else if ((kfd = tp__kqe_find_fd(kq, fd)) != NULL) {
            tp__kqe_purge(kq, kfd);
            tp__kqe_update_wake(kq);
        }
        pthread_mutex_unlock(&kq->mu);
    }
    pthread_mutex_unlock(&registry_mu);
}

static void pipe_closing(int fd);

int close(int fd)
{
    knotes_closing(fd);
    pipe_closing(fd);
    return sys_close(fd);
}

/* A number re-pointed by dup2() or dup3() is closed first ("If fildes2 is
 * already a valid open file descriptor, it shall be closed first"), even
 * when the new file is the same one. */
int dup3(int oldfd, int newfd, int flags)
{
    if (oldfd != newfd && fcntl(oldfd, F_GETFD) >= 0 &&
        fcntl(newfd, F_GETFD) >= 0) {
        knotes_closing(newfd);
        pipe_closing(newfd);
    }
    return sys_dup3(oldfd, newfd, flags);
}

int dup2(int oldfd, int newfd)
{
    if (oldfd == newfd)
        return fcntl(oldfd, F_GETFD) < 0 ? -1 : newfd;
    return dup3(oldfd, newfd, 0);
}

/* ---- pipes ---- */

#if TP_EMUL_FREEBSD
/*
 * FreeBSD: "The pipe() function creates a pipe, which is an object
 * allowing bidirectional data flow" (pipe(2)). A Linux pipe goes one way,
 * so in a process that runs the kqueue backend (TPOLL_BACKEND=kqueue, how
 * the suite selects it) a pipe is a connected pair of stream sockets: both
 * ends read and write, a write to an end whose peer is gone fails with
 * EPIPE, and the emulation remembers them as pipes for the filters. Other
 * processes, the other backends' runs of the same tests, keep Linux's
 * pipes.
 */
struct pipe_end {
    dev_t dev;
    ino_t ino;
};
/* By descriptor, under pipes_mu: taken with a kqueue's lock held, so
 * never under registry_mu, which is taken before kqueues' locks. */
static struct pipe_end *pipes;
static int pipes_len;

static int two_way_pipes(void)
{
    const char *b = getenv("TPOLL_BACKEND");

    return b != NULL && strcmp(b, "kqueue") == 0;
}

static void remember_pipe_end(int fd)
{
    struct stat sb;

    if (fstat(fd, &sb) != 0)
        return;
    pthread_mutex_lock(&pipes_mu);
    if (fd >= pipes_len) {
        int len = pipes_len ? pipes_len : 64;
        struct pipe_end *p;

        while (len <= fd)
            len *= 2;
        p = realloc(pipes, (size_t)len * sizeof(*p));
        if (p != NULL) {
            memset(p + pipes_len, 0, (size_t)(len - pipes_len) * sizeof(*p));
            pipes = p;
            pipes_len = len;
        }
    }
    if (fd < pipes_len)
        pipes[fd] = (struct pipe_end){sb.st_dev, sb.st_ino};
    pthread_mutex_unlock(&pipes_mu);
}

static void pipe_closing(int fd)
{
    pthread_mutex_lock(&pipes_mu);
    if (fd >= 0 && fd < pipes_len)
        pipes[fd] = (struct pipe_end){0, 0};
    pthread_mutex_unlock(&pipes_mu);
}

int tp__kqe_is_pipe(int fd, const struct stat *sb)
{
    int yes = S_ISFIFO(sb->st_mode);

    pthread_mutex_lock(&pipes_mu);
    if (!yes && fd >= 0 && fd < pipes_len)
        yes = pipes[fd].ino == sb->st_ino && pipes[fd].dev == sb->st_dev &&
              pipes[fd].ino != 0;
    pthread_mutex_unlock(&pipes_mu);
    return yes;
}

int pipe2(int fds[2], int flags)
{
    int type = SOCK_STREAM;

    if (!two_way_pipes())
        return sys_pipe2(fds, flags);
    if (flags & ~(O_CLOEXEC | O_NONBLOCK)) {
        errno = EINVAL;
        return -1;
    }
    type |= flags & O_CLOEXEC ? SOCK_CLOEXEC : 0;
    type |= flags & O_NONBLOCK ? SOCK_NONBLOCK : 0;
    if (socketpair(AF_UNIX, type, 0, fds) != 0)
        return -1;
    remember_pipe_end(fds[0]);
    remember_pipe_end(fds[1]);
    return 0;
}

int pipe(int fds[2])
{
    return pipe2(fds, 0);
}
#else
static void pipe_closing(int fd)
{
    (void)fd;
}

int tp__kqe_is_pipe(int fd, const struct stat *sb)
{
    (void)fd;
    return S_ISFIFO(sb->st_mode);
}
#endif

/* ---- fork ---- */

static void before_fork(void)
{
    pthread_mutex_lock(&registry_mu);
    pthread_mutex_lock(&pipes_mu);
}

static void parent_after_fork(void)
{
    pthread_mutex_unlock(&pipes_mu);
    pthread_mutex_unlock(&registry_mu);
}

/*
 * "The queue is not inherited by a child created with fork(2)": the child
 * has no descriptor under the parent's kqueue numbers. The records stay
 * reachable but unused (another thread of the parent may have held their
 * locks at the fork), and the numbers are free for the child's files.
 */
static void child_after_fork(void)
{
    for (int i = 0; i < registry_len; i++) {
        struct kqe *kq = registry[i];

        if (kq == NULL)
            continue;
        if (kq->pid == getppid())
            sys_close(i);
        registry[i] = NULL;
        kq->abandoned = abandoned;
        abandoned = kq;
    }
    pthread_mutex_unlock(&pipes_mu);
    pthread_mutex_unlock(&registry_mu);
}

/*
 * One eventfd for the whole process, created before main() so that tests
 * counting open descriptors see a constant number. Its counter is never
 * read, so it is always readable: adding it to an epoll set wakes that
 * set's waiters, which is how knotes queued by one thread reach a kevent()
 * waiting in another without a descriptor per kqueue (that close(kq)
 * could not release).
 */
__attribute__((constructor)) static void emulation_init(void)
{
    wake_fd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_atfork(before_fork, parent_after_fork, child_after_fork);
}

int tp__kqe_wake_fd(void)
{
    return wake_fd;
}

/* ---- kqueue() ---- */

static int grow_registry(int fd)
{
    int len = registry_len ? registry_len : 64;
    struct kqe **r;

    while (len <= fd)
        len *= 2;
    r = realloc(registry, (size_t)len * sizeof(*r));
    if (r == NULL)
        return ENOMEM;
    for (int i = registry_len; i < len; i++)
        r[i] = NULL;
    registry = r;
    registry_len = len;
    return 0;
}

static struct kqe *new_record(void)
{
    struct kqe *kq = calloc(1, sizeof(*kq));

    if (kq == NULL)
        return NULL;
    if (pthread_mutex_init(&kq->mu, NULL) != 0) {
        free(kq);
        return NULL;
    }
    kqe_queue_init(&kq->active);
    return kq;
}

/* A number handed out again by kqueue() means the previous queue with that
 * number was closed: its knotes went with it. */
static int attach(int epfd, const struct stat *sb)
{
    struct kqe *kq;
    int err = 0;

    pthread_mutex_lock(&registry_mu);
    if (epfd >= registry_len)
        err = grow_registry(epfd);
    if (err == 0 && registry[epfd] == NULL &&
        (registry[epfd] = new_record()) == NULL)
        err = ENOMEM;
    if (err == 0) {
        kq = registry[epfd];
        pthread_mutex_lock(&kq->mu);
        tp__kqe_reset(kq);
        kq->epfd = epfd;
        kq->pid = getpid();
        kq->dev = sb->st_dev;
        kq->ino = sb->st_ino;
        pthread_mutex_unlock(&kq->mu);
    }
    pthread_mutex_unlock(&registry_mu);
    return err;
}

/* A kqueue is not close-on-exec unless created so: as every descriptor,
 * it is inherited by exec'd programs by default. */
static int new_kqueue(int cloexec)
{
    struct stat sb;
    int epfd, err;

    if (wake_fd < 0) {
        errno = EMFILE;
        return -1;
    }
    epfd = epoll_create1(cloexec ? EPOLL_CLOEXEC : 0);
    if (epfd < 0)
        return -1;
    err = fstat(epfd, &sb) != 0 ? errno : attach(epfd, &sb);
    if (err) {
        sys_close(epfd);
        errno = err;
        return -1;
    }
    return epfd;
}

int kqueue(void)
{
    return new_kqueue(0);
}

#if TP_EMUL_FREEBSD
/* kqueuex(2): "KQUEUE_CLOEXEC The returned file descriptor is
 * automatically closed on execve(2)"; other flags are EINVAL. */
int kqueuex(unsigned int flags)
{
    if (flags & ~(unsigned)KQUEUE_CLOEXEC) {
        errno = EINVAL;
        return -1;
    }
    return new_kqueue((flags & KQUEUE_CLOEXEC) != 0);
}
#elif TP_EMUL_OPENBSD || TP_EMUL_NETBSD
/* kqueue1(2): flags O_CLOEXEC (and O_NONBLOCK, which a kqueue ignores). */
int kqueue1(int flags)
{
    if (flags & ~(O_CLOEXEC | O_NONBLOCK)) {
        errno = EINVAL;
        return -1;
    }
    return new_kqueue((flags & O_CLOEXEC) != 0);
}
#endif

/* In another process, or after its close, the number is not this kqueue
 * (EBADF), whatever it names now. */
struct kqe *tp__kqe_lookup(int kqfd, int *err)
{
    struct kqe *kq = NULL;
    struct stat sb;

    pthread_mutex_lock(&registry_mu);
    if (kqfd >= 0 && kqfd < registry_len)
        kq = registry[kqfd];
    pthread_mutex_unlock(&registry_mu);
    if (kq == NULL || kq->pid != getpid() || fstat(kqfd, &sb) != 0 ||
        sb.st_dev != kq->dev || sb.st_ino != kq->ino) {
        *err = EBADF;
        return NULL;
    }
    return kq;
}
