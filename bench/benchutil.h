/* benchutil: blocking unix-socket helpers shared by the round-trip
 * benchmark programs (bench-rt-frontend, bench-rt-backend,
 * bench-floor-relay).  Deliberately plain: blocking sockets, one recvmsg
 * with a cmsg buffer per read, one sendmsg per message. */
#ifndef VUP_BENCHUTIL_H
#define VUP_BENCHUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "vuproxy/proto.h"

/* Listen on a fresh unix socket at path (a stale file is unlinked).
 * Returns the fd, or -1 after printing why. */
int bu_listen(const char *path);
/* Accept one connection (blocking).  Returns the fd or -1. */
int bu_accept(int lfd);
/* Connect to path, retrying for up to timeout_s while the listener is
 * not there yet.  Returns the fd or -1 after printing why. */
int bu_connect(const char *path, double timeout_s);

/* Read exactly len bytes with recvmsg, collecting SCM_RIGHTS fds into
 * fds[*nfds...] (at most maxfds in all).  Returns 0 when done, 1 on EOF
 * before the first byte, -1 on error or EOF mid-way (printed). */
int bu_recv_exact(int fd, void *buf, size_t len, int *fds, unsigned *nfds,
                  unsigned maxfds);
/* Receive one whole message: header, then exactly its payload (bounded by
 * VUP_MAX_PAYLOAD).  Same return values as bu_recv_exact. */
int bu_recv_msg(int fd, struct vup_hdr *h, uint8_t *payload, int *fds,
                unsigned *nfds);
/* Send header + payload + fds with one sendmsg (looping only if the
 * kernel takes part of it).  Returns 0 or -1 (printed). */
int bu_send_msg(int fd, const struct vup_hdr *h, const void *payload,
                const int *fds, unsigned nfds);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bu_now_ns(void);

#endif
