/* declared: which records restate a session's set-up, in which order,
 * each with its reply (declared.h). */
#include "unit.h"
#include "vuproxy/declared.h"

#include <stdio.h>
#include <stdlib.h>

struct keeper {
	struct vup_declared *d;
	uint64_t now;
};

/* Feed one message as the trace writer records it. */
static void feed_as(struct keeper *k, enum vup_side from, enum vup_chan chan,
                    uint8_t action, uint8_t tflags, struct vup_hdr h,
                    const void *payload, unsigned nfds)
{
	struct vup_trace_hdr th = {
	        .flags = (uint8_t)((from == VUP_BACKEND
	                                    ? VUP_TRACE_F_FROM_BACKEND
	                                    : 0) |
	                           (chan == VUP_CHAN_BACKEND
	                                    ? VUP_TRACE_F_BACKEND_CHAN
	                                    : 0) |
	                           tflags),
	        .action = action,
	        .session = 1,
	        .nfds = (uint8_t)nfds};
	for (unsigned i = 0; i < nfds; i++)
		th.fds[i] = (struct vup_fd_info){VUP_FDK_MEMFD, 1 << 20};
	uint8_t rec[VUP_TRACE_HDR_MAX + VUP_HDR_SIZE + 512];
	size_t hl = vup_trace_hdr_size(&th);
	vup_trace_hdr_encode(&th, rec);
	memcpy(rec + hl, &h, VUP_HDR_SIZE);
	if (h.size) /* payload may be NULL */
		memcpy(rec + hl + VUP_HDR_SIZE, payload, h.size);
	k->now += 1000;
	vup_declared_feed(k->d, k->now, &th, rec, hl + VUP_HDR_SIZE + h.size,
	                  hl);
}

static void fe(struct keeper *k, uint32_t req, uint32_t flags,
               const void *payload, uint32_t size, unsigned nfds)
{
	feed_as(k, VUP_FRONTEND, VUP_CHAN_MAIN, VUP_TRACE_ACT_PASS, 0,
	        hdr(req, flags, size), payload, nfds);
}

static void be(struct keeper *k, uint32_t req, const void *payload,
               uint32_t size)
{
	feed_as(k, VUP_BACKEND, VUP_CHAN_MAIN, VUP_TRACE_ACT_PASS, 0,
	        hdr(req, REPLY, size), payload, 0);
}

/* "REQUEST[index|value] " per record, replies as "+REQUEST". */
struct listing {
	char s[2048];
};

static int list_one(void *ctx, uint64_t ts_ns, const uint8_t *rec, size_t len)
{
	struct listing *l = ctx;
	(void)ts_ns;
	struct vup_trace_hdr th;
	char err[64];
	int hl = vup_trace_hdr_decode(rec, len, &th, err, sizeof(err));
	assert_true(hl > 0);
	assert_false(th.declared); /* the original bytes */
	struct vup_hdr h;
	memcpy(&h, rec + hl, VUP_HDR_SIZE);
	uint32_t first = 0;
	if (h.size >= 4)
		memcpy(&first, rec + hl + VUP_HDR_SIZE, 4);
	size_t n = strlen(l->s);
	snprintf(l->s + n, sizeof(l->s) - n, "%s%s[%u] ",
	         (h.flags & VUP_FLAG_REPLY) ? "+" : "",
	         vup_proto_name(VUP_CHAN_MAIN, h.request), first);
	return 0;
}

static void expect(struct keeper *k, const char *want)
{
	struct listing l = {""};
	assert_int_equal(vup_declared_each(k->d, list_one, &l), 0);
	assert_string_equal(l.s, want);
	assert_true(vup_declared_complete(k->d));
}

static int setup(void **state)
{
	struct keeper *k = calloc(1, sizeof(*k));
	k->d = vup_declared_new();
	*state = k;
	return k && k->d ? 0 : -1;
}

static int teardown(void **state)
{
	struct keeper *k = *state;
	vup_declared_free(k->d);
	free(k);
	return 0;
}

static void vring(struct keeper *k, uint32_t req, uint32_t index,
                  uint32_t value)
{
	uint8_t p[40] = {0};
	put_u32(p, 0, index);
	put_u32(p, 4, value);
	uint32_t size = req == VUP_REQ_SET_VRING_ADDR ? 40 : 8;
	bool fd =
	        req == VUP_REQ_SET_VRING_KICK || req == VUP_REQ_SET_VRING_CALL;
	fe(k, req, REQ, p, size, fd);
}

static void negotiate(struct keeper *k)
{
	uint64_t f = 1ull << 30 | 1ull << 32;
	fe(k, VUP_REQ_GET_FEATURES, REQ, NULL, 0, 0);
	be(k, VUP_REQ_GET_FEATURES, &f, 8);
	fe(k, VUP_REQ_SET_OWNER, REQ, NULL, 0, 0);
	fe(k, VUP_REQ_SET_FEATURES, REQ, &f, 8, 0);
}

