/* Helpers of the session model's unit tests (test_model*.c): messages
 * built from their payloads, decoded into views with a time and fed to
 * one model, and the events they yield.  Every payload is handed over in
 * a heap block of exactly its size, so that a read past it shows under
 * ASan. */
#ifndef VUP_TESTS_MODEL_FEED_H
#define VUP_TESTS_MODEL_FEED_H

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

static inline int setup(void **state)
{
	(void)state;
	m = vup_model_new();
	now = 0;
	memset(&ev, 0, sizeof(ev));
	return m ? 0 : -1;
}

static inline int teardown(void **state)
{
	(void)state;
	vup_model_free(m);
	m = NULL;
	return 0;
}

/* ---- messages ---- */

/* A view of a message, its payload copied into a block of exactly its
 * size (free it with free((void *)v->payload)). */
static inline void view_of(struct vup_view *v, enum vup_chan chan,
                           enum vup_side from, uint32_t code, uint32_t flags,
                           const void *p, uint32_t size, unsigned nfds)
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

static inline void feed_msg(enum vup_chan chan, enum vup_side from,
                            uint32_t code, uint32_t flags, const void *p,
                            uint32_t size, unsigned nfds, bool delivered)
{
	struct vup_view v;
	view_of(&v, chan, from, code, flags, p, size, nfds);
	vup_model_feed(m, &v, delivered, &ev);
	free((void *)v.payload);
}

static inline enum vup_problem pairing(enum vup_chan chan, enum vup_side from,
                                       uint32_t code, uint32_t flags,
                                       const void *p, uint32_t size, char *why,
                                       size_t whylen)
{
	struct vup_view v;
	view_of(&v, chan, from, code, flags, p, size, 0);
	why[0] = '\0';
	enum vup_problem r = vup_model_pairing(m, &v, why, whylen);
	free((void *)v.payload);
	return r;
}

/* The front-end's request on the main channel, delivered, no fd. */
static inline void fe(uint32_t code, const void *p, uint32_t size)
{
	feed_msg(MAIN, FE, code, REQ, p, size, 0, true);
}

/* The back-end's reply on the main channel. */
static inline void be(uint32_t code, const void *p, uint32_t size)
{
	feed_msg(MAIN, BE, code, REPLY, p, size, 0, true);
}

static inline void fe_u64(uint32_t code, uint64_t x)
{
	fe(code, &x, 8);
}

static inline void be_u64(uint32_t code, uint64_t x)
{
	be(code, &x, 8);
}

/* {u32 index, u32 num}: vring state, base, enable, in-band kick. */
static inline void fe_state(uint32_t code, uint32_t index, uint32_t num)
{
	uint8_t p[8];
	put_u32(p, 0, index);
	put_u32(p, 4, num);
	fe(code, p, 8);
}

static inline void be_state(uint32_t code, uint32_t index, uint32_t num)
{
	uint8_t p[8];
	put_u32(p, 0, index);
	put_u32(p, 4, num);
	be(code, p, 8);
}

/* SET_VRING_KICK/CALL/ERR: u64 index | NOFD, with nfds fds. */
static inline void fe_vring_fd(uint32_t code, uint64_t x, unsigned nfds)
{
	feed_msg(MAIN, FE, code, REQ, &x, 8, nfds, true);
}

static inline void fe_addr(uint32_t index, uint32_t flags, uint64_t desc,
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

static inline uint32_t put_region(uint8_t *p, const struct reg *r, bool xen)
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
static inline uint32_t table(uint8_t *buf, uint32_t n, const struct reg *r,
                             bool xen)
{
	uint32_t at = 8;
	put_u32(buf, 0, n);
	put_u32(buf, 4, 0);
	for (uint32_t i = 0; i < n; i++)
		at += put_region(buf + at, &r[i], xen);
	return at;
}

/* ADD_MEM_REG / REM_MEM_REG {u64 pad, region}; its size. */
static inline uint32_t mem_reg(uint8_t *buf, const struct reg *r, bool xen)
{
	put_u64(buf, 0, 0);
	return 8 + put_region(buf + 8, r, xen);
}

static const struct reg two[2] = {
        {0x0, 0x80000, 0x7f0000000000, 0, 0, 0},
        {0x100000, 0x40000, 0x7f0000100000, 0x80000, 0, 0},
};

/* Feed the front-end's SET_MEM_TABLE of two regions. */
static inline void feed_two(void)
{
	uint8_t buf[8 + 2 * 32];
	uint32_t n = table(buf, 2, two, false);
	feed_msg(MAIN, FE, VUP_REQ_SET_MEM_TABLE, REQ, buf, n, 2, true);
}

static inline void assert_region(const struct vup_model_region *g,
                                 const struct reg *r)
{
	assert_int_equal(g->gpa, r->gpa);
	assert_int_equal(g->size, r->size);
	assert_int_equal(g->uaddr, r->uaddr);
	assert_int_equal(g->mmap_offset, r->off);
}

/* ---- events ---- */

static inline const char *ev_list(void)
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

static inline const struct vup_model_event *find_ev(enum vup_model_event_kind k)
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
static inline void expect_seq_(const enum vup_model_event_kind *k, unsigned n)
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

#endif
