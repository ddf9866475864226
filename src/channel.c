/* channel: framed vhost-user messages with their fds over a stream socket.
 * See include/vuproxy/channel.h for the contract. */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vuproxy/channel.h"

static_assert(sizeof(struct vup_hdr) == VUP_HDR_SIZE, "packed header");

static int read_message(struct vup_channel *ch);

struct vup_outq {
	struct vup_outq *next;
	size_t len; /* bytes in data */
	size_t off; /* bytes already written */
	unsigned nfds;
	int fds[VUP_MAX_FDS];
	uint8_t data[];
};

void vup_close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

void vup_channel_init(struct vup_channel *ch, int fd)
{
	memset(ch, 0, sizeof(*ch));
	ch->fd = fd;
}

/* Give the fds of a message to append (up to VUP_MAX_FDS; any more are
 * closed and the message is marked unusable). */
static void add_fds(struct vup_channel *ch, const int *fds, size_t n, bool lost)
{
	for (size_t i = 0; i < n; i++) {
		if (ch->in.nfds < VUP_MAX_FDS)
			ch->in.fds[ch->in.nfds++] = fds[i];
		else {
			close(fds[i]);
			lost = true;
		}
	}
	ch->fds_lost = ch->fds_lost || lost;
}

/* Which message the fds of one recvmsg belong to.  Linux
 * (unix_stream_read_generic) joins in one recvmsg the data of sendmsg
 * calls without fds, hands out the fds of a sendmsg with the first byte
 * of its data read, and then stops at the end of that data (or of the
 * buffer).  So the sendmsg that carried them is the last one the recvmsg
 * read from, its data runs to the recvmsg's last byte, and the fds belong
 * to the message holding that byte, when each message is sent with one
 * sendmsg (partial writes continued without fds), as QEMU, DPDK,
 * libvhost-user and rust-vmm do.  One sender differs: a single sendmsg
 * with fds carrying the end of one message and the start of the next
 * gives the same bytes as the two sent apart with fds on the second.
 * Exact reads gave such fds to the first message, this gives them to the
 * second (tests/unit/test_channel.c, one_sendmsg_two_messages).
 *
 * recvmsg appends to rbuf; its fds wait in pend_fds until the message
 * holding its last byte is framed (at once when that is the current one).
 * Returns bytes, 0 on EOF, or -errno; *fds_came when fds arrived. */
static ssize_t recv_ahead(struct vup_channel *ch, bool *fds_came)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VUP_MAX_FDS)];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = {.iov_base = ch->rbuf + ch->rend,
	                    .iov_len = VUP_CH_RBUF - ch->rend};
	struct msghdr mh = {
	        .msg_iov = &iov,
	        .msg_iovlen = 1,
	        .msg_control = cbuf.buf,
	        .msg_controllen = sizeof(cbuf.buf),
	};
	ssize_t n;
	do {
		n = recvmsg(ch->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	*fds_came = false;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c;
	     c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < cnt; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (ch->pend_nfds < VUP_MAX_FDS)
				ch->pend_fds[ch->pend_nfds++] = fd;
			else {
				close(fd);
				ch->pend_lost = true;
			}
			*fds_came = true;
		}
	}
	if (mh.msg_flags & MSG_CTRUNC) {
		ch->pend_lost = true;
		*fds_came = true;
	}
	ch->drained = (size_t)n < iov.iov_len && !*fds_came;
	ch->rend += (size_t)n;
	return n;
}

/* Bytes the message at rstart has in all, or 0 while its header is not
 * in. */
static size_t current_len(const struct vup_channel *ch)
{
	if (ch->rend - ch->rstart < VUP_HDR_SIZE)
		return 0;
	uint32_t size;
	memcpy(&size, ch->rbuf + ch->rstart + offsetof(struct vup_hdr, size),
	       sizeof(size));
	return VUP_HDR_SIZE + (size_t)size;
}

/* Frame the message at rstart: its header (as far as it came) into
 * ch->in, ch->in_got, and the fds waiting for it.  VUP_CH_MSG when it is
 * whole (payload not copied yet), VUP_CH_AGAIN when bytes are missing,
 * or an error of the message. */
