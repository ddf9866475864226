/* Unit tests for src/model: the session model fed decoded messages
 * (negotiation, memory table, vrings, replies owed, reset), checked
 * through its events and queries.  Every payload is handed over in a
 * heap block of exactly its size, so that a read past it shows under
 * ASan. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "vuproxy/model.h"

#define MAIN VUP_CHAN_MAIN
#define BCH  VUP_CHAN_BACKEND
#define FE   VUP_FRONTEND
#define BE   VUP_BACKEND
#define NEED (VUP_FLAG_VERSION | VUP_FLAG_NEED_REPLY)

#define NOFD 0x100u /* bit 8 of a vring fd message */

static struct vup_model *m;
static struct vup_model_events ev;
static uint64_t now; /* each message is fed 1000 ns after the last */

static int setup(void **state)
{
	(void)state;
	m = vup_model_new();
	now = 0;
	memset(&ev, 0, sizeof(ev));
	return m ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	vup_model_free(m);
	m = NULL;
	return 0;
}

/* ---- messages ---- */

/* A view of a message, its payload copied into a block of exactly its
 * size (free it with free((void *)v->payload)). */
static void view_of(struct vup_view *v, enum vup_chan chan, enum vup_side from,
                    uint32_t code, uint32_t flags, const void *p, uint32_t size,
                    unsigned nfds)
{
	uint8_t *copy = malloc(size ? size : 1);
	assert_non_null(copy);
	if (size)
		memcpy(copy, p, size);
	struct vup_hdr h = hdr(code, flags, size);
	now += 1000;
	vup_view_decode(v, chan, from, &h, copy, NULL, nfds, vup_model_neg(m),
	                now);
}

static void feed_msg(enum vup_chan chan, enum vup_side from, uint32_t code,
                     uint32_t flags, const void *p, uint32_t size,
                     unsigned nfds, bool delivered)
{
	struct vup_view v;
	view_of(&v, chan, from, code, flags, p, size, nfds);
	vup_model_feed(m, &v, delivered, &ev);
	free((void *)v.payload);
}

static enum vup_problem pairing(enum vup_chan chan, enum vup_side from,
                                uint32_t code, uint32_t flags, const void *p,
                                uint32_t size, char *why, size_t whylen)
{
	struct vup_view v;
	view_of(&v, chan, from, code, flags, p, size, 0);
	why[0] = '\0';
	enum vup_problem r = vup_model_pairing(m, &v, why, whylen);
	free((void *)v.payload);
	return r;
}

/* The front-end's request on the main channel, delivered, no fd. */
static void fe(uint32_t code, const void *p, uint32_t size)
{
	feed_msg(MAIN, FE, code, REQ, p, size, 0, true);
}

/* The back-end's reply on the main channel. */
static void be(uint32_t code, const void *p, uint32_t size)
{
	feed_msg(MAIN, BE, code, REPLY, p, size, 0, true);
}

static void fe_u64(uint32_t code, uint64_t x)
{
	fe(code, &x, 8);
}

static void be_u64(uint32_t code, uint64_t x)
{
	be(code, &x, 8);
}

/* {u32 index, u32 num}: vring state, base, enable, in-band kick. */
static void fe_state(uint32_t code, uint32_t index, uint32_t num)
{
	uint8_t p[8];
	put_u32(p, 0, index);
	put_u32(p, 4, num);
	fe(code, p, 8);
}

static void be_state(uint32_t code, uint32_t index, uint32_t num)
{
	uint8_t p[8];
	put_u32(p, 0, index);
	put_u32(p, 4, num);
	be(code, p, 8);
}

/* SET_VRING_KICK/CALL/ERR: u64 index | NOFD, with nfds fds. */
static void fe_vring_fd(uint32_t code, uint64_t x, unsigned nfds)
{
	feed_msg(MAIN, FE, code, REQ, &x, 8, nfds, true);
}

static void fe_addr(uint32_t index, uint32_t flags, uint64_t desc,
                    uint64_t used, uint64_t avail)
{
	uint8_t p[40];
	put_u32(p, 0, index);
	put_u32(p, 4, flags);
	put_u64(p, 8, desc);
	put_u64(p, 16, used);
	put_u64(p, 24, avail);
	put_u64(p, 32, 0);
	fe(VUP_REQ_SET_VRING_ADDR, p, 40);
}

/* ---- memory regions ---- */

struct reg {
	uint64_t gpa, size, uaddr, off;
	uint32_t xflags, xdata;
};

static uint32_t put_region(uint8_t *p, const struct reg *r, bool xen)
{
	put_u64(p, 0, r->gpa);
	put_u64(p, 8, r->size);
	put_u64(p, 16, r->uaddr);
	put_u64(p, 24, r->off);
	if (!xen)
		return 32;
	put_u32(p, 32, r->xflags);
	put_u32(p, 36, r->xdata);
	return 40;
}

/* SET_MEM_TABLE {u32 nregions, u32 pad, region[n]}; its size. */
static uint32_t table(uint8_t *buf, uint32_t n, const struct reg *r, bool xen)
{
	uint32_t at = 8;
	put_u32(buf, 0, n);
	put_u32(buf, 4, 0);
	for (uint32_t i = 0; i < n; i++)
		at += put_region(buf + at, &r[i], xen);
	return at;
}

/* ADD_MEM_REG / REM_MEM_REG {u64 pad, region}; its size. */
static uint32_t mem_reg(uint8_t *buf, const struct reg *r, bool xen)
{
	put_u64(buf, 0, 0);
	return 8 + put_region(buf + 8, r, xen);
}

static const struct reg two[2] = {
        {0x0, 0x80000, 0x7f0000000000, 0, 0, 0},
        {0x100000, 0x40000, 0x7f0000100000, 0x80000, 0, 0},
};

/* Feed the front-end's SET_MEM_TABLE of two regions. */
static void feed_two(void)
{
	uint8_t buf[8 + 2 * 32];
	uint32_t n = table(buf, 2, two, false);
	feed_msg(MAIN, FE, VUP_REQ_SET_MEM_TABLE, REQ, buf, n, 2, true);
}

static void assert_region(const struct vup_model_region *g, const struct reg *r)
{
	assert_int_equal(g->gpa, r->gpa);
	assert_int_equal(g->size, r->size);
	assert_int_equal(g->uaddr, r->uaddr);
	assert_int_equal(g->mmap_offset, r->off);
}

/* ---- events ---- */

static const char *ev_list(void)
{
	static char s[1024];
	size_t at = 0;
	s[0] = '\0';
	for (unsigned i = 0; i < ev.n && at < sizeof(s); i++)
		at += (size_t)snprintf(
		        s + at, sizeof(s) - at, "%s%s(%u, 0x%llx)",
		        i ? ", " : "", vup_model_event_name(ev.e[i].kind),
		        ev.e[i].index, (unsigned long long)ev.e[i].value);
	return s;
}

static const struct vup_model_event *find_ev(enum vup_model_event_kind k)
{
	for (unsigned i = 0; i < ev.n; i++)
		if (ev.e[i].kind == k)
			return &ev.e[i];
	return NULL;
}

/* The event of kind k, with its index and value. */
#define expect_event(k, i, v)                                                  \
	do {                                                                   \
		const struct vup_model_event *e_ = find_ev(k);                 \
		if (!e_)                                                       \
			fail_msg("no \"%s\" in [%s]", vup_model_event_name(k), \
			         ev_list());                                   \
		assert_int_equal(e_->index, (i));                              \
		assert_int_equal(e_->value, (v));                              \
	} while (0)

#define expect_no_event(k)                                                     \
	do {                                                                   \
		if (find_ev(k))                                                \
			fail_msg("unexpected \"%s\" in [%s]",                  \
			         vup_model_event_name(k), ev_list());          \
	} while (0)

/* Exactly these events, in this order. */
static void expect_seq_(const enum vup_model_event_kind *k, unsigned n)
{
	bool same = ev.n == n;
	for (unsigned i = 0; same && i < n; i++)
		same = ev.e[i].kind == k[i];
	if (!same) {
		char want[512];
		size_t at = 0;
		want[0] = '\0';
		for (unsigned i = 0; i < n && at < sizeof(want); i++)
			at += (size_t)snprintf(want + at, sizeof(want) - at,
			                       "%s%s", i ? ", " : "",
			                       vup_model_event_name(k[i]));
		fail_msg("events [%s], want [%s]", ev_list(), want);
	}
}
#define EVS(...) ((const enum vup_model_event_kind[]){__VA_ARGS__})
#define expect_seq(...)                                                        \
	expect_seq_(EVS(__VA_ARGS__),                                          \
	            sizeof(EVS(__VA_ARGS__)) /                                 \
	                    sizeof(enum vup_model_event_kind))

/* ---- negotiation ---- */

