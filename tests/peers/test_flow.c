/* Flow: a slow back-end (vuproxy's memory stays bounded, nothing is lost
 * or reordered), messages written in tiny pieces with pauses, many
 * messages in one write, and a front-end that hangs up right after a
 * burst. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "peer_test.h"

#define V  VUP_FLAG_VERSION
#define R  VUP_FLAG_REPLY
#define NR VUP_FLAG_NEED_REPLY

#define MSG_BYTES 20 /* SET_VRING_NUM: header + {index, num} */

#define SLOW_COUNT 100000

/* n SET_VRING_NUM messages, num = 0..n-1, back to back (static: a failed
 * test leaks nothing). */
static uint8_t *burst(uint32_t n, size_t *len)
{
	static uint8_t buf[(size_t)SLOW_COUNT * MSG_BYTES];
	assert_true(n <= SLOW_COUNT);
	*len = (size_t)n * MSG_BYTES;
	struct vup_hdr h = {peer_code("SET_VRING_NUM"), V, 8};
	for (uint32_t i = 0; i < n; i++) {
		uint32_t p[2] = {0, i};
		memcpy(buf + (size_t)i * MSG_BYTES, &h, 12);
		memcpy(buf + (size_t)i * MSG_BYTES + 12, p, 8);
	}
	return buf;
}

/* Write what the socket takes now; the new offset. */
static size_t write_some(int fd, const uint8_t *buf, size_t off, size_t len)
{
	while (off < len) {
		size_t chunk = len - off > 65536 ? 65536 : len - off;
		ssize_t n =
		        send(fd, buf + off, chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0)
			fail_msg("front-end send: %m");
		off += (size_t)n;
	}
	return off;
}

/* Read every message the back-end has now; check each is the next in
 * order.  Returns how many were read. */
static uint32_t read_in_order(struct peer *be, uint32_t *next)
{
	uint32_t got = 0;
	uint32_t code = peer_code("SET_VRING_NUM");
	for (;;) {
		int rc = vup_channel_read(&be->ch);
		if (rc == VUP_CH_AGAIN)
			return got;
		if (rc != VUP_CH_MSG)
			fail_msg("back-end read after %u messages: %d %s",
			         *next, rc, be->ch.why);
		const struct vup_msg *m = &be->ch.in;
		uint32_t p[2];
		memcpy(p, m->payload, 8);
		if (m->hdr.request != code || m->hdr.flags != V ||
		    m->hdr.size != 8 || m->nfds || p[0] != 0 || p[1] != *next)
			fail_msg("message %u arrived as {request %u flags 0x%x "
			         "size %u num %u}",
			         *next, m->hdr.request, m->hdr.flags,
			         m->hdr.size, p[1]);
		vup_channel_consume(&be->ch);
		(*next)++;
		got++;
	}
}

static void slow_backend(void **state)
{
	struct peer_fx *fx = *state;
	PEER_OK(peer_fx_start(fx, "listen", "connect", NULL));
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	PEER_OK(peer_get_features(fe, be, 1));
	unsigned long rss0 = vproc_rss_kib(&fx->vp);

	size_t len, off = 0;
	uint8_t *buf = burst(SLOW_COUNT, &len);
	/* Phase 1: the back-end reads nothing; the front-end writes until
	 * its writes have failed with EAGAIN for 300 ms straight. */
	uint64_t stalled_since = 0;
	for (;;) {
		size_t now = write_some(fe->ch.fd, buf, off, len);
		if (now == len)
			fail_msg("all %u messages (%zu bytes) were taken while "
			         "the back-end read nothing: vuproxy queues "
			         "without bound",
			         SLOW_COUNT, len);
		if (now != off) {
			off = now;
			stalled_since = 0;
		} else if (!stalled_since) {
			stalled_since = peer_now_ms();
		} else if (peer_now_ms() - stalled_since >= 300) {
			break;
		}
		peer_sleep_ms(5);
	}
	unsigned long rss1 = vproc_rss_kib(&fx->vp);
	print_message("slow back-end: front-end blocked after %zu of %u "
	              "messages; vuproxy RSS %lu -> %lu KiB\n",
	              off / MSG_BYTES, SLOW_COUNT, rss0, rss1);
	/* Held in vuproxy: at most its queue limit plus socket buffers. */
	assert_true(off / MSG_BYTES < SLOW_COUNT / 2);
	assert_true(rss1 < rss0 + 16 * 1024);

	/* Phase 2: the back-end reads everything, in order. */
	uint32_t next = 0;
	uint64_t last_progress = peer_now_ms();
	while (next < SLOW_COUNT) {
		struct pollfd pfd[2] = {
		        {.fd = be->ch.fd, .events = POLLIN},
		        {.fd = fe->ch.fd, .events = off < len ? POLLOUT : 0},
		};
		poll(pfd, 2, 100);
		if (off < len)
			off = write_some(fe->ch.fd, buf, off, len);
		if (read_in_order(be, &next))
			last_progress = peer_now_ms();
		if (peer_now_ms() - last_progress > PEER_TIMEOUT_MS)
			fail_msg("stuck: %u of %u messages arrived, %zu of %zu "
			         "bytes sent",
			         next, SLOW_COUNT, off, len);
	}
	PEER_OK(peer_expect_silence(be, 50));
	PEER_OK(peer_get_features(fe, be, 2));
	peer_free(fe);
	PEER_OK(peer_expect_eof(be, PEER_TIMEOUT_MS));
	peer_free(be);
	PEER_OK(peer_fx_stop(fx));
	char line[128];
	snprintf(line, sizeof(line),
	         "vuproxy: 1 sessions (0 failed), %u messages relayed",
	         SLOW_COUNT + 4);
	PEER_LOG(fx, line);
}