static int frame(struct vup_channel *ch)
{
	size_t have = ch->rend - ch->rstart;
	size_t len = current_len(ch);
	memcpy(&ch->in.hdr, ch->rbuf + ch->rstart,
	       have < VUP_HDR_SIZE ? have : VUP_HDR_SIZE);
	ch->in_got = len && have > len ? len : have;
	/* Waiting fds are the last byte's: this message's if it holds it. */
	if ((ch->pend_nfds || ch->pend_lost) &&
	    (!len || ch->rstart + len >= ch->rend)) {
		add_fds(ch, ch->pend_fds, ch->pend_nfds, ch->pend_lost);
		ch->pend_nfds = 0;
		ch->pend_lost = false;
	}
	/* The bytes count, so the log can name the request. */
	if (ch->fds_lost) {
		snprintf(ch->why, sizeof(ch->why),
		         "fds lost (MSG_CTRUNC): more than %u fds on one "
		         "message, or vuproxy is out of file descriptors",
		         VUP_MAX_FDS);
		return -ENOBUFS;
	}
	if (len && ch->in.hdr.size > VUP_MAX_PAYLOAD) {
		snprintf(ch->why, sizeof(ch->why),
		         "header announces a %u-byte payload, over the "
		         "%u-byte limit",
		         ch->in.hdr.size, VUP_MAX_PAYLOAD);
		return -EMSGSIZE;
	}
	return len && have >= len ? VUP_CH_MSG : VUP_CH_AGAIN;
}

bool vup_channel_buffered(const struct vup_channel *ch)
{
	if (ch->broken || ch->fds_lost)
		return true;
	if (ch->in_ready)
		return false; /* out already; what follows is framed later */
	size_t len = current_len(ch);
	return len && (len > VUP_HDR_SIZE + VUP_MAX_PAYLOAD ||
	               ch->rend - ch->rstart >= len);
}

int vup_channel_read(struct vup_channel *ch)
{
	/* A framing error is final: the stream cannot be re-synchronised. */
	if (ch->broken)
		return ch->broken;
	int rc = read_message(ch);
	if (rc < 0 && rc != VUP_CH_EOF)
		ch->broken = rc;
	return rc;
}

/* The current message is incomplete: move it to the front of rbuf, so
 * that the rest of it fits (VUP_CH_RBUF holds the largest message). */
static void make_room(struct vup_channel *ch)
{
	size_t have = ch->rend - ch->rstart;
	if (ch->rstart && have)
		memmove(ch->rbuf, ch->rbuf + ch->rstart, have);
	ch->rstart = 0;
	ch->rend = have;
}

static int read_message(struct vup_channel *ch)
{
	for (;;) {
		int rc = frame(ch);
		if (rc == VUP_CH_MSG) {
			memcpy(ch->in.payload,
			       ch->rbuf + ch->rstart + VUP_HDR_SIZE,
			       ch->in.hdr.size);
			ch->in_framed = ch->in.hdr.size;
			ch->in_ready = true;
		}
		if (rc != VUP_CH_AGAIN)
			return rc;
		make_room(ch);
		bool fds_came;
		ssize_t n = recv_ahead(ch, &fds_came);
		if (n == -EAGAIN || n == -EWOULDBLOCK) {
			ch->drained = true;
			return VUP_CH_AGAIN;
		}
		if (n < 0) {
			snprintf(ch->why, sizeof(ch->why), "recvmsg: %s",
			         strerror((int)-n));
			return (int)n;
		}
		if (n == 0) {
			if (ch->in_got)
				snprintf(ch->why, sizeof(ch->why),
				         "closed mid-message after %zu of %zu "
				         "bytes",
				         ch->in_got,
				         ch->in_got < VUP_HDR_SIZE
				                 ? (size_t)VUP_HDR_SIZE
				                 : VUP_HDR_SIZE +
				                           ch->in.hdr.size);
			else
				snprintf(ch->why, sizeof(ch->why), "closed");
			return VUP_CH_EOF;
		}
	}
}

void vup_channel_consume(struct vup_channel *ch)
{
	if (ch->in_ready)
		ch->rstart += VUP_HDR_SIZE + ch->in_framed;
	if (ch->rstart == ch->rend)
		ch->rstart = ch->rend = 0;
	ch->in_ready = false;
	ch->fds_lost = false;
	ch->in.nfds = 0;
	/* in_got and the fds of what follows, already here. */
	if (!ch->broken)
		(void)frame(ch);
}