static void features_offered_and_acked(void **state)
{
	(void)state;
	uint64_t bits, offer = 1ull << 32 | 1ull << 30 | 1ull << 0;
	assert_false(vup_model_offered(m, false, &bits));
	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	be_u64(VUP_REQ_GET_FEATURES, offer);
	expect_seq(VUP_EV_REPLY_PAID, VUP_EV_FEATURES_OFFERED);
	expect_event(VUP_EV_FEATURES_OFFERED, 0, offer);
	assert_true(vup_model_offered(m, false, &bits));
	assert_int_equal(bits, offer);
	assert_false(vup_model_offered(m, true, &bits));

	fe_u64(VUP_REQ_SET_FEATURES, 1ull << 32 | 1ull << 30);
	expect_seq(VUP_EV_FEATURES_ACKED);
	expect_event(VUP_EV_FEATURES_ACKED, 0, 1ull << 32 | 1ull << 30);
	assert_int_equal(vup_model_neg(m)->features, 1ull << 32 | 1ull << 30);

	/* Acked beyond the offer: exactly the bits never offered. */
	fe_u64(VUP_REQ_SET_FEATURES, offer | 1ull << 33 | 1ull << 45);
	expect_event(VUP_EV_FEATURES_ACKED, 0, offer | 1ull << 33 | 1ull << 45);
	expect_event(VUP_EV_FEATURES_NOT_OFFERED, 0, 1ull << 33 | 1ull << 45);
	assert_int_equal(vup_model_neg(m)->features,
	                 offer | 1ull << 33 | 1ull << 45);
	expect_no_event(VUP_EV_PROTOCOL_NOT_OFFERED);
}

static void protocol_features_offered_and_acked(void **state)
{
	(void)state;
	uint64_t bits, offer = 1ull << VUP_PF_MQ | 1ull << VUP_PF_REPLY_ACK;
	fe(VUP_REQ_GET_PROTOCOL_FEATURES, NULL, 0);
	be_u64(VUP_REQ_GET_PROTOCOL_FEATURES, offer);
	expect_seq(VUP_EV_REPLY_PAID, VUP_EV_PROTOCOL_OFFERED);
	expect_event(VUP_EV_PROTOCOL_OFFERED, 0, offer);
	assert_true(vup_model_offered(m, true, &bits));
	assert_int_equal(bits, offer);
	assert_false(vup_model_offered(m, false, &bits));

	fe_u64(VUP_REQ_SET_PROTOCOL_FEATURES, 1ull << VUP_PF_REPLY_ACK);
	expect_seq(VUP_EV_PROTOCOL_ACKED);
	assert_int_equal(vup_model_neg(m)->protocol_features,
	                 1ull << VUP_PF_REPLY_ACK);
	assert_int_equal(vup_model_neg(m)->features, 0);

	fe_u64(VUP_REQ_SET_PROTOCOL_FEATURES, offer | 1ull << VUP_PF_XEN_MMAP);
	expect_seq(VUP_EV_PROTOCOL_ACKED, VUP_EV_PROTOCOL_NOT_OFFERED);
	expect_event(VUP_EV_PROTOCOL_NOT_OFFERED, 0, 1ull << VUP_PF_XEN_MMAP);
}

/* Without an offer there is nothing to hold the ack against. */
static void ack_without_offer(void **state)
{
	(void)state;
	fe_u64(VUP_REQ_SET_FEATURES, ~0ull);
	expect_seq(VUP_EV_FEATURES_ACKED);
	expect_event(VUP_EV_FEATURES_ACKED, 0, ~0ull);
	fe_u64(VUP_REQ_SET_PROTOCOL_FEATURES, 0xffff);
	expect_seq(VUP_EV_PROTOCOL_ACKED);
	assert_int_equal(vup_model_neg(m)->features, ~0ull);
	assert_int_equal(vup_model_neg(m)->protocol_features, 0xffff);
}

/* A SET_FEATURES that never reaches the back-end, or that does not hold
 * its u64, changes nothing. */
static void ack_dropped_or_short(void **state)
{
	(void)state;
	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	be_u64(VUP_REQ_GET_FEATURES, 0xff);
	fe_u64(VUP_REQ_SET_FEATURES, 0x0f);
	uint64_t x = 0xf0 | 1ull << 40;
	feed_msg(MAIN, FE, VUP_REQ_SET_FEATURES, REQ, &x, 8, 0, false);
	assert_int_equal(ev.n, 0);
	assert_int_equal(vup_model_neg(m)->features, 0x0f);
	feed_msg(MAIN, FE, VUP_REQ_SET_PROTOCOL_FEATURES, REQ, &x, 8, 0, false);
	assert_int_equal(ev.n, 0);
	assert_int_equal(vup_model_neg(m)->protocol_features, 0);

	uint32_t four = 0xf0;
	fe(VUP_REQ_SET_FEATURES, &four, 4);
	assert_int_equal(ev.n, 0);
	assert_int_equal(vup_model_neg(m)->features, 0x0f);
	fe(VUP_REQ_SET_PROTOCOL_FEATURES, &four, 4);
	assert_int_equal(ev.n, 0);
	assert_int_equal(vup_model_neg(m)->protocol_features, 0);

	/* A short offer is no offer either (the reply still pays). */
	uint64_t bits;
	fe(VUP_REQ_GET_PROTOCOL_FEATURES, NULL, 0);
	be(VUP_REQ_GET_PROTOCOL_FEATURES, &four, 4);
	expect_seq(VUP_EV_REPLY_PAID);
	assert_false(vup_model_offered(m, true, &bits));
}

/* ---- memory ---- */

static void mem_table_replaced(void **state)
{
	(void)state;
	const struct vup_model_region *r;
	assert_int_equal(vup_model_regions(m, &r), 0);
	feed_two();
	expect_seq(VUP_EV_MEM_TABLE);
	expect_event(VUP_EV_MEM_TABLE, 2, 0);
	assert_int_equal(vup_model_regions(m, &r), 2);
	assert_region(&r[0], &two[0]);
	assert_region(&r[1], &two[1]);

	/* A table of one replaces both. */
	uint8_t buf[8 + 32];
	struct reg one = {0x200000, 0x1000, 0x7e0000000000, 0x10, 0, 0};
	uint32_t n = table(buf, 1, &one, false);
	feed_msg(MAIN, FE, VUP_REQ_SET_MEM_TABLE, REQ, buf, n, 1, true);
	expect_event(VUP_EV_MEM_TABLE, 1, 0);
	assert_int_equal(vup_model_regions(m, &r), 1);
	assert_region(&r[0], &one);

	/* Not delivered: the back-end never saw it. */
	feed_msg(MAIN, FE, VUP_REQ_SET_MEM_TABLE, REQ, buf, 8, 0, false);
	assert_int_equal(ev.n, 0);
	assert_int_equal(vup_model_regions(m, &r), 1);
}

static void mem_table_bad_sizes(void **state)
{
	(void)state;
	const struct vup_model_region *r;
	feed_two();
	static struct reg many[33];
	for (unsigned i = 0; i < 33; i++)
		many[i] = (struct reg){
		        i * 0x1000ull, 0x1000, i * 0x1000ull, 0, 0, 0};
	static uint8_t buf[8 + 33 * 32];
	uint32_t n = table(buf, 33, many, false);
	struct {
		uint32_t size;
		const char *what;
	} bad[] = {
	        {n, "33 regions"},
	        {8 + 8 * 32 - 1, "one byte short"},
	        {8 + 8 * 32 + 1, "one byte over"},
	        {4, "no padding"},
	        {0, "empty"},
	};
	put_u32(buf, 0, 33);
	for (unsigned i = 0; i < COUNT(bad); i++) {
		if (i == 1)
			put_u32(buf, 0, 8);
		feed_msg(MAIN, FE, VUP_REQ_SET_MEM_TABLE, REQ, buf, bad[i].size,
		         1, true);
		if (ev.n != 1 || ev.e[0].kind != VUP_EV_MEM_UNREADABLE)
			fail_msg("%s: [%s]", bad[i].what, ev_list());
		assert_int_equal(vup_model_regions(m, &r), 2);
		assert_region(&r[0], &two[0]);
		assert_region(&r[1], &two[1]);
	}
	/* 32 regions are a table. */
	n = table(buf, 32, many, false);
	feed_msg(MAIN, FE, VUP_REQ_SET_MEM_TABLE, REQ, buf, n, 32, true);
	expect_event(VUP_EV_MEM_TABLE, 32, 0);
	assert_int_equal(vup_model_regions(m, &r), 32);
	assert_region(&r[31], &many[31]);
}

