/* Unit tests of the checker (src/check/): each row of VUP_CHECKS up to
 * VU032 has a scripted fault that trips it, and a clean exchange trips
 * none (test_check_rows.c has the rows from VU034 on).  The helpers are
 * in check_feed.h. */
#include "check_feed.h"

/* ---- the table ---- */

static void test_table(void **state)
{
	(void)state;
	int want = 1;
	for (int i = 0; i < VUP_CHECK_COUNT; i++) {
		const struct vup_check_row *r = vup_check_row(i);
		char code[16];
		/* VU033 is reserved for the back-end channel's
		 * NEED_REPLY_ON_REPLY: the only gap, until its row lands. */
		if (want == 33 && strcmp(r->code, "VU033") != 0)
			want++;
		snprintf(code, sizeof(code), "VU%03d", want++);
		assert_string_equal(r->code, code);
		assert_int_equal(r->id, i);
		assert_true(r->quote[0] && !strchr(r->quote, '\n'));
		assert_true(r->section[0] && r->peers[0] && r->title[0]);
		assert_true(r->severity < VUP_SEV_COUNT);
		assert_string_not_equal(vup_check_kind_name(r->kind), "?");
	}
	assert_true(VUP_CHECK_COUNT >= 40);
}

/* ---- a clean exchange trips nothing ---- */

static void test_clean(void **state)
{
	(void)state;
	open_session();
	ctable(2, two);
	struct reg add = {0x200000, 0x1000, 0x7f0000200000, 0, 0, 0};
	uint8_t buf[48];
	cf(VUP_REQ_ADD_MEM_REG, REQ, buf, mem_reg(buf, &add, false), 1);
	cf(VUP_REQ_REM_MEM_REG, REQ, buf, mem_reg(buf, &add, false), 0);
	for (uint32_t q = 0; q <= 4; q++) { /* 2 pairs and a control queue */
		cstate(VUP_REQ_SET_VRING_NUM, REQ, q, 256);
		caddr(q, 0x7f0000000000 + q * 0x4000);
		cstate(VUP_REQ_SET_VRING_BASE, REQ, q, 0);
		cf(VUP_REQ_SET_VRING_KICK, REQ, &(uint64_t){q}, 8, 1);
		cf(VUP_REQ_SET_VRING_CALL, REQ, &(uint64_t){q}, 8, 1);
	}
	cstate(VUP_REQ_SET_VRING_NUM, NEED, 0, 256);
	cb64(VUP_REQ_SET_VRING_NUM, 0);
	cconfig(VUP_REQ_GET_CONFIG, FE, 10, 22);
	cconfig(VUP_REQ_GET_CONFIG, BE, 10, 22);
	cf64(VUP_REQ_SET_STATUS, 0xf);
	cmsg(MAIN, FE, VUP_REQ_SET_BACKEND_REQ_FD, REQ, NULL, 0, 1,
	     VUP_FDK_SOCKET);
	uint8_t log[16] = {0};
	put_u64(log, 0, 0x1000);
	cf(VUP_REQ_SET_LOG_BASE, REQ, log, 16, 1);
	cb64(VUP_REQ_SET_LOG_BASE, 0);
	cf64(VUP_REQ_SET_FEATURES, FEATURES | (1ull << VUP_F_LOG_ALL));
	cstate(VUP_REQ_GET_VRING_BASE, REQ, 0, 0);
	cb(VUP_REQ_GET_VRING_BASE, REPLY, (uint8_t[8]){0}, 8);
	end(false);
	expect_clean();
}

/* ---- framing: the validator's rows ---- */

static void test_version(void **state)
{
	(void)state;
	open_session();
	cf(VUP_REQ_SET_FEATURES, 0x2, &(uint64_t){FEATURES}, 8, 0);
	expect_hit(VERSION);
}

