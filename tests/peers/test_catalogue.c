/* Every request code of the catalogue crosses vuproxy byte for byte.
 *
 * The front-end sends each main-channel request of the catalogue with a
 * plausible payload and the fds its row asks for; the back-end checks the
 * header, payload and that the fds are the very files sent, then answers
 * (a body for ALWAYS rows, a u64 ack for NEED_REPLY) and the front-end
 * checks the reply the same way.  An unknown code travels unchanged. */
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "peer_test.h"

enum fd_kind { FD_MEMFD, FD_EVENTFD, FD_SOCKET, FD_PIPE };

static bool is_named(const struct vup_msg_type *t, const char *name)
{
	const struct vup_msg_type *n = vup_proto_by_name(name);
	return n && n == t;
}

/* What kind of file a request of this row carries in real life. */
static enum fd_kind kind_for(const struct vup_msg_type *t, bool reply)
{
	if (reply)
		return FD_MEMFD; /* userfaultfd, inflight memfd, dma-buf */
	if (is_named(t, "SET_BACKEND_REQ_FD") || is_named(t, "GPU_SET_SOCKET"))
		return FD_SOCKET;
	if (t->req_layout == VUP_L_VRING_FD || is_named(t, "SET_LOG_FD"))
		return FD_EVENTFD;
	if (t->req_layout == VUP_L_DEVICE_STATE)
		return FD_PIPE;
	return FD_MEMFD;
}

/* Make n fds of a kind; *keep receives the other end of sockets and pipes
 * (or -1), which the caller closes. */
static void make_fds(enum fd_kind k, int *fds, unsigned n, int *keep)
{
	for (unsigned i = 0; i < n; i++) {
		int sv[2];
		keep[i] = -1;
		switch (k) {
		case FD_MEMFD:
			fds[i] = memfd_create("vup-peer", MFD_CLOEXEC);
			assert_true(fds[i] >= 0);
			assert_int_equal(ftruncate(fds[i], 4096), 0);
			break;
		case FD_EVENTFD:
			fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			assert_true(fds[i] >= 0);
			break;
		case FD_SOCKET:
			assert_int_equal(socketpair(AF_UNIX,
			                            SOCK_STREAM | SOCK_CLOEXEC,
			                            0, sv),
			                 0);
			fds[i] = sv[1];
			keep[i] = sv[0];
			break;
		case FD_PIPE:
			assert_int_equal(pipe2(sv, O_CLOEXEC), 0);
			fds[i] = sv[0];
			keep[i] = sv[1];
			break;
		}
	}
}