static void mem_regions_added_and_removed(void **state)
{
	(void)state;
	const struct vup_model_region *r;
	uint8_t buf[48];
	feed_two();
	struct reg add = {0x400000, 0x2000, 0x7f0000400000, 0x3000, 0, 0};
	uint32_t n = mem_reg(buf, &add, false);
	assert_int_equal(n, 40);
	feed_msg(MAIN, FE, VUP_REQ_ADD_MEM_REG, REQ, buf, n, 1, true);
	expect_seq(VUP_EV_MEM_ADDED);
	expect_event(VUP_EV_MEM_ADDED, 2, add.gpa);
	assert_int_equal(vup_model_regions(m, &r), 3);
	assert_region(&r[2], &add);

	/* Removed by gpa, size and uaddr; mmap_offset is not compared. */
	struct reg rem = two[0];
	rem.off = 0xdead000;
	n = mem_reg(buf, &rem, false);
	feed_msg(MAIN, FE, VUP_REQ_REM_MEM_REG, REQ, buf, n, 1, true);
	expect_seq(VUP_EV_MEM_REMOVED);
	expect_event(VUP_EV_MEM_REMOVED, 0, two[0].gpa);
	assert_int_equal(vup_model_regions(m, &r), 2);
	assert_region(&r[0], &two[1]);
	assert_region(&r[1], &add);

	/* Each of the three must match. */
	const struct reg near[] = {
	        {add.gpa + 0x1000, add.size, add.uaddr, 0, 0, 0},
	        {add.gpa, add.size * 2, add.uaddr, 0, 0, 0},
	        {add.gpa, add.size, add.uaddr + 0x1000, 0, 0, 0},
	        two[0], /* removed already */
	};
	for (unsigned i = 0; i < COUNT(near); i++) {
		n = mem_reg(buf, &near[i], false);
		fe(VUP_REQ_REM_MEM_REG, buf, n);
		expect_seq(VUP_EV_MEM_UNREADABLE);
		assert_int_equal(vup_model_regions(m, &r), 2);
	}

	/* 48 bytes are a XEN_MMAP region, not negotiated here. */
	n = mem_reg(buf, &add, true);
	feed_msg(MAIN, FE, VUP_REQ_ADD_MEM_REG, REQ, buf, n, 1, true);
	expect_seq(VUP_EV_MEM_UNREADABLE);
	fe(VUP_REQ_REM_MEM_REG, buf, n);
	expect_seq(VUP_EV_MEM_UNREADABLE);
	assert_int_equal(vup_model_regions(m, &r), 2);

	/* Dropped: still there. */
	n = mem_reg(buf, &add, false);
	feed_msg(MAIN, FE, VUP_REQ_REM_MEM_REG, REQ, buf, n, 0, false);
	assert_int_equal(ev.n, 0);
	assert_int_equal(vup_model_regions(m, &r), 2);
	fe(VUP_REQ_REM_MEM_REG, buf, n);
	expect_event(VUP_EV_MEM_REMOVED, 1, add.gpa);
	assert_int_equal(vup_model_regions(m, &r), 1);
}

/* ADD_MEM_REG goes past a table's 32 regions, up to the model's 512. */
static void mem_regions_bounded(void **state)
{
	(void)state;
	const struct vup_model_region *r;
	uint8_t buf[40];
	for (unsigned i = 0; i <= VUP_MODEL_REGIONS; i++) {
		struct reg add = {
		        i * 0x1000ull, 0x1000, i * 0x1000ull, 0, 0, 0};
		uint32_t n = mem_reg(buf, &add, false);
		feed_msg(MAIN, FE, VUP_REQ_ADD_MEM_REG, REQ, buf, n, 1, true);
		if (i < VUP_MODEL_REGIONS)
			expect_event(VUP_EV_MEM_ADDED, i, add.gpa);
		else
			expect_seq(VUP_EV_MEM_UNREADABLE);
	}
	assert_int_equal(vup_model_regions(m, &r), VUP_MODEL_REGIONS);
	assert_int_equal(r[VUP_MODEL_REGIONS - 1].gpa,
	                 (VUP_MODEL_REGIONS - 1) * 0x1000ull);
}

/* With protocol feature 17 (XEN_MMAP) a region is 40 bytes, with the
 * Xen flags and data after it. */
static void mem_xen_mmap(void **state)
{
	(void)state;
	const struct vup_model_region *r;
	uint8_t buf[8 + 2 * 40];
	struct reg x[2] = {
	        {0x0, 0x10000, 0x7f0000000000, 0, 1, 0x11},
	        {0x20000, 0x10000, 0x7f0000020000, 0x10000, 2, 0x22},
	};
	/* Before it is negotiated, 40-byte regions do not fit. */
	uint32_t n = table(buf, 2, x, true);
	feed_msg(MAIN, FE, VUP_REQ_SET_MEM_TABLE, REQ, buf, n, 2, true);
	expect_seq(VUP_EV_MEM_UNREADABLE);

	fe_u64(VUP_REQ_SET_PROTOCOL_FEATURES, 1ull << VUP_PF_XEN_MMAP);
	feed_msg(MAIN, FE, VUP_REQ_SET_MEM_TABLE, REQ, buf, n, 2, true);
	expect_event(VUP_EV_MEM_TABLE, 2, 0);
	assert_int_equal(vup_model_regions(m, &r), 2);
	assert_region(&r[1], &x[1]);
	assert_int_equal(r[0].xen_flags, 1);
	assert_int_equal(r[0].xen_data, 0x11);
	assert_int_equal(r[1].xen_flags, 2);
	assert_int_equal(r[1].xen_data, 0x22);

	/* A 32-byte-region table no longer fits. */
	n = table(buf, 2, two, false);
	feed_msg(MAIN, FE, VUP_REQ_SET_MEM_TABLE, REQ, buf, n, 2, true);
	expect_seq(VUP_EV_MEM_UNREADABLE);

	struct reg add = {0x40000, 0x1000, 0x7f0000040000, 0, 3, 0x33};
	n = mem_reg(buf, &add, false);
	feed_msg(MAIN, FE, VUP_REQ_ADD_MEM_REG, REQ, buf, n, 1, true);
	expect_seq(VUP_EV_MEM_UNREADABLE);
	n = mem_reg(buf, &add, true);
	assert_int_equal(n, 48);
	feed_msg(MAIN, FE, VUP_REQ_ADD_MEM_REG, REQ, buf, n, 1, true);
	expect_event(VUP_EV_MEM_ADDED, 2, add.gpa);
	assert_int_equal(vup_model_regions(m, &r), 3);
	assert_int_equal(r[2].xen_flags, 3);
	assert_int_equal(r[2].xen_data, 0x33);
	fe(VUP_REQ_REM_MEM_REG, buf, n);
	expect_event(VUP_EV_MEM_REMOVED, 2, add.gpa);
	assert_int_equal(vup_model_regions(m, &r), 2);
}

/* Postcopy: the back-end answers a table with the table as it mapped
 * it; QEMU acknowledges with SET_MEM_TABLE, a u64 0 and no fd. */
static void mem_postcopy_echo(void **state)
{
	(void)state;
	const struct vup_model_region *r;
	fe_u64(VUP_REQ_SET_PROTOCOL_FEATURES, 1ull << 8); /* PAGEFAULT */
	feed_two();
	expect_event(VUP_EV_MEM_TABLE, 2, 0);
	/* Owed as "maybe": the echo may come. */
	expect_event(VUP_EV_REPLY_OWED, UINT32_MAX, VUP_REQ_SET_MEM_TABLE);

	uint8_t buf[8 + 2 * 32];
	struct reg echo[2] = {two[0], two[1]};
	echo[0].uaddr = 0x7a0000000000;
	echo[1].uaddr = 0x7a0000100000;
	uint32_t n = table(buf, 2, echo, false);
	be(VUP_REQ_SET_MEM_TABLE, buf, n);
	expect_seq(VUP_EV_REPLY_PAID, VUP_EV_MEM_ECHO);
	expect_event(VUP_EV_MEM_ECHO, 0, VUP_REQ_SET_MEM_TABLE);

	fe_u64(VUP_REQ_SET_MEM_TABLE, 0);
	expect_event(VUP_EV_MEM_ECHO_ACK, 0, VUP_REQ_SET_MEM_TABLE);
	expect_no_event(VUP_EV_MEM_TABLE);
	assert_int_equal(vup_model_regions(m, &r), 2);
	assert_region(&r[0], &two[0]);
	assert_region(&r[1], &two[1]);

	/* The echo is acknowledged once: the same again is an empty
	 * table. */
	fe_u64(VUP_REQ_SET_MEM_TABLE, 0);
	expect_event(VUP_EV_MEM_TABLE, 0, 0);
	expect_no_event(VUP_EV_MEM_ECHO_ACK);
	assert_int_equal(vup_model_regions(m, &r), 0);

	/* An 8-byte ack (no body) is no echo. */
	fe_u64(VUP_REQ_SET_PROTOCOL_FEATURES,
	       1ull << 8 | 1ull << VUP_PF_CONFIGURE_MEM_SLOTS);
	struct reg add = {0x400000, 0x2000, 0x7f0000400000, 0, 0, 0};
	n = mem_reg(buf, &add, false);
	feed_msg(MAIN, FE, VUP_REQ_ADD_MEM_REG, REQ, buf, n, 1, true);
	expect_event(VUP_EV_MEM_ADDED, 0, add.gpa);
	be_u64(VUP_REQ_ADD_MEM_REG, 0);
	expect_seq(VUP_EV_REPLY_PAID);
	/* An echo of the region, and its ack. */
	feed_msg(MAIN, FE, VUP_REQ_ADD_MEM_REG, REQ, buf, n, 1, true);
	be(VUP_REQ_ADD_MEM_REG, buf, n);
	expect_seq(VUP_EV_REPLY_PAID, VUP_EV_MEM_ECHO);
	expect_event(VUP_EV_MEM_ECHO, 0, VUP_REQ_ADD_MEM_REG);
	fe_u64(VUP_REQ_ADD_MEM_REG, 0);
	expect_event(VUP_EV_MEM_ECHO_ACK, 0, VUP_REQ_ADD_MEM_REG);
	expect_no_event(VUP_EV_MEM_ADDED);
	expect_no_event(VUP_EV_MEM_UNREADABLE);
	assert_int_equal(vup_model_regions(m, &r), 2);
}