static void test_setup_in_order(void **state)
{
	struct keeper *k = *state;
	negotiate(k);
	uint8_t table[8 + 32] = {1};
	fe(k, VUP_REQ_SET_MEM_TABLE, REQ, table, sizeof(table), 1);
	vring(k, VUP_REQ_SET_VRING_NUM, 0, 256);
	vring(k, VUP_REQ_SET_VRING_ADDR, 0, 0);
	vring(k, VUP_REQ_SET_VRING_KICK, 0, 0);
	vring(k, VUP_REQ_SET_VRING_NUM, 1, 256);
	/* Events are not restated. */
	fe(k, VUP_REQ_GET_CONFIG, REQ, table, 12, 0);
	expect(k, "GET_FEATURES[0] +GET_FEATURES[1073741824] SET_OWNER[0] "
	          "SET_FEATURES[1073741824] SET_MEM_TABLE[1] "
	          "SET_VRING_NUM[0] SET_VRING_ADDR[0] SET_VRING_KICK[0] "
	          "SET_VRING_NUM[1] ");
	assert_int_equal(vup_declared_count(k->d), 9);
}

/* The last request of a key, where it came; a ring stopped and set up
 * again is restated set up, not stopped. */
static void test_last_of_each_key(void **state)
{
	struct keeper *k = *state;
	negotiate(k);
	vring(k, VUP_REQ_SET_VRING_NUM, 0, 256);
	vring(k, VUP_REQ_SET_VRING_CALL, 0, 0);
	vring(k, VUP_REQ_SET_VRING_KICK, 0, 0);
	vring(k, VUP_REQ_GET_VRING_BASE, 0, 0);
	uint8_t base[8] = {0};
	put_u32(base, 4, 77);
	be(k, VUP_REQ_GET_VRING_BASE, base, 8);
	vring(k, VUP_REQ_SET_VRING_NUM, 0, 128);
	vring(k, VUP_REQ_SET_VRING_KICK, 0, 0);
	uint64_t f = 1ull << 32;
	fe(k, VUP_REQ_SET_FEATURES, REQ, &f, 8, 0);
	/* Set up again, the ring's stop is history: not restated. */
	expect(k, "GET_FEATURES[0] +GET_FEATURES[1073741824] SET_OWNER[0] "
	          "SET_VRING_CALL[0] SET_VRING_NUM[0] SET_VRING_KICK[0] "
	          "SET_FEATURES[0] ");
	/* Stopped for good: the stop is restated, with its answer. */
	vring(k, VUP_REQ_GET_VRING_BASE, 0, 0);
	uint8_t base2[8] = {0};
	put_u32(base2, 4, 99);
	be(k, VUP_REQ_GET_VRING_BASE, base2, 8);
	expect(k, "GET_FEATURES[0] +GET_FEATURES[1073741824] SET_OWNER[0] "
	          "SET_VRING_CALL[0] SET_VRING_NUM[0] SET_VRING_KICK[0] "
	          "SET_FEATURES[0] GET_VRING_BASE[0] +GET_VRING_BASE[0] ");
}

/* What never reached the back-end set nothing up; the copy of a rewrite
 * as sent is what it got; a timing note is not a message. */
static void test_fate(void **state)
{
	struct keeper *k = *state;
	uint8_t p[8] = {0};
	put_u32(p, 4, 1);
	feed_as(k, VUP_FRONTEND, VUP_CHAN_MAIN, VUP_TRACE_ACT_DROP, 0,
	        hdr(VUP_REQ_SET_VRING_NUM, REQ, 8), p, 0);
	put_u32(p, 4, 2);
	feed_as(k, VUP_FRONTEND, VUP_CHAN_MAIN, VUP_TRACE_ACT_REWRITE, 0,
	        hdr(VUP_REQ_SET_VRING_NUM, REQ, 8), p, 0);
	put_u32(p, 4, 3);
	feed_as(k, VUP_FRONTEND, VUP_CHAN_MAIN, VUP_TRACE_ACT_REWRITE,
	        VUP_TRACE_F_AS_SENT, hdr(VUP_REQ_SET_VRING_NUM, REQ, 8), p, 0);
	feed_as(k, VUP_FRONTEND, VUP_CHAN_MAIN, VUP_TRACE_ACT_RELEASED,
	        VUP_TRACE_F_AS_SENT, hdr(VUP_REQ_SET_VRING_NUM, REQ, 8), p, 0);
	put_u32(p, 0, 1);
	feed_as(k, VUP_FRONTEND, VUP_CHAN_MAIN, VUP_TRACE_ACT_FAIL, 0,
	        hdr(VUP_REQ_SET_VRING_NUM, REQ, 8), p, 0);
	/* A back-end channel request is an event. */
	feed_as(k, VUP_BACKEND, VUP_CHAN_BACKEND, VUP_TRACE_ACT_PASS, 0,
	        hdr(2, REQ, 0), p, 0);
	expect(k, "SET_VRING_NUM[0] ");
	assert_int_equal(vup_declared_count(k->d), 1);
}

