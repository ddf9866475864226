/* channel: message-framed I/O on a non-blocking AF_UNIX stream socket.
 *
 * A message is a 12-byte header, its payload and the fds that came with
 * it.  Reading: one recvmsg (with room for fds) reads as much as the
 * socket has, up to VUP_CH_RBUF bytes, into a read-ahead buffer; whole
 * messages are then handed out one by one without further system calls.
 * Which message the fds belong to follows from how Linux reads an
 * AF_UNIX stream (unix_stream_read_generic): one recvmsg may join the
 * data of several sendmsg calls without fds, but it stops right after
 * the data of a sendmsg that carried fds, and those fds come with the
 * recvmsg that reads its first byte.  So the fds of a recvmsg belong to
 * the message holding the last byte it returned (see channel.c for the
 * one sender for which that differs from reading messages exactly).
 * Writing: one sendmsg with the fds on the first byte; what the peer
 * cannot take yet is queued.  The channel knows nothing of payload
 * meanings and nothing of the event loop: callers poll the fd and call
 * read/flush; a caller that polls before reading asks
 * vup_channel_buffered first, since a buffered message makes no poll
 * event.
 */
#ifndef VUPROXY_CHANNEL_H
#define VUPROXY_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vuproxy/proto.h"

struct vup_msg {
	struct vup_hdr hdr;
	unsigned nfds;
	int fds[VUP_MAX_FDS];
	uint8_t payload[VUP_MAX_PAYLOAD];
};

struct vup_outq; /* private queue node */

/* Bytes read ahead: the largest message twice, and many small ones (a
 * stuck session holds two of these: hostile_timing bounds its memory). */
#define VUP_CH_RBUF (8u * 1024)

struct vup_channel {
	int fd;
	/* inbound framing */
	struct vup_msg in;
	size_t in_got; /* bytes of the current message's header + payload
	                  received so far (read ahead included) */
	bool in_ready; /* ch->in was returned and not yet consumed */
	/* Its bytes in the read buffer: the caller may rewrite ch->in
	 * (--active grows SET_MEM_TABLE) before consuming it. */
	uint32_t in_framed;
	bool drained; /* the last recvmsg emptied the socket */
	/* read-ahead: rbuf[rstart, rend) received, not yet consumed; the
	 * current message starts at rstart */
	size_t rstart, rend;
	/* fds received for a message after the current one: the message
	 * holding rbuf[rend - 1] */
	unsigned pend_nfds;
	bool pend_lost;
	int pend_fds[VUP_MAX_FDS];
	/* outbound queue, in order */
	struct vup_outq *head, *tail;
	size_t out_bytes; /* queued bytes not yet written */
	size_t out_msgs;  /* queued messages */
	bool fds_lost;    /* MSG_CTRUNC seen: the message is unusable */
	int broken;       /* a framing error, returned from then on */
	char why[160];    /* detail of the last error, for the log */
	uint8_t rbuf[VUP_CH_RBUF];
};

/* Results of vup_channel_read besides a message and -errno. */
#define VUP_CH_AGAIN 0 /* need more bytes */
#define VUP_CH_MSG   1 /* a whole message is in ch->in */
#define VUP_CH_EOF   (-1000)

void vup_channel_init(struct vup_channel *ch, int fd);

/* Read towards one whole message: a buffered one without a system call,
 * else recvmsg until it is whole (one call when it came whole) or the
 * socket is empty.  VUP_CH_MSG: ch->in holds it and the caller owns its
 * fds (and must call vup_channel_consume before the next read).
 * VUP_CH_AGAIN: would block.
 * VUP_CH_EOF: peer closed (ch->in_got tells whether it was mid-message).
 * Other negative: -errno or -EPROTO / -EMSGSIZE / -ENOBUFS (fds
 * truncated), detail in ch->why. */
int vup_channel_read(struct vup_channel *ch);
/* Forget the message in ch->in (its fds already taken or closed). */
void vup_channel_consume(struct vup_channel *ch);
/* A read would return a message (or an error) without a system call: the
 * caller must read it even if the socket never becomes readable again. */
bool vup_channel_buffered(const struct vup_channel *ch);
/* A read may return a message without waiting for the next poll event:
 * one is buffered, or the last recvmsg did not empty the socket.  A loop
 * that reads on poll readiness stops when this is false rather than
 * calling read until it says AGAIN. */
static inline bool vup_channel_more(const struct vup_channel *ch)
{
	return !ch->drained || vup_channel_buffered(ch);
}

/* Send one message (fds may be NULL when nfds is 0).  The channel takes
 * ownership of the fds: they are
 * closed once sent, or when the channel closes.  Returns 0 (sent or
 * queued) or -errno (the peer is gone; fds closed). */
int vup_channel_send(struct vup_channel *ch, const struct vup_hdr *hdr,
                     const uint8_t *payload, const int *fds, unsigned nfds);
/* Write queued data.  0 = queue empty, 1 = still pending, -errno. */
int vup_channel_flush(struct vup_channel *ch);
static inline bool vup_channel_pending(const struct vup_channel *ch)
{
	return ch->head != NULL;
}

/* Close the socket and every fd held (queued or half-received). */
void vup_channel_close(struct vup_channel *ch);

/* Close a list of fds, ignoring -1. */
void vup_close_fds(int *fds, unsigned n);

#endif