/* In postcopy QEMU ends a removal with REM_MEM_REG, a u64 0 and no fd,
 * with no echo before it. */
static void mem_postcopy_removal_ack(void **state)
{
	(void)state;
	const struct vup_model_region *r;
	feed_two();
	/* Outside postcopy it is an unreadable region. */
	fe_u64(VUP_REQ_REM_MEM_REG, 0);
	expect_seq(VUP_EV_MEM_UNREADABLE);

	fe(VUP_REQ_POSTCOPY_LISTEN, NULL, 0);
	expect_seq(VUP_EV_POSTCOPY_LISTEN);
	assert_true(vup_model_postcopy(m));
	fe_u64(VUP_REQ_REM_MEM_REG, 0);
	expect_seq(VUP_EV_MEM_ECHO_ACK);
	expect_event(VUP_EV_MEM_ECHO_ACK, 0, VUP_REQ_REM_MEM_REG);
	assert_int_equal(vup_model_regions(m, &r), 2);
	/* With an fd it is no ack. */
	uint64_t zero = 0;
	feed_msg(MAIN, FE, VUP_REQ_REM_MEM_REG, REQ, &zero, 8, 1, true);
	expect_seq(VUP_EV_MEM_UNREADABLE);
	/* Neither is a SET_MEM_TABLE with no echo before it. */
	fe_u64(VUP_REQ_SET_MEM_TABLE, 0);
	expect_seq(VUP_EV_MEM_TABLE);

	fe(VUP_REQ_POSTCOPY_END, NULL, 0);
	expect_seq(VUP_EV_REPLY_OWED, VUP_EV_POSTCOPY_END);
	assert_false(vup_model_postcopy(m));
	fe_u64(VUP_REQ_REM_MEM_REG, 0);
	expect_seq(VUP_EV_MEM_UNREADABLE);
}

/* The one parser's reasons (the tap's memory mirror used to say the
 * same, tests/tap/test_memmap.c). */
static void mem_parse_errors(void **state)
{
	(void)state;
	static struct vup_model_region out[VUP_MEM_TABLE_MAX_REGIONS];
	static struct reg many[33];
	static uint8_t buf[8 + 33 * 40];
	char why[160];
	unsigned n = 99;
	for (unsigned i = 0; i < 33; i++)
		many[i] = (struct reg){
		        i * 0x1000ull, 0x1000, i * 0x1000ull, i, 0, 0};
	uint32_t size = table(buf, 33, many, false);
	assert_int_equal(vup_model_parse_table(buf, size, false, 32, out, &n,
	                                       why, sizeof(why)),
	                 -EINVAL);
	assert_string_equal(why,
	                    "SET_MEM_TABLE declares 33 regions, at most 32");
	assert_int_equal(n, 99);

	size = table(buf, 8, many, false);
	assert_int_equal(vup_model_parse_table(buf, size - 1, false, 32, out,
	                                       &n, why, sizeof(why)),
	                 -EINVAL);
	assert_string_equal(why, "SET_MEM_TABLE payload is 263 bytes, 8 "
	                         "regions of 32 bytes need 264");
	assert_int_equal(vup_model_parse_table(buf, size, true, 32, out, &n,
	                                       why, sizeof(why)),
	                 -EINVAL);
	assert_contains(why, "payload is 264 bytes, 8 regions of 40 bytes "
	                     "need 328");
	size = table(buf, 1, many, false);
	assert_int_equal(vup_model_parse_table(buf, size + 8, false, 32, out,
	                                       &n, why, sizeof(why)),
	                 -EINVAL);
	assert_contains(why, "1 region of 32 bytes need 40");
	assert_int_equal(vup_model_parse_table(buf, 4, false, 32, out, &n, why,
	                                       sizeof(why)),
	                 -EINVAL);
	assert_string_equal(
	        why, "SET_MEM_TABLE payload is 4 bytes, want at least 8");
	/* The caller's bound. */
	size = table(buf, 8, many, false);
	assert_int_equal(vup_model_parse_table(buf, size, false, 7, out, &n,
	                                       why, sizeof(why)),
	                 -EINVAL);
	assert_string_equal(why, "SET_MEM_TABLE declares 8 regions, at most 7");
	assert_int_equal(vup_model_parse_table(buf, size, false, 8, out, &n,
	                                       why, sizeof(why)),
	                 0);
	assert_int_equal(n, 8);
	assert_int_equal(out[7].gpa, 7 * 0x1000);
	assert_int_equal(out[7].mmap_offset, 7);

	struct vup_model_region one;
	size = mem_reg(buf, &many[3], true);
	assert_int_equal(vup_model_parse_mem_reg("ADD_MEM_REG", buf, size,
	                                         false, &one, why, sizeof(why)),
	                 -EINVAL);
	assert_string_equal(why, "ADD_MEM_REG payload is 48 bytes, want 40");
	assert_int_equal(vup_model_parse_mem_reg("REM_MEM_REG", buf, 40, true,
	                                         &one, why, sizeof(why)),
	                 -EINVAL);
	assert_string_equal(why, "REM_MEM_REG payload is 40 bytes, want 48");
	assert_int_equal(vup_model_parse_mem_reg("ADD_MEM_REG", buf, size, true,
	                                         &one, why, sizeof(why)),
	                 0);
	assert_int_equal(one.gpa, 0x3000);
	assert_int_equal(one.uaddr, 0x3000);
	assert_int_equal(one.mmap_offset, 3);
}

/* ---- vrings ---- */

static void vring_set_up(void **state)
{
	(void)state;
	const struct vup_model_vring *r = vup_model_vring(m, 1);
	assert_non_null(r);
	assert_false(r->have_num || r->have_addr || r->have_base);
	assert_int_equal(r->run, VUP_VRING_IDLE);

	fe_state(VUP_REQ_SET_VRING_NUM, 1, 256);
	expect_seq(VUP_EV_VRING_NUM);
	expect_event(VUP_EV_VRING_NUM, 1, 256);
	assert_true(r->have_num);
	assert_int_equal(r->num, 256);

	fe_addr(1, 0, 0x7f0000001000, 0x7f0000003000, 0x7f0000002000);
	expect_seq(VUP_EV_VRING_ADDR);
	expect_event(VUP_EV_VRING_ADDR, 1, 1);
	assert_true(r->have_addr);
	assert_int_equal(r->desc, 0x7f0000001000);
	assert_int_equal(r->used, 0x7f0000003000);
	assert_int_equal(r->avail, 0x7f0000002000);
	/* The same rings, dirty logging switched on: not moved. */
	fe_addr(1, 1, 0x7f0000001000, 0x7f0000003000, 0x7f0000002000);
	expect_event(VUP_EV_VRING_ADDR, 1, 0);
	assert_int_equal(r->addr_flags, 1);
	fe_addr(1, 1, 0x7f0000001000, 0x7f0000004000, 0x7f0000002000);
	expect_event(VUP_EV_VRING_ADDR, 1, 1);
	/* A short SET_VRING_ADDR sets nothing. */
	uint32_t idx = 1;
	fe(VUP_REQ_SET_VRING_ADDR, &idx, 4);
	assert_int_equal(ev.n, 0);
	assert_int_equal(r->used, 0x7f0000004000);

	/* The whole u32 (a packed ring's wrap counters too). */
	fe_state(VUP_REQ_SET_VRING_BASE, 1, 0x80018002);
	expect_seq(VUP_EV_VRING_BASE);
	expect_event(VUP_EV_VRING_BASE, 1, 0x80018002);
	assert_true(r->have_base);
	assert_int_equal(r->base, 0x80018002);

	fe_vring_fd(VUP_REQ_SET_VRING_CALL, 1, 1);
	expect_seq(VUP_EV_VRING_CALL);
	expect_event(VUP_EV_VRING_CALL, 1, 0);
	assert_true(r->call_fd);
	fe_vring_fd(VUP_REQ_SET_VRING_ERR, 1 | NOFD, 0);
	expect_seq(VUP_EV_VRING_ERR);
	expect_event(VUP_EV_VRING_ERR, 1, 1);
	assert_false(r->err_fd);
	fe_vring_fd(VUP_REQ_SET_VRING_ERR, 1, 1);
	expect_event(VUP_EV_VRING_ERR, 1, 0);
	assert_true(r->err_fd);
	fe_vring_fd(VUP_REQ_SET_VRING_CALL, 1 | NOFD, 0);
	expect_event(VUP_EV_VRING_CALL, 1, 1);
	assert_false(r->call_fd);
	assert_int_equal(r->run, VUP_VRING_IDLE);

	fe_state(VUP_REQ_SET_VRING_ENABLE, 1, 1);
	expect_seq(VUP_EV_VRING_ENABLED);
	expect_event(VUP_EV_VRING_ENABLED, 1, 1);
	assert_true(r->enabled);
	fe_state(VUP_REQ_SET_VRING_ENABLE, 1, 0);
	expect_event(VUP_EV_VRING_ENABLED, 1, 0);
	assert_false(r->enabled);

	/* Ring 0 was not touched. */
	const struct vup_model_vring *r0 = vup_model_vring(m, 0);
	assert_false(r0->have_num || r0->have_addr || r0->have_base ||
	             r0->call_fd || r0->err_fd || r0->enabled);
}

