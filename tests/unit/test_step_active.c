/* Unit tests for --active's decisions (src/relay/active_step.c) as the
 * relay step carries them out: the offers masked and recorded like a
 * rule's rewrite (the copy received and the copy sent), the shadow region
 * appended to SET_MEM_TABLE with the fd the adapter prepared, vuproxy's
 * eventfds in SET_VRING_KICK, the stopped base in GET_VRING_BASE's reply,
 * passthrough for ACCESS_PLATFORM and 8 regions, a refusal, and the
 * region's placement. */
#include <errno.h>

#include "step_feed.h"

#define F_IN_ORDER (1ull << VUP_F_IN_ORDER)
#define F_IOMMU    (1ull << VUP_F_ACCESS_PLATFORM)
#define PF_MQ      (1ull << VUP_PF_MQ)
#define PF_SLOTS   (1ull << VUP_PF_CONFIGURE_MEM_SLOTS)
#define PF_HOSTN   (1ull << VUP_PF_HOST_NOTIFIER)
#define GIB        (1ull << 30)

static struct vup_active act;
static struct vup_active_io io;

static int asetup(void **state)
{
	int rc = setup(state);
	vup_active_init(&act);
	memset(&io, 0, sizeof(io));
	io.fd = -1;
	ctx.active = &act;
	ctx.active_io = &io;
	return rc;
}

static uint64_t payload_u64(unsigned off)
{
	uint64_t x;
	memcpy(&x, msg.payload + off, 8);
	return x;
}

static void astep(uint32_t req, const void *p, uint32_t size, unsigned nfds)
{
	step_any(MAIN, FE, req, REQ, p, size, nfds);
}

static uint32_t table(uint8_t *p, unsigned n)
{
	memset(p, 0, 8 + 32 * n);
	put_u32(p, 0, n);
	for (unsigned i = 0; i < n; i++) {
		put_u64(p, 8 + 32 * i, (uint64_t)i << 20); /* gpa */
		put_u64(p, 16 + 32 * i, 1u << 20);         /* size */
		put_u64(p, 24 + 32 * i, 0x7f1234500000ull + (i << 20)); /* ua */
	}
	return 8 + 32 * n;
}

static void test_offers_masked_and_recorded(void **state)
{
	(void)state;
	step_u64(MAIN, BE, VUP_REQ_GET_FEATURES, REPLY,
	         F_VERSION_1 | F_RING_PACKED | F_IN_ORDER, 0);
	expect_actions("RECORD(orig be rewrite rule=--active marked), "
	               "RECORD(in be rewrite rule=--active as_sent), "
	               "SEND(in)");
	assert_int_equal(payload_u64(0), F_VERSION_1);
	uint64_t orig;
	memcpy(&orig, st.orig, 8);
	assert_int_equal(orig, F_VERSION_1 | F_RING_PACKED | F_IN_ORDER);
	uint64_t bits;
	assert_true(vup_model_offered(flow.model, false, &bits));
	assert_int_equal(bits, F_VERSION_1); /* what the front-end saw */

	step_u64(MAIN, BE, VUP_REQ_GET_PROTOCOL_FEATURES, REPLY,
	         PF_MQ | PF_SLOTS | PF_HOSTN, 0);
	assert_int_equal(payload_u64(0), PF_MQ);
	assert_true(st.rewritten);

	/* Nothing to hide: the reply passes as it is. */
	step_u64(MAIN, BE, VUP_REQ_GET_FEATURES, REPLY, F_VERSION_1, 0);
	expect_actions("RECORD(in be pass marked), SEND(in)");
	assert_false(act.passthrough);
}

