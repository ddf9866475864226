/* Unit tests for src/channel.c over real socketpair(AF_UNIX, SOCK_STREAM):
 * framing, fds travelling with the right message, partial input, EOF,
 * limits (payload size, fd count), the outgoing queue, and that no fd is
 * leaked or closed too early (counted in /proc/self/fd). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"
#include "vuproxy/channel.h"

/* ---- helpers ---- */

static int fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

static bool same_file(int a, int b)
{
	struct stat sa, sb;
	if (fstat(a, &sa) || fstat(b, &sb))
		return false;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
	                 0);
}

static int xdup(int fd)
{
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	assert_true(d >= 0);
	return d;
}

/* Channels are big (a 4 KiB payload buffer each): keep them off the stack
 * and start every test with fresh ones. */
static struct vup_channel tx, rx;

static int setup(void **state)
{
	(void)state;
	int sv[2];
	pair(sv);
	vup_channel_init(&tx, sv[0]);
	vup_channel_init(&rx, sv[1]);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	vup_channel_close(&tx);
	vup_channel_close(&rx);
	return 0;
}

/* Raw sendmsg of bytes with fds on the first byte (a peer that is not a
 * vup_channel). */
static void raw_send(int fd, const void *buf, size_t len, const int *fds,
                     unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 64)];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	assert_true(nfds <= 64);
	if (nfds) {
		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	assert_int_equal(sendmsg(fd, &mh, MSG_NOSIGNAL), (ssize_t)len);
}

static void pattern(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7);
}

static int read_msg(struct vup_channel *ch)
{
	int rc = vup_channel_read(ch);
	if (rc != VUP_CH_MSG)
		fail_msg("vup_channel_read: %d (%s)", rc, ch->why);
	return rc;
}

/* Message i of the read-ahead tests: request 100 + i, payload size (a
 * pattern seeded by i) written to wire; returns its length. */
static size_t wire_msg(uint8_t *wire, unsigned i, uint32_t size)
{
	struct vup_hdr h = {100 + i, 1, size};
	memcpy(wire, &h, VUP_HDR_SIZE);
	pattern(wire + VUP_HDR_SIZE, size, i);
	return VUP_HDR_SIZE + size;
}

/* The next message is number i with size bytes and nfds fds, the same
 * files as want[]; its fds are closed. */
static void expect_msg(unsigned i, uint32_t size, const int *want,
                       unsigned nfds)
{
	uint8_t p[VUP_MAX_PAYLOAD];
	read_msg(&rx);
	assert_int_equal(rx.in.hdr.request, 100 + i);
	assert_int_equal(rx.in.hdr.size, size);
	pattern(p, size, i);
	assert_memory_equal(rx.in.payload, p, size);
	if (rx.in.nfds != nfds)
		fail_msg("message %u: %u fds, want %u", i, rx.in.nfds, nfds);
	for (unsigned k = 0; k < nfds; k++)
		assert_true(same_file(rx.in.fds[k], want[k]));
	vup_close_fds(rx.in.fds, rx.in.nfds);
	vup_channel_consume(&rx);
}

static int unread(int fd)
{
	int n = -1;
	assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
	return n;
}

/* ---- tests ---- */

static void empty_socket_is_again(void **state)
{
	(void)state;
	assert_int_equal(vup_channel_read(&rx), VUP_CH_AGAIN);
	assert_int_equal(rx.in_got, 0);
	assert_false(vup_channel_pending(&tx));
	assert_int_equal(vup_channel_flush(&tx), 0);
}

/* Three messages back to back: none, one and two fds.  Each arrives with
 * its own fds (same files), in order, and the sender's copies are closed
 * once sent. */