static void vring_kick_starts(void **state)
{
	(void)state;
	fe_vring_fd(VUP_REQ_SET_VRING_KICK, 1, 1);
	expect_seq(VUP_EV_VRING_KICK, VUP_EV_VRING_STARTED);
	expect_event(VUP_EV_VRING_KICK, 1, 0);
	expect_event(VUP_EV_VRING_STARTED, 1, 0);
	assert_true(vup_model_vring(m, 1)->kick_fd);
	assert_int_equal(vup_model_vring(m, 1)->run, VUP_VRING_STARTED);

	/* NOFD: a polled ring, started all the same. */
	fe_vring_fd(VUP_REQ_SET_VRING_KICK, 2 | NOFD, 0);
	expect_seq(VUP_EV_VRING_KICK, VUP_EV_VRING_STARTED);
	expect_event(VUP_EV_VRING_KICK, 2, 1);
	assert_false(vup_model_vring(m, 2)->kick_fd);
	assert_int_equal(vup_model_vring(m, 2)->run, VUP_VRING_STARTED);

	/* In-band notifications: VRING_KICK starts it. */
	fe_state(VUP_REQ_VRING_KICK, 3, 0);
	expect_seq(VUP_EV_VRING_STARTED);
	expect_event(VUP_EV_VRING_STARTED, 3, 0);
	assert_int_equal(vup_model_vring(m, 3)->run, VUP_VRING_STARTED);

	/* A kick that never arrives starts nothing. */
	uint64_t x = 4;
	feed_msg(MAIN, FE, VUP_REQ_SET_VRING_KICK, REQ, &x, 8, 1, false);
	assert_int_equal(ev.n, 0);
	assert_int_equal(vup_model_vring(m, 4)->run, VUP_VRING_IDLE);
	assert_false(vup_model_vring(m, 4)->kick_fd);
}

static void vring_stopped_by_get_base(void **state)
{
	(void)state;
	fe_vring_fd(VUP_REQ_SET_VRING_KICK, 1, 1);
	fe_vring_fd(VUP_REQ_SET_VRING_KICK, 0, 1);
	fe_state(VUP_REQ_GET_VRING_BASE, 1, 0);
	uint64_t asked = now;
	expect_seq(VUP_EV_REPLY_OWED, VUP_EV_VRING_STOPPING);
	expect_event(VUP_EV_VRING_STOPPING, 1, 0);
	expect_event(VUP_EV_REPLY_OWED, 1, VUP_REQ_GET_VRING_BASE);
	assert_int_equal(find_ev(VUP_EV_REPLY_OWED)->since_ns, asked);
	assert_int_equal(vup_model_vring(m, 1)->run, VUP_VRING_STOPPING);
	assert_int_equal(vup_model_owed_count(m, MAIN), 1);
	assert_int_equal(vup_model_owed_at(m, MAIN, 0)->vring, 1);

	/* The answer claims ring 0: ring 1 is the one asked about. */
	be_state(VUP_REQ_GET_VRING_BASE, 0, 4711);
	expect_seq(VUP_EV_REPLY_PAID, VUP_EV_VRING_STOPPED);
	expect_event(VUP_EV_REPLY_PAID, 1, VUP_REQ_GET_VRING_BASE);
	assert_int_equal(find_ev(VUP_EV_REPLY_PAID)->since_ns, asked);
	expect_event(VUP_EV_VRING_STOPPED, 1, 4711);
	const struct vup_model_vring *r = vup_model_vring(m, 1);
	assert_int_equal(r->run, VUP_VRING_STOPPED);
	assert_int_equal(r->stopped_at, 4711);
	assert_int_equal(vup_model_vring(m, 0)->run, VUP_VRING_STARTED);
	assert_int_equal(vup_model_vring(m, 0)->stopped_at, 0);
	assert_int_equal(vup_model_owed_count(m, MAIN), 0);

	/* An answer nobody asked for stops nothing. */
	be_state(VUP_REQ_GET_VRING_BASE, 0, 99);
	assert_int_equal(ev.n, 0);
	assert_int_equal(vup_model_vring(m, 0)->run, VUP_VRING_STARTED);
	assert_int_equal(vup_model_vring(m, 1)->stopped_at, 4711);

	/* A GET_VRING_BASE dropped on its way: the ring runs on, and no
	 * reply is owed. */
	uint8_t p[8] = {0};
	feed_msg(MAIN, FE, VUP_REQ_GET_VRING_BASE, REQ, p, 8, 0, false);
	assert_int_equal(ev.n, 0);
	assert_int_equal(vup_model_vring(m, 0)->run, VUP_VRING_STARTED);
	assert_int_equal(vup_model_owed_count(m, MAIN), 0);

	/* GET_VRING_BASE_SKIP_DRAIN stops it the same way. */
	fe_state(VUP_REQ_GET_VRING_BASE_SKIP_DRAIN, 0, 0);
	expect_event(VUP_EV_VRING_STOPPING, 0, 0);
	be_state(VUP_REQ_GET_VRING_BASE_SKIP_DRAIN, 0, 0x8005);
	expect_event(VUP_EV_VRING_STOPPED, 0, 0x8005);
	assert_int_equal(vup_model_vring(m, 0)->run, VUP_VRING_STOPPED);
	assert_int_equal(vup_model_vring(m, 0)->stopped_at, 0x8005);

	/* Kicked again, it runs. */
	fe_vring_fd(VUP_REQ_SET_VRING_KICK, 1, 1);
	assert_int_equal(vup_model_vring(m, 1)->run, VUP_VRING_STARTED);
}

/* Indexes past the rings the model keeps are told, not kept. */
static void vring_index_past_model(void **state)
{
	(void)state;
	assert_non_null(vup_model_vring(m, VUP_MODEL_VRINGS - 1));
	assert_null(vup_model_vring(m, VUP_MODEL_VRINGS));
	assert_null(vup_model_vring(m, UINT32_MAX));
	fe_state(VUP_REQ_SET_VRING_NUM, 300, 128);
	expect_event(VUP_EV_VRING_NUM, 300, 128);
	fe_state(VUP_REQ_SET_VRING_BASE, 256, 7);
	expect_event(VUP_EV_VRING_BASE, 256, 7);
	fe_state(VUP_REQ_SET_VRING_ENABLE, 1000, 1);
	expect_event(VUP_EV_VRING_ENABLED, 1000, 1);
	fe_state(VUP_REQ_VRING_KICK, 999, 0);
	expect_event(VUP_EV_VRING_STARTED, 999, 0);
	fe_state(VUP_REQ_GET_VRING_BASE, 300, 0);
	expect_event(VUP_EV_VRING_STOPPING, 300, 0);
	expect_event(VUP_EV_REPLY_OWED, 300, VUP_REQ_GET_VRING_BASE);
	be_state(VUP_REQ_GET_VRING_BASE, 300, 4711);
	expect_event(VUP_EV_VRING_STOPPED, 300, 4711);
	/* Ring 300 & 0xff is not ring 44. */
	const struct vup_model_vring *r = vup_model_vring(m, 300 & 0xff);
	assert_false(r->have_num || r->have_base || r->enabled);
	assert_int_equal(r->run, VUP_VRING_IDLE);
	r = vup_model_vring(m, 1000 & 0xff);
	assert_false(r->enabled);
}

/* ---- replies ---- */

