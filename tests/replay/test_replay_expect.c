/* Unit tests of the GET_VRING_BASE expectation (src/replay/expect.c):
 * which requests set a vring's base, what answer is expected for split
 * and packed rings, and that the expected answer, compared with a live
 * one, passes only the base that was set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vuproxy/replay.h"

#define REQ   VUP_FLAG_VERSION
#define REPLY (VUP_FLAG_VERSION | VUP_FLAG_REPLY)

/* A vring-state message: index, num. */
struct state {
	struct vup_replay_msg m;
	uint8_t p[8];
};

static void state_msg(struct state *s, uint64_t frame, uint32_t req,
                      uint32_t flags, uint32_t index, uint32_t num)
{
	memset(s, 0, sizeof(*s));
	s->m.frame = frame;
	s->m.chan = VUP_CHAN_MAIN;
	s->m.from = VUP_FRONTEND;
	s->m.hdr = (struct vup_hdr){req, flags, 8};
	memcpy(s->p, &index, 4);
	memcpy(s->p + 4, &num, 4);
	s->m.payload = s->p;
}

static struct vup_replay_bases bases;

static void set_base(uint64_t frame, uint32_t index, uint32_t num)
{
	struct state s;
	state_msg(&s, frame, VUP_REQ_SET_VRING_BASE, REQ, index, num);
	vup_replay_bases_note(&bases, &s.m);
}

static void assert_expect(uint32_t index, uint32_t recorded, uint32_t want,
                          uint64_t want_frame)
{
	uint32_t num = 0xdeadbeef;
	uint64_t frame = 0;
	assert_true(
	        vup_replay_bases_expect(&bases, index, recorded, &num, &frame));
	assert_int_equal(num, want);
	assert_int_equal(frame, want_frame);
}

static void assert_no_expect(uint32_t index)
{
	uint32_t num = 0xdeadbeef;
	uint64_t frame = 0;
	assert_false(vup_replay_bases_expect(&bases, index, 5, &num, &frame));
	assert_int_equal(num, 0xdeadbeef);
}

/* Split rings: the base set, whatever the record says; per vring; the
 * last SET_VRING_BASE counts. */
static void split_base_as_set(void **state)
{
	(void)state;
	memset(&bases, 0, sizeof(bases));
	assert_no_expect(0);
	set_base(12, 0, 0);
	set_base(13, 1, 65500);
	assert_expect(0, 37, 0, 12);     /* traffic moved it to 37 */
	assert_expect(0, 0, 0, 12);      /* recorded without traffic */
	assert_expect(1, 64, 65500, 13); /* a resumed vring */
	assert_no_expect(2);
	/* A second start of vring 0 (QEMU sets it up again). */
	set_base(40, 0, 5);
	assert_expect(0, 37, 5, 40);
	/* Bits 16-31 are reserved for split rings: set there only if the
	 * recorded back-end answers with some. */
	set_base(41, 2, 0x00030007);
	assert_expect(2, 9, 7, 41);
	assert_expect(2, 0x00010009, 0x00030007, 41);
}

/* Only a SET_VRING_BASE request the front-end sent on the main channel
 * sets a base. */
static void only_set_vring_base_counts(void **state)
{
	(void)state;
	memset(&bases, 0, sizeof(bases));
	struct state s;
	state_msg(&s, 1, VUP_REQ_GET_VRING_BASE, REQ, 0, 3);
	vup_replay_bases_note(&bases, &s.m);
	state_msg(&s, 2, VUP_REQ_SET_VRING_NUM, REQ, 0, 256);
	vup_replay_bases_note(&bases, &s.m);
	state_msg(&s, 3, VUP_REQ_SET_VRING_BASE, REPLY, 0, 3);
	vup_replay_bases_note(&bases, &s.m);
	state_msg(&s, 4, VUP_REQ_SET_VRING_BASE, REQ, 0, 3);
	s.m.chan = VUP_CHAN_BACKEND;
	vup_replay_bases_note(&bases, &s.m);
	state_msg(&s, 5, VUP_REQ_SET_VRING_BASE, REQ, 0, 3);
	s.m.from = VUP_BACKEND;
	vup_replay_bases_note(&bases, &s.m);
	state_msg(&s, 6, VUP_REQ_SET_VRING_BASE, REQ, 0, 3);
	s.m.hdr.size = 4; /* no num */
	vup_replay_bases_note(&bases, &s.m);
	state_msg(&s, 7, VUP_REQ_SET_VRING_BASE, REQ, VUP_REPLAY_MAX_VRINGS, 3);
	vup_replay_bases_note(&bases, &s.m);
	assert_no_expect(0);
	assert_no_expect(VUP_REPLAY_MAX_VRINGS);
	assert_no_expect(UINT32_MAX);
	set_base(8, VUP_REPLAY_MAX_VRINGS - 1, 3);
	assert_expect(VUP_REPLAY_MAX_VRINGS - 1, 0, 3, 8);
}

