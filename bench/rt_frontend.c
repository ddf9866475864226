/* bench-rt-frontend: the minimal vhost-user front-end of the round-trip
 * benchmark.  Connects to PATH (retrying while nobody listens yet), sends
 * W warm-up then N timed GET_FEATURES requests (request 1, flags 0x1, no
 * payload), each waiting for its reply (flags 0x5, 8-byte payload), and
 * prints one line:
 *
 *   round_trips=N mean_us=.. p50_us=.. p99_us=.. min_us=.. total_s=..
 *
 *   bench-rt-frontend [-n N] [-w W] PATH
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchutil.h"

#define GET_FEATURES 1u

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int round_trip(int fd)
{
	static const struct vup_hdr req = {.request = GET_FEATURES,
	                                   .flags = VUP_FLAG_VERSION};
	if (bu_send_msg(fd, &req, NULL, NULL, 0))
		return -1;
	struct vup_hdr h;
	uint8_t payload[VUP_MAX_PAYLOAD];
	int fds[VUP_MAX_FDS];
	unsigned nfds;
	int rc = bu_recv_msg(fd, &h, payload, fds, &nfds);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	if (rc) {
		if (rc == 1)
			fprintf(stderr, "bench-rt-frontend: peer hung up\n");
		return -1;
	}
	if (h.request != GET_FEATURES ||
	    h.flags != (VUP_FLAG_VERSION | VUP_FLAG_REPLY) || h.size != 8) {
		fprintf(stderr,
		        "bench-rt-frontend: bad reply: request %u flags 0x%x "
		        "size %u\n",
		        h.request, h.flags, h.size);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long n = 200000, warm = 2000;
	int c;
	while ((c = getopt(argc, argv, "n:w:")) != -1) {
		switch (c) {
		case 'n': n = strtol(optarg, NULL, 10); break;
		case 'w': warm = strtol(optarg, NULL, 10); break;
		default: optind = argc + 1; break;
		}
	}
	if (optind != argc - 1 || n <= 0 || n > 100000000 || warm < 0) {
		fprintf(stderr, "usage: bench-rt-frontend [-n N] [-w WARMUP] "
		                "PATH\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	int fd = bu_connect(argv[optind], 10.0);
	if (fd < 0)
		return 1;
	for (long i = 0; i < warm; i++)
		if (round_trip(fd))
			return 1;
	uint32_t *lat = malloc(sizeof(*lat) * (size_t)n);
	if (!lat) {
		perror("malloc");
		return 1;
	}
	uint64_t start = bu_now_ns(), prev = start;
	for (long i = 0; i < n; i++) {
		if (round_trip(fd))
			return 1;
		uint64_t t = bu_now_ns();
		uint64_t d = t - prev;
		lat[i] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
		prev = t;
	}
	double total = (double)(prev - start) / 1e9;
	qsort(lat, (size_t)n, sizeof(*lat), cmp_u32);
	printf("round_trips=%ld mean_us=%.3f p50_us=%.3f p99_us=%.3f "
	       "min_us=%.3f total_s=%.3f\n",
	       n, total * 1e6 / (double)n, lat[n / 2] / 1e3,
	       lat[(size_t)((double)n * 0.99)] / 1e3, lat[0] / 1e3, total);
	free(lat);
	close(fd);
	return 0;
}