/* A NEED_REPLY ack is the request's: replay answers with it. */
static void test_acks_follow_their_request(void **state)
{
	struct keeper *k = *state;
	uint64_t f = 1ull << 30, pf = 1ull << 3; /* REPLY_ACK */
	fe(k, VUP_REQ_GET_FEATURES, REQ, NULL, 0, 0);
	be(k, VUP_REQ_GET_FEATURES, &f, 8);
	fe(k, VUP_REQ_SET_FEATURES, REQ, &f, 8, 0);
	fe(k, VUP_REQ_GET_PROTOCOL_FEATURES, REQ, NULL, 0, 0);
	be(k, VUP_REQ_GET_PROTOCOL_FEATURES, &pf, 8);
	fe(k, VUP_REQ_SET_PROTOCOL_FEATURES, REQ, &pf, 8, 0);
	uint8_t p[8] = {0};
	put_u32(p, 0, 0);
	put_u32(p, 4, 64);
	fe(k, VUP_REQ_SET_VRING_NUM, REQ | VUP_FLAG_NEED_REPLY, p, 8, 0);
	put_u32(p, 0, 1);
	fe(k, VUP_REQ_SET_VRING_NUM, REQ, p, 8, 0); /* no reply owed */
	uint64_t ok = 0;
	be(k, VUP_REQ_SET_VRING_NUM, &ok, 8);
	expect(k, "GET_FEATURES[0] +GET_FEATURES[1073741824] "
	          "SET_FEATURES[1073741824] GET_PROTOCOL_FEATURES[0] "
	          "+GET_PROTOCOL_FEATURES[8] SET_PROTOCOL_FEATURES[8] "
	          "SET_VRING_NUM[0] +SET_VRING_NUM[0] SET_VRING_NUM[1] ");
}

/* SET_MEM_TABLE replaces the regions added before it; REM_MEM_REG
 * undoes the add of its address. */
static void test_regions(void **state)
{
	struct keeper *k = *state;
	uint8_t reg[40] = {0};
	put_u64(reg, 8, 0x1000); /* gpa */
	put_u64(reg, 16, 0x1000);
	fe(k, VUP_REQ_ADD_MEM_REG, REQ, reg, 40, 1);
	uint8_t table[8 + 32] = {1};
	fe(k, VUP_REQ_SET_MEM_TABLE, REQ, table, sizeof(table), 1);
	put_u64(reg, 8, 0x2000);
	fe(k, VUP_REQ_ADD_MEM_REG, REQ, reg, 40, 1);
	put_u64(reg, 8, 0x3000);
	fe(k, VUP_REQ_ADD_MEM_REG, REQ, reg, 40, 1);
	put_u64(reg, 8, 0x2000);
	fe(k, VUP_REQ_REM_MEM_REG, REQ, reg, 40, 0);
	expect(k, "SET_MEM_TABLE[1] ADD_MEM_REG[0] ");
	struct listing l = {""};
	vup_declared_each(k->d, list_one, &l);
	/* The add kept is 0x3000's. */
	assert_int_equal(vup_declared_count(k->d), 2);
}

/* A restatement fed back (a file read and recorded again) adds nothing;
 * a flood of one key keeps one record. */
static void test_bounded(void **state)
{
	struct keeper *k = *state;
	for (uint32_t i = 0; i < 100000; i++)
		vring(k, VUP_REQ_SET_VRING_NUM, i % 3, i);
	assert_int_equal(vup_declared_count(k->d), 3);
	/* Vrings past the model's 256 are relayed, not restated. */
	for (uint32_t i = 0; i < 2 * VUP_DECLARED_MAX; i++)
		vring(k, VUP_REQ_SET_VRING_ENABLE, i, 1);
	assert_true(vup_declared_complete(k->d));
	assert_int_equal(vup_declared_count(k->d), 3 + 256);
	/* Every region address is a key of its own: past VUP_DECLARED_MAX
	 * records the keeper keeps no more, and says so. */
	uint8_t reg[40] = {0};
	for (uint32_t i = 0; i < VUP_DECLARED_MAX; i++) {
		put_u64(reg, 8, (uint64_t)i << 20);
		fe(k, VUP_REQ_ADD_MEM_REG, REQ, reg, 40, 1);
	}
	assert_false(vup_declared_complete(k->d));
	assert_true(vup_declared_count(k->d) <= VUP_DECLARED_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_setup_in_order, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_last_of_each_key, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_fate, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_acks_follow_their_request,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_regions, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bounded, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