static void test_payload_limit(void **state)
{
	(void)state;
	open_session();
	static uint8_t big[VUP_MAX_PAYLOAD + 8];
	cf(VUP_REQ_SET_FEATURES, REQ, big, sizeof(big), 0);
	expect_hit(PAYLOAD_LIMIT);
}

static void test_role(void **state)
{
	(void)state;
	open_session();
	cf0(VUP_REQ_GET_FEATURES);
	cb(VUP_REQ_GET_FEATURES, REQ, &(uint64_t){FEATURES}, 8);
	expect_hit(ROLE);
}

static void test_need_reply_on_reply(void **state)
{
	(void)state;
	open_session();
	cf0(VUP_REQ_GET_FEATURES);
	cb(VUP_REQ_GET_FEATURES, REPLY | VUP_FLAG_NEED_REPLY,
	   &(uint64_t){FEATURES}, 8);
	expect_hit(NEED_REPLY_ON_REPLY);
}

static void test_size(void **state)
{
	(void)state;
	open_session();
	cf(VUP_REQ_SET_FEATURES, REQ, (uint8_t[16]){0}, 16, 0);
	expect_hit(SIZE);
}

static void test_layout(void **state)
{
	(void)state;
	open_session();
	uint8_t buf[8 + 2 * 32];
	table(buf, 2, two, false);
	put_u32(buf, 0, 3); /* declares 3, holds 2 */
	cf(VUP_REQ_SET_MEM_TABLE, REQ, buf, sizeof(buf), 3);
	if (!hits[VUP_CHECK_LAYOUT] && !hits[VUP_CHECK_SIZE])
		fail_msg("neither layout nor size tripped");
	expect_hit(LAYOUT);
}

static void test_fds(void **state)
{
	(void)state;
	open_session();
	cf(VUP_REQ_SET_VRING_KICK, REQ, &(uint64_t){0}, 8, 0);
	expect_hit(FDS);
}

static void test_reply_order(void **state)
{
	(void)state;
	open_session();
	cf0(VUP_REQ_GET_FEATURES);
	cf0(VUP_REQ_GET_PROTOCOL_FEATURES);
	cb64(VUP_REQ_GET_PROTOCOL_FEATURES, PROTOCOLS);
	expect_hit(REPLY_ORDER);
}

static void test_unsolicited(void **state)
{
	(void)state;
	open_session();
	cb64(VUP_REQ_GET_FEATURES, FEATURES);
	expect_hit(UNSOLICITED);
}

static void test_owed_replies(void **state)
{
	(void)state;
	open_session();
	for (int i = 0; i <= VUP_MODEL_OWED_MAX; i++)
		cf0(VUP_REQ_GET_FEATURES);
	expect_hit(OWED_REPLIES);
}

static void test_backend_req_fd(void **state)
{
	(void)state;
	open_session();
	cmsg(MAIN, FE, VUP_REQ_SET_BACKEND_REQ_FD, REQ, NULL, 0, 1,
	     VUP_FDK_EVENTFD);
	expect_hit(BACKEND_REQ_FD);
	assert_contains(seen[VUP_CHECK_BACKEND_REQ_FD], "eventfd");
}

/* ---- negotiation ---- */

static void test_features_not_offered(void **state)
{
	(void)state;
	open_session();
	cf64(VUP_REQ_SET_FEATURES, FEATURES | 1);
	expect_hit(FEATURES_NOT_OFFERED);
	assert_contains(seen[VUP_CHECK_FEATURES_NOT_OFFERED], "0x1");
}

static void test_protocol_not_offered(void **state)
{
	(void)state;
	open_session();
	cf64(VUP_REQ_SET_PROTOCOL_FEATURES, PROTOCOLS | (1ull << 20));
	expect_hit(PROTOCOL_NOT_OFFERED);
}