static void fds_travel_with_their_message(void **state)
{
	(void)state;
	int efd = eventfd(0, EFD_CLOEXEC);
	int mfd = memfd_create("vup-test", MFD_CLOEXEC);
	int pfd[2];
	assert_true(efd >= 0 && mfd >= 0);
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	int base = fd_count();

	struct vup_hdr h1 = {1, 1, 0};
	int none[1] = {-1};
	assert_int_equal(vup_channel_send(&tx, &h1, NULL, none, 0), 0);

	uint8_t kick[8] = {0};
	struct vup_hdr h2 = {12, 1, 8};
	int f2 = xdup(efd);
	assert_int_equal(vup_channel_send(&tx, &h2, kick, &f2, 1), 0);

	uint8_t mt[8 + 2 * 32];
	pattern(mt, sizeof(mt), 3);
	struct vup_hdr h3 = {5, 1, sizeof(mt)};
	int f3[2] = {xdup(mfd), xdup(pfd[0])};
	assert_int_equal(vup_channel_send(&tx, &h3, mt, f3, 2), 0);

	assert_false(vup_channel_pending(&tx));
	assert_int_equal(fd_count(), base); /* the dups were closed */

	read_msg(&rx);
	assert_int_equal(rx.in.hdr.request, 1);
	assert_int_equal(rx.in.hdr.size, 0);
	assert_int_equal(rx.in.nfds, 0);
	vup_channel_consume(&rx);

	read_msg(&rx);
	assert_int_equal(rx.in.hdr.request, 12);
	assert_int_equal(rx.in.hdr.size, 8);
	assert_int_equal(rx.in.nfds, 1);
	assert_true(same_file(rx.in.fds[0], efd));
	vup_close_fds(rx.in.fds, rx.in.nfds);
	vup_channel_consume(&rx);

	read_msg(&rx);
	assert_int_equal(rx.in.hdr.request, 5);
	assert_int_equal(rx.in.hdr.size, sizeof(mt));
	assert_memory_equal(rx.in.payload, mt, sizeof(mt));
	assert_int_equal(rx.in.nfds, 2);
	assert_true(same_file(rx.in.fds[0], mfd));
	assert_true(same_file(rx.in.fds[1], pfd[0]));
	vup_close_fds(rx.in.fds, rx.in.nfds);
	vup_channel_consume(&rx);

	assert_int_equal(vup_channel_read(&rx), VUP_CH_AGAIN);
	assert_int_equal(fd_count(), base);
	close(efd);
	close(mfd);
	close(pfd[0]);
	close(pfd[1]);
}

/* A message dribbled in one byte at a time (fd on the first byte) is
 * assembled; until the last byte the reader says AGAIN. */
static void one_byte_at_a_time(void **state)
{
	(void)state;
	int efd = memfd_create("vup-test", MFD_CLOEXEC);
	uint8_t wire[12 + 8];
	struct vup_hdr h = {13, 1 | VUP_FLAG_NEED_REPLY, 8};
	memcpy(wire, &h, 12);
	uint64_t v = 0x0102030405060708ull;
	memcpy(wire + 12, &v, 8);
	int d = xdup(efd);
	raw_send(tx.fd, wire, 1, &d, 1);
	close(d);
	for (size_t i = 1; i < sizeof(wire); i++) {
		assert_int_equal(vup_channel_read(&rx), VUP_CH_AGAIN);
		assert_int_equal(rx.in_got, i);
		assert_int_equal(rx.in.nfds, 1);
		usleep(200);
		raw_send(tx.fd, wire + i, 1, NULL, 0);
	}
	read_msg(&rx);
	assert_int_equal(rx.in.hdr.request, 13);
	assert_int_equal(rx.in.hdr.flags, 1 | VUP_FLAG_NEED_REPLY);
	assert_int_equal(rx.in.hdr.size, 8);
	assert_memory_equal(rx.in.payload, &v, 8);
	assert_int_equal(rx.in.nfds, 1);
	assert_true(same_file(rx.in.fds[0], efd));
	vup_close_fds(rx.in.fds, rx.in.nfds);
	vup_channel_consume(&rx);
	assert_int_equal(vup_channel_read(&rx), VUP_CH_AGAIN);
	close(efd);
}

static void eof_clean(void **state)
{
	(void)state;
	close(tx.fd);
	tx.fd = -1;
	assert_int_equal(vup_channel_read(&rx), VUP_CH_EOF);
	assert_int_equal(rx.in_got, 0);
	assert_string_equal(rx.why, "closed");
}

