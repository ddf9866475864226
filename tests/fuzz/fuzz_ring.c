/* libFuzzer target for the ring readers (src/tap/ring*.c): random guest
 * memory, a random ring configuration and a random interleaving of memory
 * writes (a driver and a device doing anything at all) with polls, also
 * between the reader's own reads.  Checked besides memory safety: every
 * read the reader makes goes through the fake memory (which refuses
 * anything outside its buffer), the count invariant holds after every
 * poll, emitted buffers stay within the snap length, and a stopped
 * reader reads nothing.
 *
 * Input:
 *   16 bytes config: size le16 (mod 32769), features byte (bit 0 packed,
 *        1 indirect, 2 in order, 3 event idx), snaplen byte (x4),
 *        desc, avail, used offsets le16 each (from the buffer start; a
 *        few high values fall outside), avail_base le16, used_base le16,
 *        hook rate byte
 *   then ops, each a byte:
 *        0-127: write (op & 63) + 1 bytes at the next le16 offset
 *        128-223: poll
 *        224-255: stop
 * (at most 64 polls per input)
 * The memory buffer (8 KiB) starts as the input bytes repeated. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tap/ring_fake.h"
#include "vuproxy/ring.h"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
			        __LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

#define MEM 8192u

struct in {
	const uint8_t *p;
	size_t n;
};

static bool take(struct in *in, void *dst, size_t len)
{
	if (in->n < len)
		return false;
	memcpy(dst, in->p, len);
	in->p += len;
	in->n -= len;
	return true;
}

static uint16_t u16(const uint8_t *b)
{
	return (uint16_t)(b[0] | b[1] << 8);
}

static struct in ops; /* also consumed by the hook */
static uint8_t hook_rate;
static uint32_t snaplen;

static void apply_write(struct fake_mem *f)
{
	uint8_t op, off[2];
	if (!take(&ops, &op, 1) || !take(&ops, off, 2))
		return;
	size_t len = (op & 63u) + 1, at = u16(off) % MEM;
	if (len > MEM - at)
		len = MEM - at;
	if (len > ops.n)
		len = ops.n;
	memcpy(f->buf + at, ops.p, len);
	ops.p += len;
	ops.n -= len;
}

static uint32_t hook_ctr;

static void hook(struct fake_mem *f, enum vup_addr_space as, uint64_t addr,
                 size_t len)
{
	(void)as;
	(void)addr;
	(void)len;
	if (hook_rate && ++hook_ctr % hook_rate == 0 && ops.n && ops.p[0] < 128)
		apply_write(f);
}

static void on_buf(void *ctx, const struct vup_ring_buf *b)
{
	(void)ctx;
	CHECK(b->rd_caplen <= snaplen && b->wr_caplen <= snaplen);
	CHECK(b->rd_caplen <= b->readable_len);
	CHECK(b->wr_caplen <= b->writable_len);
	CHECK(b->rd && b->wr);
	volatile uint8_t sink = 0;
	for (uint32_t i = 0; i < b->rd_caplen; i++)
		sink ^= b->rd[i];
	for (uint32_t i = 0; i < b->wr_caplen; i++)
		sink ^= b->wr[i];
	(void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[MEM];
	uint8_t c[16];
	struct in in = {data, size};
	if (!take(&in, c, sizeof(c)))
		return 0;
	for (size_t i = 0; i < MEM; i++)
		buf[i] = size ? data[i % size] : 0;

	struct vup_ring_config cfg = {0};
	cfg.size = u16(c) % 32769u;
	if (c[2] & 1)
		cfg.features |= 1ull << VUP_F_RING_PACKED;
	if (c[2] & 2)
		cfg.features |= 1ull << VUP_F_INDIRECT_DESC;
	if (c[2] & 4)
		cfg.features |= 1ull << VUP_F_IN_ORDER;
	if (c[2] & 8)
		cfg.features |= 1ull << VUP_F_EVENT_IDX;
	cfg.snaplen = c[3] * 4u;
	cfg.desc = FAKE_UBASE + u16(c + 4);
	cfg.avail = FAKE_UBASE + u16(c + 6);
	cfg.used = FAKE_UBASE + u16(c + 8);
	cfg.avail_base = u16(c + 10);
	cfg.used_base = u16(c + 12);
	hook_rate = c[14];
	hook_ctr = 0;
	if (c[15] & 1) /* small rings reach the interesting cases sooner */
		cfg.size %= 64;

	struct vup_ring q;
	const char *why = NULL;
	int rc = vup_ring_init(&q, &cfg, &why);
	if (rc) {
		CHECK(why != NULL);
		return 0;
	}
	snaplen = q.snaplen;
	struct fake_mem f = {.buf = buf, .size = MEM, .hook = hook};
	struct vup_guest_mem gm = fake_guest(&f);
	ops = in;
	bool stopped = false;
	uint64_t now = 0;
	unsigned polls = 0;
	while (ops.n && polls < 64) { /* a poll of a big ring is costly */
		uint8_t op = ops.p[0];
		if (op < 128) {
			apply_write(&f);
			continue;
		}
		ops.p++;
		ops.n--;
		if (op >= 224) {
			vup_ring_stop(&q);
			stopped = true;
			continue;
		}
		polls++;
		uint64_t before = f.reads;
		rc = vup_ring_poll(&q, &gm, now++, on_buf, NULL);
		CHECK(rc == 0 || rc == -EFAULT || rc == -ESHUTDOWN);
		CHECK(stopped == (rc == -ESHUTDOWN));
		if (stopped)
			CHECK(f.reads == before);
		CHECK(ring_invariant(&q));
		CHECK(f.reads - before <= VUP_RING_POLL_READS(cfg.size));
	}
	vup_ring_free(&q);
	return 0;
}