static void close_all(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* The back-end's copy of an eventfd is the same counter. */
static void check_eventfd(int sent, int got)
{
	uint64_t v = 0x5eed, r = 0;
	assert_int_equal(write(sent, &v, 8), 8);
	assert_int_equal(read(got, &r, 8), 8);
	assert_int_equal(r, v);
}

/* fe sends one request of row t; the back-end sees it as sent. */
static void relay_request(struct peer *fe, struct peer *be,
                          const struct vup_msg_type *t)
{
	uint8_t buf[VUP_MAX_PAYLOAD];
	unsigned nfds;
	uint32_t size = peer_plausible(t, false, buf, sizeof(buf), &nfds);
	uint32_t flags = VUP_FLAG_VERSION;
	if (t->reply != VUP_REPLY_ALWAYS)
		flags |= VUP_FLAG_NEED_REPLY;
	enum fd_kind kind = kind_for(t, false);
	int fds[8], keep[8];
	make_fds(kind, fds, nfds, keep);

	if (is_named(t, "SET_BACKEND_REQ_FD")) {
		/* Interposed: the back-end gets a socket of vuproxy's. */
		struct vup_msg m;
		PEER_OK(peer_send(fe, t->code, flags, buf, size, fds, nfds));
		PEER_OK(peer_recv(be, &m, PEER_TIMEOUT_MS));
		PEER_OK(peer_msg_equal(&m, t->code, flags, buf, size, 1));
		struct stat st;
		assert_int_equal(fstat(m.fds[0], &st), 0);
		assert_true(S_ISSOCK(st.st_mode));
		assert_false(peer_same_file(fds[0], m.fds[0]));
		peer_msg_close(&m);
	} else {
		PEER_OK(peer_relay_check(fe, be, t->code, flags, buf, size, fds,
		                         nfds));
	}
	if (kind == FD_EVENTFD) {
		/* peer_relay_check compared the open files already; show the
		 * counter is shared too, on a fresh round. */
		struct vup_msg m;
		PEER_OK(peer_send(fe, t->code, flags, buf, size, fds, nfds));
		PEER_OK(peer_recv(be, &m, PEER_TIMEOUT_MS));
		check_eventfd(fds[0], m.fds[0]);
		peer_msg_close(&m);
		/* answer the extra request too */
		uint64_t ack = 0;
		PEER_OK(peer_relay_check(be, fe, t->code,
		                         VUP_FLAG_VERSION | VUP_FLAG_REPLY,
		                         &ack, 8, NULL, 0));
	}
	close_all(fds, nfds);
	close_all(keep, nfds);
}

static void relay_reply(struct peer *fe, struct peer *be,
                        const struct vup_msg_type *t)
{
	uint8_t buf[VUP_MAX_PAYLOAD];
	unsigned nfds;
	uint32_t size = peer_plausible(t, true, buf, sizeof(buf), &nfds);
	int fds[8], keep[8];
	make_fds(kind_for(t, true), fds, nfds, keep);
	PEER_OK(peer_relay_check(be, fe, t->code,
	                         VUP_FLAG_VERSION | VUP_FLAG_REPLY, buf, size,
	                         fds, nfds));
	close_all(fds, nfds);
}

static void every_main_request(void **state)
{
	struct peer_fx *fx = *state;
	const char *extra[] = {"-v", NULL};
	PEER_OK(peer_fx_start(fx, "listen", "connect", extra));
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));

	size_t n = vup_proto_count(VUP_CHAN_MAIN);
	assert_true(n >= 45);
	unsigned messages = 0;
	for (size_t i = 0; i < n; i++) {
		const struct vup_msg_type *t = vup_proto_at(VUP_CHAN_MAIN, i);
		relay_request(fe, be, t);
		relay_reply(fe, be, t);
		messages += 2;
		if (t->req_layout == VUP_L_VRING_FD ||
		    is_named(t, "SET_LOG_FD"))
			messages += 2;
	}

	/* A code from a newer spec passes unchanged, fd included. */
	uint8_t payload[24];
	memset(payload, 0xa5, sizeof(payload));
	int fd = memfd_create("vup-unknown", MFD_CLOEXEC);
	assert_true(fd >= 0);
	PEER_OK(peer_relay_check(fe, be, 99, VUP_FLAG_VERSION, payload,
	                         sizeof(payload), &fd, 1));
	uint64_t answer = 0x1234;
	PEER_OK(peer_relay_check(be, fe, 99, VUP_FLAG_VERSION | VUP_FLAG_REPLY,
	                         &answer, 8, NULL, 0));
	close(fd);
	messages += 2;

	/* -v logged each request by name, the unknown one as UNKNOWN. */
	for (size_t i = 0; i < n; i++) {
		const struct vup_msg_type *t = vup_proto_at(VUP_CHAN_MAIN, i);
		char word[64];
		snprintf(word, sizeof(word), " %s ", t->name);
		PEER_LOG(fx, "s1 front-end>back-end", word);
		snprintf(word, sizeof(word), " %s reply", t->name);
		PEER_LOG(fx, "s1 back-end>front-end", word);
	}
	PEER_LOG(fx, "s1 front-end>back-end UNKNOWN(99)", "1 fds");
	PEER_LOG(fx, "s1 back-end>front-end UNKNOWN(99) reply");
	PEER_LOG(fx, "warning:", "unknown request code 99");

	peer_free(fe);
	peer_free(be);
	PEER_OK(vproc_wait_line(&fx->vp, PEER_TIMEOUT_MS, "s1 closed", NULL));
	PEER_OK(peer_fx_stop(fx));
	char counts[128];
	snprintf(counts, sizeof(counts),
	         "vuproxy: 1 sessions (0 failed), %u messages relayed",
	         messages);
	PEER_LOG(fx, counts);
}