static void eof_mid_header(void **state)
{
	(void)state;
	struct vup_hdr h = {1, 1, 0};
	raw_send(tx.fd, &h, 5, NULL, 0);
	close(tx.fd);
	tx.fd = -1;
	assert_int_equal(vup_channel_read(&rx), VUP_CH_EOF);
	assert_int_equal(rx.in_got, 5);
	assert_contains(rx.why, "closed mid-message");
	assert_contains(rx.why, "5 of 12");
}

/* 15 of a 20-byte message (an fd on its first byte), then EOF; with
 * whole_first, a whole message read ahead with them is handed out first. */
static void eof_after_part(bool whole_first)
{
	int efd = eventfd(0, EFD_CLOEXEC);
	int base = fd_count();
	uint8_t wire[12 + 8] = {0}, w0[64];
	struct vup_hdr h = {2, 1, 8};
	memcpy(wire, &h, 12);
	if (whole_first)
		raw_send(tx.fd, w0, wire_msg(w0, 0, 8), NULL, 0);
	int d = xdup(efd);
	raw_send(tx.fd, wire, 15, &d, 1);
	close(d);
	close(tx.fd);
	tx.fd = -1;
	if (whole_first)
		expect_msg(0, 8, NULL, 0);
	assert_int_equal(vup_channel_read(&rx), VUP_CH_EOF);
	assert_int_equal(rx.in_got, 15);
	assert_int_equal(rx.in.nfds, 1);
	assert_contains(rx.why, "closed mid-message");
	assert_contains(rx.why, "15 of 20");
	/* The half-received message's fd is released by close. */
	vup_channel_close(&rx);
	assert_int_equal(fd_count(), base - 2);
	close(efd);
}

static void eof_mid_payload(void **state)
{
	(void)state;
	eof_after_part(false);
}

static void payload_limit(void **state)
{
	(void)state;
	/* Exactly the limit is fine. */
	static uint8_t wire[12 + VUP_MAX_PAYLOAD];
	struct vup_hdr h = {26, 1, VUP_MAX_PAYLOAD};
	memcpy(wire, &h, 12);
	pattern(wire + 12, VUP_MAX_PAYLOAD, 9);
	raw_send(tx.fd, wire, sizeof(wire), NULL, 0);
	read_msg(&rx);
	assert_int_equal(rx.in.hdr.size, VUP_MAX_PAYLOAD);
	assert_memory_equal(rx.in.payload, wire + 12, VUP_MAX_PAYLOAD);
	vup_channel_consume(&rx);
	/* One more is refused as soon as the header is in. */
	h.size = VUP_MAX_PAYLOAD + 1;
	raw_send(tx.fd, &h, 12, NULL, 0);
	assert_int_equal(vup_channel_read(&rx), -EMSGSIZE);
	assert_contains(rx.why, "4097");
}

static void payload_limit_huge(void **state)
{
	(void)state;
	struct vup_hdr h = {99, 1, 0xffffffffu};
	raw_send(tx.fd, &h, 12, NULL, 0);
	assert_int_equal(vup_channel_read(&rx), -EMSGSIZE);
	assert_contains(rx.why, "4294967295");
}

static void max_fds_pass(void **state)
{
	(void)state;
	int efd = eventfd(0, EFD_CLOEXEC);
	int base = fd_count();
	int fds[VUP_MAX_FDS];
	for (unsigned i = 0; i < VUP_MAX_FDS; i++)
		fds[i] = xdup(efd);
	struct vup_hdr h = {99, 1, 0};
	assert_int_equal(vup_channel_send(&tx, &h, NULL, fds, VUP_MAX_FDS), 0);
	assert_int_equal(fd_count(), base);
	read_msg(&rx);
	assert_int_equal(rx.in.nfds, VUP_MAX_FDS);
	for (unsigned i = 0; i < VUP_MAX_FDS; i++)
		assert_true(same_file(rx.in.fds[i], efd));
	assert_int_equal(fd_count(), base + VUP_MAX_FDS);
	vup_close_fds(rx.in.fds, rx.in.nfds);
	vup_channel_consume(&rx);
	assert_int_equal(fd_count(), base);
	close(efd);
}

/* More fds than the channel has room for: -ENOBUFS, reported as
 * MSG_CTRUNC, and none of them stays open after the channel closes. */
