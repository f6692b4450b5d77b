/* SPDX-License-Identifier: MIT */
/* The hook dispatcher, compiled only into the hooked test library. */
#include "../platform/atomic.h"
#include "hooks.h"

static tp_atomic_t installed;

void tp__hook_install(tp__hook_fn fn)
{
    tp_store(&installed, (AO_t)fn);
}

void tp__hook(enum tp__hook_point point, long arg)
{
    tp__hook_fn fn = (tp__hook_fn)tp_load(&installed);

    if (fn != NULL)
        fn(point, arg);
}