/* NEED_REPLY on a request that always has a reply body: one reply, and
 * the session goes on (no owed ack left behind). */
static void need_reply_on_always_request(void **state)
{
	struct peer_fx *fx = *state;
	PEER_OK(peer_fx_start(fx, "listen", "connect", NULL));
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	uint64_t f = 0x140000000ull;
	for (int i = 0; i < 3; i++) {
		PEER_OK(peer_relay_check(fe, be, peer_code("GET_FEATURES"),
		                         VUP_FLAG_VERSION | VUP_FLAG_NEED_REPLY,
		                         NULL, 0, NULL, 0));
		PEER_OK(peer_relay_check(be, fe, peer_code("GET_FEATURES"),
		                         VUP_FLAG_VERSION | VUP_FLAG_REPLY, &f,
		                         8, NULL, 0));
	}
	PEER_OK(peer_get_features(fe, be, f));
	peer_free(fe);
	peer_free(be);
	PEER_OK(peer_fx_stop(fx));
	PEER_LOG(fx, "vuproxy: 1 sessions (0 failed)");
}

/* SET_VRING_KICK/CALL/ERR with NOFD (bit 8) carry no fd, and relay. */
static void vring_nofd(void **state)
{
	struct peer_fx *fx = *state;
	PEER_OK(peer_fx_start(fx, "listen", "connect", NULL));
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	const char *names[] = {"SET_VRING_KICK", "SET_VRING_CALL",
	                       "SET_VRING_ERR"};
	for (int i = 0; i < 3; i++) {
		uint64_t v = 0x100 | (uint64_t)i; /* NOFD, ring i */
		PEER_OK(peer_relay_check(fe, be, peer_code(names[i]),
		                         VUP_FLAG_VERSION, &v, 8, NULL, 0));
	}
	PEER_OK(peer_get_features(fe, be, 1));
	peer_free(fe);
	peer_free(be);
	PEER_OK(peer_fx_stop(fx));
	PEER_LOG(fx, "vuproxy: 1 sessions (0 failed), 5 messages relayed");
}

/* Reserved flag bits are the receiver's business: relayed unchanged,
 * with one warning. */
static void reserved_flag_bits(void **state)
{
	struct peer_fx *fx = *state;
	PEER_OK(peer_fx_start(fx, "listen", "connect", NULL));
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	uint32_t p[2] = {0, 256};
	for (int i = 0; i < 2; i++)
		PEER_OK(peer_relay_check(fe, be, peer_code("SET_VRING_NUM"),
		                         VUP_FLAG_VERSION | 0x100, p, 8, NULL,
		                         0));
	PEER_OK(peer_get_features(fe, be, 1));
	assert_int_equal(vproc_count(&fx->vp, "reserved flag bits 0x100"), 1);
	peer_free(fe);
	peer_free(be);
	PEER_OK(peer_fx_stop(fx));
	PEER_LOG(fx, "vuproxy: 1 sessions (0 failed)");
}

/* Payloads whose shape depends on what was negotiated: XEN_MMAP regions
 * (40 bytes), the postcopy echo of the memory table followed by the
 * front-end's ack and the back-end's REPLY_ACK, SET_LOG_BASE answered
 * with an empty body (DPDK) or a u64 (libvhost-user) under LOG_SHMFD,
 * and POSTCOPY_ADVISE answered with the userfaultfd. */