static void too_many_fds(void **state)
{
	(void)state;
	int efd = eventfd(0, EFD_CLOEXEC);
	int base = fd_count();
	enum { N = VUP_MAX_FDS + 8 };
	int fds[N];
	for (int i = 0; i < N; i++)
		fds[i] = xdup(efd);
	struct vup_hdr h = {99, 1, 0};
	raw_send(tx.fd, &h, 12, fds, N);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	assert_int_equal(fd_count(), base);
	assert_int_equal(vup_channel_read(&rx), -ENOBUFS);
	assert_contains(rx.why, "MSG_CTRUNC");
	vup_channel_close(&rx);
	assert_int_equal(fd_count(), base - 1); /* rx's socket */
	close(efd);
}

/* Fill the socket (tiny SO_SNDBUF, peer not reading) so that sends queue;
 * then let the peer read while flushing: every byte arrives in order and
 * every fd with its own message; all the sender's fd copies end closed. */
static void outgoing_queue(void **state)
{
	(void)state;
	enum { N = 48 };
	int one = 1;
	assert_int_equal(
	        setsockopt(tx.fd, SOL_SOCKET, SO_SNDBUF, &one, sizeof(one)), 0);
	int orig[N];
	/* memfds: each is its own file, unlike eventfds (one anon inode). */
	for (int i = 0; i < N; i++)
		orig[i] =
		        i % 3 == 1 ? memfd_create("vup-test", MFD_CLOEXEC) : -1;
	assert_false(same_file(orig[1], orig[4]));
	int base = fd_count();
	static uint8_t payload[VUP_MAX_PAYLOAD];
	bool queued_at = false;
	for (int i = 0; i < N; i++) {
		uint32_t size = i % 4 == 0 ? VUP_MAX_PAYLOAD : 100u + i;
		struct vup_hdr h = {99, 1, size};
		pattern(payload, size, (unsigned)i);
		memcpy(payload, &i, sizeof(i));
		int d = orig[i] >= 0 ? xdup(orig[i]) : -1;
		assert_int_equal(vup_channel_send(&tx, &h, payload, &d,
		                                  orig[i] >= 0 ? 1 : 0),
		                 0);
		queued_at = queued_at || vup_channel_pending(&tx);
	}
	assert_true(queued_at);
	assert_true(vup_channel_pending(&tx));
	assert_true(tx.out_msgs > 0);
	assert_true(tx.out_bytes > 0);
	/* The peer still does not read: flushing cannot finish. */
	assert_int_equal(vup_channel_flush(&tx), 1);
	assert_true(vup_channel_pending(&tx));
	/* Queued messages still hold their fds. */
	assert_true(fd_count() > base);

	int got = 0, spins = 0;
	while (got < N) {
		assert_true(++spins < 100000);
		int rc = vup_channel_read(&rx);
		if (rc == VUP_CH_AGAIN) {
			assert_true(vup_channel_flush(&tx) >= 0);
			continue;
		}
		if (rc != VUP_CH_MSG)
			fail_msg("message %d: read %d (%s)", got, rc, rx.why);
		uint32_t size = got % 4 == 0 ? VUP_MAX_PAYLOAD : 100u + got;
		assert_int_equal(rx.in.hdr.request, 99);
		assert_int_equal(rx.in.hdr.size, size);
		pattern(payload, size, (unsigned)got);
		memcpy(payload, &got, sizeof(got));
		if (memcmp(rx.in.payload, payload, size) != 0)
			fail_msg("message %d: payload differs", got);
		if (orig[got] >= 0) {
			if (rx.in.nfds != 1)
				fail_msg("message %d: %u fds, want 1", got,
				         rx.in.nfds);
			assert_true(same_file(rx.in.fds[0], orig[got]));
		} else if (rx.in.nfds != 0) {
			fail_msg("message %d: %u fds, want 0", got, rx.in.nfds);
		}
		vup_close_fds(rx.in.fds, rx.in.nfds);
		vup_channel_consume(&rx);
		got++;
	}
	assert_int_equal(vup_channel_read(&rx), VUP_CH_AGAIN);
	assert_int_equal(vup_channel_flush(&tx), 0);
	assert_false(vup_channel_pending(&tx));
	assert_int_equal(tx.out_msgs, 0);
	assert_int_equal(tx.out_bytes, 0);
	assert_int_equal(fd_count(), base);
	for (int i = 0; i < N; i++)
		if (orig[i] >= 0)
			close(orig[i]);
}

