/* SPDX-License-Identifier: MIT */
/* Bindings of OS threads to thread ids (thread-local slots). */
#include <errno.h>

#include "binding.h"

TP_TLS struct tp__thread *tp__bindings[TP_MAX_BINDINGS];
/* Release callbacks running on this OS thread (they may nest). */
static TP_TLS int releases_running;

void tp__release_enter(void)
{
    releases_running++;
}

void tp__release_leave(void)
{
    releases_running--;
}

struct tp__thread *tp__lookup_rest(const struct tpoll *tp)
{
    struct tp__thread *th;
    int i;

    for (i = 1; i < TP_MAX_BINDINGS; i++) {
        th = tp__bindings[i];
        if (th != NULL && th->head.tp == tp) {
            tp__bindings[i] = tp__bindings[0];
            tp__bindings[0] = th;
            return th;
        }
    }
    return NULL;
}

int tp__in_callback(void)
{
    int i;

    if (releases_running)
        return 1;
    for (i = 0; i < TP_MAX_BINDINGS; i++)
        if (tp__bindings[i] != NULL && tp__bindings[i]->in_dispatch)
            return 1;
    return 0;
}

int tp__bind(struct tp__thread *th)
{
    int i;

    for (i = 0; i < TP_MAX_BINDINGS; i++) {
        if (tp__bindings[i] == NULL) {
            tp__bindings[i] = th;
            return 0;
        }
    }
    return -EMLINK;
}

void tp__unbind(struct tp__thread *th)
{
    int i;

    for (i = 0; i < TP_MAX_BINDINGS; i++)
        if (tp__bindings[i] == th)
            tp__bindings[i] = NULL;
}
