/* libFuzzer target for the shadow virtqueue (src/active/svq*.c): a guest
 * ring and a back-end that both do anything the input says (descriptors,
 * avail entries and indices, indirect tables, used entries and indices,
 * verdicts, releases, notifications, GET_VRING_BASE and restarts).
 * Besides memory safety (ASan: guest memory and the shadow ring are
 * exact-size heap blocks), checked: the svq writes guest memory only
 * inside the guest used ring, reads and writes only through the fake
 * memory's bounds, a stopped vring stays stopped, and a stop that
 * succeeds leaves used idx == the base it returns.
 *
 * Input: 8 bytes config (num as 1 << (b0 % 9), features b1 bit 0
 * indirect, 1 event idx, 2 log used; base le16; used ring offset le16;
 * verdict bias b7), then ops of one byte and their operands (fuzz_input.h:
 * zeros past the end).  At most 256 ops. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "active/svq.h"
#include "fuzz_input.h"
#include "vuproxy/bits.h"
#include "vuproxy/ring_layout.h"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
			        __LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

#define GSIZE   0x3000u
#define GPA     0x10000ull
#define UADDR   0x7f0000000000ull
#define DESC    0x0000u
#define AVAIL   0x1000u
#define SH_BASE 0x7e0000000000ull

static uint8_t *gmem;   /* GSIZE bytes */
static uint8_t *expect; /* what guest memory must hold outside used */
static uint64_t used_lo, used_hi;

static bool bounds(enum vup_addr_space as, uint64_t addr, size_t len,
                   uint64_t *off)
{
	uint64_t start = as == VUP_AS_GPA ? GPA : UADDR;
	if (addr < start || addr - start > GSIZE ||
	    len > GSIZE - (addr - start))
		return false;
	*off = addr - start;
	return true;
}

static bool f_read(void *ctx, enum vup_addr_space as, uint64_t addr, void *dst,
                   size_t len)
{
	(void)ctx;
	uint64_t off;
	if (!bounds(as, addr, len, &off))
		return false;
	memcpy(dst, gmem + off, len);
	return true;
}

static uint8_t *f_ptr(void *ctx, enum vup_addr_space as, uint64_t addr,
                      size_t len)
{
	(void)ctx;
	uint64_t off;
	if (!bounds(as, addr, len, &off))
		return NULL;
	/* Every write lands in the guest used ring. */
	CHECK(as == VUP_AS_UADDR && off >= used_lo && off + len <= used_hi);
	return gmem + off;
}

/* The guest (the fuzzer) writes guest memory: both copies. */
static void g_write(uint64_t off, const void *src, size_t len)
{
	if (off >= GSIZE)
		return;
	if (len > GSIZE - off)
		len = GSIZE - off;
	memcpy(gmem + off, src, len);
	memcpy(expect + off, src, len);
}

static void check_untouched(void)
{
	/* The used ring aside (the svq's), guest memory is the guest's. */
	memcpy(expect + used_lo, gmem + used_lo, used_hi - used_lo);
	CHECK(memcmp(expect, gmem, GSIZE) == 0);
}

static struct in in;
static uint8_t bias;

static enum vup_svq_verdict on_avail(void *ctx, const struct vup_svq_chain *c)
{
	(void)ctx;
	CHECK(c->nseg >= 1 && c->nseg <= VUP_SVQ_MAX_CHAIN);
	for (uint32_t k = 0; k < c->nseg; k++) {
		uint64_t off;
		CHECK(bounds(VUP_AS_GPA, c->seg[k].addr, c->seg[k].len, &off));
	}
	unsigned b = byte(&in);
	return b < bias ? VUP_SVQ_FORWARD : (enum vup_svq_verdict)(b % 3);
}

static void on_used(void *ctx, const struct vup_svq_chain *c, uint32_t len)
{
	(void)ctx;
	(void)len;
	CHECK(c->nseg <= VUP_SVQ_MAX_CHAIN);
	CHECK(c->segs_lost == (c->nseg == 0));
}