/* Queue messages until the socket is full; returns how many were sent. */
static int fill(struct vup_channel *ch)
{
	static uint8_t payload[1024];
	struct vup_hdr h = {99, 1, sizeof(payload)};
	int one = 1;
	assert_int_equal(
	        setsockopt(ch->fd, SOL_SOCKET, SO_SNDBUF, &one, sizeof(one)),
	        0);
	int n = 0;
	while (!vup_channel_pending(ch)) {
		assert_true(n < 10000);
		int none[1] = {-1};
		assert_int_equal(vup_channel_send(ch, &h, payload, none, 0), 0);
		n++;
	}
	return n;
}

static void close_releases_queued_fds(void **state)
{
	(void)state;
	int efd = eventfd(0, EFD_CLOEXEC);
	fill(&tx);
	int base = fd_count();
	for (int i = 0; i < 5; i++) {
		int d[2] = {xdup(efd), xdup(efd)};
		struct vup_hdr h = {5, 1, 0};
		assert_int_equal(vup_channel_send(&tx, &h, NULL, d, 2), 0);
	}
	assert_int_equal(fd_count(), base + 10);
	vup_channel_close(&tx);
	assert_int_equal(tx.fd, -1);
	assert_false(vup_channel_pending(&tx));
	assert_int_equal(tx.out_msgs, 0);
	assert_int_equal(tx.out_bytes, 0);
	assert_int_equal(fd_count(), base - 1); /* and tx's socket */
	close(efd);
}

static void send_to_gone_peer(void **state)
{
	(void)state;
	int efd = eventfd(0, EFD_CLOEXEC);
	vup_channel_close(&rx);
	int base = fd_count();
	int d = xdup(efd);
	struct vup_hdr h = {12, 1, 8};
	uint8_t p[8] = {0};
	int rc = vup_channel_send(&tx, &h, p, &d, 1);
	assert_int_equal(rc, -EPIPE);
	assert_contains(tx.why, "sendmsg");
	assert_int_equal(fd_count(), base);
	close(efd);
}

/* A queued message whose peer goes away: flush fails with -EPIPE. */
static void flush_to_gone_peer(void **state)
{
	(void)state;
	fill(&tx);
	vup_channel_close(&rx);
	/* EPIPE, or ECONNRESET as the peer closed with unread data. */
	int rc = vup_channel_flush(&tx);
	if (rc != -EPIPE && rc != -ECONNRESET)
		fail_msg("flush: %d, want -EPIPE or -ECONNRESET", rc);
	assert_contains(tx.why, "sendmsg");
}

/* A message the socket takes only part of: the rest is queued and
 * follows before anything sent later.  Small messages fill most of a tiny
 * send buffer so that a large one is split (sent in part). */
static void partial_send_queues_the_rest(void **state)
{
	(void)state;
	int one = 1;
	assert_int_equal(
	        setsockopt(tx.fd, SOL_SOCKET, SO_SNDBUF, &one, sizeof(one)), 0);
	static uint8_t payload[VUP_MAX_PAYLOAD];
	int none[1] = {-1};
	int sent = 0;
	bool partial = false;
	while (!vup_channel_pending(&tx)) {
		assert_true(sent < 1000);
		uint32_t size = sent % 3 == 2 ? VUP_MAX_PAYLOAD : 300;
		struct vup_hdr h = {99, 1, size};
		pattern(payload, size, (unsigned)sent);
		assert_int_equal(vup_channel_send(&tx, &h, payload, none, 0),
		                 0);
		partial = vup_channel_pending(&tx) &&
		          tx.out_bytes < VUP_HDR_SIZE + size;
		sent++;
	}
	/* Two more behind it. */
	for (int i = 0; i < 2; i++, sent++) {
		struct vup_hdr h = {99, 1, 300};
		pattern(payload, 300, (unsigned)sent);
		assert_int_equal(vup_channel_send(&tx, &h, payload, none, 0),
		                 0);
	}
	if (!partial)
		print_message("note: the kernel took no message in part\n");
	for (int got = 0, spins = 0; got < sent;) {
		assert_true(++spins < 100000);
		int rc = vup_channel_read(&rx);
		if (rc == VUP_CH_AGAIN) {
			assert_true(vup_channel_flush(&tx) >= 0);
			continue;
		}
		assert_int_equal(rc, VUP_CH_MSG);
		uint32_t size =
		        got % 3 == 2 && got < sent - 2 ? VUP_MAX_PAYLOAD : 300;
		assert_int_equal(rx.in.hdr.size, size);
		pattern(payload, size, (unsigned)got);
		if (memcmp(rx.in.payload, payload, size) != 0)
			fail_msg("message %d: payload differs", got);
		vup_channel_consume(&rx);
		got++;
	}
	assert_int_equal(vup_channel_flush(&tx), 0);
}