static void replies_paid_in_order(void **state)
{
	(void)state;
	char why[160];
	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	uint64_t t1 = now;
	expect_seq(VUP_EV_REPLY_OWED);
	expect_event(VUP_EV_REPLY_OWED, UINT32_MAX, VUP_REQ_GET_FEATURES);
	assert_int_equal(ev.e[0].since_ns, t1);
	fe(VUP_REQ_GET_PROTOCOL_FEATURES, NULL, 0);
	uint64_t t2 = now;
	assert_int_equal(vup_model_owed_count(m, MAIN), 2);
	const struct vup_model_owed *o = vup_model_owed_at(m, MAIN, 0);
	assert_int_equal(o->code, VUP_REQ_GET_FEATURES);
	assert_int_equal(o->expect, VUP_EXPECT_YES);
	assert_int_equal(o->since_ns, t1);
	assert_int_equal(vup_model_owed_at(m, MAIN, 1)->since_ns, t2);
	assert_null(vup_model_owed_at(m, MAIN, 2));
	assert_int_equal(vup_model_owed_count(m, BCH), 0);

	uint64_t x = 1;
	assert_int_equal(pairing(MAIN, BE, VUP_REQ_GET_FEATURES, REPLY, &x, 8,
	                         why, sizeof(why)),
	                 VUP_PROBLEM_NONE);
	be_u64(VUP_REQ_GET_FEATURES, 1);
	expect_event(VUP_EV_REPLY_PAID, UINT32_MAX, VUP_REQ_GET_FEATURES);
	assert_int_equal(ev.e[0].since_ns, t1);
	be_u64(VUP_REQ_GET_PROTOCOL_FEATURES, 1);
	expect_event(VUP_EV_REPLY_PAID, UINT32_MAX,
	             VUP_REQ_GET_PROTOCOL_FEATURES);
	assert_int_equal(ev.e[0].since_ns, t2);
	assert_int_equal(vup_model_owed_count(m, MAIN), 0);
}

/* An ACK-rule request owes its u64 only with NEED_REPLY: certainly with
 * REPLY_ACK, possibly without. */
static void replies_need_reply(void **state)
{
	(void)state;
	fe_state(VUP_REQ_SET_VRING_NUM, 0, 256);
	expect_seq(VUP_EV_VRING_NUM);
	assert_int_equal(vup_model_owed_count(m, MAIN), 0);
	uint8_t p[8] = {0};
	feed_msg(MAIN, FE, VUP_REQ_SET_VRING_NUM, NEED, p, 8, 0, true);
	expect_seq(VUP_EV_REPLY_OWED, VUP_EV_VRING_NUM);
	assert_int_equal(vup_model_owed_at(m, MAIN, 0)->expect,
	                 VUP_EXPECT_MAYBE);
	be_u64(VUP_REQ_SET_VRING_NUM, 0);
	expect_seq(VUP_EV_REPLY_PAID);

	fe_u64(VUP_REQ_SET_PROTOCOL_FEATURES, 1ull << VUP_PF_REPLY_ACK);
	assert_int_equal(vup_model_owed_count(m, MAIN), 0);
	feed_msg(MAIN, FE, VUP_REQ_SET_VRING_NUM, NEED, p, 8, 0, true);
	uint64_t asked = now;
	expect_event(VUP_EV_REPLY_OWED, 0, VUP_REQ_SET_VRING_NUM);
	const struct vup_model_owed *o = vup_model_owed_at(m, MAIN, 0);
	assert_int_equal(o->expect, VUP_EXPECT_YES);
	assert_int_equal(o->since_ns, asked);
	be_u64(VUP_REQ_SET_VRING_NUM, 0);
	expect_seq(VUP_EV_REPLY_PAID);
	assert_int_equal(ev.e[0].since_ns, asked);
	assert_int_equal(vup_model_owed_count(m, MAIN), 0);
}

/* A reply that may or may not come is passed over by the next one. */
static void replies_optional_skipped(void **state)
{
	(void)state;
	char why[160];
	uint8_t p[8] = {0};
	feed_msg(MAIN, FE, VUP_REQ_SET_VRING_NUM, NEED, p, 8, 0, true);
	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	assert_int_equal(vup_model_owed_count(m, MAIN), 2);
	uint64_t x = 3;
	assert_int_equal(pairing(MAIN, BE, VUP_REQ_GET_FEATURES, REPLY, &x, 8,
	                         why, sizeof(why)),
	                 VUP_PROBLEM_NONE);
	be_u64(VUP_REQ_GET_FEATURES, 3);
	expect_seq(VUP_EV_REPLY_PAID, VUP_EV_FEATURES_OFFERED);
	assert_int_equal(vup_model_owed_count(m, MAIN), 0);
}

static void replies_out_of_order(void **state)
{
	(void)state;
	char why[160];
	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	fe(VUP_REQ_GET_PROTOCOL_FEATURES, NULL, 0);
	fe_state(VUP_REQ_GET_VRING_BASE, 2, 0);
	uint64_t x = 1ull << VUP_PF_MQ;
	assert_int_equal(pairing(MAIN, BE, VUP_REQ_GET_PROTOCOL_FEATURES, REPLY,
	                         &x, 8, why, sizeof(why)),
	                 VUP_PROBLEM_REPLY_ORDER);
	assert_string_equal(why, "reply to GET_PROTOCOL_FEATURES while a "
	                         "reply to GET_FEATURES is owed");
	/* Pairing changes nothing. */
	assert_int_equal(vup_model_owed_count(m, MAIN), 3);
	be_u64(VUP_REQ_GET_PROTOCOL_FEATURES, x);
	expect_seq(VUP_EV_REPLY_PAID, VUP_EV_PROTOCOL_OFFERED);
	expect_event(VUP_EV_REPLY_PAID, UINT32_MAX,
	             VUP_REQ_GET_PROTOCOL_FEATURES);
	assert_int_equal(vup_model_owed_count(m, MAIN), 2);
	assert_int_equal(vup_model_owed_at(m, MAIN, 0)->code,
	                 VUP_REQ_GET_FEATURES);
	assert_int_equal(vup_model_owed_at(m, MAIN, 1)->code,
	                 VUP_REQ_GET_VRING_BASE);
	assert_int_equal(vup_model_owed_at(m, MAIN, 1)->vring, 2);
	/* The rest pair in order. */
	be_u64(VUP_REQ_GET_FEATURES, 0);
	expect_event(VUP_EV_REPLY_PAID, UINT32_MAX, VUP_REQ_GET_FEATURES);
	be_state(VUP_REQ_GET_VRING_BASE, 2, 5);
	expect_event(VUP_EV_VRING_STOPPED, 2, 5);
	assert_int_equal(vup_model_owed_count(m, MAIN), 0);
}

static void replies_unsolicited(void **state)
{
	(void)state;
	char why[200];
	uint64_t x = 0;
	assert_int_equal(pairing(MAIN, BE, VUP_REQ_GET_FEATURES, REPLY, &x, 8,
	                         why, sizeof(why)),
	                 VUP_PROBLEM_UNSOLICITED);
	assert_string_equal(why,
	                    "reply to GET_FEATURES (code 1) that nobody asked "
	                    "for");
	be_u64(VUP_REQ_GET_FEATURES, 7);
	expect_no_event(VUP_EV_REPLY_PAID);

	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	fe(VUP_REQ_GET_PROTOCOL_FEATURES, NULL, 0);
	assert_int_equal(pairing(MAIN, BE, 40, REPLY, &x, 8, why, sizeof(why)),
	                 VUP_PROBLEM_UNSOLICITED);
	assert_contains(why, "reply to GET_STATUS (code 40) that nobody "
	                     "asked for");
	assert_contains(why, "(a reply to GET_FEATURES is owed)");
	be_u64(40, 0xf);
	assert_int_equal(ev.n, 0);
	assert_int_equal(vup_model_owed_count(m, MAIN), 2);
	assert_int_equal(vup_model_owed_at(m, MAIN, 0)->code,
	                 VUP_REQ_GET_FEATURES);
	assert_int_equal(vup_model_owed_at(m, MAIN, 1)->code,
	                 VUP_REQ_GET_PROTOCOL_FEATURES);
	/* An unknown code is unsolicited too, by number. */
	assert_int_equal(pairing(MAIN, BE, 999, REPLY, &x, 8, why, sizeof(why)),
	                 VUP_PROBLEM_UNSOLICITED);
	assert_contains(why, "reply to UNKNOWN (code 999)");
}

