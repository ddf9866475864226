/* Unit tests for src/model/memory.c: the memory table from SET_MEM_TABLE,
 * ADD_MEM_REG and REM_MEM_REG, the postcopy echo and its acknowledgement,
 * and the one parser of their payloads. */
#include <errno.h>

#include "model_feed.h"

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

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	        T(mem_table_replaced),
	        T(mem_table_bad_sizes),
	        T(mem_regions_added_and_removed),
	        T(mem_regions_bounded),
	        T(mem_xen_mmap),
	        T(mem_postcopy_echo),
	        T(mem_postcopy_removal_ack),
	        T(mem_parse_errors),
	};
#undef T
	return cmocka_run_group_tests_name("model_memory", tests, NULL, NULL);
}