/* The back-end: a used entry naming (mostly) something it was offered. */
static void backend_use(struct vup_svq *q, uint8_t *sh, uint16_t *b_avail,
                        uint16_t *b_used)
{
	uint32_t num = q->cfg.num;
	struct vup_svq_addrs a = vup_svq_shadow_addrs(q);
	uint8_t *av = sh + (a.avail - SH_BASE), *u = sh + (a.used - SH_BASE);
	unsigned how = byte(&in);
	uint32_t id = (uint32_t)le(&in, 2);
	if (how & 1) { /* the next avail entry */
		id = vup_le16(av + vup_avail_slot_off(*b_avail & (num - 1)));
		(*b_avail)++;
	}
	uint8_t *e = u + vup_used_slot_off(*b_used & (num - 1));
	vup_put_le32(e, id);
	vup_put_le32(e + 4, (uint32_t)le(&in, 2));
	*b_used = (uint16_t)(*b_used + (how & 2 ? 1 : (how >> 2)));
	vup_put_le16(u + VUP_USED_OFF_IDX, *b_used);
}

static int restart(struct vup_svq *q, const struct vup_svq_config *cfg,
                   const struct vup_guest_mem *gm, struct vup_gwrite *gw)
{
	char err[128];
	vup_svq_free(q);
	return vup_svq_init(q, cfg, gm, gw, err, sizeof(err));
}

