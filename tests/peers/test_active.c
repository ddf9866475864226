/* --active net through the real binary, with scripted peers in the
 * message order of DPDK's virtio-user (features, SET_MEM_TABLE, then per
 * vring CALL, NUM, BASE, ADDR, KICK) and a scripted back-end that reads
 * the shadow ring the way a vhost back-end does (it maps the region
 * vuproxy appended and follows SET_VRING_ADDR's addresses).
 *
 *  - the offers lose RING_PACKED, IN_ORDER and the protocol bits vuproxy
 *    cannot shadow;
 *  - SET_MEM_TABLE reaches the back-end with one more region, 1 GiB
 *    aligned above the guest's, whose fd covers it;
 *  - SET_VRING_ADDR reaches it with addresses inside that region, log
 *    unchanged; the eventfds it receives are not the front-end's;
 *  - a chain the guest offers appears in the shadow ring, its completion
 *    in the guest's used ring, with a call on the guest's fd, and
 *    GET_VRING_BASE answers the guest's base;
 *  - 8 regions, or ACCESS_PLATFORM: passthrough, one log line, messages
 *    unchanged.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "peer_test.h"
#include "vuproxy/bits.h"

#define NUM       256u
#define GUEST_SZ  0x10000u
#define GUEST_UA  0x7f0000000000ull
#define DESC_OFF  0x0000u
#define AVAIL_OFF 0x1000u
#define USED_OFF  0x2000u
#define DATA_GPA  0x8000u
#define GIB       (1ull << 30)

#define F(b)  (1ull << VUP_F_##b)
#define PF(b) (1ull << VUP_PF_##b)

static uint32_t code(const char *name)
{
	return peer_code(name);
}

/* fe sends a request; be receives it (returned in m). */
static void pass(struct peer *fe, struct peer *be, const char *req,
                 const void *p, uint32_t size, const int *fds, unsigned nfds,
                 struct vup_msg *m)
{
	PEER_OK(peer_send(fe, code(req), VUP_FLAG_VERSION, p, size, fds, nfds));
	assert_int_equal(peer_recv(be, m, PEER_TIMEOUT_MS), 1);
	assert_int_equal(m->hdr.request, code(req));
}

/* be answers a u64 reply; returns what fe receives. */
static uint64_t answer_u64(struct peer *fe, struct peer *be, const char *req,
                           uint64_t x)
{
	struct vup_msg m;
	PEER_OK(peer_send(fe, code(req), VUP_FLAG_VERSION, NULL, 0, NULL, 0));
	assert_int_equal(peer_recv(be, &m, PEER_TIMEOUT_MS), 1);
	PEER_OK(peer_send(be, code(req), VUP_FLAG_VERSION | VUP_FLAG_REPLY, &x,
	                  8, NULL, 0));
	assert_int_equal(peer_recv(fe, &m, PEER_TIMEOUT_MS), 1);
	uint64_t got;
	memcpy(&got, m.payload, 8);
	return got;
}

static void u32s(uint8_t *p, uint32_t a, uint32_t b)
{
	memcpy(p, &a, 4);
	memcpy(p + 4, &b, 4);
}

/* A table of n regions of the guest memfd's first 64 KiB (region i at
 * gpa i * 64 KiB, uaddr GUEST_UA + i * 64 KiB). */
static uint32_t table(uint8_t *p, unsigned n)
{
	u32s(p, n, 0);
	for (unsigned i = 0; i < n; i++) {
		uint64_t r[4] = {(uint64_t)i * GUEST_SZ, GUEST_SZ,
		                 GUEST_UA + (uint64_t)i * GUEST_SZ, 0};
		memcpy(p + 8 + 32 * i, r, 32);
	}
	return 8 + 32 * n;
}

static int guest_memfd(unsigned n)
{
	int fd = memfd_create("guest", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)GUEST_SZ * n), 0);
	return fd;
}

static void start(struct peer_fx *fx, struct peer **fe, struct peer **be)
{
	const char *extra[] = {"--active", "net", "-v", NULL};
	PEER_OK(peer_fx_start(fx, "listen", "connect", extra));
	PEER_OK(peer_fx_session(fx, fe, be));
}

