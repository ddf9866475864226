/* libFuzzer target for the tap's session-level message handling
 * (src/tap/tap.c, tap_decode.c, over memmap.c and the ring readers): a
 * hostile front-end sends any sequence of requests (SET_FEATURES,
 * SET_MEM_TABLE over a memfd, SET_VRING_*, resets, anything) into
 * vup_tap_message, vup_tap_poll runs after each, and a hostile guest
 * rewrites its memory (the memfd) between polls.  No trace (NULL): the
 * tap decodes and counts only.
 *
 * Input:
 *   1 byte config: bit 0 blk (else net), bit 1 keep unverified copies
 *     (clear: --tap-strict),
 *     bits 2-4 snaplen: 0 (the default, 256), 1, 14, 64, 256, 1514,
 *     4096, 65536
 *   2 bytes le16 n (mod 4097), then n bytes: guest memory from offset 0
 *     (the memfd is MEM bytes, zeros past them)
 *   then ops, a byte c each, operands after it (past the end: zeros):
 *   c % 8 = 0  SET_FEATURES, 8 bytes (bit 3 of c: size 4)
 *           1  SET_PROTOCOL_FEATURES, 8 bytes
 *           2  SET_MEM_TABLE: byte nregions (mod 34), each region
 *              gpa le64, uaddr le64, size le32, mmap_offset le32, backed
 *              by the memfd (bit 3 of c: the last one by a pipe, bit 4:
 *              by no fd; bit 5: one fd fewer than regions); the uaddr of
 *              the first region is the base of later ring addresses
 *           3  a vring request, byte s: request ((s & 7) % 6) SET_VRING_NUM
 *              (le16 num), SET_VRING_ADDR (le16 desc, used, avail offsets
 *              from the base; bit 7 of s: le64 addresses instead),
 *              SET_VRING_BASE (le16), GET_VRING_BASE, SET_VRING_KICK,
 *              SET_VRING_ENABLE (byte); of queue (s >> 3) & 3, or of a
 *              le32 index (read first) when (s >> 3) & 7 >= 4
 *           4  the back-end's GET_VRING_BASE reply, byte queue index
 *           5  the guest writes: le16 offset, byte len (mod 64) + 1,
 *              bytes (into the memfd, under the tap's mapping)
 *           6  byte s: RESET_OWNER, RESET_DEVICE, ADD_MEM_REG (one
 *              region as above, the memfd; bit 3 of s: no fd), REM_MEM_REG
 *              (one region as above) by s % 4
 *           7  any message: le32 request, byte flags (bit 0 reply, 1 from
 *              the back-end, 2 back-end channel), byte len (mod 64),
 *              payload
 *   (at most 512 ops)
 * Checked besides memory safety: after the session ends no mapping of the
 * memfd is left, and the totals add up (captured + missed + torn +
 * malformed == consumed, unverified <= captured).
 * FUZZ_TAP_VERBOSE=1 in the environment: the tap's log and the totals on
 * stderr (to see what a seed does).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../tap/tap_feed.h"
#include "fuzz_input.h"
#include "vuproxy/log.h"
#include "vuproxy/memmap.h"
#include "vuproxy/proto.h"
#include "vuproxy/tap.h"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(saved_stderr, "%s:%d: check failed: %s\n",     \
			        __FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

#define MEM     0x10000u
#define MAX_OPS 512

static FILE *saved_stderr, *devnull;
static int memfd = -1, pipefd = -1;
static bool verbose; /* FUZZ_TAP_VERBOSE=1: the log and totals on stderr */