static void test_access_platform_is_passthrough(void **state)
{
	(void)state;
	step_u64(MAIN, BE, VUP_REQ_GET_FEATURES, REPLY,
	         F_VERSION_1 | F_RING_PACKED | F_IOMMU, 0);
	expect_actions("RECORD(in be pass marked), SEND(in)");
	assert_int_equal(payload_u64(0), F_VERSION_1 | F_RING_PACKED | F_IOMMU);
	assert_true(act.passthrough && st.active.to_passthrough);
	assert_non_null(strstr(st.active.why, "ACCESS_PLATFORM"));
	/* For good: the protocol offer is not touched either. */
	step_u64(MAIN, BE, VUP_REQ_GET_PROTOCOL_FEATURES, REPLY, PF_SLOTS, 0);
	assert_int_equal(payload_u64(0), PF_SLOTS);
	assert_false(st.active.to_passthrough);
}

static void test_mem_table_gets_the_region(void **state)
{
	(void)state;
	uint8_t p[300];
	uint32_t size = table(p, 2);
	io.fd = 55;
	io.fd_info = (struct vup_fd_info){.kind = VUP_FDK_MEMFD,
	                                  .size = VUP_ACTIVE_REGION_SIZE};
	astep(VUP_REQ_SET_MEM_TABLE, p, size, 2);
	assert_int_equal(msg.hdr.size, size + 32);
	assert_int_equal(msg.nfds, 3);
	assert_int_equal(msg.fds[2], 55);
	assert_true(st.active.fd_taken);
	assert_int_equal(msg.payload[0], 3);
	assert_memory_equal(msg.payload + 8, p + 8, 64); /* guest's intact */
	assert_int_equal(payload_u64(72), GIB);          /* 1 GiB above 2 MiB */
	assert_int_equal(payload_u64(80), VUP_ACTIVE_REGION_SIZE);
	assert_int_equal(payload_u64(88), 0x7f1240000000ull);
	assert_int_equal(payload_u64(96), 0);
	/* The copy received has 2 fds, the copy sent 3, the last a memfd. */
	assert_int_equal(st.orig_nfds, 2);
	assert_int_equal(st.orig_hdr.size, size);
	assert_int_equal(st.sent_fdi[2].size, VUP_ACTIVE_REGION_SIZE);
	expect_event(VUP_EV_MEM_TABLE, 3, 0);
}

static void test_eight_regions_is_passthrough(void **state)
{
	(void)state;
	uint8_t p[300];
	uint32_t size = table(p, 8);
	io.fd = 55;
	astep(VUP_REQ_SET_MEM_TABLE, p, size, 8);
	assert_int_equal(msg.hdr.size, size);
	assert_int_equal(msg.nfds, 8);
	assert_false(st.active.fd_taken); /* the adapter closes it */
	assert_true(act.passthrough);
	assert_non_null(strstr(st.active.why, "8 regions"));
}

/* Once the back-end's table holds the shadow region its rings are in
 * it: a later table or offer that cannot be shadowed fails the session
 * instead of sending it on unshadowed while the svqs run on (the
 * back-end would lose its rings; vuproxy would go on translating
 * through the table before). */
static void test_shadowed_session_cannot_fall_back(void **state)
{
	(void)state;
	uint8_t p[300];
	uint32_t size = table(p, 7);
	io.fd = 55;
	astep(VUP_REQ_SET_MEM_TABLE, p, size, 7);
	assert_true(st.active.fd_taken);
	assert_int_equal(msg.nfds, 8);

	size = table(p, 8);
	io.fd = 56;
	astep(VUP_REQ_SET_MEM_TABLE, p, size, 8);
	expect_actions("RECORD(in fe refused), REFUSE(in)");
	assert_true(st.active.refuse);
	assert_false(act.passthrough || st.active.to_passthrough);
	assert_non_null(strstr(st.active.why, "8 regions"));
	assert_non_null(strstr(st.active.why, "shadowed already"));

	step_u64(MAIN, BE, VUP_REQ_GET_FEATURES, REPLY, F_VERSION_1 | F_IOMMU,
	         0);
	expect_actions("RECORD(in be refused), REFUSE(in)");
	assert_false(act.passthrough);

	/* A table the adapter could not map writable: no fd for it. */
	size = table(p, 2);
	io.fd = -1;
	astep(VUP_REQ_SET_MEM_TABLE, p, size, 2);
	expect_actions("RECORD(in fe refused), REFUSE(in)");
	assert_non_null(strstr(st.active.why, "cannot be mapped"));
}

