/* bench-check-trace: a trace of N control messages for bench/check_speed.sh
 * (`vuproxy check` on a million messages), written by the real trace writer
 * as the relay writes it: each message recorded, as it crossed, and
 * sync-flushed (control messages are stored, gzip level 0).
 *
 * One session, as the hostile suite's flood (tests/hostile/test_compress.c)
 * relays request/reply round trips on one session, but with a device's
 * real set-up first: the set-up of captures/dpdk-split.pcapng.gz
 * (DPDK 22.11 virtio-user against a vhost PMD: SET_OWNER, GET_FEATURES,
 * protocol features with REPLY_ACK and STATUS, SET_VRING_CALL,
 * SET_FEATURES, SET_STATUS, a one-region SET_MEM_TABLE with its memfd, two
 * vrings, DRIVER_OK).  Then the flood, round trips alternating
 *   GET_FEATURES / its reply, and
 *   SET_VRING_ENABLE index 0|1 enable=1 with NEED_REPLY / its ack,
 * and the capture's teardown (rings disabled, GET_VRING_BASE x2 and the
 * replies).  The flood fills the trace to exactly N messages (one
 * SET_VRING_ENABLE without NEED_REPLY, which has no reply, evens it up).
 * Messages are 5 us apart.  A checker should find at most the capture's
 * one warning (SET_VRING_CALL before SET_FEATURES, as DPDK and QEMU send).
 *
 *   bench-check-trace FILE.pcapng.gz [N]     (default N 1000000)
 * prints "messages=N bytes=SIZE_ON_DISK".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vuproxy/trace.h"

#define STEP_NS 5000u /* between two messages */
#define FEATURES                                                               \
	0xd7c66e7cbull /* the back-end's offer in dpdk-split.pcapng.gz */
#define ACKED       0x950008000ull /* what the front-end acks there */
#define PROTO_OFFER 0x10cbfull
#define PROTO_ACKED 0x10009ull /* MQ | REPLY_ACK | STATUS */
#define MEM_FD_SIZE 0x20000000ull

enum { FE = 0, BE = 1 };
enum { NONE = 0, EVENTFD = 1, MEMFD = 2 };

/* One message: up to two u64 and a u32 pair of payload, or a memory
 * table / vring address written out below. */
struct msg {
	int from; /* FE, BE */
	uint32_t request, flags, size;
	uint64_t a, b; /* the first two u64 of the payload */
	int fd;        /* NONE, EVENTFD, MEMFD */
};

#define V  1u
#define R  4u /* reply */
#define NR 8u /* need reply */

/* u32 pair as one u64 (little-endian: index, then num). */
#define PAIR(lo, hi) ((uint64_t)(hi) << 32 | (uint32_t)(lo))

static const struct msg setup[] = {
        {FE, 3, V, 0, 0, 0, NONE},                /* SET_OWNER */
        {FE, 1, V, 0, 0, 0, NONE},                /* GET_FEATURES */
        {BE, 1, V | R, 8, FEATURES, 0, NONE},     /* its reply */
        {FE, 15, V, 0, 0, 0, NONE},               /* GET_PROTOCOL_FEATURES */
        {BE, 15, V | R, 8, PROTO_OFFER, 0, NONE}, /* its reply */
        {FE, 16, V, 8, PROTO_ACKED, 0, NONE},     /* SET_PROTOCOL_FEATURES */
        {FE, 13, V, 8, 0, 0, EVENTFD},            /* SET_VRING_CALL 0 */
        {FE, 13, V, 8, 1, 0, EVENTFD},            /* SET_VRING_CALL 1 */
        {FE, 2, V, 8, ACKED, 0, NONE},            /* SET_FEATURES */
        {FE, 39, V | NR, 8, 0xb, 0, NONE},        /* SET_STATUS */
        {BE, 39, V | R, 8, 0, 0, NONE},           /* its ack */
        {FE, 40, V, 0, 0, 0, NONE},               /* GET_STATUS */
        {BE, 40, V | R, 8, 0xb, 0, NONE},         /* its reply */
        {FE, 5, V | NR, 40, 1, 0, MEMFD},         /* SET_MEM_TABLE */
        {BE, 5, V | R, 8, 0, 0, NONE},            /* its ack */
        {FE, 8, V, 8, PAIR(0, 256), 0, NONE},     /* SET_VRING_NUM 0 */
        {FE, 10, V, 8, PAIR(0, 0), 0, NONE},      /* SET_VRING_BASE 0 */
        {FE, 9, V, 40, 0, 0x1205de000ull, NONE},  /* SET_VRING_ADDR 0 */
        {FE, 12, V, 8, 0, 0, EVENTFD},            /* SET_VRING_KICK 0 */
        {FE, 8, V, 8, PAIR(1, 256), 0, NONE},     /* SET_VRING_NUM 1 */
        {FE, 10, V, 8, PAIR(1, 0), 0, NONE},      /* SET_VRING_BASE 1 */
        {FE, 9, V, 40, 1, 0x1205d9000ull, NONE},  /* SET_VRING_ADDR 1 */
        {FE, 12, V, 8, 1, 0, EVENTFD},            /* SET_VRING_KICK 1 */
        {FE, 18, V, 8, PAIR(0, 1), 0, NONE},      /* SET_VRING_ENABLE */
        {FE, 18, V, 8, PAIR(1, 1), 0, NONE},      /* SET_VRING_ENABLE */
        {FE, 39, V | NR, 8, 0xf, 0, NONE},        /* DRIVER_OK */
        {BE, 39, V | R, 8, 0, 0, NONE},           /* its ack */
};

