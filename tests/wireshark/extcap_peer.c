/* extcap_peer: one long-lived vhost-user session through vuproxy, for
 * the extcap test to capture from while it runs.
 *
 *   extcap_peer FE_SOCK BE_SOCK SECONDS
 *
 * Listens on BE_SOCK (vuproxy --backend connect:BE_SOCK), connects to
 * FE_SOCK (vuproxy --frontend listen:FE_SOCK) and plays both ends.  The
 * front-end sets up as QEMU's vhost-user-net does (SET_OWNER,
 * GET_FEATURES, SET_FEATURES, SET_MEM_TABLE with one memfd region, then
 * each of two vrings' num, addresses and base), prints "ready", then asks
 * GET_FEATURES every 100 ms (the back-end answers) for SECONDS, prints "rounds
 * N" and closes: the session ends.  Every message is checked to arrive as sent.
 * Any error: a message on stderr, exit 1. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "peer.h"

#define V        VUP_FLAG_VERSION
#define FEATURES 0x140000000ull /* VERSION_1 | PROTOCOL_FEATURES */
#define MEM_SIZE 0x100000ull
#define UADDR    0x7f0000000000ull /* the front-end's mapping of it */

static int fail(const char *what)
{
	fprintf(stderr, "extcap_peer: %s: %s\n", what, peer_error());
	return 1;
}

static int set_up(struct peer *fe, struct peer *be)
{
	uint64_t f = FEATURES;
	if (peer_relay_check(fe, be, peer_code("SET_OWNER"), V, NULL, 0, NULL,
	                     0) ||
	    peer_get_features(fe, be, FEATURES) ||
	    peer_relay_check(fe, be, peer_code("SET_FEATURES"), V, &f, 8, NULL,
	                     0))
		return -1;
	/* nregions, padding, then {gpa, size, uaddr, mmap_offset} */
	uint8_t mem[40] = {1};
	uint64_t region[4] = {0, MEM_SIZE, UADDR, 0};
	memcpy(mem + 8, region, sizeof(region));
	int memfd = memfd_create("extcap_peer-guest", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, (off_t)MEM_SIZE) < 0)
		return peer_fail(-1, "memfd: %s", strerror(errno));
	int rc = peer_relay_check(fe, be, peer_code("SET_MEM_TABLE"), V, mem,
	                          sizeof(mem), &memfd, 1);
	close(memfd);
	if (rc)
		return -1;
	for (uint32_t i = 0; i < 2; i++) {
		uint32_t num[2] = {i, 256}, base[2] = {i, 0};
		uint64_t desc = UADDR + i * 0x10000;
		uint64_t a[5] = {i, desc, desc + 0x2000, desc + 0x1000, 0};
		if (peer_relay_check(fe, be, peer_code("SET_VRING_NUM"), V, num,
		                     8, NULL, 0) ||
		    peer_relay_check(fe, be, peer_code("SET_VRING_ADDR"), V, a,
		                     40, NULL, 0) ||
		    peer_relay_check(fe, be, peer_code("SET_VRING_BASE"), V,
		                     base, 8, NULL, 0))
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: extcap_peer FE_SOCK BE_SOCK SECONDS\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	uint64_t end = peer_now_ms() + strtoull(argv[3], NULL, 10) * 1000;
	unlink(argv[2]); /* a previous run's */
	int lfd = peer_listen(argv[2], 1);
	if (lfd < 0)
		return fail("listening on the back-end socket");
	int ffd = peer_connect(argv[1], 10000);
	if (ffd < 0)
		return fail("connecting to vuproxy");
	struct peer *fe = peer_new(ffd, "fe");
	int bfd = peer_accept(lfd, 10000);
	if (bfd < 0)
		return fail("vuproxy's back-end connection");
	struct peer *be = peer_new(bfd, "be");
	if (set_up(fe, be))
		return fail("set-up");
	printf("ready\n");
	fflush(stdout);
	unsigned rounds = 0;
	while (peer_now_ms() < end) {
		if (peer_get_features(fe, be, FEATURES))
			return fail("GET_FEATURES");
		rounds++;
		peer_sleep_ms(100);
	}
	printf("rounds %u\n", rounds);
	peer_free(fe);
	peer_free(be);
	close(lfd);
	return 0;
}
