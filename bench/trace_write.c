/* bench-trace-write: what recording costs the relay per message.
 *
 * Writes N control messages (40-byte SET_VRING_ADDR, every 50th a 328-byte
 * SET_MEM_TABLE, as a session mixes them) through the real trace writer,
 * each compressed and sync-flushed to the file as the relay does before it
 * forwards, and prints the mean and worst time per message.  Usage:
 *   bench-trace-write [FILE.pcapng.gz] [N]   (default /tmp/..., 200000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vuproxy/trace.h"

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	char def[] = "/tmp/bench-trace-XXXXXX.pcapng.gz";
	const char *path = argc > 1 ? argv[1] : NULL;
	long n = argc > 2 ? strtol(argv[2], NULL, 10) : 200000;
	if (!path) {
		int fd = mkstemps(def, 10);
		if (fd < 0)
			return 1;
		close(fd);
		path = def;
	}
	struct vup_trace_config cfg = {.path = path};
	struct vup_trace *t;
	char err[256];
	if (vup_trace_open(&cfg, &t, err, sizeof(err))) {
		fprintf(stderr, "bench-trace-write: %s\n", err);
		return 1;
	}
	vup_trace_add_session(t, 1, "s1 bench", "bench-trace-write");
	struct vup_trace_hdr h = {.session = 1};
	static uint8_t payload[VUP_MAX_PAYLOAD];
	memset(payload, 0x5a, sizeof(payload));
	double worst = 0, start = now_s();
	for (long i = 0; i < n; i++) {
		struct vup_hdr m = {i % 50 ? 9 : 5, 1, i % 50 ? 40 : 328};
		double a = now_s();
		vup_trace_message(t, (uint64_t)i, &h, &m, payload);
		double d = now_s() - a;
		if (d > worst)
			worst = d;
	}
	double total = now_s() - start;
	vup_trace_close(t);
	printf("trace write: %ld messages, mean %.2f us, worst %.1f us "
	       "(compress + Z_SYNC_FLUSH + write per message) -> %s\n",
	       n, total / (double)n * 1e6, worst * 1e6, path);
	if (path == def)
		unlink(def);
	return 0;
}