static const struct msg teardown[] = {
        {FE, 18, V, 8, PAIR(0, 0), 0, NONE}, /* SET_VRING_ENABLE 0 off */
        {FE, 18, V, 8, PAIR(1, 0), 0, NONE}, /* SET_VRING_ENABLE 1 off */
        {FE, 11, V, 8, PAIR(0, 0), 0, NONE}, /* GET_VRING_BASE 0 */
        {BE, 11, V | R, 8, PAIR(0, 0), 0, NONE},
        {FE, 11, V, 8, PAIR(1, 0), 0, NONE}, /* GET_VRING_BASE 1 */
        {BE, 11, V | R, 8, PAIR(1, 0), 0, NONE},
};

#define NSETUP    (sizeof(setup) / sizeof(setup[0]))
#define NTEARDOWN (sizeof(teardown) / sizeof(teardown[0]))

/* The flood's round trip k (0-based), message half (0 request, 1 reply). */
static struct msg flood(uint64_t k, int half)
{
	struct msg m;
	if (k % 2 == 0) { /* GET_FEATURES */
		m = half ? (struct msg){BE, 1, V | R, 8, FEATURES, 0, NONE}
		         : (struct msg){FE, 1, V, 0, 0, 0, NONE};
	} else { /* SET_VRING_ENABLE need_reply, its ack */
		uint32_t q = (uint32_t)(k / 2 % 2);
		m = half ? (struct msg){BE, 18, V | R, 8, 0, 0, NONE}
		         : (struct msg){FE, 18, V | NR, 8, PAIR(q, 1), 0, NONE};
	}
	return m;
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v)); /* the wire is little-endian, as x86 */
}

static int record(struct vup_trace *t, uint64_t *ts, const struct msg *m)
{
	static struct vup_trace_hdr h; /* large: fds, rule, mark */
	uint8_t p[40] = {0};
	h.session = 1;
	h.action = VUP_TRACE_ACT_PASS;
	h.flags = m->from == BE ? VUP_TRACE_F_FROM_BACKEND : 0;
	h.nfds = m->fd != NONE;
	h.fds[0].kind = m->fd == MEMFD ? VUP_FDK_MEMFD : VUP_FDK_EVENTFD;
	h.fds[0].size = m->fd == MEMFD ? MEM_FD_SIZE : 0;
	if (m->request == 5 && m->size == 40) { /* one region */
		put64(p, 1);                    /* nregions, padding */
		put64(p + 8, 0x10063a000ull);   /* guest address */
		put64(p + 16, MEM_FD_SIZE);     /* size */
		put64(p + 24, 0x10063a000ull);  /* user address */
		put64(p + 32, 0);               /* mmap offset */
	} else if (m->request == 9) { /* index, flags; desc, used, avail */
		put64(p, m->a);
		put64(p + 8, m->b);
		put64(p + 16, m->b + 0x2000);
		put64(p + 24, m->b + 0x1000);
		put64(p + 32, 0);
	} else {
		put64(p, m->a);
	}
	struct vup_hdr mh = {m->request, m->flags, m->size};
	*ts += STEP_NS;
	return vup_trace_message(t, *ts, &h, &mh, p);
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr,
		        "usage: bench-check-trace FILE.pcapng.gz [N]\n");
		return 2;
	}
	long long n = argc > 2 ? strtoll(argv[2], NULL, 10) : 1000000;
	if (n < (long long)(NSETUP + NTEARDOWN)) {
		fprintf(stderr, "bench-check-trace: N must be at least %zu\n",
		        NSETUP + NTEARDOWN);
		return 2;
	}
	struct vup_trace_config cfg = {.path = argv[1]};
	struct vup_trace *t;
	char err[256];
	if (vup_trace_open(&cfg, &t, err, sizeof(err))) {
		fprintf(stderr, "bench-check-trace: %s\n", err);
		return 1;
	}
	int rc = vup_trace_add_session(t, 1, "s1 fe.sock be.sock",
	                               "bench-check-trace");
	uint64_t ts = 1700000000ull * 1000000000ull;
	for (size_t i = 0; i < NSETUP && !rc; i++)
		rc = record(t, &ts, &setup[i]);
	uint64_t fl = (uint64_t)n - NSETUP - NTEARDOWN;
	if (fl % 2 && !rc) { /* no reply owed: evens the flood */
		struct msg odd = {FE, 18, V, 8, PAIR(0, 1), 0, NONE};
		rc = record(t, &ts, &odd);
	}
	for (uint64_t k = 0; k < fl / 2 && !rc; k++) {
		struct msg req = flood(k, 0), rep = flood(k, 1);
		rc = record(t, &ts, &req);
		if (!rc)
			rc = record(t, &ts, &rep);
	}
	for (size_t i = 0; i < NTEARDOWN && !rc; i++)
		rc = record(t, &ts, &teardown[i]);
	uint64_t count = vup_trace_count(t);
	int crc = vup_trace_close(t);
	if (rc || crc) {
		fprintf(stderr, "bench-check-trace: writing %s failed (%d)\n",
		        argv[1], rc ? rc : crc);
		return 1;
	}
	struct stat st;
	printf("messages=%llu bytes=%lld\n", (unsigned long long)count,
	       stat(argv[1], &st) ? -1LL : (long long)st.st_size);
	return 0;
}