static void test_gate(void **state)
{
	(void)state;
	cf0(VUP_REQ_SET_OWNER);
	cf0(VUP_REQ_GET_FEATURES);
	cb64(VUP_REQ_GET_FEATURES, FEATURES);
	cf64(VUP_REQ_SET_FEATURES, FEATURES);
	cf64(VUP_REQ_SET_PROTOCOL_FEATURES, 1); /* MQ only */
	cf64(VUP_REQ_SET_STATUS, 0xf);
	expect_hit(GATE);
	assert_contains(seen[VUP_CHECK_GATE], "SET_STATUS");
}

static void test_before_owner(void **state)
{
	(void)state;
	cf0(VUP_REQ_GET_FEATURES);
	cf0(VUP_REQ_GET_PROTOCOL_FEATURES);
	assert_int_equal(hits[VUP_CHECK_BEFORE_OWNER], 1); /* once */
}

static void test_call_before_features(void **state)
{
	(void)state;
	cf0(VUP_REQ_SET_OWNER);
	cf(VUP_REQ_SET_VRING_CALL, REQ, &(uint64_t){0}, 8, 1);
	cf(VUP_REQ_SET_VRING_CALL, REQ, &(uint64_t){1}, 8, 1);
	assert_int_equal(hits[VUP_CHECK_CALL_BEFORE_FEATURES], 1);
}

static void test_need_reply_no_ack(void **state)
{
	(void)state;
	cf0(VUP_REQ_SET_OWNER);
	cstate(VUP_REQ_SET_VRING_NUM, NEED, 0, 256);
	expect_hit(NEED_REPLY_NO_ACK);
}

/* ---- ordering ---- */

static void test_vring_max(void **state)
{
	(void)state;
	open_session();
	cstate(VUP_REQ_SET_VRING_NUM, REQ, 300, 256);
	expect_hit(VRING_MAX);
}

static void test_vring_past_queues(void **state)
{
	(void)state;
	open_session(); /* GET_QUEUE_NUM: 2 */
	cstate(VUP_REQ_SET_VRING_NUM, REQ, 4, 256);
	assert_int_equal(hits[VUP_CHECK_VRING_PAST_QUEUES], 0);
	cstate(VUP_REQ_SET_VRING_NUM, REQ, 5, 256);
	expect_hit(VRING_PAST_QUEUES);
}

static void test_addr_before_table(void **state)
{
	(void)state;
	open_session();
	caddr(0, 0x7f0000000000);
	expect_hit(ADDR_BEFORE_TABLE);
}

static void test_kick_before_addr(void **state)
{
	(void)state;
	open_session();
	ctable(2, two);
	cf(VUP_REQ_SET_VRING_KICK, REQ, &(uint64_t){0}, 8, 1);
	expect_hit(KICK_BEFORE_ADDR);
}

static void test_kick_before_table(void **state)
{
	(void)state;
	open_session();
	cf(VUP_REQ_SET_VRING_KICK, REQ, &(uint64_t){0}, 8, 1);
	expect_hit(KICK_BEFORE_TABLE);
}

/* ---- replies ---- */

static void test_reply_missing(void **state)
{
	(void)state;
	open_session();
	cstate(VUP_REQ_GET_VRING_BASE, REQ, 1, 0);
	uint64_t at = frame;
	end(false);
	expect_hit(REPLY_MISSING);
	assert_int_equal(hits[VUP_CHECK_REPLY_CUT_OFF], 0);
	char want[32];
	snprintf(want, sizeof(want), "frame %llu ", (unsigned long long)at);
	assert_contains(seen[VUP_CHECK_REPLY_MISSING], want);
	assert_contains(seen[VUP_CHECK_REPLY_MISSING], "GET_VRING_BASE");
}

static void test_reply_cut_off(void **state)
{
	(void)state;
	open_session();
	cstate(VUP_REQ_GET_VRING_BASE, REQ, 1, 0);
	end(true);
	expect_hit(REPLY_CUT_OFF);
	assert_int_equal(hits[VUP_CHECK_REPLY_MISSING], 0);
	assert_int_equal(vup_check_row(VUP_CHECK_REPLY_CUT_OFF)->severity,
	                 VUP_SEV_INFO);
}