static void negotiated_variants(void **state)
{
	struct peer_fx *fx = *state;
	PEER_OK(peer_fx_start(fx, "listen", "connect", NULL));
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	const uint32_t V = VUP_FLAG_VERSION, R = VUP_FLAG_REPLY,
	               NR = VUP_FLAG_NEED_REPLY;
	uint64_t pf = 1ull << VUP_PF_REPLY_ACK | 1ull << VUP_PF_LOG_SHMFD |
	              1ull << 8 /* PAGEFAULT */ | 1ull << VUP_PF_XEN_MMAP |
	              1ull << VUP_PF_CONFIGURE_MEM_SLOTS;
	PEER_OK(peer_relay_check(fe, be, peer_code("SET_PROTOCOL_FEATURES"), V,
	                         &pf, 8, NULL, 0));

	/* Two 40-byte regions, each with its memfd. */
	uint8_t table[8 + 2 * 40];
	memset(table, 0x11, sizeof(table));
	uint32_t n = 2, pad = 0;
	memcpy(table, &n, 4);
	memcpy(table + 4, &pad, 4);
	int fds[2], keep[2];
	make_fds(FD_MEMFD, fds, 2, keep);
	uint32_t smt = peer_code("SET_MEM_TABLE");
	PEER_OK(peer_relay_check(fe, be, smt, V | NR, table, sizeof(table), fds,
	                         2));
	/* Postcopy: the back-end echoes the table with its own addresses. */
	memset(table + 8, 0x22, 2 * 40);
	PEER_OK(peer_relay_check(be, fe, smt, V | R, table, sizeof(table), NULL,
	                         0));
	/* The front-end acks with a bare u64 SET_MEM_TABLE... */
	uint64_t zero = 0;
	PEER_OK(peer_relay_check(fe, be, smt, V | NR, &zero, 8, NULL, 0));
	/* ...and the back-end's REPLY_ACK closes the exchange. */
	PEER_OK(peer_relay_check(be, fe, smt, V | R, &zero, 8, NULL, 0));
	close_all(fds, 2);

	/* ADD_MEM_REG with a 40-byte region: 48 bytes, echoed. */
	uint8_t reg[48];
	memset(reg, 0x33, sizeof(reg));
	memset(reg, 0, 8);
	uint32_t amr = peer_code("ADD_MEM_REG");
	make_fds(FD_MEMFD, fds, 1, keep);
	PEER_OK(peer_relay_check(fe, be, amr, V | NR, reg, sizeof(reg), fds,
	                         1));
	PEER_OK(peer_relay_check(be, fe, amr, V | R, reg, sizeof(reg), NULL,
	                         0));
	close_all(fds, 1);

	/* SET_LOG_BASE under LOG_SHMFD: a reply always comes. */
	uint64_t log[2] = {0x10000, 0};
	uint32_t slb = peer_code("SET_LOG_BASE");
	make_fds(FD_MEMFD, fds, 1, keep);
	PEER_OK(peer_relay_check(fe, be, slb, V, log, 16, fds, 1));
	PEER_OK(peer_relay_check(be, fe, slb, V | R, NULL, 0, NULL, 0));
	PEER_OK(peer_relay_check(fe, be, slb, V, log, 16, fds, 1));
	PEER_OK(peer_relay_check(be, fe, slb, V | R, &zero, 8, NULL, 0));
	close_all(fds, 1);

	/* POSTCOPY_ADVISE: the reply carries the userfaultfd. */
	uint32_t pa = peer_code("POSTCOPY_ADVISE");
	PEER_OK(peer_relay_check(fe, be, pa, V, NULL, 0, NULL, 0));
	make_fds(FD_MEMFD, fds, 1, keep);
	PEER_OK(peer_relay_check(be, fe, pa, V | R, &zero, 8, fds, 1));
	close_all(fds, 1);

	PEER_OK(peer_get_features(fe, be, 1));
	peer_free(fe);
	peer_free(be);
	PEER_OK(peer_fx_stop(fx));
	PEER_LOG(fx, "vuproxy: 1 sessions (0 failed), 15 messages relayed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        PEER_TEST(every_main_request),
	        PEER_TEST(need_reply_on_always_request),
	        PEER_TEST(vring_nofd),
	        PEER_TEST(reserved_flag_bits),
	        PEER_TEST(negotiated_variants),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
