/* Peers beyond QEMU and DPDK: what real implementations send that
 * vuproxy once refused.  Each case is a scripted peer doing exactly what
 * the named implementation does; every message must cross vuproxy byte
 * for byte with its files, without a warning (none of it breaks the
 * spec as the peers read it), and the session must end cleanly.  The
 * rust-vmm front-end against a real qemu-storage-daemon is
 * tests/e2e/qsd_rustvmm.sh. */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "peer_test.h"

#define V  VUP_FLAG_VERSION
#define R  VUP_FLAG_REPLY
#define NR VUP_FLAG_NEED_REPLY

static int memfd(size_t size)
{
	int fd = memfd_create("vup-other", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static void relay(struct peer *from, struct peer *to, const char *name,
                  uint32_t flags, const void *p, uint32_t size, const int *fds,
                  unsigned nfds)
{
	PEER_OK(peer_relay_check(from, to, peer_code(name), flags, p, size, fds,
	                         nfds));
}

static void negotiate(struct peer *fe, struct peer *be, uint64_t pf)
{
	relay(fe, be, "SET_PROTOCOL_FEATURES", V, &pf, 8, NULL, 0);
}

/* vuproxy with `extra` arguments, one session; the case; then the
 * session ends without a warning or an error. */
static void with_session(void **state, const char *const *extra,
                         void (*run)(struct peer *fe, struct peer *be))
{
	struct peer_fx *fx = *state;
	PEER_OK(peer_fx_start(fx, "listen", "connect", extra));
	struct peer *fe, *be;
	PEER_OK(peer_fx_session(fx, &fe, &be));
	run(fe, be);
	/* The replies owed still pair. */
	PEER_OK(peer_get_features(fe, be, 1ull << 32));
	peer_free(fe);
	peer_free(be);
	PEER_OK(peer_fx_stop(fx));
	PEER_LOG(fx, "vuproxy: 1 sessions (0 failed)");
	if (vproc_count(&fx->vp, "warning:") || vproc_count(&fx->vp, "error:"))
		fail_msg("vuproxy complained:\n%s", vproc_log_tail(&fx->vp));
}

/* crosvm's front-end sends SET_LOG_BASE with the u64 the spec's text
 * names (8 bytes) and the log's shm fd; DPDK answers with an empty
 * reply. */
static void crosvm_log_base(struct peer *fe, struct peer *be)
{
	negotiate(fe, be, 1ull << VUP_PF_LOG_SHMFD);
	int fd = memfd(4096);
	uint64_t size = 4096;
	relay(fe, be, "SET_LOG_BASE", V, &size, 8, &fd, 1);
	relay(be, fe, "SET_LOG_BASE", V | R, NULL, 0, NULL, 0);
	close(fd);
}

/* rust-vmm back-ends answer SET_LOG_BASE with the 16-byte VhostUserLog
 * (and rust-vmm front-ends expect it). */
static void rustvmm_log_reply(struct peer *fe, struct peer *be)
{
	negotiate(fe, be, 1ull << VUP_PF_LOG_SHMFD);
	int fd = memfd(8192);
	uint64_t log[2] = {8192, 0};
	relay(fe, be, "SET_LOG_BASE", V, log, 16, &fd, 1);
	relay(be, fe, "SET_LOG_BASE", V | R, log, 16, NULL, 0);
	close(fd);
}

/* QEMU's vhost_user_get_shared_object sends the request without the
 * UUID (size 0); the back-end answers with a u64 and the dma-buf fd. */
static void qemu_get_shared_object(struct peer *fe, struct peer *be)
{
	negotiate(fe, be, 1ull << 18 /* SHARED_OBJECT */);
	relay(fe, be, "GET_SHARED_OBJECT", V, NULL, 0, NULL, 0);
	int fd = memfd(4096);
	uint64_t ok = 0;
	relay(be, fe, "GET_SHARED_OBJECT", V | R, &ok, 8, &fd, 1);
	close(fd);
}

/* Cloud Hypervisor puts every RAM region in one SET_MEM_TABLE; rust-vmm
 * back-ends take up to 32. */
static void cloud_hypervisor_32_regions(struct peer *fe, struct peer *be)
{
	static uint8_t table[8 + 32 * 32];
	uint32_t n = 32;
	memset(table, 0, sizeof(table));
	memcpy(table, &n, 4);
	int fds[32];
	for (unsigned i = 0; i < n; i++) {
		/* {gpa, size, uaddr, mmap_offset}: 1 MiB each, apart. */
		uint64_t r[4] = {(uint64_t)i << 30, 1 << 20,
		                 0x7f0000000000ull + ((uint64_t)i << 30), 0};
		memcpy(table + 8 + 32 * i, r, sizeof(r));
		fds[i] = memfd(1 << 20);
	}
	relay(fe, be, "SET_MEM_TABLE", V, table, sizeof(table), fds, n);
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
}

/* rust-vmm allows config space up to 4 KiB: offset + size <= 4096. */
static void rustvmm_config_4k(struct peer *fe, struct peer *be)
{
	negotiate(fe, be, 1ull << VUP_PF_CONFIG);
	static uint8_t cfg[VUP_MAX_PAYLOAD];
	uint32_t off = 0, size = VUP_MAX_PAYLOAD - 12, flags = 0;
	memcpy(cfg, &off, 4);
	memcpy(cfg + 4, &size, 4);
	memcpy(cfg + 8, &flags, 4);
	/* The request carries the space to fill, as rust-vmm and QEMU
	 * send it. */
	relay(fe, be, "GET_CONFIG", V, cfg, 12 + size, NULL, 0);
	memset(cfg + 12, 0x5a, size);
	relay(be, fe, "GET_CONFIG", V | R, cfg, 12 + size, NULL, 0);
	off = 3000;
	size = 1000;
	memcpy(cfg, &off, 4);
	memcpy(cfg + 4, &size, 4);
	relay(fe, be, "SET_CONFIG", V, cfg, 12 + size, NULL, 0);
}

/* "The back-end has to acknowledge the request" (the spec's
 * VHOST_USER_IOTLB_MSG): a back-end that does so without NEED_REPLY,
 * and DPDK, which acks only on NEED_REPLY.  Both pair. */
static void spec_iotlb_ack(struct peer *fe, struct peer *be)
{
	uint8_t io[32] = {0};
	uint64_t ok = 0;
	relay(fe, be, "IOTLB_MSG", V, io, sizeof(io), NULL, 0);
	relay(be, fe, "IOTLB_MSG", V | R, &ok, 8, NULL, 0);
	relay(fe, be, "IOTLB_MSG", V, io, sizeof(io), NULL, 0);
}

static void cloud_hypervisor_32_regions_tap(struct peer *fe, struct peer *be)
{
	cloud_hypervisor_32_regions(fe, be);
}

#define CASE(fn, ...)                                                          \
	static void fn##_case(void **state)                                    \
	{                                                                      \
		static const char *const extra[] = {__VA_ARGS__};              \
		with_session(state, extra[0] ? extra : NULL, fn);              \
	}
CASE(crosvm_log_base, NULL)
CASE(rustvmm_log_reply, NULL)
CASE(qemu_get_shared_object, NULL)
CASE(cloud_hypervisor_32_regions, NULL)
/* vuproxy's own reader of guest memory takes the 32 regions too. */
CASE(cloud_hypervisor_32_regions_tap, "--tap", "net", NULL)
CASE(rustvmm_config_4k, NULL)
CASE(spec_iotlb_ack, NULL)

int main(void)
{
#define T(fn)                                                                  \
	cmocka_unit_test_setup_teardown(fn##_case, peer_setup, peer_teardown)
	const struct CMUnitTest tests[] = {
	        T(crosvm_log_base),
	        T(rustvmm_log_reply),
	        T(qemu_get_shared_object),
	        T(cloud_hypervisor_32_regions),
	        T(cloud_hypervisor_32_regions_tap),
	        T(rustvmm_config_4k),
	        T(spec_iotlb_ack),
	};
#undef T
	return cmocka_run_group_tests_name("other_peers", tests, NULL, NULL);
}
