/* Fake guest memory and ring drivers/devices for the ring reader tests
 * and fuzzer.  One buffer is seen at two bases: FAKE_UBASE in the uaddr
 * space (rings) and FAKE_GBASE in the gpa space (descriptor addresses);
 * reads outside it fail and are counted.  A hook may run before every
 * read (to move driver and device "concurrently" with the reader). */
#ifndef VUP_TESTS_TAP_RING_FAKE_H
#define VUP_TESTS_TAP_RING_FAKE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vuproxy/guestmem.h"
#include "vuproxy/ring.h"

#define FAKE_UBASE 0x7f0000000000ull
#define FAKE_GBASE 0x40000000ull

struct fake_mem {
	uint8_t *buf;
	size_t size;
	uint64_t reads, refused;
	void (*hook)(struct fake_mem *f, enum vup_addr_space as, uint64_t addr,
	             size_t len);
	void *hook_ctx;
	bool in_hook;
};

static inline bool fake_read(void *ctx, enum vup_addr_space as, uint64_t addr,
                             void *dst, size_t len)
{
	struct fake_mem *f = ctx;
	uint64_t base = as == VUP_AS_UADDR ? FAKE_UBASE : FAKE_GBASE;
	f->reads++;
	if (f->hook && !f->in_hook) {
		f->in_hook = true;
		f->hook(f, as, addr, len);
		f->in_hook = false;
	}
	if (addr < base || addr - base > f->size ||
	    len > f->size - (addr - base)) {
		f->refused++;
		return false;
	}
	memcpy(dst, f->buf + (addr - base), len);
	return true;
}

static inline struct vup_guest_mem fake_guest(struct fake_mem *f)
{
	struct vup_guest_mem m = {fake_read, f};
	return m;
}

/* Little-endian stores at a buffer offset. */
static inline void st16(struct fake_mem *f, uint64_t off, uint16_t v)
{
	f->buf[off] = (uint8_t)v;
	f->buf[off + 1] = (uint8_t)(v >> 8);
}

static inline void st32(struct fake_mem *f, uint64_t off, uint32_t v)
{
	st16(f, off, (uint16_t)v);
	st16(f, off + 2, (uint16_t)(v >> 16));
}

static inline void st64(struct fake_mem *f, uint64_t off, uint64_t v)
{
	st32(f, off, (uint32_t)v);
	st32(f, off + 4, (uint32_t)(v >> 32));
}

static inline uint16_t ld16(const struct fake_mem *f, uint64_t off)
{
	return (uint16_t)(f->buf[off] | f->buf[off + 1] << 8);
}

static inline uint32_t ld32(const struct fake_mem *f, uint64_t off)
{
	return ld16(f, off) | (uint32_t)ld16(f, off + 2) << 16;
}

static inline bool ring_invariant(const struct vup_ring *q)
{
	const struct vup_ring_stats *s = vup_ring_stats(q);
	return s->captured + s->missed + s->torn + s->malformed == s->consumed;
}

#ifdef RING_FAKE_FIXTURE
/* The cmocka tests' fixture (test_ring_split.c, test_ring_packed.c; the
 * fuzzer has none): one ring q over MEMSIZE bytes of fake memory f, the
 * buffers it emits copied into caps[], and the randomised driver and
 * device of the stress tests.  Include after <cmocka.h>. */

#define DESC    0x0000u /* descriptor table */
#define DATA    0x4000u /* buffers */
#define MEMSIZE 0x20000u

#define F(bit) (1ull << (bit))

/* What on_buf copies of an emitted buffer. */
struct cap {
	uint16_t id, avail_idx, used_idx;
	uint32_t flags, rd_len, wr_len, used_len, rd_caplen, wr_caplen;
	uint8_t rd[256], wr[256];
	uint8_t wr_last;
};

static struct fake_mem f;
static struct vup_guest_mem gm;
static struct vup_ring q;
static struct cap caps[64];
static unsigned ncaps;
static uint32_t n; /* queue size */

