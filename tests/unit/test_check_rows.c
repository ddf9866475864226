/* Unit tests of the checker's rows from VU034 on (src/check/rows.c,
 * memory.c, check.c): for each, a scripted fault that trips it, with its
 * severity and a message that names the values, and the legal exchange
 * next to it that does not. */
#include "check_feed.h"

#define BIT(n) (1ull << (n))

/* A row tripped, of the severity the table gives it, its last message
 * naming want. */
#define expect_row(id, sev, want)                                              \
	do {                                                                   \
		expect_hit(id);                                                \
		assert_int_equal(vup_check_row(VUP_CHECK_##id)->severity,      \
		                 VUP_SEV_##sev);                               \
		assert_contains(seen[VUP_CHECK_##id], want);                   \
	} while (0)
#define expect_none(id) assert_int_equal(hits[VUP_CHECK_##id], 0)

/* A session as open_session, with the features and protocol features
 * the back-end offers and the front-end acks. */
static void open_with(uint64_t features, uint64_t protocols)
{
	cf0(VUP_REQ_SET_OWNER);
	cf0(VUP_REQ_GET_FEATURES);
	cb64(VUP_REQ_GET_FEATURES, features);
	if (features & BIT(VUP_F_PROTOCOL_FEATURES)) {
		cf0(VUP_REQ_GET_PROTOCOL_FEATURES);
		cb64(VUP_REQ_GET_PROTOCOL_FEATURES, protocols);
		cf64(VUP_REQ_SET_PROTOCOL_FEATURES, protocols);
	}
	cf64(VUP_REQ_SET_FEATURES, features);
}

static void ctable_fds(uint32_t n, const struct reg *r,
                       const struct vup_fd_info *fi)
{
	uint8_t buf[8 + 4 * 32];
	uint32_t size = table(buf, n, r, false);
	cmsg_fds(MAIN, FE, VUP_REQ_SET_MEM_TABLE, REQ, buf, size, n, fi);
}

static void cadd_fd(const struct reg *r, const struct vup_fd_info *fi)
{
	uint8_t buf[48];
	cmsg_fds(MAIN, FE, VUP_REQ_ADD_MEM_REG, REQ, buf,
	         mem_reg(buf, r, false), 1, fi);
}

static void clogbase(uint64_t mmap_size)
{
	uint8_t log[16] = {0};
	put_u64(log, 0, mmap_size);
	cf(VUP_REQ_SET_LOG_BASE, REQ, log, 16, 1);
}

/* ---- VU034: a memory fd shorter than its region ---- */

static void test_fd_short(void **state)
{
	(void)state;
	open_session();
	/* two[1] maps 0x40000 bytes at mmap_offset 0x80000: its fd needs
	 * 0xc0000 bytes. */
	struct vup_fd_info fi[2] = {{VUP_FDK_MEMFD, 0x80000},
	                            {VUP_FDK_MEMFD, 0x80000}};
	ctable_fds(2, two, fi);
	expect_row(FD_SHORT, ERROR, "region 1 (gpa 0x100000 size 0x40000)");
	assert_contains(seen[VUP_CHECK_FD_SHORT],
	                "mmap_offset 0x80000 ends past its memfd of 0x80000");
	assert_int_equal(hits[VUP_CHECK_FD_SHORT], 1); /* region 0 fits */
}

static void test_fd_short_added(void **state)
{
	(void)state;
	open_session();
	ctable(2, two);
	struct reg add = {0x200000, 0x2000, 0x7f0000200000, 0x1000, 0, 0};
	cadd_fd(&add, &(struct vup_fd_info){VUP_FDK_SHM, 0x2fff});
	expect_row(FD_SHORT, ERROR, "ends past its shm of 0x2fff bytes");
}

static void test_fd_short_legal(void **state)
{
	(void)state;
	open_session();
	struct vup_fd_info fi[2] = {{VUP_FDK_MEMFD, 0x80000},
	                            {VUP_FDK_FILE, 0xc0000}};
	ctable_fds(2, two, fi); /* exactly long enough */
	struct reg add = {0x200000, 0x2000, 0x7f0000200000, 0x1000, 0, 0};
	/* A size the trace does not know (0, or a kind with none). */
	cadd_fd(&add, &(struct vup_fd_info){VUP_FDK_MEMFD, 0});
	struct reg add2 = {0x300000, 0x2000, 0x7f0000300000, 0x1000, 0, 0};
	cadd_fd(&add2, &(struct vup_fd_info){VUP_FDK_OTHER, 0x10});
	expect_none(FD_SHORT);
	expect_clean();
}

/* ---- VU035: a log too small for the memory ---- */

static void test_log_small(void **state)
{
	(void)state;
	open_session();
	ctable(2, two); /* up to gpa 0x13ffff: 0x140 pages, 0x28 bytes */
	clogbase(0x10);
	expect_row(LOG_SMALL, ERROR, "log of 0x10 bytes");
	assert_contains(seen[VUP_CHECK_LOG_SMALL],
	                "reaches gpa 0x13ffff and needs 0x28");
}

static void test_log_small_grown(void **state)
{
	(void)state;
	open_session();
	ctable(2, two);
	clogbase(0x28);
	cb64(VUP_REQ_SET_LOG_BASE, 0);
	cf64(VUP_REQ_SET_FEATURES, FEATURES | BIT(VUP_F_LOG_ALL));
	expect_none(LOG_SMALL);
	/* Logging, the table grows past the log without a new one. */
	struct reg add = {0x1000000, 0x1000, 0x7f0001000000, 0, 0, 0};
	uint8_t buf[48];
	cf(VUP_REQ_ADD_MEM_REG, REQ, buf, mem_reg(buf, &add, false), 1);
	expect_row(LOG_SMALL, ERROR, "reaches gpa 0x1000fff and needs 0x201");
}

static void test_log_small_legal(void **state)
{
	(void)state;
	open_session();
	ctable(2, two);
	clogbase(0x28);
	cb64(VUP_REQ_SET_LOG_BASE, 0);
	/* Not logging: a table that outgrows the old log is no fault. */
	struct reg add = {0x1000000, 0x1000, 0x7f0001000000, 0, 0, 0};
	uint8_t buf[48];
	cf(VUP_REQ_ADD_MEM_REG, REQ, buf, mem_reg(buf, &add, false), 1);
	expect_none(LOG_SMALL);
	expect_clean();
}

/* ---- VU036, VU037: empty replies ---- */

static void test_log_reply_empty(void **state)
{
	(void)state;
	open_session();
	ctable(2, two);
	clogbase(0x28);
	cb(VUP_REQ_SET_LOG_BASE, REPLY, NULL, 0); /* as DPDK answers */
	expect_row(LOG_REPLY_EMPTY, WARNING, "answered with size 0");
	assert_int_equal(hits[VUP_CHECK_UNSOLICITED], 0); /* it pays */
}

static void test_log_reply_legal(void **state)
{
	(void)state;
	open_session();
	ctable(2, two);
	clogbase(0x28);
	uint8_t log[16] = {0};
	put_u64(log, 0, 0x28);
	cb(VUP_REQ_SET_LOG_BASE, REPLY, log, 16); /* as rust-vmm answers */
	expect_none(LOG_REPLY_EMPTY);
	expect_clean();
}

#define SHARED_OBJECT 18 /* VHOST_USER_PROTOCOL_F_SHARED_OBJECT */

static void test_shared_object_empty(void **state)
{
	(void)state;
	open_with(FEATURES, PROTOCOLS | BIT(SHARED_OBJECT));
	cf(41, REQ, (uint8_t[16]){1}, 16, 0);
	cmsg(MAIN, BE, 41, REPLY, NULL, 0, 1, VUP_FDK_OTHER);
	expect_row(SHARED_OBJECT_EMPTY, WARNING, "size 0 and 1 fd");
}

static void test_shared_object_legal(void **state)
{
	(void)state;
	open_with(FEATURES, PROTOCOLS | BIT(SHARED_OBJECT));
	cf(41, REQ, (uint8_t[16]){1}, 16, 0);
	cmsg(MAIN, BE, 41, REPLY, &(uint64_t){0}, 8, 1, VUP_FDK_OTHER);
	expect_none(SHARED_OBJECT_EMPTY);
	expect_clean();
}

/* ---- VU038: NEED_REPLY where a reply is due anyway ---- */

static void test_need_reply_has_reply(void **state)
{
	(void)state;
	open_session(); /* REPLY_ACK negotiated */
	cf(VUP_REQ_GET_FEATURES, NEED, NULL, 0, 0);
	expect_row(NEED_REPLY_HAS_REPLY, WARNING, "flags 0x9) on GET_FEATURES");
	expect_none(NEED_REPLY_NO_ACK);
}

static void test_need_reply_has_reply_legal(void **state)
{
	(void)state;
	open_session();
	cstate(VUP_REQ_SET_VRING_NUM, NEED, 0, 256); /* an ack is owed */
	cb64(VUP_REQ_SET_VRING_NUM, 0);
	cf0(VUP_REQ_GET_FEATURES);
	cb64(VUP_REQ_GET_FEATURES, FEATURES);
	expect_none(NEED_REPLY_HAS_REPLY);
	expect_clean();
}

/* QEMU in postcopy with REPLY_ACK (vhost_user_set_mem_table_postcopy):
 * SET_MEM_TABLE with NEED_REPLY is answered by the table as the back-end
 * mapped it, QEMU acks that echo with the echo's own header (REPLY flag
 * set: not VU003), and the back-end's ack follows (not VU009); not VU038
 * either. */
static void test_need_reply_postcopy_table(void **state)
{
	(void)state;
	open_session();
	cf0(VUP_REQ_POSTCOPY_LISTEN);
	cf(VUP_REQ_SET_MEM_TABLE, NEED, (uint8_t[8]){0}, 8, 0); /* no region */
	expect_none(NEED_REPLY_HAS_REPLY);
	/* The table as the back-end mapped it (one region: 8 + 32 bytes). */
	cmsg(MAIN, BE, VUP_REQ_SET_MEM_TABLE, REPLY, (uint8_t[40]){1}, 40, 0,
	     VUP_FDK_OTHER);
	/* QEMU acks the echo with the reply's own header (flags 0x5). */
	cmsg(MAIN, FE, VUP_REQ_SET_MEM_TABLE, REPLY, &(uint64_t){0}, 8, 0,
	     VUP_FDK_OTHER);
	cb64(VUP_REQ_SET_MEM_TABLE, 0); /* then REPLY_ACK's ack */
	expect_clean();
}

/* ---- VU039: queue sizes ---- */

static void test_vring_num(void **state)
{
	(void)state;
	open_session();
	cstate(VUP_REQ_SET_VRING_NUM, REQ, 0, 100);
	expect_row(VRING_NUM, ERROR,
	           "vring 0 size 100: not a power of 2 on a split ring");
	cstate(VUP_REQ_SET_VRING_NUM, REQ, 1, 65536);
	expect_row(VRING_NUM, ERROR, "vring 1 size 65536: past 32768");
	cstate(VUP_REQ_SET_VRING_NUM, REQ, 2, 0);
	expect_row(VRING_NUM, ERROR, "vring 2 size 0: 0");
	assert_int_equal(hits[VUP_CHECK_VRING_NUM], 3);
}

static void test_vring_num_legal(void **state)
{
	(void)state;
	open_with(FEATURES | BIT(VUP_F_RING_PACKED), PROTOCOLS);
	cstate(VUP_REQ_SET_VRING_NUM, REQ, 0, 100); /* packed: any size */
	cstate(VUP_REQ_SET_VRING_NUM, REQ, 1, 32768);
	expect_none(VRING_NUM);
	expect_clean();
}

/* ---- VU040, VU041: VHOST_USER_F_PROTOCOL_FEATURES ---- */

static void test_protocol_unadvertised(void **state)
{
	(void)state;
	cf0(VUP_REQ_SET_OWNER);
	cf0(VUP_REQ_GET_FEATURES);
	cb64(VUP_REQ_GET_FEATURES, BIT(VUP_F_VERSION_1));
	cf0(VUP_REQ_GET_PROTOCOL_FEATURES);
	expect_row(PROTOCOL_UNADVERTISED, WARNING,
	           "GET_PROTOCOL_FEATURES, but GET_FEATURES answered "
	           "0x100000000 (no bit 30)");
	cb64(VUP_REQ_GET_PROTOCOL_FEATURES, PROTOCOLS);
	cf64(VUP_REQ_SET_PROTOCOL_FEATURES, PROTOCOLS);
	assert_int_equal(hits[VUP_CHECK_PROTOCOL_UNADVERTISED], 1); /* once */
}

static void test_protocol_unadvertised_legal(void **state)
{
	(void)state;
	open_session(); /* bit 30 offered */
	expect_none(PROTOCOL_UNADVERTISED);
	expect_clean();
}

static void test_enable_no_protocol(void **state)
{
	(void)state;
	open_with(BIT(VUP_F_VERSION_1), 0);
	cstate(VUP_REQ_SET_VRING_ENABLE, REQ, 1, 1);
	expect_row(ENABLE_NO_PROTOCOL, ERROR,
	           "vring 1; features acked 0x100000000 lack bit 30");
}

static void test_enable_offered_not_acked(void **state)
{
	(void)state;
	cf0(VUP_REQ_SET_OWNER);
	cf0(VUP_REQ_GET_FEATURES);
	cb64(VUP_REQ_GET_FEATURES, FEATURES);
	cf64(VUP_REQ_SET_FEATURES, BIT(VUP_F_VERSION_1)); /* bit 30 not acked */
	cstate(VUP_REQ_SET_VRING_ENABLE, REQ, 0, 1);
	expect_row(ENABLE_NO_PROTOCOL, ERROR, "acked 0x100000000");
}

/* DPDK virtio-user (server=1) reconnected: the cut session's teardown,
 * SET_VRING_ENABLE 0, comes before any feature word on the new
 * connection; DPDK's back-end takes it, and nothing is known to judge. */
static void test_enable_nothing_known(void **state)
{
	(void)state;
	cstate(VUP_REQ_SET_VRING_ENABLE, REQ, 0, 0);
	cstate(VUP_REQ_SET_VRING_ENABLE, REQ, 1, 0);
	expect_none(ENABLE_NO_PROTOCOL);
}

static void test_enable_legal(void **state)
{
	(void)state;
	/* QEMU net: SET_VRING_ENABLE once bit 30 is offered, before any
	 * SET_FEATURES; then again after it. */
	cf0(VUP_REQ_SET_OWNER);
	cf0(VUP_REQ_GET_FEATURES);
	cb64(VUP_REQ_GET_FEATURES, FEATURES);
	cf0(VUP_REQ_GET_PROTOCOL_FEATURES);
	cb64(VUP_REQ_GET_PROTOCOL_FEATURES, PROTOCOLS);
	cf64(VUP_REQ_SET_PROTOCOL_FEATURES, PROTOCOLS);
	cstate(VUP_REQ_SET_VRING_ENABLE, REQ, 0, 0);
	cf64(VUP_REQ_SET_FEATURES, FEATURES);
	cstate(VUP_REQ_SET_VRING_ENABLE, REQ, 0, 1);
	expect_none(ENABLE_NO_PROTOCOL);
	expect_clean();
}

/* ---- VU042: features changed under a running ring ---- */

static void start_ring0(void)
{
	ctable(2, two);
	cstate(VUP_REQ_SET_VRING_NUM, REQ, 0, 256);
	caddr(0, 0x7f0000000000);
	cstate(VUP_REQ_SET_VRING_BASE, REQ, 0, 0);
	cf(VUP_REQ_SET_VRING_KICK, REQ, &(uint64_t){0}, 8, 1);
}

static void test_features_while_running(void **state)
{
	(void)state;
	open_session();
	start_ring0();
	cf64(VUP_REQ_SET_FEATURES, BIT(VUP_F_PROTOCOL_FEATURES));
	expect_row(FEATURES_WHILE_RUNNING, ERROR,
	           "features 0x140000000 -> 0x40000000 (bits 0x100000000) "
	           "while vring 0 runs");
}

static void test_features_while_running_legal(void **state)
{
	(void)state;
	open_session();
	start_ring0();
	/* Migration: only LOG_ALL toggles while the ring runs. */
	clogbase(0x28);
	cb64(VUP_REQ_SET_LOG_BASE, 0);
	cf64(VUP_REQ_SET_FEATURES, FEATURES | BIT(VUP_F_LOG_ALL));
	cf64(VUP_REQ_SET_FEATURES, FEATURES);
	/* Stopped, the features may change. */
	cstate(VUP_REQ_GET_VRING_BASE, REQ, 0, 0);
	cb(VUP_REQ_GET_VRING_BASE, REPLY, (uint8_t[8]){0}, 8);
	cf64(VUP_REQ_SET_FEATURES, BIT(VUP_F_PROTOCOL_FEATURES));
	expect_none(FEATURES_WHILE_RUNNING);
	expect_clean();
}

/* ---- VU043: a ring area past the end of its region ---- */

#define REGION0_END (0x7f0000000000ull + 0x80000) /* two[0] */

static void test_ring_past_region(void **state)
{
	(void)state;
	open_session();
	ctable(2, two);
	cstate(VUP_REQ_SET_VRING_NUM, REQ, 0, 256); /* desc: 4096 bytes */
	caddr(0, REGION0_END - 0x800);
	expect_row(RING_PAST_REGION, ERROR,
	           "vring 0 desc 0x7f000007f800: 4096 bytes, region 0 "
	           "(uaddr 0x7f0000000000 size 0x80000) has 2048 left");
	expect_none(ADDR_OUTSIDE);
}

static void test_ring_past_region_used(void **state)
{
	(void)state;
	open_session();
	ctable(2, two);
	cstate(VUP_REQ_SET_VRING_NUM, REQ, 0, 256); /* used: 2052 bytes */
	caddr(0, REGION0_END - 0x1000 - 0x800);     /* used at end - 0x800 */
	expect_row(RING_PAST_REGION, ERROR, "used 0x7f000007f800: 2052 bytes");
}

static void test_ring_past_region_legal(void **state)
{
	(void)state;
	open_session();
	ctable(2, two);
	/* desc 4096, used 2052, avail 516 bytes: each fits, the last one
	 * with 2048 bytes to spare. */
	cstate(VUP_REQ_SET_VRING_NUM, REQ, 0, 256);
	caddr(0, REGION0_END - 0x2800);
	/* No size yet: nothing to judge (256 slots would not fit). */
	caddr(1, REGION0_END - 0x2010);
	expect_none(RING_PAST_REGION);
	expect_clean();
}

#define T(f) cmocka_unit_test_setup_teardown(f, csetup, cteardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	        T(test_fd_short),
	        T(test_fd_short_added),
	        T(test_fd_short_legal),
	        T(test_log_small),
	        T(test_log_small_grown),
	        T(test_log_small_legal),
	        T(test_log_reply_empty),
	        T(test_log_reply_legal),
	        T(test_shared_object_empty),
	        T(test_shared_object_legal),
	        T(test_need_reply_has_reply),
	        T(test_need_reply_postcopy_table),
	        T(test_need_reply_has_reply_legal),
	        T(test_vring_num),
	        T(test_vring_num_legal),
	        T(test_protocol_unadvertised),
	        T(test_protocol_unadvertised_legal),
	        T(test_enable_no_protocol),
	        T(test_enable_offered_not_acked),
	        T(test_enable_nothing_known),
	        T(test_enable_legal),
	        T(test_features_while_running),
	        T(test_features_while_running_legal),
	        T(test_ring_past_region),
	        T(test_ring_past_region_used),
	        T(test_ring_past_region_legal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
