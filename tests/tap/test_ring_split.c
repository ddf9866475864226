/* Unit tests for src/tap/ring_split.c (and ring.c) over fake guest
 * memory: capture of readable parts at avail time and written parts at
 * used time, indirect tables, EVENT_IDX layout, IN_ORDER batches, index
 * wrap-around, missed and torn buffers, every malformed chain, and a
 * randomised driver/device moving between the reader's own reads, where
 * every emitted byte must be what that buffer really held. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#define RING_FAKE_FIXTURE
#include "ring_fake.h"

#define AVAIL 0x1000u
#define USED  0x2000u

static uint16_t aidx, uidx;

static void ring_setup(uint32_t size, uint64_t features, uint16_t base)
{
	ring_clear(size);
	aidx = uidx = base;
	st16(&f, AVAIL + 2, base);
	st16(&f, USED + 2, base);
	struct vup_ring_config c = {
	        .size = size,
	        .desc = FAKE_UBASE + DESC,
	        .avail = FAKE_UBASE + AVAIL,
	        .used = FAKE_UBASE + USED,
	        .avail_base = base,
	        .used_base = base,
	        .features = features | F(32),
	};
	ring_start(&c);
}

static void desc_abs(unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next)
{
	st64(&f, DESC + 16 * i, addr);
	st32(&f, DESC + 16 * i + 8, len);
	st16(&f, DESC + 16 * i + 12, flags);
	st16(&f, DESC + 16 * i + 14, next);
}

static void desc(unsigned i, uint32_t off, uint32_t len, uint16_t flags,
                 uint16_t next)
{
	desc_abs(i, FAKE_GBASE + off, len, flags, next);
}

static void offer(uint16_t head)
{
	st16(&f, AVAIL + 4 + 2 * (aidx % n), head);
	aidx++;
	st16(&f, AVAIL + 2, aidx);
}

static void use(uint32_t id, uint32_t len)
{
	st32(&f, USED + 4 + 8 * (uidx % n), id);
	st32(&f, USED + 8 + 8 * (uidx % n), len);
	uidx++;
	st16(&f, USED + 2, uidx);
}

/* ---- configuration ---- */

static void test_config_refused(void **state)
{
	(void)state;
	struct vup_ring r;
	const char *why;
	struct vup_ring_config c = {.size = 0};
	assert_int_equal(vup_ring_init(&r, &c, &why), -EINVAL);
	c.size = 48;
	why = NULL;
	assert_int_equal(vup_ring_init(&r, &c, &why), -EINVAL);
	assert_non_null(strstr(why, "power of 2"));
	c.size = 65536;
	assert_int_equal(vup_ring_init(&r, &c, &why), -EINVAL);
	c.size = 256;
	c.snaplen = 1 << 20;
	assert_int_equal(vup_ring_init(&r, &c, &why), -EINVAL);
	c.snaplen = 0;
	c.desc = UINT64_MAX - 100;
	assert_int_equal(vup_ring_init(&r, &c, &why), -EINVAL);
	c.desc = 0;
	assert_int_equal(vup_ring_init(&r, &c, &why), 0);
	vup_ring_free(&r);
	c.size = 32768;
	assert_int_equal(vup_ring_init(&r, &c, &why), 0);
	vup_ring_free(&r);
}

/* ---- well-formed buffers ---- */

static void test_tx_single(void **state)
{
	(void)state;
	ring_setup(256, 0, 0);
	memcpy(f.buf + DATA, "hello", 5);
	desc(3, DATA, 5, 0, 0);
	offer(3);
	poll_ok();
	assert_int_equal(ncaps, 0); /* not used yet */
	use(3, 0);
	poll_ok();
	assert_int_equal(ncaps, 1);
	assert_int_equal(caps[0].id, 3);
	assert_int_equal(caps[0].avail_idx, 0);
	assert_int_equal(caps[0].rd_len, 5);
	assert_int_equal(caps[0].rd_caplen, 5);
	assert_memory_equal(caps[0].rd, "hello", 5);
	assert_int_equal(caps[0].flags, VUP_RING_BUF_READABLE);
	assert_int_equal(st()->consumed, 1);
	assert_int_equal(st()->captured, 1);
}

/* virtio-blk read: header readable, data and status written. */
static void test_blk_chain(void **state)
{
	(void)state;
	ring_setup(256, 0, 0);
	uint8_t hdr[16] = {0, 0, 0, 0, 0, 0, 0, 0, 8};
	memcpy(f.buf + DATA, hdr, 16);
	desc(0, DATA, 16, 1, 5);
	desc(5, DATA + 0x100, 512, 1 | 2, 7);
	desc(7, DATA + 0x400, 1, 2, 0);
	offer(0);
	poll_ok();
	memset(f.buf + DATA + 0x100, 0xab, 512);
	f.buf[DATA + 0x400] = 2; /* status UNSUPP */
	use(0, 513);
	poll_ok();
	assert_int_equal(ncaps, 1);
	assert_int_equal(caps[0].rd_len, 16);
	assert_int_equal(caps[0].wr_len, 513);
	assert_int_equal(caps[0].used_len, 513);
	assert_int_equal(caps[0].rd_caplen, 16);
	assert_memory_equal(caps[0].rd, hdr, 16);
	assert_int_equal(caps[0].wr_caplen, 256); /* snap length */
	assert_int_equal(caps[0].wr[0], 0xab);
	assert_int_equal(caps[0].flags, VUP_RING_BUF_READABLE |
	                                        VUP_RING_BUF_WRITABLE |
	                                        VUP_RING_BUF_HAS_LAST);
	/* The status byte, past the snap length, as the device wrote it. */
	assert_int_equal(caps[0].wr_last, 2);
}

