/* Fake guest memory and ring drivers/devices for the ring reader tests
 * and fuzzer.  One buffer is seen at two bases: FAKE_UBASE in the uaddr
 * space (rings) and FAKE_GBASE in the gpa space (descriptor addresses);
 * reads outside it fail and are counted.  A hook may run before every
 * read (to move driver and device "concurrently" with the reader). */
#ifndef VUP_TESTS_TAP_RING_FAKE_H
#define VUP_TESTS_TAP_RING_FAKE_H

#include <stdbool.h>
#include <stdint.h>
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

#endif
