/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdmark.h"

void tp_fdmark_take(struct tp_fdmark *m, int fd)
{
    struct stat sb;

    m->fd = fd;
    m->pid = getpid();
    m->stamped = fstat(fd, &sb) == 0 && fcntl(fd, F_SETOWN, m->pid) == 0 &&
                 fcntl(fd, F_GETOWN) == m->pid;
    if (m->stamped) {
        m->dev = sb.st_dev;
        m->ino = sb.st_ino;
    }
}

/* The stamp names the process that created the file, so a file opened in
 * the child (owner 0, or the child's own pid) never matches it. */
void tp_fdmark_close_if_owned(struct tp_fdmark *m)
{
    struct stat sb;

    if (m->stamped && m->fd >= 0 && fstat(m->fd, &sb) == 0 &&
        sb.st_dev == m->dev && sb.st_ino == m->ino &&
        fcntl(m->fd, F_GETOWN) == m->pid)
        close(m->fd);
    m->fd = -1;
}