/* The caller caps a poll's guest reads (the proxy shares one budget per
 * tick between all queues): a poll stops at the cap, the next one goes
 * on, and nothing is lost or counted twice. */
static void test_read_cap(void **state)
{
	(void)state;
	ring_setup(256, 0, 0);
	for (uint16_t d = 0; d < 50; d++) {
		memset(f.buf + DATA + 0x100 * d, d, 16);
		desc(d, DATA + 0x100 * d, 16, 0, 0);
		offer(d);
	}
	q.max_reads = 40;
	/* Walking 50 offers takes several capped polls. */
	for (int i = 0; i < 30; i++) {
		poll_ok();
		assert_true(vup_ring_reads(&q) <= 40);
	}
	for (uint16_t d = 0; d < 50; d++)
		use(d, 0);
	for (int i = 0; i < 30; i++) {
		poll_ok();
		assert_true(vup_ring_reads(&q) <= 40);
	}
	assert_int_equal(st()->consumed, 50);
	assert_int_equal(st()->captured, 50);
	assert_int_equal(ncaps, 50);
	for (unsigned i = 0; i < 50; i++)
		assert_int_equal(caps[i].rd[0], i);
}

/* A device that polls uses a buffer before the reader's re-check: its
 * readable copy is torn, or kept flagged with keep_unverified; a chain
 * with only a writable part is captured either way. */
static void used_before_check(bool keep)
{
	ring_setup(256, 0, 0);
	q.cfg.keep_unverified = keep;
	memcpy(f.buf + DATA, "frame", 5);
	desc(0, DATA, 5, 0, 0);
	desc(1, DATA + 0x100, 64, 2, 0);
	offer(0);
	offer(1);
	use(0, 0);
	memset(f.buf + DATA + 0x100, 0x77, 64);
	use(1, 64);
	poll_ok();
	assert_int_equal(st()->consumed, 2);
	if (keep) {
		assert_int_equal(ncaps, 2);
		assert_int_equal(st()->captured, 2);
		assert_int_equal(st()->unverified, 1);
		assert_true(caps[0].flags & VUP_RING_BUF_UNVERIFIED);
		assert_memory_equal(caps[0].rd, "frame", 5);
		assert_false(caps[1].flags & VUP_RING_BUF_UNVERIFIED);
	} else {
		assert_int_equal(ncaps, 1);
		assert_int_equal(st()->torn, 1);
		assert_int_equal(st()->captured, 1);
		assert_int_equal(caps[0].wr[0], 0x77);
	}
}

static void test_used_before_check_torn(void **state)
{
	(void)state;
	used_before_check(false);
}

static void test_used_before_check_kept(void **state)
{
	(void)state;
	used_before_check(true);
}

/* net RX: written part limited by used.len. */
static void test_rx_used_len(void **state)
{
	(void)state;
	ring_setup(256, 0, 0);
	desc(9, DATA, 1500, 2, 0);
	offer(9);
	poll_ok();
	memset(f.buf + DATA, 0x5a, 60);
	use(9, 60);
	poll_ok();
	assert_int_equal(ncaps, 1);
	assert_int_equal(caps[0].wr_caplen, 60);
	assert_int_equal(caps[0].used_len, 60);
	assert_int_equal(caps[0].wr[59], 0x5a);
	/* used.len larger than the buffer: flagged, still bounded */
	offer(9);
	poll_ok();
	use(9, 5000);
	poll_ok();
	assert_int_equal(ncaps, 2);
	assert_true(caps[1].flags & VUP_RING_BUF_LEN_OVER);
	assert_int_equal(caps[1].wr_caplen, 256);
}

static void test_indirect(void **state)
{
	(void)state;
	ring_setup(256, F(28), 0);
	uint32_t t = DATA + 0x1000; /* indirect table in gpa space */
	struct fake_mem *m = &f;
	st64(m, t, FAKE_GBASE + DATA);
	st32(m, t + 8, 4);
	st16(m, t + 12, 1);
	st16(m, t + 14, 2);
	st64(m, t + 32, FAKE_GBASE + DATA + 4);
	st32(m, t + 40, 3);
	st16(m, t + 44, 0);
	memcpy(f.buf + DATA, "abcdefg", 7);
	desc(1, t, 48, 4, 0);
	offer(1);
	poll_ok();
	use(1, 0);
	poll_ok();
	assert_int_equal(ncaps, 1);
	assert_int_equal(caps[0].rd_len, 7);
	assert_memory_equal(caps[0].rd, "abcdefg", 7);
	assert_true(caps[0].flags & VUP_RING_BUF_INDIRECT);
}

/* EVENT_IDX: used_event after the avail ring, avail_event after the used
 * ring; memory ends right after them, so a reader that read them with
 * the wrong layout, or past the rings, would be refused. */
static void test_event_idx_layout(void **state)
{
	(void)state;
	ring_setup(8, F(29), 0);
	struct vup_ring_config c = q.cfg;
	vup_ring_free(&q);
	/* rings at the very end of memory */
	uint32_t used = MEMSIZE - (6 + 8 * 8);
	uint32_t avail = used - (6 + 2 * 8);
	c.avail = FAKE_UBASE + avail;
	c.used = FAKE_UBASE + used;
	assert_int_equal(vup_ring_init(&q, &c, NULL), 0);
	st16(&f, avail + 4 + 2 * 8, 0x1234); /* used_event */
	st16(&f, used + 4 + 8 * 8, 0x4321);  /* avail_event */
	desc(2, DATA, 10, 0, 0);
	st16(&f, avail + 4, 2);
	st16(&f, avail + 2, 1);
	poll_ok();
	st32(&f, used + 4, 2);
	st32(&f, used + 8, 0);
	st16(&f, used + 2, 1);
	poll_ok();
	assert_int_equal(ncaps, 1);
	assert_int_equal(st()->captured, 1);
}