/* Past VUP_MODEL_OWED_MAX the oldest is no longer awaited. */
static void replies_owed_bounded(void **state)
{
	(void)state;
	char why[200];
	fe(40, NULL, 0); /* GET_STATUS */
	for (unsigned i = 1; i < VUP_MODEL_OWED_MAX; i++) {
		assert_int_equal(pairing(MAIN, FE, VUP_REQ_GET_FEATURES, REQ,
		                         NULL, 0, why, sizeof(why)),
		                 VUP_PROBLEM_NONE);
		fe(VUP_REQ_GET_FEATURES, NULL, 0);
	}
	uint64_t second = vup_model_owed_at(m, MAIN, 1)->since_ns;
	assert_int_equal(vup_model_owed_count(m, MAIN), VUP_MODEL_OWED_MAX);
	assert_int_equal(pairing(MAIN, FE, VUP_REQ_GET_FEATURES, REQ, NULL, 0,
	                         why, sizeof(why)),
	                 VUP_PROBLEM_OWED_REPLIES);
	assert_string_equal(why, "64 requests on the main channel are "
	                         "awaiting replies; the oldest (GET_STATUS) "
	                         "is no longer awaited");
	/* A request owing nothing overflows nothing. */
	uint64_t x = 0;
	assert_int_equal(pairing(MAIN, FE, VUP_REQ_SET_FEATURES, REQ, &x, 8,
	                         why, sizeof(why)),
	                 VUP_PROBLEM_NONE);
	assert_int_equal(vup_model_owed_count(m, MAIN), VUP_MODEL_OWED_MAX);

	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	expect_seq(VUP_EV_REPLY_FORGOTTEN, VUP_EV_REPLY_OWED);
	expect_event(VUP_EV_REPLY_FORGOTTEN, 0, 40);
	assert_int_equal(vup_model_owed_count(m, MAIN), VUP_MODEL_OWED_MAX);
	assert_int_equal(vup_model_owed_at(m, MAIN, 0)->since_ns, second);
	assert_int_equal(
	        vup_model_owed_at(m, MAIN, VUP_MODEL_OWED_MAX - 1)->since_ns,
	        now);
	/* The forgotten one's reply is now unsolicited; the others pay. */
	be_u64(40, 0);
	expect_no_event(VUP_EV_REPLY_PAID);
	for (unsigned i = 0; i < VUP_MODEL_OWED_MAX; i++) {
		be_u64(VUP_REQ_GET_FEATURES, 0);
		expect_event(VUP_EV_REPLY_PAID, UINT32_MAX,
		             VUP_REQ_GET_FEATURES);
	}
	assert_int_equal(vup_model_owed_count(m, MAIN), 0);
}

/* Fate: a request that never arrives owes nothing; a reply pays and
 * tells what the back-end did, whatever becomes of it. */
static void replies_fate(void **state)
{
	(void)state;
	uint64_t bits;
	feed_msg(MAIN, FE, VUP_REQ_GET_FEATURES, REQ, NULL, 0, 0, false);
	assert_int_equal(ev.n, 0);
	assert_int_equal(vup_model_owed_count(m, MAIN), 0);
	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	uint64_t x = 0x30;
	feed_msg(MAIN, BE, VUP_REQ_GET_FEATURES, REPLY, &x, 8, 0, false);
	expect_seq(VUP_EV_REPLY_PAID, VUP_EV_FEATURES_OFFERED);
	assert_int_equal(vup_model_owed_count(m, MAIN), 0);
	assert_true(vup_model_offered(m, false, &bits));
	assert_int_equal(bits, 0x30);
	/* Events are optional. */
	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	struct vup_view v;
	view_of(&v, MAIN, BE, VUP_REQ_GET_FEATURES, REPLY, &x, 8, 0);
	vup_model_feed(m, &v, true, NULL);
	free((void *)v.payload);
	assert_int_equal(vup_model_owed_count(m, MAIN), 0);
}

static void replies_forgotten_with_channel(void **state)
{
	(void)state;
	char why[200];
	uint8_t uuid[16] = {1};
	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	feed_msg(BCH, BE, 8, REQ, uuid, 16, 0, true); /* SHARED_OBJECT_LOOKUP */
	assert_int_equal(vup_model_owed_count(m, MAIN), 1);
	assert_int_equal(vup_model_owed_count(m, BCH), 1);
	vup_model_forget_owed(m, BCH);
	assert_int_equal(vup_model_owed_count(m, BCH), 0);
	assert_int_equal(vup_model_owed_count(m, MAIN), 1);
	uint64_t x = 0;
	assert_int_equal(pairing(BCH, FE, 8, REPLY, &x, 8, why, sizeof(why)),
	                 VUP_PROBLEM_UNSOLICITED);
	vup_model_forget_owed(m, MAIN);
	assert_int_equal(vup_model_owed_count(m, MAIN), 0);
	assert_null(vup_model_owed_at(m, MAIN, 0));
	be_u64(VUP_REQ_GET_FEATURES, 1);
	expect_no_event(VUP_EV_REPLY_PAID);
	/* The queue works on after it is emptied. */
	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	be_u64(VUP_REQ_GET_FEATURES, 1);
	expect_event(VUP_EV_REPLY_PAID, UINT32_MAX, VUP_REQ_GET_FEATURES);
}

/* On the back-end channel the back-end asks and the front-end answers;
 * its codes are its own (4 is BACKEND_VRING_CALL there, RESET_OWNER on
 * the main channel). */
static void replies_backend_channel(void **state)
{
	(void)state;
	char why[200];
	uint8_t uuid[16] = {1, 2, 3};
	fe_u64(VUP_REQ_SET_PROTOCOL_FEATURES, 1ull << VUP_PF_REPLY_ACK);
	fe_state(VUP_REQ_SET_VRING_NUM, 1, 256);
	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	feed_msg(BCH, BE, 8, REQ, uuid, 16, 0, true);
	uint64_t asked = now;
	expect_seq(VUP_EV_REPLY_OWED);
	expect_event(VUP_EV_REPLY_OWED, UINT32_MAX, 8);
	uint8_t st[8] = {1, 0, 0, 0, 0, 0, 0, 0};
	feed_msg(BCH, BE, 4, NEED, st, 8, 0, true); /* BACKEND_VRING_CALL */
	expect_seq(VUP_EV_REPLY_OWED);
	feed_msg(BCH, BE, 5, REQ, st, 8, 0, true); /* BACKEND_VRING_ERR */
	assert_int_equal(ev.n, 0);
	assert_int_equal(vup_model_owed_count(m, BCH), 2);
	assert_int_equal(vup_model_owed_count(m, MAIN), 1);
	/* Not a reset, not a memory table. */
	assert_true(vup_model_vring(m, 1)->have_num);

	/* A back-end's reply on the main channel pays nothing there. */
	be_u64(8, 0);
	expect_no_event(VUP_EV_REPLY_PAID);
	assert_int_equal(vup_model_owed_count(m, BCH), 2);
	uint64_t x = 0;
	assert_int_equal(pairing(BCH, FE, 4, REPLY, &x, 8, why, sizeof(why)),
	                 VUP_PROBLEM_REPLY_ORDER);
	assert_string_equal(why, "reply to BACKEND_VRING_CALL while a reply "
	                         "to BACKEND_SHARED_OBJECT_LOOKUP is owed");
	feed_msg(BCH, FE, 8, REPLY, &x, 8, 1, true);
	expect_seq(VUP_EV_REPLY_PAID);
	expect_event(VUP_EV_REPLY_PAID, UINT32_MAX, 8);
	assert_int_equal(ev.e[0].since_ns, asked);
	feed_msg(BCH, FE, 4, REPLY, &x, 8, 0, true);
	expect_seq(VUP_EV_REPLY_PAID);
	assert_int_equal(vup_model_owed_count(m, BCH), 0);
	assert_int_equal(vup_model_owed_count(m, MAIN), 1);
	be_u64(VUP_REQ_GET_FEATURES, 0);
	expect_seq(VUP_EV_REPLY_PAID, VUP_EV_FEATURES_OFFERED);
}

/* ---- reset, status, log, postcopy ---- */

static void set_up_session(void)
{
	fe(VUP_REQ_GET_FEATURES, NULL, 0);
	be_u64(VUP_REQ_GET_FEATURES, 1ull << 32 | 1ull << 30);
	fe_u64(VUP_REQ_SET_FEATURES, 1ull << 32 | 1ull << 30);
	fe(VUP_REQ_GET_PROTOCOL_FEATURES, NULL, 0);
	be_u64(VUP_REQ_GET_PROTOCOL_FEATURES, 0x3ffff);
	fe_u64(VUP_REQ_SET_PROTOCOL_FEATURES, 0x1ff);
	fe_u64(VUP_REQ_SET_STATUS, 0x0f);
	feed_two();
	fe_state(VUP_REQ_SET_VRING_NUM, 0, 256);
	fe_addr(0, 0, 0x1000, 0x3000, 0x2000);
	fe_state(VUP_REQ_SET_VRING_BASE, 0, 5);
	fe_vring_fd(VUP_REQ_SET_VRING_CALL, 0, 1);
	fe_vring_fd(VUP_REQ_SET_VRING_KICK, 0, 1);
	fe_state(VUP_REQ_SET_VRING_ENABLE, 0, 1);
	uint64_t log[2] = {0x10000, 0x200};
	feed_msg(MAIN, FE, VUP_REQ_SET_LOG_BASE, REQ, log, 16, 1, true);
	fe(VUP_REQ_POSTCOPY_LISTEN, NULL, 0);
}