static void on_buf(void *ctx, const struct vup_ring_buf *b)
{
	(void)ctx;
	assert_true(ncaps < 64);
	struct cap *c = &caps[ncaps++];
	c->id = b->id;
	c->avail_idx = b->avail_idx;
	c->used_idx = b->used_idx;
	c->flags = b->flags;
	c->rd_len = b->readable_len;
	c->wr_len = b->writable_len;
	c->used_len = b->used_len;
	c->rd_caplen = b->rd_caplen;
	c->wr_caplen = b->wr_caplen;
	c->wr_last = b->wr_last;
	assert_true(b->rd_caplen <= 256 && b->wr_caplen <= 256);
	memcpy(c->rd, b->rd, b->rd_caplen);
	memcpy(c->wr, b->wr, b->wr_caplen);
}

/* A new ring of size descriptors over zeroed memory: ring_clear, the
 * test writes its indexes, then ring_start with its layout. */
static void ring_clear(uint32_t size)
{
	vup_ring_free(&q);
	memset(f.buf, 0, f.size);
	f.hook = NULL;
	f.refused = 0;
	n = size;
}

static void ring_start(const struct vup_ring_config *c)
{
	const char *why = NULL;
	assert_int_equal(vup_ring_init(&q, c, &why), 0);
	ncaps = 0;
}

static int setup(void **state)
{
	(void)state;
	f.size = MEMSIZE;
	f.buf = calloc(1, MEMSIZE);
	gm = fake_guest(&f);
	return f.buf ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	vup_ring_free(&q);
	free(f.buf);
	return 0;
}

static void poll_ok(void)
{
	assert_int_equal(vup_ring_poll(&q, &gm, 1000, on_buf, NULL), 0);
	assert_true(ring_invariant(&q));
}

static const struct vup_ring_stats *st(void)
{
	return vup_ring_stats(&q);
}

/* One chain was offered and used: it must be refused as malformed, with
 * why in the reason. */
static void expect_malformed(const char *why)
{
	poll_ok();
	if (st()->malformed != 1)
		fail_msg("want \"%s\": consumed %llu missed %llu torn %llu "
		         "desync %llu",
		         why, (unsigned long long)st()->consumed,
		         (unsigned long long)st()->missed,
		         (unsigned long long)st()->torn,
		         (unsigned long long)st()->desync);
	assert_int_equal(st()->malformed, 1);
	assert_int_equal(st()->consumed, 1);
	assert_int_equal(ncaps, 0);
	assert_non_null(st()->last_malformed);
	if (!strstr(st()->last_malformed, why))
		fail_msg("\"%s\" lacks \"%s\"", st()->last_malformed, why);
}

/* The stress tests: a driver and a device, each test's own, move in
 * random steps between polls and, through f's hook, between the reader's
 * own reads (once in sim_hook_div of them). */
static uint32_t sim_rng, sim_hook_div;
static void drv_offer(void);
static void dev_use(void);
static void drv_reclaim(void);

static uint32_t rnd(void)
{
	sim_rng ^= sim_rng << 13;
	sim_rng ^= sim_rng >> 17;
	sim_rng ^= sim_rng << 5;
	return sim_rng;
}

static void sim_step(void)
{
	switch (rnd() % 5) {
	case 0:
	case 1: drv_offer(); break;
	case 2: dev_use(); break;
	default: drv_reclaim(); break;
	}
}

static void sim_hook(struct fake_mem *m, enum vup_addr_space as, uint64_t addr,
                     size_t len)
{
	(void)m;
	(void)as;
	(void)addr;
	(void)len;
	if (rnd() % sim_hook_div == 0)
		sim_step();
}

/* Seed the draws and let the driver and device move inside polls. */
static void sim_start(uint32_t seed, uint32_t hook_div)
{
	sim_rng = seed * 2654435761u + 1;
	sim_hook_div = hook_div;
	f.hook = sim_hook;
}

/* A poll amid the moves: check sees every buffer emitted; nothing read
 * may fall outside guest memory. */
static void sim_poll(uint64_t now, vup_ring_emit_fn check)
{
	assert_int_equal(vup_ring_poll(&q, &gm, now, check, NULL), 0);
	assert_true(ring_invariant(&q));
	assert_int_equal(f.refused, 0);
}

/* $NAME as a number, or dflt when unset. */
static uint32_t env_u32(const char *name, uint32_t dflt)
{
	const char *s = getenv(name);
	return s ? (uint32_t)atoi(s) : dflt;
}
#endif /* RING_FAKE_FIXTURE */

#endif