/* IN_ORDER: one used entry for a batch of four, used.idx += 4. */
static void test_in_order_batch(void **state)
{
	(void)state;
	ring_setup(16, F(35), 0);
	for (unsigned i = 0; i < 4; i++) {
		desc(i, DATA + 0x100 * i, 64, 2, 0);
		offer((uint16_t)i);
	}
	poll_ok();
	for (unsigned i = 0; i < 4; i++)
		memset(f.buf + DATA + 0x100 * i, 'a' + i, 64);
	st32(&f, USED + 4 + 8 * 3, 3);
	st32(&f, USED + 8 + 8 * 3, 40);
	uidx = 4;
	st16(&f, USED + 2, 4);
	poll_ok();
	assert_int_equal(ncaps, 4);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(caps[i].id, i);
		assert_true(caps[i].flags & VUP_RING_BUF_LEN_UNKNOWN);
		assert_int_equal(caps[i].wr_caplen, 64);
		assert_int_equal(caps[i].wr[0], 'a' + i);
	}
	assert_int_equal(caps[3].id, 3);
	assert_false(caps[3].flags & VUP_RING_BUF_LEN_UNKNOWN);
	assert_int_equal(caps[3].used_len, 40);
	assert_int_equal(caps[3].wr_caplen, 40);
	assert_int_equal(st()->captured, 4);
	assert_int_equal(st()->consumed, 4);
}

/* Free-running u16 indices across 65535 -> 0. */
static void test_wrap_around(void **state)
{
	(void)state;
	ring_setup(4, 0, 65530);
	for (unsigned k = 0; k < 20; k++) {
		uint16_t head = (uint16_t)(k % 4);
		desc(head, DATA + 16 * head, 8, 0, 0);
		memset(f.buf + DATA + 16 * head, (int)k, 8);
		offer(head);
		poll_ok();
		use(head, 0);
		poll_ok();
		assert_int_equal(ncaps, k + 1);
		assert_int_equal(caps[k].avail_idx, (uint16_t)(65530 + k));
		assert_int_equal(caps[k].rd[7], k);
	}
	assert_int_equal(st()->captured, 20);
	assert_int_equal(st()->consumed, 20);
}

/* Between two polls the ring went round more than once. */
static void test_missed(void **state)
{
	(void)state;
	ring_setup(4, 0, 0);
	for (unsigned k = 0; k < 10; k++) {
		desc(k % 4, DATA, 8, 0, 0);
		offer((uint16_t)(k % 4));
		use(k % 4, 0);
	}
	poll_ok();
	assert_int_equal(st()->consumed, 10);
	assert_int_equal(st()->missed, 6); /* overwritten used entries */
	assert_int_equal(st()->torn, 4);   /* seen only once used */
	assert_int_equal(st()->captured, 0);
	assert_int_equal(ncaps, 0);
}

/* ---- torn: the ring moves while the reader copies ---- */

static uint64_t trigger_addr;
static int trigger_kind;

static void hook_once(struct fake_mem *m, enum vup_addr_space as, uint64_t addr,
                      size_t len)
{
	(void)m;
	if (as != VUP_AS_GPA || addr != trigger_addr || !trigger_kind)
		return;
	(void)len;
	int kind = trigger_kind;
	trigger_kind = 0;
	if (kind == 1) { /* device uses head 3 while its data is read */
		use(3, 0);
	} else if (kind == 2) { /* driver recycles head 4 and offers it */
		memset(f.buf + DATA, 'Z', 8);
		offer(4);
	}
}

static void test_torn_tx(void **state)
{
	(void)state;
	ring_setup(256, 0, 0);
	desc(3, DATA, 8, 0, 0);
	offer(3);
	f.hook = hook_once;
	trigger_addr = FAKE_GBASE + DATA;
	trigger_kind = 1;
	poll_ok();
	poll_ok();
	assert_int_equal(st()->torn, 1);
	assert_int_equal(st()->consumed, 1);
	assert_int_equal(ncaps, 0);
}

static void test_torn_rx(void **state)
{
	(void)state;
	ring_setup(256, 0, 0);
	desc(4, DATA, 8, 2, 0);
	offer(4);
	poll_ok();
	use(4, 8);
	f.hook = hook_once;
	trigger_addr = FAKE_GBASE + DATA;
	trigger_kind = 2;
	poll_ok();
	assert_int_equal(st()->torn, 1);
	assert_int_equal(st()->captured, 0);
	assert_int_equal(ncaps, 0);
	f.hook = NULL;
	poll_ok();
	use(4, 8); /* second offer, seen in time: captured */
	poll_ok();
	assert_int_equal(st()->captured, 1);
	assert_int_equal(st()->consumed, 2);
}

/* The driver got a buffer back and offered its head again before the
 * next poll (a polling device, a driver sending two frames close
 * together).  A TX buffer's copy was made, and verified, when it was
 * offered: its use is captured with those bytes, then the new offer.
 * An RX buffer's written part is copied at the use, after the driver
 * may have reused it: torn. */