/* Packed rings: bits 0-14 the avail index, 15 its wrap counter, 16-30
 * the used index, 31 its wrap counter.  DPDK answers the avail half alone
 * (last_avail_idx & 0x7fff | avail_wrap_counter << 15), whatever the
 * front-end set in the used half. */
static void packed_base_as_set(void **state)
{
	(void)state;
	memset(&bases, 0, sizeof(bases));
	/* QEMU: avail 0 wrap 1, used 0 wrap 1. */
	set_base(20, 0, 0x80008000u);
	/* Recorded DPDK: avail 37 wrap 1 after traffic, no used half. */
	assert_expect(0, 0x8025, 0x8000, 20);
	/* Traffic wrapped the ring: avail 3, wrap 0. */
	assert_expect(0, 0x0003, 0x8000, 20);
	/* A back-end that reports the used half: all of it as set. */
	assert_expect(0, 0x00258025u, 0x80008000u, 20);
	/* DPDK virtio-user: avail 0 wrap 1, used half 0. */
	set_base(21, 1, 0x00008000u);
	assert_expect(1, 0x8040, 0x8000, 21);
	assert_expect(1, 0x80408040u, 0x8000, 21);
	/* Resumed mid-ring: avail 100 wrap 0, used 98 wrap 0. */
	set_base(22, 2, 0x00620064u);
	assert_expect(2, 0x0070, 0x0064, 22);
	assert_expect(2, 0x006e0070u, 0x00620064u, 22);
}

/* What the replay compares: the recorded answer with num replaced by the
 * expectation, against the live answer, in the packed layout (the fields
 * named as `vuproxy dump` shows them). */
static unsigned compare_packed(uint32_t expected, uint32_t live, char *out,
                               size_t cap)
{
	struct state rec, got;
	state_msg(&rec, 30, VUP_REQ_GET_VRING_BASE, REPLY, 0, expected);
	state_msg(&got, 0, VUP_REQ_GET_VRING_BASE, REPLY, 0, live);
	struct vup_replay_view rv = {&rec.m.hdr, rec.p, NULL, 0};
	struct vup_replay_view lv = {&got.m.hdr, got.p, NULL, 0};
	struct vup_negotiated neg = {.features = UINT64_C(1)
	                                         << VUP_F_RING_PACKED};
	return vup_replay_compare(NULL, VUP_CHAN_MAIN, &neg, &rv, &lv, out,
	                          cap);
}

static void packed_live_answer_compared(void **state)
{
	(void)state;
	char out[256];
	memset(&bases, 0, sizeof(bases));
	set_base(20, 0, 0x80008000u);
	uint32_t want;
	uint64_t frame;
	assert_true(vup_replay_bases_expect(&bases, 0, 0x8025, &want, &frame));
	/* A fresh DPDK back-end stops where it was put. */
	assert_int_equal(compare_packed(want, 0x8000, out, sizeof(out)), 0);
	/* One that answers the recorded index, or another wrap counter,
	 * or the used half it was not expected to report, differs. */
	assert_int_equal(compare_packed(want, 0x8025, out, sizeof(out)), 1);
	assert_string_equal(out, "avail_idx 0 -> 37");
	assert_int_equal(compare_packed(want, 0x0000, out, sizeof(out)), 1);
	assert_string_equal(out, "avail_wrap 1 -> 0");
	assert_int_equal(compare_packed(want, 0x80008000u, out, sizeof(out)),
	                 1);
	assert_string_equal(out, "used_wrap 0 -> 1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(split_base_as_set),
	        cmocka_unit_test(only_set_vring_base_counts),
	        cmocka_unit_test(packed_base_as_set),
	        cmocka_unit_test(packed_live_answer_compared),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