static void test_nack(void **state)
{
	(void)state;
	open_session();
	cstate(VUP_REQ_SET_VRING_NUM, NEED, 0, 256);
	cb64(VUP_REQ_SET_VRING_NUM, 1);
	expect_hit(NACK);
}

/* ---- device ---- */

static void test_config_size(void **state)
{
	(void)state;
	open_session();
	cconfig(VUP_REQ_GET_CONFIG, FE, 10, 22);
	cconfig(VUP_REQ_GET_CONFIG, BE, 8, 20);
	expect_hit(CONFIG_SIZE);
}

static void test_config_error(void **state)
{
	(void)state;
	open_session();
	cconfig(VUP_REQ_GET_CONFIG, FE, 10, 22);
	cconfig(VUP_REQ_GET_CONFIG, BE, 0, 0);
	expect_hit(CONFIG_ERROR);
	assert_int_equal(hits[VUP_CHECK_CONFIG_SIZE], 0);
}

/* ---- memory ---- */

static void test_overlap(void **state)
{
	(void)state;
	open_session();
	struct reg r[2] = {two[0], two[0]};
	r[1].gpa = 0x40000;
	r[1].uaddr = 0x7f1000000000;
	ctable(2, r);
	expect_hit(OVERLAP);
}

static void test_slots(void **state)
{
	(void)state;
	open_session();
	cf0(VUP_REQ_GET_MAX_MEM_SLOTS);
	cb64(VUP_REQ_GET_MAX_MEM_SLOTS, 1);
	ctable(2, two);
	expect_hit(SLOTS);
}

static void test_rem_unknown(void **state)
{
	(void)state;
	open_session();
	ctable(2, two);
	struct reg other = {0x900000, 0x1000, 0x7f0000900000, 0, 0, 0};
	uint8_t buf[48];
	cf(VUP_REQ_REM_MEM_REG, REQ, buf, mem_reg(buf, &other, false), 0);
	expect_hit(REM_UNKNOWN);
}

static void test_addr_outside(void **state)
{
	(void)state;
	open_session();
	ctable(2, two);
	caddr(0, 0x7e0000000000);
	expect_hit(ADDR_OUTSIDE);
	assert_contains(seen[VUP_CHECK_ADDR_OUTSIDE], "desc 0x7e0000000000");
}

/* ---- migration ---- */

static void test_log_all_no_base(void **state)
{
	(void)state;
	open_session();
	cf64(VUP_REQ_SET_FEATURES, FEATURES | (1ull << VUP_F_LOG_ALL));
	expect_hit(LOG_ALL_NO_BASE);
}

#define T(f) cmocka_unit_test_setup_teardown(f, csetup, cteardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	        T(test_table),
	        T(test_clean),
	        T(test_version),
	        T(test_payload_limit),
	        T(test_role),
	        T(test_need_reply_on_reply),
	        T(test_size),
	        T(test_layout),
	        T(test_fds),
	        T(test_reply_order),
	        T(test_unsolicited),
	        T(test_owed_replies),
	        T(test_backend_req_fd),
	        T(test_features_not_offered),
	        T(test_protocol_not_offered),
	        T(test_gate),
	        T(test_before_owner),
	        T(test_call_before_features),
	        T(test_need_reply_no_ack),
	        T(test_vring_max),
	        T(test_vring_past_queues),
	        T(test_addr_before_table),
	        T(test_kick_before_addr),
	        T(test_kick_before_table),
	        T(test_reply_missing),
	        T(test_reply_cut_off),
	        T(test_nack),
	        T(test_config_size),
	        T(test_config_error),
	        T(test_overlap),
	        T(test_slots),
	        T(test_rem_unknown),
	        T(test_addr_outside),
	        T(test_log_all_no_base),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