static void reset_clears_device_state(void **state)
{
	(void)state;
	static const uint32_t codes[] = {VUP_REQ_RESET_OWNER,
	                                 VUP_REQ_RESET_DEVICE};
	for (unsigned c = 0; c < COUNT(codes); c++) {
		set_up_session();
		const struct vup_model_region *r;
		uint64_t bits, size, off;
		uint8_t status;
		assert_int_equal(vup_model_vring(m, 0)->run, VUP_VRING_STARTED);
		assert_int_equal(vup_model_regions(m, &r), 2);

		/* Dropped: nothing happens. */
		feed_msg(MAIN, FE, codes[c], REQ, NULL, 0, 0, false);
		assert_int_equal(ev.n, 0);
		assert_int_equal(vup_model_regions(m, &r), 2);

		fe(codes[c], NULL, 0);
		expect_seq(VUP_EV_RESET);
		const struct vup_model_vring *v = vup_model_vring(m, 0);
		assert_false(v->have_num || v->have_addr || v->have_base ||
		             v->kick_fd || v->call_fd || v->enabled);
		assert_int_equal(v->run, VUP_VRING_IDLE);
		assert_int_equal(v->num, 0);
		assert_int_equal(vup_model_regions(m, &r), 0);
		assert_false(vup_model_status(m, &status));
		assert_false(vup_model_log(m, &size, &off));
		assert_false(vup_model_postcopy(m));
		/* What was negotiated stays. */
		assert_int_equal(vup_model_neg(m)->features,
		                 1ull << 32 | 1ull << 30);
		assert_int_equal(vup_model_neg(m)->protocol_features, 0x1ff);
		assert_true(vup_model_offered(m, false, &bits));
		assert_int_equal(bits, 1ull << 32 | 1ull << 30);
		assert_true(vup_model_offered(m, true, &bits));
		assert_int_equal(bits, 0x3ffff);
	}
}

static void status_log_postcopy(void **state)
{
	(void)state;
	uint8_t status = 0xff;
	uint64_t size = 1, off = 1;
	assert_false(vup_model_status(m, &status));
	assert_false(vup_model_log(m, &size, &off));
	assert_false(vup_model_postcopy(m));

	fe_u64(VUP_REQ_SET_STATUS, 0x0b);
	expect_seq(VUP_EV_STATUS);
	expect_event(VUP_EV_STATUS, 0, 0x0b);
	assert_true(vup_model_status(m, &status));
	assert_int_equal(status, 0x0b);
	uint32_t four = 0x0f;
	fe(VUP_REQ_SET_STATUS, &four, 4);
	assert_int_equal(ev.n, 0);
	assert_true(vup_model_status(m, &status));
	assert_int_equal(status, 0x0b);

	uint64_t log[2] = {0x40000, 0x1000};
	feed_msg(MAIN, FE, VUP_REQ_SET_LOG_BASE, REQ, log, 16, 1, true);
	expect_seq(VUP_EV_LOG_BASE);
	expect_event(VUP_EV_LOG_BASE, 0, 0x40000);
	assert_true(vup_model_log(m, &size, &off));
	assert_int_equal(size, 0x40000);
	assert_int_equal(off, 0x1000);
	/* crosvm sends the size alone. */
	feed_msg(MAIN, FE, VUP_REQ_SET_LOG_BASE, REQ, log, 8, 1, true);
	assert_true(vup_model_log(m, &size, &off));
	assert_int_equal(size, 0x40000);
	assert_int_equal(off, 0);
	/* With LOG_SHMFD a reply always follows. */
	fe_u64(VUP_REQ_SET_PROTOCOL_FEATURES, 1ull << VUP_PF_LOG_SHMFD);
	feed_msg(MAIN, FE, VUP_REQ_SET_LOG_BASE, REQ, log, 16, 1, true);
	expect_seq(VUP_EV_REPLY_OWED, VUP_EV_LOG_BASE);

	fe(VUP_REQ_POSTCOPY_LISTEN, NULL, 0);
	expect_seq(VUP_EV_POSTCOPY_LISTEN);
	assert_true(vup_model_postcopy(m));
	feed_msg(MAIN, FE, VUP_REQ_POSTCOPY_END, REQ, NULL, 0, 0, false);
	assert_true(vup_model_postcopy(m));
	fe(VUP_REQ_POSTCOPY_END, NULL, 0);
	expect_seq(VUP_EV_REPLY_OWED, VUP_EV_POSTCOPY_END);
	assert_false(vup_model_postcopy(m));

	feed_msg(MAIN, FE, VUP_REQ_SET_BACKEND_REQ_FD, REQ, NULL, 0, 1, true);
	expect_seq(VUP_EV_BACKEND_CHANNEL);
	expect_event(VUP_EV_BACKEND_CHANNEL, 0, 1);
}

static void event_names(void **state)
{
	(void)state;
	assert_string_equal(vup_model_event_name(VUP_EV_FEATURES_OFFERED),
	                    "features offered");
	assert_string_equal(vup_model_event_name(VUP_EV_VRING_STOPPED),
	                    "vring stopped");
	assert_string_equal(vup_model_event_name(VUP_EV_BACKEND_CHANNEL),
	                    "back-end channel given");
	assert_string_equal(vup_model_event_name(VUP_EV_COUNT), "?");
	for (int k = 0; k < VUP_EV_COUNT; k++)
		assert_string_not_equal(vup_model_event_name(k), "?");
}

/* ---- robustness ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void check_invariants(void)
{
	assert_true(ev.n <= VUP_MODEL_EVENTS_MAX);
	for (unsigned i = 0; i < ev.n; i++)
		assert_true((unsigned)ev.e[i].kind < VUP_EV_COUNT);
	for (int c = 0; c < 2; c++) {
		unsigned n = vup_model_owed_count(m, c);
		assert_true(n <= VUP_MODEL_OWED_MAX);
		for (unsigned i = 0; i < n; i++)
			assert_non_null(vup_model_owed_at(m, c, i));
		assert_null(vup_model_owed_at(m, c, n));
	}
	const struct vup_model_region *r;
	assert_true(vup_model_regions(m, &r) <= VUP_MODEL_REGIONS);
}

/* One message of random bytes: its pairing, then fed. */
static void feed_random(enum vup_chan chan, enum vup_side from, uint32_t code,
                        uint32_t size)
{
	static const uint32_t flags[] = {REQ, REPLY, NEED, REPLY | NEED, 0};
	uint8_t p[48];
	for (uint32_t i = 0; i < size; i++)
		p[i] = (uint8_t)next_random();
	uint64_t r = next_random();
	char why[256];
	enum vup_problem pr = pairing(chan, from, code, flags[r % 5], p, size,
	                              why, sizeof(why));
	assert_true(pr == VUP_PROBLEM_NONE || pr == VUP_PROBLEM_REPLY_ORDER ||
	            pr == VUP_PROBLEM_UNSOLICITED ||
	            pr == VUP_PROBLEM_OWED_REPLIES);
	assert_true(pr == VUP_PROBLEM_NONE || (why[0] && strlen(why) < 256));
	feed_msg(chan, from, code, flags[r % 5], p, size, (r >> 8) % 4,
	         (r >> 16) % 8 != 0);
	check_invariants();
}

static void random_payloads(void **state)
{
	(void)state;
	for (int round = 0; round < 3; round++) {
		for (int c = 0; c < 2; c++) {
			size_t n = vup_proto_count(c);
			for (size_t i = 0; i <= n; i++) {
				/* The catalogue's codes and one past it. */
				uint32_t code = i < n ? vup_proto_at(c, i)->code
				                      : (uint32_t)(n + 1);
				for (uint32_t size = 0; size <= 48; size++)
					for (int s = 0; s < 2; s++)
						feed_random(c, s, code, size);
			}
		}
	}
	/* In random order, with everything negotiated. */
	fe_u64(VUP_REQ_SET_FEATURES, ~0ull);
	fe_u64(VUP_REQ_SET_PROTOCOL_FEATURES, ~0ull);
	for (int i = 0; i < 20000; i++) {
		uint64_t r = next_random();
		enum vup_chan c = r & 1 ? BCH : MAIN;
		uint32_t code = (uint32_t)(r >> 8) % (vup_proto_count(c) + 2);
		feed_random(c, r & 2 ? BE : FE, code, (uint32_t)(r >> 16) % 49);
	}
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	        T(features_offered_and_acked),
	        T(protocol_features_offered_and_acked),
	        T(ack_without_offer),
	        T(ack_dropped_or_short),
	        T(mem_table_replaced),
	        T(mem_table_bad_sizes),
	        T(mem_regions_added_and_removed),
	        T(mem_regions_bounded),
	        T(mem_xen_mmap),
	        T(mem_postcopy_echo),
	        T(mem_postcopy_removal_ack),
	        T(mem_parse_errors),
	        T(vring_set_up),
	        T(vring_kick_starts),
	        T(vring_stopped_by_get_base),
	        T(vring_index_past_model),
	        T(replies_paid_in_order),
	        T(replies_need_reply),
	        T(replies_optional_skipped),
	        T(replies_out_of_order),
	        T(replies_unsolicited),
	        T(replies_owed_bounded),
	        T(replies_fate),
	        T(replies_forgotten_with_channel),
	        T(replies_backend_channel),
	        T(reset_clears_device_state),
	        T(status_log_postcopy),
	        T(event_names),
	        T(random_payloads),
	};
#undef T
	return cmocka_run_group_tests_name("model", tests, NULL, NULL);
}