static void test_reoffered_before_poll(void **state)
{
	(void)state;
	ring_setup(256, 0, 0);
	memcpy(f.buf + DATA, "first", 5);
	desc(3, DATA, 5, 0, 0);
	offer(3);
	poll_ok();
	use(3, 0);
	memcpy(f.buf + DATA, "again", 5);
	offer(3);
	poll_ok();
	assert_int_equal(ncaps, 1);
	assert_int_equal(caps[0].avail_idx, 0);
	assert_memory_equal(caps[0].rd, "first", 5);
	assert_false(caps[0].flags & VUP_RING_BUF_UNVERIFIED);
	use(3, 0);
	poll_ok();
	assert_int_equal(ncaps, 2);
	assert_int_equal(caps[1].avail_idx, 1);
	assert_memory_equal(caps[1].rd, "again", 5);
	assert_int_equal(st()->consumed, 2);
	assert_int_equal(st()->captured, 2);
	assert_int_equal(st()->torn, 0);

	/* RX: written, used, offered again before the poll. */
	desc(4, DATA + 0x100, 16, 2, 0);
	offer(4);
	poll_ok();
	memset(f.buf + DATA + 0x100, 0x55, 16);
	use(4, 16);
	offer(4);
	poll_ok();
	assert_int_equal(ncaps, 2);
	assert_int_equal(st()->torn, 1);
	assert_int_equal(st()->consumed, 3);
}

/* A head offered, used, offered again and used again between two polls
 * (testpmd and a guest sending its ARP and neighbour frames back to back
 * after a migration): both uses are counted, neither missed.  The first
 * offer's bytes were overwritten before the tap saw them: torn (it was
 * once captured with the second offer's bytes, flagged unverified: a
 * frame recorded twice, another never).  Strict, the second copy is
 * torn too (used before its re-check); keeping unverified copies (the
 * default), it is captured, flagged. */
static void test_head_used_twice_between_polls(void **state)
{
	(void)state;
	for (int keep = 0; keep < 2; keep++) {
		ring_setup(256, 0, 0);
		q.cfg.keep_unverified = keep;
		ncaps = 0;
		desc(3, DATA, 5, 0, 0);
		memcpy(f.buf + DATA, "first", 5);
		offer(3);
		use(3, 0);
		memcpy(f.buf + DATA, "again", 5);
		offer(3);
		use(3, 0);
		poll_ok();
		assert_int_equal(st()->consumed, 2);
		assert_int_equal(st()->missed, 0);
		assert_int_equal(st()->torn, keep ? 1 : 2);
		assert_int_equal(st()->captured, keep ? 1 : 0);
		assert_int_equal(ncaps, keep ? 1 : 0);
		for (unsigned i = 0; i < ncaps; i++) {
			assert_int_equal(caps[i].avail_idx, 1);
			assert_memory_equal(caps[i].rd, "again", 5);
			assert_true(caps[i].flags & VUP_RING_BUF_UNVERIFIED);
		}
		/* Nothing is counted twice afterwards. */
		poll_ok();
		assert_int_equal(st()->consumed, 2);
	}
}

/* What Linux virtio-net does with INDIRECT_DESC and EVENT_IDX (no
 * IN_ORDER) at a few frames a second: each frame is freed before the
 * next is sent, so every frame goes out on head 0 (the lowest free head),
 * through the same indirect table (kmalloc gives the freed one back), its
 * data in a new skb.  net_tx sends frame i: virtio-net header and bytes
 * in data slot i, through the table at LX_TABLE (ind) or directly. */
#define LX_TABLE   (DATA + 0x1000u)
#define LX_SLOT(i) (DATA + 0x2000u + 0x100u * (i))
#define LX_HDR     12u

static void net_tx(unsigned i, const char *frame, bool ind)
{
	uint32_t len = (uint32_t)strlen(frame), d = LX_SLOT(i);
	memset(f.buf + d, 0, LX_HDR);
	memcpy(f.buf + d + LX_HDR, frame, len);
	if (ind) {
		st64(&f, LX_TABLE, FAKE_GBASE + d);
		st32(&f, LX_TABLE + 8, LX_HDR);
		st16(&f, LX_TABLE + 12, 1);
		st16(&f, LX_TABLE + 14, 1);
		st64(&f, LX_TABLE + 16, FAKE_GBASE + d + LX_HDR);
		st32(&f, LX_TABLE + 24, len);
		st16(&f, LX_TABLE + 28, 0);
		st16(&f, LX_TABLE + 30, 0);
		desc(0, LX_TABLE, 32, 4, 0);
	} else {
		desc(0, d, LX_HDR + len, 0, 0);
	}
	offer(0);
}

/* Every emitted frame is the one offered at its avail index. */
static void expect_own_frames(const char *const *frames)
{
	for (unsigned i = 0; i < ncaps; i++) {
		const char *want = frames[caps[i].avail_idx];
		uint32_t len = (uint32_t)strlen(want);
		assert_int_equal(caps[i].rd_len, LX_HDR + len);
		if (memcmp(caps[i].rd + LX_HDR, want, len))
			fail_msg("avail %u emitted \"%.*s\", offered \"%s\"",
			         caps[i].avail_idx, (int)len,
			         (const char *)caps[i].rd + LX_HDR, want);
	}
}

/* CI, e2e_qemu_net: the guest sent an IPv6 frame and ping seq 3 within
 * one poll of the tap, both on head 0, and testpmd (polling) used each at
 * once.  The poll's walk of the IPv6 frame's avail entry read head 0 as
 * rewritten for seq 3: that record, flagged unverified, was emitted for
 * the IPv6 frame's use, and seq 3 again for its own (the trace held seq 3
 * twice and no IPv6 frame).  The IPv6 frame's bytes were gone before the
 * poll: it counts torn; seq 3 is captured once, with its own bytes. */