/* The same with an fd on every message: queued messages keep their own
 * fds, in order.  Message i carries a memfd of size i + 1. */
#define FD_COUNT 2000

static void slow_backend_with_fds(void **state)
{
	struct peer_fx *fx = *state;
	PEER_OK(peer_fx_start(fx, "listen", "connect", NULL));
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	uint32_t call = peer_code("SET_VRING_CALL");
	uint32_t sent = 0, next = 0;
	bool blocked = false;
	uint64_t last_progress = peer_now_ms();
	while (next < FD_COUNT) {
		/* Send until the front-end would block... */
		while (sent < FD_COUNT) {
			uint8_t msg[20];
			struct vup_hdr h = {call, V, 8};
			uint64_t ring = sent & 0xff;
			memcpy(msg, &h, 12);
			memcpy(msg + 12, &ring, 8);
			int fd = memfd_create("vup-q", MFD_CLOEXEC);
			assert_true(fd >= 0);
			assert_int_equal(ftruncate(fd, sent + 1), 0);
			struct iovec iov = {msg, sizeof(msg)};
			union {
				char buf[CMSG_SPACE(sizeof(int))];
				struct cmsghdr align;
			} cb;
			memset(&cb, 0, sizeof(cb));
			struct msghdr mh = {.msg_iov = &iov,
			                    .msg_iovlen = 1,
			                    .msg_control = cb.buf,
			                    .msg_controllen = sizeof(cb.buf)};
			struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &fd, sizeof(int));
			ssize_t n = sendmsg(fe->ch.fd, &mh,
			                    MSG_DONTWAIT | MSG_NOSIGNAL);
			close(fd);
			if (n < 0 && errno == EAGAIN) {
				blocked = true;
				break;
			}
			assert_int_equal(n, (ssize_t)sizeof(msg));
			sent++;
		}
		/* ...and only then let the back-end read (a bit). */
		if (sent < FD_COUNT && !blocked)
			continue;
		struct vup_msg m;
		for (int i = 0; i < 64 && next < sent; i++) {
			int rc = peer_recv(be, &m, i ? 0 : 100);
			if (rc == -ETIMEDOUT)
				break;
			PEER_OK(rc);
			uint64_t ring = next & 0xff;
			PEER_OK(peer_msg_equal(&m, call, V, &ring, 8, 1));
			struct stat st;
			assert_int_equal(fstat(m.fds[0], &st), 0);
			if (st.st_size != (off_t)next + 1)
				fail_msg("message %u carries the fd of message "
				         "%ld",
				         next, (long)st.st_size - 1);
			peer_msg_close(&m);
			next++;
			last_progress = peer_now_ms();
		}
		if (peer_now_ms() - last_progress > PEER_TIMEOUT_MS)
			fail_msg("stuck at %u of %u sent, %u received", sent,
			         FD_COUNT, next);
	}
	assert_true(blocked);
	PEER_OK(peer_get_features(fe, be, 1));
	peer_free(fe);
	peer_free(be);
	PEER_OK(peer_fx_stop(fx));
	PEER_LOG(fx, "vuproxy: 1 sessions (0 failed)");
}

/* The front-end writes a burst the slow back-end has not read yet, then
 * hangs up.  Everything it sent before hanging up still reaches the
 * back-end, then EOF, as on a direct connection. */
