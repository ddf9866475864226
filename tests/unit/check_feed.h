/* Helpers of the checker's unit tests (test_check*.c): views fed to a
 * session model and a checker the way `vuproxy check` feeds a trace (the
 * validator before the model, the rows after it), the findings counted
 * per row with the text of the last one. */
#ifndef VUP_TESTS_CHECK_FEED_H
#define VUP_TESTS_CHECK_FEED_H

#include <stdio.h>

#include "model_feed.h"
#include "vuproxy/check.h"
#include "vuproxy/pcapng.h"

static struct vup_checker *ck;
static unsigned hits[VUP_CHECK_COUNT];
static char seen[VUP_CHECK_COUNT][256];
static uint64_t frame;

static inline int csetup(void **state)
{
	memset(hits, 0, sizeof(hits));
	frame = 0;
	ck = vup_checker_new(7);
	return ck ? setup(state) : -1;
}

static inline int cteardown(void **state)
{
	vup_checker_free(ck);
	ck = NULL;
	return teardown(state);
}

static inline void take(const struct vup_check_findings *fs)
{
	for (unsigned i = 0; i < fs->n; i++) {
		const struct vup_check_finding *f = &fs->f[i];
		assert_int_equal(f->session, 7);
		snprintf(seen[f->row->id], sizeof(seen[0]),
		         "frame %llu %s %s: %s", (unsigned long long)f->frame,
		         f->row->code, f->request, f->message);
		hits[f->row->id]++;
	}
}

/* One message through the validator, the model and the checker, with
 * its fds' kinds and sizes (fi: nfds of them). */
static inline void cmsg_fds(enum vup_chan chan, enum vup_side from,
                            uint32_t code, uint32_t flags, const void *p,
                            uint32_t size, unsigned nfds,
                            const struct vup_fd_info *fi)
{
	struct vup_view v;
	view_of(&v, chan, from, code, flags, p, size, nfds);
	v.fd_info = fi;
	struct vup_check_findings fs;
	vup_check_before(ck, m, &v);
	vup_model_feed(m, &v, true, &ev);
	vup_check_message(ck, m, &v, true, &ev, ++frame, &fs);
	take(&fs);
	free((void *)v.payload);
}

/* The same, its fds all of one kind and of no size. */
static inline void cmsg(enum vup_chan chan, enum vup_side from, uint32_t code,
                        uint32_t flags, const void *p, uint32_t size,
                        unsigned nfds, uint8_t fd_kind)
{
	struct vup_fd_info fi[4] = {
	        {fd_kind, 0}, {fd_kind, 0}, {fd_kind, 0}, {fd_kind, 0}};
	cmsg_fds(chan, from, code, flags, p, size, nfds, fi);
}

static inline void cf(uint32_t code, uint32_t flags, const void *p,
                      uint32_t size, unsigned nfds)
{
	cmsg(MAIN, FE, code, flags, p, size, nfds, VUP_FDK_EVENTFD);
}
static inline void cf0(uint32_t code)
{
	cf(code, REQ, NULL, 0, 0);
}
static inline void cf64(uint32_t code, uint64_t x)
{
	cf(code, REQ, &x, 8, 0);
}
static inline void cb(uint32_t code, uint32_t flags, const void *p,
                      uint32_t size)
{
	cmsg(MAIN, BE, code, flags, p, size, 0, 0);
}
static inline void cb64(uint32_t code, uint64_t x)
{
	cb(code, REPLY, &x, 8);
}
static inline void cstate(uint32_t code, uint32_t flags, uint32_t index,
                          uint32_t num)
{
	uint8_t p[8];
	put_u32(p, 0, index);
	put_u32(p, 4, num);
	cf(code, flags, p, 8, 0);
}
static inline void caddr(uint32_t index, uint64_t desc)
{
	uint8_t p[40] = {0};
	put_u32(p, 0, index);
	put_u64(p, 8, desc);
	put_u64(p, 16, desc + 0x1000);
	put_u64(p, 24, desc + 0x2000);
	cf(VUP_REQ_SET_VRING_ADDR, REQ, p, 40, 0);
}
static inline void ctable(uint32_t n, const struct reg *r)
{
	uint8_t buf[8 + 4 * 32];
	uint32_t size = table(buf, n, r, false);
	cf(VUP_REQ_SET_MEM_TABLE, REQ, buf, size, n);
}
static inline void cconfig(uint32_t code, enum vup_side from, uint32_t cfg_size,
                           uint32_t wire)
{
	uint8_t p[12 + 64] = {0};
	put_u32(p, 4, cfg_size);
	cmsg(MAIN, from, code, from == FE ? REQ : REPLY, p, wire, 0, 0);
}

#define FEATURES  ((1ull << VUP_F_PROTOCOL_FEATURES) | (1ull << VUP_F_VERSION_1))
#define PROTOCOLS 0x1ffffull /* MQ .. STATUS */

/* The opening of a clean session, as QEMU would negotiate it. */
static inline void open_session(void)
{
	cf0(VUP_REQ_SET_OWNER);
	cf0(VUP_REQ_GET_FEATURES);
	cb64(VUP_REQ_GET_FEATURES, FEATURES | (1ull << VUP_F_LOG_ALL));
	cf0(VUP_REQ_GET_PROTOCOL_FEATURES);
	cb64(VUP_REQ_GET_PROTOCOL_FEATURES, PROTOCOLS);
	cf64(VUP_REQ_SET_PROTOCOL_FEATURES, PROTOCOLS);
	cf64(VUP_REQ_SET_FEATURES, FEATURES);
	cf0(VUP_REQ_GET_QUEUE_NUM);
	cb64(VUP_REQ_GET_QUEUE_NUM, 2);
	cf0(VUP_REQ_GET_MAX_MEM_SLOTS);
	cb64(VUP_REQ_GET_MAX_MEM_SLOTS, 8);
}

static inline unsigned total(void)
{
	unsigned n = 0;
	for (int i = 0; i < VUP_CHECK_COUNT; i++)
		n += hits[i];
	return n;
}

static inline void expect_clean(void)
{
	for (int i = 0; i < VUP_CHECK_COUNT; i++)
		if (hits[i])
			fail_msg("unexpected finding: %s", seen[i]);
}

#define expect_hit(id)                                                         \
	do {                                                                   \
		if (!hits[VUP_CHECK_##id])                                     \
			fail_msg("%s did not trip (%u other findings)",        \
			         vup_check_row(VUP_CHECK_##id)->code,          \
			         total());                                     \
	} while (0)

static inline void end(bool cut_off)
{
	struct vup_check_findings fs;
	vup_check_end(ck, m, cut_off, &fs);
	take(&fs);
}

#endif