static void test_linux_tx_head_reused_in_one_poll(void **state)
{
	(void)state;
	static const char *const frames[] = {
	        "arp who-has 10.0.0.1", "icmp echo seq 0", "icmp echo seq 1",
	        "icmp echo seq 2",      "ipv6 mld report", "icmp echo seq 3",
	        "icmp echo seq 4"};
	for (int ind = 0; ind < 2; ind++) {
		ring_setup(256, F(28) | F(29), 0);
		q.cfg.keep_unverified = true;
		/* One frame per poll, used before the tap saw it. */
		for (unsigned i = 0; i < 4; i++) {
			net_tx(i, frames[i], ind);
			use(0, 0);
			poll_ok();
		}
		assert_int_equal(ncaps, 4);
		/* Two frames between two polls. */
		net_tx(4, frames[4], ind);
		use(0, 0);
		net_tx(5, frames[5], ind);
		use(0, 0);
		poll_ok();
		net_tx(6, frames[6], ind);
		use(0, 0);
		poll_ok();
		expect_own_frames(frames);
		assert_int_equal(st()->consumed, 7);
		assert_int_equal(st()->torn, 1);
		assert_int_equal(st()->captured, 6);
		assert_int_equal(ncaps, 6);
		assert_int_equal(caps[4].avail_idx, 5);
		assert_int_equal(caps[5].avail_idx, 6);
		poll_ok();
		assert_int_equal(st()->consumed, 7);
	}
}

/* The same after the used ring lapped the reader: the use of the first
 * offer went by unseen, the use seen may be the later offer's, whose
 * bytes the record does not hold.  Counted torn, never emitted with the
 * first offer's bytes. */
static void test_reoffered_after_lap(void **state)
{
	(void)state;
	ring_setup(4, 0, 0);
	for (uint16_t h = 0; h < 4; h++)
		desc(h, DATA + 0x10u * h, 5, 0, 0);
	memcpy(f.buf + DATA, "old-0", 5);
	offer(0);
	poll_ok(); /* head 0 copied: "old-0" */
	use(0, 0);
	for (uint16_t h = 1; h < 4; h++) {
		offer(h);
		use(h, 0);
	}
	offer(1);
	use(1, 0);
	memcpy(f.buf + DATA, "new-0", 5);
	offer(0); /* its use is the 6th: the ring of 4 lost the first two */
	use(0, 0);
	poll_ok();
	assert_int_equal(st()->consumed, 6);
	assert_int_equal(st()->missed, 2);
	for (unsigned i = 0; i < ncaps; i++)
		if (caps[i].id == 0)
			assert_memory_equal(caps[i].rd, "new-0", 5);
	f.hook = NULL;
	poll_ok();
	assert_int_equal(st()->consumed, 6);
}

/* ---- malformed chains ---- */

static void one(uint16_t head)
{
	offer(head);
	poll_ok();
	use(head, 0);
}

static void test_bad_addr(void **state)
{
	(void)state;
	ring_setup(256, 0, 0);
	desc_abs(0, FAKE_GBASE + MEMSIZE - 4, 8, 0, 0);
	one(0);
	expect_malformed("outside guest memory");
}

static void test_bad_addr_uaddr_space(void **state)
{
	(void)state;
	ring_setup(256, 0, 0);
	desc_abs(0, FAKE_UBASE + DATA, 8, 0, 0); /* a uaddr is not a gpa */
	one(0);
	expect_malformed("outside guest memory");
}

static void test_len_zero(void **state)
{
	(void)state;
	ring_setup(256, 0, 0);
	desc(0, DATA, 0, 0, 0);
	one(0);
	expect_malformed("zero-length");
}

static void test_len_huge(void **state)
{
	(void)state;
	ring_setup(256, 0, 0);
	desc(0, DATA, 0xffffffffu, 0, 0);
	one(0);
	expect_malformed("outside guest memory");
	ring_setup(256, 0, 0);
	desc_abs(0, UINT64_MAX - 10, 100, 0, 0);
	one(0);
	expect_malformed("wraps");
}

static void test_loop(void **state)
{
	(void)state;
	ring_setup(256, 0, 0);
	desc(0, DATA, 8, 1, 1);
	desc(1, DATA, 8, 1, 0);
	one(0);
	expect_malformed("loop");
}

static void test_chain_longer_than_queue(void **state)
{
	(void)state;
	ring_setup(4, 0, 0);
	for (unsigned i = 0; i < 4; i++)
		desc(i, DATA, 8, 1, (uint16_t)((i + 1) % 4));
	one(0);
	expect_malformed("longer than the queue");
}

static void test_next_past_table(void **state)
{
	(void)state;
	ring_setup(4, 0, 0);
	desc(0, DATA, 8, 1, 4);
	one(0);
	expect_malformed("next index past");
}

static void test_head_past_ring(void **state)
{
	(void)state;
	ring_setup(4, 0, 0);
	offer(7);
	poll_ok();
	use(7, 0);
	expect_malformed("used id past the ring");
	/* IN_ORDER: the record is kept by avail index */
	ring_setup(4, F(35), 0);
	offer(9);
	poll_ok();
	use(9, 0);
	expect_malformed("head index past the ring");
}

static void test_readable_after_writable(void **state)
{
	(void)state;
	ring_setup(256, 0, 0);
	desc(0, DATA, 8, 1 | 2, 1);
	desc(1, DATA, 8, 0, 0);
	one(0);
	expect_malformed("readable descriptor after");
}

static void indirect_case(uint32_t tlen, uint16_t flags, uint16_t eflags,
                          uint64_t features, const char *why)
{
	ring_setup(256, features, 0);
	uint32_t t = DATA + 0x1000;
	st64(&f, t, FAKE_GBASE + DATA);
	st32(&f, t + 8, 16);
	st16(&f, t + 12, eflags);
	st16(&f, t + 14, 0);
	desc(0, t, tlen, flags, 1);
	desc(1, DATA, 8, 0, 0);
	one(0);
	expect_malformed(why);
}

