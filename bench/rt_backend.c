/* bench-rt-backend: the minimal vhost-user back-end of the round-trip
 * benchmark.  Listens on PATH, serves one connection: every GET_FEATURES
 * request gets a reply (flags 0x5, an 8-byte feature word); any other
 * request that sets NEED_REPLY gets a zero ack; fds are closed.  Exits 0
 * when the peer hangs up.
 *
 *   bench-rt-backend PATH
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "benchutil.h"

#define GET_FEATURES 1u
#define FEATURES     0x140000000ull /* VERSION_1 | PROTOCOL_FEATURES */

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: bench-rt-backend PATH\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	int lfd = bu_listen(argv[1]);
	if (lfd < 0)
		return 1;
	int fd = bu_accept(lfd);
	close(lfd);
	unlink(argv[1]);
	if (fd < 0)
		return 1;
	static uint8_t payload[VUP_MAX_PAYLOAD];
	int fds[VUP_MAX_FDS];
	unsigned nfds;
	unsigned long long served = 0;
	for (;;) {
		struct vup_hdr h;
		int rc = bu_recv_msg(fd, &h, payload, fds, &nfds);
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		if (rc == 1)
			break;
		if (rc < 0)
			return 1;
		if (h.flags & VUP_FLAG_REPLY)
			continue;
		uint64_t v;
		if (h.request == GET_FEATURES)
			v = FEATURES;
		else if (h.flags & VUP_FLAG_NEED_REPLY)
			v = 0;
		else
			continue;
		struct vup_hdr r = {.request = h.request,
		                    .flags = VUP_FLAG_VERSION | VUP_FLAG_REPLY,
		                    .size = sizeof(v)};
		if (bu_send_msg(fd, &r, &v, NULL, 0))
			return 1;
		served++;
	}
	fprintf(stderr, "bench-rt-backend: %llu replies sent\n", served);
	close(fd);
	return 0;
}