static void run(struct vup_svq *q, struct vup_svq_config *cfg,
                const struct vup_guest_mem *gm, struct vup_gwrite *gw)
{
	uint32_t num = cfg->num;
	uint16_t b_avail = cfg->base, b_used = cfg->base, g_avail = cfg->base;
	uint8_t b[16];
	for (unsigned n = 0; n < 256 && in.left; n++) {
		bool was = q->stopped;
		int rc = 0;
		unsigned op = byte(&in) % 12;
		switch (op) {
		case 0: { /* a descriptor */
			uint32_t i = (uint32_t)le(&in, 2) % (num + 1);
			vup_sdesc_put(b, GPA + le(&in, 2) % (GSIZE + 64),
			              (uint32_t)le(&in, 2),
			              (uint16_t)byte(&in) & 7,
			              (uint16_t)(le(&in, 2) % (num + 2)));
			g_write(DESC + 16ull * i, b, 16);
			break;
		}
		case 1: { /* an indirect table entry, anywhere */
			uint64_t off = le(&in, 2) % GSIZE;
			vup_sdesc_put(b, GPA + le(&in, 2) % (GSIZE + 64),
			              (uint32_t)le(&in, 1) + 1,
			              (uint16_t)byte(&in) & 7,
			              (uint16_t)byte(&in) % 8);
			g_write(off, b, 16);
			break;
		}
		case 2: /* an avail entry, then the index */
			vup_put_le16(b, (uint16_t)(le(&in, 2) % (num + 2)));
			g_write(AVAIL + vup_avail_slot_off(g_avail & (num - 1)),
			        b, 2);
			g_avail =
			        (uint16_t)(g_avail +
			                   (byte(&in) < 250 ? 1 : le(&in, 2)));
			vup_put_le16(b, g_avail);
			g_write(AVAIL + VUP_AVAIL_OFF_IDX, b, 2);
			break;
		case 3: /* guest flags and used_event */
			g_write(AVAIL, (uint8_t[2]){(uint8_t)byte(&in), 0}, 2);
			vup_put_le16(b, (uint16_t)le(&in, 2));
			g_write(AVAIL + vup_avail_used_event_off(num), b, 2);
			break;
		case 4: rc = vup_svq_pull(q, on_avail, NULL); break;
		case 5: backend_use(q, cfg->shadow, &b_avail, &b_used); break;
		case 6: rc = vup_svq_push(q, on_used, NULL); break;
		case 7:
			rc = vup_svq_release(
			        q, (uint16_t)le(&in, 2) % (num + 1),
			        (enum vup_svq_verdict)(byte(&in) % 3));
			break;
		case 8: rc = vup_svq_release_all(q); break;
		case 9:
			vup_svq_backend_needs_kick(q);
			vup_svq_guest_needs_call(q);
			vup_svq_want_guest_kicks(q, byte(&in) & 1);
			vup_svq_want_backend_calls(q, byte(&in) & 1);
			vup_svq_guest_pending(q);
			vup_svq_backend_pending(q);
			break;
		case 10: { /* GET_VRING_BASE and a restart at the base */
			uint16_t base;
			uint16_t bb =
			        byte(&in) & 1 ? b_avail : (uint16_t)le(&in, 2);
			rc = vup_svq_stop(q, bb, on_used, NULL, &base);
			if (rc == 0)
				CHECK(q->g_used == base);
			check_untouched();
			cfg->base = base;
			CHECK(restart(q, cfg, gm, gw) == 0);
			b_avail = b_used = base;
			continue;
		}
		default: { /* the guest scribbles on its memory */
			uint64_t off = le(&in, 2) % GSIZE;
			uint8_t v = (uint8_t)byte(&in);
			g_write(off, &v, 1);
			break;
		}
		}
		CHECK(rc >= 0 || rc == -EPROTO || rc == -ENOENT);
		CHECK(!was || q->stopped);
		CHECK(rc != -EPROTO || q->stopped);
		check_untouched();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	in = (struct in){data, size};
	uint32_t num = 1u << (byte(&in) % 9);
	unsigned f = byte(&in);
	struct vup_svq_config cfg = {
	        .name = "vring 0",
	        .num = num,
	        .desc = UADDR + DESC,
	        .avail = UADDR + AVAIL,
	        .log_used = f & 4,
	        .base = (uint16_t)le(&in, 2),
	        .features = (f & 1 ? 1ull << VUP_F_INDIRECT_DESC : 0) |
	                    (f & 2 ? 1ull << VUP_F_EVENT_IDX : 0),
	};
	uint64_t used_off = (le(&in, 2) % 0x2800u) & ~3ull;
	bias = (uint8_t)byte(&in);
	le(&in, 1);
	cfg.used = UADDR + used_off;
	cfg.used_log = GPA + used_off;
	used_lo = used_off;
	used_hi = used_off + vup_used_size(num);
	if (used_hi > GSIZE)
		used_hi = GSIZE;

	gmem = calloc(1, GSIZE);
	expect = calloc(1, GSIZE);
	size_t shsize = vup_svq_shadow_size(num);
	cfg.shadow = aligned_alloc(4096, shsize);
	cfg.shadow_uaddr = SH_BASE;
	CHECK(gmem && expect && cfg.shadow);
	uint8_t log[(GPA + GSIZE) / 0x1000 / 8 + 1] = {0};
	struct vup_guest_mem gm = {f_read, NULL};
	struct vup_gwrite gw;
	vup_gwrite_init(&gw, (struct vup_guest_wmem){f_ptr, NULL});
	vup_gwrite_set_log(&gw, log, sizeof(log));
	struct vup_svq q = {0};
	CHECK(restart(&q, &cfg, &gm, &gw) == 0);
	run(&q, &cfg, &gm, &gw);
	uint16_t base;
	int rc = vup_svq_stop(&q, q.s_avail, on_used, NULL, &base);
	if (rc == 0)
		CHECK(q.g_used == base);
	check_untouched();
	/* Logged pages are the used ring's only. */
	for (uint64_t p = 0; p < sizeof(log) * 8; p++)
		if (log[p / 8] >> (p % 8) & 1)
			CHECK(p * 0x1000 < GPA + used_hi &&
			      (p + 1) * 0x1000 > GPA + used_lo);
	vup_svq_free(&q);
	free(cfg.shadow);
	free(gmem);
	free(expect);
	return 0;
}
