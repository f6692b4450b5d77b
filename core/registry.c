/* SPDX-License-Identifier: MIT */
/* Which backends this build has, in order of preference, and lookup by
 * name. CMake writes tpoll_config.h from the TPOLL_BACKENDS option. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "tpoll.h"
#include "registry.h"
#include "tpoll_config.h"

extern const struct tpoll_backend tp__backend_epoll;
extern const struct tpoll_backend tp__backend_kqueue;
extern const struct tpoll_backend tp__backend_port;
extern const struct tpoll_backend tp__backend_poll;
extern const struct tpoll_backend tp__backend_select;

static const struct tpoll_backend *const compiled[] = {
#if TP_HAVE_BACKEND_EPOLL
    &tp__backend_epoll,
#endif
#if TP_HAVE_BACKEND_KQUEUE
    &tp__backend_kqueue,
#endif
#if TP_HAVE_BACKEND_PORT
    &tp__backend_port,
#endif
#if TP_HAVE_BACKEND_POLL
    &tp__backend_poll,
#endif
#if TP_HAVE_BACKEND_SELECT
    &tp__backend_select,
#endif
};

static const char *const known[] = {"epoll", "kqueue", "port", "poll",
                                    "select"};

const struct tpoll_backend *tp__backend_find(const char *name, int *err)
{
    size_t i;

    for (i = 0; i < sizeof(compiled) / sizeof(compiled[0]); i++)
        if (strcmp(compiled[i]->name, name) == 0)
            return compiled[i];
    *err = -ENOENT;
    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(known[i], name) == 0)
            *err = -ENOTSUP;
    return NULL;
}

int tpoll_backend_supported(const char *name)
{
    int err = -ENOENT;

    if (name == NULL)
        return -EINVAL;
    return tp__backend_find(name, &err) ? 0 : err;
}

const char *tpoll_default_backend(void)
{
    return TP_DEFAULT_BACKEND;
}