static void test_vring_fds_and_base(void **state)
{
	(void)state;
	io.fd = 77;
	uint64_t x = 1; /* vring 1 */
	astep(VUP_REQ_SET_VRING_KICK, &x, 8, 1);
	assert_int_equal(msg.fds[0], 77);
	assert_int_equal(st.active.kept_fd, 100);
	expect_actions("RECORD(orig fe rewrite rule=--active marked), "
	               "RECORD(in fe rewrite rule=--active as_sent), "
	               "SEND(in)");

	/* No fd: refused, not sent. */
	io.fd = -1;
	snprintf(io.fail, sizeof(io.fail), "vring 1: no fd");
	x = 0x101;
	astep(VUP_REQ_SET_VRING_CALL, &x, 8, 0);
	expect_actions("RECORD(in fe refused), REFUSE(in)");
	assert_true(st.active.refuse);
	io.fail[0] = '\0';

	/* The back-end stopped at 9; the guest's base is 7. */
	step(MAIN, FE, VUP_REQ_GET_VRING_BASE, REQ, "\1\0\0\0\0\0\0\0", 8, 0);
	io.have_base = true;
	io.base = 7;
	step(MAIN, BE, VUP_REQ_GET_VRING_BASE, REPLY, "\1\0\0\0\x09\0\0\0", 8,
	     0);
	assert_int_equal(msg.payload[4], 7);
	assert_int_equal(st.orig[4], 9);
	expect_event(VUP_EV_VRING_STOPPED, 1, 7);
}

static void test_placement(void **state)
{
	(void)state;
	char why[256];
	uint64_t off, off2;
	assert_int_equal(vup_active_place(&act, 0, 3 << 20, &off, why, 256), 0);
	assert_int_equal(off, 0);
	/* The same ring again, no larger: the same room. */
	assert_int_equal(vup_active_place(&act, 0, 100, &off2, why, 256), 0);
	assert_int_equal(off2, 0);
	assert_int_equal(vup_active_place(&act, 1, 5000, &off, why, 256), 0);
	assert_int_equal(off, 3 << 20);
	assert_int_equal(vup_active_place(&act, 2, 1 << 20, &off, why, 256),
	                 -ENOSPC);
	assert_non_null(strstr(why, "vring 2: its shadow ring needs 1048576"));
	assert_int_equal(vup_active_place(&act, 300, 1, &off, why, 256),
	                 -ENOSPC);

	/* G and U: above the highest, 1 GiB aligned; kept while above. */
	struct vup_model_region r[2] = {
	        {.gpa = 0, .size = 3 * GIB, .uaddr = 0x7f0000000000ull},
	        {.gpa = 4 * GIB, .size = 1, .uaddr = 0x10000}};
	vup_active_region(&act, r, 2);
	assert_int_equal(act.gpa, 5 * GIB);
	assert_int_equal(act.uaddr, 0x7f0000000000ull + 3 * GIB);
	r[1].size = 2 * GIB; /* grows over it */
	vup_active_region(&act, r, 2);
	assert_int_equal(act.gpa, 6 * GIB);
	r[1].size = 1;
	vup_active_region(&act, r, 2);
	assert_int_equal(act.gpa, 6 * GIB);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, asetup, teardown)
	        T(test_offers_masked_and_recorded),
	        T(test_access_platform_is_passthrough),
	        T(test_mem_table_gets_the_region),
	        T(test_eight_regions_is_passthrough),
	        T(test_shadowed_session_cannot_fall_back),
	        T(test_vring_fds_and_base),
	        T(test_placement),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