static uint16_t ld16(const volatile uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static bool wait16(const volatile uint8_t *p, uint16_t want)
{
	for (int i = 0; i < 2000 && ld16(p) != want; i++)
		peer_sleep_ms(1);
	return ld16(p) == want;
}

static bool readable(int fd, int ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	return poll(&pfd, 1, ms) == 1;
}

/* pipes: the front-end's call fd is a pipe nobody reads, already full
 * and blocking, and its kick fd a pipe whose writer then closes: neither
 * may stop vuproxy's loop (a blocking write, a poll that fires for ever). */
static void shadowed(struct peer_fx *fx, bool pipes)
{
	struct peer *fe, *be;
	start(fx, &fe, &be);

	uint64_t offer = F(VERSION_1) | F(RING_PACKED) | F(IN_ORDER) |
	                 F(PROTOCOL_FEATURES) | F(INDIRECT_DESC);
	assert_int_equal(answer_u64(fe, be, "GET_FEATURES", offer),
	                 offer & ~(F(RING_PACKED) | F(IN_ORDER)));
	uint64_t pf = PF(MQ) | PF(HOST_NOTIFIER) | PF(INBAND_NOTIFICATIONS) |
	              PF(PAGEFAULT) | PF(INFLIGHT_SHMFD) |
	              PF(CONFIGURE_MEM_SLOTS);
	assert_int_equal(answer_u64(fe, be, "GET_PROTOCOL_FEATURES", pf),
	                 PF(MQ));
	struct vup_msg m;
	uint64_t acked = F(VERSION_1) | F(PROTOCOL_FEATURES);
	pass(fe, be, "SET_FEATURES", &acked, 8, NULL, 0, &m);
	peer_msg_close(&m);
	uint64_t packed = PF(MQ);
	pass(fe, be, "SET_PROTOCOL_FEATURES", &packed, 8, NULL, 0, &m);
	peer_msg_close(&m);

	/* The table: one more region, 1 GiB aligned, its fd covering it. */
	int gfd = guest_memfd(1);
	uint8_t *guest = mmap(NULL, GUEST_SZ, PROT_READ | PROT_WRITE,
	                      MAP_SHARED, gfd, 0);
	assert_true(guest != MAP_FAILED);
	uint8_t p[512];
	uint32_t size = table(p, 1);
	pass(fe, be, "SET_MEM_TABLE", p, size, &gfd, 1, &m);
	assert_int_equal(m.hdr.size, size + 32);
	assert_int_equal(m.nfds, 2);
	uint32_t n;
	memcpy(&n, m.payload, 4);
	assert_int_equal(n, 2);
	assert_memory_equal(m.payload + 8, p + 8, 32);
	uint64_t reg[4];
	memcpy(reg, m.payload + 40, 32);
	assert_int_equal(reg[0], GIB);                               /* gpa */
	assert_int_equal(reg[2], GUEST_UA + GIB - (GUEST_UA % GIB)); /* ua */
	assert_true(reg[1] >= 0x10000);
	assert_int_equal(reg[3], 0);
	assert_true(peer_same_file(m.fds[0], gfd));
	struct stat sb;
	assert_int_equal(fstat(m.fds[1], &sb), 0);
	assert_true((uint64_t)sb.st_size >= reg[1]);
	uint8_t *shadow = mmap(NULL, reg[1], PROT_READ | PROT_WRITE, MAP_SHARED,
	                       m.fds[1], 0);
	assert_true(shadow != MAP_FAILED);
	peer_msg_close(&m);
	if (peer_expect_silence(fe, 100) < 0) /* no reply */
		fail_msg("%s", vproc_log_tail(&fx->vp));

	int g_call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int g_kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int call_pipe[2], kick_pipe[2];
	if (pipes) {
		close(g_call);
		close(g_kick);
		assert_int_equal(pipe2(call_pipe, O_CLOEXEC), 0);
		assert_int_equal(pipe2(kick_pipe, O_CLOEXEC), 0);
		/* Full, then blocking again before vuproxy gets it. */
		fcntl(call_pipe[1], F_SETFL, O_NONBLOCK);
		static char junk[4096];
		while (write(call_pipe[1], junk, sizeof(junk)) > 0)
			;
		fcntl(call_pipe[1], F_SETFL, 0);
		g_call = call_pipe[1];
		g_kick = kick_pipe[0];
	}
	uint64_t vfd = 0;
	pass(fe, be, "SET_VRING_CALL", &vfd, 8, &g_call, 1, &m);
	assert_int_equal(m.nfds, 1);
	assert_false(peer_same_file(m.fds[0], g_call));
	int b_call = m.fds[0];
	m.nfds = 0;
	uint8_t st8[8];
	u32s(st8, 0, NUM);
	pass(fe, be, "SET_VRING_NUM", st8, 8, NULL, 0, &m);
	assert_memory_equal(m.payload, st8, 8);
	u32s(st8, 0, 0);
	pass(fe, be, "SET_VRING_BASE", st8, 8, NULL, 0, &m);
	assert_memory_equal(m.payload, st8, 8);

	/* {index, flags, desc, used, avail, log} */
	uint8_t addr[40];
	u32s(addr, 0, 0);
	uint64_t ga[4] = {GUEST_UA + DESC_OFF, GUEST_UA + USED_OFF,
	                  GUEST_UA + AVAIL_OFF, USED_OFF};
	memcpy(addr + 8, ga, 32);
	pass(fe, be, "SET_VRING_ADDR", addr, 40, NULL, 0, &m);
	uint64_t sa[4];
	memcpy(sa, m.payload + 8, 32);
	for (int i = 0; i < 3; i++)
		assert_true(sa[i] >= reg[2] && sa[i] < reg[2] + reg[1]);
	assert_int_equal(sa[3], USED_OFF); /* log unchanged */
	pass(fe, be, "SET_VRING_KICK", &vfd, 8, &g_kick, 1, &m);
	assert_false(peer_same_file(m.fds[0], g_kick));
	int b_kick = m.fds[0];
	m.nfds = 0;

	/* The guest offers one chain and kicks. */
	uint64_t d0[2] = {DATA_GPA, 64}; /* addr; len, flags 0, next 0 */
	memcpy(guest + DESC_OFF, d0, 16);
	guest[AVAIL_OFF + 4] = 0; /* ring[0] = head 0 */
	guest[AVAIL_OFF + 2] = 1; /* avail.idx */
	if (pipes) {
		uint64_t one = 1;
		assert_int_equal(write(kick_pipe[1], &one, 8), 8);
		close(kick_pipe[1]); /* EOF: no more kicks can come */
	} else {
		assert_int_equal(eventfd_write(g_kick, 1), 0);
	}
	uint8_t *sh_desc = shadow + (sa[0] - reg[2]);
	uint8_t *sh_used = shadow + (sa[1] - reg[2]);
	uint8_t *sh_avail = shadow + (sa[2] - reg[2]);
	assert_true(wait16(sh_avail + 2, 1));
	assert_true(readable(b_kick, 1000));
	uint16_t sh_head = ld16(sh_avail + 4);
	uint64_t sd[2];
	memcpy(sd, sh_desc + 16 * sh_head, 16);
	assert_int_equal(sd[0], DATA_GPA);
	assert_int_equal((uint32_t)sd[1], 64);

	/* The back-end uses it (len 0: TX) and calls. */
	uint32_t ue[2] = {sh_head, 0};
	memcpy(sh_used + 4, ue, 8);
	sh_used[2] = 1;
	assert_int_equal(eventfd_write(b_call, 1), 0);
	assert_true(wait16(guest + USED_OFF + 2, 1));
	assert_int_equal(ld16(guest + USED_OFF + 4), 0); /* id: head 0 */
	if (!pipes)
		assert_true(readable(g_call, 1000));

	/* GET_VRING_BASE: the back-end says 1, the guest gets its 1. */
	pass(fe, be, "GET_VRING_BASE", st8, 8, NULL, 0, &m);
	u32s(st8, 0, 1);
	PEER_OK(peer_send(be, code("GET_VRING_BASE"),
	                  VUP_FLAG_VERSION | VUP_FLAG_REPLY, st8, 8, NULL, 0));
	assert_int_equal(peer_recv(fe, &m, PEER_TIMEOUT_MS), 1);
	assert_memory_equal(m.payload, st8, 8);

	close(b_call);
	close(b_kick);
	close(g_call);
	close(g_kick);
	if (pipes)
		close(call_pipe[0]);
	munmap(shadow, reg[1]);
	munmap(guest, GUEST_SZ);
	close(gfd);
	peer_free(fe);
	peer_free(be);
	PEER_OK(peer_fx_stop(fx));
	PEER_LOG(fx, "--active: guest memory writes: 1 used elements");
	if (pipes)
		PEER_LOG(fx, "vring 0: the front-end's kick fd can give no "
		             "more kicks (its writer closed it)");
}

static void test_shadowed(void **state)
{
	shadowed(*state, false);
}

static void test_shadowed_pipes(void **state)
{
	shadowed(*state, true);
}

static void test_eight_regions(void **state)
{
	struct peer_fx *fx = *state;
	struct peer *fe, *be;
	start(fx, &fe, &be);
	int gfd = guest_memfd(8);
	int fds[8];
	for (int i = 0; i < 8; i++)
		fds[i] = gfd;
	uint8_t p[512];
	uint32_t size = table(p, 8);
	PEER_OK(peer_relay_check(fe, be, code("SET_MEM_TABLE"),
	                         VUP_FLAG_VERSION, p, size, fds, 8));
	PEER_OK(vproc_wait_line(&fx->vp, PEER_TIMEOUT_MS, "--active:",
	                        "8 regions", "not shadowed", NULL));
	uint8_t st8[8];
	u32s(st8, 0, NUM);
	PEER_OK(peer_relay_check(fe, be, code("SET_VRING_NUM"),
	                         VUP_FLAG_VERSION, st8, 8, NULL, 0));
	uint8_t addr[40] = {0};
	uint64_t ga[4] = {GUEST_UA, GUEST_UA + USED_OFF, GUEST_UA + AVAIL_OFF,
	                  0};
	memcpy(addr + 8, ga, 32);
	PEER_OK(peer_relay_check(fe, be, code("SET_VRING_ADDR"),
	                         VUP_FLAG_VERSION, addr, 40, NULL, 0));
	int kick = eventfd(0, EFD_CLOEXEC);
	uint64_t vfd = 0;
	PEER_OK(peer_relay_check(fe, be, code("SET_VRING_KICK"),
	                         VUP_FLAG_VERSION, &vfd, 8, &kick, 1));
	close(kick);
	close(gfd);
	peer_free(fe);
	peer_free(be);
	PEER_OK(peer_fx_stop(fx));
}

static void test_access_platform(void **state)
{
	struct peer_fx *fx = *state;
	struct peer *fe, *be;
	start(fx, &fe, &be);
	uint64_t offer = F(VERSION_1) | F(RING_PACKED) | F(ACCESS_PLATFORM);
	PEER_OK(peer_get_features(fe, be, offer));
	PEER_OK(vproc_wait_line(&fx->vp, PEER_TIMEOUT_MS, "--active:",
	                        "ACCESS_PLATFORM", "not shadowed", NULL));
	int call = eventfd(0, EFD_CLOEXEC);
	uint64_t vfd = 0;
	PEER_OK(peer_relay_check(fe, be, code("SET_VRING_CALL"),
	                         VUP_FLAG_VERSION, &vfd, 8, &call, 1));
	close(call);
	peer_free(fe);
	peer_free(be);
	PEER_OK(peer_fx_stop(fx));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_shadowed, peer_setup,
	                                        peer_teardown),
	        cmocka_unit_test_setup_teardown(test_shadowed_pipes, peer_setup,
	                                        peer_teardown),
	        cmocka_unit_test_setup_teardown(test_eight_regions, peer_setup,
	                                        peer_teardown),
	        cmocka_unit_test_setup_teardown(test_access_platform,
	                                        peer_setup, peer_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
