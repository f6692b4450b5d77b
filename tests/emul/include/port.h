/* SPDX-License-Identifier: MIT */
/*
 * Test-only <port.h>: the illumos event-port API, emulated on Linux on top
 * of epoll (tests/emul/port/port_emul.c), so that backends/port.c compiles
 * and runs unchanged. Types, constants and signatures follow the illumos
 * headers and port_create(3C), port_associate(3C), port_get(3C),
 * port_send(3C) and port_alert(3C).
 */
#ifndef TP_EMUL_PORT_H
#define TP_EMUL_PORT_H

#include <poll.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

typedef unsigned int uint_t;
typedef struct timespec timespec_t;

/* The illumos source numbers (sys/port.h). */
#define PORT_SOURCE_AIO 1
#define PORT_SOURCE_TIMER 2
#define PORT_SOURCE_USER 3
#define PORT_SOURCE_FD 4
#define PORT_SOURCE_ALERT 5
#define PORT_SOURCE_MQ 6
#define PORT_SOURCE_FILE 7

#define PORT_ALERT_SET 0x01
#define PORT_ALERT_UPDATE 0x02

typedef struct port_event {
    int portev_events;
    unsigned short portev_source;
    unsigned short portev_pad;
    uintptr_t portev_object;
    void *portev_user;
} port_event_t;

int port_create(void);
int port_associate(int port, int source, uintptr_t object, int events,
                   void *user);
int port_dissociate(int port, int source, uintptr_t object);
int port_get(int port, port_event_t *pe, const timespec_t *timeout);
int port_getn(int port, port_event_t list[], uint_t max, uint_t *nget,
              const timespec_t *timeout);
int port_send(int port, int events, void *user);
int port_alert(int port, int flags, int events, void *user);

/*
 * close(2) of a port "destroys the port and frees all allocated resources"
 * (port_create(3C)). The emulation keeps an eventfd and memory per port,
 * so a close of any fd by code that includes this header goes through the
 * emulation, which releases them and then closes the fd. Any other fd is
 * closed as is.
 */
int tp__emul_port_close(int fd);
#define close(fd) tp__emul_port_close(fd)

#endif