/* No fds: the fd array may be NULL. */
static void send_with_null_fd_array(void **state)
{
	(void)state;
	struct vup_hdr h = {1, 1, 0};
	assert_int_equal(vup_channel_send(&tx, &h, NULL, NULL, 0), 0);
	read_msg(&rx);
	assert_int_equal(rx.in.hdr.request, 1);
	assert_int_equal(rx.in.nfds, 0);
}

/* ---- read-ahead: several messages per recvmsg, fds still with theirs ---- */

/* Many messages in one write, no fds: one recvmsg takes them all, and
 * each is handed out whole without the socket being read again (it is
 * empty: a caller that polled would wait forever). */
static void many_messages_one_write(void **state)
{
	(void)state;
	static uint8_t wire[VUP_CH_RBUF];
	size_t len = 0;
	for (unsigned i = 0; i < 40; i++)
		len += wire_msg(wire + len, i, (i * 37) % 200);
	raw_send(tx.fd, wire, len, NULL, 0);
	for (unsigned i = 0; i < 40; i++) {
		expect_msg(i, (i * 37) % 200, NULL, 0);
		assert_int_equal(unread(rx.fd), 0);
		assert_true(i == 39 || vup_channel_buffered(&rx));
	}
	/* Nothing buffered, and the last read found the socket empty: a
	 * relay waits for poll rather than read for EAGAIN. */
	assert_false(vup_channel_buffered(&rx));
	assert_false(vup_channel_more(&rx));
	assert_int_equal(vup_channel_read(&rx), VUP_CH_AGAIN);
}

/* Messages with and without fds, each its own sendmsg, back to back
 * before the reader looks.  Linux joins fd-less data with the next
 * sendmsg's and stops after a sendmsg that carried fds: the first read
 * takes 0 and 1 together (1's fds), the socket keeps 2 and 3.  Every fd
 * reaches its own message and no other. */
static void fds_after_buffered_messages(void **state)
{
	(void)state;
	int m[3];
	for (int k = 0; k < 3; k++)
		m[k] = memfd_create("vup-test", MFD_CLOEXEC);
	int base = fd_count();
	uint8_t w[4][64];
	size_t l0 = wire_msg(w[0], 0, 8), l1 = wire_msg(w[1], 1, 8);
	size_t l2 = wire_msg(w[2], 2, 0), l3 = wire_msg(w[3], 3, 40);
	raw_send(tx.fd, w[0], l0, NULL, 0);
	raw_send(tx.fd, w[1], l1, &m[0], 1);
	raw_send(tx.fd, w[2], l2, NULL, 0);
	raw_send(tx.fd, w[3], l3, &m[1], 2);
	expect_msg(0, 8, NULL, 0);
	assert_int_equal(unread(rx.fd), (int)(l2 + l3));
	expect_msg(1, 8, &m[0], 1);
	expect_msg(2, 0, NULL, 0);
	expect_msg(3, 40, &m[1], 2);
	assert_int_equal(vup_channel_read(&rx), VUP_CH_AGAIN);
	assert_int_equal(fd_count(), base);
	for (int k = 0; k < 3; k++)
		close(m[k]);
}

/* Fd-less messages are read ahead; the next message, with fds, is sent
 * only then: the buffered ones are handed out without fds, the new one
 * with its own. */