static void test_indirect_malformed(void **state)
{
	(void)state;
	indirect_case(24, 4, 0, F(28), "multiple of 16");
	indirect_case(0, 4, 0, F(28), "multiple of 16");
	indirect_case(16, 4, 4, F(28), "nested indirect");
	indirect_case(16, 4 | 1, 0, F(28), "indirect descriptor with NEXT");
	indirect_case(16, 4, 0, 0, "without INDIRECT_DESC");
	indirect_case(16, 4, 1, F(28), "loop in indirect table");
	/* table outside memory */
	ring_setup(256, F(28), 0);
	desc(0, MEMSIZE - 8, 32, 4, 0);
	one(0);
	expect_malformed("indirect table outside memory");
}

/* avail.idx far ahead of used.idx: impossible, ignored, device refuses
 * too; nothing consumed, nothing read past the ring. */
static void test_avail_jump(void **state)
{
	(void)state;
	ring_setup(256, 0, 0);
	st16(&f, AVAIL + 2, 40000);
	poll_ok();
	assert_int_equal(st()->bad_index, 1);
	assert_int_equal(st()->consumed, 0);
	/* back to sane: reading resumes */
	st16(&f, AVAIL + 2, 0);
	desc(1, DATA, 4, 0, 0);
	one(1);
	poll_ok();
	assert_int_equal(st()->captured, 1);
}

static void test_rings_unreadable(void **state)
{
	(void)state;
	struct vup_ring_config c = {
	        .size = 8, .desc = 1, .avail = 2, .used = 3, .features = F(32)};
	struct vup_ring r;
	assert_int_equal(vup_ring_init(&r, &c, NULL), 0);
	f.refused = 0;
	assert_int_equal(vup_ring_poll(&r, &gm, 0, on_buf, NULL), -EFAULT);
	assert_true(vup_ring_stats(&r)->unreadable >= 1);
	vup_ring_free(&r);
}

static void test_stop(void **state)
{
	(void)state;
	ring_setup(256, 0, 0);
	desc(0, DATA, 4, 0, 0);
	offer(0);
	poll_ok();
	vup_ring_stop(&q);
	uint64_t reads = f.reads;
	use(0, 0);
	assert_int_equal(vup_ring_poll(&q, &gm, 0, on_buf, NULL), -ESHUTDOWN);
	assert_int_equal(f.reads, reads);
	assert_int_equal(st()->consumed, 0);
}

/* ---- randomised driver and device between the reader's reads ---- */

struct sim {
	uint16_t free[256], nfree;
	uint16_t out[256], nout; /* offered, not used: heads */
	uint16_t dev_avail;      /* device's next avail index */
	uint16_t drv_used;       /* driver's next used index */
	uint32_t serial;
	uint32_t rser[65536]; /* by avail index: readable pattern */
	uint32_t wser[65536]; /* by used index: written pattern */
	uint64_t used_total;
	bool in_order;
	bool tx_only; /* buffers with a readable part only */
	/* A TX queue as Linux virtio-net drives it (stress_linux): the head
	 * and indirect table last freed are taken first, data in a new
	 * slot each frame, nothing scribbled over at reclaim. */
	bool linux_tx, indirect;
	uint16_t tab_of[32], tabs[32], ntabs;
	uint32_t burst; /* steps between polls (with sim_hook_div: how fast
	                 * driver and device move) */
};

static struct sim S;

static void fill(uint32_t off, uint32_t ser, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		f.buf[off + i] = (uint8_t)(ser * 7 + i);
}

static bool pattern(const uint8_t *p, uint32_t ser, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		if (p[i] != (uint8_t)(ser * 7 + i))
			return false;
	return true;
}

/* stress_linux: frame s in slot s % 256 at LX_DATA, through a table of
 * two descriptors taken from the LIFO of tables, or directly. */
#define LX_DATA (DATA + 0x4000u)
#define LX_TABS (DATA + 0x3000u)

static void linux_offer(uint16_t h)
{
	uint32_t d = LX_DATA + 16u * (++S.serial % 256);
	fill(d, S.serial, 16);
	S.rser[aidx] = S.serial;
	if (S.indirect) {
		uint16_t tab = S.tabs[--S.ntabs];
		uint32_t t = LX_TABS + 32u * tab;
		S.tab_of[h] = tab;
		for (unsigned i = 0; i < 2; i++) {
			st64(&f, t + 16 * i, FAKE_GBASE + d + 8 * i);
			st32(&f, t + 16 * i + 8, 8);
			st16(&f, t + 16 * i + 12, i ? 0 : 1);
			st16(&f, t + 16 * i + 14, 1);
		}
		desc(h, t, 32, 4, 0);
	} else {
		desc(h, d, 16, 0, 0);
	}
	offer(h);
}

/* buffers: head h < 32 = descriptor h, readable 16 B at DATA+h*64, then
 * (unless tx_only) descriptor h+32, writable 16 B at +32 */
