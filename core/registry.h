/* SPDX-License-Identifier: MIT */
/* The backends this build has (core/registry.c). */
#ifndef TP_CORE_REGISTRY_H
#define TP_CORE_REGISTRY_H

#include "vtable.h"

/* The compiled backend called `name`, or NULL with *err = -ENOENT (no
 * backend has that name) or -ENOTSUP (known, not compiled in). */
const struct tpoll_backend *tp__backend_find(const char *name, int *err);

#endif
