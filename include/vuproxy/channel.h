/* channel: message-framed I/O on a non-blocking AF_UNIX stream socket.
 *
 * A message is a 12-byte header, its payload and the fds that came with
 * it.  Reading: the header and payload are read exactly (never past the
 * message, so fds of the next message cannot be attributed to this one),
 * always with recvmsg so that no SCM_RIGHTS data is ever discarded.
 * Writing: one sendmsg with the fds on the first byte; what the peer cannot
 * take yet is queued.  The channel knows nothing of payload meanings and
 * nothing of the event loop: callers poll the fd and call read/flush.
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

struct vup_channel {
	int fd;
	/* inbound framing */
	struct vup_msg in;
	size_t in_got; /* bytes of header + payload read so far */
	/* outbound queue, in order */
	struct vup_outq *head, *tail;
	size_t out_bytes; /* queued bytes not yet written */
	size_t out_msgs;  /* queued messages */
	bool fds_lost;    /* MSG_CTRUNC seen: the message is unusable */
	int broken;       /* a framing error, returned from then on */
	char why[160];    /* detail of the last error, for the log */
};

/* Results of vup_channel_read besides a message and -errno. */
#define VUP_CH_AGAIN 0 /* need more bytes */
#define VUP_CH_MSG   1 /* a whole message is in ch->in */
#define VUP_CH_EOF   (-1000)

void vup_channel_init(struct vup_channel *ch, int fd);

/* Read towards one whole message.  VUP_CH_MSG: ch->in holds it and the
 * caller owns its fds (and must call vup_channel_consume before the next
 * read).  VUP_CH_AGAIN: would block.  VUP_CH_EOF: peer closed (ch->in_got
 * tells whether it was mid-message).  Other negative: -errno or -EPROTO /
 * -EMSGSIZE / -ENOBUFS (fds truncated), detail in ch->why. */
int vup_channel_read(struct vup_channel *ch);
/* Forget the message in ch->in (its fds already taken or closed). */
void vup_channel_consume(struct vup_channel *ch);

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