static void drv_offer(void)
{
	if (!S.nfree)
		return;
	uint16_t k = S.in_order   ? 0
	             : S.linux_tx ? (uint16_t)(S.nfree - 1)
	                          : (uint16_t)(rnd() % S.nfree);
	uint16_t h = S.free[k];
	memmove(&S.free[k], &S.free[k + 1],
	        (S.nfree - k - 1) * sizeof(uint16_t));
	S.nfree--;
	if (S.linux_tx) {
		linux_offer(h);
		return;
	}
	fill(DATA + h * 64, ++S.serial, 16);
	S.rser[aidx] = S.serial;
	if (S.tx_only) {
		desc(h, DATA + h * 64, 16, 0, 0);
	} else {
		desc(h, DATA + h * 64, 16, 1, (uint16_t)(h + 32));
		desc(h + 32u, DATA + h * 64 + 32, 16, 2, 0);
	}
	offer(h);
}

static void dev_use(void)
{
	while (S.dev_avail != aidx) {
		S.out[S.nout++] = ld16(&f, AVAIL + 4 + 2 * (S.dev_avail % n));
		S.dev_avail++;
	}
	if (!S.nout)
		return;
	uint16_t k = S.in_order ? 0 : (uint16_t)(rnd() % S.nout);
	uint16_t h = S.out[k];
	memmove(&S.out[k], &S.out[k + 1], (S.nout - k - 1) * sizeof(uint16_t));
	S.nout--;
	if (S.tx_only) {
		use(h, 0);
	} else {
		fill(DATA + h * 64 + 32, S.wser[uidx] = ++S.serial, 16);
		use(h, 16);
	}
	S.used_total++;
}

/* The driver reclaims used buffers and scribbles over their readable
 * part (TX memory reused).  The written part is left alone until the
 * buffer is offered again: a driver that reuses RX memory before offering
 * it again cannot be detected by a third party (the split ring has no
 * driver-side used index), see ring.h. */
static void drv_reclaim(void)
{
	while (S.drv_used != uidx) {
		uint16_t h =
		        (uint16_t)ld32(&f, USED + 4 + 8 * (S.drv_used % n));
		if (S.linux_tx && S.indirect)
			S.tabs[S.ntabs++] = S.tab_of[h];
		else if (!S.linux_tx)
			memset(f.buf + DATA + h * 64, 0xee, 32);
		S.free[S.nfree++] = h;
		S.drv_used++;
	}
}

static void check_buf(void *ctx, const struct vup_ring_buf *b)
{
	(void)ctx;
	assert_true(b->rd_caplen == 16 &&
	            b->wr_caplen == (S.tx_only ? 0u : 16u));
	if (!pattern(b->rd, S.rser[b->avail_idx], 16))
		fail_msg("readable bytes of avail %u are not its own "
		         "(in_order %d id %u got %02x want ser %u used %u)",
		         b->avail_idx, S.in_order, b->id, b->rd[0],
		         S.rser[b->avail_idx], b->used_idx);
	if (!S.tx_only && !pattern(b->wr, S.wser[b->used_idx], 16))
		fail_msg("written bytes of used %u are not its own (in_order "
		         "%d id %u got %02x want ser %u avail %u flags %x)",
		         b->used_idx, S.in_order, b->id, b->wr[0],
		         S.wser[b->used_idx], b->avail_idx, b->flags);
	ncaps++;
}

static void sim_run(uint32_t seed, uint32_t hook_div);

static void stress(bool in_order, bool tx_only, uint32_t seed,
                   uint32_t hook_div, uint32_t burst)
{
	ring_setup(64, in_order ? F(35) : 0, (uint16_t)(seed * 977));
	memset(&S, 0, sizeof(S));
	S.in_order = in_order;
	S.tx_only = tx_only;
	S.burst = burst;
	S.dev_avail = S.drv_used = aidx;
	for (uint16_t h = 0; h < 32; h++)
		S.free[S.nfree++] = h;
	sim_run(seed, hook_div);
}

/* The driver and device move for 400 polls, then a last poll. */
static void sim_run(uint32_t seed, uint32_t hook_div)
{
	sim_start(seed, hook_div);
	for (int i = 0; i < 400; i++) {
		unsigned steps =
		        rnd() %
		        (rnd() % 16 == 0 && S.burst > 2 ? 200 : S.burst);
		for (unsigned s = 0; s < steps; s++)
			sim_step();
		sim_poll((uint64_t)i, check_buf);
	}
	f.hook = NULL;
	assert_int_equal(vup_ring_poll(&q, &gm, 0, check_buf, NULL), 0);
	assert_true(ring_invariant(&q));
	/* split rings count exactly what the device used */
	assert_int_equal(st()->consumed, S.used_total);
	assert_int_equal(st()->malformed, 0);
}

static uint64_t tot_cap, tot_cons, tot_torn, tot_missed;

/* By seed % 4: driver and device much faster than the reader, as fast,
 * slower, much slower (sim_div[] for sim_hook_div, sim_burst[] steps between
 * polls). */
static const uint32_t sim_div[] = {8, 64, 1024, 1u << 30};
static const uint32_t sim_burst[] = {40, 8, 3, 2};

static void test_stress(void **state)
{
	(void)state;
	uint64_t gentle_cap = 0, gentle_cons = 0;
	for (uint32_t seed = 1; seed <= env_u32("RING_SEEDS", 80); seed++) {
		/* a quarter each of sim_div[], sim_burst[] */
		stress(seed & 1, false, seed, sim_div[seed % 4],
		       sim_burst[seed % 4]);
		if (seed % 4 == 3) {
			gentle_cap += st()->captured;
			gentle_cons += st()->consumed;
		}
		tot_cap += vup_ring_stats(&q)->captured;
		tot_cons += vup_ring_stats(&q)->consumed;
		tot_torn += vup_ring_stats(&q)->torn;
		if (getenv("RING_DEBUG"))
			print_message("seed %u: %llu cons %llu cap %llu torn "
			              "%llu missed %llu dropped\n",
			              seed, (unsigned long long)st()->consumed,
			              (unsigned long long)st()->captured,
			              (unsigned long long)st()->torn,
			              (unsigned long long)st()->missed,
			              (unsigned long long)st()->dropped);
		tot_missed += vup_ring_stats(&q)->missed;
	}
	print_message("stress: %llu consumed: %llu captured, %llu torn, "
	              "%llu missed\n",
	              (unsigned long long)tot_cons, (unsigned long long)tot_cap,
	              (unsigned long long)tot_torn,
	              (unsigned long long)tot_missed);
	/* the data check is meaningful only if much is captured; with a
	 * reader polling faster than the ring moves, most is */
	assert_true(tot_cap * 10 > tot_cons);
	assert_true(gentle_cap * 2 > gentle_cons);
	ring_setup(8, 0, 0);
}

