/* SPDX-License-Identifier: MIT */
/* Which backends this build has, in order of preference, and lookup by
 * name. Both lists come from tpoll_backends.h, which CMake generates from
 * its one list of backends (cmake/TpollBackends.cmake). */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "tpoll.h"
#include "registry.h"
#include "tpoll_backends.h"
#include "tpoll_config.h"

#define DECLARE(name) extern const struct tpoll_backend tp__backend_##name;
TP_COMPILED_BACKENDS(DECLARE)
#undef DECLARE

#define ADDRESS(name) &tp__backend_##name,
static const struct tpoll_backend *const compiled[] = {
    TP_COMPILED_BACKENDS(ADDRESS)};
#undef ADDRESS

/* Known but not compiled answers -ENOTSUP rather than -ENOENT. */
#define NAME(name) #name,
static const char *const known[] = {TP_KNOWN_BACKENDS(NAME)};
#undef NAME

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