static void init(void)
{
	if (memfd >= 0)
		return;
	saved_stderr = stderr;
	devnull = fopen("/dev/null", "w");
	memfd = memfd_create("vup-fuzz-guest", MFD_CLOEXEC);
	int p[2];
	if (!devnull || memfd < 0 || pipe(p)) {
		perror("fuzz_tap: init");
		abort();
	}
	pipefd = p[0];
	vup_log_level = VUP_LOG_DEBUG; /* format every line (to /dev/null) */
	verbose = getenv("FUZZ_TAP_VERBOSE") != NULL;
	if (verbose)
		devnull = stderr;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A 32-byte region from the input; returns its uaddr. */
static uint64_t region(struct in *in, uint8_t *p)
{
	uint64_t gpa = le(in, 8), uaddr = le(in, 8);
	uint32_t size = (uint32_t)le(in, 4), off = (uint32_t)le(in, 4);
	put64(p, gpa);
	put64(p + 8, size);
	put64(p + 16, uaddr);
	put64(p + 24, off);
	return uaddr;
}

static uint64_t now;

/* Send a message (payload copied to an exact-size buffer), then poll. */
static void send(struct vup_tap *t, enum vup_chan chan, enum vup_side from,
                 uint32_t request, uint32_t flags, const uint8_t *payload,
                 uint32_t size, const int *fds, unsigned nfds)
{
	struct vup_hdr h = {request, flags, size};
	uint8_t *p = malloc(size ? size : 1);
	if (!p)
		abort();
	memcpy(p, payload, size);
	tap_feed(t, chan, from, &h, p, fds, nfds, now);
	free(p);
}

static int mapped_memfds(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		abort();
	char line[512];
	int n = 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "vup-fuzz-guest"))
			n++;
	fclose(f);
	return n;
}

