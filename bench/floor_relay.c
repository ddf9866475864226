/* bench-floor-relay: the simplest correct vhost-user relay, the floor any
 * relay must pay.  Accepts one front-end on FRONT_PATH, connects to the
 * back-end on BACK_PATH, then relays whole messages both ways until either
 * side hangs up: poll() on the two sockets; for a readable one, recvmsg the
 * 12-byte header with a cmsg buffer, read the payload exactly, and send
 * header + payload + fds to the other side with one sendmsg.  No
 * validation, no logging, no queueing (blocking sockets).  On exit it
 * prints its own CPU time (utime+stime, "cpu_us=N"): bench/syscalls.sh
 * weighs vuproxy's against it.
 *
 *   bench-floor-relay FRONT_PATH BACK_PATH
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "benchutil.h"

static int relay_one(int from, int to)
{
	static uint8_t payload[VUP_MAX_PAYLOAD];
	struct vup_hdr h;
	int fds[VUP_MAX_FDS];
	unsigned nfds;
	int rc = bu_recv_msg(from, &h, payload, fds, &nfds);
	if (rc == 0)
		rc = bu_send_msg(to, &h, payload, fds, nfds);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: bench-floor-relay FRONT_PATH "
		                "BACK_PATH\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	int lfd = bu_listen(argv[1]);
	if (lfd < 0)
		return 1;
	int fe = bu_accept(lfd);
	close(lfd);
	unlink(argv[1]);
	if (fe < 0)
		return 1;
	int be = bu_connect(argv[2], 5.0);
	if (be < 0)
		return 1;
	struct pollfd p[2] = {{.fd = fe, .events = POLLIN},
	                      {.fd = be, .events = POLLIN}};
	unsigned long long msgs = 0;
	for (;;) {
		if (poll(p, 2, -1) < 0)
			continue; /* EINTR */
		for (int i = 0; i < 2; i++) {
			if (!p[i].revents)
				continue;
			int rc = relay_one(p[i].fd, p[1 - i].fd);
			if (rc) {
				struct rusage ru;
				getrusage(RUSAGE_SELF, &ru);
				fprintf(stderr,
				        "bench-floor-relay: %s %s; %llu "
				        "messages relayed; cpu_us=%lld\n",
				        i ? "back-end" : "front-end",
				        rc == 1 ? "hung up" : "failed", msgs,
				        (long long)(ru.ru_utime.tv_sec +
				                    ru.ru_stime.tv_sec) *
				                        1000000 +
				                ru.ru_utime.tv_usec +
				                ru.ru_stime.tv_usec);
				return rc == 1 ? 0 : 1;
			}
			msgs++;
		}
	}
}