static void fds_come_while_messages_buffered(void **state)
{
	(void)state;
	int m = memfd_create("vup-test", MFD_CLOEXEC);
	uint8_t wire[128];
	size_t len = wire_msg(wire, 0, 4);
	len += wire_msg(wire + len, 1, 16);
	raw_send(tx.fd, wire, len, NULL, 0);
	expect_msg(0, 4, NULL, 0);
	uint8_t w2[64];
	size_t l2 = wire_msg(w2, 2, 8);
	raw_send(tx.fd, w2, l2, &m, 1);
	expect_msg(1, 16, NULL, 0);
	expect_msg(2, 8, &m, 1);
	assert_int_equal(vup_channel_read(&rx), VUP_CH_AGAIN);
	close(m);
}

/* A payload split over reads (fds on the first part), then the rest
 * joined by a message with fds of its own; and a header cut short behind
 * a whole message.  Fds stay with the message whose bytes carried them,
 * in_got counts the bytes of the message under way. */
static void split_messages_keep_their_fds(void **state)
{
	(void)state;
	int m[2] = {memfd_create("vup-a", MFD_CLOEXEC),
	            memfd_create("vup-b", MFD_CLOEXEC)};
	int base = fd_count();
	uint8_t a[VUP_HDR_SIZE + 300], b[64], c[64];
	size_t la = wire_msg(a, 0, 300), lb = wire_msg(b, 1, 8);
	size_t lc = wire_msg(c, 2, 8);
	raw_send(tx.fd, a, 100, &m[0], 1);
	assert_int_equal(vup_channel_read(&rx), VUP_CH_AGAIN);
	assert_int_equal(rx.in_got, 100);
	assert_int_equal(rx.in.nfds, 1);
	raw_send(tx.fd, a + 100, la - 100, NULL, 0);
	raw_send(tx.fd, b, lb, &m[1], 1);
	raw_send(tx.fd, c, 5, NULL, 0); /* 5 bytes of a header */
	expect_msg(0, 300, &m[0], 1);
	expect_msg(1, 8, &m[1], 1);
	assert_int_equal(vup_channel_read(&rx), VUP_CH_AGAIN);
	assert_int_equal(rx.in_got, 5);
	assert_int_equal(rx.in.nfds, 0);
	raw_send(tx.fd, c + 5, lc - 5, NULL, 0);
	expect_msg(2, 8, NULL, 0);
	assert_int_equal(fd_count(), base);
	close(m[0]);
	close(m[1]);
}

/* Fds truncated (MSG_CTRUNC) on a message behind a whole fd-less one:
 * that one is handed out intact first, then -ENOBUFS; nothing leaks. */
static void ctrunc_behind_buffered_message(void **state)
{
	(void)state;
	int efd = eventfd(0, EFD_CLOEXEC);
	int base = fd_count();
	enum { N = VUP_MAX_FDS + 8 };
	int fds[N];
	for (int i = 0; i < N; i++)
		fds[i] = xdup(efd);
	uint8_t a[64], b[64];
	size_t la = wire_msg(a, 0, 8), lb = wire_msg(b, 1, 0);
	raw_send(tx.fd, a, la, NULL, 0);
	raw_send(tx.fd, b, lb, fds, N);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	expect_msg(0, 8, NULL, 0);
	assert_true(vup_channel_buffered(&rx)); /* the error waits */
	assert_int_equal(vup_channel_read(&rx), -ENOBUFS);
	assert_contains(rx.why, "MSG_CTRUNC");
	assert_int_equal(rx.in.hdr.request, 101); /* the log can name it */
	assert_int_equal(vup_channel_read(&rx), -ENOBUFS); /* final */
	vup_channel_close(&rx);
	assert_int_equal(fd_count(), base - 1); /* rx's socket */
	close(efd);
}

/* EOF with a whole message and part of the next read ahead: the whole
 * one first, then EOF naming the part; the part's fds are released. */
static void eof_behind_buffered_message(void **state)
{
	(void)state;
	eof_after_part(true);
}

/* An oversized header behind a whole message in the same read: the
 * message first, then -EMSGSIZE. */