static void op(struct vup_tap *t, struct in *in, uint64_t *base)
{
	uint8_t pl[8 + 32 * (VUP_MEMMAP_TABLE_MAX + 1)];
	int fds[VUP_MEMMAP_TABLE_MAX + 1];
	unsigned c = byte(in);
	switch (c % 8) {
	case 0:
		put64(pl, le(in, 8));
		send(t, VUP_CHAN_MAIN, VUP_FRONTEND, VUP_REQ_SET_FEATURES, 1,
		     pl, c & 8 ? 4 : 8, NULL, 0);
		break;
	case 1:
		put64(pl, le(in, 8));
		send(t, VUP_CHAN_MAIN, VUP_FRONTEND,
		     VUP_REQ_SET_PROTOCOL_FEATURES, 1, pl, 8, NULL, 0);
		break;
	case 2: {
		/* Up to one past the most a table may hold. */
		unsigned n = byte(in) % (VUP_MEMMAP_TABLE_MAX + 2);
		put32(pl, n);
		put32(pl + 4, 0);
		for (unsigned i = 0; i < n; i++) {
			uint64_t u = region(in, pl + 8 + 32 * i);
			if (i == 0)
				*base = u;
			fds[i] = memfd;
		}
		if (n && (c & 8))
			fds[n - 1] = pipefd;
		if (n && (c & 16))
			fds[n - 1] = -1;
		unsigned nfds = n && (c & 32) ? n - 1 : n;
		send(t, VUP_CHAN_MAIN, VUP_FRONTEND, VUP_REQ_SET_MEM_TABLE, 1,
		     pl, 8 + 32 * n, fds, nfds);
		break;
	}
	case 3: {
		static const uint32_t reqs[6] = {
		        VUP_REQ_SET_VRING_NUM,  VUP_REQ_SET_VRING_ADDR,
		        VUP_REQ_SET_VRING_BASE, VUP_REQ_GET_VRING_BASE,
		        VUP_REQ_SET_VRING_KICK, VUP_REQ_SET_VRING_ENABLE,
		};
		unsigned s = byte(in);
		uint32_t req = reqs[(s & 7) % 6];
		uint32_t index =
		        (s >> 3 & 7) >= 4 ? (uint32_t)le(in, 4) : (s >> 3 & 3);
		uint32_t size = 8;
		memset(pl, 0, 40);
		put32(pl, index);
		switch (req) {
		case VUP_REQ_SET_VRING_NUM:
		case VUP_REQ_SET_VRING_BASE:
			put32(pl + 4, (uint32_t)le(in, 2));
			break;
		case VUP_REQ_SET_VRING_ADDR:
			size = 40;
			for (int i = 0; i < 3; i++)
				put64(pl + 8 + 8 * i,
				      s & 128 ? le(in, 8) : *base + le(in, 2));
			break;
		case VUP_REQ_SET_VRING_KICK:
			put64(pl, index & 0xff); /* u64: index, no-fd flag */
			break;
		case VUP_REQ_SET_VRING_ENABLE: put32(pl + 4, byte(in)); break;
		default: break;
		}
		send(t, VUP_CHAN_MAIN, VUP_FRONTEND, req, 1, pl, size, NULL, 0);
		break;
	}
	case 4:
		memset(pl, 0, 8);
		put32(pl, byte(in));
		send(t, VUP_CHAN_MAIN, VUP_BACKEND, VUP_REQ_GET_VRING_BASE,
		     1 | VUP_FLAG_REPLY, pl, 8, NULL, 0);
		break;
	case 5: {
		uint32_t off = (uint32_t)le(in, 2);
		size_t len = byte(in) % 64 + 1;
		uint8_t buf[64];
		take(in, buf, len);
		if (pwrite(memfd, buf, len, off) != (ssize_t)len)
			abort();
		break;
	}
	case 6: {
		unsigned s = byte(in);
		switch (s % 4) {
		case 0:
			send(t, VUP_CHAN_MAIN, VUP_FRONTEND,
			     VUP_REQ_RESET_OWNER, 1, pl, 0, NULL, 0);
			break;
		case 1:
			send(t, VUP_CHAN_MAIN, VUP_FRONTEND,
			     VUP_REQ_RESET_DEVICE, 1, pl, 0, NULL, 0);
			break;
		default:
			put64(pl, 0);
			region(in, pl + 8);
			fds[0] = memfd;
			send(t, VUP_CHAN_MAIN, VUP_FRONTEND,
			     s % 4 == 2 ? VUP_REQ_ADD_MEM_REG
			                : VUP_REQ_REM_MEM_REG,
			     1, pl, 40, fds, s % 4 == 2 && !(s & 8) ? 1 : 0);
			break;
		}
		break;
	}
	default: {
		uint32_t req = (uint32_t)le(in, 4);
		unsigned f = byte(in);
		uint32_t len = byte(in) % 64;
		take(in, pl, len);
		send(t, f & 4 ? VUP_CHAN_BACKEND : VUP_CHAN_MAIN,
		     f & 2 ? VUP_BACKEND : VUP_FRONTEND, req,
		     1 | (f & 1 ? VUP_FLAG_REPLY : 0), pl, len, NULL, 0);
		break;
	}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t snaps[8] = {0, 1, 14, 64, 256, 1514, 4096, 65536};
	init();
	struct in in = {data, size};
	unsigned cfgb = byte(&in);
	/* The proxy always gives its taps a memory budget; without one a
	 * 32768-slot ring at -s 65536 asks malloc for 4 GiB. */
	struct vup_tap_budget budget = {.mem_limit = VUP_TAP_MEMORY_DEFAULT};
	struct vup_tap_config cfg = {
	        .budget = &budget,
	        .kind = cfgb & 1 ? VUP_TAP_BLK : VUP_TAP_NET,
	        .snaplen = snaps[cfgb >> 2 & 7],
	        .strict = !(cfgb & 2),
	};
	/* Fresh guest memory: zeros, then the input's bytes. */
	size_t n = le(&in, 2) % 4097;
	if (n > in.left)
		n = in.left;
	if (ftruncate(memfd, 0) || ftruncate(memfd, MEM) ||
	    (n && pwrite(memfd, in.p, n, 0) != (ssize_t)n))
		abort();
	in.p += n;
	in.left -= n;

	stderr = devnull;
	struct vup_tap *t = vup_tap_new(&cfg, 1, NULL);
	if (!t)
		abort();
	uint64_t base = 0;
	now = 1000000000;
	for (int i = 0; i < MAX_OPS && in.left; i++) {
		op(t, &in, &base);
		now += 1000;
		vup_tap_poll(t, now, NULL);
	}
	vup_tap_end(t, now);
	struct vup_tap_totals sum = {0};
	vup_tap_add_totals(t, &sum);
	tap_model_forget(t);
	vup_tap_free(t);
	stderr = saved_stderr;
	if (verbose)
		fprintf(stderr,
		        "queues %u consumed %llu captured %llu missed %llu "
		        "torn %llu malformed %llu unverified %llu\n",
		        sum.queues, (unsigned long long)sum.consumed,
		        (unsigned long long)sum.captured,
		        (unsigned long long)sum.missed,
		        (unsigned long long)sum.torn,
		        (unsigned long long)sum.malformed,
		        (unsigned long long)sum.unverified);
	CHECK(sum.unverified <= sum.captured);
	CHECK(sum.captured + sum.missed + sum.torn + sum.malformed ==
	      sum.consumed);
	CHECK(mapped_memfds() == 0);
	CHECK(budget.mem_used == 0); /* every ring's memory given back */
	return 0;
}