static void add_counts(uint64_t *cap, uint64_t *cons, uint64_t *missed,
                       uint64_t *torn)
{
	*cap += st()->captured;
	*cons += st()->consumed;
	*missed += st()->missed;
	*torn += st()->torn;
}

/* The same with TX-like buffers (nothing device-writable): a head the
 * driver offers again before the reader's used round keeps its copy,
 * which must still be the bytes of its own offer, also when the rings
 * lap the reader (bursts of 200 through a ring of 64). */
static void test_stress_tx(void **state)
{
	(void)state;
	uint64_t cap = 0, cons = 0, missed = 0, torn = 0;
	for (uint32_t seed = 1; seed <= 80; seed++) {
		stress(seed & 1, true, seed, sim_div[seed % 4],
		       sim_burst[seed % 4]);
		add_counts(&cap, &cons, &missed, &torn);
	}
	print_message("stress (tx only): %llu consumed: %llu captured, %llu "
	              "missed\n",
	              (unsigned long long)cons, (unsigned long long)cap,
	              (unsigned long long)missed);
	assert_true(missed > 0); /* the laps were exercised */
	assert_true(cap * 10 > cons);
	ring_setup(8, 0, 0);
}

/* The same with a TX queue driven as Linux drives it (the e2e_qemu_net
 * failure): heads and indirect tables reused last freed first, copies
 * used before their re-check kept (the default).  A head freed and
 * offered again before the reader walked its first offer must not give
 * that offer the later one's bytes, kept unverified or not. */
static void stress_linux(uint32_t seed, uint32_t hook_div, uint32_t burst,
                         bool indirect)
{
	ring_setup(64, F(28) | F(29), (uint16_t)(seed * 977));
	q.cfg.keep_unverified = true;
	memset(&S, 0, sizeof(S));
	S.tx_only = S.linux_tx = true;
	S.indirect = indirect;
	S.burst = burst;
	S.dev_avail = S.drv_used = aidx;
	for (uint16_t h = 32; h-- > 0;) { /* head 0 on top */
		S.free[S.nfree++] = h;
		S.tabs[S.ntabs++] = h;
	}
	sim_run(seed, hook_div);
}

static void test_stress_linux(void **state)
{
	(void)state;
	uint64_t cap = 0, cons = 0, missed = 0, torn = 0;
	for (uint32_t seed = 1; seed <= env_u32("RING_SEEDS", 80); seed++) {
		if (getenv("RING_DEBUG"))
			print_message("linux seed %u\n", seed);
		stress_linux(seed, sim_div[seed % 4], sim_burst[seed % 4],
		             seed & 1);
		add_counts(&cap, &cons, &missed, &torn);
	}
	print_message("stress (linux tx): %llu consumed: %llu captured, "
	              "%llu torn\n",
	              (unsigned long long)cons, (unsigned long long)cap,
	              (unsigned long long)torn);
	assert_true(torn > 0); /* heads were reused under the reader */
	assert_true(cap * 2 > cons);
	ring_setup(8, 0, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_config_refused),
	        cmocka_unit_test(test_tx_single),
	        cmocka_unit_test(test_blk_chain),
	        cmocka_unit_test(test_used_before_check_torn),
	        cmocka_unit_test(test_read_cap),
	        cmocka_unit_test(test_used_before_check_kept),
	        cmocka_unit_test(test_rx_used_len),
	        cmocka_unit_test(test_indirect),
	        cmocka_unit_test(test_event_idx_layout),
	        cmocka_unit_test(test_in_order_batch),
	        cmocka_unit_test(test_wrap_around),
	        cmocka_unit_test(test_missed),
	        cmocka_unit_test(test_torn_tx),
	        cmocka_unit_test(test_torn_rx),
	        cmocka_unit_test(test_head_used_twice_between_polls),
	        cmocka_unit_test(test_reoffered_before_poll),
	        cmocka_unit_test(test_reoffered_after_lap),
	        cmocka_unit_test(test_linux_tx_head_reused_in_one_poll),
	        cmocka_unit_test(test_bad_addr),
	        cmocka_unit_test(test_bad_addr_uaddr_space),
	        cmocka_unit_test(test_len_zero),
	        cmocka_unit_test(test_len_huge),
	        cmocka_unit_test(test_loop),
	        cmocka_unit_test(test_chain_longer_than_queue),
	        cmocka_unit_test(test_next_past_table),
	        cmocka_unit_test(test_head_past_ring),
	        cmocka_unit_test(test_readable_after_writable),
	        cmocka_unit_test(test_indirect_malformed),
	        cmocka_unit_test(test_avail_jump),
	        cmocka_unit_test(test_rings_unreadable),
	        cmocka_unit_test(test_stop),
	        cmocka_unit_test(test_stress),
	        cmocka_unit_test(test_stress_tx),
	        cmocka_unit_test(test_stress_linux),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
