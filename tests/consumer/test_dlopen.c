/* SPDX-License-Identifier: MIT */
/*
 * A program that loads the shared library with dlopen (a plugin, a
 * language binding) rather than linking it: the library's thread-locals
 * use the initial-exec model, so this proves the loader placed them, for
 * the loading thread and for a thread created afterwards. Nothing here
 * links tpoll; every call goes through dlsym.
 * Usage: test_dlopen path/to/libtpoll.so
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tpoll.h"

static struct {
    int (*create)(struct tpoll **, const struct tpoll_options *);
    void (*options_init)(struct tpoll_options *);
    int (*thread_start)(struct tpoll *, int);
    int (*thread_stop)(struct tpoll *);
    int (*thread_id)(const struct tpoll *);
    int (*fd_insert)(struct tpoll *, int, tpoll_cb, void *, tpoll_mask_t);
    int (*want_recv)(struct tpoll *, int);
    int (*fd_delete)(struct tpoll *, int);
    int (*wait)(struct tpoll *, int);
    void (*destroy)(struct tpoll *);
} api;

static void *sym(void *lib, const char *name)
{
    void *p = dlsym(lib, name);

    if (p == NULL) {
        fprintf(stderr, "test_dlopen: %s: %s\n", name, dlerror());
        exit(1);
    }
    return p;
}

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "test_dlopen: %s:%d: %s\n", __FILE__, __LINE__,  \
                    #cond);                                                   \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

static void on_read(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    char c;

    (void)tp, (void)events;
    CHECK(read(fd, &c, 1) == 1);
    ++*(int *)owner;
}

/* Thread id 1, bound on a thread born after the dlopen: its binding must
 * be found again by wait and by thread_id. */
static void *second(void *arg)
{
    struct tpoll *tp = arg;

    CHECK(api.thread_start(tp, 1) == 0);
    CHECK(api.thread_id(tp) == 1);
    CHECK(api.wait(tp, 0) == 0);
    CHECK(api.thread_stop(tp) == 0);
    return NULL;
}

int main(int argc, char **argv)
{
    struct tpoll_options o;
    struct tpoll *tp;
    pthread_t t;
    int sv[2], calls = 0;
    void *lib;

    if (argc != 2)
        return 2;
    lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "test_dlopen: %s\n", dlerror());
        return 1;
    }
    *(void **)&api.create = sym(lib, "tpoll_create");
    *(void **)&api.options_init = sym(lib, "tpoll_options_init");
    *(void **)&api.thread_start = sym(lib, "tpoll_thread_start");
    *(void **)&api.thread_stop = sym(lib, "tpoll_thread_stop");
    *(void **)&api.thread_id = sym(lib, "tpoll_thread_id");
    *(void **)&api.fd_insert = sym(lib, "tpoll_fd_insert");
    *(void **)&api.want_recv = sym(lib, "tpoll_want_recv");
    *(void **)&api.fd_delete = sym(lib, "tpoll_fd_delete");
    *(void **)&api.wait = sym(lib, "tpoll_wait");
    *(void **)&api.destroy = sym(lib, "tpoll_destroy");

    api.options_init(&o);
    o.threads = 2;
    CHECK(api.create(&tp, &o) == 0);
    CHECK(api.thread_start(tp, 0) == 0);
    CHECK(api.thread_id(tp) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    CHECK(api.fd_insert(tp, sv[0], on_read, &calls, TPOLL_THREAD(0)) == 0);
    CHECK(api.want_recv(tp, sv[0]) == 0);
    CHECK(write(sv[1], "x", 1) == 1);
    CHECK(api.wait(tp, 5000) == 1);
    CHECK(calls == 1);
    CHECK(pthread_create(&t, NULL, second, tp) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(api.fd_delete(tp, sv[0]) == 0);
    CHECK(api.thread_stop(tp) == 0);
    api.destroy(tp);
    close(sv[0]);
    close(sv[1]);
    CHECK(dlclose(lib) == 0);
    return 0;
}