/* One sendmsg of data[off..len), with fds if any.  Returns bytes or -errno. */
static ssize_t send_some(int fd, const struct iovec *iov, int iovcnt,
                         const int *fds, unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VUP_MAX_FDS)];
		struct cmsghdr align;
	} cbuf;
	struct msghdr mh = {.msg_iov = (struct iovec *)iov,
	                    .msg_iovlen = (size_t)iovcnt};
	if (nfds) {
		memset(cbuf.buf, 0, sizeof(cbuf.buf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	ssize_t n;
	do {
		n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static int enqueue(struct vup_channel *ch, const struct iovec *iov, int iovcnt,
                   size_t skip, const int *fds, unsigned nfds)
{
	size_t total = 0;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	struct vup_outq *q = malloc(sizeof(*q) + total - skip);
	if (!q)
		return -ENOMEM;
	q->next = NULL;
	q->len = total - skip;
	q->off = 0;
	q->nfds = nfds;
	if (nfds)
		memcpy(q->fds, fds, sizeof(int) * nfds);
	size_t at = 0;
	for (int i = 0; i < iovcnt; i++) {
		const uint8_t *b = iov[i].iov_base;
		size_t l = iov[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		memcpy(q->data + at, b + skip, l - skip);
		at += l - skip;
		skip = 0;
	}
	if (ch->tail)
		ch->tail->next = q;
	else
		ch->head = q;
	ch->tail = q;
	ch->out_bytes += q->len;
	ch->out_msgs++;
	return 0;
}

int vup_channel_send(struct vup_channel *ch, const struct vup_hdr *hdr,
                     const uint8_t *payload, const int *fds, unsigned nfds)
{
	int fdcopy[VUP_MAX_FDS];
	assert(nfds <= VUP_MAX_FDS);
	if (nfds)
		memcpy(fdcopy, fds, sizeof(int) * nfds);
	struct iovec iov[2] = {
	        {.iov_base = (void *)hdr, .iov_len = VUP_HDR_SIZE},
	        {.iov_base = (void *)payload, .iov_len = hdr->size},
	};
	int iovcnt = hdr->size ? 2 : 1;
	size_t total = VUP_HDR_SIZE + hdr->size;
	ssize_t n = -EAGAIN;
	if (!ch->head && ch->fd >= 0)
		n = send_some(ch->fd, iov, iovcnt, fdcopy, nfds);
	if (n >= 0) {
		/* The kernel holds its own references now. */
		vup_close_fds(fdcopy, nfds);
		if ((size_t)n == total)
			return 0;
		return enqueue(ch, iov, iovcnt, (size_t)n, NULL, 0);
	}
	if (n != -EAGAIN && n != -EWOULDBLOCK) {
		vup_close_fds(fdcopy, nfds);
		snprintf(ch->why, sizeof(ch->why), "sendmsg: %s",
		         strerror((int)-n));
		return (int)n;
	}
	int rc = enqueue(ch, iov, iovcnt, 0, fdcopy, nfds);
	if (rc)
		vup_close_fds(fdcopy, nfds);
	return rc;
}

int vup_channel_flush(struct vup_channel *ch)
{
	if (ch->fd < 0)
		return ch->head ? 1 : 0;
	while (ch->head) {
		struct vup_outq *q = ch->head;
		struct iovec iov = {.iov_base = q->data + q->off,
		                    .iov_len = q->len - q->off};
		ssize_t n = send_some(ch->fd, &iov, 1, q->fds, q->nfds);
		if (n == -EAGAIN || n == -EWOULDBLOCK)
			return 1;
		if (n < 0) {
			snprintf(ch->why, sizeof(ch->why), "sendmsg: %s",
			         strerror((int)-n));
			return (int)n;
		}
		vup_close_fds(q->fds, q->nfds);
		q->nfds = 0;
		q->off += (size_t)n;
		ch->out_bytes -= (size_t)n;
		if (q->off < q->len)
			continue;
		ch->head = q->next;
		if (!ch->head)
			ch->tail = NULL;
		ch->out_msgs--;
		free(q);
	}
	return 0;
}

void vup_channel_close(struct vup_channel *ch)
{
	if (ch->fd >= 0)
		close(ch->fd);
	ch->fd = -1;
	vup_close_fds(ch->in.fds, ch->in.nfds);
	ch->in.nfds = 0;
	ch->in_got = 0;
	vup_close_fds(ch->pend_fds, ch->pend_nfds);
	ch->pend_nfds = 0;
	ch->pend_lost = false;
	ch->rstart = ch->rend = 0;
	ch->in_ready = false;
	while (ch->head) {
		struct vup_outq *q = ch->head;
		ch->head = q->next;
		vup_close_fds(q->fds, q->nfds);
		free(q);
	}
	ch->tail = NULL;
	ch->out_bytes = 0;
	ch->out_msgs = 0;
}