static void frontend_hangs_up_after_burst(void **state)
{
	struct peer_fx *fx = *state;
	PEER_OK(peer_fx_start(fx, "listen", "connect", NULL));
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	const uint32_t count = 3000;
	size_t len;
	uint8_t *buf = burst(count, &len);
	PEER_OK(peer_send_raw(fe->ch.fd, buf, len, NULL, 0));
	peer_sleep_ms(200); /* vuproxy has read what it could */
	peer_free(fe);
	peer_sleep_ms(100);
	/* A slow reader: 20 messages every 2 ms, so that vuproxy always has
	 * some queued for it. */
	uint32_t next = 0;
	uint64_t end = peer_now_ms() + PEER_TIMEOUT_MS;
	for (int rc = VUP_CH_MSG; rc == VUP_CH_MSG || rc == VUP_CH_AGAIN;) {
		if (peer_now_ms() > end)
			fail_msg("no EOF after %u messages", next);
		peer_sleep_ms(2);
		for (int i = 0; i < 20; i++) {
			rc = vup_channel_read(&be->ch);
			if (rc != VUP_CH_MSG)
				break;
			uint32_t p[2];
			memcpy(p, be->ch.in.payload, 8);
			assert_int_equal(p[1], next);
			vup_channel_consume(&be->ch);
			next++;
		}
	}
	peer_free(be);
	if (next != count)
		fail_msg("the back-end got %u of the %u messages the front-end "
		         "sent before hanging up; vuproxy discarded %u queued "
		         "messages",
		         next, count, count - next);
	PEER_OK(peer_fx_stop(fx));
}

/* Header and payload written a byte or a few at a time with pauses, fds
 * on the first byte: reassembled and relayed whole. */
static void split_writes(void **state)
{
	struct peer_fx *fx = *state;
	const char *extra[] = {"-v", NULL};
	PEER_OK(peer_fx_start(fx, "listen", "connect", extra));
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));

	/* SET_VRING_KICK with its eventfd, one byte per write, 10 ms apart. */
	uint32_t kick = peer_code("SET_VRING_KICK");
	uint8_t msg[20];
	struct vup_hdr h = {kick, V | NR, 8};
	uint64_t ring = 1;
	memcpy(msg, &h, 12);
	memcpy(msg + 12, &ring, 8);
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(efd >= 0);
	PEER_OK(peer_send_split(fe->ch.fd, msg, sizeof(msg), 1, 10, &efd, 1));
	struct vup_msg m;
	PEER_OK(peer_recv(be, &m, PEER_TIMEOUT_MS));
	PEER_OK(peer_msg_equal(&m, kick, V | NR, &ring, 8, 1));
	assert_true(peer_same_file(efd, m.fds[0]));
	peer_msg_close(&m);
	close(efd);

	/* The ack back, 3 + 4 + 5 + 8 bytes with 50 ms pauses. */
	uint8_t ack[20];
	struct vup_hdr ah = {kick, V | R, 8};
	uint64_t zero = 0;
	memcpy(ack, &ah, 12);
	memcpy(ack + 12, &zero, 8);
	size_t cuts[] = {0, 3, 7, 12, 20};
	for (int i = 0; i < 4; i++) {
		PEER_OK(peer_send_raw(be->ch.fd, ack + cuts[i],
		                      cuts[i + 1] - cuts[i], NULL, 0));
		peer_sleep_ms(50);
	}
	PEER_OK(peer_recv(fe, &m, PEER_TIMEOUT_MS));
	PEER_OK(peer_msg_equal(&m, kick, V | R, &zero, 8, 0));

	/* A 2 KiB reply in 100-byte pieces. */
	uint32_t shm = peer_code("GET_SHMEM_CONFIG");
	PEER_OK(peer_relay_check(fe, be, shm, V, NULL, 0, NULL, 0));
	static uint8_t big[12 + 2056];
	unsigned nfds;
	uint32_t size = peer_plausible(vup_proto_by_name("GET_SHMEM_CONFIG"),
	                               true, big + 12, sizeof(big) - 12, &nfds);
	struct vup_hdr bh = {shm, V | R, size};
	memcpy(big, &bh, 12);
	PEER_OK(peer_send_split(be->ch.fd, big, 12 + size, 100, 1, NULL, 0));
	PEER_OK(peer_recv(fe, &m, PEER_TIMEOUT_MS));
	PEER_OK(peer_msg_equal(&m, shm, V | R, big + 12, size, 0));

	/* Many messages in one write come out as many messages. */
	size_t len;
	uint8_t *buf = burst(50, &len);
	PEER_OK(peer_send_raw(fe->ch.fd, buf, len, NULL, 0));
	uint32_t next = 0;
	uint64_t end = peer_now_ms() + PEER_TIMEOUT_MS;
	while (next < 50 && peer_now_ms() < end) {
		struct pollfd pfd = {.fd = be->ch.fd, .events = POLLIN};
		poll(&pfd, 1, 100);
		read_in_order(be, &next);
	}
	assert_int_equal(next, 50);
	PEER_LOG(fx, "s1 front-end>back-end SET_VRING_KICK need_reply",
	         "(8 B, 1 fds)");

	peer_free(fe);
	peer_free(be);
	PEER_OK(peer_fx_stop(fx));
	PEER_LOG(fx, "vuproxy: 1 sessions (0 failed), 54 messages relayed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        PEER_TEST(slow_backend),
	        PEER_TEST(slow_backend_with_fds),
	        PEER_TEST(frontend_hangs_up_after_burst),
	        PEER_TEST(split_writes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
