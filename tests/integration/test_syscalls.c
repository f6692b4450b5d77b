/* SPDX-License-Identifier: MIT */
/*
 * Calls that promise to make no system call, held to it: a forked child
 * forbids itself every system call but exit_group (a seccomp filter that
 * kills the process on any other), makes the call, and exits with what it
 * returned. A system call shows as a death by SIGSYS. Linux only (seccomp;
 * the build looks for its header, which a musl toolchain may not see);
 * skipped where the filter cannot be installed (a container that forbids
 * seccomp, qemu-user) and under sanitizers, whose runtimes make system
 * calls of their own.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif

#if defined(TU_HAVE_SECCOMP) && !defined(SANITIZED)
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#define HAVE_FILTER 1
#endif

#define MAX_FDS 64
#define NOT_INSTALLED 77
#define CALL_FAILED 78

static void never_cb(struct tpoll *tp, int fd, unsigned events, void *owner)
{
    (void)tp, (void)fd, (void)events, (void)owner;
}

#ifdef HAVE_FILTER
/* In the child: from here on, any system call but exit_group kills it. */
static int forbid_system_calls(void)
{
    static struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_exit_group, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    };
    struct sock_fprog prog = {sizeof(filter) / sizeof(filter[0]), filter};

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

static void leave(int code)
{
    syscall(SYS_exit_group, code);
}
#endif

/* Runs fn(tp, fd) in a child that may make no system call and returns
 * the child's wait status, or -1 where the filter cannot be installed. */
static int in_forbidding_child(struct tpoll *tp, int fd,
                               int (*fn)(struct tpoll *, int))
{
#ifdef HAVE_FILTER
    int status;
    pid_t pid;

    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (forbid_system_calls() != 0)
            _exit(NOT_INSTALLED);
        leave(fn(tp, fd) == 0 ? 0 : CALL_FAILED);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == NOT_INSTALLED)
        return -1;
    return status;
#else
    (void)tp, (void)fd, (void)fn;
    return -1;
#endif
}

/* 1 if fn made no system call and returned 0, 0 if it could not be
 * checked; fails otherwise. */
static int no_system_call(struct tpoll *tp, int fd,
                          int (*fn)(struct tpoll *, int))
{
    int status = in_forbidding_child(tp, fd, fn);

    if (status == -1)
        return 0;
    if (WIFSIGNALED(status))
        fail_msg("the call made a system call (killed by signal %d)",
                 WTERMSIG(status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    return 1;
}

static int insert(struct tpoll *tp, int fd)
{
    return tpoll_fd_insert(tp, fd, never_cb, NULL, 1);
}

static int insert_and_want(struct tpoll *tp, int fd)
{
    int err = insert(tp, fd);

    return err ? err : tpoll_want_recv(tp, fd);
}

static int close_fd(struct tpoll *tp, int fd)
{
    (void)tp;
    return close(fd);
}

/* The filter itself works: a call that makes a system call is caught.
 * Skips (after cleaning up) where it cannot be installed. */
static void test_filter_catches_a_system_call(void **state)
{
    int status, sv[2];

    (void)state;
    tu_socketpair(sv);
    status = in_forbidding_child(NULL, sv[0], close_fd);
    close(sv[0]);
    close(sv[1]);
    if (status == -1)
        skip();
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSYS);
}

/* Insert, and a want on an fd of an unbound thread (queued for that
 * thread's next update pass, nobody to wake), make no system call: the
 * fd's kind is checked at its first registration, by the thread. */
static void test_insert_makes_no_system_call(void **state)
{
    struct tpoll *tp = tu_create(1, MAX_FDS);
    int sv[2], checked;

    (void)state;
    tu_socketpair(sv);
    checked = no_system_call(tp, sv[0], insert) &&
              no_system_call(tp, sv[0], insert_and_want);
    close(sv[0]);
    close(sv[1]);
    tu_destroy(tp);
    if (!checked)
        skip();
}

#if defined(HAVE_FILTER) && defined(__NR_io_uring_setup)
/* In the child: io_uring_setup fails with EPERM, as a container's default
 * seccomp profile or kernel.io_uring_disabled makes it; the rest runs. */
static int refuse_io_uring(void)
{
    static struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof(filter) / sizeof(filter[0]), filter};

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

/* 0: tpoll_create failed with io_uring_setup's error, and another backend
 * still works. */
static int create_refused(void)
{
    struct tpoll_options o;
    struct tpoll *tp = NULL;

    if (refuse_io_uring() != 0)
        return NOT_INSTALLED;
    tpoll_options_init(&o);
    o.backend = "io_uring";
    if (tpoll_create(&tp, &o) != -EPERM || tp != NULL)
        return 1;
    o.backend = "epoll";
    if (tpoll_create(&tp, &o) != 0)
        return 2;
    return tpoll_destroy(tp) == 0 ? 0 : 3;
}
#endif

/* A kernel or sandbox that refuses io_uring makes tpoll_create with that
 * backend fail with the errno io_uring_setup gave, never a fallback. */
static void test_io_uring_refused_at_create(void **state)
{
#if defined(HAVE_FILTER) && defined(__NR_io_uring_setup)
    int status;
    pid_t pid;

    (void)state;
    if (strcmp(tu_backend(), "io_uring") != 0)
        skip();
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(create_refused());
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == NOT_INSTALLED)
        skip();
    assert_int_equal(WEXITSTATUS(status), 0);
#else
    (void)state;
    skip();
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_catches_a_system_call),
        cmocka_unit_test(test_insert_makes_no_system_call),
        cmocka_unit_test(test_io_uring_refused_at_create),
    };

    return cmocka_run_group_tests_name(tu_backend(), tests, NULL, NULL);
}
