/* rustvmm_fe: a scripted vhost-user-blk front-end that behaves as the
 * rust-vmm `vhost` crate's Frontend does (Cloud Hypervisor, Firecracker):
 * once REPLY_ACK is negotiated it sets NEED_REPLY on every request, and it
 * accepts a reply whose flags carry NEED_REPLY back (rust-vmm checks only
 * the version and REPLY bits of a reply).  Against qemu-storage-daemon,
 * whose libvhost-user copies the request's flags into its explicit
 * replies, the GET_FEATURES, GET_CONFIG and GET_VRING_BASE replies then
 * come back with flags 0xd.
 *
 *   rustvmm_fe SOCKET
 *
 * Sets up queue 0 over a memfd (ring empty), reads the config, stops the
 * ring, and prints one line per reply ("GET_FEATURES reply flags 0xd").
 * Exit 0 when every reply came and every ack said success; 1 with a
 * reason otherwise (the connection closed: vuproxy refused a reply). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "peer.h"

#define MEM_SIZE    (1u << 20)
#define GUEST_BASE  0x7f0000000000ull /* the front-end's address of it */
#define RING_SIZE   128
#define F_VERSION_1 (1ull << 32)
#define F_PROTOCOL  (1ull << 30)

static struct peer *fe;
static bool reply_ack;

static int die(const char *what)
{
	fprintf(stderr, "rustvmm_fe: %s: %s\n", what, peer_error());
	exit(1);
}

/* Send a request (NEED_REPLY once REPLY_ACK is on) and read its answer, an
 * explicit reply or the ack; returns the reply's first u64. */
static uint64_t call(const char *name, const void *p, uint32_t size,
                     const int *fds, unsigned nfds, bool has_reply)
{
	uint32_t flags =
	        VUP_FLAG_VERSION | (reply_ack ? VUP_FLAG_NEED_REPLY : 0);
	if (peer_send(fe, peer_code(name), flags, p, size, fds, nfds) < 0)
		die(name);
	if (!has_reply && !reply_ack)
		return 0;
	static struct vup_msg m;
	int rc = peer_recv(fe, &m, PEER_TIMEOUT_MS);
	if (rc != 1) {
		peer_fail(rc, "no reply to %s (%s)", name,
		          rc == VUP_CH_EOF ? "the connection closed"
		                           : "timed out");
		die(name);
	}
	/* rust-vmm's is_reply(): version 1 and REPLY; the rest is not
	 * checked. */
	if ((m.hdr.flags & 0x7) != (VUP_FLAG_VERSION | VUP_FLAG_REPLY) ||
	    m.hdr.request != peer_code(name)) {
		peer_fail(-1, "reply code %u flags 0x%x to %s", m.hdr.request,
		          m.hdr.flags, name);
		die(name);
	}
	printf("%s reply flags 0x%x size %u\n", name, m.hdr.flags, m.hdr.size);
	uint64_t v = 0;
	memcpy(&v, m.payload, m.hdr.size < 8 ? m.hdr.size : 8);
	peer_msg_close(&m);
	if (!has_reply && v != 0) {
		peer_fail(-1, "%s acked with %llu", name,
		          (unsigned long long)v);
		die(name);
	}
	return v;
}

static void vring_fd(const char *name, uint32_t index)
{
	int efd = eventfd(0, EFD_CLOEXEC);
	uint64_t u = index;
	call(name, &u, 8, &efd, 1, false);
	close(efd);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: rustvmm_fe SOCKET\n");
		return 2;
	}
	int fd = peer_connect(argv[1], PEER_TIMEOUT_MS);
	if (fd < 0)
		die("connect");
	fe = peer_new(fd, "rust-vmm");
	uint64_t features = call("GET_FEATURES", NULL, 0, NULL, 0, true);
	call("SET_OWNER", NULL, 0, NULL, 0, false);
	uint64_t pf = call("GET_PROTOCOL_FEATURES", NULL, 0, NULL, 0, true);
	uint64_t want = 1ull << VUP_PF_REPLY_ACK | 1ull << VUP_PF_CONFIG;
	if ((pf & want) != want) {
		peer_fail(-1, "the back-end offers protocol features 0x%llx",
		          (unsigned long long)pf);
		die("GET_PROTOCOL_FEATURES");
	}
	call("SET_PROTOCOL_FEATURES", &want, 8, NULL, 0, false);
	reply_ack = true;
	/* From here on, NEED_REPLY on every request, as rust-vmm does. */
	features = call("GET_FEATURES", NULL, 0, NULL, 0, true);
	uint64_t acked = features & (F_VERSION_1 | F_PROTOCOL);
	call("SET_FEATURES", &acked, 8, NULL, 0, false);
	uint8_t cfg[12 + 8] = {0};
	uint32_t cfg_size = 8; /* virtio-blk: capacity */
	memcpy(cfg + 4, &cfg_size, 4);
	call("GET_CONFIG", cfg, sizeof(cfg), NULL, 0, true);

	int mem = memfd_create("guest", MFD_CLOEXEC);
	if (mem < 0 || ftruncate(mem, MEM_SIZE) < 0)
		die("memfd");
	uint64_t table[1 + 4] = {1, 0, MEM_SIZE, GUEST_BASE, 0};
	call("SET_MEM_TABLE", table, sizeof(table), &mem, 1, false);
	close(mem);
	uint32_t st[2] = {0, RING_SIZE};
	call("SET_VRING_NUM", st, 8, NULL, 0, false);
	uint64_t addr[5] = {0, GUEST_BASE, GUEST_BASE + 0x2000,
	                    GUEST_BASE + 0x1000, 0};
	call("SET_VRING_ADDR", addr, sizeof(addr), NULL, 0, false);
	st[1] = 0;
	call("SET_VRING_BASE", st, 8, NULL, 0, false);
	vring_fd("SET_VRING_CALL", 0);
	vring_fd("SET_VRING_KICK", 0);
	st[1] = 1;
	call("SET_VRING_ENABLE", st, 8, NULL, 0, false);
	st[1] = 0;
	call("SET_VRING_ENABLE", st, 8, NULL, 0, false);
	uint64_t base = call("GET_VRING_BASE", st, 8, NULL, 0, true);
	printf("ring 0 stopped at %u\n", (unsigned)(base >> 32));
	peer_free(fe);
	return 0;
}
