/* declared_trace_gen: writes a trace that starts in the middle of a
 * session, as a rotated file, a recording started at run time or a
 * flight-recorder snapshot does (issue 13, "declared state"), for
 * declared.sh and versioning.sh.
 *
 *   declared_trace_gen OUT.pcapng            continued, with declared state
 *   declared_trace_gen --gz OUT.pcapng.gz    the same through the writer
 *                                            (the interface not continued:
 *                                            a recording started at run
 *                                            time)
 *   declared_trace_gen --undeclared OUT.pcapng
 *                                            continued, without it (a file
 *                                            of an older vuproxy)
 *
 * Session 1 (net, 2 vrings).  Frames 1-21 are declared state, timed at
 * the file's start, each with the time it crossed: SET_OWNER,
 * GET_FEATURES and its reply, GET_PROTOCOL_FEATURES and its reply,
 * SET_PROTOCOL_FEATURES, SET_FEATURES, SET_MEM_TABLE (a memfd) and its
 * REPLY_ACK, then per vring SET_VRING_NUM, _ADDR, _BASE, _KICK, _CALL
 * (eventfds), then SET_VRING_ENABLE 0 and 1.  Frames 22-25 are events:
 * GET_VRING_BASE 0 and 1, each answered with base 0 (where the set-up
 * put them: a replay expects that).  --undeclared
 * writes only the events (frames 1-4). */
#include <stdio.h>
#include <string.h>

#include "rtrace.h"

#define RINGS 2

int main(int argc, char **argv)
{
	const char *mode = argc == 3 ? argv[1] : "";
	if ((argc != 2 && argc != 3) || (argc == 3 && strcmp(mode, "--gz") &&
	                                 strcmp(mode, "--undeclared"))) {
		fprintf(stderr, "usage: declared_trace_gen [--gz|--undeclared] "
		                "OUT\n");
		return 2;
	}
	static struct rt t;
	rt_net_setup(&t, 1, RINGS);
	size_t setup = t.n;
	rt_net_teardown(&t, 1, RINGS, 0);
	rt_declare(&t, setup);
	t.continued = strcmp(mode, "--gz") != 0;
	if (strcmp(mode, "--undeclared") == 0) {
		memmove(&t.m[0], &t.m[setup], (t.n - setup) * sizeof(t.m[0]));
		t.n -= setup;
	}
	if (rt_write(&t, argv[argc - 1])) {
		fprintf(stderr, "declared_trace_gen: writing %s failed\n",
		        argv[argc - 1]);
		return 1;
	}
	return 0;
}
