/* SPDX-License-Identifier: MIT */
/*
 * A cmocka fixture for the emulations' tests that need many descriptors:
 * EMUL_NPAIRS socket pairs (filled by the test) and one poller (a kqueue
 * or a port, likewise). The setup fails, saying so, when the soft
 * RLIMIT_NOFILE leaves too few numbers; the teardown closes whatever the
 * test opened, whatever its outcome. Define EMUL_NPAIRS before including.
 */
#ifndef TP_EMUL_PAIRS_H
#define TP_EMUL_PAIRS_H

#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "testutil.h"

struct emul_pairs {
    int poller;
    int sv[EMUL_NPAIRS][2];
};

static int emul_pairs_up(void **state)
{
    struct emul_pairs *p = calloc(1, sizeof(*p));
    struct rlimit rl;

    if (p == NULL || getrlimit(RLIMIT_NOFILE, &rl) != 0 ||
        rl.rlim_cur < 2 * EMUL_NPAIRS + 64) {
        print_error("needs %d free descriptors\n", 2 * EMUL_NPAIRS + 64);
        free(p);
        return -1;
    }
    for (int i = 0; i < EMUL_NPAIRS; i++)
        p->sv[i][0] = p->sv[i][1] = -1;
    p->poller = -1;
    *state = p;
    return 0;
}

static int emul_pairs_down(void **state)
{
    struct emul_pairs *p = *state;

    for (int i = 0; i < EMUL_NPAIRS; i++) {
        if (p->sv[i][0] >= 0)
            close(p->sv[i][0]);
        if (p->sv[i][1] >= 0)
            close(p->sv[i][1]);
    }
    if (p->poller >= 0)
        close(p->poller);
    free(p);
    return 0;
}

#endif