static void oversize_behind_buffered_message(void **state)
{
	(void)state;
	uint8_t w[64];
	size_t len = wire_msg(w, 0, 8);
	struct vup_hdr h = {99, 1, VUP_MAX_PAYLOAD + 1};
	memcpy(w + len, &h, VUP_HDR_SIZE);
	raw_send(tx.fd, w, len + VUP_HDR_SIZE, NULL, 0);
	expect_msg(0, 8, NULL, 0);
	assert_true(vup_channel_buffered(&rx));
	assert_int_equal(vup_channel_read(&rx), -EMSGSIZE);
	assert_contains(rx.why, "4097");
}

/* The one sender the bytes cannot tell apart: a single sendmsg carrying
 * the end of a message, fds and the start of the next looks like the two
 * sent apart with the fds on the second, which every real peer does.
 * The fds go to the message holding the last byte read with them
 * (exact reads gave them to the first; see channel.c). */
static void one_sendmsg_two_messages(void **state)
{
	(void)state;
	int m = memfd_create("vup-test", MFD_CLOEXEC);
	uint8_t w[64];
	size_t len = wire_msg(w, 0, 8);
	len += wire_msg(w + len, 1, 8);
	raw_send(tx.fd, w, len, &m, 1);
	expect_msg(0, 8, NULL, 0);
	expect_msg(1, 8, &m, 1);
	close(m);
}

/* The largest messages, several per read-ahead buffer and straddling its
 * end, each with an fd, sent by vup_channel_send while the reader reads:
 * all arrive whole, in order, with their own fd. */
static void large_messages_straddle_buffer(void **state)
{
	(void)state;
	enum { N = 24 };
	int orig[N];
	for (int i = 0; i < N; i++)
		orig[i] = i % 2 ? memfd_create("vup-test", MFD_CLOEXEC) : -1;
	int base = fd_count();
	static uint8_t payload[VUP_MAX_PAYLOAD];
	for (int i = 0; i < N; i++) {
		uint32_t size = i % 3 ? VUP_MAX_PAYLOAD : 1000u + i;
		struct vup_hdr h = {100 + (uint32_t)i, 1, size};
		pattern(payload, size, (unsigned)i);
		int d = orig[i] >= 0 ? xdup(orig[i]) : -1;
		assert_int_equal(vup_channel_send(&tx, &h, payload, &d,
		                                  orig[i] >= 0 ? 1 : 0),
		                 0);
	}
	for (int got = 0, spins = 0; got < N;) {
		assert_true(++spins < 100000);
		if (vup_channel_pending(&tx))
			assert_true(vup_channel_flush(&tx) >= 0);
		if (!vup_channel_buffered(&rx) && unread(rx.fd) == 0)
			continue;
		uint32_t size = got % 3 ? VUP_MAX_PAYLOAD : 1000u + got;
		expect_msg((unsigned)got, size, &orig[got],
		           orig[got] >= 0 ? 1 : 0);
		got++;
	}
	assert_int_equal(vup_channel_read(&rx), VUP_CH_AGAIN);
	assert_int_equal(fd_count(), base);
	for (int i = 0; i < N; i++)
		if (orig[i] >= 0)
			close(orig[i]);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	        T(empty_socket_is_again),
	        T(fds_travel_with_their_message),
	        T(one_byte_at_a_time),
	        T(eof_clean),
	        T(eof_mid_header),
	        T(eof_mid_payload),
	        T(payload_limit),
	        T(payload_limit_huge),
	        T(max_fds_pass),
	        T(too_many_fds),
	        T(close_releases_queued_fds),
	        T(send_to_gone_peer),
	        T(flush_to_gone_peer),
	        T(outgoing_queue),
	        T(partial_send_queues_the_rest),
	        T(send_with_null_fd_array),
	        T(many_messages_one_write),
	        T(fds_after_buffered_messages),
	        T(fds_come_while_messages_buffered),
	        T(split_messages_keep_their_fds),
	        T(ctrunc_behind_buffered_message),
	        T(eof_behind_buffered_message),
	        T(oversize_behind_buffered_message),
	        T(one_sendmsg_two_messages),
	        T(large_messages_straddle_buffer),
	};
#undef T
	return cmocka_run_group_tests_name("channel", tests, NULL, NULL);
}
