/* SPDX-License-Identifier: MIT */
/*
 * kqueue(2) for the emulation: a kqueue descriptor is an epoll descriptor,
 * so close() releases it like the real one; its knotes are found through a
 * process-wide table indexed by descriptor number.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kq_emul.h"

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct kqe **registry; /* by descriptor; entries are never freed, so
                               * a pointer taken under the lock stays valid */
static int registry_len;
static int wake_fd = -1;

/*
 * One eventfd for the whole process, created before main() so that tests
 * counting open descriptors see a constant number. Its counter is never
 * read, so it is always readable: adding it to an epoll set wakes that
 * set's waiters, which is how EVFILT_USER triggers cross threads without
 * a descriptor per kqueue (that close(kq) could not release).
 */
__attribute__((constructor)) static void open_wake_fd(void)
{
    wake_fd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
}

int tp__kqe_wake_fd(void)
{
    return wake_fd;
}

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

/* A number handed out again by kqueue() means the previous queue with that
 * number was closed: its knotes went with it. */
static int attach(int epfd, const struct stat *sb)
{
    struct kqe *kq;
    int err = 0;

    pthread_mutex_lock(&registry_mu);
    if (epfd >= registry_len)
        err = grow_registry(epfd);
    if (err == 0 && registry[epfd] == NULL) {
        kq = calloc(1, sizeof(*kq));
        if (kq == NULL)
            err = ENOMEM;
        else if (pthread_mutex_init(&kq->mu, NULL) != 0) {
            free(kq);
            err = ENOMEM;
        } else
            registry[epfd] = kq;
    }
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

int kqueue(void)
{
    struct stat sb;
    int epfd, err;

    if (wake_fd < 0) {
        errno = EMFILE;
        return -1;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return -1;
    err = fstat(epfd, &sb) != 0 ? errno : attach(epfd, &sb);
    if (err) {
        close(epfd);
        errno = err;
        return -1;
    }
    return epfd;
}

/* "The queue is not inherited by a child created with fork(2)": in another
 * process the number is not a kqueue (EBADF), whatever it inherited. */
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
